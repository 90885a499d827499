/* SPDX-License-Identifier: BSD-2-Clause */
/* The registry of engines linked into this build (backend.h); the
 * engine-neutral helpers engines share are in image/backend_util.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

static const struct zw_backend_ops *const zw_backends[] = {
#ifdef ZW_HAVE_NFT
	&zw_backend_nft,
#endif
#ifdef ZW_HAVE_XDP
	&zw_backend_xdp,
#endif
#ifdef ZW_HAVE_DPDK
	&zw_backend_dpdk,
#endif
	NULL,
};

#define MAX_REGISTERED 8
static const struct zw_backend_ops *registered[MAX_REGISTERED + 1];

int zw_backend__register(const struct zw_backend_ops *ops)
{
	size_t n = 0;

	if (zw_backend__find(ops->name))
		return -EEXIST;
	while (registered[n])
		n++;
	if (n == MAX_REGISTERED)
		return -ENOSPC;
	registered[n] = ops;
	return 0;
}

const struct zw_backend_ops *zw_backend__find(const char *name)
{
	for (size_t i = 0; zw_backends[i]; i++)
		if (!strcmp(zw_backends[i]->name, name))
			return zw_backends[i];
	for (size_t i = 0; registered[i]; i++)
		if (!strcmp(registered[i]->name, name))
			return registered[i];
	return NULL;
}

int zw_backend__open_spec(const char *spec, struct zw_backend **be, char *err,
			  size_t err_len)
{
	const struct zw_backend_ops *found, **ops = &found;
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	char name[32], avail[128] = "";
	int r;

	*be = NULL;
	if (n == 0 || n >= sizeof(name)) {
		snprintf(err, err_len, "bad backend '%s' (expected NAME[:ARG])",
			 spec);
		return -EINVAL;
	}
	memcpy(name, spec, n);
	name[n] = '\0';
	*ops = zw_backend__find(name);
	if (!*ops) {
		for (size_t i = 0; zw_backends[i]; i++) {
			size_t l = strlen(avail);

			snprintf(avail + l, sizeof(avail) - l, "%s%s",
				 l ? ", " : "", zw_backends[i]->name);
		}
		for (size_t i = 0; registered[i]; i++) {
			size_t l = strlen(avail);

			snprintf(avail + l, sizeof(avail) - l, "%s%s",
				 l ? ", " : "", registered[i]->name);
		}
		snprintf(err, err_len,
			 "no engine '%s' in this build (available: %s)", name,
			 avail);
		return -ENOENT;
	}
	r = (*ops)->open(colon ? colon + 1 : "", be, err, err_len);
	if (r < 0)
		*be = NULL;
	else
		(*be)->ops = *ops;
	return r;
}
