// SPDX-License-Identifier: BSD-2-Clause
/*
 * Canonical one-line forms of nftables objects. A rule built by
 * nft_expr.c and the same rule dumped back from the kernel give the same
 * line: counter values, handles, positions and kernel-assigned ids are
 * left out. Drift detection and the unit tests compare these lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#include <zonewall/policy.h>

#include "zwnft.h"

struct comment_ctx {
	uint8_t type;
	char *out;
};

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	struct comment_ctx *c = data;
	const char *v = nftnl_udata_get(attr);
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) != c->type || len == 0 || c->out)
		return 0;
	c->out = strndup(v, len);
	return 0;
}

char *zwnft_udata_comment(const void *data, uint32_t len, uint8_t type)
{
	struct comment_ctx c = {.type = type};

	if (!data || !len)
		return NULL;
	if (nftnl_udata_parse(data, len, comment_cb, &c) < 0) {
		free(c.out);
		return NULL;
	}
	if (c.out)
		c.out[strnlen(c.out, len)] = '\0';
	return c.out;
}

static void hex_into(struct zwnft_buf *b, const void *p, uint32_t len)
{
	const uint8_t *d = p;
	char h[2 * 32 + 1];

	for (uint32_t off = 0; off < len; off += 32) {
		zw_hex(d + off, len - off < 32 ? len - off : 32, h);
		zwnft_buf__puts(b, h);
	}
}

/* A key: an address when it has an address's size, else hex. */
static void key_into(struct zwnft_buf *b, const void *p, uint32_t len)
{
	char a[INET6_ADDRSTRLEN];

	if ((len == 4 || len == 16) &&
	    inet_ntop(len == 4 ? AF_INET : AF_INET6, p, a, sizeof(a))) {
		zwnft_buf__puts(b, a);
		return;
	}
	zwnft_buf__puts(b, "0x");
	hex_into(b, p, len);
}

static void expr_canon(struct zwnft_buf *b, struct nftnl_expr *e)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	char tmp[1024];

	if (strcmp(name, "counter") == 0) {
		zwnft_buf__puts(b, "[ counter ]");
		return;
	}
	tmp[0] = '\0';
	nftnl_expr_snprintf(tmp, sizeof(tmp), e, NFTNL_OUTPUT_DEFAULT, 0);
	/* squeeze runs of spaces: the printers pad some fields */
	char *w = tmp;

	for (char *r = tmp; *r; r++) {
		if (*r == ' ' && (w == tmp || w[-1] == ' '))
			continue;
		*w++ = *r;
	}
	while (w > tmp && w[-1] == ' ')
		w--;
	*w = '\0';
	zwnft_buf__printf(b, "[ %s %s ]", name, tmp);
}

char *zwnft_canon_rule(const struct nftnl_rule *r)
{
	struct zwnft_buf b = {0};
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	uint32_t ulen = 0;
	const void *ud;
	char *c;

	zwnft_buf__printf(&b, "%s:", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	it = nftnl_expr_iter_create(r);
	if (!it) {
		zwnft_buf__fini(&b);
		errno = ENOMEM;
		return NULL;
	}
	while ((e = nftnl_expr_iter_next(it))) {
		zwnft_buf__puts(&b, " ");
		expr_canon(&b, e);
	}
	nftnl_expr_iter_destroy(it);
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
	c = zwnft_udata_comment(ud, ulen, NFTNL_UDATA_RULE_COMMENT);
	if (c) {
		zwnft_buf__printf(&b, " comment \"%s\"", c);
		free(c);
	}
	return zwnft_buf__take(&b);
}

char *zwnft_canon_chain(const struct nftnl_chain *ch)
{
	struct zwnft_buf b = {0};
	uint32_t ulen = 0;
	const void *ud;
	char *c;

	zwnft_buf__printf(&b, "chain %s",
			  nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM)) {
		zwnft_buf__printf(
			&b, " type %s hook %u priority %d policy %u",
			nftnl_chain_is_set(ch, NFTNL_CHAIN_TYPE) ?
				nftnl_chain_get_str(ch, NFTNL_CHAIN_TYPE) :
				"?",
			nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM),
			nftnl_chain_get_s32(ch, NFTNL_CHAIN_PRIO),
			nftnl_chain_is_set(ch, NFTNL_CHAIN_POLICY) ?
				nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY) :
				NF_ACCEPT);
	}
	ud = nftnl_chain_get_data(ch, NFTNL_CHAIN_USERDATA, &ulen);
	c = zwnft_udata_comment(ud, ulen, NFTNL_UDATA_CHAIN_COMMENT);
	if (c) {
		zwnft_buf__printf(&b, " comment \"%s\"", c);
		free(c);
	}
	return zwnft_buf__take(&b);
}

char *zwnft_canon_set(const struct nftnl_set *s)
{
	struct zwnft_buf b = {0};
	uint32_t flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);

	zwnft_buf__printf(&b, "set %s flags 0x%x key %u/%u",
			  nftnl_set_get_str(s, NFTNL_SET_NAME), flags,
			  nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
			  nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN));
	if (flags & NFT_SET_MAP)
		zwnft_buf__printf(&b, " data 0x%x",
				  nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE));
	if (flags & NFT_SET_TIMEOUT)
		zwnft_buf__printf(&b, " timeout %llu",
				  (unsigned long long)nftnl_set_get_u64(
					  s, NFTNL_SET_TIMEOUT));
	if (nftnl_set_is_set(s, NFTNL_SET_DESC_SIZE) &&
	    (flags & NFT_SET_EVAL))
		zwnft_buf__printf(&b, " size %u",
				  nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE));
	return zwnft_buf__take(&b);
}

char *zwnft_canon_obj(struct nftnl_obj *o)
{
	struct zwnft_buf b = {0};

	uint32_t t = nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE);

	if (t == NFT_OBJECT_COUNTER)
		zwnft_buf__printf(&b, "counter %s",
				  nftnl_obj_get_str(o, NFTNL_OBJ_NAME));
	else
		zwnft_buf__printf(&b, "object %s type %u",
				  nftnl_obj_get_str(o, NFTNL_OBJ_NAME), t);
	return zwnft_buf__take(&b);
}

struct elems_ctx {
	char **v;
	size_t n;
	size_t cap;
	int err;
};

static int elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct elems_ctx *c = data;
	struct zwnft_buf b = {0};
	uint32_t len = 0;
	const void *p;
	char *s;

	p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	key_into(&b, p, len);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
		p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
		zwnft_buf__puts(&b, "-");
		key_into(&b, p, len);
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)) {
		uint32_t f = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS);

		if (f == NFT_SET_ELEM_INTERVAL_END)
			zwnft_buf__puts(&b, " (interval end)");
		else if (f)
			zwnft_buf__printf(&b, " flags %u", f);
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
		int v = (int)nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT);

		zwnft_buf__printf(&b, " : %s", v == NFT_GOTO ? "goto" :
					       v == NFT_JUMP ? "jump" :
					       v == NF_ACCEPT ? "accept" :
					       v == NF_DROP ? "drop" : "verdict");
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
			zwnft_buf__printf(&b, " %s",
					  nftnl_set_elem_get_str(
						  e, NFTNL_SET_ELEM_CHAIN));
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
		p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
		zwnft_buf__puts(&b, " data ");
		hex_into(&b, p, len);
	}
	s = zwnft_buf__take(&b);
	if (!s)
		goto oom;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		char **v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			free(s);
			goto oom;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = s;
	return 0;
oom:
	c->err = -ENOMEM;
	return -1;
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **zwnft_canon_elems(struct nftnl_set *s, size_t *n)
{
	struct elems_ctx c = {0};

	nftnl_set_elem_foreach(s, elem_cb, &c);
	if (c.err) {
		zwnft_strv_free(c.v, c.n);
		*n = 0;
		errno = ENOMEM;
		return NULL;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(c.v[0]), strp_cmp);
	*n = c.n;
	if (!c.v) {
		c.v = malloc(sizeof(char *));
		if (!c.v)
			errno = ENOMEM;
	}
	return c.v;
}
