/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "job-machine.h"

#include "job-progress.h"

/* Percent updates are saved at most this often (or every this many points):
 * a restart resumes from the state, the percent is only for show. */
#define PERSIST_INTERVAL_US  (5 * G_USEC_PER_SEC)
#define PERSIST_PERCENT_STEP 10

/* Where the job is in its talk with the modem; the record's state says
 * where the upgrade is. */
typedef enum {
	STEP_WAIT_PORT,         /* new job: waiting for the port (lease, or its return) */
	STEP_IDENTIFY,          /* reading the modem's identity and revision */
	STEP_PREPARE,           /* a command of the prepare table on the wire */
	STEP_QFOTADL,           /* AT+QFOTADL on the wire */
	STEP_QFOTADL_FILESTART, /* ... and FILESTART overtook its reply */
	STEP_QFOTADL_CANCEL,    /* ... and Cancel was asked meanwhile */
	STEP_WAIT_START,        /* accepted; waiting for the first URC (FILESTART) */
	STEP_STREAMING,         /* the package is being written */
	STEP_SENT,              /* every byte written; FILEEND pending */
	STEP_FOLLOW,            /* the modem works on its own: download, update */
	STEP_UNCONFIRMED,       /* resumed: AT+QFOTADL may have gone out, no reply seen */
	STEP_RETURN,            /* the port went away: waiting for it to come back */
	STEP_WATCH,             /* back with the old revision: watching for more */
	STEP_DATA_END,          /* waiting for the modem to leave FILE data mode */
	STEP_RESET,             /* AT+CFUN=1,1 sent to settle the truth; waiting for the return */
	STEP_READ,              /* reading the revision for the verdict */
	STEP_DONE,
} JobStep;

static const char *const step_names[] = {
        [STEP_WAIT_PORT] = "waiting for the port",
        [STEP_IDENTIFY] = "identifying the modem",
        [STEP_PREPARE] = "preparing",
        [STEP_QFOTADL] = "sending AT+QFOTADL",
        [STEP_QFOTADL_FILESTART] = "sending AT+QFOTADL (FILESTART seen)",
        [STEP_QFOTADL_CANCEL] = "sending AT+QFOTADL (cancel asked)",
        [STEP_WAIT_START] = "waiting for the modem to start",
        [STEP_STREAMING] = "streaming the package",
        [STEP_SENT] = "package sent, waiting for FILEEND",
        [STEP_FOLLOW] = "following the modem",
        [STEP_UNCONFIRMED] = "waiting for a sign the modem took the job",
        [STEP_RETURN] = "waiting for the modem to come back",
        [STEP_WATCH] = "watching the modem after its return",
        [STEP_DATA_END] = "waiting for the modem to leave FILE data mode",
        [STEP_RESET] = "resetting the modem to read its revision",
        [STEP_READ] = "reading the modem's revision",
        [STEP_DONE] = "done",
};

/* What the wait timer means when it fires. */
typedef enum {
	WAIT_NONE,
	WAIT_PORT,        /* preparing: the port must become usable */
	WAIT_FIRST_URC,   /* accepted: the first +QIND is due */
	WAIT_GAP,         /* downloading: progress is due */
	WAIT_UNCONFIRMED, /* resumed preparing: a sign the modem took AT+QFOTADL */
	WAIT_RETURN,      /* the port went away: it must come back */
	WAIT_WATCH,       /* back unchanged: the modem may go on */
	WAIT_DATA_END,    /* FILE data mode must end */
	WAIT_RESET,       /* the reset's return */
	WAIT_READ,        /* the revision read */
} WaitKind;

typedef enum {
	PHASE_NONE,
	PHASE_DOWNLOAD,
	PHASE_UPDATE,
} PhaseKind;

struct _JobMachine {
	JobRecord *record;
	JobMachineConfig config;
	JobStep step;
	guint prepare_index;
	WaitKind wait;
	PhaseKind phase;
	JobClaim claim;
	gboolean holds_port;
	gboolean port_ready;   /* between PORT_READY and PORT_LOST */
	gboolean data_mode;    /* the modem may count what we send as package bytes */
	gboolean stream_out;   /* a stream is running */
	gboolean reset_failed; /* a settling reset was refused: the modem is writing flash */
	gboolean reset_sent;   /* the settling reset went out; its return is awaited */
	gboolean cancelling;   /* the reset is a cancel's: its outcome is "cancelled" */
	char *command;         /* the command on the wire, for messages */
	gboolean resumed;
	const char *interruption; /* resumed: "a daemon restart" or "a host reboot" */
	FotaDBusError settle_code;
	char *settle_why; /* why the job resets the modem to read its revision */

	gint64 now_us, boot_us; /* of the event being fed */
	gint64 saved_boot_us;
	guint saved_percent;

	JobAction actions[JOB_MACHINE_MAX_ACTIONS];
	guint n_actions;
};

static void verdict_unknown(JobMachine *m, FotaDBusError code, const char *why);
static void settle_over(JobMachine *m);

static double
secs(gint64 ms)
{
	return ms / 1000.0;
}

/* ---- actions ---- */

static JobAction *
act(JobMachine *m, JobActionKind kind)
{
	JobAction *a;

	g_assert(m->n_actions < JOB_MACHINE_MAX_ACTIONS);
	a = &m->actions[m->n_actions++];
	*a = (JobAction){.kind = kind};
	return a;
}

static void
clear_actions(JobMachine *m)
{
	for (guint i = 0; i < m->n_actions; i++)
		g_free(m->actions[i].command);
	m->n_actions = 0;
}

static void
send(JobMachine *m, char *command)
{
	g_assert(!m->data_mode);
	g_free(m->command);
	m->command = g_strdup(command);
	act(m, JOB_ACTION_SEND)->command = command;
}

static void
arm(JobMachine *m, JobTimer timer, gint64 ms)
{
	JobAction *a = act(m, JOB_ACTION_ARM);

	a->timer = timer;
	a->ms = MAX(0, ms);
}

static void
arm_wait(JobMachine *m, WaitKind kind, gint64 ms)
{
	m->wait = kind;
	arm(m, JOB_TIMER_WAIT, ms);
}

static void
disarm(JobMachine *m, JobTimer timer)
{
	if (timer == JOB_TIMER_WAIT)
		m->wait = WAIT_NONE;
	else
		m->phase = PHASE_NONE;
	act(m, JOB_ACTION_DISARM)->timer = timer;
}

static void
save(JobMachine *m)
{
	act(m, JOB_ACTION_SAVE);
	m->saved_boot_us = m->boot_us;
	m->saved_percent = m->record->percent;
}

/* What is left of @total_ms of a wait that began when the record entered
 * its state: on CLOCK_BOOTTIME, so that a wall-clock step changes nothing;
 * a record from another boot (or an older daemon) waits the whole time. */
static gint64
remaining_ms(JobMachine *m, gint64 total_ms)
{
	const JobRecord *r = m->record;
	gint64 elapsed_ms;

	if (r->state_since_boot_us <= 0 || r->state_since_boot_us > m->boot_us)
		return total_ms;
	elapsed_ms = (m->boot_us - r->state_since_boot_us) / 1000;
	return MAX(0, total_ms - elapsed_ms);
}

/* ---- the record changes here, and is announced ---- */

static void
announce(JobMachine *m, JobProgressChange change)
{
	const JobRecord *r = m->record;
	gboolean important =
	        change & (JOB_PROGRESS_STATE | JOB_PROGRESS_DL_DONE | JOB_PROGRESS_END);
	guint delta = r->percent > m->saved_percent ? r->percent - m->saved_percent
	                                            : m->saved_percent - r->percent;
	gboolean percent_due = delta >= PERSIST_PERCENT_STEP ||
	                       m->boot_us - m->saved_boot_us >= PERSIST_INTERVAL_US;

	/* persist first, then tell: a client that saw a state can rely on a
	 * restart finding it */
	if (important || ((change & JOB_PROGRESS_PERCENT) && percent_due))
		save(m);
	if (change & (JOB_PROGRESS_STATE | JOB_PROGRESS_PERCENT))
		act(m, JOB_ACTION_NOTIFY);
	if (fota_state_is_final(r->state) && m->step != STEP_DONE) {
		m->step = STEP_DONE;
		m->wait = WAIT_NONE;
		m->phase = PHASE_NONE;
		if (m->stream_out)
			act(m, JOB_ACTION_STOP_STREAM);
		act(m, JOB_ACTION_FINISH);
	}
}

static void
record_state_entered(JobMachine *m)
{
	m->record->state_since_boot_us = m->boot_us;
}

static void on_enter_state(JobMachine *m);

static void
after_change(JobMachine *m, FotaState old, JobProgressChange change)
{
	if (m->record->state != old) {
		record_state_entered(m);
		if (!fota_state_is_final(m->record->state))
			on_enter_state(m);
	}
	announce(m, change);
}

static void
enter(JobMachine *m, FotaState state)
{
	FotaState old = m->record->state;

	if (job_progress_set_state(m->record, state, m->now_us))
		after_change(m, old, JOB_PROGRESS_STATE);
}

/* What a verdict says about the firmware ends its message, in one place. */
static char *
with_claim(JobClaim claim, const char *what)
{
	switch (claim) {
	case JOB_CLAIM_UNCHANGED:
		return g_strdup_printf("%s; the firmware is unchanged; safe to start again", what);
	case JOB_CLAIM_UNKNOWN:
		return g_strdup_printf("%s; the outcome is unknown: read the modem's revision "
		                       "(fotactl info) once it answers before starting again",
		                       what);
	default:
		return g_strdup(what);
	}
}

/* Every failure the job concludes ends here. */
static void
finish_failed(JobMachine *m, FotaDBusError code, gint modem_code, JobClaim claim, const char *what)
{
	FotaState old = m->record->state;
	g_autofree char *message = NULL;

	if (fota_state_is_final(old))
		return;
	message = with_claim(claim, what);
	m->claim = claim;
	job_progress_fail(m->record, code, modem_code, message, m->now_us);
	after_change(m, old, JOB_PROGRESS_STATE);
}

static void
finish_cancelled(JobMachine *m, const char *message)
{
	FotaState old = m->record->state;

	m->claim = JOB_CLAIM_UNCHANGED;
	job_progress_cancel(m->record, message, m->now_us);
	after_change(m, old, JOB_PROGRESS_STATE);
}

static void on_return(JobMachine *m, const char *revision);

/* The revision read for the verdict: the record's own rule decides. */
static void
conclude_from_revision(JobMachine *m, const char *revision)
{
	JobRecord *r = m->record;
	FotaState old = r->state;
	gboolean changed = job_progress_revision_changed(r, revision);
	g_autofree char *what = NULL;

	g_free(r->to_revision);
	r->to_revision = g_strdup(revision);
	if (r->from_revision == NULL && r->options.expected_revision == NULL && r->end_code != 0) {
		/* the record lost the revision before the job (a save that
		 * failed): nothing to compare with */
		what = g_strdup_printf("the modem runs %s, and the revision it ran before the job "
		                       "was not recorded",
		                       revision);
		verdict_unknown(m, FOTA_DBUS_ERROR_VERIFY_FAILED, what);
		return;
	}
	if (!changed && m->cancelling) {
		/* a modem that held the whole package may still update after
		 * the reset: watch before saying "cancelled" */
		m->reset_sent = FALSE;
		on_return(m, revision);
		return;
	}
	if (!changed && m->settle_why != NULL) {
		what = g_strdup_printf("%s; after a reset the modem runs %s", m->settle_why,
		                       revision);
		finish_failed(m, m->settle_code, JOB_UNSET, JOB_CLAIM_UNCHANGED, what);
		return;
	}
	if (!changed && r->end_code != 0) {
		/* no END,0 yet: the modem may still go on (it showed progress
		 * while the job looked) */
		on_return(m, revision);
		return;
	}
	if (r->from_revision == NULL && r->options.expected_revision == NULL) {
		/* END,0 and back: the modem's own word, with the revision it runs */
		g_free(r->message);
		r->message = g_strdup_printf("the modem reported END,0 and runs %s", revision);
		g_clear_pointer(&r->error, g_free);
		m->claim = JOB_CLAIM_UPGRADED;
		job_progress_set_state(r, FOTA_STATE_SUCCEEDED, m->now_us);
		after_change(m, old, JOB_PROGRESS_STATE);
		return;
	}
	job_progress_verify(r, revision, m->now_us);
	if (r->state == FOTA_STATE_SUCCEEDED)
		m->claim = JOB_CLAIM_UPGRADED;
	else
		m->claim = changed ? JOB_CLAIM_CHANGED : JOB_CLAIM_UNCHANGED;
	after_change(m, old, JOB_PROGRESS_STATE);
}

/* ---- the waits of each state ---- */

static gint64
port_wait_ms(JobMachine *m)
{
	return m->config.bounds.port;
}

static void
arm_update_phase(JobMachine *m, gint64 ms)
{
	if (m->phase == PHASE_UPDATE)
		return; /* one deadline for the whole update, across its reboots */
	m->phase = PHASE_UPDATE;
	arm(m, JOB_TIMER_PHASE, ms);
}

/* Progress is expected while downloading when the modem reports it or the
 * host streams; a silent network download (download-urc-max 0) is only
 * bounded by the whole download timeout. */
static void
arm_gap_wait(JobMachine *m)
{
	const JobRecord *r = m->record;

	if (r->source_kind != FOTA_SOURCE_FILE && r->options.download_urc_max == 0 &&
	    !r->download_done) {
		if (m->wait == WAIT_GAP || m->wait == WAIT_FIRST_URC)
			disarm(m, JOB_TIMER_WAIT);
		return;
	}
	arm_wait(m, WAIT_GAP, m->config.bounds.urc_gap);
}

static void
on_enter_state(JobMachine *m)
{
	switch (m->record->state) {
	case FOTA_STATE_DOWNLOADING:
		m->phase = PHASE_DOWNLOAD;
		arm(m, JOB_TIMER_PHASE, remaining_ms(m, m->config.bounds.download));
		break;
	case FOTA_STATE_REBOOTING:
		if (m->phase == PHASE_DOWNLOAD || m->record->end_code == 0)
			disarm(m, JOB_TIMER_PHASE); /* mode 0 after the download, or the update is
			                               over */
		m->step = STEP_RETURN;
		arm_wait(m, WAIT_RETURN, remaining_ms(m, m->config.bounds.reboot));
		break;
	case FOTA_STATE_UPDATING:
		if (m->wait != WAIT_WATCH)
			disarm(m, JOB_TIMER_WAIT);
		arm_update_phase(m, remaining_ms(m, m->config.bounds.update));
		break;
	default:
		break;
	}
}

/* ---- settling: when sight is lost, make the truth observable ---- */

static void
send_reset(JobMachine *m)
{
	g_assert(!m->data_mode);
	m->step = STEP_RESET;
	m->reset_sent = TRUE;
	m->record->reset_us = m->now_us;
	m->record->reset_boot_us = m->boot_us;
	act(m, JOB_ACTION_RESET);
	save(m); /* a restart must know a reset was sent */
	arm_wait(m, WAIT_RESET, m->config.bounds.command + m->config.bounds.reboot);
}

/* A deadline passed without the modem showing how the job ended (@code,
 * @why). Whatever it still does, a reset ends a download, and a modem
 * writing flash refuses it; then its revision tells. */
static void
settle(JobMachine *m, FotaDBusError code, const char *why)
{
	g_message("Job %s: %s; looking at the modem", m->record->id, why);
	if (m->reset_failed) {
		verdict_unknown(m, code, why);
		return;
	}
	m->settle_code = code;
	if (why != m->settle_why) { /* settle() again for the same look keeps its words */
		g_free(m->settle_why);
		m->settle_why = g_strdup(why);
	}
	if (m->stream_out)
		act(m, JOB_ACTION_STOP_STREAM);
	if (m->data_mode) {
		/* nothing may be sent before the modem stops counting bytes */
		m->step = STEP_DATA_END;
		arm_wait(m, WAIT_DATA_END, m->config.bounds.file_idle + m->config.bounds.command);
		return;
	}
	if (!m->holds_port || !m->port_ready) {
		/* the reset goes out once the port is ours and back */
		m->step = STEP_RESET;
		arm_wait(m, WAIT_RESET, m->config.bounds.reboot + m->config.bounds.port);
		return;
	}
	send_reset(m);
}

/* The modem showed how it goes on: no verdict of the look stands. */
static void
settle_over(JobMachine *m)
{
	if (m->cancelling)
		g_message("Job %s: the cancel came too late: the modem goes on with the upgrade",
		          m->record->id);
	m->cancelling = FALSE;
	m->reset_sent = FALSE;
	g_clear_pointer(&m->settle_why, g_free);
}

static void
verdict_unknown(JobMachine *m, FotaDBusError code, const char *why)
{
	finish_failed(m, code, JOB_UNSET, JOB_CLAIM_UNKNOWN, why);
}

static void
read_revision(JobMachine *m)
{
	m->step = STEP_READ;
	arm_wait(m, WAIT_READ, m->config.bounds.reboot);
	if (m->holds_port && m->port_ready && !m->data_mode)
		act(m, JOB_ACTION_IDENTIFY);
}

/* ---- preparing: the port, the identity, then a short table ---- */

typedef char *(*PrepareCommandFunc)(const JobRecord *r, const JobMachineConfig *config);

/* FILE mode at full speed needs the modem's own flow control. */
static char *
flow_control_command(const JobRecord *r, const JobMachineConfig *config)
{
	if (r->source_kind != FOTA_SOURCE_FILE || !config->hardware_flow)
		return NULL;
	return g_strdup(config->uart ? "AT+IFC=2,2" : "AT+QCFG=\"usbifc\",2,2");
}

static gboolean
wants_pdp(const JobRecord *r)
{
	return r->source_kind != FOTA_SOURCE_FILE && r->options.cid != JOB_UNSET;
}

static char *
apn_command(const JobRecord *r, const JobMachineConfig *config)
{
	if (!wants_pdp(r) || r->options.apn == NULL)
		return NULL;
	return g_strdup_printf("AT+QICSGP=%d,1,\"%s\",\"\",\"\",1", r->options.cid, r->options.apn);
}

static char *
fota_cid_command(const JobRecord *r, const JobMachineConfig *config)
{
	return wants_pdp(r) ? g_strdup_printf("AT+QCFG=\"fota/cid\",%d", r->options.cid) : NULL;
}

static char *
pdp_activate_command(const JobRecord *r, const JobMachineConfig *config)
{
	return wants_pdp(r) ? g_strdup_printf("AT+QIACT=%d", r->options.cid) : NULL;
}

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

/* In order; an entry that returns NULL does not apply to this job. */
static const PrepareCommandFunc prepare_table[] = {
        flow_control_command,
        apn_command,
        fota_cid_command,
        pdp_activate_command,
};

static void
send_next(JobMachine *m)
{
	while (m->prepare_index < G_N_ELEMENTS(prepare_table)) {
		char *cmd = prepare_table[m->prepare_index++](m->record, &m->config);

		if (cmd != NULL) {
			m->step = STEP_PREPARE;
			send(m, cmd);
			return;
		}
	}
	/* saved before the modem may start: a restart must know we got this far */
	save(m);
	m->step = STEP_QFOTADL;
	send(m, qfotadl_command(m->record));
}

static void
identify_then_prepare(JobMachine *m)
{
	disarm(m, JOB_TIMER_WAIT);
	m->step = STEP_IDENTIFY;
	act(m, JOB_ACTION_IDENTIFY);
}

/* The port went away before AT+QFOTADL: nothing that changes the modem was
 * sent, so preparing starts over once it is back. */
static void
prepare_again(JobMachine *m)
{
	if (m->step == STEP_WAIT_PORT)
		return;
	g_message("Job %s: the modem's port went away while preparing; preparing again once it "
	          "is back",
	          m->record->id);
	m->step = STEP_WAIT_PORT;
	m->prepare_index = 0;
	arm_wait(m, WAIT_PORT, port_wait_ms(m));
}

/* A refused or failed command before AT+QFOTADL, or AT+QFOTADL refused:
 * the modem took nothing. */
static void
command_failed(JobMachine *m, const JobEvent *e)
{
	const char *command = m->command ? m->command : "a command";
	g_autofree char *what = NULL;
	FotaDBusError code = FOTA_DBUS_ERROR_MODEM_ERROR;
	JobClaim claim = JOB_CLAIM_UNCHANGED;

	switch (e->failure) {
	case JOB_FAILURE_TIMEOUT:
		code = FOTA_DBUS_ERROR_TIMEOUT;
		what = g_strdup_printf("modem did not answer %s within %g s", command,
		                       secs(m->config.bounds.command));
		break;
	case JOB_FAILURE_REFUSED:
		what = g_strdup_printf("modem refused %s", e->text);
		break;
	default:
		what = g_strdup_printf("%s failed: %s", command,
		                       e->text ? e->text : "unknown error");
		break;
	}
	finish_failed(m, code, JOB_UNSET, claim, what);
}

/* ---- downloading ---- */

static void
start_stream(JobMachine *m)
{
	if (m->step == STEP_QFOTADL) {
		/* the port streams only once no command is pending */
		m->step = STEP_QFOTADL_FILESTART;
		return;
	}
	if (m->step != STEP_WAIT_START)
		return;
	m->step = STEP_STREAMING;
	m->stream_out = TRUE;
	act(m, JOB_ACTION_STREAM);
	arm_gap_wait(m);
}

static void cancel_download(JobMachine *m);

/* The modem took AT+QFOTADL: its OK, or a FOTA URC that overtook the OK
 * (@reply_pending). */
static void
qfotadl_accepted(JobMachine *m, gboolean reply_pending)
{
	JobRecord *r = m->record;
	gboolean cancel_now = m->step == STEP_QFOTADL_CANCEL;

	r->accepted = TRUE;
	if (r->source_kind == FOTA_SOURCE_FILE && !m->data_mode) {
		m->data_mode = TRUE;
		act(m, JOB_ACTION_DATA_MODE);
	}
	if (!reply_pending)
		m->step = r->source_kind == FOTA_SOURCE_FILE ? STEP_WAIT_START : STEP_FOLLOW;
	enter(m, FOTA_STATE_DOWNLOADING);
	if (cancel_now) {
		cancel_download(m);
		return;
	}
	arm_wait(m, WAIT_FIRST_URC, m->config.bounds.first_urc);
}

static void
on_qfotadl_reply(JobMachine *m, const JobEvent *e)
{
	const JobRecord *r = m->record;

	if (r->accepted) {
		/* its first +QIND overtook this reply; a FILESTART among them
		 * waited for the port to be free */
		gboolean stream = m->step == STEP_QFOTADL_FILESTART;

		m->step = r->source_kind == FOTA_SOURCE_FILE ? STEP_WAIT_START : STEP_FOLLOW;
		if (stream)
			start_stream(m);
		return;
	}
	if (e->failure == JOB_FAILURE_NONE) {
		qfotadl_accepted(m, FALSE);
		return;
	}
	if (e->failure == JOB_FAILURE_REFUSED) {
		if (m->step == STEP_QFOTADL_CANCEL)
			finish_cancelled(m, "cancelled; the modem refused the download anyway");
		else
			command_failed(m, e);
		return;
	}
	/* No answer, or the port went away: the modem may have taken it (and,
	 * in FILE mode, be waiting for bytes). */
	if (r->source_kind == FOTA_SOURCE_FILE && !m->data_mode) {
		m->data_mode = TRUE;
		act(m, JOB_ACTION_DATA_MODE);
	}
	if (e->failure == JOB_FAILURE_PORT_GONE) {
		m->step = STEP_RETURN;
		arm_wait(m, WAIT_RETURN, m->config.bounds.reboot);
		return;
	}
	m->step = STEP_UNCONFIRMED;
	settle(m,
	       e->failure == JOB_FAILURE_TIMEOUT ? FOTA_DBUS_ERROR_TIMEOUT
	                                         : FOTA_DBUS_ERROR_MODEM_ERROR,
	       "AT+QFOTADL got no answer; whether the modem took it is not known yet");
}

static void
on_stream_done(JobMachine *m, const JobEvent *e)
{
	g_autofree char *what = NULL;
	gboolean running = m->step == STEP_STREAMING;

	m->stream_out = FALSE;
	if (m->cancelling && e->failure != JOB_FAILURE_NONE) {
		finish_cancelled(m, "cancelled before the last byte; the modem discards the "
		                    "partial package");
		return;
	}
	if (e->failure == JOB_FAILURE_NONE) {
		/* a restart must know the modem may have the whole package */
		g_free(m->record->sent_sha256);
		m->record->sent_sha256 = g_strdup(e->text);
		save(m);
		if (m->cancelling) {
			g_message("Job %s: the cancel came too late: every byte was sent",
			          m->record->id);
			m->cancelling = FALSE;
			running = TRUE;
		}
		if (running) {
			m->step = STEP_SENT;
			arm_gap_wait(m); /* now FILEEND */
		}
		return;
	}
	if (!running || e->failure == JOB_FAILURE_PORT_GONE)
		return; /* stopped on purpose, or the port's loss takes over */
	/* the modem never got the last byte: the stream withholds it */
	m->step = STEP_FOLLOW;
	if (e->failure == JOB_FAILURE_CHANGED)
		what = g_strdup_printf("package changed while it was being sent: %s", e->text);
	else
		what = g_strdup_printf("package transfer failed %s", e->text);
	finish_failed(m, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, JOB_UNSET, JOB_CLAIM_UNCHANGED, what);
}

/* ---- URCs ---- */

static void
after_download_urc(JobMachine *m, const QindFota *q, JobProgressChange change)
{
	const JobRecord *r = m->record;

	if (q->kind == QIND_STAGE_FILEEND && m->step == STEP_STREAMING) {
		/* the modem ended the transfer (early, or its FILEEND overtook
		 * our last write's completion): nothing more goes to it */
		g_message("Job %s: FILEEND from the modem: sending no more", r->id);
		act(m, JOB_ACTION_STOP_STREAM);
		m->step = STEP_FOLLOW;
	}
	if ((change & JOB_PROGRESS_DL_STARTED) && q->kind == QIND_STAGE_FILESTART &&
	    r->source_kind == FOTA_SOURCE_FILE)
		start_stream(m);
	else if ((change & JOB_PROGRESS_DL_STARTED) && m->step == STEP_WAIT_START)
		m->step = STEP_FOLLOW;
	if (change & JOB_PROGRESS_DL_DONE) {
		/* mode 1: START follows at once; the download phase is over */
		disarm(m, JOB_TIMER_PHASE);
		m->step = STEP_FOLLOW;
	}
	if (r->state == FOTA_STATE_DOWNLOADING)
		arm_gap_wait(m);
}

/* A FOTA URC while the job watches: the modem goes on. */
static void
sight_regained(JobMachine *m)
{
	if (m->step != STEP_WATCH && m->step != STEP_RETURN && m->step != STEP_DATA_END &&
	    m->step != STEP_UNCONFIRMED)
		return;
	m->step = STEP_FOLLOW;
	if (m->wait == WAIT_WATCH || m->wait == WAIT_DATA_END || m->wait == WAIT_UNCONFIRMED ||
	    m->wait == WAIT_RETURN)
		disarm(m, JOB_TIMER_WAIT);
	settle_over(m);
}

/* The modem's own END or *END code ended the job: it says the firmware
 * stays as it was. */
static void
ended_by_the_modem(JobMachine *m, const QindFota *q, FotaState old, JobProgressChange change)
{
	JobRecord *r = m->record;
	g_autofree char *what = NULL;

	m->claim = JOB_CLAIM_UNCHANGED;
	if (m->resumed && q->kind == QIND_STAGE_FILEEND && r->sent_sha256 == NULL)
		what = g_strdup_printf("the package transfer was interrupted by %s; the modem "
		                       "discarded the partial package (FILEEND,%" G_GINT64_FORMAT
		                       ")",
		                       m->interruption, q->value);
	else
		what = g_steal_pointer(&r->message);
	g_free(r->message);
	r->message = with_claim(JOB_CLAIM_UNCHANGED, what);
	after_change(m, old, change);
}

/* A URC while the job resets the modem or reads its revision: kept in the
 * record without touching the look's own wait; a cancel that meets the end
 * of the download or the update came too late. */
static void
on_urc_while_looking(JobMachine *m, const QindFota *q)
{
	JobRecord *r = m->record;
	FotaState old = r->state;
	JobProgressChange change = job_progress_apply(r, q, m->now_us);

	if (change == JOB_PROGRESS_NONE)
		return;
	if (fota_state_is_final(r->state)) {
		ended_by_the_modem(m, q, old, change);
		return;
	}
	if (r->state != old)
		record_state_entered(m);
	/* download progress sent before the reset took effect says nothing
	 * new; the end of the download or the update does */
	if (r->state != old || (change & (JOB_PROGRESS_DL_DONE | JOB_PROGRESS_END)))
		settle_over(m);
	announce(m, change);
}

static void
on_urc(JobMachine *m, const QindFota *q)
{
	JobRecord *r = m->record;
	FotaState old;
	JobProgressChange change;

	if (m->step == STEP_RESET || m->step == STEP_READ) {
		/* looking already: what the modem says still counts, and the
		 * revision read decides the rest */
		on_urc_while_looking(m, q);
		return;
	}
	if (!r->accepted) {
		/* OK and the first +QIND arrive back to back, and some modems
		 * send the URC first: a FOTA URC while AT+QFOTADL is on the
		 * wire, or may have been, means the modem took it */
		if (m->step == STEP_QFOTADL || m->step == STEP_QFOTADL_CANCEL)
			qfotadl_accepted(m, TRUE);
		else if (m->step == STEP_UNCONFIRMED || m->step == STEP_RETURN ||
		         m->step == STEP_WATCH || m->step == STEP_DATA_END)
			qfotadl_accepted(m, FALSE);
		else
			return;
		if (m->step == STEP_DONE)
			return;
	}
	if (q->kind == QIND_STAGE_FILEEND)
		m->data_mode = FALSE; /* the modem listens to commands again */
	old = r->state;
	change = job_progress_apply(r, q, m->now_us);
	if (change == JOB_PROGRESS_NONE)
		return;
	sight_regained(m);
	if (fota_state_is_final(r->state)) {
		ended_by_the_modem(m, q, old, change);
		return;
	}
	if (r->state == FOTA_STATE_DOWNLOADING || (change & JOB_PROGRESS_DL_DONE))
		after_download_urc(m, q, change);
	after_change(m, old, change);
}

/* ---- the port lost and back ---- */

static void
on_port_lost(JobMachine *m)
{
	JobRecord *r = m->record;

	m->port_ready = FALSE;
	m->data_mode = FALSE; /* a reboot ends FILE data mode */
	if (m->stream_out)
		act(m, JOB_ACTION_STOP_STREAM);
	switch (m->step) {
	case STEP_WAIT_PORT:
	case STEP_IDENTIFY:
	case STEP_PREPARE:
		prepare_again(m);
		return;
	case STEP_RESET:
		/* the reset happening: the revision once it is back */
		arm_wait(m, WAIT_RESET, m->config.bounds.reboot);
		return;
	case STEP_READ:
		arm_wait(m, WAIT_READ, m->config.bounds.reboot);
		return;
	case STEP_DONE:
		return;
	default:
		break;
	}
	if (!r->accepted) {
		/* AT+QFOTADL may have reached the modem: look once it is back */
		m->step = STEP_RETURN;
		arm_wait(m, WAIT_RETURN, m->config.bounds.reboot);
		return;
	}
	/* Lost sight: the modem reboots after a complete download (mode 0),
	 * after its update, in the middle of one, or it crashed; or only its
	 * tty went away. The revision, once it is back, tells. */
	if (r->state == FOTA_STATE_REBOOTING) {
		m->step = STEP_RETURN;
		arm_wait(m, WAIT_RETURN, m->config.bounds.reboot);
		return;
	}
	enter(m, FOTA_STATE_REBOOTING);
}

/* The modem is back with @revision; the old one means: not yet, or not. */
static void
on_return(JobMachine *m, const char *revision)
{
	JobRecord *r = m->record;

	if (job_progress_revision_changed(r, revision) || r->end_code == 0) {
		/* changed, or the modem said END,0 and its revision must show it */
		enter(m, FOTA_STATE_VERIFYING);
		read_revision(m);
		return;
	}
	/* The modem may go on: the update after a mode-0 reboot (perhaps
	 * silently), START after its tty came back, the rest of an update
	 * interrupted by a reboot. Watch for as long as that may take. */
	m->step = STEP_WATCH;
	if (r->download_done || r->options.upgrade_mode == 0) {
		if (r->state != FOTA_STATE_UPDATING && r->download_done)
			enter(m, FOTA_STATE_UPDATING);
		if (m->wait != WAIT_NONE)
			disarm(m, JOB_TIMER_WAIT);
		if (r->download_done) {
			/* the update's own deadline bounds the watch */
			arm_update_phase(m, remaining_ms(m, m->config.bounds.update));
			return;
		}
		arm_wait(m, WAIT_WATCH, m->config.bounds.update);
		return;
	}
	arm_wait(m, WAIT_WATCH, m->config.bounds.first_urc);
}

static void
on_port_ready(JobMachine *m, const char *revision)
{
	JobRecord *r = m->record;

	m->port_ready = TRUE;
	m->data_mode = FALSE;
	if (revision == NULL)
		return;
	switch (m->step) {
	case STEP_WAIT_PORT:
		if (m->holds_port)
			identify_then_prepare(m);
		return;
	case STEP_RESET:
		/* back after the reset, or back before it could go out */
		if (m->reset_sent)
			read_revision(m);
		else if (m->holds_port)
			send_reset(m);
		return;
	case STEP_RETURN:
	case STEP_DATA_END:
		on_return(m, revision);
		return;
	case STEP_WATCH:
	case STEP_FOLLOW:
		/* back without our seeing it leave (an open UART), or a
		 * resumed job: only a new revision tells something */
		if (job_progress_revision_changed(r, revision)) {
			enter(m, FOTA_STATE_VERIFYING);
			read_revision(m);
		}
		return;
	case STEP_READ:
		if (m->holds_port)
			act(m, JOB_ACTION_IDENTIFY);
		return;
	default:
		return;
	}
}

static void
on_port_granted(JobMachine *m)
{
	/* a lease is granted only while the modem listens: the port is there
	 * and the modem is out of data mode */
	m->holds_port = TRUE;
	m->port_ready = TRUE;
	m->data_mode = FALSE;
	switch (m->step) {
	case STEP_WAIT_PORT:
		identify_then_prepare(m);
		return;
	case STEP_DATA_END:
		settle(m, m->settle_code, m->settle_why);
		return;
	case STEP_RESET:
		if (!m->reset_sent)
			send_reset(m);
		return;
	case STEP_READ:
		act(m, JOB_ACTION_IDENTIFY);
		return;
	default:
		return;
	}
}

static void
on_identified(JobMachine *m, const JobEvent *e)
{
	JobRecord *r = m->record;
	g_autofree char *what = NULL;

	if (m->step == STEP_IDENTIFY) {
		if (e->failure == JOB_FAILURE_PORT_GONE) {
			prepare_again(m);
			return;
		}
		if (e->failure != JOB_FAILURE_NONE) {
			what = g_strdup_printf("cannot identify the modem before the upgrade: %s",
			                       e->text);
			finish_failed(m, FOTA_DBUS_ERROR_MODEM_ERROR, JOB_UNSET,
			              JOB_CLAIM_UNCHANGED, what);
			return;
		}
		g_free(r->from_revision);
		r->from_revision = g_strdup(e->revision);
		g_free(r->port);
		r->port = g_strdup(e->port);
		send_next(m);
		return;
	}
	if (m->step != STEP_READ)
		return;
	if (e->failure == JOB_FAILURE_PORT_GONE)
		return; /* PORT_LOST re-arms the wait; PORT_READY reads again */
	if (e->failure != JOB_FAILURE_NONE) {
		what = g_strdup_printf("cannot read the modem's revision: %s", e->text);
		verdict_unknown(m, FOTA_DBUS_ERROR_MODEM_ERROR, what);
		return;
	}
	g_free(r->port);
	r->port = g_strdup(e->port);
	conclude_from_revision(m, e->revision);
}

static void
on_reply(JobMachine *m, const JobEvent *e)
{
	g_autofree char *what = NULL;

	switch (m->step) {
	case STEP_PREPARE:
		if (e->failure == JOB_FAILURE_PORT_GONE)
			prepare_again(m);
		else if (e->failure != JOB_FAILURE_NONE)
			command_failed(m, e);
		else
			send_next(m);
		return;
	case STEP_QFOTADL:
	case STEP_QFOTADL_FILESTART:
	case STEP_QFOTADL_CANCEL:
		on_qfotadl_reply(m, e);
		return;
	case STEP_RESET:
		if (e->failure == JOB_FAILURE_REFUSED) {
			/* a modem writing flash refuses to reset: it is updating */
			g_message("Job %s: the modem refused the reset: it is updating",
			          m->record->id);
			settle_over(m);
			m->reset_failed = TRUE;
			m->step = STEP_WATCH;
			disarm(m, JOB_TIMER_WAIT);
			if (m->record->state != FOTA_STATE_UPDATING) {
				m->phase = PHASE_NONE;
				enter(m, FOTA_STATE_UPDATING);
			} else {
				m->phase = PHASE_NONE;
				arm_update_phase(m, m->config.bounds.update);
			}
			return;
		}
		if (e->failure == JOB_FAILURE_TIMEOUT) {
			what = g_strdup_printf("%s; the modem did not answer AT+CFUN=1,1",
			                       m->settle_why);
			verdict_unknown(m, m->settle_code, what);
		}
		/* OK, or the port going away: the modem resets */
		return;
	default:
		return;
	}
}

/* ---- deadlines ---- */

static void
on_wait_timer(JobMachine *m)
{
	const JobBounds *b = &m->config.bounds;
	WaitKind kind = m->wait;
	g_autofree char *why = NULL;

	m->wait = WAIT_NONE;
	switch (kind) {
	case WAIT_PORT:
		finish_failed(m, FOTA_DBUS_ERROR_NO_MODEM, JOB_UNSET, JOB_CLAIM_UNCHANGED,
		              "the modem's port did not become usable in time; AT+QFOTADL was not "
		              "sent");
		return;
	case WAIT_FIRST_URC:
		why = g_strdup_printf("no +QIND from the modem within %g s after AT+QFOTADL",
		                      secs(b->first_urc));
		settle(m, FOTA_DBUS_ERROR_TIMEOUT, why);
		return;
	case WAIT_GAP:
		why = g_strdup_printf("no progress from the modem for %g s while downloading",
		                      secs(b->urc_gap));
		settle(m, FOTA_DBUS_ERROR_TIMEOUT, why);
		return;
	case WAIT_UNCONFIRMED:
		why = g_strdup_printf("interrupted by %s before the modem accepted the job, and it "
		                      "reported nothing within %g s",
		                      m->interruption, secs(b->first_urc));
		settle(m, FOTA_DBUS_ERROR_MODEM_ERROR, why);
		return;
	case WAIT_RETURN:
		why = g_strdup_printf("modem did not come back within %g s", secs(b->reboot));
		verdict_unknown(m, FOTA_DBUS_ERROR_TIMEOUT, why);
		return;
	case WAIT_WATCH:
		if (m->cancelling) {
			why = g_strdup_printf(
			        "cancelled; the modem was reset (AT+CFUN=1,1) to abandon "
			        "the download and runs %s",
			        m->record->to_revision);
			finish_cancelled(m, why);
			return;
		}
		why = g_strdup_printf(
		        "the modem came back with its old revision and showed no "
		        "upgrade for %g s",
		        secs(m->record->options.upgrade_mode == 0 ? b->update : b->first_urc));
		settle(m,
		       m->record->accepted ? FOTA_DBUS_ERROR_DOWNLOAD_FAILED
		                           : FOTA_DBUS_ERROR_MODEM_ERROR,
		       why);
		return;
	case WAIT_DATA_END:
		/* the modem's own FILE timeout has passed: it listens again */
		m->data_mode = FALSE;
		settle(m, m->settle_code, m->settle_why);
		return;
	case WAIT_RESET:
		why = g_strdup_printf("%s; the modem did not come back after a reset within %g s",
		                      m->settle_why, secs(b->reboot));
		verdict_unknown(m, m->settle_code, why);
		return;
	case WAIT_READ:
		why = g_strdup_printf("cannot read the modem's revision within %g s",
		                      secs(b->reboot));
		verdict_unknown(m, FOTA_DBUS_ERROR_TIMEOUT, why);
		return;
	case WAIT_NONE:
		return;
	}
}

static void
on_phase_timer(JobMachine *m)
{
	PhaseKind kind = m->phase;
	g_autofree char *why = NULL;

	m->phase = PHASE_NONE;
	if (m->step == STEP_RESET || m->step == STEP_READ || m->step == STEP_DATA_END)
		return; /* already looking */
	if (kind == PHASE_DOWNLOAD)
		why = g_strdup_printf("the download did not finish within %g s",
		                      secs(m->config.bounds.download));
	else
		why = g_strdup_printf("the update did not finish within %g s",
		                      secs(m->config.bounds.update));
	settle(m, FOTA_DBUS_ERROR_TIMEOUT, why);
}

/* ---- cancel ---- */

/* FILE mode: stop sending; the modem drops a partial package after its own
 * timeout (FILEEND,500), unless the last byte was already out, which the
 * stream's end tells. A network download cannot be stopped by any
 * documented command, so the modem is reset (AT+CFUN=1,1); a modem writing
 * flash refuses, and one that already had the whole package may update
 * after the reset: the verdict waits for what the modem shows. */
static void
cancel_download(JobMachine *m)
{
	m->cancelling = TRUE;
	if (m->record->source_kind == FOTA_SOURCE_FILE) {
		if (!m->stream_out) {
			finish_cancelled(m, "cancelled before the first byte; the modem drops the "
			                    "transfer after its own timeout");
			return;
		}
		act(m, JOB_ACTION_STOP_STREAM);
		return;
	}
	settle(m, FOTA_DBUS_ERROR_TIMEOUT, "cancelled");
}

const char *
job_machine_cannot_cancel(JobMachine *m)
{
	const JobRecord *r = m->record;

	if (m->step == STEP_DONE)
		return "no job is running";
	if (m->cancelling)
		return "the job is being cancelled";
	if (r->download_done || r->state > FOTA_STATE_DOWNLOADING || m->step == STEP_SENT ||
	    r->percent == 100)
		return "the modem has accepted the whole package and is writing flash; the upgrade "
		       "cannot be cancelled";
	if (r->source_kind == FOTA_SOURCE_FILE && r->accepted && !m->stream_out &&
	    m->step != STEP_WAIT_START && m->step != STEP_QFOTADL_FILESTART)
		return "the package is no longer being sent: the modem's own FILEEND decides; the "
		       "upgrade cannot be cancelled";
	if (m->step == STEP_RESET || m->step == STEP_READ || m->step == STEP_WATCH ||
	    m->step == STEP_RETURN || m->step == STEP_DATA_END)
		return "the job is reading the modem's outcome; the upgrade cannot be cancelled";
	return NULL;
}

static void
on_cancel(JobMachine *m)
{
	const JobRecord *r = m->record;

	if (job_machine_cannot_cancel(m) != NULL)
		return;
	g_message("Job %s: cancel requested in state %s", r->id, fota_state_to_string(r->state));
	switch (m->step) {
	case STEP_QFOTADL:
	case STEP_QFOTADL_FILESTART:
		if (r->accepted)
			break; /* a URC said so before the reply: stop the download */
		/* the modem may be starting: the reply decides how to stop it */
		m->step = STEP_QFOTADL_CANCEL;
		return;
	case STEP_QFOTADL_CANCEL:
		return;
	case STEP_WAIT_PORT:
	case STEP_IDENTIFY:
	case STEP_PREPARE:
		finish_cancelled(m, "cancelled before the modem was asked to download");
		return;
	default:
		break;
	}
	/* downloading, or (resumed) perhaps downloading unbeknown to us */
	cancel_download(m);
}

/* ---- start and resume ---- */

static void
on_start(JobMachine *m)
{
	JobRecord *r = m->record;

	if (r->started_us == 0)
		r->started_us = m->now_us;
	record_state_entered(m);
	m->step = STEP_WAIT_PORT;
	announce(m, JOB_PROGRESS_STATE); /* preparing, as the record was written */
	arm_wait(m, WAIT_PORT, port_wait_ms(m));
	act(m, JOB_ACTION_ACQUIRE);
}

/* A job the modem may have accepted goes on where the record says, and
 * where the record may be behind, the modem is asked. */
static void
on_resume(JobMachine *m, const JobEvent *e)
{
	JobRecord *r = m->record;
	gboolean transfer_open =
	        r->source_kind == FOTA_SOURCE_FILE && r->sent_sha256 == NULL &&
	        (r->state == FOTA_STATE_PREPARING || r->state == FOTA_STATE_DOWNLOADING);
	gboolean boot_changed = g_strcmp0(r->boot_id, e->boot_id) != 0;

	m->resumed = TRUE;
	m->interruption = boot_changed ? "a host reboot" : "a daemon restart";
	if (boot_changed)
		record_state_entered(m); /* the waits start afresh */
	g_free(r->boot_id);
	r->boot_id = g_strdup(e->boot_id); /* what the saved waits count in */
	m->port_ready = e->revision != NULL;
	act(m, JOB_ACTION_ACQUIRE);
	if (transfer_open) {
		/* the daemon stopped while the modem may have been counting
		 * bytes, perhaps after the last one: its FILEEND tells */
		g_autofree char *why = g_strdup_printf(
		        "the package transfer was interrupted by %s and the modem did not say "
		        "whether it got the whole package",
		        m->interruption);

		m->data_mode = TRUE;
		act(m, JOB_ACTION_DATA_MODE);
		m->settle_code = FOTA_DBUS_ERROR_DOWNLOAD_FAILED;
		m->settle_why = g_strdup(why);
		m->step = STEP_DATA_END;
		arm_wait(m, WAIT_DATA_END, m->config.bounds.file_idle + m->config.bounds.command);
		if (r->state == FOTA_STATE_DOWNLOADING) {
			m->phase = PHASE_DOWNLOAD;
			arm(m, JOB_TIMER_PHASE, remaining_ms(m, m->config.bounds.download));
		}
		save(m);
		return;
	}
	switch (r->state) {
	case FOTA_STATE_IDLE:
	case FOTA_STATE_PREPARING:
		/* AT+QFOTADL may have gone out just before the restart: a modem
		 * that took it says so with its first URC */
		m->step = STEP_UNCONFIRMED;
		arm_wait(m, WAIT_UNCONFIRMED, m->config.bounds.first_urc);
		break;
	case FOTA_STATE_DOWNLOADING:
		m->step = r->source_kind == FOTA_SOURCE_FILE ? STEP_SENT : STEP_FOLLOW;
		on_enter_state(m);
		arm_gap_wait(m);
		break;
	case FOTA_STATE_UPDATING:
		m->step = STEP_FOLLOW;
		arm_update_phase(m, remaining_ms(m, m->config.bounds.update));
		break;
	case FOTA_STATE_REBOOTING:
		/* the daemon has only just started: the port gets the whole
		 * bound to be found and opened before anything is concluded */
		m->step = STEP_RETURN;
		arm_wait(m, WAIT_RETURN, m->config.bounds.reboot);
		break;
	case FOTA_STATE_VERIFYING:
		read_revision(m);
		break;
	default:
		return;
	}
	save(m); /* the new boot id */
	if (e->revision != NULL && m->step != STEP_READ)
		on_port_ready(m, e->revision);
}

/* The value from before the job's first start is what goes back: a later
 * one (a resumed job finds the device "on") never replaces it. */
static void
on_usb_power(JobMachine *m, const char *previous)
{
	if (previous == NULL || m->record->usb_power_previous != NULL)
		return;
	m->record->usb_power_previous = g_strdup(previous);
	save(m);
}

/* ---- public ---- */

void
job_machine_feed(JobMachine *m, const JobEvent *e)
{
	clear_actions(m);
	if (m->step == STEP_DONE)
		return;
	m->now_us = e->now_us;
	m->boot_us = e->boot_us;
	switch (e->kind) {
	case JOB_EVENT_START:
		on_start(m);
		break;
	case JOB_EVENT_RESUME:
		on_resume(m, e);
		break;
	case JOB_EVENT_PORT_GRANTED:
		on_port_granted(m);
		break;
	case JOB_EVENT_IDENTIFIED:
		on_identified(m, e);
		break;
	case JOB_EVENT_OPTIONS_UNFIT:
		if (m->step == STEP_IDENTIFY)
			finish_failed(m, FOTA_DBUS_ERROR_NOT_SUPPORTED, JOB_UNSET,
			              JOB_CLAIM_UNCHANGED, e->text);
		break;
	case JOB_EVENT_REPLY:
		on_reply(m, e);
		break;
	case JOB_EVENT_URC:
		on_urc(m, e->qind);
		break;
	case JOB_EVENT_PORT_LOST:
		on_port_lost(m);
		break;
	case JOB_EVENT_PORT_READY:
		on_port_ready(m, e->revision);
		break;
	case JOB_EVENT_STREAM_SENT:
		if (m->step != STEP_STREAMING)
			break;
		arm_gap_wait(m);
		/* without download URCs the bytes sent are the only measure */
		if (m->record->options.download_urc_max == 0 && e->total > 0) {
			guint percent = (guint)(e->sent * 100 / e->total);

			if (percent != m->record->percent) {
				m->record->percent = percent;
				announce(m, JOB_PROGRESS_PERCENT);
			}
		}
		break;
	case JOB_EVENT_STREAM_DONE:
		on_stream_done(m, e);
		break;
	case JOB_EVENT_TIMER:
		if (e->timer == JOB_TIMER_WAIT)
			on_wait_timer(m);
		else
			on_phase_timer(m);
		break;
	case JOB_EVENT_CANCEL:
		on_cancel(m);
		break;
	case JOB_EVENT_USB_POWER:
		on_usb_power(m, e->text);
		break;
	}
}

const JobAction *
job_machine_actions(JobMachine *m, guint *n_actions)
{
	*n_actions = m->n_actions;
	return m->actions;
}

const JobRecord *
job_machine_record(JobMachine *m)
{
	return m->record;
}

gboolean
job_machine_is_final(JobMachine *m)
{
	return m->step == STEP_DONE;
}

JobClaim
job_machine_claim(JobMachine *m)
{
	return m->claim;
}

gboolean
job_machine_in_data_mode(JobMachine *m)
{
	return m->data_mode;
}

const char *
job_machine_step_name(JobMachine *m)
{
	return step_names[m->step];
}

JobMachine *
job_machine_new(JobRecord *record, const JobMachineConfig *config)
{
	JobMachine *m = g_new0(JobMachine, 1);

	m->record = record;
	m->config = *config;
	m->step = fota_state_is_final(record->state) ? STEP_DONE : STEP_WAIT_PORT;
	return m;
}

void
job_machine_free(JobMachine *m)
{
	if (m == NULL)
		return;
	clear_actions(m);
	job_record_free(m->record);
	g_free(m->settle_why);
	g_free(m->command);
	g_free(m);
}
