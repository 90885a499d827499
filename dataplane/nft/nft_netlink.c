// SPDX-License-Identifier: BSD-2-Clause
/*
 * Netlink side of the nftables engine (libmnl): read the generation id and
 * our table back, send one batch and collect the kernel's verdict on it.
 * The socket lives in the network namespace of the calling thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/gen.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "zwnft.h"

#define RECV_BUF (256u << 10)

struct zwnft_sock {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *buf;
};

struct zwnft_sock *zwnft_sock__open(char *err, size_t err_len)
{
	struct zwnft_sock *s = calloc(1, sizeof(*s));
	int one = 1, e;

	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->buf = malloc(RECV_BUF);
	if (!s->buf)
		goto err_nomem;
	s->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!s->nl) {
		e = errno;
		snprintf(err, err_len, "netlink socket: %s", strerror(e));
		goto err;
	}
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		e = errno;
		snprintf(err, err_len, "netlink bind: %s", strerror(e));
		goto err;
	}
	/* Errors carry only the header of the failed message (not the whole
	 * message), and an explanation when the kernel has one. */
	setsockopt(mnl_socket_get_fd(s->nl), SOL_NETLINK, NETLINK_CAP_ACK, &one,
		   sizeof(one));
	setsockopt(mnl_socket_get_fd(s->nl), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL) << 8;
	return s;
err_nomem:
	e = ENOMEM;
	snprintf(err, err_len, "out of memory");
err:
	zwnft_sock__free(s);
	errno = e;
	return NULL;
}

void zwnft_sock__free(struct zwnft_sock *s)
{
	if (!s)
		return;
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s->buf);
	free(s);
}

uint32_t zwnft_sock__portid(const struct zwnft_sock *s)
{
	return s->portid;
}

uint32_t zwnft_sock__seq(struct zwnft_sock *s, uint32_t n)
{
	uint32_t seq = s->seq;

	s->seq += n;
	return seq;
}

/* ------------------------------------------------------------------ */
/* dumps */

struct dump_ctx {
	int (*cb)(const struct nlmsghdr *nlh, void *data);
	void *data;
	bool intr;
	int err;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		c->intr = true;
	if (c->cb(nlh, c->data) < 0) {
		c->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* Send a request and feed every answer to @cb until the dump ends (or,
 * for a plain get, the one answer). Returns 0 or -errno (-EINTR: the
 * ruleset changed during the dump, read again). */
static int talk(struct zwnft_sock *s, struct nlmsghdr *nlh,
		int (*cb)(const struct nlmsghdr *, void *), void *data)
{
	struct dump_ctx c = {.cb = cb, .data = data};
	uint32_t seq = nlh->nlmsg_seq;
	bool dump = nlh->nlmsg_flags & NLM_F_DUMP;
	int ret;

	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, s->buf, RECV_BUF);

		if (n < 0)
			return -errno;
		ret = mnl_cb_run(s->buf, (size_t)n, seq, s->portid, dump_cb, &c);
		if (ret < 0)
			return c.err ? c.err : -errno;
		if (ret == MNL_CB_STOP || !dump)
			break;
	}
	return c.intr ? -EINTR : 0;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();

	if (!g)
		return -1;
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return 0;
}

static int read_genid(struct zwnft_sock *s, uint32_t *genid)
{
	char buf[16384];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN,
						     AF_UNSPEC, 0,
						     zwnft_sock__seq(s, 1));

	return talk(s, nlh, gen_cb, genid);
}

struct collect {
	struct zwnft_live *l;
	const char *table;
	unsigned what;
};

static bool ours(const char *table_attr, uint32_t family, const char *table)
{
	return family == NFPROTO_INET && table_attr &&
	       strcmp(table_attr, table) == 0;
}

static int push(void ***v, size_t *n, void *x)
{
	void **nv = realloc(*v, (*n + 1) * sizeof(void *));

	if (!nv)
		return -1;
	nv[*n] = x;
	*v = nv;
	(*n)++;
	return 0;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collect *c = data;
	struct nftnl_table *t = nftnl_table_alloc();
	uint32_t ulen = 0;

	if (!t)
		return -1;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0 ||
	    !ours(nftnl_table_get_str(t, NFTNL_TABLE_NAME),
		  nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), c->table) ||
	    c->l->table) {
		nftnl_table_free(t);
		return 0;
	}
	c->l->table = t;
	const void *ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &ulen);
	char *cm = zwnft_udata_comment(ud, ulen, NFTNL_UDATA_TABLE_COMMENT);

	c->l->owned = cm && strncmp(cm, ZWNFT_OWNER_MARK,
				    strlen(ZWNFT_OWNER_MARK)) == 0;
	free(cm);
	return 0;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collect *c = data;
	struct nftnl_chain *x = nftnl_chain_alloc();

	if (!x)
		return -1;
	if (nftnl_chain_nlmsg_parse(nlh, x) < 0) {
		nftnl_chain_free(x);
		return 0;
	}
	if (!ours(nftnl_chain_get_str(x, NFTNL_CHAIN_TABLE),
		  nftnl_chain_get_u32(x, NFTNL_CHAIN_FAMILY), c->table)) {
		uint32_t f = nftnl_chain_get_u32(x, NFTNL_CHAIN_FAMILY);

		/* another table's base chain that sees what we see */
		bool keep = (c->what & ZWNFT_READ_FOREIGN) &&
			    nftnl_chain_is_set(x, NFTNL_CHAIN_HOOKNUM) &&
			    (f == NFPROTO_INET || f == NFPROTO_IPV4 ||
			     f == NFPROTO_IPV6);

		if (keep && push((void ***)&c->l->foreign, &c->l->n_foreign, x)) {
			nftnl_chain_free(x);
			return -1;
		}
		if (!keep)
			nftnl_chain_free(x);
		return 0;
	}
	if (push((void ***)&c->l->chains, &c->l->n_chains, x)) {
		nftnl_chain_free(x);
		return -1;
	}
	return 0;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collect *c = data;
	struct nftnl_set *x = nftnl_set_alloc();

	if (!x)
		return -1;
	if (nftnl_set_nlmsg_parse(nlh, x) < 0 ||
	    !ours(nftnl_set_get_str(x, NFTNL_SET_TABLE),
		  nftnl_set_get_u32(x, NFTNL_SET_FAMILY), c->table)) {
		nftnl_set_free(x);
		return 0;
	}
	if (push((void ***)&c->l->sets, &c->l->n_sets, x)) {
		nftnl_set_free(x);
		return -1;
	}
	return 0;
}

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	return nftnl_set_elems_nlmsg_parse(nlh, data) < 0 ? -1 : 0;
}

static int obj_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collect *c = data;
	struct nftnl_obj *x = nftnl_obj_alloc();

	if (!x)
		return -1;
	if (nftnl_obj_nlmsg_parse(nlh, x) < 0 ||
	    !ours(nftnl_obj_get_str(x, NFTNL_OBJ_TABLE),
		  nftnl_obj_get_u32(x, NFTNL_OBJ_FAMILY), c->table)) {
		nftnl_obj_free(x);
		return 0;
	}
	if (push((void ***)&c->l->objs, &c->l->n_objs, x)) {
		nftnl_obj_free(x);
		return -1;
	}
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collect *c = data;
	struct nftnl_rule *x = nftnl_rule_alloc();

	if (!x)
		return -1;
	if (nftnl_rule_nlmsg_parse(nlh, x) < 0 ||
	    !ours(nftnl_rule_get_str(x, NFTNL_RULE_TABLE),
		  nftnl_rule_get_u32(x, NFTNL_RULE_FAMILY), c->table)) {
		nftnl_rule_free(x);
		return 0;
	}
	if (push((void ***)&c->l->rules, &c->l->n_rules, x)) {
		nftnl_rule_free(x);
		return -1;
	}
	return 0;
}

void zwnft_live__free(struct zwnft_live *l)
{
	if (!l)
		return;
	if (l->table)
		nftnl_table_free(l->table);
	for (size_t i = 0; i < l->n_chains; i++)
		nftnl_chain_free(l->chains[i]);
	for (size_t i = 0; i < l->n_sets; i++)
		nftnl_set_free(l->sets[i]);
	for (size_t i = 0; i < l->n_objs; i++)
		nftnl_obj_free(l->objs[i]);
	for (size_t i = 0; i < l->n_rules; i++)
		nftnl_rule_free(l->rules[i]);
	for (size_t i = 0; i < l->n_foreign; i++)
		nftnl_chain_free(l->foreign[i]);
	free(l->foreign);
	free(l->chains);
	free(l->sets);
	free(l->objs);
	free(l->rules);
	memset(l, 0, sizeof(*l));
}

static int read_once(struct zwnft_sock *s, const char *table, unsigned what,
		     struct zwnft_live *l)
{
	char buf[16384];
	struct collect c = {.l = l, .table = table, .what = what};
	struct nlmsghdr *nlh;
	uint32_t gen_after = 0;
	int ret;

	if ((ret = read_genid(s, &l->genid)))
		return ret;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET,
				    NLM_F_DUMP, zwnft_sock__seq(s, 1));
	if ((ret = talk(s, nlh, table_cb, &c)))
		return ret;
	if (!l->table && !(what & ZWNFT_READ_FOREIGN))
		goto check_gen;

	/* one dump of every family when foreign base chains are wanted */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN,
				    (what & ZWNFT_READ_FOREIGN) ? NFPROTO_UNSPEC :
								  NFPROTO_INET,
				    NLM_F_DUMP, zwnft_sock__seq(s, 1));
	if ((ret = talk(s, nlh, chain_cb, &c)))
		return ret;
	if (!l->table)
		goto check_gen;

	struct nftnl_set *q = nftnl_set_alloc();

	if (!q)
		return -ENOMEM;
	nftnl_set_set_str(q, NFTNL_SET_TABLE, table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET,
				    NLM_F_DUMP, zwnft_sock__seq(s, 1));
	nftnl_set_nlmsg_build_payload(nlh, q);
	nftnl_set_free(q);
	if ((ret = talk(s, nlh, set_cb, &c)))
		return ret;

	/* A dump of many objects costs the kernel quadratic time (it walks
	 * the list from the start for each 32 KiB): only when needed. */
	if ((what & ZWNFT_READ_OBJS) ||
	    ((what & ZWNFT_READ_OBJS_IF_SMALL) &&
	     l->n_chains <= ZWNFT_SMALL_TABLE_CHAINS)) {
		struct nftnl_obj *o = nftnl_obj_alloc();

		if (!o)
			return -ENOMEM;
		nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, table);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, NFPROTO_INET,
					    NLM_F_DUMP, zwnft_sock__seq(s, 1));
		nftnl_obj_nlmsg_build_payload(nlh, o);
		nftnl_obj_free(o);
		if ((ret = talk(s, nlh, obj_cb, &c)))
			return ret;
		l->objs_read = true;
	}

	if (what & ZWNFT_READ_RULES) {
		/* Rules chain by chain: a dump restarts its walk from the first
		 * rule of the table for every 32 KiB it returns, so one dump of
		 * 500 000 rules costs minutes; one dump per chain does not. */
		for (size_t i = 0; i < l->n_chains; i++) {
			struct nftnl_rule *r = nftnl_rule_alloc();

			if (!r)
				return -ENOMEM;
			nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
			nftnl_rule_set_str(r, NFTNL_RULE_CHAIN,
					   nftnl_chain_get_str(l->chains[i],
							       NFTNL_CHAIN_NAME));
			nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE,
						    NFPROTO_INET, NLM_F_DUMP,
						    zwnft_sock__seq(s, 1));
			nftnl_rule_nlmsg_build_payload(nlh, r);
			nftnl_rule_free(r);
			if ((ret = talk(s, nlh, rule_cb, &c)))
				return ret;
		}
		for (size_t i = 0; i < l->n_sets; i++) {
			nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM,
						    NFPROTO_INET, NLM_F_DUMP,
						    zwnft_sock__seq(s, 1));
			nftnl_set_elems_nlmsg_build_payload(nlh, l->sets[i]);
			if ((ret = talk(s, nlh, elem_cb, l->sets[i])))
				return ret;
		}
	}
check_gen:
	if ((ret = read_genid(s, &gen_after)))
		return ret;
	return gen_after == l->genid ? 0 : -EINTR;
}

int zwnft_sock__read(struct zwnft_sock *s, const char *table, unsigned what,
		     struct zwnft_live *out, char *err, size_t err_len)
{
	int ret = -EINTR;

	memset(out, 0, sizeof(*out));
	for (int tries = 0; tries < 8 && ret == -EINTR; tries++) {
		zwnft_live__free(out);
		ret = read_once(s, table, what, out);
	}
	if (ret) {
		snprintf(err, err_len, "reading table inet %s: %s", table,
			 strerror(-ret));
		zwnft_live__free(out);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* sending a batch */

static const char *msg_name(uint16_t type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE: return "add table";
	case NFT_MSG_DELTABLE: return "delete table";
	case NFT_MSG_NEWCHAIN: return "add chain";
	case NFT_MSG_DELCHAIN: return "delete chain";
	case NFT_MSG_NEWRULE: return "add rule in chain";
	case NFT_MSG_DELRULE: return "flush rules of table";
	case NFT_MSG_NEWSET: return "add set";
	case NFT_MSG_DELSET: return "delete set";
	case NFT_MSG_NEWSETELEM: return "add elements to set";
	case NFT_MSG_NEWOBJ: return "add counter";
	case NFT_MSG_DELOBJ: return "delete counter";
	default: return "message";
	}
}

static const struct zwnft_msgref *ref_of(const struct zwnft_batch *bt,
					 uint32_t seq)
{
	size_t lo = 0, hi = bt->n_refs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (bt->refs[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < bt->n_refs && bt->refs[lo].seq == seq ? &bt->refs[lo] : NULL;
}

/* NLMSGERR_ATTR_MSG of an extended ack, if any. */
static const char *ext_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	mnl_attr_for_each(a, nlh, off)
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG)
			return mnl_attr_get_str(a);
	return NULL;
}

/* Send @bt (all of it, or with @check all but its end) and read the
 * kernel's answers to it. */
static int send_batch(struct zwnft_sock *s, struct zwnft_batch *bt, bool check,
		      char *err, size_t err_len)
{
	struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
	int fd = mnl_socket_get_fd(s->nl);
	struct iovec *iov = NULL;
	size_t n_iov = 0;
	struct msghdr msg = {
		.msg_name = &snl,
		.msg_namelen = sizeof(snl),
	};
	int first_err = 0, sndbuf;
	uint32_t err_seq = 0;
	bool acked = false;
	char reason[256] = "";
	int ret = zwnft_batch__iovec(bt, check, &iov, &n_iov);

	if (ret) {
		snprintf(err, err_len, "the batch: %s", strerror(-ret));
		return ret;
	}
	msg.msg_iov = iov;
	msg.msg_iovlen = n_iov;
	/* The whole batch travels in one message: make room for it. */
	sndbuf = (int)(bt->bytes + 65536 > (size_t)INT32_MAX / 2 ?
			       INT32_MAX / 2 : bt->bytes + 65536);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (sendmsg(fd, &msg, 0) < 0) {
		int e = errno;

		free(iov);
		snprintf(err, err_len, "sending the batch (%zu bytes): %s",
			 bt->bytes, strerror(e));
		return -e;
	}
	free(iov);

	/* The kernel processed the batch inside sendmsg(): every answer is
	 * already queued. Read until the ack of the last message, or the
	 * refusal of the whole batch (answered on the begin message). */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			break;
		n = recv(fd, s->buf, RECV_BUF, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (!first_err)
				first_err = -errno;
			break;
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)s->buf;
		int len = (int)n;
		bool stop = false;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			/* the answer about the last message closes the
			 * exchange, whether an ack or an error */
			if (e->msg.nlmsg_seq == bt->seq_last)
				acked = stop = true;
			if (e->error == 0)
				continue;
			if (!first_err) {
				const char *x = ext_msg(nlh);

				first_err = e->error;
				err_seq = e->msg.nlmsg_seq;
				if (x)
					snprintf(reason, sizeof(reason), " (%s)", x);
			}
			if (e->msg.nlmsg_seq == bt->seq_begin &&
			    e->error == -ERESTART)
				stop = true;
		}
		if (stop)
			break;
	}
	if (first_err) {
		const struct zwnft_msgref *r = ref_of(bt, err_seq);

		if (err_seq == bt->seq_begin)
			snprintf(err, err_len, "kernel refused the batch: %s%s",
				 strerror(-first_err), reason);
		else if (r)
			snprintf(err, err_len,
				 "kernel refused the batch at \"%s %s\": %s%s; nothing was changed",
				 msg_name(r->type), r->what ? r->what : "?",
				 strerror(-first_err), reason);
		else
			snprintf(err, err_len,
				 "kernel refused the batch: %s%s; nothing was changed",
				 strerror(-first_err), reason);
		return first_err;
	}
	if (!acked) {
		snprintf(err, err_len,
			 "no answer from the kernel to the batch (%zu messages)",
			 bt->n_msgs);
		return -ETIMEDOUT;
	}
	return 0;
}

int zwnft_sock__send(struct zwnft_sock *s, struct zwnft_batch *bt, char *err,
		     size_t err_len)
{
	return send_batch(s, bt, false, err, err_len);
}

int zwnft_sock__check(struct zwnft_sock *s, struct zwnft_batch *bt, char *err,
		      size_t err_len)
{
	return send_batch(s, bt, true, err, err_len);
}
