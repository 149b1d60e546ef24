"""The settings and exceptions pysmb programs take from ``smb.smb_structs``.

* ``SUPPORT_SMB2``: read by :meth:`SMBConnection.connect
  <smbkit.smb.SMBConnection.SMBConnection.connect>` each time it connects.
  ``True`` (the default) offers SMB1 and SMB 2/3 in one NEGOTIATE and uses
  SMB 2/3 when the server can (smbkit speaks SMB 2.0.2 to 3.1.1, where pysmb
  stops at 2.0.2); ``False`` speaks SMB1 only.
* ``SUPPORT_EXTENDED_SECURITY``: SMB1 only; ``False`` logs on without
  SPNEGO, with the NTLM responses in SESSION_SETUP_ANDX itself.
* :class:`OperationFailure`, :class:`ProtocolError`,
  :class:`UnsupportedFeature`: the exceptions.

Set the switches on the module, as pysmb programs do::

    from smb import smb_structs
    smb_structs.SUPPORT_SMB2 = False

The constants of :mod:`smbkit.smb.smb_constants` are available here too.
"""

import os as _os
from copy import copy as _copy

from .smb_constants import *  # noqa: F401,F403  (pysmb re-exports them here)

#: Offer SMB1's extended security (SPNEGO) logon. Read at connect time.
SUPPORT_EXTENDED_SECURITY = True

#: Offer SMB 2/3 as well as SMB1; ``False`` speaks SMB1 only. Read at
#: connect time.
SUPPORT_SMB2 = True

#: The SMB1 dialect offered ("NT LM 0.12") and its index.
DIALECTS = [b"NT LM 0.12"]
NT_LAN_MANAGER_DIALECT = 0
#: The SMB2 dialect string of the multi-protocol NEGOTIATE and its index.
DIALECTS2 = [b"SMB 2.002"]
SMB2_DIALECT = 1


class ProtocolError(Exception):
    """The server (or something between it and the client) broke the
    protocol, or the connection failed in a way that is no server status.

    :param message: what went wrong.
    :param data_buf: the bytes concerned, if known.
    :param smb_message: the message concerned, if known.
    """

    def __init__(self, message, data_buf=None, smb_message=None):
        super().__init__(message)
        self.message = message
        self.data_buf = data_buf
        self.smb_message = smb_message

    def __str__(self):
        parts = [str(self.message)]
        if self.smb_message:
            parts.append("=" * 20 + " SMB Message " + "=" * 20)
            parts.append(str(self.smb_message))
        if self.data_buf:
            parts.append("=" * 20 + " SMB Data Packet (hex) " + "=" * 20)
            parts.append(bytes(self.data_buf).hex())
        return _os.linesep.join(parts) + _os.linesep


class UnsupportedFeature(ProtocolError):
    """The server needs something smbkit does not do, or the settings
    forbid what the server requires: no common dialect (an SMB1-only
    client and a server without SMB1), signing required but
    ``SIGN_NEVER``, encryption the server cannot do.

    A subclass of :class:`ProtocolError` (in pysmb it is not), so that
    programs catching pysmb's ``ProtocolError`` for "the server does not
    support any of the dialects" still catch it.
    """


class SMB2ProtocolHeaderError(ProtocolError):
    """pysmb's signal that a reply is an SMB2 one; kept for programs that
    name it."""

    def __init__(self):
        super().__init__("Packet header belongs to SMB2")


class SMBStatusMessage:
    """What an :class:`OperationFailure` knows of the server's reply:
    its NT status.

    pysmb keeps the last SMB messages of a failed operation in
    ``OperationFailure.smb_messages``, and programs read
    ``ex.args[1][-1].status`` to learn the NT status. smbkit keeps no raw
    messages; it puts one of these there instead, with the status.

    :ivar status: the NT status code (e.g. ``0xC0000034``).
    :ivar status_name: its name (e.g. ``"OBJECT_NAME_NOT_FOUND"``), or None.
    """

    raw_data = b""

    def __init__(self, status, status_name=None):
        self.status = status
        self.status_name = status_name

    def __str__(self):
        name = " (%s)" % self.status_name if self.status_name else ""
        return "Status: 0x%08X%s%s" % (self.status, name, _os.linesep)

    def __repr__(self):
        return "SMBStatusMessage(0x%08X, %r)" % (self.status, self.status_name)


class OperationFailure(Exception):
    """The server refused an operation.

    :param message: what failed, and why.
    :param smb_messages: the messages of the exchange; smbkit gives one
        :class:`SMBStatusMessage` with the server's NT status.

    :ivar nt_status: the NT status code, or None when none is known.
    :ivar nt_status_name: the status's name, e.g. ``"OBJECT_NAME_NOT_FOUND"``.
    """

    nt_status = None
    nt_status_name = None

    def __init__(self, message, smb_messages):
        self.message = message
        self.smb_messages = [_copy(m) for m in smb_messages]
        self.args = (message, self.smb_messages)

    @classmethod
    def _from_nt_status(cls, message, status, status_name):
        """The failure for a server's NT status (used by the native layer)."""
        exc = cls(message, [SMBStatusMessage(status, status_name)])
        exc.nt_status = status
        exc.nt_status_name = status_name
        return exc

    def __str__(self):
        parts = [str(self.message)]
        for i, m in enumerate(self.smb_messages):
            parts.append("=" * 20 + " SMB Message %d " % i + "=" * 20)
            parts.append(str(m).rstrip())
        return _os.linesep.join(parts) + _os.linesep
