/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness for the image loader. Each input is tried twice: as it
 * is (the checksum refuses almost everything), and with its SHA-256
 * recomputed so the structural checks behind the checksum are exercised.
 * Whatever loads must be safe to evaluate. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct zw_image *img, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 36 <= size && i < 36 * 8; i += 36) {
		struct zw_query q = {0};
		struct zw_verdict v;

		q.family = data[i] & 1 ? ZW_AF_INET6 : ZW_AF_INET;
		q.proto = data[i + 1];
		q.port = (uint16_t)(data[i + 2] << 8 | data[i + 3]);
		memcpy(q.src, data + i + 4, 16);
		memcpy(q.dst, data + i + 20, 16);
		q.day = (int32_t)data[i] * 100;
		zw_eval__image(img, &q, &v);
		if (v.src_zone >= img->n_zones || v.dst_zone >= img->n_zones ||
		    (v.flow != ZW_NO_FLOW && v.flow >= img->n_flows))
			abort();
	}
	for (uint32_t f = 0; f < img->n_flows; f++)
		(void)strlen(zw_image__str(img, img->flows[f].id));
	/* What the loader promises the engines: one form per rule. */
	for (uint32_t r = 0; r < img->n_rules; r++) {
		const struct zw_img_rule *x = &img->rules[r];

		if (!(x->flags & ZW_IMG_RULE_ANY) &&
		    (zw_proto__is_icmp(x->proto) ? x->hi > 255
						 : !zw_proto__has_ports(x->proto)))
			abort();
	}
	if (img->header->name[sizeof(img->header->name) - 1])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct zw_image *img = zw_image__open(data, size, err, sizeof(err));

	if (img) {
		exercise(img, data, size);
		zw_image__free(img);
	}
	if (size < sizeof(struct zw_image_header))
		return 0;

	uint8_t *copy = malloc(size);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	size_t hoff = offsetof(struct zw_image_header, sha256);

	if (!copy || !ctx)
		abort();
	memcpy(copy, data, size);
	((struct zw_image_header *)copy)->total_size = size;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, copy, hoff);
	EVP_DigestUpdate(ctx, copy + sizeof(struct zw_image_header),
			 size - sizeof(struct zw_image_header));
	EVP_DigestFinal_ex(ctx, ((struct zw_image_header *)copy)->sha256, &n);
	EVP_MD_CTX_free(ctx);
	img = zw_image__open(copy, size, err, sizeof(err));
	if (img) {
		exercise(img, data, size);
		zw_image__free(img);
	}
	free(copy);
	return 0;
}
