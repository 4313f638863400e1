/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* +QIND: "FOTA",<stage>[,<value>] — pure, lenient, bounded.
 *
 * Accepted beyond the guide's form: any case (stage stored upper case),
 * white space around the separators and the line, curly quotes (UTF-8
 * U+2018/2019/201C/201D) in place of '"', unquoted "FOTA" and stage, any
 * [A-Za-z]{1,QIND_STAGE_MAX} stage (unknown ones: QIND_STAGE_UNKNOWN), a
 * quoted status in words instead of a stage (QIND_STAGE_STATUS, empty
 * stage, the words in .text), a
 * signed gint64 value with an optional '%', or a quoted text running to the
 * line's last quote (truncated, control bytes and invalid UTF-8 as '?').
 * MALFORMED: anything else after "+QIND: FOTA", including trailing garbage
 * and numbers beyond gint64. On any result but QIND_OK *out is zeroed.
 * Reads only up to the NUL, allocates nothing. */

typedef enum {
	QIND_STAGE_UNKNOWN, /* any other [A-Z]+ stage; see QindFota.stage */
	QIND_STAGE_FTPSTART,
	QIND_STAGE_HTTPSTART,
	QIND_STAGE_HTTPSSTART,
	QIND_STAGE_FILESTART,
	QIND_STAGE_DOWNLOADING,
	QIND_STAGE_FTPEND,
	QIND_STAGE_HTTPEND,
	QIND_STAGE_HTTPSEND,
	QIND_STAGE_FILEEND,
	QIND_STAGE_START,
	QIND_STAGE_UPDATING,
	QIND_STAGE_END,
	QIND_STAGE_RESTORE,
	QIND_STAGE_STATUS, /* a quoted status in words in place of the stage; see .text */
} QindStage;

typedef enum {
	QIND_VALUE_NONE,
	QIND_VALUE_INT,
	QIND_VALUE_TEXT,
} QindValueKind;

#define QIND_STAGE_MAX 32
#define QIND_TEXT_MAX  128

typedef struct {
	QindStage kind;
	char stage[QIND_STAGE_MAX + 1]; /* upper case, as received */
	QindValueKind value_kind;
	gint64 value;                 /* QIND_VALUE_INT */
	char text[QIND_TEXT_MAX + 1]; /* QIND_VALUE_TEXT, truncated to the bound */
} QindFota;

typedef enum {
	QIND_OK,
	QIND_NOT_FOTA,  /* not a +QIND: "FOTA" line (other URCs, SMS DONE, ...) */
	QIND_MALFORMED, /* a FOTA line we cannot read */
} QindParseResult;

QindParseResult qind_fota_parse(const char *line, QindFota *out);

/* Download-phase start/end stages (FTPSTART, HTTPEND, ...). */
gboolean qind_stage_is_download_start(QindStage kind);
gboolean qind_stage_is_download_end(QindStage kind);
