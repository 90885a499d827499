/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the matrix library: parser, model, validator (every ZW code
 * triggered and not triggered), compiler, image loader, evaluator. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include <zonewall/eval.h>
#include <zonewall/flow_record.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#define TODAY_STR "2026-11-01"

static int32_t today(void)
{
	int32_t d;

	zw_date__parse(TODAY_STR, &d);
	return d;
}

/* Zones satisfying the minimal profile; tests append flows/services. */
static const char *BASE =
	"zonewall: 1\n"
	"name: t\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.1.0.0/24, \"fd00:1::/64\"], isolate: true}\n"
	"  jump: {kind: servers, networks: [10.2.0.0/24, \"fd00:2::/64\"]}\n"
	"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
	"  upd: {kind: update, networks: [10.4.0.0/24]}\n"
	"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
	"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
	"  inet: {kind: internet-access, networks: [192.0.2.0/28]}\n";

/* Flows that use every zone so ZW050 stays quiet. */
static const char *USE_ALL =
	"  - {id: U1, from: ops, to: jump, services: [ssh], justification: j}\n"
	"  - {id: U2, from: jump, to: adm, services: [https], justification: j}\n"
	"  - {id: U3, from: upd, to: inet, services: [proxy], justification: j}\n"
	"  - {id: U4, from: vpn, to: jump, services: [rdp], justification: j}\n"
	"  - {id: U5, from: xchg, to: jump, services: [syslog-tls], justification: j}\n";

struct result {
	struct zw_matrix *m;
	struct zw_diags d;
};

static void run(struct result *r, const char *yaml)
{
	zw_diags__init(&r->d, "t.yaml");
	r->m = zw_matrix__parse(yaml, strlen(yaml), "t.yaml", &r->d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->m);
	zw_matrix__validate(r->m, today(), &r->d);
}

static void done(struct result *r)
{
	zw_matrix__free(r->m);
	zw_diags__fini(&r->d);
}

static int count_code(const struct result *r, int code)
{
	int n = 0;

	for (size_t i = 0; i < r->d.n; i++)
		n += r->d.v[i].code == code;
	return n;
}

/* Build BASE + services + "flows:" + USE_ALL + extra flows. */
static char *doc(const char *services, const char *flows)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s%sflows:\n%s%s", BASE, services ? "services:\n" : "",
		     services ? services : "", USE_ALL, flows ? flows : "") < 0)
		return NULL;
	return s;
}

/* Assert @code appears (want=1) or not (want=0) for the document. */
static void expect_code(const char *yaml, int code, int want, int line)
{
	struct result r;
	int n;

	run(&r, yaml);
	n = count_code(&r, code);
	if ((want && !n) || (!want && n)) {
		fprintf(stderr, "\nline %d: ZW%03d %s expected; got:\n", line, code,
			want ? "" : "not");
		zw_diags__print_text(&r.d, stderr);
	}
	CU_ASSERT(want ? n > 0 : n == 0);
	done(&r);
}

#define EXPECT(yaml, code) expect_code((yaml), (code), 1, __LINE__)
#define EXPECT_NOT(yaml, code) expect_code((yaml), (code), 0, __LINE__)

static void expect_doc(const char *svc, const char *flows, int code, int want,
		       int line)
{
	char *y = doc(svc, flows);

	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	expect_code(y, code, want, line);
	free(y);
}

#define EXPECT_DOC(svc, flows, code) expect_doc((svc), (flows), (code), 1, __LINE__)
#define EXPECT_DOC_NOT(svc, flows, code) expect_doc((svc), (flows), (code), 0, __LINE__)

/* ---- the clean base ---- */

static void test_base_is_clean(void)
{
	char *y = doc(NULL, NULL);
	struct result r;

	run(&r, y);
	if (r.d.n)
		zw_diags__print_text(&r.d, stderr);
	CU_ASSERT_EQUAL(r.d.n, 0);
	CU_ASSERT_EQUAL(r.m->n_flows, 5);
	CU_ASSERT_EQUAL(r.m->n_zones, 8); /* 7 + outside */
	CU_ASSERT_STRING_EQUAL(r.m->zones[0].name, "outside");
	done(&r);
	free(y);
}

/* ---- parser ---- */

static void test_parse_positions(void)
{
	const char *y = "zonewall: 1\nname: t\nzones:\n  a: {kind: bogus, networks: [10.0.0.0/8]}\nflows: []\n";
	struct result r;

	run(&r, y);
	CU_ASSERT(count_code(&r, 1) >= 1);
	/* The unknown kind is reported where it is written: line 4. */
	bool found = false;

	for (size_t i = 0; i < r.d.n; i++)
		if (r.d.v[i].code == 1 && r.d.v[i].loc.line == 4 &&
		    r.d.v[i].loc.col == 13)
			found = true;
	CU_ASSERT(found);
	done(&r);
}

static void test_parse_zw001(void)
{
	/* syntax error */
	EXPECT("zonewall: 1\nname: [unclosed\n", 1);
	/* unknown top-level key */
	EXPECT("zonewall: 1\nname: t\nzones: {}\nflows: []\nflowz: []\n", 1);
	/* duplicate top-level key */
	EXPECT("zonewall: 1\nname: t\nname: u\nzones: {}\nflows: []\n", 1);
	/* duplicate zone */
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8]}\n  a: {kind: servers, networks: [11.0.0.0/8]}\nflows: []\n", 1);
	/* missing required keys */
	EXPECT("name: t\nzones: {}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nzones: {}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: t\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: t\nzones: {}\n", 1);
	/* wrong version, wrong type */
	EXPECT("zonewall: 2\nname: t\nzones: {}\nflows: []\n", 1);
	EXPECT("zonewall: one\nname: t\nzones: {}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: T!\nzones: {}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: t\nprofile: maximal\nzones: {}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: t\nzones: []\nflows: []\n", 1);
	/* reserved zone name, bad zone name */
	EXPECT("zonewall: 1\nname: t\nzones:\n  outside: {kind: servers, networks: [10.0.0.0/8]}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: t\nzones:\n  Bad: {kind: servers, networks: [10.0.0.0/8]}\nflows: []\n", 1);
	/* empty networks, bool typo */
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: []}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8], isolate: yes}\nflows: []\n", 1);
	/* aliases refused */
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: &z {kind: servers, networks: [10.0.0.0/8]}\n  b: *z\nflows: []\n", 1);
	/* two documents */
	EXPECT("zonewall: 1\nname: t\nzones: {}\nflows: []\n---\nzonewall: 1\n", 1);
	/* flows: bad id, bad date, bad rate, unknown key, duplicate service */
	EXPECT_DOC(NULL, "  - {id: -x, from: ops, to: jump, services: [ssh], justification: j}\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: j, review: 2026-02-30}\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: j, rate: 10/m}\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: j, comment: c}\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [ssh, ssh], justification: j}\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [], justification: j}\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, to: jump, services: [ssh], justification: j}\n", 1);
	/* services: ports rules */
	EXPECT_DOC("  s1: {proto: tcp}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: icmp, ports: [1]}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: tcp, ports: [0]}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: tcp, ports: [65536]}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: tcp, ports: [\"90-80\"]}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: tcp, ports: [\"80-\"]}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: tcpp, ports: [80]}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: 256}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: tcp, ports: [80], types: [echo-request]}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: icmp, types: [no-such-type]}\n", NULL, 1);
	EXPECT_DOC("  s1: {proto: tcp, ports: [80], inspect: gopher}\n", NULL, 1);
	/* and what is fine */
	EXPECT_DOC_NOT("  s1: [{proto: tcp, ports: [80, \"8000-8080\"]}, {proto: 47}]\n",
		       "  - {id: X, from: jump, to: upd, services: [s1], justification: j}\n", 1);
}

/* Text of @n repetitions of @unit between @head and @tail (malloc'd). */
static char *repeat(const char *head, const char *unit, size_t n,
		    const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *p = s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

/* The first ZW001 message of @yaml contains @want. (How fast the refusal
 * is, is measured by hand and in the notes, never as a timed test: the
 * pre-pass refuses before the document is loaded.) */
static void expect_refused(const char *yaml, const char *want, int line)
{
	struct zw_diags d;
	struct zw_matrix *m;
	bool found = false;

	zw_diags__init(&d, "t.yaml");
	m = zw_matrix__parse(yaml, strlen(yaml), "t.yaml", &d);
	CU_ASSERT_PTR_NOT_NULL(m);
	for (size_t i = 0; i < d.n; i++)
		found |= d.v[i].code == 1 && strstr(d.v[i].message, want);
	if (!found) {
		fprintf(stderr, "\nline %d: wanted ZW001 '%s'; got:\n", line,
			want);
		zw_diags__print_text(&d, stderr);
	}
	CU_ASSERT(found);
	zw_matrix__free(m);
	zw_diags__fini(&d);
}

/* Hostile sizes are refused by the pre-scan, before libyaml's loader
 * builds a node for each: 60 000 nested '[' (the loader is quadratic in
 * depth), too many zones, flows, list entries or nodes in all. */
static void test_parse_limits(void)
{
	char *y, *z;

	y = repeat("", "[", 60000, "");
	z = repeat(y, "]", 60000, "\n");
	expect_refused(z, "nested deeper than 16 levels", __LINE__);
	free(y);
	free(z);
	y = repeat("zonewall: 1\nname: t\nzones: ", "{a: ", 30000, "1");
	z = repeat(y, "}", 30000, "\nflows: []\n");
	expect_refused(z, "nested deeper than 16 levels", __LINE__);
	free(y);
	free(z);

	y = repeat("zonewall: 1\nname: t\nzones:\n",
		   "  z: {kind: servers, networks: [10.0.0.0/8]}\n", 4097,
		   "flows: []\n");
	expect_refused(y, "too many zones (more than 4096)", __LINE__);
	free(y);
	y = repeat("zonewall: 1\nname: t\nzones: {}\nservices:\n",
		   "  s: {proto: 47}\n", 4097, "flows: []\n");
	expect_refused(y, "too many services (more than 4096)", __LINE__);
	free(y);
	y = repeat("zonewall: 1\nname: t\nzones: {}\nflows:\n", "- {}\n", 100001,
		   "");
	expect_refused(y, "too many flows (more than 100000)", __LINE__);
	free(y);
	y = repeat("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [",
		   "10.0.0.0/8,", 1000001, "]}\nflows: []\n");
	expect_refused(y, "list too long (more than 1000000 entries)",
		       __LINE__);
	free(y);
	y = repeat("zonewall: 1\nname: t\nzones: {}\nflows: []\nx: [", "1,",
		   999999, "]\n");
	z = repeat(y, "", 0, "y: [");
	free(y);
	y = repeat(z, "1,", 999999, "]\n");
	expect_refused(y, "too many YAML nodes (more than 2000000)",
		       __LINE__);
	free(y);
	free(z);
}

/* A scalar tagged !!str is a string, as if quoted: never the boolean or
 * the plain integer the language expects there. Other tags are refused. */
static void test_parse_tags(void)
{
	struct result r;

	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8], isolate: !!str true}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8], isolate: ! true}\nflows: []\n", 1);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8], isolate: \"true\"}\nflows: []\n", 1);
	EXPECT("zonewall: !!str 1\nname: t\nzones: {}\nflows: []\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: j, log: !!str false}\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: j, log: !!bool true}\n", 1);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: !custom j}\n", 1);
	EXPECT_DOC(NULL, "  - !!map {id: X, from: ops, to: jump, services: [ssh], justification: j}\n", 1);
	/* a tagged string where a string is expected is a string */
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: !!str true}\n", 1);
	/* and a quoted "null" is the word, not the empty string */
	run(&r, "zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8], description: !!str null}\nflows: []\n");
	CU_ASSERT_EQUAL(count_code(&r, 1), 0);
	CU_ASSERT_STRING_EQUAL(r.m->zones[1].description, "null");
	done(&r);
}

static void test_parse_model(void)
{
	char *y = doc("  web: {proto: tcp, ports: [\"8000-8080\", 80, 81, \"8070-8090\"]}\n"
		      "  ping6: {proto: icmpv6, types: [echo-request, 1]}\n",
		      "  - {id: X, from: jump, to: upd, dst: [10.4.0.7], services: [web, ping6], justification: j, log: true, rate: 25/s, expires: 2027-01-31, owner: net team}\n");
	struct result r;

	run(&r, y);
	CU_ASSERT_EQUAL(r.d.n_errors, 0);
	int w = zw_matrix__service_index(r.m, "web");

	CU_ASSERT_FATAL(w >= 0);
	const struct zw_service *s = &r.m->services[w];

	/* Ranges are sorted and merged: 80-81, 8000-8090. */
	CU_ASSERT_EQUAL(s->entries[0].n_ports, 2);
	CU_ASSERT_EQUAL(s->entries[0].ports[0].lo, 80);
	CU_ASSERT_EQUAL(s->entries[0].ports[0].hi, 81);
	CU_ASSERT_EQUAL(s->entries[0].ports[1].lo, 8000);
	CU_ASSERT_EQUAL(s->entries[0].ports[1].hi, 8090);
	int p = zw_matrix__service_index(r.m, "ping6");

	CU_ASSERT_EQUAL(r.m->services[p].entries[0].proto, 58);
	CU_ASSERT_EQUAL(r.m->services[p].entries[0].n_types, 2);
	CU_ASSERT_EQUAL(r.m->services[p].entries[0].types[0].lo, 1);
	CU_ASSERT_EQUAL(r.m->services[p].entries[0].types[1].lo, 128);
	int f = zw_matrix__flow_index(r.m, "X");

	CU_ASSERT_FATAL(f >= 0);
	const struct zw_flow *fl = &r.m->flows[f];

	CU_ASSERT_EQUAL(fl->n_dst, 1);
	CU_ASSERT_EQUAL(fl->dst[0].len, 32);
	CU_ASSERT(fl->log);
	CU_ASSERT_EQUAL(fl->rate, 25);
	CU_ASSERT_STRING_EQUAL(fl->owner, "net team");
	char b[11];

	CU_ASSERT_STRING_EQUAL(zw_date__format(fl->expires, b), "2027-01-31");
	/* Built-in catalogue present and overridable. */
	CU_ASSERT(zw_matrix__service_index(r.m, "ipsec") >= 0);
	CU_ASSERT(r.m->services[zw_matrix__service_index(r.m, "ipsec")].classes & ZW_SVC_VPN);
	done(&r);
	free(y);

	y = doc("  ssh: {proto: tcp, ports: [2222]}\n",
		"  - {id: X, from: jump, to: upd, services: [ssh], justification: j}\n");
	run(&r, y);
	s = &r.m->services[zw_matrix__service_index(r.m, "ssh")];
	CU_ASSERT_FALSE(s->builtin);
	CU_ASSERT_EQUAL(s->entries[0].ports[0].lo, 2222);
	CU_ASSERT(s->classes & ZW_SVC_ADMIN); /* an override keeps its nature */
	CU_ASSERT_EQUAL(count_code(&r, 50), 0); /* used by flow X */
	done(&r);
	free(y);
}

/* ---- validator: each code triggered and not triggered ---- */

static void test_zw002(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: nowhere, to: jump, services: [ssh], justification: j}\n", 2);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, services: [sshh], justification: j}\n", 2);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: outside, to: vpn, services: [ipsec], justification: j}\n", 2);
}

static void test_zw003(void)
{
	EXPECT_DOC(NULL, "  - {id: U1, from: ops, to: adm, services: [ssh], justification: j}\n", 3);
	EXPECT_DOC_NOT(NULL, "  - {id: U1b, from: jump, to: upd, services: [ssh], justification: j}\n", 3);
}

static void test_zw010(void)
{
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.1/24]}\nflows: []\n", 10);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/33]}\nflows: []\n", 10);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [not-an-ip]}\nflows: []\n", 10);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8]}\n  b: {kind: admin, networks: [10.9.0.0/16]}\nflows: []\n", 10);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [\"fd00::/16\"]}\n  b: {kind: admin, networks: [\"fd00:1::/64\"]}\nflows: []\n", 10);
	/* adjacent, different families, same zone twice: fine */
	EXPECT_NOT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/9, \"fd00::/16\"]}\n  b: {kind: admin, networks: [10.128.0.0/9, \"fd01::/16\"]}\nflows: []\n", 10);
}

static void test_zw011(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, src: [10.9.0.1], services: [ssh], justification: j}\n", 11);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, dst: [10.2.0.0/16], services: [ssh], justification: j}\n", 11);
	EXPECT_DOC(NULL, "  - {id: X, from: inet, to: outside, dst: [10.2.0.5], services: [https], justification: j}\n", 11);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: inet, to: outside, dst: [198.51.100.0/24], services: [https], justification: j}\n", 11);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: ops, to: jump, src: [10.1.0.5, \"fd00:1::5\"], dst: [10.2.0.0/25], services: [ssh], justification: j}\n", 11);
	/* a narrowing spanning two adjacent networks of the zone */
	EXPECT_NOT("zonewall: 1\nname: t\nzones:\n"
		   "  a: {kind: servers, networks: [10.0.0.0/25, 10.0.0.128/26, 10.0.0.192/26]}\n"
		   "  b: {kind: admin, networks: [10.1.0.0/24]}\n"
		   "flows:\n  - {id: X, from: a, to: b, src: [10.0.0.0/24], services: [ssh], justification: j}\n", 11);
	/* ... but not with a hole */
	EXPECT("zonewall: 1\nname: t\nzones:\n"
	       "  a: {kind: servers, networks: [10.0.0.0/25, 10.0.0.192/26]}\n"
	       "  b: {kind: admin, networks: [10.1.0.0/24]}\n"
	       "flows:\n  - {id: X, from: a, to: b, src: [10.0.0.0/24], services: [ssh], justification: j}\n", 11);
}

/* The case: an internal zone declared as the IPv4 internet, the
 * other zones IPv6 only (so no overlap): refused, where it used to pass
 * and make explain say "same zone" for 8.8.8.8. */
static const char *V6_ONLY =
	"zonewall: 1\nname: t\nzones:\n"
	"  ops: {kind: operations, networks: [\"fd00:1::/64\"], isolate: true}\n"
	"  jump: {kind: servers, networks: [\"fd00:2::/64\"]}\n"
	"  adm: {kind: admin, networks: [\"fd00:3::/64\"]}\n"
	"  upd: {kind: update, networks: [\"fd00:4::/64\"]}\n"
	"  vpn: {kind: remote-access, networks: [\"fd00:5::/64\"]}\n"
	"  xchg: {kind: provider-exchange, networks: [\"fd00:6::/64\"]}\n";

static char *v6_doc(const char *zone, const char *flows)
{
	char *s = NULL;

	if (asprintf(&s, "%s%sflows:\n%s", V6_ONLY, zone, flows ? flows : "") < 0)
		return NULL;
	return s;
}

static void expect_v6(const char *zone, const char *flows, int code, int want,
		      int line)
{
	char *y = v6_doc(zone, flows);

	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	expect_code(y, code, want, line);
	free(y);
}

static void test_zw012_013(void)
{
	struct result r;
	char *y;

	/* an internal zone holding a default route: an error, whatever kind */
	expect_v6("  int: {kind: internal-service, networks: [0.0.0.0/0]}\n", NULL, 12, 1, __LINE__);
	expect_v6("  int: {kind: infrastructure, networks: [\"::/0\"]}\n", NULL, 12, 1, __LINE__);
	expect_v6("  int: {kind: servers, networks: [0.0.0.0/1, 128.0.0.0/1]}\n", NULL, 12, 1, __LINE__);
	/* several /8s adding up to more than a /7 */
	expect_v6("  int: {kind: servers, networks: [10.0.0.0/8, 11.0.0.0/8, 12.0.0.0/8]}\n", NULL, 12, 1, __LINE__);
	expect_v6("  int: {kind: servers, networks: [\"2000::/3\"]}\n", NULL, 12, 1, __LINE__);
	/* private space is not broad: all of RFC 1918 plus CGNAT, a /7 */
	expect_v6("  int: {kind: servers, networks: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10]}\n", NULL, 12, 0, __LINE__);
	expect_v6("  int: {kind: servers, networks: [10.0.0.0/7, \"fc00::/7\"]}\n", NULL, 12, 0, __LINE__);
	/* nested prefixes of one zone are counted once */
	expect_v6("  int: {kind: servers, networks: [10.0.0.0/7, 10.0.0.0/8, 11.1.0.0/16]}\n", NULL, 12, 0, __LINE__);
	/* an interconnection zone: a warning with the address count */
	y = v6_doc("  inet: {kind: internet-access, networks: [0.0.0.0/0]}\n",
		   "  - {id: I, from: upd, to: inet, services: [https], justification: j}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	run(&r, y);
	CU_ASSERT_EQUAL(count_code(&r, 12), 0);
	CU_ASSERT_EQUAL(count_code(&r, 13), 1);
	for (size_t i = 0; i < r.d.n; i++)
		if (r.d.v[i].code == 13) {
			CU_ASSERT_EQUAL(r.d.v[i].level, ZW_WARNING);
			CU_ASSERT(strstr(r.d.v[i].message, "4294967296") != NULL);
		}
	done(&r);
	free(y);
	expect_v6("  inet: {kind: internet-access, networks: [\"::/0\"]}\n", NULL, 13, 1, __LINE__);
	expect_v6("  inet: {kind: internet-access, networks: [192.0.2.0/24]}\n", NULL, 13, 0, __LINE__);
	y = v6_doc("  inet: {kind: internet-access, networks: [\"2000::/3\"]}\n", NULL);
	run(&r, y);
	for (size_t i = 0; i < r.d.n; i++)
		if (r.d.v[i].code == 13)
			CU_ASSERT(strstr(r.d.v[i].message, "2^125") != NULL);
	done(&r);
	free(y);
}

/* IPv4-mapped IPv6 prefixes are refused wherever a prefix is written; a
 * query spelled that way is answered for the IPv4 address. */
static void test_zw014(void)
{
	struct zw_query q;
	char err[128];

	expect_v6("  int: {kind: servers, networks: [\"::ffff:10.1.0.5\"]}\n", NULL, 14, 1, __LINE__);
	expect_v6("  int: {kind: servers, networks: [\"::ffff:10.1.0.0/120\"]}\n", NULL, 14, 1, __LINE__);
	expect_v6("  int: {kind: servers, networks: [\"::ffff:0:0/96\"]}\n", NULL, 14, 1, __LINE__);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, dst: [\"::ffff:10.2.0.5\"], services: [ssh], justification: j}\n", 14);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: jump, src: [\"::ffff:10.1.0.5\"], services: [ssh], justification: j}\n", 14);
	/* not mapped: ::/96 (IPv4-compatible, deprecated) and a /95 around it */
	expect_v6("  int: {kind: servers, networks: [\"::a01:5/128\", \"::fffe:0:0/95\"]}\n", NULL, 14, 0, __LINE__);

	CU_ASSERT_EQUAL(zw_query__parse(&q, "::ffff:10.1.0.5", "10.2.0.5", "tcp", "22", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(q.family, ZW_AF_INET);
	CU_ASSERT(q.src[0] == 10 && q.src[1] == 1 && q.src[2] == 0 && q.src[3] == 5);
	CU_ASSERT(q.src[4] == 0 && q.src[15] == 0);
	CU_ASSERT_EQUAL(zw_query__parse(&q, "fd00:1::5", "::ffff:10.2.0.5", "tcp", "22", err, sizeof(err)), -EINVAL);
}

static void test_zw020(void)
{
	char *y = doc(NULL, NULL), *p = NULL;

	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8]}\nflows: []\n", 20);
	EXPECT_NOT(y, 20); /* BASE has every minimal kind */
	/* piams also needs infrastructure and internal-service */
	CU_ASSERT(asprintf(&p, "profile: piams\n%s", y) > 0);
	EXPECT(p, 20);
	free(p);
	CU_ASSERT(asprintf(&p, "profile: piams\n%s", y) > 0);
	free(p);
	p = NULL;
	CU_ASSERT(asprintf(&p, "profile: piams\n%s"
			   "  - {id: I1, from: jump, to: infra, services: [dns], justification: j}\n"
			   "  - {id: I2, from: jump, to: apps, services: [https], justification: j}\n",
			   y) > 0);
	char *z = strstr(p, "flows:");
	char *full = NULL;

	CU_ASSERT(asprintf(&full, "%.*s  infra: {kind: infrastructure, networks: [10.7.0.0/24]}\n"
			   "  apps: {kind: internal-service, networks: [10.8.0.0/24]}\n%s",
			   (int)(z - p), p, z) > 0);
	EXPECT_NOT(full, 20);
	free(full);
	free(p);
	free(y);
}

static void test_zw021(void)
{
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: operations, networks: [10.0.0.0/8]}\nflows: []\n", 21);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: operations, networks: [10.0.0.0/8], isolate: false}\nflows: []\n", 21);
	EXPECT_DOC(NULL, "  - {id: X, from: ops, to: ops, services: [ssh], justification: j}\n", 21);
	EXPECT_DOC_NOT(NULL, NULL, 21);
}

static void test_zw022(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: outside, to: jump, services: [ssh], justification: j}\n", 22);
	EXPECT_DOC(NULL, "  - {id: X, from: upd, to: outside, services: [https], justification: j}\n", 22);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: inet, to: outside, services: [https], justification: j}\n", 22);
}

static void test_zw023(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: xchg, to: adm, services: [https], justification: j}\n", 23);
	EXPECT_DOC(NULL, "  - {id: X, from: inet, to: adm, services: [https], justification: j}\n", 23);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: vpn, to: adm, services: [https], justification: j}\n", 23);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: jump, to: adm, services: [ssh], justification: j}\n", 23);
}

static void test_zw030(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: jump, to: upd, services: [https]}\n", 30);
	EXPECT_DOC(NULL, "  - {id: X, from: jump, to: upd, services: [https], justification: \"  \"}\n", 30);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: jump, to: upd, services: [https], justification: ok}\n", 30);
}

static void test_zw031(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: jump, to: upd, services: [http], justification: j}\n", 31);
	EXPECT_DOC("  old: {proto: udp, ports: [69], unsafe: true}\n",
		   "  - {id: X, from: jump, to: upd, services: [old], justification: j, compensating: \"\"}\n", 31);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: jump, to: upd, services: [http], justification: j, compensating: dedicated VLAN}\n", 31);
}

static void test_zw032(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: jump, to: upd, services: [telnet], justification: j, compensating: c}\n", 32);
	EXPECT_DOC(NULL, "  - {id: X, from: jump, to: upd, services: [snmp], justification: j, compensating: c}\n", 32);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: jump, to: upd, services: [ssh], justification: j}\n", 32);
	/* unsafe but not an admin protocol */
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: jump, to: upd, services: [http], justification: j, compensating: c}\n", 32);
}

static void test_zw033(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: outside, to: vpn, services: [rdp], justification: j}\n", 33);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: outside, to: vpn, services: [wireguard, https], justification: j}\n", 33);
	EXPECT_DOC_NOT("  gw: {proto: tcp, ports: [8443], inspect: tls}\n",
		       "  - {id: X, from: outside, to: vpn, services: [gw], justification: j}\n", 33);
	/* an overridden VPN built-in stays a VPN */
	EXPECT_DOC_NOT("  wireguard: {proto: udp, ports: [51821]}\n",
		       "  - {id: X, from: outside, to: vpn, services: [wireguard], justification: j}\n", 33);
}

static void test_zw040(void)
{
	/* exact duplicate: the later one is reported, once */
	char *y = doc(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: j}\n");
	struct result r;

	run(&r, y);
	CU_ASSERT_EQUAL(count_code(&r, 40), 1);
	for (size_t i = 0; i < r.d.n; i++)
		if (r.d.v[i].code == 40)
			CU_ASSERT(strstr(r.d.v[i].message, "flow X ") != NULL);
	done(&r);
	free(y);
	/* covered only by the union of two flows */
	EXPECT_DOC("  a: {proto: tcp, ports: [\"1000-1999\"]}\n  b: {proto: tcp, ports: [\"2000-2999\"]}\n  c: {proto: tcp, ports: [\"1500-2500\"]}\n",
		   "  - {id: A, from: jump, to: upd, services: [a], justification: j}\n"
		   "  - {id: B, from: jump, to: upd, services: [b], justification: j}\n"
		   "  - {id: C, from: jump, to: upd, services: [c], justification: j}\n", 40);
	/* one port outside the union: not redundant */
	EXPECT_DOC_NOT("  a: {proto: tcp, ports: [\"1000-1999\"]}\n  b: {proto: tcp, ports: [\"2001-2999\"]}\n  c: {proto: tcp, ports: [\"1500-2500\"]}\n",
		       "  - {id: A, from: jump, to: upd, services: [a], justification: j}\n"
		       "  - {id: B, from: jump, to: upd, services: [b], justification: j}\n"
		       "  - {id: C, from: jump, to: upd, services: [c], justification: j}\n", 40);
	/* narrowed sources: two halves cover the whole, one half does not */
	EXPECT_DOC(NULL,
		   "  - {id: A, from: jump, to: upd, src: [10.2.0.0/25], services: [ssh], justification: j}\n"
		   "  - {id: B, from: jump, to: upd, src: [10.2.0.128/25, \"fd00:2::/64\"], services: [ssh], justification: j}\n"
		   "  - {id: C, from: jump, to: upd, services: [ssh], justification: j}\n", 40);
	y = doc(NULL,
		"  - {id: A, from: jump, to: upd, src: [10.2.0.0/25], services: [ssh], justification: j}\n"
		"  - {id: B, from: jump, to: upd, src: [10.2.0.128/26], services: [ssh], justification: j}\n"
		"  - {id: C, from: jump, to: upd, services: [ssh], justification: j}\n");
	run(&r, y);
	/* C is not covered by A and B (10.2.0.192/26 is missing); A and B are
	 * covered by C. */
	CU_ASSERT_EQUAL(count_code(&r, 40), 2);
	for (size_t i = 0; i < r.d.n; i++)
		if (r.d.v[i].code == 40)
			CU_ASSERT(strstr(r.d.v[i].message, "flow C ") == NULL);
	done(&r);
	free(y);
	/* expired coverer does not count */
	EXPECT_DOC_NOT(NULL,
		       "  - {id: A, from: jump, to: upd, services: [ssh], justification: j, expires: 2026-01-01}\n"
		       "  - {id: B, from: jump, to: upd, dst: [10.4.0.1], services: [ssh], justification: j}\n", 40);
	/* a coverer that expires before the flow does not make it redundant:
	 * removing B would cut ssh after 2026-11-05. A, whose whole life B
	 * covers, is the redundant one. */
	y = doc(NULL,
		"  - {id: A, from: jump, to: upd, services: [ssh], justification: j, expires: 2026-11-05}\n"
		"  - {id: B, from: jump, to: upd, services: [ssh], justification: j}\n");
	run(&r, y);
	CU_ASSERT_EQUAL(count_code(&r, 40), 1);
	for (size_t i = 0; i < r.d.n; i++)
		if (r.d.v[i].code == 40)
			CU_ASSERT(strstr(r.d.v[i].message, "flow A ") != NULL);
	done(&r);
	free(y);
	EXPECT_DOC_NOT(NULL,
		       "  - {id: A, from: jump, to: upd, services: [ssh], justification: j, expires: 2026-11-05}\n"
		       "  - {id: B, from: jump, to: upd, dst: [10.4.0.1], services: [ssh], justification: j, expires: 2026-11-06}\n", 40);
	/* same expiry: the later one is redundant */
	EXPECT_DOC(NULL,
		   "  - {id: A, from: jump, to: upd, services: [ssh], justification: j, expires: 2026-11-05}\n"
		   "  - {id: B, from: jump, to: upd, services: [ssh], justification: j, expires: 2026-11-05}\n", 40);
	/* a flow inside a non-isolated zone */
	EXPECT_DOC(NULL, "  - {id: X, from: jump, to: jump, services: [ssh], justification: j}\n", 40);
	/* different ICMP types do not cover each other */
	EXPECT_DOC_NOT("  e: {proto: icmp, types: [echo-request]}\n  r: {proto: icmp, types: [echo-reply]}\n",
		       "  - {id: A, from: jump, to: upd, services: [e], justification: j}\n"
		       "  - {id: B, from: jump, to: upd, services: [r], justification: j}\n", 40);
	/* all ICMP types cover one */
	EXPECT_DOC("  e: {proto: icmp, types: [echo-request]}\n  all: {proto: icmp}\n",
		   "  - {id: A, from: jump, to: upd, services: [all], justification: j}\n"
		   "  - {id: B, from: jump, to: upd, services: [e], justification: j}\n", 40);
}

/* A flow covered by six flows with 64-character ids: the message names the
 * first ones and counts the rest, within bounds (it used to write past its
 * 256-byte buffer). */
static void test_zw040_long_ids(void)
{
	char svc[1024] = "", flows[4096] = "", id[65];
	size_t sl = 0, fl = 0;
	struct result r;
	int found = 0;

	for (int k = 1; k <= 6; k++) {
		snprintf(id, sizeof(id), "%060d%04d", 0, k);
		sl += (size_t)snprintf(svc + sl, sizeof(svc) - sl,
				       "  p%d: {proto: tcp, ports: [%d]}\n", k, 1000 + k);
		fl += (size_t)snprintf(flows + fl, sizeof(flows) - fl,
				       "  - {id: \"%s\", from: jump, to: upd, services: [p%d], justification: j}\n",
				       id, k);
	}
	snprintf(svc + sl, sizeof(svc) - sl, "  pall: {proto: tcp, ports: [\"1001-1006\"]}\n");
	snprintf(flows + fl, sizeof(flows) - fl,
		 "  - {id: R, from: jump, to: upd, services: [pall], justification: j}\n");
	char *y = doc(svc, flows);

	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	run(&r, y);
	for (size_t i = 0; i < r.d.n; i++) {
		const char *msg = r.d.v[i].message;

		if (r.d.v[i].code != 40)
			continue;
		found++;
		CU_ASSERT(strstr(msg, "flow R ") != NULL);
		CU_ASSERT(strstr(msg, "0001") != NULL);
		CU_ASSERT(strstr(msg, " and 1 more") != NULL);
	}
	CU_ASSERT_EQUAL(found, 1);
	done(&r);
	free(y);
}

/* Zones of many scattered networks: a flow between them is a product of
 * 64 x 64 address intervals. Covered by the union of two flows that split
 * its sources, or not when one network is missing. (The check compares
 * zones' interval lists, not their products: with 120 networks per zone
 * and 300 flows of one pair it takes milliseconds, where it took minutes
 * and gigabytes.) */
static void zw040_many_networks(bool leave_one_out, const char *want)
{
	char *y = NULL, *jn = NULL, *un = NULL, *h1 = NULL, *h2 = NULL;
	size_t l;
	FILE *f;
	struct result r;
	int found = 0;

	f = open_memstream(&jn, &l);
	for (int k = 0; k < 64; k++)
		fprintf(f, "%s10.2.%d.0/24", k ? ", " : "", 2 * k);
	fclose(f);
	f = open_memstream(&un, &l);
	for (int k = 0; k < 64; k++)
		fprintf(f, "%s10.4.%d.0/24", k ? ", " : "", 2 * k);
	fclose(f);
	f = open_memstream(&h1, &l);
	for (int k = 0; k < 32; k++)
		fprintf(f, "%s10.2.%d.0/24", k ? ", " : "", 2 * k);
	fclose(f);
	f = open_memstream(&h2, &l);
	for (int k = 32; k < 64; k++)
		if (!leave_one_out || k != 40)
			fprintf(f, "%s10.2.%d.0/24", k > 32 ? ", " : "", 2 * k);
	fclose(f);
	CU_ASSERT_FATAL(asprintf(&y,
		"zonewall: 1\nname: t\nzones:\n"
		"  ops: {kind: operations, networks: [10.1.0.0/24], isolate: true}\n"
		"  jump: {kind: servers, networks: [%s, \"fd00:2::/64\"]}\n"
		"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
		"  upd: {kind: update, networks: [%s]}\n"
		"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
		"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
		"  inet: {kind: internet-access, networks: [192.0.2.0/28]}\n"
		"flows:\n%s"
		"  - {id: B, from: jump, to: upd, src: [%s], services: [ssh, https], justification: j}\n"
		"  - {id: C, from: jump, to: upd, src: [%s], services: [ssh], justification: j}\n"
		"  - {id: D, from: jump, to: upd, src: [%s], services: [https], justification: j}\n"
		"  - {id: A, from: jump, to: upd, services: [ssh], justification: j}\n",
		jn, un, USE_ALL, h1, h2, h2) > 0);
	run(&r, y);
	CU_ASSERT_EQUAL(r.d.n_errors, 0);
	for (size_t i = 0; i < r.d.n; i++)
		if (r.d.v[i].code == 40) {
			found++;
			CU_ASSERT(strstr(r.d.v[i].message, want) != NULL);
		}
	if (found != 1)
		zw_diags__print_text(&r.d, stderr);
	CU_ASSERT_EQUAL(found, 1);
	done(&r);
	free(y);
	free(jn);
	free(un);
	free(h1);
	free(h2);
}

static void test_zw040_many_networks(void)
{
	/* A (last) is covered by B and C together: named once, with both */
	zw040_many_networks(false, "flow A is redundant: everything it allows is also allowed by B, C");
	/* one source network of A in neither B nor C: A stays, and it covers C */
	zw040_many_networks(true, "flow C is redundant: everything it allows is also allowed by A");
}

/* No ZW040 names flow @id. */
static void expect_not_named(const char *flows, const char *id, int line)
{
	char *y = doc(NULL, flows), *needle = NULL;
	struct result r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	CU_ASSERT(asprintf(&needle, "flow %s is redundant", id) > 0);
	run(&r, y);
	for (size_t i = 0; i < r.d.n; i++)
		if (r.d.v[i].code == 40 && strstr(r.d.v[i].message, needle)) {
			fprintf(stderr, "\nline %d: %s\n", line, r.d.v[i].message);
			CU_FAIL("flow reported redundant");
		}
	done(&r);
	free(needle);
	free(y);
}

static void test_zw040_attributes(void)
{
	/* A flow that logs or limits does more than allow: never reported
	 * (the plain duplicate U1 may be: the logging X covers it). */
	expect_not_named("  - {id: X, from: ops, to: jump, services: [ssh], justification: j, log: true}\n",
			 "X", __LINE__);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: ops, to: jump, services: [ssh], justification: j, rate: 5/s}\n", 40);
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: jump, to: jump, services: [ssh], justification: j, log: true}\n", 40);
	/* A rate-limited flow covers nothing: removing the other flow would
	 * put its traffic under the limit. */
	EXPECT_DOC_NOT(NULL,
		       "  - {id: A, from: jump, to: upd, services: [ssh, https], justification: j, rate: 5/s}\n"
		       "  - {id: B, from: jump, to: upd, services: [ssh], justification: j}\n", 40);
	/* A logging flow may cover a plain one (traffic unchanged). */
	EXPECT_DOC(NULL,
		   "  - {id: A, from: jump, to: upd, services: [ssh, https], justification: j, log: true}\n"
		   "  - {id: B, from: jump, to: upd, services: [ssh], justification: j}\n", 40);
}

static void test_zw041(void)
{
	EXPECT_DOC(NULL, "  - {id: X, from: jump, to: upd, services: [https], justification: j, expires: 2026-10-31}\n", 41);
	EXPECT_DOC(NULL, "  - {id: X, from: jump, to: upd, services: [https], justification: j, review: 2025-10-31}\n", 41);
	/* live on its expiry day; review exactly 365 days old is fine */
	EXPECT_DOC_NOT(NULL, "  - {id: X, from: jump, to: upd, services: [https], justification: j, expires: 2026-11-01, review: 2025-11-01}\n", 41);
}

static void test_zw050(void)
{
	EXPECT_DOC("  never: {proto: udp, ports: [9]}\n", NULL, 50);
	EXPECT("zonewall: 1\nname: t\nzones:\n  a: {kind: servers, networks: [10.0.0.0/8]}\nflows: []\n", 50);
	EXPECT_DOC_NOT("  used: {proto: udp, ports: [9]}\n",
		       "  - {id: X, from: jump, to: upd, services: [used], justification: j}\n", 50);
}

static void test_all_problems_reported(void)
{
	/* Several independent problems: every one is reported in one run. */
	char *y = doc(NULL,
		      "  - {id: X, from: nowhere, to: jump, services: [ssh], justification: j}\n"
		      "  - {id: Y, from: jump, to: upd, services: [https]}\n"
		      "  - {id: Z, from: jump, to: upd, services: [http], justification: j}\n"
		      "  - {id: U1, from: jump, to: upd, services: [ntp], justification: j}\n");
	struct result r;

	run(&r, y);
	CU_ASSERT(count_code(&r, 2) == 1);
	CU_ASSERT(count_code(&r, 30) == 1);
	CU_ASSERT(count_code(&r, 31) == 1);
	CU_ASSERT(count_code(&r, 3) == 1);
	/* sorted by line */
	for (size_t i = 1; i < r.d.n; i++)
		CU_ASSERT(r.d.v[i - 1].loc.line <= r.d.v[i].loc.line);
	done(&r);
	free(y);
}

/* Text diagnostics are one line each, whatever the file holds: a key with
 * a line break must not print a second, forged diagnostic line. */
static void test_diag_one_line(void)
{
	const char *y = "zonewall: 1\nname: t\n"
			"\"bad\\nx.yaml:1:1: error[ZW999]: forged\\u0007\": 1\n"
			"zones: {}\nflows: []\n";
	struct result r;
	char *buf = NULL;
	size_t len = 0, lines = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	run(&r, y);
	zw_diags__print_text(&r.d, f);
	fclose(f);
	for (size_t i = 0; i < len; i++) {
		lines += buf[i] == '\n';
		CU_ASSERT(buf[i] == '\n' || (unsigned char)buf[i] >= 0x20);
	}
	CU_ASSERT_EQUAL(lines, r.d.n);
	CU_ASSERT(strstr(buf, "\nx.yaml") == NULL);
	CU_ASSERT(strstr(buf, "bad\\nx.yaml") != NULL);
	free(buf);
	done(&r);
}

static void test_codes_documented(void)
{
	static const int codes[] = {1, 2, 3, 10, 11, 20, 21, 22, 23, 30, 31, 32, 33, 40, 41, 50};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const struct zw_code_info *c = zw_code__info(codes[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		CU_ASSERT(c->requirement && *c->requirement);
		CU_ASSERT(c->meaning && strlen(c->meaning) > 20);
		CU_ASSERT(c->fix && strlen(c->fix) > 20);
	}
	CU_ASSERT_PTR_NULL(zw_code__info(999));
}

/* ---- values ---- */

static void test_values(void)
{
	struct zw_prefix p, q;
	int32_t d;
	char b[64];

	CU_ASSERT_EQUAL(zw_prefix__parse("10.0.0.0/8", &p), 0);
	CU_ASSERT_EQUAL(zw_prefix__parse("10.0.0.1/8", &q), -EDOM);
	CU_ASSERT_EQUAL(zw_prefix__parse("10.0.0.1", &q), 0);
	CU_ASSERT_EQUAL(q.len, 32);
	CU_ASSERT(zw_prefix__contains(&p, &q));
	CU_ASSERT(!zw_prefix__contains(&q, &p));
	CU_ASSERT(zw_prefix__overlap(&q, &p));
	CU_ASSERT_EQUAL(zw_prefix__parse("fd00::1/128", &q), 0);
	CU_ASSERT(!zw_prefix__overlap(&q, &p));
	CU_ASSERT_STRING_EQUAL(zw_prefix__format(&q, b), "fd00::1/128");
	CU_ASSERT_EQUAL(zw_prefix__parse("10.0.0.0/", &q), -EINVAL);
	CU_ASSERT_EQUAL(zw_prefix__parse("10.0.0.0/08x", &q), -EINVAL);
	CU_ASSERT_EQUAL(zw_prefix__parse("::/0", &q), 0);
	CU_ASSERT_EQUAL(zw_date__parse("1970-01-01", &d), 0);
	CU_ASSERT_EQUAL(d, 0);
	CU_ASSERT_EQUAL(zw_date__parse("2024-02-29", &d), 0);
	CU_ASSERT_STRING_EQUAL(zw_date__format(d, b), "2024-02-29");
	CU_ASSERT_EQUAL(zw_date__parse("2023-02-29", &d), -EINVAL);
	CU_ASSERT_EQUAL(zw_date__parse("2023-13-01", &d), -EINVAL);
	CU_ASSERT_EQUAL(zw_proto__parse("sctp"), 132);
	CU_ASSERT_EQUAL(zw_proto__parse("255"), 255);
	CU_ASSERT_EQUAL(zw_proto__parse("256"), -1);
	CU_ASSERT_EQUAL(zw_icmp_type__parse(58, "echo-request"), 128);
	CU_ASSERT_EQUAL(zw_icmp_type__parse(1, "echo-request"), 8);
}

/* ---- compiler, loader, evaluator ---- */

static const char *EX =
	"zonewall: 1\nname: ex\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.1.0.0/24, \"fd00:1::/64\"], isolate: true}\n"
	"  jump: {kind: servers, networks: [10.2.0.0/24, \"fd00:2::/64\"]}\n"
	"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
	"  upd: {kind: update, networks: [10.4.0.0/24]}\n"
	"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
	"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
	"services:\n"
	"  web: {proto: tcp, ports: [\"8000-8080\"]}\n"
	"flows:\n"
	"  - {id: F1, from: ops, to: jump, services: [ssh, rdp], justification: j}\n"
	"  - {id: F2, from: jump, to: adm, dst: [10.3.0.10], services: [web], justification: j}\n"
	"  - {id: F3, from: outside, to: vpn, services: [ipsec, icmp-echo], justification: j}\n"
	"  - {id: F4, from: vpn, to: jump, services: [ssh], justification: j, expires: 2026-12-31}\n"
	"  - {id: F5, from: upd, to: jump, services: [https], justification: j}\n"
	"  - {id: F6, from: xchg, to: jump, services: [syslog-tls], justification: j}\n";

static struct zw_image *compile_ex(struct zw_matrix **mout, uint8_t **bytes,
				   size_t *len)
{
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_image *img;
	char err[256];

	zw_diags__init(&d, "ex");
	m = zw_matrix__parse(EX, strlen(EX), "ex.yaml", &d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	zw_matrix__validate(m, today(), &d);
	if (d.n_errors)
		zw_diags__print_text(&d, stderr);
	CU_ASSERT_EQUAL_FATAL(d.n_errors, 0);
	zw_diags__fini(&d);
	CU_ASSERT_EQUAL_FATAL(zw_policy__compile(m, bytes, len), 0);
	img = zw_image__open(*bytes, *len, err, sizeof(err));
	if (!img)
		fprintf(stderr, "open: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	*mout = m;
	return img;
}

static void q4(struct zw_query *q, const char *s, const char *d, uint8_t proto,
	       uint16_t port)
{
	struct zw_prefix a, b;

	memset(q, 0, sizeof(*q));
	zw_prefix__parse(s, &a);
	zw_prefix__parse(d, &b);
	q->family = a.family;
	memcpy(q->src, a.addr, 16);
	memcpy(q->dst, b.addr, 16);
	q->proto = proto;
	q->port = port;
	q->day = today();
}

static void test_compile_deterministic(void)
{
	struct zw_matrix *m;
	uint8_t *b1, *b2;
	size_t l1, l2;
	struct zw_image *img = compile_ex(&m, &b1, &l1);

	CU_ASSERT_EQUAL(zw_policy__compile(m, &b2, &l2), 0);
	CU_ASSERT_EQUAL(l1, l2);
	CU_ASSERT(memcmp(b1, b2, l1) == 0);
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->meta->name), "ex");
	CU_ASSERT_EQUAL(img->n_flows, 6);
	CU_ASSERT_EQUAL(img->n_zones, 7);
	CU_ASSERT(memcmp(img->meta->source_sha256, m->source_sha256, 32) == 0);
	/* ipsec = udp 500, udp 4500 (one range each), proto 50; icmp-echo */
	const struct zw_img_pair *p = zw_image__pair(img, 0, 5);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->count, 4);
	free(b1);
	free(b2);
	zw_image__free(img);
	zw_matrix__free(m);
}

static void test_eval(void)
{
	struct zw_matrix *m;
	uint8_t *b;
	size_t l;
	struct zw_image *img = compile_ex(&m, &b, &l);
	struct zw_query q;
	struct zw_verdict vm, vi;
	struct {
		const char *s, *d;
		uint8_t proto;
		uint16_t port;
		bool allow;
		const char *flow;
		enum zw_verdict_reason reason;
	} cases[] = {
		{"10.1.0.5", "10.2.0.9", 6, 22, true, "F1", ZW_VERDICT_FLOW},
		{"10.1.0.5", "10.2.0.9", 6, 3389, true, "F1", ZW_VERDICT_FLOW},
		{"10.1.0.5", "10.2.0.9", 6, 23, false, NULL, ZW_VERDICT_NO_FLOW},
		{"10.1.0.5", "10.2.0.9", 17, 22, false, NULL, ZW_VERDICT_NO_FLOW},
		{"fd00:1::5", "fd00:2::9", 6, 22, true, "F1", ZW_VERDICT_FLOW},
		{"10.2.0.5", "10.3.0.10", 6, 8000, true, "F2", ZW_VERDICT_FLOW},
		{"10.2.0.5", "10.3.0.10", 6, 8080, true, "F2", ZW_VERDICT_FLOW},
		{"10.2.0.5", "10.3.0.10", 6, 8081, false, NULL, ZW_VERDICT_NO_FLOW},
		{"10.2.0.5", "10.3.0.10", 6, 7999, false, NULL, ZW_VERDICT_NO_FLOW},
		{"10.2.0.5", "10.3.0.11", 6, 8000, false, NULL, ZW_VERDICT_NO_FLOW},
		{"198.51.100.7", "10.5.0.1", 17, 4500, true, "F3", ZW_VERDICT_FLOW},
		{"198.51.100.7", "10.5.0.1", 50, 0, true, "F3", ZW_VERDICT_FLOW},
		{"198.51.100.7", "10.5.0.1", 1, 8, true, "F3", ZW_VERDICT_FLOW},
		{"198.51.100.7", "10.5.0.1", 1, 0, false, NULL, ZW_VERDICT_NO_FLOW},
		{"10.5.0.1", "10.2.0.1", 6, 22, true, "F4", ZW_VERDICT_FLOW},
		{"10.1.0.5", "10.1.0.6", 6, 22, false, NULL, ZW_VERDICT_ISOLATED},
		{"10.2.0.5", "10.2.0.6", 17, 9, true, NULL, ZW_VERDICT_SAME_ZONE},
		{"198.51.100.7", "198.51.100.8", 6, 22, false, NULL, ZW_VERDICT_NO_FLOW},
		{"10.2.0.5", "198.51.100.8", 6, 443, false, NULL, ZW_VERDICT_NO_FLOW},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		q4(&q, cases[i].s, cases[i].d, cases[i].proto, cases[i].port);
		zw_eval__matrix(m, &q, &vm);
		zw_eval__image(img, &q, &vi);
		if (vm.allow != cases[i].allow || vi.allow != cases[i].allow)
			fprintf(stderr, "\ncase %zu: %s -> %s %u/%u\n", i,
				cases[i].s, cases[i].d, cases[i].proto, cases[i].port);
		CU_ASSERT_EQUAL(vm.allow, cases[i].allow);
		CU_ASSERT_EQUAL(vi.allow, cases[i].allow);
		CU_ASSERT_EQUAL(vm.reason, cases[i].reason);
		CU_ASSERT_EQUAL(vi.reason, cases[i].reason);
		CU_ASSERT_EQUAL(vm.flow, vi.flow);
		if (cases[i].flow) {
			CU_ASSERT_FATAL(vi.flow != ZW_NO_FLOW);
			CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->flows[vi.flow].id),
					       cases[i].flow);
			CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->services[vi.service].name),
					       m->services[vm.service].name);
		}
	}
	/* F4 expires 2026-12-31: live that day, dead the day after */
	q4(&q, "10.5.0.1", "10.2.0.1", 6, 22);
	zw_date__parse("2026-12-31", &q.day);
	zw_eval__image(img, &q, &vi);
	CU_ASSERT(vi.allow);
	q.day++;
	zw_eval__image(img, &q, &vi);
	zw_eval__matrix(m, &q, &vm);
	CU_ASSERT(!vi.allow);
	CU_ASSERT(!vm.allow);
	free(b);
	zw_image__free(img);
	zw_matrix__free(m);
}

static void test_compile_opts(void)
{
	struct zw_matrix *m;
	uint8_t *b, *b2;
	size_t l, l2;
	struct zw_image *img = compile_ex(&m, &b, &l), *img2;
	struct zw_prefix blk;
	bool exclude[6] = {false, false, true, false, false, false};
	struct zw_compile_opts o = {.block = &blk, .n_block = 1, .exclude = exclude};
	struct zw_query q;
	struct zw_verdict v;
	char err[128];

	zw_prefix__parse("10.1.0.5/32", &blk);
	CU_ASSERT_EQUAL_FATAL(zw_policy__compile_opts(m, &o, &b2, &l2), 0);
	img2 = zw_image__open(b2, l2, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(img2);
	CU_ASSERT(memcmp(img->sha256, img2->sha256, 32) != 0);
	q4(&q, "10.1.0.5", "10.2.0.9", 6, 22);
	zw_eval__image(img2, &q, &v);
	CU_ASSERT(!v.allow);
	CU_ASSERT_EQUAL(v.reason, ZW_VERDICT_BLOCKED);
	q4(&q, "10.1.0.6", "10.2.0.9", 6, 22);
	zw_eval__image(img2, &q, &v);
	CU_ASSERT(v.allow);
	q4(&q, "198.51.100.7", "10.5.0.1", 17, 4500);
	zw_eval__image(img2, &q, &v);
	CU_ASSERT(!v.allow); /* F3 excluded */
	CU_ASSERT_EQUAL(img2->n_flows, 6); /* still listed, without rules */
	free(b);
	free(b2);
	zw_image__free(img);
	zw_image__free(img2);
	zw_matrix__free(m);
}

static void test_compile_no_flows(void)
{
	/* Found by the fuzzer: a valid matrix without flows compiles to an
	 * image with no rule, and everything but intra-zone traffic is denied. */
	const char *y = "zonewall: 1\nname: empty\nzones:\n"
			"  a: {kind: servers, networks: [10.0.0.0/8]}\nflows: []\n";
	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *b;
	size_t l;
	struct zw_image *img;
	struct zw_query q;
	struct zw_verdict v;
	char err[128];

	zw_diags__init(&d, "e");
	m = zw_matrix__parse(y, strlen(y), "e", &d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL_FATAL(zw_policy__compile(m, &b, &l), 0);
	img = zw_image__open(b, l, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_EQUAL(img->n_rules, 0);
	CU_ASSERT_EQUAL(img->n_pairs, 0);
	q4(&q, "10.1.0.1", "10.2.0.1", 6, 22);
	zw_eval__image(img, &q, &v);
	CU_ASSERT(v.allow && v.reason == ZW_VERDICT_SAME_ZONE);
	q4(&q, "10.1.0.1", "192.0.2.1", 6, 22);
	zw_eval__image(img, &q, &v);
	CU_ASSERT(!v.allow);
	zw_image__free(img);
	free(b);
	zw_matrix__free(m);
	zw_diags__fini(&d);
}

static void test_image_rejects_corruption(void)
{
	struct zw_matrix *m;
	uint8_t *b;
	size_t l;
	struct zw_image *img = compile_ex(&m, &b, &l), *bad;
	char err[256];

	zw_image__free(img);
	/* truncated */
	bad = zw_image__open(b, l - 1, err, sizeof(err));
	CU_ASSERT_PTR_NULL(bad);
	CU_ASSERT(strstr(err, "truncated") != NULL);
	bad = zw_image__open(b, 10, err, sizeof(err));
	CU_ASSERT_PTR_NULL(bad);
	/* every single-byte flip is caught */
	for (size_t i = 0; i < l; i++) {
		b[i] ^= 0x40;
		bad = zw_image__open(b, l, err, sizeof(err));
		CU_ASSERT_PTR_NULL(bad);
		if (bad) {
			fprintf(stderr, "\nflip at %zu accepted\n", i);
			zw_image__free(bad);
		}
		b[i] ^= 0x40;
	}
	/* bad magic, bad format */
	b[0] = 'X';
	CU_ASSERT_PTR_NULL(zw_image__open(b, l, err, sizeof(err)));
	CU_ASSERT(strstr(err, "magic") != NULL);
	b[0] = 'Z';
	((struct zw_image_header *)b)->format = 99;
	CU_ASSERT_PTR_NULL(zw_image__open(b, l, err, sizeof(err)));
	CU_ASSERT(strstr(err, "format 99") != NULL);
	free(b);
	zw_matrix__free(m);
}

/* Recompute the header's SHA-256 after an edit, as a crafted image would. */
static void rehash(uint8_t *b, size_t l)
{
	size_t hoff = offsetof(struct zw_image_header, sha256);
	size_t hs = sizeof(struct zw_image_header);
	uint8_t *cat = malloc(l);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cat);
	memcpy(cat, b, hoff);
	memcpy(cat + hoff, b + hs, l - hs);
	CU_ASSERT_EQUAL(zw_sha256(cat, hoff + l - hs, ((struct zw_image_header *)b)->sha256), 0);
	free(cat);
}

/* Index of the first rule of @proto in an image's bytes (via a loaded view). */
static size_t rule_offset(const uint8_t *b, size_t l, uint8_t proto)
{
	char err[256];
	struct zw_image *img = zw_image__open(b, l, err, sizeof(err));
	size_t off = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	for (uint32_t r = 0; r < img->n_rules && !off; r++)
		if (img->rules[r].proto == proto)
			off = (size_t)((const uint8_t *)&img->rules[r] - img->bytes);
	zw_image__free(img);
	CU_ASSERT_FATAL(off != 0);
	return off;
}

/* Images whose checksum is right but whose content engines would read
 * differently from the reference evaluator are refused: ICMP type ranges
 * beyond 255 (nft shifts the type into a 16-bit field), a protocol without
 * ports or types that is not marked ANY (nft matches it whatever lo..hi
 * say, the evaluator does not), an unterminated name in the header. */
static void test_image_rejects_noncanonical(void)
{
	struct zw_matrix *m;
	uint8_t *b, *b0;
	size_t l;
	struct zw_image *img = compile_ex(&m, &b, &l);
	char err[256];
	struct zw_img_rule *r;

	zw_image__free(img);
	b0 = malloc(l);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b0);
	memcpy(b0, b, l);

	/* the unmodified image, re-hashed, loads */
	rehash(b, l);
	img = zw_image__open(b, l, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(img);
	zw_image__free(img);

	r = (struct zw_img_rule *)(b + rule_offset(b, l, 1)); /* icmp-echo */
	CU_ASSERT_EQUAL(r->flags, 0);
	r->lo = r->hi = 300;
	rehash(b, l);
	CU_ASSERT_PTR_NULL(zw_image__open(b, l, err, sizeof(err)));
	memcpy(b, b0, l);

	r = (struct zw_img_rule *)(b + rule_offset(b, l, 50)); /* ipsec ESP */
	CU_ASSERT_EQUAL(r->flags, ZW_IMG_RULE_ANY);
	r->flags = 0;
	r->lo = r->hi = 5;
	rehash(b, l);
	CU_ASSERT_PTR_NULL(zw_image__open(b, l, err, sizeof(err)));
	memcpy(b, b0, l);

	memset(((struct zw_image_header *)b)->name, 'x', 64);
	rehash(b, l);
	CU_ASSERT_PTR_NULL(zw_image__open(b, l, err, sizeof(err)));
	memcpy(b, b0, l);

	/* a flow whose stored id hash is not its id's: engines key state on
	 * it, so the loader refuses it */
	{
		const struct zw_image_header *h = (const void *)b;
		const struct zw_img_section *sec = (const void *)(b + sizeof(*h));
		struct zw_img_flow *fl = NULL;

		for (uint32_t k = 0; k < h->n_sections; k++)
			if (sec[k].type == ZW_SEC_FLOWS && sec[k].count)
				fl = (struct zw_img_flow *)(b + sec[k].offset);
		CU_ASSERT_PTR_NOT_NULL_FATAL(fl);
		fl->id_hash ^= 1;
		rehash(b, l);
		CU_ASSERT_PTR_NULL(zw_image__open(b, l, err, sizeof(err)));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "id hash"));
	}

	free(b0);
	free(b);
	zw_matrix__free(m);
}

/* libzwimage's shared helpers: one spelling of each drop reason, hex both
 * ways, the flow id hash the compiler stores and the loader checks. */
static void test_image_helpers(void)
{
	uint8_t in[32], back[32];
	char hex[65];

	for (unsigned i = 0; i < ZW_DROP__COUNT; i++) {
		const char *n = zw_drop_reason__name(i);

		CU_ASSERT_STRING_NOT_EQUAL(n, "unknown");
		CU_ASSERT_EQUAL(zw_drop_reason__parse(n), (int)i);
		CU_ASSERT_PTR_NULL(strchr(n, '_'));
		for (unsigned k = 0; k < i; k++)
			CU_ASSERT_STRING_NOT_EQUAL(n, zw_drop_reason__name(k));
	}
	CU_ASSERT_STRING_EQUAL(zw_drop_reason__name(ZW_DROP_NO_FLOW), "no-flow");
	CU_ASSERT_STRING_EQUAL(zw_drop_reason__name(ZW_DROP__COUNT), "unknown");
	CU_ASSERT_EQUAL(zw_drop_reason__parse("no_flow"), -1);
	for (int i = 0; i < 32; i++)
		in[i] = (uint8_t)(i * 73 + 5);
	zw_hex(in, 32, hex);
	CU_ASSERT_EQUAL(strlen(hex), 64);
	CU_ASSERT_EQUAL(zw_unhex(hex, back, 32), 0);
	CU_ASSERT_EQUAL(memcmp(in, back, 32), 0);
	hex[10] = 'x';
	CU_ASSERT_EQUAL(zw_unhex(hex, back, 32), -EINVAL);
	CU_ASSERT_EQUAL(zw_unhex("ab", back, 32), -EINVAL);
	CU_ASSERT_EQUAL(zw_unhex("abc", back, 1), -EINVAL);
	/* FNV-1a 64 reference values */
	CU_ASSERT_EQUAL(zw_fnv1a64("", 0), 0xcbf29ce484222325ull);
	CU_ASSERT_EQUAL(zw_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
	CU_ASSERT_EQUAL(zw_flow_id__hash("a"), 0xaf63dc4c8601ec8cull);
	CU_ASSERT_NOT_EQUAL(zw_flow_id__hash("OPS-001"), 0);
}

/* Overwrite, in image bytes @b, the string at table offset @off with @to
 * (same length or shorter), re-sign, and expect the loader to refuse it
 * with @why in the message. */
static void expect_name_refused(const uint8_t *b0, size_t l, size_t str_base,
				uint32_t off, const char *to, int flow,
				const char *why, int line)
{
	uint8_t *b = malloc(l);
	char err[256];
	struct zw_image *img;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, b0, l);
	CU_ASSERT_FATAL(strlen(to) <= strlen((const char *)b + str_base + off));
	memcpy(b + str_base + off, to, strlen(to));
	b[str_base + off + strlen(to)] = '\0';
	if (flow >= 0) {
		/* keep the id hash right, as a careful forger would */
		struct zw_image *v = zw_image__open(b0, l, err, sizeof(err));
		size_t fo;
		uint64_t h = zw_flow_id__hash(to);

		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		fo = (size_t)((const uint8_t *)&v->flows[flow].id_hash - v->bytes);
		memcpy(b + fo, &h, sizeof(h));
		zw_image__free(v);
	}
	rehash(b, l);
	img = zw_image__open(b, l, err, sizeof(err));
	if (img || !strstr(err, why))
		fprintf(stderr, "\nline %d: '%s' %s (%s)\n", line, to,
			img ? "accepted" : "refused for another reason", err);
	CU_ASSERT_PTR_NULL(img);
	CU_ASSERT(strstr(err, why) != NULL);
	zw_image__free(img);
	free(b);
}

/* The loader enforces the name grammar the compiler guarantees: a crafted
 * image with a correct SHA-256 but a zone, service, flow or matrix name
 * the language cannot produce, or a name twice, is refused (engines build
 * object names from them: zones x/j_d and x_j/d made one nft chain). */
static void test_image_rejects_bad_names(void)
{
	struct zw_matrix *m;
	uint8_t *b;
	size_t l, sb;
	struct zw_image *img = compile_ex(&m, &b, &l);
	uint32_t jump = 0, web = 0, f1 = 0, f1svc = 0, name, outside;
	int f1i = -1;

	rehash(b, l);
	sb = (size_t)((const uint8_t *)img->strings - img->bytes);
	for (uint32_t i = 0; i < img->n_zones; i++)
		if (!strcmp(zw_image__str(img, img->zones[i].name), "jump"))
			jump = img->zones[i].name;
	for (uint32_t i = 0; i < img->n_services; i++)
		if (!strcmp(zw_image__str(img, img->services[i].name), "web"))
			web = img->services[i].name;
	for (uint32_t i = 0; i < img->n_flows; i++)
		if (!strcmp(zw_image__str(img, img->flows[i].id), "F1")) {
			f1 = img->flows[i].id;
			f1svc = img->flows[i].services;
			f1i = (int)i;
		}
	name = img->meta->name;
	outside = img->zones[0].name;
	CU_ASSERT_FATAL(jump && web && f1 && f1svc && name && f1i >= 0);
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, f1svc), "ssh,rdp");
	zw_image__free(img);

	expect_name_refused(b, l, sb, jump, "j_d", -1, "zone", __LINE__);
	expect_name_refused(b, l, sb, jump, "Jump", -1, "zone", __LINE__);
	expect_name_refused(b, l, sb, jump, "", -1, "zone", __LINE__);
	expect_name_refused(b, l, sb, jump, "ops", -1, "'ops' used twice", __LINE__);
	expect_name_refused(b, l, sb, outside, "outsidx", -1, "zone 0", __LINE__);
	expect_name_refused(b, l, sb, web, "w b", -1, "service", __LINE__);
	expect_name_refused(b, l, sb, web, "ssh", -1, "'ssh' used twice", __LINE__);
	expect_name_refused(b, l, sb, f1, "F;", f1i, "flow", __LINE__);
	expect_name_refused(b, l, sb, f1, "F2", f1i, "'F2' used twice", __LINE__);
	expect_name_refused(b, l, sb, f1svc, "ssh;rdp", -1, "service names", __LINE__);
	expect_name_refused(b, l, sb, f1svc, "ssh,", -1, "service names", __LINE__);
	expect_name_refused(b, l, sb, name, "E!", -1, "matrix name", __LINE__);
	/* the matrix name in the header must be the metadata's */
	memcpy(((struct zw_image_header *)b)->name, "ey", 2);
	rehash(b, l);
	{
		char err[256];
		struct zw_image *x = zw_image__open(b, l, err, sizeof(err));

		CU_ASSERT_PTR_NULL(x);
		CU_ASSERT(strstr(err, "matrix name") != NULL);
		zw_image__free(x);
	}
	free(b);
	zw_matrix__free(m);
}

/* Probes (docs/matrix-language.md): parsed in file order, compiled sorted
 * by name with their zones sorted; the loader refuses what the compiler
 * cannot produce. */
static void expect_open_fails(uint8_t *b, size_t l, const char *what, int line)
{
	char err[256] = "";
	struct zw_image *x;

	rehash(b, l);
	x = zw_image__open(b, l, err, sizeof(err));
	if (x || !strstr(err, what))
		fprintf(stderr, "line %d: expected '%s', got %s\n", line, what,
			x ? "an image" : err);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT(strstr(err, what) != NULL);
	zw_image__free(x);
}

static void test_image_probes(void)
{
	static const char probes[] =
		"probes:\n"
		"  soc: {interface: probe1, zones: [jump], traffic: allowed}\n"
		"  ids: {interface: probe0, zones: [xchg, vpn], description: d}\n";
	size_t n = strlen(EX) + sizeof(probes);
	char *text = malloc(n);
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_image *img;
	uint8_t *b = NULL;
	size_t l = 0;
	char err[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	snprintf(text, n, "%s%s", EX, probes);
	zw_diags__init(&d, "p");
	m = zw_matrix__parse(text, strlen(text), "p.yaml", &d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	zw_matrix__validate(m, today(), &d);
	CU_ASSERT_EQUAL(d.n_errors, 0);
	CU_ASSERT_EQUAL_FATAL(m->n_probes, 2);
	CU_ASSERT_STRING_EQUAL(m->probes[0].name, "soc");
	CU_ASSERT_EQUAL(m->probes[0].traffic, ZW_PROBE_ALLOWED);
	CU_ASSERT_EQUAL(m->probes[1].traffic, ZW_PROBE_ALL);
	CU_ASSERT_EQUAL_FATAL(m->probes[1].n_zones, 2);
	/* sorted: vpn (5) before xchg (6) */
	CU_ASSERT_EQUAL(m->probes[1].zones[0], (uint32_t)zw_matrix__zone_index(m, "vpn"));
	CU_ASSERT_EQUAL(m->probes[1].zones[1], (uint32_t)zw_matrix__zone_index(m, "xchg"));
	CU_ASSERT_EQUAL(zw_matrix__probe_index(m, "ids"), 1);
	CU_ASSERT_EQUAL(zw_matrix__probe_index(m, "nope"), -1);
	zw_diags__fini(&d);
	CU_ASSERT_EQUAL_FATAL(zw_policy__compile(m, &b, &l), 0);
	img = zw_image__open(b, l, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_EQUAL_FATAL(img->n_probes, 2);
	CU_ASSERT_EQUAL(img->n_probe_zones, 3);
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->probes[0].name), "ids");
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->probes[0].interface), "probe0");
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->probes[0].description), "d");
	CU_ASSERT_EQUAL(img->probes[0].flags, ZW_IMG_PROBE_DENIED);
	CU_ASSERT_EQUAL(img->probes[0].count, 2);
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->zones[img->probe_zones[0].zone].name), "vpn");
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->zones[img->probe_zones[1].zone].name), "xchg");
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->probes[1].name), "soc");
	CU_ASSERT_EQUAL(img->probes[1].flags, 0);
	CU_ASSERT_EQUAL(img->probes[1].first, 2);
	CU_ASSERT_STRING_EQUAL(zw_image__str(img, img->zones[img->probe_zones[2].zone].name), "jump");

	/* every mutation below is refused by the loader */
	size_t po = (size_t)((const uint8_t *)img->probes - img->bytes);
	size_t zo = (size_t)((const uint8_t *)img->probe_zones - img->bytes);
	size_t so = (size_t)((const uint8_t *)img->strings - img->bytes);
	uint32_t if0 = img->probes[0].interface;
	uint8_t *c = malloc(l);
	struct zw_img_probe *p;
	struct zw_img_probe_zone *z;

	zw_image__free(img);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
#define MUT(stmt, what)                                                         \
	do {                                                                   \
		memcpy(c, b, l);                                               \
		p = (struct zw_img_probe *)(c + po);                           \
		z = (struct zw_img_probe_zone *)(c + zo);                      \
		(void)p, (void)z;                                              \
		stmt;                                                          \
		expect_open_fails(c, l, what, __LINE__);                       \
	} while (0)
	MUT(p[0].flags = 2, "probe 0 malformed");
	MUT(p[0].count = 0, "probe 0 malformed");
	MUT(p[1].first = 1, "probe 1 malformed");
	MUT(p[1].count = 2, "probe 1 malformed");
	MUT(z[0].zone = 0, "zone list malformed");
	MUT(z[0].zone = 999, "zone list malformed");
	MUT((z[0].zone = z[1].zone), "zone list malformed");
	MUT(p[1].interface = p[0].interface, "share interface");
	MUT(uint32_t t_ = p[0].name; p[0].name = p[1].name; p[1].name = t_, "not sorted");
	MUT(memcpy(c + so + if0, "pr/be0", 6), "probe 0 malformed");
#undef MUT
	free(c);
	free(b);
	free(text);
	zw_matrix__free(m);
}

int main(void)
{
	CU_pSuite s;

	setenv("ZONEWALL_TODAY", TODAY_STR, 1);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("matrix", NULL, NULL);
	CU_add_test(s, "base matrix is clean", test_base_is_clean);
	CU_add_test(s, "positions", test_parse_positions);
	CU_add_test(s, "ZW001", test_parse_zw001);
	CU_add_test(s, "size and depth limits", test_parse_limits);
	CU_add_test(s, "tags", test_parse_tags);
	CU_add_test(s, "model", test_parse_model);
	CU_add_test(s, "ZW002", test_zw002);
	CU_add_test(s, "ZW003", test_zw003);
	CU_add_test(s, "ZW010", test_zw010);
	CU_add_test(s, "ZW011", test_zw011);
	CU_add_test(s, "ZW012 ZW013 broad zones", test_zw012_013);
	CU_add_test(s, "ZW014 IPv4-mapped", test_zw014);
	CU_add_test(s, "ZW020", test_zw020);
	CU_add_test(s, "ZW021", test_zw021);
	CU_add_test(s, "ZW022", test_zw022);
	CU_add_test(s, "ZW023", test_zw023);
	CU_add_test(s, "ZW030", test_zw030);
	CU_add_test(s, "ZW031", test_zw031);
	CU_add_test(s, "ZW032", test_zw032);
	CU_add_test(s, "ZW033", test_zw033);
	CU_add_test(s, "ZW040", test_zw040);
	CU_add_test(s, "ZW040 message with long ids", test_zw040_long_ids);
	CU_add_test(s, "ZW040 zones of many networks", test_zw040_many_networks);
	CU_add_test(s, "ZW040 log and rate", test_zw040_attributes);
	CU_add_test(s, "ZW041", test_zw041);
	CU_add_test(s, "ZW050", test_zw050);
	CU_add_test(s, "all problems in one run", test_all_problems_reported);
	CU_add_test(s, "diagnostics one line each", test_diag_one_line);
	CU_add_test(s, "codes documented", test_codes_documented);
	CU_add_test(s, "values", test_values);
	CU_add_test(s, "compile deterministic", test_compile_deterministic);
	CU_add_test(s, "evaluator", test_eval);
	CU_add_test(s, "compile options", test_compile_opts);
	CU_add_test(s, "compile without flows", test_compile_no_flows);
	CU_add_test(s, "image library helpers", test_image_helpers);
	CU_add_test(s, "image corruption", test_image_rejects_corruption);
	CU_add_test(s, "image not canonical", test_image_rejects_noncanonical);
	CU_add_test(s, "image names outside the grammar", test_image_rejects_bad_names);
	CU_add_test(s, "image probes", test_image_probes);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();

	CU_cleanup_registry();
	return fails ? 1 : 0;
}
