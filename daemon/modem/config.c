/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "config.h"

#include "at-stream.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-config-error-quark, fotad_config_error)
/* clang-format on */

/* Longest timeout accepted: 30 days still fits a guint of milliseconds. */
#define MAX_TIMEOUT_S (30.0 * 24 * 3600)

static const guint valid_bauds[] = {
        9600,   19200,  38400,   57600,   115200,  230400,
        460800, 921600, 1000000, 2000000, 3000000, 4000000,
};

typedef gboolean (*KeyParser)(FotadConfig *config, gsize offset, const char *value, GError **error);

typedef struct {
	const char *group;
	const char *key;
	KeyParser parse;
	gsize offset; /* of the field in FotadConfig */
} KeyDesc;

static void *
field(FotadConfig *config, gsize offset)
{
	return (char *)config + offset;
}

/* Every parser reports "[group] key must be ..., got 'value'"; the caller
 * prefixes the group and key, the parser says what was expected. */
static gboolean
bad_value(GError **error, const char *expected, const char *value)
{
	g_set_error(error, FOTAD_CONFIG_ERROR, FOTAD_CONFIG_ERROR_VALUE, "must be %s, got '%s'",
	            expected, value);
	return FALSE;
}

static gboolean
parse_string(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	char **dest = field(config, offset);

	g_free(*dest);
	/* An empty value means "not set": discovery, the kernel's boot id, ... */
	*dest = *value != '\0' ? g_strdup(value) : NULL;
	return TRUE;
}

static gboolean
parse_directory(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	if (*value == '\0')
		return bad_value(error, "a directory", value);
	return parse_string(config, offset, value, error);
}

static gboolean
parse_uint(const char *value, guint64 max, guint64 *out)
{
	guint64 n;

	if (!g_ascii_string_to_unsigned(value, 10, 0, max, &n, NULL))
		return FALSE;
	*out = n;
	return TRUE;
}

static gboolean
parse_baud(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	guint64 n;

	if (parse_uint(value, G_MAXUINT, &n)) {
		for (guint i = 0; i < G_N_ELEMENTS(valid_bauds); i++) {
			if (valid_bauds[i] == n) {
				*(guint *)field(config, offset) = n;
				return TRUE;
			}
		}
	}
	return bad_value(error, "a standard baud rate (9600..4000000)", value);
}

static gboolean
parse_flow(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	SerialFlow *flow = field(config, offset);

	if (g_str_equal(value, "hardware"))
		*flow = SERIAL_FLOW_HARDWARE;
	else if (g_str_equal(value, "none"))
		*flow = SERIAL_FLOW_NONE;
	else
		return bad_value(error, "'hardware' or 'none'", value);
	return TRUE;
}

static gboolean
parse_port_kind(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	FotadPortKind *kind = field(config, offset);

	if (g_str_equal(value, "usb"))
		*kind = FOTAD_PORT_KIND_USB;
	else if (g_str_equal(value, "uart"))
		*kind = FOTAD_PORT_KIND_UART;
	else
		return bad_value(error, "'usb' or 'uart'", value);
	return TRUE;
}

static gboolean
parse_paced_rate(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	guint64 n;

	if (!parse_uint(value, 10000000, &n) || n < 32)
		return bad_value(error, "a rate in bytes per second, 32..10000000", value);
	*(guint *)field(config, offset) = n;
	return TRUE;
}

static gboolean
parse_usb_id(const char *text, ModemUsbId *id)
{
	g_auto(GStrv) parts = g_strsplit(text, ":", -1);
	guint64 vid, pid;

	if (g_strv_length(parts) != 2 || strlen(parts[0]) != 4 || strlen(parts[1]) != 4)
		return FALSE;
	if (!g_ascii_string_to_unsigned(parts[0], 16, 0, 0xffff, &vid, NULL) ||
	    !g_ascii_string_to_unsigned(parts[1], 16, 0, 0xffff, &pid, NULL))
		return FALSE;
	*id = (ModemUsbId){.vendor = vid, .product = pid};
	return TRUE;
}

static gboolean
parse_usb_ids(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	g_auto(GStrv) items = g_strsplit(value, ";", -1);
	ModemUsbId ids[FOTAD_MAX_USB_IDS];
	guint n = 0;

	for (guint i = 0; items[i] != NULL; i++) {
		char *item = g_strstrip(items[i]);

		if (*item == '\0')
			continue; /* a trailing ';' as GKeyFile lists write them */
		if (n == FOTAD_MAX_USB_IDS || !parse_usb_id(item, &ids[n]))
			return bad_value(error,
			                 "a ';'-separated list of at most 16 vvvv:pppp hex USB ids",
			                 value);
		n++;
	}
	if (n == 0)
		return bad_value(error, "at least one vvvv:pppp USB id", value);
	memcpy(config->usb_ids, ids, n * sizeof(ids[0]));
	config->n_usb_ids = n;
	return TRUE;
}

static gboolean
parse_at_interface(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	guint64 n;

	if (*value == '\0') {
		config->at_interface = -1;
		return TRUE;
	}
	if (!parse_uint(value, 255, &n))
		return bad_value(error, "an interface number 0..255 or empty", value);
	config->at_interface = n;
	return TRUE;
}

/* Seconds with fractions ("0.05"), always in the C locale. */
static gboolean
parse_seconds(const char *value, gboolean allow_zero, guint *ms)
{
	char *end = NULL;
	double s;

	errno = 0;
	s = g_ascii_strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !isfinite(s))
		return FALSE;
	if (s < 0 || s > MAX_TIMEOUT_S || (!allow_zero && s <= 0))
		return FALSE;
	*ms = (guint)ceil(s * 1000.0);
	return TRUE;
}

static gboolean
parse_timeout(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	if (!parse_seconds(value, FALSE, field(config, offset)))
		return bad_value(error, "a number of seconds > 0 and at most 2592000", value);
	return TRUE;
}

static gboolean
parse_grace(FotadConfig *config, gsize offset, const char *value, GError **error)
{
	if (!parse_seconds(value, TRUE, field(config, offset)))
		return bad_value(error, "a number of seconds >= 0 and at most 2592000", value);
	return TRUE;
}

#define OFF(member) G_STRUCT_OFFSET(FotadConfig, member)

static const KeyDesc keys[] = {
        {"modem", "port", parse_string, OFF(port)},
        {"modem", "baud", parse_baud, OFF(baud)},
        {"modem", "flow-control", parse_flow, OFF(flow)},
        {"modem", "port-kind", parse_port_kind, OFF(port_kind)},
        {"modem", "paced-rate", parse_paced_rate, OFF(paced_rate)},
        {"modem", "usb-ids", parse_usb_ids, OFF(usb_ids)},
        {"modem", "at-interface", parse_at_interface, OFF(at_interface)},
        {"timeouts", "command", parse_timeout, OFF(timeouts.command_ms)},
        {"timeouts", "first-urc", parse_timeout, OFF(timeouts.first_urc_ms)},
        {"timeouts", "urc-gap", parse_timeout, OFF(timeouts.urc_gap_ms)},
        {"timeouts", "download", parse_timeout, OFF(timeouts.download_ms)},
        {"timeouts", "update", parse_timeout, OFF(timeouts.update_ms)},
        {"timeouts", "reboot", parse_timeout, OFF(timeouts.reboot_ms)},
        {"timeouts", "boot-settle", parse_timeout, OFF(timeouts.boot_settle_ms)},
        {"timeouts", "late-reply-grace", parse_grace, OFF(timeouts.late_reply_grace_ms)},
        {"timeouts", "file-idle", parse_timeout, OFF(timeouts.file_idle_ms)},
        {"daemon", "state-dir", parse_directory, OFF(state_dir)},
        {"daemon", "boot-id-file", parse_string, OFF(boot_id_file)},
        {"daemon", "lock-dir", parse_directory, OFF(lock_dir)},
};

FotadConfig *
fotad_config_new(void)
{
	FotadConfig *config = g_new0(FotadConfig, 1);
	const ModemUsbId *ids = modem_finder_default_ids(&config->n_usb_ids);

	memcpy(config->usb_ids, ids, config->n_usb_ids * sizeof(*ids));
	config->baud = 115200;
	config->flow = SERIAL_FLOW_HARDWARE;
	config->port_kind = FOTAD_PORT_KIND_USB;
	config->paced_rate = AT_STREAM_PACED_DEFAULT_RATE;
	config->at_interface = -1;
	config->timeouts = (FotadTimeouts){
	        .command_ms = 10 * 1000,
	        .first_urc_ms = 120 * 1000,
	        .urc_gap_ms = 600 * 1000,
	        .download_ms = 3600 * 1000,
	        .update_ms = 1800 * 1000,
	        .reboot_ms = 300 * 1000,
	        .boot_settle_ms = 30 * 1000,
	        .late_reply_grace_ms = 1000,
	        /* No guide documents how long a modem waits for the rest of a
	         * FILE package; the tests exercise 10, 15 and 30 s. */
	        .file_idle_ms = 60 * 1000,
	};
	config->state_dir = g_strdup(FOTAD_DEFAULT_STATE_DIR);
	config->lock_dir = g_strdup(FOTAD_DEFAULT_LOCK_DIR);
	return config;
}

void
fotad_config_free(FotadConfig *config)
{
	if (config == NULL)
		return;
	g_free(config->port);
	g_free(config->state_dir);
	g_free(config->lock_dir);
	g_free(config->boot_id_file);
	g_free(config);
}

static const KeyDesc *
find_key(const char *group, const char *key)
{
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (g_str_equal(keys[i].group, group) && g_str_equal(keys[i].key, key))
			return &keys[i];
	}
	return NULL;
}

static gboolean
known_group(const char *group)
{
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (g_str_equal(keys[i].group, group))
			return TRUE;
	}
	return FALSE;
}

static gboolean
apply_key(FotadConfig *config, GKeyFile *kf, const char *group, const char *key, GError **error)
{
	const KeyDesc *desc = find_key(group, key);
	g_autofree char *value = NULL;
	g_autoptr(GError) local = NULL;

	if (desc == NULL) {
		/* Forward compatibility: a newer config must not stop an older daemon. */
		g_warning("Config: ignoring unknown key [%s] %s", group, key);
		return TRUE;
	}
	value = g_key_file_get_string(kf, group, key, &local);
	/* GLib 2.74 returns a value and an error for a bad escape ("a\e") */
	if (value == NULL || local != NULL) {
		g_set_error(error, FOTAD_CONFIG_ERROR, FOTAD_CONFIG_ERROR_VALUE, "[%s] %s: %s",
		            group, key, local->message);
		return FALSE;
	}
	g_strstrip(value);
	if (!desc->parse(config, desc->offset, value, &local)) {
		g_set_error(error, FOTAD_CONFIG_ERROR, FOTAD_CONFIG_ERROR_VALUE, "[%s] %s %s",
		            group, key, local->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean
apply_group(FotadConfig *config, GKeyFile *kf, const char *group, GError **error)
{
	g_auto(GStrv) names = g_key_file_get_keys(kf, group, NULL, NULL);

	if (!known_group(group)) {
		g_warning("Config: ignoring unknown group [%s]", group);
		return TRUE;
	}
	for (guint i = 0; names != NULL && names[i] != NULL; i++) {
		if (!apply_key(config, kf, group, names[i], error))
			return FALSE;
	}
	return TRUE;
}

gboolean
fotad_config_load_data(FotadConfig *config, const char *data, gsize length, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	g_auto(GStrv) groups = NULL;

	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &local)) {
		g_set_error(error, FOTAD_CONFIG_ERROR, FOTAD_CONFIG_ERROR_READ, "%s",
		            local->message);
		return FALSE;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		if (!apply_group(config, kf, groups[i], error))
			return FALSE;
	}
	return TRUE;
}

gboolean
fotad_config_load_file(FotadConfig *config, const char *path, gboolean must_exist, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) local = NULL;
	gsize length;

	if (!g_file_get_contents(path, &data, &length, &local)) {
		if (!must_exist && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return TRUE;
		g_set_error(error, FOTAD_CONFIG_ERROR, FOTAD_CONFIG_ERROR_READ,
		            "cannot read config file %s: %s", path, local->message);
		return FALSE;
	}
	if (!fotad_config_load_data(config, data, length, error)) {
		g_prefix_error(error, "config file %s: ", path);
		return FALSE;
	}
	return TRUE;
}

void
fotad_config_get_finder_config(const FotadConfig *config, ModemFinderConfig *out)
{
	*out = (ModemFinderConfig){
	        .port = config->port,
	        .ids = config->usb_ids,
	        .n_ids = config->n_usb_ids,
	        .at_interface = config->at_interface,
	};
}

const char *
fotad_port_kind_to_string(FotadPortKind kind)
{
	return kind == FOTAD_PORT_KIND_UART ? "uart" : "usb";
}
