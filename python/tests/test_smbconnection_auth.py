"""SMBConnection: connecting, authenticating, negotiating, signing, closing."""

import os
from io import BytesIO

import pytest

from smb import smb_structs
from smb.base import NotConnectedError
from smb.SMBConnection import SMBConnection

SMB2_ONLY = ["smb2-netbios", "smb2-direct"]
SMB1_ONLY = ["smb1-netbios", "smb1-direct"]
NTLMV1_SIGNING = (
    "after an NTLMv1 login with extended session security it signs with the session base key "
    "instead of the key exchange key, so the server rejects its signatures"
)


@pytest.mark.parametrize("use_ntlm_v2", [False, True], ids=["ntlmv1", "ntlmv2"])
def test_connect_authenticates(new_connection, legacy_server, variant, use_ntlm_v2):
    conn = new_connection(legacy_server, use_ntlm_v2=use_ntlm_v2)
    assert conn.connect(legacy_server.host, legacy_server.port) is True
    assert conn.isUsingSMB2 == variant.smb2
    assert conn.echo(b"after login") == b"after login"


@pytest.mark.parametrize("use_ntlm_v2", [False, True], ids=["ntlmv1", "ntlmv2"])
def test_wrong_password_returns_false(new_connection, legacy_server, use_ntlm_v2):
    conn = new_connection(legacy_server, password="not-the-password", use_ntlm_v2=use_ntlm_v2)
    assert conn.connect(legacy_server.host, legacy_server.port) is False


def test_unknown_user_returns_false(new_connection, legacy_server):
    conn = new_connection(legacy_server, username="nobody-here", password="whatever")
    assert conn.connect(legacy_server.host, legacy_server.port) is False


def test_password_may_be_a_callable(new_connection, legacy_server):
    conn = new_connection(legacy_server, password=lambda: legacy_server.password)
    assert conn.connect(legacy_server.host, legacy_server.port) is True
    assert conn.listPath(legacy_server.share, "/")


def test_empty_domain(new_connection, legacy_server):
    conn = new_connection(legacy_server, domain="")
    assert conn.connect(legacy_server.host, legacy_server.port) is True


def test_with_block_closes(new_connection, legacy_server):
    conn = new_connection(legacy_server)
    with conn as entered:
        assert entered is conn
        assert conn.connect(legacy_server.host, legacy_server.port) is True
        assert conn.echo(b"inside") == b"inside"
    with pytest.raises(NotConnectedError):
        conn.listPath(legacy_server.share, "/")


def test_with_block_constructor(legacy_server, support_smb2, variant):
    with SMBConnection(legacy_server.user, legacy_server.password, "PYTESTCLIENT", "SMBKITTEST",
                       is_direct_tcp=variant.direct_tcp) as conn:
        assert conn.connect(legacy_server.host, legacy_server.port)
        shares = [s.name for s in conn.listShares()]
        assert legacy_server.share in shares
    with pytest.raises(NotConnectedError):
        conn.echo(b"closed")


def test_operations_before_connect_raise(new_connection, legacy_server):
    conn = new_connection(legacy_server)
    with pytest.raises(NotConnectedError):
        conn.listPath(legacy_server.share, "/")
    with pytest.raises(NotConnectedError):
        conn.listShares()


def test_close_then_operation_raises(connect, legacy_server):
    conn = connect(legacy_server)
    conn.close()
    with pytest.raises(NotConnectedError):
        conn.getAttributes(legacy_server.share, "/")
    conn.close()  # closing twice is harmless


def test_connect_again_after_close(connect, legacy_server, variant, pysmb_gap):
    pysmb_gap("connect() on an object that had a session keeps that session's state and fails")
    conn = connect(legacy_server)
    conn.close()
    assert conn.connect(legacy_server.host, legacy_server.port) is True
    assert conn.isUsingSMB2 == variant.smb2
    assert conn.echo(b"again") == b"again"


def test_connect_twice_replaces_the_session(connect, legacy_server, pysmb_gap):
    pysmb_gap("connect() on an object that had a session keeps that session's state and fails")
    conn = connect(legacy_server)
    assert conn.connect(legacy_server.host, legacy_server.port) is True
    assert conn.echo(b"second session") == b"second session"


@pytest.mark.parametrize("payload", [b"x", b"0123456789" * 100, bytes(range(256))], ids=["1", "1000", "binary"])
def test_echo(conn, payload):
    assert conn.echo(payload) == payload


def test_echo_default_timeout_argument(conn):
    assert conn.echo(b"timeout given", timeout=5) == b"timeout given"


def test_support_smb2_flag_is_read_when_connecting(new_connection, legacy_server, variant):
    """The flag counts when connect() negotiates; changing it afterwards does not change the session."""
    conn = new_connection(legacy_server)
    assert conn.connect(legacy_server.host, legacy_server.port)
    smb_structs.SUPPORT_SMB2 = not variant.smb2
    assert conn.isUsingSMB2 == variant.smb2
    assert conn.echo(b"same session") == b"same session"


# -- other server configurations ------------------------------------------------------------------


@pytest.mark.parametrize("variant", SMB2_ONLY, indirect=True)
def test_modern_server_ntlmv2(servers, new_connection):
    server = servers.get("modern")
    conn = new_connection(server)
    assert conn.connect(server.host, server.port) is True
    assert conn.isUsingSMB2
    names = [f.filename for f in conn.listPath(server.share, "/")]
    assert "." in names


@pytest.mark.parametrize("variant", SMB2_ONLY, indirect=True)
def test_modern_server_refuses_ntlmv1(servers, new_connection):
    server = servers.get("modern")
    conn = new_connection(server, use_ntlm_v2=False)
    assert conn.connect(server.host, server.port) is False


@pytest.mark.parametrize("variant", SMB1_ONLY, indirect=True)
def test_modern_server_refuses_smb1(servers, new_connection):
    """A client limited to SMB1 cannot talk to a server that no longer speaks it."""
    server = servers.get("modern")
    conn = new_connection(server)
    with pytest.raises(smb_structs.ProtocolError):
        conn.connect(server.host, server.port)


@pytest.mark.parametrize("use_ntlm_v2", [False, True], ids=["ntlmv1", "ntlmv2"])
def test_smb1_only_server(servers, new_connection, unique, use_ntlm_v2):
    """With or without SMB2 allowed, a client falls back to SMB1 when that is all the server has."""
    server = servers.get("smb1-only")
    conn = new_connection(server, use_ntlm_v2=use_ntlm_v2)
    assert conn.connect(server.host, server.port) is True
    assert conn.isUsingSMB2 is False
    name = unique("smb1") + ".txt"
    server.share_path.joinpath(name).write_bytes(b"only smb1")
    names = [f.filename for f in conn.listPath(server.share, "/")]
    assert name in names


@pytest.mark.parametrize("variant", SMB2_ONLY, indirect=True)
def test_smb21_server(servers, new_connection):
    server = servers.get("smb21")
    conn = new_connection(server)
    assert conn.connect(server.host, server.port) is True
    assert conn.isUsingSMB2
    assert conn.echo(b"smb2.1") == b"smb2.1"


@pytest.mark.parametrize("variant", SMB2_ONLY, indirect=True)
@pytest.mark.parametrize(
    "sign_options", [SMBConnection.SIGN_WHEN_REQUIRED, SMBConnection.SIGN_WHEN_SUPPORTED],
    ids=["when-required", "when-supported"],
)
def test_signing_mandatory_smb2(servers, new_connection, unique, sign_options):
    server = servers.get("signing")
    name = unique("signed") + ".txt"
    server.share_path.joinpath(name).write_bytes(b"signed content")
    conn = new_connection(server, sign_options=sign_options)
    assert conn.connect(server.host, server.port) is True
    names = [f.filename for f in conn.listPath(server.share, "/")]
    assert name in names
    buf = BytesIO()
    conn.retrieveFile(server.share, "/" + name, buf)
    assert buf.getvalue() == b"signed content"


@pytest.mark.parametrize("variant", SMB2_ONLY, indirect=True)
def test_signing_mandatory_refused_when_never_signing(servers, new_connection):
    """SIGN_NEVER against a server that requires signing is refused. pysmb logs on unsigned and
    fails at the first tree connect (OperationFailure); smbkit refuses at connect() with
    UnsupportedFeature (a ProtocolError), naming the setting, before anything goes unsigned."""
    server = servers.get("signing")
    conn = new_connection(server, sign_options=SMBConnection.SIGN_NEVER)
    if os.environ.get("SMBKIT_PY_IMPL", "pysmb").strip().lower() == "smbkit":
        with pytest.raises(smb_structs.UnsupportedFeature, match="sign"):
            conn.connect(server.host, server.port)
        return
    assert conn.connect(server.host, server.port) is True
    with pytest.raises(smb_structs.OperationFailure):
        conn.listPath(server.share, "/")


@pytest.mark.parametrize("variant", SMB1_ONLY, indirect=True)
@pytest.mark.parametrize("use_ntlm_v2", [False, True], ids=["ntlmv1", "ntlmv2"])
def test_signing_mandatory_smb1(servers, new_connection, unique, use_ntlm_v2, pysmb_gap):
    pysmb_gap(NTLMV1_SIGNING, when=not use_ntlm_v2)
    server = servers.get("smb1-signing")
    name = unique("signed1") + ".txt"
    server.share_path.joinpath(name).write_bytes(b"signed over smb1")
    conn = new_connection(server, use_ntlm_v2=use_ntlm_v2)
    assert conn.connect(server.host, server.port) is True
    assert conn.isUsingSMB2 is False
    names = [f.filename for f in conn.listPath(server.share, "/")]
    assert name in names


@pytest.mark.parametrize("use_ntlm_v2", [False, True], ids=["ntlmv1", "ntlmv2"])
def test_signing_when_supported_on_optional_server(new_connection, legacy_server, tree, use_ntlm_v2,
                                                   variant, pysmb_gap):
    # The legacy server offers signing over SMB2 only, so SMB1 sessions here are not signed.
    pysmb_gap(NTLMV1_SIGNING, when=not use_ntlm_v2 and variant.smb2)
    conn = new_connection(legacy_server, sign_options=SMBConnection.SIGN_WHEN_SUPPORTED,
                          use_ntlm_v2=use_ntlm_v2)
    assert conn.connect(legacy_server.host, legacy_server.port) is True
    names = [f.filename for f in conn.listPath(legacy_server.share, tree.long_dir)]
    assert "Sample File.txt" in names


@pytest.mark.parametrize("variant", SMB2_ONLY, indirect=True)
def test_encrypted_share(connect, legacy_server, unique, pysmb_gap):
    """A share with ``smb encrypt = required`` needs SMB3 encryption."""
    pysmb_gap("speaks SMB 2.0.2 at most, so it cannot encrypt")
    name = unique("secret") + ".txt"
    (legacy_server.dir / "encrypted" / name).write_bytes(b"encrypted content")
    conn = connect(legacy_server)
    names = [f.filename for f in conn.listPath("encrypted", "/")]
    assert name in names
    buf = BytesIO()
    conn.retrieveFile("encrypted", "/" + name, buf)
    assert buf.getvalue() == b"encrypted content"


@pytest.mark.parametrize("variant", SMB1_ONLY, indirect=True)
def test_encrypted_share_refused_over_smb1(connect, legacy_server):
    conn = connect(legacy_server)
    with pytest.raises(smb_structs.OperationFailure):
        conn.listPath("encrypted", "/")
