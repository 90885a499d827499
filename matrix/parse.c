/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Matrix parser: YAML (libyaml document API) to the typed model of
 * matrix.h. Every node keeps its line and column; unknown, duplicate and
 * missing keys, wrong types and out-of-range values are ZW001; references
 * to undeclared zones or services are ZW002; malformed prefixes ZW010. The
 * parser reports everything it finds and builds as much of the model as it
 * can so the validator can report more.
 */
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include <zonewall/matrix.h>

#include "internal.h"

/* Upper bounds that keep a hostile file from exhausting memory; far above
 * any real platform (the compiler's own limits are lower still). */
#define MAX_TEXT (64u << 20)
#define MAX_ZONES 4096
#define MAX_SERVICES 4096
#define MAX_FLOWS 100000
#define MAX_LIST 1000000
#define MAX_NODES 2000000
#define MAX_DEPTH 16

/* The keys each mapping may hold, in the order of the K_ enums below
 * (internal.h: the JSON Schema is generated from them, schema.c). */
const char *const zw_parse_keys_root[] = {"zonewall", "name",	  "profile",
					  "zones",    "services", "flows",
					  "probes",   NULL};
const char *const zw_parse_keys_zone[] = {"kind", "networks", "isolate",
					  "description", NULL};
const char *const zw_parse_keys_svc_entry[] = {"proto", "ports", "types",
					       "unsafe", "inspect", NULL};
const char *const zw_parse_keys_probe[] = {"interface", "zones", "traffic",
					   "description", NULL};
const char *const zw_parse_keys_flow[] = {
	"id",	   "from",	    "to",	    "src",    "dst",
	"services", "justification", "compensating", "review", "expires",
	"owner",    "log",	    "rate",	    NULL};

struct name_ref;

struct parser {
	yaml_document_t *doc;
	struct zw_diags *diags;
	struct zw_matrix *m;
	bool oom;
	/* sorted name indexes of zones and services, built before flows */
	struct name_ref *zone_ix, *svc_ix;
	size_t n_zone_ix, n_svc_ix;
	/* start offsets of the scalars tagged !!str, in document order */
	size_t *str_tagged;
	size_t n_str_tagged;
};

#define ERR(p, loc, code, ...)                                                 \
	zw_diags__add((p)->diags, ZW_ERROR, (code), (loc), __VA_ARGS__)

static struct zw_loc loc_of(const yaml_node_t *n)
{
	struct zw_loc l = {0, 0};

	if (n) {
		l.line = (uint32_t)n->start_mark.line + 1;
		l.col = (uint32_t)n->start_mark.column + 1;
	}
	return l;
}

static const char *node_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* A plain scalar: neither quoted nor tagged !!str (the pre-scan recorded
 * those, in document order). */
static bool plain(const struct parser *p, const yaml_node_t *n)
{
	size_t lo = 0, hi = p->n_str_tagged, at = n->start_mark.index;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->str_tagged[mid] == at)
			return false;
		if (p->str_tagged[mid] < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return true;
}

static bool is_null(const struct parser *p, const yaml_node_t *n)
{
	if (!plain(p, n))
		return false;
	const char *s = (const char *)n->data.scalar.value;

	return !*s || !strcmp(s, "~") || !strcmp(s, "null");
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool scalar_has_nul(const yaml_node_t *n)
{
	return strlen(scalar(n)) != n->data.scalar.length;
}

static char *xstrdup(struct parser *p, const char *s)
{
	char *d = strdup(s);

	if (!d)
		p->oom = true;
	return d;
}

/* ---- typed accessors; each reports its own ZW001 ---- */

static bool want(struct parser *p, const yaml_node_t *n, yaml_node_type_t t,
		 const char *what)
{
	if (n->type == t && !(t == YAML_SCALAR_NODE && scalar_has_nul(n)))
		return true;
	ERR(p, loc_of(n), 1, "%s must be %s, not %s", what,
	    t == YAML_SCALAR_NODE ? "a scalar"
	    : t == YAML_SEQUENCE_NODE ? "a list"
				      : "a mapping",
	    node_type_name(n));
	return false;
}

/* A string value; plain or quoted. Empty allowed. */
static bool get_string(struct parser *p, const yaml_node_t *n, const char *what,
		       const char **out)
{
	if (!want(p, n, YAML_SCALAR_NODE, what))
		return false;
	*out = is_null(p, n) ? "" : scalar(n);
	return true;
}

static bool get_bool(struct parser *p, const yaml_node_t *n, const char *what,
		     bool *out)
{
	if (!want(p, n, YAML_SCALAR_NODE, what))
		return false;
	if (plain(p, n)) {
		if (!strcmp(scalar(n), "true")) {
			*out = true;
			return true;
		}
		if (!strcmp(scalar(n), "false")) {
			*out = false;
			return true;
		}
	}
	if (!strcmp(scalar(n), "true") || !strcmp(scalar(n), "false"))
		ERR(p, loc_of(n), 1,
		    "%s must be the plain word true or false, not the string '%s' (quoted or tagged !!str)",
		    what, scalar(n));
	else
		ERR(p, loc_of(n), 1, "%s must be true or false, not '%s'", what,
		    scalar(n));
	return false;
}

/* A decimal integer in [lo, hi]; @allow_quoted accepts "22". */
static bool get_int(struct parser *p, const yaml_node_t *n, const char *what,
		    long lo, long hi, bool allow_quoted, long *out)
{
	const char *s;
	char *end;
	long v;

	if (!want(p, n, YAML_SCALAR_NODE, what))
		return false;
	s = scalar(n);
	if ((plain(p, n) || allow_quoted) &&
	    *s >= '0' && *s <= '9' && strlen(s) <= 9) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (!errno && !*end && v >= lo && v <= hi) {
			*out = v;
			return true;
		}
	}
	ERR(p, loc_of(n), 1, "%s must be an integer from %ld to %ld, not '%s'",
	    what, lo, hi, s);
	return false;
}

static bool get_date(struct parser *p, const yaml_node_t *n, const char *what,
		     int32_t *out)
{
	if (!want(p, n, YAML_SCALAR_NODE, what))
		return false;
	if (zw_date__parse(scalar(n), out) == 0)
		return true;
	ERR(p, loc_of(n), 1, "%s must be a date YYYY-MM-DD, not '%s'", what,
	    scalar(n));
	return false;
}

/*
 * Walk a mapping's keys against an allowed list: unknown and duplicate keys
 * are errors; found[i] receives the value node of keys[i] (or NULL).
 */
static bool walk_mapping(struct parser *p, const yaml_node_t *map,
			 const char *what, const char *const *keys,
			 yaml_node_t **found, struct zw_loc *key_locs)
{
	size_t nkeys = 0;

	while (keys[nkeys])
		nkeys++;
	for (size_t i = 0; i < nkeys; i++)
		found[i] = NULL;
	if (!want(p, map, YAML_MAPPING_NODE, what))
		return false;
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
		size_t i;

		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE || scalar_has_nul(k)) {
			ERR(p, loc_of(k), 1, "keys of %s must be plain names",
			    what);
			continue;
		}
		for (i = 0; i < nkeys; i++)
			if (!strcmp(scalar(k), keys[i]))
				break;
		if (i == nkeys) {
			ERR(p, loc_of(k), 1, "unknown key '%s' in %s", scalar(k),
			    what);
			continue;
		}
		if (found[i]) {
			ERR(p, loc_of(k), 1, "duplicate key '%s' in %s",
			    scalar(k), what);
			continue;
		}
		found[i] = v;
		if (key_locs)
			key_locs[i] = loc_of(k);
	}
	return true;
}

/* A name → index table, sorted for binary search (zones and services
 * referenced by many flows; duplicate detection in big mappings). */
struct name_ref {
	const char *name;
	size_t index;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int find_ref(const struct name_ref *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid].name, name);

		if (!c)
			return (int)v[mid].index;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Every key of a name → value mapping; duplicate names are errors. Returns
 * a malloc'd array telling, for each pair, whether it repeats an earlier
 * key (callers skip those), or NULL when memory ran out.
 */
static bool *check_unique_keys(struct parser *p, const yaml_node_t *map,
			       const char *what)
{
	size_t n = (size_t)(map->data.mapping.pairs.top -
			    map->data.mapping.pairs.start);
	struct name_ref *v = malloc((n + 1) * sizeof(*v));
	bool *dup = calloc(n + 1, sizeof(*dup));
	size_t k = 0;

	if (!v || !dup) {
		free(v);
		free(dup);
		p->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *ki = yaml_document_get_node(
			p->doc, map->data.mapping.pairs.start[i].key);

		if (ki && ki->type == YAML_SCALAR_NODE)
			v[k++] = (struct name_ref){scalar(ki), i};
	}
	qsort(v, k, sizeof(*v), cmp_ref);
	for (size_t i = 1; i < k; i++) {
		size_t first = i - 1;

		if (strcmp(v[i].name, v[first].name))
			continue;
		while (first > 0 && !strcmp(v[first - 1].name, v[i].name))
			first--;
		yaml_node_t *ki = yaml_document_get_node(
			p->doc, map->data.mapping.pairs.start[v[i].index].key);
		yaml_node_t *kf = yaml_document_get_node(
			p->doc, map->data.mapping.pairs.start[v[first].index].key);

		ERR(p, loc_of(ki), 1, "duplicate key '%s' in %s (first at line %u)",
		    v[i].name, what, loc_of(kf).line);
		dup[v[i].index] = true;
	}
	free(v);
	return dup;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct parser *p, const yaml_node_t *n, size_t i)
{
	return yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
}

/* ---- prefixes ---- */

/* Parse a list of prefixes (@what names it in messages). Bad entries are
 * reported (ZW010) and skipped. */
static void parse_prefix_list(struct parser *p, const yaml_node_t *n,
			      const char *what, struct zw_prefix **out,
			      size_t *count)
{
	size_t len, k = 0;

	*out = NULL;
	*count = 0;
	if (!want(p, n, YAML_SEQUENCE_NODE, what))
		return;
	len = seq_len(n);
	if (len > MAX_LIST) {
		ERR(p, loc_of(n), 1, "%s has too many entries (%zu, limit %u)",
		    what, len, MAX_LIST);
		return;
	}
	if (!len)
		return;
	*out = calloc(len, sizeof(**out));
	if (!*out) {
		p->oom = true;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *it = seq_item(p, n, i);
		struct zw_prefix *px = &(*out)[k];
		int r;

		if (!it || !want(p, it, YAML_SCALAR_NODE, what))
			continue;
		r = zw_prefix__parse(scalar(it), px);
		if (r == -EINVAL) {
			ERR(p, loc_of(it), 10,
			    "'%s' is not an IPv4 or IPv6 address or prefix",
			    scalar(it));
			continue;
		}
		if (r == -EDOM) {
			char buf[64];

			zw_prefix_mask(px->addr, px->family, px->len);
			ERR(p, loc_of(it), 10,
			    "prefix '%s' has host bits set (did you mean %s?)",
			    scalar(it), zw_prefix__format(px, buf));
			continue;
		}
		px->loc = loc_of(it);
		k++;
	}
	*count = k;
}

/* ---- services ---- */

static int cmp_range(const void *a, const void *b)
{
	const struct zw_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Sort and merge overlapping or adjacent ranges in place. */
static size_t normalise_ranges(struct zw_range *r, size_t n)
{
	size_t k = 0;

	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range);
	for (size_t i = 1; i < n; i++) {
		if ((uint32_t)r[i].lo <= (uint32_t)r[k].hi + 1) {
			if (r[i].hi > r[k].hi)
				r[k].hi = r[i].hi;
		} else {
			r[++k] = r[i];
		}
	}
	return k + 1;
}

static bool parse_port_item(struct parser *p, const yaml_node_t *it,
			    struct zw_range *out)
{
	const char *s, *dash;
	long lo, hi;
	char *end;

	if (!want(p, it, YAML_SCALAR_NODE, "a port"))
		return false;
	s = scalar(it);
	dash = strchr(s, '-');
	if (!dash) {
		if (!get_int(p, it, "a port", 1, 65535, true, &lo))
			return false;
		out->lo = out->hi = (uint16_t)lo;
		return true;
	}
	errno = 0;
	lo = strtol(s, &end, 10);
	if (end != dash || s == dash || *s < '0' || *s > '9' || errno)
		goto bad;
	hi = strtol(dash + 1, &end, 10);
	if (*end || dash[1] < '0' || dash[1] > '9' || errno)
		goto bad;
	if (lo < 1 || hi > 65535 || lo > hi)
		goto bad;
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return true;
bad:
	ERR(p, loc_of(it), 1,
	    "port range must be \"lo-hi\" with 1 <= lo <= hi <= 65535, not '%s'",
	    s);
	return false;
}

static bool parse_svc_entry(struct parser *p, const yaml_node_t *n,
			    struct zw_service *svc, struct zw_svc_entry *e)
{
	const char *const *keys = zw_parse_keys_svc_entry;
	enum { K_PROTO, K_PORTS, K_TYPES, K_UNSAFE, K_INSPECT };
	yaml_node_t *f[5];
	struct zw_loc kl[5];
	int proto = -1;

	memset(e, 0, sizeof(*e));
	e->loc = loc_of(n);
	if (!walk_mapping(p, n, "a service entry", keys, f, kl))
		return false;
	if (!f[K_PROTO]) {
		ERR(p, loc_of(n), 1, "service '%s': missing key 'proto'",
		    svc->name);
		return false;
	}
	if (want(p, f[K_PROTO], YAML_SCALAR_NODE, "proto")) {
		proto = zw_proto__parse(scalar(f[K_PROTO]));
		if (proto < 0)
			ERR(p, loc_of(f[K_PROTO]), 1,
			    "proto must be tcp, udp, sctp, icmp, icmpv6 or a number 0-255, not '%s'",
			    scalar(f[K_PROTO]));
	}
	if (proto < 0)
		return false;
	e->proto = (uint8_t)proto;

	if (zw_proto__has_ports((uint8_t)proto)) {
		if (!f[K_PORTS]) {
			ERR(p, loc_of(n), 1,
			    "service '%s': missing key 'ports' (required for %s)",
			    svc->name, scalar(f[K_PROTO]));
			return false;
		}
		if (!want(p, f[K_PORTS], YAML_SEQUENCE_NODE, "ports"))
			return false;
		size_t len = seq_len(f[K_PORTS]);

		if (!len || len > MAX_LIST) {
			ERR(p, loc_of(f[K_PORTS]), 1,
			    "ports must list 1 to %u ports or ranges", MAX_LIST);
			return false;
		}
		e->ports = calloc(len, sizeof(*e->ports));
		if (!e->ports) {
			p->oom = true;
			return false;
		}
		bool ok = true;

		for (size_t i = 0; i < len; i++) {
			yaml_node_t *it = seq_item(p, f[K_PORTS], i);

			if (!it || !parse_port_item(p, it, &e->ports[e->n_ports]))
				ok = false;
			else
				e->n_ports++;
		}
		if (!ok)
			return false;
		e->n_ports = normalise_ranges(e->ports, e->n_ports);
	} else if (f[K_PORTS]) {
		ERR(p, kl[K_PORTS], 1,
		    "service '%s': 'ports' is only for tcp, udp and sctp",
		    svc->name);
		return false;
	}

	if (f[K_TYPES]) {
		if (!zw_proto__is_icmp((uint8_t)proto)) {
			ERR(p, kl[K_TYPES], 1,
			    "service '%s': 'types' is only for icmp and icmpv6",
			    svc->name);
			return false;
		}
		if (!want(p, f[K_TYPES], YAML_SEQUENCE_NODE, "types"))
			return false;
		size_t len = seq_len(f[K_TYPES]);

		if (!len || len > 256) {
			ERR(p, loc_of(f[K_TYPES]), 1,
			    "types must list 1 to 256 ICMP types");
			return false;
		}
		e->types = calloc(len, sizeof(*e->types));
		if (!e->types) {
			p->oom = true;
			return false;
		}
		bool ok = true;

		for (size_t i = 0; i < len; i++) {
			yaml_node_t *it = seq_item(p, f[K_TYPES], i);
			int t;

			if (!it || !want(p, it, YAML_SCALAR_NODE, "an ICMP type")) {
				ok = false;
				continue;
			}
			t = zw_icmp_type__parse((uint8_t)proto, scalar(it));
			if (t < 0) {
				long v;

				if (*scalar(it) < '0' || *scalar(it) > '9') {
					ERR(p, loc_of(it), 1,
					    "unknown %s type '%s'",
					    proto == 58 ? "icmpv6" : "icmp",
					    scalar(it));
					ok = false;
					continue;
				}
				if (!get_int(p, it, "an ICMP type", 0, 255,
					     false, &v)) {
					ok = false;
					continue;
				}
				t = (int)v;
			}
			e->types[e->n_types].lo = e->types[e->n_types].hi =
				(uint16_t)t;
			e->n_types++;
		}
		if (!ok)
			return false;
		e->n_types = normalise_ranges(e->types, e->n_types);
	}

	if (f[K_UNSAFE]) {
		bool u;

		if (!get_bool(p, f[K_UNSAFE], "unsafe", &u))
			return false;
		svc->unsafe = svc->unsafe || u;
	}
	if (f[K_INSPECT]) {
		const char *s;
		if (!get_string(p, f[K_INSPECT], "inspect", &s))
			return false;
		if (!zw_inspect__known(s)) {
			ERR(p, loc_of(f[K_INSPECT]), 1,
			    "inspect must be one of %s, not '%s'",
			    ZW_INSPECT_NAMES, s);
			return false;
		}
		if (!svc->inspect)
			svc->inspect = xstrdup(p, s);
	}
	return true;
}

void zw_service_fini(struct zw_service *s)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		free(s->entries[i].ports);
		free(s->entries[i].types);
	}
	free(s->entries);
	free(s->name);
	free(s->inspect);
	memset(s, 0, sizeof(*s));
}

/* Parse a service value (one entry mapping or a list of them) into @svc,
 * whose name is already set. Returns false if anything was wrong. */
static bool parse_service(struct parser *p, const yaml_node_t *n,
			  struct zw_service *svc)
{
	size_t len;
	bool ok = true;

	svc->loc = loc_of(n);
	if (n->type == YAML_MAPPING_NODE) {
		svc->entries = calloc(1, sizeof(*svc->entries));
		if (!svc->entries) {
			p->oom = true;
			return false;
		}
		if (!parse_svc_entry(p, n, svc, &svc->entries[0])) {
			zw_service_fini(&(struct zw_service){
				.entries = svc->entries, .n_entries = 1});
			svc->entries = NULL;
			return false;
		}
		svc->n_entries = 1;
		return true;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		ERR(p, loc_of(n), 1,
		    "service '%s' must be a mapping {proto: ..., ports: [...]} or a list of them",
		    svc->name);
		return false;
	}
	len = seq_len(n);
	if (!len || len > 64) {
		ERR(p, loc_of(n), 1, "service '%s' must list 1 to 64 entries",
		    svc->name);
		return false;
	}
	svc->entries = calloc(len, sizeof(*svc->entries));
	if (!svc->entries) {
		p->oom = true;
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *it = seq_item(p, n, i);
		struct zw_svc_entry *e = &svc->entries[svc->n_entries];

		if (it && parse_svc_entry(p, it, svc, e)) {
			svc->n_entries++;
		} else {
			free(e->ports);
			free(e->types);
			memset(e, 0, sizeof(*e));
			ok = false;
		}
	}
	return ok;
}

/* Classes a service has from what it is, whatever its name. */
static unsigned derived_classes(const struct zw_service *s)
{
	unsigned c = 0;

	if (s->inspect && !strcmp(s->inspect, "tls"))
		c |= ZW_SVC_TLS;
	for (size_t i = 0; i < s->n_entries; i++)
		if (s->entries[i].proto == 50 || s->entries[i].proto == 51)
			c |= ZW_SVC_VPN;
	return c;
}

/* Parse one built-in catalogue entry with the matrix's own service
 * parser. A failure here is a bug in catalogue.c (tests catch it). */
static int load_builtin(const struct zw_builtin_service *b,
			struct zw_service *out)
{
	yaml_parser_t yp;
	yaml_document_t doc;
	struct zw_diags d;
	struct parser p = {0};
	int r = -EINVAL;

	zw_diags__init(&d, "<builtin>");
	memset(out, 0, sizeof(*out));
	if (!yaml_parser_initialize(&yp)) {
		zw_diags__fini(&d);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)b->yaml,
				     strlen(b->yaml));
	if (yaml_parser_load(&yp, &doc)) {
		yaml_node_t *root = yaml_document_get_root_node(&doc);

		p.doc = &doc;
		p.diags = &d;
		out->name = strdup(b->name);
		if (root && out->name && parse_service(&p, root, out) &&
		    !d.n_errors && !p.oom)
			r = 0;
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&yp);
	zw_diags__fini(&d);
	if (r) {
		zw_service_fini(out);
		return r;
	}
	out->builtin = true;
	out->classes = b->classes | derived_classes(out);
	return 0;
}

/* The catalogue is parsed once per process and copied into each matrix. */
static struct zw_service *catalogue;
static size_t n_catalogue;
static int catalogue_err;
static pthread_once_t catalogue_once = PTHREAD_ONCE_INIT;

static void parse_catalogue(void)
{
	size_t n = 0;

	while (zw_builtin_services[n].name)
		n++;
	catalogue = calloc(n, sizeof(*catalogue));
	if (!catalogue) {
		catalogue_err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int r = load_builtin(&zw_builtin_services[i], &catalogue[i]);

		if (r) {
			catalogue_err = r;
			return;
		}
		n_catalogue++;
	}
}

static void *dup_mem(const void *p, size_t len, bool *oom)
{
	void *d;

	if (!p || !len)
		return NULL;
	d = malloc(len);
	if (!d) {
		*oom = true;
		return NULL;
	}
	return memcpy(d, p, len);
}

static int copy_service(const struct zw_service *src, struct zw_service *dst)
{
	bool oom = false;

	*dst = *src;
	dst->name = strdup(src->name);
	dst->inspect = src->inspect ? strdup(src->inspect) : NULL;
	dst->entries = dup_mem(src->entries, src->n_entries * sizeof(*src->entries), &oom);
	if (!dst->name || (src->inspect && !dst->inspect) || oom) {
		dst->n_entries = dst->entries ? dst->n_entries : 0;
		for (size_t i = 0; i < dst->n_entries; i++)
			dst->entries[i].ports = dst->entries[i].types = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < src->n_entries; i++) {
		const struct zw_svc_entry *e = &src->entries[i];

		dst->entries[i].ports = dup_mem(e->ports, e->n_ports * sizeof(*e->ports), &oom);
		dst->entries[i].types = dup_mem(e->types, e->n_types * sizeof(*e->types), &oom);
	}
	return oom ? -ENOMEM : 0;
}

static int load_catalogue(struct zw_matrix *m)
{
	pthread_once(&catalogue_once, parse_catalogue);
	if (catalogue_err)
		return catalogue_err;
	m->services = calloc(n_catalogue, sizeof(*m->services));
	if (!m->services)
		return -ENOMEM;
	for (size_t i = 0; i < n_catalogue; i++) {
		int r = copy_service(&catalogue[i], &m->services[i]);

		m->n_services++; /* so zw_matrix__free releases a partial copy */
		if (r)
			return r;
	}
	return 0;
}

static void parse_services(struct parser *p, const yaml_node_t *n)
{
	struct zw_matrix *m = p->m;
	size_t len, cap;
	bool *dup;

	if (!want(p, n, YAML_MAPPING_NODE, "services"))
		return;
	dup = check_unique_keys(p, n, "services");
	if (!dup)
		return;
	len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	cap = m->n_services;
	if (zw_grow((void **)&m->services, &cap, m->n_services + len,
		    sizeof(*m->services)) < 0) {
		p->oom = true;
		free(dup);
		return;
	}
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
	     pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
		struct zw_service svc = {0};
		int existing;

		if (!k || !v || !want(p, k, YAML_SCALAR_NODE, "a service name"))
			continue;
		if (!zw_name__valid(scalar(k))) {
			ERR(p, loc_of(k), 1,
			    "service name '%s' must match [a-z][a-z0-9-]{0,31}",
			    scalar(k));
			continue;
		}
		if (dup[pr - n->data.mapping.pairs.start])
			continue; /* reported above */
		/* Only a built-in can exist already: overridden in place. */
		existing = -1;
		for (size_t i = 0; i < n_catalogue && i < m->n_services; i++)
			if (!strcmp(m->services[i].name, scalar(k)))
				existing = (int)i;
		svc.name = xstrdup(p, scalar(k));
		if (!svc.name)
			break;
		parse_service(p, v, &svc); /* errors reported; keep what parsed */
		svc.loc = loc_of(k);
		svc.builtin = false;
		if (existing >= 0) {
			/* An override keeps the built-in's nature (ssh stays an
			 * admin protocol, wireguard a VPN, on another port). */
			svc.classes = m->services[existing].classes &
				      (ZW_SVC_ADMIN | ZW_SVC_VPN);
			svc.classes |= derived_classes(&svc);
			zw_service_fini(&m->services[existing]);
			m->services[existing] = svc;
		} else {
			svc.classes = derived_classes(&svc);
			m->services[m->n_services++] = svc;
		}
	}
	free(dup);
}

/* ---- zones ---- */

static void parse_zone(struct parser *p, const yaml_node_t *k,
		       const yaml_node_t *v, struct zw_zone *z)
{
	const char *const *keys = zw_parse_keys_zone;
	enum { K_KIND, K_NETWORKS, K_ISOLATE, K_DESCRIPTION };
	yaml_node_t *f[4];
	struct zw_loc kl[4];
	char what[64];

	z->loc = loc_of(k);
	z->kind = ZW_KIND_INTERNAL_SERVICE;
	snprintf(what, sizeof(what), "zone '%s'", z->name);
	if (!walk_mapping(p, v, what, keys, f, kl))
		return;
	if (!f[K_KIND]) {
		ERR(p, loc_of(v), 1, "zone '%s': missing key 'kind'", z->name);
	} else if (want(p, f[K_KIND], YAML_SCALAR_NODE, "kind")) {
		int kind = zw_zone_kind__parse(scalar(f[K_KIND]));

		if (kind < 0)
			ERR(p, loc_of(f[K_KIND]), 1,
			    "zone '%s': unknown kind '%s' (see zonectl check --explain ZW020 for the kinds)",
			    z->name, scalar(f[K_KIND]));
		else
			z->kind = (enum zw_zone_kind)kind;
	}
	if (!f[K_NETWORKS]) {
		ERR(p, loc_of(v), 1, "zone '%s': missing key 'networks'",
		    z->name);
	} else {
		parse_prefix_list(p, f[K_NETWORKS], "networks", &z->networks,
				  &z->n_networks);
		if (f[K_NETWORKS]->type == YAML_SEQUENCE_NODE &&
		    seq_len(f[K_NETWORKS]) == 0)
			ERR(p, loc_of(f[K_NETWORKS]), 1,
			    "zone '%s': networks must not be empty", z->name);
	}
	if (f[K_ISOLATE]) {
		get_bool(p, f[K_ISOLATE], "isolate", &z->isolate);
		z->loc_isolate = loc_of(f[K_ISOLATE]);
	}
	if (f[K_DESCRIPTION]) {
		const char *s;

		if (get_string(p, f[K_DESCRIPTION], "description", &s) && *s)
			z->description = xstrdup(p, s);
	}
}

static void parse_zones(struct parser *p, const yaml_node_t *n)
{
	struct zw_matrix *m = p->m;
	size_t len;

	bool *dup;

	if (!want(p, n, YAML_MAPPING_NODE, "zones"))
		return;
	dup = check_unique_keys(p, n, "zones");
	if (!dup)
		return;
	len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (len > MAX_ZONES) {
		ERR(p, loc_of(n), 1, "too many zones (%zu, limit %u)", len,
		    MAX_ZONES);
		free(dup);
		return;
	}
	struct zw_zone *zones = realloc(m->zones, (len + 1) * sizeof(*zones));

	if (!zones) {
		p->oom = true;
		free(dup);
		return;
	}
	m->zones = zones;
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
	     pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
		struct zw_zone *z;

		if (!k || !v || !want(p, k, YAML_SCALAR_NODE, "a zone name"))
			continue;
		if (!strcmp(scalar(k), "outside")) {
			ERR(p, loc_of(k), 1,
			    "'outside' is reserved for addresses in no zone; pick another name");
			continue;
		}
		if (!zw_name__valid(scalar(k))) {
			ERR(p, loc_of(k), 1,
			    "zone name '%s' must match [a-z][a-z0-9-]{0,31}",
			    scalar(k));
			continue;
		}
		if (dup[pr - n->data.mapping.pairs.start])
			continue; /* reported */
		z = &m->zones[m->n_zones];
		memset(z, 0, sizeof(*z));
		z->name = xstrdup(p, scalar(k));
		if (!z->name)
			break;
		m->n_zones++;
		parse_zone(p, k, v, z);
	}
	free(dup);
}

/* ---- flows ---- */

static uint32_t resolve_zone(struct parser *p, const yaml_node_t *n,
			     const char *key)
{
	int z;

	if (!want(p, n, YAML_SCALAR_NODE, key))
		return UINT32_MAX;
	z = find_ref(p->zone_ix, p->n_zone_ix, scalar(n));
	if (z < 0) {
		ERR(p, loc_of(n), 2, "unknown zone '%s' in '%s'", scalar(n),
		    key);
		return UINT32_MAX;
	}
	return (uint32_t)z;
}

static void parse_flow(struct parser *p, const yaml_node_t *n,
		       struct zw_flow *fl)
{
	const char *const *keys = zw_parse_keys_flow;
	enum {
		K_ID,
		K_FROM,
		K_TO,
		K_SRC,
		K_DST,
		K_SERVICES,
		K_JUST,
		K_COMP,
		K_REVIEW,
		K_EXPIRES,
		K_OWNER,
		K_LOG,
		K_RATE
	};
	yaml_node_t *f[13];
	struct zw_loc kl[13] = {{0, 0}};
	const char *s;

	fl->loc = loc_of(n);
	fl->from = fl->to = UINT32_MAX;
	fl->review = fl->expires = ZW_DATE_NONE;
	if (!walk_mapping(p, n, "a flow", keys, f, kl))
		return;
	struct zw_flow_locs *L = &fl->locs;

	L->id = kl[K_ID], L->from = kl[K_FROM], L->to = kl[K_TO];
	L->src = kl[K_SRC], L->dst = kl[K_DST], L->services = kl[K_SERVICES];
	L->justification = kl[K_JUST], L->compensating = kl[K_COMP];
	L->review = kl[K_REVIEW], L->expires = kl[K_EXPIRES];
	L->owner = kl[K_OWNER], L->log = kl[K_LOG], L->rate = kl[K_RATE];

	if (!f[K_ID]) {
		ERR(p, fl->loc, 1, "flow: missing key 'id'");
	} else if (get_string(p, f[K_ID], "id", &s)) {
		if (!zw_flow_id__valid(s))
			ERR(p, loc_of(f[K_ID]), 1,
			    "flow id '%s' must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}",
			    s);
		else
			fl->id = xstrdup(p, s);
	}
	const char *id = fl->id ? fl->id : "?";

	if (!f[K_FROM])
		ERR(p, fl->loc, 1, "flow %s: missing key 'from'", id);
	else
		fl->from = resolve_zone(p, f[K_FROM], "from");
	if (!f[K_TO])
		ERR(p, fl->loc, 1, "flow %s: missing key 'to'", id);
	else
		fl->to = resolve_zone(p, f[K_TO], "to");
	if (f[K_SRC]) {
		parse_prefix_list(p, f[K_SRC], "src", &fl->src, &fl->n_src);
		if (f[K_SRC]->type == YAML_SEQUENCE_NODE && !seq_len(f[K_SRC]))
			ERR(p, loc_of(f[K_SRC]), 1,
			    "flow %s: src must not be empty (omit it for the whole zone)",
			    id);
	}
	if (f[K_DST]) {
		parse_prefix_list(p, f[K_DST], "dst", &fl->dst, &fl->n_dst);
		if (f[K_DST]->type == YAML_SEQUENCE_NODE && !seq_len(f[K_DST]))
			ERR(p, loc_of(f[K_DST]), 1,
			    "flow %s: dst must not be empty (omit it for the whole zone)",
			    id);
	}
	if (!f[K_SERVICES]) {
		ERR(p, fl->loc, 1, "flow %s: missing key 'services'", id);
	} else if (want(p, f[K_SERVICES], YAML_SEQUENCE_NODE, "services")) {
		size_t len = seq_len(f[K_SERVICES]);

		if (!len || len > 4096) {
			ERR(p, loc_of(f[K_SERVICES]), 1,
			    "flow %s: services must list 1 to 4096 services", id);
		} else {
			fl->services = calloc(len, sizeof(*fl->services));
			if (!fl->services) {
				p->oom = true;
				return;
			}
		}
		for (size_t i = 0; fl->services && i < len; i++) {
			yaml_node_t *it = seq_item(p, f[K_SERVICES], i);
			int si;

			if (!it || !want(p, it, YAML_SCALAR_NODE, "a service name"))
				continue;
			si = find_ref(p->svc_ix, p->n_svc_ix, scalar(it));
			if (si < 0) {
				ERR(p, loc_of(it), 2, "flow %s: unknown service '%s'",
				    id, scalar(it));
				continue;
			}
			bool dup = false;

			for (size_t j = 0; j < fl->n_services; j++)
				dup |= fl->services[j] == (uint32_t)si;
			if (dup) {
				ERR(p, loc_of(it), 1,
				    "flow %s: service '%s' listed twice", id,
				    scalar(it));
				continue;
			}
			fl->services[fl->n_services++] = (uint32_t)si;
			p->m->services[si].used = true;
		}
	}
	if (f[K_JUST] && get_string(p, f[K_JUST], "justification", &s))
		fl->justification = xstrdup(p, s);
	if (f[K_COMP] && get_string(p, f[K_COMP], "compensating", &s))
		fl->compensating = xstrdup(p, s);
	if (f[K_OWNER] && get_string(p, f[K_OWNER], "owner", &s) && *s)
		fl->owner = xstrdup(p, s);
	if (f[K_REVIEW])
		get_date(p, f[K_REVIEW], "review", &fl->review);
	if (f[K_EXPIRES])
		get_date(p, f[K_EXPIRES], "expires", &fl->expires);
	if (f[K_LOG])
		get_bool(p, f[K_LOG], "log", &fl->log);
	if (f[K_RATE] && want(p, f[K_RATE], YAML_SCALAR_NODE, "rate")) {
		const char *r = scalar(f[K_RATE]);
		char *end;
		long v;

		errno = 0;
		v = strtol(r, &end, 10);
		if (*r < '0' || *r > '9' || errno || strcmp(end, "/s") ||
		    v < 1 || v > 1000000)
			ERR(p, loc_of(f[K_RATE]), 1,
			    "flow %s: rate must be \"N/s\" with N from 1 to 1000000, not '%s'",
			    id, r);
		else
			fl->rate = (uint32_t)v;
	}
}

static struct name_ref *build_index(struct parser *p, size_t n,
				    const char *(*name_at)(const struct zw_matrix *, size_t))
{
	struct name_ref *v = malloc((n + 1) * sizeof(*v));

	if (!v) {
		p->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (struct name_ref){name_at(p->m, i), i};
	qsort(v, n, sizeof(*v), cmp_ref);
	return v;
}

static const char *zone_name_at(const struct zw_matrix *m, size_t i)
{
	return m->zones[i].name;
}

static const char *svc_name_at(const struct zw_matrix *m, size_t i)
{
	return m->services[i].name;
}

static void parse_flows(struct parser *p, const yaml_node_t *n)
{
	struct zw_matrix *m = p->m;
	size_t len;

	p->zone_ix = build_index(p, m->n_zones, zone_name_at);
	p->svc_ix = build_index(p, m->n_services, svc_name_at);
	if (!p->zone_ix || !p->svc_ix)
		return;
	p->n_zone_ix = m->n_zones;
	p->n_svc_ix = m->n_services;

	if (!want(p, n, YAML_SEQUENCE_NODE, "flows"))
		return;
	len = seq_len(n);
	if (len > MAX_FLOWS) {
		ERR(p, loc_of(n), 1, "too many flows (%zu, limit %u)", len,
		    MAX_FLOWS);
		return;
	}
	if (!len)
		return;
	m->flows = calloc(len, sizeof(*m->flows));
	if (!m->flows) {
		p->oom = true;
		return;
	}
	for (size_t i = 0; i < len && !p->oom; i++) {
		yaml_node_t *it = seq_item(p, n, i);

		if (!it)
			continue;
		parse_flow(p, it, &m->flows[m->n_flows++]);
	}
}

/* ---- probes ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void parse_probe(struct parser *p, const yaml_node_t *k,
			const yaml_node_t *v, struct zw_probe *pr)
{
	const char *const *keys = zw_parse_keys_probe;
	enum { K_INTERFACE, K_ZONES, K_TRAFFIC, K_DESCRIPTION };
	yaml_node_t *f[4];
	struct zw_loc kl[4] = {{0, 0}};
	char what[64];
	const char *s;

	pr->loc = loc_of(k);
	snprintf(what, sizeof(what), "probe '%s'", pr->name);
	if (!walk_mapping(p, v, what, keys, f, kl))
		return;
	pr->loc_interface = f[K_INTERFACE] ? loc_of(f[K_INTERFACE]) : pr->loc;
	pr->loc_zones = f[K_ZONES] ? loc_of(f[K_ZONES]) : pr->loc;
	if (!f[K_INTERFACE]) {
		ERR(p, loc_of(v), 1, "probe '%s': missing key 'interface'",
		    pr->name);
	} else if (get_string(p, f[K_INTERFACE], "interface", &s)) {
		/* ZW060: the validator reports a name no engine can use */
		pr->interface = xstrdup(p, s);
	}
	if (!f[K_ZONES]) {
		ERR(p, loc_of(v), 1, "probe '%s': missing key 'zones'", pr->name);
	} else if (want(p, f[K_ZONES], YAML_SEQUENCE_NODE, "zones")) {
		size_t len = seq_len(f[K_ZONES]);

		if (!len || len > MAX_ZONES) {
			ERR(p, loc_of(f[K_ZONES]), 62,
			    "probe '%s': zones must name 1 to %u zones (the zones whose traffic the probe receives)",
			    pr->name, MAX_ZONES);
			len = 0;
		} else {
			pr->zones = calloc(len, sizeof(*pr->zones));
			if (!pr->zones) {
				p->oom = true;
				return;
			}
		}
		for (size_t i = 0; i < len; i++) {
			yaml_node_t *it = seq_item(p, f[K_ZONES], i);
			int z;
			bool dup = false;

			if (!it || !want(p, it, YAML_SCALAR_NODE, "a zone name"))
				continue;
			z = find_ref(p->zone_ix, p->n_zone_ix, scalar(it));
			if (z < 0) {
				ERR(p, loc_of(it), 2,
				    "probe '%s': unknown zone '%s'", pr->name,
				    scalar(it));
				continue;
			}
			if (z == ZW_ZONE_OUTSIDE) {
				ERR(p, loc_of(it), 62,
				    "probe '%s': a probe watches declared zones, not 'outside' (name the interconnection zone whose traffic it must see)",
				    pr->name);
				continue;
			}
			for (size_t j = 0; j < pr->n_zones; j++)
				dup |= pr->zones[j] == (uint32_t)z;
			if (dup) {
				ERR(p, loc_of(it), 62,
				    "probe '%s': zone '%s' listed twice",
				    pr->name, scalar(it));
				continue;
			}
			pr->zones[pr->n_zones++] = (uint32_t)z;
		}
		if (pr->n_zones)
			qsort(pr->zones, pr->n_zones, sizeof(*pr->zones),
			      cmp_u32);
	}
	if (f[K_TRAFFIC] && get_string(p, f[K_TRAFFIC], "traffic", &s)) {
		if (!strcmp(s, "all"))
			pr->traffic = ZW_PROBE_ALL;
		else if (!strcmp(s, "allowed"))
			pr->traffic = ZW_PROBE_ALLOWED;
		else
			ERR(p, loc_of(f[K_TRAFFIC]), 1,
			    "probe '%s': traffic must be all (allowed and denied) or allowed, not '%s'",
			    pr->name, s);
	}
	if (f[K_DESCRIPTION] &&
	    get_string(p, f[K_DESCRIPTION], "description", &s) && *s)
		pr->description = xstrdup(p, s);
}

static void parse_probes(struct parser *p, const yaml_node_t *n)
{
	struct zw_matrix *m = p->m;
	size_t len;
	bool *dup;

	if (!p->zone_ix) {
		p->zone_ix = build_index(p, m->n_zones, zone_name_at);
		if (!p->zone_ix)
			return;
		p->n_zone_ix = m->n_zones;
	}
	if (!want(p, n, YAML_MAPPING_NODE, "probes"))
		return;
	len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (len > ZW_PARSE_MAX_PROBES) {
		ERR(p, loc_of(n), 1, "too many probes (%zu, limit %u)", len,
		    ZW_PARSE_MAX_PROBES);
		return;
	}
	if (!len)
		return;
	dup = check_unique_keys(p, n, "probes");
	if (!dup)
		return;
	m->probes = calloc(len, sizeof(*m->probes));
	if (!m->probes) {
		p->oom = true;
		free(dup);
		return;
	}
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
	     pr < n->data.mapping.pairs.top && !p->oom; pr++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
		struct zw_probe *probe;

		if (!k || !v || !want(p, k, YAML_SCALAR_NODE, "a probe name"))
			continue;
		if (!zw_name__valid(scalar(k))) {
			ERR(p, loc_of(k), 1,
			    "probe name '%s' must match [a-z][a-z0-9-]{0,31}",
			    scalar(k));
			continue;
		}
		if (dup[pr - n->data.mapping.pairs.start])
			continue; /* reported */
		probe = &m->probes[m->n_probes];
		memset(probe, 0, sizeof(*probe));
		probe->name = xstrdup(p, scalar(k));
		if (!probe->name)
			break;
		m->n_probes++;
		parse_probe(p, k, v, probe);
	}
	free(dup);
}

/* ---- top level ---- */

static void parse_root(struct parser *p, const yaml_node_t *root)
{
	const char *const *keys = zw_parse_keys_root;
	enum { K_VERSION, K_NAME, K_PROFILE, K_ZONES, K_SERVICES, K_FLOWS,
	       K_PROBES };
	yaml_node_t *f[7];
	struct zw_matrix *m = p->m;
	struct zw_loc top = loc_of(root);
	const char *s;
	long v;

	if (!walk_mapping(p, root, "the matrix", keys, f, NULL))
		return;
	if (!f[K_VERSION])
		ERR(p, top, 1, "missing key 'zonewall' (the language version: zonewall: 1)");
	else if (get_int(p, f[K_VERSION], "zonewall (language version)", 1,
			 ZW_MATRIX_LANG_VERSION, false, &v))
		m->lang_version = (int)v;
	if (!f[K_NAME])
		ERR(p, top, 1, "missing key 'name'");
	else if (get_string(p, f[K_NAME], "name", &s)) {
		if (!zw_matrix_name__valid(s))
			ERR(p, loc_of(f[K_NAME]), 1,
			    "name '%s' must match [a-z0-9][a-z0-9._-]* (at most %d characters)",
			    s, ZW_MATRIX_NAME_MAX);
		else
			m->name = xstrdup(p, s);
	}
	if (f[K_PROFILE] && get_string(p, f[K_PROFILE], "profile", &s)) {
		if (!strcmp(s, "minimal"))
			m->profile = ZW_PROFILE_MINIMAL;
		else if (!strcmp(s, "piams"))
			m->profile = ZW_PROFILE_PIAMS;
		else
			ERR(p, loc_of(f[K_PROFILE]), 1,
			    "profile must be minimal or piams, not '%s'", s);
	}
	if (!f[K_ZONES])
		ERR(p, top, 1, "missing key 'zones'");
	else
		parse_zones(p, f[K_ZONES]);
	if (f[K_SERVICES])
		parse_services(p, f[K_SERVICES]);
	if (!f[K_FLOWS])
		ERR(p, top, 1, "missing key 'flows' (write 'flows: []' for none)");
	else
		parse_flows(p, f[K_FLOWS]);
	if (f[K_PROBES])
		parse_probes(p, f[K_PROBES]);
}

/*
 * The pre-scan: one pass over libyaml's events, before the document is
 * loaded, with memory bounded by MAX_DEPTH whatever the input.
 *  - Aliases would let a small file expand into an enormous model, and
 *    merge keys would hide where a value comes from; the matrix is meant to
 *    be read by an auditor, so both are refused (every alias is reported
 *    with its position).
 *  - Nesting deeper than MAX_DEPTH is refused at once: the language needs
 *    five levels, and libyaml's loader is quadratic in depth (60 000 '['
 *    took 17 s).
 *  - More than MAX_NODES nodes, MAX_ZONES zones, MAX_SERVICES services,
 *    MAX_FLOWS flows or MAX_LIST entries in one list are refused before the
 *    loader builds a node for each (a million zones took 1.3 GB).
 *  - Tags: a scalar tagged !!str (or the non-specific "!") is a string, as
 *    if quoted, so "!!str true" is not the boolean true; every other tag is
 *    refused, the language has none.
 * Returns false when the document must not be loaded; the loader reports
 * syntax errors itself.
 */
struct level {
	bool map;	 /* a mapping (else a sequence) */
	bool want_key;	 /* mapping: the next node is a key */
	int top_key;	 /* root mapping: which key the value belongs to */
	int counts;	 /* enum top_count this collection is counted as */
	size_t children; /* nodes directly inside (keys and values) */
	struct zw_loc loc;
};

enum top_count { COUNT_NONE, COUNT_ZONES, COUNT_SERVICES, COUNT_FLOWS };

struct prescan {
	struct zw_diags *d;
	struct level lv[MAX_DEPTH + 1];
	unsigned depth;
	size_t nodes;
	bool ok, stop;
};

static bool str_tag(const char *tag)
{
	return !strcmp(tag, "!") || !strcmp(tag, YAML_STR_TAG);
}

/* A node starts (scalar, alias or collection): count it where it lies. */
static void prescan_child(struct prescan *s, struct zw_loc l)
{
	static const struct {
		const char *what;
		size_t max;
	} lim[] = {
		[COUNT_ZONES] = {"zones", MAX_ZONES},
		[COUNT_SERVICES] = {"services", MAX_SERVICES},
		[COUNT_FLOWS] = {"flows", MAX_FLOWS},
	};
	struct level *up = s->depth ? &s->lv[s->depth] : NULL;
	size_t items;

	if (++s->nodes > MAX_NODES) {
		zw_diags__add(s->d, ZW_ERROR, 1, l,
			      "too many YAML nodes (more than %u): a matrix this large is refused",
			      MAX_NODES);
		s->ok = false;
		s->stop = true;
		return;
	}
	if (!up)
		return;
	up->children++;
	items = up->map ? (up->children + 1) / 2 : up->children;
	if (up->counts != COUNT_NONE && items > lim[up->counts].max) {
		zw_diags__add(s->d, ZW_ERROR, 1, up->loc,
			      "too many %s (more than %zu)",
			      lim[up->counts].what, lim[up->counts].max);
		s->ok = false;
		s->stop = true;
	} else if (!up->map && items > MAX_LIST) {
		zw_diags__add(s->d, ZW_ERROR, 1, up->loc,
			      "list too long (more than %u entries)", MAX_LIST);
		s->ok = false;
		s->stop = true;
	}
}

/* Which counted collection a value at depth 2 is, from its key. */
static int prescan_counts(const struct prescan *s)
{
	const struct level *root = &s->lv[1];

	if (s->depth != 1 || !root->map || root->want_key)
		return COUNT_NONE;
	return root->top_key;
}

/* After a node at the current depth: a mapping alternates key and value. */
static void prescan_after(struct prescan *s)
{
	if (s->depth && s->lv[s->depth].map)
		s->lv[s->depth].want_key = !s->lv[s->depth].want_key;
}

static bool prescan(struct parser *p, const char *text, size_t len,
		    size_t **str_tagged, size_t *n_str_tagged)
{
	struct prescan s = {.d = p->diags, .ok = true};
	yaml_parser_t yp;
	yaml_event_t ev;
	size_t cap = 0;
	bool done = false;

	*str_tagged = NULL;
	*n_str_tagged = 0;
	if (!yaml_parser_initialize(&yp)) {
		p->oom = true;
		return false;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	while (!done && !s.stop) {
		if (!yaml_parser_parse(&yp, &ev))
			break; /* the loader reports the syntax error */
		struct zw_loc l = {(uint32_t)ev.start_mark.line + 1,
				   (uint32_t)ev.start_mark.column + 1};
		const char *tag = NULL;

		switch (ev.type) {
		case YAML_ALIAS_EVENT:
			zw_diags__add(s.d, ZW_ERROR, 1, l,
				      "YAML aliases (*%s) are not supported: write the value out",
				      ev.data.alias.anchor);
			s.ok = false;
			prescan_child(&s, l);
			prescan_after(&s);
			break;
		case YAML_SCALAR_EVENT: {
			struct level *root = &s.lv[1];

			prescan_child(&s, l);
			tag = (const char *)ev.data.scalar.tag;
			if (tag && str_tag(tag)) {
				if (zw_grow((void **)str_tagged, &cap,
					    *n_str_tagged + 1,
					    sizeof(**str_tagged)) < 0) {
					p->oom = true;
					s.ok = false;
					s.stop = true;
					break;
				}
				(*str_tagged)[(*n_str_tagged)++] =
					ev.start_mark.index;
				tag = NULL;
			}
			if (s.depth == 1 && root->map && root->want_key) {
				const char *k = (const char *)ev.data.scalar.value;

				root->top_key = !strcmp(k, "zones")	? COUNT_ZONES
						: !strcmp(k, "services") ? COUNT_SERVICES
						: !strcmp(k, "flows")	? COUNT_FLOWS
									: COUNT_NONE;
			}
			prescan_after(&s);
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			bool map = ev.type == YAML_MAPPING_START_EVENT;
			int counts = prescan_counts(&s);

			prescan_child(&s, l);
			tag = (const char *)(map ? ev.data.mapping_start.tag
						 : ev.data.sequence_start.tag);
			if (s.stop)
				break;
			if (s.depth == MAX_DEPTH) {
				zw_diags__add(s.d, ZW_ERROR, 1, l,
					      "YAML nested deeper than %d levels: a matrix needs at most 5",
					      MAX_DEPTH);
				s.ok = false;
				s.stop = true;
				break;
			}
			s.lv[++s.depth] = (struct level){
				.map = map, .want_key = true, .counts = counts,
				.loc = l};
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (s.depth)
				s.depth--;
			prescan_after(&s);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		if (tag && !s.stop) {
			/* reported; the document still loads (a tag is no
			 * threat to the loader) so every other error shows */
			size_t std = strlen("tag:yaml.org,2002:");
			bool core = !strncmp(tag, "tag:yaml.org,2002:", std);

			zw_diags__add(s.d, ZW_ERROR, 1, l,
				      "YAML tag '%s%s' is not supported: the matrix language has no tags",
				      core ? "!!" : "", core ? tag + std : tag);
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	return s.ok;
}

static int add_outside(struct zw_matrix *m)
{
	m->zones = calloc(1, sizeof(*m->zones));
	if (!m->zones)
		return -ENOMEM;
	m->zones[0].name = strdup("outside");
	m->zones[0].kind = ZW_KIND_OUTSIDE;
	m->n_zones = 1;
	return m->zones[0].name ? 0 : -ENOMEM;
}

struct zw_matrix *zw_matrix__parse(const char *text, size_t len,
				   const char *file, struct zw_diags *diags)
{
	struct zw_matrix *m = calloc(1, sizeof(*m));
	yaml_parser_t yp;
	yaml_document_t doc;
	struct parser p = {.diags = diags};
	int r;

	if (!m)
		goto oom;
	p.m = m;
	m->lang_version = ZW_MATRIX_LANG_VERSION;
	m->file = strdup(file ? file : "<input>");
	if (!m->file || add_outside(m) < 0)
		goto oom;
	r = load_catalogue(m);
	if (r == -ENOMEM)
		goto oom;
	if (r) {
		zw_diags__add(diags, ZW_ERROR, 1, ZW_LOC(0, 0),
			      "internal error: built-in service catalogue does not parse");
		return m;
	}
	if (zw_sha256(text, len, m->source_sha256) < 0) {
		zw_diags__add(diags, ZW_ERROR, 1, ZW_LOC(0, 0),
			      "cannot compute SHA-256 (OpenSSL)");
		return m;
	}
	if (len > MAX_TEXT) {
		zw_diags__add(diags, ZW_ERROR, 1, ZW_LOC(1, 1),
			      "file too large (%zu bytes, limit %u)", len,
			      MAX_TEXT);
		return m;
	}
	if (memchr(text, '\0', len)) {
		zw_diags__add(diags, ZW_ERROR, 1, ZW_LOC(1, 1),
			      "file contains a NUL byte: not a text file");
		return m;
	}
	if (!prescan(&p, text, len, &p.str_tagged, &p.n_str_tagged))
		goto out;
	if (!yaml_parser_initialize(&yp)) {
		p.oom = true;
		goto out;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	if (!yaml_parser_load(&yp, &doc)) {
		struct zw_loc l = {(uint32_t)yp.problem_mark.line + 1,
				   (uint32_t)yp.problem_mark.column + 1};

		if (yp.error == YAML_MEMORY_ERROR) {
			yaml_parser_delete(&yp);
			p.oom = true;
			goto out;
		}
		zw_diags__add(diags, ZW_ERROR, 1, l, "YAML syntax error: %s%s%s",
			      yp.problem ? yp.problem : "unknown",
			      yp.context ? " " : "",
			      yp.context ? yp.context : "");
		yaml_parser_delete(&yp);
		goto out;
	}
	p.doc = &doc;
	yaml_node_t *root = yaml_document_get_root_node(&doc);

	if (!root) {
		zw_diags__add(diags, ZW_ERROR, 1, ZW_LOC(1, 1),
			      "empty document: a matrix starts with 'zonewall: 1'");
	} else {
		parse_root(&p, root);
		/* A second document in the same file would be ignored
		 * silently: refuse it. */
		yaml_document_t extra;

		if (yaml_parser_load(&yp, &extra)) {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2)
				zw_diags__add(diags, ZW_ERROR, 1, loc_of(r2),
					      "a matrix file holds one YAML document; remove this one");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&yp);
out:
	/* every path after the pre-scan: what it and the walk allocated */
	free(p.zone_ix);
	free(p.svc_ix);
	free(p.str_tagged);
	if (p.oom)
		goto oom;
	return m;
oom:
	zw_matrix__free(m);
	errno = ENOMEM;
	return NULL;
}

struct zw_matrix *zw_matrix__load(const char *path, struct zw_diags *diags)
{
	FILE *f = fopen(path, "rb");
	struct zw_matrix *m;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int err;

	if (!f) {
		err = errno;
		zw_diags__add(diags, ZW_ERROR, 1, ZW_LOC(0, 0),
			      "cannot read %s: %s", path, strerror(err));
		errno = err;
		return NULL;
	}
	for (;;) {
		if (zw_grow((void **)&buf, &cap, len + 65536, 1) < 0) {
			fclose(f);
			free(buf);
			errno = ENOMEM;
			return NULL;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (n == 0 || len > MAX_TEXT)
			break;
	}
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (err) {
		zw_diags__add(diags, ZW_ERROR, 1, ZW_LOC(0, 0),
			      "cannot read %s: %s", path, strerror(err));
		free(buf);
		errno = err;
		return NULL;
	}
	m = zw_matrix__parse(buf, len, path, diags);
	err = errno;
	free(buf);
	errno = err;
	return m;
}

static void free_flow(struct zw_flow *f)
{
	free(f->id);
	free(f->src);
	free(f->dst);
	free(f->services);
	free(f->justification);
	free(f->compensating);
	free(f->owner);
}

void zw_matrix__free(struct zw_matrix *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_zones; i++) {
		free(m->zones[i].name);
		free(m->zones[i].networks);
		free(m->zones[i].description);
	}
	free(m->zones);
	for (size_t i = 0; i < m->n_services; i++)
		zw_service_fini(&m->services[i]);
	free(m->services);
	for (size_t i = 0; i < m->n_flows; i++)
		free_flow(&m->flows[i]);
	free(m->flows);
	for (size_t i = 0; i < m->n_probes; i++) {
		free(m->probes[i].name);
		free(m->probes[i].interface);
		free(m->probes[i].zones);
		free(m->probes[i].description);
	}
	free(m->probes);
	free(m->name);
	free(m->file);
	free(m);
}

int zw_matrix__zone_index(const struct zw_matrix *m, const char *name)
{
	for (size_t i = 0; i < m->n_zones; i++)
		if (m->zones[i].name && !strcmp(m->zones[i].name, name))
			return (int)i;
	return -1;
}

int zw_matrix__service_index(const struct zw_matrix *m, const char *name)
{
	for (size_t i = 0; i < m->n_services; i++)
		if (m->services[i].name && !strcmp(m->services[i].name, name))
			return (int)i;
	return -1;
}

int zw_matrix__probe_index(const struct zw_matrix *m, const char *name)
{
	for (size_t i = 0; i < m->n_probes; i++)
		if (!strcmp(m->probes[i].name, name))
			return (int)i;
	return -1;
}

int zw_matrix__flow_index(const struct zw_matrix *m, const char *id)
{
	for (size_t i = 0; i < m->n_flows; i++)
		if (m->flows[i].id && !strcmp(m->flows[i].id, id))
			return (int)i;
	return -1;
}

bool zw_flow__live(const struct zw_flow *flow, int32_t day)
{
	return zw_date__live(flow->expires, day);
}
