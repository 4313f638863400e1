/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-cmdscan.h"

void
sim_cmdscan_init(SimCmdScan *scan)
{
	*scan = (SimCmdScan){0};
}

void
sim_cmdscan_clear(SimCmdScan *scan)
{
	g_clear_pointer(&scan->first, g_free);
	sim_cmdscan_init(scan);
}

static void
found(SimCmdScan *scan)
{
	scan->line[scan->len] = '\0';
	scan->count++;
	if (scan->first == NULL)
		scan->first = g_strdup(scan->line);
	scan->len = 0;
}

static void
step(SimCmdScan *scan, char c)
{
	gboolean a = c == 'A' || c == 'a';

	if (scan->len == 1) {
		if (c == 'T' || c == 't') {
			scan->line[scan->len++] = c;
			return;
		}
	} else if (scan->len >= 2) {
		if (c == '\r' || c == '\n') {
			found(scan);
			return;
		}
		if (c >= 0x20 && c <= 0x7e && scan->len < 2 + SIM_CMDSCAN_MAX_TAIL) {
			scan->line[scan->len++] = c;
			return;
		}
	}
	/* No match (yet): an 'A' may begin the next one. */
	scan->len = 0;
	if (a)
		scan->line[scan->len++] = c;
}

void
sim_cmdscan_feed(SimCmdScan *scan, const guint8 *data, gsize len)
{
	for (gsize i = 0; i < len; i++)
		step(scan, (char)data[i]);
}
