/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall nftables engine, private to dataplane/nft/.
 *
 * The engine projects a policy image onto one nftables table it owns
 * (default `inet zonewall`): the image becomes a *ruleset* (libnftnl
 * objects, each with its nft-syntax text), the ruleset becomes ONE netlink
 * batch that the kernel checks at prepare and applies at commit, and
 * read-back decodes the live table into matrix terms (nft_held.c) and
 * compares it with the ruleset the image implies (drift). Layout and
 * reasoning: docs/nft-engine.md.
 */
#ifndef ZONEWALL_DATAPLANE_NFT_ZWNFT_H
#define ZONEWALL_DATAPLANE_NFT_ZWNFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zw_image;
struct nftnl_table;
struct nftnl_chain;
struct nftnl_set;
struct nftnl_obj;
struct nftnl_rule;
struct nftnl_expr;
struct nlmsghdr;

#define ZWNFT_TABLE_DEFAULT "zonewall"
#define ZWNFT_BASE_CHAIN "forward"
/* Table comment: the ownership marker. A table of the configured name
 * without it is never touched. */
#define ZWNFT_OWNER_MARK "zonewall:"
#define ZWNFT_OWNER_COMMENT \
	"zonewall: managed by zonewalld from the flow matrix; do not edit"
/* Comment of the first rule of the base chain: what the table enforces. */
#define ZWNFT_IMAGE_MARK "zonewall image sha256="
#define ZWNFT_LOG_GROUP_DEFAULT 23
/* NFLOG prefix of the rules that drop (nft_records.c turns them into
 * denied records): ZWNFT_DENY_PREFIX "REASON " or "REASON #FLOW ". */
#define ZWNFT_DENY_PREFIX "zonewall-deny "
/* The connection's flow index for the records, in the ct mark: index + 1
 * in the bits L7 does not use (ZW_L7_CTMARK_MASK), 0 = none. */
#define ZWNFT_CTMARK_FLOW_MASK 0x3fffffffu
#define ZWNFT_RATE_TIMEOUT_MS 60000u
#define ZWNFT_RATE_SIZE 65535u
#define ZWNFT_NAME_MAX 256 /* chain, set and object names (kernel limit) */

/* ---- growing text buffer ---- */

struct zwnft_buf {
	char *s;
	size_t len;
	size_t cap;
	bool oom;
};

void zwnft_buf__printf(struct zwnft_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void zwnft_buf__puts(struct zwnft_buf *b, const char *s);
/* Hand over the string (malloc'd, "" if empty); NULL and errno ENOMEM if
 * any append failed. The buffer is reset. */
char *zwnft_buf__take(struct zwnft_buf *b);
void zwnft_buf__fini(struct zwnft_buf *b);

/* ---- options (the part after "nft:" in --backend) ---- */

#define ZWNFT_MIRROR_MAX 16 /* enforced interfaces of mirror= */

struct zwnft_opts {
	char table[64];	     /* table name in family inet */
	int32_t priority;    /* forward hook priority (0 = filter) */
	uint16_t log_group;  /* NFLOG group of flows with log: true and of
			      * denials */
	/* Not in the option string: zonewalld --log-all-flows, copied from
	 * the engine's base at prepare (struct zw_record_conf). Every flow
	 * marks its connections for the records, not only log: true ones. */
	bool log_all;
	bool inject_failure; /* tests: end the batch with a message the
			      * kernel refuses, to prove atomicity */
	/* L7 inspection (docs/l7.md): connections of flows with `inspect:`
	 * services or under a crisis block-file measure go to NFQUEUE
	 * @queue (default ZW_INSPECT_QUEUE_DEFAULT, or queue=N) until
	 * zw-inspect marks them judged; always on (@queue_set: the builder's
	 * tests may turn it off to see the rules of an engine without it).
	 * The inspector reads the enforced image at @inspect_image (default
	 * "" = ZW_INSPECT_IMAGE_DIR/<table>.img, see
	 * zwnft_opts__inspect_image()), written at commit. */
	bool queue_set;
	uint16_t queue;
	char inspect_image[256];
	/* Set by the XDP engine, not parsed: the table only sends the
	 * connections of inspected flows to the inspector (and drops those
	 * it cut); everything else is accepted, L3/L4 being enforced by the
	 * XDP program before the packet reaches the kernel (base chain
	 * policy accept; no block list, no rate limit, no log, no deny;
	 * chains only for the zone pairs with an inspected flow). */
	bool l7_only;
	/* Mirroring to probes (nft_mirror.c): the enforced interfaces, whose
	 * traffic the image's probes receive a copy of ("mirror=A+B"). */
	char mirror[ZWNFT_MIRROR_MAX][16];
	size_t n_mirror;
};

void zwnft_opts__init(struct zwnft_opts *o);
/* The image path zw-inspect reads: o->inspect_image, or the default of
 * o->table. Returns @buf. */
const char *zwnft_opts__inspect_image(const struct zwnft_opts *o, char *buf,
				      size_t len);
/* "table=NAME,priority=N,log_group=N,queue=N,inspect_image=PATH,
 * mirror=IF[+IF...]" (any subset, "" = defaults).
 * Returns 0 or -EINVAL with a reason in @err. */
int zwnft_opts__parse(struct zwnft_opts *o, const char *arg, char *err,
		      size_t err_len);

/* ---- L7 inspection (nft_l7.c, docs/l7.md) ---- */

/* What of @img's `inspect:` and block-file measures the engine cannot
 * enforce with @o: 0, or -EOPNOTSUPP with the flows named in @err. */
int zwnft_l7__check(const struct zw_image *img, int32_t day,
		    const struct zwnft_opts *o, char *err, size_t err_len);
/* Write @img where zw-inspect reads it (o->inspect_image, atomically by
 * rename); nothing without queue=. 0 or -errno with @err. */
int zwnft_l7__publish(const struct zw_image *img, const struct zwnft_opts *o,
		      char *err, size_t err_len);

/* ---- mirroring to probes (nft_mirror.c, docs/nft-engine.md) ---- */

/*
 * The table `netdev <table>_mirror` an image's probes imply: on each
 * enforced interface of o->mirror, an ingress chain duplicating every
 * packet to or from a zone of a probe with traffic "all" to its
 * interface, and an egress chain doing the same for probes with traffic
 * "allowed" (what leaves an enforced interface was let through). It is
 * replaced whole in the engine's batch, so a commit changes the filter
 * and the mirror together or neither.
 *
 * zwnft_mirror__build() reads whether the table exists (a table of that
 * name without zonewall's comment is refused, -EEXIST) and resolves the
 * interfaces: a probe in @img while o->mirror is empty, an interface not
 * found, or a probe interface that is also an enforced one fails
 * (-EINVAL/-ENODEV) with the probe named in @err. With no probe, the
 * result only removes a table left by an earlier version.
 */
#define ZWNFT_MIRROR_SUFFIX "_mirror" /* table netdev <table>_mirror */
struct zwnft_mirror;
struct zwnft_batch;
int zwnft_mirror__build(const struct zw_image *img, const struct zwnft_opts *o,
			struct zwnft_mirror **out, char *err, size_t err_len);
void zwnft_mirror__free(struct zwnft_mirror *m); /* NULL-safe */
/* Read again whether the table exists and is ours (before each batch is
 * built: the batch's generation id then covers what was read). 0, or
 * -EEXIST for a table of that name that is not zonewall's, -errno. */
int zwnft_mirror__refresh(struct zwnft_mirror *m, char *err, size_t err_len);
/* Append the table's messages to @bt (family netdev), numbering them from
 * *@seq; *@last is set to the last message appended (it carries the ack).
 * 0 or -ENOMEM. */
int zwnft_mirror__emit(const struct zwnft_mirror *m, struct zwnft_batch *bt,
		       uint32_t *seq, struct nlmsghdr **last);
/* Compare the live table with @m (built from the enforced image): one line
 * per difference appended to @out (missing or extra chains, rules, set
 * elements; a probe interface re-created under another index; the table
 * gone or present when no probe asks for it). Returns the number of
 * differences, or -errno when the table cannot be read. */
int zwnft_mirror__drift(const struct zwnft_mirror *m, struct zwnft_buf *out);
/* Build the mirror of @img and append its drift (or why it cannot be
 * built now) to *@drift (malloc'd text, may be NULL and stays NULL when
 * nothing differs). 0 or -errno. */
int zwnft_mirror__drift_append(const struct zw_image *img,
			       const struct zwnft_opts *o, char **drift);
/* Remove the table if it is zonewall's (destroy): 0 or -errno. */
int zwnft_mirror__destroy(const char *table, char *err, size_t err_len);

/* ---- the ruleset an image implies ---- */

enum zwnft_kind {
	ZWNFT_OBJ,
	ZWNFT_CHAIN,
	ZWNFT_SET,
	ZWNFT_RULE,
	ZWNFT__KINDS,
};

struct zwnft_item {
	enum zwnft_kind kind;
	union {
		struct nftnl_obj *obj;
		struct nftnl_chain *chain;
		struct nftnl_set *set; /* with its elements */
		struct nftnl_rule *rule;
	};
	char *name;   /* object/chain/set name; for a rule its chain */
	char *text;   /* nft syntax: declaration, or the rule line */
	uint32_t flow; /* flow index implemented, ZW_NO_FLOW if shared */
	uint32_t sets[2]; /* rules: image narrowing sets used (src, dst);
			   * narrowing sets: [0] = the image set index */
	bool dynamic;	  /* set whose elements are runtime state */
	uint32_t chain_idx; /* rules: index of their chain in v[ZWNFT_CHAIN] */
};

/* Items of one flow, for describe_flow(): indexes into v[kind]. */
struct zwnft_flow_index {
	uint32_t *off[ZWNFT__KINDS]; /* [n_flows + 1] */
	uint32_t *idx[ZWNFT__KINDS];
};

struct zwnft_ruleset {
	struct zwnft_opts opts;
	char sha256_hex[65];
	int32_t day;
	uint32_t n_flows; /* flows of the image */
	struct nftnl_table *table;
	struct zwnft_item *v[ZWNFT__KINDS]; /* in creation order */
	size_t n[ZWNFT__KINDS];
	size_t cap[ZWNFT__KINDS];
	size_t n_elems; /* set elements, all sets */
	unsigned mode; /* ZWNFT_BUILD_* */
	struct zwnft_flow_index fx;
	uint32_t *nset_items; /* [image set] -> first set item + 1, 0 none */
	uint32_t n_nsets;
	/* The mirror table (nft_mirror.c), attached by prepare: its
	 * messages end the batch. NULL: the batch leaves it alone. */
	struct zwnft_mirror *mirror;
};

/*
 * Build the ruleset enforcing @img on @day. Pure: no kernel. Returns 0,
 * -ENOMEM, or -E2BIG if a name would exceed the kernel's limits.
 */
int zwnft_ruleset__build(const struct zw_image *img, int32_t day,
			 const struct zwnft_opts *opts,
			 struct zwnft_ruleset **out);
/* What to build: the libnftnl objects (apply, drift) and/or the text
 * (describe, print). At 100 000 flows the objects take ~750 MB and the
 * text ~75 MB: build only what is used. */
enum {
	ZWNFT_BUILD_OBJECTS = 1u << 0,
	ZWNFT_BUILD_TEXT = 1u << 1,
};
int zwnft_ruleset__build_mode(const struct zw_image *img, int32_t day,
			      const struct zwnft_opts *opts, unsigned mode,
			      struct zwnft_ruleset **out);
/* NULL-safe. */
void zwnft_ruleset__free(struct zwnft_ruleset *rs);
/* The whole table in nft syntax (malloc'd), as `nft list table` shows it
 * minus counter values. */
char *zwnft_ruleset__text(const struct zwnft_ruleset *rs);
/* What flow @flow turns into (malloc'd nft syntax), or NULL+errno. */
char *zwnft_ruleset__describe_flow(const struct zwnft_ruleset *rs,
				   const struct zw_image *img, uint32_t flow);

/* ---- canonical forms (drift detection, unit tests) ---- */

/* One line per object; counter values, handles and kernel-assigned ids
 * left out, so a rule built here and the same rule dumped from the kernel
 * compare equal. Return malloc'd text or NULL. */
char *zwnft_canon_rule(const struct nftnl_rule *r);
char *zwnft_canon_chain(const struct nftnl_chain *c);
char *zwnft_canon_set(const struct nftnl_set *s);
char *zwnft_canon_obj(struct nftnl_obj *o);
/* Elements of @s, one canonical line each, sorted; *n set. Free with
 * zwnft_strv_free(). */
char **zwnft_canon_elems(struct nftnl_set *s, size_t *n);
void zwnft_strv_free(char **v, size_t n);
/* The comment in a table/chain/rule userdata blob, or NULL (malloc'd). */
char *zwnft_udata_comment(const void *data, uint32_t len, uint8_t type);

/* ---- the batch ---- */

/* What is live in the kernel, as far as a batch needs to know. */
struct zwnft_live {
	uint32_t genid;
	struct nftnl_table *table; /* NULL: no such table */
	bool owned;		   /* table carries ZWNFT_OWNER_MARK */
	struct nftnl_chain **chains;
	size_t n_chains;
	struct nftnl_set **sets; /* with elements when dumped with them */
	size_t n_sets;
	struct nftnl_obj **objs;
	size_t n_objs;
	bool objs_read; /* objs is the table's full list of objects */
	struct nftnl_rule **rules; /* kernel order */
	size_t n_rules;
	/* ZWNFT_READ_FOREIGN: the base chains of other tables of families
	 * ip, ip6 and inet (every hook; the table need not exist) */
	struct nftnl_chain **foreign;
	size_t n_foreign;
};

void zwnft_live__free(struct zwnft_live *l);

/* One message of a batch, for error reports. */
struct zwnft_msgref {
	uint32_t seq;
	uint16_t type; /* NFT_MSG_* */
	const char *what; /* name of the object (points into ruleset/live) */
};

struct zwnft_batch {
	struct nftnl_batch *b;
	uint32_t seq_begin;
	uint32_t seq_last; /* the message carrying NLM_F_ACK */
	struct zwnft_msgref *refs;
	size_t n_refs;
	size_t cap_refs;
	size_t n_msgs;
	size_t bytes;
	size_t end_len; /* bytes of the closing NFNL_MSG_BATCH_END */
};

/*
 * One transaction replacing the content of the table by @rs: starts with
 * the generation id of @live (the kernel refuses the batch if anything
 * changed since @live was read), creates the table and base chain if
 * missing, flushes every rule, deletes every set and non-base chain and
 * the counters no flow uses any more, then adds everything. Counters of
 * flows still present are kept, so they keep counting. @live may be NULL
 * (empty namespace, no genid check). Returns 0 or -errno.
 */
int zwnft_batch__build(struct zwnft_batch *bt, const struct zwnft_ruleset *rs,
		       const struct zwnft_live *live, uint32_t seq);
/* Remove the whole table (destroy). */
int zwnft_batch__build_delete(struct zwnft_batch *bt, const char *table,
			      const struct zwnft_live *live, uint32_t seq);
/* The batch as iovecs for sendmsg() (*@iov malloc'd, *@n entries). With
 * @check, everything but the closing NFNL_MSG_BATCH_END: the kernel then
 * processes every message, validates the table as it would be, reports
 * what it refuses and aborts (what `nft -c` does); nothing changes.
 * 0 or -errno. */
struct iovec;
int zwnft_batch__iovec(const struct zwnft_batch *bt, bool check,
		       struct iovec **iov, size_t *n);
void zwnft_batch__fini(struct zwnft_batch *bt);

/* ---- netlink (the calling thread's network namespace) ---- */

struct zwnft_sock;

struct zwnft_sock *zwnft_sock__open(char *err, size_t err_len);
void zwnft_sock__free(struct zwnft_sock *s);
/* What zwnft_sock__read() reads besides the table, chains and sets. */
enum {
	ZWNFT_READ_OBJS = 1u << 0,  /* named objects (counters) */
	ZWNFT_READ_RULES = 1u << 1, /* rules and set elements */
	ZWNFT_READ_ALL = ZWNFT_READ_OBJS | ZWNFT_READ_RULES,
	/* objects too if the table is small enough for it to be cheap */
	ZWNFT_READ_OBJS_IF_SMALL = 1u << 2,
	/* base chains of other tables (struct zwnft_live, foreign) */
	ZWNFT_READ_FOREIGN = 1u << 3,
};
#define ZWNFT_SMALL_TABLE_CHAINS 30000
/* Read the generation id and our table (chains, sets, and what @what
 * asks). Table absent is not an error. */
int zwnft_sock__read(struct zwnft_sock *s, const char *table, unsigned what,
		     struct zwnft_live *out, char *err, size_t err_len);
/* Send one batch and wait for the kernel's verdict on it. Returns 0,
 * -ERESTART if the ruleset changed since the genid was read, or the first
 * error the kernel reported (reason in @err, naming the message). */
int zwnft_sock__send(struct zwnft_sock *s, struct zwnft_batch *bt, char *err,
		     size_t err_len);
/* Have the kernel check @bt without committing it (zwnft_batch__iovec(),
 * @check): 0 if it would accept the batch as it stands now, else as
 * zwnft_sock__send() (-ERESTART: the ruleset changed since the genid was
 * read). Nothing changes, the generation id included. */
int zwnft_sock__check(struct zwnft_sock *s, struct zwnft_batch *bt, char *err,
		      size_t err_len);
uint32_t zwnft_sock__seq(struct zwnft_sock *s, uint32_t n);
/* The socket's netlink port id (the kernel stamps it on the notifications
 * of the transactions this socket commits). */
uint32_t zwnft_sock__portid(const struct zwnft_sock *s);

/*
 * The enforcement watch (nft_watch.c): a socket subscribed to nftables
 * notifications. zwnft_watch__check() consumes those pending and returns 1
 * when one concerns table inet @table or a base chain of any table and was
 * not sent by port @own_portid (or some were lost, or on the first call),
 * 0 when none did, -errno. zwnft_watch__fd() is the descriptor to poll.
 */
struct zwnft_watch;
struct zwnft_watch *zwnft_watch__open(const char *table, char *err,
				      size_t err_len);
void zwnft_watch__free(struct zwnft_watch *w);
int zwnft_watch__fd(const struct zwnft_watch *w);
int zwnft_watch__check(struct zwnft_watch *w, uint32_t own_portid);

/* ---- engine operations (also used by zw-nft-apply) ---- */

/* Where an apply spends its time (benchmarks, zw-nft-apply --timing). */
struct zwnft_stats {
	double build_ms; /* image -> ruleset (libnftnl objects) */
	double read_ms;	 /* genid and table read back before the batch */
	double batch_ms; /* ruleset -> netlink batch bytes */
	double check_ms; /* kernel: check the transaction (prepare) */
	double send_ms;	 /* kernel: validate and commit the transaction */
	size_t msgs;	 /* netlink messages in the batch */
	size_t bytes;	 /* batch size */
	size_t rules, chains, sets, elems, objs;
	int tries;	 /* 1 unless the ruleset changed under us */
};

/* Two phases (include/zonewall/backend.h). prepare: build the ruleset for
 * @img on @day and a batch against the live table, and have the kernel
 * check that batch without committing it (zwnft_sock__check()): a batch
 * the kernel would refuse fails here, nothing changed; a ticket out.
 * commit: send it in one transaction, rebuilding it when the table
 * changed since (genid), consumes the ticket; @stats may be NULL.
 * apply = prepare + commit. All return 0 or -errno with a reason in @err. */
struct zw_ticket;
int zwnft_prepare(struct zwnft_sock *s, const struct zwnft_opts *o,
		  const struct zw_image *img, int32_t day, struct zw_ticket **out,
		  char *err, size_t err_len);
int zwnft_commit(struct zwnft_sock *s, const struct zwnft_opts *o,
		 struct zw_ticket *t, struct zwnft_stats *stats, char *err,
		 size_t err_len);
void zwnft_ticket__free(struct zw_ticket *t);
int zwnft_apply(struct zwnft_sock *s, const struct zwnft_opts *o,
		const struct zw_image *img, int32_t day,
		struct zwnft_stats *stats, char *err, size_t err_len);

/* Drift between @rs and @live (full dump), one line per difference,
 * malloc'd, or NULL if none (errno 0) / out of memory (errno ENOMEM). */
char *zwnft_drift(const struct zwnft_ruleset *rs, struct zwnft_live *live);

/* ---- read-back in matrix terms (nft_held.c) ---- */

struct zw_backend_state;
/* The allow rules of @live's pair chains (a full read: rules and set
 * elements), decoded from the kernel's objects into matrix terms and
 * appended to st->rules (rules_known set): zone pair from the chain's
 * comment, protocol, ports or ICMP types, narrowed prefixes from the
 * inline prefixes and the sets' elements, the flow from the comment of
 * the flow chain the rule goes to ("" for an accept), engine_text the
 * canonical rule (zwnft_canon_rule(); two lines when one image rule is
 * two nft rules, per family). Unknown matches are left out: a rule is
 * reported with what it allows at most. 0 or -ENOMEM. */
/* For every held rule in @st no flow explains, replace its engine text by
 * the line `nft -a list table inet @table` prints for it (libnftables),
 * with its chain and handle. 0 or -ENOMEM; nothing to do is cheap. */
int zwnft_held__nft_text(const char *table, struct zw_backend_state *st);
int zwnft_live__held_rules(const struct zwnft_live *live,
			   struct zw_backend_state *st);
/* One line in st->foreign per base chain of live->foreign (read with
 * ZWNFT_READ_FOREIGN) on a hook the table uses (forward, whose priority
 * is @priority when the table has no base chain, and those of its other
 * base chains): family, table, chain, type, hook, priority, policy, and
 * whether it runs before or after ours. 0 or -ENOMEM. */
int zwnft_live__foreign(const struct zwnft_live *live, int32_t priority,
			struct zw_backend_state *st);

/* From a live table's marker rule: the image SHA-256 (hex) and day. */
int zwnft_live__marker(const struct zwnft_live *live, char sha_hex[65],
		       int32_t *day);

/* The XDP engine's L7 table (dataplane/bpf/xdp_l7.c): make @b, opened
 * by zw_backend_nft, build its rulesets with opts.l7_only. */
struct zw_backend;
void zwnft_backend__l7_only(struct zw_backend *b);
/* ---- flow records (nft_records.c, docs/telemetry.md) ---- */

/* Bytes of a denied packet NFLOG copies (headers: addresses, ports). */
#define ZWNFT_NFLOG_COPY 128

/* What turning a message into a record needs besides the message. */
struct zwnft_rec_ctx {
	const uint16_t *zones;	  /* flow f's zones at 2f (from), 2f+1 (to) */
	uint32_t n_flows;	  /* of @zones (0: no image known yet) */
	int64_t real_to_mono_ns;  /* CLOCK_MONOTONIC - CLOCK_REALTIME */
	uint64_t now_mono_ns;	  /* events without a time of their own */
	uint32_t active_timeout_s; /* dump entries: younger ones skipped */
};

/*
 * One conntrack message into @out: an event (NEW with NLM_F_CREATE:
 * created; DELETE: ended, its TCP state says closed or timed out) or an
 * entry of a table dump (update, when open for @c->active_timeout_s or
 * when its start is unknown). Returns 1 with a record, 0 when the message
 * is no record (not conntrack, no zonewall flow index in the ct mark, a
 * dump entry too young), -EINVAL when it cannot be parsed, -ENOMEM.
 */
struct nlmsghdr;
struct zw_flow_record;
int zwnft_rec__from_ct(const struct nlmsghdr *nlh,
		       const struct zwnft_rec_ctx *c,
		       struct zw_flow_record *out);
/* One NFLOG packet message into a denied record (ZW_EV_DROP): reason (and
 * flow) from the prefix ZWNFT_DENY_PREFIX "REASON [#FLOW] ", addresses and
 * ports from the copied headers, interfaces, time. 1, 0 (not a denial of
 * ours: another prefix, another message), or -EINVAL. */
int zwnft_rec__from_nflog(const struct nlmsghdr *nlh,
			  const struct zwnft_rec_ctx *c,
			  struct zw_flow_record *out);

/* The engine's record source: three netlink sockets (conntrack events, a
 * conntrack dump, NFLOG), opened by the first poll. */
struct zwnft_rec;
struct zwnft_rec_stats {
	uint64_t ct_overruns;  /* conntrack event socket: ENOBUFS seen */
	uint64_t log_overruns; /* NFLOG socket: ENOBUFS seen */
	uint64_t ct_dropped;   /* events the kernel dropped (socket full) */
	uint64_t log_dropped;  /* NFLOG messages it dropped (each up to 32
				* denied packets) */
	uint64_t queue_full;   /* records parsed, no room to keep them */
	uint64_t dump_errors;  /* table dumps that failed (updates lost) */
	uint64_t bad_messages; /* messages that could not be parsed */
	int log_bind_err;      /* errno of the NFLOG bind, 0 when bound */
};
/* NULL with errno ENOMEM. Opens nothing yet. */
struct zwnft_rec *zwnft_rec__new(uint16_t log_group);
/* Closes the sockets and puts back the sysctls it switched on
 * (nf_conntrack_acct, nf_conntrack_timestamp). NULL-safe. */
void zwnft_rec__free(struct zwnft_rec *r);
/* The zones of @img's flows (copied), for the records of its marks. 0 or
 * -ENOMEM. Cheap when @img is the one already known. */
struct zw_image;
int zwnft_rec__set_image(struct zwnft_rec *r, const struct zw_image *img);
/* Hand at most @max records to @fn without blocking (the records op):
 * how many, or -errno (the sockets cannot be opened; or NFLOG's group is
 * taken by another listener, said by the call that tried the bind when it
 * had nothing to hand, the other records still flowing). */
typedef int (*zwnft_record_fn)(void *ctx, const struct zw_flow_record *rec);
int zwnft_rec__poll(struct zwnft_rec *r, uint32_t active_timeout_s,
		    zwnft_record_fn fn, void *ctx, size_t max);
void zwnft_rec__stats(const struct zwnft_rec *r, struct zwnft_rec_stats *st);

/* The engine, for zonewalld's backend table and zw-nft-apply. */
struct zw_backend_ops;
extern const struct zw_backend_ops zw_backend_nft;

#endif /* ZONEWALL_DATAPLANE_NFT_ZWNFT_H */
