# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad input is refused before the modem sees a byte of it."""

import os
import re

import faults
import fotatest
from fotatest import GLib, asv, opts, s, u

H = 'http://127.0.0.1:8080/'
F = 'ftp://user:pass@127.0.0.1/'
INVALID = 'InvalidArgument'

# (name, url, options, expected error)
BAD_URLS = [
    ('quote', H + 'a"b.bin', {}, INVALID),
    ('carriage return', H + 'a\r.bin', {}, INVALID),
    ('line feed + command', H + 'a.bin\nAT+CFUN=0', {}, INVALID),
    ('control byte', H + 'a\x01.bin', {}, INVALID),
    ('escape byte', H + 'a\x1b.bin', {}, INVALID),
    ('space', H + 'a b.bin', {}, INVALID),
    ('non-ASCII', H + 'caf\u00e9.bin', {}, INVALID),
    ('256 bytes', H + 'a' * (256 - len(H)), {}, INVALID),
    ('FTP user of 51 bytes', f'ftp://{"u" * 51}:pass@127.0.0.1/f.bin', {}, INVALID),
    ('FTP password of 51 bytes', f'ftp://user:{"p" * 51}@127.0.0.1/f.bin', {}, INVALID),
    ('FTP host of 51 bytes', f'ftp://user:pass@{"h" * 47}.com/f.bin', {}, INVALID),
    ('FTP file of 51 bytes', F + 'f' * 47 + '.bin', {}, INVALID),
    ('FTP sub-directory', F + 'dir/f.bin', {}, INVALID),
    ('FTP without user', 'ftp://127.0.0.1/f.bin', {}, INVALID),
    ('FTP without file', F, {}, INVALID),
    ('port 0', 'http://127.0.0.1:0/f.bin', {}, INVALID),
    ('port 65536', 'http://127.0.0.1:65536/f.bin', {}, INVALID),
    ('port not a number', 'http://127.0.0.1:8o/f.bin', {}, INVALID),
    ('no host', 'http:///f.bin', {}, INVALID),
    ('file scheme', 'file:///tmp/f.bin', {}, INVALID),
    ('tftp scheme', 'tftp://127.0.0.1/f.bin', {}, INVALID),
    ('FILE: as a URL', 'FILE:12', {}, INVALID),
    ('empty', '', {}, INVALID),
    ('unknown option', H + 'f.bin', {'colour': s('red')}, INVALID),
    ('upgrade-mode as a string', H + 'f.bin', {'upgrade-mode': s('1')}, INVALID),
    ('upgrade-mode as int32', H + 'f.bin', {'upgrade-mode': GLib.Variant('i', 1)}, INVALID),
    ('upgrade-mode 2', H + 'f.bin', {'upgrade-mode': u(2)}, INVALID),
    ('download-urc-max 3', H + 'f.bin', {'download-urc-max': u(3)}, INVALID),
    ('download-urc-max 101', H + 'f.bin', {'download-urc-max': u(101)}, INVALID),
    ('update-urc-max 4', H + 'f.bin', {'update-urc-max': u(4)}, INVALID),
    ('expected-revision as u', H + 'f.bin', {'expected-revision': u(1)}, INVALID),
    ('sha256 on StartUrl', H + 'f.bin', {'sha256': s('0' * 64)}, INVALID),
    ('cid 0', H + 'f.bin', {'cid': u(0)}, INVALID),
    ('cid 17', H + 'f.bin', {'cid': u(17)}, INVALID),
    ('apn with a quote', H + 'f.bin', {'cid': u(1), 'apn': s('inter"net')}, INVALID),
    ('apn with a line feed', H + 'f.bin', {'cid': u(1), 'apn': s('net\r\nAT')}, INVALID),
]

# What a bad call must never cause: a download, a PDP/FOTA setting, flow-control switching.
FORBIDDEN = re.compile(r'^AT\+(QFOTADL=(?!\?)|QICSGP=|QIACT=|QCFG="(fota/cid|usbifc)",|IFC=)',
                       re.IGNORECASE)


class RefusalTestCase(fotatest.FotaTestCase):
    """After each test: nothing reached the modem, no job exists."""

    def tearDown(self):
        fotatest.spin(0.3)  # anything a bad call set off would reach the modem by now
        self.assertEqual([c for c in self.sim.commands() if FORBIDDEN.match(c)], [])
        self.assertEqual(self.sim.file_events(), [])
        self.assertEqual(self.daemon.prop('State'), 'idle')
        self.assertEqual(self.daemon.prop('JobId'), '')
        self.assertEqual(self.daemon.get_job(), {})
        self.assertEqual(self.sim.revision(), self.revision)

    def refused(self, error, func, *args):
        msg = self.assertDBusError(error, func, *args)
        self.assertNotEqual(msg, '')
        return msg


class ValidationTest(RefusalTestCase):

    def test_bad_urls_and_options(self):
        self.assertGreaterEqual(len(BAD_URLS), 25)
        for name, url, options, error in BAD_URLS:
            with self.subTest(name, url=url):
                self.refused(error, self.daemon.start_url, url, asv(options))

    def test_messages_name_the_problem(self):
        msg = self.refused(INVALID, self.daemon.start_url,
                           H + 'f.bin', opts(download_urc_max=u(3)))
        self.assertIn('download-urc-max', msg)
        self.assertIn('3', msg)
        msg = self.refused(INVALID, self.daemon.start_url,
                           f'ftp://{"u" * 51}:pass@127.0.0.1/f.bin', opts())
        self.assertIn('51', msg)

    def bad_file(self, content=b'x' * 1000):
        path = os.path.join(self.tmpdir, 'bad.bin')
        with open(path, 'wb') as f:
            f.write(content)
        return path

    def test_bad_files_and_file_options(self):
        pkg = self.bad_file()
        good_sha = fotatest.sha256_file(pkg)
        cases = [
            ('empty file', self.bad_file(content=b''), {}),
            ('malformed sha256', pkg, {'sha256': s('xyz')}),
            ('sha256 of 63 digits', pkg, {'sha256': s(good_sha[:63])}),
            ('sha256 as bytes', pkg, {'sha256': GLib.Variant('ay', b'0' * 64)}),
            ('cid in FILE mode', pkg, {'cid': u(1)}),
            ('apn in FILE mode', pkg, {'apn': s('internet')}),
            ('upgrade-mode 2', pkg, {'upgrade-mode': u(2)}),
            ('unknown option', pkg, {'speed': u(9)}),
        ]
        for name, path, options in cases:
            with self.subTest(name):
                self.refused(INVALID, self.daemon.start_file, path, asv(options))

    def test_wrong_sha256_is_refused_before_streaming(self):
        pkg = self.bad_file()
        self.refused(INVALID, self.daemon.start_file, pkg, opts(sha256=s('0' * 64)))

    def test_directory_fd(self):
        fd = os.open(self.tmpdir, os.O_RDONLY | os.O_DIRECTORY)
        self.addCleanup(os.close, fd)
        self.refused(INVALID, self.daemon.start_fd, fd)

    def test_pipe_fd(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        os.write(w, b'x' * 100)
        self.refused(INVALID, self.daemon.start_fd, r)

    def test_write_only_fd(self):
        fd = os.open(self.bad_file(), os.O_WRONLY)
        self.addCleanup(os.close, fd)
        self.refused(INVALID, self.daemon.start_fd, fd)

    def test_package_of_4_gib(self):
        """The length field holds at most 2^32-1: refused before the modem hears of it,
        and the message names the size (issue 7, item 6)."""
        big = os.path.join(self.tmpdir, 'big.bin')
        with open(big, 'wb') as f:
            f.truncate(1 << 32)  # sparse
        # the daemon's own identification at start is not the job's
        fotatest.wait_until(lambda: self.daemon.prop('ModemRevision'), 15,
                            'the daemon to identify the modem')
        before = len(self.sim.commands())
        try:
            msg = self.refused(INVALID, self.daemon.start_file, big)
        finally:
            fotatest.spin(0.5)  # a window: anything the call set off would be sent by now
            self.assertEqual(faults.new_commands(self.sim, before), [])
        self.assertIn('4294967296', msg)


class DfotaValidationTest(RefusalTestCase):
    """update-urc-max is EC200T-only: refused on a delta model."""
    model = 'EC200S'
    revision = fotatest.DFOTA_REV

    def test_update_urc_max_on_dfota(self):
        with self.assertRaises(GLib.Error) as cm:
            self.daemon.start_url(H + 'f.bin', opts(update_urc_max=u(50)))
        self.assertIn(fotatest.remote_error(cm.exception),
                      (fotatest.ERR + 'NotSupported', fotatest.ERR + INVALID))
        self.assertIn('update-urc-max', cm.exception.message)


if __name__ == '__main__':
    fotatest.main()
