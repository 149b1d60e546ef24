"""Fixtures for the scenario suite of pysmb's API.

The same tests run against two implementations of the `smb` package, chosen with the environment
variable SMBKIT_PY_IMPL:

* ``pysmb`` (the default): pysmb itself, as installed from PyPI (see requirements.txt);
* ``smbkit``: smbkit's compatibility layer. ``smbkit.compat.install()`` runs here, before any test
  module imports ``smb``, so that ``import smb`` and ``from smb.SMBConnection import SMBConnection``
  resolve to ``smbkit.smb``.

Servers come from ``smbkit-testserver`` (``--profile NAME --print-env``): a private smbd on 127.0.0.1
that prints ``SMBKIT_TEST_*=value`` lines once it listens and stops when its standard input closes.
The binary is ``$SMBKIT_TESTSERVER``, else ``<repo>/target/debug/smbkit-testserver``. One server
per profile is started on first use and stopped at the end of the session.

Scenarios that pysmb 1.2.15 cannot do are marked with the ``pysmb_gap`` fixture: a strict xfail
when running pysmb, a plain requirement when running smbkit.
"""

import atexit
import hashlib
import importlib.util
import itertools
import os
import pwd
import random
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from proxy import StallingProxy

IMPL = (os.environ.get("SMBKIT_PY_IMPL") or "pysmb").strip().lower()
REPO = Path(__file__).resolve().parents[2]


def _install_implementation():
    if IMPL == "smbkit":
        try:
            import smbkit.compat
        except ImportError:
            # A source checkout whose extension module was built in place.
            sys.path.insert(0, str(REPO / "python"))
            import smbkit.compat
        smbkit.compat.install()
    elif IMPL != "pysmb":
        raise pytest.UsageError(f"SMBKIT_PY_IMPL must be 'pysmb' or 'smbkit', not {IMPL!r}")


_install_implementation()

import smb  # noqa: E402  (after the implementation is chosen)
from smb import smb_structs  # noqa: E402
from smb.SMBConnection import SMBConnection  # noqa: E402

if SMBConnection.__module__.startswith("smbkit.") != (IMPL == "smbkit"):
    raise pytest.UsageError(
        f"SMBKIT_PY_IMPL={IMPL}, but smb.SMBConnection.SMBConnection comes from {SMBConnection.__module__} "
        f"({getattr(sys.modules.get(SMBConnection.__module__), '__file__', '?')})"
    )

#: The NetBIOS name the test servers are configured with (smbd accepts any called name anyway).
SERVER_NAME = "SMBKITTEST"
#: Our own NetBIOS name.
CLIENT_NAME = "PYTESTCLIENT"

#: How long a server may take to print its variables.
SERVER_START_TIMEOUT = 60.0


def pytest_configure(config):
    if IMPL == "pysmb":
        # pysmb's SMBHandler still uses urllib.parse's splitport() & co.
        config.addinivalue_line("filterwarnings", "ignore:urllib.parse.split:DeprecationWarning:smb.SMBHandler")


def pytest_report_header(config):
    where = getattr(smb, "__file__", None) or getattr(smb, "__name__", "?")
    return f"smb implementation: {IMPL} ({where})"


def _modules_needing_smbkit():
    """Test modules here that import smbkit themselves: they cannot run against pysmb alone while
    smbkit is not installed."""
    if IMPL != "pysmb" or importlib.util.find_spec("smbkit") is not None:
        return set()
    pattern = re.compile(r"^(import smbkit|from smbkit[ .])", re.MULTILINE)
    here = Path(__file__).parent
    return {p.name for p in here.glob("test_*.py") if pattern.search(p.read_text(encoding="utf-8"))}


_NOT_COLLECTED = _modules_needing_smbkit()


def pytest_ignore_collect(collection_path, config):
    if collection_path.name in _NOT_COLLECTED and collection_path.parent == Path(__file__).parent:
        return True
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _NOT_COLLECTED:
        terminalreporter.write_line(
            "not collected (they import smbkit, which is not installed): " + ", ".join(sorted(_NOT_COLLECTED))
        )


# --------------------------------------------------------------------------------------------------
# Known gaps of pysmb
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def pysmb_gap(request):
    """``pysmb_gap(reason, when=True)`` marks the running test as a strict xfail when the
    implementation is pysmb and ``when`` holds: pysmb 1.2.15 cannot do it, smbkit must."""

    def mark(reason, when=True):
        if IMPL == "pysmb" and when:
            request.applymarker(
                pytest.mark.xfail(reason=f"pysmb 1.2.15: {reason}", strict=True)
            )

    return mark


# --------------------------------------------------------------------------------------------------
# Test servers
# --------------------------------------------------------------------------------------------------


def testserver_binary():
    candidates = []
    explicit = os.environ.get("SMBKIT_TESTSERVER")
    if explicit:
        candidates.append(Path(explicit))
    candidates.append(REPO / "target" / "debug" / "smbkit-testserver")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise RuntimeError(
        "smbkit-testserver not found (tried "
        + ", ".join(str(p) for p in candidates)
        + "); build it with `cargo build -p smbkit-testserver` or set SMBKIT_TESTSERVER"
    )


@dataclass
class Server:
    """One running smbkit-testserver and what it printed."""

    profile: str
    process: subprocess.Popen
    env: dict
    stderr_path: Path

    @property
    def host(self):
        return self.env["SMBKIT_TEST_HOST"]

    @property
    def port(self):
        return int(self.env["SMBKIT_TEST_PORT"])

    @property
    def user(self):
        return self.env["SMBKIT_TEST_USER"]

    @property
    def password(self):
        return self.env["SMBKIT_TEST_PASSWORD"]

    @property
    def domain(self):
        return self.env["SMBKIT_TEST_DOMAIN"]

    @property
    def share(self):
        return self.env["SMBKIT_TEST_SHARE"]

    @property
    def share_path(self):
        return Path(self.env["SMBKIT_TEST_SHARE_PATH"])

    @property
    def readonly_path(self):
        return Path(self.env["SMBKIT_TEST_READONLY_PATH"])

    @property
    def snapshots_path(self):
        return Path(self.env["SMBKIT_TEST_SNAPSHOTS_PATH"])

    @property
    def dir(self):
        return Path(self.env["SMBKIT_TEST_DIR"])

    def give_to_user(self, path):
        """chown -R ``path`` to the share's user, so that it can change or delete it through SMB."""
        entry = pwd.getpwnam(self.user)
        path = Path(path)
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        if path.is_dir() and not path.is_symlink():
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def log_tail(self, lines=40):
        out = []
        for log in sorted(self.dir.glob("log.*")) + [self.dir / "smbd.out", self.stderr_path]:
            try:
                text = log.read_text(errors="replace").splitlines()
            except OSError:
                continue
            if text:
                out.append(f"==> {log.name} <==")
                out.extend(text[-lines:])
        return "\n".join(out)

    def stop(self):
        proc = self.process
        if proc.poll() is None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        try:
            self.stderr_path.unlink()
        except OSError:
            pass


def start_server(profile):
    binary = testserver_binary()
    fd, stderr_name = tempfile.mkstemp(prefix=f"smbkit-testserver-{profile}-", suffix=".stderr")
    stderr_path = Path(stderr_name)
    with os.fdopen(fd, "wb") as stderr:
        proc = subprocess.Popen(
            [str(binary), "--profile", profile, "--print-env"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            close_fds=True,
        )
    env = {}
    buf = b""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    try:
        while "SMBKIT_TEST_SERVER_PID" not in env:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"smbkit-testserver --profile {profile} printed nothing in time")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(
                    f"smbkit-testserver --profile {profile} exited ({proc.wait()}): "
                    + stderr_path.read_text(errors="replace")
                )
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                key, sep, value = line.decode().partition("=")
                if sep and key.startswith("SMBKIT_TEST_"):
                    env[key] = _unquote(value)
    except BaseException:
        Server(profile, proc, env, stderr_path).stop()
        raise
    return Server(profile, proc, env, stderr_path)


def _unquote(value):
    """Undoes the POSIX shell quoting the server applies to values that need it."""
    if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
        return value[1:-1].replace("'\\''", "'")
    return value


class ServerPool:
    """Starts one server per profile on first use; stops them all at the end."""

    def __init__(self):
        self._servers = {}

    def get(self, profile):
        server = self._servers.get(profile)
        if server is None:
            server = start_server(profile)
            self._servers[profile] = server
        return server

    def running(self):
        return list(self._servers.values())

    def stop_all(self):
        while self._servers:
            _, server = self._servers.popitem()
            server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report gets the tail of smbd's logs of the servers it used
    (SMBKIT_TEST_LOG_LEVEL=3 makes them say why a request was refused)."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or hasattr(report, "wasxfail"):
        return
    funcargs = getattr(item, "funcargs", {})
    used = [v for v in funcargs.values() if isinstance(v, Server)]
    pool = funcargs.get("servers")
    if isinstance(pool, ServerPool):
        used.extend(s for s in pool.running() if s not in used)
    for server in used:
        report.sections.append((f"smbd log ({server.profile})", server.log_tail(20)))


@pytest.fixture(scope="session")
def servers():
    pool = ServerPool()
    atexit.register(pool.stop_all)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def legacy_server(servers):
    """SMB1 and SMB2/3, NTLMv1 and NTLMv2: the server every parametrized scenario runs against."""
    return servers.get("legacy")


# --------------------------------------------------------------------------------------------------
# The files the scenarios expect
# --------------------------------------------------------------------------------------------------


def make_bytes(size, seed):
    return random.Random(seed).randbytes(size)


def make_text(size, seed):
    rng = random.Random(seed)
    words = ["server", "message", "block", "session", "tree", "connect", "negotiate", "oplock",
             "credit", "signing", "netbios", "dialect", "request", "response", "file", "share"]
    out = bytearray()
    while len(out) < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
        out += line.encode() + b"\r\n"
    return bytes(out[:size])


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@dataclass
class Tree:
    """What the ``share`` share of the legacy server holds before any test runs (root-owned, so that
    no test can change it by mistake); paths as the SMB client names them."""

    files: dict = field(default_factory=dict)

    text_file = "/notes.txt"
    long_name_file = "/A Document With A Rather Long File Name - Part 1.html"
    unicode_dir = "/数据 Ünïcødé"
    unicode_file = "/数据 Ünïcødé/报告 データ.dat"
    big_file = "/big.bin"
    long_dir = "/Folder With A Long Name"
    long_dir_entries = {
        "Sample File.txt": False,
        "Sample Folder": True,
        "子文件夹": True,
        "other.txt": False,
    }
    short_dir = "/Dir1"
    many_dir = "/Archive 999"
    many_names = [f"doc{i:04d}.txt" for i in range(1, 1000)]
    empty_dir = "/Empty Folder"
    text_mtime = 1_600_000_000  # 2020-09-13T12:26:40Z
    snapshot_file = "/snapfile.txt"
    snapshot_dir = "/snapdir"
    snapshots = ["2024-06-30T12:30:00", "2024-01-01T00:00:00"]  # what the server's snapshots are named after
    hello = b"hello\n"  # /hello.txt on the readonly share

    def content(self, path):
        return self.files[path]


def build_tree(server):
    root = server.share_path
    tree = Tree()

    def put(path, data, mtime=None):
        local = root / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        if mtime is not None:
            os.utime(local, (mtime, mtime))
        tree.files[path] = data

    put(Tree.text_file, make_text(158_437, 1), mtime=Tree.text_mtime)
    put(Tree.long_name_file, make_text(421_269, 2))
    put(Tree.unicode_file, make_bytes(256_000, 3))
    put(Tree.big_file, make_bytes(3 * 1024 * 1024 + 12_345, 4))
    for name, is_dir in Tree.long_dir_entries.items():
        local = root / Tree.long_dir.lstrip("/") / name
        if is_dir:
            local.mkdir(parents=True, exist_ok=True)
        else:
            put(f"{Tree.long_dir}/{name}", make_text(1000 + len(name), len(name)))
    (root / Tree.short_dir.lstrip("/")).mkdir()
    (root / Tree.empty_dir.lstrip("/")).mkdir()
    many = root / Tree.many_dir.lstrip("/")
    many.mkdir()
    for i, name in enumerate(Tree.many_names):
        (many / name).write_bytes(b"document %d\n" % i)

    snap_root = server.snapshots_path
    (snap_root / Tree.snapshot_file.lstrip("/")).write_bytes(b"snapshot me\n")
    (snap_root / Tree.snapshot_dir.lstrip("/")).mkdir()
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
    return tree


@pytest.fixture(scope="session")
def tree(legacy_server):
    return build_tree(legacy_server)


# --------------------------------------------------------------------------------------------------
# Protocol variants and connections
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """Which protocol family pysmb may negotiate and how it frames its messages."""

    smb2: bool
    direct_tcp: bool

    @property
    def name(self):
        return ("smb2" if self.smb2 else "smb1") + ("-direct" if self.direct_tcp else "-netbios")


VARIANT_IDS = ["smb1-netbios", "smb1-direct", "smb2-netbios", "smb2-direct"]


def parse_variant(text):
    match = re.fullmatch(r"(smb1|smb2)-(netbios|direct)", text)
    if not match:
        raise ValueError(f"unknown variant {text!r}")
    return Variant(smb2=match.group(1) == "smb2", direct_tcp=match.group(2) == "direct")


@pytest.fixture(params=VARIANT_IDS)
def variant(request):
    """SMB1 or SMB2 (``smb.smb_structs.SUPPORT_SMB2``), NetBIOS session service or direct TCP
    (``is_direct_tcp``). Tests that want fewer override it with
    ``@pytest.mark.parametrize("variant", [...], indirect=True)``."""
    return parse_variant(request.param)


@pytest.fixture
def support_smb2(variant):
    """Sets ``smb.smb_structs.SUPPORT_SMB2`` for the variant for the test's duration."""
    saved = smb_structs.SUPPORT_SMB2
    smb_structs.SUPPORT_SMB2 = variant.smb2
    try:
        yield variant.smb2
    finally:
        smb_structs.SUPPORT_SMB2 = saved


@pytest.fixture
def new_connection(variant, support_smb2):
    """``new_connection(server, **options)``: an SMBConnection (not yet connected) for the variant;
    closed at the end of the test. Options: username, password, use_ntlm_v2, sign_options, domain,
    direct_tcp."""
    made = []

    def make(server, *, username=None, password=None, use_ntlm_v2=True,
             sign_options=SMBConnection.SIGN_WHEN_REQUIRED, domain=None, direct_tcp=None):
        conn = SMBConnection(
            server.user if username is None else username,
            server.password if password is None else password,
            CLIENT_NAME,
            SERVER_NAME,
            domain=server.domain if domain is None else domain,
            use_ntlm_v2=use_ntlm_v2,
            sign_options=sign_options,
            is_direct_tcp=variant.direct_tcp if direct_tcp is None else direct_tcp,
        )
        made.append(conn)
        return conn

    yield make
    for conn in made:
        try:
            conn.close()
        except Exception:
            pass


@pytest.fixture
def connect(new_connection):
    """``connect(server, port=None, timeout=30, **options)``: a connected, authenticated SMBConnection."""

    def open_(server, *, port=None, timeout=30, **options):
        conn = new_connection(server, **options)
        assert conn.connect(server.host, server.port if port is None else port, timeout=timeout) is True
        return conn

    return open_


@pytest.fixture
def conn(connect, legacy_server, tree, variant):
    """A connection to the legacy server's share in the variant, with the scenario files in place."""
    c = connect(legacy_server)
    assert c.isUsingSMB2 == variant.smb2
    return c


# --------------------------------------------------------------------------------------------------
# Per-test names and folders
# --------------------------------------------------------------------------------------------------

_counter = itertools.count(1)


@pytest.fixture
def unique(request):
    """``unique(prefix)``: a file name no other test uses."""
    tag = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]

    def name(prefix="t"):
        return f"{prefix} {tag}-{os.getpid()}-{next(_counter)}"

    return name


@dataclass
class Scratch:
    """A fresh folder in the legacy server's share, owned by the share's user."""

    path: str  # as the SMB client names it: "/scratch ..."
    local: Path  # on disk

    def remote(self, *names):
        return "/".join([self.path, *names])

    def on_disk(self, *names):
        return self.local.joinpath(*names)


@pytest.fixture
def scratch(legacy_server, tree, unique):
    name = unique("scratch")
    local = legacy_server.share_path / name
    local.mkdir(mode=0o777)
    legacy_server.give_to_user(local)
    yield Scratch(path="/" + name, local=local)
    shutil.rmtree(local, ignore_errors=True)


@pytest.fixture
def stalling_proxy():
    """``stalling_proxy(server)``: a TCP proxy in front of ``server`` that can be told to stall."""
    proxies = []

    def make(server):
        p = StallingProxy(server.host, server.port)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()
