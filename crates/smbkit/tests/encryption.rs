//! SMB 3.x encryption against real Samba: a server that requires it for
//! every session, a share that requires it on a server that does not, each
//! cipher the server offers (the server's list restricted to one per run),
//! SMB 3.0.2 with AES-128-CCM, and the `Encryption` option's refusals.
//!
//! Every transfer is checked by content; the local files behind the shares
//! are read to check what reached the disk.

use std::fs;
use std::time::Duration;

use smbkit::{
    Cipher, Connection, Encryption, Error, NoEncryption, SmbProtocolFactory, Unsupported,
};
use smbkit_testserver::{content, ExtraConfig, Profile, TestServer};

/// Samba's name of a cipher in `server smb3 encryption algorithms`.
fn samba_name(c: Cipher) -> &'static str {
    match c {
        Cipher::Aes128Ccm => "AES-128-CCM",
        Cipher::Aes128Gcm => "AES-128-GCM",
        Cipher::Aes256Ccm => "AES-256-CCM",
        Cipher::Aes256Gcm => "AES-256-GCM",
    }
}

const ALL: [Cipher; 4] = [
    Cipher::Aes128Ccm,
    Cipher::Aes128Gcm,
    Cipher::Aes256Ccm,
    Cipher::Aes256Gcm,
];

fn server(profile: Profile, global: &str) -> TestServer {
    TestServer::start_with(
        profile,
        ExtraConfig {
            global: global.into(),
            sections: String::new(),
        },
    )
    .expect("start the test Samba server (run scripts/install-deps)")
}

/// A server that requires encryption for every session and offers only
/// `cipher` (all four when `None`).
fn encrypting_server(cipher: Option<Cipher>) -> TestServer {
    let mut global = String::from("server smb encrypt = required\n");
    if let Some(c) = cipher {
        global.push_str(&format!(
            "server smb3 encryption algorithms = {}\n",
            samba_name(c)
        ));
    }
    server(Profile::Modern, &global)
}

fn factory(srv: &TestServer) -> SmbProtocolFactory {
    SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .timeout(Duration::from_secs(20))
}

async fn connect(srv: &TestServer, f: SmbProtocolFactory) -> Connection {
    f.connect((srv.host(), srv.port()))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", srv.log_tail(30)))
}

/// Store, list, retrieve (whole and from an offset), get attributes,
/// rename and delete on `share`, whose local folder is `local`; checks
/// contents end to end.
async fn exercise(conn: &Connection, srv: &TestServer, share: &str, local: &std::path::Path) {
    let data = content(5 * 1024 * 1024 + 321, 7);
    conn.create_directory(share, "/enc dir").await.unwrap();
    let n = conn
        .store_file(share, "/enc dir/data.bin", &mut &data[..])
        .await
        .unwrap_or_else(|e| panic!("store: {e}\n{}", srv.log_tail(20)));
    assert_eq!(n, data.len() as u64);
    assert!(fs::read(local.join("enc dir/data.bin")).unwrap() == data);

    let names: Vec<String> = conn
        .list_path(share, "/enc dir")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.filename)
        .filter(|n| n != "." && n != "..")
        .collect();
    assert_eq!(names, ["data.bin"]);

    let mut back = Vec::new();
    conn.retrieve_file(share, "/enc dir/data.bin", &mut back)
        .await
        .unwrap();
    assert!(back == data, "retrieved content differs");
    let mut part = Vec::new();
    conn.retrieve_file_from_offset(
        share,
        "/enc dir/data.bin",
        &mut part,
        1_000_001,
        Some(70_000),
    )
    .await
    .unwrap();
    assert!(part[..] == data[1_000_001..1_070_001]);

    let a = conn
        .get_attributes(share, "/enc dir/data.bin")
        .await
        .unwrap();
    assert_eq!(a.file_size, data.len() as u64);
    conn.rename(share, "/enc dir/data.bin", "/enc dir/renamed.bin")
        .await
        .unwrap();
    conn.delete_files(share, "/enc dir/*.bin", false)
        .await
        .unwrap();
    conn.delete_directory(share, "/enc dir").await.unwrap();
    assert!(!local.join("enc dir").exists());
    conn.echo(b"still fine").await.unwrap();
}

// ---------------------------------------------------------------------------
// A server that requires encryption for every session

async fn whole_server_with(cipher: Cipher) {
    let srv = encrypting_server(Some(cipher));
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    let info = conn.server_info().clone();
    assert_eq!(info.dialect, smbkit::Dialect::SMB3_1_1);
    assert_eq!(info.cipher, Some(cipher));
    assert!(info.encrypted, "the server asked for an encrypted session");
    assert!(conn.tree_connect("share").await.unwrap().encrypted);
    exercise(&conn, &srv, "share", srv.share_path()).await;
    let shares = conn.list_shares().await.unwrap();
    assert!(shares.iter().any(|s| s.name == "share"));
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_server_aes_128_ccm() {
    whole_server_with(Cipher::Aes128Ccm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_server_aes_128_gcm() {
    whole_server_with(Cipher::Aes128Gcm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_server_aes_256_ccm() {
    whole_server_with(Cipher::Aes256Ccm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_server_aes_256_gcm() {
    whole_server_with(Cipher::Aes256Gcm).await;
}

/// Over NetBIOS framing 3.1.1 is not offered: SMB 3.0.2 encrypts with
/// AES-128-CCM, keys from the 3.0 derivation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_server_smb_3_0_2_over_netbios_uses_aes_128_ccm() {
    let srv = encrypting_server(None);
    let conn = connect(&srv, factory(&srv).direct_tcp(false)).await;
    let info = conn.server_info().clone();
    assert_eq!(info.dialect, smbkit::Dialect::SMB3_0_2);
    assert_eq!(info.cipher, Some(Cipher::Aes128Ccm));
    assert!(info.encrypted);
    exercise(&conn, &srv, "share", srv.share_path()).await;
}

/// The client's preference decides when the server accepts several.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cipher_preference_is_offered() {
    let srv = encrypting_server(None);
    for want in ALL {
        let conn = connect(
            &srv,
            factory(&srv).direct_tcp(true).ciphers(&[want]).unwrap(),
        )
        .await;
        assert_eq!(conn.server_info().cipher, Some(want));
        conn.echo(b"x").await.unwrap();
        conn.close().await.unwrap();
    }
}

/// No cipher in common with a server that requires encryption: a clear
/// refusal, not a hang or a garbled session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_common_cipher_with_a_server_that_requires_encryption_fails_clearly() {
    let srv = encrypting_server(Some(Cipher::Aes128Gcm));
    let err = factory(&srv)
        .direct_tcp(true)
        .ciphers(&[Cipher::Aes256Ccm])
        .unwrap()
        .connect((srv.host(), srv.port()))
        .await
        .expect_err("no common cipher");
    let msg = err.to_string();

    assert!(
        matches!(
            err,
            Error::Unsupported(_) | Error::AuthFailed { .. } | Error::OperationFailure { .. }
        ),
        "{err:?}"
    );
    assert!(
        msg.contains("may require encryption"),
        "the error should say why: {msg}"
    );
}

// ---------------------------------------------------------------------------
// One share that requires encryption on a server that does not

async fn share_level_with(cipher: Cipher) {
    let srv = server(
        Profile::Modern,
        &format!(
            "server smb3 encryption algorithms = {}\n",
            samba_name(cipher)
        ),
    );
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    let info = conn.server_info().clone();
    assert_eq!(info.cipher, Some(cipher));
    assert!(!info.encrypted, "the server does not ask for it");
    assert!(conn.tree_connect("encrypted").await.unwrap().encrypted);
    assert!(!conn.tree_connect("share").await.unwrap().encrypted);
    exercise(&conn, &srv, "encrypted", srv.encrypted_path()).await;
    // The plain share keeps working beside it, unencrypted.
    exercise(&conn, &srv, "share", srv.share_path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_level_aes_128_ccm() {
    share_level_with(Cipher::Aes128Ccm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_level_aes_128_gcm() {
    share_level_with(Cipher::Aes128Gcm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_level_aes_256_ccm() {
    share_level_with(Cipher::Aes256Ccm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_level_aes_256_gcm() {
    share_level_with(Cipher::Aes256Gcm).await;
}

/// Plain and encrypted trees used at once from many tasks over one
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transfers_on_plain_and_encrypted_shares() {
    let srv = server(Profile::Modern, "");
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let share = if i % 2 == 0 { "encrypted" } else { "share" };
            let data = content(300_000 + i as usize * 4099, i);
            let name = format!("/c{i}.bin");
            conn.store_file(share, &name, &mut &data[..]).await.unwrap();
            let mut back = Vec::new();
            conn.retrieve_file(share, &name, &mut back).await.unwrap();
            assert!(back == data, "{share}{name}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

// ---------------------------------------------------------------------------
// The Encryption option

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_encrypts_the_session_when_the_server_can() {
    let srv = server(Profile::Modern, "");
    let conn = connect(
        &srv,
        factory(&srv)
            .direct_tcp(true)
            .encryption(Encryption::Preferred),
    )
    .await;
    assert!(conn.server_info().encrypted);
    assert!(conn.tree_connect("share").await.unwrap().encrypted);
    exercise(&conn, &srv, "share", srv.share_path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_goes_on_unencrypted_when_the_server_cannot() {
    let srv = server(Profile::Smb21Max, "");
    let conn = connect(
        &srv,
        factory(&srv)
            .direct_tcp(true)
            .encryption(Encryption::Preferred),
    )
    .await;
    assert!(!conn.server_info().encrypted);
    assert_eq!(conn.server_info().cipher, None);
    conn.echo(b"plain").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_against_smb_2_1_fails_before_authenticating() {
    let srv = server(Profile::Smb21Max, "");
    let err = factory(&srv)
        .direct_tcp(true)
        .encryption(Encryption::Required)
        .connect((srv.host(), srv.port()))
        .await
        .expect_err("SMB 2.1 cannot encrypt");
    assert!(
        matches!(
            &err,
            Error::Unsupported(Unsupported::EncryptionRequired(
                NoEncryption::DialectTooOld(smbkit::Dialect::SMB2_1)
            ))
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("encryption is required") && msg.contains("SMB 3.0"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_against_an_smb1_server_fails_clearly() {
    let srv = server(Profile::Smb1Only, "");
    let err = factory(&srv)
        .encryption(Encryption::Required)
        .connect((srv.host(), srv.port()))
        .await
        .expect_err("SMB 1 cannot encrypt");
    assert!(
        matches!(
            &err,
            Error::Unsupported(Unsupported::EncryptionRequired(NoEncryption::Smb1))
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("SMB 1"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_with_encryption_off_on_the_server_fails_clearly() {
    let srv = server(Profile::Modern, "server smb encrypt = off\n");
    let err = factory(&srv)
        .direct_tcp(true)
        .encryption(Encryption::Required)
        .connect((srv.host(), srv.port()))
        .await
        .expect_err("the server has encryption off");
    assert!(
        matches!(
            err,
            Error::Unsupported(Unsupported::EncryptionRequired(
                NoEncryption::NoCommonCipher
            ))
        ),
        "{err:?}"
    );
}

/// A share that requires encryption on a server limited to SMB 2.1: a
/// clear refusal naming the share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_share_over_smb_2_1_is_refused_clearly() {
    let srv = server(Profile::Smb21Max, "");
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    let err = conn
        .list_path("encrypted", "/")
        .await
        .expect_err("SMB 2.1 cannot encrypt");
    let msg = err.to_string();
    assert!(
        msg.contains("encrypted'")
            && msg.contains("may require encryption")
            && msg.contains("SMB 3.0"),
        "{msg}"
    );
    match &err {
        Error::OperationFailure {
            operation: "tree connect",
            path,
            detail: Some(d),
            ..
        } => {
            assert_eq!(path, "\\encrypted");
            assert!(
                matches!(
                    **d,
                    smbkit::FailureDetail::MayRequireEncryption(NoEncryption::DialectTooOld(_))
                ),
                "{d:?}"
            );
        }
        e => panic!("{e:?}"),
    }
    // The connection stays usable for the other shares.
    conn.list_path("share", "/").await.unwrap();
}

/// Both signing and encryption required by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_on_a_signing_mandatory_server() {
    let srv = server(Profile::SigningMandatory, "server smb encrypt = required\n");
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    assert!(conn.server_info().encrypted);
    exercise(&conn, &srv, "share", srv.share_path()).await;
}

/// A request that times out on an encrypted session is cancelled with an
/// encrypted CANCEL, and the session goes on once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_on_an_encrypted_session_then_recovery() {
    let srv = encrypting_server(None);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    conn.echo(b"warm").await.unwrap();
    srv.pause();
    let quick = conn.with_timeout(Duration::from_millis(300));
    let err = quick.list_path("share", "/").await.expect_err("paused");
    assert!(err.is_timeout(), "{err:?}");
    srv.resume();
    conn.echo(b"back").await.unwrap();
    exercise(&conn, &srv, "share", srv.share_path()).await;
}
