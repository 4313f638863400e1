/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "dbus-service.h"

#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "fota-dbus-error.h"
#include "fota-generated.h"
#include "fota-job.h"
#include "job-options.h"
#include "url-check.h"

#define MAX_PACKAGE_SIZE (G_GUINT64_CONSTANT(4) << 30) /* 4 GiB */
#define HASH_BUFFER_SIZE (64 * 1024)

struct _FotaService {
	const FotadConfig *config;
	Modem *modem;
	JobStore *store;
	char *boot_id;
	FotaFota1 *skeleton;

	FotaJob *job;        /* the running job, NULL when none */
	JobRecord *last;     /* the last finished job (or an unreadable record's verdict) */
	gboolean validating; /* a StartFile is hashing its package */
	FotaState announced_state;
};

/* ---- mirroring the job ---- */

static const JobRecord *
current_record(FotaService *self)
{
	return self->job != NULL ? fota_job_get_record(self->job) : self->last;
}

static void
update_modem_properties(FotaService *self)
{
	const ModemInfo *info = modem_get_info(self->modem);

	if (info == NULL)
		return;
	fota_fota1_set_modem_model(self->skeleton, info->model);
	fota_fota1_set_modem_revision(self->skeleton, info->revision);
}

static void
update_job_properties(FotaService *self)
{
	const JobRecord *r = current_record(self);

	if (r == NULL)
		return;
	fota_fota1_set_state(self->skeleton, fota_state_to_string(r->state));
	fota_fota1_set_percent(self->skeleton, r->percent);
	fota_fota1_set_job_id(self->skeleton, r->id ? r->id : "");
	fota_fota1_set_last_error(self->skeleton, r->error ? r->error : "");
	/* PropertiesChanged before the signals, so a client reacting to
	 * Progress/Finished reads the same values */
	g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self->skeleton));
}

static void
notify_status(FotaService *self, const JobRecord *r)
{
	if (r->state == self->announced_state)
		return;
	self->announced_state = r->state;
	sd_notifyf(0, "STATUS=Job %s: %s%s%s", r->id, fota_state_to_string(r->state),
	           fota_state_is_final(r->state) && r->message ? ": " : "",
	           fota_state_is_final(r->state) && r->message ? r->message : "");
}

static void
on_job_progress(FotaJob *job, gpointer user_data)
{
	FotaService *self = user_data;
	const JobRecord *r = fota_job_get_record(job);

	update_job_properties(self);
	notify_status(self, r);
	fota_fota1_emit_progress(self->skeleton, r->id, fota_state_to_string(r->state), r->percent);
}

static void
on_job_finished(FotaJob *job, gpointer user_data)
{
	FotaService *self = user_data;
	const JobRecord *r = fota_job_get_record(job);

	job_record_free(self->last);
	self->last = job_record_copy(r);
	update_modem_properties(self);
	fota_fota1_emit_finished(self->skeleton, r->id, fota_state_to_string(r->state),
	                         r->error ? r->error : "", r->message ? r->message : "");
	g_signal_handlers_disconnect_by_data(job, self);
	g_clear_object(&self->job);
}

static void
on_modem_ready(Modem *modem, gpointer user_data)
{
	update_modem_properties(user_data);
}

static void
run_job(FotaService *self, FotaJob *job, const char *resume_boot_id)
{
	job_record_free(g_steal_pointer(&self->last));
	self->job = job;
	self->announced_state = FOTA_STATE_IDLE;
	g_signal_connect(job, "progress", G_CALLBACK(on_job_progress), self);
	g_signal_connect(job, "finished", G_CALLBACK(on_job_finished), self);
	update_job_properties(self);
	if (resume_boot_id != NULL)
		fota_job_resume(job, resume_boot_id);
	else
		fota_job_start(job);
}

/* ---- validation ---- */

static gboolean
check_not_busy(FotaService *self, GError **error)
{
	if (self->job != NULL) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_BUSY, "a job is running: %s",
		            fota_job_get_record(self->job)->id);
		return FALSE;
	}
	if (self->validating) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_BUSY,
		            "another job's package is being checked");
		return FALSE;
	}
	return TRUE;
}

static const ModemInfo *
check_modem(FotaService *self, GError **error)
{
	const ModemInfo *info = modem_get_info(self->modem);

	if (info == NULL || !modem_is_ready(self->modem)) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_NO_MODEM,
		            "no modem identified%s%s", self->config->port ? " at " : "",
		            self->config->port ? self->config->port : "");
		return NULL;
	}
	return info;
}

static gboolean
check_range(const AtRangeList *list, const char *key, guint value, const char *ranges,
            GError **error)
{
	if (at_range_list_contains(list, value))
		return TRUE;
	g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_NOT_SUPPORTED,
	            "option '%s' %u is not supported by this modem (AT+QFOTADL=?: %s)", key, value,
	            ranges);
	return FALSE;
}

/* The options against what the modem itself says it takes. */
static gboolean
check_ranges(const ModemInfo *info, const JobOptions *o, GError **error)
{
	if (!info->ranges_valid) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_NOT_SUPPORTED,
		            "modem %s did not answer AT+QFOTADL=? usably; it may not support FOTA",
		            info->model);
		return FALSE;
	}
	if (!check_range(&info->ranges.upgrade_mode, "upgrade-mode", o->upgrade_mode,
	                 info->qfotadl_ranges, error) ||
	    !check_range(&info->ranges.download_urc_max, "download-urc-max", o->download_urc_max,
	                 info->qfotadl_ranges, error))
		return FALSE;
	if (o->update_urc_max == JOB_UNSET)
		return TRUE;
	return check_range(&info->ranges.update_urc_max, "update-urc-max", (guint)o->update_urc_max,
	                   info->qfotadl_ranges, error);
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

static gboolean
parse_options(GVariant *asv, FotaSourceKind kind, const ModemInfo *info, JobOptions *out,
              GError **error)
{
	g_autoptr(GError) local = NULL;

	job_options_init(out);
	if (!job_options_parse(asv, kind, info->kind, out, &local)) {
		g_set_error_literal(error, FOTA_DBUS_ERROR, options_error_code(asv, kind, local),
		                    local->message);
		return FALSE;
	}
	return check_ranges(info, out, error);
}

static gboolean
check_package(int fd, guint64 *size, GError **error)
{
	struct stat st;
	int flags;

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
	if (flags < 0 || (flags & O_ACCMODE) == O_WRONLY) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "package must be opened for reading");
		return FALSE;
	}
	if (st.st_size <= 0 || (guint64)st.st_size > MAX_PACKAGE_SIZE) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "package size must be 1..%" G_GUINT64_FORMAT
		            " bytes, got %" G_GINT64_FORMAT,
		            MAX_PACKAGE_SIZE, (gint64)st.st_size);
		return FALSE;
	}
	*size = st.st_size;
	return TRUE;
}

static int
take_fd(GDBusMethodInvocation *invocation, GVariant *handle, GError **error)
{
	GUnixFDList *list =
	        g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(invocation));
	gint32 index = g_variant_get_handle(handle);
	g_autoptr(GError) local = NULL;
	int fd;

	if (list == NULL || index < 0 || index >= g_unix_fd_list_get_length(list)) {
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "no file descriptor was passed for the package (handle %d)", index);
		return -1;
	}
	fd = g_unix_fd_list_get(list, index, &local);
	if (fd < 0)
		g_set_error(error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "cannot take the package's file descriptor: %s", local->message);
	return fd;
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
new_record(FotaService *self, FotaSourceKind kind, const char *source, guint64 size,
           JobOptions *options)
{
	JobRecord *r = job_record_new();
	const ModemInfo *info = modem_get_info(self->modem);

	r->id = new_job_id();
	r->source_kind = kind;
	r->source = g_strdup(source);
	r->file_size = size;
	job_options_clear(&r->options);
	r->options = *options; /* takes the strings */
	*options = (JobOptions){0};
	r->boot_id = g_strdup(self->boot_id);
	r->port = g_strdup(info ? info->port_identity : self->config->port);
	return r;
}

static void
start_job(FotaService *self, GDBusMethodInvocation *invocation, JobRecord *record, int fd,
          gboolean file)
{
	g_autofree char *id = g_strdup(record->id);
	FotaJob *job = fota_job_new(record, fd, self->modem, self->config, self->store);

	g_message("Starting job %s: %s", id, record->source);
	/* The reply goes out before the job's first Progress. */
	if (file)
		fota_fota1_complete_start_file(self->skeleton, invocation, id);
	else
		fota_fota1_complete_start_url(self->skeleton, invocation, id);
	run_job(self, job, NULL);
}

static void
start_url(FotaService *self, GDBusMethodInvocation *invocation, const char *url, GVariant *options)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) local = NULL;
	const ModemInfo *info;
	FotaSourceKind kind;
	JobOptions opts;

	job_options_init(&opts);
	if (!check_not_busy(self, &error))
		goto fail;
	if (!fota_url_check(url, &kind, &local)) {
		g_set_error_literal(&error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		                    local->message);
		goto fail;
	}
	if ((info = check_modem(self, &error)) == NULL ||
	    !parse_options(options, kind, info, &opts, &error))
		goto fail;
	start_job(self, invocation, new_record(self, kind, url, 0, &opts), -1, FALSE);
	return;
fail:
	job_options_clear(&opts);
	g_message("StartUrl refused: %s", error->message);
	g_dbus_method_invocation_return_gerror(invocation, error);
}

/* sha256 of the package, in a worker thread: streaming through a bounded
 * buffer with pread, so the fd's offset stays where it is. */
typedef struct {
	FotaService *service;
	GDBusMethodInvocation *invocation;
	JobRecord *record;
	int fd;
} HashCheck;

static void
hash_check_free(HashCheck *check)
{
	g_object_unref(check->invocation);
	job_record_free(check->record);
	if (check->fd >= 0)
		close(check->fd);
	g_free(check);
}

static void
hash_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
	HashCheck *check = data;
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree guint8 *buf = g_malloc(HASH_BUFFER_SIZE);
	guint64 offset = 0;

	while (offset < check->record->file_size) {
		ssize_t n = pread(check->fd, buf, HASH_BUFFER_SIZE, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_task_return_new_error(
			        task, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
			        "cannot read the package at byte %" G_GUINT64_FORMAT ": %s", offset,
			        n < 0 ? g_strerror(errno) : "file shrank");
			return;
		}
		g_checksum_update(sum, buf, n);
		offset += n;
	}
	g_task_return_pointer(task, g_strdup(g_checksum_get_string(sum)), g_free);
}

static void
hash_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	HashCheck *check = g_task_get_task_data(G_TASK(result));
	FotaService *self = check->service;
	g_autoptr(GError) error = NULL;
	g_autofree char *actual = g_task_propagate_pointer(G_TASK(result), &error);
	const char *expected = check->record->options.sha256;

	self->validating = FALSE;
	if (actual != NULL && g_ascii_strcasecmp(actual, expected) != 0)
		g_set_error(&error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "sha256 mismatch: expected %s, package has %s", expected, actual);
	if (error == NULL)
		check_modem(self, &error); /* it may have gone while we hashed */
	if (error != NULL) {
		g_message("StartFile refused: %s", error->message);
		g_dbus_method_invocation_return_gerror(check->invocation, error);
		return;
	}
	start_job(self, check->invocation, g_steal_pointer(&check->record), check->fd, TRUE);
	check->fd = -1;
}

static void
check_hash_then_start(FotaService *self, GDBusMethodInvocation *invocation, JobRecord *record,
                      int fd)
{
	HashCheck *check = g_new0(HashCheck, 1);
	g_autoptr(GTask) task = g_task_new(NULL, NULL, hash_done, NULL);

	check->service = self;
	check->invocation = g_object_ref(invocation);
	check->record = record;
	check->fd = fd;
	g_task_set_task_data(task, check, (GDestroyNotify)hash_check_free);
	self->validating = TRUE;
	g_task_run_in_thread(task, hash_thread);
}

static void
start_file(FotaService *self, GDBusMethodInvocation *invocation, GVariant *package,
           GVariant *options)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *source = NULL;
	const ModemInfo *info;
	JobRecord *record;
	JobOptions opts;
	guint64 size = 0;
	int fd = -1;

	job_options_init(&opts);
	if (!check_not_busy(self, &error) || (fd = take_fd(invocation, package, &error)) < 0 ||
	    !check_package(fd, &size, &error) || (info = check_modem(self, &error)) == NULL ||
	    !parse_options(options, FOTA_SOURCE_FILE, info, &opts, &error)) {
		job_options_clear(&opts);
		if (fd >= 0)
			close(fd);
		g_message("StartFile refused: %s", error->message);
		g_dbus_method_invocation_return_gerror(invocation, error);
		return;
	}
	source = g_strdup_printf("file:%" G_GUINT64_FORMAT, size);
	record = new_record(self, FOTA_SOURCE_FILE, source, size, &opts);
	if (record->options.sha256 != NULL)
		check_hash_then_start(self, invocation, record, fd);
	else
		start_job(self, invocation, record, fd, TRUE);
}

/* A method call answered once the modem has been identified. */
typedef struct {
	FotaService *service;
	GDBusMethodInvocation *invocation;
} IdentifyCall;

static IdentifyCall *
identify_call_new(FotaService *service, GDBusMethodInvocation *invocation)
{
	IdentifyCall *call = g_new0(IdentifyCall, 1);

	call->service = service;
	call->invocation = g_object_ref(invocation);
	return call;
}

static void
identify_call_free(IdentifyCall *call)
{
	g_object_unref(call->invocation);
	g_free(call);
}

/* The port is open but the modem is still being identified (daemon start,
 * a reboot): wait for that rather than refuse a caller who was just early. */
static void
identified_then_start(GObject *source, GAsyncResult *result, gpointer user_data)
{
	IdentifyCall *call = user_data;
	g_autoptr(ModemInfo) info = modem_identify_finish(FOTA_MODEM(source), result, NULL);
	GVariant *params = g_dbus_method_invocation_get_parameters(call->invocation);
	g_autoptr(GVariant) first = g_variant_get_child_value(params, 0);
	g_autoptr(GVariant) options = g_variant_get_child_value(params, 1);

	/* on failure check_modem() says why */
	if (g_str_equal(g_dbus_method_invocation_get_method_name(call->invocation), "StartUrl"))
		start_url(call->service, call->invocation, g_variant_get_string(first, NULL),
		          options);
	else
		start_file(call->service, call->invocation, first, options);
	identify_call_free(call);
}

static gboolean
defer_until_identified(FotaService *self, GDBusMethodInvocation *invocation)
{
	if (modem_is_ready(self->modem) || modem_get_channel(self->modem) == NULL)
		return FALSE;
	modem_identify(self->modem, NULL, identified_then_start,
	               identify_call_new(self, invocation));
	return TRUE;
}

static gboolean
handle_start_url(FotaFota1 *object, GDBusMethodInvocation *invocation, const char *url,
                 GVariant *options, gpointer user_data)
{
	if (!defer_until_identified(user_data, invocation))
		start_url(user_data, invocation, url, options);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_start_file(FotaFota1 *object, GDBusMethodInvocation *invocation, GVariant *package,
                  GVariant *options, gpointer user_data)
{
	if (!defer_until_identified(user_data, invocation))
		start_file(user_data, invocation, package, options);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- the other methods ---- */

static gboolean
handle_cancel(FotaFota1 *object, GDBusMethodInvocation *invocation, gpointer user_data)
{
	FotaService *self = user_data;
	g_autoptr(GError) error = NULL;

	if (self->job == NULL)
		g_set_error(&error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		            "no job is running");
	else
		fota_job_cancel(self->job, &error);
	if (error != NULL)
		g_dbus_method_invocation_return_gerror(invocation, error);
	else
		fota_fota1_complete_cancel(object, invocation);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
record_to_variant(const JobRecord *r)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	if (r == NULL)
		return g_variant_builder_end(&b);
#define S(x) g_variant_new_string((x) ? (x) : "")
	g_variant_builder_add(&b, "{sv}", "id", S(r->id));
	g_variant_builder_add(&b, "{sv}", "source", S(r->source));
	g_variant_builder_add(&b, "{sv}", "upgrade-mode",
	                      g_variant_new_uint32(r->options.upgrade_mode));
	g_variant_builder_add(&b, "{sv}", "state", S(fota_state_to_string(r->state)));
	g_variant_builder_add(&b, "{sv}", "percent", g_variant_new_uint32(r->percent));
	g_variant_builder_add(&b, "{sv}", "error", S(r->error));
	if (r->error_code != JOB_UNSET)
		g_variant_builder_add(&b, "{sv}", "error-code", g_variant_new_int32(r->error_code));
	g_variant_builder_add(&b, "{sv}", "message", S(r->message));
	g_variant_builder_add(&b, "{sv}", "from-revision", S(r->from_revision));
	g_variant_builder_add(&b, "{sv}", "to-revision", S(r->to_revision));
	g_variant_builder_add(&b, "{sv}", "started", g_variant_new_int64(r->started_us));
	if (fota_state_is_final(r->state))
		g_variant_builder_add(&b, "{sv}", "finished", g_variant_new_int64(r->finished_us));
#undef S
	return g_variant_builder_end(&b);
}

static gboolean
handle_get_job(FotaFota1 *object, GDBusMethodInvocation *invocation, gpointer user_data)
{
	fota_fota1_complete_get_job(object, invocation,
	                            record_to_variant(current_record(user_data)));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
info_to_variant(const ModemInfo *info)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
#define S(x) g_variant_new_string((x) ? (x) : "")
	g_variant_builder_add(&b, "{sv}", "manufacturer", S(info->manufacturer));
	g_variant_builder_add(&b, "{sv}", "model", S(info->model));
	g_variant_builder_add(&b, "{sv}", "revision", S(info->revision));
	g_variant_builder_add(&b, "{sv}", "imei", S(info->imei));
	g_variant_builder_add(&b, "{sv}", "port", S(info->port));
	g_variant_builder_add(&b, "{sv}", "flow-control", S(serial_flow_to_string(info->flow)));
	g_variant_builder_add(&b, "{sv}", "upgrade-kind",
	                      S(fota_upgrade_kind_to_string(info->kind)));
	g_variant_builder_add(&b, "{sv}", "qfotadl-ranges", S(info->qfotadl_ranges));
#undef S
	return g_variant_builder_end(&b);
}

static void
modem_info_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	IdentifyCall *call = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ModemInfo) info = modem_identify_finish(FOTA_MODEM(source), result, &error);

	if (info != NULL) {
		update_modem_properties(call->service);
		fota_fota1_complete_get_modem_info(call->service->skeleton, call->invocation,
		                                   info_to_variant(info));
	} else {
		g_dbus_method_invocation_return_error_literal(
		        call->invocation, FOTA_DBUS_ERROR,
		        g_error_matches(error, MODEM_ERROR, MODEM_ERROR_ABSENT)
		                ? FOTA_DBUS_ERROR_NO_MODEM
		                : FOTA_DBUS_ERROR_MODEM_ERROR,
		        error->message);
	}
	identify_call_free(call);
}

static gboolean
handle_get_modem_info(FotaFota1 *object, GDBusMethodInvocation *invocation, gpointer user_data)
{
	FotaService *self = user_data;
	const ModemInfo *info = modem_get_info(self->modem);

	/* A running job owns the port: answer from what was read at its start. */
	if (self->job != NULL && info != NULL) {
		fota_fota1_complete_get_modem_info(object, invocation, info_to_variant(info));
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	modem_identify(self->modem, NULL, modem_info_done, identify_call_new(self, invocation));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- lifecycle ---- */

void
fota_service_load_job(FotaService *self)
{
	g_autoptr(GError) error = NULL;
	JobRecord *record = NULL;

	if (!job_store_load(self->store, &record, &error)) {
		/* Never pretend there was no job: a record existed and says
		 * nothing usable, so the outcome is unknown — report a failure. */
		g_warning("Job record unreadable: %s", error->message);
		self->last = job_record_new();
		self->last->state = FOTA_STATE_FAILED;
		self->last->error = g_strdup(fota_dbus_error_name(FOTA_DBUS_ERROR_UPGRADE_FAILED));
		self->last->message = g_strdup_printf("job record unreadable: %s", error->message);
		self->last->finished_us = g_get_real_time();
		update_job_properties(self);
		return;
	}
	if (record == NULL)
		return;
	if (fota_state_is_final(record->state)) {
		self->last = record;
		update_job_properties(self);
		return;
	}
	run_job(self, fota_job_new(record, -1, self->modem, self->config, self->store),
	        self->boot_id);
}

void
fota_service_persist(FotaService *self)
{
	if (self->job != NULL)
		fota_job_persist(self->job);
}

gboolean
fota_service_export(FotaService *self, GDBusConnection *connection, GError **error)
{
	return g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self->skeleton),
	                                        connection, FOTA_SERVICE_PATH, error);
}

FotaService *
fota_service_new(const FotadConfig *config, Modem *modem, JobStore *store, const char *boot_id)
{
	FotaService *self = g_new0(FotaService, 1);

	self->config = config;
	self->modem = g_object_ref(modem);
	self->store = store;
	self->boot_id = g_strdup(boot_id);
	self->skeleton = fota_fota1_skeleton_new();
	fota_fota1_set_state(self->skeleton, "idle");
	fota_fota1_set_job_id(self->skeleton, "");
	fota_fota1_set_last_error(self->skeleton, "");
	fota_fota1_set_modem_model(self->skeleton, "");
	fota_fota1_set_modem_revision(self->skeleton, "");
	g_signal_connect(self->skeleton, "handle-get-modem-info", G_CALLBACK(handle_get_modem_info),
	                 self);
	g_signal_connect(self->skeleton, "handle-start-url", G_CALLBACK(handle_start_url), self);
	g_signal_connect(self->skeleton, "handle-start-file", G_CALLBACK(handle_start_file), self);
	g_signal_connect(self->skeleton, "handle-cancel", G_CALLBACK(handle_cancel), self);
	g_signal_connect(self->skeleton, "handle-get-job", G_CALLBACK(handle_get_job), self);
	g_signal_connect(modem, "ready", G_CALLBACK(on_modem_ready), self);
	update_modem_properties(self);
	return self;
}

void
fota_service_free(FotaService *self)
{
	if (self == NULL)
		return;
	if (self->job != NULL) {
		g_signal_handlers_disconnect_by_data(self->job, self);
		g_clear_object(&self->job);
	}
	g_signal_handlers_disconnect_by_data(self->modem, self);
	if (g_dbus_interface_skeleton_get_connection(G_DBUS_INTERFACE_SKELETON(self->skeleton)))
		g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(self->skeleton));
	g_clear_object(&self->skeleton);
	g_clear_object(&self->modem);
	job_record_free(self->last);
	g_free(self->boot_id);
	g_free(self);
}
