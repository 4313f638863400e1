/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The one place a job's state lives. Everything here is plain data.
 *
 * A record has one writer at a time; everyone else reads it through a
 * const JobRecord * (job-store.c persists it, dbus-service.c shows it,
 * job-neighbours.c acts on it and returns what it found):
 * - job-manager.c builds a new record (new_record(), then the USB
 *   power/control value job_neighbours_begin() returns) up to its first
 *   save, and the verdict on an unreadable one; job-store.c fills a record
 *   it loads.
 * - From fota_job_new() until it is final, the job's JobMachine alone
 *   (job-machine.c, through job-progress.c): fota-job.c feeds it events
 *   (RESUME brings the boot id, USB_POWER the power/control value found
 *   when a job resumes) and writes nothing.
 * - A final record is job-manager.c's: its one change is to drop
 *   usb_power_previous once that value is written back. */

typedef enum {
	FOTA_STATE_IDLE,
	FOTA_STATE_PREPARING,
	FOTA_STATE_DOWNLOADING,
	FOTA_STATE_REBOOTING,
	FOTA_STATE_UPDATING,
	FOTA_STATE_VERIFYING,
	FOTA_STATE_SUCCEEDED,
	FOTA_STATE_FAILED,
	FOTA_STATE_CANCELLED,
} FotaState;

/* "idle", "preparing", ... as in the D-Bus State property.
 * Returns: (transfer none) */
const char *fota_state_to_string(FotaState state);
gboolean fota_state_from_string(const char *str, FotaState *state);
/* succeeded, failed, cancelled */
gboolean fota_state_is_final(FotaState state);

typedef enum {
	FOTA_SOURCE_FTP,
	FOTA_SOURCE_HTTP,
	FOTA_SOURCE_HTTPS,
	FOTA_SOURCE_FILE,
} FotaSourceKind;

/* Returns: (transfer none): "ftp", "http", "https", "file" */
const char *fota_source_kind_to_string(FotaSourceKind kind);
gboolean fota_source_kind_from_string(const char *str, FotaSourceKind *kind);

#define JOB_UNSET (-1)

typedef struct {
	guint upgrade_mode;      /* 0 or 1; default 1 */
	guint download_urc_max;  /* 0 or 5..100; default 100 */
	gint update_urc_max;     /* JOB_UNSET, or 0 or 5..100 (EC200T only) */
	char *expected_revision; /* NULL when not given */
	char *sha256;            /* 64 lower-case hex digits, NULL when not given */
	gint cid;                /* JOB_UNSET, or 1..16 */
	char *apn;               /* NULL when not given */
} JobOptions;

typedef struct {
	char *id; /* 32 hex digits (a random UUID without dashes) */
	FotaSourceKind source_kind;
	char *source;      /* the URL, or "file:<size>" */
	guint64 file_size; /* FILE mode: the package's length; else 0 */
	JobOptions options;

	FotaState state;
	guint percent; /* 0..100 within downloading/updating */

	/* How far the modem got; what a restart resumes from. */
	gboolean accepted;      /* the modem answered OK to AT+QFOTADL */
	gboolean download_done; /* *END,0 seen: the point of no return */
	gint end_code;          /* JOB_UNSET until +QIND: "FOTA","END",<n> */

	char *error;     /* D-Bus error name of the failure, NULL when none */
	gint error_code; /* the modem's numeric code, JOB_UNSET when none */
	char *message;   /* one line for people, NULL when none */

	char *from_revision; /* read before the job, NULL until read */
	char *to_revision;   /* read after the final reboot, NULL until read */

	gint64 started_us;     /* g_get_real_time() at start */
	gint64 finished_us;    /* 0 until final */
	gint64 state_since_us; /* g_get_real_time() when state was entered (for show) */
	/* CLOCK_BOOTTIME when the state was entered: what every wait that
	 * outlives a restart counts from, in the boot @boot_id names (a
	 * wall-clock step moves nothing); 0 when unknown */
	gint64 state_since_boot_us;

	char *boot_id;     /* 32 hex digits: the host boot the record was written in */
	char *port;        /* the port's identity: a path, or "usb:<vid>:<pid>:<devpath>" */
	char *sent_sha256; /* FILE mode: sha256 of the bytes the modem was given, once all were */
	gint64 reset_us;   /* g_get_real_time() when AT+CFUN=1,1 went out; 0 if never */
	gint64 reset_boot_us;     /* ... and on CLOCK_BOOTTIME, which the wait for it uses */
	char *usb_power_previous; /* the USB device's power/control before the job: "auto" or
	                           * "on"; NULL when the daemon did not change it */
} JobRecord;

/* CLOCK_BOOTTIME in µs: the clock of every wait that outlives a restart
 * (it counts suspend and no wall-clock step moves it). */
gint64 job_clock_boottime_us(void);

void job_options_clear(JobOptions *options);
void job_options_init(JobOptions *options); /* the defaults above */

/* State idle, everything unset.
 * Returns: (transfer full): free with job_record_free() */
JobRecord *job_record_new(void);
void job_record_free(JobRecord *record);
/* Returns: (transfer full) */
JobRecord *job_record_copy(const JobRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JobRecord, job_record_free)
