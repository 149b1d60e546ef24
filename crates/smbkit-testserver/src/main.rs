//! `smbkit-testserver`: runs one throwaway Samba server on loopback for demos and benchmarks.
//!
//! ```text
//! smbkit-testserver [--profile modern|legacy|smb1-only|signing|smb21] [--print-env] [--env-file PATH]
//! smbkit-testserver delay-proxy --upstream-port PORT --one-way-ms MS [--print-env]
//! smbkit-testserver ad-dc [--kerberos-only] [--print-env]
//! ```
//!
//! Prints `SMBKIT_TEST_*=value` lines (host, port, user, password, share, share path, ...) once the
//! server listens, then keeps it running until standard input reaches end of file, and then stops it
//! and removes its files. When standard input is `/dev/null` (a script's background job), it runs until
//! killed (SIGTERM, SIGINT); smbd then exits by itself and a watchdog removes the rest within a second.
//!
//! `delay-proxy` runs a [`DelayProxy`] instead: a proxy on 127.0.0.1 in front of
//! `127.0.0.1:PORT` that delays every byte by `MS` milliseconds each way. It prints
//! `SMBKIT_PROXY_*=value` lines (host, port, one-way delay) and runs as long as the server mode does.
//!
//! `ad-dc` runs an [`AdDc`] (a Samba AD DC on 127.0.0.1: KDC and file server, realm `SMBKIT.TEST`)
//! and prints `SMBKIT_AD_*=value` lines (port, KDC, realm, host names, user, password, share,
//! krb5.conf); `--kerberos-only` makes it refuse NTLM.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use smbkit_testserver::{AdDc, AdDcOptions, DelayProxy, Profile, TestServer};

const USAGE: &str = "\
usage: smbkit-testserver [--profile modern|legacy|smb1-only|signing|smb21] [--print-env] [--env-file PATH]
       smbkit-testserver delay-proxy --upstream-port PORT --one-way-ms MS [--print-env]
       smbkit-testserver ad-dc [--kerberos-only] [--print-env]

Starts a private smbd on 127.0.0.1 (a free port) with the shares share, readonly, snapshots and
encrypted, prints SMBKIT_TEST_* variables, and keeps it running until standard input closes (or,
when standard input is /dev/null, until the process is killed).

  --profile NAME    modern (default), legacy, smb1-only, signing or smb21
  --print-env       print only the SMBKIT_TEST_* lines (no human-readable notes on stderr)
  --env-file PATH   also write the SMBKIT_TEST_* lines to PATH (atomically, once the server listens)

delay-proxy: listens on 127.0.0.1 (a free port) and forwards every connection to 127.0.0.1:PORT,
every byte delayed by MS milliseconds in each direction (a round trip by twice that; fractions
allowed, 0 forwards at once), prints SMBKIT_PROXY_* variables and runs as long as the server does.

ad-dc: starts a Samba AD DC on 127.0.0.1 (realm SMBKIT.TEST; KDC and smbd on free ports; needs
root and scripts/install-deps), prints SMBKIT_AD_* variables and runs as long as the server does;
--kerberos-only makes it refuse NTLM logons.
";

struct Args {
    profile: Profile,
    quiet: bool,
    env_file: Option<PathBuf>,
}

/// What `delay-proxy` was asked for.
struct ProxyArgs {
    upstream_port: u16,
    one_way: Duration,
    quiet: bool,
}

enum Mode {
    Server(Args),
    DelayProxy(ProxyArgs),
    AdDc { kerberos_only: bool, quiet: bool },
}

/// Splits `--name=value` into its name and value.
fn split_arg(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
        _ => (arg.to_string(), None),
    }
}

fn parse_mode() -> Result<Mode, String> {
    let mut it = std::env::args().skip(1).peekable();
    if it.peek().map(String::as_str) == Some("delay-proxy") {
        it.next();
        return parse_proxy_args(it).map(Mode::DelayProxy);
    }
    if it.peek().map(String::as_str) == Some("ad-dc") {
        it.next();
        let (mut kerberos_only, mut quiet) = (false, false);
        for arg in it {
            match arg.as_str() {
                "--kerberos-only" => kerberos_only = true,
                "--print-env" => quiet = true,
                "-h" | "--help" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("ad-dc: unknown argument {other:?}")),
            }
        }
        return Ok(Mode::AdDc {
            kerberos_only,
            quiet,
        });
    }
    parse_args(it).map(Mode::Server)
}

fn parse_proxy_args(mut it: impl Iterator<Item = String>) -> Result<ProxyArgs, String> {
    let mut port = None;
    let mut one_way = None;
    let mut quiet = false;
    while let Some(arg) = it.next() {
        let (name, inline) = split_arg(&arg);
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{what} needs a value"))
        };
        match name.as_str() {
            "--upstream-port" => {
                let v = value("--upstream-port")?;
                port = Some(
                    v.parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| format!("--upstream-port: not a port: {v:?}"))?,
                );
            }
            "--one-way-ms" => {
                let v = value("--one-way-ms")?;
                let ms = v
                    .parse::<f64>()
                    .ok()
                    .filter(|ms| ms.is_finite() && (0.0..=60_000.0).contains(ms))
                    .ok_or_else(|| {
                        format!("--one-way-ms: not a delay in milliseconds (0 to 60000): {v:?}")
                    })?;
                one_way = Some(Duration::from_secs_f64(ms / 1000.0));
            }
            "--print-env" => quiet = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("delay-proxy: unknown argument {other:?}")),
        }
    }
    Ok(ProxyArgs {
        upstream_port: port.ok_or("delay-proxy needs --upstream-port")?,
        one_way: one_way.ok_or("delay-proxy needs --one-way-ms")?,
        quiet,
    })
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        profile: Profile::Modern,
        quiet: false,
        env_file: None,
    };
    while let Some(arg) = it.next() {
        let (name, inline) = split_arg(&arg);
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
    shell_lines(&vars)
}

/// `NAME=value` lines, each value quoted for a POSIX shell when it needs it.
fn shell_lines(vars: &[(&str, String)]) -> String {
    vars.iter()
        .map(|(k, v)| format!("{k}={}\n", shell_word(v)))
        .collect()
}

fn stdin_is_dev_null() -> bool {
    std::fs::read_link("/proc/self/fd/0").is_ok_and(|p| p == std::path::Path::new("/dev/null"))
}

/// Returns once standard input reaches end of file; never when it is `/dev/null`.
fn wait_for_eof(wait_for_kill: bool) {
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
}

fn run_ad_dc(kerberos_only: bool, quiet: bool) -> ExitCode {
    let options = if kerberos_only {
        AdDcOptions::kerberos_only()
    } else {
        AdDcOptions::default()
    };
    let dc = match AdDc::start_with(options) {
        Ok(dc) => dc,
        Err(e) => {
            eprintln!("smbkit-testserver: cannot start the AD DC: {e}");
            return ExitCode::FAILURE;
        }
    };
    let vars = [
        ("SMBKIT_AD_HOST", dc.host().to_string()),
        ("SMBKIT_AD_PORT", dc.port().to_string()),
        ("SMBKIT_AD_KDC", dc.kdc_address().to_string()),
        ("SMBKIT_AD_REALM", dc.realm().to_string()),
        ("SMBKIT_AD_DOMAIN", dc.domain().to_string()),
        ("SMBKIT_AD_DC_HOSTNAME", dc.dc_hostname().to_string()),
        (
            "SMBKIT_AD_NETBIOS_NAME",
            smbkit_testserver::ad_dc::DC_NETBIOS_NAME.to_string(),
        ),
        ("SMBKIT_AD_USER", dc.user().to_string()),
        ("SMBKIT_AD_PASSWORD", dc.password().to_string()),
        ("SMBKIT_AD_PRINCIPAL", dc.user_principal()),
        ("SMBKIT_AD_SHARE", dc.share().to_string()),
        (
            "SMBKIT_AD_SHARE_PATH",
            dc.share_path().display().to_string(),
        ),
        (
            "SMBKIT_AD_KRB5_CONF",
            dc.krb5_conf_path().display().to_string(),
        ),
        ("SMBKIT_AD_DIR", dc.dir().display().to_string()),
        ("SMBKIT_AD_PID", std::process::id().to_string()),
    ];
    let lines = shell_lines(&vars);
    let mut out = io::stdout().lock();
    let _ = out.write_all(lines.as_bytes()).and_then(|()| out.flush());
    drop(out);
    let wait_for_kill = stdin_is_dev_null();
    if !quiet {
        eprintln!(
            "smbkit-testserver: AD DC for {} on 127.0.0.1:{} (KDC {}); {}",
            dc.realm(),
            dc.port(),
            dc.kdc_address(),
            if wait_for_kill {
                "stop it with SIGTERM or Ctrl-C"
            } else {
                "close stdin (Ctrl-D) to stop it"
            }
        );
    }
    wait_for_eof(wait_for_kill);
    drop(dc);
    ExitCode::SUCCESS
}

fn run_delay_proxy(args: ProxyArgs) -> ExitCode {
    // Linux lets a sleep end up to the timer slack (50 µs by default) late; threads inherit it from
    // the thread that starts them, and this is the main thread, which /proc/self names. With 1 ns,
    // a 0.5 ms sleep overshoots by about 25 µs instead of 90.
    let _ = std::fs::write("/proc/self/timerslack_ns", "1");
    let proxy = match DelayProxy::start(args.upstream_port, args.one_way) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("smbkit-testserver: cannot start the delay proxy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let one_way_ms = proxy.one_way().as_secs_f64() * 1000.0;
    let lines = format!(
        "SMBKIT_PROXY_HOST=127.0.0.1\nSMBKIT_PROXY_PORT={}\nSMBKIT_PROXY_UPSTREAM_PORT={}\nSMBKIT_PROXY_ONE_WAY_MS={}\nSMBKIT_PROXY_PID={}\n",
        proxy.port(),
        args.upstream_port,
        one_way_ms,
        std::process::id()
    );
    let mut out = io::stdout().lock();
    let _ = out.write_all(lines.as_bytes()).and_then(|()| out.flush());
    drop(out);
    let wait_for_kill = stdin_is_dev_null();
    if !args.quiet {
        eprintln!(
            "smbkit-testserver: delay proxy on 127.0.0.1:{} to 127.0.0.1:{}, {one_way_ms} ms each way; {}",
            proxy.port(),
            args.upstream_port,
            if wait_for_kill {
                "stop it with SIGTERM or Ctrl-C"
            } else {
                "close stdin (Ctrl-D) to stop it"
            }
        );
    }
    wait_for_eof(wait_for_kill);
    drop(proxy);
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args = match parse_mode() {
        Ok(Mode::Server(a)) => a,
        Ok(Mode::DelayProxy(p)) => return run_delay_proxy(p),
        Ok(Mode::AdDc {
            kerberos_only,
            quiet,
        }) => return run_ad_dc(kerberos_only, quiet),
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
    wait_for_eof(wait_for_kill);
    drop(server);
    ExitCode::SUCCESS
}
