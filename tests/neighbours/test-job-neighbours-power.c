/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon/jobs/job-neighbours.c and the USB device's power/control (issue 15,
 * item 4): a value that could not be written back stays the record's until
 * it was, and is written back once: when the modem's port returns, by the
 * next job on that device, or by an abandoned Start that took it over.
 * Run under umockdev-wrapper (meson does): /sys is a testbed's. No bus, no
 * port: the neighbours only journal, and the record names the USB device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <umockdev.h>

#include "job-neighbours.h"
#include "test-util.h"

#define USB_DEVPATH "/devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define USB_SYSPATH "/sys" USB_DEVPATH
#define PORT        "usb:2c7c:6026:" USB_DEVPATH

typedef struct {
	UMockdevTestbed *testbed;
	char *device; /* the USB device's syspath while plugged, else NULL */
	FotadConfig *config;
	FotaModem *modem;
	FotaJobNeighbours *neighbours;
	guint restored; /* "power-restored" emissions */
} Fixture;

static void
plug(Fixture *f, const char *control)
{
	assert_null(f->device);
	f->device = umockdev_testbed_add_device(
	        f->testbed, "usb", "pci0000:00/0000:00:14.0/usb1/1-1", NULL, "idVendor", "2c7c",
	        "idProduct", "6026", "power/control", control, NULL, "DEVTYPE", "usb_device", NULL);
	assert_string_equal(f->device, USB_SYSPATH);
}

static void
unplug(Fixture *f)
{
	umockdev_testbed_remove_device(f->testbed, f->device);
	g_clear_pointer(&f->device, g_free);
}

/* What an administrator's echo into power/control does. */
static void
set_control(Fixture *f, const char *value)
{
	umockdev_testbed_set_attribute(f->testbed, f->device, "power/control", value);
}

static void
assert_control(const char *expected)
{
	g_autofree char *contents = NULL;

	assert_true(g_file_get_contents(USB_SYSPATH "/power/control", &contents, NULL, NULL));
	assert_string_equal(g_strchomp(contents), expected);
}

static void
on_restored(FotaJobNeighbours *neighbours, gpointer user_data)
{
	Fixture *f = user_data;

	f->restored++;
}

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);

	f->testbed = umockdev_testbed_new();
	f->config = fotad_config_new();
	f->modem = modem_new(f->config);
	f->neighbours = job_neighbours_new(f->config, f->modem);
	g_signal_connect(f->neighbours, "power-restored", G_CALLBACK(on_restored), f);
	plug(f, "auto");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	g_clear_object(&f->neighbours);
	g_clear_object(&f->modem);
	fotad_config_free(f->config);
	g_free(f->device);
	g_clear_object(&f->testbed);
	g_free(f);
	return 0;
}

static JobRecord *
new_record(const char *id)
{
	JobRecord *r = job_record_new();

	r->id = g_strdup(id);
	r->state = FOTA_STATE_PREPARING;
	r->port = g_strdup(PORT);
	return r;
}

static void
begun(GObject *source, GAsyncResult *result, gpointer user_data)
{
	job_neighbours_begin_finish(FOTA_JOB_NEIGHBOURS(source), result);
	*(gboolean *)user_data = TRUE;
}

/* Returns: (transfer full): the value @r is to keep, as
 * job_neighbours_begin() returns it */
static char *
begin(Fixture *f, const JobRecord *r)
{
	gboolean done = FALSE;
	char *usb_power = job_neighbours_begin(f->neighbours, r, begun, &done);

	for (guint i = 0; i < 500 && !done; i++)
		test_run_for(10);
	assert_true(done);
	return usb_power;
}

/* The modem's port came back and answered. */
static void
port_returns(Fixture *f)
{
	g_signal_emit_by_name(f->modem, "ready");
}

/* A job forced power/control on, then its device went away before its end. */
static JobRecord *
job_ends_with_the_device_away(Fixture *f, const char *id)
{
	JobRecord *r = new_record(id);

	r->usb_power_previous = begin(f, r);
	assert_control("on");
	assert_string_equal(r->usb_power_previous, "auto");
	job_neighbours_started(f->neighbours, r, FALSE);
	unplug(f);
	r->state = FOTA_STATE_FAILED;
	assert_false(job_neighbours_final(f->neighbours, r));
	return r;
}

static void
test_written_back_once_when_the_port_returns(void **state)
{
	Fixture *f = *state;
	g_autoptr(JobRecord) r = job_ends_with_the_device_away(f, "job1");

	port_returns(f); /* not that device: still away */
	assert_int_equal(f->restored, 0);
	plug(f, "on"); /* re-enumerated */
	port_returns(f);
	assert_control("auto");
	assert_int_equal(f->restored, 1);

	/* once: a later choice of the administrator stays */
	set_control(f, "on");
	port_returns(f);
	assert_control("on");
	assert_int_equal(f->restored, 1);
}

/* ModemManager has the port between jobs: no "ready", the next job on the
 * device keeps the administrator's value, not the "on" left behind. */
static void
test_next_job_takes_it_over(void **state)
{
	Fixture *f = *state;
	g_autoptr(JobRecord) r = job_ends_with_the_device_away(f, "job1");
	g_autoptr(JobRecord) next = new_record("job2");

	plug(f, "on");
	next->usb_power_previous = begin(f, next);
	assert_string_equal(next->usb_power_previous, "auto");
	assert_control("on");
	job_neighbours_started(f->neighbours, next, FALSE);
	next->state = FOTA_STATE_SUCCEEDED;
	assert_true(job_neighbours_final(f->neighbours, next));
	assert_control("auto");
	/* the earlier record is replaced on disk: nothing is left to write */
	set_control(f, "on");
	port_returns(f);
	assert_control("on");
	assert_int_equal(f->restored, 0);
}

/* A Start that took the value over and never became a job writes it back:
 * the earlier record, still the one on disk, may drop it. */
static void
test_abandoned_start_writes_it_back(void **state)
{
	Fixture *f = *state;
	g_autoptr(JobRecord) r = job_ends_with_the_device_away(f, "job1");
	g_autoptr(JobRecord) next = new_record("job2");

	plug(f, "on");
	next->usb_power_previous = begin(f, next);
	job_neighbours_abandon(f->neighbours, next);
	assert_control("auto");
	assert_int_equal(f->restored, 1);
}

/* A resumed job's record keeps the value from before its first start: the
 * device's "on" (ours) is not offered in its place, and it stays "on". */
static void
test_resumed_job_keeps_its_value(void **state)
{
	Fixture *f = *state;
	g_autoptr(JobRecord) r = new_record("job1");
	g_autofree char *offered = NULL;

	r->usb_power_previous = g_strdup("auto");
	set_control(f, "on");
	offered = begin(f, r);
	assert_null(offered);
	assert_control("on");
	job_neighbours_started(f->neighbours, r, TRUE);
	r->state = FOTA_STATE_SUCCEEDED;
	assert_true(job_neighbours_final(f->neighbours, r));
	assert_control("auto");
}

/* The daemon starts with a final record that keeps the value. */
static void
test_at_start(void **state)
{
	Fixture *f = *state;
	g_autoptr(JobRecord) r = new_record("job1");

	r->state = FOTA_STATE_SUCCEEDED;
	r->usb_power_previous = g_strdup("auto");
	unplug(f);
	assert_false(job_neighbours_restore_power(f->neighbours, r));
	plug(f, "on");
	assert_true(job_neighbours_restore_power(f->neighbours, r));
	assert_control("auto");
	/* nothing kept: written back is written back */
	set_control(f, "on");
	port_returns(f);
	assert_control("on");
	assert_int_equal(f->restored, 0);

	/* a record without a value has nothing to write */
	g_clear_pointer(&r->usb_power_previous, g_free);
	assert_true(job_neighbours_restore_power(f->neighbours, r));
	assert_control("on");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_written_back_once_when_the_port_returns, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_next_job_takes_it_over, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_abandoned_start_writes_it_back, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_resumed_job_keeps_its_value, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_at_start, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
