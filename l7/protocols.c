// SPDX-License-Identifier: BSD-2-Clause
/*
 * The protocols `inspect:` can name, as Hyperscan patterns anchored at the
 * start of each direction (docs/l7.md says what each checks, and how to add
 * one: a row here and its name in ZW_INSPECT_NAMES, policy.h).
 */
#include <stdbool.h>
#include <string.h>

#include <zonewall/policy.h>

#include "l7_priv.h"

#define TCP 6
#define UDP 17

/* BER: SEQUENCE, its length (short or long form), messageID INTEGER (1 to
 * 4 bytes), then an application-class protocolOp tag. */
#define LDAP_MSG                                                               \
	"^\\x30([\\x00-\\x7f]|\\x81.|\\x82.{2}|\\x83.{3}|\\x84.{4})"        \
	"\\x02(\\x01.|\\x02.{2}|\\x03.{3}|\\x04.{4})[\\x60-\\x7f]"
/* DNS header after the TCP length prefix: QR bit 0 (query) or 1
 * (response), opcode 0-2, 4 or 5, 0 or 1 question. */
#define DNS_Q "[\\x00-\\x17\\x20-\\x2f].\\x00[\\x00\\x01]"
#define DNS_R "[\\x80-\\x97\\xa0-\\xaf].\\x00[\\x00\\x01]"

const struct zw_l7_proto_def zw_l7_protos[] = {
	{"ssh", TCP, true,
	 {{"^SSH-", 4, "^SSH-(2\\.0|1\\.99)-[\\x21-\\x7e]+( [^\\r\\n]*)?\\r?\\n", 0},
	  {"^SSH-", 4, "^SSH-(2\\.0|1\\.99)-[\\x21-\\x7e]+( [^\\r\\n]*)?\\r?\\n", 0}}},
	/* record header (handshake, TLS 1.0-1.3 record versions, length),
	 * then the handshake type and the hello's legacy version */
	{"tls", TCP, true,
	 {{"^\\x16\\x03[\\x00-\\x04]", 3,
	   "^\\x16\\x03[\\x00-\\x04][\\x00-\\x48].\\x01.{3}\\x03[\\x00-\\x04]", 11},
	  {"^\\x16\\x03[\\x00-\\x04]", 3,
	   "^\\x16\\x03[\\x00-\\x04][\\x00-\\x48].\\x02.{3}\\x03[\\x00-\\x04]", 11}}},
	{"http", TCP, false,
	 {{"^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|TRACE|CONNECT) ", 8,
	   "^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|TRACE|CONNECT) "
	   "[\\x21-\\x7e]+ HTTP/1\\.[01]\\r?\\n", 0},
	  {"^HTTP/1\\.[01] ", 9,
	   "^HTTP/1\\.[01] [1-5][0-9]{2}( [^\\r\\n]*)?\\r?\\n", 0}}},
	/* TPKT version 3, then the X.224 Connection Request (0xe0) and
	 * Connection Confirm (0xd0); what follows (TLS, CredSSP) is RDP's */
	{"rdp", TCP, true,
	 {{"^\\x03\\x00", 2, "^\\x03\\x00.{2}.\\xe0", 6},
	  {"^\\x03\\x00", 2, "^\\x03\\x00.{2}.\\xd0", 6}}},
	/* DNS over TCP: a 2-byte length, then the header */
	{"dns", TCP, false,
	 {{"^.{2}.{2}" DNS_Q, 8, "^.{2}.{2}" DNS_Q, 8},
	  {"^.{2}.{2}" DNS_R, 8, "^.{2}.{2}" DNS_R, 8}}},
	{"dns", UDP, false,
	 {{"^.{2}" DNS_Q, 6, "^.{2}" DNS_Q, 6},
	  {"^.{2}" DNS_R, 6, "^.{2}" DNS_R, 6}}},
	/* greetings: only the server speaks first */
	{"smtp", TCP, false,
	 {{NULL, 0, NULL, 0}, {"^220[ -]", 4, "^220[ -][^\\r\\n]*\\r?\\n", 0}}},
	{"imap", TCP, false,
	 {{NULL, 0, NULL, 0},
	  {"^\\* (OK|PREAUTH|BYE) ", 10,
	   "^\\* (OK|PREAUTH|BYE) [^\\r\\n]*\\r?\\n", 0}}},
	{"ldap", TCP, false, {{"^\\x30", 1, LDAP_MSG, 13}, {"^\\x30", 1, LDAP_MSG, 13}}},
	/* NTP: version 3 or 4, mode 3 (client) and 4 (server), 48 bytes */
	{"ntp", UDP, false,
	 {{"^[\\x1b\\x23\\x5b\\x63\\x9b\\xa3\\xdb\\xe3]", 1,
	   "^[\\x1b\\x23\\x5b\\x63\\x9b\\xa3\\xdb\\xe3].{47}", 48},
	  {"^[\\x1c\\x24\\x5c\\x64\\x9c\\xa4\\xdc\\xe4]", 1,
	   "^[\\x1c\\x24\\x5c\\x64\\x9c\\xa4\\xdc\\xe4].{47}", 48}}},
};
const unsigned zw_l7_n_protos = sizeof(zw_l7_protos) / sizeof(zw_l7_protos[0]);

const char *const zw_l7_proto_names[] = {"ssh",	 "tls",	 "http",
					 "rdp",	 "dns",	 "smtp",
					 "imap", "ldap", "ntp"};
const unsigned zw_l7_n_proto_names =
	sizeof(zw_l7_proto_names) / sizeof(zw_l7_proto_names[0]);

int zw_l7_proto__find(const char *name)
{
	for (unsigned i = 0; name && i < zw_l7_n_proto_names; i++)
		if (!strcmp(name, zw_l7_proto_names[i]))
			return (int)i;
	return -1;
}

const char *zw_l7_proto__name(int p)
{
	return p >= 0 && (unsigned)p < zw_l7_n_proto_names ? zw_l7_proto_names[p]
							    : "?";
}

unsigned zw_l7_proto__count(void)
{
	return zw_l7_n_proto_names;
}

bool zw_l7_proto__checks(int p, uint8_t l4)
{
	const char *name = zw_l7_proto__name(p);

	for (unsigned i = 0; i < zw_l7_n_protos; i++)
		if (zw_l7_protos[i].l4 == l4 && !strcmp(zw_l7_protos[i].name, name))
			return true;
	return false;
}
