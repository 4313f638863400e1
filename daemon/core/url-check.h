/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "fota-limits.h"

#include "job-record.h"

/* Validates a package URL before it can reach the modem.
 *
 * Accepted shapes (scheme case-insensitive, at most FOTA_URL_MAX bytes,
 * printable ASCII only: no '"', space, control byte or non-ASCII byte):
 *   ftp://user:password@host[:port]/file
 *     user, password, host and file 1..FOTA_FTP_FIELD_MAX bytes each.
 *     Credentials are required: the guide's syntax has no anonymous form
 *     (an anonymous server takes "anonymous:guest@"). Neither may contain
 *     '@', the password no ':', since how the modem splits them is unknown.
 *     The file is in the server's root directory: no '/', not "." or "..".
 *   http(s)://host[:port]/path[?query]
 *     no "user@", a non-empty path below '/', subdirectories allowed.
 * Hosts are names or IPv4 addresses ([A-Za-z0-9._-]); IPv6 literals
 * ("[::1]") are refused: the modem's syntax has no brackets and would read
 * the first ':' as the port separator. Ports are decimal, 1..65535.
 * Nothing is percent-decoded: fields are checked as written. */

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
