# SPDX-License-Identifier: LGPL-2.1-or-later
"""The harness's own pieces work: private bus, HTTP and FTP servers, main loop waits."""

import ftplib
import os
import urllib.error
import urllib.request

import fotatest
from fotatest import GLib


class HarnessTest(fotatest.FotaTestCase):
    start_daemon = False
    start_http = True
    start_ftp = True

    def setUp(self):
        super().setUp()
        with open(os.path.join(self.www, 'pkg.bin'), 'wb') as f:
            f.write(b'\x01\x02package')

    def test_private_bus(self):
        self.assertTrue(self.bus.address.startswith('unix:'))
        self.assertTrue(self.bus.name_has_owner('org.freedesktop.DBus'))
        self.assertFalse(self.bus.name_has_owner(fotatest.BUS_NAME))

    def test_http_serves_the_www_dir(self):
        with urllib.request.urlopen(self.http.url('pkg.bin'), timeout=5) as r:
            self.assertEqual(r.read(), b'\x01\x02package')
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(self.http.url('missing.bin'), timeout=5)
        self.assertEqual(cm.exception.code, 404)

    def test_ftp_serves_the_www_dir_with_a_password(self):
        ftp = ftplib.FTP()
        ftp.connect('127.0.0.1', self.ftp.port, timeout=5)
        ftp.login(fotatest.FTP_USER, fotatest.FTP_PASSWORD)
        data = []
        ftp.retrbinary('RETR pkg.bin', data.append)
        ftp.quit()
        self.assertEqual(b''.join(data), b'\x01\x02package')
        bad = ftplib.FTP()
        bad.connect('127.0.0.1', self.ftp.port, timeout=5)
        with self.assertRaises(ftplib.error_perm):
            bad.login(fotatest.FTP_USER, 'wrong')
        bad.close()

    def test_wait_until_is_bounded(self):
        with self.assertRaises(AssertionError):
            fotatest.wait_until(lambda: False, 0.2, 'nothing')
        fired = []
        GLib.timeout_add(50, lambda: fired.append(1) or False)
        fotatest.wait_until(lambda: fired, 2, 'a timeout source')

    def test_options_variant(self):
        v = fotatest.opts(upgrade_mode=fotatest.u(0), sha256=fotatest.s('ab'))
        self.assertEqual(v.get_type_string(), 'a{sv}')
        self.assertEqual(v.unpack(), {'upgrade-mode': 0, 'sha256': 'ab'})


if __name__ == '__main__':
    fotatest.main()
