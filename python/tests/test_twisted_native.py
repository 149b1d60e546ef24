"""smbkit.smb.SMBProtocol: pysmb's Twisted API on the native core, with the
bytes carried by Twisted's own transport, against private Samba servers.

Self-contained: the module starts ``smbkit-testserver`` itself (the legacy
profile: SMB1 and SMB 2/3; the modern profile: SMB 3.1.1 with an encrypted
share) and stops it at the end. The binary is ``$SMBKIT_TESTSERVER``, else
``<repo>/target/debug/`` (``cargo build -p smbkit-testserver``). The tests run on pytest-twisted's
reactor.
"""

import hashlib
import io
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import pytest

import testserver
from proxy import StallingProxy
import pytest_twisted
from twisted.internet import defer, reactor, task

from smbkit.smb import smb_structs
from smbkit.smb.base import NotConnectedError, NotReadyError, SharedDevice, SharedFile, SMBTimeout
from smbkit.smb.SMBProtocol import SMBProtocolFactory
from smbkit.smb.security_descriptors import SecurityDescriptor
from smbkit.smb.smb_structs import OperationFailure

MIB = 1 << 20
CLIENT_NAME = "TWISTEDCLIENT"
SERVER_NAME = "SMBKITTEST"

#: (profile, SMB2 allowed, direct TCP).
VARIANTS = {
    "smb1-netbios": ("legacy", False, False),
    "smb1-direct": ("legacy", False, True),
    "smb2-netbios": ("legacy", True, False),
    "smb2-direct": ("legacy", True, True),
    "smb311-direct": ("modern", True, True),
}


# --- servers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers():
    started = testserver.Servers()
    yield started.get
    started.stop_all()

# --- factories -------------------------------------------------------------------------


class Factory(SMBProtocolFactory):
    """Fires ``authenticated`` with True from onAuthOK, False from
    onAuthFailed."""

    def __init__(self, *args, **kwargs):
        SMBProtocolFactory.__init__(self, *args, **kwargs)
        self.authenticated = defer.Deferred()

    def onAuthOK(self):
        if not self.authenticated.called:
            self.authenticated.callback(True)

    def onAuthFailed(self):
        if not self.authenticated.called:
            self.authenticated.callback(False)


def within(d, seconds=30):
    return d.addTimeout(seconds, reactor)


async def sleep(seconds):
    await task.deferLater(reactor, seconds, lambda: None)


@pytest.fixture
def factories(servers):
    """``factories.connect(variant, port=None, **options)``: a connected
    Factory (not yet authenticated); all are disconnected at the end."""
    saved = smb_structs.SUPPORT_SMB2

    class Made:
        def __init__(self):
            self.made = []

        def env(self, variant):
            return servers(VARIANTS[variant][0])

        def connect(self, variant, port=None, password=None, **options):
            profile, smb2, direct = VARIANTS[variant]
            env = servers(profile)
            smb_structs.SUPPORT_SMB2 = smb2
            factory = Factory(
                env["SMBKIT_TEST_USER"],
                env["SMBKIT_TEST_PASSWORD"] if password is None else password,
                CLIENT_NAME,
                SERVER_NAME,
                domain=env["SMBKIT_TEST_DOMAIN"],
                is_direct_tcp=direct,
                **options,
            )
            connector = reactor.connectTCP(
                env["SMBKIT_TEST_HOST"], int(env["SMBKIT_TEST_PORT"]) if port is None else port, factory)
            self.made.append((factory, connector))
            return factory

        async def ready(self, variant, **options):
            factory = self.connect(variant, **options)
            assert await within(factory.authenticated) is True
            return factory

    made = Made()
    yield made
    smb_structs.SUPPORT_SMB2 = saved
    for factory, connector in made.made:
        try:
            factory.closeConnection()
        except NotConnectedError:
            pass
        connector.disconnect()


def _data(size, seed):
    return random.Random(seed).randbytes(size)


_counter = iter(range(1, 1 << 30))


def _scratch(env, stem):
    name = "%s-%d-%d" % (stem, os.getpid(), next(_counter))
    local = Path(env["SMBKIT_TEST_SHARE_PATH"]) / name
    local.mkdir(mode=0o777)
    os.chmod(local, 0o777)
    return "/" + name, local


def _sockets():
    """The sockets this process holds."""
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + fd).startswith("socket:"):
                fds.append(fd)
        except OSError:
            pass
    return len(fds)


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest_twisted.ensureDeferred
async def test_auth_ok(factories, variant):
    factory = factories.connect(variant)
    assert await within(factory.authenticated) is True
    assert factory.isReady
    assert factory.isUsingSMB2 == VARIANTS[variant][1]
    if variant == "smb311-direct":
        assert factory.instance.dialect == "3.1.1"
    assert factory.auth_error is None


@pytest.mark.parametrize("variant", ["smb1-netbios", "smb2-direct", "smb311-direct"])
@pytest_twisted.ensureDeferred
async def test_auth_failed(factories, variant):
    factory = factories.connect(variant, password="not the password")
    assert await within(factory.authenticated) is False
    assert not factory.isReady
    assert isinstance(factory.auth_error, OperationFailure)
    assert factory.auth_error.nt_status == 0xC000006D
    # The connection is closed after a refused logon.
    assert await within(factory.d) is None


@pytest_twisted.ensureDeferred
async def test_settings_refused(servers):
    """A NetBIOS name smbkit refuses: onAuthFailed, with the ValueError
    naming it, and the connection is closed."""
    env = servers("legacy")
    factory = Factory(env["SMBKIT_TEST_USER"], env["SMBKIT_TEST_PASSWORD"], "BAD NAME", SERVER_NAME,
                      is_direct_tcp=True)
    reactor.connectTCP(env["SMBKIT_TEST_HOST"], int(env["SMBKIT_TEST_PORT"]), factory)
    assert await within(factory.authenticated) is False
    assert isinstance(factory.auth_error, ValueError) and "BAD NAME" in str(factory.auth_error)
    assert await within(factory.d) is None


@pytest_twisted.ensureDeferred
async def test_one_socket_per_connection(factories):
    """The bytes travel over Twisted's transport: connecting adds exactly
    one socket to the process (the transport's), for each factory."""
    await factories.ready("smb2-direct")  # the runtime and the reactor's own files exist now
    before = _sockets()
    made = [factories.connect("smb2-direct") for _ in range(3)]
    assert await within(defer.gatherResults([f.authenticated for f in made])) == [True] * 3
    assert _sockets() - before == 3
    assert [len(r) > 0 for r in await within(defer.gatherResults([f.listShares() for f in made]))] == [True] * 3


# --- operations ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["smb1-netbios", "smb1-direct", "smb2-netbios", "smb311-direct"])
@pytest_twisted.ensureDeferred
async def test_store_and_retrieve(factories, variant):
    factory = await factories.ready(variant)
    folder, local = _scratch(factories.env(variant), "tw-transfer")
    data = _data(4 * MIB + 99, 5)
    src = io.BytesIO(data)
    file_obj, size = await within(factory.storeFile("share", folder + "/big.bin", src))
    assert file_obj is src and size == len(data)
    assert (local / "big.bin").read_bytes() == data
    out = io.BytesIO()
    file_obj, attributes, size = await within(factory.retrieveFile("share", folder + "/big.bin", out))
    assert file_obj is out and size == len(data) and isinstance(attributes, int)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()
    out = io.BytesIO()
    _, _, size = await within(factory.retrieveFileFromOffset("share", folder + "/big.bin", out, 100, 1000))
    assert size == 1000 and out.getvalue() == data[100:1100]


@pytest_twisted.ensureDeferred
async def test_encrypted_share(factories):
    factory = await factories.ready("smb311-direct")
    env = factories.env("smb311-direct")
    name = "/tw-secret-%d.bin" % os.getpid()
    data = _data(3 * MIB, 9)
    _, size = await within(factory.storeFile("encrypted", name, io.BytesIO(data)))
    assert size == len(data)
    out = io.BytesIO()
    _, _, size = await within(factory.retrieveFile("encrypted", name, out))
    assert out.getvalue() == data
    assert (Path(env["SMBKIT_TEST_DIR"]) / "encrypted" / name.lstrip("/")).read_bytes() == data


@pytest.mark.parametrize("variant", ["smb1-direct", "smb2-netbios"])
@pytest_twisted.ensureDeferred
async def test_callback_values(factories, variant):
    factory = await factories.ready(variant)
    folder, local = _scratch(factories.env(variant), "tw-values")
    shares = await within(factory.listShares())
    assert all(isinstance(s, SharedDevice) for s in shares)
    assert await within(factory.createDirectory("share", folder + "/d")) == folder + "/d"
    assert await within(factory.deleteDirectory("share", folder + "/d")) == folder + "/d"
    await within(factory.storeFile("share", folder + "/a.txt", io.BytesIO(b"0123456789")))
    src = io.BytesIO(b"XY")
    assert await within(factory.storeFileFromOffset("share", folder + "/a.txt", src, 3)) == (src, 5)
    assert (local / "a.txt").read_bytes() == b"012XY56789"
    assert await within(factory.rename("share", folder + "/a.txt", folder + "/b.txt")) == (
        folder + "/a.txt", folder + "/b.txt")
    info = await within(factory.getAttributes("share", folder + "/b.txt"))
    assert isinstance(info, SharedFile) and info.file_size == 10
    assert await within(factory.resetFileAttributes("share", folder + "/b.txt")) == folder + "/b.txt"
    sd = await within(factory.getSecurity("share", folder + "/b.txt"))
    assert isinstance(sd, SecurityDescriptor) and sd.owner is not None
    listed = await within(factory.listPath("share", folder, pattern="*.txt"))
    assert [f.filename for f in listed] == ["b.txt"]
    assert await within(factory.deleteFiles("share", folder + "/*.txt")) == folder + "/*.txt"
    assert await within(factory.deleteFiles("share", folder + "/*.none")) == folder + "/*.none"
    assert list(local.iterdir()) == []
    assert await within(factory.echo(b"twisted")) == b"twisted"
    with pytest.raises(OperationFailure):
        await within(factory.getAttributes("share", folder + "/missing"))


@pytest_twisted.ensureDeferred
async def test_twenty_operations_outstanding(factories):
    factory = await factories.ready("smb2-direct")
    folder, local = _scratch(factories.env("smb2-direct"), "tw-many")
    blobs = [_data(200_000 + i, 60 + i) for i in range(5)]
    for i, blob in enumerate(blobs):
        (local / ("f%d.bin" % i)).write_bytes(blob)
    buffers = [io.BytesIO() for _ in blobs]
    pending = [factory.retrieveFile("share", "%s/f%d.bin" % (folder, i), buffers[i]) for i in range(5)]
    pending += [factory.echo(b"e%d" % i) for i in range(5)]
    pending += [factory.getAttributes("share", "%s/f%d.bin" % (folder, i)) for i in range(5)]
    pending += [factory.listPath("share", folder) for _ in range(5)]
    results = await within(defer.gatherResults(pending, consumeErrors=True))
    for i in range(5):
        assert results[i][2] == len(blobs[i]) and buffers[i].getvalue() == blobs[i]
        assert results[5 + i] == b"e%d" % i
        assert results[10 + i].file_size == len(blobs[i])
        assert len([f for f in results[15 + i] if f.filename.endswith(".bin")]) == 5


@pytest_twisted.ensureDeferred
async def test_the_reactor_runs_during_a_transfer(factories):
    """The work on the bytes is done off the reactor thread: a LoopingCall
    keeps ticking while megabytes go through."""
    factory = await factories.ready("smb2-direct")
    folder, local = _scratch(factories.env("smb2-direct"), "tw-ticks")
    data = _data(16 * MIB, 77)
    (local / "x.bin").write_bytes(data)
    ticks = []
    ticker = task.LoopingCall(lambda: ticks.append(time.monotonic()))
    ticker.start(0.005)
    try:
        out = io.BytesIO()
        await within(factory.retrieveFile("share", folder + "/x.bin", out))
    finally:
        ticker.stop()
    assert out.getvalue() == data
    assert len(ticks) >= 3


# --- time limits, cancelling, closing -------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_timeout_when_the_server_stalls(factories):
    env = factories.env("smb2-direct")
    folder, local = _scratch(env, "tw-stall")
    (local / "x.bin").write_bytes(_data(MIB, 1))
    proxy = StallingProxy(env["SMBKIT_TEST_HOST"], int(env["SMBKIT_TEST_PORT"]))
    try:
        factory = factories.connect("smb2-direct", port=proxy.port)
        assert await within(factory.authenticated) is True
        await within(factory.listPath("share", "/"))
        proxy.stall()
        started = time.monotonic()
        pending = [
            factory.echo(b"anyone?", timeout=1),
            factory.listPath("share", folder, timeout=1),
            factory.getAttributes("share", folder + "/x.bin", timeout=1),
            factory.retrieveFile("share", folder + "/x.bin", io.BytesIO(), timeout=1),
            factory.storeFile("share", folder + "/y.bin", io.BytesIO(b"y" * MIB), timeout=1),
        ]
        results = await within(defer.DeferredList(pending, consumeErrors=True), 10)
        assert [ok for ok, _ in results] == [False] * len(pending)
        for _, failure in results:
            assert failure.check(SMBTimeout), failure
        assert time.monotonic() - started < 5
    finally:
        proxy.close()


@pytest_twisted.ensureDeferred
async def test_transfer_timeout_is_per_message(factories):
    """For retrieveFile the time limit is that of each message, as in
    pysmb: a transfer that keeps moving outlives it."""
    factory = await factories.ready("smb1-direct")
    folder, local = _scratch(factories.env("smb1-direct"), "tw-slow")
    data = _data(MIB, 13)
    (local / "x.bin").write_bytes(data)
    calls = []

    class Slow(io.BytesIO):
        # Takes 64 KiB a call (it says so), slowly at first.
        def write(self, chunk):
            calls.append(len(chunk))
            if len(calls) <= 12:
                time.sleep(0.15)
            return super().write(bytes(chunk[:65536]))

    started = time.monotonic()
    out = Slow()
    _, _, size = await within(factory.retrieveFile("share", folder + "/x.bin", out, timeout=0.5))
    assert size == len(data) and out.getvalue() == data
    assert time.monotonic() - started > 1.5 and len(calls) >= 16


@pytest_twisted.ensureDeferred
async def test_cancelling_a_deferred(factories):
    factory = await factories.ready("smb2-direct")
    folder, local = _scratch(factories.env("smb2-direct"), "tw-cancel")
    data = _data(24 * MIB, 17)
    (local / "big.bin").write_bytes(data)
    first = threading.Event()

    class Slow(io.BytesIO):
        def write(self, chunk):
            first.set()
            time.sleep(0.05)
            return super().write(chunk)

    d = factory.retrieveFile("share", folder + "/big.bin", Slow())
    while not first.is_set():
        await sleep(0.01)
    d.cancel()
    with pytest.raises(defer.CancelledError):
        await d
    assert await within(factory.echo(b"still here")) == b"still here"
    out = io.BytesIO()
    _, _, size = await within(factory.retrieveFile("share", folder + "/big.bin", out))
    assert size == len(data) and out.getvalue() == data


@pytest_twisted.ensureDeferred
async def test_not_ready_before_auth(factories):
    env = factories.env("smb2-direct")
    proxy = StallingProxy(env["SMBKIT_TEST_HOST"], int(env["SMBKIT_TEST_PORT"]))
    proxy.stall()
    try:
        factory = factories.connect("smb2-direct", port=proxy.port)
        with pytest.raises(NotConnectedError):
            factory.echo(b"x")  # not connected yet
        deadline = time.monotonic() + 10
        while factory.instance is None:
            assert time.monotonic() < deadline
            await sleep(0.01)
        with pytest.raises(NotReadyError):
            factory.listPath("share", "/")
        assert not factory.isReady
    finally:
        proxy.close()


@pytest_twisted.ensureDeferred
async def test_close_connection(factories):
    factory = await factories.ready("smb2-netbios")
    pending = factory.echo(b"before")
    factory.closeConnection()
    assert not factory.isReady
    with pytest.raises(NotConnectedError):
        factory.listPath("share", "/")
    assert await within(factory.d) is None  # the connection has ended
    assert factory.instance is None
    with pytest.raises(NotConnectedError):
        factory.echo(b"after")
    with pytest.raises(NotConnectedError):
        factory.closeConnection()
    try:
        await within(pending)  # answered before the logoff, or failed with it
    except NotConnectedError:
        pass


@pytest_twisted.ensureDeferred
async def test_operations_fail_when_the_connection_is_lost(factories):
    factory = await factories.ready("smb1-netbios")
    folder, local = _scratch(factories.env("smb1-netbios"), "tw-lost")
    (local / "x.bin").write_bytes(_data(8 * MIB, 3))

    class Slow(io.BytesIO):
        def write(self, chunk):
            time.sleep(0.01)
            return super().write(chunk)

    d = factory.retrieveFile("share", folder + "/x.bin", Slow())
    await sleep(0.1)
    factory.transport.abortConnection()
    with pytest.raises(NotConnectedError):
        await within(d)
    assert not factory.isReady


# --- the reference's example -----------------------------------------------------------------

#: The RetrieveFileFactory example of the reference (pysmb's SMBProtocolFactory
#: documentation): only its import of SMBProtocolFactory differs, and its
#: Python 2 print statement is written for Python 3. The names it leaves to
#: the program (userID, password, ..., server_ip) are given, and so is the
#: port (139 in the text, where the test server listens elsewhere).
EXAMPLE = """
import tempfile
from twisted.internet import reactor
from smbkit.smb.SMBProtocol import SMBProtocolFactory

class RetrieveFileFactory(SMBProtocolFactory):

    def __init__(self, *args, **kwargs):
        SMBProtocolFactory.__init__(self, *args, **kwargs)

    def fileRetrieved(self, write_result):
        file_obj, file_attributes, file_size = write_result

        # Retrieved file contents are inside file_obj
        # Do what you need with the file_obj and then close it
        # Note that the file obj is positioned at the end-of-file,
        # so you might need to perform a file_obj.seek() to if you
        # need to read from the beginning
        file_obj.close()

        self.transport.loseConnection()

    def onAuthOK(self):
        d = self.retrieveFile(self.service, self.path, tempfile.NamedTemporaryFile())
        d.addCallback(self.fileRetrieved)
        d.addErrback(self.d.errback)

    def onAuthFailed(self):
        print('Auth failed')

# There will be some mechanism to capture userID, password, client_machine_name, server_name and server_ip
# client_machine_name can be an arbitary ASCII string
# server_name should match the remote machine name, or else the connection will be rejected
factory = RetrieveFileFactory(userID, password, client_machine_name, server_name, use_ntlm_v2 = True)
factory.service = 'smbtest'
factory.path = '/rfc1001.txt'
reactor.connectTCP(server_ip, SERVER_PORT, factory)
"""


@pytest_twisted.ensureDeferred
async def test_reference_example(servers, monkeypatch):
    env = servers("legacy")
    local = Path(env["SMBKIT_TEST_SHARE_PATH"])
    (local / "rfc1001.txt").write_bytes(_data(300_000, 1001))
    closed = []

    class Recorded(tempfile.SpooledTemporaryFile):
        def close(self):
            self.seek(0)
            closed.append(self.read())
            super().close()

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", lambda *a, **kw: Recorded())
    namespace = {
        "__name__": "reference_example",
        "userID": env["SMBKIT_TEST_USER"],
        "password": env["SMBKIT_TEST_PASSWORD"],
        "client_machine_name": CLIENT_NAME,
        "server_name": SERVER_NAME,
        "server_ip": env["SMBKIT_TEST_HOST"],
        "SERVER_PORT": int(env["SMBKIT_TEST_PORT"]),
    }
    exec(compile(EXAMPLE, "reference_example.py", "exec"), namespace)
    factory = namespace["factory"]
    # The example names its share 'smbtest'; the test server's is 'share'.
    # The session is set up only once the reactor runs again, so the
    # factory's attribute can be pointed at it here, leaving the text as is.
    factory.service = env["SMBKIT_TEST_SHARE"]
    # The factory's `d` fires when the example's loseConnection() has ended
    # the connection.
    assert await within(factory.d, 30) is None
    assert closed == [(local / "rfc1001.txt").read_bytes()]
    assert not factory.isReady and factory.instance is None
