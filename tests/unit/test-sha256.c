/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <nettle/version.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "sha256.h"

/* The line nettle 3.8 prints (with NETTLE_FAT_VERBOSE) when it hashes with
 * the CPU's SHA instructions, and whether this CPU has them. nettle 3.8 has
 * no such code for 32-bit ARM (its fast path there is ARMv6 assembly, chosen
 * from /proc/cpuinfo): there the test only prints what nettle chose. */
#if defined(__x86_64__)
#define NETTLE_USES_SHA_INSTRUCTIONS "libnettle: using sha_ni instructions."
static gboolean
cpu_has_sha_instructions(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#elif defined(__aarch64__)
#define NETTLE_USES_SHA_INSTRUCTIONS                                                               \
	"libnettle: enabling hardware-accelerated sha256 compress code."
static gboolean
cpu_has_sha_instructions(void)
{
	unsigned long want = HWCAP_ASIMD | HWCAP_SHA2;

	return (getauxval(AT_HWCAP) & want) == want;
}
#endif

/* nettle chooses its code once, as it is loaded (before main()), and says
 * which only on stderr with NETTLE_FAT_VERBOSE set. A second copy of the
 * same file, loaded into a namespace of its own with the same environment
 * and CPU, makes the same choice: its words are captured from stderr.
 * Returns: (transfer full): the lines nettle printed */
static char *
nettle_choice(void)
{
	Dl_info info;
	void *copy;
	int out[2];
	int saved_stderr;
	char buf[4096];
	ssize_t n;

	if (dladdr((void *)nettle_sha256_update, &info) == 0 || info.dli_fname == NULL)
		fail_msg("cannot find the file nettle_sha256_update comes from");
	g_setenv("NETTLE_FAT_VERBOSE", "1", TRUE);
	assert_int_equal(pipe(out), 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_int_equal(dup2(out[1], STDERR_FILENO), STDERR_FILENO);
	copy = dlmopen(LM_ID_NEWLM, info.dli_fname, RTLD_NOW | RTLD_LOCAL);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(out[1]);
	if (copy == NULL)
		fail_msg("cannot load a second copy of %s: %s", info.dli_fname, dlerror());
	n = read(out[0], buf, sizeof(buf) - 1);
	close(out[0]);
	dlclose(copy);
	g_unsetenv("NETTLE_FAT_VERBOSE");
	assert_true(n > 0);
	buf[n] = '\0';
	return g_strdup(buf);
}

#ifdef NETTLE_USES_SHA_INSTRUCTIONS
/* With the CPU's SHA instructions at hand nettle must use them, unless
 * NETTLE_FAT_OVERRIDE (the "sha256-generic" test sets it to "none") rules
 * them out; then it must not. */
static void
assert_sha_instructions_used_as_expected(const char *const *nettle_lines)
{
	gboolean has = cpu_has_sha_instructions();
	gboolean uses = g_strv_contains(nettle_lines, NETTLE_USES_SHA_INSTRUCTIONS);

	g_printerr("sha256: the CPU %s SHA instructions; exercised: %s\n", has ? "has" : "lacks",
	           uses ? "the SHA instructions" : "nettle's generic code");
	assert_true(uses == (has && g_getenv("NETTLE_FAT_OVERRIDE") == NULL));
}
#endif

/* Prints the code nettle hashes with here, and checks it where nettle has
 * code for the CPU's SHA instructions. */
static void
test_nettle_uses_the_expected_code(void **state)
{
	g_autofree char *said = nettle_choice();
	g_auto(GStrv) lines = g_strsplit(said, "\n", -1);

	(void)state;
	g_printerr("sha256: nettle %d.%d, NETTLE_FAT_OVERRIDE=%s; nettle says:\n%s",
	           nettle_version_major(), nettle_version_minor(),
	           g_getenv("NETTLE_FAT_OVERRIDE") ?: "(unset)", said);
#ifdef NETTLE_USES_SHA_INSTRUCTIONS
	assert_sha_instructions_used_as_expected((const char *const *)lines);
#endif
}

/* GLib's sha256 is the reference: the package hash must agree with it and
 * with sha256sum on every length and however the bytes are split. */
static char *
reference(const guint8 *data, gsize len)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
}

/* Hashes @data in pieces of 0 to 199 bytes. */
static char *
hash_split(const guint8 *data, gsize len, GRand *rand)
{
	struct sha256_ctx sum;
	gsize off = 0;

	sha256_init(&sum);
	while (off < len) {
		gsize n = (gsize)g_rand_int_range(rand, 0, 200);

		n = MIN(n, len - off); /* MIN() evaluates its arguments twice */

		sha256_update(&sum, n, data + off);
		off += n;
	}
	return sha256_finish_hex(&sum);
}

static void
test_fips_vectors(void **state)
{
	struct sha256_ctx sum;
	g_autofree char *empty_hex = NULL;
	g_autofree char *abc_hex = NULL;
	g_autofree char *reset_hex = NULL;

	(void)state;
	sha256_init(&sum);
	empty_hex = sha256_finish_hex(&sum);
	sha256_update(&sum, 3, (const guint8 *)"abc");
	abc_hex = sha256_finish_hex(&sum);
	reset_hex = sha256_finish_hex(&sum);
	assert_string_equal(empty_hex,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(abc_hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(reset_hex, empty_hex);
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
	struct sha256_ctx whole;
	g_autofree char *whole_hex = NULL;

	(void)state;
	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)g_rand_int(rand);
	want = reference(data, len);
	got = hash_split(data, len, rand);
	sha256_init(&whole);
	sha256_update(&whole, len, data);
	whole_hex = sha256_finish_hex(&whole);
	assert_string_equal(got, want);
	assert_string_equal(whole_hex, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_nettle_uses_the_expected_code),
	        cmocka_unit_test(test_fips_vectors),
	        cmocka_unit_test(test_every_short_length),
	        cmocka_unit_test(test_long_input_in_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
