/* SPDX-License-Identifier: BSD-2-Clause */
/* Placeholder until the daemon lands (issue 3): the daemon commands say
 * plainly that they are not available in this build. */
#include "zonectl.h"

#define NOT_YET(fn)                                                            \
	int fn(int argc, char **argv)                                          \
	{                                                                      \
		(void)argc;                                                    \
		zw_ctl_err("'%s' needs zonewalld, which this build does not "  \
			   "include yet",                                      \
			   argv[0]);                                           \
		return ZW_EXIT_ENV;                                            \
	}

NOT_YET(zw_cmd_commit)
NOT_YET(zw_cmd_versions)
NOT_YET(zw_cmd_rollback)
NOT_YET(zw_cmd_journal)
NOT_YET(zw_cmd_rules)
NOT_YET(zw_cmd_status)
NOT_YET(zw_cmd_crisis)
NOT_YET(zw_cmd_audit)
