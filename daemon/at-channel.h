/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* The AT port, driven by the GLib main loop: a queue of commands (one in
 * flight, each with its own timeout), URCs to subscribers, hang-up
 * detection, and the raw stream of a FILE package. Never blocks. */

#define AT_TYPE_CHANNEL (at_channel_get_type())
G_DECLARE_FINAL_TYPE(AtChannel, at_channel, AT, CHANNEL, GObject)

#define AT_ERROR (at_error_quark())
GQuark at_error_quark(void);
typedef enum {
	AT_ERROR_TIMEOUT,   /* no final result in time */
	AT_ERROR_MODEM,     /* ERROR */
	AT_ERROR_CME,       /* +CME ERROR: <n|text> (message carries it) */
	AT_ERROR_CMS,       /* +CMS ERROR */
	AT_ERROR_PORT_LOST, /* EOF/EIO/HUP: the tty vanished */
	AT_ERROR_CLOSED,    /* at_channel_close() was called */
	AT_ERROR_IO,        /* other read/write errors */
	AT_ERROR_INVALID,   /* a command with CR/LF/NUL, or one while streaming */
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

typedef void (*AtStreamProgressFunc)(guint64 sent, guint64 total, gpointer user_data);

/* Streams exactly @length bytes from @fd (read from its current offset) to
 * the port in bounded chunks, with back-pressure from G_IO_OUT; lines keep
 * being read and dispatched meanwhile. No commands are sent while
 * streaming. @progress is called at most a few times a second. */
void at_channel_stream(AtChannel *self, int fd, guint64 length, const AtStreamPacing *pacing,
                       AtStreamProgressFunc progress, gpointer progress_data,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean at_channel_stream_finish(AtChannel *self, GAsyncResult *result, guint64 *sent,
                                  GError **error);

/* Fails everything pending with AT_ERROR_CLOSED and closes the fd. */
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
