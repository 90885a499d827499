/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "file" engine: a TEST DOUBLE, not a filter, registered by the tests'
 * daemon (zonewalld_test.c) and in-process tests, never by zonewalld.
 * "file:PATH" writes the image it is given to PATH atomically and the day
 * to PATH.day: prepare() writes PATH.new and PATH.day.new (fsync'd),
 * commit() renames them into place, abort() removes them. read_back()
 * loads PATH and reports its SHA-256 and its rules. While a file PATH.fail
 * exists, prepare() fails (its first line, if any, is the error); while
 * PATH.commit-fail exists, commit() fails; each apply is counted in
 * PATH.applied (one line per commit), so tests can show that an engine
 * was not programmed again. counters() reads PATH.counters, written by
 * the test: one line per flow, "FLOW_ID PACKETS BYTES [NEW_CONNS DROPS]"
 * (raw engine counters: a lower value than before is a counter reset);
 * flows not listed, or no file, count zero. It exists so the daemon's version, journal
 * and reconcile logic can be tested without root or a kernel engine.
 * check() compares PATH and PATH.day (inode, size, modification time) with
 * what the last commit() or check() saw, so a test that edits, replaces or
 * removes the file behind the daemon's back exercises the enforcement
 * watch.
 *
 * stats() reads PATH.stats, written by the test, one item per line:
 *   drop REASON N       packets dropped for drop reason REASON (a name of
 *                       zw_drop_reason__name()); reasons not listed are
 *                       not counted by this engine
 *   conns USED SIZE     the connection table (no line: the engine has
 *                       none)
 *   early-drops N       connections dropped early (no line: not counted)
 * No file: nothing counted, no table.
 *
 * records() replays flow records a test appends to PATH.records, one per
 * line, each read once:
 *   EVENT FLOW ZS ZD PROTO SRC SPORT DST DPORT PACKETS BYTES REASON
 * EVENT new|drop|end|update|denied-agg; FLOW the flow index or -1; ZS, ZD
 * zone indices; PROTO a number; SRC, DST addresses (v4 or v6); REASON a
 * drop-reason name or "none"; optional extra fields "rev=P/B" (responder
 * packets/bytes) and "start-ago-ms=N" fill the record's extension. The
 * timestamp is the time it is read (CLOCK_MONOTONIC).
 *
 * "file:PATH,inspect=N" also says at open that the engine hands packets
 * to the L7 inspector on queue N, reading its image at PATH (what the
 * engine writes at commit): the daemon's supervision of the inspector is
 * tested with it (tests/control/inspector_test.sh).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zonewall/backend.h>
#include <zonewall/flow_record.h>
#include <zonewall/policy.h>

struct file_be {
	struct zw_backend base;
	char *path;
	bool prepared; /* a ticket is out */
	long rec_off;  /* bytes of PATH.records already replayed */
	bool seen;     /* sig holds what commit() or check() last saw */
	struct stat sig[2]; /* PATH, PATH.day (st_ino 0: absent) */
};

/* The ticket: the files written by prepare(). */
struct zw_ticket {
	int32_t day;
};

static int file_open(const char *arg, struct zw_backend **out, char *err,
		     size_t err_len)
{
	struct file_be *be;
	char *dir, *slash, path[sizeof(be->base.inspect.image)];
	const char *opt;
	long queue = -1;

	if (!arg || !*arg) {
		snprintf(err, err_len, "the file engine needs a path (file:PATH)");
		return -EINVAL;
	}
	opt = strstr(arg, ",inspect=");
	if (opt) {
		char *end;

		queue = strtol(opt + 9, &end, 10);
		if (*end || end == opt + 9 || queue < 0 || queue > 65535) {
			snprintf(err, err_len, "file engine: inspect=0..65535");
			return -EINVAL;
		}
		if ((size_t)(opt - arg) >= sizeof(be->base.inspect.image)) {
			snprintf(err, err_len, "file engine: path too long for inspect=");
			return -ENAMETOOLONG;
		}
		snprintf(path, sizeof(path), "%.*s", (int)(opt - arg), arg);
		arg = path;
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
	be->base.ops = &zw_backend_file;
	if (queue >= 0) {
		be->base.inspect.need = true;
		be->base.inspect.queue = (uint16_t)queue;
		memcpy(be->base.inspect.image, path, strlen(path) + 1);
	}
	*out = &be->base;
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

static struct file_be *F(struct zw_backend *be)
{
	return zw_container_of(be, struct file_be, base);
}

static void file_rebase(struct file_be *be);

/* The first line of @path (or @dflt) into @line, when @path exists. */
static bool told(const char *path, const char *dflt, char *line, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	if (!fgets(line, (int)len, f) || !*line)
		snprintf(line, len, "%s", dflt);
	line[strcspn(line, "\n")] = '\0';
	fclose(f);
	return true;
}

static int file_prepare(struct zw_backend *b, const struct zw_image *img,
			int32_t day, struct zw_ticket **t, char *err,
			size_t err_len)
{
	struct file_be *be = F(b);
	char path[4096], daybuf[32], line[256];
	int r;

	*t = NULL;
	if (be->prepared) {
		snprintf(err, err_len, "file engine %s: a ticket is already out",
			 be->path);
		return -EBUSY;
	}
	snprintf(path, sizeof(path), "%s.fail", be->path);
	if (told(path, "told to fail", line, sizeof(line))) {
		snprintf(err, err_len, "file engine %s: %s", be->path, line);
		return -EIO;
	}
	snprintf(path, sizeof(path), "%s.new", be->path);
	r = write_file(path, img->bytes, img->size);
	if (!r) {
		snprintf(path, sizeof(path), "%s.day.new", be->path);
		snprintf(daybuf, sizeof(daybuf), "%d\n", day);
		r = write_file(path, daybuf, strlen(daybuf));
	}
	if (r) {
		snprintf(err, err_len, "file engine: cannot write %s: %s",
			 path, strerror(-r));
		return r;
	}
	*t = calloc(1, sizeof(**t));
	if (!*t)
		return -ENOMEM;
	(*t)->day = day;
	be->prepared = true;
	return 0;
}

static void file_abort(struct zw_backend *b, struct zw_ticket *t)
{
	struct file_be *be = F(b);
	char path[4096];

	if (!t)
		return;
	snprintf(path, sizeof(path), "%s.new", be->path);
	unlink(path);
	snprintf(path, sizeof(path), "%s.day.new", be->path);
	unlink(path);
	be->prepared = false;
	free(t);
}

static int file_commit(struct zw_backend *b, struct zw_ticket *t, char *err,
		       size_t err_len)
{
	struct file_be *be = F(b);
	char from[4096], to[4096], line[256];
	FILE *f;
	int r = 0;

	snprintf(from, sizeof(from), "%s.commit-fail", be->path);
	if (told(from, "told to fail at commit", line, sizeof(line))) {
		snprintf(err, err_len, "file engine %s: %s", be->path, line);
		file_abort(b, t);
		return -EIO;
	}
	snprintf(from, sizeof(from), "%s.new", be->path);
	if (rename(from, be->path) < 0)
		r = -errno;
	snprintf(from, sizeof(from), "%s.day.new", be->path);
	snprintf(to, sizeof(to), "%s.day", be->path);
	if (!r && rename(from, to) < 0)
		r = -errno;
	if (r)
		snprintf(err, err_len, "file engine: cannot rename into %s: %s",
			 be->path, strerror(-r));
	snprintf(to, sizeof(to), "%s.applied", be->path);
	if (!r && (f = fopen(to, "a"))) {
		fprintf(f, "%d\n", t->day);
		fclose(f);
	}
	file_abort(b, t);
	if (!r)
		file_rebase(be);
	return r;
}

/* What PATH and PATH.day are now (inode, size, mtime; absent: zeros). */
static void file_sig(const struct file_be *be, struct stat sig[2])
{
	char day[4096];

	snprintf(day, sizeof(day), "%s.day", be->path);
	memset(sig, 0, 2 * sizeof(*sig));
	if (stat(be->path, &sig[0]) < 0)
		memset(&sig[0], 0, sizeof(sig[0]));
	if (stat(day, &sig[1]) < 0)
		memset(&sig[1], 0, sizeof(sig[1]));
}

static bool sig_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void file_rebase(struct file_be *be)
{
	file_sig(be, be->sig);
	be->seen = true;
}

static int file_watch_fd(struct zw_backend *b)
{
	(void)b;
	return -1; /* polled: check() on the daemon's watch period */
}

static int file_check(struct zw_backend *b)
{
	struct file_be *be = F(b);
	struct stat now[2];
	bool same;

	file_sig(be, now);
	same = be->seen && sig_same(&now[0], &be->sig[0]) &&
	       sig_same(&now[1], &be->sig[1]);
	memcpy(be->sig, now, sizeof(now));
	be->seen = true;
	return same ? 0 : 1;
}

static int file_read_back(struct zw_backend *b, const struct zw_image *expected,
			  struct zw_backend_state *st)
{
	struct file_be *be = F(b);
	char daypath[4096];
	int32_t day = 0;
	FILE *f;
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
	snprintf(daypath, sizeof(daypath), "%s.day", be->path);
	if ((f = fopen(daypath, "r"))) {
		if (fscanf(f, "%d", &day) != 1)
			day = 0;
		fclose(f);
	}
	if (zw_backend_state__add_image_rules(st, img, day) < 0) {
		zw_image__free(img);
		return -ENOMEM;
	}
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

static int file_counters(struct zw_backend *b, struct zw_flow_counters *out,
			 uint32_t n_flows)
{
	struct file_be *be = F(b);
	char path[4096], line[512], id[128], err[256];
	struct zw_image *img;
	FILE *f;

	memset(out, 0, sizeof(*out) * n_flows);
	snprintf(path, sizeof(path), "%s.counters", be->path);
	f = fopen(path, "r");
	if (!f)
		return 0;
	img = zw_image__load(be->path, err, sizeof(err));
	if (!img) {
		fclose(f);
		return 0; /* holds no image: nothing in force to count */
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long p = 0, by = 0, nc = 0, dr = 0;

		if (sscanf(line, "%127s %llu %llu %llu %llu", id, &p, &by, &nc,
			   &dr) < 3)
			continue;
		for (uint32_t k = 0; k < img->n_flows && k < n_flows; k++)
			if (!strcmp(zw_image__str(img, img->flows[k].id), id)) {
				out[k] = (struct zw_flow_counters){p, by, nc, dr};
				break;
			}
	}
	fclose(f);
	zw_image__free(img);
	return 0;
}

static int file_stats(struct zw_backend *b, struct zw_engine_stats *out)
{
	struct file_be *be = F(b);
	char path[4200], line[256], name[64];
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s.stats", be->path);
	f = fopen(path, "re");
	if (!f)
		return 0; /* counts nothing */
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, c;
		int r;

		if (sscanf(line, "drop %63s %llu", name, &a) == 2) {
			r = zw_drop_reason__parse(name);
			if (r > 0) {
				out->drops[r] = a;
				out->drop_counted[r] = true;
			}
		} else if (sscanf(line, "conns %llu %llu", &a, &c) == 2) {
			out->has_conns = true;
			out->conn_used = a;
			out->conn_size = c;
		} else if (sscanf(line, "early-drops %llu", &a) == 1) {
			out->has_early_drops = true;
			out->early_drops = a;
		}
	}
	fclose(f);
	return 0;
}

static int parse_record(char *line, struct zw_flow_record *r)
{
	static const char *const evs[] = {"", "new", "drop", "end", "update",
					  "denied-agg"};
	char ev[16], src[64], dst[64], reason[32], *extra;
	unsigned proto, zs, zd, sport, dport;
	unsigned long long pk, by;
	long flow;
	int n = 0, rr;
	struct timespec ts;

	memset(r, 0, sizeof(*r));
	if (sscanf(line, "%15s %ld %u %u %u %63s %u %63s %u %llu %llu %31s%n",
		   ev, &flow, &zs, &zd, &proto, src, &sport, dst, &dport, &pk,
		   &by, reason, &n) != 12)
		return -EINVAL;
	for (size_t i = 1; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (!strcmp(ev, evs[i]))
			r->event = (uint8_t)i;
	if (!r->event)
		return -EINVAL;
	if (inet_pton(AF_INET, src, r->src) == 1 &&
	    inet_pton(AF_INET, dst, r->dst) == 1)
		r->family = 4;
	else if (inet_pton(AF_INET6, src, r->src) == 1 &&
		 inet_pton(AF_INET6, dst, r->dst) == 1)
		r->family = 6;
	else
		return -EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r->ts_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	r->flow = flow < 0 ? UINT32_MAX : (uint32_t)flow;
	r->src_zone = (uint16_t)zs;
	r->dst_zone = (uint16_t)zd;
	r->proto = (uint8_t)proto;
	r->sport = (uint16_t)sport;
	r->dport = (uint16_t)dport;
	r->packets = pk;
	r->bytes = by;
	rr = zw_drop_reason__parse(reason);
	r->reason = rr < 0 ? 0 : (uint8_t)rr;
	r->engine = 9;
	r->ifindex = 1;
	for (extra = strtok(line + n, " \t\n"); extra;
	     extra = strtok(NULL, " \t\n")) {
		unsigned long long a, b;

		if (sscanf(extra, "rev=%llu/%llu", &a, &b) == 2) {
			r->flags |= ZW_REC_F_EXT;
			r->rev_packets = a;
			r->rev_bytes = b;
			r->end_reason = ZW_END_CLOSED;
		} else if (sscanf(extra, "start-ago-ms=%llu", &a) == 1) {
			r->flags |= ZW_REC_F_EXT;
			r->start_ns = r->ts_ns - a * 1000000ull;
		}
	}
	return 0;
}

static int file_records(struct zw_backend *b, zw_record_fn fn, void *ctx,
			size_t max)
{
	struct file_be *be = F(b);
	char path[4200], line[512];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s.records", be->path);
	f = fopen(path, "re");
	if (!f)
		return 0; /* enforces nothing, sees no packet */
	if (fseek(f, be->rec_off, SEEK_SET) < 0) {
		fclose(f);
		return 0;
	}
	while (n < max && fgets(line, sizeof(line), f)) {
		struct zw_flow_record r;

		if (!strchr(line, '\n'))
			break; /* the test is still writing this line */
		be->rec_off = ftell(f);
		if (line[0] == '#' || parse_record(line, &r) < 0)
			continue;
		n++;
		if (fn(ctx, &r))
			break;
	}
	fclose(f);
	return (int)n;
}

static void file_close(struct zw_backend *b)
{
	struct file_be *be;

	if (!b)
		return;
	be = F(b);
	free(be->path);
	free(be);
}

static int file_destroy(struct zw_backend *b, char *err, size_t err_len)
{
	struct file_be *be = F(b);
	char day[4096];

	snprintf(day, sizeof(day), "%s.day", be->path);
	unlink(day);
	if (unlink(be->path) < 0 && errno != ENOENT) {
		int e = errno;

		snprintf(err, err_len, "file engine: cannot remove %s: %s",
			 be->path, strerror(e));
		return -e;
	}
	file_rebase(be);
	return 0;
}

const struct zw_backend_ops zw_backend_file = {
	.name = "file",
	.open = file_open,
	.prepare = file_prepare,
	.commit = file_commit,
	.abort = file_abort,
	.read_back = file_read_back,
	.counters = file_counters,
	.stats = file_stats,
	.records = file_records,
	.describer = zw_rule_describer__new,
	.watch_fd = file_watch_fd,
	.check = file_check,
	.close = file_close,
	.destroy = file_destroy,
};
