/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The bounds the modem's AT+QFOTADL sets, in one place: the D-Bus checks,
 * the state file and fotactl all use these. */

/* FILE:<length> holds at most 2^32 - 1 (the modem's length field). */
#define FOTA_PACKAGE_MAX G_GUINT64_CONSTANT(4294967295)
