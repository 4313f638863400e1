/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* The AT port, driven by the GLib main loop: a queue of commands (one in
 * flight, each with its own timeout), URCs to subscribers, hang-up
 * detection, and the raw stream of a FILE package (written by a worker
 * thread, see at_channel_stream()). Never blocks the main loop. */

#define AT_TYPE_CHANNEL (at_channel_get_type())
G_DECLARE_FINAL_TYPE(AtChannel, at_channel, AT, CHANNEL, GObject)

#define AT_ERROR (at_error_quark())
GQuark at_error_quark(void);
typedef enum {
	AT_ERROR_TIMEOUT,         /* no final result in time */
	AT_ERROR_MODEM,           /* ERROR */
	AT_ERROR_CME,             /* +CME ERROR: <n|text> (message carries it) */
	AT_ERROR_CMS,             /* +CMS ERROR */
	AT_ERROR_PORT_LOST,       /* EOF/EIO/HUP: the tty vanished */
	AT_ERROR_CLOSED,          /* at_channel_close() was called */
	AT_ERROR_IO,              /* other read/write errors */
	AT_ERROR_INVALID,         /* a command with CR/LF/NUL, or one while streaming */
	AT_ERROR_PACKAGE_CHANGED, /* the package changed while it was being sent */
} AtError;

typedef struct {
	guint late_reply_grace_ms; /* after a timeout, hold the queue this long for the late
	                              reply so it is not taken as the next command's (default 1000)
	                            */
} AtChannelConfig;

typedef struct {
	char **lines; /* intermediate lines, NULL-terminated (echo and URCs excluded) */
	char *final;  /* "OK" or "CONNECT" */
} AtResponse;

void at_response_free(AtResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AtResponse, at_response_free)

/* Takes ownership of @fd (an open tty, non-blocking). @config may be NULL. */
AtChannel *at_channel_new(int fd, const AtChannelConfig *config);

/* @command without the trailing CR, e.g. "AT+QGMR". Must not contain CR,
 * LF or NUL (AT_ERROR_INVALID). */
void at_channel_command(AtChannel *self, const char *command, guint timeout_ms,
                        GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data);
AtResponse *at_channel_command_finish(AtChannel *self, GAsyncResult *result, GError **error);

typedef struct {
	gboolean paced;  /* FALSE: hardware flow control, as fast as the port accepts */
	guint rate;      /* paced: bytes per second (default 15360) */
	guint max_write; /* paced: bytes per write (at most 32) */
} AtStreamPacing;

typedef struct {
	/* The package; read with pread() from offset 0: the fd's own offset
	 * is never used or moved. */
	int fd;
	/* Exactly this many bytes go to the port. */
	guint64 length;
	/* NULL, or 64 hex digits: the last chunk is withheld until the running
	 * sha256 of all bytes read equals it. */
	const char *expected_sha256;
	AtStreamPacing pacing;
} AtStreamSource;

typedef void (*AtStreamProgressFunc)(guint64 sent, guint64 total, gpointer user_data);

/* Streams exactly @source->length bytes of @source->fd, from offset 0, to
 * the port. The channel copies what it needs from @source (and dup()s both
 * fds), so @source may be freed at once and the caller may close its fd.
 *
 * A worker thread reads the package with pread() into one 64 KiB buffer
 * (memory does not follow the package size), hashes it, and writes exactly
 * the bytes it hashed: the modem receives what was checked even if another
 * process moves the fd's offset or rewrites the file. Hardware flow control:
 * writes as fast as the port takes them (blocking writes: the port's
 * O_NONBLOCK is cleared while a stream runs, and the worker's write is
 * interrupted by the real-time signal SIGRTMIN+2, which the channel
 * handles and nothing else in the process may use). Paced: at most
 * @pacing.max_write bytes per write (at most 32, default 32) at
 * @pacing.rate bytes per second against CLOCK_MONOTONIC; a writer that
 * fell behind catches up by at most 100 ms worth of bytes.
 *
 * The package changing while it is sent fails with AT_ERROR_PACKAGE_CHANGED
 * and the last byte is never sent: with @expected_sha256, when the sha256
 * of all bytes read differs at the end ("the bytes read have sha256
 * <hex>, expected <hex>"); without it, when pread()
 * ends early ("package ended after N of M bytes") or fstat() gives a size
 * other than @length before the last chunk ("package size changed from M
 * to N bytes"): without a hash the file must be exactly @length bytes.
 * A read error fails with AT_ERROR_IO.
 *
 * Meanwhile the main loop keeps reading lines and emitting "urc"; commands
 * are refused (AT_ERROR_INVALID), and a stream is refused while commands
 * are pending. @progress runs on the main loop at most four times a second
 * while bytes move, and once with @length at the end of a stream that
 * succeeded.
 *
 * Ends: success once every byte was written; G_IO_ERROR_CANCELLED within a
 * few milliseconds of @cancellable firing (a cancel that comes after the
 * last byte was written does not undo it: the stream succeeds);
 * AT_ERROR_PORT_LOST on a hang-up, AT_ERROR_CLOSED on at_channel_close().
 * The worker has stopped writing before the callback runs and before the
 * channel's fd is closed. */
void at_channel_stream(AtChannel *self, const AtStreamSource *source, AtStreamProgressFunc progress,
                       gpointer progress_data, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data);
/* @sent: bytes written to the port; @sent_sha256 (nullable out, g_free):
 * hex sha256 of the bytes written, set when the whole length was sent. */
gboolean at_channel_stream_finish(AtChannel *self, GAsyncResult *result, guint64 *sent,
                                  char **sent_sha256, GError **error);

/* Fails everything pending with AT_ERROR_CLOSED, clears the tty's exclusive
 * flag (TIOCNXCL) and closes the fd. */
void at_channel_close(AtChannel *self);
gboolean at_channel_is_open(AtChannel *self);
/* Overlong lines dropped by the framer so far. */
guint64 at_channel_get_dropped_lines(AtChannel *self);

/* Signals:
 *   "urc"       (const char *line)  a line outside any response, or a known
 *                                   URC prefix inside one
 *   "port-lost" (GError *error)     the tty hung up; pending commands have
 *                                   already failed with AT_ERROR_PORT_LOST
 *
 * "urc" is emitted as each line is read, while a command's callback runs from
 * its GTask and may come later: a URC that followed a final result in the
 * same read can reach subscribers before that command's callback. Consumers
 * must not infer the order on the wire from the order of delivery.
 */
