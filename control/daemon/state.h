/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewalld's state besides the journal, in the same SQLite database so a
 * version, its activation and its journal entries commit in one
 * transaction (private to control/; layout in docs/daemon.md):
 *  - versions: every stored version (matrix text, image, author, reason,
 *    kind, state: pending | ok | refused | abandoned);
 *  - daemon_state: key/value (active_version, crisis, applied_day);
 *  - syslog_cursor: the forwarder's position (syslogfwd.h).
 * Also: the canonical JSON of flows and zones the journal records, and the
 * per-version diff of them.
 */
#ifndef ZONEWALL_CONTROL_STATE_H
#define ZONEWALL_CONTROL_STATE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include <zonewall/matrix.h>

#define ZW_STATE_DB "zonewall.db"

/* Create the state tables if missing. 0 or -EIO. */
int zw_state__init(sqlite3 *db);

/* daemon_state key/value. get: 0, -ENOENT if absent, -EIO. */
int zw_state__get_int(sqlite3 *db, const char *key, int64_t *v);
int zw_state__set_int(sqlite3 *db, const char *key, int64_t v);
/* *out malloc'd. */
int zw_state__get_text(sqlite3 *db, const char *key, char **out);
int zw_state__set_text(sqlite3 *db, const char *key, const char *v);

struct zw_version_rec {
	int64_t n;
	int64_t time_us;
	uint32_t uid;
	char *user;
	char *reason;
	char *kind;	   /* "commit" | "rollback" */
	int64_t rollback_of; /* 0 = none */
	char *file;	   /* matrix file name as given */
	char matrix_sha256[65];
	char image_sha256[65];
	char *matrix;	   /* text, NUL-terminated */
	size_t matrix_len;
	uint8_t *image;
	size_t image_len;
	char *state;	   /* "pending" | "ok" | "refused" | "abandoned" */
	char *detail;
};

/* Insert @v as version max(n)+1 (state from v->state); v->n is set.
 * -ENOSPC when the disk is full, -EIO otherwise. */
int zw_state__version_add(sqlite3 *db, struct zw_version_rec *v);
int zw_state__version_set_state(sqlite3 *db, int64_t n, const char *state,
				const char *detail);
/* Load version @n (with blobs if @blobs). -ENOENT if none. */
int zw_state__version_get(sqlite3 *db, int64_t n, bool blobs,
			  struct zw_version_rec *v);
void zw_state__version_fini(struct zw_version_rec *v);
/* The version's digest: SHA-256 of the canonical JSON of its whole row
 * (every column; the matrix and image by the SHA-256 of their bytes), as
 * the journal records it in "version_sha256" (docs/daemon.md). 0 or
 * -errno. */
int zw_state__version_digest(const struct zw_version_rec *v, char out[65]);
/* The digest of version @n as stored. */
int zw_state__version_digest_n(sqlite3 *db, int64_t n, char out[65]);
/*
 * Check the stored versions against the journal (every version when @only
 * is 0, else version @only): an activated version must match the digest
 * its commit or rollback entry recorded, a refused or abandoned one the
 * digest of its refusal, and (all versions) every version the journal
 * activated must exist and the active version be the last one activated.
 * Returns 0 when the check ran, with *bad the first version found altered
 * (0: none) and @why saying how; -errno if it could not run.
 */
int zw_state__versions_verify(struct zw_journal *j, int64_t only,
			      int64_t *bad, char *why, size_t len);
/* Versions in state "pending" (for recovery), as a malloc'd array. */
int zw_state__pending(sqlite3 *db, int64_t **out, size_t *n);
/* {"active":N,"versions":[{version,time,uid,user,reason,kind,
 * rollback_of,file,matrix_sha256,image_sha256,state,detail,active}]}. */
json_t *zw_state__versions_json(sqlite3 *db);

/* ---- flows and zones as the journal records them ---- */

/* Canonical JSON of flow @f of @m: its definition with zones and services
 * resolved (networks, protocols, ports), so any change of meaning shows. */
json_t *zw_flow__json(const struct zw_matrix *m, const struct zw_flow *f);
/* Canonical JSON of zone @z. */
json_t *zw_zone__json(const struct zw_matrix *m, const struct zw_zone *z);
/* A probe as the journal records it: {name, interface, zones, traffic,
 * description}. */
json_t *zw_probe__json(const struct zw_matrix *m, const struct zw_probe *p);

/* One difference between two matrices. */
struct zw_change {
	enum zw_journal_action action; /* FLOW_, ZONE_ or PROBE_ ADDED/CHANGED/
					* REMOVED */
	const char *name;   /* flow id, zone or probe name (points into a
			     * model) */
	int old_idx;	    /* index in old model, -1 */
	int new_idx;	    /* index in new model, -1 */
	char *before;	    /* canonical JSON text or NULL */
	char *after;
};

/* Differences from @old (may be NULL: everything added) to @new, sorted
 * zones first, then flows, then probes, by name. Returns 0 or -ENOMEM. */
int zw_matrix__changes(const struct zw_matrix *old, const struct zw_matrix *new,
		       struct zw_change **out, size_t *n);
void zw_changes__free(struct zw_change *c, size_t n);

/* Refuse free text that looks like a secret (L4) in the matrix's own
 * descriptions, justifications, compensating measures and owners: returns
 * true and a one-line reason in @why if one is found. */
bool zw_matrix__has_secret(const struct zw_matrix *m, char *why, size_t len);

/* Refuse a secret (L4) anywhere in what a commit stores besides the model:
 * the file name as sent, and the whole matrix text, comments included,
 * after Unicode folding (zw_secret__find_lines). Returns true and a
 * one-line reason (which never quotes the secret) in @why. */
bool zw_matrix__source_has_secret(const char *text, size_t text_len,
				  const char *file, char *why, size_t len);

/* ---- the rules list of REQUIREMENTS L1, from the journal ---- */

/* {"rules":[{flow, status: in-force|suspended|expired|deleted, created,
 * modified, deleted (each {time,version,user,reason} or null), definition,
 * implementation}]} for every flow in force and every flow deleted within
 * @deleted_within_days. Reads archives too. */
json_t *zw_rules__json(struct zw_journal *j, int deleted_within_days,
		       int32_t today);

#endif
