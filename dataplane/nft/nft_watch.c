// SPDX-License-Identifier: BSD-2-Clause
/*
 * The nftables engine's side of the enforcement watch: a netlink socket
 * subscribed to the nftables multicast group (NFNLGRP_NFTABLES). The kernel
 * sends one notification per object a transaction adds or removes, with
 * the netlink port id of the socket that sent the batch; the daemon's own
 * commits come from the engine's socket (@own_portid) and are ignored.
 * What counts: anything in our table (family inet), and any base chain of
 * any table (a chain with a hook can change a verdict before or after
 * ours). Lost notifications (ENOBUFS) count too: the daemon reads back.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "zwnft.h"

#define WATCH_BUF (64u << 10)
#define WATCH_RCVBUF (4u << 20)

struct zwnft_watch {
	struct mnl_socket *nl;
	char table[64];
	bool first; /* nothing checked yet */
	char *buf;
};

struct zwnft_watch *zwnft_watch__open(const char *table, char *err,
				      size_t err_len)
{
	struct zwnft_watch *w = calloc(1, sizeof(*w));
	int group = NFNLGRP_NFTABLES, sz = WATCH_RCVBUF, e;

	if (!w || !(w->buf = malloc(WATCH_BUF))) {
		free(w);
		snprintf(err, err_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	snprintf(w->table, sizeof(w->table), "%s", table);
	w->first = true;
	w->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!w->nl || mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(w->nl, NETLINK_ADD_MEMBERSHIP, &group,
				  sizeof(group)) < 0) {
		e = errno;
		snprintf(err, err_len, "nftables notifications: %s",
			 strerror(e));
		zwnft_watch__free(w);
		errno = e;
		return NULL;
	}
	/* room for the notifications of a large commit of ours */
	if (setsockopt(mnl_socket_get_fd(w->nl), SOL_SOCKET, SO_RCVBUFFORCE,
		       &sz, sizeof(sz)) < 0)
		setsockopt(mnl_socket_get_fd(w->nl), SOL_SOCKET, SO_RCVBUF, &sz,
			   sizeof(sz));
	return w;
}

void zwnft_watch__free(struct zwnft_watch *w)
{
	if (!w)
		return;
	if (w->nl)
		mnl_socket_close(w->nl);
	free(w->buf);
	free(w);
}

int zwnft_watch__fd(const struct zwnft_watch *w)
{
	return w ? mnl_socket_get_fd(w->nl) : -1;
}

/* Does notification @nlh (not ours) concern what we enforce? */
static bool relevant(const struct zwnft_watch *w, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *nfg;
	const struct nlattr *a;
	const char *table = NULL;
	bool hook = false;
	int type;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return false;
	type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (type == NFT_MSG_NEWGEN ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nfg)))
		return false;
	nfg = mnl_nlmsg_get_payload(nlh);
	/* every object message carries its table as attribute 1
	 * (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, ...) */
	mnl_attr_for_each(a, nlh, sizeof(*nfg)) {
		uint16_t t = mnl_attr_get_type(a);

		if (t == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			table = mnl_attr_get_str(a);
		else if ((type == NFT_MSG_NEWCHAIN ||
			  type == NFT_MSG_DELCHAIN) &&
			 t == NFTA_CHAIN_HOOK)
			hook = true;
	}
	if (hook)
		return true; /* a base chain, ours or another's */
	if (nfg->nfgen_family == NFPROTO_NETDEV && table) {
		/* the mirror to probes, table netdev <table>_mirror */
		size_t n = strlen(w->table);

		return !strncmp(table, w->table, n) &&
		       !strcmp(table + n, ZWNFT_MIRROR_SUFFIX);
	}
	return nfg->nfgen_family == NFPROTO_INET && table &&
	       !strcmp(table, w->table);
}

int zwnft_watch__check(struct zwnft_watch *w, uint32_t own_portid)
{
	int changed = w->first;

	w->first = false;
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(w->nl), w->buf, WATCH_BUF,
				 MSG_DONTWAIT);
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return changed;
			if (errno == ENOBUFS) { /* some were lost */
				changed = 1;
				continue;
			}
			return -errno;
		}
		if (n == 0)
			return changed;
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)w->buf;
		     mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_pid != own_portid && relevant(w, nlh))
				changed = 1;
	}
}
