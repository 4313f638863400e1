/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* SHA-256 of a byte stream. On x86 CPUs with the SHA extensions the blocks
 * are hashed with them (several times GLib's speed, which is what a package
 * stream spends most of its CPU on); elsewhere this is GLib's GChecksum. */

typedef struct _Sha256 Sha256;

/* Returns: (transfer full): free with sha256_free() */
Sha256 *sha256_new(void);
void sha256_update(Sha256 *self, const guint8 *data, gsize len);
/* Lower-case hex; ends the hash: no update may follow.
 * Returns: (transfer full) */
char *sha256_finish_hex(Sha256 *self);
void sha256_free(Sha256 *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Sha256, sha256_free)

/* Whether sha256_new() uses the CPU's SHA extensions here. */
gboolean sha256_accelerated(void);
