/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's mirror to probes (dataplane/bpf/xdp_mirror.c) through
 * the backend, in a network namespace of its own (lo and a veth
 * interface enforced, a veth probe interface); the copies themselves are
 * tests/netns/mirror_xdp.sh's:
 *  - prepare refuses, naming the probe and changing nothing: traffic: all,
 *    a probe interface that does not exist, an enforced interface as probe;
 *  - commit puts one zw_mirror classifier (tc ingress, our handle and
 *    priority) on every enforced interface; read-back finds no drift and
 *    the watch's check sees no change;
 *  - a map entry changed by hand and the classifier removed by hand are
 *    drift (named), seen by the check; a commit repairs them;
 *  - a matrix without probes removes the classifiers; so does destroy.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "harness.h"
#include "xdp.h"
#include "zw_mirror_abi.h"

static int failures;

#define CHECK(c, ...)                                                     \
	do {                                                              \
		if (!(c)) {                                               \
			failures++;                                       \
			fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #c); \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)

static char *matrix(const char *probe)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "zonewall: 1\nname: mirror-test\nzones:\n"
		 "  ops: {kind: operations, networks: [10.1.0.0/24], isolate: true}\n"
		 "  jump: {kind: servers, networks: [10.2.0.0/24, \"fd00:2::/64\"]}\n"
		 "  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
		 "  upd: {kind: update, networks: [10.4.0.0/24]}\n"
		 "  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
		 "  xchg: {kind: provider-exchange, networks: [10.6.0.0/16, \"fd00:6::/64\"]}\n"
		 "flows:\n"
		 "  - {id: X1, from: xchg, to: jump, services: [icmp-echo], justification: j}\n"
		 "%s",
		 probe);
	return buf;
}

/* Our classifier's program id on @ifname, 0 when none. */
static uint32_t mirror_id(const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = (int)if_nametoindex(ifname),
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = ZW_M_TC_HANDLE,
		    .priority = ZW_M_TC_PRIO);

	return bpf_tc_query(&h, &o) ? 0 : o.prog_id;
}

/* fd of the map named @name of program @id, or -1. */
static int prog_map(uint32_t id, const char *name)
{
	struct bpf_prog_info info;
	uint32_t ids[8], len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), found = -1;

	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 8;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (uint32_t i = 0; i < info.nr_map_ids && i < 8 && found < 0; i++) {
			struct bpf_map_info mi;
			uint32_t ml = sizeof(mi);
			int m = bpf_map_get_fd_by_id(ids[i]);

			memset(&mi, 0, sizeof(mi));
			if (m >= 0 && !bpf_obj_get_info_by_fd(m, &mi, &ml) &&
			    !strcmp(mi.name, name))
				found = m;
			else if (m >= 0)
				close(m);
		}
	close(fd);
	return found;
}

static int apply(struct zw_backend *be, const struct zw_image *img, char *err,
		 size_t len)
{
	struct zw_ticket *t = NULL;
	int rc = zw_backend_xdp.prepare(be, img, 0, &t, err, len);

	return rc ? rc : zw_backend_xdp.commit(be, t, err, len);
}

static char *drift_of(struct zw_backend *be, const struct zw_image *img)
{
	struct zw_backend_state st;
	char *d = NULL;

	if (zw_backend_xdp.read_back(be, img, &st))
		return strdup("read-back failed");
	if (st.drift)
		d = strdup(st.drift);
	zw_backend_state__fini(&st);
	return d;
}

static void refused(struct zw_backend *be, const char *probe,
		    const char *want)
{
	struct zw_image *img = zwt_image_of_text(matrix(probe), "mirror-test", NULL);
	struct zw_ticket *t = NULL;
	char err[512] = "";

	CHECK(zw_backend_xdp.prepare(be, img, 0, &t, err, sizeof(err)) != 0 &&
		      !t && strstr(err, want),
	      "refused naming it (%s): %s", want, err);
	CHECK(!mirror_id("lo") && !mirror_id("zwe0"), "nothing installed");
	zw_image__free(img);
}

int main(void)
{
	struct zw_image *allowed, *none;
	struct zw_backend *be = NULL;
	struct zw_xdp *x;
	char dir[512], arg[700], err[512] = "", *d;
	uint32_t id;
	int fd;

	zwt_require_bpf("bpf-mirror");
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "bpf-mirror: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	if (system("ip link set lo up && ip link add zwe0 type veth peer name zwe1 && "
		   "ip link set zwe0 up && ip link add zwp0 type veth peer name zwp1 && "
		   "ip link set zwp0 up")) {
		fprintf(stderr, "bpf-mirror: cannot create veth interfaces\n");
		return 1;
	}
	x = zwt_instance_new(dir, sizeof(dir));
	snprintf(arg, sizeof(arg), "lo,zwe0,dir=%s,mode=generic,l7=off", dir);
	if (zw_backend_xdp.open(arg, &be, err, sizeof(err))) {
		fprintf(stderr, "bpf-mirror: open: %s\n", err);
		return 1;
	}

	refused(be, "probes:\n  ids: {interface: zwp0, zones: [xchg], traffic: all}\n",
		"probe 'ids' (interface zwp0): traffic: all cannot be mirrored");
	refused(be, "probes:\n  ids: {interface: nosuch0, zones: [xchg], traffic: allowed}\n",
		"probe 'ids': interface nosuch0 does not exist");
	refused(be, "probes:\n  ids: {interface: zwe0, zones: [xchg], traffic: allowed}\n",
		"probe 'ids': interface zwe0 is an enforced interface");

	allowed = zwt_image_of_text(
		matrix("probes:\n  ids: {interface: zwp0, zones: [xchg], traffic: allowed}\n"),
		"mirror-test", NULL);
	none = zwt_image_of_text(matrix(""), "mirror-test", NULL);
	CHECK(apply(be, allowed, err, sizeof(err)) == 0, "commit: %s", err);
	id = mirror_id("lo");
	CHECK(id && id == mirror_id("zwe0"),
	      "one zw_mirror program on both enforced interfaces (%u, %u)", id,
	      mirror_id("zwe0"));
	CHECK(!mirror_id("zwp0"), "none on the probe");
	d = drift_of(be, allowed);
	CHECK(!d, "no drift after commit: %s", d);
	free(d);
	CHECK(zw_backend_xdp.check(be) == 0 && zw_backend_xdp.check(be) == 0,
	      "the watch sees no change");

	/* the probe's interface cleared by hand in zw_m_probes */
	fd = prog_map(id, "zw_m_probes");
	CHECK(fd >= 0, "zw_m_probes of program %u", id);
	if (fd >= 0) {
		uint32_t k = 0, v = 0, was = 0;

		CHECK(!bpf_map_lookup_elem(fd, &k, &was) &&
			      was == if_nametoindex("zwp0"),
		      "probe 0 goes to zwp0 (%u)", was);
		CHECK(!bpf_map_update_elem(fd, &k, &v, BPF_ANY), "map changed");
		close(fd);
	}
	CHECK(zw_backend_xdp.check(be) == 1, "the watch sees the map changed");
	d = drift_of(be, allowed);
	CHECK(d && strstr(d, "mirror to probes: missing lo: zw_m_probes") &&
		      strstr(d, "mirror to probes: not ours lo: zw_m_probes"),
	      "the changed entry is drift: %s", d);
	free(d);
	CHECK(apply(be, allowed, err, sizeof(err)) == 0, "repair: %s", err);
	d = drift_of(be, allowed);
	CHECK(!d, "repaired: %s", d);
	free(d);

	/* the classifier removed by hand */
	{
		LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = (int)if_nametoindex("zwe0"),
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = ZW_M_TC_HANDLE,
			    .priority = ZW_M_TC_PRIO);

		CHECK(bpf_tc_detach(&h, &o) == 0, "detached by hand");
	}
	CHECK(zw_backend_xdp.check(be) == 1, "the watch sees it");
	d = drift_of(be, allowed);
	CHECK(d && strstr(d, "not ours zwe0: no mirror classifier") &&
		      strstr(d, "missing zwe0: program zw_mirror"),
	      "the removal is drift: %s", d);
	free(d);
	CHECK(apply(be, allowed, err, sizeof(err)) == 0 && mirror_id("zwe0"),
	      "repair: %s", err);

	/* without probes: removed; with a drift if one comes back */
	CHECK(apply(be, none, err, sizeof(err)) == 0, "commit without probes: %s", err);
	CHECK(!mirror_id("lo") && !mirror_id("zwe0"), "classifiers removed");
	d = drift_of(be, none);
	CHECK(!d, "no drift without probes: %s", d);
	free(d);

	/* destroy */
	CHECK(apply(be, allowed, err, sizeof(err)) == 0 && mirror_id("lo"),
	      "commit again: %s", err);
	CHECK(zw_backend_xdp.destroy(be, err, sizeof(err)) == 0, "destroy: %s", err);
	CHECK(!mirror_id("lo") && !mirror_id("zwe0"), "destroy removes the classifiers");

	zw_backend_xdp.close(be);
	zwt_instance_free(x);
	zw_image__free(allowed);
	zw_image__free(none);
	if (failures) {
		fprintf(stderr, "bpf-mirror: %d failure(s)\n", failures);
		return 1;
	}
	printf("bpf-mirror: ok\n");
	return 0;
}
