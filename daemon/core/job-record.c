/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "job-record.h"

#include <time.h>

static const char *const state_names[] = {
        [FOTA_STATE_IDLE] = "idle",
        [FOTA_STATE_PREPARING] = "preparing",
        [FOTA_STATE_DOWNLOADING] = "downloading",
        [FOTA_STATE_REBOOTING] = "rebooting",
        [FOTA_STATE_UPDATING] = "updating",
        [FOTA_STATE_VERIFYING] = "verifying",
        [FOTA_STATE_SUCCEEDED] = "succeeded",
        [FOTA_STATE_FAILED] = "failed",
        [FOTA_STATE_CANCELLED] = "cancelled",
};

static const char *const source_names[] = {
        [FOTA_SOURCE_FTP] = "ftp",
        [FOTA_SOURCE_HTTP] = "http",
        [FOTA_SOURCE_HTTPS] = "https",
        [FOTA_SOURCE_FILE] = "file",
};

static gboolean
lookup_name(const char *const *names, guint n, const char *str, guint *out)
{
	for (guint i = 0; i < n; i++) {
		if (g_strcmp0(names[i], str) == 0) {
			*out = i;
			return TRUE;
		}
	}
	return FALSE;
}

const char *
fota_state_to_string(FotaState state)
{
	g_return_val_if_fail((guint)state < G_N_ELEMENTS(state_names), "unknown");
	return state_names[state];
}

gboolean
fota_state_from_string(const char *str, FotaState *state)
{
	guint i;

	if (!lookup_name(state_names, G_N_ELEMENTS(state_names), str, &i))
		return FALSE;
	*state = i;
	return TRUE;
}

gboolean
fota_state_is_final(FotaState state)
{
	return state == FOTA_STATE_SUCCEEDED || state == FOTA_STATE_FAILED ||
	       state == FOTA_STATE_CANCELLED;
}

const char *
fota_source_kind_to_string(FotaSourceKind kind)
{
	g_return_val_if_fail((guint)kind < G_N_ELEMENTS(source_names), "unknown");
	return source_names[kind];
}

gboolean
fota_source_kind_from_string(const char *str, FotaSourceKind *kind)
{
	guint i;

	if (!lookup_name(source_names, G_N_ELEMENTS(source_names), str, &i))
		return FALSE;
	*kind = i;
	return TRUE;
}

void
job_options_init(JobOptions *options)
{
	*options = (JobOptions){
	        .upgrade_mode = 1,
	        .download_urc_max = 100,
	        .update_urc_max = JOB_UNSET,
	        .cid = JOB_UNSET,
	};
}

void
job_options_clear(JobOptions *options)
{
	g_clear_pointer(&options->expected_revision, g_free);
	g_clear_pointer(&options->sha256, g_free);
	g_clear_pointer(&options->apn, g_free);
}

JobRecord *
job_record_new(void)
{
	JobRecord *record = g_new0(JobRecord, 1);

	record->state = FOTA_STATE_IDLE;
	record->end_code = JOB_UNSET;
	record->error_code = JOB_UNSET;
	job_options_init(&record->options);
	return record;
}

void
job_record_free(JobRecord *record)
{
	if (record == NULL)
		return;
	job_options_clear(&record->options);
	g_free(record->id);
	g_free(record->source);
	g_free(record->error);
	g_free(record->message);
	g_free(record->from_revision);
	g_free(record->to_revision);
	g_free(record->sent_sha256);
	g_free(record->boot_id);
	g_free(record->port);
	g_free(record->usb_power_previous);
	g_free(record);
}

JobRecord *
job_record_copy(const JobRecord *record)
{
	JobRecord *copy = g_memdup2(record, sizeof(*record));

	copy->options.expected_revision = g_strdup(record->options.expected_revision);
	copy->options.sha256 = g_strdup(record->options.sha256);
	copy->options.apn = g_strdup(record->options.apn);
	copy->id = g_strdup(record->id);
	copy->source = g_strdup(record->source);
	copy->error = g_strdup(record->error);
	copy->message = g_strdup(record->message);
	copy->from_revision = g_strdup(record->from_revision);
	copy->to_revision = g_strdup(record->to_revision);
	copy->sent_sha256 = g_strdup(record->sent_sha256);
	copy->boot_id = g_strdup(record->boot_id);
	copy->port = g_strdup(record->port);
	copy->usb_power_previous = g_strdup(record->usb_power_previous);
	return copy;
}

gint64
job_clock_boottime_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return g_get_monotonic_time(); /* never on Linux >= 2.6.39 */
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}
