/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "at-stream"

#include "at-stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>

#include "at-channel.h" /* AT_ERROR: the stream is reached through the channel */
#include "sha256.h"

/* How often worker_join() sends the signal again (see there). */
#define STOP_RESEND_MS 5
/* The worker's one buffer: the stream's memory, whatever the package size. */
#define STREAM_BUFFER (64 * 1024)
#define NSEC_PER_SEC  G_GINT64_CONSTANT(1000000000)
/* Most a paced writer that fell behind may catch up at once: enough to
 * make up for a late wake-up, not a burst the modem would drop. */
#define PACE_CATCH_UP_NS (100 * G_GINT64_CONSTANT(1000000))
/* Longest sleep between looks at the stop flag while pacing. */
#define PACE_SLICE_NS        (5 * G_GINT64_CONSTANT(1000000))
#define PROGRESS_INTERVAL_MS 250

/* ---- The worker thread ------------------------------------------------ */

/* The worker owns everything below until it is joined, except @stop (set
 * by the main loop) and @sent (read by the main loop under @sent_lock). It
 * writes to its own dup() of the tty, so a close or hang-up on the main loop
 * never leaves it writing to a closed or reused fd number; the channel
 * stops it before it closes its fd.
 *
 * Its writes block (the channel clears O_NONBLOCK while it streams): the
 * kernel then waits for the port inside one write(), where a poll() and a
 * write() per few KiB the tty frees cost more CPU than the rest of the
 * stream. A write that would wait for ever (flow control, a modem that
 * stopped reading) is interrupted by AT_STREAM_STOP_SIGNAL, sent to the
 * worker alone: it then returns the bytes it wrote, so @sent stays exact. */
typedef struct {
	int src_fd;  /* the package: dup() of the caller's fd, pread() only */
	int tty_fd;  /* dup() of the channel's fd */
	int done_fd; /* eventfd: the worker has ended */
	guint64 length;
	char *expected_sha256; /* lower case, or NULL */
	AtStreamPacing pacing;
	guint8 *buf;
	pthread_t thread;
	gboolean running; /* @thread is to be joined */
	gint stop;
	GMutex sent_lock;
	guint64 sent;
	/* The outcome, read by the main loop after the join. */
	gboolean complete;
	GError *error;      /* the package failed: changed, ended, unreadable */
	char *port_failure; /* the port failed: why */
	char *sent_sha256;
} StreamWorker;

static gint64
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static gboolean
worker_stopping(StreamWorker *w)
{
	return g_atomic_int_get(&w->stop) != 0;
}

static guint64
worker_sent(StreamWorker *w)
{
	guint64 sent;

	g_mutex_lock(&w->sent_lock);
	sent = w->sent;
	g_mutex_unlock(&w->sent_lock);
	return sent;
}

static void
worker_add_sent(StreamWorker *w, gsize n)
{
	g_mutex_lock(&w->sent_lock);
	w->sent += n;
	g_mutex_unlock(&w->sent_lock);
}

static void worker_fail_port(StreamWorker *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
worker_fail_port(StreamWorker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	w->port_failure = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

/* Writes all @len bytes; the write blocks while the port is full, until
 * worker_join()'s signal. */
static gboolean
worker_write(StreamWorker *w, const guint8 *p, gsize len)
{
	while (len > 0) {
		gssize n;

		if (worker_stopping(w))
			return FALSE;
		n = write(w->tty_fd, p, len);
		if (n > 0) {
			worker_add_sent(w, (gsize)n);
			p += n;
			len -= (gsize)n;
		} else if (n == 0 || errno != EINTR) {
			worker_fail_port(w, "writing to the port failed: %s",
			                 n == 0 ? "it took no byte" : g_strerror(errno));
			return FALSE;
		}
	}
	return TRUE;
}

/* Paced: byte k is due at @base + k / rate on CLOCK_MONOTONIC, so sleeping
 * late is made up by the next writes and the average rate holds exactly.
 * A writer more than PACE_CATCH_UP_NS behind moves @base instead of
 * bursting more than that. Sleeps in slices so a stop is seen soon. */
static gboolean
worker_pace(StreamWorker *w, gint64 *base, guint64 sent)
{
	guint64 rate = w->pacing.rate;
	gint64 due = *base +
	             (gint64)((sent / rate) * NSEC_PER_SEC + (sent % rate) * NSEC_PER_SEC / rate);
	gint64 now = monotonic_ns();

	if (now - due > PACE_CATCH_UP_NS)
		*base += now - due - PACE_CATCH_UP_NS;
	while (now < due) {
		gint64 until = MIN(due, now + PACE_SLICE_NS);
		struct timespec ts = {.tv_sec = until / NSEC_PER_SEC,
		                      .tv_nsec = until % NSEC_PER_SEC};

		if (worker_stopping(w))
			return FALSE;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		now = monotonic_ns();
	}
	return TRUE;
}

static gboolean
worker_send(StreamWorker *w, const guint8 *p, gsize len, gint64 *pace_base)
{
	if (!w->pacing.paced)
		return worker_write(w, p, len);
	while (len > 0) {
		gsize n = MIN(len, (gsize)w->pacing.max_write);

		if (!worker_pace(w, pace_base, worker_sent(w)) || !worker_write(w, p, n))
			return FALSE;
		p += n;
		len -= n;
	}
	return TRUE;
}

/* Fills the buffer with the package's bytes at @offset (at most its size
 * and what is left). FALSE when the package ended early or failed. */
static gboolean
worker_read(StreamWorker *w, guint64 offset, gsize *len)
{
	gsize want = (gsize)MIN((guint64)STREAM_BUFFER, w->length - offset);
	gsize got = 0;

	while (got < want) {
		gssize n = pread(w->src_fd, w->buf + got, want - got, (off_t)(offset + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(&w->error, AT_ERROR, AT_ERROR_IO,
			            "reading the package failed at byte %" G_GUINT64_FORMAT ": %s",
			            offset + got, g_strerror(errno));
			return FALSE;
		}
		if (n == 0) {
			g_set_error(&w->error, AT_ERROR, AT_ERROR_PACKAGE_CHANGED,
			            "package ended after %" G_GUINT64_FORMAT
			            " of %" G_GUINT64_FORMAT " bytes",
			            offset + got, w->length);
			return FALSE;
		}
		got += (gsize)n;
	}
	*len = got;
	return TRUE;
}

/* Before the last chunk goes: the package as read must be the package
 * that was meant. */
static gboolean
worker_check_whole(StreamWorker *w, struct sha256_ctx *sum)
{
	g_autofree char *sha256 = sha256_finish_hex(sum);
	struct stat st;

	if (w->expected_sha256 != NULL && strcmp(sha256, w->expected_sha256) != 0) {
		g_set_error(&w->error, AT_ERROR, AT_ERROR_PACKAGE_CHANGED,
		            "the bytes read have sha256 %s, expected %s", sha256,
		            w->expected_sha256);
		return FALSE;
	}
	if (w->expected_sha256 == NULL && fstat(w->src_fd, &st) < 0) {
		g_set_error(&w->error, AT_ERROR, AT_ERROR_IO, "cannot stat the package: %s",
		            g_strerror(errno));
		return FALSE;
	}
	if (w->expected_sha256 == NULL && (guint64)st.st_size != w->length) {
		g_set_error(&w->error, AT_ERROR, AT_ERROR_PACKAGE_CHANGED,
		            "package size changed from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
		            " bytes",
		            w->length, (guint64)st.st_size);
		return FALSE;
	}
	w->sent_sha256 = g_steal_pointer(&sha256);
	return TRUE;
}

/* Each byte is read once into the buffer, hashed, and written from there:
 * what the port gets is what was hashed. */
static void
worker_run(StreamWorker *w)
{
	struct sha256_ctx sum;
	gint64 pace_base = monotonic_ns();
	guint64 offset = 0;

	sha256_init(&sum);
	for (;;) {
		gsize len = 0;

		if (worker_stopping(w) || (offset < w->length && !worker_read(w, offset, &len)))
			return;
		sha256_update(&sum, len, w->buf);
		offset += len;
		if (offset == w->length && !worker_check_whole(w, &sum))
			return;
		if (!worker_send(w, w->buf, len, &pace_base))
			return;
		if (offset == w->length)
			break;
	}
	w->complete = TRUE;
}

static void *
worker_thread(void *user_data)
{
	StreamWorker *w = user_data;
	sigset_t others;

	/* The daemon's signals are the main loop's. */
	sigfillset(&others);
	sigdelset(&others, AT_STREAM_STOP_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &others, NULL);
	worker_run(w);
	eventfd_write(w->done_fd, 1);
	return NULL;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static gboolean
worker_ended(StreamWorker *w, int timeout_ms)
{
	struct pollfd done = {.fd = w->done_fd, .events = POLLIN};

	return poll(&done, 1, timeout_ms) > 0;
}

/* Stops the worker and waits for it: a write blocked on the port is
 * interrupted, and every other wait in it is a short sleep or a read of
 * the package. The signal is sent again until the worker has ended, as one
 * that came just before its write() began is lost. Afterwards nothing
 * writes to the port. */
static void
worker_join(StreamWorker *w)
{
	if (!w->running)
		return;
	g_atomic_int_set(&w->stop, 1);
	while (!worker_ended(w, 0)) {
		pthread_kill(w->thread, AT_STREAM_STOP_SIGNAL);
		if (worker_ended(w, STOP_RESEND_MS))
			break;
	}
	pthread_join(w->thread, NULL);
	w->running = FALSE;
	close_fd(&w->tty_fd);
	close_fd(&w->src_fd);
}

static void
worker_free(StreamWorker *w)
{
	worker_join(w);
	/* a start that failed half way leaves some of them open */
	close_fd(&w->src_fd);
	close_fd(&w->tty_fd);
	close_fd(&w->done_fd);
	g_mutex_clear(&w->sent_lock);
	g_free(w->expected_sha256);
	g_free(w->buf);
	g_clear_error(&w->error);
	g_free(w->port_failure);
	g_free(w->sent_sha256);
	g_free(w);
}

static StreamWorker *
worker_new(const AtStreamSource *source, char *expected_sha256)
{
	StreamWorker *w = g_new0(StreamWorker, 1);

	g_mutex_init(&w->sent_lock);
	w->length = source->length;
	w->expected_sha256 = expected_sha256;
	w->pacing = source->pacing;
	w->src_fd = w->tty_fd = w->done_fd = -1;
	return w;
}

static void
on_stop_signal(G_GNUC_UNUSED int signum)
{
}

/* The process's claim on AT_STREAM_STOP_SIGNAL (see at-stream.h), once
 * per process: the handler only makes a blocked write() return, so no
 * SA_RESTART. */
static void
install_stop_signal(void)
{
	static gsize installed = 0;

	if (g_once_init_enter(&installed)) {
		struct sigaction sa = {.sa_handler = on_stop_signal};

		sigemptyset(&sa.sa_mask);
		sigaction(AT_STREAM_STOP_SIGNAL, &sa, NULL);
		g_once_init_leave(&installed, 1);
	}
}

/* Opens the worker's own fds and starts it. */
static gboolean
worker_start(StreamWorker *w, int src_fd, int tty_fd, GError **error)
{
	int err;

	w->src_fd = fcntl(src_fd, F_DUPFD_CLOEXEC, 0);
	w->tty_fd = fcntl(tty_fd, F_DUPFD_CLOEXEC, 0);
	w->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->src_fd < 0 || w->tty_fd < 0 || w->done_fd < 0) {
		g_set_error(error, AT_ERROR, AT_ERROR_IO, "cannot start the stream: %s",
		            g_strerror(errno));
		return FALSE;
	}
	w->buf = g_malloc(STREAM_BUFFER);
	install_stop_signal();
	err = pthread_create(&w->thread, NULL, worker_thread, w);
	if (err != 0) {
		g_set_error(error, AT_ERROR, AT_ERROR_IO, "cannot start the stream's thread: %s",
		            g_strerror(err));
		return FALSE;
	}
	w->running = TRUE;
	return TRUE;
}

/* ---- The main loop side ----------------------------------------------- */

struct _AtStream {
	StreamWorker *worker;
	int package_fd; /* the caller's, until at_stream_start() */
	AtStreamProgressFunc progress;
	gpointer progress_data;
	guint64 last_progress;
	AtStreamEndedFunc ended;
	gpointer ended_data;
	GSource *done_source;
	GSource *progress_source;
};

static void
destroy_source(GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy(*source);
	g_clear_pointer(source, g_source_unref);
}

static void
report_progress(AtStream *self, guint64 sent)
{
	if (self->progress == NULL || sent == self->last_progress)
		return;
	self->last_progress = sent;
	self->progress(sent, self->worker->length, self->progress_data);
}

static gboolean
on_progress_tick(gpointer user_data)
{
	AtStream *self = user_data;

	report_progress(self, worker_sent(self->worker));
	return G_SOURCE_CONTINUE;
}

/* @ended may free the stream (the channel's task holds it): nothing here
 * touches @self after it. */
static gboolean
on_worker_done(int fd, GIOCondition condition, gpointer user_data)
{
	AtStream *self = user_data;

	worker_join(self->worker);
	self->ended(self, self->ended_data);
	return G_SOURCE_REMOVE;
}

static void
normalise_pacing(AtStreamPacing *pacing)
{
	if (!pacing->paced)
		return;
	if (pacing->rate == 0)
		pacing->rate = AT_STREAM_PACED_DEFAULT_RATE;
	if (pacing->max_write == 0 || pacing->max_write > AT_STREAM_PACED_MAX_WRITE)
		pacing->max_write = AT_STREAM_PACED_MAX_WRITE;
}

/* 64 hex digits, in lower case as GChecksum writes them; NULL if not. */
static char *
normalise_sha256(const char *hex)
{
	if (strlen(hex) != 64)
		return NULL;
	for (const char *p = hex; *p != '\0'; p++) {
		if (!g_ascii_isxdigit(*p))
			return NULL;
	}
	return g_ascii_strdown(hex, -1);
}

AtStream *
at_stream_new(const AtStreamSource *source, AtStreamProgressFunc progress, gpointer progress_data,
              GError **error)
{
	AtStream *self;
	char *expected = NULL;

	g_return_val_if_fail(source != NULL, NULL);
	if (source->expected_sha256 != NULL) {
		expected = normalise_sha256(source->expected_sha256);
		if (expected == NULL) {
			g_set_error(error, AT_ERROR, AT_ERROR_INVALID,
			            "expected sha256 '%.80s' is not 64 hex digits",
			            source->expected_sha256);
			return NULL;
		}
	}
	self = g_new0(AtStream, 1);
	self->worker = worker_new(source, expected);
	normalise_pacing(&self->worker->pacing);
	self->package_fd = source->fd;
	self->progress = progress;
	self->progress_data = progress_data;
	return self;
}

gboolean
at_stream_start(AtStream *self, int tty_fd, AtStreamEndedFunc ended, gpointer ended_data,
                GError **error)
{
	g_return_val_if_fail(self != NULL && ended != NULL, FALSE);
	g_return_val_if_fail(self->done_source == NULL && !self->worker->running, FALSE);

	if (!worker_start(self->worker, self->package_fd, tty_fd, error))
		return FALSE;
	self->ended = ended;
	self->ended_data = ended_data;
	self->done_source = g_unix_fd_source_new(self->worker->done_fd, G_IO_IN);
	g_source_set_callback(self->done_source, G_SOURCE_FUNC(on_worker_done), self, NULL);
	g_source_attach(self->done_source, NULL);
	self->progress_source = g_timeout_source_new(PROGRESS_INTERVAL_MS);
	g_source_set_callback(self->progress_source, on_progress_tick, self, NULL);
	g_source_attach(self->progress_source, NULL);
	return TRUE;
}

void
at_stream_stop(AtStream *self)
{
	g_return_if_fail(self != NULL);
	worker_join(self->worker);
	destroy_source(&self->done_source);
	destroy_source(&self->progress_source);
}

gboolean
at_stream_outcome(AtStream *self, GError *reason, GError **error)
{
	g_autoptr(GError) why = reason;
	StreamWorker *w = self->worker;

	g_return_val_if_fail(!w->running, FALSE);
	if (w->complete) {
		report_progress(self, w->sent);
		return TRUE;
	}
	if (w->error != NULL)
		g_propagate_error(error, g_steal_pointer(&w->error));
	else if (why != NULL)
		g_propagate_error(error, g_steal_pointer(&why));
	else
		g_set_error(error, AT_ERROR, AT_ERROR_IO,
		            "the stream stopped after %" G_GUINT64_FORMAT " bytes", w->sent);
	return FALSE;
}

const char *
at_stream_get_port_failure(AtStream *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->worker->running ? NULL : self->worker->port_failure;
}

guint64
at_stream_get_sent(AtStream *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return worker_sent(self->worker);
}

const char *
at_stream_get_sent_sha256(AtStream *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return !self->worker->running && self->worker->complete ? self->worker->sent_sha256 : NULL;
}

void
at_stream_free(AtStream *self)
{
	if (self == NULL)
		return;
	at_stream_stop(self);
	g_clear_pointer(&self->worker, worker_free);
	g_free(self);
}
