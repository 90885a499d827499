/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zw-xdp: drive the XDP engine without the daemon (tests, lab, operations).
 *
 *   zw-xdp [--dir DIR] load [--mode auto|native|generic] [--conns N]
 *                           [--policy IMG [--day YYYY-MM-DD]] [IFACE...]
 *   zw-xdp [--dir DIR] apply IMG [--day YYYY-MM-DD] [--inject-failure]
 *   zw-xdp [--dir DIR] attach [--mode M] IFACE...
 *   zw-xdp [--dir DIR] detach IFACE...
 *   zw-xdp [--dir DIR] status [--format text|json] [--expect IMG]
 *   zw-xdp [--dir DIR] counters [IMG]
 *   zw-xdp [--dir DIR] stats
 *   zw-xdp [--dir DIR] records [--drops N] [--new all|log]
 *   zw-xdp [--dir DIR] events [--count N] [--timeout SECONDS]
 *   zw-xdp [--dir DIR] unload
 *   zw-xdp describe IMG FLOW-ID
 *
 * DIR defaults to $ZONEWALL_XDP_DIR, then /sys/fs/bpf/zonewall. Exit
 * codes as every zonewall program: 0 ok, 1 refused/invalid, 2 usage,
 * 3 environment (no bpffs, no permission, attach failed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/flow_record.h>
#include <zonewall/policy.h>

#include "xdp.h"
#include "zw_bpf_abi.h"

enum { EX_OK = 0, EX_INVALID = 1, EX_USAGE = 2, EX_ENV = 3 };

static const char *dir;

static const char *const stat_names[] = {
	[ZW_BPF_ST_PASS] = "pass",
	[ZW_BPF_ST_NOT_IP] = "pass_not_ip",
	[ZW_BPF_ST_LINK_LOCAL] = "pass_link_local",
	[ZW_BPF_ST_NEW] = "new_connections",
	[ZW_BPF_ST_RECHECK] = "rechecks",
	[ZW_BPF_ST_EVENTS_LOST] = "records_lost",
	[ZW_BPF_ST_FRAG_PASS] = "pass_fragments",
	[ZW_BPF_ST_RELATED] = "pass_related_icmp",
	[ZW_BPF_ST_SWEEP_ENDED] = "records_ended_swept",
	[ZW_BPF_ST_SWEEP_UPDATES] = "records_update",
	[ZW_BPF_ST_SWEEP_BEHIND] = "records_sweep_behind",
	[ZW_BPF_ST_ENDED] = "records_ended_inline",
};

static void usage(FILE *f)
{
	fputs("usage: zw-xdp [--dir DIR] COMMAND ...\n"
	      "  load [--mode auto|native|generic] [--conns N] [--policy IMG [--day D]] [IFACE...]\n"
	      "  apply IMG [--day YYYY-MM-DD] [--inject-failure]\n"
	      "  attach [--mode M] IFACE...      detach IFACE...\n"
	      "  status [--format text|json] [--expect IMG]\n"
	      "  counters [IMG]                  stats\n"
	      "  records [--drops N] [--new all|log]\n"
	      "  events [--count N] [--timeout SECONDS]\n"
	      "  unload                          describe IMG FLOW-ID\n"
	      "DIR: bpffs instance directory ($ZONEWALL_XDP_DIR, default "
	      ZW_XDP_DEFAULT_DIR ")\n", f);
}

static int err_exit(int code, const char *fmt, const char *what)
{
	fprintf(stderr, "zw-xdp: ");
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	return code;
}

/* -errno of the engine → exit code */
static int env_or_invalid(int rc)
{
	return rc == -E2BIG || rc == -EINVAL ? EX_INVALID : EX_ENV;
}

static int open_instance(struct zw_xdp **x, uint32_t conns)
{
	struct zw_xdp_opts o = {.conns = conns};
	char err[512];
	int rc = zw_xdp__open(dir, &o, x, err, sizeof(err));

	if (rc)
		return err_exit(EX_ENV, "%s", err);
	return 0;
}

static struct zw_image *load_image(const char *path)
{
	char err[512];
	struct zw_image *img = zw_image__load(path, err, sizeof(err));

	if (!img)
		fprintf(stderr, "zw-xdp: %s\n", err);
	return img;
}

static int parse_mode(const char *s, enum zw_xdp_mode *m)
{
	if (!strcmp(s, "auto"))
		*m = ZW_XDP_MODE_AUTO;
	else if (!strcmp(s, "native"))
		*m = ZW_XDP_MODE_NATIVE;
	else if (!strcmp(s, "generic"))
		*m = ZW_XDP_MODE_GENERIC;
	else
		return -1;
	return 0;
}

static int do_apply(struct zw_xdp *x, const char *path, int32_t day,
		    int inject)
{
	struct zw_image *img = load_image(path);
	char err[512];
	int rc;

	if (!img)
		return EX_INVALID;
	if (inject)
		zw_xdp__inject_failure(x);
	rc = zw_xdp__apply(x, img, day, err, sizeof(err));
	if (rc) {
		zw_image__free(img);
		return err_exit(env_or_invalid(rc), "%s", err);
	}
	printf("applied %s (%s)\n", img->sha256_hex,
	       zw_image__str(img, img->meta->name));
	/* the L7 part is zonewalld's (docs/l7.md): say so, never silently */
	for (uint32_t i = 0; i < img->n_services + 1; i++)
		if (i == img->n_services ? img->n_fileblock != 0 :
					   img->services[i].inspect != 0) {
			fprintf(stderr,
				"zw-xdp: warning: inspect: and block-file "
				"measures are not enforced by zw-xdp (L3/L4 "
				"only): zonewalld --backend xdp:... "
				"enforces them (docs/l7.md)\n");
			break;
		}
	zw_image__free(img);
	return EX_OK;
}

static int do_attach(struct zw_xdp *x, enum zw_xdp_mode mode, int n,
		     char **ifaces)
{
	char err[512];

	for (int i = 0; i < n; i++) {
		const char *m = NULL;
		int rc = zw_xdp__attach(x, ifaces[i], mode, &m, err, sizeof(err));

		if (rc)
			return err_exit(EX_ENV, "%s", err);
		printf("attached %s (%s)\n", ifaces[i], m);
	}
	return EX_OK;
}

static int cmd_load(int argc, char **argv)
{
	enum zw_xdp_mode mode = ZW_XDP_MODE_AUTO;
	const char *policy = NULL;
	int32_t day = zw_date__today();
	uint32_t conns = 0;
	struct zw_xdp *x;
	int i, rc;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			if (parse_mode(argv[++i], &mode))
				return err_exit(EX_USAGE, "bad mode '%s'", argv[i]);
		} else if (!strcmp(argv[i], "--conns") && i + 1 < argc) {
			conns = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--policy") && i + 1 < argc) {
			policy = argv[++i];
		} else if (!strcmp(argv[i], "--day") && i + 1 < argc) {
			if (zw_date__parse(argv[++i], &day))
				return err_exit(EX_USAGE, "bad date '%s'", argv[i]);
		} else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	rc = open_instance(&x, conns);
	if (rc)
		return rc;
	if (policy)
		rc = do_apply(x, policy, day, 0);
	if (!rc)
		rc = do_attach(x, mode, argc - i, argv + i);
	zw_xdp__close(x);
	return rc;
}

static int cmd_apply(int argc, char **argv)
{
	int32_t day = zw_date__today();
	const char *path = NULL;
	struct zw_xdp *x;
	int rc, inject = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--inject-failure")) {
			inject = 1;
		} else if (!strcmp(argv[i], "--day") && i + 1 < argc) {
			if (zw_date__parse(argv[++i], &day))
				return err_exit(EX_USAGE, "bad date '%s'", argv[i]);
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (!path) {
		usage(stderr);
		return EX_USAGE;
	}
	rc = open_instance(&x, 0);
	if (rc)
		return rc;
	rc = do_apply(x, path, day, inject);
	zw_xdp__close(x);
	return rc;
}

static int cmd_attach(int argc, char **argv)
{
	enum zw_xdp_mode mode = ZW_XDP_MODE_AUTO;
	struct zw_xdp *x;
	int i = 1, rc;

	if (i + 1 < argc && !strcmp(argv[i], "--mode")) {
		if (parse_mode(argv[i + 1], &mode))
			return err_exit(EX_USAGE, "bad mode '%s'", argv[i + 1]);
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	rc = open_instance(&x, 0);
	if (rc)
		return rc;
	rc = do_attach(x, mode, argc - i, argv + i);
	zw_xdp__close(x);
	return rc;
}

static int cmd_detach(int argc, char **argv)
{
	struct zw_xdp *x;
	char err[512];
	int rc = open_instance(&x, 0);

	if (rc)
		return rc;
	for (int i = 1; i < argc && !rc; i++)
		if (zw_xdp__detach(x, argv[i], err, sizeof(err)))
			rc = err_exit(EX_INVALID, "%s", err);
	zw_xdp__close(x);
	return rc;
}

static int cmd_status(int argc, char **argv)
{
	const char *format = "text", *expect = NULL;
	struct zw_xdp_status st;
	uint64_t stats[ZW_XDP_N_STATS];
	char hex[65], dbuf[11];
	char *drift = NULL;
	struct zw_xdp *x;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
			expect = argv[++i];
		else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	rc = open_instance(&x, 0);
	if (rc)
		return rc;
	if (zw_xdp__status(x, &st) || zw_xdp__stats(x, stats)) {
		zw_xdp__close(x);
		return err_exit(EX_ENV, "cannot read the instance in %s",
				dir ? dir : "the default directory");
	}
	if (expect) {
		struct zw_image *img = load_image(expect);
		int e;

		if (!img) {
			zw_xdp__close(x);
			return EX_INVALID;
		}
		drift = zw_xdp__drift(x, img);
		e = drift ? 0 : errno;
		zw_image__free(img);
		if (e) {
			/* no answer is no "no drift" */
			zw_xdp__close(x);
			return err_exit(EX_ENV, "cannot compare the instance with the "
					"image: %s", strerror(e));
		}
	}
	zw_hex(st.sha256, 32, hex);
	if (!strcmp(format, "json")) {
		printf("{\"enforcing\":%s,\"generation\":%u,\"slot\":%u,"
		       "\"sha256\":\"%s\",\"name\":\"%s\",\"day\":\"%s\","
		       "\"flows\":%u,\"live\":%u,\"zones\":%u,\"prog_id\":%u,"
		       "\"conns_max\":%u,\"verifier_insns\":%u,"
		       "\"drop_sample\":%u,\"log_all_new\":%u,\"links\":[",
		       st.generation ? "true" : "false", st.generation, st.slot,
		       st.generation ? hex : "", st.name,
		       st.generation ? zw_date__format(st.day, dbuf) : "",
		       st.n_flows, st.n_live, st.n_zones, st.prog_id, st.conns_max,
		       st.verifier_insns, st.drop_sample, st.log_all_new);
		for (uint32_t i = 0; i < st.n_links; i++)
			printf("%s{\"ifname\":\"%s\",\"ifindex\":%d,\"mode\":\"%s\","
			       "\"prog_id\":%u}", i ? "," : "", st.links[i].ifname,
			       st.links[i].ifindex, st.links[i].mode,
			       st.links[i].prog_id);
		printf("],\"drops\":{");
		for (int i = 1; i < ZW_DROP__COUNT; i++)
			printf("%s\"%s\":%llu", i > 1 ? "," : "",
			       zw_drop_reason__name((unsigned)i),
			       (unsigned long long)stats[i]);
		printf("},\"stats\":{");
		for (int i = ZW_BPF_ST_PASS; i < ZW_BPF_ST__COUNT; i++)
			printf("%s\"%s\":%llu", i > ZW_BPF_ST_PASS ? "," : "",
			       stat_names[i], (unsigned long long)stats[i]);
		printf("}");
		if (expect) {
			printf(",\"drift\":");
			if (drift) {
				putchar('"');
				for (const char *c = drift; *c; c++)
					if (*c == '\n')
						fputs("\\n", stdout);
					else if (*c == '"' || *c == '\\')
						printf("\\%c", *c);
					else
						putchar(*c);
				putchar('"');
			} else {
				printf("null");
			}
		}
		printf("}\n");
	} else {
		if (st.generation)
			printf("enforcing %s (%s), generation %u (slot %u), day %s, "
			       "%u/%u flows live, %u zones\n", hex, st.name,
			       st.generation, st.slot, zw_date__format(st.day, dbuf),
			       st.n_live, st.n_flows, st.n_zones);
		else
			printf("no policy loaded (IP traffic on attached "
			       "interfaces is dropped)\n");
		printf("program id %u, connection table %u entries, records: "
		       "drops %s%u, new connections %s\n", st.prog_id,
		       st.conns_max, st.drop_sample > 1 ? "1 in " : "",
		       st.drop_sample, st.log_all_new ? "all" : "log: true flows");
		for (uint32_t i = 0; i < st.n_links; i++)
			printf("link %s ifindex %d %s prog %u\n", st.links[i].ifname,
			       st.links[i].ifindex, st.links[i].mode,
			       st.links[i].prog_id);
		for (int i = 1; i < ZW_DROP__COUNT; i++)
			if (stats[i])
				printf("drop %-15s %llu\n", zw_drop_reason__name((unsigned)i),
				       (unsigned long long)stats[i]);
		for (int i = ZW_BPF_ST_PASS; i < ZW_BPF_ST__COUNT; i++)
			printf("%-20s %llu\n", stat_names[i],
			       (unsigned long long)stats[i]);
		if (expect)
			printf(drift ? "drift:\n%s" : "no drift\n%s", drift ? drift : "");
	}
	zw_xdp__close(x);
	rc = drift ? EX_INVALID : EX_OK;
	free(drift);
	return rc;
}

static int cmd_counters(int argc, char **argv)
{
	struct zw_image *img = NULL;
	struct zw_xdp_status st;
	struct zw_flow_counters *c, same;
	struct zw_xdp *x;
	int rc;

	if (argc > 1 && !(img = load_image(argv[1])))
		return EX_INVALID;
	rc = open_instance(&x, 0);
	if (rc) {
		zw_image__free(img);
		return rc;
	}
	zw_xdp__status(x, &st);
	c = calloc(st.n_flows + 1, sizeof(*c));
	if (!c || zw_xdp__counters(x, c, st.n_flows) ||
	    zw_xdp__counters_same_zone(x, &same)) {
		free(c);
		zw_image__free(img);
		zw_xdp__close(x);
		return err_exit(EX_ENV, "%s", "cannot read the counters");
	}
	printf("%-24s %12s %14s %10s %10s\n", "flow", "packets", "bytes",
	       "new", "drops");
	for (uint32_t i = 0; i < st.n_flows; i++) {
		char idx[16];
		const char *name = idx;

		snprintf(idx, sizeof(idx), "#%u", i);
		if (img && i < img->n_flows && !memcmp(img->sha256, st.sha256, 32))
			name = zw_image__str(img, img->flows[i].id);
		printf("%-24s %12llu %14llu %10llu %10llu\n", name,
		       (unsigned long long)c[i].packets,
		       (unsigned long long)c[i].bytes,
		       (unsigned long long)c[i].new_conns,
		       (unsigned long long)c[i].drops);
	}
	printf("%-24s %12llu %14llu %10llu %10llu\n", "(same zone)",
	       (unsigned long long)same.packets, (unsigned long long)same.bytes,
	       (unsigned long long)same.new_conns,
	       (unsigned long long)same.drops);
	free(c);
	zw_image__free(img);
	zw_xdp__close(x);
	return EX_OK;
}

static int cmd_stats(void)
{
	uint64_t stats[ZW_XDP_N_STATS];
	struct zw_xdp *x;
	int rc = open_instance(&x, 0);

	if (rc)
		return rc;
	rc = zw_xdp__stats(x, stats);
	zw_xdp__close(x);
	if (rc)
		return err_exit(EX_ENV, "%s", "cannot read the statistics");
	for (int i = 1; i < ZW_DROP__COUNT; i++)
		printf("drop_%s %llu\n", zw_drop_reason__name((unsigned)i),
		       (unsigned long long)stats[i]);
	for (int i = ZW_BPF_ST_PASS; i < ZW_BPF_ST__COUNT; i++)
		printf("%s %llu\n", stat_names[i], (unsigned long long)stats[i]);
	return EX_OK;
}

static int cmd_records(int argc, char **argv)
{
	struct zw_xdp_status st;
	struct zw_xdp *x;
	int rc;
	uint32_t drops;
	int all;

	rc = open_instance(&x, 0);
	if (rc)
		return rc;
	zw_xdp__status(x, &st);
	drops = st.drop_sample;
	all = (int)st.log_all_new;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--drops") && i + 1 < argc) {
			drops = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--new") && i + 1 < argc) {
			i++;
			all = !strcmp(argv[i], "all");
			if (!all && strcmp(argv[i], "log")) {
				zw_xdp__close(x);
				return err_exit(EX_USAGE, "--new %s: all or log", argv[i]);
			}
		} else {
			zw_xdp__close(x);
			usage(stderr);
			return EX_USAGE;
		}
	}
	rc = zw_xdp__set_records(x, drops, all);
	zw_xdp__close(x);
	if (rc)
		return err_exit(EX_ENV, "%s", "cannot change the record settings");
	return EX_OK;
}

static int print_record(const struct zw_flow_record *r, void *arg)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int *left = arg;

	inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->src, s, sizeof(s));
	inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->dst, d, sizeof(d));
	printf("%s gen=%u flow=%d zones=%u->%u proto=%u %s:%u -> %s:%u ifindex=%u%s%s",
	       r->event == ZW_EV_NEW ? "new" : r->event == ZW_EV_DROP ? "drop" : "end",
	       r->generation, r->flow == 0xffffffffu ? -1 : (int)r->flow,
	       r->src_zone, r->dst_zone, r->proto, s, r->sport, d, r->dport,
	       r->ifindex, r->event == ZW_EV_DROP ? " reason=" : "",
	       r->event == ZW_EV_DROP ? zw_drop_reason__name(r->reason) : "");
	if (r->event == ZW_EV_END && (r->flags & ZW_REC_F_EXT))
		/* both directions: the initiator's, the responder's */
		printf(" packets=%llu/%llu bytes=%llu/%llu end_reason=%u",
		       (unsigned long long)(r->packets - r->rev_packets),
		       (unsigned long long)r->rev_packets,
		       (unsigned long long)(r->bytes - r->rev_bytes),
		       (unsigned long long)r->rev_bytes, r->end_reason);
	putchar('\n');
	fflush(stdout);
	if (*left > 0 && --*left == 0)
		return 1;
	return 0;
}

static int cmd_events(int argc, char **argv)
{
	int count = 0, timeout = 5, left;
	struct zw_xdp *x;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	rc = open_instance(&x, 0);
	if (rc)
		return rc;
	left = count;
	for (int waited = 0; waited < timeout * 10; waited++) {
		rc = zw_xdp__poll_records(x, print_record, &left, 100);
		if (rc < 0 && rc != -EINTR)
			break;
		if (count && left == 0)
			break;
	}
	zw_xdp__close(x);
	return EX_OK;
}

/* Unpinning every link detaches it: no need to load anything, so an
 * instance of another build can be removed too. */
static int cmd_unload(void)
{
	char err[512];
	int rc = zw_xdp__purge(dir, err, sizeof(err));

	if (rc == -ENOENT)
		return EX_OK;
	if (rc)
		return err_exit(EX_ENV, "%s", err);
	return EX_OK;
}

static int cmd_describe(int argc, char **argv)
{
	struct zw_image *img;
	char *text;

	if (argc != 3) {
		usage(stderr);
		return EX_USAGE;
	}
	img = load_image(argv[1]);
	if (!img)
		return EX_INVALID;
	for (uint32_t i = 0; i < img->n_flows; i++) {
		if (strcmp(zw_image__str(img, img->flows[i].id), argv[2]))
			continue;
		text = zw_xdp__describe_flow(img, i);
		fputs(text ? text : "(out of memory)\n", stdout);
		free(text);
		zw_image__free(img);
		return EX_OK;
	}
	zw_image__free(img);
	return err_exit(EX_INVALID, "no flow '%s' in the image", argv[2]);
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return EX_OK;
		} else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	argc -= i;
	argv += i;
	if (!strcmp(argv[0], "load"))
		return cmd_load(argc, argv);
	if (!strcmp(argv[0], "apply"))
		return cmd_apply(argc, argv);
	if (!strcmp(argv[0], "attach"))
		return cmd_attach(argc, argv);
	if (!strcmp(argv[0], "detach"))
		return cmd_detach(argc, argv);
	if (!strcmp(argv[0], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[0], "counters"))
		return cmd_counters(argc, argv);
	if (!strcmp(argv[0], "stats"))
		return cmd_stats();
	if (!strcmp(argv[0], "records"))
		return cmd_records(argc, argv);
	if (!strcmp(argv[0], "events"))
		return cmd_events(argc, argv);
	if (!strcmp(argv[0], "unload"))
		return cmd_unload();
	if (!strcmp(argv[0], "describe"))
		return cmd_describe(argc, argv);
	usage(stderr);
	return EX_USAGE;
}
