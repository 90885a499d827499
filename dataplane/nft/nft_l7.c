// SPDX-License-Identifier: BSD-2-Clause
/*
 * The nftables engine's side of L7 inspection (docs/l7.md): what an image
 * asks that the engine can enforce, and the image handed to zw-inspect.
 * The rules themselves (ct mark, NFQUEUE) are built in nft_chains.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/l7.h>
#include <zonewall/policy.h>

#include "zwnft.h"

int zwnft_l7__check(const struct zw_image *img, int32_t day,
		    const struct zwnft_opts *o, char *err, size_t err_len)
{
	size_t off = 0;
	int bad = 0;

	if (img->n_fileblock && !o->queue_set) {
		snprintf(err, err_len,
			 "crisis block-file needs L7 inspection (zw-inspect, "
			 "docs/l7.md): not enforced, refused");
		return -EOPNOTSUPP;
	}
	if (!o->queue_set)
		return 0;
#ifdef ZW_HAVE_L7
	for (uint32_t r = 0; r < img->n_rules; r++) {
		const struct zw_img_rule *ru = &img->rules[r];
		int p = zw_l7__service_proto(img, ru->service);

		if (!img->services[ru->service].inspect ||
		    !zw_image__flow_live(img, ru->flow, day))
			continue;
		if (p >= 0 && zw_l7_proto__checks(p, ru->proto))
			continue;
		if (!bad++)
			off = (size_t)snprintf(err, err_len,
					       "inspect cannot be enforced on "
					       "these flows (protocol not "
					       "checkable over this transport):");
		if (off < err_len)
			off += (size_t)snprintf(err + off, err_len - off,
						" %s (%s, protocol %u)",
						zw_image__str(img, img->flows[ru->flow].id),
						zw_image__str(img, img->services[ru->service].inspect),
						ru->proto);
	}
	return bad ? -EOPNOTSUPP : 0;
#else
	(void)day, (void)off, (void)bad;
	for (uint32_t s = 0; s < img->n_services; s++)
		if (img->services[s].inspect) {
			snprintf(err, err_len,
				 "this build has no L7 inspection (Hyperscan): "
				 "`inspect:` cannot be enforced");
			return -EOPNOTSUPP;
		}
	return 0;
#endif
}

int zwnft_l7__publish(const struct zw_image *img, const struct zwnft_opts *o,
		      char *err, size_t err_len)
{
	char path[sizeof(o->inspect_image)];

	if (!o->queue_set)
		return 0;
	return zw_inspector__publish(img, zwnft_opts__inspect_image(o, path,
								    sizeof(path)),
				     err, err_len);
}
