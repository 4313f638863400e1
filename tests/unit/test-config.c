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
#include "test-util.h"

static gboolean
load(FotadConfig *config, const char *text, GError **error)
{
	return fotad_config_load_data(config, text, strlen(text), error);
}

static void
assert_string_or_null(const char *value, const char *expected)
{
	if (expected == NULL)
		assert_null(value);
	else
		assert_string_equal(value, expected);
}

/* Every field of @c is @want's; of the USB ids, the count and id @id. */
static void
assert_config(const FotadConfig *c, const FotadConfig *want, guint id)
{
	assert_string_or_null(c->port, want->port);
	assert_int_equal(c->baud, want->baud);
	assert_int_equal(c->flow, want->flow);
	assert_int_equal(c->port_kind, want->port_kind);
	assert_int_equal(c->paced_rate, want->paced_rate);
	assert_int_equal(c->n_usb_ids, want->n_usb_ids);
	assert_int_equal(c->usb_ids[id].vendor, want->usb_ids[id].vendor);
	assert_int_equal(c->usb_ids[id].product, want->usb_ids[id].product);
	assert_int_equal(c->at_interface, want->at_interface);
	assert_int_equal(c->timeouts.command_ms, want->timeouts.command_ms);
	assert_int_equal(c->timeouts.first_urc_ms, want->timeouts.first_urc_ms);
	assert_int_equal(c->timeouts.urc_gap_ms, want->timeouts.urc_gap_ms);
	assert_int_equal(c->timeouts.download_ms, want->timeouts.download_ms);
	assert_int_equal(c->timeouts.update_ms, want->timeouts.update_ms);
	assert_int_equal(c->timeouts.reboot_ms, want->timeouts.reboot_ms);
	assert_int_equal(c->timeouts.boot_settle_ms, want->timeouts.boot_settle_ms);
	assert_int_equal(c->timeouts.late_reply_grace_ms, want->timeouts.late_reply_grace_ms);
	assert_string_or_null(c->state_dir, want->state_dir);
	assert_string_or_null(c->boot_id_file, want->boot_id_file);
}

static void
test_defaults(void **state)
{
	g_autoptr(FotadConfig) c = fotad_config_new();
	const FotadConfig want = {
	        .port = NULL,
	        .baud = 115200,
	        .flow = SERIAL_FLOW_HARDWARE,
	        .port_kind = FOTAD_PORT_KIND_USB,
	        .paced_rate = 15360,
	        .n_usb_ids = 4,
	        .usb_ids = {{0x2c7c, 0x6026}},
	        .at_interface = -1,
	        .timeouts = {.command_ms = 10000,
	                     .first_urc_ms = 120000,
	                     .urc_gap_ms = 600000,
	                     .download_ms = 3600000,
	                     .update_ms = 1800000,
	                     .reboot_ms = 300000,
	                     .boot_settle_ms = 30000,
	                     .late_reply_grace_ms = 1000},
	        .state_dir = "/var/lib/quectel-fotad",
	        .boot_id_file = NULL,
	};

	assert_config(c, &want, 0);
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
	const FotadConfig want = {
	        .port = "/dev/ttyUSB2",
	        .baud = 921600,
	        .flow = SERIAL_FLOW_NONE,
	        .port_kind = FOTAD_PORT_KIND_UART,
	        .paced_rate = 8000,
	        .n_usb_ids = 2,
	        .usb_ids = {{0}, {0x1e0e, 0x9001}},
	        .at_interface = 3,
	        .timeouts = {.command_ms = 200,
	                     .first_urc_ms = 50,
	                     .urc_gap_ms = 1500,
	                     .download_ms = 60000,
	                     .update_ms = 1,
	                     .reboot_ms = 2000,
	                     .boot_settle_ms = 300,
	                     .late_reply_grace_ms = 0},
	        .state_dir = "/tmp/fotad-state",
	        .boot_id_file = "/tmp/boot-id",
	};

	assert_true(load(c, text, &error));
	assert_null(error);
	assert_config(c, &want, 1);
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
	        /* GKeyFile returns a value and an error: the error wins */
	        {"[modem]\nflow-control=non\\e\n", "[modem] flow-control: "},
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
	g_autofree char *dir = test_make_tmp_dir("test-config-XXXXXX");
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
	test_remove_tree(dir);
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
