/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* modem-identify: the identification sequence (ATE0, ATI, [AT+QGMR],
 * AT+CGSN, AT+QFOTADL=?) on a FotaAtChannel over a real pty. The modem is
 * tests/common's scripted pty modem (an EC200T); the tests that need other
 * answers replace its responder with a script of their own: no revision in
 * ATI, refusals, silence, a hang-up, echo and URCs between the lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

#include "modem-identify.h"
#include "serial-port.h"
#include "test-fake-modem.h"
#include "test-util.h"

#define WAIT_S     5
#define COMMAND_MS 1000

/* A script line: the answer to a command, written as the modem would. */
#define SILENCE NULL       /* no answer at all */
#define HANGUP  "<hangup>" /* the port goes away (the tty vanishes) */

typedef struct {
	const char *command;
	const char *answer;
} Step;

typedef struct {
	char *dir;
	TestFakeModem *fake;
	FotaAtChannel *channel;
	const Step *script;              /* NULL: the fake modem's own answers */
	GCancellable *cancel_on_silence; /* cancelled when a command goes unanswered */
	gboolean done;
	ModemInfo *info;
	GError *error;
} Fixture;

static const ModemInfo seed = {
        .port = "/dev/ttyUSB2",
        .port_identity = "usb:2c7c:6026:1-1",
        .flow = SERIAL_FLOW_HARDWARE,
        /* what an earlier identification said: never carried over */
        .model = "EC600S",
        .revision = "EC600SCNAAR01A05M08",
        .imei = "000000000000000",
};

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);
	AtChannelConfig config = {.late_reply_grace_ms = 100};
	g_autoptr(GError) error = NULL;
	int fd;

	f->dir = test_make_tmp_dir("test-modem-identify-XXXXXX");
	f->fake = test_fake_modem_new(f->dir);
	fd = serial_port_open(f->fake->link, 115200, SERIAL_FLOW_NONE, &error);
	assert_null(error);
	f->channel = at_channel_new(fd, &config);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	at_channel_close(f->channel);
	g_clear_object(&f->channel);
	test_fake_modem_free(f->fake);
	g_clear_pointer(&f->info, modem_info_free);
	g_clear_error(&f->error);
	test_remove_tree(f->dir);
	g_free(f->dir);
	g_free(f);
	return 0;
}

static const char *
script_answer(const Step *script, const char *command)
{
	for (guint i = 0; script[i].command != NULL; i++) {
		if (g_str_equal(script[i].command, command))
			return script[i].answer;
	}
	return "\r\nOK\r\n";
}

/* The modem's side: every line ends at CR; answered from the script. */
static gboolean
on_scripted(int fd, GIOCondition condition, gpointer user_data)
{
	Fixture *f = user_data;
	char buf[256];
	gssize n = read(fd, buf, sizeof(buf));

	for (gssize i = 0; i < n; i++) {
		const char *answer;

		if (buf[i] != '\r') {
			g_string_append_c(f->fake->pending, buf[i]);
			continue;
		}
		g_ptr_array_add(f->fake->received, g_strdup(f->fake->pending->str));
		answer = script_answer(f->script, f->fake->pending->str);
		g_string_truncate(f->fake->pending, 0);
		if (answer == SILENCE) {
			if (f->cancel_on_silence != NULL)
				g_cancellable_cancel(f->cancel_on_silence);
			continue;
		}
		if (g_str_equal(answer, HANGUP)) {
			close(f->fake->master);
			f->fake->master = -1;
			f->fake->watch = 0;
			return G_SOURCE_REMOVE;
		}
		assert_int_equal(write(fd, answer, strlen(answer)), strlen(answer));
	}
	if (n > 0)
		return G_SOURCE_CONTINUE;
	f->fake->watch = 0;
	return G_SOURCE_REMOVE;
}

static void
use_script(Fixture *f, const Step *script)
{
	f->script = script;
	g_clear_handle_id(&f->fake->watch, g_source_remove);
	f->fake->watch = g_unix_fd_add(f->fake->master, G_IO_IN, on_scripted, f);
}

static void
identified(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Fixture *f = user_data;

	f->info = modem_identify_run_finish(result, &f->error);
	f->done = TRUE;
}

/* Runs the identification to its end (bounded); TRUE when it succeeded. */
static gboolean
identify(Fixture *f, guint command_ms, GCancellable *cancellable)
{
	modem_identify_run(f->channel, &seed, command_ms, cancellable, identified, f);
	for (guint i = 0; i < WAIT_S * 100 && !f->done; i++)
		test_run_for(10);
	assert_true(f->done);
	assert_true((f->info != NULL) != (f->error != NULL));
	return f->info != NULL;
}

static void
assert_sent(Fixture *f, const char *const *commands)
{
	guint n = g_strv_length((char **)commands);

	for (guint i = 0; i < f->fake->received->len || i < n; i++) {
		const char *got = i < f->fake->received->len
		                          ? g_ptr_array_index(f->fake->received, i)
		                          : "(nothing)";

		if (i >= n)
			fail_msg("command %u: %s after the expected ones", i, got);
		if (!g_str_equal(got, commands[i]))
			fail_msg("command %u: %s, expected %s", i, got, commands[i]);
	}
}

static void
assert_identify_error(Fixture *f, GQuark domain, int code, const char *message)
{
	if (!g_error_matches(f->error, domain, code))
		fail_msg("expected %s %d, got %s", g_quark_to_string(domain), code,
		         f->error ? f->error->message : "success");
	if (!g_str_equal(f->error->message, message))
		fail_msg("message \"%s\", expected \"%s\"", f->error->message, message);
}

/* The fake modem as it is: an EC200T that answers everything. */
static void
test_ec200t(void **state)
{
	Fixture *f = *state;
	const char *const sent[] = {"ATE0", "ATI", "AT+CGSN", "AT+QFOTADL=?", NULL};

	assert_true(identify(f, COMMAND_MS, NULL));
	assert_sent(f, sent); /* no AT+QGMR: ATI had the revision */
	assert_string_equal(f->info->manufacturer, "Quectel");
	assert_string_equal(f->info->model, "EC200T");
	assert_string_equal(f->info->revision, "EC200TCNDAR02A01M16");
	assert_string_equal(f->info->imei, "867123456789012");
	assert_int_equal(f->info->kind, FOTA_UPGRADE_KIND_FOTA);
	/* the seed's port, identity and flow; nothing else of it */
	assert_string_equal(f->info->port, seed.port);
	assert_string_equal(f->info->port_identity, seed.port_identity);
	assert_int_equal(f->info->flow, SERIAL_FLOW_HARDWARE);
	/* the ranges, as text and parsed */
	assert_string_equal(f->info->qfotadl_ranges, "<url>,(0,1),(0,5-100),(0,5-100)");
	assert_true(f->info->ranges_valid);
	assert_true(at_range_list_contains(&f->info->ranges.upgrade_mode, 0));
	assert_true(at_range_list_contains(&f->info->ranges.upgrade_mode, 1));
	assert_false(at_range_list_contains(&f->info->ranges.upgrade_mode, 2));
	assert_true(at_range_list_contains(&f->info->ranges.download_urc_max, 0));
	assert_true(at_range_list_contains(&f->info->ranges.download_urc_max, 5));
	assert_true(at_range_list_contains(&f->info->ranges.download_urc_max, 100));
	assert_false(at_range_list_contains(&f->info->ranges.download_urc_max, 3));
	assert_true(at_range_list_contains(&f->info->ranges.update_urc_max, 50));
}

/* A delta model; echo still on for ATE0, URCs between the lines of the
 * answers, a quoted IMEI with its prefix, no update_URC_max. */
static void
test_dfota_with_echo_and_urcs(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"ATE0", "ATE0\r\r\nOK\r\n"},
	        {"ATI", "\r\nQuectel\r\n\r\n+QIND: \"csq\",20,99\r\nEC200S\r\n+CREG: 1\r\n"
	                "Revision: EC200SCNAAR03A07M08\r\n\r\nOK\r\n"},
	        {"AT+CGSN", "\r\n+CGSN: \"866000000000001\"\r\n\r\nOK\r\n"},
	        {"AT+QFOTADL=?", "\r\n+QIND: \"act\",\"LTE\"\r\n"
	                         "\r\n+QFOTADL: <url>,(0,1),(0,5-100)\r\n\r\nOK\r\n"},
	        {NULL, NULL},
	};

	use_script(f, script);
	assert_true(identify(f, COMMAND_MS, NULL));
	assert_string_equal(f->info->model, "EC200S");
	assert_string_equal(f->info->revision, "EC200SCNAAR03A07M08");
	assert_string_equal(f->info->imei, "866000000000001");
	assert_int_equal(f->info->kind, FOTA_UPGRADE_KIND_DFOTA);
	assert_string_equal(f->info->qfotadl_ranges, "<url>,(0,1),(0,5-100)");
	assert_true(f->info->ranges_valid);
	assert_int_equal(f->info->ranges.update_urc_max.n, 0);
}

/* ATI without a revision line: AT+QGMR is asked, its bare line counts. */
static void
test_revision_from_qgmr(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"ATI", "\r\nQuectel\r\nEC200T\r\n\r\nOK\r\n"},
	        {"AT+QGMR", "\r\nEC200TCNDAR02A06M16\r\n\r\nOK\r\n"},
	        {"AT+CGSN", "\r\n867123456789012\r\n\r\nOK\r\n"},
	        {NULL, NULL},
	};
	const char *const sent[] = {"ATE0", "ATI", "AT+QGMR", "AT+CGSN", "AT+QFOTADL=?", NULL};

	use_script(f, script);
	assert_true(identify(f, COMMAND_MS, NULL));
	assert_sent(f, sent);
	assert_string_equal(f->info->model, "EC200T");
	assert_string_equal(f->info->revision, "EC200TCNDAR02A06M16");
}

/* Neither ATI nor AT+QGMR name a revision: no identity (and not the seed's). */
static void
test_no_revision_anywhere(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"ATI", "\r\nQuectel\r\nEC200T\r\n\r\nOK\r\n"},
	        {"AT+QGMR", "\r\nOK\r\n"},
	        {NULL, NULL},
	};
	const char *const sent[] = {"ATE0", "ATI", "AT+QGMR", NULL};

	use_script(f, script);
	assert_false(identify(f, COMMAND_MS, NULL));
	assert_true(g_error_matches(f->error, MODEM_ERROR, MODEM_ERROR_IDENTIFY));
	assert_true(g_str_has_prefix(f->error->message,
	                             "cannot read the revision from ATI or AT+QGMR: "));
	assert_sent(f, sent);
}

static void
test_qgmr_refused(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"ATI", "\r\nQuectel\r\nEC200T\r\n\r\nOK\r\n"},
	        {"AT+QGMR", "\r\nERROR\r\n"},
	        {NULL, NULL},
	};

	use_script(f, script);
	assert_false(identify(f, COMMAND_MS, NULL));
	assert_identify_error(f, MODEM_ERROR, MODEM_ERROR_IDENTIFY,
	                      "AT+QGMR: modem answered ERROR");
}

/* ATI refused: the identification ends there, with the command named. */
static void
test_ati_refused(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"ATI", "\r\nERROR\r\n"},
	        {NULL, NULL},
	};
	const char *const sent[] = {"ATE0", "ATI", NULL};

	use_script(f, script);
	assert_false(identify(f, COMMAND_MS, NULL));
	assert_identify_error(f, MODEM_ERROR, MODEM_ERROR_IDENTIFY, "ATI: modem answered ERROR");
	test_run_for(100); /* a window: a next command would be written by now */
	assert_sent(f, sent);
}

static void
test_ati_without_a_model(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"ATI", "\r\nOK\r\n"},
	        {NULL, NULL},
	};

	use_script(f, script);
	assert_false(identify(f, COMMAND_MS, NULL));
	assert_true(g_error_matches(f->error, MODEM_ERROR, MODEM_ERROR_IDENTIFY));
	assert_true(g_str_has_prefix(f->error->message, "cannot read the model from ATI: "));
}

/* ATI unanswered: the command's own time, then IDENTIFY naming it. */
static void
test_ati_silent(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"ATI", SILENCE},
	        {NULL, NULL},
	};
	gint64 begun = g_get_monotonic_time();

	use_script(f, script);
	assert_false(identify(f, 300, NULL));
	assert_identify_error(f, MODEM_ERROR, MODEM_ERROR_IDENTIFY, "ATI: no reply within 300 ms");
	assert_true(g_get_monotonic_time() - begun >= 300 * 1000);
}

/* The IMEI and the ranges only add detail: refused or unanswered, the
 * identification still succeeds, without them. */
static void
test_imei_and_ranges_refused(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"AT+CGSN", "\r\n+CME ERROR: 10\r\n"},
	        {"AT+QFOTADL=?", "\r\nERROR\r\n"},
	        {"ATI", "\r\nQuectel\r\nEC200T\r\nRevision: EC200TCNDAR02A01M16\r\n\r\nOK\r\n"},
	        {NULL, NULL},
	};

	use_script(f, script);
	assert_true(identify(f, COMMAND_MS, NULL));
	assert_string_equal(f->info->revision, "EC200TCNDAR02A01M16");
	assert_string_equal(f->info->imei, "");
	assert_null(f->info->qfotadl_ranges);
	assert_false(f->info->ranges_valid);
}

static void
test_imei_silent_ranges_garbled(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"AT+CGSN", SILENCE},
	        {"AT+QFOTADL=?", "\r\n+QFOTADL: <url>,(zero,one)\r\n\r\nOK\r\n"},
	        {"ATI", "\r\nQuectel\r\nEC200T\r\nRevision: EC200TCNDAR02A01M16\r\n\r\nOK\r\n"},
	        {NULL, NULL},
	};

	use_script(f, script);
	assert_true(identify(f, 300, NULL));
	assert_string_equal(f->info->imei, "");
	/* kept as text for GetModemInfo, not used to fit options */
	assert_string_equal(f->info->qfotadl_ranges, "<url>,(zero,one)");
	assert_false(f->info->ranges_valid);
}

/* The tty vanishes (a reboot) during ATI: ABSENT, naming the command. */
static void
test_port_gone(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"ATI", HANGUP},
	        {NULL, NULL},
	};

	use_script(f, script);
	assert_false(identify(f, COMMAND_MS, NULL));
	assert_identify_error(f, MODEM_ERROR, MODEM_ERROR_ABSENT,
	                      "the modem port went away during ATI");
}

/* Cancelled while AT+CGSN waits for its answer: G_IO_ERROR_CANCELLED, and
 * nothing more is sent. */
static void
test_cancelled(void **state)
{
	Fixture *f = *state;
	static const Step script[] = {
	        {"AT+CGSN", SILENCE},
	        {"ATI", "\r\nQuectel\r\nEC200T\r\nRevision: EC200TCNDAR02A01M16\r\n\r\nOK\r\n"},
	        {NULL, NULL},
	};
	const char *const sent[] = {"ATE0", "ATI", "AT+CGSN", NULL};
	g_autoptr(GCancellable) cancellable = g_cancellable_new();

	use_script(f, script);
	f->cancel_on_silence = cancellable;
	assert_false(identify(f, 3000, cancellable));
	assert_true(g_error_matches(f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
	test_run_for(100); /* a window: a next command would be written by now */
	assert_sent(f, sent);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_ec200t, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dfota_with_echo_and_urcs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_revision_from_qgmr, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_revision_anywhere, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_qgmr_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ati_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ati_without_a_model, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ati_silent, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_imei_and_ranges_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_imei_silent_ranges_garbled, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_port_gone, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancelled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
