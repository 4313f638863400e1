/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-at.h"

#include "sim-fota.h"
#include "sim-syntax.h"

#include <string.h>

/* A real modem's command buffer is small; longer lines are dropped whole. */
#define MAX_LINE 4096

typedef enum {
	CMD_EXEC, /* AT+X */
	CMD_READ, /* AT+X? */
	CMD_TEST, /* AT+X=? */
	CMD_SET,  /* AT+X=... */
} CmdType;

typedef void (*ThenFunc)(SimAt *at, gpointer data);

struct _SimAt {
	SimModem *modem;
	gboolean echo;
	int cmee;

	char line[MAX_LINE];
	gsize line_len;
	gboolean overflow;
	gboolean last_was_cr; /* to swallow the LF of a CRLF */

	/* The command being answered: its final result and what happens once it is out. */
	const char *command;
	ThenFunc then;
	gpointer then_data;
	GDestroyNotify then_free;
	guint delay_source;
	char *delayed_final;
	gboolean hold_next;  /* SIGUSR2: the next command's final result waits... */
	gboolean reply_held; /* ...until sim_at_release_reply() (SIGUSR1) */
};

typedef const char *(*Handler)(SimAt *at, CmdType type, const char *args);

#define OK    "OK"
#define ERROR "ERROR"

static void line(SimAt *at, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
line(SimAt *at, const char *format, ...)
{
	g_autofree char *text = NULL;
	va_list args;

	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	sim_out_line(at->modem->out, text);
}

/* What happens after the final result has gone out (the FOTA start, a reboot). */
static void
set_then(SimAt *at, ThenFunc then, gpointer data, GDestroyNotify destroy)
{
	at->then = then;
	at->then_data = data;
	at->then_free = destroy;
}

static void
clear_then(SimAt *at)
{
	if (at->then_free != NULL && at->then_data != NULL)
		at->then_free(at->then_data);
	at->then = NULL;
	at->then_data = NULL;
	at->then_free = NULL;
}

/* --- identity ------------------------------------------------------------------------ */

static const char *
cmd_ati(SimAt *at, CmdType type, const char *args)
{
	line(at, "Quectel");
	line(at, "%s", at->modem->cfg->model);
	line(at, "Revision: %s", at->modem->revision);
	return OK;
}

static const char *
cmd_revision(SimAt *at, CmdType type, const char *args)
{
	if (type == CMD_TEST)
		return OK;
	if (type != CMD_EXEC)
		return ERROR;
	line(at, "%s", at->modem->revision);
	return OK;
}

static const char *
cmd_model(SimAt *at, CmdType type, const char *args)
{
	if (type == CMD_TEST)
		return OK;
	if (type != CMD_EXEC)
		return ERROR;
	line(at, "%s", at->modem->cfg->model);
	return OK;
}

static const char *
cmd_manufacturer(SimAt *at, CmdType type, const char *args)
{
	if (type == CMD_TEST)
		return OK;
	if (type != CMD_EXEC)
		return ERROR;
	line(at, "Quectel");
	return OK;
}

static const char *
cmd_imei(SimAt *at, CmdType type, const char *args)
{
	if (type == CMD_TEST)
		return OK;
	if (type != CMD_EXEC)
		return ERROR;
	line(at, "%s", at->modem->cfg->imei);
	return OK;
}

/* Canned answers for status queries a host commonly sends before a FOTA. */
static const char *
cmd_cpin(SimAt *at, CmdType type, const char *args)
{
	if (type != CMD_READ)
		return type == CMD_TEST ? OK : ERROR;
	line(at, "+CPIN: READY");
	return OK;
}

static const char *
cmd_csq(SimAt *at, CmdType type, const char *args)
{
	if (type == CMD_TEST) {
		line(at, "+CSQ: (0-31,99),(0-7,99)");
		return OK;
	}
	if (type != CMD_EXEC)
		return ERROR;
	line(at, "+CSQ: 20,99");
	return OK;
}

/* --- settings ------------------------------------------------------------------------ */

static const char *
cmd_cmee(SimAt *at, CmdType type, const char *args)
{
	g_autoptr(GArray) parsed = NULL;
	gint64 value;

	switch (type) {
	case CMD_READ:
		line(at, "+CMEE: %d", at->cmee);
		return OK;
	case CMD_TEST:
		line(at, "+CMEE: (0-2)");
		return OK;
	case CMD_SET:
		if (!sim_args_split(args, &parsed) || parsed->len != 1 ||
		    !sim_arg_int(parsed, 0, 0, 2, &value))
			return ERROR;
		/* Stored and reported only: the interpreter answers plain ERROR regardless,
		 * like Quectel firmware does for syntax errors. */
		at->cmee = (int)value;
		return OK;
	default:
		return ERROR;
	}
}

/* "2,2" turns flow control on, "0,0" off; anything else is refused. */
static gboolean
parse_flow_pair(const GArray *args, guint first, gboolean *on)
{
	gint64 a, b;

	if (args->len != first + 2 || !sim_arg_int(args, first, 0, 2, &a) ||
	    !sim_arg_int(args, first + 1, 0, 2, &b) || a != b || a == 1)
		return FALSE;
	*on = a == 2;
	return TRUE;
}

static const char *
cmd_ifc(SimAt *at, CmdType type, const char *args)
{
	g_autoptr(GArray) parsed = NULL;
	SimModem *modem = at->modem;

	switch (type) {
	case CMD_READ:
		line(at, "+IFC: %d,%d", modem->ifc ? 2 : 0, modem->ifc ? 2 : 0);
		return OK;
	case CMD_TEST:
		line(at, "+IFC: (0,2),(0,2)");
		return OK;
	case CMD_SET:
		/* --port-kind usb: the USB AT port takes AT+QCFG="usbifc" instead. */
		if (modem->cfg->port_kind != SIM_PORT_UART || !sim_args_split(args, &parsed) ||
		    !parse_flow_pair(parsed, 0, &modem->ifc))
			return ERROR;
		return OK;
	default:
		return ERROR;
	}
}

static const char *
qcfg_usbifc(SimAt *at, const GArray *args)
{
	SimModem *modem = at->modem;

	if (modem->cfg->port_kind != SIM_PORT_USB)
		return ERROR;
	if (args->len == 1) {
		line(at, "+QCFG: \"usbifc\",%d,%d", modem->usbifc ? 2 : 0, modem->usbifc ? 2 : 0);
		return OK;
	}
	return parse_flow_pair(args, 1, &modem->usbifc) ? OK : ERROR;
}

static const char *
qcfg_fota_cid(SimAt *at, const GArray *args)
{
	gint64 cid;

	if (args->len == 1) {
		line(at, "+QCFG: \"fota/cid\",%d", at->modem->fota_cid);
		return OK;
	}
	if (args->len != 2 || !sim_arg_int(args, 1, 1, SIM_MAX_CID, &cid))
		return ERROR;
	at->modem->fota_cid = (int)cid;
	return OK;
}

static const char *
cmd_qcfg(SimAt *at, CmdType type, const char *args)
{
	g_autoptr(GArray) parsed = NULL;
	const SimArg *name;

	if (type == CMD_TEST) {
		line(at, "+QCFG: \"usbifc\",(0,2),(0,2)");
		line(at, "+QCFG: \"fota/cid\",(1-%d)", SIM_MAX_CID);
		return OK;
	}
	if (type != CMD_SET || !sim_args_split(args, &parsed))
		return ERROR;
	name = sim_arg(parsed, 0);
	if (name == NULL || !name->quoted)
		return ERROR;
	if (g_ascii_strcasecmp(name->text, "usbifc") == 0)
		return qcfg_usbifc(at, parsed);
	if (g_ascii_strcasecmp(name->text, "fota/cid") == 0)
		return qcfg_fota_cid(at, parsed);
	return ERROR;
}

static gboolean
quoted_max(const GArray *args, guint index, gsize max)
{
	const SimArg *arg = sim_arg(args, index);

	return arg != NULL && arg->quoted && strlen(arg->text) <= max;
}

/* AT+QICSGP=<cid>[,<type>,"<apn>"[,"<user>","<pass>"[,<auth>]]]; the guide's own example
 * `AT+QICSGP=2,1,"cmnet","",1` (user, no password, auth) is accepted too. */
static const char *
cmd_qicsgp(SimAt *at, CmdType type, const char *args)
{
	g_autoptr(GArray) parsed = NULL;
	gint64 cid, pdp_type, auth = 0;
	SimPdp *pdp;
	guint n;

	if (type == CMD_TEST) {
		line(at, "+QICSGP: (1-%d),(1-3),<APN>,<username>,<password>,(0-3)", SIM_MAX_CID);
		return OK;
	}
	if (type != CMD_SET || !sim_args_split(args, &parsed) ||
	    !sim_arg_int(parsed, 0, 1, SIM_MAX_CID, &cid))
		return ERROR;
	pdp = &at->modem->pdp[cid];
	n = parsed->len;
	if (n == 1) {
		line(at, "+QICSGP: %d,\"%s\",\"%s\",\"%s\",%d", pdp->defined ? pdp->type : 1,
		     pdp->apn != NULL ? pdp->apn : "", pdp->user != NULL ? pdp->user : "",
		     pdp->password != NULL ? pdp->password : "", pdp->auth);
		return OK;
	}
	if (n < 3 || n > 6 || !sim_arg_int(parsed, 1, 1, 3, &pdp_type) ||
	    !quoted_max(parsed, 2, 62))
		return ERROR;
	if (n == 4 || (n >= 5 && !quoted_max(parsed, 3, 127)))
		return ERROR;
	if (n == 5 && !sim_arg(parsed, 4)->quoted) {
		if (!sim_arg_int(parsed, 4, 0, 3, &auth))
			return ERROR;
	} else if (n >= 5 && !quoted_max(parsed, 4, 127)) {
		return ERROR;
	}
	if (n == 6 && !sim_arg_int(parsed, 5, 0, 3, &auth))
		return ERROR;

	pdp->defined = TRUE;
	pdp->type = (int)pdp_type;
	g_free(pdp->apn);
	g_free(pdp->user);
	g_free(pdp->password);
	pdp->apn = g_strdup(sim_arg(parsed, 2)->text);
	pdp->user = g_strdup(n >= 5 ? sim_arg(parsed, 3)->text : "");
	pdp->password = g_strdup(n == 6 ? sim_arg(parsed, 4)->text : "");
	pdp->auth = (int)auth;
	return OK;
}

static const char *
cmd_qiact(SimAt *at, CmdType type, const char *args)
{
	g_autoptr(GArray) parsed = NULL;
	gint64 cid;

	if (type == CMD_TEST) {
		line(at, "+QIACT: (1-%d)", SIM_MAX_CID);
		return OK;
	}
	if (type == CMD_READ) {
		for (int i = 1; i <= SIM_MAX_CID; i++)
			if (at->modem->pdp[i].active)
				line(at, "+QIACT: %d,1,%d,\"10.0.0.%d\"", i, at->modem->pdp[i].type,
				     i + 1);
		return OK;
	}
	if (type != CMD_SET || !sim_args_split(args, &parsed) || parsed->len != 1 ||
	    !sim_arg_int(parsed, 0, 1, SIM_MAX_CID, &cid) || !at->modem->pdp[cid].defined)
		return ERROR;
	at->modem->pdp[cid].active = TRUE;
	return OK;
}

static const char *
cmd_qideact(SimAt *at, CmdType type, const char *args)
{
	g_autoptr(GArray) parsed = NULL;
	gint64 cid;

	if (type == CMD_TEST)
		return OK;
	if (type != CMD_SET || !sim_args_split(args, &parsed) || parsed->len != 1 ||
	    !sim_arg_int(parsed, 0, 1, SIM_MAX_CID, &cid))
		return ERROR;
	at->modem->pdp[cid].active = FALSE;
	return OK;
}

/* --- power and FOTA ------------------------------------------------------------------ */

static void
then_reboot(SimAt *at, gpointer data)
{
	sim_fota_abort(at->modem->fota);
	sim_modem_reboot(at->modem, "cfun", TRUE);
}

static const char *
cmd_cfun(SimAt *at, CmdType type, const char *args)
{
	g_autoptr(GArray) parsed = NULL;
	gint64 fun, reset = 0;

	if (type == CMD_READ) {
		line(at, "+CFUN: 1");
		return OK;
	}
	if (type == CMD_TEST) {
		line(at, "+CFUN: (0,1,4),(0-1)");
		return OK;
	}
	if (type != CMD_SET || !sim_args_split(args, &parsed) || parsed->len > 2 ||
	    !sim_arg_int(parsed, 0, 0, 4, &fun) || fun == 2 || fun == 3 ||
	    (parsed->len == 2 && !sim_arg_int(parsed, 1, 0, 1, &reset)))
		return ERROR;
	if (reset == 1) {
		/* Rebooting in the middle of a flash write would brick a real modem; refuse. */
		if (sim_fota_updating(at->modem->fota))
			return ERROR;
		set_then(at, then_reboot, NULL, NULL);
	}
	return OK;
}

static void
then_fota_start(SimAt *at, gpointer data)
{
	SimFotadlRequest *request = data;

	at->then_data = NULL; /* ownership moves to the FOTA engine */
	sim_fota_start(at->modem->fota, request);
}

static const char *
cmd_qfotadl(SimAt *at, CmdType type, const char *args)
{
	SimModem *modem = at->modem;
	g_autofree char *why = NULL;
	SimFotadlRequest *request;

	if (type == CMD_TEST) {
		if (modem->fota_kind)
			line(at, "+QFOTADL: <url>,(0,1),(0,5-100),(0,5-100)");
		else
			line(at, "+QFOTADL: <url>,(0,1),(0,5-100)");
		return OK;
	}
	if (type != CMD_SET)
		return ERROR;
	if (modem->cfg->fail_qfotadl)
		why = g_strdup("--fail-qfotadl");
	else if (sim_fota_busy(modem->fota))
		why = g_strdup("a FOTA download or update is already running");
	request = why == NULL ? sim_fotadl_parse(args, modem->fota_kind, &why) : NULL;
	if (request == NULL) {
		SimLogEntry *entry = sim_log_begin(modem->log, "rejected");
		sim_log_str(entry, "line", at->command);
		sim_log_str(entry, "why", why);
		sim_log_end(entry);
		return ERROR;
	}
	if (request->mode == 2) {
		/* Protocol download mode: its framing is not published, so stop at the answer. */
		SimLogEntry *entry = sim_log_begin(modem->log, "qfotadl");
		sim_log_str(entry, "url", request->url);
		sim_log_int(entry, "mode", 2);
		sim_log_end(entry);
		sim_fotadl_request_free(request);
		line(at, "010003");
		return NULL;
	}
	if (modem->cfg->urc_before_ok) {
		sim_fota_start(modem->fota, request);
		return OK;
	}
	set_then(at, then_fota_start, request, (GDestroyNotify)sim_fotadl_request_free);
	return OK;
}

/* --- dispatch ------------------------------------------------------------------------ */

typedef struct {
	const char *name; /* after "AT", upper case */
	Handler handler;
} Command;

static const Command commands[] = {
        {"+QGMR", cmd_revision},    {"+GMR", cmd_revision},    {"+CGMR", cmd_revision},
        {"+CGMM", cmd_model},       {"+GMM", cmd_model},       {"+CGMI", cmd_manufacturer},
        {"+GMI", cmd_manufacturer}, {"+GSN", cmd_imei},        {"+CGSN", cmd_imei},
        {"+CPIN", cmd_cpin},        {"+CSQ", cmd_csq},         {"+CMEE", cmd_cmee},
        {"+IFC", cmd_ifc},          {"+QCFG", cmd_qcfg},       {"+QICSGP", cmd_qicsgp},
        {"+QIACT", cmd_qiact},      {"+QIDEACT", cmd_qideact}, {"+CFUN", cmd_cfun},
        {"+QFOTADL", cmd_qfotadl},
};

/* Basic (non-"+") commands: E0/E1, I, Z, and friends. */
static const char *
run_basic(SimAt *at, const char *body)
{
	if (*body == '\0')
		return OK;
	if (g_ascii_strcasecmp(body, "E0") == 0 || g_ascii_strcasecmp(body, "E") == 0) {
		at->echo = FALSE;
		return OK;
	}
	if (g_ascii_strcasecmp(body, "E1") == 0) {
		at->echo = TRUE;
		return OK;
	}
	if (g_ascii_strcasecmp(body, "I") == 0 || g_ascii_strcasecmp(body, "I0") == 0)
		return cmd_ati(at, CMD_EXEC, "");
	if (g_ascii_strcasecmp(body, "Z") == 0 || g_ascii_strcasecmp(body, "&F") == 0 ||
	    g_ascii_strcasecmp(body, "V1") == 0 || g_ascii_strcasecmp(body, "Q0") == 0)
		return OK;
	return ERROR;
}

static const char *
run_extended(SimAt *at, const char *body)
{
	gsize name_len = strcspn(body, "=?");
	const char *rest = body + name_len;
	CmdType type = CMD_EXEC;
	const char *args = "";

	if (g_str_equal(rest, "?")) {
		type = CMD_READ;
	} else if (g_str_equal(rest, "=?")) {
		type = CMD_TEST;
	} else if (*rest == '=') {
		type = CMD_SET;
		args = rest + 1;
	} else if (*rest != '\0') {
		return ERROR;
	}
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strlen(commands[i].name) == name_len &&
		    g_ascii_strncasecmp(commands[i].name, body, name_len) == 0)
			return commands[i].handler(at, type, args);
	}
	return ERROR;
}

static guint
reply_delay_ms(const SimAt *at, const char *command)
{
	const SimPrefixRule *delay = sim_prefix_rule_find(at->modem->cfg->reply_delays, command);

	return delay != NULL ? delay->value : 0;
}

static void
send_final(SimAt *at, const char *final)
{
	if (final != NULL)
		sim_out_line(at->modem->out, final);
	if (at->then != NULL) {
		ThenFunc then = at->then;
		gpointer data = at->then_data;
		at->then = NULL;
		then(at, data);
	}
	clear_then(at);
}

static gboolean
on_reply_delay(gpointer user_data)
{
	SimAt *at = user_data;
	g_autofree char *final = g_steal_pointer(&at->delayed_final);

	at->delay_source = 0;
	send_final(at, final);
	sim_modem_resume_input(at->modem);
	return G_SOURCE_REMOVE;
}

/* The modem owes @final to @command until the test releases it: a host
 * that dies now leaves the answer to its successor. */
static void
hold_reply(SimAt *at, const char *command, const char *final)
{
	SimLogEntry *entry = sim_log_begin(at->modem->log, "reply-held");

	sim_log_str(entry, "line", command);
	sim_log_end(entry);
	at->hold_next = FALSE;
	at->reply_held = TRUE;
	at->delayed_final = g_strdup(final);
}

static void
run_command(SimAt *at, const char *command)
{
	const char *final;
	g_autofree char *cme_final = NULL;
	const SimPrefixRule *cme;
	guint delay;
	SimLogEntry *entry = sim_log_begin(at->modem->log, "command");

	sim_log_str(entry, "line", command);
	sim_log_end(entry);

	cme = sim_prefix_rule_find(at->modem->cfg->cme_errors, command);
	if (cme != NULL) {
		/* --cme-error: refused, so it has no effect. */
		cme_final = g_strdup_printf("+CME ERROR: %u", cme->value);
		final = cme_final;
	} else {
		at->command = command;
		final = command[2] == '+' ? run_extended(at, command + 2)
		                          : run_basic(at, command + 2);
		at->command = NULL;
	}
	if (at->hold_next) {
		hold_reply(at, command, final);
		return;
	}
	delay = reply_delay_ms(at, command);
	if (delay > 0) {
		at->delayed_final = g_strdup(final);
		at->delay_source = g_timeout_add(delay, on_reply_delay, at);
		return;
	}
	send_final(at, final);
}

/* A complete line: find the "AT" (V.250: anything before it is ignored), echo, run. */
static void
handle_line(SimAt *at, char terminator)
{
	const char *start;

	at->line[at->line_len] = '\0';
	start = at->line;
	while (*start != '\0' && !(g_str_has_prefix(start, "AT") || g_str_has_prefix(start, "at")))
		start++;
	if (*start == '\0') {
		if (at->line_len > 0) {
			SimLogEntry *entry = sim_log_begin(at->modem->log, "ignored");
			sim_log_str(entry, "line", at->line);
			sim_log_end(entry);
		}
		return;
	}
	if (at->echo) {
		sim_out_raw(at->modem->out, at->line, at->line_len);
		sim_out_raw(at->modem->out, &terminator, 1);
	}
	run_command(at, start);
}

gsize
sim_at_feed(SimAt *at, const guint8 *data, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		char c = (char)data[i];
		gboolean swallow_lf = c == '\n' && at->last_was_cr;

		at->last_was_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			gboolean had_line = at->line_len > 0 && !at->overflow;

			if (swallow_lf)
				continue;
			if (had_line)
				handle_line(at, c);
			at->line_len = 0;
			at->overflow = FALSE;
			if (had_line)
				return i + 1;
			continue;
		}
		if (at->line_len == MAX_LINE - 1) {
			at->overflow = TRUE;
			continue;
		}
		/* NULs cannot be part of a command (and would cut the C string). */
		if (!at->overflow && c != '\0')
			at->line[at->line_len++] = c;
	}
	return len;
}

gboolean
sim_at_busy(const SimAt *at)
{
	return at->delay_source != 0 || at->reply_held;
}

void
sim_at_hold_next_reply(SimAt *at)
{
	at->hold_next = TRUE;
	sim_log_end(sim_log_begin(at->modem->log, "reply-hold"));
}

void
sim_at_release_reply(SimAt *at)
{
	g_autofree char *final = NULL;

	if (!at->reply_held)
		return; /* a --reply-delay's final stays its timer's */
	final = g_steal_pointer(&at->delayed_final);
	at->reply_held = FALSE;
	sim_log_end(sim_log_begin(at->modem->log, "reply-release"));
	send_final(at, final);
	sim_modem_resume_input(at->modem);
}

void
sim_at_reset(SimAt *at)
{
	if (at->delay_source != 0)
		g_source_remove(at->delay_source);
	at->delay_source = 0;
	g_clear_pointer(&at->delayed_final, g_free);
	at->hold_next = at->reply_held = FALSE;
	clear_then(at);
	at->line_len = 0;
	at->overflow = FALSE;
	at->last_was_cr = FALSE;
	at->echo = TRUE;
}

SimAt *
sim_at_new(SimModem *modem)
{
	SimAt *at = g_new0(SimAt, 1);

	at->modem = modem;
	at->echo = !modem->cfg->no_echo;
	return at;
}

void
sim_at_free(SimAt *at)
{
	if (at == NULL)
		return;
	sim_at_reset(at);
	g_free(at);
}
