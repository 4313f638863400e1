/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>

#include "fotactl-json.h"

static void
append_escaped_char(GString *out, gunichar c)
{
	switch (c) {
	case '"':
		g_string_append(out, "\\\"");
		return;
	case '\\':
		g_string_append(out, "\\\\");
		return;
	case '\n':
		g_string_append(out, "\\n");
		return;
	case '\r':
		g_string_append(out, "\\r");
		return;
	case '\t':
		g_string_append(out, "\\t");
		return;
	case '\b':
		g_string_append(out, "\\b");
		return;
	case '\f':
		g_string_append(out, "\\f");
		return;
	default:
		break;
	}
	/* JSON only requires escaping below 0x20; DEL, U+2028 and U+2029 are
	 * escaped as well because consumers that eval or print lines choke on
	 * them, and escaping costs nothing. */
	if (c < 0x20 || c == 0x7f || c == 0x2028 || c == 0x2029)
		g_string_append_printf(out, "\\u%04x", (guint)c);
	else
		g_string_append_unichar(out, c);
}

void
fotactl_json_append_string(GString *out, const char *str)
{
	g_string_append_c(out, '"');
	if (str != NULL) {
		const char *p = str;

		while (*p != '\0') {
			/* -1: the string is NUL-terminated; the validated getter
			 * refuses overlong forms and surrogates. */
			gunichar c = g_utf8_get_char_validated(p, -1);

			if (c == (gunichar)-1 || c == (gunichar)-2) {
				/* One replacement per bad byte, then resync. */
				g_string_append(out, "\xef\xbf\xbd");
				p++;
				continue;
			}
			append_escaped_char(out, c);
			p = g_utf8_next_char(p);
		}
	}
	g_string_append_c(out, '"');
}

static gint
compare_entries(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

/* Calls @func for each member of an a{sv} in key order. */
static void
foreach_sorted(GVariant *dict, void (*func)(const char *key, GVariant *value, gpointer data),
               gpointer data)
{
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
	GVariantIter iter;
	char *key;

	g_variant_iter_init(&iter, dict);
	while (g_variant_iter_next(&iter, "{sv}", &key, NULL))
		g_ptr_array_add(keys, key);
	g_ptr_array_sort(keys, compare_entries);
	for (guint i = 0; i < keys->len; i++) {
		g_autoptr(GVariant) value = g_variant_lookup_value(dict, keys->pdata[i], NULL);

		func(keys->pdata[i], value, data);
	}
}

static void
append_member(const char *key, GVariant *value, gpointer data)
{
	FotactlJsonObject *obj = data;

	fotactl_json_object_add_variant(obj, key, value);
}

void
fotactl_json_append_variant(GString *out, GVariant *value)
{
	if (value == NULL) {
		g_string_append(out, "null");
		return;
	}
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARIANT)) {
		g_autoptr(GVariant) inner = g_variant_get_variant(value);

		fotactl_json_append_variant(out, inner);
		return;
	}

	switch (g_variant_classify(value)) {
	case G_VARIANT_CLASS_STRING:
	case G_VARIANT_CLASS_OBJECT_PATH:
	case G_VARIANT_CLASS_SIGNATURE:
		fotactl_json_append_string(out, g_variant_get_string(value, NULL));
		return;
	case G_VARIANT_CLASS_BOOLEAN:
		g_string_append(out, g_variant_get_boolean(value) ? "true" : "false");
		return;
	case G_VARIANT_CLASS_BYTE:
		g_string_append_printf(out, "%u", (guint)g_variant_get_byte(value));
		return;
	case G_VARIANT_CLASS_INT16:
		g_string_append_printf(out, "%d", (gint)g_variant_get_int16(value));
		return;
	case G_VARIANT_CLASS_UINT16:
		g_string_append_printf(out, "%u", (guint)g_variant_get_uint16(value));
		return;
	case G_VARIANT_CLASS_INT32:
		g_string_append_printf(out, "%" G_GINT32_FORMAT, g_variant_get_int32(value));
		return;
	case G_VARIANT_CLASS_UINT32:
		g_string_append_printf(out, "%" G_GUINT32_FORMAT, g_variant_get_uint32(value));
		return;
	case G_VARIANT_CLASS_INT64:
		g_string_append_printf(out, "%" G_GINT64_FORMAT, g_variant_get_int64(value));
		return;
	case G_VARIANT_CLASS_UINT64:
		g_string_append_printf(out, "%" G_GUINT64_FORMAT, g_variant_get_uint64(value));
		return;
	case G_VARIANT_CLASS_DOUBLE: {
		double d = g_variant_get_double(value);
		char buf[G_ASCII_DTOSTR_BUF_SIZE];

		/* JSON has no NaN or infinities. */
		if (isfinite(d))
			g_string_append(out, g_ascii_dtostr(buf, sizeof(buf), d));
		else
			g_string_append(out, "null");
		return;
	}
	default:
		break;
	}

	if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT)) {
		FotactlJsonObject obj;
		g_autofree char *text = NULL;

		fotactl_json_object_init(&obj, NULL);
		fotactl_json_object_add_members(&obj, value);
		text = fotactl_json_object_end(&obj);
		g_string_append(out, text);
		return;
	}
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING_ARRAY)) {
		g_autofree const char **strv = g_variant_get_strv(value, NULL);

		g_string_append_c(out, '[');
		for (guint i = 0; strv[i] != NULL; i++) {
			if (i > 0)
				g_string_append_c(out, ',');
			fotactl_json_append_string(out, strv[i]);
		}
		g_string_append_c(out, ']');
		return;
	}

	{
		g_autofree char *text = g_variant_print(value, TRUE);

		fotactl_json_append_string(out, text);
	}
}

void
fotactl_json_object_init(FotactlJsonObject *obj, const char *event)
{
	obj->buf = g_string_new("{");
	obj->empty = TRUE;
	if (event != NULL)
		fotactl_json_object_add_string(obj, "event", event);
}

static void
append_key(FotactlJsonObject *obj, const char *key)
{
	if (!obj->empty)
		g_string_append_c(obj->buf, ',');
	obj->empty = FALSE;
	fotactl_json_append_string(obj->buf, key);
	g_string_append_c(obj->buf, ':');
}

void
fotactl_json_object_add_string(FotactlJsonObject *obj, const char *key, const char *value)
{
	append_key(obj, key);
	fotactl_json_append_string(obj->buf, value);
}

void
fotactl_json_object_add_int(FotactlJsonObject *obj, const char *key, gint64 value)
{
	append_key(obj, key);
	g_string_append_printf(obj->buf, "%" G_GINT64_FORMAT, value);
}

void
fotactl_json_object_add_bool(FotactlJsonObject *obj, const char *key, gboolean value)
{
	append_key(obj, key);
	g_string_append(obj->buf, value ? "true" : "false");
}

void
fotactl_json_object_add_variant(FotactlJsonObject *obj, const char *key, GVariant *value)
{
	append_key(obj, key);
	fotactl_json_append_variant(obj->buf, value);
}

void
fotactl_json_object_add_members(FotactlJsonObject *obj, GVariant *dict)
{
	g_return_if_fail(g_variant_is_of_type(dict, G_VARIANT_TYPE_VARDICT));
	foreach_sorted(dict, append_member, obj);
}

char *
fotactl_json_object_end(FotactlJsonObject *obj)
{
	g_string_append_c(obj->buf, '}');
	return g_string_free(g_steal_pointer(&obj->buf), FALSE);
}
