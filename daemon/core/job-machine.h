/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "fota-dbus-error.h"
#include "job-record.h"
#include "qind-parse.h"

/* Pure: every decision of one job. Events go in (a URC, the port lost or
 * back, a command's reply, the stream's end, a deadline, a restart, a
 * cancel, the USB power taken); actions come out (send this, stream, arm a
 * deadline, save, read the revision, finish). fota-job.c performs the
 * actions and feeds the events; nothing else changes the job's step or,
 * until it is final, its record (job-record.h).
 *
 * The rule every verdict follows: it comes from what the modem showed (a
 * final END or *END code, its refusal, its revision read after it is back,
 * the end of FILE data mode). Where the job lost sight of the modem (a
 * restart, a lost port, lost URCs, a deadline), it goes and looks within
 * bounds: it waits for the modem to show more, and at the deadline resets
 * the modem (AT+CFUN=1,1, which a modem writing flash refuses) and reads
 * its revision. "Unchanged" is said only when observed; when the bounds run
 * out without an observation, the outcome is said to be unknown.
 *
 * Time: every event carries the wall clock (for the record's timestamps)
 * and CLOCK_BOOTTIME (for every wait). Deadlines that outlive a restart are
 * kept in the record on CLOCK_BOOTTIME with the boot id; after a host
 * reboot the wait starts afresh. */

/* The bounds, in milliseconds ([timeouts] in the configuration). */
typedef struct {
	gint64 command;
	gint64 first_urc;
	gint64 urc_gap;
	gint64 download;
	gint64 update;
	gint64 reboot;
	gint64 file_idle;
	gint64 port; /* how long the port may rightly stay unusable before a job */
} JobBounds;

typedef struct {
	JobBounds bounds;
	gboolean hardware_flow; /* FILE mode: turn the modem's flow control on first */
	gboolean uart;          /* ... with AT+IFC=2,2 rather than AT+QCFG="usbifc",2,2 */
} JobMachineConfig;

/* What the verdict says about the modem's firmware. */
typedef enum {
	JOB_CLAIM_NONE,      /* not final yet */
	JOB_CLAIM_UPGRADED,  /* the revision read back shows the new firmware */
	JOB_CLAIM_UNCHANGED, /* observed: refused, an END code, or the old revision read back */
	JOB_CLAIM_CHANGED,   /* observed: a revision other than the old and the expected one */
	JOB_CLAIM_UNKNOWN,   /* the bounds ran out without an observation */
} JobClaim;

typedef enum {
	JOB_TIMER_WAIT,  /* the current wait: port, first URC, gap, reboot, a look */
	JOB_TIMER_PHASE, /* the whole download or update */
	JOB_N_TIMERS,
} JobTimer;

/* How a command, an identification or the stream failed. */
typedef enum {
	JOB_FAILURE_NONE,
	JOB_FAILURE_TIMEOUT,   /* no answer within the command timeout */
	JOB_FAILURE_REFUSED,   /* ERROR, +CME ERROR, +CMS ERROR */
	JOB_FAILURE_PORT_GONE, /* the port went away or is absent */
	JOB_FAILURE_CHANGED,   /* the stream: the package changed while it was sent */
	JOB_FAILURE_OTHER,
} JobFailure;

typedef enum {
	JOB_EVENT_START,         /* a new job, its record in preparing */
	JOB_EVENT_RESUME,        /* a job loaded from the store: .boot_id */
	JOB_EVENT_PORT_GRANTED,  /* the port's lease is the job's (so FILE data mode is over) */
	JOB_EVENT_IDENTIFIED,    /* the job's own read: .revision, .port (or .failure) */
	JOB_EVENT_OPTIONS_UNFIT, /* the identified modem does not take the options: .text */
	JOB_EVENT_REPLY,         /* the command in flight answered: .failure, .text */
	JOB_EVENT_URC,           /* .qind */
	JOB_EVENT_PORT_LOST,     /* the tty went away (or the modem rebooted under it) */
	JOB_EVENT_PORT_READY,    /* the modem is back and identified: .revision, .port */
	JOB_EVENT_STREAM_SENT,   /* .sent bytes of .total written */
	JOB_EVENT_STREAM_DONE,   /* every byte written: .text = their sha256; or .failure */
	JOB_EVENT_TIMER,         /* .timer fired */
	JOB_EVENT_CANCEL,        /* the user asked; see job_machine_cannot_cancel() */
	JOB_EVENT_USB_POWER,     /* the USB device's power/control was forced on: .text = the
	                          * value before, kept (and saved) unless one is kept already */
} JobEventKind;

typedef struct {
	JobEventKind kind;
	gint64 now_us;  /* wall clock */
	gint64 boot_us; /* CLOCK_BOOTTIME */
	const QindFota *qind;
	JobFailure failure;
	const char *text;     /* the error's words, a sha256, a reason, a power/control value */
	const char *revision; /* IDENTIFIED, PORT_READY */
	const char *port;     /* IDENTIFIED, PORT_READY: the port's identity */
	guint64 sent, total;
	JobTimer timer;
	const char *boot_id; /* RESUME: the host boot now (another than the record's: the
	                      * host rebooted since it was saved); the record keeps it */
} JobEvent;

typedef enum {
	JOB_ACTION_ACQUIRE,     /* wait for the port's lease */
	JOB_ACTION_IDENTIFY,    /* read the modem's identity (IDENTIFIED follows) */
	JOB_ACTION_SEND,        /* .command (REPLY follows) */
	JOB_ACTION_RESET,       /* AT+CFUN=1,1; the port goes away (REPLY follows) */
	JOB_ACTION_DATA_MODE,   /* the modem counts what follows as package bytes */
	JOB_ACTION_STREAM,      /* write the package (STREAM_SENT, STREAM_DONE follow) */
	JOB_ACTION_STOP_STREAM, /* send no more bytes (STREAM_DONE follows) */
	JOB_ACTION_ARM,         /* .timer in .ms (replaces a running one) */
	JOB_ACTION_DISARM,      /* .timer */
	JOB_ACTION_SAVE,        /* persist the record */
	JOB_ACTION_NOTIFY,      /* the state or percent changed */
	JOB_ACTION_FINISH,      /* the record is final: release everything, tell */
} JobActionKind;

typedef struct {
	JobActionKind kind;
	char *command; /* SEND */
	JobTimer timer;
	gint64 ms;
} JobAction;

#define JOB_MACHINE_MAX_ACTIONS 16

typedef struct _JobMachine JobMachine;

/* @record: (transfer full): changed by the machine alone from now on
 * @config: (transfer none): copied
 * Returns: (transfer full): free with job_machine_free() */
JobMachine *job_machine_new(JobRecord *record, const JobMachineConfig *config);
void job_machine_free(JobMachine *machine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JobMachine, job_machine_free)

/* Feeds one event; the actions it leads to are then in
 * job_machine_actions(), in the order they must be performed. Events after
 * the job is final change nothing. */
void job_machine_feed(JobMachine *machine, const JobEvent *event);
/* The actions of the last feed; @n_actions set.
 * Returns: (transfer none): valid until the next feed */
const JobAction *job_machine_actions(JobMachine *machine, guint *n_actions);

/* Read only: the machine is the record's one writer while the job runs.
 * Returns: (transfer none) */
const JobRecord *job_machine_record(JobMachine *machine);
gboolean job_machine_is_final(JobMachine *machine);
JobClaim job_machine_claim(JobMachine *machine);
/* NULL when a cancel would be taken now, else why not (NotCancellable).
 * Returns: (transfer none) */
const char *job_machine_cannot_cancel(JobMachine *machine);
/* Whether the modem may count what we send as package bytes now. */
gboolean job_machine_in_data_mode(JobMachine *machine);
/* "waiting for the port", "following the modem", ... for the log.
 * Returns: (transfer none) */
const char *job_machine_step_name(JobMachine *machine);
