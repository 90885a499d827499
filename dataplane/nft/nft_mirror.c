// SPDX-License-Identifier: BSD-2-Clause
/*
 * Mirroring to probes (REQUIREMENTS D1, docs/nft-engine.md "Probes"): the
 * table `netdev <table>_mirror`, nftables' own mechanism for copying a
 * packet to another device (`dup to "DEV"`, nft_dup_netdev).
 *
 * For each enforced interface (nft:mirror=A+B), an ingress chain copies
 * what arrives, before any verdict, to the probes that want denied
 * packets too; an egress chain copies what leaves, i.e. what the forward
 * chain let through, to the probes that want allowed packets only. A
 * packet crosses the appliance in by one enforced interface and out by
 * another, so each hook sees it once, and the replies of a connection
 * cross the same hooks the other way: both directions, once each. The
 * match is the zone prefixes of the probe's zones on the source, then on
 * the destination of a packet whose source is not in them (so a packet
 * between two watched zones is copied once).
 *
 * The table is rebuilt whole in the engine's one batch (delete, then
 * create), so the mirror follows the policy atomically. Reads use a
 * netlink socket of their own: the table is small and the inet engine's
 * reader is bound to family inet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <zonewall/policy.h>

#include "nft_build.h"
#include "zwnft.h"

#define PRIO_INGRESS (-500) /* before anything else on the device */
#define PRIO_EGRESS 500	    /* after anything else on the device */
#define SET_ID_BASE 0x40000000u /* batch-local set ids, clear of the
				  * inet table's (1, 2, 3...) */

struct mdup {
	char probe[33]; /* a probe name: 32 characters at most */
	char dev[IFNAMSIZ];
	uint32_t ifindex;
};

struct zwnft_mirror {
	char table[96];
	bool live, live_owned; /* the table exists (and is ours) */
	bool want;	       /* the image has probes */
	struct nftnl_table *t;
	struct nftnl_set **sets;
	size_t n_sets;
	struct nftnl_chain **chains;
	size_t n_chains;
	struct nftnl_rule **rules;
	size_t n_rules;
	struct mdup *dups; /* one per probe */
	size_t n_dups;
};

static int push(void ***v, size_t *n, void *x)
{
	void **nv;

	if (!x)
		return -ENOMEM;
	nv = realloc(*v, (*n + 1) * sizeof(void *));
	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = x;
	*v = nv;
	return 0;
}

void zwnft_mirror__free(struct zwnft_mirror *m)
{
	if (!m)
		return;
	if (m->t)
		nftnl_table_free(m->t);
	for (size_t i = 0; i < m->n_sets; i++)
		nftnl_set_free(m->sets[i]);
	for (size_t i = 0; i < m->n_chains; i++)
		nftnl_chain_free(m->chains[i]);
	for (size_t i = 0; i < m->n_rules; i++)
		nftnl_rule_free(m->rules[i]);
	free(m->sets);
	free(m->chains);
	free(m->rules);
	free(m->dups);
	free(m);
}

/* ---- reading the live table (own socket) ---- */

struct live {
	struct nftnl_table *t;
	struct nftnl_chain **chains;
	size_t n_chains;
	struct nftnl_set **sets;
	size_t n_sets;
	struct nftnl_rule **rules;
	size_t n_rules;
	const char *table;
};

static void live_free(struct live *l)
{
	if (l->t)
		nftnl_table_free(l->t);
	for (size_t i = 0; i < l->n_chains; i++)
		nftnl_chain_free(l->chains[i]);
	for (size_t i = 0; i < l->n_sets; i++)
		nftnl_set_free(l->sets[i]);
	for (size_t i = 0; i < l->n_rules; i++)
		nftnl_rule_free(l->rules[i]);
	free(l->chains);
	free(l->sets);
	free(l->rules);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct live *l = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0 || l->t ||
	    strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), l->table)) {
		nftnl_table_free(t);
		return MNL_CB_OK;
	}
	l->t = t;
	return MNL_CB_OK;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct live *l = data;
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0 ||
	    strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), l->table)) {
		nftnl_chain_free(c);
		return MNL_CB_OK;
	}
	return push((void ***)&l->chains, &l->n_chains, c) ? MNL_CB_ERROR
							   : MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct live *l = data;
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_nlmsg_parse(nlh, s) < 0 ||
	    strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), l->table)) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	return push((void ***)&l->sets, &l->n_sets, s) ? MNL_CB_ERROR
						       : MNL_CB_OK;
}

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	return nftnl_set_elems_nlmsg_parse(nlh, data) < 0 ? MNL_CB_ERROR
							  : MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct live *l = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0 ||
	    strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), l->table)) {
		nftnl_rule_free(r);
		return MNL_CB_OK;
	}
	return push((void ***)&l->rules, &l->n_rules, r) ? MNL_CB_ERROR
							 : MNL_CB_OK;
}

static int talk(struct mnl_socket *nl, char *buf, size_t len,
		struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq, port = mnl_socket_get_portid(nl);
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, len);

		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, port, cb, data);
		if (ret < 0)
			return errno == ENOENT ? 0 : -(errno ? errno : EIO);
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* Read table netdev @table with everything in it (@full) or only whether
 * it exists. */
static int live_read(const char *table, bool full, struct live *l)
{
	size_t len = MNL_SOCKET_BUFFER_SIZE * 4;
	char *buf = malloc(len);
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	uint32_t seq = (uint32_t)time(NULL);
	struct nlmsghdr *nlh;
	int ret = -ENOMEM;

	memset(l, 0, sizeof(*l));
	l->table = table;
	if (!buf)
		goto out;
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_NETDEV,
				    NLM_F_DUMP, seq++);
	if ((ret = talk(nl, buf, len, nlh, table_cb, l)) || !l->t || !full)
		goto out;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_NETDEV,
				    NLM_F_DUMP, seq++);
	if ((ret = talk(nl, buf, len, nlh, chain_cb, l)))
		goto out;
	struct nftnl_set *q = nftnl_set_alloc();

	if (!q) {
		ret = -ENOMEM;
		goto out;
	}
	nftnl_set_set_str(q, NFTNL_SET_TABLE, table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_NETDEV,
				    NLM_F_DUMP, seq++);
	nftnl_set_nlmsg_build_payload(nlh, q);
	nftnl_set_free(q);
	if ((ret = talk(nl, buf, len, nlh, set_cb, l)))
		goto out;
	for (size_t i = 0; i < l->n_sets; i++) {
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM,
					    NFPROTO_NETDEV, NLM_F_DUMP, seq++);
		nftnl_set_elems_nlmsg_build_payload(nlh, l->sets[i]);
		if ((ret = talk(nl, buf, len, nlh, elem_cb, l->sets[i])))
			goto out;
	}
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_NETDEV,
				    NLM_F_DUMP, seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	ret = talk(nl, buf, len, nlh, rule_cb, l);
out:
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	if (ret)
		live_free(l);
	return ret;
}

static bool table_owned(const struct nftnl_table *t)
{
	uint32_t ulen = 0;
	const void *ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &ulen);
	char *c = zwnft_udata_comment(ud, ulen, NFTNL_UDATA_TABLE_COMMENT);
	bool ours = c && !strncmp(c, ZWNFT_OWNER_MARK, strlen(ZWNFT_OWNER_MARK));

	free(c);
	return ours;
}

/* ---- building ---- */

static struct nftnl_expr *ex(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

static int addr_match(struct nftnl_rule *r, uint32_t off, uint32_t w,
		      const char *set, bool inv)
{
	struct nftnl_expr *e = ex(r, "payload");

	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
			   NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, w);
	e = ex(r, "lookup");
	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS,
			   inv ? NFT_LOOKUP_F_INV : 0);
	return 0;
}

/* One copy rule: [source in @set] or [source not in @set, destination in
 * it] (@dst), then dup to @d. */
static int add_rule(struct zwnft_mirror *m, const char *chain, int fam,
		    const char *set, bool dst, const struct mdup *d)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	uint16_t proto = htons(fam == 4 ? 0x0800 : 0x86dd);
	uint32_t w = fam == 4 ? 4 : 16, src = fam == 4 ? 12 : 8;
	struct nftnl_expr *e;
	char comment[128];
	int ret = -ENOMEM;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_NETDEV);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, m->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	if (!(e = ex(r, "meta")))
		goto err;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_PROTOCOL);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	if (!(e = ex(r, "cmp")))
		goto err;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &proto, sizeof(proto));
	if ((ret = addr_match(r, src, w, set, dst)))
		goto err;
	if (dst && (ret = addr_match(r, src + w, w, set, false)))
		goto err;
	ret = -ENOMEM;
	if (!ex(r, "counter") || !(e = ex(r, "immediate")))
		goto err;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DATA, d->ifindex);
	if (!(e = ex(r, "dup")))
		goto err;
	nftnl_expr_set_u32(e, NFTNL_EXPR_DUP_SREG_DEV, NFT_REG_1);
	snprintf(comment, sizeof(comment), "probe %s", d->probe);
	if ((ret = zwnft_udata_set_comment(r, ZWNFT_RULE,
					   NFTNL_UDATA_RULE_COMMENT, comment)))
		goto err;
	return push((void ***)&m->rules, &m->n_rules, r);
err:
	nftnl_rule_free(r);
	return ret;
}

struct ival {
	uint8_t lo[16], hi[16];
};

static int ival_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ival *)a)->lo, ((const struct ival *)b)->lo,
		      16);
}

static void inc(uint8_t *a, int w)
{
	for (int i = w - 1; i >= 0; i--)
		if (++a[i])
			return;
}

static bool all(const uint8_t *a, int w, uint8_t v)
{
	for (int i = 0; i < w; i++)
		if (a[i] != v)
			return false;
	return true;
}

static int elem(struct nftnl_set *s, const uint8_t *key, int w, bool end)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return -ENOMEM;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)w);
	if (end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS,
				       NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(s, e);
	return 0;
}

/* The set of the prefixes (family @fam) of probe @p's zones, or 0 and
 * *@made false when it has none. */
static int add_set(struct zwnft_mirror *m, const struct zw_image *img,
		   const struct zw_img_probe *p, int fam, const char *name,
		   bool *made)
{
	int w = fam == 4 ? 4 : 16;
	uint32_t n = fam == 4 ? img->n_prefix4 : img->n_prefix6, k = 0;
	struct ival *v = calloc(n + 1, sizeof(*v));
	struct nftnl_set *s = NULL;
	uint8_t zero[16] = {0};
	int ret = -ENOMEM;

	*made = false;
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *a = fam == 4 ? img->prefix4[i].addr : img->prefix6[i].addr;
		uint8_t len = fam == 4 ? img->prefix4[i].len : img->prefix6[i].len;
		uint16_t zone = fam == 4 ? img->prefix4[i].zone : img->prefix6[i].zone;
		bool in = false;

		for (uint32_t z = p->first; z < p->first + p->count; z++)
			in |= img->probe_zones[z].zone == zone;
		if (!in)
			continue;
		for (int b = 0; b < w; b++) {
			int bits = len - 8 * b;
			uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));

			v[k].lo[b] = a[b] & mask;
			v[k].hi[b] = (uint8_t)(a[b] | (uint8_t)~mask);
		}
		k++;
	}
	if (!k) {
		free(v);
		return 0;
	}
	/* sorted, then merged where they overlap or touch (a zone's
	 * prefixes may nest or be adjacent) */
	qsort(v, k, sizeof(*v), ival_cmp);
	uint32_t o = 0;

	for (uint32_t i = 1; i < k; i++) {
		uint8_t next[16];

		memcpy(next, v[o].hi, 16);
		if (!all(next, w, 0xff))
			inc(next, w);
		if (all(v[o].hi, w, 0xff) || memcmp(v[i].lo, next, 16) <= 0) {
			if (memcmp(v[i].hi, v[o].hi, 16) > 0)
				memcpy(v[o].hi, v[i].hi, 16);
			continue;
		}
		v[++o] = v[i];
	}
	k = o + 1;

	s = nftnl_set_alloc();
	if (!s)
		goto out;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, m->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_NETDEV);
	nftnl_set_set_u32(s, NFTNL_SET_ID, SET_ID_BASE + (uint32_t)m->n_sets);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE,
			  fam == 4 ? 7 /* ipv4_addr */ : 8 /* ipv6_addr */);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t)w);
	if (!all(v[0].lo, w, 0) && (ret = elem(s, zero, w, true)))
		goto out;
	for (uint32_t i = 0; i < k; i++) {
		uint8_t next[16];

		if ((ret = elem(s, v[i].lo, w, false)))
			goto out;
		if (!all(v[i].hi, w, 0xff)) {
			memcpy(next, v[i].hi, 16);
			inc(next, w);
			if ((ret = elem(s, next, w, true)))
				goto out;
		}
	}
	if ((ret = push((void ***)&m->sets, &m->n_sets, s)))
		goto out;
	s = NULL;
	*made = true;
	ret = 0;
out:
	if (s)
		nftnl_set_free(s);
	free(v);
	return ret;
}

static int add_chain(struct zwnft_mirror *m, const char *name,
		     const char *dev, bool egress)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_NETDEV);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, m->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM,
			    egress ? NF_NETDEV_EGRESS : NF_NETDEV_INGRESS);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO,
			    egress ? PRIO_EGRESS : PRIO_INGRESS);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, dev);
	return push((void ***)&m->chains, &m->n_chains, c);
}

int zwnft_mirror__refresh(struct zwnft_mirror *m, char *err, size_t err_len)
{
	struct live l;
	int ret = live_read(m->table, false, &l);

	if (ret) {
		snprintf(err, err_len, "reading table netdev %s: %s", m->table,
			 strerror(-ret));
		return ret;
	}
	m->live = l.t != NULL;
	m->live_owned = l.t && table_owned(l.t);
	live_free(&l);
	if (m->live && !m->live_owned) {
		snprintf(err, err_len,
			 "table netdev %s exists and is not zonewall's (no \"%s\" comment): refusing to touch it",
			 m->table, ZWNFT_OWNER_MARK);
		return -EEXIST;
	}
	return 0;
}

int zwnft_mirror__build(const struct zw_image *img, const struct zwnft_opts *o,
			struct zwnft_mirror **out, char *err, size_t err_len)
{
	struct zwnft_mirror *m = calloc(1, sizeof(*m));
	int ret;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	snprintf(m->table, sizeof(m->table), "%s" ZWNFT_MIRROR_SUFFIX, o->table);
	m->want = img->n_probes > 0;
	if ((ret = zwnft_mirror__refresh(m, err, err_len)))
		goto err;
	if (!m->want) {
		*out = m;
		return 0;
	}
	if (!o->n_mirror) {
		const struct zw_img_probe *p = &img->probes[0];

		snprintf(err, err_len,
			 "probe '%s' (interface %s): the nft engine mirrors the traffic of the enforced interfaces, which it is not told: start it with --backend nft:mirror=IF[+IF...]",
			 zw_image__str(img, p->name),
			 zw_image__str(img, p->interface));
		ret = -EINVAL;
		goto err;
	}
	for (size_t i = 0; i < o->n_mirror; i++)
		if (!if_nametoindex(o->mirror[i])) {
			snprintf(err, err_len,
				 "nft:mirror=: interface %s not found in this network namespace (probe '%s' cannot receive its traffic)",
				 o->mirror[i],
				 zw_image__str(img, img->probes[0].name));
			ret = -ENODEV;
			goto err;
		}
	m->dups = calloc(img->n_probes, sizeof(*m->dups));
	if (!m->dups) {
		ret = -ENOMEM;
		goto err;
	}
	for (uint32_t i = 0; i < img->n_probes; i++) {
		const struct zw_img_probe *p = &img->probes[i];
		struct mdup *d = &m->dups[m->n_dups++];

		snprintf(d->probe, sizeof(d->probe), "%s", zw_image__str(img, p->name));
		snprintf(d->dev, sizeof(d->dev), "%s", zw_image__str(img, p->interface));
		d->ifindex = if_nametoindex(d->dev);
		if (!d->ifindex) {
			snprintf(err, err_len,
				 "probe '%s': interface %s not found in this network namespace",
				 d->probe, d->dev);
			ret = -ENODEV;
			goto err;
		}
		for (size_t k = 0; k < o->n_mirror; k++)
			if (!strcmp(o->mirror[k], d->dev)) {
				snprintf(err, err_len,
					 "probe '%s': interface %s is also an enforced interface (nft:mirror=): a probe interface receives copies only",
					 d->probe, d->dev);
				ret = -EINVAL;
				goto err;
			}
	}

	m->t = nftnl_table_alloc();
	if (!m->t) {
		ret = -ENOMEM;
		goto err;
	}
	nftnl_table_set_str(m->t, NFTNL_TABLE_NAME, m->table);
	nftnl_table_set_u32(m->t, NFTNL_TABLE_FAMILY, NFPROTO_NETDEV);
	nftnl_table_set_u32(m->t, NFTNL_TABLE_FLAGS, 0);
	if ((ret = zwnft_udata_set_comment(m->t, -1, NFTNL_UDATA_TABLE_COMMENT,
					   ZWNFT_OWNER_COMMENT)))
		goto err;

	/* sets: p4_<probe>, p6_<probe> */
	bool *made = calloc(img->n_probes * 2, sizeof(*made));
	bool any_all = false, any_allowed = false;

	if (!made) {
		ret = -ENOMEM;
		goto err;
	}
	for (uint32_t i = 0; i < img->n_probes && !ret; i++) {
		const struct zw_img_probe *p = &img->probes[i];
		char name[64];

		for (int f = 0; f < 2 && !ret; f++) {
			snprintf(name, sizeof(name), "p%d_%s", f ? 6 : 4,
				 m->dups[i].probe);
			ret = add_set(m, img, p, f ? 6 : 4, name, &made[2 * i + f]);
		}
		if (p->flags & ZW_IMG_PROBE_DENIED)
			any_all = true;
		else
			any_allowed = true;
	}
	for (size_t k = 0; k < o->n_mirror && !ret; k++) {
		for (int eg = 0; eg < 2 && !ret; eg++) {
			char chain[64];

			if (eg ? !any_allowed : !any_all)
				continue;
			snprintf(chain, sizeof(chain), "%s_%s", eg ? "out" : "in",
				 o->mirror[k]);
			if ((ret = add_chain(m, chain, o->mirror[k], eg)))
				break;
			for (uint32_t i = 0; i < img->n_probes && !ret; i++) {
				bool denied = img->probes[i].flags & ZW_IMG_PROBE_DENIED;

				if (denied == (bool)eg)
					continue;
				for (int f = 0; f < 2 && !ret; f++) {
					char set[64];

					if (!made[2 * i + f])
						continue;
					snprintf(set, sizeof(set), "p%d_%s",
						 f ? 6 : 4, m->dups[i].probe);
					ret = add_rule(m, chain, f ? 6 : 4, set,
						       false, &m->dups[i]);
					if (!ret)
						ret = add_rule(m, chain, f ? 6 : 4,
							       set, true,
							       &m->dups[i]);
				}
			}
		}
	}
	free(made);
	if (ret) {
		snprintf(err, err_len, "building table netdev %s: %s", m->table,
			 strerror(-ret));
		goto err;
	}
	*out = m;
	return 0;
err:
	zwnft_mirror__free(m);
	return ret;
}

/* ---- the batch ---- */

struct emit {
	struct zwnft_batch *bt;
	uint32_t *seq;
	struct nlmsghdr **last;
	int err;
};

static struct nlmsghdr *hdr(struct emit *e, uint16_t type, uint16_t flags,
			    const char *what)
{
	struct zwnft_batch *bt = e->bt;
	struct nlmsghdr *nlh;

	if (e->err)
		return NULL;
	if (bt->n_refs == bt->cap_refs) {
		size_t cap = bt->cap_refs ? bt->cap_refs * 2 : 64;
		struct zwnft_msgref *v = realloc(bt->refs, cap * sizeof(*v));

		if (!v) {
			e->err = -ENOMEM;
			return NULL;
		}
		bt->refs = v;
		bt->cap_refs = cap;
	}
	nlh = nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bt->b), type,
				    NFPROTO_NETDEV, flags, *e->seq);
	bt->refs[bt->n_refs++] = (struct zwnft_msgref){*e->seq, type, what};
	(*e->seq)++;
	return nlh;
}

static void next(struct emit *e, struct nlmsghdr *nlh)
{
	if (e->err || !nlh)
		return;
	*e->last = nlh;
	e->bt->n_msgs++;
	e->bt->bytes += nlh->nlmsg_len;
	if (nftnl_batch_update(e->bt->b) < 0)
		e->err = -ENOMEM;
}

int zwnft_mirror__emit(const struct zwnft_mirror *m, struct zwnft_batch *bt,
		       uint32_t *seq, struct nlmsghdr **last)
{
	struct emit e = {bt, seq, last, 0};
	struct nlmsghdr *nlh;

	if (m->live) {
		/* what an earlier version installed goes, whole */
		struct nftnl_table *t = nftnl_table_alloc();

		if (!t)
			return -ENOMEM;
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, m->table);
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_NETDEV);
		if ((nlh = hdr(&e, NFT_MSG_DELTABLE, 0, m->table)))
			nftnl_table_nlmsg_build_payload(nlh, t);
		next(&e, nlh);
		nftnl_table_free(t);
	}
	if (!m->want)
		return e.err;
	if ((nlh = hdr(&e, NFT_MSG_NEWTABLE, NLM_F_CREATE, m->table)))
		nftnl_table_nlmsg_build_payload(nlh, m->t);
	next(&e, nlh);
	for (size_t i = 0; i < m->n_sets; i++) {
		const char *name = nftnl_set_get_str(m->sets[i], NFTNL_SET_NAME);

		if ((nlh = hdr(&e, NFT_MSG_NEWSET, NLM_F_CREATE, name)))
			nftnl_set_nlmsg_build_payload(nlh, m->sets[i]);
		next(&e, nlh);
		if ((nlh = hdr(&e, NFT_MSG_NEWSETELEM, NLM_F_CREATE, name)))
			nftnl_set_elems_nlmsg_build_payload(nlh, m->sets[i]);
		next(&e, nlh);
	}
	for (size_t i = 0; i < m->n_chains; i++) {
		const char *name = nftnl_chain_get_str(m->chains[i], NFTNL_CHAIN_NAME);

		if ((nlh = hdr(&e, NFT_MSG_NEWCHAIN, NLM_F_CREATE, name)))
			nftnl_chain_nlmsg_build_payload(nlh, m->chains[i]);
		next(&e, nlh);
	}
	for (size_t i = 0; i < m->n_rules; i++) {
		const char *name = nftnl_rule_get_str(m->rules[i], NFTNL_RULE_CHAIN);

		if ((nlh = hdr(&e, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
			       name)))
			nftnl_rule_nlmsg_build_payload(nlh, m->rules[i]);
		next(&e, nlh);
	}
	return e.err;
}

/* ---- drift ---- */

static char *chain_line(const struct nftnl_chain *c)
{
	char *base = zwnft_canon_chain(c), *s = NULL;
	const char *dev = NULL;

	if (!base)
		return NULL;
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEV))
		dev = nftnl_chain_get_str(c, NFTNL_CHAIN_DEV);
	else if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEVICES)) {
		const char *const *v = nftnl_chain_get_array(c, NFTNL_CHAIN_DEVICES);

		dev = v && v[0] ? v[0] : NULL;
	}
	if (asprintf(&s, "%s device %s", base, dev ? dev : "(none)") < 0)
		s = NULL;
	free(base);
	return s;
}

struct lines {
	char **v;
	size_t n;
	bool oom;
};

static void add_line(struct lines *l, char *s)
{
	if (!s || push((void ***)&l->v, &l->n, s)) {
		free(s);
		l->oom = true;
	}
}

static void add_set_lines(struct lines *l, struct nftnl_set *s)
{
	size_t n = 0;
	char **el = zwnft_canon_elems(s, &n);
	const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);

	add_line(l, zwnft_canon_set(s));
	if (!el) {
		l->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char *x = NULL;

		if (asprintf(&x, "element of %s: %s", name, el[i]) < 0)
			x = NULL;
		add_line(l, x);
	}
	zwnft_strv_free(el, n);
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int zwnft_mirror__drift(const struct zwnft_mirror *m, struct zwnft_buf *out)
{
	struct lines want = {0}, have = {0};
	struct live l;
	int n = 0, ret = live_read(m->table, true, &l);

	if (ret)
		return ret;
	if (!l.t) {
		if (m->want) {
			zwnft_buf__printf(out, "table netdev %s (mirroring to probes) is missing\n",
					  m->table);
			n++;
		}
		goto done;
	}
	if (!m->want) {
		zwnft_buf__printf(out, "table netdev %s is present though no probe asks for it\n",
				  m->table);
		n++;
		goto done;
	}
	for (size_t i = 0; i < m->n_dups; i++) {
		unsigned now = if_nametoindex(m->dups[i].dev);

		if (now != m->dups[i].ifindex) {
			zwnft_buf__printf(out,
					  "probe '%s': interface %s is now %s%u, the mirror sends to index %u\n",
					  m->dups[i].probe, m->dups[i].dev,
					  now ? "index " : "gone, ", now,
					  m->dups[i].ifindex);
			n++;
		}
	}
	for (size_t i = 0; i < m->n_chains; i++)
		add_line(&want, chain_line(m->chains[i]));
	for (size_t i = 0; i < m->n_sets; i++)
		add_set_lines(&want, m->sets[i]);
	for (size_t i = 0; i < m->n_rules; i++)
		add_line(&want, zwnft_canon_rule(m->rules[i]));
	for (size_t i = 0; i < l.n_chains; i++)
		add_line(&have, chain_line(l.chains[i]));
	for (size_t i = 0; i < l.n_sets; i++)
		add_set_lines(&have, l.sets[i]);
	for (size_t i = 0; i < l.n_rules; i++)
		add_line(&have, zwnft_canon_rule(l.rules[i]));
	if (want.oom || have.oom) {
		ret = -ENOMEM;
		goto done;
	}
	qsort(want.v, want.n, sizeof(char *), strp_cmp);
	qsort(have.v, have.n, sizeof(char *), strp_cmp);
	for (size_t i = 0, j = 0; i < want.n || j < have.n;) {
		int c = i == want.n ? 1 : j == have.n ? -1 : strcmp(want.v[i], have.v[j]);

		if (!c) {
			i++, j++;
			continue;
		}
		zwnft_buf__printf(out, "mirror table %s: %s %s\n", m->table,
				  c < 0 ? "missing" : "not ours",
				  c < 0 ? want.v[i] : have.v[j]);
		n++;
		if (c < 0)
			i++;
		else
			j++;
	}
done:
	zwnft_strv_free(want.v, want.n);
	zwnft_strv_free(have.v, have.n);
	live_free(&l);
	return ret ? ret : n;
}

int zwnft_mirror__destroy(const char *table, char *err, size_t err_len)
{
	char name[96], buf[8192];
	struct mnl_socket *nl = NULL;
	struct mnl_nlmsg_batch *b;
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	struct live l;
	uint32_t seq = (uint32_t)time(NULL);
	int ret;

	snprintf(name, sizeof(name), "%s" ZWNFT_MIRROR_SUFFIX, table);
	ret = live_read(name, false, &l);
	if (ret) {
		snprintf(err, err_len, "reading table netdev %s: %s", name,
			 strerror(-ret));
		return ret;
	}
	bool ours = l.t && table_owned(l.t);

	live_free(&l);
	if (!ours)
		return 0; /* nothing of ours to remove */
	b = mnl_nlmsg_batch_start(buf, sizeof(buf));
	t = nftnl_table_alloc();
	ret = -ENOMEM;
	if (!b || !t)
		goto out;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_NETDEV);
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b),
				    NFT_MSG_DELTABLE, NFPROTO_NETDEV, NLM_F_ACK,
				    seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	mnl_nlmsg_batch_next(b);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b),
			      mnl_nlmsg_batch_size(b)) < 0) {
		ret = -errno;
		goto out;
	}
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

	if (n < 0)
		ret = -errno;
	else if (mnl_cb_run(buf, (size_t)n, seq - 2, mnl_socket_get_portid(nl),
			    NULL, NULL) < 0)
		ret = -errno;
	else
		ret = 0;
out:
	if (ret)
		snprintf(err, err_len, "removing table netdev %s: %s", name,
			 strerror(-ret));
	if (nl)
		mnl_socket_close(nl);
	if (t)
		nftnl_table_free(t);
	if (b)
		mnl_nlmsg_batch_stop(b);
	return ret;
}

int zwnft_mirror__drift_append(const struct zw_image *img,
			       const struct zwnft_opts *o, char **drift)
{
	struct zwnft_buf b = {0};
	struct zwnft_mirror *m = NULL;
	char err[256];
	int ret;

	if (*drift)
		zwnft_buf__printf(&b, "%s\n", *drift);
	ret = zwnft_mirror__build(img, o, &m, err, sizeof(err));
	if (ret == -ENOMEM)
		goto out;
	if (ret) {
		/* what a commit would refuse now is a drift of what was
		 * committed: an interface gone, a foreign table */
		zwnft_buf__printf(&b, "mirror to probes: %s\n", err);
		ret = 0;
	} else {
		ret = zwnft_mirror__drift(m, &b);
		if (ret > 0)
			ret = 0;
	}
	if (ret)
		goto out;
	if (b.oom) {
		ret = -ENOMEM;
		goto out;
	}
	if (b.len) {
		char *s = zwnft_buf__take(&b);

		if (!s) {
			ret = -ENOMEM;
			goto out;
		}
		if (s[0] && s[strlen(s) - 1] == '\n')
			s[strlen(s) - 1] = '\0';
		free(*drift);
		*drift = s;
	}
out:
	zwnft_buf__fini(&b);
	zwnft_mirror__free(m);
	return ret;
}
