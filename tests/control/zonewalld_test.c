/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld as the tests run it: the production daemon plus the "file"
 * test engine (backend_file.c), which is never in the production list. */
#include <zonewall/backend.h>

#include "zonewalld.h"

int main(int argc, char **argv)
{
	zw_backend__register(&zw_backend_file);
	return zwd__main(argc, argv);
}
