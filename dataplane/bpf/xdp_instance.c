/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's loader: program and maps through the libbpf skeleton,
 * pinned in a bpffs instance directory, links per interface (found with
 * libnl), the two-slot policy swap, read-back, counters, flow records.
 * See include/zonewall/xdp.h and docs/xdp-engine.md.
 *
 * Instance directory layout:
 *   DIR/maps/<map name>   every map of zonewall.bpf.c
 *   DIR/prog              the program the links run
 *   DIR/links/<ifname>    one XDP link per interface
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>
#include <zonewall/xdp.h>

#include "xdp_tables.h"
#include "zonewall.skel.h"
#include "zw_bpf_abi.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* Time the loader lets packets judged by the previous generation finish
 * (XDP runs under RCU, a NAPI poll lasts well under this). */
#define ZW_XDP_GRACE_US 20000

struct zw_xdp {
	char dir[PATH_MAX];
	struct zonewall_bpf *skel;
	uint32_t verifier_insns;
	struct ring_buffer *rb;
	int (*rb_cb)(const struct zw_flow_record *r, void *arg);
	void *rb_arg;
	int ncpus;
	int destroyed; /* unpinned by zw_xdp__destroy(); apply re-pins */
	int inject_failure; /* zw_xdp__inject_failure() */
};

void zw_xdp__inject_failure(struct zw_xdp *x)
{
	x->inject_failure = 1;
}

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---- slot maps by number ---- */

enum slot_map {
	SM_ZONES4,
	SM_ZONES6,
	SM_SETS4,
	SM_SETS6,
	SM_BLOCK4,
	SM_BLOCK6,
	SM_ZONEINFO,
	SM_FLOWINFO,
	SM_PORTS,
	SM_RANGES,
	SM_CANDS,
	SM_CNT,
	SM_CNTBASE,
	SM__COUNT
};

static const char *const slot_map_names[SM__COUNT] = {
	"zw_zones4", "zw_zones6", "zw_sets4",	 "zw_sets6",  "zw_block4",
	"zw_block6", "zw_zoneinfo", "zw_flowinfo", "zw_ports", "zw_ranges",
	"zw_cands",  "zw_cnt",	    "zw_cntbase",
};

static struct bpf_map *slot_map(const struct zw_xdp *x, enum slot_map m,
				unsigned slot)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_%u", slot_map_names[m], slot & 1);
	return bpf_object__find_map_by_name(x->skel->obj, name);
}

static int slot_fd(const struct zw_xdp *x, enum slot_map m, unsigned slot)
{
	struct bpf_map *map = slot_map(x, m, slot);

	return map ? bpf_map__fd(map) : -ENOENT;
}

/* ---- helpers ---- */

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t i;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (i = 1; tmp[i]; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		tmp[i] = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int on_bpffs(const char *dir)
{
	char tmp[PATH_MAX];
	struct statfs st;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	while (statfs(tmp, &st)) {
		char *slash = strrchr(tmp, '/');

		if (errno != ENOENT || !slash || slash == tmp)
			return 0;
		*slash = 0;
	}
	return (unsigned long)st.f_type == BPF_FS_MAGIC;
}

/*
 * Writers of an instance (apply, record settings, destroy) from any handle
 * or process take this lock on the instance directory: two applies at once
 * would fill the same inactive slot with a mixture of both images and give
 * both the same generation, and a read-modify-write of zw_global would put
 * back an older generation. Returns the fd to pass to instance_unlock(),
 * or -errno.
 */
static int instance_lock(const struct zw_xdp *x)
{
	int fd = open(x->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			int rc = -errno;

			close(fd);
			return rc;
		}
	}
	return fd;
}

static void instance_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
}

static int global_read(const struct zw_xdp *x, struct zw_bpf_global *g)
{
	__u32 k = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_global), &k, g))
		return -errno;
	return 0;
}

static int global_write(const struct zw_xdp *x, const struct zw_bpf_global *g)
{
	__u32 k = 0;

	if (bpf_map_update_elem(bpf_map__fd(x->skel->maps.zw_global), &k, g,
				BPF_ANY))
		return -errno;
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Every key of map @fd (malloc'd, key_size each), in *n. */
static int map_keys(int fd, size_t key_size, void **out, size_t *n)
{
	size_t cap = 256, cnt = 0;
	char *keys = malloc(cap * key_size);
	int rc;

	if (!keys)
		return -ENOMEM;
	rc = bpf_map_get_next_key(fd, NULL, keys);
	while (!rc) {
		if (cnt + 1 == cap) {
			char *nk = realloc(keys, cap * 2 * key_size);

			if (!nk) {
				free(keys);
				return -ENOMEM;
			}
			keys = nk;
			cap *= 2;
		}
		cnt++;
		rc = bpf_map_get_next_key(fd, keys + (cnt - 1) * key_size,
					  keys + cnt * key_size);
	}
	if (errno != ENOENT) {
		rc = -errno;
		free(keys);
		return rc;
	}
	*out = keys;
	*n = cnt;
	return 0;
}

/* Delete every entry of hash/trie map @fd. */
static int map_clear(int fd, size_t key_size)
{
	void *keys = NULL;
	size_t n = 0, i;
	int rc = map_keys(fd, key_size, &keys, &n);

	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, (char *)keys + i * key_size) &&
		    errno != ENOENT) {
			rc = -errno;
			break;
		}
	free(keys);
	return rc;
}

/* Update @n entries, batched where the map type allows it. */
static int map_put(int fd, const void *keys, size_t key_size,
		   const void *vals, size_t val_size, size_t n, int batch)
{
	size_t i;

	if (!n)
		return 0;
	if (batch) {
		__u32 count = (__u32)n;
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = 0,
			    .flags = 0);

		if (!bpf_map_update_batch(fd, keys, vals, &count, &o) &&
		    count == n)
			return 0;
		/* fall back to one by one */
	}
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * key_size,
					(const char *)vals + i * val_size,
					BPF_ANY))
			return -errno;
	return 0;
}

/* Array indexes 0..n-1. */
static __u32 *iota(size_t n)
{
	__u32 *k = malloc((n ? n : 1) * sizeof(*k));

	for (size_t i = 0; k && i < n; i++)
		k[i] = (__u32)i;
	return k;
}

/* ---- open / close ---- */

static int parse_insns(const char *log)
{
	const char *p = strstr(log, "processed ");

	return p ? atoi(p + 10) : 0;
}

int zw_xdp__open(const char *dir, const struct zw_xdp_opts *opts,
		 struct zw_xdp **out, char *err, size_t err_len)
{
	struct zw_xdp *x = calloc(1, sizeof(*x));
	char path[PATH_MAX + 64];
	struct bpf_map *map;
	struct zw_bpf_global g;
	static char log[16384];
	struct stat st;
	int rc, fresh, lock;

	*out = NULL;
	if (!x)
		return fail(err, err_len, -ENOMEM, "out of memory");
	if (!dir || !*dir)
		dir = getenv("ZONEWALL_XDP_DIR");
	if (!dir || !*dir)
		dir = ZW_XDP_DEFAULT_DIR;
	if (snprintf(x->dir, sizeof(x->dir), "%s", dir) >= (int)sizeof(x->dir)) {
		rc = fail(err, err_len, -ENAMETOOLONG, "instance directory name too long");
		goto err;
	}
	x->ncpus = libbpf_num_possible_cpus();
	if (x->ncpus <= 0) {
		rc = fail(err, err_len, -EIO, "cannot count the possible CPUs");
		goto err;
	}
	if (!on_bpffs(x->dir)) {
		rc = fail(err, err_len, -ENOTSUP,
			  "%s is not on a bpf filesystem: mount one (mount -t bpf bpf "
			  "/sys/fs/bpf); under 'ip netns exec', which remounts /sys, "
			  "mount a bpffs outside /sys (mount -t bpf bpf /run/zonewall/bpf) "
			  "and use a directory on it, so the pins outlive the process",
			  x->dir);
		goto err;
	}
	snprintf(path, sizeof(path), "%s/maps", x->dir);
	rc = mkdir_p(path);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/links", x->dir);
		rc = mkdir_p(path);
	}
	if (rc) {
		fail(err, err_len, rc, "cannot create %s: %s", path, strerror(-rc));
		goto err;
	}

	x->skel = zonewall_bpf__open();
	if (!x->skel) {
		rc = fail(err, err_len, -errno, "cannot open the BPF object: %s",
			  strerror(errno));
		goto err;
	}
	snprintf(path, sizeof(path), "%s/maps/zw_global", x->dir);
	fresh = stat(path, &st) != 0;
	bpf_object__for_each_map(map, x->skel->obj) {
		snprintf(path, sizeof(path), "%s/maps/%s", x->dir, bpf_map__name(map));
		if (bpf_map__set_pin_path(map, path)) {
			rc = fail(err, err_len, -EINVAL, "cannot set pin path %s", path);
			goto err;
		}
	}
	/* the pinned connection table keeps its size; a new one takes the
	 * requested size */
	snprintf(path, sizeof(path), "%s/maps/zw_conns4", x->dir);
	{
		int fd = bpf_obj_get(path);
		__u32 max = opts && opts->conns ? opts->conns : ZW_BPF_DEF_CONNS;

		if (fd >= 0) {
			struct bpf_map_info info = {0};
			__u32 len = sizeof(info);

			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				max = info.max_entries;
			close(fd);
		}
		bpf_map__set_max_entries(x->skel->maps.zw_conns4, max);
		bpf_map__set_max_entries(x->skel->maps.zw_conns6, max);
	}
	log[0] = 0;
	bpf_program__set_log_buf(x->skel->progs.zw_xdp, log, sizeof(log));
	bpf_program__set_log_level(x->skel->progs.zw_xdp, 4 /* stats */);
	rc = zonewall_bpf__load(x->skel);
	if (rc) {
		rc = rc < 0 ? rc : -EINVAL;
		fail(err, err_len, rc,
		     "cannot load the XDP program into %s (%s)%s", x->dir,
		     strerror(-rc),
		     fresh ? ""
			   : ": its pinned maps may come from another zonewall "
			     "version; 'zw-xdp --dir DIR unload' removes them");
		goto err;
	}
	x->verifier_insns = (uint32_t)parse_insns(log);

	lock = instance_lock(x);
	if (lock < 0) {
		rc = fail(err, err_len, lock, "cannot lock %s: %s", x->dir,
			  strerror(-lock));
		goto err;
	}
	rc = global_read(x, &g);
	if (rc) {
		instance_unlock(lock);
		fail(err, err_len, rc, "cannot read zw_global: %s", strerror(-rc));
		goto err;
	}
	if (g.abi == 0 && g.generation == 0) {
		g.abi = ZW_BPF_ABI_VERSION;
		g.drop_sample = 1;
		g.log_all_new = 0;
		rc = global_write(x, &g);
		instance_unlock(lock);
		if (rc) {
			fail(err, err_len, rc, "cannot write zw_global: %s", strerror(-rc));
			goto err;
		}
	} else if (instance_unlock(lock), g.abi != ZW_BPF_ABI_VERSION) {
		rc = fail(err, err_len, -EPROTO,
			  "%s holds maps of BPF ABI %u, this build speaks %u: "
			  "'zw-xdp --dir DIR unload' to start afresh",
			  x->dir, g.abi, ZW_BPF_ABI_VERSION);
		goto err;
	}
	/* the program pin: the one links run (re-pinned on upgrade) */
	snprintf(path, sizeof(path), "%s/prog", x->dir);
	if (stat(path, &st) && bpf_program__pin(x->skel->progs.zw_xdp, path)) {
		rc = -errno;
		fail(err, err_len, rc, "cannot pin %s: %s", path, strerror(errno));
		goto err;
	}
	*out = x;
	return 0;
err:
	zw_xdp__close(x);
	return rc;
}

void zw_xdp__close(struct zw_xdp *x)
{
	if (!x)
		return;
	ring_buffer__free(x->rb);
	zonewall_bpf__destroy(x->skel);
	free(x);
}

int zw_xdp__prog_fd(const struct zw_xdp *x)
{
	return bpf_program__fd(x->skel->progs.zw_xdp);
}

/* ---- links ---- */

static int prog_tag(int prog_fd, __u8 tag[8], __u32 *id)
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

/* 1 if program @id is this instance's: this build's program (tag) on
 * exactly the maps this handle's program uses (the pinned ones). */
static int prog_is_ours(const struct zw_xdp *x, __u32 id)
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

static const char *attached_mode(int ifindex, __u32 *prog_id)
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
		return fail(err, err_len, -ENOMEM, "out of memory");
	rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc) {
		nl_socket_free(sk);
		return fail(err, err_len, -EIO, "netlink: %s", nl_geterror(rc));
	}
	rc = rtnl_link_get_kernel(sk, 0, ifname, &link);
	if (rc || !link) {
		nl_socket_free(sk);
		return fail(err, err_len, -ENODEV, "no interface named '%s'", ifname);
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
		return fail(err, err_len, -EINVAL, "bad interface name '%s'", ifname);
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
			if (!prog_is_ours(x, li.prog_id)) {
				if (bpf_link_update(fd, prog_fd, NULL)) {
					rc = -errno;
					close(fd);
					return fail(err, err_len, rc,
						    "cannot upgrade the program on %s: %s",
						    ifname, strerror(-rc));
				}
				snprintf(path, sizeof(path), "%s/prog", x->dir);
				unlink(path);
				bpf_program__pin(x->skel->progs.zw_xdp, path);
			}
			close(fd);
			m = attached_mode(ifindex, NULL);
			if (mode_out)
				*mode_out = m;
			return 0;
		}
		/* a stale pin (interface gone and recreated) */
		close(fd);
		unlink(path);
	}

	m = attached_mode(ifindex, &cur_prog);
	if (cur_prog)
		return fail(err, err_len, -EBUSY,
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
		return fail(err, err_len, rc, "cannot attach XDP to %s (%s)%s: %s",
			    ifname, kind,
			    mode == ZW_XDP_MODE_NATIVE ? " in native mode" : "",
			    strerror(-rc));
	if (bpf_obj_pin(fd, path)) {
		rc = -errno;
		close(fd);
		return fail(err, err_len, rc, "cannot pin %s: %s", path, strerror(-rc));
	}
	close(fd);
	m = attached_mode(ifindex, NULL);
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
		return fail(err, err_len, -ENOENT, "not attached to %s", ifname);
	/* detach now, even if someone else holds the link open */
	bpf_link_detach(fd);
	close(fd);
	if (unlink(path))
		return fail(err, err_len, -errno, "cannot remove %s: %s", path,
			    strerror(errno));
	return 0;
}

int zw_xdp__destroy(struct zw_xdp *x, char *err, size_t err_len)
{
	char path[PATH_MAX + 300];
	struct zw_bpf_global g;
	struct bpf_map *map;
	struct dirent *e;
	DIR *d;
	int rc = 0, lock = instance_lock(x);

	snprintf(path, sizeof(path), "%s/links", x->dir);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (zw_xdp__detach(x, e->d_name, err, err_len))
			rc = -EIO;
	}
	if (d)
		closedir(d);
	/* no policy: a program still attached by someone else fails closed */
	if (!global_read(x, &g)) {
		g.generation = 0;
		global_write(x, &g);
	}
	bpf_object__for_each_map(map, x->skel->obj)
		bpf_map__unpin(map, NULL);
	snprintf(path, sizeof(path), "%s/prog", x->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/links", x->dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/maps", x->dir);
	rmdir(path);
	if (rmdir(x->dir) && errno != ENOENT && !rc)
		rc = fail(err, err_len, -errno, "cannot remove %s: %s", x->dir,
			  strerror(errno));
	instance_unlock(lock);
	x->destroyed = 1;
	return rc;
}

static int purge_dir(const char *path)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int rc = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (!lstat(sub, &st) && S_ISDIR(st.st_mode))
			rc = purge_dir(sub) ? -EIO : rc;
		else if (unlink(sub))
			rc = -errno;
	}
	closedir(d);
	if (rmdir(path) && !rc)
		rc = -errno;
	return rc;
}

int zw_xdp__purge(const char *dir, char *err, size_t err_len)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	if (!dir || !*dir)
		dir = getenv("ZONEWALL_XDP_DIR");
	if (!dir || !*dir)
		dir = ZW_XDP_DEFAULT_DIR;
	snprintf(path, sizeof(path), "%s", dir);
	if (stat(path, &st))
		return fail(err, err_len, -ENOENT, "no instance in %s", path);
	if (!on_bpffs(path))
		return fail(err, err_len, -EINVAL, "%s is not on a bpf filesystem",
			    path);
	rc = purge_dir(path);
	if (rc)
		return fail(err, err_len, rc, "cannot remove %s: %s", path,
			    strerror(-rc));
	return 0;
}

/* Re-create the pins of a destroyed instance from this handle. */
static int repin(struct zw_xdp *x, char *err, size_t err_len)
{
	char path[PATH_MAX + 64];
	int rc;

	snprintf(path, sizeof(path), "%s/links", x->dir);
	rc = mkdir_p(path);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/maps", x->dir);
		rc = mkdir_p(path);
	}
	if (!rc)
		rc = bpf_object__pin_maps(x->skel->obj, NULL);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/prog", x->dir);
		rc = bpf_program__pin(x->skel->progs.zw_xdp, path);
	}
	if (rc)
		return fail(err, err_len, rc < 0 ? rc : -EIO,
			    "cannot re-create the instance in %s", x->dir);
	x->destroyed = 0;
	return 0;
}

/* ---- apply ---- */

/* Sum over CPUs of per-CPU counters @idx of map @fd into @out. */
static int percpu_sum(const struct zw_xdp *x, int fd, __u32 idx,
		      struct zw_bpf_counters *out)
{
	struct zw_bpf_counters *v = calloc((size_t)x->ncpus, sizeof(*v));
	int i;

	memset(out, 0, sizeof(*out));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &idx, v)) {
		int rc = -errno;

		free(v);
		return rc;
	}
	for (i = 0; i < x->ncpus; i++) {
		out->packets += v[i].packets;
		out->bytes += v[i].bytes;
		out->new_conns += v[i].new_conns;
		out->drops += v[i].drops;
	}
	free(v);
	return 0;
}

static void cnt_add(struct zw_bpf_counters *a, const struct zw_bpf_counters *b,
		    int sign)
{
	a->packets += (uint64_t)sign * b->packets;
	a->bytes += (uint64_t)sign * b->bytes;
	a->new_conns += (uint64_t)sign * b->new_conns;
	a->drops += (uint64_t)sign * b->drops;
}

/* Carry-over of counters from the old slot: new index → old index. */
struct carry {
	uint32_t *old_of; /* [n_new + 1], UINT32_MAX = none; [n_new] = none-flow */
	struct zw_bpf_counters *snap; /* old totals at snapshot, [n_new + 1] */
	struct zw_bpf_counters *base; /* new bases, [n_new + 1] */
	uint32_t n_new;
};

static int fill_slot(struct zw_xdp *x, unsigned slot,
		     const struct zw_xdp_tables *t, char *err, size_t err_len)
{
	static const size_t ksz[] = {
		[SM_ZONES4] = sizeof(struct zw_bpf_lpm4),
		[SM_ZONES6] = sizeof(struct zw_bpf_lpm6),
		[SM_SETS4] = sizeof(struct zw_bpf_set4),
		[SM_SETS6] = sizeof(struct zw_bpf_set6),
		[SM_BLOCK4] = sizeof(struct zw_bpf_lpm4),
		[SM_BLOCK6] = sizeof(struct zw_bpf_lpm6),
		[SM_PORTS] = sizeof(struct zw_bpf_port_key),
	};
	static const enum slot_map clear[] = {SM_ZONES4, SM_ZONES6, SM_SETS4,
					      SM_SETS6,	 SM_BLOCK4, SM_BLOCK6,
					      SM_PORTS};
	__u32 one = 1, *idx = NULL;
	size_t i, max;
	int rc = 0;

	for (i = 0; i < sizeof(clear) / sizeof(clear[0]); i++) {
		rc = map_clear(slot_fd(x, clear[i], slot), ksz[clear[i]]);
		if (rc)
			return fail(err, err_len, rc, "cannot clear %s_%u: %s",
				    slot_map_names[clear[i]], slot, strerror(-rc));
	}
#define PUT_ONE(m, key, val)                                                 \
	do {                                                                 \
		if (bpf_map_update_elem(slot_fd(x, m, slot), key, val, BPF_ANY)) { \
			rc = -errno;                                         \
			fail(err, err_len, rc, "cannot fill %s_%u: %s",      \
			     slot_map_names[m], slot, strerror(errno));      \
			goto out;                                            \
		}                                                            \
	} while (0)
	for (i = 0; i < t->n_zones4; i++)
		PUT_ONE(SM_ZONES4, &t->zones4[i].k, &t->zones4[i].v);
	for (i = 0; i < t->n_zones6; i++)
		PUT_ONE(SM_ZONES6, &t->zones6[i].k, &t->zones6[i].v);
	for (i = 0; i < t->n_sets4; i++)
		PUT_ONE(SM_SETS4, &t->sets4[i], &one);
	for (i = 0; i < t->n_sets6; i++)
		PUT_ONE(SM_SETS6, &t->sets6[i], &one);
	for (i = 0; i < t->n_block4; i++)
		PUT_ONE(SM_BLOCK4, &t->block4[i], &one);
	for (i = 0; i < t->n_block6; i++)
		PUT_ONE(SM_BLOCK6, &t->block6[i], &one);
#undef PUT_ONE

	max = t->n_ranges;
	if (t->n_cands > max)
		max = t->n_cands;
	if (t->n_flows > max)
		max = t->n_flows;
	if (t->n_zones > max)
		max = t->n_zones;
	idx = iota(max);
	if (!idx)
		return fail(err, err_len, -ENOMEM, "out of memory");
#define PUT_ARR(m, vals, n)                                                  \
	do {                                                                 \
		rc = map_put(slot_fd(x, m, slot), idx, sizeof(__u32), vals,   \
			     sizeof(*(vals)), n, 1);                          \
		if (rc) {                                                    \
			fail(err, err_len, rc, "cannot fill %s_%u: %s",      \
			     slot_map_names[m], slot, strerror(-rc));        \
			goto out;                                            \
		}                                                            \
	} while (0)
	PUT_ARR(SM_ZONEINFO, t->zoneinfo, t->n_zones);
	PUT_ARR(SM_FLOWINFO, t->flowinfo, t->n_flows);
	PUT_ARR(SM_RANGES, t->ranges, t->n_ranges);
	PUT_ARR(SM_CANDS, t->cands, t->n_cands);
#undef PUT_ARR
	/* ports: a hash, batched; keys and values interleaved in t->ports */
	{
		struct zw_bpf_port_key *k = malloc((t->n_ports + 1) * sizeof(*k));
		struct zw_bpf_span *v = malloc((t->n_ports + 1) * sizeof(*v));

		if (!k || !v) {
			free(k);
			free(v);
			rc = fail(err, err_len, -ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < t->n_ports; i++) {
			k[i] = t->ports[i].k;
			v[i] = t->ports[i].v;
		}
		rc = map_put(slot_fd(x, SM_PORTS, slot), k, sizeof(*k), v,
			     sizeof(*v), t->n_ports, 1);
		free(k);
		free(v);
		if (rc) {
			fail(err, err_len, rc, "cannot fill zw_ports_%u: %s", slot,
			     strerror(-rc));
			goto out;
		}
	}
out:
	free(idx);
	return rc;
}

/* Zero the per-CPU counters of flows 0..n-1 and of the none-flow. */
static int zero_counters(struct zw_xdp *x, unsigned slot, uint32_t n)
{
	int fd = slot_fd(x, SM_CNT, slot);
	struct zw_bpf_counters *z = calloc((size_t)x->ncpus, sizeof(*z));
	__u32 i;
	int rc = 0;

	if (!z)
		return -ENOMEM;
	for (i = 0; i <= n && !rc; i++) {
		__u32 k = i == n ? ZW_BPF_FLOW_NONE : i;

		if (bpf_map_update_elem(fd, &k, z, BPF_ANY))
			rc = -errno;
	}
	free(z);
	return rc;
}

static void carry_free(struct carry *c)
{
	free(c->old_of);
	free(c->snap);
	free(c->base);
}

struct hidx {
	uint64_t hash;
	uint32_t idx;
};

static int cmp_hidx(const void *a, const void *b)
{
	uint64_t x = ((const struct hidx *)a)->hash, y = ((const struct hidx *)b)->hash;

	return x < y ? -1 : x > y;
}

/* Map the new flows to the old slot's by id hash and snapshot the old
 * totals (base + per-CPU counters). */
static int carry_prepare(struct zw_xdp *x, unsigned old_slot, uint32_t old_n,
			 const struct zw_xdp_tables *t, struct carry *c)
{
	int finfo = slot_fd(x, SM_FLOWINFO, old_slot);
	int fcnt = slot_fd(x, SM_CNT, old_slot);
	int fbase = slot_fd(x, SM_CNTBASE, old_slot);
	uint64_t *old_hash = NULL;
	uint32_t i, j;
	int rc = -ENOMEM;

	c->n_new = t->n_flows;
	c->old_of = malloc((t->n_flows + 1) * sizeof(*c->old_of));
	c->snap = calloc(t->n_flows + 1, sizeof(*c->snap));
	c->base = calloc(t->n_flows + 1, sizeof(*c->base));
	old_hash = calloc(old_n + 1, sizeof(*old_hash));
	if (!c->old_of || !c->snap || !c->base || !old_hash)
		goto out;
	for (i = 0; i < old_n; i++) {
		struct zw_bpf_flowinfo fi;

		if (!bpf_map_lookup_elem(finfo, &i, &fi))
			old_hash[i] = fi.id_hash;
	}
	/* match new flows to old ones by id hash: sort the old (hash,
	 * index) pairs, binary-search each new hash */
	for (i = 0; i <= t->n_flows; i++)
		c->old_of[i] = UINT32_MAX;
	{
		struct hidx *h = malloc((old_n + 1) * sizeof(*h));

		if (!h)
			goto out;
		for (j = 0; j < old_n; j++)
			h[j] = (struct hidx){.hash = old_hash[j], .idx = j};
		qsort(h, old_n, sizeof(*h), cmp_hidx);
		for (i = 0; i < t->n_flows; i++) {
			struct hidx k = {.hash = t->flowinfo[i].id_hash};
			struct hidx *f = old_n ? bsearch(&k, h, old_n, sizeof(*h), cmp_hidx)
					       : NULL;

			if (f && f->hash)
				c->old_of[i] = f->idx;
		}
		free(h);
	}
	c->old_of[t->n_flows] = ZW_BPF_FLOW_NONE;
	for (i = 0; i <= t->n_flows; i++) {
		struct zw_bpf_counters b = {0};

		if (c->old_of[i] == UINT32_MAX)
			continue;
		rc = percpu_sum(x, fcnt, c->old_of[i], &c->snap[i]);
		if (rc)
			goto out;
		bpf_map_lookup_elem(fbase, &c->old_of[i], &b);
		c->base[i] = b;
		cnt_add(&c->base[i], &c->snap[i], 1);
	}
	rc = 0;
out:
	free(old_hash);
	return rc;
}

static int carry_write(struct zw_xdp *x, unsigned slot, const struct carry *c)
{
	int fd = slot_fd(x, SM_CNTBASE, slot);

	for (uint32_t i = 0; i <= c->n_new; i++) {
		__u32 k = i == c->n_new ? ZW_BPF_FLOW_NONE : i;

		if (bpf_map_update_elem(fd, &k, &c->base[i], BPF_ANY))
			return -errno;
	}
	return 0;
}

/* After the flip: add what the old slot counted since the snapshot. */
static int carry_finish(struct zw_xdp *x, unsigned old_slot, unsigned slot,
			struct carry *c)
{
	int fcnt = slot_fd(x, SM_CNT, old_slot);

	for (uint32_t i = 0; i <= c->n_new; i++) {
		struct zw_bpf_counters now;

		if (c->old_of[i] == UINT32_MAX)
			continue;
		if (percpu_sum(x, fcnt, c->old_of[i], &now))
			continue;
		cnt_add(&c->base[i], &now, 1);
		cnt_add(&c->base[i], &c->snap[i], -1);
	}
	return carry_write(x, slot, c);
}

int zw_xdp__apply(struct zw_xdp *x, const struct zw_image *img, int32_t day,
		  char *err, size_t err_len)
{
	struct zw_xdp_tables *t = NULL;
	struct zw_bpf_global g;
	struct zw_bpf_slot meta, old_meta;
	struct carry c = {0};
	unsigned slot, old_slot;
	__u32 new_gen, k;
	int rc, have_old, lock = -1;

	rc = zw_xdp_tables__build(img, day, &t, err, err_len);
	if (rc)
		return rc;
	if (x->destroyed) {
		rc = repin(x, err, err_len);
		if (rc)
			goto out;
	}
	lock = instance_lock(x);
	if (lock < 0) {
		rc = fail(err, err_len, lock, "cannot lock %s: %s", x->dir,
			  strerror(-lock));
		goto out;
	}
	rc = global_read(x, &g);
	if (rc) {
		fail(err, err_len, rc, "cannot read zw_global: %s", strerror(-rc));
		goto out;
	}
	new_gen = g.generation + 1;
	if (new_gen == 0)
		new_gen = 2; /* 0 means "no policy"; keep the parity turning */
	slot = new_gen & 1;
	old_slot = slot ^ 1;
	have_old = g.generation != 0;

	rc = fill_slot(x, slot, t, err, err_len);
	if (rc)
		goto out;
	rc = zero_counters(x, slot, t->n_flows);
	if (rc) {
		fail(err, err_len, rc, "cannot reset counters: %s", strerror(-rc));
		goto out;
	}
	memset(&old_meta, 0, sizeof(old_meta));
	k = old_slot;
	if (have_old)
		bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &old_meta);
	rc = carry_prepare(x, old_slot, have_old ? old_meta.n_flows : 0, t, &c);
	if (!rc)
		rc = carry_write(x, slot, &c);
	if (rc) {
		fail(err, err_len, rc, "cannot carry counters over: %s", strerror(-rc));
		goto out;
	}

	memset(&meta, 0, sizeof(meta));
	memcpy(meta.sha256, img->sha256, 32);
	meta.generation = new_gen;
	meta.day = day;
	meta.n_flows = img->n_flows;
	meta.n_zones = img->n_zones;
	meta.n_live = t->n_live;
	meta.has_block = (t->n_block4 ? 1u : 0) | (t->n_block6 ? 2u : 0);
	meta.applied_ns = mono_ns();
	snprintf(meta.name, sizeof(meta.name), "%s",
		 zw_image__str(img, img->meta->name));
	k = slot;
	if (bpf_map_update_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta,
				BPF_ANY)) {
		rc = -errno;
		fail(err, err_len, rc, "cannot write the slot header: %s",
		     strerror(errno));
		goto out;
	}

	if (x->inject_failure) {
		x->inject_failure = 0;
		rc = fail(err, err_len, -EIO,
			  "injected failure before the switch (test hook): "
			  "generation %u stays in force", g.generation);
		goto out;
	}
	/* THE switch: one map update; every packet after it is judged by
	 * the new slot */
	g.generation = new_gen;
	g.abi = ZW_BPF_ABI_VERSION;
	rc = global_write(x, &g);
	if (rc) {
		fail(err, err_len, rc, "cannot switch the generation: %s",
		     strerror(-rc));
		goto out;
	}
	usleep(ZW_XDP_GRACE_US);
	if (have_old)
		carry_finish(x, old_slot, slot, &c); /* best effort */
out:
	instance_unlock(lock);
	carry_free(&c);
	zw_xdp_tables__free(t);
	return rc;
}

/* ---- read back ---- */

int zw_xdp__status(struct zw_xdp *x, struct zw_xdp_status *st)
{
	char path[PATH_MAX + 300];
	struct zw_bpf_global g;
	struct zw_bpf_slot meta;
	struct dirent *e;
	__u32 k;
	DIR *d;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = global_read(x, &g);
	if (rc)
		return rc;
	st->generation = g.generation;
	st->slot = g.generation & 1;
	st->drop_sample = g.drop_sample;
	st->log_all_new = g.log_all_new;
	st->verifier_insns = x->verifier_insns;
	st->conns_max = bpf_map__max_entries(x->skel->maps.zw_conns4);
	prog_tag(zw_xdp__prog_fd(x), (__u8[8]){0}, &st->prog_id);
	if (g.generation) {
		k = st->slot;
		if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta))
			return -errno;
		memcpy(st->sha256, meta.sha256, 32);
		memcpy(st->name, meta.name, sizeof(st->name));
		st->name[sizeof(st->name) - 1] = 0;
		st->day = meta.day;
		st->n_flows = meta.n_flows;
		st->n_live = meta.n_live;
		st->n_zones = meta.n_zones;
	}
	snprintf(path, sizeof(path), "%s/links", x->dir);
	d = opendir(path);
	while (d && (e = readdir(d)) && st->n_links < 32) {
		struct zw_xdp_link *l = &st->links[st->n_links];
		struct bpf_link_info li = {0};
		__u32 len = sizeof(li);
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/links/%s", x->dir, e->d_name);
		fd = bpf_obj_get(path);
		snprintf(l->ifname, sizeof(l->ifname), "%.15s", e->d_name);
		l->mode = "detached";
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &li, &len) &&
		    li.xdp.ifindex) {
			l->ifindex = (int)li.xdp.ifindex;
			l->prog_id = li.prog_id;
			l->mode = attached_mode(l->ifindex, NULL);
		}
		if (fd >= 0)
			close(fd);
		st->n_links++;
	}
	if (d)
		closedir(d);
	return 0;
}

static int counters_at(struct zw_xdp *x, unsigned slot, __u32 idx,
		       struct zw_flow_counters *out)
{
	struct zw_bpf_counters sum, base = {0};
	int rc = percpu_sum(x, slot_fd(x, SM_CNT, slot), idx, &sum);

	if (rc)
		return rc;
	bpf_map_lookup_elem(slot_fd(x, SM_CNTBASE, slot), &idx, &base);
	out->packets = sum.packets + base.packets;
	out->bytes = sum.bytes + base.bytes;
	out->new_conns = sum.new_conns + base.new_conns;
	out->drops = sum.drops + base.drops;
	return 0;
}

int zw_xdp__counters(struct zw_xdp *x, struct zw_flow_counters *out,
		     uint32_t n)
{
	struct zw_bpf_global g;
	struct zw_bpf_slot meta;
	__u32 k;
	int rc = global_read(x, &g);

	memset(out, 0, n * sizeof(*out));
	if (rc)
		return rc;
	if (!g.generation)
		return 0;
	k = g.generation & 1;
	if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta))
		return -errno;
	for (uint32_t i = 0; i < n && i < meta.n_flows; i++) {
		rc = counters_at(x, k, i, &out[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int zw_xdp__counters_same_zone(struct zw_xdp *x, struct zw_flow_counters *out)
{
	struct zw_bpf_global g;
	int rc = global_read(x, &g);

	memset(out, 0, sizeof(*out));
	if (rc || !g.generation)
		return rc;
	return counters_at(x, g.generation & 1, ZW_BPF_FLOW_NONE, out);
}

int zw_xdp__stats(struct zw_xdp *x, uint64_t out[ZW_XDP_N_STATS])
{
	int fd = bpf_map__fd(x->skel->maps.zw_stats);
	uint64_t *v = calloc((size_t)x->ncpus, sizeof(*v));

	_Static_assert(ZW_XDP_N_STATS == ZW_BPF_ST__COUNT, "stats count");
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < ZW_XDP_N_STATS; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < x->ncpus; c++)
			out[i] += v[c];
	}
	free(v);
	return 0;
}

int zw_xdp__set_records(struct zw_xdp *x, uint32_t drop_sample,
			int log_all_new)
{
	struct zw_bpf_global g;
	int lock = instance_lock(x), rc;

	if (lock < 0)
		return lock;
	rc = global_read(x, &g);
	if (!rc) {
		g.drop_sample = drop_sample;
		g.log_all_new = !!log_all_new;
		rc = global_write(x, &g);
	}
	instance_unlock(lock);
	return rc;
}

static int rb_event(void *ctx, void *data, size_t size)
{
	struct zw_xdp *x = ctx;
	struct zw_flow_record r;

	if (size < sizeof(r))
		return 0;
	memcpy(&r, data, sizeof(r));
	return x->rb_cb ? x->rb_cb(&r, x->rb_arg) : 0;
}

int zw_xdp__poll_records(struct zw_xdp *x,
			 int (*cb)(const struct zw_flow_record *r, void *arg),
			 void *arg, int timeout_ms)
{
	int n;

	if (!x->rb) {
		x->rb = ring_buffer__new(bpf_map__fd(x->skel->maps.zw_events),
					 rb_event, x, NULL);
		if (!x->rb)
			return -errno;
	}
	x->rb_cb = cb;
	x->rb_arg = arg;
	n = timeout_ms ? ring_buffer__poll(x->rb, timeout_ms)
		       : ring_buffer__consume(x->rb);
	return n;
}

/* ---- drift ---- */

struct dsbuf {
	char *s;
	size_t n, cap;
	unsigned lines;
};

static void ds_add(struct dsbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ds_add(struct dsbuf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	size_t k;

	if (++b->lines > 51)
		return;
	if (b->lines == 51) {
		snprintf(line, sizeof(line), "...\n"); /* more: cut */
	} else {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
	}
	k = strlen(line);
	if (b->n + k + 1 > b->cap) {
		size_t nc = (b->cap + k + 1) * 2;
		char *ns = realloc(b->s, nc);

		if (!ns)
			return;
		b->s = ns;
		b->cap = nc;
	}
	memcpy(b->s + b->n, line, k + 1);
	b->n += k;
}

static void hex_of(const void *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *c = p;

	for (size_t i = 0; i < n && i < 40; i++) {
		*out++ = hx[c[i] >> 4];
		*out++ = hx[c[i] & 15];
	}
	*out = 0;
}

/* Compare a hash/trie map with the expected entries (key/value arrays):
 * both key sets sorted, then merged. */
static size_t cmp_ksz;

static int cmp_key(const void *a, const void *b)
{
	return memcmp(*(const char *const *)a, *(const char *const *)b, cmp_ksz);
}

static void drift_map(struct dsbuf *b, int fd, const char *name,
		      const void *keys, size_t ksz, size_t kstride,
		      const void *vals, size_t vsz, size_t vstride, size_t n)
{
	void *live = NULL;
	size_t nl = 0, i = 0, j = 0;
	const char **ek = malloc((n + 1) * sizeof(*ek));
	const char **lk = NULL;
	char hk[96], hv[96];
	unsigned char val[64];

	if (!ek || map_keys(fd, ksz, &live, &nl)) {
		ds_add(b, "%s: cannot read\n", name);
		free(ek);
		return;
	}
	lk = malloc((nl + 1) * sizeof(*lk));
	if (!lk) {
		free(ek);
		free(live);
		return;
	}
	for (i = 0; i < n; i++)
		ek[i] = (const char *)keys + i * kstride;
	for (j = 0; j < nl; j++)
		lk[j] = (const char *)live + j * ksz;
	cmp_ksz = ksz;
	qsort(ek, n, sizeof(*ek), cmp_key);
	qsort(lk, nl, sizeof(*lk), cmp_key);
	i = j = 0;
	while (i < n || j < nl) {
		int c = i == n ? 1 : j == nl ? -1 : memcmp(ek[i], lk[j], ksz);

		if (c < 0) {
			hex_of(ek[i], ksz, hk);
			ds_add(b, "%s: entry %s missing\n", name, hk);
			i++;
		} else if (c > 0) {
			hex_of(lk[j], ksz, hk);
			ds_add(b, "%s: entry %s not from the image\n", name, hk);
			j++;
		} else {
			size_t e = (size_t)(ek[i] - (const char *)keys) / kstride;

			if (vals && !bpf_map_lookup_elem(fd, ek[i], val) &&
			    memcmp(val, (const char *)vals + e * vstride, vsz)) {
				hex_of(ek[i], ksz, hk);
				hex_of(val, vsz, hv);
				ds_add(b, "%s: entry %s has value %s, not the image's\n",
				       name, hk, hv);
			}
			i++;
			j++;
		}
	}
	free(ek);
	free(lk);
	free(live);
}

static void drift_array(struct dsbuf *b, int fd, const char *name,
			const void *vals, size_t vsz, size_t n)
{
	unsigned char val[64];

	for (__u32 i = 0; i < n; i++)
		if (bpf_map_lookup_elem(fd, &i, val) ||
		    memcmp(val, (const char *)vals + i * vsz, vsz))
			ds_add(b, "%s[%u] differs from the image\n", name, i);
}

char *zw_xdp__drift(struct zw_xdp *x, const struct zw_image *img)
{
	struct zw_xdp_status st;
	struct zw_xdp_tables *t = NULL;
	struct dsbuf b = {0};
	char e[256], h1[65], h2[65], name[64];
	unsigned s;
	__u32 one = 1;
	__u32 *ones = NULL;
	size_t mx;

	errno = 0;
	if (zw_xdp__status(x, &st))
		return NULL;
	if (!st.generation) {
		ds_add(&b, "no policy loaded\n");
		return b.s;
	}
	if (memcmp(st.sha256, img->sha256, 32)) {
		zw_hex(st.sha256, 32, h1);
		zw_hex(img->sha256, 32, h2);
		ds_add(&b, "enforces image %s, not %s\n", h1, h2);
		return b.s;
	}
	if (zw_xdp_tables__build(img, st.day, &t, e, sizeof(e))) {
		ds_add(&b, "image no longer projects: %s\n", e);
		return b.s;
	}
	s = st.slot;
	/* the slot header: what the program reads besides the maps */
	{
		struct zw_bpf_global g;
		struct zw_bpf_slot meta;
		__u32 k = s, hb = (t->n_block4 ? 1u : 0) | (t->n_block6 ? 2u : 0);

		if (global_read(x, &g) ||
		    bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta)) {
			ds_add(&b, "zw_slots[%u]: cannot read\n", s);
		} else {
			if (meta.has_block != hb)
				ds_add(&b, "zw_slots[%u]: has_block %u, the image's block "
				       "list implies %u\n", s, meta.has_block, hb);
			if (meta.generation != g.generation)
				ds_add(&b, "zw_slots[%u]: generation %u, zw_global %u\n",
				       s, meta.generation, g.generation);
			if (meta.n_flows != img->n_flows || meta.n_zones != img->n_zones ||
			    meta.n_live != t->n_live)
				ds_add(&b, "zw_slots[%u]: %u flows (%u live), %u zones; the "
				       "image: %u (%u), %u\n", s, meta.n_flows, meta.n_live,
				       meta.n_zones, img->n_flows, t->n_live, img->n_zones);
		}
	}
	mx = t->n_sets4 > t->n_sets6 ? t->n_sets4 : t->n_sets6;
	if (t->n_block4 > mx)
		mx = t->n_block4;
	if (t->n_block6 > mx)
		mx = t->n_block6;
	ones = malloc((mx + 1) * sizeof(*ones));
	for (size_t i = 0; ones && i <= mx; i++)
		ones[i] = one;
#define NM(m) (snprintf(name, sizeof(name), "%s_%u", slot_map_names[m], s), name)
	drift_map(&b, slot_fd(x, SM_ZONES4, s), NM(SM_ZONES4), &t->zones4[0].k,
		  sizeof(struct zw_bpf_lpm4), sizeof(*t->zones4), &t->zones4[0].v,
		  sizeof(struct zw_bpf_zone_val), sizeof(*t->zones4), t->n_zones4);
	drift_map(&b, slot_fd(x, SM_ZONES6, s), NM(SM_ZONES6), &t->zones6[0].k,
		  sizeof(struct zw_bpf_lpm6), sizeof(*t->zones6), &t->zones6[0].v,
		  sizeof(struct zw_bpf_zone_val), sizeof(*t->zones6), t->n_zones6);
	drift_map(&b, slot_fd(x, SM_SETS4, s), NM(SM_SETS4), t->sets4,
		  sizeof(*t->sets4), sizeof(*t->sets4), ones, 4, 4, t->n_sets4);
	drift_map(&b, slot_fd(x, SM_SETS6, s), NM(SM_SETS6), t->sets6,
		  sizeof(*t->sets6), sizeof(*t->sets6), ones, 4, 4, t->n_sets6);
	drift_map(&b, slot_fd(x, SM_BLOCK4, s), NM(SM_BLOCK4), t->block4,
		  sizeof(*t->block4), sizeof(*t->block4), ones, 4, 4, t->n_block4);
	drift_map(&b, slot_fd(x, SM_BLOCK6, s), NM(SM_BLOCK6), t->block6,
		  sizeof(*t->block6), sizeof(*t->block6), ones, 4, 4, t->n_block6);
	if (t->n_ports)
		drift_map(&b, slot_fd(x, SM_PORTS, s), NM(SM_PORTS), &t->ports[0].k,
			  sizeof(struct zw_bpf_port_key), sizeof(*t->ports),
			  &t->ports[0].v, sizeof(struct zw_bpf_span),
			  sizeof(*t->ports), t->n_ports);
	else
		drift_map(&b, slot_fd(x, SM_PORTS, s), NM(SM_PORTS), NULL,
			  sizeof(struct zw_bpf_port_key), 0, NULL, 0, 0, 0);
	drift_array(&b, slot_fd(x, SM_ZONEINFO, s), NM(SM_ZONEINFO), t->zoneinfo,
		    sizeof(*t->zoneinfo), t->n_zones);
	drift_array(&b, slot_fd(x, SM_FLOWINFO, s), NM(SM_FLOWINFO), t->flowinfo,
		    sizeof(*t->flowinfo), t->n_flows);
	drift_array(&b, slot_fd(x, SM_RANGES, s), NM(SM_RANGES), t->ranges,
		    sizeof(*t->ranges), t->n_ranges);
	drift_array(&b, slot_fd(x, SM_CANDS, s), NM(SM_CANDS), t->cands,
		    sizeof(*t->cands), t->n_cands);
#undef NM
	for (uint32_t i = 0; i < st.n_links; i++) {
		__u32 cur = 0;

		if (!strcmp(st.links[i].mode, "detached")) {
			ds_add(&b, "link %s: interface gone or detached\n",
			       st.links[i].ifname);
			continue;
		}
		attached_mode(st.links[i].ifindex, &cur);
		if (cur != st.links[i].prog_id)
			ds_add(&b, "%s runs XDP program %u, not zonewall's %u\n",
			       st.links[i].ifname, cur, st.links[i].prog_id);
		else if (!prog_is_ours(x, cur))
			ds_add(&b, "%s: its link runs XDP program %u, not this "
			       "instance's program on its maps\n",
			       st.links[i].ifname, cur);
	}
	free(ones);
	zw_xdp_tables__free(t);
	errno = 0;
	return b.s;
}

char *zw_xdp__describe_flow(const struct zw_image *img, uint32_t flow)
{
	return zw_xdp_tables__describe_flow(img, flow, INT32_MIN);
}
