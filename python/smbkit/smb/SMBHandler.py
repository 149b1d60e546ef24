"""``smb://`` URLs for :mod:`urllib`, as pysmb's ``smb.SMBHandler`` serves them.

::

    import urllib.request
    from smbkit.smb.SMBHandler import SMBHandler

    director = urllib.request.build_opener(SMBHandler)
    with director.open("smb://alice:secret@fileserver/share/report.pdf") as f:
        data = f.read()
    # Upload: give data (bytes or a file object) to open().
    director.open("smb://alice:secret@fileserver/share/new.txt", data=b"hello").close()

The URL is ``smb://[domain;]user[:password]@[servername,]host[:port]/share/path``, with
``%XX`` escapes in every part. The port is 139 (NetBIOS session service) unless given; port 445
uses direct TCP. pysmb asks the host for its NetBIOS name with a NetBIOS name query when the URL
gives none; smbkit does not query (no NetBIOS name service) and calls the server by the first
label of the host name instead, upper-cased (``SERVER`` for an IP address), as the smbkit CLI
does; Samba accepts any called name. A download is spooled to a temporary file, as pysmb does, and returned with
``Content-type`` (from the name) and ``Content-length``; every failure is a
:class:`urllib.error.URLError` whose reason names the SMB error.
"""

import email.message
import io
import ipaddress
import mimetypes
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit
from urllib.response import addinfourl

from .SMBConnection import SMBConnection

__all__ = ["SMBHandler", "USE_NTLM", "MACHINE_NAME"]

#: Use NTLMv2 (True, the default) or NTLMv1, as pysmb's module global.
USE_NTLM = True
#: Our NetBIOS name; ``None``: the local host name's first label.
MACHINE_NAME = None


def _server_name(host):
    """The NetBIOS name to call ``host`` by when the URL gives none: its first label upper-cased
    when that is a NetBIOS name (at most 15 letters, digits, ``-`` or ``_``), ``SERVER`` for an IP
    address or a name that does not fit (the Rust library's ``SmbUrl::remote_name_of``)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return "SERVER"
    except ValueError:
        label = host.split(".")[0]
        if 0 < len(label) <= 15 and all(c.isascii() and (c.isalnum() or c in "-_") for c in label):
            return label.upper()
        return "SERVER"


class SMBHandler(urllib.request.BaseHandler):
    """A :class:`urllib.request.BaseHandler` for ``smb://`` URLs (downloads, and uploads when the
    request carries data)."""

    def smb_open(self, req):
        """Opens ``req``'s URL: stores ``req.data`` there when the request has data, else
        retrieves the file; returns a response whose body is the file (empty for an upload)."""
        if not req.host:
            raise urllib.error.URLError("SMB error: no host given")
        parts = urlsplit(req.get_full_url())
        user = unquote(parts.username or "")
        passwd = unquote(parts.password or "")
        domain = ""
        if ";" in user:
            domain, user = user.split(";", 1)
        try:
            port = parts.port or 139
        except ValueError as e:
            raise urllib.error.URLError(f"SMB error: {e}") from None
        host = unquote(parts.hostname or "")
        server_name = None
        if "," in host:
            server_name, host = host.split(",", 1)
        if not host:
            raise urllib.error.URLError("SMB error: no host given")
        server_name = server_name or _server_name(host)
        path = parts.path.lstrip("/")
        dirs = [unquote(d) for d in path.split("/")]
        service, path = dirs[0], "/".join(dirs[1:])
        if not service:
            raise urllib.error.URLError("SMB error: the URL names no share")
        myname = MACHINE_NAME or self.generateClientMachineName()

        conn = SMBConnection(
            user,
            passwd,
            myname,
            server_name,
            domain=domain,
            use_ntlm_v2=USE_NTLM,
            is_direct_tcp=(port == 445),
        )
        try:
            if not conn.connect(host, port):
                raise urllib.error.URLError(
                    f"smb error: authentication failed for user '{user}' on {host}"
                )
            headers = email.message.Message()
            if req.data is not None:
                data = req.data
                if isinstance(data, (bytes, bytearray, memoryview)):
                    data = io.BytesIO(bytes(data))
                conn.storeFile(service, path, data)
                headers.add_header("Content-length", "0")
                fp = io.BytesIO(b"")
            else:
                fp = self.createTempFile()
                _, retrlen = conn.retrieveFile(service, path, fp)
                fp.seek(0)
                mtype = mimetypes.guess_type(req.get_full_url())[0]
                if mtype:
                    headers.add_header("Content-type", mtype)
                if retrlen is not None and retrlen >= 0:
                    headers.add_header("Content-length", "%d" % retrlen)
            return addinfourl(fp, headers, req.get_full_url())
        except urllib.error.URLError:
            raise
        except Exception as ex:
            raise urllib.error.URLError("smb error: %s" % ex).with_traceback(sys.exc_info()[2])
        finally:
            conn.close()

    def createTempFile(self):
        """The file a download is spooled to (a :func:`tempfile.TemporaryFile`)."""
        return tempfile.TemporaryFile()

    def generateClientMachineName(self):
        """Our NetBIOS name: the local host name's first label, else ``SMB<pid>``."""
        hostname = socket.gethostname()
        if hostname:
            return hostname.split(".")[0]
        return "SMB%d" % os.getpid()
