/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-modem.h"

#include "sim-at.h"
#include "sim-fota.h"

/* Boot URCs as an EC2x/EG9x prints them after power-up, a little apart. --boot-shuffle adds
 * +CFUN: 1, seen after END,0 in field logs, and mixes the order: a host must not take PB DONE
 * for the last word of a boot. */
static const char *const boot_lines[SIM_BOOT_URCS_MAX] = {
        "RDY", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE", "+CFUN: 1",
};
#define BOOT_URCS_FIXED 5
#define BOOT_URC_GAP_MS 30

static void
process_backlog(SimModem *modem)
{
	/* Each pass consumes either FILE bytes or one AT line, then re-checks the routing:
	 * a command can switch the port to FILE mode, FILE mode can end mid-buffer, and a
	 * reboot (which empties the backlog) can happen in either. */
	while (modem->backlog->len > 0 && !sim_at_busy(modem->at) &&
	       !sim_fota_holding(modem->fota)) {
		gboolean raw = sim_fota_wants_raw(modem->fota);
		gsize used;

		if (raw)
			used = sim_fota_feed_raw(modem->fota, modem->backlog->data,
			                         modem->backlog->len);
		else
			used = sim_at_feed(modem->at, modem->backlog->data, modem->backlog->len);
		used = MIN(used, (gsize)modem->backlog->len);
		if (modem->after_file_source != 0 && !raw)
			modem->after_file_bytes += used;
		g_byte_array_remove_range(modem->backlog, 0, (guint)used);
	}
	sim_pty_pause_input(modem->pty, modem->backlog->len > 0);
}

static void
on_input(const guint8 *data, gsize len, gpointer user_data)
{
	SimModem *modem = user_data;

	g_byte_array_append(modem->backlog, data, (guint)len);
	process_backlog(modem);
}

void
sim_modem_resume_input(SimModem *modem)
{
	process_backlog(modem);
}

/* The order of this boot's URCs: fixed, or a seeded shuffle that is never the fixed order. */
static void
choose_boot_urcs(SimModem *modem)
{
	gboolean fixed = TRUE;

	modem->boot_count = modem->cfg->boot_shuffle ? SIM_BOOT_URCS_MAX : BOOT_URCS_FIXED;
	for (guint i = 0; i < modem->boot_count; i++)
		modem->boot_order[i] = boot_lines[i];
	if (!modem->cfg->boot_shuffle)
		return;
	for (guint i = modem->boot_count - 1; i > 0; i--) {
		guint j = (guint)g_rand_int_range(modem->rand, 0, (gint)i + 1);
		const char *swap = modem->boot_order[i];
		modem->boot_order[i] = modem->boot_order[j];
		modem->boot_order[j] = swap;
	}
	for (guint i = 0; i < modem->boot_count; i++)
		fixed = fixed && modem->boot_order[i] == boot_lines[i];
	if (fixed) {
		/* "Another order" is the point of the switch: swap the ends. */
		modem->boot_order[0] = boot_lines[modem->boot_count - 1];
		modem->boot_order[modem->boot_count - 1] = boot_lines[0];
	}
}

static gboolean
on_boot_step(gpointer user_data)
{
	SimModem *modem = user_data;

	sim_out_line(modem->out, modem->boot_order[modem->boot_step++]);
	if (modem->boot_step < modem->boot_count)
		return G_SOURCE_CONTINUE;
	modem->boot_source = 0;
	sim_fota_booted(modem->fota);
	return G_SOURCE_REMOVE;
}

static void
on_booted(gpointer user_data)
{
	SimModem *modem = user_data;

	if (!modem->boot_urcs) {
		sim_fota_booted(modem->fota);
		return;
	}
	choose_boot_urcs(modem);
	modem->boot_step = 0;
	on_boot_step(modem);
	if (modem->boot_source == 0 && modem->boot_step < modem->boot_count)
		modem->boot_source = g_timeout_add(BOOT_URC_GAP_MS, on_boot_step, modem);
}

static void
go_away(SimModem *modem, const char *reason, gboolean drain, guint gone_ms, gboolean boot_urcs)
{
	SimLogEntry *entry;

	if (!sim_pty_is_up(modem->pty))
		return;
	entry = sim_log_begin(modem->log, "reboot");
	sim_log_str(entry, "reason", reason);
	sim_log_end(entry);
	modem->boot_urcs = boot_urcs;
	if (modem->boot_source != 0)
		g_source_remove(modem->boot_source);
	modem->boot_source = 0;
	g_byte_array_set_size(modem->backlog, 0);
	/* RAM state goes; QICSGP, fota/cid and usbifc are kept like NV settings. */
	for (int i = 0; i <= SIM_MAX_CID; i++)
		modem->pdp[i].active = FALSE;
	modem->ifc = FALSE;
	sim_at_reset(modem->at);
	sim_pty_reboot(modem->pty, drain, gone_ms);
}

void
sim_modem_reboot(SimModem *modem, const char *reason, gboolean drain)
{
	go_away(modem, reason, drain, modem->cfg->reboot_ms, TRUE);
}

void
sim_modem_vanish(SimModem *modem, const char *reason, guint gone_ms, gboolean boot_urcs)
{
	go_away(modem, reason, TRUE, gone_ms, boot_urcs);
}

static gboolean
on_after_file_window(gpointer user_data)
{
	SimModem *modem = user_data;
	SimLogEntry *entry = sim_log_begin(modem->log, "after-file");

	sim_log_int(entry, "bytes", (gint64)modem->after_file_bytes);
	sim_log_int(entry, "window_ms", SIM_AFTER_FILE_WINDOW_MS);
	sim_log_end(entry);
	modem->after_file_source = 0;
	return G_SOURCE_REMOVE;
}

void
sim_modem_watch_after_file(SimModem *modem)
{
	if (modem->after_file_source != 0)
		g_source_remove(modem->after_file_source);
	modem->after_file_bytes = 0;
	modem->after_file_source =
	        g_timeout_add(SIM_AFTER_FILE_WINDOW_MS, on_after_file_window, modem);
}

void
sim_modem_set_revision(SimModem *modem, const char *revision)
{
	SimLogEntry *entry = sim_log_begin(modem->log, "revision");

	g_free(modem->revision);
	modem->revision = g_strdup(revision);
	sim_log_str(entry, "revision", revision);
	sim_log_end(entry);
}

gboolean
sim_modem_flow_control_on(const SimModem *modem)
{
	return modem->cfg->port_kind == SIM_PORT_USB ? modem->usbifc : modem->ifc;
}

SimModem *
sim_modem_new(const SimConfig *cfg, SimLog *log, GError **error)
{
	g_autoptr(SimModem) modem = g_new0(SimModem, 1);
	SimPtyHandlers handlers = {on_input, on_booted, NULL};

	modem->cfg = cfg;
	modem->log = log;
	modem->rand = g_rand_new_with_seed(cfg->seed);
	modem->fota_kind = g_str_has_prefix(cfg->model, "EC200T");
	modem->revision = g_strdup(cfg->revision);
	modem->fota_cid = 1;
	modem->backlog = g_byte_array_new();
	handlers.user_data = modem;
	modem->at = sim_at_new(modem);
	modem->fota = sim_fota_new(modem);
	modem->pty = sim_pty_new(cfg, log, modem->rand, &handlers, error);
	if (modem->pty == NULL)
		return NULL;
	modem->out = sim_out_new(cfg, modem->rand, modem->pty);
	return g_steal_pointer(&modem);
}

void
sim_modem_free(SimModem *modem)
{
	if (modem == NULL)
		return;
	if (modem->boot_source != 0)
		g_source_remove(modem->boot_source);
	if (modem->after_file_source != 0)
		g_source_remove(modem->after_file_source);
	sim_fota_free(modem->fota);
	sim_at_free(modem->at);
	sim_out_free(modem->out);
	sim_pty_free(modem->pty);
	for (int i = 0; i <= SIM_MAX_CID; i++) {
		g_free(modem->pdp[i].apn);
		g_free(modem->pdp[i].user);
		g_free(modem->pdp[i].password);
	}
	g_byte_array_unref(modem->backlog);
	g_rand_free(modem->rand);
	g_free(modem->revision);
	g_free(modem);
}
