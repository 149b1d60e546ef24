//! Fault injection on encrypted SMB 3 connections to real Samba.
//!
//! A man in the middle on loopback forwards every frame between smbkit and
//! a Samba that requires encryption (`server smb encrypt = required`), and
//! on request alters what the server sends: it flips bits in an encrypted
//! frame, replays or duplicates one, or swaps one for a plaintext response.
//! It also records the nonce of every encrypted frame the client sends.
//!
//! What must hold (MS-SMB2 §3.2.5.1.1.1, §3.3.4.1.4, §2.2.41):
//!
//! * a frame that does not decrypt and authenticate fails the request
//!   waiting for it with [`ProtocolError::Decryption`], closes the
//!   connection (later calls fail with [`Error::NotConnected`]) and never
//!   reaches the caller as data;
//! * a replayed or duplicated frame, which does authenticate, is refused as
//!   a response nothing is waiting for, with the same consequences;
//! * a plaintext, unsigned response to an encrypted request is refused
//!   ([`ProtocolError::Unencrypted`]);
//! * the client never uses a nonce twice in a session.
//!
//! Every wait is bounded, and every test checks at its end that the
//! connections through the proxy are gone.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smbkit::{Cipher, Connection, Dialect, Encryption, Error, ProtocolError, SmbProtocolFactory};
use smbkit_proto::smb2::header::{flags, Header};
use smbkit_proto::smb2::{frame_kind, EchoResponse, FrameKind, TRANSFORM_HEADER_LEN};
use smbkit_proto::{Command, Writer};
use smbkit_testserver::{ExtraConfig, Profile, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Upper bound of every wait in these tests.
const LIMIT: Duration = Duration::from_secs(30);

/// Awaits `f`, failing the test if it takes longer than [`LIMIT`].
async fn within<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

/// Where in a frame (TRANSFORM_HEADER included) a bit is flipped.
#[derive(Debug, Clone, Copy)]
enum At {
    /// This many bytes from the start.
    Start(usize),
    /// The middle of the frame (inside the data of a large READ response).
    Middle,
}

/// What the proxy does to an encrypted frame from the server.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// XOR `mask` into one byte of the `nth` (0 = next) encrypted frame of
    /// at least `min_len` bytes.
    Flip {
        at: At,
        mask: u8,
        min_len: usize,
        nth: usize,
    },
    /// Send the encrypted frame recorded at this index again, right before
    /// the next encrypted frame.
    ReplayBefore(usize),
    /// Pass the next encrypted frame on twice.
    Duplicate,
    /// Drop the next encrypted frame and send in its place a plaintext,
    /// unsigned ECHO response to the last encrypted request.
    PlainEcho,
    /// Flip the SMB2_GLOBAL_CAP_DFS bit of every SMB2 NEGOTIATE response
    /// (unsigned, so the client cannot tell), as a downgrade attack would
    /// alter what the server offers.
    TamperNegotiate,
}

fn flip(at: At) -> Fault {
    Fault::Flip {
        at,
        mask: 0x01,
        min_len: 0,
        nth: 0,
    }
}

/// What the proxy has seen and is asked to do, shared by its tasks.
#[derive(Default)]
struct State {
    /// Faults still to apply, oldest first.
    plan: VecDeque<Fault>,
    /// Frames of at least `min_len` bytes seen while waiting for the
    /// `nth` one of the current [`Fault::Flip`].
    seen_for_flip: usize,
    /// Every encrypted frame the server sent, unaltered.
    from_server: Vec<Vec<u8>>,
    /// Faults applied.
    applied: usize,
    /// The Nonce field of every encrypted frame the client sent.
    client_nonces: Vec<[u8; 16]>,
    /// The MessageId the client's next request gets, judged from its
    /// plaintext requests and the number of encrypted ones since (each
    /// taken to cost one credit, as an ECHO does).
    next_id: u64,
    /// The MessageId of the client's last encrypted request, by that count.
    last_encrypted_id: u64,
    /// SessionId from the server's SESSION_SETUP responses.
    session_id: u64,
    /// Client connections that have closed their end.
    client_eofs: usize,
}

/// A TCP proxy in front of one server, taking any number of connections.
struct Proxy {
    port: u16,
    state: Arc<Mutex<State>>,
    /// Signalled when a client closes its end.
    client_eof: Arc<Notify>,
    accept: JoinHandle<()>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream_port: u16) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let client_eof = Arc::new(Notify::new());
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (state, client_eof, conns) = (state.clone(), client_eof.clone(), conns.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = l.accept().await {
                    let server = TcpStream::connect(("127.0.0.1", upstream_port))
                        .await
                        .unwrap();
                    client.set_nodelay(true).unwrap();
                    server.set_nodelay(true).unwrap();
                    // A new connection starts a new MessageId sequence.
                    {
                        let mut s = state.lock().unwrap();
                        s.next_id = 0;
                        s.last_encrypted_id = 0;
                    }
                    let (crd, cwr) = client.into_split();
                    let (srd, swr) = server.into_split();
                    let up = tokio::spawn(client_to_server(
                        crd,
                        swr,
                        state.clone(),
                        client_eof.clone(),
                    ));
                    let down = tokio::spawn(server_to_client(srd, cwr, state.clone()));
                    conns.lock().unwrap().extend([up, down]);
                }
            })
        };
        Proxy {
            port,
            state,
            client_eof,
            accept,
            conns,
        }
    }

    fn arm(&self, fault: Fault) {
        let mut s = self.state.lock().unwrap();
        s.plan.push_back(fault);
        s.seen_for_flip = 0;
    }

    /// Faults applied so far.
    fn applied(&self) -> usize {
        self.state.lock().unwrap().applied
    }

    /// Number of encrypted frames the server has sent so far.
    fn server_frames(&self) -> usize {
        self.state.lock().unwrap().from_server.len()
    }

    fn client_nonces(&self) -> Vec<[u8; 16]> {
        self.state.lock().unwrap().client_nonces.clone()
    }

    /// Waits until `n` client connections in all have closed their end.
    async fn client_closed(&self, n: usize) {
        loop {
            let notified = self.client_eof.notified();
            if self.state.lock().unwrap().client_eofs >= n {
                return;
            }
            notified.await;
        }
    }

    /// Checks that every proxied connection has ended (both directions
    /// closed), which needs both the client and the server to have closed
    /// their sockets.
    async fn assert_all_closed(&self) {
        let conns: Vec<_> = std::mem::take(&mut *self.conns.lock().unwrap());
        for c in conns {
            within("a proxied connection to end", c).await.unwrap();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for c in self.conns.lock().unwrap().iter() {
            c.abort();
        }
    }
}

/// Reads one frame: the 4-byte header (NBSS session message or direct TCP
/// length, or another NBSS packet type during session setup) and its
/// payload. `None` at a clean end of stream.
async fn read_frame(r: &mut OwnedReadHalf) -> Option<([u8; 4], Vec<u8>)> {
    let mut h = [0u8; 4];
    r.read_exact(&mut h).await.ok()?;
    let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.ok()?;
    Some((h, body))
}

async fn write_frame(w: &mut OwnedWriteHalf, h: [u8; 4], body: &[u8]) -> std::io::Result<()> {
    w.write_all(&h).await?;
    w.write_all(body).await
}

fn session_header(len: usize) -> [u8; 4] {
    let l = (len as u32).to_be_bytes();
    [0, l[1], l[2], l[3]]
}

async fn client_to_server(
    mut crd: OwnedReadHalf,
    mut swr: OwnedWriteHalf,
    state: Arc<Mutex<State>>,
    client_eof: Arc<Notify>,
) {
    while let Some((h, body)) = read_frame(&mut crd).await {
        {
            let mut s = state.lock().unwrap();
            match frame_kind(&body) {
                FrameKind::Transform if body.len() > TRANSFORM_HEADER_LEN => {
                    let mut nonce = [0u8; 16];
                    nonce.copy_from_slice(&body[20..36]);
                    s.client_nonces.push(nonce);
                    s.last_encrypted_id = s.next_id;
                    s.next_id += 1;
                }
                FrameKind::Smb2 => {
                    if let Ok(hdr) = Header::decode(&body) {
                        s.next_id = hdr.message_id + u64::from(hdr.credit_charge.max(1));
                    }
                }
                // The SMB1 multi-protocol NEGOTIATE takes MessageId 0.
                FrameKind::Smb1 => s.next_id = s.next_id.max(1),
                _ => {}
            }
        }
        if write_frame(&mut swr, h, &body).await.is_err() {
            break;
        }
    }
    state.lock().unwrap().client_eofs += 1;
    client_eof.notify_waiters();
    let _ = swr.shutdown().await;
}

async fn server_to_client(
    mut srd: OwnedReadHalf,
    mut cwr: OwnedWriteHalf,
    state: Arc<Mutex<State>>,
) {
    while let Some((h, body)) = read_frame(&mut srd).await {
        let mut out: Vec<Vec<u8>> = Vec::new();
        {
            let mut s = state.lock().unwrap();
            match frame_kind(&body) {
                FrameKind::Transform => {
                    let fault = match s.plan.front().copied() {
                        Some(Fault::Flip { min_len, nth, .. }) => {
                            if body.len() < min_len {
                                None
                            } else if s.seen_for_flip < nth {
                                s.seen_for_flip += 1;
                                None
                            } else {
                                s.plan.pop_front()
                            }
                        }
                        // Stays armed for the NEGOTIATE responses of later
                        // connections.
                        Some(Fault::TamperNegotiate) => None,
                        Some(_) => s.plan.pop_front(),
                        None => None,
                    };
                    if fault.is_some() {
                        s.applied += 1;
                    }
                    s.from_server.push(body.clone());
                    match fault {
                        None => out.push(body),
                        Some(Fault::Flip { at, mask, .. }) => {
                            let mut f = body;
                            let i = match at {
                                At::Start(i) => i,
                                At::Middle => f.len() / 2,
                            };
                            f[i] ^= mask;
                            out.push(f);
                        }
                        Some(Fault::ReplayBefore(i)) => {
                            out.push(s.from_server[i].clone());
                            out.push(body);
                        }
                        Some(Fault::Duplicate) => {
                            out.push(body.clone());
                            out.push(body);
                        }
                        Some(Fault::PlainEcho) => {
                            out.push(plain_echo_response(s.last_encrypted_id, s.session_id))
                        }
                        Some(Fault::TamperNegotiate) => out.push(body),
                    }
                }
                FrameKind::Smb2 => {
                    let mut body = body;
                    if let Ok(hdr) = Header::decode(&body) {
                        if hdr.command == Command::SESSION_SETUP {
                            s.session_id = hdr.session_id;
                        }
                        let tamper = matches!(s.plan.front(), Some(Fault::TamperNegotiate));
                        // Capabilities: offset 24 of the NEGOTIATE response
                        // body (MS-SMB2 §2.2.4), after the 64-byte header.
                        if tamper && hdr.command == Command::NEGOTIATE && body.len() > 88 {
                            body[64 + 24] ^= 0x01;
                            s.applied += 1;
                        }
                    }
                    out.push(body);
                }
                _ => out.push(body),
            }
        }
        for f in out {
            // Keep non-session NBSS packets (the positive session response)
            // as they came; everything else is a session message.
            let h = if h[0] == 0 {
                session_header(f.len())
            } else {
                h
            };
            if write_frame(&mut cwr, h, &f).await.is_err() {
                return;
            }
        }
    }
    let _ = cwr.shutdown().await;
}

/// A plaintext, unsigned SMB2 ECHO response (MS-SMB2 §2.2.29).
fn plain_echo_response(message_id: u64, session_id: u64) -> Vec<u8> {
    let mut h = Header::request(Command::ECHO);
    h.flags |= flags::SERVER_TO_REDIR;
    h.credits = 1;
    h.message_id = message_id;
    h.session_id = session_id;
    let mut w = Writer::new();
    h.encode(&mut w);
    EchoResponse.encode(&mut w);
    w.into_vec()
}

/// A Samba that refuses unencrypted sessions.
fn encrypting_server() -> TestServer {
    TestServer::start_with(
        Profile::Modern,
        ExtraConfig {
            global: "server smb encrypt = required\n".into(),
            sections: String::new(),
        },
    )
    .unwrap()
}

/// Connects through `proxy` with encryption required: direct TCP
/// negotiates 3.1.1, NetBIOS framing 3.0.2.
async fn connect(srv: &TestServer, proxy: &Proxy, direct_tcp: bool) -> Connection {
    let conn = within(
        "connecting",
        SmbProtocolFactory::new(srv.user(), srv.password(), "CLIENT", "SERVER")
            .unwrap()
            .direct_tcp(direct_tcp)
            .encryption(Encryption::Required)
            .timeout(Duration::from_secs(15))
            .connect(("127.0.0.1", proxy.port)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail(30)));
    let info = conn.server_info();
    assert!(info.encrypted, "{info:?}");
    if direct_tcp {
        assert_eq!(info.dialect, Dialect::SMB3_1_1);
    } else {
        assert_eq!(info.dialect, Dialect::SMB3_0_2);
        assert_eq!(info.cipher, Some(Cipher::Aes128Ccm));
    }
    conn
}

/// A file of `len` bytes whose content depends on `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// The error a request gets when the frame answering it fails to decrypt.
fn assert_decryption(e: &Error, case: &str) {
    match e {
        Error::Protocol(ProtocolError::Decryption(m)) => {
            assert!(
                matches!(m, smbkit::Decryption::Rejected(_)),
                "{case}: {m:?}"
            )
        }
        e => panic!("{case}: expected a decryption error, got {e:?}"),
    }
}

/// After the connection was closed for a bad message: every call fails at
/// once with NotConnected, and the client has closed its socket.
async fn assert_dead(conn: &Connection, proxy: &Proxy, closed_so_far: usize, case: &str) {
    assert!(!conn.is_ready(), "{case}: still ready");
    let e = within("echo after the failure", conn.echo(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotConnected), "{case}: {e:?}");
    let mut out = Vec::new();
    let e = within(
        "retrieve after the failure",
        conn.retrieve_file("share", "/known.bin", &mut out),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::NotConnected), "{case}: {e:?}");
    assert!(out.is_empty());
    // MS-SMB2 §3.2.5.1.1.1: "the client MUST disconnect". The socket is
    // closed while the caller still holds the connection.
    within(
        "the client to close its socket",
        proxy.client_closed(closed_so_far),
    )
    .await;
}

/// Tampering with any part of an encrypted response (ciphertext, tag, any
/// field of the authenticated header) fails the pending retrieve with a
/// decryption error, delivers none of its data, and closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_frames_fail_the_request_and_close() {
    let srv = encrypting_server();
    let proxy = Proxy::start(srv.port()).await;
    let known = pattern(60_000, 0x5A);
    {
        let conn = connect(&srv, &proxy, true).await;
        within(
            "store",
            conn.store_file("share", "/known.bin", &mut &known[..]),
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        within(
            "retrieve",
            conn.retrieve_file("share", "/known.bin", &mut out),
        )
        .await
        .unwrap();
        assert_eq!(out, known);
        within("close", conn.close()).await.unwrap();
    }
    let cases = [
        ("ciphertext", At::Middle),
        ("ciphertext, first byte", At::Start(TRANSFORM_HEADER_LEN)),
        ("tag, first byte", At::Start(4)),
        ("tag, last byte", At::Start(19)),
        ("nonce, first byte", At::Start(20)),
        ("nonce, a byte the cipher does not use", At::Start(35)),
        ("OriginalMessageSize", At::Start(36)),
        ("Reserved", At::Start(40)),
        ("Flags", At::Start(42)),
        ("SessionId, low byte", At::Start(44)),
        ("SessionId, high byte", At::Start(51)),
    ];
    let mut closed = 1;
    for (case, at) in cases {
        let conn = connect(&srv, &proxy, true).await;
        let applied = proxy.applied();
        // Only the response carrying the file (CREATE + READ + CLOSE) is
        // that large.
        proxy.arm(Fault::Flip {
            at,
            mask: 0x01,
            min_len: 60_000,
            nth: 0,
        });
        let mut out = Vec::new();
        let e = within(case, conn.retrieve_file("share", "/known.bin", &mut out))
            .await
            .unwrap_err();
        assert_eq!(proxy.applied(), applied + 1, "{case}: fault not applied");
        assert_decryption(&e, case);
        assert!(out.is_empty(), "{case}: {} bytes delivered", out.len());
        closed += 1;
        assert_dead(&conn, &proxy, closed, case).await;
        drop(conn);
    }
    // An ECHO, whose response is small.
    for (case, at) in [
        ("echo: ciphertext", At::Start(TRANSFORM_HEADER_LEN + 10)),
        ("echo: tag", At::Start(10)),
    ] {
        let conn = connect(&srv, &proxy, true).await;
        proxy.arm(flip(at));
        let e = within(case, conn.echo(b"hi")).await.unwrap_err();
        assert_decryption(&e, case);
        closed += 1;
        assert_dead(&conn, &proxy, closed, case).await;
    }
    // The ProtocolId: no longer a transform frame, nor any other kind.
    let conn = connect(&srv, &proxy, true).await;
    proxy.arm(flip(At::Start(0)));
    let e = within("ProtocolId", conn.echo(b"hi")).await.unwrap_err();
    assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    assert_dead(&conn, &proxy, closed + 1, "ProtocolId").await;
    drop(conn);
    proxy.assert_all_closed().await;
}

/// A frame tampered with in the middle of a pipelined download: the
/// download fails with a decryption error, what it delivered before is an
/// intact prefix of the file, and the tampered chunk is not part of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_frame_mid_transfer() {
    let srv = encrypting_server();
    let proxy = Proxy::start(srv.port()).await;
    let conn = connect(&srv, &proxy, true).await;
    let data = pattern(6 << 20, 0x33);
    within(
        "store",
        conn.store_file("share", "/big.bin", &mut &data[..]),
    )
    .await
    .unwrap();
    // The fourth READ response (each 1 MiB) of the download.
    proxy.arm(Fault::Flip {
        at: At::Middle,
        mask: 0x80,
        min_len: 1 << 20,
        nth: 3,
    });
    let mut out = Vec::new();
    let e = within(
        "retrieve",
        conn.retrieve_file("share", "/big.bin", &mut out),
    )
    .await
    .unwrap_err();
    assert_decryption(&e, "mid transfer");
    assert!(out.len() <= 3 << 20, "{} bytes delivered", out.len());
    assert_eq!(out[..], data[..out.len()], "delivered data differs");
    assert_dead(&conn, &proxy, 1, "mid transfer").await;
    drop(conn);
    proxy.assert_all_closed().await;
}

/// Over NetBIOS framing the connection speaks 3.0.2 and AES-128-CCM; a
/// flipped bit fails the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_frames_over_netbios_ccm() {
    let srv = encrypting_server();
    let proxy = Proxy::start(srv.port()).await;
    let known = pattern(60_000, 0xC3);
    let mut closed = 0;
    for (case, at) in [
        ("ccm: ciphertext", At::Middle),
        ("ccm: tag", At::Start(4)),
        ("ccm: nonce", At::Start(21)),
        ("ccm: SessionId", At::Start(47)),
    ] {
        let conn = connect(&srv, &proxy, false).await;
        within(
            "store",
            conn.store_file("share", "/ccm.bin", &mut &known[..]),
        )
        .await
        .unwrap();
        proxy.arm(Fault::Flip {
            at,
            mask: 0x10,
            min_len: 60_000,
            nth: 0,
        });
        let mut out = Vec::new();
        let e = within(case, conn.retrieve_file("share", "/ccm.bin", &mut out))
            .await
            .unwrap_err();
        assert_decryption(&e, case);
        assert!(out.is_empty(), "{case}: {} bytes delivered", out.len());
        closed += 1;
        assert_dead(&conn, &proxy, closed, case).await;
    }
    proxy.assert_all_closed().await;
}

/// A replayed response (an earlier encrypted frame of the same session,
/// which authenticates) fails the pending request, and the replayed data
/// never reaches the caller; a duplicated response is delivered once and
/// its copy closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_and_duplicated_frames_are_refused() {
    let srv = encrypting_server();
    let proxy = Proxy::start(srv.port()).await;
    let a = pattern(20_000, 0xA1);
    let b = pattern(20_000, 0xB2);
    for direct_tcp in [true, false] {
        let case = if direct_tcp { "3.1.1" } else { "3.0.2" };
        let closed = if direct_tcp { 1 } else { 3 };
        let conn = connect(&srv, &proxy, direct_tcp).await;
        for (name, data) in [("/a.bin", &a), ("/b.bin", &b)] {
            within("store", conn.store_file("share", name, &mut &data[..]))
                .await
                .unwrap();
        }
        let mut out = Vec::new();
        within(
            "retrieve a",
            conn.retrieve_file("share", "/a.bin", &mut out),
        )
        .await
        .unwrap();
        assert_eq!(out, a);
        // The frame that carried a.bin (CREATE + READ + CLOSE responses).
        let a_frame = proxy.server_frames() - 1;
        proxy.arm(Fault::ReplayBefore(a_frame));
        let mut out = Vec::new();
        let e = within(
            "retrieve b",
            conn.retrieve_file("share", "/b.bin", &mut out),
        )
        .await
        .unwrap_err();
        // Refused as a nonce seen before (the driver keeps the last
        // nonces), before its MessageId is looked at.
        assert!(
            matches!(
                &e,
                Error::Protocol(ProtocolError::Decryption(smbkit::Decryption::Replay))
            ),
            "{case}: {e:?}"
        );
        assert!(out.is_empty(), "{case}: {} bytes delivered", out.len());
        assert_dead(&conn, &proxy, closed, case).await;
        drop(conn);

        // The server's answer to an ECHO, passed on twice.
        let conn = connect(&srv, &proxy, direct_tcp).await;
        proxy.arm(Fault::Duplicate);
        within("echo", conn.echo(b"hi")).await.unwrap();
        within("the duplicate to close the connection", async {
            while conn.is_ready() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert_dead(&conn, &proxy, closed + 1, case).await;
    }
    proxy.assert_all_closed().await;
}

/// A plaintext, unsigned ECHO response with the right MessageId, put in
/// place of the server's encrypted one, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_response_to_encrypted_request_is_refused() {
    let srv = encrypting_server();
    let proxy = Proxy::start(srv.port()).await;
    for (i, direct_tcp) in [true, false].into_iter().enumerate() {
        let conn = connect(&srv, &proxy, direct_tcp).await;
        // The ECHO is the first request after SESSION_SETUP, so the proxy
        // knows its MessageId without reading it.
        proxy.arm(Fault::PlainEcho);
        let e = within("echo", conn.echo(b"hi")).await.unwrap_err();
        match &e {
            Error::Protocol(ProtocolError::Unencrypted { command }) => {
                assert_eq!(
                    *command,
                    smbkit::CommandCode::Smb2(smbkit_proto::Command::ECHO)
                )
            }
            e => panic!("expected an unencrypted-response error, got {e:?}"),
        }
        assert_dead(&conn, &proxy, i + 1, "plaintext echo").await;
    }
    proxy.assert_all_closed().await;
}

/// No nonce repeats over 32 MiB stored and read back by eight transfers at
/// once (each with several requests in flight), with small requests (ECHO)
/// from eight more tasks in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_nonces_never_repeat() {
    let srv = encrypting_server();
    let proxy = Proxy::start(srv.port()).await;
    let conn = connect(&srv, &proxy, true).await;
    const TASKS: usize = 8;
    const EACH: usize = 4 << 20;
    let files: Vec<Arc<Vec<u8>>> = (0..TASKS)
        .map(|i| Arc::new(pattern(EACH, i as u8)))
        .collect();
    let run = |store: bool| {
        let echoes = (0..TASKS).map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move {
                for _ in 0..32 {
                    conn.echo(b"").await.unwrap();
                }
            })
        });
        let tasks: Vec<_> = files
            .iter()
            .enumerate()
            .map(|(i, data)| {
                let (conn, data) = (conn.clone(), data.clone());
                tokio::spawn(async move {
                    let path = format!("/n{i}.bin");
                    if store {
                        conn.store_file("share", &path, &mut &data[..])
                            .await
                            .unwrap();
                    } else {
                        let mut out = Vec::with_capacity(EACH);
                        conn.retrieve_file("share", &path, &mut out).await.unwrap();
                        assert!(out == *data, "{path} differs");
                    }
                })
            })
            .chain(echoes)
            .collect();
        async move {
            for t in tasks {
                t.await.unwrap();
            }
        }
    };
    let start = std::time::Instant::now();
    within("storing", run(true)).await;
    within("retrieving", run(false)).await;
    let elapsed = start.elapsed();
    within("close", conn.close()).await.unwrap();
    drop(conn);
    proxy.assert_all_closed().await;

    let nonces = proxy.client_nonces();
    let distinct: HashSet<_> = nonces.iter().collect();
    eprintln!(
        "{} encrypted requests, {} distinct nonces, 2 x 32 MiB in {elapsed:?}",
        nonces.len(),
        distinct.len()
    );
    // At least one WRITE and one READ per MiB, and the ECHOs.
    assert!(nonces.len() >= 64 + 2 * 8 * 32, "{}", nonces.len());
    // Every nonce is the client's: the same salt after the counter.
    let salts: HashSet<_> = nonces.iter().map(|n| n[8..].to_vec()).collect();
    assert_eq!(salts.len(), 1, "{salts:?}");
    assert_eq!(distinct.len(), nonces.len(), "a nonce was used twice");
}

/// A NEGOTIATE response altered on the way (here: one capability bit) is
/// caught on SMB 3.0.2 by the signed FSCTL_VALIDATE_NEGOTIATE_INFO after the
/// first tree connect: the tree connect fails, the connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_negotiation_is_caught_by_validate_negotiate_info() {
    let srv = TestServer::start(Profile::Modern).unwrap();
    let proxy = Proxy::start(srv.port()).await;
    // Untouched, it validates.
    let conn = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(false)
        .connect(("127.0.0.1", proxy.port))
        .await
        .unwrap();
    within("list", conn.list_path("share", "/")).await.unwrap();
    assert!(conn.is_negotiate_validated());
    drop(conn);

    proxy.arm(Fault::TamperNegotiate);
    let conn = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(false)
        .connect(("127.0.0.1", proxy.port))
        .await
        .unwrap();
    assert_eq!(conn.dialect(), smbkit::Dialect::SMB3_0_2);
    assert!(proxy.applied() >= 1, "the NEGOTIATE response was altered");
    let e = within("list", conn.list_path("share", "/"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Protocol(ProtocolError::Tampered(smbkit::Tampering::Mismatch { .. }))
        ),
        "{e:?}"
    );
    assert!(!conn.is_negotiate_validated());
    let again = within("echo", conn.echo(b"x")).await;
    assert!(matches!(again, Err(Error::NotConnected)), "{again:?}");
}
