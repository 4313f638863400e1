/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-finder.h"

static void
on_port_appeared(FotaModemFinder *finder, const char *path, gpointer user_data)
{
	GPtrArray *events = user_data;

	g_debug("event: appeared %s", path);
	g_ptr_array_add(events, g_strdup_printf("appeared:%s", path));
}

static void
on_port_vanished(FotaModemFinder *finder, gpointer user_data)
{
	GPtrArray *events = user_data;

	g_debug("event: vanished");
	g_ptr_array_add(events, g_strdup("vanished"));
}

static void
record_finder_events(FotaModemFinder *finder, GPtrArray *events)
{
	g_signal_connect(finder, "port-appeared", G_CALLBACK(on_port_appeared), events);
	g_signal_connect(finder, "port-vanished", G_CALLBACK(on_port_vanished), events);
}

FotaModemFinder *
test_new_finder(const char *port, GPtrArray *events)
{
	ModemFinderConfig config = {.port = port, .at_interface = -1};
	FotaModemFinder *finder = modem_finder_new(&config);

	record_finder_events(finder, events);
	return finder;
}

void
test_assert_lookup(FotaModemFinder *finder, const char *path, const char *identity)
{
	g_autofree char *found_identity = NULL;
	g_autofree char *found = modem_finder_lookup(finder, &found_identity);

	if (path == NULL) {
		assert_null(found);
		assert_null(found_identity);
		return;
	}
	assert_string_equal(found, path);
	assert_string_equal(found_identity, identity);
}
