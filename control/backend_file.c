/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "file" engine: a TEST DOUBLE, not a filter. "file:PATH" writes the
 * image it is given to PATH atomically (temp file, fsync, rename) and the
 * day to PATH.day; read_back() loads PATH and reports its SHA-256. While a
 * file PATH.fail exists, apply() fails (its first line, if any, is the
 * error), which lets tests drive refused commits and rollbacks. It exists
 * so the daemon's version, journal and reconcile logic can be tested
 * without root or a kernel engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

struct zw_backend {
	char *path;
};

static int file_open(const char *arg, struct zw_backend **out, char *err,
		     size_t err_len)
{
	struct zw_backend *be;
	char *dir, *slash;

	if (!arg || !*arg) {
		snprintf(err, err_len, "the file engine needs a path (file:PATH)");
		return -EINVAL;
	}
	dir = strdup(arg);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if (*dir && access(dir, W_OK) < 0) {
			int e = errno;

			snprintf(err, err_len, "file engine: cannot write in %s: %s",
				 dir, strerror(e));
			free(dir);
			return -e;
		}
	}
	free(dir);
	be = calloc(1, sizeof(*be));
	if (!be || !(be->path = strdup(arg))) {
		free(be);
		return -ENOMEM;
	}
	*out = be;
	return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	int fd, r = 0;
	const char *p = data;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

static int file_apply(struct zw_backend *be, const struct zw_image *img,
		      int32_t day, char *err, size_t err_len)
{
	char fail[4096], daybuf[32];
	FILE *f;
	int r;

	snprintf(fail, sizeof(fail), "%s.fail", be->path);
	f = fopen(fail, "r");
	if (f) {
		char line[256] = "";

		if (!fgets(line, sizeof(line), f) || !*line)
			snprintf(line, sizeof(line), "told to fail");
		line[strcspn(line, "\n")] = '\0';
		fclose(f);
		snprintf(err, err_len, "file engine %s: %s", be->path, line);
		return -EIO;
	}
	r = write_file(be->path, img->bytes, img->size);
	if (!r) {
		snprintf(fail, sizeof(fail), "%s.day", be->path);
		snprintf(daybuf, sizeof(daybuf), "%d\n", day);
		r = write_file(fail, daybuf, strlen(daybuf));
	}
	if (r)
		snprintf(err, err_len, "file engine: cannot write %s: %s",
			 be->path, strerror(-r));
	return r;
}

static int file_read_back(struct zw_backend *be, const struct zw_image *expected,
			  struct zw_backend_state *st)
{
	char err[256];
	struct zw_image *img;

	memset(st, 0, sizeof(*st));
	if (access(be->path, F_OK) < 0) {
		snprintf(st->detail, sizeof(st->detail), "file %s: no image",
			 be->path);
		return 0;
	}
	img = zw_image__load(be->path, err, sizeof(err));
	if (!img) {
		snprintf(st->detail, sizeof(st->detail), "file %.100s: %.140s",
			 be->path, err);
		if (asprintf(&st->drift, "%s holds no valid image: %s",
			     be->path, err) < 0)
			st->drift = NULL;
		return 0;
	}
	st->enforcing = 1;
	memcpy(st->sha256, img->sha256, 32);
	snprintf(st->detail, sizeof(st->detail), "file %s (test engine)",
		 be->path);
	if (expected && memcmp(expected->sha256, img->sha256, 32)) {
		if (asprintf(&st->drift, "%s holds image %.16s..., expected "
					 "%.16s...",
			     be->path, img->sha256_hex,
			     expected->sha256_hex) < 0)
			st->drift = NULL;
	}
	zw_image__free(img);
	return 0;
}

static int file_counters(struct zw_backend *be, struct zw_flow_counters *out,
			 uint32_t n_flows)
{
	(void)be;
	memset(out, 0, sizeof(*out) * n_flows);
	return 0;
}

static char *file_describe(const struct zw_image *img, uint32_t flow)
{
	return zw_backend__describe_rules(img, flow);
}

static void file_close(struct zw_backend *be)
{
	if (!be)
		return;
	free(be->path);
	free(be);
}

static int file_destroy(struct zw_backend *be)
{
	char day[4096];

	snprintf(day, sizeof(day), "%s.day", be->path);
	unlink(day);
	if (unlink(be->path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

const struct zw_backend_ops zw_backend_file = {
	.name = "file",
	.open = file_open,
	.apply = file_apply,
	.read_back = file_read_back,
	.counters = file_counters,
	.describe_flow = file_describe,
	.close = file_close,
	.destroy = file_destroy,
};
