/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The modem's tty: a pty whose slave is published through a symlink, a non-blocking output
 * queue, and reboots (the tty vanishes, then comes back as a new pty). */
#pragma once

#include "sim-config.h"
#include "sim-log.h"

typedef struct _SimPty SimPty;

typedef struct {
	/* Bytes the host wrote. Not called while the tty is down or a reboot is pending. */
	void (*input)(const guint8 *data, gsize len, gpointer user_data);
	/* The tty is back after a reboot and --boot-urc-delay-ms has passed: time for boot URCs. */
	void (*booted)(gpointer user_data);
	gpointer user_data;
} SimPtyHandlers;

SimPty *sim_pty_new(const SimConfig *cfg, SimLog *log, GRand *rand, const SimPtyHandlers *handlers,
                    GError **error);
void sim_pty_free(SimPty *pty);

/* Queues bytes for the host; with --split-writes they leave in small delayed pieces. Dropped
 * while the tty is down. */
void sim_pty_queue(SimPty *pty, const void *data, gsize len);
gboolean sim_pty_is_up(const SimPty *pty);
/* Stops reading while the modem is busy, so the kernel buffers (and the host blocks) instead
 * of the simulator buffering without bound. A new pty after a reboot starts unpaused. */
void sim_pty_pause_input(SimPty *pty, gboolean paused);
/* Makes the tty vanish for gone_ms. drain: let queued output (e.g. the OK of AT+CFUN=1,1)
 * reach the host first (bounded wait). No-op when a reboot is already under way. */
void sim_pty_reboot(SimPty *pty, gboolean drain, guint gone_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimPty, sim_pty_free)
