/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Engine-neutral helpers of the backend contract (include/zonewall/
 * backend.h) that every engine and the daemon share: the rule describer
 * (one object per image instead of a process-global cache), read-back
 * state as data, and prepare+commit for single-engine tools. They need
 * only the image, so they live in libzwimage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

/* ---- read-back state ---- */

void zw_backend_state__fini(struct zw_backend_state *st)
{
	if (!st)
		return;
	free(st->drift);
	for (size_t i = 0; i < st->n_rules; i++) {
		free(st->rules[i].src);
		free(st->rules[i].dst);
		free(st->rules[i].engine_text);
	}
	free(st->rules);
	for (size_t i = 0; i < st->n_foreign; i++)
		free(st->foreign[i]);
	free(st->foreign);
	memset(st, 0, sizeof(*st));
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int zw_backend_state__add_rule(struct zw_backend_state *st,
			       const struct zw_held_rule *r)
{
	struct zw_held_rule *v, *n;
	bool oom = false;

	if ((st->n_rules & (st->n_rules + 1)) == 0) { /* 0, 1, 3, 7...: grow */
		v = realloc(st->rules, (st->n_rules * 2 + 2) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		st->rules = v;
	}
	n = &st->rules[st->n_rules];
	*n = *r;
	n->src = dup_or_null(r->src, &oom);
	n->dst = dup_or_null(r->dst, &oom);
	n->engine_text = dup_or_null(r->engine_text, &oom);
	if (oom) {
		free(n->src);
		free(n->dst);
		free(n->engine_text);
		return -ENOMEM;
	}
	st->n_rules++;
	st->rules_known = true;
	return 0;
}

int zw_backend_state__add_foreign(struct zw_backend_state *st,
				  const char *fmt, ...)
{
	char **v, *line;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	v = realloc(st->foreign, (st->n_foreign + 1) * sizeof(*v));
	if (!v) {
		free(line);
		return -ENOMEM;
	}
	st->foreign = v;
	st->foreign[st->n_foreign++] = line;
	return 0;
}

/* Narrowing set @set as "a,b,c", or NULL for the whole zone. */
static char *narrow_text(const struct zw_image *img, uint32_t set)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (set == ZW_NO_SET || set >= img->n_sets)
		return NULL;
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (uint32_t k = 0; k < img->sets[set].count; k++) {
		const struct zw_img_narrow *x =
			&img->narrow[img->sets[set].first + k];
		struct zw_prefix p = {.family = x->family, .len = x->len};
		char buf[64];

		memcpy(p.addr, x->addr, 16);
		fprintf(f, "%s%s", k ? "," : "", zw_prefix__format(&p, buf));
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

int zw_backend_state__add_image_rules(struct zw_backend_state *st,
				      const struct zw_image *img, int32_t day)
{
	st->rules_known = true;
	for (uint32_t p = 0; p < img->n_pairs; p++) {
		const struct zw_img_pair *pair = &img->pairs[p];

		for (uint32_t k = 0; k < pair->count; k++) {
			const struct zw_img_rule *x = &img->rules[pair->first + k];
			struct zw_held_rule r = {
				.proto = x->proto,
				.any = !!(x->flags & ZW_IMG_RULE_ANY),
				.lo = x->lo,
				.hi = x->hi,
			};
			int e;

			if (!zw_image__flow_live(img, x->flow, day))
				continue;
			snprintf(r.from, sizeof(r.from), "%s",
				 zw_image__str(img, img->zones[pair->from].name));
			snprintf(r.to, sizeof(r.to), "%s",
				 zw_image__str(img, img->zones[pair->to].name));
			snprintf(r.flow_id, sizeof(r.flow_id), "%s",
				 zw_image__str(img, img->flows[x->flow].id));
			r.src = narrow_text(img, x->src_set);
			r.dst = narrow_text(img, x->dst_set);
			e = zw_backend_state__add_rule(st, &r);
			free(r.src);
			free(r.dst);
			if (e)
				return e;
		}
	}
	return 0;
}

/* ---- the engine-neutral describer: flow -> its rules ---- */

struct rule_describer {
	struct zw_describer base;
	const struct zw_image *img;
	uint32_t *first; /* n_flows + 1 offsets into idx */
	uint32_t *idx;	 /* rule indexes grouped by flow */
	uint32_t *pair;	 /* pair of each rule */
};

static void rule_describer_free(struct zw_describer *d)
{
	struct rule_describer *rd;

	if (!d)
		return;
	rd = zw_container_of(d, struct rule_describer, base);
	free(rd->first);
	free(rd->idx);
	free(rd->pair);
	free(rd);
}

static char *rule_describe(struct zw_describer *d, uint32_t flow)
{
	struct rule_describer *rd = zw_container_of(d, struct rule_describer, base);
	const struct zw_image *img = rd->img;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (flow >= img->n_flows) {
		errno = EINVAL;
		return NULL;
	}
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	if (rd->first[flow] == rd->first[flow + 1])
		fputs("no rule", f);
	for (uint32_t k = rd->first[flow]; k < rd->first[flow + 1]; k++) {
		const struct zw_img_rule *r = &img->rules[rd->idx[k]];
		const struct zw_img_pair *p = &img->pairs[rd->pair[rd->idx[k]]];
		char proto[4], *src = narrow_text(img, r->src_set),
			       *dst = narrow_text(img, r->dst_set);

		fprintf(f, "%s%s -> %s %s", k > rd->first[flow] ? "\n" : "",
			zw_image__str(img, img->zones[p->from].name),
			zw_image__str(img, img->zones[p->to].name),
			zw_proto__name(r->proto, proto));
		if (!(r->flags & ZW_IMG_RULE_ANY)) {
			const char *what =
				zw_proto__is_icmp(r->proto) ? " type " : "/";

			if (r->lo == r->hi)
				fprintf(f, "%s%u", what, r->lo);
			else
				fprintf(f, "%s%u-%u", what, r->lo, r->hi);
		}
		fprintf(f, " src %s dst %s", src ? src : "any",
			dst ? dst : "any");
		free(src);
		free(dst);
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

struct zw_describer *zw_rule_describer__new(const struct zw_image *img)
{
	struct rule_describer *rd = calloc(1, sizeof(*rd));
	uint32_t *fill = NULL;

	if (!rd)
		return NULL;
	rd->base.describe = rule_describe;
	rd->base.free = rule_describer_free;
	rd->img = img;
	rd->first = calloc((size_t)img->n_flows + 1, sizeof(uint32_t));
	rd->idx = malloc(((size_t)img->n_rules + 1) * sizeof(uint32_t));
	rd->pair = malloc(((size_t)img->n_rules + 1) * sizeof(uint32_t));
	fill = calloc((size_t)img->n_flows + 1, sizeof(uint32_t));
	if (!rd->first || !rd->idx || !rd->pair || !fill)
		goto err;
	for (uint32_t p = 0; p < img->n_pairs; p++)
		for (uint32_t k = 0; k < img->pairs[p].count; k++) {
			uint32_t r = img->pairs[p].first + k;

			rd->pair[r] = p;
			if (img->rules[r].flow < img->n_flows)
				rd->first[img->rules[r].flow + 1]++;
		}
	for (uint32_t f = 0; f < img->n_flows; f++)
		rd->first[f + 1] += rd->first[f];
	for (uint32_t p = 0; p < img->n_pairs; p++)
		for (uint32_t k = 0; k < img->pairs[p].count; k++) {
			uint32_t r = img->pairs[p].first + k;
			uint32_t f = img->rules[r].flow;

			if (f < img->n_flows)
				rd->idx[rd->first[f] + fill[f]++] = r;
		}
	free(fill);
	return &rd->base;
err:
	free(fill);
	rule_describer_free(&rd->base);
	errno = ENOMEM;
	return NULL;
}

char *zw_describer__describe(struct zw_describer *d, uint32_t flow)
{
	if (!d) {
		errno = EINVAL;
		return NULL;
	}
	return d->describe(d, flow);
}

void zw_describer__free(struct zw_describer *d)
{
	if (d)
		d->free(d);
}

/* ---- one engine, both phases ---- */

int zw_backend__apply(struct zw_backend *be, const struct zw_image *img,
		      int32_t day, char *err, size_t err_len)
{
	struct zw_ticket *t = NULL;
	int r = be->ops->prepare(be, img, day, &t, err, err_len);

	if (r)
		return r;
	return be->ops->commit(be, t, err, err_len);
}

/* ---- the image for the L7 inspector ---- */

int zw_inspector__publish(const struct zw_image *img, const char *path,
			  char *err, size_t err_len)
{
	size_t dl = strlen(ZW_INSPECT_IMAGE_DIR);
	char tmp[4096];
	int fd, e;
	ssize_t w;

	if (!strncmp(path, ZW_INSPECT_IMAGE_DIR "/", dl + 1))
		mkdir(ZW_INSPECT_IMAGE_DIR, 0750); /* may not exist yet */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		goto fail;
	w = write(fd, img->bytes, img->size);
	if (w != (ssize_t)img->size || fsync(fd)) {
		e = w >= 0 && w != (ssize_t)img->size ? EIO : errno;
		close(fd);
		unlink(tmp);
		errno = e;
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) == 0)
		return 0;
	e = errno;
	unlink(tmp);
	errno = e;
fail:
	e = errno;
	snprintf(err, err_len, "cannot write the image for zw-inspect to %s: %s",
		 path, strerror(e));
	return -e;
}

/* ---- probes an engine cannot honour ---- */

int zw_backend__refuse_probes(const struct zw_image *img, const char *engine,
			      const char *why, char *err, size_t err_len)
{
	const struct zw_img_probe *p;

	if (!img || !img->n_probes)
		return 0;
	p = &img->probes[0];
	snprintf(err, err_len,
		 "probe '%s' (interface %s)%s: the %s engine %s; the matrix is refused rather than enforced without its mirror",
		 zw_image__str(img, p->name), zw_image__str(img, p->interface),
		 img->n_probes > 1 ? " and the other probes" : "", engine, why);
	return -EOPNOTSUPP;
}
