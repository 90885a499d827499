// SPDX-License-Identifier: BSD-2-Clause
/*
 * The nftables engine behind zonewalld's backend interface
 * (include/zonewall/backend.h): prepare (a batch the kernel has checked),
 * commit, read-back (the rules held in matrix terms, foreign base chains,
 * drift), per-flow counters, describe_flow, flow records (nft_records.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "nft_build.h"
#include "zwnft.h"

struct nft_be {
	struct zw_backend base;
	struct zwnft_opts opts;
	struct zwnft_sock *sock;
	struct zw_ticket *ticket; /* the one prepared, not yet committed */
	struct zwnft_watch *watch; /* NULL: notifications unavailable */
	int watch_err;
	struct zwnft_rec *rec; /* flow records (nft_records.c) */
};

/* The record settings the daemon put in the base (backend.h) reach the
 * ruleset through the options: every flow marks its connections with
 * --log-all-flows. */
static void sync_rec_conf(struct nft_be *be)
{
	be->opts.log_all = be->base.rec.log_all;
}

static struct nft_be *N(struct zw_backend *be)
{
	return zw_container_of(be, struct nft_be, base);
}

static double ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The nft ticket: the ruleset for the image and a batch built against the
 * live table (genid-checked: the kernel refuses it if anything changed),
 * which the kernel has checked without committing it. */
struct zw_ticket {
	const struct zw_image *img; /* for zw-inspect, written at commit */
	struct zwnft_ruleset *rs;
	struct zwnft_batch bt;
	bool have_batch;
	struct zwnft_stats st;
};

void zwnft_ticket__free(struct zw_ticket *t)
{
	if (!t)
		return;
	if (t->have_batch)
		zwnft_batch__fini(&t->bt);
	zwnft_ruleset__free(t->rs);
	free(t);
}

/* Read the live table and build the batch from it into @t. */
static int build_batch(struct zwnft_sock *s, const struct zwnft_opts *o,
		       struct zw_ticket *t, char *err, size_t err_len)
{
	struct zwnft_live live;
	double ms = ms_now();
	int ret;

	if (t->have_batch) {
		zwnft_batch__fini(&t->bt);
		t->have_batch = false;
	}
	/* Objects are read (and those added by hand removed) unless the table
	 * is huge: see ZWNFT_READ_OBJS_IF_SMALL. */
	ret = zwnft_sock__read(s, o->table, ZWNFT_READ_OBJS_IF_SMALL, &live,
			       err, err_len);
	t->st.read_ms += ms_now() - ms;
	if (ret)
		return ret;
	if (live.table && !live.owned) {
		snprintf(err, err_len,
			 "table inet %s exists and is not zonewall's "
			 "(no \"%s\" comment): refusing to touch it; "
			 "pick another name with nft:table=NAME",
			 o->table, ZWNFT_OWNER_MARK);
		zwnft_live__free(&live);
		return -EEXIST;
	}
	/* after the generation id was read: a change in between is refused
	 * by the kernel like any other */
	if (t->rs->mirror &&
	    (ret = zwnft_mirror__refresh(t->rs->mirror, err, err_len))) {
		zwnft_live__free(&live);
		return ret;
	}
	ms = ms_now();
	ret = zwnft_batch__build(&t->bt, t->rs, &live, zwnft_sock__seq(s, 0));
	t->st.batch_ms += ms_now() - ms;
	zwnft_live__free(&live);
	if (ret) {
		snprintf(err, err_len, "building the batch: %s", strerror(-ret));
		return ret;
	}
	t->have_batch = true;
	t->st.msgs = t->bt.n_msgs;
	t->st.bytes = t->bt.bytes;
	return 0;
}

int zwnft_prepare(struct zwnft_sock *s, const struct zwnft_opts *o,
		  const struct zw_image *img, int32_t day, struct zw_ticket **out,
		  char *err, size_t err_len)
{
	struct zw_ticket *t = calloc(1, sizeof(*t));
	double ms = ms_now();
	int ret;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->img = img;
	if ((ret = zwnft_l7__check(img, day, o, err, err_len))) {
		free(t);
		return ret;
	}
	ret = zwnft_ruleset__build_mode(img, day, o, ZWNFT_BUILD_OBJECTS, &t->rs);
	t->st.build_ms = ms_now() - ms;
	if (ret) {
		snprintf(err, err_len, "building the ruleset: %s", strerror(-ret));
		zwnft_ticket__free(t);
		return ret;
	}
	/* the mirror to probes joins the same batch (nft_mirror.c) */
	if ((ret = zwnft_mirror__build(img, o, &t->rs->mirror, err, err_len))) {
		zwnft_ticket__free(t);
		return ret;
	}
	t->st.rules = t->rs->n[ZWNFT_RULE];
	t->st.chains = t->rs->n[ZWNFT_CHAIN];
	t->st.sets = t->rs->n[ZWNFT_SET];
	t->st.objs = t->rs->n[ZWNFT_OBJ];
	t->st.elems = t->rs->n_elems;
	/* The kernel checks the batch without committing it (nft -c): what
	 * it would refuse at commit is refused here, and nothing changes. A
	 * ruleset changed since it was read: read again and rebuild. */
	for (int tries = 0; tries < 5; tries++) {
		if ((ret = build_batch(s, o, t, err, err_len)))
			break;
		ms = ms_now();
		ret = zwnft_sock__check(s, &t->bt, err, err_len);
		t->st.check_ms += ms_now() - ms;
		if (ret != -ERESTART)
			break;
	}
	if (ret) {
		zwnft_ticket__free(t);
		return ret;
	}
	*out = t;
	return 0;
}

int zwnft_commit(struct zwnft_sock *s, const struct zwnft_opts *o,
		 struct zw_ticket *t, struct zwnft_stats *stats, char *err,
		 size_t err_len)
{
	int ret = zwnft_l7__publish(t->img, o, err, err_len);

	if (ret) {
		zwnft_ticket__free(t);
		return ret;
	}
	/* A concurrent change (genid moved between prepare and commit) makes
	 * the kernel refuse the batch as a whole: read again and rebuild. The
	 * table is unchanged by a refused batch. */
	for (int tries = 0; tries < 5; tries++) {
		double ms;

		t->st.tries = tries + 1;
		if (tries && (ret = build_batch(s, o, t, err, err_len)))
			break;
		zwnft_sock__seq(s, (uint32_t)t->bt.n_msgs + 2);
		ms = ms_now();
		ret = zwnft_sock__send(s, &t->bt, err, err_len);
		t->st.send_ms += ms_now() - ms;
		if (ret != -ERESTART)
			break;
	}
	if (stats)
		*stats = t->st;
	zwnft_ticket__free(t);
	return ret;
}

int zwnft_apply(struct zwnft_sock *s, const struct zwnft_opts *o,
		const struct zw_image *img, int32_t day,
		struct zwnft_stats *stats, char *err, size_t err_len)
{
	struct zw_ticket *t;
	int ret = zwnft_prepare(s, o, img, day, &t, err, err_len);

	if (ret)
		return ret;
	return zwnft_commit(s, o, t, stats, err, err_len);
}

int zwnft_live__marker(const struct zwnft_live *live, char sha_hex[65],
		       int32_t *day)
{
	size_t mlen = strlen(ZWNFT_IMAGE_MARK);

	for (size_t i = 0; i < live->n_rules; i++) {
		const struct nftnl_rule *r = live->rules[i];
		uint32_t ulen = 0;
		const void *ud;
		char *c;
		int ret = -ENOENT;

		if (strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
			   ZWNFT_BASE_CHAIN) != 0)
			continue;
		ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
		c = zwnft_udata_comment(ud, ulen, NFTNL_UDATA_RULE_COMMENT);
		if (c && strncmp(c, ZWNFT_IMAGE_MARK, mlen) == 0 &&
		    strlen(c) >= mlen + 64) {
			const char *d = strstr(c + mlen, " day=");

			memcpy(sha_hex, c + mlen, 64);
			sha_hex[64] = '\0';
			*day = d ? (int32_t)strtol(d + 5, NULL, 10) : 0;
			ret = 0;
		}
		free(c);
		/* the marker is the base chain's first rule, nowhere else */
		return ret;
	}
	return -ENOENT;
}

/* ------------------------------------------------------------------ */
/* drift */

struct report {
	struct zwnft_buf b;
	size_t lines;
	size_t dropped;
};

#define DRIFT_MAX_LINES 200

static void say(struct report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct report *r, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;

	if (r->lines >= DRIFT_MAX_LINES) {
		r->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	zwnft_buf__printf(&r->b, "%s\n", tmp);
	r->lines++;
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Report the multiset difference of two sorted string vectors. */
static void diff_sorted(struct report *r, char **want, size_t nw, char **have,
			size_t nh, const char *what_added,
			const char *what_removed)
{
	size_t i = 0, j = 0;

	while (i < nw || j < nh) {
		int c = i == nw ? 1 : j == nh ? -1 : strcmp(want[i], have[j]);

		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			say(r, "%s %s", what_removed, want[i++]);
		} else {
			say(r, "%s %s", what_added, have[j++]);
		}
	}
}

static const char *chain_name(const struct nftnl_chain *c)
{
	return nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
}

/* Named things of both sides, sorted by name, walked in step: every
 * comparison below is O(n log n) (100 000 flows are 100 000 chains). */
struct named {
	const char *name;
	size_t idx;
};

static int named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static void drift_chains(struct report *r, const struct zwnft_ruleset *rs,
			 const struct zwnft_live *live)
{
	size_t nw = rs->n[ZWNFT_CHAIN], nh = live->n_chains, i = 0, j = 0;
	struct named *w = calloc(nw + 1, sizeof(*w)), *h = calloc(nh + 1, sizeof(*h));

	if (!w || !h)
		goto out;
	for (size_t k = 0; k < nw; k++)
		w[k] = (struct named){rs->v[ZWNFT_CHAIN][k].name, k};
	for (size_t k = 0; k < nh; k++)
		h[k] = (struct named){chain_name(live->chains[k]), k};
	qsort(w, nw, sizeof(*w), named_cmp);
	qsort(h, nh, sizeof(*h), named_cmp);
	while (i < nw || j < nh) {
		int c = i == nw ? 1 : j == nh ? -1 : strcmp(w[i].name, h[j].name);

		if (c < 0) {
			say(r, "chain %s removed", w[i++].name);
		} else if (c > 0) {
			char *x = zwnft_canon_chain(live->chains[h[j].idx]);

			say(r, "chain %s added by hand: %s", h[j].name, x ? x : "?");
			free(x);
			j++;
		} else {
			char *a = zwnft_canon_chain(rs->v[ZWNFT_CHAIN][w[i].idx].chain);
			char *b = zwnft_canon_chain(live->chains[h[j].idx]);

			if (a && b && strcmp(a, b) != 0)
				say(r, "chain %s changed: is \"%s\", should be \"%s\"",
				    w[i].name, b, a);
			free(a);
			free(b);
			i++;
			j++;
		}
	}
out:
	free(w);
	free(h);
}

static void drift_set_pair(struct report *r, const struct zwnft_item *w,
			   struct nftnl_set *h)
{
	char *a = zwnft_canon_set(w->set), *b = zwnft_canon_set(h);

	if (a && b && strcmp(a, b) != 0)
		say(r, "set %s changed: is \"%s\", should be \"%s\"", w->name, b, a);
	free(a);
	free(b);
	if (w->dynamic)
		return; /* elements are runtime state */
	size_t nw = 0, nh = 0;
	char **ew = zwnft_canon_elems(w->set, &nw);
	char **eh = zwnft_canon_elems(h, &nh);
	char added[ZWNFT_NAME_MAX + 64], removed[ZWNFT_NAME_MAX + 64];

	snprintf(added, sizeof(added), "element added to set %s:", w->name);
	snprintf(removed, sizeof(removed), "element removed from set %s:", w->name);
	if (ew && eh)
		diff_sorted(r, ew, nw, eh, nh, added, removed);
	zwnft_strv_free(ew, nw);
	zwnft_strv_free(eh, nh);
}

static void drift_sets(struct report *r, const struct zwnft_ruleset *rs,
		       const struct zwnft_live *live)
{
	size_t nw = rs->n[ZWNFT_SET], nh = 0, i = 0, j = 0;
	struct named *w = calloc(nw + 1, sizeof(*w));
	struct named *h = calloc(live->n_sets + 1, sizeof(*h));

	if (!w || !h)
		goto out;
	for (size_t k = 0; k < nw; k++)
		w[k] = (struct named){rs->v[ZWNFT_SET][k].name, k};
	for (size_t k = 0; k < live->n_sets; k++) {
		/* anonymous sets are part of a rule: reported with the rule */
		if (nftnl_set_get_u32(live->sets[k], NFTNL_SET_FLAGS) &
		    NFT_SET_ANONYMOUS)
			continue;
		h[nh++] = (struct named){
			nftnl_set_get_str(live->sets[k], NFTNL_SET_NAME), k};
	}
	qsort(w, nw, sizeof(*w), named_cmp);
	qsort(h, nh, sizeof(*h), named_cmp);
	while (i < nw || j < nh) {
		int c = i == nw ? 1 : j == nh ? -1 : strcmp(w[i].name, h[j].name);

		if (c < 0) {
			say(r, "set %s removed", w[i++].name);
		} else if (c > 0) {
			say(r, "set %s added by hand", h[j++].name);
		} else {
			drift_set_pair(r, &rs->v[ZWNFT_SET][w[i].idx],
				       live->sets[h[j].idx]);
			i++;
			j++;
		}
	}
out:
	free(w);
	free(h);
}

static void drift_objs(struct report *r, const struct zwnft_ruleset *rs,
		       const struct zwnft_live *live)
{
	char **want = calloc(rs->n[ZWNFT_OBJ] + 1, sizeof(char *));
	char **have = calloc(live->n_objs + 1, sizeof(char *));
	size_t nw = 0, nh = 0;

	if (!want || !have)
		goto out;
	for (size_t i = 0; i < rs->n[ZWNFT_OBJ]; i++)
		if ((want[nw] = zwnft_canon_obj(rs->v[ZWNFT_OBJ][i].obj)))
			nw++;
	for (size_t k = 0; k < live->n_objs; k++)
		if ((have[nh] = zwnft_canon_obj(live->objs[k])))
			nh++;
	qsort(want, nw, sizeof(char *), strp_cmp);
	qsort(have, nh, sizeof(char *), strp_cmp);
	diff_sorted(r, want, nw, have, nh, "object added by hand:", "object removed:");
out:
	zwnft_strv_free(want, nw);
	zwnft_strv_free(have, nh);
}

/* A rule in its chain at its position, for the order check. */
struct placed {
	const char *chain;
	size_t pos;
	const char *canon;
};

static int placed_cmp(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;
	int c = strcmp(x->chain, y->chain);

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Rules: what was added or removed (multiset of canonical lines, which
 * start with the chain's name), then, if nothing was, the order inside
 * each chain. */
static void drift_rules(struct report *r, const struct zwnft_ruleset *rs,
			const struct zwnft_live *live)
{
	size_t nw = rs->n[ZWNFT_RULE], nh = live->n_rules;
	char **want = calloc(nw + 1, sizeof(char *));
	char **have = calloc(nh + 1, sizeof(char *));
	char **sw = calloc(nw + 1, sizeof(char *));
	char **sh = calloc(nh + 1, sizeof(char *));
	struct placed *pw = calloc(nw + 1, sizeof(*pw));
	struct placed *ph = calloc(nh + 1, sizeof(*ph));

	if (!want || !have || !sw || !sh || !pw || !ph)
		goto out;
	for (size_t i = 0; i < nw; i++) {
		if (!(want[i] = zwnft_canon_rule(rs->v[ZWNFT_RULE][i].rule)))
			goto out;
		pw[i] = (struct placed){rs->v[ZWNFT_RULE][i].name, i, want[i]};
	}
	for (size_t k = 0; k < nh; k++) {
		if (!(have[k] = zwnft_canon_rule(live->rules[k])))
			goto out;
		ph[k] = (struct placed){
			nftnl_rule_get_str(live->rules[k], NFTNL_RULE_CHAIN), k,
			have[k]};
	}
	memcpy(sw, want, nw * sizeof(char *));
	memcpy(sh, have, nh * sizeof(char *));
	qsort(sw, nw, sizeof(char *), strp_cmp);
	qsort(sh, nh, sizeof(char *), strp_cmp);
	size_t before = r->lines + r->dropped;

	diff_sorted(r, sw, nw, sh, nh, "rule added by hand in chain",
		    "rule removed from chain");
	if (r->lines + r->dropped != before || nw != nh)
		goto out;
	/* same rules: same order in every chain? (a dump lists each chain's
	 * rules in order; sorting by (chain, position) keeps that order) */
	qsort(pw, nw, sizeof(*pw), placed_cmp);
	qsort(ph, nh, sizeof(*ph), placed_cmp);
	const char *reported = NULL;

	for (size_t i = 0; i < nw; i++) {
		if (strcmp(pw[i].chain, ph[i].chain) != 0)
			break; /* cannot happen: same multiset */
		if (strcmp(pw[i].canon, ph[i].canon) != 0 &&
		    (!reported || strcmp(reported, pw[i].chain) != 0)) {
			say(r, "rules of chain %s reordered", pw[i].chain);
			reported = pw[i].chain;
		}
	}
out:
	if (want)
		for (size_t i = 0; i < nw; i++)
			free(want[i]);
	if (have)
		for (size_t k = 0; k < nh; k++)
			free(have[k]);
	free(want);
	free(have);
	free(sw);
	free(sh);
	free(pw);
	free(ph);
}

char *zwnft_drift(const struct zwnft_ruleset *rs, struct zwnft_live *live)
{
	struct report r = {0};
	char *s;

	if (!live->table) {
		say(&r, "table inet %s is missing", rs->opts.table);
	} else {
		if (!live->owned)
			say(&r, "table inet %s lacks the zonewall ownership comment",
			    rs->opts.table);
		if (nftnl_table_is_set(live->table, NFTNL_TABLE_FLAGS) &&
		    nftnl_table_get_u32(live->table, NFTNL_TABLE_FLAGS) != 0)
			say(&r, "table inet %s has flags 0x%x (dormant: NOT FILTERING)",
			    rs->opts.table,
			    nftnl_table_get_u32(live->table, NFTNL_TABLE_FLAGS));
		drift_chains(&r, rs, live);
		drift_sets(&r, rs, live);
		drift_objs(&r, rs, live);
		drift_rules(&r, rs, live);
	}
	if (r.dropped)
		zwnft_buf__printf(&r.b, "... and %zu more differences\n", r.dropped);
	if (r.b.len == 0 && !r.b.oom) {
		errno = 0;
		return NULL;
	}
	s = zwnft_buf__take(&r.b);
	if (s && s[0] && s[strlen(s) - 1] == '\n')
		s[strlen(s) - 1] = '\0';
	return s;
}

/* ------------------------------------------------------------------ */
/* backend ops */

static int nft_open(const char *arg, struct zw_backend **out, char *err,
		    size_t err_len)
{
	struct nft_be *be = calloc(1, sizeof(*be));
	struct zwnft_live live;
	int ret;

	*out = NULL;
	if (!be)
		return -ENOMEM;
	if ((ret = zwnft_opts__parse(&be->opts, arg, err, err_len)))
		goto err;
	be->sock = zwnft_sock__open(err, err_len);
	if (!be->sock) {
		ret = -errno;
		goto err;
	}
	/* Attach: look, change nothing. Refuse a table we do not own now
	 * rather than at the first apply. */
	ret = zwnft_sock__read(be->sock, be->opts.table, 0, &live, err,
			       err_len);
	if (ret)
		goto err;
	if (live.table && !live.owned) {
		snprintf(err, err_len,
			 "table inet %s exists and is not zonewall's: refusing "
			 "to manage it (use nft:table=NAME)",
			 be->opts.table);
		zwnft_live__free(&live);
		ret = -EEXIST;
		goto err;
	}
	zwnft_live__free(&live);
	be->rec = zwnft_rec__new(be->opts.log_group);
	if (!be->rec) {
		ret = -ENOMEM;
		goto err;
	}
	/* The watch is a help, not a condition: without it the daemon
	 * reports the error of check() and reads back on its period. */
	{
		char werr[128];

		be->watch = zwnft_watch__open(be->opts.table, werr, sizeof(werr));
		be->watch_err = be->watch ? 0 : errno ? errno : EIO;
	}
	be->base.ops = &zw_backend_nft;
	/* L7 inspection is on (docs/l7.md): the daemon runs zw-inspect on
	 * our queue, reading the image we write at each commit */
	be->base.inspect.need = be->opts.queue_set;
	be->base.inspect.queue = be->opts.queue;
	zwnft_opts__inspect_image(&be->opts, be->base.inspect.image,
				  sizeof(be->base.inspect.image));
	*out = &be->base;
	return 0;
err:
	zwnft_rec__free(be->rec);
	zwnft_sock__free(be->sock);
	free(be);
	return ret;
}

void zwnft_backend__l7_only(struct zw_backend *b)
{
	N(b)->opts.l7_only = true;
}

static int nft_prepare(struct zw_backend *b, const struct zw_image *img,
		       int32_t day, struct zw_ticket **t, char *err,
		       size_t err_len)
{
	struct nft_be *be = N(b);

	*t = NULL;
	if (be->ticket) {
		snprintf(err, err_len, "nft: a prepared change is already out");
		return -EBUSY;
	}
	sync_rec_conf(be);
	int ret = zwnft_prepare(be->sock, &be->opts, img, day, t, err, err_len);

	if (!ret)
		be->ticket = *t;
	return ret;
}

static int nft_commit(struct zw_backend *b, struct zw_ticket *t, char *err,
		      size_t err_len)
{
	struct nft_be *be = N(b);
	const struct zw_image *img = t->img;
	int ret;

	be->ticket = NULL;
	ret = zwnft_commit(be->sock, &be->opts, t, NULL, err, err_len);
	/* the records name the flows of the image now enforced (a map that
	 * cannot be made leaves the records without zones, not the commit
	 * failed) */
	if (!ret)
		zwnft_rec__set_image(be->rec, img);
	return ret;
}

static void nft_abort(struct zw_backend *b, struct zw_ticket *t)
{
	if (t == N(b)->ticket)
		N(b)->ticket = NULL;
	zwnft_ticket__free(t);
}

static int nft_read_back(struct zw_backend *b, const struct zw_image *expected,
			 struct zw_backend_state *st)
{
	struct nft_be *be = N(b);
	struct zwnft_live live;
	char err[256], sha[65];
	int32_t day = 0;
	size_t n_elems = 0;
	int ret;

	memset(st, 0, sizeof(*st));
	sync_rec_conf(be);
	ret = zwnft_sock__read(be->sock, be->opts.table,
			       ZWNFT_READ_ALL | ZWNFT_READ_FOREIGN, &live, err,
			       sizeof(err));
	if (ret)
		return ret;
	/* as data, from the kernel's objects: the rules held (none without
	 * the table) and the other tables' base chains on our hooks; nft's
	 * text of them but for the XDP engine's L7 table, whose held rules
	 * nobody shows (libxtables, which prints its NFQUEUE targets, warns
	 * on stderr that it cannot for family inet) */
	st->rules_known = true;
	if ((ret = zwnft_live__held_rules(&live, st)) ||
	    (!be->opts.l7_only &&
	     (ret = zwnft_held__nft_text(be->opts.table, st))) ||
	    (ret = zwnft_live__foreign(&live, be->opts.priority, st))) {
		zwnft_live__free(&live);
		return ret;
	}
	if (!live.table) {
		snprintf(st->detail, sizeof(st->detail),
			 "no table inet %s", be->opts.table);
		if (expected) {
			st->drift = strdup("table missing: nothing is enforced");
			if (!st->drift)
				ret = -ENOMEM;
		}
		zwnft_live__free(&live);
		return ret;
	}
	for (size_t i = 0; i < live.n_sets; i++) {
		size_t n = 0;
		char **v = zwnft_canon_elems(live.sets[i], &n);

		zwnft_strv_free(v, n);
		n_elems += n;
	}
	if (zwnft_live__marker(&live, sha, &day) == 0 &&
	    zw_unhex(sha, st->sha256, 32) == 0)
		st->enforcing = 1;
	snprintf(st->detail, sizeof(st->detail),
		 "table inet %s: hook forward priority %d, %zu chains, %zu rules, "
		 "%zu sets (%zu elements), %zu counters%s",
		 be->opts.table, be->opts.priority, live.n_chains, live.n_rules,
		 live.n_sets, n_elems, live.n_objs,
		 live.owned ? "" : ", NOT OWNED");
	if (expected) {
		char want[65];

		zw_hex(expected->sha256, 32, want);
		if (!st->enforcing) {
			st->drift = strdup("no zonewall image marker in the base chain "
					   "(first rule changed or removed)");
		} else if (strcmp(want, sha) != 0) {
			size_t n = 200;

			st->drift = malloc(n);
			if (st->drift)
				snprintf(st->drift, n,
					 "enforces image %.16s..., expected %.16s...",
					 sha, want);
		} else {
			struct zwnft_ruleset *rs = NULL;

			/* the image enforced, e.g. found by a daemon that
			 * restarts: its flows name the records */
			zwnft_rec__set_image(be->rec, expected);
			ret = zwnft_ruleset__build_mode(expected, day, &be->opts,
							ZWNFT_BUILD_OBJECTS, &rs);
			if (ret == 0) {
				errno = 0;
				st->drift = zwnft_drift(rs, &live);
				if (!st->drift && errno)
					ret = -errno;
				if (!ret)
					ret = zwnft_mirror__drift_append(
						expected, &be->opts, &st->drift);
			}
			zwnft_ruleset__free(rs);
		}
	}
	zwnft_live__free(&live);
	return ret;
}

static int obj_name_cmp(const void *a, const void *b)
{
	return strcmp(nftnl_obj_get_str(*(struct nftnl_obj *const *)a, NFTNL_OBJ_NAME),
		      nftnl_obj_get_str(*(struct nftnl_obj *const *)b, NFTNL_OBJ_NAME));
}

static struct nftnl_obj *obj_find(struct nftnl_obj **v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(nftnl_obj_get_str(v[mid], NFTNL_OBJ_NAME), name);

		if (!c)
			return v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int nft_counters(struct zw_backend *b, struct zw_flow_counters *out,
			uint32_t n_flows)
{
	struct nft_be *be = N(b);
	struct zwnft_live live;
	char err[256];
	int ret;

	memset(out, 0, (size_t)n_flows * sizeof(*out));
	ret = zwnft_sock__read(be->sock, be->opts.table, ZWNFT_READ_OBJS, &live,
			       err, sizeof(err));
	if (ret)
		return ret;
	qsort(live.objs, live.n_objs, sizeof(live.objs[0]), obj_name_cmp);
	/* Flow index <- id from the flow chains' comments ("flow #N ID: ..."),
	 * so counters work after a daemon restart, before any apply. */
	for (size_t c = 0; c < live.n_chains; c++) {
		uint32_t ulen = 0;
		const void *ud = nftnl_chain_get_data(live.chains[c],
						      NFTNL_CHAIN_USERDATA, &ulen);
		const char *name = chain_name(live.chains[c]);
		char *cm, other[ZWNFT_NAME_MAX + 8];
		struct nftnl_obj *o;
		unsigned idx;

		if (strncmp(name, "flow_", 5) != 0)
			continue;
		cm = zwnft_udata_comment(ud, ulen, NFTNL_UDATA_CHAIN_COMMENT);
		if (!cm || sscanf(cm, "flow #%u ", &idx) != 1 || idx >= n_flows) {
			free(cm);
			continue;
		}
		free(cm);
		if ((o = obj_find(live.objs, live.n_objs, name))) {
			out[idx].packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
			out[idx].bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
		}
		snprintf(other, sizeof(other), "new_%s", name + 5);
		if ((o = obj_find(live.objs, live.n_objs, other)))
			out[idx].new_conns = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
		snprintf(other, sizeof(other), "drop_%s", name + 5);
		if ((o = obj_find(live.objs, live.n_objs, other)))
			out[idx].drops = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
	}
	zwnft_live__free(&live);
	return 0;
}

/* One unsigned number from a /proc file; -errno when absent. */
static int proc_u64(const char *path, uint64_t *v)
{
	unsigned long long x;
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%llu", &x) == 1;
	fclose(f);
	if (!ok)
		return -EPROTO;
	*v = x;
	return 0;
}

/* Conntrack's early drops: the early_drop column of
 * /proc/net/stat/nf_conntrack, one line per CPU, in hex. */
static int conntrack_early_drops(uint64_t *v)
{
	char line[1024], *tok, *save;
	int col = -1, i;
	FILE *f = fopen("/proc/net/stat/nf_conntrack", "re");

	if (!f)
		return -errno;
	*v = 0;
	if (fgets(line, sizeof(line), f))
		for (i = 0, tok = strtok_r(line, " \t\n", &save); tok;
		     i++, tok = strtok_r(NULL, " \t\n", &save))
			if (!strcmp(tok, "early_drop"))
				col = i;
	while (col >= 0 && fgets(line, sizeof(line), f))
		for (i = 0, tok = strtok_r(line, " \t\n", &save); tok;
		     i++, tok = strtok_r(NULL, " \t\n", &save))
			if (i == col)
				*v += strtoull(tok, NULL, 16);
	fclose(f);
	return col >= 0 ? 0 : -EPROTO;
}

/* Drops by reason from the table's named counters (those the table has:
 * the kernel drops truncated or malformed packets, and reassembles
 * fragments, before nftables sees them), and conntrack's table, the one
 * the rules' ct state uses: of the daemon's network namespace, shared with
 * whatever else uses conntrack there. */
static int nft_stats(struct zw_backend *b, struct zw_engine_stats *out)
{
	struct nft_be *be = N(b);
	struct zwnft_live live;
	char err[256], n[ZWNFT_NAME_MAX];
	int ret;

	memset(out, 0, sizeof(*out));
	ret = zwnft_sock__read(be->sock, be->opts.table, ZWNFT_READ_OBJS, &live,
			       err, sizeof(err));
	if (ret)
		return ret;
	qsort(live.objs, live.n_objs, sizeof(live.objs[0]), obj_name_cmp);
	for (unsigned r = 1; r < ZW_DROP__COUNT; r++) {
		struct nftnl_obj *o = obj_find(live.objs, live.n_objs,
					       zwnft_name__drop(n, r));

		if (o) {
			out->drops[r] = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
			out->drop_counted[r] = true;
		}
	}
	zwnft_live__free(&live);
	if (!proc_u64("/proc/sys/net/netfilter/nf_conntrack_count",
		      &out->conn_used) &&
	    !proc_u64("/proc/sys/net/netfilter/nf_conntrack_max",
		      &out->conn_size))
		out->has_conns = true;
	else
		out->conn_used = out->conn_size = 0; /* conntrack not loaded */
	out->has_early_drops = conntrack_early_drops(&out->early_drops) == 0;
	if (!out->has_early_drops)
		out->early_drops = 0;
	{
		struct zwnft_rec_stats rs;

		zwnft_rec__stats(be->rec, &rs);
		/* messages the kernel dropped (at least one per overrun
		 * seen, where the drop count is not available) */
		out->has_records_lost = true;
		out->records_lost =
			(rs.ct_dropped > rs.ct_overruns ? rs.ct_dropped
							: rs.ct_overruns) +
			(rs.log_dropped > rs.log_overruns ? rs.log_dropped
							  : rs.log_overruns) +
			rs.queue_full + rs.dump_errors;
	}
	return 0;
}

/* The nft describer: the image's ruleset built once (text mode, every flow
 * as if live: what it turns into when enforced). */
struct nft_describer {
	struct zw_describer base;
	const struct zw_image *img;
	struct zwnft_ruleset *rs;
};

static char *nft_describe(struct zw_describer *d, uint32_t flow)
{
	struct nft_describer *nd = zw_container_of(d, struct nft_describer, base);

	return zwnft_ruleset__describe_flow(nd->rs, nd->img, flow);
}

static void nft_describer_free(struct zw_describer *d)
{
	struct nft_describer *nd;

	if (!d)
		return;
	nd = zw_container_of(d, struct nft_describer, base);
	zwnft_ruleset__free(nd->rs);
	free(nd);
}

static struct zw_describer *nft_describer(const struct zw_image *img)
{
	struct nft_describer *nd = calloc(1, sizeof(*nd));
	int ret;

	if (!nd)
		return NULL;
	nd->base.describe = nft_describe;
	nd->base.free = nft_describer_free;
	nd->img = img;
	ret = zwnft_ruleset__build_mode(img, INT32_MIN, NULL, ZWNFT_BUILD_TEXT,
					&nd->rs);
	if (ret) {
		free(nd);
		errno = -ret;
		return NULL;
	}
	return &nd->base;
}

/* Conntrack events, the table dump of the updates, NFLOG's denials
 * (nft_records.c). */
static int nft_records(struct zw_backend *b, zw_record_fn fn, void *ctx,
		       size_t max)
{
	struct nft_be *be = N(b);
	uint32_t at = b->rec.active_timeout_s ? b->rec.active_timeout_s
					      : ZW_ACTIVE_TIMEOUT_DEFAULT;

	return zwnft_rec__poll(be->rec, at, fn, ctx, max);
}

static void nft_close(struct zw_backend *b)
{
	struct nft_be *be;

	if (!b)
		return;
	be = N(b);
	zwnft_ticket__free(be->ticket);
	zwnft_watch__free(be->watch);
	zwnft_rec__free(be->rec);
	zwnft_sock__free(be->sock);
	free(be);
}

static int nft_watch_fd(struct zw_backend *b)
{
	return zwnft_watch__fd(N(b)->watch);
}

/* Notifications of transactions sent by another socket than the engine's
 * own (nft, another process, a script) about our table or a base chain. */
static int nft_check(struct zw_backend *b)
{
	struct nft_be *be = N(b);

	if (!be->watch)
		return -be->watch_err;
	return zwnft_watch__check(be->watch, zwnft_sock__portid(be->sock));
}

static int nft_destroy(struct zw_backend *b, char *err, size_t err_len)
{
	struct nft_be *be = N(b);
	struct zwnft_live live;
	struct zwnft_batch bt;
	int ret;

	ret = zwnft_mirror__destroy(be->opts.table, err, err_len);
	if (ret)
		return ret;
	ret = zwnft_sock__read(be->sock, be->opts.table, 0, &live, err,
			       err_len);
	if (ret)
		return ret;
	if (!live.table || !live.owned) {
		if (live.table)
			snprintf(err, err_len,
				 "table inet %s is not zonewall's: left alone",
				 be->opts.table);
		ret = live.table ? -EEXIST : 0;
		zwnft_live__free(&live);
		return ret;
	}
	ret = zwnft_batch__build_delete(&bt, be->opts.table, &live,
					zwnft_sock__seq(be->sock, 0));
	if (ret == 0) {
		zwnft_sock__seq(be->sock, (uint32_t)bt.n_msgs + 2);
		ret = zwnft_sock__send(be->sock, &bt, err, err_len);
	} else {
		snprintf(err, err_len, "building the delete batch: %s",
			 strerror(-ret));
	}
	zwnft_batch__fini(&bt);
	zwnft_live__free(&live);
	return ret;
}

const struct zw_backend_ops zw_backend_nft = {
	.name = "nft",
	.open = nft_open,
	.prepare = nft_prepare,
	.commit = nft_commit,
	.abort = nft_abort,
	.read_back = nft_read_back,
	.counters = nft_counters,
	.stats = nft_stats,
	.records = nft_records,
	.describer = nft_describer,
	.watch_fd = nft_watch_fd,
	.check = nft_check,
	.close = nft_close,
	.destroy = nft_destroy,
};
