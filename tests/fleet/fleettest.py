# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the fleet tests add to the integration harness (tests/integration/fotatest.py):
the real fleet clients run against the daemon under test. The daemon owns its name on
the test's private bus; fotactl, run by the clients without --session, reaches it through
DBUS_SYSTEM_BUS_ADDRESS, and is found on PATH (the build's client/ first)."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get('FOTA_SRCDIR', '../..'), 'tests', 'integration'))
import fotatest  # noqa: E402

FLEET_SRC = os.path.join(os.environ.get('FOTA_SRCDIR', '../..'), 'client', 'fleet')


class FleetTestCase(fotatest.FotaTestCase):
    """A FotaTestCase whose clients need the programs in `programs` (else skipped)."""

    programs = ()

    def setUp(self):
        missing = [p for p in self.programs if shutil.which(p) is None]
        if missing:
            raise unittest.SkipTest('not installed: ' + ', '.join(missing))
        super().setUp()
        self.log_path = os.path.join(self.tmpdir, 'clients.log')
        self.daemon_logs.append(self.log_path)  # shown with the daemon's on failure

    def client_env(self, **extra):
        fotactl_dir = os.path.dirname(fotatest.tool('FOTACTL'))
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address,
                   PATH=fotactl_dir + os.pathsep + os.environ.get('PATH', '/usr/bin:/bin'))
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        env.update(extra)
        return env

    def run_client(self, argv, timeout=120, env=None, cwd=None):
        """Runs a client to its end; (returncode, stdout + stderr), both logged."""
        res = subprocess.run(argv, env=env or self.client_env(), cwd=cwd, timeout=timeout,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out = res.stdout.decode(errors='replace')
        with open(self.log_path, 'a') as f:
            f.write(f'$ {" ".join(argv)}\n-> {res.returncode}\n{out}\n')
        return res.returncode, out

    def assertModemRuns(self, revision):
        self.assertEqual(self.sim.revision(), revision)
        self.assertEqual(self.daemon.prop('ModemRevision'), revision)


def write_executable(path, text):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, 0o755)


main = fotatest.main
