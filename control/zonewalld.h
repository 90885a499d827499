/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld internals (private to control/). */
#ifndef ZONEWALL_CONTROL_ZONEWALLD_H
#define ZONEWALL_CONTROL_ZONEWALLD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <zonewall/backend.h>
#include <zonewall/journal.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "syslogfwd.h"

struct zwd_backend {
	const struct zw_backend_ops *ops;
	struct zw_backend *be;
	char *spec;
	char last_error[256];
	bool dirty; /* may not enforce d->enforced (an apply or restore
		     * failed): programmed again at each tick until it works */
};

/* Crisis measures in force (REQUIREMENTS C1, C4). */
struct zwd_crisis {
	bool isolate;		 /* isolate-internet */
	struct zw_prefix *block; /* block list */
	size_t n_block;
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

#endif
