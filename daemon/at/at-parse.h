/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "fota-limits.h"

/* Pure parsers for the modem's responses. No I/O. */

typedef enum {
	AT_FINAL_NONE, /* not a final result: an intermediate line or a URC */
	AT_FINAL_OK,
	AT_FINAL_CONNECT,
	AT_FINAL_ERROR,
	AT_FINAL_CME_ERROR,
	AT_FINAL_CMS_ERROR,
} AtFinal;

/* For +CME/+CMS ERROR, *code is the number, or -1 for the text form. */
AtFinal at_parse_final(const char *line, int *code);

/* TRUE for lines that are unsolicited even in the middle of a response:
 * +QIND:, RDY, +CPIN:, +QUSIM:, +CREG:, +CGREG:, +CEREG:, +QIURC:, ... */
gboolean at_parse_is_urc(const char *line);

/* The revision from ATI ("Revision: X") or AT+QGMR (a bare line).
 * Allowed characters [A-Za-z0-9_.-], 1..FOTA_REVISION_MAX bytes.
 * Returns: (transfer full) */
char *at_parse_revision(const char *const *lines, GError **error);
gboolean at_revision_is_valid(const char *revision);

/* The model from AT+CGMM or the second line of ATI ("EC200T").
 * Returns: (transfer full) */
char *at_parse_model(const char *const *lines, GError **error);

typedef enum {
	FOTA_UPGRADE_KIND_UNKNOWN,
	FOTA_UPGRADE_KIND_FOTA,  /* EC200T: full image */
	FOTA_UPGRADE_KIND_DFOTA, /* EC200S, EC600S, EG912Y, EC200A: delta */
} FotaUpgradeKind;

FotaUpgradeKind at_parse_upgrade_kind(const char *model);
/* Returns: (transfer none): "fota", "dfota", "unknown" */
const char *fota_upgrade_kind_to_string(FotaUpgradeKind kind);

#define AT_RANGE_LIST_MAX 8

typedef struct {
	guint n;
	struct {
		guint lo, hi;
	} r[AT_RANGE_LIST_MAX];
} AtRangeList;

/* +QFOTADL: <url>,(0,1),(0,5-100),(0,5-100) */
typedef struct {
	AtRangeList upgrade_mode;
	AtRangeList download_urc_max;
	AtRangeList update_urc_max; /* n == 0 when the modem lists none */
} AtQfotadlRanges;

gboolean at_parse_qfotadl_ranges(const char *line, AtQfotadlRanges *out, GError **error);
gboolean at_range_list_contains(const AtRangeList *list, guint value);

#define AT_PARSE_ERROR (at_parse_error_quark())
GQuark at_parse_error_quark(void);
typedef enum {
	AT_PARSE_ERROR_MISSING,   /* the expected line is not there */
	AT_PARSE_ERROR_MALFORMED, /* it is there but does not parse */
} AtParseError;
