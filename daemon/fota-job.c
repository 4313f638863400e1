/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "fota-job.h"

#include <unistd.h>

#include "fota-dbus-error.h"
#include "job-options.h"
#include "job-progress.h"
#include "qind-parse.h"

/* Percent updates are saved at most this often (or every this many points):
 * a restart resumes from the state, the percent is only for show. */
#define PERSIST_INTERVAL_US  (5 * G_USEC_PER_SEC)
#define PERSIST_PERCENT_STEP 10
/* Without hardware flow control the modem takes at most this per write. */
#define PACED_MAX_WRITE 32

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* Where the job is in its talk with the modem; the record's state says
 * where the upgrade is. */
typedef enum {
	STEP_WAIT_PORT,         /* new job: waiting for the port's lease */
	STEP_IDENTIFY,          /* reading the modem's identity and revision */
	STEP_PREPARE,           /* the prepare table */
	STEP_QFOTADL,           /* AT+QFOTADL on the wire */
	STEP_QFOTADL_FILESTART, /* ... and FILESTART overtook its reply */
	STEP_QFOTADL_CANCEL,    /* ... and Cancel was asked meanwhile */
	STEP_WAIT_START,        /* accepted; waiting for the first URC */
	STEP_STREAMING,         /* the package is being written */
	STEP_SENT,              /* every byte written; FILEEND pending */
	STEP_FOLLOW,            /* the modem works on its own: download, update, reboots */
	STEP_UNCONFIRMED,       /* resumed: AT+QFOTADL may have gone out, no reply seen */
	STEP_DONE,
} JobStep;

/* Everything that happens to a job enters through job_event(). */
typedef enum {
	EVENT_URC,         /* .line */
	EVENT_READY,       /* the modem is back and identified */
	EVENT_LOST,        /* the port went away */
	EVENT_STREAM_DONE, /* .error NULL: every byte written */
} JobEventKind;

typedef struct {
	JobEventKind kind;
	const char *line;
	const GError *error;
} JobEvent;

/* A deadline that fails the job with its own error when it fires. */
typedef struct {
	FotaJob *job;
	guint id;
	FotaDBusError code;
	char *message;
} JobTimer;

typedef enum {
	PHASE_NONE,
	PHASE_DOWNLOAD,
	PHASE_UPDATE,
} Phase;

struct _FotaJob {
	GObject parent;
	JobRecord *record;
	int fd; /* FILE mode: the package */
	FotaModem *modem;
	const FotadConfig *config;
	FotaJobSaveFunc save;
	gpointer save_data;
	GCancellable *cancellable;        /* this job's commands and stream */
	GCancellable *stream_cancellable; /* the stream alone (the modem may end it early) */
	const char *interruption;         /* resumed: "a daemon restart" or "a host reboot" */

	JobStep step;
	guint prepare_index; /* next entry of prepare_table */
	JobTimer wait;       /* the current wait: first URC, URC gap, reboot */
	JobTimer phase;      /* the whole download or update phase */
	Phase phase_kind;

	gint64 saved_us;
	guint saved_percent;
	guint finished_id; /* the idle that emits "finished" */
	gboolean finished;
};

G_DEFINE_TYPE(FotaJob, fota_job, G_TYPE_OBJECT)

static void job_event(FotaJob *self, const JobEvent *event);
static void job_fail(FotaJob *self, FotaDBusError code, gint modem_code, const char *message);
static void job_after_change(FotaJob *self, FotaState old_state, JobProgressChange change);
static void send_next(FotaJob *self);
static void verify(FotaJob *self);
static void identify_then_prepare(FotaJob *self);

static double
secs(guint ms)
{
	return ms / 1000.0;
}

/* ---- timers ---- */

static gboolean
timer_fired(gpointer user_data)
{
	JobTimer *timer = user_data;
	g_autoptr(FotaJob) job = g_object_ref(timer->job);
	g_autofree char *message = g_steal_pointer(&timer->message);

	timer->id = 0;
	g_message("Job %s: %s", job->record->id, message);
	job_fail(job, timer->code, JOB_UNSET, message);
	return G_SOURCE_REMOVE;
}

static void
timer_stop(JobTimer *timer)
{
	g_clear_handle_id(&timer->id, g_source_remove);
	g_clear_pointer(&timer->message, g_free);
}

/* Changes what a running timer will say when it fires. */
static void
timer_set_verdict(JobTimer *timer, FotaDBusError code, char *message)
{
	g_free(timer->message);
	timer->message = message;
	timer->code = code;
}

static void G_GNUC_PRINTF(4, 5)
        timer_arm(JobTimer *timer, gint64 ms, FotaDBusError code, const char *format, ...)
{
	va_list args;

	timer_stop(timer);
	va_start(args, format);
	timer->message = g_strdup_vprintf(format, args);
	va_end(args);
	timer->code = code;
	timer->id = g_timeout_add((guint)CLAMP(ms, 0, G_MAXUINT), timer_fired, timer);
}

/* What is left of @total_ms when the phase began at @since_us (wall clock:
 * it survives restarts through the record). */
static gint64
remaining_ms(guint total_ms, gint64 since_us)
{
	gint64 elapsed_ms = since_us > 0 ? (g_get_real_time() - since_us) / 1000 : 0;

	return MAX(0, (gint64)total_ms - MAX(0, elapsed_ms));
}

/* ---- persistence and announcements ---- */

static void
job_save(FotaJob *self)
{
	if (self->save == NULL)
		return; /* shut down: the record stays as last saved */
	self->save(self->record, self->save_data);
	self->saved_us = g_get_monotonic_time();
	self->saved_percent = self->record->percent;
}

static gboolean
percent_save_due(FotaJob *self)
{
	guint delta = self->record->percent > self->saved_percent
	                      ? self->record->percent - self->saved_percent
	                      : self->saved_percent - self->record->percent;

	return delta >= PERSIST_PERCENT_STEP ||
	       g_get_monotonic_time() - self->saved_us >= PERSIST_INTERVAL_US;
}

static void
job_cleanup(FotaJob *self)
{
	timer_stop(&self->wait);
	timer_stop(&self->phase);
	self->phase_kind = PHASE_NONE;
	self->step = STEP_DONE;
	g_cancellable_cancel(self->cancellable);
	g_cancellable_cancel(self->stream_cancellable);
	g_signal_handlers_disconnect_by_data(self->modem, self);
	modem_release(self->modem, self);
	if (self->fd >= 0) {
		close(self->fd);
		self->fd = -1;
	}
}

static gboolean
emit_finished(gpointer user_data)
{
	FotaJob *self = user_data;

	self->finished_id = 0;
	g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
	return G_SOURCE_REMOVE;
}

/* Persist first, then tell: a client that saw a state can rely on a
 * restart finding it. */
static void
job_announce(FotaJob *self, JobProgressChange change)
{
	const JobRecord *r = self->record;
	gboolean important =
	        change & (JOB_PROGRESS_STATE | JOB_PROGRESS_DL_DONE | JOB_PROGRESS_END);

	if (important || ((change & JOB_PROGRESS_PERCENT) && percent_save_due(self)))
		job_save(self);
	if (change & JOB_PROGRESS_STATE)
		g_message("Job %s: %s%s%s", r->id, fota_state_to_string(r->state),
		          r->message && fota_state_is_final(r->state) ? ": " : "",
		          r->message && fota_state_is_final(r->state) ? r->message : "");
	if (change & (JOB_PROGRESS_STATE | JOB_PROGRESS_PERCENT))
		g_signal_emit(self, signals[SIGNAL_PROGRESS], 0);
	if (fota_state_is_final(r->state) && !self->finished) {
		self->finished = TRUE;
		job_cleanup(self);
		self->finished_id = g_idle_add_full(G_PRIORITY_DEFAULT, emit_finished,
		                                    g_object_ref(self), g_object_unref);
	}
}

static void
job_fail(FotaJob *self, FotaDBusError code, gint modem_code, const char *message)
{
	FotaState old = self->record->state;

	if (fota_state_is_final(old))
		return;
	job_progress_fail(self->record, code, modem_code, message, g_get_real_time());
	job_after_change(self, old, JOB_PROGRESS_STATE);
}

static void
job_cancelled(FotaJob *self, const char *message)
{
	FotaState old = self->record->state;

	job_progress_cancel(self->record, message, g_get_real_time());
	job_after_change(self, old, JOB_PROGRESS_STATE);
}

static void
job_enter(FotaJob *self, FotaState state)
{
	FotaState old = self->record->state;

	if (job_progress_set_state(self->record, state, g_get_real_time()))
		job_after_change(self, old, JOB_PROGRESS_STATE);
}

/* ---- the waits of each state ---- */

/* The longest the port may rightly be away or busy before a job can use
 * it: a reboot, its boot settle, and the modem leaving FILE data mode. */
static void
arm_port_wait(FotaJob *self)
{
	const FotadTimeouts *t = &self->config->timeouts;

	timer_arm(&self->wait,
	          (gint64)t->reboot_ms + t->boot_settle_ms +
	                  (gint64)t->file_idle_ms * MODEM_DATA_MODE_CHECKS,
	          FOTA_DBUS_ERROR_NO_MODEM, "the modem's port did not become usable in time");
}

static void
arm_reboot_wait(FotaJob *self)
{
	timer_arm(&self->wait,
	          remaining_ms(self->config->timeouts.reboot_ms, self->record->state_since_us),
	          FOTA_DBUS_ERROR_TIMEOUT, "modem did not come back within %g s",
	          secs(self->config->timeouts.reboot_ms));
}

static void
arm_update_phase(FotaJob *self, gint64 since_us)
{
	if (self->phase_kind == PHASE_UPDATE)
		return; /* mode 0: one deadline from the first return, across the second reboot */
	self->phase_kind = PHASE_UPDATE;
	timer_arm(&self->phase, remaining_ms(self->config->timeouts.update_ms, since_us),
	          FOTA_DBUS_ERROR_TIMEOUT, "the update did not finish within %g s",
	          secs(self->config->timeouts.update_ms));
}

/* Progress is expected while downloading when the modem reports it or the
 * host streams; a silent network download (download-urc-max 0) is only
 * bounded by the whole download timeout. */
static void
arm_gap_wait(FotaJob *self)
{
	const JobRecord *r = self->record;
	gboolean streams = self->step == STEP_STREAMING || self->step == STEP_SENT;

	if (!streams && r->source_kind != FOTA_SOURCE_FILE && r->options.download_urc_max == 0 &&
	    !r->download_done) {
		timer_stop(&self->wait);
		return;
	}
	timer_arm(&self->wait, self->config->timeouts.urc_gap_ms, FOTA_DBUS_ERROR_TIMEOUT,
	          "no progress from the modem for %g s while downloading",
	          secs(self->config->timeouts.urc_gap_ms));
}

static void
on_enter_state(FotaJob *self)
{
	const JobRecord *r = self->record;

	switch (r->state) {
	case FOTA_STATE_DOWNLOADING:
		self->phase_kind = PHASE_DOWNLOAD;
		timer_arm(&self->phase,
		          remaining_ms(self->config->timeouts.download_ms, r->state_since_us),
		          FOTA_DBUS_ERROR_TIMEOUT, "the download did not finish within %g s",
		          secs(self->config->timeouts.download_ms));
		break;
	case FOTA_STATE_REBOOTING:
		if (self->phase_kind == PHASE_DOWNLOAD || r->end_code == 0) {
			/* mode 0 after the download, or the update is over */
			timer_stop(&self->phase);
			self->phase_kind = PHASE_NONE;
		}
		arm_reboot_wait(self);
		break;
	case FOTA_STATE_UPDATING:
		timer_stop(&self->wait);
		arm_update_phase(self, r->state_since_us);
		break;
	default:
		break;
	}
}

static void
job_after_change(FotaJob *self, FotaState old_state, JobProgressChange change)
{
	if (self->record->state != old_state && !fota_state_is_final(self->record->state))
		on_enter_state(self);
	job_announce(self, change);
}

/* ---- commands ---- */

typedef void (*JobReplyFunc)(FotaJob *self, const char *command, AtResponse *response,
                             GError *error);

typedef struct {
	FotaJob *job;
	JobReplyFunc func;
	char *command;
} CommandCall;

static void
command_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	CommandCall *call = user_data;
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = modem_command_finish(FOTA_MODEM(source), result, &error);
	/* A job that ended meanwhile (cancel, timeout, lost port) ignores replies. */
	if (!call->job->finished && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		call->func(call->job, call->command, response, error);
	g_object_unref(call->job);
	g_free(call->command);
	g_free(call);
}

static void
job_command(FotaJob *self, const char *command, JobReplyFunc func)
{
	CommandCall *call = g_new0(CommandCall, 1);

	g_debug("Job %s: sending %s", self->record->id, command);
	call->job = g_object_ref(self);
	call->func = func;
	call->command = g_strdup(command);
	modem_command(self->modem, self, command, self->cancellable, command_reply, call);
}

/* A failed command ends the job with the modem's words; the channel's
 * error already names the command. */
static void
fail_command(FotaJob *self, const char *command, const GError *error)
{
	g_autofree char *message = NULL;
	FotaDBusError code = FOTA_DBUS_ERROR_MODEM_ERROR;

	if (g_error_matches(error, AT_ERROR, AT_ERROR_TIMEOUT)) {
		code = FOTA_DBUS_ERROR_TIMEOUT;
		message = g_strdup_printf("modem did not answer %s within %g s", command,
		                          secs(self->config->timeouts.command_ms));
	} else if (g_error_matches(error, AT_ERROR, AT_ERROR_MODEM) ||
	           g_error_matches(error, AT_ERROR, AT_ERROR_CME) ||
	           g_error_matches(error, AT_ERROR, AT_ERROR_CMS)) {
		message = g_strdup_printf("modem refused %s", error->message);
	} else {
		if (g_error_matches(error, MODEM_ERROR, MODEM_ERROR_ABSENT))
			code = FOTA_DBUS_ERROR_NO_MODEM;
		message = g_strdup_printf("%s failed: %s", command, error->message);
	}
	job_fail(self, code, JOB_UNSET, message);
}

/* ---- preparing: the port, the identity, then a short table ---- */

typedef char *(*PrepareCommandFunc)(const JobRecord *r, const FotadConfig *config);

/* FILE mode at full speed needs the modem's own flow control. */
static char *
flow_control_command(const JobRecord *r, const FotadConfig *config)
{
	if (r->source_kind != FOTA_SOURCE_FILE || config->flow != SERIAL_FLOW_HARDWARE)
		return NULL;
	return g_strdup(config->port_kind == FOTAD_PORT_KIND_UART ? "AT+IFC=2,2"
	                                                          : "AT+QCFG=\"usbifc\",2,2");
}

static gboolean
wants_pdp(const JobRecord *r)
{
	return r->source_kind != FOTA_SOURCE_FILE && r->options.cid != JOB_UNSET;
}

static char *
apn_command(const JobRecord *r, const FotadConfig *config)
{
	if (!wants_pdp(r) || r->options.apn == NULL)
		return NULL;
	return g_strdup_printf("AT+QICSGP=%d,1,\"%s\",\"\",\"\",1", r->options.cid, r->options.apn);
}

static char *
fota_cid_command(const JobRecord *r, const FotadConfig *config)
{
	return wants_pdp(r) ? g_strdup_printf("AT+QCFG=\"fota/cid\",%d", r->options.cid) : NULL;
}

static char *
pdp_activate_command(const JobRecord *r, const FotadConfig *config)
{
	return wants_pdp(r) ? g_strdup_printf("AT+QIACT=%d", r->options.cid) : NULL;
}

static char *
qfotadl_command(const JobRecord *r, const FotadConfig *config)
{
	g_autofree char *url = r->source_kind == FOTA_SOURCE_FILE
	                               ? g_strdup_printf("FILE:%" G_GUINT64_FORMAT, r->file_size)
	                               : g_strdup(r->source);
	GString *cmd = g_string_new(NULL);

	g_string_printf(cmd, "AT+QFOTADL=\"%s\",%u,%u", url, r->options.upgrade_mode,
	                r->options.download_urc_max);
	if (r->options.update_urc_max != JOB_UNSET)
		g_string_append_printf(cmd, ",%d", r->options.update_urc_max);
	return g_string_free(cmd, FALSE);
}

/* In order; an entry that returns NULL does not apply to this job. */
static const PrepareCommandFunc prepare_table[] = {
        flow_control_command,
        apn_command,
        fota_cid_command,
        pdp_activate_command,
};

/* The port went away before AT+QFOTADL (@error says so, or NULL: "lost"):
 * nothing that changes the modem was sent, so preparing starts over once it
 * is back (a modem that rebooted after its last job, say). */
static gboolean
preparing_interrupted(FotaJob *self, const GError *error)
{
	if (error != NULL && !g_error_matches(error, AT_ERROR, AT_ERROR_PORT_LOST) &&
	    !g_error_matches(error, AT_ERROR, AT_ERROR_CLOSED) &&
	    !g_error_matches(error, MODEM_ERROR, MODEM_ERROR_ABSENT))
		return FALSE;
	if (self->step == STEP_WAIT_PORT)
		return TRUE;
	g_message("Job %s: the modem's port went away while preparing; preparing again once it "
	          "is back",
	          self->record->id);
	self->step = STEP_WAIT_PORT;
	self->prepare_index = 0;
	arm_port_wait(self);
	return TRUE;
}

static void
prepare_reply(FotaJob *self, const char *command, AtResponse *response, GError *error)
{
	if (self->step == STEP_WAIT_PORT || (error != NULL && preparing_interrupted(self, error)))
		return;
	if (error != NULL) {
		fail_command(self, command, error);
		return;
	}
	send_next(self);
}

static void qfotadl_reply(FotaJob *self, const char *command, AtResponse *response, GError *error);

static void
send_qfotadl(FotaJob *self)
{
	g_autofree char *cmd = qfotadl_command(self->record, self->config);

	/* Saved before the modem may start: a restart must know we got this far. */
	job_save(self);
	self->step = STEP_QFOTADL;
	job_command(self, cmd, qfotadl_reply);
}

static void
send_next(FotaJob *self)
{
	while (self->prepare_index < G_N_ELEMENTS(prepare_table)) {
		g_autofree char *cmd =
		        prepare_table[self->prepare_index++](self->record, self->config);

		if (cmd != NULL) {
			job_command(self, cmd, prepare_reply);
			return;
		}
	}
	send_qfotadl(self);
}

static void
identified(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ModemInfo) info = modem_identify_finish(FOTA_MODEM(source), result, &error);
	g_autofree char *message = NULL;

	if (self->finished || (info == NULL && preparing_interrupted(self, error)))
		return;
	if (info == NULL) {
		message = g_strdup_printf("cannot identify the modem before the upgrade: %s",
		                          error->message);
		job_fail(self,
		         g_error_matches(error, MODEM_ERROR, MODEM_ERROR_ABSENT)
		                 ? FOTA_DBUS_ERROR_NO_MODEM
		                 : FOTA_DBUS_ERROR_MODEM_ERROR,
		         JOB_UNSET, message);
		return;
	}
	/* accepted before the modem was identified, or the modem changed */
	if (!job_options_fit_modem(&self->record->options, info->kind,
	                           info->ranges_valid ? &info->ranges : NULL, info->qfotadl_ranges,
	                           &error)) {
		job_fail(self, FOTA_DBUS_ERROR_NOT_SUPPORTED, JOB_UNSET, error->message);
		return;
	}
	g_free(self->record->from_revision);
	self->record->from_revision = g_strdup(info->revision);
	g_free(self->record->port);
	self->record->port = g_strdup(info->port_identity);
	self->step = STEP_PREPARE;
	send_next(self);
}

static void
identify_then_prepare(FotaJob *self)
{
	timer_stop(&self->wait);
	self->step = STEP_IDENTIFY;
	modem_identify(self->modem, self, self->cancellable, identified, g_object_ref(self));
}

static void
port_acquired(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree char *message = NULL;

	if (!modem_acquire_finish(FOTA_MODEM(source), result, &error)) {
		if (self->finished)
			return;
		message = g_strdup_printf("the modem port is not usable: %s", error->message);
		job_fail(self, FOTA_DBUS_ERROR_NO_MODEM, JOB_UNSET, message);
		return;
	}
	if (self->finished) {
		modem_release(self->modem, self);
		return;
	}
	identify_then_prepare(self);
}

/* ---- downloading ---- */

static void cancel_download(FotaJob *self);
static void start_stream(FotaJob *self);

/* The modem took AT+QFOTADL: its OK, or a FOTA URC that overtook the OK
 * (@reply_pending). */
static void
qfotadl_accepted(FotaJob *self, gboolean reply_pending)
{
	JobRecord *r = self->record;
	gboolean cancel_now = self->step == STEP_QFOTADL_CANCEL;

	r->accepted = TRUE;
	if (r->source_kind == FOTA_SOURCE_FILE)
		modem_begin_data_mode(self->modem);
	if (!reply_pending)
		self->step = r->source_kind == FOTA_SOURCE_FILE ? STEP_WAIT_START : STEP_FOLLOW;
	job_enter(self, FOTA_STATE_DOWNLOADING);
	if (cancel_now) {
		cancel_download(self);
		return;
	}
	timer_arm(&self->wait, self->config->timeouts.first_urc_ms, FOTA_DBUS_ERROR_TIMEOUT,
	          "no +QIND from the modem within %g s after AT+QFOTADL",
	          secs(self->config->timeouts.first_urc_ms));
}

static void
qfotadl_reply(FotaJob *self, const char *command, AtResponse *response, GError *error)
{
	const JobRecord *r = self->record;

	if (r->accepted) {
		/* Its first +QIND overtook this reply (see on_fota_urc()); a
		 * FILESTART among them waited for the channel to be free. */
		gboolean stream = self->step == STEP_QFOTADL_FILESTART;

		self->step = r->source_kind == FOTA_SOURCE_FILE ? STEP_WAIT_START : STEP_FOLLOW;
		if (stream)
			start_stream(self);
		return;
	}
	if (error == NULL) {
		qfotadl_accepted(self, FALSE);
		return;
	}
	/* No answer at all: the modem may have taken it and be waiting for bytes. */
	if (r->source_kind == FOTA_SOURCE_FILE &&
	    g_error_matches(error, AT_ERROR, AT_ERROR_TIMEOUT))
		modem_begin_data_mode(self->modem);
	if (self->step == STEP_QFOTADL_CANCEL)
		job_cancelled(self, "cancelled; the modem refused the download anyway");
	else
		fail_command(self, "AT+QFOTADL", error);
}

static void
stream_progress(guint64 sent, guint64 total, gpointer user_data)
{
	FotaJob *self = user_data;

	if (self->finished)
		return;
	arm_gap_wait(self);
	/* Without download URCs the bytes sent are the only measure. */
	if (self->record->options.download_urc_max == 0 && total > 0) {
		guint percent = (guint)(sent * 100 / total);

		if (percent != self->record->percent) {
			self->record->percent = percent;
			job_announce(self, JOB_PROGRESS_PERCENT);
		}
	}
}

static void
stream_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree char *sha = NULL;
	guint64 sent = 0;

	if (modem_stream_finish(FOTA_MODEM(source), result, &sent, &sha, &error)) {
		g_message("Job %s: sent the package (%" G_GUINT64_FORMAT " bytes, sha256 %s)",
		          self->record->id, sent, sha);
		g_free(self->record->sent_sha256);
		self->record->sent_sha256 = g_steal_pointer(&sha);
		/* A restart must know the modem may have the whole package. */
		if (!self->finished)
			job_save(self);
	} else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_prefix_error(&error,
		               "after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes: ", sent,
		               self->record->file_size);
	}
	if (self->finished || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	job_event(self, &(JobEvent){.kind = EVENT_STREAM_DONE, .error = error});
}

static void
start_stream(FotaJob *self)
{
	AtStreamSource source = {
	        .fd = self->fd,
	        .length = self->record->file_size,
	        .expected_sha256 = self->record->options.sha256,
	        .pacing =
	                {
	                        .paced = self->config->flow == SERIAL_FLOW_NONE,
	                        .rate = self->config->paced_rate,
	                        .max_write = PACED_MAX_WRITE,
	                },
	};

	if (self->step == STEP_QFOTADL) {
		/* the channel streams only once no command is pending */
		self->step = STEP_QFOTADL_FILESTART;
		return;
	}
	if (self->fd < 0 || self->step != STEP_WAIT_START)
		return;
	g_message("Job %s: streaming %" G_GUINT64_FORMAT " bytes (%s)", self->record->id,
	          self->record->file_size, source.pacing.paced ? "paced" : "hardware flow control");
	self->step = STEP_STREAMING;
	modem_stream(self->modem, self, &source, stream_progress, self, self->stream_cancellable,
	             stream_done, g_object_ref(self));
}

static void
on_stream_done(FotaJob *self, const GError *error)
{
	g_autofree char *message = NULL;

	if (error == NULL) {
		self->step = STEP_SENT;
		arm_gap_wait(self); /* now FILEEND */
		return;
	}
	self->step = STEP_FOLLOW;
	if (g_error_matches(error, AT_ERROR, AT_ERROR_PACKAGE_CHANGED))
		message = g_strdup_printf("package changed while it was being sent: %s",
		                          error->message);
	else
		message = g_strdup_printf("package transfer failed %s", error->message);
	job_fail(self, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, JOB_UNSET, message);
}

/* What a URC means for the waits; the record itself is job-progress.c's. */
static void
after_urc(FotaJob *self, const QindFota *qind, JobProgressChange change)
{
	const JobRecord *r = self->record;

	if (r->state != FOTA_STATE_DOWNLOADING)
		return;
	if (qind->kind == QIND_STAGE_FILEEND && self->step == STEP_STREAMING) {
		/* The modem has ended the transfer (early, or its FILEEND
		 * overtook our last write's completion): nothing more goes to
		 * it; the stream's outcome says which. */
		g_message("Job %s: FILEEND from the modem: sending no more", r->id);
		g_cancellable_cancel(self->stream_cancellable);
		self->step = STEP_FOLLOW;
	}
	if ((change & JOB_PROGRESS_DL_STARTED) && qind->kind == QIND_STAGE_FILESTART &&
	    r->source_kind == FOTA_SOURCE_FILE)
		start_stream(self);
	else if ((change & JOB_PROGRESS_DL_STARTED) && self->step == STEP_WAIT_START)
		self->step = STEP_FOLLOW;
	if (change & JOB_PROGRESS_DL_DONE) {
		/* mode 1: START follows at once; the download phase is over */
		timer_stop(&self->phase);
		self->phase_kind = PHASE_NONE;
		self->step = STEP_FOLLOW;
	}
	arm_gap_wait(self);
}

static void
on_fota_urc(FotaJob *self, const char *line)
{
	FotaState old;
	JobProgressChange change;
	QindFota qind;

	switch (qind_fota_parse(line, &qind)) {
	case QIND_NOT_FOTA:
		return;
	case QIND_MALFORMED:
		g_warning("Job %s: ignoring malformed FOTA URC: %s", self->record->id, line);
		return;
	case QIND_OK:
		break;
	}
	/* OK and the first +QIND arrive back to back, often in one read, and
	 * some modems even send the URC first: a FOTA URC while AT+QFOTADL is
	 * on the wire means the modem took it. */
	if (!self->record->accepted) {
		if (self->step == STEP_QFOTADL || self->step == STEP_QFOTADL_CANCEL)
			qfotadl_accepted(self, TRUE);
		else if (self->step == STEP_UNCONFIRMED)
			qfotadl_accepted(self, FALSE);
		if (self->finished)
			return;
	}
	old = self->record->state;
	change = job_progress_apply(self->record, &qind, g_get_real_time());
	if (change == JOB_PROGRESS_NONE) {
		g_debug("Job %s: URC ignored in state %s: %s", self->record->id,
		        fota_state_to_string(old), line);
		return;
	}
	if (!fota_state_is_final(self->record->state))
		after_urc(self, &qind, change);
	job_after_change(self, old, change);
}

/* ---- rebooting, updating, verifying ---- */

static void
verify_read(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ModemInfo) info = modem_identify_finish(FOTA_MODEM(source), result, &error);
	g_autofree char *message = NULL;

	/* the port went away meanwhile: "lost" takes over */
	if (self->finished || self->record->state != FOTA_STATE_VERIFYING ||
	    g_error_matches(error, MODEM_ERROR, MODEM_ERROR_ABSENT))
		return;
	timer_stop(&self->wait);
	if (info == NULL) {
		message = g_strdup_printf("cannot read the revision after the update: %s",
		                          error->message);
		job_fail(self, FOTA_DBUS_ERROR_MODEM_ERROR, JOB_UNSET, message);
		return;
	}
	job_progress_verify(self->record, info->revision, g_get_real_time());
	job_after_change(self, FOTA_STATE_VERIFYING, JOB_PROGRESS_STATE);
}

/* The verdict rests on a read of its own, made in the verifying state (and
 * saved as such), so that a restart landing here reads the revision again.
 * A resumed job reads once its lease on the port is granted. */
static void
verify(FotaJob *self)
{
	timer_arm(&self->wait, self->config->timeouts.reboot_ms, FOTA_DBUS_ERROR_TIMEOUT,
	          "cannot read the modem's revision within %g s after its return",
	          secs(self->config->timeouts.reboot_ms));
	if (modem_holds(self->modem, self))
		modem_identify(self->modem, self, self->cancellable, verify_read,
		               g_object_ref(self));
}

/* The port is back and the modem identified: did the update happen? */
static void
on_return(FotaJob *self)
{
	const ModemInfo *info = modem_get_info(self->modem);
	JobRecord *r = self->record;

	g_free(r->port);
	r->port = g_strdup(info->port_identity);
	if (!r->download_done && !job_progress_revision_changed(r, info->revision)) {
		job_progress_interrupted(r, "the modem rebooting", info->revision,
		                         g_get_real_time());
		job_after_change(self, FOTA_STATE_DOWNLOADING, JOB_PROGRESS_STATE);
		return;
	}
	if (r->options.upgrade_mode == 0 && !job_progress_revision_changed(r, info->revision)) {
		/* Mode 0 upgrades after this reboot, perhaps silently: wait for
		 * the next reboot or the update deadline, which now means the
		 * update did not take. */
		job_enter(self, FOTA_STATE_UPDATING);
		timer_set_verdict(&self->phase, FOTA_DBUS_ERROR_VERIFY_FAILED,
		                  job_progress_unchanged_message(r, info->revision));
		return;
	}
	job_enter(self, FOTA_STATE_VERIFYING);
	verify(self);
}

static void
on_ready(FotaJob *self)
{
	if (self->step == STEP_WAIT_PORT) {
		/* back after going away while preparing; a job still waiting
		 * for its lease goes on from port_acquired() */
		if (modem_holds(self->modem, self))
			identify_then_prepare(self);
		return;
	}
	switch (self->record->state) {
	case FOTA_STATE_UPDATING:
		/* Mode 1 updates with the port up: a return without a loss only
		 * counts when the revision already changed (the update ended and
		 * the modem rebooted while the daemon was not running). */
		if (self->record->options.upgrade_mode == 1 &&
		    !job_progress_revision_changed(self->record,
		                                   modem_get_info(self->modem)->revision))
			return;
		G_GNUC_FALLTHROUGH;
	case FOTA_STATE_REBOOTING:
	case FOTA_STATE_VERIFYING:
		on_return(self);
		break;
	case FOTA_STATE_PREPARING:
	case FOTA_STATE_DOWNLOADING:
		/* A resumed job whose record fell behind (a save failed, or the
		 * daemon was down through the update): the revision tells. */
		if (self->interruption != NULL &&
		    job_progress_revision_changed(self->record,
		                                  modem_get_info(self->modem)->revision))
			on_return(self);
		break;
	default:
		break;
	}
}

/* Whether the modem has had the whole package, by the bytes we streamed or
 * by its own last progress URC. */
static gboolean
package_delivered(FotaJob *self)
{
	return self->step == STEP_SENT || self->record->percent == 100;
}

static void
on_lost(FotaJob *self)
{
	JobRecord *r = self->record;

	switch (r->state) {
	case FOTA_STATE_PREPARING:
		if (self->step == STEP_WAIT_PORT || self->step == STEP_IDENTIFY ||
		    self->step == STEP_PREPARE) {
			preparing_interrupted(self, NULL);
			return;
		}
		job_fail(self, FOTA_DBUS_ERROR_MODEM_ERROR, JOB_UNSET,
		         "the modem port vanished while preparing");
		break;
	case FOTA_STATE_DOWNLOADING:
		/* A resumed job may have missed the modem's last URCs. */
		if (!r->download_done && !package_delivered(self) && self->interruption == NULL) {
			job_fail(self, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, JOB_UNSET,
			         "the modem port vanished during the download");
			break;
		}
		if (!r->download_done) {
			/* The modem reboots only after a complete download; its
			 * last URCs can die with the port, or with the daemon.
			 * The revision decides. */
			g_message("Job %s: port lost after the whole package was delivered or "
			          "while the daemon was away; assuming the modem took it",
			          r->id);
			r->download_done = TRUE;
		}
		/* mode 1 rebooting before we saw START/END */
		G_GNUC_FALLTHROUGH;
	case FOTA_STATE_UPDATING:
	case FOTA_STATE_VERIFYING:
		self->step = STEP_FOLLOW;
		job_enter(self, FOTA_STATE_REBOOTING);
		break;
	default:
		break;
	}
}

static void
job_event(FotaJob *self, const JobEvent *event)
{
	g_autoptr(FotaJob) keep = g_object_ref(self);

	if (self->finished)
		return;
	switch (event->kind) {
	case EVENT_URC:
		on_fota_urc(self, event->line);
		break;
	case EVENT_READY:
		on_ready(self);
		break;
	case EVENT_LOST:
		on_lost(self);
		break;
	case EVENT_STREAM_DONE:
		on_stream_done(self, event->error);
		break;
	}
}

static void
modem_urc(FotaModem *modem, const char *line, gpointer user_data)
{
	job_event(user_data, &(JobEvent){.kind = EVENT_URC, .line = line});
}

static void
modem_ready(FotaModem *modem, gpointer user_data)
{
	job_event(user_data, &(JobEvent){.kind = EVENT_READY});
}

static void
modem_lost(FotaModem *modem, gpointer user_data)
{
	job_event(user_data, &(JobEvent){.kind = EVENT_LOST});
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
	if (self->record->started_us == 0)
		self->record->started_us = g_get_real_time();
	self->step = STEP_WAIT_PORT;
	job_announce(self, JOB_PROGRESS_STATE); /* preparing, as the record was written */
	if (why != NULL)
		g_message("Job %s: %s", self->record->id, why);
	arm_port_wait(self);
	modem_acquire(self->modem, self, FALSE, self->cancellable, port_acquired,
	              g_object_ref(self));
}

/* A job the modem accepted goes on where the record says, host reboot or
 * not: a modem that kept its power goes on too, one that lost it stays
 * silent and the state's deadline ends the job. */
static void
resume_from_state(FotaJob *self, const char *interruption)
{
	JobRecord *r = self->record;

	switch (r->state) {
	case FOTA_STATE_IDLE:
	case FOTA_STATE_PREPARING:
		if (r->source_kind == FOTA_SOURCE_FILE) {
			job_progress_transfer_cut(r, interruption, g_get_real_time());
			job_after_change(self, FOTA_STATE_PREPARING, JOB_PROGRESS_STATE);
			return;
		}
		/* AT+QFOTADL may have gone out just before the restart: a
		 * modem that took it says so with its first URC. */
		self->step = STEP_UNCONFIRMED;
		timer_arm(&self->wait, self->config->timeouts.first_urc_ms,
		          FOTA_DBUS_ERROR_MODEM_ERROR,
		          "interrupted by %s before the modem accepted the job, and it "
		          "reported no download within %g s; nothing was changed; safe "
		          "to start again",
		          interruption, secs(self->config->timeouts.first_urc_ms));
		return;
	case FOTA_STATE_DOWNLOADING:
		if (r->source_kind == FOTA_SOURCE_FILE && r->sent_sha256 == NULL) {
			job_progress_transfer_cut(r, interruption, g_get_real_time());
			job_after_change(self, FOTA_STATE_DOWNLOADING, JOB_PROGRESS_STATE);
			return;
		}
		/* the modem downloads on its own, or checks the package we
		 * sent: follow its URCs */
		self->step = r->source_kind == FOTA_SOURCE_FILE ? STEP_SENT : STEP_FOLLOW;
		on_enter_state(self);
		arm_gap_wait(self);
		return;
	case FOTA_STATE_UPDATING:
		self->step = STEP_FOLLOW;
		arm_update_phase(self, r->state_since_us);
		if (modem_is_ready(self->modem))
			on_ready(self); /* it may have finished meanwhile */
		return;
	case FOTA_STATE_REBOOTING:
	case FOTA_STATE_VERIFYING:
		self->step = STEP_FOLLOW;
		arm_reboot_wait(self);
		if (modem_is_ready(self->modem) && r->state == FOTA_STATE_VERIFYING)
			on_return(self);
		return;
	default:
		return;
	}
}

static void
resume_acquired(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;

	if (!modem_acquire_finish(FOTA_MODEM(source), result, NULL))
		return;
	if (self->finished) {
		modem_release(self->modem, self);
		return;
	}
	if (self->record->state == FOTA_STATE_VERIFYING && modem_is_ready(self->modem))
		verify(self);
}

void
fota_job_resume(FotaJob *self, const char *boot_id)
{
	g_autoptr(FotaJob) keep = g_object_ref(self);
	JobRecord *r = self->record;
	gboolean host_rebooted = g_strcmp0(r->boot_id, boot_id) != 0;

	g_message("Job %s: resuming in state %s%s", r->id, fota_state_to_string(r->state),
	          host_rebooted ? " after a host reboot" : "");
	g_free(r->boot_id);
	r->boot_id = g_strdup(boot_id);
	self->interruption = host_rebooted ? "a host reboot" : "a daemon restart";
	connect_modem(self);
	/* the port for the verifying read and a cancel's reset */
	modem_acquire(self->modem, self, FALSE, self->cancellable, resume_acquired,
	              g_object_ref(self));
	/* A transfer cut short may have left the modem counting bytes. */
	if (r->source_kind == FOTA_SOURCE_FILE && r->sent_sha256 == NULL &&
	    (r->state == FOTA_STATE_PREPARING || r->state == FOTA_STATE_DOWNLOADING))
		modem_begin_data_mode(self->modem);
	resume_from_state(self, self->interruption);
	if (!self->finished)
		job_save(self); /* the new boot id */
}

gboolean
fota_job_cancel(FotaJob *self, GError **error)
{
	g_autoptr(FotaJob) keep = g_object_ref(self);
	const JobRecord *r = self->record;

	if (self->finished) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "no job is running");
		return FALSE;
	}
	if (r->download_done || r->state > FOTA_STATE_DOWNLOADING || package_delivered(self)) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_NOT_CANCELLABLE,
		            "the modem has accepted the whole package and is writing flash; the "
		            "upgrade cannot be cancelled");
		return FALSE;
	}
	g_message("Job %s: cancel requested in state %s", r->id, fota_state_to_string(r->state));
	switch (self->step) {
	case STEP_QFOTADL:
	case STEP_QFOTADL_FILESTART:
		if (r->accepted)
			break; /* a URC said so before the reply: stop the download */
		/* The modem may be starting: the reply decides how to stop it. */
		self->step = STEP_QFOTADL_CANCEL;
		return TRUE;
	case STEP_QFOTADL_CANCEL:
		return TRUE;
	case STEP_WAIT_PORT:
	case STEP_IDENTIFY:
	case STEP_PREPARE:
		job_cancelled(self, "cancelled before the modem was asked to download");
		return TRUE;
	default:
		break;
	}
	/* downloading, or (resumed) perhaps downloading unbeknown to us */
	cancel_download(self);
	return TRUE;
}

static void
reset_reply(GObject *source, GAsyncResult *result, gpointer user_data)
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

/* FILE mode: stop sending; the modem drops a partial package after its own
 * timeout (FILEEND,500, ignored), and the modem sends nothing to it until
 * then. A network download cannot be stopped by any documented command, so
 * the modem is reset (AT+CFUN=1,1) and starts clean with its old firmware. */
static void
cancel_download(FotaJob *self)
{
	if (self->record->source_kind == FOTA_SOURCE_FILE) {
		job_cancelled(self, "cancelled; the modem discards the partial package");
		return;
	}
	if (modem_holds(self->modem, self)) {
		self->record->reset_us = g_get_real_time();
		/* the modem resets at once: its port goes away within a command's time */
		modem_expect_reset(self->modem, self->record->reset_us +
		                                        self->config->timeouts.command_ms * 1000LL);
		modem_command(self->modem, self, "AT+CFUN=1,1", NULL, reset_reply, NULL);
	}
	job_cancelled(self, "cancelled; the modem was reset (AT+CFUN=1,1) to abandon the download");
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
	return self->record;
}

gboolean
fota_job_is_finished(FotaJob *self)
{
	return self->finished;
}

void
fota_job_persist(FotaJob *self)
{
	job_save(self);
}

FotaJob *
fota_job_new(JobRecord *record, int package_fd, FotaModem *modem, const FotadConfig *config,
             FotaJobSaveFunc save, gpointer save_data)
{
	FotaJob *self = g_object_new(FOTA_TYPE_JOB, NULL);

	self->record = record;
	self->fd = package_fd;
	self->modem = g_object_ref(modem);
	self->config = config;
	self->save = save;
	self->save_data = save_data;
	self->finished = fota_state_is_final(record->state);
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
	job_record_free(self->record);
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
	self->wait.job = self;
	self->phase.job = self;
}
