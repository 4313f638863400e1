/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "job-manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fota-dbus-error.h"
#include "fota-job.h"
#include "job-options.h"
#include "job-progress.h"
#include "sha256.h"
#include "fota-limits.h"
#include "url-check.h"

#define HASH_BUFFER_SIZE (64 * 1024)
/* A record that could not be written is tried again this often. */
#define SAVE_RETRY_S 5

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, SIGNAL_LOADED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* Where a Start call is between its request and its job, in order. */
typedef enum {
	START_SETTLING,    /* the daemon does not know yet whether ModemManager has the port */
	START_IDENTIFYING, /* the modem's identity is being read to check the options */
	START_HASHING,     /* a FILE package's sha256 is checked in a thread */
	START_BEGINNING,   /* the neighbours let go of the modem (inhibition, locks, power) */
} StartStage;

static const char *const start_stage_names[] = {
        [START_SETTLING] = "while waiting for the modem",
        [START_IDENTIFYING] = "while waiting for the modem's identity",
        [START_HASHING] = "while the package was being checked",
        [START_BEGINNING] = "before the job began",
};

typedef struct {
	FotaJobManager *manager;
	StartStage stage;
	FotaSourceKind kind;
	char *url;
	int fd;
	guint64 size;
	GVariant *options;
	JobRecord *record; /* once the options are checked */
	JobStartReply reply;
	gpointer reply_data;
	GCancellable *cancellable;
} PendingStart;

struct _FotaJobManager {
	GObject parent;
	const FotadConfig *config;
	FotaModem *modem;
	JobStore *store;
	FotaJobNeighbours *neighbours;
	char *boot_id;

	FotaJob *job;          /* the running job, NULL when none */
	JobRecord *last;       /* the last finished job (or an unreadable record's verdict) */
	PendingStart *pending; /* a Start call not yet a job */
	gulong settled_id;     /* waiting for the neighbours to know who has the port */
	char *storage_error;   /* the last save's failure, NULL after a success */
	guint save_retry_id;
};

G_DEFINE_TYPE(FotaJobManager, job_manager, G_TYPE_OBJECT)

static void pending_free(PendingStart *p);

/* The Cancelled error of a Start call ended at its current stage. */
static GError *
pending_cancelled(const PendingStart *p)
{
	return g_error_new(FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_CANCELLED, "cancelled %s",
	                   start_stage_names[p->stage]);
}

/* ---- saving ---- */

const JobRecord *
job_manager_get_record(FotaJobManager *self)
{
	return self->job != NULL ? fota_job_get_record(self->job) : self->last;
}

static gboolean save_record(FotaJobManager *self, const JobRecord *record);

static gboolean
save_retry(gpointer user_data)
{
	FotaJobManager *self = user_data;
	const JobRecord *r = job_manager_get_record(self);

	if (r == NULL || r->id == NULL || *r->id == '\0' || save_record(self, r)) {
		self->save_retry_id = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
save_record(FotaJobManager *self, const JobRecord *record)
{
	g_autoptr(GError) error = NULL;

	if (job_store_save(self->store, record, &error)) {
		if (self->storage_error != NULL)
			g_message("Job %s: the job record is saved again", record->id);
		g_clear_pointer(&self->storage_error, g_free);
		return TRUE;
	}
	if (g_strcmp0(self->storage_error, error->message) != 0)
		g_warning("Job %s: cannot save the job record: %s; retrying every %d s", record->id,
		          error->message, SAVE_RETRY_S);
	g_free(self->storage_error);
	self->storage_error = g_strdup(error->message);
	if (self->save_retry_id == 0)
		self->save_retry_id = g_timeout_add_seconds(SAVE_RETRY_S, save_retry, self);
	return FALSE;
}

/* Every important change of a running job passes here first. A record
 * the disk refuses is retried every SAVE_RETRY_S (save_retry() writes the
 * job's latest record), and the failure shows in GetJob's storage-error. */
static void
job_save(const JobRecord *record, gpointer user_data)
{
	FotaJobManager *self = user_data;

	job_neighbours_changed(self->neighbours, record);
	save_record(self, record);
}

const char *
job_manager_get_storage_error(FotaJobManager *self)
{
	return self->storage_error;
}

gboolean
job_manager_persist(FotaJobManager *self)
{
	const JobRecord *r = job_manager_get_record(self);

	return r == NULL || r->id == NULL || *r->id == '\0' || save_record(self, r);
}

/* ---- running a job ---- */

static void
on_job_progress(FotaJob *job, gpointer user_data)
{
	g_signal_emit(user_data, signals[SIGNAL_PROGRESS], 0);
}

/* The last job's USB power/control is back: its record stops carrying the
 * value, so that a restart restores it only when this point was never
 * reached (and never overrides a later change by the administrator). A
 * final record is the manager's alone (job-record.h): this is its one
 * change. */
static void
power_restored(FotaJobManager *self)
{
	if (self->last->usb_power_previous == NULL)
		return;
	g_clear_pointer(&self->last->usb_power_previous, g_free);
	save_record(self, self->last);
}

static void
on_job_finished(FotaJob *job, gpointer user_data)
{
	FotaJobManager *self = user_data;

	job_record_free(self->last);
	self->last = job_record_copy(fota_job_get_record(job));
	g_signal_handlers_disconnect_by_data(job, self);
	g_clear_object(&self->job);
	if (job_neighbours_final(self->neighbours, self->last))
		power_restored(self);
	g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
}

/* Written back later: the device had been away at the job's end or start. */
static void
on_power_restored(FotaJobNeighbours *neighbours, gpointer user_data)
{
	FotaJobManager *self = user_data;

	if (self->last != NULL)
		power_restored(self);
}

/* The last job ended, but its "finished" is still on its way: deliver it
 * before the next job begins, so that its end never undoes the next one's
 * beginning. */
static void
flush_finished(FotaJobManager *self)
{
	if (self->job != NULL && fota_job_is_finished(self->job))
		on_job_finished(self->job, self);
}

static void
run_job(FotaJobManager *self, FotaJob *job)
{
	job_record_free(g_steal_pointer(&self->last));
	self->job = job;
	g_signal_connect(job, "progress", G_CALLBACK(on_job_progress), self);
	g_signal_connect(job, "finished", G_CALLBACK(on_job_finished), self);
}

/* ---- checks ---- */

static gboolean
check_not_busy(FotaJobManager *self, GError **error)
{
	if (self->job != NULL && !fota_job_is_finished(self->job)) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_BUSY, "a job is running: %s",
		            fota_job_get_record(self->job)->id);
		return FALSE;
	}
	if (self->pending != NULL) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_BUSY,
		            "another Start call is being checked");
		return FALSE;
	}
	return TRUE;
}

/* NotSupported only for what this modem cannot do (update-urc-max on a
 * delta model); an option that no modem takes from this method (sha256 on
 * StartUrl, cid on StartFile) is the caller's mistake: InvalidArgument. */
static FotaDBusError
options_error_code(GVariant *asv, FotaSourceKind kind, const GError *error)
{
	JobOptions probe;
	gboolean ok_on_fota;

	if (!g_error_matches(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_NOT_SUPPORTED))
		return FOTA_DBUS_ERROR_INVALID_ARGUMENT;
	job_options_init(&probe);
	ok_on_fota = job_options_parse(asv, kind, FOTA_UPGRADE_KIND_FOTA, &probe, NULL);
	job_options_clear(&probe);
	return ok_on_fota ? FOTA_DBUS_ERROR_NOT_SUPPORTED : FOTA_DBUS_ERROR_INVALID_ARGUMENT;
}

/* Against the modem's last identity when there is one; without it (daemon
 * start, a modem still counting an interrupted package) the job checks
 * once it has identified the modem. */
static gboolean
parse_options(GVariant *asv, FotaSourceKind kind, const ModemInfo *info, JobOptions *out,
              GError **error)
{
	g_autoptr(GError) local = NULL;

	job_options_init(out);
	if (!job_options_parse(asv, kind, info ? info->kind : FOTA_UPGRADE_KIND_FOTA, out,
	                       &local) ||
	    (info != NULL &&
	     !job_options_fit_modem(out, info->kind, info->ranges_valid ? &info->ranges : NULL,
	                            info->qfotadl_ranges, &local))) {
		g_set_error_literal(error, FOTA_DBUS_ERROR, options_error_code(asv, kind, local),
		                    local->message);
		return FALSE;
	}
	return TRUE;
}

/* A regular file opened for reading whose first byte can be read (an O_PATH
 * descriptor or a directory cannot), of a size the modem's length field
 * holds. */
static gboolean
check_package(int fd, guint64 *size, GError **error)
{
	struct stat st;
	int flags;
	char byte;

	if (fstat(fd, &st) < 0) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "cannot stat the package: %s", g_strerror(errno));
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "package must be a regular file");
		return FALSE;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || (flags & O_ACCMODE) == O_WRONLY || (flags & O_PATH) != 0) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "package must be opened for reading");
		return FALSE;
	}
	if (st.st_size <= 0 || (guint64)st.st_size > FOTA_PACKAGE_MAX) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "package size must be 1..%" G_GUINT64_FORMAT
		            " bytes (the modem's FILE length), got %" G_GINT64_FORMAT,
		            FOTA_PACKAGE_MAX, (gint64)st.st_size);
		return FALSE;
	}
	if (pread(fd, &byte, 1, 0) != 1) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "cannot read the package: %s", g_strerror(errno));
		return FALSE;
	}
	*size = st.st_size;
	return TRUE;
}

/* ---- starting ---- */

static char *
new_job_id(void)
{
	g_autofree char *uuid = g_uuid_string_random();
	GString *id = g_string_new(NULL);

	for (const char *p = uuid; *p; p++) {
		if (*p != '-')
			g_string_append_c(id, *p);
	}
	return g_string_free(id, FALSE);
}

static JobRecord *
new_record(FotaJobManager *self, const PendingStart *p, const ModemInfo *info, JobOptions *options)
{
	JobRecord *r = job_record_new();

	r->id = new_job_id();
	r->source_kind = p->kind;
	r->source = p->kind == FOTA_SOURCE_FILE
	                    ? g_strdup_printf("file:%" G_GUINT64_FORMAT, p->size)
	                    : g_strdup(p->url);
	r->file_size = p->kind == FOTA_SOURCE_FILE ? p->size : 0;
	job_options_clear(&r->options);
	r->options = *options; /* takes the strings */
	*options = (JobOptions){0};
	r->boot_id = g_strdup(self->boot_id);
	/* without an identity yet, the job reads both before AT+QFOTADL */
	r->port = g_strdup(info ? info->port_identity : NULL);
	r->from_revision = g_strdup(info ? info->revision : NULL);
	r->started_us = g_get_real_time();
	job_progress_set_state(r, FOTA_STATE_PREPARING, r->started_us);
	return r;
}

static void
pending_reply(PendingStart *p, const char *id, const GError *error)
{
	if (error != NULL)
		g_message("%s refused: %s", p->kind == FOTA_SOURCE_FILE ? "StartFile" : "StartUrl",
		          error->message);
	p->reply(id, error, p->reply_data);
}

/* The record is on disk before the job exists: a job the daemon would
 * forget after a restart never starts. */
static void
start_job(FotaJobManager *self, PendingStart *p)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *id = g_strdup(p->record->id);
	FotaJob *job;

	if (!job_store_save(self->store, p->record, &error)) {
		g_autoptr(GError) refusal = NULL;

		job_neighbours_abandon(self->neighbours, p->record);
		refusal = g_error_new(
		        FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_STORAGE_ERROR,
		        "cannot write the job record, so the job was not started and the "
		        "modem was not touched: %s",
		        error->message);
		pending_reply(p, NULL, refusal);
		return;
	}
	g_message("Starting job %s: %s", id, p->record->source);
	job_neighbours_started(self->neighbours, p->record, FALSE);
	job = fota_job_new(g_steal_pointer(&p->record), p->fd, self->modem, self->config, job_save,
	                   self);
	p->fd = -1;
	run_job(self, job);
	/* The reply goes out before the job's first Progress. */
	pending_reply(p, id, NULL);
	fota_job_start(job);
}

static void
hash_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
	PendingStart *p = data;
	struct sha256_ctx sum;
	g_autofree guint8 *buf = g_malloc(HASH_BUFFER_SIZE);
	guint64 offset = 0;

	sha256_init(&sum);
	while (offset < p->size) {
		ssize_t n =
		        pread(p->fd, buf, MIN(HASH_BUFFER_SIZE, p->size - offset), (off_t)offset);

		if (g_task_return_error_if_cancelled(task))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_task_return_new_error(
			        task, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
			        "cannot read the package at byte %" G_GUINT64_FORMAT ": %s", offset,
			        n < 0 ? g_strerror(errno) : "file shrank");
			return;
		}
		sha256_update(&sum, (gsize)n, buf);
		offset += n;
	}
	g_task_return_pointer(task, sha256_finish_hex(&sum), g_free);
}

static void
pending_end(FotaJobManager *self, PendingStart *p, const GError *error)
{
	self->pending = NULL;
	if (error != NULL)
		pending_reply(p, NULL, error);
	else
		start_job(self, p);
	pending_free(p);
}

static void
neighbours_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
	PendingStart *p = user_data;
	g_autoptr(GError) error = NULL;

	job_neighbours_begin_finish(FOTA_JOB_NEIGHBOURS(source), result);
	if (g_cancellable_is_cancelled(p->cancellable)) {
		job_neighbours_abandon(p->manager->neighbours, p->record);
		error = pending_cancelled(p);
	}
	pending_end(p->manager, p, error);
}

/* Checked: the neighbours let go of the modem before the job's first byte. */
static void
pending_done(FotaJobManager *self, PendingStart *p, const GError *error)
{
	if (error != NULL) {
		pending_end(self, p, error);
		return;
	}
	flush_finished(self);
	p->stage = START_BEGINNING;
	/* still the record being built (it keeps none yet): its first save,
	 * before the job exists, keeps the value */
	p->record->usb_power_previous =
	        job_neighbours_begin(self->neighbours, p->record, neighbours_ready, p);
}

static void
hash_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	PendingStart *p = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree char *actual = g_task_propagate_pointer(G_TASK(result), &error);
	const char *expected = p->record->options.sha256;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_clear_error(&error);
		error = pending_cancelled(p);
	} else if (actual != NULL && g_ascii_strcasecmp(actual, expected) != 0) {
		g_set_error(&error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "sha256 mismatch: expected %s, package has %s", expected, actual);
	}
	pending_done(p->manager, p, error);
}

/* Check the options, hash a FILE package that names its sha256, start. */
static void
continue_start(FotaJobManager *self, PendingStart *p, const ModemInfo *info)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GTask) task = NULL;
	JobOptions opts;

	if (!parse_options(p->options, p->kind, info, &opts, &error)) {
		job_options_clear(&opts);
		pending_done(self, p, error);
		return;
	}
	p->record = new_record(self, p, info, &opts);
	if (p->record->options.sha256 == NULL) {
		pending_done(self, p, NULL);
		return;
	}
	p->stage = START_HASHING;
	task = g_task_new(NULL, p->cancellable, hash_done, p);
	g_task_set_task_data(task, p, NULL);
	g_task_run_in_thread(task, hash_thread);
}

GError *
job_manager_modem_error_to_dbus(const GError *error)
{
	g_return_val_if_fail(error != NULL, NULL);
	return g_error_new_literal(FOTA_DBUS_ERROR,
	                           g_error_matches(error, MODEM_ERROR, MODEM_ERROR_ABSENT)
	                                   ? FOTA_DBUS_ERROR_NO_MODEM
	                                   : FOTA_DBUS_ERROR_MODEM_ERROR,
	                           error->message);
}

static void
identified_then_start(GObject *source, GAsyncResult *result, gpointer user_data)
{
	PendingStart *p = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ModemInfo) info = modem_query_info_finish(FOTA_MODEM(source), result, &error);

	if (info != NULL) {
		continue_start(p->manager, p, info);
		return;
	}
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_clear_error(&error);
		error = pending_cancelled(p);
	} else {
		g_autoptr(GError) why = g_steal_pointer(&error);

		error = job_manager_modem_error_to_dbus(why);
	}
	pending_done(p->manager, p, error);
}

/* Checked against the modem's identity: the last one, or one read now
 * (daemon start: the modem is being probed). A modem that may still count
 * an interrupted package's bytes cannot be asked for seconds; the job then
 * checks once it has identified the modem, and the call returns at once
 * with the job waiting in preparing. So does a call while a modem seen
 * before is away rebooting, or while ModemManager has the port. */
static void begin(FotaJobManager *self, PendingStart *p);

/* The daemon has just asked whether ModemManager manages the modem: a Start
 * then waits for the answer, as it waits for the modem's identity. */
static void
on_neighbours_settled(FotaJobNeighbours *neighbours, gpointer user_data)
{
	FotaJobManager *self = user_data;
	PendingStart *p = g_steal_pointer(&self->pending);
	g_autoptr(GError) error = NULL;

	g_clear_signal_handler(&self->settled_id, neighbours);
	if (p == NULL)
		return;
	if (g_cancellable_is_cancelled(p->cancellable)) {
		error = pending_cancelled(p);
		pending_done(self, p, error);
		return;
	}
	begin(self, p);
}

static void
begin(FotaJobManager *self, PendingStart *p)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *why = NULL;

	if (!job_neighbours_is_settled(self->neighbours)) {
		self->pending = p;
		self->settled_id = g_signal_connect(self->neighbours, "settled",
		                                    G_CALLBACK(on_neighbours_settled), self);
		return;
	}
	switch (modem_outlook(self->modem)) {
	case MODEM_OUTLOOK_NONE:
		why = modem_describe_absence(self->modem);
		g_set_error(&error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_NO_MODEM, "%s", why);
		pending_reply(p, NULL, error);
		pending_free(p);
		return;
	case MODEM_OUTLOOK_LATER:
		self->pending = p;
		continue_start(self, p, modem_get_info(self->modem));
		return;
	case MODEM_OUTLOOK_IDENTIFY:
		self->pending = p;
		g_message("Start: %s", modem_busy_reason(self->modem)
		                               ? modem_busy_reason(self->modem)
		                               : "identifying the modem first");
		p->stage = START_IDENTIFYING;
		modem_query_info(self->modem, p->cancellable, identified_then_start, p);
		return;
	}
}

static PendingStart *
pending_new(FotaJobManager *self, FotaSourceKind kind, GVariant *options, JobStartReply reply,
            gpointer user_data)
{
	PendingStart *p = g_new0(PendingStart, 1);

	p->manager = g_object_ref(self); /* its callbacks may outlive a caller's reference */
	p->kind = kind;
	p->fd = -1;
	p->options = options ? g_variant_ref(options) : NULL;
	p->reply = reply;
	p->reply_data = user_data;
	p->cancellable = g_cancellable_new();
	return p;
}

static void
pending_free(PendingStart *p)
{
	if (p->fd >= 0)
		close(p->fd);
	g_free(p->url);
	g_clear_pointer(&p->options, g_variant_unref);
	job_record_free(p->record);
	g_clear_object(&p->cancellable);
	g_object_unref(p->manager);
	g_free(p);
}

void
job_manager_start_url(FotaJobManager *self, const char *url, GVariant *options, JobStartReply reply,
                      gpointer user_data)
{
	PendingStart *p = pending_new(self, FOTA_SOURCE_HTTP, options, reply, user_data);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) local = NULL;

	p->url = g_strdup(url);
	if (check_not_busy(self, &error) && !fota_url_check(url, &p->kind, &local))
		g_set_error_literal(&error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		                    local->message);
	if (error != NULL) {
		pending_reply(p, NULL, error);
		pending_free(p);
		return;
	}
	begin(self, p);
}

void
job_manager_start_file(FotaJobManager *self, int fd, GVariant *options, JobStartReply reply,
                       gpointer user_data)
{
	PendingStart *p = pending_new(self, FOTA_SOURCE_FILE, options, reply, user_data);
	g_autoptr(GError) error = NULL;

	p->fd = fd;
	if (!check_not_busy(self, &error) || !check_package(fd, &p->size, &error)) {
		pending_reply(p, NULL, error);
		pending_free(p);
		return;
	}
	begin(self, p);
}

gboolean
job_manager_cancel(FotaJobManager *self, GError **error)
{
	if (self->job != NULL && !fota_job_is_finished(self->job))
		return fota_job_cancel(self->job, error);
	if (self->pending != NULL) {
		g_message("Cancel: ending a Start call %s",
		          start_stage_names[self->pending->stage]);
		g_cancellable_cancel(self->pending->cancellable);
		return TRUE;
	}
	g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT, "no job is running");
	return FALSE;
}

/* ---- lifecycle ---- */

/* A resumed job waits for the port, which opens once the neighbours let go. */
static void
resume_neighbours_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
	job_neighbours_begin_finish(FOTA_JOB_NEIGHBOURS(source), result);
}

void
job_manager_load(FotaJobManager *self)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *usb_power = NULL;
	JobRecord *record = NULL;

	if (!job_store_load(self->store, &record, &error)) {
		/* Never pretend there was no job: a record existed and says
		 * nothing usable, so the outcome is unknown. */
		g_warning("Job record unreadable: %s", error->message);
		job_neighbours_unreadable(self->neighbours, error->message);
		self->last = job_record_new();
		job_progress_unreadable(self->last, error->message, g_get_real_time());
	} else if (record != NULL && fota_state_is_final(record->state)) {
		self->last = record;
		if (job_neighbours_restore_power(self->neighbours, record))
			power_restored(self);
		/* a cancel's reset may still be on its way (a restart right after) */
		if (record->reset_boot_us != 0 && g_strcmp0(record->boot_id, self->boot_id) == 0)
			modem_expect_reset(
			        self->modem,
			        self->config->timeouts.command_ms -
			                (job_clock_boottime_us() - record->reset_boot_us) / 1000);
	} else if (record != NULL) {
		/* re-inhibited before the port opens: ModemManager ended the
		 * last inhibition when the daemon left the bus */
		job_neighbours_started(self->neighbours, record, TRUE);
		usb_power = job_neighbours_begin(self->neighbours, record, resume_neighbours_ready,
		                                 NULL);
		run_job(self, fota_job_new(record, -1, self->modem, self->config, job_save, self));
	}
	g_signal_emit(self, signals[SIGNAL_LOADED], 0);
	if (self->job != NULL)
		fota_job_resume(self->job, self->boot_id, usb_power);
}

FotaJobManager *
job_manager_new(const FotadConfig *config, FotaModem *modem, JobStore *store,
                FotaJobNeighbours *neighbours, const char *boot_id)
{
	FotaJobManager *self = g_object_new(FOTA_TYPE_JOB_MANAGER, NULL);

	self->config = config;
	self->modem = g_object_ref(modem);
	self->neighbours = g_object_ref(neighbours);
	g_signal_connect_object(neighbours, "power-restored", G_CALLBACK(on_power_restored), self,
	                        0);
	self->store = store;
	self->boot_id = g_strdup(boot_id);
	return self;
}

static void
job_manager_dispose(GObject *object)
{
	FotaJobManager *self = FOTA_JOB_MANAGER(object);

	if (self->job != NULL) {
		g_signal_handlers_disconnect_by_data(self->job, self);
		fota_job_shutdown(self->job);
		g_clear_object(&self->job);
	}
	if (self->pending != NULL)
		g_cancellable_cancel(self->pending->cancellable);
	g_clear_handle_id(&self->save_retry_id, g_source_remove);
	if (self->neighbours != NULL)
		g_clear_signal_handler(&self->settled_id, self->neighbours);
	g_clear_object(&self->modem);
	g_clear_object(&self->neighbours);
	G_OBJECT_CLASS(job_manager_parent_class)->dispose(object);
}

static void
job_manager_finalize(GObject *object)
{
	FotaJobManager *self = FOTA_JOB_MANAGER(object);

	job_record_free(self->last);
	g_free(self->storage_error);
	g_free(self->boot_id);
	G_OBJECT_CLASS(job_manager_parent_class)->finalize(object);
}

static void
job_manager_class_init(FotaJobManagerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = job_manager_dispose;
	object_class->finalize = job_manager_finalize;
	signals[SIGNAL_PROGRESS] =
	        g_signal_new("progress", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_FINISHED] =
	        g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_LOADED] = g_signal_new("loaded", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
	                                      0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
job_manager_init(FotaJobManager *self)
{
}
