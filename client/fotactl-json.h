/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* fotactl's JSON lines (fotactl(1), JSON OUTPUT): JSON-GLib builds and
 * writes them; this module keeps the promises the man page makes on top of
 * it. Strings: bytes that are not valid UTF-8 become U+FFFD (one per byte),
 * control characters are escaped (\n, \r, \t, \b, \f by name, the others,
 * DEL, U+2028 and U+2029 as \u00XX/\u20XX), NULL is written as "". Values:
 * every integer type as a number, booleans as true/false, doubles as
 * numbers (integral ones without ".0"), a{sv} as an object with its keys
 * sorted (stable output whatever order the daemon uses), arrays of strings
 * as arrays, anything else as its GVariant text form in a string. */

/* A one-line JSON object under construction. */
typedef struct {
	JsonBuilder *builder;
} FotactlJsonObject;

/* Starts {"event":"<event>" (or "{" when @event is NULL). */
void fotactl_json_object_init(FotactlJsonObject *obj, const char *event);
void fotactl_json_object_add_string(FotactlJsonObject *obj, const char *key, const char *value);
void fotactl_json_object_add_int(FotactlJsonObject *obj, const char *key, gint64 value);
void fotactl_json_object_add_bool(FotactlJsonObject *obj, const char *key, gboolean value);
void fotactl_json_object_add_variant(FotactlJsonObject *obj, const char *key, GVariant *value);
/* Adds every member of the a{sv} @dict to the object itself, keys sorted. */
void fotactl_json_object_add_members(FotactlJsonObject *obj, GVariant *dict);
/* Closes the object and returns the line, without a newline; frees nothing
 * else (the object is consumed). */
char *fotactl_json_object_end(FotactlJsonObject *obj);
