// SPDX-License-Identifier: BSD-2-Clause
/*
 * zonewalld's "dpdk" backend: a client of zonewall-dpdk's control socket
 * (arg = socket path). Links no DPDK: the daemon can drive an engine that
 * runs as its own process (it keeps enforcing when the daemon is gone).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "ctl_proto.h"
#include "rules.h"

/* LOAD builds LPM and ACL tables for the whole image: give it time. */
#define LOAD_TIMEOUT_MS 120000
#define TIMEOUT_MS 5000

struct zw_backend {
	char path[108];
};

/* Send @line (+ @body), read the status line into @reply. Returns the
 * connected fd (for list replies) or -errno; an "ERR" reply gives its
 * errno with the reason in @err. */
static int request(const char *path, const char *line, const void *body,
		   size_t body_len, int timeout_ms, char *reply,
		   size_t reply_len, char *err, size_t err_len)
{
	int fd, rc;

	fd = zw_ctl__connect(path, timeout_ms);
	if (fd < 0) {
		snprintf(err, err_len, "cannot reach zonewall-dpdk at %s: %s",
			 path, strerror(-fd));
		return fd;
	}
	rc = zw_ctl__printf(fd, "%s\n", line);
	if (!rc && body_len)
		rc = zw_ctl__write_full(fd, body, body_len);
	if (!rc) {
		rc = zw_ctl__read_line(fd, reply, reply_len);
	} else if (rc == -EPIPE || rc == -ECONNRESET) {
		/* The engine refused the request before reading its body and
		 * closed: its reply says why. */
		if (zw_ctl__read_line(fd, reply, reply_len) >= 0)
			rc = 0;
	}
	if (rc < 0) {
		snprintf(err, err_len, "zonewall-dpdk at %s: %s", path,
			 strerror(-rc));
		close(fd);
		return rc;
	}
	if (!strncmp(reply, "OK", 2) && (reply[2] == 0 || reply[2] == ' '))
		return fd;
	close(fd);
	if (!strncmp(reply, "ERR ", 4)) {
		char *end;
		long e = strtol(reply + 4, &end, 10);

		snprintf(err, err_len, "zonewall-dpdk: %s",
			 *end ? end + 1 : "error");
		return e > 0 ? (int)-e : -EIO;
	}
	snprintf(err, err_len, "zonewall-dpdk: unexpected reply '%.80s'",
		 reply);
	return -EPROTO;
}

static int dpdk_open(const char *arg, struct zw_backend **out, char *err,
		     size_t err_len)
{
	struct zw_backend *be;
	char reply[ZW_CTL_LINE_MAX];
	int fd;

	*out = NULL;
	if (!arg || !*arg) {
		snprintf(err, err_len,
			 "dpdk backend needs the control socket: "
			 "--backend dpdk:PATH");
		return -EINVAL;
	}
	if (strlen(arg) >= sizeof(be->path)) {
		snprintf(err, err_len, "control socket path too long");
		return -ENAMETOOLONG;
	}
	fd = request(arg, "HELLO", NULL, 0, TIMEOUT_MS, reply, sizeof(reply),
		     err, err_len);
	if (fd < 0)
		return fd;
	close(fd);
	if (strncmp(reply, "OK zonewall-dpdk", 16)) {
		snprintf(err, err_len, "%s is not a zonewall-dpdk socket", arg);
		return -EPROTO;
	}
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	strcpy(be->path, arg);
	*out = be;
	return 0;
}

static int dpdk_apply(struct zw_backend *be, const struct zw_image *img,
		      int32_t day, char *err, size_t err_len)
{
	char line[128], reply[ZW_CTL_LINE_MAX], *w[8];
	const char *sha;
	int fd, n;

	snprintf(line, sizeof(line), "LOAD %" PRId32 " %zu", day, img->size);
	fd = request(be->path, line, img->bytes, img->size, LOAD_TIMEOUT_MS,
		     reply, sizeof(reply), err, err_len);
	if (fd < 0)
		return fd;
	close(fd);
	n = zw_ctl__split(reply, w, 8);
	sha = zw_ctl__kv(w, n, "sha256");
	if (!sha || strcmp(sha, img->sha256_hex)) {
		snprintf(err, err_len,
			 "zonewall-dpdk reports image %s after loading %s",
			 sha ? sha : "(none)", img->sha256_hex);
		return -EIO;
	}
	return 0;
}

static int dpdk_read_back(struct zw_backend *be,
			  const struct zw_image *expected,
			  struct zw_backend_state *st)
{
	char reply[ZW_CTL_LINE_MAX], copy[ZW_CTL_LINE_MAX], err[256], *w[32];
	const char *v;
	int fd, n;

	memset(st, 0, sizeof(*st));
	fd = request(be->path, "STATUS", NULL, 0, TIMEOUT_MS, reply,
		     sizeof(reply), err, sizeof(err));
	if (fd < 0) {
		snprintf(st->detail, sizeof(st->detail), "%.200s", err);
		return fd;
	}
	close(fd);
	strcpy(copy, reply);
	n = zw_ctl__split(copy, w, 32);
	v = zw_ctl__kv(w, n, "enforcing");
	st->enforcing = v && !strcmp(v, "1");
	v = zw_ctl__kv(w, n, "sha256");
	if (st->enforcing && (!v || zw_unhex(v, st->sha256, 32)))
		return -EPROTO;
	snprintf(st->detail, sizeof(st->detail), "%.200s",
		 reply[2] ? reply + 3 : "");
	if (expected && (!st->enforcing ||
			 memcmp(st->sha256, expected->sha256, 32))) {
		char have[65] = "(none)";

		if (st->enforcing)
			zw_hex(st->sha256, 32, have);
		if (asprintf(&st->drift,
			     "zonewall-dpdk enforces image %s, expected %s\n",
			     have, expected->sha256_hex) < 0)
			st->drift = NULL;
	}
	return 0;
}

static int dpdk_counters(struct zw_backend *be, struct zw_flow_counters *out,
			 uint32_t n_flows)
{
	char reply[ZW_CTL_LINE_MAX], err[256], *w[8];
	const char *v;
	long i, n;
	int fd, rc = 0, k;

	memset(out, 0, n_flows * sizeof(*out));
	fd = request(be->path, "COUNTERS", NULL, 0, TIMEOUT_MS, reply,
		     sizeof(reply), err, sizeof(err));
	if (fd < 0)
		return fd;
	k = zw_ctl__split(reply, w, 8);
	v = zw_ctl__kv(w, k, "n");
	n = v ? strtol(v, NULL, 10) : -1;
	if (n < 0)
		rc = -EPROTO;
	for (i = 0; i < n && !rc; i++) {
		unsigned long idx;
		uint64_t p, b, nc, d;

		rc = zw_ctl__read_line(fd, reply, sizeof(reply));
		if (rc < 0)
			break;
		rc = 0;
		if (sscanf(reply, "%lu %*s %" SCNu64 " %" SCNu64 " %" SCNu64
				  " %" SCNu64,
			   &idx, &p, &b, &nc, &d) != 5) {
			rc = -EPROTO;
			break;
		}
		if (idx < n_flows) {
			out[idx].packets = p;
			out[idx].bytes = b;
			out[idx].new_conns = nc;
			out[idx].drops = d;
		}
	}
	close(fd);
	return rc;
}

static char *dpdk_describe_flow(const struct zw_image *img, uint32_t flow)
{
	return zw_dpdk__describe_flow(img, flow);
}

static void dpdk_close(struct zw_backend *be)
{
	free(be);
}

/* Remove the policy: the engine stays up, fail closed (every IP packet
 * dropped) until the next apply(). Stopping the process is not ours to do. */
static int dpdk_destroy(struct zw_backend *be)
{
	char reply[ZW_CTL_LINE_MAX], err[256];
	int fd;

	fd = request(be->path, "UNLOAD", NULL, 0, TIMEOUT_MS, reply,
		     sizeof(reply), err, sizeof(err));
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

const struct zw_backend_ops zw_backend_dpdk = {
	.name = "dpdk",
	.open = dpdk_open,
	.apply = dpdk_apply,
	.read_back = dpdk_read_back,
	.counters = dpdk_counters,
	.describe_flow = dpdk_describe_flow,
	.close = dpdk_close,
	.destroy = dpdk_destroy,
};
