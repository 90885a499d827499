/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Mirroring to probes for the XDP engine (xdp_mirror.h).
 *
 * Why a tc classifier of our own (libbpf's bpf_tc_* API) rather than tc
 * flower + mirred through libnl: the copy must follow the policy's zones,
 * i.e. a longest-prefix match of both addresses over every zone prefix
 * (nested prefixes of different zones included); flower matches one
 * prefix per filter, so a probe would need one filter per (prefix,
 * direction) and the zone of a nested prefix would need priorities to
 * express "longest wins". An LPM trie in a small BPF program matches the
 * way the XDP program does, and its maps are filled before the program is
 * swapped in, so a policy change switches the mirror in one filter
 * replace per interface. XDP_REDIRECT/devmap broadcast from the XDP
 * program was not used for allowed packets: the original must continue to
 * the stack, which XDP cannot do while also copying (no clone at XDP).
 *
 * Denied packets (`traffic: all`) are refused: the XDP program drops them
 * before tc runs, and copying them from the XDP program would add to a
 * call chain already at the verifier's 512-byte stack limit. A probe with
 * `traffic: all` is refused at prepare, naming it (docs/xdp-engine.md).
 *
 * Read-back: the program on our (handle, priority) of each interface's
 * clsact ingress is found with bpf_tc_query; its tag must be this build's
 * zw_mirror and its maps must hold exactly the entries the image gives.
 * Both sides are rendered as text lines, sorted and compared (as the
 * nftables engine does its mirror table).
 */
#include <errno.h>
#include <stdarg.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <zonewall/policy.h>

#include "xdp_mirror.h"
#include "zw_mirror.skel.h"
#include "zw_mirror_abi.h"

/* One map entry the image gives. */
struct ment {
	int map; /* index into map_names */
	uint8_t key[20], val[8];
	uint8_t klen, vlen;
};

static const char *const map_names[] = {"zw_m_zones4", "zw_m_zones6",
					"zw_m_watch", "zw_m_probes"};
enum { M_Z4, M_Z6, M_WATCH, M_PROBES, M__N };

struct xdp_mirror_ticket {
	bool probes; /* the image has probes: attach, else detach */
	struct zw_mirror_bpf *skel;
	struct ment *e;
	size_t n_e;
};

struct lines {
	char **v;
	size_t n;
	bool oom;
};

static void add_line(struct lines *l, char *s)
{
	char **nv;

	if (!s) {
		l->oom = true;
		return;
	}
	nv = realloc(l->v, (l->n + 1) * sizeof(char *));
	if (!nv) {
		free(s);
		l->oom = true;
		return;
	}
	nv[l->n++] = s;
	l->v = nv;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *entry_line(const char *ifname, const char *map,
			const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	char *s = malloc(strlen(ifname) + strlen(map) + 2 * (kl + vl) + 8);
	size_t o;

	if (!s)
		return NULL;
	o = (size_t)sprintf(s, "%s: %s ", ifname, map);
	for (size_t i = 0; i < kl; i++)
		o += (size_t)sprintf(s + o, "%02x", k[i]);
	s[o++] = '=';
	for (size_t i = 0; i < vl; i++)
		o += (size_t)sprintf(s + o, "%02x", v[i]);
	s[o] = '\0';
	return s;
}

static int push(struct xdp_mirror_ticket *t, int map, const void *k,
		size_t kl, const void *v, size_t vl)
{
	struct ment *ne;

	if (kl > sizeof(ne->key) || vl > sizeof(ne->val))
		return -EINVAL;
	ne = realloc(t->e, (t->n_e + 1) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	t->e = ne;
	ne = &t->e[t->n_e++];
	memset(ne, 0, sizeof(*ne));
	ne->map = map;
	memcpy(ne->key, k, kl);
	memcpy(ne->val, v, vl);
	ne->klen = (uint8_t)kl;
	ne->vlen = (uint8_t)vl;
	return 0;
}

/* The entries @img gives, into @t. */
static int entries(const struct zw_image *img, struct xdp_mirror_ticket *t)
{
	uint64_t *mask = calloc(img->n_zones ? img->n_zones : 1, sizeof(*mask));
	uint32_t ifx[ZW_M_MAX_PROBES] = {0};
	int rc = 0;

	if (!mask)
		return -ENOMEM;
	for (uint32_t i = 0; i < img->n_probes && i < ZW_M_MAX_PROBES; i++) {
		const struct zw_img_probe *p = &img->probes[i];

		for (uint32_t z = p->first; z < p->first + p->count; z++)
			if (img->probe_zones[z].zone < img->n_zones)
				mask[img->probe_zones[z].zone] |= 1ULL << i;
		ifx[i] = if_nametoindex(zw_image__str(img, p->interface));
	}
	for (uint32_t i = 0; i < img->n_prefix4 && !rc; i++) {
		struct zw_m_key4 k = {.prefixlen = img->prefix4[i].len};
		uint32_t z = img->prefix4[i].zone;

		memcpy(k.addr, img->prefix4[i].addr, 4);
		rc = push(t, M_Z4, &k, sizeof(k), &z, sizeof(z));
	}
	for (uint32_t i = 0; i < img->n_prefix6 && !rc; i++) {
		struct zw_m_key6 k = {.prefixlen = img->prefix6[i].len};
		uint32_t z = img->prefix6[i].zone;

		memcpy(k.addr, img->prefix6[i].addr, 16);
		rc = push(t, M_Z6, &k, sizeof(k), &z, sizeof(z));
	}
	for (uint32_t i = 0; i < (img->n_zones ? img->n_zones : 1) && !rc; i++)
		rc = push(t, M_WATCH, &i, sizeof(i), &mask[i], sizeof(mask[i]));
	for (uint32_t i = 0; i < ZW_M_MAX_PROBES && !rc; i++)
		rc = push(t, M_PROBES, &i, sizeof(i), &ifx[i], sizeof(ifx[i]));
	free(mask);
	return rc;
}

void xdp_mirror__abort(struct xdp_mirror_ticket *t)
{
	if (!t)
		return;
	zw_mirror_bpf__destroy(t->skel);
	free(t->e);
	free(t);
}

static struct bpf_map *skel_map(struct zw_mirror_bpf *s, int m)
{
	switch (m) {
	case M_Z4: return s->maps.zw_m_zones4;
	case M_Z6: return s->maps.zw_m_zones6;
	case M_WATCH: return s->maps.zw_m_watch;
	default: return s->maps.zw_m_probes;
	}
}

int xdp_mirror__prepare(struct xdp_mirror *m, const struct zw_image *img,
			char (*ifaces)[16], int n, struct xdp_mirror_ticket **out,
			char *err, size_t err_len)
{
	struct xdp_mirror_ticket *t = calloc(1, sizeof(*t));
	int rc;

	(void)m;
	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->probes = img && img->n_probes;
	if (!t->probes) {
		*out = t;
		return 0;
	}
	for (uint32_t i = 0; i < img->n_probes; i++) {
		const struct zw_img_probe *p = &img->probes[i];
		const char *name = zw_image__str(img, p->name);
		const char *dev = zw_image__str(img, p->interface);

		rc = -EOPNOTSUPP;
		if (p->flags & ZW_IMG_PROBE_DENIED) {
			snprintf(err, err_len,
				 "probe '%s' (interface %s): traffic: all cannot be mirrored by the XDP engine (the XDP program drops denied packets before anything can copy them); use traffic: allowed, or the nft engine",
				 name, dev);
			goto err;
		}
		rc = -ENODEV;
		if (!if_nametoindex(dev)) {
			snprintf(err, err_len, "probe '%s': interface %s does not exist",
				 name, dev);
			goto err;
		}
		rc = -EINVAL;
		for (int j = 0; j < n; j++)
			if (!strcmp(ifaces[j], dev)) {
				snprintf(err, err_len,
					 "probe '%s': interface %s is an enforced interface",
					 name, dev);
				goto err;
			}
	}
	if (img->n_probes > ZW_M_MAX_PROBES) {
		rc = -E2BIG;
		snprintf(err, err_len, "more than %d probes", ZW_M_MAX_PROBES);
		goto err;
	}
	rc = entries(img, t);
	if (rc)
		goto oom;
	t->skel = zw_mirror_bpf__open();
	if (!t->skel) {
		rc = -errno;
		snprintf(err, err_len, "probes: cannot open the mirror program: %s",
			 strerror(errno));
		goto err;
	}
	bpf_map__set_max_entries(t->skel->maps.zw_m_zones4,
				 img->n_prefix4 ? img->n_prefix4 : 1);
	bpf_map__set_max_entries(t->skel->maps.zw_m_zones6,
				 img->n_prefix6 ? img->n_prefix6 : 1);
	bpf_map__set_max_entries(t->skel->maps.zw_m_watch,
				 img->n_zones ? img->n_zones : 1);
	rc = zw_mirror_bpf__load(t->skel);
	if (rc) {
		snprintf(err, err_len, "probes: cannot load the mirror program: %s",
			 strerror(-rc));
		goto err;
	}
	for (size_t i = 0; i < t->n_e; i++) {
		const struct ment *e = &t->e[i];

		if (bpf_map__update_elem(skel_map(t->skel, e->map), e->key,
					 e->klen, e->val, e->vlen, BPF_ANY)) {
			rc = -errno;
			snprintf(err, err_len, "probes: cannot fill %s: %s",
				 map_names[e->map], strerror(errno));
			goto err;
		}
	}
	*out = t;
	return 0;
oom:
	snprintf(err, err_len, "out of memory");
err:
	xdp_mirror__abort(t);
	return rc;
}

static int tc_hook(const char *ifname, struct bpf_tc_hook *h)
{
	int ifx = (int)if_nametoindex(ifname);

	if (!ifx)
		return -ENODEV;
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifx;
	h->attach_point = BPF_TC_INGRESS;
	return 0;
}

/* libbpf prints the kernel's "Parent Qdisc doesn't exists" when an
 * interface has no clsact qdisc, the normal case without probes and at
 * every watch check then: queries and removals run with its printing off
 * (zonewalld is single-threaded). */
static int quiet_print(enum libbpf_print_level l, const char *f, va_list a)
{
	(void)l, (void)f, (void)a;
	return 0;
}

/* Our classifier's program id on @ifname, 0 when there is none. */
static uint32_t attached_id(const char *ifname)
{
	struct bpf_tc_hook h;
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = ZW_M_TC_HANDLE,
		    .priority = ZW_M_TC_PRIO);
	libbpf_print_fn_t old;
	int rc;

	if (tc_hook(ifname, &h))
		return 0;
	old = libbpf_set_print(quiet_print);
	rc = bpf_tc_query(&h, &o);
	libbpf_set_print(old);
	return rc ? 0 : o.prog_id;
}

static int detach(const char *ifname)
{
	struct bpf_tc_hook h;
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = ZW_M_TC_HANDLE,
		    .priority = ZW_M_TC_PRIO);
	libbpf_print_fn_t old;
	int rc;

	if (tc_hook(ifname, &h))
		return 0; /* gone with its interface */
	old = libbpf_set_print(quiet_print);
	rc = bpf_tc_detach(&h, &o);
	libbpf_set_print(old);
	return rc == -ENOENT || rc == -EINVAL ? 0 : rc;
}

int xdp_mirror__commit(struct xdp_mirror *m, char (*ifaces)[16], int n,
		       struct xdp_mirror_ticket *t, char *err, size_t err_len)
{
	int rc = 0;

	for (int i = 0; i < n && !rc; i++) {
		struct bpf_tc_hook h;
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = ZW_M_TC_HANDLE,
			    .priority = ZW_M_TC_PRIO, .flags = BPF_TC_F_REPLACE);

		if (!t->probes) {
			rc = detach(ifaces[i]);
			if (rc)
				snprintf(err, err_len, "%s: cannot remove the mirror to probes: %s",
					 ifaces[i], strerror(-rc));
			continue;
		}
		rc = tc_hook(ifaces[i], &h);
		if (!rc) {
			/* quiet: an existing qdisc is reported as an error */
			libbpf_print_fn_t old = libbpf_set_print(quiet_print);

			rc = bpf_tc_hook_create(&h);
			libbpf_set_print(old);
			if (rc == -EEXIST)
				rc = 0;
		}
		if (!rc) {
			o.prog_fd = bpf_program__fd(t->skel->progs.zw_mirror);
			rc = bpf_tc_attach(&h, &o);
		}
		if (rc)
			snprintf(err, err_len, "%s: cannot attach the mirror to probes (tc ingress): %s",
				 ifaces[i], strerror(-rc));
	}
	/* the filters hold the program and its maps: the skeleton can go */
	xdp_mirror__abort(t);
	m->fp_known = false;
	if (!rc)
		xdp_mirror__check(m, ifaces, n); /* our own change: start here */
	return rc;
}

int xdp_mirror__destroy(struct xdp_mirror *m, char (*ifaces)[16], int n,
			char *err, size_t err_len)
{
	m->fp_known = false;
	for (int i = 0; i < n; i++) {
		int rc = detach(ifaces[i]);

		if (rc) {
			snprintf(err, err_len, "%s: cannot remove the mirror to probes: %s",
				 ifaces[i], strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Tag and map ids of program @id. */
static int prog_info(uint32_t id, uint8_t tag[8], uint32_t *map_ids,
		     uint32_t *n_maps, char name[16])
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), cap = *n_maps;
	int fd = bpf_prog_get_fd_by_id(id), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = cap;
	info.map_ids = (uint64_t)(uintptr_t)map_ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		rc = -errno;
	else {
		memcpy(tag, info.tag, 8);
		memcpy(name, info.name, 16);
		name[15] = '\0';
		*n_maps = info.nr_map_ids < cap ? info.nr_map_ids : cap;
	}
	close(fd);
	return rc;
}

/* Every entry of map @fd (a zw_m_* map) as lines. */
static void dump_map(int fd, const char *ifname, const char *map,
		     const struct bpf_map_info *mi, struct lines *l)
{
	uint8_t k[64], nk[64], v[64];
	void *prev = NULL;

	if (mi->key_size > sizeof(k) || mi->value_size > sizeof(v)) {
		add_line(l, strdup("unexpected map"));
		return;
	}
	while (!bpf_map_get_next_key(fd, prev, nk)) {
		memcpy(k, nk, mi->key_size);
		prev = k;
		if (bpf_map_lookup_elem(fd, k, v))
			continue;
		add_line(l, entry_line(ifname, map, k, mi->key_size, v,
				       mi->value_size));
	}
}

/* What the interfaces hold: one "IF: program NAME TAG" line and the
 * entries of its maps, or "IF: no mirror classifier". */
static int live_lines(char (*ifaces)[16], int n, struct lines *l)
{
	for (int i = 0; i < n; i++) {
		uint32_t id = attached_id(ifaces[i]), ids[8], n_maps = 8;
		uint8_t tag[8];
		char name[16], line[96];

		if (!id) {
			snprintf(line, sizeof(line), "%s: no mirror classifier", ifaces[i]);
			add_line(l, strdup(line));
			continue;
		}
		if (prog_info(id, tag, ids, &n_maps, name)) {
			snprintf(line, sizeof(line), "%s: program %u unreadable", ifaces[i], id);
			add_line(l, strdup(line));
			continue;
		}
		snprintf(line, sizeof(line),
			 "%s: program %s %02x%02x%02x%02x%02x%02x%02x%02x", ifaces[i],
			 name, tag[0], tag[1], tag[2], tag[3], tag[4], tag[5], tag[6],
			 tag[7]);
		add_line(l, strdup(line));
		for (uint32_t j = 0; j < n_maps; j++) {
			struct bpf_map_info mi;
			uint32_t ml = sizeof(mi);
			int fd = bpf_map_get_fd_by_id(ids[j]);

			if (fd < 0)
				continue;
			memset(&mi, 0, sizeof(mi));
			if (!bpf_obj_get_info_by_fd(fd, &mi, &ml)) {
				bool ours = false;

				for (int k = 0; k < M__N; k++)
					ours |= !strcmp(mi.name, map_names[k]);
				/* .rodata and the like are not ours to judge */
				if (ours)
					dump_map(fd, ifaces[i], mi.name, &mi, l);
			}
			close(fd);
		}
	}
	return l->oom ? -ENOMEM : 0;
}

int xdp_mirror__check(struct xdp_mirror *m, char (*ifaces)[16], int n)
{
	struct lines l = {0};
	uint64_t fp = 0;
	bool same;
	int rc = live_lines(ifaces, n, &l);

	if (rc) {
		lines_free(&l);
		return rc;
	}
	qsort(l.v, l.n, sizeof(char *), strp_cmp);
	for (size_t i = 0; i < l.n; i++)
		fp = fp * 1099511628211ULL ^ zw_fnv1a64(l.v[i], strlen(l.v[i]));
	lines_free(&l);
	same = m->fp_known && fp == m->fp;
	m->fp = fp;
	m->fp_known = true;
	return !same;
}

int xdp_mirror__drift(struct xdp_mirror *m, const struct zw_image *img,
		      char (*ifaces)[16], int n, char **drift)
{
	struct xdp_mirror_ticket *t = NULL;
	struct lines want = {0}, have = {0};
	char err[256];
	size_t len = *drift ? strlen(*drift) : 0;
	int rc;

	rc = xdp_mirror__prepare(m, img, ifaces, n, &t, err, sizeof(err));
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		/* what a commit would refuse now is a drift of what was
		 * committed: a probe interface gone */
		char *nd = realloc(*drift, len + strlen(err) + 32);

		if (!nd)
			return -ENOMEM;
		sprintf(nd + len, "mirror to probes: %s\n", err);
		*drift = nd;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		char line[96];

		if (!t->probes) {
			snprintf(line, sizeof(line), "%s: no mirror classifier", ifaces[i]);
			add_line(&want, strdup(line));
			continue;
		}
		uint32_t id = 0;
		uint8_t tag[8];
		char name[16];
		struct bpf_prog_info info;
		uint32_t il = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(t->skel->progs.zw_mirror),
					   &info, &il) == 0) {
			id = info.id;
			memcpy(tag, info.tag, 8);
			memcpy(name, info.name, 16);
			name[15] = '\0';
		}
		if (!id) {
			rc = -errno;
			goto out;
		}
		snprintf(line, sizeof(line),
			 "%s: program %s %02x%02x%02x%02x%02x%02x%02x%02x", ifaces[i],
			 name, tag[0], tag[1], tag[2], tag[3], tag[4], tag[5], tag[6],
			 tag[7]);
		add_line(&want, strdup(line));
		for (size_t j = 0; j < t->n_e; j++)
			add_line(&want, entry_line(ifaces[i], map_names[t->e[j].map],
						   t->e[j].key, t->e[j].klen,
						   t->e[j].val, t->e[j].vlen));
	}
	rc = live_lines(ifaces, n, &have);
	if (!rc && want.oom)
		rc = -ENOMEM;
	if (rc)
		goto out;
	qsort(want.v, want.n, sizeof(char *), strp_cmp);
	qsort(have.v, have.n, sizeof(char *), strp_cmp);
	for (size_t i = 0, j = 0; i < want.n || j < have.n;) {
		int c = i == want.n ? 1 : j == have.n ? -1 : strcmp(want.v[i], have.v[j]);
		const char *s;
		char *nd;

		if (!c) {
			i++, j++;
			continue;
		}
		s = c < 0 ? want.v[i++] : have.v[j++];
		nd = realloc(*drift, len + strlen(s) + 64);
		if (!nd) {
			rc = -ENOMEM;
			goto out;
		}
		len += (size_t)sprintf(nd + len, "mirror to probes: %s %s\n",
				       c < 0 ? "missing" : "not ours", s);
		*drift = nd;
	}
out:
	lines_free(&want);
	lines_free(&have);
	xdp_mirror__abort(t);
	return rc;
}
