/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "fota-dbus-error.h"
#include "job-record.h"
#include "qind-parse.h"

/* Pure: what a +QIND: "FOTA" URC or a verdict does to a JobRecord. No I/O,
 * no timers. The record's writer calls these (job-record.h): job-machine.c
 * for a running job, job-manager.c for a record it builds. */

typedef enum {
	JOB_PROGRESS_NONE = 0,
	JOB_PROGRESS_RELEVANT = 1 << 0,   /* a URC that belongs to this phase (resets urc-gap) */
	JOB_PROGRESS_PERCENT = 1 << 1,    /* record->percent changed */
	JOB_PROGRESS_STATE = 1 << 2,      /* record->state changed (perhaps to a final one) */
	JOB_PROGRESS_DL_STARTED = 1 << 3, /* FTPSTART/HTTPSTART/HTTPSSTART/FILESTART */
	JOB_PROGRESS_DL_DONE = 1 << 4,    /* *END,0: the point of no return */
	JOB_PROGRESS_END = 1 << 5,        /* END,<n> seen (end_code set) */
} JobProgressChange;

/* Applies one parsed URC. URCs that mean nothing in the current state (an
 * UPDATING while preparing, anything after the job ended, the FILEEND,500 a
 * modem sends after a cancelled stream) change nothing and return NONE. */
JobProgressChange job_progress_apply(JobRecord *record, const QindFota *qind, gint64 now_us);

/* Enters @state: percent back to 0, state_since_us = now, finished_us for
 * the final states. No-op (FALSE) when already there. */
gboolean job_progress_set_state(JobRecord *record, FotaState state, gint64 now_us);

/* Ends the job as failed with @code's D-Bus name, the modem's @modem_code
 * (JOB_UNSET for none) and @message. */
void job_progress_fail(JobRecord *record, FotaDBusError code, gint modem_code, const char *message,
                       gint64 now_us);

/* Ends the job as cancelled (error and message cleared, message set). */
void job_progress_cancel(JobRecord *record, const char *message, gint64 now_us);

/* Compares the revision read after the reboot with what was expected and
 * concludes: succeeded, or failed with VerifyFailed. Sets to_revision. */
void job_progress_verify(JobRecord *record, const char *revision, gint64 now_us);

/* Why a revision read after the job means the upgrade did not take:
 * "modem reports X, expected Y" or "modem still reports X after the update
 * (was Y)".
 * Returns: (transfer full) */
char *job_progress_unchanged_message(const JobRecord *record, const char *revision);

/* Whether a revision read after a mode-0 reboot shows the update already
 * happened (differs from from-revision, or equals expected-revision). */
gboolean job_progress_revision_changed(const JobRecord *record, const char *revision);

/* The verdict on a record that could not be read (@reason names the file
 * it was moved to): an outcome nobody knows is reported as UpgradeFailed,
 * never as "no job". */
void job_progress_unreadable(JobRecord *record, const char *reason, gint64 now_us);

/* "HTTP" / "HTTPS" / "FTP" / "File": how messages name the download.
 * Returns: (transfer none) */
const char *job_progress_source_label(FotaSourceKind kind);

/* 0..100 from the k-th of @max steps (@max 0: k is already a percent). */
guint job_progress_percent(gint64 k, guint max);
