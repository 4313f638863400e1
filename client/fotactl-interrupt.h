/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Ctrl-C for a command that must never hang: the first SIGINT calls @func
 * from the main context (once), a second one ends the process at once,
 * killed by SIGINT, wherever it is blocked: a synchronous call, a write to
 * a full pipe, anything fotactl(1) does not foresee. Returns the source id
 * of the main-context side. Call once per process. */
guint fotactl_interrupt_install(GSourceFunc func, gpointer data);
