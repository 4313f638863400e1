# SPDX-License-Identifier: LGPL-2.1-or-later
"""hawkBit rollouts end to end (issue 18): the real swupdate in suricatta mode polls a DDI
server (hawkbit_ddi.py), downloads the signed .swu of its action and installs it through
the quectel-fota Lua handler and the daemon under test; quectel-fota-hawkbit (watch) tells
the handler the action, which it closes with the modem's verdict by a DDI request of its
own (quectel-fota-hawkbit feedback).

swupdate's configuration is the man page's (quectel-fota-fleet(7), HAWKBIT): its
suricatta template, made into a configuration by `quectel-fota-hawkbit config`. The
server asks suricatta to poll every second."""

import json
import os
import re
import signal
import subprocess

import fleettest
import fotatest
import hawkbit_ddi
import test_swupdate
from fleettest import FLEET_SRC

DEVICE = 'gateway-7'
# Where the simulated modem pauses the FILE transfer (of a 2 MiB package): a few percent in.
HOLD = 65536
HELPER = os.path.join(FLEET_SRC, 'swupdate', 'quectel-fota-hawkbit')
MAN_PAGE = os.path.join(os.environ.get('FOTA_SRCDIR', '../..'), 'man', 'quectel-fota-fleet.7')


def man_example(marker):
    """The man page's example (.EX ... .EE) that contains `marker`, as plain text."""
    with open(MAN_PAGE) as f:
        page = f.read()
    for block in re.findall(r'^\.EX\n(.*?)^\.EE\n', page, re.S | re.M):
        if marker in block:
            return block.replace('\\-', '-').replace('\\e', '\\')
    raise AssertionError(f'{MAN_PAGE}: no example with {marker!r}')


def suricatta_template(url, device):
    """The man page's suricatta template, pointed at the test's server and device."""
    text = man_example('suricatta :')
    for key, value in (('url', url), ('id', device)):
        text, n = re.subn(rf'(\b{key} = )"[^"]*"', rf'\g<1>"{value}"', text)
        assert n == 1, f'the man page\'s suricatta example has no single {key}'
    return text


def stop_group(proc):
    """Stops a process started in a session of its own, and its children."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


class HawkbitTest(test_swupdate.SwupdateTest):
    # The .swu making and signing of SwupdateTest, not its tests.
    test_signed_swu_upgrades_the_modem = None
    test_refused_package_fails_the_install = None

    def setUp(self):
        super().setUp()
        self.ddi = hawkbit_ddi.DdiServer(os.path.join(self.tmpdir, 'ddi.jsonl'),
                                         controller=DEVICE)
        self.addCleanup(self.ddi.stop)
        self.extra_logs = [os.path.join(self.tmpdir, n) for n in ('swupdate.log', 'ddi.jsonl')]
        self.action_file = os.path.join(self.tmpdir, 'hawkbit-action')
        self.cfg = os.path.join(self.tmpdir, 'run', 'swupdate.cfg')
        # The helpers as installed: on PATH, the handler's feedback to the man page's server.
        self.env.update(QUECTEL_FOTA_HAWKBIT_ACTION=self.action_file,
                        QUECTEL_FOTA_HAWKBIT_CONFIG=self.cfg,
                        PATH=os.pathsep.join([os.path.dirname(HELPER), FLEET_SRC,
                                              self.env['PATH']]))
        template = os.path.join(self.tmpdir, 'hawkbit.cfg')
        with open(template, 'w') as f:
            f.write(suricatta_template(self.ddi.url, DEVICE))
        rc, out = self.run_client([HELPER, 'config', template, self.cfg], env=self.env)
        self.assertEqual(rc, 0, out)
        self.start_swupdate()

    def background(self, argv, log):
        # SIGPIPE stays ignored (Python ignores it; restore_signals=False keeps that), as
        # systemd runs services (IgnoreSIGPIPE=yes): SWUpdate before 2024.05 (upstream
        # fec9e413) otherwise dies of it when an IPC client is gone before its answer,
        # which suricatta's status poll (a 100 ms timeout) is on a loaded host.
        out = open(os.path.join(self.tmpdir, log), 'ab')
        self.addCleanup(out.close)
        proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                restore_signals=False)
        self.addCleanup(stop_group, proc)
        return proc

    def start_swupdate(self):
        """swupdate in suricatta mode, and the watcher connected to its progress socket
        (it connects once a second) before any action is assigned."""
        # Line-buffered, so that its log is whole up to the moment of a failure.
        self.swupdate_proc = self.background(
            ['stdbuf', '-oL', '-eL', 'swupdate', '-v', '-k', self.cert, '-H', f'{test_swupdate.BOARD}:'
             f'{test_swupdate.HW_REVISION}', '-f', self.cfg, '-u', '-e'], 'swupdate.log')
        self.background([HELPER, 'watch'], 'swupdate.log')
        socket = os.path.join(self.swtmp, 'swupdateprog')
        fotatest.wait_until(lambda: self.swupdate_proc.poll() is not None
                            or self.unix_connections(socket) >= 2, 15,
                            'quectel-fota-hawkbit connected to ' + socket)
        self.assertTrue(os.path.exists(self.action_file + '.watch'))
        self.assertIsNone(self.swupdate_proc.poll(), 'swupdate exited')

    @staticmethod
    def unix_connections(path):
        """How many sockets /proc/net/unix shows at this path (the listener, then one
        per accepted connection)."""
        with open('/proc/net/unix') as f:
            return sum(1 for line in f if line.rstrip().endswith(' ' + path))

    def deploy(self, pkg, revision):
        swu = self.swu(pkg, revision)
        return self.ddi.assign([(os.path.basename(swu), swu)])

    def wait_closed(self, action, timeout=45):
        closed = fotatest.wait_until(lambda: self.ddi.closed(action)
                                     or self.swupdate_proc.poll() is not None, timeout,
                                     f'hawkBit action {action} closed')
        self.assertIsNone(self.swupdate_proc.poll(),
                          f'swupdate exited ({self.swupdate_proc.returncode})')
        return closed

    def assertNothingToDo(self, action):
        """The polls after the close offer no deployment, and nothing is installed again."""
        closed_at = self.ddi.closed(action)['time']
        poll = re.compile(rf'/controller/v1/{DEVICE}$')

        def later_polls():
            return [r for r in self.ddi.requests('GET') if poll.search(r['path'])
                    and r['time'] > closed_at]
        fotatest.wait_until(lambda: len(later_polls()) >= 2, 15, 'two polls after the close')
        self.assertEqual([r for r in later_polls() if 'deploymentBase' in r['reply']], [])
        self.assertEqual([r for r in self.ddi.requests('GET', r'/deploymentBase/')
                          if r['time'] > closed_at], [])

    def handler_progress(self, action):
        """The step percents of the handler's proceeding feedback, in arrival order."""
        return [int(m.group(1)) for f in self.ddi.feedback(action)
                if f['execution'] == 'proceeding'
                for d in f['details'] for m in [re.match(r'quectel-fota: \w+, (\d+)%$', d)] if m]

    def test_assigned_swu_upgrades_the_modem_and_closes_the_action(self):
        pkg = self.package()
        action = self.deploy(pkg, pkg.to)
        closed = self.wait_closed(action)
        self.assertEqual(closed['finished'], 'success', closed)
        self.assertEqual(closed['details'], [f'quectel-fota: {pkg.name} installed'])
        self.assertModemRuns(pkg.to)
        self.assertEqual([f['sha256'] for f in self.sim.file_events()], [pkg.sha256])
        # The target's attributes: suricatta's at the first poll (the old revision), then
        # the handler's after the close, so that the console shows the new revision.
        def configs(after=0):
            return [json.loads(r['body'])['data'] for r in self.ddi.requests('PUT', r'/configData$')
                    if r['time'] > after]
        imei = self.daemon.get_modem_info()['imei']
        self.assertEqual(configs()[0], {'quectel_modem_model': 'EC200T',
                                        'quectel_modem_revision': fotatest.FOTA_REV,
                                        'quectel_modem_imei': imei}, configs())
        fotatest.wait_until(lambda: configs(closed['time']), 15, 'the attributes after the close')
        self.assertEqual(configs(closed['time']), [{'quectel_modem_model': 'EC200T',
                                                    'quectel_modem_revision': pkg.to,
                                                    'quectel_modem_imei': imei}])
        self.assertNothingToDo(action)
        self.assertEqual(len(self.sim.file_events()), 1)
        self.assertEqual(self.ddi.attributes['quectel_modem_revision'], pkg.to)
        self.assertEqual({r['authorization'] for r in self.ddi.requests()},
                         {'TargetToken TARGET-TOKEN'})
        fotatest.wait_until(lambda: not os.path.exists(self.action_file), 15,
                            'the watcher seeing the install end')
        self.assertNoTemporaryPackage()

    def test_refused_package_closes_the_action_with_the_verdict(self):
        wrong = self.package(frm='EC200TCNDAR02A05M16', to=fotatest.FOTA_REV2, name='wrong.bin')
        action = self.deploy(wrong, wrong.to)
        closed = self.wait_closed(action)
        self.assertEqual(closed['finished'], 'failure', closed)
        # The details carry the daemon's verdict, as the daemon has it.
        job = self.daemon.get_job()
        verdict = closed['details'][0]
        self.assertEqual(verdict, f"{job['error']}: {job['message']}", closed)
        # The modem's own END,504 decides, not a bound running out.
        self.assertTrue(verdict.startswith(fotatest.ERR + 'UpgradeFailed: '), closed)
        self.assertIn('504', verdict, closed)
        self.assertIn('quectel-fota: wrong.bin: fotactl exited 1', closed['details'][1])
        self.assertModemRuns(fotatest.FOTA_REV)
        self.assertNothingToDo(action)

        # The next action, with the right package, goes through.
        pkg = self.package()
        action = self.deploy(pkg, pkg.to)
        self.assertEqual(self.wait_closed(action)['finished'], 'success')
        self.assertModemRuns(pkg.to)

    def test_daemon_restarted_mid_update_gets_the_final_verdict(self):
        pkg = self.package()
        action = self.deploy(pkg, pkg.to)
        # The daemon's Progress signal, recorded as it comes: sampling the State property
        # missed the updating step (under a second) on a loaded host.
        fotatest.wait_until(lambda: any(name == 'Progress' and args[1] == 'updating'
                                        for name, args in self.daemon.signals), 45,
                            'the modem updating')
        self.daemon.kill()
        self.restart_daemon()
        job = self.daemon.wait_final()
        closed = self.wait_closed(action)
        expected = 'success' if job['state'] == 'succeeded' else 'failure'
        self.assertEqual(closed['finished'], expected, (closed, job))
        self.assertEqual(job['state'], 'succeeded', job)
        self.assertModemRuns(pkg.to)

    def test_progress_feedback_rises_while_the_modem_works(self):
        # The modem stops taking the package after HOLD bytes until the server has the
        # first feedback: the transfer is under way then, however fast the host streams.
        self.start_sim(flags=tuple(self.sim_flags) + ('--file-hold', str(HOLD)))
        self.restart_daemon()
        pkg = self.package()
        action = self.deploy(pkg, pkg.to)
        first = fotatest.wait_until(lambda: self.handler_progress(action), 45,
                                    'the first progress feedback')
        self.assertEqual([e['received'] for e in self.sim.events('file-hold')], [HOLD])
        self.sim.proc.send_signal(signal.SIGUSR1)
        closed = self.wait_closed(action)
        self.assertEqual(closed['finished'], 'success', closed)
        percents = self.handler_progress(action)
        self.assertEqual(percents[0], first[0], percents)
        self.assertEqual(percents, sorted(set(percents)), percents)
        # From the start: the handler waited for the watcher's word on the action.
        self.assertLess(percents[0], 10, percents)
        self.assertTrue([p for p in percents if 0 < p < 50], percents)   # downloading
        self.assertTrue([p for p in percents if 50 <= p < 100], percents)  # updating
        # Each came before the close, while the modem was still at work.
        proceeding = [f for f in self.ddi.feedback(action) if f['execution'] == 'proceeding']
        self.assertTrue(all(f['time'] < closed['time'] for f in proceeding))


if __name__ == '__main__':
    fleettest.main()
