/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the modem says, shaped by the fault switches: --interleave-urcs puts unrelated URCs
 * between lines (also inside a command's response), --garbage puts junk bytes there. */
#pragma once

#include "sim-pty.h"

typedef struct _SimOut SimOut;

SimOut *sim_out_new(const SimConfig *cfg, GRand *rand, SimPty *pty);
void sim_out_free(SimOut *out);

/* "\r\n<line>\r\n", possibly preceded by an unrelated URC and/or garbage. */
void sim_out_line(SimOut *out, const char *line);
void sim_out_printf(SimOut *out, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* Bytes as they are (the echo): never shaped, the host sees them verbatim. */
void sim_out_raw(SimOut *out, const char *data, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimOut, sim_out_free)
