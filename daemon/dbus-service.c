/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "dbus-service.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "fota-dbus-error.h"
#include "fota-generated.h"

struct _FotaService {
	FotaJobManager *manager;
	FotaModem *modem;
	FotaJobNeighbours *neighbours;
	FotaFota1 *skeleton;
};

/* ---- mirroring ---- */

static void
set_modem_properties(FotaService *self, const ModemInfo *info)
{
	if (info == NULL)
		return;
	fota_fota1_set_modem_model(self->skeleton, info->model);
	fota_fota1_set_modem_revision(self->skeleton, info->revision);
}

static void
update_modem_properties(FotaService *self)
{
	set_modem_properties(self, modem_get_info(self->modem));
}

static void
update_job_properties(FotaService *self)
{
	const JobRecord *r = job_manager_get_record(self->manager);

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
on_progress(FotaJobManager *manager, gpointer user_data)
{
	FotaService *self = user_data;
	const JobRecord *r = job_manager_get_record(manager);

	update_job_properties(self);
	fota_fota1_emit_progress(self->skeleton, r->id, fota_state_to_string(r->state), r->percent);
}

/* The job's words, and whether they are on disk: a record that could not
 * be saved is something the caller must know about. */
static char *
job_message(const JobRecord *r, const char *storage_error)
{
	if (storage_error == NULL)
		return g_strdup(r->message ? r->message : "");
	return g_strdup_printf("%s%s(warning: the job record could not be saved: %s; retrying)",
	                       r->message ? r->message : "", r->message ? " " : "", storage_error);
}

static void
on_finished(FotaJobManager *manager, gpointer user_data)
{
	FotaService *self = user_data;
	const JobRecord *r = job_manager_get_record(manager);
	g_autofree char *message = job_message(r, job_manager_get_storage_error(manager));

	update_modem_properties(self);
	update_job_properties(self);
	fota_fota1_emit_finished(self->skeleton, r->id, fota_state_to_string(r->state),
	                         r->error ? r->error : "", message);
}

static void
on_loaded(FotaJobManager *manager, gpointer user_data)
{
	update_job_properties(user_data);
}

static void
on_modem_ready(FotaModem *modem, gpointer user_data)
{
	update_modem_properties(user_data);
}

/* ---- methods ---- */

typedef struct {
	FotaService *service;
	GDBusMethodInvocation *invocation;
} Call;

static Call *
call_new(FotaService *service, GDBusMethodInvocation *invocation)
{
	Call *call = g_new0(Call, 1);

	call->service = service;
	call->invocation = g_object_ref(invocation);
	return call;
}

static void
call_free(Call *call)
{
	g_object_unref(call->invocation);
	g_free(call);
}

static void
start_replied(const char *job_id, const GError *error, gpointer user_data)
{
	Call *call = user_data;

	if (error != NULL)
		g_dbus_method_invocation_return_gerror(call->invocation, error);
	else
		g_dbus_method_invocation_return_value(call->invocation,
		                                      g_variant_new("(s)", job_id));
	call_free(call);
}

static gboolean
handle_start_url(FotaFota1 *object, GDBusMethodInvocation *invocation, const char *url,
                 GVariant *options, gpointer user_data)
{
	FotaService *self = user_data;

	job_manager_start_url(self->manager, url, options, start_replied,
	                      call_new(self, invocation));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
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

static gboolean
handle_start_file(FotaFota1 *object, GDBusMethodInvocation *invocation, GVariant *package,
                  GVariant *options, gpointer user_data)
{
	FotaService *self = user_data;
	g_autoptr(GError) error = NULL;
	int fd = take_fd(invocation, package, &error);

	if (fd < 0) {
		g_message("StartFile refused: %s", error->message);
		g_dbus_method_invocation_return_gerror(invocation, error);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	job_manager_start_file(self->manager, fd, options, start_replied,
	                       call_new(self, invocation));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_cancel(FotaFota1 *object, GDBusMethodInvocation *invocation, gpointer user_data)
{
	FotaService *self = user_data;
	g_autoptr(GError) error = NULL;

	if (job_manager_cancel(self->manager, &error))
		fota_fota1_complete_cancel(object, invocation);
	else
		g_dbus_method_invocation_return_gerror(invocation, error);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
record_to_variant(const JobRecord *r, const char *storage_error)
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
	g_variant_builder_add(&b, "{sv}", "message",
	                      g_variant_new_take_string(job_message(r, storage_error)));
	g_variant_builder_add(&b, "{sv}", "from-revision", S(r->from_revision));
	g_variant_builder_add(&b, "{sv}", "to-revision", S(r->to_revision));
	g_variant_builder_add(&b, "{sv}", "started", g_variant_new_int64(r->started_us));
	if (r->sent_sha256 != NULL)
		g_variant_builder_add(&b, "{sv}", "sent-sha256", S(r->sent_sha256));
	if (storage_error != NULL)
		g_variant_builder_add(&b, "{sv}", "storage-error", S(storage_error));
	if (fota_state_is_final(r->state))
		g_variant_builder_add(&b, "{sv}", "finished", g_variant_new_int64(r->finished_us));
#undef S
	return g_variant_builder_end(&b);
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
	/* unknown while ModemManager has the port and no job read it */
	if (info->qfotadl_ranges != NULL)
		g_variant_builder_add(&b, "{sv}", "qfotadl-ranges", S(info->qfotadl_ranges));
#undef S
	return g_variant_builder_end(&b);
}

static gboolean
handle_get_job(FotaFota1 *object, GDBusMethodInvocation *invocation, gpointer user_data)
{
	FotaService *self = user_data;

	fota_fota1_complete_get_job(
	        object, invocation,
	        record_to_variant(job_manager_get_record(self->manager),
	                          job_manager_get_storage_error(self->manager)));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
modem_info_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Call *call = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ModemInfo) info =
	        job_neighbours_query_info_finish(FOTA_JOB_NEIGHBOURS(source), result, &error);

	if (info != NULL) {
		set_modem_properties(call->service, info);
		fota_fota1_complete_get_modem_info(call->service->skeleton, call->invocation,
		                                   info_to_variant(info));
	} else {
		g_dbus_method_invocation_take_error(call->invocation,
		                                    job_manager_modem_error_to_dbus(error));
	}
	call_free(call);
}

static gboolean
handle_get_modem_info(FotaFota1 *object, GDBusMethodInvocation *invocation, gpointer user_data)
{
	FotaService *self = user_data;

	job_neighbours_query_info(self->neighbours, NULL, modem_info_done,
	                          call_new(self, invocation));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- the object ---- */

static const struct {
	const char *signal;
	GCallback handler;
} methods[] = {
        {"handle-get-modem-info", G_CALLBACK(handle_get_modem_info)},
        {"handle-start-url", G_CALLBACK(handle_start_url)},
        {"handle-start-file", G_CALLBACK(handle_start_file)},
        {"handle-cancel", G_CALLBACK(handle_cancel)},
        {"handle-get-job", G_CALLBACK(handle_get_job)},
};

gboolean
fota_service_export(FotaService *self, GDBusConnection *connection, GError **error)
{
	return g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self->skeleton),
	                                        connection, FOTA_SERVICE_PATH, error);
}

FotaService *
fota_service_new(FotaJobManager *manager, FotaModem *modem, FotaJobNeighbours *neighbours)
{
	FotaService *self = g_new0(FotaService, 1);

	self->manager = g_object_ref(manager);
	self->modem = g_object_ref(modem);
	self->neighbours = g_object_ref(neighbours);
	self->skeleton = fota_fota1_skeleton_new();
	fota_fota1_set_state(self->skeleton, "idle");
	fota_fota1_set_job_id(self->skeleton, "");
	fota_fota1_set_last_error(self->skeleton, "");
	fota_fota1_set_modem_model(self->skeleton, "");
	fota_fota1_set_modem_revision(self->skeleton, "");
	for (guint i = 0; i < G_N_ELEMENTS(methods); i++)
		g_signal_connect(self->skeleton, methods[i].signal, methods[i].handler, self);
	g_signal_connect(manager, "progress", G_CALLBACK(on_progress), self);
	g_signal_connect(manager, "finished", G_CALLBACK(on_finished), self);
	g_signal_connect(manager, "loaded", G_CALLBACK(on_loaded), self);
	g_signal_connect(modem, "ready", G_CALLBACK(on_modem_ready), self);
	update_modem_properties(self);
	update_job_properties(self);
	return self;
}

void
fota_service_free(FotaService *self)
{
	if (self == NULL)
		return;
	g_signal_handlers_disconnect_by_data(self->manager, self);
	g_signal_handlers_disconnect_by_data(self->modem, self);
	if (g_dbus_interface_skeleton_get_connection(G_DBUS_INTERFACE_SKELETON(self->skeleton)))
		g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(self->skeleton));
	g_clear_object(&self->skeleton);
	g_clear_object(&self->modem);
	g_clear_object(&self->neighbours);
	g_clear_object(&self->manager);
	g_free(self);
}
