/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "qind-parse.h"

/* Lines as the guide prints them, as real modems and simulators vary them,
 * and as a noisy serial line mangles them. */
typedef struct {
	const char *line;
	QindParseResult result;
	QindStage kind;
	const char *stage;
	QindValueKind value_kind;
	gint64 value;
	const char *text;
} QindCase;

#define OK_NONE(l, k, s)                                                                           \
	{                                                                                          \
		l, QIND_OK, k, s, QIND_VALUE_NONE, 0, ""                                           \
	}
#define OK_INT(l, k, s, v)                                                                         \
	{                                                                                          \
		l, QIND_OK, k, s, QIND_VALUE_INT, v, ""                                            \
	}
#define OK_TEXT(l, k, s, t)                                                                        \
	{                                                                                          \
		l, QIND_OK, k, s, QIND_VALUE_TEXT, 0, t                                            \
	}
#define MALFORMED(l)                                                                               \
	{                                                                                          \
		l, QIND_MALFORMED, QIND_STAGE_UNKNOWN, "", QIND_VALUE_NONE, 0, ""                  \
	}
#define NOT_FOTA(l)                                                                                \
	{                                                                                          \
		l, QIND_NOT_FOTA, QIND_STAGE_UNKNOWN, "", QIND_VALUE_NONE, 0, ""                   \
	}

static const QindCase cases[] = {
        /* The guide's URCs, every stage. */
        OK_NONE("+QIND: \"FOTA\",\"FTPSTART\"", QIND_STAGE_FTPSTART, "FTPSTART"),
        OK_NONE("+QIND: \"FOTA\",\"HTTPSTART\"", QIND_STAGE_HTTPSTART, "HTTPSTART"),
        OK_NONE("+QIND: \"FOTA\",\"HTTPSSTART\"", QIND_STAGE_HTTPSSTART, "HTTPSSTART"),
        OK_NONE("+QIND: \"FOTA\",\"FILESTART\"", QIND_STAGE_FILESTART, "FILESTART"),
        OK_INT("+QIND: \"FOTA\",\"DOWNLOADING\",1", QIND_STAGE_DOWNLOADING, "DOWNLOADING", 1),
        OK_INT("+QIND: \"FOTA\",\"DOWNLOADING\",50", QIND_STAGE_DOWNLOADING, "DOWNLOADING", 50),
        OK_INT("+QIND: \"FOTA\",\"FTPEND\",0", QIND_STAGE_FTPEND, "FTPEND", 0),
        OK_INT("+QIND: \"FOTA\",\"FTPEND\",625", QIND_STAGE_FTPEND, "FTPEND", 625),
        OK_INT("+QIND: \"FOTA\",\"HTTPEND\",714", QIND_STAGE_HTTPEND, "HTTPEND", 714),
        OK_INT("+QIND: \"FOTA\",\"HTTPSEND\",0", QIND_STAGE_HTTPSEND, "HTTPSEND", 0),
        OK_INT("+QIND: \"FOTA\",\"FILEEND\",500", QIND_STAGE_FILEEND, "FILEEND", 500),
        OK_NONE("+QIND: \"FOTA\",\"START\"", QIND_STAGE_START, "START"),
        OK_INT("+QIND: \"FOTA\",\"UPDATING\",100", QIND_STAGE_UPDATING, "UPDATING", 100),
        OK_INT("+QIND: \"FOTA\",\"END\",0", QIND_STAGE_END, "END", 0),
        OK_INT("+QIND: \"FOTA\",\"END\",504", QIND_STAGE_END, "END", 504),
        OK_INT("+QIND: \"FOTA\",\"END\",506", QIND_STAGE_END, "END", 506),
        OK_NONE("+QIND: \"FOTA\",\"RESTORE\"", QIND_STAGE_RESTORE, "RESTORE"),
        /* White space where the guide has none, and around the line. */
        OK_INT("+QIND:\"FOTA\",\"END\",0", QIND_STAGE_END, "END", 0),
        OK_INT("+QIND: \"FOTA\", \"DOWNLOADING\", 35", QIND_STAGE_DOWNLOADING, "DOWNLOADING", 35),
        OK_INT("+QIND:  \"FOTA\" , \"UPDATING\" , 7 ", QIND_STAGE_UPDATING, "UPDATING", 7),
        OK_INT("+QIND:\t\"FOTA\",\t\"UPDATING\",\t8", QIND_STAGE_UPDATING, "UPDATING", 8),
        OK_INT("  +QIND: \"FOTA\",\"END\",0 \r\n", QIND_STAGE_END, "END", 0),
        /* A percent sign after the number. */
        OK_INT("+QIND: \"FOTA\",\"DOWNLOADING\",45%", QIND_STAGE_DOWNLOADING, "DOWNLOADING", 45),
        OK_INT("+QIND: \"FOTA\",\"UPDATING\",45 %", QIND_STAGE_UPDATING, "UPDATING", 45),
        /* Lower case anywhere; the stage is stored upper case. */
        OK_INT("+QIND: \"FOTA\",\"downloading\",3", QIND_STAGE_DOWNLOADING, "DOWNLOADING", 3),
        OK_INT("+qind: \"fota\",\"End\",0", QIND_STAGE_END, "END", 0),
        /* Curly quotes (U+201C U+201D U+2018 U+2019), also mixed. */
        OK_INT("+QIND: \u201cFOTA\u201d,\u201cEND\u201d,0", QIND_STAGE_END, "END", 0),
        OK_INT("+QIND: \u2018FOTA\u2019,\u2018UPDATING\u2019,5", QIND_STAGE_UPDATING, "UPDATING",
               5),
        OK_INT("+QIND: \"FOTA\u201d,\u201cHTTPEND\",0", QIND_STAGE_HTTPEND, "HTTPEND", 0),
        /* No quotes at all. */
        OK_NONE("+QIND: FOTA,START", QIND_STAGE_START, "START"),
        /* A free-text status. */
        OK_TEXT("+QIND: \"FOTA\",\"END\",\"upgrade failed\"", QIND_STAGE_END, "END",
                "upgrade failed"),
        OK_TEXT("+QIND: \"FOTA\",\"HTTPEND\",\"\"", QIND_STAGE_HTTPEND, "HTTPEND", ""),
        OK_TEXT("+QIND: \"FOTA\",\"END\",\"say \"no\" twice\"", QIND_STAGE_END, "END",
                "say \"no\" twice"),
        OK_TEXT("+QIND: \"FOTA\",\"END\",\u201c\xe5\xa4\xb1\xe8\xb4\xa5\u201d", QIND_STAGE_END,
                "END", "\xe5\xa4\xb1\xe8\xb4\xa5"),
        OK_TEXT("+QIND: \"FOTA\",\"END\",\"bad \xff byte\x01\"", QIND_STAGE_END, "END",
                "bad ? byte?"),
        /* A status in words where the stage would be (BG96 after a power loss). */
        OK_TEXT("+QIND: \"FOTA\",\"Last upgrade was not finished,continue upgrade\"",
                QIND_STAGE_STATUS, "", "Last upgrade was not finished,continue upgrade"),
        /* Stages the guide does not list are kept as text. */
        OK_INT("+QIND: \"FOTA\",\"VERIFYING\",3", QIND_STAGE_UNKNOWN, "VERIFYING", 3),
        OK_NONE("+QIND: \"FOTA\",\"Erase\"", QIND_STAGE_UNKNOWN, "ERASE"),
        OK_NONE("+QIND: \"FOTA\",\"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF\"", QIND_STAGE_UNKNOWN,
                "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF"),
        /* Numbers at and beyond the edges of gint64. */
        OK_INT("+QIND: \"FOTA\",\"END\",-1", QIND_STAGE_END, "END", -1),
        OK_INT("+QIND: \"FOTA\",\"END\",+7", QIND_STAGE_END, "END", 7),
        OK_INT("+QIND: \"FOTA\",\"END\",9223372036854775807", QIND_STAGE_END, "END", G_MAXINT64),
        OK_INT("+QIND: \"FOTA\",\"END\",-9223372036854775808", QIND_STAGE_END, "END", G_MININT64),
        OK_INT("+QIND: \"FOTA\",\"END\",000000000000000000000000000042", QIND_STAGE_END, "END", 42),
        MALFORMED("+QIND: \"FOTA\",\"END\",9223372036854775808"),
        MALFORMED("+QIND: \"FOTA\",\"END\",-9223372036854775809"),
        MALFORMED("+QIND: \"FOTA\",\"END\",99999999999999999999999999"),
        /* Truncated lines. */
        MALFORMED("+QIND: \"FOTA\""),
        MALFORMED("+QIND: \"FOTA\","),
        MALFORMED("+QIND: \"FOTA\",\"DOWNLOAD"),
        MALFORMED("+QIND: \"FOTA\",\"DOWNLOADING\","),
        MALFORMED("+QIND: \"FOTA\",\"END\",\"unterminated"),
        MALFORMED("+QIND: \"FOTA\",\""),
        /* Garbage after a complete line, or inside it. */
        MALFORMED("+QIND: \"FOTA\",\"END\",0 garbage"),
        MALFORMED("+QIND: \"FOTA\",\"END\",0\""),
        MALFORMED("+QIND: \"FOTA\",\"END\",0%%"),
        MALFORMED("+QIND: \"FOTA\",\"DOWNLOADING\",5,6"),
        MALFORMED("+QIND: \"FOTA\",\"DOWNLOADING\",5x"),
        MALFORMED("+QIND: \"FOTA\",\"END\",\"x\" y"),
        MALFORMED("+QIND: \"FOTA\",\"END\",0\x01"),
        MALFORMED("+QIND: \"FOTA\",\"START\"OK"),
        MALFORMED("+QIND: \"FOTA,\"END\",0"),
        MALFORMED("+QIND: \"FOTA\",\"END,0"),
        MALFORMED("+QIND: \"FOTA\",END\",0"),
        MALFORMED("+QIND: \"FOTA\",\"\",0"),
        MALFORMED("+QIND: \"FOTA\",\"HTTP2END\",0"),
        MALFORMED("+QIND: \"FOTA\",\"END\",%"),
        MALFORMED("+QIND: \"FOTA\",\"END\",--1"),
        MALFORMED("+QIND: \"FOTA\",\"END\",- 1"),
        MALFORMED("+QIND: \"FOTA\";\"END\""),
        MALFORMED("+QIND: \"FOTA\",,\"END\""),
        MALFORMED("+QIND: \"FOTA\",\"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG\""),
        /* Everything else the modem says. */
        NOT_FOTA("+QIND: SMS DONE"),
        NOT_FOTA("+QIND: PB DONE"),
        NOT_FOTA("+QIND: \"csq\",20,99"),
        NOT_FOTA("+QIND: \"FOTAX\",\"END\",0"),
        NOT_FOTA("+QIND: \"FOTA_2\",\"END\",0"),
        NOT_FOTA("+QIND: \"FOT"),
        NOT_FOTA("+QIND"),
        NOT_FOTA("+QINDFOTA"),
        NOT_FOTA("\"FOTA\",\"END\",0"),
        NOT_FOTA("RDY"),
        NOT_FOTA("+CPIN: READY"),
        NOT_FOTA("OK"),
        NOT_FOTA(""),
};

static void
test_table(void **state)
{
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const QindCase *c = &cases[i];
		QindFota out;
		QindParseResult r;

		memset(&out, 0x5a, sizeof(out));
		r = qind_fota_parse(c->line, &out);
		if (r != c->result || out.kind != c->kind || strcmp(out.stage, c->stage) != 0 ||
		    out.value_kind != c->value_kind || out.value != c->value ||
		    strcmp(out.text, c->text) != 0)
			fail_msg("case %" G_GSIZE_FORMAT " '%s': got result %d kind %d stage '%s' "
			         "value kind %d value %" G_GINT64_FORMAT " text '%s'",
			         i, c->line, r, out.kind, out.stage, out.value_kind, out.value,
			         out.text);
	}
}

static void
test_null_line(void **state)
{
	QindFota out;

	assert_int_equal(qind_fota_parse(NULL, &out), QIND_NOT_FOTA);
	assert_string_equal(out.stage, "");
}

/* The text is cut at QIND_TEXT_MAX bytes, never inside a UTF-8 character. */
static void
test_text_truncated(void **state)
{
	g_autoptr(GString) line = g_string_new("+QIND: \"FOTA\",\"END\",\"");
	QindFota out;

	g_string_append(line, "x");
	for (int i = 0; i < 200; i++)
		g_string_append(line, "\xe5\xa4\xb1");
	g_string_append(line, "\"");
	assert_int_equal(qind_fota_parse(line->str, &out), QIND_OK);
	assert_int_equal(out.value_kind, QIND_VALUE_TEXT);
	assert_true(strlen(out.text) <= QIND_TEXT_MAX);
	assert_int_equal(strlen(out.text), 1 + 3 * ((QIND_TEXT_MAX - 1) / 3));
	assert_true(g_utf8_validate(out.text, -1, NULL));
}

/* Lines far beyond the framer's bound: only trailing white space is fine. */
static void
test_overlong(void **state)
{
	g_autoptr(GString) line = g_string_new("+QIND: \"FOTA\",\"END\",0");
	QindFota out;

	for (int i = 0; i < 8000; i++)
		g_string_append_c(line, ' ');
	assert_int_equal(qind_fota_parse(line->str, &out), QIND_OK);
	assert_int_equal(out.value, 0);
	g_string_append_c(line, 'x');
	assert_int_equal(qind_fota_parse(line->str, &out), QIND_MALFORMED);
	assert_string_equal(out.stage, "");

	g_string_assign(line, "+QIND: \"FOTA\",\"");
	for (int i = 0; i < 8000; i++)
		g_string_append_c(line, 'A');
	g_string_append(line, "\"");
	assert_int_equal(qind_fota_parse(line->str, &out), QIND_MALFORMED);
}

static void
test_stage_classes(void **state)
{
	static const struct {
		QindStage kind;
		gboolean start, end;
	} classes[] = {
	        {QIND_STAGE_UNKNOWN, FALSE, FALSE},  {QIND_STAGE_FTPSTART, TRUE, FALSE},
	        {QIND_STAGE_HTTPSTART, TRUE, FALSE}, {QIND_STAGE_HTTPSSTART, TRUE, FALSE},
	        {QIND_STAGE_FILESTART, TRUE, FALSE}, {QIND_STAGE_DOWNLOADING, FALSE, FALSE},
	        {QIND_STAGE_FTPEND, FALSE, TRUE},    {QIND_STAGE_HTTPEND, FALSE, TRUE},
	        {QIND_STAGE_HTTPSEND, FALSE, TRUE},  {QIND_STAGE_FILEEND, FALSE, TRUE},
	        {QIND_STAGE_START, FALSE, FALSE},    {QIND_STAGE_UPDATING, FALSE, FALSE},
	        {QIND_STAGE_END, FALSE, FALSE},      {QIND_STAGE_RESTORE, FALSE, FALSE},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(classes); i++) {
		assert_int_equal(qind_stage_is_download_start(classes[i].kind), classes[i].start);
		assert_int_equal(qind_stage_is_download_end(classes[i].kind), classes[i].end);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),          cmocka_unit_test(test_null_line),
	        cmocka_unit_test(test_text_truncated), cmocka_unit_test(test_overlong),
	        cmocka_unit_test(test_stage_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
