//! Behaviour that real Samba cannot be made to show (it accepts any called
//! name and never misbehaves), against scripted peers on loopback.

use std::time::Duration;

use smbkit::{Error, SmbProtocolFactory};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Starts a peer that reads one NetBIOS frame and answers with `reply`, then
/// keeps the socket open for a while.
async fn peer(reply: Vec<u8>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut h = [0u8; 4];
        s.read_exact(&mut h).await.unwrap();
        let len = ((h[1] as usize & 1) << 16) | ((h[2] as usize) << 8) | h[3] as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.unwrap();
        s.write_all(&reply).await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    port
}

fn factory() -> SmbProtocolFactory {
    SmbProtocolFactory::new("user", "pw", "CLIENT", "WRONGNAME")
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn negative_session_response_names_the_nbss_error() {
    // 0x83 NEGATIVE SESSION RESPONSE, length 1, error 0x82 "called name not present".
    let port = peer(vec![0x83, 0, 0, 1, 0x82]).await;
    let err = factory().connect(("127.0.0.1", port)).await.unwrap_err();
    match &err {
        Error::NetbiosRejected {
            called_name,
            reason,
        } => {
            assert_eq!(called_name, "WRONGNAME");
            assert_eq!(reason.0, 0x82);
        }
        e => panic!("expected NetbiosRejected, got {e:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("WRONGNAME") && msg.contains("not present") && msg.contains("0x82"),
        "{msg}"
    );
}

#[tokio::test]
async fn retarget_response_is_refused_clearly() {
    let port = peer(vec![0x84, 0, 0, 6, 10, 0, 0, 1, 0x01, 0xBD]).await;
    let err = factory().connect(("127.0.0.1", port)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Unsupported(smbkit::Unsupported::NetbiosRetarget { addr, port: 445 })
                if addr.octets() == [10, 0, 0, 1]
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("retarget"), "{err}");
}

#[tokio::test]
async fn oversized_frame_is_an_error_not_an_allocation() {
    // Positive session response, then a frame header announcing 16 MiB+ of
    // SMB data that never comes.
    let port = peer(vec![0x82, 0, 0, 0, 0x00, 0xFF, 0xFF, 0xFF]).await;
    let err = factory().connect(("127.0.0.1", port)).await.unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn garbage_negotiate_reply_is_a_protocol_error() {
    let mut reply = vec![0x82, 0, 0, 0];
    reply.extend_from_slice(&[0x00, 0, 0, 12]);
    reply.extend_from_slice(b"\xFESMBgarbage!");
    let port = peer(reply).await;
    let err = factory().connect(("127.0.0.1", port)).await.unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn peer_closing_during_negotiate_is_not_connected() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        drop(s);
    });
    let err = factory()
        .direct_tcp(true)
        .connect(("127.0.0.1", port))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotConnected | Error::Io(_)), "{err:?}");
}
