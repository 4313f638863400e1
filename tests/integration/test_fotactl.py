# SPDX-License-Identifier: LGPL-2.1-or-later
"""fotactl against the daemon: installs, exit codes and the --json lines."""

import json
import os
import subprocess

import fotatest
from fotatest import run_fotactl

# fotactl(1): 0 success, 1 the upgrade failed, 2 invalid input, 3 the daemon/bus is
# unreachable, 4 the job was cancelled.
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNREACHABLE, EXIT_CANCELLED = range(5)


class FotactlTest(fotatest.FotaTestCase):
    start_http = True

    def json_lines(self, out):
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        self.assertTrue(events, 'no JSON output')
        for ev in events:
            self.assertIsInstance(ev, dict)
            self.assertIn('event', ev)
        return events

    def test_install_file(self):
        pkg = self.package()
        rc, out, err = run_fotactl(self, 'install', pkg.path)
        self.assertEqual(rc, EXIT_OK, out + err)
        self.assertEqual(self.daemon.prop('State'), 'succeeded')
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)
        self.assertEqual([f['sha256'] for f in self.sim.file_events()], [pkg.sha256])

    def test_install_url_json(self):
        pkg = self.package()
        rc, out, err = run_fotactl(self, '--json', 'install', self.http.url(pkg.name))
        self.assertEqual(rc, EXIT_OK, out + err)
        events = self.json_lines(out)
        kinds = [ev['event'] for ev in events]
        self.assertEqual(kinds[-1], 'finished', kinds)
        self.assertEqual(events[-1]['result'], 'succeeded')
        self.assertEqual(events[-1]['job'], self.daemon.prop('JobId'))
        self.assertIn('progress', kinds)
        states = [ev['state'] for ev in events if ev['event'] == 'progress']
        self.assertIn('downloading', states)
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)

    def test_failed_upgrade_exits_1(self):
        pkg = self.package(corrupt=True)
        rc, out, err = run_fotactl(self, '--json', 'install', pkg.path)
        self.assertEqual(rc, EXIT_FAILED, out + err)
        last = self.json_lines(out)[-1]
        self.assertEqual((last['event'], last['result']), ('finished', 'failed'))
        self.assertEqual(last['error'], fotatest.ERR + 'UpgradeFailed', last)
        # The modem's own END (506: the corrupt payload) decides, not a bound
        # running out: the daemon reads the modem's last words before its reboot.
        self.assertIn('upgrade failed: 506', last['message'], last)
        self.assertEqual(self.sim.revision(), pkg.frm)

    def test_bad_url_exits_2(self):
        rc, out, err = run_fotactl(self, '--json', 'install', 'http://127.0.0.1/a"b.bin')
        self.assertEqual(rc, EXIT_INVALID, out + err)
        events = self.json_lines(out)
        self.assertEqual(events[-1]['event'], 'error')
        self.assertEqual(self.sim.qfotadl_commands(), [])

    def test_missing_file_exits_2(self):
        rc, out, err = run_fotactl(self, 'install', os.path.join(self.tmpdir, 'nope.bin'))
        self.assertEqual(rc, EXIT_INVALID, out + err)

    def test_cancel_without_a_job_exits_2(self):
        rc, out, err = run_fotactl(self, '--json', 'cancel')
        self.assertEqual(rc, EXIT_INVALID, out + err)
        self.assertEqual(self.json_lines(out)[-1]['error'], fotatest.ERR + 'InvalidArgument')

    def test_unreachable_bus_exits_3(self):
        rc, out, err = run_fotactl(self, 'status', bus_address='unix:path=' + os.path.join(
            self.tmpdir, 'no-such-bus'))
        self.assertEqual(rc, EXIT_UNREACHABLE, out + err)

    def test_daemon_not_running_exits_3(self):
        self.daemon.stop()
        rc, out, err = run_fotactl(self, 'status')
        self.assertEqual(rc, EXIT_UNREACHABLE, out + err)

    def test_cancelled_exits_4(self):
        self.start_sim(['--download-ms', '6000'])
        self.restart_daemon()
        pkg = self.package()
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        proc = subprocess.Popen([fotatest.tool('FOTACTL'), '--session', '--json', 'install',
                                 self.http.url(pkg.name)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.addCleanup(fotatest.stop_process, proc)
        fotatest.wait_until(lambda: self.daemon.prop('State') == 'downloading', 15,
                            'the download to start')
        self.daemon.cancel()
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, EXIT_CANCELLED, out + err)
        last = self.json_lines(out.decode())[-1]
        self.assertEqual((last['event'], last['result']), ('finished', 'cancelled'))


if __name__ == '__main__':
    fotatest.main()
