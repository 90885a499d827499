// SPDX-License-Identifier: BSD-2-Clause
/*
 * Differential test of zonewall-dpdk, pcap in -> pcap out: for each
 * matrix (the examples, random matrices from tests/gen and from tmatrix,
 * one with a crisis block list) it writes thousands of new-connection
 * packets aimed at every rule's edges into a pcap, runs the real
 * zonewall-dpdk binary on net_pcap virtual devices (--no-huge), and
 * demands that the packets leaving port B are exactly those the reference
 * evaluator allows, and that the engine's drop counters per reason equal
 * the oracle's denial reasons. 100 % agreement or the test fails.
 *
 * The L3/L4 phases run the engine with --no-l7 (their frames carry a tag,
 * no service's protocol); a last phase runs it with L7 inspection on and
 * sessions with payloads against zw_l7__eval (docs/l7.md).
 *
 * Exits 77 when it cannot run (not root, no zonewall-dpdk, no EAL).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "corpus.h"
#include "ctl_proto.h"
#include "gen.h"
#include "tmatrix.h"
#ifdef ZW_HAVE_L7
#include <zonewall/flow_record.h>
#include <zonewall/l7.h>
#endif

static char dir[256], bin[1024];
/* L3/L4 phases: --no-l7 (their frames carry a tag, no service's
 * protocol); the L7 phase turns inspection on. */
static const char *l7_arg = "--no-l7";
static int32_t day;
static int failures;

struct expect {
	uint8_t allow;
	uint8_t reason; /* enum zw_verdict_reason */
	struct zw_query q;
};

static char *slurp(const char *path);

static int write_file(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(b, 1, n, f) == n;

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

/* ICMP error types never open a connection: not a new-connection query.
 * ICMP in the other family (proto 58 over IPv4, 1 over IPv6) has no type
 * the parser reads (the core matches it as port 0): no packet can ask the
 * oracle's question either. */
static int no_packet_for(const struct zw_query *q)
{
	if ((q->proto == 1 && q->family == 6) || (q->proto == 58 && q->family == 4))
		return 1;
	/* A type is one byte: the oracle's port > 255 has no packet. */
	if ((q->proto == 1 || q->proto == 58) && q->port > 255)
		return 1;
	/* IPv6 extension header numbers are walked, not an upper layer. */
	if (q->family == 6 &&
	    (q->proto == 0 || q->proto == 43 || q->proto == 44 ||
	     q->proto == 51 || q->proto == 60 || q->proto == 135 ||
	     q->proto == 139 || q->proto == 140))
		return 1;
	if (q->proto == 1 && q->family == 4)
		return q->port == 3 || q->port == 4 || q->port == 5 ||
		       q->port == 11 || q->port == 12;
	if (q->proto == 58 && q->family == 6)
		return q->port < 128;
	return 0;
}

/* A set of normalised tuples, so no packet belongs to another's
 * connection (portless protocols share one per address pair). */
#define SETSZ (1u << 17)
static uint64_t set[SETSZ];

static uint64_t fnv64(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}

static int claim(const struct zt_pkt *p)
{
	int ports = p->proto == 6 || p->proto == 17 || p->proto == 132 ||
		    p->proto == 1 || p->proto == 58;
	int sw = memcmp(p->src, p->dst, 16) > 0;
	uint16_t pa = ports ? p->sport : 0, pb = ports ? p->dport : 0;
	uint64_t h = 1469598103934665603ull;
	uint32_t i;

	if (p->proto == 1 || p->proto == 58)
		pa = pb = p->sport; /* the ICMP id */
	h = fnv64(sw ? p->dst : p->src, 16, h);
	h = fnv64(sw ? p->src : p->dst, 16, h);
	h = fnv64(sw ? &pb : &pa, 2, h);
	h = fnv64(sw ? &pa : &pb, 2, h);
	h = fnv64(&p->proto, 1, h);
	h |= 1;
	for (i = (uint32_t)h & (SETSZ - 1);; i = (i + 1) & (SETSZ - 1)) {
		if (set[i] == h)
			return 0;
		if (!set[i]) {
			set[i] = h;
			return 1;
		}
	}
}

static int status(const char *sock, char *reply, size_t n)
{
	int fd = zw_ctl__connect(sock, 2000), rc;

	if (fd < 0)
		return fd;
	rc = zw_ctl__printf(fd, "STATUS\n");
	if (!rc)
		rc = zw_ctl__read_line(fd, reply, n);
	close(fd);
	return rc < 0 ? rc : 0;
}

static long kv_long(char *line, const char *key)
{
	char copy[ZW_CTL_LINE_MAX], *w[40];
	const char *v;
	int n;

	snprintf(copy, sizeof(copy), "%s", line);
	n = zw_ctl__split(copy, w, 40);
	v = zw_ctl__kv(w, n, key);
	return v ? strtol(v, NULL, 10) : -1;
}

/* Per-reason drop counts from the DROPS reply. */
static int drops(const char *sock, long out[16])
{
	char line[ZW_CTL_LINE_MAX];
	int fd = zw_ctl__connect(sock, 2000), i, n;

	memset(out, 0, 16 * sizeof(long));
	if (fd < 0)
		return fd;
	zw_ctl__printf(fd, "DROPS\n");
	if (zw_ctl__read_line(fd, line, sizeof(line)) < 0) {
		close(fd);
		return -EIO;
	}
	n = (int)kv_long(line, "n");
	for (i = 0; i < n; i++) {
		int r;
		long c;

		if (zw_ctl__read_line(fd, line, sizeof(line)) < 0)
			break;
		if (sscanf(line, "%d %*s %ld", &r, &c) == 2 && r >= 0 && r < 16)
			out[r] = c;
	}
	close(fd);
	return 0;
}

static void shutdown_engine(const char *sock)
{
	int fd = zw_ctl__connect(sock, 2000);

	if (fd >= 0) {
		zw_ctl__printf(fd, "SHUTDOWN\n");
		close(fd);
	}
}

/*
 * Run zonewall-dpdk with @pol on net_pcap ports: port 0 reads @in (and
 * writes out0), port 1 writes out1. Waits until @n packets were judged,
 * reads the drop counters into @got, stops it. Returns 0, 1 on failure,
 * 77 when the engine cannot run at all.
 */
/* The engine stopped before it was asked to: only an environment error
 * (exit 3: EAL, ports, memory) means it cannot run here (77); a crash or
 * any other exit is a failure. */
static int exited_early(const char *name, const char *log, int status_rc)
{
	fprintf(stderr, "%s: zonewall-dpdk exited early, status %d (see %s)\n",
		name, status_rc, log);
	return WIFEXITED(status_rc) && WEXITSTATUS(status_rc) == 3 ? 77 : 1;
}

static int run_engine(const char *name, const char *pol, const char *in,
		      const char *out0, const char *out1, long n, long got[16])
{
	char sock[512], log[512], a0[1200], a1[600], reply[ZW_CTL_LINE_MAX];
	int status_rc, bad = 0;
	long done = -1;
	time_t end;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	snprintf(a0, sizeof(a0), "net_pcap0,rx_pcap=%s,tx_pcap=%s", in, out0);
	snprintf(a1, sizeof(a1), "net_pcap1,tx_pcap=%s", out1);
	unlink(sock);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "--no-huge", "-m", "1024", "--no-shconf",
		      "--no-pci", "-l", "0-1", "--vdev", a0, "--vdev", a1,
		      "--log-level", "lib.eal:error", "--", "--policy", pol,
		      "--pair", "0:1", "--control", sock, "--conns", "65536",
		      l7_arg, (char *)NULL);
		_exit(127);
	}
	/* The pcap vdev delivers the whole file at once: wait until every
	 * packet was judged. */
	end = time(NULL) + 60;
	while (time(NULL) < end) {
		usleep(50 * 1000);
		if (waitpid(pid, &status_rc, WNOHANG) == pid)
			return exited_early(name, log, status_rc);
		if (status(sock, reply, sizeof(reply)))
			continue;
		done = kv_long(reply, "done");
		if (done >= n)
			break;
	}
	if (done < n) {
		fprintf(stderr, "%s: only %ld of %ld packets judged: %s\n", name,
			done, n, reply);
		bad++;
	}
	drops(sock, got);
	shutdown_engine(sock);
	waitpid(pid, &status_rc, 0);
	if (!WIFEXITED(status_rc) || WEXITSTATUS(status_rc) != 0) {
		fprintf(stderr, "%s: zonewall-dpdk exit status %d\n", name,
			status_rc);
		bad++;
	}
	return bad ? 1 : 0;
}

/*
 * The shared differential corpus (tests/corpus: every zone pair, rule
 * edges, replies, unsolicited packets, ICMP errors, fragments, malformed
 * frames, block list; verdicts from the oracle and the reference state
 * model), one phase: the frames leaving port B must be exactly the frames
 * expected to pass, in order, and the drop counters per reason must equal
 * the expected reasons.
 */
static int run_corpus(const char *name, struct zw_image *img, uint64_t seed)
{
	char in[512], out0[512], out1[512], pol[512], errbuf[PCAP_ERRBUF_SIZE];
	struct zw_corpus *c = zw_corpus__new(day);
	long want[16] = { 0 }, got[16];
	size_t n, i, next = 0, passed = 0, judged = 0;
	int bad = 0, rc;
	pcap_t *pd;
	pcap_dumper_t *dump;

	if (!c || zw_corpus__add_phase(c, img, seed, 0)) {
		fprintf(stderr, "%s: cannot build the corpus\n", name);
		return 1;
	}
	n = zw_corpus__count(c);
	snprintf(in, sizeof(in), "%s/%s.in.pcap", dir, name);
	snprintf(out0, sizeof(out0), "%s/%s.out0.pcap", dir, name);
	snprintf(out1, sizeof(out1), "%s/%s.out1.pcap", dir, name);
	snprintf(pol, sizeof(pol), "%s/%s.img", dir, name);
	if (write_file(pol, img->bytes, img->size))
		return 1;
	pd = pcap_open_dead(DLT_EN10MB, 65535);
	dump = pcap_dump_open(pd, in);
	for (i = 0; i < n; i++) {
		const struct zw_cx_pkt *p = zw_corpus__pkt(c, i);
		struct pcap_pkthdr h = { .caplen = (uint32_t)p->len,
					 .len = (uint32_t)p->len };

		h.ts.tv_usec = (long)i;
		pcap_dump((u_char *)dump, &h, p->frame);
		if (p->pass)
			passed++;
		else if (p->reason < 16)
			want[p->reason]++;
		judged += p->judged;
	}
	pcap_dump_close(dump);
	pcap_close(pd);
	rc = run_engine(name, pol, in, out0, out1, (long)n, got);
	if (rc == 77) {
		zw_corpus__free(c);
		return 77;
	}
	bad += rc;
	pd = pcap_open_offline(out1, errbuf);
	if (!pd) {
		fprintf(stderr, "%s: %s\n", out1, errbuf);
		bad++;
	} else {
		struct pcap_pkthdr *h;
		const u_char *d;

		/* Every output frame must be the next expected-to-pass frame. */
		while (pcap_next_ex(pd, &h, &d) == 1) {
			size_t k = next;

			while (k < n && !zw_corpus__pkt(c, k)->pass) {
				k++;
			}
			if (k < n && zw_corpus__pkt(c, k)->len == h->caplen &&
			    !memcmp(zw_corpus__pkt(c, k)->frame, d, h->caplen)) {
				next = k + 1;
				continue;
			}
			/* Unexpected frame: find which input it was. */
			for (k = 0; k < n; k++)
				if (zw_corpus__pkt(c, k)->len == h->caplen &&
				    !memcmp(zw_corpus__pkt(c, k)->frame, d, h->caplen))
					break;
			if (++bad <= 10)
				fprintf(stderr, "%s: frame %zu (%s) passed, expected "
						"drop (reason %u)\n",
					name, k, k < n ? zw_corpus__pkt(c, k)->label : "?",
					k < n ? zw_corpus__pkt(c, k)->reason : 0);
			if (k < n)
				next = k + 1;
		}
		pcap_close(pd);
		/* Expected to pass but never seen. */
		for (i = next; i < n; i++)
			if (zw_corpus__pkt(c, i)->pass && ++bad <= 10)
				fprintf(stderr, "%s: frame %zu (%s) dropped, expected "
						"to pass\n",
					name, i, zw_corpus__pkt(c, i)->label);
	}
	for (i = 1; i < 13; i++) {
		if (got[i] == want[i])
			continue;
		fprintf(stderr, "%s: drop reason %zu: engine %ld, expected %ld\n",
			name, i, got[i], want[i]);
		bad++;
	}
	printf("%-12s %5zu corpus frames (%zu pass, %zu judged): %s\n", name, n,
	       passed, judged, bad ? "DISAGREE" : "100% agreement");
	fflush(stdout);
	zw_corpus__free(c);
	return bad ? 1 : 0;
}

/* Run one image against @n queries. Returns 0 on full agreement, 1 on
 * disagreement, 77 when the engine could not run at all. */
static int run(const char *name, struct zw_image *img, struct zw_query *qs,
	       int n)
{
	char in[512], out0[512], out1[512], pol[512], sock[512], log[512];
	char a0[1200], a1[600], reply[ZW_CTL_LINE_MAX];
	struct expect *ex = calloc((size_t)n, sizeof(*ex));
	uint8_t *seen = calloc((size_t)n, 1);
	long want[ZW_VERDICT_BLOCKED + 1] = { 0 }, got[16];
	int i, kept = 0, allowed = 0, bad = 0, status_rc, early = 1;
	pcap_t *pd;
	pcap_dumper_t *dump;
	pid_t pid;
	char errbuf[PCAP_ERRBUF_SIZE];

	snprintf(in, sizeof(in), "%s/%s.in.pcap", dir, name);
	snprintf(out0, sizeof(out0), "%s/%s.out0.pcap", dir, name);
	snprintf(out1, sizeof(out1), "%s/%s.out1.pcap", dir, name);
	snprintf(pol, sizeof(pol), "%s/%s.img", dir, name);
	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	if (write_file(pol, img->bytes, img->size))
		return 1;
	memset(set, 0, sizeof(set));
	pd = pcap_open_dead(DLT_EN10MB, 65535);
	dump = pcap_dump_open(pd, in);
	if (!dump) {
		fprintf(stderr, "%s: %s\n", in, pcap_geterr(pd));
		return 1;
	}
	for (i = 0; i < n; i++) {
		struct zt_pkt p;
		struct zw_verdict v;
		struct pcap_pkthdr h = { 0 };
		uint8_t f[256];

		qs[i].day = day; /* the engine enforces one day */
		if (no_packet_for(&qs[i]))
			continue;
		zt_pkt_of_query(&qs[i], (uint16_t)(1024 + kept), (uint32_t)kept,
				&p);
		if (!claim(&p))
			continue;
		zw_eval__image(img, &qs[i], &v);
		ex[kept].allow = v.allow;
		ex[kept].reason = (uint8_t)v.reason;
		ex[kept].q = qs[i];
		if (v.allow)
			allowed++;
		else
			want[v.reason]++;
		h.caplen = h.len = (uint32_t)zt_frame(&p, f, sizeof(f));
		h.ts.tv_usec = kept;
		pcap_dump((u_char *)dump, &h, f);
		kept++;
	}
	pcap_dump_close(dump);
	pcap_close(pd);

	snprintf(a0, sizeof(a0), "net_pcap0,rx_pcap=%s,tx_pcap=%s", in, out0);
	snprintf(a1, sizeof(a1), "net_pcap1,tx_pcap=%s", out1);
	unlink(sock);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "--no-huge", "-m", "1024", "--no-shconf",
		      "--no-pci", "-l", "0-1", "--vdev", a0, "--vdev", a1,
		      "--log-level", "lib.eal:error", "--", "--policy", pol,
		      "--pair", "0:1", "--control", sock, "--conns", "65536",
		      "--no-l7", (char *)NULL);
		_exit(127);
	}
	/* The pcap vdev delivers the whole file at once: wait until every
	 * packet was judged. */
	{
		time_t end = time(NULL) + 60;
		long done = -1;

		while (time(NULL) < end) {
			usleep(50 * 1000);
			if (waitpid(pid, &status_rc, WNOHANG) == pid) {
				early = exited_early(name, log, status_rc);
				pid = 0;
				break;
			}
			if (status(sock, reply, sizeof(reply)))
				continue;
			done = kv_long(reply, "done");
			if (done >= kept)
				break;
		}
		if (pid && done < kept) {
			fprintf(stderr, "%s: only %ld of %d packets judged: %s\n",
				name, done, kept, reply);
			bad++;
		}
	}
	if (pid) {
		drops(sock, got);
		shutdown_engine(sock);
		waitpid(pid, &status_rc, 0);
		if (!WIFEXITED(status_rc) || WEXITSTATUS(status_rc) != 0) {
			fprintf(stderr, "%s: zonewall-dpdk exit status %d\n",
				name, status_rc);
			bad++;
		}
	} else {
		free(ex);
		free(seen);
		return early;
	}
	pd = pcap_open_offline(out1, errbuf);
	if (!pd) {
		fprintf(stderr, "%s: %s\n", out1, errbuf);
		bad++;
	} else {
		struct pcap_pkthdr *h;
		const u_char *d;

		while (pcap_next_ex(pd, &h, &d) == 1) {
			uint32_t t = zt_frame_tag(d, h->caplen);

			if (t < (uint32_t)kept)
				seen[t]++;
			else
				bad++;
		}
		pcap_close(pd);
	}
	for (i = 0; i < kept; i++) {
		if (seen[i] == ex[i].allow)
			continue;
		if (++bad <= 10) {
			char s[64], d[64];

			inet_ntop(ex[i].q.family == 4 ? AF_INET : AF_INET6,
				  ex[i].q.src, s, sizeof(s));
			inet_ntop(ex[i].q.family == 4 ? AF_INET : AF_INET6,
				  ex[i].q.dst, d, sizeof(d));
			fprintf(stderr, "%s: packet %d %s -> %s proto %u port %u: "
					"oracle %s (reason %u), engine %s\n",
				name, i, s, d, ex[i].q.proto, ex[i].q.port,
				ex[i].allow ? "allow" : "deny", ex[i].reason,
				seen[i] ? "passed it" : "dropped it");
		}
	}
	/* Denials by reason: the engine's counters equal the oracle's. */
	if (got[1] != want[ZW_VERDICT_NO_FLOW] ||
	    got[2] != want[ZW_VERDICT_ISOLATED] ||
	    got[5] != want[ZW_VERDICT_BLOCKED]) {
		fprintf(stderr, "%s: drops no-flow/isolated/blocked %ld/%ld/%ld, "
				"oracle %ld/%ld/%ld; all drops:",
			name, got[1], got[2], got[5], want[ZW_VERDICT_NO_FLOW],
			want[ZW_VERDICT_ISOLATED], want[ZW_VERDICT_BLOCKED]);
		for (i = 1; i < 13; i++)
			fprintf(stderr, " %d:%ld", i, got[i]);
		fprintf(stderr, "\n");
		bad++;
	}
	printf("%-12s %5d packets (%d allowed, %ld no-flow, %ld isolated, "
	       "%ld blocked): %s\n",
	       name, kept, allowed, want[ZW_VERDICT_NO_FLOW],
	       want[ZW_VERDICT_ISOLATED], want[ZW_VERDICT_BLOCKED],
	       bad ? "DISAGREE" : "100% agreement");
	fflush(stdout);
	free(ex);
	free(seen);
	return bad ? 1 : 0;
}

#ifdef ZW_HAVE_L7
/* ---- L7 inspection: the real binary with inspection on ---- */

static const char l7_yaml[] =
	"zonewall: 1\n"
	"name: l7pcap\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.1.0.0/24], isolate: true}\n"
	"  srv: {kind: servers, networks: [10.2.0.0/24]}\n"
	"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
	"  upd: {kind: update, networks: [10.4.0.0/24]}\n"
	"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
	"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
	"services:\n"
	"  app: {proto: tcp, ports: [8080]}\n"
	"  rdns: {proto: udp, ports: [5353], inspect: dns}\n"
	"flows:\n"
	"  - id: F-1\n"
	"    from: ops\n"
	"    to: srv\n"
	"    services: [ssh, http, app, rdns]\n"
	"    compensating: lab\n"
	"    justification: admin\n";

/* One client-to-server packet of a session: sequence offset from ISN + 1
 * (-1: the SYN), payload. The pcap vdev gives port 0 only: the sessions
 * are the client's side, the oracle is given the server's as empty. */
struct l7_pkt {
	int32_t off;
	const char *data;
	size_t len;
};

struct l7_session {
	uint8_t proto;
	uint16_t port;
	const char *c2s; /* the stream as the oracle sees it */
	size_t c2s_len;
	struct l7_pkt p[6];
	int held; /* index of a segment dropped unjudged (a hole), or -1 */
};

#define B(x) x, sizeof(x) - 1
#define ELF "\x7f" "ELF\x02\x01\x01\x00\x00\x00"
#define POST_ELF "POST /u HTTP/1.1\r\nContent-Length: 10\r\n\r\n" ELF
#define POST_TXT "POST /u HTTP/1.1\r\nContent-Length: 12\r\n\r\nhello world\n"

static const struct l7_session l7_sessions[] = {
	{ 6, 22, B("SSH-2.0-cli\r\n"),
	  { { -1, B("") }, { 0, B("") }, { 0, B("SSH-2.0-cli\r\n") } }, -1 },
	{ 6, 22, B("GET / HTTP/1.1\r\n\r\n"),
	  { { -1, B("") }, { 0, B("GET / HTTP/1.1\r\n\r\n") }, { 18, B("x") } }, -1 },
	{ 6, 22, B("SSH-2.0-cli\r\n"),
	  { { -1, B("") }, { 0, B("SSH-2.") }, { 6, B("0-cli\r\n") } }, -1 },
	{ 6, 22, B("SSH-1.5-old\r\n"),
	  { { -1, B("") }, { 0, B("SSH-") }, { 4, B("1.5-old\r\n") }, { 13, B("x") } }, -1 },
	{ 6, 22, B("SSH-2.0-cli\r\n"),
	  { { -1, B("") }, { 0, B("SSH-2.0-") }, { 0, B("SSH-2.0-") },
	    { 0, B("SSH-2.0-cl") }, { 10, B("i\r\n") } }, -1 },
	{ 6, 22, B("hello\r\n"),
	  { { -1, B("") }, { 0, B("") }, { 0, B("hello\r\n") }, { 7, B("x") } }, -1 },
	{ 6, 22, B("SSH-2.0-cli\r\n"),
	  { { -1, B("") }, { 8, B("cli\r\n") }, { 0, B("SSH-2.0-") },
	    { 8, B("cli\r\n") } }, 1 },
	{ 6, 80, B("GET /a HTTP/1.1\r\n\r\n"),
	  { { -1, B("") }, { 0, B("GET /a HTTP/1.1\r\n\r\n") } }, -1 },
	{ 6, 80, B("SSH-2.0-cli\r\n"),
	  { { -1, B("") }, { 0, B("SSH-2.0-cli\r\n") } }, -1 },
	{ 6, 80, B(POST_ELF),
	  { { -1, B("") }, { 0, B("POST /u HTTP/1.1\r\nContent-Length: 10\r\n\r\n\x7f" "E") },
	    { 42, B("LF\x02\x01\x01\x00\x00\x00") }, { 50, B("x") } }, -1 },
	{ 6, 80, B(POST_TXT), { { -1, B("") }, { 0, B(POST_TXT) } }, -1 },
	{ 6, 8080, B(ELF), { { -1, B("") }, { 0, B(ELF) }, { 10, B("x") } }, -1 },
	{ 6, 8080, B("just text\n"), { { -1, B("") }, { 0, B("just text\n") } }, -1 },
	{ 17, 5353, B("\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
	  { { 0, B("\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00") } }, -1 },
	{ 17, 5353, B("hello there!"),
	  { { 0, B("hello there!") }, { 0, B("second one") } }, -1 },
};

static size_t l7_frame(uint8_t *f, uint8_t proto, uint16_t cport,
		       uint16_t port, int syn, uint32_t seq, const char *d,
		       size_t len)
{
	size_t hl = proto == 6 ? 20 : 8, tot = 20 + hl + len;
	size_t fl = 14 + tot < 60 ? 60 : 14 + tot;
	uint8_t *l4 = f + 34;

	memset(f, 0, fl);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	f[14] = 0x45;
	f[16] = (uint8_t)(tot >> 8), f[17] = (uint8_t)tot;
	f[22] = 64, f[23] = proto;
	inet_pton(AF_INET, "10.1.0.5", f + 26);
	inet_pton(AF_INET, "10.2.0.9", f + 30);
	l4[0] = (uint8_t)(cport >> 8), l4[1] = (uint8_t)cport;
	l4[2] = (uint8_t)(port >> 8), l4[3] = (uint8_t)port;
	if (proto == 6) {
		l4[4] = (uint8_t)(seq >> 24), l4[5] = (uint8_t)(seq >> 16);
		l4[6] = (uint8_t)(seq >> 8), l4[7] = (uint8_t)seq;
		l4[12] = 5 << 4;
		l4[13] = syn ? 0x02 : 0x18;
		l4[14] = 0xff, l4[15] = 0xff;
	} else {
		l4[4] = (uint8_t)((8 + len) >> 8), l4[5] = (uint8_t)(8 + len);
	}
	memcpy(l4 + hl, d, len);
	return fl;
}

/*
 * Sessions with payloads (right and wrong protocol, split, retransmitted,
 * empty first segment, a hole, an ELF and a text upload during a
 * block-file executable measure, UDP) through zonewall-dpdk with L7 on:
 * every packet of a session passes until the oracle (zw_l7__eval on the
 * client's stream) denies it, the deciding packet and every later one are
 * dropped, and the engine's l7-mismatch and file-type counters equal the
 * oracle's denials.
 */
static int run_l7(void)
{
	struct zw_fileblock fb = { .types = ZW_FT_EXECUTABLE, .from = "ops",
				   .to = "srv" };
	struct zw_compile_opts o = { .fileblock = &fb, .n_fileblock = 1 };
	struct zw_image *img = zt_compile_opts(l7_yaml, day, &o);
	struct zw_l7_db *db;
	char in[512], out0[512], out1[512], pol[512], err[256];
	char errbuf[PCAP_ERRBUF_SIZE];
	uint8_t (*frames)[256] = calloc(256, sizeof(*frames));
	size_t lens[256], n = 0, next = 0, passed = 0, i;
	uint8_t pass[256];
	long want[16] = { 0 }, got[16];
	int bad = 0, rc;
	pcap_t *pd;
	pcap_dumper_t *dump;

	db = zw_l7_db__new(err, sizeof(err));
	if (!img || !db || !frames) {
		fprintf(stderr, "l7: cannot build the image or the oracle: %s\n",
			db ? "" : err);
		return 1;
	}
	for (size_t s = 0; s < sizeof(l7_sessions) / sizeof(l7_sessions[0]); s++) {
		const struct l7_session *ss = &l7_sessions[s];
		struct zw_query q = { .family = 4, .proto = ss->proto,
				      .port = ss->port, .day = day };
		struct zw_l7_result r;
		int decided = 0;

		inet_pton(AF_INET, "10.1.0.5", q.src);
		inet_pton(AF_INET, "10.2.0.9", q.dst);
		if (zw_l7__eval(img, db, &q, ss->c2s, ss->c2s_len, "", 0, &r))
			return 1;
		/* the packet that decides is the one completing the
		 * oracle's stream (the sessions are written so) */
		for (int k = 0; k < 6 && ss->p[k].data; k++) {
			const struct l7_pkt *p = &ss->p[k];
			uint16_t cport = (uint16_t)(30000 + s);

			lens[n] = l7_frame(frames[n], ss->proto, cport, ss->port,
					   p->off < 0, 7000 + (uint32_t)(p->off + 1),
					   p->data, p->len);
			if (k == ss->held) {
				pass[n++] = 0; /* a hole: dropped unjudged */
				continue;
			}
			/* denied: from the packet completing the oracle's
			 * stream on (UDP: from its first datagram) */
			if (!r.allow && !decided && p->len &&
			    (uint32_t)(p->off + (int32_t)p->len) >= ss->c2s_len)
				decided = 1;
			if (!r.allow && ss->proto == 17 && p->len)
				decided = 1;
			pass[n] = !decided;
			if (decided && r.reason < 16)
				want[r.reason]++;
			passed += pass[n];
			n++;
		}
	}
	snprintf(in, sizeof(in), "%s/l7.in.pcap", dir);
	snprintf(out0, sizeof(out0), "%s/l7.out0.pcap", dir);
	snprintf(out1, sizeof(out1), "%s/l7.out1.pcap", dir);
	snprintf(pol, sizeof(pol), "%s/l7.img", dir);
	if (write_file(pol, img->bytes, img->size))
		return 1;
	pd = pcap_open_dead(DLT_EN10MB, 65535);
	dump = pcap_dump_open(pd, in);
	for (i = 0; i < n; i++) {
		struct pcap_pkthdr h = { .caplen = (uint32_t)lens[i],
					 .len = (uint32_t)lens[i] };

		h.ts.tv_usec = (long)i;
		pcap_dump((u_char *)dump, &h, frames[i]);
	}
	pcap_dump_close(dump);
	pcap_close(pd);
	l7_arg = "--l7-conns=64";
	rc = run_engine("l7", pol, in, out0, out1, (long)n, got);
	l7_arg = "--no-l7";
	if (rc == 77)
		return 77;
	bad += rc;
	pd = pcap_open_offline(out1, errbuf);
	if (!pd) {
		fprintf(stderr, "%s: %s\n", out1, errbuf);
		bad++;
	} else {
		struct pcap_pkthdr *h;
		const u_char *d;

		while (pcap_next_ex(pd, &h, &d) == 1) {
			while (next < n && !pass[next])
				next++;
			if (next < n && lens[next] == h->caplen &&
			    !memcmp(frames[next], d, h->caplen)) {
				next++;
				continue;
			}
			if (++bad <= 10)
				fprintf(stderr, "l7: a frame passed that the "
					"oracle denies (after expected frame %zu)\n",
					next);
		}
		pcap_close(pd);
		for (i = next; i < n; i++)
			if (pass[i] && ++bad <= 10)
				fprintf(stderr, "l7: frame %zu dropped, expected "
					"to pass\n", i);
	}
	for (i = 1; i < 16; i++) {
		if (got[i] == want[i])
			continue;
		fprintf(stderr, "l7: drop reason %zu: engine %ld, oracle %ld\n",
			i, got[i], want[i]);
		bad++;
	}
	printf("%-12s %5zu frames of %zu sessions (%zu pass, %ld l7-mismatch, "
	       "%ld file-type): %s\n", "l7", n,
	       sizeof(l7_sessions) / sizeof(l7_sessions[0]), passed,
	       want[ZW_DROP_L7_MISMATCH], want[ZW_DROP_FILE_TYPE],
	       bad ? "DISAGREE" : "100% agreement");
	fflush(stdout);
	zw_l7_db__free(db);
	zw_image__free(img);
	free(frames);
	return bad ? 1 : 0;
}
#endif

/* ---- mirroring to probes (docs/dpdk-engine.md "Probes") ---- */

#define MIR_N 3000

/* Zone index of @name in @img, or UINT32_MAX. */
static uint32_t zone_named(const struct zw_image *img, const char *name)
{
	uint32_t i;

	for (i = 0; i < img->n_zones; i++)
		if (!strcmp(zw_image__str(img, img->zones[i].name), name))
			return i;
	return UINT32_MAX;
}

/* Run the binary with @argv (its output to @log); 0 or the exit status. */
static pid_t spawn(char *const *argv, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(bin, argv);
		_exit(127);
	}
	return pid;
}

/* Read a mirror capture: every frame a tag below @n seen once, byte for
 * byte the frame sent (@frames, @lens); into @seen. Returns the number of
 * frames that are not (unknown, twice, modified). */
static int read_mirror(const char *path, uint8_t (*frames)[256],
		       const size_t *lens, int n, uint8_t *seen)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pd = pcap_open_offline(path, errbuf);
	struct pcap_pkthdr *h;
	const u_char *d;
	int bad = 0;

	memset(seen, 0, (size_t)n);
	if (!pd) {
		fprintf(stderr, "mirror: %s: %s\n", path, errbuf);
		return 1;
	}
	while (pcap_next_ex(pd, &h, &d) == 1) {
		uint32_t t = zt_frame_tag(d, h->caplen);

		if (t >= (uint32_t)n || seen[t]++ || h->caplen != lens[t] ||
		    memcmp(d, frames[t], lens[t])) {
			if (++bad <= 5)
				fprintf(stderr, "mirror: %s: frame tag %u is "
						"unknown, twice or modified\n",
					path, t);
		}
	}
	pcap_close(pd);
	return bad;
}

/*
 * Two probes on two mirror ports of the real binary: `ids` (traffic: all,
 * zone adm) named by the port's device name net_pcap2, `soc` (traffic:
 * allowed, zone jump) by the interface probe1 mapped with --mirror-port
 * probe1=net_pcap3. Openings aimed at the rules (allowed and denied) and
 * the replies of the allowed TCP and UDP ones go in; each mirror capture
 * must hold exactly its selection (source or destination in its zone; for
 * soc only what passed), each once, unmodified, and STATUS must count
 * them with no mirror drop. Then a probe naming no mirror port: the
 * binary refuses the policy (exit 1), naming the probe.
 */
static int run_mirror(const char *yaml)
{
	char in[512], out0[512], out1[512], m2[512], m3[512], pol[512];
	char sock[512], log[512], a0[1200], a1[600], a2[600], a3[600];
	char reply[ZW_CTL_LINE_MAX] = "", *text;
	uint8_t (*frames)[256] = calloc(2 * MIR_N, 256);
	size_t *lens = calloc(2 * MIR_N, sizeof(*lens));
	uint8_t *pass = calloc(2 * MIR_N, 1), *seen = calloc(2 * MIR_N, 1);
	uint16_t (*zones)[2] = calloc(2 * MIR_N, sizeof(*zones));
	struct zw_image *img;
	uint32_t adm, jump;
	uint64_t s = 11;
	long want_ids = 0, want_soc = 0, mirrored = -1, mdrops = -1, done = -1;
	int i, n = 0, bad = 0, st;
	pcap_t *pd;
	pcap_dumper_t *dump;
	pid_t pid;
	time_t end;

	text = malloc(strlen(yaml) + 256);
	if (!frames || !lens || !pass || !seen || !zones || !text)
		return 1;
	sprintf(text, "%s\nprobes:\n"
		      "  ids: {interface: net_pcap2, zones: [adm], traffic: all}\n"
		      "  soc: {interface: probe1, zones: [jump], traffic: allowed}\n",
		yaml);
	img = zt_compile(text, day, NULL, 0);
	if (!img)
		return 1;
	adm = zone_named(img, "adm");
	jump = zone_named(img, "jump");
	snprintf(in, sizeof(in), "%s/mirror.in.pcap", dir);
	snprintf(out0, sizeof(out0), "%s/mirror.out0.pcap", dir);
	snprintf(out1, sizeof(out1), "%s/mirror.out1.pcap", dir);
	snprintf(m2, sizeof(m2), "%s/mirror.ids.pcap", dir);
	snprintf(m3, sizeof(m3), "%s/mirror.soc.pcap", dir);
	snprintf(pol, sizeof(pol), "%s/mirror.img", dir);
	snprintf(sock, sizeof(sock), "%s/mirror.sock", dir);
	snprintf(log, sizeof(log), "%s/mirror.log", dir);
	if (write_file(pol, img->bytes, img->size))
		return 1;
	memset(set, 0, sizeof(set));
	pd = pcap_open_dead(DLT_EN10MB, 65535);
	dump = pcap_dump_open(pd, in);
	if (!dump)
		return 1;
	for (i = 0; i < MIR_N; i++) {
		struct zw_query q;
		struct zw_verdict v;
		struct zt_pkt p;
		int k;

		zt_query(img, &s, day, &q);
		q.day = day;
		if (no_packet_for(&q))
			continue;
		zt_pkt_of_query(&q, (uint16_t)(1024 + n), (uint32_t)n, &p);
		if (!claim(&p))
			continue;
		zw_eval__image(img, &q, &v);
		for (k = 0; k < 2; k++) {
			struct pcap_pkthdr h = { 0 };

			if (k) { /* the reply of an allowed TCP or UDP one */
				uint8_t a[16];
				uint16_t port = p.sport;

				if (!v.allow || (p.proto != 6 && p.proto != 17))
					break;
				memcpy(a, p.src, 16);
				memcpy(p.src, p.dst, 16);
				memcpy(p.dst, a, 16);
				p.sport = p.dport;
				p.dport = port;
				p.tcp_flags = 0x12; /* SYN-ACK */
				p.tag = (uint32_t)n;
			}
			pass[n] = v.allow;
			zones[n][0] = (uint16_t)(k ? v.dst_zone : v.src_zone);
			zones[n][1] = (uint16_t)(k ? v.src_zone : v.dst_zone);
			lens[n] = zt_frame(&p, frames[n], 256);
			h.caplen = h.len = (uint32_t)lens[n];
			h.ts.tv_usec = n;
			pcap_dump((u_char *)dump, &h, frames[n]);
			if (zones[n][0] == adm || zones[n][1] == adm)
				want_ids++;
			if (pass[n] && (zones[n][0] == jump || zones[n][1] == jump))
				want_soc++;
			n++;
		}
	}
	pcap_dump_close(dump);
	pcap_close(pd);

	snprintf(a0, sizeof(a0), "net_pcap0,rx_pcap=%s,tx_pcap=%s", in, out0);
	snprintf(a1, sizeof(a1), "net_pcap1,tx_pcap=%s", out1);
	snprintf(a2, sizeof(a2), "net_pcap2,tx_pcap=%s", m2);
	snprintf(a3, sizeof(a3), "net_pcap3,tx_pcap=%s", m3);
	unlink(sock);
	{
		char *argv[] = { bin, "--no-huge", "-m", "1024", "--no-shconf",
				 "--no-pci", "-l", "0-1", "--vdev", a0, "--vdev",
				 a1, "--vdev", a2, "--vdev", a3, "--log-level",
				 "lib.eal:error", "--", "--policy", pol, "--pair",
				 "0:1", "--mirror-port", "net_pcap2",
				 "--mirror-port", "probe1=net_pcap3", "--control",
				 sock, "--no-l7", NULL };

		pid = spawn(argv, log);
	}
	end = time(NULL) + 60;
	while (time(NULL) < end) {
		usleep(50 * 1000);
		if (waitpid(pid, &st, WNOHANG) == pid)
			return exited_early("mirror", log, st);
		if (status(sock, reply, sizeof(reply)))
			continue;
		done = kv_long(reply, "done");
		if (done >= n)
			break;
	}
	mirrored = kv_long(reply, "mirrored");
	mdrops = kv_long(reply, "mirror_drops");
	shutdown_engine(sock);
	waitpid(pid, &st, 0);
	if (done < n || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "mirror: %ld of %d judged, exit status %d\n",
			done, n, st);
		bad++;
	}
	/* ids: every frame to or from adm, passed or not */
	bad += read_mirror(m2, frames, lens, n, seen);
	for (i = 0; i < n; i++)
		if (seen[i] != (zones[i][0] == adm || zones[i][1] == adm) &&
		    ++bad <= 10)
			fprintf(stderr, "mirror: ids: frame %d (zones %u -> %u, "
					"%s) %s\n", i, zones[i][0], zones[i][1],
				pass[i] ? "allowed" : "denied",
				seen[i] ? "copied" : "not copied");
	/* soc: the frames to or from jump that passed */
	bad += read_mirror(m3, frames, lens, n, seen);
	for (i = 0; i < n; i++)
		if (seen[i] != (pass[i] && (zones[i][0] == jump ||
					    zones[i][1] == jump)) &&
		    ++bad <= 10)
			fprintf(stderr, "mirror: soc: frame %d (zones %u -> %u, "
					"%s) %s\n", i, zones[i][0], zones[i][1],
				pass[i] ? "allowed" : "denied",
				seen[i] ? "copied" : "not copied");
	if (mirrored != want_ids + want_soc || mdrops != 0) {
		fprintf(stderr, "mirror: STATUS mirrored=%ld mirror_drops=%ld, "
				"want %ld and 0\n",
			mirrored, mdrops, want_ids + want_soc);
		bad++;
	}
	/* a probe naming no mirror port: refused, named */
	{
		char *argv[] = { bin, "--no-huge", "-m", "512", "--no-shconf",
				 "--no-pci", "-l", "0", "--vdev", "net_null0",
				 "--vdev", "net_null1", "--vdev", "net_null2",
				 "--log-level", "lib.eal:error", "--", "--policy",
				 pol, "--pair", "0:1", "--mirror-port",
				 "net_null2", NULL };
		char *out;

		pid = spawn(argv, log);
		waitpid(pid, &st, 0);
		out = slurp(log);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !out ||
		    !strstr(out, "probe 'ids' (interface net_pcap2)")) {
			fprintf(stderr, "mirror: a probe naming no mirror port: "
					"exit status %d, said: %s\n",
				st, out ? out : "");
			bad++;
		}
		free(out);
	}
	printf("mirror       %5d frames: ids (all, adm) %ld copies, soc "
	       "(allowed, jump) %ld copies, unknown port refused: %s\n",
	       n, want_ids, want_soc, bad ? "DISAGREE" : "exact");
	fflush(stdout);
	zw_image__free(img);
	free(text);
	free(frames);
	free(lens);
	free(pass);
	free(seen);
	free(zones);
	return bad ? 1 : 0;
}

/* Exit codes of the CLI contract (docs/cli.md): 1 invalid policy, 2 usage. */
static int run_rc(const char *pol, const char *pair)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "--no-huge", "-m", "512", "--no-shconf", "--no-pci",
		      "-l", "0", "--vdev", "net_null0", "--vdev", "net_null1",
		      "--log-level", "lib.eal:error", "--", "--policy", pol,
		      "--pair", pair, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int cli_exit_codes(const struct zw_image *img)
{
	char good[512], bad[512];
	int r1, r2, r3;

	snprintf(good, sizeof(good), "%s/cli-good.img", dir);
	snprintf(bad, sizeof(bad), "%s/cli-bad.img", dir);
	if (write_file(good, img->bytes, img->size) ||
	    write_file(bad, img->bytes, img->size / 2))
		return 1;
	r1 = run_rc(bad, "0:1");
	r2 = run_rc(good, "0:7");
	r3 = run_rc(good, "0:0");
	printf("cli: truncated image -> exit %d, unknown port -> %d, "
	       "port paired with itself -> %d\n", r1, r2, r3);
	return !(r1 == 1 && r2 == 2 && r3 == 2);
}

static struct zw_matrix *parse(const char *yaml)
{
	struct zw_diags d;
	struct zw_matrix *m;

	zw_diags__init(&d, "m");
	m = zw_matrix__parse(yaml, strlen(yaml), "m", &d);
	zw_diags__fini(&d);
	return m;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

/* One case: @yaml, @n queries half from tests/gen, half from tmatrix. */
static int one_case(const char *name, const char *yaml, uint64_t seed, int n,
		    const struct zw_prefix *block, size_t n_block)
{
	struct zw_image *img = zt_compile(yaml, day, block, n_block);
	struct zw_matrix *m = parse(yaml);
	struct zw_query *qs = calloc((size_t)n, sizeof(*qs));
	uint64_t s1 = seed, s2 = seed * 31 + 7;
	int i, rc;

	if (!img || !m || !qs) {
		fprintf(stderr, "%s: cannot compile\n", name);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (i & 1)
			zw_gen__query(m, &s1, day, &qs[i]);
		else
			zt_query(img, &s2, day, &qs[i]);
	}
	rc = run(name, img, qs, n);
	if (rc != 77) {
		char cname[64];
		int r2;

		snprintf(cname, sizeof(cname), "%s-corpus", name);
		r2 = run_corpus(cname, img, seed);
		rc = r2 == 77 ? (rc ? rc : 77) : (rc | r2);
	}
	free(qs);
	zw_matrix__free(m);
	zw_image__free(img);
	return rc;
}

int main(void)
{
	const char *bd = getenv("ZONEWALL_BUILDDIR"), *sd = getenv("ZONEWALL_SRCDIR");
	char path[1024], *y;
	struct zw_prefix block[3];
	int rc = 0, r;

	if (geteuid() != 0) {
		printf("SKIP: zonewall-dpdk needs root for DPDK's EAL\n");
		return 77;
	}
	snprintf(bin, sizeof(bin), "%s/dataplane/dpdk/zonewall-dpdk",
		 bd ? bd : ".");
	if (access(bin, X_OK)) {
		printf("SKIP: %s not built\n", bin);
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/zw-dpdk-diff.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	day = zt_today();

#define CASE(expr)                                                             \
	do {                                                                   \
		r = (expr);                                                    \
		if (r == 77) {                                                 \
			printf("SKIP: the engine cannot run here\n");         \
			return rc ? 1 : 77; /* never hide a failure */         \
		}                                                              \
		rc |= r;                                                       \
	} while (0)

	snprintf(path, sizeof(path), "%s/matrix/examples/minimal.yaml", sd ? sd : ".");
	y = slurp(path);
	CASE(one_case("minimal", y, 1, 4000, NULL, 0));
	CASE(run_mirror(y));
	{
		struct zw_image *img = zt_compile(y, day, NULL, 0);

		rc |= img ? cli_exit_codes(img) : 1;
		zw_image__free(img);
	}
	free(y);
	snprintf(path, sizeof(path), "%s/matrix/examples/piams.yaml", sd ? sd : ".");
	y = slurp(path);
	if (y)
		CASE(one_case("piams", y, 2, 6000, NULL, 0));
	free(y);
	{
		struct zw_gen_opts o = { .seed = 3, .n_zones = 10, .n_flows = 60,
					 .n_services = 6, .ipv6 = true,
					 .narrowing = true, .expiry = true };

		y = zw_gen__matrix(&o);
		CASE(one_case("gen-60", y, 3, 8000, NULL, 0));
		free(y);
		o.seed = 4;
		o.n_zones = 24;
		o.n_flows = 400;
		y = zw_gen__matrix(&o);
		CASE(one_case("gen-400", y, 4, 12000, NULL, 0));
		free(y);
	}
	y = zt_matrix_yaml(5, 80);
	CASE(one_case("tmatrix-80", y, 5, 8000, NULL, 0));
	zw_prefix__parse("10.2.0.0/17", &block[0]);
	zw_prefix__parse("203.0.113.0/24", &block[1]);
	zw_prefix__parse("fd00:5::/48", &block[2]);
	CASE(one_case("blocked", y, 6, 6000, block, 3));
	free(y);
#ifdef ZW_HAVE_L7
	CASE(run_l7());
#endif
	if (!rc) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	} else {
		fprintf(stderr, "files kept in %s\n", dir);
	}
	(void)failures;
	return rc ? 1 : 0;
}
