/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld as the tests run it: the production daemon plus the "file"
 * test engine (backend_file.c), which is never in the production list,
 * and the build's zw-inspect as its default L7 inspector. */
#include <zonewall/backend.h>

#include "zonewalld.h"

int main(int argc, char **argv)
{
	zw_backend__register(&zw_backend_file);
#ifdef ZW_TEST_INSPECTOR
	zwd__set_inspector_default(ZW_TEST_INSPECTOR);
#endif
	return zwd__main(argc, argv);
}
