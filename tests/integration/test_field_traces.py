# SPDX-License-Identifier: LGPL-2.1-or-later
"""Field traces (tests/field/*.trace, format in tests/field/README.md): the simulator replays
what a real modem printed, and the daemon must give the verdict the modem really earned.

Per trace (FieldTraceTest.test_<name>, meson test field-<name>):
  1. the simulator plays the trace for the job's AT+QFOTADL= (fota-modem-sim --trace);
  2. the daemon's Finished and GetJob must match the trace's [expect] section, and the modem's
     true revision must be the expected one;
  3. the user's next step: an ordinary job started right after Finished, on the same simulator
     (now running its own logic), must succeed.
LintTest (meson test field-lint) checks every trace file and that each one is registered.
"""

import glob
import os
import re
import shlex
import subprocess

import fotatest
from fotatest import ERR, FINAL_STATES, opts, u

FIELD_DIR = os.path.join(os.environ.get('FOTA_SRCDIR', os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..')), 'tests', 'field')

# The daemon's [timeouts] for every trace, in the field's proportions but short (seconds);
# a trace's own [timeouts] section overrides them.
FIELD_TIMEOUTS = {'first-urc': 20, 'urc-gap': 30, 'download': 60, 'update': 30, 'reboot': 20}

SOURCES = ('http', 'https', 'ftp', 'file')
JOB_KEYS = {'source', 'upgrade-mode', 'download-urc-max', 'update-urc-max', 'model', 'revision',
            'sim-flags', 'cancel-at'}
EXPECT_KEYS = {'state', 'error', 'error-code', 'message-contains', 'revision', 'progress'}
STATES = ('preparing', 'downloading', 'rebooting', 'updating', 'verifying')
TIMEOUT_KEYS = {'command', 'first-urc', 'urc-gap', 'download', 'update', 'reboot', 'boot-settle',
                'late-reply-grace', 'file-idle'}
DIRECTIVES = ('reboot', 'vanish', 'revision', 'file')

DEFAULT_REVISIONS = {'EC200T': fotatest.FOTA_REV, 'EC200S': fotatest.DFOTA_REV}
# What a reboot costs beyond its tty absence in the simulator: the boot URCs and their delay.
BOOT_MS = 500


class TraceError(Exception):
    pass


class Trace:
    """One trace file: [job], [timeouts], [expect] and the [trace] steps (delays only: the
    simulator plays them)."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-len('.trace')]
        self.job, self.timeouts, self.expect = {}, {}, {'message-contains': []}
        self.play_ms = 0  # delays, tty absences and boots: how long the trace plays
        sections = {'job': (self.job, JOB_KEYS), 'timeouts': (self.timeouts, TIMEOUT_KEYS),
                    'expect': (self.expect, EXPECT_KEYS)}
        section = None
        steps = 0
        self.step_lines = {}  # the text a step prints -> the first such step's line number
        with open(path) as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.strip()
                where = f'{path}:{lineno}'
                if not line or line.startswith('#'):
                    continue
                if line.startswith('['):
                    section = line.strip('[]')
                    if section not in sections and section != 'trace':
                        raise TraceError(f'{where}: unknown section {line}')
                elif section == 'trace':
                    self.play_ms += self._step(where, line)
                    self.step_lines.setdefault(line.partition(' ')[2], lineno)
                    steps += 1
                elif section is None:
                    raise TraceError(f'{where}: {line!r} before the first section')
                else:
                    self._key(where, sections[section], line)
        if steps == 0:
            raise TraceError(f'{path}: no [trace] steps')
        self._check()

    def _key(self, where, target, line):
        store, allowed = target
        key, sep, value = (part.strip() for part in line.partition('='))
        if not sep or key not in allowed:
            raise TraceError(f'{where}: expected one of {sorted(allowed)} = value, got {line!r}')
        if key == 'message-contains':
            if value:
                store[key].append(value)
        elif key in store:
            raise TraceError(f'{where}: {key} given twice')
        elif store is self.timeouts:
            try:
                store[key] = float(value)
            except ValueError:
                raise TraceError(f'{where}: {key} must be seconds, got {value!r}')
        else:
            store[key] = value

    @staticmethod
    def _step(where, line):
        m = re.fullmatch(r'\+(\d+) (.+)', line)
        if not m:
            raise TraceError(f'{where}: a step is "+<ms> <line>" or "+<ms> @<directive>"')
        ms, body = int(m.group(1)), m.group(2)
        if body.startswith('@') and not body.startswith('@@'):
            name, _, arg = body[1:].partition(' ')
            if name not in DIRECTIVES:
                raise TraceError(f'{where}: unknown directive @{name}')
            if name in ('reboot', 'vanish'):
                # @reboot without a duration takes the simulator's --reboot-ms (short here)
                ms += int(arg or 1000) + BOOT_MS
        return ms

    def _check(self):
        job, expect = self.job, self.expect
        if job.get('source') not in SOURCES:
            raise TraceError(f'{self.path}: [job] source must be one of {SOURCES}')
        if expect.get('state') not in FINAL_STATES:
            raise TraceError(f'{self.path}: [expect] state must be one of {FINAL_STATES}')
        if not expect.get('revision'):
            raise TraceError(f'{self.path}: [expect] revision (the modem\'s true one) is needed')
        error = expect.get('error', '')
        if (expect['state'] == 'failed') != bool(error):
            raise TraceError(f'{self.path}: [expect] error is needed exactly for "failed"')
        if error and not error.startswith(ERR):
            raise TraceError(f'{self.path}: [expect] error must be an {ERR}* name')
        cancel = job.get('cancel-at', 'downloading')
        if cancel not in STATES and self.cancel_line() is None:
            raise TraceError(f'{self.path}: [job] cancel-at takes a state of {STATES} or '
                             f'"after <a line of a [trace] step>", got {cancel!r}')
        if not set(expect.get('progress', '').split()) <= set(STATES):
            raise TraceError(f'{self.path}: [expect] progress takes states of {STATES}')
        if expect.get('error-code') and not expect['error-code'].isdigit():
            raise TraceError(f'{self.path}: [expect] error-code must be a number or empty')
        for key in ('upgrade-mode', 'download-urc-max', 'update-urc-max'):
            if key in job and not job[key].isdigit():
                raise TraceError(f'{self.path}: [job] {key} must be a number')

    def cancel_line(self):
        """For cancel-at = after <text>: the file's line of the first step printing <text>."""
        cancel = self.job.get('cancel-at', '')
        return self.step_lines.get(cancel[len('after '):]) if cancel.startswith('after ') \
            else None

    @property
    def model(self):
        return self.job.get('model', 'EC200T')

    @property
    def revision(self):
        return self.job.get('revision') or DEFAULT_REVISIONS.get(self.model[:6], fotatest.FOTA_REV)

    def daemon_timeouts(self):
        return dict(FIELD_TIMEOUTS, **self.timeouts)

    def finish_bound(self):
        """Seconds to wait for Finished: the trace, then the longest wait a daemon may add."""
        t = dict(fotatest.DEFAULT_TIMEOUTS, **self.daemon_timeouts())
        longest = max(t[k] for k in ('first-urc', 'urc-gap', 'download', 'update', 'reboot'))
        # within the meson test's 180 s, also for a trace whose tail a Cancel cuts short
        return min(self.play_ms / 1000 + longest + t['reboot'] + 15, 150)

    def options(self):
        names = {'upgrade-mode': 'upgrade_mode', 'download-urc-max': 'download_urc_max',
                 'update-urc-max': 'update_urc_max'}
        return opts(**{names[k]: u(int(self.job[k])) for k in names if k in self.job})


def trace_paths():
    return sorted(glob.glob(os.path.join(FIELD_DIR, '*.trace')))


def method_name(trace_name):
    return 'test_' + re.sub(r'[^0-9A-Za-z]', '_', trace_name)


class FieldCase(fotatest.FotaTestCase):
    """What the field tests share: the user's next step after a verdict."""
    start_http = True
    start_daemon = False

    def next_job(self):
        """What a user does next: an ordinary job, from the revision the modem truly runs."""
        truth = self.sim.revision()
        pkg = self.package(frm=truth, to=fotatest.next_revision(truth), name='next.bin')
        job = self.daemon.start_url(self.http.url(pkg.name))
        _, fin = self.daemon.wait_finished(job, 60)
        self.assertEqual(fin[1:3], ('succeeded', ''), fin)
        self.assertEqual(self.sim.revision(), pkg.to)
        self.assertEqual(self.daemon.get_job().get('to-revision'), pkg.to)


class FieldTraceTest(FieldCase):

    def start_job(self, trace):
        """The trace's job as a user would start it; the simulator fetches nothing."""
        pkg = self.package()
        source = trace.job['source']
        if source == 'file':
            return self.daemon.start_file(pkg.path, trace.options())
        port = self.http.port
        url = {'http': self.http.url(pkg.name),
               'https': f'https://127.0.0.1:{port}/{pkg.name}',
               'ftp': f'ftp://{fotatest.FTP_USER}:{fotatest.FTP_PASSWORD}@127.0.0.1:{port}/'
                      f'{pkg.name}'}[source]
        return self.daemon.start_url(url, trace.options())

    def run_trace(self, path):
        trace = Trace(path)
        self.model, self.revision = trace.model, trace.revision
        flags = ['--trace', path] + shlex.split(trace.job.get('sim-flags', ''))
        self.start_sim(flags)
        self.restart_daemon(timeouts=trace.daemon_timeouts())
        job = self.start_job(trace)
        progress, fin = [], None
        with self.subTest('verdict'):
            if 'cancel-at' in trace.job:
                self.cancel_at(trace, job)
            progress, fin = self.daemon.wait_finished(job, trace.finish_bound())
            self.check_verdict(trace, job, fin)
        with self.subTest('progress'):
            if fin is None:
                self.fail('the traced job never finished')
            self.check_progress(trace, progress)
        with self.subTest('job as recorded'):
            self.check_qfotadl(trace)
        with self.subTest('next job'):
            if fin is None:
                self.fail('the traced job never finished: no next job')
            self.next_job()

    def cancel_at(self, trace, job):
        """The user gives up once the job shows a state, or once the modem has printed the
        trace's step on a given line (the simulator logs each step as it plays it)."""
        line = trace.cancel_line()
        if line is None:
            self.daemon.wait_state(job, trace.job['cancel-at'], trace.finish_bound())
        else:
            fotatest.wait_until(lambda: any(e.get('line') == line
                                            for e in self.sim.events('trace')),
                                trace.finish_bound(), f'the trace step on line {line}')
        self.daemon.cancel()

    def check_verdict(self, trace, job, fin):
        expect = trace.expect
        info = self.daemon.get_job()
        got = f'Finished {fin[1:]}, GetJob {info}'
        self.assertEqual(info.get('id'), job, got)
        self.assertEqual(fin[1], expect['state'], got)
        self.assertEqual(fin[2], expect.get('error', ''), got)
        self.assertEqual(info.get('state'), expect['state'], got)
        code = expect.get('error-code')
        if code:
            self.assertEqual(info.get('error-code'), int(code), got)
        else:
            self.assertNotIn('error-code', info, got)
        for words in expect['message-contains']:
            self.assertIn(words.lower(), fin[3].lower(), got)
        truth = expect['revision']
        self.assertEqual(self.sim.revision(), truth, 'the trace and its [expect] revision disagree')
        if expect['state'] == 'succeeded':
            self.assertEqual(info.get('to-revision'), truth, got)
        elif info.get('to-revision'):  # '' claims nothing
            self.assertEqual(info['to-revision'], truth,
                             f'a revision the modem does not run: {got}')

    def check_progress(self, trace, progress):
        """The states of [expect] progress were signalled, in that order (others may come
        between): e.g. a daemon that never says 'updating' invites a Cancel in mid-flash."""
        states = [st for st, _ in progress]
        at = 0
        for wanted in trace.expect.get('progress', '').split():
            self.assertIn(wanted, states[at:], f'Progress states {states}')
            at = states.index(wanted, at) + 1

    def check_qfotadl(self, trace):
        """The daemon sent the job the trace was recorded with."""
        sent = self.sim.events('qfotadl')
        self.assertTrue(sent, 'no AT+QFOTADL= was accepted')
        first = sent[0]
        scheme = trace.job['source'].upper() + ':' if trace.job['source'] == 'file' else \
            trace.job['source'] + '://'
        self.assertTrue(first['url'].startswith(scheme), first)
        for key, field in (('upgrade-mode', 'mode'), ('download-urc-max', 'download_urc_max'),
                           ('update-urc-max', 'update_urc_max')):
            if key in trace.job:
                self.assertEqual(first.get(field), int(trace.job[key]), first)
        self.assertTrue(self.sim.events('trace'), 'the simulator did not play the trace')


class LintTest(fotatest.FotaTestCase):
    """Every trace file parses, and each is registered as a meson test (FIELD_TRACES)."""
    start_daemon = False

    def test_traces(self):
        """Each trace parses here and in the simulator (which refuses a broken one)."""
        paths = trace_paths()
        self.assertTrue(paths, f'no traces in {FIELD_DIR}')
        for path in paths:
            with self.subTest(os.path.basename(path)):
                trace = Trace(path)
                sim = fotatest.Simulator(self.tmpdir, trace.model, trace.revision,
                                         ['--trace', path])
                sim.stop()

    def test_registered(self):
        registered = os.environ.get('FIELD_TRACES')
        if registered is None:
            self.skipTest('FIELD_TRACES is not set (run through meson test)')
        names = {os.path.basename(p)[:-len('.trace')] for p in trace_paths()}
        self.assertEqual(names - set(registered.split()), set(),
                         'traces not listed in tests/field/meson.build')
        self.assertEqual(set(registered.split()) - names, set(),
                         'tests/field/meson.build lists traces that do not exist')

    def test_simulator_refuses_bad_traces(self):
        """A mistake in a trace stops the simulator with the file and line, not a silent skip."""
        for text, words in (('[trace]\n+10 @nap 5\n', 'unknown directive'),
                            ('[trace]\n10 RDY\n', ':2:'),
                            ('[job]\nsource http\n[trace]\n+0 RDY\n', ':2:'),
                            ('[expect]\nstate = failed\n', 'no [trace] steps'),
                            ('[trace]\n+0 @vanish\n', '@vanish needs')):
            path = os.path.join(self.tmpdir, 'bad.trace')
            with open(path, 'w') as f:
                f.write(text)
            res = subprocess.run(
                [fotatest.tool('FOTA_SIM'), '--link', os.path.join(self.tmpdir, 'tty'),
                 '--trace', path], capture_output=True, timeout=10)
            self.assertEqual(res.returncode, 2, text)
            self.assertIn(words, res.stderr.decode(), text)


def _add_trace_tests():
    for path in trace_paths():
        def test(self, path=path):
            self.run_trace(path)
        test.__name__ = method_name(os.path.basename(path)[:-len('.trace')])
        test.__doc__ = f'field trace {os.path.basename(path)}'
        setattr(FieldTraceTest, test.__name__, test)


_add_trace_tests()


if __name__ == '__main__':
    fotatest.main()
