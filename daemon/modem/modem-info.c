/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "modem-info.h"

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-modem-info-error-quark, modem_error)
/* clang-format on */

void
modem_info_free(ModemInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->manufacturer);
	g_free(info->model);
	g_free(info->revision);
	g_free(info->imei);
	g_free(info->port);
	g_free(info->port_identity);
	g_free(info->qfotadl_ranges);
	g_free(info);
}

ModemInfo *
modem_info_copy(const ModemInfo *info)
{
	ModemInfo *copy = g_memdup2(info, sizeof(*info));

	copy->manufacturer = g_strdup(info->manufacturer);
	copy->model = g_strdup(info->model);
	copy->revision = g_strdup(info->revision);
	copy->imei = g_strdup(info->imei);
	copy->port = g_strdup(info->port);
	copy->port_identity = g_strdup(info->port_identity);
	copy->qfotadl_ranges = g_strdup(info->qfotadl_ranges);
	return copy;
}
