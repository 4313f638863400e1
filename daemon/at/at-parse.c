/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "at-parse.h"

#include <string.h>

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-at-parse-error-quark, at_parse_error)
/* clang-format on */

static const char *
skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses a decimal number into @out; FALSE on no digits or overflow. */
static gboolean
parse_uint(const char **p, guint *out)
{
	const char *s = *p;
	guint64 v = 0;

	if (!g_ascii_isdigit(*s))
		return FALSE;
	while (g_ascii_isdigit(*s)) {
		v = v * 10 + (guint)(*s - '0');
		if (v > G_MAXINT)
			return FALSE;
		s++;
	}
	*out = (guint)v;
	*p = s;
	return TRUE;
}

/* "<n>" after "+CME ERROR:" -> n; anything else (text, nothing) -> -1. */
static int
parse_error_code(const char *rest)
{
	const char *p = skip_spaces(rest);
	guint v;

	if (*p == ':')
		p = skip_spaces(p + 1);
	if (!parse_uint(&p, &v) || *skip_spaces(p) != '\0')
		return -1;
	return (int)v;
}

/* V.250 final result codes. NO CARRIER, BUSY, NO ANSWER and NO DIALTONE
 * end a command too (as a failure); the daemon never dials, but treating
 * them as final keeps an unexpected one from costing a full timeout. */
static const char *const error_words[] = {"ERROR", "NO CARRIER", "BUSY", "NO ANSWER",
                                          "NO DIALTONE"};

AtFinal
at_parse_final(const char *line, int *code)
{
	int dummy;

	if (code == NULL)
		code = &dummy;
	*code = -1;
	if (strcmp(line, "OK") == 0)
		return AT_FINAL_OK;
	if (strcmp(line, "CONNECT") == 0 ||
	    (g_str_has_prefix(line, "CONNECT ") && g_ascii_isdigit(*skip_spaces(line + 8))))
		return AT_FINAL_CONNECT;
	for (guint i = 0; i < G_N_ELEMENTS(error_words); i++) {
		if (strcmp(line, error_words[i]) == 0)
			return AT_FINAL_ERROR;
	}
	if (g_str_has_prefix(line, "+CME ERROR")) {
		*code = parse_error_code(line + strlen("+CME ERROR"));
		return AT_FINAL_CME_ERROR;
	}
	if (g_str_has_prefix(line, "+CMS ERROR")) {
		*code = parse_error_code(line + strlen("+CMS ERROR"));
		return AT_FINAL_CMS_ERROR;
	}
	return AT_FINAL_NONE;
}

/* Lines the modem sends on its own. Prefixes ending in ':' match the start
 * of a line; bare words match the whole line. The table holds only codes
 * that are unsolicited on Quectel LTE modules: boot (RDY, +CPIN, +QUSIM,
 * +QIND: SMS DONE/PB DONE, +CFUN), registration (+CREG/+CGREG/+CEREG with
 * the URC mode on), FOTA progress (+QIND: "FOTA"), sockets (+QIURC),
 * incoming calls and messages (RING, +CRING, +CLIP, +CMTI, +CMT, +CDS,
 * +CUSD), network time (+QNITZ, +CTZE, +CTZV), power (POWERED DOWN,
 * NORMAL POWER DOWN, +QSTAT). Solicited-only codes such as +CSQ: are left
 * out. A command querying one of these (AT+CPIN?) still gets its answer:
 * at-channel keeps a URC-looking line whose prefix names the command. */
static const char *const urc_prefixes[] = {
        "+QIND:", "+CPIN:",  "+QUSIM:", "+CREG:", "+CGREG:", "+CEREG:",   "+QIURC:",
        "+CFUN:", "+QSTAT:", "+CRING:", "+CLIP:", "+CMTI:",  "+CMT:",     "+CDS:",
        "+CUSD:", "+QNITZ:", "+CTZE:",  "+CTZV:", "+CGEV:",  "+QGPSURC:",
};
static const char *const urc_words[] = {
        "RDY",
        "RING",
        "POWERED DOWN",
        "NORMAL POWER DOWN",
};

gboolean
at_parse_is_urc(const char *line)
{
	for (guint i = 0; i < G_N_ELEMENTS(urc_prefixes); i++) {
		if (g_str_has_prefix(line, urc_prefixes[i]))
			return TRUE;
	}
	for (guint i = 0; i < G_N_ELEMENTS(urc_words); i++) {
		if (strcmp(line, urc_words[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

/* [A-Za-z0-9_.-]{1,FOTA_REVISION_MAX}: also the rule for model names. */
static gboolean
is_identifier(const char *s)
{
	gsize n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= FOTA_REVISION_MAX || !fota_revision_char_is_valid(c))
			return FALSE;
	}
	return n > 0;
}

gboolean
at_revision_is_valid(const char *revision)
{
	return revision != NULL && is_identifier(revision);
}

static gboolean
has_prefix_ci(const char *s, const char *prefix)
{
	return g_ascii_strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Modem bytes quoted in an error message: cut to @max bytes and escaped, so
 * the message is valid UTF-8 (D-Bus refuses anything else) and one line. */
static char *
quote_modem_text(const char *value, gsize max)
{
	g_autofree char *cut = g_strndup(value, max);

	return g_strescape(cut, NULL);
}

static char *
take_identifier(const char *what, const char *value, GError **error)
{
	if (!is_identifier(value)) {
		g_autofree char *quoted = quote_modem_text(value, 80);

		g_set_error(error, AT_PARSE_ERROR, AT_PARSE_ERROR_MALFORMED,
		            "%s '%s' is not 1..%d characters of [A-Za-z0-9_.-]", what, quoted,
		            FOTA_REVISION_MAX);
		return NULL;
	}
	return g_strdup(value);
}

char *
at_parse_revision(const char *const *lines, GError **error)
{
	guint n = lines != NULL ? g_strv_length((char **)lines) : 0;

	/* ATI: "Quectel" / "EC200T" / "Revision: EC200TCNDAR02A07M16" */
	for (guint i = 0; i < n; i++) {
		if (has_prefix_ci(lines[i], "Revision:"))
			return take_identifier("revision", skip_spaces(lines[i] + 9), error);
	}
	/* AT+QGMR: the revision alone on its line */
	if (n == 1)
		return take_identifier("revision", lines[0], error);
	g_set_error(error, AT_PARSE_ERROR, AT_PARSE_ERROR_MISSING,
	            "no 'Revision:' line and not a single bare line in a %u-line response", n);
	return NULL;
}

char *
at_parse_model(const char *const *lines, GError **error)
{
	guint n = lines != NULL ? g_strv_length((char **)lines) : 0;
	guint i = 0;

	/* ATI starts with the manufacturer; AT+CGMM has the model alone. */
	if (n > 0 && g_ascii_strcasecmp(lines[0], "Quectel") == 0)
		i = 1;
	if (i >= n || has_prefix_ci(lines[i], "Revision:")) {
		g_set_error(error, AT_PARSE_ERROR, AT_PARSE_ERROR_MISSING,
		            "no model line in a %u-line response", n);
		return NULL;
	}
	return take_identifier("model", lines[i], error);
}

static const struct {
	const char *prefix;
	FotaUpgradeKind kind;
} kind_table[] = {
        {"EC200T", FOTA_UPGRADE_KIND_FOTA},  {"EC200S", FOTA_UPGRADE_KIND_DFOTA},
        {"EC600S", FOTA_UPGRADE_KIND_DFOTA}, {"EG912Y", FOTA_UPGRADE_KIND_DFOTA},
        {"EC200A", FOTA_UPGRADE_KIND_DFOTA},
};

FotaUpgradeKind
at_parse_upgrade_kind(const char *model)
{
	if (model == NULL)
		return FOTA_UPGRADE_KIND_UNKNOWN;
	for (guint i = 0; i < G_N_ELEMENTS(kind_table); i++) {
		if (has_prefix_ci(model, kind_table[i].prefix))
			return kind_table[i].kind;
	}
	return FOTA_UPGRADE_KIND_UNKNOWN;
}

const char *
fota_upgrade_kind_to_string(FotaUpgradeKind kind)
{
	switch (kind) {
	case FOTA_UPGRADE_KIND_FOTA:
		return "fota";
	case FOTA_UPGRADE_KIND_DFOTA:
		return "dfota";
	case FOTA_UPGRADE_KIND_UNKNOWN:
		break;
	}
	return "unknown";
}

gboolean
at_range_list_contains(const AtRangeList *list, guint value)
{
	for (guint i = 0; i < list->n; i++) {
		if (value >= list->r[i].lo && value <= list->r[i].hi)
			return TRUE;
	}
	return FALSE;
}

static gboolean
malformed(GError **error, const char *line, const char *why)
{
	g_autofree char *quoted = quote_modem_text(line, 120);

	g_set_error(error, AT_PARSE_ERROR, AT_PARSE_ERROR_MALFORMED, "bad +QFOTADL ranges '%s': %s",
	            quoted, why);
	return FALSE;
}

/* One item of a list: "n" or "n-m" (spaces allowed around '-'). */
static gboolean
parse_range(const char **p, guint *lo, guint *hi)
{
	const char *s = skip_spaces(*p);

	if (!parse_uint(&s, lo))
		return FALSE;
	s = skip_spaces(s);
	*hi = *lo;
	if (*s == '-') {
		s = skip_spaces(s + 1);
		if (!parse_uint(&s, hi) || *hi < *lo)
			return FALSE;
	}
	*p = skip_spaces(s);
	return TRUE;
}

/* "(0,5-100)" -> {0,0},{5,100}; *p is at '(' and ends after ')'. */
static gboolean
parse_range_list(const char **p, AtRangeList *list, const char *line, GError **error)
{
	const char *s = *p + 1;

	list->n = 0;
	for (;;) {
		if (list->n == AT_RANGE_LIST_MAX)
			return malformed(
			        error, line,
			        "more than " G_STRINGIFY(AT_RANGE_LIST_MAX) " ranges in a list");
		if (!parse_range(&s, &list->r[list->n].lo, &list->r[list->n].hi))
			return malformed(error, line,
			                 "a list item is not 'n' or 'n-m' with n <= m");
		list->n++;
		if (*s == ')')
			break;
		if (*s != ',')
			return malformed(error, line, "a list is not closed by ')'");
		s++;
	}
	*p = s + 1;
	return TRUE;
}

/* The first field is a placeholder the firmware prints as <url>, "<url>",
 * "FILE:<length>" or similar: skip it, honouring quotes and brackets. */
static const char *
skip_url_field(const char *p)
{
	char close = '\0';

	if (*p == '"')
		close = '"';
	else if (*p == '(')
		close = ')';
	else if (*p == '<')
		close = '>';
	if (close != '\0') {
		const char *end = strchr(p + 1, close);
		return end != NULL ? end + 1 : NULL;
	}
	return strchr(p, ',');
}

gboolean
at_parse_qfotadl_ranges(const char *line, AtQfotadlRanges *out, GError **error)
{
	AtRangeList *lists[] = {&out->upgrade_mode, &out->download_urc_max, &out->update_urc_max};
	const char *p;
	guint i;

	memset(out, 0, sizeof(*out));
	if (!has_prefix_ci(line, "+QFOTADL:"))
		return malformed(error, line, "no '+QFOTADL:' prefix");
	p = skip_url_field(skip_spaces(line + 9));
	if (p == NULL)
		return malformed(error, line, "no range lists after the url field");
	/* Two lists at least; the third (update URCs) exists on EC200T only.
	 * Lists past the third are ignored: a newer firmware may add one. */
	for (i = 0; i < G_N_ELEMENTS(lists); i++) {
		p = skip_spaces(p);
		if (*p == '\0')
			break;
		if (*p != ',')
			return malformed(error, line, "expected ',' between fields");
		p = skip_spaces(p + 1);
		if (*p != '(')
			return malformed(error, line, "a field is not a '(...)' list");
		if (!parse_range_list(&p, lists[i], line, error))
			return FALSE;
	}
	if (i < 2)
		return malformed(error, line, "fewer than two range lists");
	return TRUE;
}
