/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: everything the modem can say goes through the framer
 * and every parser of modem output, which must neither crash nor break
 * their promises (bounds, valid UTF-8 messages, cleared outputs). */
#include <string.h>

#include "at-framer.h"
#include "at-parse.h"
#include "fota-errors.h"
#include "fota-limits.h"
#include "fuzz-common.h"
#include "qind-parse.h"

/* Bounds the work per input: twice the framer's line bound is enough to
 * exercise its overflow path. */
#define FUZZ_MAX_INPUT (2 * 4096 + 64)

static void
check_qind(const char *line)
{
	QindFota out;
	QindParseResult r = qind_fota_parse(line, &out);
	gsize n = strlen(out.stage);

	if (r != QIND_OK) {
		FUZZ_ASSERT(r == QIND_NOT_FOTA || r == QIND_MALFORMED);
		FUZZ_ASSERT(n == 0 && out.text[0] == '\0' && out.value_kind == QIND_VALUE_NONE);
		return;
	}
	/* a status in words has no stage, and nothing else lacks one */
	if (out.kind == QIND_STAGE_STATUS)
		FUZZ_ASSERT(n == 0 && out.value_kind == QIND_VALUE_TEXT);
	else
		FUZZ_ASSERT(n >= 1 && n <= QIND_STAGE_MAX);
	for (gsize i = 0; i < n; i++)
		FUZZ_ASSERT(g_ascii_isupper(out.stage[i]));
	FUZZ_ASSERT(strlen(out.text) <= QIND_TEXT_MAX);
	FUZZ_ASSERT(g_utf8_validate(out.text, -1, NULL));
	for (const char *p = out.text; *p; p++)
		FUZZ_ASSERT(!fota_byte_is_control(*p));
	if (out.value_kind != QIND_VALUE_TEXT)
		FUZZ_ASSERT(out.text[0] == '\0');
	if (out.value_kind != QIND_VALUE_INT)
		FUZZ_ASSERT(out.value == 0);
}

static void
check_error_code(const char *line)
{
	gint64 code = g_ascii_strtoll(line, NULL, 10);
	g_autofree char *described = NULL;
	g_autofree char *prefix = NULL;

	if (code < G_MININT || code > G_MAXINT)
		return;
	described = fota_error_describe((int)code);
	prefix = g_strdup_printf("%d (", (int)code);
	FUZZ_ASSERT(g_str_has_prefix(described, prefix) && g_str_has_suffix(described, ")"));
	if (fota_error_lookup((int)code) != NULL)
		FUZZ_ASSERT(fota_error_lookup((int)code)->code == (int)code);
}

static void
check_at_parse(const char *line)
{
	const char *const lines[] = {line, NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) model_error = NULL;
	g_autoptr(GError) ranges_error = NULL;
	g_autofree char *revision = NULL;
	g_autofree char *model = NULL;
	AtQfotadlRanges ranges;
	int code = 0;

	FUZZ_ASSERT(at_parse_final(line, &code) <= AT_FINAL_CMS_ERROR);
	(void)at_parse_is_urc(line);
	(void)at_parse_upgrade_kind(line);
	(void)at_revision_is_valid(line);
	revision = at_parse_revision(lines, &error);
	if (revision != NULL)
		FUZZ_ASSERT(at_revision_is_valid(revision));
	else
		fuzz_check_error(error, AT_PARSE_ERROR);
	model = at_parse_model(lines, &model_error);
	if (model == NULL)
		fuzz_check_error(model_error, AT_PARSE_ERROR);
	if (at_parse_qfotadl_ranges(line, &ranges, &ranges_error)) {
		FUZZ_ASSERT(ranges.upgrade_mode.n <= AT_RANGE_LIST_MAX);
		FUZZ_ASSERT(ranges.download_urc_max.n <= AT_RANGE_LIST_MAX);
		FUZZ_ASSERT(ranges.update_urc_max.n <= AT_RANGE_LIST_MAX);
	} else {
		fuzz_check_error(ranges_error, AT_PARSE_ERROR);
	}
}

static void
check_line(const char *line)
{
	check_qind(line);
	check_error_code(line);
	check_at_parse(line);
}

/* Lines are folded into a hash so that feeding the same bytes whole and in
 * chunks can be compared: the framer must not depend on how reads split. */
typedef struct {
	guint64 hash;
	guint64 lines;
	gboolean check;
} FramerSink;

static void
on_line(const char *line, gsize len, gpointer user_data)
{
	FramerSink *sink = user_data;

	FUZZ_ASSERT(len > 0 && len <= AT_FRAMER_MAX_LINE && strlen(line) == len);
	for (gsize i = 0; i < len; i++)
		FUZZ_ASSERT(!fota_byte_is_control(line[i]));
	FUZZ_ASSERT(line[0] != ' ' && line[len - 1] != ' ');
	for (gsize i = 0; i < len; i++)
		sink->hash = (sink->hash ^ (guchar)line[i]) * 0x100000001b3ull;
	sink->hash = (sink->hash ^ 0x100) * 0x100000001b3ull;
	sink->lines++;
	if (sink->check)
		check_line(line);
}

static void
fuzz_framer(const uint8_t *data, size_t size)
{
	FramerSink whole = {0xcbf29ce484222325ull, 0, TRUE};
	FramerSink chunked = {0xcbf29ce484222325ull, 0, FALSE};
	AtFramer framer;
	gsize step = size > 0 ? data[0] % 13 + 1 : 1;

	at_framer_init(&framer);
	at_framer_feed(&framer, data, size, on_line, &whole);
	at_framer_init(&framer);
	for (gsize off = 0; off < size; off += step)
		at_framer_feed(&framer, data + off, MIN(step, size - off), on_line, &chunked);
	FUZZ_ASSERT(whole.lines == chunked.lines && whole.hash == chunked.hash);
}

const char *const fuzz_expected_warnings[] = {NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *str = NULL;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_framer(data, size);
	/* Unframed too: the parsers must cope with control bytes and
	 * line ends themselves (up to the first NUL). */
	str = g_strndup((const char *)data, size);
	check_line(str);
	return 0;
}
