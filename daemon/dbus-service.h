/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "job-manager.h"
#include "modem.h"

/* The org.quectel.Fota1 object at /org/quectel/Fota1: a thin adapter that
 * turns method calls into FotaJobManager and Modem calls and mirrors their
 * state into properties and signals. The rules live there. */

#define FOTA_SERVICE_PATH "/org/quectel/Fota1"
#define FOTA_SERVICE_NAME "org.quectel.Fota1"

typedef struct _FotaService FotaService;

/* @manager, @modem, @neighbours: (transfer none): the service takes a
 *   reference to each
 * Returns: (transfer full): free with fota_service_free() */
FotaService *fota_service_new(FotaJobManager *manager, FotaModem *modem,
                              FotaJobNeighbours *neighbours);
void fota_service_free(FotaService *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FotaService, fota_service_free)

gboolean fota_service_export(FotaService *self, GDBusConnection *connection, GError **error);
