/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-log.h"

#include <errno.h>
#include <stdio.h>

struct _SimLog {
	FILE *file;
	gint64 start_us;
};

struct _SimLogEntry {
	SimLog *log;
	GString *text;
};

SimLog *
sim_log_open(const char *path, GError **error)
{
	SimLog *log = g_new0(SimLog, 1);

	log->start_us = g_get_monotonic_time();
	if (path != NULL) {
		log->file = fopen(path, "ae");
		if (log->file == NULL) {
			int saved = errno;
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
			            "cannot open log %s: %s", path, g_strerror(saved));
			g_free(log);
			return NULL;
		}
	}
	return log;
}

void
sim_log_free(SimLog *log)
{
	if (log == NULL)
		return;
	if (log->file != NULL)
		fclose(log->file);
	g_free(log);
}

SimLogEntry *
sim_log_begin(SimLog *log, const char *event)
{
	SimLogEntry *entry = g_new0(SimLogEntry, 1);

	entry->log = log;
	entry->text = g_string_new("{");
	sim_log_str(entry, "event", event);
	return entry;
}

/* Escapes everything a JSON parser could choke on; the received command lines may carry
 * arbitrary bytes (garbage tests), so non-ASCII bytes are written as \u00XX rather than
 * passed through as possibly invalid UTF-8. */
static void
append_json_string(GString *out, const char *value)
{
	g_string_append_c(out, '"');
	for (const guchar *p = (const guchar *)value; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
}

static void
append_key(SimLogEntry *entry, const char *key)
{
	if (entry->text->len > 1)
		g_string_append_c(entry->text, ',');
	append_json_string(entry->text, key);
	g_string_append_c(entry->text, ':');
}

void
sim_log_str(SimLogEntry *entry, const char *key, const char *value)
{
	append_key(entry, key);
	append_json_string(entry->text, value != NULL ? value : "");
}

void
sim_log_int(SimLogEntry *entry, const char *key, gint64 value)
{
	append_key(entry, key);
	g_string_append_printf(entry->text, "%" G_GINT64_FORMAT, value);
}

void
sim_log_bool(SimLogEntry *entry, const char *key, gboolean value)
{
	append_key(entry, key);
	g_string_append(entry->text, value ? "true" : "false");
}

void
sim_log_end(SimLogEntry *entry)
{
	SimLog *log = entry->log;

	sim_log_int(entry, "ms", (g_get_monotonic_time() - log->start_us) / 1000);
	g_string_append(entry->text, "}\n");
	if (log->file != NULL) {
		fputs(entry->text->str, log->file);
		fflush(log->file);
	}
	g_string_free(entry->text, TRUE);
	g_free(entry);
}
