#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests fota-modem-sim as a black box: a real simulator process, its pty, real HTTP/FTP
servers on 127.0.0.1. The simulator path comes from $FOTA_MODEM_SIM."""

import contextlib
import errno
import functools
import hashlib
import http.server
import json
import os
import re
import select
import shutil
import signal
import ssl
import subprocess
import tempfile
import termios
import threading
import time
import tty
import unittest

SIM = os.environ.get("FOTA_MODEM_SIM", "fota-modem-sim")
FAST = ["--reboot-ms", "150", "--boot-urc-delay-ms", "50", "--update-ms", "200",
        "--download-ms", "200"]
BOOT_URCS = ["RDY", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"]
REV = "EC200TCNDAR02A06M16"
NEW = "EC200TCNDAR02A07M16"


class Vanished(Exception):
    """The tty went away (the modem rebooted)."""


class Port:
    """The host side of the modem's tty: raw, line oriented, aware of the tty vanishing."""

    def __init__(self, link):
        self.link = link
        self.pts = os.readlink(link)
        self.fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        # TCSANOW: the default TCSAFLUSH would discard what the modem said before
        # this open, the boot URCs of a quick reboot among them.
        tty.setraw(self.fd, termios.TCSANOW)
        self.buf = b""
        self.raw = b""  # everything received, for echo checks

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        while data:
            try:
                n = os.write(self.fd, data)
                data = data[n:]
            except BlockingIOError:
                select.select([], [self.fd], [], 1)
            except OSError as e:
                if e.errno == errno.EIO:
                    raise Vanished() from e
                raise

    def _fill(self, deadline):
        timeout = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 4096)
        except OSError as e:
            if e.errno == errno.EIO:
                raise Vanished() from e
            if e.errno == errno.EAGAIN:
                return True
            raise
        if not chunk:
            raise Vanished()
        self.buf += chunk
        self.raw += chunk
        return True

    def readline(self, timeout=5.0):
        """Next non-empty line, with garbage (control and high bytes) removed."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(rb"[\r\n]", self.buf)
            while m:
                line, self.buf = self.buf[:m.start()], self.buf[m.end():]
                text = bytes(b for b in line if 0x20 <= b < 0x7f).decode().strip()
                if text:
                    return text
                m = re.search(rb"[\r\n]", self.buf)
            if time.monotonic() >= deadline:
                raise TimeoutError("no line within %.1fs (buffer %r)" % (timeout, self.buf))
            self._fill(deadline)

    def expect(self, wanted, timeout=5.0, ignore=None):
        """Reads lines until `wanted` (str or compiled regex); returns the lines skipped."""
        skipped = []
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if (line == wanted if isinstance(wanted, str) else wanted.fullmatch(line)):
                return skipped
            skipped.append(line)

    def command(self, cmd, timeout=5.0):
        """Sends a command; returns (intermediate lines, final). Echo and URCs are dropped."""
        self.write(cmd + "\r")
        lines = []
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line in ("OK", "ERROR") or line.startswith("+CME ERROR"):
                return lines, line
            if line == cmd or is_unrelated_urc(line):
                continue
            lines.append(line)

    def wait_vanished(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        lines = []
        try:
            while True:
                lines.append(self.readline(max(0.0, deadline - time.monotonic())))
        except Vanished:
            self.close()
            return lines


def is_unrelated_urc(line):
    return re.match(r"^\+(CREG|CGREG|CEREG|QIURC|CTZV|QNITZ):|^\+QIND: \"(csq|act)\"", line)


def fota(stage, value=None):
    return '+QIND: "FOTA","%s"' % stage + ("" if value is None else ",%d" % value)


def fota_urcs(lines):
    """The FOTA URCs among @lines."""
    return [l for l in lines if l.startswith('+QIND: "FOTA"')]


def upgrade_urcs(end, downloads=5, updates=5, start=None):
    """The FOTA URCs of a good upgrade: [start], DOWNLOADING 1..downloads,
    end 0, START, UPDATING 1..updates, END 0."""
    return (([fota(start)] if start else []) +
            [fota("DOWNLOADING", k) for k in range(1, downloads + 1)] +
            [fota(end, 0), fota("START")] +
            [fota("UPDATING", k) for k in range(1, updates + 1)] + [fota("END", 0)])


class Sim:
    """One simulator process in its own temporary directory."""

    def __init__(self, *args, model=None, revision=None):
        self.dir = tempfile.mkdtemp(prefix="sim-test-")
        self.link = os.path.join(self.dir, "ttyUSB2")
        self.log = os.path.join(self.dir, "sim.log")
        ready = os.path.join(self.dir, "ready")
        argv = [SIM, "--link", self.link, "--log", self.log, "--ready-file", ready] + FAST
        if model:
            argv += ["--model", model]
        if revision:
            argv += ["--revision", revision]
        self.proc = subprocess.Popen(argv + list(args))
        deadline = time.monotonic() + 5
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("simulator did not start: %s" % argv)
            time.sleep(0.01)
        self.port = Port(self.link)

    def stop(self):
        if self.port:
            self.port.close()
        self.proc.terminate()
        self.proc.wait(5)
        assert not os.path.lexists(self.link), "link left behind"
        shutil.rmtree(self.dir)

    def events(self, name=None):
        with open(self.log) as f:
            evs = [json.loads(line) for line in f]
        return [e for e in evs if name is None or e["event"] == name]

    def wait_event(self, name, predicate, timeout=5.0):
        """The first event @name that @predicate accepts, once the simulator logged it: it
        logs a step after it wrote the step's line, which the test may read first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events(name) if predicate(e)]
            if found:
                return found[0]
            time.sleep(0.02)
        raise TimeoutError(f"no {name} event as expected in {timeout} s: {self.events(name)}")

    def reopen(self, timeout=5.0):
        """Waits for the link to come back after a reboot and opens it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.port = Port(self.link)
                return self.port
            except OSError:
                time.sleep(0.01)
        raise TimeoutError("link did not come back")

    def reopen_booted(self):
        """reopen(), then waits for the end of the boot URCs."""
        port = self.reopen()
        port.expect("+QIND: PB DONE")
        return port

    def make_package(self, name, frm, to, size=20000, model=None, corrupt=False):
        path = os.path.join(self.dir, name)
        argv = [SIM, "--make-package", path, "--from", frm, "--to", to, "--size", str(size)]
        if model:
            argv += ["--model", model]
        if corrupt:
            argv.append("--corrupt")
        subprocess.run(argv, check=True)
        return path


def with_sim(*args, model=None, revision=None):
    def decorate(test):
        @functools.wraps(test)
        def run(self):
            sim = Sim(*args, model=model, revision=revision)
            try:
                test(self, sim)
            finally:
                sim.stop()
        return run
    return decorate


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Http:
    def __init__(self, root):
        handler = functools.partial(QuietHandler, directory=root)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class TestSimulator(unittest.TestCase):
    # --- AT basics ----------------------------------------------------------------------

    @with_sim()
    def test_ati_echo(self, sim):
        p = sim.port
        lines, final = p.command("ATI")
        self.assertEqual((lines, final), (["Quectel", "EC200T", "Revision: " + REV], "OK"))
        self.assertTrue(p.raw.startswith(b"ATI\r"), p.raw)
        self.assertEqual(p.command("ATE0"), ([], "OK"))
        p.raw = b""
        self.assertEqual(p.command("AT+QGMR"), ([REV], "OK"))
        self.assertEqual(p.raw, b"\r\n" + REV.encode() + b"\r\n\r\nOK\r\n")
        self.assertEqual(p.command("AT+GSN"), (["866000000000001"], "OK"))
        self.assertEqual(p.command("AT+NOPE")[1], "ERROR")
        self.assertEqual(p.command('AT+QCFG="usbifc"'), (['+QCFG: "usbifc",0,0'], "OK"))
        self.assertEqual(p.command('AT+QCFG="usbifc",2,2')[1], "OK")
        self.assertEqual(p.command('AT+QCFG="USBIFC"'), (['+QCFG: "usbifc",2,2'], "OK"))
        self.assertEqual(p.command("AT+IFC=2,2")[1], "ERROR")  # usb port kind
        self.assertEqual(p.command("AT+QFOTADL=?"),
                         (["+QFOTADL: <url>,(0,1),(0,5-100),(0,5-100)"], "OK"))
        # LF-only line endings are commands too
        p.write("AT\n")
        p.expect("OK")
        cmds = [e["line"] for e in sim.events("command")]
        self.assertEqual(cmds[:3], ["ATI", "ATE0", "AT+QGMR"])
        self.assertTrue(all("ms" in e for e in sim.events()))

    @with_sim("--no-echo", "--port-kind", "uart")
    def test_no_echo_uart(self, sim):
        p = sim.port
        self.assertEqual(p.command("ATI")[1], "OK")
        self.assertFalse(p.raw.startswith(b"ATI"), p.raw)
        self.assertEqual(p.command("AT+IFC=2,2")[1], "OK")
        self.assertEqual(p.command("AT+IFC?"), (["+IFC: 2,2"], "OK"))
        self.assertEqual(p.command('AT+QCFG="usbifc",2,2')[1], "ERROR")

    @with_sim("--reply-delay", "ATI=600")
    def test_reply_delay(self, sim):
        """The final result comes late; SIGUSR1 (which ends holds) leaves it alone."""
        t0 = time.monotonic()
        sim.port.write("ATI\r")
        sim.wait_event("command", lambda e: e["line"] == "ATI")
        sim.proc.send_signal(signal.SIGUSR1)
        self.assertIn("Revision: " + REV, sim.port.expect("OK"))
        self.assertGreaterEqual(time.monotonic() - t0, 0.55)
        self.assertEqual(sim.port.command("AT")[1], "OK")

    @with_sim()
    def test_reply_hold(self, sim):
        """After SIGUSR2 the next command's final result, and every later command, waits
        for SIGUSR1: the answers then come in order."""
        p = sim.port
        sim.proc.send_signal(signal.SIGUSR2)
        sim.wait_event("reply-hold", lambda e: True)
        p.write("ATI\r")
        self.assertEqual(sim.wait_event("reply-held", lambda e: True)["line"], "ATI")
        p.expect("Revision: " + REV)
        p.write("AT+CGSN\r")
        with self.assertRaises(TimeoutError):
            p.expect("OK", 0.5)
        self.assertEqual([e["line"] for e in sim.events("command")], ["ATI"])
        sim.proc.send_signal(signal.SIGUSR1)
        p.expect("OK")
        echo, imei = p.expect("OK")  # the command is read (and echoed) only now
        self.assertEqual(echo, "AT+CGSN")
        self.assertRegex(imei, r"^[0-9]{15}$")
        self.assertEqual(len(sim.events("reply-release")), 1)
        self.assertEqual(p.command("AT"), ([], "OK"))

    @with_sim("--cme-error", 'AT+QCFG="usbifc",2=3', "--cme-error", "at+qfotadl=?=4")
    def test_cme_error(self, sim):
        """Matching commands are refused with +CME ERROR and have no effect."""
        p = sim.port
        self.assertEqual(p.command('AT+QCFG="usbifc",2,2'), ([], "+CME ERROR: 3"))
        self.assertEqual(p.command('AT+QCFG="usbifc"'), (['+QCFG: "usbifc",0,0'], "OK"))
        self.assertEqual(p.command("AT+QFOTADL=?"), ([], "+CME ERROR: 4"))
        self.assertEqual(p.command("AT"), ([], "OK"))
        self.assertEqual([e["line"] for e in sim.events("command")],
                         ['AT+QCFG="usbifc",2,2', 'AT+QCFG="usbifc"', "AT+QFOTADL=?", "AT"])

    @with_sim("--garbage", "--split-writes", "--interleave-urcs", "--seed", "7")
    def test_noisy_line(self, sim):
        for _ in range(5):
            lines, final = sim.port.command("ATI")
            self.assertEqual(final, "OK")
            self.assertIn("Revision: " + REV, lines)

    # --- AT+QFOTADL parameters -------------------------------------------------------------

    @with_sim()
    def test_bad_parameters(self, sim):
        bad = [
            'AT+QFOTADL="http://127.0.0.1/a"b.bin",1',
            'AT+QFOTADL="http://127.0.0.1/a.bin",1,3',
            'AT+QFOTADL="http://127.0.0.1/a.bin",1,101',
            'AT+QFOTADL="http://127.0.0.1/a.bin",3',
            'AT+QFOTADL="http://127.0.0.1/a.bin",1,50,4',
            'AT+QFOTADL="http://127.0.0.1:0/a.bin"',
            'AT+QFOTADL="http://127.0.0.1:65536/a.bin"',
            'AT+QFOTADL="ftp://u:p@127.0.0.1/dir/a.bin"',
            'AT+QFOTADL="ftp://127.0.0.1/a.bin"',
            'AT+QFOTADL="ftp://u:p@%s/a.bin"' % ("h" * 51),
            'AT+QFOTADL="gopher://x/a"',
            'AT+QFOTADL="FILE:0",1',
            'AT+QFOTADL="FILE:12x",1',
            'AT+QFOTADL=http://127.0.0.1/a.bin',
            'AT+QFOTADL="http://x/%s"' % ("a" * 250),
            'AT+QFOTADL="http://127.0.0.1/a.bin",1,50,50,1',
        ]
        for cmd in bad:
            self.assertEqual(sim.port.command(cmd)[1], "ERROR", cmd)
        self.assertEqual(sim.events("qfotadl"), [])
        # mode 2 on EC200T: the protocol-mode answer and nothing more
        sim.port.write('AT+QFOTADL="FILE:100",2\r')
        sim.port.expect("010003")
        self.assertEqual(sim.port.command("AT")[1], "OK")

    @with_sim(model="EC200S")
    def test_dfota_parameters(self, sim):
        p = sim.port
        self.assertEqual(p.command("AT+QFOTADL=?"), (["+QFOTADL: <url>,(0,1),(0,5-100)"], "OK"))
        self.assertEqual(p.command('AT+QFOTADL="http://127.0.0.1/a.bin",1,50,50')[1], "ERROR")
        self.assertEqual(p.command('AT+QFOTADL="FILE:100",2')[1], "ERROR")
        self.assertEqual(sim.events("qfotadl"), [])

    @with_sim("--fail-qfotadl")
    def test_fail_qfotadl(self, sim):
        self.assertEqual(sim.port.command('AT+QFOTADL="FILE:100",1,5')[1], "ERROR")
        self.assertEqual(sim.events("qfotadl"), [])
        self.assertEqual(sim.events("command")[-1]["line"], 'AT+QFOTADL="FILE:100",1,5')

    # --- FILE mode ---------------------------------------------------------------------------

    def file_upgrade(self, sim, pkg, dl_max=5, up_max=5, extra=b""):
        data = open(pkg, "rb").read()
        p = sim.port
        self.assertEqual(p.command('AT+QCFG="usbifc",2,2')[1], "OK")
        cmd = 'AT+QFOTADL="FILE:%d",1,%d,%d' % (len(data), dl_max, up_max)
        self.assertEqual(p.command(cmd), ([], "OK"))
        p.expect(fota("FILESTART"))
        lines = []
        try:
            for i in range(0, len(data), 1000):
                p.write(data[i:i + 1000])
            p.write(extra)
        except Vanished:  # --hangup-at downloading: the tty may go while we write
            p.close()
            return data, lines
        return data, p.wait_vanished(10)

    def send_package(self, sim, pkg, mode, timeout=5.0):
        """AT+QFOTADL FILE mode @mode and the whole package in one write;
        returns the lines until the tty goes."""
        data = open(pkg, "rb").read()
        p = sim.port
        self.assertEqual(p.command('AT+QFOTADL="FILE:%d",%d,5' % (len(data), mode))[1], "OK")
        p.expect(fota("FILESTART"))
        p.write(data)
        return p.wait_vanished(timeout)

    @with_sim()
    def test_file_upgrade(self, sim):
        pkg = sim.make_package("up.bin", REV, NEW)
        old_pts = sim.port.pts
        data, lines = self.file_upgrade(sim, pkg, extra=b"AT\r")
        self.assertEqual(fota_urcs(lines), upgrade_urcs("FILEEND"))
        self.assertIn("OK", lines)  # the bytes after the package were AT again
        p = sim.reopen()
        self.assertNotEqual(p.pts, old_pts)
        self.assertEqual(p.expect(BOOT_URCS[-1], 5), BOOT_URCS[:-1])
        self.assertIn("Revision: " + NEW, p.command("ATI")[0])
        self.assertTrue(p.raw.find(b"ATI\r") >= 0)  # echo is back on after the reboot
        ev = sim.events("file")[0]
        self.assertEqual(ev["length"], len(data))
        self.assertEqual(ev["received"], len(data))
        self.assertEqual(ev["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(sim.events("qfotadl")[0],
                         dict(sim.events("qfotadl")[0], url="FILE:%d" % len(data), mode=1,
                              download_urc_max=5, update_urc_max=5))
        self.assertEqual(sim.events("end")[0]["code"], 0)
        self.assertEqual(sim.events("revision")[0]["revision"], NEW)
        self.assertEqual(len(sim.events("link")), 2)
        self.assertEqual(sim.events("flow"), [])

    @with_sim()
    def test_file_wrong_source(self, sim):
        pkg = sim.make_package("other.bin", "EC200TCNDAR02A01M16", NEW)
        _, lines = self.file_upgrade(sim, pkg)
        self.assertIn(fota("FILEEND", 0), lines)
        self.assertEqual(lines[-1], fota("END", 504))
        self.assertNotIn(fota("UPDATING", 1), lines)
        p = sim.reopen_booted()
        self.assertIn("Revision: " + REV, p.command("ATI")[0])

    @with_sim()
    def test_file_corrupt(self, sim):
        pkg = sim.make_package("bad.bin", REV, NEW, corrupt=True)
        _, lines = self.file_upgrade(sim, pkg)
        self.assertEqual(lines[-1], fota("END", 506))
        self.assertEqual(sim.events("revision"), [])

    @with_sim("--file-timeout-ms", "300", "--update-error", "504")
    def test_file_stall(self, sim):
        p = sim.port
        self.assertEqual(p.command('AT+QFOTADL="FILE:5000",1,5')[1], "OK")
        p.expect(fota("FILESTART"))
        p.write(b"x" * 1200)
        p.expect(fota("DOWNLOADING", 1))
        p.expect(fota("FILEEND", 500), 3)
        self.assertEqual(p.command("AT")[1], "OK")
        ev = sim.events("file")[0]
        self.assertEqual((ev["length"], ev["received"]), (5000, 1200))
        self.assertEqual(sim.events("flow"), [{"event": "flow", "hardware": False,
                                                "ms": sim.events("flow")[0]["ms"]}])

    @with_sim("--file-timeout-ms", "300")
    def test_file_stall_absorbs_commands(self, sim):
        """Commands sent into an unfinished transfer are package bytes; the log names them."""
        p = sim.port
        self.assertEqual(p.command('AT+QFOTADL="FILE:5000",1,5')[1], "OK")
        p.expect(fota("FILESTART"))
        p.write(b"\x00\xffQSIM" + b"ATE0\rAT+QFOTADL=?\r")
        p.expect(fota("FILEEND", 500), 3)
        ev = sim.events("file")[0]
        self.assertEqual((ev["received"], ev["commands"], ev["first_command"]), (24, 2, "ATE0"))
        self.assertEqual(sim.events("command")[-1]["line"], 'AT+QFOTADL="FILE:5000",1,5')
        self.assertEqual(self.after_file(sim)["bytes"], 0)

    def after_file(self, sim):
        deadline = time.monotonic() + 3
        while not sim.events("after-file") and time.monotonic() < deadline:
            time.sleep(0.05)
        return sim.events("after-file")[0]

    def begin_transfer(self, sim):
        """AT+QFOTADL FILE mode for a package, up to FILESTART; (port, package bytes)."""
        pkg = sim.make_package("up.bin", REV, NEW)
        data = open(pkg, "rb").read()
        p = sim.port
        self.assertEqual(p.command('AT+QFOTADL="FILE:%d",1,5' % len(data))[1], "OK")
        p.expect(fota("FILESTART"))
        return p, data

    @with_sim("--file-early-end", "1000")
    def test_file_early_end(self, sim):
        """FILEEND,500 after 1000 bytes; what follows is AT input again, and counted."""
        p, data = self.begin_transfer(sim)
        p.write(data[:1000])
        p.expect(fota("FILEEND", 500), 3)
        p.write(b"\x01\x02junk\r")
        self.assertEqual(p.command("AT")[1], "OK")
        ev = sim.events("file")[0]
        self.assertEqual((ev["length"], ev["received"], ev["commands"]), (len(data), 1000, 0))
        self.assertNotIn("first_command", ev)
        self.assertEqual(self.after_file(sim)["bytes"], len(b"\x01\x02junk\rAT\r"))
        self.assertEqual(sim.events("revision"), [])

    @with_sim("--file-hold", "1000", "--file-timeout-ms", "300")
    def test_file_hold(self, sim):
        """After 1000 bytes nothing is read until SIGUSR1, and the stall timer waits too;
        then the transfer goes on to the end. Once per run."""
        p, data = self.begin_transfer(sim)
        p.write(data[:1500])
        self.assertEqual(sim.wait_event("file-hold", lambda e: True)["received"], 1000)
        # Three stall timeouts with bytes waiting in the kernel: no FILEEND,500.
        with self.assertRaises(TimeoutError):
            p.expect(fota("FILEEND"), 0.9)
        self.assertEqual(sim.events("file"), [])
        sim.proc.send_signal(signal.SIGUSR1)
        sim.wait_event("file-release", lambda e: True)
        p.write(data[1500:])
        lines = p.wait_vanished(10)
        self.assertEqual(fota_urcs(lines), upgrade_urcs("FILEEND", updates=100))
        ev = sim.events("file")[0]
        self.assertEqual((ev["received"], ev["sha256"]),
                         (len(data), hashlib.sha256(data).hexdigest()))
        self.assertEqual(len(sim.events("file-hold")), 1)

    @with_sim("--file-early-end", "1000,0")
    def test_file_early_end_code_0(self, sim):
        """FILEEND,0 after 1000 bytes: the partial package fails its check."""
        p, data = self.begin_transfer(sim)
        p.write(data[:1000])
        p.expect(fota("FILEEND", 0), 3)
        p.expect(fota("END", 506), 3)
        self.assertEqual(sim.events("file")[0]["received"], 1000)

    @with_sim("--check-ms", "600")
    def test_check_ms(self, sim):
        """START comes --check-ms after FILEEND,0; commands are answered meanwhile."""
        p, data = self.begin_transfer(sim)
        p.write(data)
        p.expect(fota("FILEEND", 0), 3)
        t0 = time.monotonic()
        self.assertEqual(p.command("AT")[1], "OK")
        p.expect(fota("START"), 3)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        p.expect(fota("END", 0), 5)

    @with_sim("--update-error", "504", model="EC200A")
    def test_dfota_update_error(self, sim):
        pkg = sim.make_package("up.bin", "EC200ACNDAR01A08M16", "EC200ACNDAR01A09M16",
                               model="EC200A")
        lines = self.send_package(sim, pkg, 1, 10)
        self.assertEqual(lines[-1], fota("END", 504))
        self.assertIn(fota("START"), lines)

    # --- network modes -----------------------------------------------------------------------

    def package_root(self, sim):
        """A directory holding up.bin, a package from REV to NEW."""
        root = os.path.join(sim.dir, "www")
        if os.path.isdir(root):
            return root
        os.mkdir(root)
        shutil.copy(sim.make_package("up.bin", REV, NEW), os.path.join(root, "up.bin"))
        return root

    @contextlib.contextmanager
    def http_server(self, sim):
        """An HTTP server for package_root(), stopped on leaving."""
        server = Http(self.package_root(sim))
        try:
            yield server
        finally:
            server.stop()

    @with_sim()
    def test_http_upgrade_and_404(self, sim):
        with self.http_server(sim) as server:
            p = sim.port
            url = "http://127.0.0.1:%d/missing.bin" % server.port
            self.assertEqual(p.command('AT+QFOTADL="%s",1,5' % url)[1], "OK")
            p.expect(fota("HTTPSTART"))
            p.expect(fota("HTTPEND", 711), 5)
            self.assertEqual(sim.events("download")[0]["code"], 711)

            url = "http://127.0.0.1:%d/up.bin" % server.port
            self.assertEqual(p.command('AT+QFOTADL="%s",1,10,5' % url)[1], "OK")
            lines = p.wait_vanished(10)
            self.assertEqual(fota_urcs(lines),
                             upgrade_urcs("HTTPEND", downloads=10, start="HTTPSTART"))
            p = sim.reopen_booted()
            self.assertIn("Revision: " + NEW, p.command("ATI")[0])
            ev = sim.events("download")[1]
            self.assertEqual((ev["url"], ev["code"]), (url, 0))
            package = os.path.join(sim.dir, "www", "up.bin")
            self.assertEqual(ev["bytes"], os.path.getsize(package))

    @with_sim("--require-pdp", "--quiet-update")
    def test_http_mode0_quiet_needs_pdp(self, sim):
        with self.http_server(sim) as server:
            p = sim.port
            cmd = 'AT+QFOTADL="http://127.0.0.1:%d/up.bin",0,5' % server.port
            self.assertEqual(p.command(cmd)[1], "OK")
            p.expect(fota("HTTPEND", 708))
            self.assertEqual(p.command("AT+QIACT=1")[1], "ERROR")  # no QICSGP yet
            self.assertEqual(p.command('AT+QICSGP=1,1,"cmnet","","",1')[1], "OK")
            self.assertEqual(p.command('AT+QCFG="fota/cid",1')[1], "OK")
            self.assertEqual(p.command("AT+QIACT=1")[1], "OK")
            self.assertEqual(p.command(cmd)[1], "OK")
            p.expect(fota("HTTPEND", 0), 5)
            p.wait_vanished()
            # mode 0: reboot, then the update runs (quietly here), then another reboot
            p = sim.reopen()
            lines = p.wait_vanished(10)
            self.assertEqual(lines, BOOT_URCS)
            p = sim.reopen_booted()
            self.assertEqual(p.command("AT+QGMR")[0], [NEW])
            self.assertEqual([e["reason"] for e in sim.events("reboot")],
                             ["fota-download-done", "fota-update-done"])

    @with_sim("--download-ms", "5000")
    def test_cfun_cancels_download(self, sim):
        with self.http_server(sim) as server:
            p = sim.port
            cmd = 'AT+QFOTADL="http://127.0.0.1:%d/up.bin",1,50' % server.port
            self.assertEqual(p.command(cmd)[1], "OK")
            p.expect(fota("DOWNLOADING", 2))
            self.assertEqual(p.command(cmd)[1], "ERROR")  # one FOTA at a time
            self.assertEqual(p.command("AT+CFUN=1,1")[1], "OK")
            p.wait_vanished()
            p = sim.reopen_booted()
            self.assertEqual(p.command("AT+QGMR")[0], [REV])
            try:
                line = p.readline(0.5)
                self.fail("unexpected output after cancel: " + line)
            except TimeoutError:
                pass

    @with_sim()
    def test_ftp_upgrade(self, sim):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer
        import logging
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        root = self.package_root(sim)
        auth = DummyAuthorizer()
        auth.add_user("test", "secret", root, perm="elr")
        handler = type("Handler", (FTPHandler,), {"authorizer": auth})
        server = FTPServer(("127.0.0.1", 0), handler)
        port = server.socket.getsockname()[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1},
                                  daemon=True)
        thread.start()
        try:
            p = sim.port
            bad = 'AT+QFOTADL="ftp://test:wrong@127.0.0.1:%d/up.bin",1,5' % port
            self.assertEqual(p.command(bad)[1], "OK")
            p.expect(fota("FTPEND", 625), 10)
            cmd = 'AT+QFOTADL="FTP://test:secret@127.0.0.1:%d/up.bin",1,5,0' % port
            self.assertEqual(p.command(cmd)[1], "OK")
            lines = p.wait_vanished(10)
            self.assertEqual(fota_urcs(lines),
                             upgrade_urcs("FTPEND", updates=0, start="FTPSTART"))
        finally:
            server.close_all()

    @with_sim("--garbage", "--split-writes", "--interleave-urcs", "--seed", "3")
    def test_noisy_file_upgrade(self, sim):
        pkg = sim.make_package("up.bin", REV, NEW, size=5000)
        _, lines = self.file_upgrade(sim, pkg)
        self.assertEqual(fota_urcs(lines), upgrade_urcs("FILEEND"))
        self.assertTrue(any(is_unrelated_urc(l) for l in lines), lines)
        p = sim.reopen()
        boot = [l for l in p.expect("+QIND: PB DONE") if not is_unrelated_urc(l)]
        self.assertEqual(boot, BOOT_URCS[:-1])
        self.assertIn("Revision: " + NEW, p.command("ATI")[0])

    @with_sim(model="EC200S", revision="EC200SCNAAR03A07M08")
    def test_dfota_mode0(self, sim):
        pkg = sim.make_package("up.bin", "EC200SCNAAR03A07M08", "EC200SCNAAR03A08M08",
                               model="EC200S")
        lines = self.send_package(sim, pkg, 0)
        self.assertEqual(lines[-1], fota("FILEEND", 0))
        p = sim.reopen()
        lines = p.wait_vanished()
        self.assertEqual(lines[:5], BOOT_URCS)
        self.assertEqual(lines[5], fota("START"))
        self.assertEqual(lines[-1], fota("END", 0))
        values = [int(l.rsplit(",", 1)[1]) for l in lines[6:-1]]
        self.assertTrue(values and all(l.startswith(fota("UPDATING")) for l in lines[6:-1]))
        self.assertEqual(values, sorted(set(values)))
        self.assertLessEqual(values[-1], 100)
        p = sim.reopen_booted()
        self.assertEqual(p.command("AT+QGMR")[0], ["EC200SCNAAR03A08M08"])

    # --- crashes -------------------------------------------------------------------------------

    @with_sim("--hangup-at", "accepted")
    def test_hangup_accepted(self, sim):
        p = sim.port
        self.assertEqual(p.command('AT+QFOTADL="FILE:100",1,5')[1], "OK")
        self.assertEqual(p.wait_vanished(), [])
        p = sim.reopen_booted()
        self.assertEqual(p.command("AT+QGMR")[0], [REV])
        self.assertEqual(sim.events("hangup")[0]["phase"], "accepted")

    @with_sim("--hangup-at", "downloading")
    def test_hangup_downloading(self, sim):
        pkg = sim.make_package("up.bin", REV, NEW)
        _, lines = self.file_upgrade(sim, pkg)
        self.assertNotIn(fota("FILEEND", 0), lines)
        p = sim.reopen_booted()
        self.assertEqual(p.command("AT+QGMR")[0], [REV])
        self.assertEqual(sim.events("hangup")[0]["phase"], "downloading")
        self.assertEqual(sim.events("file"), [])
        # the crash fires once: the retry goes through
        _, lines = self.file_upgrade(sim, pkg)
        self.assertEqual(lines[-1], fota("END", 0))

    @with_sim("--hangup-at", "updating")
    def test_hangup_updating(self, sim):
        pkg = sim.make_package("up.bin", REV, NEW)
        _, lines = self.file_upgrade(sim, pkg, up_max=10)
        self.assertIn(fota("UPDATING", 5), lines)
        self.assertNotIn(fota("END", 0), lines)
        p = sim.reopen_booted()
        self.assertEqual(p.command("AT+QGMR")[0], [REV])
        self.assertEqual(sim.events("end"), [])

    @with_sim("--silent")
    def test_silent(self, sim):
        p = sim.port
        self.assertEqual(p.command('AT+QFOTADL="FILE:100",1,5')[1], "OK")
        with self.assertRaises(TimeoutError):
            p.readline(0.5)
        self.assertEqual(p.command("AT")[1], "OK")

    # --- field behaviours (README.md, "Field behaviours") ----------------------------------

    def net_cmd(self, server, mode=1, dl_max=5, up_max=5, name="up.bin", scheme="http"):
        return 'AT+QFOTADL="%s://127.0.0.1:%d/%s",%d,%d,%d' % (scheme, server.port, name, mode,
                                                               dl_max, up_max)

    def https_server(self, sim):
        """package_root() over TLS with a throw-away self-signed certificate."""
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed")
        key, cert = os.path.join(sim.dir, "key.pem"), os.path.join(sim.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        server = Http(self.package_root(sim))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
        return server

    @with_sim("--https-stages", "--https-insecure")
    def test_https_stages(self, sim):
        """HTTPSSTART/HTTPSEND for https URLs, also for a failed download; http stays HTTP."""
        p = sim.port
        self.assertEqual(p.command('AT+QFOTADL="https://127.0.0.1:1/up.bin",1,5')[1], "OK")
        p.expect(fota("HTTPSSTART"))
        p.expect(fota("HTTPSEND", 716), 10)
        server = self.https_server(sim)
        try:
            self.assertEqual(p.command(self.net_cmd(server, scheme="https"))[1], "OK")
            lines = p.wait_vanished(10)
        finally:
            server.stop()
        self.assertEqual(fota_urcs(lines), upgrade_urcs("HTTPSEND", start="HTTPSSTART"))
        p = sim.reopen_booted()
        self.assertEqual(p.command("AT+QGMR")[0], [NEW])
        with self.http_server(sim) as plain:
            self.assertEqual(p.command(self.net_cmd(plain, name="missing.bin"))[1], "OK")
            p.expect(fota("HTTPSTART"))
            p.expect(fota("HTTPEND", 711), 5)

    @with_sim("--vanish-after-download", "700")
    def test_vanish_after_download(self, sim):
        """Mode 1: the tty goes after FILEEND,0 and comes back silent; START follows there."""
        pkg = sim.make_package("up.bin", REV, NEW)
        _, lines = self.file_upgrade(sim, pkg)
        self.assertEqual(fota_urcs(lines), [fota("DOWNLOADING", k) for k in range(1, 6)] +
                         [fota("FILEEND", 0)])
        p = sim.reopen()
        lines = p.wait_vanished(5)
        self.assertEqual(lines, upgrade_urcs("FILEEND")[6:])  # START .. END,0: no boot URCs
        p = sim.reopen_booted()
        self.assertEqual(p.command("AT+QGMR")[0], [NEW])
        self.assertEqual([e["reason"] for e in sim.events("reboot")],
                         ["vanish-after-download", "fota-update-done"])
        gone = sim.events("reboot")[0]["ms"]
        back = sim.events("link")[1]["ms"]
        self.assertGreaterEqual(back - gone, 700)

    @with_sim("--no-update-start")
    def test_no_update_start(self, sim):
        pkg = sim.make_package("up.bin", REV, NEW)
        _, lines = self.file_upgrade(sim, pkg)
        expected = upgrade_urcs("FILEEND")
        expected.remove(fota("START"))
        self.assertEqual(fota_urcs(lines), expected)

    @with_sim("--reboot-mid-update", model="EC200S", revision="EC200SCNAAR03A07M08")
    def test_reboot_mid_update(self, sim):
        """UPDATING to about half, a reboot, "Last upgrade was not finished,continue upgrade",
        the rest of UPDATING, END,0, the final reboot; the revision changes once."""
        pkg = sim.make_package("up.bin", "EC200SCNAAR03A07M08", "EC200SCNAAR03A08M08",
                               model="EC200S")
        lines = self.send_package(sim, pkg, 1)
        first = [int(l.rsplit(",", 1)[1]) for l in lines if l.startswith(fota("UPDATING"))]
        self.assertEqual(fota_urcs(lines)[-len(first) - 1:],
                         [fota("START")] + [fota("UPDATING", v) for v in first])
        p = sim.reopen()
        self.assertEqual(p.command("AT+QGMR")[0], ["EC200SCNAAR03A07M08"])  # still updating
        self.assertEqual(p.command("AT+CFUN=1,1")[1], "ERROR")  # mid-flash
        lines = p.wait_vanished(5)
        self.assertEqual(lines[:len(BOOT_URCS)], BOOT_URCS)
        self.assertEqual(lines[len(BOOT_URCS)],
                         '+QIND: "FOTA","Last upgrade was not finished,continue upgrade"')
        self.assertEqual(lines[-1], fota("END", 0))
        rest = [int(l.rsplit(",", 1)[1]) for l in lines[len(BOOT_URCS) + 1:-1]]
        self.assertTrue(first and rest, (first, rest))
        self.assertEqual(first + rest, sorted(set(first + rest)))
        p = sim.reopen_booted()
        self.assertEqual(p.command("AT+QGMR")[0], ["EC200SCNAAR03A08M08"])
        self.assertEqual([e["reason"] for e in sim.events("reboot")],
                         ["fota-update-midway", "fota-update-done"])

    @with_sim("--download-cut", "701", "--download-ms", "1000")
    def test_download_cut(self, sim):
        """END,701 halfway through, no HTTPEND, the modem idle; once per run."""
        with self.http_server(sim) as server:
            p = sim.port
            self.assertEqual(p.command(self.net_cmd(server, dl_max=10))[1], "OK")
            skipped = p.expect(fota("END", 701), 5)
            self.assertEqual(fota_urcs(skipped), [fota("HTTPSTART")] +
                             [fota("DOWNLOADING", k) for k in range(1, 6)])
            with self.assertRaises(TimeoutError):
                p.readline(0.5)
            self.assertEqual(p.command("AT+QGMR")[0], [REV])
            self.assertEqual(sim.events("download")[-1]["code"], 701)
            self.assertEqual(p.command(self.net_cmd(server))[1], "OK")
            self.assertEqual(fota_urcs(p.wait_vanished(10)),
                             upgrade_urcs("HTTPEND", start="HTTPSTART"))

    @with_sim("--refuse-download", "608")
    def test_refuse_download(self, sim):
        """HTTPSTART then at once HTTPEND,608 (no transfer, no DOWNLOADING); once per run."""
        with self.http_server(sim) as server:
            p = sim.port
            self.assertEqual(p.command(self.net_cmd(server))[1], "OK")
            self.assertEqual(fota_urcs([p.readline(), p.readline()]),
                             [fota("HTTPSTART"), fota("HTTPEND", 608)])
            ev = sim.events("download")[0]
            self.assertEqual((ev["code"], ev["bytes"]), (608, 0))
            self.assertEqual(p.command(self.net_cmd(server))[1], "OK")
            self.assertEqual(fota_urcs(p.wait_vanished(10)),
                             upgrade_urcs("HTTPEND", start="HTTPSTART"))

    @with_sim("--restore", "504")
    def test_restore(self, sim):
        """A failed update restores: RESTORE n% up to 100%, END,504, reboot, revision kept."""
        pkg = sim.make_package("up.bin", REV, NEW)
        _, lines = self.file_upgrade(sim, pkg, up_max=10)
        restore = ['+QIND: "FOTA","RESTORE",%d%%' % v for v in (1, 25, 50, 75, 100)]
        self.assertEqual(fota_urcs(lines)[-12:],
                         [fota("START")] + [fota("UPDATING", k) for k in range(1, 6)] +
                         restore + [fota("END", 504)])
        p = sim.reopen_booted()
        self.assertEqual(p.command("AT+QGMR")[0], [REV])
        _, lines = self.file_upgrade(sim, pkg)  # once per run: the retry succeeds
        self.assertEqual(lines[-1], fota("END", 0))

    @with_sim("--restore", "505", "--reboot-mid-update")
    def test_restore_after_a_reboot(self, sim):
        """With --reboot-mid-update the restore comes after the reboot, as after a power loss."""
        pkg = sim.make_package("up.bin", REV, NEW)
        _, lines = self.file_upgrade(sim, pkg, up_max=10)
        self.assertEqual(lines[-1], fota("UPDATING", 5))
        lines = sim.reopen().wait_vanished(5)
        self.assertEqual(lines[len(BOOT_URCS):],
                         ['+QIND: "FOTA","Last upgrade was not finished,continue upgrade"'] +
                         ['+QIND: "FOTA","RESTORE",%d%%' % v for v in (1, 25, 50, 75, 100)] +
                         [fota("END", 505)])
        self.assertEqual(sim.reopen_booted().command("AT+QGMR")[0], [REV])

    @with_sim("--download-silence", "1500")
    def test_download_silence(self, sim):
        """No DOWNLOADING; HTTPEND comes no earlier than the silence after HTTPSTART."""
        with self.http_server(sim) as server:
            p = sim.port
            self.assertEqual(p.command(self.net_cmd(server, dl_max=10))[1], "OK")
            p.expect(fota("HTTPSTART"))
            t0 = time.monotonic()
            self.assertEqual(p.command("AT")[1], "OK")  # commands answered meanwhile
            self.assertEqual(fota_urcs(p.expect(fota("HTTPEND", 0), 5)), [])
            self.assertGreaterEqual(time.monotonic() - t0, 1.3)
            expected = upgrade_urcs("HTTPEND", downloads=0)
            self.assertEqual(fota_urcs(p.wait_vanished(10)), expected[1:])

    @with_sim("--no-download-urcs", "--download-ms", "800")
    def test_no_download_urcs(self, sim):
        """A network download says nothing: the first URC is the update's START."""
        with self.http_server(sim) as server:
            p = sim.port
            t0 = time.monotonic()
            self.assertEqual(p.command(self.net_cmd(server))[1], "OK")
            lines = p.wait_vanished(10)
            self.assertGreaterEqual(time.monotonic() - t0, 0.7)
            self.assertEqual(fota_urcs(lines), upgrade_urcs("HTTPEND")[6:])
            self.assertEqual(sim.events("download")[0]["code"], 0)

    def boot_order(self, seed):
        sim = Sim("--boot-shuffle", "--seed", str(seed))
        try:
            self.assertEqual(sim.port.command("AT+CFUN=1,1")[1], "OK")
            sim.port.wait_vanished()
            p = sim.reopen()
            lines = [p.readline() for _ in range(6)]
            self.assertEqual(p.command("AT")[1], "OK")
            return lines
        finally:
            sim.stop()

    def test_boot_shuffle(self):
        """Six boot URCs with +CFUN: 1, never in the fixed order, the same for the same seed."""
        orders = [self.boot_order(seed) for seed in (1, 2, 1)]
        for lines in orders:
            self.assertEqual(sorted(lines), sorted(BOOT_URCS + ["+CFUN: 1"]))
            self.assertNotEqual([l for l in lines if l != "+CFUN: 1"], BOOT_URCS)
        self.assertEqual(orders[0], orders[2])
        self.assertNotEqual(orders[0], orders[1])

    # --- --trace ---------------------------------------------------------------------------

    def write_trace(self, steps):
        """A trace file (in a directory of its own: the simulator's goes with it)."""
        tmp = tempfile.mkdtemp(prefix="sim-trace-")
        self.addCleanup(shutil.rmtree, tmp)
        path = os.path.join(tmp, "t.trace")
        with open(path, "w") as f:
            f.write("# a test trace\n[job]\nsource = http\n[expect]\nstate = failed\n"
                    "[trace]\n" + steps)
        return path

    def test_trace(self):
        """The trace replaces the engine for the first AT+QFOTADL= only: lines after their
        delays, @vanish (no boot URCs), @revision, @reboot (boot URCs); the engine is idle past
        the last reboot while the rest plays; the next job runs the simulator's own logic."""
        path = self.write_trace("+300 +QIND: \"FOTA\",\"HTTPSSTART\"\n"
                                "+0 @vanish 400\n"
                                "+100 +QIND: \"FOTA\",\"UPDATING\",50%\n"
                                "+0 @@odd\n"
                                "+0 @revision " + NEW + "\n"
                                "+0 @reboot 300\n"
                                "+400 +CFUN: 1\n")
        sim = Sim("--trace", path)
        try:
            with self.http_server(sim) as server:
                p = sim.port
                t0 = time.monotonic()
                self.assertEqual(p.command(self.net_cmd(server))[1], "OK")
                self.assertEqual(p.wait_vanished(), [fota("HTTPSSTART")])
                self.assertGreaterEqual(time.monotonic() - t0, 0.3)
                p = sim.reopen()
                self.assertEqual(p.command(self.net_cmd(server))[1], "ERROR")  # still busy
                self.assertEqual(p.wait_vanished(), ['+QIND: "FOTA","UPDATING",50%', "@odd"])
                p = sim.reopen()
                p.expect("+QIND: PB DONE")
                self.assertEqual(p.command("AT+QGMR")[0], [NEW])
                # idle past the last reboot: the next job is taken while +CFUN: 1 is due
                self.assertEqual(p.command(self.net_cmd(server, name="missing.bin"))[1], "OK")
                lines = p.expect(fota("HTTPEND", 711), 5)
                if "+CFUN: 1" not in lines:
                    p.expect("+CFUN: 1", 2)
            sim.wait_event("trace", lambda e: e["step"] == "end")
            steps = [e["step"] for e in sim.events("trace")]
            self.assertEqual(steps, ["begin", "line", "vanish", "line", "line", "revision",
                                     "reboot", "idle", "line", "end"])
            self.assertEqual([e["reason"] for e in sim.events("reboot")], ["trace", "trace"])
        finally:
            sim.stop()

    def test_trace_file(self):
        """A FILE trace takes the package bytes (@file waits for them); the bytes after the
        package are AT commands again."""
        path = self.write_trace("+0 +QIND: \"FOTA\",\"FILESTART\"\n"
                                "+0 @file\n"
                                "+200 +QIND: \"FOTA\",\"FILEEND\",0\n")
        sim = Sim("--trace", path)
        try:
            with open(sim.make_package("up.bin", REV, NEW), "rb") as f:
                data = f.read()
            p = sim.port
            self.assertEqual(p.command('AT+QFOTADL="FILE:%d",1,5' % len(data))[1], "OK")
            p.expect(fota("FILESTART"))
            p.write(data + b"AT\r")
            self.assertEqual(p.expect(fota("FILEEND", 0), 5), ["AT", "OK"])  # echo on
            ev = sim.events("file")[0]
            self.assertEqual((ev["received"], ev["sha256"]),
                             (len(data), hashlib.sha256(data).hexdigest()))
            sim.wait_event("trace", lambda e: e["step"] == "end")
            self.assertEqual(sim.events("trace")[-1]["step"], "end")
            self.assertEqual(p.command("AT+QGMR")[0], [REV])
        finally:
            sim.stop()

    def test_bad_trace(self):
        """A broken trace stops the simulator at start-up, naming the file and line."""
        tmp = tempfile.mkdtemp(prefix="sim-test-")
        try:
            path = os.path.join(tmp, "bad.trace")
            with open(path, "w") as f:
                f.write("[trace]\n+10 RDY\n+x RDY\n")
            res = subprocess.run([SIM, "--link", os.path.join(tmp, "tty"), "--trace", path],
                                 capture_output=True, timeout=10)
            self.assertEqual(res.returncode, 2)
            self.assertIn("bad.trace:3:", res.stderr.decode())
            self.assertFalse(os.path.lexists(os.path.join(tmp, "tty")))
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main(verbosity=2)
