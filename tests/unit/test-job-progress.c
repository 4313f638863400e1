/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "fota-dbus-error.h"
#include "job-progress.h"

#define NOW         1700000000000000
#define QIND(stage) "+QIND: \"FOTA\",\"" stage "\""

static JobRecord *
record_in(FotaState state, FotaSourceKind kind, guint mode)
{
	JobRecord *r = job_record_new();

	r->id = g_strdup("0123456789abcdef0123456789abcdef");
	r->source_kind = kind;
	r->source = g_strdup(kind == FOTA_SOURCE_FILE ? "file:1000" : "http://h/p.bin");
	r->options.upgrade_mode = mode;
	r->from_revision = g_strdup("R1");
	r->accepted = state != FOTA_STATE_PREPARING;
	r->state = state;
	return r;
}

static JobProgressChange
apply(JobRecord *r, const char *line)
{
	QindFota q;

	assert_int_equal(qind_fota_parse(line, &q), QIND_OK);
	return job_progress_apply(r, &q, NOW);
}

static void
assert_failed(const JobRecord *r, FotaDBusError code, gint modem_code, const char *prefix)
{
	assert_int_equal(r->state, FOTA_STATE_FAILED);
	assert_string_equal(r->error, fota_dbus_error_name(code));
	assert_int_equal(r->error_code, modem_code);
	assert_non_null(r->message);
	if (!g_str_has_prefix(r->message, prefix))
		fail_msg("message '%s' does not start with '%s'", r->message, prefix);
	assert_true(r->finished_us == NOW);
}

static void
test_percent_math(void **state)
{
	assert_int_equal(job_progress_percent(1, 50), 2);
	assert_int_equal(job_progress_percent(25, 50), 50);
	assert_int_equal(job_progress_percent(50, 50), 100);
	assert_int_equal(job_progress_percent(60, 50), 100); /* overshoot clamps */
	assert_int_equal(job_progress_percent(37, 0), 37);   /* max 0: already a percent */
	assert_int_equal(job_progress_percent(250, 0), 100);
	assert_int_equal(job_progress_percent(-3, 100), 0);
	assert_int_equal(job_progress_percent(G_MAXINT64, 100), 100);
}

static void
test_download_start_and_progress(void **state)
{
	g_autoptr(JobRecord) r = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_FILE, 1);
	JobProgressChange c;

	r->options.download_urc_max = 50;
	c = apply(r, QIND("FILESTART"));
	assert_int_equal(c, JOB_PROGRESS_RELEVANT | JOB_PROGRESS_DL_STARTED);
	assert_int_equal(r->state, FOTA_STATE_DOWNLOADING);
	c = apply(r, QIND("DOWNLOADING") ",10");
	assert_int_equal(c, JOB_PROGRESS_RELEVANT | JOB_PROGRESS_PERCENT);
	assert_int_equal(r->percent, 20);
	/* the same value again: relevant (resets the gap timer), no change */
	assert_int_equal(apply(r, QIND("DOWNLOADING") ",10"), JOB_PROGRESS_RELEVANT);
	apply(r, QIND("DOWNLOADING") ",50");
	assert_int_equal(r->percent, 100);
}

static void
test_mode1_full_success(void **state)
{
	g_autoptr(JobRecord) r = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_HTTP, 1);
	JobProgressChange c;

	apply(r, QIND("HTTPSTART"));
	apply(r, QIND("DOWNLOADING") ",100");
	c = apply(r, QIND("HTTPEND") ",0");
	assert_true(c & JOB_PROGRESS_DL_DONE);
	assert_false(c & JOB_PROGRESS_STATE); /* mode 1: START follows on this port */
	assert_true(r->download_done);
	assert_int_equal(r->state, FOTA_STATE_DOWNLOADING);

	c = apply(r, QIND("START"));
	assert_true(c & JOB_PROGRESS_STATE);
	assert_int_equal(r->state, FOTA_STATE_UPDATING);
	assert_int_equal(r->percent, 0);
	assert_true(r->state_since_us == NOW);

	apply(r, QIND("UPDATING") ",45");
	assert_int_equal(r->percent, 45);
	c = apply(r, QIND("END") ",0");
	assert_true(c & JOB_PROGRESS_END);
	assert_int_equal(r->end_code, 0);
	assert_int_equal(r->state, FOTA_STATE_REBOOTING);
	/* stragglers after the end change nothing */
	assert_int_equal(apply(r, QIND("UPDATING") ",99"), JOB_PROGRESS_NONE);
	assert_int_equal(r->state, FOTA_STATE_REBOOTING);
}

static void
test_mode0_end_reboots(void **state)
{
	g_autoptr(JobRecord) r = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_FTP, 0);
	JobProgressChange c;

	c = apply(r, QIND("FTPEND") ",0");
	assert_true(c & JOB_PROGRESS_DL_DONE);
	assert_true(c & JOB_PROGRESS_STATE);
	assert_int_equal(r->state, FOTA_STATE_REBOOTING);

	/* the returned port reports the update */
	c = apply(r, QIND("START"));
	assert_int_equal(r->state, FOTA_STATE_UPDATING);
	apply(r, QIND("UPDATING") ",30");
	assert_int_equal(r->percent, 30);
	apply(r, QIND("END") ",0");
	assert_int_equal(r->state, FOTA_STATE_REBOOTING);
	assert_int_equal(r->end_code, 0);
}

static void
test_update_urc_max_scales(void **state)
{
	g_autoptr(JobRecord) r = record_in(FOTA_STATE_UPDATING, FOTA_SOURCE_FILE, 1);

	r->download_done = TRUE;
	r->options.update_urc_max = 50;
	apply(r, QIND("UPDATING") ",25");
	assert_int_equal(r->percent, 50);
	r->options.update_urc_max = JOB_UNSET;
	apply(r, QIND("UPDATING") ",130");
	assert_int_equal(r->percent, 100);
}

static void
test_download_errors(void **state)
{
	struct {
		FotaSourceKind kind;
		const char *line;
		gint code;
		const char *prefix;
	} cases[] = {
	        {FOTA_SOURCE_HTTP, QIND("HTTPEND") ",714", 714,
	         "HTTP download failed: 714 (HTTP(S) DNS error)"},
	        {FOTA_SOURCE_HTTPS, QIND("HTTPSEND") ",702", 702, "HTTPS download failed: 702 ("},
	        {FOTA_SOURCE_FTP, QIND("FTPEND") ",625", 625, "FTP download failed: 625 ("},
	        {FOTA_SOURCE_FILE, QIND("FILEEND") ",500", 500, "File download failed: 500 ("},
	        {FOTA_SOURCE_HTTP, QIND("HTTPEND") ",999", 999, "HTTP download failed: 999 ("},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JobRecord) r = record_in(FOTA_STATE_DOWNLOADING, cases[i].kind, 1);
		JobProgressChange c = apply(r, cases[i].line);

		assert_true(c & JOB_PROGRESS_STATE);
		assert_false(r->download_done);
		assert_failed(r, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, cases[i].code, cases[i].prefix);
	}
}

static void
test_upgrade_error(void **state)
{
	g_autoptr(JobRecord) r = record_in(FOTA_STATE_UPDATING, FOTA_SOURCE_HTTP, 1);

	r->download_done = TRUE;
	r->percent = 40;
	apply(r, QIND("END") ",504");
	assert_failed(r, FOTA_DBUS_ERROR_UPGRADE_FAILED, 504, "upgrade failed: 504 (");
	assert_int_equal(r->end_code, 504);
	assert_int_equal(r->percent, 40); /* where it stopped */
}

static void
test_ignored(void **state)
{
	g_autoptr(JobRecord) prep = record_in(FOTA_STATE_PREPARING, FOTA_SOURCE_HTTP, 1);
	g_autoptr(JobRecord) done = record_in(FOTA_STATE_CANCELLED, FOTA_SOURCE_FILE, 1);
	g_autoptr(JobRecord) dl = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_HTTP, 1);
	g_autoptr(JobRecord) ver = record_in(FOTA_STATE_VERIFYING, FOTA_SOURCE_HTTP, 1);

	assert_int_equal(apply(prep, QIND("HTTPSTART")), JOB_PROGRESS_NONE);
	/* the modem drops a cancelled partial package after its own timeout */
	assert_int_equal(apply(done, QIND("FILEEND") ",500"), JOB_PROGRESS_NONE);
	assert_int_equal(done->state, FOTA_STATE_CANCELLED);
	assert_null(done->error);
	/* unknown stages */
	assert_int_equal(apply(dl, QIND("WHATEVER") ",1"), JOB_PROGRESS_NONE);
	assert_int_equal(apply(ver, QIND("END") ",504"), JOB_PROGRESS_NONE);
	assert_int_equal(ver->state, FOTA_STATE_VERIFYING);
}

static void
test_start_without_end(void **state)
{
	g_autoptr(JobRecord) r = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_HTTP, 1);
	JobProgressChange c = apply(r, QIND("START"));

	assert_true(c & JOB_PROGRESS_DL_DONE);
	assert_true(r->download_done);
	assert_int_equal(r->state, FOTA_STATE_UPDATING);
}

/* Field logs: UPDATING with no START, and a download cut by the network
 * reported under END with a code of the download tables and no *END. */
static void
test_update_stages_without_start(void **state)
{
	g_autoptr(JobRecord) up = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_HTTP, 1);
	g_autoptr(JobRecord) restore = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_HTTP, 1);
	g_autoptr(JobRecord) ok = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_HTTP, 1);

	assert_true(apply(up, QIND("UPDATING") ",10") & JOB_PROGRESS_DL_DONE);
	assert_int_equal(up->state, FOTA_STATE_UPDATING);
	assert_true(apply(restore, QIND("RESTORE") ",1%") & JOB_PROGRESS_DL_DONE);
	assert_int_equal(restore->state, FOTA_STATE_UPDATING);
	assert_true(apply(ok, QIND("END") ",0") & JOB_PROGRESS_END);
	assert_int_equal(ok->state, FOTA_STATE_REBOOTING);
	assert_int_equal(ok->end_code, 0);
}

static void
test_end_with_a_download_code(void **state)
{
	static const int codes[] = {701, 702, 608, 500};

	for (guint i = 0; i < G_N_ELEMENTS(codes); i++) {
		g_autoptr(JobRecord) r = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_HTTP, 1);
		g_autofree char *line = g_strdup_printf(QIND("END") ",%d", codes[i]);

		apply(r, line);
		assert_int_equal(r->state, FOTA_STATE_FAILED);
		assert_string_equal(r->error, "org.quectel.Fota1.Error.DownloadFailed");
		assert_int_equal(r->error_code, codes[i]);
		assert_false(r->download_done);
	}
}

static void
test_verify(void **state)
{
	g_autoptr(JobRecord) ok = record_in(FOTA_STATE_VERIFYING, FOTA_SOURCE_FILE, 1);
	g_autoptr(JobRecord) same = record_in(FOTA_STATE_VERIFYING, FOTA_SOURCE_FILE, 1);
	g_autoptr(JobRecord) wrong = record_in(FOTA_STATE_VERIFYING, FOTA_SOURCE_FILE, 1);
	g_autoptr(JobRecord) exp = record_in(FOTA_STATE_VERIFYING, FOTA_SOURCE_FILE, 0);

	job_progress_verify(ok, "R2", NOW);
	assert_int_equal(ok->state, FOTA_STATE_SUCCEEDED);
	assert_int_equal(ok->percent, 100);
	assert_string_equal(ok->to_revision, "R2");
	assert_null(ok->error);
	assert_true(ok->finished_us == NOW);

	job_progress_verify(same, "R1", NOW);
	assert_failed(same, FOTA_DBUS_ERROR_VERIFY_FAILED, JOB_UNSET,
	              "modem still reports R1 after the update (was R1)");

	wrong->options.expected_revision = g_strdup("R3");
	job_progress_verify(wrong, "R2", NOW);
	assert_failed(wrong, FOTA_DBUS_ERROR_VERIFY_FAILED, JOB_UNSET,
	              "modem reports R2, expected R3");

	exp->options.expected_revision = g_strdup("R3");
	assert_false(job_progress_revision_changed(exp, "R1"));
	assert_true(job_progress_revision_changed(exp, "R3"));
	assert_true(job_progress_revision_changed(exp, "R2"));
	job_progress_verify(exp, "R3", NOW);
	assert_int_equal(exp->state, FOTA_STATE_SUCCEEDED);
}

static void
test_set_state_and_cancel(void **state)
{
	g_autoptr(JobRecord) r = record_in(FOTA_STATE_DOWNLOADING, FOTA_SOURCE_FILE, 1);

	r->percent = 70;
	assert_false(job_progress_set_state(r, FOTA_STATE_DOWNLOADING, NOW));
	assert_int_equal(r->percent, 70);
	assert_true(job_progress_set_state(r, FOTA_STATE_UPDATING, NOW));
	assert_int_equal(r->percent, 0);
	assert_true(r->finished_us == 0);
	job_progress_cancel(r, "cancelled", NOW + 1);
	assert_int_equal(r->state, FOTA_STATE_CANCELLED);
	assert_null(r->error);
	assert_true(r->finished_us == NOW + 1);
	assert_string_equal(job_progress_source_label(FOTA_SOURCE_FILE), "File");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_percent_math),
	        cmocka_unit_test(test_download_start_and_progress),
	        cmocka_unit_test(test_mode1_full_success),
	        cmocka_unit_test(test_mode0_end_reboots),
	        cmocka_unit_test(test_update_urc_max_scales),
	        cmocka_unit_test(test_download_errors),
	        cmocka_unit_test(test_upgrade_error),
	        cmocka_unit_test(test_ignored),
	        cmocka_unit_test(test_start_without_end),
	        cmocka_unit_test(test_update_stages_without_start),
	        cmocka_unit_test(test_end_with_a_download_code),
	        cmocka_unit_test(test_verify),
	        cmocka_unit_test(test_set_state_and_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
