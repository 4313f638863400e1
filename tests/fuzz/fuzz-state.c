/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the state file. Whatever a crash, a full disk or
 * another program left in it is refused with a readable reason, or loads
 * into a record that saves to a file which loads back to the same record. */
#include <string.h>

#include "fuzz-common.h"
#include "job-store.h"

/* A state file is a few hundred bytes; a larger one is refused by size
 * long before parsing matters. */
#define FUZZ_MAX_INPUT 16384

const char *const fuzz_expected_warnings[] = {FUZZ_GLIB_KEY_FILE_DOUBLE_ERROR, NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JobRecord) record = NULL;
	g_autoptr(JobRecord) again = NULL;
	g_autofree char *saved = NULL;
	g_autofree char *resaved = NULL;
	gsize len, relen;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	record = job_record_from_keyfile_data((const char *)data, size, &error);
	if (record == NULL) {
		fuzz_check_error(error, JOB_STORE_ERROR);
		return 0;
	}
	saved = job_record_to_keyfile_data(record, &len);
	again = job_record_from_keyfile_data(saved, len, &error);
	FUZZ_ASSERT(again != NULL);
	resaved = job_record_to_keyfile_data(again, &relen);
	FUZZ_ASSERT(len == relen && memcmp(saved, resaved, len) == 0);
	return 0;
}
