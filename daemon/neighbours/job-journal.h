/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "job-record.h"

/* Job events as structured journal entries. Each kind has a fixed
 * MESSAGE_ID, explained in systemd/quectel-fotad.catalog, so that
 * `journalctl MESSAGE_ID=<id>` lists e.g. every failed upgrade. */

#define JOB_JOURNAL_ERROR (job_journal_error_quark())
GQuark job_journal_error_quark(void);

typedef enum {
	JOB_JOURNAL_ERROR_SEND, /* sd_journal_sendv() failed */
} JobJournalError;

typedef enum {
	JOB_JOURNAL_STARTED,
	JOB_JOURNAL_STATE_CHANGED,
	JOB_JOURNAL_RESUMED,
	JOB_JOURNAL_SUCCEEDED,
	JOB_JOURNAL_FAILED,
	JOB_JOURNAL_CANCELLED,
	JOB_JOURNAL_RECORD_UNREADABLE,
	JOB_JOURNAL_N_EVENTS,
} JobJournalEvent;

/* Longest value of a field in bytes (MESSAGE may be longer: it quotes
 * @message). Longer values are cut at a character boundary. */
#define JOB_JOURNAL_FIELD_MAX   256
#define JOB_JOURNAL_MESSAGE_MAX 1024

/* The 32 lower-case hex digits of @event's MESSAGE_ID.
 * Returns: (transfer none) */
const char *job_journal_message_id(JobJournalEvent event);

/* The fields of one journal entry, "KEY=value" each: MESSAGE, MESSAGE_ID,
 * PRIORITY, and of QUECTEL_FOTA_JOB_ID, _STATE, _ERROR, _MODEM_CODE,
 * _FROM_REVISION, _TO_REVISION, _PORT those that are set. @record may be
 * NULL (an unreadable record has none); @port is the tty in use (NULL: the
 * record's port identity); @message is one line for people (NULL: none;
 * for RECORD_UNREADABLE, what was wrong). Values are valid UTF-8 without
 * control bytes, at most JOB_JOURNAL_FIELD_MAX bytes. Pure.
 * Returns: (transfer full): the array frees its strings */
GPtrArray *job_journal_fields(JobJournalEvent event, const JobRecord *record, const char *port,
                              const char *message);

/* job_journal_fields() sent with sd_journal_sendv(). */
gboolean job_journal_send(JobJournalEvent event, const JobRecord *record, const char *port,
                          const char *message, GError **error);
