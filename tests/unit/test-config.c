/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "config.h"

static gboolean
load(FotadConfig *config, const char *text, GError **error)
{
	return fotad_config_load_data(config, text, strlen(text), error);
}

static void
test_defaults(void **state)
{
	g_autoptr(FotadConfig) c = fotad_config_new();

	assert_null(c->port);
	assert_int_equal(c->baud, 115200);
	assert_int_equal(c->flow, SERIAL_FLOW_HARDWARE);
	assert_int_equal(c->port_kind, FOTAD_PORT_KIND_USB);
	assert_int_equal(c->paced_rate, 15360);
	assert_int_equal(c->n_usb_ids, 4);
	assert_int_equal(c->usb_ids[0].vendor, 0x2c7c);
	assert_int_equal(c->usb_ids[0].product, 0x6026);
	assert_int_equal(c->at_interface, -1);
	assert_int_equal(c->timeouts.command_ms, 10000);
	assert_int_equal(c->timeouts.first_urc_ms, 120000);
	assert_int_equal(c->timeouts.urc_gap_ms, 600000);
	assert_int_equal(c->timeouts.download_ms, 3600000);
	assert_int_equal(c->timeouts.update_ms, 1800000);
	assert_int_equal(c->timeouts.reboot_ms, 300000);
	assert_int_equal(c->timeouts.boot_settle_ms, 30000);
	assert_int_equal(c->timeouts.late_reply_grace_ms, 1000);
	assert_string_equal(c->state_dir, "/var/lib/quectel-fotad");
	assert_null(c->boot_id_file);
}

static void
test_overrides(void **state)
{
	g_autoptr(FotadConfig) c = fotad_config_new();
	g_autoptr(GError) error = NULL;
	const char *text = "[modem]\n"
	                   "port=/dev/ttyUSB2\n"
	                   "baud=921600\n"
	                   "flow-control=none\n"
	                   "port-kind=uart\n"
	                   "paced-rate=8000\n"
	                   "usb-ids=2c7c:0125; 1e0e:9001;\n"
	                   "at-interface=3\n"
	                   "[timeouts]\n"
	                   "command=0.2\n"
	                   "first-urc=0.05\n"
	                   "urc-gap=1.5\n"
	                   "download=60\n"
	                   "update=0.001\n"
	                   "reboot=2\n"
	                   "boot-settle=0.3\n"
	                   "late-reply-grace=0\n"
	                   "[daemon]\n"
	                   "state-dir=/tmp/fotad-state\n"
	                   "boot-id-file=/tmp/boot-id\n";

	assert_true(load(c, text, &error));
	assert_null(error);
	assert_string_equal(c->port, "/dev/ttyUSB2");
	assert_int_equal(c->baud, 921600);
	assert_int_equal(c->flow, SERIAL_FLOW_NONE);
	assert_int_equal(c->port_kind, FOTAD_PORT_KIND_UART);
	assert_int_equal(c->paced_rate, 8000);
	assert_int_equal(c->n_usb_ids, 2);
	assert_int_equal(c->usb_ids[1].vendor, 0x1e0e);
	assert_int_equal(c->usb_ids[1].product, 0x9001);
	assert_int_equal(c->at_interface, 3);
	assert_int_equal(c->timeouts.command_ms, 200);
	assert_int_equal(c->timeouts.first_urc_ms, 50);
	assert_int_equal(c->timeouts.urc_gap_ms, 1500);
	assert_int_equal(c->timeouts.download_ms, 60000);
	assert_int_equal(c->timeouts.update_ms, 1);
	assert_int_equal(c->timeouts.reboot_ms, 2000);
	assert_int_equal(c->timeouts.boot_settle_ms, 300);
	assert_int_equal(c->timeouts.late_reply_grace_ms, 0);
	assert_string_equal(c->state_dir, "/tmp/fotad-state");
	assert_string_equal(c->boot_id_file, "/tmp/boot-id");
}

static void
test_empty_values_unset(void **state)
{
	g_autoptr(FotadConfig) c = fotad_config_new();
	g_autoptr(GError) error = NULL;

	assert_true(load(c, "[modem]\nport=/dev/x\n", &error));
	assert_true(load(c, "[modem]\nport=\nat-interface=\n[daemon]\nboot-id-file=\n", &error));
	assert_null(c->port);
	assert_int_equal(c->at_interface, -1);
	assert_null(c->boot_id_file);
}

static void
test_unknown_keys_warn_only(void **state)
{
	g_autoptr(FotadConfig) c = fotad_config_new();
	g_autoptr(GError) error = NULL;

	assert_true(
	        load(c, "[modem]\nfuture-key=1\n[future]\nx=y\n[timeouts]\ncommand=3\n", &error));
	assert_int_equal(c->timeouts.command_ms, 3000);
}

static void
test_bad_values(void **state)
{
	struct {
		const char *text;
		const char *needle; /* the message names the key and the value */
	} cases[] = {
	        {"[timeouts]\ncommand=soon\n", "[timeouts] command must be a number of seconds"},
	        {"[timeouts]\nurc-gap=0\n", "'0'"},
	        {"[timeouts]\nreboot=-1\n", "[timeouts] reboot"},
	        {"[timeouts]\nupdate=1e9\n", "'1e9'"},
	        {"[timeouts]\ndownload=nan\n", "'nan'"},
	        {"[timeouts]\nlate-reply-grace=x\n", "[timeouts] late-reply-grace"},
	        {"[modem]\nbaud=12345\n", "[modem] baud must be a standard baud rate"},
	        {"[modem]\nflow-control=maybe\n", "'hardware' or 'none', got 'maybe'"},
	        {"[modem]\nport-kind=pci\n", "'usb' or 'uart', got 'pci'"},
	        {"[modem]\npaced-rate=0\n", "[modem] paced-rate"},
	        {"[modem]\nusb-ids=2c7c-6026\n", "got '2c7c-6026'"},
	        {"[modem]\nusb-ids=;\n", "[modem] usb-ids"},
	        {"[modem]\nat-interface=300\n", "got '300'"},
	        {"[daemon]\nstate-dir=\n", "[daemon] state-dir"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(FotadConfig) c = fotad_config_new();
		g_autoptr(GError) error = NULL;

		assert_false(load(c, cases[i].text, &error));
		assert_true(g_error_matches(error, FOTAD_CONFIG_ERROR, FOTAD_CONFIG_ERROR_VALUE));
		if (strstr(error->message, cases[i].needle) == NULL)
			fail_msg("'%s' lacks '%s'", error->message, cases[i].needle);
	}
}

static void
test_files(void **state)
{
	g_autoptr(FotadConfig) c = fotad_config_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("test-config-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "fotad.conf", NULL);
	g_autofree char *missing = g_build_filename(dir, "absent.conf", NULL);

	assert_true(fotad_config_load_file(c, missing, FALSE, &error));
	assert_false(fotad_config_load_file(c, missing, TRUE, &error));
	assert_true(g_error_matches(error, FOTAD_CONFIG_ERROR, FOTAD_CONFIG_ERROR_READ));
	assert_non_null(strstr(error->message, missing));
	g_clear_error(&error);

	assert_true(g_file_set_contents(path, "not a key file\n", -1, NULL));
	assert_false(fotad_config_load_file(c, path, TRUE, &error));
	assert_true(g_error_matches(error, FOTAD_CONFIG_ERROR, FOTAD_CONFIG_ERROR_READ));
	g_clear_error(&error);

	assert_true(g_file_set_contents(path, "[timeouts]\ncommand=x\n", -1, NULL));
	assert_false(fotad_config_load_file(c, path, TRUE, &error));
	assert_non_null(strstr(error->message, path)); /* which file */
	g_clear_error(&error);

	assert_true(g_file_set_contents(path, "[modem]\nflow-control=none\n", -1, NULL));
	assert_true(fotad_config_load_file(c, path, TRUE, &error));
	assert_int_equal(c->flow, SERIAL_FLOW_NONE);
	g_unlink(path);
	g_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_overrides),
	        cmocka_unit_test(test_empty_values_unset),
	        cmocka_unit_test(test_unknown_keys_warn_only),
	        cmocka_unit_test(test_bad_values),
	        cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
