/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld internals (private to control/). */
#ifndef ZONEWALL_CONTROL_ZONEWALLD_H
#define ZONEWALL_CONTROL_ZONEWALLD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#include <zonewall/backend.h>
#include "journal.h"
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "syslogfwd.h"

struct zwd_backend {
	struct zw_backend *be; /* be->ops: the engine */
	char *spec;
	char last_error[256];
	bool dirty; /* may not enforce d->enforced (a commit or restore
		     * failed): programmed again at each tick until it works */
	/* describers of the images of the operation in progress
	 * (engines.c; dropped by zwd_engines__forget_describers()) */
	struct zw_describer *desc[2];
	const struct zw_image *desc_img[2];
	/* the watch (watch.c) */
	char *drift_seen;   /* drift journalled and not repaired, NULL: none */
	char *foreign_seen; /* foreign objects at the last read-back */
	bool watch_failed;  /* check() or read_back() failing (logged once) */
};

/* What the watch does when an engine changed behind our back. */
enum zwd_on_drift {
	ZWD_ON_DRIFT_REPAIR = 0, /* journal, alert, re-apply (default) */
	ZWD_ON_DRIFT_ALERT,	 /* journal and alert only */
};

/* The clock watch (watch.c). */
struct zwd_clock {
	int64_t real_us, boot_us;   /* last sample (wall, CLOCK_BOOTTIME) */
	int64_t journal_last_us;    /* time of the newest journal entry */
	int64_t n_steps;	    /* steps seen since start */
	int64_t last_step_us;	    /* the last one, signed */
	int64_t last_step_at_us;    /* wall time just after it */
};

/* A crisis block-file measure (C2): file types (mask of enum
 * zw_l7_ftype) from zone @from to zone @to ("" = any zone). */
struct zwd_fileblock {
	uint32_t types;
	char from[40];
	char to[40];
};

/* Crisis measures in force (REQUIREMENTS C1, C2, C4). */
struct zwd_crisis {
	bool isolate;		 /* isolate-internet */
	struct zw_prefix *block; /* block list */
	size_t n_block;
	struct zwd_fileblock *fb; /* block-file measures */
	size_t n_fb;
};

/* Who asked (peer credentials of the control socket). */
struct zwd_author {
	uint32_t uid;
	char name[64];
};

/* A refusal the journal could not take when it happened (disk full):
 * kept in memory and journalled at the first tick that can write. */
struct zwd_deferred {
	struct zwd_author who;
	int64_t version;  /* 0 = none */
	int64_t time_us;  /* when it was refused */
	char *reason;	  /* bounded (refused reasons are summarised) */
	char *detail;
};

#define ZWD_MAX_DEFERRED 64

struct zwd_tm;
struct zwd_inspector;

struct zwd_commit; /* a commit being compiled (zonewalld_ops.c) */

struct zwd {
	const char *state_dir;
	char db_path[4096];
	struct zw_journal *j;
	struct zwd_backend *bes;
	size_t n_bes;

	int64_t active;		  /* active version, 0 = none */
	struct zw_matrix *active_m; /* its model */
	struct zw_image *enforced; /* image every backend enforces (crisis
				    * measures applied) */
	struct zwd_crisis crisis;
	int32_t day;		   /* day the image was applied for */

	/* journal check at start-up (zw_journal__verify) */
	bool journal_intact;
	char journal_problem[256];

	/* refusals waiting for room in the journal (oldest first), and how
	 * many more were lost past ZWD_MAX_DEFERRED */
	struct zwd_deferred deferred[ZWD_MAX_DEFERRED];
	size_t n_deferred;
	int64_t n_deferred_lost;

	struct zw_fwd *fwd;
	char *syslog_target;
	int64_t started_us;
	int64_t usage_interval_s; /* flow usage sampling period (usage.h) */

	struct zwd_tm *tm; /* the record pump (telemetry.c) */

	/* the watch (watch.c) */
	enum zwd_on_drift on_drift;
	int watch_ms;		/* period (0: default 250 ms) */
	int64_t watch_next_ms;	/* CLOCK_MONOTONIC ms */
	int64_t n_drifts;	/* drift entries since start */
	bool clock_behind_logged; /* today() < day, said once */
	struct zwd_clock clock;

	/* the commit or rollback being compiled off the loop (zwd__serve),
	 * NULL when none */
	struct zwd_commit *commit;

	/* the L7 inspector the engines hand packets to (inspector.c), NULL
	 * when no engine needs one */
	struct zwd_inspector *insp;
};

/* ---- the L7 inspector (inspector.c, docs/l7.md) ----
 * Start zw-inspect at @path (stdout and stderr to @log_fd, -1: inherited)
 * when an open engine says it needs the inspector (zw_backend.inspect):
 * one for every such engine, which must name the same queue and image.
 * 0 (also when none needs it), -ENOENT when @path is NULL or not
 * executable, -EINVAL when engines disagree; @err says why. */
int zwd_inspector__start(struct zwd *d, const char *path, int log_fd,
			 char *err, size_t err_len);
/* SIGCHLD: reap it if it died (logged) and plan its restart. */
void zwd_inspector__reap(struct zwd *d);
/* The socket the inspector sends its verdicts' flow records to (one
 * struct zw_flow_record per datagram), -1 when none: read by the record
 * pump (telemetry.c). */
int zwd_inspector__records_fd(const struct zwd *d);
/* ms until a planned restart (0: due), -1 if none. */
int zwd_inspector__timeout(const struct zwd *d);
/* Restart it if due. */
void zwd_inspector__tick(struct zwd *d);
/* For the metrics: false when no engine needs an inspector; else whether
 * it runs now and how many times it was started again. */
bool zwd_inspector__status(const struct zwd *d, bool *up, uint64_t *restarts);
/* Stop it (SIGTERM, then SIGKILL after 2 s), remove its pid file, free.
 * NULL-safe. (A killed daemon leaves it running: the next one adopts it,
 * see inspector.c.) */
void zwd_inspector__stop(struct zwd *d);
/* zonewalld-test: where the build's zw-inspect is, used when neither
 * --inspector nor an installed zw-inspect is given. */
void zwd__set_inspector_default(const char *path);

/* Start-up checks of the evidence (integrity.c): the journal's chain and
 * its checkpoint (then kept after each append), reported in
 * d->journal_intact/journal_problem; and the stored versions against the
 * journal: -EBADMSG (d->journal_problem says why) when the active version
 * was altered, which must never be enforced. */
void zwd__check_journal(struct zwd *d);
int zwd__check_versions(struct zwd *d);

/* Start-up: load the active version and crisis, recover an interrupted
 * commit, reconcile every backend. 0 or -errno (logged); -EBADMSG: the
 * active version was altered in the database (d->journal_problem). */
int zwd__recover(struct zwd *d);

/* Handle one request; returns the response (never NULL). A commit or
 * rollback is compiled on the calling thread (tests, benchmarks). */
json_t *zwd__handle(struct zwd *d, const json_t *req,
		    const struct zwd_author *who);

/* The daemon's loop: as zwd__handle, but a commit or rollback is parsed,
 * validated, scanned and compiled on a worker thread. Then it returns NULL
 * and sets *pending: the response comes from zwd__commit_done() once
 * zwd__commit_fd() is readable. While one is compiled, another commit or
 * rollback is refused (status 1, "a commit is in progress"); every other
 * request, crisis measures included, is served at once (docs/daemon.md). */
json_t *zwd__serve(struct zwd *d, const json_t *req,
		   const struct zwd_author *who, bool *pending);

/* The fd that becomes readable when the compile of the pending commit is
 * done, or -1 when no commit is pending. */
int zwd__commit_fd(const struct zwd *d);

/* Finish the pending commit (store, program, journal) on the loop thread
 * and return its response (never NULL). */
json_t *zwd__commit_done(struct zwd *d);

/* A thread that runs @fn(@arg) once (compile_worker.c). NULL and errno on
 * failure. zwd_compile_worker__fd() is readable once @fn has returned;
 * zwd_compile_worker__join() waits for the thread and frees the worker
 * (NULL-safe). */
struct zwd_compile_worker;
struct zwd_compile_worker *zwd_compile_worker__start(void (*fn)(void *),
						     void *arg);
int zwd_compile_worker__fd(const struct zwd_compile_worker *w);
void zwd_compile_worker__join(struct zwd_compile_worker *w);

/* A UTC day may have started: re-apply and journal expired flows. Also
 * journals the refusals deferred for lack of room (zwd__defer_refusal). */
void zwd__day_tick(struct zwd *d);

/* Keep a refusal the journal could not take (@err: why, -ENOSPC...) for
 * the next tick; @reason and @detail are copied (a reason that is not
 * acceptable plain text is kept as an escaped summary). */
void zwd__defer_refusal(struct zwd *d, const struct zwd_author *who,
			int64_t version, const char *reason,
			const char *detail, int err);
/* Journal the deferred refusals now if the journal can take them. */
void zwd__flush_refusals(struct zwd *d);
/* At stop: a last try, then what is still deferred is logged as lost. */
void zwd__refusals_fini(struct zwd *d);

/* Release everything (backends are closed, enforcement stays). */
void zwd__fini(struct zwd *d);

/* ---- the engine set (engines.c) ---- */

/* Program @img for @day on every engine as one transaction: prepare all,
 * then commit all. A refusal at prepare changes no engine. If a commit
 * fails, the engines that switched are put back on @prev (NULL: cleared).
 * Returns 0 or -errno with the reason in @err. */
int zwd_engines__program(struct zwd *d, const struct zw_image *img,
			 int32_t day, const struct zw_image *prev, char *err,
			 size_t len);
/* Bring one engine back to d->enforced for d->day (nothing: removed). */
int zwd_engines__repair(struct zwd *d, struct zwd_backend *b, char *err,
			size_t len);
/* After a change that could not be recorded: every engine back to
 * d->enforced (or nothing) for @day; failures leave engines dirty. */
void zwd_engines__restore(struct zwd *d, int32_t day);
/* {"nft": "...", "xdp": "..."}: how each engine implements flow @flow of
 * @img, as canonical JSON text for the journal; describers are built once
 * per image and kept until zwd_engines__forget_describers(). */
char *zwd_engines__describe(struct zwd *d, const struct zw_image *img,
			    uint32_t flow);
void zwd_engines__forget_describers(struct zwd *d);

/* ---- the record pump: telemetry export and live flows (telemetry.c) ---- */

struct zwd_tm_opts {
	const char *const *urls; /* --ipfix, validated */
	size_t n_urls;
	uint32_t domain;	   /* --ipfix-domain */
	uint32_t pen;		   /* --ipfix-pen, 0: the default */
	uint32_t active_timeout_s; /* --flow-active-timeout */
	bool log_all;		   /* --log-all-flows */
};

/* Start the pump and its exporters (collector names are resolved here).
 * 0 or -errno with the reason in @err. */
int zwd_tm__start(struct zwd *d, const struct zwd_tm_opts *o, char *err,
		  size_t len);
/* Milliseconds until the pump's next tick (0: now; -1: no pump). */
int zwd_tm__timeout_ms(struct zwd *d);
/* Pull every engine's records and export them, when a tick is due. */
void zwd_tm__tick(struct zwd *d);
/* Before stopping: hand out pending denials and send what is queued. */
void zwd_tm__drain(struct zwd *d);
/* The "telemetry" member of the status response (null: no pump). */
json_t *zwd_tm__status(struct zwd *d);
/* The "flows" request (docs/control-protocol.md). */
json_t *zwd_tm__flows(struct zwd *d, const json_t *req);
/* NULL-safe on d->tm. */
void zwd_tm__stop(struct zwd *d);

/* ---- the watch (watch.c) ---- */

const char *zwd_on_drift__name(enum zwd_on_drift m);
/* "repair" or "alert"; 0 or -EINVAL. */
int zwd_on_drift__parse(const char *s, enum zwd_on_drift *m);
/* After recovery: the clock's first sample, the newest journal entry's
 * time (a clock behind it is journalled as a step at once). */
void zwd_watch__init(struct zwd *d);
/* One pollfd per engine (fd -1: the engine has none); returns how many. */
size_t zwd_watch__pollfds(struct zwd *d, struct pollfd *p, size_t max);
/* Milliseconds until the next period (0: due). */
int zwd_watch__timeout(struct zwd *d);
/* After poll(): check the engines whose fd is readable, and every engine
 * and the clock when the period is due; journal, alert and repair. */
void zwd_watch__run(struct zwd *d, const struct pollfd *p, size_t n);
/* Sample the clock; journal a step beyond the tolerance. */
void zwd_watch__clock(struct zwd *d);
/* Append @e to the journal dated now (e->time_us is set), after a
 * clock-step entry when the wall clock is behind the newest entry, so that
 * entries stay in time order unless a step is recorded. 0 or -errno. */
int zwd_journal__append(struct zwd *d, struct zw_journal_entry *e);
void zwd_watch__fini(struct zwd *d);

/* The whole daemon: options, state directory, socket, event loop. Returns
 * the process exit code. main.c calls it; tests call it after registering
 * their test engine (zw_backend__register()). */
int zwd__main(int argc, char **argv);

#endif
