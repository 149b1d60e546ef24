//! The deterministic simulation tier of the SMB2 connection: a scripted
//! server holding the session's keys and a simulated clock. No sockets,
//! no threads, no real time: what a real server cannot be made to do
//! (withhold credits, answer out of order, replay, tamper, stall at a
//! chosen step) runs here in milliseconds.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::crypto::{Cipher, SigningAlgorithm};
use crate::ntlm::{AvPairs, ChallengeMessage, Credentials, NtlmOptions};
use crate::smb2::create::{CreateRequest, CreateResponse};
use crate::smb2::header::flags;
use crate::smb2::negotiate::{security_mode, NegotiateResponse};
use crate::smb2::session_setup::SessionSetupResponse;
use crate::smb2::{EchoRequest, EchoResponse, TRANSFORM_HEADER_LEN};

pub(super) const SESSION: u64 = 0x0000_1000_0000_0025;
const CIPHER: Cipher = Cipher::Aes128Gcm;
/// The client's Session.EncryptionKey, the server's DecryptionKey.
const TO_SERVER: [u8; 16] = [0x11; 16];
/// The server's Session.EncryptionKey, the client's DecryptionKey.
const TO_CLIENT: [u8; 16] = [0x22; 16];

/// The simulated clock.
pub(super) struct Clock(pub(super) Instant);

impl Clock {
    pub(super) fn now(&self) -> Instant {
        self.0
    }
    pub(super) fn advance(&mut self, d: Duration) -> Instant {
        self.0 += d;
        self.0
    }
}

/// A request as the server sees it.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) header: Header,
    pub(super) msg: Vec<u8>,
    pub(super) encrypted: bool,
}

/// The server end: keys, and what the client sent.
pub(super) struct Server {
    enc: Encryptor,
    dec: Decryptor,
}

impl Server {
    pub(super) fn new() -> Server {
        Server {
            enc: Encryptor::new(CIPHER, &TO_CLIENT, SESSION, [5, 6, 7, 8]).unwrap(),
            dec: Decryptor::new(CIPHER, &TO_SERVER, SESSION).unwrap(),
        }
    }

    /// Every message the client has queued, decrypted and split.
    pub(super) fn take(&self, c: &mut Smb2Connection) -> Vec<Seen> {
        let mut out = Vec::new();
        while let Some(t) = c.poll_transmit() {
            let t = t.finish().unwrap();
            let len = u32::from_be_bytes(t.header) as usize;
            let mut frame = t.msg.clone();
            frame.extend_from_slice(&t.tail);
            assert_eq!(len, frame.len(), "the frame header counts the frame");
            let (plain, encrypted) = match frame_kind(&frame) {
                FrameKind::Transform => {
                    let r = self.dec.open(&mut frame).unwrap();
                    (frame[r].to_vec(), true)
                }
                FrameKind::Smb2 => (frame, false),
                k => panic!("the client sent a {k:?} frame"),
            };
            for m in header::split_compound(&plain).unwrap() {
                out.push(Seen {
                    header: Header::decode(m).unwrap(),
                    msg: m.to_vec(),
                    encrypted,
                });
            }
        }
        out
    }

    pub(super) fn seal(&self, msg: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        self.enc.seal_parts(&[msg], &mut f).unwrap();
        f
    }
}

/// A response to `req` with `status`, granting `credits`, with the body
/// `encode` writes.
pub(super) fn response(
    req: &Header,
    status: NtStatus,
    credits: u16,
    encode: impl FnOnce(&mut Writer),
) -> Vec<u8> {
    let mut h = Header::request(req.command);
    h.flags |= flags::SERVER_TO_REDIR;
    h.status = status;
    h.credits = credits;
    h.message_id = req.message_id;
    h.session_id = req.session_id;
    h.tree_id = req.tree_id;
    let mut w = Writer::new();
    h.encode(&mut w);
    encode(&mut w);
    w.into_vec()
}

pub(super) fn echo_response(req: &Header) -> Vec<u8> {
    response(req, NtStatus::SUCCESS, 1, |w| EchoResponse.encode(w))
}

/// An error response body (MS-SMB2 §2.2.2).
pub(super) fn error_body(w: &mut Writer) {
    w.u16(9).u16(0).u32(0).u8(0);
}

fn interim(req: &Header, async_id: u64) -> Vec<u8> {
    let mut h = Header::decode(&response(req, NtStatus::PENDING, 1, error_body)).unwrap();
    h.flags |= flags::ASYNC_COMMAND;
    h.async_id = Some(async_id);
    let mut w = Writer::new();
    h.encode(&mut w);
    error_body(&mut w);
    w.into_vec()
}

fn create_response(req: &Header, file_id: FileId) -> Vec<u8> {
    response(req, NtStatus::SUCCESS, 1, |w| {
        CreateResponse {
            oplock_level: 0,
            flags: 0,
            create_action: 1,
            creation_time: 0,
            last_access_time: 0,
            last_write_time: 0,
            change_time: 0,
            allocation_size: 0,
            end_of_file: 0,
            file_attributes: 0x80,
            file_id,
            contexts: Vec::new(),
        }
        .encode(w)
        .unwrap()
    })
}

/// A part whose body `f` writes.
pub(super) fn part(
    command: Command,
    tree_id: u32,
    charge: u16,
    f: impl FnOnce(&mut Writer),
) -> Part {
    Part::new(command, tree_id, charge, |w| {
        f(w);
        Ok(())
    })
    .unwrap()
}

pub(super) fn feed(c: &mut Smb2Connection, frame: &[u8], now: Instant) {
    c.handle_frame(BytesMut::from(frame), now);
}

pub(super) fn events(c: &mut Smb2Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The results of the completed requests among `events`.
pub(super) fn completed(ev: &[Event]) -> Vec<(RequestId, Result<Vec<Response>, ConnError>)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Completed { id, result } => Some((*id, result.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn config() -> Smb2Config {
    Smb2Config {
        family: handshake::Family::Smb2Only,
        extended_security: true,
        direct_tcp: true,
        signing: handshake::SigningPolicy::WhenRequired,
        encryption: handshake::EncryptionPolicy::IfRequired,
        ciphers: vec![CIPHER],
        credentials: Credentials::new("alice", "", "secret"),
        ntlm: NtlmOptions::default(),
        kerberos: None,
        limit: Duration::from_secs(30),
        client_guid: [7; 16],
    }
}

/// A connection whose handshake is skipped: SMB 3.1.1, `credits` granted,
/// the scripted keys installed; `encrypt_all` encrypts every request.
pub(super) fn established(credits: u16, encrypt_all: bool, clock: &Clock) -> Smb2Connection {
    established_with(config(), credits, encrypt_all, clock)
}

/// [`established`] with the configuration `config`.
fn established_with(
    config: Smb2Config,
    credits: u16,
    encrypt_all: bool,
    clock: &Clock,
) -> Smb2Connection {
    let mut c = Smb2Connection::new(config, clock.now());
    // Drop the NEGOTIATE the handshake queued; the session is set up by
    // hand instead.
    while c.poll_transmit().is_some() {}
    c.book = Book::default();
    c.in_flight.clear();
    c.watch = crate::conn::liveness::Watch::new(clock.now());
    c.handshake.mark_done();
    c.dialect = Dialect::SMB3_1_1;
    c.credits = Credits::new();
    c.credits.consume_external(1);
    c.credits.set_large_mtu(true);
    c.credits.grant(credits);
    c.session.session_id = SESSION;
    c.session.encryptor = Some(Arc::new(
        Encryptor::new(CIPHER, &TO_SERVER, SESSION, [1, 2, 3, 4]).unwrap(),
    ));
    c.session.decryptor = Some(Arc::new(
        Decryptor::new(CIPHER, &TO_CLIENT, SESSION).unwrap(),
    ));
    c.session.encrypt_all = encrypt_all;
    c
}

pub(super) fn echo(c: &mut Smb2Connection, clock: &Clock, limit: Duration) -> RequestId {
    let part = part(Command::ECHO, 0, 1, |w| EchoRequest.encode(w));
    c.start(
        Request::single(part, clock.now() + limit, "echo"),
        clock.now(),
    )
    .unwrap()
}

pub(super) const LIMIT: Duration = Duration::from_secs(10);

/// Asserts that the connection is closed and that new requests fail with
/// NotConnected.
pub(super) fn assert_closed(c: &mut Smb2Connection, clock: &Clock) {
    assert!(c.is_closed());
    assert!(c.poll_transmit().is_none(), "nothing is sent once closed");
    let part = part(Command::ECHO, 0, 1, |w| EchoRequest.encode(w));
    let e = c
        .start(
            Request::single(part, clock.now() + LIMIT, "echo"),
            clock.now(),
        )
        .unwrap_err();
    assert!(matches!(e, ConnError::NotConnected), "{e:?}");
}

/// The one echo's exchange: send, let `answer` reply, return the events.
pub(super) fn echo_answered(
    c: &mut Smb2Connection,
    s: &Server,
    clock: &Clock,
    answer: impl FnOnce(&Server, &Seen) -> Vec<Vec<u8>>,
) -> (RequestId, Vec<Event>) {
    let id = echo(c, clock, LIMIT);
    let seen = s.take(c);
    assert_eq!(seen.len(), 1);
    for f in answer(s, &seen[0]) {
        feed(c, &f, clock.now());
    }
    (id, events(c))
}

// ---------------------------------------------------------------------------
// Message ids and credits.

#[test]
fn requests_wait_for_credits_and_go_out_in_order() {
    let clock = Clock(Instant::now());
    let mut c = established(2, false, &clock);
    let s = Server::new();
    let ids: Vec<_> = (0..5).map(|_| echo(&mut c, &clock, LIMIT)).collect();
    let first = s.take(&mut c);
    assert_eq!(first.len(), 2, "two credits, two requests on the wire");
    assert_eq!(first[0].header.message_id, 1);
    assert_eq!(first[1].header.message_id, 2);
    assert!(first.iter().all(|r| r.header.credits >= 1));
    // No grant: nothing more goes out.
    feed(
        &mut c,
        &response(&first[0].header, NtStatus::SUCCESS, 0, |w| {
            EchoResponse.encode(w)
        }),
        clock.now(),
    );
    assert!(s.take(&mut c).is_empty());
    // A grant of 3 lets the other three go, with consecutive ids.
    feed(
        &mut c,
        &response(&first[1].header, NtStatus::SUCCESS, 3, |w| {
            EchoResponse.encode(w)
        }),
        clock.now(),
    );
    let rest = s.take(&mut c);
    assert_eq!(
        rest.iter().map(|r| r.header.message_id).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    for r in &rest {
        feed(&mut c, &echo_response(&r.header), clock.now());
    }
    let done = completed(&events(&mut c));
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), ids);
    assert!(done.iter().all(|d| d.1.is_ok()));
    assert_eq!(c.messages_in_flight(), 0);
    assert_eq!(c.requests_outstanding(), 0);
}

#[test]
fn multi_credit_request_takes_consecutive_ids() {
    let clock = Clock(Instant::now());
    let mut c = established(20, false, &clock);
    let s = Server::new();
    let part = part(Command::READ, 7, 16, |w| {
        w.zeros(49);
    });
    c.start(
        Request::single(part, clock.now() + LIMIT, "read"),
        clock.now(),
    )
    .unwrap();
    echo(&mut c, &clock, LIMIT);
    let seen = s.take(&mut c);
    assert_eq!(seen[0].header.credit_charge, 16);
    assert_eq!(seen[0].header.message_id, 1);
    assert_eq!(seen[1].header.message_id, 17);
    assert_eq!(c.credits_available(), 3);
}

#[test]
fn queued_request_times_out_waiting_for_credits() {
    let mut clock = Clock(Instant::now());
    let mut c = established(1, false, &clock);
    let s = Server::new();
    echo(&mut c, &clock, LIMIT);
    let waiting = echo(&mut c, &clock, Duration::from_secs(2));
    assert_eq!(s.take(&mut c).len(), 1);
    assert_eq!(c.poll_timeout(), Some(clock.now() + Duration::from_secs(2)));
    let now = clock.advance(Duration::from_secs(2));
    c.handle_timeout(now);
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, waiting);
    assert!(
        matches!(&done[0].1, Err(ConnError::Timeout { operation: "waiting for credits", after }) if *after == Duration::from_secs(2)),
        "{:?}",
        done[0].1
    );
    assert!(
        s.take(&mut c).is_empty(),
        "a request never sent needs no CANCEL"
    );
}

#[test]
fn close_that_times_out_before_it_is_sent_is_still_sent() {
    let mut clock = Clock(Instant::now());
    let mut c = established(1, false, &clock);
    let s = Server::new();
    echo(&mut c, &clock, LIMIT);
    let fid = FileId {
        persistent: 7,
        volatile: 8,
    };
    let close = part(Command::CLOSE, 9, 1, |w| {
        crate::smb2::close::CloseRequest {
            flags: 0,
            file_id: fid,
        }
        .encode(w)
    });
    let id = c
        .start(
            Request::single(close, clock.now() + Duration::from_secs(2), "CLOSE"),
            clock.now(),
        )
        .unwrap();
    let first = s.take(&mut c);
    assert_eq!(first.len(), 1, "the CLOSE waits for a credit");
    let now = clock.advance(Duration::from_secs(2));
    c.handle_timeout(now);
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert!(matches!(done[0].1, Err(ConnError::Timeout { .. })));
    // The credit comes back: the CLOSE goes out after all, and its answer
    // completes nothing visible.
    feed(&mut c, &echo_response(&first[0].header), now);
    let _ = events(&mut c);
    let sent = s.take(&mut c);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header.command, Command::CLOSE);
    let got = crate::smb2::close::CloseRequest::decode(&sent[0].msg).unwrap();
    assert_eq!(got.file_id, fid);
    feed(
        &mut c,
        &response(&sent[0].header, NtStatus::SUCCESS, 1, |w| {
            crate::smb2::close::CloseResponse::default().encode(w)
        }),
        now,
    );
    assert!(events(&mut c).is_empty());
    assert_eq!(c.messages_in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Interim responses, timeouts, cancel.

#[test]
fn interim_response_keeps_the_request_waiting_and_its_cancel_names_the_async_id() {
    let mut clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let id = echo(&mut c, &clock, Duration::from_secs(5));
    let req = s.take(&mut c).remove(0);
    feed(&mut c, &interim(&req.header, 0x77), clock.now());
    assert!(completed(&events(&mut c)).is_empty());
    let now = clock.advance(Duration::from_secs(5));
    c.handle_timeout(now);
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    assert!(matches!(
        &done[0].1,
        Err(ConnError::Timeout {
            operation: "echo",
            ..
        })
    ));
    let cancel = s.take(&mut c).remove(0);
    assert_eq!(cancel.header.command, Command::CANCEL);
    assert_eq!(cancel.header.async_id, Some(0x77));
    // The final answer is absorbed; the connection goes on.
    feed(
        &mut c,
        &response(&req.header, NtStatus::CANCELLED, 1, error_body),
        clock.now(),
    );
    assert!(!c.is_closed());
    assert_eq!(c.messages_in_flight(), 0);
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| vec![echo_response(&r.header)]);
    assert!(completed(&ev)[0].1.is_ok());
}

#[test]
fn withdrawn_request_is_cancelled_and_answers_no_one() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let id = echo(&mut c, &clock, LIMIT);
    let req = s.take(&mut c).remove(0);
    c.cancel(id);
    let cancel = s.take(&mut c).remove(0);
    assert_eq!(cancel.header.command, Command::CANCEL);
    assert_eq!(cancel.header.message_id, req.header.message_id);
    feed(&mut c, &echo_response(&req.header), clock.now());
    assert!(
        events(&mut c).is_empty(),
        "no completion for a withdrawn request"
    );
    assert_eq!(c.messages_in_flight(), 0);
    assert_eq!(c.requests_outstanding(), 0);
    // Its credits came back.
    assert_eq!(c.credits_available(), 10);
}

#[test]
fn withdrawn_queued_request_is_never_sent() {
    let clock = Clock(Instant::now());
    let mut c = established(1, false, &clock);
    let s = Server::new();
    echo(&mut c, &clock, LIMIT);
    let queued = echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c).remove(0);
    c.cancel(queued);
    feed(&mut c, &echo_response(&first.header), clock.now());
    assert!(s.take(&mut c).is_empty());
    assert_eq!(completed(&events(&mut c)).len(), 1);
}

#[test]
fn create_given_up_on_has_its_handle_closed_when_it_opens() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let req = CreateRequest {
        security_flags: 0,
        requested_oplock_level: 0,
        impersonation_level: 2,
        create_flags: 0,
        desired_access: 0x0012_0089,
        file_attributes: 0,
        share_access: 7,
        create_disposition: 1,
        create_options: 0,
        name: "a.txt".into(),
        contexts: Vec::new(),
    };
    let id = c
        .start(
            Request::single(
                part(Command::CREATE, 9, 1, |w| req.encode(w).unwrap()),
                clock.now() + LIMIT,
                "open",
            ),
            clock.now(),
        )
        .unwrap();
    let create = s.take(&mut c).remove(0);
    c.cancel(id);
    assert_eq!(s.take(&mut c)[0].header.command, Command::CANCEL);
    let fid = FileId {
        persistent: 0x1234,
        volatile: 0x5678,
    };
    feed(&mut c, &create_response(&create.header, fid), clock.now());
    let close = s.take(&mut c);
    assert_eq!(close.len(), 1);
    assert_eq!(close[0].header.command, Command::CLOSE);
    assert_eq!(close[0].header.tree_id, 9);
    let got = crate::smb2::close::CloseRequest::decode(&close[0].msg).unwrap();
    assert_eq!(got.file_id, fid);
    // The CLOSE's own answer completes nothing visible.
    feed(
        &mut c,
        &response(&close[0].header, NtStatus::SUCCESS, 1, |w| {
            crate::smb2::close::CloseResponse::default().encode(w)
        }),
        clock.now(),
    );
    assert!(events(&mut c).is_empty());
    assert_eq!(c.messages_in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Compound chains.

#[test]
fn compound_answers_out_of_order_complete_in_order() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let parts = (0..3)
        .map(|_| part(Command::ECHO, 0, 1, |w| EchoRequest.encode(w)))
        .collect();
    let id = c
        .start(
            Request {
                parts,
                related: false,
                tail: Bytes::new(),
                signing: Signing::Session,
                deadline: clock.now() + LIMIT,
                operation: "chain",
            },
            clock.now(),
        )
        .unwrap();
    let seen = s.take(&mut c);
    assert_eq!(seen.len(), 3, "one frame, three messages");
    for r in seen.iter().rev() {
        feed(&mut c, &echo_response(&r.header), clock.now());
    }
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    let rs = done[0].1.as_ref().unwrap();
    assert_eq!(
        rs.iter().map(|r| r.header.message_id).collect::<Vec<_>>(),
        seen.iter().map(|r| r.header.message_id).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------
// Hostile or broken frames.

#[test]
fn response_to_nothing_closes_the_connection_and_fails_the_waiting() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let waiting = echo(&mut c, &clock, LIMIT);
    let req = s.take(&mut c).remove(0);
    let mut other = req.header.clone();
    other.message_id += 40;
    feed(&mut c, &echo_response(&other), clock.now());
    let ev = events(&mut c);
    let done = completed(&ev);
    assert_eq!(done[0].0, waiting);
    assert!(
        matches!(&done[0].1, Err(ConnError::Protocol(_))),
        "{:?}",
        done[0].1
    );
    assert!(matches!(ev.last(), Some(Event::Closed(_))));
    assert_closed(&mut c, &clock);
}

#[test]
fn duplicated_response_closes_the_connection() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        vec![echo_response(&r.header), echo_response(&r.header)]
    });
    assert!(completed(&ev)[0].1.is_ok());
    assert!(matches!(
        ev.last(),
        Some(Event::Closed(ConnError::Protocol(_)))
    ));
    assert_closed(&mut c, &clock);
}

#[test]
fn a_response_of_another_command_is_refused() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        let mut h = r.header.clone();
        h.command = Command::READ;
        vec![response(&h, NtStatus::SUCCESS, 1, error_body)]
    });
    assert!(matches!(&completed(&ev)[0].1, Err(ConnError::Protocol(_))));
    assert_closed(&mut c, &clock);
}

#[test]
fn truncated_and_corrupted_frames_close_the_connection() {
    type Mangle = Box<dyn Fn(Vec<u8>) -> Vec<u8>>;
    let cases: Vec<(&str, Mangle)> = vec![
        ("truncated header", Box::new(|m: Vec<u8>| m[..40].to_vec())),
        ("empty", Box::new(|_| Vec::new())),
        (
            "bad protocol id",
            Box::new(|mut m: Vec<u8>| {
                m[0] = 0x00;
                m
            }),
        ),
        (
            "a request",
            Box::new(|mut m: Vec<u8>| {
                m[16] &= !1;
                m
            }),
        ),
        (
            "bad NextCommand",
            Box::new(|mut m: Vec<u8>| {
                m[20] = 3;
                m
            }),
        ),
    ];
    for (case, mangle) in cases {
        let clock = Clock(Instant::now());
        let mut c = established(10, false, &clock);
        let s = Server::new();
        let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
            vec![mangle(echo_response(&r.header))]
        });
        assert!(
            matches!(&completed(&ev)[0].1, Err(ConnError::Protocol(_))),
            "{case}: {ev:?}"
        );
        assert_closed(&mut c, &clock);
    }
}

#[test]
fn random_frames_never_panic() {
    // A fixed xorshift so that the run is the same every time.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..2000 {
        let clock = Clock(Instant::now());
        let mut c = established(10, round % 2 == 0, &clock);
        let s = Server::new();
        echo(&mut c, &clock, LIMIT);
        let req = s.take(&mut c).remove(0);
        let mut frame = if round % 2 == 0 {
            s.seal(&echo_response(&req.header))
        } else {
            echo_response(&req.header)
        };
        let flips = 1 + next() % 4;
        for _ in 0..flips {
            let i = (next() as usize) % frame.len();
            frame[i] ^= 1 << (next() % 8);
        }
        if next() % 5 == 0 {
            let cut = (next() as usize) % frame.len();
            frame.truncate(cut);
        }
        feed(&mut c, &frame, clock.now());
        let ev = events(&mut c);
        // Either the echo was answered, or the connection closed with
        // everything failed; never a request left hanging.
        if !c.is_closed() {
            assert_eq!(completed(&ev).len(), 1, "round {round}");
        } else {
            assert!(matches!(ev.last(), Some(Event::Closed(_))), "round {round}");
        }
    }
}

#[test]
fn bad_signature_fails_the_request_and_keeps_the_connection() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    c.session.signer = Some(Arc::new(Signer::new(
        SigningAlgorithm::AesCmac,
        &[0x33; 16],
    )));
    c.session.signing_required = true;
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        let mut m = echo_response(&r.header);
        Signer::new(SigningAlgorithm::AesCmac, &[0x44; 16]).sign(&mut m);
        vec![m]
    });
    assert!(matches!(
        &completed(&ev)[0].1,
        Err(ConnError::Protocol(Violation::BadSignature { .. }))
    ));
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| vec![echo_response(&r.header)]);
    assert!(matches!(
        &completed(&ev)[0].1,
        Err(ConnError::Protocol(Violation::Unsigned { .. }))
    ));
    let signer = Signer::new(SigningAlgorithm::AesCmac, &[0x33; 16]);
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        assert!(signer.verify(&r.msg), "requests are signed");
        let mut m = echo_response(&r.header);
        signer.sign(&mut m);
        vec![m]
    });
    assert!(completed(&ev)[0].1.is_ok());
    assert!(!c.is_closed());
}

// ---------------------------------------------------------------------------
// Encryption (MS-SMB2 §3.2.4.1.8, §3.2.5.1.1.1, §3.3.4.1.4).

#[test]
fn encrypted_response_is_taken_and_its_replay_refused() {
    let clock = Clock(Instant::now());
    let mut c = established(10, true, &clock);
    let s = Server::new();
    let mut sent = Vec::new();
    let (_, ev) = echo_answered(&mut c, &s, &clock, |s, r| {
        assert!(
            r.encrypted,
            "a request of an encrypted session went out in plain"
        );
        sent = s.seal(&echo_response(&r.header));
        vec![sent.clone()]
    });
    assert!(completed(&ev)[0].1.as_ref().unwrap()[0].encrypted);
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, _| vec![sent.clone()]);
    match &completed(&ev)[0].1 {
        Err(ConnError::Protocol(Violation::Decryption(m))) => {
            assert_eq!(m, &crate::conn::Decryption::Replay)
        }
        e => panic!("{e:?}"),
    }
    assert_closed(&mut c, &clock);
}

#[test]
fn plaintext_response_to_an_encrypted_request_is_refused() {
    for interim_first in [false, true] {
        for signed in [false, true] {
            let clock = Clock(Instant::now());
            let mut c = established(10, true, &clock);
            let s = Server::new();
            let signer = Signer::new(SigningAlgorithm::AesCmac, &[0x33; 16]);
            c.session.signer = Some(Arc::new(Signer::new(
                SigningAlgorithm::AesCmac,
                &[0x33; 16],
            )));
            let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
                let mut m = if interim_first {
                    interim(&r.header, 7)
                } else {
                    echo_response(&r.header)
                };
                if signed {
                    // Signing does not stand in for encryption.
                    signer.sign(&mut m);
                }
                vec![m]
            });
            assert!(
                matches!(
                    &completed(&ev)[0].1,
                    Err(ConnError::Protocol(Violation::Unencrypted { command })) if *command == crate::conn::CommandCode::Smb2(Command::ECHO)
                ),
                "{ev:?}"
            );
            assert_closed(&mut c, &clock);
        }
    }
}

#[test]
fn undecryptable_responses_fail_with_decryption() {
    type Make = Box<dyn Fn(&Server, &Header) -> Vec<u8>>;
    let flipped = |i: usize| -> Make {
        Box::new(move |s: &Server, req: &Header| {
            let mut f = s.seal(&echo_response(req));
            f[i] ^= 0x04;
            f
        })
    };
    let cases: Vec<(&str, &str, Make)> = vec![
        (
            "wrong SessionId",
            "encrypted frame for session",
            Box::new(|_: &Server, req: &Header| {
                let enc = Encryptor::new(CIPHER, &TO_CLIENT, SESSION + 1, [0; 4]).unwrap();
                let mut f = Vec::new();
                enc.seal_parts(&[&echo_response(req)], &mut f).unwrap();
                f
            }),
        ),
        (
            "wrong key",
            "failed authentication",
            Box::new(|_: &Server, req: &Header| {
                let enc = Encryptor::new(CIPHER, &TO_SERVER, SESSION, [0; 4]).unwrap();
                let mut f = Vec::new();
                enc.seal_parts(&[&echo_response(req)], &mut f).unwrap();
                f
            }),
        ),
        (
            "ciphertext",
            "failed authentication",
            flipped(TRANSFORM_HEADER_LEN + 30),
        ),
        ("tag", "failed authentication", flipped(10)),
        ("nonce", "failed authentication", flipped(25)),
        ("OriginalMessageSize", "malformed", flipped(37)),
        ("Reserved", "failed authentication", flipped(41)),
        ("Flags", "malformed", flipped(42)),
        (
            "nested TRANSFORM_HEADER",
            "itself encrypted",
            Box::new(|s: &Server, req: &Header| s.seal(&s.seal(&echo_response(req)))),
        ),
    ];
    for (case, says, make) in cases {
        let clock = Clock(Instant::now());
        let mut c = established(10, true, &clock);
        let s = Server::new();
        let (_, ev) = echo_answered(&mut c, &s, &clock, |s, r| vec![make(s, &r.header)]);
        match &completed(&ev)[0].1 {
            Err(ConnError::Protocol(Violation::Decryption(m))) => {
                assert!(
                    matches!(m, crate::conn::Decryption::Rejected(_)),
                    "{case}: {m:?}"
                );
                assert!(m.to_string().contains(says), "{case}: {m}")
            }
            e => panic!("{case}: {e:?}"),
        }
        assert_closed(&mut c, &clock);
    }
}

#[test]
fn authentic_frame_without_an_smb2_message_is_a_protocol_error() {
    let clock = Clock(Instant::now());
    let mut c = established(10, true, &clock);
    let s = Server::new();
    let (_, ev) = echo_answered(&mut c, &s, &clock, |s, _| {
        vec![s.seal(b"\xFFSMB not an SMB2 message at all, long enough to be one")]
    });
    assert!(matches!(&completed(&ev)[0].1, Err(ConnError::Protocol(_))));
    assert_closed(&mut c, &clock);
}

#[test]
fn cancelled_request_keeps_the_encryption_rules() {
    for plaintext_final in [false, true] {
        let mut clock = Clock(Instant::now());
        let mut c = established(10, true, &clock);
        let s = Server::new();
        echo(&mut c, &clock, Duration::from_millis(200));
        let req = s.take(&mut c).remove(0);
        let now = clock.advance(Duration::from_millis(200));
        c.handle_timeout(now);
        assert!(matches!(
            &completed(&events(&mut c))[0].1,
            Err(ConnError::Timeout { .. })
        ));
        let cancel = s.take(&mut c).remove(0);
        assert_eq!(cancel.header.command, Command::CANCEL);
        assert!(cancel.encrypted, "a CANCEL is encrypted like its request");
        let final_response = response(&req.header, NtStatus::CANCELLED, 1, error_body);
        if plaintext_final {
            feed(&mut c, &final_response, clock.now());
            assert_closed(&mut c, &clock);
        } else {
            feed(&mut c, &s.seal(&final_response), clock.now());
            let (_, ev) = echo_answered(&mut c, &s, &clock, |s, r| {
                vec![s.seal(&echo_response(&r.header))]
            });
            assert!(completed(&ev)[0].1.is_ok());
            assert!(!c.is_closed());
        }
    }
}

#[test]
fn share_that_asks_for_encryption_gets_its_requests_encrypted() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    assert!(!c.tree_connected(5, 0).unwrap());
    assert!(c
        .tree_connected(6, crate::smb2::tree_connect::share_flags::ENCRYPT_DATA)
        .unwrap());
    for (tree, encrypted) in [(5, false), (6, true), (0, false)] {
        let part = part(Command::ECHO, tree, 1, |w| EchoRequest.encode(w));
        c.start(
            Request::single(part, clock.now() + LIMIT, "echo"),
            clock.now(),
        )
        .unwrap();
        assert_eq!(s.take(&mut c)[0].encrypted, encrypted, "tree {tree}");
    }
    c.tree_disconnected(6);
    c.session.encryptor = None;
    assert!(c
        .tree_connected(7, crate::smb2::tree_connect::share_flags::ENCRYPT_DATA)
        .is_err());
}

// ---------------------------------------------------------------------------
// The handshake, against a scripted server.

/// The server's side of the handshake, one step at a time.
pub(super) fn negotiate_response(req: &Seen) -> Vec<u8> {
    response(&req.header, NtStatus::SUCCESS, 32, |w| {
        NegotiateResponse {
            security_mode: security_mode::SIGNING_ENABLED,
            dialect: Dialect::SMB2_1,
            server_guid: [7; 16],
            capabilities: 0,
            max_transact_size: 65536,
            max_read_size: 65536,
            max_write_size: 65536,
            system_time: 0,
            server_start_time: 0,
            security_buffer: Vec::new(),
            contexts: Vec::new(),
        }
        .encode(w)
        .unwrap()
    })
}

pub(super) fn challenge_response(req: &Seen) -> Vec<u8> {
    let challenge = ChallengeMessage {
        target_name: "SERVER".into(),
        flags: crate::ntlm::flags::NEGOTIATE_UNICODE
            | crate::ntlm::flags::NEGOTIATE_NTLM
            | crate::ntlm::flags::NEGOTIATE_EXTENDED_SESSIONSECURITY
            | crate::ntlm::flags::NEGOTIATE_SIGN,
        server_challenge: [9; 8],
        target_info: AvPairs(Vec::new()),
        version: None,
    }
    .encode()
    .unwrap();
    let mut h = req.header.clone();
    h.session_id = SESSION;
    response(&h, NtStatus::MORE_PROCESSING_REQUIRED, 32, |w| {
        SessionSetupResponse {
            session_flags: 0,
            security_buffer: crate::spnego::neg_token_resp(Some(&challenge), None),
        }
        .encode(w)
        .unwrap()
    })
}

pub(super) fn accept_response(req: &Seen) -> Vec<u8> {
    response(&req.header, NtStatus::SUCCESS, 32, |w| {
        SessionSetupResponse {
            session_flags: 0,
            security_buffer: Vec::new(),
        }
        .encode(w)
        .unwrap()
    })
}

#[test]
fn handshake_against_a_scripted_server() {
    let clock = Clock(Instant::now());
    let mut c = Smb2Connection::new(config(), clock.now());
    let s = Server::new();
    let neg = s.take(&mut c).remove(0);
    assert_eq!(neg.header.command, Command::NEGOTIATE);
    assert_eq!(neg.header.message_id, 0);
    feed(&mut c, &negotiate_response(&neg), clock.now());
    let setup1 = s.take(&mut c).remove(0);
    assert_eq!(setup1.header.command, Command::SESSION_SETUP);
    assert_eq!(setup1.header.message_id, 1);
    feed(&mut c, &challenge_response(&setup1), clock.now());
    let setup2 = s.take(&mut c).remove(0);
    assert_eq!(setup2.header.session_id, SESSION);
    assert!(!c.is_established());
    feed(&mut c, &accept_response(&setup2), clock.now());
    let ev = events(&mut c);
    let Some(Event::Established(e)) = ev.first() else {
        panic!("{ev:?}")
    };
    assert_eq!(e.dialect, Dialect::SMB2_1);
    assert!(!e.signing);
    assert!(c.is_established());
    assert_eq!(c.session_id(), SESSION);
    assert_eq!(c.max_frame(), 65536 + 64 * 1024);
    // Requests flow on the established session.
    let id = echo(&mut c, &clock, LIMIT);
    let req = s.take(&mut c).remove(0);
    assert_eq!(req.header.session_id, SESSION);
    feed(&mut c, &echo_response(&req.header), clock.now());
    assert_eq!(completed(&events(&mut c))[0].0, id);
}

#[test]
fn requests_are_refused_until_the_handshake_is_done() {
    let clock = Clock(Instant::now());
    let mut c = Smb2Connection::new(config(), clock.now());
    let part = part(Command::ECHO, 0, 1, |w| EchoRequest.encode(w));
    assert!(c
        .start(
            Request::single(part, clock.now() + LIMIT, "echo"),
            clock.now()
        )
        .is_err());
}

/// Runs the handshake up to step `stop` (0: before the NEGOTIATE
/// response, 1: before the first SESSION_SETUP response, 2: before the
/// last), then lets `fault` happen.
fn handshake_until(stop: usize, clock: &Clock) -> Smb2Connection {
    let mut c = Smb2Connection::new(config(), clock.now());
    let s = Server::new();
    let steps: [fn(&Seen) -> Vec<u8>; 3] =
        [negotiate_response, challenge_response, accept_response];
    for step in steps.iter().take(stop) {
        let req = s.take(&mut c).remove(0);
        feed(&mut c, &step(&req), clock.now());
    }
    assert_eq!(s.take(&mut c).len(), 1, "a request waits for its answer");
    c
}

#[test]
fn handshake_stalled_at_every_step_times_out() {
    for stop in 0..3 {
        let mut clock = Clock(Instant::now());
        let mut c = handshake_until(stop, &clock);
        let deadline = c.poll_timeout().unwrap();
        assert_eq!(deadline, clock.now() + Duration::from_secs(30));
        c.handle_timeout(clock.advance(Duration::from_secs(29)));
        assert!(!c.is_closed());
        c.handle_timeout(clock.advance(Duration::from_secs(1)));
        let ev = events(&mut c);
        let want = if stop == 0 {
            "negotiating the protocol"
        } else {
            "authenticating"
        };
        assert!(
            matches!(ev.last(), Some(Event::Closed(ConnError::Timeout { operation, .. })) if *operation == want),
            "step {stop}: {ev:?}"
        );
    }
}

#[test]
fn handshake_cut_at_every_step_closes() {
    for stop in 0..3 {
        let clock = Clock(Instant::now());
        let mut c = handshake_until(stop, &clock);
        c.handle_stream_error("connection reset");
        let ev = events(&mut c);
        assert!(
            matches!(ev.last(), Some(Event::Closed(ConnError::NotConnected))),
            "step {stop}: {ev:?}"
        );
        assert!(c.poll_timeout().is_none());
    }
}

#[test]
fn handshake_refused_logon_is_auth_failed() {
    let clock = Clock(Instant::now());
    let mut c = handshake_until(2, &clock);
    let s = Server::new();
    let _ = s.take(&mut c);
    // handshake_until left the last SESSION_SETUP unanswered: answer it.
    let mut h = Header::request(Command::SESSION_SETUP);
    h.message_id = 2;
    h.session_id = SESSION;
    let req = Seen {
        header: h,
        msg: Vec::new(),
        encrypted: false,
    };
    feed(
        &mut c,
        &response(&req.header, NtStatus::LOGON_FAILURE, 1, error_body),
        clock.now(),
    );
    let ev = events(&mut c);
    assert!(
        matches!(ev.last(), Some(Event::Closed(ConnError::AuthFailed { status, .. })) if *status == NtStatus::LOGON_FAILURE),
        "{ev:?}"
    );
}

#[test]
fn handshake_with_a_garbled_answer_at_every_step_closes_with_a_protocol_error() {
    for stop in 0..3 {
        for cut in [10usize, 64, 70] {
            let clock = Clock(Instant::now());
            let mut c = Smb2Connection::new(config(), clock.now());
            let s = Server::new();
            let steps: [fn(&Seen) -> Vec<u8>; 3] =
                [negotiate_response, challenge_response, accept_response];
            for step in steps.iter().take(stop) {
                let req = s.take(&mut c).remove(0);
                feed(&mut c, &step(&req), clock.now());
            }
            let req = s.take(&mut c).remove(0);
            let mut m = steps[stop](&req);
            m.truncate(cut.min(m.len()));
            feed(&mut c, &m, clock.now());
            let ev = events(&mut c);
            assert!(
                matches!(ev.last(), Some(Event::Closed(ConnError::Protocol(_)))),
                "step {stop}, cut {cut}: {ev:?}"
            );
        }
    }
}

#[test]
fn tree_connect_given_up_on_is_disconnected_when_it_succeeds() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let (id, req) = start_tree_connect(&mut c, &s, &clock);
    c.cancel(id);
    assert_eq!(s.take(&mut c)[0].header.command, Command::CANCEL);
    answer_tree_connect(&mut c, &req, 0x55, &clock);
    let out = s.take(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].header.command, Command::TREE_DISCONNECT);
    assert_eq!(out[0].header.tree_id, 0x55);
}

#[test]
fn small_request_passes_a_large_one_waiting_for_credits() {
    let clock = Clock(Instant::now());
    let mut c = established(4, false, &clock);
    let s = Server::new();
    let big = c
        .start(
            Request::single(
                part(Command::READ, 7, 16, |w| {
                    w.zeros(49).u8(0).truncate(64 + 49)
                }),
                clock.now() + LIMIT,
                "read",
            ),
            clock.now(),
        )
        .unwrap();
    let small = echo(&mut c, &clock, LIMIT);
    let sent = s.take(&mut c);
    assert_eq!(sent.len(), 1, "only the echo fits");
    assert_eq!(sent[0].header.command, Command::ECHO);
    feed(
        &mut c,
        &response(&sent[0].header, NtStatus::SUCCESS, 20, |w| {
            EchoResponse.encode(w)
        }),
        clock.now(),
    );
    let read = s.take(&mut c);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].header.command, Command::READ);
    assert_eq!(completed(&events(&mut c))[0].0, small);
    let _ = big;
}

// ---------------------------------------------------------------------------
// Secure dialect negotiation (FSCTL_VALIDATE_NEGOTIATE_INFO).

const SIGNING_KEY: [u8; 16] = [0x33; 16];

fn validation_expected() -> crate::smb2::ioctl::ValidateNegotiateInfoResponse {
    crate::smb2::ioctl::ValidateNegotiateInfoResponse {
        capabilities: 0x2f,
        guid: [9; 16],
        security_mode: 1,
        dialect: 0x0300,
    }
}

/// An SMB 3.0 connection with a signing key whose negotiation is still to
/// be validated.
fn validating(clock: &Clock) -> Smb2Connection {
    let mut c = established(10, false, clock);
    c.dialect = Dialect::SMB3_0;
    c.session.signer = Some(Arc::new(Signer::new(
        SigningAlgorithm::AesCmac,
        &SIGNING_KEY,
    )));
    c.expect_validation(
        crate::smb2::ioctl::ValidateNegotiateInfoRequest {
            capabilities: 0x7f,
            guid: [4; 16],
            security_mode: 1,
            dialects: vec![0x0202, 0x0210, 0x0300],
        },
        validation_expected(),
    );
    c
}

/// Starts a TREE_CONNECT and answers it with TreeId `tree_id`; the request
/// and the messages the client sent next.
fn tree_connected(
    c: &mut Smb2Connection,
    s: &Server,
    clock: &Clock,
    tree_id: u32,
) -> (RequestId, Vec<Seen>) {
    let (id, req) = start_tree_connect(c, s, clock);
    answer_tree_connect(c, &req, tree_id, clock);
    (id, s.take(c))
}

/// Starts a TREE_CONNECT; the request and the message the server got.
fn start_tree_connect(c: &mut Smb2Connection, s: &Server, clock: &Clock) -> (RequestId, Seen) {
    let id = c
        .start(
            Request::single(
                part(Command::TREE_CONNECT, 0, 1, |w| {
                    w.zeros(9);
                }),
                clock.now() + LIMIT,
                "tree connect",
            ),
            clock.now(),
        )
        .unwrap();
    (id, s.take(c).remove(0))
}

/// The server's success answer to the TREE_CONNECT `req`, with TreeId
/// `tree_id`.
fn answer_tree_connect(c: &mut Smb2Connection, req: &Seen, tree_id: u32, clock: &Clock) {
    let mut h = req.header.clone();
    h.tree_id = tree_id;
    feed(
        c,
        &response(&h, NtStatus::SUCCESS, 1, |w| {
            w.u16(16).u8(1).u8(0).u32(0).u32(0).u32(0x1f01ff);
        }),
        clock.now(),
    );
}

/// The server's signed answer to the validation IOCTL `req`, saying `v`.
fn validation_answer(
    req: &Seen,
    status: NtStatus,
    v: Option<crate::smb2::ioctl::ValidateNegotiateInfoResponse>,
    signed: bool,
) -> Vec<u8> {
    let mut m = response(&req.header, status, 1, |w| match v {
        Some(v) => {
            let mut out = Writer::new();
            out.u32(v.capabilities)
                .bytes(&v.guid)
                .u16(v.security_mode)
                .u16(v.dialect);
            crate::smb2::ioctl::IoctlResponse {
                ctl_code: crate::smb2::ioctl::ctl_code::FSCTL_VALIDATE_NEGOTIATE_INFO,
                file_id: FileId::ANY,
                input: Vec::new(),
                output: out.into_vec(),
                flags: 0,
            }
            .encode(w)
            .unwrap()
        }
        None => error_body(w),
    });
    if signed {
        Signer::new(SigningAlgorithm::AesCmac, &SIGNING_KEY).sign(&mut m);
    }
    m
}

#[test]
fn tree_connect_completes_once_the_negotiation_is_validated() {
    let clock = Clock(Instant::now());
    let mut c = validating(&clock);
    let s = Server::new();
    let (id, sent) = tree_connected(&mut c, &s, &clock, 0x41);
    assert!(
        events(&mut c).is_empty(),
        "the tree connect waits for the validation"
    );
    assert_eq!(sent.len(), 1);
    let ioctl = &sent[0];
    assert_eq!(ioctl.header.command, Command::IOCTL);
    assert_eq!(ioctl.header.tree_id, 0x41);
    let signer = Signer::new(SigningAlgorithm::AesCmac, &SIGNING_KEY);
    assert!(signer.verify(&ioctl.msg), "the IOCTL is signed");
    let req = crate::smb2::ioctl::IoctlRequest::decode(&ioctl.msg).unwrap();
    assert_eq!(
        req.ctl_code,
        crate::smb2::ioctl::ctl_code::FSCTL_VALIDATE_NEGOTIATE_INFO
    );
    assert_eq!(
        &req.input[20..24],
        &[1, 0, 3, 0],
        "SecurityMode, DialectCount"
    );
    feed(
        &mut c,
        &validation_answer(ioctl, NtStatus::SUCCESS, Some(validation_expected()), true),
        clock.now(),
    );
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert_eq!(done[0].1.as_ref().unwrap()[0].header.tree_id, 0x41);
    assert!(c.is_negotiate_validated());
    // Only the first tree connect is validated.
    let (_, sent) = tree_connected(&mut c, &s, &clock, 0x42);
    assert!(sent.is_empty());
    assert_eq!(completed(&events(&mut c)).len(), 1);
}

#[test]
fn a_validation_that_differs_or_is_unsigned_closes_the_connection() {
    let bad = |v: &mut crate::smb2::ioctl::ValidateNegotiateInfoResponse| v.dialect = 0x0202;
    for case in ["mismatch", "unsigned", "access denied", "bad signature"] {
        let clock = Clock(Instant::now());
        let mut c = validating(&clock);
        let s = Server::new();
        let (id, sent) = tree_connected(&mut c, &s, &clock, 0x41);
        let mut v = validation_expected();
        let answer = match case {
            "mismatch" => {
                bad(&mut v);
                validation_answer(&sent[0], NtStatus::SUCCESS, Some(v), true)
            }
            "unsigned" => validation_answer(&sent[0], NtStatus::SUCCESS, Some(v), false),
            "access denied" => validation_answer(&sent[0], NtStatus::ACCESS_DENIED, None, true),
            _ => {
                let mut m = validation_answer(&sent[0], NtStatus::SUCCESS, Some(v), false);
                Signer::new(SigningAlgorithm::AesCmac, &[0x44; 16]).sign(&mut m);
                m
            }
        };
        feed(&mut c, &answer, clock.now());
        let ev = events(&mut c);
        let done = completed(&ev);
        assert_eq!(done.len(), 1, "{case}");
        assert_eq!(done[0].0, id);
        assert!(
            matches!(&done[0].1, Err(ConnError::Protocol(_))),
            "{case}: {:?}",
            done[0].1
        );
        assert!(matches!(ev.last(), Some(Event::Closed(_))), "{case}");
        assert!(!c.is_negotiate_validated());
        assert_closed(&mut c, &clock);
    }
}

#[test]
fn a_server_without_validation_still_gets_its_tree_connected() {
    let clock = Clock(Instant::now());
    let mut c = validating(&clock);
    let s = Server::new();
    let (id, sent) = tree_connected(&mut c, &s, &clock, 0x41);
    feed(
        &mut c,
        &validation_answer(&sent[0], NtStatus::NOT_SUPPORTED, None, true),
        clock.now(),
    );
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    assert!(done[0].1.is_ok());
    assert!(!c.is_negotiate_validated());
    assert!(!c.is_closed());
}

#[test]
fn tree_connect_given_up_on_during_the_validation_is_disconnected() {
    let clock = Clock(Instant::now());
    let mut c = validating(&clock);
    let s = Server::new();
    let (id, sent) = tree_connected(&mut c, &s, &clock, 0x41);
    c.cancel(id);
    feed(
        &mut c,
        &validation_answer(
            &sent[0],
            NtStatus::SUCCESS,
            Some(validation_expected()),
            true,
        ),
        clock.now(),
    );
    assert!(completed(&events(&mut c)).is_empty());
    assert!(c.is_negotiate_validated());
    let out = s.take(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].header.command, Command::TREE_DISCONNECT);
    assert_eq!(out[0].header.tree_id, 0x41);
}

#[test]
fn a_stalled_validation_fails_the_tree_connect_and_runs_again_next_time() {
    let mut clock = Clock(Instant::now());
    let mut c = validating(&clock);
    let s = Server::new();
    let (id, sent) = tree_connected(&mut c, &s, &clock, 0x41);
    assert_eq!(sent.len(), 1);
    let now = clock.advance(LIMIT);
    c.handle_timeout(now);
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert!(matches!(done[0].1, Err(ConnError::Timeout { .. })));
    let out = s.take(&mut c);
    assert_eq!(
        out.iter().map(|m| m.header.command).collect::<Vec<_>>(),
        [Command::CANCEL, Command::TREE_DISCONNECT]
    );
    assert!(!c.is_closed());
    let (_, sent) = tree_connected(&mut c, &s, &clock, 0x42);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header.command, Command::IOCTL);
}

#[test]
fn a_connection_closed_during_the_validation_fails_the_tree_connect() {
    let clock = Clock(Instant::now());
    let mut c = validating(&clock);
    let s = Server::new();
    let (id, _) = tree_connected(&mut c, &s, &clock, 0x41);
    c.handle_stream_error("reset");
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert!(matches!(done[0].1, Err(ConnError::NotConnected)));
}

// ---------------------------------------------------------------------------
// Dead-peer detection and keep-alive.

fn watched(dead_after: u64, keepalive: Option<u64>, clock: &Clock) -> Smb2Connection {
    let mut c = established(10, false, clock);
    c.set_liveness(
        crate::conn::Liveness {
            dead_after: Some(Duration::from_secs(dead_after)),
            keepalive: keepalive.map(Duration::from_secs),
        },
        clock.now(),
    );
    c
}

#[test]
fn a_silent_server_owing_an_answer_is_declared_dead() {
    let mut clock = Clock(Instant::now());
    let mut c = watched(5, None, &clock);
    let s = Server::new();
    let id = echo(&mut c, &clock, Duration::from_secs(60));
    assert_eq!(s.take(&mut c).len(), 1);
    assert_eq!(c.poll_timeout(), Some(clock.now() + Duration::from_secs(5)));
    let now = clock.advance(Duration::from_secs(5));
    c.handle_timeout(now);
    let ev = events(&mut c);
    let done = completed(&ev);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert!(
        matches!(done[0].1, Err(ConnError::NotConnected)),
        "{:?}",
        done[0].1
    );
    assert!(matches!(
        ev.last(),
        Some(Event::Closed(ConnError::PeerDead { silent })) if *silent == Duration::from_secs(5)
    ));
    assert_closed(&mut c, &clock);
}

#[test]
fn a_slow_server_that_keeps_sending_is_not_dead() {
    let mut clock = Clock(Instant::now());
    let mut c = watched(5, None, &clock);
    let s = Server::new();
    let id = echo(&mut c, &clock, Duration::from_secs(600));
    let req = s.take(&mut c).remove(0);
    // Bytes of a large answer trickle in: not silence.
    for _ in 0..3 {
        let now = clock.advance(Duration::from_secs(4));
        c.handle_activity(now);
        c.handle_timeout(now);
    }
    assert!(!c.is_closed());
    // An interim response: the server has taken the request, which may
    // now take as long as it needs.
    feed(&mut c, &interim(&req.header, 77), clock.now());
    assert_eq!(c.poll_timeout(), Some(req_deadline(&clock, 600, 12)));
    let now = clock.advance(Duration::from_secs(300));
    c.handle_timeout(now);
    assert!(!c.is_closed());
    feed(&mut c, &echo_response(&req.header), now);
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    assert!(done[0].1.is_ok());
}

/// The deadline of a request started `elapsed` seconds ago with a limit of
/// `limit` seconds.
fn req_deadline(clock: &Clock, limit: u64, elapsed: u64) -> Instant {
    clock.now() + Duration::from_secs(limit) - Duration::from_secs(elapsed)
}

#[test]
fn an_idle_connection_sends_keepalive_echoes_and_dies_when_one_is_unanswered() {
    let mut clock = Clock(Instant::now());
    let mut c = watched(10, Some(60), &clock);
    let s = Server::new();
    assert_eq!(
        c.poll_timeout(),
        Some(clock.now() + Duration::from_secs(60))
    );
    let now = clock.advance(Duration::from_secs(60));
    c.handle_timeout(now);
    let probe = s.take(&mut c);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].header.command, Command::ECHO);
    let now = clock.advance(Duration::from_secs(1));
    feed(&mut c, &echo_response(&probe[0].header), now);
    assert!(events(&mut c).is_empty(), "the caller never sees the probe");
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(60)));
    // A request of the caller's counts as traffic: the next probe waits.
    let now = clock.advance(Duration::from_secs(30));
    echo_answered(&mut c, &s, &clock, |_, r| vec![echo_response(&r.header)]);
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(60)));
    let now = clock.advance(Duration::from_secs(60));
    c.handle_timeout(now);
    assert_eq!(s.take(&mut c)[0].header.command, Command::ECHO);
    // This one goes unanswered.
    let now = clock.advance(Duration::from_secs(10));
    c.handle_timeout(now);
    assert!(matches!(
        events(&mut c).last(),
        Some(Event::Closed(ConnError::PeerDead { .. }))
    ));
    assert_closed(&mut c, &clock);
}

#[test]
fn liveness_is_off_until_set() {
    let mut clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    echo(&mut c, &clock, Duration::from_secs(600));
    s.take(&mut c);
    assert_eq!(
        c.poll_timeout(),
        Some(clock.now() + Duration::from_secs(600))
    );
    let now = clock.advance(Duration::from_secs(599));
    c.handle_timeout(now);
    assert!(!c.is_closed());
    assert!(s.take(&mut c).is_empty(), "no keep-alive either");
}

// ---------------------------------------------------------------------------
// Oplock and lease breaks.

/// An unsolicited OPLOCK_BREAK notification with `body`.
fn break_notification(body: &[u8]) -> Vec<u8> {
    let mut h = Header::request(Command::OPLOCK_BREAK);
    h.flags |= flags::SERVER_TO_REDIR;
    h.message_id = u64::MAX;
    h.tree_id = 0x21;
    let mut w = Writer::new();
    h.encode(&mut w);
    w.bytes(body);
    w.into_vec()
}

#[test]
fn breaks_are_acknowledged_at_once_and_nobody_sees_them() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    // A lease break that asks for an acknowledgment: RWH to R.
    let mut lease = Writer::new();
    lease
        .u16(44)
        .u16(2)
        .u32(crate::smb2::oplock::break_flags::ACK_REQUIRED)
        .bytes(&[4; 16])
        .u32(7)
        .u32(1)
        .zeros(12);
    feed(&mut c, &break_notification(lease.as_slice()), clock.now());
    assert!(events(&mut c).is_empty());
    let ack = s.take(&mut c);
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].header.command, Command::OPLOCK_BREAK);
    assert_eq!(ack[0].header.tree_id, 0x21);
    let body = &ack[0].msg[HEADER_LEN..];
    assert_eq!(&body[..2], &[36, 0]);
    assert_eq!(&body[8..24], &[4; 16]);
    assert_eq!(&body[24..28], &1u32.to_le_bytes(), "the state broken to");
    // The server's Lease Break Response completes nothing visible.
    feed(
        &mut c,
        &response(&ack[0].header, NtStatus::SUCCESS, 1, |w| {
            w.bytes(body);
        }),
        clock.now(),
    );
    assert!(events(&mut c).is_empty());
    assert_eq!(c.messages_in_flight(), 0);

    // An oplock break: acknowledged at the level offered, for the file.
    let fid = FileId {
        persistent: 11,
        volatile: 12,
    };
    let mut oplock = Writer::new();
    oplock.u16(24).u8(0).u8(0).u32(0);
    fid.encode(&mut oplock);
    feed(&mut c, &break_notification(oplock.as_slice()), clock.now());
    let ack = s.take(&mut c);
    assert_eq!(ack.len(), 1);
    assert_eq!(&ack[0].msg[HEADER_LEN..], oplock.as_slice());

    // No acknowledgment asked for, or a garbled notification: nothing
    // sent, the connection goes on.
    let mut quiet = lease.into_vec();
    quiet[4] = 0;
    feed(&mut c, &break_notification(&quiet), clock.now());
    feed(&mut c, &break_notification(&[44, 0, 1]), clock.now());
    assert!(s.take(&mut c).is_empty());
    assert!(!c.is_closed());
    echo_answered(&mut c, &s, &clock, |_, r| vec![echo_response(&r.header)]);
}

// ---------------------------------------------------------------------------
// Re-authentication of an expired session (MS-SMB2 §3.2.5.1.7, §3.2.4.2.3,
// §3.2.5.3.2).

fn session_signer() -> Signer {
    Signer::new(SigningAlgorithm::AesCmac, &SIGNING_KEY)
}

/// An established session that signs its messages (and, with
/// `encrypt_all`, encrypts them).
pub(super) fn signing_session(encrypt_all: bool, clock: &Clock) -> Smb2Connection {
    let mut c = established(10, encrypt_all, clock);
    c.session.signer = Some(Arc::new(session_signer()));
    c.session.signing_required = true;
    c
}

/// `m` signed with the session's key.
pub(super) fn signed(mut m: Vec<u8>) -> Vec<u8> {
    session_signer().sign(&mut m);
    m
}

/// The server's answer to `req` on a session it let expire: unsigned, as
/// such a server may send it.
pub(super) fn expired(req: &Header) -> Vec<u8> {
    response(req, NtStatus::NETWORK_SESSION_EXPIRED, 1, error_body)
}

/// Checks a SESSION_SETUP of the re-authentication: the session's id,
/// signed with its key, in the clear.
fn assert_reauth_setup(seen: &Seen) {
    assert_eq!(seen.header.command, Command::SESSION_SETUP);
    assert_eq!(seen.header.session_id, SESSION, "the existing SessionId");
    assert!(!seen.encrypted, "SESSION_SETUP is never encrypted");
    assert!(seen.header.is_signed());
    assert!(
        session_signer().verify(&seen.msg),
        "signed with the session's key"
    );
    let req = crate::smb2::session_setup::SessionSetupRequest::decode(&seen.msg).unwrap();
    assert_eq!(req.previous_session_id, 0);
    assert_eq!(req.flags, 0, "not a binding");
}

/// The one SESSION_SETUP the client has sent.
pub(super) fn take_setup(c: &mut Smb2Connection, s: &Server) -> Seen {
    let mut out = s.take(c);
    assert_eq!(out.len(), 1, "{out:?}");
    let setup = out.remove(0);
    assert_reauth_setup(&setup);
    setup
}

/// Plays the server's side of the re-authentication the client has
/// started, accepting it with a signed final response; what the client
/// sends next.
fn reauthenticate(c: &mut Smb2Connection, s: &Server, clock: &Clock) -> Vec<Seen> {
    let setup1 = take_setup(c, s);
    feed(c, &challenge_response(&setup1), clock.now());
    assert!(c.is_reauthenticating());
    let setup2 = take_setup(c, s);
    feed(c, &signed(accept_response(&setup2)), clock.now());
    assert!(!c.is_reauthenticating());
    s.take(c)
}

/// A request's completion.
pub(super) type Done = (RequestId, Result<Vec<Response>, ConnError>);

/// The results of the requests among the events, and the closing reason.
pub(super) fn completions_and_close(c: &mut Smb2Connection) -> (Vec<Done>, Option<ConnError>) {
    let ev = events(c);
    let closed = match ev.last() {
        Some(Event::Closed(e)) => Some(e.clone()),
        _ => None,
    };
    (completed(&ev), closed)
}

#[test]
fn expired_session_is_reauthenticated_and_the_request_sent_again() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let signer = c.session.signer.clone().unwrap();
    let id = echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c).remove(0);
    feed(&mut c, &expired(&first.header), clock.now());
    assert!(
        events(&mut c).is_empty(),
        "the expired answer completes nothing"
    );
    assert!(c.is_reauthenticating());
    assert_eq!(c.requests_outstanding(), 1);
    let again = reauthenticate(&mut c, &s, &clock);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].header.command, Command::ECHO);
    assert!(
        again[0].header.message_id > first.header.message_id,
        "a new MessageId"
    );
    assert!(session_signer().verify(&again[0].msg));
    assert!(
        Arc::ptr_eq(c.session.signer.as_ref().unwrap(), &signer),
        "the session keeps its keys"
    );
    feed(
        &mut c,
        &signed(echo_response(&again[0].header)),
        clock.now(),
    );
    let (done, closed) = completions_and_close(&mut c);
    assert!(closed.is_none());
    assert_eq!(done.len(), 1, "one completion, for the retried answer");
    assert_eq!(done[0].0, id);
    let rs = done[0].1.as_ref().unwrap();
    assert_eq!(rs[0].header.message_id, again[0].header.message_id);
    assert_eq!(rs[0].header.status, NtStatus::SUCCESS);
    assert_eq!(c.session_id(), SESSION);
    assert_eq!(c.requests_outstanding(), 0);
    assert_eq!(c.messages_in_flight(), 0);
    assert!(c.poll_timeout().is_none());
}

#[test]
fn requests_expiring_together_share_one_reauthentication_and_go_again_in_order() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let ids: Vec<_> = (0..3).map(|_| echo(&mut c, &clock, LIMIT)).collect();
    let first = s.take(&mut c);
    assert_eq!(first.len(), 3);
    for r in first.iter().rev() {
        feed(&mut c, &expired(&r.header), clock.now());
    }
    assert!(events(&mut c).is_empty());
    // One re-authentication (reauthenticate checks that one SESSION_SETUP
    // went out), then the three requests in the order they were started.
    let again = reauthenticate(&mut c, &s, &clock);
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|r| r.header.command == Command::ECHO));
    let mids: Vec<u64> = again.iter().map(|r| r.header.message_id).collect();
    assert!(mids.windows(2).all(|w| w[0] < w[1]));
    assert!(mids[0] > first.iter().map(|r| r.header.message_id).max().unwrap());
    for r in &again {
        feed(&mut c, &signed(echo_response(&r.header)), clock.now());
    }
    let done = completed(&events(&mut c));
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), ids);
    for (d, mid) in done.iter().zip(&mids) {
        assert_eq!(d.1.as_ref().unwrap()[0].header.message_id, *mid);
    }
}

#[test]
fn requests_started_during_the_reauthentication_wait_for_it() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let held = echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c).remove(0);
    feed(&mut c, &expired(&first.header), clock.now());
    // Started while re-authenticating: taken, not sent.
    let later = echo(&mut c, &clock, LIMIT);
    c.close_handle(
        9,
        FileId {
            persistent: 1,
            volatile: 2,
        },
        clock.now(),
    );
    let setup1 = take_setup(&mut c, &s);
    feed(&mut c, &challenge_response(&setup1), clock.now());
    let setup2 = take_setup(&mut c, &s);
    assert_eq!(c.requests_outstanding(), 2);
    feed(&mut c, &signed(accept_response(&setup2)), clock.now());
    let out = s.take(&mut c);
    assert_eq!(
        out.iter().map(|r| r.header.command).collect::<Vec<_>>(),
        [Command::ECHO, Command::ECHO, Command::CLOSE],
        "the held request first, then those that waited, in order"
    );
    for r in &out {
        feed(&mut c, &signed(echo_response(&r.header)), clock.now());
    }
    let done = completed(&events(&mut c));
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), [held, later]);
    assert_eq!(
        done[0].1.as_ref().unwrap()[0].header.message_id,
        out[0].header.message_id
    );
}

#[test]
fn refused_reauthentication_fails_the_held_requests_and_closes() {
    for round in 0..2 {
        let clock = Clock(Instant::now());
        let mut c = signing_session(false, &clock);
        let s = Server::new();
        let held = echo(&mut c, &clock, LIMIT);
        let other = echo(&mut c, &clock, LIMIT);
        let first = s.take(&mut c);
        feed(&mut c, &expired(&first[0].header), clock.now());
        let waiting = echo(&mut c, &clock, LIMIT);
        let mut setup = take_setup(&mut c, &s);
        if round == 1 {
            feed(&mut c, &challenge_response(&setup), clock.now());
            setup = take_setup(&mut c, &s);
        }
        feed(
            &mut c,
            &response(&setup.header, NtStatus::LOGON_FAILURE, 1, error_body),
            clock.now(),
        );
        let (done, closed) = completions_and_close(&mut c);
        assert!(
            matches!(&closed, Some(ConnError::AuthFailed { status, .. }) if *status == NtStatus::LOGON_FAILURE),
            "round {round}: {closed:?}"
        );
        assert_eq!(done.len(), 3, "round {round}: {done:?}");
        assert_eq!(done[0].0, held, "the held request hears first");
        assert!(
            matches!(&done[0].1, Err(ConnError::AuthFailed { status, .. }) if *status == NtStatus::LOGON_FAILURE)
        );
        // The others fail as on any close.
        assert_eq!(done[1].0, other);
        assert_eq!(done[2].0, waiting);
        assert!(done[1..].iter().all(|d| d.1.is_err()));
        assert_closed(&mut c, &clock);
    }
}

#[test]
fn stalled_reauthentication_times_out_and_closes() {
    for round in 0..2 {
        let mut clock = Clock(Instant::now());
        let mut c = signing_session(false, &clock);
        let s = Server::new();
        let held = echo(&mut c, &clock, Duration::from_secs(300));
        let first = s.take(&mut c).remove(0);
        feed(&mut c, &expired(&first.header), clock.now());
        let started = clock.now();
        let setup = take_setup(&mut c, &s);
        if round == 1 {
            clock.advance(Duration::from_secs(5));
            feed(&mut c, &challenge_response(&setup), clock.now());
            take_setup(&mut c, &s);
        }
        // The configured limit (30 s) bounds the whole re-authentication.
        assert_eq!(c.poll_timeout(), Some(started + Duration::from_secs(30)));
        c.handle_timeout(started + Duration::from_secs(29));
        assert!(!c.is_closed());
        c.handle_timeout(clock.advance(started + Duration::from_secs(30) - clock.now()));
        let (done, closed) = completions_and_close(&mut c);
        let is_timeout = |e: &ConnError| {
            matches!(e, ConnError::Timeout { operation: "re-authenticating the session", after }
                if *after == Duration::from_secs(30))
        };
        assert!(closed.as_ref().is_some_and(is_timeout), "{closed:?}");
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, held);
        assert!(done[0].1.as_ref().is_err_and(is_timeout), "{:?}", done[0].1);
        assert_closed(&mut c, &clock);
        assert!(c.poll_timeout().is_none());
    }
}

#[test]
fn connection_cut_during_the_reauthentication_fails_the_held_requests() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let held = echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c).remove(0);
    feed(&mut c, &expired(&first.header), clock.now());
    take_setup(&mut c, &s);
    c.handle_stream_error("connection reset");
    let (done, closed) = completions_and_close(&mut c);
    assert!(matches!(closed, Some(ConnError::NotConnected)));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, held);
    assert!(matches!(done[0].1, Err(ConnError::NotConnected)));
    assert!(!c.is_reauthenticating());
    assert_closed(&mut c, &clock);
}

#[test]
fn garbled_reauthentication_answer_closes_with_a_protocol_error() {
    for round in 0..2 {
        for cut in [10usize, 64, 70] {
            let clock = Clock(Instant::now());
            let mut c = signing_session(false, &clock);
            let s = Server::new();
            let held = echo(&mut c, &clock, LIMIT);
            let first = s.take(&mut c).remove(0);
            feed(&mut c, &expired(&first.header), clock.now());
            let mut setup = take_setup(&mut c, &s);
            let mut answer = challenge_response(&setup);
            if round == 1 {
                feed(&mut c, &answer, clock.now());
                setup = take_setup(&mut c, &s);
                answer = signed(accept_response(&setup));
            }
            answer.truncate(cut.min(answer.len()));
            feed(&mut c, &answer, clock.now());
            let (done, closed) = completions_and_close(&mut c);
            assert!(
                matches!(closed, Some(ConnError::Protocol(_))),
                "round {round}, cut {cut}: {closed:?}"
            );
            assert_eq!(done.len(), 1);
            assert_eq!(done[0].0, held);
            assert!(matches!(done[0].1, Err(ConnError::Protocol(_))));
            assert_closed(&mut c, &clock);
        }
    }
}

#[test]
fn unsigned_or_badly_signed_final_reauthentication_response_closes() {
    // None: unsigned; else signed with a key that is not the session's.
    for wrong_key in [None, Some([0x44u8; 16])] {
        let what = if wrong_key.is_some() {
            "badly signed"
        } else {
            "unsigned"
        };
        let answer = |r: &Seen| {
            let mut m = accept_response(r);
            if let Some(k) = &wrong_key {
                Signer::new(SigningAlgorithm::AesCmac, k).sign(&mut m);
            }
            m
        };
        let clock = Clock(Instant::now());
        let mut c = signing_session(false, &clock);
        let s = Server::new();
        let held = echo(&mut c, &clock, LIMIT);
        let first = s.take(&mut c).remove(0);
        feed(&mut c, &expired(&first.header), clock.now());
        let setup = take_setup(&mut c, &s);
        feed(&mut c, &challenge_response(&setup), clock.now());
        let setup = take_setup(&mut c, &s);
        feed(&mut c, &answer(&setup), clock.now());
        let (done, closed) = completions_and_close(&mut c);
        let want = |e: &ConnError| match what {
            "unsigned" => matches!(e, ConnError::Protocol(Violation::Unsigned { .. })),
            _ => matches!(e, ConnError::Protocol(Violation::BadSignature { .. })),
        };
        assert!(closed.as_ref().is_some_and(want), "{what}: {closed:?}");
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, held);
        assert!(done[0].1.as_ref().is_err_and(want), "{what}");
        assert!(s.take(&mut c).is_empty(), "{what}: nothing sent again");
        assert_closed(&mut c, &clock);
    }
}

#[test]
fn request_that_expires_twice_fails_the_second_time() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let id = echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c).remove(0);
    feed(&mut c, &expired(&first.header), clock.now());
    let again = reauthenticate(&mut c, &s, &clock);
    feed(&mut c, &expired(&again[0].header), clock.now());
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    let rs = done[0].1.as_ref().unwrap();
    assert_eq!(rs[0].header.status, NtStatus::NETWORK_SESSION_EXPIRED);
    assert_eq!(rs[0].header.message_id, again[0].header.message_id);
    assert!(s.take(&mut c).is_empty(), "no second re-authentication");
    assert!(!c.is_reauthenticating());
    assert!(!c.is_closed());
    assert_eq!(c.requests_outstanding(), 0);
}

#[test]
fn held_requests_time_out_are_withdrawn_or_detached_as_usual() {
    let mut clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let due = echo(&mut c, &clock, Duration::from_secs(5));
    let withdrawn = echo(&mut c, &clock, LIMIT);
    let detached = echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c);
    assert_eq!(first.len(), 3);
    for r in &first {
        feed(&mut c, &expired(&r.header), clock.now());
    }
    let setup1 = take_setup(&mut c, &s);
    c.cancel(withdrawn);
    c.detach(detached);
    assert!(
        s.take(&mut c).is_empty(),
        "a held request has nothing to cancel"
    );
    assert_eq!(c.poll_timeout(), Some(clock.now() + Duration::from_secs(5)));
    c.handle_timeout(clock.advance(Duration::from_secs(5)));
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, due);
    assert!(
        matches!(
            done[0].1,
            Err(ConnError::Timeout {
                operation: "waiting for the session's re-authentication",
                ..
            })
        ),
        "{:?}",
        done[0].1
    );
    assert!(!c.is_closed());
    // The re-authentication goes on; only the detached request goes again.
    feed(&mut c, &challenge_response(&setup1), clock.now());
    let setup2 = take_setup(&mut c, &s);
    feed(&mut c, &signed(accept_response(&setup2)), clock.now());
    let again = s.take(&mut c);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].header.command, Command::ECHO);
    feed(
        &mut c,
        &signed(echo_response(&again[0].header)),
        clock.now(),
    );
    assert!(
        events(&mut c).is_empty(),
        "nobody waits for the detached one"
    );
    assert_eq!(c.requests_outstanding(), 0);
    assert_eq!(c.messages_in_flight(), 0);
}

#[test]
fn compound_request_is_sent_again_whole() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let parts = (0..3)
        .map(|_| part(Command::ECHO, 0, 1, |w| EchoRequest.encode(w)))
        .collect();
    let id = c
        .start(
            Request {
                parts,
                related: true,
                tail: Bytes::new(),
                signing: Signing::Session,
                deadline: clock.now() + LIMIT,
                operation: "chain",
            },
            clock.now(),
        )
        .unwrap();
    let first = s.take(&mut c);
    assert_eq!(first.len(), 3);
    // One part expired, the others went through.
    feed(
        &mut c,
        &signed(echo_response(&first[0].header)),
        clock.now(),
    );
    feed(&mut c, &expired(&first[1].header), clock.now());
    feed(
        &mut c,
        &signed(echo_response(&first[2].header)),
        clock.now(),
    );
    assert!(events(&mut c).is_empty());
    let again = reauthenticate(&mut c, &s, &clock);
    assert_eq!(again.len(), 3, "the whole chain");
    let new_ids: Vec<u64> = again.iter().map(|r| r.header.message_id).collect();
    assert!(new_ids[0] > first[2].header.message_id);
    assert!(new_ids.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(again[0].header.flags & flags::RELATED_OPERATIONS, 0);
    assert!(again[1..]
        .iter()
        .all(|r| r.header.flags & flags::RELATED_OPERATIONS != 0));
    for r in &again {
        feed(&mut c, &signed(echo_response(&r.header)), clock.now());
    }
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    let rs = done[0].1.as_ref().unwrap();
    assert_eq!(
        rs.iter().map(|r| r.header.message_id).collect::<Vec<_>>(),
        new_ids
    );
    assert!(rs.iter().all(|r| r.header.status == NtStatus::SUCCESS));
}

#[test]
fn request_expired_before_a_finished_reauthentication_goes_again_at_once() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let a = echo(&mut c, &clock, LIMIT);
    let b = echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c);
    feed(&mut c, &expired(&first[0].header), clock.now());
    let again = reauthenticate(&mut c, &s, &clock);
    assert_eq!(again.len(), 1);
    // b was sent before the session was re-authenticated; its late expired
    // answer needs no second re-authentication.
    feed(&mut c, &expired(&first[1].header), clock.now());
    let b_again = s.take(&mut c);
    assert_eq!(b_again.len(), 1);
    assert_eq!(b_again[0].header.command, Command::ECHO);
    assert!(!c.is_reauthenticating());
    feed(
        &mut c,
        &signed(echo_response(&again[0].header)),
        clock.now(),
    );
    feed(
        &mut c,
        &signed(echo_response(&b_again[0].header)),
        clock.now(),
    );
    let done = completed(&events(&mut c));
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), [a, b]);
    assert!(done.iter().all(|d| d.1.is_ok()));
}

#[test]
fn reauthentication_on_an_encrypted_session_is_signed_not_encrypted() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(true, &clock);
    let s = Server::new();
    let id = echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c).remove(0);
    assert!(first.encrypted);
    feed(&mut c, &s.seal(&expired(&first.header)), clock.now());
    // reauthenticate checks that the SESSION_SETUPs go out in the clear,
    // signed.
    let again = reauthenticate(&mut c, &s, &clock);
    assert_eq!(again.len(), 1);
    assert!(again[0].encrypted, "the request is encrypted again");
    feed(
        &mut c,
        &s.seal(&echo_response(&again[0].header)),
        clock.now(),
    );
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert!(done[0].1.as_ref().unwrap()[0].encrypted);
}

#[test]
fn badly_signed_expired_answer_fails_the_request_without_reauthenticating() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let (id, ev) = echo_answered(&mut c, &s, &clock, |_, r| {
        let mut m = expired(&r.header);
        Signer::new(SigningAlgorithm::AesCmac, &[0x44; 16]).sign(&mut m);
        vec![m]
    });
    let done = completed(&ev);
    assert_eq!(done[0].0, id);
    assert!(matches!(
        done[0].1,
        Err(ConnError::Protocol(Violation::BadSignature { .. }))
    ));
    assert!(!c.is_reauthenticating());
    assert!(s.take(&mut c).is_empty());
}

#[test]
fn reauthentication_uses_the_current_ntlm_time() {
    const CLIENT_TIME: u64 = 133_000_000_000_000_000;
    let mut clock = Clock(Instant::now());
    let mut cfg = config();
    cfg.ntlm.client_time = CLIENT_TIME;
    let mut c = established_with(cfg, 10, false, &clock);
    c.session.signer = Some(Arc::new(session_signer()));
    c.session.signing_required = true;
    let s = Server::new();
    // An hour after the connection was made, the session expires.
    clock.advance(Duration::from_secs(3600));
    echo(&mut c, &clock, LIMIT);
    let first = s.take(&mut c).remove(0);
    feed(&mut c, &expired(&first.header), clock.now());
    let setup1 = take_setup(&mut c, &s);
    feed(&mut c, &challenge_response(&setup1), clock.now());
    let setup2 = take_setup(&mut c, &s);
    let req = crate::smb2::session_setup::SessionSetupRequest::decode(&setup2.msg).unwrap();
    let token = crate::spnego::parse_neg_token_resp(&req.security_buffer)
        .unwrap()
        .response_token
        .unwrap();
    let auth = crate::ntlm::AuthenticateMessage::decode(&token).unwrap();
    assert_eq!(auth.user, "alice");
    // NTLMv2 response: NTProofStr (16), then the blob, whose TimeStamp is
    // at offset 8 (MS-NLMP §2.2.2.7).
    let time = u64::from_le_bytes(auth.nt_challenge_response[24..32].try_into().unwrap());
    assert_eq!(time, CLIENT_TIME + 3600 * 10_000_000);
}

#[test]
fn write_data_is_let_go_once_the_request_completes() {
    let clock = Clock(Instant::now());
    let mut c = signing_session(false, &clock);
    let s = Server::new();
    let data = Bytes::from(vec![0x5a; 4096]);
    let write = |c: &mut Smb2Connection, data: &Bytes| {
        let p = part(Command::WRITE, 7, 1, |w| {
            w.zeros(48);
        });
        c.start(
            Request {
                tail: data.clone(),
                ..Request::single(p, clock.now() + LIMIT, "write")
            },
            clock.now(),
        )
        .unwrap()
    };
    let write_response = |req: &Header| {
        signed(response(req, NtStatus::SUCCESS, 1, |w| {
            w.u16(17).u16(0).u32(4096).u32(0).u16(0).u16(0);
        }))
    };
    // Answered at once: the data is the caller's again.
    write(&mut c, &data);
    let sent = s.take(&mut c);
    assert_eq!(
        sent[0].msg.len(),
        HEADER_LEN + 48 + 4096,
        "the tail went out"
    );
    feed(&mut c, &write_response(&sent[0].header), clock.now());
    assert!(completed(&events(&mut c))[0].1.is_ok());
    let data = data
        .try_into_mut()
        .expect("nothing holds the data")
        .freeze();
    // Expired, held, sent again and answered: the same.
    write(&mut c, &data);
    let first = s.take(&mut c).remove(0);
    feed(&mut c, &expired(&first.header), clock.now());
    let again = reauthenticate(&mut c, &s, &clock);
    assert_eq!(again[0].msg.len(), HEADER_LEN + 48 + 4096, "the tail again");
    feed(&mut c, &write_response(&again[0].header), clock.now());
    assert!(completed(&events(&mut c))[0].1.is_ok());
    assert!(data.try_into_mut().is_ok(), "nothing holds the data");
}

#[test]
fn random_expiries_never_leave_a_request_waiting() {
    // A fixed xorshift so that the run is the same every time.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut reauthenticated = 0;
    for round in 0..500 {
        let mut clock = Clock(Instant::now());
        let mut c = signing_session(round % 3 == 0, &clock);
        let s = Server::new();
        // What the server has been sent and not answered.
        let mut pending: Vec<Seen> = Vec::new();
        let mut started: Vec<RequestId> = Vec::new();
        // Withdrawn or detached: no completion owed.
        let mut let_go: Vec<RequestId> = Vec::new();
        let mut done: Vec<RequestId> = Vec::new();
        for _ in 0..40 {
            match next() % 8 {
                0 | 1 => {
                    if let Ok(id) = c.start(
                        Request::single(
                            part(Command::ECHO, 0, 1, |w| EchoRequest.encode(w)),
                            clock.now() + Duration::from_secs(1 + next() % 60),
                            "echo",
                        ),
                        clock.now(),
                    ) {
                        started.push(id);
                    }
                }
                2..=4 if !pending.is_empty() => {
                    let i = (next() as usize) % pending.len();
                    let req = pending.remove(i);
                    let h = &req.header;
                    // The first round carries the SPNEGO NegTokenInit.
                    let first_round =
                        crate::smb2::session_setup::SessionSetupRequest::decode(&req.msg)
                            .is_ok_and(|r| r.security_buffer.first() == Some(&0x60));
                    let m = match (h.command, next() % 6) {
                        (Command::SESSION_SETUP, 4) => {
                            response(h, NtStatus::LOGON_FAILURE, 1, error_body)
                        }
                        (Command::SESSION_SETUP, 5) => accept_response(&req),
                        (Command::SESSION_SETUP, _) if first_round => challenge_response(&req),
                        (Command::SESSION_SETUP, _) => signed(accept_response(&req)),
                        (_, 0 | 1) => expired(h),
                        (_, 2) => signed(expired(h)),
                        (_, 3) => echo_response(h),
                        _ => signed(echo_response(h)),
                    };
                    let m = if req.encrypted { s.seal(&m) } else { m };
                    feed(&mut c, &m, clock.now());
                }
                5 => {
                    clock.advance(Duration::from_secs(next() % 20));
                    c.handle_timeout(clock.now());
                }
                6 if !started.is_empty() => {
                    let id = started[(next() as usize) % started.len()];
                    if next() % 2 == 0 {
                        c.cancel(id);
                    } else {
                        c.detach(id);
                    }
                    let_go.push(id);
                }
                _ => {}
            }
            pending.extend(
                s.take(&mut c)
                    .into_iter()
                    .filter(|r| r.header.command != Command::CANCEL),
            );
            for (id, _) in completed(&events(&mut c)) {
                assert!(!done.contains(&id), "round {round}: {id:?} completed twice");
                done.push(id);
            }
        }
        // Every deadline passes.
        c.handle_timeout(clock.advance(Duration::from_secs(1000)));
        for (id, _) in completed(&events(&mut c)) {
            assert!(!done.contains(&id), "round {round}: {id:?} completed twice");
            done.push(id);
        }
        assert_eq!(c.requests_outstanding(), 0, "round {round}");
        assert!(!c.is_reauthenticating() || c.is_closed(), "round {round}");
        if c.reauths > 0 {
            reauthenticated += 1;
        }
        for id in &started {
            assert!(
                done.contains(id) || let_go.contains(id),
                "round {round}: {id:?} never completed"
            );
        }
    }
    assert!(
        reauthenticated > 100,
        "{reauthenticated} rounds re-authenticated"
    );
}

// ---------------------------------------------------------------------------
// Kerberos (SPNEGO with an AP-REQ; the session key is the AP-REP's subkey).

/// A handshake with a Kerberos ticket: one SESSION_SETUP carries the
/// AP-REQ; the answer's AP-REP gives the session key, with which the final
/// response is signed (SMB 2.1 HMAC-SHA256, signing required by the
/// server). `answer_key` is what the scripted server encrypts the AP-REP
/// with.
fn kerberos_handshake(answer_key: Option<&[u8]>) -> (Smb2Connection, Vec<Event>, Clock) {
    use crate::crypto::{Signer, SigningAlgorithm};
    use crate::kerberos::{accept_for_tests, test_tickets};

    let clock = Clock(Instant::now());
    let ticket = test_tickets::service_ticket();
    let key = test_tickets::key(&ticket);
    let cfg = Smb2Config {
        kerberos: Some(ticket.clone()),
        credentials: Credentials::new("", "", ""),
        signing: handshake::SigningPolicy::WhenSupported,
        ..config()
    };
    let mut c = Smb2Connection::new(cfg, clock.now());
    let s = Server::new();
    let neg = s.take(&mut c).remove(0);
    feed(&mut c, &negotiate_response(&neg), clock.now());
    let setup = s.take(&mut c).remove(0);
    let req = crate::smb2::session_setup::SessionSetupRequest::decode(&setup.msg).unwrap();
    let subkey = [0x42u8; 32];
    let answer = accept_for_tests(
        &req.security_buffer,
        &ticket,
        answer_key.unwrap_or(&key),
        &subkey,
    );
    let mut h = setup.header.clone();
    h.session_id = SESSION;
    let mut resp = response(&h, NtStatus::SUCCESS, 32, |w| {
        SessionSetupResponse {
            session_flags: 0,
            security_buffer: answer,
        }
        .encode(w)
        .unwrap()
    });
    // Signed with the first 16 bytes of the subkey (MS-SMB2 §3.2.5.3.1).
    resp[16] |= 0x08;
    Signer::new(SigningAlgorithm::HmacSha256, &subkey[..16]).sign(&mut resp);
    feed(&mut c, &resp, clock.now());
    let ev = events(&mut c);
    (c, ev, clock)
}

#[test]
fn kerberos_logon_takes_the_ap_rep_subkey_as_session_key() {
    let (mut c, ev, clock) = kerberos_handshake(None);
    let Some(Event::Established(e)) = ev.first() else {
        panic!("{ev:?}")
    };
    assert!(e.signing);
    assert!(!e.is_anonymous);
    // Requests go out signed with that key.
    echo(&mut c, &clock, LIMIT);
    let s = Server::new();
    let req = s.take(&mut c).remove(0);
    assert!(req.header.is_signed());
}

#[test]
fn kerberos_server_that_cannot_prove_itself_closes_the_connection() {
    let (c, ev, _) = kerberos_handshake(Some(&[0x13; 32]));
    assert!(c.is_closed());
    let closed = ev.iter().find_map(|e| match e {
        Event::Closed(e) => Some(e.clone()),
        _ => None,
    });
    assert!(
        matches!(
            closed,
            Some(ConnError::Kerberos(
                crate::kerberos::KerberosError::MutualAuthFailed(_)
            ))
        ),
        "{ev:?}"
    );
}
