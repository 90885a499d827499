/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewalld's configuration file (private to control/daemon/; format in
 * docs/daemon.md): one "key = value" per line, where each key is the name
 * of a long option of zonewalld ("backend = nft" is "--backend nft"), '#'
 * starts a comment line, flags take true/false or yes/no, repeatable
 * options (backend) may appear more than once. The file is turned into
 * command-line arguments placed before the real ones, so options given on
 * the command line override it.
 */
#ifndef ZONEWALL_CONTROL_DAEMON_CONFIG_H
#define ZONEWALL_CONTROL_DAEMON_CONFIG_H

#include <getopt.h>
#include <stddef.h>

/*
 * Read @path and return its settings as "--key=value" / "--key" strings in
 * a NULL-terminated array (*@out, malloc'd, as are its strings: free with
 * zwd_config__free()), their number in *@n. @lo is the daemon's option
 * table; a key must be one of its long options except those listed in
 * @refused (NULL-terminated: "config", "help", "version"). Returns 0, or
 * -errno with "FILE:LINE: reason" in @err (-EINVAL: bad line or key).
 */
int zwd_config__read(const char *path, const struct option *lo,
		     const char *const *refused, char ***out, int *n,
		     char *err, size_t err_len);

/* Free what zwd_config__read() returned; NULL-safe. */
void zwd_config__free(char **args);

#endif
