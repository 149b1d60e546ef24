"""pysmb's Twisted API, :class:`SMBProtocolFactory`, on smbkit's native core.

::

    from twisted.internet import reactor
    from smbkit.smb.SMBProtocol import SMBProtocolFactory

    class Lister(SMBProtocolFactory):
        def onAuthOK(self):
            d = self.listPath("docs", "/")
            d.addCallback(lambda files: print([f.filename for f in files]))
            d.addBoth(lambda _: self.closeConnection())

        def onAuthFailed(self):
            print("logon refused:", self.auth_error)

    reactor.connectTCP("192.0.2.10", 139, Lister("alice", "secret", "MYPC", "FILESERVER"))
    reactor.run()

The constructor, the methods, their arguments, defaults, callback values and
exceptions are pysmb 1.2.15's. How it works, and what differs:

* **One path for the bytes.** :class:`SMBProtocol` is a Twisted
  ``Protocol``: the bytes Twisted's transport receives are fed to a native
  ``Bridge`` (``dataReceived``), and what the native connection writes is
  taken from the bridge and written with ``transport.write`` on the reactor
  thread. No second socket and no thread per connection: the native
  connection's work (framing, signing, encryption, matching answers to
  requests) runs on the process's shared runtime, with the GIL released.
* **Back-pressure.** The protocol registers itself as the transport's
  streaming producer: while the transport's buffer is full
  (``pauseProducing``) it stops taking the bridge's output, the bridge's
  bounded queue fills up and the native writer waits. When the native
  side falls behind, ``feed`` says so and the transport stops reading until
  it has caught up.
* **Deferreds.** Every operation starts a native operation at once and
  returns a ``Deferred``; its outcome is handed to the reactor thread with
  ``reactor.callFromThread``, so callbacks and errbacks run there. Many
  operations may be outstanding at once on one factory (pysmb serialises
  them badly over SMB2). ``Deferred.cancel()`` withdraws the operation.
* **Timeouts on the reactor.** ``timeout`` arms a ``reactor.callLater``
  timer that cancels the native operation and errbacks with
  :class:`~smbkit.smb.base.SMBTimeout`. For ``retrieveFile`` and
  ``storeFile`` it is, as in pysmb, the time allowed for each message: the
  timer fires only when no byte has moved for ``timeout`` seconds.
* **File objects.** ``retrieveFile`` and ``storeFile`` call the file
  object's ``write`` and ``read`` on a runtime thread, attached to the
  interpreter for each call, as the chunks come and go, rather than on the
  reactor thread: a transfer then never waits for a busy reactor, nor
  floods its queue with one call per chunk, and the reactor never waits
  for a slow disk. The file object must therefore not be used elsewhere
  until the ``Deferred`` fires (pysmb asks the same) and must not be bound
  to the reactor thread (a Twisted transport, for instance).
* SMB 2.0.2 to 3.1.1 with signing and encryption as the server asks
  (pysmb: 2.0.2); ``smb_structs.SUPPORT_SMB2 = False`` still means SMB1
  only. ``onAuthFailed`` is called for every failure to set up the session
  (a refused logon, no common dialect, a refused NetBIOS session, a
  time-out), and the exception is kept in ``auth_error``.
* After :meth:`closeConnection`, and once the connection is lost,
  operations raise ``NotConnectedError`` (pysmb sends them on the closed
  transport and lets them time out).
* The factory has ``d`` (a ``Deferred`` fired with None when the
  connection ends, unless the application fired it first) and
  ``transport``, which the reference documentation's example uses.
* ``storeFileFromOffset``, ``resetFileAttributes`` and ``getSecurity``
  are available here too, as in ``SMBConnection``; ``createDirectory``,
  ``deleteDirectory`` and ``rename`` accept ``timeout``.
"""

import logging

from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from .. import _common, _native
from . import smb_structs
from .base import NotConnectedError, NotReadyError, SharedFile, SMBTimeout
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

__all__ = ["SMBProtocolFactory", "SMBProtocol", "NotConnectedError", "NotReadyError"]

_DEFAULT_SEARCH = (
    SMB_FILE_ATTRIBUTE_READONLY
    | SMB_FILE_ATTRIBUTE_HIDDEN
    | SMB_FILE_ATTRIBUTE_SYSTEM
    | SMB_FILE_ATTRIBUTE_DIRECTORY
    | SMB_FILE_ATTRIBUTE_ARCHIVE
    | SMB_FILE_ATTRIBUTE_INCL_NORMAL
)
# How long closeConnection waits for the LOGOFF before dropping the
# transport anyway.
_CLOSE_TIMEOUT = 5.0


def _reactor():
    # Imported when needed, not when this module is: a program (or
    # pytest-twisted) may install a reactor of its choice first.
    from twisted.internet import reactor

    return reactor


@implementer(IPushProducer)
class SMBProtocol(Protocol):
    """One SMB connection over a Twisted transport. Made by
    :meth:`SMBProtocolFactory.buildProtocol`; programs use the factory's
    methods, which call this protocol's."""

    log = logging.getLogger("SMB.SMBProtocol")

    def __init__(
        self,
        username,
        password,
        my_name,
        remote_name,
        domain="",
        use_ntlm_v2=True,
        sign_options=2,
        is_direct_tcp=False,
    ):
        self.username = username
        self.password = password
        self.my_name = my_name
        self.remote_name = remote_name
        self.domain = domain
        self.use_ntlm_v2 = use_ntlm_v2
        self.sign_options = sign_options
        self.is_direct_tcp = is_direct_tcp
        #: The exception that ended the session setup, when it failed.
        self.auth_error = None
        self._reactor = None
        self._bridge = None
        self._conn = None
        self._connecting = None
        self._closing = False
        self._lost = False
        self._output_paused = False
        self._reading_paused = False
        self._lose_after_setup = False

    # --- what pysmb's SMB object offers --------------------------------------------

    @property
    def has_authenticated(self):
        """True while the session is set up and the connection open."""
        conn = self._conn
        return bool(conn is not None and not self._closing and not self._lost and conn.is_ready)

    @property
    def is_using_smb2(self):
        """True when the connection speaks SMB2 or SMB3 (not SMB1)."""
        conn = self._conn
        return bool(conn is not None and conn.is_using_smb2)

    @property
    def dialect(self):
        """The negotiated dialect, e.g. ``"3.1.1"`` (None before the session
        is set up)."""
        conn = self._conn
        return None if conn is None else conn.dialect

    # --- Protocol ------------------------------------------------------------------

    def connectionMade(self):
        self.factory.instance = self
        self._reactor = _reactor()
        self._bridge = _native.Bridge(self._wake)
        self.transport.registerProducer(self, True)
        try:
            peer = self.transport.getPeer().host
        except Exception:
            peer = ""
        try:
            self._connecting = self._start_session(peer)
        except Exception as e:  # settings the native side refuses (a bad name, ...)
            self._connecting = None
            self._reactor.callLater(0, self._connected, None, e)

    def _start_session(self, peer):
        return _native.connect_stream(
            self._bridge,
            self.username,
            self.password,
            self.my_name.upper()[:15],
            _common.remote_name_for(self.remote_name, peer if self.is_direct_tcp else ""),
            domain=self.domain,
            use_ntlm_v2=self.use_ntlm_v2,
            sign_options=self.sign_options,
            is_direct_tcp=self.is_direct_tcp,
            protocol="auto" if smb_structs.SUPPORT_SMB2 else "smb1",
            extended_security=bool(smb_structs.SUPPORT_EXTENDED_SECURITY),
            callback=self._from_runtime(self._connected),
        )

    def dataReceived(self, data):
        if not self._bridge.feed(data):
            # The native side is behind: stop reading until it catches up.
            self._reading_paused = True
            self.transport.pauseProducing()

    def connectionLost(self, reason):
        self._lost = True
        if self._bridge is not None:
            # The native side sees the end of its stream: a session setup
            # under way fails (and is reported by _connected), operations
            # in flight fail with NotConnectedError.
            self._bridge.close()
        if self.factory.instance is self:
            self.factory.instance = None
        self.factory._connectionEnded(self, reason)

    # --- IPushProducer: the transport's buffer is full, or has room again -------------

    def pauseProducing(self):
        self._output_paused = True

    def resumeProducing(self):
        self._output_paused = False
        self._drain()

    def stopProducing(self):
        self._output_paused = True

    # --- the bridge --------------------------------------------------------------------

    def _wake(self):
        # On a runtime thread: only schedule the work on the reactor thread.
        self._reactor.callFromThread(self._drain)

    def _drain(self):
        bridge = self._bridge
        if bridge is None or self._lost:
            return
        if bridge.wants_input() and self._reading_paused:
            self._reading_paused = False
            self.transport.resumeProducing()
        if self._output_paused:
            return  # resumeProducing drains again
        data = bridge.take_output()
        if data:
            self.transport.write(data)
        if bridge.output_closed:
            # The native connection is done with the stream (closed, or
            # its logon failed): close the transport once it is written,
            # but not before the outcome of the session setup is reported
            # (it comes by another way, and may come second).
            if self._connecting is not None:
                self._lose_after_setup = True
            else:
                self._lose()

    def _lose(self):
        if self._lost or self.transport is None:
            return
        self._closing = True
        try:
            self.transport.unregisterProducer()
        except Exception:
            pass
        self.transport.loseConnection()

    def _from_runtime(self, handler):
        """A native callback that runs ``handler(result, error)`` on the
        reactor thread."""
        reactor = self._reactor

        def deliver(result, error):
            reactor.callFromThread(handler, result, error)

        return deliver

    def _connected(self, conn, error):
        self._connecting = None
        if error is None and self._lost:
            error = NotConnectedError("the connection was lost as the session was set up")
        # A factory makes one connection: it is this one's, even when the
        # transport is gone already (instance None).
        mine = self.factory.instance in (self, None)
        if error is not None:
            self.auth_error = error
            self.factory.auth_error = error
            if isinstance(error, OperationFailure):
                self.log.info("Authentication failed: %s", error.message)
            else:
                self.log.error("Cannot set up the SMB session: %s", error)
            try:
                if mine:
                    self.factory.onAuthFailed()
            finally:
                # The native side has let go of the stream.
                self._lose()
            return
        self._conn = conn
        if self._lose_after_setup:
            self._lose()
        elif mine:
            self.factory.onAuthOK()

    # --- operations --------------------------------------------------------------------

    def _connection(self):
        """The native connection, or why there is none usable."""
        if self._lost or self._closing:
            raise NotConnectedError("Not connected to server")
        if self._conn is None:
            raise NotReadyError("SMB connection not authenticated")
        if not self._conn.is_ready:
            raise NotConnectedError("Not connected to server: the connection is closed")
        return self._conn

    def _start(self, name, args, convert, timeout, kwargs=None, transfer=False):
        """Starts the native operation ``name`` and returns a Deferred for
        ``convert(result)``; see :class:`SMBProtocolFactory` for timeouts."""
        conn = self._connection()
        kwargs = dict(kwargs or {})
        kwargs["timeout"] = _common.seconds(timeout)
        reactor = self._reactor
        handle = []
        timer = []

        def cancel(_d):
            if handle:
                handle[0].cancel()
            if timer and timer[0].active():
                timer[0].cancel()

        d = defer.Deferred(cancel)

        def finished(result, error):
            if timer and timer[0].active():
                timer[0].cancel()
            if d.called:
                return
            if error is not None:
                if self._closing:
                    error = _common.closed_under(error)
                d.errback(Failure(error))
                return
            try:
                value = convert(result)
            except Exception:
                d.errback(Failure())
                return
            d.callback(value)

        handle.append(getattr(conn, name)(*args, callback=self._from_runtime(finished), **kwargs))
        if timeout is not None:
            op = handle[0]
            seen = [op.progress]

            def expired():
                if d.called:
                    return
                if transfer and op.progress != seen[0]:
                    # Bytes moved since the last look: each message has
                    # its own time, as in pysmb.
                    seen[0] = op.progress
                    timer[0] = reactor.callLater(timeout, expired)
                    return
                if op.cancel():
                    d.errback(Failure(SMBTimeout(
                        "%s did not complete within %s seconds" % (name, timeout))))
                # Otherwise it has just ended: its outcome is on its way.

            timer.append(reactor.callLater(timeout, expired))
        return d

    def _close(self):
        if self._closing or self._lost:
            return
        conn = self._conn
        self._closing = True
        if conn is None:
            self._lose()
            return
        # Log off politely; the transport goes when the connection lets go
        # of the stream (see _drain), or after _CLOSE_TIMEOUT at the latest.
        self._reactor.callLater(_CLOSE_TIMEOUT, self._lose)
        try:
            conn.close(timeout=_CLOSE_TIMEOUT, callback=self._from_runtime(lambda r, e: self._lose()))
        except Exception:
            self._lose()


class SMBProtocolFactory(ClientFactory):
    """A Twisted ``ClientFactory`` for one SMB connection: pass it to
    ``reactor.connectTCP(host, port, factory)``.

    Subclass it and override :meth:`onAuthOK` (the operations can be used
    from then on) and :meth:`onAuthFailed`. Every operation returns a
    ``Deferred``; it raises ``NotReadyError`` before the session is set up
    and ``NotConnectedError`` when there is no connection (not made yet,
    closed, lost). ``timeout`` (seconds) errbacks the ``Deferred`` with
    ``SMBTimeout`` when the operation has not completed in time (for
    ``retrieveFile`` and ``storeFile``: when no data has moved for that
    long).

    :param username: the user name (empty, with an empty password, for an
        anonymous session).
    :param password: the password, or a callable returning it.
    :param my_name: the local NetBIOS name (up to 15 characters).
    :param remote_name: the server's NetBIOS name; over direct TCP an empty
        name is replaced by the server's address.
    :param domain: the domain (workgroup).
    :param use_ntlm_v2: NTLMv2 (True) or NTLMv1.
    :param sign_options: :attr:`SIGN_NEVER`, :attr:`SIGN_WHEN_SUPPORTED` or
        :attr:`SIGN_WHEN_REQUIRED` (the default).
    :param is_direct_tcp: direct hosting of SMB over TCP (port 445) instead
        of NetBIOS over TCP (port 139, the default).
    """

    protocol = SMBProtocol
    log = logging.getLogger("SMB.SMBFactory")

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
        self.password = password
        self.my_name = my_name
        self.remote_name = remote_name
        self.domain = domain
        self.use_ntlm_v2 = use_ntlm_v2
        self.sign_options = sign_options
        self.is_direct_tcp = is_direct_tcp
        #: The single SMBProtocol instance of this factory while connected.
        self.instance = None
        #: Fired with None when the connection ends, unless the application
        #: fired it first; errbacked when the TCP connection cannot be made.
        self.d = defer.Deferred()
        #: Why the session setup failed (an exception), or None.
        self.auth_error = None

    # --- properties --------------------------------------------------------------------

    @property
    def isReady(self):
        """True when connected, authenticated and ready for operations."""
        return bool(self.instance and self.instance.has_authenticated)

    @property
    def isUsingSMB2(self):
        """True when the connection speaks SMB2 or SMB3."""
        return bool(self.instance and self.instance.is_using_smb2)

    @property
    def transport(self):
        """The transport of the connection, None when not connected."""
        return None if self.instance is None else self.instance.transport

    # --- to override -------------------------------------------------------------------

    def onAuthOK(self):
        """Called once the session is set up: the operations can be used."""

    def onAuthFailed(self):
        """Called when the session could not be set up: the server refused
        the credentials, or negotiating failed (``auth_error`` tells why).
        Retry with a new factory; this one's connection is closed."""

    # --- operations --------------------------------------------------------------------

    def _protocol(self):
        if not self.instance:
            raise NotConnectedError("Not connected to server")
        return self.instance

    def listShares(self, timeout=30):
        """The shares of the server: a Deferred fired with a list of
        :class:`~smbkit.smb.base.SharedDevice`."""
        return self._protocol()._start("list_shares", (), _common.shares, timeout)

    def listPath(self, service_name, path, search=_DEFAULT_SEARCH, pattern="*", timeout=30):
        """The entries of the folder ``path`` whose attributes pass
        ``search`` and whose names match ``pattern``: a Deferred fired with
        a list of :class:`~smbkit.smb.base.SharedFile`."""
        return self._protocol()._start(
            "list_path", (service_name, path, search, pattern), _common.files, timeout)

    def listSnapshots(self, service_name, path, timeout=30):
        """The snapshots of ``path``: a Deferred fired with a list of
        ``datetime`` in UTC."""
        return self._protocol()._start(
            "list_snapshots", (service_name, path), _common.snapshot_times, timeout)

    def getAttributes(self, service_name, path, timeout=30):
        """The attributes of ``path``: a Deferred fired with a
        :class:`~smbkit.smb.base.SharedFile`."""
        return self._protocol()._start(
            "get_attributes", (service_name, path), lambda row: SharedFile(*row), timeout)

    def getSecurity(self, service_name, path, timeout=30):
        """The security descriptor of ``path``: a Deferred fired with a
        :class:`~smbkit.smb.security_descriptors.SecurityDescriptor`."""
        return self._protocol()._start(
            "get_security", (service_name, path), SecurityDescriptor.from_bytes, timeout)

    def retrieveFile(self, service_name, path, file_obj, timeout=30):
        """Writes the file ``path`` to ``file_obj``: a Deferred fired with
        ``(file_obj, file attributes, bytes written)``."""
        return self.retrieveFileFromOffset(service_name, path, file_obj, 0, -1, timeout)

    def retrieveFileFromOffset(self, service_name, path, file_obj, offset=0, max_length=-1, timeout=30):
        """Writes the file ``path`` from ``offset`` to ``file_obj``, at most
        ``max_length`` bytes (negative: to the end): a Deferred fired with
        ``(file_obj, file attributes, bytes written)``."""
        limit = None if max_length is None or max_length < 0 else max_length
        return self._protocol()._start(
            "retrieve_file",
            (service_name, path, file_obj, offset, limit),
            lambda r: (file_obj, r[0], r[1]),
            timeout,
            transfer=True,
        )

    def storeFile(self, service_name, path, file_obj, timeout=30):
        """Stores what ``file_obj.read`` yields as the file ``path``: a
        Deferred fired with ``(file_obj, bytes uploaded)``."""
        return self.storeFileFromOffset(service_name, path, file_obj, 0, True, timeout)

    def storeFileFromOffset(self, service_name, path, file_obj, offset=0, truncate=False, timeout=30):
        """Writes what ``file_obj.read`` yields into ``path`` from
        ``offset`` (emptying it first with ``truncate``): a Deferred fired
        with ``(file_obj, offset after the last byte written)``."""
        return self._protocol()._start(
            "store_file",
            (service_name, path, file_obj, offset, bool(truncate)),
            lambda written: (file_obj, offset + written),
            timeout,
            transfer=True,
        )

    def deleteFiles(self, service_name, path_file_pattern, delete_matching_folders=False, timeout=30):
        """Deletes the files matching ``path_file_pattern`` (and, with
        ``delete_matching_folders``, matching folders with their contents):
        a Deferred fired with ``path_file_pattern``. A pattern that matches
        nothing is no failure."""
        proto = self._protocol()
        d = proto._start(
            "delete_files",
            (service_name, path_file_pattern, bool(delete_matching_folders)),
            lambda _: path_file_pattern,
            timeout,
        )

        def nothing_deleted(failure):
            failure.trap(OperationFailure)
            verdict = _common.nothing_to_delete(failure.value, path_file_pattern, proto.is_using_smb2)
            if verdict is True:
                return path_file_pattern
            if verdict is False:
                return failure
            # A single name: no failure when it does not exist at all.
            check = proto._start("get_attributes", (service_name, path_file_pattern), lambda r: r, timeout)

            def exists(_):
                return failure

            def missing(f):
                f.trap(OperationFailure)
                return path_file_pattern

            return check.addCallbacks(exists, missing)

        return d.addErrback(nothing_deleted)

    def resetFileAttributes(self, service_name, path_file_pattern, file_attributes=ATTR_NORMAL, timeout=30):
        """Sets the attributes of the files matching ``path_file_pattern``
        (the default clears them): a Deferred fired with
        ``path_file_pattern``."""
        return self._protocol()._start(
            "reset_file_attributes",
            (service_name, path_file_pattern, file_attributes),
            lambda _: path_file_pattern,
            timeout,
        )

    def createDirectory(self, service_name, path, timeout=30):
        """Creates the folder ``path``: a Deferred fired with ``path``."""
        return self._protocol()._start(
            "create_directory", (service_name, path), lambda _: path, timeout)

    def deleteDirectory(self, service_name, path, timeout=30):
        """Deletes the empty folder ``path``: a Deferred fired with
        ``path``."""
        return self._protocol()._start(
            "delete_directory", (service_name, path), lambda _: path, timeout)

    def rename(self, service_name, old_path, new_path, timeout=30):
        """Renames ``old_path`` to ``new_path``: a Deferred fired with
        ``(old_path, new_path)``."""
        return self._protocol()._start(
            "rename", (service_name, old_path, new_path), lambda _: (old_path, new_path), timeout)

    def echo(self, data, timeout=10):
        """Sends an ECHO: a Deferred fired with ``data``."""
        return self._protocol()._start("echo", (bytes(data),), lambda back: data, timeout)

    def closeConnection(self):
        """Logs off and disconnects; the transport is closed at the
        earliest opportunity after this returns. Operations raise
        ``NotConnectedError`` from now on.

        :raises NotConnectedError: there is no connection.
        """
        self._protocol()._close()

    # --- ClientFactory -----------------------------------------------------------------

    def buildProtocol(self, addr):
        p = self.protocol(
            self.username,
            self.password,
            self.my_name,
            self.remote_name,
            self.domain,
            self.use_ntlm_v2,
            self.sign_options,
            self.is_direct_tcp,
        )
        p.factory = self
        return p

    def clientConnectionFailed(self, connector, reason):
        self.log.error("Cannot connect to the server: %s", reason.getErrorMessage())
        if not self.d.called:
            self.d.errback(reason)

    def _connectionEnded(self, protocol, reason):
        if not self.d.called:
            self.d.callback(None)
