/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <nettle/sha2.h>

/* SHA-256 is nettle's: struct sha256_ctx, sha256_init(&ctx),
 * sha256_update(&ctx, length, data). Debian's libnettle picks its block
 * function when it is loaded: the CPU's SHA instructions where there are
 * any it has code for (SHA-NI on x86-64, the SHA-2 extension on arm64),
 * else its generic code (NETTLE_FAT_OVERRIDE=none forces that). */

/* Lower-case hex of what @ctx hashed; resets @ctx, as sha256_digest() does.
 * Returns: (transfer full) */
char *sha256_finish_hex(struct sha256_ctx *ctx);
