/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sha256.h"

char *
sha256_finish_hex(struct sha256_ctx *ctx)
{
	static const char digits[] = "0123456789abcdef";
	guint8 digest[SHA256_DIGEST_SIZE];
	char *hex = g_malloc(2 * sizeof(digest) + 1);

	sha256_digest(ctx, sizeof(digest), digest);
	for (gsize i = 0; i < sizeof(digest); i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex[2 * sizeof(digest)] = '\0';
	return hex;
}
