/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "mm-client.h"

#include "bus-error.h"

#include <stdlib.h>
#include <string.h>

#define MM_PATH        "/org/freedesktop/ModemManager1"
#define MM_IFACE       "org.freedesktop.ModemManager1"
#define MM_MODEM_IFACE "org.freedesktop.ModemManager1.Modem"
#define OBJECT_MANAGER "org.freedesktop.DBus.ObjectManager"
#define DEV_PREFIX     "/dev/"

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-mm-client-error-quark, mm_client_error)
/* clang-format on */

struct _FotaMmClient {
	GObject parent;
	GDBusConnection *bus;
	guint watch_id;
	gboolean running;
};

G_DEFINE_TYPE(FotaMmClient, mm_client, G_TYPE_OBJECT)

enum { SIGNAL_APPEARED, SIGNAL_VANISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

void
mm_modem_free(MmModem *modem)
{
	if (modem == NULL)
		return;
	g_free(modem->object_path);
	g_free(modem->device);
	g_free(modem->manufacturer);
	g_free(modem->model);
	g_free(modem->revision);
	g_free(modem->equipment_identifier);
	g_free(modem);
}

static char *
lookup_string(GVariant *props, const char *key)
{
	g_autoptr(GVariant) value = g_variant_lookup_value(props, key, G_VARIANT_TYPE_STRING);
	return value != NULL ? g_variant_dup_string(value, NULL) : NULL;
}

static gboolean
ports_contain(GVariant *props, const char *tty_kernel_name)
{
	g_autoptr(GVariant) ports = g_variant_lookup_value(props, "Ports", G_VARIANT_TYPE("a(su)"));
	GVariantIter iter;
	const char *name;
	guint32 type;

	if (ports == NULL)
		return FALSE;
	g_variant_iter_init(&iter, ports);
	while (g_variant_iter_next(&iter, "(&su)", &name, &type))
		if (g_strcmp0(name, tty_kernel_name) == 0)
			return TRUE;
	return FALSE;
}

static gboolean
modem_is_ours(GVariant *props, const char *device_syspath, const char *tty_kernel_name)
{
	g_autofree char *device = lookup_string(props, "Device");

	if (device_syspath != NULL && g_strcmp0(device, device_syspath) == 0)
		return TRUE;
	return tty_kernel_name != NULL && ports_contain(props, tty_kernel_name);
}

static MmModem *
modem_from_props(const char *object_path, GVariant *props)
{
	MmModem *modem = g_new0(MmModem, 1);

	modem->object_path = g_strdup(object_path);
	modem->device = lookup_string(props, "Device");
	modem->manufacturer = lookup_string(props, "Manufacturer");
	modem->model = lookup_string(props, "Model");
	modem->revision = lookup_string(props, "Revision");
	modem->equipment_identifier = lookup_string(props, "EquipmentIdentifier");
	return modem;
}

MmModem *
mm_modem_match(GVariant *managed_objects, const char *device_syspath, const char *tty_kernel_name)
{
	GVariantIter iter;
	const char *object_path;
	GVariant *interfaces;

	g_return_val_if_fail(managed_objects != NULL, NULL);
	if (!g_variant_is_of_type(managed_objects, G_VARIANT_TYPE("a{oa{sa{sv}}}")))
		return NULL;
	g_variant_iter_init(&iter, managed_objects);
	while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &object_path, &interfaces)) {
		g_autoptr(GVariant) owned = interfaces;
		g_autoptr(GVariant) props =
		        g_variant_lookup_value(interfaces, MM_MODEM_IFACE, G_VARIANT_TYPE_VARDICT);

		if (props != NULL && modem_is_ours(props, device_syspath, tty_kernel_name))
			return modem_from_props(object_path, props);
	}
	return NULL;
}

char *
mm_tty_kernel_name(const char *path)
{
	g_autofree char *resolved = NULL;

	g_return_val_if_fail(path != NULL, NULL);
	resolved = realpath(path, NULL);
	if (resolved == NULL || !g_str_has_prefix(resolved, DEV_PREFIX) ||
	    resolved[strlen(DEV_PREFIX)] == '\0')
		return NULL;
	return g_strdup(resolved + strlen(DEV_PREFIX));
}

/* --- the name watch */

static void
on_name_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer user_data)
{
	FotaMmClient *self = user_data;

	self->running = TRUE;
	g_signal_emit(self, signals[SIGNAL_APPEARED], 0);
}

static void
on_name_vanished(GDBusConnection *bus, const char *name, gpointer user_data)
{
	FotaMmClient *self = user_data;
	gboolean was_running = self->running;

	self->running = FALSE;
	if (was_running)
		g_signal_emit(self, signals[SIGNAL_VANISHED], 0);
}

FotaMmClient *
mm_client_new(GDBusConnection *bus)
{
	FotaMmClient *self;

	g_return_val_if_fail(G_IS_DBUS_CONNECTION(bus), NULL);
	self = g_object_new(FOTA_TYPE_MM_CLIENT, NULL);
	self->bus = g_object_ref(bus);
	self->watch_id = g_bus_watch_name_on_connection(
	        bus, MM_CLIENT_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, on_name_appeared,
	        on_name_vanished, self, NULL);
	return self;
}

gboolean
mm_client_is_running(FotaMmClient *self)
{
	g_return_val_if_fail(FOTA_IS_MM_CLIENT(self), FALSE);
	return self->running;
}

/* --- calls */

/* @error from a call to ModemManager, in this module's domain. */
static GError *
call_error(const char *what, const GError *error)
{
	g_autofree char *text = bus_error_describe(error);

	return g_error_new(MM_CLIENT_ERROR,
	                   bus_error_is_absent(error) ? MM_CLIENT_ERROR_NOT_RUNNING
	                                              : MM_CLIENT_ERROR_CALL,
	                   "ModemManager %s failed: %s", what, text);
}

typedef struct {
	char *device_syspath;
	char *tty_kernel_name;
} FindKeys;

static void
find_keys_free(FindKeys *keys)
{
	g_free(keys->device_syspath);
	g_free(keys->tty_kernel_name);
	g_free(keys);
}

static void
on_managed_objects(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	const FindKeys *keys = g_task_get_task_data(task);
	g_autoptr(GVariant) objects = NULL;

	if (reply == NULL && bus_error_is_absent(error)) {
		g_task_return_pointer(task, NULL, NULL);
		return;
	}
	if (reply == NULL) {
		g_task_return_error(task, call_error("GetManagedObjects", error));
		return;
	}
	objects = g_variant_get_child_value(reply, 0);
	g_task_return_pointer(task,
	                      mm_modem_match(objects, keys->device_syspath, keys->tty_kernel_name),
	                      (GDestroyNotify)mm_modem_free);
}

void
mm_client_find_modem(FotaMmClient *self, const char *device_syspath, const char *tty_kernel_name,
                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task;
	FindKeys *keys;

	g_return_if_fail(FOTA_IS_MM_CLIENT(self));
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, mm_client_find_modem);
	keys = g_new0(FindKeys, 1);
	keys->device_syspath = g_strdup(device_syspath);
	keys->tty_kernel_name = g_strdup(tty_kernel_name);
	g_task_set_task_data(task, keys, (GDestroyNotify)find_keys_free);
	g_dbus_connection_call(self->bus, MM_CLIENT_BUS_NAME, MM_PATH, OBJECT_MANAGER,
	                       "GetManagedObjects", NULL, G_VARIANT_TYPE("(a{oa{sa{sv}}})"),
	                       G_DBUS_CALL_FLAGS_NO_AUTO_START, MM_CLIENT_CALL_TIMEOUT_MS,
	                       cancellable, on_managed_objects, task);
}

MmModem *
mm_client_find_modem_finish(FotaMmClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static void
on_inhibit_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

	if (reply == NULL)
		g_task_return_error(task, call_error("InhibitDevice", error));
	else
		g_task_return_boolean(task, TRUE);
}

void
mm_client_inhibit(FotaMmClient *self, const char *uid, gboolean inhibit, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task;

	g_return_if_fail(FOTA_IS_MM_CLIENT(self));
	g_return_if_fail(uid != NULL);
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, mm_client_inhibit);
	g_dbus_connection_call(self->bus, MM_CLIENT_BUS_NAME, MM_PATH, MM_IFACE, "InhibitDevice",
	                       g_variant_new("(sb)", uid, inhibit), G_VARIANT_TYPE_UNIT,
	                       G_DBUS_CALL_FLAGS_NO_AUTO_START, MM_CLIENT_CALL_TIMEOUT_MS,
	                       cancellable, on_inhibit_reply, task);
}

gboolean
mm_client_inhibit_finish(FotaMmClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

/* --- GObject */

static void
mm_client_dispose(GObject *object)
{
	FotaMmClient *self = FOTA_MM_CLIENT(object);

	if (self->watch_id != 0) {
		g_bus_unwatch_name(self->watch_id);
		self->watch_id = 0;
	}
	g_clear_object(&self->bus);
	G_OBJECT_CLASS(mm_client_parent_class)->dispose(object);
}

static void
mm_client_class_init(FotaMmClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = mm_client_dispose;
	signals[SIGNAL_APPEARED] =
	        g_signal_new("appeared", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_VANISHED] =
	        g_signal_new("vanished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
}

static void
mm_client_init(FotaMmClient *self)
{
}
