/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "job-journal.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"

static JobRecord *
failed_record(void)
{
	JobRecord *record = job_record_new();

	record->id = g_strdup(JOB_ID);
	record->state = FOTA_STATE_FAILED;
	record->error = g_strdup("org.quectel.Fota1.Error.PackageMismatch");
	record->error_code = 504;
	record->from_revision = g_strdup("EC200TCNDAR02A01M16");
	record->port = g_strdup("usb:2c7c:6026:/devices/pci0000:00/0000:00:14.0/usb1/1-1");
	return record;
}

/* The value of KEY in @fields, NULL when absent; fails on a repeated key. */
static const char *
field(GPtrArray *fields, const char *key)
{
	g_autofree char *prefix = g_strconcat(key, "=", NULL);
	const char *found = NULL;

	for (guint i = 0; i < fields->len; i++) {
		const char *f = g_ptr_array_index(fields, i);

		if (g_str_has_prefix(f, prefix)) {
			assert_null(found);
			found = f + strlen(prefix);
		}
	}
	return found;
}

static void
assert_clean(GPtrArray *fields)
{
	for (guint i = 0; i < fields->len; i++) {
		const char *f = g_ptr_array_index(fields, i);

		assert_true(g_utf8_validate(f, -1, NULL));
		for (const char *p = f; *p != '\0'; p++)
			assert_false((guchar)*p < 0x20 || *p == 0x7f);
		assert_non_null(strchr(f, '='));
	}
}

static void
test_failed_fields(void **state)
{
	g_autoptr(JobRecord) record = failed_record();
	g_autoptr(GPtrArray) fields =
	        job_journal_fields(JOB_JOURNAL_FAILED, record, "/dev/ttyUSB1", "wrong package");

	assert_string_equal(field(fields, "MESSAGE_ID"), "dc4467c25e174675b8b5fcda80afaa76");
	assert_string_equal(field(fields, "PRIORITY"), "3");
	assert_string_equal(field(fields, "MESSAGE"),
	                    "Firmware upgrade job " JOB_ID " failed: wrong package");
	assert_string_equal(field(fields, "QUECTEL_FOTA_JOB_ID"), JOB_ID);
	assert_string_equal(field(fields, "QUECTEL_FOTA_STATE"), "failed");
	assert_string_equal(field(fields, "QUECTEL_FOTA_ERROR"),
	                    "org.quectel.Fota1.Error.PackageMismatch");
	assert_string_equal(field(fields, "QUECTEL_FOTA_MODEM_CODE"), "504");
	assert_string_equal(field(fields, "QUECTEL_FOTA_FROM_REVISION"), "EC200TCNDAR02A01M16");
	assert_null(field(fields, "QUECTEL_FOTA_TO_REVISION"));
	assert_string_equal(field(fields, "QUECTEL_FOTA_PORT"), "/dev/ttyUSB1");
	assert_int_equal(fields->len, 9);
	assert_clean(fields);
}

static void
test_unset_fields_omitted(void **state)
{
	g_autoptr(JobRecord) record = job_record_new();
	g_autoptr(GPtrArray) fields = NULL;

	record->id = g_strdup(JOB_ID);
	record->state = FOTA_STATE_PREPARING;
	fields = job_journal_fields(JOB_JOURNAL_STARTED, record, NULL, NULL);
	assert_string_equal(field(fields, "MESSAGE"), "Firmware upgrade job " JOB_ID " started");
	assert_string_equal(field(fields, "QUECTEL_FOTA_STATE"), "preparing");
	assert_null(field(fields, "QUECTEL_FOTA_ERROR"));
	assert_null(field(fields, "QUECTEL_FOTA_MODEM_CODE"));
	assert_null(field(fields, "QUECTEL_FOTA_FROM_REVISION"));
	assert_null(field(fields, "QUECTEL_FOTA_PORT"));
	assert_int_equal(fields->len, 5);
}

static void
test_port_falls_back_to_record(void **state)
{
	g_autoptr(JobRecord) record = failed_record();
	g_autoptr(GPtrArray) fields = job_journal_fields(JOB_JOURNAL_FAILED, record, NULL, NULL);

	assert_string_equal(field(fields, "QUECTEL_FOTA_PORT"), record->port);
	assert_string_equal(field(fields, "MESSAGE"), "Firmware upgrade job " JOB_ID " failed");
}

static void
test_state_changed_and_succeeded(void **state)
{
	g_autoptr(JobRecord) record = failed_record();
	g_autoptr(GPtrArray) changed = NULL;
	g_autoptr(GPtrArray) done = NULL;

	record->state = FOTA_STATE_UPDATING;
	changed = job_journal_fields(JOB_JOURNAL_STATE_CHANGED, record, NULL, NULL);
	assert_string_equal(field(changed, "MESSAGE"),
	                    "Firmware upgrade job " JOB_ID " changed state to updating");
	assert_string_equal(field(changed, "PRIORITY"), "6");

	record->state = FOTA_STATE_SUCCEEDED;
	record->to_revision = g_strdup("EC200TCNDAR02A02M16");
	done = job_journal_fields(JOB_JOURNAL_SUCCEEDED, record, NULL, NULL);
	assert_string_equal(field(done, "MESSAGE"),
	                    "Firmware upgrade job " JOB_ID
	                    " succeeded: EC200TCNDAR02A01M16 -> EC200TCNDAR02A02M16");
	assert_string_equal(field(done, "QUECTEL_FOTA_TO_REVISION"), "EC200TCNDAR02A02M16");
	assert_string_equal(field(done, "MESSAGE_ID"), "e56eab7643e04de8a65f254a2d4d44b4");
}

static void
test_unreadable_without_record(void **state)
{
	g_autoptr(GPtrArray) fields = job_journal_fields(JOB_JOURNAL_RECORD_UNREADABLE, NULL, NULL,
	                                                 "line 3: unknown state \"x\"");

	assert_string_equal(field(fields, "MESSAGE_ID"), "78735db4ecae47e68e347e60170d8730");
	assert_string_equal(field(fields, "PRIORITY"), "4");
	assert_string_equal(field(fields, "MESSAGE"),
	                    "Firmware upgrade job (unknown) has an unreadable saved record: "
	                    "line 3: unknown state \"x\"");
	assert_null(field(fields, "QUECTEL_FOTA_JOB_ID"));
	assert_null(field(fields, "QUECTEL_FOTA_STATE"));
	assert_int_equal(fields->len, 3);
}

static void
test_values_sanitized(void **state)
{
	g_autoptr(JobRecord) record = failed_record();
	g_autoptr(GString) long_rev = g_string_new(NULL);
	g_autoptr(GPtrArray) fields = NULL;
	const char *rev;

	/* a two-byte character straddling the bound must not be cut in half */
	g_string_append_c(long_rev, 'x');
	for (int i = 0; i < JOB_JOURNAL_FIELD_MAX; i++)
		g_string_append(long_rev, "\xc3\xa9");
	g_free(record->from_revision);
	record->from_revision = g_string_free(g_steal_pointer(&long_rev), FALSE);
	g_free(record->error);
	record->error = g_strdup("bad\nMESSAGE_ID=forged\x01\x7f\xff");
	fields = job_journal_fields(JOB_JOURNAL_FAILED, record, "/dev/tty\rUSB1", "two\nlines");

	assert_clean(fields);
	assert_string_equal(field(fields, "MESSAGE_ID"), "dc4467c25e174675b8b5fcda80afaa76");
	assert_string_equal(field(fields, "QUECTEL_FOTA_ERROR"),
	                    "bad MESSAGE_ID=forged  \xef\xbf\xbd");
	assert_string_equal(field(fields, "QUECTEL_FOTA_PORT"), "/dev/tty USB1");
	assert_string_equal(field(fields, "MESSAGE"),
	                    "Firmware upgrade job " JOB_ID " failed: two lines");
	rev = field(fields, "QUECTEL_FOTA_FROM_REVISION");
	assert_int_equal(strlen(rev), JOB_JOURNAL_FIELD_MAX - 1);
	assert_true(g_str_has_suffix(rev, "\xc3\xa9"));
}

static void
test_message_ids(void **state)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (int e = 0; e < JOB_JOURNAL_N_EVENTS; e++) {
		const char *id = job_journal_message_id(e);

		assert_int_equal(strlen(id), 32);
		assert_int_equal(strspn(id, "0123456789abcdef"), 32);
		assert_true(g_hash_table_add(seen, (gpointer)id));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_failed_fields),
	        cmocka_unit_test(test_unset_fields_omitted),
	        cmocka_unit_test(test_port_falls_back_to_record),
	        cmocka_unit_test(test_state_changed_and_succeeded),
	        cmocka_unit_test(test_unreadable_without_record),
	        cmocka_unit_test(test_values_sanitized),
	        cmocka_unit_test(test_message_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
