"""pysmb's blocking API, :class:`SMBConnection`, on smbkit's native core.

::

    from smbkit.smb.SMBConnection import SMBConnection

    conn = SMBConnection("alice", "secret", "MYPC", "FILESERVER", use_ntlm_v2=True)
    if not conn.connect("192.0.2.10", 139):
        raise SystemExit("logon refused")
    for share in conn.listShares():
        print(share.name)
    with open("report.pdf", "wb") as f:
        attributes, size = conn.retrieveFile("docs", "/2024/report.pdf", f)
    conn.close()

The constructor, the methods, their keyword arguments, defaults, return
values and exceptions are pysmb 1.2.15's. What differs:

* smbkit speaks SMB 2.0.2 to 3.1.1 (pysmb: 2.0.2), with signing and
  encryption as the server asks; ``smb_structs.SUPPORT_SMB2 = False`` still
  means SMB1 only.
* One connection may be used from many threads at once: every call
  releases the GIL while it waits, and several operations can be under way
  on the connection together.
* :class:`~smbkit.smb.smb_structs.OperationFailure` carries the server's NT
  status (``nt_status``, ``nt_status_name``) instead of raw SMB messages.
"""

import logging
import socket

from .. import _common, _native, _progress
from .._common import seconds as _timeout
from . import smb_structs
from .base import NotConnectedError, SharedDevice, SharedFile, SMBTimeout  # noqa: F401
from .base import NotReadyError  # noqa: F401  (pysmb programs import it from here)
from .security_descriptors import SecurityDescriptor
from .smb_constants import *  # noqa: F401,F403  (pysmb re-exports them here)
from .smb_constants import (
    ATTR_NORMAL,
    SMB_FILE_ATTRIBUTE_ARCHIVE,
    SMB_FILE_ATTRIBUTE_DIRECTORY,
    SMB_FILE_ATTRIBUTE_HIDDEN,
    SMB_FILE_ATTRIBUTE_INCL_NORMAL,
    SMB_FILE_ATTRIBUTE_READONLY,
    SMB_FILE_ATTRIBUTE_SYSTEM,
)
from .smb_structs import *  # noqa: F401,F403  (pysmb re-exports them here)
from .smb_structs import OperationFailure

# The time limit of the LOGOFF that close() sends.
_CLOSE_TIMEOUT = 10


def _addresses(host, port, sock_family):
    """``(ip, port, scope_id)`` for each address of ``host``, in the
    resolver's order (``sock_family`` restricts them to one family)."""
    found = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(
        host, port, sock_family or 0, socket.SOCK_STREAM
    ):
        if family == socket.AF_INET:
            entry = (sockaddr[0], sockaddr[1], 0)
        elif family == socket.AF_INET6:
            entry = (sockaddr[0].split("%", 1)[0], sockaddr[1], sockaddr[3])
        else:
            continue
        if entry not in found:
            found.append(entry)
    return found


class SMBConnection(object):
    """A blocking connection to an SMB/CIFS server.

    Create it with the credentials, then call :meth:`connect`; the file
    operations can be used once it has returned True.

    :param username: the user name (empty, with an empty password, for an
        anonymous session).
    :param password: the password, or a callable returning it when the
        connection authenticates.
    :param my_name: the local NetBIOS name this connection comes from: up to
        15 characters (longer names are cut, as pysmb does), no spaces and
        none of ``\\/:*?";|+``.
    :param remote_name: the server's NetBIOS name (cut to 15 characters
        likewise); it must be the name the server knows itself by, or the
        NetBIOS session is refused (port 139). Over direct TCP an empty name
        is replaced by the host given to :meth:`connect`.
    :param domain: the domain (workgroup); usually safe to leave empty.
    :param use_ntlm_v2: NTLMv2 (True) or NTLMv1 authentication.
    :param sign_options: :attr:`SIGN_NEVER`, :attr:`SIGN_WHEN_SUPPORTED` or
        :attr:`SIGN_WHEN_REQUIRED` (the default).
    :param is_direct_tcp: direct hosting of SMB over TCP (port 445) instead
        of NetBIOS over TCP (port 139, the default).
    """

    log = logging.getLogger("SMB.SMBConnection")

    #: Never sign; a server that requires signing is refused.
    SIGN_NEVER = 0
    #: Sign whenever the server supports signing.
    SIGN_WHEN_SUPPORTED = 1
    #: Sign only when the server requires it.
    SIGN_WHEN_REQUIRED = 2

    def __init__(
        self,
        username,
        password,
        my_name,
        remote_name,
        domain="",
        use_ntlm_v2=True,
        sign_options=SIGN_WHEN_REQUIRED,
        is_direct_tcp=False,
    ):
        self.username = username
        self._password = password
        self.my_name = my_name.upper()
        self.remote_name = remote_name.upper()
        self.domain = domain
        self.use_ntlm_v2 = use_ntlm_v2
        self.sign_options = sign_options
        self.is_direct_tcp = is_direct_tcp
        #: True after a successful :meth:`connect`, False after a refused
        #: logon, None before the first attempt.
        self.auth_result = None
        self.max_read_size = 0
        self.max_write_size = 0
        self.max_transact_size = 0
        self.capabilities = 0
        self.is_signing_active = False
        self._conn = None

    # --- pysmb's attributes ------------------------------------------------

    @property
    def password(self):
        """The password (computed by the callable, if one was given)."""
        if callable(self._password):
            return self._password()
        return self._password

    @property
    def isUsingSMB2(self):
        """True if the connection speaks SMB2 or SMB3 (not SMB1)."""
        return self.is_using_smb2

    @property
    def is_using_smb2(self):
        """True if the connection speaks SMB2 or SMB3 (not SMB1)."""
        conn = self._conn
        return bool(conn is not None and conn.is_using_smb2)

    @property
    def has_authenticated(self):
        """True while the connection is open and authenticated."""
        conn = self._conn
        return bool(conn is not None and conn.is_ready)

    @property
    def sock(self):
        """The underlying connection while connected (smbkit's native
        connection, not a socket), None otherwise."""
        return self._conn

    @property
    def dialect(self):
        """The negotiated dialect, e.g. ``"3.1.1"`` (smbkit's addition);
        None when not connected."""
        conn = self._conn
        return None if conn is None else conn.dialect

    # --- the context manager ------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    # --- connecting -----------------------------------------------------------

    def connect(self, ip, port=139, sock_family=None, timeout=60):
        """Connects to the server at ``ip`` (an address or a host name) and
        authenticates.

        Reads ``smb_structs.SUPPORT_SMB2`` (False: SMB1 only) and
        ``smb_structs.SUPPORT_EXTENDED_SECURITY``. A connection made
        before is closed first.

        :param port: 139 for NetBIOS over TCP, 445 with ``is_direct_tcp``.
        :param sock_family: ``socket.AF_INET`` or ``socket.AF_INET6`` to use
            only addresses of that family; None: any.
        :param timeout: seconds for connecting and authenticating.
        :return: True if the server accepted the credentials, False if it
            refused them.
        :raises NotConnectedError: the server closed the connection.
        :raises SMBTimeout: no answer in time.
        :raises UnsupportedFeature: the server and the settings have no way
            to talk: no common dialect (``SUPPORT_SMB2 = False`` and a server
            without SMB1), or the server requires signing and
            ``sign_options`` is ``SIGN_NEVER`` (pysmb logs on then and fails
            at the first share).
        :raises OSError: the connection could not be made (refused,
            unreachable, unknown host).
        """
        if self._conn is not None:
            self.close()
        self.auth_result = None
        remote_name = self.remote_name
        if not remote_name and self.is_direct_tcp and _common.valid_name(str(ip)[:15]):
            remote_name = str(ip).upper()
        try:
            conn = _native.connect(
                _addresses(ip, port, sock_family),
                self.username,
                self._password,
                # NetBIOS names have 15 characters; pysmb cuts longer ones
                # there too.
                self.my_name[:15],
                remote_name[:15],
                domain=self.domain,
                use_ntlm_v2=self.use_ntlm_v2,
                sign_options=self.sign_options,
                is_direct_tcp=self.is_direct_tcp,
                protocol="auto" if smb_structs.SUPPORT_SMB2 else "smb1",
                extended_security=bool(smb_structs.SUPPORT_EXTENDED_SECURITY),
                timeout=_timeout(timeout),
            )
        except OperationFailure as e:
            # The server answered the logon (or the negotiation) with an
            # error status: pysmb reports that as a failed authentication.
            self.log.info("Authentication with %s failed: %s", ip, e.message)
            self.auth_result = False
            return False
        self._conn = conn
        info = conn.server_info()
        self.max_read_size = info["max_read_size"]
        self.max_write_size = info["max_write_size"]
        self.max_transact_size = info["max_transact_size"]
        self.capabilities = info["capabilities"]
        self.is_signing_active = info["signing"]
        self.auth_result = True
        return True

    def close(self):
        """Logs off and closes the connection, if there is one. Errors on
        the way (a server already gone) are ignored, as pysmb ignores
        them."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.close(timeout=_CLOSE_TIMEOUT)
        except Exception as e:  # the connection is going away anyway
            self.log.debug("Closing the connection: %s", e)

    def _require(self):
        conn = self._conn
        if conn is None:
            raise NotConnectedError("Not connected to server")
        return conn

    # --- listing -----------------------------------------------------------------

    def listShares(self, timeout=30):
        """The shares of the server.

        :return: a list of :class:`~smbkit.smb.base.SharedDevice`, special
            shares (``IPC$``, ...) included.
        """
        conn = self._require()
        return _common.shares(conn.list_shares(timeout=_timeout(timeout)))

    def listPath(
        self,
        service_name,
        path,
        search=SMB_FILE_ATTRIBUTE_READONLY
        | SMB_FILE_ATTRIBUTE_HIDDEN
        | SMB_FILE_ATTRIBUTE_SYSTEM
        | SMB_FILE_ATTRIBUTE_DIRECTORY
        | SMB_FILE_ATTRIBUTE_ARCHIVE
        | SMB_FILE_ATTRIBUTE_INCL_NORMAL,
        pattern="*",
        timeout=30,
    ):
        """The entries of the folder ``path`` on the share ``service_name``.

        :param search: which entries to keep, a bitwise OR of
            ``SMB_FILE_ATTRIBUTE_*``: the default keeps read-only, hidden,
            system, archive and "normal" files and folders. Leave out
            ``SMB_FILE_ATTRIBUTE_INCL_NORMAL`` to drop the normal files.
        :param pattern: the names to list, with ``*`` and ``?`` wildcards.
        :return: a list of :class:`~smbkit.smb.base.SharedFile`, with ``.``
            and ``..`` when the server lists them.
        :raises OperationFailure: the folder cannot be listed.
        """
        conn = self._require()
        return _common.files(
            conn.list_path(service_name, path, search, pattern, timeout=_timeout(timeout))
        )

    def listSnapshots(self, service_name, path, timeout=30):
        """The snapshots (shadow copies, previous versions) of ``path``.

        :return: a list of ``datetime.datetime`` in UTC (naive, as pysmb's).
        :raises OperationFailure: the share has no snapshot support.
        """
        conn = self._require()
        return _common.snapshot_times(
            conn.list_snapshots(service_name, path, timeout=_timeout(timeout))
        )

    def getAttributes(self, service_name, path, timeout=30):
        """The attributes of the file or folder ``path``.

        :return: a :class:`~smbkit.smb.base.SharedFile`.
        :raises OperationFailure: ``path`` does not exist or cannot be read.
        """
        conn = self._require()
        return SharedFile(*conn.get_attributes(service_name, path, timeout=_timeout(timeout)))

    def getSecurity(self, service_name, path, timeout=30):
        """The security descriptor of ``path``: its owner, group and DACL.

        :return: a :class:`~smbkit.smb.security_descriptors.SecurityDescriptor`.
        """
        conn = self._require()
        raw = conn.get_security(service_name, path, timeout=_timeout(timeout))
        return SecurityDescriptor.from_bytes(raw)

    # --- transfers -------------------------------------------------------------------

    def retrieveFile(
        self, service_name, path, file_obj, timeout=30, show_progress=False, tqdm_kwargs={}
    ):
        """Writes the contents of the file ``path`` to ``file_obj``.

        :param file_obj: any object with a ``write(bytes)`` method; it gets
            the data in chunks as they arrive.
        :param show_progress: show a tqdm progress bar (when tqdm is
            installed); ``tqdm_kwargs`` overrides its settings.
        :return: ``(file attributes, bytes written)``.
        :raises OperationFailure: the file cannot be opened or read.
        """
        return self.retrieveFileFromOffset(
            service_name, path, file_obj, 0, -1, timeout,
            show_progress=show_progress, tqdm_kwargs=tqdm_kwargs,
        )

    def retrieveFileFromOffset(
        self,
        service_name,
        path,
        file_obj,
        offset=0,
        max_length=-1,
        timeout=30,
        show_progress=False,
        tqdm_kwargs={},
    ):
        """Writes the file ``path`` from ``offset`` to ``file_obj``, at most
        ``max_length`` bytes (negative: to the end of the file; zero: only
        open the file).

        :return: ``(file attributes, bytes written)``; an offset past the end
            of the file writes nothing.
        :raises OperationFailure: the file cannot be opened or read.
        """
        conn = self._require()
        limit = None if max_length is None or max_length < 0 else max_length
        pbar = None
        if show_progress:
            size = conn.get_attributes(service_name, path, timeout=_timeout(timeout))[4]
            total = max(size - offset, 0)
            if limit is not None:
                total = min(total, limit)
            pbar = _progress.bar(True, total, "Downloading %s" % path, tqdm_kwargs)
        try:
            target = file_obj if pbar is None else _progress.CountingWriter(file_obj, pbar)
            return conn.retrieve_file(
                service_name, path, target, offset, limit, timeout=_timeout(timeout)
            )
        finally:
            if pbar is not None:
                pbar.close()

    def storeFile(
        self, service_name, path, file_obj, timeout=30, show_progress=False, tqdm_kwargs={}
    ):
        """Stores what ``file_obj`` yields as the file ``path``, creating it
        or replacing its contents.

        :param file_obj: any object with a ``read(n)`` method returning
            bytes; it is read in chunks until it returns ``b""``.
        :return: the number of bytes stored.
        :raises OperationFailure: the file cannot be created or written
            (``path`` is a folder, access is denied, ...).
        """
        return self.storeFileFromOffset(
            service_name, path, file_obj, 0, True, timeout,
            show_progress=show_progress, tqdm_kwargs=tqdm_kwargs,
        )

    def storeFileFromOffset(
        self,
        service_name,
        path,
        file_obj,
        offset=0,
        truncate=False,
        timeout=30,
        show_progress=False,
        tqdm_kwargs={},
    ):
        """Writes what ``file_obj`` yields into the file ``path`` starting at
        ``offset``, creating the file if needed; with ``truncate`` it is
        emptied first.

        :return: the offset after the last byte written (``offset`` plus the
            bytes written).
        :raises OperationFailure: the file cannot be opened or written.
        """
        conn = self._require()
        pbar = None
        if show_progress:
            pbar = _progress.bar(
                True, _progress.size_of(file_obj), "Uploading %s" % path, tqdm_kwargs
            )
        try:
            source = file_obj if pbar is None else _progress.CountingReader(file_obj, pbar)
            written = conn.store_file(
                service_name, path, source, offset, bool(truncate), timeout=_timeout(timeout)
            )
        finally:
            if pbar is not None:
                pbar.close()
        return offset + written

    # --- changing files and folders ----------------------------------------------------

    def deleteFiles(self, service_name, path_file_pattern, delete_matching_folders=False, timeout=30):
        """Deletes the files matching ``path_file_pattern`` (wildcards in the
        last component, e.g. ``/logs/*.txt``). With
        ``delete_matching_folders``, matching folders are deleted too, with
        everything in them.

        A pattern that matches nothing is no failure, nor, over SMB2, a
        single name that does not exist (as in pysmb).

        :raises OperationFailure: a file cannot be deleted, or (over SMB1)
            the single file named does not exist.
        """
        conn = self._require()
        try:
            conn.delete_files(
                service_name, path_file_pattern, bool(delete_matching_folders),
                timeout=_timeout(timeout),
            )
        except OperationFailure as e:
            if not self._nothing_to_delete(conn, service_name, path_file_pattern, e, timeout):
                raise

    @staticmethod
    def _nothing_to_delete(conn, service_name, pattern, failure, timeout):
        """True when ``failure`` of deleteFiles means only that there was
        nothing to delete, which pysmb does not count as a failure: a
        wildcard pattern that matches nothing, or (over SMB2) a single name
        that does not exist. A single name that is a folder still fails,
        and so does, over SMB1, a single name that does not exist."""
        verdict = _common.nothing_to_delete(failure, pattern, conn.is_using_smb2)
        if verdict is not None:
            return verdict
        try:
            conn.get_attributes(service_name, pattern, timeout=_timeout(timeout))
        except OperationFailure:
            return True  # not there at all
        return False  # there, but not a file

    def resetFileAttributes(self, service_name, path_file_pattern, file_attributes=ATTR_NORMAL, timeout=30):
        """Sets the attributes of the files and folders matching
        ``path_file_pattern`` to ``file_attributes`` (``ATTR_*`` bits); the
        default, ``ATTR_NORMAL``, clears them (read-only included, which
        helps before deleting). Works over SMB1 too (pysmb: SMB2 only).
        """
        conn = self._require()
        conn.reset_file_attributes(
            service_name, path_file_pattern, file_attributes, timeout=_timeout(timeout)
        )

    def setLastWriteTime(self, service_name, path, last_write_time, timeout=30):
        """Sets the last modification time of the file or folder ``path`` to
        ``last_write_time`` (a float, seconds since 1970-01-01 UTC). Works
        over SMB1 too (pysmb: SMB2 only).

        :raises OperationFailure: the path does not exist, or its times
            cannot be set.
        """
        conn = self._require()
        conn.set_file_times(
            service_name, path, modified=float(last_write_time), timeout=_timeout(timeout)
        )

    def createDirectory(self, service_name, path, timeout=30):
        """Creates the folder ``path``; its parent must exist.

        :raises OperationFailure: it exists already, or cannot be created.
        """
        conn = self._require()
        conn.create_directory(service_name, path, timeout=_timeout(timeout))

    def deleteDirectory(self, service_name, path, timeout=30):
        """Deletes the empty folder ``path``.

        :raises OperationFailure: it is not empty, or cannot be deleted.
        """
        conn = self._require()
        conn.delete_directory(service_name, path, timeout=_timeout(timeout))

    def rename(self, service_name, old_path, new_path, timeout=30):
        """Renames (or moves, within the share) ``old_path`` to ``new_path``.

        :raises OperationFailure: ``old_path`` does not exist, or
            ``new_path`` does.
        """
        conn = self._require()
        conn.rename(service_name, old_path, new_path, timeout=_timeout(timeout))

    def echo(self, data, timeout=10):
        """Sends an ECHO to the server.

        :param data: bytes.
        :return: ``data``.
        """
        conn = self._require()
        return conn.echo(bytes(data), timeout=_timeout(timeout))
