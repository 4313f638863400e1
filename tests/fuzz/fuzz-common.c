/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fuzz-common.h"

#include <string.h>

static gboolean
is_expected(const char *message)
{
	for (gsize i = 0; fuzz_expected_warnings[i] != NULL; i++) {
		if (strstr(message, fuzz_expected_warnings[i]) != NULL)
			return TRUE;
	}
	return FALSE;
}

static GLogWriterOutput
fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	if (level & G_LOG_LEVEL_WARNING) {
		for (gsize i = 0; i < n_fields; i++) {
			if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0 &&
			    is_expected(fields[i].value))
				return G_LOG_WRITER_HANDLED;
		}
	}
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
		g_log_writer_standard_streams(level, fields, n_fields, NULL);
		abort();
	}
	return G_LOG_WRITER_HANDLED;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Not always-fatal: that would abort before the writer could let an
	 * expected warning through. */
	g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
	return 0;
}

void
fuzz_check_error(const GError *error, GQuark domain)
{
	FUZZ_ASSERT(error != NULL);
	FUZZ_ASSERT(error->domain == domain);
	FUZZ_ASSERT(g_utf8_validate(error->message, -1, NULL));
}
