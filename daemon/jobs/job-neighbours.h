/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "job-record.h"
#include "modem.h"

/* The daemon's neighbours around a job, composed from daemon/neighbours:
 * ModemManager (the port between jobs, InhibitDevice during one), logind
 * (a shutdown:sleep inhibitor), the USB device's runtime power and the
 * journal. FotaJobManager calls it at the job's lifecycle points; the job knows
 * nothing of it. Nothing here is fatal: a peer that is missing or refuses
 * is logged (a missing one once) and the job goes on. Peers are looked up on
 * the daemon's own long-lived connection: ModemManager ends an inhibition
 * when its caller leaves the bus. */

/* The longest a job waits for its neighbours before its first byte. */
#define JOB_NEIGHBOURS_BEGIN_TIMEOUT_MS 5000
/* After ModemManager appeared or got the modem back, the port stays closed
 * this long even when it does not list the modem yet (its probe takes 4-6 s);
 * then the daemon may use it again if ModemManager still does not manage it. */
#define JOB_NEIGHBOURS_MM_PROBE_GRACE_S 30

typedef enum {
	JOB_LOCK_NONE,
	JOB_LOCK_DELAY, /* downloading: a shutdown may wait a little */
	JOB_LOCK_BLOCK, /* the modem took the whole package: no shutdown until final */
} JobLockMode;

/* Which logind lock a job with @record needs. Pure. */
JobLockMode job_neighbours_lock_mode(const JobRecord *record);
/* "block", "delay", or NULL for none.
 * Returns: (transfer none) */
const char *job_lock_mode_to_string(JobLockMode mode);
/* The sysfs path of a "usb:<vid>:<pid>:<devpath>" port identity
 * ("/sys" + devpath); NULL for any other identity. Pure.
 * Returns: (transfer full) */
char *job_neighbours_usb_syspath(const char *port_identity);

#define FOTA_TYPE_JOB_NEIGHBOURS (job_neighbours_get_type())
G_DECLARE_FINAL_TYPE(FotaJobNeighbours, job_neighbours, FOTA, JOB_NEIGHBOURS, GObject)

/* Journal only, until connected.
 * @config: (transfer none): must outlive the object
 * @modem: (transfer none): the object takes a reference
 * Returns: (transfer full) */
FotaJobNeighbours *job_neighbours_new(const FotadConfig *config, FotaModem *modem);

/* Peers on @bus from now on. Keeps the port closed until it knows whether
 * ModemManager manages the modem: call before modem_start(), then
 * job_neighbours_settle() after it.
 * @bus: (transfer none): the object takes a reference */
void job_neighbours_connect(FotaJobNeighbours *self, GDBusConnection *bus);
void job_neighbours_settle(FotaJobNeighbours *self);
/* Whether the first look at who has the port between jobs (ModemManager or
 * us) is done; "settled" () is emitted when it is. Also TRUE without a bus
 * (tests): there is nobody else. */
gboolean job_neighbours_is_settled(FotaJobNeighbours *self);

/* Before a job's (new or resumed) first byte to the port: the USB device's
 * power/control forced "on", the logind lock, InhibitDevice(Device, true);
 * then the port is opened. Always succeeds, within
 * JOB_NEIGHBOURS_BEGIN_TIMEOUT_MS.
 * Returns: (transfer full) (nullable): the power/control value @record is to
 * keep from now on (the one before, or the one an earlier job on that
 * device could not write back yet); NULL when @record keeps one already or
 * none was read. The record's owner stores it (job-record.h). */
char *job_neighbours_begin(FotaJobNeighbours *self, const JobRecord *record,
                           GAsyncReadyCallback callback, gpointer user_data);
void job_neighbours_begin_finish(FotaJobNeighbours *self, GAsyncResult *result);

/* The journal's "started" or "resumed" for @record. */
void job_neighbours_started(FotaJobNeighbours *self, const JobRecord *record, gboolean resumed);
/* Every change of a running job's record: the journal's "state changed",
 * and the lock from delay to block once the modem has the package. */
void job_neighbours_changed(FotaJobNeighbours *self, const JobRecord *record);
/* The job is final (its lease is released): journal it, then undo what
 * job_neighbours_begin() did and give the port back to ModemManager.
 * Returns whether @record's usb_power_previous was written back (or there
 * was none): only then may the caller drop it from the record. Otherwise it
 * is tried again when the modem's port returns ("power-restored"), by the
 * next job on that USB device, and by job_neighbours_restore_power() at the
 * next start. */
gboolean job_neighbours_final(FotaJobNeighbours *self, const JobRecord *record);
/* A begun job that never started (cancelled, its record not written): undo
 * job_neighbours_begin() without a journal entry. */
void job_neighbours_abandon(FotaJobNeighbours *self, const JobRecord *record);
/* A final job's USB power/control, still saved in its record: the daemon
 * stopped before it was written back. Returns as job_neighbours_final(). */
gboolean job_neighbours_restore_power(FotaJobNeighbours *self, const JobRecord *record);
/* The stored record could not be read. */
void job_neighbours_unreadable(FotaJobNeighbours *self, const char *message);

/* Signals:
 *   "settled" ()         see job_neighbours_is_settled()
 *   "power-restored" ()  the power/control value the last final job's record
 *                        keeps (job_neighbours_final() or _restore_power()
 *                        returned FALSE) is written back now: the modem's
 *                        port returned between jobs, or a Start that took it
 *                        over was abandoned. Drop it from that record. */

/* GetModemInfo: from ModemManager's modem object while it manages the modem
 * and no job runs (qfotadl-ranges only when known from the port before),
 * else modem_query_info(). */
void job_neighbours_query_info(FotaJobNeighbours *self, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full) */
ModemInfo *job_neighbours_query_info_finish(FotaJobNeighbours *self, GAsyncResult *result,
                                            GError **error);
