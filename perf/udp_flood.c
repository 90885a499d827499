// SPDX-License-Identifier: BSD-2-Clause
/*
 * udp-flood: small UDP datagrams as fast as one core sends them, and the
 * sink that counts what arrives, for forwarding benchmarks through the lab
 * appliance (perf/nft-bench.sh).
 *
 *   udp-flood send DST PORT SECONDS [FLOWS]   FLOWS source ports (default 64)
 *   udp-flood sink PORT SECONDS               prints "received N pps P"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sender(const char *dst, int port, double secs, int flows)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fam, *fds = calloc((size_t)flows, sizeof(int));
	char payload[18] = "zonewall-bench-64";
	struct mmsghdr msgs[BATCH];
	struct iovec iov = {payload, sizeof(payload)};
	unsigned long long sent = 0;
	double t0, end;

	if (strchr(dst, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		fam = AF_INET6;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, dst, &a->sin6_addr) != 1)
			return 2;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		fam = AF_INET;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, dst, &a->sin_addr) != 1)
			return 2;
		sl = sizeof(*a);
	}
	for (int i = 0; i < flows; i++) {
		fds[i] = socket(fam, SOCK_DGRAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&ss, sl) < 0) {
			perror("udp-flood: socket");
			return 3;
		}
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = now();
	end = t0 + secs;
	for (int k = 0; now() < end; k = (k + 1) % flows) {
		int n = sendmmsg(fds[k], msgs, BATCH, 0);

		if (n > 0)
			sent += (unsigned long long)n;
	}
	printf("sent %llu pps %.0f\n", sent, (double)sent / (now() - t0));
	return 0;
}

static int sink(int port, double secs)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), off = 0, big = 8 << 20;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
	struct timeval tv = {0, 200000};
	char bufs[BATCH][64];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	unsigned long long got = 0;
	double first = 0, last = 0, end;

	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("udp-flood: bind");
		return 3;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = now() + secs;
	while (now() < end) {
		int n = recvmmsg(fd, msgs, BATCH, 0, NULL);

		if (n <= 0)
			continue;
		if (!got)
			first = now();
		got += (unsigned long long)n;
		last = now();
	}
	printf("received %llu pps %.0f\n", got,
	       got > 1 && last > first ? (double)got / (last - first) : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "send"))
		return sender(argv[2], atoi(argv[3]), atof(argv[4]),
			      argc > 5 ? atoi(argv[5]) : 64);
	if (argc == 4 && !strcmp(argv[1], "sink"))
		return sink(atoi(argv[2]), atof(argv[3]));
	fputs("usage: udp-flood send DST PORT SECONDS [FLOWS] | sink PORT SECONDS\n", stderr);
	return 2;
}
