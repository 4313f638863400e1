/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "job-options.h"

#define SHA       "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF"
#define SHA_LOWER "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Each case: options in GVariant text format, the source and modem kind,
 * and either the error (code + exact message) or nothing. */
typedef struct {
	const char *options;
	FotaSourceKind source;
	FotaUpgradeKind kind;
	gboolean ok;
	JobOptionsError code;
	const char *message;
} OptionsCase;

#define GOOD(o, s, k)                                                                              \
	{                                                                                          \
		o, s, k, TRUE, 0, NULL                                                             \
	}
#define BAD(o, s, k, c, m)                                                                         \
	{                                                                                          \
		o, s, k, FALSE, c, m                                                               \
	}

#define HTTP    FOTA_SOURCE_HTTP
#define FTP     FOTA_SOURCE_FTP
#define HTTPS   FOTA_SOURCE_HTTPS
#define FILE_   FOTA_SOURCE_FILE
#define FOTA    FOTA_UPGRADE_KIND_FOTA
#define DFOTA   FOTA_UPGRADE_KIND_DFOTA
#define UNKNOWN FOTA_UPGRADE_KIND_UNKNOWN

static const OptionsCase cases[] = {
        GOOD("@a{sv} {}", HTTP, DFOTA),
        GOOD("{'upgrade-mode': <@u 0>}", HTTP, DFOTA),
        GOOD("{'upgrade-mode': <@u 1>}", FILE_, FOTA),
        GOOD("{'download-urc-max': <@u 0>}", HTTP, DFOTA),
        GOOD("{'download-urc-max': <@u 5>}", HTTP, DFOTA),
        GOOD("{'download-urc-max': <@u 100>}", HTTP, DFOTA),
        GOOD("{'update-urc-max': <@u 0>}", HTTP, FOTA),
        GOOD("{'update-urc-max': <@u 50>}", FILE_, FOTA),
        GOOD("{'expected-revision': <'EC200TCNTCNMAR02A02M16'>}", FILE_, FOTA),
        GOOD("{'expected-revision': <'EC200SCNAAR01A11M16_OCPU-1.0'>}", FTP, DFOTA),
        GOOD("{'sha256': <'" SHA "'>}", FILE_, DFOTA),
        GOOD("{'cid': <@u 1>}", FTP, DFOTA),
        GOOD("{'cid': <@u 16>, 'apn': <'cmnet'>}", HTTPS, UNKNOWN),
        GOOD("{'cid': <@u 2>, 'apn': <'internet.example-operator.com'>}", HTTP, FOTA),
        /* Unknown keys and wrong types. */
        BAD("{'upgrade_mode': <@u 1>}", HTTP, FOTA, JOB_OPTIONS_ERROR_UNKNOWN_KEY,
            "unknown option 'upgrade_mode'"),
        BAD("{'': <@u 1>}", HTTP, FOTA, JOB_OPTIONS_ERROR_UNKNOWN_KEY, "unknown option ''"),
        BAD("{'a\\nb\\u00e9': <@u 1>}", HTTP, FOTA, JOB_OPTIONS_ERROR_UNKNOWN_KEY,
            "unknown option 'a\\nb\\303\\251'"),
        BAD("{'upgrade-mode': <1>}", HTTP, FOTA, JOB_OPTIONS_ERROR_TYPE,
            "option 'upgrade-mode' must be of type 'u', got 'i'"),
        BAD("{'download-urc-max': <'50'>}", HTTP, FOTA, JOB_OPTIONS_ERROR_TYPE,
            "option 'download-urc-max' must be of type 'u', got 's'"),
        BAD("{'update-urc-max': <@q 50>}", HTTP, FOTA, JOB_OPTIONS_ERROR_TYPE,
            "option 'update-urc-max' must be of type 'u', got 'q'"),
        BAD("{'cid': <@t 1>}", HTTP, FOTA, JOB_OPTIONS_ERROR_TYPE,
            "option 'cid' must be of type 'u', got 't'"),
        BAD("{'expected-revision': <@u 5>}", HTTP, FOTA, JOB_OPTIONS_ERROR_TYPE,
            "option 'expected-revision' must be of type 's', got 'u'"),
        BAD("{'sha256': <@ay []>}", FILE_, FOTA, JOB_OPTIONS_ERROR_TYPE,
            "option 'sha256' must be of type 's', got 'ay'"),
        BAD("{'apn': <<'cmnet'>>}", HTTP, FOTA, JOB_OPTIONS_ERROR_TYPE,
            "option 'apn' must be of type 's', got 'v'"),
        BAD("{'apn': <@o '/cmnet'>}", HTTP, FOTA, JOB_OPTIONS_ERROR_TYPE,
            "option 'apn' must be of type 's', got 'o'"),
        /* Ranges. */
        BAD("{'upgrade-mode': <@u 2>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'upgrade-mode' must be 0 or 1, got 2"),
        BAD("{'download-urc-max': <@u 3>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'download-urc-max' must be 0 or 5..100, got 3"),
        BAD("{'download-urc-max': <@u 101>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'download-urc-max' must be 0 or 5..100, got 101"),
        BAD("{'download-urc-max': <@u 4294967295>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'download-urc-max' must be 0 or 5..100, got 4294967295"),
        BAD("{'update-urc-max': <@u 4>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'update-urc-max' must be 0 or 5..100, got 4"),
        BAD("{'cid': <@u 0>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'cid' must be 1..16, got 0"),
        BAD("{'cid': <@u 17>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'cid' must be 1..16, got 17"),
        BAD("{'expected-revision': <''>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'expected-revision' must be 1..64 bytes, got 0"),
        BAD("{'expected-revision': <'"
            "0123456789012345678901234567890123456789012345678901234567890123x'>}",
            HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'expected-revision' must be 1..64 bytes, got 65"),
        BAD("{'expected-revision': <'EC200T/../x'>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'expected-revision' contains byte \\x2f at offset 6, allowed are letters, "
            "digits, '_', '.' and '-'"),
        BAD("{'expected-revision': <'R\\u00e9v'>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'expected-revision' contains byte \\xc3 at offset 1, allowed are letters, "
            "digits, '_', '.' and '-'"),
        BAD("{'sha256': <'" SHA "0'>}", FILE_, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'sha256' must be 64 bytes, got 65"),
        BAD("{'sha256': <'abc'>}", FILE_, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'sha256' must be 64 bytes, got 3"),
        BAD("{'sha256': <'g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'>}",
            FILE_, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'sha256' contains byte \\x67 at offset 0, allowed are hex digits"),
        BAD("{'cid': <@u 1>, 'apn': <''>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'apn' must be 1..62 bytes, got 0"),
        BAD("{'cid': <@u 1>, 'apn': <'"
            "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc'>}",
            HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE, "option 'apn' must be 1..62 bytes, got 63"),
        BAD("{'cid': <@u 1>, 'apn': <'cm\"net'>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'apn' contains byte \\x22 at offset 2, allowed are printable ASCII except "
            "'\"'"),
        BAD("{'cid': <@u 1>, 'apn': <'cm\\rnet'>}", HTTP, FOTA, JOB_OPTIONS_ERROR_RANGE,
            "option 'apn' contains byte \\x0d at offset 2, allowed are printable ASCII except "
            "'\"'"),
        /* Where options apply. */
        BAD("{'update-urc-max': <@u 50>}", HTTP, DFOTA, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
            "option 'update-urc-max' is only supported on EC200T (FOTA) modems"),
        BAD("{'update-urc-max': <@u 0>}", FILE_, UNKNOWN, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
            "option 'update-urc-max' is only supported on EC200T (FOTA) modems"),
        BAD("{'sha256': <'" SHA "'>}", HTTP, FOTA, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
            "option 'sha256' is only supported for file sources"),
        BAD("{'sha256': <'" SHA "'>}", FTP, FOTA, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
            "option 'sha256' is only supported for file sources"),
        BAD("{'cid': <@u 1>}", FILE_, FOTA, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
            "option 'cid' is only supported for network (ftp, http, https) sources"),
        BAD("{'apn': <'cmnet'>}", FILE_, FOTA, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
            "option 'apn' is only supported for network (ftp, http, https) sources"),
        /* Combinations. */
        BAD("{'apn': <'cmnet'>}", HTTP, FOTA, JOB_OPTIONS_ERROR_CONFLICT,
            "option 'apn' requires option 'cid' (the PDP context to configure)"),
        BAD("[{'cid', <@u 1>}, {'cid', <@u 2>}]", HTTP, FOTA, JOB_OPTIONS_ERROR_CONFLICT,
            "option 'cid' is given twice"),
        BAD("[{'cid', <@u 1>}, {'cid', <@u 99>}]", HTTP, FOTA, JOB_OPTIONS_ERROR_CONFLICT,
            "option 'cid' is given twice"),
};

static GVariant *
parse_options(const char *text)
{
	g_autoptr(GError) error = NULL;
	GVariant *v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

	if (v == NULL)
		fail_msg("bad test data '%s': %s", text, error->message);
	return g_variant_ref_sink(v);
}

static void
test_matrix(void **state)
{
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const OptionsCase *c = &cases[i];
		g_autoptr(GVariant) asv = parse_options(c->options);
		g_autoptr(GError) error = NULL;
		JobOptions out = {0};
		gboolean ok = job_options_parse(asv, c->source, c->kind, &out, &error);

		if (ok != c->ok)
			fail_msg("case %" G_GSIZE_FORMAT " %s: expected %s, got %s", i, c->options,
			         c->ok ? "success" : "failure", error ? error->message : "success");
		if (!ok) {
			if (!g_error_matches(error, JOB_OPTIONS_ERROR, c->code) ||
			    strcmp(error->message, c->message) != 0)
				fail_msg("case %" G_GSIZE_FORMAT
				         " %s:\n  expected %d '%s'\n  got      "
				         "%d '%s'",
				         i, c->options, c->code, c->message, error->code,
				         error->message);
			/* Failure leaves the defaults, nothing allocated. */
			assert_null(out.expected_revision);
			assert_null(out.sha256);
			assert_null(out.apn);
			assert_int_equal(out.cid, JOB_UNSET);
			assert_int_equal(out.upgrade_mode, 1);
		}
		job_options_clear(&out);
	}
}

static void
test_defaults(void **state)
{
	JobOptions out = {0};

	assert_true(job_options_parse(NULL, FOTA_SOURCE_HTTP, FOTA_UPGRADE_KIND_FOTA, &out, NULL));
	assert_int_equal(out.upgrade_mode, 1);
	assert_int_equal(out.download_urc_max, 100);
	assert_int_equal(out.update_urc_max, JOB_UNSET);
	assert_int_equal(out.cid, JOB_UNSET);
	assert_null(out.expected_revision);
	assert_null(out.sha256);
	assert_null(out.apn);
}

static void
test_values_stored(void **state)
{
	g_autoptr(GVariant) net = parse_options(
	        "{'upgrade-mode': <@u 0>, 'download-urc-max': <@u 50>, 'update-urc-max': <@u 0>,"
	        " 'expected-revision': <'EC200TCNTCNMAR02A02M16'>, 'cid': <@u 2>,"
	        " 'apn': <'cmnet'>}");
	g_autoptr(GVariant) file = parse_options("{'sha256': <'" SHA "'>}");
	JobOptions out = {0};

	assert_true(job_options_parse(net, FOTA_SOURCE_FTP, FOTA_UPGRADE_KIND_FOTA, &out, NULL));
	assert_int_equal(out.upgrade_mode, 0);
	assert_int_equal(out.download_urc_max, 50);
	assert_int_equal(out.update_urc_max, 0);
	assert_string_equal(out.expected_revision, "EC200TCNTCNMAR02A02M16");
	assert_int_equal(out.cid, 2);
	assert_string_equal(out.apn, "cmnet");
	assert_null(out.sha256);
	job_options_clear(&out);

	assert_true(job_options_parse(file, FOTA_SOURCE_FILE, FOTA_UPGRADE_KIND_DFOTA, &out, NULL));
	assert_string_equal(out.sha256, SHA_LOWER);
	assert_int_equal(out.update_urc_max, JOB_UNSET);
	job_options_clear(&out);
}

/* A failure after a string was stored must free it (checked under ASan
 * and valgrind) and still leave the defaults. */
static void
test_failure_after_strings(void **state)
{
	g_autoptr(GVariant) asv =
	        parse_options("[{'expected-revision', <'R1'>}, {'cid', <@u 1>}, {'apn', <'cmnet'>},"
	                      " {'cid', <@u 2>}]");
	g_autoptr(GError) error = NULL;
	JobOptions out = {0};

	assert_false(
	        job_options_parse(asv, FOTA_SOURCE_HTTP, FOTA_UPGRADE_KIND_FOTA, &out, &error));
	assert_true(g_error_matches(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_CONFLICT));
	assert_null(out.expected_revision);
	assert_null(out.apn);
	assert_int_equal(out.cid, JOB_UNSET);
}

static void
test_quark(void **state)
{
	assert_string_equal(g_quark_to_string(JOB_OPTIONS_ERROR),
	                    "quectel-fotad-job-options-error-quark");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_matrix),        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_values_stored), cmocka_unit_test(test_failure_after_strings),
	        cmocka_unit_test(test_quark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
