#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The AT engine (through fota-at-tool) against fota-modem-sim over a real pty.

Needs FOTA_MODEM_SIM and FOTA_AT_TOOL in the environment (meson sets them).
Each case starts its own simulator in a private temporary directory."""

import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import unittest

SIM = os.environ.get("FOTA_MODEM_SIM")
TOOL = os.environ.get("FOTA_AT_TOOL")
MODEL = "EC200T"
REVISION = "EC200TCNDAR02A06M16"
TARGET = "EC200TCNDAR02A07M16"
ATI_LINES = ["Quectel", MODEL, "Revision: " + REVISION]


class Sim:
    """A running simulator: its link, its log, and a clean stop."""

    def __init__(self, tmp, *args):
        self.link = os.path.join(tmp, "ttySIM")
        self.log = os.path.join(tmp, "sim.log")
        ready = os.path.join(tmp, "sim.ready")
        self.proc = subprocess.Popen(
            [SIM, "--link", self.link, "--log", self.log, "--ready-file", ready,
             "--model", MODEL, "--revision", REVISION, *args])
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fota-modem-sim did not become ready")
            time.sleep(0.02)

    def events(self, name):
        with open(self.log, encoding="utf-8") as f:
            return [e for e in map(json.loads, f) if e.get("event") == name]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def run_tool(link, *args, timeout=120):
    """Runs fota-at-tool; returns (exit status, [(kind, text)], child CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([TOOL, "--port", link, *args], capture_output=True, text=True, errors="replace",
                          timeout=timeout, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    events = [tuple(l.split(" ", 1)) if " " in l else (l, "") for l in proc.stdout.splitlines()]
    return proc.returncode, events, cpu


def responses(events):
    """Groups tool output per command: {index: (command, lines, final-or-error)}."""
    out = []
    for kind, text in events:
        if kind == "cmd":
            out.append([text, [], None])
        elif kind == "line":
            out[-1][1].append(text)
        elif kind in ("final", "error") and out and out[-1][2] is None:
            out[-1][2] = kind + " " + text
    return out


class EngineAgainstSim(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="engine-sim-")
        self.sim = None

    def tearDown(self):
        if self.sim is not None:
            self.sim.stop()
        self.tmp.cleanup()

    def start(self, *args):
        self.sim = Sim(self.tmp.name, *args)
        return self.sim

    def check_identity(self, events, repeat=1, skip=0):
        got = responses(events)[skip:]
        self.assertEqual(len(got), 3 * repeat)
        for i in range(repeat):
            ati, qgmr, ranges = got[3 * i:3 * i + 3]
            self.assertEqual(ati, ["ATI", ATI_LINES, "final OK"])
            self.assertEqual(qgmr, ["AT+QGMR", [REVISION], "final OK"])
            self.assertEqual(ranges, ["AT+QFOTADL=?",
                                      ["+QFOTADL: <url>,(0,1),(0,5-100),(0,5-100)"], "final OK"])

    def test_echo_on(self):
        sim = self.start()
        rc, events, _ = run_tool(sim.link, "cmd", "ATE1", "ATI", "AT+QGMR", "AT+QFOTADL=?")
        self.assertEqual(rc, 0, events)
        self.assertEqual(responses(events)[0], ["ATE1", [], "final OK"])
        self.check_identity(events, skip=1)

    def test_echo_off(self):
        sim = self.start("--no-echo")
        rc, events, _ = run_tool(sim.link, "cmd", "ATI", "AT+QGMR", "AT+QFOTADL=?")
        self.assertEqual(rc, 0, events)
        self.check_identity(events)

    def test_interleaved_urcs_split_writes_garbage(self):
        sim = self.start("--interleave-urcs", "--split-writes", "--garbage", "--seed", "7")
        cmds = ["ATI", "AT+QGMR", "AT+QFOTADL=?"] * 10
        rc, events, _ = run_tool(sim.link, "cmd", *cmds, "@sleep=300")
        self.assertEqual(rc, 0, events)
        self.check_identity(events, repeat=10)

    def test_hangup_and_reopen_after_reboot(self):
        sim = self.start("--reboot-ms", "400", "--boot-urc-delay-ms", "100")
        rc, events, cpu = run_tool(sim.link, "--wait-ms", "5000", "cmd", "ATI", "AT+CFUN=1,1",
                                   "@wait-lost", "@sleep=1000", "@reopen", "@wait-urc=RDY",
                                   "ATI")
        kinds = [k for k, _ in events]
        self.assertEqual(kinds.count("port-lost"), 1, events)
        self.assertIn("reopened", kinds)
        got = responses(events)
        self.assertEqual(got[0], ["ATI", ATI_LINES, "final OK"])
        # The OK of AT+CFUN=1,1 may be lost with the tty; either way it ends.
        self.assertTrue(got[1][2] in ("final OK", "error PORT_LOST end of file on the port")
                        or got[1][2].startswith("error PORT_LOST"), got[1])
        self.assertEqual(got[-1], ["ATI", ATI_LINES, "final OK"])
        self.assertEqual(len(sim.events("reboot")), 1)
        # A hung-up fd left in the loop would burn a CPU for the whole second.
        self.assertLess(cpu, 0.5, "fota-at-tool used %.2f s CPU" % cpu)

    def test_stream_64mib_byte_exact(self):
        pkg = os.path.join(self.tmp.name, "pkg.bin")
        subprocess.run([SIM, "--make-package", pkg, "--from", REVISION, "--to", TARGET,
                        "--size", str(64 * 1024 * 1024), "--model", MODEL], check=True)
        sha = hashlib.sha256()
        with open(pkg, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
        sim = self.start("--update-ms", "200")
        rc, events, _ = run_tool(sim.link, "stream", pkg, "--mode", "1", "--dl-max", "50",
                                 "--sha256", sha.hexdigest(), timeout=300)
        self.assertEqual(rc, 0, [e for e in events if e[0] != "urc"])
        self.assertIn(("result", '+QIND: "FOTA","FILEEND",0'), events)
        self.assertIn(("sent-sha256", sha.hexdigest()), events)
        size = os.path.getsize(pkg)
        files = sim.events("file")
        self.assertEqual(len(files), 1)
        self.assertEqual(files[0]["length"], size)
        self.assertEqual(files[0]["received"], size)
        self.assertEqual(files[0]["sha256"], sha.hexdigest())
        # Memory does not follow the package size. Under ASan, its
        # quarantine keeps freed buffers a while: a looser bound, still far
        # below the 64 MiB a package-sized buffer would take.
        stats = dict(e for e in events if e[0] in ("rss-idle-kib", "hwm-kib"))
        bound = 16384 if os.environ.get("FOTA_SANITIZED") == "1" else 1024
        self.assertLess(int(stats["hwm-kib"]) - int(stats["rss-idle-kib"]), bound)


if __name__ == "__main__":
    if not SIM or not TOOL:
        print("FOTA_MODEM_SIM and FOTA_AT_TOOL must be set", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
