"""smbkit.aio with Kerberos, against a Samba AD DC that refuses NTLM
(``smbkit-testserver ad-dc --kerberos-only``, started and stopped by this
module): a password through Kerberos, a credential cache from ``kinit``,
typed failures, and NTLM refused.
"""

import asyncio
import os
import subprocess

import pytest

import testserver

import smbkit.aio as aio
from smbkit.smb.smb_structs import OperationFailure, ProtocolError


@pytest.fixture(scope="module")
def dc():
    proc, env = testserver.start_ad_dc(kerberos_only=True)
    with open(os.path.join(env["SMBKIT_AD_SHARE_PATH"], "kerberos.txt"), "wb") as f:
        f.write(b"through Kerberos\n")
    yield env
    testserver.stop(proc)


def options(dc, **extra):
    """connect()'s arguments for the DC's file server with Kerberos required."""
    args = dict(
        username=dc["SMBKIT_AD_USER"],
        password=dc["SMBKIT_AD_PASSWORD"],
        remote_name=dc["SMBKIT_AD_NETBIOS_NAME"],
        kerberos="required",
        kerberos_realm=dc["SMBKIT_AD_REALM"],
        kerberos_host=dc["SMBKIT_AD_DC_HOSTNAME"],
        kdc=dc["SMBKIT_AD_KDC"],
        krb5_conf=dc["SMBKIT_AD_KRB5_CONF"],
        timeout=30,
    )
    args.update(extra)
    return args


async def listing(dc, **extra):
    async with await aio.connect("127.0.0.1", int(dc["SMBKIT_AD_PORT"]), **options(dc, **extra)) as conn:
        return [f.filename for f in await conn.list_path(dc["SMBKIT_AD_SHARE"], "/")]


def test_password_through_kerberos(dc):
    assert "kerberos.txt" in asyncio.run(listing(dc))


def test_credential_cache_from_kinit(dc, tmp_path):
    ccache = tmp_path / "cc"
    env = dict(os.environ, KRB5_CONFIG=dc["SMBKIT_AD_KRB5_CONF"], KRB5CCNAME="FILE:%s" % ccache)
    subprocess.run(
        ["kinit", dc["SMBKIT_AD_PRINCIPAL"]],
        input=(dc["SMBKIT_AD_PASSWORD"] + "\n").encode(),
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    names = asyncio.run(listing(dc, username="", password="", kerberos_ccache=ccache))
    assert "kerberos.txt" in names


def test_wrong_password_is_named(dc):
    with pytest.raises(ProtocolError) as e:
        asyncio.run(listing(dc, password="wrong-password"))
    assert "wrong password" in str(e.value)


def test_ntlm_is_refused_without_kerberos(dc):
    with pytest.raises(OperationFailure) as e:
        asyncio.run(listing(dc, kerberos=None))
    assert e.value.nt_status_name == "NTLM_BLOCKED"


def test_bad_options_are_refused(dc):
    with pytest.raises(ValueError):
        asyncio.run(listing(dc, kerberos="always"))
