/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Splits the modem's byte stream into lines. Pure: no I/O, no allocation. */

#define AT_FRAMER_MAX_LINE 4096

/* @line is NUL-terminated, trimmed, free of control bytes and of bytes that
 * are not well-formed UTF-8, and has at least one ASCII letter or digit
 * (a line of nothing but noise is not delivered); valid only during the
 * call. */
typedef void (*AtFramerLineFunc)(const char *line, gsize len, gpointer user_data);

typedef struct {
	char buf[AT_FRAMER_MAX_LINE + 1];
	gsize len;
	gboolean overflow; /* dropping the rest of an overlong line */
	guint64 dropped;   /* overlong lines dropped so far */
} AtFramer;

void at_framer_init(AtFramer *framer);
/* Discards a partial line (after a hang-up or a raw transfer). */
void at_framer_reset(AtFramer *framer);
void at_framer_feed(AtFramer *framer, const guint8 *data, gsize len, AtFramerLineFunc func,
                    gpointer user_data);
