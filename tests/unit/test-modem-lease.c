/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FotaModem owns its port: one lease holder at a time, in order; nothing
 * but the holder sends, and the holder not while the modem's own boot probe
 * runs; nothing at all while the modem may still count an interrupted
 * package (data mode) or is about to reset; and the probe makes sure each
 * answer pairs with its command. The modem here is a
 * scripted responder on the master side of a real pty that records every
 * line it receives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "modem.h"
#include "test-fake-modem.h"
#include "test-util.h"

#define WAIT_S 5

typedef struct {
	char *dir;
	TestFakeModem *fake;
	FotadConfig *config;
	FotaModem *modem;
	GPtrArray *events; /* "granted:<n>", "failed:<n>" */
} Fixture;

static gboolean
modem_ready(Fixture *f)
{
	for (guint i = 0; i < WAIT_S * 100 && !modem_is_ready(f->modem); i++)
		test_run_for(10);
	return modem_is_ready(f->modem);
}

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);

	f->dir = test_make_tmp_dir("test-modem-lease-XXXXXX");
	f->fake = test_fake_modem_new(f->dir);
	f->events = g_ptr_array_new_with_free_func(g_free);
	f->config = fotad_config_new();
	f->config->port = g_strdup(f->fake->link);
	g_free(f->config->lock_dir);
	f->config->lock_dir = g_strdup(f->dir);
	f->config->flow = SERIAL_FLOW_NONE;
	f->config->timeouts.file_idle_ms = 600;
	f->config->timeouts.command_ms = 1000;
	f->modem = modem_new(f->config);
	modem_start(f->modem);
	assert_true(modem_ready(f));
	g_ptr_array_set_size(f->fake->received, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	g_clear_object(&f->modem);
	test_fake_modem_free(f->fake);
	fotad_config_free(f->config);
	g_ptr_array_unref(f->events);
	test_remove_tree(f->dir);
	g_free(f->dir);
	g_free(f);
	return 0;
}

typedef struct {
	Fixture *f;
	int n;
} Waiter;

static void
acquired(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Waiter *w = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok = modem_acquire_finish(FOTA_MODEM(source), result, &error);

	g_ptr_array_add(w->f->events, g_strdup_printf("%s:%d", ok ? "granted" : "failed", w->n));
}

static void
test_one_holder_in_order(void **state)
{
	Fixture *f = *state;
	Waiter a = {f, 1}, b = {f, 2}, c = {f, 3};

	modem_acquire(f->modem, &a, TRUE, NULL, acquired, &a);
	modem_acquire(f->modem, &b, TRUE, NULL, acquired, &b);
	modem_acquire(f->modem, &c, TRUE, NULL, acquired, &c);
	test_assert_event(f->events, 0, "granted:1", WAIT_S);
	test_run_for(100);
	assert_int_equal(f->events->len, 1);
	assert_true(modem_holds(f->modem, &a));
	assert_false(modem_holds(f->modem, &b));
	modem_release(f->modem, &b); /* not the holder: nothing happens */
	assert_true(modem_holds(f->modem, &a));
	modem_release(f->modem, &a);
	test_assert_event(f->events, 1, "granted:2", WAIT_S);
	modem_release(f->modem, &b);
	test_assert_event(f->events, 2, "granted:3", WAIT_S);
	modem_release(f->modem, &c);
}

static void
command_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GError **error = user_data;
	g_autoptr(AtResponse) response = modem_command_finish(FOTA_MODEM(source), result, error);

	if (*error == NULL)
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "answered");
}

static void
test_only_the_holder_sends(void **state)
{
	Fixture *f = *state;
	Waiter a = {f, 1};
	int intruder;
	g_autoptr(GError) error = NULL;

	modem_acquire(f->modem, &a, TRUE, NULL, acquired, &a);
	test_assert_event(f->events, 0, "granted:1", WAIT_S);
	modem_command(f->modem, &intruder, "AT+CFUN=1,1", NULL, command_done, &error);
	for (guint i = 0; i < WAIT_S * 100 && error == NULL; i++)
		test_run_for(10);
	assert_true(g_error_matches(error, MODEM_ERROR, MODEM_ERROR_NOT_HOLDER));
	test_run_for(100);
	assert_int_equal(f->fake->received->len, 0);
	modem_release(f->modem, &a);
}

static void
info_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	ModemInfo **info = user_data;

	*info = modem_query_info_finish(FOTA_MODEM(source), result, NULL);
}

/* GetModemInfo during a job: the cached identity, nothing on the wire. */
static void
test_query_while_held_is_cached(void **state)
{
	Fixture *f = *state;
	Waiter a = {f, 1};
	g_autoptr(ModemInfo) info = NULL;

	modem_acquire(f->modem, &a, TRUE, NULL, acquired, &a);
	test_assert_event(f->events, 0, "granted:1", WAIT_S);
	modem_query_info(f->modem, NULL, info_done, &info);
	for (guint i = 0; i < WAIT_S * 100 && info == NULL; i++)
		test_run_for(10);
	assert_non_null(info);
	assert_string_equal(info->revision, "EC200TCNDAR02A01M16");
	assert_int_equal(f->fake->received->len, 0);
	modem_release(f->modem, &a);
}

/* After an interrupted transfer the next holder waits for FILEEND, then one
 * AT must answer before anything else is sent. */
static void
test_data_mode_waits_for_fileend(void **state)
{
	Fixture *f = *state;
	Waiter a = {f, 1}, b = {f, 2};

	modem_acquire(f->modem, &a, TRUE, NULL, acquired, &a);
	test_assert_event(f->events, 0, "granted:1", WAIT_S);
	f->config->timeouts.file_idle_ms = 60000; /* only the URC may end it */
	modem_begin_data_mode(f->modem);
	modem_release(f->modem, &a);
	modem_acquire(f->modem, &b, TRUE, NULL, acquired, &b);
	test_run_for(300);
	assert_int_equal(f->events->len, 1);
	assert_int_equal(f->fake->received->len, 0);
	test_fake_modem_urc(f->fake, "+QIND: \"FOTA\",\"FILEEND\",500");
	test_assert_event(f->events, 1, "granted:2", WAIT_S);
	assert_int_equal(f->fake->received->len, 1);
	assert_string_equal(g_ptr_array_index(f->fake->received, 0), "AT");
	modem_release(f->modem, &b);
	assert_null(modem_busy_reason(f->modem)); /* out of data mode */
}

/* Without FILEEND: file-idle-timeout of our silence, then the AT. */
static void
test_data_mode_ends_after_idle(void **state)
{
	Fixture *f = *state;
	Waiter b = {f, 2};
	gint64 begun = g_get_monotonic_time();

	modem_begin_data_mode(f->modem);
	modem_acquire(f->modem, &b, TRUE, NULL, acquired, &b);
	test_run_for(300);
	assert_int_equal(f->events->len, 0);
	assert_int_equal(f->fake->received->len, 0);
	test_assert_event(f->events, 0, "granted:2", WAIT_S);
	assert_true(g_get_monotonic_time() - begun >= 600 * 1000);
	assert_int_equal(f->fake->received->len, 1);
	assert_string_equal(g_ptr_array_index(f->fake->received, 0), "AT");
	modem_release(f->modem, &b);
}

/* After AT+CFUN=1,1 nobody gets the port until it went away, or the reset
 * proved not to come (deadline). */
static void
test_expected_reset_holds_the_port(void **state)
{
	Fixture *f = *state;
	Waiter b = {f, 2};

	modem_expect_reset(f->modem, 700);
	modem_acquire(f->modem, &b, TRUE, NULL, acquired, &b);
	test_run_for(400);
	assert_int_equal(f->events->len, 0);
	test_assert_event(f->events, 0, "granted:2", WAIT_S);
	modem_release(f->modem, &b);
	/* a deadline in the past means no reset is due */
	modem_expect_reset(f->modem, 60 * 1000);
	modem_expect_reset(f->modem, 0);
	modem_acquire(f->modem, &b, TRUE, NULL, acquired, &b);
	test_assert_event(f->events, 1, "granted:2", WAIT_S);
	modem_release(f->modem, &b);
}

/* A modem that reboots under the holder (on a UART only its "RDY" says so)
 * is settled, probed and identified before the holder's next command goes
 * out: the modem's own lines and the holder's never interleave. */
static void
test_holder_waits_for_the_probe(void **state)
{
	Fixture *f = *state;
	Waiter a = {f, 1};
	g_autoptr(GError) error = NULL;
	const char *const expected[] = {"AT", "ATE0", "ATI", "AT+CGSN", "AT+QFOTADL=?", "AT+CSQ"};

	f->config->port_kind = FOTAD_PORT_KIND_UART;
	f->config->timeouts.boot_settle_ms = 600; /* a quiet gap of 201 ms */
	modem_acquire(f->modem, &a, TRUE, NULL, acquired, &a);
	test_assert_event(f->events, 0, "granted:1", WAIT_S);
	test_fake_modem_urc(f->fake, "RDY");
	for (guint i = 0; i < WAIT_S * 100 && modem_is_ready(f->modem); i++)
		test_run_for(10);
	assert_false(modem_is_ready(f->modem));
	modem_command(f->modem, &a, "AT+CSQ", NULL, command_done, &error);
	for (guint i = 0; i < WAIT_S * 100 && error == NULL; i++)
		test_run_for(10);
	assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS)); /* answered */
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		assert_true(i < f->fake->received->len);
		assert_string_equal(g_ptr_array_index(f->fake->received, i), expected[i]);
	}
	assert_int_equal(f->fake->received->len, G_N_ELEMENTS(expected));
	assert_true(modem_is_ready(f->modem));
	assert_true(modem_holds(f->modem, &a));
	modem_release(f->modem, &a);
}

/* The daemon was killed while the modem still owed an answer: the probe
 * takes it, the probe's own OK follows unasked, and the modem probes again
 * before identifying, so no later command gets an earlier one's answer. */
static void
test_probe_skips_an_owed_answer(void **state)
{
	Fixture *f = *state;
	const char *const expected[] = {"AT", "AT", "ATE0", "ATI", "AT+CGSN", "AT+QFOTADL=?"};

	g_clear_object(&f->modem);
	test_fake_modem_owe(f->fake, "\r\nQuectel\r\nEC200T\r\nRevision: "
	                             "EC200TCNDAR02A04M16\r\n\r\nOK\r\n");
	g_ptr_array_set_size(f->fake->received, 0);
	f->modem = modem_new(f->config);
	modem_start(f->modem);
	assert_true(modem_ready(f));
	assert_string_equal(modem_get_info(f->modem)->revision, "EC200TCNDAR02A01M16");
	assert_string_equal(modem_get_info(f->modem)->imei, "867123456789012");
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		assert_true(i < f->fake->received->len);
		assert_string_equal(g_ptr_array_index(f->fake->received, i), expected[i]);
	}
	assert_int_equal(f->fake->received->len, G_N_ELEMENTS(expected));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_one_holder_in_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_only_the_holder_sends, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_query_while_held_is_cached, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_data_mode_waits_for_fileend, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_data_mode_ends_after_idle, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_expected_reset_holds_the_port, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_holder_waits_for_the_probe, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_probe_skips_an_owed_answer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
