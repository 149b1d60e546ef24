"""Smoke tests of the native module and the blocking ``SMBConnection``
against a private Samba server.

Self-contained: the module starts ``smbkit-testserver --profile legacy``
(SMB1 and SMB 2/3, NTLMv1 and v2) itself and stops it at the end. The
binary is ``$SMBKIT_TESTSERVER``, else ``<repo>/target/debug/``
(``cargo build -p smbkit-testserver``).
"""

import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import testserver

import smbkit
from smbkit import _native
from smbkit.smb import smb_structs
from smbkit.smb.base import NotConnectedError, SharedDevice, SMBTimeout
from smbkit.smb.SMBConnection import SMBConnection
from smbkit.smb.security_descriptors import SecurityDescriptor
from smbkit.smb.smb_structs import OperationFailure

CLIENT = "SMOKECLIENT"
SERVER = "SMBKITTEST"
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
MIB = 1 << 20


@pytest.fixture(scope="module")
def server():
    """The SMBKIT_TEST_* variables of a running legacy-profile server."""
    proc, env = testserver.start("legacy")
    try:
        yield env
    finally:
        testserver.stop(proc)


def _connect(server, direct=True, smb2=True, password=None, **kwargs):
    conn = SMBConnection(
        server["SMBKIT_TEST_USER"],
        server["SMBKIT_TEST_PASSWORD"] if password is None else password,
        CLIENT, SERVER, domain=server["SMBKIT_TEST_DOMAIN"], is_direct_tcp=direct, **kwargs,
    )
    saved = smb_structs.SUPPORT_SMB2
    smb_structs.SUPPORT_SMB2 = smb2
    try:
        ok = conn.connect(server["SMBKIT_TEST_HOST"], int(server["SMBKIT_TEST_PORT"]))
    finally:
        smb_structs.SUPPORT_SMB2 = saved
    return conn, ok


@pytest.fixture(scope="module", params=["smb2", "smb1"])
def conn(request, server):
    c, ok = _connect(server, smb2=request.param == "smb2")
    assert ok
    yield c
    c.close()


@pytest.fixture(scope="module")
def share(server):
    return server["SMBKIT_TEST_SHARE"]


@pytest.fixture
def folder(conn, share, request):
    """A fresh folder on the share for one test, removed afterwards."""
    name = "/smoke-%s-%s" % (request.node.name.replace("[", "-").replace("]", ""), os.getpid())
    conn.createDirectory(share, name)
    yield name
    try:
        conn.deleteFiles(share, name + "/*", delete_matching_folders=True)
    except OperationFailure:
        pass
    conn.deleteDirectory(share, name)


def _data(size, seed):
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


# --- connecting --------------------------------------------------------------


def test_native_module():
    assert smbkit.__version__ == _native.__version__
    assert _native.DEFAULT_SEARCH == 65591


@pytest.mark.parametrize("direct", [True, False], ids=["direct-tcp", "netbios"])
@pytest.mark.parametrize("smb2", [True, False], ids=["smb2", "smb1"])
def test_connect(server, direct, smb2):
    c, ok = _connect(server, direct=direct, smb2=smb2)
    try:
        assert ok is True and c.auth_result is True
        assert c.isUsingSMB2 is smb2
        assert c.has_authenticated
        assert c.dialect.startswith("3.") if smb2 else c.dialect.startswith("1")
        assert c.echo(b"ping") == b"ping"
    finally:
        c.close()
    assert c.sock is None and not c.has_authenticated
    with pytest.raises(NotConnectedError):
        c.listShares()


def test_wrong_password_returns_false(server):
    c, ok = _connect(server, password="not-the-password")
    assert ok is False and c.auth_result is False
    with pytest.raises(NotConnectedError):
        c.echo(b"x")


def test_password_callable_and_context_manager(server):
    with SMBConnection(server["SMBKIT_TEST_USER"], lambda: server["SMBKIT_TEST_PASSWORD"],
                       CLIENT, SERVER, is_direct_tcp=True) as c:
        assert c.connect(server["SMBKIT_TEST_HOST"], int(server["SMBKIT_TEST_PORT"]))
    assert c.sock is None


def test_pysmb_names(server):
    """pysmb accepts a client name longer than 15 characters (it cuts it)
    and, over direct TCP, an empty server name."""
    c = SMBConnection(server["SMBKIT_TEST_USER"], server["SMBKIT_TEST_PASSWORD"],
                      "a-client-name-longer-than-15", "", is_direct_tcp=True)
    try:
        assert c.connect(server["SMBKIT_TEST_HOST"], int(server["SMBKIT_TEST_PORT"]))
        assert c.listPath(server["SMBKIT_TEST_SHARE"], "/") is not None
    finally:
        c.close()


def test_connect_releases_the_gil():
    """A server that never answers: the waiting connect leaves the GIL to
    other threads, and ends with SMBTimeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    counter = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)
        before = counter[0]
        c = SMBConnection("u", "p", CLIENT, SERVER)
        with pytest.raises(SMBTimeout):
            c.connect("127.0.0.1", silent.getsockname()[1], timeout=1)
        during = counter[0] - before
    finally:
        stop.set()
        t.join()
        silent.close()
    assert during > 10000, "the counting thread barely ran: %d" % during


# --- operations, over SMB2 and SMB1 ---------------------------------------------


def test_list_shares(conn, share):
    shares = {s.name: s for s in conn.listShares()}
    assert share in shares
    assert shares[share].type == SharedDevice.DISK_TREE and not shares[share].isSpecial
    assert shares["IPC$"].isSpecial and shares["IPC$"].type == SharedDevice.IPC


def test_store_retrieve_list_attributes(conn, share, folder):
    data = _data(3 * MIB + 12345, 1)
    path = folder + "/big.bin"
    assert conn.storeFile(share, path, io.BytesIO(data)) == len(data)

    out = io.BytesIO()
    attributes, size = conn.retrieveFile(share, path, out)
    assert size == len(data) and out.getvalue() == data
    assert isinstance(attributes, int)

    out = io.BytesIO()
    assert conn.retrieveFileFromOffset(share, path, out, 1000, 5000)[1] == 5000
    assert out.getvalue() == data[1000:6000]
    out = io.BytesIO()
    assert conn.retrieveFileFromOffset(share, path, out, len(data) - 10)[1] == 10
    assert out.getvalue() == data[-10:]
    assert conn.retrieveFileFromOffset(share, path, io.BytesIO(), len(data) + 10)[1] == 0
    assert conn.retrieveFileFromOffset(share, path, io.BytesIO(), 0, 0)[1] == 0

    f = conn.getAttributes(share, path)
    assert f.filename == "big.bin" and f.file_size == len(data)
    assert not f.isDirectory and f.last_write_time > 1e9

    names = {e.filename: e for e in conn.listPath(share, folder)}
    assert names["big.bin"].file_size == len(data)
    assert [e.filename for e in conn.listPath(share, folder, pattern="*.bin")] == ["big.bin"]
    assert conn.getAttributes(share, folder).isDirectory

    sd = conn.getSecurity(share, path)
    assert isinstance(sd, SecurityDescriptor) and sd.owner is not None


def test_store_from_offset(conn, share, folder):
    path = folder + "/patch.bin"
    conn.storeFile(share, path, io.BytesIO(b"a" * 100))
    assert conn.storeFileFromOffset(share, path, io.BytesIO(b"bbbb"), 10) == 14
    out = io.BytesIO()
    conn.retrieveFile(share, path, out)
    assert out.getvalue() == b"a" * 10 + b"bbbb" + b"a" * 86
    assert conn.storeFileFromOffset(share, path, io.BytesIO(b"cc"), 0, truncate=True) == 2
    assert conn.getAttributes(share, path).file_size == 2


def test_rename_delete_directories(conn, share, folder):
    conn.storeFile(share, folder + "/one.txt", io.BytesIO(b"1"))
    conn.storeFile(share, folder + "/two.txt", io.BytesIO(b"2"))
    conn.storeFile(share, folder + "/keep.dat", io.BytesIO(b"3"))
    conn.rename(share, folder + "/one.txt", folder + "/uno.txt")
    with pytest.raises(OperationFailure):
        conn.getAttributes(share, folder + "/one.txt")
    assert conn.getAttributes(share, folder + "/uno.txt").file_size == 1

    conn.deleteFiles(share, folder + "/*.txt")
    left = sorted(e.filename for e in conn.listPath(share, folder) if e.filename not in (".", ".."))
    assert left == ["keep.dat"]

    sub = folder + "/sub"
    conn.createDirectory(share, sub)
    assert conn.getAttributes(share, sub).isDirectory
    conn.deleteDirectory(share, sub)
    with pytest.raises(OperationFailure):
        conn.getAttributes(share, sub)


def test_echo(conn):
    assert conn.echo(b"hello smbkit") == b"hello smbkit"


def test_operation_failure_on_missing_file(conn, share):
    with pytest.raises(OperationFailure) as info:
        conn.retrieveFile(share, "/no/such/file-%d" % os.getpid(), io.BytesIO())
    e = info.value
    assert e.nt_status in (STATUS_OBJECT_NAME_NOT_FOUND, 0xC000003A)  # or OBJECT_PATH_NOT_FOUND
    assert e.args[0] == e.message and e.args[1][-1].status == e.nt_status
    assert "no" in str(e)


def test_file_object_exception_propagates(conn, share, folder):
    path = folder + "/x.bin"
    conn.storeFile(share, path, io.BytesIO(b"x" * 1000))

    class Broken:
        def write(self, data):
            raise ValueError("disk full")

    with pytest.raises(ValueError, match="disk full"):
        conn.retrieveFile(share, path, Broken())

    class BrokenReader:
        def read(self, n):
            raise KeyError("gone")

    with pytest.raises(KeyError):
        conn.storeFile(share, path, BrokenReader())
    # The connection is still usable.
    assert conn.echo(b"ok") == b"ok"


def test_eight_threads(conn, share, folder):
    """One connection, eight threads, each storing, listing, reading back."""

    def work(i):
        data = _data(MIB + i * 1000, 100 + i)
        path = "%s/t%d.bin" % (folder, i)
        assert conn.storeFile(share, path, io.BytesIO(data)) == len(data)
        assert any(e.filename == "t%d.bin" % i for e in conn.listPath(share, folder))
        out = io.BytesIO()
        conn.retrieveFile(share, path, out)
        assert conn.echo(b"t%d" % i) == b"t%d" % i
        return out.getvalue() == data

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(work, range(8)))


def test_compat_aliases():
    """In a fresh interpreter: `import smb` is smbkit's."""
    code = (
        "import smbkit.compat; smbkit.compat.install()\n"
        "import smb, smbkit.smb.smb_structs as s\n"
        "from smb.SMBConnection import SMBConnection\n"
        "from smb import smb_structs\n"
        "import smb.base, smb.security_descriptors, smb.smb_constants\n"
        "assert smb_structs is s and smb.__name__ == 'smbkit.smb'\n"
        "assert SMBConnection.__module__ == 'smbkit.smb.SMBConnection'\n"
        "assert smb.smb_structs.__spec__.name == 'smbkit.smb.smb_structs'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
