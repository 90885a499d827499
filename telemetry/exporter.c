/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One collector: the encoder's messages over UDP (one message per
 * datagram) or TCP (a stream of messages). Nothing here blocks: sockets
 * are non-blocking, a TCP connect completes in a later tick, a collector
 * that reads slowly fills a bounded queue and what does not fit is
 * dropped and counted. A TCP connection that fails is tried again after
 * an exponential backoff; every new connection is a new IPFIX transport
 * session (templates first, sequence numbers from 0).
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zonewall/telemetry.h>

struct qmsg {
	size_t end;  /* offset in q just past the message */
	size_t nrec; /* its data records */
};

struct zw_tm_exporter {
	char *url;
	enum zw_tm_format fmt;
	enum zw_tm_transport tr;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd;
	enum zw_tm_state state;
	struct zw_tm_encoder *enc;
	/* TCP: bytes [qoff, qlen) of q wait to be sent; mq[] their messages */
	uint8_t *q;
	size_t qoff, qlen, qcap;
	struct qmsg *mq;
	size_t mq_head, mq_n, mq_cap;
	uint32_t backoff_ms, backoff_min, backoff_max;
	uint64_t next_try_ms;
	struct zw_tm_exporter_stats st;
};

static const char *const cause_names[ZW_TM_DROP__COUNT] = {
	"down", "queue-full", "send-error", "too-big"};

const char *zw_tm_drop_cause__name(unsigned cause)
{
	return cause < ZW_TM_DROP__COUNT ? cause_names[cause] : "unknown";
}

const char *zw_tm_state__name(unsigned state)
{
	static const char *const n[] = {"connecting", "up", "down"};

	return state < 3 ? n[state] : "unknown";
}

static void drop(struct zw_tm_exporter *x, unsigned cause, size_t n)
{
	x->st.dropped[cause] += n;
	x->st.records_dropped += n;
}

static void set_error(struct zw_tm_exporter *x, const char *what, int e)
{
	snprintf(x->st.last_error, sizeof(x->st.last_error), "%s: %s", what,
		 strerror(e));
}

/* "udp://h:p" and friends to transport, format, host, port. */
static int parse_url(const char *url, enum zw_tm_transport *tr,
		     enum zw_tm_format *fmt, char *host, size_t hlen,
		     char *port, size_t plen)
{
	static const struct {
		const char *prefix;
		enum zw_tm_transport tr;
		enum zw_tm_format fmt;
	} schemes[] = {
		{"udp://", ZW_TM_UDP, ZW_TM_IPFIX},
		{"tcp://", ZW_TM_TCP, ZW_TM_IPFIX},
		{"nsel+udp://", ZW_TM_UDP, ZW_TM_NSEL},
	};
	const char *hp = url, *colon, *h;
	size_t n;

	*tr = ZW_TM_UDP;
	*fmt = ZW_TM_IPFIX;
	if (strstr(url, "://")) {
		size_t i;

		for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			if (!strncmp(url, schemes[i].prefix,
				     strlen(schemes[i].prefix)))
				break;
		if (i == sizeof(schemes) / sizeof(schemes[0]))
			return -EINVAL;
		*tr = schemes[i].tr;
		*fmt = schemes[i].fmt;
		hp = url + strlen(schemes[i].prefix);
	}
	if (*hp == '[') {
		const char *end = strchr(hp, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		h = hp + 1;
		n = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon)
			return -EINVAL;
		h = hp;
		n = (size_t)(colon - hp);
	}
	if (!n || n >= hlen || !colon[1] || strlen(colon + 1) >= plen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

int zw_tm_exporter__check_url(const char *url)
{
	enum zw_tm_transport tr;
	enum zw_tm_format fmt;
	char host[256], port[16];

	return parse_url(url, &tr, &fmt, host, sizeof(host), port,
			 sizeof(port));
}

/* A new non-blocking socket, connect started (UDP: done). */
static int open_socket(struct zw_tm_exporter *x)
{
	int fd = socket(x->sa.ss_family,
			(x->tr == ZW_TM_TCP ? SOCK_STREAM : SOCK_DGRAM) |
				SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&x->sa, x->salen) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		return -e;
	}
	x->fd = fd;
	return 0;
}

static void tcp_down(struct zw_tm_exporter *x, uint64_t now_ms, const char *what,
		     int e)
{
	size_t pending = 0;

	for (size_t i = 0; i < x->mq_n; i++)
		pending += x->mq[(x->mq_head + i) % x->mq_cap].nrec;
	drop(x, ZW_TM_DROP_DOWN, pending + zw_tm_encoder__pending(x->enc));
	x->qoff = x->qlen = 0;
	x->mq_head = x->mq_n = 0;
	zw_tm_encoder__reset(x->enc, true);
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	x->state = ZW_TM_DOWN;
	set_error(x, what, e);
	x->next_try_ms = now_ms + x->backoff_ms;
	x->backoff_ms = x->backoff_ms * 2 > x->backoff_max ? x->backoff_max
							    : x->backoff_ms * 2;
}

struct zw_tm_exporter *zw_tm_exporter__new(const struct zw_tm_exporter_opts *o,
					   char *err, size_t err_len)
{
	struct zw_tm_exporter *x = NULL;
	struct addrinfo hints = {0}, *ai = NULL;
	struct zw_tm_encoder_opts eo = {0};
	char host[256], port[16];
	enum zw_tm_transport tr;
	enum zw_tm_format fmt;
	int r;

	if (parse_url(o->url, &tr, &fmt, host, sizeof(host), port,
		      sizeof(port)) < 0) {
		snprintf(err, err_len,
			 "%s: expected udp://HOST:PORT, tcp://HOST:PORT, "
			 "nsel+udp://HOST:PORT or HOST:PORT",
			 o->url);
		errno = EINVAL;
		return NULL;
	}
	hints.ai_socktype = tr == ZW_TM_TCP ? SOCK_STREAM : SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, &ai);
	if (r || !ai) {
		snprintf(err, err_len, "%s: cannot resolve %s: %s", o->url, host,
			 r ? gai_strerror(r) : "no address");
		errno = EHOSTUNREACH;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		goto nomem;
	x->fd = -1;
	x->tr = tr;
	x->fmt = fmt;
	memcpy(&x->sa, ai->ai_addr, ai->ai_addrlen);
	x->salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	ai = NULL;
	x->url = strdup(o->url);
	eo.format = fmt;
	eo.domain = o->domain;
	eo.pen = o->pen;
	if (tr == ZW_TM_UDP) {
		eo.refresh_s = o->refresh_s ? o->refresh_s : 60;
		eo.refresh_messages =
			o->refresh_messages ? o->refresh_messages : 100;
		eo.max_message = 1400;
	} else {
		eo.max_message = 8192; /* templates once per connection */
	}
	x->enc = zw_tm_encoder__new(&eo);
	if (!x->url || !x->enc)
		goto nomem;
	x->backoff_min = o->backoff_min_ms ? o->backoff_min_ms : 500;
	x->backoff_max = o->backoff_max_ms ? o->backoff_max_ms : 30000;
	x->backoff_ms = x->backoff_min;
	x->st.format = fmt;
	x->st.transport = tr;
	if (tr == ZW_TM_TCP) {
		x->qcap = o->queue_bytes ? o->queue_bytes : 1u << 20;
		if (x->qcap < 65536)
			x->qcap = 65536;
		x->mq_cap = x->qcap / 64 + 16;
		x->q = malloc(x->qcap);
		x->mq = calloc(x->mq_cap, sizeof(*x->mq));
		if (!x->q || !x->mq)
			goto nomem;
	}
	r = open_socket(x);
	if (r < 0) {
		if (tr == ZW_TM_UDP) {
			snprintf(err, err_len, "%s: %s", o->url, strerror(-r));
			zw_tm_exporter__free(x);
			errno = -r;
			return NULL;
		}
		tcp_down(x, 0, "connect", -r); /* tried again later */
	} else {
		x->state = tr == ZW_TM_TCP ? ZW_TM_CONNECTING : ZW_TM_UP;
	}
	return x;
nomem:
	if (ai)
		freeaddrinfo(ai);
	zw_tm_exporter__free(x);
	snprintf(err, err_len, "out of memory");
	errno = ENOMEM;
	return NULL;
}

void zw_tm_exporter__free(struct zw_tm_exporter *x)
{
	if (!x)
		return;
	if (x->fd >= 0)
		close(x->fd);
	zw_tm_encoder__free(x->enc);
	free(x->q);
	free(x->mq);
	free(x->url);
	free(x);
}

const char *zw_tm_exporter__url(const struct zw_tm_exporter *x)
{
	return x->url;
}

/* UDP: one datagram. */
static void udp_send(struct zw_tm_exporter *x, const uint8_t *msg, size_t len,
		     size_t nrec, bool had_templates)
{
	ssize_t n = send(x->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n == (ssize_t)len) {
		x->st.records_sent += nrec;
		x->st.messages_sent++;
		x->st.template_sends += had_templates;
		x->state = ZW_TM_UP;
		return;
	}
	if (n >= 0)
		errno = EMSGSIZE;
	if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
	    errno == ENETUNREACH) {
		/* the collector is not there (ICMP unreachable): it will
		 * need the templates again when it comes back */
		drop(x, ZW_TM_DROP_DOWN, nrec);
		x->state = ZW_TM_DOWN;
		zw_tm_encoder__reset(x->enc, false);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
		drop(x, ZW_TM_DROP_QUEUE_FULL, nrec);
	} else {
		drop(x, ZW_TM_DROP_ERROR, nrec);
	}
	set_error(x, "send", errno);
}

/* TCP: push queued bytes; count records of messages fully sent. */
static void tcp_push(struct zw_tm_exporter *x, uint64_t now_ms)
{
	while (x->qoff < x->qlen) {
		ssize_t n = send(x->fd, x->q + x->qoff, x->qlen - x->qoff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				tcp_down(x, now_ms, "send", errno);
			break;
		}
		x->qoff += (size_t)n;
		while (x->mq_n && x->mq[x->mq_head].end <= x->qoff) {
			x->st.records_sent += x->mq[x->mq_head].nrec;
			x->st.messages_sent++;
			x->mq_head = (x->mq_head + 1) % x->mq_cap;
			x->mq_n--;
		}
	}
	if (x->qoff == x->qlen) {
		x->qoff = x->qlen = 0;
	} else if (x->qoff > x->qcap / 2) {
		size_t shift = x->qoff;

		memmove(x->q, x->q + shift, x->qlen - shift);
		x->qlen -= shift;
		x->qoff = 0;
		for (size_t i = 0; i < x->mq_n; i++)
			x->mq[(x->mq_head + i) % x->mq_cap].end -= shift;
	}
}

static void tcp_queue(struct zw_tm_exporter *x, const uint8_t *msg, size_t len,
		      size_t nrec, bool had_templates, uint64_t now_ms)
{
	if (x->qcap - (x->qlen - x->qoff) < len || x->mq_n == x->mq_cap) {
		/* The collector does not keep up. The message is lost, and
		 * with it any templates it carried: a new session would be
		 * needed to resend them mid-stream, so they are sent again
		 * in the next message. */
		drop(x, ZW_TM_DROP_QUEUE_FULL, nrec);
		if (had_templates)
			zw_tm_encoder__reset(x->enc, false);
		return;
	}
	if (x->qcap - x->qlen < len) {
		memmove(x->q, x->q + x->qoff, x->qlen - x->qoff);
		for (size_t i = 0; i < x->mq_n; i++)
			x->mq[(x->mq_head + i) % x->mq_cap].end -= x->qoff;
		x->qlen -= x->qoff;
		x->qoff = 0;
	}
	memcpy(x->q + x->qlen, msg, len);
	x->qlen += len;
	x->mq[(x->mq_head + x->mq_n) % x->mq_cap] =
		(struct qmsg){.end = x->qlen, .nrec = nrec};
	x->mq_n++;
	x->st.template_sends += had_templates;
	tcp_push(x, now_ms);
}

/* Finish the open message and send or queue it. */
static void send_open(struct zw_tm_exporter *x, uint64_t now_ms)
{
	const uint8_t *msg;
	size_t nrec, len;
	bool tpl;

	len = zw_tm_encoder__finish(x->enc, &msg, &nrec);
	if (!len)
		return;
	/* a set id of 2 (IPFIX) or 0 (v9) right after the header */
	tpl = x->fmt == ZW_TM_IPFIX ? msg[16] == 0 && msg[17] == 2
				    : msg[20] == 0 && msg[21] == 0;
	if (x->tr == ZW_TM_UDP)
		udp_send(x, msg, len, nrec, tpl);
	else
		tcp_queue(x, msg, len, nrec, tpl, now_ms);
}

int zw_tm_exporter__add(struct zw_tm_exporter *x, const struct zw_tm_record *r,
			uint64_t now_ms)
{
	int rc;

	if (x->tr == ZW_TM_TCP && x->state != ZW_TM_UP) {
		drop(x, ZW_TM_DROP_DOWN, 1);
		return -ENOTCONN;
	}
	rc = zw_tm_encoder__add(x->enc, r, now_ms);
	if (rc == -ENOSPC) {
		send_open(x, now_ms);
		if (x->tr == ZW_TM_TCP && x->state != ZW_TM_UP) {
			drop(x, ZW_TM_DROP_DOWN, 1);
			return -ENOTCONN;
		}
		rc = zw_tm_encoder__add(x->enc, r, now_ms);
		if (rc == -ENOSPC) { /* the templates went alone */
			send_open(x, now_ms);
			rc = zw_tm_encoder__add(x->enc, r, now_ms);
		}
	}
	if (rc < 0) {
		drop(x, rc == -EMSGSIZE ? ZW_TM_DROP_TOO_BIG : ZW_TM_DROP_ERROR,
		     1);
		return rc;
	}
	return 0;
}

static void tcp_tick(struct zw_tm_exporter *x, uint64_t now_ms)
{
	struct pollfd p = {.fd = x->fd, .events = POLLIN | POLLOUT};

	if (x->state == ZW_TM_DOWN) {
		int r;

		if (now_ms < x->next_try_ms)
			return;
		r = open_socket(x);
		if (r < 0) {
			tcp_down(x, now_ms, "connect", -r);
			return;
		}
		x->state = ZW_TM_CONNECTING;
	}
	p.fd = x->fd;
	if (poll(&p, 1, 0) <= 0)
		return;
	if (x->state == ZW_TM_CONNECTING) {
		int e = 0;
		socklen_t el = sizeof(e);

		if (!(p.revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e || (p.revents & (POLLERR | POLLHUP))) {
			tcp_down(x, now_ms, "connect", e ? e : ECONNREFUSED);
			return;
		}
		x->state = ZW_TM_UP;
		x->st.connects++;
		x->backoff_ms = x->backoff_min;
		x->st.last_error[0] = '\0';
		zw_tm_encoder__reset(x->enc, true);
		return;
	}
	if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
		/* collectors send nothing back: this is the end */
		char b[256];
		ssize_t n = recv(x->fd, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0) {
			tcp_down(x, now_ms, "collector closed", ECONNRESET);
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			tcp_down(x, now_ms, "recv", errno);
			return;
		}
	}
}

void zw_tm_exporter__tick(struct zw_tm_exporter *x, uint64_t now_ms)
{
	if (x->tr == ZW_TM_TCP) {
		tcp_tick(x, now_ms);
		if (x->state != ZW_TM_UP)
			return;
	}
	send_open(x, now_ms);
	if (x->tr == ZW_TM_TCP && x->state == ZW_TM_UP)
		tcp_push(x, now_ms);
}

void zw_tm_exporter__stats(const struct zw_tm_exporter *x,
			   struct zw_tm_exporter_stats *st)
{
	*st = x->st;
	st->state = x->state;
}
