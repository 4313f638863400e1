/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "at-channel"

#include "at-channel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <glib-unix.h>

#include "at-framer.h"
#include "at-parse.h"
#include "fota-limits.h"

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-at-channel-error-quark, at_error)
/* clang-format on */

#define DEFAULT_LATE_REPLY_GRACE_MS 1000
/* The longest command line: AT+QFOTADL with a URL of FOTA_URL_MAX bytes
 * and its parameters fits with room to spare. */
#define COMMAND_MAX 1024
G_STATIC_ASSERT(sizeof("AT+QFOTADL=\"\",2,100,100") + FOTA_URL_MAX < COMMAND_MAX);
/* Intermediate lines kept per response; a runaway response must not grow
 * memory without bound. */
#define RESPONSE_MAX_LINES 256
/* The modem's output read ahead of its handling. Bytes left in the kernel
 * while the lines before them are handled (a job's work for each one takes
 * tens of milliseconds on a loaded gateway) are lost when the modem reboots:
 * the tty's hang-up discards them, END among them. So whatever the port
 * holds is taken out between lines, into this buffer. */
#define INPUT_MAX (64 * 1024)
/* A read keeps at least this much room; less, and the buffer is compacted. */
#define INPUT_MIN_ROOM 4096
/* The most handed to the framer at once, from a copy: a listener that runs
 * the main loop (and so this channel's reads) cannot move it. */
#define INPUT_PIECE 4096
/* Bytes read per wake-up: bounded so a flooding port cannot starve the rest
 * of the main loop. */
#define INPUT_PER_WAKE INPUT_MAX

typedef struct {
	char *command;
	guint timeout_ms;
	GPtrArray *lines;
	guint lines_dropped;
	GSource *cancel_source;
} CommandData;

struct _FotaAtChannel {
	GObject parent_instance;

	int fd;            /* -1 once closed or lost */
	gboolean lost;     /* closed because the port hung up, not by us */
	gboolean blocking; /* O_NONBLOCK cleared: a stream is writing */
	guint late_reply_grace_ms;
	guint8 *input; /* INPUT_MAX bytes: read from the port, not yet framed */
	gsize input_off, input_len;
	char *hangup; /* why the port is gone, once the bytes before it are out */
	AtFramer framer;
	GSource *in_source;
	GSource *out_source;

	GQueue queue;   /* GTask*: commands waiting */
	GTask *current; /* the command in flight */
	GSource *timeout_source;
	GSource *grace_source;
	guint64 unpaired_finals;

	char out[COMMAND_MAX + 1];
	gsize out_len, out_off;

	GTask *stream; /* task data: the AtStream */
	GSource *stream_cancel_source;
};

G_DEFINE_TYPE(FotaAtChannel, at_channel, G_TYPE_OBJECT)

enum { SIGNAL_URC, SIGNAL_PORT_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void update_out_watch(FotaAtChannel *self);
static void maybe_send_next(FotaAtChannel *self);
static void stream_end(FotaAtChannel *self, GError *reason);
static void stream_stop_worker(FotaAtChannel *self);

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
is_closed(FotaAtChannel *self)
{
	return self->fd < 0;
}

gboolean
at_error_is_port_gone(const GError *error)
{
	return g_error_matches(error, AT_ERROR, AT_ERROR_PORT_LOST) ||
	       g_error_matches(error, AT_ERROR, AT_ERROR_CLOSED);
}

static AtError
closed_code(FotaAtChannel *self)
{
	return self->lost ? AT_ERROR_PORT_LOST : AT_ERROR_CLOSED;
}

static const char *
closed_reason(FotaAtChannel *self)
{
	return self->lost ? "the AT port is gone" : "the AT port is closed";
}

/* ---- Port I/O --------------------------------------------------------- */

static gboolean
errno_means_hangup(int err)
{
	return err == EIO || err == ENXIO || err == ENODEV || err == EPIPE || err == EBADF;
}

/* TIOCEXCL belongs to the tty, not to our fd: left set, it outlives us
 * while another process keeps the tty open, and our restart (without
 * CAP_SYS_ADMIN) would get EBUSY for good. */
static void
close_port(FotaAtChannel *self)
{
	if (self->fd < 0)
		return;
	if (ioctl(self->fd, TIOCNXCL) < 0 && errno != ENOTTY)
		g_debug("clearing TIOCEXCL failed: %s", g_strerror(errno));
	close(self->fd);
	self->fd = -1;
}

/* Tears the port down and fails everything pending with @code. */
static void
shut_down(FotaAtChannel *self, int code, const char *why)
{
	g_autoptr(GError) error = g_error_new_literal(AT_ERROR, code, why);
	g_autoptr(GTask) current = g_steal_pointer(&self->current);
	GTask *task;

	/* Before the fd goes: the worker must not write past the close. */
	stream_stop_worker(self);
	destroy_source(&self->in_source);
	destroy_source(&self->out_source);
	destroy_source(&self->timeout_source);
	destroy_source(&self->grace_source);
	close_port(self);
	self->out_len = self->out_off = 0;
	self->input_off = self->input_len = 0;
	g_clear_pointer(&self->hangup, g_free);
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
	if (self->stream != NULL)
		stream_end(self, g_error_copy(error));
}

static void port_lost(FotaAtChannel *self, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
port_lost(FotaAtChannel *self, const char *fmt, ...)
{
	g_autoptr(FotaAtChannel) keep = g_object_ref(self);
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

/* O_NONBLOCK belongs to the open file, which the stream worker's dup()
 * shares: cleared for its writes, set again once it is joined. */
static gboolean
port_set_blocking(FotaAtChannel *self, gboolean blocking)
{
	int flags;

	if (self->fd < 0 || self->blocking == blocking)
		return self->blocking == blocking;
	flags = fcntl(self->fd, F_GETFL);
	if (flags < 0 ||
	    fcntl(self->fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK) < 0) {
		g_debug("changing O_NONBLOCK on the port failed: %s", g_strerror(errno));
		return FALSE;
	}
	self->blocking = blocking;
	return TRUE;
}

/* Writes what the port takes now. Returns the bytes written (0 when it is
 * full), or -1 after declaring the port lost. */
static gssize
port_write(FotaAtChannel *self, const void *buf, gsize len)
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
	FotaAtChannel *self = user_data;

	g_clear_pointer(&self->grace_source, g_source_unref);
	maybe_send_next(self);
	return G_SOURCE_REMOVE;
}

static void
start_grace(FotaAtChannel *self)
{
	if (self->late_reply_grace_ms == 0)
		return;
	destroy_source(&self->grace_source);
	self->grace_source = g_timeout_source_new(self->late_reply_grace_ms);
	attach_source(self->grace_source, on_grace_over, self);
}

static void
end_grace(FotaAtChannel *self)
{
	destroy_source(&self->grace_source);
	maybe_send_next(self);
}

/* Detaches the command in flight from the channel and hands it back. */
static GTask *
steal_current(FotaAtChannel *self)
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
abandon_current(FotaAtChannel *self, GError *error)
{
	g_autoptr(FotaAtChannel) keep = g_object_ref(self);
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
	FotaAtChannel *self = user_data;
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
	FotaAtChannel *self = g_task_get_source_object(task);
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
drain_output(FotaAtChannel *self)
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
output_pending(FotaAtChannel *self)
{
	return self->out_off < self->out_len;
}

static void
send_current(FotaAtChannel *self)
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
maybe_send_next(FotaAtChannel *self)
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
at_channel_command(FotaAtChannel *self, const char *command, guint timeout_ms,
                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	CommandData *data;

	g_return_if_fail(FOTA_IS_AT_CHANNEL(self));
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
at_channel_command_finish(FotaAtChannel *self, GAsyncResult *result, GError **error)
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
complete_current(FotaAtChannel *self, const char *line, AtFinal final)
{
	g_autoptr(FotaAtChannel) keep = g_object_ref(self);
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
emit_urc(FotaAtChannel *self, const char *line)
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
handle_response_line(FotaAtChannel *self, const char *line)
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

/* A final result nobody asked for: usually a command of ours took an
 * answer that was not its own (another program's, or an earlier run's,
 * still in flight when the port was opened), and this is its own. Counted
 * for whoever checks the pairing; a debug line only, since a port that keeps
 * answering must not flood the journal. */
static void
note_unpaired_final(FotaAtChannel *self, const char *line)
{
	self->unpaired_finals++;
	g_debug("final result '%s' with no command in flight", line);
}

/* After a timeout: the abandoned command's answer, not the next one's. */
static void
handle_grace_line(FotaAtChannel *self, const char *line)
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
	FotaAtChannel *self = user_data;

	if (is_closed(self))
		return;
	g_debug("<-- %s", line);
	if (self->current != NULL)
		handle_response_line(self, line);
	else if (self->grace_source != NULL)
		handle_grace_line(self, line);
	else if (at_parse_final(line, NULL) != AT_FINAL_NONE)
		note_unpaired_final(self, line);
	else
		emit_urc(self, line);
}

/* Whether a read returns at once. While a stream writes, the port's reads
 * block (O_NONBLOCK belongs to the open file the worker's dup() shares). */
static gboolean
port_readable(FotaAtChannel *self)
{
	struct pollfd pfd = {.fd = self->fd, .events = POLLIN};
	int n;

	if (!self->blocking)
		return TRUE; /* the read says EAGAIN itself */
	do
		n = poll(&pfd, 1, 0);
	while (n < 0 && errno == EINTR);
	/* POLLHUP and POLLERR too: the read then says what happened */
	return n > 0;
}

static void note_hangup(FotaAtChannel *self, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The port is gone, but the bytes read before are the modem's last words
 * (FILEEND, END): they are handed out first. */
static void
note_hangup(FotaAtChannel *self, const char *fmt, ...)
{
	va_list ap;

	if (self->hangup != NULL)
		return;
	va_start(ap, fmt);
	self->hangup = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

/* Takes what the port holds, as far as the buffer and @budget allow.
 * Returns TRUE when the port had nothing more to give. */
static gboolean
input_fill(FotaAtChannel *self, gsize *budget)
{
	while (!is_closed(self) && self->hangup == NULL) {
		gsize room = INPUT_MAX - self->input_off - self->input_len;
		gssize n;

		if (room < INPUT_MIN_ROOM && self->input_off > 0) {
			memmove(self->input, self->input + self->input_off, self->input_len);
			self->input_off = 0;
			room = INPUT_MAX - self->input_len;
		}
		room = MIN(room, *budget);
		if (room == 0)
			return FALSE;
		if (!port_readable(self))
			return TRUE;
		n = read(self->fd, self->input + self->input_off + self->input_len, room);
		if (n > 0) {
			self->input_len += (gsize)n;
			*budget -= (gsize)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return TRUE;
		if (n == 0)
			note_hangup(self, "end of file on the port");
		else if (errno_means_hangup(errno))
			note_hangup(self, "reading the port failed: %s", g_strerror(errno));
		else
			note_hangup(self, "unexpected read error on the port: %s",
			            g_strerror(errno));
	}
	return TRUE;
}

/* The bytes up to the next line end, or all when there is none. */
static gsize
input_segment(const guint8 *p, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			return i + 1;
	}
	return len;
}

/* Takes what the port holds and hands it to the framer a line at a time,
 * emptying the port again after each line: the modem's next lines wait in
 * our buffer, not in the kernel, however long the listeners take. Returns
 * TRUE when the port had nothing more to give. */
static gboolean
input_take(FotaAtChannel *self, gsize *budget)
{
	gboolean drained = input_fill(self, budget);

	while (!is_closed(self) && self->input_len > 0) {
		guint8 piece[INPUT_PIECE];
		gsize n = input_segment(self->input + self->input_off,
		                        MIN(self->input_len, sizeof(piece)));

		memcpy(piece, self->input + self->input_off, n);
		self->input_off += n;
		self->input_len -= n;
		if (self->input_len == 0)
			self->input_off = 0;
		at_framer_feed(&self->framer, piece, n, on_line, self);
		drained = input_fill(self, budget);
	}
	return drained;
}

static gboolean
on_input(int fd, GIOCondition condition, gpointer user_data)
{
	FotaAtChannel *self = user_data;
	g_autoptr(FotaAtChannel) keep = g_object_ref(self);
	gsize budget = INPUT_PER_WAKE;
	gboolean drained = input_take(self, &budget);

	if (is_closed(self))
		return G_SOURCE_REMOVE; /* shut_down() destroyed the source */
	/* Data first, then the hang-up: a HUP with nothing left to read is
	 * final. */
	if ((condition & (G_IO_HUP | G_IO_ERR)) && drained)
		note_hangup(self, "the port hung up");
	if (self->hangup != NULL)
		port_lost(self, "%s", self->hangup);
	return is_closed(self) ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static gboolean
on_output(int fd, GIOCondition condition, gpointer user_data)
{
	FotaAtChannel *self = user_data;
	g_autoptr(FotaAtChannel) keep = g_object_ref(self);

	drain_output(self);
	return G_SOURCE_CONTINUE;
}

/* The G_IO_OUT watch exists only while there is something to write; a
 * writable fd would otherwise wake the loop forever. */
static void
update_out_watch(FotaAtChannel *self)
{
	gboolean want = !is_closed(self) && output_pending(self);

	if (want && self->out_source == NULL) {
		self->out_source = g_unix_fd_source_new(self->fd, G_IO_OUT);
		attach_source(self->out_source, G_SOURCE_FUNC(on_output), self);
	} else if (!want) {
		destroy_source(&self->out_source);
	}
}

/* ---- The FILE stream (at-stream.c) ------------------------------------ */

/* Ends the stream: the worker's own outcome when it had one (even a
 * success that raced a cancel or a close), else @reason. */
static void
stream_end(FotaAtChannel *self, GError *reason)
{
	g_autoptr(FotaAtChannel) keep = g_object_ref(self);
	g_autoptr(GTask) task = g_steal_pointer(&self->stream);
	AtStream *stream = g_task_get_task_data(task);
	GError *error = NULL;

	destroy_source(&self->stream_cancel_source);
	at_stream_stop(stream);
	port_set_blocking(self, FALSE);
	if (at_stream_outcome(stream, reason, &error))
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_error(task, error);
	maybe_send_next(self);
}

/* Before the fd goes: afterwards nothing writes to the port. */
static void
stream_stop_worker(FotaAtChannel *self)
{
	if (self->stream == NULL)
		return;
	at_stream_stop(g_task_get_task_data(self->stream));
	port_set_blocking(self, FALSE);
}

static void
on_stream_ended(AtStream *stream, gpointer user_data)
{
	FotaAtChannel *self = user_data;
	const char *port_failure = at_stream_get_port_failure(stream);

	/* A port that failed under the worker is lost for everyone:
	 * shut_down() then ends the stream with AT_ERROR_PORT_LOST. */
	if (port_failure != NULL)
		port_lost(self, "%s", port_failure);
	else
		stream_end(self, NULL);
}

static gboolean
on_stream_cancelled(GCancellable *cancellable, gpointer user_data)
{
	FotaAtChannel *self = user_data;
	GError *error = NULL;

	g_cancellable_set_error_if_cancelled(cancellable, &error);
	stream_end(self, error);
	return G_SOURCE_REMOVE;
}

static const char *
stream_refusal(FotaAtChannel *self)
{
	if (is_closed(self))
		return closed_reason(self);
	if (self->stream != NULL)
		return "another stream is running";
	if (self->current != NULL || !g_queue_is_empty(&self->queue) || output_pending(self))
		return "AT commands are pending";
	return NULL;
}

/* Makes the port's writes block and starts @stream on it; NULL (and the
 * task returned) when the stream cannot start. */
static AtStream *
stream_begin(FotaAtChannel *self, GTask *task, const AtStreamSource *source,
             AtStreamProgressFunc progress, gpointer progress_data)
{
	g_autoptr(AtStream) stream = NULL;
	GError *error = NULL;
	const char *refusal;

	stream = at_stream_new(source, progress, progress_data, &error);
	if (stream == NULL) {
		g_task_return_error(task, error);
		return NULL;
	}
	refusal = stream_refusal(self);
	if (refusal != NULL) {
		g_task_return_new_error(
		        task, AT_ERROR, is_closed(self) ? closed_code(self) : AT_ERROR_INVALID,
		        "cannot stream %" G_GUINT64_FORMAT " bytes: %s", source->length, refusal);
		return NULL;
	}
	if (!port_set_blocking(self, TRUE) ||
	    !at_stream_start(stream, self->fd, on_stream_ended, self, &error)) {
		if (error == NULL)
			g_set_error(&error, AT_ERROR, AT_ERROR_IO,
			            "cannot make the port's writes blocking: %s",
			            g_strerror(errno));
		g_clear_pointer(&stream, at_stream_free);
		port_set_blocking(self, FALSE);
		g_task_return_error(task, error);
		return NULL;
	}
	return g_steal_pointer(&stream);
}

void
at_channel_stream(FotaAtChannel *self, const AtStreamSource *source, AtStreamProgressFunc progress,
                  gpointer progress_data, GCancellable *cancellable, GAsyncReadyCallback callback,
                  gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	AtStream *stream;

	g_return_if_fail(FOTA_IS_AT_CHANNEL(self));
	g_return_if_fail(source != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, at_channel_stream);
	/* The outcome is the worker's: a cancel that raced the last write
	 * must not turn a delivered package into "cancelled". */
	g_task_set_check_cancellable(task, FALSE);
	if (g_task_return_error_if_cancelled(task))
		return;
	stream = stream_begin(self, task, source, progress, progress_data);
	if (stream == NULL)
		return;
	g_task_set_task_data(task, stream, (GDestroyNotify)at_stream_free);
	g_debug("streaming %" G_GUINT64_FORMAT " bytes, %s", source->length,
	        source->pacing.paced ? "paced" : "hardware flow control");
	self->stream = g_steal_pointer(&task);
	if (cancellable != NULL) {
		self->stream_cancel_source = g_cancellable_source_new(cancellable);
		attach_source(self->stream_cancel_source, G_SOURCE_FUNC(on_stream_cancelled), self);
	}
}

gboolean
at_channel_stream_finish(FotaAtChannel *self, GAsyncResult *result, guint64 *sent,
                         char **sent_sha256, GError **error)
{
	AtStream *stream;
	gboolean ok;

	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	/* NULL when the stream never started */
	stream = g_task_get_task_data(G_TASK(result));
	ok = g_task_propagate_boolean(G_TASK(result), error);
	if (sent != NULL)
		*sent = stream != NULL ? at_stream_get_sent(stream) : 0;
	if (sent_sha256 != NULL)
		*sent_sha256 =
		        ok && stream != NULL ? g_strdup(at_stream_get_sent_sha256(stream)) : NULL;
	return ok;
}

/* ---- Object ----------------------------------------------------------- */

FotaAtChannel *
at_channel_new(int fd, const AtChannelConfig *config)
{
	FotaAtChannel *self = g_object_new(FOTA_TYPE_AT_CHANNEL, NULL);

	self->fd = fd;
	self->late_reply_grace_ms =
	        config != NULL ? config->late_reply_grace_ms : DEFAULT_LATE_REPLY_GRACE_MS;
	self->in_source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	attach_source(self->in_source, G_SOURCE_FUNC(on_input), self);
	return self;
}

void
at_channel_close(FotaAtChannel *self)
{
	g_return_if_fail(FOTA_IS_AT_CHANNEL(self));
	if (is_closed(self))
		return;
	g_autoptr(FotaAtChannel) keep = g_object_ref(self);
	shut_down(self, AT_ERROR_CLOSED, "the AT port was closed");
}

gboolean
at_channel_is_open(FotaAtChannel *self)
{
	g_return_val_if_fail(FOTA_IS_AT_CHANNEL(self), FALSE);
	return !is_closed(self);
}

guint64
at_channel_get_unpaired_finals(FotaAtChannel *self)
{
	g_return_val_if_fail(FOTA_IS_AT_CHANNEL(self), 0);
	return self->unpaired_finals;
}

guint64
at_channel_get_dropped_lines(FotaAtChannel *self)
{
	g_return_val_if_fail(FOTA_IS_AT_CHANNEL(self), 0);
	return self->framer.dropped;
}

static void
at_channel_dispose(GObject *object)
{
	FotaAtChannel *self = FOTA_AT_CHANNEL(object);

	/* Pending tasks hold a reference to the channel, so by the time the
	 * last one is gone there is nothing left to fail: just close. */
	if (!is_closed(self))
		shut_down(self, AT_ERROR_CLOSED, "the AT port was closed");
	G_OBJECT_CLASS(at_channel_parent_class)->dispose(object);
}

static void
at_channel_finalize(GObject *object)
{
	FotaAtChannel *self = FOTA_AT_CHANNEL(object);

	g_free(self->input);
	g_free(self->hangup);
	G_OBJECT_CLASS(at_channel_parent_class)->finalize(object);
}

static void
at_channel_init(FotaAtChannel *self)
{
	self->fd = -1;
	self->input = g_malloc(INPUT_MAX);
	at_framer_init(&self->framer);
	g_queue_init(&self->queue);
}

static void
at_channel_class_init(FotaAtChannelClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = at_channel_dispose;
	object_class->finalize = at_channel_finalize;
	signals[SIGNAL_URC] = g_signal_new("urc", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	signals[SIGNAL_PORT_LOST] =
	        g_signal_new("port-lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}
