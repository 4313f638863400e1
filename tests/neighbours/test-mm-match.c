/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <pty.h>
#include <unistd.h>

#include "mm-client.h"
#include "test-util.h"

#define MODEM_IFACE "org.freedesktop.ModemManager1.Modem"
#define OUR_DEVICE  "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"

static GVariant *
modem_interfaces(const char *device, const char *at_port, const char *model)
{
	GVariantBuilder props, ports, ifaces;

	g_variant_builder_init(&ports, G_VARIANT_TYPE("a(su)"));
	g_variant_builder_add(&ports, "(su)", "cdc-wdm0", 6);
	g_variant_builder_add(&ports, "(su)", at_port, 3);
	g_variant_builder_init(&props, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&props, "{sv}", "Device", g_variant_new_string(device));
	g_variant_builder_add(&props, "{sv}", "Ports", g_variant_builder_end(&ports));
	g_variant_builder_add(&props, "{sv}", "Manufacturer", g_variant_new_string("Quectel"));
	g_variant_builder_add(&props, "{sv}", "Model", g_variant_new_string(model));
	g_variant_builder_add(&props, "{sv}", "Revision",
	                      g_variant_new_string("EC200TCNDAR02A01M16"));
	g_variant_builder_init(&ifaces, G_VARIANT_TYPE("a{sa{sv}}"));
	g_variant_builder_add(&ifaces, "{s@a{sv}}", "org.freedesktop.ModemManager1.Modem.Modem3gpp",
	                      g_variant_new("a{sv}", NULL));
	g_variant_builder_add(&ifaces, "{s@a{sv}}", MODEM_IFACE, g_variant_builder_end(&props));
	return g_variant_builder_end(&ifaces);
}

/* Two modems and an object without the Modem interface. */
static GVariant *
managed_objects(void)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{oa{sa{sv}}}"));
	g_variant_builder_add(&b, "{oa{sa{sv}}}", "/org/freedesktop/ModemManager1/SIM/0", NULL);
	g_variant_builder_add(&b, "{o@a{sa{sv}}}", "/org/freedesktop/ModemManager1/Modem/0",
	                      modem_interfaces("/sys/devices/other/usb2/2-1", "ttyUSB6", "EC25"));
	g_variant_builder_add(&b, "{o@a{sa{sv}}}", "/org/freedesktop/ModemManager1/Modem/3",
	                      modem_interfaces(OUR_DEVICE, "ttyUSB2", "EC200T"));
	return g_variant_ref_sink(g_variant_builder_end(&b));
}

static void
test_match_by_device(void **state)
{
	g_autoptr(GVariant) objects = managed_objects();
	g_autoptr(MmModem) modem = mm_modem_match(objects, OUR_DEVICE, NULL);

	assert_non_null(modem);
	assert_string_equal(modem->object_path, "/org/freedesktop/ModemManager1/Modem/3");
	assert_string_equal(modem->device, OUR_DEVICE);
	assert_string_equal(modem->manufacturer, "Quectel");
	assert_string_equal(modem->model, "EC200T");
	assert_string_equal(modem->revision, "EC200TCNDAR02A01M16");
	assert_null(modem->equipment_identifier);
}

static void
test_match_by_port(void **state)
{
	g_autoptr(GVariant) objects = managed_objects();
	g_autoptr(MmModem) by_port = mm_modem_match(objects, NULL, "ttyUSB2");
	g_autoptr(MmModem) either = mm_modem_match(objects, "/sys/devices/nothing", "ttyUSB6");

	assert_non_null(by_port);
	assert_string_equal(by_port->model, "EC200T");
	assert_non_null(either);
	assert_string_equal(either->model, "EC25");
}

static void
test_no_match(void **state)
{
	g_autoptr(GVariant) objects = managed_objects();
	g_autoptr(GVariant) wrong_type = g_variant_ref_sink(g_variant_new_string("x"));

	assert_null(mm_modem_match(objects, NULL, NULL));
	assert_null(mm_modem_match(objects, "/sys/devices/pci0000:00", "ttyUSB1"));
	/* a prefix of our device is another device */
	assert_null(mm_modem_match(objects, OUR_DEVICE "/1-1:1.3", "ttyUSB"));
	assert_null(mm_modem_match(wrong_type, OUR_DEVICE, NULL));
}

static void
test_tty_kernel_name(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("mm-tty-XXXXXX");
	g_autofree char *link = g_build_filename(dir, "ttyUSB1", NULL);
	g_autofree char *plain = g_build_filename(dir, "plain", NULL);
	g_autofree char *name = NULL;
	g_autofree char *pts_name = NULL;
	char pts[64];
	int master, slave;

	name = mm_tty_kernel_name("/dev/null");
	assert_string_equal(name, "null");
	g_clear_pointer(&name, g_free);

	assert_int_equal(openpty(&master, &slave, pts, NULL, NULL), 0);
	assert_int_equal(symlink(pts, link), 0);
	pts_name = mm_tty_kernel_name(link);
	assert_string_equal(pts_name, pts + strlen("/dev/"));
	assert_true(g_str_has_prefix(pts_name, "pts/"));

	assert_true(g_file_set_contents(plain, "", 0, NULL));
	assert_null(mm_tty_kernel_name(plain));
	assert_null(mm_tty_kernel_name("/dev/no-such-tty"));
	assert_null(mm_tty_kernel_name("/dev"));

	close(master);
	close(slave);
	test_remove_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_match_by_device),
	        cmocka_unit_test(test_match_by_port),
	        cmocka_unit_test(test_no_match),
	        cmocka_unit_test(test_tty_kernel_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
