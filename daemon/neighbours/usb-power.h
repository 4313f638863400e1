/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* USB runtime power management of the modem's USB device: autosuspend loses
 * URCs, so a job runs with <syspath>/power/control = "on". The caller keeps
 * the previous value in the job record, so a restarted daemon restores it. */

#define USB_POWER_ERROR (usb_power_error_quark())
GQuark usb_power_error_quark(void);

typedef enum {
	USB_POWER_ERROR_IO,    /* power/control could not be read or written */
	USB_POWER_ERROR_VALUE, /* it holds, or we were asked to write, neither "auto" nor "on" */
} UsbPowerError;

/* Writes "on" to @usb_device_syspath/power/control; returns the value it
 * held before ("auto" or "on"), NULL on error (nothing written then).
 * Returns: (transfer full) */
char *usb_power_force_on(const char *usb_device_syspath, GError **error);

/* Writes @previous ("auto" or "on") back. */
gboolean usb_power_restore(const char *usb_device_syspath, const char *previous, GError **error);
