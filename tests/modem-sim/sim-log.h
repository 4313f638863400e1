/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON-lines event log: one object per line, flushed per line, so tests can grep it live. */
#pragma once

#include <glib.h>

typedef struct _SimLog SimLog;
typedef struct _SimLogEntry SimLogEntry;

/* path NULL: a log that discards everything (the simulator still runs). */
SimLog *sim_log_open(const char *path, GError **error);
void sim_log_free(SimLog *log);

/* Entry builder: sim_log_begin(), any number of sim_log_str()/sim_log_int()/sim_log_bool(),
 * then sim_log_end() writes the line with a monotonic "ms" key and frees the entry. */
SimLogEntry *sim_log_begin(SimLog *log, const char *event);
void sim_log_str(SimLogEntry *entry, const char *key, const char *value);
void sim_log_int(SimLogEntry *entry, const char *key, gint64 value);
void sim_log_bool(SimLogEntry *entry, const char *key, gboolean value);
void sim_log_end(SimLogEntry *entry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimLog, sim_log_free)
