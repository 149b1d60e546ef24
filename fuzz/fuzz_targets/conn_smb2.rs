//! The SMB 2/3 connection state machine fed hostile frames.
//!
//! The first input byte picks the phase: even, the handshake itself gets
//! the input's frames; odd, a scripted server first completes the
//! handshake (SMB 2.1, NTLM) and the input then drives an established
//! connection. The rest of the input is a program: start an ECHO or a
//! CREATE, withdraw the oldest request, let time pass, feed a raw frame, or
//! answer the newest request with a response whose fields come from the
//! input; some CREATEs are open-ended (as a CHANGE_NOTIFY is), waiting
//! without deadline once an interim response has come. Whatever happens,
//! nothing panics, and once every deadline has passed no request is left
//! waiting but open-ended ones.
#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smbkit_proto::conn::smb2::handshake::{EncryptionPolicy, Family, SigningPolicy};
use smbkit_proto::conn::smb2::{Event, Part, Request};
use smbkit_proto::conn::{RequestId, Smb2Config, Smb2Connection};
use smbkit_proto::ntlm::{AvPairs, ChallengeMessage, Credentials, NtlmOptions};
use smbkit_proto::smb2::header::flags;
use smbkit_proto::smb2::negotiate::{security_mode, NegotiateResponse};
use smbkit_proto::smb2::session_setup::SessionSetupResponse;
use smbkit_proto::smb2::{split_compound, EchoRequest, Header};
use smbkit_proto::{Command, Dialect, NtStatus, Writer};

fn config() -> Smb2Config {
    Smb2Config {
        family: Family::Smb2Only,
        extended_security: true,
        direct_tcp: true,
        signing: SigningPolicy::WhenRequired,
        encryption: EncryptionPolicy::IfRequired,
        ciphers: Vec::new(),
        credentials: Credentials::new("u", "", "p"),
        ntlm: NtlmOptions::default(),
        kerberos: None,
        limit: Duration::from_secs(30),
        client_guid: [7; 16],
    }
}

/// The headers of every message the client has queued.
fn sent(c: &mut Smb2Connection) -> Vec<Header> {
    let mut out = Vec::new();
    while let Some(t) = c.poll_transmit() {
        let Ok(f) = t.finish() else { continue };
        if let Ok(parts) = split_compound(&f.msg) {
            out.extend(parts.iter().filter_map(|m| Header::decode(m).ok()));
        }
    }
    out
}

fn response(req: &Header, status: NtStatus, credits: u16, body: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut h = req.clone();
    h.flags |= flags::SERVER_TO_REDIR;
    h.status = status;
    h.credits = credits;
    let mut w = Writer::new();
    h.encode(&mut w);
    body(&mut w);
    w.into_vec()
}

/// Runs the handshake against a scripted server; false if it did not
/// establish.
fn establish(c: &mut Smb2Connection, now: Instant) -> bool {
    let Some(neg) = sent(c).pop() else { return false };
    let r = response(&neg, NtStatus::SUCCESS, 64, |w| {
        let _ = NegotiateResponse {
            security_mode: security_mode::SIGNING_ENABLED,
            dialect: Dialect::SMB2_1,
            server_guid: [1; 16],
            capabilities: 0,
            max_transact_size: 65536,
            max_read_size: 65536,
            max_write_size: 65536,
            system_time: 0,
            server_start_time: 0,
            security_buffer: Vec::new(),
            contexts: Vec::new(),
        }
        .encode(w);
    });
    c.handle_frame(BytesMut::from(&r[..]), now);
    let Some(mut s1) = sent(c).pop() else { return false };
    s1.session_id = 0x77;
    let Ok(challenge) = (ChallengeMessage {
        target_name: "S".into(),
        flags: 0x0000_0001 | 0x0000_0200 | 0x0008_0000 | 0x0000_0010,
        server_challenge: [2; 8],
        target_info: AvPairs(Vec::new()),
        version: None,
    })
    .encode() else {
        return false;
    };
    let r = response(&s1, NtStatus::MORE_PROCESSING_REQUIRED, 64, |w| {
        let _ = SessionSetupResponse {
            session_flags: 0,
            security_buffer: smbkit_proto::spnego::neg_token_resp(Some(&challenge), None),
        }
        .encode(w);
    });
    c.handle_frame(BytesMut::from(&r[..]), now);
    let Some(s2) = sent(c).pop() else { return false };
    let r = response(&s2, NtStatus::SUCCESS, 64, |w| {
        let _ = SessionSetupResponse {
            session_flags: 0,
            security_buffer: Vec::new(),
        }
        .encode(w);
    });
    c.handle_frame(BytesMut::from(&r[..]), now);
    c.is_established()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else { return };
    let mut now = Instant::now();
    let mut c = Smb2Connection::new(config(), now);
    let established = mode % 2 == 1;
    if established && !establish(&mut c, now) {
        panic!("the scripted handshake did not establish");
    }
    let mut outstanding: Vec<RequestId> = Vec::new();
    let mut open_ended: Vec<RequestId> = Vec::new();
    let mut last: Option<Header> = None;
    let take = |n: usize, rest: &mut &[u8]| -> Vec<u8> {
        let n = n.min(rest.len());
        let (a, b) = rest.split_at(n);
        *rest = b;
        a.to_vec()
    };
    while let Some((&op, r)) = rest.split_first() {
        rest = r;
        match op % 6 {
            0 | 1 if established => {
                let part = if op % 6 == 0 {
                    Part::new(Command::ECHO, 0, 1, |w| {
                        EchoRequest.encode(w);
                        Ok(())
                    })
                } else {
                    Part::new(Command::CREATE, 3, 1 + u16::from(op >> 6), |w| {
                        w.zeros(57);
                        Ok(())
                    })
                };
                if let Ok(part) = part {
                    let req = Request::single(part, now + Duration::from_millis(500), "op");
                    if op % 6 == 1 && op & 0x20 != 0 {
                        if let Ok(id) = c.start_open_ended(req, now) {
                            outstanding.push(id);
                            open_ended.push(id);
                        }
                    } else if let Ok(id) = c.start(req, now) {
                        outstanding.push(id);
                    }
                }
            }
            2 => {
                if !outstanding.is_empty() {
                    c.cancel(outstanding.remove(0));
                }
            }
            3 => {
                let ms = take(1, &mut rest).first().copied().unwrap_or(0);
                now += Duration::from_millis(u64::from(ms) * 4);
                c.handle_timeout(now);
            }
            4 => {
                let len = take(2, &mut rest);
                let len = len.iter().fold(0usize, |a, &b| a << 8 | usize::from(b)) % 2048;
                let frame = take(len, &mut rest);
                c.handle_frame(BytesMut::from(&frame[..]), now);
            }
            _ => {
                // A response to the newest request, with its status, credits
                // and body from the input.
                if let Some(req) = last.clone() {
                    let f = take(8, &mut rest);
                    let status = NtStatus(u32::from_le_bytes([
                        f.first().copied().unwrap_or(0),
                        f.get(1).copied().unwrap_or(0),
                        0,
                        f.get(2).copied().unwrap_or(0) & 0xC0,
                    ]));
                    let credits = u16::from(f.get(3).copied().unwrap_or(1));
                    let body_len = usize::from(f.get(4).copied().unwrap_or(0));
                    let body = take(body_len, &mut rest);
                    let mut h = req;
                    if f.get(5).is_some_and(|b| b & 1 == 1) {
                        h.flags |= flags::ASYNC_COMMAND;
                        h.async_id = Some(u64::from(f.get(6).copied().unwrap_or(0)));
                    }
                    let msg = response(&h, status, credits, |w| {
                        w.bytes(&body);
                    });
                    c.handle_frame(BytesMut::from(&msg[..]), now);
                }
            }
        }
        for h in sent(&mut c) {
            last = Some(h);
        }
        while let Some(ev) = c.poll_event() {
            if let Event::Completed { id, .. } = ev {
                outstanding.retain(|o| *o != id);
            }
        }
    }
    // Every deadline passes: nothing is left waiting but open-ended
    // requests the server has taken.
    c.handle_timeout(now + Duration::from_secs(3600));
    while let Some(ev) = c.poll_event() {
        if let Event::Completed { id, .. } = ev {
            outstanding.retain(|o| *o != id);
        }
    }
    assert!(
        c.is_closed()
            || (outstanding.iter().all(|id| open_ended.contains(id))
                && c.requests_outstanding() <= outstanding.len())
    );
});
