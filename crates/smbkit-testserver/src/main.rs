//! `smbkit-testserver`: runs one throwaway Samba server on loopback for demos and benchmarks.
//!
//! ```text
//! smbkit-testserver [--profile modern|legacy|smb1-only|signing|smb21] [--print-env] [--env-file PATH]
//! ```
//!
//! Prints `SMBKIT_TEST_*=value` lines (host, port, user, password, share, share path, ...) once the
//! server listens, then keeps it running until standard input reaches end of file, and then stops it
//! and removes its files. When standard input is `/dev/null` (a script's background job), it runs until
//! killed (SIGTERM, SIGINT); smbd then exits by itself and a watchdog removes the rest within a second.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use smbkit_testserver::{Profile, TestServer};

const USAGE: &str = "\
usage: smbkit-testserver [--profile modern|legacy|smb1-only|signing|smb21] [--print-env] [--env-file PATH]

Starts a private smbd on 127.0.0.1 (a free port) with the shares share, readonly, snapshots and
encrypted, prints SMBKIT_TEST_* variables, and keeps it running until standard input closes (or,
when standard input is /dev/null, until the process is killed).

  --profile NAME    modern (default), legacy, smb1-only, signing or smb21
  --print-env       print only the SMBKIT_TEST_* lines (no human-readable notes on stderr)
  --env-file PATH   also write the SMBKIT_TEST_* lines to PATH (atomically, once the server listens)
";

struct Args {
    profile: Profile,
    quiet: bool,
    env_file: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        profile: Profile::Modern,
        quiet: false,
        env_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{what} needs a value"))
        };
        match name.as_str() {
            "--profile" | "-p" => args.profile = value("--profile")?.parse()?,
            "--print-env" => args.quiet = true,
            "--env-file" => args.env_file = Some(value("--env-file")?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// Quotes `value` for a POSIX shell when it needs it.
fn shell_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:,+@%".contains(&b));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

fn env_lines(server: &TestServer) -> String {
    let vars = [
        ("SMBKIT_TEST_HOST", server.host().to_string()),
        ("SMBKIT_TEST_PORT", server.port().to_string()),
        ("SMBKIT_TEST_USER", server.user().to_string()),
        ("SMBKIT_TEST_PASSWORD", server.password().to_string()),
        ("SMBKIT_TEST_DOMAIN", server.domain().to_string()),
        ("SMBKIT_TEST_SHARE", server.share().to_string()),
        (
            "SMBKIT_TEST_SHARE_PATH",
            server.share_path().display().to_string(),
        ),
        (
            "SMBKIT_TEST_READONLY_PATH",
            server.readonly_path().display().to_string(),
        ),
        (
            "SMBKIT_TEST_SNAPSHOTS_PATH",
            server.snapshots_path().display().to_string(),
        ),
        ("SMBKIT_TEST_PROFILE", server.profile().to_string()),
        ("SMBKIT_TEST_DIR", server.dir().display().to_string()),
        (
            "SMBKIT_TEST_CONFIG",
            server.config_path().display().to_string(),
        ),
        (
            "SMBKIT_TEST_CLIENT_CONF",
            server.client_config_path().display().to_string(),
        ),
        ("SMBKIT_TEST_SERVER_PID", std::process::id().to_string()),
    ];
    vars.iter()
        .map(|(k, v)| format!("{k}={}\n", shell_word(v)))
        .collect()
}

fn stdin_is_dev_null() -> bool {
    std::fs::read_link("/proc/self/fd/0").is_ok_and(|p| p == std::path::Path::new("/dev/null"))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("smbkit-testserver: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match TestServer::start(args.profile) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smbkit-testserver: cannot start smbd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lines = env_lines(&server);
    if let Some(path) = &args.env_file {
        let tmp = path.with_extension("tmp-smbkit");
        if let Err(e) = std::fs::write(&tmp, &lines).and_then(|()| std::fs::rename(&tmp, path)) {
            eprintln!("smbkit-testserver: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let mut out = io::stdout().lock();
    // A closed stdout (the reader took what it needed) is no reason to stop.
    let _ = out.write_all(lines.as_bytes()).and_then(|()| out.flush());
    drop(out);

    let wait_for_kill = stdin_is_dev_null();
    if !args.quiet {
        eprintln!(
            "smbkit-testserver: {} server on smb://{}:{}/{} (user {}, dir {}); {}",
            server.profile(),
            server.host(),
            server.port(),
            server.share(),
            server.user(),
            server.dir().display(),
            if wait_for_kill {
                "stop it with SIGTERM or Ctrl-C"
            } else {
                "close stdin (Ctrl-D) to stop it"
            }
        );
    }
    if wait_for_kill {
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
    let mut sink = String::new();
    let mut stdin = io::stdin().lock();
    while matches!(stdin.read_line(&mut sink), Ok(n) if n > 0) {
        sink.clear();
    }
    drop(server);
    ExitCode::SUCCESS
}
