/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>

#include "fotactl-json.h"

/* JSON-GLib takes strings as valid UTF-8 and copies other bytes through,
 * which would make the line invalid: replace them first, as the man page
 * says (g_utf8_make_valid() gives one U+FFFD per bad byte). */
static void
add_string_value(JsonBuilder *b, const char *str)
{
	g_autofree char *valid = g_utf8_make_valid(str != NULL ? str : "", -1);

	json_builder_add_string_value(b, valid);
}

static void
set_member_name(JsonBuilder *b, const char *key)
{
	g_autofree char *valid = g_utf8_make_valid(key, -1);

	json_builder_set_member_name(b, valid);
}

/* JSON has no NaN or infinities. JSON-GLib 1.6 writes g_ascii_dtostr()'s
 * text and appends ".0" when it has no '.': 40 would become 40.0, 1e+20 and
 * 1e-300 the invalid 1e+20.0 and 1e-300.0. Integral values in gint64's
 * range go as integers; the few others without a '.' as null (fotactl
 * prints no doubles today: the interface has none). */
static void
add_double_value(JsonBuilder *b, double d)
{
	char text[G_ASCII_DTOSTR_BUF_SIZE];

	if (!isfinite(d))
		json_builder_add_null_value(b);
	else if (strchr(g_ascii_dtostr(text, sizeof(text), d), '.') != NULL)
		json_builder_add_double_value(b, d);
	else if (d >= -0x1p63 && d < 0x1p63 && d == (double)(gint64)d)
		json_builder_add_int_value(b, (gint64)d);
	else
		json_builder_add_null_value(b);
}

static void add_variant_value(JsonBuilder *b, GVariant *value);

static gint
compare_keys(gconstpointer a, gconstpointer b)
{
	const char *ka, *kb;

	g_variant_get_child(*(GVariant *const *)a, 0, "&s", &ka);
	g_variant_get_child(*(GVariant *const *)b, 0, "&s", &kb);
	return strcmp(ka, kb);
}

/* The members of an a{sv} into the open object, in key order. */
static void
add_members(JsonBuilder *b, GVariant *dict)
{
	g_autoptr(GPtrArray) entries =
	        g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	gsize n = g_variant_n_children(dict);

	for (gsize i = 0; i < n; i++)
		g_ptr_array_add(entries, g_variant_get_child_value(dict, i));
	g_ptr_array_sort(entries, compare_keys); /* stable since GLib 2.32 */
	for (guint i = 0; i < entries->len; i++) {
		const char *key;
		g_autoptr(GVariant) member = NULL;

		/* Of a repeated key, g_variant_lookup() sees the first value;
		 * so do we (JSON-GLib would keep the last). */
		if (i > 0 && compare_keys(&entries->pdata[i - 1], &entries->pdata[i]) == 0)
			continue;
		g_variant_get(entries->pdata[i], "{&sv}", &key, &member);
		set_member_name(b, key);
		add_variant_value(b, member);
	}
}

static void
add_variant_value(JsonBuilder *b, GVariant *value)
{
	if (value == NULL) {
		json_builder_add_null_value(b);
		return;
	}
	switch (g_variant_classify(value)) {
	case G_VARIANT_CLASS_VARIANT: {
		g_autoptr(GVariant) inner = g_variant_get_variant(value);

		add_variant_value(b, inner);
		return;
	}
	case G_VARIANT_CLASS_STRING:
	case G_VARIANT_CLASS_OBJECT_PATH:
	case G_VARIANT_CLASS_SIGNATURE:
		add_string_value(b, g_variant_get_string(value, NULL));
		return;
	case G_VARIANT_CLASS_BOOLEAN:
		json_builder_add_boolean_value(b, g_variant_get_boolean(value));
		return;
	case G_VARIANT_CLASS_BYTE:
		json_builder_add_int_value(b, g_variant_get_byte(value));
		return;
	case G_VARIANT_CLASS_INT16:
		json_builder_add_int_value(b, g_variant_get_int16(value));
		return;
	case G_VARIANT_CLASS_UINT16:
		json_builder_add_int_value(b, g_variant_get_uint16(value));
		return;
	case G_VARIANT_CLASS_INT32:
		json_builder_add_int_value(b, g_variant_get_int32(value));
		return;
	case G_VARIANT_CLASS_UINT32:
		json_builder_add_int_value(b, g_variant_get_uint32(value));
		return;
	case G_VARIANT_CLASS_INT64:
		json_builder_add_int_value(b, g_variant_get_int64(value));
		return;
	case G_VARIANT_CLASS_UINT64: {
		guint64 u = g_variant_get_uint64(value);

		/* JSON-GLib's integers are gint64: above that, a double. */
		if (u <= G_MAXINT64)
			json_builder_add_int_value(b, (gint64)u);
		else
			json_builder_add_double_value(b, (double)u);
		return;
	}
	case G_VARIANT_CLASS_DOUBLE:
		add_double_value(b, g_variant_get_double(value));
		return;
	default:
		break;
	}

	if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT)) {
		json_builder_begin_object(b);
		add_members(b, value);
		json_builder_end_object(b);
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING_ARRAY)) {
		gsize n = g_variant_n_children(value);

		json_builder_begin_array(b);
		for (gsize i = 0; i < n; i++) {
			const char *str;

			g_variant_get_child(value, i, "&s", &str);
			add_string_value(b, str);
		}
		json_builder_end_array(b);
	} else {
		g_autofree char *text = g_variant_print(value, TRUE);

		add_string_value(b, text);
	}
}

/* JSON-GLib 1.6 (Debian 12) writes U+001F raw (its test is "< 0x1f"), which
 * is not valid JSON, and U+2028/U+2029 raw, which consumers that eval or
 * print lines choke on. Outside strings the text is ASCII without controls,
 * so escaping these three in the whole line changes only those strings. */
static char *
escape_leftovers(const char *json)
{
	GString *out = g_string_sized_new(strlen(json));

	for (const char *p = json; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c == 0x1f || c == 0x2028 || c == 0x2029)
			g_string_append_printf(out, "\\u%04x", (guint)c);
		else
			g_string_append_len(out, p, g_utf8_next_char(p) - p);
	}
	return g_string_free(out, FALSE);
}

void
fotactl_json_object_init(FotactlJsonObject *obj, const char *event)
{
	obj->builder = json_builder_new();
	json_builder_begin_object(obj->builder);
	if (event != NULL)
		fotactl_json_object_add_string(obj, "event", event);
}

void
fotactl_json_object_add_string(FotactlJsonObject *obj, const char *key, const char *value)
{
	set_member_name(obj->builder, key);
	add_string_value(obj->builder, value);
}

void
fotactl_json_object_add_int(FotactlJsonObject *obj, const char *key, gint64 value)
{
	set_member_name(obj->builder, key);
	json_builder_add_int_value(obj->builder, value);
}

void
fotactl_json_object_add_bool(FotactlJsonObject *obj, const char *key, gboolean value)
{
	set_member_name(obj->builder, key);
	json_builder_add_boolean_value(obj->builder, value);
}

void
fotactl_json_object_add_variant(FotactlJsonObject *obj, const char *key, GVariant *value)
{
	set_member_name(obj->builder, key);
	add_variant_value(obj->builder, value);
}

void
fotactl_json_object_add_members(FotactlJsonObject *obj, GVariant *dict)
{
	g_return_if_fail(g_variant_is_of_type(dict, G_VARIANT_TYPE_VARDICT));
	add_members(obj->builder, dict);
}

char *
fotactl_json_object_end(FotactlJsonObject *obj)
{
	g_autoptr(JsonBuilder) builder = g_steal_pointer(&obj->builder);
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree char *text = NULL;

	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	text = json_generator_to_data(generator, NULL);
	return escape_leftovers(text);
}
