/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "at-channel"

#include "at-channel.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "at-framer.h"
#include "at-parse.h"

G_DEFINE_QUARK(at - error - quark, at_error)

#define DEFAULT_LATE_REPLY_GRACE_MS 1000
/* The longest command line: AT+QFOTADL with a 255-byte URL and its
 * parameters fits with room to spare. */
#define COMMAND_MAX 1024
/* Intermediate lines kept per response; a runaway response must not grow
 * memory without bound. */
#define RESPONSE_MAX_LINES 256
#define READ_CHUNK         4096
/* Reads per wake-up: bounded so a flooding port cannot starve the rest of
 * the main loop. */
#define READS_PER_WAKE 16

#define STREAM_BUFFER           (64 * 1024)
#define STREAM_BUFFERS_PER_WAKE 4
#define PACED_MAX_WRITE         32
#define PACED_DEFAULT_RATE      15360
#define PACE_TICK_MS            4
/* Most credit the token bucket may hold: enough to catch up after a late
 * timer tick, not enough for a burst the modem would drop. */
#define PACE_BURST_US        (100 * G_TIME_SPAN_MILLISECOND)
#define PROGRESS_BYTES       (256 * 1024)
#define PROGRESS_INTERVAL_US (250 * G_TIME_SPAN_MILLISECOND)

typedef struct {
	char *command;
	guint timeout_ms;
	GPtrArray *lines;
	guint lines_dropped;
	GSource *cancel_source;
} CommandData;

typedef struct {
	int fd;
	guint64 length;
	guint64 sent;
	AtStreamPacing pacing;
	AtStreamProgressFunc progress;
	gpointer progress_data;
	guint8 *buf;
	gsize buf_off, buf_len;
	guint64 credit;   /* paced: bytes x 1e6 earned, not yet spent */
	gint64 last_tick; /* paced: monotonic time credit was last earned */
	gint64 last_progress_time;
	guint64 last_progress_sent;
	GSource *timer;
	GSource *cancel_source;
} StreamData;

struct _AtChannel {
	GObject parent_instance;

	int fd;        /* -1 once closed or lost */
	gboolean lost; /* closed because the port hung up, not by us */
	guint late_reply_grace_ms;
	AtFramer framer;
	GSource *in_source;
	GSource *out_source;

	GQueue queue;   /* GTask*: commands waiting */
	GTask *current; /* the command in flight */
	GSource *timeout_source;
	GSource *grace_source;

	char out[COMMAND_MAX + 1];
	gsize out_len, out_off;

	GTask *stream;
};

G_DEFINE_TYPE(AtChannel, at_channel, G_TYPE_OBJECT)

enum { SIGNAL_URC, SIGNAL_PORT_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void update_out_watch(AtChannel *self);
static void maybe_send_next(AtChannel *self);
static void stream_pump(AtChannel *self);

void
at_response_free(AtResponse *response)
{
	if (response == NULL)
		return;
	g_strfreev(response->lines);
	g_free(response->final);
	g_free(response);
}

static void
command_data_free(CommandData *data)
{
	g_free(data->command);
	g_ptr_array_unref(data->lines);
	g_assert(data->cancel_source == NULL);
	g_free(data);
}

static void
stream_data_free(StreamData *data)
{
	g_free(data->buf);
	g_assert(data->timer == NULL && data->cancel_source == NULL);
	g_free(data);
}

static void
destroy_source(GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy(*source);
	g_clear_pointer(source, g_source_unref);
}

static GSource *
attach_source(GSource *source, GSourceFunc func, gpointer data)
{
	g_source_set_callback(source, func, data, NULL);
	g_source_attach(source, NULL);
	return source;
}

static gboolean
is_closed(AtChannel *self)
{
	return self->fd < 0;
}

static AtError
closed_code(AtChannel *self)
{
	return self->lost ? AT_ERROR_PORT_LOST : AT_ERROR_CLOSED;
}

static const char *
closed_reason(AtChannel *self)
{
	return self->lost ? "the AT port is gone" : "the AT port is closed";
}

/* ---- Port I/O --------------------------------------------------------- */

static gboolean
errno_means_hangup(int err)
{
	return err == EIO || err == ENXIO || err == ENODEV || err == EPIPE || err == EBADF;
}

/* Tears the port down and fails everything pending with @code. */
static void
shut_down(AtChannel *self, int code, const char *why)
{
	g_autoptr(GError) error = g_error_new_literal(AT_ERROR, code, why);
	g_autoptr(GTask) current = g_steal_pointer(&self->current);
	g_autoptr(GTask) stream = g_steal_pointer(&self->stream);
	GTask *task;

	destroy_source(&self->in_source);
	destroy_source(&self->out_source);
	destroy_source(&self->timeout_source);
	destroy_source(&self->grace_source);
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	self->out_len = self->out_off = 0;
	at_framer_reset(&self->framer);

	if (current != NULL) {
		CommandData *data = g_task_get_task_data(current);
		destroy_source(&data->cancel_source);
		g_task_return_error(current, g_error_copy(error));
	}
	while ((task = g_queue_pop_head(&self->queue)) != NULL) {
		CommandData *data = g_task_get_task_data(task);
		destroy_source(&data->cancel_source);
		g_task_return_error(task, g_error_copy(error));
		g_object_unref(task);
	}
	if (stream != NULL) {
		StreamData *data = g_task_get_task_data(stream);
		destroy_source(&data->timer);
		destroy_source(&data->cancel_source);
		g_task_return_error(stream, g_error_copy(error));
	}
}

static void port_lost(AtChannel *self, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
port_lost(AtChannel *self, const char *fmt, ...)
{
	g_autoptr(AtChannel) keep = g_object_ref(self);
	g_autoptr(GError) error = NULL;
	g_autofree char *why = NULL;
	va_list ap;

	if (is_closed(self))
		return;
	va_start(ap, fmt);
	why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_debug("port lost: %s", why);
	self->lost = TRUE;
	shut_down(self, AT_ERROR_PORT_LOST, why);
	error = g_error_new_literal(AT_ERROR, AT_ERROR_PORT_LOST, why);
	g_signal_emit(self, signals[SIGNAL_PORT_LOST], 0, error);
}

/* Writes what the port takes now. Returns the bytes written (0 when it is
 * full), or -1 after declaring the port lost. */
static gssize
port_write(AtChannel *self, const void *buf, gsize len)
{
	for (;;) {
		gssize n = write(self->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		port_lost(self, "writing to the port failed: %s", g_strerror(errno));
		return -1;
	}
}

/* ---- Commands --------------------------------------------------------- */

static gboolean
on_grace_over(gpointer user_data)
{
	AtChannel *self = user_data;

	g_clear_pointer(&self->grace_source, g_source_unref);
	maybe_send_next(self);
	return G_SOURCE_REMOVE;
}

static void
start_grace(AtChannel *self)
{
	if (self->late_reply_grace_ms == 0)
		return;
	destroy_source(&self->grace_source);
	self->grace_source = g_timeout_source_new(self->late_reply_grace_ms);
	attach_source(self->grace_source, on_grace_over, self);
}

static void
end_grace(AtChannel *self)
{
	destroy_source(&self->grace_source);
	maybe_send_next(self);
}

/* Detaches the command in flight from the channel and hands it back. */
static GTask *
steal_current(AtChannel *self)
{
	GTask *task = g_steal_pointer(&self->current);
	CommandData *data = g_task_get_task_data(task);

	destroy_source(&self->timeout_source);
	destroy_source(&data->cancel_source);
	return task;
}

/* The command in flight ended without its answer (timeout, cancel): its
 * reply may still come, so hold the queue for it. Output not yet written
 * is dropped: the modem is not taking input anyway. */
static void
abandon_current(AtChannel *self, GError *error)
{
	g_autoptr(AtChannel) keep = g_object_ref(self);
	g_autoptr(GTask) task = steal_current(self);

	self->out_len = self->out_off = 0;
	update_out_watch(self);
	start_grace(self);
	g_task_return_error(task, error);
	maybe_send_next(self);
}

static gboolean
on_command_timeout(gpointer user_data)
{
	AtChannel *self = user_data;
	CommandData *data = g_task_get_task_data(self->current);

	g_clear_pointer(&self->timeout_source, g_source_unref);
	abandon_current(self, g_error_new(AT_ERROR, AT_ERROR_TIMEOUT, "%s: no reply within %u ms",
	                                  data->command, data->timeout_ms));
	return G_SOURCE_REMOVE;
}

static gboolean
on_command_cancelled(GCancellable *cancellable, gpointer user_data)
{
	GTask *task = user_data;
	AtChannel *self = g_task_get_source_object(task);
	CommandData *data = g_task_get_task_data(task);
	GError *error = NULL;

	g_cancellable_set_error_if_cancelled(cancellable, &error);
	if (task == self->current) {
		abandon_current(self, error);
		return G_SOURCE_REMOVE;
	}
	g_clear_pointer(&data->cancel_source, g_source_unref);
	g_queue_remove(&self->queue, task);
	g_task_return_error(task, error);
	g_object_unref(task);
	return G_SOURCE_REMOVE;
}

static void
drain_output(AtChannel *self)
{
	while (self->out_off < self->out_len) {
		gssize n =
		        port_write(self, self->out + self->out_off, self->out_len - self->out_off);
		if (n <= 0)
			break;
		self->out_off += (gsize)n;
	}
	if (!is_closed(self))
		update_out_watch(self);
}

static gboolean
output_pending(AtChannel *self)
{
	return self->out_off < self->out_len;
}

static void
send_current(AtChannel *self)
{
	CommandData *data = g_task_get_task_data(self->current);

	g_debug("--> %s", data->command);
	self->out_len = (gsize)g_snprintf(self->out, sizeof(self->out), "%s\r", data->command);
	self->out_off = 0;
	self->timeout_source =
	        attach_source(g_timeout_source_new(data->timeout_ms), on_command_timeout, self);
	drain_output(self);
}

static void
maybe_send_next(AtChannel *self)
{
	if (is_closed(self) || self->current != NULL || self->grace_source != NULL ||
	    self->stream != NULL || output_pending(self))
		return;
	self->current = g_queue_pop_head(&self->queue);
	if (self->current != NULL)
		send_current(self);
}

static gboolean
command_is_valid(const char *command)
{
	return command[0] != '\0' && strpbrk(command, "\r\n") == NULL &&
	       strlen(command) < COMMAND_MAX;
}

void
at_channel_command(AtChannel *self, const char *command, guint timeout_ms,
                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	CommandData *data;

	g_return_if_fail(AT_IS_CHANNEL(self));
	g_return_if_fail(command != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, at_channel_command);
	if (g_task_return_error_if_cancelled(task))
		return;
	/* A C string cannot carry a NUL; CR and LF would end the command early
	 * and let the rest run as a second one. */
	if (!command_is_valid(command)) {
		g_task_return_new_error(task, AT_ERROR, AT_ERROR_INVALID,
		                        "invalid AT command '%.80s': empty, longer than %d bytes, "
		                        "or contains CR/LF",
		                        command, COMMAND_MAX - 1);
		return;
	}
	if (is_closed(self)) {
		g_task_return_new_error(task, AT_ERROR, closed_code(self), "%s: %s", command,
		                        closed_reason(self));
		return;
	}
	if (self->stream != NULL) {
		g_task_return_new_error(task, AT_ERROR, AT_ERROR_INVALID,
		                        "%s: the AT port is streaming a file", command);
		return;
	}
	data = g_new0(CommandData, 1);
	data->command = g_strdup(command);
	data->timeout_ms = timeout_ms;
	data->lines = g_ptr_array_new_with_free_func(g_free);
	g_task_set_task_data(task, data, (GDestroyNotify)command_data_free);
	if (cancellable != NULL) {
		data->cancel_source = g_cancellable_source_new(cancellable);
		attach_source(data->cancel_source, G_SOURCE_FUNC(on_command_cancelled), task);
	}
	g_queue_push_tail(&self->queue, g_steal_pointer(&task));
	maybe_send_next(self);
}

AtResponse *
at_channel_command_finish(AtChannel *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static AtResponse *
response_new(CommandData *data, const char *final)
{
	AtResponse *response = g_new0(AtResponse, 1);

	g_ptr_array_add(data->lines, NULL);
	response->lines = (char **)g_ptr_array_steal(data->lines, NULL);
	response->final = g_strdup(final);
	return response;
}

static void
complete_current(AtChannel *self, const char *line, AtFinal final)
{
	g_autoptr(AtChannel) keep = g_object_ref(self);
	g_autoptr(GTask) task = steal_current(self);
	CommandData *data = g_task_get_task_data(task);

	maybe_send_next(self);
	switch (final) {
	case AT_FINAL_OK:
	case AT_FINAL_CONNECT:
		g_task_return_pointer(task, response_new(data, line),
		                      (GDestroyNotify)at_response_free);
		break;
	case AT_FINAL_CME_ERROR:
		g_task_return_new_error(task, AT_ERROR, AT_ERROR_CME, "%s: %s", data->command,
		                        line);
		break;
	case AT_FINAL_CMS_ERROR:
		g_task_return_new_error(task, AT_ERROR, AT_ERROR_CMS, "%s: %s", data->command,
		                        line);
		break;
	default:
		g_task_return_new_error(task, AT_ERROR, AT_ERROR_MODEM, "%s: modem answered %s",
		                        data->command, line);
		break;
	}
}

/* "+CPIN: READY" answers "AT+CPIN?": a URC-looking line whose prefix names
 * the command in flight is its answer, not a URC. */
static gboolean
line_answers_command(const char *line, const char *command)
{
	const char *colon = strchr(line, ':');
	gsize n;

	if (line[0] != '+' || colon == NULL || g_ascii_strncasecmp(command, "AT", 2) != 0)
		return FALSE;
	n = (gsize)(colon - line);
	return g_ascii_strncasecmp(command + 2, line, n) == 0 && !g_ascii_isalnum(command[2 + n]);
}

static void
emit_urc(AtChannel *self, const char *line)
{
	g_signal_emit(self, signals[SIGNAL_URC], 0, line);
}

static void
add_response_line(CommandData *data, const char *line)
{
	if (data->lines->len >= RESPONSE_MAX_LINES) {
		if (data->lines_dropped++ == 0)
			g_warning("%s: response longer than %d lines, dropping the rest",
			          data->command, RESPONSE_MAX_LINES);
		return;
	}
	g_ptr_array_add(data->lines, g_strdup(line));
}

static void
handle_response_line(AtChannel *self, const char *line)
{
	CommandData *data = g_task_get_task_data(self->current);
	AtFinal final = at_parse_final(line, NULL);

	if (g_ascii_strcasecmp(line, data->command) == 0)
		return; /* echo */
	if (final != AT_FINAL_NONE)
		complete_current(self, line, final);
	else if (at_parse_is_urc(line) && !line_answers_command(line, data->command))
		emit_urc(self, line);
	else
		add_response_line(data, line);
}

/* After a timeout: the abandoned command's answer, not the next one's. */
static void
handle_grace_line(AtChannel *self, const char *line)
{
	if (at_parse_is_urc(line)) {
		emit_urc(self, line);
		return;
	}
	g_debug("swallowed late reply line '%s'", line);
	if (at_parse_final(line, NULL) != AT_FINAL_NONE)
		end_grace(self);
}

static void
on_line(const char *line, gsize len, gpointer user_data)
{
	AtChannel *self = user_data;

	if (is_closed(self))
		return;
	g_debug("<-- %s", line);
	if (self->current != NULL)
		handle_response_line(self, line);
	else if (self->grace_source != NULL)
		handle_grace_line(self, line);
	else
		emit_urc(self, line);
}

static gboolean
on_input(int fd, GIOCondition condition, gpointer user_data)
{
	AtChannel *self = user_data;
	g_autoptr(AtChannel) keep = g_object_ref(self);
	guint8 buf[READ_CHUNK];

	for (guint i = 0; i < READS_PER_WAKE && !is_closed(self); i++) {
		gssize n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			at_framer_feed(&self->framer, buf, (gsize)n, on_line, self);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* Data first, then the hang-up: a HUP with nothing
			 * left to read is final. */
			if (condition & (G_IO_HUP | G_IO_ERR))
				port_lost(self, "the port hung up");
			break;
		}
		if (n == 0)
			port_lost(self, "end of file on the port");
		else if (errno_means_hangup(errno))
			port_lost(self, "reading the port failed: %s", g_strerror(errno));
		else
			port_lost(self, "unexpected read error on the port: %s", g_strerror(errno));
		break;
	}
	/* shut_down() destroyed the source; returning REMOVE then is harmless. */
	return is_closed(self) ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static gboolean
on_output(int fd, GIOCondition condition, gpointer user_data)
{
	AtChannel *self = user_data;
	g_autoptr(AtChannel) keep = g_object_ref(self);

	if (self->stream != NULL)
		stream_pump(self);
	else
		drain_output(self);
	return G_SOURCE_CONTINUE;
}

static gboolean
wants_out_watch(AtChannel *self)
{
	StreamData *data;

	if (output_pending(self))
		return TRUE;
	if (self->stream == NULL)
		return FALSE;
	data = g_task_get_task_data(self->stream);
	return !data->pacing.paced && data->sent < data->length;
}

/* The G_IO_OUT watch exists only while there is something to write; a
 * writable fd would otherwise wake the loop forever. */
static void
update_out_watch(AtChannel *self)
{
	gboolean want = !is_closed(self) && wants_out_watch(self);

	if (want && self->out_source == NULL) {
		self->out_source = g_unix_fd_source_new(self->fd, G_IO_OUT);
		attach_source(self->out_source, G_SOURCE_FUNC(on_output), self);
	} else if (!want) {
		destroy_source(&self->out_source);
	}
}

/* ---- Raw stream ------------------------------------------------------- */

static void
stream_report_progress(StreamData *data, gboolean force)
{
	gint64 now = g_get_monotonic_time();

	if (data->progress == NULL)
		return;
	if (!force && data->sent - data->last_progress_sent < PROGRESS_BYTES &&
	    now - data->last_progress_time < PROGRESS_INTERVAL_US)
		return;
	data->last_progress_sent = data->sent;
	data->last_progress_time = now;
	data->progress(data->sent, data->length, data->progress_data);
}

static void
stream_finish_task(AtChannel *self, GError *error)
{
	g_autoptr(AtChannel) keep = g_object_ref(self);
	g_autoptr(GTask) task = g_steal_pointer(&self->stream);
	StreamData *data = g_task_get_task_data(task);

	destroy_source(&data->timer);
	destroy_source(&data->cancel_source);
	update_out_watch(self);
	if (error == NULL) {
		stream_report_progress(data, TRUE);
		g_task_return_boolean(task, TRUE);
	} else {
		g_task_return_error(task, error);
	}
	maybe_send_next(self);
}

/* Refills the buffer from the source fd when empty. FALSE on failure
 * (the stream has then been failed). */
static gboolean
stream_refill(AtChannel *self, StreamData *data)
{
	guint64 left = data->length - data->sent;
	gssize n;

	if (data->buf_off < data->buf_len)
		return TRUE;
	do
		n = read(data->fd, data->buf, MIN(left, (guint64)STREAM_BUFFER));
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		stream_finish_task(
		        self,
		        n == 0 ? g_error_new(AT_ERROR, AT_ERROR_IO,
		                             "package file ended after %" G_GUINT64_FORMAT
		                             " of %" G_GUINT64_FORMAT " bytes",
		                             data->sent, data->length)
		               : g_error_new(
		                         AT_ERROR, AT_ERROR_IO,
		                         "reading the package file failed after %" G_GUINT64_FORMAT
		                         " bytes: %s",
		                         data->sent, g_strerror(errno)));
		return FALSE;
	}
	data->buf_off = 0;
	data->buf_len = (gsize)n;
	return TRUE;
}

/* Writes up to @max bytes of the stream. Returns bytes written, 0 when the
 * port is full, -1 when the stream has ended (done or failed). */
static gssize
stream_write(AtChannel *self, StreamData *data, gsize max)
{
	gssize n;

	if (!stream_refill(self, data))
		return -1;
	n = port_write(self, data->buf + data->buf_off, MIN(max, data->buf_len - data->buf_off));
	if (n < 0)
		return -1; /* port lost: shut_down() failed the stream */
	data->buf_off += (gsize)n;
	data->sent += (guint64)n;
	if (data->sent == data->length) {
		stream_finish_task(self, NULL);
		return -1;
	}
	stream_report_progress(data, FALSE);
	return n;
}

/* Hardware flow control: as much as the port takes. */
static void
stream_pump(AtChannel *self)
{
	StreamData *data = g_task_get_task_data(self->stream);

	for (guint i = 0; i < STREAM_BUFFERS_PER_WAKE * (STREAM_BUFFER / READ_CHUNK); i++) {
		if (stream_write(self, data, STREAM_BUFFER) <= 0)
			return;
	}
}

/* Paced: a token bucket against the monotonic clock, so a late tick is made
 * up by the next one and the average holds whatever the timer's jitter. */
static gboolean
on_pace_tick(gpointer user_data)
{
	AtChannel *self = user_data;
	g_autoptr(AtChannel) keep = g_object_ref(self);
	StreamData *data = g_task_get_task_data(self->stream);
	gint64 now = g_get_monotonic_time();
	guint64 burst = MAX((guint64)data->pacing.rate * PACE_BURST_US,
	                    (guint64)data->pacing.max_write * G_USEC_PER_SEC);

	data->credit += (guint64)(now - data->last_tick) * data->pacing.rate;
	data->credit = MIN(data->credit, burst);
	data->last_tick = now;
	for (;;) {
		guint64 tokens = data->credit / G_USEC_PER_SEC;
		gsize chunk =
		        (gsize)MIN((guint64)data->pacing.max_write, data->length - data->sent);
		gssize n;

		if (tokens < chunk)
			break;
		n = stream_write(self, data, chunk);
		if (n <= 0)
			return n < 0 ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
		data->credit -= (guint64)n * G_USEC_PER_SEC;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
on_stream_cancelled(GCancellable *cancellable, gpointer user_data)
{
	AtChannel *self = user_data;
	GError *error = NULL;

	g_cancellable_set_error_if_cancelled(cancellable, &error);
	stream_finish_task(self, error);
	return G_SOURCE_REMOVE;
}

static void
normalise_pacing(AtStreamPacing *pacing, const AtStreamPacing *in)
{
	*pacing = in != NULL ? *in : (AtStreamPacing){0};
	if (!pacing->paced)
		return;
	if (pacing->rate == 0)
		pacing->rate = PACED_DEFAULT_RATE;
	if (pacing->max_write == 0 || pacing->max_write > PACED_MAX_WRITE)
		pacing->max_write = PACED_MAX_WRITE;
}

static const char *
stream_refusal(AtChannel *self)
{
	if (is_closed(self))
		return closed_reason(self);
	if (self->stream != NULL)
		return "another stream is running";
	if (self->current != NULL || !g_queue_is_empty(&self->queue) || output_pending(self))
		return "AT commands are pending";
	return NULL;
}

static void
stream_start(AtChannel *self, StreamData *data, GCancellable *cancellable)
{
	g_debug("streaming %" G_GUINT64_FORMAT " bytes, %s", data->length,
	        data->pacing.paced ? "paced" : "hardware flow control");
	data->last_tick = data->last_progress_time = g_get_monotonic_time();
	if (cancellable != NULL) {
		data->cancel_source = g_cancellable_source_new(cancellable);
		attach_source(data->cancel_source, G_SOURCE_FUNC(on_stream_cancelled), self);
	}
	if (data->pacing.paced) {
		data->timer = attach_source(g_timeout_source_new(PACE_TICK_MS), on_pace_tick, self);
		g_source_set_priority(data->timer, G_PRIORITY_HIGH);
	}
	update_out_watch(self);
}

void
at_channel_stream(AtChannel *self, int fd, guint64 length, const AtStreamPacing *pacing,
                  AtStreamProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	StreamData *data;
	const char *refusal;

	g_return_if_fail(AT_IS_CHANNEL(self));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, at_channel_stream);
	data = g_new0(StreamData, 1);
	data->fd = fd;
	data->length = length;
	data->progress = progress;
	data->progress_data = progress_data;
	normalise_pacing(&data->pacing, pacing);
	g_task_set_task_data(task, data, (GDestroyNotify)stream_data_free);
	if (g_task_return_error_if_cancelled(task))
		return;
	refusal = stream_refusal(self);
	if (refusal != NULL) {
		g_task_return_new_error(
		        task, AT_ERROR, is_closed(self) ? closed_code(self) : AT_ERROR_INVALID,
		        "cannot stream %" G_GUINT64_FORMAT " bytes: %s", length, refusal);
		return;
	}
	if (length == 0) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	data->buf = g_malloc(STREAM_BUFFER);
	self->stream = g_steal_pointer(&task);
	stream_start(self, data, cancellable);
}

gboolean
at_channel_stream_finish(AtChannel *self, GAsyncResult *result, guint64 *sent, GError **error)
{
	StreamData *data;

	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	data = g_task_get_task_data(G_TASK(result));
	if (sent != NULL)
		*sent = data->sent;
	return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- Object ----------------------------------------------------------- */

AtChannel *
at_channel_new(int fd, const AtChannelConfig *config)
{
	AtChannel *self = g_object_new(AT_TYPE_CHANNEL, NULL);

	self->fd = fd;
	self->late_reply_grace_ms =
	        config != NULL ? config->late_reply_grace_ms : DEFAULT_LATE_REPLY_GRACE_MS;
	self->in_source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	attach_source(self->in_source, G_SOURCE_FUNC(on_input), self);
	return self;
}

void
at_channel_close(AtChannel *self)
{
	g_return_if_fail(AT_IS_CHANNEL(self));
	if (is_closed(self))
		return;
	g_autoptr(AtChannel) keep = g_object_ref(self);
	shut_down(self, AT_ERROR_CLOSED, "the AT port was closed");
}

gboolean
at_channel_is_open(AtChannel *self)
{
	g_return_val_if_fail(AT_IS_CHANNEL(self), FALSE);
	return !is_closed(self);
}

guint64
at_channel_get_dropped_lines(AtChannel *self)
{
	g_return_val_if_fail(AT_IS_CHANNEL(self), 0);
	return self->framer.dropped;
}

static void
at_channel_dispose(GObject *object)
{
	AtChannel *self = AT_CHANNEL(object);

	/* Pending tasks hold a reference to the channel, so by the time the
	 * last one is gone there is nothing left to fail: just close. */
	if (!is_closed(self))
		shut_down(self, AT_ERROR_CLOSED, "the AT port was closed");
	G_OBJECT_CLASS(at_channel_parent_class)->dispose(object);
}

static void
at_channel_init(AtChannel *self)
{
	self->fd = -1;
	at_framer_init(&self->framer);
	g_queue_init(&self->queue);
}

static void
at_channel_class_init(AtChannelClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = at_channel_dispose;
	signals[SIGNAL_URC] = g_signal_new("urc", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	signals[SIGNAL_PORT_LOST] =
	        g_signal_new("port-lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}
