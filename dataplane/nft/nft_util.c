// SPDX-License-Identifier: BSD-2-Clause
/* Small helpers of the nftables engine: text buffer, options. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "zwnft.h"

void zwnft_buf__printf(struct zwnft_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

void zwnft_buf__puts(struct zwnft_buf *b, const char *s)
{
	zwnft_buf__printf(b, "%s", s);
}

char *zwnft_buf__take(struct zwnft_buf *b)
{
	char *s;

	if (b->oom) {
		zwnft_buf__fini(b);
		errno = ENOMEM;
		return NULL;
	}
	s = b->s ? b->s : strdup("");
	b->s = NULL;
	b->len = b->cap = 0;
	if (!s)
		errno = ENOMEM;
	return s;
}

void zwnft_buf__fini(struct zwnft_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

void zwnft_opts__init(struct zwnft_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->table, sizeof(o->table), "%s", ZWNFT_TABLE_DEFAULT);
	o->priority = 0;
	o->log_group = ZWNFT_LOG_GROUP_DEFAULT;
	o->queue_set = true;
	o->queue = ZW_INSPECT_QUEUE_DEFAULT;
}

const char *zwnft_opts__inspect_image(const struct zwnft_opts *o, char *buf,
				      size_t len)
{
	if (o->inspect_image[0])
		snprintf(buf, len, "%s", o->inspect_image);
	else
		snprintf(buf, len, ZW_INSPECT_IMAGE_DIR "/%s.img", o->table);
	return buf;
}

static bool valid_table_name(const char *s)
{
	if (!*s || strlen(s) >= sizeof(((struct zwnft_opts *)0)->table))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

int zwnft_opts__parse(struct zwnft_opts *o, const char *arg, char *err,
		      size_t err_len)
{
	char *copy, *save = NULL, *tok;
	int ret = 0;

	zwnft_opts__init(o);
	if (!arg || !*arg)
		return 0;
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		long v;

		if (!eq) {
			snprintf(err, err_len,
				 "nft option '%s': expected KEY=VALUE", tok);
			ret = -EINVAL;
			break;
		}
		*eq++ = '\0';
		if (strcmp(tok, "table") == 0) {
			if (!valid_table_name(eq)) {
				snprintf(err, err_len,
					 "nft option table=%s: not a table name",
					 eq);
				ret = -EINVAL;
				break;
			}
			snprintf(o->table, sizeof(o->table), "%s", eq);
			continue;
		}
		if (strcmp(tok, "inspect_image") == 0) {
			if (eq[0] != '/' ||
			    strlen(eq) >= sizeof(o->inspect_image)) {
				snprintf(err, err_len,
					 "nft option inspect_image=%s: not an "
					 "absolute path",
					 eq);
				ret = -EINVAL;
				break;
			}
			snprintf(o->inspect_image, sizeof(o->inspect_image),
				 "%s", eq);
			continue;
		}
		if (strcmp(tok, "mirror") == 0) {
			char *dsave = NULL;

			o->n_mirror = 0;
			for (char *d = strtok_r(eq, "+", &dsave); d;
			     d = strtok_r(NULL, "+", &dsave)) {
				if (!zw_ifname__valid(d) ||
				    o->n_mirror == ZWNFT_MIRROR_MAX) {
					snprintf(err, err_len,
						 "nft option mirror=: '%s' is not an interface name (or more than %d interfaces)",
						 d, ZWNFT_MIRROR_MAX);
					ret = -EINVAL;
					break;
				}
				snprintf(o->mirror[o->n_mirror++],
					 sizeof(o->mirror[0]), "%s", d);
			}
			if (ret)
				break;
			if (!o->n_mirror) {
				snprintf(err, err_len,
					 "nft option mirror=: name the enforced interfaces, IF[+IF...]");
				ret = -EINVAL;
				break;
			}
			continue;
		}
		errno = 0;
		v = strtol(eq, &end, 10);
		if (errno || end == eq || *end) {
			snprintf(err, err_len, "nft option %s=%s: not a number",
				 tok, eq);
			ret = -EINVAL;
			break;
		}
		if (strcmp(tok, "priority") == 0 && v >= -400 && v <= 400) {
			o->priority = (int32_t)v;
		} else if (strcmp(tok, "log_group") == 0 && v >= 0 &&
			   v <= 65535) {
			o->log_group = (uint16_t)v;
		} else if (strcmp(tok, "queue") == 0 && v >= 0 && v <= 65535) {
			o->queue = (uint16_t)v;
			o->queue_set = true;
		} else {
			snprintf(err, err_len,
				 "nft option %s=%s: unknown option or out of range "
				 "(table=NAME, priority=-400..400, log_group=0..65535, "
				 "queue=0..65535, inspect_image=PATH, mirror=IF[+IF...])",
				 tok, eq);
			ret = -EINVAL;
			break;
		}
	}
	free(copy);
	return ret;
}

void zwnft_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
