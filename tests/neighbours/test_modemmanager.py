# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real ModemManager manages the simulated EC200T, and mm-client
(libfota-neighbours, through neighbour-tool) finds, inhibits and releases it.

Prints the timings measured (inhibit -> tty free, release -> re-probe,
caller gone -> re-probe) as "TIMING name seconds" lines on stderr.
"""

import signal
import sys
import time

import mmharness
from mmharness import USB_SYSPATH, wait_until
import fotatest


def timing(name, seconds):
    sys.stderr.write(f'TIMING {name} {seconds:.3f}\n')


class ModemManagerTest(mmharness.NeighboursTestCase):
    with_logind = False

    def owned_modem(self):
        """ModemManager's modem once exported, checked against the simulator."""
        path, props = self.mm.wait_modem(60)
        self.assertEqual(props['Device'], USB_SYSPATH)
        self.assertEqual((props['Manufacturer'], props['Model'], props['Revision']),
                         ('Quectel', self.model, self.revision))
        self.assertIn(('ttyUSB1', 3), props['Ports'])  # 3: MM_MODEM_PORT_TYPE_AT
        return path, props

    def test_client_finds_the_modem_modemmanager_owns(self):
        self.testbed.plug()
        tool = self.start_tool()
        # Before ModemManager runs: not managed, not an error; inhibiting fails.
        self.assertIsNone(tool.find(USB_SYSPATH, 'ttyUSB1'))
        answer = tool.cmd(f'inhibit {USB_SYSPATH}')
        self.assertTrue(answer.startswith('error quectel-fotad-mm-client-error-quark 0 '), answer)

        self.start_mm()
        wait_until(lambda: ('appeared' in [e for _, e in tool.events]), 10, '"appeared"')
        path, props = self.owned_modem()
        self.assertIn('ModemManager', [c for _, c in mmharness.tty_open_by_others(
            self.sim.link)], 'ModemManager keeps the AT port open')
        self.assertIn('AT+CGMR', self.sim.commands(), 'the simulator saw ModemManager probe')

        expected = (path, USB_SYSPATH, 'Quectel', self.model, self.revision)
        self.assertEqual(tool.find(USB_SYSPATH, '-'), expected)
        self.assertEqual(tool.find('-', 'ttyUSB1'), expected)
        self.assertEqual(tool.find('/sys/devices/elsewhere', 'ttyUSB1'), expected)
        self.assertIsNone(tool.find('/sys/devices/elsewhere', 'ttyUSB7'))
        self.assertIsNone(tool.find(USB_SYSPATH + '/1-1:1.3', '-'))

        self.mm.stop()
        wait_until(lambda: ('vanished' in [e for _, e in tool.events]), 10, '"vanished"')
        self.assertIsNone(tool.find(USB_SYSPATH, 'ttyUSB1'))

    def test_inhibit_spans_reenumeration_and_release_reprobes(self):
        self.testbed.plug()
        self.start_mm()
        old_path, _ = self.owned_modem()
        tool = self.start_tool()
        monitor = mmharness.InhibitMonitor(self.bus)
        self.addCleanup(monitor.stop)
        watch = mmharness.TtyWatch(self)
        self.addCleanup(watch.stop)
        fotatest.spin(0.2)

        start = time.monotonic()
        tool.ok(f'inhibit {USB_SYSPATH}')
        timing('inhibit-call', time.monotonic() - start)
        # Seen every time: ModemManager 1.20 closed the tty before it answered.
        sys.stderr.write('INHIBIT-REPLY tty still open by '
                         f'{mmharness.tty_open_by_others(self.sim.link)}\n')
        self.wait_tty_free(10)
        timing('inhibit-to-tty-free', time.monotonic() - start)
        self.mm.wait_no_modem(10)
        # what the end-to-end tests rely on: the monitor stamps the call, the
        # watch sees ModemManager let go of the tty after it
        fotatest.spin(0.2)
        self.assertEqual([(sender != self.bus.conn.get_unique_name(), uid, flag)
                          for _, sender, uid, flag in monitor.calls], [(True, USB_SYSPATH, True)])
        inhibited = monitor.times(True)[0]
        self.assertTrue(watch.mm_held_between(start - 0.2, inhibited))
        fotatest.spin(0.5)
        self.assertEqual(watch.mm_held_between(time.monotonic() - 0.4, time.monotonic()), [])
        watch.stop()
        self.assertIsNone(tool.find(USB_SYSPATH, 'ttyUSB1'))
        written = len(self.sim.commands())

        # A rebooting modem: its USB device leaves and comes back (another tty
        # number) while inhibited. ModemManager must neither probe nor write.
        self.testbed.unplug()
        fotatest.spin(0.5)
        self.testbed.plug(mmharness.OTHER_TTYS, announce=True)
        fotatest.spin(6)  # longer than a probe takes (about 4-5 s here)
        self.assertEqual(self.sim.commands()[written:], [],
                         'ModemManager wrote to the tty while inhibited')
        self.assertEqual(self.mm.modems(), {})
        self.assertEqual(mmharness.tty_open_by_others(self.sim.link), [])

        start = time.monotonic()
        tool.ok(f'uninhibit {USB_SYSPATH}')
        path, props = self.mm.wait_modem(60)
        timing('release-to-reprobe', time.monotonic() - start)
        self.assertNotEqual(path, old_path, 'a re-probed modem gets a new object path')
        self.assertIn(('ttyUSB5', 3), props['Ports'])
        self.assertEqual(tool.find(USB_SYSPATH, '-')[0], path)
        self.assertGreater(len(self.sim.commands()), written)

    def test_inhibition_ends_when_the_caller_leaves_the_bus(self):
        self.testbed.plug()
        self.start_mm()
        old_path, _ = self.owned_modem()
        tool = self.start_tool()
        tool.ok(f'inhibit {USB_SYSPATH}')
        self.mm.wait_no_modem(10)
        fotatest.spin(1)
        self.assertEqual(self.mm.modems(), {})

        start = time.monotonic()
        tool.proc.send_signal(signal.SIGKILL)  # a crashing daemon
        tool.proc.wait(5)
        path, _ = self.mm.wait_modem(60)
        timing('caller-gone-to-reprobe', time.monotonic() - start)
        self.assertNotEqual(path, old_path)

        # The next caller (a restarted daemon) inhibits afresh.
        again = self.start_tool()
        again.ok(f'inhibit {USB_SYSPATH}')
        self.mm.wait_no_modem(10)
        self.wait_tty_free(10)

    def test_refusals_are_errors(self):
        self.testbed.plug()
        self.start_mm()
        self.owned_modem()
        tool = self.start_tool()
        answer = tool.cmd('uninhibit /sys/devices/not-inhibited')
        self.assertTrue(answer.startswith('error quectel-fotad-mm-client-error-quark 1 '), answer)
        self.assertIn('ModemManager InhibitDevice failed', answer)
        self.assertEqual(len(self.mm.modems()), 1, 'a refused call changed nothing')


if __name__ == '__main__':
    mmharness.skip_unless_ready()
    fotatest.main()
