/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What every libFuzzer target here shares: a broken promise is a crash,
 * and so is a g_return_if_fail() or an unexpected warning. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Criticals and warnings abort (LLVMFuzzerInitialize() in fuzz-common.c
 * says so), except warnings whose message contains one of the target's
 * fuzz_expected_warnings (NULL-terminated): they are provoked on purpose,
 * and dropped unprinted to keep the run fast. */
extern const char *const fuzz_expected_warnings[];

/* GLib 2.74's g_key_file_get_string() itself sets its GError twice for a
 * value with an invalid escape followed by a trailing backslash ("a\d\"):
 * a GLib bug, harmless to the caller, which gets an error either way. */
#define FUZZ_GLIB_KEY_FILE_DOUBLE_ERROR "The overwriting error message was: Key file contains"

/* @error is set, in @domain, with a valid UTF-8 message (messages cross D-Bus). */
void fuzz_check_error(const GError *error, GQuark domain);
