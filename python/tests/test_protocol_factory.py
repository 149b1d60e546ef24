"""The Twisted API: smb.SMBProtocol.SMBProtocolFactory, driven by pytest-twisted's reactor."""

import hashlib
import tempfile
import time
from io import BytesIO

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task

from smb import smb_structs
from smb.base import NotConnectedError, NotReadyError, SharedDevice, SharedFile, SMBTimeout
from smb.SMBProtocol import SMBProtocolFactory
from smb.smb_constants import SMB_FILE_ATTRIBUTE_DIRECTORY

CLIENT_NAME = "PYTESTCLIENT"
SERVER_NAME = "SMBKITTEST"
NETBIOS_ONLY = ["smb1-netbios", "smb2-netbios"]


class ScenarioFactory(SMBProtocolFactory):
    """Fires ``self.authenticated`` with True from onAuthOK and with False from onAuthFailed."""

    def __init__(self, *args, **kwargs):
        SMBProtocolFactory.__init__(self, *args, **kwargs)
        self.authenticated = defer.Deferred()

    def onAuthOK(self):
        if not self.authenticated.called:
            self.authenticated.callback(True)

    def onAuthFailed(self):
        if not self.authenticated.called:
            self.authenticated.callback(False)


class LoggedError(Exception):
    """Twisted logged an unhandled error (an exception out of a protocol callback, say) while a
    test waited: whatever it waited for will not come."""


class _ErrorWatch:
    """Collects the failures Twisted logs while a test waits in ``within``."""

    def __init__(self):
        self.waiting = []

    def __call__(self, event):
        failure = event.get("log_failure") or (event.get("failure") if event.get("isError") else None)
        if failure is None or "Unhandled error in Deferred" in str(event.get("log_format", "")):
            return
        for d in list(self.waiting):
            if not d.called:
                d.errback(LoggedError(failure.getTraceback()))


_watch = _ErrorWatch()


@pytest.fixture(autouse=True)
def watch_logged_errors():
    from twisted.logger import globalLogPublisher

    globalLogPublisher.addObserver(_watch)
    yield
    globalLogPublisher.removeObserver(_watch)


def within(d, seconds=20):
    """``d``'s result, or a TimeoutError after ``seconds``, or a LoggedError as soon as Twisted logs
    an unhandled error meanwhile."""
    out = defer.Deferred()
    _watch.waiting.append(out)

    def forward(result):
        if not out.called:
            out.callback(result)
        return None

    def forward_error(failure):
        if not out.called:
            out.errback(failure)
        return None

    d.addCallbacks(forward, forward_error)

    def done(result):
        if out in _watch.waiting:
            _watch.waiting.remove(out)
        return result

    out.addBoth(done)
    return out.addTimeout(seconds, reactor)


async def sleep(seconds):
    await task.deferLater(reactor, seconds, lambda: None)


def digest(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def factories(variant, support_smb2):
    """``factories.connect(server, port=None, **options)`` makes a ScenarioFactory for the variant and
    connects it; everything is disconnected at the end of the test."""

    class Factories:
        def __init__(self):
            self.made = []

        def new(self, server, *, username=None, password=None, use_ntlm_v2=True,
                sign_options=SMBProtocolFactory.SIGN_WHEN_REQUIRED, factory_class=ScenarioFactory):
            factory = factory_class(
                server.user if username is None else username,
                server.password if password is None else password,
                CLIENT_NAME,
                SERVER_NAME,
                domain=server.domain,
                use_ntlm_v2=use_ntlm_v2,
                sign_options=sign_options,
                is_direct_tcp=variant.direct_tcp,
            )
            return factory

        def connect(self, server, port=None, **options):
            factory = self.new(server, **options)
            connector = reactor.connectTCP(server.host, server.port if port is None else port, factory)
            self.made.append((factory, connector))
            return factory

        def close_all(self):
            for factory, connector in self.made:
                try:
                    factory.closeConnection()
                except Exception:
                    pass
                connector.disconnect()

    made = Factories()
    yield made
    made.close_all()


async def authenticated(factories, server, **options):
    factory = factories.connect(server, **options)
    ok = await within(factory.authenticated)
    assert ok is True
    return factory


@pytest.fixture
def on_legacy(factories, legacy_server, tree):
    """An authenticated factory on the legacy server, with the scenario files in place."""

    async def make(**options):
        return await authenticated(factories, legacy_server, **options)

    return make


# -- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("use_ntlm_v2", [False, True], ids=["ntlmv1", "ntlmv2"])
@pytest_twisted.ensureDeferred
async def test_auth_ok(factories, legacy_server, variant, use_ntlm_v2):
    factory = factories.connect(legacy_server, use_ntlm_v2=use_ntlm_v2)
    assert await within(factory.authenticated) is True
    assert factory.isReady
    assert bool(factory.isUsingSMB2) == variant.smb2


@pytest.mark.parametrize("use_ntlm_v2", [False, True], ids=["ntlmv1", "ntlmv2"])
@pytest_twisted.ensureDeferred
async def test_auth_failed(factories, legacy_server, use_ntlm_v2):
    factory = factories.connect(legacy_server, password="wrong password", use_ntlm_v2=use_ntlm_v2)
    assert await within(factory.authenticated) is False
    assert not factory.isReady


@pytest.mark.parametrize("variant", ["smb2-netbios", "smb2-direct"], indirect=True)
@pytest_twisted.ensureDeferred
async def test_auth_failed_ntlmv1_on_modern_server(factories, servers):
    server = servers.get("modern")
    factory = factories.connect(server, use_ntlm_v2=False)
    assert await within(factory.authenticated) is False


# -- operations -----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_list_shares(on_legacy, legacy_server):
    factory = await on_legacy()
    shares = await within(factory.listShares(timeout=15))
    assert all(isinstance(s, SharedDevice) for s in shares)
    names = {s.name for s in shares}
    assert {legacy_server.share, "readonly", "snapshots", "encrypted", "IPC$"} <= names


@pytest_twisted.ensureDeferred
async def test_list_path(on_legacy, legacy_server, tree):
    factory = await on_legacy()
    results = await within(factory.listPath(legacy_server.share, "/", timeout=15))
    assert all(isinstance(r, SharedFile) for r in results)
    found = {(r.filename, r.isDirectory) for r in results}
    assert (tree.unicode_dir.lstrip("/"), True) in found
    assert (tree.long_dir.lstrip("/"), True) in found
    assert (tree.short_dir.lstrip("/"), True) in found
    assert (tree.long_name_file.lstrip("/"), False) in found
    assert (tree.text_file.lstrip("/"), False) in found


@pytest_twisted.ensureDeferred
async def test_list_path_many_and_filters(on_legacy, legacy_server, tree):
    factory = await on_legacy()
    share = legacy_server.share
    many = await within(factory.listPath(share, tree.many_dir))
    assert sorted(r.filename for r in many if r.filename not in (".", "..")) == tree.many_names
    dirs = await within(factory.listPath(share, tree.long_dir, search=SMB_FILE_ATTRIBUTE_DIRECTORY))
    assert dirs and all(r.isDirectory for r in dirs)
    matched = await within(factory.listPath(share, tree.long_dir, pattern="Sample*"))
    assert {r.filename for r in matched} == {"Sample File.txt", "Sample Folder"}
    unicode = await within(factory.listPath(share, tree.long_dir, pattern="*件夹"))
    assert [r.filename for r in unicode] == ["子文件夹"]
    assert await within(factory.listPath(share, tree.many_dir, pattern="*.abc")) == []


@pytest_twisted.ensureDeferred
async def test_list_snapshots(on_legacy, tree, variant, pysmb_gap):
    pysmb_gap("listSnapshots over SMB1 cannot parse the server's NT_TRANSACT_IOCTL answer", when=not variant.smb2)
    factory = await on_legacy()
    snapshots = await within(factory.listSnapshots("snapshots", tree.snapshot_file))
    assert [s.isoformat() for s in snapshots] == tree.snapshots


@pytest_twisted.ensureDeferred
async def test_get_attributes(on_legacy, legacy_server, tree):
    factory = await on_legacy()
    share = legacy_server.share
    info = await within(factory.getAttributes(share, tree.text_file, timeout=15))
    assert isinstance(info, SharedFile)
    assert not info.isDirectory
    assert info.file_size == len(tree.content(tree.text_file))
    assert abs(info.last_write_time - tree.text_mtime) < 1e-3
    assert (await within(factory.getAttributes(share, tree.long_dir + "/"))).isDirectory
    assert (await within(factory.getAttributes(share, tree.unicode_dir))).isDirectory


@pytest.mark.parametrize("which", ["text_file", "long_name_file", "unicode_file", "big_file"])
@pytest_twisted.ensureDeferred
async def test_retrieve_file(on_legacy, legacy_server, tree, which):
    factory = await on_legacy()
    path = getattr(tree, which)
    expected = tree.content(path)
    with tempfile.NamedTemporaryFile(prefix="smbkit-retrieve-") as fh:
        file_obj, attributes, size = await within(factory.retrieveFile(legacy_server.share, path, fh, timeout=15))
        assert file_obj is fh
        assert isinstance(attributes, int)
        assert size == len(expected)
        fh.seek(0)
        assert digest(fh.read()) == digest(expected)


@pytest.mark.parametrize(
    "offset,max_length,expected_size",
    [(100_000, -1, 156_000), (100_000, 100_000, 100_000), (100_000, 10, 10), (100_000, 0, 0)],
    ids=["to-eof", "big-limit", "small-limit", "zero-limit"],
)
@pytest_twisted.ensureDeferred
async def test_retrieve_file_from_offset(on_legacy, legacy_server, tree, offset, max_length, expected_size):
    factory = await on_legacy()
    data = tree.content(tree.unicode_file)
    buf = BytesIO()
    file_obj, _, size = await within(
        factory.retrieveFileFromOffset(legacy_server.share, tree.unicode_file, buf, offset, max_length, timeout=15)
    )
    assert file_obj is buf
    assert size == expected_size
    assert buf.getvalue() == data[offset:offset + expected_size]


@pytest_twisted.ensureDeferred
async def test_retrieve_missing_file(on_legacy, legacy_server):
    factory = await on_legacy()
    with pytest.raises(smb_structs.OperationFailure):
        await within(factory.retrieveFile(legacy_server.share, "/no-such-file.bin", BytesIO()))


@pytest.mark.parametrize("stem", ["StoreTest long name", "上载测试 Ünïcødé"], ids=["english", "unicode"])
@pytest_twisted.ensureDeferred
async def test_store_file(on_legacy, legacy_server, scratch, unique, stem):
    factory = await on_legacy()
    name = unique(stem) + ".dat"
    data = bytes(range(256)) * 1000 + b"tail"
    src = BytesIO(data)
    file_obj, size = await within(factory.storeFile(legacy_server.share, scratch.remote(name), src, timeout=15))
    assert file_obj is src
    assert size == len(data)
    assert scratch.on_disk(name).read_bytes() == data
    buf = BytesIO()
    _, _, got = await within(factory.retrieveFile(legacy_server.share, scratch.remote(name), buf))
    assert got == len(data) and buf.getvalue() == data


@pytest_twisted.ensureDeferred
async def test_store_file_refused(on_legacy, unique):
    factory = await on_legacy()
    with pytest.raises(smb_structs.OperationFailure):
        await within(factory.storeFile("readonly", "/" + unique("refused"), BytesIO(b"x")))


def same_path(reported, path):
    return reported.replace("\\", "/").strip("/") == path.replace("\\", "/").strip("/")


@pytest.mark.parametrize("stem", ["TestDir", "文件夹创建"], ids=["english", "unicode"])
@pytest_twisted.ensureDeferred
async def test_create_and_delete_directory(on_legacy, legacy_server, scratch, unique, stem):
    factory = await on_legacy()
    share = legacy_server.share
    path = scratch.remote(unique(stem))
    assert same_path(await within(factory.createDirectory(share, path)), path)
    assert (legacy_server.share_path / path.lstrip("/")).is_dir()
    assert same_path(await within(factory.deleteDirectory(share, path)), path)
    assert not (legacy_server.share_path / path.lstrip("/")).exists()


@pytest_twisted.ensureDeferred
async def test_create_existing_directory_fails(on_legacy, legacy_server, scratch):
    factory = await on_legacy()
    await within(factory.createDirectory(legacy_server.share, scratch.remote("twice")))
    with pytest.raises(smb_structs.OperationFailure):
        await within(factory.createDirectory(legacy_server.share, scratch.remote("twice")))


@pytest.mark.parametrize("stem", ["RenameTest", "改名测试"], ids=["english", "unicode"])
@pytest_twisted.ensureDeferred
async def test_rename(on_legacy, legacy_server, scratch, unique, stem):
    factory = await on_legacy()
    share = legacy_server.share
    old, new = scratch.remote(unique(stem) + ".txt"), scratch.remote(unique(stem) + ".txt")
    await within(factory.storeFile(share, old, BytesIO(b"Rename file test")))
    reported_old, reported_new = await within(factory.rename(share, old, new))
    assert same_path(reported_old, old) and same_path(reported_new, new)
    names = {r.filename for r in await within(factory.listPath(share, scratch.path))}
    assert new.rsplit("/", 1)[1] in names and old.rsplit("/", 1)[1] not in names


@pytest_twisted.ensureDeferred
async def test_delete_files(on_legacy, legacy_server, scratch):
    factory = await on_legacy()
    share = legacy_server.share
    for name in ["aaTest.txt", "aaBest.txt", "aaTest.bin", "random.txt"]:
        await within(factory.storeFile(share, scratch.remote(name), BytesIO(b"0123456789")))
    await within(factory.createDirectory(share, scratch.remote("aaFolder")))
    await within(factory.storeFile(share, scratch.remote("aaFolder", "inner.txt"), BytesIO(b"x")))

    pattern = scratch.remote("aa*.txt")
    assert same_path(await within(factory.deleteFiles(share, pattern, timeout=15)), pattern)
    assert {p.name for p in scratch.local.iterdir()} == {"aaTest.bin", "random.txt", "aaFolder"}

    await within(factory.deleteFiles(share, scratch.remote("aa*"), delete_matching_folders=True))
    assert {p.name for p in scratch.local.iterdir()} == {"random.txt"}


@pytest_twisted.ensureDeferred
async def test_echo(on_legacy):
    factory = await on_legacy()
    assert await within(factory.echo(b"twisted echo", timeout=5)) == b"twisted echo"


# -- readiness, disconnection, time limits ---------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_not_connected_before_connecting(factories, legacy_server):
    factory = factories.new(legacy_server)
    assert not factory.isReady
    with pytest.raises(NotConnectedError):
        factory.listPath(legacy_server.share, "/")
    with pytest.raises(NotConnectedError):
        factory.closeConnection()


@pytest_twisted.ensureDeferred
async def test_not_ready_before_auth(factories, legacy_server, stalling_proxy):
    """Connected but not yet authenticated (the server does not answer): NotReadyError."""
    proxy = stalling_proxy(legacy_server)
    proxy.stall()
    factory = factories.connect(legacy_server, port=proxy.port)
    deadline = time.monotonic() + 10
    while True:
        try:
            factory.listPath(legacy_server.share, "/")
        except NotReadyError:
            break
        except NotConnectedError:
            assert time.monotonic() < deadline, "the connection to the proxy was never made"
            await sleep(0.02)
            continue
        pytest.fail("listPath before authentication did not raise NotReadyError")
    assert not factory.isReady
    assert not factory.authenticated.called


@pytest_twisted.ensureDeferred
async def test_not_connected_after_close(on_legacy, legacy_server, pysmb_gap):
    pysmb_gap("after closeConnection the factory keeps its protocol instance: operations are sent "
              "on the closed transport and time out instead of raising NotConnectedError")
    factory = await on_legacy()
    factory.closeConnection()
    await sleep(0.2)
    assert not factory.isReady
    try:
        d = factory.listPath(legacy_server.share, "/", timeout=1)
    except NotConnectedError:
        return
    d.addErrback(lambda _: None)
    pytest.fail("listPath after closeConnection did not raise NotConnectedError")


@pytest_twisted.ensureDeferred
async def test_timeout(factories, legacy_server, tree, stalling_proxy):
    """A server that stops answering: each pending operation's errback gets SMBTimeout."""
    proxy = stalling_proxy(legacy_server)
    factory = await authenticated(factories, legacy_server, port=proxy.port)
    share = legacy_server.share
    await within(factory.listPath(share, "/"))  # tree connected: the stall hits the operations themselves
    proxy.stall()
    started = time.monotonic()
    pending = [
        factory.listPath(share, tree.many_dir, timeout=1),
        factory.echo(b"anyone?", timeout=1),
        factory.getAttributes(share, tree.text_file, timeout=1),
        factory.retrieveFile(share, tree.big_file, BytesIO(), timeout=1),
    ]
    results = await within(defer.DeferredList(pending, consumeErrors=True), 10)
    assert [ok for ok, _ in results] == [False] * len(pending)
    for _, failure in results:
        assert failure.check(SMBTimeout), failure
    assert time.monotonic() - started < 5


@pytest_twisted.ensureDeferred
async def test_many_operations_outstanding(on_legacy, legacy_server, tree, variant, pysmb_gap):
    """Several operations in flight at once on one factory, all answered."""
    pysmb_gap("with SMB2, several operations outstanding at once on one factory stall until they "
              "time out (pysmb issue #117)", when=variant.smb2)
    factory = await on_legacy()
    share = legacy_server.share
    big = tree.content(tree.long_name_file)
    buffers = [BytesIO() for _ in range(4)]
    pending = []
    for buf in buffers:
        pending.append(factory.listPath(share, tree.many_dir, timeout=3))
        pending.append(factory.retrieveFile(share, tree.long_name_file, buf, timeout=3))
    pending.append(factory.getAttributes(share, tree.text_file, timeout=3))
    pending.append(factory.echo(b"in the middle", timeout=3))
    results = await within(defer.DeferredList(pending, consumeErrors=True), 30)
    failures = [r for ok, r in results if not ok]
    assert failures == []
    values = [r for _, r in results]
    for listing in values[0:8:2]:
        assert len(listing) == 1001
    for (_, _, size), buf in zip(values[1:8:2], buffers):
        assert size == len(big) and digest(buf.getvalue()) == digest(big)
    assert values[8].file_size == len(tree.content(tree.text_file))
    assert values[9] == b"in the middle"


@pytest_twisted.ensureDeferred
async def test_two_factories_at_once(factories, legacy_server, tree):
    one = factories.connect(legacy_server)
    two = factories.connect(legacy_server)
    assert await within(defer.gatherResults([one.authenticated, two.authenticated])) == [True, True]
    listed, echoed = await within(defer.gatherResults([
        one.listPath(legacy_server.share, tree.many_dir), two.echo(b"two")]))
    assert len(listed) == 1001 and echoed == b"two"


# -- the documentation's example ------------------------------------------------------------------

#: The RetrieveFileFactory example of pysmb's SMBProtocolFactory documentation, for Python 3: only its
#: ``print`` statement, its connection details (user, password, names, address, port, share, path)
#: and nothing else differ from the documented text.
EXAMPLE = """
import tempfile
from twisted.internet import reactor
from smb.SMBProtocol import SMBProtocolFactory

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
factory.service = SERVICE
factory.path = PATH
reactor.connectTCP(server_ip, SERVER_PORT, factory)
"""


class RecordingFile(BytesIO):
    """What the example's tempfile.NamedTemporaryFile() returns here: keeps what was written and
    fires ``closed_with`` with it when the example closes the file."""

    def __init__(self, closed_with):
        super().__init__()
        self.closed_with = closed_with

    def close(self):
        if not self.closed and not self.closed_with.called:
            self.closed_with.callback(self.getvalue())
        super().close()


@pytest.mark.parametrize("variant", NETBIOS_ONLY, indirect=True)
@pytest_twisted.ensureDeferred
async def test_documented_retrieve_file_example(legacy_server, tree, support_smb2, monkeypatch, pysmb_gap):
    """The documented example, run as written: it retrieves the file, closes it and disconnects.

    It relies on ``self.d`` (a Deferred for its errback) and ``self.transport`` on the factory."""
    pysmb_gap("the factory has neither the `d` nor the `transport` attribute the documented example uses, "
              "so its onAuthOK raises AttributeError and the connection is dropped")
    closed_with = defer.Deferred()
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", lambda *a, **kw: RecordingFile(closed_with))
    namespace = {
        "__name__": "pysmb_factory_example",
        "userID": legacy_server.user,
        "password": legacy_server.password,
        "client_machine_name": CLIENT_NAME,
        "server_name": SERVER_NAME,
        "server_ip": legacy_server.host,
        "SERVER_PORT": legacy_server.port,
        "SERVICE": legacy_server.share,
        "PATH": tree.text_file,
    }
    exec(compile(EXAMPLE, "pysmb_factory_example.py", "exec"), namespace)
    factory = namespace["factory"]
    try:
        data = await within(closed_with, 20)
        assert digest(data) == digest(tree.content(tree.text_file))
        deadline = time.monotonic() + 5
        while factory.isReady:
            assert time.monotonic() < deadline, "the example's loseConnection() did not disconnect"
            await sleep(0.02)
    finally:
        try:
            factory.closeConnection()
        except NotConnectedError:
            pass
