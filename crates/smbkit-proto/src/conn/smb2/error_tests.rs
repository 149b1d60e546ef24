//! The typed errors of the SMB2 connection, each provoked against the
//! scripted server of the simulation tier: the exact variant and its
//! fields, whether the connection closes, what the other requests get, and
//! where `source()` leads.

use std::error::Error;
use std::time::Duration;

use bytes::Bytes;

use super::tests::{
    accept_response, assert_closed, challenge_response, completed, completions_and_close, config,
    echo, echo_answered, echo_response, error_body, established, events, expired, feed,
    negotiate_response, part, response, signing_session, take_setup, Clock, Seen, Server, LIMIT,
    SESSION,
};
use super::*;
use crate::conn::{AuthHint, AuthStage, HandshakeStep, HandshakeViolation, NoEncryption};
use crate::crypto::{Cipher, DecryptError};
use crate::ntlm::{Credentials, NtlmError};
use crate::smb2::header::flags;
use crate::smb2::negotiate::{cipher, hash_algorithm, NegotiateContext, NegotiateResponse};
use crate::smb2::session_setup::SessionSetupResponse;
use crate::smb2::EchoRequest;
use crate::spnego::{NegState, NegTokenResp};

// ---------------------------------------------------------------------------
// Scripting.

/// The reason of the [`Event::Closed`] that ends `ev`.
fn closing(ev: &[Event]) -> &ConnError {
    match ev.last() {
        Some(Event::Closed(e)) => e,
        other => panic!("the connection did not close: {other:?}"),
    }
}

/// The violation of the protocol error `e`, checking that `source()` is it.
fn violation(e: &ConnError) -> &Violation {
    let ConnError::Protocol(v) = e else {
        panic!("not a protocol violation: {e:?}")
    };
    let source = e.source().expect("a protocol error has a source");
    let source = source
        .downcast_ref::<Violation>()
        .expect("the source of a protocol error is its violation");
    assert!(std::ptr::eq(source, v));
    v
}

/// The cause of the [`ConnError::Closed`] `e`, checking that `source()` is
/// it.
fn closed_cause(e: &ConnError) -> &ConnError {
    let ConnError::Closed { cause } = e else {
        panic!("not Closed: {e:?}")
    };
    let source = e.source().expect("Closed has a source");
    let source = source
        .downcast_ref::<ConnError>()
        .or_else(|| source.downcast_ref::<Box<ConnError>>().map(|b| &**b))
        .expect("the source of Closed is its cause");
    assert!(std::ptr::eq(source, &**cause));
    assert_eq!(e.source().unwrap().to_string(), cause.to_string());
    cause
}

/// Ends a handshake that failed: only [`Event::Closed`] was reported, and
/// the connection takes nothing more; its reason.
fn handshake_failed(c: &mut Smb2Connection, clock: &Clock) -> ConnError {
    let ev = events(c);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = closing(&ev).clone();
    assert!(!c.is_established());
    assert!(c.poll_timeout().is_none());
    assert_closed(c, clock);
    e
}

/// A connection of `config` and the NEGOTIATE it sent.
fn negotiating(config: Smb2Config, clock: &Clock, s: &Server) -> (Smb2Connection, Seen) {
    let mut c = Smb2Connection::new(config, clock.now());
    let mut out = s.take(&mut c);
    assert_eq!(out.len(), 1);
    let neg = out.remove(0);
    assert_eq!(neg.header.command, Command::NEGOTIATE);
    (c, neg)
}

/// The server's NEGOTIATE response body.
fn negotiate_body(
    dialect: Dialect,
    capabilities: u32,
    contexts: Vec<NegotiateContext>,
) -> impl FnOnce(&mut Writer) {
    move |w| {
        NegotiateResponse {
            security_mode: crate::smb2::negotiate::security_mode::SIGNING_ENABLED,
            dialect,
            server_guid: [7; 16],
            capabilities,
            max_transact_size: 65536,
            max_read_size: 65536,
            max_write_size: 65536,
            system_time: 0,
            server_start_time: 0,
            security_buffer: Vec::new(),
            contexts,
        }
        .encode(w)
        .unwrap()
    }
}

/// The server's successful answer to the NEGOTIATE `req`.
fn negotiated_as(
    req: &Seen,
    dialect: Dialect,
    capabilities: u32,
    contexts: Vec<NegotiateContext>,
) -> Vec<u8> {
    response(
        &req.header,
        NtStatus::SUCCESS,
        32,
        negotiate_body(dialect, capabilities, contexts),
    )
}

/// The SHA-512 preauth integrity context of a 3.1.1 answer.
fn preauth() -> NegotiateContext {
    NegotiateContext::PreauthIntegrity {
        hash_algorithms: vec![hash_algorithm::SHA512],
        salt: vec![3; 32],
    }
}

/// An encryption context naming `ids`.
fn ciphers(ids: &[u16]) -> NegotiateContext {
    NegotiateContext::Encryption {
        ciphers: ids.to_vec(),
    }
}

/// A connection whose NEGOTIATE `answer` answered, and the first
/// SESSION_SETUP it then sent.
fn setting_up(
    config: Smb2Config,
    clock: &Clock,
    s: &Server,
    answer: impl FnOnce(&Seen) -> Vec<u8>,
) -> (Smb2Connection, Seen) {
    let (mut c, neg) = negotiating(config, clock, s);
    feed(&mut c, &answer(&neg), clock.now());
    let mut out = s.take(&mut c);
    assert_eq!(out.len(), 1, "{:?}", events(&mut c));
    let setup = out.remove(0);
    assert_eq!(setup.header.command, Command::SESSION_SETUP);
    (c, setup)
}

/// An SMB 2.1 handshake of `config` waiting for the answer to its first
/// SESSION_SETUP, or (`challenged`) to its second, after the server's
/// CHALLENGE.
fn at_setup(
    config: Smb2Config,
    challenged: bool,
    clock: &Clock,
    s: &Server,
) -> (Smb2Connection, Seen) {
    let (mut c, setup) = setting_up(config, clock, s, negotiate_response);
    if !challenged {
        return (c, setup);
    }
    feed(&mut c, &challenge_response(&setup), clock.now());
    let mut out = s.take(&mut c);
    assert_eq!(out.len(), 1);
    (c, out.remove(0))
}

/// A SESSION_SETUP answer to `req` with `status` carrying `token`.
fn setup_answer(req: &Seen, status: NtStatus, token: Vec<u8>) -> Vec<u8> {
    let mut h = req.header.clone();
    h.session_id = SESSION;
    response(&h, status, 32, |w| {
        SessionSetupResponse {
            session_flags: 0,
            security_buffer: token,
        }
        .encode(w)
        .unwrap()
    })
}

/// A server's SPNEGO NegTokenResp.
fn neg_token(neg_state: Option<NegState>, supported_mech: Option<Vec<u8>>) -> Vec<u8> {
    crate::spnego::encode_neg_token_resp(&NegTokenResp {
        neg_state,
        supported_mech,
        response_token: None,
        mech_list_mic: None,
    })
}

/// A connection in the multi-protocol phase (its SMB1 NEGOTIATE sent).
fn multi_protocol(clock: &Clock) -> Smb2Connection {
    let mut c = Smb2Connection::new(
        Smb2Config {
            family: handshake::Family::Auto,
            ..config()
        },
        clock.now(),
    );
    let mut sent = 0;
    while let Some(t) = c.poll_transmit() {
        let f = t.finish().unwrap();
        assert_eq!(frame_kind(&f.msg), FrameKind::Smb1);
        sent += 1;
    }
    assert_eq!(sent, 1);
    c
}

/// An SMB2 message of `command` with MessageId `mid` (a response when
/// `response`) whose body is a NEGOTIATE response choosing `dialect`.
fn smb2_negotiate_frame(command: Command, mid: u64, response: bool, dialect: Dialect) -> Vec<u8> {
    let mut h = Header::request(command);
    if response {
        h.flags |= flags::SERVER_TO_REDIR;
    }
    h.message_id = mid;
    h.credits = 1;
    let mut w = Writer::new();
    h.encode(&mut w);
    negotiate_body(dialect, 0, Vec::new())(&mut w);
    w.into_vec()
}

/// A session that signs, with one echo answered
/// STATUS_NETWORK_SESSION_EXPIRED (held for the re-authentication), a
/// second echo in flight and a third started during the
/// re-authentication, all due in `limit`; the ids of the three and the
/// first SESSION_SETUP of the re-authentication.
fn reauthenticating(
    clock: &Clock,
    s: &Server,
    limit: Duration,
) -> (Smb2Connection, [RequestId; 3], Seen) {
    let mut c = signing_session(false, clock);
    let held = echo(&mut c, clock, limit);
    let in_flight = echo(&mut c, clock, limit);
    let first = s.take(&mut c);
    assert_eq!(first.len(), 2);
    feed(&mut c, &expired(&first[0].header), clock.now());
    let queued = echo(&mut c, clock, limit);
    let setup = take_setup(&mut c, s);
    assert!(c.is_reauthenticating());
    (c, [held, in_flight, queued], setup)
}

/// Checks the end of a failed re-authentication: the held request failed
/// with `held_error`, the others with `ConnError::Closed` naming it, and
/// the connection closed for it; returns that reason.
fn reauth_failed_with(
    c: &mut Smb2Connection,
    clock: &Clock,
    ids: [RequestId; 3],
    held_error: impl Fn(&ConnError) -> bool,
) -> ConnError {
    let (done, closed) = completions_and_close(c);
    let closed = closed.expect("the connection closed");
    assert!(held_error(&closed), "{closed:?}");
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), ids);
    let held = done[0].1.as_ref().unwrap_err();
    assert!(held_error(held), "{held:?}");
    for d in &done[1..] {
        let e = d.1.as_ref().unwrap_err();
        assert!(held_error(closed_cause(e)), "{e:?}");
        assert!(e.to_string().contains(&closed.to_string()), "{e}");
    }
    assert!(!c.is_reauthenticating());
    assert_closed(c, clock);
    closed
}

// ---------------------------------------------------------------------------
// HandshakeFailed and AuthFailed.

#[test]
fn negotiate_answered_with_an_error_is_handshake_failed() {
    for status in [NtStatus::NOT_SUPPORTED, NtStatus::INSUFFICIENT_RESOURCES] {
        // The SMB2 NEGOTIATE.
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, neg) = negotiating(config(), &clock, &s);
        feed(
            &mut c,
            &response(&neg.header, status, 1, error_body),
            clock.now(),
        );
        let e = handshake_failed(&mut c, &clock);
        assert!(
            matches!(e, ConnError::HandshakeFailed { step: HandshakeStep::Negotiate, status: got } if got == status),
            "{e:?}"
        );
        assert!(e.source().is_none());
        // The SMB2 answer to the multi-protocol NEGOTIATE.
        let mut c = multi_protocol(&clock);
        let mut h = Header::request(Command::NEGOTIATE);
        h.message_id = 0;
        feed(&mut c, &response(&h, status, 1, error_body), clock.now());
        let e = handshake_failed(&mut c, &clock);
        assert!(
            matches!(e, ConnError::HandshakeFailed { step: HandshakeStep::Negotiate, status: got } if got == status),
            "{e:?}"
        );
    }
}

#[test]
fn session_setup_failing_without_a_logon_failure_is_handshake_failed() {
    for challenged in [false, true] {
        for status in [
            NtStatus::INSUFFICIENT_RESOURCES,
            NtStatus::REQUEST_NOT_ACCEPTED,
        ] {
            let clock = Clock(Instant::now());
            let s = Server::new();
            let (mut c, setup) = at_setup(config(), challenged, &clock, &s);
            feed(
                &mut c,
                &response(&setup.header, status, 1, error_body),
                clock.now(),
            );
            let e = handshake_failed(&mut c, &clock);
            assert!(
                matches!(e, ConnError::HandshakeFailed { step: HandshakeStep::SessionSetup, status: got } if got == status),
                "round 2 {challenged}: {e:?}"
            );
            assert!(e.source().is_none());
        }
    }
}

#[test]
fn refused_logon_is_auth_failed_for_the_configured_user() {
    for challenged in [false, true] {
        for status in [
            NtStatus::LOGON_FAILURE,
            NtStatus::WRONG_PASSWORD,
            NtStatus::ACCOUNT_DISABLED,
        ] {
            let clock = Clock(Instant::now());
            let s = Server::new();
            let cfg = Smb2Config {
                credentials: Credentials::new("carol", "CORP", "pw"),
                ..config()
            };
            let (mut c, setup) = at_setup(cfg, challenged, &clock, &s);
            feed(
                &mut c,
                &response(&setup.header, status, 1, error_body),
                clock.now(),
            );
            let e = handshake_failed(&mut c, &clock);
            let ConnError::AuthFailed {
                status: got,
                user,
                during,
                hint,
            } = &e
            else {
                panic!("{e:?}")
            };
            assert_eq!(*got, status);
            assert_eq!(user, "carol");
            assert_eq!(*during, AuthStage::Logon);
            assert_eq!(
                *hint, None,
                "SMB 2.1 without a cipher, but not ACCESS_DENIED"
            );
            assert!(e.to_string().contains("'carol'"), "{e}");
            assert!(e.source().is_none());
        }
    }
}

#[test]
fn access_denied_without_a_cipher_hints_that_encryption_may_be_required() {
    let aes128_gcm = Cipher::Aes128Gcm.wire_id();
    type Answer = Box<dyn Fn(&Seen) -> Vec<u8>>;
    let cases: Vec<(&str, Answer, Option<NoEncryption>)> = vec![
        (
            "2.1",
            Box::new(negotiate_response),
            Some(NoEncryption::DialectTooOld(Dialect::SMB2_1)),
        ),
        (
            "3.0 without encryption",
            Box::new(|r: &Seen| negotiated_as(r, Dialect::SMB3_0, 0, Vec::new())),
            Some(NoEncryption::NotOffered(Dialect::SMB3_0)),
        ),
        (
            "3.1.1, no cipher in common",
            Box::new(|r: &Seen| {
                negotiated_as(r, Dialect::SMB3_1_1, 0, vec![preauth(), ciphers(&[0])])
            }),
            Some(NoEncryption::NoCommonCipher),
        ),
        (
            "3.1.1 without an encryption context",
            Box::new(|r: &Seen| negotiated_as(r, Dialect::SMB3_1_1, 0, vec![preauth()])),
            Some(NoEncryption::NoCommonCipher),
        ),
        (
            "3.1.1 with a cipher",
            Box::new(move |r: &Seen| {
                negotiated_as(
                    r,
                    Dialect::SMB3_1_1,
                    0,
                    vec![preauth(), ciphers(&[aes128_gcm])],
                )
            }),
            None,
        ),
        (
            "3.0 with encryption",
            Box::new(|r: &Seen| {
                negotiated_as(
                    r,
                    Dialect::SMB3_0,
                    crate::smb2::negotiate::capabilities::ENCRYPTION,
                    Vec::new(),
                )
            }),
            None,
        ),
    ];
    for (case, answer, why) in cases {
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, setup) = setting_up(config(), &clock, &s, answer);
        feed(
            &mut c,
            &response(&setup.header, NtStatus::ACCESS_DENIED, 1, error_body),
            clock.now(),
        );
        let e = handshake_failed(&mut c, &clock);
        let ConnError::AuthFailed {
            status,
            user,
            during,
            hint,
        } = &e
        else {
            panic!("{case}: {e:?}")
        };
        assert_eq!(*status, NtStatus::ACCESS_DENIED, "{case}");
        assert_eq!(user, "alice", "{case}");
        assert_eq!(*during, AuthStage::Logon, "{case}");
        assert_eq!(*hint, why.map(AuthHint::MayRequireEncryption), "{case}");
        if let Some(h) = hint {
            assert!(e.to_string().contains(&h.to_string()), "{case}: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// A refused or stalled re-authentication, and ConnError::Closed.

#[test]
fn reauthentication_refused_as_a_logon_failure_is_auth_failed() {
    for challenged in [false, true] {
        for status in [NtStatus::LOGON_FAILURE, NtStatus::ACCESS_DENIED] {
            let clock = Clock(Instant::now());
            let s = Server::new();
            let (mut c, ids, mut setup) = reauthenticating(&clock, &s, LIMIT);
            if challenged {
                feed(&mut c, &challenge_response(&setup), clock.now());
                setup = take_setup(&mut c, &s);
            }
            feed(
                &mut c,
                &response(&setup.header, status, 1, error_body),
                clock.now(),
            );
            let e = reauth_failed_with(&mut c, &clock, ids, |e| {
                matches!(
                    e,
                    ConnError::AuthFailed {
                        status: got,
                        user,
                        during: AuthStage::Reauthentication,
                        hint: None,
                    } if *got == status && user == "alice"
                )
            });
            assert!(e.to_string().contains("re-authenticating"), "{e}");
        }
    }
}

#[test]
fn reauthentication_refused_otherwise_is_handshake_failed() {
    for challenged in [false, true] {
        for status in [
            NtStatus::INSUFFICIENT_RESOURCES,
            NtStatus::REQUEST_NOT_ACCEPTED,
        ] {
            let clock = Clock(Instant::now());
            let s = Server::new();
            let (mut c, ids, mut setup) = reauthenticating(&clock, &s, LIMIT);
            if challenged {
                feed(&mut c, &challenge_response(&setup), clock.now());
                setup = take_setup(&mut c, &s);
            }
            feed(
                &mut c,
                &response(&setup.header, status, 1, error_body),
                clock.now(),
            );
            reauth_failed_with(&mut c, &clock, ids, |e| {
                matches!(
                    e,
                    ConnError::HandshakeFailed {
                        step: HandshakeStep::Reauthentication,
                        status: got,
                    } if *got == status
                )
            });
        }
    }
}

#[test]
fn stalled_reauthentication_closes_the_other_requests_with_its_timeout() {
    let clock = Clock(Instant::now());
    let s = Server::new();
    let (mut c, ids, _) = reauthenticating(&clock, &s, Duration::from_secs(300));
    c.handle_timeout(clock.now() + Duration::from_secs(29));
    assert!(!c.is_closed());
    c.handle_timeout(clock.now() + Duration::from_secs(30));
    let e = reauth_failed_with(&mut c, &clock, ids, |e| {
        matches!(
            e,
            ConnError::Timeout {
                operation: "re-authenticating the session",
                after,
            } if *after == Duration::from_secs(30)
        )
    });
    assert!(e.source().is_none());
}

// ---------------------------------------------------------------------------
// Violation::Handshake.

/// The handshake violation `e` carries.
fn handshake_violation(e: &ConnError) -> &HandshakeViolation {
    match violation(e) {
        Violation::Handshake(h) => h,
        v => panic!("not a handshake violation: {v:?}"),
    }
}

#[test]
fn negotiate_response_to_the_multi_protocol_negotiate_needs_message_id_0() {
    for mid in [1u64, 7] {
        let clock = Clock(Instant::now());
        let mut c = multi_protocol(&clock);
        feed(
            &mut c,
            &smb2_negotiate_frame(Command::NEGOTIATE, mid, true, Dialect::SMB2_WILDCARD),
            clock.now(),
        );
        let e = handshake_failed(&mut c, &clock);
        assert_eq!(
            handshake_violation(&e),
            &HandshakeViolation::NegotiateMessageId(mid)
        );
        assert!(violation(&e).source().is_none());
    }
}

#[test]
fn a_dialect_that_was_not_offered_is_refused() {
    type Answer = Box<dyn Fn(&Seen) -> Vec<u8>>;
    let cases: Vec<(&str, bool, Answer, Dialect)> = vec![
        (
            "3.1.1 over NetBIOS",
            false,
            Box::new(|r: &Seen| negotiated_as(r, Dialect::SMB3_1_1, 0, vec![preauth()])),
            Dialect::SMB3_1_1,
        ),
        (
            "the wildcard",
            true,
            Box::new(|r: &Seen| negotiated_as(r, Dialect::SMB2_WILDCARD, 0, Vec::new())),
            Dialect::SMB2_WILDCARD,
        ),
        (
            "an unknown dialect",
            true,
            Box::new(|r: &Seen| negotiated_as(r, Dialect(0x0320), 0, Vec::new())),
            Dialect(0x0320),
        ),
    ];
    for (case, direct_tcp, answer, dialect) in cases {
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, neg) = negotiating(
            Smb2Config {
                direct_tcp,
                ..config()
            },
            &clock,
            &s,
        );
        feed(&mut c, &answer(&neg), clock.now());
        let e = handshake_failed(&mut c, &clock);
        assert_eq!(
            handshake_violation(&e),
            &HandshakeViolation::DialectNotOffered(dialect),
            "{case}"
        );
    }
    // The SMB1 NEGOTIATE offers only SMB 2.0.2 as a dialect the server may
    // choose directly.
    let clock = Clock(Instant::now());
    let mut c = multi_protocol(&clock);
    feed(
        &mut c,
        &smb2_negotiate_frame(Command::NEGOTIATE, 0, true, Dialect::SMB2_1),
        clock.now(),
    );
    let e = handshake_failed(&mut c, &clock);
    assert_eq!(
        handshake_violation(&e),
        &HandshakeViolation::DialectNotOffered(Dialect::SMB2_1)
    );
}

#[test]
fn smb311_without_sha512_preauth_integrity_is_refused() {
    let other_hash = NegotiateContext::PreauthIntegrity {
        hash_algorithms: vec![0x0002],
        salt: vec![3; 32],
    };
    let sha512_and_another = NegotiateContext::PreauthIntegrity {
        hash_algorithms: vec![hash_algorithm::SHA512, 0x0002],
        salt: vec![3; 32],
    };
    for contexts in [
        Vec::new(),
        vec![ciphers(&[cipher::AES128_GCM])],
        vec![other_hash],
        vec![sha512_and_another],
    ] {
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, neg) = negotiating(config(), &clock, &s);
        let what = format!("{contexts:?}");
        feed(
            &mut c,
            &negotiated_as(&neg, Dialect::SMB3_1_1, 0, contexts),
            clock.now(),
        );
        let e = handshake_failed(&mut c, &clock);
        assert_eq!(
            handshake_violation(&e),
            &HandshakeViolation::NoPreauthIntegrity,
            "{what}"
        );
    }
}

#[test]
fn a_cipher_that_was_not_offered_or_several_are_refused() {
    let cases: Vec<(Vec<u16>, HandshakeViolation)> = vec![
        (
            vec![cipher::AES256_GCM],
            HandshakeViolation::CipherNotOffered(cipher::AES256_GCM),
        ),
        (vec![0x0009], HandshakeViolation::CipherNotOffered(0x0009)),
        (
            vec![cipher::AES128_GCM, cipher::AES128_CCM],
            HandshakeViolation::CipherCount(2),
        ),
        (vec![0, 0, 0], HandshakeViolation::CipherCount(3)),
    ];
    for (ids, want) in cases {
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, neg) = negotiating(config(), &clock, &s);
        feed(
            &mut c,
            &negotiated_as(&neg, Dialect::SMB3_1_1, 0, vec![preauth(), ciphers(&ids)]),
            clock.now(),
        );
        let e = handshake_failed(&mut c, &clock);
        assert_eq!(handshake_violation(&e), &want, "{ids:?}");
    }
}

#[test]
fn anything_but_a_negotiate_response_in_the_multi_protocol_phase_is_out_of_order() {
    let cases = [
        (Command::SESSION_SETUP, true),
        (Command::ECHO, true),
        (Command::NEGOTIATE, false),
    ];
    for (command, is_response) in cases {
        let clock = Clock(Instant::now());
        let mut c = multi_protocol(&clock);
        feed(
            &mut c,
            &smb2_negotiate_frame(command, 0, is_response, Dialect::SMB2_WILDCARD),
            clock.now(),
        );
        let e = handshake_failed(&mut c, &clock);
        assert_eq!(
            handshake_violation(&e),
            &HandshakeViolation::OutOfOrder(CommandCode::Smb2(command)),
            "{command:?}"
        );
    }
}

#[test]
fn a_response_of_another_command_during_the_handshake_is_a_wrong_command() {
    for challenged in [None, Some(false), Some(true)] {
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, req) = match challenged {
            None => negotiating(config(), &clock, &s),
            Some(challenged) => at_setup(config(), challenged, &clock, &s),
        };
        let mut h = req.header.clone();
        h.command = Command::TREE_CONNECT;
        feed(
            &mut c,
            &response(&h, NtStatus::SUCCESS, 1, error_body),
            clock.now(),
        );
        let e = handshake_failed(&mut c, &clock);
        assert_eq!(
            unexpected(&e),
            &UnexpectedMessage::WrongCommand {
                request: CommandCode::Smb2(req.header.command),
                response: CommandCode::Smb2(Command::TREE_CONNECT),
                message_id: req.header.message_id,
            },
        );
    }
}

#[test]
fn reauthentication_answered_for_another_session_is_wrong_session() {
    for challenged in [false, true] {
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, ids, mut setup) = reauthenticating(&clock, &s, LIMIT);
        if challenged {
            feed(&mut c, &challenge_response(&setup), clock.now());
            setup = take_setup(&mut c, &s);
        }
        let mut h = setup.header.clone();
        h.session_id = SESSION + 1;
        let status = if challenged {
            NtStatus::SUCCESS
        } else {
            NtStatus::MORE_PROCESSING_REQUIRED
        };
        feed(&mut c, &response(&h, status, 1, error_body), clock.now());
        let want = HandshakeViolation::WrongSession {
            expected: SESSION,
            actual: SESSION + 1,
        };
        let (done, closed) = completions_and_close(&mut c);
        let closed = closed.expect("the connection closed");
        assert_eq!(handshake_violation(&closed), &want);
        // A violation reaches every request as it is.
        assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), ids);
        for d in &done {
            assert_eq!(handshake_violation(d.1.as_ref().unwrap_err()), &want);
        }
        assert_closed(&mut c, &clock);
    }
}

#[test]
fn a_session_setup_that_never_ends_is_an_ntlm_state_error() {
    // TooManyRounds needs a fourth MORE_PROCESSING_REQUIRED; NTLM steps
    // once and refuses a second one itself.
    let clock = Clock(Instant::now());
    let s = Server::new();
    let (mut c, setup) = at_setup(config(), true, &clock, &s);
    feed(&mut c, &challenge_response(&setup), clock.now());
    let e = handshake_failed(&mut c, &clock);
    assert!(
        matches!(violation(&e), Violation::Auth(NtlmError::State(_))),
        "{e:?}"
    );

    let (mut c, ids, setup) = reauthenticating(&clock, &s, LIMIT);
    feed(&mut c, &challenge_response(&setup), clock.now());
    let setup = take_setup(&mut c, &s);
    feed(&mut c, &challenge_response(&setup), clock.now());
    let (done, closed) = completions_and_close(&mut c);
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), ids);
    assert!(matches!(
        violation(&closed.unwrap()),
        Violation::Auth(NtlmError::State(_))
    ),);
}

// ---------------------------------------------------------------------------
// Violation::Auth.

/// Checks that `e` is `Violation::Auth(want)`, `source()` leading from the
/// error to the violation to the NTLM error.
fn assert_auth(e: &ConnError, want: &NtlmError) {
    let v = violation(e);
    let Violation::Auth(ntlm) = v else {
        panic!("not an authentication violation: {v:?}")
    };
    assert_eq!(ntlm, want);
    let source = v.source().expect("Violation::Auth has a source");
    assert!(std::ptr::eq(
        source.downcast_ref::<NtlmError>().unwrap(),
        ntlm
    ));
}

#[test]
fn unusable_spnego_tokens_from_the_server_are_auth_violations() {
    let garbage = b"\x30\x03garbage".to_vec();
    let decode_error = crate::spnego::parse_neg_token_resp(&garbage).unwrap_err();
    let other_mech = vec![0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    let cases: Vec<(&str, NtStatus, Vec<u8>, NtlmError)> = vec![
        (
            "garbage for the challenge",
            NtStatus::MORE_PROCESSING_REQUIRED,
            garbage.clone(),
            NtlmError::Decode(decode_error.clone()),
        ),
        (
            "reject for the challenge",
            NtStatus::MORE_PROCESSING_REQUIRED,
            neg_token(Some(NegState::Reject), None),
            NtlmError::Rejected,
        ),
        (
            "Kerberos",
            NtStatus::MORE_PROCESSING_REQUIRED,
            neg_token(Some(NegState::AcceptIncomplete), Some(other_mech.clone())),
            NtlmError::UnsupportedMech(other_mech),
        ),
        (
            "no CHALLENGE",
            NtStatus::MORE_PROCESSING_REQUIRED,
            neg_token(Some(NegState::AcceptIncomplete), None),
            NtlmError::MissingToken("a responseToken with the NTLM CHALLENGE_MESSAGE"),
        ),
    ];
    for (case, status, token, want) in cases {
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, setup) = at_setup(config(), false, &clock, &s);
        feed(&mut c, &setup_answer(&setup, status, token), clock.now());
        let e = handshake_failed(&mut c, &clock);
        assert_auth(&e, &want);
        if case.starts_with("garbage") {
            let Violation::Auth(ntlm) = violation(&e) else {
                unreachable!()
            };
            let source = ntlm.source().expect("a decode error has a source");
            assert_eq!(
                source.downcast_ref::<crate::DecodeError>(),
                Some(&decode_error)
            );
        }
    }
    // The final answer's token.
    for (token, want) in [
        (neg_token(Some(NegState::Reject), None), NtlmError::Rejected),
        (garbage, NtlmError::Decode(decode_error)),
    ] {
        let clock = Clock(Instant::now());
        let s = Server::new();
        let (mut c, setup) = at_setup(config(), true, &clock, &s);
        feed(
            &mut c,
            &setup_answer(&setup, NtStatus::SUCCESS, token),
            clock.now(),
        );
        let e = handshake_failed(&mut c, &clock);
        assert_auth(&e, &want);
    }
}

#[test]
fn a_rejecting_token_during_the_reauthentication_is_an_auth_violation() {
    let clock = Clock(Instant::now());
    let s = Server::new();
    let (mut c, ids, setup) = reauthenticating(&clock, &s, LIMIT);
    feed(
        &mut c,
        &setup_answer(
            &setup,
            NtStatus::MORE_PROCESSING_REQUIRED,
            neg_token(Some(NegState::Reject), None),
        ),
        clock.now(),
    );
    let (done, closed) = completions_and_close(&mut c);
    assert_auth(
        &closed.expect("the connection closed"),
        &NtlmError::Rejected,
    );
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), ids);
    for d in &done {
        assert_auth(d.1.as_ref().unwrap_err(), &NtlmError::Rejected);
    }
    assert_closed(&mut c, &clock);
}

// ---------------------------------------------------------------------------
// Violation::UnexpectedMessage.

/// The unexpected message `e` reports.
fn unexpected(e: &ConnError) -> &UnexpectedMessage {
    match violation(e) {
        Violation::UnexpectedMessage(m) => m,
        v => panic!("not an unexpected message: {v:?}"),
    }
}

/// The decryption failure `e` reports, checking that `source()` leads
/// from the violation to it.
fn decryption(e: &ConnError) -> &Decryption {
    let v = violation(e);
    let Violation::Decryption(d) = v else {
        panic!("not a decryption failure: {v:?}")
    };
    let source = v.source().expect("Violation::Decryption has a source");
    assert!(std::ptr::eq(
        source.downcast_ref::<Decryption>().unwrap(),
        d
    ));
    d
}

/// Checks with `check` the error of the one echo out and the reason the
/// connection closed.
fn echo_failed_with(
    c: &mut Smb2Connection,
    clock: &Clock,
    ev: &[Event],
    check: impl Fn(&ConnError),
) {
    let done = completed(ev);
    assert_eq!(done.len(), 1, "{ev:?}");
    check(done[0].1.as_ref().unwrap_err());
    check(closing(ev));
    assert_closed(c, clock);
}

#[test]
fn a_request_from_the_server_is_refused() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        let mut m = echo_response(&r.header);
        m[16] &= !1;
        vec![m]
    });
    echo_failed_with(&mut c, &clock, &ev, |e| {
        assert_eq!(
            unexpected(e),
            &UnexpectedMessage::ServerRequest {
                command: CommandCode::Smb2(Command::ECHO),
            }
        )
    });
}

#[test]
fn a_response_nobody_waits_for_names_its_message_id() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let mut mid = 0;
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        let mut h = r.header.clone();
        h.message_id += 40;
        h.command = Command::READ;
        mid = h.message_id;
        vec![response(&h, NtStatus::SUCCESS, 1, error_body)]
    });
    echo_failed_with(&mut c, &clock, &ev, |e| {
        assert_eq!(
            unexpected(e),
            &UnexpectedMessage::UnknownMessageId {
                command: CommandCode::Smb2(Command::READ),
                message_id: mid,
            }
        )
    });
}

#[test]
fn a_response_of_another_command_names_both() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let mut mid = 0;
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        let mut h = r.header.clone();
        h.command = Command::READ;
        mid = h.message_id;
        vec![response(&h, NtStatus::SUCCESS, 1, error_body)]
    });
    echo_failed_with(&mut c, &clock, &ev, |e| {
        assert_eq!(
            unexpected(e),
            &UnexpectedMessage::WrongCommand {
                request: CommandCode::Smb2(Command::ECHO),
                response: CommandCode::Smb2(Command::READ),
                message_id: mid,
            }
        )
    });
}

#[test]
fn a_frame_that_is_not_smb2_is_refused() {
    let smb1 =
        b"\xFFSMB\x72\0\0\0\0\x18\x01\xc8\0\0\0\0\0\0\0\0\0\0\0\0\xff\xfe\0\0\0\0\0\0\0".to_vec();
    let compressed = b"\xFCSMB\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    let unknown = b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec();
    for frame in [smb1, compressed, unknown, Vec::new()] {
        let clock = Clock(Instant::now());
        let mut c = established(10, false, &clock);
        let s = Server::new();
        let (_, ev) = echo_answered(&mut c, &s, &clock, |_, _| vec![frame.clone()]);
        echo_failed_with(&mut c, &clock, &ev, |e| {
            assert_eq!(unexpected(e), &UnexpectedMessage::NotSmb2)
        });
        // During the SMB2-only handshake too.
        let (mut c, _) = negotiating(config(), &clock, &s);
        feed(&mut c, &frame, clock.now());
        let e = handshake_failed(&mut c, &clock);
        assert_eq!(unexpected(&e), &UnexpectedMessage::NotSmb2);
    }
}

// ---------------------------------------------------------------------------
// Violation::Decryption.

#[test]
fn an_encrypted_frame_on_a_session_without_keys_is_no_keys() {
    let clock = Clock(Instant::now());
    let s = Server::new();
    let mut c = established(10, false, &clock);
    c.session.encryptor = None;
    c.session.decryptor = None;
    let (_, ev) = echo_answered(&mut c, &s, &clock, |s, r| {
        assert!(!r.encrypted);
        vec![s.seal(&echo_response(&r.header))]
    });
    echo_failed_with(&mut c, &clock, &ev, |e| {
        let d = decryption(e);
        assert_eq!(d, &Decryption::NoKeys);
        assert!(d.source().is_none());
    });
    // Before the session has keys, during the handshake.
    let (mut c, neg) = negotiating(config(), &clock, &s);
    feed(&mut c, &s.seal(&negotiate_response(&neg)), clock.now());
    let e = handshake_failed(&mut c, &clock);
    assert_eq!(decryption(&e), &Decryption::NoKeys);
}

#[test]
fn a_rejected_encrypted_frame_leads_to_its_decrypt_error() {
    let clock = Clock(Instant::now());
    let mut c = established(10, true, &clock);
    let s = Server::new();
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        let wrong_key = Encryptor::new(Cipher::Aes128Gcm, &[0x99; 16], SESSION, [0; 4]).unwrap();
        let mut f = Vec::new();
        wrong_key
            .seal_parts(&[&echo_response(&r.header)], &mut f)
            .unwrap();
        vec![f]
    });
    echo_failed_with(&mut c, &clock, &ev, |e| {
        let d = decryption(e);
        assert_eq!(d, &Decryption::Rejected(DecryptError::BadTag));
        let Decryption::Rejected(inner) = d else {
            unreachable!()
        };
        let source = d.source().expect("Rejected has a source");
        assert!(std::ptr::eq(
            source.downcast_ref::<DecryptError>().unwrap(),
            inner
        ));
    });
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
fn a_request_before_the_session_is_set_up_is_refused() {
    let clock = Clock(Instant::now());
    let s = Server::new();
    let (mut c, neg) = negotiating(config(), &clock, &s);
    let start = |c: &mut Smb2Connection| {
        c.start(
            Request::single(
                part(Command::ECHO, 0, 1, |w| EchoRequest.encode(w)),
                clock.now() + LIMIT,
                "echo",
            ),
            clock.now(),
        )
    };
    assert_invalid(&start(&mut c).unwrap_err(), InvalidRequest::Authenticating);
    feed(&mut c, &negotiate_response(&neg), clock.now());
    let setup = s.take(&mut c).remove(0);
    assert_invalid(&start(&mut c).unwrap_err(), InvalidRequest::Authenticating);
    // The handshake goes on undisturbed.
    feed(&mut c, &challenge_response(&setup), clock.now());
    let setup = s.take(&mut c).remove(0);
    feed(&mut c, &accept_response(&setup), clock.now());
    assert!(matches!(events(&mut c).as_slice(), [Event::Established(_)]));
    assert!(start(&mut c).is_ok());
}

#[test]
fn malformed_requests_are_refused_and_the_connection_goes_on() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let echo_part = || part(Command::ECHO, 0, 1, |w| EchoRequest.encode(w));
    let deadline = clock.now() + LIMIT;
    let cases: Vec<(Request, InvalidRequest)> = vec![
        (
            Request {
                parts: Vec::new(),
                ..Request::single(echo_part(), deadline, "nothing")
            },
            InvalidRequest::NoMessage,
        ),
        (
            Request {
                parts: vec![echo_part(), echo_part()],
                tail: Bytes::from_static(b"data"),
                ..Request::single(echo_part(), deadline, "chain with a tail")
            },
            InvalidRequest::TailOnCompound,
        ),
        (
            Request::single(
                Part {
                    command: Command::ECHO,
                    tree_id: 0,
                    charge: 1,
                    msg: vec![0; HEADER_LEN - 1],
                },
                deadline,
                "short",
            ),
            InvalidRequest::NoRoomForHeader,
        ),
        (
            Request {
                parts: vec![
                    echo_part(),
                    Part {
                        command: Command::ECHO,
                        tree_id: 0,
                        charge: 1,
                        msg: Vec::new(),
                    },
                ],
                ..Request::single(echo_part(), deadline, "chain with a short part")
            },
            InvalidRequest::NoRoomForHeader,
        ),
    ];
    for (req, want) in cases {
        let what = req.operation;
        let e = c.start(req, clock.now()).unwrap_err();
        assert_invalid(&e, want);
        assert!(!c.is_closed(), "{what}");
        assert_eq!(c.requests_outstanding(), 0, "{what}");
        assert!(s.take(&mut c).is_empty(), "{what}");
        assert!(events(&mut c).is_empty(), "{what}");
    }
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| vec![echo_response(&r.header)]);
    assert!(completed(&ev)[0].1.is_ok());
}
