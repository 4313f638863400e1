# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon dying at any moment: the restarted daemon finishes the job it
recorded and its verdict agrees with the modem.

KillTest kills it (SIGKILL, SIGTERM, a host reboot) at chosen points of a job;
KillLoopTest (issue 7, item 8) kills it at seeded random moments, 30 times;
CorruptStateTest gives it a job record it cannot read.

The kill loop takes about 3 minutes and runs alone: it runs only when named
(`meson test -C build resume-kill-loop`, or `test_resume.py KillLoopTest`);
`test_resume.py` without names runs the rest (`meson test -C build test_resume`).
FOTA_KILL_SEED=<n> replays the random choices of a loop (not the machine's
timing); FOTA_KILL_ROUNDS=<n> changes the number of kills (default 30)."""

import collections
import glob
import os
import random
import re
import signal
import sys
import time
import unittest

import fotatest
from fotatest import opts, u

SLOW_STREAM = {'flow-control': 'none', 'paced-rate': 16384}

# Per state: simulator flags that widen its window, the upgrade mode.
KILL_AT = {
    'preparing': (['--reply-delay', 'ATI=1200'], 0),
    'downloading': (['--download-ms', '3000'], 1),
    'rebooting': (['--reboot-ms', '2000'], 0),
    'updating': (['--update-ms', '3000'], 0),
    'verifying': (['--reply-delay', 'ATI=1200'], 1),
}


class KillTest(fotatest.FotaTestCase):
    """SIGKILL/SIGTERM of the daemon mid-job; the restarted daemon finishes it."""
    start_http = True
    start_daemon = False

    def begin(self, flags, modem=None):
        self.start_sim(flags)
        self.restart_daemon(modem=modem)

    def kill_at(self, state):
        flags, mode = KILL_AT[state]
        self.begin(flags)
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(mode)))
        self.daemon.wait_state(job, state, 30)
        self.daemon.kill(signal.SIGKILL)
        sent = len(self.sim.qfotadl_commands())
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        self.assertEqual(info['id'], job)
        if state == 'preparing' and sent == 0:
            # The modem never heard of the job: either it is run again, or it fails
            # saying that it is safe to start again. Either way, consistently.
            if info['state'] == 'failed':
                self.assertEqual(self.sim.revision(), pkg.frm)
                self.assertIn('again', info['message'].lower())
                self.assertEqual(self.sim.qfotadl_commands(), [])
                return
        self.assertEqual(info['state'], 'succeeded', info)
        self.assertEqual(info['to-revision'], pkg.to)
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)
        self.assertEqual(self.sim.revision(), pkg.to)
        # The modem was asked once: resuming never downloads again.
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)

    def test_sigkill_while_streaming_a_file(self):
        self.begin([], modem=SLOW_STREAM)
        pkg = self.package(size=160 * 1024)
        job = self.daemon.start_file(pkg.path)
        self.daemon.wait_state(job, 'downloading', 15)
        fotatest.spin(0.5)
        self.daemon.kill(signal.SIGKILL)
        self.restart_daemon(modem=SLOW_STREAM)
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'failed'), info)
        msg = info['message'].lower()
        self.assertIn('interrupted', msg)
        self.assertIn('safe', msg)
        self.assertIn('again', msg)
        self.assertEqual(self.sim.revision(), pkg.frm)
        self.assertEqual(self.sim.complete_files(), [])
        self.assertNotEqual(self.daemon.prop('LastError'), '')

    def test_update_ends_while_the_daemon_is_down(self):
        """Mode 1: the modem finishes the update and reboots before the daemon is
        back; the restarted daemon must see the new revision, not time out."""
        self.begin(['--update-ms', '1500'])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(1)))
        self.daemon.wait_state(job, 'updating', 30)
        self.daemon.kill(signal.SIGKILL)
        links = len(self.sim.link_paths())
        fotatest.wait_until(lambda: len(self.sim.link_paths()) > links, 30,
                            'the modem to reboot after its update')
        fotatest.spin(1)  # past its boot URCs: nothing tells the new daemon it rebooted
        self.assertEqual(self.sim.revision(), pkg.to)
        self.restart_daemon()
        info = self.daemon.wait_final(30)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(info['to-revision'], pkg.to)

    def test_sigkill_between_qfotadl_and_its_ok(self):
        """The record says preparing, but the modem got AT+QFOTADL: the restarted
        daemon must follow the download it hears, not call it 'nothing changed'."""
        self.begin(['--reply-delay', 'AT+QFOTADL=1500'])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        fotatest.wait_until(lambda: self.sim.qfotadl_commands(), 15, 'AT+QFOTADL to be sent')
        self.assertEqual(self.daemon.get_job()['state'], 'preparing')
        self.daemon.kill(signal.SIGKILL)
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(self.sim.revision(), pkg.to)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)

    def test_sigkill_while_the_modem_owes_an_answer(self):
        """Killed in its verification while the modem still owes an answer: the
        restarted daemon's first AT takes that answer, and its own OK follows unasked.
        The daemon probes again, so no later command is paired with an earlier one's
        answer, and the job ends in the modem's verdict."""
        self.begin(['--reply-delay', 'ATI=1200'])  # verification lasts long enough to hold
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(1)))
        self.daemon.wait_state(job, 'verifying', 30)
        self.sim.proc.send_signal(signal.SIGUSR2)
        fotatest.wait_until(lambda: self.sim.events('reply-held'), 15, 'a reply to be held')
        self.daemon.kill(signal.SIGKILL)
        self.restart_daemon()
        fotatest.wait_until(lambda: '--> AT\n' in self.daemon.log_text(), 15,
                            "the restarted daemon's first AT")
        self.sim.proc.send_signal(signal.SIGUSR1)
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(info['to-revision'], pkg.to)
        self.assertEqual(self.sim.revision(), pkg.to)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)
        # What the modem read once it answered again: the AT that took the owed
        # answer, the AT that made sure, then the identification.
        events = self.sim.events()
        released = [e['event'] for e in events].index('reply-release')
        after = [e['line'] for e in events[released:] if e['event'] == 'command']
        self.assertEqual(after[:3], ['AT', 'AT', 'ATE0'], after)
        # The user's next step: asking the modem again gets its own answers.
        info = self.daemon.get_modem_info()
        self.assertEqual((info['model'], info['revision']), ('EC200T', pkg.to))
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)

    def test_sigterm_during_a_job_exits_0_and_resumes(self):
        self.begin(['--update-ms', '3000'])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'updating', 30)
        self.assertEqual(self.daemon.kill(signal.SIGTERM), 0, 'exit status on SIGTERM')
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(info['to-revision'], pkg.to)

    def test_host_reboot_during_the_update(self):
        self.begin(['--update-ms', '3000'])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'updating', 30)
        self.daemon.kill(signal.SIGKILL)
        self.set_boot_id()  # a new host boot; the modem kept power and finished
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(info['to-revision'], pkg.to)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)

    def test_host_reboot_during_a_file_stream(self):
        self.begin([], modem=SLOW_STREAM)
        pkg = self.package(size=160 * 1024)
        job = self.daemon.start_file(pkg.path)
        self.daemon.wait_state(job, 'downloading', 15)
        self.daemon.kill(signal.SIGKILL)
        self.set_boot_id()
        self.restart_daemon(modem=SLOW_STREAM)
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'failed'), info)
        self.assertEqual(self.sim.revision(), pkg.frm)

    def test_result_survives_restarts(self):
        self.begin([])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        _, fin = self.daemon.wait_finished(job, 60)
        self.assertEqual(fin[1], 'succeeded', fin)
        before = self.daemon.get_job()
        for _ in range(2):
            self.restart_daemon()
        after = self.daemon.get_job()
        self.assertEqual(after, before)
        self.assertEqual(self.daemon.prop('State'), 'succeeded')
        self.assertEqual(self.daemon.prop('JobId'), job)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)


def _add_kill_cases():
    for state in KILL_AT:
        def test(self, state=state):
            self.kill_at(state)
        test.__name__ = f'test_sigkill_while_{state}'
        setattr(KillTest, test.__name__, test)


_add_kill_cases()


class CorruptStateTest(fotatest.FotaTestCase):
    """A job record the daemon cannot read: kept aside, reported, not fatal."""
    start_http = True
    start_daemon = False

    def job_file(self):
        return os.path.join(self.state_dir, 'job')

    def valid_record(self):
        """A real record, from a job the modem refuses at once."""
        self.start_sim(['--fail-qfotadl'])
        self.restart_daemon()
        job = self.daemon.start_url(self.http.url('x.bin'))
        self.daemon.wait_finished(job, 30)
        self.daemon.stop()
        with open(self.job_file(), 'rb') as f:
            return f.read()

    def check_corrupt(self, mutate):
        data = mutate(self.valid_record())
        with open(self.job_file(), 'wb') as f:
            f.write(data)
        self.restart_daemon()
        self.assertEqual(self.daemon.prop('State'), 'failed')
        self.assertNotEqual(self.daemon.prop('LastError'), '')
        info = self.daemon.get_job()
        self.assertIn('unreadable', info.get('message', '').lower(), info)
        kept = glob.glob(os.path.join(self.state_dir, 'job.corrupt-*'))
        self.assertEqual(len(kept), 1, os.listdir(self.state_dir))
        with open(kept[0], 'rb') as f:
            self.assertEqual(f.read(), data)
        # The daemon still works: a new job can start (and is refused by this modem).
        job = self.daemon.start_url(self.http.url('x.bin'))
        _, fin = self.daemon.wait_finished(job, 30)
        self.assertEqual(fin[2], fotatest.ERR + 'ModemError')

    def test_truncated(self):
        self.check_corrupt(lambda d: d[:len(d) // 2])

    def test_garbage(self):
        self.check_corrupt(lambda d: b'\x00\xff[job\n\x01\x02garbage=\xfe\n' * 20)

    def replace_one(self, pattern, replacement):
        """A mutation: @pattern (a line start) occurs once and becomes @replacement."""
        def mutate(d):
            out, n = re.subn(rb'(?m)^' + pattern, replacement, d)
            self.assertEqual(n, 1, d)
            return out
        return mutate

    def test_wrong_version(self):
        self.check_corrupt(self.replace_one(rb'version=\d+', b'version=999'))

    def test_bad_field_types(self):
        self.check_corrupt(self.replace_one(rb'percent=\d+', b'percent=lots'))

    def test_bad_state_name(self):
        self.check_corrupt(self.replace_one(rb'state=\w+', b'state=exploded'))


# ---------------------------------------------------------------- the kill loop

KILL_ROUNDS = int(os.environ.get('FOTA_KILL_ROUNDS', '30'))
KILL_BUDGET_S = 170      # the whole loop; "under 3 minutes"
KILL_MAX_PROBLEMS = 8    # stop early once this many verdicts were wrong
KILL_JOB_S = 2.2         # about how long an undisturbed job runs here
KILL_SIZE = 48 * 1024    # ~0.4 s at the paced rate below
KILL_QUICK = 8 * 1024
KILL_STREAM = {'flow-control': 'none', 'paced-rate': 131072}
KILL_SIM_FLAGS = ['--download-ms', '500', '--update-ms', '500', '--reboot-ms', '200',
                  '--boot-urc-delay-ms', '50']


class KillLoopTest(fotatest.FotaTestCase):
    """SIGKILL the daemon at seeded random moments of jobs over FILE, HTTP and FTP in
    upgrade modes 0 and 1 (now and then right after a Cancel), restart it after a
    random pause, and check its verdict against the simulator: "succeeded" if and
    only if the modem's revision changed; "failed" or "cancelled" only if it did not;
    a job the modem heard of is never forgotten. After every verdict a new job is
    started at once and must succeed. Prints the seed and the outcome counts."""
    start_http = True
    start_ftp = True
    start_daemon = False
    modem_config = KILL_STREAM
    # A kill between the record's "AT+QFOTADL in flight" and the modem's
    # reply leaves the next daemon unsure whether the modem is in FILE data
    # mode: it waits file-idle without a byte (60 s by default) before its
    # first command. The simulated modem ends a FILE 1.5 s after its last
    # byte, so 5 s is as safe here and keeps the next job within its bound.
    timeouts = {'file-idle': 5}

    def setUp(self):
        super().setUp()
        self.start_sim(KILL_SIM_FLAGS)
        self.restart_daemon()
        self.packages = {}
        for frm in (fotatest.FOTA_REV, fotatest.FOTA_REV2):
            to = fotatest.next_revision(frm)
            self.packages[frm] = (self.package(frm, to, KILL_SIZE, name=f'k-{frm[-6:]}.bin'),
                                  self.package(frm, to, KILL_QUICK, name=f'q-{frm[-6:]}.bin'))

    def start(self, source, mode, pkg):
        options = opts(upgrade_mode=u(mode))
        if source == 'file':
            return self.daemon.start_file(pkg.path, options)
        server = self.http if source == 'http' else self.ftp
        return self.daemon.start_url(server.url(pkg.name), options)

    def qfotadl_count(self):
        return len(self.sim.events('qfotadl'))

    def one_round(self, rng, n, outcomes, problems, verdicts):
        source = rng.choice(('file', 'http', 'ftp'))
        mode = rng.choice((0, 1))
        delay = rng.uniform(0, KILL_JOB_S)
        pause = rng.uniform(0, 1.0)
        cancel = rng.random() < 0.15
        pkg = self.packages[self.sim.revision()][0]
        first = self.qfotadl_count()
        what = f'round {n}: {source} mode {mode}, kill after {delay:.2f} s' + \
               (' and a Cancel' if cancel else '') + f', pause {pause:.2f} s'
        try:
            job = self.start(source, mode, pkg)
        except fotatest.GLib.Error as e:
            problems.append(f'{what}: Start refused: {e.message}')
            outcomes['refused'] += 1
            self.settle()
            return False
        fotatest.spin(delay)
        state = self.daemon.prop('State')
        if cancel:
            try:
                self.daemon.cancel()
            except fotatest.GLib.Error:
                pass  # NotCancellable, or already over
        self.daemon.kill(signal.SIGKILL)
        fotatest.spin(pause)
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        what += f' (killed in {state})'
        verdict = info.get('state') if info.get('id') == job else 'forgotten'
        outcomes[(source, verdict)] += 1
        verdicts.append((what, verdict, info, first, self.qfotadl_count()))
        self.recover(what, problems, verdicts)
        return True

    def recover(self, what, problems, verdicts):
        """A job started at once after the verdict succeeds."""
        quick = self.packages[self.sim.revision()][1]
        first = self.qfotadl_count()
        try:
            job = self.daemon.start_file(quick.path)
            fin = self.daemon.wait_finished(job, 40)[1]
        except fotatest.GLib.Error as e:
            fin = ('refused', e.message)
        if fin[1] != 'succeeded':
            problems.append(f'{what}: the next job did not succeed: {fin}')
            self.settle()
        verdicts.append((f'{what}, the next job', fin[1], fin, first, self.qfotadl_count()))

    def settle(self):
        """After a wrong outcome: wait (bounded) until the daemon identifies the modem
        again, so that one fault is not counted again by every later round."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.daemon.get_modem_info()
                return
            except fotatest.GLib.Error:
                fotatest.spin(0.5)

    def upgrading_qfotadls(self):
        """Indexes of the accepted AT+QFOTADL whose job changed the revision: the modem
        takes no other AT+QFOTADL while one runs, so a revision change belongs to the
        last one accepted before it."""
        caused, accepted = set(), 0
        for e in self.sim.events():
            if e.get('event') == 'qfotadl':
                accepted += 1
            elif e.get('event') == 'revision' and accepted:
                caused.add(accepted - 1)
        return caused

    def check_verdicts(self, verdicts, problems):
        """Against the simulator's whole log, once the modem has settled."""
        fotatest.spin(3)
        caused = self.upgrading_qfotadls()
        for what, verdict, info, first, last in verdicts:
            changed = any(i in caused for i in range(first, last))
            if verdict == 'forgotten' and last > first:
                problems.append(f'{what}: the modem got AT+QFOTADL but GetJob shows {info}')
            elif verdict == 'succeeded' and not changed:
                problems.append(f'{what}: "succeeded" but the modem was not upgraded: {info}')
            elif verdict in ('failed', 'cancelled') and changed:
                problems.append(f'{what}: "{verdict}" but the modem was upgraded: {info}')

    def test_kill_loop(self):
        seed = int(os.environ.get('FOTA_KILL_SEED', str(time.time_ns() % 1000000)))
        print(f'kill loop: seed {seed} (FOTA_KILL_SEED={seed} replays it)', file=sys.stderr)
        rng = random.Random(seed)
        outcomes = collections.Counter()
        problems, verdicts = [], []
        started = time.monotonic()
        rounds = kills = 0
        while kills < KILL_ROUNDS and len(problems) < KILL_MAX_PROBLEMS and \
                time.monotonic() - started < KILL_BUDGET_S:
            rounds += 1
            kills += self.one_round(rng, rounds, outcomes, problems, verdicts)
        took = time.monotonic() - started
        self.check_verdicts(verdicts, problems)
        print(f'kill loop: seed {seed}, {kills} kills in {rounds} rounds, {took:.0f} s; outcomes: ' +
              ', '.join(f'{k if isinstance(k, str) else "/".join(k)}: {v}'
                        for k, v in sorted(outcomes.items(), key=str)), file=sys.stderr)
        if problems:
            self.fail(f'seed {seed}: {len(problems)} wrong outcomes:\n' + '\n'.join(problems))
        self.assertGreaterEqual(kills, KILL_ROUNDS,
                                f'seed {seed}: only {kills} kills within {KILL_BUDGET_S} s')


def load_tests(loader, tests, pattern):
    """Without names on the command line: everything but the kill loop (see above)."""
    return unittest.TestSuite(suite for suite in tests
                              if not any(isinstance(t, KillLoopTest) for t in suite))


if __name__ == '__main__':
    fotatest.main()
