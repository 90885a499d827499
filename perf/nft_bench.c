// SPDX-License-Identifier: BSD-2-Clause
/*
 * nft-bench: how long the nftables engine takes to enforce a policy of
 * 100 / 10 000 / 100 000 flows (ruleset build, batch, kernel commit), for
 * a first apply, a re-apply of the same image and a change (one flow
 * removed), beside a baseline measured in the same run: `nft -f` loading a
 * flat ruleset with one rule per image rule (what a hand-written nftables
 * policy of the same matrix looks like). Run in a scratch network
 * namespace: perf/nft-bench.sh does that.
 *
 *   nft-bench [FLOWS...]   (default 100 10000 100000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "gen.h"
#include "zwnft.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct zw_image *image_of(const char *yaml, int32_t today, int drop_last)
{
	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *b = NULL;
	size_t len = 0;
	char err[256];
	struct zw_image *img = NULL;

	zw_diags__init(&d, "bench.yaml");
	m = zw_matrix__parse(yaml, strlen(yaml), "bench.yaml", &d);
	if (m && drop_last && m->n_flows > 1) {
		bool *ex = calloc(m->n_flows, sizeof(bool));
		struct zw_compile_opts co = {.exclude = ex};

		ex[m->n_flows - 1] = true;
		zw_matrix__validate(m, today, &d);
		if (!d.n_errors && !zw_policy__compile_opts(m, &co, &b, &len))
			img = zw_image__open(b, len, err, sizeof(err));
		free(ex);
	} else if (m) {
		zw_matrix__validate(m, today, &d);
		if (!d.n_errors && !zw_policy__compile(m, &b, &len))
			img = zw_image__open(b, len, err, sizeof(err));
	}
	free(b);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	return img;
}

static void prefix_text(FILE *f, int fam, const uint8_t *a, int len)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
	fprintf(f, "%s/%d", buf, len);
}

/* The zone's (or narrowing set's) prefixes of one family, "{ a, b }";
 * returns 0 if it has none. */
static int addr_set(FILE *f, const struct zw_image *img, uint32_t zone,
		    uint32_t set, int fam)
{
	int n = 0;

	if (set != ZW_NO_SET) {
		const struct zw_img_set *s = &img->sets[set];

		for (uint32_t i = 0; i < s->count; i++) {
			const struct zw_img_narrow *x = &img->narrow[s->first + i];

			if (x->family != fam)
				continue;
			fputs(n++ ? ", " : "{ ", f);
			prefix_text(f, fam, x->addr, x->len);
		}
	} else if (fam == 4) {
		for (uint32_t i = 0; i < img->n_prefix4; i++)
			if (img->prefix4[i].zone == zone) {
				fputs(n++ ? ", " : "{ ", f);
				prefix_text(f, 4, img->prefix4[i].addr, img->prefix4[i].len);
			}
	} else {
		for (uint32_t i = 0; i < img->n_prefix6; i++)
			if (img->prefix6[i].zone == zone) {
				fputs(n++ ? ", " : "{ ", f);
				prefix_text(f, 6, img->prefix6[i].addr, img->prefix6[i].len);
			}
	}
	if (n)
		fputs(" }", f);
	return n;
}

/* A flat nftables ruleset, one rule per image rule and family. */
static size_t write_flat(const struct zw_image *img, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t n = 0;

	if (!f)
		return 0;
	fputs("table inet flat {\n\tchain forward {\n"
	      "\t\ttype filter hook forward priority 0; policy drop;\n"
	      "\t\tct state established,related accept\n", f);
	for (uint32_t p = 0; p < img->n_pairs; p++) {
		const struct zw_img_pair *pr = &img->pairs[p];

		for (uint32_t k = 0; k < pr->count; k++) {
			const struct zw_img_rule *r = &img->rules[pr->first + k];

			for (int fam = 4; fam <= 6; fam += 2) {
				long pos = ftell(f);

				fprintf(f, "\t\tmeta nfproto %s", fam == 4 ? "ipv4" : "ipv6");
				if (pr->from != ZW_ZONE_OUTSIDE) {
					fprintf(f, " %s saddr ", fam == 4 ? "ip" : "ip6");
					if (!addr_set(f, img, pr->from, r->src_set, fam)) {
						fseek(f, pos, SEEK_SET);
						continue;
					}
				}
				if (pr->to != ZW_ZONE_OUTSIDE) {
					fprintf(f, " %s daddr ", fam == 4 ? "ip" : "ip6");
					if (!addr_set(f, img, pr->to, r->dst_set, fam)) {
						fseek(f, pos, SEEK_SET);
						continue;
					}
				}
				fprintf(f, " meta l4proto %u", r->proto);
				if ((r->proto == 6 || r->proto == 17) && !(r->flags & ZW_IMG_RULE_ANY))
					fprintf(f, " th dport %u-%u", r->lo, r->hi);
				fputs(" counter accept\n", f);
				n++;
			}
		}
	}
	fputs("\t}\n}\n", f);
	/* a rewound rule may have left bytes behind it: truncate at the end */
	if (ftruncate(fileno(f), ftell(f)) != 0)
		n = 0;
	fclose(f);
	return n;
}

static double run_nft(const char *args)
{
	char cmd[512];
	double t = now_ms();
	int rc;

	snprintf(cmd, sizeof(cmd), "nft %s", args);
	rc = system(cmd);
	if (rc != 0)
		return -1;
	return now_ms() - t;
}

int main(int argc, char **argv)
{
	static const unsigned def[] = {100, 10000, 100000};
	int32_t today = zw_date__today();
	struct zwnft_sock *s;
	char err[512];

	if (geteuid() != 0) {
		fprintf(stderr, "nft-bench: needs root; run perf/nft-bench.sh\n");
		return 77;
	}
	s = zwnft_sock__open(err, sizeof(err));
	if (!s) {
		fprintf(stderr, "nft-bench: %s\n", err);
		return 3;
	}
	printf("%-8s %-26s %9s %9s %9s %9s %9s %8s %9s\n", "flows", "case", "total_ms",
	       "build_ms", "batch_ms", "kernel_ms", "msgs", "rules", "elements");
	for (int a = 0; a < (argc > 1 ? argc - 1 : 3); a++) {
		unsigned n = argc > 1 ? (unsigned)atoi(argv[a + 1]) : def[a];
		struct zw_gen_opts go = {
			.seed = 42, .n_zones = 50, .n_flows = n, .n_services = 20,
			.ipv6 = true, .narrowing = true,
		};
		double t = now_ms();
		char *yaml = zw_gen__matrix(&go);
		struct zw_image *img = image_of(yaml, today, 0);
		struct zw_image *img2 = image_of(yaml, today, 1);
		double gen_ms = now_ms() - t;
		struct zwnft_opts o;
		struct { const char *what; const struct zw_image *img; } cases[] = {
			{"first apply", img},
			{"re-apply, same image", img},
			{"commit: one flow removed", img2},
		};

		if (!img || !img2) {
			fprintf(stderr, "nft-bench: %u flows: matrix does not compile\n", n);
			return 1;
		}
		zwnft_opts__init(&o);
		snprintf(o.table, sizeof(o.table), "zwbench");
		for (size_t c = 0; c < 3; c++) {
			struct zwnft_stats st;

			t = now_ms();
			if (zwnft_apply(s, &o, cases[c].img, today, &st, err, sizeof(err))) {
				fprintf(stderr, "nft-bench: %u flows, %s: %s\n", n, cases[c].what, err);
				return 1;
			}
			printf("%-8u %-26s %9.1f %9.1f %9.1f %9.1f %9zu %8zu %9zu\n", n,
			       cases[c].what, now_ms() - t, st.build_ms, st.batch_ms,
			       st.send_ms, st.msgs, st.rules, st.elems);
			fflush(stdout);
		}
		/* baseline: the same policy as a flat ruleset through nft -f
		 * (minutes beyond 10 000 flows: skipped there) */
		if (n > 20000) {
			printf("%-8u %-26s %9s   (nft -f of the flat ruleset: not run above 20 000 flows)\n",
			       n, "baseline: nft -f flat", "-");
			zw_image__free(img);
			zw_image__free(img2);
			free(yaml);
			continue;
		}
		char path[] = "/tmp/nft-bench-flat.XXXXXX";
		int fd = mkstemp(path);
		size_t flat = fd >= 0 ? write_flat(img, path) : 0;
		char args[256];

		if (fd >= 0)
			close(fd);
		snprintf(args, sizeof(args), "-f %s", path);
		double first = run_nft(args);

		snprintf(args, sizeof(args), "'flush table inet flat'; nft -f %s", path);
		double again = run_nft(args);

		printf("%-8u %-26s %9.1f %9s %9s %9s %9s %8zu %9s\n", n,
		       "baseline: nft -f flat", first, "", "", "", "", flat, "");
		printf("%-8u %-26s %9.1f %9s %9s %9s %9s %8zu %9s\n", n,
		       "baseline: flush + nft -f", again, "", "", "", "", flat, "");
		printf("%-8u %-26s %9.1f\n", n, "(matrix generate+compile)", gen_ms);
		fflush(stdout);
		run_nft("delete table inet flat");
		unlink(path);
		zw_image__free(img);
		zw_image__free(img2);
		free(yaml);
	}
	zwnft_sock__free(s);
	return 0;
}
