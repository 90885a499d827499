/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Read-back as data: the active slot's rule-lookup maps read from the
 * kernel and decoded into held rules (xdp_decode.c), and the BPF programs
 * of others on an enforced interface (XDP in any mode, tc clsact ingress
 * and egress) that can change a verdict.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "zw_mirror_abi.h"
#include "xdp_instance.h"
#include "xdp_tables.h"

/* Entries [0, n) of array map @fd into a new array of @vsz-byte values. */
static int read_array(int fd, size_t vsz, size_t n, void **out)
{
	char *v = calloc(n + 1, vsz);

	*out = NULL;
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++)
		if (bpf_map_lookup_elem(fd, &i, v + i * vsz)) {
			int rc = -errno;

			free(v);
			return rc;
		}
	*out = v;
	return 0;
}

static int max_entries(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return (int)info.max_entries;
}

static size_t clamp_end(uint64_t first, uint64_t count, int max)
{
	uint64_t e = first + count;

	return (size_t)(e > (uint64_t)max ? (uint64_t)max : e);
}

/* The rule-lookup maps of slot @slot, read into @t. */
static int read_tables(const struct zw_xdp *x, unsigned slot,
		       struct zw_xdp_tables *t)
{
	int fports = zw_xdp_slot_fd(x, ZW_SM_PORTS, slot);
	int franges = zw_xdp_slot_fd(x, ZW_SM_RANGES, slot);
	int fcands = zw_xdp_slot_fd(x, ZW_SM_CANDS, slot);
	int fflow = zw_xdp_slot_fd(x, ZW_SM_FLOWINFO, slot);
	int max_r = max_entries(franges), max_c = max_entries(fcands);
	int max_f = max_entries(fflow);
	struct zw_bpf_port_key *keys = NULL;
	size_t nk = 0, n_ranges = 0, n_cands = 0, n_flows = 0, i;
	void *v;
	int rc;

	if (max_r < 0 || max_c < 0 || max_f < 0)
		return -EBADF;
	rc = zw_xdp_map_keys(fports, sizeof(*keys), &v, &nk);
	if (rc)
		return rc;
	keys = v;
	t->ports = calloc(nk + 1, sizeof(*t->ports));
	if (!t->ports) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nk; i++) {
		struct zw_xdp_port *e = &t->ports[t->n_ports];

		e->k = keys[i];
		if (bpf_map_lookup_elem(fports, &e->k, &e->v))
			continue; /* deleted meanwhile */
		t->n_ports++;
		if (e->k.kind == ZW_BPF_PK_RANGES) {
			size_t end = clamp_end(e->v.first, e->v.count, max_r);

			if (end > n_ranges)
				n_ranges = end;
		} else {
			size_t end = clamp_end(e->v.first, e->v.count, max_c);

			if (end > n_cands)
				n_cands = end;
		}
	}
	rc = read_array(franges, sizeof(*t->ranges), n_ranges, &v);
	if (rc)
		goto out;
	t->ranges = v;
	t->n_ranges = n_ranges;
	for (i = 0; i < t->n_ports; i++) {
		const struct zw_xdp_port *e = &t->ports[i];

		if (e->k.kind != ZW_BPF_PK_RANGES)
			continue;
		for (size_t r = e->v.first; r < clamp_end(e->v.first, e->v.count, max_r); r++) {
			size_t end = clamp_end(t->ranges[r].first, t->ranges[r].count, max_c);

			if (end > n_cands)
				n_cands = end;
		}
	}
	rc = read_array(fcands, sizeof(*t->cands), n_cands, &v);
	if (rc)
		goto out;
	t->cands = v;
	t->n_cands = n_cands;
	for (i = 0; i < n_cands; i++)
		if (t->cands[i].flow < (uint32_t)max_f && t->cands[i].flow >= n_flows)
			n_flows = t->cands[i].flow + 1;
	rc = read_array(fflow, sizeof(*t->flowinfo), n_flows, &v);
	if (rc)
		goto out;
	t->flowinfo = v;
	t->n_flows = (uint32_t)n_flows;
	rc = zw_xdp_map_keys(zw_xdp_slot_fd(x, ZW_SM_SETS4, slot),
			     sizeof(struct zw_bpf_set4), &v, &t->n_sets4);
	if (rc)
		goto out;
	t->sets4 = v;
	rc = zw_xdp_map_keys(zw_xdp_slot_fd(x, ZW_SM_SETS6, slot),
			     sizeof(struct zw_bpf_set6), &v, &t->n_sets6);
	if (rc)
		goto out;
	t->sets6 = v;
out:
	free(keys);
	return rc;
}

int zw_xdp__held_rules(struct zw_xdp *x, const struct zw_image *names,
		       struct zw_backend_state *st, int32_t *day)
{
	struct zw_xdp_tables *t = calloc(1, sizeof(*t));
	struct zw_bpf_global g;
	struct zw_bpf_slot meta;
	__u32 k;
	int rc;

	if (!t)
		return -ENOMEM;
	rc = zw_xdp_global_read(x, &g);
	if (rc)
		goto out;
	if (!g.generation) { /* no policy: nothing held */
		st->rules_known = true;
		goto out;
	}
	k = g.generation & 1;
	memset(&meta, 0, sizeof(meta));
	if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta)) {
		rc = -errno;
		goto out;
	}
	if (day)
		*day = meta.day;
	rc = read_tables(x, k, t);
	/* zone indexes mean something only in the image the slot holds;
	 * flow id hashes in any */
	if (!rc)
		rc = zw_xdp_tables__held_rules(
			t, k,
			names && !memcmp(names->sha256, meta.sha256, 32) ? names : NULL,
			names, st);
out:
	zw_xdp_tables__free(t);
	return rc;
}

/* ---- foreign programs ---- */

/* enum bpf_attach_type's tcx hooks (Linux 6.6), for uapi headers older
 * than the kernel. */
#define ZW_TCX_INGRESS 46
#define ZW_TCX_EGRESS 47

static void prog_label(__u32 id, char *out, size_t len)
{
	struct bpf_prog_info info;
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	memset(&info, 0, sizeof(info));
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &ilen) && info.name[0])
		snprintf(out, len, "program %u \"%s\"", id, info.name);
	else
		snprintf(out, len, "program %u", id);
	if (fd >= 0)
		close(fd);
}

struct tc_dump {
	struct zw_backend_state *st;
	const char *ifname;
	const char *hook;
	int rc;
};

/* The engine's mirror to probes (xdp_mirror.c): its program on its
 * handle and priority of the ingress hook; its read-back checks the
 * program's tag and maps. */
static bool is_mirror(const struct tcmsg *t, const char *hook, __u32 id)
{
	struct bpf_prog_info info;
	__u32 ilen = sizeof(info);
	int fd;
	bool ours;

	if (strcmp(hook, "ingress") || t->tcm_handle != ZW_M_TC_HANDLE ||
	    TC_H_MAJ(t->tcm_info) >> 16 != ZW_M_TC_PRIO)
		return false;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ours = !bpf_obj_get_info_by_fd(fd, &info, &ilen) &&
	       !strcmp(info.name, ZW_M_PROG_NAME);
	close(fd);
	return ours;
}

static int tc_filter_cb(struct nl_msg *msg, void *arg)
{
	struct tc_dump *d = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[TCA_MAX + 1], *ob[TCA_BPF_MAX + 1];
	char label[128];
	const char *kind;

	if (nlh->nlmsg_type != RTM_NEWTFILTER ||
	    nlmsg_parse(nlh, sizeof(struct tcmsg), tb, TCA_MAX, NULL) ||
	    !tb[TCA_KIND])
		return NL_OK;
	kind = nla_get_string(tb[TCA_KIND]);
	if (strcmp(kind, "bpf"))
		return NL_OK; /* other classifiers: not BPF, not ours to judge */
	if (!tb[TCA_OPTIONS] ||
	    nla_parse_nested(ob, TCA_BPF_MAX, tb[TCA_OPTIONS], NULL))
		return NL_OK; /* the filter's head: its programs follow */
	if (ob[TCA_BPF_ID] && is_mirror(nlmsg_data(nlh), d->hook,
					nla_get_u32(ob[TCA_BPF_ID])))
		return NL_OK; /* the engine's own mirror to probes */
	if (ob[TCA_BPF_ID])
		prog_label(nla_get_u32(ob[TCA_BPF_ID]), label, sizeof(label));
	else
		snprintf(label, sizeof(label), "classic BPF filter");
	if (!d->rc && zw_backend_state__add_foreign(d->st, "%s: tc %s %s",
						    d->ifname, d->hook, label))
		d->rc = -ENOMEM;
	return NL_OK;
}

/* Every cls_bpf filter on @ifindex's clsact hook @parent. */
static int tc_filters(int ifindex, __u32 parent, const char *hook,
		      const char *ifname, struct zw_backend_state *st)
{
	struct tc_dump d = {.st = st, .ifname = ifname, .hook = hook};
	struct tcmsg tcm = {.tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex,
			    .tcm_parent = parent};
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = NULL;
	int rc = -ENOMEM;

	if (!sk)
		return -ENOMEM;
	if (nl_connect(sk, NETLINK_ROUTE)) {
		rc = -ECONNREFUSED;
		goto out;
	}
	msg = nlmsg_alloc_simple(RTM_GETTFILTER, NLM_F_DUMP);
	if (!msg || nlmsg_append(msg, &tcm, sizeof(tcm), NLMSG_ALIGNTO))
		goto out;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, tc_filter_cb, &d);
	if (nl_send_auto(sk, msg) < 0) {
		rc = -EIO;
		goto out;
	}
	/* no clsact qdisc: the kernel refuses the dump; nothing is there */
	nl_recvmsgs_default(sk);
	rc = d.rc;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return rc;
}

int zw_xdp__foreign(struct zw_xdp *x, const char *ifname,
		    struct zw_backend_state *st)
{
	static const char *const modes[] = {"native", "generic", "offload"};
	static const struct {
		__u32 type;
		const char *hook;
	} tcx[] = {{ZW_TCX_INGRESS, "ingress"}, {ZW_TCX_EGRESS, "egress"}};
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex = (int)if_nametoindex(ifname);
	char label[128];
	int rc;

	if (!ifindex)
		return 0; /* no such interface here: read-back says "not attached" */
	if (!bpf_xdp_query(ifindex, 0, &q)) {
		__u32 ids[] = {q.drv_prog_id, q.skb_prog_id, q.hw_prog_id};

		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
			if (!ids[i] || zw_xdp_prog_is_ours(x, ids[i]) == 1)
				continue;
			prog_label(ids[i], label, sizeof(label));
			if (zw_backend_state__add_foreign(st, "%s: XDP (%s) %s", ifname,
							  modes[i], label))
				return -ENOMEM;
		}
	}
	/* tcx links (kernels from 6.6): a query by ifindex; older kernels
	 * refuse the attach type, there is nothing of that kind there */
	for (size_t i = 0; i < sizeof(tcx) / sizeof(tcx[0]); i++) {
		__u32 ids[16], n = 16;

		if (bpf_prog_query(ifindex, (enum bpf_attach_type)tcx[i].type, 0,
				   NULL, ids, &n))
			continue;
		for (__u32 j = 0; j < n && j < 16; j++) {
			prog_label(ids[j], label, sizeof(label));
			if (zw_backend_state__add_foreign(st, "%s: tcx %s %s", ifname,
							  tcx[i].hook, label))
				return -ENOMEM;
		}
	}
	rc = tc_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
			"ingress", ifname, st);
	if (!rc)
		rc = tc_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS),
				"egress", ifname, st);
	return rc == -ENOMEM ? rc : 0;
}
