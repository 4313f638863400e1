/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "at-parse.h"
#include "job-record.h"

/* The a{sv} options of StartUrl/StartFile, validated into JobOptions. */

#define JOB_OPTIONS_ERROR (job_options_error_quark())
GQuark job_options_error_quark(void);
typedef enum {
	JOB_OPTIONS_ERROR_UNKNOWN_KEY,
	JOB_OPTIONS_ERROR_TYPE,
	JOB_OPTIONS_ERROR_RANGE,
	JOB_OPTIONS_ERROR_NOT_SUPPORTED, /* e.g. update-urc-max on a DFOTA model */
	JOB_OPTIONS_ERROR_CONFLICT,      /* a key twice, or "apn" without "cid" */
} JobOptionsError;

/* @asv must be of type a{sv} (NULL: no options). @kind is the modem's
 * (update-urc-max is EC200T only); a FILE @source refuses cid/apn, URL
 * sources refuse sha256. Types are strict ("u" is not "i").
 *
 * "cid" alone means "use that already configured PDP context"; "apn" needs
 * "cid", because the APN is configured on a context and guessing which one
 * could overwrite a context the host uses for something else.
 *
 * *out is overwritten, not freed: pass it cleared. On success it holds the
 * defaults of job_options_init() updated by @asv; on failure the defaults,
 * with nothing allocated. Messages name the key, the value and the limit:
 * "option 'download-urc-max' must be 0 or 5..100, got 3".
 * @out: (out caller-allocates) (transfer full): free its strings with
 *   job_options_clear() */
gboolean job_options_parse(GVariant *asv, FotaSourceKind source, FotaUpgradeKind kind,
                           JobOptions *out, GError **error);

/* Whether options parsed for one modem suit the modem now identified: a
 * model of @kind whose AT+QFOTADL=? answer parsed into @ranges (NULL when it
 * did not; @ranges_text quotes it). JOB_OPTIONS_ERROR_NOT_SUPPORTED names
 * the option and the modem's ranges. */
gboolean job_options_fit_modem(const JobOptions *options, FotaUpgradeKind kind,
                               const AtQfotadlRanges *ranges, const char *ranges_text,
                               GError **error);
