/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Returns bytes read (< len only at end of stream) or -errno. */
static ssize_t read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int zw_proto__encode(const json_t *msg, char **out, size_t *len)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t n;
	char *f;

	*out = NULL;
	*len = 0;
	if (!text)
		return -ENOMEM;
	n = strlen(text);
	if (n > ZW_PROTO_MAX_FRAME) {
		free(text);
		return -EMSGSIZE;
	}
	f = malloc(n + 4);
	if (!f) {
		free(text);
		return -ENOMEM;
	}
	f[0] = (char)(uint8_t)(n >> 24);
	f[1] = (char)(uint8_t)(n >> 16);
	f[2] = (char)(uint8_t)(n >> 8);
	f[3] = (char)(uint8_t)n;
	memcpy(f + 4, text, n);
	free(text);
	*out = f;
	*len = n + 4;
	return 0;
}

int zw_proto__decode(const char *buf, size_t len, json_t **out)
{
	json_t *msg = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);

	*out = NULL;
	if (!msg || !json_is_object(msg)) {
		json_decref(msg);
		return -EBADMSG;
	}
	*out = msg;
	return 0;
}

int zw_proto__send(int fd, const json_t *msg)
{
	char *frame;
	size_t len;
	int r = zw_proto__encode(msg, &frame, &len);

	if (r < 0)
		return r;
	r = write_all(fd, frame, len);
	free(frame);
	return r;
}

int zw_proto__recv(int fd, json_t **out, size_t max)
{
	uint8_t hdr[4];
	size_t len;
	ssize_t n;
	char *buf;
	int r;

	*out = NULL;
	if (!max)
		max = ZW_PROTO_MAX_FRAME;
	n = read_all(fd, hdr, 4);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENODATA;
	if (n < 4)
		return -EPROTO;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	      (size_t)hdr[2] << 8 | hdr[3];
	if (len > max)
		return -EMSGSIZE;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	n = read_all(fd, buf, len);
	if (n < 0 || (size_t)n < len) {
		free(buf);
		return n < 0 ? (int)n : -EPROTO;
	}
	r = zw_proto__decode(buf, len, out);
	free(buf);
	return r;
}

int zw_proto__call(const char *path, const json_t *req, json_t **resp,
		   char *err, size_t err_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	*resp = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot create a socket: %s",
			 strerror(errno));
		return r;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (errno == ENOENT || errno == ECONNREFUSED)
			snprintf(err, err_len,
				 "cannot reach zonewalld at %s (%s): is it "
				 "running? (or use --state DIR for read-only "
				 "access)",
				 path, strerror(errno));
		else if (errno == EACCES)
			snprintf(err, err_len,
				 "no permission to talk to zonewalld at %s: "
				 "run as root or a member of the socket's "
				 "group",
				 path);
		else
			snprintf(err, err_len,
				 "cannot connect to zonewalld at %s: %s", path,
				 strerror(errno));
		close(fd);
		return r;
	}
	r = zw_proto__send(fd, req);
	if (r < 0) {
		snprintf(err, err_len, "cannot send the request to zonewalld: %s",
			 strerror(-r));
		close(fd);
		return r;
	}
	shutdown(fd, SHUT_WR);
	r = zw_proto__recv(fd, resp, 0);
	close(fd);
	if (r < 0)
		snprintf(err, err_len,
			 "zonewalld gave no valid response (%s): see its log",
			 r == -ENODATA ? "connection closed" : strerror(-r));
	return r;
}

json_t *zw_proto__error(int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:b, s:i, s:s}", "ok", 0, "status", status, "error",
		      msg);
	return o;
}

int zw_proto__send_some(int fd, const char *buf, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = send(fd, buf + *off, len - *off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0
								       : -errno;
		}
		*off += (size_t)n;
	}
	return 1;
}
