/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's instance: program and maps through the libbpf skeleton,
 * pinned in a bpffs instance directory; its life cycle (open, close,
 * destroy, purge, re-pin) and the lock its writers take. The rest of the
 * loader is split by concept (list in xdp_instance.h). See xdp.h and
 * docs/xdp-engine.md.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_instance.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

void zw_xdp__mirrored_elsewhere(struct zw_xdp *x)
{
	x->probes_ok = 1;
}

void zw_xdp__inject_failure(struct zw_xdp *x)
{
	x->inject_failure = 1;
}

int zw_xdp_fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

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

int zw_xdp_lock(const struct zw_xdp *x)
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

void zw_xdp_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
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
	int rc, fresh, lock = -1;

	*out = NULL;
	if (!x)
		return zw_xdp_fail(err, err_len, -ENOMEM, "out of memory");
	if (!dir || !*dir)
		dir = getenv("ZONEWALL_XDP_DIR");
	if (!dir || !*dir)
		dir = ZW_XDP_DEFAULT_DIR;
	if (snprintf(x->dir, sizeof(x->dir), "%s", dir) >= (int)sizeof(x->dir)) {
		rc = zw_xdp_fail(err, err_len, -ENAMETOOLONG, "instance directory name too long");
		goto err;
	}
	x->ncpus = libbpf_num_possible_cpus();
	if (x->ncpus <= 0) {
		rc = zw_xdp_fail(err, err_len, -EIO, "cannot count the possible CPUs");
		goto err;
	}
	if (!on_bpffs(x->dir)) {
		rc = zw_xdp_fail(err, err_len, -ENOTSUP,
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
		zw_xdp_fail(err, err_len, rc, "cannot create %s: %s", path, strerror(-rc));
		goto err;
	}

	x->skel = zonewall_bpf__open();
	if (!x->skel) {
		rc = zw_xdp_fail(err, err_len, -errno, "cannot open the BPF object: %s",
				 strerror(errno));
		goto err;
	}
	snprintf(path, sizeof(path), "%s/maps/zw_global", x->dir);
	fresh = stat(path, &st) != 0;
	bpf_object__for_each_map(map, x->skel->obj) {
		snprintf(path, sizeof(path), "%s/maps/%s", x->dir, bpf_map__name(map));
		if (bpf_map__set_pin_path(map, path)) {
			rc = zw_xdp_fail(err, err_len, -EINVAL, "cannot set pin path %s", path);
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
		zw_xdp_fail(err, err_len, rc,
			    "cannot load the XDP program into %s (%s)%s", x->dir,
			    strerror(-rc),
			    fresh ? ""
				  : ": its pinned maps may come from another "
				    "zonewall version; 'zw-xdp --dir DIR "
				    "unload' removes them");
		goto err;
	}
	x->verifier_insns = (uint32_t)parse_insns(log);

	lock = zw_xdp_lock(x);
	if (lock < 0) {
		rc = zw_xdp_fail(err, err_len, lock, "cannot lock %s: %s", x->dir,
				 strerror(-lock));
		goto err;
	}
	rc = zw_xdp_global_read(x, &g);
	if (rc) {
		zw_xdp_fail(err, err_len, rc, "cannot read zw_global: %s",
			    strerror(-rc));
		goto err;
	}
	if (g.abi == 0 && g.generation == 0) {
		g.abi = ZW_BPF_ABI_VERSION;
		g.drop_sample = 1;
		g.log_all_new = 0;
		rc = zw_xdp_global_write(x, &g);
		if (rc) {
			zw_xdp_fail(err, err_len, rc, "cannot write zw_global: %s",
				    strerror(-rc));
			goto err;
		}
	} else if (g.abi != ZW_BPF_ABI_VERSION) {
		rc = zw_xdp_fail(err, err_len, -EPROTO,
				 "%s holds maps of BPF ABI %u, this build speaks %u: "
				 "'zw-xdp --dir DIR unload' to start afresh",
				 x->dir, g.abi, ZW_BPF_ABI_VERSION);
		goto err;
	}
	zw_xdp_unlock(lock);
	lock = -1;
	/* the program pin: the one links run (re-pinned on upgrade) */
	snprintf(path, sizeof(path), "%s/prog", x->dir);
	if (stat(path, &st) && bpf_program__pin(x->skel->progs.zw_xdp, path)) {
		rc = -errno;
		zw_xdp_fail(err, err_len, rc, "cannot pin %s: %s", path, strerror(errno));
		goto err;
	}
	*out = x;
	return 0;
err:
	zw_xdp_unlock(lock);
	zw_xdp__close(x);
	return rc;
}

/* The one teardown of a handle: NULL-safe and safe on a half-built one
 * (every failure of zw_xdp__open() ends here). */
void zw_xdp__close(struct zw_xdp *x)
{
	if (!x)
		return;
	ring_buffer__free(x->rb);
	free(x->sw.keys);
	free(x->sw.vals);
	zonewall_bpf__destroy(x->skel);
	free(x);
}

int zw_xdp__prog_fd(const struct zw_xdp *x)
{
	return bpf_program__fd(x->skel->progs.zw_xdp);
}

int zw_xdp__destroy(struct zw_xdp *x, char *err, size_t err_len)
{
	char path[PATH_MAX + 300];
	struct zw_bpf_global g;
	struct bpf_map *map;
	struct dirent *e;
	DIR *d;
	int rc = 0, lock = zw_xdp_lock(x);

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
	if (!zw_xdp_global_read(x, &g)) {
		g.generation = 0;
		zw_xdp_global_write(x, &g);
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
		rc = zw_xdp_fail(err, err_len, -errno, "cannot remove %s: %s", x->dir,
				 strerror(errno));
	zw_xdp_unlock(lock);
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
		return zw_xdp_fail(err, err_len, -ENOENT, "no instance in %s", path);
	if (!on_bpffs(path))
		return zw_xdp_fail(err, err_len, -EINVAL, "%s is not on a bpf filesystem",
				   path);
	rc = purge_dir(path);
	if (rc)
		return zw_xdp_fail(err, err_len, rc, "cannot remove %s: %s", path,
				   strerror(-rc));
	return 0;
}

int zw_xdp_repin(struct zw_xdp *x, char *err, size_t err_len)
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
		return zw_xdp_fail(err, err_len, rc < 0 ? rc : -EIO,
				   "cannot re-create the instance in %s", x->dir);
	x->destroyed = 0;
	return 0;
}
