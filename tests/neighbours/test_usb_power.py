# SPDX-License-Identifier: LGPL-2.1-or-later
"""usb-power (libfota-neighbours, through neighbour-tool) under umockdev: the
modem's power/control is written "on", then restored, also by a second
process that only knows the value saved (a restarted daemon)."""

import mmharness
import fotatest
from mmharness import USB_SYSPATH


class UsbPowerTest(mmharness.NeighboursTestCase):
    with_logind = False

    def test_forced_on_then_restored(self):
        self.testbed.plug()
        self.assertEqual(self.testbed.power_control_now(), 'auto')
        tool = self.start_tool()
        self.assertEqual(tool.cmd(f'power-on {USB_SYSPATH}'), 'previous auto')
        self.assertEqual(self.testbed.power_control_now(), 'on')
        tool.stop()

        restarted = self.start_tool()
        restarted.ok(f'power-restore {USB_SYSPATH} auto')
        self.assertEqual(self.testbed.power_control_now(), 'auto')

    def test_missing_device(self):
        tool = self.start_tool()
        answer = tool.cmd(f'power-on {USB_SYSPATH}')  # not plugged
        self.assertTrue(answer.startswith('error quectel-fotad-usb-power-error-quark 0 '), answer)


class UsbPowerAlreadyOnTest(mmharness.NeighboursTestCase):
    with_logind = False
    power_control = 'on'

    def test_on_stays_on(self):
        self.testbed.plug()
        tool = self.start_tool()
        self.assertEqual(tool.cmd(f'power-on {USB_SYSPATH}'), 'previous on')
        tool.ok(f'power-restore {USB_SYSPATH} on')
        self.assertEqual(self.testbed.power_control_now(), 'on')


if __name__ == '__main__':
    mmharness.skip_unless_ready()
    fotatest.main()
