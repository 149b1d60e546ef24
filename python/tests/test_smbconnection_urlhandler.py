"""smb.SMBHandler: smb:// URLs through urllib (NetBIOS session service, on top of SMBConnection)."""

import hashlib
import random
import tempfile
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from smb.SMBHandler import SMBHandler

NETBIOS_ONLY = ["smb1-netbios", "smb2-netbios"]
pytestmark = pytest.mark.parametrize("variant", NETBIOS_ONLY, indirect=True)


def url(server, path, password=None):
    """smb://user:password@NAME,host:port/share/path: the server's NetBIOS name given before the
    address, so that the handler does not have to ask for it."""
    password = server.password if password is None else password
    return (f"smb://{quote(server.user)}:{quote(password)}@SMBKITTEST,{server.host}:{server.port}"
            f"/{server.share}/{quote(path.lstrip('/'))}")


@pytest.fixture
def opener(support_smb2):
    return urllib.request.build_opener(SMBHandler)


@pytest.mark.parametrize("which", ["text_file", "unicode_file"])
def test_open_url(opener, legacy_server, tree, which):
    path = getattr(tree, which)
    with opener.open(url(legacy_server, path)) as fh:
        data = fh.read()
        assert int(fh.headers["Content-length"]) == len(data)
    assert hashlib.sha256(data).digest() == hashlib.sha256(tree.content(path)).digest()


def test_upload_through_url(opener, legacy_server, scratch):
    data = random.Random(21).randbytes(256_000)
    with tempfile.TemporaryFile() as src:
        src.write(data)
        src.seek(0)
        opener.open(url(legacy_server, scratch.remote("uploaded.bin")), data=src).close()
    assert scratch.on_disk("uploaded.bin").read_bytes() == data
    with opener.open(url(legacy_server, scratch.remote("uploaded.bin"))) as fh:
        assert fh.read() == data


def test_url_errors(opener, legacy_server, tree):
    with pytest.raises(urllib.error.URLError):
        opener.open(url(legacy_server, "/no-such-file.txt"))
    with pytest.raises(urllib.error.URLError):
        opener.open(url(legacy_server, tree.text_file, password="wrong"))
