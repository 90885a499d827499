// SPDX-License-Identifier: BSD-2-Clause
/*
 * nft-bench: how long the nftables engine takes to enforce a policy of
 * 100 / 10 000 / 100 000 flows (ruleset build, batch, kernel commit), for
 * a first apply, a re-apply of the same image and a change (one flow
 * removed), beside baselines measured in the same run: `nft -f` loading a
 * flat ruleset with one rule per image rule, and `nft -f` loading the
 * ruleset an nftables expert would write for the same matrix (named sets
 * per zone, one verdict map to the zone pair's chain, a verdict map of
 * services per pair: write_expert()). Run in a scratch network namespace:
 * perf/nft-bench.sh does that, and also measures forwarding with each.
 *
 *   nft-bench [FLOWS...]   (default 100 10000 100000)
 *   nft-bench --write flat|expert MATRIX.yaml OUT.nft   (no kernel)
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

/* The zone's prefixes of family @fam as set elements "a, b"; 0 if none. */
static int zone_elems(FILE *f, const struct zw_image *img, uint32_t zone, int fam)
{
	int n = 0;

	if (fam == 4) {
		for (uint32_t i = 0; i < img->n_prefix4; i++)
			if (img->prefix4[i].zone == zone) {
				fputs(n++ ? ", " : "", f);
				prefix_text(f, 4, img->prefix4[i].addr, img->prefix4[i].len);
			}
	} else {
		for (uint32_t i = 0; i < img->n_prefix6; i++)
			if (img->prefix6[i].zone == zone) {
				fputs(n++ ? ", " : "", f);
				prefix_text(f, 6, img->prefix6[i].addr, img->prefix6[i].len);
			}
	}
	return n;
}

static bool zone_has(const struct zw_image *img, uint32_t zone, int fam)
{
	if (fam == 4) {
		for (uint32_t i = 0; i < img->n_prefix4; i++)
			if (img->prefix4[i].zone == zone)
				return true;
	} else {
		for (uint32_t i = 0; i < img->n_prefix6; i++)
			if (img->prefix6[i].zone == zone)
				return true;
	}
	return false;
}

/* "10.1.0.0/24 . 10.2.0.0/24 : VERDICT" for every prefix pair of two zones. */
static size_t pair_elems(FILE *f, const struct zw_image *img, uint32_t a,
			 uint32_t b, int fam, const char *verdict, size_t n)
{
	uint32_t np = fam == 4 ? img->n_prefix4 : img->n_prefix6;

	for (uint32_t i = 0; i < np; i++) {
		uint32_t zi = fam == 4 ? img->prefix4[i].zone : img->prefix6[i].zone;

		if (zi != a)
			continue;
		for (uint32_t j = 0; j < np; j++) {
			uint32_t zj = fam == 4 ? img->prefix4[j].zone : img->prefix6[j].zone;

			if (zj != b)
				continue;
			fputs(n++ ? ",\n\t\t\t" : "\t\telements = { ", f);
			if (fam == 4) {
				prefix_text(f, 4, img->prefix4[i].addr, img->prefix4[i].len);
				fputs(" . ", f);
				prefix_text(f, 4, img->prefix4[j].addr, img->prefix4[j].len);
			} else {
				prefix_text(f, 6, img->prefix6[i].addr, img->prefix6[i].len);
				fputs(" . ", f);
				prefix_text(f, 6, img->prefix6[j].addr, img->prefix6[j].len);
			}
			fprintf(f, " : %s", verdict);
		}
	}
	return n;
}

/*
 * The ruleset an nftables expert would write by hand for the same policy:
 * a named interval set per zone and family, one verdict map from (source
 * prefix . destination prefix) to the zone pair's chain (so a packet finds
 * its pair in one lookup), and in each pair chain one verdict map from
 * (protocol . port range) for the rules on the whole zones, plus one rule
 * per narrowed rule. Pairs with outside match the inside end's set and
 * "not any zone" on the other. ICMP type ranges, rates and logging are
 * left out (the flat baseline leaves them out too).
 */
static size_t write_expert(const struct zw_image *img, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t rules = 0;

	if (!f)
		return 0;
	fputs("table inet expert {\n", f);
	for (int fam = 4; fam <= 6; fam += 2) {
		int n = 0;

		for (uint32_t z = 1; z < img->n_zones; z++) {
			if (!zone_has(img, z, fam))
				continue;
			fprintf(f, "\tset z%u_%d {\n\t\ttype %s; flags interval;\n\t\telements = { ",
				z, fam, fam == 4 ? "ipv4_addr" : "ipv6_addr");
			zone_elems(f, img, z, fam);
			fputs(" }\n\t}\n", f);
		}
		fprintf(f, "\tset zones_%d {\n\t\ttype %s; flags interval;\n", fam,
			fam == 4 ? "ipv4_addr" : "ipv6_addr");
		for (uint32_t z = 1; z < img->n_zones; z++)
			if (zone_has(img, z, fam)) {
				fputs(n++ ? ", " : "\t\telements = { ", f);
				zone_elems(f, img, z, fam);
			}
		fputs(n ? " }\n\t}\n" : "\t}\n", f);
	}
	/* pair chains */
	for (uint32_t p = 0; p < img->n_pairs; p++) {
		const struct zw_img_pair *pr = &img->pairs[p];
		int nsvc = 0;

		fprintf(f, "\tmap svc_%u_%u {\n\t\ttype inet_proto . inet_service : verdict; flags interval;\n",
			pr->from, pr->to);
		for (uint32_t k = 0; k < pr->count; k++) {
			const struct zw_img_rule *r = &img->rules[pr->first + k];

			if (r->src_set != ZW_NO_SET || r->dst_set != ZW_NO_SET ||
			    (r->proto != 6 && r->proto != 17) || (r->flags & ZW_IMG_RULE_ANY))
				continue;
			fputs(nsvc++ ? ", " : "\t\telements = { ", f);
			fprintf(f, "%u . %u-%u : accept", r->proto, r->lo, r->hi);
		}
		fputs(nsvc ? " }\n\t}\n" : "\t}\n", f);
		fprintf(f, "\tchain p_%u_%u {\n", pr->from, pr->to);
		if (nsvc) {
			fprintf(f, "\t\tmeta l4proto . th dport vmap @svc_%u_%u\n", pr->from, pr->to);
			rules++;
		}
		for (uint32_t k = 0; k < pr->count; k++) {
			const struct zw_img_rule *r = &img->rules[pr->first + k];
			bool narrowed = r->src_set != ZW_NO_SET || r->dst_set != ZW_NO_SET;
			bool ports = (r->proto == 6 || r->proto == 17) && !(r->flags & ZW_IMG_RULE_ANY);

			if (!narrowed && ports)
				continue; /* in the map */
			for (int fam = 4; fam <= 6; fam += 2) {
				long pos = ftell(f);

				fprintf(f, "\t\tmeta nfproto %s", fam == 4 ? "ipv4" : "ipv6");
				if (r->src_set != ZW_NO_SET) {
					fprintf(f, " %s saddr ", fam == 4 ? "ip" : "ip6");
					if (!addr_set(f, img, pr->from, r->src_set, fam)) {
						fseek(f, pos, SEEK_SET);
						continue;
					}
				}
				if (r->dst_set != ZW_NO_SET) {
					fprintf(f, " %s daddr ", fam == 4 ? "ip" : "ip6");
					if (!addr_set(f, img, pr->to, r->dst_set, fam)) {
						fseek(f, pos, SEEK_SET);
						continue;
					}
				}
				fprintf(f, " meta l4proto %u", r->proto);
				if (ports)
					fprintf(f, " th dport %u-%u", r->lo, r->hi);
				fputs(" accept\n", f);
				rules++;
			}
		}
		fputs("\t}\n", f);
	}
	/* one verdict map per family: prefix . prefix -> pair chain */
	for (int fam = 4; fam <= 6; fam += 2) {
		size_t n = 0;

		fprintf(f, "\tmap pairs_%d {\n\t\ttype %s . %s : verdict; flags interval;\n", fam,
			fam == 4 ? "ipv4_addr" : "ipv6_addr", fam == 4 ? "ipv4_addr" : "ipv6_addr");
		for (uint32_t p = 0; p < img->n_pairs; p++) {
			const struct zw_img_pair *pr = &img->pairs[p];
			char v[48];

			if (pr->from == ZW_ZONE_OUTSIDE || pr->to == ZW_ZONE_OUTSIDE ||
			    (pr->from == pr->to &&
			     !(img->zones[pr->from].flags & ZW_IMG_ZONE_ISOLATE)))
				continue;
			snprintf(v, sizeof(v), "jump p_%u_%u", pr->from, pr->to);
			n = pair_elems(f, img, pr->from, pr->to, fam, v, n);
		}
		/* inside a zone that is not isolated: everything */
		for (uint32_t z = 1; z < img->n_zones; z++)
			if (!(img->zones[z].flags & ZW_IMG_ZONE_ISOLATE))
				n = pair_elems(f, img, z, z, fam, "accept", n);
		fputs(n ? " }\n\t}\n" : "\t}\n", f);
	}
	fputs("\tchain forward {\n\t\ttype filter hook forward priority 0; policy drop;\n"
	      "\t\tct state established,related accept\n"
	      "\t\tct state invalid drop\n"
	      "\t\tip saddr . ip daddr vmap @pairs_4\n"
	      "\t\tip6 saddr . ip6 daddr vmap @pairs_6\n", f);
	rules += 4;
	for (uint32_t p = 0; p < img->n_pairs; p++) {
		const struct zw_img_pair *pr = &img->pairs[p];

		if (pr->from != ZW_ZONE_OUTSIDE && pr->to != ZW_ZONE_OUTSIDE)
			continue;
		for (int fam = 4; fam <= 6; fam += 2) {
			const char *ip = fam == 4 ? "ip" : "ip6";
			uint32_t in = pr->from == ZW_ZONE_OUTSIDE ? pr->to : pr->from;

			if (in == ZW_ZONE_OUTSIDE || !zone_has(img, in, fam))
				continue;
			if (pr->from == ZW_ZONE_OUTSIDE)
				fprintf(f, "\t\t%s saddr != @zones_%d %s daddr @z%u_%d jump p_%u_%u\n",
					ip, fam, ip, in, fam, pr->from, pr->to);
			else
				fprintf(f, "\t\t%s saddr @z%u_%d %s daddr != @zones_%d jump p_%u_%u\n",
					ip, in, fam, ip, fam, pr->from, pr->to);
			rules++;
		}
	}
	fputs("\t}\n}\n", f);
	if (ftruncate(fileno(f), ftell(f)) != 0)
		rules = 0;
	fclose(f);
	return rules;
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

	if (argc == 5 && !strcmp(argv[1], "--write")) {
		/* nft-bench --write flat|expert MATRIX.yaml OUT.nft */
		FILE *in = fopen(argv[3], "r");
		char *yaml = NULL;
		size_t cap = 0, rules;
		ssize_t len = in ? getdelim(&yaml, &cap, '\0', in) : -1;
		struct zw_image *img = len > 0 ? image_of(yaml, today, 0) : NULL;

		if (in)
			fclose(in);
		if (!img) {
			fprintf(stderr, "nft-bench: %s does not compile\n", argv[3]);
			return 1;
		}
		rules = !strcmp(argv[2], "expert") ? write_expert(img, argv[4])
						    : write_flat(img, argv[4]);
		zw_image__free(img);
		free(yaml);
		printf("%zu rules\n", rules);
		return rules ? 0 : 1;
	}
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
		run_nft("delete table inet flat");

		size_t expert = write_expert(img, path);

		snprintf(args, sizeof(args), "-f %s", path);
		first = run_nft(args);
		snprintf(args, sizeof(args), "'flush table inet expert'; nft -f %s", path);
		again = run_nft(args);
		printf("%-8u %-26s %9.1f %9s %9s %9s %9s %8zu %9s\n", n,
		       "baseline: nft -f expert", first, "", "", "", "", expert, "");
		printf("%-8u %-26s %9.1f %9s %9s %9s %9s %8zu %9s\n", n,
		       "baseline: flush + nft -f exp", again, "", "", "", "", expert, "");
		run_nft("delete table inet expert");
		printf("%-8u %-26s %9.1f\n", n, "(matrix generate+compile)", gen_ms);
		fflush(stdout);
		unlink(path);
		zw_image__free(img);
		zw_image__free(img2);
		free(yaml);
	}
	zwnft_sock__free(s);
	return 0;
}
