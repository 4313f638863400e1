/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "job-neighbours.h"
#include "job-record.h"
#include "job-store.h"
#include "modem.h"

/* The job lifecycle: checks a request before anything reaches the modem,
 * writes a new job's record before the job starts, runs one job at a time,
 * resumes a stored job, keeps the last finished one, and retries saves that
 * failed. The bus adapter (dbus-service.c) only translates.
 *
 * Signals:
 *   "progress" ()  the current record's state or percent changed
 *   "finished" ()  the current job reached its final state
 *   "loaded"   ()  job_manager_load() found the stored record (shown
 *                  before a resumed job goes on)
 */

#define FOTA_TYPE_JOB_MANAGER (job_manager_get_type())
G_DECLARE_FINAL_TYPE(FotaJobManager, job_manager, FOTA, JOB_MANAGER, GObject)

/* @boot_id is this boot's. @neighbours is told of every job's lifecycle: a
 * job's first byte waits for job_neighbours_begin().
 * @config: (transfer none): must outlive the manager
 * @modem: (transfer none): the manager takes a reference
 * @store: (transfer none): must outlive the manager
 * @neighbours: (transfer none): the manager takes a reference
 * Returns: (transfer full) */
FotaJobManager *job_manager_new(const FotadConfig *config, FotaModem *modem, JobStore *store,
                                FotaJobNeighbours *neighbours, const char *boot_id);

/* Loads the stored job: a final one is shown, an unfinished one resumed, an
 * unreadable one reported as a failure of its own. Call before the modem
 * starts, so that a resumed job sees the modem's first "ready". */
void job_manager_load(FotaJobManager *self);

/* Called once with the new job's id, or with why there is none
 * (FOTA_DBUS_ERROR domain, or G_DBUS_ERROR_IO_ERROR), before the job's
 * first "progress". */
typedef void (*JobStartReply)(const char *job_id, const GError *error, gpointer user_data);

void job_manager_start_url(FotaJobManager *self, const char *url, GVariant *options,
                           JobStartReply reply, gpointer user_data);
/* @fd: (transfer full) */
void job_manager_start_file(FotaJobManager *self, int fd, GVariant *options, JobStartReply reply,
                            gpointer user_data);

/* Cancels the running job, or a Start call still checking its package or
 * waiting for the modem (which then answers FOTA_DBUS_ERROR_CANCELLED). */
gboolean job_manager_cancel(FotaJobManager *self, GError **error);

/* The running job's record, else the last finished one; NULL when none.
 * Returns: (transfer none) */
const JobRecord *job_manager_get_record(FotaJobManager *self);
/* Why the record could not be saved the last time, NULL when it was.
 * Returns: (transfer none) */
const char *job_manager_get_storage_error(FotaJobManager *self);

/* Saves the running job now (shutdown); FALSE when that failed. */
gboolean job_manager_persist(FotaJobManager *self);

/* The D-Bus error for a modem that could not be reached or identified:
 * NoModem when there is no port (MODEM_ERROR_ABSENT), else ModemError; the
 * message is @error's. A Start waiting for the modem's identity and
 * GetModemInfo answer with it.
 * Returns: (transfer full) */
GError *job_manager_modem_error_to_dbus(const GError *error);
