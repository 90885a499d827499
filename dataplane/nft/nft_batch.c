// SPDX-License-Identifier: BSD-2-Clause
/*
 * The one netlink transaction that replaces the table's content. Pure: the
 * batch is bytes in memory; nft_netlink.c sends it.
 *
 * Why flush-and-refill rather than delete-and-recreate the table: the base
 * chain (the hook) and the table stay registered through every change, so
 * no packet ever meets a half-registered hook, and the named counters of
 * flows that stay in the policy keep counting across versions. Both are
 * equally atomic: the kernel applies the whole batch or none of it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "zwnft.h"

#define BATCH_PAGE (1u << 20)
#define BATCH_OVERRUN (64u << 10) /* > any one message (elements: 8 KiB) */

static int ref_add(struct zwnft_batch *bt, uint32_t seq, uint16_t type,
		   const char *what)
{
	if (bt->n_refs == bt->cap_refs) {
		size_t cap = bt->cap_refs ? bt->cap_refs * 2 : 256;
		struct zwnft_msgref *v = realloc(bt->refs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		bt->refs = v;
		bt->cap_refs = cap;
	}
	bt->refs[bt->n_refs].seq = seq;
	bt->refs[bt->n_refs].type = type;
	bt->refs[bt->n_refs].what = what;
	bt->n_refs++;
	return 0;
}

struct ctx {
	struct zwnft_batch *bt;
	uint32_t seq;
	struct nlmsghdr *last;
	int err;
};

/*
 * nftnl_batch_update(), with every new page of the batch zeroed: libnftnl
 * mallocs its pages and Debian 12's libmnl does not zero an attribute's
 * alignment padding, so without this a few bytes of our heap went to the
 * kernel in each message (found with valgrind: harmless to the kernel,
 * which skips padding, but batches must be byte-for-byte reproducible).
 */
static int batch_update(struct nftnl_batch *b)
{
	int pages = nftnl_batch_iovec_len(b);

	if (nftnl_batch_update(b) < 0)
		return -1;
	/* a new page holds the message that did not fit, copied to its
	 * start; zero what follows it */
	if (nftnl_batch_iovec_len(b) != pages)
		memset(nftnl_batch_buffer(b), 0,
		       BATCH_PAGE + BATCH_OVERRUN -
			       (size_t)nftnl_batch_buffer_len(b));
	return 0;
}

static struct nlmsghdr *hdr(struct ctx *c, uint16_t type, uint16_t flags,
			    const char *what)
{
	struct nlmsghdr *nlh;

	if (c->err)
		return NULL;
	nlh = nftnl_nlmsg_build_hdr(nftnl_batch_buffer(c->bt->b), type,
				    NFPROTO_INET, flags, c->seq);
	if (ref_add(c->bt, c->seq, type, what)) {
		c->err = -ENOMEM;
		return NULL;
	}
	c->seq++;
	return nlh;
}

static void next(struct ctx *c, struct nlmsghdr *nlh)
{
	if (c->err || !nlh)
		return;
	c->last = nlh;
	c->bt->n_msgs++;
	c->bt->bytes += nlh->nlmsg_len;
	if (batch_update(c->bt->b) < 0)
		c->err = -ENOMEM;
}

struct rule_build {
	struct nlmsghdr *nlh;
};

static int rule_expr_build(struct nftnl_expr *e, void *data)
{
	struct nlmsghdr *nlh = data;
	struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

	if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "objref") == 0 &&
	    nftnl_expr_is_set(e, NFTNL_EXPR_OBJREF_IMM_NAME)) {
		/* libnftnl 1.2.4 writes this name without its NUL, which
		 * the kernel accepts but no parser reading it back does:
		 * write it whole. */
		struct nlattr *d;

		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "objref");
		d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
		mnl_attr_put_u32(nlh, NFTA_OBJREF_IMM_TYPE,
				 htonl(nftnl_expr_get_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE)));
		mnl_attr_put_strz(nlh, NFTA_OBJREF_IMM_NAME,
				  nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME));
		mnl_attr_nest_end(nlh, d);
	} else {
		nftnl_expr_build_payload(nlh, e);
	}
	mnl_attr_nest_end(nlh, elem);
	return 0;
}

/* nftnl_rule_nlmsg_build_payload() for the attributes our rules use. */
static void rule_build_payload(struct nlmsghdr *nlh, struct nftnl_rule *r)
{
	struct nlattr *list;
	uint32_t ulen = 0;
	const void *ud;

	if (nftnl_rule_is_set(r, NFTNL_RULE_TABLE))
		mnl_attr_put_strz(nlh, NFTA_RULE_TABLE,
				  nftnl_rule_get_str(r, NFTNL_RULE_TABLE));
	if (nftnl_rule_is_set(r, NFTNL_RULE_CHAIN))
		mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN,
				  nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
	if (ud && ulen)
		mnl_attr_put(nlh, NFTA_RULE_USERDATA, ulen, ud);
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	nftnl_expr_foreach(r, rule_expr_build, nlh);
	mnl_attr_nest_end(nlh, list);
}

static void msg_rule(struct ctx *c, uint16_t type, uint16_t flags,
		     struct nftnl_rule *r, const char *what)
{
	struct nlmsghdr *nlh = hdr(c, type, flags, what);

	if (!nlh)
		return;
	if (type == NFT_MSG_NEWRULE)
		rule_build_payload(nlh, r);
	else
		nftnl_rule_nlmsg_build_payload(nlh, r);
	next(c, nlh);
}

static void msg_chain(struct ctx *c, uint16_t type, uint16_t flags,
		      struct nftnl_chain *ch, const char *what)
{
	struct nlmsghdr *nlh = hdr(c, type, flags, what);

	if (!nlh)
		return;
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	next(c, nlh);
}

static void msg_set(struct ctx *c, uint16_t type, uint16_t flags,
		    struct nftnl_set *s, const char *what)
{
	struct nlmsghdr *nlh = hdr(c, type, flags, what);

	if (!nlh)
		return;
	nftnl_set_nlmsg_build_payload(nlh, s);
	next(c, nlh);
}

static void msg_obj(struct ctx *c, uint16_t type, uint16_t flags,
		    struct nftnl_obj *o, const char *what)
{
	struct nlmsghdr *nlh = hdr(c, type, flags, what);

	if (!nlh)
		return;
	nftnl_obj_nlmsg_build_payload(nlh, o);
	next(c, nlh);
}

/* libnftnl numbers the elements of a list 1, 2, 3... where the kernel
 * (which ignores the type) dumps NFTA_LIST_ELEM for each: use the
 * kernel's form so every parser reads our messages back. */
static void elems_list_types(struct nlmsghdr *nlh)
{
	struct nlattr *a, *e;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a)
			e->nla_type = (uint16_t)((e->nla_type & NLA_F_NESTED) |
						 NFTA_LIST_ELEM);
	}
}

/* Elements, in as many NEWSETELEM messages as they need. */
static void msg_elems(struct ctx *c, struct nftnl_set *s, const char *what)
{
	struct nftnl_set_elems_iter *it;

	if (c->err)
		return;
	it = nftnl_set_elems_iter_create(s);
	if (!it) {
		c->err = -ENOMEM;
		return;
	}
	while (!c->err && nftnl_set_elems_iter_cur(it)) {
		struct nlmsghdr *nlh = hdr(c, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
					   what);
		int ret;

		if (!nlh)
			break;
		ret = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
		elems_list_types(nlh);
		next(c, nlh);
		if (ret <= 0)
			break;
	}
	nftnl_set_elems_iter_destroy(it);
}

static void msg_del_obj(struct ctx *c, const char *table, const char *name,
			uint32_t type)
{
	struct nftnl_obj *d = nftnl_obj_alloc();
	struct nlmsghdr *nlh;

	if (!d) {
		c->err = -ENOMEM;
		return;
	}
	nftnl_obj_set_str(d, NFTNL_OBJ_TABLE, table);
	nftnl_obj_set_str(d, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(d, NFTNL_OBJ_TYPE, type);
	nftnl_obj_set_u32(d, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	/* the name must outlive the batch for error reports: "counter" */
	nlh = hdr(c, NFT_MSG_DELOBJ, 0, "of a flow leaving the policy");
	if (nlh) {
		nftnl_obj_nlmsg_build_payload(nlh, d);
		next(c, nlh);
	}
	nftnl_obj_free(d);
}

static void msg_new_obj(struct ctx *c, const char *table, const char *name,
			uint32_t type)
{
	struct nftnl_obj *d = nftnl_obj_alloc();

	if (!d) {
		c->err = -ENOMEM;
		return;
	}
	nftnl_obj_set_str(d, NFTNL_OBJ_TABLE, table);
	nftnl_obj_set_str(d, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(d, NFTNL_OBJ_TYPE, type);
	nftnl_obj_set_u32(d, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	msg_obj(c, NFT_MSG_NEWOBJ, NLM_F_CREATE, d, "of a flow leaving the policy");
	nftnl_obj_free(d);
}

static int batch_begin(struct zwnft_batch *bt, struct ctx *c,
		       const struct zwnft_live *live, uint32_t seq)
{
	struct nlmsghdr *nlh;

	memset(bt, 0, sizeof(*bt));
	bt->b = nftnl_batch_alloc(BATCH_PAGE, BATCH_OVERRUN);
	if (!bt->b)
		return -ENOMEM;
	memset(nftnl_batch_buffer(bt->b), 0, BATCH_PAGE + BATCH_OVERRUN);
	memset(c, 0, sizeof(*c));
	c->bt = bt;
	c->seq = seq;
	bt->seq_begin = seq;
	nlh = nftnl_batch_begin(nftnl_batch_buffer(bt->b), c->seq++);
	/* The kernel refuses the batch (ERESTART) if the ruleset changed
	 * after we read it: no lost update, no half-informed flush. */
	if (live && live->genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(live->genid));
	bt->bytes += nlh->nlmsg_len;
	if (batch_update(bt->b) < 0)
		return -ENOMEM;
	return 0;
}

static int batch_end(struct ctx *c)
{
	struct nlmsghdr *nlh;

	if (c->err)
		return c->err;
	if (!c->last)
		return -EINVAL;
	/* One ack, on the last message: the kernel answers the whole batch
	 * synchronously, errors first, so this ack closes the exchange
	 * without one ack per message filling the socket. */
	c->last->nlmsg_flags |= NLM_F_ACK;
	c->bt->seq_last = c->last->nlmsg_seq;
	nlh = nftnl_batch_end(nftnl_batch_buffer(c->bt->b), c->seq++);
	c->bt->bytes += nlh->nlmsg_len;
	c->bt->end_len = NLMSG_ALIGN(nlh->nlmsg_len);
	if (batch_update(c->bt->b) < 0)
		return -ENOMEM;
	return 0;
}

static bool base_chain_matches(const struct nftnl_chain *live,
			       const struct nftnl_chain *want)
{
	char *a = zwnft_canon_chain(live), *b = zwnft_canon_chain(want);
	bool eq = a && b && strcmp(a, b) == 0;

	free(a);
	free(b);
	return eq;
}

/* Objects by (name, type), sorted, for lookups in both directions: a
 * linear search per object makes a 100 000-flow re-apply quadratic. */
struct objkey {
	const char *name;
	uint32_t type;
};

static int objkey_cmp(const void *a, const void *b)
{
	const struct objkey *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->type > y->type) - (x->type < y->type);
}

static struct objkey *objkeys_of_live(const struct zwnft_live *l)
{
	struct objkey *k = calloc(l->n_objs + 1, sizeof(*k));

	if (!k)
		return NULL;
	for (size_t i = 0; i < l->n_objs; i++) {
		k[i].name = nftnl_obj_get_str(l->objs[i], NFTNL_OBJ_NAME);
		k[i].type = nftnl_obj_get_u32(l->objs[i], NFTNL_OBJ_TYPE);
	}
	qsort(k, l->n_objs, sizeof(*k), objkey_cmp);
	return k;
}

static struct objkey *objkeys_of_rs(const struct zwnft_ruleset *rs)
{
	size_t n = rs->n[ZWNFT_OBJ];
	struct objkey *k = calloc(n + 1, sizeof(*k));

	if (!k)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		k[i].name = rs->v[ZWNFT_OBJ][i].name;
		k[i].type = nftnl_obj_get_u32(rs->v[ZWNFT_OBJ][i].obj, NFTNL_OBJ_TYPE);
	}
	qsort(k, n, sizeof(*k), objkey_cmp);
	return k;
}

static bool objkey_in(const struct objkey *v, size_t n, const char *name,
		      uint32_t type)
{
	struct objkey k = {name, type};

	return v && bsearch(&k, v, n, sizeof(*v), objkey_cmp) != NULL;
}

/* The live table has flow @id's rate set (and so its drop_ counter). */
static bool live_has_rate_set(const struct zwnft_live *l, const char *id)
{
	char n[ZWNFT_NAME_MAX + 8];

	snprintf(n, sizeof(n), "rate4_%s", id);
	for (size_t i = 0; i < l->n_sets; i++)
		if (strcmp(nftnl_set_get_str(l->sets[i], NFTNL_SET_NAME), n) == 0)
			return true;
	return false;
}

static const struct zwnft_item *find_base(const struct zwnft_ruleset *rs)
{
	for (size_t i = 0; i < rs->n[ZWNFT_CHAIN]; i++)
		if (strcmp(rs->v[ZWNFT_CHAIN][i].name, ZWNFT_BASE_CHAIN) == 0)
			return &rs->v[ZWNFT_CHAIN][i];
	return NULL;
}

int zwnft_batch__build(struct zwnft_batch *bt, const struct zwnft_ruleset *rs,
		       const struct zwnft_live *live, uint32_t seq)
{
	const struct nftnl_chain *base_live = NULL;
	const struct zwnft_item *base = find_base(rs);
	struct objkey *want = NULL, *have = NULL;
	const char *table = rs->opts.table;
	bool have_table = live && live->table;
	bool keep_base = false;
	struct ctx c;
	int ret;

	if ((ret = batch_begin(bt, &c, live, seq)))
		return ret;

	/* missing, or switched to dormant (not filtering) by hand: (re)state
	 * the table with flags 0 */
	if (!have_table ||
	    (nftnl_table_is_set(live->table, NFTNL_TABLE_FLAGS) &&
	     nftnl_table_get_u32(live->table, NFTNL_TABLE_FLAGS) != 0)) {
		struct nlmsghdr *nlh = hdr(&c, NFT_MSG_NEWTABLE, NLM_F_CREATE,
					   table);

		if (nlh) {
			nftnl_table_nlmsg_build_payload(nlh, rs->table);
			next(&c, nlh);
		}
	}
	if (have_table) {
		for (size_t i = 0; i < live->n_chains; i++)
			if (strcmp(nftnl_chain_get_str(live->chains[i],
						       NFTNL_CHAIN_NAME),
				   ZWNFT_BASE_CHAIN) == 0)
				base_live = live->chains[i];
		keep_base = base_live && base &&
			    base_chain_matches(base_live, base->chain);

		/* 1. every rule of the table */
		struct nftnl_rule *flush = nftnl_rule_alloc();

		if (!flush)
			return -ENOMEM;
		nftnl_rule_set_str(flush, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_u32(flush, NFTNL_RULE_FAMILY, NFPROTO_INET);
		msg_rule(&c, NFT_MSG_DELRULE, 0, flush, table);
		nftnl_rule_free(flush);

		/* 2. every named set (anonymous ones went with the rules) */
		for (size_t i = 0; i < live->n_sets; i++) {
			struct nftnl_set *s = live->sets[i];
			struct nftnl_set *d;

			if (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) &
			    NFT_SET_ANONYMOUS)
				continue;
			d = nftnl_set_alloc();
			if (!d)
				return -ENOMEM;
			nftnl_set_set_str(d, NFTNL_SET_TABLE, table);
			nftnl_set_set_str(d, NFTNL_SET_NAME,
					  nftnl_set_get_str(s, NFTNL_SET_NAME));
			nftnl_set_set_u32(d, NFTNL_SET_FAMILY, NFPROTO_INET);
			msg_set(&c, NFT_MSG_DELSET, 0, d,
				nftnl_set_get_str(s, NFTNL_SET_NAME));
			nftnl_set_free(d);
		}

		/* 3. every chain but a base chain we keep */
		for (size_t i = 0; i < live->n_chains; i++) {
			struct nftnl_chain *ch = live->chains[i], *d;

			if (keep_base && ch == base_live)
				continue;
			d = nftnl_chain_alloc();
			if (!d)
				return -ENOMEM;
			nftnl_chain_set_str(d, NFTNL_CHAIN_TABLE, table);
			nftnl_chain_set_str(d, NFTNL_CHAIN_NAME,
					    nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME));
			nftnl_chain_set_u32(d, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
			msg_chain(&c, NFT_MSG_DELCHAIN, 0, d,
				  nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME));
			nftnl_chain_free(d);
		}

		/* 4. objects no longer wanted (kept ones keep counting) */
		want = objkeys_of_rs(rs);
		have = objkeys_of_live(live);
		if (!want || !have) {
			free(want);
			free(have);
			return -ENOMEM;
		}
		if (!live->objs_read) {
			/* Objects not read (reading 200 000 counters costs the
			 * kernel seconds): those of flows leaving the policy
			 * are named after their flow chains, which we read;
			 * a flow has a drop_ counter when it has a rate set. */
			for (size_t i = 0; i < live->n_chains; i++) {
				const char *cn = nftnl_chain_get_str(live->chains[i],
								     NFTNL_CHAIN_NAME);
				char on[ZWNFT_NAME_MAX + 8];

				if (strncmp(cn, "flow_", 5) != 0)
					continue;
				for (int k = 0; k < 3; k++) {
					static const char *const pre[] = {
						"flow_", "new_", "drop_"};

					snprintf(on, sizeof(on), "%s%s", pre[k],
						 cn + 5);
					if (objkey_in(want, rs->n[ZWNFT_OBJ], on,
						      NFT_OBJECT_COUNTER))
						continue;
					if (k == 2 && !live_has_rate_set(live, cn + 5))
						continue;
					/* a table made before drop_ counters
					 * has none: declare it (a no-op if it
					 * exists) so the delete cannot fail */
					if (k == 2)
						msg_new_obj(&c, table, on,
							    NFT_OBJECT_COUNTER);
					msg_del_obj(&c, table, on, NFT_OBJECT_COUNTER);
				}
			}
		}
		for (size_t i = 0; i < live->n_objs; i++) {
			struct nftnl_obj *o = live->objs[i], *d;
			const char *name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME);

			if (objkey_in(want, rs->n[ZWNFT_OBJ], name,
				      nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE)))
				continue;
			d = nftnl_obj_alloc();
			if (!d) {
				free(want);
				free(have);
				return -ENOMEM;
			}
			nftnl_obj_set_str(d, NFTNL_OBJ_TABLE, table);
			nftnl_obj_set_str(d, NFTNL_OBJ_NAME, name);
			nftnl_obj_set_u32(d, NFTNL_OBJ_TYPE,
					  nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE));
			nftnl_obj_set_u32(d, NFTNL_OBJ_FAMILY, NFPROTO_INET);
			msg_obj(&c, NFT_MSG_DELOBJ, 0, d, name);
			nftnl_obj_free(d);
		}
	}

	/* objects we do not have yet */
	for (size_t i = 0; i < rs->n[ZWNFT_OBJ]; i++) {
		const struct zwnft_item *w = &rs->v[ZWNFT_OBJ][i];

		/* without NLM_F_EXCL, adding a counter that exists changes
		 * nothing (its values stay): when the objects were not read,
		 * declare every one */
		if (!have_table || !live->objs_read ||
		    !objkey_in(have, live->n_objs, w->name,
			       nftnl_obj_get_u32(w->obj, NFTNL_OBJ_TYPE)))
			msg_obj(&c, NFT_MSG_NEWOBJ, NLM_F_CREATE, w->obj, w->name);
	}
	free(want);
	free(have);
	/* chains (jump targets before the rules and maps naming them) */
	for (size_t i = 0; i < rs->n[ZWNFT_CHAIN]; i++) {
		const struct zwnft_item *w = &rs->v[ZWNFT_CHAIN][i];

		if (keep_base && w == base)
			continue;
		msg_chain(&c, NFT_MSG_NEWCHAIN, NLM_F_CREATE, w->chain, w->name);
	}
	/* sets and their elements */
	for (size_t i = 0; i < rs->n[ZWNFT_SET]; i++) {
		const struct zwnft_item *w = &rs->v[ZWNFT_SET][i];

		msg_set(&c, NFT_MSG_NEWSET, NLM_F_CREATE, w->set, w->name);
		msg_elems(&c, w->set, w->name);
	}
	/* rules, in chain order */
	for (size_t i = 0; i < rs->n[ZWNFT_RULE]; i++) {
		const struct zwnft_item *w = &rs->v[ZWNFT_RULE][i];

		msg_rule(&c, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
			 w->rule, w->name);
	}
	if (rs->opts.inject_failure) {
		/* a rule in a chain that does not exist: ENOENT */
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (!r)
			return -ENOMEM;
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "zw_injected_failure");
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
		msg_rule(&c, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, r,
			 "injected failure (test)");
		nftnl_rule_free(r);
	}
	if (!c.err && rs->mirror)
		c.err = zwnft_mirror__emit(rs->mirror, bt, &c.seq, &c.last);
	return batch_end(&c);
}

int zwnft_batch__build_delete(struct zwnft_batch *bt, const char *table,
			      const struct zwnft_live *live, uint32_t seq)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	struct ctx c;
	int ret;

	if ((ret = batch_begin(bt, &c, live, seq)))
		return ret;
	t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = hdr(&c, NFT_MSG_DELTABLE, 0, table);
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		next(&c, nlh);
	}
	nftnl_table_free(t);
	return batch_end(&c);
}

int zwnft_batch__iovec(const struct zwnft_batch *bt, bool check,
		       struct iovec **iov, size_t *n)
{
	int n_iov = nftnl_batch_iovec_len(bt->b);
	size_t cut = check ? bt->end_len : 0;
	struct iovec *v;

	*iov = NULL;
	*n = 0;
	if (n_iov <= 0)
		return -EINVAL;
	v = calloc((size_t)n_iov, sizeof(*v));
	if (!v)
		return -ENOMEM;
	nftnl_batch_iovec(bt->b, v, (uint32_t)n_iov);
	/* The end message is the last bytes of the batch (possibly alone in
	 * the last page): a check sends everything before it. */
	for (int i = n_iov - 1; i >= 0 && cut; i--) {
		size_t k = v[i].iov_len < cut ? v[i].iov_len : cut;

		v[i].iov_len -= k;
		cut -= k;
	}
	*iov = v;
	*n = (size_t)n_iov;
	return 0;
}

void zwnft_batch__fini(struct zwnft_batch *bt)
{
	if (bt->b)
		nftnl_batch_free(bt->b);
	free(bt->refs);
	memset(bt, 0, sizeof(*bt));
}
