//! `Connection::watch` against real Samba, over SMB 3.1.1 and SMB1 (and
//! SMB1 with mandatory signing where the cancel's sequence number
//! matters): a second connection (or the server's own file system) makes
//! changes, and the watch reports them.
//!
//! * created, written, renamed (both halves in one change) and deleted
//!   files, in order;
//! * changes in a subfolder only when the watch is recursive;
//! * a filter that leaves folders and writes out;
//! * a burst of hundreds of files created while the watch re-arms, every
//!   one reported exactly once;
//! * overflow, from an output buffer too small for one change and from a
//!   consumer that falls behind by more changes than Samba keeps (1000):
//!   `Change::Overflow`, and the watch goes on;
//! * the folder's handle closed when the watch is dropped (at rest, with
//!   changes queued, and while it is being armed) or closed, the
//!   connection still whole afterwards (credits, MaxMpxCount slots,
//!   signing sequence numbers);
//! * a watch idle for longer than the dead-peer timeout is not taken for a
//!   dead connection;
//! * a connection cut under the watch: with a reconnect policy the watch
//!   is armed again and says `Overflow`, without one it ends with
//!   `NotConnected`;
//! * the watched folder deleted: the watch ends with STATUS_DELETE_PENDING,
//!   and the folder goes once its handle is closed;
//! * a folder on a share that requires encryption;
//! * typed errors for a missing folder and for a file, and from a server
//!   that does not watch (impacket's), at once;
//! * the blocking iterator.
//!
//! Samba reports changes made by any client through its notify daemon,
//! and changes made on its own file system through inotify (`kernel change
//! notify`, on by default); the test server needs no extra configuration.
//! smbd registers a watch with its notify daemon by a message, a moment
//! after it has taken the request: the tests first make a change and wait
//! for it (`sync`) before the changes they count.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use smbkit::{
    Change, Connection, Dialect, Error, NotifyFilter, NtStatus, OpenOptions, Protocol,
    ReconnectPolicy, SmbProtocolFactory, Watch, WatchOptions,
};
use smbkit_testserver::{
    impacket_available, FaultProxy, ImpacketMode, ImpacketServer, Profile, TestServer,
};

/// SMB 3.1.1 and SMB1.
const FAMILIES: [Profile; 2] = [Profile::Modern, Profile::Smb1Only];
/// How long a change may take to arrive.
const WITHIN: Duration = Duration::from_secs(10);

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

fn factory(srv: &TestServer) -> SmbProtocolFactory {
    let f = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true);
    if srv.profile().speaks_smb2() {
        f
    } else {
        f.protocol(Protocol::Smb1Only)
    }
}

async fn connect(srv: &TestServer) -> Connection {
    let conn = factory(srv)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    let expected = if srv.profile().speaks_smb2() {
        Dialect::SMB3_1_1
    } else {
        Dialect::NT_LM_0_12
    };
    assert_eq!(conn.dialect(), expected);
    conn
}

/// A server, the watching connection and another that makes the changes,
/// with the folder `w` created.
async fn setup(profile: Profile) -> (TestServer, Connection, Connection) {
    let srv = server(profile);
    let watcher = connect(&srv).await;
    let changer = connect(&srv).await;
    changer.create_directory("share", "w").await.unwrap();
    (srv, watcher, changer)
}

/// The next change, within [`WITHIN`].
async fn next(w: &mut Watch, what: &str) -> Change {
    match tokio::time::timeout(WITHIN, w.next_change()).await {
        Ok(Ok(Some(c))) => c,
        Ok(r) => panic!("{what}: the watch gave {r:?}"),
        Err(_) => panic!("{what}: nothing within {WITHIN:?}"),
    }
}

/// Changes until one equals `last` (included).
async fn until(w: &mut Watch, last: &Change) -> Vec<Change> {
    let mut got = Vec::new();
    loop {
        let c = next(w, &format!("waiting for {last:?} after {got:?}")).await;
        got.push(c.clone());
        if &c == last {
            return got;
        }
    }
}

/// Changes that arrive within `quiet` of each other.
async fn quiet_for(w: &mut Watch, quiet: Duration) -> Vec<Change> {
    let mut got = Vec::new();
    while let Ok(r) = tokio::time::timeout(quiet, w.next_change()).await {
        got.push(r.unwrap().unwrap());
    }
    got
}

/// Waits until the server reports changes on the watch: Samba's smbd takes
/// the request at once (which `watch` waits for), but registers it with its
/// notify daemon by a message of its own, a moment later; a change made in
/// between is not seen. A file is created in the folder (another each half
/// second) until the watch reports something, then what follows is let
/// settle and dropped.
async fn sync(w: &mut Watch, changer: &Connection) {
    static PROBES: AtomicUsize = AtomicUsize::new(0);
    for _ in 0..40 {
        let n = PROBES.fetch_add(1, Ordering::Relaxed);
        store(changer, &format!("w/.sync-{n}"), b"").await;
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(500), w.next_change()).await {
            r.unwrap().expect("a change");
            quiet_for(w, Duration::from_millis(300)).await;
            return;
        }
    }
    panic!("the watch reports nothing");
}

fn added(p: &str) -> Change {
    Change::Added(p.into())
}

async fn store(conn: &Connection, path: &str, data: &[u8]) {
    let mut data = data;
    conn.store_file("share", path, &mut data).await.unwrap();
}

async fn no_open_files(srv: &TestServer, what: &str) {
    let left = srv
        .wait_until_no_open_files(Duration::from_secs(5))
        .unwrap();
    assert!(left.is_empty(), "{what}: still open: {left:#?}");
}

/// The connection is whole: echo, and more requests at once than a
/// leaked credit or MaxMpxCount slot would let through.
async fn still_whole(conn: &Connection, what: &str) {
    conn.echo(b"still there").await.unwrap();
    let all = (0..64).map(|_| conn.get_attributes("share", "w"));
    let r = tokio::time::timeout(Duration::from_secs(10), futures_join_all(all)).await;
    let r = r.unwrap_or_else(|_| panic!("{what}: 64 queries did not complete"));
    assert!(r.iter().all(|r| r.is_ok()), "{what}: {r:?}");
}

/// Runs futures at once, in order of their results (no stream library
/// among the dependencies).
async fn futures_join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_write_rename_delete_are_reported_in_order() {
    for profile in FAMILIES {
        let (srv, watcher, changer) = setup(profile).await;
        let mut w = watcher
            .watch("share", "/w", WatchOptions::default())
            .await
            .unwrap();
        assert_eq!(w.path(), "/w");
        assert_eq!(w.buffer_size(), smbkit::DEFAULT_WATCH_BUFFER);
        sync(&mut w, &changer).await;
        store(&changer, "w/a.txt", b"hello").await;
        let got = until(&mut w, &added("a.txt")).await;
        assert_eq!(got, [added("a.txt")], "{profile:?}");
        let f = changer
            .open("share", "w/a.txt", OpenOptions::new().write(true))
            .await
            .unwrap();
        f.write_at(5, b", world").await.unwrap();
        f.close().await.unwrap();
        until(&mut w, &Change::Modified("a.txt".into())).await;
        changer.rename("share", "w/a.txt", "w/b.txt").await.unwrap();
        let renamed = Change::Renamed {
            from: "a.txt".into(),
            to: "b.txt".into(),
        };
        let got = until(&mut w, &renamed).await;
        assert!(
            got.iter()
                .all(|c| matches!(c, Change::Modified(_)) || c == &renamed),
            "{profile:?}: {got:?}"
        );
        // Renames in quick succession: each reported whole, whether the
        // server sends its halves in one answer or across two.
        for (from, to) in [("b.txt", "c.txt"), ("c.txt", "d.txt"), ("d.txt", "b.txt")] {
            changer
                .rename("share", &format!("w/{from}"), &format!("w/{to}"))
                .await
                .unwrap();
        }
        for (from, to) in [("b.txt", "c.txt"), ("c.txt", "d.txt"), ("d.txt", "b.txt")] {
            let renamed = Change::Renamed {
                from: from.into(),
                to: to.into(),
            };
            let got = until(&mut w, &renamed).await;
            assert!(
                got.iter()
                    .all(|c| matches!(c, Change::Modified(_)) || c == &renamed),
                "{profile:?}: {got:?}"
            );
        }
        changer
            .delete_files("share", "w/b.txt", false)
            .await
            .unwrap();
        let got = until(&mut w, &Change::Removed("b.txt".into())).await;
        assert!(
            got.iter()
                .all(|c| matches!(c, Change::Modified(_) | Change::Removed(_))),
            "{profile:?}: {got:?}"
        );
        // Nothing else is pending, and nothing is reported twice.
        let rest = quiet_for(&mut w, Duration::from_millis(500)).await;
        assert!(rest.is_empty(), "{profile:?}: {rest:?}");
        drop(w);
        no_open_files(&srv, "after the drop").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subfolder_is_watched_only_when_recursive() {
    for profile in FAMILIES {
        let (_srv, watcher, changer) = setup(profile).await;
        let mut flat = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        let deep_options = WatchOptions {
            recursive: true,
            ..WatchOptions::default()
        };
        let mut deep = watcher.watch("share", "w", deep_options).await.unwrap();
        sync(&mut flat, &changer).await;
        sync(&mut deep, &changer).await;
        quiet_for(&mut flat, Duration::from_millis(100)).await;
        changer.create_directory("share", "w/sub").await.unwrap();
        changer
            .create_directory("share", "w/sub/deeper")
            .await
            .unwrap();
        store(&changer, "w/sub/deeper/x.txt", b"x").await;
        store(&changer, "w/marker", b"").await;
        let seen = until(&mut flat, &added("marker")).await;
        assert!(seen.contains(&added("sub")), "{profile:?}: {seen:?}");
        assert!(
            seen.iter()
                .all(|c| !c.path().is_some_and(|p| p.starts_with("sub/"))),
            "{profile:?}: the flat watch saw below: {seen:?}"
        );
        let seen = until(&mut deep, &added("marker")).await;
        for p in ["sub", "sub/deeper", "sub/deeper/x.txt"] {
            assert!(seen.contains(&added(p)), "{profile:?}: no {p} in {seen:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_share_root_is_watched_too() {
    for profile in FAMILIES {
        let (_srv, watcher, changer) = setup(profile).await;
        let below = WatchOptions {
            recursive: true,
            ..WatchOptions::default()
        };
        let mut w = watcher.watch("share", "/", below).await.unwrap();
        sync(&mut w, &changer).await;
        store(&changer, "top.txt", b"").await;
        store(&changer, "w/below.txt", b"").await;
        let got = until(&mut w, &added("w/below.txt")).await;
        assert!(got.contains(&added("top.txt")), "{profile:?}: {got:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filter_leaves_out_what_it_does_not_name() {
    for profile in FAMILIES {
        let (_srv, watcher, changer) = setup(profile).await;
        let files_only = WatchOptions {
            filter: NotifyFilter::FILE_NAME,
            ..WatchOptions::default()
        };
        let mut w = watcher.watch("share", "w", files_only).await.unwrap();
        sync(&mut w, &changer).await;
        changer.create_directory("share", "w/folder").await.unwrap();
        store(&changer, "w/f.txt", b"data").await;
        let f = changer
            .open("share", "w/f.txt", OpenOptions::new().write(true))
            .await
            .unwrap();
        f.write_at(0, b"DATA, longer").await.unwrap();
        f.close().await.unwrap();
        store(&changer, "w/g.txt", b"").await;
        let got = until(&mut w, &added("g.txt")).await;
        assert_eq!(got, [added("f.txt"), added("g.txt")], "{profile:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_changes_loses_nothing() {
    const N: usize = 400;
    for profile in FAMILIES {
        let (_srv, watcher, changer) = setup(profile).await;
        let options = WatchOptions {
            filter: NotifyFilter::FILE_NAME,
            ..WatchOptions::default()
        };
        let mut w = watcher.watch("share", "w", options).await.unwrap();
        sync(&mut w, &changer).await;
        let burst = tokio::spawn(async move {
            // 8 creations at a time: the changes come faster than one
            // answer and the next request take.
            for chunk in (0..N).collect::<Vec<_>>().chunks(8) {
                let creates = chunk.iter().map(|i| {
                    let changer = changer.clone();
                    async move {
                        let mut empty: &[u8] = b"";
                        changer
                            .store_file("share", &format!("w/f{i:04}"), &mut empty)
                            .await
                    }
                });
                for r in futures_join_all(creates).await {
                    r.unwrap();
                }
            }
        });
        let mut names = BTreeSet::new();
        while names.len() < N {
            match next(&mut w, &format!("{} of {N} seen", names.len())).await {
                Change::Added(p) => assert!(names.insert(p.clone()), "{profile:?}: {p} twice"),
                c => panic!("{profile:?}: {c:?} after {} files", names.len()),
            }
        }
        burst.await.unwrap();
        let expected: BTreeSet<String> = (0..N).map(|i| format!("f{i:04}")).collect();
        assert_eq!(names, expected, "{profile:?}");
        let rest = quiet_for(&mut w, Duration::from_millis(500)).await;
        assert!(rest.is_empty(), "{profile:?}: {rest:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_buffer_too_small_for_one_change_is_an_overflow() {
    for profile in FAMILIES {
        let (_srv, watcher, changer) = setup(profile).await;
        // An entry takes 12 bytes and its name: "abc.txt" needs 26.
        let tiny = WatchOptions {
            buffer_size: 16,
            ..WatchOptions::default()
        };
        let mut w = watcher.watch("share", "w", tiny).await.unwrap();
        assert_eq!(w.buffer_size(), 16);
        sync(&mut w, &changer).await;
        store(&changer, "w/abc.txt", b"").await;
        assert_eq!(next(&mut w, "first").await, Change::Overflow, "{profile:?}");
        // The watch goes on.
        quiet_for(&mut w, Duration::from_millis(300)).await;
        store(&changer, "w/def.txt", b"").await;
        assert_eq!(
            next(&mut w, "second").await,
            Change::Overflow,
            "{profile:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_falls_far_behind_gets_an_overflow_and_goes_on() {
    // More changes than Samba keeps for an open between two requests
    // (1000), made while nobody takes the watch's answers.
    const N: usize = 1100;
    for profile in FAMILIES {
        let (_srv, watcher, changer) = setup(profile).await;
        let options = WatchOptions {
            filter: NotifyFilter::FILE_NAME,
            ..WatchOptions::default()
        };
        let mut w = watcher.watch("share", "w", options).await.unwrap();
        sync(&mut w, &changer).await;
        for chunk in (0..N).collect::<Vec<_>>().chunks(16) {
            let creates = chunk.iter().map(|i| {
                let changer = changer.clone();
                async move {
                    let mut empty: &[u8] = b"";
                    changer
                        .store_file("share", &format!("w/f{i:04}"), &mut empty)
                        .await
                }
            });
            for r in futures_join_all(creates).await {
                r.unwrap();
            }
        }
        let got = quiet_for(&mut w, Duration::from_secs(1)).await;
        assert!(
            got.contains(&Change::Overflow),
            "{profile:?}: {} changes and no overflow",
            got.len()
        );
        assert!(got.len() < N, "{profile:?}: {} changes", got.len());
        store(&changer, "w/after", b"").await;
        assert_eq!(next(&mut w, "after").await, added("after"), "{profile:?}");
    }
}

/// Polls `f` until it has returned `Pending` `n` times, then drops it.
/// Returns its output if it finished first.
async fn cut_after_polls<F: Future>(f: F, n: usize) -> Option<F::Output> {
    let mut f = Box::pin(f);
    let mut polls = 0;
    std::future::poll_fn(|cx: &mut Context<'_>| match f.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending if polls >= n => Poll::Ready(None),
        Poll::Pending => {
            polls += 1;
            Poll::Pending
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_or_closing_the_watch_closes_the_folder() {
    // Signed: the CANCEL of SMB2 is signed; the NT_CANCEL of SMB1 takes
    // one sequence number, which the requests after it must agree on.
    for profile in [
        Profile::Modern,
        Profile::SigningMandatory,
        Profile::Smb1Only,
        Profile::Smb1Signing,
    ] {
        let (srv, watcher, changer) = setup(profile).await;
        // At rest, with its request taken by the server.
        let w = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        let open = srv.open_files().unwrap();
        assert_eq!(open.len(), 1, "{profile:?}: {open:#?}");
        assert_eq!(open[0].name, "w");
        drop(w);
        no_open_files(&srv, &format!("{profile:?} at rest")).await;
        still_whole(&watcher, "after a drop at rest").await;

        // With changes arrived and not taken.
        let w = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        store(&changer, "w/unread", b"").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(w);
        no_open_files(&srv, &format!("{profile:?} with changes queued")).await;
        still_whole(&watcher, "after a drop with changes queued").await;

        // Right after a change was taken (the next request just sent).
        let mut w = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        store(&changer, "w/read", b"").await;
        next(&mut w, "read").await;
        drop(w);
        no_open_files(&srv, &format!("{profile:?} after a change")).await;

        // While it is being armed: cut after every number of waits.
        let mut finished = false;
        for n in 0.. {
            let armed =
                cut_after_polls(watcher.watch("share", "w", WatchOptions::default()), n).await;
            if let Some(w) = armed {
                drop(w.unwrap());
                finished = true;
            }
            no_open_files(&srv, &format!("{profile:?} armed for {n} polls")).await;
            if finished {
                break;
            }
        }
        still_whole(&watcher, "after drops while arming").await;

        // Closed: the CLOSE is answered when close returns.
        let w = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        w.close().await.unwrap();
        let open = srv.open_files().unwrap();
        assert!(open.is_empty(), "{profile:?}: {open:#?}");
        still_whole(&watcher, "after a close").await;
        store(&changer, "w/later", b"").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_watch_outlives_the_dead_peer_timeout() {
    for profile in FAMILIES {
        let srv = server(profile);
        let watcher = factory(&srv)
            .dead_peer_timeout(Some(Duration::from_secs(1)))
            .keepalive(None)
            .connect((srv.host(), srv.port()))
            .await
            .unwrap();
        let changer = connect(&srv).await;
        changer.create_directory("share", "w").await.unwrap();
        let mut w = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        sync(&mut w, &changer).await;
        // Three dead-peer periods with only the watch's request out.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(watcher.is_ready(), "{profile:?}: declared dead");
        store(&changer, "w/late", b"").await;
        assert_eq!(next(&mut w, "late").await, added("late"), "{profile:?}");
        watcher.echo(b"alive").await.unwrap();
    }
}

fn quick_reconnects() -> ReconnectPolicy {
    ReconnectPolicy {
        attempts: 20,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
        give_up_after: Duration::from_secs(30),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_is_watched_again_with_an_overflow() {
    for profile in FAMILIES {
        let srv = server(profile);
        let proxy = FaultProxy::start(srv.port()).expect("start the proxy");
        let changer = connect(&srv).await;
        changer.create_directory("share", "w").await.unwrap();
        let via_proxy = |reconnect: bool| {
            factory(&srv)
                .dead_peer_timeout(Some(Duration::from_secs(2)))
                .reconnect(reconnect.then(quick_reconnects))
                .connect(("127.0.0.1", proxy.port()))
        };

        // With a reconnect policy: armed again, and an overflow.
        let watcher = via_proxy(true).await.unwrap();
        let mut w = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        sync(&mut w, &changer).await;
        store(&changer, "w/before", b"").await;
        assert_eq!(next(&mut w, "before").await, added("before"));
        let connections = proxy.connections();
        proxy.cut();
        let got = until(&mut w, &Change::Overflow).await;
        assert!(
            got[..got.len() - 1]
                .iter()
                .all(|c| c == &Change::Modified("before".into())),
            "{profile:?}: {got:?}"
        );
        assert!(
            proxy.connections() > connections,
            "{profile:?}: no new connection"
        );
        sync(&mut w, &changer).await;
        store(&changer, "w/after", b"").await;
        assert_eq!(next(&mut w, "after").await, added("after"), "{profile:?}");
        drop(w);
        watcher.close().await.unwrap();

        // Without one: the watch ends with NotConnected.
        let watcher = via_proxy(false).await.unwrap();
        let mut w = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        proxy.cut();
        let r = tokio::time::timeout(WITHIN, w.next_change()).await.unwrap();
        assert!(matches!(r, Err(Error::NotConnected)), "{profile:?}: {r:?}");
        let r = w.next_change().await;
        assert!(matches!(r, Ok(None)), "{profile:?}: {r:?}");
        no_open_files(&srv, &format!("{profile:?} after the cuts")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_watched_folder_ends_the_watch() {
    for profile in FAMILIES {
        let (srv, watcher, changer) = setup(profile).await;
        let mut w = watcher
            .watch("share", "w", WatchOptions::default())
            .await
            .unwrap();
        sync(&mut w, &changer).await;
        changer
            .delete_files("share", "w/.sync-*", false)
            .await
            .unwrap();
        quiet_for(&mut w, Duration::from_millis(300)).await;
        // Deleted by another client: gone once the watch's handle closes.
        changer.delete_directory("share", "w").await.unwrap();
        let r = tokio::time::timeout(WITHIN, w.next_change()).await.unwrap();
        match r {
            Err(e) => assert_eq!(
                e.status(),
                Some(NtStatus::DELETE_PENDING),
                "{profile:?}: {e}"
            ),
            r => panic!("{profile:?}: {r:?}"),
        }
        assert!(matches!(w.next_change().await, Ok(None)));
        no_open_files(&srv, "after the folder was deleted").await;
        assert!(!srv.share_path().join("w").exists(), "{profile:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_on_an_encrypted_share_is_watched() {
    let srv = server(Profile::Modern);
    let watcher = connect(&srv).await;
    let changer = connect(&srv).await;
    changer.create_directory("encrypted", "w").await.unwrap();
    assert!(watcher.tree_connect("encrypted").await.unwrap().encrypted);
    let mut w = watcher
        .watch("encrypted", "w", WatchOptions::default())
        .await
        .unwrap();
    for i in 0.. {
        assert!(i < 40, "the watch reports nothing");
        let mut empty: &[u8] = b"";
        changer
            .store_file("encrypted", &format!("w/f{i}"), &mut empty)
            .await
            .unwrap();
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(500), w.next_change()).await {
            assert_eq!(r.unwrap(), Some(added(&format!("f{i}"))));
            break;
        }
    }
    drop(w);
    no_open_files(&srv, "after the drop").await;
    watcher.echo(b"encrypted").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_folder_or_a_file_is_a_typed_error() {
    for profile in FAMILIES {
        let (srv, watcher, changer) = setup(profile).await;
        store(&changer, "w/file", b"x").await;
        let e = watcher
            .watch("share", "w/missing", WatchOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            e.status(),
            Some(NtStatus::OBJECT_NAME_NOT_FOUND),
            "{profile:?}: {e}"
        );
        let e = watcher
            .watch("share", "w/file", WatchOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            e.status(),
            Some(NtStatus::NOT_A_DIRECTORY),
            "{profile:?}: {e}"
        );
        assert!(e.to_string().contains("w\\file"), "{e}");
        no_open_files(&srv, "after the errors").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_on_the_server_itself_are_reported() {
    // Samba learns of them through inotify (`kernel change notify`).
    let (srv, watcher, changer) = setup(Profile::Modern).await;
    let options = WatchOptions {
        filter: NotifyFilter::FILE_NAME,
        ..WatchOptions::default()
    };
    let mut w = watcher.watch("share", "w", options).await.unwrap();
    sync(&mut w, &changer).await;
    std::fs::write(srv.share_path().join("w/local.txt"), b"local").unwrap();
    assert_eq!(next(&mut w, "local").await, added("local.txt"));
    std::fs::remove_file(srv.share_path().join("w/local.txt")).unwrap();
    assert_eq!(
        next(&mut w, "removed").await,
        Change::Removed("local.txt".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cannot_watch_says_so_at_once() {
    // impacket's server answers NT_TRANSACT_NOTIFY_CHANGE with
    // STATUS_NOT_IMPLEMENTED and CHANGE_NOTIFY with STATUS_NOT_SUPPORTED.
    assert!(
        impacket_available(),
        "impacket's venv is missing: run scripts/install-deps"
    );
    for (mode, protocol, status) in [
        (
            ImpacketMode::Smb1,
            Protocol::Smb1Only,
            NtStatus::NOT_IMPLEMENTED,
        ),
        (
            ImpacketMode::Smb2,
            Protocol::Smb2Only,
            NtStatus::NOT_SUPPORTED,
        ),
    ] {
        let srv = ImpacketServer::start(mode).expect("start impacket's SMB server");
        std::fs::create_dir(srv.share_path().join("w")).unwrap();
        let conn = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "IMPACKET")
            .unwrap()
            .direct_tcp(true)
            .protocol(protocol)
            .connect((srv.host(), srv.port()))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let e = conn
            .watch(srv.share(), "w", WatchOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(status), "{mode}: {e}");
        assert!(started.elapsed() < Duration::from_secs(5), "{mode}");
        conn.echo(b"still there").await.unwrap();
    }
}

#[test]
fn the_blocking_watch_is_an_iterator() {
    for profile in FAMILIES {
        let srv = server(profile);
        let conn =
            smbkit::blocking::Connection::connect(factory(&srv), (srv.host(), srv.port())).unwrap();
        conn.create_directory("share", "w").unwrap();
        let mut w = conn.watch("share", "w", WatchOptions::default()).unwrap();
        // As `sync`, blocking.
        for i in 0.. {
            assert!(i < 40, "the watch reports nothing");
            let mut empty: &[u8] = b"";
            conn.store_file("share", &format!("w/.sync-{i}"), &mut empty)
                .unwrap();
            if w.next_timeout(Duration::from_millis(500))
                .unwrap()
                .is_some()
            {
                while w
                    .next_timeout(Duration::from_millis(300))
                    .unwrap()
                    .is_some()
                {}
                break;
            }
        }
        assert_eq!(w.next_timeout(Duration::from_millis(200)).unwrap(), None);
        conn.create_directory("share", "w/d").unwrap();
        let first = w.next().unwrap().unwrap();
        assert_eq!(first, added("d"), "{profile:?}");
        conn.rename("share", "w/d", "w/e").unwrap();
        let mut got = Vec::new();
        while let Some(c) = w.next_timeout(Duration::from_secs(2)).unwrap() {
            got.push(c.clone());
            if !matches!(c, Change::Modified(_)) {
                break;
            }
        }
        assert_eq!(
            got.last(),
            Some(&Change::Renamed {
                from: "d".into(),
                to: "e".into()
            }),
            "{profile:?}: {got:?}"
        );
        w.close().unwrap();
        assert!(srv.open_files().unwrap().is_empty());
    }
}
