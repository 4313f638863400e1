/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The guide's error codes: FTP 601-630, HTTP(S) 701-730, file 500,
 * upgrade 504 and 506. Unknown codes are kept as numbers. */

typedef struct {
	int code;
	const char *name;    /* stable symbol, e.g. "HTTP_DNS" */
	const char *message; /* the guide's meaning, e.g. "HTTP(S) DNS error" */
} FotaErrorInfo;

/* NULL when undocumented, and for 0 (every table's "success").
 * Returns: (transfer none): a static entry */
const FotaErrorInfo *fota_error_lookup(int code);
/* "714 (HTTP(S) DNS error)", "999 (undocumented error code)", "0 (success)".
 * Returns: (transfer full) */
char *fota_error_describe(int code);
