//! Simulation tests of open-ended requests (NT_TRANSACT_NOTIFY_CHANGE) on
//! the SMB1 connection: once sent they have no deadline and the server owes
//! no answer to them, so neither a timeout nor dead-peer detection ends
//! them; withdrawing one sends SMB_COM_NT_CANCEL, which takes one signing
//! sequence number.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::tests::{completed, conn, echo, empty, events, reply, take, LIMIT};
use super::*;
use crate::fscc::notify::{encode_notify_information, filter, FileAction, FileNotifyInformation};
use crate::smb1::notify::{decode_notify_change_parameters, NotifyChangeRequest};
use crate::smb1::trans::TransResponseFragment;

fn notify(c: &mut Smb1Connection, now: Instant, limit: Duration) -> RequestId {
    let n = NotifyChangeRequest {
        completion_filter: filter::NAME,
        fid: 0x4007,
        watch_tree: false,
        max_parameter_count: 4096,
    };
    let mut r = Request::new(command::NT_TRANSACT, 5, now + limit, "notify", |w| {
        n.encode(w)
    })
    .unwrap();
    r.kind = Kind::Trans { limit: 4096 };
    c.start_open_ended(r, now).unwrap()
}

fn answer(req: &Header, status: NtStatus, entries: &[FileNotifyInformation]) -> Vec<u8> {
    let params = encode_notify_information(entries).unwrap();
    reply(req, status, |w| {
        TransResponseFragment::whole(&[], &params, &[])
            .unwrap()
            .encode_nt(w)
            .unwrap()
    })
}

#[test]
fn a_sent_notify_has_no_deadline_and_owes_nothing() {
    let t0 = Instant::now();
    let mut c = conn(4, 0);
    c.set_liveness(
        crate::conn::Liveness {
            dead_after: Some(Duration::from_secs(5)),
            keepalive: Some(Duration::from_secs(60)),
        },
        t0,
    );
    let id = notify(&mut c, t0, Duration::from_secs(5));
    let sent = take(&mut c);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.command, command::NT_TRANSACT);
    // Only the keep-alive needs the time.
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    let mut now = t0;
    for _ in 0..60 {
        now = c.poll_timeout().unwrap();
        c.handle_timeout(now);
        let probe = take(&mut c);
        assert_eq!(probe.len(), 1, "one keep-alive ECHO");
        assert_eq!(probe[0].0.command, command::ECHO);
        c.handle_frame(Bytes::from(empty(&probe[0].0)), now);
    }
    assert!(!c.is_closed());
    assert!(completed(&events(&mut c)).is_empty());
    assert_eq!(c.slots_in_use(), 1, "the notify holds its slot");
    let entry = FileNotifyInformation {
        action: FileAction::REMOVED,
        file_name: "x".into(),
    };
    c.handle_frame(
        Bytes::from(answer(
            &sent[0].0,
            NtStatus::SUCCESS,
            std::slice::from_ref(&entry),
        )),
        now,
    );
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    let Ok(Reply::Trans(t)) = &done[0].1 else {
        panic!("{:?}", done[0].1);
    };
    assert_eq!(
        decode_notify_change_parameters(&t.parameters).unwrap(),
        [entry]
    );
    assert_eq!(c.slots_in_use(), 0);
}

#[test]
fn a_notify_waiting_for_a_slot_times_out() {
    let t0 = Instant::now();
    let mut c = conn(1, 0);
    echo(&mut c, t0);
    let id = notify(&mut c, t0, Duration::from_secs(2));
    assert_eq!(take(&mut c).len(), 1, "the echo has the one slot");
    c.handle_timeout(t0 + Duration::from_secs(2));
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    assert!(matches!(done[0].1, Err(ConnError::Timeout { .. })));
}

#[test]
fn a_withdrawn_notify_is_cancelled_with_nt_cancel_taking_one_sequence_number() {
    let now = Instant::now();
    let mut c = conn(10, 0);
    let key = vec![9u8; 16];
    c.activate_signing(Smb1Signer::new(key.clone()), 2);
    let server = Smb1Signer::new(key);
    let id = notify(&mut c, now, LIMIT);
    let sent = take(&mut c);
    assert!(server.verify(&sent[0].1, 2));
    c.cancel(id);
    let cancel = take(&mut c);
    assert_eq!(cancel.len(), 1);
    let (h, msg) = &cancel[0];
    assert_eq!(h.command, command::NT_CANCEL);
    assert_eq!((h.mid, h.tid, h.uid), (sent[0].0.mid, 5, sent[0].0.uid));
    assert_eq!(h.pid_low, sent[0].0.pid_low);
    assert_eq!(&msg[32..], &[0, 0, 0]);
    assert!(
        server.verify(msg, 4),
        "NT_CANCEL signed with the next number"
    );
    // The next request takes the number after it: NT_CANCEL took one.
    let e = echo(&mut c, now);
    let sent_echo = take(&mut c);
    assert!(server.verify(&sent_echo[0].1, 5));
    // The server completes the notify, with the notify's own number + 1.
    let mut cancelled = answer(&sent[0].0, NtStatus::CANCELLED, &[]);
    server.sign(&mut cancelled, 3);
    c.handle_frame(Bytes::from(cancelled), now);
    assert!(events(&mut c).is_empty(), "absorbed");
    assert!(!c.has_abandoned());
    let mut ok = empty(&sent_echo[0].0);
    server.sign(&mut ok, 6);
    c.handle_frame(Bytes::from(ok), now);
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, e);
    assert!(done[0].1.is_ok());
    assert!(!c.is_closed());
    assert_eq!(c.slots_in_use(), 0);
}

#[test]
fn withdrawing_a_notify_not_sent_yet_sends_nothing() {
    let now = Instant::now();
    let mut c = conn(1, 0);
    echo(&mut c, now);
    let id = notify(&mut c, now, LIMIT);
    assert_eq!(take(&mut c).len(), 1);
    c.cancel(id);
    assert!(take(&mut c).is_empty());
}

#[test]
fn enum_dir_without_transaction_words_completes_the_notify() {
    let now = Instant::now();
    let mut c = conn(4, 0);
    let id = notify(&mut c, now, LIMIT);
    let sent = take(&mut c);
    // WordCount 0, ByteCount 0, as an error response.
    let msg = reply(&sent[0].0, NtStatus::NOTIFY_ENUM_DIR, |w| {
        w.u8(0).u16(0);
    });
    c.handle_frame(Bytes::from(msg), now);
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    let Ok(Reply::Trans(t)) = &done[0].1 else {
        panic!("{:?}", done[0].1);
    };
    assert_eq!(t.header.status, NtStatus::NOTIFY_ENUM_DIR);
    assert!(t.parameters.is_empty());
    assert!(!c.is_closed());
}
