/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The org.quectel.Fota1.Error.* names, as a GError domain registered with
 * GDBus so that errors cross the bus with their names intact. */
typedef enum {
	FOTA_DBUS_ERROR_INVALID_ARGUMENT,
	FOTA_DBUS_ERROR_BUSY,
	FOTA_DBUS_ERROR_NOT_AUTHORIZED,
	FOTA_DBUS_ERROR_NO_MODEM,
	FOTA_DBUS_ERROR_MODEM_ERROR,
	FOTA_DBUS_ERROR_TIMEOUT,
	FOTA_DBUS_ERROR_NOT_CANCELLABLE,
	FOTA_DBUS_ERROR_NOT_SUPPORTED,
	FOTA_DBUS_ERROR_DOWNLOAD_FAILED,
	FOTA_DBUS_ERROR_UPGRADE_FAILED,
	FOTA_DBUS_ERROR_VERIFY_FAILED,
	FOTA_DBUS_ERROR_CANCELLED,     /* a Start call ended by Cancel before its job began */
	FOTA_DBUS_ERROR_STORAGE_ERROR, /* the job record cannot be written */
} FotaDBusError;

#define FOTA_DBUS_ERROR_N_ERRORS (FOTA_DBUS_ERROR_STORAGE_ERROR + 1)

#define FOTA_DBUS_ERROR (fota_dbus_error_quark())
GQuark fota_dbus_error_quark(void);

/* "org.quectel.Fota1.Error.Busy" for FOTA_DBUS_ERROR_BUSY, and so on. */
const char *fota_dbus_error_name(FotaDBusError code);
/* The reverse; FALSE for a name that is not ours. */
gboolean fota_dbus_error_from_name(const char *name, FotaDBusError *code);
