// SPDX-License-Identifier: BSD-2-Clause
/*
 * conn-load: short TCP connections that speak SSH's opening both ways,
 * for perf/nft-l7-bench.sh (connections per second through the nft
 * engine and its inspector, beside the same connections uninspected).
 *
 *   conn-load server PORT
 *       accept, send an SSH banner, read the client's, close; forever
 *   conn-load client ADDR PORT SECONDS CONCURRENCY
 *       keep CONCURRENCY connections in flight for SECONDS: connect, send
 *       an SSH banner, read the server's, close (RST, no TIME_WAIT);
 *       prints "N connections in S s: R/s, F failed"
 *
 * One thread, epoll, nonblocking sockets: the load is the kernel's and
 * the inspector's, not this program's. Written here because no packaged
 * tool opens and closes protocol-speaking connections at this rate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char banner_s[] = "SSH-2.0-zwbench-server\r\n";
static const char banner_c[] = "SSH-2.0-zwbench-client\r\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read until the end of a banner line; 1 done, 0 more to come, -1 error. */
static int read_line(int fd)
{
	char b[256];
	ssize_t n = read(fd, b, sizeof(b));

	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	return memchr(b, '\n', (size_t)n) ? 1 : 0;
}

static int server(int port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
				 .sin6_port = htons((uint16_t)port)};
	int one = 1, ep = epoll_create1(0), l = socket(AF_INET6, SOCK_STREAM, 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[256];

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4096)) {
		perror("conn-load: server");
		return 3;
	}
	fcntl(l, F_SETFL, O_NONBLOCK);
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == l) {
				int c;

				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event ce = {.events = EPOLLIN,
								 .data.fd = c};

					if (write(c, banner_s, sizeof(banner_s) - 1) < 0 ||
					    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce))
						close(c);
				}
				continue;
			}
			if (read_line(fd) != 0)
				close(fd); /* banner read, or the client left */
		}
	}
}

static int client(const char *addr, int port, double secs, int conc)
{
	struct sockaddr_storage sa = {0};
	socklen_t sl;
	int ep = epoll_create1(0), inflight = 0;
	unsigned long done = 0, failed = 0;
	struct epoll_event evs[256];
	double t0 = now_s(), end = t0 + secs;
	struct linger lin = {.l_onoff = 1, .l_linger = 0};

	if (strchr(addr, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&sa;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &a->sin_addr);
		sl = sizeof(*a);
	}
	for (;;) {
		double now = now_s();
		int n;

		while (now < end && inflight < conc) {
			int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
			struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN,
						 .data.fd = fd};

			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
			if (connect(fd, (struct sockaddr *)&sa, sl) < 0 &&
			    errno != EINPROGRESS) {
				failed++;
				close(fd);
				break;
			}
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			inflight++;
		}
		if (!inflight)
			break;
		n = epoll_wait(ep, evs, 256, 1000);
		if (n == 0 && now_s() > end + 2) {
			failed += (unsigned long)inflight; /* stuck: dropped */
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, r = 0;

			if (evs[i].events & EPOLLOUT) {
				struct epoll_event ev = {.events = EPOLLIN,
							 .data.fd = fd};

				if (write(fd, banner_c, sizeof(banner_c) - 1) < 0)
					r = -1;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
			} else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				r = read_line(fd);
			}
			if (r) {
				if (r > 0)
					done++;
				else
					failed++;
				close(fd);
				inflight--;
			}
		}
	}
	secs = now_s() - t0;
	printf("%lu connections in %.1f s: %.0f/s, %lu failed\n", done, secs,
	       (double)done / secs, failed);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
	fputs("usage: conn-load server PORT | client ADDR PORT SECONDS CONCURRENCY\n",
	      stderr);
	return 2;
}
