//! Starting, running side by side, killing, pausing and dropping servers; the binary.

mod support;

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use smbkit_testserver::Profile;
use support::*;

const DIALECTS: [u16; 2] = [0x0202, 0x0210];

#[test]
fn start_is_quick() {
    let _warm = start(Profile::Modern); // first use may create the unix user
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let server = start(Profile::Modern);
        times.push(t.elapsed());
        drop(server);
    }
    eprintln!("TestServer::start took {times:?}");
    let best = times.iter().min().unwrap();
    assert!(*best < Duration::from_secs(5), "start is slow: {times:?}");
}

#[test]
fn two_servers_side_by_side() {
    let a = start(Profile::Modern);
    let b = start(Profile::Smb1Only);
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    fs::write(a.share_path().join("only-on-a.txt"), b"a").unwrap();
    fs::write(b.share_path().join("only-on-b.txt"), b"b").unwrap();
    let la = ok(&a, &smbclient(&a, "share", &[], "ls"));
    let lb = ok(&b, &smbclient(&b, "share", &["-m", "NT1"], "ls"));
    assert!(
        la.contains("only-on-a.txt") && !la.contains("only-on-b.txt"),
        "{la}"
    );
    assert!(
        lb.contains("only-on-b.txt") && !lb.contains("only-on-a.txt"),
        "{lb}"
    );
}

#[test]
fn many_servers_start_at_once() {
    let handles: Vec<_> = (0..6)
        .map(|i| thread::spawn(move || start(Profile::ALL[i % Profile::ALL.len()])))
        .collect();
    let servers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut ports: Vec<u16> = servers.iter().map(|s| s.port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), servers.len(), "duplicate ports: {ports:?}");
    for s in &servers {
        let extra: &[&str] = if s.profile() == Profile::Smb1Only {
            &["-m", "NT1"]
        } else {
            &[]
        };
        ok(
            s,
            &smbclient(s, "readonly", extra, "get hello.txt /dev/null"),
        );
    }
}

#[test]
fn drop_stops_everything_and_removes_the_dir() {
    let server = start(Profile::Modern);
    let config = server.config_path().to_path_buf();
    let dir = server.dir().to_path_buf();
    // Share listing makes smbd start samba-dcerpcd and its rpcd_* workers for this configuration.
    let out = Command::new("smbclient")
        .arg("-s")
        .arg(server.client_config_path())
        .args(["-L", "//127.0.0.1", "-p", &server.port().to_string()])
        .args(["-U", &format!("{}%{}", server.user(), server.password())])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("IPC$"));
    // And an open connection has its own smbd child.
    let (_conn, _) = negotiate(&server, &DIALECTS).unwrap();
    let running = processes_using(&config);
    assert!(
        running.iter().any(|(_, n)| n == "samba-dcerpcd"),
        "{running:?}"
    );
    assert!(running.len() >= 4, "{running:?}");
    let port = server.port();

    drop(server);
    let left = processes_using(&config);
    assert!(left.is_empty(), "left running after drop: {left:?}");
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn drop_after_a_panic_cleans_up() {
    let dir = std::sync::Mutex::new(PathBuf::new());
    let result = std::panic::catch_unwind(|| {
        let server = start(Profile::Legacy);
        *dir.lock().unwrap() = server.dir().to_path_buf();
        panic!("a failing test");
    });
    assert!(result.is_err());
    let dir = dir.into_inner().unwrap();
    assert!(!dir.as_os_str().is_empty());
    assert!(!dir.exists());
    assert!(processes_using(&dir.join("smb.conf")).is_empty());
}

#[test]
fn kill_drops_connections_and_restart_brings_it_back() {
    let mut server = start(Profile::Modern);
    fs::write(server.share_path().join("keep.txt"), b"kept\n").unwrap();
    let (mut conn, _) = negotiate(&server, &DIALECTS).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let pid = server.smbd_pid().unwrap();

    server.kill();
    assert_eq!(server.smbd_pid(), None);
    // The open connection ends (EOF or reset), new ones are refused, no smbd is left.
    let mut buf = [0u8; 16];
    match conn.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("connection still alive after kill: {other:?}"),
    }
    assert!(TcpStream::connect((server.host(), server.port())).is_err());
    assert!(state(pid).is_none_or(|s| s == 'Z'));
    let smbds: Vec<_> = processes_using(server.config_path())
        .into_iter()
        .filter(|(_, n)| !n.starts_with("samba-dcerpcd") && !n.starts_with("rpcd_"))
        .collect();
    assert!(smbds.is_empty(), "{smbds:?}");
    assert!(server.log_tail(5).contains("==> log.smbd <=="));

    server.restart().unwrap();
    let out = smbclient(&server, "share", &[], "get keep.txt /dev/stdout");
    assert!(ok(&server, &out).starts_with("kept\n"));
}

#[test]
fn pause_stalls_and_resume_continues() {
    let server = start(Profile::Modern);
    let (mut conn, _) = negotiate(&server, &DIALECTS).unwrap();
    conn.write_all(&echo_request(1)).unwrap();
    assert!(is_success(&read_frame(&mut conn).unwrap(), ECHO));

    server.pause();
    // An open connection gets no answer...
    conn.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    conn.write_all(&echo_request(2)).unwrap();
    let err = read_frame(&mut conn).expect_err("answer from a paused server");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    // ...and a new one is accepted by the kernel but not served.
    let mut fresh = TcpStream::connect((server.host(), server.port())).unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    fresh.write_all(&negotiate_request(&DIALECTS)).unwrap();
    assert!(read_frame(&mut fresh).is_err());
    let pid = server.smbd_pid().unwrap();
    assert_eq!(state(pid), Some('T'));

    server.resume();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(is_success(&read_frame(&mut conn).unwrap(), ECHO));
    assert!(parse_negotiate(&read_frame(&mut fresh).unwrap()).is_ok());
}

#[test]
fn drop_while_paused() {
    let server = start(Profile::Modern);
    let config = server.config_path().to_path_buf();
    let (_conn, _) = negotiate(&server, &DIALECTS).unwrap();
    server.pause();
    drop(server);
    assert!(processes_using(&config).is_empty());
}

#[test]
fn kill_while_paused() {
    let mut server = start(Profile::Modern);
    let (_conn, _) = negotiate(&server, &DIALECTS).unwrap();
    server.pause();
    server.kill();
    assert!(TcpStream::connect((server.host(), server.port())).is_err());
    server.restart().unwrap();
    ok(&server, &smbclient(&server, "share", &[], "ls"));
}

#[test]
fn log_tail_shows_the_logs() {
    let server = start(Profile::Modern);
    ok(&server, &smbclient(&server, "share", &[], "ls"));
    let tail = server.log_tail(3);
    assert!(tail.contains("==> log.smbd <=="), "{tail}");
    assert!(tail.lines().count() <= 3 * 10, "{tail}");
}

/// Reads the binary's SMBKIT_TEST_* lines up to SMBKIT_TEST_SERVER_PID.
fn read_env(out: impl Read) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        let (k, v) = line.split_once('=').expect("KEY=value");
        vars.push((k.to_string(), v.to_string()));
        if k == "SMBKIT_TEST_SERVER_PID" {
            break;
        }
    }
    vars
}

fn var<'a>(vars: &'a [(String, String)], key: &str) -> &'a str {
    &vars.iter().find(|(k, _)| k == key).unwrap().1
}

fn smbclient_ls(vars: &[(String, String)]) -> std::process::Output {
    Command::new("smbclient")
        .arg("-s")
        .arg(var(vars, "SMBKIT_TEST_CLIENT_CONF"))
        .arg(format!(
            "//{}/{}",
            var(vars, "SMBKIT_TEST_HOST"),
            var(vars, "SMBKIT_TEST_SHARE")
        ))
        .args(["-p", var(vars, "SMBKIT_TEST_PORT")])
        .arg("-U")
        .arg(format!(
            "{}%{}",
            var(vars, "SMBKIT_TEST_USER"),
            var(vars, "SMBKIT_TEST_PASSWORD")
        ))
        .args(["-c", "ls"])
        .output()
        .unwrap()
}

#[test]
fn binary_runs_until_stdin_closes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smbkit-testserver"))
        .args(["--profile", "legacy", "--print-env"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let vars = read_env(child.stdout.take().unwrap());
    assert_eq!(var(&vars, "SMBKIT_TEST_PROFILE"), "legacy");
    let dir = PathBuf::from(var(&vars, "SMBKIT_TEST_DIR"));
    let share = PathBuf::from(var(&vars, "SMBKIT_TEST_SHARE_PATH"));
    fs::write(share.join("from-test.txt"), b"x").unwrap();
    let out = smbclient_ls(&vars);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("from-test.txt"),
        "{}",
        text(&out)
    );
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!dir.exists());
    assert!(processes_using(&dir.join("smb.conf")).is_empty());
}

#[test]
fn killed_binary_is_cleaned_up_by_the_watchdog() {
    let env_file = std::env::temp_dir().join(format!("smbkit-env-{}.txt", std::process::id()));
    let _ = fs::remove_file(&env_file);
    // Started like a script's background job: stdin is /dev/null, so it runs until killed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_smbkit-testserver"))
        .args(["--profile", "modern", "--env-file"])
        .arg(&env_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(20, || env_file.exists()), "no env file");
    let vars = read_env(fs::File::open(&env_file).unwrap());
    fs::remove_file(&env_file).unwrap();
    let dir = PathBuf::from(var(&vars, "SMBKIT_TEST_DIR"));
    // Still running well after its stdin (/dev/null) ended.
    thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none());
    // Spawn the dcerpcd helpers too, then SIGKILL the binary: no Drop runs.
    let out = Command::new("smbclient")
        .arg("-s")
        .arg(var(&vars, "SMBKIT_TEST_CLIENT_CONF"))
        .args(["-L", "//127.0.0.1", "-p", var(&vars, "SMBKIT_TEST_PORT")])
        .arg("-U")
        .arg(format!(
            "{}%{}",
            var(&vars, "SMBKIT_TEST_USER"),
            var(&vars, "SMBKIT_TEST_PASSWORD")
        ))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("IPC$"));
    child.kill().unwrap();
    child.wait().unwrap();
    let config = dir.join("smb.conf");
    assert!(
        eventually(10, || processes_using(&config).is_empty() && !dir.exists()),
        "left behind: {:?}, dir exists: {}",
        processes_using(&config),
        dir.exists()
    );
}

#[test]
fn missing_smbd_says_to_run_install_deps() {
    let out = Command::new(env!("CARGO_BIN_EXE_smbkit-testserver"))
        .env("SMBKIT_SMBD", "/nonexistent/smbd")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("scripts/install-deps"), "{stderr}");
}
