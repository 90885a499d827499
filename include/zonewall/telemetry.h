/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libzwtelemetry (telemetry/): flow records on the wire to collectors.
 *
 *  - the encoder turns decorated records (struct zw_tm_record: an engine's
 *    struct zw_flow_record plus names from the image) into IPFIX messages
 *    (RFC 7011, information elements of RFC 7012 / the IANA registry) or
 *    NetFlow v9 packets with Cisco NSEL fields (the ASA firewall-event
 *    format, the only one nfdump decodes firewall events from). Templates,
 *    template refresh (seconds and messages), sequence numbers.
 *  - the denial aggregator folds denied attempts per (src, dst, proto,
 *    dport) over a short window into one record with a count, in a bounded
 *    table.
 *  - the exporter sends the encoder's messages to one collector over UDP or
 *    TCP (non-blocking connect, reconnect with exponential backoff, a
 *    bounded send queue); it never blocks its caller and counts every
 *    record it could not send, by cause.
 * Every template and information element is listed in docs/telemetry.md.
 *
 * Why not libfixbuf (the field's IPFIX library, libfixbuf-dev 2.4 in
 * Debian 12): evaluated. It encodes IPFIX well (fbExporterAllocBuffer()
 * would hand us the bytes), but (1) it does not export NetFlow v9, so the
 * NSEL path needs an encoder of ours anyway, and the brief is one encoder
 * module for both; (2) its network exporters write synchronously
 * (fBufEmit() and fbExporterAllocNet()'s blocking connect), which the daemon's
 * loop must never do, so its sockets would go unused; (3) it brings GLib
 * and GError into the daemon for what is here ~500 lines of byte layout
 * whose output the interop tests check with tshark, nfdump and pmacct.
 *
 * Depends on image/ only (drop-reason names). One exporter object is used
 * from one thread.
 */
#ifndef ZONEWALL_TELEMETRY_H
#define ZONEWALL_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zonewall/flow_record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The default private enterprise number of the zonewall IEs: 32473, the
 * documentation PEN of RFC 5612. Set your own with --ipfix-pen. */
#define ZW_TM_DEFAULT_PEN 32473u
/* IPFIX's registered port (RFC 7011) and NetFlow's customary one. */
#define ZW_TM_IPFIX_PORT 4739
/* Template ids (IPFIX and NetFlow v9 alike). */
#define ZW_TM_TEMPLATE_V4 256
#define ZW_TM_TEMPLATE_V6 257
/* Enterprise-specific element ids under the PEN. */
enum zw_tm_enterprise_ie {
	ZW_TM_IE_SRC_ZONE = 1,	  /* string: source zone name */
	ZW_TM_IE_DST_ZONE = 2,	  /* string: destination zone name */
	ZW_TM_IE_FLOW_ID = 3,	  /* string: matrix flow id ("OPS-001") */
	ZW_TM_IE_DROP_REASON = 4, /* string: zw_drop_reason__name() */
	ZW_TM_IE_IMAGE_SHA256 = 5, /* octetArray[32]: the policy image */
	ZW_TM_IE_L7_SEEN = 6,	  /* string: an L7 cut's protocol seen
				   * ("http") or file type ("elf"), "" */
};

/* firewallEvent (IE 233) / NF_F_FW_EVENT values. */
enum zw_tm_fw_event {
	ZW_TM_FW_CREATED = 1,
	ZW_TM_FW_DELETED = 2,
	ZW_TM_FW_DENIED = 3,
	ZW_TM_FW_UPDATE = 5,
};

enum zw_tm_format {
	ZW_TM_IPFIX = 0, /* IPFIX, RFC 7011 */
	ZW_TM_NSEL = 1,	 /* NetFlow v9 with NSEL fields */
};

/*
 * One record as exported: the 5-tuple and counters of an engine's record
 * with the names that judged it. Strings are borrowed (valid for the call
 * that takes the record), never NULL ("" when none), at most 255 bytes.
 */
struct zw_tm_record {
	uint8_t family;	   /* 4 or 6 */
	uint8_t proto;
	uint8_t fw_event;  /* enum zw_tm_fw_event */
	uint8_t end_reason; /* enum zw_end_reason (IPFIX flowEndReason) */
	uint8_t src[16];   /* network order; IPv4 in the first 4 bytes */
	uint8_t dst[16];
	uint16_t sport, dport;	 /* 0 for ICMP */
	uint16_t icmp_type_code; /* ICMP: type << 8 | code, else 0 */
	uint32_t ingress_if, egress_if;
	uint32_t flow_index; /* index in the image, ZW_TM_NO_FLOW none */
	uint32_t generation; /* policy generation that judged it */
	uint64_t conn_id;    /* same for every record of one connection */
	uint64_t packets, octets; /* DENIED: attempts, 0 */
	uint64_t init_packets, init_octets, resp_packets, resp_octets;
	uint64_t start_ms, end_ms; /* UNIX time, milliseconds */
	const char *src_zone, *dst_zone, *flow_id, *drop_reason;
	const char *l7_seen; /* ZW_TM_IE_L7_SEEN */
	const uint8_t *image_sha256; /* 32 bytes, or NULL (zeros) */
};
#define ZW_TM_NO_FLOW UINT32_MAX

/*
 * Fill the engine-side fields of @out from @in (names left ""): event
 * kind, 5-tuple, counters (both directions when the engine gave them;
 * else everything counts as the initiator's), times converted from the
 * engine's monotonic clock with @mono_to_unix_ms (UNIX ms - monotonic ms),
 * the connection id (FNV-1a of the 5-tuple, so a connection's created and
 * deleted records share it). Returns 0, or -EINVAL for a record with no
 * exported meaning (unknown event).
 */
int zw_tm_record__from_flow(struct zw_tm_record *out,
			    const struct zw_flow_record *in,
			    int64_t mono_to_unix_ms);

/* ---- encoder ---- */

struct zw_tm_encoder_opts {
	enum zw_tm_format format;
	uint32_t domain;	   /* observation domain / source id */
	uint32_t pen;		   /* 0: ZW_TM_DEFAULT_PEN (IPFIX only) */
	uint32_t refresh_s;	   /* templates again after so many seconds
				    * (0: never again in a session: TCP) */
	uint32_t refresh_messages; /* ... or so many messages (0: never) */
	size_t max_message;	   /* bytes, 256..65535 (UDP: 1400) */
};

struct zw_tm_encoder;

/* A new encoder (templates due at the first message). NULL with errno
 * (EINVAL bad options, ENOMEM). */
struct zw_tm_encoder *zw_tm_encoder__new(const struct zw_tm_encoder_opts *o);
/* NULL-safe. */
void zw_tm_encoder__free(struct zw_tm_encoder *e);

/*
 * Append @r to the open message (opening one, with the templates first
 * when they are due, at @now_ms UNIX time). Returns 0; -ENOSPC when the
 * open message has no room left (finish it and add again); -EMSGSIZE when
 * @r could never fit in max_message.
 */
int zw_tm_encoder__add(struct zw_tm_encoder *e, const struct zw_tm_record *r,
		       uint64_t now_ms);
/* Records in the open message (0: none open). */
size_t zw_tm_encoder__pending(const struct zw_tm_encoder *e);
/*
 * Close the open message: its header written (length, export time,
 * sequence number). *@msg points into the encoder, valid until the next
 * add; *@n_records says how many data records it carries. Returns its
 * length in bytes, 0 when no message was open.
 */
size_t zw_tm_encoder__finish(struct zw_tm_encoder *e, const uint8_t **msg,
			     size_t *n_records);
/*
 * The next message carries the templates again (the collector may have
 * lost them: it was down, a new TCP connection); @new_session also starts
 * the sequence numbers again (a new TCP connection is a new transport
 * session, RFC 7011 section 10.4). Drops any open message.
 */
void zw_tm_encoder__reset(struct zw_tm_encoder *e, bool new_session);

/* ---- denial aggregation ---- */

struct zw_tm_agg;

/* One aggregated denial handed out by zw_tm_agg__flush(). */
struct zw_tm_denial {
	struct zw_flow_record first; /* the first denied attempt */
	uint64_t count;		     /* attempts in the window */
	uint64_t first_ms, last_ms;  /* UNIX ms */
	const void *tag;	     /* zw_tm_agg__add()'s @tag of the first */
};

/* A table of at most @capacity keys (src, dst, proto, dport); an entry is
 * handed out @window_ms after its first attempt. NULL with errno. */
struct zw_tm_agg *zw_tm_agg__new(size_t capacity, uint32_t window_ms);
/* NULL-safe. */
void zw_tm_agg__free(struct zw_tm_agg *a);
/*
 * Count one denied attempt (@r: a ZW_EV_DROP or ZW_EV_DENIED_AGG record,
 * whose packets add up when given) at @now_ms. @tag rides along with the
 * first attempt of a key (the caller's decoration). Returns 0, or -ENOSPC
 * when the table is full and @r's key is new: the attempt is not recorded
 * (and counted in zw_tm_agg__overflow()).
 */
int zw_tm_agg__add(struct zw_tm_agg *a, const struct zw_flow_record *r,
		   const void *tag, uint64_t now_ms);
/* Hand every entry whose window closed at @now_ms (all when @all) to @fn
 * and forget it. Returns how many were handed. */
size_t zw_tm_agg__flush(struct zw_tm_agg *a, uint64_t now_ms, bool all,
			void (*fn)(void *ctx, const struct zw_tm_denial *d),
			void *ctx);
/* Keys in the table, and attempts refused because it was full. */
size_t zw_tm_agg__size(const struct zw_tm_agg *a);
uint64_t zw_tm_agg__overflow(const struct zw_tm_agg *a);

/* ---- exporter ---- */

enum zw_tm_transport {
	ZW_TM_UDP = 0,
	ZW_TM_TCP = 1,
};

/* Why records were not sent. */
enum zw_tm_drop_cause {
	ZW_TM_DROP_DOWN = 0,	/* no connection to the collector (TCP down,
				 * UDP refused: ICMP port unreachable) */
	ZW_TM_DROP_QUEUE_FULL = 1, /* the collector does not read fast
				    * enough (send queue full) */
	ZW_TM_DROP_ERROR = 2,	/* another send error */
	ZW_TM_DROP_TOO_BIG = 3, /* a record larger than a message */
	ZW_TM_DROP__COUNT = 4,
};

/* "down", "queue-full", "send-error", "too-big". */
const char *zw_tm_drop_cause__name(unsigned cause);

enum zw_tm_state {
	ZW_TM_CONNECTING = 0, /* TCP connect in progress */
	ZW_TM_UP = 1,	      /* UDP: last send accepted; TCP: connected */
	ZW_TM_DOWN = 2,	      /* TCP: waiting to reconnect; UDP: refused */
};
/* "connecting", "up", "down". */
const char *zw_tm_state__name(unsigned state);

struct zw_tm_exporter_opts {
	const char *url; /* udp://H:P, tcp://H:P, nsel+udp://H:P, H:P;
			  * IPv6 hosts in brackets */
	uint32_t domain; /* observation domain id */
	uint32_t pen;	 /* 0: ZW_TM_DEFAULT_PEN */
	uint32_t refresh_s;	   /* UDP template refresh; 0: 60 */
	uint32_t refresh_messages; /* UDP: also every so many; 0: 100 */
	size_t queue_bytes;	   /* TCP send queue; 0: 1 MiB */
	uint32_t backoff_min_ms, backoff_max_ms; /* TCP; 0: 500, 30000 */
};

struct zw_tm_exporter_stats {
	enum zw_tm_format format;
	enum zw_tm_transport transport;
	enum zw_tm_state state;
	uint64_t records_sent;	/* handed to the kernel in full messages */
	uint64_t messages_sent;
	uint64_t records_dropped; /* sum of dropped[] */
	uint64_t dropped[ZW_TM_DROP__COUNT];
	uint64_t connects;	/* TCP connections established */
	uint64_t template_sends; /* messages that carried the templates */
	char last_error[128];	/* "" none */
};

struct zw_tm_exporter;

/*
 * Parse @o->url and set up the exporter: the host is resolved here (this
 * may wait on DNS: called at start-up); UDP sockets are connected, TCP
 * starts a non-blocking connect. NULL with errno and a reason in @err
 * (EINVAL: the URL; others: resolution, socket).
 */
struct zw_tm_exporter *zw_tm_exporter__new(const struct zw_tm_exporter_opts *o,
					   char *err, size_t err_len);
/* 0 if @url has one of the forms zw_tm_exporter__new() takes (nothing is
 * resolved), else -EINVAL. */
int zw_tm_exporter__check_url(const char *url);
/* Close the connection; pending bytes are dropped. NULL-safe. */
void zw_tm_exporter__free(struct zw_tm_exporter *x);
/*
 * Queue @r at @now_ms (UNIX ms): encoded into the open message, which is
 * sent when full. Never blocks. Returns 0 (sent or queued), or -errno
 * when the record was dropped (counted by cause).
 */
int zw_tm_exporter__add(struct zw_tm_exporter *x, const struct zw_tm_record *r,
			uint64_t now_ms);
/*
 * Send the open message, push queued bytes, progress a TCP connect or
 * reconnect when its backoff has passed, notice a UDP collector coming
 * back. Call at least every second; never blocks.
 */
void zw_tm_exporter__tick(struct zw_tm_exporter *x, uint64_t now_ms);
void zw_tm_exporter__stats(const struct zw_tm_exporter *x,
			   struct zw_tm_exporter_stats *st);
/* The URL it was created with. */
const char *zw_tm_exporter__url(const struct zw_tm_exporter *x);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_TELEMETRY_H */
