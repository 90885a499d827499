/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zw_backend_xdp: the XDP engine behind zonewalld's backend interface.
 * Argument: "IFACE[,IFACE...][,dir=BPFFS_DIR][,mode=auto|native|generic]".
 * Interfaces are attached at open() when the instance already enforces a
 * policy (re-attach after a restart), otherwise at the first apply() (so
 * an interface never runs the program before it has a policy: the
 * program would drop everything).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "xdp.h"

#define MAX_IFACES 32

struct zw_backend {
	struct zw_xdp *x;
	char ifaces[MAX_IFACES][16];
	const char *modes[MAX_IFACES];
	int n;
	enum zw_xdp_mode mode;
};

static int attach_all(struct zw_backend *be, char *err, size_t err_len)
{
	for (int i = 0; i < be->n; i++) {
		int rc = zw_xdp__attach(be->x, be->ifaces[i], be->mode,
					&be->modes[i], err, err_len);
		if (rc)
			return rc;
	}
	return 0;
}

static int xdp_open(const char *arg, struct zw_backend **out, char *err,
		    size_t err_len)
{
	struct zw_backend *be = calloc(1, sizeof(*be));
	char *copy = strdup(arg ? arg : ""), *tok, *save = NULL;
	const char *dir = NULL;
	struct zw_xdp_status st;
	int rc = -EINVAL;

	*out = NULL;
	if (!be || !copy) {
		rc = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto err;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "dir=", 4)) {
			dir = tok + 4;
		} else if (!strncmp(tok, "mode=", 5)) {
			if (!strcmp(tok + 5, "native"))
				be->mode = ZW_XDP_MODE_NATIVE;
			else if (!strcmp(tok + 5, "generic"))
				be->mode = ZW_XDP_MODE_GENERIC;
			else if (!strcmp(tok + 5, "auto"))
				be->mode = ZW_XDP_MODE_AUTO;
			else {
				snprintf(err, err_len, "xdp: mode must be auto, native or generic");
				goto err;
			}
		} else if (*tok) {
			if (be->n == MAX_IFACES || strlen(tok) >= 16) {
				snprintf(err, err_len, "xdp: too many interfaces or name too long: %s", tok);
				goto err;
			}
			snprintf(be->ifaces[be->n++], 16, "%s", tok);
		}
	}
	if (!be->n) {
		snprintf(err, err_len, "xdp: name at least one interface (xdp:IFACE[,IFACE...])");
		goto err;
	}
	rc = zw_xdp__open(dir, NULL, &be->x, err, err_len);
	if (rc)
		goto err;
	rc = zw_xdp__status(be->x, &st);
	if (!rc && st.generation)
		rc = attach_all(be, err, err_len);
	if (rc)
		goto err;
	free(copy);
	*out = be;
	return 0;
err:
	free(copy);
	if (be)
		zw_xdp__close(be->x);
	free(be);
	return rc;
}

static int xdp_apply(struct zw_backend *be, const struct zw_image *img,
		     int32_t day, char *err, size_t err_len)
{
	int rc = zw_xdp__apply(be->x, img, day, err, err_len);

	if (rc)
		return rc;
	return attach_all(be, err, err_len);
}

static int xdp_read_back(struct zw_backend *be, const struct zw_image *expected,
			 struct zw_backend_state *out)
{
	struct zw_xdp_status st;
	char *drift = NULL;
	size_t off = 0;
	int attached = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = zw_xdp__status(be->x, &st);
	if (rc)
		return rc;
	for (int i = 0; i < be->n; i++)
		for (uint32_t j = 0; j < st.n_links; j++)
			if (!strcmp(st.links[j].ifname, be->ifaces[i]) &&
			    strcmp(st.links[j].mode, "detached"))
				attached++;
	out->enforcing = st.generation != 0 && attached == be->n;
	memcpy(out->sha256, st.sha256, 32);
	off += (size_t)snprintf(out->detail, sizeof(out->detail),
				"xdp generation %u, %u/%u flows live on",
				st.generation, st.n_live, st.n_flows);
	for (uint32_t j = 0; j < st.n_links && off < sizeof(out->detail); j++)
		off += (size_t)snprintf(out->detail + off, sizeof(out->detail) - off,
					"%s %s (%s)", j ? "," : "",
					st.links[j].ifname, st.links[j].mode);
	if (expected) {
		drift = zw_xdp__drift(be->x, expected);
		if (!drift && errno)
			return -errno;
	}
	for (int i = 0; i < be->n; i++) {
		int ok = 0;

		for (uint32_t j = 0; j < st.n_links; j++)
			if (!strcmp(st.links[j].ifname, be->ifaces[i]) &&
			    strcmp(st.links[j].mode, "detached"))
				ok = 1;
		if (!ok) {
			size_t n = drift ? strlen(drift) : 0;
			char *nd = realloc(drift, n + 64);

			if (nd) {
				snprintf(nd + n, 64, "%s: not attached\n", be->ifaces[i]);
				drift = nd;
			}
		}
	}
	out->drift = drift;
	return 0;
}

static int xdp_counters(struct zw_backend *be, struct zw_flow_counters *out,
			uint32_t n_flows)
{
	return zw_xdp__counters(be->x, out, n_flows);
}

static char *xdp_describe_flow(const struct zw_image *img, uint32_t flow)
{
	return zw_xdp__describe_flow(img, flow);
}

static void xdp_close(struct zw_backend *be)
{
	if (!be)
		return;
	zw_xdp__close(be->x);
	free(be);
}

/* Clear: stop enforcing and remove the instance; the handle stays open
 * (a later apply re-installs everything). */
static int xdp_destroy(struct zw_backend *be)
{
	char err[256];

	return zw_xdp__destroy(be->x, err, sizeof(err));
}

const struct zw_backend_ops zw_backend_xdp = {
	.name = "xdp",
	.open = xdp_open,
	.apply = xdp_apply,
	.read_back = xdp_read_back,
	.counters = xdp_counters,
	.describe_flow = xdp_describe_flow,
	.close = xdp_close,
	.destroy = xdp_destroy,
};
