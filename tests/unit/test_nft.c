// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests of the nftables engine, without a kernel (libnftnl tests/
 * style: build -> netlink bytes -> parse back -> compare):
 *  - every message of the batch built from an image parses back into the
 *    object the ruleset holds (canonical forms equal), in a valid order;
 *  - golden bytecode for a small matrix (the exact expressions);
 *  - every jump/goto target, set and counter a rule names exists;
 *  - a small nftables interpreter runs the parsed-back ruleset on packets
 *    (new connections, replies, bare ACKs) and must agree with the
 *    reference evaluator on every query (generated matrices, both
 *    families, narrowing, expiry, the crisis block list);
 *  - the re-apply batch (flush and refill against a live table) deletes
 *    and keeps what it must and carries the generation id;
 *  - drift detection finds a rule, an element, a chain, a counter changed;
 *  - describe_flow shows each flow's rules;
 *  - the check form of a batch (prepare) is the batch without its end;
 *  - read-back in matrix terms: decoding the parsed-back table gives the
 *    image's live rules (generated matrices), a rule added by hand shows
 *    up with no flow, foreign base chains are listed;
 *  - option parsing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <CUnit/Basic.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <zonewall/l7.h>
#include <zonewall/backend.h>
#include <zonewall/eval.h>
#include <zonewall/l7.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "gen.h"
#include "zwnft.h"

static int32_t today;

/* ------------------------------------------------------------------ */
/* matrices and images */

static struct zw_image *image_of(const char *yaml,
				 const struct zw_compile_opts *co)
{
	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *b = NULL;
	size_t len = 0;
	char err[256];
	struct zw_image *img = NULL;

	zw_diags__init(&d, "t.yaml");
	m = zw_matrix__parse(yaml, strlen(yaml), "t.yaml", &d);
	if (m)
		zw_matrix__validate(m, today, &d);
	if (!m || d.n_errors) {
		zw_diags__print_text(&d, stderr);
		goto out;
	}
	if (zw_policy__compile_opts(m, co, &b, &len))
		goto out;
	img = zw_image__open(b, len, err, sizeof(err));
	if (!img)
		fprintf(stderr, "image: %s\n", err);
out:
	free(b);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	return img;
}

static char *read_file(const char *rel)
{
	const char *src = getenv("ZONEWALL_SRCDIR");
	char path[1024];
	FILE *f;
	long n;
	char *s;

	snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static const char small_yaml[] =
	"zonewall: 1\n"
	"name: small\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.1.0.0/24, \"fd00:1::/64\"], isolate: true}\n"
	"  jump: {kind: servers, networks: [10.2.0.0/24, \"fd00:2::/64\"]}\n"
	"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
	"  upd: {kind: update, networks: [10.4.0.0/24]}\n"
	"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
	"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
	"services:\n"
	"  hi: {proto: tcp, ports: [\"8000-8010\"]}\n"
	"flows:\n"
	"  - id: F-1\n"
	"    from: ops\n"
	"    to: jump\n"
	"    services: [ssh, icmp-echo]\n"
	"    justification: admins\n"
	"  - id: F-2\n"
	"    from: jump\n"
	"    to: adm\n"
	"    dst: [10.3.0.5, 10.3.0.8/30]\n"
	"    services: [hi]\n"
	"    rate: 5/s\n"
	"    log: true\n"
	"    justification: tools\n"
	"  - id: F-3\n"
	"    from: vpn\n"
	"    to: jump\n"
	"    services: [ssh]\n"
	"    expires: 2020-01-01\n"
	"    justification: old\n";

/* ------------------------------------------------------------------ */
/* the batch as parsed objects */

struct parsed {
	struct nftnl_table *table;
	struct nftnl_chain **chains;
	size_t n_chains;
	struct nftnl_set **sets;
	size_t n_sets;
	struct nftnl_obj **objs;
	size_t n_objs;
	struct nftnl_rule **rules;
	size_t n_rules;
	/* deletions of a re-apply batch, by type */
	size_t n_del[NFT_MSG_MAX];
	char **del_names;
	uint16_t *del_types;
	size_t n_dels;
	size_t n_new[NFT_MSG_MAX];
	uint32_t genid; /* batch begin attribute, 0 if none */
	bool begin, end, ack_last;
	int order_errors;
};

static void *grow(void *v, size_t n, size_t sz)
{
	return realloc(v, (n + 1) * sz);
}

static struct nftnl_set *find_set(struct parsed *p, const char *name)
{
	for (size_t i = 0; i < p->n_sets; i++)
		if (!strcmp(nftnl_set_get_str(p->sets[i], NFTNL_SET_NAME), name))
			return p->sets[i];
	return NULL;
}

static void parsed_free(struct parsed *p)
{
	if (p->table)
		nftnl_table_free(p->table);
	for (size_t i = 0; i < p->n_chains; i++)
		nftnl_chain_free(p->chains[i]);
	for (size_t i = 0; i < p->n_sets; i++)
		nftnl_set_free(p->sets[i]);
	for (size_t i = 0; i < p->n_objs; i++)
		nftnl_obj_free(p->objs[i]);
	for (size_t i = 0; i < p->n_rules; i++)
		nftnl_rule_free(p->rules[i]);
	for (size_t i = 0; i < p->n_dels; i++)
		free(p->del_names[i]);
	free(p->chains);
	free(p->sets);
	free(p->objs);
	free(p->rules);
	free(p->del_names);
	free(p->del_types);
	memset(p, 0, sizeof(*p));
}

static void add_del(struct parsed *p, uint16_t type, const char *name)
{
	p->del_names = grow(p->del_names, p->n_dels, sizeof(char *));
	p->del_types = grow(p->del_types, p->n_dels, sizeof(uint16_t));
	p->del_names[p->n_dels] = strdup(name ? name : "");
	p->del_types[p->n_dels] = type;
	p->n_dels++;
	p->n_del[type]++;
}

/* Walk every netlink message of the batch and parse it with libnftnl. */
static void parse_batch(struct zwnft_batch *bt, struct parsed *p)
{
	int n_iov = nftnl_batch_iovec_len(bt->b);
	struct iovec *iov = calloc((size_t)n_iov, sizeof(*iov));
	size_t total = 0, off = 0;
	char *buf;
	uint32_t last_seq = 0;
	int phase = 0; /* 0 deletes, 1 objects, 2 chains, 3 sets, 4 rules */

	memset(p, 0, sizeof(*p));
	nftnl_batch_iovec(bt->b, iov, (uint32_t)n_iov);
	for (int i = 0; i < n_iov; i++)
		total += iov[i].iov_len;
	buf = malloc(total);
	for (int i = 0; i < n_iov; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	free(iov);
	CU_ASSERT_EQUAL(total, bt->bytes);

	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int len = (int)total;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
			struct nlattr *a;

			p->begin = true;
			mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
				if (mnl_attr_get_type(a) == NFNL_BATCH_GENID)
					p->genid = ntohl(mnl_attr_get_u32(a));
			continue;
		}
		if (nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
			p->end = true;
			p->ack_last = last_seq == bt->seq_last;
			continue;
		}
		CU_ASSERT_EQUAL(NFNL_SUBSYS_ID(nlh->nlmsg_type), NFNL_SUBSYS_NFTABLES);
		CU_ASSERT_FALSE(p->end);
		if (nlh->nlmsg_flags & NLM_F_ACK)
			last_seq = nlh->nlmsg_seq;
		int want_phase = -1;

		switch (type) {
		case NFT_MSG_NEWTABLE: {
			struct nftnl_table *t = nftnl_table_alloc();

			CU_ASSERT_EQUAL(nftnl_table_nlmsg_parse(nlh, t), 0);
			p->table = t;
			want_phase = 0;
			break;
		}
		case NFT_MSG_NEWCHAIN: {
			struct nftnl_chain *c = nftnl_chain_alloc();

			CU_ASSERT_EQUAL(nftnl_chain_nlmsg_parse(nlh, c), 0);
			p->chains = grow(p->chains, p->n_chains, sizeof(void *));
			p->chains[p->n_chains++] = c;
			want_phase = 2;
			break;
		}
		case NFT_MSG_NEWSET: {
			struct nftnl_set *s = nftnl_set_alloc();

			CU_ASSERT_EQUAL(nftnl_set_nlmsg_parse(nlh, s), 0);
			p->sets = grow(p->sets, p->n_sets, sizeof(void *));
			p->sets[p->n_sets++] = s;
			want_phase = 3;
			break;
		}
		case NFT_MSG_NEWSETELEM: {
			struct nftnl_set *tmp = nftnl_set_alloc(), *s;

			CU_ASSERT_EQUAL(nftnl_set_elems_nlmsg_parse(nlh, tmp), 0);
			s = find_set(p, nftnl_set_get_str(tmp, NFTNL_SET_NAME));
			CU_ASSERT_PTR_NOT_NULL(s); /* elements after their set */
			if (s) /* again, into the set itself */
				CU_ASSERT_EQUAL(nftnl_set_elems_nlmsg_parse(nlh, s), 0);
			nftnl_set_free(tmp);
			want_phase = 3;
			break;
		}
		case NFT_MSG_NEWOBJ: {
			struct nftnl_obj *o = nftnl_obj_alloc();

			CU_ASSERT_EQUAL(nftnl_obj_nlmsg_parse(nlh, o), 0);
			p->objs = grow(p->objs, p->n_objs, sizeof(void *));
			p->objs[p->n_objs++] = o;
			want_phase = 1;
			break;
		}
		case NFT_MSG_NEWRULE: {
			struct nftnl_rule *r = nftnl_rule_alloc();

			CU_ASSERT_EQUAL(nftnl_rule_nlmsg_parse(nlh, r), 0);
			CU_ASSERT(nlh->nlmsg_flags & NLM_F_APPEND);
			p->rules = grow(p->rules, p->n_rules, sizeof(void *));
			p->rules[p->n_rules++] = r;
			want_phase = 4;
			break;
		}
		case NFT_MSG_DELRULE: {
			struct nftnl_rule *r = nftnl_rule_alloc();

			nftnl_rule_nlmsg_parse(nlh, r);
			/* the flush: table only, no chain, no handle */
			CU_ASSERT_FALSE(nftnl_rule_is_set(r, NFTNL_RULE_CHAIN));
			CU_ASSERT_FALSE(nftnl_rule_is_set(r, NFTNL_RULE_HANDLE));
			add_del(p, type, nftnl_rule_get_str(r, NFTNL_RULE_TABLE));
			nftnl_rule_free(r);
			want_phase = 0;
			break;
		}
		case NFT_MSG_DELSET: {
			struct nftnl_set *s = nftnl_set_alloc();

			nftnl_set_nlmsg_parse(nlh, s);
			add_del(p, type, nftnl_set_get_str(s, NFTNL_SET_NAME));
			nftnl_set_free(s);
			want_phase = 0;
			break;
		}
		case NFT_MSG_DELCHAIN: {
			struct nftnl_chain *c = nftnl_chain_alloc();

			nftnl_chain_nlmsg_parse(nlh, c);
			add_del(p, type, nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
			nftnl_chain_free(c);
			want_phase = 0;
			break;
		}
		case NFT_MSG_DELOBJ: {
			struct nftnl_obj *o = nftnl_obj_alloc();

			nftnl_obj_nlmsg_parse(nlh, o);
			add_del(p, type, nftnl_obj_get_str(o, NFTNL_OBJ_NAME));
			nftnl_obj_free(o);
			want_phase = 0;
			break;
		}
		default:
			CU_FAIL("unexpected message type in the batch");
		}
		if (type < NFT_MSG_MAX)
			p->n_new[type]++;
		if (want_phase < phase)
			p->order_errors++;
		else
			phase = want_phase;
	}
	CU_ASSERT_EQUAL(len, 0);
	free(buf);
}

/* Every parsed object equals the ruleset's, in order. */
static void check_round_trip(const struct zwnft_ruleset *rs, struct parsed *p,
			     bool fresh)
{
	size_t base_skip = fresh ? 0 : 1;

	CU_ASSERT(p->begin && p->end && p->ack_last);
	CU_ASSERT_EQUAL(p->order_errors, 0);
	CU_ASSERT_EQUAL(p->n_rules, rs->n[ZWNFT_RULE]);
	for (size_t i = 0; i < p->n_rules && i < rs->n[ZWNFT_RULE]; i++) {
		char *a = zwnft_canon_rule(rs->v[ZWNFT_RULE][i].rule);
		char *b = zwnft_canon_rule(p->rules[i]);

		CU_ASSERT_STRING_EQUAL(a, b);
		free(a);
		free(b);
	}
	if (fresh)
		CU_ASSERT_EQUAL(p->n_chains, rs->n[ZWNFT_CHAIN]);
	for (size_t i = 0; i < p->n_chains; i++) {
		char *a = zwnft_canon_chain(rs->v[ZWNFT_CHAIN][i + base_skip].chain);
		char *b = zwnft_canon_chain(p->chains[i]);

		CU_ASSERT_STRING_EQUAL(a, b);
		free(a);
		free(b);
	}
	CU_ASSERT_EQUAL(p->n_sets, rs->n[ZWNFT_SET]);
	for (size_t i = 0; i < p->n_sets && i < rs->n[ZWNFT_SET]; i++) {
		char *a = zwnft_canon_set(rs->v[ZWNFT_SET][i].set);
		char *b = zwnft_canon_set(p->sets[i]);
		size_t na = 0, nb = 0;
		char **ea = zwnft_canon_elems(rs->v[ZWNFT_SET][i].set, &na);
		char **eb = zwnft_canon_elems(p->sets[i], &nb);

		CU_ASSERT_STRING_EQUAL(a, b);
		CU_ASSERT_EQUAL(na, nb);
		for (size_t k = 0; k < na && k < nb; k++)
			CU_ASSERT_STRING_EQUAL(ea[k], eb[k]);
		zwnft_strv_free(ea, na);
		zwnft_strv_free(eb, nb);
		free(a);
		free(b);
	}
	if (fresh) {
		CU_ASSERT_EQUAL(p->n_objs, rs->n[ZWNFT_OBJ]);
		CU_ASSERT_PTR_NOT_NULL(p->table);
	}
}

/* Every name a rule or a map element uses exists. */
static bool has_chain(struct parsed *p, const struct zwnft_ruleset *rs,
		      const char *n)
{
	for (size_t i = 0; i < rs->n[ZWNFT_CHAIN]; i++)
		if (!strcmp(rs->v[ZWNFT_CHAIN][i].name, n))
			return true;
	(void)p;
	return false;
}

static int check_ref_expr(struct nftnl_expr *e, void *data)
{
	void **ctx = data;
	struct parsed *p = ctx[0];
	const struct zwnft_ruleset *rs = ctx[1];
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!strcmp(name, "lookup"))
		CU_ASSERT_PTR_NOT_NULL(find_set(p, nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET)));
	if (!strcmp(name, "dynset"))
		CU_ASSERT_PTR_NOT_NULL(find_set(p, nftnl_expr_get_str(e, NFTNL_EXPR_DYNSET_SET_NAME)));
	if (!strcmp(name, "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
		CU_ASSERT(has_chain(p, rs, nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN)));
	if (!strcmp(name, "objref")) {
		const char *o = nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME);
		bool found = false;

		for (size_t i = 0; i < rs->n[ZWNFT_OBJ]; i++)
			found |= !strcmp(rs->v[ZWNFT_OBJ][i].name, o);
		CU_ASSERT(found);
	}
	return 0;
}

static int check_ref_elem(struct nftnl_set_elem *e, void *data)
{
	void **ctx = data;

	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
		CU_ASSERT(has_chain(ctx[0], ctx[1],
				    nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN)));
	return 0;
}

static void check_references(const struct zwnft_ruleset *rs, struct parsed *p)
{
	void *ctx[2] = {p, (void *)rs};

	for (size_t i = 0; i < p->n_rules; i++)
		nftnl_expr_foreach(p->rules[i], check_ref_expr, ctx);
	for (size_t i = 0; i < p->n_sets; i++)
		nftnl_set_elem_foreach(p->sets[i], check_ref_elem, ctx);
	/* names unique per kind */
	for (int k = 0; k < ZWNFT__KINDS; k++) {
		if (k == ZWNFT_RULE)
			continue;
		for (size_t i = 0; i < rs->n[k]; i++)
			for (size_t j = i + 1; j < rs->n[k]; j++)
				if (!strcmp(rs->v[k][i].name, rs->v[k][j].name)) {
					fprintf(stderr, "duplicate name %s\n", rs->v[k][i].name);
					CU_FAIL("duplicate name");
				}
	}
}

/* ------------------------------------------------------------------ */
/* a small nftables interpreter over the parsed-back ruleset */

struct pkt {
	int family; /* 4 or 6 */
	uint8_t l4proto;
	uint8_t saddr[16], daddr[16];
	uint8_t tcp_flags;
	uint32_t ct_state; /* NF_CT_STATE_* bit */
	uint32_t ct_mark; /* flow index (records) and zw-inspect's verdict bits */
	uint8_t o_src[16], o_dst[16];
	uint8_t o_proto;
	uint8_t o_pdst[2]; /* as in the conntrack tuple */
	/* IPv6 extension headers */
	uint8_t nexthdr0; /* next header of the fixed IPv6 header */
	bool ah;	  /* an AH header in the chain */
	bool hbh;	  /* a hop-by-hop header in the chain */
	int rt_type;	  /* type of the first routing header, -1 none */
};

struct run {
	struct parsed *p;
	const struct pkt *k;
	uint8_t reg[16];
	int verdict; /* NFT_CONTINUE if none; NF_QUEUE: to the inspector */
	int queue;   /* its queue number */
	const char *target;
	const char *hits[16];
	int n_hits;
	bool broke;
	bool mark_set; /* ct mark set, to @mark */
	uint32_t mark;
};

struct velem {
	uint8_t key[16];
	bool end;
	int verdict;
	const char *chain;
};

struct vset {
	struct nftnl_set *s;
	struct velem *e;
	size_t n;
};

static struct vset *vsets;
static size_t n_vsets;

static int velem_cmp(const void *a, const void *b)
{
	const struct velem *x = a, *y = b;
	int c = memcmp(x->key, y->key, 16);

	if (c)
		return c;
	return (int)y->end - (int)x->end; /* end before start at one key */
}

static int collect_elem(struct nftnl_set_elem *e, void *data)
{
	struct vset *v = data;
	uint32_t len = 0;
	const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	struct velem x = {0};

	memcpy(x.key, k, len);
	x.end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
		(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
		x.verdict = (int)nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT);
		x.chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
	}
	v->e = grow(v->e, v->n, sizeof(x));
	v->e[v->n++] = x;
	return 0;
}

static void vm_load(struct parsed *p)
{
	vsets = calloc(p->n_sets + 1, sizeof(*vsets));
	n_vsets = p->n_sets;
	for (size_t i = 0; i < p->n_sets; i++) {
		vsets[i].s = p->sets[i];
		nftnl_set_elem_foreach(p->sets[i], collect_elem, &vsets[i]);
		if (vsets[i].n)
			qsort(vsets[i].e, vsets[i].n, sizeof(struct velem), velem_cmp);
	}
}

static void vm_unload(void)
{
	for (size_t i = 0; i < n_vsets; i++)
		free(vsets[i].e);
	free(vsets);
	vsets = NULL;
	n_vsets = 0;
}

/* rbtree semantics: the greatest element <= key decides. */
static const struct velem *vset_lookup(const char *name, const uint8_t *key,
				       uint32_t klen)
{
	for (size_t i = 0; i < n_vsets; i++) {
		const struct velem *best = NULL;
		uint8_t k[16] = {0};

		if (strcmp(nftnl_set_get_str(vsets[i].s, NFTNL_SET_NAME), name))
			continue;
		memcpy(k, key, klen);
		for (size_t j = 0; j < vsets[i].n; j++)
			if (memcmp(vsets[i].e[j].key, k, 16) <= 0)
				best = &vsets[i].e[j];
		return best && !best->end ? best : NULL;
	}
	CU_FAIL("lookup of an unknown set");
	return NULL;
}

static int vm_expr(struct nftnl_expr *e, void *data)
{
	struct run *r = data;
	const struct pkt *k = r->k;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	uint32_t len = 0;

	if (r->broke || r->verdict != NFT_CONTINUE)
		return 0;
	if (!strcmp(name, "meta")) {
		uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);

		memset(r->reg, 0, sizeof(r->reg));
		if (key == NFT_META_NFPROTO)
			r->reg[0] = k->family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
		else if (key == NFT_META_L4PROTO)
			r->reg[0] = k->l4proto;
		else
			CU_FAIL("meta key");
	} else if (!strcmp(name, "cmp")) {
		const void *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
		int op = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);
		int c = memcmp(r->reg, d, len);

		if ((op == NFT_CMP_EQ && c) || (op == NFT_CMP_NEQ && !c))
			r->broke = true;
		else if (op != NFT_CMP_EQ && op != NFT_CMP_NEQ)
			CU_FAIL("cmp op");
	} else if (!strcmp(name, "range")) {
		const void *lo = nftnl_expr_get(e, NFTNL_EXPR_RANGE_FROM_DATA, &len);
		const void *hi = nftnl_expr_get(e, NFTNL_EXPR_RANGE_TO_DATA, &len);

		if (memcmp(r->reg, lo, len) < 0 || memcmp(r->reg, hi, len) > 0)
			r->broke = true;
	} else if (!strcmp(name, "bitwise")) {
		const uint8_t *mask = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
		const uint8_t *x = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &len);

		for (uint32_t i = 0; i < len; i++)
			r->reg[i] = (uint8_t)((r->reg[i] & mask[i]) ^ x[i]);
	} else if (!strcmp(name, "ct") &&
		   nftnl_expr_is_set(e, NFTNL_EXPR_CT_SREG)) {
		if (nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY) != NFT_CT_MARK)
			CU_FAIL("ct set of another key than the mark");
		r->mark_set = true;
		memcpy(&r->mark, r->reg, 4);
	} else if (!strcmp(name, "ct")) {
		uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY);

		memset(r->reg, 0, sizeof(r->reg));
		switch (key) {
		case NFT_CT_MARK:
			memcpy(r->reg, &k->ct_mark, 4);
			break;
		case NFT_CT_STATE:
			memcpy(r->reg, &k->ct_state, 4);
			break;
		case NFT_CT_PROTOCOL:
			r->reg[0] = k->o_proto;
			break;
		case NFT_CT_PROTO_DST:
			memcpy(r->reg, k->o_pdst, 2);
			break;
		case NFT_CT_SRC_IP:
		case NFT_CT_DST_IP:
			if (k->family != 4)
				r->broke = true; /* kernel: no IPv4 tuple */
			memcpy(r->reg, key == NFT_CT_SRC_IP ? k->o_src : k->o_dst, 4);
			break;
		case NFT_CT_SRC_IP6:
		case NFT_CT_DST_IP6:
			if (k->family != 6)
				r->broke = true;
			memcpy(r->reg, key == NFT_CT_SRC_IP6 ? k->o_src : k->o_dst, 16);
			break;
		default:
			CU_FAIL("ct key");
		}
	} else if (!strcmp(name, "payload")) {
		uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
		uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);

		memset(r->reg, 0, sizeof(r->reg));
		if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 13)
			r->reg[0] = k->tcp_flags;
		else if (base == NFT_PAYLOAD_NETWORK_HEADER && k->family == 4 && off == 12)
			memcpy(r->reg, k->saddr, 4);
		else if (base == NFT_PAYLOAD_NETWORK_HEADER && k->family == 4 && off == 16)
			memcpy(r->reg, k->daddr, 4);
		else if (base == NFT_PAYLOAD_NETWORK_HEADER && k->family == 6 && off == 8)
			memcpy(r->reg, k->saddr, 16);
		else if (base == NFT_PAYLOAD_NETWORK_HEADER && k->family == 6 && off == 24)
			memcpy(r->reg, k->daddr, 16);
		else if (base == NFT_PAYLOAD_NETWORK_HEADER && k->family == 6 && off == 6)
			r->reg[0] = k->nexthdr0;
		else
			CU_FAIL("payload");
	} else if (!strcmp(name, "lookup")) {
		const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
		struct nftnl_set *s = find_set(r->p, set);
		const struct velem *x = vset_lookup(set, r->reg,
						    s ? nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN) : 4);

		if (!x) {
			r->broke = true;
		} else if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG)) {
			r->verdict = x->verdict;
			r->target = x->chain;
		}
	} else if (!strcmp(name, "immediate")) {
		r->verdict = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
		r->target = nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) ?
				    nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN) : NULL;
	} else if (!strcmp(name, "objref")) {
		if (r->n_hits < 16)
			r->hits[r->n_hits++] = nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME);
	} else if (!strcmp(name, "exthdr")) {
		uint8_t type = nftnl_expr_get_u8(e, NFTNL_EXPR_EXTHDR_TYPE);
		uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_EXTHDR_OFFSET);
		bool present = nftnl_expr_is_set(e, NFTNL_EXPR_EXTHDR_FLAGS) &&
			       (nftnl_expr_get_u32(e, NFTNL_EXPR_EXTHDR_FLAGS) &
				NFT_EXTHDR_F_PRESENT);

		memset(r->reg, 0, sizeof(r->reg));
		/* the kernel reads an IPv4 packet as IPv6 here: never */
		if (k->family != 6)
			CU_FAIL("exthdr on an IPv4 packet");
		if (present && type == 51)
			r->reg[0] = k->ah;
		else if (present && type == 0)
			r->reg[0] = k->hbh;
		else if (!present && type == 43 && off == 2 && k->rt_type >= 0)
			r->reg[0] = (uint8_t)k->rt_type;
		else if (!present && type == 43 && off == 2)
			r->broke = true; /* no routing header */
		else
			CU_FAIL("exthdr");
	} else if (!strcmp(name, "target")) {
		/* xt NFQUEUE v3 through nft_compat: the verdict is NF_QUEUE,
		 * and without the bypass flag a queue nobody listens on drops */
		const struct xt_NFQ_info_v3 *info =
			nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);

		if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME), "NFQUEUE") ||
		    nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV) != 3 || !info ||
		    len != sizeof(*info) || info->queues_total != 1 ||
		    (info->flags & NFQ_FLAG_BYPASS)) {
			CU_FAIL("target: not a fail-closed NFQUEUE");
		} else {
			r->verdict = NF_QUEUE;
			r->queue = info->queuenum;
		}
	} else if (!strcmp(name, "dynset")) {
		r->broke = true; /* rate never exceeded here */
	} else if (strcmp(name, "log") && strcmp(name, "counter")) {
		CU_FAIL("unknown expression");
	}
	return 0;
}

/* The base chain's policy. */
static int base_policy(const struct parsed *p)
{
	for (size_t i = 0; i < p->n_chains; i++)
		if (!strcmp(nftnl_chain_get_str(p->chains[i], NFTNL_CHAIN_NAME),
			    ZWNFT_BASE_CHAIN) &&
		    nftnl_chain_is_set(p->chains[i], NFTNL_CHAIN_POLICY))
			return (int)nftnl_chain_get_u32(p->chains[i],
							NFTNL_CHAIN_POLICY);
	CU_FAIL("no base chain policy");
	return NF_DROP;
}

/* Run the forward hook. Returns NF_ACCEPT, NF_DROP or NF_QUEUE. */
static int vm_run(struct parsed *p, const struct pkt *k, struct run *out)
{
	struct {
		const char *chain;
		size_t next;
	} stack[16];
	int depth = 0, steps = 0;
	const char *chain = ZWNFT_BASE_CHAIN;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	out->p = p;
	out->k = k;
	for (;;) {
		/* next rule of this chain at or after position i */
		size_t seen = 0, idx = SIZE_MAX;

		for (size_t j = 0; j < p->n_rules; j++) {
			if (strcmp(nftnl_rule_get_str(p->rules[j], NFTNL_RULE_CHAIN), chain))
				continue;
			if (seen++ == i) {
				idx = j;
				break;
			}
		}
		if (++steps > 10000) {
			CU_FAIL("rule loop");
			return NF_DROP;
		}
		if (idx == SIZE_MAX) { /* end of chain: return */
			if (depth == 0)
				return base_policy(p);
			depth--;
			chain = stack[depth].chain;
			i = stack[depth].next;
			continue;
		}
		out->verdict = NFT_CONTINUE;
		out->broke = false;
		nftnl_expr_foreach(p->rules[idx], vm_expr, out);
		i++;
		if (out->broke || out->verdict == NFT_CONTINUE)
			continue;
		switch (out->verdict) {
		case NF_ACCEPT:
		case NF_DROP:
		case NF_QUEUE:
			return out->verdict;
		case NFT_JUMP:
			if (depth == 16)
				return NF_DROP;
			stack[depth].chain = chain;
			stack[depth].next = i;
			depth++;
			/* fall through */
		case NFT_GOTO:
			chain = out->target;
			i = 0;
			break;
		default:
			CU_FAIL("verdict");
			return NF_DROP;
		}
	}
}

static bool hit(const struct run *r, const char *name)
{
	for (int i = 0; i < r->n_hits; i++)
		if (!strcmp(r->hits[i], name))
			return true;
	return false;
}

static void pkt_of_query(const struct zw_query *q, struct pkt *k)
{
	memset(k, 0, sizeof(*k));
	k->family = q->family;
	k->l4proto = q->proto;
	memcpy(k->saddr, q->src, 16);
	memcpy(k->daddr, q->dst, 16);
	memcpy(k->o_src, q->src, 16);
	memcpy(k->o_dst, q->dst, 16);
	k->o_proto = q->proto;
	if (q->proto == 1 || q->proto == 58) {
		k->o_pdst[0] = (uint8_t)q->port; /* type, code 0 */
	} else if (q->proto == 6 || q->proto == 17 || q->proto == 132 ||
		   q->proto == 33 || q->proto == 136) {
		k->o_pdst[0] = (uint8_t)(q->port >> 8);
		k->o_pdst[1] = (uint8_t)q->port;
	}
	k->tcp_flags = 0x02; /* SYN */
	k->ct_state = NF_CT_STATE_BIT(IP_CT_NEW);
	k->nexthdr0 = q->proto;
	k->rt_type = -1;
	if (q->family == 6 && q->proto == 51) {
		/* IPv6 AH carries something; conntrack sees what (UDP) */
		k->ah = true;
		k->l4proto = k->o_proto = 17;
		k->o_pdst[0] = 0x1f;
		k->o_pdst[1] = 0x90;
	}
}

struct stats {
	unsigned long checked, allowed, mismatches, queued;
};

/* Whether the engine sends the connections of flow @f to the inspector
 * (docs/l7.md): a rule of an `inspect:` service, or a zone pair under a
 * crisis block-file measure. */
static bool flow_inspected(const struct zw_image *img, uint32_t f)
{
	for (uint32_t r = 0; r < img->n_rules; r++)
		if (img->rules[r].flow == f &&
		    img->services[img->rules[r].service].inspect)
			return true;
	for (uint32_t i = 0; i < img->n_fileblock; i++) {
		const struct zw_img_fileblock *fb = &img->fileblock[i];

		if ((fb->from == ZW_FILEBLOCK_ANY || fb->from == img->flows[f].from) &&
		    (fb->to == ZW_FILEBLOCK_ANY || fb->to == img->flows[f].to))
			return true;
	}
	return false;
}

/* A packet of an inspected connection @k of flow @f: queued while the ct
 * mark has no verdict (whatever its other bits), accepted once judged
 * good, dropped and counted once cut. */
static bool check_marks(struct parsed *p, const struct zw_image *img,
			const struct pkt *k, uint32_t f)
{
	char flow_c[ZWNFT_NAME_MAX], drop_c[ZWNFT_NAME_MAX];
	struct pkt x = *k;
	struct run r;
	bool ok = true;

	snprintf(flow_c, sizeof(flow_c), "flow_%s",
		 zw_image__str(img, img->flows[f].id));
	snprintf(drop_c, sizeof(drop_c), "drop_%s",
		 zw_image__str(img, img->flows[f].id));
	x.ct_mark = 0x0000beefu; /* other users' bits */
	ok = ok && vm_run(p, &x, &r) == NF_QUEUE &&
	     r.queue == ZW_INSPECT_QUEUE_DEFAULT && hit(&r, flow_c);
	x.ct_mark = ZW_L7_CTMARK_PASS | 0x0000beefu;
	ok = ok && vm_run(p, &x, &r) == NF_ACCEPT && hit(&r, flow_c);
	x.ct_mark = ZW_L7_CTMARK_CUT | 0x0000beefu;
	ok = ok && vm_run(p, &x, &r) == NF_DROP && hit(&r, drop_c) &&
	     hit(&r, "zw_l7_mismatch") && !hit(&r, flow_c);
	return ok;
}

/* Check one query: new packet, reply packet, bare ACK. */
static void check_query(struct parsed *p, const struct zw_image *img,
			const struct zw_query *q, struct stats *st)
{
	struct zw_verdict v;
	struct pkt k;
	struct run r;
	int got;
	char want_hit[ZWNFT_NAME_MAX] = "";

	zw_eval__image(img, q, &v);
	switch (v.reason) {
	case ZW_VERDICT_FLOW:
		snprintf(want_hit, sizeof(want_hit), "flow_%s",
			 zw_image__str(img, img->flows[v.flow].id));
		break;
	case ZW_VERDICT_SAME_ZONE:
		strcpy(want_hit, "zw_same_zone");
		break;
	case ZW_VERDICT_ISOLATED:
		strcpy(want_hit, "zw_isolated");
		break;
	case ZW_VERDICT_BLOCKED:
		strcpy(want_hit, "zw_blocked");
		break;
	default:
		strcpy(want_hit, "zw_no_flow");
	}
	pkt_of_query(q, &k);
	got = vm_run(p, &k, &r);
	st->checked++;
	st->allowed += v.allow;
	/* an inspected flow's connection goes to the inspector instead of
	 * being accepted (and only then) */
	bool l7 = v.allow && v.reason == ZW_VERDICT_FLOW &&
		  flow_inspected(img, v.flow);
	bool ok = (got == (l7 ? NF_QUEUE : NF_ACCEPT)) == v.allow &&
		  hit(&r, want_hit);

	if (l7) {
		st->queued++;
		ok = ok && check_marks(p, img, &k, v.flow);
	}

	/* the reply of that connection: judged like the connection */
	struct pkt reply = k;

	memcpy(reply.saddr, k.daddr, 16);
	memcpy(reply.daddr, k.saddr, 16);
	reply.ct_state = NF_CT_STATE_BIT(IP_CT_ESTABLISHED);
	reply.tcp_flags = 0x12; /* SYN|ACK */
	struct run rr;
	int got_reply = vm_run(p, &reply, &rr);

	/* a recorded flow (log: true) marks its new connection with its
	 * index + 1 for the records; nothing else sets the mark */
	if (v.allow && v.reason == ZW_VERDICT_FLOW &&
	    (img->flows[v.flow].flags & ZW_IMG_FLOW_LOG))
		ok = ok && r.mark_set && r.mark == v.flow + 1;
	else
		ok = ok && !r.mark_set;
	ok = ok && (got_reply == (l7 ? NF_QUEUE : NF_ACCEPT)) == v.allow &&
	     !rr.mark_set;
	if (l7)
		ok = ok && check_marks(p, img, &reply, v.flow);
	if (!v.allow && v.reason != ZW_VERDICT_BLOCKED && v.reason != ZW_VERDICT_ISOLATED)
		ok = ok && hit(&rr, "zw_cut");

	/* a TCP packet that is not a SYN opens nothing */
	if (q->proto == 6) {
		struct pkt ack = k;
		struct run ra;

		ack.tcp_flags = 0x10;
		ok = ok && vm_run(p, &ack, &ra) == NF_DROP &&
		     (hit(&ra, "zw_not_syn") || hit(&ra, "zw_blocked"));
	}
	/* IPv6 extension headers: the packet parser of the other engines
	 * (and so the oracle's protocol) stops at AH, refuses a routing
	 * header of type 0 and a hop-by-hop header that is not the first */
	if (q->family == 6) {
		struct zw_query qa = *q;
		struct zw_verdict va;
		struct pkt x = k;
		struct run rx;
		bool blocked = v.reason == ZW_VERDICT_BLOCKED;

		/* what the query's packet is, wrapped in AH: protocol 51 */
		qa.proto = 51;
		qa.port = 0;
		zw_eval__image(img, &qa, &va);
		x.ah = true;
		x.nexthdr0 = 51;
		x.tcp_flags = 0x10; /* AH is no TCP: a SYN is not needed */
		int g_ah = vm_run(p, &x, &rx);
		bool ok_ah = (g_ah == NF_ACCEPT || g_ah == NF_QUEUE) == va.allow;

		if (va.reason == ZW_VERDICT_FLOW) {
			char h[ZWNFT_NAME_MAX];

			snprintf(h, sizeof(h), "flow_%s",
				 zw_image__str(img, img->flows[va.flow].id));
			ok_ah = ok_ah && hit(&rx, h);
		}
		if (!ok_ah && st->mismatches < 10)
			fprintf(stderr, "AH-wrapped packet: oracle (proto 51) %s, nft %s\n",
				va.allow ? "allow" : "deny", rx.verdict == NF_ACCEPT ? "accept" : "drop");
		ok = ok && ok_ah;
		/* a routing header of type 0, a hop-by-hop header not first */
		x = k;
		x.rt_type = 0;
		x.nexthdr0 = 43;
		ok = ok && vm_run(p, &x, &rx) == NF_DROP &&
		     hit(&rx, blocked ? "zw_blocked" : "zw_ext_headers");
		x = k;
		x.hbh = true;
		x.nexthdr0 = 60;
		ok = ok && vm_run(p, &x, &rx) == NF_DROP &&
		     hit(&rx, blocked ? "zw_blocked" : "zw_ext_headers");
		/* ... which first is fine, as is a routing header of type 2 */
		x = k;
		x.hbh = true;
		x.nexthdr0 = 0;
		x.rt_type = 2;
		ok = ok && vm_run(p, &x, &rx) == (l7 ? NF_QUEUE : v.allow ? NF_ACCEPT : NF_DROP);
	}
	if (!ok) {
		char a[64], b[64];
		struct zw_prefix pa = {.family = q->family, .len = q->family == 4 ? 32 : 128};
		struct zw_prefix pb = pa;

		memcpy(pa.addr, q->src, 16);
		memcpy(pb.addr, q->dst, 16);
		if (st->mismatches++ < 10)
			fprintf(stderr,
				"mismatch: %s -> %s proto %u port %u day %d: oracle %s (%s), nft %s/%s\n",
				zw_prefix__format(&pa, a), zw_prefix__format(&pb, b),
				q->proto, q->port, q->day, v.allow ? "allow" : "deny",
				want_hit, got == NF_ACCEPT ? "accept" : got == NF_QUEUE ? "queue" : "drop",
				got_reply == NF_ACCEPT ? "accept" : got_reply == NF_QUEUE ? "queue" : "drop");
	}
}

/* Build, batch, parse back, check structure; returns the parse. */
static struct zwnft_ruleset *build_and_parse(const struct zw_image *img,
					     int32_t day, struct parsed *p)
{
	struct zwnft_ruleset *rs = NULL;
	struct zwnft_batch bt;

	CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(img, day, NULL, &rs), 0);
	CU_ASSERT_EQUAL_FATAL(zwnft_batch__build(&bt, rs, NULL, 1000), 0);
	parse_batch(&bt, p);
	check_round_trip(rs, p, true);
	check_references(rs, p);
	CU_ASSERT_EQUAL(p->genid, 0);
	CU_ASSERT_EQUAL(p->n_dels, 0);
	zwnft_batch__fini(&bt);
	return rs;
}

/* ------------------------------------------------------------------ */
/* tests */

static void test_golden_bytecode(void)
{
	struct zw_image *img = image_of(small_yaml, NULL);
	struct zwnft_ruleset *rs;
	struct parsed p;
	static const char *const want[] = {
		"pair_ops_jump: [ ct load protocol => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
		"[ ct load proto_dst => reg 1 , dir original ] [ cmp eq reg 1 0x00001600 ] "
		"[ immediate reg 0 goto -> flow_F-1 ] comment \"F-1 ssh tcp/22\"",
		"pair_ops_jump: [ ct load protocol => reg 1 ] [ cmp eq reg 1 0x00000001 ] "
		"[ ct load proto_dst => reg 1 , dir original ] [ range eq reg 1 0x00000008 0x0000ff08 ] "
		"[ immediate reg 0 goto -> flow_F-1 ] comment \"F-1 icmp-echo icmp/8\"",
		"pair_jump_adm: [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ] "
		"[ ct load dst_ip => reg 1 , dir original ] [ lookup reg 1 set n4_1 0x0 ] "
		"[ ct load protocol => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
		"[ ct load proto_dst => reg 1 , dir original ] [ range eq reg 1 0x0000401f 0x00004a1f ] "
		"[ immediate reg 0 goto -> flow_F-2 ] comment \"F-2 hi tcp/8000-8010\"",
		"forward: [ ct load state => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ] "
		"[ cmp neq reg 1 0x00000000 ] [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ] "
		"[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
		"[ payload load 1b @ transport header + 13 => reg 1 ] "
		"[ bitwise reg 1 = ( reg 1 & 0x00000017 ) ^ 0x00000000 ] [ cmp neq reg 1 0x00000002 ] "
		"[ objref type 1 name zw_not_syn ] "
		"[ log prefix zonewall-deny not-syn group 23 snaplen 0 qthreshold 0 ] "
		"[ immediate reg 0 drop ]",
		/* IPv6: not for AH packets (protocol 51, whatever AH carries) */
		"forward: [ ct load state => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ] "
		"[ cmp neq reg 1 0x00000000 ] [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ] "
		"[ exthdr load ipv6 1b @ 51 + 0 present => reg 1 ] [ cmp eq reg 1 0x00000000 ] "
		"[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
		"[ payload load 1b @ transport header + 13 => reg 1 ] "
		"[ bitwise reg 1 = ( reg 1 & 0x00000017 ) ^ 0x00000000 ] [ cmp neq reg 1 0x00000002 ] "
		"[ objref type 1 name zw_not_syn ] "
		"[ log prefix zonewall-deny not-syn group 23 snaplen 0 qthreshold 0 ] "
		"[ immediate reg 0 drop ]",
		"forward: [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ] "
		"[ exthdr load ipv6 1b @ 43 + 2 => reg 1 ] [ cmp eq reg 1 0x00000000 ] "
		"[ objref type 1 name zw_ext_headers ] "
		"[ log prefix zonewall-deny ext-headers group 23 snaplen 0 qthreshold 0 ] "
		"[ immediate reg 0 drop ]",
		"forward: [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ] "
		"[ exthdr load ipv6 1b @ 0 + 0 present => reg 1 ] [ cmp eq reg 1 0x00000001 ] "
		"[ payload load 1b @ network header + 6 => reg 1 ] [ cmp neq reg 1 0x00000000 ] "
		"[ objref type 1 name zw_ext_headers ] "
		"[ log prefix zonewall-deny ext-headers group 23 snaplen 0 qthreshold 0 ] "
		"[ immediate reg 0 drop ]",
		"pair_ops_jump: [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ] "
		"[ exthdr load ipv6 1b @ 51 + 0 present => reg 1 ] [ cmp eq reg 1 0x00000001 ] "
		"[ immediate reg 0 goto -> deny ]",
		"pair_ops_ops: [ objref type 1 name zw_isolated ] "
		"[ log prefix zonewall-deny isolated group 23 snaplen 0 qthreshold 0 ] "
		"[ immediate reg 0 drop ] comment \"isolated zone: members may not talk\"",
		/* F-2 (log: true) marks its new connections for the records:
		 * its index + 1, L7's bits kept */
		"flow_F-2: [ ct load state => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ] "
		"[ cmp neq reg 1 0x00000000 ] [ ct load mark => reg 1 ] "
		"[ bitwise reg 1 = ( reg 1 & 0xc0000000 ) ^ 0x00000002 ] [ ct set mark with reg 1 ]",
		"deny: [ objref type 1 name zw_no_flow ] "
		"[ log prefix zonewall-deny no-flow group 23 snaplen 0 qthreshold 0 ] "
		"[ immediate reg 0 drop ]",
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	rs = build_and_parse(img, today, &p);
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		bool found = false;

		for (size_t i = 0; i < p.n_rules && !found; i++) {
			char *c = zwnft_canon_rule(p.rules[i]);

			found = !strcmp(c, want[w]);
			free(c);
		}
		if (!found) {
			fprintf(stderr, "\nmissing rule: %s\nrules:\n", want[w]);
			for (size_t i = 0; i < p.n_rules; i++) {
				char *c = zwnft_canon_rule(p.rules[i]);

				fprintf(stderr, "  %s\n", c);
				free(c);
			}
		}
		CU_ASSERT(found);
	}
	/* F-3 expired: no chain, no counter; F-2 rate and log */
	char *text = zwnft_ruleset__text(rs);

	CU_ASSERT_PTR_NULL(strstr(text, "flow_F-3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "add @rate4_F-2 { ct original ip saddr limit rate over 5/second burst 5 packets }"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "ct state new log prefix \"zonewall F-2 \" group 23"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "elements = { 10.3.0.5,\n\t\t\t     10.3.0.8/30 }"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "type filter hook forward priority filter; policy drop;"));
	free(text);
	/* the marker rule carries the image */
	char sha[65];
	int32_t day = 0;
	struct zwnft_live live = {.rules = p.rules, .n_rules = p.n_rules};

	CU_ASSERT_EQUAL(zwnft_live__marker(&live, sha, &day), 0);
	CU_ASSERT_STRING_EQUAL(sha, img->sha256_hex);
	CU_ASSERT_EQUAL(day, today);
	/* before the expiry F-3 is there */
	struct parsed p2;
	struct zwnft_ruleset *rs2 = build_and_parse(img, 18000, &p2);

	text = zwnft_ruleset__text(rs2);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "chain flow_F-3"));
	free(text);
	zwnft_ruleset__free(rs2);
	parsed_free(&p2);
	zwnft_ruleset__free(rs);
	parsed_free(&p);
	zw_image__free(img);
}

static void run_differential(const struct zw_image *img, const struct zw_matrix *m,
			     uint64_t seed, unsigned n_queries, struct stats *st)
{
	for (int d = -1; d <= 1; d++) {
		struct parsed p;
		int32_t day = today + d * 40;
		struct zwnft_ruleset *rs = build_and_parse(img, day, &p);
		uint64_t s = seed * 7919u + (uint64_t)(d + 2);

		vm_load(&p);
		for (unsigned i = 0; i < n_queries; i++) {
			struct zw_query q;

			zw_gen__query(m, &s, day, &q);
			q.day = day;
			check_query(&p, img, &q, st);
		}
		vm_unload();
		zwnft_ruleset__free(rs);
		parsed_free(&p);
	}
}

static struct zw_matrix *parse_ok(const char *yaml)
{
	struct zw_diags d;
	struct zw_matrix *m;

	zw_diags__init(&d, "g.yaml");
	m = zw_matrix__parse(yaml, strlen(yaml), "g.yaml", &d);
	if (m)
		zw_matrix__validate(m, today, &d);
	if (!m || d.n_errors) {
		zw_diags__print_text(&d, stderr);
		zw_matrix__free(m);
		m = NULL;
	}
	zw_diags__fini(&d);
	return m;
}

static void test_differential_generated(void)
{
	struct stats st = {0};

	for (unsigned k = 1; k <= 24; k++) {
		struct zw_gen_opts o = {
			.seed = k,
			.n_zones = 7 + k % 12,
			.n_flows = 5 + (k * 7) % 60,
			.n_services = k % 10,
			.ipv6 = k % 3 != 0,
			.narrowing = k % 2 == 0 || k % 5 == 0,
			.expiry = k % 4 == 0,
		};
		char *yaml = zw_gen__matrix(&o);
		struct zw_matrix *m = parse_ok(yaml);
		struct zw_image *img = m ? image_of(yaml, NULL) : NULL;

		CU_ASSERT_PTR_NOT_NULL(img);
		if (img)
			run_differential(img, m, k, 300, &st);
		zw_image__free(img);
		zw_matrix__free(m);
		free(yaml);
	}
	printf("\n  nft interpreter vs oracle: %lu queries, %lu allowed, %lu mismatches\n",
	       st.checked, st.allowed, st.mismatches);
	CU_ASSERT_EQUAL(st.mismatches, 0);
	/* a degenerate mix proves nothing */
	CU_ASSERT(st.allowed > st.checked / 20);
	CU_ASSERT(st.allowed < st.checked - st.checked / 20);
}

static void test_differential_examples(void)
{
	static const char *const files[] = {"matrix/examples/minimal.yaml",
					    "matrix/examples/piams.yaml"};
	struct stats st = {0};

	for (size_t i = 0; i < 2; i++) {
		char *yaml = read_file(files[i]);
		struct zw_matrix *m = yaml ? parse_ok(yaml) : NULL;
		struct zw_image *img = m ? image_of(yaml, NULL) : NULL;

		CU_ASSERT_PTR_NOT_NULL(img);
		if (img)
			run_differential(img, m, 100 + i, 2000, &st);
		zw_image__free(img);
		zw_matrix__free(m);
		free(yaml);
	}
	CU_ASSERT_EQUAL(st.mismatches, 0);
	CU_ASSERT(st.allowed > 0);
}

static void test_block_list(void)
{
	char *yaml = read_file("matrix/examples/minimal.yaml");
	struct zw_matrix *m = parse_ok(yaml);
	struct zw_prefix block[2];
	struct zw_compile_opts co = {.block = block, .n_block = 2};
	struct stats st = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(zw_prefix__parse("10.2.0.0/25", &block[0]), 0);
	CU_ASSERT_EQUAL(zw_prefix__parse("fd00:1::/65", &block[1]), 0);
	struct zw_image *img = image_of(yaml, &co);

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_EQUAL(img->n_block, 2);
	run_differential(img, m, 7, 3000, &st);
	CU_ASSERT_EQUAL(st.mismatches, 0);
	zw_image__free(img);
	zw_matrix__free(m);
	free(yaml);
}

/* IPv6 packets with AH are protocol 51 (the packet parser of every
 * engine stops at AH), not the protocol AH carries, which is what
 * conntrack and `meta l4proto` see: a flow allowing AH lets them through,
 * a flow allowing what they carry does not. */
static void test_ipv6_ah(void)
{
	static const char yaml[] =
		"zonewall: 1\n"
		"name: ah\n"
		"zones:\n"
		"  ops: {kind: operations, networks: [10.1.0.0/24, \"fd00:1::/64\"], isolate: true}\n"
		"  jump: {kind: servers, networks: [10.2.0.0/24, \"fd00:2::/64\"]}\n"
		"  adm: {kind: admin, networks: [10.3.0.0/24, \"fd00:3::/64\"]}\n"
		"  upd: {kind: update, networks: [10.4.0.0/24, \"fd00:4::/64\"]}\n"
		"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
		"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
		"services:\n"
		"  ah: {proto: 51}\n"
		"flows:\n"
		"  - id: S-1\n"
		"    from: ops\n"
		"    to: jump\n"
		"    services: [ssh, dns]\n"
		"    justification: admins\n"
		"  - id: A-1\n"
		"    from: jump\n"
		"    to: adm\n"
		"    dst: [\"fd00:3::5\", 10.3.0.5]\n"
		"    services: [ah, https]\n"
		"    justification: transport-mode IPsec\n"
		"  - id: A-2\n"
		"    from: upd\n"
		"    to: upd\n"
		"    services: [ah]\n"
		"    justification: tools\n";
	struct zw_matrix *m = parse_ok(yaml);
	struct zw_image *img = m ? image_of(yaml, NULL) : NULL;
	struct stats st = {0};
	struct parsed p;
	struct zwnft_ruleset *rs;
	struct zw_query q = {.family = 6, .proto = 6, .port = 22, .day = today};
	struct pkt k;
	struct run r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	/* ops -> jump: ssh; in AH, nothing (the bug: accepted as ssh) */
	rs = build_and_parse(img, today, &p);
	vm_load(&p);
	inet_pton(AF_INET6, "fd00:1::a", q.src);
	inet_pton(AF_INET6, "fd00:2::a", q.dst);
	pkt_of_query(&q, &k);
	/* ssh is inspected: to the inspector, then accepted once judged */
	CU_ASSERT_EQUAL(vm_run(&p, &k, &r), NF_QUEUE);
	k.ct_mark = ZW_L7_CTMARK_PASS;
	CU_ASSERT_EQUAL(vm_run(&p, &k, &r), NF_ACCEPT);
	k.ah = true;
	k.nexthdr0 = 51;
	CU_ASSERT_EQUAL(vm_run(&p, &k, &r), NF_DROP);
	CU_ASSERT(hit(&r, "zw_no_flow"));
	/* jump -> adm narrowed to fd00:3::5: AH passes there only, under A-1 */
	inet_pton(AF_INET6, "fd00:2::a", q.src);
	inet_pton(AF_INET6, "fd00:3::5", q.dst);
	q.proto = 51;
	pkt_of_query(&q, &k);
	k.ct_mark = ZW_L7_CTMARK_PASS; /* A-1 has https: judged */
	CU_ASSERT_EQUAL(vm_run(&p, &k, &r), NF_ACCEPT);
	CU_ASSERT(hit(&r, "flow_A-1"));
	k.tcp_flags = 0x10; /* what AH carries is not the policy's business */
	k.l4proto = k.o_proto = 6;
	CU_ASSERT_EQUAL(vm_run(&p, &k, &r), NF_ACCEPT);
	inet_pton(AF_INET6, "fd00:3::6", k.daddr);
	inet_pton(AF_INET6, "fd00:3::6", k.o_dst);
	CU_ASSERT_EQUAL(vm_run(&p, &k, &r), NF_DROP);
	vm_unload();
	zwnft_ruleset__free(rs);
	parsed_free(&p);
	/* and everything the oracle says, with and without AH */
	run_differential(img, m, 51, 3000, &st);
	CU_ASSERT_EQUAL(st.mismatches, 0);
	CU_ASSERT(st.allowed > 0);
	zw_image__free(img);
	zw_matrix__free(m);
}

#ifdef ZW_HAVE_L7
/* ---- payloads: the ruleset and the inspector against zw_l7__eval() ----
 *
 * The engine judges an inspected connection in two places: the ruleset
 * (queue while the ct mark has no verdict, accept once PASS, drop once
 * CUT: run by the interpreter above) and zw-inspect (dataplane/nft/
 * zw_inspect.c), modelled here with the same stream rules (docs/l7.md):
 * a SYN sets the sequence of its direction and is accepted (one carrying
 * data, TCP Fast Open, is dropped: its bytes would reach the server
 * unread; the client sends the SYN again without), data before its
 * direction's SYN is dropped, a
 * retransmission is accepted without being fed again (an overlap feeds
 * only its new bytes), a segment after a hole is dropped, an empty
 * segment is no data packet. The connection's fate must be what the
 * oracle says of the bytes each side's stack received. */

struct seg {
	int dir;	/* 0 client to server, 1 back */
	uint8_t flags;	/* TCP flags */
	uint32_t off;	/* offset in its direction's stream (0: first byte) */
	uint32_t len;
	bool on_syn;	/* data carried by the SYN (not in the stream) */
};

struct mconn {
	struct zw_l7_conn *l7;
	uint32_t mark;
	uint32_t next[2]; /* stream offset expected per direction */
	bool known[2];
};

#define ISN_C 1000u
#define ISN_S 5000u

/* The model of zw-inspect's verdict on one queued segment. */
static int model_inspect(struct mconn *c, const struct seg *s, const uint8_t *data)
{
	enum zw_l7_verdict v;
	uint32_t off = s->off, len = s->len;

	if (s->flags & 0x02) {
		if (len)
			return NF_DROP; /* data on a SYN (Fast Open): refused */
		c->next[s->dir] = 0;
		c->known[s->dir] = true;
		return NF_ACCEPT;
	}
	if (!c->known[s->dir])
		return len ? NF_DROP : NF_ACCEPT;
	if (len) {
		if (off > c->next[s->dir])
			return NF_DROP;
		if (off + len <= c->next[s->dir])
			return NF_ACCEPT;
		data += c->next[s->dir] - off;
		len -= c->next[s->dir] - off;
		c->next[s->dir] += len;
	}
	v = zw_l7_conn__feed(c->l7, s->dir ? ZW_L7_S2C : ZW_L7_C2S, data, len);
	if (v == ZW_L7_MISMATCH || v == ZW_L7_FILE) {
		c->mark = ZW_L7_CTMARK_CUT;
		return NF_DROP;
	}
	if (zw_l7_conn__done(c->l7))
		c->mark = ZW_L7_CTMARK_PASS;
	return NF_ACCEPT;
}

struct payload_stats {
	unsigned long runs, cut, queued, fast;
};

/* Run the segments of one connection @q through the ruleset and the
 * model inspector; true when its fate agrees with the oracle on the
 * streams @st[0] (client) and @st[1] (server). */
static bool run_payload(struct parsed *p, const struct zw_image *img,
			struct zw_l7_db *db, const struct zw_query *q,
			const uint8_t *const st[2], const uint32_t st_len[2],
			const struct seg *segs, size_t n, const char *what,
			struct payload_stats *ps)
{
	struct zw_l7_result want;
	struct zw_verdict v;
	struct mconn c = {0};
	struct pkt k0, k;
	struct run r;
	bool ok = true, cut_seen = false;

	CU_ASSERT_EQUAL_FATAL(zw_l7__eval(img, db, q, st[0], st_len[0], st[1],
					  st_len[1], &want), 0);
	zw_eval__image(img, q, &v);
	if (!v.allow || v.reason != ZW_VERDICT_FLOW)
		return true; /* the L3/L4 differential covers it */
	c.l7 = zw_l7_conn__new(db, zw_l7__service_proto(img, v.service), q->proto,
			       zw_l7__blocked_types(img, v.src_zone, v.dst_zone));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c.l7);
	pkt_of_query(q, &k0);
	ps->runs++;
	for (size_t i = 0; i < n; i++) {
		const struct seg *s = &segs[i];
		uint8_t buf[2048] = {0};
		int got;

		k = k0;
		if (s->dir) {
			memcpy(k.saddr, k0.daddr, 16);
			memcpy(k.daddr, k0.saddr, 16);
		}
		k.tcp_flags = s->flags;
		k.ct_state = i == 0 ? NF_CT_STATE_BIT(IP_CT_NEW)
				    : NF_CT_STATE_BIT(IP_CT_ESTABLISHED);
		k.ct_mark = c.mark;
		if (s->len)
			memcpy(buf, st[s->dir] + s->off, s->len);
		got = vm_run(p, &k, &r);
		if (got == NF_QUEUE) {
			ps->queued++;
			ok = ok && !c.mark; /* judged connections are not queued */
			got = model_inspect(&c, s, buf);
			if (c.mark == ZW_L7_CTMARK_CUT)
				cut_seen = true;
		} else if (c.mark == ZW_L7_CTMARK_PASS) {
			ps->fast++;
			ok = ok && got == NF_ACCEPT;
		} else if (c.mark == ZW_L7_CTMARK_CUT) {
			char drop_c[ZWNFT_NAME_MAX];

			snprintf(drop_c, sizeof(drop_c), "drop_%s",
				 zw_image__str(img, img->flows[v.flow].id));
			ok = ok && got == NF_DROP && hit(&r, drop_c);
		} else {
			/* an inspected flow's packets never skip the inspector */
			ok = ok && !flow_inspected(img, v.flow) && got == NF_ACCEPT;
		}
	}
	ps->cut += cut_seen;
	ok = ok && cut_seen == !want.allow &&
	     (want.allow || want.reason == ZW_DROP_L7_MISMATCH ||
	      want.reason == ZW_DROP_FILE_TYPE);
	if (!ok)
		fprintf(stderr, "payload %s (flow %s, inspect %s): oracle %s, engine %s\n",
			what, zw_image__str(img, img->flows[v.flow].id),
			zw_l7_proto__name(want.proto), want.allow ? "allow" : "deny",
			cut_seen ? "cut" : "passed");
	zw_l7_conn__free(c.l7);
	return ok;
}

/* A TLS 1.2 record holding a ClientHello (1) or ServerHello (2). */
static uint32_t tls_hello(uint8_t *b, int type)
{
	uint32_t n = 0, body;

	b[n++] = 0x16, b[n++] = 3, b[n++] = 1, n += 2;
	b[n++] = (uint8_t)type, n += 3;
	body = n;
	b[n++] = 3, b[n++] = 3;
	memset(b + n, 0x5a, 32), n += 32;
	b[n++] = 0;
	if (type == 1)
		b[n++] = 0, b[n++] = 2, b[n++] = 0x13, b[n++] = 1, b[n++] = 1, b[n++] = 0;
	else
		b[n++] = 0x13, b[n++] = 1, b[n++] = 0;
	b[n++] = 0, b[n++] = 0;
	b[body - 3] = (uint8_t)((n - body) >> 16), b[body - 2] = (uint8_t)((n - body) >> 8),
	b[body - 1] = (uint8_t)(n - body);
	b[3] = (uint8_t)((n - 5) >> 8), b[4] = (uint8_t)(n - 5);
	return n;
}

static void test_payload_differential(void)
{
	static const char yaml[] =
		"zonewall: 1\n"
		"name: payloads\n"
		"zones:\n"
		"  ops: {kind: operations, networks: [10.1.0.0/24, \"fd00:1::/64\"], isolate: true}\n"
		"  jump: {kind: servers, networks: [10.2.0.0/24, \"fd00:2::/64\"]}\n"
		"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
		"  upd: {kind: update, networks: [10.4.0.0/24]}\n"
		"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
		"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
		"services:\n"
		"  web: {proto: tcp, ports: [8080], inspect: http}\n"
		"  plain: {proto: tcp, ports: [9000]}\n"
		"flows:\n"
		"  - id: S-1\n"
		"    from: ops\n"
		"    to: jump\n"
		"    services: [ssh, https, web, plain]\n"
		"    justification: admins\n";
	static const char ssh_c[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
	static const char ssh_s[] = "SSH-2.0-OpenSSH_9.2p1\r\n";
	static const char http_c[] = "GET /index.html HTTP/1.1\r\nHost: jump\r\n\r\n";
	static const char http_s[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
	uint8_t tls_c[128], tls_s[128];
	struct {
		uint16_t port;
		const uint8_t *good[2], *bad;
		uint32_t good_len[2], bad_len;
	} svc[] = {
		{22, {(const uint8_t *)ssh_c, (const uint8_t *)ssh_s}, (const uint8_t *)http_c,
		 {sizeof(ssh_c) - 1, sizeof(ssh_s) - 1}, sizeof(http_c) - 1},
		{443, {tls_c, tls_s}, (const uint8_t *)ssh_c, {0, 0}, sizeof(ssh_c) - 1},
		{8080, {(const uint8_t *)http_c, (const uint8_t *)http_s}, (const uint8_t *)ssh_c,
		 {sizeof(http_c) - 1, sizeof(http_s) - 1}, sizeof(ssh_c) - 1},
		{9000, {(const uint8_t *)http_c, (const uint8_t *)ssh_s}, (const uint8_t *)ssh_c,
		 {sizeof(http_c) - 1, sizeof(ssh_s) - 1}, sizeof(ssh_c) - 1},
	};
	struct zw_image *img = image_of(yaml, NULL);
	struct payload_stats ps = {0};
	struct zw_l7_db *db;
	struct parsed p;
	struct zwnft_ruleset *rs;
	char err[256];
	unsigned bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	db = zw_l7_db__new(err, sizeof(err));
	if (!db) {
		/* Hyperscan needs SSSE3: this machine cannot run an inspector
		 * either, and every inspected connection is dropped */
		fprintf(stderr, "\n  payloads: %s\n", err);
		CU_ASSERT_EQUAL(errno, ENOTSUP);
		zw_image__free(img);
		return;
	}
	svc[1].good_len[0] = tls_hello(tls_c, 1);
	svc[1].good_len[1] = tls_hello(tls_s, 2);
	rs = build_and_parse(img, today, &p);
	vm_load(&p);
	for (int fam = 4; fam <= 6; fam += 2)
	for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]); i++)
	for (int wrong = 0; wrong < 3; wrong++) {
		/* wrong: 0 both right, 1 the client's bytes wrong, 2 the
		 * server's */
		struct zw_query q = {.family = (uint8_t)fam, .proto = 6,
				     .port = svc[i].port, .day = today};
		const uint8_t *st[2] = {svc[i].good[0], svc[i].good[1]};
		uint32_t len[2] = {svc[i].good_len[0], svc[i].good_len[1]};
		struct seg hs[3] = {{0, 0x02, 0, 0, false}, {1, 0x12, 0, 0, false},
				    {0, 0x10, 0, 0, false}};
		struct seg sg[16];
		char what[96];
		size_t n;

		if (fam == 4) {
			inet_pton(AF_INET, "10.1.0.5", q.src);
			inet_pton(AF_INET, "10.2.0.5", q.dst);
		} else {
			inet_pton(AF_INET6, "fd00:1::5", q.src);
			inet_pton(AF_INET6, "fd00:2::5", q.dst);
		}
		if (wrong) {
			st[wrong - 1] = svc[i].bad;
			len[wrong - 1] = svc[i].bad_len;
		}
#define RUN(name)                                                              \
	do {                                                                   \
		snprintf(what, sizeof(what), "%s, port %u, %s%s", name,        \
			 svc[i].port, wrong ? "wrong " : "right protocol",     \
			 wrong == 1 ? "client" : wrong == 2 ? "server" : "");   \
		bad += !run_payload(&p, img, db, &q, st, len, sg, n, what, &ps); \
	} while (0)
		/* one segment a direction, client first, then server first */
		memcpy(sg, hs, sizeof(hs)), n = 3;
		sg[n++] = (struct seg){0, 0x18, 0, len[0], false};
		sg[n++] = (struct seg){1, 0x18, 0, len[1], false};
		sg[n++] = (struct seg){0, 0x10, 0, 0, false};
		RUN("one segment each");
		memcpy(sg, hs, sizeof(hs)), n = 3;
		sg[n++] = (struct seg){1, 0x18, 0, len[1], false};
		sg[n++] = (struct seg){0, 0x18, 0, len[0], false};
		RUN("server first");
		/* split at every byte of the client's, the server's in three */
		for (uint32_t k = 1; k < len[0]; k++) {
			memcpy(sg, hs, sizeof(hs)), n = 3;
			sg[n++] = (struct seg){0, 0x10, 0, k, false};
			sg[n++] = (struct seg){0, 0x18, k, len[0] - k, false};
			sg[n++] = (struct seg){1, 0x10, 0, len[1] / 3, false};
			sg[n++] = (struct seg){1, 0x10, len[1] / 3, len[1] / 3, false};
			sg[n++] = (struct seg){1, 0x18, 2 * (len[1] / 3),
					       len[1] - 2 * (len[1] / 3), false};
			RUN("split");
		}
		/* retransmitted: the first half twice, then an overlap */
		memcpy(sg, hs, sizeof(hs)), n = 3;
		sg[n++] = (struct seg){0, 0x10, 0, len[0] / 2, false};
		sg[n++] = (struct seg){0, 0x10, 0, len[0] / 2, false};
		sg[n++] = (struct seg){0, 0x18, 1, len[0] - 1, false};
		sg[n++] = (struct seg){1, 0x18, 0, len[1], false};
		sg[n++] = (struct seg){1, 0x18, 0, len[1], false};
		RUN("retransmitted");
		/* a hole: the second half first (dropped), then both */
		memcpy(sg, hs, sizeof(hs)), n = 3;
		sg[n++] = (struct seg){0, 0x18, len[0] / 2, len[0] - len[0] / 2, false};
		sg[n++] = (struct seg){0, 0x10, 0, len[0] / 2, false};
		sg[n++] = (struct seg){0, 0x18, len[0] / 2, len[0] - len[0] / 2, false};
		sg[n++] = (struct seg){1, 0x18, 0, len[1], false};
		RUN("out of order");
		/* empty first segments both ways */
		memcpy(sg, hs, sizeof(hs)), n = 3;
		sg[n++] = (struct seg){0, 0x10, 0, 0, false};
		sg[n++] = (struct seg){1, 0x10, 0, 0, false};
		sg[n++] = (struct seg){0, 0x18, 0, len[0], false};
		sg[n++] = (struct seg){1, 0x10, 0, 0, false};
		sg[n++] = (struct seg){1, 0x18, 0, len[1], false};
		RUN("empty first segment");
		/* data before the handshake ends: the client's on its SYN
		 * (Fast Open: the SYN is dropped, the client sends it again
		 * without data), the server's before its SYN-ACK (dropped,
		 * sent again), the client's before the last ACK */
		n = 0;
		sg[n++] = (struct seg){0, 0x02, 0, len[0], true};
		sg[n++] = (struct seg){0, 0x02, 0, 0, false};
		sg[n++] = (struct seg){1, 0x18, 0, len[1], false};
		sg[n++] = (struct seg){1, 0x12, 0, 0, false};
		sg[n++] = (struct seg){0, 0x18, 0, len[0], false};
		sg[n++] = (struct seg){0, 0x10, 0, 0, false};
		sg[n++] = (struct seg){1, 0x18, 0, len[1], false};
		RUN("data before the handshake ends");
#undef RUN
	}
	printf("\n  nft ruleset + inspector vs zw_l7__eval: %lu connections, %lu cut, "
	       "%lu packets queued, %lu fast-pathed, %u disagree\n",
	       ps.runs, ps.cut, ps.queued, ps.fast, bad);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(ps.cut > 0 && ps.fast > 0 && ps.runs > ps.cut);
	vm_unload();
	zwnft_ruleset__free(rs);
	parsed_free(&p);
	zw_l7_db__free(db);
	zw_image__free(img);
}
#endif

static bool deleted(struct parsed *p, uint16_t type, const char *name);
static void live_of(struct parsed *p, struct zwnft_live *l);

static bool rule_is(struct parsed *p, const char *want)
{
	bool found = false;

	for (size_t i = 0; i < p->n_rules && !found; i++) {
		char *c = zwnft_canon_rule(p->rules[i]);

		found = !strcmp(c, want);
		free(c);
	}
	return found;
}

/* A flow's rate limit counts what it refuses in drop_<id>, its drops
 * (backend.h), kept and removed like its other counters. */
static void test_rate_drops(void)
{
	struct zw_image *a = image_of(small_yaml, NULL);
	char *yb = strdup(small_yaml), *yc = strdup(small_yaml);
	struct zwnft_ruleset *ra, *rb = NULL, *rc = NULL;
	struct parsed pa, pb;
	struct zwnft_live live;
	struct zwnft_batch bt;
	char *d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	/* b: F-2 without its rate; c: without F-1 (no rate) */
	memcpy(strstr(yb, "    rate: 5/s\n"), "#", 1);
	memcpy(strstr(yc, "  - id: F-1\n"), "#", 1);
	memcpy(strstr(yc, "    from: ops\n    to: jump\n    services: [ssh"), "#", 1);
	memcpy(strstr(yc, "    to: jump\n    services: [ssh"), "#", 1);
	memcpy(strstr(yc, "    services: [ssh, icmp-echo]"), "#", 1);
	memcpy(strstr(yc, "    justification: admins"), "#", 1);
	struct zw_image *b = image_of(yb, NULL), *c = image_of(yc, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	ra = build_and_parse(a, today, &pa);
	for (int fam = 0; fam < 2; fam++) {
		char want[600];

		snprintf(want, sizeof(want),
			 "flow_F-2: [ ct load state => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ] "
			 "[ cmp neq reg 1 0x00000000 ] [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x%08x ] "
			 "[ ct load %s => reg 1 , dir original ] [ dynset add reg_key 1 set rate%d_F-2 timeout 0ms "
			 "expr [ limit rate 5/second burst 5 type packets flags 0x1 ] ] "
			 "[ objref type 1 name zw_rate ] [ objref type 1 name drop_F-2 ] "
			 "[ log prefix zonewall-deny rate #1 group 23 snaplen 0 qthreshold 0 ] "
			 "[ immediate reg 0 drop ]",
			 fam ? NFPROTO_IPV6 : NFPROTO_IPV4, fam ? "src_ip6" : "src_ip", fam ? 6 : 4);
		CU_ASSERT(rule_is(&pa, want));
	}
	d = zwnft_ruleset__describe_flow(ra, a, 1);
	CU_ASSERT_PTR_NOT_NULL(d && strstr(d, "counter drop_F-2 { }"));
	free(d);
	/* F-1 has no rate: no drop counter but for L7 inspection (ssh),
	 * which counts its cuts there */
	{
		struct zwnft_opts no_l7;
		struct zwnft_ruleset *r0 = NULL;

		zwnft_opts__init(&no_l7);
		no_l7.queue_set = false;
		CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(a, today, &no_l7, &r0), 0);
		d = zwnft_ruleset__describe_flow(r0, a, 0);
		CU_ASSERT_PTR_NULL(d ? strstr(d, "drop_") : "?");
		free(d);
		zwnft_ruleset__free(r0);
		d = zwnft_ruleset__describe_flow(ra, a, 0);
		CU_ASSERT_PTR_NOT_NULL(d && strstr(d, "ct mark & 0xc0000000 == 0x80000000 counter name \"zw_l7_mismatch\" counter name \"drop_F-1\" log prefix \"zonewall-deny l7-mismatch #0 \" group 23 drop"));
		free(d);
	}

	/* re-apply with the objects not read: drop_F-2 goes with the rate
	 * (declared first: a table made before drop_ counters has none), the
	 * flow's other counters stay; a flow without rate has no drop_ */
	live_of(&pa, &live);
	live.objs = NULL;
	live.n_objs = 0;
	live.objs_read = false;
	CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(b, today, NULL, &rb), 0);
	CU_ASSERT_EQUAL_FATAL(zwnft_batch__build(&bt, rb, &live, 100), 0);
	parse_batch(&bt, &pb);
	CU_ASSERT(deleted(&pb, NFT_MSG_DELOBJ, "drop_F-2"));
	CU_ASSERT_FALSE(deleted(&pb, NFT_MSG_DELOBJ, "flow_F-2"));
	CU_ASSERT_FALSE(deleted(&pb, NFT_MSG_DELOBJ, "new_F-2"));
	CU_ASSERT_EQUAL(pb.n_del[NFT_MSG_DELOBJ], 1);
	bool declared = false;

	for (size_t i = 0; i < pb.n_objs; i++)
		declared |= !strcmp(nftnl_obj_get_str(pb.objs[i], NFTNL_OBJ_NAME), "drop_F-2");
	CU_ASSERT(declared);
	zwnft_batch__fini(&bt);
	parsed_free(&pb);
	CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(c, today, NULL, &rc), 0);
	CU_ASSERT_EQUAL_FATAL(zwnft_batch__build(&bt, rc, &live, 200), 0);
	parse_batch(&bt, &pb);
	CU_ASSERT(deleted(&pb, NFT_MSG_DELOBJ, "flow_F-1"));
	CU_ASSERT_FALSE(deleted(&pb, NFT_MSG_DELOBJ, "drop_F-1"));
	CU_ASSERT_FALSE(deleted(&pb, NFT_MSG_DELOBJ, "drop_F-2"));
	zwnft_batch__fini(&bt);
	parsed_free(&pb);

	zwnft_ruleset__free(ra);
	zwnft_ruleset__free(rb);
	zwnft_ruleset__free(rc);
	parsed_free(&pa);
	zw_image__free(a);
	zw_image__free(b);
	zw_image__free(c);
	free(yb);
	free(yc);
}

/* A "live" table made of what a fresh batch created. */
static void live_of(struct parsed *p, struct zwnft_live *l)
{
	memset(l, 0, sizeof(*l));
	l->genid = 42;
	l->table = p->table;
	l->owned = true;
	l->chains = p->chains;
	l->n_chains = p->n_chains;
	l->sets = p->sets;
	l->n_sets = p->n_sets;
	l->objs = p->objs;
	l->n_objs = p->n_objs;
	l->objs_read = true;
	l->rules = p->rules;
	l->n_rules = p->n_rules;
}

static bool deleted(struct parsed *p, uint16_t type, const char *name)
{
	for (size_t i = 0; i < p->n_dels; i++)
		if (p->del_types[i] == type && !strcmp(p->del_names[i], name))
			return true;
	return false;
}

static void test_reapply_batch(void)
{
	char *y1 = zw_gen__matrix(&(struct zw_gen_opts){.seed = 3, .n_zones = 9, .n_flows = 30, .ipv6 = true, .narrowing = true});
	char *y2 = zw_gen__matrix(&(struct zw_gen_opts){.seed = 3, .n_zones = 9, .n_flows = 20, .ipv6 = true, .narrowing = true});
	struct zw_image *i1 = image_of(y1, NULL), *i2 = image_of(y2, NULL);
	struct zwnft_ruleset *r1, *r2;
	struct parsed p1, p2;
	struct zwnft_live live;
	struct zwnft_batch bt;

	CU_ASSERT_PTR_NOT_NULL_FATAL(i1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(i2);
	r1 = build_and_parse(i1, today, &p1);
	live_of(&p1, &live);
	CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(i2, today, NULL, &r2), 0);
	CU_ASSERT_EQUAL_FATAL(zwnft_batch__build(&bt, r2, &live, 5000), 0);
	parse_batch(&bt, &p2);
	check_round_trip(r2, &p2, false);
	CU_ASSERT_EQUAL(p2.genid, 42);
	CU_ASSERT_PTR_NULL(p2.table); /* the table stays */
	CU_ASSERT_EQUAL(p2.n_del[NFT_MSG_DELRULE], 1);
	CU_ASSERT_EQUAL(p2.n_del[NFT_MSG_DELSET], p1.n_sets);
	/* every chain but the base chain is replaced */
	CU_ASSERT_EQUAL(p2.n_del[NFT_MSG_DELCHAIN], p1.n_chains - 1);
	CU_ASSERT_FALSE(deleted(&p2, NFT_MSG_DELCHAIN, ZWNFT_BASE_CHAIN));
	for (size_t i = 0; i < p2.n_chains; i++)
		CU_ASSERT_STRING_NOT_EQUAL(nftnl_chain_get_str(p2.chains[i], NFTNL_CHAIN_NAME),
					   ZWNFT_BASE_CHAIN);
	/* counters: kept when still wanted, deleted otherwise, added if new;
	 * after the batch the table holds exactly r2's counters */
	size_t kept = 0;

	for (size_t i = 0; i < p1.n_objs; i++) {
		const char *n = nftnl_obj_get_str(p1.objs[i], NFTNL_OBJ_NAME);
		bool wanted = false, readded = false;

		for (size_t k = 0; k < r2->n[ZWNFT_OBJ]; k++)
			wanted |= !strcmp(r2->v[ZWNFT_OBJ][k].name, n);
		for (size_t k = 0; k < p2.n_objs; k++)
			readded |= !strcmp(nftnl_obj_get_str(p2.objs[k], NFTNL_OBJ_NAME), n);
		CU_ASSERT_EQUAL(deleted(&p2, NFT_MSG_DELOBJ, n), !wanted);
		CU_ASSERT_FALSE(readded);
		kept += wanted;
	}
	CU_ASSERT(kept > 9); /* at least the global counters */
	CU_ASSERT_EQUAL(kept + p2.n_objs, r2->n[ZWNFT_OBJ]);
	zwnft_batch__fini(&bt);

	/* objects not read (the engine's apply does not dump counters): every
	 * wanted counter is declared (a no-op for those that exist), and the
	 * counters of the flow chains that leave are deleted */
	live.objs = NULL;
	live.n_objs = 0;
	live.objs_read = false;
	CU_ASSERT_EQUAL_FATAL(zwnft_batch__build(&bt, r2, &live, 7000), 0);
	parsed_free(&p2);
	parse_batch(&bt, &p2);
	CU_ASSERT_EQUAL(p2.n_objs, r2->n[ZWNFT_OBJ]);
	size_t leaving = 0;

	for (size_t i = 0; i < p1.n_chains; i++) {
		const char *cn = nftnl_chain_get_str(p1.chains[i], NFTNL_CHAIN_NAME);
		bool stays = false;

		if (strncmp(cn, "flow_", 5))
			continue;
		for (size_t k = 0; k < r2->n[ZWNFT_CHAIN]; k++)
			stays |= !strcmp(r2->v[ZWNFT_CHAIN][k].name, cn);
		char nw[ZWNFT_NAME_MAX + 8];

		snprintf(nw, sizeof(nw), "new_%s", cn + 5);
		CU_ASSERT_EQUAL(deleted(&p2, NFT_MSG_DELOBJ, cn), !stays);
		CU_ASSERT_EQUAL(deleted(&p2, NFT_MSG_DELOBJ, nw), !stays);
		leaving += !stays;
	}
	CU_ASSERT(leaving > 0);
	CU_ASSERT_EQUAL(p2.n_del[NFT_MSG_DELOBJ], 2 * leaving);
	zwnft_batch__fini(&bt);
	live_of(&p1, &live);

	/* against a table that is not there: created, no genid */
	struct zwnft_live empty = {0};

	CU_ASSERT_EQUAL(zwnft_batch__build(&bt, r2, &empty, 1), 0);
	parsed_free(&p2);
	parse_batch(&bt, &p2);
	CU_ASSERT_PTR_NOT_NULL(p2.table);
	CU_ASSERT_EQUAL(p2.n_dels, 0);
	zwnft_batch__fini(&bt);

	/* destroy: one delete of the table */
	CU_ASSERT_EQUAL(zwnft_batch__build_delete(&bt, "zonewall", &live, 9), 0);
	CU_ASSERT_EQUAL(bt.n_msgs, 1);
	zwnft_batch__fini(&bt);

	/* injected failure: one more rule, in a chain that does not exist */
	struct zwnft_ruleset *r3 = NULL;
	struct zwnft_opts o;

	zwnft_opts__init(&o);
	o.inject_failure = true;
	CU_ASSERT_EQUAL(zwnft_ruleset__build(i2, today, &o, &r3), 0);
	CU_ASSERT_EQUAL(zwnft_batch__build(&bt, r3, &live, 1), 0);
	parsed_free(&p2);
	parse_batch(&bt, &p2);
	CU_ASSERT_EQUAL(p2.n_rules, r3->n[ZWNFT_RULE] + 1);
	CU_ASSERT_STRING_EQUAL(nftnl_rule_get_str(p2.rules[p2.n_rules - 1], NFTNL_RULE_CHAIN),
			       "zw_injected_failure");
	zwnft_batch__fini(&bt);
	zwnft_ruleset__free(r3);

	parsed_free(&p2);
	zwnft_ruleset__free(r1);
	zwnft_ruleset__free(r2);
	parsed_free(&p1);
	zw_image__free(i1);
	zw_image__free(i2);
	free(y1);
	free(y2);
}

static bool drift_says(const char *drift, const char *what)
{
	return drift && strstr(drift, what);
}

static void test_drift(void)
{
	struct zw_image *img = image_of(small_yaml, NULL);
	struct zwnft_ruleset *rs;
	struct parsed p;
	struct zwnft_live live;
	char *d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	rs = build_and_parse(img, today, &p);
	live_of(&p, &live);
	live.table = NULL;
	errno = 0;
	d = zwnft_drift(rs, &live);
	CU_ASSERT(drift_says(d, "is missing"));
	free(d);
	live_of(&p, &live);
	errno = 0;
	d = zwnft_drift(rs, &live);
	if (d)
		fprintf(stderr, "\nunexpected drift:\n%s\n", d);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(errno, 0);

	/* a rule removed (the base chain's last) */
	live.n_rules = 0;
	for (size_t i = 0; i < p.n_rules; i++)
		if (strcmp(nftnl_rule_get_str(p.rules[i], NFTNL_RULE_CHAIN), ZWNFT_BASE_CHAIN) == 0)
			live.n_rules = i;
	struct nftnl_rule **copy = calloc(p.n_rules, sizeof(void *));
	size_t n = 0;

	for (size_t i = 0; i < p.n_rules; i++)
		if (i != live.n_rules)
			copy[n++] = p.rules[i];
	live.rules = copy;
	live.n_rules = n;
	d = zwnft_drift(rs, &live);
	CU_ASSERT(drift_says(d, "rule removed from chain forward"));
	free(d);
	/* same rules, other order: swap the two IPv4 block-list rules */
	memcpy(copy, p.rules, p.n_rules * sizeof(void *));
	copy[1] = p.rules[2];
	copy[2] = p.rules[1];
	live.n_rules = p.n_rules;
	d = zwnft_drift(rs, &live);
	CU_ASSERT(drift_says(d, "rules of chain forward reordered"));
	free(d);
	free(copy);
	live_of(&p, &live);

	/* a rule added by hand */
	struct nftnl_rule *extra = nftnl_rule_alloc();
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_rule_set_str(extra, NFTNL_RULE_TABLE, "zonewall");
	nftnl_rule_set_str(extra, NFTNL_RULE_CHAIN, "pair_ops_ops");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	nftnl_rule_add_expr(extra, e);
	p.rules = grow(p.rules, p.n_rules, sizeof(void *));
	p.rules[p.n_rules++] = extra;
	live_of(&p, &live);
	d = zwnft_drift(rs, &live);
	CU_ASSERT(drift_says(d, "rule added by hand in chain pair_ops_ops: [ immediate reg 0 accept ]"));
	free(d);
	nftnl_rule_free(p.rules[--p.n_rules]);

	/* an element added to a narrowing set */
	struct nftnl_set *n4 = find_set(&p, "n4_1");
	struct nftnl_set_elem *el = nftnl_set_elem_alloc();
	uint8_t key[4] = {10, 3, 0, 99};

	CU_ASSERT_PTR_NOT_NULL_FATAL(n4);
	nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key, 4);
	nftnl_set_elem_add(n4, el);
	live_of(&p, &live);
	d = zwnft_drift(rs, &live);
	CU_ASSERT(drift_says(d, "element added to set n4_1: 10.3.0.99"));
	free(d);

	/* a chain and a counter gone */
	live_of(&p, &live);
	live.n_chains--;
	live.n_objs--;
	d = zwnft_drift(rs, &live);
	CU_ASSERT(drift_says(d, "chain"));
	CU_ASSERT(drift_says(d, "object removed: counter"));
	free(d);

	/* not ours */
	live_of(&p, &live);
	live.owned = false;
	d = zwnft_drift(rs, &live);
	CU_ASSERT(drift_says(d, "ownership"));
	free(d);

	zwnft_ruleset__free(rs);
	parsed_free(&p);
	zw_image__free(img);
}

static void test_describe_flow(void)
{
	struct zw_image *img = image_of(small_yaml, NULL);
	struct zwnft_ruleset *rs = NULL;
	char *t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(img, today, NULL, &rs), 0);
	for (uint32_t f = 0; f < 2; f++) {
		char want[128];
		const char *id = zw_image__str(img, img->flows[f].id);

		t = zwnft_ruleset__describe_flow(rs, img, f);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		snprintf(want, sizeof(want), "chain flow_%s {", id);
		CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
		snprintf(want, sizeof(want), "goto flow_%s comment", id);
		CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
		snprintf(want, sizeof(want), "counter name \"flow_%s\" accept", id);
		CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
		/* nothing of the other flow */
		snprintf(want, sizeof(want), "flow_%s",
			 zw_image__str(img, img->flows[1 - f].id));
		CU_ASSERT_PTR_NULL(strstr(t, want));
		free(t);
	}
	t = zwnft_ruleset__describe_flow(rs, img, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "set n4_1 {"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "chain pair_jump_adm {"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "set rate4_F-2 {"));
	free(t);
	t = zwnft_ruleset__describe_flow(rs, img, 2); /* expired */
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "expired"));
	free(t);
	CU_ASSERT_PTR_NULL(zwnft_ruleset__describe_flow(rs, img, 99));
	zwnft_ruleset__free(rs);

	/* the text does not depend on whether the objects are built too:
	 * zw-nft-apply --print and describe_flow build text only */
	struct zwnft_ruleset *both = NULL, *text = NULL;
	char *a, *b2;

	CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(img, today, NULL, &both), 0);
	CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build_mode(img, today, NULL,
							ZWNFT_BUILD_TEXT, &text), 0);
	a = zwnft_ruleset__text(both);
	b2 = zwnft_ruleset__text(text);
	CU_ASSERT_STRING_EQUAL(a, b2);
	free(a);
	free(b2);
	for (uint32_t f = 0; f < img->n_flows; f++) {
		a = zwnft_ruleset__describe_flow(both, img, f);
		b2 = zwnft_ruleset__describe_flow(text, img, f);
		CU_ASSERT_STRING_EQUAL(a, b2);
		free(a);
		free(b2);
	}
	zwnft_ruleset__free(both);
	zwnft_ruleset__free(text);

	/* through the ops table's describer: every flow as if live */
	{
		struct zw_describer *d = zw_backend_nft.describer(img);

		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		t = zw_describer__describe(d, 2);
		zw_describer__free(d);
	}
	CU_ASSERT_PTR_NOT_NULL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "chain flow_F-3 {"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "goto flow_F-3 comment \"F-3 ssh tcp/22\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "counter name \"flow_F-3\" accept"));
	free(t);
	zw_image__free(img);
}

/*
 * The XDP engine's L7 table (opts.l7_only, docs/l7.md) against the
 * oracle: for every query, the packet of a connection zw-inspect has not
 * judged goes to the queue exactly when the oracle's flow is one with an
 * `inspect:` service or under a block-file measure; a judged one is
 * accepted, a cut one dropped (and counted); every other packet is
 * accepted (the XDP program judged it before).
 */
static void check_l7_query(struct parsed *p, const struct zw_image *img,
			   const bool *flow_l7, const struct zw_query *q,
			   struct stats *st)
{
	struct zw_verdict v;
	struct pkt k;
	struct run r;
	bool l7;
	int got[3];

	zw_eval__image(img, q, &v);
	l7 = v.allow && v.reason == ZW_VERDICT_FLOW && flow_l7[v.flow];
	pkt_of_query(q, &k);
	got[0] = vm_run(p, &k, &r);
	k.ct_mark = ZW_L7_CTMARK_PASS | 0x1234; /* other bits kept */
	got[1] = vm_run(p, &k, &r);
	k.ct_mark = ZW_L7_CTMARK_CUT;
	got[2] = vm_run(p, &k, &r);
	st->checked++;
	st->allowed += l7;
	if (got[0] != (l7 ? NF_QUEUE : NF_ACCEPT) || got[1] != NF_ACCEPT ||
	    got[2] != (l7 ? NF_DROP : NF_ACCEPT) ||
	    (l7 && !hit(&r, "zw_l7_mismatch"))) {
		if (st->mismatches++ < 10)
			fprintf(stderr, "L7 table: proto %u port %u: flow %d l7 %d: "
				"verdicts %d %d %d\n", q->proto, q->port,
				v.flow == ZW_NO_FLOW ? -1 : (int)v.flow, l7, got[0],
				got[1], got[2]);
	}
}

static void test_l7_only(void)
{
	static const char *const files[] = {"matrix/examples/minimal.yaml",
					    "matrix/examples/piams.yaml"};
	struct zw_fileblock fb = {ZW_FT_EXECUTABLE, NULL, NULL};
	struct stats st = {0};

	for (size_t i = 0; i < 4; i++) {
		struct zw_compile_opts co = {.fileblock = &fb, .n_fileblock = 1};
		char *yaml = read_file(files[i / 2]);
		struct zw_matrix *m = yaml ? parse_ok(yaml) : NULL;
		struct zw_image *img = m ? image_of(yaml, i % 2 ? &co : NULL) : NULL;
		struct zwnft_opts o;
		struct zwnft_ruleset *rs = NULL;
		struct zwnft_batch bt;
		struct parsed pa;
		bool *flow_l7;
		uint64_t seed = 300 + i;

		CU_ASSERT_PTR_NOT_NULL_FATAL(img);
		flow_l7 = calloc(img->n_flows + 1, sizeof(bool));
		for (uint32_t r = 0; r < img->n_rules; r++)
			if (img->services[img->rules[r].service].inspect &&
			    zw_image__flow_live(img, img->rules[r].flow, today))
				flow_l7[img->rules[r].flow] = true;
		for (uint32_t f = 0; f < img->n_flows; f++)
			if (img->n_fileblock && zw_image__flow_live(img, f, today))
				flow_l7[f] = true; /* any zone to any zone */
		zwnft_opts__init(&o);
		snprintf(o.table, sizeof(o.table), "zonewall_xdp_l7");
		o.queue_set = true;
		o.queue = 9;
		o.l7_only = true;
		CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(img, today, &o, &rs), 0);
		CU_ASSERT_EQUAL_FATAL(zwnft_batch__build(&bt, rs, NULL, 1000), 0);
		parse_batch(&bt, &pa);
		check_round_trip(rs, &pa, true);
		check_references(rs, &pa);
		CU_ASSERT_EQUAL(base_policy(&pa), NF_ACCEPT);
		/* none of the L3/L4 part: the XDP program's */
		CU_ASSERT_PTR_NULL(find_set(&pa, "block4"));
		for (size_t r = 0; r < rs->n[ZWNFT_RULE]; r++)
			CU_ASSERT(!strstr(rs->v[ZWNFT_RULE][r].text, "limit") &&
				  !strstr(rs->v[ZWNFT_RULE][r].text, "log "));
		vm_load(&pa);
		for (unsigned n = 0; n < 3000; n++) {
			struct zw_query q;

			zw_gen__query(m, &seed, today, &q);
			q.day = today;
			check_l7_query(&pa, img, flow_l7, &q, &st);
		}
		vm_unload();
		zwnft_batch__fini(&bt);
		zwnft_ruleset__free(rs);
		parsed_free(&pa);
		free(flow_l7);
		zw_image__free(img);
		zw_matrix__free(m);
		free(yaml);
	}
	printf("\n  L7 table vs oracle: %lu queries, %lu inspected, %lu mismatches\n",
	       st.checked, st.allowed, st.mismatches);
	CU_ASSERT_EQUAL(st.mismatches, 0);
	CU_ASSERT(st.allowed > 0 && st.allowed < st.checked);
}

static void test_opts(void)
{
	struct zwnft_opts o;
	char err[200];

	CU_ASSERT_EQUAL(zwnft_opts__parse(&o, "", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(o.table, "zonewall");
	CU_ASSERT_EQUAL(o.priority, 0);
	CU_ASSERT_EQUAL(zwnft_opts__parse(&o, "table=zw_t1,priority=-10,log_group=5",
					  err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(o.table, "zw_t1");
	CU_ASSERT_EQUAL(o.priority, -10);
	CU_ASSERT_EQUAL(o.log_group, 5);
	CU_ASSERT_EQUAL(zwnft_opts__parse(&o, "table=a b", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(zwnft_opts__parse(&o, "priority=9999", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(zwnft_opts__parse(&o, "colour=blue", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(zwnft_opts__parse(&o, "table", err, sizeof(err)), -EINVAL);
}

static int strp_cmp_t(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------------ */
/* prepare: the kernel checks the batch without its end */

static void test_check_batch(void)
{
	struct zw_image *img = image_of(small_yaml, NULL);
	struct zwnft_ruleset *rs = NULL;
	struct zwnft_live live = {.genid = 42};
	struct zwnft_batch bt;
	struct iovec *full = NULL, *chk = NULL;
	size_t n_full = 0, n_chk = 0, b_full = 0, b_chk = 0;
	char *buf, *at;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build(img, today, NULL, &rs), 0);
	CU_ASSERT_EQUAL_FATAL(zwnft_batch__build(&bt, rs, &live, 1000), 0);
	CU_ASSERT_EQUAL(bt.end_len, NLMSG_ALIGN(sizeof(struct nlmsghdr) +
						sizeof(struct nfgenmsg)));
	CU_ASSERT_EQUAL_FATAL(zwnft_batch__iovec(&bt, false, &full, &n_full), 0);
	CU_ASSERT_EQUAL_FATAL(zwnft_batch__iovec(&bt, true, &chk, &n_chk), 0);
	for (size_t i = 0; i < n_full; i++)
		b_full += full[i].iov_len;
	for (size_t i = 0; i < n_chk; i++)
		b_chk += chk[i].iov_len;
	CU_ASSERT_EQUAL(b_full, bt.bytes);
	CU_ASSERT_EQUAL(b_chk, bt.bytes - bt.end_len);

	/* the same bytes, the end message left out */
	buf = malloc(b_chk + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	at = buf;
	for (size_t i = 0; i < n_chk; i++) {
		memcpy(at, chk[i].iov_base, chk[i].iov_len);
		at += chk[i].iov_len;
	}
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf, *last = NULL;
	int len = (int)b_chk;
	bool begin = false, end = false;
	uint32_t genid = 0;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
			struct nlattr *a;

			begin = true;
			mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
				if (mnl_attr_get_type(a) == NFNL_BATCH_GENID)
					genid = ntohl(mnl_attr_get_u32(a));
		}
		if (nlh->nlmsg_type == NFNL_MSG_BATCH_END)
			end = true;
		last = nlh;
	}
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT(begin);
	CU_ASSERT_FALSE(end);
	CU_ASSERT_EQUAL(genid, 42);
	/* its last message is the one whose ack closes the exchange */
	CU_ASSERT_PTR_NOT_NULL_FATAL(last);
	CU_ASSERT_EQUAL(last->nlmsg_seq, bt.seq_last);
	CU_ASSERT(last->nlmsg_flags & NLM_F_ACK);
	/* and the full batch ends with the end message */
	CU_ASSERT_EQUAL(memcmp(buf, full[0].iov_base,
			       full[0].iov_len < b_chk ? full[0].iov_len : b_chk), 0);
	free(buf);
	free(full);
	free(chk);
	zwnft_batch__fini(&bt);
	zwnft_ruleset__free(rs);
	zw_image__free(img);
}

/* ------------------------------------------------------------------ */
/* read-back in matrix terms */

/* Comma-separated prefixes of family @v6 (or all), sorted, those inside
 * another of the list left out (nft merges them into one range). */
static void norm_prefixes(const char *list, int fam, char *out, size_t n)
{
	struct zw_prefix p[256];
	char *copy = strdup(list), *save = NULL, *tok;
	size_t np = 0, len = 0;

	out[0] = '\0';
	for (tok = strtok_r(copy, ",", &save); tok && np < 256;
	     tok = strtok_r(NULL, ",", &save)) {
		struct zw_prefix x;

		if (zw_prefix__parse(tok, &x) == 0 &&
		    (fam == 0 || x.family == fam))
			p[np++] = x;
	}
	free(copy);
	char *txt[256];
	size_t nt = 0;

	for (size_t i = 0; i < np; i++) {
		bool inside = false;

		for (size_t j = 0; j < np && !inside; j++)
			if (j != i && zw_prefix__contains(&p[j], &p[i]) &&
			    (!zw_prefix__contains(&p[i], &p[j]) || j < i))
				inside = true;
		if (!inside) {
			char b[64];

			txt[nt++] = strdup(zw_prefix__format(&p[i], b));
		}
	}
	qsort(txt, nt, sizeof(char *), strp_cmp_t);
	for (size_t i = 0; i < nt; i++) {
		len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s",
					i ? "," : "", txt[i]);
		free(txt[i]);
	}
}

static bool has_family(const char *list, int fam)
{
	char tmp[4096];

	norm_prefixes(list, fam, tmp, sizeof(tmp));
	return tmp[0] != '\0';
}

/* One held rule as a line, up to what is the same to a packet: the
 * families a rule can match (a source narrowed to IPv4 only and a
 * destination to IPv6 only match nothing), nested prefixes, "any" and
 * the full range. NULL: the rule matches nothing. */
static char *held_line(const struct zw_held_rule *r)
{
	char src[4096] = "zone", dst[4096] = "zone", ports[32], *out;
	int fams = 0;

	for (int f = ZW_AF_INET; f <= ZW_AF_INET6; f += 2)
		if ((!r->src || has_family(r->src, f)) &&
		    (!r->dst || has_family(r->dst, f)))
			fams |= f == ZW_AF_INET ? 1 : 2;
	if (!fams)
		return NULL;
	if (r->src)
		norm_prefixes(r->src, fams == 3 ? 0 : fams == 1 ? ZW_AF_INET : ZW_AF_INET6,
			      src, sizeof(src));
	if (r->dst)
		norm_prefixes(r->dst, fams == 3 ? 0 : fams == 1 ? ZW_AF_INET : ZW_AF_INET6,
			      dst, sizeof(dst));
	bool ports_p = r->proto == 6 || r->proto == 17 || r->proto == 132 ||
		       r->proto == 33 || r->proto == 136;
	bool icmp = r->proto == 1 || r->proto == 58;

	if (r->any || (!ports_p && !icmp) ||
	    (ports_p && r->lo == 0 && r->hi == 65535) ||
	    (icmp && r->lo == 0 && r->hi >= 255))
		snprintf(ports, sizeof(ports), "any");
	else
		snprintf(ports, sizeof(ports), "%u-%u", r->lo, r->hi);
	if (asprintf(&out, "%s -> %s proto %u %s flow %s src %s dst %s",
		     r->from, r->to, r->proto, ports, r->flow_id, src, dst) < 0)
		return NULL;
	return out;
}

static char **held_lines(const struct zw_backend_state *st, size_t *n)
{
	char **v = calloc(st->n_rules + 1, sizeof(char *));

	*n = 0;
	for (size_t i = 0; v && i < st->n_rules; i++)
		if ((v[*n] = held_line(&st->rules[i])))
			(*n)++;
	if (v)
		qsort(v, *n, sizeof(char *), strp_cmp_t);
	return v;
}

static void check_held(const struct zw_image *img, int32_t day,
		       unsigned long *checked, unsigned long *narrowed)
{
	struct zw_backend_state got = {0}, want = {0};
	struct zwnft_live live;
	struct parsed p;
	struct zwnft_ruleset *rs = build_and_parse(img, day, &p);
	char **g, **w;
	size_t ng, nw;

	live_of(&p, &live);
	CU_ASSERT_EQUAL(zwnft_live__held_rules(&live, &got), 0);
	CU_ASSERT(got.rules_known);
	CU_ASSERT_EQUAL(zw_backend_state__add_image_rules(&want, img, day), 0);
	for (size_t i = 0; i < got.n_rules; i++) {
		CU_ASSERT_PTR_NOT_NULL(got.rules[i].engine_text);
		CU_ASSERT(got.rules[i].flow_id[0] != '\0');
		if (got.rules[i].src || got.rules[i].dst)
			(*narrowed)++;
	}
	g = held_lines(&got, &ng);
	w = held_lines(&want, &nw);
	CU_ASSERT_EQUAL(ng, nw);
	for (size_t i = 0, j = 0; i < ng || j < nw;) {
		int c = i == ng ? 1 : j == nw ? -1 : strcmp(g[i], w[j]);

		if (c)
			printf("\n  %s %s", c < 0 ? "held, not in the image:" :
						   "in the image, not held:",
			       c < 0 ? g[i] : w[j]);
		CU_ASSERT_EQUAL(c, 0);
		if (c)
			break;
		i++;
		j++;
	}
	*checked += nw;
	for (size_t i = 0; i < ng; i++)
		free(g[i]);
	for (size_t j = 0; j < nw; j++)
		free(w[j]);
	free(g);
	free(w);
	zw_backend_state__fini(&got);
	zw_backend_state__fini(&want);
	zwnft_ruleset__free(rs);
	parsed_free(&p);
}

static void test_held_generated(void)
{
	unsigned long checked = 0, narrowed = 0;

	for (unsigned k = 1; k <= 24; k++) {
		struct zw_gen_opts o = {
			.seed = 1000 + k,
			.n_zones = 7 + k % 12,
			.n_flows = 5 + (k * 7) % 60,
			.n_services = k % 10,
			.ipv6 = k % 3 != 0,
			.narrowing = k % 2 == 0 || k % 5 == 0,
			.expiry = k % 4 == 0,
			.edges = k % 6 == 0,
		};
		char *yaml = zw_gen__matrix(&o);
		struct zw_image *img = image_of(yaml, NULL);

		CU_ASSERT_PTR_NOT_NULL(img);
		for (int d = -1; img && d <= 1; d++)
			check_held(img, today + d * 40, &checked, &narrowed);
		zw_image__free(img);
		free(yaml);
	}
	printf("\n  read-back in matrix terms: %lu rules, %lu narrowed\n",
	       checked, narrowed);
	CU_ASSERT(checked > 100);
	CU_ASSERT(narrowed > 10);
}

static void test_held_examples(void)
{
	unsigned long checked = 0, narrowed = 0;
	static const char *const files[] = {"matrix/examples/minimal.yaml",
					    "matrix/examples/piams.yaml"};

	for (size_t i = 0; i < 2; i++) {
		char *yaml = read_file(files[i]);
		struct zw_image *img = yaml ? image_of(yaml, NULL) : NULL;

		CU_ASSERT_PTR_NOT_NULL(img);
		if (img)
			check_held(img, today, &checked, &narrowed);
		zw_image__free(img);
		free(yaml);
	}
	CU_ASSERT(checked > 10);
}

/* tcp dport 9999 accept, as `nft add rule ... pair_ops_jump` makes it */
static struct nftnl_rule *hand_rule(const char *table, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *e;
	uint8_t tcp = 6;
	uint16_t port = htons(9999);

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	e = nftnl_expr_alloc("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &tcp, 1);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &port, 2);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	nftnl_rule_add_expr(r, e);
	return r;
}

static void test_held_by_hand(void)
{
	struct zw_image *img = image_of(small_yaml, NULL);
	struct zw_backend_state st = {0};
	struct zwnft_live live;
	struct parsed p;
	struct zwnft_ruleset *rs;
	struct nftnl_chain *fc;
	size_t at = 0, hand = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	rs = build_and_parse(img, today, &p);
	/* the hand rule goes at the end of pair_ops_jump */
	for (size_t i = 0; i < p.n_rules; i++)
		if (!strcmp(nftnl_rule_get_str(p.rules[i], NFTNL_RULE_CHAIN),
			    "pair_ops_jump"))
			at = i + 1;
	CU_ASSERT_FATAL(at > 0);
	p.rules = grow(p.rules, p.n_rules, sizeof(void *));
	memmove(&p.rules[at + 1], &p.rules[at],
		(p.n_rules - at) * sizeof(void *));
	p.rules[at] = hand_rule(rs->opts.table, "pair_ops_jump");
	p.n_rules++;
	live_of(&p, &live);
	/* a foreign table's forward chain, and one on a hook we do not use */
	struct nftnl_chain *fv[2];

	for (int k = 0; k < 2; k++) {
		fc = nftnl_chain_alloc();
		nftnl_chain_set_u32(fc, NFTNL_CHAIN_FAMILY, NFPROTO_IPV4);
		nftnl_chain_set_str(fc, NFTNL_CHAIN_TABLE, "bystander");
		nftnl_chain_set_str(fc, NFTNL_CHAIN_NAME, k ? "in" : "fwd");
		nftnl_chain_set_str(fc, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(fc, NFTNL_CHAIN_HOOKNUM,
				    k ? NF_INET_LOCAL_IN : NF_INET_FORWARD);
		nftnl_chain_set_s32(fc, NFTNL_CHAIN_PRIO, -10);
		nftnl_chain_set_u32(fc, NFTNL_CHAIN_POLICY, NF_DROP);
		fv[k] = fc;
	}
	live.foreign = fv;
	live.n_foreign = 2;

	CU_ASSERT_EQUAL(zwnft_live__held_rules(&live, &st), 0);
	CU_ASSERT_EQUAL(zwnft_live__foreign(&live, 0, &st), 0);
	for (size_t i = 0; i < st.n_rules; i++) {
		const struct zw_held_rule *r = &st.rules[i];

		if (r->flow_id[0])
			continue;
		hand++;
		CU_ASSERT_STRING_EQUAL(r->from, "ops");
		CU_ASSERT_STRING_EQUAL(r->to, "jump");
		CU_ASSERT_EQUAL(r->proto, 6);
		CU_ASSERT_FALSE(r->any);
		CU_ASSERT_EQUAL(r->lo, 9999);
		CU_ASSERT_EQUAL(r->hi, 9999);
		CU_ASSERT_PTR_NULL(r->src);
		CU_ASSERT_PTR_NULL(r->dst);
		CU_ASSERT_PTR_NOT_NULL(r->engine_text);
		if (r->engine_text)
			CU_ASSERT_PTR_NOT_NULL(strstr(r->engine_text,
						      "pair_ops_jump: "));
	}
	CU_ASSERT_EQUAL(hand, 1);
	CU_ASSERT_EQUAL_FATAL(st.n_foreign, 1);
	CU_ASSERT_STRING_EQUAL(st.foreign[0],
			       "table ip bystander chain fwd: type filter hook forward "
			       "priority -10 policy drop (runs before zonewall's)");
	nftnl_chain_free(fv[0]);
	nftnl_chain_free(fv[1]);
	zw_backend_state__fini(&st);
	zwnft_ruleset__free(rs);
	parsed_free(&p);
	zw_image__free(img);
}

/* The flows that mark their new connections for the records: those with
 * log: true, every one with --log-all-flows (opts.log_all), each with its
 * own index + 1, L7's bits kept. */
static void test_record_marks(void)
{
	struct zw_image *img = image_of(small_yaml, NULL);
	struct zwnft_opts o;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	zwnft_opts__init(&o);
	for (int all = 0; all < 2; all++) {
		struct zwnft_ruleset *rs = NULL;
		size_t chains = 0, marked = 0;
		char *text;

		o.log_all = all;
		CU_ASSERT_EQUAL_FATAL(zwnft_ruleset__build_mode(img, today, &o,
								ZWNFT_BUILD_TEXT, &rs), 0);
		text = zwnft_ruleset__text(rs);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		for (size_t i = 0; i < rs->n[ZWNFT_CHAIN]; i++) {
			uint32_t f = rs->v[ZWNFT_CHAIN][i].flow;
			char want[128];
			bool logged;

			if (f == ZW_NO_FLOW)
				continue;
			chains++;
			logged = all || (img->flows[f].flags & ZW_IMG_FLOW_LOG);
			snprintf(want, sizeof(want),
				 "ct state new ct mark set ct mark & 0xc0000000 | 0x%08x\n",
				 f + 1);
			CU_ASSERT_EQUAL(strstr(text, want) != NULL, logged);
			marked += logged;
		}
		CU_ASSERT(chains >= 2);
		/* small_yaml: one flow with log: true */
		CU_ASSERT_EQUAL(marked, all ? chains : 1);
		free(text);
		zwnft_ruleset__free(rs);
	}
	zw_image__free(img);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	today = zw_date__today();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("nft", NULL, NULL);
	CU_add_test(s, "golden bytecode of a small matrix", test_golden_bytecode);
	CU_add_test(s, "interpreter agrees with the oracle (generated)", test_differential_generated);
	CU_add_test(s, "interpreter agrees with the oracle (examples)", test_differential_examples);
	CU_add_test(s, "crisis block list", test_block_list);
	CU_add_test(s, "IPv6: AH is protocol 51, bad extension chains", test_ipv6_ah);
#ifdef ZW_HAVE_L7
	CU_add_test(s, "payloads: ruleset + inspector agree with zw_l7__eval", test_payload_differential);
#endif
	CU_add_test(s, "rate limit: per-flow drops", test_rate_drops);
	CU_add_test(s, "re-apply batch: flush and refill", test_reapply_batch);
	CU_add_test(s, "drift detection", test_drift);
	CU_add_test(s, "describe_flow", test_describe_flow);
	CU_add_test(s, "prepare: the check is the batch without its end", test_check_batch);
	CU_add_test(s, "read-back: held rules are the image's (generated)", test_held_generated);
	CU_add_test(s, "read-back: held rules are the image's (examples)", test_held_examples);
	CU_add_test(s, "read-back: a rule by hand, foreign base chains", test_held_by_hand);
	CU_add_test(s, "options", test_opts);
	CU_add_test(s, "the XDP engine's L7 table against the oracle", test_l7_only);
	CU_add_test(s, "records: flows that mark their connections", test_record_marks);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
