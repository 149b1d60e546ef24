//! The latency proxy: the delay it adds, order and integrity, its throughput, stopping, the binary.
//! (No Samba needed: the upstream is an echo or a sink server on loopback.)

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use smbkit_testserver::{content, fnv1a, DelayProxy};

/// A server on 127.0.0.1 that sends back whatever it receives, one thread per connection.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            thread::spawn(move || {
                let _ = conn.set_nodelay(true);
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = conn.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

/// A server on 127.0.0.1 that reads everything it receives and, at the end, answers with the
/// number of bytes (8 bytes, little-endian).
fn sink_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                let mut total = 0u64;
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n as u64,
                    }
                }
                let _ = conn.write_all(&total.to_le_bytes());
            });
        }
    });
    port
}

fn connect(proxy: &DelayProxy) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// The time of one small echo round trip on `s`.
fn round_trip(s: &mut TcpStream, len: usize) -> Duration {
    let msg = content(len, len as u32);
    let mut back = vec![0u8; len];
    let t = Instant::now();
    s.write_all(&msg).unwrap();
    s.read_exact(&mut back).unwrap();
    let took = t.elapsed();
    assert_eq!(back, msg);
    took
}

#[test]
fn a_round_trip_takes_twice_the_delay() {
    let echo = echo_server();
    for one_way in [Duration::from_millis(20), Duration::from_micros(500)] {
        let proxy = DelayProxy::start(echo, one_way).unwrap();
        assert_eq!(proxy.one_way(), one_way);
        let mut s = connect(&proxy);
        let times: Vec<Duration> = (0..10).map(|i| round_trip(&mut s, 100 + i)).collect();
        eprintln!("one way {one_way:?}: round trips {times:?}");
        let min = *times.iter().min().unwrap();
        for t in &times {
            assert!(
                *t >= 2 * one_way,
                "a round trip took {t:?}, under 2 x {one_way:?}"
            );
        }
        // Timer slack and scheduling: the best of ten is within a few ms, even on a busy machine.
        let margin = Duration::from_millis(5);
        assert!(
            min < 2 * one_way + margin,
            "the best round trip took {min:?}, over 2 x {one_way:?} + {margin:?}: {times:?}"
        );
        assert_eq!(proxy.connections(), 1);
    }
}

#[test]
fn zero_delay_adds_no_wait() {
    let echo = echo_server();
    let proxy = DelayProxy::start(echo, Duration::ZERO).unwrap();
    let mut direct = TcpStream::connect(("127.0.0.1", echo)).unwrap();
    direct.set_nodelay(true).unwrap();
    let mut s = connect(&proxy);
    let mut d: Vec<Duration> = (0..50).map(|i| round_trip(&mut direct, 64 + i)).collect();
    let mut p: Vec<Duration> = (0..50).map(|i| round_trip(&mut s, 64 + i)).collect();
    d.sort();
    p.sort();
    eprintln!(
        "echo round trip, best / median: direct {:?} / {:?}, through the proxy {:?} / {:?}",
        d[0], d[25], p[0], p[25]
    );
    assert!(p[0] < Duration::from_millis(2), "round trips {p:?}");
}

#[test]
fn megabytes_arrive_whole_and_in_order_both_ways() {
    let proxy = DelayProxy::start(echo_server(), Duration::from_millis(3)).unwrap();
    let mut s = connect(&proxy);
    let data = content(8 << 20, 42);
    let sent = data.clone();
    let mut w = s.try_clone().unwrap();
    // Writes of uneven sizes, from 1 byte to 1.5 MiB, while the echo comes back.
    let writer = thread::spawn(move || {
        let mut off = 0;
        let mut step = 1usize;
        while off < sent.len() {
            let end = (off + step).min(sent.len());
            w.write_all(&sent[off..end]).unwrap();
            off = end;
            step = (step * 7 + 3) % (1536 << 10) + 1;
        }
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::with_capacity(data.len());
    s.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back.len(), data.len());
    assert!(
        back == data,
        "the bytes came back changed or reordered: fnv {:x} != {:x}",
        fnv1a(&back),
        fnv1a(&data)
    );
    assert_eq!(proxy.bytes_to_server(), data.len() as u64);
    assert_eq!(proxy.bytes_to_client(), data.len() as u64);
}

#[test]
fn the_delay_does_not_add_up_over_chunks() {
    // 64 MiB streamed one way through a 50 ms delay: one delay in all, not one per chunk.
    let one_way = Duration::from_millis(50);
    let proxy = DelayProxy::start(sink_server(), one_way).unwrap();
    let mut s = connect(&proxy);
    let block = vec![7u8; 256 << 10];
    let total = 64u64 << 20;
    let t = Instant::now();
    for _ in 0..total / block.len() as u64 {
        s.write_all(&block).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut answer = [0u8; 8];
    s.read_exact(&mut answer).unwrap();
    let took = t.elapsed();
    assert_eq!(u64::from_le_bytes(answer), total);
    eprintln!("64 MiB through a {one_way:?} one-way delay: {took:?}");
    // The end of the stream travels one way, the answer back: 2 x 50 ms at least.
    assert!(took >= 2 * one_way, "{took:?}");
    assert!(
        took < Duration::from_secs(3),
        "64 MiB took {took:?}: the delay adds up"
    );
}

/// Sends `total` bytes to a sink at `port` and returns the rate in MiB/s.
fn push(port: u16, total: u64) -> f64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let block = vec![1u8; 1 << 20];
    let t = Instant::now();
    for _ in 0..total / block.len() as u64 {
        s.write_all(&block).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut answer = [0u8; 8];
    s.read_exact(&mut answer).unwrap();
    assert_eq!(u64::from_le_bytes(answer), total);
    total as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64()
}

#[test]
fn throughput_without_delay() {
    let sink = sink_server();
    let proxy = DelayProxy::start(sink, Duration::ZERO).unwrap();
    let total = 1u64 << 30;
    let direct = push(sink, total);
    let proxied = (0..2)
        .map(|_| push(proxy.port(), total))
        .fold(0.0, f64::max);
    eprintln!("1 GiB to a sink: direct {direct:.0} MiB/s, through the proxy {proxied:.0} MiB/s");
    // A floor that holds in a debug build on a loaded machine; a release build on an idle
    // one does well over 1 GiB/s.
    assert!(proxied > 200.0, "{proxied:.0} MiB/s through the proxy");
}

#[test]
fn dropping_the_proxy_closes_its_connections() {
    let proxy = DelayProxy::start(echo_server(), Duration::from_millis(1)).unwrap();
    let port = proxy.port();
    let mut s = connect(&proxy);
    round_trip(&mut s, 10);
    drop(proxy);
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::TimedOut => {}
        other => panic!("the connection is still open after the drop: {other:?}"),
    }
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening"
    );
}

#[test]
fn the_binary_runs_a_delay_proxy_until_stdin_closes() {
    let echo = echo_server();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smbkit-testserver"))
        .args(["delay-proxy", "--upstream-port", &echo.to_string()])
        .args(["--one-way-ms", "2.5", "--print-env"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut vars = std::collections::HashMap::new();
    while !vars.contains_key("SMBKIT_PROXY_PID") {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "no SMBKIT_PROXY_PID");
        let (k, v) = line.trim_end().split_once('=').unwrap();
        vars.insert(k.to_string(), v.to_string());
    }
    assert_eq!(vars["SMBKIT_PROXY_HOST"], "127.0.0.1");
    assert_eq!(vars["SMBKIT_PROXY_ONE_WAY_MS"], "2.5");
    assert_eq!(vars["SMBKIT_PROXY_UPSTREAM_PORT"], echo.to_string());
    let port: u16 = vars["SMBKIT_PROXY_PORT"].parse().unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    let best = (0..5).map(|i| round_trip(&mut s, 20 + i)).min().unwrap();
    assert!(
        best >= Duration::from_millis(5) && best < Duration::from_millis(10),
        "{best:?}"
    );
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());

    let bad = Command::new(env!("CARGO_BIN_EXE_smbkit-testserver"))
        .args(["delay-proxy", "--one-way-ms", "1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--upstream-port"));
}
