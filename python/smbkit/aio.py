"""smbkit for asyncio: SMB1 and SMB 2.0.2-3.1.1 connections whose
operations are coroutines.

::

    import smbkit.aio

    async def main():
        async with await smbkit.aio.connect(
            "192.0.2.10", username="alice", password="secret"
        ) as conn:
            for share in await conn.list_shares():
                print(share.name)
            async for entry in conn.read_dir("docs", "/2024"):
                print(entry.filename, entry.file_size)
            with open("report.pdf", "wb") as f:
                await conn.retrieve_file("docs", "/2024/report.pdf", f)
            async with await conn.open("docs", "/notes.txt", write=True, create=True) as remote:
                await remote.write(b"hello")

How it works:

* **One path for the bytes.** :func:`connect` opens the TCP connection
  with the running loop (``loop.create_connection``); an asyncio
  ``Protocol`` feeds what it receives to a native ``Bridge`` and writes
  what the native connection queues, on the loop's thread. The native
  work (framing, signing, encryption, matching answers) runs on the
  process's shared runtime with the GIL released; the Twisted API
  (:mod:`smbkit.smb.SMBProtocol`) goes the same way.
* **Back-pressure.** While the transport's buffer is full
  (``pause_writing``) the protocol stops taking the bridge's output; the
  bridge's bounded queue fills up and the native writer waits. When the
  native side falls behind, reading is paused until it catches up.
* **Operations.** Each coroutine starts a native operation and awaits an
  asyncio future that the runtime completes with
  ``loop.call_soon_threadsafe``. Any number may be outstanding at once, from
  any number of tasks. Cancelling the awaiting task cancels the native
  operation: its requests are withdrawn and the connection stays usable.
* **File objects.** ``retrieve_file`` and ``store_file`` take ordinary
  (blocking) file objects and call their ``write`` and ``read`` on a
  runtime thread, attached to the interpreter for each call, so the event
  loop never waits for the disk. Do not use the file object elsewhere until
  the coroutine returns. :meth:`AsyncConnection.open` gives a remote file to
  read and write in place instead (:class:`AsyncRemoteFile`).

Errors are pysmb's exceptions (:mod:`smbkit.smb.base`,
:mod:`smbkit.smb.smb_structs`): ``OperationFailure`` with the server's NT
status, ``SMBTimeout``, ``NotConnectedError``, ``NotReadyError``,
``ProtocolError``, ``UnsupportedFeature``, ``OSError``.
"""

import asyncio
import collections
import socket

from . import _common, _native
from .smb.base import NotConnectedError, SharedFile
from .smb.security_descriptors import SecurityDescriptor
from .smb.smb_constants import ATTR_NORMAL
from .smb.smb_structs import OperationFailure

__all__ = ["connect", "AsyncConnection", "AsyncRemoteFile", "WalkEntry", "DEFAULT_SEARCH"]

#: The default ``search`` filter of :meth:`AsyncConnection.list_path`.
DEFAULT_SEARCH = _native.DEFAULT_SEARCH

#: One item of :meth:`AsyncConnection.walk`: the path below the walk's
#: root (``"docs/a.txt"``), its depth (1 for the root's own entries) and the
#: entry.
WalkEntry = collections.namedtuple("WalkEntry", ["path", "depth", "entry"])


def _settle(fut, result, error):
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


async def _run(loop, method, *args, **kwargs):
    """Starts the native ``method`` with a callback and awaits its result;
    cancelling the awaiting task cancels the native operation."""
    fut = loop.create_future()

    def deliver(result, error):
        # On a runtime thread.
        try:
            loop.call_soon_threadsafe(_settle, fut, result, error)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    op = method(*args, callback=deliver, **kwargs)
    try:
        return await fut
    except asyncio.CancelledError:
        op.cancel()
        raise


class _BridgeProtocol(asyncio.Protocol):
    """Carries a native connection's bytes over an asyncio transport."""

    def __init__(self, loop):
        self._loop = loop
        self.bridge = _native.Bridge(self._wake)
        self.transport = None
        self._output_paused = False
        self._reading_paused = False
        self.lost = loop.create_future()

    def _wake(self):
        # On a runtime thread: only schedule the work on the loop's thread.
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            pass  # the loop is closed

    def _drain(self):
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        bridge = self.bridge
        if bridge.wants_input() and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        if self._output_paused:
            return  # resume_writing drains again
        data = bridge.take_output()
        if data:
            transport.write(data)
        if bridge.output_closed:
            transport.close()

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass

    def data_received(self, data):
        if not self.bridge.feed(data):
            self._reading_paused = True
            self.transport.pause_reading()

    def eof_received(self):
        self.bridge.close()
        return False  # close the transport

    def connection_lost(self, exc):
        self.bridge.close()
        if not self.lost.done():
            self.lost.set_result(exc)

    def pause_writing(self):
        self._output_paused = True

    def resume_writing(self):
        self._output_paused = False
        self._drain()


def _kerberos_options(host, mode, ccache, keytab, realm, service_host, kdc, krb5_conf):
    """The native connect's ``kerberos`` dict, or ``None`` for NTLM."""
    if mode in (None, False, "off"):
        return None
    if mode is True:
        mode = "required"
    if isinstance(kdc, str):
        kdc = [kdc]
    return {
        "mode": mode,
        "ccache": None if ccache is None else str(ccache),
        "keytab": None if keytab is None else str(keytab),
        "realm": realm,
        "host": service_host or host,
        "kdc": None if kdc is None else list(kdc),
        "krb5_conf": None if krb5_conf is None else str(krb5_conf),
    }


async def connect(
    host,
    port=445,
    *,
    username,
    password,
    my_name="SMBKIT",
    remote_name=None,
    domain="",
    use_ntlm_v2=True,
    sign_options=2,
    is_direct_tcp=True,
    protocol="auto",
    extended_security=True,
    encryption="if_required",
    timeout=60.0,
    family=0,
    kerberos=None,
    kerberos_ccache=None,
    kerberos_keytab=None,
    kerberos_realm=None,
    kerberos_host=None,
    kdc=None,
    krb5_conf=None,
):
    """Connects to ``host`` (a name or an address) on ``port``, negotiates
    and authenticates; returns an :class:`AsyncConnection`.

    :param username: the user name (empty, with an empty password, for an
        anonymous session).
    :param password: the password, or a callable returning it.
    :param my_name: our NetBIOS name (up to 15 characters).
    :param remote_name: the server's NetBIOS name; needed for NetBIOS (port
        139) when the server checks it. By default the host, when it makes
        a valid name.
    :param sign_options: 0 (never), 1 (when supported) or 2 (when required,
        the default), as pysmb's ``SIGN_*``.
    :param is_direct_tcp: direct TCP (port 445, the default) or NetBIOS
        over TCP (port 139).
    :param protocol: ``"auto"`` (SMB1 and SMB 2/3 offered, SMB 2/3 used
        when possible), ``"smb1"`` or ``"smb2"``.
    :param extended_security: SMB1 only: log on with SPNEGO.
    :param encryption: ``"if_required"`` (what the server asks for, the
        default), ``"preferred"`` or ``"required"`` (SMB 3.x).
    :param timeout: seconds for connecting and authenticating.
    :param family: ``socket.AF_INET`` or ``socket.AF_INET6`` to use only
        addresses of that family.
    :param kerberos: ``None`` or ``"off"`` (NTLM), ``"preferred"`` (Kerberos
        when a ticket can be had, else NTLM) or ``"required"`` (Kerberos or
        nothing). Kerberos logs on with a keytab (``kerberos_keytab``), a
        credential cache (``kerberos_ccache``, else ``KRB5CCNAME`` as after
        ``kinit``) or the password, and asks for ``cifs/<kerberos_host>``
        (by default ``host``). ``kerberos_realm``, ``kdc`` (a list of
        ``"host[:port]"``) and ``krb5_conf`` override what ``krb5.conf``
        says.
    :raises OperationFailure: the server refused the credentials.
    :raises SMBTimeout: no answer in time.
    :raises OSError: the TCP connection could not be made.
    """
    loop = asyncio.get_running_loop()
    try:
        transport, proto = await asyncio.wait_for(
            loop.create_connection(lambda: _BridgeProtocol(loop), host, port, family=family),
            timeout,
        )
    except asyncio.TimeoutError:
        from .smb.base import SMBTimeout

        raise SMBTimeout("connecting to %s port %s timed out after %s s" % (host, port, timeout)) from None
    try:
        conn = await _run(
            loop,
            _native.connect_stream,
            proto.bridge,
            username,
            password,
            my_name.upper()[:15],
            _common.remote_name_for(remote_name, host),
            domain=domain,
            use_ntlm_v2=use_ntlm_v2,
            sign_options=sign_options,
            is_direct_tcp=is_direct_tcp,
            protocol=protocol,
            extended_security=extended_security,
            encryption=encryption,
            timeout=_common.seconds(timeout),
            kerberos=_kerberos_options(
                host,
                kerberos,
                kerberos_ccache,
                kerberos_keytab,
                kerberos_realm,
                kerberos_host,
                kdc,
                krb5_conf,
            ),
        )
    except BaseException:
        transport.close()
        raise
    return AsyncConnection(conn, transport, proto)


class AsyncConnection:
    """An authenticated SMB connection on the running asyncio loop; made by
    :func:`connect`. ``async with`` closes it.

    Every method is a coroutine; ``timeout`` (seconds) replaces the
    operation's default time limit (30 s; 10 s for echo), and for
    transfers applies to each request. Use it from any number of tasks at
    once (all on the loop it was made on).
    """

    def __init__(self, conn, transport, protocol):
        self._conn = conn
        self._transport = transport
        self._protocol = protocol
        self._loop = protocol._loop
        self._closed = False

    def __repr__(self):
        return "<smbkit.aio.AsyncConnection dialect=%s ready=%s>" % (self.dialect, self.is_ready)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    @property
    def is_ready(self):
        """True while the connection is open and authenticated."""
        return not self._closed and self._conn.is_ready

    @property
    def is_using_smb2(self):
        """True when the connection speaks SMB2 or SMB3."""
        return self._conn.is_using_smb2

    @property
    def dialect(self):
        """The negotiated dialect, e.g. ``"3.1.1"``."""
        return self._conn.dialect

    def server_info(self):
        """What was negotiated: a dict with ``dialect``, ``max_read_size``,
        ``max_write_size``, ``signing``, ``encrypted``, ..."""
        return self._conn.server_info()

    async def _call(self, name, *args, **kwargs):
        if self._closed:
            raise NotConnectedError("Not connected to server: the connection is closed")
        try:
            return await _run(self._loop, getattr(self._conn, name), *args, **kwargs)
        except OperationFailure as e:
            closed = _common.closed_under(e) if self._closed else e
            if closed is not e:
                raise closed from e
            raise

    # --- listing ---------------------------------------------------------------------

    async def list_shares(self, *, timeout=None):
        """The shares of the server, ``IPC$`` and other special ones
        included, as :class:`~smbkit.smb.base.SharedDevice`."""
        return _common.shares(await self._call("list_shares", timeout=_common.seconds(timeout)))

    async def list_path(self, share, path, search=DEFAULT_SEARCH, pattern="*", *, timeout=None):
        """The entries of the folder ``path`` whose attributes pass
        ``search`` (pysmb's ``SMB_FILE_ATTRIBUTE_*`` bits) and whose names
        match ``pattern``, as :class:`~smbkit.smb.base.SharedFile` (``.``
        and ``..`` included when the server lists them)."""
        rows = await self._call("list_path", share, path, search, pattern, timeout=_common.seconds(timeout))
        return _common.files(rows)

    async def read_dir(self, share, path, *, batch=1024, timeout=None):
        """The entries of the folder ``path`` as an async iterator of
        :class:`~smbkit.smb.base.SharedFile`, page by page as the server
        sends them (``.`` and ``..`` left out); a folder of any size lists
        in bounded memory. ``timeout`` applies to each page.

        ::

            async for entry in conn.read_dir("share", "/photos"):
                print(entry.filename)
        """
        if self._closed:
            raise NotConnectedError("Not connected to server: the connection is closed")
        stream = self._conn.read_dir(share, path, timeout=_common.seconds(timeout))
        while True:
            rows = await _run(self._loop, stream.next_batch, batch)
            if not rows:
                return
            for row in rows:
                yield SharedFile(*row)

    async def walk(self, share, path, *, concurrency=_native.WALK_CONCURRENCY, max_depth=None, batch=1024,
                   timeout=None):
        """Everything below the folder ``path`` as an async iterator of
        :data:`WalkEntry` ``(path, depth, entry)``, listing ``concurrency``
        folders at once, no deeper than ``max_depth`` levels (None: all).
        Entries of different folders come interleaved. A folder that
        cannot be listed raises its error (``OperationFailure``) and ends
        the iteration."""
        if self._closed:
            raise NotConnectedError("Not connected to server: the connection is closed")
        stream = self._conn.walk(
            share, path, concurrency=concurrency, max_depth=max_depth, timeout=_common.seconds(timeout))
        while True:
            rows = await _run(self._loop, stream.next_batch, batch)
            if not rows:
                return
            for rel, depth, row in rows:
                yield WalkEntry(rel, depth, SharedFile(*row))

    async def list_snapshots(self, share, path, *, timeout=None):
        """The snapshots (previous versions) of ``path``, as naive UTC
        ``datetime`` objects."""
        return _common.snapshot_times(
            await self._call("list_snapshots", share, path, timeout=_common.seconds(timeout)))

    async def get_attributes(self, share, path, *, timeout=None):
        """The attributes of the file or folder ``path``, as a
        :class:`~smbkit.smb.base.SharedFile`."""
        return SharedFile(*await self._call("get_attributes", share, path, timeout=_common.seconds(timeout)))

    async def get_security(self, share, path, *, timeout=None):
        """The security descriptor of ``path`` (owner, group, DACL), as a
        :class:`~smbkit.smb.security_descriptors.SecurityDescriptor`."""
        raw = await self._call("get_security", share, path, timeout=_common.seconds(timeout))
        return SecurityDescriptor.from_bytes(raw)

    # --- transfers ------------------------------------------------------------------------

    async def retrieve_file(self, share, path, file_obj, *, timeout=None):
        """Writes the file ``path`` to ``file_obj`` (anything with a
        ``write(bytes)`` method, called on a runtime thread as the chunks
        arrive); returns ``(file attributes, bytes written)``."""
        return await self.retrieve_file_from_offset(share, path, file_obj, 0, -1, timeout=timeout)

    async def retrieve_file_from_offset(self, share, path, file_obj, offset=0, max_length=-1, *, timeout=None):
        """Writes the file ``path`` from ``offset`` to ``file_obj``, at most
        ``max_length`` bytes (negative: to the end); returns ``(file
        attributes, bytes written)``. An offset past the end writes
        nothing."""
        limit = None if max_length is None or max_length < 0 else max_length
        attributes, size = await self._call(
            "retrieve_file", share, path, file_obj, offset, limit, timeout=_common.seconds(timeout))
        return attributes, size

    async def store_file(self, share, path, file_obj, *, timeout=None):
        """Stores what ``file_obj.read(n)`` yields (called on a runtime
        thread until it returns ``b""``) as the file ``path``, creating it
        or replacing its contents; returns the bytes written."""
        return await self._call("store_file", share, path, file_obj, 0, True, timeout=_common.seconds(timeout))

    async def store_file_from_offset(self, share, path, file_obj, offset=0, truncate=False, *, timeout=None):
        """Writes what ``file_obj`` yields into ``path`` from ``offset``,
        creating the file if needed (emptying it first with ``truncate``);
        returns the offset after the last byte written."""
        written = await self._call(
            "store_file", share, path, file_obj, offset, bool(truncate), timeout=_common.seconds(timeout))
        return offset + written

    async def open(self, share, path, *, read=True, write=False, append=False, create=False,
                   create_new=False, truncate=False, timeout=None):
        """Opens the file ``path`` to read and write in place: an
        :class:`AsyncRemoteFile` (``async with`` closes it). The options
        are those of Rust's ``OpenOptions``: ``write=True, create=True,
        truncate=True`` makes a new file or empties it, ``append=True``
        writes at the end, ``create_new=True`` fails if it exists."""
        native = await self._call(
            "open", share, path, read=read, write=write, append=append, create=create,
            create_new=create_new, truncate=truncate, timeout=_common.seconds(timeout))
        return AsyncRemoteFile(native, self._loop)

    # --- changing files and folders ------------------------------------------------------

    async def delete_files(self, share, path_file_pattern, delete_matching_folders=False, *, timeout=None):
        """Deletes the files matching ``path_file_pattern`` (wildcards in
        the last component); with ``delete_matching_folders`` matching
        folders too, with their contents. A pattern that matches nothing is
        no failure (as in pysmb)."""
        try:
            await self._call("delete_files", share, path_file_pattern, bool(delete_matching_folders),
                             timeout=_common.seconds(timeout))
        except OperationFailure as e:
            verdict = _common.nothing_to_delete(e, path_file_pattern, self.is_using_smb2)
            if verdict is None:
                try:
                    await self.get_attributes(share, path_file_pattern, timeout=timeout)
                except OperationFailure:
                    return
            if verdict is not True:
                raise

    async def reset_file_attributes(self, share, path_file_pattern, file_attributes=ATTR_NORMAL, *, timeout=None):
        """Sets the attributes of the files matching ``path_file_pattern``;
        the default clears them."""
        await self._call("reset_file_attributes", share, path_file_pattern, file_attributes,
                         timeout=_common.seconds(timeout))

    async def create_directory(self, share, path, *, timeout=None):
        """Creates the folder ``path`` (its parent must exist)."""
        await self._call("create_directory", share, path, timeout=_common.seconds(timeout))

    async def delete_directory(self, share, path, *, timeout=None):
        """Deletes the empty folder ``path``."""
        await self._call("delete_directory", share, path, timeout=_common.seconds(timeout))

    async def rename(self, share, old_path, new_path, *, timeout=None):
        """Renames (or moves, within the share) ``old_path`` to
        ``new_path``."""
        await self._call("rename", share, old_path, new_path, timeout=_common.seconds(timeout))

    async def echo(self, data, *, timeout=None):
        """Sends an ECHO; returns ``data``."""
        await self._call("echo", bytes(data), timeout=_common.seconds(timeout))
        return data

    async def close(self, *, timeout=10.0):
        """Logs off and closes the connection. Errors on the way (a server
        gone already) are ignored; closing twice is harmless. Operations
        raise ``NotConnectedError`` from then on."""
        if self._closed:
            return
        self._closed = True
        try:
            await _run(self._loop, self._conn.close, timeout=_common.seconds(timeout))
        except Exception:
            pass
        finally:
            self._transport.close()


class AsyncRemoteFile:
    """A file on the server opened to read and write in place; made by
    :meth:`AsyncConnection.open`. ``async with`` closes it.

    Reads keep several requests in flight ahead of the position; writes
    are gathered into large WRITEs sent in the background, and
    :meth:`flush` or :meth:`close` waits for (and raises the errors of)
    those in flight. Calls are served in the order they are made.
    """

    def __init__(self, native, loop):
        self._file = native
        self._loop = loop

    def __repr__(self):
        return "<smbkit.aio.AsyncRemoteFile %r position=%d%s>" % (
            self.name, self._file.tell(), " closed" if self.closed else "")

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    @property
    def name(self):
        """The path it was opened with."""
        return self._file.name

    @property
    def size(self):
        """The file's size when it was opened."""
        return self._file.size

    @property
    def attributes(self):
        """The file's ``ATTR_*`` bits when it was opened."""
        return self._file.attributes

    @property
    def closed(self):
        """True once :meth:`close` was called."""
        return self._file.closed

    async def read(self, size=-1):
        """Up to ``size`` bytes from the position (negative: to the end);
        fewer only at the end of the file, ``b""`` past it."""
        return await _run(self._loop, self._file.read, size)

    async def write(self, data):
        """Writes ``data`` at the position; returns its length."""
        return await _run(self._loop, self._file.write, bytes(data))

    async def seek(self, offset, whence=0):
        """Moves the position (``whence``: 0 from the start, 1 from the
        position, 2 from the end); returns the new position."""
        return await _run(self._loop, self._file.seek, offset, whence)

    async def tell(self):
        """The position."""
        return self._file.tell()

    async def truncate(self, size=None):
        """Cuts the file to ``size`` bytes (default: the position) or
        extends it with zeros; returns the size."""
        if size is None:
            size = self._file.tell()
        await _run(self._loop, self._file.set_len, size)
        return size

    async def flush(self):
        """Waits until what was written is answered, and asks the server to
        write the file to storage."""
        await _run(self._loop, self._file.flush)

    async def stat(self):
        """What the file is now, asked of the server: a
        :class:`~smbkit.smb.base.SharedFile`."""
        return SharedFile(*await _run(self._loop, self._file.metadata))

    async def close(self):
        """Sends what was written, waits for the answers and closes the
        file; closing twice is harmless."""
        await _run(self._loop, self._file.close)
