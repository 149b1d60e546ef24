//! Connecting and authenticating against real Samba servers started by the
//! test harness, one server per test.

use std::time::{Duration, Instant};

use smbkit::{Dialect, Error, NtStatus, Protocol, SignOptions, SmbProtocolFactory};
use smbkit_testserver::{Profile, TestServer};

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

fn factory(srv: &TestServer) -> SmbProtocolFactory {
    SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST").unwrap()
}

async fn connect(srv: &TestServer, f: SmbProtocolFactory) -> Result<smbkit::Connection, Error> {
    f.connect((srv.host(), srv.port())).await
}

#[tokio::test]
async fn direct_tcp_negotiates_3_1_1_and_echoes() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await.unwrap();
    assert!(conn.is_ready());
    assert!(conn.is_using_smb2());
    assert_eq!(conn.dialect(), Dialect::SMB3_1_1);
    assert_eq!(conn.echo(b"hello smb").await.unwrap(), b"hello smb");
    conn.close().await.unwrap();
    assert!(!conn.is_ready());
}

#[tokio::test]
async fn netbios_framing_stops_at_3_0_2() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv)).await.unwrap();
    assert_eq!(
        conn.dialect(),
        Dialect::SMB3_0_2,
        "3.1.1 is not offered over NetBIOS"
    );
    conn.echo(b"x").await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn smb2_only_negotiates_without_the_smb1_request() {
    let srv = server(Profile::Modern);
    let conn = connect(
        &srv,
        factory(&srv).direct_tcp(true).protocol(Protocol::Smb2Only),
    )
    .await
    .unwrap();
    assert_eq!(conn.dialect(), Dialect::SMB3_1_1);
    conn.echo(b"x").await.unwrap();
}

#[tokio::test]
async fn smb2_1_server_is_reported_as_such() {
    let srv = server(Profile::Smb21Max);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await.unwrap();
    assert_eq!(conn.dialect(), Dialect::SMB2_1);
    conn.echo(b"x").await.unwrap();
}

#[tokio::test]
async fn ntlm_v1_against_legacy_server() {
    let srv = server(Profile::Legacy);
    for direct in [false, true] {
        let conn = connect(&srv, factory(&srv).use_ntlm_v2(false).direct_tcp(direct))
            .await
            .unwrap_or_else(|e| panic!("NTLMv1 (direct={direct}): {e}\n{}", srv.log_tail(30)));
        conn.echo(b"v1").await.unwrap();
        conn.close().await.unwrap();
    }
}

#[tokio::test]
async fn ntlm_v1_refused_by_ntlmv2_only_server() {
    let srv = server(Profile::Modern);
    let err = connect(&srv, factory(&srv).use_ntlm_v2(false).direct_tcp(true))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn wrong_password_is_auth_failed() {
    let srv = server(Profile::Modern);
    let f = SmbProtocolFactory::new(srv.user(), "not the password", "ME", "SRV").unwrap();
    let err = connect(&srv, f.direct_tcp(true)).await.unwrap_err();
    match err {
        Error::AuthFailed { status, .. } => assert_eq!(status, NtStatus::LOGON_FAILURE),
        e => panic!("expected AuthFailed, got {e:?}"),
    }
}

#[tokio::test]
async fn password_from_a_callback() {
    let srv = server(Profile::Modern);
    let pw = srv.password().to_string();
    let f = SmbProtocolFactory::new(srv.user(), "", "ME", "SRV")
        .unwrap()
        .password_callback(move || pw.clone());
    let conn = connect(&srv, f.direct_tcp(true)).await.unwrap();
    conn.echo(b"cb").await.unwrap();
}

#[tokio::test]
async fn sign_options_against_signing_mandatory_server() {
    let srv = server(Profile::SigningMandatory);
    for direct in [true, false] {
        let err = connect(
            &srv,
            factory(&srv)
                .sign_options(SignOptions::Never)
                .direct_tcp(direct),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Unsupported(smbkit::Unsupported::SigningForbidden)
            ),
            "{err:?}"
        );
        for opt in [SignOptions::WhenRequired, SignOptions::WhenSupported] {
            let conn = connect(&srv, factory(&srv).sign_options(opt).direct_tcp(direct))
                .await
                .unwrap_or_else(|e| panic!("{opt:?} direct={direct}: {e}\n{}", srv.log_tail(30)));
            let info = conn.server_info();
            assert!(info.signing_required_by_server);
            assert!(info.signing, "{opt:?} must sign");
            conn.echo(b"signed").await.unwrap();
            let t = conn.tree_connect(srv.share()).await.unwrap();
            assert_ne!(t.tree_id, 0);
            conn.close().await.unwrap();
        }
    }
}

#[tokio::test]
async fn signing_when_supported_against_modern_server() {
    let srv = server(Profile::Modern);
    let conn = connect(
        &srv,
        factory(&srv)
            .sign_options(SignOptions::WhenSupported)
            .direct_tcp(true),
    )
    .await
    .unwrap();
    assert!(conn.server_info().signing);
    assert!(conn.server_info().signing_algorithm.is_some());
    conn.echo(b"x").await.unwrap();
    conn.tree_connect(srv.share()).await.unwrap();

    let plain = connect(&srv, factory(&srv).direct_tcp(true)).await.unwrap();
    assert!(
        !plain.server_info().signing,
        "WhenRequired does not sign when the server does not require it"
    );
    plain.tree_connect(srv.share()).await.unwrap();
}

#[tokio::test]
async fn signing_with_each_dialect() {
    let srv = server(Profile::SigningMandatory);
    // 3.1.1 over direct TCP (GMAC or CMAC), 3.0.2 over NetBIOS (CMAC).
    for direct in [true, false] {
        let conn = connect(&srv, factory(&srv).direct_tcp(direct))
            .await
            .unwrap();
        conn.tree_connect(srv.share()).await.unwrap();
        conn.echo(b"x").await.unwrap();
    }
    // 2.1 (HMAC-SHA256).
    let old = server(Profile::Smb21Max);
    let conn = connect(
        &old,
        factory(&old)
            .sign_options(SignOptions::WhenSupported)
            .direct_tcp(true),
    )
    .await
    .unwrap();
    assert_eq!(conn.dialect(), Dialect::SMB2_1);
    assert!(conn.server_info().signing);
    conn.tree_connect(old.share()).await.unwrap();
    conn.echo(b"x").await.unwrap();
}

#[tokio::test]
async fn tree_connect_and_missing_share() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await.unwrap();
    let t = conn.tree_connect(srv.share()).await.unwrap();
    assert_eq!(t.share_type, 1);
    assert_eq!(conn.tree_connect(srv.share()).await.unwrap(), t, "cached");
    let err = conn.tree_connect("no-such-share").await.unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::BAD_NETWORK_NAME), "{err:?}");
    let err = conn.tree_connect("").await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    conn.tree_disconnect(srv.share()).await.unwrap();
    conn.tree_connect(srv.share()).await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_echoes_in_flight_on_one_connection() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            let data = i.to_le_bytes();
            assert_eq!(c.echo(&data).await.unwrap(), data);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // And with signing, over NetBIOS.
    let signed = connect(&srv, factory(&srv).sign_options(SignOptions::WhenSupported))
        .await
        .unwrap();
    let all = futures_join(signed, 64).await;
    assert_eq!(all, 64);
}

async fn futures_join(conn: smbkit::Connection, n: usize) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let c = conn.clone();
        set.spawn(async move { c.echo(b"x").await.is_ok() });
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        ok += r.unwrap() as usize;
    }
    ok
}

#[tokio::test]
async fn operations_after_close_are_not_connected() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await.unwrap();
    let clone = conn.clone();
    conn.close().await.unwrap();
    conn.close().await.unwrap();
    assert!(matches!(clone.echo(b"x").await, Err(Error::NotConnected)));
    assert!(matches!(
        clone.tree_connect("share").await,
        Err(Error::NotConnected)
    ));
}

#[tokio::test]
async fn killed_server_gives_not_connected_promptly() {
    let mut srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await.unwrap();
    conn.echo(b"x").await.unwrap();
    srv.kill();
    let start = Instant::now();
    let err = conn
        .with_timeout(Duration::from_secs(5))
        .echo(b"x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotConnected),
        "expected NotConnected, got {err:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!conn.is_ready());
}

#[tokio::test]
async fn stalled_server_times_out_precisely() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await.unwrap();
    conn.echo(b"x").await.unwrap();
    srv.pause();
    let start = Instant::now();
    let err = conn
        .with_timeout(Duration::from_millis(500))
        .echo(b"x")
        .await
        .unwrap_err();
    let took = start.elapsed();
    srv.resume();
    assert!(err.is_timeout(), "{err:?}");
    assert!(took >= Duration::from_millis(490), "{took:?}");
    assert!(
        took < Duration::from_millis(600),
        "timed out after {took:?}, not by 600 ms"
    );
    // The connection is still usable once the server answers again.
    conn.echo(b"x").await.unwrap();
}

#[tokio::test]
async fn smb2_only_against_an_smb1_only_server_fails_clearly() {
    let srv = server(Profile::Smb1Only);
    let err = connect(&srv, factory(&srv).protocol(Protocol::Smb2Only))
        .await
        .unwrap_err();
    assert!(!matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn anonymous_session() {
    let srv = server(Profile::Modern);
    let f = SmbProtocolFactory::new("", "", "ME", "SRV").unwrap();
    let conn = connect(&srv, f.direct_tcp(true)).await.unwrap();
    assert!(conn.server_info().is_anonymous || conn.server_info().is_guest);
    assert!(!conn.server_info().signing);
    conn.echo(b"anon").await.unwrap();
}

#[tokio::test]
async fn connect_timeout_against_a_silent_listener() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let f = SmbProtocolFactory::new("u", "p", "ME", "SRV")
        .unwrap()
        .connect_timeout(Duration::from_millis(300));
    let start = Instant::now();
    let err = f.connect(("127.0.0.1", port)).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(start.elapsed() < Duration::from_millis(400));
    drop(listener);
}

#[test]
fn bad_names_are_rejected_with_a_clear_message() {
    let err = SmbProtocolFactory::new("u", "p", "ABCDEFGHIJKLMNOPQ", "SRV").unwrap_err();
    assert!(err.to_string().contains("my_name"), "{err}");
    assert!(err.to_string().contains("15"), "{err}");
    let err = SmbProtocolFactory::new("u", "p", "ME", "BAD NAME").unwrap_err();
    assert!(err.to_string().contains("remote_name"), "{err}");
    for bad in ["a/b", "a*b", "a?b", "a|b", "a+b", "", "a\"b", "a:b", "a;b"] {
        assert!(
            SmbProtocolFactory::new("u", "p", bad, "SRV").is_err(),
            "{bad:?}"
        );
    }
}

/// SMB 3.0 and 3.0.2 validate the negotiation with a signed
/// FSCTL_VALIDATE_NEGOTIATE_INFO after the first tree connect, signed or
/// not, encrypted or not; 3.1.1 relies on its preauth hash instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiation_is_validated_on_smb_3_0_and_3_0_2() {
    use smbkit::Encryption;
    use smbkit_testserver::ExtraConfig;
    // Over NetBIOS framing 3.0.2 is the newest dialect offered.
    let srv = server(Profile::Modern);
    for (sign, encryption) in [
        (SignOptions::WhenRequired, Encryption::IfRequired),
        (SignOptions::WhenSupported, Encryption::IfRequired),
        (SignOptions::WhenRequired, Encryption::Required),
    ] {
        let conn = factory(&srv)
            .direct_tcp(false)
            .sign_options(sign)
            .encryption(encryption)
            .connect((srv.host(), srv.port()))
            .await
            .unwrap();
        assert_eq!(conn.dialect(), Dialect::SMB3_0_2);
        assert!(!conn.is_negotiate_validated(), "not before a tree connect");
        conn.list_path("share", "/").await.unwrap();
        assert!(conn.is_negotiate_validated(), "{sign:?} {encryption:?}");
        conn.echo(b"still fine").await.unwrap();
    }
    // 3.1.1: nothing to validate.
    let conn = factory(&srv)
        .direct_tcp(true)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    conn.list_path("share", "/").await.unwrap();
    assert!(!conn.is_negotiate_validated());

    // A server limited to 3.0.
    let srv = TestServer::start_with(
        Profile::Modern,
        ExtraConfig {
            global: "server max protocol = SMB3_00\n".into(),
            sections: String::new(),
        },
    )
    .unwrap();
    let conn = factory(&srv)
        .direct_tcp(true)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    assert_eq!(conn.dialect(), Dialect::SMB3_0);
    conn.list_shares().await.unwrap();
    assert!(conn.is_negotiate_validated());
}

/// A stream the caller brings: here an in-memory duplex whose other end a
/// task bridges to the server, as a proxy tunnel or another transport
/// would. Both framings, and SMB1 over it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_stream_over_an_in_memory_duplex() {
    async fn bridged(port: u16) -> tokio::io::DuplexStream {
        let (ours, mut theirs) = tokio::io::duplex(256 * 1024);
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = tokio::io::copy_bidirectional(&mut theirs, &mut tcp).await;
        });
        ours
    }
    let srv = server(Profile::Modern);
    let direct = factory(&srv)
        .direct_tcp(true)
        .connect_stream(bridged(srv.port()).await)
        .await
        .unwrap();
    assert_eq!(direct.dialect(), Dialect::SMB3_1_1);
    assert_eq!(
        direct.echo(b"through a pipe").await.unwrap(),
        b"through a pipe"
    );
    let listed = direct.list_path("share", "/").await.unwrap();
    assert!(listed.iter().any(|f| f.filename == "."), "{listed:?}");
    direct.close().await.unwrap();

    // NetBIOS framing: the session request goes over the caller's stream.
    let nbss = factory(&srv)
        .connect_stream(bridged(srv.port()).await)
        .await
        .unwrap();
    assert_eq!(nbss.dialect(), Dialect::SMB3_0_2);
    nbss.echo(b"x").await.unwrap();

    let legacy = server(Profile::Smb1Only);
    let smb1 = factory(&legacy)
        .connect_stream(bridged(legacy.port()).await)
        .await
        .unwrap();
    assert!(!smb1.is_using_smb2());
    smb1.echo(b"old").await.unwrap();
    let data = vec![7u8; 300_000];
    smb1.store_file("share", "/piped.bin", &mut &data[..])
        .await
        .unwrap();
    let mut back = Vec::new();
    smb1.retrieve_file("share", "/piped.bin", &mut back)
        .await
        .unwrap();
    assert!(back == data);
}

/// A stream that is closed during the handshake fails cleanly.
#[tokio::test]
async fn connect_stream_closed_during_the_handshake_is_not_connected() {
    let (ours, theirs) = tokio::io::duplex(1024);
    drop(theirs);
    let srv = server(Profile::Modern);
    let e = factory(&srv)
        .direct_tcp(true)
        .connect_stream(ours)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotConnected | Error::Io(_)), "{e:?}");
}
