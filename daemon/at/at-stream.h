/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <signal.h>

#include <gio/gio.h>

/* The raw stream of a FILE package to the modem's tty, for the AT channel:
 * at_channel_stream() is the way in, and the stream's errors are the
 * channel's AT_ERROR codes. The channel keeps the port (its fd, O_NONBLOCK,
 * hang-ups, refusing commands meanwhile); the stream keeps a worker thread
 * that reads, hashes and writes the package, and tells the channel on the
 * main loop when that worker has ended.
 *
 * What is sent: exactly @length bytes of the package, from offset 0, read
 * with pread() into one 64 KiB buffer (memory does not follow the package
 * size) and written from there after they were hashed, so the modem
 * receives what was checked even if another process moves the fd's offset
 * or rewrites the file. The last chunk is withheld until the package as
 * read is the package meant: with an expected sha256, until the running
 * sha256 equals it ("the bytes read have sha256 <hex>, expected <hex>");
 * without one, until fstat() still gives @length ("package size changed
 * from M to N bytes"), and a pread() that ends early fails at once
 * ("package ended after N of M bytes"). Those fail with
 * AT_ERROR_PACKAGE_CHANGED and the modem never gets its last byte; a read
 * error fails with AT_ERROR_IO.
 *
 * How: with hardware flow control the worker writes as fast as the port
 * takes the bytes, in blocking writes (the channel clears O_NONBLOCK while a
 * stream runs). Paced (no flow control): at most @max_write bytes per write
 * at @rate bytes per second against CLOCK_MONOTONIC; a writer that fell
 * behind catches up by at most 100 ms worth of bytes.
 *
 * The process-wide signal: AT_STREAM_STOP_SIGNAL (SIGRTMIN+2) is this
 * module's. The first at_stream_start() in a process installs its handler,
 * which does nothing and has no SA_RESTART: sent to the worker alone
 * (pthread_kill), it makes a write() blocked on a full port return the
 * bytes it wrote, so the count of bytes sent stays exact (pthread_cancel
 * would lose it). The worker blocks every other signal. Nothing else in the
 * process may send this signal, ignore it or install a handler for it
 * (main.c says so where the daemon takes its own signals). */
#define AT_STREAM_STOP_SIGNAL (SIGRTMIN + 2)

/* Paced mode, for a port without flow control: the modem's receive buffer
 * takes this many bytes per write at most, at this many bytes per second
 * unless configured otherwise ([modem] paced-rate). */
#define AT_STREAM_PACED_MAX_WRITE    32
#define AT_STREAM_PACED_DEFAULT_RATE 15360

typedef struct {
	gboolean paced;  /* FALSE: hardware flow control, as fast as the port accepts */
	guint rate;      /* paced: bytes per second (0: AT_STREAM_PACED_DEFAULT_RATE) */
	guint max_write; /* paced: bytes per write (0 or more than AT_STREAM_PACED_MAX_WRITE:
	                    AT_STREAM_PACED_MAX_WRITE) */
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

/* ---- The interface to the channel ---- */

typedef struct _AtStream AtStream;

/* Runs on the main loop once the worker ended by itself: every byte was
 * written, the package failed, or the port failed
 * (at_stream_get_port_failure()). The worker has been joined. Never runs
 * after at_stream_stop(). */
typedef void (*AtStreamEndedFunc)(AtStream *stream, gpointer user_data);

/* Checks @source (AT_ERROR_INVALID for an expected sha256 that is not 64
 * hex digits) and copies it; nothing runs yet. @source->fd must stay open
 * until at_stream_start(), which dup()s it. @progress runs on the main loop
 * at most four times a second while bytes move, and once with the length
 * from at_stream_outcome() of a stream that succeeded.
 * @source: (transfer none): copied
 * Returns: (transfer full): free with at_stream_free() */
AtStream *at_stream_new(const AtStreamSource *source, AtStreamProgressFunc progress,
                        gpointer progress_data, GError **error);
/* Starts the worker on its own dup()s of the package and of @tty_fd (whose
 * writes must block: see above), so a close or hang-up on the main loop
 * never leaves it writing to a closed or reused fd number. AT_ERROR_IO when
 * it cannot start. */
gboolean at_stream_start(AtStream *self, int tty_fd, AtStreamEndedFunc ended, gpointer ended_data,
                         GError **error);
/* Stops the worker and waits for it: within a few milliseconds, as a write
 * blocked on the port is interrupted (AT_STREAM_STOP_SIGNAL) and every other
 * wait in it is short. Afterwards nothing writes to the port, and neither
 * @ended nor @progress runs. Idempotent. */
void at_stream_stop(AtStream *self);
/* After at_stream_stop(): TRUE when every byte was written, even if @reason
 * (a cancel, a close) came too late to stop it; the last progress is
 * reported then. Otherwise FALSE with the stream's own failure (the package
 * changed, ended or could not be read), else @reason, else "the stream
 * stopped after N bytes".
 * @reason: (transfer full) (nullable) */
gboolean at_stream_outcome(AtStream *self, GError *reason, GError **error);
/* Why the port failed under the worker ("writing to the port failed: ..."),
 * or NULL; set once @ended runs. The channel then declares the port lost.
 * Returns: (transfer none) */
const char *at_stream_get_port_failure(AtStream *self);
/* Bytes written to the port so far. */
guint64 at_stream_get_sent(AtStream *self);
/* Hex sha256 of the bytes written once the whole length was, else NULL.
 * Returns: (transfer none) */
const char *at_stream_get_sent_sha256(AtStream *self);
/* Stops the worker first. */
void at_stream_free(AtStream *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AtStream, at_stream_free)
