/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The AT command interpreter: line assembly, echo, the commands a Quectel modem answers, and
 * --reply-delay. FOTA itself is sim-fota's job. */
#pragma once

#include "sim-modem.h"

SimAt *sim_at_new(SimModem *modem);
void sim_at_free(SimAt *at);

/* Consumes input up to and including the first complete command line (which it runs), so the
 * caller can re-route the bytes after it (FILE mode). Returns the bytes consumed. */
gsize sim_at_feed(SimAt *at, const guint8 *data, gsize len);
/* A command's final result is still pending (--reply-delay, or held): do not feed more. */
gboolean sim_at_busy(const SimAt *at);
/* The next command's final result is held (and input with it) until sim_at_release_reply(). */
void sim_at_hold_next_reply(SimAt *at);
void sim_at_release_reply(SimAt *at);
/* Reboot: echo back on, partial line and pending or held result dropped. */
void sim_at_reset(SimAt *at);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimAt, sim_at_free)
