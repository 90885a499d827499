/* SPDX-License-Identifier: BSD-2-Clause */
/* Private to matrix/: helpers shared by parser, validator and compiler. */
#ifndef ZONEWALL_MATRIX_INTERNAL_H
#define ZONEWALL_MATRIX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zonewall/matrix.h>

/* Zero the host bits of @addr beyond @len. */
void zw_prefix_mask(uint8_t *addr, uint8_t family, unsigned len);

/* SHA-256 of the concatenation a || b; 0 or -EIO. */
int zw_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
		uint8_t out[32]);

/* Grow *v (elements of @size) so it holds at least @need; 0 or -ENOMEM. */
int zw_grow(void **v, size_t *cap, size_t need, size_t size);

/* One entry of the built-in catalogue, as YAML text parsed at start-up by
 * the same parser as the matrix's own services (one mechanism). */
struct zw_builtin_service {
	const char *name;
	const char *yaml; /* flow-style YAML of the service value */
	unsigned classes; /* enum zw_svc_class */
};
extern const struct zw_builtin_service zw_builtin_services[];

/* ZW040: append a warning for every redundant live flow. */
void zw_redundancy__check(const struct zw_matrix *m, int32_t today,
			  struct zw_diags *diags);

/* Free the contents of a service (not the struct itself). */
void zw_service_fini(struct zw_service *s);

#endif
