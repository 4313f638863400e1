/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "job-record.h"

/* The job on disk: <state-dir>/job, a versioned GKeyFile written atomically
 * (temp file job.tmp-XXXXXX, fsync, rename, fsync of the directory; the
 * directory is created 0700 when missing, the file is 0600).
 *
 *   [job]
 *   version=1
 *   id=0123456789abcdef0123456789abcdef
 *   source-kind=https                      ftp | http | https | file
 *   source=https://example.com/pkg.bin     or file:<file-size>
 *   file-size=4884688                      file only, 1..4 GiB
 *   state=downloading                      as the D-Bus State property
 *   percent=42                             0..100
 *   accepted=true
 *   download-done=false
 *   end-code=0                             -1..99999
 *   error=org.quectel.Fota1.Error.<Name>   exactly when state=failed
 *   error-code=714                         -1..99999
 *   message=...                            <= 512 bytes, no control bytes
 *   from-revision=EC200TCNDAR02A02M16      [A-Za-z0-9_.-]{1,64}
 *   to-revision=...
 *   started=1700000000000000               µs since the epoch (g_get_real_time)
 *   finished=...                           exactly when the state is final
 *   state-since=...
 *   state-since-boottime=...               µs on CLOCK_BOOTTIME in the boot boot-id names:
 *                                          what waits across a restart count from
 *   boot-id=<32 hex digits>
 *   port=/dev/ttyUSB2 | usb:2c7c:6026:<devpath>
 *   [options]
 *   expected-revision=...  sha256=<64 lower-case hex>  cid=1..16  apn=...
 *   update-urc-max=0|5..100  upgrade-mode=0|1  download-urc-max=0|5..100
 *
 * Unset values (NULL strings, JOB_UNSET, a 0 timestamp or file size) are
 * absent keys. Reading is strict: unknown groups or keys, a version other
 * than 1, a value out of range, a missing required key, a file without its
 * final newline (cut short) or over 64 KiB are all "corrupt". */

#define JOB_STORE_VERSION 1

#define JOB_STORE_ERROR (job_store_error_quark())
GQuark job_store_error_quark(void);
typedef enum {
	JOB_STORE_ERROR_IO,
	JOB_STORE_ERROR_CORRUPT, /* moved aside; the message says why and where */
	JOB_STORE_ERROR_INVALID, /* save: the record would not load back */
} JobStoreError;

typedef struct _JobStore JobStore;

/* Returns: (transfer full): free with job_store_free() */
JobStore *job_store_new(const char *state_dir);
void job_store_free(JobStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JobStore, job_store_free)

/* Refuses (JOB_STORE_ERROR_INVALID) a record that load would reject, so a
 * bug elsewhere cannot turn into a job moved aside at the next start. */
gboolean job_store_save(JobStore *store, const JobRecord *record, GError **error);
/* TRUE with *record NULL when there is no file. Stale temp files of an
 * interrupted save are removed first. A file that fails
 * validation is renamed to job.corrupt-<unix time> and JOB_STORE_ERROR_CORRUPT
 * is returned with the reason and the new name.
 * @record: (out) (transfer full) (nullable) */
gboolean job_store_load(JobStore *store, JobRecord **record, GError **error);

/* Pure halves, for tests and fuzzing. Parse errors are
 * JOB_STORE_ERROR_CORRUPT with the field and the bad value. */
/* Returns: (transfer full) */
char *job_record_to_keyfile_data(const JobRecord *record, gsize *length);
/* Returns: (transfer full) */
JobRecord *job_record_from_keyfile_data(const char *data, gsize length, GError **error);
