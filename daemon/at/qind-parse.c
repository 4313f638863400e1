/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qind-parse.h"

#include <string.h>

#include "fota-limits.h"

/* Real modems differ from the guide in small ways (spaces, a trailing '%',
 * lower case, curly quotes pasted from the PDF into simulators and test
 * scripts), so the reader is lenient about form but strict about content:
 * anything after a complete line other than white space makes it malformed,
 * because a half-understood FOTA URC must never be taken for progress.
 *
 * Every scan stops at the terminating NUL and nothing is allocated: the
 * function runs for every line the modem sends. */

typedef struct {
	const char *name;
	QindStage kind;
} StageName;

static const StageName stage_names[] = {
        {"FTPSTART", QIND_STAGE_FTPSTART},       {"HTTPSTART", QIND_STAGE_HTTPSTART},
        {"HTTPSSTART", QIND_STAGE_HTTPSSTART},   {"FILESTART", QIND_STAGE_FILESTART},
        {"DOWNLOADING", QIND_STAGE_DOWNLOADING}, {"FTPEND", QIND_STAGE_FTPEND},
        {"HTTPEND", QIND_STAGE_HTTPEND},         {"HTTPSEND", QIND_STAGE_HTTPSEND},
        {"FILEEND", QIND_STAGE_FILEEND},         {"START", QIND_STAGE_START},
        {"UPDATING", QIND_STAGE_UPDATING},       {"END", QIND_STAGE_END},
        {"RESTORE", QIND_STAGE_RESTORE},
};

/* Byte length of a quote at @p: '"' or one of the UTF-8 curly quotes
 * U+2018 U+2019 U+201C U+201D (E2 80 98/99/9C/9D); 0 when there is none.
 * The && chain stops at a NUL, so this never reads past the string. */
static gsize
quote_len(const char *p)
{
	const guchar *u = (const guchar *)p;

	if (u[0] == '"')
		return 1;
	if (u[0] == 0xe2 && u[1] == 0x80 &&
	    (u[2] == 0x98 || u[2] == 0x99 || u[2] == 0x9c || u[2] == 0x9d))
		return 3;
	return 0;
}

static const char *
skip_space(const char *p)
{
	while (g_ascii_isspace(*p))
		p++;
	return p;
}

static QindStage
stage_kind(const char *stage)
{
	for (gsize i = 0; i < G_N_ELEMENTS(stage_names); i++) {
		if (strcmp(stage_names[i].name, stage) == 0)
			return stage_names[i].kind;
	}
	return QIND_STAGE_UNKNOWN;
}

/* [+-]digits[ ][%]; FALSE on no digits or when the value leaves gint64. */
static gboolean
parse_number(const char **pp, gint64 *value)
{
	const char *p = *pp;
	gboolean negative = FALSE;
	guint64 magnitude = 0;
	guint64 limit;

	if (*p == '-' || *p == '+') {
		negative = *p == '-';
		p++;
	}
	if (!g_ascii_isdigit(*p))
		return FALSE;
	limit = negative ? (guint64)G_MAXINT64 + 1 : (guint64)G_MAXINT64;
	for (; g_ascii_isdigit(*p); p++) {
		guint digit = *p - '0';

		if (magnitude > (limit - digit) / 10)
			return FALSE;
		magnitude = magnitude * 10 + digit;
	}
	if (!negative)
		*value = (gint64)magnitude;
	else if (magnitude == (guint64)G_MAXINT64 + 1)
		*value = G_MININT64;
	else
		*value = -(gint64)magnitude;

	p = skip_space(p);
	if (*p == '%')
		p++;
	*pp = p;
	return TRUE;
}

/* Copies [start, end) into @text, truncated to QIND_TEXT_MAX bytes at a
 * character boundary. The text ends up in logs and D-Bus messages, so it
 * must be valid UTF-8 without control characters: anything else becomes '?'. */
static void
copy_text(const char *start, const char *end, char *text)
{
	gsize n = 0;

	for (const char *p = start; p < end;) {
		guchar c = (guchar)*p;
		gsize len = 1;

		if (c >= 0x80) {
			gunichar u = g_utf8_get_char_validated(p, end - p);

			if (u == (gunichar)-1 || u == (gunichar)-2)
				c = '?';
			else
				len = g_utf8_skip[c];
		} else if (fota_byte_is_control(c)) {
			c = '?';
		}
		if (n + len > QIND_TEXT_MAX)
			break;
		if (len == 1)
			text[n] = (char)c;
		else
			memcpy(text + n, p, len);
		n += len;
		p += len;
	}
	text[n] = '\0';
}

/* A quoted free-text value: it runs to the last quote of the line, so a
 * quote inside the text does not end it early. */
static gboolean
parse_text(const char **pp, char *text)
{
	const char *start = *pp + quote_len(*pp);
	const char *close = NULL;
	gsize close_len = 0;

	for (const char *p = start; *p != '\0'; p++) {
		gsize q = quote_len(p);

		if (q > 0) {
			close = p;
			close_len = q;
			p += q - 1;
		}
	}
	if (close == NULL)
		return FALSE;
	copy_text(start, close, text);
	*pp = close + close_len;
	return TRUE;
}

static QindParseResult
parse_line(const char *line, QindFota *out)
{
	const char *p = skip_space(line);
	const char *stage_start;
	gboolean quoted;
	gsize n = 0;
	gsize q;

	if (g_ascii_strncasecmp(p, "+QIND:", 6) != 0)
		return QIND_NOT_FOTA;
	p = skip_space(p + 6);
	q = quote_len(p);
	quoted = q > 0;
	p += q;
	/* "FOTA" must be a whole word: +QIND: "FOTAX" is someone else's. */
	if (g_ascii_strncasecmp(p, "FOTA", 4) != 0 || g_ascii_isalnum(p[4]) || p[4] == '_')
		return QIND_NOT_FOTA;
	p += 4;

	/* From here on it is a FOTA line: every surprise is MALFORMED. */
	q = quote_len(p);
	if (quoted != (q > 0))
		return QIND_MALFORMED;
	p = skip_space(p + q);
	if (*p != ',')
		return QIND_MALFORMED;
	p = skip_space(p + 1);

	q = quote_len(p);
	quoted = q > 0;
	stage_start = p;
	p += q;
	for (; g_ascii_isalpha(*p); p++) {
		if (n == QIND_STAGE_MAX)
			return QIND_MALFORMED;
		out->stage[n++] = g_ascii_toupper(*p);
	}
	out->stage[n] = '\0';
	q = quote_len(p);
	if (quoted && q == 0 && *p != '\0') {
		/* a status in words where the stage would be: "Last upgrade
		 * was not finished,continue upgrade" after a power loss */
		p = stage_start;
		if (!parse_text(&p, out->text))
			return QIND_MALFORMED;
		out->stage[0] = '\0';
		out->kind = QIND_STAGE_STATUS;
		out->value_kind = QIND_VALUE_TEXT;
		return *skip_space(p) == '\0' ? QIND_OK : QIND_MALFORMED;
	}
	if (n == 0)
		return QIND_MALFORMED;
	if (quoted != (q > 0))
		return QIND_MALFORMED;
	p = skip_space(p + q);
	out->kind = stage_kind(out->stage);

	if (*p == ',') {
		p = skip_space(p + 1);
		if (quote_len(p) > 0) {
			if (!parse_text(&p, out->text))
				return QIND_MALFORMED;
			out->value_kind = QIND_VALUE_TEXT;
		} else {
			if (!parse_number(&p, &out->value))
				return QIND_MALFORMED;
			out->value_kind = QIND_VALUE_INT;
		}
		p = skip_space(p);
	}
	return *p == '\0' ? QIND_OK : QIND_MALFORMED;
}

QindParseResult
qind_fota_parse(const char *line, QindFota *out)
{
	QindParseResult result;

	g_return_val_if_fail(out != NULL, QIND_MALFORMED);

	memset(out, 0, sizeof(*out));
	if (line == NULL)
		return QIND_NOT_FOTA;
	result = parse_line(line, out);
	/* Callers must not act on half-filled fields. */
	if (result != QIND_OK)
		memset(out, 0, sizeof(*out));
	return result;
}

gboolean
qind_stage_is_download_start(QindStage kind)
{
	return kind == QIND_STAGE_FTPSTART || kind == QIND_STAGE_HTTPSTART ||
	       kind == QIND_STAGE_HTTPSSTART || kind == QIND_STAGE_FILESTART;
}

gboolean
qind_stage_is_download_end(QindStage kind)
{
	return kind == QIND_STAGE_FTPEND || kind == QIND_STAGE_HTTPEND ||
	       kind == QIND_STAGE_HTTPSEND || kind == QIND_STAGE_FILEEND;
}
