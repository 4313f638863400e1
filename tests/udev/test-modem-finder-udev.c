/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* modem-finder's libudev discovery against a umockdev testbed. Run under
 * umockdev-wrapper (meson does): the preload library redirects /sys, /dev and
 * the udev netlink socket to the testbed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gio/gio.h>
#include <string.h>
#include <umockdev.h>

#include "modem-finder.h"
#include "test-finder.h"
#include "test-util.h"

#define EVENT_TIMEOUT_S 5
#define QUECTEL_USB     "1-4"
#define IDENTITY        "usb:2c7c:6026:/devices/" QUECTEL_USB

typedef struct {
	UMockdevTestbed *testbed;
	FotaModemFinder *finder;
	GPtrArray *events;     /* "appeared:<path>" / "vanished" */
	GPtrArray *modem_ttys; /* syspaths of the Quectel modem's ttys */
	GPtrArray *modem_devs; /* all of the modem's syspaths, parents first */
	char *ftdi_tty;
	char *ec25_tty;
} Fixture;

static void
assert_event(Fixture *f, guint index, const char *expected)
{
	test_assert_event(f->events, index, expected, EVENT_TIMEOUT_S);
}

/* No further event arrives (bounded wait). */
static void
assert_event_count(Fixture *f, guint n)
{
	test_run_for(300);
	if (f->events->len != n)
		fail_msg("%u events, expected %u; last: %s", f->events->len, n,
		         f->events->len > 0
		                 ? (char *)g_ptr_array_index(f->events, f->events->len - 1)
		                 : "-");
}

static char *
add_usb_device(Fixture *f, const char *name, const char *vid, const char *pid)
{
	return umockdev_testbed_add_device(f->testbed, "usb", name, NULL, "idVendor", vid,
	                                   "idProduct", pid, NULL, "DEVTYPE", "usb_device", NULL);
}

/* Interface @number of @usb, with a ttyUSB<tty> under it as the option
 * driver makes it: interface / usb-serial port / tty. Returns the tty's
 * syspath, or NULL for @tty < 0 (a network interface). */
static char *
add_interface(Fixture *f, const char *usb, int number, int tty, GPtrArray *added)
{
	g_autofree char *usb_name = g_path_get_basename(usb);
	g_autofree char *if_name = g_strdup_printf("%s:1.%d", usb_name, number);
	g_autofree char *if_num = g_strdup_printf("%02x", number);
	g_autofree char *tty_name = g_strdup_printf("ttyUSB%d", tty);
	g_autofree char *devname = g_strdup_printf("/dev/%s", tty_name);
	g_autofree char *intf = NULL;
	g_autofree char *port = NULL;
	char *tty_path;

	intf = umockdev_testbed_add_device(f->testbed, "usb", if_name, usb, "bInterfaceNumber",
	                                   if_num, NULL, "DEVTYPE", "usb_interface", NULL);
	assert_non_null(intf);
	g_ptr_array_add(added, g_strdup(intf));
	if (tty < 0)
		return NULL;
	port = umockdev_testbed_add_device(f->testbed, "usb-serial", tty_name, intf, NULL, NULL);
	assert_non_null(port);
	g_ptr_array_add(added, g_strdup(port));
	tty_path = umockdev_testbed_add_device(f->testbed, "tty", tty_name, port, NULL, "DEVNAME",
	                                       devname, NULL);
	g_ptr_array_add(added, g_strdup(tty_path));
	return tty_path;
}

/* The EC200T: If#0-1 network, If#2 DIAG, If#3 AT, If#4 modem; the ttys are
 * numbered from @first_tty, sent as "add" uevents DIAG first (a wrong pick
 * would show). */
static void
plug_modem(Fixture *f, int first_tty, gboolean announce)
{
	char *usb = add_usb_device(f, QUECTEL_USB, "2c7c", "6026");

	assert_non_null(usb);
	g_ptr_array_add(f->modem_devs, usb);
	for (int i = 0; i < 5; i++) {
		char *tty =
		        add_interface(f, usb, i, i >= 2 ? first_tty + i - 2 : -1, f->modem_devs);
		if (tty != NULL)
			g_ptr_array_add(f->modem_ttys, tty);
	}
	for (guint i = 0; announce && i < f->modem_ttys->len; i++)
		umockdev_testbed_uevent(f->testbed, g_ptr_array_index(f->modem_ttys, i), "add");
}

/* What a modem reboot looks like: every tty removed, then the device.
 * Leaves first: umockdev's remove_device() of a parent leaves the children's
 * /sys/bus links behind, and adding them again would fail. */
static void
unplug_modem(Fixture *f)
{
	for (guint i = 0; i < f->modem_ttys->len; i++)
		umockdev_testbed_uevent(f->testbed, g_ptr_array_index(f->modem_ttys, i), "remove");
	for (guint i = f->modem_devs->len; i > 0; i--)
		umockdev_testbed_remove_device(f->testbed, g_ptr_array_index(f->modem_devs, i - 1));
	g_ptr_array_set_size(f->modem_ttys, 0);
	g_ptr_array_set_size(f->modem_devs, 0);
}

/* defaults: the known Quectel ids and interface 3 */
static FotaModemFinder *
new_finder(Fixture *f)
{
	return test_new_finder(NULL, f->events);
}

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);
	g_autofree char *ftdi = NULL;
	g_autofree char *ec25 = NULL;
	g_autoptr(GPtrArray) decoys = g_ptr_array_new_with_free_func(g_free);

	f->testbed = umockdev_testbed_new();
	f->events = g_ptr_array_new_with_free_func(g_free);
	f->modem_ttys = g_ptr_array_new_with_free_func(g_free);
	f->modem_devs = g_ptr_array_new_with_free_func(g_free);

	/* Decoys on interface 3 too, so only the USB id can tell them apart:
	 * an FTDI adapter and a Quectel EC25 (not in the default list). */
	ftdi = add_usb_device(f, "1-2", "0403", "6001");
	f->ftdi_tty = add_interface(f, ftdi, 3, 10, decoys);
	ec25 = add_usb_device(f, "1-3", "2c7c", "0125");
	f->ec25_tty = add_interface(f, ec25, 3, 11, decoys);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	g_clear_object(&f->finder);
	g_clear_object(&f->testbed);
	g_ptr_array_unref(f->events);
	g_ptr_array_unref(f->modem_ttys);
	g_ptr_array_unref(f->modem_devs);
	g_free(f->ftdi_tty);
	g_free(f->ec25_tty);
	g_free(f);
	return 0;
}

static void
test_lookup_picks_at_port(void **state)
{
	Fixture *f = *state;

	plug_modem(f, 0, FALSE);
	f->finder = new_finder(f);
	test_assert_lookup(f->finder, "/dev/ttyUSB1", IDENTITY);
}

static void
test_no_modem(void **state)
{
	Fixture *f = *state;

	f->finder = new_finder(f);
	test_assert_lookup(f->finder, NULL, NULL);

	/* the decoys come and go unnoticed */
	umockdev_testbed_uevent(f->testbed, f->ftdi_tty, "add");
	umockdev_testbed_uevent(f->testbed, f->ec25_tty, "add");
	umockdev_testbed_uevent(f->testbed, f->ftdi_tty, "remove");
	assert_event_count(f, 0);
}

/* The modem reboots and comes back with other ttyUSB numbers. */
static void
test_reboot_renumbers(void **state)
{
	Fixture *f = *state;
	g_autofree char *path = NULL;

	plug_modem(f, 0, FALSE);
	f->finder = new_finder(f);
	path = modem_finder_lookup(f->finder, NULL);
	assert_string_equal(path, "/dev/ttyUSB1");

	unplug_modem(f);
	assert_event(f, 0, "vanished");
	assert_event_count(f, 1);
	assert_null(modem_finder_lookup(f->finder, NULL));

	plug_modem(f, 4, TRUE); /* DIAG ttyUSB4, AT ttyUSB5, modem ttyUSB6 */
	assert_event(f, 1, "appeared:/dev/ttyUSB5");
	assert_event_count(f, 2);

	test_assert_lookup(f->finder, "/dev/ttyUSB5", IDENTITY); /* same physical port */

	/* a repeated "add" of the same tty is not a new port */
	umockdev_testbed_uevent(f->testbed, g_ptr_array_index(f->modem_ttys, 1), "add");
	/* removing the modem's other ttys or a decoy is not losing the port */
	umockdev_testbed_uevent(f->testbed, g_ptr_array_index(f->modem_ttys, 0), "remove");
	umockdev_testbed_uevent(f->testbed, f->ftdi_tty, "remove");
	assert_event_count(f, 2);

	/* and once more, back to the original numbers */
	unplug_modem(f);
	assert_event(f, 2, "vanished");
	plug_modem(f, 0, TRUE);
	assert_event(f, 3, "appeared:/dev/ttyUSB1");
	assert_event_count(f, 4);
}

/* The daemon started before the modem was plugged in. */
static void
test_modem_appears_later(void **state)
{
	Fixture *f = *state;

	f->finder = new_finder(f);
	assert_null(modem_finder_lookup(f->finder, NULL));
	plug_modem(f, 0, TRUE);
	assert_event(f, 0, "appeared:/dev/ttyUSB1");
	assert_event_count(f, 1);
}

/* A configured at-interface and id list replace the defaults. */
static void
test_configured_ids(void **state)
{
	Fixture *f = *state;
	const ModemUsbId ids[] = {{0x0403, 0x6001}};
	ModemFinderConfig config = {.ids = ids, .n_ids = 1, .at_interface = 3};

	plug_modem(f, 0, FALSE);
	f->finder = modem_finder_new(&config);
	test_assert_lookup(f->finder, "/dev/ttyUSB10", "usb:0403:6001:/devices/1-2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_lookup_picks_at_port, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_modem, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reboot_renumbers, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_modem_appears_later, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_configured_ids, setup, teardown),
	};
	const char *preload = g_getenv("LD_PRELOAD");

	/* Outside umockdev this would watch the real machine's devices.
	 * (umockdev_in_mock_environment() says FALSE even under the wrapper
	 * on umockdev 0.17.) */
	if (preload == NULL || strstr(preload, "umockdev-preload") == NULL) {
		g_printerr("not under umockdev-wrapper: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
