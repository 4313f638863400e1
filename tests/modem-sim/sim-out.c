/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-out.h"

#include <string.h>

/* One time in INTERLEAVE_ONE_IN a line is preceded by a URC, and a timer adds URCs out of the
 * blue now and then; likewise garbage. Rare enough to keep the output readable. */
#define INTERLEAVE_ONE_IN  4
#define GARBAGE_ONE_IN     5
#define SPONTANEOUS_MIN_MS 150
#define SPONTANEOUS_MAX_MS 700

struct _SimOut {
	const SimConfig *cfg;
	GRand *rand;
	SimPty *pty;
	guint spontaneous_source;
};

static const char *const unrelated_urcs[] = {
        "+CREG: 1",
        "+CGREG: 1",
        "+CEREG: 1",
        "+QIURC: \"pdpdeact\",1",
        "+QIND: \"csq\",20,99",
        "+QIND: \"act\",\"LTE\"",
        "+CTZV: 24/05/01,12:00:00,+32,0",
        "+QNITZ: \"24/05/01,12:00:00+32,0\"",
};

/* Bytes a flaky USB/UART link or a booting baseband really produces: NULs, 0xff, high bytes,
 * stray CR/LF and control codes, but no printable text that could pass for a response. */
static const guint8 garbage_bytes[] = {0x00, 0xff, 0xfe, 0x80, 0x9f, 0xc3,
                                       '\r', '\n', 0x1b, 0x7f, 0x01, 0x11};

static void
write_line(SimOut *out, const char *line)
{
	g_autofree char *framed = g_strdup_printf("\r\n%s\r\n", line);

	sim_pty_queue(out->pty, framed, strlen(framed));
}

static void
maybe_garbage(SimOut *out)
{
	guint8 junk[8];
	gint n;

	if (!out->cfg->garbage || g_rand_int_range(out->rand, 0, GARBAGE_ONE_IN) != 0)
		return;
	n = g_rand_int_range(out->rand, 1, (gint)sizeof(junk) + 1);
	for (gint i = 0; i < n; i++)
		junk[i] =
		        garbage_bytes[g_rand_int_range(out->rand, 0, G_N_ELEMENTS(garbage_bytes))];
	sim_pty_queue(out->pty, junk, (gsize)n);
}

static void
unrelated_urc(SimOut *out)
{
	write_line(out,
	           unrelated_urcs[g_rand_int_range(out->rand, 0, G_N_ELEMENTS(unrelated_urcs))]);
}

static gboolean on_spontaneous(gpointer user_data);

static void
schedule_spontaneous(SimOut *out)
{
	out->spontaneous_source = g_timeout_add(
	        (guint)g_rand_int_range(out->rand, SPONTANEOUS_MIN_MS, SPONTANEOUS_MAX_MS),
	        on_spontaneous, out);
}

static gboolean
on_spontaneous(gpointer user_data)
{
	SimOut *out = user_data;

	if (sim_pty_is_up(out->pty)) {
		maybe_garbage(out);
		unrelated_urc(out);
	}
	schedule_spontaneous(out);
	return G_SOURCE_REMOVE;
}

SimOut *
sim_out_new(const SimConfig *cfg, GRand *rand, SimPty *pty)
{
	SimOut *out = g_new0(SimOut, 1);

	out->cfg = cfg;
	out->rand = rand;
	out->pty = pty;
	if (cfg->interleave_urcs)
		schedule_spontaneous(out);
	return out;
}

void
sim_out_free(SimOut *out)
{
	if (out == NULL)
		return;
	if (out->spontaneous_source != 0)
		g_source_remove(out->spontaneous_source);
	g_free(out);
}

void
sim_out_line(SimOut *out, const char *line)
{
	maybe_garbage(out);
	if (out->cfg->interleave_urcs && g_rand_int_range(out->rand, 0, INTERLEAVE_ONE_IN) == 0) {
		unrelated_urc(out);
		maybe_garbage(out);
	}
	write_line(out, line);
}

void
sim_out_printf(SimOut *out, const char *format, ...)
{
	g_autofree char *line = NULL;
	va_list args;

	va_start(args, format);
	line = g_strdup_vprintf(format, args);
	va_end(args);
	sim_out_line(out, line);
}

void
sim_out_raw(SimOut *out, const char *data, gsize len)
{
	sim_pty_queue(out->pty, data, len);
}
