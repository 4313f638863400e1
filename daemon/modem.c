/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "modem.h"

#include <unistd.h>

#include "modem-finder.h"
#include "modem-identify.h"
#include "port-lock.h"
#include "qind-parse.h"
#include "serial-port.h"

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(modem-error-quark, modem_error)
/* clang-format on */

/* How often and how long a freshly appeared tty is retried when it cannot
 * be opened yet (udev may still be applying permissions). */
#define OPEN_RETRY_MS 500
/* A probe "AT" is short: the modem either answers at once or is still booting. */
#define PROBE_TIMEOUT_MS 1000
/* After a reboot: this much silence means the boot URCs are over. */
#define QUIET_GAP_MS 2000
/* When the tty node vanishes, the channel usually still has the modem's
 * last lines (FILEEND, END) to read before its hang-up; give it this long
 * before dropping it regardless. */
#define VANISH_GRACE_MS 500

enum { SIGNAL_READY, SIGNAL_LOST, SIGNAL_URC, N_SIGNALS };
static guint signals[N_SIGNALS];

struct _FotaModem {
	GObject parent;
	const FotadConfig *config;
	ModemFinder *finder;

	AtChannel *channel;
	GCancellable *cancellable; /* cancelled when the channel is dropped */
	char *path;                /* of the open channel */
	char *identity;
	char *open_error; /* why the last open failed, NULL after a success */
	PortLock *lock;   /* held while we follow the modem with that identity */
	gboolean lock_warned;
	gboolean opened_before; /* the first open at daemon start skips the settle wait */
	gboolean port_unwanted; /* left to another program between jobs */
	gboolean left_idle;     /* closed for it, not by a reboot: the next open probes at once */
	gboolean ready;
	gboolean probing; /* the modem's own settle, probe and identification run */
	ModemInfo *info;

	gpointer holder; /* who holds the port's lease, NULL when free */
	GQueue waiters;  /* GTask*: modem_acquire() calls in order */

	gboolean data_mode;     /* the modem may take what we send as package bytes */
	guint reset_id;         /* a reset (AT+CFUN=1,1) is due: nothing until it happened */
	gint64 last_write_us;   /* monotonic: our last byte while in data mode */
	guint data_mode_id;     /* the idle wait */
	gboolean data_checking; /* the "AT" that ends data mode is on the wire */
	guint data_checks;

	guint open_attempts;
	guint open_retry_id;
	guint vanish_id;
	guint quiet_id;       /* settle: the quiet-gap timer */
	gboolean settling;    /* waiting for PB DONE or quiet */
	gint64 settle_end_us; /* monotonic: boot-settle bound for settle and probes */
};

G_DEFINE_TYPE(FotaModem, modem, G_TYPE_OBJECT)

static void modem_probe(FotaModem *self);
static void grant_next(FotaModem *self);
static void data_mode_arm(FotaModem *self);

void
modem_info_free(ModemInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->manufacturer);
	g_free(info->model);
	g_free(info->revision);
	g_free(info->imei);
	g_free(info->port);
	g_free(info->port_identity);
	g_free(info->qfotadl_ranges);
	g_free(info);
}

ModemInfo *
modem_info_copy(const ModemInfo *info)
{
	ModemInfo *copy = g_memdup2(info, sizeof(*info));

	copy->manufacturer = g_strdup(info->manufacturer);
	copy->model = g_strdup(info->model);
	copy->revision = g_strdup(info->revision);
	copy->imei = g_strdup(info->imei);
	copy->port = g_strdup(info->port);
	copy->port_identity = g_strdup(info->port_identity);
	copy->qfotadl_ranges = g_strdup(info->qfotadl_ranges);
	return copy;
}

/* ATE0, ATI, [AT+QGMR], AT+CGSN, AT+QFOTADL=? on the current channel. Only
 * the modem itself (its boot probe) and a lease holder call this. */
static void
identify(FotaModem *self, GCancellable *cancellable, GAsyncReadyCallback callback,
         gpointer user_data)
{
	ModemInfo seed = {
	        .port = self->path, .port_identity = self->identity, .flow = self->config->flow};

	if (self->channel == NULL) {
		g_autofree char *why = modem_describe_absence(self);
		GTask *task = g_task_new(self, cancellable, callback, user_data);

		g_task_return_new_error(task, MODEM_ERROR, MODEM_ERROR_ABSENT, "%s", why);
		g_object_unref(task);
		return;
	}
	modem_identify_run(self->channel, &seed, self->config->timeouts.command_ms, cancellable,
	                   callback, user_data);
}

/* A successful identification of the current channel: cache it, and the
 * modem is ready (also after the boot probe gave up). */
static void
identified_as(FotaModem *self, const ModemInfo *info)
{
	if (g_strcmp0(info->port, self->path) != 0)
		return; /* an older channel's answer */
	modem_info_free(self->info);
	self->info = modem_info_copy(info);
	if (self->ready)
		return;
	g_message("Modem: %s %s revision %s IMEI %s on %s", info->manufacturer, info->model,
	          info->revision, info->imei, info->port);
	self->ready = TRUE;
	g_signal_emit(self, signals[SIGNAL_READY], 0);
}

/* ---- the lease ---- */

typedef struct {
	FotaModem *modem;
	gpointer owner;
	gboolean fail_if_absent;
	GSource *cancel_source;
} Waiter;

/* Out of the queue: the waiter's cancel watch goes, its task is answered. */
static GTask *
waiter_dequeued(GTask *task)
{
	Waiter *w = g_task_get_task_data(task);

	if (w->cancel_source != NULL) {
		g_source_destroy(w->cancel_source);
		g_clear_pointer(&w->cancel_source, g_source_unref);
	}
	return task;
}

static void
waiter_free(Waiter *w)
{
	if (w->cancel_source != NULL) {
		g_source_destroy(w->cancel_source);
		g_source_unref(w->cancel_source);
	}
	g_free(w);
}

/* A cancelled wait ends at once: the waiter's references go with it. */
static gboolean
waiter_cancelled(GCancellable *cancellable, gpointer user_data)
{
	GTask *task = user_data;
	Waiter *w = g_task_get_task_data(task);

	g_queue_remove(&w->modem->waiters, task);
	waiter_dequeued(task);
	g_task_return_error_if_cancelled(task);
	g_object_unref(task);
	return G_SOURCE_REMOVE;
}

static void
fail_absent_waiters(FotaModem *self)
{
	g_autofree char *why = modem_describe_absence(self);
	GList *l = self->waiters.head;

	while (l != NULL) {
		GList *next = l->next;
		GTask *task = l->data;
		Waiter *w = g_task_get_task_data(task);

		if (w->fail_if_absent) {
			g_queue_delete_link(&self->waiters, l);
			waiter_dequeued(task);
			g_task_return_new_error(task, MODEM_ERROR, MODEM_ERROR_ABSENT, "%s", why);
			g_object_unref(task);
		}
		l = next;
	}
}

static void
grant_next(FotaModem *self)
{
	GTask *task;

	if (self->holder != NULL || self->data_mode || self->probing || self->reset_id != 0)
		return;
	if (self->channel == NULL) {
		fail_absent_waiters(self);
		return;
	}
	while ((task = g_queue_pop_head(&self->waiters)) != NULL) {
		Waiter *w = g_task_get_task_data(waiter_dequeued(task));

		if (g_task_return_error_if_cancelled(task)) {
			g_object_unref(task);
			continue;
		}
		self->holder = w->owner;
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		return;
	}
}

const char *
modem_busy_reason(FotaModem *self)
{
	if (self->channel == NULL)
		return "waiting for the modem's port";
	if (self->data_mode)
		return "waiting for the modem to leave FILE data mode (FILEEND, or "
		       "file-idle-timeout without a byte)";
	if (self->probing)
		return "waiting for the modem to finish booting and be identified";
	if (self->reset_id != 0)
		return "waiting for the modem's reset (AT+CFUN=1,1)";
	if (self->holder != NULL)
		return "waiting for another user of the modem's port";
	return NULL;
}

void
modem_acquire(FotaModem *self, gpointer owner, gboolean fail_if_absent, GCancellable *cancellable,
              GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	Waiter *w = g_new0(Waiter, 1);

	g_return_if_fail(owner != NULL && owner != self->holder);
	w->modem = self;
	w->owner = owner;
	w->fail_if_absent = fail_if_absent;
	g_task_set_task_data(task, w, (GDestroyNotify)waiter_free);
	if (cancellable != NULL) {
		w->cancel_source = g_cancellable_source_new(cancellable);
		g_source_set_callback(w->cancel_source, G_SOURCE_FUNC(waiter_cancelled), task,
		                      NULL);
		g_source_attach(w->cancel_source, NULL);
	}
	g_queue_push_tail(&self->waiters, task);
	grant_next(self);
}

gboolean
modem_acquire_finish(FotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
modem_release(FotaModem *self, gpointer owner)
{
	if (owner == NULL || self->holder != owner)
		return;
	self->holder = NULL;
	if (self->data_mode)
		data_mode_arm(self);
	grant_next(self);
}

gboolean
modem_holds(FotaModem *self, gpointer owner)
{
	return owner != NULL && self->holder == owner;
}

static gboolean
check_holder(FotaModem *self, gpointer owner, const char *what, GError **error)
{
	if (!modem_holds(self, owner)) {
		g_set_error(error, MODEM_ERROR, MODEM_ERROR_NOT_HOLDER,
		            "cannot send %s: the caller does not hold the modem's port", what);
		return FALSE;
	}
	if (self->channel == NULL) {
		g_autofree char *why = modem_describe_absence(self);
		g_set_error(error, MODEM_ERROR, MODEM_ERROR_ABSENT, "cannot send %s: %s", what,
		            why);
		return FALSE;
	}
	return TRUE;
}

static void
command_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	AtResponse *response = at_channel_command_finish(AT_CHANNEL(source), result, &error);

	if (response != NULL)
		g_task_return_pointer(task, response, (GDestroyNotify)at_response_free);
	else
		g_task_return_error(task, error);
}

void
modem_command(FotaModem *self, gpointer owner, const char *command, GCancellable *cancellable,
              GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	GError *error = NULL;

	if (!check_holder(self, owner, command, &error)) {
		g_task_return_error(task, error);
		return;
	}
	at_channel_command(self->channel, command, self->config->timeouts.command_ms, cancellable,
	                   command_done, g_steal_pointer(&task));
}

AtResponse *
modem_command_finish(FotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* A command that ended because its channel went away (or we dropped it):
 * "lost" has said so already. */
static gboolean
channel_gone(const GError *error)
{
	return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
	       g_error_matches(error, AT_ERROR, AT_ERROR_CLOSED) ||
	       g_error_matches(error, AT_ERROR, AT_ERROR_PORT_LOST);
}

/* ---- data mode ---- */

static void data_mode_check(FotaModem *self);

static void
data_mode_end(FotaModem *self, const char *why)
{
	if (!self->data_mode)
		return;
	g_message("Modem: out of FILE data mode (%s)", why);
	self->data_mode = FALSE;
	self->data_checking = FALSE;
	self->data_checks = 0;
	g_clear_handle_id(&self->data_mode_id, g_source_remove);
}

/* After data mode the modem is known to listen again: identify it if the
 * boot probe never could (daemon start), then serve the waiters. */
static void
data_mode_over(FotaModem *self, const char *why)
{
	data_mode_end(self, why);
	if (!self->ready && self->channel != NULL && !self->probing) {
		self->probing = TRUE;
		modem_probe(self);
		return;
	}
	grant_next(self);
}

static void
data_check_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FotaModem *self = user_data; /* alive: the cancellable dies with the channel or us */
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = at_channel_command_finish(AT_CHANNEL(source), result, &error);
	if (channel_gone(error) || !self->data_checking)
		return;
	self->data_checking = FALSE;
	if (error == NULL) {
		data_mode_over(self, "AT answered OK");
		return;
	}
	if (++self->data_checks < MODEM_DATA_MODE_CHECKS) {
		g_message("Modem: no OK to AT after data mode (%s); waiting again", error->message);
		self->last_write_us = g_get_monotonic_time();
		data_mode_arm(self);
		return;
	}
	g_warning("Modem: no OK to AT after data mode, %u tries (%s); probing as after a boot",
	          self->data_checks, error->message);
	data_mode_end(self, "given up");
	self->probing = TRUE;
	modem_probe(self);
}

static void
data_mode_check(FotaModem *self)
{
	g_clear_handle_id(&self->data_mode_id, g_source_remove);
	if (self->channel == NULL || self->data_checking)
		return;
	self->data_checking = TRUE;
	at_channel_command(self->channel, "AT", self->config->timeouts.command_ms,
	                   self->cancellable, data_check_reply, self);
}

static gboolean
data_mode_idle(gpointer user_data)
{
	FotaModem *self = user_data;

	self->data_mode_id = 0;
	g_message("Modem: nothing sent for %g s; checking that the modem left FILE data mode",
	          self->config->timeouts.file_idle_ms / 1000.0);
	data_mode_check(self);
	return G_SOURCE_REMOVE;
}

/* Waits out the modem's FILE idle timeout, counted from our last byte. The
 * holder's own job follows the modem's URCs instead. */
static void
data_mode_arm(FotaModem *self)
{
	gint64 idle_ms = (g_get_monotonic_time() - self->last_write_us) / 1000;
	gint64 left_ms = (gint64)self->config->timeouts.file_idle_ms - MAX(0, idle_ms);

	if (!self->data_mode || self->holder != NULL || self->channel == NULL ||
	    self->data_checking)
		return;
	g_clear_handle_id(&self->data_mode_id, g_source_remove);
	g_message("Modem: the modem may still be in FILE data mode; sending nothing for up to "
	          "%.1f s (until its FILEEND)",
	          MAX(0, left_ms) / 1000.0);
	self->data_mode_id =
	        g_timeout_add((guint)CLAMP(left_ms, 0, G_MAXUINT), data_mode_idle, self);
}

void
modem_begin_data_mode(FotaModem *self)
{
	self->data_mode = TRUE;
	self->data_checks = 0;
	self->last_write_us = g_get_monotonic_time();
	data_mode_arm(self);
}

static gboolean
reset_overdue(gpointer user_data)
{
	FotaModem *self = user_data;

	self->reset_id = 0;
	g_warning("Modem: the reset did not happen; using the port again");
	if (self->channel != NULL && !self->ready && !self->probing) {
		self->probing = TRUE;
		modem_probe(self);
		return G_SOURCE_REMOVE;
	}
	grant_next(self);
	return G_SOURCE_REMOVE;
}

void
modem_expect_reset(FotaModem *self, gint64 left_ms)
{
	g_clear_handle_id(&self->reset_id, g_source_remove);
	if (left_ms <= 0) {
		grant_next(self);
		return;
	}
	g_message("Modem: a reset is due; sending nothing for up to %.1f s until the port goes "
	          "away",
	          left_ms / 1000.0);
	/* the modem exists, and its next open follows a boot: settle first */
	self->opened_before = TRUE;
	g_clear_handle_id(&self->reset_id, g_source_remove);
	self->reset_id = g_timeout_add((guint)MIN(left_ms, G_MAXUINT), reset_overdue, self);
}

gboolean
modem_in_data_mode(FotaModem *self)
{
	return self->data_mode;
}

static void
data_mode_on_urc(FotaModem *self, const char *line)
{
	QindFota qind;

	if (!self->data_mode || qind_fota_parse(line, &qind) != QIND_OK ||
	    qind.kind != QIND_STAGE_FILEEND)
		return;
	if (self->holder != NULL) {
		/* the holder's job goes on with the modem's verdict */
		data_mode_end(self, line);
		return;
	}
	data_mode_check(self);
}

/* ---- the package ---- */

typedef struct {
	FotaModem *modem;
	AtStreamProgressFunc progress;
	gpointer progress_data;
	guint64 sent;
	char *sent_sha256;
} StreamCall;

static void
stream_call_free(StreamCall *call)
{
	g_free(call->sent_sha256);
	g_free(call);
}

static void
stream_progress(guint64 sent, guint64 total, gpointer user_data)
{
	StreamCall *call = user_data;

	call->modem->last_write_us = g_get_monotonic_time();
	if (call->progress != NULL)
		call->progress(sent, total, call->progress_data);
}

static void
stream_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	StreamCall *call = g_task_get_task_data(task);
	GError *error = NULL;

	call->modem->last_write_us = g_get_monotonic_time();
	if (at_channel_stream_finish(AT_CHANNEL(source), result, &call->sent, &call->sent_sha256,
	                             &error))
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_error(task, error);
}

void
modem_stream(FotaModem *self, gpointer owner, const AtStreamSource *source,
             AtStreamProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
             GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	StreamCall *call = g_new0(StreamCall, 1);
	GError *error = NULL;

	/* the channel's outcome: a cancel racing the last byte is a delivery */
	g_task_set_check_cancellable(task, FALSE);
	call->modem = self;
	call->progress = progress;
	call->progress_data = progress_data;
	g_task_set_task_data(task, call, (GDestroyNotify)stream_call_free);
	if (!check_holder(self, owner, "the package", &error)) {
		g_task_return_error(task, error);
		return;
	}
	self->last_write_us = g_get_monotonic_time();
	at_channel_stream(self->channel, source, stream_progress, call, cancellable, stream_done,
	                  g_steal_pointer(&task));
}

gboolean
modem_stream_finish(FotaModem *self, GAsyncResult *result, guint64 *sent, char **sent_sha256,
                    GError **error)
{
	StreamCall *call = g_task_get_task_data(G_TASK(result));

	if (sent != NULL)
		*sent = call->sent;
	if (sent_sha256 != NULL)
		*sent_sha256 = g_steal_pointer(&call->sent_sha256);
	return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- identity ---- */

static void
holder_identified(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	ModemInfo *info = modem_identify_run_finish(result, &error);

	if (info == NULL) {
		g_task_return_error(task, error);
		return;
	}
	identified_as(g_task_get_source_object(task), info);
	g_task_return_pointer(task, info, (GDestroyNotify)modem_info_free);
}

void
modem_identify(FotaModem *self, gpointer owner, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	GError *error = NULL;

	if (!check_holder(self, owner, "the identification", &error)) {
		g_task_return_error(task, error);
		return;
	}
	identify(self, cancellable, holder_identified, g_steal_pointer(&task));
}

ModemInfo *
modem_identify_finish(FotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

static void
query_identified(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	ModemInfo *info = modem_identify_finish(FOTA_MODEM(source), result, &error);

	modem_release(FOTA_MODEM(source), task);
	if (info != NULL)
		g_task_return_pointer(task, info, (GDestroyNotify)modem_info_free);
	else
		g_task_return_error(task, error);
}

static void
query_acquired(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	FotaModem *self = FOTA_MODEM(source);
	GError *error = NULL;

	if (!modem_acquire_finish(self, result, &error)) {
		g_task_return_error(task, error);
		return;
	}
	modem_identify(self, task, g_task_get_cancellable(task), query_identified,
	               g_object_ref(task));
}

void
modem_query_info(FotaModem *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                 gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);

	/* A job holds the port, or another program has it: answer from what
	 * was read before. */
	if ((self->holder != NULL || self->port_unwanted) && self->info != NULL) {
		g_task_return_pointer(task, modem_info_copy(self->info),
		                      (GDestroyNotify)modem_info_free);
		g_object_unref(task);
		return;
	}
	modem_acquire(self, task, TRUE, cancellable, query_acquired, task);
}

ModemInfo *
modem_query_info_finish(FotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- channel lifecycle ---- */

static void
clear_timers(FotaModem *self)
{
	g_clear_handle_id(&self->quiet_id, g_source_remove);
	g_clear_handle_id(&self->open_retry_id, g_source_remove);
	g_clear_handle_id(&self->vanish_id, g_source_remove);
	g_clear_handle_id(&self->data_mode_id, g_source_remove);
	g_clear_handle_id(&self->reset_id, g_source_remove);
	self->settling = FALSE;
}

static void
modem_drop_channel(FotaModem *self, const char *why)
{
	if (self->channel == NULL)
		return;
	g_message("Modem: port %s lost: %s", self->path, why);
	clear_timers(self);
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_signal_handlers_disconnect_by_data(self->channel, self);
	at_channel_close(self->channel);
	g_clear_object(&self->channel);
	g_clear_pointer(&self->path, g_free);
	g_clear_pointer(&self->identity, g_free);
	self->ready = FALSE;
	self->probing = FALSE;
	self->data_checking = FALSE;
	g_signal_emit(self, signals[SIGNAL_LOST], 0);
	fail_absent_waiters(self);
}

/* The boot probe is over, one way or the other. */
static void
probe_over(FotaModem *self)
{
	self->probing = FALSE;
	grant_next(self);
}

static void
identified(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FotaModem *self = user_data; /* alive: the cancellable dies with the channel or us */
	g_autoptr(ModemInfo) info = NULL;
	g_autoptr(GError) error = NULL;

	info = modem_identify_run_finish(result, &error);
	if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))))
		return; /* the port went away meanwhile and "lost" was emitted */
	if (info != NULL)
		identified_as(self, info);
	else
		g_warning("Modem: identification failed: %s", error->message);
	probe_over(self);
}

static gboolean
probe_again(gpointer user_data)
{
	modem_probe(user_data);
	return G_SOURCE_REMOVE;
}

static void
probe_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FotaModem *self = user_data; /* alive: the cancellable dies with the channel or us */
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = at_channel_command_finish(AT_CHANNEL(source), result, &error);
	if (channel_gone(error))
		return;
	if (error == NULL) {
		identify(self, self->cancellable, identified, self);
		return;
	}
	if (g_get_monotonic_time() < self->settle_end_us) {
		g_debug("Modem: no answer to AT yet (%s), retrying", error->message);
		/* a modem that answers ERROR at once must not be hammered */
		self->quiet_id = g_timeout_add(200, probe_again, self);
		return;
	}
	g_warning("Modem: %s does not answer AT within %.1f s: %s", self->path,
	          self->config->timeouts.boot_settle_ms / 1000.0, error->message);
	probe_over(self);
}

static void
modem_probe(FotaModem *self)
{
	guint timeout = MIN(PROBE_TIMEOUT_MS, self->config->timeouts.command_ms);

	self->quiet_id = 0;
	self->settling = FALSE;
	at_channel_command(self->channel, "AT", timeout, self->cancellable, probe_reply, self);
}

static gboolean
settle_quiet(gpointer user_data)
{
	FotaModem *self = user_data;

	g_debug("Modem: boot URCs settled");
	modem_probe(self);
	return G_SOURCE_REMOVE;
}

/* Re-arms the quiet-gap timer, never beyond the boot-settle bound. */
static void
settle_arm(FotaModem *self)
{
	gint64 left_ms = (self->settle_end_us - g_get_monotonic_time()) / 1000;
	guint gap = MIN(QUIET_GAP_MS, self->config->timeouts.boot_settle_ms / 3 + 1);

	g_clear_handle_id(&self->quiet_id, g_source_remove);
	self->quiet_id = g_timeout_add(CLAMP(left_ms, 0, (gint64)gap), settle_quiet, self);
}

/* A fresh boot of the modem: wait for its boot URCs to settle, then probe. */
static void
settle_begin(FotaModem *self)
{
	data_mode_end(self, "the modem rebooted");
	g_clear_handle_id(&self->reset_id, g_source_remove);
	self->probing = TRUE;
	self->settling = TRUE;
	self->settle_end_us = g_get_monotonic_time() + self->config->timeouts.boot_settle_ms * 1000;
	settle_arm(self);
}

static void
modem_lost_under_us(FotaModem *self)
{
	/* A UART does not vanish when the modem reboots: "RDY" is the only sign. */
	g_message("Modem: rebooted (RDY) on %s", self->path);
	self->ready = FALSE;
	g_signal_emit(self, signals[SIGNAL_LOST], 0);
	settle_begin(self);
}

static void
on_urc(AtChannel *channel, const char *line, gpointer user_data)
{
	FotaModem *self = user_data;

	g_debug("Modem: URC %s", line);
	if (self->settling) {
		if (strstr(line, "PB DONE") != NULL) {
			g_clear_handle_id(&self->quiet_id, g_source_remove);
			modem_probe(self);
		} else {
			settle_arm(self);
		}
	} else if (self->ready && g_str_equal(line, "RDY") &&
	           self->config->port_kind == FOTAD_PORT_KIND_UART) {
		/* On USB a reboot takes the tty away: an RDY on a port that
		 * stayed is a late boot URC of the boot we already saw. */
		modem_lost_under_us(self);
	}
	data_mode_on_urc(self, line);
	g_signal_emit(self, signals[SIGNAL_URC], 0, line);
}

static void
on_port_lost(AtChannel *channel, GError *error, gpointer user_data)
{
	modem_drop_channel(user_data, error ? error->message : "hang-up");
}

static gboolean modem_try_open(FotaModem *self);

static gboolean
open_retry(gpointer user_data)
{
	FotaModem *self = user_data;

	self->open_retry_id = 0;
	modem_try_open(self);
	return G_SOURCE_REMOVE;
}

static void
modem_attach(FotaModem *self, int fd, const char *path, const char *identity)
{
	AtChannelConfig cc = {.late_reply_grace_ms = self->config->timeouts.late_reply_grace_ms};

	self->channel = at_channel_new(fd, &cc);
	self->cancellable = g_cancellable_new();
	self->path = g_strdup(path);
	self->identity = g_strdup(identity ? identity : path);
	g_signal_connect(self->channel, "urc", G_CALLBACK(on_urc), self);
	g_signal_connect(self->channel, "port-lost", G_CALLBACK(on_port_lost), self);
	g_message("Modem: opened %s (%s flow control)", path,
	          serial_flow_to_string(self->config->flow));
	self->settle_end_us = g_get_monotonic_time() + self->config->timeouts.boot_settle_ms * 1000;
	/* a reset is due: this port goes away soon; the next one has booted */
	if (self->reset_id != 0)
		return;
	if (self->opened_before && !self->left_idle) {
		settle_begin(self);
		return;
	}
	self->left_idle = FALSE;
	/* At daemon start, or back from ModemManager between jobs, the modem
	 * has usually been up for long; but it may still be counting an
	 * interrupted package's bytes. */
	self->opened_before = TRUE;
	if (self->data_mode) {
		data_mode_arm(self);
		return;
	}
	self->probing = TRUE;
	modem_probe(self);
}

static void
set_open_error(FotaModem *self, const char *path, const char *message)
{
	g_free(self->open_error);
	/* name the port as configured: the resolved pty or ttyUSB alone may
	 * mean nothing to the reader */
	if (self->config->port != NULL && g_strcmp0(self->config->port, path) != 0)
		self->open_error = g_strdup_printf("%s: %s", self->config->port, message);
	else
		self->open_error = g_strdup(message);
	g_warning("Modem: %s", self->open_error);
}

/* FALSE when another daemon follows this modem. A lock directory we cannot
 * use only costs the guarantee: the tty's own flock still guards an open
 * port. */
static gboolean
hold_port_lock(FotaModem *self, const char *path, const char *identity)
{
	g_autoptr(GError) error = NULL;

	if (self->lock != NULL && g_str_equal(port_lock_get_identity(self->lock), identity))
		return TRUE;
	g_clear_pointer(&self->lock, port_lock_release);
	self->lock = port_lock_take(self->config->lock_dir, identity, &error);
	if (self->lock != NULL)
		return TRUE;
	if (g_error_matches(error, PORT_LOCK_ERROR, PORT_LOCK_ERROR_BUSY)) {
		set_open_error(self, path, error->message);
		return FALSE;
	}
	if (!self->lock_warned)
		g_warning("Modem: %s; going on without it", error->message);
	self->lock_warned = TRUE;
	return TRUE;
}

static gboolean
modem_try_open(FotaModem *self)
{
	g_autofree char *identity = NULL;
	g_autofree char *path = modem_finder_lookup(self->finder, &identity);
	g_autoptr(GError) error = NULL;
	guint max_attempts = MAX(1, self->config->timeouts.boot_settle_ms / OPEN_RETRY_MS);
	int fd;

	if (self->channel != NULL || self->port_unwanted || path == NULL ||
	    !hold_port_lock(self, path, identity ? identity : path))
		return FALSE;
	fd = serial_port_open(path, self->config->baud, self->config->flow, &error);
	if (fd < 0) {
		if (++self->open_attempts < max_attempts && self->open_retry_id == 0) {
			g_debug("Modem: cannot open %s yet: %s", path, error->message);
			self->open_retry_id = g_timeout_add(OPEN_RETRY_MS, open_retry, self);
			g_free(self->open_error);
			self->open_error = g_strdup(error->message);
		} else {
			set_open_error(self, path, error->message);
		}
		return FALSE;
	}
	g_clear_pointer(&self->open_error, g_free);
	self->open_attempts = 0;
	modem_attach(self, fd, path, identity);
	return TRUE;
}

static void
on_port_appeared(ModemFinder *finder, const char *path, gpointer user_data)
{
	FotaModem *self = user_data;

	if (self->channel != NULL) {
		if (g_strcmp0(path, self->path) == 0 && self->vanish_id == 0)
			return; /* the port we have open */
		/* A new tty means the old one is gone, hang-up or not. */
		modem_drop_channel(self, "another port appeared");
	}
	self->open_attempts = 0;
	modem_try_open(self);
}

static gboolean
vanish_grace_over(gpointer user_data)
{
	FotaModem *self = user_data;

	self->vanish_id = 0;
	modem_drop_channel(self, "the tty vanished");
	return G_SOURCE_REMOVE;
}

static void
on_port_vanished(ModemFinder *finder, gpointer user_data)
{
	FotaModem *self = user_data;

	if (self->channel != NULL && self->vanish_id == 0)
		self->vanish_id = g_timeout_add(VANISH_GRACE_MS, vanish_grace_over, self);
}

/* Opens the port when it is there and wanted; says so when it is not there. */
static void
open_or_wait(FotaModem *self)
{
	if (!modem_try_open(self) && !self->port_unwanted && self->open_retry_id == 0 &&
	    self->open_error == NULL)
		g_message("Modem: no port yet%s%s; waiting for it",
		          self->config->port ? " at " : "",
		          self->config->port ? self->config->port : "");
}

void
modem_start(FotaModem *self)
{
	ModemFinderConfig fc;

	fotad_config_get_finder_config(self->config, &fc);
	self->finder = modem_finder_new(&fc);
	g_signal_connect(self->finder, "port-appeared", G_CALLBACK(on_port_appeared), self);
	g_signal_connect(self->finder, "port-vanished", G_CALLBACK(on_port_vanished), self);
	open_or_wait(self);
}

void
modem_set_port_wanted(FotaModem *self, gboolean wanted)
{
	if (self->port_unwanted == !wanted)
		return;
	self->port_unwanted = !wanted;
	if (!wanted) {
		clear_timers(self);
		modem_drop_channel(self, "left to another program between jobs");
		/* the modem did not reboot: the next open probes at once */
		self->left_idle = TRUE;
		fail_absent_waiters(self);
		return;
	}
	g_debug("Modem: the port may be used again");
	self->open_attempts = 0;
	if (self->finder != NULL)
		open_or_wait(self);
}

gboolean
modem_get_port_wanted(FotaModem *self)
{
	return !self->port_unwanted;
}

char *
modem_locate_port(FotaModem *self, char **identity)
{
	if (identity != NULL)
		*identity = NULL;
	return self->finder != NULL ? modem_finder_lookup(self->finder, identity) : NULL;
}

const ModemInfo *
modem_get_info(FotaModem *self)
{
	return self->info;
}

gboolean
modem_is_ready(FotaModem *self)
{
	return self->ready;
}

gboolean
modem_was_seen(FotaModem *self)
{
	return self->opened_before;
}

gboolean
modem_has_port(FotaModem *self)
{
	return self->channel != NULL;
}

char *
modem_describe_absence(FotaModem *self)
{
	if (self->port_unwanted)
		return g_strdup("the port is left to another program between jobs (ModemManager)");
	if (self->open_error != NULL)
		return g_strdup(self->open_error);
	return g_strdup_printf("no modem port found%s%s", self->config->port ? ": " : "",
	                       self->config->port ? self->config->port : "");
}

FotaModem *
modem_new(const FotadConfig *config)
{
	FotaModem *self = g_object_new(FOTA_TYPE_MODEM, NULL);

	self->config = config;
	return self;
}

static void
modem_dispose(GObject *object)
{
	FotaModem *self = FOTA_MODEM(object);
	GTask *task;

	clear_timers(self);
	while ((task = g_queue_pop_head(&self->waiters)) != NULL) {
		g_task_return_new_error(waiter_dequeued(task), MODEM_ERROR, MODEM_ERROR_ABSENT,
		                        "the daemon is shutting down");
		g_object_unref(task);
	}
	if (self->channel != NULL) {
		g_cancellable_cancel(self->cancellable);
		g_signal_handlers_disconnect_by_data(self->channel, self);
		at_channel_close(self->channel);
	}
	g_clear_object(&self->cancellable);
	g_clear_object(&self->channel);
	if (self->finder != NULL)
		g_signal_handlers_disconnect_by_data(self->finder, self);
	g_clear_object(&self->finder);
	G_OBJECT_CLASS(modem_parent_class)->dispose(object);
}

static void
modem_finalize(GObject *object)
{
	FotaModem *self = FOTA_MODEM(object);

	g_free(self->path);
	g_free(self->identity);
	g_free(self->open_error);
	port_lock_release(self->lock);
	modem_info_free(self->info);
	G_OBJECT_CLASS(modem_parent_class)->finalize(object);
}

static void
modem_class_init(FotaModemClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = modem_dispose;
	object_class->finalize = modem_finalize;
	signals[SIGNAL_READY] = g_signal_new("ready", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
	                                     0, NULL, NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_LOST] = g_signal_new("lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                    NULL, NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_URC] = g_signal_new("urc", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
modem_init(FotaModem *self)
{
	g_queue_init(&self->waiters);
}
