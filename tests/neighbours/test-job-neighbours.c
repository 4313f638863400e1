/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure parts of daemon/jobs/job-neighbours.c: which logind lock a job needs,
 * and the USB device behind a port identity. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "job-neighbours.h"

static JobRecord *
record_in(FotaState state, gboolean download_done)
{
	JobRecord *r = job_record_new();

	r->state = state;
	r->download_done = download_done;
	return r;
}

static void
test_lock_mode(void **unused)
{
	static const struct {
		FotaState state;
		gboolean download_done;
		JobLockMode mode;
	} cases[] = {
	        {FOTA_STATE_IDLE, FALSE, JOB_LOCK_NONE},
	        {FOTA_STATE_PREPARING, FALSE, JOB_LOCK_DELAY},
	        {FOTA_STATE_DOWNLOADING, FALSE, JOB_LOCK_DELAY},
	        /* FTPEND/HTTPEND/HTTPSEND/FILEEND,0: the modem has the package */
	        {FOTA_STATE_DOWNLOADING, TRUE, JOB_LOCK_BLOCK},
	        {FOTA_STATE_REBOOTING, TRUE, JOB_LOCK_BLOCK},
	        /* START: a resumed record may not say download_done */
	        {FOTA_STATE_UPDATING, FALSE, JOB_LOCK_BLOCK},
	        {FOTA_STATE_VERIFYING, FALSE, JOB_LOCK_BLOCK},
	        {FOTA_STATE_SUCCEEDED, TRUE, JOB_LOCK_NONE},
	        {FOTA_STATE_FAILED, TRUE, JOB_LOCK_NONE},
	        {FOTA_STATE_CANCELLED, FALSE, JOB_LOCK_NONE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JobRecord) r = record_in(cases[i].state, cases[i].download_done);

		if (job_neighbours_lock_mode(r) != cases[i].mode)
			fail_msg("%s%s: lock %s, expected %s", fota_state_to_string(cases[i].state),
			         cases[i].download_done ? " (download done)" : "",
			         job_lock_mode_to_string(job_neighbours_lock_mode(r)),
			         job_lock_mode_to_string(cases[i].mode));
	}
	assert_string_equal(job_lock_mode_to_string(JOB_LOCK_BLOCK), "block");
	assert_string_equal(job_lock_mode_to_string(JOB_LOCK_DELAY), "delay");
	assert_null(job_lock_mode_to_string(JOB_LOCK_NONE));
}

static void
test_usb_syspath(void **unused)
{
	static const struct {
		const char *identity;
		const char *syspath;
	} cases[] = {
	        {"usb:2c7c:6026:/devices/pci0000:00/0000:00:14.0/usb1/1-1",
	         "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"},
	        {"usb:2c7c:6002:/devices/platform/ehci/usb2/2-1.4",
	         "/sys/devices/platform/ehci/usb2/2-1.4"},
	        {"/dev/ttyUSB2", NULL},
	        {"/dev/serial/by-id/usb-Quectel_EC200T-if03-port0", NULL},
	        {"usb:2c7c:6026", NULL},
	        {"usb:2c7c:6026:", NULL},
	        {"usb:2c7c:6026:devices/relative", NULL},
	        {"usb:2c7c:6026:/devices/../../etc", NULL},
	        {NULL, NULL},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *syspath = job_neighbours_usb_syspath(cases[i].identity);

		if (g_strcmp0(syspath, cases[i].syspath) != 0)
			fail_msg("%s: %s, expected %s", cases[i].identity, syspath,
			         cases[i].syspath);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lock_mode),
	        cmocka_unit_test(test_usb_syspath),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
