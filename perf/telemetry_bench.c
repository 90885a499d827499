/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Records per second the flow exporter sustains (docs/telemetry.md):
 *  - encoder alone: zw_tm_encoder__add()/__finish() into memory;
 *  - encoder + UDP exporter: zw_tm_exporter__add() to a loopback socket;
 *  - baseline, same run: plain sendmmsg() of as many datagrams of the
 *    same size as the exporter sent (what the kernel costs anyway).
 * Each measured RUNS times; medians. Records are IPv4 "deleted" records
 * with zone names and a flow id, the common case.
 * Usage: telemetry-bench [RECORDS] (default 2000000)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zonewall/telemetry.h>

#define RUNS 5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

static struct zw_tm_record make(uint32_t i)
{
	static const uint8_t sha[32] = {1, 2, 3};
	struct zw_tm_record r = {0};

	r.family = 4;
	r.proto = 6;
	r.fw_event = ZW_TM_FW_DELETED;
	r.end_reason = 3;
	r.src[0] = 10, r.src[1] = 1, r.src[2] = (uint8_t)(i >> 8),
	r.src[3] = (uint8_t)i;
	r.dst[0] = 10, r.dst[1] = 2, r.dst[3] = 7;
	r.sport = (uint16_t)(1024 + i % 60000);
	r.dport = 443;
	r.flow_index = 3;
	r.conn_id = i;
	r.packets = r.init_packets = 10;
	r.octets = r.init_octets = 1000;
	r.start_ms = 1700000000000ull + i;
	r.end_ms = r.start_ms + 100;
	r.src_zone = "operations";
	r.dst_zone = "web-servers";
	r.flow_id = "OPS-001";
	r.drop_reason = "";
	r.image_sha256 = sha;
	return r;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	double enc_rps[RUNS], exp_rps[RUNS], base_rps[RUNS];
	size_t msg_len = 0, per_msg = 0;
	uint64_t sent = 0, dropped = 0;
	int sink;
	char url[64], err[256];

	if (n < 1000)
		n = 1000;
	/* a sink nobody reads: loopback drops what overflows its buffer,
	 * for the exporter and the baseline alike */
	sink = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sink < 0 || bind(sink, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(sink, (struct sockaddr *)&sa, &sl) < 0) {
		perror("telemetry-bench: sink");
		return 1;
	}
	snprintf(url, sizeof(url), "udp://127.0.0.1:%d", ntohs(sa.sin_port));

	for (int run = 0; run < RUNS; run++) {
		struct zw_tm_encoder_opts eo = {.format = ZW_TM_IPFIX,
						.refresh_s = 60,
						.refresh_messages = 100,
						.max_message = 1400};
		struct zw_tm_encoder *e = zw_tm_encoder__new(&eo);
		struct zw_tm_exporter_opts xo = {.url = url};
		struct zw_tm_exporter *x;
		struct zw_tm_exporter_stats st;
		struct zw_tm_record r;
		const uint8_t *m;
		size_t nrec, msgs = 0;
		double t0;
		int fd;

		/* encoder alone */
		t0 = now_s();
		for (long i = 0; i < n; i++) {
			r = make((uint32_t)i);
			if (zw_tm_encoder__add(e, &r, 1700000000000ull) < 0) {
				msg_len = zw_tm_encoder__finish(e, &m, &nrec);
				per_msg = nrec;
				zw_tm_encoder__add(e, &r, 1700000000000ull);
			}
		}
		zw_tm_encoder__finish(e, &m, &nrec);
		enc_rps[run] = (double)n / (now_s() - t0);
		zw_tm_encoder__free(e);

		/* encoder + UDP exporter */
		x = zw_tm_exporter__new(&xo, err, sizeof(err));
		if (!x) {
			fprintf(stderr, "telemetry-bench: %s\n", err);
			return 1;
		}
		t0 = now_s();
		for (long i = 0; i < n; i++) {
			r = make((uint32_t)i);
			zw_tm_exporter__add(x, &r, 1700000000000ull);
		}
		zw_tm_exporter__tick(x, 1700000000000ull);
		exp_rps[run] = (double)n / (now_s() - t0);
		zw_tm_exporter__stats(x, &st);
		msgs = st.messages_sent + (st.records_dropped + per_msg - 1) /
						 (per_msg ? per_msg : 1);
		sent = st.records_sent;
		dropped = st.records_dropped;
		zw_tm_exporter__free(x);

		/* baseline: sendmmsg of as many datagrams of that size */
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		{
			static uint8_t buf[1400];
			struct mmsghdr mh[32];
			struct iovec iov[32];
			size_t left = msgs;

			memset(mh, 0, sizeof(mh));
			for (int k = 0; k < 32; k++) {
				iov[k] = (struct iovec){buf, msg_len};
				mh[k].msg_hdr.msg_iov = &iov[k];
				mh[k].msg_hdr.msg_iovlen = 1;
			}
			t0 = now_s();
			while (left) {
				unsigned b = left < 32 ? (unsigned)left : 32;
				int s = sendmmsg(fd, mh, b, 0);

				if (s <= 0)
					break;
				left -= (size_t)s;
			}
			base_rps[run] = (double)msgs * (double)per_msg /
					(now_s() - t0);
		}
		close(fd);
	}
	printf("telemetry-bench: %ld IPv4 records per run, %zu records per "
	       "%zu-byte IPFIX message, %d runs, medians\n",
	       n, per_msg, msg_len, RUNS);
	printf("  encoder alone            %10.0f records/s\n", median(enc_rps));
	printf("  encoder + UDP exporter   %10.0f records/s (last run: %llu "
	       "sent, %llu dropped)\n",
	       median(exp_rps), (unsigned long long)sent,
	       (unsigned long long)dropped);
	printf("  baseline sendmmsg        %10.0f records/s (same datagrams, "
	       "no encoding)\n",
	       median(base_rps));
	close(sink);
	return 0;
}
