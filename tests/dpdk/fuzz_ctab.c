// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzzed operation sequences on the DPDK connection table (ctab.h)
 * against a reference map (a plain array over a small key space): add,
 * delete, packets of a connection, establishment, expiry with folding,
 * counter reads. After every operation: every key the reference holds is
 * found at a position of its own with its own packet count, no other key
 * is found, the count matches and never exceeds the bound, only embryonic
 * entries are ever dropped early, and the flow totals (folded + pending)
 * equal the packets counted.
 *
 * libFuzzer harness with -Dfuzz=true (run_fuzz.sh, FUZZ_SECONDS); else
 * main() below replays a fixed set of pseudo-random sequences. Needs the
 * EAL (--no-huge), hence root; exits 77 with the reason otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_malloc.h>

#include "zw_conn.h"
#include "zwdpdk.h"

#define NKEYS 96
#define NFLOWS 4

#define CHECK(x)                                                         \
	do {                                                             \
		if (!(x)) {                                              \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #x); \
			abort();                                         \
		}                                                        \
	} while (0)

struct ref {
	int present;
	int established;
	uint32_t flow;
	uint64_t packets;
};

static int eal_ok = -1;
/* coverage of the replay: early drops, moves, refused adds */
static uint64_t n_evicted, n_moved, n_full;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *eal[] = { "fuzz_ctab", "--no-huge", "-m", "256", "--no-shconf",
			"--no-pci", "-l", "0", "--log-level", "lib.eal:error",
			"--no-telemetry", NULL };

	(void)argc;
	(void)argv;
	if (eal_ok >= 0)
		return 0;
	eal_ok = geteuid() == 0 && rte_eal_init(11, eal) >= 0;
	return 0;
}

static void key_of(uint8_t family, unsigned i, void *k)
{
	if (family == 4) {
		struct zw_key4 *k4 = k;

		memset(k4, 0, sizeof(*k4));
		k4->a = 0x0a000001u + (i & 7);
		k4->b = 0x0a000100u;
		k4->pa = (uint16_t)(1000 + i / 8);
		k4->pb = 80;
		k4->proto = 6;
	} else {
		struct zw_key6 *k6 = k;

		memset(k6, 0, sizeof(*k6));
		k6->a[0] = 0xfd;
		k6->a[15] = (uint8_t)(i & 7);
		k6->b[0] = 0xfd;
		k6->b[15] = 0x80;
		k6->pa = (uint16_t)(1000 + i / 8);
		k6->pb = 80;
		k6->proto = 17;
	}
}

static void check_all(struct zw_ctab *t, const struct zw_ctx *ctx,
		      const struct ref *r, uint64_t counted)
{
	struct zw_flow_counters tot[NFLOWS];
	uint64_t sum = 0;
	int32_t seen[NKEYS];
	uint32_t n = 0, i, j;

	for (i = 0; i < NKEYS; i++) {
		uint64_t k[6];
		int32_t pos;

		key_of(t->family, i, k);
		pos = zw_ctab__lookup(t, k, zw_ctab__hash(t, k));
		seen[i] = pos;
		CHECK((pos >= 0) == !!r[i].present);
		if (pos < 0)
			continue;
		n++;
		CHECK(zw_ctab__entry(t, (uint32_t)pos)->packets == r[i].packets);
		for (j = 0; j < i; j++)
			CHECK(seen[j] != pos);
	}
	CHECK(n == t->count);
	CHECK(t->count <= t->cap);
	memset(tot, 0, sizeof(tot));
	zw_ctx__totals(ctx, tot);
	for (i = 0; i < NFLOWS; i++)
		sum += tot[i].packets;
	CHECK(sum == counted);
}

static void run(const uint8_t *data, size_t size)
{
	struct zw_worker *w = rte_zmalloc("fw", sizeof(*w), 64);
	struct zw_ctx ctx;
	struct zw_flow_ctr ctr[NFLOWS];
	struct zw_flow_counters base[NFLOWS];
	struct ref r[NKEYS];
	struct zw_ctab *t;
	uint64_t now = 1000, counted = 0;
	uint8_t family;
	size_t at = 2;

	if (size < 2 || !w)
		goto out;
	family = data[0] & 1 ? 6 : 4;
	t = family == 4 ? &w->t4 : &w->t6;
	memset(&ctx, 0, sizeof(ctx));
	memset(ctr, 0, sizeof(ctr));
	memset(base, 0, sizeof(base));
	memset(r, 0, sizeof(r));
	ctx.generation = 7;
	ctx.n_flows = NFLOWS;
	ctx.n_workers = 1;
	ctx.ctr = ctr;
	ctx.ctr_stride = NFLOWS;
	ctx.base = base;
	CHECK(zw_ctab__init(t, "fz", family, 4 + data[1] % 60, 0) == 0);
	while (at + 2 <= size) {
		unsigned op = data[at] % 6, i = data[at + 1] % NKEYS;
		uint64_t k[6];
		int32_t pos;

		at += 2;
		key_of(family, i, k);
		pos = zw_ctab__lookup(t, k, zw_ctab__hash(t, k));
		switch (op) {
		case 0: /* a new connection (or a packet of it) */
		case 1:
			if (pos < 0) {
				uint64_t ev = w->st.evicted;
				uint32_t j;

				pos = zw_ctab__add(t, w, &ctx, k, now);
				if (pos < 0) {
					/* full (the bound, or both buckets
					 * of established entries) */
					CHECK(pos == -ENOSPC && t->count > 0);
					n_full++;
					break;
				}
				/* what early drop removed was embryonic */
				for (j = 0; w->st.evicted != ev && j < NKEYS; j++) {
					uint64_t kj[6];

					if (!r[j].present)
						continue;
					key_of(family, j, kj);
					if (zw_ctab__lookup(t, kj,
							    zw_ctab__hash(t, kj)) >= 0)
						continue;
					CHECK(!r[j].established);
					r[j].present = 0;
				}
				{
					struct zw_dconn *d =
						zw_ctab__entry(t, (uint32_t)pos);

					d->c.state = ZW_CS_SYN_SENT;
					d->c.last_ns = now;
					d->c.generation = ctx.generation;
					d->c.flow = i % NFLOWS;
					d->flow_hash = 1;
					d->packets = 1;
					d->bytes = 60;
				}
				zw_ctab__embryo(t, pos);
				r[i].present = 1;
				r[i].established = 0;
				r[i].flow = i % NFLOWS;
				r[i].packets = 1;
				counted++;
			} else {
				struct zw_dconn *d = zw_ctab__entry(t, (uint32_t)pos);

				d->packets++;
				d->bytes += 60;
				d->c.last_ns = now;
				r[i].packets++;
				counted++;
			}
			break;
		case 2: /* established: never dropped early */
			if (pos >= 0) {
				zw_ctab__entry(t, (uint32_t)pos)->c.state =
					ZW_CS_ESTABLISHED;
				r[i].established = 1;
			}
			break;
		case 3: /* the end of a connection */
			if (pos >= 0) {
				zw_ctab__del(t, w, &ctx, pos, now);
				r[i].present = 0;
			}
			break;
		case 4: { /* time passes; the expiry scan runs */
			uint32_t j;

			now += (uint64_t)(data[at - 1] % 4) * 60 * ZW_NS_PER_SEC;
			zw_ctab__expire_ctx(t, w, &ctx, now, t->nslots);
			for (j = 0; j < NKEYS; j++) {
				uint64_t kj[6];

				if (!r[j].present)
					continue;
				key_of(family, j, kj);
				if (zw_ctab__lookup(t, kj, zw_ctab__hash(t, kj)) < 0)
					r[j].present = 0; /* expired */
			}
			break;
		}
		default: /* fold one entry */
			if (pos >= 0)
				zw_ctab__fold(t, w, &ctx, (uint32_t)pos);
			break;
		}
		check_all(t, &ctx, r, counted);
	}
	n_evicted += w->st.evicted;
	n_moved += t->moved;
	zw_ctab__fini(t);
out:
	rte_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (eal_ok < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (eal_ok)
		run(data, size);
	return 0;
}

#ifndef ZW_FUZZ_LIBFUZZER
/* Replay: pseudo-random sequences from fixed seeds, biased towards adds so
 * that tables fill, overflow their buckets and drop early. */
int main(void)
{
	uint8_t buf[1024];
	uint64_t s = 0x9e3779b97f4a7c15ull;
	int n, rounds = getenv("ZW_FUZZ_ROUNDS") ? atoi(getenv("ZW_FUZZ_ROUNDS")) : 600;

	if (geteuid() != 0) {
		printf("SKIP: the connection table needs the DPDK EAL (root)\n");
		return 77;
	}
	LLVMFuzzerInitialize(NULL, NULL);
	if (!eal_ok) {
		printf("SKIP: EAL initialisation failed\n");
		return 77;
	}
	for (n = 0; n < rounds; n++) {
		size_t len = 2 + (size_t)(n * 7 % (sizeof(buf) - 2)), i;

		for (i = 0; i < len; i++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			buf[i] = (uint8_t)(s >> 24);
			if (i >= 2 && i % 2 == 0 && (s & 3) == 0)
				buf[i] = n % 3 ? 0 : 2; /* more adds, or a
							 * table that fills with
							 * established entries */
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("%d sequences, table matched the reference map (%llu early "
	       "drops, %llu moves, %llu adds refused)\n", rounds,
	       (unsigned long long)n_evicted, (unsigned long long)n_moved,
	       (unsigned long long)n_full);
	if (!n_evicted || !n_moved || !n_full) {
		printf("the sequences did not reach every case\n");
		return 1;
	}
	rte_eal_cleanup();
	return 0;
}
#endif
