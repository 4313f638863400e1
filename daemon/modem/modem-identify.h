/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "at-channel.h"
#include "modem-info.h"

/* Who the modem on @channel is: ATE0, ATI, AT+QGMR (only when ATI has no
 * revision line), AT+CGSN, AT+QFOTADL=?, each given @command_ms. The answer
 * starts from @seed's port, port_identity and flow. Fails with
 * MODEM_ERROR_ABSENT when the port goes away, MODEM_ERROR_IDENTIFY when
 * ATI or AT+QGMR name no model or revision; the IMEI and the ranges only
 * add detail and never fail it. The caller sees to it that nobody else
 * uses @channel meanwhile (the modem's lease). */
void modem_identify_run(FotaAtChannel *channel, const ModemInfo *seed, guint command_ms,
                        GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data);
/* Returns: (transfer full) */
ModemInfo *modem_identify_run_finish(GAsyncResult *result, GError **error);
