//! Reconnecting with durable handles against real Samba, configured for
//! them (`durable handles = yes`, `kernel oplocks = no`, `kernel share
//! modes = no`, `posix locking = no`), through the harness's
//! fault-injecting proxy ([`FaultProxy`]):
//!
//! * the proxy cuts the connection during a 256 MiB download and a 256 MiB
//!   upload, early, in the middle and during the last window: with a
//!   reconnect policy each transfer completes, byte for byte; without
//!   one it fails with `NotConnected` within 100 ms of the cut;
//! * an open `RemoteFile` survives a cut;
//! * smbd's connection process killed with SIGKILL, and smbd restarted:
//!   the transfer resumes where the server still honours the durable
//!   handle, or fails with `NotResumable`, and the connection works again;
//! * SMB 2.1 (durable v1 with a lease) and SMB1 (nothing to resume: the
//!   typed error, then a working connection);
//! * a second client opening a file held with a lease: the break is
//!   acknowledged at once.

use std::time::{Duration, Instant};

use smbkit::{
    Connection, ConnectionEvent, Error, NotResumableReason, Protocol, ReconnectPolicy,
    SmbProtocolFactory,
};
use smbkit_testserver::{content, ExtraConfig, FaultProxy, Profile, TestServer};

/// The size of the large transfers.
const BIG: usize = 256 << 20;

/// Samba's settings for durable handles. With asynchronous writes (its
/// default `aio write size`), Samba refused the handle of an upload back
/// with STATUS_OBJECT_NAME_NOT_FOUND after most cuts: at reconnect it
/// compares the file with what it saved at the disconnect, and writes its
/// thread pool finished after that differ. Synchronous writes keep the two
/// equal. (Against such a server the upload fails with
/// `NotResumable(Refused)`.)
fn durable_config() -> ExtraConfig {
    ExtraConfig {
        global: "durable handles = yes\n\
                 kernel oplocks = no\n\
                 kernel share modes = no\n\
                 posix locking = no\n\
                 smb2 leases = yes\n\
                 aio write size = 0"
            .into(),
        sections: String::new(),
    }
}

struct Setup {
    srv: TestServer,
    proxy: FaultProxy,
}

fn setup(profile: Profile) -> Setup {
    let srv = TestServer::start_with(profile, durable_config())
        .expect("start the test Samba server (run scripts/install-deps)");
    let proxy = FaultProxy::start(srv.port()).expect("start the proxy");
    Setup { srv, proxy }
}

/// A reconnect policy quick enough for tests.
fn policy() -> ReconnectPolicy {
    ReconnectPolicy {
        attempts: 20,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
        give_up_after: Duration::from_secs(30),
    }
}

impl Setup {
    fn factory(&self) -> SmbProtocolFactory {
        let f = SmbProtocolFactory::new(
            self.srv.user(),
            self.srv.password(),
            "SMBKITCLIENT",
            "SMBKITTEST",
        )
        .unwrap()
        .direct_tcp(true)
        .timeout(Duration::from_secs(30))
        .dead_peer_timeout(Some(Duration::from_secs(2)));
        if self.srv.profile().speaks_smb2() {
            f
        } else {
            f.protocol(Protocol::Smb1Only)
        }
    }

    async fn connect(&self, reconnect: bool) -> Connection {
        self.factory()
            .reconnect(reconnect.then(policy))
            .connect(("127.0.0.1", self.proxy.port()))
            .await
            .expect("connect through the proxy")
    }
}

/// 256 MiB of test data: 1 MiB of pseudo-random bytes repeated, each
/// copy stamped with its index so that a chunk written or read at the
/// wrong offset shows.
fn big_data(seed: u32) -> Vec<u8> {
    let block = content(1 << 20, seed);
    let mut out = Vec::with_capacity(BIG);
    for i in 0..(BIG >> 20) as u32 {
        out.extend_from_slice(&block);
        let at = out.len() - block.len();
        out[at..at + 4].copy_from_slice(&i.to_le_bytes());
    }
    out
}

/// Where to cut, as offsets of the transfer: early, the middle, and
/// within the last window (8 requests of 1 MiB).
const CUTS: [(&str, u64); 3] = [
    ("early", 4 << 20),
    ("middle", (BIG / 2) as u64),
    ("last window", (BIG - (3 << 20)) as u64),
];

/// The first difference of two byte strings, for failure messages.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    if a.len() != b.len() {
        return format!("{} bytes instead of {}", a.len(), b.len());
    }
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("first difference at byte {i}"),
        None => "equal".into(),
    }
}

/// Waits until the connection reports `reconnects` reconnects.
async fn wait_reconnects(conn: &Connection, reconnects: u32) {
    let mut events = conn.events();
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if matches!(*events.borrow_and_update(), ConnectionEvent::Connected { reconnects: r } if r >= reconnects)
            {
                return;
            }
            events.changed().await.expect("events");
        }
    })
    .await
    .expect("the connection reconnects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_survives_cuts_at_several_points() {
    let s = setup(Profile::Modern);
    let data = big_data(11);
    std::fs::write(s.srv.share_path().join("big.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    for (n, (when, at)) in CUTS.iter().enumerate() {
        let before = s.proxy.connections();
        s.proxy.cut_when_to_client(s.proxy.bytes_to_client() + at);
        let mut out = Vec::with_capacity(BIG);
        let (_, got) = conn
            .retrieve_file("share", "/big.bin", &mut out)
            .await
            .unwrap_or_else(|e| panic!("download cut {when}: {e}"));
        assert_eq!(got, BIG as u64, "cut {when}");
        assert!(out == data, "cut {when}: {}", first_difference(&out, &data));
        assert!(
            s.proxy.connections() > before,
            "cut {when}: the proxy saw no new connection"
        );
        wait_reconnects(&conn, n as u32 + 1).await;
    }
    conn.close().await.unwrap();
    assert!(s
        .srv
        .wait_until_no_open_files(Duration::from_secs(5))
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_survives_cuts_at_several_points() {
    let s = setup(Profile::Modern);
    let data = big_data(12);
    let conn = s.connect(true).await;
    for (n, (when, at)) in CUTS.iter().enumerate() {
        let name = format!("up{n}.bin");
        s.proxy.cut_when_to_server(s.proxy.bytes_to_server() + at);
        let sent = conn
            .store_file("share", &name, &mut &data[..])
            .await
            .unwrap_or_else(|e| panic!("upload cut {when}: {e}"));
        assert_eq!(sent, BIG as u64, "cut {when}");
        wait_reconnects(&conn, n as u32 + 1).await;
        let on_disk = std::fs::read(s.srv.share_path().join(&name)).unwrap();
        assert!(
            on_disk == data,
            "cut {when}: {}",
            first_difference(&on_disk, &data)
        );
    }
    conn.close().await.unwrap();
}

/// Without a reconnect policy, a cut fails the transfer at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reconnect_a_cut_fails_within_100_ms() {
    let s = setup(Profile::Modern);
    let data = big_data(13);
    std::fs::write(s.srv.share_path().join("big.bin"), &data).unwrap();
    let conn = s.connect(false).await;
    // Download.
    let proxy = &s.proxy;
    let start = proxy.bytes_to_client();
    let cut = async {
        while proxy.bytes_to_client() < start + (64 << 20) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        proxy.cut();
        Instant::now()
    };
    let mut sink = tokio::io::sink();
    let (res, cut_at) = tokio::join!(conn.retrieve_file("share", "/big.bin", &mut sink), cut);
    let failed_at = Instant::now();
    assert!(matches!(res, Err(Error::NotConnected)), "{res:?}");
    let after = failed_at.saturating_duration_since(cut_at);
    assert!(
        after < Duration::from_millis(100),
        "failed {after:?} after the cut"
    );
    assert!(matches!(conn.echo(b"x").await, Err(Error::NotConnected)));

    // Upload, on a new connection.
    let conn = s.connect(false).await;
    let start = proxy.bytes_to_server();
    let cut = async {
        while proxy.bytes_to_server() < start + (64 << 20) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        proxy.cut();
        Instant::now()
    };
    let mut src = &data[..];
    let (res, cut_at) = tokio::join!(conn.store_file("share", "up.bin", &mut src), cut);
    let failed_at = Instant::now();
    assert!(matches!(res, Err(Error::NotConnected)), "{res:?}");
    let after = failed_at.saturating_duration_since(cut_at);
    assert!(
        after < Duration::from_millis(100),
        "failed {after:?} after the cut"
    );
}

/// An open `RemoteFile` takes its durable handle back and reads on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_file_survives_a_cut_and_events_tell() {
    let s = setup(Profile::Modern);
    let data = content(5 << 20, 21);
    std::fs::write(s.srv.share_path().join("f.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    let mut events = conn.events();
    assert_eq!(
        *events.borrow_and_update(),
        ConnectionEvent::Connected { reconnects: 0 }
    );
    let seen = tokio::spawn(async move {
        let mut seen = Vec::new();
        while events.changed().await.is_ok() {
            let ev = events.borrow_and_update().clone();
            let done = matches!(ev, ConnectionEvent::Connected { .. });
            seen.push(ev);
            if done {
                break;
            }
        }
        seen
    });
    let f = conn.open_file("share", "/f.bin").await.unwrap();
    assert_eq!(&f.read_at(0, 1000).await.unwrap()[..], &data[..1000]);
    // Two attempts fail (at least 50 ms apart), so that the watcher sees
    // the reconnecting state whatever it merges.
    s.proxy.fail_next_connections(&[0, 0]);
    s.proxy.cut();
    let got = f
        .read_at(1 << 20, 3 << 20)
        .await
        .expect("read after the cut");
    assert!(got[..] == data[1 << 20..4 << 20]);
    let seen = seen.await.unwrap();
    // A watch channel holds the latest event: ones that follow each other
    // closely may be merged, but what is seen is in order.
    let mut last_attempt = 0;
    for (i, ev) in seen.iter().enumerate() {
        match ev {
            ConnectionEvent::Lost => assert_eq!(i, 0, "{seen:?}"),
            ConnectionEvent::Reconnecting { attempt } => {
                assert!(*attempt > last_attempt && *attempt <= 3, "{seen:?}");
                last_attempt = *attempt;
            }
            ConnectionEvent::Connected { .. } => assert_eq!(i + 1, seen.len(), "{seen:?}"),
            other => panic!("unexpected {other:?} in {seen:?}"),
        }
    }
    assert!(last_attempt >= 2, "the attempts were seen: {seen:?}");
    assert_eq!(
        seen.last(),
        Some(&ConnectionEvent::Connected { reconnects: 1 }),
        "{seen:?}"
    );
    // The server holds the one reopened handle, closed with the file.
    f.close().await.unwrap();
    assert!(s
        .srv
        .wait_until_no_open_files(Duration::from_secs(5))
        .unwrap()
        .is_empty());
    conn.echo(b"still here").await.unwrap();
}

/// SMB 2.1: durable handle v1 with a lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb21_download_survives_a_cut() {
    let s = setup(Profile::Smb21Max);
    let data = content(40 << 20, 31);
    std::fs::write(s.srv.share_path().join("b.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    assert_eq!(conn.dialect(), smbkit::Dialect::SMB2_1);
    s.proxy
        .cut_when_to_client(s.proxy.bytes_to_client() + (20 << 20));
    let mut out = Vec::new();
    conn.retrieve_file("share", "/b.bin", &mut out)
        .await
        .expect("download over a cut");
    assert!(out == data, "{}", first_difference(&out, &data));
    wait_reconnects(&conn, 1).await;
}

/// SMB1 has no durable handles: the transfer fails with the typed error
/// and the connection works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb1_transfer_is_not_resumable_but_the_connection_comes_back() {
    let s = setup(Profile::Smb1Only);
    let data = content(40 << 20, 41);
    std::fs::write(s.srv.share_path().join("b.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    assert!(!conn.is_using_smb2());
    s.proxy
        .cut_when_to_client(s.proxy.bytes_to_client() + (10 << 20));
    let mut sink = tokio::io::sink();
    let res = conn.retrieve_file("share", "/b.bin", &mut sink).await;
    assert!(
        matches!(
            res,
            Err(Error::NotResumable {
                reason: NotResumableReason::Smb1,
                ..
            })
        ),
        "{res:?}"
    );
    conn.echo(b"back")
        .await
        .expect("the connection works again");
    let listed = conn.list_path("share", "/").await.unwrap();
    assert!(listed.iter().any(|f| f.filename == "b.bin"));
}

/// The downloads of the process tests: 96 MiB, with the fault at 32 MiB.
const PROC_BIG: usize = 96 << 20;

/// Either the transfer resumed (and the data is whole), or it failed with
/// `NotResumable`; the connection works afterwards either way.
async fn resumed_or_typed_error(
    conn: &Connection,
    res: Result<(u32, u64), Error>,
    out: &[u8],
    data: &[u8],
) {
    match res {
        Ok((_, n)) => {
            eprintln!("the transfer resumed");
            assert_eq!(n as usize, data.len());
            assert!(out == data, "{}", first_difference(out, data));
        }
        Err(Error::NotResumable { reason, .. }) => {
            eprintln!("the transfer could not resume: {reason}");
            assert!(
                matches!(reason, NotResumableReason::Refused(_)),
                "{reason:?}"
            );
        }
        Err(e) => panic!("neither resumed nor NotResumable: {e:?}"),
    }
    conn.echo(b"back")
        .await
        .expect("the connection works again");
    let listed = conn.list_path("share", "/").await.unwrap();
    assert!(listed.iter().any(|f| f.filename == "p.bin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smbd_connection_process_killed_mid_transfer() {
    let s = setup(Profile::Modern);
    let data = content(PROC_BIG, 51);
    std::fs::write(s.srv.share_path().join("p.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    let srv = &s.srv;
    let proxy = &s.proxy;
    let start = proxy.bytes_to_client();
    let kill = async {
        while proxy.bytes_to_client() < start + (32 << 20) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let opens = srv.open_files().unwrap();
        let pid = opens
            .iter()
            .find(|o| o.name.ends_with("p.bin"))
            .map(|o| o.pid)
            .expect("the server lists the open file");
        let status = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let mut out = Vec::with_capacity(PROC_BIG);
    let (res, ()) = tokio::join!(conn.retrieve_file("share", "/p.bin", &mut out), kill);
    resumed_or_typed_error(&conn, res, &out, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smbd_restarted_mid_transfer() {
    let mut s = setup(Profile::Modern);
    let data = content(PROC_BIG, 61);
    std::fs::write(s.srv.share_path().join("p.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    let start = s.proxy.bytes_to_client();
    let mut out = Vec::with_capacity(PROC_BIG);
    let res = {
        let transfer = conn.retrieve_file("share", "/p.bin", &mut out);
        tokio::pin!(transfer);
        // Run the transfer until 32 MiB have come, then restart smbd
        // while it waits.
        loop {
            tokio::select! {
                r = &mut transfer => break r,
                () = tokio::time::sleep(Duration::from_millis(1)) => {
                    if s.proxy.bytes_to_client() >= start + (32 << 20) {
                        s.srv.restart().expect("restart smbd");
                        break transfer.await;
                    }
                }
            }
        }
    };
    resumed_or_typed_error(&conn, res, &out, &data).await;
}

/// A second client's open breaks the lease smbkit holds; the break is
/// acknowledged at once, so the other client does not wait for the
/// server's break timeout (35 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_break_is_acknowledged_at_once() {
    let s = setup(Profile::Modern);
    let path = s.srv.share_path().join("l.bin");
    std::fs::write(&path, content(1 << 20, 71)).unwrap();
    s.srv.chown_to_user(&path).unwrap();
    let holder = s.connect(true).await;
    let f = holder.open_file("share", "/l.bin").await.unwrap();
    // A second client, without reconnect, overwrites the file: Samba
    // breaks the holder's read-handle lease first.
    let other = s.connect(false).await;
    let t0 = Instant::now();
    other
        .store_file("share", "/l.bin", &mut &b"new"[..])
        .await
        .expect("the second client writes");
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the second open took {took:?}"
    );
    f.close().await.unwrap();
    assert_eq!(
        std::fs::read(s.srv.share_path().join("l.bin")).unwrap(),
        b"new"
    );
}

/// The reconnect itself meets a fault at each of its steps in turn: the
/// TCP connection closed at once, then cut after the NEGOTIATE response,
/// after each SESSION_SETUP response, after the TREE_CONNECT response;
/// each attempt that fails is followed by another, and the download
/// completes, whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_at_every_step_of_the_reconnect() {
    let s = setup(Profile::Modern);
    let data = content(24 << 20, 81);
    std::fs::write(s.srv.share_path().join("r.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    let before = s.proxy.connections();
    s.proxy.fail_next_connections(&[0, 1, 2, 3, 4]);
    s.proxy
        .cut_when_to_client(s.proxy.bytes_to_client() + (8 << 20));
    let mut out = Vec::new();
    conn.retrieve_file("share", "/r.bin", &mut out)
        .await
        .expect("download over a cut and five failed reconnects");
    assert!(out == data, "{}", first_difference(&out, &data));
    // The five failed connections and the one that worked.
    assert_eq!(s.proxy.connections() - before, 6);
    conn.echo(b"ok").await.unwrap();
}

/// A lost connection is reconnected in the background at once, even with
/// nothing to do; when every attempt fails, the events say so, an
/// operation then starts a new round (`ReconnectFailed` with the count
/// when that fails too), and one after the server can be reached again
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_is_reported_and_a_later_operation_reconnects() {
    let s = setup(Profile::Modern);
    let conn = s
        .factory()
        .reconnect(Some(ReconnectPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            give_up_after: Duration::from_secs(10),
        }))
        .connect(("127.0.0.1", s.proxy.port()))
        .await
        .unwrap();
    conn.list_path("share", "/").await.unwrap();
    let mut events = conn.events();
    let before = s.proxy.connections();
    s.proxy.fail_next_connections(&[0, 0, 0, 0, 0, 0]);
    s.proxy.cut();
    // The background round, with no operation asking.
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if matches!(
                *events.borrow_and_update(),
                ConnectionEvent::GaveUp { attempts: 3, .. }
            ) {
                return;
            }
            events.changed().await.unwrap();
        }
    })
    .await
    .expect("the background round gives up");
    assert_eq!(s.proxy.connections() - before, 3);
    assert!(conn.is_ready(), "a reconnecting connection stays ready");
    // An operation's own round fails too.
    let err = conn.list_path("share", "/").await.unwrap_err();
    match &err {
        Error::ReconnectFailed { attempts: 3, .. } => {}
        e => panic!("expected ReconnectFailed after 3 attempts, got {e:?}"),
    }
    assert_eq!(s.proxy.connections() - before, 6);
    // The server can be reached again.
    conn.list_path("share", "/")
        .await
        .expect("a new round reconnects");
    assert_eq!(
        *conn.events().borrow(),
        ConnectionEvent::Connected { reconnects: 1 }
    );
    conn.close().await.unwrap();
    assert_eq!(*conn.events().borrow(), ConnectionEvent::Closed);
    assert!(matches!(conn.echo(b"x").await, Err(Error::NotConnected)));
}

/// An idle connection that is cut is replaced in the background: the
/// events tell it without any operation, and an open file's next read
/// takes its durable handle back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_replaced_in_the_background() {
    let s = setup(Profile::Modern);
    let data = content(3 << 20, 95);
    std::fs::write(s.srv.share_path().join("i.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    let f = conn.open_file("share", "/i.bin").await.unwrap();
    let before = s.proxy.connections();
    s.proxy.cut();
    wait_reconnects(&conn, 1).await;
    assert_eq!(s.proxy.connections() - before, 1);
    let got = f.read_at(0, data.len()).await.unwrap();
    assert!(got[..] == data[..]);
    f.close().await.unwrap();
}

/// A listing in flight when the connection is lost runs again on the new
/// one: reading operations are repeated whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_cut_midway_runs_again() {
    let s = setup(Profile::Modern);
    let dir = s.srv.share_path().join("many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..3000 {
        std::fs::write(dir.join(format!("file-with-a-long-name-{i:05}.txt")), b"x").unwrap();
    }
    let conn = s.connect(true).await;
    conn.echo(b"warm").await.unwrap();
    s.proxy
        .cut_when_to_client(s.proxy.bytes_to_client() + 100_000);
    let listed = conn.list_path("share", "/many").await.expect("listing");
    assert_eq!(
        listed
            .iter()
            .filter(|f| f.filename.ends_with(".txt"))
            .count(),
        3000
    );
    wait_reconnects(&conn, 1).await;
}

/// A server that goes silent mid-download is declared dead after the
/// dead-peer period; once it can be reached again, the connection is
/// replaced and the download completes, whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_is_replaced_and_the_download_completes() {
    let s = setup(Profile::Modern);
    let data = content(48 << 20, 91);
    std::fs::write(s.srv.share_path().join("d.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    let proxy = &s.proxy;
    let mut events = conn.events();
    let start = proxy.bytes_to_client();
    let fault = async {
        while proxy.bytes_to_client() < start + (16 << 20) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        proxy.stall();
        let stalled = Instant::now();
        // Dead after the 2 s dead-peer period (plus a little): lost, and
        // (the watch may merge the two) already reconnecting.
        loop {
            events.changed().await.unwrap();
            if matches!(
                *events.borrow_and_update(),
                ConnectionEvent::Lost | ConnectionEvent::Reconnecting { .. }
            ) {
                break;
            }
        }
        let dead_after = stalled.elapsed();
        proxy.resume();
        dead_after
    };
    let mut out = Vec::new();
    let (res, dead_after) = tokio::join!(conn.retrieve_file("share", "/d.bin", &mut out), fault);
    res.expect("download over a dead peer");
    assert!(
        dead_after >= Duration::from_millis(1500) && dead_after < Duration::from_millis(2500),
        "declared dead after {dead_after:?}"
    );
    assert!(out == data, "{}", first_difference(&out, &data));
}

/// A server that grants no durable handle: the transfer fails with
/// `NotResumable(NotDurable)`, and the connection works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_durable_handle_the_transfer_is_not_resumable() {
    let srv = TestServer::start_with(
        Profile::Modern,
        ExtraConfig {
            global: "durable handles = no".into(),
            sections: String::new(),
        },
    )
    .expect("start the test Samba server (run scripts/install-deps)");
    let proxy = FaultProxy::start(srv.port()).expect("start the proxy");
    let s = Setup { srv, proxy };
    let data = content(24 << 20, 97);
    std::fs::write(s.srv.share_path().join("n.bin"), &data).unwrap();
    let conn = s.connect(true).await;
    s.proxy
        .cut_when_to_client(s.proxy.bytes_to_client() + (8 << 20));
    let mut sink = tokio::io::sink();
    let res = conn.retrieve_file("share", "/n.bin", &mut sink).await;
    assert!(
        matches!(
            res,
            Err(Error::NotResumable {
                reason: NotResumableReason::NotDurable,
                ..
            })
        ),
        "{res:?}"
    );
    let msg = res.unwrap_err().to_string();
    assert!(
        msg.contains("n.bin") && msg.contains("no durable handle"),
        "{msg}"
    );
    let mut out = Vec::new();
    conn.retrieve_file("share", "/n.bin", &mut out)
        .await
        .expect("the connection works again");
    assert!(out == data);
}

/// Writing through `RemoteFile`'s `AsyncWrite` over a cut: the WRITEs in
/// flight are sent again on the durable handle taken back, and the file
/// is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_file_written_through_asyncwrite_survives_a_cut() {
    use tokio::io::AsyncWriteExt;
    let s = setup(Profile::Modern);
    let data = big_data(99);
    let data = &data[..48 << 20];
    let conn = s.connect(true).await;
    let mut f = conn
        .open(
            "share",
            "/aw.bin",
            smbkit::OpenOptions::new().write(true).create(true),
        )
        .await
        .unwrap();
    s.proxy
        .cut_when_to_server(s.proxy.bytes_to_server() + (20 << 20));
    for piece in data.chunks(300_001) {
        f.write_all(piece).await.expect("write over a cut");
    }
    f.close().await.expect("close after the cut");
    wait_reconnects(&conn, 1).await;
    let on_disk = std::fs::read(s.srv.share_path().join("aw.bin")).unwrap();
    assert!(on_disk == data, "{}", first_difference(&on_disk, data));
}
