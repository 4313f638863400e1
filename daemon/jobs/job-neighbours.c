/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "job-neighbours.h"

#include "job-journal.h"
#include "logind-inhibit.h"
#include "mm-client.h"
#include "usb-power.h"

#define LOCK_WHAT "shutdown:sleep"
#define LOCK_WHO  "quectel-fotad"

struct _FotaJobNeighbours {
	GObject parent;
	const FotadConfig *config;
	FotaModem *modem;
	GCancellable *cancellable; /* every call to a peer; cancelled on dispose */
	GDBusConnection *bus;
	FotaMmClient *mm;

	gboolean job_active; /* from begin until final or abandon */
	gboolean job_port;   /* from begin letting go of ModemManager: the port is the job's */
	char *inhibited_uid; /* InhibitDevice(uid, true) went out, not undone yet */
	char *job_why;       /* the lock's "why" */
	FotaState journaled; /* the state last sent to the journal */

	JobLockMode lock_mode; /* the lock wanted now */
	LogindInhibitor *lock; /* the one held */

	/* The last job's power/control value that could not be written back
	 * (its device away, or refusing), as its record keeps it, and where. */
	char *power_syspath;
	char *power_value;
	gboolean power_taken; /* a beginning job on that device holds it too */

	gboolean mm_manages;  /* the last look found our modem among ModemManager's */
	gboolean owner_known; /* the first look at who has the port between jobs is done */
	gboolean mm_grace;    /* ModemManager (re)appeared or got the modem back: its probe runs */
	guint grace_id;

	gboolean mm_absent_logged;
	gboolean logind_absent_logged;
	gboolean journal_failed_logged;
};

G_DEFINE_TYPE(FotaJobNeighbours, job_neighbours, G_TYPE_OBJECT)

/* ---- pure ---- */

JobLockMode
job_neighbours_lock_mode(const JobRecord *record)
{
	if (fota_state_is_final(record->state) || record->state == FOTA_STATE_IDLE)
		return JOB_LOCK_NONE;
	if (record->download_done || record->state == FOTA_STATE_UPDATING ||
	    record->state == FOTA_STATE_VERIFYING)
		return JOB_LOCK_BLOCK;
	return JOB_LOCK_DELAY;
}

const char *
job_lock_mode_to_string(JobLockMode mode)
{
	switch (mode) {
	case JOB_LOCK_DELAY:
		return "delay";
	case JOB_LOCK_BLOCK:
		return "block";
	default:
		return NULL;
	}
}

char *
job_neighbours_usb_syspath(const char *port_identity)
{
	const char *devpath;

	if (port_identity == NULL || !g_str_has_prefix(port_identity, "usb:"))
		return NULL;
	/* usb:<vid>:<pid>:<devpath>: the devpath starts at the third colon */
	devpath = strchr(port_identity + 4, ':');
	devpath = devpath != NULL ? strchr(devpath + 1, ':') : NULL;
	if (devpath == NULL || devpath[1] != '/' || strstr(devpath, "/..") != NULL)
		return NULL;
	return g_strconcat("/sys", devpath + 1, NULL);
}

/* ---- small helpers ---- */

static gboolean
is_cancelled(const GError *error)
{
	return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* The tty's USB device and kernel name as ModemManager knows them. */
static void
locate(FotaJobNeighbours *self, const JobRecord *record, char **syspath, char **tty)
{
	g_autofree char *identity = NULL;
	g_autofree char *path = modem_locate_port(self->modem, &identity);

	*syspath = job_neighbours_usb_syspath(identity);
	if (*syspath == NULL && record != NULL)
		*syspath = job_neighbours_usb_syspath(record->port);
	/* the USB device names the modem; a configured tty only by its name */
	*tty = path != NULL && *syspath == NULL ? mm_tty_kernel_name(path) : NULL;
}

static void
journal(FotaJobNeighbours *self, JobJournalEvent event, const JobRecord *record,
        const char *message)
{
	const ModemInfo *info = modem_get_info(self->modem);
	g_autoptr(GError) error = NULL;

	if (job_journal_send(event, record, info ? info->port : NULL, message, &error))
		return;
	if (!self->journal_failed_logged)
		g_message("Journal: %s; job events are only logged", error->message);
	self->journal_failed_logged = TRUE;
}

static void
log_mm_error(FotaJobNeighbours *self, const GError *error)
{
	if (!g_error_matches(error, MM_CLIENT_ERROR, MM_CLIENT_ERROR_NOT_RUNNING)) {
		g_warning("%s", error->message);
		return;
	}
	if (!self->mm_absent_logged)
		g_message("ModemManager is not on the bus; nothing to inhibit");
	self->mm_absent_logged = TRUE;
}

/* ---- the idle port: ModemManager's while it manages the modem ---- */

enum { SIGNAL_SETTLED, SIGNAL_POWER_RESTORED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* The one call into the modem about its port: the job's once its begin let
 * go of ModemManager; between jobs ours unless ModemManager lists the modem
 * or may be probing it, and nobody's before the first look. Not asked while
 * a job begins: the port stays as it was until ModemManager let go. */
static void
claim_port(FotaJobNeighbours *self)
{
	gboolean ours = self->job_active
	                        ? self->job_port
	                        : self->owner_known && !self->mm_manages && !self->mm_grace;

	modem_set_port_wanted(self->modem, ours);
}

/* The port is asked for before anyone hears that its owner is known. */
static void
owner_now_known(FotaJobNeighbours *self)
{
	if (self->owner_known)
		return;
	self->owner_known = TRUE;
	claim_port(self);
	g_signal_emit(self, signals[SIGNAL_SETTLED], 0);
}

gboolean
job_neighbours_is_settled(FotaJobNeighbours *self)
{
	return self->owner_known;
}

static void
idle_found(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MmModem) found =
	        mm_client_find_modem_finish(FOTA_MM_CLIENT(source), result, &error);
	FotaJobNeighbours *self = user_data;

	if (is_cancelled(error))
		return;
	/* a job that began meanwhile has the port: the question is answered */
	if (self->job_active) {
		owner_now_known(self);
		return;
	}
	if (error != NULL)
		g_warning("%s", error->message);
	if (found != NULL && !self->mm_manages)
		g_message("ModemManager manages the modem (%s): the port is left to it between "
		          "jobs",
		          found->object_path);
	self->mm_manages = found != NULL;
	if (self->owner_known)
		claim_port(self);
	else
		owner_now_known(self);
}

/* Between jobs: the port is ModemManager's while it lists the modem, or
 * while its probe may still be running. */
static void
idle_decide(FotaJobNeighbours *self)
{
	g_autofree char *syspath = NULL;
	g_autofree char *tty = NULL;

	if (self->job_active || self->mm == NULL)
		return;
	locate(self, NULL, &syspath, &tty);
	mm_client_find_modem(self->mm, syspath, tty, self->cancellable, idle_found, self);
}

static gboolean
grace_over(gpointer user_data)
{
	FotaJobNeighbours *self = user_data;

	self->grace_id = 0;
	self->mm_grace = FALSE;
	idle_decide(self);
	return G_SOURCE_REMOVE;
}

/* ModemManager may probe the modem now: leave it the port for a while. */
static void
leave_port_to_mm(FotaJobNeighbours *self)
{
	self->mm_grace = TRUE;
	g_clear_handle_id(&self->grace_id, g_source_remove);
	self->grace_id = g_timeout_add_seconds(JOB_NEIGHBOURS_MM_PROBE_GRACE_S, grace_over, self);
	claim_port(self);
}

static void
on_mm_appeared(FotaMmClient *mm, gpointer user_data)
{
	FotaJobNeighbours *self = user_data;

	self->mm_absent_logged = FALSE;
	if (self->job_active)
		return;
	g_message("ModemManager is on the bus: leaving it the port between jobs");
	leave_port_to_mm(self);
}

static void
on_mm_vanished(FotaMmClient *mm, gpointer user_data)
{
	FotaJobNeighbours *self = user_data;

	g_message("ModemManager left the bus");
	g_clear_handle_id(&self->grace_id, g_source_remove);
	self->mm_grace = FALSE;
	self->mm_manages = FALSE;
	if (!self->job_active)
		claim_port(self);
}

void
job_neighbours_connect(FotaJobNeighbours *self, GDBusConnection *bus)
{
	g_return_if_fail(self->bus == NULL);
	self->bus = g_object_ref(bus);
	self->mm = mm_client_new(bus);
	g_signal_connect(self->mm, "appeared", G_CALLBACK(on_mm_appeared), self);
	g_signal_connect(self->mm, "vanished", G_CALLBACK(on_mm_vanished), self);
	self->owner_known = FALSE;
	/* not a byte before we know whether ModemManager manages the modem */
	claim_port(self);
}

void
job_neighbours_settle(FotaJobNeighbours *self)
{
	if (self->mm == NULL) {
		claim_port(self);
		owner_now_known(self);
	}
	idle_decide(self);
}

/* ---- the logind lock ---- */

static void
lock_taken(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(LogindInhibitor) lock = logind_inhibit_finish(result, &error);
	FotaJobNeighbours *self = user_data;

	if (is_cancelled(error))
		return;
	if (g_error_matches(error, LOGIND_INHIBIT_ERROR, LOGIND_INHIBIT_ERROR_UNAVAILABLE)) {
		if (!self->logind_absent_logged)
			g_message("%s; shutdown and sleep are not inhibited during jobs",
			          error->message);
		self->logind_absent_logged = TRUE;
		return;
	}
	if (error != NULL) {
		g_warning("%s", error->message);
		return;
	}
	/* a later change wants another mode (or none): its own call decides */
	if (g_strcmp0(logind_inhibitor_get_mode(lock), job_lock_mode_to_string(self->lock_mode)) !=
	    0)
		return;
	g_debug("logind: holding a %s lock for %s", logind_inhibitor_get_mode(lock), LOCK_WHAT);
	logind_inhibitor_free(self->lock);
	self->lock = g_steal_pointer(&lock);
}

/* The new lock is taken before the old one goes: no gap. */
static void
lock_update(FotaJobNeighbours *self, const JobRecord *record)
{
	JobLockMode mode = self->job_active ? job_neighbours_lock_mode(record) : JOB_LOCK_NONE;

	if (mode == self->lock_mode)
		return;
	self->lock_mode = mode;
	if (mode == JOB_LOCK_NONE || self->bus == NULL) {
		g_clear_pointer(&self->lock, logind_inhibitor_free);
		return;
	}
	logind_inhibit(self->bus, LOCK_WHAT, LOCK_WHO, self->job_why, job_lock_mode_to_string(mode),
	               self->cancellable, lock_taken, self);
}

/* ---- USB power ---- */

static void
power_forget(FotaJobNeighbours *self)
{
	g_clear_pointer(&self->power_syspath, g_free);
	g_clear_pointer(&self->power_value, g_free);
	self->power_taken = FALSE;
}

/* The value from before the job, taken over from an earlier job that could
 * not write it back: the device may hold our "on" now, and the new record
 * replaces the one that keeps it on disk. */
static char *
power_take_over(FotaJobNeighbours *self, const JobRecord *record, const char *syspath)
{
	if (self->power_value == NULL || record->usb_power_previous != NULL ||
	    g_strcmp0(self->power_syspath, syspath) != 0)
		return NULL;
	self->power_taken = TRUE;
	return g_strdup(self->power_value);
}

/* Returns: (transfer full): the value @record is to keep, NULL when it
 * keeps one (a resumed job keeps the value from before its first start)
 * or none was read */
static char *
power_on(FotaJobNeighbours *self, const JobRecord *record, const char *syspath)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *taken = NULL;
	g_autofree char *previous = NULL;

	if (syspath == NULL)
		return NULL;
	taken = power_take_over(self, record, syspath);
	previous = usb_power_force_on(syspath, &error);
	if (previous == NULL)
		g_warning("USB power: %s", error->message);
	if (taken != NULL)
		return g_steal_pointer(&taken);
	return record->usb_power_previous == NULL ? g_steal_pointer(&previous) : NULL;
}

/* Writes @record's value back: to the modem's USB device now, else to the
 * one of the record's port (@syspath, NULL when neither is known). TRUE when
 * there was nothing to write. */
static gboolean
power_restore(FotaJobNeighbours *self, const JobRecord *record, char **syspath, GError **error)
{
	g_autofree char *tty = NULL;

	if (record == NULL || record->usb_power_previous == NULL)
		return TRUE;
	locate(self, record, syspath, &tty);
	if (*syspath == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "cannot write \"%s\" back to power/control: no USB device for port %s",
		            record->usb_power_previous, record->port ? record->port : "(none)");
		return FALSE;
	}
	return usb_power_restore(*syspath, record->usb_power_previous, error);
}

/* A final job's value: written back, or kept here to be tried again when
 * the modem's port returns, as its record keeps it for the next start. */
static gboolean
power_restore_final(FotaJobNeighbours *self, const JobRecord *record)
{
	g_autofree char *syspath = NULL;
	g_autoptr(GError) error = NULL;

	/* what was kept here is this record's value, from an earlier try */
	power_forget(self);
	if (power_restore(self, record, &syspath, &error))
		return TRUE;
	g_warning("USB power: %s; job %s keeps \"%s\" in its record until it is written back",
	          error->message, record->id, record->usb_power_previous);
	if (syspath != NULL) {
		self->power_syspath = g_steal_pointer(&syspath);
		self->power_value = g_strdup(record->usb_power_previous);
	}
	return FALSE;
}

/* The last job's value is on the device now: its record may drop it. */
static void
power_restored(FotaJobNeighbours *self)
{
	power_forget(self);
	g_signal_emit(self, signals[SIGNAL_POWER_RESTORED], 0);
}

/* The port is back and answers, so is its USB device: the value its absence
 * kept is written back now. Never during a job: its device stays "on". */
static void
on_modem_ready(FotaModem *modem, gpointer user_data)
{
	FotaJobNeighbours *self = user_data;
	g_autoptr(GError) error = NULL;

	if (self->job_active || self->power_value == NULL)
		return;
	if (usb_power_restore(self->power_syspath, self->power_value, &error)) {
		g_message("USB power: \"%s\" written back to %s now that the modem is back",
		          self->power_value, self->power_syspath);
		power_restored(self);
	} else {
		g_warning("USB power: %s; tried again when the port returns or at the next start",
		          error->message);
	}
}

/* ---- a job begins ---- */

typedef struct {
	FotaJobNeighbours *self; /* alive while a call runs: dispose cancels them */
	GTask *task;             /* holds self; NULL once returned */
	guint timeout_id;
	char *uid;
} BeginCall;

/* The port is ours now: ModemManager let go of it, is not there, or did
 * not answer in time. */
static void
begin_return(BeginCall *call)
{
	GTask *task = g_steal_pointer(&call->task);

	g_clear_handle_id(&call->timeout_id, g_source_remove);
	if (task == NULL)
		return;
	if (call->self->job_active) {
		call->self->job_port = TRUE;
		claim_port(call->self);
	}
	g_task_return_boolean(task, TRUE);
	g_object_unref(task);
}

/* The calls to ModemManager are over (they own the call). */
static void
begin_end(BeginCall *call)
{
	begin_return(call);
	g_free(call->uid);
	g_free(call);
}

static gboolean
begin_timeout(gpointer user_data)
{
	BeginCall *call = user_data;

	call->timeout_id = 0;
	g_warning("ModemManager did not answer within %.1f s; the job goes on",
	          JOB_NEIGHBOURS_BEGIN_TIMEOUT_MS / 1000.0);
	begin_return(call);
	return G_SOURCE_REMOVE;
}

static void uninhibit(FotaJobNeighbours *self, char *uid);

/* Takes @uid. */
static void
inhibited(FotaJobNeighbours *self, char *uid, const GError *error)
{
	if (error != NULL) {
		log_mm_error(self, error);
		g_free(uid);
	} else if (!self->job_active) {
		uninhibit(self, uid); /* the job ended meanwhile */
	} else {
		g_message("ModemManager: inhibited %s for the job", uid);
		g_free(self->inhibited_uid);
		self->inhibited_uid = uid;
	}
}

static void
begin_inhibited(GObject *source, GAsyncResult *result, gpointer user_data)
{
	BeginCall *call = user_data;
	g_autoptr(GError) error = NULL;

	mm_client_inhibit_finish(FOTA_MM_CLIENT(source), result, &error);
	if (!is_cancelled(error))
		inhibited(call->self, g_steal_pointer(&call->uid), error);
	begin_end(call);
}

static void
begin_found(GObject *source, GAsyncResult *result, gpointer user_data)
{
	BeginCall *call = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(MmModem) found =
	        mm_client_find_modem_finish(FOTA_MM_CLIENT(source), result, &error);

	if (is_cancelled(error)) {
		begin_end(call);
		return;
	}
	if (error != NULL)
		log_mm_error(call->self, error);
	/* A modem ModemManager still probes is not listed yet, but its USB
	 * device can be inhibited: that is tried too. */
	if (found != NULL && found->device != NULL) {
		g_free(call->uid);
		call->uid = g_strdup(found->device);
	}
	if (call->uid == NULL) {
		begin_end(call);
		return;
	}
	mm_client_inhibit(call->self->mm, call->uid, TRUE, call->self->cancellable, begin_inhibited,
	                  call);
}

static char *
job_why(const JobRecord *record, const ModemInfo *info)
{
	return g_strdup_printf("Upgrading the firmware of the %s modem%s%s (job %s); a power "
	                       "loss meanwhile can brick it",
	                       info && info->model ? info->model : "Quectel",
	                       info && info->port ? " on " : "", info ? info->port : "",
	                       record->id);
}

char *
job_neighbours_begin(FotaJobNeighbours *self, const JobRecord *record, GAsyncReadyCallback callback,
                     gpointer user_data)
{
	BeginCall *call = g_new0(BeginCall, 1);
	g_autofree char *tty = NULL;
	g_autofree char *usb_power = NULL;

	call->self = self;
	call->task = g_task_new(self, NULL, callback, user_data);
	self->job_active = TRUE;
	owner_now_known(self); /* the job's, from now on */
	self->journaled = record->state;
	g_clear_handle_id(&self->grace_id, g_source_remove);
	self->mm_grace = FALSE;
	g_free(self->job_why);
	self->job_why = job_why(record, modem_get_info(self->modem));
	locate(self, record, &call->uid, &tty);
	usb_power = power_on(self, record, call->uid);
	lock_update(self, record);
	if (self->mm == NULL) {
		begin_end(call);
	} else {
		call->timeout_id =
		        g_timeout_add(JOB_NEIGHBOURS_BEGIN_TIMEOUT_MS, begin_timeout, call);
		mm_client_find_modem(self->mm, call->uid, tty, self->cancellable, begin_found,
		                     call);
	}
	return g_steal_pointer(&usb_power);
}

void
job_neighbours_begin_finish(FotaJobNeighbours *self, GAsyncResult *result)
{
	g_task_propagate_boolean(G_TASK(result), NULL);
}

/* ---- the journal, and the end of a job ---- */

void
job_neighbours_started(FotaJobNeighbours *self, const JobRecord *record, gboolean resumed)
{
	/* @record replaces the one that kept a value not written back yet */
	if (self->power_value != NULL && !self->power_taken)
		g_warning("USB power: \"%s\" for %s is given up: job %s's record replaces the one "
		          "that kept it",
		          self->power_value, self->power_syspath, record->id);
	power_forget(self);
	self->journaled = record->state;
	journal(self, resumed ? JOB_JOURNAL_RESUMED : JOB_JOURNAL_STARTED, record, NULL);
}

void
job_neighbours_changed(FotaJobNeighbours *self, const JobRecord *record)
{
	if (!self->job_active || fota_state_is_final(record->state))
		return; /* job_neighbours_final() tells */
	if (record->state != self->journaled) {
		self->journaled = record->state;
		journal(self, JOB_JOURNAL_STATE_CHANGED, record, NULL);
	}
	lock_update(self, record);
}

static void
uninhibited(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *uid = user_data;

	if (mm_client_inhibit_finish(FOTA_MM_CLIENT(source), result, &error))
		g_message("ModemManager: released %s", uid);
	else if (!is_cancelled(error))
		g_message("ModemManager: cannot release %s: %s", uid, error->message);
}

/* Takes @uid. */
static void
uninhibit(FotaJobNeighbours *self, char *uid)
{
	mm_client_inhibit(self->mm, uid, FALSE, self->cancellable, uninhibited, uid);
}

/* Undoes job_neighbours_begin() but for the USB power. The port closes
 * before ModemManager may probe: the two never share it. */
static void
release(FotaJobNeighbours *self, const JobRecord *record)
{
	self->job_active = FALSE;
	self->job_port = FALSE;
	lock_update(self, record);
	if (self->mm != NULL && (self->inhibited_uid != NULL || mm_client_is_running(self->mm)))
		leave_port_to_mm(self);
	if (self->inhibited_uid != NULL)
		uninhibit(self, g_steal_pointer(&self->inhibited_uid));
}

static JobJournalEvent
final_event(FotaState state)
{
	switch (state) {
	case FOTA_STATE_SUCCEEDED:
		return JOB_JOURNAL_SUCCEEDED;
	case FOTA_STATE_CANCELLED:
		return JOB_JOURNAL_CANCELLED;
	default:
		return JOB_JOURNAL_FAILED;
	}
}

gboolean
job_neighbours_restore_power(FotaJobNeighbours *self, const JobRecord *record)
{
	return power_restore_final(self, record);
}

gboolean
job_neighbours_final(FotaJobNeighbours *self, const JobRecord *record)
{
	journal(self, final_event(record->state), record, record->message);
	release(self, record);
	return power_restore_final(self, record);
}

/* Its record is not the one on disk: a value it took over stays with the
 * earlier record, dropped from it only once written back. */
void
job_neighbours_abandon(FotaJobNeighbours *self, const JobRecord *record)
{
	g_autofree char *syspath = NULL;
	g_autoptr(GError) error = NULL;

	release(self, record);
	if (!power_restore(self, record, &syspath, &error))
		g_warning("USB power: %s (job %s, never started)", error->message, record->id);
	else if (self->power_taken)
		power_restored(self);
	self->power_taken = FALSE;
}

void
job_neighbours_unreadable(FotaJobNeighbours *self, const char *message)
{
	journal(self, JOB_JOURNAL_RECORD_UNREADABLE, NULL, message);
}

/* ---- GetModemInfo ---- */

/* ModemManager's words, and what only the port tells when it told before. */
static ModemInfo *
info_from_mm(FotaJobNeighbours *self, const MmModem *found)
{
	const ModemInfo *cached = modem_get_info(self->modem);
	ModemInfo *info = g_new0(ModemInfo, 1);

	info->manufacturer = g_strdup(found->manufacturer);
	info->model = g_strdup(found->model);
	info->revision = g_strdup(found->revision);
	info->imei = g_strdup(found->equipment_identifier);
	info->port = modem_locate_port(self->modem, &info->port_identity);
	info->flow = self->config->flow;
	info->kind = at_parse_upgrade_kind(found->model);
	if (cached != NULL && g_strcmp0(cached->model, found->model) == 0) {
		info->qfotadl_ranges = g_strdup(cached->qfotadl_ranges);
		info->ranges_valid = cached->ranges_valid;
		info->ranges = cached->ranges;
	}
	return info;
}

static void
info_from_modem(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	ModemInfo *info = modem_query_info_finish(FOTA_MODEM(source), result, &error);

	if (info != NULL)
		g_task_return_pointer(task, info, (GDestroyNotify)modem_info_free);
	else
		g_task_return_error(task, error);
}

static void
info_found(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(MmModem) found =
	        mm_client_find_modem_finish(FOTA_MM_CLIENT(source), result, &error);
	FotaJobNeighbours *self = g_task_get_source_object(task);
	GCancellable *cancellable = g_task_get_cancellable(task);

	if (found != NULL && !self->job_active) {
		g_task_return_pointer(task, info_from_mm(self, found),
		                      (GDestroyNotify)modem_info_free);
		return;
	}
	modem_query_info(self->modem, cancellable, info_from_modem, g_steal_pointer(&task));
}

void
job_neighbours_query_info(FotaJobNeighbours *self, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	g_autofree char *syspath = NULL;
	g_autofree char *tty = NULL;

	if (self->mm == NULL || self->job_active) {
		modem_query_info(self->modem, cancellable, info_from_modem, task);
		return;
	}
	locate(self, NULL, &syspath, &tty);
	mm_client_find_modem(self->mm, syspath, tty, cancellable, info_found, task);
}

ModemInfo *
job_neighbours_query_info_finish(FotaJobNeighbours *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- the object ---- */

FotaJobNeighbours *
job_neighbours_new(const FotadConfig *config, FotaModem *modem)
{
	FotaJobNeighbours *self = g_object_new(FOTA_TYPE_JOB_NEIGHBOURS, NULL);

	self->config = config;
	self->modem = g_object_ref(modem);
	g_signal_connect(modem, "ready", G_CALLBACK(on_modem_ready), self);
	return self;
}

/* At exit the logind lock goes (its descriptor closes); a running job's
 * inhibition and USB power stay for the next start to take over, and
 * ModemManager drops the inhibition itself when we leave the bus. */
static void
job_neighbours_dispose(GObject *object)
{
	FotaJobNeighbours *self = FOTA_JOB_NEIGHBOURS(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_handle_id(&self->grace_id, g_source_remove);
	g_clear_pointer(&self->lock, logind_inhibitor_free);
	if (self->mm != NULL)
		g_signal_handlers_disconnect_by_data(self->mm, self);
	if (self->modem != NULL)
		g_signal_handlers_disconnect_by_data(self->modem, self);
	g_clear_object(&self->mm);
	g_clear_object(&self->bus);
	g_clear_object(&self->modem);
	G_OBJECT_CLASS(job_neighbours_parent_class)->dispose(object);
}

static void
job_neighbours_finalize(GObject *object)
{
	FotaJobNeighbours *self = FOTA_JOB_NEIGHBOURS(object);

	g_clear_object(&self->cancellable);
	g_free(self->inhibited_uid);
	g_free(self->job_why);
	power_forget(self);
	G_OBJECT_CLASS(job_neighbours_parent_class)->finalize(object);
}

static void
job_neighbours_class_init(FotaJobNeighboursClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = job_neighbours_dispose;
	object_class->finalize = job_neighbours_finalize;
	signals[SIGNAL_SETTLED] =
	        g_signal_new("settled", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_POWER_RESTORED] =
	        g_signal_new("power-restored", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 0);
}

static void
job_neighbours_init(FotaJobNeighbours *self)
{
	self->owner_known = TRUE; /* until a bus brings a ModemManager to ask */
	self->cancellable = g_cancellable_new();
}
