/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The bounds AT+QFOTADL and its neighbours set, in one place: the D-Bus
 * checks, the state file, the AT parsers and fotactl all use these. */

/* FILE:<length> holds at most 2^32 - 1 (the modem's length field). */
#define FOTA_PACKAGE_MAX G_GUINT64_CONSTANT(4294967295)
/* The <url> argument of AT+QFOTADL. */
#define FOTA_URL_MAX 255
/* Firmware revisions and model names as ATI/AT+QGMR print them. */
#define FOTA_REVISION_MAX 64
/* AT+QICSGP's APN, sent inside "...": the stricter of the modem manuals'
 * limits (3GPP TS 23.003 allows 100 octets). */
#define FOTA_APN_MAX 62
/* download_URC_max and update_URC_max: 0 (none) or 5..100. */
#define FOTA_URC_MIN 5
#define FOTA_URC_MAX 100
/* PDP context ids of AT+QICSGP/AT+QIACT. */
#define FOTA_CID_MAX 16

/* A control byte: C0 (NUL, CR, LF, ESC, ...) or DEL. None belongs inside a
 * line the modem sends, an AT argument (CR/LF would end the command) or a
 * field of the state file. Bytes >= 0x80 are not: UTF-8 is judged apart. */
static inline gboolean
fota_byte_is_control(guchar c)
{
	return c < 0x20 || c == 0x7f;
}

/* [A-Za-z0-9_.-] */
static inline gboolean
fota_revision_char_is_valid(char c)
{
	return g_ascii_isalnum(c) || c == '_' || c == '.' || c == '-';
}

/* Printable ASCII but '"', which would end the quoted AT argument. */
static inline gboolean
fota_apn_char_is_valid(char c)
{
	return g_ascii_isprint(c) && c != '"';
}

/* 0 or FOTA_URC_MIN..FOTA_URC_MAX: the modem refuses 1..4 reports. */
static inline gboolean
fota_urc_count_is_valid(gint64 n)
{
	return n == 0 || (n >= FOTA_URC_MIN && n <= FOTA_URC_MAX);
}
