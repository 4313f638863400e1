/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "modem-finder.h"

#include <errno.h>
#include <libudev.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib-unix.h>

/* The composition of every supported model, from the usb-devices listings in
 * the Linux option driver's commits adding them (EC200S-CN 0x6002, EG912Y
 * 0x6001, EC200A 0x6005; EC200T 0x6026 has the same layout):
 *   If#0,1  cdc_ether (ECM/RNDIS network)
 *   If#2    option: DIAG
 *   If#3    option: AT commands
 *   If#4    option: modem (PPP)
 * The EC200S-CN author confirmed on linux-usb: "ttyUSB0 used for debugging,
 * ttyUSB1 used for AT commands, ttyUSB2 used for PPP dialing", i.e. If#2, 3,
 * 4. The modem port also answers AT, but it is the one PPP dialers (and
 * ModemManager's data bearer) take, so FOTA uses the dedicated AT port. */
static const ModemUsbId default_ids[] = {
        {0x2c7c, 0x6026}, /* EC200T */
        {0x2c7c, 0x6002}, /* EC200S */
        {0x2c7c, 0x6001}, /* EG912Y */
        {0x2c7c, 0x6005}, /* EC200A */
};

/* GLib's file monitor only rate-limits CHANGED events; keep that short so a
 * re-pointed link is noticed at once. */
#define MONITOR_RATE_LIMIT_MS 10

struct _FotaModemFinder {
	GObject parent_instance;

	char *port; /* configured path; NULL: udev discovery */
	ModemUsbId *ids;
	guint n_ids;
	gint at_interface;

	/* configured path */
	GFileMonitor *monitor;
	char *watched_dir; /* the port's directory, or its deepest existing ancestor */
	char *last_target; /* what the port last resolved to, kept while absent */

	/* discovery */
	struct udev *udev;
	struct udev_monitor *udev_monitor;
	GSource *udev_source;
	char *current_syspath; /* sysfs path of the tty last reported */

	char *current; /* the tty path last reported present; NULL: absent */
};

enum {
	SIGNAL_PORT_APPEARED,
	SIGNAL_PORT_VANISHED,
	N_SIGNALS,
};

/* Written once in class_init, like every GObject signal table. */
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(FotaModemFinder, modem_finder, G_TYPE_OBJECT)

const ModemUsbId *
modem_finder_default_ids(guint *n_ids)
{
	*n_ids = G_N_ELEMENTS(default_ids);
	return default_ids;
}

static void
set_present(FotaModemFinder *self, const char *path)
{
	g_free(self->current);
	self->current = g_strdup(path);
	g_free(self->last_target);
	self->last_target = g_strdup(path);
	g_debug("Modem port %s appeared", path);
	g_signal_emit(self, signals[SIGNAL_PORT_APPEARED], 0, path);
}

static void
set_absent(FotaModemFinder *self)
{
	if (self->current == NULL)
		return;
	g_debug("Modem port %s vanished", self->current);
	g_clear_pointer(&self->current, g_free);
	g_clear_pointer(&self->current_syspath, g_free);
	g_signal_emit(self, signals[SIGNAL_PORT_VANISHED], 0);
}

/* ---- configured path --------------------------------------------------- */

static char *
resolve_configured(const char *port)
{
	struct stat st, lst;
	char *resolved = realpath(port, NULL);
	g_autofree char *target = NULL;

	if (resolved == NULL)
		return NULL;
	target = g_strdup(resolved);
	free(resolved);

	if (stat(target, &st) < 0)
		return NULL;
	if (S_ISCHR(st.st_mode))
		return g_steal_pointer(&target);
	/* Through a symlink any non-directory will do: the simulator's link
	 * and the tests' plain files in a temp dir stand in for a tty. */
	if (lstat(port, &lst) == 0 && S_ISLNK(lst.st_mode) && !S_ISDIR(st.st_mode))
		return g_steal_pointer(&target);
	return NULL;
}

/* /dev/serial/by-id only exists while some USB serial device does, so the
 * port's directory may be missing: watch the deepest ancestor that exists and
 * move the watch down as directories appear (GLib would poll a missing
 * path). */
static char *
deepest_existing_dir(const char *port)
{
	g_autofree char *dir = g_path_get_dirname(port);

	while (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		char *parent = g_path_get_dirname(dir);
		if (g_str_equal(parent, dir)) {
			g_free(parent);
			break;
		}
		g_free(dir);
		dir = parent;
	}
	return g_steal_pointer(&dir);
}

static void on_dir_event(GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                         gpointer user_data);

static void
watch_path(FotaModemFinder *self)
{
	g_autofree char *dir = deepest_existing_dir(self->port);
	g_autoptr(GFile) gdir = NULL;
	g_autoptr(GError) error = NULL;

	if (self->monitor != NULL && g_strcmp0(dir, self->watched_dir) == 0)
		return;

	if (self->monitor != NULL) {
		g_signal_handlers_disconnect_by_data(self->monitor, self);
		g_file_monitor_cancel(self->monitor);
		g_clear_object(&self->monitor);
	}
	g_free(self->watched_dir);
	self->watched_dir = g_steal_pointer(&dir);

	gdir = g_file_new_for_path(self->watched_dir);
	self->monitor = g_file_monitor_directory(gdir, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
	if (self->monitor == NULL) {
		g_warning("Cannot watch %s for %s: %s", self->watched_dir, self->port,
		          error->message);
		return;
	}
	g_file_monitor_set_rate_limit(self->monitor, MONITOR_RATE_LIMIT_MS);
	g_signal_connect(self->monitor, "changed", G_CALLBACK(on_dir_event), self);
}

static gboolean
is_port_name(FotaModemFinder *self, GFile *file)
{
	g_autofree char *path = file != NULL ? g_file_get_path(file) : NULL;

	return path != NULL && g_str_equal(path, self->port);
}

/* Is the event about the port's name, its last target, or a directory on the
 * way to it? Other names in a busy directory like /dev must not cost us a
 * single syscall. */
static gboolean
is_on_port_path(FotaModemFinder *self, GFile *file)
{
	g_autofree char *path = file != NULL ? g_file_get_path(file) : NULL;

	if (path == NULL)
		return FALSE;
	return g_str_equal(path, self->port) || g_strcmp0(path, self->last_target) == 0 ||
	       (g_str_has_prefix(self->port, path) && self->port[strlen(path)] == '/');
}

static void
on_dir_event(GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
             gpointer user_data)
{
	FotaModemFinder *self = user_data;
	g_autofree char *resolved = NULL;
	gboolean gone = FALSE;

	if (!is_on_port_path(self, file) && !is_on_port_path(self, other))
		return;

	/* The name itself went away: report it even if it is back by the time
	 * this event is handled (a quick delete and re-create is a new port).
	 * CREATED, MOVED_IN, RENAMED onto the name and CHANGED need no case:
	 * the re-check below sees the new target. */
	switch (event) {
	case G_FILE_MONITOR_EVENT_DELETED:
	case G_FILE_MONITOR_EVENT_MOVED_OUT:
		gone = is_port_name(self, file);
		break;
	case G_FILE_MONITOR_EVENT_RENAMED:
		gone = is_port_name(self, file); /* renamed away from the name */
		break;
	default:
		break;
	}

	/* A directory on the way may have appeared or gone. */
	watch_path(self);

	/* Events are only hints: what counts is what the path resolves to now,
	 * whichever name in the directory the event was about. */
	resolved = resolve_configured(self->port);
	if (gone || resolved == NULL)
		set_absent(self);
	if (resolved != NULL && g_strcmp0(resolved, self->current) != 0)
		set_present(self, resolved);
}

/* ---- udev discovery ---------------------------------------------------- */

static gboolean
parse_hex_attr(struct udev_device *dev, const char *attr, guint64 max, guint64 *out)
{
	const char *value = udev_device_get_sysattr_value(dev, attr);
	g_autofree char *trimmed = NULL;

	if (value == NULL)
		return FALSE;
	trimmed = g_strstrip(g_strdup(value));
	return g_ascii_string_to_unsigned(trimmed, 16, 0, max, out, NULL);
}

/* The tty's USB interface and device: is it our modem's AT port? */
static gboolean
tty_matches(FotaModemFinder *self, struct udev_device *tty, char **identity)
{
	struct udev_device *intf, *usb;
	guint64 ifnum, vendor, product;

	intf = udev_device_get_parent_with_subsystem_devtype(tty, "usb", "usb_interface");
	if (intf == NULL)
		return FALSE;
	usb = udev_device_get_parent_with_subsystem_devtype(intf, "usb", "usb_device");
	if (usb == NULL)
		return FALSE;
	if (!parse_hex_attr(intf, "bInterfaceNumber", 0xff, &ifnum) ||
	    !parse_hex_attr(usb, "idVendor", 0xffff, &vendor) ||
	    !parse_hex_attr(usb, "idProduct", 0xffff, &product))
		return FALSE;
	if ((gint)ifnum != self->at_interface)
		return FALSE;

	for (guint i = 0; i < self->n_ids; i++) {
		if (self->ids[i].vendor == vendor && self->ids[i].product == product) {
			/* The devpath names the physical USB port: it stays when
			 * the modem re-enumerates, unlike ttyUSBn. */
			if (identity != NULL)
				*identity = g_strdup_printf("usb:%04x:%04x:%s", (guint)vendor,
				                            (guint)product,
				                            udev_device_get_devpath(usb));
			return TRUE;
		}
	}
	return FALSE;
}

static char *
discover(FotaModemFinder *self, char **syspath, char **identity)
{
	struct udev_enumerate *enumerate;
	struct udev_list_entry *entry;
	char *found = NULL;

	if (self->udev == NULL)
		return NULL;
	enumerate = udev_enumerate_new(self->udev);
	udev_enumerate_add_match_subsystem(enumerate, "tty");
	udev_enumerate_scan_devices(enumerate);

	/* Sorted by syspath: with two modems the same one wins every time. */
	udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(enumerate))
	{
		struct udev_device *tty =
		        udev_device_new_from_syspath(self->udev, udev_list_entry_get_name(entry));
		const char *devnode = tty != NULL ? udev_device_get_devnode(tty) : NULL;

		if (devnode != NULL && tty_matches(self, tty, identity)) {
			found = g_strdup(devnode);
			if (syspath != NULL)
				*syspath = g_strdup(udev_device_get_syspath(tty));
		}
		if (tty != NULL)
			udev_device_unref(tty);
		if (found != NULL)
			break;
	}
	udev_enumerate_unref(enumerate);
	return found;
}

/* A missed "remove" (netlink overrun) must not pin a dead tty forever. */
static gboolean
current_tty_exists(FotaModemFinder *self)
{
	struct udev_device *dev;

	if (self->current_syspath == NULL)
		return FALSE;
	dev = udev_device_new_from_syspath(self->udev, self->current_syspath);
	if (dev == NULL)
		return FALSE;
	udev_device_unref(dev);
	return TRUE;
}

static void
handle_uevent(FotaModemFinder *self, struct udev_device *dev)
{
	const char *action = udev_device_get_action(dev);
	const char *syspath = udev_device_get_syspath(dev);
	const char *devnode = udev_device_get_devnode(dev);

	if (g_strcmp0(action, "remove") == 0) {
		/* The parents may be gone already: compare by syspath. */
		if (g_strcmp0(syspath, self->current_syspath) == 0)
			set_absent(self);
		return;
	}
	if (g_strcmp0(action, "add") != 0 && g_strcmp0(action, "change") != 0)
		return;
	if (devnode == NULL || !tty_matches(self, dev, NULL))
		return;
	if (g_strcmp0(syspath, self->current_syspath) == 0)
		return; /* already reported */
	if (self->current_syspath != NULL) {
		if (current_tty_exists(self))
			return; /* a second modem: stay with the first */
		set_absent(self);
	}
	self->current_syspath = g_strdup(syspath);
	set_present(self, devnode);
}

static gboolean
on_udev_readable(gint fd, GIOCondition condition, gpointer user_data)
{
	FotaModemFinder *self = user_data;
	struct udev_device *dev;

	while ((dev = udev_monitor_receive_device(self->udev_monitor)) != NULL) {
		handle_uevent(self, dev);
		udev_device_unref(dev);
	}
	return G_SOURCE_CONTINUE;
}

static void
watch_udev(FotaModemFinder *self)
{
	int fd;

	self->udev = udev_new();
	if (self->udev == NULL) {
		g_warning("Cannot use udev: %s", g_strerror(errno));
		return;
	}
	self->current = discover(self, &self->current_syspath, NULL);

	/* "udev", not "kernel": the device is announced after udev set it up
	 * (permissions, by-id links). */
	self->udev_monitor = udev_monitor_new_from_netlink(self->udev, "udev");
	if (self->udev_monitor == NULL ||
	    udev_monitor_filter_add_match_subsystem_devtype(self->udev_monitor, "tty", NULL) < 0 ||
	    udev_monitor_enable_receiving(self->udev_monitor) < 0) {
		g_warning("Cannot follow udev events; the modem will not be found again after "
		          "it re-enumerates");
		g_clear_pointer(&self->udev_monitor, udev_monitor_unref);
		return;
	}
	fd = udev_monitor_get_fd(self->udev_monitor);
	self->udev_source = g_unix_fd_source_new(fd, G_IO_IN);
	g_source_set_callback(self->udev_source, G_SOURCE_FUNC(on_udev_readable), self, NULL);
	g_source_set_name(self->udev_source, "modem-finder udev");
	g_source_attach(self->udev_source, g_main_context_get_thread_default());
}

/* ---- object ------------------------------------------------------------ */

char *
modem_finder_lookup(FotaModemFinder *self, char **identity)
{
	char *path;

	g_return_val_if_fail(FOTA_IS_MODEM_FINDER(self), NULL);
	if (identity != NULL)
		*identity = NULL;

	if (self->port != NULL) {
		path = resolve_configured(self->port);
		if (path != NULL && identity != NULL)
			*identity = g_strdup(self->port);
		return path;
	}
	return discover(self, NULL, identity);
}

FotaModemFinder *
modem_finder_new(const ModemFinderConfig *config)
{
	FotaModemFinder *self = g_object_new(FOTA_TYPE_MODEM_FINDER, NULL);
	const ModemUsbId *ids = config->ids;
	guint n_ids = config->n_ids;

	if (n_ids == 0)
		ids = modem_finder_default_ids(&n_ids);
	self->ids = g_memdup2(ids, n_ids * sizeof(*ids));
	self->n_ids = n_ids;
	self->at_interface = config->at_interface >= 0 ? config->at_interface
	                                               : MODEM_FINDER_DEFAULT_AT_INTERFACE;

	if (config->port != NULL && config->port[0] != '\0') {
		/* Events name absolute paths; compare like with like. */
		self->port = g_canonicalize_filename(config->port, NULL);
		self->current = resolve_configured(self->port);
		watch_path(self);
	} else {
		watch_udev(self);
	}
	return self;
}

static void
modem_finder_dispose(GObject *object)
{
	FotaModemFinder *self = FOTA_MODEM_FINDER(object);

	if (self->monitor != NULL) {
		g_signal_handlers_disconnect_by_data(self->monitor, self);
		g_file_monitor_cancel(self->monitor);
		g_clear_object(&self->monitor);
	}
	if (self->udev_source != NULL) {
		g_source_destroy(self->udev_source);
		g_clear_pointer(&self->udev_source, g_source_unref);
	}
	g_clear_pointer(&self->udev_monitor, udev_monitor_unref);
	g_clear_pointer(&self->udev, udev_unref);
	G_OBJECT_CLASS(modem_finder_parent_class)->dispose(object);
}

static void
modem_finder_finalize(GObject *object)
{
	FotaModemFinder *self = FOTA_MODEM_FINDER(object);

	g_free(self->port);
	g_free(self->ids);
	g_free(self->watched_dir);
	g_free(self->last_target);
	g_free(self->current_syspath);
	g_free(self->current);
	G_OBJECT_CLASS(modem_finder_parent_class)->finalize(object);
}

static void
modem_finder_init(FotaModemFinder *self)
{
}

static void
modem_finder_class_init(FotaModemFinderClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = modem_finder_dispose;
	object_class->finalize = modem_finder_finalize;

	signals[SIGNAL_PORT_APPEARED] =
	        g_signal_new("port-appeared", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	signals[SIGNAL_PORT_VANISHED] =
	        g_signal_new("port-vanished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 0);
}
