"""Type hints of :mod:`smbkit.aio`."""

import datetime
import os
from typing import Any, AsyncIterator, Callable, NamedTuple, Optional, Protocol, Sequence, Tuple, Union

from .smb.base import SharedDevice, SharedFile
from .smb.security_descriptors import SecurityDescriptor

DEFAULT_SEARCH: int

class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...

class _Readable(Protocol):
    def read(self, size: int, /) -> Union[bytes, bytearray, None]: ...

class WalkEntry(NamedTuple):
    path: str
    depth: int
    entry: SharedFile

async def connect(
    host: str,
    port: int = 445,
    *,
    username: str,
    password: Union[str, Callable[[], str]],
    my_name: str = "SMBKIT",
    remote_name: Optional[str] = None,
    domain: str = "",
    use_ntlm_v2: bool = True,
    sign_options: int = 2,
    is_direct_tcp: bool = True,
    protocol: str = "auto",
    extended_security: bool = True,
    encryption: str = "if_required",
    timeout: Optional[float] = 60.0,
    family: int = 0,
    kerberos: Union[None, bool, str] = None,
    kerberos_ccache: Optional[Union[str, "os.PathLike[str]"]] = None,
    kerberos_keytab: Optional[Union[str, "os.PathLike[str]"]] = None,
    kerberos_realm: Optional[str] = None,
    kerberos_host: Optional[str] = None,
    kdc: Union[None, str, Sequence[str]] = None,
    krb5_conf: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> AsyncConnection: ...

class AsyncConnection:
    async def __aenter__(self) -> AsyncConnection: ...
    async def __aexit__(self, *exc: Any) -> None: ...
    @property
    def is_ready(self) -> bool: ...
    @property
    def is_using_smb2(self) -> bool: ...
    @property
    def dialect(self) -> str: ...
    def server_info(self) -> dict[str, Any]: ...
    async def list_shares(self, *, timeout: Optional[float] = None) -> list[SharedDevice]: ...
    async def list_path(
        self, share: str, path: str, search: int = ..., pattern: str = "*", *, timeout: Optional[float] = None
    ) -> list[SharedFile]: ...
    def read_dir(
        self, share: str, path: str, *, batch: int = 1024, timeout: Optional[float] = None
    ) -> AsyncIterator[SharedFile]: ...
    def walk(
        self,
        share: str,
        path: str,
        *,
        concurrency: int = ...,
        max_depth: Optional[int] = None,
        batch: int = 1024,
        timeout: Optional[float] = None,
    ) -> AsyncIterator[WalkEntry]: ...
    async def list_snapshots(
        self, share: str, path: str, *, timeout: Optional[float] = None
    ) -> list[datetime.datetime]: ...
    async def get_attributes(self, share: str, path: str, *, timeout: Optional[float] = None) -> SharedFile: ...
    async def get_security(
        self, share: str, path: str, *, timeout: Optional[float] = None
    ) -> SecurityDescriptor: ...
    async def retrieve_file(
        self, share: str, path: str, file_obj: _Writable, *, timeout: Optional[float] = None
    ) -> Tuple[int, int]: ...
    async def retrieve_file_from_offset(
        self,
        share: str,
        path: str,
        file_obj: _Writable,
        offset: int = 0,
        max_length: int = -1,
        *,
        timeout: Optional[float] = None,
    ) -> Tuple[int, int]: ...
    async def store_file(
        self, share: str, path: str, file_obj: _Readable, *, timeout: Optional[float] = None
    ) -> int: ...
    async def store_file_from_offset(
        self,
        share: str,
        path: str,
        file_obj: _Readable,
        offset: int = 0,
        truncate: bool = False,
        *,
        timeout: Optional[float] = None,
    ) -> int: ...
    async def open(
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
        timeout: Optional[float] = None,
    ) -> AsyncRemoteFile: ...
    async def delete_files(
        self,
        share: str,
        path_file_pattern: str,
        delete_matching_folders: bool = False,
        *,
        timeout: Optional[float] = None,
    ) -> None: ...
    async def reset_file_attributes(
        self, share: str, path_file_pattern: str, file_attributes: int = ..., *, timeout: Optional[float] = None
    ) -> None: ...
    async def create_directory(self, share: str, path: str, *, timeout: Optional[float] = None) -> None: ...
    async def delete_directory(self, share: str, path: str, *, timeout: Optional[float] = None) -> None: ...
    async def rename(
        self, share: str, old_path: str, new_path: str, *, timeout: Optional[float] = None
    ) -> None: ...
    async def echo(self, data: bytes, *, timeout: Optional[float] = None) -> bytes: ...
    async def close(self, *, timeout: Optional[float] = 10.0) -> None: ...

class AsyncRemoteFile:
    async def __aenter__(self) -> AsyncRemoteFile: ...
    async def __aexit__(self, *exc: Any) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def attributes(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    async def read(self, size: int = -1) -> bytes: ...
    async def write(self, data: bytes) -> int: ...
    async def seek(self, offset: int, whence: int = 0) -> int: ...
    async def tell(self) -> int: ...
    async def truncate(self, size: Optional[int] = None) -> int: ...
    async def flush(self) -> None: ...
    async def stat(self) -> SharedFile: ...
    async def close(self) -> None: ...
