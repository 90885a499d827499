/* SPDX-License-Identifier: BSD-2-Clause */
#include "zonectl.h"
int zw_cmd_diff(int argc, char **argv)
{
	(void)argc;
	zw_ctl_err("'%s' is not written yet", argv[0]);
	return ZW_EXIT_ENV;
}
