/* SPDX-License-Identifier: BSD-2-Clause */
/* The probes' checks that need the whole matrix (docs/matrix-language.md,
 * "probes"): ZW060, an interface name no engine can use; ZW061, one
 * interface named by two probes. The parser already checked each probe's
 * keys and zone list (ZW001, ZW002, ZW062). */
#include <string.h>

#include <zonewall/matrix.h>

#include "internal.h"

void zw_probes__check(const struct zw_matrix *m, struct zw_diags *d)
{
	for (size_t i = 0; i < m->n_probes; i++) {
		const struct zw_probe *p = &m->probes[i];

		if (!p->interface)
			continue; /* missing or not a string: ZW001 */
		if (!zw_ifname__valid(p->interface)) {
			zw_diags__add(d, ZW_ERROR, 60, p->loc_interface,
				      "probe '%s': interface '%s' is not a network interface name ([A-Za-z0-9][A-Za-z0-9._-], at most %d characters)",
				      p->name, p->interface, ZW_IFNAME_MAX);
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			const struct zw_probe *q = &m->probes[j];

			if (q->interface && !strcmp(q->interface, p->interface)) {
				zw_diags__add(d, ZW_ERROR, 61, p->loc_interface,
					      "probe '%s': interface '%s' is already the interface of probe '%s' (line %u); list both probes' zones in one probe",
					      p->name, p->interface, q->name,
					      q->loc.line);
				break;
			}
		}
	}
}
