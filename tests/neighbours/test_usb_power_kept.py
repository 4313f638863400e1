# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 15, item 4 ("USB power forgotten"): power/control is written back
before usb-power-previous leaves the job record.

The whole daemon (udev discovery under umockdev, no ModemManager) runs a job
whose USB device goes away mid-download: the job fails while its sysfs
directory is absent, so the value from before the job cannot be written back.
It stays in the saved record until it was: when the modem's port returns
(the hook), or at the next daemon start. The modem comes back with
power/control "on", as a re-enumerated USB device does. Assertions are on the
saved job file and on the testbed's power/control, never on log lines.
"""

import os

import mmharness
import fotatest
from fotatest import GLib, opts, u, wait_until

SLOW_DOWNLOAD = ('--download-ms', '60000')  # still downloading when the device goes
# The reboots of a job that runs to its end, long enough for the Reenumerator
# to see the tty gone.
REBOOTING = ('--reboot-ms', '1000')


class UsbPowerKeptTest(mmharness.NeighboursTestCase):
    start_http = True
    with_logind = False
    sim_flags = SLOW_DOWNLOAD

    def setUp(self):
        super().setUp()
        self.port = None  # udev discovery: the record's port is the USB device
        self.testbed.plug()
        self.record_path = os.path.join(self.state_dir, 'job')

    # ------------------------------------------------------------ helpers

    def saved(self, key):
        """@key of the saved job record ([job]), None when absent."""
        kf = GLib.KeyFile()
        kf.load_from_file(self.record_path, GLib.KeyFileFlags.NONE)
        try:
            return kf.get_string('job', key)
        except GLib.Error as e:
            if e.matches(GLib.key_file_error_quark(), GLib.KeyFileError.KEY_NOT_FOUND):
                return None
            raise

    def control_now(self):
        """The testbed's power/control, None while the device is away."""
        try:
            return self.testbed.power_control_now()
        except FileNotFoundError:
            return None

    def job_fails_with_the_device_away(self):
        """A job forces power/control on, then its USB device goes away
        mid-download; the job fails meanwhile. Returns its id."""
        self.restart_daemon()
        job = self.daemon.start_url(self.http.url(self.package().name), opts(upgrade_mode=u(1)))
        self.daemon.wait_state(job, 'downloading', 30)
        self.assertEqual(self.control_now(), 'on', 'autosuspend during the job')
        self.assertEqual(self.saved('usb-power-previous'), 'auto')

        self.testbed.unplug()
        _, fin = self.daemon.wait_finished(job, 30)
        self.assertEqual(fin[1], 'failed', fin)
        self.assertIsNone(self.control_now(), 'the device is still there')
        self.assertEqual(self.saved('state'), 'failed')
        self.assertEqual(self.saved('usb-power-previous'), 'auto',
                         'the value not written back was dropped from the record')
        return job

    def modem_returns(self):
        """The modem is back (a fresh simulator: the crashed download is
        forgotten) with power/control "on", as re-enumerated."""
        self.start_sim(flags=REBOOTING)
        self.port = None  # start_sim() set the simulator's link
        self.testbed.power_control = 'on'
        self.testbed.plug(announce=True)

    def wait_restored(self, what):
        wait_until(lambda: self.control_now() == 'auto', 20, f'power/control restored {what}')
        wait_until(lambda: self.saved('usb-power-previous') is None, 10,
                   f'usb-power-previous dropped from the record {what}')

    # -------------------------------------------------------------- tests

    def test_restored_when_the_port_returns_then_the_next_job(self):
        self.job_fails_with_the_device_away()
        fotatest.spin(1)  # still away: nothing to write to, the value stays
        self.assertEqual(self.saved('usb-power-previous'), 'auto')

        self.modem_returns()
        self.wait_restored('when the port returned')

        # the next job records the administrator's value, and restores it
        renum = mmharness.test_discovery.Reenumerator(self, self.testbed)
        self.addCleanup(renum.stop)
        job = self.daemon.start_url(self.http.url(self.package().name), opts(upgrade_mode=u(1)))
        self.daemon.wait_state(job, 'downloading', 30)
        self.assertEqual(self.control_now(), 'on')
        self.assertEqual(self.saved('usb-power-previous'), 'auto')
        _, fin = self.daemon.wait_finished(job, 120)
        self.assertEqual(fin[1], 'succeeded', fin)
        renum.check()
        self.assertEqual(self.control_now(), 'auto')
        self.assertIsNone(self.saved('usb-power-previous'))

    def test_restored_at_the_start_after_the_device_returned(self):
        job = self.job_fails_with_the_device_away()

        # a start without the device keeps the value too
        self.restart_daemon()
        self.assertEqual(self.daemon.get_job()['id'], job)
        fotatest.spin(1)
        self.assertEqual(self.saved('usb-power-previous'), 'auto')
        self.daemon.stop()

        self.modem_returns()
        self.restart_daemon()
        self.wait_restored('at start')

        # once: the administrator's later choice survives the next start
        self.testbed.set_power_control('on')
        self.restart_daemon()
        self.assertEqual(self.daemon.get_job()['id'], job)
        fotatest.spin(1)
        self.assertEqual(self.control_now(), 'on', 'a start overrode a later choice')


if __name__ == '__main__':
    mmharness.skip_unless_ready()
    fotatest.main()
