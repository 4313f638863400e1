/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* job-record: the names of states and sources (the D-Bus contract's words)
 * both ways, which states are final, a new record's defaults, a deep copy
 * that shares nothing with its original, and the boot-time clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "job-record.h"

/* The State property's values (org.quectel.Fota1(7)), in enum order. */
static const char *const state_names[] = {
        "idle",      "preparing", "downloading", "rebooting", "updating",
        "verifying", "succeeded", "failed",      "cancelled",
};

static guint criticals;

static void
count_criticals(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
	if (level & G_LOG_LEVEL_CRITICAL)
		criticals++;
	else
		g_log_default_handler(domain, level, message, data);
}

static void
test_state_names(void **state)
{
	(void)state;
	for (guint i = 0; i < G_N_ELEMENTS(state_names); i++) {
		FotaState parsed = FOTA_STATE_CANCELLED + 1;

		assert_string_equal(fota_state_to_string((FotaState)i), state_names[i]);
		assert_true(fota_state_from_string(state_names[i], &parsed));
		assert_int_equal(parsed, i);
	}
	assert_int_equal(FOTA_STATE_CANCELLED + 1, G_N_ELEMENTS(state_names));
}

static void
test_unknown_state_names(void **state)
{
	static const char *const bad[] = {"",         "IDLE",    "Idle",   "idle ",      " idle",
	                                  "exploded", "unknown", "cancel", "succeeded\n"};
	FotaState parsed = FOTA_STATE_UPDATING;

	(void)state;
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		assert_false(fota_state_from_string(bad[i], &parsed));
		assert_int_equal(parsed, FOTA_STATE_UPDATING); /* untouched */
	}
	assert_false(fota_state_from_string(NULL, &parsed));
	assert_int_equal(parsed, FOTA_STATE_UPDATING);
}

/* A value outside the enum is a programming error: "unknown" and a critical. */
static void
test_state_out_of_range(void **state)
{
	(void)state;
	criticals = 0;
	g_log_set_default_handler(count_criticals, NULL);
	assert_string_equal(fota_state_to_string((FotaState)(FOTA_STATE_CANCELLED + 1)), "unknown");
	assert_string_equal(fota_source_kind_to_string((FotaSourceKind)(FOTA_SOURCE_FILE + 1)),
	                    "unknown");
	g_log_set_default_handler(g_log_default_handler, NULL);
	assert_int_equal(criticals, 2);
}

static void
test_final_states(void **state)
{
	(void)state;
	for (guint i = 0; i < G_N_ELEMENTS(state_names); i++) {
		gboolean final = i == FOTA_STATE_SUCCEEDED || i == FOTA_STATE_FAILED ||
		                 i == FOTA_STATE_CANCELLED;

		assert_int_equal(fota_state_is_final((FotaState)i), final);
	}
}

static void
test_source_names(void **state)
{
	static const char *const names[] = {"ftp", "http", "https", "file"};
	static const FotaSourceKind kinds[] = {FOTA_SOURCE_FTP, FOTA_SOURCE_HTTP, FOTA_SOURCE_HTTPS,
	                                       FOTA_SOURCE_FILE};
	FotaSourceKind parsed = FOTA_SOURCE_HTTP;

	(void)state;
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		FotaSourceKind kind = FOTA_SOURCE_FTP;

		assert_string_equal(fota_source_kind_to_string(kinds[i]), names[i]);
		assert_true(fota_source_kind_from_string(names[i], &kind));
		assert_int_equal(kind, kinds[i]);
	}
	assert_false(fota_source_kind_from_string("FTP", &parsed));
	assert_false(fota_source_kind_from_string("tftp", &parsed));
	assert_false(fota_source_kind_from_string("", &parsed));
	assert_false(fota_source_kind_from_string(NULL, &parsed));
	assert_int_equal(parsed, FOTA_SOURCE_HTTP);
}

static void
assert_default_options(const JobOptions *o)
{
	assert_int_equal(o->upgrade_mode, 1);
	assert_int_equal(o->download_urc_max, 100);
	assert_int_equal(o->update_urc_max, JOB_UNSET);
	assert_int_equal(o->cid, JOB_UNSET);
	assert_null(o->expected_revision);
	assert_null(o->sha256);
	assert_null(o->apn);
}

static void
test_new_record(void **state)
{
	g_autoptr(JobRecord) r = job_record_new();

	(void)state;
	assert_int_equal(r->state, FOTA_STATE_IDLE);
	assert_int_equal(r->end_code, JOB_UNSET);
	assert_int_equal(r->error_code, JOB_UNSET);
	assert_default_options(&r->options);
	assert_null(r->id);
	assert_null(r->source);
	assert_null(r->error);
	assert_null(r->message);
	assert_null(r->from_revision);
	assert_null(r->to_revision);
	assert_null(r->boot_id);
	assert_null(r->port);
	assert_null(r->sent_sha256);
	assert_null(r->usb_power_previous);
	assert_int_equal(r->percent, 0);
	assert_false(r->accepted);
	assert_false(r->download_done);
	assert_int_equal(r->file_size, 0);
	assert_int_equal(r->started_us, 0);
	assert_int_equal(r->finished_us, 0);
	assert_int_equal(r->state_since_us, 0);
	assert_int_equal(r->state_since_boot_us, 0);
	assert_int_equal(r->reset_us, 0);
	assert_int_equal(r->reset_boot_us, 0);
}

static void
test_options_init_and_clear(void **state)
{
	JobOptions o;

	(void)state;
	job_options_init(&o);
	assert_default_options(&o);
	o.expected_revision = g_strdup("EC200TCNDAR02A02M16");
	o.sha256 = g_strnfill(64, 'a');
	o.apn = g_strdup("internet");
	o.cid = 3;
	job_options_clear(&o);
	assert_null(o.expected_revision);
	assert_null(o.sha256);
	assert_null(o.apn);
	assert_int_equal(o.cid, 3); /* only the strings */
	job_options_clear(&o);      /* twice is harmless */
}

/* Every field set to a value of its own, so that a field the copy forgets
 * or shares shows. */
static JobRecord *
filled_record(void)
{
	JobRecord *r = job_record_new();

	r->id = g_strdup("0123456789abcdef0123456789abcdef");
	r->source_kind = FOTA_SOURCE_FILE;
	r->source = g_strdup("file:65536");
	r->file_size = 65536;
	r->options.upgrade_mode = 0;
	r->options.download_urc_max = 5;
	r->options.update_urc_max = 50;
	r->options.expected_revision = g_strdup("EC200TCNDAR02A02M16");
	r->options.sha256 = g_strnfill(64, 'e');
	r->options.cid = 2;
	r->options.apn = g_strdup("internet");
	r->state = FOTA_STATE_FAILED;
	r->percent = 42;
	r->accepted = TRUE;
	r->download_done = TRUE;
	r->end_code = 504;
	r->error = g_strdup("org.quectel.Fota1.Error.UpgradeFailed");
	r->error_code = 504;
	r->message = g_strdup("update failed: 504 (firmware mismatch)");
	r->from_revision = g_strdup("EC200TCNDAR02A01M16");
	r->to_revision = g_strdup("EC200TCNDAR02A01M16");
	r->started_us = 1000001;
	r->finished_us = 2000002;
	r->state_since_us = 3000003;
	r->state_since_boot_us = 4000004;
	r->boot_id = g_strnfill(32, 'b');
	r->port = g_strdup("usb:2c7c:6026:1-1");
	r->sent_sha256 = g_strnfill(64, 's');
	r->reset_us = 5000005;
	r->reset_boot_us = 6000006;
	r->usb_power_previous = g_strdup("auto");
	return r;
}

#define ASSERT_SAME_STRING(field)                                                                  \
	do {                                                                                       \
		assert_non_null(copy->field);                                                      \
		assert_string_equal(copy->field, orig->field);                                     \
		assert_ptr_not_equal(copy->field, orig->field);                                    \
	} while (0)

static void
test_copy_is_deep(void **state)
{
	g_autoptr(JobRecord) orig = filled_record();
	g_autoptr(JobRecord) copy = job_record_copy(orig);
	g_autoptr(JobRecord) again = NULL;

	(void)state;
	ASSERT_SAME_STRING(id);
	ASSERT_SAME_STRING(source);
	ASSERT_SAME_STRING(options.expected_revision);
	ASSERT_SAME_STRING(options.sha256);
	ASSERT_SAME_STRING(options.apn);
	ASSERT_SAME_STRING(error);
	ASSERT_SAME_STRING(message);
	ASSERT_SAME_STRING(from_revision);
	ASSERT_SAME_STRING(to_revision);
	ASSERT_SAME_STRING(boot_id);
	ASSERT_SAME_STRING(port);
	ASSERT_SAME_STRING(sent_sha256);
	ASSERT_SAME_STRING(usb_power_previous);
	assert_int_equal(copy->source_kind, FOTA_SOURCE_FILE);
	assert_int_equal(copy->file_size, 65536);
	assert_int_equal(copy->options.upgrade_mode, 0);
	assert_int_equal(copy->options.download_urc_max, 5);
	assert_int_equal(copy->options.update_urc_max, 50);
	assert_int_equal(copy->options.cid, 2);
	assert_int_equal(copy->state, FOTA_STATE_FAILED);
	assert_int_equal(copy->percent, 42);
	assert_true(copy->accepted);
	assert_true(copy->download_done);
	assert_int_equal(copy->end_code, 504);
	assert_int_equal(copy->error_code, 504);
	assert_int_equal(copy->started_us, 1000001);
	assert_int_equal(copy->finished_us, 2000002);
	assert_int_equal(copy->state_since_us, 3000003);
	assert_int_equal(copy->state_since_boot_us, 4000004);
	assert_int_equal(copy->reset_us, 5000005);
	assert_int_equal(copy->reset_boot_us, 6000006);

	/* the copy outlives its original (ASan sees any shared pointer) */
	g_clear_pointer(&orig, job_record_free);
	again = job_record_copy(copy);
	assert_string_equal(again->message, "update failed: 504 (firmware mismatch)");
	assert_string_equal(again->usb_power_previous, "auto");
}

/* NULL strings stay NULL in a copy. */
static void
test_copy_of_a_new_record(void **state)
{
	g_autoptr(JobRecord) orig = job_record_new();
	g_autoptr(JobRecord) copy = job_record_copy(orig);

	(void)state;
	assert_int_equal(copy->state, FOTA_STATE_IDLE);
	assert_default_options(&copy->options);
	assert_null(copy->id);
	assert_null(copy->message);
	assert_null(copy->usb_power_previous);
	assert_int_equal(copy->end_code, JOB_UNSET);
}

/* job_record_copy() and job_record_free() name every pointer field by hand:
 * a field added to JobRecord or JobOptions must be added there and to
 * filled_record() above; this size check fails until this test is updated
 * (LP64 sizes). */
static void
test_layout_is_the_one_tested(void **state)
{
	(void)state;
	if (sizeof(void *) != 8)
		skip();
	if (sizeof(JobOptions) != 48 || sizeof(JobRecord) != 224)
		fail_msg("JobOptions is %zu bytes and JobRecord %zu, this test knows 48 and 224: "
		         "a field changed; see that job_record_copy() and job_record_free() "
		         "handle it, add it to filled_record() and test_copy_is_deep(), then "
		         "update the sizes here",
		         sizeof(JobOptions), sizeof(JobRecord));
}

static void
test_free_null(void **state)
{
	(void)state;
	job_record_free(NULL);
}

static gint64
clock_us(clockid_t id)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(id, &ts), 0);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* CLOCK_BOOTTIME: never behind CLOCK_MONOTONIC (it adds suspend), never
 * going back. */
static void
test_boottime_clock(void **state)
{
	gint64 before, now, after;

	(void)state;
	before = clock_us(CLOCK_BOOTTIME);
	now = job_clock_boottime_us();
	after = clock_us(CLOCK_BOOTTIME);
	assert_true(before <= now && now <= after);
	assert_true(now >= clock_us(CLOCK_MONOTONIC) - G_USEC_PER_SEC);
	for (int i = 0; i < 1000; i++) {
		gint64 next = job_clock_boottime_us();

		assert_true(next >= now);
		now = next;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_state_names),
	        cmocka_unit_test(test_unknown_state_names),
	        cmocka_unit_test(test_state_out_of_range),
	        cmocka_unit_test(test_final_states),
	        cmocka_unit_test(test_source_names),
	        cmocka_unit_test(test_new_record),
	        cmocka_unit_test(test_options_init_and_clear),
	        cmocka_unit_test(test_copy_is_deep),
	        cmocka_unit_test(test_copy_of_a_new_record),
	        cmocka_unit_test(test_layout_is_the_one_tested),
	        cmocka_unit_test(test_free_null),
	        cmocka_unit_test(test_boottime_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
