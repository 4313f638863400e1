# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real mender-client (standalone, no server) installs modem firmware through the
quectel-fota Update Module and the daemon under test.

mender 3.4 reads /etc/mender (artifact_info, mender.conf) and /usr/share/mender/modules/v3
at fixed paths: each run is in a private mount namespace (unshare -m) with the test's own
directories bound over both, so the host's Mender setup is neither read nor changed. The
module in the test's modules dir is a wrapper that records each state it is called for and
runs the real module from the source tree."""

import os
import shutil
import unittest

import fleettest
import fotatest
from fleettest import FLEET_SRC, write_executable

MODULE = os.path.join(FLEET_SRC, 'mender', 'quectel-fota')
INVENTORY = os.path.join(FLEET_SRC, 'mender', 'mender-inventory-quectel-modem')
MAKE_ARTIFACT = os.path.join(FLEET_SRC, 'mender', 'quectel-fota-artifact')
BASE_ARTIFACT = 'gateway-image-1'
DEVICE_TYPE = 'quectel-gateway'

# Binds the test's dirs over Mender's fixed paths, then runs mender with the rest.
NAMESPACE_SCRIPT = ('mount --bind "$1" /etc/mender && '
                    'mount --bind "$2" /usr/share/mender/modules/v3 && '
                    'shift 2 && exec mender --no-syslog "$@"')


class MenderTest(fleettest.FleetTestCase):
    programs = ('mender', 'mender-artifact', 'unshare', 'sha256sum')
    start_http = True

    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest('mender runs in a private mount namespace: needs root')
        if not os.path.isdir('/usr/share/mender/modules/v3'):
            raise unittest.SkipTest('/usr/share/mender/modules/v3 is missing (mender-client)')
        super().setUp()
        root = os.path.join(self.tmpdir, 'mender')
        self.etc, self.data, self.modules = (os.path.join(root, d)
                                             for d in ('etc', 'data', 'modules'))
        for d in (self.etc, self.data, self.modules):
            os.makedirs(d)
        self.trace = os.path.join(root, 'states')
        write_executable(os.path.join(self.modules, 'quectel-fota'),
                         f'#!/bin/sh\necho "$1" >>"{self.trace}"\nexec "{MODULE}" "$@"\n')
        with open(os.path.join(self.etc, 'artifact_info'), 'w') as f:
            f.write(f'artifact_name={BASE_ARTIFACT}\n')
        self.device_type_file = os.path.join(self.data, 'device_type')
        with open(self.device_type_file, 'w') as f:
            f.write(f'device_type={DEVICE_TYPE}\n')
        with open(os.path.join(self.etc, 'mender.conf'), 'w') as f:
            f.write(f'{{"DeviceTypeFile": "{self.device_type_file}"}}\n')

    # -- helpers
    mender_env = {}

    def mender(self, *args):
        return self.run_client(
            ['unshare', '-m', 'sh', '-c', NAMESPACE_SCRIPT, 'sh', self.etc, self.modules,
             '-c', os.path.join(self.etc, 'mender.conf'), '-d', self.data] + list(args),
            env=self.client_env(**self.mender_env))

    def installed_artifact(self):
        rc, out = self.mender('show-artifact')
        self.assertEqual(rc, 0, out)
        return out.strip().splitlines()[-1]

    def states(self):
        """The module states Mender called since the last call, in order."""
        try:
            with open(self.trace) as f:
                states = f.read().split()
        except FileNotFoundError:
            return []
        os.remove(self.trace)
        return states

    def artifact(self, pkg, revision=None):
        """A .mender for the package, made by quectel-fota-artifact, in the web root."""
        revision = revision or pkg.to
        out = os.path.join(self.www, f'{pkg.name}.mender')
        rc, text = self.run_client([MAKE_ARTIFACT, '-t', DEVICE_TYPE, '-r', revision,
                                    '-o', out, pkg.path])
        self.assertEqual(rc, 0, text)
        return out

    def assertNothingLeft(self):
        payloads = os.path.join(self.data, 'modules', 'v3', 'payloads')
        left = [os.path.join(d, f) for d, _, files in os.walk(payloads) for f in files]
        self.assertEqual(left, [], 'files left behind after the deployment')

    def install_and_commit(self, source, pkg):
        upgrades = len(self.sim.qfotadl_commands())
        rc, out = self.mender('install', source)
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.states(),
                         ['Download', 'SupportsRollback', 'ArtifactInstall', 'NeedsArtifactReboot'])
        self.assertModemRuns(pkg.to)
        self.assertEqual(len(self.sim.qfotadl_commands()), upgrades + 1)
        rc, out = self.mender('commit')
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.states(), ['ArtifactCommit', 'Cleanup'])
        self.assertEqual(self.installed_artifact(), f'quectel-{pkg.to}')
        self.assertNothingLeft()

    # -- tests
    def test_install_from_file_then_retry_and_inventory(self):
        pkg = self.package()
        self.assertEqual(self.installed_artifact(), BASE_ARTIFACT)
        artifact = self.artifact(pkg)
        self.install_and_commit(artifact, pkg)
        rc, out = self.mender('show-provides')
        self.assertIn(f'rootfs-image.quectel-fota.version={pkg.to}', out.splitlines())

        # The same deployment again (a server retrying after a lost report): the
        # expected revision makes it a success without a second upgrade.
        rc, out = self.mender('install', artifact)
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.mender('commit')[0], 0)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)
        self.assertEqual(self.installed_artifact(), f'quectel-{pkg.to}')

        rc, out = self.run_client([INVENTORY])
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.splitlines(), ['quectel_modem_model=EC200T',
                                            f'quectel_modem_revision={pkg.to}',
                                            'quectel_modem_imei=866000000000001'])

    def test_install_from_http_url(self):
        pkg = self.package()
        artifact = self.artifact(pkg)
        self.install_and_commit(self.http.url(os.path.basename(artifact)), pkg)

    def test_refused_package_is_a_clean_failure(self):
        # Built for another source revision: the modem answers 504.
        wrong = self.package(frm='EC200TCNDAR02A05M16', to=fotatest.FOTA_REV2, name='wrong.bin')
        rc, out = self.mender('install', self.artifact(wrong))
        self.assertEqual(rc, 1, out)
        self.assertEqual(self.states(),
                         ['Download', 'SupportsRollback', 'ArtifactInstall', 'SupportsRollback',
                          'ArtifactRollback', 'ArtifactFailure', 'Cleanup'])
        self.assertIn('504', out)
        self.assertModemRuns(fotatest.FOTA_REV)
        self.assertEqual(self.installed_artifact(), BASE_ARTIFACT)
        self.assertNothingLeft()

        # The next deployment, with the right package, goes through.
        self.install_and_commit(self.artifact(self.package()), self.package())

    def test_rollback_of_a_changed_modem_fails(self):
        pkg = self.package()
        rc, out = self.mender('install', self.artifact(pkg))
        self.assertEqual(rc, 0, out)
        self.states()
        rc, out = self.mender('rollback')
        self.assertNotEqual(rc, 0, out)
        self.assertIn('ArtifactRollback', self.states())
        self.assertIn('cannot be rolled back', out)
        self.assertModemRuns(pkg.to)
        # Mender says the truth: the device is not on the old artifact any more.
        self.assertTrue(self.installed_artifact().endswith('_INCONSISTENT'))

        # The way back is a new deployment; it clears the mark.
        back = self.package(frm=pkg.to, to=fotatest.FOTA_REV, name='back.bin')
        self.install_and_commit(self.artifact(back), back)

    def test_no_modem_fails_the_download(self):
        self.sim.stop()
        self.mender_env = {'QUECTEL_FOTA_MODEM_WAIT': '2'}  # not the 300 s default
        rc, out = self.mender('install', self.artifact(self.package()))
        self.assertEqual(rc, 1, out)
        self.assertNotIn('ArtifactInstall', self.states())
        self.assertEqual(self.installed_artifact(), BASE_ARTIFACT)
        rc, out = self.run_client([INVENTORY])
        self.assertEqual((rc, out.startswith('quectel_modem_error=org.quectel.Fota1.Error.')),
                         (0, True), out)


if __name__ == '__main__':
    fleettest.main()
