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
/* RECORDS runs on the daemon's tick: never wait long for a busy engine
 * (the next tick asks again; a timeout is an engine error, shown). */
#define RECORDS_TIMEOUT_MS 1000

struct dpdk_be {
	struct zw_backend base;
	char path[108];
	struct zw_ticket *ticket; /* the one prepared, not yet committed */
	char seen[256]; /* the watch: what STATUS said last ("" unknown) */
	int proto;	/* the server's protocol version */
	/* records received but not yet handed (the callback stopped) */
	struct zw_flow_record *pend;
	size_t pend_n, pend_off, pend_cap;
};

/* The DPDK ticket: the engine built the context of the image with this
 * SHA-256 (PREPARE) and keeps it until COMMIT or ABORT. */
struct zw_ticket {
	char sha256_hex[65];
};

static struct dpdk_be *D(struct zw_backend *be)
{
	return zw_container_of(be, struct dpdk_be, base);
}

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
	struct dpdk_be *be;
	char reply[ZW_CTL_LINE_MAX], *w[8];
	const char *proto;
	int fd, n;

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
	n = zw_ctl__split(reply, w, 8);
	proto = zw_ctl__kv(w, n, "proto");
	/* an older server (protocol 2) is driven without flow records:
	 * records() then says so (an engine error, shown by status) */
	if (!proto || strtol(proto, NULL, 10) < ZW_CTL_PROTO_MIN ||
	    strtol(proto, NULL, 10) > ZW_CTL_PROTO_VERSION) {
		snprintf(err, err_len,
			 "zonewall-dpdk at %s speaks control protocol %s, this "
			 "zonewalld speaks %d to %d: run matching versions",
			 arg, proto ? proto : "(unknown)", ZW_CTL_PROTO_MIN,
			 ZW_CTL_PROTO_VERSION);
		return -EPROTO;
	}
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	strcpy(be->path, arg);
	be->proto = (int)strtol(proto, NULL, 10);
	be->base.ops = &zw_backend_dpdk;
	*out = &be->base;
	return 0;
}

static int dpdk_prepare(struct zw_backend *b, const struct zw_image *img,
			int32_t day, struct zw_ticket **t, char *err,
			size_t err_len)
{
	struct dpdk_be *be = D(b);
	char line[128], reply[ZW_CTL_LINE_MAX], *w[8];
	const char *sha;
	int fd, n;

	*t = NULL;
	if (be->ticket) {
		snprintf(err, err_len, "dpdk: a prepared change is already out");
		return -EBUSY;
	}
	if (be->proto >= ZW_CTL_PROTO_RECORDS)
		snprintf(line, sizeof(line),
			 "PREPARE %" PRId32 " %zu log_all=%d active_timeout=%" PRIu32,
			 day, img->size, b->rec.log_all ? 1 : 0,
			 b->rec.active_timeout_s);
	else
		snprintf(line, sizeof(line), "PREPARE %" PRId32 " %zu", day,
			 img->size);
	fd = request(be->path, line, img->bytes, img->size, LOAD_TIMEOUT_MS,
		     reply, sizeof(reply), err, err_len);
	if (fd < 0)
		return fd;
	close(fd);
	n = zw_ctl__split(reply, w, 8);
	sha = zw_ctl__kv(w, n, "sha256");
	if (!sha || strcmp(sha, img->sha256_hex)) {
		snprintf(err, err_len,
			 "zonewall-dpdk prepared image %s, expected %s",
			 sha ? sha : "(none)", img->sha256_hex);
		return -EIO;
	}
	*t = calloc(1, sizeof(**t));
	if (!*t)
		return -ENOMEM;
	memcpy((*t)->sha256_hex, img->sha256_hex, 65);
	be->ticket = *t;
	return 0;
}

static void dpdk_abort(struct zw_backend *b, struct zw_ticket *t)
{
	struct dpdk_be *be = D(b);
	char reply[ZW_CTL_LINE_MAX], err[256];
	int fd;

	if (!t)
		return;
	if (t == be->ticket)
		be->ticket = NULL;
	free(t);
	/* Best effort: the engine also drops it at the next prepare. */
	fd = request(be->path, "ABORT", NULL, 0, TIMEOUT_MS, reply,
		     sizeof(reply), err, sizeof(err));
	if (fd >= 0)
		close(fd);
}

static int dpdk_commit(struct zw_backend *b, struct zw_ticket *t, char *err,
		       size_t err_len)
{
	struct dpdk_be *be = D(b);
	char line[128], reply[ZW_CTL_LINE_MAX], *w[8];
	const char *sha;
	int fd, n;

	be->ticket = NULL;
	snprintf(line, sizeof(line), "COMMIT %s", t->sha256_hex);
	fd = request(be->path, line, NULL, 0, TIMEOUT_MS, reply, sizeof(reply),
		     err, err_len);
	if (fd < 0) {
		free(t);
		return fd;
	}
	close(fd);
	n = zw_ctl__split(reply, w, 8);
	sha = zw_ctl__kv(w, n, "sha256");
	if (!sha || strcmp(sha, t->sha256_hex)) {
		snprintf(err, err_len,
			 "zonewall-dpdk reports image %s after committing %s",
			 sha ? sha : "(none)", t->sha256_hex);
		free(t);
		return -EIO;
	}
	free(t);
	be->seen[0] = '\0'; /* the next check reads back once */
	return 0;
}

static int dpdk_watch_fd(struct zw_backend *b)
{
	(void)b;
	return -1; /* polled: STATUS on the daemon's watch period */
}

/* Liveness (the engine answers) and what it says it enforces: the image's
 * SHA-256, the generation (a restarted engine starts again), the day and
 * its workers and ports. Counters are left out: traffic changes them. */
static int dpdk_check(struct zw_backend *b)
{
	struct dpdk_be *be = D(b);
	static const char *const keys[] = {"enforcing", "sha256", "generation",
					   "day", "workers", "ports"};
	char reply[ZW_CTL_LINE_MAX], err[256], now[256] = "", *w[32];
	size_t off = 0;
	int fd, n, same;

	fd = request(be->path, "STATUS", NULL, 0, TIMEOUT_MS, reply,
		     sizeof(reply), err, sizeof(err));
	if (fd < 0) {
		be->seen[0] = '\0';
		return fd;
	}
	close(fd);
	n = zw_ctl__split(reply, w, 32);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = zw_ctl__kv(w, n, keys[i]);

		if (off < sizeof(now))
			off += (size_t)snprintf(now + off, sizeof(now) - off,
						"%s=%s ", keys[i], v ? v : "?");
	}
	same = be->seen[0] && !strcmp(now, be->seen);
	snprintf(be->seen, sizeof(be->seen), "%s", now);
	return same ? 0 : 1;
}

static int dpdk_read_back(struct zw_backend *b,
			  const struct zw_image *expected,
			  struct zw_backend_state *st)
{
	struct dpdk_be *be = D(b);
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
	} else if (expected) {
		/* The engine holds exactly the verified image of that SHA-256
		 * (its loader checks it), for the day STATUS reports. */
		const char *dv = zw_ctl__kv(w, n, "day");
		int32_t day = dv ? (int32_t)strtol(dv, NULL, 10) : 0;

		if (zw_backend_state__add_image_rules(st, expected, day) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int dpdk_counters(struct zw_backend *base, struct zw_flow_counters *out,
			 uint32_t n_flows)
{
	struct dpdk_be *be = D(base);
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

/* Drops by reason (DROPS: every reason zonewall-dpdk has a counter for),
 * the connection tables and their early drops (STATUS). */
static int dpdk_stats(struct zw_backend *base, struct zw_engine_stats *out)
{
	struct dpdk_be *be = D(base);
	char reply[ZW_CTL_LINE_MAX], err[256], *w[32];
	const char *used, *size, *early, *lost;
	long i, n;
	int fd, rc = 0, k;

	memset(out, 0, sizeof(*out));
	fd = request(be->path, "DROPS", NULL, 0, TIMEOUT_MS, reply,
		     sizeof(reply), err, sizeof(err));
	if (fd < 0)
		return fd;
	k = zw_ctl__split(reply, w, 8);
	used = zw_ctl__kv(w, k, "n");
	n = used ? strtol(used, NULL, 10) : -1;
	if (n < 0)
		rc = -EPROTO;
	for (i = 0; i < n && !rc; i++) {
		unsigned r;
		uint64_t c;

		rc = zw_ctl__read_line(fd, reply, sizeof(reply));
		if (rc < 0)
			break;
		rc = 0;
		if (sscanf(reply, "%u %*s %" SCNu64, &r, &c) != 2) {
			rc = -EPROTO;
			break;
		}
		if (r > 0 && r < ZW_DROP__COUNT) {
			out->drops[r] = c;
			out->drop_counted[r] = true;
		}
	}
	close(fd);
	if (rc)
		return rc;
	fd = request(be->path, "STATUS", NULL, 0, TIMEOUT_MS, reply,
		     sizeof(reply), err, sizeof(err));
	if (fd < 0)
		return fd;
	close(fd);
	k = zw_ctl__split(reply, w, 32);
	used = zw_ctl__kv(w, k, "conns");
	size = zw_ctl__kv(w, k, "conns_size");
	early = zw_ctl__kv(w, k, "early_drops");
	/* an engine older than conns_size says nothing of its table */
	if (used && size) {
		out->has_conns = true;
		out->conn_used = strtoull(used, NULL, 10);
		out->conn_size = strtoull(size, NULL, 10);
	}
	if (early) {
		out->has_early_drops = true;
		out->early_drops = strtoull(early, NULL, 10);
	}
	lost = zw_ctl__kv(w, k, "records_lost"); /* protocol 3 */
	if (lost) {
		out->has_records_lost = true;
		out->records_lost = strtoull(lost, NULL, 10);
	}
	return 0;
}

/* The DPDK describer: the LPM and ACL entries of each flow. */
struct dpdk_describer {
	struct zw_describer base;
	const struct zw_image *img;
};

static char *dpdk_describe(struct zw_describer *d, uint32_t flow)
{
	return zw_dpdk__describe_flow(
		zw_container_of(d, struct dpdk_describer, base)->img, flow);
}

static void dpdk_describer_free(struct zw_describer *d)
{
	if (d)
		free(zw_container_of(d, struct dpdk_describer, base));
}

static struct zw_describer *dpdk_describer(const struct zw_image *img)
{
	struct dpdk_describer *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->base.describe = dpdk_describe;
	d->base.free = dpdk_describer_free;
	d->img = img;
	return &d->base;
}

/* Hand the records waiting in be->pend to @fn, at most @max; the count. */
static size_t hand_pending(struct dpdk_be *be, zw_record_fn fn, void *ctx,
			   size_t max)
{
	size_t k = 0;

	while (k < max && be->pend_off < be->pend_n) {
		int stop = fn(ctx, &be->pend[be->pend_off++]);

		k++;
		if (stop)
			break;
	}
	return k;
}

/* RECORDS over the control socket (protocol 3): one bounded batch of
 * binary records the engine's control thread drained from its ring; the
 * lcores never wait for us. Records the callback did not take are kept
 * for the next call. */
static int dpdk_records(struct zw_backend *b, zw_record_fn fn, void *ctx,
			size_t max)
{
	struct dpdk_be *be = D(b);
	char line[64], reply[ZW_CTL_LINE_MAX], err[256], *w[8];
	const char *nv, *sv;
	size_t k, n;
	int fd, words, rc;

	if (be->pend_off < be->pend_n) {
		k = hand_pending(be, fn, ctx, max);
		if (be->pend_off < be->pend_n || k >= max)
			return (int)k;
		max -= k;
	} else {
		k = 0;
	}
	if (be->proto < ZW_CTL_PROTO_RECORDS)
		return -EPROTONOSUPPORT; /* a protocol-2 engine has no RECORDS */
	if (!max)
		return (int)k;
	if (max > ZW_CTL_RECORDS_MAX)
		max = ZW_CTL_RECORDS_MAX;
	snprintf(line, sizeof(line), "RECORDS %zu", max);
	fd = request(be->path, line, NULL, 0, RECORDS_TIMEOUT_MS, reply,
		     sizeof(reply), err, sizeof(err));
	if (fd < 0)
		return k ? (int)k : fd;
	words = zw_ctl__split(reply, w, 8);
	nv = zw_ctl__kv(w, words, "n");
	sv = zw_ctl__kv(w, words, "size");
	n = nv ? strtoul(nv, NULL, 10) : 0;
	if (!nv || !sv || n > max ||
	    strtoul(sv, NULL, 10) != sizeof(struct zw_flow_record)) {
		/* another record layout: refuse rather than misread */
		close(fd);
		return k ? (int)k : -EPROTO;
	}
	if (n > be->pend_cap) {
		struct zw_flow_record *p = realloc(be->pend, n * sizeof(*p));

		if (!p) {
			close(fd);
			return k ? (int)k : -ENOMEM;
		}
		be->pend = p;
		be->pend_cap = n;
	}
	rc = n ? zw_ctl__read_full(fd, be->pend, n * sizeof(*be->pend)) : 0;
	close(fd);
	be->pend_off = 0;
	be->pend_n = rc ? 0 : n;
	if (rc)
		return k ? (int)k : rc;
	return (int)(k + hand_pending(be, fn, ctx, max));
}

static void dpdk_close(struct zw_backend *b)
{
	if (b) {
		free(D(b)->pend);
		free(D(b));
	}
}

/* Remove the policy: the engine stays up, fail closed (every IP packet
 * dropped) until the next apply(). Stopping the process is not ours to do. */
static int dpdk_destroy(struct zw_backend *b, char *err, size_t err_len)
{
	char reply[ZW_CTL_LINE_MAX];
	int fd;

	fd = request(D(b)->path, "UNLOAD", NULL, 0, TIMEOUT_MS, reply,
		     sizeof(reply), err, err_len);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

const struct zw_backend_ops zw_backend_dpdk = {
	.name = "dpdk",
	.open = dpdk_open,
	.prepare = dpdk_prepare,
	.commit = dpdk_commit,
	.abort = dpdk_abort,
	.read_back = dpdk_read_back,
	.watch_fd = dpdk_watch_fd,
	.check = dpdk_check,
	.counters = dpdk_counters,
	.stats = dpdk_stats,
	.records = dpdk_records,
	.describer = dpdk_describer,
	.close = dpdk_close,
	.destroy = dpdk_destroy,
};
