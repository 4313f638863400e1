/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>
#include <glib.h>

/* Everything fotactl shows, in one of three renderings, so that the verbs
 * in fotactl.c never decide how a thing looks:
 * - TERMINAL: progress bars redrawn in place with \r, one result line;
 * - PLAIN: one line per change ("downloading 40%"), no control sequences;
 * - JSON: one object per line on stdout (the format is documented in
 *   fotactl(1) and is a stable interface). */
typedef enum {
	FOTACTL_FORMAT_TERMINAL,
	FOTACTL_FORMAT_PLAIN,
	FOTACTL_FORMAT_JSON,
} FotactlFormat;

typedef struct _FotactlOutput FotactlOutput;

/* @out takes results and events, @err takes human error messages and
 * notes (JSON mode writes errors to @out as events). */
FotactlOutput *fotactl_output_new(FotactlFormat format, FILE *out, FILE *err);
void fotactl_output_free(FotactlOutput *output);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FotactlOutput, fotactl_output_free)

FotactlFormat fotactl_output_get_format(FotactlOutput *output);

/* Monitor mode: every event becomes one self-contained line, also on a
 * terminal, instead of a redrawn progress display. */
void fotactl_output_set_monitor(FotactlOutput *output, gboolean monitor);

/* An error: @name is a D-Bus error name (the daemon's, or one of fotactl's
 * own org.quectel.fotactl.Error.* names), @message one line for people. */
void fotactl_output_error(FotactlOutput *output, const char *name, const char *message);
/* A remark for people (stderr); JSON mode drops it. */
void fotactl_output_note(FotactlOutput *output, const char *format, ...) G_GNUC_PRINTF(2, 3);

void fotactl_output_info(FotactlOutput *output, GVariant *info);
/* @properties: a{sv} of the interface's properties; @job: GetJob's a{sv}. */
void fotactl_output_status(FotactlOutput *output, GVariant *properties, GVariant *job);
/* A simple event: JSON {"event":@event[,@key:@value]}, else @text on its
 * own line. */
void fotactl_output_event(FotactlOutput *output, const char *event, const char *key,
                          const char *value, const char *text);
void fotactl_output_started(FotactlOutput *output, const char *job_id);

/* Following a job: @job is GetJob's a{sv}; it sets the job whose progress
 * is drawn (its size for FILE mode, its start time for the elapsed time). */
void fotactl_output_job(FotactlOutput *output, GVariant *job);
void fotactl_output_progress(FotactlOutput *output, const char *job_id, const char *state,
                             guint percent);
/* Redraws the elapsed time on a terminal; a no-op elsewhere. */
void fotactl_output_tick(FotactlOutput *output);
/* The end of a job. @job (nullable) is a GetJob a{sv} read after the end,
 * for the revisions and the duration. */
void fotactl_output_finished(FotactlOutput *output, const char *job_id, const char *result,
                             const char *error, const char *message, GVariant *job);
void fotactl_output_properties_changed(FotactlOutput *output, GVariant *changed,
                                       const char *const *invalidated);
/* The daemon left the bus (@running FALSE) or came back. */
void fotactl_output_daemon(FotactlOutput *output, gboolean running);

/* Ends a half-drawn progress line so that what follows starts cleanly. */
void fotactl_output_flush_line(FotactlOutput *output);

/* Pure helpers, exposed for the unit test. */
/* "45s", "3m12s", "1h02m05s" */
char *fotactl_format_duration(gint64 seconds);
/* Replaces control characters (C0, DEL, C1) and invalid UTF-8 so that a
 * string from the bus cannot move the cursor or recolour the terminal. */
char *fotactl_sanitize(const char *str);
/* The package size from GetJob's "source" ("file:<size>"), 0 otherwise. */
guint64 fotactl_source_file_size(const char *source);
