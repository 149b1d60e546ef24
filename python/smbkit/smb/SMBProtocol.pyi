"""Type hints of :mod:`smbkit.smb.SMBProtocol`."""

import datetime
from typing import Any, Callable, Optional, Tuple, TypeVar, Union

from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory, Protocol

from .base import SharedDevice, SharedFile
from .security_descriptors import SecurityDescriptor

_F = TypeVar("_F")

class SMBProtocol(Protocol):
    username: str
    my_name: str
    remote_name: str
    domain: str
    use_ntlm_v2: bool
    sign_options: int
    is_direct_tcp: bool
    auth_error: Optional[BaseException]
    factory: SMBProtocolFactory
    def __init__(
        self,
        username: str,
        password: Union[str, Callable[[], str]],
        my_name: str,
        remote_name: str,
        domain: str = "",
        use_ntlm_v2: bool = True,
        sign_options: int = 2,
        is_direct_tcp: bool = False,
    ) -> None: ...
    @property
    def has_authenticated(self) -> bool: ...
    @property
    def is_using_smb2(self) -> bool: ...
    @property
    def dialect(self) -> Optional[str]: ...
    def pauseProducing(self) -> None: ...
    def resumeProducing(self) -> None: ...
    def stopProducing(self) -> None: ...

class SMBProtocolFactory(ClientFactory):
    protocol: type[SMBProtocol]
    SIGN_NEVER: int
    SIGN_WHEN_SUPPORTED: int
    SIGN_WHEN_REQUIRED: int
    username: str
    password: Union[str, Callable[[], str]]
    my_name: str
    remote_name: str
    domain: str
    use_ntlm_v2: bool
    sign_options: int
    is_direct_tcp: bool
    instance: Optional[SMBProtocol]
    d: Deferred[Any]
    auth_error: Optional[BaseException]
    def __init__(
        self,
        username: str,
        password: Union[str, Callable[[], str]],
        my_name: str,
        remote_name: str,
        domain: str = "",
        use_ntlm_v2: bool = True,
        sign_options: int = 2,
        is_direct_tcp: bool = False,
    ) -> None: ...
    @property
    def isReady(self) -> bool: ...
    @property
    def isUsingSMB2(self) -> bool: ...
    @property
    def transport(self) -> Any: ...
    def onAuthOK(self) -> None: ...
    def onAuthFailed(self) -> None: ...
    def listShares(self, timeout: Optional[float] = 30) -> Deferred[list[SharedDevice]]: ...
    def listPath(
        self, service_name: str, path: str, search: int = ..., pattern: str = "*", timeout: Optional[float] = 30
    ) -> Deferred[list[SharedFile]]: ...
    def listSnapshots(
        self, service_name: str, path: str, timeout: Optional[float] = 30
    ) -> Deferred[list[datetime.datetime]]: ...
    def getAttributes(self, service_name: str, path: str, timeout: Optional[float] = 30) -> Deferred[SharedFile]: ...
    def getSecurity(
        self, service_name: str, path: str, timeout: Optional[float] = 30
    ) -> Deferred[SecurityDescriptor]: ...
    def retrieveFile(
        self, service_name: str, path: str, file_obj: _F, timeout: Optional[float] = 30
    ) -> Deferred[Tuple[_F, int, int]]: ...
    def retrieveFileFromOffset(
        self,
        service_name: str,
        path: str,
        file_obj: _F,
        offset: int = 0,
        max_length: int = -1,
        timeout: Optional[float] = 30,
    ) -> Deferred[Tuple[_F, int, int]]: ...
    def storeFile(
        self, service_name: str, path: str, file_obj: _F, timeout: Optional[float] = 30
    ) -> Deferred[Tuple[_F, int]]: ...
    def storeFileFromOffset(
        self,
        service_name: str,
        path: str,
        file_obj: _F,
        offset: int = 0,
        truncate: bool = False,
        timeout: Optional[float] = 30,
    ) -> Deferred[Tuple[_F, int]]: ...
    def deleteFiles(
        self,
        service_name: str,
        path_file_pattern: str,
        delete_matching_folders: bool = False,
        timeout: Optional[float] = 30,
    ) -> Deferred[str]: ...
    def resetFileAttributes(
        self, service_name: str, path_file_pattern: str, file_attributes: int = ..., timeout: Optional[float] = 30
    ) -> Deferred[str]: ...
    def createDirectory(self, service_name: str, path: str, timeout: Optional[float] = 30) -> Deferred[str]: ...
    def deleteDirectory(self, service_name: str, path: str, timeout: Optional[float] = 30) -> Deferred[str]: ...
    def rename(
        self, service_name: str, old_path: str, new_path: str, timeout: Optional[float] = 30
    ) -> Deferred[Tuple[str, str]]: ...
    def echo(self, data: bytes, timeout: Optional[float] = 10) -> Deferred[bytes]: ...
    def closeConnection(self) -> None: ...
    def buildProtocol(self, addr: Any) -> SMBProtocol: ...
