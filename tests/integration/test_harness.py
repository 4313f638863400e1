# SPDX-License-Identifier: LGPL-2.1-or-later
"""The harness's own pieces work: private bus, HTTP and FTP servers, main loop waits;
and every test of a file run case by case is a meson test."""

import ftplib
import importlib
import os
import select
import time
import tty
import unittest
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



class SimulatorHarnessTest(fotatest.FotaTestCase):
    start_daemon = False

    def at(self, fd, command, timeout=5):
        os.write(fd, command.encode() + b'\r')
        data = b''
        deadline = time.monotonic() + timeout
        while b'\nOK' not in data and b'ERROR' not in data:
            remaining = deadline - time.monotonic()
            self.assertGreater(remaining, 0, f'no final result to {command}: {data!r}')
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                data += os.read(fd, 4096)
        return data.decode(errors='replace')

    def test_simulator_answers_and_logs(self):
        sim = self.start_sim()
        fd = os.open(sim.link, os.O_RDWR | os.O_NOCTTY)
        self.addCleanup(os.close, fd)
        tty.setraw(fd)
        self.assertIn(self.revision, self.at(fd, 'ATI'))
        fotatest.wait_until(lambda: 'ATI' in sim.commands(), 5, 'the ATI command event')
        self.assertEqual(sim.revision(), self.revision)
        self.assertTrue(sim.link_paths()[0].startswith('/dev/pts/'), sim.link_paths())

    def test_make_package(self):
        pkg = self.package(size=1000)
        self.assertEqual((pkg.frm, pkg.to), (fotatest.FOTA_REV, fotatest.FOTA_REV2))
        self.assertGreater(pkg.real_size, 1000)
        bad = self.package(size=1000, corrupt=True)
        self.assertNotEqual(bad.sha256, pkg.sha256)


class DaemonHarnessTest(fotatest.FotaTestCase):
    """The Daemon helper (bus name wait, fd passing, signals, remote errors) against
    fake-fotad.py, so that the harness is proven before the real daemon exists."""
    start_daemon = False

    def setUp(self):
        super().setUp()
        self.port = os.path.join(self.tmpdir, 'ttyUSB1')
        fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake-fotad.py')
        self.restart_daemon(program=fake)

    def test_start_file_passes_the_fd_and_collects_signals(self):
        path = os.path.join(self.tmpdir, 'p.bin')
        with open(path, 'wb') as f:
            f.write(b'z' * 1234)
        job = self.daemon.start_file(path)
        progress, fin = self.daemon.wait_finished(job, 10)
        self.assertEqual(fin, (job, 'succeeded', '', ''))
        self.assertStateOrder(progress, 1)
        self.assertEqual(self.daemon.get_job()['source'], 'file:1234')
        self.assertEqual(self.daemon.prop('State'), 'succeeded')

    def test_remote_error_names(self):
        self.assertDBusError('InvalidArgument', self.daemon.start_url, 'http://h/"')
        with self.assertRaises(AssertionError):
            self.assertDBusError('Busy', self.daemon.start_url, 'http://h/"')
        with self.assertRaises(AssertionError):  # a call that succeeds is no error
            self.assertDBusError('InvalidArgument', self.daemon.start_url, 'http://h/a')

    def test_kill_and_restart(self):
        self.daemon.kill()
        self.assertFalse(self.bus.name_has_owner(fotatest.BUS_NAME) and
                         self.daemon.proc.poll() is None)
        self.restart_daemon(program=self.daemon.proc.args[0])
        self.assertEqual(self.daemon.prop('State'), 'idle')


def _test_ids(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _test_ids(t)
        else:
            yield t.id()


class MesonCasesTest(unittest.TestCase):
    """tests/integration/meson.build runs some files case by case (its
    integration_cases, passed as INTEGRATION_CASES="module:Class[.method] ...") and
    the others whole (INTEGRATION_FILES): a test in a file run case by case that no
    case names would never run."""

    def test_every_test_runs(self):
        spec = os.environ.get('INTEGRATION_CASES')
        if spec is None:
            self.skipTest('INTEGRATION_CASES is not set (run through meson test)')
        whole = set(os.environ.get('INTEGRATION_FILES', '').split())
        cases = {}
        for item in spec.split():
            module, name = item.split(':')
            cases.setdefault(module, []).append(name)
        loader = unittest.TestLoader()
        for module_name, names in sorted(cases.items()):
            module = importlib.import_module(module_name)
            covered = set()
            for name in names:
                with self.subTest(case=f'{module_name}:{name}'):
                    ids = list(_test_ids(loader.loadTestsFromName(name, module)))
                    self.assertTrue(ids, f'{module_name}:{name} names no test')
                    covered.update(ids)
            if module_name not in whole:  # else the rest runs with the whole file
                missing = sorted(set(_test_ids(loader.loadTestsFromModule(module))) - covered)
                self.assertEqual(missing, [], f'tests of {module_name}.py that no meson test '
                                 'runs: add them to integration_cases in meson.build')


if __name__ == '__main__':
    fotatest.main()
