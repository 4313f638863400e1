# SPDX-License-Identifier: LGPL-2.1-or-later
"""An idle daemon makes no system calls (no polling timers, no busy loops)."""

import os
import re
import signal
import subprocess
import tempfile
import time

import fotatest

# What strace's own attach/detach can make appear.
STRACE_NOISE = {'restart_syscall'}


def strace_counts(pid, seconds, out_path):
    """{syscall: calls} of the process's threads during @seconds, or None if strace
    cannot attach (ptrace restrictions)."""
    proc = subprocess.Popen(['strace', '-c', '-f', '-o', out_path, '-p', str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(seconds)
    if proc.poll() is not None:  # it could not attach
        return None
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError('strace did not detach within 10s')
    if b'Operation not permitted' in err or not os.path.exists(out_path):
        return None
    counts = {}
    with open(out_path) as f:
        for line in f:
            m = re.match(r'\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$', line)
            if m and m.group(2) != 'total':
                counts[m.group(2)] = int(m.group(1))
    return counts


class IdleTest(fotatest.FotaTestCase):

    def test_idle_daemon_makes_no_syscalls(self):
        if not fotatest.have_program('strace'):
            self.skipTest('strace is not installed')
        self.assertEqual(self.daemon.prop('State'), 'idle')
        fotatest.spin(fotatest.DEFAULT_TIMEOUTS['boot-settle'] + 1)  # let start-up settle
        # Not in self.tmpdir: that holds the port's link, and the daemon rightly
        # wakes (inotify) for changes in its port's directory.
        with tempfile.TemporaryDirectory() as outdir:
            counts = strace_counts(self.daemon.pid, 3, os.path.join(outdir, 'strace.out'))
        if counts is None:
            self.skipTest('strace cannot attach (ptrace restrictions)')
        busy = {name: n for name, n in counts.items() if name not in STRACE_NOISE}
        self.assertEqual(busy, {}, 'system calls of an idle daemon in 3 s')
        self.assertIsNone(self.daemon.proc.poll())


if __name__ == '__main__':
    fotatest.main()
