"""A TCP proxy on 127.0.0.1 for fault scenarios: it forwards every connection it accepts to one
target, and on request stops forwarding (``stall``), starts again (``resume``) or cuts every
connection (``drop``).

While stalled the proxy still accepts connections, so a client's TCP connect succeeds, but it reads
nothing from either side: requests and answers wait in the kernel's buffers, as with a server that
hangs. It runs one thread; ``close`` stops it and closes every socket.
"""

import select
import socket
import struct
import threading

_CHUNK = 256 * 1024
_HIGH_WATER = 4 * 1024 * 1024


class _Pipe:
    """One direction of a proxied connection: bytes read from ``src``, waiting to go to ``dst``."""

    def __init__(self, src, dst):
        self.src = src
        self.dst = dst
        self.buffer = bytearray()
        self.eof = False


class _Link:
    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.pipes = [_Pipe(client, upstream), _Pipe(upstream, client)]
        self.closed = False

    def close(self, reset=False):
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.upstream):
            if reset:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            try:
                sock.close()
            except OSError:
                pass


class StallingProxy:
    """Forwards connections made to ``127.0.0.1:self.port`` to ``(target_host, target_port)``."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.host = "127.0.0.1"
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._links = []
        self._stalled = False
        self._closing = False
        self._pending_drop = None
        self.accepted = 0
        self.forwarded = 0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=f"stalling-proxy-{self.port}", daemon=True)
        self._thread.start()

    # -- control ----------------------------------------------------------------------------------

    @property
    def stalled(self):
        return self._stalled

    def stall(self):
        """Stop forwarding in both directions (connections stay open)."""
        with self._lock:
            self._stalled = True
        self._wake()

    def resume(self):
        """Forward again, including whatever waited meanwhile."""
        with self._lock:
            self._stalled = False
        self._wake()

    def drop(self, reset=False):
        """Close every current connection (with a TCP reset if ``reset``); new ones are still accepted."""
        done = threading.Event()
        with self._lock:
            self._pending_drop = (reset, done)
        self._wake()
        done.wait(5)

    def close(self):
        with self._lock:
            self._closing = True
        self._wake()
        self._thread.join(5)
        for link in self._links:
            link.close()
        self._links.clear()
        for sock in (self._listener, self._wake_r, self._wake_w):
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the forwarding thread --------------------------------------------------------------------

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _run(self):
        while True:
            with self._lock:
                closing = self._closing
                stalled = self._stalled
                drop, self._pending_drop = self._pending_drop, None
            if closing:
                return
            if drop is not None:
                reset, done = drop
                for link in self._links:
                    link.close(reset=reset)
                self._links.clear()
                done.set()

            readers = [self._listener, self._wake_r]
            writers = []
            if not stalled:
                for link in self._links:
                    for pipe in link.pipes:
                        if not pipe.eof and len(pipe.buffer) < _HIGH_WATER:
                            readers.append(pipe.src)
                        if pipe.buffer:
                            writers.append(pipe.dst)
            try:
                readable, _, _ = select.select(readers, writers, [], 0.5)
            except (OSError, ValueError):
                # A socket closed under us (drop/close); look again.
                self._links = [link for link in self._links if not link.closed]
                continue

            if self._wake_r in readable:
                try:
                    while self._wake_r.recv(4096):
                        pass
                except BlockingIOError:
                    pass
            if self._listener in readable:
                self._accept()
            if stalled:
                continue
            for link in list(self._links):
                self._pump(link, readable)
            self._links = [link for link in self._links if not link.closed]

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, OSError):
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.setblocking(False)
            upstream.setblocking(False)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._links.append(_Link(client, upstream))
            self.accepted += 1

    def _pump(self, link, readable):
        for pipe in link.pipes:
            if link.closed:
                return
            if pipe.src in readable and not pipe.eof:
                try:
                    data = pipe.src.recv(_CHUNK)
                except BlockingIOError:
                    data = None
                except OSError:
                    link.close()
                    return
                if data == b"":
                    pipe.eof = True
                elif data:
                    pipe.buffer += data
            if pipe.buffer:
                try:
                    sent = pipe.dst.send(pipe.buffer)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    link.close()
                    return
                del pipe.buffer[:sent]
                self.forwarded += sent
            if pipe.eof and not pipe.buffer:
                try:
                    pipe.dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        if all(p.eof and not p.buffer for p in link.pipes):
            link.close()
