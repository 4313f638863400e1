/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fotactl-json.h"
#include "fotactl-output.h"

/* @in as a JSON string literal, as fotactl writes it in an object. */
static char *
escape(const char *in)
{
	FotactlJsonObject obj;
	g_autofree char *line = NULL;

	fotactl_json_object_init(&obj, NULL);
	fotactl_json_object_add_string(&obj, "s", in);
	line = fotactl_json_object_end(&obj);
	assert_true(g_str_has_prefix(line, "{\"s\":"));
	assert_true(g_str_has_suffix(line, "}"));
	return g_strndup(line + strlen("{\"s\":"), strlen(line) - strlen("{\"s\":}"));
}

static void
assert_escape(const char *in, const char *expected)
{
	g_autofree char *got = escape(in);

	assert_string_equal(got, expected);
	/* Whatever goes in, the output is valid UTF-8. */
	assert_true(g_utf8_validate(got, -1, NULL));
}

static void
test_escape_plain(void **state)
{
	assert_escape("", "\"\"");
	assert_escape(NULL, "\"\"");
	assert_escape("downloading", "\"downloading\"");
	assert_escape("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
}

static void
test_escape_controls(void **state)
{
	assert_escape("l1\nl2\r\t\b\f", "\"l1\\nl2\\r\\t\\b\\f\"");
	assert_escape("\x01\x1f\x7f\x1b[31m", "\"\\u0001\\u001f\\u007f\\u001b[31m\"");
	assert_escape("\xe2\x80\xa8|\xe2\x80\xa9", "\"\\u2028|\\u2029\"");
}

static void
test_escape_utf8(void **state)
{
	/* Valid multi-byte text passes through untouched. */
	assert_escape("A06M16 \xe2\x86\x92 A07M16 \xf0\x9f\x93\xb6", "\"A06M16 \xe2\x86\x92 A07M16 "
	                                                             "\xf0\x9f\x93\xb6\"");
	/* Stray continuation byte, truncated sequence, overlong '/', a
	 * surrogate: each bad byte becomes U+FFFD. */
	assert_escape("a\x80z", "\"a\xef\xbf\xbdz\"");
	assert_escape("a\xe2\x86", "\"a\xef\xbf\xbd\xef\xbf\xbd\"");
	assert_escape("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	assert_escape("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void
test_object(void **state)
{
	FotactlJsonObject obj;
	g_autofree char *line = NULL;
	g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
	g_autoptr(GVariant) dict = NULL;
	const char *strv[] = {"State", NULL};

	g_variant_builder_add(&b, "{sv}", "state", g_variant_new_string("failed"));
	g_variant_builder_add(&b, "{sv}", "percent", g_variant_new_uint32(40));
	g_variant_builder_add(&b, "{sv}", "error-code", g_variant_new_int32(-5));
	g_variant_builder_add(&b, "{sv}", "started", g_variant_new_int64(1700000000000000));
	g_variant_builder_add(&b, "{sv}", "flag", g_variant_new_boolean(TRUE));
	g_variant_builder_add(&b, "{sv}", "list", g_variant_new_strv(strv, -1));
	g_variant_builder_add(&b, "{sv}", "nested",
	                      g_variant_new_variant(g_variant_new_string("x")));
	dict = g_variant_ref_sink(g_variant_builder_end(&b));

	fotactl_json_object_init(&obj, "job");
	fotactl_json_object_add_members(&obj, dict);
	line = fotactl_json_object_end(&obj);
	/* Keys sorted: the output is stable whatever order the daemon uses. */
	assert_string_equal(line, "{\"event\":\"job\",\"error-code\":-5,\"flag\":true,"
	                          "\"list\":[\"State\"],\"nested\":\"x\",\"percent\":40,"
	                          "\"started\":1700000000000000,\"state\":\"failed\"}");
}

/* What JSON-GLib 1.6 would get wrong on its own: doubles ("40.0",
 * "1e-300.0"), integers past gint64, a repeated key (it keeps the last),
 * the escaping of keys. */
static void
test_values(void **state)
{
	FotactlJsonObject obj;
	g_autofree char *line = NULL;
	g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
	g_autoptr(GVariant) dict = NULL;

	g_variant_builder_add(&b, "{sv}", "d-int", g_variant_new_double(40.0));
	g_variant_builder_add(&b, "{sv}", "d-frac", g_variant_new_double(-2.25));
	g_variant_builder_add(&b, "{sv}", "d-nan", g_variant_new_double(NAN));
	g_variant_builder_add(&b, "{sv}", "d-tiny", g_variant_new_double(1e-300));
	g_variant_builder_add(&b, "{sv}", "u-max", g_variant_new_uint64(G_MAXUINT64));
	g_variant_builder_add(&b, "{sv}", "dup", g_variant_new_string("first"));
	g_variant_builder_add(&b, "{sv}", "tuple", g_variant_new("(si)", "a", 1));
	g_variant_builder_add(&b, "{sv}", "dup", g_variant_new_string("second"));
	g_variant_builder_add(&b, "{sv}", "k\x1f\n", g_variant_new_byte(7));
	g_variant_builder_add(&b, "{sv}", "inner",
	                      g_variant_new_parsed("{'z': <1>, 'a': <@a{sv} {}>}"));
	dict = g_variant_ref_sink(g_variant_builder_end(&b));

	fotactl_json_object_init(&obj, NULL);
	fotactl_json_object_add_members(&obj, dict);
	line = fotactl_json_object_end(&obj);
	assert_string_equal(line, "{\"d-frac\":-2.25,\"d-int\":40,\"d-nan\":null,"
	                          "\"d-tiny\":null,\"dup\":\"first\",\"inner\":{\"a\":{},\"z\":1},"
	                          "\"k\\u001f\\n\":7,\"tuple\":\"('a', 1)\","
	                          "\"u-max\":1.8446744073709552e+19}");
}

static void
test_empty_object(void **state)
{
	FotactlJsonObject obj;
	g_autofree char *line = NULL;
	g_autoptr(GVariant) dict =
	        g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));

	fotactl_json_object_init(&obj, NULL);
	fotactl_json_object_add_variant(&obj, "job", dict);
	fotactl_json_object_add_bool(&obj, "running", FALSE);
	line = fotactl_json_object_end(&obj);
	assert_string_equal(line, "{\"job\":{},\"running\":false}");
}

static void
test_duration(void **state)
{
	const struct {
		gint64 s;
		const char *text;
	} cases[] = {{-3, "0s"},     {0, "0s"},          {59, "59s"},       {60, "1m00s"},
	             {192, "3m12s"}, {3600, "1h00m00s"}, {3725, "1h02m05s"}};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = fotactl_format_duration(cases[i].s);

		assert_string_equal(got, cases[i].text);
	}
}

static void
test_sanitize(void **state)
{
	g_autofree char *a = fotactl_sanitize("ok \x1b[2J\r\n\xc2\x9b end \xff");
	g_autofree char *b = fotactl_sanitize(NULL);
	g_autofree char *c = fotactl_sanitize("\xe2\x86\x92 ok");

	assert_string_equal(a, "ok ?[2J??? end \xef\xbf\xbd");
	assert_string_equal(b, "");
	assert_string_equal(c, "\xe2\x86\x92 ok");
}

static void
test_source_size(void **state)
{
	assert_int_equal(fotactl_source_file_size("file:4884688"), 4884688);
	assert_int_equal(fotactl_source_file_size("file:"), 0);
	assert_int_equal(fotactl_source_file_size("file:12x"), 0);
	assert_int_equal(fotactl_source_file_size("http://h/file:12"), 0);
	assert_int_equal(fotactl_source_file_size(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escape_plain), cmocka_unit_test(test_escape_controls),
	        cmocka_unit_test(test_escape_utf8),  cmocka_unit_test(test_object),
	        cmocka_unit_test(test_values),       cmocka_unit_test(test_empty_object),
	        cmocka_unit_test(test_duration),     cmocka_unit_test(test_sanitize),
	        cmocka_unit_test(test_source_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
