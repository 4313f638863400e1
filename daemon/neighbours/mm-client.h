/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* ModemManager (org.freedesktop.ModemManager1, the 1.20 API) as a neighbour:
 * whether it runs, whether it manages our modem, and inhibiting that modem
 * while a job owns the port. Every call is asynchronous and bounded by
 * MM_CLIENT_CALL_TIMEOUT_MS; none starts ModemManager by bus activation.
 *
 * ModemManager ends an inhibition by itself when the connection that made it
 * leaves the bus: pass the daemon's own long-lived connection. */

#define MM_CLIENT_BUS_NAME        "org.freedesktop.ModemManager1"
#define MM_CLIENT_CALL_TIMEOUT_MS 10000

#define MM_CLIENT_ERROR (mm_client_error_quark())
GQuark mm_client_error_quark(void);

typedef enum {
	MM_CLIENT_ERROR_NOT_RUNNING, /* the name has no owner */
	MM_CLIENT_ERROR_CALL,        /* the call failed; the message has D-Bus's words */
	MM_CLIENT_ERROR_BAD_REPLY,   /* a reply of an unexpected type */
} MmClientError;

/* A modem object as ModemManager exported it. Plain data; any string but
 * object_path may be NULL when ModemManager did not say. */
typedef struct {
	char *object_path;
	char *device; /* the "uid" InhibitDevice takes: the USB device's sysfs path */
	char *manufacturer;
	char *model;
	char *revision;
	char *equipment_identifier; /* the IMEI */
} MmModem;

void mm_modem_free(MmModem *modem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MmModem, mm_modem_free)

/* The modem in a GetManagedObjects reply (a{oa{sa{sv}}}) that is ours: its
 * Device equals @device_syspath, or its Ports (a(su)) hold @tty_kernel_name.
 * Either may be NULL. NULL when none matches. Pure.
 * Returns: (transfer full): free with mm_modem_free() */
MmModem *mm_modem_match(GVariant *managed_objects, const char *device_syspath,
                        const char *tty_kernel_name);

/* The kernel name of a tty as ModemManager lists it among Ports: @path with
 * symlinks resolved and "/dev/" dropped ("ttyUSB2", "pts/3"). NULL when
 * @path does not resolve to something under /dev/.
 * Returns: (transfer full) */
char *mm_tty_kernel_name(const char *path);

#define FOTA_TYPE_MM_CLIENT (mm_client_get_type())
G_DECLARE_FINAL_TYPE(FotaMmClient, mm_client, FOTA, MM_CLIENT, GObject)

/* Watches the name on @bus from the caller's thread-default main context.
 * Signals:
 *   "appeared" ()  ModemManager got the name (also when it was already
 *                  there at construction, once the watch reports it)
 *   "vanished" ()  it left the bus (not emitted when it was never there)
 * @bus: (transfer none): the client takes a reference
 * Returns: (transfer full) */
FotaMmClient *mm_client_new(GDBusConnection *bus);

gboolean mm_client_is_running(FotaMmClient *self);

/* Our modem among ModemManager's. Either key may be NULL. The result is NULL
 * without an error when ModemManager does not run or does not manage it.
 * Asks the bus even before the name watch reported, so a caller right after
 * mm_client_new() gets the truth. */
void mm_client_find_modem(FotaMmClient *self, const char *device_syspath,
                          const char *tty_kernel_name, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full) (nullable): free with mm_modem_free() */
MmModem *mm_client_find_modem_finish(FotaMmClient *self, GAsyncResult *result, GError **error);

/* InhibitDevice(@uid, @inhibit) on /org/freedesktop/ModemManager1. @uid is
 * the modem's Device. Fails with MM_CLIENT_ERROR_NOT_RUNNING when
 * ModemManager is not on the bus, MM_CLIENT_ERROR_CALL when it refuses. */
void mm_client_inhibit(FotaMmClient *self, const char *uid, gboolean inhibit,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean mm_client_inhibit_finish(FotaMmClient *self, GAsyncResult *result, GError **error);
