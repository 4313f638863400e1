/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the modem-finder tests (tests/unit, tests/udev). Include
 * after <cmocka.h>. */
#pragma once

#include "modem-finder.h"

/* A finder for @port (NULL: udev discovery with the default ids and
 * interface) whose signals are recorded in @events (a GPtrArray of g_free'd strings):
 * "appeared:<path>" for port-appeared, "vanished" for port-vanished. */
FotaModemFinder *test_new_finder(const char *port, GPtrArray *events);

/* modem_finder_lookup() finds @path with @identity; NULL @path: finds
 * nothing and leaves the identity NULL. */
void test_assert_lookup(FotaModemFinder *finder, const char *path, const char *identity);
