/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "job-progress.h"

#include "fota-errors.h"

const char *
job_progress_source_label(FotaSourceKind kind)
{
	switch (kind) {
	case FOTA_SOURCE_FTP:
		return "FTP";
	case FOTA_SOURCE_HTTP:
		return "HTTP";
	case FOTA_SOURCE_HTTPS:
		return "HTTPS";
	case FOTA_SOURCE_FILE:
		return "File";
	}
	return "Package";
}

guint
job_progress_percent(gint64 k, guint max)
{
	gint64 percent;

	/* The guide's examples count 1..N; modems have been seen to overshoot
	 * and to send garbage, so clamp rather than trust. */
	if (k <= 0)
		return 0;
	if (k >= G_MAXINT64 / 100)
		return 100;
	percent = max > 0 ? k * 100 / (gint64)max : k;
	return MIN(percent, 100);
}

gboolean
job_progress_set_state(JobRecord *record, FotaState state, gint64 now_us)
{
	if (record->state == state)
		return FALSE;
	record->state = state;
	record->state_since_us = now_us;
	if (state == FOTA_STATE_SUCCEEDED)
		record->percent = 100;
	else if (!fota_state_is_final(state))
		record->percent = 0;
	/* failed/cancelled keep the percent reached: it tells where it stopped */
	if (fota_state_is_final(state))
		record->finished_us = now_us;
	return TRUE;
}

void
job_progress_fail(JobRecord *record, FotaDBusError code, gint modem_code, const char *message,
                  gint64 now_us)
{
	g_free(record->error);
	record->error = g_strdup(fota_dbus_error_name(code));
	record->error_code = modem_code;
	g_free(record->message);
	record->message = g_strdup(message);
	job_progress_set_state(record, FOTA_STATE_FAILED, now_us);
}

void
job_progress_cancel(JobRecord *record, const char *message, gint64 now_us)
{
	g_clear_pointer(&record->error, g_free);
	record->error_code = JOB_UNSET;
	g_free(record->message);
	record->message = g_strdup(message);
	job_progress_set_state(record, FOTA_STATE_CANCELLED, now_us);
}

gboolean
job_progress_revision_changed(const JobRecord *record, const char *revision)
{
	if (record->options.expected_revision != NULL &&
	    g_str_equal(revision, record->options.expected_revision))
		return TRUE;
	return record->from_revision != NULL && !g_str_equal(revision, record->from_revision);
}

char *
job_progress_unchanged_message(const JobRecord *record, const char *revision)
{
	if (record->options.expected_revision != NULL)
		return g_strdup_printf("modem reports %s, expected %s", revision,
		                       record->options.expected_revision);
	return g_strdup_printf("modem still reports %s after the update (was %s)", revision,
	                       record->from_revision ? record->from_revision : "unknown");
}

void
job_progress_verify(JobRecord *record, const char *revision, gint64 now_us)
{
	const char *expected = record->options.expected_revision;
	g_autofree char *message = NULL;

	g_free(record->to_revision);
	record->to_revision = g_strdup(revision);
	if ((expected != NULL && !g_str_equal(revision, expected)) ||
	    (expected == NULL && !job_progress_revision_changed(record, revision))) {
		message = job_progress_unchanged_message(record, revision);
		job_progress_fail(record, FOTA_DBUS_ERROR_VERIFY_FAILED, JOB_UNSET, message,
		                  now_us);
		return;
	}
	g_free(record->message);
	record->message =
	        g_strdup_printf("upgraded from %s to %s",
	                        record->from_revision ? record->from_revision : "?", revision);
	g_clear_pointer(&record->error, g_free);
	job_progress_set_state(record, FOTA_STATE_SUCCEEDED, now_us);
}

static gboolean
int_value(const QindFota *qind, gint64 *value)
{
	if (qind->value_kind != QIND_VALUE_INT)
		return FALSE;
	*value = qind->value;
	return TRUE;
}

static JobProgressChange
enter(JobRecord *record, FotaState state, gint64 now_us)
{
	return job_progress_set_state(record, state, now_us) ? JOB_PROGRESS_STATE : 0;
}

static JobProgressChange
set_percent(JobRecord *record, guint percent)
{
	if (record->percent == percent)
		return JOB_PROGRESS_NONE;
	record->percent = percent;
	return JOB_PROGRESS_PERCENT;
}

/* 500 (FILE), 601..699 (FTP), 701..799 (HTTP(S)): the guide's download
 * tables, with room for codes of sibling models. */
static gboolean
is_download_code(gint64 code)
{
	return code == 500 || (code > 600 && code < 800);
}

static JobProgressChange
download_end(JobRecord *record, gint64 code, gint64 now_us)
{
	g_autofree char *what = NULL;
	g_autofree char *message = NULL;

	if (code != 0) {
		what = fota_error_describe(code);
		message = g_strdup_printf("%s download failed: %s",
		                          job_progress_source_label(record->source_kind), what);
		job_progress_fail(record, FOTA_DBUS_ERROR_DOWNLOAD_FAILED, (gint)code, message,
		                  now_us);
		return JOB_PROGRESS_RELEVANT | JOB_PROGRESS_STATE;
	}
	record->download_done = TRUE;
	record->percent = 100;
	/* Mode 0 reboots now and upgrades after the reboot; mode 1 goes on
	 * with START on the same port. */
	if (record->options.upgrade_mode == 0)
		return JOB_PROGRESS_RELEVANT | JOB_PROGRESS_DL_DONE |
		       enter(record, FOTA_STATE_REBOOTING, now_us);
	return JOB_PROGRESS_RELEVANT | JOB_PROGRESS_DL_DONE | JOB_PROGRESS_PERCENT;
}

static JobProgressChange
update_end(JobRecord *record, gint64 code, gint64 now_us)
{
	g_autofree char *what = NULL;
	g_autofree char *message = NULL;

	record->end_code = (gint)CLAMP(code, G_MININT, G_MAXINT);
	if (code != 0) {
		what = fota_error_describe(code);
		message = g_strdup_printf("upgrade failed: %s", what);
		job_progress_fail(record, FOTA_DBUS_ERROR_UPGRADE_FAILED, record->end_code, message,
		                  now_us);
		return JOB_PROGRESS_RELEVANT | JOB_PROGRESS_END | JOB_PROGRESS_STATE;
	}
	/* The modem reboots by itself after a successful upgrade. */
	return JOB_PROGRESS_RELEVANT | JOB_PROGRESS_END |
	       enter(record, FOTA_STATE_REBOOTING, now_us);
}

/* Update-phase URCs: START, UPDATING, END. Also accepted while rebooting
 * (mode 0: the returned port reports the update) and, once the download is
 * done, while still downloading (a modem that skips *END). */
static JobProgressChange
apply_update_stage(JobRecord *record, const QindFota *qind, gint64 now_us)
{
	JobProgressChange change = JOB_PROGRESS_RELEVANT;
	guint max;
	gint64 v;

	if (record->end_code == 0)
		return JOB_PROGRESS_NONE; /* the update is over; a straggler changes nothing */
	if (record->state == FOTA_STATE_DOWNLOADING && !record->download_done) {
		/* A download cut by the network is reported as END,701 or 702
		 * with no *END (field logs): a code of the download tables. */
		if (qind->kind == QIND_STAGE_END && int_value(qind, &v) && is_download_code(v))
			return download_end(record, v, now_us);
		/* START, UPDATING or RESTORE without *END,0 (some modems skip
		 * them): the modem would not touch its flash without a whole
		 * package. */
		record->download_done = TRUE;
		change |= JOB_PROGRESS_DL_DONE;
	}
	if (qind->kind == QIND_STAGE_END) {
		if (!int_value(qind, &v))
			return JOB_PROGRESS_NONE;
		return change | update_end(record, v, now_us);
	}
	/* RESTORE: the modem puts its old firmware back after a failed
	 * update; END follows */
	change |= enter(record, FOTA_STATE_UPDATING, now_us);
	if (qind->kind == QIND_STAGE_UPDATING && int_value(qind, &v)) {
		max = record->options.update_urc_max > 0 ? (guint)record->options.update_urc_max
		                                         : 0;
		change |= set_percent(record, job_progress_percent(v, max));
	}
	return change;
}

static JobProgressChange
apply_download_stage(JobRecord *record, const QindFota *qind, gint64 now_us)
{
	gint64 v;

	if (record->state != FOTA_STATE_DOWNLOADING || record->download_done)
		return JOB_PROGRESS_NONE;
	if (qind_stage_is_download_start(qind->kind))
		return JOB_PROGRESS_RELEVANT | JOB_PROGRESS_DL_STARTED;
	if (qind_stage_is_download_end(qind->kind)) {
		if (!int_value(qind, &v))
			return JOB_PROGRESS_NONE;
		return download_end(record, v, now_us);
	}
	if (qind->kind == QIND_STAGE_DOWNLOADING && int_value(qind, &v))
		return JOB_PROGRESS_RELEVANT |
		       set_percent(record,
		                   job_progress_percent(v, record->options.download_urc_max));
	return JOB_PROGRESS_NONE;
}

JobProgressChange
job_progress_apply(JobRecord *record, const QindFota *qind, gint64 now_us)
{
	switch (record->state) {
	case FOTA_STATE_DOWNLOADING:
	case FOTA_STATE_REBOOTING:
	case FOTA_STATE_UPDATING:
		break;
	default:
		/* idle, preparing (nothing accepted yet), verifying (the update
		 * is over), final states (e.g. FILEEND,500 after a cancel) */
		return JOB_PROGRESS_NONE;
	}
	switch (qind->kind) {
	case QIND_STAGE_START:
	case QIND_STAGE_UPDATING:
	case QIND_STAGE_RESTORE:
	case QIND_STAGE_END:
		return apply_update_stage(record, qind, now_us);
	default:
		return apply_download_stage(record, qind, now_us);
	}
}

void
job_progress_unreadable(JobRecord *record, const char *reason, gint64 now_us)
{
	g_autofree char *message = g_strdup_printf("job record unreadable: %s", reason);

	g_free(record->id);
	record->id = g_strdup("");
	job_progress_fail(record, FOTA_DBUS_ERROR_UPGRADE_FAILED, JOB_UNSET, message, now_us);
}
