/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld internals (private to control/). */
#ifndef ZONEWALL_CONTROL_ZONEWALLD_H
#define ZONEWALL_CONTROL_ZONEWALLD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
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

	struct zw_fwd *fwd;
	char *syslog_target;
	int64_t started_us;
};

/* Start-up: load the active version and crisis, recover an interrupted
 * commit, reconcile every backend. 0 or -errno (logged). */
int zwd__recover(struct zwd *d);

/* Handle one request; returns the response (never NULL). */
json_t *zwd__handle(struct zwd *d, const json_t *req,
		    const struct zwd_author *who);

/* A UTC day may have started: re-apply and journal expired flows. */
void zwd__day_tick(struct zwd *d);

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

/* The whole daemon: options, state directory, socket, event loop. Returns
 * the process exit code. main.c calls it; tests call it after registering
 * their test engine (zw_backend__register()). */
int zwd__main(int argc, char **argv);

#endif
