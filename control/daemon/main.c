/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld's entry point: the production engines only (the test engine
 * "file" is registered by the tests' own daemon, tests/control). */
#include "zonewalld.h"

int main(int argc, char **argv)
{
	return zwd__main(argc, argv);
}
