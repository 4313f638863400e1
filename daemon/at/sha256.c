/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sha256.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_X86 1
#endif

#define BLOCK 64

struct _Sha256 {
	GChecksum *fallback; /* NULL when the blocks go through the CPU */
	guint32 h[8];
	guint8 pending[BLOCK];
	gsize n_pending;
	guint64 total;
};

#ifdef SHA256_X86

/* FIPS 180-4 §4.2.2 */
static const guint32 K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};

static gboolean
cpu_has_sha(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return FALSE;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}

/* The SHA instructions keep the state as {A,B,E,F} and {C,D,G,H}; each
 * SHA256RNDS2 does two rounds and swaps the halves' roles. The message
 * schedule W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] is built four
 * words at a time: SHA256MSG1 adds the s0 terms, PALIGNR brings W[t-7], and
 * SHA256MSG2 adds the s1 terms. */
__attribute__((target("sha,sse4.1,ssse3"))) static void
blocks_sha(guint32 h[8], const guint8 *data, gsize n_blocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
	__m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
	__m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
	__m128i feba, dchg;

	for (; n_blocks > 0; n_blocks--, data += BLOCK) {
		__m128i abef_in = abef, cdgh_in = cdgh;
		__m128i w[4];

		/* Unrolled, w[] lives in registers: 20% faster here. */
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
			__m128i wk;

			if (i < 4) {
				w[i] = _mm_shuffle_epi8(
				        _mm_loadu_si128((const __m128i *)(data + 16 * i)), bswap);
			} else {
				__m128i s0 = _mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]);
				__m128i w7 = _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4);

				w[i % 4] =
				        _mm_sha256msg2_epu32(_mm_add_epi32(s0, w7), w[(i + 3) % 4]);
			}
			wk = _mm_add_epi32(w[i % 4], _mm_loadu_si128((const __m128i *)&K[4 * i]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
		}
		abef = _mm_add_epi32(abef, abef_in);
		cdgh = _mm_add_epi32(cdgh, cdgh_in);
	}
	feba = _mm_shuffle_epi32(abef, 0x1B);
	dchg = _mm_shuffle_epi32(cdgh, 0xB1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

#else

static gboolean
cpu_has_sha(void)
{
	return FALSE;
}

static void
blocks_sha(guint32 h[8], const guint8 *data, gsize n_blocks)
{
	g_assert_not_reached();
}

#endif

gboolean
sha256_accelerated(void)
{
	return cpu_has_sha();
}

Sha256 *
sha256_new(void)
{
	/* FIPS 180-4 §5.3.3 */
	static const guint32 h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	Sha256 *self = g_new0(Sha256, 1);

	if (!cpu_has_sha())
		self->fallback = g_checksum_new(G_CHECKSUM_SHA256);
	memcpy(self->h, h0, sizeof(h0));
	return self;
}

void
sha256_update(Sha256 *self, const guint8 *data, gsize len)
{
	if (self->fallback != NULL) {
		g_checksum_update(self->fallback, data, (gssize)len);
		return;
	}
	self->total += len;
	if (self->n_pending > 0) {
		gsize n = MIN(len, BLOCK - self->n_pending);

		memcpy(self->pending + self->n_pending, data, n);
		self->n_pending += n;
		data += n;
		len -= n;
		if (self->n_pending < BLOCK)
			return;
		blocks_sha(self->h, self->pending, 1);
		self->n_pending = 0;
	}
	blocks_sha(self->h, data, len / BLOCK);
	memcpy(self->pending, data + len / BLOCK * BLOCK, len % BLOCK);
	self->n_pending = len % BLOCK;
}

/* FIPS 180-4 §5.1.1: a 1 bit, zeros, and the length in bits, big-endian. */
static void
finish_blocks(Sha256 *self)
{
	guint8 tail[2 * BLOCK] = {0};
	gsize n = self->n_pending < BLOCK - 8 ? BLOCK : 2 * BLOCK;
	guint64 bits = self->total * 8;

	memcpy(tail, self->pending, self->n_pending);
	tail[self->n_pending] = 0x80;
	for (int i = 0; i < 8; i++)
		tail[n - 1 - i] = (guint8)(bits >> (8 * i));
	blocks_sha(self->h, tail, n / BLOCK);
}

char *
sha256_finish_hex(Sha256 *self)
{
	GString *hex;

	if (self->fallback != NULL)
		return g_strdup(g_checksum_get_string(self->fallback));
	finish_blocks(self);
	hex = g_string_sized_new(64);
	for (int i = 0; i < 8; i++)
		g_string_append_printf(hex, "%08x", self->h[i]);
	return g_string_free(hex, FALSE);
}

void
sha256_free(Sha256 *self)
{
	if (self->fallback != NULL)
		g_checksum_free(self->fallback);
	g_free(self);
}
