/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall journal: the tamper-evident record of every security-rule change
 * (REQUIREMENTS L1-L5), kept in SQLite (WAL, synchronous=FULL) and
 * hash-chained. The record format, the canonical content and the chain are
 * documented in docs/journal.md.
 *
 * One entry = one event: a flow added/changed/removed by a version, a zone
 * changed, a commit accepted or refused, a rollback, a crisis measure, a
 * backend reconciled. Each entry's canonical content is a compact JSON object
 * with sorted keys; its hash is SHA-256(canonical content), and the content
 * carries the previous entry's hash ("prev"), so any modified, deleted,
 * reordered or inserted entry breaks the chain at a point verify names.
 *
 * Nothing younger than 365 days is ever deleted: entries are only removed by
 * zw_journal__archive(), which moves a prefix of entries older than that
 * into a JSON-lines file that keeps the chain verifiable.
 *
 * Conventions: integer functions return 0 or -errno; pointer functions
 * return NULL and set errno. A journal is used by one thread at a time.
 */
#ifndef ZONEWALL_JOURNAL_H
#define ZONEWALL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zw_journal;
struct sqlite3;

/* Days of history never deleted (REQUIREMENTS L2). */
#define ZW_JOURNAL_RETENTION_DAYS 365
/* Hash of "no previous entry" (64 zeros). */
#define ZW_JOURNAL_GENESIS                                                     \
	"0000000000000000000000000000000000000000000000000000000000000000"

enum zw_journal_action {
	ZW_JA_COMMIT = 1,	/* a version became active (summary entry) */
	ZW_JA_COMMIT_REFUSED,	/* a commit was refused (validation, reason,
				 * backend failure) */
	ZW_JA_ROLLBACK,		/* a rollback version became active */
	ZW_JA_FLOW_ADDED,
	ZW_JA_FLOW_CHANGED,
	ZW_JA_FLOW_REMOVED,
	ZW_JA_FLOW_SUSPENDED,	/* left out by a crisis measure */
	ZW_JA_FLOW_RESUMED,	/* back in force when the crisis ended */
	ZW_JA_FLOW_EXPIRED,	/* its expires date passed: no longer enforced */
	ZW_JA_ZONE_ADDED,
	ZW_JA_ZONE_CHANGED,
	ZW_JA_ZONE_REMOVED,
	ZW_JA_CRISIS_ISOLATE,	/* crisis isolate-internet (C4) */
	ZW_JA_CRISIS_BLOCK,	/* crisis block PREFIX (C1) */
	ZW_JA_CRISIS_END,
	ZW_JA_RECONCILE,	/* the daemon re-applied the active policy to a
				 * backend that did not enforce it */
	ZW_JA_ARCHIVE,		/* old entries moved to an archive file */
	ZW_JA_DRIFT,		/* the watch found an engine changed behind the
				 * daemon's back (and re-applied, or alerted) */
	ZW_JA_CLOCK_STEP,	/* the wall clock jumped; the one entry allowed
				 * to be dated before the entry preceding it */
	ZW_JA_CRISIS_BLOCK_FILE, /* crisis block-file TYPES (C2) */
	ZW_JA_PROBE_ADDED,	/* a probe of the matrix (mirroring, D1) */
	ZW_JA_PROBE_CHANGED,
	ZW_JA_PROBE_REMOVED,
	ZW_JA__MAX = ZW_JA_PROBE_REMOVED,
};

/* "commit", "flow-added", ...; NULL if out of range. */
const char *zw_journal_action__name(enum zw_journal_action a);
/* Name to action; 0 if unknown. */
enum zw_journal_action zw_journal_action__parse(const char *name);

/* The system clock's synchronisation state (ntp_adjtime(2)). */
struct zw_clock_state {
	bool synced;	     /* kernel says synchronised (no STA_UNSYNC, state
			      * not TIME_ERROR) */
	int state;	     /* ntp_adjtime() return: TIME_OK, TIME_ERROR... */
	int64_t maxerror_us; /* maximum error, microseconds */
	int64_t esterror_us; /* estimated error, microseconds */
};

/* Read the clock state now. Never fails: if ntp_adjtime() itself fails,
 * state is -1 and synced false. */
void zw_clock__read(struct zw_clock_state *cs);
/* "TIME_OK", "TIME_ERROR", ... or "unknown". */
const char *zw_clock__state_name(int state);

/*
 * One entry to append. Strings are copied; NULL means absent. before/after
 * are JSON texts (the flow or zone as canonical JSON, see docs/journal.md)
 * and impl a JSON object {backend name: technical implementation text}.
 * Every free-text field is passed through zw_secret__scrub() on append, so
 * nothing that looks like a password or key is ever stored (L4); flow ids
 * shaped as the matrix grammar allows (flow, and "id" members of
 * before/after) are identifiers and kept as they are.
 */
struct zw_journal_entry {
	enum zw_journal_action action;
	int64_t time_us;	/* UTC µs since epoch; 0 = now (append) */
	const struct zw_clock_state *clock; /* NULL = read now (append) */
	uint32_t uid;
	const char *user;	/* user name of uid */
	int64_t version;	/* version concerned, 0 = none */
	const char *reason;
	const char *flow;	/* flow id, or NULL */
	const char *zone;	/* zone name, or NULL */
	const char *before;	/* JSON text or NULL */
	const char *after;	/* JSON text or NULL */
	const char *impl;	/* JSON object text or NULL */
	const char *detail;	/* free text (error message, summary) or NULL */
};

enum zw_journal_open_flags {
	ZW_JOURNAL_RDONLY = 1u << 0, /* read-only: query, verify, export */
};

/*
 * Open (creating if needed, unless RDONLY) the journal database at @path:
 * WAL mode, synchronous=FULL, append-only triggers. Returns NULL with errno
 * set and a one-line reason in @err.
 */
struct zw_journal *zw_journal__open(const char *path, unsigned flags,
				    char *err, size_t err_len);
/* Close; NULL-safe. An open transaction is rolled back. */
void zw_journal__free(struct zw_journal *j);

/* The SQLite handle, so the daemon's own state tables (versions) commit in
 * the same transaction as the journal entries. Do not touch the journal's
 * tables through it. */
struct sqlite3 *zw_journal__sqlite(struct zw_journal *j);

/* Transactions: appends between begin and commit become durable together
 * (fsync'd) at commit, or not at all. Appends outside a transaction commit
 * one by one. Errors: -ENOSPC (or -EDQUOT) when the disk is full, -EIO
 * otherwise; a failed commit is rolled back. */
int zw_journal__begin(struct zw_journal *j);
int zw_journal__commit(struct zw_journal *j);
/* Undo everything since begin. Returns 0 or -errno. */
int zw_journal__abort(struct zw_journal *j);

/*
 * Append one entry: assigns seq = head + 1, computes prev and hash. On
 * success *seq_out (if not NULL) receives the seq. Returns 0, -EINVAL
 * (bad action, invalid JSON in before/after/impl), -ENOSPC/-EDQUOT (disk
 * full), -EIO (database).
 */
int zw_journal__append(struct zw_journal *j, const struct zw_journal_entry *e,
		       int64_t *seq_out);

/* Head of the chain: last seq (0 if empty) and its hash (65 bytes). */
int zw_journal__head(struct zw_journal *j, int64_t *seq, char hash[65]);

/*
 * The checkpoint: a file beside the database, ZW_JOURNAL_CHECKPOINT, that
 * holds the head's seq and hash ("zonewall-journal-head SEQ HASH
"), so
 * that a database cut short or emptied (which its own chain cannot show)
 * is found by zw_journal__verify_anchor(). Once enabled, it is rewritten
 * atomically (new file, fsync, rename) after each durable append: a
 * commit, or an append outside a transaction. A failed write is not an
 * append failure (the entry is in the journal; the checkpoint lags, which
 * verify accepts). enable writes the current head at once: check the
 * journal against the old checkpoint first. Returns 0 or -errno.
 */
#define ZW_JOURNAL_CHECKPOINT "journal.head"
int zw_journal__checkpoint_enable(struct zw_journal *j);
/* Read the checkpoint: 0, -ENOENT if there is none, -EBADMSG if it is
 * not one. */
int zw_journal__checkpoint_read(struct zw_journal *j, int64_t *seq,
				char hash[65]);

/* Query filter; zero-initialise and set what you need. */
struct zw_journal_filter {
	int64_t since_us;   /* entries at or after this time; 0 = all */
	const char *flow;   /* only this flow id; NULL = all */
	int64_t after_seq;  /* entries with seq > after_seq */
	int64_t limit;	    /* at most this many; 0 = no limit */
	bool with_archive;  /* include archived entries (read the files) */
};

/* Called once per entry, in seq order, with the canonical content text
 * (NUL-terminated) and its hash. Return non-zero to stop (returned by
 * zw_journal__foreach). */
typedef int (*zw_journal_cb)(int64_t seq, const char *content,
			     const char *hash, void *ctx);

/* Walk entries matching @f. Returns 0, the callback's non-zero value, or
 * -errno. */
int zw_journal__foreach(struct zw_journal *j, const struct zw_journal_filter *f,
			zw_journal_cb cb, void *ctx);

/* Result of a verification. */
struct zw_journal_verify {
	bool ok;
	int64_t entries;      /* entries checked (archives included) */
	int64_t archived;     /* of which in archive files */
	int64_t head_seq;     /* last seq seen */
	char head_hash[65];   /* its hash */
	int64_t bad_seq;      /* first bad entry (0 if ok, or the position
			       * where an entry is missing) */
	char problem[256];    /* what is wrong with it */
};

/*
 * Check the whole chain, archives first: each entry's content is canonical,
 * hashes to its stored hash, carries the previous entry's hash and the next
 * seq, and its indexed columns agree with its content; each archive file
 * matches the digest recorded when it was written. Returns 0 when the check
 * ran (see v->ok), -errno if it could not run.
 */
int zw_journal__verify(struct zw_journal *j, struct zw_journal_verify *v);

/*
 * Check an anchor of the chain kept outside the database (the checkpoint,
 * a syslog copy): entry @seq exists, in the database or an archive, and
 * hashes to @hash. Call after zw_journal__verify() said ok, with its
 * result @v: on a mismatch v->ok becomes false, v->bad_seq the first entry
 * missing or different, and v->problem says what happened (tail cut,
 * database emptied, entry rewritten), naming the anchor by @what. Returns
 * 0 when the check ran, -errno if it could not.
 */
int zw_journal__verify_anchor(struct zw_journal *j, int64_t seq,
			      const char *hash, const char *what,
			      struct zw_journal_verify *v);

/*
 * Move the oldest entries with time < @before_us into a JSON-lines archive
 * file in the "archive" directory beside the database (one canonical
 * content per line, docs/journal.md), and record the file's first/last seq,
 * hashes and SHA-256 so verification continues across it. Never touches an
 * entry younger than ZW_JOURNAL_RETENTION_DAYS (-EPERM if @before_us is
 * younger than that), nor an entry with seq >= @keep_from_seq when
 * @keep_from_seq > 0 (entries not yet forwarded to the log server).
 * Appends a ZW_JA_ARCHIVE entry (author and reason from @who) naming the
 * file. *n_out gets the number archived (0: nothing old enough, no file).
 * @path_out (may be NULL) receives the file's path.
 */
int zw_journal__archive(struct zw_journal *j, int64_t before_us,
			int64_t keep_from_seq,
			const struct zw_journal_entry *who, int64_t *n_out,
			char *path_out, size_t path_len);

/* ---- helpers shared by zonewalld, zonectl and the forwarder ---- */

/* Now, UTC µs since epoch (CLOCK_REALTIME). Test hook: while
 * $ZONEWALL_CLOCK_OFFSET_FILE names a file holding a signed number of
 * seconds, that offset is added (a wall-clock step without touching the
 * machine's clock; docs/daemon.md). */
int64_t zw_time__now_us(void);
/* RFC 3339 UTC with microseconds, "2026-11-01T10:00:00.000123Z"; @buf must
 * hold 32 bytes. */
const char *zw_time__format(int64_t us, char buf[32]);
/* Inverse of zw_time__format (also accepts no fraction). -EINVAL. */
int zw_time__parse(const char *s, int64_t *us);

/*
 * Secrets (L4). zw_secret__find() returns true if @text contains something
 * that looks like a password, a password hash, a private key or a token, and
 * names it in @what (may be NULL). zw_secret__scrub() returns a malloc'd copy
 * with each such thing replaced by "[redacted]". Both match on a folded copy
 * (invisible characters removed, look-alikes mapped to ASCII). The patterns
 * are listed in docs/journal.md.
 */
bool zw_secret__find(const char *text, char *what, size_t what_len);
char *zw_secret__scrub(const char *text);
/* zw_secret__find() on a whole document of @len bytes (a matrix file,
 * comments included) read line by line: a keyword's value must be on its
 * line, "name: {...}" or "name: [...]" is a YAML key (a zone or service
 * named like a keyword), and a token right after "id:" is a flow id.
 * *line (may be NULL) receives the 1-based line of the first secret. */
bool zw_secret__find_lines(const char *text, size_t len, size_t *line,
			   char *what, size_t what_len);

/* Limits of the free text a request carries (docs/control-protocol.md):
 * a reason, and the matrix file name as given to zonectl. */
#define ZW_REASON_MAX 1024
#define ZW_FILE_NAME_MAX 1024

/* The code point at @s (at most @n bytes) and its length, or 0 when no
 * valid UTF-8 sequence starts there (overlong forms, surrogates and code
 * points past U+10FFFF included). The one UTF-8 decoder of control/. */
size_t zw_utf8__decode(const void *s, size_t n, uint32_t *cp);

/*
 * Free text from a client (@what names it in the message): at most @max
 * bytes, valid UTF-8, no control character (C0, tab included, DEL, C1) and
 * no bidirectional formatting character (U+061C, U+200E, U+200F,
 * U+202A-U+202E, U+2066-U+2069), which could forge or reorder what a
 * terminal shows. NULL passes. Returns 0 or -EINVAL with a one-line
 * explanation in @err.
 */
int zw_text__check(const char *s, size_t max, const char *what, char *err,
		   size_t err_len);

/*
 * A copy of @s safe to print on a terminal: newline, CR and tab as \n \r
 * \t, other control bytes and invalid UTF-8 bytes as \xNN, C1 and
 * bidirectional characters as \uNNNN; everything else as it is. If @max
 * is not 0 and @s is longer, only its first @max bytes (whole characters)
 * are kept, followed by "... (N bytes)". malloc'd; NULL on ENOMEM.
 */
char *zw_text__escape(const char *s, size_t max);

/*
 * A change reason: non-empty after trimming, at most ZW_REASON_MAX bytes,
 * plain text (zw_text__check()), and free of secrets. Returns 0 or
 * -EINVAL with a one-line explanation in @err.
 */
int zw_reason__check(const char *reason, char *err, size_t err_len);

/* Output formats of the journal commands. */
enum zw_journal_format {
	ZW_JF_TEXT,
	ZW_JF_JSON,
	ZW_JF_CSV,
};
/* "text"/"json"/"csv" → format; -1 if unknown. */
int zw_journal_format__parse(const char *s);

/* Write one CSV field (RFC 4180 quoting when needed); a value starting
 * with =, +, -, @, tab or carriage return gets a leading apostrophe so that
 * spreadsheet software does not evaluate it as a formula. */
void zw_csv__field(FILE *out, const char *s);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_JOURNAL_H */
