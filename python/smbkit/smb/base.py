"""What pysmb's ``smb.base`` gives programs: :class:`SharedFile`,
:class:`SharedDevice`, and the exceptions :class:`NotReadyError`,
:class:`NotConnectedError` and :class:`SMBTimeout`.

``OperationFailure``, ``ProtocolError`` and ``UnsupportedFeature`` (from
:mod:`smbkit.smb.smb_structs`) and the constants of
:mod:`smbkit.smb.smb_constants` can be imported from here too, as from
pysmb's module.
"""

from .smb_constants import *  # noqa: F401,F403  (pysmb re-exports them here)
from .smb_constants import ATTR_DIRECTORY, ATTR_NORMAL, ATTR_READONLY
from .smb_structs import (  # noqa: F401  (re-exported, as pysmb does)
    OperationFailure,
    ProtocolError,
    UnsupportedFeature,
)


class NotReadyError(Exception):
    """The SMB connection is not ready: not authenticated, or its
    authentication failed."""


class NotConnectedError(Exception):
    """The SMB connection is closed, was never made, or the server went
    away."""


class SMBTimeout(Exception):
    """An operation did not complete within its time limit."""


class SharedDevice:
    """A shared resource of the server, as ``listShares`` lists it.

    :ivar name: the share's name.
    :ivar comments: the server's description of it.
    """

    # Share types (MS-SRVS 2.2.2.4): the values of :attr:`type`.
    DISK_TREE = 0x00
    PRINT_QUEUE = 0x01
    COMM_DEVICE = 0x02
    IPC = 0x03

    def __init__(self, type, name, comments):
        self._type = type
        self.name = name
        self.comments = comments

    @property
    def type(self):
        """The kind of share: :attr:`DISK_TREE`, :attr:`PRINT_QUEUE`,
        :attr:`COMM_DEVICE` or :attr:`IPC`."""
        return self._type & 0xFFFF

    @property
    def isSpecial(self):
        """True for administrative and IPC shares (``IPC$``, ``ADMIN$``,
        ``C$``, ...)."""
        return bool(self._type & 0x80000000)

    @property
    def isTemporary(self):
        """True for a temporary share, one the server does not keep across
        restarts."""
        return bool(self._type & 0x40000000)

    def __unicode__(self):
        return "Shared device: %s (type:0x%02x comments:%s)" % (self.name, self.type, self.comments)

    def __repr__(self):
        return "<SharedDevice %r type=0x%02x special=%s comments=%r>" % (
            self.name, self.type, self.isSpecial, self.comments,
        )


class SharedFile:
    """A file or folder on a share, as ``listPath`` and ``getAttributes``
    return it.

    :ivar create_time: creation time, in seconds since 1970-01-01 (UTC).
    :ivar last_access_time: last access, in seconds since 1970-01-01 (UTC).
    :ivar last_write_time: last change of the data, in seconds since 1970-01-01 (UTC).
    :ivar last_attr_change_time: last change of the attributes, in seconds since 1970-01-01 (UTC).
    :ivar file_size: the size in bytes.
    :ivar alloc_size: the bytes allocated to the file.
    :ivar file_attributes: the ``ATTR_*`` bits (see :mod:`smbkit.smb.smb_constants`).
    :ivar short_name: the 8.3 name, if the server has one (else empty).
    :ivar filename: the name (without its folder).
    :ivar file_id: the server's file id, 0 or None if unknown.
    """

    def __init__(
        self,
        create_time,
        last_access_time,
        last_write_time,
        last_attr_change_time,
        file_size,
        alloc_size,
        file_attributes,
        short_name,
        filename,
        file_id=None,
    ):
        self.create_time = create_time
        self.last_access_time = last_access_time
        self.last_write_time = last_write_time
        self.last_attr_change_time = last_attr_change_time
        self.file_size = file_size
        self.alloc_size = alloc_size
        self.file_attributes = file_attributes
        self.short_name = short_name
        self.filename = filename
        self.file_id = file_id

    @property
    def isDirectory(self):
        """True for a folder."""
        return bool(self.file_attributes & ATTR_DIRECTORY)

    @property
    def isReadOnly(self):
        """True when the read-only attribute is set."""
        return bool(self.file_attributes & ATTR_READONLY)

    @property
    def isNormal(self):
        """True for a "normal" file, as pysmb defines it: none of read-only,
        hidden, system, archive or directory (other attributes, such as
        compressed or sparse, are ignored)."""
        return self.file_attributes == ATTR_NORMAL or (self.file_attributes & 0xFF) == 0

    def __unicode__(self):
        return "Shared file: %s (FileSize:%d bytes, isDirectory:%s)" % (
            self.filename, self.file_size, self.isDirectory,
        )

    def __repr__(self):
        return "<SharedFile %r size=%d attributes=0x%x>" % (
            self.filename, self.file_size, self.file_attributes,
        )
