/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "modem.h"

#include <unistd.h>

#include "modem-finder.h"
#include "modem-identify.h"
#include "port-lock.h"
#include "qind-parse.h"
#include "serial-port.h"

/* How often and how long a freshly appeared tty is retried when it cannot
 * be opened yet (udev may still be applying permissions). */
#define OPEN_RETRY_MS 500
/* A probe "AT" is short: the modem either answers at once or is still booting. */
#define PROBE_TIMEOUT_MS 1000
/* A modem that answers the probe with ERROR at once must not be hammered. */
#define PROBE_RETRY_MS 200
/* A modem answers in order: a reply that a killed predecessor's command (or
 * another program's) still had in flight when we opened the port pairs
 * with our probe, and the probe's own answer follows as soon as the modem
 * read it. So the probe counts only when no other final result follows it
 * for four of its round trips, within these bounds. */
#define PROBE_QUIET_MIN_MS 200
#define PROBE_QUIET_MAX_MS 2000
/* Probes found out of step before the identification goes ahead anyway
 * (it checks every answer's form). */
#define PROBE_RESYNCS 5
/* After a reboot: this much silence means the boot URCs are over. */
#define QUIET_GAP_MS 2000
/* When the tty node vanishes, the channel usually still has the modem's
 * last lines (FILEEND, END) to read before its hang-up; give it this long
 * before dropping it regardless. */
#define VANISH_GRACE_MS 500
/* After data mode, an "AT" that is not answered may itself have been
 * counted as package bytes: the idle time is waited again, this often at
 * most. */
#define DATA_MODE_CHECKS 3

/* Where the port is in its life, and so who may send on it: one state at a
 * time, and every grant (port_gate()), every busy reason, every send of the
 * holder (holder_gate()) and every line of the modem's own follows from it.
 * Each state has at most one timer (state_id).
 *
 *   UNSEEN/CLOSED --open--> PROBING     ABSENT --open--> SETTLING
 *   SETTLING --PB DONE or quiet--> PROBING --identified or gave up--> READY
 *   (PROBING: "AT" until an OK is followed by no answer we did not ask for)
 *   any but ABSENT --a FILE package announced, or cut (start-up)--> DATA_MODE
 *   DATA_MODE --FILEEND while held--> READY
 *   DATA_MODE --FILEEND or file-idle, free--> DATA_CHECK
 *   DATA_CHECK --OK--> READY (PROBING if never identified)
 *   DATA_CHECK --no OK--> DATA_MODE, the third time PROBING
 *   any --reset due--> RESETTING --deadline or none due--> READY/PROBING/ABSENT
 *   any with a tty --tty lost--> ABSENT; --"RDY" on a UART--> SETTLING
 *   any --left to another program--> CLOSED (DATA_MODE and UNSEEN stay)
 *
 * The lease is not a state: a job holds it across a reboot while the port
 * goes ABSENT, SETTLING, PROBING and READY again under it. DATA_MODE (from
 * the job record at start-up, or kept while the port is left to another
 * program) and RESETTING (from the job record) may hold without a tty and
 * apply once it opens. */
typedef enum {
	PORT_UNSEEN,     /* no tty opened since the daemon started: the next open probes at once */
	PORT_CLOSED,     /* closed by us for another program; the modem did not reboot: the same */
	PORT_ABSENT,     /* the tty went away (the modem reboots): the next open settles first */
	PORT_SETTLING,   /* fresh from a boot: until PB DONE or a quiet gap, boot-settle at most */
	PORT_PROBING,    /* the modem's own "AT" probe and identification */
	PORT_DATA_MODE,  /* the modem may take our bytes as a FILE package */
	PORT_DATA_CHECK, /* the "AT" that ends data mode is on the wire */
	PORT_RESETTING,  /* AT+CFUN=1,1 is due: nothing until the tty goes away or a deadline */
	PORT_READY,      /* the modem listens to commands: the lease may be granted */
} PortState;

static const char *const port_state_names[] = {
        [PORT_UNSEEN] = "unseen",         [PORT_CLOSED] = "closed",
        [PORT_ABSENT] = "absent",         [PORT_SETTLING] = "settling",
        [PORT_PROBING] = "probing",       [PORT_DATA_MODE] = "data mode",
        [PORT_DATA_CHECK] = "data check", [PORT_RESETTING] = "resetting",
        [PORT_READY] = "ready",
};

enum { SIGNAL_READY, SIGNAL_LOST, SIGNAL_URC, N_SIGNALS };
static guint signals[N_SIGNALS];

struct _FotaModem {
	GObject parent;
	const FotadConfig *config;
	FotaModemFinder *finder;

	PortState state;
	guint state_id; /* the state's timer: quiet gap, probe retry or quiet, file-idle, reset */
	gint64 settle_end_us; /* monotonic: boot-settle bound for the settle and the probe */
	gint64 last_write_us; /* monotonic: our last byte, for the file-idle wait */
	guint data_checks;    /* data-mode "AT"s that went unanswered */
	struct {
		gint64 sent_us;   /* monotonic: when the probe's "AT" was queued */
		guint64 unpaired; /* the channel's unpaired final results then */
		guint resyncs;    /* probes found out of step since PROBING began */
	} probe;
	gboolean ready;         /* identified since the tty opened ("ready" was emitted) */
	gboolean port_unwanted; /* left to another program between jobs */
	ModemInfo *info;

	gpointer holder; /* who holds the port's lease, NULL when free */
	GQueue waiters;  /* GTask*: modem_acquire() calls in order */
	GQueue deferred; /* GTask*: the holder's sends waiting for the modem's own lines */

	FotaAtChannel *channel;
	GCancellable *cancellable; /* cancelled when the channel is dropped */
	char *path;                /* of the open channel */
	char *identity;
	char *open_error;   /* why the last open failed, NULL after a success */
	PortLock *lock;     /* held while we follow the modem with that identity */
	char *lock_trouble; /* why the lock directory is unusable, warned once */
	guint open_attempts;
	guint open_retry_id;
	guint vanish_id;
};

G_DEFINE_TYPE(FotaModem, modem, G_TYPE_OBJECT)

static void port_serve(FotaModem *self);
static void settle_arm(FotaModem *self);
static void probe_send(FotaModem *self);
static void data_mode_arm(FotaModem *self);
static void data_check_send(FotaModem *self);

/* ---- the port's state ---- */

static gboolean
in_data_mode(PortState state)
{
	return state == PORT_DATA_MODE || state == PORT_DATA_CHECK;
}

/* The one way from state to state: the old state's timer goes (a state
 * entered again keeps it), the new state's first step runs, and whoever
 * waited for the port is served. */
static void
port_enter(FotaModem *self, PortState state, const char *why)
{
	if (in_data_mode(self->state) && !in_data_mode(state))
		g_message("Modem: out of FILE data mode (%s)", why);
	g_debug("Modem: port %s -> %s (%s)", port_state_names[self->state], port_state_names[state],
	        why);
	if (state != self->state)
		g_clear_handle_id(&self->state_id, g_source_remove);
	self->state = state;
	switch (state) {
	case PORT_SETTLING:
		self->settle_end_us =
		        g_get_monotonic_time() + self->config->timeouts.boot_settle_ms * 1000;
		settle_arm(self);
		break;
	case PORT_PROBING:
		self->probe.resyncs = 0;
		probe_send(self);
		break;
	case PORT_DATA_MODE:
		data_mode_arm(self);
		break;
	case PORT_DATA_CHECK:
		data_check_send(self);
		break;
	default:
		break;
	}
	port_serve(self);
}

typedef enum {
	GATE_OPEN,   /* the lease may be granted */
	GATE_WAIT,   /* the modem itself, or the holder, has the port for now */
	GATE_ABSENT, /* no tty: waiters that asked to fail do */
} PortGate;

/* The one gate of the lease, and the reason a waiter waits. */
static PortGate
port_gate(FotaModem *self, const char **why)
{
	switch (self->state) {
	case PORT_UNSEEN:
	case PORT_CLOSED:
	case PORT_ABSENT:
		*why = "waiting for the modem's port";
		return GATE_ABSENT;
	case PORT_SETTLING:
	case PORT_PROBING:
		*why = "waiting for the modem to finish booting and be identified";
		return GATE_WAIT;
	case PORT_DATA_MODE:
	case PORT_DATA_CHECK:
		*why = "waiting for the modem to leave FILE data mode (FILEEND, or "
		       "file-idle-timeout without a byte)";
		return GATE_WAIT;
	case PORT_RESETTING:
		*why = "waiting for the modem's reset (AT+CFUN=1,1)";
		return GATE_WAIT;
	case PORT_READY:
		break;
	}
	*why = self->holder != NULL ? "waiting for another user of the modem's port" : NULL;
	return self->holder != NULL ? GATE_WAIT : GATE_OPEN;
}

const char *
modem_busy_reason(FotaModem *self)
{
	const char *why;

	port_gate(self, &why);
	return why;
}

typedef enum {
	HOLDER_SEND,    /* it goes out now */
	HOLDER_WAIT,    /* after the modem's own lines (its boot probe) */
	HOLDER_REFUSED, /* not the holder, or no tty */
} HolderGate;

/* Whether @owner's @what may go out now: the holder's only, never between
 * the modem's own lines, and only on a tty. */
static HolderGate
holder_gate(FotaModem *self, gpointer owner, const char *what, GError **error)
{
	g_autofree char *why = NULL;

	if (!modem_holds(self, owner)) {
		g_set_error(error, MODEM_ERROR, MODEM_ERROR_NOT_HOLDER,
		            "cannot send %s: the caller does not hold the modem's port", what);
		return HOLDER_REFUSED;
	}
	switch (self->state) {
	case PORT_SETTLING:
	case PORT_PROBING:
	case PORT_DATA_CHECK:
		return HOLDER_WAIT;
	case PORT_READY:
	case PORT_DATA_MODE: /* the holder's own: its AT+QFOTADL and package */
	case PORT_RESETTING: /* the holder's own: its AT+CFUN=1,1 */
		if (self->channel != NULL)
			return HOLDER_SEND;
		break;
	case PORT_UNSEEN:
	case PORT_CLOSED:
	case PORT_ABSENT:
		break;
	}
	why = modem_describe_absence(self);
	g_set_error(error, MODEM_ERROR, MODEM_ERROR_ABSENT, "cannot send %s: %s", what, why);
	return HOLDER_REFUSED;
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

static void holder_flush(FotaModem *self);

/* After every change of state or lease: the holder's sends held back by the
 * modem's own lines go (or fail), then the next waiter gets the lease when
 * the gate is open, or those that asked to fail without a port do. */
static void
port_serve(FotaModem *self)
{
	const char *why;

	holder_flush(self);
	switch (port_gate(self, &why)) {
	case GATE_OPEN:
		grant_next(self);
		break;
	case GATE_ABSENT:
		fail_absent_waiters(self);
		break;
	case GATE_WAIT:
		break;
	}
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
	port_serve(self);
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
	/* the modem's file-idle wait starts once nobody sends package bytes */
	if (self->state == PORT_DATA_MODE)
		port_enter(self, PORT_DATA_MODE, "released");
	else
		port_serve(self);
}

gboolean
modem_holds(FotaModem *self, gpointer owner)
{
	return owner != NULL && self->holder == owner;
}

/* ---- the holder's commands and identification ---- */

/* A command or the identification of a holder: sent at once, or after the
 * modem's own lines. */
typedef struct {
	gpointer owner;
	char *command; /* NULL: the identification */
} HolderCall;

static void
holder_call_free(HolderCall *call)
{
	g_free(call->command);
	g_free(call);
}

/* ATE0, ATI, [AT+QGMR], AT+CGSN, AT+QFOTADL=? on the current channel. Only
 * the modem itself (its boot probe) and a holder allowed to send call this. */
static void
identify(FotaModem *self, GCancellable *cancellable, GAsyncReadyCallback callback,
         gpointer user_data)
{
	ModemInfo seed = {
	        .port = self->path, .port_identity = self->identity, .flow = self->config->flow};

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

static void
command_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	AtResponse *response = at_channel_command_finish(FOTA_AT_CHANNEL(source), result, &error);

	if (response != NULL)
		g_task_return_pointer(task, response, (GDestroyNotify)at_response_free);
	else
		g_task_return_error(task, error);
}

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

/* Sends @task's command or identification now, keeps it for after the
 * modem's own lines, or refuses it. Takes @task. */
static void
holder_submit(FotaModem *self, GTask *task)
{
	HolderCall *call = g_task_get_task_data(task);
	GCancellable *cancellable = g_task_get_cancellable(task);
	GError *error = NULL;

	switch (holder_gate(self, call->owner, call->command ? call->command : "the identification",
	                    &error)) {
	case HOLDER_SEND:
		if (call->command == NULL)
			identify(self, cancellable, holder_identified, task);
		else
			at_channel_command(self->channel, call->command,
			                   self->config->timeouts.command_ms, cancellable,
			                   command_done, task);
		return;
	case HOLDER_WAIT:
		g_queue_push_tail(&self->deferred, task);
		return;
	case HOLDER_REFUSED:
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
}

/* The sends held back go in order once the state lets them (or fail). */
static void
holder_flush(FotaModem *self)
{
	GTask *task;

	while ((task = g_queue_peek_head(&self->deferred)) != NULL) {
		HolderCall *call = g_task_get_task_data(task);

		if (holder_gate(self, call->owner, NULL, NULL) == HOLDER_WAIT)
			return;
		holder_submit(self, g_queue_pop_head(&self->deferred));
	}
}

static GTask *
holder_call_new(FotaModem *self, gpointer owner, const char *command, GCancellable *cancellable,
                GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	HolderCall *call = g_new0(HolderCall, 1);

	call->owner = owner;
	call->command = g_strdup(command);
	g_task_set_task_data(task, call, (GDestroyNotify)holder_call_free);
	return task;
}

void
modem_command(FotaModem *self, gpointer owner, const char *command, GCancellable *cancellable,
              GAsyncReadyCallback callback, gpointer user_data)
{
	holder_submit(self,
	              holder_call_new(self, owner, command, cancellable, callback, user_data));
}

AtResponse *
modem_command_finish(FotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
modem_identify(FotaModem *self, gpointer owner, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer user_data)
{
	holder_submit(self, holder_call_new(self, owner, NULL, cancellable, callback, user_data));
}

ModemInfo *
modem_identify_finish(FotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
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
	if (at_channel_stream_finish(FOTA_AT_CHANNEL(source), result, &call->sent,
	                             &call->sent_sha256, &error))
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
	HolderGate gate = holder_gate(self, owner, "the package", &error);

	/* the channel's outcome: a cancel racing the last byte is a delivery */
	g_task_set_check_cancellable(task, FALSE);
	call->modem = self;
	call->progress = progress;
	call->progress_data = progress_data;
	g_task_set_task_data(task, call, (GDestroyNotify)stream_call_free);
	/* not kept for later like a command: a package is only for the modem
	 * that announced CONNECT */
	if (gate == HOLDER_WAIT)
		g_set_error(&error, MODEM_ERROR, MODEM_ERROR_ABSENT,
		            "cannot send the package: the modem rebooted since its CONNECT");
	if (gate != HOLDER_SEND) {
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

/* ---- the boot: settle, probe, identify ---- */

/* A command that ended because its channel went away (or we dropped it):
 * "lost" has said so already. */
static gboolean
channel_gone(const GError *error)
{
	return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
	       at_error_is_port_gone(error);
}

static gboolean
settle_quiet(gpointer user_data)
{
	FotaModem *self = user_data;

	self->state_id = 0;
	port_enter(self, PORT_PROBING, "the boot URCs settled");
	return G_SOURCE_REMOVE;
}

/* (Re)arms the quiet gap, never beyond the boot-settle bound. */
static void
settle_arm(FotaModem *self)
{
	gint64 left_ms = (self->settle_end_us - g_get_monotonic_time()) / 1000;
	guint gap = MIN(QUIET_GAP_MS, self->config->timeouts.boot_settle_ms / 3 + 1);

	g_clear_handle_id(&self->state_id, g_source_remove);
	self->state_id = g_timeout_add(CLAMP(left_ms, 0, (gint64)gap), settle_quiet, self);
}

/* The boot probe is over, one way or the other, unless a "ready" handler
 * moved the port on meanwhile. */
static void
probe_over(FotaModem *self, const char *why)
{
	if (self->state == PORT_PROBING)
		port_enter(self, PORT_READY, why);
}

static void
identified(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FotaModem *self = user_data; /* alive: the cancellable dies with the channel or us */
	g_autoptr(ModemInfo) info = NULL;
	g_autoptr(GError) error = NULL;

	info = modem_identify_run_finish(result, &error);
	if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))) ||
	    self->state != PORT_PROBING)
		return; /* the port went away meanwhile ("lost" was emitted), or was reset */
	if (info != NULL)
		identified_as(self, info);
	else
		g_warning("Modem: identification failed: %s", error->message);
	probe_over(self, info != NULL ? "identified" : "not identified");
}

static gboolean
probe_again(gpointer user_data)
{
	FotaModem *self = user_data;

	self->state_id = 0;
	probe_send(self);
	return G_SOURCE_REMOVE;
}

/* The probe's quiet time is over: identify, unless an answer nobody asked
 * for came meanwhile, which means the probe took somebody else's. */
static gboolean
probe_quiet(gpointer user_data)
{
	FotaModem *self = user_data;
	guint64 unpaired = at_channel_get_unpaired_finals(self->channel) - self->probe.unpaired;

	self->state_id = 0;
	if (unpaired > 0 && self->probe.resyncs < PROBE_RESYNCS) {
		self->probe.resyncs++;
		g_message("Modem: %" G_GUINT64_FORMAT " answer(s) to no command of ours followed "
		          "the probe on %s; probing again (%u of %u)",
		          unpaired, self->path, self->probe.resyncs, PROBE_RESYNCS);
		probe_send(self);
		return G_SOURCE_REMOVE;
	}
	if (unpaired > 0)
		g_warning("Modem: answers to no command of ours still follow the probe on %s; "
		          "identifying all the same",
		          self->path);
	identify(self, self->cancellable, identified, self);
	return G_SOURCE_REMOVE;
}

static void
probe_wait_quiet(FotaModem *self)
{
	gint64 round_trip_ms = (g_get_monotonic_time() - self->probe.sent_us) / 1000;

	self->state_id =
	        g_timeout_add(CLAMP(4 * round_trip_ms, PROBE_QUIET_MIN_MS, PROBE_QUIET_MAX_MS),
	                      probe_quiet, self);
}

static void
probe_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FotaModem *self = user_data; /* alive: the cancellable dies with the channel or us */
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = at_channel_command_finish(FOTA_AT_CHANNEL(source), result, &error);
	if (channel_gone(error) || self->state != PORT_PROBING)
		return;
	if (error == NULL) {
		probe_wait_quiet(self);
		return;
	}
	if (g_get_monotonic_time() < self->settle_end_us) {
		g_debug("Modem: no answer to AT yet (%s), retrying", error->message);
		self->state_id = g_timeout_add(PROBE_RETRY_MS, probe_again, self);
		return;
	}
	g_warning("Modem: %s does not answer AT within %.1f s: %s", self->path,
	          self->config->timeouts.boot_settle_ms / 1000.0, error->message);
	probe_over(self, "no answer to AT");
}

static void
probe_send(FotaModem *self)
{
	guint timeout = MIN(PROBE_TIMEOUT_MS, self->config->timeouts.command_ms);

	self->probe.sent_us = g_get_monotonic_time();
	self->probe.unpaired = at_channel_get_unpaired_finals(self->channel);
	at_channel_command(self->channel, "AT", timeout, self->cancellable, probe_reply, self);
}

/* ---- data mode ---- */

static gboolean
data_mode_idle(gpointer user_data)
{
	FotaModem *self = user_data;

	self->state_id = 0;
	g_message("Modem: nothing sent for %g s; checking that the modem left FILE data mode",
	          self->config->timeouts.file_idle_ms / 1000.0);
	port_enter(self, PORT_DATA_CHECK, "file-idle");
	return G_SOURCE_REMOVE;
}

/* Waits out the modem's FILE idle timeout, counted from our last byte. The
 * holder's own job follows the modem's URCs instead; without a tty the wait
 * starts once it opens. */
static void
data_mode_arm(FotaModem *self)
{
	gint64 idle_ms = (g_get_monotonic_time() - self->last_write_us) / 1000;
	gint64 left_ms = (gint64)self->config->timeouts.file_idle_ms - MAX(0, idle_ms);

	g_clear_handle_id(&self->state_id, g_source_remove);
	if (self->holder != NULL || self->channel == NULL)
		return;
	g_message("Modem: the modem may still be in FILE data mode; sending nothing for up to "
	          "%.1f s (until its FILEEND)",
	          MAX(0, left_ms) / 1000.0);
	self->state_id = g_timeout_add((guint)CLAMP(left_ms, 0, G_MAXUINT), data_mode_idle, self);
}

static void
data_check_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FotaModem *self = user_data; /* alive: the cancellable dies with the channel or us */
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = at_channel_command_finish(FOTA_AT_CHANNEL(source), result, &error);
	if (channel_gone(error) || self->state != PORT_DATA_CHECK)
		return;
	/* identified before (or by the holder): it listens; else probe it as at
	 * daemon start */
	if (error == NULL) {
		port_enter(self, self->ready ? PORT_READY : PORT_PROBING, "AT answered OK");
		return;
	}
	if (++self->data_checks < DATA_MODE_CHECKS) {
		g_message("Modem: no OK to AT after data mode (%s); waiting again", error->message);
		self->last_write_us = g_get_monotonic_time();
		port_enter(self, PORT_DATA_MODE, "no OK to AT");
		return;
	}
	g_warning("Modem: no OK to AT after data mode, %u tries (%s); probing as after a boot",
	          self->data_checks, error->message);
	port_enter(self, PORT_PROBING, "given up");
}

static void
data_check_send(FotaModem *self)
{
	at_channel_command(self->channel, "AT", self->config->timeouts.command_ms,
	                   self->cancellable, data_check_reply, self);
}

void
modem_begin_data_mode(FotaModem *self)
{
	/* the tty is away: the modem reboots, and its boot ends data mode */
	if (self->state == PORT_ABSENT)
		return;
	self->data_checks = 0;
	self->last_write_us = g_get_monotonic_time();
	port_enter(self, PORT_DATA_MODE, "a FILE package is announced");
}

static void
data_mode_on_urc(FotaModem *self, const char *line)
{
	QindFota qind;

	if (self->state != PORT_DATA_MODE || qind_fota_parse(line, &qind) != QIND_OK ||
	    qind.kind != QIND_STAGE_FILEEND)
		return;
	/* the holder's job goes on with the modem's verdict; without one, an
	 * "AT" must answer first */
	port_enter(self, self->holder != NULL ? PORT_READY : PORT_DATA_CHECK, line);
}

/* ---- a reset ---- */

/* No reset came, or none is due: the port is used again (after a probe if
 * the modem was never identified on it). */
static void
reset_over(FotaModem *self, const char *why)
{
	PortState next = self->channel == NULL ? PORT_ABSENT
	                 : self->ready         ? PORT_READY
	                                       : PORT_PROBING;

	port_enter(self, next, why);
}

static gboolean
reset_overdue(gpointer user_data)
{
	FotaModem *self = user_data;

	self->state_id = 0;
	g_warning("Modem: the reset did not happen; using the port again");
	reset_over(self, "the reset did not happen");
	return G_SOURCE_REMOVE;
}

void
modem_expect_reset(FotaModem *self, gint64 left_ms)
{
	if (left_ms <= 0) {
		if (self->state == PORT_RESETTING)
			reset_over(self, "no reset is due");
		return;
	}
	g_message("Modem: a reset is due; sending nothing for up to %.1f s until the port goes "
	          "away",
	          left_ms / 1000.0);
	port_enter(self, PORT_RESETTING, "a reset is due");
	g_clear_handle_id(&self->state_id, g_source_remove);
	self->state_id = g_timeout_add((guint)MIN(left_ms, G_MAXUINT), reset_overdue, self);
}

/* ---- the tty ---- */

/* The tty is gone, or given up for another program: what ran on it ends,
 * the port goes to @next and the listeners hear "lost". */
static void
tty_close(FotaModem *self, const char *why, PortState next)
{
	g_message("Modem: port %s lost: %s", self->path, why);
	g_clear_handle_id(&self->vanish_id, g_source_remove);
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_signal_handlers_disconnect_by_data(self->channel, self);
	at_channel_close(self->channel);
	g_clear_object(&self->channel);
	g_clear_pointer(&self->path, g_free);
	g_clear_pointer(&self->identity, g_free);
	self->ready = FALSE;
	port_enter(self, next, why);
	g_signal_emit(self, signals[SIGNAL_LOST], 0);
}

static void
on_urc(FotaAtChannel *channel, const char *line, gpointer user_data)
{
	FotaModem *self = user_data;

	g_debug("Modem: URC %s", line);
	if (self->state == PORT_SETTLING) {
		if (strstr(line, "PB DONE") != NULL)
			port_enter(self, PORT_PROBING, "PB DONE");
		else
			settle_arm(self);
	} else if (self->ready && g_str_equal(line, "RDY") &&
	           self->config->port_kind == FOTAD_PORT_KIND_UART) {
		/* A UART does not vanish when the modem reboots: "RDY" is the
		 * only sign. On USB a reboot takes the tty away: an RDY on a
		 * port that stayed is a late boot URC of the boot we already
		 * saw. */
		g_message("Modem: rebooted (RDY) on %s", self->path);
		self->ready = FALSE;
		port_enter(self, PORT_SETTLING, "the modem rebooted");
		g_signal_emit(self, signals[SIGNAL_LOST], 0);
	}
	data_mode_on_urc(self, line);
	g_signal_emit(self, signals[SIGNAL_URC], 0, line);
}

static void
on_port_lost(FotaAtChannel *channel, GError *error, gpointer user_data)
{
	tty_close(user_data, error ? error->message : "hang-up", PORT_ABSENT);
}

/* What a tty finds when it opens: the modem up since before (daemon start,
 * back from another program) is probed at once, one that went away has
 * rebooted; data mode and a due reset outlast the tty. */
static PortState
state_after_open(PortState state)
{
	switch (state) {
	case PORT_UNSEEN:
	case PORT_CLOSED:
		return PORT_PROBING;
	case PORT_ABSENT:
		return PORT_SETTLING;
	default:
		return state;
	}
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
	if (self->state != PORT_RESETTING)
		port_enter(self, state_after_open(self->state), "opened");
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
	if (g_strcmp0(self->lock_trouble, error->message) != 0)
		g_warning("Modem: %s; going on without it", error->message);
	g_free(self->lock_trouble);
	self->lock_trouble = g_strdup(error->message);
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
on_port_appeared(FotaModemFinder *finder, const char *path, gpointer user_data)
{
	FotaModem *self = user_data;

	if (self->channel != NULL) {
		if (g_strcmp0(path, self->path) == 0 && self->vanish_id == 0)
			return; /* the port we have open */
		/* A new tty means the old one is gone, hang-up or not. */
		tty_close(self, "another port appeared", PORT_ABSENT);
	}
	self->open_attempts = 0;
	modem_try_open(self);
}

static gboolean
vanish_grace_over(gpointer user_data)
{
	FotaModem *self = user_data;

	self->vanish_id = 0;
	tty_close(self, "the tty vanished", PORT_ABSENT);
	return G_SOURCE_REMOVE;
}

static void
on_port_vanished(FotaModemFinder *finder, gpointer user_data)
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

/* Closed for another program: the modem does not reboot for that, so the
 * next open probes at once; data mode outlasts the close, a due reset does
 * not wait for a port we do not watch. */
static void
port_lend(FotaModem *self)
{
	const char *why = "left to another program between jobs";
	PortState next = in_data_mode(self->state)    ? PORT_DATA_MODE
	                 : self->state == PORT_UNSEEN ? PORT_UNSEEN
	                                              : PORT_CLOSED;

	g_clear_handle_id(&self->open_retry_id, g_source_remove);
	if (self->channel != NULL)
		tty_close(self, why, next);
	else
		port_enter(self, next, why);
}

void
modem_set_port_wanted(FotaModem *self, gboolean wanted)
{
	if (self->port_unwanted == !wanted)
		return;
	self->port_unwanted = !wanted;
	if (!wanted) {
		port_lend(self);
		return;
	}
	g_debug("Modem: the port may be used again");
	self->open_attempts = 0;
	if (self->finder != NULL)
		open_or_wait(self);
}

/* ---- what the modem answers ---- */

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

ModemOutlook
modem_outlook(FotaModem *self)
{
	g_autofree char *located = NULL;

	switch (self->state) {
	case PORT_UNSEEN:
		/* left to another program from the start: the job opens it */
		located = self->port_unwanted ? modem_locate_port(self, NULL) : NULL;
		return located != NULL ? MODEM_OUTLOOK_LATER : MODEM_OUTLOOK_NONE;
	case PORT_CLOSED:
	case PORT_ABSENT:
	case PORT_DATA_MODE:
	case PORT_DATA_CHECK:
		return MODEM_OUTLOOK_LATER;
	case PORT_SETTLING:
	case PORT_PROBING:
	case PORT_RESETTING:
	case PORT_READY:
		break;
	}
	return self->info != NULL || self->channel == NULL ? MODEM_OUTLOOK_LATER
	                                                   : MODEM_OUTLOOK_IDENTIFY;
}

gint64
modem_port_wait_bound(FotaModem *self)
{
	const FotadTimeouts *t = &self->config->timeouts;

	return (gint64)t->file_idle_ms * DATA_MODE_CHECKS + t->reboot_ms + t->boot_settle_ms;
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

/* ---- the object ---- */

FotaModem *
modem_new(const FotadConfig *config)
{
	FotaModem *self = g_object_new(FOTA_TYPE_MODEM, NULL);

	self->config = config;
	return self;
}

/* Every wait on the port ends with the daemon. Takes @task. */
static void
shut_down(GTask *task)
{
	g_task_return_new_error(task, MODEM_ERROR, MODEM_ERROR_ABSENT,
	                        "the daemon is shutting down");
	g_object_unref(task);
}

static void
modem_dispose(GObject *object)
{
	FotaModem *self = FOTA_MODEM(object);
	GTask *task;

	g_clear_handle_id(&self->state_id, g_source_remove);
	g_clear_handle_id(&self->open_retry_id, g_source_remove);
	g_clear_handle_id(&self->vanish_id, g_source_remove);
	while ((task = g_queue_pop_head(&self->waiters)) != NULL)
		shut_down(waiter_dequeued(task));
	while ((task = g_queue_pop_head(&self->deferred)) != NULL)
		shut_down(task);
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
	g_free(self->lock_trouble);
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
	g_queue_init(&self->deferred);
}
