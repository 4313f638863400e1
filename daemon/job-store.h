/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "job-record.h"

/* The job on disk: <state-dir>/job, a versioned GKeyFile written atomically
 * (temp file, fsync, rename, fsync of the directory). */

#define JOB_STORE_VERSION 1

#define JOB_STORE_ERROR (job_store_error_quark())
GQuark job_store_error_quark(void);
typedef enum {
	JOB_STORE_ERROR_IO,
	JOB_STORE_ERROR_CORRUPT, /* moved aside; the message says why and where */
} JobStoreError;

typedef struct _JobStore JobStore;

JobStore *job_store_new(const char *state_dir);
void job_store_free(JobStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JobStore, job_store_free)

gboolean job_store_save(JobStore *store, const JobRecord *record, GError **error);
/* TRUE with *record NULL when there is no file. A file that fails
 * validation is renamed to job.corrupt-<unix time> and JOB_STORE_ERROR_CORRUPT
 * is returned with the reason and the new name. */
gboolean job_store_load(JobStore *store, JobRecord **record, GError **error);

/* Pure halves, for tests and fuzzing. */
char *job_record_to_keyfile_data(const JobRecord *record, gsize *length);
JobRecord *job_record_from_keyfile_data(const char *data, gsize length, GError **error);
