#!/usr/bin/env python3
"""Benchmark: the Python package's pysmb API (``smbkit.smb``) against pysmb
1.2.15, smbprotocol (its high-level ``smbclient`` module) and the Rust CLI
(``smbkit get`` / ``smbkit put``, on the big-file rows), on one private
Samba server (smbkit-testserver) in the same run.

::

    scripts/bench-python [--size-mib N] [--files N] [--entries N]
                         [--repeat N] [--rtt-ms MS[,MS...]] [--rtt-repeat N]
                         [--only ROW[,ROW...]] [--profile NAME]

Rows:

* ``download``: one big file (``--size-mib``, 1 GiB by default) from the
  share into a sink that counts the bytes (``retrieveFile``; smbprotocol:
  ``open_file(..., "rb", buffering=0)`` read in chunks of the negotiated
  maximum read size; CLI: ``smbkit get URL -`` with standard output on
  /dev/null).
* ``upload``: the same size from a local file (in the page cache) to the
  share (``storeFile`` with the open file; smbprotocol: ``open_file(...,
  "wb", buffering=0)`` written in chunks of the negotiated maximum write
  size; CLI: ``smbkit put FILE URL``).
* ``small-put``: ``--files`` (1000) files of 4 KiB, one after the other
  over one connection, from memory (``storeFile`` with a ``BytesIO``;
  smbprotocol: ``open_file(..., "wb")`` and one ``write``), into an empty
  folder.
* ``small-get``: the same number of 4 KiB files read back, one after the
  other (``retrieveFile``; smbprotocol: ``open_file(..., "rb")`` and
  ``read()``).
* ``list``: a folder of ``--entries`` (10,000) empty files (``listPath``;
  smbprotocol: ``scandir``, every entry's name).

Every measurement runs in a fresh process (``bench.py child ...``) whose
peak RSS and CPU time come from ``os.wait4``. The Python clients time the
operation themselves, after connecting, logging on and connecting the share
(a query of the share's root) and before logging off; the CLI is timed from
spawn to exit, minus its own connect-and-exit baseline (best of 5 runs of
``smbkit stat``). Per row, each client first makes one untimed run that also
checks the data (SHA-256 of every byte downloaded; the uploaded files
hashed on the server's disk), then ``--repeat`` timed trials (3 by default;
``--rtt-repeat``, 2, through the proxy), all of one client's before the
next client's (smbkit.smb, the CLI, pysmb, smbprotocol; ``--clients``
changes the order); the best trial is kept (the median is printed too).
Files are created on the server's disk directly.

Every client runs with its defaults: smbkit.smb and pysmb sign only when
the server requires it (it does not), smbprotocol signs every message
(``require_signing=True``; with False it does not sign the SMB 3.1.1 TREE
CONNECT, which MS-SMB2 requires and Samba enforces, and the share cannot
be connected). Nothing is encrypted. pysmb speaks SMB1 and SMB 2.0.2 only;
the others negotiate what the server offers, up to 3.1.1.

Network round trip (``--rtt-ms``, default ``0,1``): every row is measured
once per round-trip time, and a table printed for each. 0 is the server
itself on loopback; any other value puts a latency proxy in front of it
(``smbkit-testserver delay-proxy``, on 127.0.0.1), which forwards every byte
half the round trip later in each direction, and every client connects
through it. A loopback round trip costs next to nothing, so at 0 a client
that waits for each answer before the next request loses little; at 1 ms
(a busy LAN, Wi-Fi) or 10 ms (a WAN), what a client keeps in flight per
round trip decides its rate. The proxy reads what arrives at once and is
not a bandwidth limit (over 1 GiB/s without delay); it does not delay the
TCP handshake (a connect completes against the proxy), which is outside
the timed part anyway. At 10 ms, pysmb moves about 6 MiB/s (one 64 KiB
READ or WRITE per round trip): 1 GiB takes almost 3 minutes per trial, so
use ``--size-mib 64`` or so there. Each table also gives the round trip
measured before its trials: SMB2 ECHOs on one connection, which include
smbd's (small) work per request and the proxy's timer overshoot (0.1 to
0.3 ms per round trip on a VM).

The table goes to stdout, trial-by-trial timings to stderr.
"""

import argparse
import hashlib
import io
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# The server's NetBIOS name (smbkit-testserver's `netbios name`).
SERVER_NAME = "SMBKITTEST"
CLIENT_NAME = "SMBKITBENCH"
BIG = "big.bin"
SMALL_DIR = "small"
SMALL_PUT_DIR = "small-put"
LIST_DIR = "list"
SMALL_SIZE = 4096
BASELINE_TRIALS = 5
MiB = 1 << 20

CLIENTS = ["smbkit", "smbkit-mt", "pysmb", "smbprotocol", "cli"]
# The order they are measured in by default: the CLI right after
# smbkit.smb, whose rate it is held to most closely.
DEFAULT_ORDER = ["smbkit", "cli", "smbkit-mt", "pysmb", "smbprotocol"]
CLIENT_LABEL = {
    "smbkit": "smbkit.smb",
    "smbkit-mt": "smbkit.smb 8thr",
    "pysmb": "pysmb",
    "smbprotocol": "smbprotocol",
    "cli": "smbkit CLI",
}
ROWS = ["download", "upload", "small-put", "small-get", "list"]
# The rows the CLI takes part in.
CLI_ROWS = {"download", "upload"}
# smbkit.smb with several threads on its one connection (pysmb's
# SMBConnection is not thread-safe; smbkit.smb's is): the small-file rows.
MT_ROWS = {"small-put", "small-get"}
MT_THREADS = 8
# The project's targets: smbkit.smb at least this many times pysmb's rate,
# and on the big-file rows at least this fraction of the CLI's.
PYSMB_TARGET = {"download": 5.0, "upload": 5.0, "small-put": 3.0, "small-get": 3.0, "list": 3.0}
CLI_TARGET = 0.85
# What the test server's profiles speak (smbkit-testserver's smb.conf lines).
PROFILE_DIALECTS = {
    "modern": "server min protocol SMB2_02, max SMB3_11: Samba's defaults",
    "legacy": "server min protocol NT1, max SMB3_11",
    "smb1-only": "NT1 only",
    "signing": "SMB2_02 to SMB3_11, signing mandatory",
    "smb21": "SMB2_02 to SMB2_10",
}


def upload_name(client):
    return "up-%s.bin" % client


def small_name(i):
    return "f%05d" % i


# ---------------------------------------------------------------------------
# The child: one client, one operation, in a fresh process


class CountingSink(object):
    """A file object that takes what it is given and counts it."""

    def __init__(self, hasher=None):
        self.n = 0
        self.hasher = hasher

    def write(self, data):
        n = len(data)
        self.n += n
        if self.hasher is not None:
            self.hasher.update(data)
        return n


class PysmbClient(object):
    """pysmb 1.2.15's blocking API: pysmb itself or smbkit.smb."""

    def __init__(self, module, job, password):
        self.SMBConnection = module.SMBConnection
        self.job = job
        self.password = password
        self.conn = None

    def connect(self):
        j = self.job
        self.conn = self.SMBConnection(
            j["user"], self.password, CLIENT_NAME, SERVER_NAME,
            domain="WORKGROUP", use_ntlm_v2=True, is_direct_tcp=True,
        )
        if not self.conn.connect(j["host"], j["port"]):
            raise SystemExit("the server refused the logon")
        # Connects the share.
        self.conn.getAttributes(j["share"], "/")

    def dialect(self):
        d = getattr(self.conn, "dialect", None)
        if not d:
            d = "2.0.2" if self.conn.isUsingSMB2 else "1 (NT LM 0.12)"
        return d + (" signed" if self.conn.is_signing_active else " unsigned")

    def download(self, name, sink):
        _, n = self.conn.retrieveFile(self.job["share"], "/" + name, sink)
        return n

    def upload(self, name, src):
        with open(src, "rb") as f:
            return self.conn.storeFile(self.job["share"], "/" + name, f)

    def put_bytes(self, path, data):
        return self.conn.storeFile(self.job["share"], "/" + path, io.BytesIO(data))

    def get_bytes(self, path, sink):
        _, n = self.conn.retrieveFile(self.job["share"], "/" + path, sink)
        return n

    def list_names(self, path):
        return [e.filename for e in self.conn.listPath(self.job["share"], "/" + path)]

    def close(self):
        self.conn.close()


class SmbprotocolClient(object):
    """smbprotocol's high-level smbclient module."""

    def __init__(self, job, password):
        import smbclient

        self.smbclient = smbclient
        self.job = job
        self.password = password
        self.session = None

    def unc(self, path=""):
        j = self.job
        p = "\\\\%s\\%s" % (j["host"], j["share"])
        return p + ("\\" + path.replace("/", "\\") if path else "")

    def connect(self):
        j = self.job
        self.session = self.smbclient.register_session(
            j["host"], username=j["user"], password=self.password, port=j["port"],
        )
        # Connects the share.
        self.smbclient.stat(self.unc(), port=j["port"])

    def dialect(self):
        c = self.session.connection
        d = int(c.dialect)
        name = "%d.%d.%d" % (d >> 8, (d >> 4) & 0xF, d & 0xF)
        if not self.session.signing_required:
            name += " unsigned"
        else:
            algorithm = {0: "HMAC-SHA256", 1: "AES-CMAC", 2: "AES-GMAC"}.get(
                c.signing_algorithm_id if d >= 0x311 and c.signing_algorithm_id is not None
                else (0 if d < 0x300 else 1), "?")
            name += " signed (%s)" % algorithm
        return name

    def download(self, name, sink):
        chunk = self.session.connection.max_read_size
        buf = bytearray(chunk)
        view = memoryview(buf)
        total = 0
        with self.smbclient.open_file(self.unc(name), "rb", buffering=0, port=self.job["port"]) as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                sink.write(view[:n])
                total += n
        return total

    def upload(self, name, src):
        chunk = self.session.connection.max_write_size
        total = 0
        with open(src, "rb") as s, self.smbclient.open_file(
            self.unc(name), "wb", buffering=0, port=self.job["port"]
        ) as f:
            while True:
                data = s.read(chunk)
                if not data:
                    break
                view = memoryview(data)
                while view:
                    n = f.write(view)
                    view = view[n:]
                    total += n
        return total

    def put_bytes(self, path, data):
        with self.smbclient.open_file(self.unc(path), "wb", port=self.job["port"]) as f:
            f.write(data)
        return len(data)

    def get_bytes(self, path, sink):
        with self.smbclient.open_file(self.unc(path), "rb", port=self.job["port"]) as f:
            data = f.read()
        sink.write(data)
        return len(data)

    def list_names(self, path):
        return [e.name for e in self.smbclient.scandir(self.unc(path), port=self.job["port"])]

    def close(self):
        self.smbclient.reset_connection_cache()


def child_main(client_name, op, job):
    password = os.environ.get("BENCH_PASSWORD", "")
    if client_name in ("smbkit", "smbkit-mt"):
        from smbkit.smb import SMBConnection as module

        client = PysmbClient(module, job, password)
    elif client_name == "pysmb":
        from smb import SMBConnection as module

        client = PysmbClient(module, job, password)
    elif client_name == "smbprotocol":
        client = SmbprotocolClient(job, password)
    else:
        raise SystemExit("child: unknown client %r" % client_name)
    verify = job.get("verify", False)
    files = job.get("files", 0)

    # What the small uploads send, read before the clock starts.
    payloads = []
    if op == "small-put":
        for i in range(files):
            with open(os.path.join(job["small_src"], small_name(i)), "rb") as f:
                payloads.append(f.read())

    t0 = time.perf_counter()
    client.connect()
    connect_secs = time.perf_counter() - t0
    digest = None
    t1 = time.perf_counter()
    if op == "connect":
        moved, items = 0, 0
    elif op == "download":
        hasher = hashlib.sha256() if verify else None
        sink = CountingSink(hasher)
        moved = client.download(BIG, sink)
        if sink.n != moved:
            raise SystemExit("download: %d bytes reported, %d written" % (moved, sink.n))
        items = 1
        digest = hasher.hexdigest() if hasher else None
    elif op == "upload":
        moved = client.upload(upload_name(client_name), job["src"])
        items = 1
    elif op == "small-put" and client_name == "smbkit-mt":
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(MT_THREADS) as pool:
            moved = sum(pool.map(
                lambda i: client.put_bytes("%s/%s" % (SMALL_PUT_DIR, small_name(i)), payloads[i]),
                range(len(payloads))))
        items = len(payloads)
    elif op == "small-put":
        moved = 0
        for i, data in enumerate(payloads):
            moved += client.put_bytes("%s/%s" % (SMALL_PUT_DIR, small_name(i)), data)
        items = len(payloads)
    elif op == "small-get" and client_name == "smbkit-mt":
        from concurrent.futures import ThreadPoolExecutor

        received = [None] * files

        def get_one(i):
            sink = io.BytesIO() if verify else CountingSink()
            n = client.get_bytes("%s/%s" % (SMALL_DIR, small_name(i)), sink)
            got = len(sink.getvalue()) if verify else sink.n
            if n != SMALL_SIZE or got != SMALL_SIZE:
                raise SystemExit("%s: %d bytes, expected %d" % (small_name(i), got, SMALL_SIZE))
            if verify:
                received[i] = sink.getvalue()
            return n

        with ThreadPoolExecutor(MT_THREADS) as pool:
            moved = sum(pool.map(get_one, range(files)))
        items = files
        if verify:
            hasher = hashlib.sha256()
            for data in received:
                hasher.update(data)
            digest = hasher.hexdigest()
    elif op == "small-get":
        hasher = hashlib.sha256() if verify else None
        moved = 0
        for i in range(files):
            sink = CountingSink(hasher)
            n = client.get_bytes("%s/%s" % (SMALL_DIR, small_name(i)), sink)
            if n != SMALL_SIZE or sink.n != SMALL_SIZE:
                raise SystemExit("%s: %d bytes, expected %d" % (small_name(i), sink.n, SMALL_SIZE))
            moved += n
        items = files
        digest = hasher.hexdigest() if hasher else None
    elif op == "list":
        names = [n for n in client.list_names(LIST_DIR) if n not in (".", "..")]
        moved, items = 0, len(names)
        if verify:
            digest = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()
    else:
        raise SystemExit("child: unknown operation %r" % op)
    op_secs = time.perf_counter() - t1
    dialect = client.dialect()
    client.close()
    print(json.dumps({
        "connect_secs": connect_secs,
        "op_secs": op_secs,
        "bytes": moved,
        "items": items,
        "sha256": digest,
        "dialect": dialect,
    }))
    sys.stdout.flush()


# ---------------------------------------------------------------------------
# The parent: starts the server, prepares the files, runs the trials


class BenchError(Exception):
    pass


class Trial(object):
    def __init__(self, wall, rss_kib, cpu, server_cpu, result=None):
        self.wall = wall
        self.rss_kib = rss_kib
        self.cpu = cpu
        self.server_cpu = server_cpu
        self.result = result or {}

    @property
    def op_secs(self):
        return self.result.get("op_secs")


def proc_ticks(pid):
    """utime + stime + cutime + cstime of a process, in clock ticks."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return sum(int(v) for v in rest[11:15])


def proc_children(pid):
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out.extend(int(v) for v in f.read().split())
        except OSError:
            pass
    return out


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def machine_busy():
    """user + nice + system and steal ticks of the whole machine."""
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    return cpu[0] + cpu[1] + cpu[2], cpu[7] if len(cpu) > 7 else 0


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(8 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def write_random_file(path, size):
    """``size`` random bytes in ``path``; returns their SHA-256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            b = os.urandom(min(left, 8 * MiB))
            f.write(b)
            h.update(b)
            left -= len(b)
    return h.hexdigest()


class TestServer(object):
    """smbkit-testserver, running until its standard input closes."""

    def __init__(self, exe, profile):
        self.profile = profile
        self.proc = subprocess.Popen(
            [exe, "--profile", profile, "--print-env"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.env = {}
        while "SMBKIT_TEST_SERVER_PID" not in self.env:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                raise BenchError("smbkit-testserver exited (%s) before it printed its settings"
                                 % self.proc.returncode)
            key, _, value = line.rstrip("\n").partition("=")
            if key.startswith("SMBKIT_TEST_"):
                words = shlex.split(value)
                self.env[key] = words[0] if words else ""
        self.host = self.env["SMBKIT_TEST_HOST"]
        self.port = int(self.env["SMBKIT_TEST_PORT"])
        self.user = self.env["SMBKIT_TEST_USER"]
        self.password = self.env["SMBKIT_TEST_PASSWORD"]
        self.share = self.env["SMBKIT_TEST_SHARE"]
        self.share_path = self.env["SMBKIT_TEST_SHARE_PATH"]
        self.dir = self.env["SMBKIT_TEST_DIR"]
        st = os.stat(self.share_path)
        self.owner = (st.st_uid, st.st_gid)

    def smbd_pid(self):
        for pid in proc_children(self.proc.pid):
            if proc_comm(pid).startswith("smbd"):
                return pid
        return None

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait()


def smb2_echo_times(host, port, count=50):
    """Seconds of each of ``count`` SMB2 ECHO round trips on one connection
    (after a NEGOTIATE, no session): the network's round trip plus smbd's
    least work."""

    def header(command, message_id):
        return (b"\xfeSMB" + struct.pack("<HHIHHII", 64, 0, 0, command, 1, 0, 0)
                + struct.pack("<QIIQ", message_id, 0, 0, 0) + b"\0" * 16)

    def frame(payload):
        return struct.pack(">I", len(payload)) + payload

    def read_frame(sock):
        def exactly(n):
            buf = b""
            while len(buf) < n:
                b = sock.recv(n - len(buf))
                if not b:
                    raise BenchError("SMB2 ECHO: the server closed the connection")
                buf += b
            return buf

        n = struct.unpack(">I", exactly(4))[0] & 0xFFFFFF
        return exactly(n)

    negotiate = (header(0, 0) + struct.pack("<HHHHI", 36, 2, 1, 0, 0) + b"smbkit-bench-rtt"
                 + struct.pack("<Q", 0) + struct.pack("<HH", 0x0202, 0x0210))
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(frame(negotiate))
        read_frame(sock)
        times = []
        for i in range(count):
            t0 = time.perf_counter()
            sock.sendall(frame(header(0x000D, i + 1) + struct.pack("<HH", 4, 0)))
            resp = read_frame(sock)
            times.append(time.perf_counter() - t0)
            if resp[:4] != b"\xfeSMB" or struct.unpack("<I", resp[8:12])[0] != 0:
                raise BenchError("SMB2 ECHO failed")
    return times


class DelayProxy(object):
    """``smbkit-testserver delay-proxy`` in front of the server: every byte
    forwarded ``rtt_ms / 2`` later each way; runs until its standard input
    closes."""

    def __init__(self, exe, upstream_port, rtt_ms):
        self.rtt_ms = rtt_ms
        self.proc = subprocess.Popen(
            [exe, "delay-proxy", "--upstream-port", str(upstream_port),
             "--one-way-ms", repr(rtt_ms / 2.0), "--print-env"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        env = {}
        while "SMBKIT_PROXY_PID" not in env:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                raise BenchError("smbkit-testserver delay-proxy exited (%s) before it printed its port"
                                 % self.proc.returncode)
            key, _, value = line.rstrip("\n").partition("=")
            env[key] = value
        self.host = env["SMBKIT_PROXY_HOST"]
        self.port = int(env["SMBKIT_PROXY_PORT"])
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait()


class Bench(object):
    def __init__(self, opts, server, cli):
        self.o = opts
        self.server = server
        self.cli = cli
        # Where clients connect: the server, or a delay proxy in front of it.
        self.host = server.host
        self.port = server.port
        self.repeat = opts.repeat
        self.size = opts.size_mib * MiB
        self.local = tempfile.mkdtemp(prefix="bench-python-", dir=server.dir)
        self.upload_src = os.path.join(self.local, "upload-source.bin")
        self.small_src = os.path.join(self.local, "small-src")
        self.hashes = {}
        self.sessions = {}
        self.smbd = server.smbd_pid()

    # --- preparing ---

    def share_file(self, *parts):
        return os.path.join(self.server.share_path, *parts)

    def own(self, path):
        os.chown(path, *self.server.owner)

    def prepare(self, row):
        if row == "download":
            self.hashes["download"] = write_random_file(self.share_file(BIG), self.size)
        elif row == "upload":
            self.hashes["upload"] = write_random_file(self.upload_src, self.size)
        elif row in ("small-put", "small-get"):
            if "small" in self.hashes:
                return
            os.makedirs(self.small_src, exist_ok=True)
            os.makedirs(self.share_file(SMALL_DIR), exist_ok=True)
            h = hashlib.sha256()
            for i in range(self.o.files):
                data = os.urandom(SMALL_SIZE)
                h.update(data)
                for d in (self.small_src, self.share_file(SMALL_DIR)):
                    with open(os.path.join(d, small_name(i)), "wb") as f:
                        f.write(data)
            self.hashes["small"] = h.hexdigest()
        elif row == "list":
            d = self.share_file(LIST_DIR)
            os.makedirs(d, exist_ok=True)
            names = []
            for i in range(self.o.entries):
                name = "entry-%06d.txt" % i
                open(os.path.join(d, name), "wb").close()
                names.append(name)
            self.hashes["list"] = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()

    def reset_small_put(self):
        d = self.share_file(SMALL_PUT_DIR)
        shutil.rmtree(d, ignore_errors=True)
        os.mkdir(d)
        self.own(d)

    def clear_uploads(self):
        for c in CLIENTS:
            try:
                os.remove(self.share_file(upload_name(c)))
            except FileNotFoundError:
                pass

    # --- running ---

    def spawn(self, argv, env=None, stdout_to_null=False):
        """Runs ``argv`` to its end; returns (Trial, stdout, stderr)."""
        out = tempfile.TemporaryFile()
        err = tempfile.TemporaryFile()
        smbd = self.smbd
        before_children = set(proc_children(smbd)) if smbd else set()
        server_before = proc_ticks(smbd) if smbd else None
        t0 = time.perf_counter()
        p = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if stdout_to_null else out, stderr=err, env=env,
        )
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        server_cpu = None
        if smbd:
            # smbd's connection process ends once the client has gone; its
            # CPU time reaches smbd's counters once smbd has reaped it.
            deadline = time.monotonic() + 2
            while (set(proc_children(smbd)) - before_children) and time.monotonic() < deadline:
                time.sleep(0.002)
            server_cpu = (proc_ticks(smbd) - server_before) / 100.0
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        out.close()
        err.close()
        if p.returncode != 0:
            raise BenchError("%s failed (exit %s):\n%s%s" % (
                " ".join(argv[:4]), p.returncode, stdout[-2000:], stderr[-4000:]))
        trial = Trial(wall, ru.ru_maxrss, ru.ru_utime + ru.ru_stime, server_cpu)
        return trial, stdout, stderr

    def python_trial(self, client, op, verify=False):
        job = {
            "host": self.host,
            "port": self.port,
            "user": self.server.user,
            "share": self.server.share,
            "files": self.o.files,
            "src": self.upload_src,
            "small_src": self.small_src,
            "verify": verify,
        }
        env = dict(os.environ, BENCH_PASSWORD=self.server.password)
        argv = [sys.executable, os.path.abspath(__file__), "child", client, op, json.dumps(job)]
        trial, stdout, _ = self.spawn(argv, env=env)
        lines = [l for l in stdout.splitlines() if l.startswith("{")]
        if not lines:
            raise BenchError("%s %s printed no result: %s" % (client, op, stdout[-2000:]))
        trial.result = json.loads(lines[-1])
        self.sessions.setdefault(client, trial.result.get("dialect"))
        return trial

    def cli_url(self, name=""):
        return "smb://%s@%s:%d/%s/%s" % (
            self.server.user, self.host, self.port, self.server.share, name)

    def cli_trial(self, args, stdout_to_null=False):
        env = dict(os.environ, SMBKIT_PASSWORD=self.server.password)
        trial, _, _ = self.spawn([self.cli, "-q"] + args, env=env, stdout_to_null=stdout_to_null)
        return trial

    def cli_session(self):
        """The CLI's dialect and signing, from ``smbkit info``."""
        env = dict(os.environ, SMBKIT_PASSWORD=self.server.password)
        _, stdout, _ = self.spawn([self.cli, "info", self.cli_url()], env=env)
        fields = {}
        for line in stdout.splitlines():
            k, _, v = line.partition(":")
            fields[k.strip()] = v.strip()
        dialect = fields.get("dialect", "?").replace("SMB ", "")
        signing = fields.get("signing", "?")
        self.sessions["cli"] = dialect + (" unsigned" if signing == "off" else " signed (%s)" % signing)

    def check(self, client, row, trial, verify):
        """Checks what a trial moved; with ``verify``, every byte of it."""
        r = trial.result
        if row in ("download", "upload"):
            if client != "cli" and (r.get("bytes") != self.size or r.get("items") != 1):
                raise BenchError("%s %s moved %s bytes, expected %d" % (client, row, r.get("bytes"), self.size))
            if row == "download" and verify and client != "cli" and r.get("sha256") != self.hashes["download"]:
                raise BenchError("%s download: the SHA-256 of the bytes received differs from the file's" % client)
            if row == "upload":
                path = self.share_file(upload_name(client))
                got = os.path.getsize(path)
                if got != self.size:
                    raise BenchError("%s upload: %s has %d bytes, expected %d" % (client, path, got, self.size))
                if verify and sha256_file(path) != self.hashes["upload"]:
                    raise BenchError("%s upload: the SHA-256 of the stored file differs from the source's" % client)
        elif row == "small-put":
            if r.get("items") != self.o.files or r.get("bytes") != self.o.files * SMALL_SIZE:
                raise BenchError("%s small-put: %s files, %s bytes" % (client, r.get("items"), r.get("bytes")))
            h = hashlib.sha256() if verify else None
            for i in range(self.o.files):
                path = self.share_file(SMALL_PUT_DIR, small_name(i))
                if h is None:
                    if os.path.getsize(path) != SMALL_SIZE:
                        raise BenchError("%s small-put: %s has the wrong size" % (client, path))
                else:
                    with open(path, "rb") as f:
                        h.update(f.read())
            if h is not None and h.hexdigest() != self.hashes["small"]:
                raise BenchError("%s small-put: the stored files differ from the sources" % client)
        elif row == "small-get":
            if r.get("items") != self.o.files or r.get("bytes") != self.o.files * SMALL_SIZE:
                raise BenchError("%s small-get: %s files, %s bytes" % (client, r.get("items"), r.get("bytes")))
            if verify and r.get("sha256") != self.hashes["small"]:
                raise BenchError("%s small-get: the SHA-256 of the bytes received differs" % client)
        elif row == "list":
            if r.get("items") != self.o.entries:
                raise BenchError("%s listed %s entries, expected %d" % (client, r.get("items"), self.o.entries))
            if verify and r.get("sha256") != self.hashes["list"]:
                raise BenchError("%s list: the names listed differ from the folder's" % client)

    def trial(self, client, row, verify):
        """One run of ``client`` on ``row``, checked."""
        if row == "upload":
            self.clear_uploads()
        elif row == "small-put":
            self.reset_small_put()
        os.sync()
        if client == "cli":
            if row == "download":
                if verify:
                    dest = os.path.join(self.local, "cli-download.bin")
                    t = self.cli_trial(["get", self.cli_url(BIG), dest])
                    ok = sha256_file(dest) == self.hashes["download"]
                    os.remove(dest)
                    if not ok:
                        raise BenchError("cli download: the SHA-256 of the file received differs")
                else:
                    t = self.cli_trial(["get", self.cli_url(BIG), "-"], stdout_to_null=True)
            elif row == "upload":
                t = self.cli_trial(["put", self.upload_src, self.cli_url(upload_name("cli"))])
            else:
                raise BenchError("the CLI has no %s row" % row)
        else:
            t = self.python_trial(client, row, verify)
        self.check(client, row, t, verify)
        if row == "upload":
            self.clear_uploads()
        return t

    def cli_baseline(self):
        """What starting the CLI, connecting, logging on, connecting the
        share, one query and exiting cost (best of BASELINE_TRIALS)."""
        trials = [self.cli_trial(["stat", self.cli_url(BIG if os.path.exists(self.share_file(BIG)) else "")],
                                 stdout_to_null=True)
                  for _ in range(BASELINE_TRIALS)]
        return trials

    def measure(self, row, clients):
        res = {}
        for client in clients:
            verify = self.trial(client, row, verify=True)
            log("  %-12s checking run %s" % (CLIENT_LABEL[client], describe(verify)))
            trials = []
            for _ in range(self.repeat):
                t = self.trial(client, row, verify=False)
                log("  %-12s %s" % (CLIENT_LABEL[client], describe(t)))
                trials.append(t)
            res[client] = trials
        return res


def describe(t):
    parts = ["wall %.1f ms" % (t.wall * 1e3)]
    if t.op_secs is not None:
        parts.append("op %.1f ms" % (t.op_secs * 1e3))
        parts.append("connect %.1f ms" % (t.result["connect_secs"] * 1e3))
    parts.append("CPU client %.0f ms" % (t.cpu * 1e3))
    if t.server_cpu is not None:
        parts.append("server %.0f ms" % (t.server_cpu * 1e3))
    parts.append("RSS %.1f MiB" % (t.rss_kib / 1024.0))
    return ", ".join(parts)


def log(msg):
    print("bench: " + msg if not msg.startswith("  ") else msg, file=sys.stderr, flush=True)


def op_time(client, t, cli_base):
    """The seconds a trial's operation took."""
    if client == "cli":
        return max(t.wall - cli_base, 1e-6)
    return max(t.op_secs, 1e-6)


def fmt_rate(v, unit):
    if unit == "MiB/s":
        return "%.0f MiB/s" % v if v >= 10 else "%.1f MiB/s" % v
    return "%.0f %s" % (v, unit)


def fmt_secs(s):
    return "%.2f s" % s if s >= 1 else "%.0f ms" % (s * 1e3)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def version_of(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


def size_label(nbytes):
    if nbytes >= 1 << 30 and nbytes % (1 << 30) == 0:
        return "%d GiB" % (nbytes >> 30)
    return "%d MiB" % (nbytes >> 20)


def pysmb_connects(server, o):
    """Whether pysmb logs on to ``server`` (a run of its own in a child),
    and the dialect it speaks there, or why it failed."""
    bench = Bench(o, server, None)
    try:
        bench.python_trial("pysmb", "connect")
        return True, bench.sessions.get("pysmb")
    except BenchError as e:
        lines = str(e).strip().splitlines()
        return False, lines[-1] if lines else "failed"


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="scripts/bench-python",
        description="smbkit.smb against pysmb 1.2.15, smbprotocol and the smbkit CLI on one private "
                    "Samba server (needs root; scripts/bench-python builds and installs everything).",
    )
    p.add_argument("--size-mib", type=int, default=1024, help="size of the downloaded and uploaded file (default 1024)")
    p.add_argument("--files", type=int, default=1000, help="number of 4 KiB files put and got (default 1000)")
    p.add_argument("--entries", type=int, default=10000, help="entries of the listed folder (default 10000)")
    p.add_argument("--repeat", type=int, default=3, help="timed trials per client and row at round trip 0; the best is kept (default 3)")
    p.add_argument("--rtt-ms", default="0,1",
                   help="network round-trip times to measure at, in ms, comma-separated (default 0,1): 0 is "
                        "the server directly, others go through a latency proxy (e.g. 0,1,10)")
    p.add_argument("--rtt-repeat", type=int, default=None,
                   help="timed trials per client and row at the other round trips (default 2, or --repeat if less)")
    p.add_argument("--only", default=None,
                   help="the rows to run, comma-separated: " + ", ".join(ROWS))
    p.add_argument("--clients", default=",".join(DEFAULT_ORDER),
                   help="the clients to run, comma-separated, in the order they are measured (default: %s)"
                        % ",".join(DEFAULT_ORDER))
    p.add_argument("--profile", default="modern",
                   help="the test server's profile (default modern; legacy when pysmb cannot log on to it)")
    p.add_argument("--cli", default=os.environ.get("SMBKIT_BENCH_CLI", os.path.join(REPO, "target/release/smbkit")),
                   help="the smbkit CLI binary (default $SMBKIT_BENCH_CLI)")
    p.add_argument("--testserver", default=os.environ.get("SMBKIT_BENCH_TESTSERVER",
                                                          os.path.join(REPO, "target/release/smbkit-testserver")),
                   help="the smbkit-testserver binary (default $SMBKIT_BENCH_TESTSERVER)")
    o = p.parse_args(argv)
    o.size_mib = max(o.size_mib, 1)
    o.files = max(o.files, 1)
    o.entries = max(o.entries, 1)
    o.repeat = max(o.repeat, 1)
    o.rtt_repeat = max(o.rtt_repeat, 1) if o.rtt_repeat is not None else min(2, o.repeat)
    o.rtts = []
    for v in o.rtt_ms.split(","):
        if not v.strip():
            continue
        try:
            rtt = float(v)
        except ValueError:
            p.error("--rtt-ms: not a number of milliseconds: %r" % v)
        if not 0 <= rtt <= 10000:
            p.error("--rtt-ms: %r is out of range (0 to 10000)" % v)
        if rtt not in o.rtts:
            o.rtts.append(rtt)
    if not o.rtts:
        p.error("--rtt-ms: no round-trip time given")
    rows = ROWS if o.only is None else [r.strip() for r in o.only.split(",") if r.strip()]
    for r in rows:
        if r not in ROWS:
            p.error("--only: unknown row %r (%s)" % (r, ", ".join(ROWS)))
    o.rows = [r for r in ROWS if r in rows]
    clients = [c.strip() for c in o.clients.split(",") if c.strip()]
    for c in clients:
        if c not in CLIENTS:
            p.error("--clients: unknown client %r (%s)" % (c, ", ".join(CLIENTS)))
    # Measured in the order given, shown in the usual order.
    o.order = list(dict.fromkeys(clients))
    o.clients = [c for c in CLIENTS if c in clients]
    return o


def main(argv):
    o = parse_args(argv)
    if os.geteuid() != 0:
        raise BenchError("needs root (smbd switches users)")
    for exe in ([o.testserver] + ([o.cli] if "cli" in o.clients else [])):
        if not os.access(exe, os.X_OK):
            raise BenchError("%s is missing: run scripts/bench-python, which builds it" % exe)
    started = time.monotonic()

    profile = o.profile
    profile_note = ""
    server = TestServer(o.testserver, profile)
    try:
        if "pysmb" in o.clients:
            ok, what = pysmb_connects(server, o)
            if not ok and profile != "legacy":
                log("pysmb cannot log on to the %s server (%s); using the legacy profile" % (profile, what))
                server.stop()
                profile_note = " (pysmb could not log on to %s: %s)" % (profile, what)
                profile = "legacy"
                server = TestServer(o.testserver, profile)
                ok, what = pysmb_connects(server, o)
            if not ok:
                raise BenchError("pysmb cannot log on to the %s server: %s" % (profile, what))
        bench = Bench(o, server, o.cli)
        log("%s server on %s:%d, preparing files…" % (profile, server.host, server.port))
        for row in o.rows:
            bench.prepare(row)
        os.sync()

        summary = []
        for i, rtt in enumerate(o.rtts):
            proxy = None
            if rtt > 0:
                proxy = DelayProxy(o.testserver, server.port, rtt)
                bench.host, bench.port = proxy.host, proxy.port
                bench.repeat = o.rtt_repeat
                log("round trip %s: through the delay proxy on %s:%d (%g ms each way)"
                    % (rtt_label(rtt), proxy.host, proxy.port, rtt / 2.0))
            else:
                bench.host, bench.port = server.host, server.port
                bench.repeat = o.repeat
                log("round trip %s: directly to the server" % rtt_label(rtt))
            try:
                run = run_rtt(o, bench, rtt, proxy)
            finally:
                if proxy is not None:
                    proxy.stop()
            print_table(o, bench, profile, profile_note, rtt, run, header=(i == 0))
            summary.append((rtt, run))
        if len(o.rtts) > 1:
            print_summary(o, summary)
        log("whole run: %.0f s" % (time.monotonic() - started))
    finally:
        server.stop()


def run_rtt(o, bench, rtt, proxy):
    """Every row at one round-trip time: the results, the CLI's baseline and
    what else used the CPU meanwhile."""
    cli_base_trials = []
    rows_with_cli = [r for r in o.rows if r in CLI_ROWS]
    if "cli" in o.clients and rows_with_cli:
        if "cli" not in bench.sessions:
            bench.cli_session()
        log("CLI baseline (start, connect, log on, connect the share, stat, exit)")
        cli_base_trials = bench.cli_baseline()
        log("  " + ", ".join("%.1f ms" % (t.wall * 1e3) for t in cli_base_trials))
    cli_base = min((t.wall for t in cli_base_trials), default=0.0)
    echo = sorted(smb2_echo_times(bench.host, bench.port))
    log("SMB2 ECHO round trip: best %.3f ms, median %.3f ms" % (echo[0] * 1e3, statistics.median(echo) * 1e3))

    def ours():
        ticks = proc_ticks("self") + (proc_ticks(bench.smbd) if bench.smbd else 0)
        return ticks + (proc_ticks(proxy.pid) if proxy else 0)

    busy0, steal0 = machine_busy()
    ours0 = ours()
    proxy0 = proc_ticks(proxy.pid) if proxy else 0
    t_trials = time.monotonic()
    results = {}
    for row in o.rows:
        clients = [c for c in o.order
                   if (c != "cli" or row in CLI_ROWS) and (c != "smbkit-mt" or row in MT_ROWS)]
        log(row_label(row, o))
        results[row] = bench.measure(row, clients)
    elapsed = time.monotonic() - t_trials
    busy1, steal1 = machine_busy()
    ours1 = ours()
    proxy_cpu = (proc_ticks(proxy.pid) - proxy0) / 100.0 if proxy else None
    cap = max(elapsed * 100.0 * (os.cpu_count() or 1), 1.0)
    log("trials at round trip %s: %.0f s" % (rtt_label(rtt), elapsed))
    return {
        "results": results,
        "cli_base": cli_base,
        "others": 100.0 * max(busy1 - busy0 - (ours1 - ours0), 0) / cap,
        "steal": 100.0 * max(steal1 - steal0, 0) / cap,
        "elapsed": elapsed,
        "proxy_cpu": proxy_cpu,
        "repeat": bench.repeat,
        "echo": echo,
    }


def rtt_label(rtt):
    return "0 (direct)" if rtt == 0 else "%g ms" % rtt


def row_label(row, o):
    size = size_label(o.size_mib * MiB)
    return {
        "download": "download %s" % size,
        "upload": "upload %s" % size,
        "small-put": "put %d x 4 KiB" % o.files,
        "small-get": "get %d x 4 KiB" % o.files,
        "list": "list %d entries" % o.entries,
    }[row]


def row_unit(row, o):
    if row in ("download", "upload"):
        return "MiB/s", o.size_mib
    if row in ("small-put", "small-get"):
        return "files/s", o.files
    return "ent/s", o.entries


def print_table(o, bench, profile, profile_note, rtt, run, header=True):
    results = run["results"]
    cli_base = run["cli_base"]
    out = []
    w = out.append
    if header:
        sessions = ", ".join("%s %s" % (CLIENT_LABEL[c], bench.sessions[c])
                             for c in CLIENTS if bench.sessions.get(c))
        w("smbkit.smb (smbkit %s) vs pysmb %s, smbprotocol %s and the smbkit CLI; Python %s on %s (%d CPUs, Linux %s)"
          % (version_of("smbkit"), version_of("pysmb"), version_of("smbprotocol"), platform.python_version(),
             cpu_model(), os.cpu_count() or 0, platform.release()))
        w("server: smbkit-testserver, profile %s (%s)%s, on 127.0.0.1 (direct TCP, no encryption); sessions: %s"
          % (profile, PROFILE_DIALECTS.get(profile, "?"), profile_note, sessions or "?"))
        w("Python clients: the operation alone, timed in the child (connect, logon and tree connect excluded); "
          "CLI: spawn to exit minus its baseline (start, connect, logon, tree connect, stat, exit)")
        w("")
    if rtt == 0:
        w("== round trip 0: directly to the server on loopback ==")
    else:
        w("== round trip %g ms: through smbkit-testserver delay-proxy on 127.0.0.1 (%g ms each way), "
          "every client ==" % (rtt, rtt / 2.0))
    notes = "best of %d trials per client (after one untimed run that checks every byte)" % run["repeat"]
    if cli_base > 0:
        notes += "; CLI baseline %.1f ms" % (cli_base * 1e3)
    if run["proxy_cpu"] is not None:
        notes += "; the proxy used %.1f s of CPU in %.0f s" % (run["proxy_cpu"], run["elapsed"])
    w(notes)
    echo = run["echo"]
    w("SMB2 ECHO round trip (one connection, %d echoes): best %.3f ms, median %.3f ms"
      % (len(echo), echo[0] * 1e3, statistics.median(echo) * 1e3))
    w("CPU used by other processes during the trials: %.0f%% of the machine (steal %.0f%%); above a few %%, "
      "the numbers are noisy" % (run["others"], run["steal"]))
    w("")

    def best_time(client, row):
        return min(op_time(client, t, cli_base) for t in results[row][client])

    def median_time(client, row):
        return statistics.median(op_time(client, t, cli_base) for t in results[row][client])

    cols = [c for c in o.clients]
    head = "%-22s" % "operation" + "".join("%16s" % CLIENT_LABEL[c] for c in cols)
    ratio_cols = [c for c in ("pysmb", "smbprotocol", "cli") if c in cols and "smbkit" in cols]
    head += "".join("%14s" % ("÷ " + CLIENT_LABEL[c].replace("smbkit ", "")) for c in ratio_cols)
    mt_ratio = "smbkit-mt" in cols and "pysmb" in cols
    if mt_ratio:
        head += "%16s" % "8thr ÷ pysmb"
    w(head)
    rates = {}
    for row in o.rows:
        unit, amount = row_unit(row, o)
        line = "%-22s" % row_label(row, o)
        rates[row] = {}
        for c in cols:
            if c in results[row]:
                rates[row][c] = amount / best_time(c, row)
                line += "%16s" % fmt_rate(rates[row][c], unit)
            else:
                line += "%16s" % "-"
        for c in ratio_cols:
            if c in rates[row] and "smbkit" in rates[row]:
                line += "%14s" % ("%.2f" % (rates[row]["smbkit"] / rates[row][c]))
            else:
                line += "%14s" % "-"
        if mt_ratio:
            if "smbkit-mt" in rates[row] and "pysmb" in rates[row]:
                line += "%16s" % ("%.2f" % (rates[row]["smbkit-mt"] / rates[row]["pysmb"]))
            else:
                line += "%16s" % "-"
        w(line)
    run["rates"] = rates
    w("ratio = smbkit.smb's rate / the other's (above 1: smbkit.smb is faster); MiB = 2^20 bytes")
    if mt_ratio:
        w("smbkit.smb 8thr: the same files from %d threads sharing smbkit.smb's one connection (pysmb's "
          "SMBConnection is not thread-safe, so it has no such column)" % MT_THREADS)
    w("")

    w("%-22s" % "time best / median" + "".join("%20s" % CLIENT_LABEL[c] for c in cols))
    for row in o.rows:
        line = "%-22s" % row_label(row, o)
        for c in cols:
            if c in results[row]:
                line += "%20s" % ("%s / %s" % (fmt_secs(best_time(c, row)), fmt_secs(median_time(c, row))))
            else:
                line += "%20s" % "-"
        w(line)
    w("")

    w("%-22s" % "peak RSS" + "".join("%16s" % CLIENT_LABEL[c] for c in cols))
    for row in o.rows:
        line = "%-22s" % row_label(row, o)
        for c in cols:
            if c in results[row]:
                line += "%16s" % ("%.1f MiB" % (max(t.rss_kib for t in results[row][c]) / 1024.0))
            else:
                line += "%16s" % "-"
        w(line)
    w("RSS: the peak of the client's process over its timed trials (os.wait4), the Python interpreter included")
    w("")

    w("%-22s" % "CPU client / server" + "".join("%20s" % CLIENT_LABEL[c] for c in cols))
    for row in o.rows:
        line = "%-22s" % row_label(row, o)
        for c in cols:
            if c in results[row]:
                ts = results[row][c]
                cli_cpu = statistics.median(t.cpu for t in ts)
                srv = [t.server_cpu for t in ts if t.server_cpu is not None]
                srv_s = "%.2f" % statistics.median(srv) if srv else "?"
                line += "%20s" % ("%.2f / %s s" % (cli_cpu, srv_s))
            else:
                line += "%20s" % "-"
        w(line)
    w("CPU: median user+system seconds of the client process (whole run: interpreter start, imports, connect) / "
      "of smbd's connection process")
    w("")

    w("targets at round trip %s:" % rtt_label(rtt))
    for row in o.rows:
        r = rates[row]
        if "smbkit" not in r:
            continue
        if "pysmb" in r:
            want = PYSMB_TARGET[row]
            got = r["smbkit"] / r["pysmb"]
            w("  %-22s smbkit.smb >= %.0fx pysmb: %.2fx  %s" % (row_label(row, o), want, got,
                                                                  "met" if got >= want else "NOT MET"))
        if "smbkit-mt" in r and "pysmb" in r:
            want = PYSMB_TARGET[row]
            got = r["smbkit-mt"] / r["pysmb"]
            w("  %-22s smbkit.smb, %d threads >= %.0fx pysmb: %.2fx  %s" % (
                row_label(row, o), MT_THREADS, want, got, "met" if got >= want else "NOT MET"))
        if "cli" in r:
            got = r["smbkit"] / r["cli"]
            w("  %-22s smbkit.smb within 15%% of the CLI (>= %.2fx): %.2fx  %s" % (
                row_label(row, o), CLI_TARGET, got, "met" if got >= CLI_TARGET else "NOT MET"))
    w("")
    print("\n".join(out))
    sys.stdout.flush()


def print_summary(o, summary):
    """smbkit.smb's ratio to pysmb per row and round trip, against the targets."""
    if not any("pysmb" in r and "smbkit" in r for _, run in summary for r in run["rates"].values()):
        return
    out = []
    w = out.append
    w("== smbkit.smb / pysmb by round trip (target in brackets) ==")
    w("%-22s" % "operation" + "".join("%18s" % ("rtt " + rtt_label(rtt).replace(" (direct)", ""))
                                      for rtt, _ in summary))
    for row in o.rows:
        line = "%-22s" % ("%s [%gx]" % (row_label(row, o), PYSMB_TARGET[row]))
        for _, run in summary:
            r = run["rates"][row]
            if "smbkit" in r and "pysmb" in r:
                got = r["smbkit"] / r["pysmb"]
                line += "%18s" % ("%.2fx %s" % (got, "met" if got >= PYSMB_TARGET[row] else "NOT MET"))
            else:
                line += "%18s" % "-"
        w(line)
    print("\n".join(out))
    sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        if len(sys.argv) != 5:
            raise SystemExit("usage: bench.py child CLIENT OPERATION JOB-JSON")
        child_main(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
        sys.exit(0)
    try:
        main(sys.argv[1:])
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
