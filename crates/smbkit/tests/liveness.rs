//! Dead-peer detection and keep-alive against real Samba, through the
//! harness's fault-injecting proxy ([`FaultProxy`]), over SMB 3.1.1 and
//! SMB1: a server that goes silent with answers owed is declared dead
//! within the configured period (plus half a second), failing every
//! waiting and later operation with `NotConnected` at once; pauses shorter
//! than that period are not death; an idle connection sends keep-alive
//! ECHOes, stays usable, and notices a silent server within the keep-alive
//! interval plus the dead-peer period; requests that time out while the
//! server is stopped give their credits or slots back.

use std::time::{Duration, Instant};

use smbkit::{Connection, Error, Protocol, SmbProtocolFactory};
use smbkit_testserver::{content, fnv1a, ExtraConfig, FaultProxy, Profile, TestServer};

/// The dead-peer period of these tests.
const DEAD: Duration = Duration::from_secs(1);
/// What the issue of a dead connection may take beyond [`DEAD`].
const SLACK: Duration = Duration::from_millis(500);
/// A file large enough to be mid-transfer when the proxy stalls.
const BIG: usize = 96 << 20;

#[derive(Clone, Copy, Debug)]
enum Family {
    Smb2,
    Smb1,
}

struct Setup {
    srv: TestServer,
    proxy: FaultProxy,
}

fn setup(family: Family) -> Setup {
    setup_with(family, ExtraConfig::default())
}

fn setup_with(family: Family, extra: ExtraConfig) -> Setup {
    let profile = match family {
        Family::Smb2 => Profile::Modern,
        Family::Smb1 => Profile::Smb1Only,
    };
    let srv = TestServer::start_with(profile, extra)
        .expect("start the test Samba server (run scripts/install-deps)");
    let proxy = FaultProxy::start(srv.port()).expect("start the proxy");
    Setup { srv, proxy }
}

impl Setup {
    fn factory(&self, family: Family) -> SmbProtocolFactory {
        let f = SmbProtocolFactory::new(
            self.srv.user(),
            self.srv.password(),
            "SMBKITCLIENT",
            "SMBKITTEST",
        )
        .unwrap()
        .direct_tcp(true)
        .timeout(Duration::from_secs(60));
        match family {
            Family::Smb2 => f,
            Family::Smb1 => f.protocol(Protocol::Smb1Only),
        }
    }

    /// A connection through the proxy, dead after [`DEAD`] of silence,
    /// with keep-alive every `keepalive`.
    async fn watched(&self, family: Family, keepalive: Option<Duration>) -> Connection {
        self.connect(
            self.factory(family)
                .dead_peer_timeout(Some(DEAD))
                .keepalive(keepalive),
        )
        .await
    }

    async fn connect(&self, f: SmbProtocolFactory) -> Connection {
        f.connect(("127.0.0.1", self.proxy.port()))
            .await
            .expect("connect through the proxy")
    }
}

/// Waits until the proxy has passed `bytes` more bytes to the client.
async fn until_flowing(proxy: &FaultProxy, bytes: u64) {
    let start = proxy.bytes_to_client();
    let give_up = Instant::now() + Duration::from_secs(30);
    while proxy.bytes_to_client() < start + bytes {
        assert!(Instant::now() < give_up, "no data flowed through the proxy");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn silent_server_with_a_transfer_running_is_declared_dead(family: Family) {
    let s = setup(family);
    std::fs::write(s.srv.share_path().join("big.bin"), content(BIG, 7)).unwrap();
    let conn = s.watched(family, None).await;
    let download = {
        let conn = conn.clone();
        tokio::spawn(async move {
            let mut sink = tokio::io::sink();
            let r = conn.retrieve_file("share", "big.bin", &mut sink).await;
            (r, Instant::now())
        })
    };
    until_flowing(&s.proxy, 4 << 20).await;
    s.proxy.stall();
    let stalled = Instant::now();
    // A request started after the stall waits too, and fails with the rest.
    let echo = {
        let conn = conn.clone();
        tokio::spawn(async move {
            let r = conn.echo(b"anyone?").await;
            (r, Instant::now())
        })
    };
    let (r, at) = download.await.unwrap();
    assert!(matches!(r, Err(Error::NotConnected)), "{family:?}: {r:?}");
    let took = at - stalled;
    assert!(
        took <= DEAD + SLACK,
        "{family:?}: declared dead {took:?} after the stall (period {DEAD:?})"
    );
    let (r, at_echo) = echo.await.unwrap();
    assert!(matches!(r, Err(Error::NotConnected)), "{family:?}: {r:?}");
    assert!(at_echo - stalled <= DEAD + SLACK);
    // Later operations fail at once.
    let t = Instant::now();
    assert!(matches!(conn.echo(b"x").await, Err(Error::NotConnected)));
    assert!(t.elapsed() < Duration::from_millis(100));
    assert!(!conn.is_ready());
}

async fn pauses_shorter_than_the_period_are_not_death(family: Family) {
    let s = setup(family);
    let data = content(16 << 20, 8);
    std::fs::write(s.srv.share_path().join("mid.bin"), &data).unwrap();
    let conn = s.watched(family, None).await;
    let download = {
        let conn = conn.clone();
        tokio::spawn(async move {
            let mut out = Vec::new();
            conn.retrieve_file("share", "mid.bin", &mut out)
                .await
                .map(|_| out)
        })
    };
    // The server stops for 0.6 s at a time, three times, mid-transfer.
    for _ in 0..3 {
        until_flowing(&s.proxy, 1 << 20).await;
        s.proxy.stall();
        tokio::time::sleep(DEAD * 6 / 10).await;
        s.proxy.resume();
    }
    let out = download
        .await
        .unwrap()
        .expect("the transfer survives short pauses");
    assert_eq!(fnv1a(&out), fnv1a(&data), "{family:?}");
    conn.echo(b"still here").await.unwrap();
}

async fn idle_connection_sends_keepalives_and_stays_usable(family: Family) {
    let s = setup(family);
    let interval = Duration::from_millis(300);
    let conn = s.watched(family, Some(interval)).await;
    let sent = s.proxy.bytes_to_server();
    tokio::time::sleep(interval * 8).await;
    let probes = s.proxy.bytes_to_server() - sent;
    // Each ECHO is well under 200 bytes; at least a few went out.
    assert!(
        probes > 0,
        "{family:?}: no keep-alive ECHO in {:?}",
        interval * 8
    );
    assert!(conn.is_ready());
    conn.echo(b"still here").await.unwrap();
}

async fn idle_connection_notices_a_silent_server(family: Family) {
    let s = setup(family);
    let interval = Duration::from_millis(500);
    let conn = s.watched(family, Some(interval)).await;
    s.proxy.stall();
    let stalled = Instant::now();
    let give_up = stalled + interval + DEAD + SLACK;
    while conn.is_ready() {
        assert!(
            Instant::now() < give_up,
            "{family:?}: still not declared dead {:?} after the stall",
            stalled.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t = Instant::now();
    assert!(matches!(conn.echo(b"x").await, Err(Error::NotConnected)));
    assert!(t.elapsed() < Duration::from_millis(100));
}

/// A thousand requests that time out while the server is stopped leave
/// nothing behind: once the server answers again, the connection has its
/// whole window (credits over SMB2, MaxMpxCount slots over SMB1) and moves
/// data as before.
async fn many_timed_out_requests_leave_the_full_window(family: Family) {
    // Samba grants credits only up to `smb2 max credits` above the lowest
    // message id it has not seen answered: ids lost for good would starve
    // the connection within a few hundred requests.
    let s = setup_with(
        family,
        ExtraConfig {
            global: "smb2 max credits = 128".into(),
            ..ExtraConfig::default()
        },
    );
    let data = content(8 << 20, 9);
    std::fs::write(s.srv.share_path().join("after.bin"), &data).unwrap();
    let conn = s.connect(s.factory(family)).await;
    conn.echo(b"before").await.unwrap();
    s.srv.pause();
    let short = conn.with_timeout(Duration::from_millis(300));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let c = short.clone();
            tokio::spawn(async move { c.echo(b"lost").await })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert!(matches!(r, Err(Error::Timeout { .. })), "{family:?}: {r:?}");
    }
    s.srv.resume();
    // 600 requests at once: more than the window (128 credits here; SMB1
    // allows 50 at once), all of which must complete, within the usual
    // time.
    let started = Instant::now();
    let tasks: Vec<_> = (0..600)
        .map(|_| {
            let c = conn.clone();
            tokio::spawn(async move { c.get_attributes("share", "after.bin").await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("a request after the timeouts");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{family:?}: 600 requests took {:?}: the window has shrunk",
        started.elapsed()
    );
    let mut out = Vec::new();
    conn.retrieve_file("share", "after.bin", &mut out)
        .await
        .unwrap();
    assert_eq!(fnv1a(&out), fnv1a(&data));
}

macro_rules! both_families {
    ($($name:ident),* $(,)?) => {
        mod smb2 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Family::Smb2).await;
                }
            )*
        }
        mod smb1 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Family::Smb1).await;
                }
            )*
        }
    };
}

both_families!(
    silent_server_with_a_transfer_running_is_declared_dead,
    pauses_shorter_than_the_period_are_not_death,
    idle_connection_sends_keepalives_and_stays_usable,
    idle_connection_notices_a_silent_server,
    many_timed_out_requests_leave_the_full_window,
);
