/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "fota-job.h"

#include <unistd.h>

#include "fota-dbus-error.h"
#include "job-machine.h"
#include "job-options.h"

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* The shell around a JobMachine: it performs the machine's actions on the
 * modem, the timers and the store, and turns what comes back into events.
 * It decides nothing itself. */
struct _FotaJob {
	GObject parent;
	JobMachine *machine;
	int fd; /* FILE mode: the package */
	FotaModem *modem;
	const FotadConfig *config;
	JobMachineConfig machine_config;
	FotaJobSaveFunc save;
	gpointer save_data;
	GCancellable *cancellable;        /* this job's commands and stream */
	GCancellable *stream_cancellable; /* the stream alone (the modem may end it early) */
	guint timers[JOB_N_TIMERS];
	FotaState announced; /* the state last logged */
	guint finished_id;   /* the idle that emits "finished" */
	gboolean finished;
};

G_DEFINE_TYPE(FotaJob, fota_job, G_TYPE_OBJECT)

static void perform(FotaJob *self, const JobAction *action);

/* Feeds @event, stamped with both clocks, and performs what follows. */
static void
feed(FotaJob *self, JobEvent *event)
{
	g_autoptr(FotaJob) keep = g_object_ref(self);
	const JobAction *actions;
	JobAction copy[JOB_MACHINE_MAX_ACTIONS];
	guint n;

	if (self->finished)
		return;
	event->now_us = g_get_real_time();
	event->boot_us = job_clock_boottime_us();
	job_machine_feed(self->machine, event);
	actions = job_machine_actions(self->machine, &n);
	/* an action may feed another event: work on a copy */
	for (guint i = 0; i < n; i++) {
		copy[i] = actions[i];
		copy[i].command = g_strdup(actions[i].command);
	}
	for (guint i = 0; i < n; i++) {
		if (!self->finished || copy[i].kind == JOB_ACTION_RESET ||
		    copy[i].kind == JOB_ACTION_FINISH)
			perform(self, &copy[i]);
		g_free(copy[i].command);
	}
}

static void
feed_kind(FotaJob *self, JobEventKind kind)
{
	feed(self, &(JobEvent){.kind = kind});
}

/* How a command, the identification or the stream failed, for the machine. */
static JobFailure
classify(const GError *error)
{
	if (error == NULL)
		return JOB_FAILURE_NONE;
	if (g_error_matches(error, AT_ERROR, AT_ERROR_TIMEOUT))
		return JOB_FAILURE_TIMEOUT;
	if (g_error_matches(error, AT_ERROR, AT_ERROR_MODEM) ||
	    g_error_matches(error, AT_ERROR, AT_ERROR_CME) ||
	    g_error_matches(error, AT_ERROR, AT_ERROR_CMS))
		return JOB_FAILURE_REFUSED;
	if (at_error_is_port_gone(error) || g_error_matches(error, MODEM_ERROR, MODEM_ERROR_ABSENT))
		return JOB_FAILURE_PORT_GONE;
	if (g_error_matches(error, AT_ERROR, AT_ERROR_PACKAGE_CHANGED))
		return JOB_FAILURE_CHANGED;
	return JOB_FAILURE_OTHER;
}

/* ---- timers ---- */

typedef struct {
	FotaJob *job;
	JobTimer timer;
} TimerCall;

static gboolean
timer_fired(gpointer user_data)
{
	TimerCall *call = user_data;

	call->job->timers[call->timer] = 0;
	feed(call->job, &(JobEvent){.kind = JOB_EVENT_TIMER, .timer = call->timer});
	return G_SOURCE_REMOVE;
}

static void
timer_disarm(FotaJob *self, JobTimer timer)
{
	g_clear_handle_id(&self->timers[timer], g_source_remove);
}

static void
timer_arm(FotaJob *self, JobTimer timer, gint64 ms)
{
	TimerCall *call = g_new(TimerCall, 1);

	timer_disarm(self, timer);
	call->job = self;
	call->timer = timer;
	/* Below the port's priority: when a starved daemon wakes up to a
	 * deadline and a URC at once, the URC (already there) goes first and
	 * the machine sees it before concluding that nothing came. */
	self->timers[timer] = g_timeout_add_full(G_PRIORITY_LOW, (guint)CLAMP(ms, 0, G_MAXUINT),
	                                         timer_fired, call, g_free);
}

/* ---- the modem's answers ---- */

static void
port_acquired(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;

	if (!modem_acquire_finish(FOTA_MODEM(source), result, NULL))
		return; /* cancelled: the job ended */
	if (self->finished) {
		modem_release(self->modem, self);
		return;
	}
	feed_kind(self, JOB_EVENT_PORT_GRANTED);
}

static void
identified(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ModemInfo) info = modem_identify_finish(FOTA_MODEM(source), result, &error);
	const JobRecord *r = job_machine_record(self->machine);

	if (self->finished || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	if (info == NULL) {
		feed(self, &(JobEvent){.kind = JOB_EVENT_IDENTIFIED,
		                       .failure = classify(error),
		                       .text = error->message});
		return;
	}
	/* accepted before the modem was identified, or the modem changed */
	if (r->state == FOTA_STATE_PREPARING &&
	    !job_options_fit_modem(&r->options, info->kind,
	                           info->ranges_valid ? &info->ranges : NULL, info->qfotadl_ranges,
	                           &error)) {
		feed(self, &(JobEvent){.kind = JOB_EVENT_OPTIONS_UNFIT, .text = error->message});
		return;
	}
	feed(self, &(JobEvent){.kind = JOB_EVENT_IDENTIFIED,
	                       .revision = info->revision,
	                       .port = info->port_identity});
}

static void
command_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = modem_command_finish(FOTA_MODEM(source), result, &error);
	/* a job that ended meanwhile (cancel, timeout, lost port) ignores replies */
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	feed(self, &(JobEvent){.kind = JOB_EVENT_REPLY,
	                       .failure = classify(error),
	                       .text = error ? error->message : NULL});
}

/* A cancel's reset: the job has ended, the reply only tells the modem
 * whether a reset is still due. */
static void
cancel_reset_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = modem_command_finish(FOTA_MODEM(source), result, &error);
	/* the modem resetting before its OK is the expected outcome */
	if (g_error_matches(error, AT_ERROR, AT_ERROR_PORT_LOST)) {
		g_debug("AT+CFUN=1,1 after a cancel: %s", error->message);
	} else if (error != NULL) {
		g_warning("AT+CFUN=1,1 after a cancel: %s", error->message);
		modem_expect_reset(FOTA_MODEM(source), 0); /* refused: no reset is coming */
	}
}

static void
send_reset(FotaJob *self)
{
	/* the modem resets at once: its port goes away within a command's time */
	modem_expect_reset(self->modem, self->config->timeouts.command_ms);
	if (job_machine_is_final(self->machine)) {
		modem_command(self->modem, self, "AT+CFUN=1,1", NULL, cancel_reset_reply, NULL);
		return;
	}
	modem_command(self->modem, self, "AT+CFUN=1,1", self->cancellable, command_reply,
	              g_object_ref(self));
}

static void
stream_progress(guint64 sent, guint64 total, gpointer user_data)
{
	feed(user_data, &(JobEvent){.kind = JOB_EVENT_STREAM_SENT, .sent = sent, .total = total});
}

static void
stream_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree char *sha = NULL;
	g_autofree char *text = NULL;
	guint64 sent = 0;
	const JobRecord *r = job_machine_record(self->machine);

	if (modem_stream_finish(FOTA_MODEM(source), result, &sent, &sha, &error)) {
		g_message("Job %s: sent the package (%" G_GUINT64_FORMAT " bytes, sha256 %s)",
		          r->id, sent, sha);
		feed(self, &(JobEvent){.kind = JOB_EVENT_STREAM_DONE, .text = sha});
		return;
	}
	text = g_strdup_printf("after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes: %s",
	                       sent, r->file_size, error->message);
	feed(self,
	     &(JobEvent){.kind = JOB_EVENT_STREAM_DONE, .failure = classify(error), .text = text});
}

static void
start_stream(FotaJob *self)
{
	const JobRecord *r = job_machine_record(self->machine);
	AtStreamSource source = {
	        .fd = self->fd,
	        .length = r->file_size,
	        .expected_sha256 = r->options.sha256,
	        .pacing =
	                {
	                        .paced = self->config->flow == SERIAL_FLOW_NONE,
	                        .rate = self->config->paced_rate,
	                        .max_write = AT_STREAM_PACED_MAX_WRITE,
	                },
	};

	g_message("Job %s: streaming %" G_GUINT64_FORMAT " bytes (%s)", r->id, r->file_size,
	          source.pacing.paced ? "paced" : "hardware flow control");
	modem_stream(self->modem, self, &source, stream_progress, self, self->stream_cancellable,
	             stream_done, g_object_ref(self));
}

/* ---- the actions ---- */

static void
save_record(FotaJob *self)
{
	if (self->save != NULL) /* NULL once shut down: the record stays as last saved */
		self->save(job_machine_record(self->machine), self->save_data);
}

static gboolean
emit_finished(gpointer user_data)
{
	FotaJob *self = user_data;

	self->finished_id = 0;
	g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
	return G_SOURCE_REMOVE;
}

static void
job_cleanup(FotaJob *self)
{
	for (guint i = 0; i < JOB_N_TIMERS; i++)
		timer_disarm(self, i);
	g_cancellable_cancel(self->cancellable);
	g_cancellable_cancel(self->stream_cancellable);
	g_signal_handlers_disconnect_by_data(self->modem, self);
	modem_release(self->modem, self);
	if (self->fd >= 0) {
		close(self->fd);
		self->fd = -1;
	}
}

static void
notify(FotaJob *self)
{
	const JobRecord *r = job_machine_record(self->machine);

	if (r->state != self->announced) {
		self->announced = r->state;
		g_message("Job %s: %s%s%s", r->id, fota_state_to_string(r->state),
		          r->message && fota_state_is_final(r->state) ? ": " : "",
		          r->message && fota_state_is_final(r->state) ? r->message : "");
	}
	g_signal_emit(self, signals[SIGNAL_PROGRESS], 0);
}

static void
perform(FotaJob *self, const JobAction *a)
{
	switch (a->kind) {
	case JOB_ACTION_ACQUIRE:
		modem_acquire(self->modem, self, FALSE, self->cancellable, port_acquired,
		              g_object_ref(self));
		break;
	case JOB_ACTION_IDENTIFY:
		modem_identify(self->modem, self, self->cancellable, identified,
		               g_object_ref(self));
		break;
	case JOB_ACTION_SEND:
		g_debug("Job %s: sending %s", job_machine_record(self->machine)->id, a->command);
		modem_command(self->modem, self, a->command, self->cancellable, command_reply,
		              g_object_ref(self));
		break;
	case JOB_ACTION_RESET:
		send_reset(self);
		break;
	case JOB_ACTION_DATA_MODE:
		modem_begin_data_mode(self->modem);
		break;
	case JOB_ACTION_STREAM:
		start_stream(self);
		break;
	case JOB_ACTION_STOP_STREAM:
		g_cancellable_cancel(self->stream_cancellable);
		break;
	case JOB_ACTION_ARM:
		timer_arm(self, a->timer, a->ms);
		break;
	case JOB_ACTION_DISARM:
		timer_disarm(self, a->timer);
		break;
	case JOB_ACTION_SAVE:
		save_record(self);
		break;
	case JOB_ACTION_NOTIFY:
		notify(self);
		break;
	case JOB_ACTION_FINISH:
		self->finished = TRUE;
		job_cleanup(self);
		self->finished_id = g_idle_add_full(G_PRIORITY_DEFAULT, emit_finished,
		                                    g_object_ref(self), g_object_unref);
		break;
	}
}

/* ---- the modem's signals ---- */

static void
modem_urc(FotaModem *modem, const char *line, gpointer user_data)
{
	FotaJob *self = user_data;
	QindFota qind;

	switch (qind_fota_parse(line, &qind)) {
	case QIND_NOT_FOTA:
		return;
	case QIND_MALFORMED:
		g_warning("Job %s: ignoring malformed FOTA URC: %s",
		          job_machine_record(self->machine)->id, line);
		return;
	case QIND_OK:
		if (qind.kind == QIND_STAGE_STATUS)
			g_message("Job %s: the modem says \"%s\"",
			          job_machine_record(self->machine)->id, qind.text);
		feed(self, &(JobEvent){.kind = JOB_EVENT_URC, .qind = &qind});
		return;
	}
}

static void
modem_ready(FotaModem *modem, gpointer user_data)
{
	const ModemInfo *info = modem_get_info(modem);

	feed(user_data, &(JobEvent){.kind = JOB_EVENT_PORT_READY,
	                            .revision = info->revision,
	                            .port = info->port_identity});
}

static void
modem_lost(FotaModem *modem, gpointer user_data)
{
	feed_kind(user_data, JOB_EVENT_PORT_LOST);
}

static void
connect_modem(FotaJob *self)
{
	g_signal_connect(self->modem, "urc", G_CALLBACK(modem_urc), self);
	g_signal_connect(self->modem, "ready", G_CALLBACK(modem_ready), self);
	g_signal_connect(self->modem, "lost", G_CALLBACK(modem_lost), self);
}

/* ---- public ---- */

void
fota_job_start(FotaJob *self)
{
	const char *why = modem_busy_reason(self->modem);

	connect_modem(self);
	if (why != NULL)
		g_message("Job %s: %s", job_machine_record(self->machine)->id, why);
	feed_kind(self, JOB_EVENT_START);
}

void
fota_job_resume(FotaJob *self, const char *boot_id, const char *usb_power_previous)
{
	const JobRecord *r = job_machine_record(self->machine);
	const ModemInfo *info = modem_is_ready(self->modem) ? modem_get_info(self->modem) : NULL;

	g_message("Job %s: resuming in state %s%s", r->id, fota_state_to_string(r->state),
	          g_strcmp0(r->boot_id, boot_id) != 0 ? " after a host reboot" : "");
	self->announced = r->state;
	connect_modem(self);
	/* before RESUME, which may end the job: a final job takes no event */
	feed(self, &(JobEvent){.kind = JOB_EVENT_USB_POWER, .text = usb_power_previous});
	feed(self, &(JobEvent){.kind = JOB_EVENT_RESUME,
	                       .boot_id = boot_id,
	                       .revision = info ? info->revision : NULL,
	                       .port = info ? info->port_identity : NULL});
}

gboolean
fota_job_cancel(FotaJob *self, GError **error)
{
	const char *why =
	        self->finished ? "no job is running" : job_machine_cannot_cancel(self->machine);

	if (why != NULL) {
		g_set_error(error, FOTA_DBUS_ERROR,
		            self->finished ? FOTA_DBUS_ERROR_INVALID_ARGUMENT
		                           : FOTA_DBUS_ERROR_NOT_CANCELLABLE,
		            "%s", why);
		return FALSE;
	}
	feed_kind(self, JOB_EVENT_CANCEL);
	return TRUE;
}

void
fota_job_shutdown(FotaJob *self)
{
	self->save = NULL;
	if (!self->finished) {
		self->finished = TRUE;
		job_cleanup(self);
	}
}

const JobRecord *
fota_job_get_record(FotaJob *self)
{
	return job_machine_record(self->machine);
}

gboolean
fota_job_is_finished(FotaJob *self)
{
	return self->finished;
}

void
fota_job_persist(FotaJob *self)
{
	save_record(self);
}

FotaJob *
fota_job_new(JobRecord *record, int package_fd, FotaModem *modem, const FotadConfig *config,
             FotaJobSaveFunc save, gpointer save_data)
{
	FotaJob *self = g_object_new(FOTA_TYPE_JOB, NULL);
	const FotadTimeouts *t = &config->timeouts;

	self->machine_config = (JobMachineConfig){
	        .bounds =
	                {
	                        .command = t->command_ms,
	                        .first_urc = t->first_urc_ms,
	                        .urc_gap = t->urc_gap_ms,
	                        .download = t->download_ms,
	                        .update = t->update_ms,
	                        .reboot = t->reboot_ms,
	                        .file_idle = t->file_idle_ms,
	                        .port = modem_port_wait_bound(modem),
	                },
	        .hardware_flow = config->flow == SERIAL_FLOW_HARDWARE,
	        .uart = config->port_kind == FOTAD_PORT_KIND_UART,
	};
	self->finished = fota_state_is_final(record->state);
	self->machine = job_machine_new(record, &self->machine_config);
	self->fd = package_fd;
	self->modem = g_object_ref(modem);
	self->config = config;
	self->save = save;
	self->save_data = save_data;
	return self;
}

static void
fota_job_dispose(GObject *object)
{
	FotaJob *self = FOTA_JOB(object);

	if (self->modem != NULL)
		job_cleanup(self);
	g_clear_handle_id(&self->finished_id, g_source_remove);
	g_clear_object(&self->modem);
	G_OBJECT_CLASS(fota_job_parent_class)->dispose(object);
}

static void
fota_job_finalize(GObject *object)
{
	FotaJob *self = FOTA_JOB(object);

	g_clear_object(&self->cancellable);
	g_clear_object(&self->stream_cancellable);
	g_clear_pointer(&self->machine, job_machine_free);
	G_OBJECT_CLASS(fota_job_parent_class)->finalize(object);
}

static void
fota_job_class_init(FotaJobClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = fota_job_dispose;
	object_class->finalize = fota_job_finalize;
	signals[SIGNAL_PROGRESS] =
	        g_signal_new("progress", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_FINISHED] =
	        g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
}

static void
fota_job_init(FotaJob *self)
{
	self->fd = -1;
	self->cancellable = g_cancellable_new();
	self->stream_cancellable = g_cancellable_new();
}
