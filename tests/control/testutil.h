/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the control/ unit tests. */
#ifndef ZONEWALL_TESTS_CONTROL_TESTUTIL_H
#define ZONEWALL_TESTS_CONTROL_TESTUTIL_H

#include <CUnit/Basic.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh directory under $TMPDIR (or /tmp), removed at exit unless
 * ZW_KEEP_TMP is set. */
void zwt_tmpdir(char *out, size_t len, const char *tag);
/* SHA-256 of a NUL-terminated string as hex. */
void zwt_sha256_hex(const char *s, char out[65]);
/* Run the registered CUnit tests; exit status 0 when all passed. */
int zwt_run(void);

#endif
