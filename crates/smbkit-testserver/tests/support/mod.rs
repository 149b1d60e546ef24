//! Helpers shared by the integration tests: Samba's `smbclient`, a raw SMB2 NEGOTIATE/ECHO, `/proc`.

#![allow(dead_code)]

use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use smbkit_testserver::{smbd_available, Profile, TestServer};

/// Starts a server, failing (never skipping) with a clear message when Samba is missing.
pub fn start(profile: Profile) -> TestServer {
    assert!(
        smbd_available(),
        "Samba (smbd, smbpasswd, shadow_copy2) is not installed: run scripts/install-deps"
    );
    TestServer::start(profile).unwrap_or_else(|e| panic!("cannot start a {profile} server: {e}"))
}

/// Runs `smbclient //127.0.0.1/<share> -c <commands>` plus `extra` arguments.
pub fn smbclient(server: &TestServer, share: &str, extra: &[&str], commands: &str) -> Output {
    server
        .smbclient(share)
        .args(extra)
        .arg("-c")
        .arg(commands)
        .output()
        .expect("run smbclient (installed with scripts/install-deps)")
}

/// `smbclient` output as one string, for assertions and failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that smbclient succeeded and printed no NT_STATUS error; returns its stdout.
#[track_caller]
pub fn ok(server: &TestServer, out: &Output) -> String {
    let all = text(out);
    assert!(
        out.status.success() && !all.contains("NT_STATUS_"),
        "smbclient failed against the {} server:\n{all}\n--- server logs ---\n{}",
        server.profile(),
        server.log_tail(20)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that smbclient failed (non-zero exit or an NT_STATUS error); returns all its output.
#[track_caller]
pub fn fails(server: &TestServer, out: &Output) -> String {
    let all = text(out);
    assert!(
        !out.status.success() || all.contains("NT_STATUS_"),
        "smbclient should have failed against the {} server:\n{all}",
        server.profile()
    );
    all
}

// ---- raw SMB2 over direct TCP ----

pub const NEGOTIATE: u16 = 0x0000;
pub const ECHO: u16 = 0x000d;
pub const SIGNING_REQUIRED: u16 = 0x0002;

fn smb2_header(command: u16, message_id: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(b"\xfeSMB");
    h.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
    h.extend_from_slice(&0u16.to_le_bytes()); // CreditCharge
    h.extend_from_slice(&0u32.to_le_bytes()); // Status
    h.extend_from_slice(&command.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // CreditRequest
    h.extend_from_slice(&0u32.to_le_bytes()); // Flags
    h.extend_from_slice(&0u32.to_le_bytes()); // NextCommand
    h.extend_from_slice(&message_id.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // Reserved
    h.extend_from_slice(&0u32.to_le_bytes()); // TreeId
    h.extend_from_slice(&0u64.to_le_bytes()); // SessionId
    h.extend_from_slice(&[0u8; 16]); // Signature
    h
}

fn frame(payload: Vec<u8>) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes().to_vec(); // first byte 0: session message
    f.extend(payload);
    f
}

/// An SMB2 NEGOTIATE request offering `dialects` (none needing negotiate contexts: up to 0x0302).
pub fn negotiate_request(dialects: &[u16]) -> Vec<u8> {
    let mut p = smb2_header(NEGOTIATE, 0);
    p.extend_from_slice(&36u16.to_le_bytes());
    p.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    p.extend_from_slice(&1u16.to_le_bytes()); // SecurityMode: signing enabled
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    p.extend_from_slice(b"smbkit-testsrvr!"); // ClientGuid
    p.extend_from_slice(&0u64.to_le_bytes()); // ClientStartTime
    for d in dialects {
        p.extend_from_slice(&d.to_le_bytes());
    }
    frame(p)
}

/// An SMB2 ECHO request.
pub fn echo_request(message_id: u64) -> Vec<u8> {
    let mut p = smb2_header(ECHO, message_id);
    p.extend_from_slice(&4u16.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    frame(p)
}

/// Reads one direct-TCP frame; its payload.
pub fn read_frame(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let n = u32::from_be_bytes([0, len[1], len[2], len[3]]) as usize;
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

/// What the server said to a NEGOTIATE.
#[derive(Debug)]
pub struct Negotiated {
    pub dialect: u16,
    pub security_mode: u16,
}

/// Parses an SMB2 NEGOTIATE response.
pub fn parse_negotiate(resp: &[u8]) -> io::Result<Negotiated> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    if resp.len() < 64 + 8 || &resp[..4] != b"\xfeSMB" {
        return Err(bad("not an SMB2 response"));
    }
    let status = u32::from_le_bytes(resp[8..12].try_into().unwrap());
    if status != 0 {
        return Err(bad(&format!("status {status:#010x}")));
    }
    let body = &resp[64..];
    Ok(Negotiated {
        security_mode: u16::from_le_bytes([body[2], body[3]]),
        dialect: u16::from_le_bytes([body[4], body[5]]),
    })
}

/// Connects and negotiates SMB2 with `dialects`; returns the stream and the answer.
pub fn negotiate(server: &TestServer, dialects: &[u16]) -> io::Result<(TcpStream, Negotiated)> {
    let mut s = TcpStream::connect((server.host(), server.port()))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(&negotiate_request(dialects))?;
    let resp = read_frame(&mut s)?;
    let n = parse_negotiate(&resp)?;
    Ok((s, n))
}

/// True when `resp` is an SMB2 response to `command` with STATUS_SUCCESS.
pub fn is_success(resp: &[u8], command: u16) -> bool {
    resp.len() >= 64
        && &resp[..4] == b"\xfeSMB"
        && u16::from_le_bytes([resp[12], resp[13]]) == command
        && u32::from_le_bytes(resp[8..12].try_into().unwrap()) == 0
}

// ---- processes ----

/// Living (non-zombie) processes whose arguments mention `config`, as `(pid, name)`.
pub fn processes_using(config: &Path) -> Vec<(u32, String)> {
    let conf = config.to_str().unwrap();
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !args.contains(conf) {
            continue;
        }
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let close = stat.rfind(')').unwrap();
        let state = stat[close + 2..].chars().next().unwrap();
        if state == 'Z' || state == 'X' {
            continue;
        }
        let name = stat[stat.find('(').unwrap() + 1..close].to_string();
        out.push((pid, name));
    }
    out
}

/// The state letter of `pid` (`R`, `S`, `T`, ...), if it exists.
pub fn state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    stat[close + 2..].chars().next()
}

/// Waits up to `secs` for `cond`.
pub fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
