/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "job-record.h"

/* Validates a package URL before it can reach the modem. */

#define FOTA_URL_MAX 255
#define FOTA_FTP_FIELD_MAX 50

#define FOTA_URL_ERROR (fota_url_error_quark())
GQuark fota_url_error_quark(void);
typedef enum {
	FOTA_URL_ERROR_SCHEME,    /* not ftp://, http:// or https:// */
	FOTA_URL_ERROR_TOO_LONG,  /* the URL or one of its fields */
	FOTA_URL_ERROR_CHARACTER, /* '"', CR, LF, other control bytes, space, non-ASCII */
	FOTA_URL_ERROR_SYNTAX,    /* missing host/file, bad user:password@, ... */
	FOTA_URL_ERROR_PORT,      /* not 1..65535 */
	FOTA_URL_ERROR_PATH,      /* FTP file not in the root directory */
} FotaUrlError;

/* On success *kind is FTP, HTTP or HTTPS. The message names the field and
 * the limit: "FTP user is 51 bytes, at most 50 allowed". */
gboolean fota_url_check(const char *url, FotaSourceKind *kind, GError **error);
