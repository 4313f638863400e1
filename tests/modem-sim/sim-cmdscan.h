/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finds AT command lines inside raw FILE-mode bytes: the proof that a host fed commands to a
 * modem that was still counting package bytes. Pure; bounded memory; fed in pieces. */
#pragma once

#include <glib.h>

/* "AT" or "at", then at most this many printable ASCII bytes, then CR or LF. */
#define SIM_CMDSCAN_MAX_TAIL 62

typedef struct {
	char line[SIM_CMDSCAN_MAX_TAIL + 3]; /* the line being matched, NUL-terminated */
	guint len;                           /* bytes in line; 0: looking for 'A' */
	guint64 count;                       /* command lines found so far */
	char *first;                         /* the first one found (owned), or NULL */
} SimCmdScan;

void sim_cmdscan_init(SimCmdScan *scan);
void sim_cmdscan_clear(SimCmdScan *scan);
void sim_cmdscan_feed(SimCmdScan *scan, const guint8 *data, gsize len);
