// SPDX-License-Identifier: BSD-2-Clause
/*
 * Names of the table's chains, sets and counters: kernel-sized, -E2BIG
 * rather than a name cut short. Layout of the names: docs/nft-engine.md.
 *
 * The names are injective: the one name made of two image names,
 * "pair_FROM_TO", joins zone names, which never hold '_' (the grammar
 * [a-z][a-z0-9-]*, enforced by the image loader too: zw_name__valid), so
 * the separator cannot be confused; every other name is a fixed prefix and
 * one name or flow id.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <zonewall/flow_record.h>
#include <zonewall/policy.h>

#include "nft_build.h"

int zwnft_name__fmt(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, ZWNFT_NAME_MAX, fmt, ap);
	va_end(ap);
	return (n < 0 || n >= ZWNFT_NAME_MAX) ? -E2BIG : 0;
}

const char *zwnft_zone_name(const struct zw_image *img, uint32_t z)
{
	return zw_image__str(img, img->zones[z].name);
}

const char *zwnft_flow_id(const struct zw_image *img, uint32_t f)
{
	return zw_image__str(img, img->flows[f].id);
}

int zwnft_name__from(char *buf, const struct zw_image *img, uint32_t z)
{
	return zwnft_name__fmt(buf, "from_%s", zwnft_zone_name(img, z));
}

int zwnft_name__pair(char *buf, const struct zw_image *img, uint32_t a,
		     uint32_t b)
{
	return zwnft_name__fmt(buf, "pair_%s_%s", zwnft_zone_name(img, a),
			       zwnft_zone_name(img, b));
}

const char *zwnft_name__drop(char buf[ZWNFT_NAME_MAX], unsigned reason)
{
	/* Connections cut because their flow left the policy were counted
	 * in zw_cut before the reasons had names: the table keeps it. */
	if (reason == ZW_DROP_FLOW_REMOVED)
		return "zw_cut";
	snprintf(buf, ZWNFT_NAME_MAX, "zw_%s", zw_drop_reason__name(reason));
	for (char *c = buf; *c; c++)
		if (*c == '-')
			*c = '_';
	return buf;
}
