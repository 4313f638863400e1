/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "at-framer.h"

#include <string.h>

#include "fota-limits.h"

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
 * Bytes >= 0x80 stay until the line ends (see drop_invalid_utf8()). */
static gboolean
is_dropped(guint8 c)
{
	return fota_byte_is_control(c);
}

/* Keeps only well-formed UTF-8 in buf[0..len): a stray 0xff or a lone
 * lead byte is line noise, while a real URC may carry curly quotes. */
static void
drop_invalid_utf8(AtFramer *framer)
{
	gsize in = 0, out = 0;

	while (in < framer->len) {
		const char *p = framer->buf + in;
		gsize n = 1;

		if ((guchar)*p >= 0x80) {
			gunichar c = g_utf8_get_char_validated(p, (gssize)(framer->len - in));
			if (c == (gunichar)-1 || c == (gunichar)-2) {
				in++;
				continue;
			}
			n = (gsize)(g_utf8_next_char(p) - p);
		}
		memmove(framer->buf + out, p, n);
		in += n;
		out += n;
	}
	framer->len = out;
}

/* Every response and URC has a letter or a digit; a line without one is
 * what is left of noise once the bad bytes are gone. */
static gboolean
has_alnum(const char *s, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (g_ascii_isalnum(s[i]))
			return TRUE;
	}
	return FALSE;
}

/* Ends the current line: delivers it cleaned and trimmed, or counts it if it
 * overflowed. */
static void
end_line(AtFramer *framer, AtFramerLineFunc func, gpointer user_data)
{
	char *start = framer->buf;
	gsize len;

	if (framer->overflow) {
		framer->dropped++;
		at_framer_reset(framer);
		return;
	}
	drop_invalid_utf8(framer);
	len = framer->len;
	/* Reset before the call so a callback that resets or re-feeds the
	 * framer sees a consistent state. */
	framer->len = 0;
	while (len > 0 && start[len - 1] == ' ')
		len--;
	while (len > 0 && *start == ' ') {
		start++;
		len--;
	}
	if (len == 0 || !has_alnum(start, len))
		return;
	start[len] = '\0';
	func(start, len, user_data);
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
