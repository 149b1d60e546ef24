//! SMB1 behaviour that real Samba cannot be made to show, against a
//! scripted SMB1 server on loopback: a signed session after a logon without
//! extended security (Samba never signs those), and responses whose
//! signature does not verify.

use std::time::Duration;

use smbkit::{Error, Protocol, SmbProtocolFactory};
use smbkit_proto::smb1::echo::{EchoRequest, EchoResponse};
use smbkit_proto::smb1::header::{command, flags, flags2, Header};
use smbkit_proto::smb1::negotiate::{
    capabilities as caps, decode_negotiate_request, security_mode, NegotiateResponse, NT_LM_0_12,
};
use smbkit_proto::smb1::session_setup::{
    PlainLogon, SessionSetupRequestNtlm, SessionSetupResponseNtlm,
};
use smbkit_proto::smb1::signing::Smb1Signer;
use smbkit_proto::{NtStatus, Writer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const USER: &str = "alice";
const PASSWORD: &str = "Secret-1";
const DOMAIN: &str = "WORKGROUP";
const CHALLENGE: [u8; 8] = [9, 8, 7, 6, 5, 4, 3, 2];

/// How the scripted server answers an ECHO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Signed with the right sequence number.
    Good,
    /// Signed with the sequence number of another message.
    WrongSequence,
    /// With the signature field zeroed.
    Unsigned,
    /// Not at all.
    Silent,
}

/// What the scripted server saw.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A request whose signature verified with this sequence number.
    Signed(u32),
    /// A request whose signature did not verify.
    BadSignature(u8),
    /// The client closed the connection.
    Closed,
}

async fn read_msg(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.ok()?;
    let len = ((h[1] as usize) << 16) | ((h[2] as usize) << 8) | h[3] as usize;
    let mut msg = vec![0u8; len];
    s.read_exact(&mut msg).await.ok()?;
    Some(msg)
}

async fn write_msg(s: &mut TcpStream, msg: &[u8]) {
    let len = msg.len();
    let mut out = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    out.extend_from_slice(msg);
    s.write_all(&out).await.unwrap();
}

fn reply_header(req: &Header, uid: u16) -> Header {
    Header {
        command: req.command,
        status: NtStatus::SUCCESS,
        flags: flags::REPLY,
        flags2: flags2::UNICODE | flags2::NT_STATUS | flags2::LONG_NAMES,
        pid_high: 0,
        security_features: [0; 8],
        tid: req.tid,
        pid_low: req.pid_low,
        uid,
        mid: req.mid,
    }
}

/// The logon the client must have sent (`v2`: NTLMv2, whose client nonce
/// and time are taken from the response itself).
fn expected_logon(v2: bool, req: &SessionSetupRequestNtlm) -> PlainLogon {
    if !v2 {
        return PlainLogon::ntlm_v1(PASSWORD, &CHALLENGE);
    }
    // NTProofStr (16) then the NTLMv2_CLIENT_CHALLENGE: RespType,
    // HiRespType, 6 reserved bytes, TimeStamp (8), ChallengeFromClient (8).
    let blob = &req.unicode_password[16..];
    let time = u64::from_le_bytes(blob[8..16].try_into().unwrap());
    let client: [u8; 8] = blob[16..24].try_into().unwrap();
    PlainLogon::ntlm_v2(PASSWORD, USER, DOMAIN, &CHALLENGE, &client, time)
}

/// Starts a server that negotiates NT LM 0.12 without extended security and
/// requiring signing, checks the client's NTLM (`v2`: NTLMv2) logon, signs
/// its response with sequence number 1 and then answers the ECHOs in turn
/// as `answers` says (further ones `Good`). Reports what it sees.
async fn scripted_server(v2: bool, answers: Vec<Answer>) -> (u16, mpsc::UnboundedReceiver<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        // NEGOTIATE.
        let msg = read_msg(&mut s).await.unwrap();
        let req = Header::decode(&msg).unwrap();
        let dialects = decode_negotiate_request(&msg).unwrap();
        let index = dialects.iter().position(|d| d == NT_LM_0_12).unwrap();
        let neg = NegotiateResponse {
            dialect_index: index as u16,
            security_mode: security_mode::USER_SECURITY
                | security_mode::ENCRYPT_PASSWORDS
                | security_mode::SECURITY_SIGNATURES_ENABLED
                | security_mode::SECURITY_SIGNATURES_REQUIRED,
            max_mpx_count: 50,
            max_number_vcs: 1,
            max_buffer_size: 16644,
            max_raw_size: 65536,
            session_key: 0,
            capabilities: caps::UNICODE | caps::NT_SMBS | caps::NT_STATUS | caps::LARGE_FILES,
            system_time: 0,
            server_time_zone: 0,
            challenge: Some(CHALLENGE),
            server_guid: None,
            security_blob: Vec::new(),
            domain_name: Some(DOMAIN.into()),
            server_name: Some("PEER".into()),
        };
        let mut w = Writer::new();
        reply_header(&req, 0).encode(&mut w);
        neg.encode(&mut w, true).unwrap();
        write_msg(&mut s, w.as_slice()).await;

        // SESSION_SETUP_ANDX: check the responses, sign the answer with 1.
        let msg = read_msg(&mut s).await.unwrap();
        let req = Header::decode(&msg).unwrap();
        assert_eq!(req.command, command::SESSION_SETUP_ANDX);
        assert_ne!(
            req.flags2 & flags2::SECURITY_SIGNATURE,
            0,
            "a client that will sign says so"
        );
        let setup = SessionSetupRequestNtlm::decode(&msg).unwrap();
        let logon = expected_logon(v2, &setup);
        assert_eq!(setup.unicode_password, logon.unicode_password);
        assert_eq!(setup.oem_password, logon.oem_password);
        let signer: Smb1Signer = logon.signer();
        let mut w = Writer::new();
        reply_header(&req, 100).encode(&mut w);
        SessionSetupResponseNtlm {
            action: 0,
            native_os: "Scripted".into(),
            native_lanman: "Scripted".into(),
            primary_domain: DOMAIN.into(),
        }
        .encode(&mut w, true)
        .unwrap();
        let mut out = w.into_vec();
        signer.sign(&mut out, 1);
        write_msg(&mut s, &out).await;

        // Requests from sequence number 2 on.
        let mut seq = 2u32;
        let mut answers = answers.into_iter();
        loop {
            let Some(msg) = read_msg(&mut s).await else {
                let _ = tx.send(Seen::Closed);
                return;
            };
            let req = Header::decode(&msg).unwrap();
            if signer.verify(&msg, seq) {
                let _ = tx.send(Seen::Signed(seq));
            } else {
                let _ = tx.send(Seen::BadSignature(req.command));
            }
            let own = seq + 1;
            seq += 2;
            if req.command != command::ECHO {
                continue;
            }
            let echo = EchoRequest::decode(&msg).unwrap();
            let mut w = Writer::new();
            reply_header(&req, 100).encode(&mut w);
            EchoResponse {
                sequence_number: 1,
                data: echo.data,
            }
            .encode(&mut w)
            .unwrap();
            let mut out = w.into_vec();
            match answers.next().unwrap_or(Answer::Good) {
                Answer::Good => signer.sign(&mut out, own),
                Answer::WrongSequence => signer.sign(&mut out, own + 2),
                Answer::Unsigned => {}
                Answer::Silent => continue,
            }
            write_msg(&mut s, &out).await;
        }
    });
    (port, rx)
}

fn factory(v2: bool) -> SmbProtocolFactory {
    SmbProtocolFactory::new(USER, PASSWORD, "CLIENT", "PEER")
        .unwrap()
        .domain(DOMAIN)
        .protocol(Protocol::Smb1Only)
        .extended_security(false)
        .use_ntlm_v2(v2)
        .direct_tcp(true)
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("the scripted server reports in time")
        .expect("the scripted server is running")
}

#[tokio::test]
async fn signed_session_after_a_logon_without_extended_security() {
    for v2 in [false, true] {
        let (port, mut seen) = scripted_server(v2, Vec::new()).await;
        let conn = factory(v2)
            .connect(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("v2={v2}: {e}"));
        assert!(conn.server_info().signing, "v2={v2}");
        for (i, expected_seq) in [2u32, 4, 6].into_iter().enumerate() {
            let data = [i as u8; 3];
            assert_eq!(conn.echo(&data).await.unwrap(), data, "v2={v2}");
            assert_eq!(next(&mut seen).await, Seen::Signed(expected_seq), "v2={v2}");
        }
    }
}

#[tokio::test]
async fn a_bad_signature_fails_the_request_and_closes_the_connection() {
    for answer in [Answer::WrongSequence, Answer::Unsigned] {
        let (port, mut seen) = scripted_server(true, vec![Answer::Good, answer]).await;
        let conn = factory(true).connect(("127.0.0.1", port)).await.unwrap();
        assert_eq!(conn.echo(b"one").await.unwrap(), b"one");
        assert_eq!(next(&mut seen).await, Seen::Signed(2));
        // The second response does not verify: the data is not delivered.
        let err = conn.echo(b"two").await.unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Protocol(smbkit::ProtocolError::BadSignature { .. })
            ),
            "{answer:?}: {err:?}"
        );
        assert!(err.to_string().contains("signature"), "{err}");
        assert_eq!(next(&mut seen).await, Seen::Signed(4));
        // Every message after it is suspect: the connection is closed.
        assert_eq!(next(&mut seen).await, Seen::Closed, "{answer:?}");
        assert!(matches!(
            conn.echo(b"three").await,
            Err(Error::NotConnected)
        ));
    }
}

#[tokio::test]
async fn a_bad_signature_fails_the_other_requests_in_flight_at_once() {
    // The first ECHO is never answered; the second is answered with a bad
    // signature: the first fails as soon as the connection closes, not at
    // its time limit.
    let (port, mut seen) =
        scripted_server(false, vec![Answer::Silent, Answer::WrongSequence]).await;
    let conn = factory(false).connect(("127.0.0.1", port)).await.unwrap();
    let c = conn.clone();
    let first = tokio::spawn(async move { c.echo(b"first").await });
    assert_eq!(next(&mut seen).await, Seen::Signed(2));
    let started = tokio::time::Instant::now();
    let second = conn.echo(b"second").await.unwrap_err();
    assert!(
        matches!(
            &second,
            Error::Protocol(smbkit::ProtocolError::BadSignature { .. })
        ),
        "{second:?}"
    );
    let first = first.await.unwrap().unwrap_err();
    assert!(matches!(first, Error::NotConnected), "{first:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
