/* SPDX-License-Identifier: BSD-2-Clause */
/* Small value types shared by the matrix language and the policy image:
 * prefixes, dates, protocols, ICMP types, zone kinds; SHA-256 through
 * OpenSSL, hex, FNV-1a, drop-reason names. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include <zonewall/flow_record.h>
#include <zonewall/policy.h>

static const char *const kind_names[ZW_KIND__COUNT] = {
	[ZW_KIND_OPERATIONS] = "operations",
	[ZW_KIND_SERVERS] = "servers",
	[ZW_KIND_ADMIN] = "admin",
	[ZW_KIND_UPDATE] = "update",
	[ZW_KIND_INFRASTRUCTURE] = "infrastructure",
	[ZW_KIND_INTERNAL_SERVICE] = "internal-service",
	[ZW_KIND_PROVIDER_EXCHANGE] = "provider-exchange",
	[ZW_KIND_CLIENT_EXCHANGE] = "client-exchange",
	[ZW_KIND_THIRD_PARTY_EXCHANGE] = "third-party-exchange",
	[ZW_KIND_INTERNET_ACCESS] = "internet-access",
	[ZW_KIND_MANAGED_ACCESS] = "managed-access",
	[ZW_KIND_THIRD_PARTY_ADMIN] = "third-party-admin",
	[ZW_KIND_REMOTE_ACCESS] = "remote-access",
	[ZW_KIND_OUTSIDE] = "outside",
};

const char *zw_zone_kind__name(enum zw_zone_kind kind)
{
	if ((unsigned)kind >= ZW_KIND__COUNT)
		return "?";
	return kind_names[kind];
}

int zw_zone_kind__parse(const char *name)
{
	/* "outside" is not a kind a zone may declare. */
	for (int k = 0; k < ZW_KIND_OUTSIDE; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return -1;
}

bool zw_zone_kind__internal(enum zw_zone_kind kind)
{
	return kind <= ZW_KIND_INTERNAL_SERVICE;
}

bool zw_zone_kind__exchange(enum zw_zone_kind kind)
{
	return kind == ZW_KIND_PROVIDER_EXCHANGE ||
	       kind == ZW_KIND_CLIENT_EXCHANGE ||
	       kind == ZW_KIND_THIRD_PARTY_EXCHANGE;
}

const char *zw_profile__name(enum zw_profile p)
{
	return p == ZW_PROFILE_PIAMS ? "piams" : "minimal";
}

/* ---- protocols ---- */

static const struct {
	const char *name;
	uint8_t number;
} protos[] = {
	{"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"icmpv6", 58}, {"sctp", 132},
};

const char *zw_proto__name(uint8_t proto, char buf[4])
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].number == proto)
			return protos[i].name;
	snprintf(buf, 4, "%u", proto);
	return buf;
}

int zw_proto__parse(const char *s)
{
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(s, protos[i].name))
			return protos[i].number;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 255)
		return -1;
	return (int)v;
}

bool zw_proto__has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

bool zw_proto__is_icmp(uint8_t proto)
{
	return proto == 1 || proto == 58;
}

/* ---- ICMP types ---- */

struct icmp_name {
	const char *name;
	uint8_t type;
};

static const struct icmp_name icmp4_types[] = {
	{"echo-reply", 0},
	{"destination-unreachable", 3},
	{"source-quench", 4},
	{"redirect", 5},
	{"echo-request", 8},
	{"router-advertisement", 9},
	{"router-solicitation", 10},
	{"time-exceeded", 11},
	{"parameter-problem", 12},
	{"timestamp-request", 13},
	{"timestamp-reply", 14},
	{"info-request", 15},
	{"info-reply", 16},
	{"address-mask-request", 17},
	{"address-mask-reply", 18},
	{NULL, 0},
};

static const struct icmp_name icmp6_types[] = {
	{"destination-unreachable", 1},
	{"packet-too-big", 2},
	{"time-exceeded", 3},
	{"parameter-problem", 4},
	{"echo-request", 128},
	{"echo-reply", 129},
	{"mld-listener-query", 130},
	{"mld-listener-report", 131},
	{"mld-listener-done", 132},
	{"router-solicitation", 133},
	{"router-advertisement", 134},
	{"neighbor-solicitation", 135},
	{"neighbor-advertisement", 136},
	{"redirect", 137},
	{"mld2-listener-report", 143},
	{NULL, 0},
};

int zw_icmp_type__parse(uint8_t proto, const char *name)
{
	const struct icmp_name *t = proto == 58 ? icmp6_types : icmp4_types;

	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t->type;
	return -1;
}

const char *zw_icmp_type__name(uint8_t proto, uint8_t type)
{
	const struct icmp_name *t = proto == 58 ? icmp6_types : icmp4_types;

	for (; t->name; t++)
		if (t->type == type)
			return t->name;
	return NULL;
}

/* ---- prefixes ---- */

static bool host_bits_clear(const struct zw_prefix *p)
{
	unsigned bits = p->family == ZW_AF_INET ? 32 : 128;

	for (unsigned b = p->len; b < bits; b++)
		if (p->addr[b / 8] & (0x80 >> (b % 8)))
			return false;
	return true;
}

static void clear_host_bits(uint8_t *addr, unsigned len, unsigned bits)
{
	for (unsigned b = len; b < bits; b++)
		addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
}

int zw_prefix__parse(const char *s, struct zw_prefix *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	long len;
	unsigned bits;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = ZW_AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = ZW_AF_INET6;
		bits = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		char *end;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || *end || len < 0 || len > (long)bits ||
		    end - (slash + 1) > 3)
			return -EINVAL;
	} else {
		len = bits;
	}
	out->len = (uint8_t)len;
	if (!host_bits_clear(out))
		return -EDOM;
	return 0;
}

const char *zw_prefix__format(const struct zw_prefix *p, char buf[64])
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == ZW_AF_INET ? AF_INET : AF_INET6, p->addr, a,
		  sizeof(a));
	snprintf(buf, 64, "%s/%u", a, p->len);
	return buf;
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		return (a[full] & mask) == (b[full] & mask);
	}
	return true;
}

bool zw_prefix__contains_addr(const struct zw_prefix *p, uint8_t family,
			      const uint8_t addr[16])
{
	return p->family == family && bits_equal(p->addr, addr, p->len);
}

bool zw_prefix__contains(const struct zw_prefix *outer,
			 const struct zw_prefix *inner)
{
	return outer->family == inner->family && outer->len <= inner->len &&
	       bits_equal(outer->addr, inner->addr, outer->len);
}

bool zw_prefix__overlap(const struct zw_prefix *a, const struct zw_prefix *b)
{
	return zw_prefix__contains(a, b) || zw_prefix__contains(b, a);
}

void zw_prefix_mask(uint8_t *addr, uint8_t family, unsigned len)
{
	clear_host_bits(addr, len, family == ZW_AF_INET ? 32 : 128);
}

/* ---- dates ---- */

/* Days from civil date, proleptic Gregorian (H. Hinnant's algorithm). */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int32_t)doe - 719468;
}

static void civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)yoe + era * 400 + (*m <= 2);
}

int zw_date__parse(const char *s, int32_t *days)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
					 31, 31, 30, 31, 30, 31};
	int y;
	unsigned m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	y = atoi(s);
	m = (unsigned)atoi(s + 5);
	d = (unsigned)atoi(s + 8);
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -EINVAL;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	*days = days_from_civil(y, m, d);
	return 0;
}

const char *zw_date__format(int32_t days, char buf[11])
{
	int y;
	unsigned m, d;

	if (days == ZW_DATE_NONE) {
		buf[0] = '\0';
		return buf;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, m % 100u, d % 100u);
	return buf;
}

int32_t zw_date__today(void)
{
	const char *env = getenv("ZONEWALL_TODAY");
	int32_t days;

	if (env && *env && zw_date__parse(env, &days) == 0)
		return days;
	return (int32_t)(time(NULL) / 86400);
}

/* ---- hashing ---- */

int zw_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	return 0;
}

int zw_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
		uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (!ctx)
		return -EIO;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, a, alen) && EVP_DigestUpdate(ctx, b, blen) &&
	     EVP_DigestFinal_ex(ctx, out, &n) && n == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

void zw_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int zw_unhex(const char *hex, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + (size_t)k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v |= c - 'A' + 10;
			else
				return -EINVAL;
		}
		out[i] = (uint8_t)v;
	}
	return hex[2 * len] ? -EINVAL : 0;
}

/* ---- the name grammar (docs/matrix-language.md) ---- */

static bool lower_or_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool zw_name__valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!lower_or_digit(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool zw_flow_id__valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = lower_or_digit(c) || (c >= 'A' && c <= 'Z');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

bool zw_matrix_name__valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_or_digit(s[i]) &&
		    (i == 0 || (s[i] != '.' && s[i] != '_' && s[i] != '-')))
			return false;
	return true;
}

bool zw_ifname__valid(const char *s)
{
	/* Stricter than the kernel's dev_valid_name(): a name every engine
	 * can carry as is (nft device expressions, DPDK port names, shell
	 * commands in the docs), never "." or "..". */
	return zw_flow_id__valid(s) && strlen(s) <= 15;
}

uint64_t zw_fnv1a64(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

uint64_t zw_flow_id__hash(const char *id)
{
	uint64_t h = zw_fnv1a64(id, strlen(id));

	return h ? h : 1;
}

/* ---- drop reasons ---- */

const char *const zw_inspect_names[] = {"ssh",  "tls", "http", "rdp", "dns",
					"smtp", "imap", "ldap", "ntp", NULL};

bool zw_inspect__known(const char *name)
{
	for (size_t i = 0; name && zw_inspect_names[i]; i++)
		if (!strcmp(name, zw_inspect_names[i]))
			return true;
	return false;
}

static const char *const drop_names[ZW_DROP__COUNT] = {
#define ZW_DROP_NAME_(id, val, name, what) [ZW_DROP_##id] = name,
	ZW_DROP_REASONS(ZW_DROP_NAME_)
#undef ZW_DROP_NAME_
};

const char *zw_drop_reason__name(unsigned reason)
{
	return reason < ZW_DROP__COUNT && drop_names[reason] ? drop_names[reason]
							     : "unknown";
}

int zw_drop_reason__parse(const char *name)
{
	for (unsigned i = 0; i < ZW_DROP__COUNT; i++)
		if (drop_names[i] && !strcmp(drop_names[i], name))
			return (int)i;
	return -1;
}
