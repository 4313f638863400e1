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
} JobOptionsError;

/* @asv must be of type a{sv}. @kind is the modem's (update-urc-max is EC200T
 * only); @file_mode refuses cid/apn, URL mode refuses sha256.
 * Messages name the key and the limit:
 * "option 'download-urc-max' must be 0 or 5..100, got 3". */
gboolean job_options_parse(GVariant *asv, FotaSourceKind source, FotaUpgradeKind kind,
			   JobOptions *out, GError **error);
