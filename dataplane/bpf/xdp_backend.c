/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zw_backend_xdp: the XDP engine behind zonewalld's backend interface.
 * Argument: "IFACE[,IFACE...][,dir=BPFFS_DIR][,mode=auto|native|generic]"
 * and the L7 options (xdp_l7.h; inspection is on by default):
 * [queue=N][,inspect_image=PATH][,l7_table=NAME], or l7=off.
 * Interfaces are attached at open() when the instance already enforces a
 * policy (re-attach after a restart), otherwise at the first apply() (so
 * an interface never runs the program before it has a policy: the
 * program would drop everything). The matrix's probes are mirrored by a
 * tc classifier on the same interfaces, committed with the policy
 * (xdp_mirror.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "xdp.h"
#include "xdp_l7.h"
#include "xdp_mirror.h"
#include "zw_bpf_abi.h"

#define MAX_IFACES 32

struct xdp_be {
	struct zw_backend base;
	struct zw_xdp *x;
	char ifaces[MAX_IFACES][16];
	const char *modes[MAX_IFACES];
	int n;
	enum zw_xdp_mode mode;
	struct zw_ticket *ticket; /* the one prepared, not yet committed */
	bool fp_known;	/* fp: the fingerprint at the last commit or check */
	uint64_t fp, fp_maps; /* without, with the rule maps */
	unsigned n_checks;
	struct xdp_l7 l7; /* the L7 table (xdp_l7.c) */
	struct xdp_mirror mirror; /* the mirror to probes (xdp_mirror.c) */
};

/* The rule maps are read at one check in MAPS_EVERY (the links, the
 * generation and the slot header at every one). Reading them costs about
 * 0.3 % of a core at 4 checks a second (docs/performance.md), so every
 * check reads them; raise it for very large policies. */
#define MAPS_EVERY 1

/* The XDP ticket: the engine's own (zw_xdp__prepare: the inactive slot
 * filled, the generation flip left to commit). */
struct zw_ticket {
	struct zw_xdp_ticket *xt;
	struct zw_ticket *l7; /* the L7 table's, NULL with l7=off */
	struct xdp_mirror_ticket *mirror;
};

static struct xdp_be *X(struct zw_backend *be)
{
	return zw_container_of(be, struct xdp_be, base);
}

static int attach_all(struct xdp_be *be, char *err, size_t err_len)
{
	for (int i = 0; i < be->n; i++) {
		int rc = zw_xdp__attach(be->x, be->ifaces[i], be->mode,
					&be->modes[i], err, err_len);
		if (rc)
			return rc;
	}
	return 0;
}

static int xdp_open(const char *arg, struct zw_backend **out, char *err,
		    size_t err_len)
{
	struct xdp_be *be = calloc(1, sizeof(*be));
	char *copy = strdup(arg ? arg : ""), *tok, *save = NULL;
	const char *dir = NULL;
	struct zw_xdp_status st;
	int rc = -EINVAL;

	*out = NULL;
	if (!be || !copy) {
		rc = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto err;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int l7 = xdp_l7__option(&be->l7, tok, err, err_len);

		if (l7 < 0)
			goto err;
		if (l7)
			continue;
		if (!strncmp(tok, "dir=", 4)) {
			dir = tok + 4;
		} else if (!strncmp(tok, "mode=", 5)) {
			if (!strcmp(tok + 5, "native"))
				be->mode = ZW_XDP_MODE_NATIVE;
			else if (!strcmp(tok + 5, "generic"))
				be->mode = ZW_XDP_MODE_GENERIC;
			else if (!strcmp(tok + 5, "auto"))
				be->mode = ZW_XDP_MODE_AUTO;
			else {
				snprintf(err, err_len, "xdp: mode must be auto, native or generic");
				goto err;
			}
		} else if (*tok) {
			if (be->n == MAX_IFACES || strlen(tok) >= 16) {
				snprintf(err, err_len, "xdp: too many interfaces or name too long: %s", tok);
				goto err;
			}
			snprintf(be->ifaces[be->n++], 16, "%s", tok);
		}
	}
	if (!be->n) {
		snprintf(err, err_len, "xdp: name at least one interface (xdp:IFACE[,IFACE...])");
		goto err;
	}
	rc = xdp_l7__open(&be->l7, &be->base.inspect, err, err_len);
	if (rc)
		goto err;
	rc = zw_xdp__open(dir, NULL, &be->x, err, err_len);
	if (rc)
		goto err;
	zw_xdp__mirrored_elsewhere(be->x); /* xdp_mirror.c */
	rc = zw_xdp__status(be->x, &st);
	if (!rc && st.generation)
		rc = attach_all(be, err, err_len);
	if (rc)
		goto err;
	free(copy);
	be->base.ops = &zw_backend_xdp;
	*out = &be->base;
	return 0;
err:
	free(copy);
	if (be) {
		xdp_l7__close(&be->l7);
		zw_xdp__close(be->x);
	}
	free(be);
	return rc;
}

static int xdp_prepare(struct zw_backend *b, const struct zw_image *img,
		       int32_t day, struct zw_ticket **t, char *err,
		       size_t err_len)
{
	struct xdp_be *be = X(b);
	struct zw_ticket *nt;
	int rc;

	*t = NULL;
	if (be->ticket) {
		snprintf(err, err_len, "xdp: a prepared change is already out");
		return -EBUSY;
	}
	/* --log-all-flows reaches the program with the policy (it changes no
	 * verdict: set now, whatever becomes of the ticket) */
	rc = zw_xdp__set_log_all(be->x, be->base.rec.log_all);
	if (rc) {
		snprintf(err, err_len, "xdp: cannot set the record settings: %s",
			 strerror(-rc));
		return rc;
	}
	nt = calloc(1, sizeof(*nt));
	if (!nt) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rc = xdp_mirror__prepare(&be->mirror, img, be->ifaces, be->n,
				 &nt->mirror, err, err_len);
	if (rc) {
		free(nt);
		return rc;
	}
	rc = zw_xdp__prepare(be->x, img, day, &nt->xt, err, err_len);
	if (rc) {
		xdp_mirror__abort(nt->mirror);
		free(nt);
		return rc;
	}
	rc = xdp_l7__prepare(&be->l7, img, day, &nt->l7, err, err_len);
	if (rc) {
		zw_xdp__abort(be->x, nt->xt);
		xdp_mirror__abort(nt->mirror);
		free(nt);
		return rc;
	}
	be->ticket = *t = nt;
	return 0;
}

static void xdp_abort(struct zw_backend *b, struct zw_ticket *t)
{
	struct xdp_be *be = X(b);

	if (!t)
		return;
	if (t == be->ticket)
		be->ticket = NULL;
	xdp_l7__abort(&be->l7, t->l7);
	zw_xdp__abort(be->x, t->xt);
	xdp_mirror__abort(t->mirror);
	free(t);
}

/* The L7 table, the switch, then the interfaces (an interface never runs
 * the program before a policy is in force). The L7 table goes first: the
 * batch can still be refused (the kernel changed since prepare), the
 * switch hardly; the inspected flows of the new policy are inspected from
 * its first packet. */
static int xdp_commit(struct zw_backend *b, struct zw_ticket *t, char *err,
		      size_t err_len)
{
	struct xdp_be *be = X(b);
	int rc;

	if (t == be->ticket)
		be->ticket = NULL;
	rc = xdp_l7__commit(&be->l7, t->l7, err, err_len);
	if (rc) {
		zw_xdp__abort(be->x, t->xt);
		xdp_mirror__abort(t->mirror);
		free(t);
		return rc;
	}
	rc = zw_xdp__commit(be->x, t->xt, err, err_len);
	if (rc) {
		xdp_mirror__abort(t->mirror);
		free(t);
		return rc;
	}
	rc = attach_all(be, err, err_len);
	/* the mirror after the interfaces: it copies what the program passes */
	if (!rc)
		rc = xdp_mirror__commit(&be->mirror, be->ifaces, be->n,
					t->mirror, err, err_len);
	else
		xdp_mirror__abort(t->mirror);
	free(t);
	/* our own change: the watch starts from here */
	be->fp_known = !rc &&
		       zw_xdp__fingerprint(be->x, be->ifaces, (size_t)be->n,
					   false, &be->fp) == 0 &&
		       zw_xdp__fingerprint(be->x, be->ifaces, (size_t)be->n,
					   true, &be->fp_maps) == 0;
	return rc;
}

static int xdp_watch_fd(struct zw_backend *b)
{
	(void)b;
	return -1; /* no notifications: polled */
}

static int xdp_check(struct zw_backend *b)
{
	struct xdp_be *be = X(b);
	bool maps = be->n_checks++ % MAPS_EVERY == 0 || !be->fp_known;
	uint64_t fp, fpm = 0;
	int rc = zw_xdp__fingerprint(be->x, be->ifaces, (size_t)be->n, false,
				     &fp);
	/* the L7 table's notifications; without them, read back each time */
	int l7 = xdp_l7__check(&be->l7) != 0;
	int mirror = xdp_mirror__check(&be->mirror, be->ifaces, be->n);
	bool same;

	if (!rc && maps)
		rc = zw_xdp__fingerprint(be->x, be->ifaces, (size_t)be->n, true,
					 &fpm);
	if (rc)
		return rc;
	same = be->fp_known && fp == be->fp && (!maps || fpm == be->fp_maps);
	be->fp = fp;
	if (maps)
		be->fp_maps = fpm;
	be->fp_known = true;
	return same && !l7 && !mirror ? 0 : 1;
}

static int xdp_read_back(struct zw_backend *b, const struct zw_image *expected,
			 struct zw_backend_state *out)
{
	struct xdp_be *be = X(b);
	struct zw_xdp_status st;
	char *drift = NULL;
	size_t off = 0;
	int attached = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = zw_xdp__status(be->x, &st);
	if (rc)
		return rc;
	for (int i = 0; i < be->n; i++)
		for (uint32_t j = 0; j < st.n_links; j++)
			if (!strcmp(st.links[j].ifname, be->ifaces[i]) &&
			    strcmp(st.links[j].mode, "detached"))
				attached++;
	out->enforcing = st.generation != 0 && attached == be->n;
	memcpy(out->sha256, st.sha256, 32);
	off += (size_t)snprintf(out->detail, sizeof(out->detail),
				"xdp generation %u, %u/%u flows live on",
				st.generation, st.n_live, st.n_flows);
	for (uint32_t j = 0; j < st.n_links && off < sizeof(out->detail); j++)
		off += (size_t)snprintf(out->detail + off, sizeof(out->detail) - off,
					"%s %s (%s)", j ? "," : "",
					st.links[j].ifname, st.links[j].mode);
	{
		/* nothing lost silently: what the records op could not hand */
		uint64_t sv[ZW_XDP_N_STATS];

		if (!zw_xdp__stats(be->x, sv) && off < sizeof(out->detail) &&
		    (sv[ZW_BPF_ST_EVENTS_LOST] || sv[ZW_BPF_ST_SWEEP_BEHIND]))
			off += (size_t)snprintf(
				out->detail + off, sizeof(out->detail) - off,
				"; records lost: %llu ring full, %llu updates "
				"merged by a late sweep",
				(unsigned long long)sv[ZW_BPF_ST_EVENTS_LOST],
				(unsigned long long)sv[ZW_BPF_ST_SWEEP_BEHIND]);
	}
	if (expected) {
		drift = zw_xdp__drift(be->x, expected);
		if (!drift && errno)
			return -errno;
		rc = xdp_mirror__drift(&be->mirror, expected, be->ifaces, be->n,
				       &drift);
		if (rc) {
			free(drift);
			return rc;
		}
	}
	/* as data: the rules the active slot's maps hold, and what others
	 * put on the same interfaces */
	rc = zw_xdp__held_rules(be->x, expected, out, NULL);
	for (int i = 0; i < be->n && !rc; i++)
		rc = zw_xdp__foreign(be->x, be->ifaces[i], out);
	if (rc) {
		free(drift);
		zw_backend_state__fini(out);
		return rc;
	}
	for (int i = 0; i < be->n; i++) {
		int ok = 0;

		for (uint32_t j = 0; j < st.n_links; j++)
			if (!strcmp(st.links[j].ifname, be->ifaces[i]) &&
			    strcmp(st.links[j].mode, "detached"))
				ok = 1;
		if (!ok) {
			size_t n = drift ? strlen(drift) : 0;
			char *nd = realloc(drift, n + 64);

			if (nd) {
				snprintf(nd + n, 64, "%s: not attached\n", be->ifaces[i]);
				drift = nd;
			}
		}
	}
	out->drift = drift;
	rc = xdp_l7__read_back(&be->l7, expected, out);
	if (rc)
		zw_backend_state__fini(out);
	return rc;
}

static int xdp_counters(struct zw_backend *b, struct zw_flow_counters *out,
			uint32_t n_flows)
{
	int rc = zw_xdp__counters(X(b)->x, out, n_flows);

	return rc ? rc : xdp_l7__counters(&X(b)->l7, out, n_flows);
}

/* Drops by reason from the program's per-CPU statistics (every reason
 * the program can drop for; it does not inspect payloads), those of the
 * L7 table (l7-mismatch, unless l7=off), and the
 * connection tables. They are LRU hashes: the kernel evicts the least
 * recently used entry when one is full, established or not, and counts
 * nothing: no early drops to report. */
static int xdp_stats(struct zw_backend *b, struct zw_engine_stats *out)
{
	struct xdp_be *be = X(b);
	uint64_t st[ZW_XDP_N_STATS];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = zw_xdp__stats(be->x, st);
	if (rc)
		return rc;
	for (unsigned r = 1; r < ZW_DROP__COUNT; r++) {
		if (r == ZW_DROP_L7_MISMATCH || r == ZW_DROP_FILE_TYPE)
			continue;
		out->drops[r] = st[r];
		out->drop_counted[r] = true;
	}
	rc = zw_xdp__conns(be->x, &out->conn_used, &out->conn_size);
	if (rc)
		return rc;
	out->has_conns = true;
	out->records_lost = st[ZW_BPF_ST_EVENTS_LOST] + st[ZW_BPF_ST_SWEEP_BEHIND];
	out->has_records_lost = true;
	return xdp_l7__stats(&be->l7, out);
}

struct rec_ctx {
	zw_record_fn fn;
	void *ctx;
	size_t n, max;
};

static int rec_one(const struct zw_flow_record *rec, void *arg)
{
	struct rec_ctx *c = arg;

	c->n++;
	return c->fn(c->ctx, rec) || c->n >= c->max;
}

/* The ring buffer's records (created, denied, ends the program saw),
 * then a bounded step of the sweep of the connection tables (ended,
 * update). */
static int xdp_records(struct zw_backend *b, zw_record_fn fn, void *ctx,
		       size_t max)
{
	struct rec_ctx c = {.fn = fn, .ctx = ctx, .max = max};
	struct zw_xdp_sweep_opts o = {
		.active_timeout_s = b->rec.active_timeout_s,
	};
	int rc;

	if (!max)
		return 0;
	rc = zw_xdp__poll_records(X(b)->x, rec_one, &c, 0);
	if (rc >= 0 && c.n < max)
		rc = zw_xdp__sweep(X(b)->x, &o, rec_one, &c);
	return rc < 0 ? rc : (int)c.n;
}

/* The XDP describer: map entries of each flow (zw_xdp__describe_flow). */
struct xdp_describer {
	struct zw_describer base;
	const struct zw_image *img;
};

static char *xdp_describe(struct zw_describer *d, uint32_t flow)
{
	return zw_xdp__describe_flow(
		zw_container_of(d, struct xdp_describer, base)->img, flow);
}

static void xdp_describer_free(struct zw_describer *d)
{
	if (d)
		free(zw_container_of(d, struct xdp_describer, base));
}

static struct zw_describer *xdp_describer(const struct zw_image *img)
{
	struct xdp_describer *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->base.describe = xdp_describe;
	d->base.free = xdp_describer_free;
	d->img = img;
	return &d->base;
}

static void xdp_close(struct zw_backend *b)
{
	struct xdp_be *be;

	if (!b)
		return;
	be = X(b);
	xdp_abort(b, be->ticket);
	xdp_l7__close(&be->l7);
	zw_xdp__close(be->x);
	free(be);
}

/* Clear: stop enforcing and remove the instance; the handle stays open
 * (a later apply re-installs everything). */
static int xdp_destroy(struct zw_backend *b, char *err, size_t err_len)
{
	int rc;

	X(b)->fp_known = false;
	rc = xdp_mirror__destroy(&X(b)->mirror, X(b)->ifaces, X(b)->n, err,
				 err_len);
	if (!rc)
		rc = zw_xdp__destroy(X(b)->x, err, err_len);
	return rc ? rc : xdp_l7__destroy(&X(b)->l7, err, err_len);
}

const struct zw_backend_ops zw_backend_xdp = {
	.name = "xdp",
	.open = xdp_open,
	.prepare = xdp_prepare,
	.commit = xdp_commit,
	.abort = xdp_abort,
	.read_back = xdp_read_back,
	.counters = xdp_counters,
	.stats = xdp_stats,
	.records = xdp_records,
	.describer = xdp_describer,
	.watch_fd = xdp_watch_fd,
	.check = xdp_check,
	.close = xdp_close,
	.destroy = xdp_destroy,
};
