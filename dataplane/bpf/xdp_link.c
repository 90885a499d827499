/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's links: one XDP link per interface (found with libnl),
 * pinned in DIR/links/<ifname>, and which program a link runs (this
 * build's, on this instance's maps, or another).
 */
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "xdp_instance.h"

int zw_xdp_prog_tag(int prog_fd, __u8 tag[8], __u32 *id)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, 8);
	if (id)
		*id = info.id;
	return 0;
}

/* Tag and sorted map ids of program @fd; 0 or -errno. */
static int prog_ident(int fd, __u8 tag[8], __u32 ids[128], __u32 *n)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info), i, j;

	info.nr_map_ids = 128;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.nr_map_ids > 128)
		return -E2BIG;
	memcpy(tag, info.tag, 8);
	*n = info.nr_map_ids;
	for (i = 1; i < *n; i++) /* insertion sort: a few dozen ids */
		for (j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			__u32 t = ids[j];

			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	return 0;
}

int zw_xdp_prog_is_ours(const struct zw_xdp *x, __u32 id)
{
	__u32 ids[128], mine[128], n = 0, nm = 0;
	__u8 tag[8], mtag[8];
	int fd = bpf_prog_get_fd_by_id(id), ok;

	if (fd < 0)
		return 0;
	ok = !prog_ident(fd, tag, ids, &n) &&
	     !prog_ident(zw_xdp__prog_fd(x), mtag, mine, &nm) &&
	     !memcmp(tag, mtag, 8) && n == nm && !memcmp(ids, mine, n * sizeof(*ids));
	close(fd);
	return ok;
}

const char *zw_xdp_attached_mode(int ifindex, __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return "detached";
	if (prog_id)
		*prog_id = q.prog_id;
	switch (q.attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	case XDP_ATTACHED_MULTI:
		return q.drv_prog_id ? "native" : "generic";
	default:
		return "detached";
	}
}

/* ifindex of @ifname through libnl (and its kind, for messages). */
static int nl_ifindex(const char *ifname, char *kind, size_t kind_len,
		      char *err, size_t err_len)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link = NULL;
	int rc, idx;

	if (!sk)
		return zw_xdp_fail(err, err_len, -ENOMEM, "out of memory");
	rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc) {
		nl_socket_free(sk);
		return zw_xdp_fail(err, err_len, -EIO, "netlink: %s", nl_geterror(rc));
	}
	rc = rtnl_link_get_kernel(sk, 0, ifname, &link);
	if (rc || !link) {
		nl_socket_free(sk);
		return zw_xdp_fail(err, err_len, -ENODEV, "no interface named '%s'", ifname);
	}
	idx = rtnl_link_get_ifindex(link);
	if (kind) {
		const char *t = rtnl_link_get_type(link);

		snprintf(kind, kind_len, "%s", t ? t : "device");
	}
	rtnl_link_put(link);
	nl_socket_free(sk);
	return idx;
}

int zw_xdp__attach(struct zw_xdp *x, const char *ifname, enum zw_xdp_mode mode,
		   const char **mode_out, char *err, size_t err_len)
{
	char path[PATH_MAX + 64], kind[32];
	int prog_fd = zw_xdp__prog_fd(x), ifindex, fd, rc;
	__u32 cur_prog = 0;
	const char *m;

	if (strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/'))
		return zw_xdp_fail(err, err_len, -EINVAL, "bad interface name '%s'", ifname);
	ifindex = nl_ifindex(ifname, kind, sizeof(kind), err, err_len);
	if (ifindex < 0)
		return ifindex;
	snprintf(path, sizeof(path), "%s/links/%s", x->dir, ifname);

	fd = bpf_obj_get(path);
	if (fd >= 0) {
		struct bpf_link_info li = {0};
		__u32 len = sizeof(li);

		if (!bpf_obj_get_info_by_fd(fd, &li, &len) &&
		    li.type == BPF_LINK_TYPE_XDP && li.xdp.ifindex == (__u32)ifindex) {
			/* attached already: put this instance's program back
			 * if the link runs another (an upgrade, or a program
			 * that is not on this instance's maps) */
			if (!zw_xdp_prog_is_ours(x, li.prog_id)) {
				if (bpf_link_update(fd, prog_fd, NULL)) {
					rc = -errno;
					close(fd);
					return zw_xdp_fail(err, err_len, rc,
							   "cannot upgrade the program on %s: %s",
							   ifname, strerror(-rc));
				}
				snprintf(path, sizeof(path), "%s/prog", x->dir);
				unlink(path);
				bpf_program__pin(x->skel->progs.zw_xdp, path);
			}
			close(fd);
			m = zw_xdp_attached_mode(ifindex, NULL);
			if (mode_out)
				*mode_out = m;
			return 0;
		}
		/* a stale pin (interface gone and recreated) */
		close(fd);
		unlink(path);
	}

	m = zw_xdp_attached_mode(ifindex, &cur_prog);
	if (cur_prog)
		return zw_xdp_fail(err, err_len, -EBUSY,
				   "%s already runs XDP program id %u that is not this "
				   "instance's: detach it first", ifname, cur_prog);
	rc = -EOPNOTSUPP;
	if (mode != ZW_XDP_MODE_GENERIC) {
		LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_DRV_MODE);

		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &o);
		rc = fd < 0 ? -errno : 0;
	}
	if (rc && mode != ZW_XDP_MODE_NATIVE) {
		LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_SKB_MODE);

		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &o);
		rc = fd < 0 ? -errno : 0;
	}
	if (rc)
		return zw_xdp_fail(err, err_len, rc, "cannot attach XDP to %s (%s)%s: %s",
				   ifname, kind,
				   mode == ZW_XDP_MODE_NATIVE ? " in native mode" : "",
				   strerror(-rc));
	if (bpf_obj_pin(fd, path)) {
		rc = -errno;
		close(fd);
		return zw_xdp_fail(err, err_len, rc, "cannot pin %s: %s", path, strerror(-rc));
	}
	close(fd);
	m = zw_xdp_attached_mode(ifindex, NULL);
	if (mode_out)
		*mode_out = m;
	return 0;
}

int zw_xdp__detach(struct zw_xdp *x, const char *ifname, char *err,
		   size_t err_len)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/links/%s", x->dir, ifname);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return zw_xdp_fail(err, err_len, -ENOENT, "not attached to %s", ifname);
	/* detach now, even if someone else holds the link open */
	bpf_link_detach(fd);
	close(fd);
	if (unlink(path))
		return zw_xdp_fail(err, err_len, -errno, "cannot remove %s: %s", path,
				   strerror(errno));
	return 0;
}
