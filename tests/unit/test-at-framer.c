/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "at-framer.h"

/* Collects delivered lines, joined with '|' so a whole feed compares as one
 * string. */
static void
collect(const char *line, gsize len, gpointer user_data)
{
	GString *out = user_data;

	assert_int_equal(strlen(line), len);
	assert_true(len > 0);
	g_string_append_len(out, line, (gssize)len);
	g_string_append_c(out, '|');
}

static char *
feed_split(const guint8 *data, gsize len, GRand *rand, gsize max_piece, guint64 *dropped)
{
	AtFramer framer;
	GString *out = g_string_new(NULL);
	gsize off = 0;

	at_framer_init(&framer);
	while (off < len) {
		gsize piece = MIN(len - off, max_piece);
		if (rand != NULL)
			piece = (gsize)g_rand_int_range(rand, 1, (gint32)piece + 1);
		at_framer_feed(&framer, data + off, piece, collect, out);
		off += piece;
	}
	if (dropped != NULL)
		*dropped = framer.dropped;
	return g_string_free(out, FALSE);
}

static char *
feed_once(const char *data, gsize len)
{
	return feed_split((const guint8 *)data, len, NULL, len, NULL);
}

static const struct {
	const char *input;
	gsize len; /* 0: strlen */
	const char *lines;
} framing_cases[] = {
        {"\r\nOK\r\n", 0, "OK|"},
        {"OK\n", 0, "OK|"},
        {"OK\r", 0, "OK|"},
        {"\r\n\r\n\r\nOK\r\n\r\n", 0, "OK|"},
        {"ATI\r\r\nQuectel\r\nEC200T\r\nRevision: EC200TCNDAR02A07M16\r\n\r\nOK\r\n", 0,
         "ATI|Quectel|EC200T|Revision: EC200TCNDAR02A07M16|OK|"},
        {"  +QIND: \"FOTA\",\"FILESTART\"  \r\n", 0, "+QIND: \"FOTA\",\"FILESTART\"|"},
        {"\0\0O\0K\0\r\n", 9, "OK|"},
        {"\x01\x02\x1b\x7fRDY\r\n", 0, "RDY|"},
        {"\tOK\t\r\n", 0, "OK|"},
        {"no terminator yet", 0, ""},
        /* line noise: invalid UTF-8 goes, a line of nothing but noise too */
        {"\xff\xfeOK\x9f\r\n", 0, "OK|"},
        {"\xc3\r\n\x80\x9f\r\n--- \r\nOK\r\n", 0, "OK|"},
        {"\xff RDY\r\n", 0, "RDY|"},
        {"\xc3\xa9t\xc3\xa9\r\n", 0, "\xc3\xa9t\xc3\xa9|"},
        {"\xe2\x80OK\r\n", 0, "OK|"},
        {"A\rB\nC\r\nD\n\rE", 0, "A|B|C|D|"},
        {"\xe2\x80\x9c"
         "FOTA\xe2\x80\x9d\r\n",
         0,
         "\xe2\x80\x9c"
         "FOTA\xe2\x80\x9d|"},
};

static void
test_framing_table(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(framing_cases); i++) {
		gsize len = framing_cases[i].len ? framing_cases[i].len
		                                 : strlen(framing_cases[i].input);
		g_autofree char *got = feed_once(framing_cases[i].input, len);
		assert_string_equal(got, framing_cases[i].lines);
	}
}

/* A realistic session with garbage, NULs and every terminator style. */
static GByteArray *
make_session(void)
{
	static const char text[] = "\xff\xfe\x00garbage\r\n"
	                           "AT+QGMR\r\r\nEC200TCNDAR02A07M16_01.001.01.001\r\n\r\nOK\r\n"
	                           "+QIND: \"FOTA\",\"DOWNLOADING\",12\n"
	                           "\r\n+CME ERROR: 10\r\n"
	                           "RDY\r+CPIN: READY\r\n+QUSIM: 1\n\r";
	GByteArray *a = g_byte_array_new();

	for (guint rep = 0; rep < 50; rep++)
		g_byte_array_append(a, (const guint8 *)text, sizeof(text) - 1);
	return a;
}

static void
test_splits_match_one_shot(void **state)
{
	g_autoptr(GByteArray) session = make_session();
	g_autoptr(GRand) rand = g_rand_new_with_seed(1234);
	g_autofree char *once = feed_split(session->data, session->len, NULL, session->len, NULL);
	g_autofree char *bytewise = feed_split(session->data, session->len, NULL, 1, NULL);

	assert_true(strstr(once, "|EC200TCNDAR02A07M16_01.001.01.001|OK|") != NULL);
	assert_true(strstr(once, "|RDY|+CPIN: READY|+QUSIM: 1|") != NULL);
	assert_string_equal(once, bytewise);
	for (guint round = 0; round < 200; round++) {
		g_autofree char *split = feed_split(session->data, session->len, rand, 64, NULL);
		assert_string_equal(once, split);
	}
}

static void
test_overlong_dropped_and_counted(void **state)
{
	g_autoptr(GString) in = g_string_new("OK\r\n");
	g_autoptr(GRand) rand = g_rand_new_with_seed(99);
	g_autofree char *once = NULL;
	guint64 dropped = 0;

	/* Exactly the limit passes; one byte more is dropped whole. */
	for (guint i = 0; i < AT_FRAMER_MAX_LINE; i++)
		g_string_append_c(in, 'a');
	g_string_append(in, "\r\n");
	for (guint i = 0; i < 3 * AT_FRAMER_MAX_LINE + 1; i++)
		g_string_append_c(in, 'b');
	g_string_append(in, "\r\n+QIND: \"FOTA\",\"END\",0\r\n");
	for (guint i = 0; i < AT_FRAMER_MAX_LINE + 1; i++)
		g_string_append_c(in, 'c');
	g_string_append(in, "\nERROR\n");

	once = feed_split((const guint8 *)in->str, in->len, NULL, in->len, &dropped);
	assert_int_equal(dropped, 2);
	assert_true(g_str_has_prefix(once, "OK|aaaa"));
	assert_true(g_str_has_suffix(once, "a|+QIND: \"FOTA\",\"END\",0|ERROR|"));
	assert_null(strchr(once, 'b'));
	assert_null(strchr(once, 'c'));
	for (guint round = 0; round < 20; round++) {
		g_autofree char *split =
		        feed_split((const guint8 *)in->str, in->len, rand, 1000, &dropped);
		assert_string_equal(once, split);
		assert_int_equal(dropped, 2);
	}
}

static void
record_reset(const char *line, gsize len, gpointer user_data)
{
	AtFramer *framer = user_data;

	/* A callback may reset the framer (the channel does on hang-up). */
	at_framer_reset(framer);
	assert_string_equal(line, "A");
}

static void
test_reset_discards_partial(void **state)
{
	AtFramer framer;
	g_autoptr(GString) out = g_string_new(NULL);

	at_framer_init(&framer);
	at_framer_feed(&framer, (const guint8 *)"partial", 7, collect, out);
	at_framer_reset(&framer);
	at_framer_feed(&framer, (const guint8 *)"OK\r\n", 4, collect, out);
	assert_string_equal(out->str, "OK|");
	at_framer_feed(&framer, (const guint8 *)"A\r", 2, record_reset, &framer);
	assert_int_equal(framer.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_framing_table),
	        cmocka_unit_test(test_splits_match_one_shot),
	        cmocka_unit_test(test_overlong_dropped_and_counted),
	        cmocka_unit_test(test_reset_discards_partial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
