"""smbkit.aio: the asyncio API, over the loop's own socket and a native
``Bridge``, against private Samba servers.

Self-contained: the module starts ``smbkit-testserver`` itself (the legacy
profile: SMB1 and SMB 2/3, NTLMv1 and v2; the modern profile: SMB 3.1.1
with an encrypted share) and stops it at the end. The binary is
``$SMBKIT_TESTSERVER``, else ``<repo>/target/debug/``
(``cargo build -p smbkit-testserver``). Each test
runs its own event loop (``asyncio.run``).
"""

import asyncio
import hashlib
import io
import os
import random
import socket
import threading
import time
from pathlib import Path

import pytest

import testserver
from proxy import StallingProxy

import smbkit.aio as aio
from smbkit import _native
from smbkit.smb.base import NotConnectedError, SharedDevice, SharedFile, SMBTimeout
from smbkit.smb.smb_structs import OperationFailure

MIB = 1 << 20
SERVER_NAME = "SMBKITTEST"

#: (profile, protocol, direct TCP): SMB1 and SMB 2/3 over both framings,
#: and SMB 3.1.1 on the modern profile.
VARIANTS = {
    "smb1-netbios": ("legacy", "smb1", False),
    "smb1-direct": ("legacy", "smb1", True),
    "smb2-netbios": ("legacy", "auto", False),
    "smb2-direct": ("legacy", "auto", True),
    "smb311-direct": ("modern", "auto", True),
}


# --- servers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers():
    started = testserver.Servers()
    yield started.get
    started.stop_all()


@pytest.fixture(params=list(VARIANTS))
def variant(request):
    return request.param


def _connect(env, *, protocol="auto", direct=True, port=None, **options):
    options.setdefault("username", env["SMBKIT_TEST_USER"])
    options.setdefault("password", env["SMBKIT_TEST_PASSWORD"])
    options.setdefault("domain", env["SMBKIT_TEST_DOMAIN"])
    return aio.connect(
        env["SMBKIT_TEST_HOST"],
        int(env["SMBKIT_TEST_PORT"]) if port is None else port,
        my_name="AIOCLIENT",
        remote_name=SERVER_NAME,
        is_direct_tcp=direct,
        protocol=protocol,
        timeout=20,
        **options,
    )


def _variant_connect(servers, name, **options):
    profile, protocol, direct = VARIANTS[name]
    env = servers(profile)
    return env, _connect(env, protocol=protocol, direct=direct, **options)


def run(coro, limit=120):
    """Runs ``coro`` on a new event loop, within ``limit`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, limit))


def _data(size, seed):
    return random.Random(seed).randbytes(size)


def _scratch(env, name):
    """A fresh folder in the share, writable by the share's user; its SMB
    path."""
    local = Path(env["SMBKIT_TEST_SHARE_PATH"]) / name
    local.mkdir(mode=0o777)
    os.chmod(local, 0o777)
    return "/" + name


_counter = iter(range(1, 1 << 30))


def _unique(stem):
    return "%s-%d-%d" % (stem, os.getpid(), next(_counter))

# --- connecting ------------------------------------------------------------------------


def test_connect_and_list(servers, variant):
    env, connecting = _variant_connect(servers, variant)

    async def go():
        async with await connecting as conn:
            assert conn.is_ready
            assert conn.is_using_smb2 == (VARIANTS[variant][1] != "smb1")
            if variant == "smb311-direct":
                assert conn.dialect == "3.1.1"
            shares = await conn.list_shares()
            assert all(isinstance(s, SharedDevice) for s in shares)
            assert {"share", "readonly", "encrypted", "IPC$"} <= {s.name for s in shares}
            files = await conn.list_path("share", "/")
            assert all(isinstance(f, SharedFile) for f in files)
            assert await conn.echo(b"ping") == b"ping"
            info = conn.server_info()
            assert info["max_read_size"] > 0
        assert not conn.is_ready
        with pytest.raises(NotConnectedError):
            await conn.list_shares()

    run(go())


@pytest.mark.parametrize("variant", ["smb1-netbios", "smb2-direct", "smb311-direct"])
def test_auth_failure(servers, variant):
    env, connecting = _variant_connect(servers, variant, password="not the password")

    async def go():
        with pytest.raises(OperationFailure) as info:
            await connecting
        assert info.value.nt_status == 0xC000006D  # STATUS_LOGON_FAILURE
        assert "smbkituser" in str(info.value)

    run(go())


def test_connection_refused():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    async def go():
        with pytest.raises(OSError):
            await aio.connect("127.0.0.1", port, username="u", password="p", timeout=5)

    run(go())


# --- transfers ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["smb1-netbios", "smb1-direct", "smb2-netbios", "smb311-direct"])
def test_store_and_retrieve(servers, variant):
    env, connecting = _variant_connect(servers, variant)
    folder = _scratch(env, _unique("aio-transfer"))
    data = _data(4 * MIB + 1234, 7)

    async def go():
        async with await connecting as conn:
            path = folder + "/big.bin"
            assert await conn.store_file("share", path, io.BytesIO(data)) == len(data)
            out = io.BytesIO()
            attributes, size = await conn.retrieve_file("share", path, out)
            assert size == len(data) and isinstance(attributes, int)
            assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()
            out = io.BytesIO()
            assert (await conn.retrieve_file_from_offset("share", path, out, 1000, 5000))[1] == 5000
            assert out.getvalue() == data[1000:6000]
            assert await conn.store_file_from_offset("share", path, io.BytesIO(b"xyz"), 10) == 13
            info = await conn.get_attributes("share", path)
            assert info.file_size == len(data) and not info.isDirectory
            await conn.rename("share", path, folder + "/moved.bin")
            await conn.create_directory("share", folder + "/sub")
            assert (await conn.get_attributes("share", folder + "/sub")).isDirectory
            await conn.delete_directory("share", folder + "/sub")
            await conn.delete_files("share", folder + "/*.bin")
            await conn.delete_files("share", folder + "/*.none")  # nothing to delete: no failure
            assert [f.filename for f in await conn.list_path("share", folder) if f.filename not in (".", "..")] == []
            with pytest.raises(OperationFailure):
                await conn.retrieve_file("share", folder + "/missing.bin", io.BytesIO())

    run(go())


def test_encrypted_share(servers):
    env = servers("modern")
    data = _data(3 * MIB, 11)
    name = "/" + _unique("secret") + ".bin"

    async def go():
        async with await _connect(env) as conn:
            assert conn.dialect == "3.1.1"
            assert await conn.store_file("encrypted", name, io.BytesIO(data)) == len(data)
            out = io.BytesIO()
            assert (await conn.retrieve_file("encrypted", name, out))[1] == len(data)
            assert out.getvalue() == data
        async with await _connect(env, encryption="required") as conn:
            assert conn.server_info()["encrypted"]
            assert await conn.echo(b"sealed") == b"sealed"
            names = [f.filename for f in await conn.list_path("encrypted", "/")]
            assert name.lstrip("/") in names

    run(go())
    assert (Path(env["SMBKIT_TEST_DIR"]) / "encrypted" / name.lstrip("/")).read_bytes() == data


def test_twenty_operations_at_once(servers):
    env = servers("legacy")
    folder = _scratch(env, _unique("aio-many"))
    local = Path(env["SMBKIT_TEST_SHARE_PATH"]) / folder.lstrip("/")
    blobs = {}
    for i in range(5):
        blobs[i] = _data(300_000 + i, 100 + i)
        (local / ("f%d.bin" % i)).write_bytes(blobs[i])

    async def go():
        async with await _connect(env) as conn:
            buffers = [io.BytesIO() for _ in range(5)]
            pending = [conn.retrieve_file("share", "%s/f%d.bin" % (folder, i), buffers[i]) for i in range(5)]
            pending += [conn.echo(b"e%d" % i) for i in range(5)]
            pending += [conn.get_attributes("share", "%s/f%d.bin" % (folder, i)) for i in range(5)]
            pending += [conn.list_path("share", folder) for _ in range(5)]
            assert len(pending) == 20
            results = await asyncio.gather(*pending)
            for i in range(5):
                assert results[i][1] == len(blobs[i]) and buffers[i].getvalue() == blobs[i]
                assert results[5 + i] == b"e%d" % i
                assert results[10 + i].file_size == len(blobs[i])
                assert {f.filename for f in results[15 + i]} >= {"f%d.bin" % j for j in range(5)}

    run(go())


def test_timeout_when_the_server_stalls(servers):
    env = servers("legacy")
    folder = _scratch(env, _unique("aio-stall"))
    (Path(env["SMBKIT_TEST_SHARE_PATH"]) / folder.lstrip("/") / "x.bin").write_bytes(_data(MIB, 3))
    proxy = StallingProxy(env["SMBKIT_TEST_HOST"], int(env["SMBKIT_TEST_PORT"]))

    async def go():
        conn = await _connect(env, port=proxy.port)
        try:
            await conn.list_path("share", "/")  # the tree is connected before the stall
            proxy.stall()
            started = time.monotonic()
            results = await asyncio.gather(
                conn.echo(b"anyone?", timeout=1),
                conn.list_path("share", "/", timeout=1),
                conn.retrieve_file("share", folder + "/x.bin", io.BytesIO(), timeout=1),
                return_exceptions=True,
            )
            assert all(isinstance(r, SMBTimeout) for r in results), results
            assert time.monotonic() - started < 5
        finally:
            await conn.close(timeout=1)

    try:
        run(go())
    finally:
        proxy.close()


def test_cancelling_a_transfer_leaves_the_connection_usable(servers):
    env = servers("legacy")
    folder = _scratch(env, _unique("aio-cancel"))
    data = _data(24 * MIB, 21)
    (Path(env["SMBKIT_TEST_SHARE_PATH"]) / folder.lstrip("/") / "big.bin").write_bytes(data)

    async def go():
        loop = asyncio.get_running_loop()
        first_chunk = asyncio.Event()

        class Slow(io.BytesIO):
            def write(self, chunk):
                loop.call_soon_threadsafe(first_chunk.set)
                time.sleep(0.05)
                return super().write(chunk)

        async with await _connect(env) as conn:
            task = asyncio.ensure_future(conn.retrieve_file("share", folder + "/big.bin", Slow()))
            await first_chunk.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The connection goes on: an echo, and the whole file again.
            assert await conn.echo(b"still here") == b"still here"
            out = io.BytesIO()
            assert (await conn.retrieve_file("share", folder + "/big.bin", out))[1] == len(data)
            assert out.getvalue() == data
            # asyncio.wait_for cancels the same way.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(conn.retrieve_file("share", folder + "/big.bin", Slow()), 0.2)
            assert len(await conn.list_path("share", folder)) >= 1

    run(go())


def test_native_operation_cancel(servers):
    """The native layer: an operation started with a callback, cancelled
    at once, never calls its callback; one left alone calls it once."""
    env = servers("legacy")

    async def go():
        async with await _connect(env) as conn:
            native = conn._conn
            calls = []
            op = native.list_path("share", "/", callback=lambda r, e: calls.append((r, e)))
            assert op.cancel() is True and op.cancelled and op.done
            assert op.cancel() is False
            done = threading.Event()
            op2 = native.echo(b"x", callback=lambda r, e: (calls.append((r, e)), done.set()))
            assert await asyncio.get_running_loop().run_in_executor(None, done.wait, 10)
            assert calls == [(b"x", None)] and op2.done and not op2.cancelled
            assert op2.cancel() is False
            # The blocking way works too, from another thread; on the loop's
            # own thread it would wait forever, and is refused.
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, native.echo, b"blocking") == b"blocking"
            with pytest.raises(RuntimeError, match="event loop"):
                native.echo(b"deadlock?")

    run(go())


# --- listings ------------------------------------------------------------------------------


def test_read_dir_of_2000_entries(servers):
    env = servers("legacy")
    folder = _scratch(env, _unique("aio-2000"))
    local = Path(env["SMBKIT_TEST_SHARE_PATH"]) / folder.lstrip("/")
    names = {"entry-%04d.txt" % i for i in range(2000)}
    for name in names:
        (local / name).write_bytes(b"x")

    async def go():
        async with await _connect(env) as conn:
            seen = []
            iterator = conn.read_dir("share", folder, batch=256)
            assert hasattr(iterator, "__anext__")
            async for entry in iterator:
                assert isinstance(entry, SharedFile)
                seen.append(entry.filename)
            assert len(seen) == 2000 and set(seen) == names
            # Breaking off early is fine, and the connection goes on.
            async for entry in conn.read_dir("share", folder):
                break
            walked = [w async for w in conn.walk("share", folder.rsplit("/", 1)[0] or "/", max_depth=2)]
            assert any(w.path.endswith("entry-0001.txt") and w.depth == 2 for w in walked)
            with pytest.raises(OperationFailure):
                async for _ in conn.read_dir("share", "/no such folder"):
                    pass

    run(go())


# --- remote files ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["smb1-direct", "smb2-direct"])
def test_async_file_read_write_seek(servers, variant):
    env, connecting = _variant_connect(servers, variant)
    folder = _scratch(env, _unique("aio-file"))
    data = _data(3 * MIB + 17, 31)

    async def go():
        async with await connecting as conn:
            path = folder + "/f.bin"
            async with await conn.open("share", path, write=True, create=True, truncate=True) as f:
                for i in range(0, len(data), 700_000):
                    assert await f.write(data[i:i + 700_000]) == len(data[i:i + 700_000])
                assert await f.tell() == len(data)
                assert await f.seek(0) == 0
                assert await f.read(10) == data[:10]
                assert await f.seek(-5, 2) == len(data) - 5
                assert await f.read() == data[-5:]
                assert await f.read(10) == b""
                await f.seek(100)
                await f.write(b"PATCH")
                await f.flush()
                assert (await f.stat()).file_size == len(data)
            assert f.closed
            expected = data[:100] + b"PATCH" + data[105:]
            async with await conn.open("share", path) as f:
                assert f.size == len(expected)
                assert await f.read() == expected
                await f.seek(MIB)
                assert await f.read(MIB) == expected[MIB:2 * MIB]
                assert await f.tell() == 2 * MIB
                # Writes are gathered and sent in the background: the
                # refusal comes with flush (or close).
                await f.write(b"read-only handle")
                with pytest.raises(OperationFailure):
                    await f.flush()
            async with await conn.open("share", path, write=True) as f:
                assert await f.truncate(50) == 50
            assert (await conn.get_attributes("share", path)).file_size == 50
            with pytest.raises(OperationFailure):
                await conn.open("share", path, write=True, create_new=True)
            with pytest.raises(ValueError):
                await f.read()

    run(go())


# --- the bridge --------------------------------------------------------------------------------


def test_bridge_back_pressure(servers, monkeypatch):
    """With a small bridge, the native writer waits for the loop to take
    its output: never more than the capacity is queued, and a transfer of
    several MiB still gets through."""
    env = servers("legacy")
    capacity = 16 * 1024
    real = _native.Bridge
    made = []

    def small(wake):
        b = real(wake, capacity)
        made.append(b)
        return b

    monkeypatch.setattr(aio._native, "Bridge", small)
    seen = [0]
    drain = aio._BridgeProtocol._drain

    def watching(self):
        seen[0] = max(seen[0], self.bridge.pending_output)
        drain(self)

    monkeypatch.setattr(aio._BridgeProtocol, "_drain", watching)
    folder = _scratch(env, _unique("aio-bridge"))
    data = _data(2 * MIB, 41)

    async def go():
        async with await _connect(env) as conn:
            assert await conn.store_file("share", folder + "/x.bin", io.BytesIO(data)) == len(data)
            out = io.BytesIO()
            await conn.retrieve_file("share", folder + "/x.bin", out)
            assert out.getvalue() == data

    run(go())
    assert made and 0 < seen[0] <= capacity
    assert made[0].closed or made[0].output_closed


def test_the_loop_runs_while_the_runtime_works(servers):
    """While a large transfer is under way, the event loop stays free: a
    ticker task keeps ticking."""
    env = servers("legacy")
    folder = _scratch(env, _unique("aio-ticks"))
    data = _data(8 * MIB, 51)
    (Path(env["SMBKIT_TEST_SHARE_PATH"]) / folder.lstrip("/") / "x.bin").write_bytes(data)

    async def go():
        ticks = [0]
        stop = asyncio.Event()

        async def ticker():
            while not stop.is_set():
                ticks[0] += 1
                await asyncio.sleep(0.001)

        async with await _connect(env) as conn:
            t = asyncio.ensure_future(ticker())
            out = io.BytesIO()
            await conn.retrieve_file("share", folder + "/x.bin", out)
            stop.set()
            await t
            assert out.getvalue() == data
        assert ticks[0] > 5

    run(go())


def test_bridge_contract():
    """The native Bridge on its own: a received flood asks for a pause, a
    bridge carries one connection only, and closing is final."""
    wakes = []
    bridge = _native.Bridge(lambda: wakes.append(1), 4096)
    assert bridge.take_output() == b"" and not bridge.output_closed and not bridge.closed
    assert bridge.feed(b"x" * MIB) is True
    assert bridge.feed(b"x" * (16 * MIB)) is False  # nobody reads: pause
    assert bridge.wants_input() is False
    with pytest.raises(ValueError):
        _native.Bridge("not callable")
    with pytest.raises(ValueError):
        _native.Bridge(lambda: None, 0)

    async def go():
        one = _native.Bridge(lambda: None)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        op = _native.connect_stream(
            one, "u", "p", "ME", "YOU", is_direct_tcp=True, timeout=5,
            callback=lambda r, e: loop.call_soon_threadsafe(fut.set_result, (r, e)))
        with pytest.raises(RuntimeError, match="already"):
            _native.connect_stream(one, "u", "p", "ME", "YOU", callback=lambda r, e: None)
        one.close()  # the transport is gone before any answer
        result, error = await asyncio.wait_for(fut, 10)
        assert result is None and isinstance(error, (NotConnectedError, OSError)), error
        assert op.done and one.closed
        one.close()
        with pytest.raises(RuntimeError, match="closed"):
            _native.connect_stream(_closed(), "u", "p", "ME", "YOU", callback=lambda r, e: None)

    def _closed():
        b = _native.Bridge(lambda: None)
        b.close()
        return b

    run(go())
