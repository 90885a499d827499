/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl audit: the auditor's report (not in this version yet). */
#include <stdio.h>
#include <string.h>

#include "zonectl.h"

int zw_cmd_audit(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			puts("usage: zonectl audit [--cartography FILE] [--format text|json|csv|html]\n"
			     "\n"
			     "The auditor's report (docs/cli.md). Not in this version yet:\n"
			     "'zonectl status' (what each engine enforces, with its SHA-256),\n"
			     "'zonectl rules' (REQUIREMENTS L1) and 'zonectl journal verify'\n"
			     "give the evidence it will gather. Exits 3 when run.");
			return ZW_EXIT_OK;
		}
	zw_ctl_err("'audit' is not in this version yet; 'zonectl rules' and "
		   "'zonectl journal --format csv' give the evidence it will "
		   "gather");
	return ZW_EXIT_ENV;
}
