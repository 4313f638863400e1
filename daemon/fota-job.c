/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "fota-job.h"

#include <unistd.h>

#include "fota-dbus-error.h"
#include "job-progress.h"
#include "qind-parse.h"

/* Percent updates are saved at most this often (or every this many points):
 * a restart resumes from the state, the percent is only for show. */
#define PERSIST_INTERVAL_US  (5 * G_USEC_PER_SEC)
#define PERSIST_PERCENT_STEP 10

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

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
	Modem *modem;
	const FotadConfig *config;
	JobStore *store;
	GCancellable *cancellable; /* this job's commands and stream */

	JobTimer wait;  /* the current wait: first URC, URC gap, reboot */
	JobTimer phase; /* the whole download or update phase */
	Phase phase_kind;

	GPtrArray *prepare; /* commands still to send before AT+QFOTADL */
	gboolean qfotadl_in_flight;
	gboolean stream_wanted;    /* FILESTART came before the reply to AT+QFOTADL */
	gboolean unconfirmed;      /* resumed: AT+QFOTADL may have been sent, no reply seen */
	gboolean cancel_requested; /* Cancel while AT+QFOTADL was on the wire */
	gboolean streaming;
	gboolean stream_complete; /* every byte of the package was written */
	gboolean saw_lost;        /* the port went away since the update phase began */

	gint64 saved_us;
	guint saved_percent;
	gboolean finished;
};

G_DEFINE_TYPE(FotaJob, fota_job, G_TYPE_OBJECT)

static void job_enter(FotaJob *self, FotaState state);
static void job_fail(FotaJob *self, FotaDBusError code, gint modem_code, const char *message);
static void job_after_change(FotaJob *self, FotaState old_state, JobProgressChange change);

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
	g_autofree char *message = g_steal_pointer(&timer->message);

	timer->id = 0;
	g_message("Job %s: %s", timer->job->record->id, message);
	job_fail(timer->job, timer->code, JOB_UNSET, message);
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
	g_autoptr(GError) error = NULL;

	if (!job_store_save(self->store, self->record, &error))
		g_warning("Job %s: cannot save the job record: %s", self->record->id,
		          error->message);
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
	g_cancellable_cancel(self->cancellable);
	g_signal_handlers_disconnect_by_data(self->modem, self);
	if (self->fd >= 0) {
		close(self->fd);
		self->fd = -1;
	}
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
		g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
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
arm_gap_wait(FotaJob *self, gboolean always)
{
	const JobRecord *r = self->record;

	if (!always && !self->streaming && r->source_kind != FOTA_SOURCE_FILE &&
	    r->options.download_urc_max == 0 && !r->download_done) {
		timer_stop(&self->wait);
		return;
	}
	timer_arm(&self->wait, self->config->timeouts.urc_gap_ms, FOTA_DBUS_ERROR_TIMEOUT,
	          "no progress from the modem for %g s while downloading",
	          secs(self->config->timeouts.urc_gap_ms));
}

static void
on_enter_state(FotaJob *self, FotaState old_state)
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
	case FOTA_STATE_VERIFYING:
		break;
	default:
		break;
	}
}

static void
job_after_change(FotaJob *self, FotaState old_state, JobProgressChange change)
{
	if (self->record->state != old_state && !fota_state_is_final(self->record->state))
		on_enter_state(self, old_state);
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

	response = at_channel_command_finish(AT_CHANNEL(source), result, &error);
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
	AtChannel *channel = modem_get_channel(self->modem);
	CommandCall *call;

	if (channel == NULL) {
		g_autofree char *message = g_strdup_printf("no modem port to send %s to", command);
		job_fail(self, FOTA_DBUS_ERROR_NO_MODEM, JOB_UNSET, message);
		return;
	}
	g_debug("Job %s: sending %s", self->record->id, command);
	call = g_new0(CommandCall, 1);
	call->job = g_object_ref(self);
	call->func = func;
	call->command = g_strdup(command);
	at_channel_command(channel, command, self->config->timeouts.command_ms, self->cancellable,
	                   command_reply, call);
}

/* A failed command during preparing ends the job with the modem's words. */
static void
fail_command(FotaJob *self, const char *command, const GError *error)
{
	g_autofree char *message = NULL;
	FotaDBusError code = FOTA_DBUS_ERROR_MODEM_ERROR;

	if (g_error_matches(error, AT_ERROR, AT_ERROR_TIMEOUT)) {
		code = FOTA_DBUS_ERROR_TIMEOUT;
		message = g_strdup_printf("modem did not answer %s within %g s", command,
		                          secs(self->config->timeouts.command_ms));
	} else if (g_error_matches(error, AT_ERROR, AT_ERROR_MODEM)) {
		message = g_strdup_printf("modem refused %s: ERROR", command);
	} else if (g_error_matches(error, AT_ERROR, AT_ERROR_CME) ||
	           g_error_matches(error, AT_ERROR, AT_ERROR_CMS)) {
		message = g_strdup_printf("modem refused %s: %s", command, error->message);
	} else {
		message = g_strdup_printf("%s failed: %s", command, error->message);
	}
	job_fail(self, code, JOB_UNSET, message);
}

/* ---- preparing ---- */

static void prepare_next(FotaJob *self);

static char *
qfotadl_command(const JobRecord *r)
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

/* What the modem needs before AT+QFOTADL: its own flow control for a fast
 * FILE transfer, the PDP context for a network download. */
static GPtrArray *
prepare_commands(const JobRecord *r, const FotadConfig *config)
{
	GPtrArray *cmds = g_ptr_array_new_with_free_func(g_free);
	gint cid = r->options.cid;

	g_ptr_array_add(cmds, g_strdup("ATE0"));
	g_ptr_array_add(cmds, g_strdup("ATI"));
	if (r->source_kind == FOTA_SOURCE_FILE && config->flow == SERIAL_FLOW_HARDWARE)
		g_ptr_array_add(cmds, g_strdup(config->port_kind == FOTAD_PORT_KIND_UART
		                                       ? "AT+IFC=2,2"
		                                       : "AT+QCFG=\"usbifc\",2,2"));
	if (r->source_kind != FOTA_SOURCE_FILE && cid != JOB_UNSET) {
		if (r->options.apn != NULL)
			g_ptr_array_add(cmds, g_strdup_printf("AT+QICSGP=%d,1,\"%s\",\"\",\"\",1",
			                                      cid, r->options.apn));
		g_ptr_array_add(cmds, g_strdup_printf("AT+QCFG=\"fota/cid\",%d", cid));
		g_ptr_array_add(cmds, g_strdup_printf("AT+QIACT=%d", cid));
	}
	return cmds;
}

static void
read_from_revision(FotaJob *self, const char *command, AtResponse *response)
{
	g_autoptr(GError) error = NULL;
	char *revision = at_parse_revision((const char *const *)response->lines, &error);

	if (revision == NULL && g_str_equal(command, "ATI")) {
		/* some firmwares leave the revision out of ATI */
		g_ptr_array_insert(self->prepare, 0, g_strdup("AT+QGMR"));
		return;
	}
	if (revision == NULL) {
		g_autofree char *message =
		        g_strdup_printf("cannot read the modem's revision: %s", error->message);
		job_fail(self, FOTA_DBUS_ERROR_MODEM_ERROR, JOB_UNSET, message);
		return;
	}
	g_free(self->record->from_revision);
	self->record->from_revision = revision;
}

static void
prepare_reply(FotaJob *self, const char *command, AtResponse *response, GError *error)
{
	if (error != NULL) {
		fail_command(self, command, error);
		return;
	}
	if (g_str_equal(command, "ATI") || g_str_equal(command, "AT+QGMR"))
		read_from_revision(self, command, response);
	if (!self->finished)
		prepare_next(self);
}

static void qfotadl_reply(FotaJob *self, const char *command, AtResponse *response, GError *error);

static void
prepare_next(FotaJob *self)
{
	g_autofree char *cmd = NULL;

	if (self->prepare->len > 0) {
		cmd = g_ptr_array_steal_index(self->prepare, 0);
		job_command(self, cmd, prepare_reply);
		return;
	}
	/* Saved before the modem may start: a restart must know we got this far. */
	job_save(self);
	cmd = qfotadl_command(self->record);
	self->qfotadl_in_flight = TRUE;
	job_command(self, cmd, qfotadl_reply);
}

/* ---- downloading ---- */

static void cancel_download(FotaJob *self);
static void start_stream(FotaJob *self);

static void
qfotadl_accepted(FotaJob *self)
{
	self->unconfirmed = FALSE;
	self->record->accepted = TRUE;
	job_enter(self, FOTA_STATE_DOWNLOADING);
	if (self->cancel_requested) {
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
	self->qfotadl_in_flight = FALSE;
	if (self->record->accepted) {
		/* Its first +QIND overtook this reply (see on_urc()); a FILESTART
		 * among them waited for the channel to be free of commands. */
		if (self->stream_wanted)
			start_stream(self);
		return;
	}
	if (error != NULL) {
		if (self->cancel_requested)
			job_cancelled(self, "cancelled; the modem refused the download anyway");
		else
			fail_command(self, "AT+QFOTADL", error);
		return;
	}
	qfotadl_accepted(self);
}

static void
stream_progress(guint64 sent, guint64 total, gpointer user_data)
{
	FotaJob *self = user_data;

	if (self->finished)
		return;
	arm_gap_wait(self, TRUE);
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
	g_autofree char *message = NULL;
	guint64 sent = 0;

	self->streaming = FALSE;
	if (at_channel_stream_finish(AT_CHANNEL(source), result, &sent, NULL, &error)) {
		g_message("Job %s: sent the package (%" G_GUINT64_FORMAT " bytes)",
		          self->record->id, sent);
		self->stream_complete = TRUE;
		if (!self->finished)
			arm_gap_wait(self, TRUE); /* now FILEEND */
		return;
	}
	if (self->finished || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	message = g_strdup_printf("package transfer failed after %" G_GUINT64_FORMAT
	                          " of %" G_GUINT64_FORMAT " bytes: %s",
	                          sent, self->record->file_size, error->message);
	job_fail(self, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, JOB_UNSET, message);
}

static void
start_stream(FotaJob *self)
{
	AtChannel *channel = modem_get_channel(self->modem);
	AtStreamSource source = {
	        .fd = self->fd,
	        .length = self->record->file_size,
	        .pacing = {.paced = self->config->flow == SERIAL_FLOW_NONE,
	                   .rate = self->config->paced_rate,
	                   .max_write = 32},
	};

	if (self->streaming || self->fd < 0 || channel == NULL)
		return;
	if (self->qfotadl_in_flight) {
		self->stream_wanted = TRUE; /* the channel streams once no command is pending */
		return;
	}
	if (lseek(self->fd, 0, SEEK_SET) < 0) {
		g_autofree char *message =
		        g_strdup_printf("cannot rewind the package: %s", g_strerror(errno));
		job_fail(self, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, JOB_UNSET, message);
		return;
	}
	g_message("Job %s: streaming %" G_GUINT64_FORMAT " bytes (%s)", self->record->id,
	          self->record->file_size, source.pacing.paced ? "paced" : "hardware flow control");
	self->streaming = TRUE;
	at_channel_stream(channel, &source, stream_progress, self, self->cancellable, stream_done,
	                  g_object_ref(self));
}

/* What a URC means for the waits; the record itself is job-progress.c's. */
static void
after_urc(FotaJob *self, const QindFota *qind, JobProgressChange change)
{
	const JobRecord *r = self->record;

	if (r->state != FOTA_STATE_DOWNLOADING)
		return;
	if ((change & JOB_PROGRESS_DL_STARTED) && qind->kind == QIND_STAGE_FILESTART &&
	    r->source_kind == FOTA_SOURCE_FILE)
		start_stream(self);
	if (change & JOB_PROGRESS_DL_DONE) {
		/* mode 1: START follows at once; the download phase is over */
		timer_stop(&self->phase);
		self->phase_kind = PHASE_NONE;
	}
	arm_gap_wait(self, r->download_done);
}

static void
on_urc(Modem *modem, const char *line, gpointer user_data)
{
	FotaJob *self = user_data;
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
	if ((self->qfotadl_in_flight || self->unconfirmed) && !self->record->accepted) {
		qfotadl_accepted(self);
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
on_verify_read(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FotaJob) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ModemInfo) info = modem_identify_finish(FOTA_MODEM(source), result, &error);
	g_autofree char *message = NULL;

	if (self->record->state != FOTA_STATE_VERIFYING)
		return; /* cancelled, or the port went away: "lost" took over */
	if (info == NULL) {
		message = g_strdup_printf("cannot read the revision after the update: %s",
		                          error->message);
		job_fail(self, FOTA_DBUS_ERROR_MODEM_ERROR, JOB_UNSET, message);
		return;
	}
	job_progress_verify(self->record, info->revision, g_get_real_time());
	job_after_change(self, FOTA_STATE_VERIFYING, JOB_PROGRESS_STATE);
}

/* The port is back and the modem identified: did the update happen? */
static void
handle_return(FotaJob *self)
{
	const ModemInfo *info = modem_get_info(self->modem);
	JobRecord *r = self->record;
	g_autofree char *message = NULL;

	g_free(r->port);
	r->port = g_strdup(info->port_identity);
	if (!r->download_done && !job_progress_revision_changed(r, info->revision)) {
		message = g_strdup_printf("the download was interrupted; the modem still reports "
		                          "%s; safe to start again",
		                          info->revision);
		job_fail(self, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, JOB_UNSET, message);
		return;
	}
	if (r->options.upgrade_mode == 0 && !job_progress_revision_changed(r, info->revision)) {
		/* Mode 0 upgrades after this reboot, perhaps silently: wait for
		 * the next reboot or the update deadline, which now means the
		 * update did not take. */
		job_enter(self, FOTA_STATE_UPDATING);
		message = r->options.expected_revision
		                  ? g_strdup_printf("modem reports %s, expected %s", info->revision,
		                                    r->options.expected_revision)
		                  : g_strdup_printf(
		                            "modem still reports %s after the update (was %s)",
		                            info->revision, r->from_revision);
		timer_set_verdict(&self->phase, FOTA_DBUS_ERROR_VERIFY_FAILED,
		                  g_steal_pointer(&message));
		return;
	}
	timer_stop(&self->wait);
	job_enter(self, FOTA_STATE_VERIFYING);
	/* The verdict rests on a read of its own, made in the verifying state,
	 * so that a restart landing here reads the revision again. */
	modem_identify(self->modem, self->cancellable, on_verify_read, g_object_ref(self));
}

static void
on_ready(Modem *modem, gpointer user_data)
{
	FotaJob *self = user_data;

	switch (self->record->state) {
	case FOTA_STATE_UPDATING:
		/* Mode 1 updates with the port up: only a return after a loss
		 * counts, or a revision that already changed (the update ended
		 * and the modem rebooted while the daemon was not running). */
		if (self->record->options.upgrade_mode == 1 && !self->saw_lost &&
		    !job_progress_revision_changed(self->record,
		                                   modem_get_info(self->modem)->revision))
			return;
		G_GNUC_FALLTHROUGH;
	case FOTA_STATE_REBOOTING:
	case FOTA_STATE_VERIFYING:
		handle_return(self);
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
	return self->stream_complete || self->record->percent == 100;
}

static void
on_lost(Modem *modem, gpointer user_data)
{
	FotaJob *self = user_data;
	const JobRecord *r = self->record;

	self->saw_lost = TRUE;
	switch (r->state) {
	case FOTA_STATE_PREPARING:
		job_fail(self, FOTA_DBUS_ERROR_MODEM_ERROR, JOB_UNSET,
		         "the modem port vanished while preparing");
		break;
	case FOTA_STATE_DOWNLOADING:
		if (!r->download_done && !package_delivered(self)) {
			job_fail(self, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, JOB_UNSET,
			         "the modem port vanished during the download");
			break;
		}
		if (!r->download_done) {
			/* The modem reboots only after a complete download; its
			 * last URCs can die with the port. The revision decides. */
			g_message("Job %s: port lost after the whole package was delivered; "
			          "assuming the modem took it",
			          r->id);
			self->record->download_done = TRUE;
		}
		/* mode 1 rebooting before we saw START/END */
		G_GNUC_FALLTHROUGH;
	case FOTA_STATE_UPDATING:
	case FOTA_STATE_VERIFYING:
		job_enter(self, FOTA_STATE_REBOOTING);
		break;
	default:
		break;
	}
}

static void
connect_modem(FotaJob *self)
{
	g_signal_connect(self->modem, "urc", G_CALLBACK(on_urc), self);
	g_signal_connect(self->modem, "ready", G_CALLBACK(on_ready), self);
	g_signal_connect(self->modem, "lost", G_CALLBACK(on_lost), self);
}

/* ---- public ---- */

void
fota_job_start(FotaJob *self)
{
	const ModemInfo *info = modem_get_info(self->modem);

	if (info != NULL) {
		g_free(self->record->port);
		self->record->port = g_strdup(info->port_identity);
	}
	connect_modem(self);
	self->record->started_us = g_get_real_time();
	self->prepare = prepare_commands(self->record, self->config);
	job_enter(self, FOTA_STATE_PREPARING);
	prepare_next(self);
}

/* A job the modem accepted goes on where the record says, host reboot or
 * not: a modem that kept its power goes on too, one that lost it stays
 * silent and the state's deadline ends the job. Only what the daemon itself
 * was doing (preparing, streaming a file) cannot go on. */
static void
resume_from_state(FotaJob *self, const char *interruption)
{
	JobRecord *r = self->record;
	g_autofree char *message = NULL;

	switch (r->state) {
	case FOTA_STATE_IDLE:
	case FOTA_STATE_PREPARING:
		if (r->source_kind != FOTA_SOURCE_FILE) {
			/* AT+QFOTADL may have gone out just before the restart: a
			 * modem that took it says so with its first URC. */
			self->unconfirmed = TRUE;
			timer_arm(&self->wait, self->config->timeouts.first_urc_ms,
			          FOTA_DBUS_ERROR_MODEM_ERROR,
			          "interrupted by %s before the modem accepted the job, and it "
			          "reported no download within %g s; nothing was changed; safe "
			          "to start again",
			          interruption, secs(self->config->timeouts.first_urc_ms));
			return;
		}
		message = g_strdup_printf("interrupted by %s before the modem accepted the job; "
		                          "nothing was changed; safe to start again",
		                          interruption);
		job_fail(self, FOTA_DBUS_ERROR_MODEM_ERROR, JOB_UNSET, message);
		return;
	case FOTA_STATE_DOWNLOADING:
		if (r->source_kind == FOTA_SOURCE_FILE && !r->download_done) {
			message = g_strdup_printf("package transfer was interrupted by %s; the "
			                          "modem discards partial packages; safe to start "
			                          "again",
			                          interruption);
			job_fail(self, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, JOB_UNSET, message);
			return;
		}
		/* the modem downloads on its own: follow its URCs */
		on_enter_state(self, FOTA_STATE_IDLE);
		arm_gap_wait(self, r->download_done);
		return;
	case FOTA_STATE_UPDATING:
		arm_update_phase(self, r->state_since_us);
		if (modem_is_ready(self->modem))
			on_ready(self->modem, self); /* it may have finished meanwhile */
		return;
	case FOTA_STATE_REBOOTING:
	case FOTA_STATE_VERIFYING:
		arm_reboot_wait(self);
		if (modem_is_ready(self->modem) && r->state == FOTA_STATE_VERIFYING)
			handle_return(self);
		return;
	default:
		return;
	}
}

void
fota_job_resume(FotaJob *self, const char *boot_id)
{
	JobRecord *r = self->record;
	gboolean host_rebooted = g_strcmp0(r->boot_id, boot_id) != 0;

	g_message("Job %s: resuming in state %s%s", r->id, fota_state_to_string(r->state),
	          host_rebooted ? " after a host reboot" : "");
	g_free(r->boot_id);
	r->boot_id = g_strdup(boot_id);
	connect_modem(self);
	resume_from_state(self, host_rebooted ? "a host reboot" : "a daemon restart");
	if (!self->finished)
		job_save(self); /* the new boot id */
}

gboolean
fota_job_cancel(FotaJob *self, GError **error)
{
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
	if (r->state == FOTA_STATE_DOWNLOADING || self->unconfirmed) {
		/* downloading, or (resumed) perhaps downloading unbeknown to us */
		cancel_download(self);
		return TRUE;
	}
	if (self->qfotadl_in_flight) {
		/* The modem may be starting: the reply decides how to stop it. */
		self->cancel_requested = TRUE;
		return TRUE;
	}
	job_cancelled(self, "cancelled before the modem was asked to download");
	return TRUE;
}

static void
reset_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = at_channel_command_finish(AT_CHANNEL(source), result, &error);
	/* the modem resetting before its OK is the expected outcome */
	if (g_error_matches(error, AT_ERROR, AT_ERROR_PORT_LOST))
		g_debug("AT+CFUN=1,1 after a cancel: %s", error->message);
	else if (error != NULL)
		g_warning("AT+CFUN=1,1 after a cancel: %s", error->message);
}

/* FILE mode: stop sending; the modem drops a partial package after its own
 * timeout (FILEEND,500, ignored). A network download cannot be stopped by
 * any documented command, so the modem is reset (AT+CFUN=1,1) and starts
 * clean with its old firmware. */
static void
cancel_download(FotaJob *self)
{
	AtChannel *channel = modem_get_channel(self->modem);

	if (self->record->source_kind == FOTA_SOURCE_FILE) {
		job_cancelled(self, "cancelled; the modem discards the partial package");
		return;
	}
	if (channel != NULL)
		at_channel_command(channel, "AT+CFUN=1,1", self->config->timeouts.command_ms, NULL,
		                   reset_reply, NULL);
	job_cancelled(self, "cancelled; the modem was reset (AT+CFUN=1,1) to abandon the download");
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
fota_job_new(JobRecord *record, int package_fd, Modem *modem, const FotadConfig *config,
             JobStore *store)
{
	FotaJob *self = g_object_new(FOTA_TYPE_JOB, NULL);

	self->record = record;
	self->fd = package_fd;
	self->modem = g_object_ref(modem);
	self->config = config;
	self->store = store;
	self->finished = fota_state_is_final(record->state);
	return self;
}

static void
fota_job_dispose(GObject *object)
{
	FotaJob *self = FOTA_JOB(object);

	if (self->modem != NULL)
		job_cleanup(self);
	g_clear_object(&self->modem);
	G_OBJECT_CLASS(fota_job_parent_class)->dispose(object);
}

static void
fota_job_finalize(GObject *object)
{
	FotaJob *self = FOTA_JOB(object);

	g_clear_pointer(&self->prepare, g_ptr_array_unref);
	g_clear_object(&self->cancellable);
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
	self->wait.job = self;
	self->phase.job = self;
	self->record = NULL;
}
