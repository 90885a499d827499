/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld's Prometheus endpoint (metrics.h, docs/daemon.md). A scrape is
 * answered from the daemon's loop rather than a thread of its own: the
 * engines' ops are called from one thread only (backend.h), and a page is
 * small and rendered in milliseconds. The HTTP side is deliberately
 * minimal (HTTP/1.0, one request per connection, bounded in size and
 * time) so that a client that connects and says nothing, or reads nothing,
 * holds up neither the control socket nor other scrapes. */
#include <errno.h>
#include <stddef.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <zonewall/telemetry.h>

#include "metrics.h"
#include "proto.h"

#define REQ_MAX 4096	 /* request line and headers */
#define CLIENT_MS 10000	 /* to send the request and read the answer */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct mclient {
	int fd; /* -1: free */
	int64_t deadline;
	char req[REQ_MAX + 1];
	size_t req_len;
	char *out; /* response being written (NULL: reading) */
	size_t out_len, out_off;
};

struct zwd_metrics {
	int lfd;
	struct mclient c[ZWD_METRICS_MAX_CONNS];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the page ---- */

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels of one engine instance: engine (its name) and backend (its
 * --backend SPEC, which tells two instances of one engine apart). */
static void engine_labels(FILE *f, const struct zwd_backend *b)
{
	fputs("engine=\"", f);
	put_label(f, b->be->ops->name);
	fputs("\",backend=\"", f);
	put_label(f, b->spec);
	fputc('"', f);
}

struct engine_view {
	bool up;       /* read_back answered */
	bool enforcing;
	bool drift;    /* not on the enforced image, or rules changed by hand */
	struct zw_flow_counters *counters; /* NULL: none */
	bool has_stats; /* the stats op answered */
	struct zw_engine_stats stats;
};

static void versions(struct zwd *d, FILE *f)
{
	static const char *const results[] = {"ok", "refused", "abandoned",
					      NULL};
	sqlite3 *db = zw_journal__sqlite(d->j);
	sqlite3_stmt *st = NULL;
	long long n[3] = {0, 0, 0}, last_us = 0;

	if (sqlite3_prepare_v2(db,
			       "SELECT state, count(*) FROM versions GROUP BY "
			       "state",
			       -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *s = (const char *)sqlite3_column_text(st, 0);

			for (int i = 0; s && results[i]; i++)
				if (!strcmp(s, results[i]))
					n[i] = sqlite3_column_int64(st, 1);
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT max(time_us) FROM versions WHERE "
			       "state = 'ok'",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		last_us = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);

	family(f, "zonewall_commits_total", "counter",
	       "Versions stored (commits, rollbacks), by how they ended: ok "
	       "(became active), refused (an engine refused it), abandoned "
	       "(the daemon stopped during the commit).");
	for (int i = 0; results[i]; i++)
		fprintf(f, "zonewall_commits_total{result=\"%s\"} %lld\n",
			results[i], n[i]);
	family(f, "zonewall_last_commit_timestamp_seconds", "gauge",
	       "When the newest version that became active was committed "
	       "(Unix time; 0: none yet).");
	fprintf(f, "zonewall_last_commit_timestamp_seconds %lld.%06lld\n",
		last_us / 1000000, last_us % 1000000);
}

static void read_engine(struct zwd *d, struct zwd_backend *b,
			struct engine_view *v)
{
	struct zw_backend_state st;
	int r = b->be->ops->read_back(b->be, d->enforced, &st);

	memset(v, 0, sizeof(*v));
	if (r < 0) {
		memset(&st, 0, sizeof(st));
		v->drift = d->enforced != NULL;
	} else {
		v->up = true;
		v->enforcing = st.enforcing != 0;
		v->drift = st.drift != NULL ||
			   (d->enforced &&
			    (!st.enforcing ||
			     memcmp(st.sha256, d->enforced->sha256, 32)));
	}
	zw_backend_state__fini(&st);
	v->has_stats = b->be->ops->stats(b->be, &v->stats) == 0;
	if (d->enforced && d->enforced->n_flows) {
		v->counters = calloc(d->enforced->n_flows, sizeof(*v->counters));
		if (v->counters && b->be->ops->counters(b->be, v->counters,
							d->enforced->n_flows)) {
			free(v->counters);
			v->counters = NULL;
		}
	}
}

static void flow_family(FILE *f, struct zwd *d, const struct engine_view *v,
			const char *name, const char *help, size_t off)
{
	const struct zw_image *img = d->enforced;

	family(f, name, "counter", help);
	for (size_t i = 0; i < d->n_bes; i++) {
		if (!v[i].counters)
			continue;
		for (uint32_t k = 0; k < img->n_flows; k++) {
			const struct zw_img_flow *fl = &img->flows[k];
			uint64_t val;

			memcpy(&val, (const char *)&v[i].counters[k] + off,
			       sizeof(val));
			fprintf(f, "%s{flow=\"", name);
			put_label(f, zw_image__str(img, fl->id));
			fputs("\",src_zone=\"", f);
			put_label(f, zw_image__str(img, img->zones[fl->from].name));
			fputs("\",dst_zone=\"", f);
			put_label(f, zw_image__str(img, img->zones[fl->to].name));
			fputs("\",", f);
			engine_labels(f, &d->bes[i]);
			fprintf(f, "} %llu\n", (unsigned long long)val);
		}
	}
}

static void engine_gauge(FILE *f, struct zwd *d, const struct engine_view *v,
			 const char *name, const char *help, int which)
{
	family(f, name, "gauge", help);
	for (size_t i = 0; i < d->n_bes; i++) {
		int val = which == 0	 ? v[i].up
			  : which == 1 ? v[i].enforcing
			  : which == 2 ? v[i].drift
				       : d->bes[i].dirty;

		fprintf(f, "%s{", name);
		engine_labels(f, &d->bes[i]);
		fprintf(f, "} %d\n", val);
	}
}

/* One value of the stats op per engine, for the engines that report it
 * (the bool at @has_off says so; the value is the uint64_t at @val_off). */
static void stat_family(FILE *f, struct zwd *d, const struct engine_view *v,
			const char *name, const char *type, const char *help,
			size_t has_off, size_t val_off)
{
	family(f, name, type, help);
	for (size_t i = 0; i < d->n_bes; i++) {
		const char *st = (const char *)&v[i].stats;
		uint64_t val;
		bool has;

		memcpy(&has, st + has_off, sizeof(has));
		if (!v[i].has_stats || !has)
			continue;
		memcpy(&val, st + val_off, sizeof(val));
		fprintf(f, "%s{", name);
		engine_labels(f, &d->bes[i]);
		fprintf(f, "} %llu\n", (unsigned long long)val);
	}
}

/* Engine-wide statistics (the stats op): drops by reason, the connection
 * table. An engine that did not answer, or does not count something, has
 * no series for it (rather than a 0 that would read as "none"). */
static void engine_stats(FILE *f, struct zwd *d, const struct engine_view *v)
{
	family(f, "zonewall_drops_total", "counter",
	       "Packets the engine dropped, by drop reason (only the reasons "
	       "the engine counts).");
	for (size_t i = 0; i < d->n_bes; i++)
		for (unsigned r = 1; v[i].has_stats && r < ZW_DROP__COUNT; r++) {
			if (!v[i].stats.drop_counted[r])
				continue;
			fputs("zonewall_drops_total{", f);
			engine_labels(f, &d->bes[i]);
			fprintf(f, ",reason=\"%s\"} %llu\n",
				zw_drop_reason__name(r),
				(unsigned long long)v[i].stats.drops[r]);
		}
	stat_family(f, d, v, "zonewall_connections", "gauge",
		    "Entries in use in the engine's connection table.",
		    offsetof(struct zw_engine_stats, has_conns),
		    offsetof(struct zw_engine_stats, conn_used));
	stat_family(f, d, v, "zonewall_connection_table_size", "gauge",
		    "Capacity of the engine's connection table (entries).",
		    offsetof(struct zw_engine_stats, has_conns),
		    offsetof(struct zw_engine_stats, conn_size));
	stat_family(f, d, v, "zonewall_early_drops_total", "counter",
		    "Connections dropped early from a full connection table to "
		    "make room for new ones.",
		    offsetof(struct zw_engine_stats, has_early_drops),
		    offsetof(struct zw_engine_stats, early_drops));
	stat_family(f, d, v, "zonewall_engine_records_lost_total", "counter",
		    "Flow records the engine produced and lost before the "
		    "daemon pulled them (a full ring or buffer).",
		    offsetof(struct zw_engine_stats, has_records_lost),
		    offsetof(struct zw_engine_stats, records_lost));
}

static unsigned long long jint(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (unsigned long long)v : 0;
}

/* One sample per exporter of the record pump's status (zwd_tm__status()):
 * @key's integer, labelled with the exporter's URL. */
static void exporter_samples(FILE *f, const json_t *xs, const char *name,
			     const char *key)
{
	size_t i;
	json_t *x;

	json_array_foreach(xs, i, x) {
		fprintf(f, "%s{exporter=\"", name);
		put_label(f, json_string_value(json_object_get(x, "url")));
		fprintf(f, "\"} %llu\n", jint(x, key));
	}
}

/* The record pump and its exporters (docs/telemetry.md), as 'zonectl
 * status' shows them. */
static void telemetry(FILE *f, struct zwd *d)
{
	json_t *st = zwd_tm__status(d), *xs, *x;
	size_t i;

	if (!json_is_object(st)) {
		json_decref(st);
		return;
	}
	xs = json_object_get(st, "exporters");
	family(f, "zonewall_records_pulled_total", "counter",
	       "Flow records the daemon pulled from the engines.");
	fprintf(f, "zonewall_records_pulled_total %llu\n",
		jint(st, "records_pulled"));
	family(f, "zonewall_records_exported_total", "counter",
	       "Flow records (and folds of denials) handed to the exporters.");
	fprintf(f, "zonewall_records_exported_total %llu\n",
		jint(st, "records_exported"));
	family(f, "zonewall_records_aggregation_overflow_total", "counter",
	       "Denials not folded because the fold table was full.");
	fprintf(f, "zonewall_records_aggregation_overflow_total %llu\n",
		jint(st, "aggregation_overflow"));
	family(f, "zonewall_export_records_total", "counter",
	       "Records the exporter sent to its collector (in full messages).");
	exporter_samples(f, xs, "zonewall_export_records_total",
			 "records_sent");
	family(f, "zonewall_export_messages_total", "counter",
	       "IPFIX or NetFlow v9 messages the exporter sent.");
	exporter_samples(f, xs, "zonewall_export_messages_total",
			 "messages_sent");
	family(f, "zonewall_export_dropped_records_total", "counter",
	       "Records the exporter could not send, by cause: down (no "
	       "collector), queue-full (it reads too slowly), send-error, "
	       "too-big.");
	json_array_foreach(xs, i, x) {
		const json_t *why = json_object_get(x, "dropped");

		for (unsigned c = 0; c < ZW_TM_DROP__COUNT; c++) {
			const char *cause = zw_tm_drop_cause__name(c);

			fputs("zonewall_export_dropped_records_total{exporter=\"",
			      f);
			put_label(f, json_string_value(json_object_get(x, "url")));
			fprintf(f, "\",cause=\"%s\"} %llu\n", cause,
				jint(why, cause));
		}
	}
	family(f, "zonewall_export_collector_up", "gauge",
	       "1 while the exporter's collector is up (UDP: the last send "
	       "was accepted; TCP: connected).");
	json_array_foreach(xs, i, x) {
		const char *state = json_string_value(json_object_get(x, "collector"));

		fputs("zonewall_export_collector_up{exporter=\"", f);
		put_label(f, json_string_value(json_object_get(x, "url")));
		fprintf(f, "\"} %d\n", state && !strcmp(state, "up") ? 1 : 0);
	}
	json_decref(st);
}

char *zwd_metrics__render(struct zwd *d, size_t *len)
{
	struct engine_view *v;
	char *buf = NULL;
	size_t sz = 0;
	FILE *f;

	v = calloc(d->n_bes + 1, sizeof(*v));
	if (!v)
		return NULL;
	f = open_memstream(&buf, &sz);
	if (!f) {
		free(v);
		return NULL;
	}
	for (size_t i = 0; i < d->n_bes; i++)
		read_engine(d, &d->bes[i], &v[i]);

	family(f, "zonewall_build_info", "gauge",
	       "zonewalld's version, as a label; always 1.");
	fputs("zonewall_build_info{version=\"" ZW_VERSION "\"} 1\n", f);
	family(f, "zonewall_start_time_seconds", "gauge",
	       "When zonewalld started (Unix time).");
	fprintf(f, "zonewall_start_time_seconds %lld.%06lld\n",
		(long long)(d->started_us / 1000000),
		(long long)(d->started_us % 1000000));
	family(f, "zonewall_active_version", "gauge",
	       "The active matrix version (0: none).");
	fprintf(f, "zonewall_active_version %lld\n", (long long)d->active);
	family(f, "zonewall_active_flows", "gauge",
	       "Flows in the image the engines enforce (crisis measures "
	       "applied).");
	fprintf(f, "zonewall_active_flows %u\n",
		d->enforced ? d->enforced->n_flows : 0);
	family(f, "zonewall_crisis_active", "gauge",
	       "1 while a crisis measure (isolate-internet, block list) is in "
	       "force.");
	fprintf(f, "zonewall_crisis_active %d\n",
		d->crisis.isolate || d->crisis.n_block ? 1 : 0);
	versions(d, f);

	engine_gauge(f, d, v, "zonewall_engine_up",
		     "1 if the engine answered the read-back of this scrape.", 0);
	engine_gauge(f, d, v, "zonewall_engine_enforcing",
		     "1 if the engine holds a zonewall policy.", 1);
	engine_gauge(f, d, v, "zonewall_engine_drift",
		     "1 if what the engine holds differs from the active image "
		     "(another image, none, rules changed by hand, or no "
		     "answer).",
		     2);
	engine_gauge(f, d, v, "zonewall_engine_retry_pending",
		     "1 while the engine is reprogrammed at each check after a "
		     "failure (see zonectl status).",
		     3);

	engine_stats(f, d, v);

	if (d->enforced) {
		flow_family(f, d, v, "zonewall_flow_packets_total",
			    "Packets of connections allowed by the flow.",
			    offsetof(struct zw_flow_counters, packets));
		flow_family(f, d, v, "zonewall_flow_bytes_total",
			    "Bytes of connections allowed by the flow.",
			    offsetof(struct zw_flow_counters, bytes));
		flow_family(f, d, v, "zonewall_flow_new_connections_total",
			    "New connections allowed by the flow.",
			    offsetof(struct zw_flow_counters, new_conns));
		flow_family(f, d, v, "zonewall_flow_drops_total",
			    "Packets of the flow dropped while it is in force "
			    "(rate limit).",
			    offsetof(struct zw_flow_counters, drops));
	}

	{
		int64_t seq = 0;
		char hash[65] = "";

		zw_journal__head(d->j, &seq, hash);
		family(f, "zonewall_journal_head_sequence", "gauge",
		       "Sequence number of the newest journal entry.");
		fprintf(f, "zonewall_journal_head_sequence %lld\n",
			(long long)seq);
		family(f, "zonewall_journal_intact", "gauge",
		       "1 if the journal's hash chain verified at start-up.");
		fprintf(f, "zonewall_journal_intact %d\n",
			d->journal_intact ? 1 : 0);
	}
	if (d->fwd) {
		struct zw_fwd_status fs;

		zw_fwd__status(d->fwd, &fs);
		family(f, "zonewall_syslog_queued_entries", "gauge",
		       "Journal entries not yet acknowledged by the syslog "
		       "server (the backlog).");
		fprintf(f, "zonewall_syslog_queued_entries %lld\n",
			(long long)fs.queued);
		family(f, "zonewall_syslog_sent_sequence", "gauge",
		       "Sequence number of the last journal entry the syslog "
		       "server acknowledged.");
		fprintf(f, "zonewall_syslog_sent_sequence %lld\n",
			(long long)fs.sent_seq);
		family(f, "zonewall_syslog_connected", "gauge",
		       "1 while connected to the syslog server.");
		fprintf(f, "zonewall_syslog_connected %d\n", fs.connected ? 1 : 0);
	}

	telemetry(f, d);

	for (size_t i = 0; i < d->n_bes; i++)
		free(v[i].counters);
	free(v);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = sz;
	return buf;
}

/* ---- HTTP ---- */

static void client_close(struct mclient *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->req_len = 0;
	c->out_len = c->out_off = 0;
}

static void client_write(struct mclient *c)
{
	if (zw_proto__send_some(c->fd, c->out, c->out_len, &c->out_off))
		client_close(c); /* all sent, or the client is gone */
}

static void respond(struct mclient *c, const char *status, const char *type,
		    const char *body, size_t len, bool head)
{
	char *out = NULL;
	int n;

	n = asprintf(&out,
		     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n",
		     status, type, len);
	if (n < 0) {
		client_close(c);
		return;
	}
	if (!head && len) {
		char *x = realloc(out, (size_t)n + len);

		if (!x) {
			free(out);
			client_close(c);
			return;
		}
		memcpy(x + n, body, len);
		out = x;
		c->out_len = (size_t)n + len;
	} else {
		c->out_len = (size_t)n;
	}
	c->out = out;
	c->out_off = 0;
	c->deadline = now_ms() + CLIENT_MS;
	client_write(c);
}

static void text_response(struct mclient *c, const char *status,
			  const char *body, bool head)
{
	respond(c, status, "text/plain; charset=utf-8", body, strlen(body),
		head);
}

/* A complete request is in c->req: answer it. */
static void handle(struct zwd *d, struct mclient *c)
{
	char method[8], target[256];
	bool head;

	if (sscanf(c->req, "%7s %255s", method, target) != 2) {
		text_response(c, "400 Bad Request", "bad request\n", false);
		return;
	}
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		text_response(c, "405 Method Not Allowed", "GET only\n", false);
		return;
	}
	if (!strcmp(target, "/metrics") || !strncmp(target, "/metrics?", 9)) {
		size_t len = 0;
		char *page = zwd_metrics__render(d, &len);

		if (!page) {
			text_response(c, "500 Internal Server Error",
				      "out of memory\n", head);
			return;
		}
		respond(c, "200 OK", CONTENT_TYPE, page, len, head);
		free(page);
	} else if (!strcmp(target, "/")) {
		text_response(c, "200 OK",
			      "zonewalld: the metrics are at /metrics\n", head);
	} else {
		text_response(c, "404 Not Found", "not found: see /metrics\n",
			      head);
	}
}

static void client_read(struct zwd *d, struct mclient *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->req + c->req_len,
				 REQ_MAX - c->req_len, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_close(c);
			return;
		}
		if (n == 0) {
			client_close(c);
			return;
		}
		c->req_len += (size_t)n;
		c->req[c->req_len] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
			handle(d, c);
			return;
		}
		if (c->req_len == REQ_MAX) {
			text_response(c, "431 Request Header Fields Too Large",
				      "request too large\n", false);
			return;
		}
	}
}

struct zwd_metrics *zwd_metrics__new(const char *addr, char *err,
				     size_t err_len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE},
			*res = NULL;
	struct zwd_metrics *m;
	char host[256];
	const char *port, *colon;
	int r, e;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':' || !end[2] ||
		    (size_t)(end - addr - 1) >= sizeof(host))
			goto bad_addr;
		memcpy(host, addr + 1, (size_t)(end - addr - 1));
		host[end - addr - 1] = '\0';
		port = end + 2;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || colon == addr || !colon[1] ||
		    (size_t)(colon - addr) >= sizeof(host))
			goto bad_addr;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		port = colon + 1;
	}
	r = getaddrinfo(strcmp(host, "*") ? host : NULL, port, &hints, &res);
	if (r) {
		snprintf(err, err_len, "--metrics %s: %s", addr,
			 gai_strerror(r));
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(res);
		snprintf(err, err_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < ZWD_METRICS_MAX_CONNS; i++)
		m->c[i].fd = -1;
	m->lfd = socket(res->ai_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0)
		goto sys_err;
	{
		int one = 1;

		setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(m->lfd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(m->lfd, 16) < 0)
		goto sys_err;
	freeaddrinfo(res);
	return m;

sys_err:
	e = errno;
	snprintf(err, err_len, "--metrics %s: %s", addr, strerror(e));
	freeaddrinfo(res);
	if (m->lfd >= 0)
		close(m->lfd);
	free(m);
	errno = e;
	return NULL;
bad_addr:
	snprintf(err, err_len, "--metrics %s: expected ADDR:PORT", addr);
	errno = EINVAL;
	return NULL;
}

void zwd_metrics__free(struct zwd_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < ZWD_METRICS_MAX_CONNS; i++)
		client_close(&m->c[i]);
	if (m->lfd >= 0)
		close(m->lfd);
	free(m);
}

size_t zwd_metrics__pollfds(struct zwd_metrics *m, struct pollfd *p,
			    int64_t *next_ms)
{
	size_t n_open = 0;

	for (size_t i = 0; i < ZWD_METRICS_MAX_CONNS; i++) {
		struct mclient *c = &m->c[i];

		p[1 + i] = (struct pollfd){
			.fd = c->fd,
			.events = c->out ? POLLOUT : POLLIN,
		};
		if (c->fd < 0)
			continue;
		n_open++;
		if (*next_ms < 0 || c->deadline < *next_ms)
			*next_ms = c->deadline;
	}
	/* full: the rest wait in the backlog */
	p[0] = (struct pollfd){
		.fd = n_open == ZWD_METRICS_MAX_CONNS ? -1 : m->lfd,
		.events = POLLIN,
	};
	return ZWD_METRICS_MAX_FDS;
}

void zwd_metrics__serve(struct zwd_metrics *m, struct zwd *d,
			const struct pollfd *p, size_t n)
{
	int64_t now;

	for (size_t i = 0; i < ZWD_METRICS_MAX_CONNS && 1 + i < n; i++) {
		struct mclient *c = &m->c[i];

		if (c->fd < 0 || c->fd != p[1 + i].fd || !p[1 + i].revents)
			continue;
		if (c->out)
			client_write(c);
		else
			client_read(d, c);
	}
	now = now_ms();
	for (size_t i = 0; i < ZWD_METRICS_MAX_CONNS; i++)
		if (m->c[i].fd >= 0 && m->c[i].deadline <= now)
			client_close(&m->c[i]);
	if (n && (p[0].revents & POLLIN)) {
		for (size_t i = 0; i < ZWD_METRICS_MAX_CONNS; i++) {
			struct mclient *c = &m->c[i];
			int fd;

			if (c->fd >= 0)
				continue;
			fd = accept4(m->lfd, NULL, NULL,
				     SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				break;
			c->fd = fd;
			c->req_len = 0;
			c->deadline = now + CLIENT_MS;
		}
	}
}
