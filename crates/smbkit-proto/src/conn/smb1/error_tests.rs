//! The typed errors of the SMB1 connection, each provoked against a
//! scripted server: the exact variant and its fields, whether the
//! connection closes, what the other requests get, and where `source()`
//! leads.

use std::error::Error;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::tests::session_setup::{challenge, setup_reply};
use super::tests::{
    completed, conn, echo, empty, events, reply, req, take, trans_part, FLAGS2, LIMIT,
};
use super::*;
use crate::conn::smb2::handshake::SigningPolicy;
use crate::conn::{AuthStage, HandshakeStep, HandshakeViolation};
use crate::ntlm::{Credentials, NtlmError, NtlmOptions};
use crate::smb1::negotiate::security_mode::{
    SECURITY_SIGNATURES_ENABLED, SECURITY_SIGNATURES_REQUIRED,
};
use crate::smb1::negotiate::{capabilities, NegotiateResponse};
use crate::smb1::signing::Smb1Signer;

// ---------------------------------------------------------------------------
// Scripting.

/// The server's NEGOTIATE response: extended security, or a challenge for
/// NTLM responses in the password fields.
fn negotiate(security_mode: u8, extended: bool, challenge: Option<[u8; 8]>) -> NegotiateResponse {
    let mut caps = capabilities::UNICODE | capabilities::NT_STATUS;
    if extended {
        caps |= capabilities::EXTENDED_SECURITY;
    }
    NegotiateResponse {
        dialect_index: 0,
        security_mode,
        max_mpx_count: 10,
        max_number_vcs: 1,
        max_buffer_size: 65536,
        max_raw_size: 65536,
        session_key: 0,
        capabilities: caps,
        system_time: 0,
        server_time_zone: 0,
        challenge,
        server_guid: extended.then_some([3; 16]),
        security_blob: Vec::new(),
        domain_name: None,
        server_name: None,
    }
}

/// A connection running its session setup against `negotiate` for `user`.
fn setting_up(negotiate: NegotiateResponse, user: &str, now: Instant) -> Smb1Connection {
    let extended = negotiate.capabilities & capabilities::EXTENDED_SECURITY != 0;
    Smb1Connection::with_session_setup(
        Smb1Config {
            max_mpx: 10,
            max_buffer: 65536,
            flags2: if extended {
                FLAGS2 | flags2::EXTENDED_SECURITY
            } else {
                FLAGS2
            },
            first_mid: 1,
        },
        Smb1Setup {
            negotiate,
            credentials: Credentials::new(user, "CORP", "secret"),
            ntlm: NtlmOptions::default(),
            kerberos: None,
            signing: SigningPolicy::WhenRequired,
            max_buffer_size: 61440,
            limit: Duration::from_secs(30),
        },
        now,
    )
}

/// The one SESSION_SETUP_ANDX the client has sent.
fn take_setup(c: &mut Smb1Connection) -> Header {
    let mut out = take(c);
    assert_eq!(out.len(), 1);
    let h = out.remove(0).0;
    assert_eq!(h.command, command::SESSION_SETUP_ANDX);
    h
}

/// An extended-security session setup for `user` waiting for the answer to
/// its first SESSION_SETUP_ANDX or (`challenged`) to its second, after the
/// server's CHALLENGE; the request waiting.
fn at_setup(
    security_mode: u8,
    user: &str,
    challenged: bool,
    now: Instant,
) -> (Smb1Connection, Header) {
    let mut c = setting_up(negotiate(security_mode, true, None), user, now);
    let r = take_setup(&mut c);
    if !challenged {
        return (c, r);
    }
    c.handle_frame(
        Bytes::from(setup_reply(
            &r,
            NtStatus::MORE_PROCESSING_REQUIRED,
            challenge(),
        )),
        now,
    );
    let r = take_setup(&mut c);
    (c, r)
}

/// The reason of the [`Event::Closed`] that ends `ev`.
fn closing(ev: &[Event]) -> &ConnError {
    match ev.last() {
        Some(Event::Closed(e)) => e,
        other => panic!("the connection did not close: {other:?}"),
    }
}

/// Ends a session setup that failed: only [`Event::Closed`] was reported,
/// and the connection takes nothing more; its reason.
fn setup_failed(c: &mut Smb1Connection, now: Instant) -> ConnError {
    let ev = events(c);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = closing(&ev).clone();
    assert!(c.is_closed());
    assert!(!c.is_established());
    assert!(take(c).is_empty());
    assert_not_connected(c, now);
    e
}

/// Checks that the connection takes no more requests.
fn assert_not_connected(c: &mut Smb1Connection, now: Instant) {
    let e = c
        .start(
            req(command::ECHO, 0, now + LIMIT, "echo", |w| {
                w.u8(0).u16(0);
            }),
            now,
        )
        .unwrap_err();
    assert!(matches!(e, ConnError::NotConnected), "{e:?}");
}

/// The violation of the protocol error `e`, checking that `source()` is it.
fn violation(e: &ConnError) -> &Violation {
    let ConnError::Protocol(v) = e else {
        panic!("not a protocol violation: {e:?}")
    };
    let source = e.source().expect("a protocol error has a source");
    assert!(std::ptr::eq(source.downcast_ref::<Violation>().unwrap(), v));
    v
}

/// The unexpected message `e` reports.
fn unexpected(e: &ConnError) -> &UnexpectedMessage {
    match violation(e) {
        Violation::UnexpectedMessage(m) => m,
        v => panic!("not an unexpected message: {v:?}"),
    }
}

// ---------------------------------------------------------------------------
// HandshakeFailed and AuthFailed.

#[test]
fn session_setup_failing_without_a_logon_failure_is_handshake_failed() {
    for challenged in [false, true] {
        for status in [
            NtStatus::INSUFFICIENT_RESOURCES,
            NtStatus::REQUEST_NOT_ACCEPTED,
        ] {
            let now = Instant::now();
            let (mut c, r) = at_setup(0x03, "alice", challenged, now);
            c.handle_frame(Bytes::from(setup_reply(&r, status, Vec::new())), now);
            let e = setup_failed(&mut c, now);
            assert!(
                matches!(e, ConnError::HandshakeFailed { step: HandshakeStep::SessionSetup, status: got } if got == status),
                "{e:?}"
            );
            assert!(e.source().is_none());
        }
    }
}

#[test]
fn refused_logon_is_auth_failed_for_the_configured_user() {
    let check = |e: &ConnError, status: NtStatus| {
        let ConnError::AuthFailed {
            status: got,
            user,
            during,
            hint,
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*got, status);
        assert_eq!(user, "carol");
        assert_eq!(*during, AuthStage::Logon);
        assert_eq!(*hint, None);
        assert!(e.source().is_none());
    };
    for challenged in [false, true] {
        for status in [
            NtStatus::LOGON_FAILURE,
            NtStatus::ACCOUNT_LOCKED_OUT,
            NtStatus::ACCESS_DENIED,
        ] {
            let now = Instant::now();
            let (mut c, r) = at_setup(0x03, "carol", challenged, now);
            c.handle_frame(Bytes::from(setup_reply(&r, status, Vec::new())), now);
            check(&setup_failed(&mut c, now), status);
        }
    }
    // Without extended security: NTLM responses in the password fields.
    let now = Instant::now();
    let mut c = setting_up(negotiate(0x03, false, Some([5; 8])), "carol", now);
    let r = take_setup(&mut c);
    c.handle_frame(
        Bytes::from(reply(&r, NtStatus::WRONG_PASSWORD, |w| {
            w.u8(0).u16(0);
        })),
        now,
    );
    check(&setup_failed(&mut c, now), NtStatus::WRONG_PASSWORD);
}

// ---------------------------------------------------------------------------
// Violation::Handshake, and what stands in for the unreachable ones.

#[test]
fn negotiate_without_extended_security_or_a_challenge_is_no_challenge() {
    let now = Instant::now();
    let mut c = setting_up(negotiate(0x03, false, None), "alice", now);
    let e = setup_failed(&mut c, now);
    assert!(
        matches!(
            violation(&e),
            Violation::Handshake(HandshakeViolation::NoChallenge)
        ),
        "{e:?}"
    );
    assert!(violation(&e).source().is_none());
}

#[test]
fn a_session_setup_that_never_ends_is_an_ntlm_state_error() {
    // TooManyRounds needs a fifth SESSION_SETUP_ANDX; NTLM steps once and
    // refuses a second MORE_PROCESSING_REQUIRED itself.
    let now = Instant::now();
    let (mut c, r) = at_setup(0x03, "alice", true, now);
    c.handle_frame(
        Bytes::from(setup_reply(
            &r,
            NtStatus::MORE_PROCESSING_REQUIRED,
            challenge(),
        )),
        now,
    );
    let e = setup_failed(&mut c, now);
    let Violation::Auth(ntlm) = violation(&e) else {
        panic!("{e:?}")
    };
    assert!(matches!(ntlm, NtlmError::State(_)), "{ntlm:?}");
}

#[test]
fn unusable_spnego_tokens_from_the_server_are_auth_violations() {
    for challenged in [false, true] {
        let now = Instant::now();
        let (mut c, r) = at_setup(0x03, "alice", challenged, now);
        let status = if challenged {
            NtStatus::SUCCESS
        } else {
            NtStatus::MORE_PROCESSING_REQUIRED
        };
        c.handle_frame(
            Bytes::from(setup_reply(&r, status, b"\x30\x03garbage".to_vec())),
            now,
        );
        let e = setup_failed(&mut c, now);
        let v = violation(&e);
        let Violation::Auth(ntlm) = v else {
            panic!("{e:?}")
        };
        assert!(matches!(ntlm, NtlmError::Decode(_)), "{ntlm:?}");
        let source = v.source().expect("Violation::Auth has a source");
        assert!(std::ptr::eq(
            source.downcast_ref::<NtlmError>().unwrap(),
            ntlm
        ));
    }
}

#[test]
fn a_reply_of_another_command_during_the_session_setup_is_a_wrong_command() {
    for challenged in [false, true] {
        let now = Instant::now();
        let (mut c, r) = at_setup(0x03, "alice", challenged, now);
        let mut h = r.clone();
        h.command = command::ECHO;
        c.handle_frame(Bytes::from(empty(&h)), now);
        let e = setup_failed(&mut c, now);
        assert_eq!(
            unexpected(&e),
            &UnexpectedMessage::WrongCommand {
                request: CommandCode::Smb1(command::SESSION_SETUP_ANDX),
                response: CommandCode::Smb1(command::ECHO),
                message_id: u64::from(r.mid),
            }
        );
    }
}

// ---------------------------------------------------------------------------
// Violation::UnexpectedMessage.

#[test]
fn a_frame_that_is_not_smb1_closes_the_connection() {
    let smb2 = b"\xFESMB\x40\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0".to_vec();
    for frame in [smb2, b"\xFFSM".to_vec(), Vec::new()] {
        let now = Instant::now();
        let mut c = conn(10, 0);
        let a = echo(&mut c, now);
        let b = echo(&mut c, now);
        assert_eq!(take(&mut c).len(), 2);
        c.handle_frame(Bytes::from(frame.clone()), now);
        let ev = events(&mut c);
        assert_eq!(unexpected(closing(&ev)), &UnexpectedMessage::NotSmb1);
        let done = completed(&ev);
        assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), [a, b]);
        // The requests in flight learn only that the connection is gone.
        for d in &done {
            assert!(matches!(d.1, Err(ConnError::NotConnected)), "{:?}", d.1);
        }
        assert!(c.is_closed());
        assert_not_connected(&mut c, now);
        // During the session setup too.
        let (mut c, _) = at_setup(0x03, "alice", false, now);
        c.handle_frame(Bytes::from(frame), now);
        let e = setup_failed(&mut c, now);
        assert_eq!(unexpected(&e), &UnexpectedMessage::NotSmb1);
    }
}

#[test]
fn a_reply_of_another_command_fails_its_request_only() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let id = echo(&mut c, now);
    let sent = take(&mut c);
    let mut h = sent[0].0.clone();
    h.command = command::CLOSE;
    c.handle_frame(Bytes::from(empty(&h)), now);
    let ev = events(&mut c);
    let done = completed(&ev);
    assert_eq!(done.len(), 1, "{ev:?}");
    assert_eq!(done[0].0, id);
    assert_eq!(
        unexpected(done[0].1.as_ref().unwrap_err()),
        &UnexpectedMessage::WrongCommand {
            request: CommandCode::Smb1(command::ECHO),
            response: CommandCode::Smb1(command::CLOSE),
            message_id: u64::from(sent[0].0.mid),
        }
    );
    assert!(!c.is_closed());
    assert_eq!(c.slots_in_use(), 0);
    echo(&mut c, now);
    let next = take(&mut c);
    c.handle_frame(Bytes::from(empty(&next[0].0)), now);
    assert!(completed(&events(&mut c))[0].1.is_ok());
}

#[test]
fn an_empty_transaction_part_fails_its_request_only() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let mut r = req(command::TRANSACTION2, 1, now + LIMIT, "find", |w| {
        w.u8(0).u16(0);
    });
    r.kind = Kind::Trans { limit: 1 << 16 };
    let id = c.start(r, now).unwrap();
    let h = take(&mut c).remove(0).0;
    c.handle_frame(Bytes::from(trans_part(&h, 40, 0, &[7; 10])), now);
    assert!(events(&mut c).is_empty(), "the first part is taken");
    c.handle_frame(Bytes::from(trans_part(&h, 40, 10, &[])), now);
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert_eq!(
        unexpected(done[0].1.as_ref().unwrap_err()),
        &UnexpectedMessage::EmptyTransactionPart
    );
    assert!(!c.is_closed());
    assert_eq!(c.slots_in_use(), 0);
}

// ---------------------------------------------------------------------------
// Violation::BadSignature.

#[test]
fn a_bad_signature_names_the_smb1_command_and_closes() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let key = vec![7u8; 16];
    c.activate_signing(Smb1Signer::new(key.clone()), 2);
    let server = Smb1Signer::new(key);
    let a = echo(&mut c, now);
    let b = echo(&mut c, now);
    let sent = take(&mut c);
    let mut bad = empty(&sent[0].0);
    server.sign(&mut bad, 2);
    c.handle_frame(Bytes::from(bad), now);
    let ev = events(&mut c);
    let want = |e: &ConnError| {
        matches!(
            violation(e),
            Violation::BadSignature {
                command: CommandCode::Smb1(command::ECHO)
            }
        )
    };
    assert!(want(closing(&ev)), "{ev:?}");
    let done = completed(&ev);
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), [a, b]);
    assert!(want(done[0].1.as_ref().unwrap_err()), "{:?}", done[0].1);
    assert!(
        matches!(done[1].1, Err(ConnError::NotConnected)),
        "{:?}",
        done[1].1
    );
    assert_not_connected(&mut c, now);
}

#[test]
fn a_badly_signed_final_session_setup_answer_is_a_bad_signature() {
    let now = Instant::now();
    let (mut c, r) = at_setup(
        SECURITY_SIGNATURES_ENABLED | SECURITY_SIGNATURES_REQUIRED | 0x03,
        "alice",
        true,
        now,
    );
    let mut m = setup_reply(&r, NtStatus::SUCCESS, Vec::new());
    let mut h = Header::decode(&m).unwrap();
    h.flags2 |= flags2::SECURITY_SIGNATURE;
    h.security_features = *b"12345678";
    let mut w = Writer::new();
    h.encode(&mut w);
    m[..HEADER_LEN].copy_from_slice(w.as_slice());
    c.handle_frame(Bytes::from(m), now);
    let e = setup_failed(&mut c, now);
    assert!(
        matches!(
            violation(&e),
            Violation::BadSignature {
                command: CommandCode::Smb1(command::SESSION_SETUP_ANDX)
            }
        ),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------
// InvalidRequest.

/// Checks that `e` is `InvalidRequest(want)`, its source that.
fn assert_invalid(e: &ConnError, want: InvalidRequest) {
    let ConnError::InvalidRequest(got) = e else {
        panic!("not an invalid request: {e:?}")
    };
    assert_eq!(got, &want);
    let source = e.source().expect("InvalidRequest has a source");
    assert_eq!(source.downcast_ref::<InvalidRequest>(), Some(&want));
}

#[test]
fn a_request_during_the_session_setup_is_refused() {
    let now = Instant::now();
    let (mut c, r) = at_setup(0x03, "alice", false, now);
    let e = c
        .start(
            req(command::ECHO, 0, now + LIMIT, "echo", |w| {
                w.u8(0).u16(0);
            }),
            now,
        )
        .unwrap_err();
    assert_invalid(&e, InvalidRequest::Authenticating);
    assert!(take(&mut c).is_empty());
    // The session setup goes on undisturbed.
    c.handle_frame(
        Bytes::from(setup_reply(
            &r,
            NtStatus::MORE_PROCESSING_REQUIRED,
            challenge(),
        )),
        now,
    );
    let r = take_setup(&mut c);
    c.handle_frame(
        Bytes::from(setup_reply(&r, NtStatus::SUCCESS, Vec::new())),
        now,
    );
    assert!(matches!(events(&mut c).as_slice(), [Event::Established(_)]));
    echo(&mut c, now);
}

#[test]
fn a_request_without_room_for_its_header_is_refused() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let short = || Request {
        command: command::ECHO,
        tid: 0,
        msg: vec![0; HEADER_LEN - 1],
        tail: Bytes::new(),
        kind: Kind::One,
        deadline: now + LIMIT,
        operation: "short",
    };
    assert_invalid(
        &c.start(short(), now).unwrap_err(),
        InvalidRequest::NoRoomForHeader,
    );
    assert_invalid(
        &c.start_detached(short(), now).unwrap_err(),
        InvalidRequest::NoRoomForHeader,
    );
    assert!(!c.is_closed());
    assert_eq!(c.requests_outstanding(), 0);
    assert!(take(&mut c).is_empty());
    assert!(events(&mut c).is_empty());
    echo(&mut c, now);
    assert_eq!(take(&mut c).len(), 1);
}
