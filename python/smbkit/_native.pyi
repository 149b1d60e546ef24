"""Type hints of smbkit's native module (``crates/smbkit-python``).

Every operation runs one of two ways. Without ``callback`` it waits for its
result with the GIL released and returns it (or raises). With ``callback``
it returns an :class:`Operation` at once and later calls
``callback(result, None)`` or ``callback(None, exception)`` **on a runtime
thread** (attached to the interpreter for that call): the callback must
only hand the outcome over to its own thread
(``loop.call_soon_threadsafe``, ``reactor.callFromThread``).
"""

from typing import Any, Callable, Optional, Protocol, Sequence, Tuple, TypedDict, Union, overload

__version__: str
#: The default ``search`` filter of ``Connection.list_path`` (65591).
DEFAULT_SEARCH: int
#: How many folders ``Connection.walk`` lists at once by default.
WALK_CONCURRENCY: int
#: The default bound (bytes) of a ``Bridge``'s outbound buffer.
BRIDGE_CAPACITY: int

#: ``callback(result, error)``: exactly one of the two is None.
Callback = Callable[[Any, Optional[BaseException]], object]

#: ``(create_time, last_access_time, last_write_time, last_attr_change_time,
#: file_size, alloc_size, file_attributes, short_name, filename, file_id)``:
#: the arguments of pysmb's ``SharedFile``; times in seconds since the
#: Unix epoch (UTC).
FileTuple = Tuple[float, float, float, float, int, int, int, str, str, int]

class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...

class _Readable(Protocol):
    def read(self, size: int, /) -> Union[bytes, bytearray, None]: ...

class ServerInfo(TypedDict):
    dialect: str
    max_read_size: int
    max_write_size: int
    max_transact_size: int
    capabilities: int
    signing: bool
    signing_required_by_server: bool
    encrypted: bool
    is_guest: bool
    is_anonymous: bool

class Operation:
    """An operation started with a ``callback``; it calls the callback once,
    unless cancelled first."""

    def cancel(self) -> bool:
        """Stops the operation (its requests are withdrawn, its callback is
        not called); False if it had ended already."""
    @property
    def done(self) -> bool: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def progress(self) -> Optional[int]:
        """Bytes moved so far by a transfer; None for other operations."""

class Bridge:
    """Carries a connection's bytes over a transport that Python's event loop
    owns (see ``connect_stream``).

    ``wake()`` is called from a runtime thread whenever the loop has work
    (bytes to send, reading to resume, the transport to close); it must only
    schedule ``drain`` on the loop's thread, where ``drain`` calls
    ``take_output()``, writes the bytes, resumes reading if
    ``wants_input()`` and closes the transport if ``output_closed``. At
    most ``capacity`` bytes wait to be taken; the connection's writer waits
    beyond that.
    """

    def __init__(self, wake: Callable[[], object], capacity: int = ...) -> None: ...
    def feed(self, data: bytes) -> bool:
        """Hands received bytes to the connection; False asks the caller to
        pause reading until ``wants_input()`` is True."""
    def take_output(self) -> bytes:
        """What the connection wrote since the last call (maybe ``b""``)."""
    def wants_input(self) -> bool:
        """True once after the connection caught up: resume reading."""
    @property
    def output_closed(self) -> bool:
        """The connection let go of the stream: close the transport."""
    @property
    def closed(self) -> bool: ...
    @property
    def pending_output(self) -> int: ...
    def close(self) -> None:
        """The transport is gone: the connection sees the end of its
        stream."""

class DirStream:
    """The entries of a folder, page by page (``Connection.read_dir``)."""

    @overload
    def next_batch(self, max: int = 1024) -> list[FileTuple]:
        """At least one entry, at most ``max``; ``[]`` at the end."""
    @overload
    def next_batch(self, max: int = 1024, *, callback: Callback) -> Operation: ...

class WalkStream:
    """Everything below a folder (``Connection.walk``): ``(path below the
    root, depth, file tuple)``."""

    @overload
    def next_batch(self, max: int = 1024) -> list[Tuple[str, int, FileTuple]]: ...
    @overload
    def next_batch(self, max: int = 1024, *, callback: Callback) -> Operation: ...

class RemoteFile:
    """A file opened in place (``Connection.open``), read and written at a
    position; calls on one file are served in order."""

    @property
    def size(self) -> int: ...
    @property
    def attributes(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def tell(self) -> int: ...
    @overload
    def read(self, size: int = -1) -> bytes: ...
    @overload
    def read(self, size: int = -1, *, callback: Callback) -> Operation: ...
    @overload
    def write(self, data: bytes) -> int: ...
    @overload
    def write(self, data: bytes, *, callback: Callback) -> Operation: ...
    @overload
    def seek(self, offset: int, whence: int = 0) -> int: ...
    @overload
    def seek(self, offset: int, whence: int = 0, *, callback: Callback) -> Operation: ...
    @overload
    def flush(self) -> None: ...
    @overload
    def flush(self, *, callback: Callback) -> Operation: ...
    @overload
    def set_len(self, length: int) -> None: ...
    @overload
    def set_len(self, length: int, *, callback: Callback) -> Operation: ...
    @overload
    def metadata(self) -> FileTuple: ...
    @overload
    def metadata(self, *, callback: Callback) -> Operation: ...
    @overload
    def close(self) -> None: ...
    @overload
    def close(self, *, callback: Callback) -> Operation: ...

class Connection:
    """An authenticated SMB connection. Without ``callback`` every method
    releases the GIL while it waits, so one connection serves many threads
    at once; with ``callback`` it returns an :class:`Operation` at once.
    ``timeout`` (seconds) replaces the operation's default time limit."""

    @property
    def is_ready(self) -> bool: ...
    @property
    def is_using_smb2(self) -> bool: ...
    @property
    def dialect(self) -> str: ...
    def server_info(self) -> ServerInfo: ...
    @overload
    def echo(self, data: bytes, *, timeout: float | None = None) -> bytes: ...
    @overload
    def echo(self, data: bytes, *, timeout: float | None = None, callback: Callback) -> Operation: ...
    @overload
    def list_shares(self, *, timeout: float | None = None) -> list[Tuple[str, int, str]]:
        """``(name, raw STYPE_* type, comments)`` for each share."""
    @overload
    def list_shares(self, *, timeout: float | None = None, callback: Callback) -> Operation: ...
    @overload
    def list_path(
        self,
        share: str,
        path: str,
        search: int = ...,
        pattern: str = "*",
        *,
        timeout: float | None = None,
    ) -> list[FileTuple]: ...
    @overload
    def list_path(
        self,
        share: str,
        path: str,
        search: int = ...,
        pattern: str = "*",
        *,
        timeout: float | None = None,
        callback: Callback,
    ) -> Operation: ...
    def read_dir(self, share: str, path: str, *, timeout: float | None = None) -> DirStream:
        """The folder's entries page by page; nothing is sent until the first
        batch is asked for."""
    def walk(
        self,
        share: str,
        path: str,
        *,
        concurrency: int = ...,
        max_depth: int | None = None,
        timeout: float | None = None,
    ) -> WalkStream: ...
    @overload
    def list_snapshots(self, share: str, path: str, *, timeout: float | None = None) -> list[float]:
        """Snapshot times in seconds since the Unix epoch (UTC)."""
    @overload
    def list_snapshots(
        self, share: str, path: str, *, timeout: float | None = None, callback: Callback
    ) -> Operation: ...
    @overload
    def get_attributes(self, share: str, path: str, *, timeout: float | None = None) -> FileTuple: ...
    @overload
    def get_attributes(
        self, share: str, path: str, *, timeout: float | None = None, callback: Callback
    ) -> Operation: ...
    @overload
    def get_security(self, share: str, path: str, *, timeout: float | None = None) -> bytes:
        """A self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6)."""
    @overload
    def get_security(
        self, share: str, path: str, *, timeout: float | None = None, callback: Callback
    ) -> Operation: ...
    @overload
    def retrieve_file(
        self,
        share: str,
        path: str,
        file: _Writable,
        offset: int = 0,
        max_length: int | None = None,
        *,
        timeout: float | None = None,
    ) -> Tuple[int, int]:
        """``(file attributes, bytes written)``; ``file.write`` gets each
        chunk as it arrives (on a runtime thread with ``callback``)."""
    @overload
    def retrieve_file(
        self,
        share: str,
        path: str,
        file: _Writable,
        offset: int = 0,
        max_length: int | None = None,
        *,
        timeout: float | None = None,
        callback: Callback,
    ) -> Operation: ...
    @overload
    def store_file(
        self,
        share: str,
        path: str,
        file: _Readable,
        offset: int = 0,
        truncate: bool = True,
        *,
        timeout: float | None = None,
    ) -> int:
        """The bytes written; ``file.read(n)`` is called until it returns
        ``b""``."""
    @overload
    def store_file(
        self,
        share: str,
        path: str,
        file: _Readable,
        offset: int = 0,
        truncate: bool = True,
        *,
        timeout: float | None = None,
        callback: Callback,
    ) -> Operation: ...
    @overload
    def open(
        self,
        share: str,
        path: str,
        *,
        read: bool = True,
        write: bool = False,
        append: bool = False,
        create: bool = False,
        create_new: bool = False,
        truncate: bool = False,
        timeout: float | None = None,
    ) -> RemoteFile: ...
    @overload
    def open(
        self,
        share: str,
        path: str,
        *,
        read: bool = True,
        write: bool = False,
        append: bool = False,
        create: bool = False,
        create_new: bool = False,
        truncate: bool = False,
        timeout: float | None = None,
        callback: Callback,
    ) -> Operation: ...
    @overload
    def delete_files(
        self,
        share: str,
        pattern: str,
        delete_matching_folders: bool = False,
        *,
        timeout: float | None = None,
    ) -> None: ...
    @overload
    def delete_files(
        self,
        share: str,
        pattern: str,
        delete_matching_folders: bool = False,
        *,
        timeout: float | None = None,
        callback: Callback,
    ) -> Operation: ...
    @overload
    def reset_file_attributes(
        self, share: str, pattern: str, attributes: int, *, timeout: float | None = None
    ) -> None: ...
    @overload
    def reset_file_attributes(
        self, share: str, pattern: str, attributes: int, *, timeout: float | None = None, callback: Callback
    ) -> Operation: ...
    @overload
    def set_file_times(
        self,
        share: str,
        path: str,
        *,
        created: float | None = None,
        accessed: float | None = None,
        modified: float | None = None,
        changed: float | None = None,
        timeout: float | None = None,
    ) -> None: ...
    @overload
    def set_file_times(
        self,
        share: str,
        path: str,
        *,
        created: float | None = None,
        accessed: float | None = None,
        modified: float | None = None,
        changed: float | None = None,
        timeout: float | None = None,
        callback: Callback,
    ) -> Operation: ...
    @overload
    def create_directory(self, share: str, path: str, *, timeout: float | None = None) -> None: ...
    @overload
    def create_directory(
        self, share: str, path: str, *, timeout: float | None = None, callback: Callback
    ) -> Operation: ...
    @overload
    def delete_directory(self, share: str, path: str, *, timeout: float | None = None) -> None: ...
    @overload
    def delete_directory(
        self, share: str, path: str, *, timeout: float | None = None, callback: Callback
    ) -> Operation: ...
    @overload
    def rename(
        self, share: str, old_path: str, new_path: str, *, timeout: float | None = None
    ) -> None: ...
    @overload
    def rename(
        self, share: str, old_path: str, new_path: str, *, timeout: float | None = None, callback: Callback
    ) -> Operation: ...
    @overload
    def close(self, *, timeout: float | None = None) -> None: ...
    @overload
    def close(self, *, timeout: float | None = None, callback: Callback) -> Operation: ...

@overload
def connect(
    addresses: Sequence[Tuple[str, int, int]],
    username: str,
    password: Union[str, Callable[[], str]],
    my_name: str,
    remote_name: str,
    *,
    domain: str = "",
    use_ntlm_v2: bool = True,
    sign_options: int = 2,
    is_direct_tcp: bool = False,
    protocol: str = "auto",
    extended_security: bool = True,
    encryption: str = "if_required",
    timeout: float | None = None,
    kerberos: dict[str, Any] | None = None,
) -> Connection:
    """Connects to the first of ``addresses`` (``(ip, port, scope_id)``)
    that answers and authenticates; ``protocol`` is ``"auto"``, ``"smb1"``
    or ``"smb2"``; ``encryption`` is ``"if_required"``, ``"preferred"`` or
    ``"required"``. A refused logon raises ``OperationFailure``."""
@overload
def connect(
    addresses: Sequence[Tuple[str, int, int]],
    username: str,
    password: Union[str, Callable[[], str]],
    my_name: str,
    remote_name: str,
    *,
    domain: str = "",
    use_ntlm_v2: bool = True,
    sign_options: int = 2,
    is_direct_tcp: bool = False,
    protocol: str = "auto",
    extended_security: bool = True,
    encryption: str = "if_required",
    timeout: float | None = None,
    kerberos: dict[str, Any] | None = None,
    callback: Callback,
) -> Operation: ...
@overload
def connect_stream(
    bridge: Bridge,
    username: str,
    password: Union[str, Callable[[], str]],
    my_name: str,
    remote_name: str,
    *,
    domain: str = "",
    use_ntlm_v2: bool = True,
    sign_options: int = 2,
    is_direct_tcp: bool = False,
    protocol: str = "auto",
    extended_security: bool = True,
    encryption: str = "if_required",
    timeout: float | None = None,
    kerberos: dict[str, Any] | None = None,
) -> Connection:
    """Like ``connect``, over ``bridge``'s transport (NetBIOS session first
    unless ``is_direct_tcp``). Call it with ``callback`` from the event
    loop's thread: the loop must keep feeding the bridge meanwhile."""
@overload
def connect_stream(
    bridge: Bridge,
    username: str,
    password: Union[str, Callable[[], str]],
    my_name: str,
    remote_name: str,
    *,
    domain: str = "",
    use_ntlm_v2: bool = True,
    sign_options: int = 2,
    is_direct_tcp: bool = False,
    protocol: str = "auto",
    extended_security: bool = True,
    encryption: str = "if_required",
    timeout: float | None = None,
    kerberos: dict[str, Any] | None = None,
    callback: Callback,
) -> Operation: ...
