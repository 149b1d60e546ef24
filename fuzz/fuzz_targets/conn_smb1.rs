//! The SMB1 connection state machine fed hostile frames: a program from
//! the input starts single and transaction requests (against a server that
//! allows 1 to 4 at once), withdraws them, lets time pass, and feeds raw
//! frames or replies to a pending request whose words and bytes come from
//! the input; some transactions are open-ended (as a notify is), waiting
//! without deadline once sent. Nothing panics, and once every deadline has
//! passed no request is left waiting but open-ended ones.
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smbkit_proto::conn::smb1::{Event, Kind, Request};
use smbkit_proto::conn::{RequestId, Smb1Config, Smb1Connection};
use smbkit_proto::smb1::header::{command, flags, flags2, Header};
use smbkit_proto::{NtStatus, Writer};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else { return };
    let mut now = Instant::now();
    let mut c = Smb1Connection::new(Smb1Config {
        max_mpx: u16::from(mode % 4) + 1,
        max_buffer: if mode & 4 != 0 { 256 } else { 0 },
        flags2: flags2::UNICODE | flags2::NT_STATUS | flags2::LONG_NAMES,
        first_mid: 1,
    });
    if mode & 8 != 0 {
        c.activate_signing(smbkit_proto::smb1::signing::Smb1Signer::new(vec![3; 16]), 2);
    }
    let mut outstanding: Vec<RequestId> = Vec::new();
    let mut open_ended: Vec<RequestId> = Vec::new();
    let mut sent: Vec<Header> = Vec::new();
    let take = |n: usize, rest: &mut &[u8]| -> Vec<u8> {
        let n = n.min(rest.len());
        let (a, b) = rest.split_at(n);
        *rest = b;
        a.to_vec()
    };
    while let Some((&op, r)) = rest.split_first() {
        rest = r;
        match op % 6 {
            0 | 1 => {
                let cmd = [command::ECHO, command::READ_ANDX, command::NT_CREATE_ANDX, command::CLOSE, command::TREE_CONNECT_ANDX, command::TRANSACTION2][usize::from(op >> 5) % 6];
                let size = usize::from(op >> 3) * 40;
                if let Ok(mut req) = Request::new(cmd, 1, now + Duration::from_millis(500), "op", |w| {
                    w.u8(0).u16(0).zeros(size);
                    Ok(())
                }) {
                    if cmd == command::TRANSACTION2 {
                        req.kind = Kind::Trans { limit: 1 << 16 };
                    }
                    if cmd == command::TRANSACTION2 && op & 8 != 0 {
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
                c.handle_frame(Bytes::from(frame), now);
            }
            _ => {
                let pick = take(1, &mut rest).first().copied().unwrap_or(0);
                if !sent.is_empty() {
                    let mut h = sent[usize::from(pick) % sent.len()].clone();
                    h.flags |= flags::REPLY;
                    let f = take(3, &mut rest);
                    let st = f.first().copied().unwrap_or(0);
                    h.status = if st & 1 == 1 {
                        NtStatus(0xC000_0000 | u32::from(st))
                    } else {
                        NtStatus::SUCCESS
                    };
                    let len = usize::from(f.get(1).copied().unwrap_or(0));
                    let body = take(len, &mut rest);
                    let mut w = Writer::new();
                    h.encode(&mut w);
                    w.bytes(&body);
                    c.handle_frame(Bytes::from(w.into_vec()), now);
                }
            }
        }
        while let Some(t) = c.poll_transmit() {
            if let Ok(f) = t.finish() {
                if let Ok(h) = Header::decode(&f.msg) {
                    sent.push(h);
                }
            }
        }
        while let Some(ev) = c.poll_event() {
            if let Event::Completed { id, .. } = ev {
                outstanding.retain(|o| *o != id);
            }
        }
    }
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
