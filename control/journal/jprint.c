/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jprint.h"

static const char *const csv_cols[] = {
	"seq", "time", "clock_synced", "clock_state", "uid", "user", "action",
	"version", "flow", "zone", "reason", "detail", "before", "after",
	"implementation", "prev", "hash", NULL,
};

void zw_jprint__begin(struct zw_jprint *p, FILE *out,
		      enum zw_journal_format fmt)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
	p->fmt = fmt;
	if (fmt == ZW_JF_JSON)
		p->all = json_array();
	if (fmt == ZW_JF_CSV) {
		for (int i = 0; csv_cols[i]; i++)
			fprintf(out, "%s%s", i ? "," : "", csv_cols[i]);
		fputs("\r\n", out);
	}
}

char *zw_jprint__impl_text(const json_t *impl)
{
	const char *k;
	json_t *v;
	size_t len = 0;
	char *s;

	if (!json_is_object(impl))
		return strdup("");
	json_object_foreach((json_t *)impl, k, v)
		len += strlen(k) + 3 + strlen(json_string_value(v) ? json_string_value(v) : "");
	s = malloc(len + 1);
	if (!s)
		return NULL;
	s[0] = '\0';
	len = 0;
	json_object_foreach((json_t *)impl, k, v) {
		const char *t = json_string_value(v) ? json_string_value(v) : "";

		len += (size_t)sprintf(s + len, "%s%s: %s", len ? "\n" : "", k, t);
	}
	return s;
}

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void csv_json(FILE *out, const json_t *v)
{
	char *s;

	if (!v || json_is_null(v))
		return;
	s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	zw_csv__field(out, s);
	free(s);
}

static void csv_int(FILE *out, const json_t *v)
{
	if (json_is_integer(v))
		fprintf(out, "%lld", (long long)json_integer_value(v));
}

int zw_jprint__entry(struct zw_jprint *p, const json_t *c, const char *hash)
{
	const json_t *clock = json_object_get(c, "clock");
	FILE *out = p->out;

	p->n++;
	switch (p->fmt) {
	case ZW_JF_JSON: {
		json_t *x = json_deep_copy(c);

		if (!x || json_object_set_new(x, "hash", json_string(hash)) ||
		    json_array_append_new(p->all, x))
			return -ENOMEM;
		return 0;
	}
	case ZW_JF_CSV: {
		char *impl = zw_jprint__impl_text(json_object_get(c, "impl"));

		csv_int(out, json_object_get(c, "seq"));
		fputc(',', out);
		zw_csv__field(out, sget(c, "time"));
		fputc(',', out);
		fputs(json_is_true(json_object_get(clock, "synced")) ? "yes"
								     : "no",
		      out);
		fputc(',', out);
		zw_csv__field(out, sget(clock, "state"));
		fputc(',', out);
		csv_int(out, json_object_get(c, "uid"));
		fputc(',', out);
		zw_csv__field(out, sget(c, "user"));
		fputc(',', out);
		zw_csv__field(out, sget(c, "action"));
		fputc(',', out);
		csv_int(out, json_object_get(c, "version"));
		fputc(',', out);
		zw_csv__field(out, sget(c, "flow"));
		fputc(',', out);
		zw_csv__field(out, sget(c, "zone"));
		fputc(',', out);
		zw_csv__field(out, sget(c, "reason"));
		fputc(',', out);
		zw_csv__field(out, sget(c, "detail"));
		fputc(',', out);
		csv_json(out, json_object_get(c, "before"));
		fputc(',', out);
		csv_json(out, json_object_get(c, "after"));
		fputc(',', out);
		zw_csv__field(out, impl ? impl : "");
		fputc(',', out);
		zw_csv__field(out, sget(c, "prev"));
		fputc(',', out);
		zw_csv__field(out, hash);
		fputs("\r\n", out);
		free(impl);
		return 0;
	}
	case ZW_JF_TEXT:
	default: {
		const json_t *ver = json_object_get(c, "version");
		const char *flow = sget(c, "flow"), *zone = sget(c, "zone");
		const char *detail = sget(c, "detail");
		char vbuf[24] = "-";
		/* text from clients and from the database: one entry is one
		 * line, whatever it holds (control characters escaped) */
		char *t = zw_text__escape(sget(c, "time") ? sget(c, "time") : "?", 0);
		char *a = zw_text__escape(sget(c, "action") ? sget(c, "action") : "?", 0);
		char *fz = zw_text__escape(flow ? flow : zone ? zone : "-", 0);
		char *u = zw_text__escape(sget(c, "user") ? sget(c, "user") : "?", 0);
		char *rs = zw_text__escape(sget(c, "reason") ? sget(c, "reason") : "", 0);
		char *dt = detail && *detail ? zw_text__escape(detail, 0) : NULL;
		int r = t && a && fz && u && rs && (!detail || !*detail || dt)
				? 0 : -ENOMEM;

		if (json_is_integer(ver))
			snprintf(vbuf, sizeof(vbuf), "v%lld",
				 (long long)json_integer_value(ver));
		if (!r)
			fprintf(out, "%-6lld %s  %-5s %-23s %-16s %s(%lld)%s  %s\n",
				(long long)json_integer_value(json_object_get(c, "seq")),
				t, vbuf, a, fz, u,
				(long long)json_integer_value(json_object_get(c, "uid")),
				json_is_true(json_object_get(clock, "synced"))
					? ""
					: " [clock unsynced]",
				rs);
		if (!r && dt)
			fprintf(out, "       %s\n", dt);
		free(t);
		free(a);
		free(fz);
		free(u);
		free(rs);
		free(dt);
		return r;
	}
	}
}

void zw_jprint__end(struct zw_jprint *p)
{
	if (p->fmt == ZW_JF_JSON) {
		json_t *doc = json_object();

		json_object_set_new(doc, "count", json_integer(p->n));
		json_object_set(doc, "entries", p->all);
		json_dumpf(doc, p->out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', p->out);
		json_decref(doc);
	}
	json_decref(p->all);
	p->all = NULL;
}

int zw_jprint__cb(int64_t seq, const char *content, const char *hash,
		  void *ctx)
{
	json_t *c = json_loads(content, 0, NULL);
	int r;

	(void)seq;
	if (!c)
		return -EINVAL;
	r = zw_jprint__entry(ctx, c, hash);
	json_decref(c);
	return r;
}
