/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulator's firmware package format (see README.md), parsed incrementally so memory
 * stays the same whatever the package size: a bounded header buffer plus two running sha256. */
#pragma once

#include <glib.h>

#define SIM_PACKAGE_MAGIC      "QSIMFOTA 1"
#define SIM_PACKAGE_MAX_HEADER 4096

/* The guide's <err> codes of "+QIND: "FOTA","END",<err>" that a package can cause. */
#define SIM_END_OK          0
#define SIM_END_FAILED      504 /* (D)FOTA upgrade failed: wrong model or source revision */
#define SIM_END_CHECK_ERROR 506 /* (D)FOTA firmware MD5 check error: damaged package */

typedef struct _SimPackageParser SimPackageParser;

SimPackageParser *sim_package_parser_new(void);
void sim_package_parser_free(SimPackageParser *parser);
void sim_package_parser_feed(SimPackageParser *parser, const guint8 *data, gsize len);
guint64 sim_package_parser_received(const SimPackageParser *parser);
/* Hex sha256 of every byte fed so far (the raw stream, header included). */
char *sim_package_parser_stream_sha256(SimPackageParser *parser);
/* Once the stream is complete: the END code this package earns on a modem of `model` running
 * `revision`. On SIM_END_OK, *to_revision gets the new revision. *reason explains any failure. */
int sim_package_parser_verdict(SimPackageParser *parser, const char *model, const char *revision,
                               char **to_revision, char **reason);

gboolean sim_package_write(const char *path, const char *model, const char *from, const char *to,
                           guint64 payload_size, gboolean corrupt, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimPackageParser, sim_package_parser_free)
