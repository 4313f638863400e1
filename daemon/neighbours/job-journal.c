/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "job-journal.h"

#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-job-journal-error-quark, job_journal_error)
/* clang-format on */

typedef struct {
	const char *message_id; /* keep in step with systemd/quectel-fotad.catalog */
	int priority;
	const char *verb; /* "Firmware upgrade job <id> <verb>" */
} EventInfo;

static const EventInfo events[JOB_JOURNAL_N_EVENTS] = {
        [JOB_JOURNAL_STARTED] = {"2f761a48f7f14ebd8cd98ab7a7eaaff8", LOG_NOTICE, "started"},
        [JOB_JOURNAL_STATE_CHANGED] = {"53d30d62992240609d24c2ba9b1fa3a6", LOG_INFO,
                                       "changed state"},
        [JOB_JOURNAL_RESUMED] = {"bba14d7fdde343d292d9f8bd577d170d", LOG_NOTICE,
                                 "resumed after a restart"},
        [JOB_JOURNAL_SUCCEEDED] = {"e56eab7643e04de8a65f254a2d4d44b4", LOG_NOTICE, "succeeded"},
        [JOB_JOURNAL_FAILED] = {"dc4467c25e174675b8b5fcda80afaa76", LOG_ERR, "failed"},
        [JOB_JOURNAL_CANCELLED] = {"f4ec46cfde9643048a470ce4d5d0a1ee", LOG_WARNING,
                                   "was cancelled"},
        [JOB_JOURNAL_RECORD_UNREADABLE] = {"78735db4ecae47e68e347e60170d8730", LOG_WARNING,
                                           "has an unreadable saved record"},
};

const char *
job_journal_message_id(JobJournalEvent event)
{
	g_return_val_if_fail(event < JOB_JOURNAL_N_EVENTS, NULL);
	return events[event].message_id;
}

static gboolean
is_control(gunichar c)
{
	return c < 0x20 || (c >= 0x7f && c < 0xa0);
}

/* @value as valid UTF-8, control characters (newlines included) as spaces,
 * cut to at most @max bytes at a character boundary. */
static char *
sanitize(const char *value, gsize max)
{
	g_autofree char *valid = g_utf8_make_valid(value, -1);
	GString *out = g_string_sized_new(MIN(strlen(valid), max));

	for (const char *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		gsize len = g_utf8_next_char(p) - p;

		if (out->len + (is_control(c) ? 1 : len) > max)
			break;
		if (is_control(c))
			g_string_append_c(out, ' ');
		else
			g_string_append_len(out, p, len);
	}
	return g_string_free(out, FALSE);
}

static void
add_field(GPtrArray *fields, const char *key, const char *value, gsize max)
{
	g_autofree char *clean = NULL;

	if (value == NULL)
		return;
	clean = sanitize(value, max);
	g_ptr_array_add(fields, g_strconcat(key, "=", clean, NULL));
}

static char *
summary(JobJournalEvent event, const JobRecord *record, const char *message)
{
	const char *id = record != NULL ? record->id : NULL;
	GString *text = g_string_new(NULL);

	g_string_printf(text, "Firmware upgrade job %s %s", id != NULL ? id : "(unknown)",
	                events[event].verb);
	if (record != NULL && event == JOB_JOURNAL_STATE_CHANGED)
		g_string_append_printf(text, " to %s", fota_state_to_string(record->state));
	if (record != NULL && event == JOB_JOURNAL_SUCCEEDED && record->from_revision != NULL &&
	    record->to_revision != NULL)
		g_string_append_printf(text, ": %s -> %s", record->from_revision,
		                       record->to_revision);
	if (message != NULL)
		g_string_append_printf(text, ": %s", message);
	return g_string_free(text, FALSE);
}

static void
add_record_fields(GPtrArray *fields, const JobRecord *record)
{
	g_autofree char *code = NULL;

	add_field(fields, "QUECTEL_FOTA_JOB_ID", record->id, JOB_JOURNAL_FIELD_MAX);
	add_field(fields, "QUECTEL_FOTA_STATE", fota_state_to_string(record->state),
	          JOB_JOURNAL_FIELD_MAX);
	add_field(fields, "QUECTEL_FOTA_ERROR", record->error, JOB_JOURNAL_FIELD_MAX);
	if (record->error_code != JOB_UNSET)
		code = g_strdup_printf("%d", record->error_code);
	add_field(fields, "QUECTEL_FOTA_MODEM_CODE", code, JOB_JOURNAL_FIELD_MAX);
	add_field(fields, "QUECTEL_FOTA_FROM_REVISION", record->from_revision,
	          JOB_JOURNAL_FIELD_MAX);
	add_field(fields, "QUECTEL_FOTA_TO_REVISION", record->to_revision, JOB_JOURNAL_FIELD_MAX);
}

GPtrArray *
job_journal_fields(JobJournalEvent event, const JobRecord *record, const char *port,
                   const char *message)
{
	GPtrArray *fields;
	g_autofree char *text = NULL;
	g_autofree char *priority = NULL;

	g_return_val_if_fail(event < JOB_JOURNAL_N_EVENTS, NULL);
	fields = g_ptr_array_new_with_free_func(g_free);
	text = summary(event, record, message);
	add_field(fields, "MESSAGE", text, JOB_JOURNAL_MESSAGE_MAX);
	add_field(fields, "MESSAGE_ID", events[event].message_id, JOB_JOURNAL_FIELD_MAX);
	priority = g_strdup_printf("%d", events[event].priority);
	add_field(fields, "PRIORITY", priority, JOB_JOURNAL_FIELD_MAX);
	if (record != NULL)
		add_record_fields(fields, record);
	if (port == NULL && record != NULL)
		port = record->port;
	add_field(fields, "QUECTEL_FOTA_PORT", port, JOB_JOURNAL_FIELD_MAX);
	return fields;
}

gboolean
job_journal_send(JobJournalEvent event, const JobRecord *record, const char *port,
                 const char *message, GError **error)
{
	g_autoptr(GPtrArray) fields = job_journal_fields(event, record, port, message);
	g_autofree struct iovec *iov = g_new(struct iovec, fields->len);
	int r;

	for (guint i = 0; i < fields->len; i++) {
		iov[i].iov_base = g_ptr_array_index(fields, i);
		iov[i].iov_len = strlen(iov[i].iov_base);
	}
	r = sd_journal_sendv(iov, (int)fields->len);
	if (r < 0) {
		g_set_error(error, JOB_JOURNAL_ERROR, JOB_JOURNAL_ERROR_SEND,
		            "cannot send %s to the journal: %s", events[event].message_id,
		            g_strerror(-r));
		return FALSE;
	}
	return TRUE;
}
