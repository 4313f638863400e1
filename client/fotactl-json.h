/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The little JSON fotactl writes: one object per line. JSON-GLib is not a
 * dependency, and all we ever emit is flat objects of strings, numbers,
 * booleans and a few nested a{sv} dictionaries. Pure code, unit-tested. */

/* Appends @str as a JSON string literal (with the quotes). '"' and '\\' are
 * escaped, control bytes become \u00XX (\n, \r, \t, \b, \f by name), DEL,
 * U+2028 and U+2029 are escaped too, and bytes that are not valid UTF-8
 * become U+FFFD, so the output is valid UTF-8 JSON whatever @str holds.
 * NULL is written as "". */
void fotactl_json_append_string(GString *out, const char *str);

/* Appends one value: strings as strings, every integer type as a number,
 * booleans as true/false, doubles as numbers, a{sv} as an object (keys
 * sorted, so the output is stable), arrays of strings as arrays, anything
 * else as its GVariant text form in a string. */
void fotactl_json_append_variant(GString *out, GVariant *value);

/* A one-line JSON object under construction. */
typedef struct {
	GString *buf;
	gboolean empty;
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
