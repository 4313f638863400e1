/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "at-channel.h"
#include "serial-port.h"
#include "test-util.h"

/* Every wait of the tests: iterates the loop until @cond, at most 20 s. */
#define WAIT_UNTIL(cond)                                                                           \
	do {                                                                                       \
		gint64 deadline_ = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;                   \
		while (!(cond)) {                                                                  \
			if (g_get_monotonic_time() > deadline_)                                    \
				fail_msg("timed out waiting for %s", #cond);                       \
			g_main_context_iteration(NULL, FALSE) || (g_usleep(200), TRUE);            \
		}                                                                                  \
	} while (0)

/* The test plays the modem on the master side of a pty; the channel owns
 * the slave, opened by serial_port_open() like a real tty. */

typedef struct {
	const char *command;
	const char *reply; /* raw bytes to send back; NULL: stay silent */
	guint delay_ms;
} ScriptStep;

typedef struct {
	int master;
	GSource *watch;
	gboolean echo;
	const ScriptStep *script;
	GString *rx;
	GPtrArray *commands;    /* what the modem received, in order */
	GArray *command_times;  /* gint64 monotonic arrival of each */
	gint64 last_reply_time; /* when the last scripted reply went out */
	guint outstanding;      /* replies scheduled but not yet sent */
	guint overlaps;         /* commands received while a reply was outstanding */
	/* sink mode: everything read is hashed and checked against pattern_byte() */
	gboolean sink;
	guint64 sink_received;
	guint64 sink_mismatches;
	gsize sink_max_read; /* over a SOCK_SEQPACKET port: the largest write */
	GChecksum *sink_sum;
} FakeModem;

static guint8
pattern_byte(guint64 i)
{
	guint32 x = (guint32)(i * 2654435761u) ^ (guint32)(i >> 20);
	x ^= x >> 15;
	return (guint8)(x ^ (x >> 8));
}

static void
modem_write(FakeModem *m, const char *data)
{
	gsize len = strlen(data);

	while (len > 0) {
		gssize n = write(m->master, data, len);
		if (n < 0 && errno == EAGAIN) {
			g_usleep(1000);
			continue;
		}
		assert_true(n > 0);
		data += n;
		len -= (gsize)n;
	}
}

typedef struct {
	FakeModem *modem;
	const char *reply;
} PendingReply;

static gboolean
send_delayed_reply(gpointer user_data)
{
	PendingReply *p = user_data;

	modem_write(p->modem, p->reply);
	p->modem->outstanding--;
	p->modem->last_reply_time = g_get_monotonic_time();
	g_free(p);
	return G_SOURCE_REMOVE;
}

static const ScriptStep *
find_step(FakeModem *m, const char *command)
{
	for (const ScriptStep *s = m->script; s != NULL && s->command != NULL; s++) {
		if (strcmp(s->command, command) == 0)
			return s;
	}
	return NULL;
}

static void
modem_handle_command(FakeModem *m, const char *command)
{
	const ScriptStep *step = find_step(m, command);
	gint64 now = g_get_monotonic_time();

	if (m->outstanding > 0)
		m->overlaps++;
	g_ptr_array_add(m->commands, g_strdup(command));
	g_array_append_val(m->command_times, now);
	if (m->echo) {
		modem_write(m, command);
		modem_write(m, "\r\r\n");
	}
	if (step == NULL) {
		modem_write(m, "\r\nERROR\r\n");
	} else if (step->reply != NULL && step->delay_ms == 0) {
		modem_write(m, step->reply);
		m->last_reply_time = now;
	} else if (step->reply != NULL) {
		PendingReply *p = g_new0(PendingReply, 1);
		p->modem = m;
		p->reply = step->reply;
		m->outstanding++;
		g_timeout_add(step->delay_ms, send_delayed_reply, p);
	}
}

static void
modem_sink(FakeModem *m, const guint8 *buf, gsize n)
{
	g_checksum_update(m->sink_sum, buf, (gssize)n);
	m->sink_max_read = MAX(m->sink_max_read, n);
	for (gsize i = 0; i < n; i++) {
		if (buf[i] != pattern_byte(m->sink_received + i))
			m->sink_mismatches++;
	}
	m->sink_received += n;
}

static gboolean
on_master_input(int fd, GIOCondition cond, gpointer user_data)
{
	FakeModem *m = user_data;
	guint8 buf[65536];
	gssize n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return G_SOURCE_CONTINUE;
	if (m->sink) {
		modem_sink(m, buf, (gsize)n);
		return G_SOURCE_CONTINUE;
	}
	for (gssize i = 0; i < n; i++) {
		if (buf[i] == '\r') {
			modem_handle_command(m, m->rx->str);
			g_string_truncate(m->rx, 0);
		} else {
			g_string_append_c(m->rx, (char)buf[i]);
		}
	}
	return G_SOURCE_CONTINUE;
}

typedef struct {
	FakeModem modem;
	FotaAtChannel *channel;
	GPtrArray *urcs;
	guint port_lost;
} Fixture;

static void
on_urc(FotaAtChannel *channel, const char *line, Fixture *f)
{
	g_ptr_array_add(f->urcs, g_strdup(line));
}

static void
on_port_lost(FotaAtChannel *channel, GError *error, Fixture *f)
{
	assert_true(g_error_matches(error, AT_ERROR, AT_ERROR_PORT_LOST));
	f->port_lost++;
}

static void
modem_listen(FakeModem *m)
{
	m->watch = g_unix_fd_source_new(m->master, G_IO_IN);
	g_source_set_callback(m->watch, G_SOURCE_FUNC(on_master_input), m, NULL);
	g_source_attach(m->watch, NULL);
}

/* The modem stops reading: the port fills up and writes block. */
static void
modem_pause(FakeModem *m)
{
	g_source_destroy(m->watch);
	g_clear_pointer(&m->watch, g_source_unref);
}

static Fixture *
fixture_new_on(int master, int fd, guint grace_ms)
{
	Fixture *f = g_new0(Fixture, 1);
	AtChannelConfig cfg = {.late_reply_grace_ms = grace_ms};

	f->modem.master = master;
	f->modem.rx = g_string_new(NULL);
	f->modem.commands = g_ptr_array_new_with_free_func(g_free);
	f->modem.command_times = g_array_new(FALSE, FALSE, sizeof(gint64));
	f->modem.sink_sum = g_checksum_new(G_CHECKSUM_SHA256);
	modem_listen(&f->modem);
	f->channel = at_channel_new(fd, &cfg);
	f->urcs = g_ptr_array_new_with_free_func(g_free);
	g_signal_connect(f->channel, "urc", G_CALLBACK(on_urc), f);
	g_signal_connect(f->channel, "port-lost", G_CALLBACK(on_port_lost), f);
	return f;
}

static Fixture *
fixture_new(SerialFlow flow, guint grace_ms)
{
	g_autoptr(GError) error = NULL;
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	int fd;

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	fd = serial_port_open(ptsname(master), 115200, flow, &error);
	if (fd < 0)
		fail_msg("serial_port_open: %s", error->message);
	return fixture_new_on(master, fd, grace_ms);
}

static void
close_master(Fixture *f)
{
	if (f->modem.master < 0)
		return;
	if (f->modem.watch != NULL)
		modem_pause(&f->modem);
	close(f->modem.master);
	f->modem.master = -1;
}

static void
run_for(guint ms)
{
	gint64 end = g_get_monotonic_time() + ms * G_TIME_SPAN_MILLISECOND;

	while (g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, FALSE) || (g_usleep(500), TRUE);
}

static int
fixture_teardown(void **state)
{
	Fixture *f = *state;

	g_object_unref(f->channel);
	close_master(f);
	/* Let delayed replies of the script fire (they hold pointers to f). */
	WAIT_UNTIL(f->modem.outstanding == 0);
	g_string_free(f->modem.rx, TRUE);
	g_ptr_array_unref(f->modem.commands);
	g_array_unref(f->modem.command_times);
	g_checksum_free(f->modem.sink_sum);
	g_ptr_array_unref(f->urcs);
	g_free(f);
	return 0;
}

static int
setup_flow(void **state)
{
	*state = fixture_new(SERIAL_FLOW_HARDWARE, 300);
	return 0;
}

static int
setup_noflow(void **state)
{
	*state = fixture_new(SERIAL_FLOW_NONE, 300);
	return 0;
}

/* ---- Command helpers ---------------------------------------------------- */

typedef struct {
	gboolean done;
	AtResponse *response;
	GError *error;
	gint64 when;
} Result;

static void
result_clear(Result *r)
{
	g_clear_pointer(&r->response, at_response_free);
	g_clear_error(&r->error);
}

static void
on_command_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Result *r = user_data;

	r->response = at_channel_command_finish(FOTA_AT_CHANNEL(source), res, &r->error);
	assert_true((r->response == NULL) != (r->error == NULL));
	r->done = TRUE;
	r->when = g_get_monotonic_time();
}

static void
wait_for(gboolean *done)
{
	WAIT_UNTIL(*done);
}

static void
run_command(Fixture *f, const char *command, guint timeout_ms, Result *r)
{
	memset(r, 0, sizeof(*r));
	at_channel_command(f->channel, command, timeout_ms, NULL, on_command_done, r);
	wait_for(&r->done);
}

static char *
join_lines(const AtResponse *r)
{
	return g_strjoinv("|", r->lines);
}

static void
assert_response(const Result *r, const char *lines, const char *final)
{
	g_autofree char *got = NULL;

	if (r->error != NULL)
		fail_msg("unexpected error: %s", r->error->message);
	got = join_lines(r->response);
	assert_string_equal(got, lines);
	assert_string_equal(r->response->final, final);
}

/* ---- Tests --------------------------------------------------------------- */

static const ScriptStep basic_script[] = {
        {"ATI", "\r\nQuectel\r\nEC200T\r\nRevision: EC200TCNDAR02A07M16\r\n\r\nOK\r\n", 0},
        {"AT+QGMR", "\r\nEC200TCNDAR02A07M16_01.001.01.001\r\n\r\nOK\r\n", 0},
        {"AT+MID", "\r\nfirst\r\n+QIND: SMS DONE\r\nsecond\r\nRDY\r\n\r\nOK\r\n", 0},
        {"AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n", 0},
        {"AT+CME", "\r\n+CME ERROR: 10\r\n", 0},
        {"AT+CMETEXT", "\r\n+CME ERROR: SIM not inserted\r\n", 0},
        {"AT+CMS", "\r\n+CMS ERROR: 500\r\n", 0},
        {"ATD", "\r\nCONNECT 115200\r\n", 0},
        {"AT+SILENT", NULL, 0},
        {0},
};

static void
check_basic_commands(Fixture *f)
{
	Result r;

	f->modem.script = basic_script;
	run_command(f, "ATI", 1000, &r);
	assert_response(&r, "Quectel|EC200T|Revision: EC200TCNDAR02A07M16", "OK");
	result_clear(&r);
	run_command(f, "AT+QGMR", 1000, &r);
	assert_response(&r, "EC200TCNDAR02A07M16_01.001.01.001", "OK");
	result_clear(&r);
	run_command(f, "ATD", 1000, &r);
	assert_response(&r, "", "CONNECT 115200");
	result_clear(&r);
	assert_int_equal(f->urcs->len, 0);
}

static void
test_command_echo_off(void **state)
{
	check_basic_commands(*state);
}

static void
test_command_echo_on(void **state)
{
	Fixture *f = *state;

	f->modem.echo = TRUE;
	check_basic_commands(f);
}

static void
test_urc_inside_response(void **state)
{
	Fixture *f = *state;
	Result r;

	f->modem.script = basic_script;
	f->modem.echo = TRUE;
	run_command(f, "AT+MID", 1000, &r);
	assert_response(&r, "first|second", "OK");
	result_clear(&r);
	assert_int_equal(f->urcs->len, 2);
	assert_string_equal(g_ptr_array_index(f->urcs, 0), "+QIND: SMS DONE");
	assert_string_equal(g_ptr_array_index(f->urcs, 1), "RDY");

	/* A URC-looking line that answers the command stays in the response. */
	run_command(f, "AT+CPIN?", 1000, &r);
	assert_response(&r, "+CPIN: READY", "OK");
	result_clear(&r);
	assert_int_equal(f->urcs->len, 2);
}

static void
test_urc_while_idle(void **state)
{
	Fixture *f = *state;

	modem_write(&f->modem, "\r\nRDY\r\n\r\n+CPIN: READY\r\nOK\r\n");
	WAIT_UNTIL(at_channel_get_unpaired_finals(f->channel) == 1);
	assert_int_equal(f->urcs->len, 2);
	assert_string_equal(g_ptr_array_index(f->urcs, 0), "RDY");
	assert_string_equal(g_ptr_array_index(f->urcs, 1), "+CPIN: READY");
	/* a final result with nothing in flight answers somebody else's
	 * command: counted, not handed out as a URC */
}

static void
test_modem_errors(void **state)
{
	static const struct {
		const char *command;
		AtError code;
		const char *message;
	} cases[] = {
	        {"AT+CME", AT_ERROR_CME, "AT+CME: +CME ERROR: 10"},
	        {"AT+CMETEXT", AT_ERROR_CME, "AT+CMETEXT: +CME ERROR: SIM not inserted"},
	        {"AT+CMS", AT_ERROR_CMS, "AT+CMS: +CMS ERROR: 500"},
	        {"AT+UNKNOWN", AT_ERROR_MODEM, "AT+UNKNOWN: modem answered ERROR"},
	};
	Fixture *f = *state;

	f->modem.script = basic_script;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		Result r;
		run_command(f, cases[i].command, 1000, &r);
		assert_true(g_error_matches(r.error, AT_ERROR, cases[i].code));
		assert_string_equal(r.error->message, cases[i].message);
		result_clear(&r);
	}
}

static const ScriptStep late_script[] = {
        {"AT+SLOW", "\r\nslow answer\r\n\r\nOK\r\n", 200},
        {"AT+SILENT", NULL, 0},
        {"AT+NEXT", "\r\nnext answer\r\n\r\nOK\r\n", 0},
        {0},
};

static void
test_timeout_and_late_reply(void **state)
{
	Fixture *f = *state;
	Result slow = {0}, next = {0};

	f->modem.script = late_script;
	f->modem.echo = TRUE;
	at_channel_command(f->channel, "AT+SLOW", 100, NULL, on_command_done, &slow);
	at_channel_command(f->channel, "AT+NEXT", 1000, NULL, on_command_done, &next);
	wait_for(&slow.done);
	assert_true(g_error_matches(slow.error, AT_ERROR, AT_ERROR_TIMEOUT));
	assert_false(at_error_is_port_gone(slow.error)); /* the port is still there */
	assert_string_equal(slow.error->message, "AT+SLOW: no reply within 100 ms");
	wait_for(&next.done);
	/* The late "slow answer / OK" was swallowed, not taken as AT+NEXT's. */
	assert_response(&next, "next answer", "OK");
	assert_int_equal(f->modem.commands->len, 2);
	assert_true(g_array_index(f->modem.command_times, gint64, 1) >= f->modem.last_reply_time ||
	            f->modem.last_reply_time == 0);
	assert_int_equal(f->modem.overlaps, 0);
	assert_int_equal(f->urcs->len, 0);
	result_clear(&slow);
	result_clear(&next);
}

static void
test_timeout_holds_queue_for_grace(void **state)
{
	Fixture *f = *state;
	Result silent = {0}, next = {0};
	gint64 gap;

	f->modem.script = late_script;
	at_channel_command(f->channel, "AT+SILENT", 50, NULL, on_command_done, &silent);
	at_channel_command(f->channel, "AT+NEXT", 1000, NULL, on_command_done, &next);
	wait_for(&next.done);
	assert_true(g_error_matches(silent.error, AT_ERROR, AT_ERROR_TIMEOUT));
	assert_response(&next, "next answer", "OK");
	/* No late reply came: AT+NEXT waited out the 300 ms grace. */
	gap = g_array_index(f->modem.command_times, gint64, 1) - silent.when;
	assert_true(gap >= 290 * G_TIME_SPAN_MILLISECOND);
	result_clear(&silent);
	result_clear(&next);
}

static const ScriptStep queue_script[] = {
        {"AT+A", "\r\nanswer A\r\nOK\r\n", 30},
        {"AT+B", "\r\nanswer B\r\nOK\r\n", 10},
        {"AT+C", "\r\nanswer C\r\nOK\r\n", 20},
        {0},
};

static void
test_queue_of_three(void **state)
{
	Fixture *f = *state;
	Result r[3] = {0};
	const char *names[] = {"A", "B", "C"};

	f->modem.script = queue_script;
	for (guint i = 0; i < 3; i++) {
		g_autofree char *cmd = g_strdup_printf("AT+%s", names[i]);
		at_channel_command(f->channel, cmd, 1000, NULL, on_command_done, &r[i]);
	}
	wait_for(&r[2].done);
	for (guint i = 0; i < 3; i++) {
		g_autofree char *want = g_strdup_printf("answer %s", names[i]);
		g_autofree char *cmd = g_strdup_printf("AT+%s", names[i]);
		assert_true(r[i].done);
		assert_response(&r[i], want, "OK");
		assert_string_equal(g_ptr_array_index(f->modem.commands, i), cmd);
		result_clear(&r[i]);
	}
	assert_true(r[0].when <= r[1].when && r[1].when <= r[2].when);
	assert_int_equal(f->modem.overlaps, 0);
}

static void
test_invalid_command_writes_nothing(void **state)
{
	Fixture *f = *state;
	const char *bad[] = {"AT\r+QGMR", "AT\n", "", "ATI\rATI"};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		Result r;
		run_command(f, bad[i], 1000, &r);
		assert_true(g_error_matches(r.error, AT_ERROR, AT_ERROR_INVALID));
		result_clear(&r);
	}
	run_for(50);
	assert_int_equal(f->modem.commands->len, 0);
	assert_int_equal(f->modem.rx->len, 0);
}

static void
test_cancel(void **state)
{
	Fixture *f = *state;
	g_autoptr(GCancellable) c1 = g_cancellable_new();
	g_autoptr(GCancellable) c2 = g_cancellable_new();
	Result slow = {0}, queued = {0}, next = {0};

	f->modem.script = late_script;
	at_channel_command(f->channel, "AT+SLOW", 5000, c1, on_command_done, &slow);
	at_channel_command(f->channel, "AT+SILENT", 5000, c2, on_command_done, &queued);
	at_channel_command(f->channel, "AT+NEXT", 1000, NULL, on_command_done, &next);
	run_for(20);
	g_cancellable_cancel(c2); /* queued: removed, never sent */
	g_cancellable_cancel(c1); /* in flight: abandoned, its late reply swallowed */
	wait_for(&next.done);
	assert_true(g_error_matches(slow.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
	assert_true(g_error_matches(queued.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
	assert_response(&next, "next answer", "OK");
	assert_int_equal(f->modem.commands->len, 2);
	assert_string_equal(g_ptr_array_index(f->modem.commands, 1), "AT+NEXT");
	result_clear(&slow);
	result_clear(&queued);
	result_clear(&next);
}

static gint64
cpu_time_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (gint64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void
test_hangup(void **state)
{
	Fixture *f = *state;
	Result inflight = {0}, queued = {0}, after = {0};
	gint64 cpu;

	f->modem.script = basic_script;
	at_channel_command(f->channel, "AT+SILENT", 5000, NULL, on_command_done, &inflight);
	at_channel_command(f->channel, "ATI", 5000, NULL, on_command_done, &queued);
	run_for(20);
	close_master(f);
	wait_for(&queued.done);
	assert_true(g_error_matches(inflight.error, AT_ERROR, AT_ERROR_PORT_LOST));
	assert_true(g_error_matches(queued.error, AT_ERROR, AT_ERROR_PORT_LOST));
	assert_true(at_error_is_port_gone(inflight.error));
	assert_int_equal(f->port_lost, 1);
	assert_false(at_channel_is_open(f->channel));

	/* A dead fd left in the loop would spin: the idle loop must stay idle. */
	cpu = cpu_time_us();
	run_for(300);
	assert_true(cpu_time_us() - cpu < 60 * G_TIME_SPAN_MILLISECOND);
	assert_int_equal(f->port_lost, 1);

	run_command(f, "ATI", 100, &after);
	assert_true(g_error_matches(after.error, AT_ERROR, AT_ERROR_PORT_LOST));
	at_channel_close(f->channel);
	assert_int_equal(f->port_lost, 1);
	result_clear(&inflight);
	result_clear(&queued);
	result_clear(&after);
}

static void
test_close_fails_pending(void **state)
{
	Fixture *f = *state;
	Result inflight = {0}, queued = {0};

	f->modem.script = basic_script;
	at_channel_command(f->channel, "AT+SILENT", 5000, NULL, on_command_done, &inflight);
	at_channel_command(f->channel, "ATI", 5000, NULL, on_command_done, &queued);
	at_channel_close(f->channel);
	wait_for(&queued.done);
	assert_true(g_error_matches(inflight.error, AT_ERROR, AT_ERROR_CLOSED));
	assert_true(g_error_matches(queued.error, AT_ERROR, AT_ERROR_CLOSED));
	assert_true(at_error_is_port_gone(queued.error));
	assert_int_equal(f->port_lost, 0);
	assert_false(at_channel_is_open(f->channel));
	result_clear(&inflight);
	result_clear(&queued);
}

static void
test_overlong_line_counted(void **state)
{
	Fixture *f = *state;
	g_autofree char *big = g_strnfill(5000, 'x');

	modem_write(&f->modem, big);
	modem_write(&f->modem, "\r\n+QIND: \"FOTA\",\"END\",0\r\n");
	WAIT_UNTIL(f->urcs->len >= 1);
	assert_string_equal(g_ptr_array_index(f->urcs, 0), "+QIND: \"FOTA\",\"END\",0");
	assert_int_equal(at_channel_get_dropped_lines(f->channel), 1);
}

/* ---- Streams ------------------------------------------------------------- */

static int
make_pattern_file(gsize size)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autofree guint8 *buf = g_malloc(65536);
	int fd = g_file_open_tmp("at-channel-XXXXXX", &path, &error);

	assert_true(fd >= 0);
	g_unlink(path);
	for (gsize off = 0; off < size;) {
		gsize n = MIN(size - off, 65536);
		for (gsize i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i);
		assert_int_equal(write(fd, buf, n), (gssize)n);
		off += n;
	}
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* The sha256 of the first @length bytes of @fd, read without its offset. */
static char *
file_sha256(int fd, gsize length)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 buf[65536];

	for (gsize off = 0; off < length;) {
		gssize n = pread(fd, buf, MIN(sizeof(buf), length - off), (off_t)off);
		assert_true(n > 0);
		g_checksum_update(sum, buf, n);
		off += (gsize)n;
	}
	return g_strdup(g_checksum_get_string(sum));
}

typedef struct {
	gboolean done;
	gboolean ok;
	guint64 sent;
	char *sent_sha256;
	GError *error;
	gint64 when;
	guint progress_calls;
	guint64 last_progress;
} StreamResult;

static void
stream_result_clear(StreamResult *r)
{
	g_clear_error(&r->error);
	g_clear_pointer(&r->sent_sha256, g_free);
}

static void
on_stream_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	StreamResult *r = user_data;

	r->ok = at_channel_stream_finish(FOTA_AT_CHANNEL(source), res, &r->sent, &r->sent_sha256,
	                                 &r->error);
	assert_true(r->ok == (r->error == NULL));
	assert_true(r->ok == (r->sent_sha256 != NULL));
	r->done = TRUE;
	r->when = g_get_monotonic_time();
}

static void
on_progress(guint64 sent, guint64 total, gpointer user_data)
{
	StreamResult *r = user_data;

	assert_true(sent > r->last_progress && sent <= total);
	r->last_progress = sent;
	r->progress_calls++;
}

static AtStreamSource
hardware_source(int fd, guint64 length)
{
	return (AtStreamSource){.fd = fd, .length = length};
}

static void
start_stream(Fixture *f, const AtStreamSource *source, GCancellable *cancellable, StreamResult *r)
{
	f->modem.sink = TRUE;
	at_channel_stream(f->channel, source, on_progress, r, cancellable, on_stream_done, r);
}

/* Waits for the stream's end and for every byte it wrote to arrive, then
 * checks that nothing more comes: the modem got exactly @sent bytes. */
static void
finish_stream(Fixture *f, StreamResult *r)
{
	wait_for(&r->done);
	WAIT_UNTIL(f->modem.sink_received >= r->sent);
	run_for(30);
	assert_int_equal(f->modem.sink_received, r->sent);
}

static void
assert_stream_failed(const StreamResult *r, GQuark domain, int code, const char *message)
{
	assert_false(r->ok);
	if (!g_error_matches(r->error, domain, code))
		fail_msg("unexpected error: %s", r->error->message);
	if (message != NULL)
		assert_string_equal(r->error->message, message);
}

static void
assert_channel_usable(Fixture *f)
{
	Result after;

	f->modem.sink = FALSE;
	f->modem.script = basic_script;
	run_command(f, "AT+QGMR", 1000, &after);
	assert_response(&after, "EC200TCNDAR02A07M16_01.001.01.001", "OK");
	result_clear(&after);
}

static void
test_stream_hardware_exact(void **state)
{
	Fixture *f = *state;
	const gsize size = 4 * 1024 * 1024 + 123;
	StreamResult r = {0};
	Result during = {0};
	int fd = make_pattern_file(size);
	g_autofree char *sha256 = file_sha256(fd, size);
	g_autofree char *upper = g_ascii_strup(sha256, -1);
	AtStreamSource source = {.fd = fd, .length = size, .expected_sha256 = upper};
	gint64 start = g_get_monotonic_time();
	double elapsed;

	/* The caller's offset is neither used nor moved. */
	assert_int_equal(lseek(fd, 777, SEEK_SET), 777);
	start_stream(f, &source, NULL, &r);
	/* Commands are refused while streaming; URCs still come through. */
	run_command(f, "ATI", 100, &during);
	assert_true(g_error_matches(during.error, AT_ERROR, AT_ERROR_INVALID));
	modem_write(&f->modem, "\r\n+QIND: \"FOTA\",\"DOWNLOADING\",1\r\n");
	finish_stream(f, &r);
	elapsed = (double)(r.when - start) / G_USEC_PER_SEC;
	if (!r.ok)
		fail_msg("stream: %s", r.error->message);
	assert_int_equal(r.sent, size);
	assert_int_equal(f->modem.sink_mismatches, 0);
	assert_string_equal(g_checksum_get_string(f->modem.sink_sum), sha256);
	assert_string_equal(r.sent_sha256, sha256);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 777);
	assert_int_equal(r.last_progress, size);
	assert_true(r.progress_calls >= 1 && r.progress_calls <= elapsed * 4 + 2);
	WAIT_UNTIL(f->urcs->len >= 1);
	assert_string_equal(g_ptr_array_index(f->urcs, 0), "+QIND: \"FOTA\",\"DOWNLOADING\",1");
	result_clear(&during);
	stream_result_clear(&r);
	close(fd);
}

/* A modem over SOCK_SEQPACKET: each write arrives as one record, so the
 * largest read is the largest write. */
static int
setup_seqpacket(void **state)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
	                 0);
	*state = fixture_new_on(sv[0], sv[1], 300);
	return 0;
}

static gboolean
move_offset(gpointer user_data)
{
	int fd = GPOINTER_TO_INT(user_data);
	guint8 byte;

	/* What a careless caller might do with the fd it handed over. */
	lseek(fd, g_random_int_range(0, 60000), SEEK_SET);
	assert_int_equal(read(fd, &byte, 1), 1);
	return G_SOURCE_CONTINUE;
}

/* The pacer keeps to its schedule, but gives up the time of a host stall
 * longer than its catch-up (100 ms) rather than burst: a loaded CI host once
 * made a run 7 % slow. A drifting pacer is slow on every run, so a slow run
 * counts only when it repeats; a fast one fails at once. */
#define PACED_ATTEMPTS 3

/* Streams 1.5 s of pattern at @rate through @f's modem; the achieved rate. */
static double
paced_stream_rate(Fixture *f, guint rate)
{
	const gsize size = 96 * 1024; /* 1.5 s: the second buffer is read mid-stream */
	StreamResult r = {0};
	int fd = make_pattern_file(size);
	g_autofree char *sha256 = file_sha256(fd, size);
	/* Asking for more than AT_STREAM_PACED_MAX_WRITE bytes a write still
	 * gets that many. */
	AtStreamSource source = {.fd = fd,
	                         .length = size,
	                         .pacing = {.paced = TRUE, .rate = rate, .max_write = 100}};
	guint mover = g_timeout_add(2, move_offset, GINT_TO_POINTER(fd));
	gint64 start = g_get_monotonic_time();
	double elapsed, achieved;

	start_stream(f, &source, NULL, &r);
	finish_stream(f, &r);
	g_source_remove(mover);
	elapsed = (double)(r.when - start) / G_USEC_PER_SEC;
	if (!r.ok)
		fail_msg("stream: %s", r.error->message);
	assert_int_equal(f->modem.sink_mismatches, 0);
	assert_string_equal(g_checksum_get_string(f->modem.sink_sum), sha256);
	assert_string_equal(r.sent_sha256, sha256);
	if (f->modem.sink_max_read > AT_STREAM_PACED_MAX_WRITE)
		fail_msg("a paced write of %zu bytes", f->modem.sink_max_read);
	achieved = (double)size / elapsed;
	if (achieved > rate * 1.05)
		fail_msg("paced stream achieved %.0f B/s, set %u B/s", achieved, rate);
	assert_true(r.progress_calls >= 2 && r.progress_calls <= elapsed * 4 + 2);
	stream_result_clear(&r);
	close(fd);
	return achieved;
}

static void
test_stream_paced_exact(void **state)
{
	const guint rate = 64 * 1024;
	double achieved = paced_stream_rate(*state, rate);

	for (guint i = 1; i < PACED_ATTEMPTS && achieved < rate * 0.95; i++) {
		void *again = NULL;

		print_message("paced stream achieved %.0f B/s, set %u B/s: again, in case the "
		              "host stalled\n",
		              achieved, rate);
		setup_seqpacket(&again);
		achieved = paced_stream_rate(again, rate);
		fixture_teardown(&again);
	}
	if (achieved < rate * 0.95)
		fail_msg("paced stream achieved %.0f B/s, set %u B/s, %u times", achieved, rate,
		         PACED_ATTEMPTS);
}

static void
test_stream_short_file(void **state)
{
	Fixture *f = *state;
	StreamResult r = {0};
	int fd = make_pattern_file(100000);
	AtStreamSource source = hardware_source(fd, 200000);

	start_stream(f, &source, NULL, &r);
	finish_stream(f, &r);
	assert_stream_failed(&r, AT_ERROR, AT_ERROR_PACKAGE_CHANGED,
	                     "package ended after 100000 of 200000 bytes");
	assert_true(r.sent < 100000);
	assert_int_equal(f->modem.sink_mismatches, 0);
	stream_result_clear(&r);
	close(fd);
	/* The channel is usable again afterwards. */
	assert_channel_usable(f);
}

static void
test_stream_sha256_mismatch(void **state)
{
	Fixture *f = *state;
	const gsize size = 1024 * 1024;
	StreamResult r = {0};
	int fd = make_pattern_file(size);
	g_autofree char *sha256 = file_sha256(fd, size);
	const char *expected = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	g_autofree char *message =
	        g_strdup_printf("the bytes read have sha256 %s, expected %s", sha256, expected);
	AtStreamSource source = {.fd = fd, .length = size, .expected_sha256 = expected};

	start_stream(f, &source, NULL, &r);
	finish_stream(f, &r);
	assert_stream_failed(&r, AT_ERROR, AT_ERROR_PACKAGE_CHANGED, message);
	/* The last chunk was withheld: never the whole package. */
	assert_true(r.sent < size);
	assert_int_equal(f->modem.sink_mismatches, 0);
	stream_result_clear(&r);
	close(fd);
	assert_channel_usable(f);
}

static void
test_stream_invalid_sha256(void **state)
{
	Fixture *f = *state;
	StreamResult r = {0};
	int fd = make_pattern_file(1000);
	AtStreamSource source = {.fd = fd, .length = 1000, .expected_sha256 = "abc"};

	start_stream(f, &source, NULL, &r);
	finish_stream(f, &r);
	assert_stream_failed(&r, AT_ERROR, AT_ERROR_INVALID,
	                     "expected sha256 'abc' is not 64 hex digits");
	assert_int_equal(r.sent, 0);
	stream_result_clear(&r);
	close(fd);
}

/* Starts a 4 MiB stream, lets @change alter the package while the modem
 * holds the stream back, and returns the outcome in @r. */
static int
stream_while_changing(Fixture *f, const char *expected_sha256, void (*change)(int fd, gsize size),
                      StreamResult *r)
{
	const gsize size = 4 * 1024 * 1024;
	int fd = make_pattern_file(size);
	AtStreamSource source = {.fd = fd, .length = size, .expected_sha256 = expected_sha256};

	start_stream(f, &source, NULL, r);
	WAIT_UNTIL(f->modem.sink_received >= 65536);
	modem_pause(&f->modem);
	run_for(50);
	change(fd, size);
	modem_listen(&f->modem);
	finish_stream(f, r);
	return fd;
}

static void
truncate_half(int fd, gsize size)
{
	assert_int_equal(ftruncate(fd, (off_t)size / 2), 0);
}

static void
grow_by_ten(int fd, gsize size)
{
	assert_int_equal(ftruncate(fd, (off_t)size + 10), 0);
}

static void
rewrite_tail(int fd, gsize size)
{
	assert_int_equal(pwrite(fd, "XXXX", 4, (off_t)size - 100), 4);
}

static void
test_stream_truncated(void **state)
{
	Fixture *f = *state;
	StreamResult r = {0};
	int fd = stream_while_changing(f, NULL, truncate_half, &r);

	assert_stream_failed(&r, AT_ERROR, AT_ERROR_PACKAGE_CHANGED,
	                     "package ended after 2097152 of 4194304 bytes");
	assert_true(r.sent <= 2097152);
	assert_int_equal(f->modem.sink_mismatches, 0);
	stream_result_clear(&r);
	close(fd);
}

static void
test_stream_size_changed(void **state)
{
	Fixture *f = *state;
	StreamResult r = {0};
	int fd = stream_while_changing(f, NULL, grow_by_ten, &r);

	assert_stream_failed(&r, AT_ERROR, AT_ERROR_PACKAGE_CHANGED,
	                     "package size changed from 4194304 to 4194314 bytes");
	assert_true(r.sent < 4194304);
	stream_result_clear(&r);
	close(fd);
}

static void
test_stream_rewritten_with_sha256(void **state)
{
	Fixture *f = *state;
	StreamResult r = {0};
	int probe = make_pattern_file(4 * 1024 * 1024);
	g_autofree char *sha256 = file_sha256(probe, 4 * 1024 * 1024);
	int fd = stream_while_changing(f, sha256, rewrite_tail, &r);

	assert_stream_failed(&r, AT_ERROR, AT_ERROR_PACKAGE_CHANGED, NULL);
	assert_non_null(strstr(r.error->message, "the bytes read have sha256"));
	assert_true(r.sent < 4194304);
	/* Nothing of the rewritten bytes went out. */
	assert_int_equal(f->modem.sink_mismatches, 0);
	stream_result_clear(&r);
	close(fd);
	close(probe);
}

static void
test_stream_rewritten_without_sha256(void **state)
{
	Fixture *f = *state;
	StreamResult r = {0};
	int fd = stream_while_changing(f, NULL, rewrite_tail, &r);
	g_autofree char *now = file_sha256(fd, 4 * 1024 * 1024);

	/* Undetectable without a hash, but sent-sha256 says what went out. */
	if (!r.ok)
		fail_msg("stream: %s", r.error->message);
	assert_int_equal(f->modem.sink_mismatches, 4);
	assert_string_equal(g_checksum_get_string(f->modem.sink_sum), now);
	assert_string_equal(r.sent_sha256, now);
	stream_result_clear(&r);
	close(fd);
}

static void
cancel_and_check(Fixture *f, GCancellable *cancellable, StreamResult *r, guint64 size)
{
	gint64 cancelled;

	cancelled = g_get_monotonic_time();
	g_cancellable_cancel(cancellable);
	wait_for(&r->done);
	if (r->when - cancelled > 50 * G_TIME_SPAN_MILLISECOND)
		fail_msg("the stream ended %" G_GINT64_FORMAT " ms after the cancel",
		         (r->when - cancelled) / 1000);
	if (f->modem.watch == NULL)
		modem_listen(&f->modem);
	finish_stream(f, r);
	assert_stream_failed(r, G_IO_ERROR, G_IO_ERROR_CANCELLED, NULL);
	assert_true(r->sent > 0 && r->sent < size);
	assert_int_equal(f->modem.sink_mismatches, 0);
}

static void
test_stream_cancel_paced(void **state)
{
	Fixture *f = *state;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	StreamResult r = {0};
	int fd = make_pattern_file(100000);
	AtStreamSource source = {.fd = fd,
	                         .length = 100000,
	                         .pacing = {.paced = TRUE, .rate = 10000, .max_write = 32}};

	start_stream(f, &source, cancellable, &r);
	run_for(100);
	cancel_and_check(f, cancellable, &r, 100000);
	stream_result_clear(&r);
	close(fd);
	assert_channel_usable(f);
}

/* The worker waits for a full port: the cancel must wake it. */
static void
test_stream_cancel_blocked(void **state)
{
	Fixture *f = *state;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	StreamResult r = {0};
	const gsize size = 4 * 1024 * 1024;
	int fd = make_pattern_file(size);
	AtStreamSource source = hardware_source(fd, size);

	start_stream(f, &source, cancellable, &r);
	WAIT_UNTIL(f->modem.sink_received > 0);
	modem_pause(&f->modem);
	run_for(50);
	cancel_and_check(f, cancellable, &r, size);
	stream_result_clear(&r);
	close(fd);
}

/* Fresh descriptors take the lowest free numbers, the channel's among them:
 * a worker still writing to that number would write into one of them. */
static void
assert_no_stray_writes(void)
{
	int pipes[8][2];
	guint8 byte;

	for (guint i = 0; i < G_N_ELEMENTS(pipes); i++)
		assert_int_equal(pipe2(pipes[i], O_CLOEXEC | O_NONBLOCK), 0);
	run_for(100);
	for (guint i = 0; i < G_N_ELEMENTS(pipes); i++) {
		assert_int_equal(read(pipes[i][0], &byte, 1), -1);
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
}

static void
test_stream_port_lost(void **state)
{
	Fixture *f = *state;
	StreamResult r = {0};
	const gsize size = 8 * 1024 * 1024;
	int fd = make_pattern_file(size);
	AtStreamSource source = hardware_source(fd, size);
	guint64 received;

	start_stream(f, &source, NULL, &r);
	WAIT_UNTIL(f->modem.sink_received >= 100000);
	received = f->modem.sink_received;
	close_master(f);
	wait_for(&r.done);
	assert_stream_failed(&r, AT_ERROR, AT_ERROR_PORT_LOST, NULL);
	assert_true(r.sent >= received && r.sent < size);
	assert_int_equal(f->port_lost, 1);
	assert_false(at_channel_is_open(f->channel));
	assert_no_stray_writes();
	stream_result_clear(&r);
	close(fd);
}

static void
test_stream_close(void **state)
{
	Fixture *f = *state;
	StreamResult r = {0};
	const gsize size = 8 * 1024 * 1024;
	int fd = make_pattern_file(size);
	AtStreamSource source = hardware_source(fd, size);

	start_stream(f, &source, NULL, &r);
	WAIT_UNTIL(f->modem.sink_received > 0);
	modem_pause(&f->modem);
	run_for(20);
	at_channel_close(f->channel);
	wait_for(&r.done);
	assert_stream_failed(&r, AT_ERROR, AT_ERROR_CLOSED, NULL);
	assert_true(r.sent < size);
	assert_int_equal(f->port_lost, 0);
	assert_no_stray_writes();
	stream_result_clear(&r);
	close(fd);
}

/* ---- The modem's last words before a reboot ------------------------------ */

/* The modem of the field failure, on a thread of its own (g_assert there:
 * cmocka's asserts jump, and only on the test's thread): it takes the
 * package, prints its progress, FILEEND, START and the END of a refused
 * package at once, then reboots.
 * Like the simulator (and a USB modem's hang-up), it waits for the host to
 * read what it printed, up to REBOOT_PATIENCE_MS, and then closes its end,
 * which discards whatever the host left in the tty. */
#define REBOOT_PATIENCE_MS 1000
/* More than one 4 KiB read of the port, and more than the tty holds: the
 * rest (END among it) follows as the host reads. */
#define PROGRESS_LINES 128
/* What each line costs the daemon under ASan at load ~20 (the job machine,
 * the bus, the record): 20 ms, 2.6 s for all, well beyond the modem's
 * patience, far above the time it may take the host to read. */
#define LINE_WORK_MS 20

typedef struct {
	int master;
	int slave; /* the modem's own hold on the tty: FIONREAD, what is unread */
	gsize package;
	GMutex lock;
	GCond cond;
	gboolean printed;  /* everything is written to the host's tty */
	gboolean all_read; /* the host read everything before the reboot */
	guint64 received;
} RebootingModem;

static void
rebooting_modem_set(RebootingModem *m, gboolean *flag)
{
	g_mutex_lock(&m->lock);
	*flag = TRUE;
	g_cond_broadcast(&m->cond);
	g_mutex_unlock(&m->lock);
}

/* Waits for @flag, at most 10 s. */
static gboolean
rebooting_modem_wait(RebootingModem *m, const gboolean *flag)
{
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	gboolean set;

	g_mutex_lock(&m->lock);
	while (!*flag && g_cond_wait_until(&m->cond, &m->lock, deadline))
		;
	set = *flag;
	g_mutex_unlock(&m->lock);
	return set;
}

static int
tty_unread(RebootingModem *m)
{
	int pending = 0;

	g_assert_cmpint(ioctl(m->slave, FIONREAD, &pending), ==, 0);
	return pending;
}

static void
rebooting_modem_write(RebootingModem *m, const char *text)
{
	for (gsize len = strlen(text); len > 0;) {
		struct pollfd p = {.fd = m->master, .events = POLLOUT};
		gssize n = write(m->master, text, len);

		if (n < 0 && errno == EAGAIN) {
			g_assert_true(poll(&p, 1, 1000) >= 0);
			continue;
		}
		g_assert_true(n > 0);
		text += n;
		len -= (gsize)n;
	}
}

static gpointer
rebooting_modem_run(gpointer user_data)
{
	RebootingModem *m = user_data;
	g_autoptr(GString) out = g_string_new(NULL);
	gint64 deadline;
	guint8 buf[65536];
	guint empty = 0;

	while (m->received < m->package) {
		struct pollfd p = {.fd = m->master, .events = POLLIN};
		gssize n;

		g_assert_true(poll(&p, 1, 10000) == 1);
		n = read(m->master, buf, sizeof(buf));
		g_assert_true(n > 0 || (n < 0 && errno == EAGAIN));
		m->received += n > 0 ? (guint64)n : 0;
	}
	for (guint i = 1; i <= PROGRESS_LINES; i++)
		g_string_append_printf(out, "\r\n+QIND: \"FOTA\",\"DOWNLOADING\",%u\r\n",
		                       (i * 100 + PROGRESS_LINES - 1) / PROGRESS_LINES);
	g_string_append(out, "\r\n+QIND: \"FOTA\",\"FILEEND\",0\r\n");
	g_string_append(out, "\r\n+QIND: \"FOTA\",\"START\"\r\n");
	g_string_append(out, "\r\n+QIND: \"FOTA\",\"END\",504\r\n");
	rebooting_modem_write(m, out->str);
	rebooting_modem_set(m, &m->printed);
	/* The reboot: once the host read everything (the queue stayed empty a
	 * while, as the simulator checks), or when the modem's patience ends. */
	deadline = g_get_monotonic_time() + REBOOT_PATIENCE_MS * G_TIME_SPAN_MILLISECOND;
	while (empty < 10 && g_get_monotonic_time() < deadline) {
		empty = tty_unread(m) == 0 ? empty + 1 : 0;
		g_usleep(5000);
	}
	m->all_read = empty >= 10;
	close(m->master);
	return NULL;
}

/* The daemon under load: every line costs it time. */
static void
on_urc_slow(FotaAtChannel *channel, const char *line, RebootingModem *m)
{
	g_usleep(LINE_WORK_MS * G_TIME_SPAN_MILLISECOND);
}

static int
setup_rebooting(void **state)
{
	g_autoptr(GError) error = NULL;
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	RebootingModem *m = g_new0(RebootingModem, 1);
	Fixture *f;
	int fd;

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	/* before the channel's TIOCEXCL */
	m->slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	assert_true(m->slave >= 0);
	fd = serial_port_open(ptsname(master), 115200, SERIAL_FLOW_HARDWARE, &error);
	if (fd < 0)
		fail_msg("serial_port_open: %s", error->message);
	f = fixture_new_on(master, fd, 300);
	/* the modem's thread has the master from now on */
	modem_pause(&f->modem);
	m->master = master;
	g_mutex_init(&m->lock);
	g_cond_init(&m->cond);
	g_object_set_data(G_OBJECT(f->channel), "rebooting-modem", m);
	*state = f;
	return 0;
}

static int
teardown_rebooting(void **state)
{
	Fixture *f = *state;
	RebootingModem *m = g_object_get_data(G_OBJECT(f->channel), "rebooting-modem");

	f->modem.master = -1; /* closed by the modem's reboot */
	close(m->slave);
	g_mutex_clear(&m->lock);
	g_cond_clear(&m->cond);
	g_free(m);
	return fixture_teardown(state);
}

/* The field failure (a refused FILE package under ASan at load ~20): the
 * channel took one read's worth of the modem's lines and handed them out
 * one by one while END waited in the tty; the modem rebooted, its hang-up
 * discarded END, and the job learnt nothing more until its update bound.
 * Whatever the modem printed before its hang-up must reach the channel's
 * listeners, after the stream's last byte as after any other, and the
 * hang-up must follow them at once. */
static void
test_last_words_before_reboot(void **state)
{
	Fixture *f = *state;
	RebootingModem *m = g_object_get_data(G_OBJECT(f->channel), "rebooting-modem");
	const gsize size = 64 * 1024 + 177;
	StreamResult r = {0};
	int fd = make_pattern_file(size);
	AtStreamSource source = hardware_source(fd, size);
	GThread *modem;
	const char *last[3] = {"+QIND: \"FOTA\",\"FILEEND\",0", "+QIND: \"FOTA\",\"START\"",
	                       "+QIND: \"FOTA\",\"END\",504"};

	m->package = size;
	g_signal_connect(f->channel, "urc", G_CALLBACK(on_urc_slow), m);
	modem = g_thread_new("rebooting-modem", rebooting_modem_run, m);
	at_channel_stream(f->channel, &source, on_progress, &r, NULL, on_stream_done, &r);
	/* The main loop does not run until the modem has printed it all: the
	 * worker's end and the modem's lines are there at once, as in the
	 * field, whatever the scheduler does. */
	assert_true(rebooting_modem_wait(m, &m->printed));
	WAIT_UNTIL(r.done && f->port_lost > 0);
	g_thread_join(modem);
	if (!r.ok)
		fail_msg("stream: %s", r.error->message);
	assert_int_equal(r.sent, size);
	assert_int_equal(m->received, size);
	for (guint i = 0; i < 3; i++)
		assert_string_equal(g_ptr_array_index(f->urcs, f->urcs->len - 3 + i), last[i]);
	assert_int_equal(f->urcs->len, PROGRESS_LINES + 3);
	assert_true(m->all_read);
	assert_int_equal(f->port_lost, 1);
	assert_false(at_channel_is_open(f->channel));
	stream_result_clear(&r);
	close(fd);
}

/* Without TIOCNXCL the exclusive flag outlives the channel while another
 * process keeps the tty open. */
static void
test_close_clears_exclusive(void **state)
{
	Fixture *f = *state;
	int other = open(ptsname(f->modem.master), O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (other < 0 && errno == EBUSY)
		skip(); /* only root opens a tty in exclusive mode a second time */
	assert_true(other >= 0);
	assert_int_equal(test_tty_exclusive(other), 1);
	at_channel_close(f->channel);
	assert_int_equal(test_tty_exclusive(other), 0);
	close(other);
}

static void
test_serial_port_errors(void **state)
{
	static const struct {
		const char *path;
		guint baud;
		SerialPortError code;
		const char *message_part;
	} cases[] = {
	        {"/dev/null", 115201, SERIAL_PORT_ERROR_BAUD, "unsupported baud rate 115201"},
	        {"/nonexistent/ttyUSB9", 115200, SERIAL_PORT_ERROR_OPEN, "/nonexistent/ttyUSB9"},
	        {"/dev/null", 115200, SERIAL_PORT_ERROR_CONFIG, "/dev/null"}, /* not a tty */
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		assert_int_equal(
		        serial_port_open(cases[i].path, cases[i].baud, SERIAL_FLOW_NONE, &error),
		        -1);
		assert_true(g_error_matches(error, SERIAL_PORT_ERROR, cases[i].code));
		assert_non_null(strstr(error->message, cases[i].message_part));
	}
	assert_string_equal(serial_flow_to_string(SERIAL_FLOW_HARDWARE), "hardware");
	assert_string_equal(serial_flow_to_string(SERIAL_FLOW_NONE), "none");
}

static void
test_serial_port_rates(void **state)
{
	static const guint rates[] = {9600, 115200, 460800, 921600, 3000000, 4000000};
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	for (guint i = 0; i < G_N_ELEMENTS(rates); i++) {
		g_autoptr(GError) error = NULL;
		int fd = serial_port_open(ptsname(master), rates[i], SERIAL_FLOW_HARDWARE, &error);
		if (fd < 0)
			fail_msg("%u: %s", rates[i], error->message);
		/* Non-blocking, close-on-exec, as the channel needs. */
		assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
	close(master);
}

#define CHANNEL_TEST(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_serial_port_errors),
	        cmocka_unit_test(test_serial_port_rates),
	        CHANNEL_TEST(test_command_echo_off, setup_flow),
	        CHANNEL_TEST(test_command_echo_on, setup_noflow),
	        CHANNEL_TEST(test_urc_inside_response, setup_flow),
	        CHANNEL_TEST(test_urc_while_idle, setup_flow),
	        CHANNEL_TEST(test_modem_errors, setup_flow),
	        CHANNEL_TEST(test_timeout_and_late_reply, setup_flow),
	        CHANNEL_TEST(test_timeout_holds_queue_for_grace, setup_flow),
	        CHANNEL_TEST(test_queue_of_three, setup_flow),
	        CHANNEL_TEST(test_invalid_command_writes_nothing, setup_flow),
	        CHANNEL_TEST(test_cancel, setup_flow),
	        CHANNEL_TEST(test_hangup, setup_flow),
	        CHANNEL_TEST(test_close_fails_pending, setup_flow),
	        CHANNEL_TEST(test_overlong_line_counted, setup_flow),
	        CHANNEL_TEST(test_close_clears_exclusive, setup_flow),
	        CHANNEL_TEST(test_stream_hardware_exact, setup_flow),
	        CHANNEL_TEST(test_stream_paced_exact, setup_seqpacket),
	        CHANNEL_TEST(test_stream_short_file, setup_flow),
	        CHANNEL_TEST(test_stream_sha256_mismatch, setup_flow),
	        CHANNEL_TEST(test_stream_invalid_sha256, setup_flow),
	        CHANNEL_TEST(test_stream_truncated, setup_flow),
	        CHANNEL_TEST(test_stream_size_changed, setup_flow),
	        CHANNEL_TEST(test_stream_rewritten_with_sha256, setup_flow),
	        CHANNEL_TEST(test_stream_rewritten_without_sha256, setup_flow),
	        CHANNEL_TEST(test_stream_cancel_paced, setup_noflow),
	        CHANNEL_TEST(test_stream_cancel_blocked, setup_flow),
	        CHANNEL_TEST(test_stream_port_lost, setup_flow),
	        CHANNEL_TEST(test_stream_close, setup_flow),
	        cmocka_unit_test_setup_teardown(test_last_words_before_reboot, setup_rebooting,
	                                        teardown_rebooting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
