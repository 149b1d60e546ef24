"""SMBConnection: several threads, time limits, and a server that stalls or goes away."""

import hashlib
import threading
import time
from io import BytesIO

import pytest

from smb.base import NotConnectedError, SMBTimeout


def run_threads(count, work, deadline=20.0, abort=None):
    """Runs ``work(i)`` in ``count`` threads started together; returns the exceptions they raised
    (and an entry for each thread still running at the deadline). ``abort``, if given, is called
    once at the first exception, to release threads waiting on something that will not come."""
    errors = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def body(i):
        try:
            barrier.wait(5)
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    end = time.monotonic() + deadline
    aborted = False
    while any(t.is_alive() for t in threads) and time.monotonic() < end:
        if errors and abort is not None and not aborted:
            aborted = True
            abort()
            end = min(end, time.monotonic() + 0.5)
        for t in threads:
            t.join(0.05)
    stuck = [t for t in threads if t.is_alive()]
    errors.extend(RuntimeError(f"{t.name} never finished") for t in stuck)
    return errors


#: The time limit of each operation in the threaded scenarios: generous for a loopback server, short
#: enough that a client which lost an answer gives up soon.
OP_TIMEOUT = 3


def mixed_workload(conn, share, tree, i, rounds):
    big = tree.content(tree.long_name_file)
    for r in range(rounds):
        kind = (i + r) % 3
        if kind == 0:
            names = {e.filename for e in conn.listPath(share, tree.many_dir, timeout=OP_TIMEOUT)}
            assert len(names) == 1001
        elif kind == 1:
            buf = BytesIO()
            _, size = conn.retrieveFile(share, tree.long_name_file, buf, timeout=OP_TIMEOUT)
            assert size == len(big)
            assert hashlib.sha256(buf.getvalue()).digest() == hashlib.sha256(big).digest()
        else:
            info = conn.getAttributes(share, tree.text_file, timeout=OP_TIMEOUT)
            assert info.file_size == len(tree.content(tree.text_file))


def test_one_connection_per_thread(connect, legacy_server, tree):
    conns = [connect(legacy_server) for _ in range(4)]
    errors = run_threads(4, lambda i: mixed_workload(conns[i], legacy_server.share, tree, i, 6))
    assert errors == []


def test_shared_connection_serialized(conn, legacy_server, tree):
    """Threads that take turns on one connection."""
    lock = threading.Lock()

    def work(i):
        for r in range(6):
            with lock:
                mixed_workload(conn, legacy_server.share, tree, i + r, 1)

    assert run_threads(4, work) == []


def test_shared_connection_concurrent(conn, legacy_server, tree, pysmb_gap):
    """Threads that use one connection at the same time."""
    pysmb_gap("SMBConnection is not thread-safe: threads read each other's answers off the one socket")
    errors = run_threads(4, lambda i: mixed_workload(conn, legacy_server.share, tree, i, 6), abort=conn.close)
    assert errors == []
    assert conn.echo(b"still fine") == b"still fine"


def test_concurrent_store_and_retrieve(conn, legacy_server, scratch, pysmb_gap):
    pysmb_gap("SMBConnection is not thread-safe: threads read each other's answers off the one socket")
    payloads = {i: bytes([i]) * (300_000 + i) for i in range(4)}

    def work(i):
        remote = scratch.remote(f"thread-{i}.bin")
        conn.storeFile(legacy_server.share, remote, BytesIO(payloads[i]), timeout=OP_TIMEOUT)
        buf = BytesIO()
        conn.retrieveFile(legacy_server.share, remote, buf, timeout=OP_TIMEOUT)
        assert buf.getvalue() == payloads[i]

    assert run_threads(4, work, abort=conn.close) == []
    for i, data in payloads.items():
        assert scratch.on_disk(f"thread-{i}.bin").read_bytes() == data


# -- time limits ----------------------------------------------------------------------------------


def test_connect_times_out_on_a_stalled_server(new_connection, legacy_server, stalling_proxy):
    proxy = stalling_proxy(legacy_server)
    proxy.stall()
    conn = new_connection(legacy_server)
    started = time.monotonic()
    with pytest.raises(SMBTimeout):
        conn.connect(proxy.host, proxy.port, timeout=0.5)
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("operation", ["listPath", "retrieveFile", "storeFile", "echo", "listShares"])
def test_operation_times_out_on_a_stalled_server(connect, legacy_server, tree, stalling_proxy, unique, operation):
    proxy = stalling_proxy(legacy_server)
    conn = connect(legacy_server, port=proxy.port)
    share = legacy_server.share
    assert conn.listPath(share, "/")  # the tree is connected: the stall hits the operation itself
    proxy.stall()
    limit = 0.5
    calls = {
        "listPath": lambda: conn.listPath(share, tree.many_dir, timeout=limit),
        "retrieveFile": lambda: conn.retrieveFile(share, tree.big_file, BytesIO(), timeout=limit),
        "storeFile": lambda: conn.storeFile(share, "/" + unique("never stored"), BytesIO(b"x" * 100_000),
                                            timeout=limit),
        "echo": lambda: conn.echo(b"anyone there?", timeout=limit),
        "listShares": lambda: conn.listShares(timeout=limit),
    }
    started = time.monotonic()
    with pytest.raises(SMBTimeout):
        calls[operation]()
    assert time.monotonic() - started < 4


def test_short_timeout_is_enough_for_a_live_server(conn, legacy_server, tree):
    buf = BytesIO()
    conn.retrieveFile(legacy_server.share, tree.big_file, buf, timeout=2)
    assert len(buf.getvalue()) == len(tree.content(tree.big_file))


def test_stall_shorter_than_timeout(connect, legacy_server, tree, stalling_proxy):
    """A server that pauses for less than the time limit is only slow."""
    proxy = stalling_proxy(legacy_server)
    conn = connect(legacy_server, port=proxy.port)
    proxy.stall()
    timer = threading.Timer(0.5, proxy.resume)
    timer.start()
    try:
        info = conn.getAttributes(legacy_server.share, tree.text_file, timeout=10)
    finally:
        timer.cancel()
    assert info.file_size == len(tree.content(tree.text_file))


# -- a server that goes away ----------------------------------------------------------------------


def test_server_closes_the_connection(connect, legacy_server, tree, stalling_proxy):
    proxy = stalling_proxy(legacy_server)
    conn = connect(legacy_server, port=proxy.port)
    assert conn.echo(b"before") == b"before"
    proxy.drop()
    with pytest.raises((NotConnectedError, ConnectionError)):
        conn.listPath(legacy_server.share, tree.many_dir, timeout=OP_TIMEOUT)


def test_refused_connection(new_connection, legacy_server, stalling_proxy):
    proxy = stalling_proxy(legacy_server)
    port = proxy.port
    proxy.close()
    conn = new_connection(legacy_server)
    with pytest.raises(OSError):
        conn.connect(legacy_server.host, port, timeout=OP_TIMEOUT)
