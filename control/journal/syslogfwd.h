/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Forwarding of journal entries to a central log server (REQUIREMENTS L2,
 * L3): RFC 5424 messages over TCP with octet-counted framing (RFC 6587),
 * optionally TLS (RFC 5425, GnuTLS). Private to control/; see
 * docs/daemon.md for the operator's view.
 *
 * The queue is the journal itself: the forwarder keeps, in the database,
 * the seq of the last entry the server's TCP stack acknowledged, and sends
 * everything after it, in order, whenever the server is reachable. Delivery
 * is at least once: after a broken connection the unacknowledged tail is
 * sent again, with the same sequence numbers, so a receiver can both detect
 * gaps and drop duplicates.
 */
#ifndef ZONEWALL_CONTROL_SYSLOGFWD_H
#define ZONEWALL_CONTROL_SYSLOGFWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* Private Enterprise Number of the structured data element. 32473 is the
 * number RFC 5612 reserves for documentation; deployments that need their
 * own can rebuild with -DZW_SYSLOG_PEN=... */
#ifndef ZW_SYSLOG_PEN
#define ZW_SYSLOG_PEN "32473"
#endif
#define ZW_SYSLOG_SDID "zonewall@" ZW_SYSLOG_PEN

/*
 * Format one journal entry (its canonical content and hash) as an RFC 5424
 * message without framing: malloc'd, length in *len. @hostname and @app
 * are cut to their RFC limits; @pid is the PROCID.
 */
char *zw_syslog__format(const char *content, const char *hash,
			const char *hostname, const char *app, int pid,
			size_t *len);

/* The same, with the journal's head (@head_seq, @head_hash) as the
 * parameters head_seq and head_hash of the structured data (none when
 * @head_seq is 0): a copy of the messages anchors the chain. */
char *zw_syslog__format_head(const char *content, const char *hash,
			     const char *hostname, const char *app, int pid,
			     int64_t head_seq, const char *head_hash,
			     size_t *len);

/* Octet-counting frame "LEN SP MSG" (RFC 6587 §3.4.1): malloc'd. */
char *zw_syslog__frame(const char *msg, size_t len, size_t *out_len);

/* Append @v to @buf as an RFC 5424 PARAM-VALUE (escaping '"', '\' and
 * ']'), at most @cap bytes including NUL. Returns the length written. */
size_t zw_syslog__sd_escape(char *buf, size_t cap, const char *v);

struct zw_fwd_opts {
	const char *db_path;  /* the journal database */
	const char *host;     /* server */
	const char *port;
	bool tls;
	const char *ca_file;  /* TLS: trust anchors (required with tls) */
	const char *cert_file; /* TLS: client certificate (optional) */
	const char *key_file;
	const char *server_name; /* TLS: name to verify (default host) */
	int retry_max_ms;     /* back-off ceiling (default 30000) */
};

struct zw_fwd_status {
	bool connected;
	int64_t sent_seq;   /* last entry acknowledged by the server */
	int64_t queued;     /* entries waiting (head - sent_seq) */
	char last_error[256];
};

struct zw_fwd;

/* Start the forwarder thread. Returns NULL with errno and @err set. */
struct zw_fwd *zw_fwd__start(const struct zw_fwd_opts *o, char *err,
			     size_t err_len);
/* New entries were committed: send soon. */
void zw_fwd__notify(struct zw_fwd *f);
void zw_fwd__status(struct zw_fwd *f, struct zw_fwd_status *st);
/* Stop and join: socket waits are sliced (200 ms) so the thread sees the
 * stop at once; a DNS lookup in progress is waited for. NULL-safe. */
void zw_fwd__stop(struct zw_fwd *f);

/* Read the forwarding cursor of @db_path without a forwarder (0 if none).
 * Entries with seq > it are still queued. */
int64_t zw_fwd__cursor(struct sqlite3 *db);

#endif
