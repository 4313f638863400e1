/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-trace.h"

#include <string.h>

/* The sections of a trace file; the simulator plays [trace] and leaves the others to the test,
 * but refuses unknown ones so that a misspelt section is not silently ignored. */
static const char *const sections[] = {"job", "timeouts", "expect", "trace"};

static void
step_clear(gpointer data)
{
	g_free(((SimTraceStep *)data)->text);
}

void
sim_trace_free(SimTrace *trace)
{
	if (trace == NULL)
		return;
	g_free(trace->path);
	if (trace->steps != NULL)
		g_array_unref(trace->steps);
	g_free(trace);
}

static gboolean bad(GError **error, const SimTrace *trace, guint lineno, const char *format, ...)
        G_GNUC_PRINTF(4, 5);

static gboolean
bad(GError **error, const SimTrace *trace, guint lineno, const char *format, ...)
{
	g_autofree char *what = NULL;
	va_list args;

	va_start(args, format);
	what = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:%u: %s", trace->path, lineno,
	            what);
	return FALSE;
}

/* A decimal number of milliseconds, 0..SIM_TRACE_MAX_MS. */
static gboolean
parse_ms(const char *text, guint *out)
{
	guint64 value;

	if (!g_ascii_isdigit(*text) ||
	    !g_ascii_string_to_unsigned(text, 10, 0, SIM_TRACE_MAX_MS, &value, NULL))
		return FALSE;
	*out = (guint)value;
	return TRUE;
}

/* "@name [argument]" after the delay. */
static gboolean
parse_directive(SimTrace *trace, guint lineno, const char *body, SimTraceStep *step, GError **error)
{
	g_autofree char *name = g_strndup(body, strcspn(body, " \t"));
	const char *arg = body + strlen(name);

	while (*arg == ' ' || *arg == '\t')
		arg++;
	if (g_str_equal(name, "reboot") || g_str_equal(name, "vanish")) {
		step->kind = g_str_equal(name, "reboot") ? SIM_TRACE_REBOOT : SIM_TRACE_VANISH;
		/* A reboot may take the simulator's --reboot-ms; a vanish says how long. */
		if (*arg == '\0' && step->kind == SIM_TRACE_REBOOT)
			return TRUE;
		if (!parse_ms(arg, &step->ms) || step->ms == 0)
			return bad(error, trace, lineno,
			           "@%s needs a duration of 1..%u ms, got '%s'", name,
			           SIM_TRACE_MAX_MS, arg);
		return TRUE;
	}
	if (g_str_equal(name, "revision")) {
		step->kind = SIM_TRACE_REVISION;
		if (*arg == '\0' || strlen(arg) > 64 ||
		    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                "abcdefghijklmnopqrstuvwxyz"
		                "0123456789_.-") != strlen(arg))
			return bad(error, trace, lineno,
			           "@revision needs 1..64 of [A-Za-z0-9_.-], got '%s'", arg);
		step->text = g_strdup(arg);
		return TRUE;
	}
	if (g_str_equal(name, "file")) {
		step->kind = SIM_TRACE_FILE;
		if (*arg != '\0')
			return bad(error, trace, lineno, "@file takes no argument, got '%s'", arg);
		return TRUE;
	}
	return bad(error, trace, lineno,
	           "unknown directive @%s (@reboot, @vanish, @revision, @file; @@ for a line "
	           "starting with @)",
	           name);
}

/* "+<ms> <line>" or "+<ms> @<directive> [argument]". */
static gboolean
parse_step(SimTrace *trace, guint lineno, const char *text, GError **error)
{
	SimTraceStep step = {.lineno = lineno};
	gsize digits = strspn(text + 1, "0123456789");
	g_autofree char *delay = g_strndup(text + 1, digits);
	const char *body = text + 1 + digits;

	if (text[0] != '+' || digits == 0 || !parse_ms(delay, &step.delay_ms) || *body != ' ')
		return bad(error, trace, lineno,
		           "a step is '+<ms> <modem line>' or '+<ms> @<directive>' with ms "
		           "0..%u, got '%s'",
		           SIM_TRACE_MAX_MS, text);
	body++;
	if (*body == '\0')
		return bad(error, trace, lineno, "nothing after the delay");
	if (body[0] == '@' && body[1] != '@') {
		if (!parse_directive(trace, lineno, body + 1, &step, error)) {
			g_free(step.text);
			return FALSE;
		}
	} else {
		step.kind = SIM_TRACE_LINE;
		step.text = g_strdup(body[0] == '@' ? body + 1 : body);
	}
	g_array_append_val(trace->steps, step);
	return TRUE;
}

static gboolean
parse_section(SimTrace *trace, guint lineno, const char *text, char **section, GError **error)
{
	gsize len = strlen(text);

	if (len < 3 || text[len - 1] != ']')
		return bad(error, trace, lineno, "malformed section header '%s'", text);
	g_free(*section);
	*section = g_strndup(text + 1, len - 2);
	for (guint i = 0; i < G_N_ELEMENTS(sections); i++)
		if (g_str_equal(*section, sections[i]))
			return TRUE;
	return bad(error, trace, lineno,
	           "unknown section [%s] ([job], [timeouts], [expect], [trace])", *section);
}

SimTrace *
sim_trace_load(const char *path, GError **error)
{
	g_autoptr(SimTrace) trace = g_new0(SimTrace, 1);
	g_autofree char *contents = NULL;
	g_autofree char *section = NULL;
	g_auto(GStrv) lines = NULL;

	trace->path = g_strdup(path);
	trace->steps = g_array_new(FALSE, TRUE, sizeof(SimTraceStep));
	g_array_set_clear_func(trace->steps, step_clear);
	if (!g_file_get_contents(path, &contents, NULL, error))
		return NULL;
	lines = g_strsplit(contents, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		char *text = g_strstrip(lines[i]); /* the CR and blanks of a hand-edited file */
		guint lineno = i + 1;

		if (*text == '\0' || *text == '#')
			continue;
		if (*text == '[') {
			if (!parse_section(trace, lineno, text, &section, error))
				return NULL;
		} else if (section == NULL) {
			bad(error, trace, lineno, "'%s' before the first section", text);
			return NULL;
		} else if (g_str_equal(section, "trace")) {
			if (!parse_step(trace, lineno, text, error))
				return NULL;
		} else if (strchr(text, '=') == NULL) {
			bad(error, trace, lineno, "[%s] takes 'key = value' lines, got '%s'",
			    section, text);
			return NULL;
		}
	}
	if (trace->steps->len == 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: no [trace] steps", path);
		return NULL;
	}
	trace->idle_from = trace->steps->len;
	for (guint i = 0; i < trace->steps->len; i++) {
		SimTraceKind kind = g_array_index(trace->steps, SimTraceStep, i).kind;
		if (kind == SIM_TRACE_REBOOT || kind == SIM_TRACE_VANISH)
			trace->idle_from = i + 1;
	}
	return g_steal_pointer(&trace);
}
