# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real swupdate (-i, a signed .swu) installs modem firmware through the quectel-fota
Lua handler and the daemon under test, and swupdate-progress shows the modem's progress.

swupdate finds the handler through LUA_PATH (the source tree's client/fleet/swupdate
first, as /usr/share/lua/5.3 is when installed). Its temporary files and its progress
socket live in TMPDIR, the test's own directory. The .swu is made as an operator would:
sw-description CMS-signed with openssl, packed with cpio."""

import os
import re
import subprocess
import time

import fleettest
import fotatest
from fleettest import FLEET_SRC

BOARD, HW_REVISION = 'quectel-gateway', '1.0'  # as in sw-description.example

EXAMPLE = os.path.join(FLEET_SRC, 'swupdate', 'sw-description.example')


def sw_description(name, sha256, revision):
    """The shipped sw-description.example, filled in for one package."""
    with open(EXAMPLE) as f:
        text = f.read()
    for key, value in (('filename', name), ('sha256', sha256), ('expect-revision', revision)):
        text, n = re.subn(rf'(\b{key} = )"[^"]*"', rf'\g<1>"{value}"', text)
        assert n == 1, f'{EXAMPLE}: no single {key} to fill in'
    return text


# swupdate -i streams the .swu to its own installer over a socket and then asks for the
# status. A .swu that fits in the socket buffers is all written before the installer has
# started, the first answer is still the idle state, and swupdate 2022.12 ends at once
# (exit 1, "SWUpdate was successful" logged, the install cut off). Packages bigger than
# the buffers, as real modem firmware is, keep the client waiting until the install runs.
PACKAGE_SIZE = 2 * 1024 * 1024


class SwupdateTest(fleettest.FleetTestCase):
    programs = ('swupdate', 'swupdate-progress', 'openssl', 'cpio', 'stdbuf')

    def package(self, *args, **kw):
        return super().package(*args, size=PACKAGE_SIZE, **kw)

    def setUp(self):
        super().setUp()
        self.swtmp = os.path.join(self.tmpdir, 'swupdate-tmp')
        os.makedirs(self.swtmp)
        self.key = os.path.join(self.tmpdir, 'signing.key')
        self.cert = os.path.join(self.tmpdir, 'signing.pem')
        rc, out = self.run_client(
            ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
             '-subj', '/CN=quectel-fota test signer', '-keyout', self.key, '-out', self.cert,
             '-addext', 'extendedKeyUsage=emailProtection'])
        self.assertEqual(rc, 0, out)
        self.env = self.client_env(
            TMPDIR=self.swtmp,
            LUA_PATH=os.path.join(FLEET_SRC, 'swupdate', '?.lua') + ';;')

    def swu(self, pkg, revision):
        """A signed .swu carrying the package, described by sw-description.example."""
        d = os.path.join(self.tmpdir, 'swu-' + pkg.name)
        os.makedirs(d)
        os.link(pkg.path, os.path.join(d, pkg.name))
        with open(os.path.join(d, 'sw-description'), 'w') as f:
            f.write(sw_description(pkg.name, pkg.sha256, revision))
        rc, out = self.run_client(
            ['openssl', 'cms', '-sign', '-in', 'sw-description', '-out', 'sw-description.sig',
             '-signer', self.cert, '-inkey', self.key, '-outform', 'DER', '-nosmimecap',
             '-binary'], cwd=d)
        self.assertEqual(rc, 0, out)
        out_path = d + '.swu'
        with open(out_path, 'wb') as swu:
            res = subprocess.run(['cpio', '-o', '-H', 'crc', '--quiet'], cwd=d, stdout=swu,
                                 input=f'sw-description\nsw-description.sig\n{pkg.name}\n'.encode(),
                                 stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        return out_path

    def start_progress(self):
        """swupdate-progress, waiting for swupdate to appear; its output file."""
        path = os.path.join(self.tmpdir, 'progress.out')
        out = open(path, 'wb')
        self.addCleanup(out.close)
        # Line-buffered: it prints SUCCESS/FAILURE without flushing.
        proc = subprocess.Popen(['stdbuf', '-oL', 'swupdate-progress', '-w'], env=self.env,
                                stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(fotatest.stop_process, proc)
        return path

    def swupdate(self, swu):
        return self.run_client(['swupdate', '-v', '-k', self.cert,
                                '-H', f'{BOARD}:{HW_REVISION}', '-i', swu], env=self.env)

    def progress_report(self, path, end):
        """(the modem's percents, the whole output) once swupdate-progress printed END
        (bounded). The step's percents go 0..100 twice: first SWUpdate's own copy of the
        package out of the .swu, then the handler's report of the modem's phases."""
        deadline = time.monotonic() + 10
        while True:
            with open(path, errors='replace') as f:
                text = f.read()
            if end in text or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        percents = [int(p) for p in re.findall(r'\] 1 of 1 (\d+)% \(', text)]
        copied = percents.index(100) if 100 in percents else len(percents)
        return percents[copied + 1:], text

    def assertNoTemporaryPackage(self):
        left = [f for f in os.listdir(self.swtmp) if f.startswith('quectel-fota-')]
        self.assertEqual(left, [])

    def test_signed_swu_upgrades_the_modem(self):
        pkg = self.package()
        progress = self.start_progress()
        rc, out = self.swupdate(self.swu(pkg, pkg.to))
        self.assertEqual(rc, 0, out)
        self.assertModemRuns(pkg.to)
        self.assertEqual([f['sha256'] for f in self.sim.file_events()], [pkg.sha256])
        percents, text = self.progress_report(progress, 'SUCCESS')
        self.assertIn('SUCCESS', text)
        if self.connected_in_time(text):
            # The package reaching the modem up to 50, the modem writing it up to 95.
            self.assertTrue([p for p in percents if 0 < p < 50], text)
            self.assertTrue([p for p in percents if 50 < p < 100], text)
            self.assertEqual(percents[-1], 100, text)
            self.assertEqual(percents, sorted(percents), text)
        else:
            # swupdate-progress polls for swupdate's socket and connected after the
            # install had run: the handler's own trace shows what it reported.
            states = re.findall(r'quectel-fota: \{"event":"progress",[^}]*"state":"(\w+)"', out)
            self.assertIn('downloading', states, out)
            self.assertIn('updating', states, out)
        self.assertNoTemporaryPackage()

    @staticmethod
    def connected_in_time(text):
        """Whether swupdate-progress saw the install from its start (SWUpdate's own copy
        of the package out of the .swu, reported before the handler runs)."""
        return re.search(r'\] 1 of 1 \d+% \(', text) is not None

    def test_refused_package_fails_the_install(self):
        wrong = self.package(frm='EC200TCNDAR02A05M16', to=fotatest.FOTA_REV2, name='wrong.bin')
        progress = self.start_progress()
        rc, out = self.swupdate(self.swu(wrong, wrong.to))
        self.assertEqual(rc, 1, out)
        self.assertIn('504', out)
        self.assertModemRuns(fotatest.FOTA_REV)
        percents, text = self.progress_report(progress, 'FAILURE')
        self.assertIn('FAILURE', text)
        self.assertNotIn(100, percents, text)
        self.assertNoTemporaryPackage()

        # The next update, with the right package, goes through.
        pkg = self.package()
        rc, out = self.swupdate(self.swu(pkg, pkg.to))
        self.assertEqual(rc, 0, out)
        self.assertModemRuns(pkg.to)


if __name__ == '__main__':
    fleettest.main()
