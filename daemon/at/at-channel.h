/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "at-stream.h"

/* The AT port, driven by the GLib main loop: a queue of commands (one in
 * flight, each with its own timeout), URCs to subscribers, hang-up
 * detection, and the raw stream of a FILE package (at_channel_stream();
 * the worker thread that writes it is at-stream's). Never blocks the main
 * loop. */

#define FOTA_TYPE_AT_CHANNEL (at_channel_get_type())
G_DECLARE_FINAL_TYPE(FotaAtChannel, at_channel, FOTA, AT_CHANNEL, GObject)

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

/* The channel cannot be used any more: its port hung up (AT_ERROR_PORT_LOST)
 * or it was closed (AT_ERROR_CLOSED). FALSE for NULL. */
gboolean at_error_is_port_gone(const GError *error);

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

/* @fd: (transfer full): an open tty, non-blocking; closed with the channel
 * @config: (transfer none) (nullable): copied
 * Returns: (transfer full) */
FotaAtChannel *at_channel_new(int fd, const AtChannelConfig *config);

/* @command without the trailing CR, e.g. "AT+QGMR". Must not contain CR,
 * LF or NUL (AT_ERROR_INVALID). */
void at_channel_command(FotaAtChannel *self, const char *command, guint timeout_ms,
                        GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data);
/* Returns: (transfer full): free with at_response_free() */
AtResponse *at_channel_command_finish(FotaAtChannel *self, GAsyncResult *result, GError **error);

/* Streams exactly @source->length bytes of @source->fd, from offset 0, to
 * the port, as at-stream.h describes: what is sent, how it is paced, and
 * when the package counts as changed (AT_ERROR_PACKAGE_CHANGED, the last
 * byte never sent). The channel copies what it needs from @source (and
 * dup()s both fds), so @source may be freed at once and the caller may
 * close its fd.
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
void at_channel_stream(FotaAtChannel *self, const AtStreamSource *source,
                       AtStreamProgressFunc progress, gpointer progress_data,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
/* @sent: bytes written to the port
 * @sent_sha256: (out) (optional) (transfer full): hex sha256 of the bytes
 *   written when the whole length was sent, else NULL */
gboolean at_channel_stream_finish(FotaAtChannel *self, GAsyncResult *result, guint64 *sent,
                                  char **sent_sha256, GError **error);

/* Fails everything pending with AT_ERROR_CLOSED, clears the tty's exclusive
 * flag (TIOCNXCL) and closes the fd. */
void at_channel_close(FotaAtChannel *self);
gboolean at_channel_is_open(FotaAtChannel *self);
/* Final results (OK, ERROR, ...) that came with no command in flight and
 * no late reply awaited, so far. One usually means some command of ours
 * took an answer that was not its own: a modem answers in order, so a reply
 * still in flight when the port was opened pairs with our first command,
 * and that command's own answer arrives unpaired right after. (A reply later
 * than the late-reply grace counts too.) */
guint64 at_channel_get_unpaired_finals(FotaAtChannel *self);
/* Overlong lines dropped by the framer so far. */
guint64 at_channel_get_dropped_lines(FotaAtChannel *self);

/* Signals:
 *   "urc"       (const char *line)  a line outside any response (but a
 *                                   final result), or a known URC prefix
 *                                   inside one
 *   "port-lost" (GError *error)     the tty hung up; pending commands have
 *                                   already failed with AT_ERROR_PORT_LOST
 *
 * "urc" is emitted as each line is read, while a command's callback runs from
 * its GTask and may come later: a URC that followed a final result in the
 * same read can reach subscribers before that command's callback. Consumers
 * must not infer the order on the wire from the order of delivery.
 */
