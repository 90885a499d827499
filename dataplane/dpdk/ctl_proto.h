/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The zonewall-dpdk control protocol (docs/dpdk-engine.md, "Control
 * socket"): a Unix stream socket; each request is one text line
 * "VERB [ARG...]\n" (LOAD is followed by the raw image bytes); each reply
 * starts with one line "OK ..." or "ERR <errno> <reason>", list replies
 * say "OK ... <n>" and are followed by n lines. Helpers shared by the
 * server (zonewall-dpdk) and the client (zonewalld's dpdk backend); no DPDK.
 */
#ifndef ZW_DPDK_CTL_PROTO_H
#define ZW_DPDK_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* 2: PREPARE, COMMIT, ABORT. 3: RECORDS, PREPARE's record settings
 * (log_all=, active_timeout=), STATUS records_lost=. zonewalld speaks to a
 * server of ZW_CTL_PROTO_MIN..ZW_CTL_PROTO_VERSION, using what it has. */
#define ZW_CTL_PROTO_VERSION 3
#define ZW_CTL_PROTO_MIN 2
#define ZW_CTL_PROTO_RECORDS 3	 /* first version with RECORDS */
#define ZW_CTL_RECORDS_MAX 65536 /* records one RECORDS reply holds */
#define ZW_CTL_LINE_MAX 1024
#define ZW_CTL_IMAGE_MAX (256u << 20) /* largest image LOAD accepts */

/* Read one line (without its '\n', NUL-terminated) into @buf. Returns its
 * length, -EPIPE at end of stream, -EMSGSIZE if longer than @len - 1,
 * -errno (-EAGAIN on timeout). */
int zw_ctl__read_line(int fd, char *buf, size_t len);
/* Read exactly @len bytes. Returns 0, -EPIPE at end of stream, -errno. */
int zw_ctl__read_full(int fd, void *buf, size_t len);
/* Write exactly @len bytes (no SIGPIPE). Returns 0 or -errno. */
int zw_ctl__write_full(int fd, const void *buf, size_t len);
/* printf to @fd. Returns 0 or -errno. */
int zw_ctl__printf(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Connect to the socket at @path with a send/receive timeout of
 * @timeout_ms. Returns the fd or -errno. */
int zw_ctl__connect(const char *path, int timeout_ms);
/* Split @line in place into at most @max words; returns the count. */
int zw_ctl__split(char *line, char **words, int max);
/* Value of "key=value" among @words, or NULL. */
const char *zw_ctl__kv(char **words, int n, const char *key);

#endif /* ZW_DPDK_CTL_PROTO_H */
