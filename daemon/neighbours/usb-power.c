/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "usb-power.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-usb-power-error-quark, usb_power_error)
/* clang-format on */

static gboolean
value_is_valid(const char *value)
{
	return g_strcmp0(value, "auto") == 0 || g_strcmp0(value, "on") == 0;
}

static char *
control_path(const char *syspath)
{
	return g_build_filename(syspath, "power", "control", NULL);
}

/* sysfs takes one write(2) per value; g_file_set_contents() would replace
 * the file with a new one instead of writing the attribute. O_TRUNC is a
 * no-op on sysfs and keeps a plain file (tests, umockdev) equal to the value. */
static gboolean
write_control(const char *path, const char *value, GError **error)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	size_t len = strlen(value);
	ssize_t n;
	int saved;

	if (fd < 0) {
		saved = errno;
		g_set_error(error, USB_POWER_ERROR, USB_POWER_ERROR_IO, "cannot open %s: %s", path,
		            g_strerror(saved));
		return FALSE;
	}
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	saved = errno;
	close(fd);
	if (n != (ssize_t)len) {
		g_set_error(error, USB_POWER_ERROR, USB_POWER_ERROR_IO,
		            "cannot write \"%s\" to %s: %s", value, path,
		            n < 0 ? g_strerror(saved) : "short write");
		return FALSE;
	}
	return TRUE;
}

char *
usb_power_force_on(const char *usb_device_syspath, GError **error)
{
	g_autofree char *path = NULL;
	g_autofree char *contents = NULL;
	g_autoptr(GError) local = NULL;

	g_return_val_if_fail(usb_device_syspath != NULL, NULL);
	path = control_path(usb_device_syspath);
	if (!g_file_get_contents(path, &contents, NULL, &local)) {
		g_set_error(error, USB_POWER_ERROR, USB_POWER_ERROR_IO, "cannot read %s: %s", path,
		            local->message);
		return NULL;
	}
	g_strchomp(contents);
	if (!value_is_valid(contents)) {
		g_autofree char *shown = g_strescape(contents, NULL);

		g_set_error(error, USB_POWER_ERROR, USB_POWER_ERROR_VALUE,
		            "%s holds \"%s\", neither \"auto\" nor \"on\"", path, shown);
		return NULL;
	}
	if (!write_control(path, "on", error))
		return NULL;
	return g_steal_pointer(&contents);
}

gboolean
usb_power_restore(const char *usb_device_syspath, const char *previous, GError **error)
{
	g_autofree char *path = NULL;

	g_return_val_if_fail(usb_device_syspath != NULL, FALSE);
	if (!value_is_valid(previous)) {
		g_autofree char *shown = g_strescape(previous ? previous : "(null)", NULL);

		g_set_error(
		        error, USB_POWER_ERROR, USB_POWER_ERROR_VALUE,
		        "will not restore \"%s\" to %s/power/control: neither \"auto\" nor \"on\"",
		        shown, usb_device_syspath);
		return FALSE;
	}
	path = control_path(usb_device_syspath);
	return write_control(path, previous, error);
}
