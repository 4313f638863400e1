/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "at-parse.h"

static const struct {
	const char *line;
	AtFinal final;
	int code;
} final_cases[] = {
        {"OK", AT_FINAL_OK, -1},
        {"ERROR", AT_FINAL_ERROR, -1},
        {"CONNECT", AT_FINAL_CONNECT, -1},
        {"CONNECT 115200", AT_FINAL_CONNECT, -1},
        {"NO CARRIER", AT_FINAL_ERROR, -1},
        {"+CME ERROR: 10", AT_FINAL_CME_ERROR, 10},
        {"+CME ERROR:10", AT_FINAL_CME_ERROR, 10},
        {"+CME ERROR:   3  ", AT_FINAL_CME_ERROR, 3},
        {"+CME ERROR: SIM not inserted", AT_FINAL_CME_ERROR, -1},
        {"+CME ERROR: 10 SIM", AT_FINAL_CME_ERROR, -1},
        {"+CME ERROR: 99999999999999", AT_FINAL_CME_ERROR, -1},
        {"+CME ERROR", AT_FINAL_CME_ERROR, -1},
        {"+CMS ERROR: 500", AT_FINAL_CMS_ERROR, 500},
        {"+CMS ERROR: unknown error", AT_FINAL_CMS_ERROR, -1},
        /* not final */
        {"OK ", AT_FINAL_NONE, -1}, /* the framer trims; a stray space means something else */
        {"O", AT_FINAL_NONE, -1},
        {"OKAY", AT_FINAL_NONE, -1},
        {"ERRO", AT_FINAL_NONE, -1},
        {"CONNECTED", AT_FINAL_NONE, -1},
        {"CONNECT abc", AT_FINAL_NONE, -1},
        {"+QIND: \"FOTA\",\"END\",0", AT_FINAL_NONE, -1},
        {"EC200TCNDAR02A07M16", AT_FINAL_NONE, -1},
        {"+CMEERROR: 1", AT_FINAL_NONE, -1},
        {"", AT_FINAL_NONE, -1},
};

static void
test_final(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(final_cases); i++) {
		int code = 12345;
		AtFinal final = at_parse_final(final_cases[i].line, &code);
		if (final != final_cases[i].final || code != final_cases[i].code)
			fail_msg("'%s': got final %d code %d, want %d %d", final_cases[i].line,
			         final, code, final_cases[i].final, final_cases[i].code);
	}
	assert_int_equal(at_parse_final("OK", NULL), AT_FINAL_OK);
}

static const struct {
	const char *line;
	gboolean urc;
} urc_cases[] = {
        {"+QIND: \"FOTA\",\"DOWNLOADING\",50", TRUE},
        {"+QIND: SMS DONE", TRUE},
        {"RDY", TRUE},
        {"+CPIN: READY", TRUE},
        {"+QUSIM: 1", TRUE},
        {"+CREG: 1", TRUE},
        {"+CGREG: 5", TRUE},
        {"+CEREG: 1,\"1A2B\",\"01C2D3E4\",7", TRUE},
        {"+QIURC: \"closed\",0", TRUE},
        {"POWERED DOWN", TRUE},
        {"+CFUN: 1", TRUE},
        {"+QSTAT: 1", TRUE},
        {"RING", TRUE},
        {"+CMTI: \"SM\",3", TRUE},
        {"OK", FALSE},
        {"+CSQ: 20,99", FALSE},
        {"+QFOTADL: <url>,(0,1),(0,5-100),(0,5-100)", FALSE},
        {"RDYX", FALSE},
        {"Revision: EC200TCNDAR02A07M16", FALSE},
        {"QIND: x", FALSE},
        {"", FALSE},
};

static void
test_is_urc(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(urc_cases); i++) {
		if (at_parse_is_urc(urc_cases[i].line) != urc_cases[i].urc)
			fail_msg("'%s': urc should be %d", urc_cases[i].line, urc_cases[i].urc);
	}
}

/* Lines of a response, '|'-separated; NULL result means an error of @code. */
static const struct {
	const char *lines;
	const char *revision;
	AtParseError code;
} revision_cases[] = {
        {"Quectel|EC200T|Revision: EC200TCNDAR02A07M16", "EC200TCNDAR02A07M16", 0},
        {"Quectel|EC200S|Revision:EC200SCNAAR01A11M16", "EC200SCNAAR01A11M16", 0},
        {"Quectel|EC200T|revision:   EC200TCNDAR02A07M16", "EC200TCNDAR02A07M16", 0},
        {"EC200TCNDAR02A07M16", "EC200TCNDAR02A07M16", 0},
        {"EC200TCNDAR02A07M16_01.001.01.001", "EC200TCNDAR02A07M16_01.001.01.001", 0},
        {"EG912YEUAAR03A01M08-beta.2", "EG912YEUAAR03A01M08-beta.2", 0},
        {"Quectel|EC200T|Revision: EC200T CNDAR02", NULL, AT_PARSE_ERROR_MALFORMED},
        {"Quectel|EC200T|Revision:", NULL, AT_PARSE_ERROR_MALFORMED},
        {"EC200T\"CN", NULL, AT_PARSE_ERROR_MALFORMED},
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL,
         AT_PARSE_ERROR_MALFORMED},                       /* 65 */
        {"Quectel|EC200T", NULL, AT_PARSE_ERROR_MISSING}, /* ATI cut short */
        {"", NULL, AT_PARSE_ERROR_MISSING},
};

static char **
split_lines(const char *lines)
{
	return lines[0] != '\0' ? g_strsplit(lines, "|", -1) : g_new0(char *, 1);
}

static void
test_revision(void **state)
{
	char max[FOTA_REVISION_MAX + 1];

	for (guint i = 0; i < G_N_ELEMENTS(revision_cases); i++) {
		g_auto(GStrv) lines = split_lines(revision_cases[i].lines);
		g_autoptr(GError) error = NULL;
		g_autofree char *rev = at_parse_revision((const char *const *)lines, &error);

		if (revision_cases[i].revision != NULL) {
			if (rev == NULL)
				fail_msg("'%s': %s", revision_cases[i].lines, error->message);
			assert_string_equal(rev, revision_cases[i].revision);
		} else {
			assert_null(rev);
			assert_true(g_error_matches(error, AT_PARSE_ERROR, revision_cases[i].code));
		}
	}
	memset(max, 'A', FOTA_REVISION_MAX);
	max[FOTA_REVISION_MAX] = '\0';
	assert_true(at_revision_is_valid(max));
	assert_false(at_revision_is_valid(""));
	assert_false(at_revision_is_valid(NULL));
	assert_false(at_revision_is_valid("a/b"));
}

static void
test_revision_error_names_value(void **state)
{
	const char *lines[] = {"Revision: bad value", NULL};
	g_autoptr(GError) error = NULL;

	assert_null(at_parse_revision(lines, &error));
	assert_non_null(strstr(error->message, "'bad value'"));
}

static const struct {
	const char *lines;
	const char *model;
} model_cases[] = {
        {"Quectel|EC200T|Revision: EC200TCNDAR02A07M16", "EC200T"},
        {"EC600S", "EC600S"},
        {"quectel|EG912Y|Revision: x", "EG912Y"},
        {"Quectel", NULL},
        {"Quectel|Revision: x", NULL},
        {"", NULL},
        {"EC 200", NULL},
};

static void
test_model(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(model_cases); i++) {
		g_auto(GStrv) lines = split_lines(model_cases[i].lines);
		g_autoptr(GError) error = NULL;
		g_autofree char *model = at_parse_model((const char *const *)lines, &error);

		assert_string_equal(model ? model : "(null)",
		                    model_cases[i].model ? model_cases[i].model : "(null)");
		assert_true(model != NULL || error != NULL);
	}
}

static void
test_upgrade_kind(void **state)
{
	static const struct {
		const char *model;
		FotaUpgradeKind kind;
	} cases[] = {
	        {"EC200T", FOTA_UPGRADE_KIND_FOTA},     {"EC200TCN", FOTA_UPGRADE_KIND_FOTA},
	        {"ec200t", FOTA_UPGRADE_KIND_FOTA},     {"EC200S", FOTA_UPGRADE_KIND_DFOTA},
	        {"EC600S-CN", FOTA_UPGRADE_KIND_DFOTA}, {"EG912Y", FOTA_UPGRADE_KIND_DFOTA},
	        {"EC200A", FOTA_UPGRADE_KIND_DFOTA},    {"EC200U", FOTA_UPGRADE_KIND_UNKNOWN},
	        {"EC25", FOTA_UPGRADE_KIND_UNKNOWN},    {"", FOTA_UPGRADE_KIND_UNKNOWN},
	        {NULL, FOTA_UPGRADE_KIND_UNKNOWN},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		assert_int_equal(at_parse_upgrade_kind(cases[i].model), cases[i].kind);
	assert_string_equal(fota_upgrade_kind_to_string(FOTA_UPGRADE_KIND_FOTA), "fota");
	assert_string_equal(fota_upgrade_kind_to_string(FOTA_UPGRADE_KIND_DFOTA), "dfota");
	assert_string_equal(fota_upgrade_kind_to_string(FOTA_UPGRADE_KIND_UNKNOWN), "unknown");
}

/* Ranges printed back as "0-1|0,5-100|0,5-100" (single values bare). */
static void
append_list(GString *s, const AtRangeList *list)
{
	for (guint i = 0; i < list->n; i++) {
		if (i > 0)
			g_string_append_c(s, ',');
		if (list->r[i].lo == list->r[i].hi)
			g_string_append_printf(s, "%u", list->r[i].lo);
		else
			g_string_append_printf(s, "%u-%u", list->r[i].lo, list->r[i].hi);
	}
}

static char *
ranges_to_string(const AtQfotadlRanges *r)
{
	GString *s = g_string_new(NULL);

	append_list(s, &r->upgrade_mode);
	g_string_append_c(s, '|');
	append_list(s, &r->download_urc_max);
	g_string_append_c(s, '|');
	append_list(s, &r->update_urc_max);
	return g_string_free(s, FALSE);
}

static const struct {
	const char *line;
	const char *ranges; /* NULL: malformed */
} range_cases[] = {
        {"+QFOTADL: <url>,(0,1),(0,5-100),(0,5-100)", "0,1|0,5-100|0,5-100"},
        {"+QFOTADL: <url>, (0,1), (0,5-100), (0,5-100)", "0,1|0,5-100|0,5-100"},
        {"+QFOTADL: <url>,( 0 , 1 ),( 0 , 5 - 100 ),(0,5-100)  ", "0,1|0,5-100|0,5-100"},
        {"+QFOTADL: <url>,(0,1),(0,5-100)", "0,1|0,5-100|"},
        {"+QFOTADL: <url>,(0-1),(0,5-100)", "0-1|0,5-100|"},
        {"+QFOTADL: \"<url>\",(0-2),(0,5-100),(0,5-100)", "0-2|0,5-100|0,5-100"},
        {"+QFOTADL: \"FILE:<length>\",(0,1),(0,5-100)", "0,1|0,5-100|"},
        {"+QFOTADL:<url>,(0,1),(0,5-100),(0,5-100),(0-9)", "0,1|0,5-100|0,5-100"},
        {"+QFOTADL: url,(0,1),(0,5-100)", "0,1|0,5-100|"},
        {"+QFOTADL: <url>,(0,1)", NULL},
        {"+QFOTADL: <url>", NULL},
        {"+QFOTADL: <url>,(0,1),(0,5-100", NULL},
        {"+QFOTADL: <url>,(0,1),(100-5)", NULL},
        {"+QFOTADL: <url>,(0,1),(a,b)", NULL},
        {"+QFOTADL: <url>,(0,1),0,5-100", NULL},
        {"+QFOTADL: <url>,(0,1),(0,1,2,3,4,5,6,7,8)", NULL}, /* over AT_RANGE_LIST_MAX */
        {"+QFOTADL: <url>,(0,1),(99999999999)", NULL},
        {"+QFOTADL: \"<url>,(0,1),(0,5-100)", NULL},
        {"+QFOTA: <url>,(0,1),(0,5-100)", NULL},
        {"", NULL},
};

static void
test_qfotadl_ranges(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(range_cases); i++) {
		AtQfotadlRanges r;
		g_autoptr(GError) error = NULL;
		gboolean ok = at_parse_qfotadl_ranges(range_cases[i].line, &r, &error);

		if (range_cases[i].ranges == NULL) {
			if (ok)
				fail_msg("'%s' should not parse", range_cases[i].line);
			assert_true(
			        g_error_matches(error, AT_PARSE_ERROR, AT_PARSE_ERROR_MALFORMED));
		} else {
			g_autofree char *got = NULL;
			if (!ok)
				fail_msg("'%s': %s", range_cases[i].line, error->message);
			got = ranges_to_string(&r);
			assert_string_equal(got, range_cases[i].ranges);
		}
	}
}

static void
test_range_contains(void **state)
{
	AtQfotadlRanges r;

	assert_true(at_parse_qfotadl_ranges("+QFOTADL: <url>,(0,1),(0,5-100)", &r, NULL));
	assert_true(at_range_list_contains(&r.download_urc_max, 0));
	assert_true(at_range_list_contains(&r.download_urc_max, 5));
	assert_true(at_range_list_contains(&r.download_urc_max, 100));
	assert_false(at_range_list_contains(&r.download_urc_max, 3));
	assert_false(at_range_list_contains(&r.download_urc_max, 101));
	assert_false(at_range_list_contains(&r.update_urc_max, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_final),
	        cmocka_unit_test(test_is_urc),
	        cmocka_unit_test(test_revision),
	        cmocka_unit_test(test_revision_error_names_value),
	        cmocka_unit_test(test_model),
	        cmocka_unit_test(test_upgrade_kind),
	        cmocka_unit_test(test_qfotadl_ranges),
	        cmocka_unit_test(test_range_contains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
