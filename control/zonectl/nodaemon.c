/* SPDX-License-Identifier: BSD-2-Clause */
/* Built instead of the daemon client when zonewalld is disabled (no
 * SQLite, jansson or GnuTLS): the daemon commands say so plainly. */
#include "zonectl.h"

#define NOT_YET(fn)                                                            \
	int fn(int argc, char **argv)                                          \
	{                                                                      \
		(void)argc;                                                    \
		zw_ctl_err("'%s' needs zonewalld, which this build does not "  \
			   "include",                                      \
			   argv[0]);                                           \
		return ZW_EXIT_ENV;                                            \
	}

NOT_YET(zw_cmd_commit)
NOT_YET(zw_cmd_versions)
NOT_YET(zw_cmd_rollback)
NOT_YET(zw_cmd_journal)
NOT_YET(zw_cmd_rules)
NOT_YET(zw_cmd_status)
NOT_YET(zw_cmd_flows)
NOT_YET(zw_cmd_crisis)
NOT_YET(zw_cmd_audit)

int zw_ctl_version_at(const char *when, char **text, size_t *len,
		      long long *version, int32_t *day)
{
	(void)when, (void)text, (void)len, (void)version, (void)day;
	zw_ctl_err("'explain --at' needs zonewalld, which this build does not "
		   "include");
	return ZW_EXIT_ENV;
}
