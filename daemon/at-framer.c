/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "at-framer.h"

#include <string.h>

void
at_framer_init(AtFramer *framer)
{
	memset(framer, 0, sizeof(*framer));
}

void
at_framer_reset(AtFramer *framer)
{
	framer->len = 0;
	framer->overflow = FALSE;
}

static gboolean
is_terminator(guint8 c)
{
	return c == '\r' || c == '\n';
}

/* NUL, other C0 controls and DEL carry nothing in an AT response; dropping
 * them is what lets line noise and a modem's boot garbage pass harmlessly.
 * Bytes >= 0x80 stay: URCs may carry UTF-8 (curly quotes). */
static gboolean
is_dropped(guint8 c)
{
	return c < 0x20 || c == 0x7f;
}

/* Ends the current line: delivers it trimmed, or counts it if it overflowed. */
static void
end_line(AtFramer *framer, AtFramerLineFunc func, gpointer user_data)
{
	if (framer->overflow) {
		framer->dropped++;
		at_framer_reset(framer);
		return;
	}
	while (framer->len > 0 && framer->buf[framer->len - 1] == ' ')
		framer->len--;
	if (framer->len == 0)
		return;
	framer->buf[framer->len] = '\0';
	/* Reset before the call so a callback that resets or re-feeds the
	 * framer sees a consistent state. */
	gsize len = framer->len;
	framer->len = 0;
	func(framer->buf, len, user_data);
}

static void
append_byte(AtFramer *framer, guint8 c)
{
	if (framer->overflow)
		return;
	/* Leading blanks are trimmed as they come so they never use space. */
	if (framer->len == 0 && c == ' ')
		return;
	if (framer->len == AT_FRAMER_MAX_LINE) {
		framer->overflow = TRUE;
		framer->len = 0;
		return;
	}
	framer->buf[framer->len++] = (char)c;
}

void
at_framer_feed(AtFramer *framer, const guint8 *data, gsize len, AtFramerLineFunc func,
               gpointer user_data)
{
	for (gsize i = 0; i < len; i++) {
		guint8 c = data[i];

		if (is_terminator(c))
			end_line(framer, func, user_data);
		else if (!is_dropped(c))
			append_byte(framer, c);
	}
}
