// SPDX-License-Identifier: BSD-2-Clause
/*
 * One connection under inspection: the conformance of each direction to
 * the service's protocol, and the file types that start its transfers.
 * Bytes arrive packet by packet, in stream order; Hyperscan's streaming
 * mode carries a pattern across packet boundaries, so nothing is split
 * out of sight. Semantics: docs/l7.md.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hs/hs.h>

#include <zonewall/policy.h>

#include "l7_db.h"
#include "l7_pool.h"

#define HTTP_METHODS 8u /* requests whose responses are awaited */

enum fmode {
	FM_UNKNOWN, /* not known yet whether it is HTTP */
	FM_HTTP,    /* HTTP/1.x: magic at the start of every body */
	FM_RAW,	    /* other clear text: magic at the stream start */
	FM_OPAQUE,  /* encrypted (TLS, SSH, RDP): nothing to see */
};

enum hstate {
	H_HEAD,
	H_BODY,	      /* Content-Length bytes left */
	H_CLOSE,      /* body until the connection ends */
	H_CHUNK_SIZE, /* chunk-size line */
	H_CHUNK_DATA,
	H_CHUNK_CRLF,
	H_TRAILER,
	H_DEAD, /* lost track (headers too long): the rest is not seen */
};

struct dir {
	hs_stream_t *ps; /* conformance stream */
	uint32_t bytes;	 /* bytes given to ps (up to the depth) */
	uint32_t pkts;	 /* data packets */
	uint64_t total;	 /* bytes */
	bool lead, full, failed;
	uint8_t buf[ZW_L7_DEPTH_BYTES]; /* the first bytes, for recognition */
	uint32_t blen;
	/* magic number of the current body (or raw stream start) */
	hs_stream_t *ms;
	uint32_t mbytes;
	bool mdone;
	/* HTTP */
	enum hstate hs;
	char *head;
	uint32_t hlen;
	uint64_t left;
};

struct zw_l7_conn {
	struct zw_l7_db *db;
	hs_scratch_t *scratch;	/* the db's, or its pool's (one per thread) */
	struct zw_l7_pool *pool; /* NULL: allocated with malloc */
	char *heads;		 /* pool: 2 * HTTP_HEAD_MAX, preallocated */
	int def; /* protocol definition index, -1: no conformance check */
	int proto;
	uint8_t l4;
	uint32_t ftypes;
	enum zw_l7_verdict verdict;
	bool conform; /* conformance passed (or none asked) */
	int seen;
	int ftype;
	enum fmode fm;
	bool head_req[HTTP_METHODS]; /* ring: was request i a HEAD */
	unsigned req_in, req_out;
	struct dir d[2];
};

const size_t zw_l7_conn_size = sizeof(struct zw_l7_conn);

static int on_side(unsigned id, unsigned long long from, unsigned long long to,
		   unsigned flags, void *ctx)
{
	struct dir *d = ctx;

	(void)from, (void)to, (void)flags;
	if (id == ZW_L7_ID_LEAD)
		d->lead = true;
	else
		d->full = true;
	return 0;
}

struct first {
	int id;	     /* lowest definition matched */
	int prefer;  /* this one if it matched */
	uint8_t l4;  /* definitions of this transport only */
	bool preferred;
};

static int on_first(unsigned id, unsigned long long from,
		    unsigned long long to, unsigned flags, void *ctx)
{
	struct first *f = ctx;

	(void)from, (void)to, (void)flags;
	if (zw_l7_protos[id].l4 != f->l4)
		return 0;
	if ((int)id == f->prefer)
		f->preferred = true;
	if (f->id < 0 || (int)id < f->id)
		f->id = (int)id;
	return 0;
}

/* Open a Hyperscan stream of @c: a pooled connection's streams come from
 * its pool (pool.c binds it to the stream allocator around the call). */
static int open_stream(struct zw_l7_conn *c, const hs_database_t *d,
		       hs_stream_t **s)
{
	struct zw_l7_pool *prev = zw_l7_pool__bind(c->pool);
	hs_error_t e = hs_open_stream(d, 0, s);

	zw_l7_pool__bind(prev);
	if (e != HS_SUCCESS)
		*s = NULL;
	return e == HS_SUCCESS ? 0 : -ENOMEM;
}

static void close_stream(struct zw_l7_conn *c, hs_stream_t **s)
{
	if (*s) {
		struct zw_l7_pool *prev = zw_l7_pool__bind(c->pool);

		hs_close_stream(*s, c->scratch, NULL, NULL);
		zw_l7_pool__bind(prev);
	}
	*s = NULL;
}

int zw_l7_conn__init(struct zw_l7_conn *c, struct zw_l7_db *db,
		     hs_scratch_t *scratch, struct zw_l7_pool *pool,
		     char *heads, int proto, uint8_t l4, uint32_t ftypes)
{
	memset(c, 0, sizeof(*c));
	c->db = db;
	c->scratch = scratch;
	c->pool = pool;
	c->heads = heads;
	c->proto = proto;
	c->l4 = l4;
	c->def = -1;
	c->seen = -1;
	c->ftype = -1;
	c->conform = true;
	c->ftypes = l4 == 6 ? ftypes & ZW_FT_ALL : 0;
	if (proto >= 0) {
		const char *name = zw_l7_proto__name(proto);

		for (unsigned i = 0; i < zw_l7_n_protos; i++)
			if (zw_l7_protos[i].l4 == l4 &&
			    !strcmp(zw_l7_protos[i].name, name))
				c->def = (int)i;
		if (c->def < 0) {
			/* nothing can check it: engines refuse such a flow,
			 * the inspector cuts it */
			c->verdict = ZW_L7_MISMATCH;
			return 0;
		}
		c->conform = false;
		for (int k = 0; k < 2; k++) {
			if (!db->side[c->def][k])
				continue;
			if (open_stream(c, db->side[c->def][k], &c->d[k].ps)) {
				zw_l7_conn__release(c);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

struct zw_l7_conn *zw_l7_conn__new(struct zw_l7_db *db, int proto, uint8_t l4,
				   uint32_t ftypes)
{
	struct zw_l7_conn *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	if (zw_l7_conn__init(c, db, db->scratch, NULL, NULL, proto, l4,
			     ftypes)) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void zw_l7_conn__release(struct zw_l7_conn *c)
{
	for (int k = 0; k < 2; k++) {
		close_stream(c, &c->d[k].ps);
		close_stream(c, &c->d[k].ms);
		if (!c->heads)
			free(c->d[k].head);
		c->d[k].head = NULL;
	}
}

void zw_l7_conn__free(struct zw_l7_conn *c)
{
	if (!c)
		return;
	if (c->pool) {
		zw_l7_pool__put(c->pool, c);
		return;
	}
	zw_l7_conn__release(c);
	free(c);
}

enum zw_l7_verdict zw_l7_conn__verdict(const struct zw_l7_conn *c)
{
	return c->verdict;
}

int zw_l7_conn__seen(const struct zw_l7_conn *c)
{
	return c->seen;
}

int zw_l7_conn__ftype(const struct zw_l7_conn *c)
{
	return c->ftype;
}

uint8_t zw_l7_conn__seen_code(const struct zw_l7_conn *c)
{
	const char *name;

	if (c->verdict == ZW_L7_FILE)
		return c->ftype >= 0 ? (uint8_t)(c->ftype + 1) : 0;
	if (c->seen < 0)
		return 0;
	name = zw_l7_proto__name(c->seen);
	for (unsigned i = 0; zw_inspect_names[i] && i < 254; i++)
		if (!strcmp(zw_inspect_names[i], name))
			return (uint8_t)(i + 1);
	return 0;
}

/* The protocol the first bytes of either direction are, by the
 * recognition databases: client side first. */
static int recognise(struct zw_l7_conn *c)
{
	for (int k = 0; k < 2; k++) {
		struct first f = {.id = -1, .prefer = c->def, .l4 = c->l4};

		if (!c->d[k].blen)
			continue;
		hs_scan(c->db->ident[k], (const char *)c->d[k].buf, c->d[k].blen,
			0, c->scratch, on_first, &f);
		if (f.preferred)
			f.id = c->def;
		if (f.id >= 0)
			return zw_l7_proto__find(zw_l7_protos[f.id].name);
	}
	return -1;
}

/* ---- file types ---- */

static int on_magic(unsigned id, unsigned long long from,
		    unsigned long long to, unsigned flags, void *ctx)
{
	struct zw_l7_conn *c = ctx;

	(void)from, (void)to, (void)flags;
	if ((c->ftypes & ZW_FT_BIT(id)) && c->ftype < 0) {
		c->ftype = (int)id;
		return 1; /* stop */
	}
	return 0;
}

static void magic_start(struct zw_l7_conn *c, struct dir *d)
{
	close_stream(c, &d->ms);
	d->mbytes = 0;
	d->mdone = false;
	if (open_stream(c, c->db->magic, &d->ms))
		d->mdone = true; /* out of memory: not seen (counted nowhere);
				  * a pool has four streams per connection,
				  * so this is a malloc failure only */
}

static void magic_feed(struct zw_l7_conn *c, struct dir *d, const uint8_t *p,
		       size_t n)
{
	size_t take;

	if (d->mdone || !d->ms || !n)
		return;
	take = ZW_L7_MAGIC_DEPTH - d->mbytes;
	if (take > n)
		take = n;
	hs_scan_stream(d->ms, (const char *)p, (unsigned)take, 0,
		       c->scratch, on_magic, c);
	d->mbytes += (uint32_t)take;
	if (c->ftype >= 0 || d->mbytes >= ZW_L7_MAGIC_DEPTH) {
		d->mdone = true;
		close_stream(c, &d->ms);
	}
}

static void magic_end(struct zw_l7_conn *c, struct dir *d)
{
	d->mdone = true;
	close_stream(c, &d->ms);
}

/* Header @name's value in the header block @h (NUL-ended), or NULL. */
static const char *header(const char *h, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = strchr(h, '\n'); l; l = strchr(l + 1, '\n')) {
		if (!strncasecmp(l + 1, name, n) && l[1 + n] == ':') {
			const char *v = l + 2 + n;

			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	}
	return NULL;
}

static bool value_has(const char *v, const char *word)
{
	size_t n = strlen(word);

	for (; v && *v && *v != '\r' && *v != '\n'; v++)
		if (!strncasecmp(v, word, n))
			return true;
	return false;
}

/* A complete head in d->head: what follows it. */
static void http_head_done(struct zw_l7_conn *c, struct dir *d, int k)
{
	const char *h = d->head, *te, *cl;
	bool body = true;

	if (k == ZW_L7_C2S) {
		c->head_req[c->req_in++ % HTTP_METHODS] = !strncmp(h, "HEAD ", 5);
	} else {
		int status = 0;

		if (!strncmp(h, "HTTP/1.", 7) && strlen(h) > 12)
			status = atoi(h + 9);
		if (status >= 100 && status < 200) {
			body = false; /* interim: the real response follows */
		} else {
			bool head = c->req_out != c->req_in &&
				    c->head_req[c->req_out % HTTP_METHODS];

			if (c->req_out != c->req_in)
				c->req_out++;
			if (head || status == 204 || status == 304)
				body = false;
		}
	}
	d->hlen = 0;
	te = header(h, "transfer-encoding");
	cl = header(h, "content-length");
	if (!body) {
		d->hs = H_HEAD;
	} else if (te && value_has(te, "chunked")) {
		d->hs = H_CHUNK_SIZE;
		magic_start(c, d);
	} else if (cl) {
		d->left = strtoull(cl, NULL, 10);
		d->hs = d->left ? H_BODY : H_HEAD;
		if (d->left)
			magic_start(c, d);
	} else if (k == ZW_L7_S2C) {
		d->hs = H_CLOSE;
		magic_start(c, d);
	} else {
		d->hs = H_HEAD; /* a request without a length has no body */
	}
}

/* Bytes of one line into d->head until its end; true when a line ended
 * (the line, without CRLF, is in d->head). */
static bool line_in(struct dir *d, const uint8_t **p, size_t *n)
{
	while (*n) {
		uint8_t ch = *(*p)++;

		(*n)--;
		if (ch == '\n') {
			if (d->hlen && d->head[d->hlen - 1] == '\r')
				d->hlen--;
			d->head[d->hlen] = '\0';
			return true;
		}
		if (d->hlen + 1 < HTTP_HEAD_MAX)
			d->head[d->hlen++] = (char)ch;
	}
	return false;
}

static void http_feed(struct zw_l7_conn *c, int k, const uint8_t *p, size_t n)
{
	struct dir *d = &c->d[k];

	if (!d->head) {
		d->head = c->heads ? c->heads + (size_t)k * HTTP_HEAD_MAX :
				     malloc(HTTP_HEAD_MAX);
		if (!d->head) {
			d->hs = H_DEAD;
			return;
		}
	}
	while (n && c->ftype < 0 && d->hs != H_DEAD) {
		switch (d->hs) {
		case H_HEAD:
			while (n) {
				if (d->hlen + 1 >= HTTP_HEAD_MAX) {
					d->hs = H_DEAD;
					break;
				}
				d->head[d->hlen++] = (char)*p++;
				n--;
				if (d->hlen >= 4 &&
				    !memcmp(d->head + d->hlen - 4, "\r\n\r\n", 4)) {
					d->head[d->hlen] = '\0';
					http_head_done(c, d, k);
					break;
				}
				if (d->hlen == 2 && !memcmp(d->head, "\r\n", 2))
					d->hlen = 0; /* blank line between messages */
			}
			break;
		case H_BODY: {
			size_t take = n < d->left ? n : (size_t)d->left;

			magic_feed(c, d, p, take);
			p += take, n -= take, d->left -= take;
			if (!d->left) {
				magic_end(c, d);
				d->hs = H_HEAD;
			}
			break;
		}
		case H_CLOSE:
			magic_feed(c, d, p, n);
			n = 0;
			break;
		case H_CHUNK_SIZE:
			if (line_in(d, &p, &n)) {
				char *end;

				d->left = strtoull(d->head, &end, 16);
				d->hlen = 0;
				if (end == d->head) {
					d->hs = H_DEAD;
				} else if (!d->left) {
					magic_end(c, d);
					d->hs = H_TRAILER;
				} else {
					d->hs = H_CHUNK_DATA;
				}
			}
			break;
		case H_CHUNK_DATA: {
			size_t take = n < d->left ? n : (size_t)d->left;

			magic_feed(c, d, p, take);
			p += take, n -= take, d->left -= take;
			if (!d->left) {
				d->hs = H_CHUNK_CRLF;
				d->hlen = 0;
			}
			break;
		}
		case H_CHUNK_CRLF:
			if (line_in(d, &p, &n)) {
				d->hlen = 0;
				d->hs = H_CHUNK_SIZE;
			}
			break;
		case H_TRAILER:
			if (line_in(d, &p, &n)) {
				bool empty = !d->hlen;

				d->hlen = 0;
				if (empty)
					d->hs = H_HEAD;
			}
			break;
		case H_DEAD:
			break;
		}
	}
}

/* Is the client's first data (so far) an HTTP request? 1 yes, 0 no, -1
 * not known yet. */
static int http_request_start(const struct dir *d)
{
	static const char *const m[] = {"GET ", "HEAD ", "POST ", "PUT ",
					"DELETE ", "OPTIONS ", "PATCH ",
					"TRACE ", "CONNECT ", NULL};
	bool maybe = false;

	for (int i = 0; m[i]; i++) {
		size_t l = strlen(m[i]), n = d->blen < l ? d->blen : l;

		if (memcmp(d->buf, m[i], n))
			continue;
		if (n == l)
			return 1;
		maybe = true;
	}
	return maybe ? -1 : 0;
}

static void files(struct zw_l7_conn *c, int k, const uint8_t *p, size_t n)
{
	struct dir *d = &c->d[k];

	if (c->fm == FM_UNKNOWN) {
		int seen = recognise(c);
		int h = c->d[ZW_L7_C2S].blen ? http_request_start(&c->d[ZW_L7_C2S])
					      : -1;

		for (unsigned i = 0; seen >= 0 && i < zw_l7_n_protos; i++)
			if (!strcmp(zw_l7_protos[i].name, zw_l7_proto__name(seen)) &&
			    zw_l7_protos[i].encrypted)
				c->fm = FM_OPAQUE;
		if (c->fm == FM_OPAQUE) {
			for (int j = 0; j < 2; j++)
				magic_end(c, &c->d[j]);
			return;
		}
		if (h == 1 && c->d[ZW_L7_C2S].total <= ZW_L7_DEPTH_BYTES &&
		    c->d[ZW_L7_S2C].total <= ZW_L7_DEPTH_BYTES) {
			/* HTTP: parse both directions from their start */
			c->fm = FM_HTTP;
			for (int j = 0; j < 2; j++) {
				magic_end(c, &c->d[j]);
				c->d[j].hs = H_HEAD;
				if (c->d[j].blen)
					http_feed(c, j, c->d[j].buf, c->d[j].blen);
			}
			return;
		}
		if (h == 0)
			c->fm = FM_RAW;
		/* meanwhile (and in raw mode), the start of each stream */
		if (!d->ms && !d->mdone && d->total == n)
			magic_start(c, d);
		magic_feed(c, d, p, n);
		return;
	}
	if (c->fm == FM_HTTP) {
		http_feed(c, k, p, n);
	} else if (c->fm == FM_RAW) {
		if (!d->ms && !d->mdone && d->total == n)
			magic_start(c, d);
		magic_feed(c, d, p, n);
	}
}

static bool watching_files(const struct zw_l7_conn *c)
{
	if (!c->ftypes || c->fm == FM_OPAQUE)
		return false;
	if (c->fm == FM_HTTP)
		return true; /* every body of the connection */
	/* raw (or not known yet): until both stream starts are seen */
	return !(c->d[0].mdone && c->d[1].mdone);
}

bool zw_l7_conn__done(const struct zw_l7_conn *c)
{
	if (c->verdict == ZW_L7_MISMATCH || c->verdict == ZW_L7_FILE)
		return true;
	return c->verdict == ZW_L7_PASS && !watching_files(c);
}

static void conformance(struct zw_l7_conn *c, int k, const uint8_t *p,
			size_t n)
{
	const struct zw_l7_proto_def *def = &zw_l7_protos[c->def];
	struct dir *d = &c->d[k];
	bool all = true;

	if (d->ps && !d->full && !d->failed) {
		size_t take = ZW_L7_DEPTH_BYTES - d->bytes;

		if (take > n)
			take = n;
		hs_scan_stream(d->ps, (const char *)p, (unsigned)take, 0,
			       c->scratch, on_side, d);
		d->bytes += (uint32_t)take;
		if (d->full)
			close_stream(c, &d->ps);
		else if ((!d->lead && d->bytes >= def->side[k].lead_len) ||
			 (def->side[k].full_len &&
			  d->bytes >= def->side[k].full_len) ||
			 (!def->side[k].full_len && memchr(p, '\n', take)) ||
			 d->bytes >= ZW_L7_DEPTH_BYTES ||
			 d->pkts >= ZW_L7_DEPTH_PACKETS)
			d->failed = true;
	}
	for (int j = 0; j < 2; j++) {
		const struct dir *e = &c->d[j];

		if (e->failed) {
			c->verdict = ZW_L7_MISMATCH;
			return;
		}
		if (def->side[j].full && !e->full)
			all = false;
	}
	if (all) {
		c->conform = true;
		return;
	}
	/* the unchecked direction may not run past the bound while the
	 * checked one has not spoken */
	for (int j = 0; j < 2; j++)
		if (!def->side[j].full &&
		    (c->d[j].total >= ZW_L7_DEPTH_BYTES ||
		     c->d[j].pkts >= ZW_L7_DEPTH_PACKETS))
			c->verdict = ZW_L7_MISMATCH;
}

enum zw_l7_verdict zw_l7_conn__feed(struct zw_l7_conn *c, enum zw_l7_dir dir,
				    const void *data, size_t len)
{
	int k = dir == ZW_L7_S2C;
	struct dir *d = &c->d[k];
	const uint8_t *p = data;

	if (c->verdict == ZW_L7_MISMATCH || c->verdict == ZW_L7_FILE || !len)
		return c->verdict;
	d->pkts++;
	d->total += len;
	if (d->blen < ZW_L7_DEPTH_BYTES) {
		size_t take = ZW_L7_DEPTH_BYTES - d->blen;

		if (take > len)
			take = len;
		memcpy(d->buf + d->blen, p, take);
		d->blen += (uint32_t)take;
	}
	if (c->def >= 0 && !c->conform) {
		conformance(c, k, p, len);
		if (c->verdict == ZW_L7_MISMATCH) {
			c->seen = recognise(c);
			return c->verdict;
		}
	}
	if (c->ftypes) {
		files(c, k, p, len);
		if (c->ftype >= 0) {
			c->verdict = ZW_L7_FILE;
			return c->verdict;
		}
	}
	if (c->seen < 0)
		c->seen = recognise(c);
	c->verdict = c->conform ? ZW_L7_PASS : ZW_L7_PENDING;
	return c->verdict;
}
