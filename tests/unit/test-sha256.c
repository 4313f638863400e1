/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sha256.h"

/* GLib's sha256 is the reference: the package hash must agree with it and
 * with sha256sum on every length and however the bytes are split. */
static char *
reference(const guint8 *data, gsize len)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
}

static char *
hash_split(const guint8 *data, gsize len, GRand *rand)
{
	g_autoptr(Sha256) sum = sha256_new();
	gsize off = 0;

	while (off < len) {
		gsize n = (gsize)g_rand_int_range(rand, 0, 200);

		n = MIN(n, len - off);

		sha256_update(sum, data + off, n);
		off += n;
	}
	return sha256_finish_hex(sum);
}

static void
test_fips_vectors(void **state)
{
	g_autoptr(Sha256) empty = sha256_new();
	g_autoptr(Sha256) abc = sha256_new();
	g_autofree char *empty_hex = NULL;
	g_autofree char *abc_hex = NULL;

	(void)state;
	empty_hex = sha256_finish_hex(empty);
	sha256_update(abc, (const guint8 *)"abc", 3);
	abc_hex = sha256_finish_hex(abc);
	assert_string_equal(empty_hex,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(abc_hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Every length up to three blocks crosses each padding case: the length
 * field fits in the last block (< 56 bytes left) or needs one more. */
static void
test_every_short_length(void **state)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(1);
	guint8 data[3 * 64 + 1];

	(void)state;
	for (gsize i = 0; i < sizeof(data); i++)
		data[i] = (guint8)g_rand_int(rand);
	for (gsize len = 0; len <= sizeof(data); len++) {
		g_autofree char *want = reference(data, len);
		g_autofree char *got = hash_split(data, len, rand);

		assert_string_equal(got, want);
	}
}

static void
test_long_input_in_pieces(void **state)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(2);
	gsize len = 1024 * 1024 + 37;
	g_autofree guint8 *data = g_malloc(len);
	g_autofree char *want = NULL;
	g_autofree char *got = NULL;
	g_autoptr(Sha256) whole = sha256_new();
	g_autofree char *whole_hex = NULL;

	(void)state;
	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)g_rand_int(rand);
	want = reference(data, len);
	got = hash_split(data, len, rand);
	sha256_update(whole, data, len);
	whole_hex = sha256_finish_hex(whole);
	assert_string_equal(got, want);
	assert_string_equal(whole_hex, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fips_vectors),
	        cmocka_unit_test(test_every_short_length),
	        cmocka_unit_test(test_long_input_in_pieces),
	};

	g_printerr("sha256: %s\n", sha256_accelerated() ? "the CPU's SHA extensions"
	                                                : "GLib's GChecksum (no SHA extensions)");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
