/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "job-store.h"
#include "modem.h"

/* The org.quectel.Fota1 object at /org/quectel/Fota1: validates requests
 * before anything reaches the modem, runs one FotaJob at a time, mirrors the
 * job into properties and signals, and keeps the last finished job for
 * GetJob until the next one starts. */

#define FOTA_SERVICE_PATH "/org/quectel/Fota1"
#define FOTA_SERVICE_NAME "org.quectel.Fota1"

typedef struct _FotaService FotaService;

/* @config, @store must outlive the service; @boot_id is this host boot's. */
FotaService *fota_service_new(const FotadConfig *config, Modem *modem, JobStore *store,
                              const char *boot_id);
void fota_service_free(FotaService *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FotaService, fota_service_free)

gboolean fota_service_export(FotaService *self, GDBusConnection *connection, GError **error);

/* Loads the stored job: a final one is shown, an unfinished one resumed, an
 * unreadable one reported as a failure (State failed, LastError set). */
void fota_service_load_job(FotaService *self);

/* Saves the running job (shutdown). */
void fota_service_persist(FotaService *self);
