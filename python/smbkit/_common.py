"""What the Twisted (:mod:`smbkit.smb.SMBProtocol`) and asyncio
(:mod:`smbkit.aio`) APIs share: turning the native module's plain values
into pysmb's objects, pysmb's rule for a ``deleteFiles`` that finds
nothing, and the start of a native operation whose end is reported to an
event loop.
"""

import datetime

from .smb.base import NotConnectedError, SharedDevice, SharedFile

_EPOCH = datetime.datetime(1970, 1, 1)
# NT statuses a deletion answers when there is nothing to delete.
STATUS_NO_SUCH_FILE = 0xC000000F
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
# NT statuses of operations cut short by the closing of their tree or
# session.
_CLOSED_STATUSES = (0xC00000C9, 0xC0000203)  # NETWORK_NAME_DELETED, USER_SESSION_DELETED
# Characters a NetBIOS name may not hold (besides spaces and controls).
_NOT_IN_NAMES = set('\\/:*?";|+')


def shares(rows):
    """``SharedDevice`` objects from ``(name, type, comments)`` rows."""
    return [SharedDevice(type_, name, comments) for name, type_, comments in rows]


def files(rows):
    """``SharedFile`` objects from file tuples."""
    return [SharedFile(*row) for row in rows]


def snapshot_times(seconds):
    """Naive UTC ``datetime`` objects (as pysmb's) from Unix times."""
    return [_EPOCH + datetime.timedelta(seconds=t) for t in seconds]


def seconds(timeout):
    """pysmb's time limits are seconds; None keeps smbkit's default."""
    return None if timeout is None else float(timeout)


def valid_name(name):
    """True for a usable NetBIOS name."""
    return (
        0 < len(name) <= 15
        and name.isascii()
        and name.isprintable()
        and " " not in name
        and not _NOT_IN_NAMES.intersection(name)
    )


def remote_name_for(name, host):
    """The server's NetBIOS name to use: ``name`` (cut to 15 characters, as
    pysmb does), else ``host`` when it makes a valid name (over direct TCP
    the name matters little), else ``"SMBSERVER"``."""
    if name:
        return name.upper()[:15]
    host = str(host or "").upper()[:15]
    return host if valid_name(host) else "SMBSERVER"


def nothing_to_delete(failure, pattern, is_smb2):
    """What a failed deletion means to pysmb: True when it only found
    nothing to delete (a wildcard pattern that matches nothing), False when
    it failed, None when it depends on whether ``pattern``, a single name,
    exists (over SMB2 a missing single name is no failure; a folder is)."""
    if getattr(failure, "nt_status", None) not in (STATUS_NO_SUCH_FILE, STATUS_OBJECT_NAME_NOT_FOUND):
        return False
    last = pattern.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    if "*" in last or "?" in last:
        return True
    if not is_smb2:
        return False
    return None


def closed_under(error):
    """The error of an operation that was in flight when the application
    closed the connection: the server's refusal because its tree or session
    was just closed (``NETWORK_NAME_DELETED``, ``USER_SESSION_DELETED``)
    becomes ``NotConnectedError``, as for operations made after closing."""
    if getattr(error, "nt_status", None) in _CLOSED_STATUSES:
        closed = NotConnectedError("Not connected to server: the connection was closed (%s)" % error.message)
        closed.__cause__ = error
        return closed
    return error
