/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The zonewalld control protocol (docs/control-protocol.md), private to
 * control/. One request, one response per connection, each a frame:
 * a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one
 * object). Requests carry "op"; responses carry "ok" and, when not ok,
 * "status" (the exit code zonectl returns: 1 refused, 3 environment) and
 * "error" (one line).
 */
#ifndef ZONEWALL_CONTROL_PROTO_H
#define ZONEWALL_CONTROL_PROTO_H

#include <jansson.h>
#include <stddef.h>

#define ZW_PROTO_VERSION 1
/* Largest frame accepted (a 100 000-flow matrix is ~20 MB of YAML). */
#define ZW_PROTO_MAX_FRAME (256u << 20)

/* One frame holding @msg (4-byte length, then the JSON text), malloc'd in
 * *out with its length in *len. Returns 0, -ENOMEM or -EMSGSIZE. */
int zw_proto__encode(const json_t *msg, char **out, size_t *len);

/* The payload of one frame (@len bytes) as one JSON object in *out (caller
 * decrefs). Returns 0 or -EBADMSG. */
int zw_proto__decode(const char *buf, size_t len, json_t **out);

/* Write one frame holding @msg. Returns 0 or -errno. */
/* Send what @fd takes now of buf[*off, len) without blocking, advancing
 * *off. 1: all sent; 0: the socket is full, call again when writable;
 * -errno: the peer is gone. The event loop's writers (control socket,
 * metrics) use it. */
int zw_proto__send_some(int fd, const char *buf, size_t len, size_t *off);
int zw_proto__send(int fd, const json_t *msg);

/*
 * Read one frame (at most @max bytes of payload; 0 = ZW_PROTO_MAX_FRAME)
 * into *out (caller decrefs). Returns 0, -ENODATA on a clean end of stream
 * before any byte, -EPROTO if the stream ends inside a frame, -EMSGSIZE if
 * the frame is too big, -EBADMSG if the payload is not one JSON object, or
 * -errno of read().
 */
int zw_proto__recv(int fd, json_t **out, size_t max);

/*
 * Client side: connect to @path, send @req, read the response into *resp.
 * Returns 0, or -errno with a one-line reason in @err (cannot connect, no
 * permission, daemon closed the connection...).
 */
int zw_proto__call(const char *path, const json_t *req, json_t **resp,
		   char *err, size_t err_len);

/* Build an error response {"ok":false,"status":S,"error":MSG}. */
json_t *zw_proto__error(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
