/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The appliance as it is, for the audit (audit.h): the links and the main
 * routing table of the daemon's network namespace, read with libnl, set
 * against the zones of the active matrix. A zone network the kernel has no
 * route for cannot be reached; a route to a network no zone declares
 * carries traffic every engine judges as "outside"; a zone reachable
 * through two interfaces means a path around the declared partition may
 * exist; an enforced interface that is missing or down enforces nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

#ifdef ZW_HAVE_LIBNL
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

struct route {
	struct zw_prefix dst;
	char devs[128]; /* "eth0" or "eth0 eth1" (multipath) */
};

struct ns {
	struct nl_sock *sk;
	struct nl_cache *links, *routes;
	struct route *r;
	size_t n;
};

static void ns_fini(struct ns *ns)
{
	if (ns->routes)
		nl_cache_free(ns->routes);
	if (ns->links)
		nl_cache_free(ns->links);
	if (ns->sk)
		nl_socket_free(ns->sk);
	free(ns->r);
	memset(ns, 0, sizeof(*ns));
}

/* Routes that say where a network is: unicast routes of the main table,
 * not the default route, not link-local or multicast. */
static bool interesting(const struct zw_prefix *p)
{
	if (p->len == 0)
		return false;
	if (p->family == 4)
		return p->addr[0] != 127 && p->addr[0] < 224;
	return !(p->addr[0] == 0xfe && (p->addr[1] & 0xc0) == 0x80) &&
	       p->addr[0] != 0xff;
}

static int ns_read(struct ns *ns, char *err, size_t len)
{
	struct nl_object *o;
	size_t cap = 0;
	int r;

	memset(ns, 0, sizeof(*ns));
	ns->sk = nl_socket_alloc();
	if (!ns->sk)
		return -ENOMEM;
	if ((r = nl_connect(ns->sk, NETLINK_ROUTE)) < 0 ||
	    (r = rtnl_link_alloc_cache(ns->sk, AF_UNSPEC, &ns->links)) < 0 ||
	    (r = rtnl_route_alloc_cache(ns->sk, AF_UNSPEC, 0, &ns->routes)) < 0) {
		snprintf(err, len, "cannot read links and routes: %s",
			 nl_geterror(r));
		ns_fini(ns);
		return -EIO;
	}
	for (o = nl_cache_get_first(ns->routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);
		struct route x = {0};
		size_t used = 0;

		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
		    rtnl_route_get_type(rt) != RTN_UNICAST || !dst)
			continue;
		x.dst.family = nl_addr_get_family(dst) == AF_INET6 ? 6 : 4;
		x.dst.len = (uint8_t)nl_addr_get_prefixlen(dst);
		if (nl_addr_get_len(dst) > 16)
			continue;
		memcpy(x.dst.addr, nl_addr_get_binary_addr(dst),
		       nl_addr_get_len(dst));
		if (!interesting(&x.dst))
			continue;
		for (int k = 0; k < rtnl_route_get_nnexthops(rt); k++) {
			struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, k);
			char name[IF_NAMESIZE + 1] = "?";

			rtnl_link_i2name(ns->links, rtnl_route_nh_get_ifindex(nh),
					 name, sizeof(name));
			used += (size_t)snprintf(x.devs + used,
						 used < sizeof(x.devs)
							 ? sizeof(x.devs) - used
							 : 0,
						 "%s%s", k ? " " : "", name);
			if (used >= sizeof(x.devs))
				break;
		}
		if (ns->n == cap) {
			struct route *nr;

			cap = cap ? cap * 2 : 32;
			nr = realloc(ns->r, cap * sizeof(*nr));
			if (!nr) {
				ns_fini(ns);
				return -ENOMEM;
			}
			ns->r = nr;
		}
		ns->r[ns->n++] = x;
	}
	return 0;
}

/* The zone of @m declaring a network that overlaps @p, or -1. */
static int zone_of(const struct zw_matrix *m, const struct zw_prefix *p)
{
	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t k = 0; k < m->zones[z].n_networks; k++)
			if (zw_prefix__overlap(&m->zones[z].networks[k], p))
				return (int)z;
	return -1;
}

/* Add each word of @devs to the space-separated set @set (size @len). */
static void add_words(char *set, size_t len, const char *devs)
{
	char buf[128], *save = NULL, *w;

	snprintf(buf, sizeof(buf), "%s", devs);
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char pat[140];
		size_t n = strlen(set);

		snprintf(pat, sizeof(pat), " %s ", w);
		{
			char padded[600];

			snprintf(padded, sizeof(padded), " %s ", set);
			if (strstr(padded, pat))
				continue;
		}
		snprintf(set + n, len > n ? len - n : 0, "%s%s", n ? " " : "", w);
	}
}

json_t *zwd_appliance__check(struct zwd_audit *a, const struct zw_matrix *m,
			     const char *const *ifaces, size_t n_ifaces)
{
	json_t *out = json_object(), *routes = json_array(),
	       *links = json_array(), *zones = json_array();
	char err[256], buf[64];
	struct ns ns;

	if (!out || !routes || !links || !zones)
		goto oom;
	if (ns_read(&ns, err, sizeof(err)) < 0) {
		zwd_audit__missing(a, "appliance", "%s", err);
		json_decref(routes);
		json_decref(links);
		json_decref(zones);
		json_object_set_new(out, "checked", json_false());
		json_object_set_new(out, "why", json_string(err));
		return out;
	}
	for (struct nl_object *o = nl_cache_get_first(ns.links); o;
	     o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const char *name = rtnl_link_get_name(l);
		bool enforced = false;

		for (size_t i = 0; i < n_ifaces; i++)
			enforced |= !strcmp(ifaces[i], name);
		json_array_append_new(
			links, json_pack("{s:s, s:b, s:b}", "name", name, "up",
					 !!(rtnl_link_get_flags(l) & IFF_UP),
					 "enforced", enforced));
	}
	for (size_t i = 0; i < ns.n; i++) {
		int z = zone_of(m, &ns.r[i].dst);

		zw_prefix__format(&ns.r[i].dst, buf);
		json_array_append_new(routes,
				      json_pack("{s:s, s:s, s:s?}", "dst", buf,
						"dev", ns.r[i].devs, "zone",
						z > 0 ? m->zones[z].name : NULL));
		if (z < 0) {
			json_t *f = zwd_audit__add(
				a, false, "appliance", "medium",
				"route-undeclared", buf,
				"route to %s (dev %s): no zone declares this "
				"network, so traffic to it is judged as 'outside'",
				buf, ns.r[i].devs);

			json_object_set_new(f, "engine_text",
					    json_sprintf("%s dev %s", buf,
							 ns.r[i].devs));
		}
	}
	for (size_t z = 1; z < m->n_zones; z++) {
		char devs[512] = "";

		for (size_t k = 0; k < m->zones[z].n_networks; k++) {
			const struct zw_prefix *p = &m->zones[z].networks[k];
			char these[512] = "";

			for (size_t i = 0; i < ns.n; i++)
				if (zw_prefix__overlap(p, &ns.r[i].dst)) {
					add_words(these, sizeof(these), ns.r[i].devs);
					add_words(devs, sizeof(devs), ns.r[i].devs);
				}
			zw_prefix__format(p, buf);
			json_array_append_new(zones,
					      json_pack("{s:s, s:s, s:s}", "zone",
							m->zones[z].name, "network",
							buf, "interfaces", these));
			if (!*these)
				zwd_audit__add(a, false, "appliance", "medium",
					       "network-unrouted", m->zones[z].name,
					       "zone %s: network %s has no route on "
					       "this appliance",
					       m->zones[z].name, buf);
		}
		if (strchr(devs, ' '))
			zwd_audit__add(a, false, "appliance", "medium",
				       "zone-two-interfaces", m->zones[z].name,
				       "zone %s is reachable through several "
				       "interfaces (%s)",
				       m->zones[z].name, devs);
	}
	for (size_t i = 0; i < n_ifaces; i++) {
		struct rtnl_link *l = rtnl_link_get_by_name(ns.links, ifaces[i]);

		if (!l)
			zwd_audit__add(a, false, "appliance", "high",
				       "interface-missing", ifaces[i],
				       "enforced interface %s does not exist",
				       ifaces[i]);
		else if (!(rtnl_link_get_flags(l) & IFF_UP))
			zwd_audit__add(a, false, "appliance", "medium",
				       "interface-down", ifaces[i],
				       "enforced interface %s is down", ifaces[i]);
		if (l)
			rtnl_link_put(l);
	}
	ns_fini(&ns);
	json_object_set_new(out, "checked", json_true());
	json_object_set_new(out, "interfaces", links);
	json_object_set_new(out, "routes", routes);
	json_object_set_new(out, "zones", zones);
	return out;
oom:
	json_decref(out);
	json_decref(routes);
	json_decref(links);
	json_decref(zones);
	return NULL;
}

json_t *zwd_appliance__zone_ifaces(const struct zw_matrix *m)
{
	json_t *out = json_object();
	char err[256], buf[64];
	struct ns ns;

	if (!out || ns_read(&ns, err, sizeof(err)) < 0)
		return out;
	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t k = 0; k < m->zones[z].n_networks; k++) {
			const struct zw_prefix *p = &m->zones[z].networks[k];
			char these[512] = "";

			for (size_t i = 0; i < ns.n; i++)
				if (zw_prefix__overlap(p, &ns.r[i].dst))
					add_words(these, sizeof(these), ns.r[i].devs);
			json_object_set_new(out, zw_prefix__format(p, buf),
					    json_string(these));
		}
	ns_fini(&ns);
	return out;
}

#else /* no libnl in this build */

json_t *zwd_appliance__check(struct zwd_audit *a, const struct zw_matrix *m,
			     const char *const *ifaces, size_t n_ifaces)
{
	(void)m, (void)ifaces, (void)n_ifaces;
	zwd_audit__missing(a, "appliance",
			   "this build has no libnl: links and routes not read");
	return json_pack("{s:b, s:s}", "checked", 0, "why",
			 "this build has no libnl");
}

json_t *zwd_appliance__zone_ifaces(const struct zw_matrix *m)
{
	(void)m;
	return json_object();
}
#endif
