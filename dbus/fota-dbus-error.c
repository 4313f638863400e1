/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>
#include <string.h>

#include "fota-dbus-error.h"

static const GDBusErrorEntry fota_dbus_error_entries[] = {
        {FOTA_DBUS_ERROR_INVALID_ARGUMENT, "org.quectel.Fota1.Error.InvalidArgument"},
        {FOTA_DBUS_ERROR_BUSY, "org.quectel.Fota1.Error.Busy"},
        {FOTA_DBUS_ERROR_NOT_AUTHORIZED, "org.quectel.Fota1.Error.NotAuthorized"},
        {FOTA_DBUS_ERROR_NO_MODEM, "org.quectel.Fota1.Error.NoModem"},
        {FOTA_DBUS_ERROR_MODEM_ERROR, "org.quectel.Fota1.Error.ModemError"},
        {FOTA_DBUS_ERROR_TIMEOUT, "org.quectel.Fota1.Error.Timeout"},
        {FOTA_DBUS_ERROR_NOT_CANCELLABLE, "org.quectel.Fota1.Error.NotCancellable"},
        {FOTA_DBUS_ERROR_NOT_SUPPORTED, "org.quectel.Fota1.Error.NotSupported"},
        {FOTA_DBUS_ERROR_DOWNLOAD_FAILED, "org.quectel.Fota1.Error.DownloadFailed"},
        {FOTA_DBUS_ERROR_UPGRADE_FAILED, "org.quectel.Fota1.Error.UpgradeFailed"},
        {FOTA_DBUS_ERROR_VERIFY_FAILED, "org.quectel.Fota1.Error.VerifyFailed"},
        {FOTA_DBUS_ERROR_CANCELLED, "org.quectel.Fota1.Error.Cancelled"},
        {FOTA_DBUS_ERROR_STORAGE_ERROR, "org.quectel.Fota1.Error.StorageError"},
};

G_STATIC_ASSERT(G_N_ELEMENTS(fota_dbus_error_entries) == FOTA_DBUS_ERROR_N_ERRORS);

GQuark
fota_dbus_error_quark(void)
{
	static gsize quark = 0;

	g_dbus_error_register_error_domain("quectel-fotad-dbus-error-quark", &quark,
	                                   fota_dbus_error_entries,
	                                   G_N_ELEMENTS(fota_dbus_error_entries));
	return (GQuark)quark;
}

const char *
fota_dbus_error_name(FotaDBusError code)
{
	g_return_val_if_fail((guint)code < FOTA_DBUS_ERROR_N_ERRORS, NULL);
	return fota_dbus_error_entries[code].dbus_error_name;
}

gboolean
fota_dbus_error_from_name(const char *name, FotaDBusError *code)
{
	for (guint i = 0; i < G_N_ELEMENTS(fota_dbus_error_entries); i++) {
		if (g_strcmp0(name, fota_dbus_error_entries[i].dbus_error_name) == 0) {
			*code = fota_dbus_error_entries[i].error_code;
			return TRUE;
		}
	}
	return FALSE;
}
