//! Simulation tests of open-ended requests (CHANGE_NOTIFY) on the SMB2
//! connection: once the server has taken one with an interim response it
//! has no deadline and owes nothing, so neither a timeout nor dead-peer
//! detection ends it; withdrawing it sends CANCEL with its AsyncId.

use std::time::{Duration, Instant};

use super::tests::{
    completed, echo_answered, echo_response, error_body, established, events, feed, part, response,
    Clock, Server,
};
use super::*;
use crate::fscc::notify::{filter, FileAction, FileNotifyInformation};
use crate::smb2::change_notify::{ChangeNotifyRequest, ChangeNotifyResponse};
use crate::smb2::header::flags;

const DIR: FileId = FileId {
    persistent: 0x51,
    volatile: 0x52,
};

/// Starts a CHANGE_NOTIFY on [`DIR`] whose interim must come within
/// `limit`.
fn notify(c: &mut Smb2Connection, clock: &Clock, limit: Duration) -> RequestId {
    let req = ChangeNotifyRequest {
        flags: 0,
        output_buffer_length: 4096,
        file_id: DIR,
        completion_filter: filter::NAME,
    };
    let p = part(Command::CHANGE_NOTIFY, 9, 1, |w| req.encode(w));
    c.start_open_ended(
        Request::single(p, clock.now() + limit, "change notify"),
        clock.now(),
    )
    .unwrap()
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

/// The final, asynchronous answer to `req` carrying `entries`.
fn changes(req: &Header, async_id: u64, entries: &[FileNotifyInformation]) -> Vec<u8> {
    let mut h = Header::decode(&response(req, NtStatus::SUCCESS, 1, error_body)).unwrap();
    h.flags |= flags::ASYNC_COMMAND;
    h.async_id = Some(async_id);
    let mut w = Writer::new();
    h.encode(&mut w);
    ChangeNotifyResponse::from_entries(entries)
        .unwrap()
        .encode(&mut w)
        .unwrap();
    w.into_vec()
}

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
fn a_taken_notify_outlives_its_deadline_and_completes_hours_later() {
    let mut clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let id = notify(&mut c, &clock, Duration::from_secs(5));
    let req = s.take(&mut c).remove(0);
    assert_eq!(req.header.command, Command::CHANGE_NOTIFY);
    assert_eq!(c.poll_timeout(), Some(clock.now() + Duration::from_secs(5)));
    feed(&mut c, &interim(&req.header, 0x99), clock.now());
    assert_eq!(c.poll_timeout(), None, "nothing left to time");
    for _ in 0..24 {
        let now = clock.advance(Duration::from_secs(3600));
        c.handle_timeout(now);
    }
    assert!(completed(&events(&mut c)).is_empty());
    assert!(!c.is_closed());
    assert_eq!(c.requests_outstanding(), 1);
    // Other requests go on meanwhile.
    let (_, ev) = echo_answered(&mut c, &s, &clock, |_, r| vec![echo_response(&r.header)]);
    assert!(completed(&ev)[0].1.is_ok());
    let entry = FileNotifyInformation {
        action: FileAction::ADDED,
        file_name: "late.txt".into(),
    };
    feed(
        &mut c,
        &changes(&req.header, 0x99, std::slice::from_ref(&entry)),
        clock.now(),
    );
    let done = completed(&events(&mut c));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    let r = &done[0].1.as_ref().unwrap()[0];
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    let got = ChangeNotifyResponse::decode(&r.msg).unwrap();
    assert_eq!(got.entries().unwrap(), [entry]);
    assert_eq!(c.messages_in_flight(), 0);
    assert!(c.open_ended.is_empty());
}

#[test]
fn a_notify_the_server_never_takes_times_out() {
    let mut clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let id = notify(&mut c, &clock, Duration::from_secs(5));
    let req = s.take(&mut c).remove(0);
    let now = clock.advance(Duration::from_secs(5));
    c.handle_timeout(now);
    let done = completed(&events(&mut c));
    assert_eq!(done[0].0, id);
    assert!(matches!(
        done[0].1,
        Err(ConnError::Timeout {
            operation: "change notify",
            ..
        })
    ));
    let cancel = s.take(&mut c).remove(0);
    assert_eq!(cancel.header.command, Command::CANCEL);
    assert_eq!(cancel.header.message_id, req.header.message_id);
    assert!(c.open_ended.is_empty());
}

#[test]
fn a_watched_connection_with_a_taken_notify_is_not_dead() {
    let mut clock = Clock(Instant::now());
    let mut c = watched(5, Some(60), &clock);
    let s = Server::new();
    notify(&mut c, &clock, Duration::from_secs(30));
    let req = s.take(&mut c).remove(0);
    // Owed until the interim: silence now would be death.
    assert_eq!(c.poll_timeout(), Some(clock.now() + Duration::from_secs(5)));
    let now = clock.advance(Duration::from_secs(1));
    feed(&mut c, &interim(&req.header, 7), now);
    // From here only the keep-alive needs the time.
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(60)));
    let now = clock.advance(Duration::from_secs(30));
    c.handle_timeout(now);
    assert!(!c.is_closed(), "30 s of silence with only the notify out");
    // An hour of keep-alives, each answered: the connection and the notify
    // stay.
    for _ in 0..60 {
        let at = c.poll_timeout().unwrap();
        let now = clock.advance(at.saturating_duration_since(clock.now()));
        c.handle_timeout(now);
        let probe = s.take(&mut c);
        assert_eq!(probe.len(), 1);
        assert_eq!(probe[0].header.command, Command::ECHO);
        feed(&mut c, &echo_response(&probe[0].header), now);
    }
    assert!(!c.is_closed());
    assert!(completed(&events(&mut c)).is_empty());
    assert_eq!(c.requests_outstanding(), 1);
    // A probe left unanswered is still death, notify or not.
    let at = c.poll_timeout().unwrap();
    let now = clock.advance(at.saturating_duration_since(clock.now()));
    c.handle_timeout(now);
    assert_eq!(s.take(&mut c)[0].header.command, Command::ECHO);
    let now = clock.advance(Duration::from_secs(5));
    c.handle_timeout(now);
    let ev = events(&mut c);
    assert!(matches!(
        ev.last(),
        Some(Event::Closed(ConnError::PeerDead { .. }))
    ));
    assert!(matches!(completed(&ev)[0].1, Err(ConnError::NotConnected)));
    assert!(c.open_ended.is_empty());
}

#[test]
fn a_withdrawn_notify_is_cancelled_by_its_async_id_and_its_answer_absorbed() {
    let clock = Clock(Instant::now());
    let mut c = established(10, false, &clock);
    let s = Server::new();
    let id = notify(&mut c, &clock, Duration::from_secs(5));
    let req = s.take(&mut c).remove(0);
    feed(&mut c, &interim(&req.header, 0x1234), clock.now());
    c.cancel(id);
    let cancel = s.take(&mut c).remove(0);
    assert_eq!(cancel.header.command, Command::CANCEL);
    assert_eq!(cancel.header.async_id, Some(0x1234));
    assert!(c.open_ended.is_empty());
    let mut h = Header::decode(&response(&req.header, NtStatus::CANCELLED, 1, error_body)).unwrap();
    h.flags |= flags::ASYNC_COMMAND;
    h.async_id = Some(0x1234);
    let mut w = Writer::new();
    h.encode(&mut w);
    error_body(&mut w);
    feed(&mut c, &w.into_vec(), clock.now());
    assert!(events(&mut c).is_empty());
    assert!(!c.is_closed());
    assert_eq!(c.messages_in_flight(), 0);
    assert_eq!(c.requests_outstanding(), 0);
}
