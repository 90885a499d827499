/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

#include "log.h"
#include "syslogfwd.h"

/* ---- message format ---- */

size_t zw_syslog__sd_escape(char *buf, size_t cap, const char *v)
{
	size_t n = 0;

	for (; v && *v && n + 2 < cap; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			buf[n++] = '\\';
		buf[n++] = *v;
	}
	if (cap)
		buf[n < cap ? n : cap - 1] = '\0';
	return n;
}

/* Copy printable US-ASCII (33..126) of @s, at most @max chars, or "-". */
static void header_field(char *out, size_t max, const char *s)
{
	size_t n = 0;

	for (; s && *s && n < max; s++)
		if (*s > 32 && *s < 127)
			out[n++] = *s;
	if (!n)
		out[n++] = '-';
	out[n] = '\0';
}

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *x = realloc(b->p, cap);

		if (!x) {
			b->err = 1;
			return;
		}
		b->p = x;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_param(struct sbuf *b, const char *name, const char *v)
{
	size_t cap;
	char *esc;

	if (!v)
		return;
	/* every byte escaped at worst: never cut a value (nor a UTF-8
	 * sequence in it) */
	cap = 2 * strlen(v) + 2;
	esc = malloc(cap);
	if (!esc) {
		b->err = 1;
		return;
	}
	zw_syslog__sd_escape(esc, cap, v);
	sb_str(b, " ");
	sb_str(b, name);
	sb_str(b, "=\"");
	sb_str(b, esc);
	sb_str(b, "\"");
	free(esc);
}

char *zw_syslog__format(const char *content, const char *hash,
			const char *hostname, const char *app, int pid,
			size_t *len)
{
	return zw_syslog__format_head(content, hash, hostname, app, pid, 0,
				      NULL, len);
}

char *zw_syslog__format_head(const char *content, const char *hash,
			     const char *hostname, const char *app, int pid,
			     int64_t head_seq, const char *head_hash,
			     size_t *len)
{
	json_t *c = json_loads(content, 0, NULL);
	struct sbuf b = {0};
	char host[256], appn[49], procid[129], msgid[33], num[32];
	const char *action, *time;
	const json_t *clock;
	int sev;

	if (!c) {
		errno = EBADMSG;
		return NULL;
	}
	action = json_string_value(json_object_get(c, "action"));
	time = json_string_value(json_object_get(c, "time"));
	clock = json_object_get(c, "clock");
	/* Facility 13 (log audit); notice, warning when something was
	 * refused or had to be repaired. */
	sev = action && (!strcmp(action, "commit-refused") ||
			 !strcmp(action, "reconcile"))
		      ? 4
		      : 5;
	header_field(host, 255, hostname);
	header_field(appn, 48, app);
	snprintf(num, sizeof(num), "%d", pid);
	header_field(procid, 128, num);
	header_field(msgid, 32, action);
	snprintf(num, sizeof(num), "<%d>1 ", 13 * 8 + sev);
	sb_str(&b, num);
	sb_str(&b, time ? time : "-");
	sb_str(&b, " ");
	sb_str(&b, host);
	sb_str(&b, " ");
	sb_str(&b, appn);
	sb_str(&b, " ");
	sb_str(&b, procid);
	sb_str(&b, " ");
	sb_str(&b, msgid);
	/* RFC 5424 §7.1: the clock's synchronisation state. */
	sb_str(&b, " [timeQuality tzKnown=\"1\" isSynced=\"");
	sb_str(&b, json_is_true(json_object_get(clock, "synced")) ? "1" : "0");
	sb_str(&b, "\"");
	if (json_is_true(json_object_get(clock, "synced"))) {
		snprintf(num, sizeof(num), "%lld",
			 (long long)json_integer_value(
				 json_object_get(clock, "maxerror_us")));
		sb_str(&b, " syncAccuracy=\"");
		sb_str(&b, num);
		sb_str(&b, "\"");
	}
	sb_str(&b, "][" ZW_SYSLOG_SDID);
	snprintf(num, sizeof(num), "%lld",
		 (long long)json_integer_value(json_object_get(c, "seq")));
	sb_param(&b, "seq", num);
	sb_param(&b, "hash", hash);
	sb_param(&b, "prev", json_string_value(json_object_get(c, "prev")));
	sb_param(&b, "action", action);
	if (json_is_integer(json_object_get(c, "version"))) {
		snprintf(num, sizeof(num), "%lld",
			 (long long)json_integer_value(
				 json_object_get(c, "version")));
		sb_param(&b, "version", num);
	}
	sb_param(&b, "flow", json_string_value(json_object_get(c, "flow")));
	sb_param(&b, "zone", json_string_value(json_object_get(c, "zone")));
	sb_param(&b, "user", json_string_value(json_object_get(c, "user")));
	snprintf(num, sizeof(num), "%lld",
		 (long long)json_integer_value(json_object_get(c, "uid")));
	sb_param(&b, "uid", num);
	sb_param(&b, "reason", json_string_value(json_object_get(c, "reason")));
	/* the journal's head when the message was sent: the central copy
	 * anchors the chain (a database cut or emptied afterwards shows) */
	if (head_seq > 0 && head_hash) {
		snprintf(num, sizeof(num), "%lld", (long long)head_seq);
		sb_param(&b, "head_seq", num);
		sb_param(&b, "head_hash", head_hash);
	}
	/* MSG: BOM + the canonical content, so a receiver can recompute the
	 * hash and follow the chain. */
	sb_str(&b, "] \xEF\xBB\xBF");
	sb_str(&b, content);
	json_decref(c);
	if (b.err) {
		free(b.p);
		errno = ENOMEM;
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* An entry whose content is not JSON (the database was damaged or
 * tampered with) is still forwarded, as it is, so the central copy shows
 * it and what follows it: MSGID "unparsable", severity warning, no
 * timestamp (NILVALUE), the row's seq and hash. */
static char *format_unparsable(int64_t seq, const char *content,
			       const char *hash, const char *hostname, int pid,
			       size_t *len)
{
	struct sbuf b = {0};
	char host[256], num[32], procid[129];

	header_field(host, 255, hostname);
	snprintf(num, sizeof(num), "%d", pid);
	header_field(procid, 128, num);
	sb_str(&b, "<108>1 - ");
	sb_str(&b, host);
	sb_str(&b, " zonewalld ");
	sb_str(&b, procid);
	sb_str(&b, " unparsable [" ZW_SYSLOG_SDID);
	snprintf(num, sizeof(num), "%lld", (long long)seq);
	sb_param(&b, "seq", num);
	sb_param(&b, "hash", hash);
	sb_param(&b, "action", "unparsable");
	sb_str(&b, "] \xEF\xBB\xBF");
	sb_str(&b, content);
	if (b.err) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

char *zw_syslog__frame(const char *msg, size_t len, size_t *out_len)
{
	char hdr[24];
	int h = snprintf(hdr, sizeof(hdr), "%zu ", len);
	char *out = malloc((size_t)h + len + 1);

	if (!out)
		return NULL;
	memcpy(out, hdr, (size_t)h);
	memcpy(out + h, msg, len);
	out[h + len] = '\0';
	*out_len = (size_t)h + len;
	return out;
}

/* ---- the forwarder ---- */

struct zw_fwd {
	struct zw_fwd_opts o;
	char *db_path, *host, *port, *ca, *cert, *key, *sni;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, kick, started;
	struct zw_fwd_status st;
	/* thread-only */
	struct zw_journal *j;
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	char hostname[256];
};

static bool stopping(struct zw_fwd *f);

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Socket waits are sliced so that a stop (daemon SIGTERM) is seen within
 * this long; the overall limits stay those below. */
#define SLICE_MS 200
#define CONNECT_MS 5000
#define SEND_MS 10000
#define ACK_MS 10000

int64_t zw_fwd__cursor(struct sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, "SELECT sent_seq FROM syslog_cursor WHERE id=1",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int set_cursor(struct zw_fwd *f, int64_t seq)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(zw_journal__sqlite(f->j),
				"INSERT INTO syslog_cursor (id, sent_seq)"
				" VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET"
				" sent_seq = excluded.sent_seq",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, seq);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static void set_error(struct zw_fwd *f, const char *fmt, const char *a)
{
	char msg[256], q[300];

	snprintf(msg, sizeof(msg), fmt, a);
	pthread_mutex_lock(&f->mu);
	bool changed = strcmp(msg, f->st.last_error) || f->st.connected;

	snprintf(f->st.last_error, sizeof(f->st.last_error), "%s", msg);
	f->st.connected = false;
	pthread_mutex_unlock(&f->mu);
	if (changed)
		zw_log(ZW_LOG_WARN, "syslog-down", "server=%s:%s error=%s",
		       f->host, f->port, zw_log__q(msg, q, sizeof(q)));
}

static void disconnect(struct zw_fwd *f)
{
	if (f->tls) {
		gnutls_deinit(f->tls);
		f->tls = NULL;
	}
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
}

static int tcp_connect(struct zw_fwd *f)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	int fd = -1, rc;

	rc = getaddrinfo(f->host, f->port, &hints, &res);
	if (rc) {
		set_error(f, "cannot resolve: %s", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
						   SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS)
			goto next;
		p.fd = fd;
		p.events = POLLOUT;
		{
			int64_t until = mono_ms() + CONNECT_MS;
			int pr;

			errno = 0;
			while ((pr = poll(&p, 1, SLICE_MS)) == 0 &&
			       mono_ms() < until && !stopping(f))
				;
			if (pr != 1) {
				if (!errno)
					errno = ETIMEDOUT;
				goto next;
			}
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			errno = soerr;
			goto next;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		{
			struct timeval tv = {.tv_usec = SLICE_MS * 1000};
			int one = 1;

			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
		}
		break;
next:
		set_error(f, "cannot connect: %s", strerror(errno ? errno : ETIMEDOUT));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int tls_start(struct zw_fwd *f)
{
	int rc;

	rc = gnutls_init(&f->tls, GNUTLS_CLIENT);
	if (rc < 0)
		goto err;
	rc = gnutls_set_default_priority(f->tls);
	if (rc >= 0)
		rc = gnutls_credentials_set(f->tls, GNUTLS_CRD_CERTIFICATE,
					    f->cred);
	if (rc >= 0)
		rc = gnutls_server_name_set(f->tls, GNUTLS_NAME_DNS, f->sni,
					    strlen(f->sni));
	if (rc < 0)
		goto err;
	/* Verify the server's certificate against the CA and its name. */
	gnutls_session_set_verify_cert(f->tls, f->sni, 0);
	gnutls_transport_set_int(f->tls, f->fd);
	gnutls_handshake_set_timeout(f->tls, 10000);
	do {
		rc = gnutls_handshake(f->tls);
	} while (rc < 0 && !gnutls_error_is_fatal(rc) && !stopping(f));
	if (rc < 0)
		goto err;
	return 0;
err:
	set_error(f, "TLS: %s", gnutls_strerror(rc));
	disconnect(f);
	return -1;
}

/* The socket's send timeout is one slice: a server that stops reading
 * makes send() return EAGAIN (GNUTLS_E_AGAIN), retried with the same data
 * until SEND_MS have passed or the forwarder is stopped. */
static int send_all(struct zw_fwd *f, const char *p, size_t len)
{
	int64_t until = mono_ms() + SEND_MS;

	while (len) {
		ssize_t n = f->tls ? gnutls_record_send(f->tls, p, len)
				   : send(f->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			bool again = f->tls ? (n == GNUTLS_E_INTERRUPTED ||
					       n == GNUTLS_E_AGAIN)
					    : (errno == EINTR || errno == EAGAIN ||
					       errno == EWOULDBLOCK);

			if (again && !stopping(f) && mono_ms() < until)
				continue;
			set_error(f, "send: %s",
				  again ? "the server does not read (timed out)"
				  : f->tls ? gnutls_strerror((int)n)
					   : strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The server never talks on this connection: readable means closed. */
static bool peer_closed(struct zw_fwd *f)
{
	struct pollfd p = {.fd = f->fd, .events = POLLIN};
	char c;

	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLERR | POLLHUP))
		return true;
	return recv(f->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

/* Wait until the server's TCP stack acknowledged every byte sent. */
static int wait_acked(struct zw_fwd *f, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 5) {
		int outq = 0;

		if (stopping(f))
			return -1; /* not acknowledged: sent again next time */
		if (ioctl(f->fd, SIOCOUTQ, &outq) < 0)
			return -1;
		if (outq == 0)
			return peer_closed(f) ? -1 : 0;
		if (peer_closed(f))
			return -1;
		struct timespec ts = {.tv_nsec = 5 * 1000000};

		nanosleep(&ts, NULL);
	}
	return -1;
}

struct batch {
	struct zw_fwd *f;
	struct sbuf out;
	int64_t last;
	int n;
	int64_t head_seq; /* the journal's head, sent with each message */
	char head_hash[65];
};

static int batch_cb(int64_t seq, const char *content, const char *hash,
		    void *ctx)
{
	struct batch *b = ctx;
	size_t len, flen;
	char *msg = zw_syslog__format_head(content, hash, b->f->hostname,
					   "zonewalld", (int)getpid(),
					   b->head_seq, b->head_hash, &len);
	char *fr;

	if (!msg && errno == EBADMSG)
		msg = format_unparsable(seq, content, hash, b->f->hostname,
					(int)getpid(), &len);
	fr = msg ? zw_syslog__frame(msg, len, &flen) : NULL;

	free(msg);
	if (!fr)
		return -ENOMEM;
	sb_add(&b->out, fr, flen);
	free(fr);
	b->last = seq;
	b->n++;
	return 0;
}

static void wait_kick(struct zw_fwd *f, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&f->mu);
	while (!f->stop && !f->kick)
		if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT)
			break;
	f->kick = false;
	pthread_mutex_unlock(&f->mu);
}

static bool stopping(struct zw_fwd *f)
{
	bool s;

	pthread_mutex_lock(&f->mu);
	s = f->stop;
	pthread_mutex_unlock(&f->mu);
	return s;
}

/* The journal's head now (this thread's connection): its seq, and its
 * hash into @hash when not NULL. */
static int64_t max_seq(struct zw_fwd *f, char *hash)
{
	sqlite3_stmt *s = NULL;
	int64_t head = 0;

	if (sqlite3_prepare_v2(zw_journal__sqlite(f->j),
			       "SELECT seq, hash FROM journal ORDER BY seq DESC"
			       " LIMIT 1",
			       -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		head = sqlite3_column_int64(s, 0);
		if (hash)
			snprintf(hash, 65, "%s",
				 sqlite3_column_text(s, 1)
					 ? (const char *)sqlite3_column_text(s, 1)
					 : "");
	}
	sqlite3_finalize(s);
	return head;
}

static void *fwd_main(void *arg)
{
	struct zw_fwd *f = arg;
	int backoff = 250;
	int64_t sent = zw_fwd__cursor(zw_journal__sqlite(f->j));

	while (!stopping(f)) {
		struct zw_journal_filter flt = {.after_seq = sent, .limit = 512};
		struct batch b = {.f = f};
		int64_t head;

		head = max_seq(f, b.head_hash);
		b.head_seq = head;
		pthread_mutex_lock(&f->mu);
		f->st.queued = head > sent ? head - sent : 0;
		pthread_mutex_unlock(&f->mu);
		if (f->fd >= 0 && peer_closed(f)) {
			set_error(f, "%s", "server closed the connection");
			disconnect(f);
		}
		if (f->fd < 0) {
			f->fd = tcp_connect(f);
			if (f->fd >= 0 && f->o.tls && tls_start(f) < 0)
				f->fd = -1;
			if (f->fd < 0) {
				wait_kick(f, backoff);
				backoff = backoff * 2 > f->o.retry_max_ms
						  ? f->o.retry_max_ms
						  : backoff * 2;
				continue;
			}
			pthread_mutex_lock(&f->mu);
			f->st.connected = true;
			f->st.last_error[0] = '\0';
			pthread_mutex_unlock(&f->mu);
			zw_log(ZW_LOG_INFO, "syslog-up",
			       "server=%s:%s tls=%s resume_after_seq=%lld",
			       f->host, f->port, f->o.tls ? "yes" : "no",
			       (long long)sent);
		}
		if (zw_journal__foreach(f->j, &flt, batch_cb, &b) < 0 ||
		    b.out.err) {
			free(b.out.p);
			wait_kick(f, 1000);
			continue;
		}
		if (!b.n) {
			free(b.out.p);
			backoff = 250;
			pthread_mutex_lock(&f->mu);
			f->st.sent_seq = sent;
			pthread_mutex_unlock(&f->mu);
			wait_kick(f, 5000);
			continue;
		}
		if (send_all(f, b.out.p, b.out.len) < 0 ||
		    wait_acked(f, ACK_MS) < 0) {
			free(b.out.p);
			if (f->fd >= 0)
				set_error(f, "%s",
					  "server did not acknowledge");
			disconnect(f);
			/* a server that accepts and then drops or stalls is
			 * retried with the same back-off as one that refuses */
			wait_kick(f, backoff);
			backoff = backoff * 2 > f->o.retry_max_ms
					  ? f->o.retry_max_ms
					  : backoff * 2;
			continue;
		}
		free(b.out.p);
		backoff = 250;
		while (set_cursor(f, b.last) < 0 && !stopping(f))
			wait_kick(f, 200);
		sent = b.last;
		pthread_mutex_lock(&f->mu);
		f->st.sent_seq = sent;
		f->st.queued = head > sent ? head - sent : 0;
		pthread_mutex_unlock(&f->mu);
	}
	disconnect(f);
	return NULL;
}

struct zw_fwd *zw_fwd__start(const struct zw_fwd_opts *o, char *err,
			     size_t err_len)
{
	struct zw_fwd *f = calloc(1, sizeof(*f));
	int rc;

	if (!f) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	f->fd = -1;
	f->o = *o;
	if (f->o.retry_max_ms <= 0)
		f->o.retry_max_ms = 30000;
	f->host = strdup(o->host);
	f->port = strdup(o->port);
	f->sni = strdup(o->server_name ? o->server_name : o->host);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (gethostname(f->hostname, sizeof(f->hostname) - 1) < 0)
		strcpy(f->hostname, "-");
	if (!f->host || !f->port || !f->sni) {
		snprintf(err, err_len, "out of memory");
		goto err;
	}
	f->j = zw_journal__open(o->db_path, 0, err, err_len);
	if (!f->j)
		goto err;
	if (sqlite3_exec(zw_journal__sqlite(f->j),
			 "CREATE TABLE IF NOT EXISTS syslog_cursor (id INTEGER"
			 " PRIMARY KEY CHECK (id = 1), sent_seq INTEGER NOT"
			 " NULL)",
			 NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot create the syslog queue: %s",
			 sqlite3_errmsg(zw_journal__sqlite(f->j)));
		goto err;
	}
	if (o->tls) {
		if (!o->ca_file) {
			snprintf(err, err_len,
				 "--syslog-tls needs --syslog-ca FILE (the CA "
				 "that signed the server's certificate)");
			goto err;
		}
		rc = gnutls_certificate_allocate_credentials(&f->cred);
		if (rc >= 0 &&
		    gnutls_certificate_set_x509_trust_file(
			    f->cred, o->ca_file, GNUTLS_X509_FMT_PEM) <= 0)
			rc = GNUTLS_E_FILE_ERROR;
		if (rc >= 0 && o->cert_file)
			rc = gnutls_certificate_set_x509_key_file(
				f->cred, o->cert_file,
				o->key_file ? o->key_file : o->cert_file,
				GNUTLS_X509_FMT_PEM);
		if (rc < 0) {
			snprintf(err, err_len, "syslog TLS credentials: %s",
				 gnutls_strerror(rc));
			goto err;
		}
	}
	f->st.sent_seq = zw_fwd__cursor(zw_journal__sqlite(f->j));
	if (pthread_create(&f->th, NULL, fwd_main, f)) {
		snprintf(err, err_len, "cannot start the syslog thread");
		goto err;
	}
	f->started = true;
	return f;
err:
	zw_fwd__stop(f);
	return NULL;
}

void zw_fwd__notify(struct zw_fwd *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->kick = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void zw_fwd__status(struct zw_fwd *f, struct zw_fwd_status *st)
{
	pthread_mutex_lock(&f->mu);
	*st = f->st;
	pthread_mutex_unlock(&f->mu);
}

void zw_fwd__stop(struct zw_fwd *f)
{
	if (!f)
		return;
	if (f->started) {
		pthread_mutex_lock(&f->mu);
		f->stop = true;
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->th, NULL);
	}
	disconnect(f);
	if (f->cred)
		gnutls_certificate_free_credentials(f->cred);
	zw_journal__free(f->j);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f->host);
	free(f->port);
	free(f->sni);
	free(f);
}
