// SPDX-License-Identifier: BSD-2-Clause
/*
 * File types by magic number (crisis block-file, REQUIREMENTS C2): the
 * Hyperscan patterns, anchored at the start of a transferred file, their
 * names and the groups of the command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l7_priv.h"

const char *const zw_l7_magic[ZW_FT__COUNT] = {
	/* MZ, then the PE signature where e_lfanew points, within the first
	 * KiB (read as: somewhere in it) */
	[ZW_FT_PE] = "^MZ.{0,1018}PE\\x00\\x00",
	[ZW_FT_ELF] = "^\\x7fELF",
	/* 32/64-bit, both byte orders, and universal (fat) binaries */
	[ZW_FT_MACHO] = "^(\\xfe\\xed\\xfa[\\xce\\xcf]|[\\xce\\xcf]\\xfa\\xed\\xfe|"
			"\\xca\\xfe\\xba\\xbe\\x00\\x00\\x00[\\x01-\\x14])",
	[ZW_FT_SCRIPT] = "^#!",
	[ZW_FT_ZIP] = "^PK(\\x03\\x04|\\x05\\x06|\\x07\\x08)",
	[ZW_FT_RAR] = "^Rar!\\x1a\\x07(\\x00|\\x01\\x00)",
	[ZW_FT_7Z] = "^7z\\xbc\\xaf\\x27\\x1c",
	[ZW_FT_GZIP] = "^\\x1f\\x8b\\x08",
	[ZW_FT_XZ] = "^\\xfd7zXZ\\x00",
	[ZW_FT_BZIP2] = "^BZh[1-9]1AY&SY",
	[ZW_FT_ZSTD] = "^\\x28\\xb5\\x2f\\xfd",
	[ZW_FT_CAB] = "^MSCF\\x00\\x00\\x00\\x00",
	[ZW_FT_OLE2] = "^\\xd0\\xcf\\x11\\xe0\\xa1\\xb1\\x1a\\xe1",
};

static const char *const names[ZW_FT__COUNT] = {
	[ZW_FT_PE] = "pe",	 [ZW_FT_ELF] = "elf",	[ZW_FT_MACHO] = "macho",
	[ZW_FT_SCRIPT] = "script", [ZW_FT_ZIP] = "zip",	[ZW_FT_RAR] = "rar",
	[ZW_FT_7Z] = "7z",	 [ZW_FT_GZIP] = "gzip", [ZW_FT_XZ] = "xz",
	[ZW_FT_BZIP2] = "bzip2", [ZW_FT_ZSTD] = "zstd", [ZW_FT_CAB] = "cab",
	[ZW_FT_OLE2] = "ole2",
};

const char *zw_l7_ftype__name(unsigned t)
{
	return t < ZW_FT__COUNT ? names[t] : "?";
}

int zw_l7_ftypes__parse(const char *list, uint32_t *mask, char *err,
			size_t err_len)
{
	const char *p = list;

	*mask = 0;
	if (!list || !*list) {
		snprintf(err, err_len, "no file type given");
		return -EINVAL;
	}
	while (*p) {
		size_t n = strcspn(p, ",");
		uint32_t m = 0;

		if (n == 10 && !strncmp(p, "executable", n))
			m = ZW_FT_EXECUTABLE;
		else if (n == 7 && !strncmp(p, "archive", n))
			m = ZW_FT_ARCHIVE;
		for (unsigned t = 0; !m && t < ZW_FT__COUNT; t++)
			if (strlen(names[t]) == n && !strncmp(p, names[t], n))
				m = ZW_FT_BIT(t);
		if (!m) {
			snprintf(err, err_len,
				 "unknown file type '%.*s' (pe, elf, macho, "
				 "script, zip, rar, 7z, gzip, xz, bzip2, zstd, "
				 "cab, ole2, executable, archive)",
				 (int)(n > 32 ? 32 : n), p);
			return -EINVAL;
		}
		*mask |= m;
		p += n;
		if (*p == ',') {
			p++;
			if (!*p) {
				snprintf(err, err_len, "empty file type after ','");
				return -EINVAL;
			}
		}
	}
	return 0;
}

const char *zw_l7_ftypes__format(uint32_t mask, char *buf, size_t len)
{
	size_t o = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned t = 0; t < ZW_FT__COUNT && o < len; t++)
		if (mask & ZW_FT_BIT(t))
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
					      o ? "," : "", names[t]);
	return buf;
}
