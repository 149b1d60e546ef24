//! Kerberos logons against a Samba AD DC the harness provisions on
//! 127.0.0.1: from a password, a credential cache (`kinit`) and a keytab;
//! signing and encryption with the Kerberos session key over SMB 3.1.1,
//! 3.0, 2.1 and SMB1; NTLM never tried when Kerberos is required; each typed
//! error (wrong password, unknown principal, unknown service, expired
//! ticket, unreachable KDC, missing cache).

use std::path::Path;
use std::time::Duration;

use smbkit::{
    Connection, Dialect, Encryption, Error, Kerberos, KerberosError, Protocol, SignOptions,
    SmbProtocolFactory,
};
use smbkit_testserver::ad_dc::{DC_HOSTNAME, DC_NETBIOS_NAME, REALM};
use smbkit_testserver::{ad_dc_available, AdDc, AdDcOptions};

fn start(options: AdDcOptions) -> AdDc {
    assert!(
        ad_dc_available(),
        "Samba's AD DC is not installed: run scripts/install-deps"
    );
    AdDc::start_with(options).unwrap_or_else(|e| panic!("cannot start the AD DC: {e}"))
}

/// A DC that refuses NTLM, so that every successful logon is a Kerberos one.
fn kerberos_only() -> AdDc {
    start(AdDcOptions::kerberos_only())
}

/// A Kerberos-only DC that also speaks SMB1.
fn kerberos_only_smb1() -> AdDc {
    start(AdDcOptions {
        global: "server min protocol = NT1\n".into(),
        ..AdDcOptions::kerberos_only()
    })
}

/// A factory for the DC's file server: Kerberos required, its KDC, the
/// service principal `cifs/smbkitdc.smbkit.test`.
fn factory(dc: &AdDc, user: &str, password: &str) -> SmbProtocolFactory {
    SmbProtocolFactory::new(user, password, "KRBCLIENT", DC_NETBIOS_NAME)
        .unwrap()
        .direct_tcp(true)
        .kerberos(Kerberos::Required)
        .kerberos_realm(REALM)
        .kerberos_host(DC_HOSTNAME)
        .kdc(dc.kdc_address().to_string())
        .krb5_conf(dc.krb5_conf_path())
        .connect_timeout(Duration::from_secs(20))
}

async fn connect(dc: &AdDc, f: SmbProtocolFactory) -> Result<Connection, Error> {
    f.connect(("127.0.0.1", dc.port())).await
}

/// Writes, reads back and lists a file on the share; the server's copy is
/// checked on disk.
async fn round_trip(dc: &AdDc, conn: &Connection, name: &str) {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    conn.store_file(dc.share(), name, &mut &data[..])
        .await
        .unwrap();
    let mut back = Vec::new();
    conn.retrieve_file(dc.share(), name, &mut back)
        .await
        .unwrap();
    assert_eq!(back, data);
    assert_eq!(std::fs::read(dc.share_path().join(name)).unwrap(), data);
    let names: Vec<String> = conn
        .list_path(dc.share(), "")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.filename)
        .collect();
    assert!(names.iter().any(|n| n == name), "{names:?}");
}

fn user_principal(dc: &AdDc) -> String {
    dc.user_principal()
}

#[tokio::test(flavor = "multi_thread")]
async fn password_logon_signs_and_encrypts_with_the_kerberos_key() {
    let dc = kerberos_only();
    // SMB 3.1.1 encrypted (AES-GCM keys from the Kerberos session key
    // through the preauth-integrity KDF).
    let conn = connect(
        &dc,
        factory(&dc, dc.user(), dc.password()).encryption(Encryption::Required),
    )
    .await
    .unwrap();
    let info = conn.server_info();
    assert_eq!(info.dialect, Dialect::SMB3_1_1);
    assert!(info.encrypted, "{info:?}");
    assert_eq!(info.kerberos_principal, Some(user_principal(&dc)));
    round_trip(&dc, &conn, "krb-311.bin").await;
    conn.close().await.unwrap();

    // 3.0 (AES-CMAC signing, CCM encryption) and 2.1 (HMAC-SHA256 signing).
    for (max, dialect, encrypt) in [
        ("SMB3_00", Dialect::SMB3_0, true),
        ("SMB2_10", Dialect::SMB2_1, false),
    ] {
        let dc = start(AdDcOptions {
            global: format!("server max protocol = {max}\n"),
            ..AdDcOptions::kerberos_only()
        });
        let f = factory(&dc, dc.user(), dc.password())
            .sign_options(SignOptions::WhenSupported)
            .encryption(if encrypt {
                Encryption::Required
            } else {
                Encryption::IfRequired
            });
        let conn = connect(&dc, f).await.unwrap();
        let info = conn.server_info();
        assert_eq!(info.dialect, dialect);
        assert!(info.signing, "{info:?}");
        assert_eq!(info.encrypted, encrypt);
        round_trip(&dc, &conn, &format!("krb-{max}.bin")).await;
        conn.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn smb1_signs_with_the_kerberos_key() {
    let dc = kerberos_only_smb1();
    let f = factory(&dc, dc.user(), dc.password())
        .protocol(Protocol::Smb1Only)
        .sign_options(SignOptions::WhenSupported);
    let conn = connect(&dc, f).await.unwrap();
    let info = conn.server_info();
    assert_eq!(info.dialect, Dialect::NT_LM_0_12);
    assert!(info.signing, "{info:?}");
    assert_eq!(info.kerberos_principal, Some(user_principal(&dc)));
    round_trip(&dc, &conn, "krb-smb1.bin").await;
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_cache_from_kinit_and_keytab() {
    let dc = kerberos_only();
    // kinit, then no password at all: the TGT in the cache asks for the
    // service ticket.
    let ccache = dc.dir().join("kinit.ccache");
    dc.kinit(&ccache).unwrap();
    let conn = connect(&dc, factory(&dc, "", "").kerberos_ccache(&ccache))
        .await
        .unwrap();
    assert_eq!(
        conn.server_info().kerberos_principal,
        Some(user_principal(&dc))
    );
    round_trip(&dc, &conn, "krb-ccache.bin").await;
    conn.close().await.unwrap();

    // The same through KRB5CCNAME, as `kinit` then `smbkit -k` would.
    let from_env = temp_env(&ccache, || async {
        connect(&dc, factory(&dc, "", ""))
            .await
            .map(|c| c.server_info())
    })
    .await
    .unwrap();
    assert_eq!(from_env.kerberos_principal, Some(user_principal(&dc)));

    // A keytab holding the user's keys.
    let keytab = dc.user_keytab().unwrap();
    let conn = connect(&dc, factory(&dc, dc.user(), "").kerberos_keytab(&keytab))
        .await
        .unwrap();
    round_trip(&dc, &conn, "krb-keytab.bin").await;
    conn.close().await.unwrap();
}

/// Runs `f` with `KRB5CCNAME=FILE:<ccache>` (tests in this file that read
/// the variable run it under this lock).
async fn temp_env<F, Fut, T>(ccache: &Path, f: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _g = LOCK.lock().await;
    std::env::set_var("KRB5CCNAME", format!("FILE:{}", ccache.display()));
    let out = f().await;
    std::env::remove_var("KRB5CCNAME");
    out
}

fn kerberos_error(r: Result<Connection, Error>) -> KerberosError {
    match r {
        Err(Error::Kerberos(k)) => k,
        Err(e) => panic!("expected a Kerberos error, got {e:?}"),
        Ok(c) => panic!(
            "expected a Kerberos error, connected: {:?}",
            c.server_info()
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_errors() {
    let dc = start(AdDcOptions::default());

    let e = kerberos_error(connect(&dc, factory(&dc, dc.user(), "wrong-password")).await);
    assert!(
        matches!(&e, KerberosError::WrongPassword { principal } if *principal == user_principal(&dc)),
        "{e:?}"
    );

    let e = kerberos_error(connect(&dc, factory(&dc, "nobody", "x")).await);
    assert!(
        matches!(&e, KerberosError::UnknownPrincipal { principal } if principal == &format!("nobody@{REALM}")),
        "{e:?}"
    );

    let e = kerberos_error(
        connect(
            &dc,
            factory(&dc, dc.user(), dc.password()).kerberos_host("no-such-host.smbkit.test"),
        )
        .await,
    );
    assert!(
        matches!(&e, KerberosError::UnknownService { service } if service.starts_with("cifs/no-such-host")),
        "{e:?}"
    );

    // A closed port: no KDC answers, and NTLM is not tried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let f = SmbProtocolFactory::new(dc.user(), dc.password(), "KRBCLIENT", DC_NETBIOS_NAME)
        .unwrap()
        .direct_tcp(true)
        .kerberos(Kerberos::Required)
        .kerberos_realm(REALM)
        .kerberos_host(DC_HOSTNAME)
        .kdc(format!("127.0.0.1:{closed_port}"));
    let e = kerberos_error(connect(&dc, f.clone()).await);
    assert!(
        matches!(&e, KerberosError::KdcUnreachable { realm, .. } if realm == REALM),
        "{e:?}"
    );
    // Preferred falls back to NTLM (this DC accepts it).
    let conn = connect(&dc, f.kerberos(Kerberos::Preferred)).await.unwrap();
    assert_eq!(conn.server_info().kerberos_principal, None);
    conn.close().await.unwrap();

    // An expired TGT in the cache: said before anything is sent.
    let ccache = dc.dir().join("short.ccache");
    dc.krb5_command("kinit")
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .args(["-l", "2s", &user_principal(&dc)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{}\n", dc.password()).as_bytes())?;
            c.wait()
        })
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let e = kerberos_error(connect(&dc, factory(&dc, "", "").kerberos_ccache(&ccache)).await);
    assert!(
        matches!(&e, KerberosError::TicketExpired { principal, expired_at: Some(_) } if *principal == user_principal(&dc)),
        "{e:?}"
    );

    // A cache file that does not exist.
    let e = kerberos_error(
        connect(
            &dc,
            factory(&dc, "", "").kerberos_ccache(dc.dir().join("missing.ccache")),
        )
        .await,
    );
    assert!(matches!(&e, KerberosError::File { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_is_refused_by_a_kerberos_only_dc() {
    let dc = kerberos_only();
    let f = factory(&dc, dc.user(), dc.password()).kerberos(Kerberos::Off);
    match connect(&dc, f).await {
        Err(Error::AuthFailed { status, .. }) => {
            assert_eq!(status, smbkit::NtStatus::NTLM_BLOCKED)
        }
        other => panic!("expected NTLM to be refused, got {other:?}"),
    }
}
