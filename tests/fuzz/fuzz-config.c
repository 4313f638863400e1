/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the config file. Whatever an administrator (or a bad
 * package) wrote is refused with a message, or gives settings within the
 * ranges quectel-fotad.conf(5) documents. */
#include <string.h>

#include "config.h"
#include "fuzz-common.h"

#define FUZZ_MAX_INPUT 16384

/* Unknown groups and keys are only warned about, by design. */
const char *const fuzz_expected_warnings[] = {"Config: ignoring unknown",
                                              FUZZ_GLIB_KEY_FILE_DOUBLE_ERROR, NULL};

static void
check_settings(const FotadConfig *config)
{
	const FotadTimeouts *t = &config->timeouts;
	const guint timeouts[] = {t->command_ms, t->first_urc_ms, t->urc_gap_ms,    t->download_ms,
	                          t->update_ms,  t->reboot_ms,    t->boot_settle_ms};
	const guint max_ms = 30u * 24 * 3600 * 1000;

	FUZZ_ASSERT(config->baud >= 9600 && config->baud <= 4000000);
	FUZZ_ASSERT(config->flow == SERIAL_FLOW_HARDWARE || config->flow == SERIAL_FLOW_NONE);
	FUZZ_ASSERT(config->port_kind == FOTAD_PORT_KIND_USB ||
	            config->port_kind == FOTAD_PORT_KIND_UART);
	FUZZ_ASSERT(config->paced_rate >= 32 && config->paced_rate <= 10000000);
	FUZZ_ASSERT(config->n_usb_ids >= 1 && config->n_usb_ids <= FOTAD_MAX_USB_IDS);
	FUZZ_ASSERT(config->at_interface >= -1 && config->at_interface <= 255);
	for (gsize i = 0; i < G_N_ELEMENTS(timeouts); i++)
		FUZZ_ASSERT(timeouts[i] > 0 && timeouts[i] <= max_ms);
	FUZZ_ASSERT(t->late_reply_grace_ms <= max_ms);
	FUZZ_ASSERT(config->state_dir != NULL && config->state_dir[0] != '\0');
	FUZZ_ASSERT(config->port == NULL || config->port[0] != '\0');
	FUZZ_ASSERT(config->boot_id_file == NULL || config->boot_id_file[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(FotadConfig) config = fotad_config_new();
	g_autoptr(GError) error = NULL;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!fotad_config_load_data(config, (const char *)data, size, &error)) {
		/* Read by an administrator on stderr, not sent over D-Bus: the
		 * message may quote the file's bytes as they are. */
		FUZZ_ASSERT(error != NULL && error->domain == FOTAD_CONFIG_ERROR);
		FUZZ_ASSERT(error->message != NULL && error->message[0] != '\0');
		return 0;
	}
	check_settings(config);
	return 0;
}
