//! Simulation tests of the SMB1 connection: a scripted server and a
//! simulated clock, no sockets.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::smb1::header::flags;
use crate::smb1::trans::TransResponseFragment;

pub(super) const LIMIT: Duration = Duration::from_secs(10);
pub(super) const FLAGS2: u16 = flags2::UNICODE | flags2::NT_STATUS | flags2::LONG_NAMES;

/// A request whose body `f` writes.
pub(super) fn req(
    command: u8,
    tid: u16,
    deadline: Instant,
    operation: &'static str,
    f: impl FnOnce(&mut Writer),
) -> Request {
    Request::new(command, tid, deadline, operation, |w| {
        f(w);
        Ok(())
    })
    .unwrap()
}

pub(super) fn conn(max_mpx: u16, max_buffer: u32) -> Smb1Connection {
    Smb1Connection::new(Smb1Config {
        max_mpx,
        max_buffer,
        flags2: FLAGS2,
        first_mid: 1,
    })
}

/// What the server received: header and message.
pub(super) fn take(c: &mut Smb1Connection) -> Vec<(Header, Vec<u8>)> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| {
            let t = t.finish().unwrap();
            let mut m = t.msg;
            m.extend_from_slice(&t.tail);
            assert_eq!(u32::from_be_bytes(t.header) as usize, m.len());
            (Header::decode(&m).unwrap(), m)
        })
        .collect()
}

/// A reply to `req` with `status` and the words and bytes `encode` writes.
pub(super) fn reply(req: &Header, status: NtStatus, encode: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut h = req.clone();
    h.flags |= flags::REPLY;
    h.status = status;
    let mut w = Writer::new();
    h.encode(&mut w);
    encode(&mut w);
    w.into_vec()
}

/// An empty reply (WordCount 0, ByteCount 0).
pub(super) fn empty(req: &Header) -> Vec<u8> {
    reply(req, NtStatus::SUCCESS, |w| {
        w.u8(0).u16(0);
    })
}

pub(super) fn echo(c: &mut Smb1Connection, now: Instant) -> RequestId {
    c.start(
        req(command::ECHO, 0, now + LIMIT, "echo", |w| {
            w.u8(1).u16(1).u16(0);
        }),
        now,
    )
    .unwrap()
}

pub(super) fn events(c: &mut Smb1Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

pub(super) fn completed(ev: &[Event]) -> Vec<(RequestId, Result<Reply, ConnError>)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Completed { id, result } => Some((*id, result.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn one_slot_server_gets_every_request_in_turn() {
    let now = Instant::now();
    let mut c = conn(1, 0);
    let ids: Vec<_> = (0..5).map(|_| echo(&mut c, now)).collect();
    let mut done = Vec::new();
    for round in 0..5 {
        let sent = take(&mut c);
        assert_eq!(sent.len(), 1, "round {round}: one request at a time");
        assert_eq!(c.slots_in_use(), 1);
        c.handle_frame(Bytes::from(empty(&sent[0].0)), now);
        done.extend(completed(&events(&mut c)));
    }
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), ids);
    assert!(done.iter().all(|d| d.1.is_ok()));
    assert_eq!(c.slots_in_use(), 0);
}

#[test]
fn given_up_request_keeps_its_slot_until_answered() {
    let mut now = Instant::now();
    let mut c = conn(1, 0);
    let first = c
        .start(
            req(
                command::ECHO,
                0,
                now + Duration::from_secs(1),
                "echo",
                |w| {
                    w.u8(0).u16(0);
                },
            ),
            now,
        )
        .unwrap();
    let second = echo(&mut c, now);
    let sent = take(&mut c);
    assert_eq!(sent.len(), 1);
    now += Duration::from_secs(1);
    c.handle_timeout(now);
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, first);
    assert!(matches!(done[0].1, Err(ConnError::Timeout { .. })));
    // The server still works on it: the second waits.
    assert!(take(&mut c).is_empty());
    c.handle_frame(Bytes::from(empty(&sent[0].0)), now);
    assert!(completed(&events(&mut c)).is_empty(), "absorbed");
    let next = take(&mut c);
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].0.mid, sent[0].0.mid);
    c.handle_frame(Bytes::from(empty(&next[0].0)), now);
    assert_eq!(completed(&events(&mut c))[0].0, second);
}

#[test]
fn close_that_times_out_before_it_is_sent_is_still_sent() {
    let mut now = Instant::now();
    let mut c = conn(1, 0);
    echo(&mut c, now);
    let close = c
        .start(
            req(
                command::CLOSE,
                3,
                now + Duration::from_secs(1),
                "CLOSE",
                |w| {
                    crate::smb1::close::CloseRequest {
                        fid: 0x4001,
                        last_time_modified: crate::smb1::close::KEEP_LAST_TIME_MODIFIED,
                    }
                    .encode(w)
                },
            ),
            now,
        )
        .unwrap();
    let sent = take(&mut c);
    assert_eq!(sent.len(), 1, "the CLOSE waits for the one slot");
    now += Duration::from_secs(1);
    c.handle_timeout(now);
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, close);
    assert!(matches!(done[0].1, Err(ConnError::Timeout { .. })));
    // The slot frees: the CLOSE goes out after all, on the connection's
    // own account.
    c.handle_frame(Bytes::from(empty(&sent[0].0)), now);
    let _ = events(&mut c);
    let next = take(&mut c);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].0.command, command::CLOSE);
    assert_eq!(next[0].0.tid, 3);
    c.handle_frame(Bytes::from(empty(&next[0].0)), now);
    assert!(events(&mut c).is_empty());
    assert_eq!(c.slots_in_use(), 0);
}

#[test]
fn withdrawn_open_is_closed_when_it_succeeds_and_a_close_waits_for_abandoned_reads() {
    use crate::smb1::create::NtCreateAndxResponse;
    let now = Instant::now();
    let mut c = conn(10, 0);
    let open = c
        .start(
            req(command::NT_CREATE_ANDX, 3, now + LIMIT, "open", |w| {
                w.u8(0).u16(0);
            }),
            now,
        )
        .unwrap();
    let read = c
        .start(
            req(command::READ_ANDX, 3, now + LIMIT, "read", |w| {
                w.u8(0).u16(0);
            }),
            now,
        )
        .unwrap();
    let sent = take(&mut c);
    c.cancel(open);
    c.cancel(read);
    assert!(c.has_abandoned());
    let mut h = sent[0].0.clone();
    h.flags |= flags::REPLY;
    let mut w = Writer::new();
    h.encode(&mut w);
    NtCreateAndxResponse {
        oplock_level: 0,
        fid: 0x4242,
        create_disposition: 1,
        create_time: 0,
        last_access_time: 0,
        last_write_time: 0,
        last_change_time: 0,
        ext_file_attributes: 0x80,
        allocation_size: 0,
        end_of_file: 0,
        resource_type: 0,
        nm_pipe_status: 0,
        directory: false,
        extended: None,
    }
    .encode(&mut w);
    c.handle_frame(Bytes::from(w.into_vec()), now);
    // The CLOSE of the late open waits while the READ is pending.
    assert!(take(&mut c).is_empty());
    c.handle_frame(Bytes::from(empty(&sent[1].0)), now);
    let close = take(&mut c);
    assert_eq!(close.len(), 1);
    assert_eq!(close[0].0.command, command::CLOSE);
    assert_eq!(close[0].0.tid, 3);
    assert_eq!(u16::from_le_bytes([close[0].1[33], close[0].1[34]]), 0x4242);
    assert!(events(&mut c).is_empty());
}

#[test]
fn signing_sequence_numbers_and_a_bad_signature() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let key = vec![7u8; 16];
    c.activate_signing(Smb1Signer::new(key.clone()), 2);
    let server = Smb1Signer::new(key);
    let a = echo(&mut c, now);
    let b = echo(&mut c, now);
    let sent = take(&mut c);
    assert!(server.verify(&sent[0].1, 2));
    assert!(server.verify(&sent[1].1, 4));
    // Answers out of order, each with its request's number + 1.
    let mut rb = empty(&sent[1].0);
    server.sign(&mut rb, 5);
    c.handle_frame(Bytes::from(rb), now);
    let mut ra = empty(&sent[0].0);
    server.sign(&mut ra, 3);
    c.handle_frame(Bytes::from(ra), now);
    let done = completed(&events(&mut c));
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), [b, a]);
    assert!(done.iter().all(|d| d.1.is_ok()));
    // A signature with the wrong number fails the request and closes.
    let waiting = echo(&mut c, now);
    let sent = take(&mut c);
    let mut bad = empty(&sent[0].0);
    server.sign(&mut bad, 99);
    c.handle_frame(Bytes::from(bad), now);
    let ev = events(&mut c);
    let done = completed(&ev);
    assert_eq!(done[0].0, waiting);
    assert!(matches!(
        done[0].1,
        Err(ConnError::Protocol(Violation::BadSignature { .. }))
    ));
    assert!(matches!(ev.last(), Some(Event::Closed(_))));
    assert!(c
        .start(req(command::ECHO, 0, now, "echo", |_| {}), now)
        .is_err());
}

pub(super) fn trans_part(req: &Header, total: usize, off: usize, data: &[u8]) -> Vec<u8> {
    reply(req, NtStatus::SUCCESS, |w| {
        TransResponseFragment {
            total_parameter_count: 0,
            total_data_count: total as u32,
            parameter_displacement: 0,
            data_displacement: off as u32,
            setup: &[],
            parameters: &[],
            data,
        }
        .encode(w)
        .unwrap()
    })
}

#[test]
fn transaction_response_in_several_parts_is_put_together() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let mut r = req(command::TRANSACTION2, 1, now + LIMIT, "find", |w| {
        w.u8(0).u16(0);
    });
    r.kind = Kind::Trans { limit: 1 << 20 };
    let id = c.start(r, now).unwrap();
    let req = take(&mut c).remove(0).0;
    let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    for (off, chunk) in [
        (2000, &data[2000..]),
        (0, &data[..1000]),
        (1000, &data[1000..2000]),
    ] {
        c.handle_frame(Bytes::from(trans_part(&req, data.len(), off, chunk)), now);
    }
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    match &done[0].1 {
        Ok(Reply::Trans(t)) => {
            assert_eq!(t.data, data);
            assert_eq!(t.parts, 3);
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(c.slots_in_use(), 0);
}

#[test]
fn transaction_over_the_limit_or_with_empty_parts_fails() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let mut r = req(command::TRANSACTION2, 1, now + LIMIT, "find", |w| {
        w.u8(0).u16(0);
    });
    r.kind = Kind::Trans { limit: 100 };
    c.start(r, now).unwrap();
    let req = take(&mut c).remove(0).0;
    c.handle_frame(Bytes::from(trans_part(&req, 5000, 0, &[1; 10])), now);
    assert!(completed(&events(&mut c))[0].1.is_err());
    assert!(!c.is_closed());
}

#[test]
fn large_transaction_goes_as_primary_then_secondaries_after_the_interim() {
    let now = Instant::now();
    let mut c = conn(10, 200);
    let key = vec![9u8; 16];
    c.activate_signing(Smb1Signer::new(key.clone()), 2);
    let server = Smb1Signer::new(key);
    let payload = vec![0x5Au8; 700];
    let trans = crate::smb1::trans::TransRequest {
        name: None,
        setup: vec![1],
        parameters: vec![0; 12],
        data: payload,
        max_parameter_count: 100,
        max_data_count: 1000,
        ..Default::default()
    };
    let mut r = Request::new(command::TRANSACTION2, 1, now + LIMIT, "set", |w| {
        trans.encode(w)
    })
    .unwrap();
    r.kind = Kind::Trans { limit: 1 << 20 };
    let id = c.start(r, now).unwrap();
    let primary = take(&mut c);
    assert_eq!(primary.len(), 1, "only the primary before the interim");
    assert!(primary[0].1.len() <= 200);
    // The interim response.
    let mut interim = empty(&primary[0].0);
    server.sign(&mut interim, 3);
    c.handle_frame(Bytes::from(interim), now);
    let secondaries = take(&mut c);
    assert!(secondaries.len() >= 3, "{}", secondaries.len());
    let mut seq = 4;
    for (h, m) in &secondaries {
        assert_eq!(h.command, crate::smb1::trans::TRANSACTION2_SECONDARY);
        assert!(server.verify(m, seq));
        seq += 2;
    }
    // The final response carries the last secondary's number + 1.
    let mut fin = trans_part(&primary[0].0, 2, 0, &[1, 2]);
    server.sign(&mut fin, seq - 1);
    c.handle_frame(Bytes::from(fin), now);
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    assert!(done[0].1.is_ok(), "{:?}", done[0].1);
}

#[test]
fn garbled_frames_never_panic() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..2000 {
        let now = Instant::now();
        let mut c = conn(4, 0);
        let mut r = req(command::TRANSACTION2, 1, now + LIMIT, "find", |w| {
            w.u8(0).u16(0);
        });
        if round % 2 == 0 {
            r.kind = Kind::Trans { limit: 1 << 16 };
        }
        c.start(r, now).unwrap();
        let req = take(&mut c).remove(0).0;
        let mut m = trans_part(&req, 40, 0, &[7; 40]);
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % m.len();
            m[i] ^= 1 << (next() % 8);
        }
        if next() % 4 == 0 {
            let cut = (next() as usize) % m.len();
            m.truncate(cut);
        }
        c.handle_frame(Bytes::from(m), now);
        let _ = events(&mut c);
        // Whatever happened, time still ends the request.
        c.handle_timeout(now + LIMIT);
        let _ = events(&mut c);
        assert_eq!(c.requests_outstanding(), 0, "round {round}");
    }
}

#[test]
fn close_waits_for_earlier_reads_on_its_tree_only() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let io = |c: &mut Smb1Connection, cmd: u8, tid: u16| {
        c.start(
            req(cmd, tid, now + LIMIT, "io", |w| {
                w.u8(0).u16(0);
            }),
            now,
        )
        .unwrap()
    };
    let read = io(&mut c, command::READ_ANDX, 5);
    let other_tree = io(&mut c, command::READ_ANDX, 6);
    let pipe = io(&mut c, command::TRANSACTION, 5);
    let sent = take(&mut c);
    assert_eq!(sent.len(), 3);
    c.cancel(pipe); // given up on and never answered: holds nothing
    let close = io(&mut c, command::CLOSE, 5);
    let later_read = io(&mut c, command::READ_ANDX, 5);
    // The later read goes; the CLOSE waits for the earlier one.
    let next = take(&mut c);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].0.command, command::READ_ANDX);
    c.handle_frame(Bytes::from(empty(&sent[1].0)), now); // the other tree's read
    assert!(take(&mut c).is_empty());
    c.handle_frame(Bytes::from(empty(&sent[0].0)), now);
    let closing = take(&mut c);
    assert_eq!(closing.len(), 1);
    assert_eq!(closing[0].0.command, command::CLOSE);
    let done: Vec<_> = completed(&events(&mut c))
        .into_iter()
        .map(|d| d.0)
        .collect();
    assert_eq!(done, [other_tree, read]);
    let _ = (close, later_read);
}

#[test]
fn tree_connect_given_up_on_is_disconnected_when_it_succeeds() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let id = c
        .start(
            req(
                command::TREE_CONNECT_ANDX,
                0,
                now + LIMIT,
                "tree connect",
                |w| {
                    w.u8(0).u16(0);
                },
            ),
            now,
        )
        .unwrap();
    let sent = take(&mut c);
    c.cancel(id);
    let mut h = sent[0].0.clone();
    h.tid = 77;
    c.handle_frame(Bytes::from(empty(&h)), now);
    let out = take(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.command, command::TREE_DISCONNECT);
    assert_eq!(out[0].0.tid, 77);
    assert!(events(&mut c).is_empty());
}

// ---------------------------------------------------------------------------
// The session setup.

pub(super) mod session_setup {
    use super::*;
    use crate::conn::smb2::handshake::SigningPolicy;
    use crate::ntlm::{AvPairs, ChallengeMessage, Credentials, NtlmOptions};
    use crate::smb1::negotiate::NegotiateResponse;
    use crate::smb1::session_setup::SessionSetupResponseExtended;

    fn negotiate(security_mode: u8) -> NegotiateResponse {
        NegotiateResponse {
            dialect_index: 0,
            security_mode,
            max_mpx_count: 10,
            max_number_vcs: 1,
            max_buffer_size: 65536,
            max_raw_size: 65536,
            session_key: 0,
            capabilities: crate::smb1::negotiate::capabilities::EXTENDED_SECURITY
                | crate::smb1::negotiate::capabilities::UNICODE
                | crate::smb1::negotiate::capabilities::NT_STATUS,
            system_time: 0,
            server_time_zone: 0,
            challenge: None,
            server_guid: Some([3; 16]),
            security_blob: Vec::new(),
            domain_name: None,
            server_name: None,
        }
    }

    fn start(security_mode: u8, signing: SigningPolicy, now: Instant) -> Smb1Connection {
        Smb1Connection::with_session_setup(
            Smb1Config {
                max_mpx: 10,
                max_buffer: 65536,
                flags2: FLAGS2 | flags2::EXTENDED_SECURITY,
                first_mid: 1,
            },
            Smb1Setup {
                negotiate: negotiate(security_mode),
                credentials: Credentials::new("alice", "", "secret"),
                ntlm: NtlmOptions::default(),
                kerberos: None,
                signing,
                max_buffer_size: 61440,
                limit: Duration::from_secs(30),
            },
            now,
        )
    }

    /// An extended-security SESSION_SETUP_ANDX answer carrying `blob`.
    pub(in crate::conn::smb1) fn setup_reply(
        req: &Header,
        status: NtStatus,
        blob: Vec<u8>,
    ) -> Vec<u8> {
        let mut h = req.clone();
        h.flags |= flags::REPLY;
        h.status = status;
        h.uid = 0x64;
        let mut w = Writer::new();
        h.encode(&mut w);
        SessionSetupResponseExtended {
            action: 0,
            security_blob: blob,
            native_os: "Unix".into(),
            native_lanman: "Samba".into(),
        }
        .encode(&mut w, true)
        .unwrap();
        w.into_vec()
    }

    /// The server's CHALLENGE, in a SPNEGO NegTokenResp.
    pub(in crate::conn::smb1) fn challenge() -> Vec<u8> {
        let c = ChallengeMessage {
            target_name: "S".into(),
            flags: crate::ntlm::flags::NEGOTIATE_UNICODE
                | crate::ntlm::flags::NEGOTIATE_NTLM
                | crate::ntlm::flags::NEGOTIATE_EXTENDED_SESSIONSECURITY
                | crate::ntlm::flags::NEGOTIATE_SIGN,
            server_challenge: [4; 8],
            target_info: AvPairs(Vec::new()),
            version: None,
        }
        .encode()
        .unwrap();
        crate::spnego::neg_token_resp(Some(&c), None)
    }

    #[test]
    fn extended_security_logon_then_requests() {
        let now = Instant::now();
        let mut c = start(0x03, SigningPolicy::WhenRequired, now);
        assert!(!c.is_established());
        assert!(c
            .start(req(command::ECHO, 0, now + LIMIT, "echo", |_| {}), now)
            .is_err());
        let r1 = take(&mut c).remove(0).0;
        assert_eq!(r1.command, command::SESSION_SETUP_ANDX);
        c.handle_frame(
            Bytes::from(setup_reply(
                &r1,
                NtStatus::MORE_PROCESSING_REQUIRED,
                challenge(),
            )),
            now,
        );
        let r2 = take(&mut c).remove(0).0;
        assert_eq!(r2.uid, 0x64, "the UID of the first answer goes on");
        c.handle_frame(
            Bytes::from(setup_reply(&r2, NtStatus::SUCCESS, Vec::new())),
            now,
        );
        let ev = events(&mut c);
        assert!(
            matches!(ev.first(), Some(Event::Established(e)) if !e.signing && !e.guest),
            "{ev:?}"
        );
        assert!(c.is_established());
        echo(&mut c, now);
        assert_eq!(take(&mut c)[0].0.uid, 0x64);
    }

    #[test]
    fn refused_logon_is_auth_failed() {
        let now = Instant::now();
        let mut c = start(0x03, SigningPolicy::WhenRequired, now);
        let r1 = take(&mut c).remove(0).0;
        c.handle_frame(
            Bytes::from(setup_reply(&r1, NtStatus::LOGON_FAILURE, Vec::new())),
            now,
        );
        let ev = events(&mut c);
        assert!(
            matches!(ev.last(), Some(Event::Closed(ConnError::AuthFailed { status, .. })) if *status == NtStatus::LOGON_FAILURE),
            "{ev:?}"
        );
    }

    #[test]
    fn signing_required_but_an_unsigned_answer_is_refused() {
        let now = Instant::now();
        let mut c = start(0x0F, SigningPolicy::WhenRequired, now);
        let r1 = take(&mut c).remove(0).0;
        assert!(
            r1.flags2 & flags2::SECURITY_SIGNATURE != 0,
            "the client offers to sign"
        );
        c.handle_frame(
            Bytes::from(setup_reply(
                &r1,
                NtStatus::MORE_PROCESSING_REQUIRED,
                challenge(),
            )),
            now,
        );
        let r2 = take(&mut c).remove(0).0;
        c.handle_frame(
            Bytes::from(setup_reply(&r2, NtStatus::SUCCESS, Vec::new())),
            now,
        );
        let ev = events(&mut c);
        assert!(
            matches!(ev.last(), Some(Event::Closed(ConnError::Unsupported(_)))),
            "{ev:?}"
        );
    }

    #[test]
    fn never_against_a_server_that_requires_signing_is_refused_at_once() {
        let now = Instant::now();
        let mut c = start(0x0F, SigningPolicy::Never, now);
        assert!(take(&mut c).is_empty(), "no credentials are sent");
        assert!(matches!(
            events(&mut c).last(),
            Some(Event::Closed(ConnError::Unsupported(_)))
        ));
    }

    #[test]
    fn stalled_cut_or_garbled_at_every_step() {
        for step in 0..2 {
            for fault in 0..3 {
                let now = Instant::now();
                let mut c = start(0x03, SigningPolicy::WhenRequired, now);
                let mut r = take(&mut c).remove(0).0;
                if step == 1 {
                    c.handle_frame(
                        Bytes::from(setup_reply(
                            &r,
                            NtStatus::MORE_PROCESSING_REQUIRED,
                            challenge(),
                        )),
                        now,
                    );
                    r = take(&mut c).remove(0).0;
                }
                match fault {
                    0 => c.handle_timeout(now + Duration::from_secs(30)),
                    1 => c.handle_stream_error("reset"),
                    _ => {
                        let mut m = setup_reply(&r, NtStatus::SUCCESS, Vec::new());
                        m.truncate(36);
                        c.handle_frame(Bytes::from(m), now);
                    }
                }
                let ev = events(&mut c);
                let ok = match fault {
                    0 => matches!(
                        ev.last(),
                        Some(Event::Closed(ConnError::Timeout {
                            operation: "authenticating",
                            ..
                        }))
                    ),
                    1 => matches!(ev.last(), Some(Event::Closed(ConnError::NotConnected))),
                    _ => matches!(ev.last(), Some(Event::Closed(_))),
                };
                assert!(ok, "step {step}, fault {fault}: {ev:?}");
                assert!(c.is_closed());
            }
        }
    }
}

#[test]
fn a_silent_server_owing_an_answer_is_declared_dead() {
    let t0 = Instant::now();
    let mut c = conn(4, 0);
    c.set_liveness(
        crate::conn::Liveness {
            dead_after: Some(Duration::from_secs(5)),
            keepalive: None,
        },
        t0,
    );
    let id = echo(&mut c, t0);
    assert_eq!(take(&mut c).len(), 1);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    c.handle_timeout(t0 + Duration::from_secs(4));
    assert!(!c.is_closed());
    c.handle_timeout(t0 + Duration::from_secs(5));
    let ev = events(&mut c);
    let done = completed(&ev);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert!(matches!(done[0].1, Err(ConnError::NotConnected)));
    assert!(matches!(
        ev.last(),
        Some(Event::Closed(ConnError::PeerDead { .. }))
    ));
    assert!(matches!(
        c.start(
            req(command::ECHO, 0, t0 + LIMIT, "echo", |w| {
                w.u8(0).u16(0);
            }),
            t0
        ),
        Err(ConnError::NotConnected)
    ));
}

#[test]
fn an_idle_connection_sends_keepalive_echoes() {
    let t0 = Instant::now();
    let mut c = conn(1, 0);
    c.set_liveness(
        crate::conn::Liveness {
            dead_after: Some(Duration::from_secs(10)),
            keepalive: Some(Duration::from_secs(60)),
        },
        t0,
    );
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    let t1 = t0 + Duration::from_secs(60);
    c.handle_timeout(t1);
    let probe = take(&mut c);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].0.command, command::ECHO);
    // MS-CIFS §2.2.4.39.1: WordCount 1, EchoCount 1, ByteCount 0.
    assert_eq!(&probe[0].1[32..], &[1, 1, 0, 0, 0]);
    c.handle_frame(Bytes::from(empty(&probe[0].0)), t1);
    assert!(events(&mut c).is_empty(), "the caller never sees the probe");
    assert_eq!(c.slots_in_use(), 0);
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(60)));
    let t2 = t1 + Duration::from_secs(60);
    c.handle_timeout(t2);
    assert_eq!(take(&mut c).len(), 1);
    c.handle_timeout(t2 + Duration::from_secs(10));
    assert!(c.is_closed(), "an unanswered probe is death");
}
