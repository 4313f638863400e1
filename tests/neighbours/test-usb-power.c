/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <glib/gstdio.h>

#include "test-util.h"
#include "usb-power.h"

typedef struct {
	char *dir;  /* a fake USB device's syspath */
	char *file; /* its power/control */
} Fixture;

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);
	g_autofree char *power = NULL;

	f->dir = test_make_tmp_dir("usb-power-XXXXXX");
	power = g_build_filename(f->dir, "power", NULL);
	assert_int_equal(g_mkdir(power, 0755), 0);
	f->file = g_build_filename(power, "control", NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	test_remove_tree(f->dir);
	g_free(f->dir);
	g_free(f->file);
	g_free(f);
	return 0;
}

static void
set_control(Fixture *f, const char *value)
{
	assert_true(g_file_set_contents(f->file, value, -1, NULL));
}

static void
assert_control(Fixture *f, const char *expected)
{
	g_autofree char *contents = NULL;

	assert_true(g_file_get_contents(f->file, &contents, NULL, NULL));
	assert_string_equal(contents, expected);
}

static void
test_auto_forced_on_then_restored(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autofree char *previous = NULL;

	set_control(f, "auto\n");
	previous = usb_power_force_on(f->dir, &error);
	assert_null(error);
	assert_string_equal(previous, "auto");
	assert_control(f, "on");
	/* what a restarted daemon does with the value kept in the job record */
	assert_true(usb_power_restore(f->dir, previous, &error));
	assert_control(f, "auto");
}

static void
test_on_stays_on(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autofree char *previous = NULL;

	set_control(f, "on\n");
	previous = usb_power_force_on(f->dir, &error);
	assert_string_equal(previous, "on");
	assert_true(usb_power_restore(f->dir, previous, &error));
	assert_control(f, "on");
}

static void
test_unexpected_value_untouched(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autofree char *previous = NULL;

	set_control(f, "suspend\n");
	previous = usb_power_force_on(f->dir, &error);
	assert_null(previous);
	assert_true(g_error_matches(error, USB_POWER_ERROR, USB_POWER_ERROR_VALUE));
	assert_non_null(strstr(error->message, "suspend"));
	assert_control(f, "suspend\n");
}

static void
test_restore_refuses_bad_value(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;

	set_control(f, "on\n");
	assert_false(usb_power_restore(f->dir, "off\nauto", &error));
	assert_true(g_error_matches(error, USB_POWER_ERROR, USB_POWER_ERROR_VALUE));
	g_clear_error(&error);
	assert_false(usb_power_restore(f->dir, NULL, &error));
	assert_true(g_error_matches(error, USB_POWER_ERROR, USB_POWER_ERROR_VALUE));
	assert_control(f, "on\n");
}

static void
test_missing_attribute(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autofree char *gone = g_build_filename(f->dir, "no-such-device", NULL);

	assert_null(usb_power_force_on(gone, &error));
	assert_true(g_error_matches(error, USB_POWER_ERROR, USB_POWER_ERROR_IO));
	assert_non_null(strstr(error->message, gone));
	g_clear_error(&error);
	assert_false(usb_power_restore(gone, "auto", &error));
	assert_true(g_error_matches(error, USB_POWER_ERROR, USB_POWER_ERROR_IO));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_auto_forced_on_then_restored, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_on_stays_on, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unexpected_value_untouched, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_restore_refuses_bad_value, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_attribute, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
