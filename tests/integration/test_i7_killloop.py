# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 7, item 8: the kill loop.

SIGKILL the daemon at seeded random moments of jobs over FILE, HTTP and FTP in
upgrade modes 0 and 1 (now and then right after a Cancel), restart it after a
random pause, and check its verdict against the simulator: "succeeded" if and
only if the modem's revision changed; "failed" or "cancelled" only if it did not;
a job the modem heard of is never forgotten. After every verdict a new job is
started at once and must succeed. Prints the seed and the outcome counts.

FOTA_KILL_SEED=<n> replays the random choices of a run (not the machine's
timing); FOTA_KILL_ROUNDS=<n> changes the number of kills (default 30)."""

import collections
import os
import random
import signal
import sys
import time

import fotatest
from fotatest import opts, u

ROUNDS = int(os.environ.get('FOTA_KILL_ROUNDS', '30'))
BUDGET_S = 170           # the whole loop; "under 3 minutes"
MAX_PROBLEMS = 8         # stop early once this many verdicts were wrong
JOB_S = 2.2              # about how long an undisturbed job runs here
SIZE = 48 * 1024         # ~0.4 s at the paced rate below
QUICK = 8 * 1024
STREAM = {'flow-control': 'none', 'paced-rate': 131072}
SIM_FLAGS = ['--download-ms', '500', '--update-ms', '500', '--reboot-ms', '200',
             '--boot-urc-delay-ms', '50']


class KillLoopTest(fotatest.FotaTestCase):
    start_http = True
    start_ftp = True
    start_daemon = False
    modem_config = STREAM
    # A kill between the record's "AT+QFOTADL in flight" and the modem's
    # reply leaves the next daemon unsure whether the modem is in FILE data
    # mode: it waits file-idle without a byte (60 s by default) before its
    # first command. The simulated modem ends a FILE 1.5 s after its last
    # byte, so 5 s is as safe here and keeps the next job within its bound.
    timeouts = {'file-idle': 5}

    def setUp(self):
        super().setUp()
        self.start_sim(SIM_FLAGS)
        self.restart_daemon()
        self.packages = {}
        for frm in (fotatest.FOTA_REV, fotatest.FOTA_REV2):
            to = fotatest.next_revision(frm)
            self.packages[frm] = (self.package(frm, to, SIZE, name=f'k-{frm[-6:]}.bin'),
                                  self.package(frm, to, QUICK, name=f'q-{frm[-6:]}.bin'))

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
        delay = rng.uniform(0, JOB_S)
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
        while kills < ROUNDS and len(problems) < MAX_PROBLEMS and \
                time.monotonic() - started < BUDGET_S:
            rounds += 1
            kills += self.one_round(rng, rounds, outcomes, problems, verdicts)
        took = time.monotonic() - started
        self.check_verdicts(verdicts, problems)
        print(f'kill loop: seed {seed}, {kills} kills in {rounds} rounds, {took:.0f} s; outcomes: ' +
              ', '.join(f'{k if isinstance(k, str) else "/".join(k)}: {v}'
                        for k, v in sorted(outcomes.items(), key=str)), file=sys.stderr)
        if problems:
            self.fail(f'seed {seed}: {len(problems)} wrong outcomes:\n' + '\n'.join(problems))
        self.assertGreaterEqual(kills, ROUNDS,
                                f'seed {seed}: only {kills} kills within {BUDGET_S} s')


if __name__ == '__main__':
    fotatest.main()
