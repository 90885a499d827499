// SPDX-License-Identifier: BSD-2-Clause
/*
 * zw-nft-apply: drive the nftables engine without the daemon, in the
 * network namespace it runs in (ip netns exec NS zw-nft-apply ...). For
 * operators (inspect, repair), the lab, the tests and the benchmarks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zonewall/backend.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "zwnft.h"

enum { EXIT_OK = 0, EXIT_INVALID = 1, EXIT_USAGE = 2, EXIT_ENV = 3 };

static void usage(FILE *out)
{
	fputs("usage: zw-nft-apply [OPTIONS] POLICY.img|MATRIX.yaml   apply (one atomic batch)\n"
	      "       zw-nft-apply --print POLICY          the ruleset in nft syntax (no kernel)\n"
	      "       zw-nft-apply --describe FLOW POLICY  what one flow turns into\n"
	      "       zw-nft-apply --read-back [POLICY]    what is enforced; drift against POLICY\n"
	      "       zw-nft-apply --counters POLICY       per-flow counters\n"
	      "       zw-nft-apply --destroy               remove the table\n"
	      "\n"
	      "Works on the nftables ruleset of the network namespace it runs in.\n"
	      "Options:\n"
	      "  --table NAME       table in family inet (default zonewall)\n"
	      "  --priority N       forward hook priority (default 0)\n"
	      "  --log-group N      NFLOG group of flows with log: true and of denials\n"
	      "                     (default 23)\n"
	      "  --date YYYY-MM-DD  day for flow expiry (default today, UTC)\n"
	      "  --timing           print batch size and time taken\n"
	      "  --l7 queue=N[,inspect_image=PATH]\n"
	      "                     inspect: and block-file go through NFQUEUE N\n"
	      "                     (default 23) to zw-inspect, which reads the\n"
	      "                     image written to PATH (default\n"
	      "                     /run/zonewall/TABLE.img); run zw-inspect\n"
	      "                     --queue N --image PATH beside (docs/l7.md)\n"
	      "  --mirror IF[+IF...]\n"
	      "                     the enforced interfaces whose traffic the\n"
	      "                     matrix's probes receive a copy of (table netdev\n"
	      "                     NAME_mirror, docs/nft-engine.md)\n"
	      "  --inject-failure   (tests) end the batch with a message the kernel\n"
	      "                     refuses: nothing may change\n"
	      "Exit: 0 ok, 1 invalid input or drift found, 2 usage, 3 kernel/environment.\n",
	      out);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* What read-back decoded from the table: the count of rules held, each
 * one no flow explains, each foreign base chain on our hooks. */
static void print_held(const struct zw_backend_state *st)
{
	size_t none = 0;

	for (size_t i = 0; i < st->n_rules; i++)
		none += st->rules[i].flow_id[0] == '\0';
	printf("rules held: %zu (%zu of no flow)\n", st->n_rules, none);
	for (size_t i = 0; i < st->n_rules; i++) {
		const struct zw_held_rule *r = &st->rules[i];

		if (r->flow_id[0])
			continue;
		printf("held, no flow: %s -> %s proto %u", r->from, r->to,
		       r->proto);
		if (r->any)
			printf(" any");
		else
			printf(" %u-%u", r->lo, r->hi);
		printf(" src %s dst %s\n", r->src ? r->src : "zone",
		       r->dst ? r->dst : "zone");
	}
	for (size_t i = 0; i < st->n_foreign; i++)
		printf("foreign: %s\n", st->foreign[i]);
}

/* A policy image, or a matrix compiled on the fly. */
static struct zw_image *load_policy(const char *path, int32_t today)
{
	char err[256] = "";
	FILE *f = fopen(path, "rb");
	char magic[8] = {0};
	struct zw_image *img;

	if (!f) {
		fprintf(stderr, "zw-nft-apply: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t n = fread(magic, 1, sizeof(magic), f);

	fclose(f);
	if (n == sizeof(magic) && memcmp(magic, ZW_IMAGE_MAGIC, 8) == 0) {
		img = zw_image__load(path, err, sizeof(err));
		if (!img)
			fprintf(stderr, "zw-nft-apply: %s: %s\n", path, err);
		return img;
	}

	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *bytes = NULL;
	size_t len = 0;

	zw_diags__init(&d, path);
	m = zw_matrix__load(path, &d);
	if (m)
		zw_matrix__validate(m, today, &d);
	if (!m || d.n_errors) {
		zw_diags__sort(&d);
		zw_diags__print_text(&d, stderr);
		fprintf(stderr, "zw-nft-apply: %s: not a valid matrix or image\n",
			path);
		zw_matrix__free(m);
		zw_diags__fini(&d);
		return NULL;
	}
	zw_diags__fini(&d);
	if (zw_policy__compile(m, &bytes, &len)) {
		fprintf(stderr, "zw-nft-apply: %s: cannot compile\n", path);
		zw_matrix__free(m);
		return NULL;
	}
	zw_matrix__free(m);
	img = zw_image__open(bytes, len, err, sizeof(err));
	free(bytes);
	if (!img)
		fprintf(stderr, "zw-nft-apply: %s: %s\n", path, err);
	return img;
}

int main(int argc, char **argv)
{
	enum { OPT_PRINT = 256, OPT_DESCRIBE, OPT_READ_BACK, OPT_COUNTERS,
	       OPT_DESTROY, OPT_TABLE, OPT_PRIORITY, OPT_LOG_GROUP, OPT_DATE,
	       OPT_INJECT, OPT_TIMING, OPT_L7, OPT_MIRROR };
	static const struct option opts[] = {
		{"print", no_argument, NULL, OPT_PRINT},
		{"describe", required_argument, NULL, OPT_DESCRIBE},
		{"read-back", no_argument, NULL, OPT_READ_BACK},
		{"counters", no_argument, NULL, OPT_COUNTERS},
		{"destroy", no_argument, NULL, OPT_DESTROY},
		{"table", required_argument, NULL, OPT_TABLE},
		{"priority", required_argument, NULL, OPT_PRIORITY},
		{"log-group", required_argument, NULL, OPT_LOG_GROUP},
		{"date", required_argument, NULL, OPT_DATE},
		{"inject-failure", no_argument, NULL, OPT_INJECT},
		{"timing", no_argument, NULL, OPT_TIMING},
		{"l7", required_argument, NULL, OPT_L7},
		{"mirror", required_argument, NULL, OPT_MIRROR},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct zwnft_opts o;
	int mode = 0, c, rc = EXIT_OK;
	const char *describe = NULL;
	bool timing = false;
	int32_t day = zw_date__today();
	char err[512] = "";
	struct zw_image *img = NULL;
	struct zwnft_sock *sock = NULL;

	zwnft_opts__init(&o);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		long v;

		switch (c) {
		case OPT_PRINT:
		case OPT_READ_BACK:
		case OPT_COUNTERS:
		case OPT_DESTROY:
			mode = c;
			break;
		case OPT_DESCRIBE:
			mode = c;
			describe = optarg;
			break;
		case OPT_TABLE: {
			/* parsed alone (the parser starts from the defaults),
			 * then only the name is taken: the options given
			 * before --table stay */
			struct zwnft_opts t;

			snprintf(err, sizeof(err), "table=%s", optarg);
			if (zwnft_opts__parse(&t, err, err, sizeof(err))) {
				fprintf(stderr, "zw-nft-apply: %s\n", err);
				return EXIT_USAGE;
			}
			memcpy(o.table, t.table, sizeof(o.table));
			err[0] = '\0';
			break;
		}
		case OPT_PRIORITY:
		case OPT_LOG_GROUP:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end || (c == OPT_PRIORITY && (v < -400 || v > 400)) ||
			    (c == OPT_LOG_GROUP && (v < 0 || v > 65535))) {
				fprintf(stderr, "zw-nft-apply: bad number '%s'\n", optarg);
				return EXIT_USAGE;
			}
			if (c == OPT_PRIORITY)
				o.priority = (int32_t)v;
			else
				o.log_group = (uint16_t)v;
			break;
		case OPT_DATE:
			if (zw_date__parse(optarg, &day)) {
				fprintf(stderr, "zw-nft-apply: bad date '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_INJECT:
			o.inject_failure = true;
			break;
		case OPT_TIMING:
			timing = true;
			break;
		case OPT_L7: {
			struct zwnft_opts t;

			if (zwnft_opts__parse(&t, optarg, err, sizeof(err))) {
				fprintf(stderr, "zw-nft-apply: --l7 %s: %s\n", optarg,
					err);
				return EXIT_USAGE;
			}
			o.queue_set = true;
			o.queue = t.queue;
			memcpy(o.inspect_image, t.inspect_image,
			       sizeof(o.inspect_image));
			err[0] = '\0';
			break;
		}
		case OPT_MIRROR: {
			struct zwnft_opts t;

			snprintf(err, sizeof(err), "mirror=%s", optarg);
			if (zwnft_opts__parse(&t, err, err, sizeof(err))) {
				fprintf(stderr, "zw-nft-apply: --mirror %s: %s\n",
					optarg, err);
				return EXIT_USAGE;
			}
			memcpy(o.mirror, t.mirror, sizeof(o.mirror));
			o.n_mirror = t.n_mirror;
			err[0] = '\0';
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	bool need_policy = mode != OPT_DESTROY && mode != OPT_READ_BACK;

	if ((need_policy && optind != argc - 1) || optind < argc - 1 ||
	    (mode == OPT_DESTROY && optind != argc)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		img = load_policy(argv[optind], day);
		if (!img)
			return EXIT_INVALID;
	}

	if (mode == OPT_PRINT || mode == OPT_DESCRIBE) {
		struct zwnft_ruleset *rs = NULL;
		char *text = NULL;
		int ret;

		ret = zwnft_ruleset__build_mode(img, day, &o, ZWNFT_BUILD_TEXT, &rs);
		if (ret) {
			fprintf(stderr, "zw-nft-apply: %s\n", strerror(-ret));
			rc = EXIT_INVALID;
			goto out;
		}
		if (mode == OPT_PRINT) {
			text = zwnft_ruleset__text(rs);
		} else {
			uint32_t f = ZW_NO_FLOW;

			for (uint32_t i = 0; i < img->n_flows; i++)
				if (strcmp(zw_image__str(img, img->flows[i].id),
					   describe) == 0)
					f = i;
			if (f == ZW_NO_FLOW) {
				fprintf(stderr, "zw-nft-apply: no flow %s in the image\n",
					describe);
				zwnft_ruleset__free(rs);
				rc = EXIT_INVALID;
				goto out;
			}
			text = zwnft_ruleset__describe_flow(rs, img, f);
		}
		if (text)
			fputs(text, stdout);
		free(text);
		zwnft_ruleset__free(rs);
		goto out;
	}

	sock = zwnft_sock__open(err, sizeof(err));
	if (!sock) {
		fprintf(stderr, "zw-nft-apply: %s\n", err);
		rc = EXIT_ENV;
		goto out;
	}

	if (mode == 0) {
		struct zwnft_stats st;
		struct zw_ticket *t = NULL;
		double t0 = now_ms();
		/* the two phases, to say which refused */
		int ret = zwnft_prepare(sock, &o, img, day, &t, err, sizeof(err));
		const char *phase = "prepare";

		if (!ret) {
			phase = "commit";
			ret = zwnft_commit(sock, &o, t, &st, err, sizeof(err));
		}
		if (ret) {
			fprintf(stderr, "zw-nft-apply: %s: %s\n", phase, err);
			rc = ret == -EEXIST ? EXIT_INVALID : EXIT_ENV;
			goto out;
		}
		printf("applied %s to table inet %s (%u flows)\n", img->sha256_hex,
		       o.table, img->n_flows);
		if (timing)
			printf("apply_ms %.1f build_ms %.1f read_ms %.1f batch_ms %.1f "
			       "kernel_ms %.1f check_ms %.1f messages %zu bytes %zu rules %zu "
			       "chains %zu sets %zu elements %zu counters %zu tries %d\n",
			       now_ms() - t0, st.build_ms, st.read_ms, st.batch_ms,
			       st.send_ms, st.check_ms, st.msgs, st.bytes, st.rules, st.chains,
			       st.sets, st.elems, st.objs, st.tries);
		goto out;
	}

	/* the remaining modes go through the backend ops */
	struct zw_backend *be = NULL;
	char arg[512];
	int alen = snprintf(arg, sizeof(arg), "table=%s,priority=%d,log_group=%u",
			    o.table, o.priority, o.log_group);

	for (size_t i = 0; i < o.n_mirror && alen > 0 && (size_t)alen < sizeof(arg); i++)
		alen += snprintf(arg + alen, sizeof(arg) - (size_t)alen, "%s%s",
				 i ? "+" : ",mirror=", o.mirror[i]);
	if (zw_backend_nft.open(arg, &be, err, sizeof(err))) {
		fprintf(stderr, "zw-nft-apply: %s\n", err);
		rc = EXIT_ENV;
		goto out;
	}
	if (mode == OPT_READ_BACK) {
		struct zw_backend_state st;
		char hex[65];

		if (zw_backend_nft.read_back(be, img, &st)) {
			fprintf(stderr, "zw-nft-apply: read-back failed\n");
			rc = EXIT_ENV;
		} else {
			zw_hex(st.sha256, 32, hex);
			printf("enforcing: %s\nsha256: %s\ndetail: %s\n",
			       st.enforcing ? "yes" : "no",
			       st.enforcing ? hex : "-", st.detail);
			print_held(&st);
			if (st.drift) {
				printf("drift:\n%s\n", st.drift);
				rc = EXIT_INVALID;
			} else if (img) {
				printf("drift: none\n");
			}
			zw_backend_state__fini(&st);
		}
	} else if (mode == OPT_COUNTERS) {
		struct zw_flow_counters *v = calloc(img->n_flows + 1, sizeof(*v));

		if (!v || zw_backend_nft.counters(be, v, img->n_flows)) {
			fprintf(stderr, "zw-nft-apply: counters failed\n");
			rc = EXIT_ENV;
		} else {
			printf("%-24s %12s %14s %10s %10s\n", "flow", "packets",
			       "bytes", "new", "drops");
			for (uint32_t i = 0; i < img->n_flows; i++)
				printf("%-24s %12llu %14llu %10llu %10llu\n",
				       zw_image__str(img, img->flows[i].id),
				       (unsigned long long)v[i].packets,
				       (unsigned long long)v[i].bytes,
				       (unsigned long long)v[i].new_conns,
				       (unsigned long long)v[i].drops);
		}
		free(v);
	} else if (mode == OPT_DESTROY) {
		char derr[512] = "";
		int ret = zw_backend_nft.destroy(be, derr, sizeof(derr));

		if (ret) {
			fprintf(stderr, "zw-nft-apply: destroy: %s\n",
				*derr ? derr : strerror(-ret));
			rc = EXIT_ENV;
		}
	}
	zw_backend_nft.close(be);
out:
	zwnft_sock__free(sock);
	zw_image__free(img);
	return rc;
}
