/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fota-at-tool: the AT engine on its own, for tests and benchmarks.
 *
 *   fota-at-tool --port PATH [--baud N] [--no-flow] [--paced-rate N] cmd CMD...
 *   fota-at-tool --port PATH [...] stream FILE [--mode M] [--dl-max N] [--up-max N]
 *                [--sha256 HEX]
 *
 * cmd runs each CMD in turn. Besides AT commands, a CMD may be
 *   @sleep=MS         keep the loop running (URCs are printed) for MS ms
 *   @wait-urc=TEXT    wait for a URC containing TEXT
 *   @wait-lost        wait until the port hangs up
 *   @reopen           wait for the port path to come back and open it again
 * Every wait is bounded by --wait-ms.
 *
 * Output, one event per line:
 *   cmd ATI | line Quectel | final OK | error MODEM AT+X: modem answered ERROR
 *   urc RDY | port-lost <why> | reopened | progress <sent> <total>
 *   stream <bytes> bytes in <s> s (<B/s> B/s) | sent-sha256 <hex>
 *   result <FILEEND URC> | elapsed <s>
 *   rss-idle-kib N | hwm-kib N   (stream: RSS before the stream, peak after it)
 *   cpu-s <s>                    (stream: CPU time from the first byte to FILEEND)
 * Exit status: 0 when everything succeeded, 1 when something failed, 2 on
 * usage errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "at-channel.h"
#include "serial-port.h"

#define FILESTART_TIMEOUT_MS 30000
#define FILEEND_TIMEOUT_MS   120000

typedef struct {
	char *port;
	int baud;
	gboolean no_flow;
	int paced_rate;
	int timeout_ms;
	int wait_ms;
	int grace_ms;
	char *port_kind;
	int mode;
	int dl_max;
	int up_max;
	gboolean progress;
	char *sha256;

	FotaAtChannel *channel;
	GPtrArray *urcs; /* URCs since the last clear, searched by waits */
	gboolean lost;
	gboolean failed;
} Tool;

static const char *
at_error_name(const GError *error)
{
	static const char *const names[] = {
	        [AT_ERROR_TIMEOUT] = "TIMEOUT",
	        [AT_ERROR_MODEM] = "MODEM",
	        [AT_ERROR_CME] = "CME",
	        [AT_ERROR_CMS] = "CMS",
	        [AT_ERROR_PORT_LOST] = "PORT_LOST",
	        [AT_ERROR_CLOSED] = "CLOSED",
	        [AT_ERROR_IO] = "IO",
	        [AT_ERROR_INVALID] = "INVALID",
	        [AT_ERROR_PACKAGE_CHANGED] = "PACKAGE_CHANGED",
	};

	if (error->domain == AT_ERROR && (guint)error->code < G_N_ELEMENTS(names))
		return names[error->code];
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return "CANCELLED";
	return "OTHER";
}

static void
print_error(Tool *tool, const GError *error)
{
	printf("error %s %s\n", at_error_name(error), error->message);
	tool->failed = TRUE;
}

static void
on_urc(FotaAtChannel *channel, const char *line, Tool *tool)
{
	printf("urc %s\n", line);
	/* Bounded: a chatty modem must not grow the tool without limit. */
	if (tool->urcs->len >= 1024)
		g_ptr_array_remove_index(tool->urcs, 0);
	g_ptr_array_add(tool->urcs, g_strdup(line));
}

static void
on_port_lost(FotaAtChannel *channel, GError *error, Tool *tool)
{
	printf("port-lost %s\n", error->message);
	tool->lost = TRUE;
}

static gboolean
open_channel(Tool *tool, GError **error)
{
	SerialFlow flow = tool->no_flow ? SERIAL_FLOW_NONE : SERIAL_FLOW_HARDWARE;
	AtChannelConfig cfg = {.late_reply_grace_ms = (guint)tool->grace_ms};
	int fd = serial_port_open(tool->port, (guint)tool->baud, flow, error);

	if (fd < 0)
		return FALSE;
	g_clear_object(&tool->channel);
	tool->channel = at_channel_new(fd, &cfg);
	tool->lost = FALSE;
	g_signal_connect(tool->channel, "urc", G_CALLBACK(on_urc), tool);
	g_signal_connect(tool->channel, "port-lost", G_CALLBACK(on_port_lost), tool);
	return TRUE;
}

/* ---- Waiting on the main loop ------------------------------------------- */

typedef gboolean (*DoneFunc)(Tool *tool, gconstpointer arg);

static gboolean
on_deadline(gpointer user_data)
{
	gboolean *expired = user_data;

	*expired = TRUE;
	return G_SOURCE_REMOVE;
}

/* Runs the loop until done() or @ms pass; FALSE on timeout. */
static gboolean
wait_until(Tool *tool, DoneFunc done, gconstpointer arg, guint ms)
{
	gboolean expired = FALSE;
	guint id = g_timeout_add(ms, on_deadline, &expired);

	while (!done(tool, arg) && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(id);
	return done(tool, arg);
}

static gboolean
flag_set(Tool *tool, gconstpointer arg)
{
	return *(const gboolean *)arg;
}

static gboolean
saw_urc(Tool *tool, gconstpointer text)
{
	for (guint i = 0; i < tool->urcs->len; i++) {
		if (strstr(g_ptr_array_index(tool->urcs, i), text) != NULL)
			return TRUE;
	}
	return FALSE;
}

static const char *
find_urc(Tool *tool, const char *text)
{
	for (guint i = 0; i < tool->urcs->len; i++) {
		if (strstr(g_ptr_array_index(tool->urcs, i), text) != NULL)
			return g_ptr_array_index(tool->urcs, i);
	}
	return NULL;
}

static gboolean
port_is_lost(Tool *tool, gconstpointer arg)
{
	return tool->lost;
}

/* ---- Commands ------------------------------------------------------------ */

typedef struct {
	gboolean done;
	AtResponse *response;
	GError *error;
} CommandResult;

static void
on_command_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CommandResult *r = user_data;

	r->response = at_channel_command_finish(FOTA_AT_CHANNEL(source), res, &r->error);
	r->done = TRUE;
}

/* Runs one AT command and prints its outcome. */
static gboolean
run_at(Tool *tool, const char *command)
{
	CommandResult r = {0};

	printf("cmd %s\n", command);
	at_channel_command(tool->channel, command, (guint)tool->timeout_ms, NULL, on_command_done,
	                   &r);
	/* The channel's own timeout bounds this wait. */
	while (!r.done)
		g_main_context_iteration(NULL, TRUE);
	if (r.error != NULL) {
		print_error(tool, r.error);
		g_error_free(r.error);
		return FALSE;
	}
	for (char **l = r.response->lines; *l != NULL; l++)
		printf("line %s\n", *l);
	printf("final %s\n", r.response->final);
	at_response_free(r.response);
	return TRUE;
}

static gboolean
reopen(Tool *tool)
{
	gint64 deadline = g_get_monotonic_time() + tool->wait_ms * G_TIME_SPAN_MILLISECOND;

	/* The tty comes back after the modem reboots; until then open fails. */
	for (;;) {
		g_autoptr(GError) error = NULL;
		gboolean tick = FALSE;

		if (open_channel(tool, &error))
			break;
		if (g_get_monotonic_time() > deadline) {
			print_error(tool, error);
			return FALSE;
		}
		g_timeout_add(50, on_deadline, &tick);
		wait_until(tool, flag_set, &tick, 1000);
	}
	printf("reopened\n");
	return TRUE;
}

static gboolean
run_step(Tool *tool, const char *step)
{
	if (g_str_has_prefix(step, "@sleep=")) {
		gboolean never = FALSE;
		wait_until(tool, flag_set, &never, (guint)atoi(step + 7));
		return TRUE;
	}
	if (g_str_has_prefix(step, "@wait-urc=")) {
		if (wait_until(tool, saw_urc, step + 10, (guint)tool->wait_ms))
			return TRUE;
		printf("error TIMEOUT no URC containing '%s' within %d ms\n", step + 10,
		       tool->wait_ms);
		tool->failed = TRUE;
		return FALSE;
	}
	if (strcmp(step, "@wait-lost") == 0) {
		if (wait_until(tool, port_is_lost, NULL, (guint)tool->wait_ms))
			return TRUE;
		printf("error TIMEOUT the port did not hang up within %d ms\n", tool->wait_ms);
		tool->failed = TRUE;
		return FALSE;
	}
	if (strcmp(step, "@reopen") == 0) {
		g_ptr_array_set_size(tool->urcs, 0);
		return reopen(tool);
	}
	return run_at(tool, step);
}

static int
run_cmds(Tool *tool, char **steps)
{
	for (char **s = steps; *s != NULL; s++) {
		run_step(tool, *s);
		fflush(stdout);
	}
	return tool->failed ? 1 : 0;
}

/* ---- Stream -------------------------------------------------------------- */

static long
proc_status_kib(const char *field)
{
	g_autofree char *status = NULL;
	const char *p;

	if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL))
		return -1;
	p = strstr(status, field);
	return p != NULL ? strtol(p + strlen(field), NULL, 10) : -1;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

typedef struct {
	gboolean done;
	gboolean ok;
	guint64 sent;
	char *sent_sha256;
	GError *error;
} StreamResult;

static void
on_stream_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	StreamResult *r = user_data;

	r->ok = at_channel_stream_finish(FOTA_AT_CHANNEL(source), res, &r->sent, &r->sent_sha256,
	                                 &r->error);
	r->done = TRUE;
}

static void
on_progress(guint64 sent, guint64 total, gpointer user_data)
{
	Tool *tool = user_data;

	if (tool->progress)
		printf("progress %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n", sent, total);
}

static gboolean
stream_done(Tool *tool, gconstpointer arg)
{
	return ((const StreamResult *)arg)->done;
}

/* Hardware flow control must be on in the modem before FILE mode. */
static gboolean
enable_modem_flow(Tool *tool)
{
	if (tool->no_flow)
		return TRUE;
	return run_at(tool, g_strcmp0(tool->port_kind, "uart") == 0 ? "AT+IFC=2,2"
	                                                            : "AT+QCFG=\"usbifc\",2,2");
}

static gboolean
send_qfotadl(Tool *tool, guint64 length)
{
	g_autofree char *cmd = NULL;

	if (tool->up_max >= 0)
		cmd = g_strdup_printf("AT+QFOTADL=\"FILE:%" G_GUINT64_FORMAT "\",%d,%d,%d", length,
		                      tool->mode, tool->dl_max, tool->up_max);
	else
		cmd = g_strdup_printf("AT+QFOTADL=\"FILE:%" G_GUINT64_FORMAT "\",%d,%d", length,
		                      tool->mode, tool->dl_max);
	return run_at(tool, cmd);
}

static gboolean
stream_file(Tool *tool, int fd, guint64 length)
{
	AtStreamSource source = {
	        .fd = fd,
	        .length = length,
	        .expected_sha256 = tool->sha256,
	        .pacing = {.paced = tool->no_flow || tool->paced_rate > 0,
	                   .rate = (guint)MAX(tool->paced_rate, 0),
	                   .max_write = AT_STREAM_PACED_MAX_WRITE},
	};
	StreamResult r = {0};
	gint64 start = g_get_monotonic_time();
	double secs;

	at_channel_stream(tool->channel, &source, on_progress, tool, NULL, on_stream_done, &r);
	while (!stream_done(tool, &r))
		g_main_context_iteration(NULL, TRUE);
	secs = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	if (!r.ok) {
		print_error(tool, r.error);
		g_error_free(r.error);
		return FALSE;
	}
	printf("stream %" G_GUINT64_FORMAT " bytes in %.3f s (%.0f B/s)\n", r.sent, secs,
	       (double)r.sent / MAX(secs, 1e-9));
	printf("sent-sha256 %s\n", r.sent_sha256);
	g_free(r.sent_sha256);
	return TRUE;
}

static int
run_stream(Tool *tool, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	gint64 start;
	double cpu;
	const char *end;

	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("error IO cannot open %s: %s\n", path, g_strerror(errno));
		return 1;
	}
	if (!enable_modem_flow(tool) || !send_qfotadl(tool, (guint64)st.st_size))
		return 1;
	if (!wait_until(tool, saw_urc, "FILESTART", FILESTART_TIMEOUT_MS)) {
		printf("error TIMEOUT no FILESTART within %d ms\n", FILESTART_TIMEOUT_MS);
		return 1;
	}
	printf("rss-idle-kib %ld\n", proc_status_kib("VmRSS:"));
	start = g_get_monotonic_time();
	cpu = cpu_seconds();
	if (!stream_file(tool, fd, (guint64)st.st_size))
		return 1;
	close(fd);
	if (!wait_until(tool, saw_urc, "FILEEND", FILEEND_TIMEOUT_MS)) {
		printf("error TIMEOUT no FILEEND within %d ms\n", FILEEND_TIMEOUT_MS);
		return 1;
	}
	end = find_urc(tool, "FILEEND");
	printf("result %s\n", end);
	printf("elapsed %.3f\n", (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
	printf("cpu-s %.3f\n", cpu_seconds() - cpu);
	printf("hwm-kib %ld\n", proc_status_kib("VmHWM:"));
	return g_str_has_suffix(end, ",0") ? 0 : 1;
}

/* ---- main ---------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	Tool tool = {.baud = 115200,
	             .timeout_ms = 10000,
	             .wait_ms = 10000,
	             .grace_ms = 1000,
	             .mode = 1,
	             .dl_max = 50,
	             .up_max = -1};
	GOptionEntry entries[] = {
	        {"port", 0, 0, G_OPTION_ARG_FILENAME, &tool.port, "The modem's tty", "PATH"},
	        {"baud", 0, 0, G_OPTION_ARG_INT, &tool.baud, "Baud rate", "N"},
	        {"no-flow", 0, 0, G_OPTION_ARG_NONE, &tool.no_flow, "No RTS/CTS (paced stream)",
	         NULL},
	        {"paced-rate", 0, 0, G_OPTION_ARG_INT, &tool.paced_rate,
	         "Paced stream rate in bytes/s", "N"},
	        {"port-kind", 0, 0, G_OPTION_ARG_STRING, &tool.port_kind, "usb|uart", "KIND"},
	        {"timeout", 0, 0, G_OPTION_ARG_INT, &tool.timeout_ms, "Per-command timeout", "MS"},
	        {"wait-ms", 0, 0, G_OPTION_ARG_INT, &tool.wait_ms, "Bound of @ waits", "MS"},
	        {"grace-ms", 0, 0, G_OPTION_ARG_INT, &tool.grace_ms, "Late-reply grace", "MS"},
	        {"mode", 0, 0, G_OPTION_ARG_INT, &tool.mode, "QFOTADL upgrade_mode", "M"},
	        {"dl-max", 0, 0, G_OPTION_ARG_INT, &tool.dl_max, "QFOTADL download_URC_max", "N"},
	        {"up-max", 0, 0, G_OPTION_ARG_INT, &tool.up_max, "QFOTADL update_URC_max", "N"},
	        {"progress", 0, 0, G_OPTION_ARG_NONE, &tool.progress, "Print stream progress",
	         NULL},
	        {"sha256", 0, 0, G_OPTION_ARG_STRING, &tool.sha256,
	         "Withhold the last chunk unless the package has this sha256", "HEX"},
	        {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("cmd CMD... | stream FILE");
	g_autoptr(GError) error = NULL;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || tool.port == NULL || argc < 3 ||
	    (strcmp(argv[1], "cmd") != 0 && strcmp(argv[1], "stream") != 0)) {
		fprintf(stderr, "%s\n",
		        error != NULL ? error->message
		                      : "usage: fota-at-tool "
		                        "--port PATH cmd CMD... | stream FILE");
		return 2;
	}
	tool.urcs = g_ptr_array_new_with_free_func(g_free);
	if (!open_channel(&tool, &error)) {
		printf("error OPEN %s\n", error->message);
		return 1;
	}
	rc = strcmp(argv[1], "cmd") == 0 ? run_cmds(&tool, argv + 2) : run_stream(&tool, argv[2]);
	at_channel_close(tool.channel);
	g_object_unref(tool.channel);
	g_ptr_array_unref(tool.urcs);
	g_free(tool.port);
	g_free(tool.port_kind);
	g_free(tool.sha256);
	return rc;
}
