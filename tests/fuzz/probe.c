/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Configure-time probe: does clang link -fsanitize=fuzzer here? */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return 0;
}
