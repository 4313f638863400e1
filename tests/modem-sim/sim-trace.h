/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A field trace (tests/field/README.md): what a real modem printed after an accepted
 * AT+QFOTADL=, with the delay before each line and directives for reboots, revision changes and
 * the FILE package bytes. Parsed once at start-up (pure, no I/O after the read); sim-fota plays
 * it. Only the [trace] section matters here; the job, timeouts and verdict sections belong to
 * the test that runs the trace and are only checked for being key = value lines. */
#pragma once

#include "sim-config.h" /* SimTrace */

typedef enum {
	SIM_TRACE_LINE,     /* print text as a line */
	SIM_TRACE_REBOOT,   /* the modem reboots: tty gone ms (0: --reboot-ms), boot URCs */
	SIM_TRACE_VANISH,   /* the tty is gone ms, comes back, nothing printed */
	SIM_TRACE_REVISION, /* the running revision becomes text */
	SIM_TRACE_FILE,     /* wait until the FILE package bytes came */
} SimTraceKind;

typedef struct {
	SimTraceKind kind;
	guint delay_ms; /* before the step, counted from the end of the previous one */
	char *text;     /* LINE, REVISION */
	guint ms;       /* REBOOT, VANISH */
	guint lineno;   /* in the trace file, for the log */
} SimTraceStep;

struct _SimTrace {
	char *path;
	GArray *steps; /* of SimTraceStep */
	/* The steps after the last @reboot/@vanish (boot noise): the FOTA engine is idle then,
	 * so a new AT+QFOTADL= is taken while they still play. steps->len without a reboot. */
	guint idle_from;
};

/* The longest delay or tty absence a trace may ask for: ten minutes. */
#define SIM_TRACE_MAX_MS 600000

SimTrace *sim_trace_load(const char *path, GError **error);
void sim_trace_free(SimTrace *trace);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimTrace, sim_trace_free)
