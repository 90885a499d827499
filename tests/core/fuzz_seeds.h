/* SPDX-License-Identifier: BSD-2-Clause */
/* Seed frames of the parser fuzz harness: one per protocol, extension
 * chain, fragment kind, ICMP error kind and malformation the unit tests
 * know about. */
#ifndef ZONEWALL_TESTS_FUZZ_SEEDS_H
#define ZONEWALL_TESTS_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>

/* Calls @cb once per seed; returns the number of seeds. */
size_t zw_fuzz_seeds(void (*cb)(const uint8_t *frame, size_t len, void *arg),
		     void *arg);

#endif
