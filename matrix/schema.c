/* SPDX-License-Identifier: BSD-2-Clause */
/* A JSON Schema (draft-07) of the matrix language, for editors
 * (yaml-language-server) and CI linters (docs/matrix-guide.md). The keys
 * of each mapping come from the parser's own tables (internal.h), the
 * zone kinds, protocols and ICMP types from libzwimage's value tables:
 * a key added to the parser without a schema entry here makes
 * zw_matrix__schema() fail, so the schema cannot silently fall behind.
 * What it cannot say (a zone or service that exists, a port range with
 * lo <= hi, a prefix without host bits) the parser and validator still
 * check; the schema refuses unknown keys and wrong types as they do. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "internal.h"

/* One key of a mapping: its schema (a JSON object's members, without the
 * braces) and its description. */
struct key_schema {
	const char *key;
	const char *schema;
	const char *description;
};

#define NAME_PATTERN "^[a-z][a-z0-9-]{0,31}$"
#define DATE "\"type\": \"string\", \"format\": \"date\", \"pattern\": \"^[0-9]{4}-[0-9]{2}-[0-9]{2}$\""
#define TEXT "\"type\": [\"string\", \"null\"]"

static const struct key_schema root_keys[] = {
	{"zonewall", "\"type\": \"integer\", \"minimum\": 1, \"maximum\": @LANG@",
	 "Language version of the matrix: 1."},
	{"name",
	 "\"type\": \"string\", \"pattern\": \"^[a-z0-9][a-z0-9._-]{0,62}$\"",
	 "Name of the matrix (lower case, digits, '.', '_', '-')."},
	{"profile", "\"enum\": [\"minimal\", \"piams\"]",
	 "Rule set the validator applies: minimal (default) or piams."},
	{"zones",
	 "\"type\": \"object\", \"propertyNames\": {\"pattern\": \"" NAME_PATTERN
	 "\", \"not\": {\"const\": \"outside\"}}, \"maxProperties\": @MAXZONES@, "
	 "\"additionalProperties\": {\"$ref\": \"#/definitions/zone\"}",
	 "Trust zones by name; 'outside' (addresses in no zone) is implicit."},
	{"services",
	 "\"type\": \"object\", \"propertyNames\": {\"pattern\": \"" NAME_PATTERN
	 "\"}, \"additionalProperties\": {\"$ref\": \"#/definitions/service\"}",
	 "Services of this matrix by name (a built-in of the same name is "
	 "overridden)."},
	{"flows",
	 "\"type\": \"array\", \"maxItems\": @MAXLIST@, "
	 "\"items\": {\"$ref\": \"#/definitions/flow\"}",
	 "The authorised flows; anything else is denied. 'flows: []' for none."},
	{"probes",
	 "\"type\": \"object\", \"propertyNames\": {\"pattern\": \"" NAME_PATTERN
	 "\"}, \"maxProperties\": @MAXPROBES@, "
	 "\"additionalProperties\": {\"$ref\": \"#/definitions/probe\"}",
	 "Detection probes by name: interfaces that receive a copy of the "
	 "traffic of chosen zones."},
	{NULL, NULL, NULL},
};
static const char *const root_required[] = {"zonewall", "name", "zones",
					    "flows", NULL};

static const struct key_schema zone_keys[] = {
	{"kind", "\"enum\": [@KINDS@]",
	 "Kind of zone (zonectl check --explain ZW020 lists them)."},
	{"networks",
	 "\"type\": \"array\", \"minItems\": 1, \"maxItems\": @MAXLIST@, "
	 "\"items\": {\"$ref\": \"#/definitions/prefix\"}",
	 "IPv4 and IPv6 addresses or prefixes of the zone."},
	{"isolate", "\"type\": \"boolean\"",
	 "true: hosts of the zone may not talk to each other."},
	{"description", TEXT, "Free text."},
	{NULL, NULL, NULL},
};
static const char *const zone_required[] = {"kind", "networks", NULL};

static const struct key_schema svc_entry_keys[] = {
	{"proto",
	 "\"anyOf\": [{\"enum\": [@PROTOS@]}, {\"type\": \"integer\", "
	 "\"minimum\": 0, \"maximum\": 255}, {\"type\": \"string\", "
	 "\"pattern\": \"^[0-9]{1,3}$\"}]",
	 "IP protocol: tcp, udp, sctp, icmp, icmpv6 or a number 0-255."},
	{"ports",
	 "\"type\": \"array\", \"minItems\": 1, \"maxItems\": @MAXLIST@, "
	 "\"items\": {\"anyOf\": [{\"type\": \"integer\", \"minimum\": 1, "
	 "\"maximum\": 65535}, {\"type\": \"string\", "
	 "\"pattern\": \"^[0-9]{1,5}(-[0-9]{1,5})?$\"}]}",
	 "Destination ports or ranges \"lo-hi\" (tcp, udp and sctp only, and "
	 "required for them)."},
	{"types",
	 "\"type\": \"array\", \"minItems\": 1, \"maxItems\": 256, "
	 "\"items\": {\"anyOf\": [{\"type\": \"integer\", \"minimum\": 0, "
	 "\"maximum\": 255}, {\"enum\": [@ICMPTYPES@]}]}",
	 "ICMP or ICMPv6 types, by name or number (icmp and icmpv6 only; "
	 "none: every type)."},
	{"unsafe", "\"type\": \"boolean\"",
	 "true: a protocol the validator treats as unsafe (clear text...)."},
	{"inspect", "\"enum\": [@INSPECT@]",
	 "Application protocol expected on the service."},
	{NULL, NULL, NULL},
};
static const char *const svc_entry_required[] = {"proto", NULL};

static const struct key_schema flow_keys[] = {
	{"id",
	 "\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$\"",
	 "Unique, stable flow id (the journal and counters follow it)."},
	{"from", "\"type\": \"string\", \"pattern\": \"" NAME_PATTERN "\"",
	 "Source zone (or outside)."},
	{"to", "\"type\": \"string\", \"pattern\": \"" NAME_PATTERN "\"",
	 "Destination zone (or outside)."},
	{"src",
	 "\"type\": \"array\", \"minItems\": 1, \"maxItems\": @MAXLIST@, "
	 "\"items\": {\"$ref\": \"#/definitions/prefix\"}",
	 "Narrows the source to these prefixes of the zone (omit: the whole "
	 "zone)."},
	{"dst",
	 "\"type\": \"array\", \"minItems\": 1, \"maxItems\": @MAXLIST@, "
	 "\"items\": {\"$ref\": \"#/definitions/prefix\"}",
	 "Narrows the destination to these prefixes of the zone."},
	{"services",
	 "\"type\": \"array\", \"minItems\": 1, \"maxItems\": 4096, "
	 "\"uniqueItems\": true, \"items\": {\"type\": \"string\", "
	 "\"pattern\": \"" NAME_PATTERN "\"}",
	 "Services allowed, built-in or defined under services."},
	{"justification", TEXT, "Why the flow is needed."},
	{"compensating", TEXT, "Compensating measures for a risky flow."},
	{"review", DATE, "Date of the next review, YYYY-MM-DD."},
	{"expires", DATE,
	 "Last day the flow is enforced, YYYY-MM-DD (UTC); then it stops."},
	{"owner", TEXT, "Who answers for the flow."},
	{"log", "\"type\": \"boolean\"", "true: log the flow's connections."},
	{"rate", "\"type\": \"string\", \"pattern\": \"^[0-9]{1,7}/s$\"",
	 "New connections per second and source, \"N/s\" (1 to 1000000)."},
	{NULL, NULL, NULL},
};
static const char *const flow_required[] = {"id", "from", "to", "services",
					   NULL};

static const struct key_schema probe_keys[] = {
	{"interface",
	 "\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$\"",
	 "Network interface the copies are sent to (for the DPDK engine, its "
	 "mirror port)."},
	{"zones",
	 "\"type\": \"array\", \"minItems\": 1, \"maxItems\": @MAXZONES@, "
	 "\"uniqueItems\": true, \"items\": {\"type\": \"string\", "
	 "\"pattern\": \"" NAME_PATTERN "\", \"not\": {\"const\": \"outside\"}}",
	 "Zones whose traffic (to or from them) the probe receives."},
	{"traffic", "\"enum\": [\"all\", \"allowed\"]",
	 "all (default): allowed and denied packets; allowed: allowed only."},
	{"description", TEXT, "Free text."},
	{NULL, NULL, NULL},
};

static const char *const probe_required[] = {"interface", "zones", NULL};

/* Print @s, replacing each @NAME@ by its value. */
static void expand(FILE *f, const char *s)
{
	while (*s) {
		const char *end;

		if (*s != '@' || !(end = strchr(s + 1, '@'))) {
			fputc(*s++, f);
			continue;
		}
		if (!strncmp(s, "@LANG@", 6)) {
			fprintf(f, "%d", ZW_MATRIX_LANG_VERSION);
		} else if (!strncmp(s, "@MAXZONES@", 10)) {
			fprintf(f, "%d", ZW_PARSE_MAX_ZONES);
		} else if (!strncmp(s, "@MAXPROBES@", 11)) {
			fprintf(f, "%d", ZW_PARSE_MAX_PROBES);
		} else if (!strncmp(s, "@MAXLIST@", 9)) {
			fprintf(f, "%d", ZW_PARSE_MAX_LIST);
		} else if (!strncmp(s, "@KINDS@", 7)) {
			/* every kind a zone may declare ("outside" may not) */
			for (int k = 0; k < ZW_KIND__COUNT; k++) {
				const char *n =
					zw_zone_kind__name((enum zw_zone_kind)k);

				if (zw_zone_kind__parse(n) == k)
					fprintf(f, "%s\"%s\"", k ? ", " : "", n);
			}
		} else if (!strncmp(s, "@PROTOS@", 8)) {
			char buf[4];
			bool first = true;

			for (int p = 0; p < 256; p++) {
				const char *n = zw_proto__name((uint8_t)p, buf);

				if (n != buf) {
					fprintf(f, "%s\"%s\"", first ? "" : ", ",
						n);
					first = false;
				}
			}
		} else if (!strncmp(s, "@ICMPTYPES@", 11)) {
			/* names of ICMP and ICMPv6 types, each once */
			bool first = true;

			for (int t = 0; t < 512; t++) {
				uint8_t proto = t < 256 ? 1 : 58;
				const char *n = zw_icmp_type__name(proto,
								   (uint8_t)t);

				if (!n || (proto == 58 &&
					   zw_icmp_type__parse(1, n) >= 0))
					continue;
				fprintf(f, "%s\"%s\"", first ? "" : ", ", n);
				first = false;
			}
		} else if (!strncmp(s, "@INSPECT@", 9)) {
			for (int i = 0; zw_inspect_names[i]; i++)
				fprintf(f, "%s\"%s\"", i ? ", " : "",
					zw_inspect_names[i]);
		} else {
			fputc(*s++, f);
			continue;
		}
		s = end + 1;
	}
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* An object definition: its properties are exactly the parser's @keys,
 * each described by @schemas. false if a key has no schema. */
static bool object(FILE *f, const char *name, const char *description,
		   const char *const *keys, const struct key_schema *schemas,
		   const char *const *required, const char *extra)
{
	fprintf(f, "    \"%s\": {\n      \"description\": ", name);
	json_string(f, description);
	fputs(",\n      \"type\": \"object\",\n"
	      "      \"additionalProperties\": false,\n"
	      "      \"required\": [",
	      f);
	for (int i = 0; required[i]; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "", required[i]);
	fputs("],\n      \"properties\": {\n", f);
	for (int i = 0; keys[i]; i++) {
		const struct key_schema *k = schemas;

		while (k->key && strcmp(k->key, keys[i]))
			k++;
		if (!k->key)
			return false;
		fprintf(f, "        \"%s\": {\"description\": ", keys[i]);
		json_string(f, k->description);
		fputs(", ", f);
		expand(f, k->schema);
		fprintf(f, "}%s\n", keys[i + 1] ? "," : "");
	}
	fprintf(f, "      }%s%s\n    }", extra ? ",\n      " : "",
		extra ? extra : "");
	return true;
}

/* Keys a schema describes must all be keys the parser accepts. */
static bool all_known(const struct key_schema *schemas, const char *const *keys)
{
	for (const struct key_schema *k = schemas; k->key; k++) {
		int i = 0;

		while (keys[i] && strcmp(keys[i], k->key))
			i++;
		if (!keys[i])
			return false;
	}
	return true;
}

char *zw_matrix__schema(void)
{
	/* ports are required with tcp, udp and sctp and refused otherwise;
	 * types only with icmp and icmpv6 (parse_svc_entry) */
	static const char svc_rules[] =
		"\"allOf\": [\n"
		"        {\"if\": {\"required\": [\"proto\"], \"properties\": "
		"{\"proto\": {\"enum\": [\"tcp\", \"udp\", \"sctp\", 6, 17, 132, "
		"\"6\", \"17\", \"132\"]}}},\n"
		"         \"then\": {\"required\": [\"ports\"]},\n"
		"         \"else\": {\"not\": {\"required\": [\"ports\"]}}},\n"
		"        {\"if\": {\"required\": [\"types\"]},\n"
		"         \"then\": {\"properties\": {\"proto\": {\"enum\": "
		"[\"icmp\", \"icmpv6\", 1, 58, \"1\", \"58\"]}}}}\n"
		"      ]";
	char *buf = NULL;
	size_t len = 0;
	bool ok;
	FILE *f;

	if (!all_known(root_keys, zw_parse_keys_root) ||
	    !all_known(zone_keys, zw_parse_keys_zone) ||
	    !all_known(svc_entry_keys, zw_parse_keys_svc_entry) ||
	    !all_known(flow_keys, zw_parse_keys_flow) ||
	    !all_known(probe_keys, zw_parse_keys_probe)) {
		errno = EINVAL;
		return NULL;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f,
		"{\n"
		"  \"$schema\": \"http://json-schema.org/draft-07/schema#\",\n"
		"  \"$id\": \"urn:zonewall:matrix:%d\",\n"
		"  \"title\": \"zonewall flow matrix (language version %d)\",\n"
		"  \"description\": \"Generated by 'zonectl schema' from the "
		"parser's tables (docs/matrix-language.md).\",\n"
		"  \"$ref\": \"#/definitions/matrix\",\n"
		"  \"definitions\": {\n",
		ZW_MATRIX_LANG_VERSION, ZW_MATRIX_LANG_VERSION);
	ok = object(f, "matrix", "A zonewall flow matrix.", zw_parse_keys_root,
		    root_keys, root_required, NULL);
	fputs(",\n", f);
	ok = ok && object(f, "zone", "A trust zone.", zw_parse_keys_zone,
			  zone_keys, zone_required, NULL);
	fputs(",\n", f);
	ok = ok && object(f, "service_entry",
			  "One protocol of a service, with its ports or types.",
			  zw_parse_keys_svc_entry, svc_entry_keys,
			  svc_entry_required, svc_rules);
	fputs(",\n", f);
	ok = ok && object(f, "flow", "An authorised flow between two zones.",
			  zw_parse_keys_flow, flow_keys, flow_required, NULL);
	fputs(",\n", f);
	ok = ok && object(f, "probe",
			  "A detection probe: where copies go and what it watches.",
			  zw_parse_keys_probe, probe_keys, probe_required, NULL);
	fputs(",\n"
	      "    \"service\": {\n"
	      "      \"description\": \"A service: one entry or a list of "
	      "1 to 64 entries.\",\n"
	      "      \"oneOf\": [\n"
	      "        {\"$ref\": \"#/definitions/service_entry\"},\n"
	      "        {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 64, "
	      "\"items\": {\"$ref\": \"#/definitions/service_entry\"}}\n"
	      "      ]\n"
	      "    },\n"
	      "    \"prefix\": {\n"
	      "      \"description\": \"An IPv4 or IPv6 address or prefix, "
	      "without host bits (10.1.0.0/16, 2001:db8::/32).\",\n"
	      "      \"type\": \"string\",\n"
	      "      \"pattern\": \"^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$\"\n"
	      "    }\n"
	      "  }\n"
	      "}\n",
	      f);
	if (fclose(f) != 0 || !ok) {
		free(buf);
		errno = ok ? ENOMEM : EINVAL;
		return NULL;
	}
	return buf;
}
