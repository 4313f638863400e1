/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "job-record.h"
#include "modem.h"

/* One upgrade job, from preparing to its final state. The job's state lives
 * in its JobRecord; every change is handed to the save function before it
 * is announced.
 *
 * Signals:
 *   "progress" ()  the record's state or percent changed
 *   "finished" ()  the job reached a final state. Emitted once, from the
 *                  main loop after the change, never from inside a call
 *                  into the job: a handler may drop the last reference.
 */

#define FOTA_TYPE_JOB (fota_job_get_type())
G_DECLARE_FINAL_TYPE(FotaJob, fota_job, FOTA, JOB, GObject)

/* Persists @record. The job goes on whether or not the disk took it (the
 * modem does not wait for the disk): a save function that cannot write
 * keeps the latest record and retries on its own, and says so where the
 * job's state is shown (job-manager.c: save_record()). */
typedef void (*FotaJobSaveFunc)(const JobRecord *record, gpointer user_data);

/* @record: (transfer full): id, source, options, boot id filled in; the
 * job's machine alone changes it from now on (job-record.h)
 * @package_fd: (transfer full): FILE mode, else -1
 * @modem: (transfer none): the job takes a reference
 * @config: (transfer none): must outlive the job
 * Returns: (transfer full) */
FotaJob *fota_job_new(JobRecord *record, int package_fd, FotaModem *modem,
                      const FotadConfig *config, FotaJobSaveFunc save, gpointer save_data);

/* A new job: waits for the modem's port, prepares, sends AT+QFOTADL. */
void fota_job_start(FotaJob *self);

/* A job loaded from the store, not final: decide from its state, its
 * progress flags and whether the host rebooted (@boot_id differs from the
 * record's) whether to follow it, or wait for the modem and conclude from
 * its revision. The record keeps @boot_id, and @usb_power_previous (the USB
 * device's power/control before the daemon forced it on, NULL when it did
 * not) unless it keeps the value from before the job's first start. */
void fota_job_resume(FotaJob *self, const char *boot_id, const char *usb_power_previous);

/* FOTA_DBUS_ERROR_NOT_CANCELLABLE after the modem took the whole package. */
gboolean fota_job_cancel(FotaJob *self, GError **error);

/* Returns: (transfer none) */
const JobRecord *fota_job_get_record(FotaJob *self);
gboolean fota_job_is_finished(FotaJob *self);

/* The daemon stops: the job no longer talks to the modem or saves; its
 * record stays as last saved, for the next start to resume. */
void fota_job_shutdown(FotaJob *self);

/* Saves the record now (on shutdown: percent saves are rate-limited). */
void fota_job_persist(FotaJob *self);
