"""Type hints of smbkit's native module (``crates/smbkit-python``)."""

from typing import Callable, Protocol, Sequence, Tuple, TypedDict, Union

__version__: str
#: The default ``search`` filter of ``Connection.list_path`` (65591).
DEFAULT_SEARCH: int

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

class Connection:
    """An authenticated SMB connection; every method releases the GIL while
    it waits, so one connection serves many threads at once. ``timeout``
    (seconds) replaces the operation's default time limit."""

    @property
    def is_ready(self) -> bool: ...
    @property
    def is_using_smb2(self) -> bool: ...
    @property
    def dialect(self) -> str: ...
    def server_info(self) -> ServerInfo: ...
    def echo(self, data: bytes, *, timeout: float | None = None) -> bytes: ...
    def list_shares(self, *, timeout: float | None = None) -> list[Tuple[str, int, str]]:
        """``(name, raw STYPE_* type, comments)`` for each share."""
    def list_path(
        self,
        share: str,
        path: str,
        search: int = ...,
        pattern: str = "*",
        *,
        timeout: float | None = None,
    ) -> list[FileTuple]: ...
    def list_snapshots(self, share: str, path: str, *, timeout: float | None = None) -> list[float]:
        """Snapshot times in seconds since the Unix epoch (UTC)."""
    def get_attributes(self, share: str, path: str, *, timeout: float | None = None) -> FileTuple: ...
    def get_security(self, share: str, path: str, *, timeout: float | None = None) -> bytes:
        """A self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6)."""
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
        chunk as it arrives."""
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
    def delete_files(
        self,
        share: str,
        pattern: str,
        delete_matching_folders: bool = False,
        *,
        timeout: float | None = None,
    ) -> None: ...
    def reset_file_attributes(
        self, share: str, pattern: str, attributes: int, *, timeout: float | None = None
    ) -> None: ...
    def create_directory(self, share: str, path: str, *, timeout: float | None = None) -> None: ...
    def delete_directory(self, share: str, path: str, *, timeout: float | None = None) -> None: ...
    def rename(
        self, share: str, old_path: str, new_path: str, *, timeout: float | None = None
    ) -> None: ...
    def close(self, *, timeout: float | None = None) -> None: ...

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
    timeout: float | None = None,
) -> Connection:
    """Connects to the first of ``addresses`` (``(ip, port, scope_id)``)
    that answers and authenticates; ``protocol`` is ``"auto"``, ``"smb1"``
    or ``"smb2"``. A refused logon raises ``OperationFailure``."""
