/* SPDX-License-Identifier: BSD-2-Clause */
/* Big-endian stores for the encoder (private to telemetry/). */
#ifndef ZONEWALL_TELEMETRY_WIRE_H
#define ZONEWALL_TELEMETRY_WIRE_H

#include <stdint.h>

static inline uint8_t *zw_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint8_t *zw_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static inline uint8_t *zw_put64(uint8_t *p, uint64_t v)
{
	p = zw_put32(p, (uint32_t)(v >> 32));
	return zw_put32(p, (uint32_t)v);
}

#endif
