//! `info` (what was negotiated) and `echo` (round trips, like ping).

use std::time::{Duration, Instant};

use smbkit::SigningAlgorithm;

use crate::args::{EchoArgs, GlobalOpts, InfoArgs};
use crate::commands::Remote;
use crate::error::CmdResult;
use crate::output::{from_filetime, human_size, human_time, print};
use crate::session;

fn signing_name(a: SigningAlgorithm) -> &'static str {
    match a {
        SigningAlgorithm::HmacSha256 => "HMAC-SHA256",
        SigningAlgorithm::AesCmac => "AES-128-CMAC",
        SigningAlgorithm::AesGmac => "AES-128-GMAC",
    }
}

/// `smbkit info`: the negotiated dialect, signing, encryption and cipher,
/// the server's limits, GUID and time.
pub async fn info(opts: &GlobalOpts, a: &InfoArgs) -> CmdResult {
    let r = Remote::open(opts, &a.target).await?;
    let i = r.conn.server_info().clone();
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        out.push_str(&format!("{:<25}{value}\n", format!("{label}:")));
    };
    line(
        "server",
        format!(
            "{}:{} ({})",
            r.target.host,
            session::port(opts, &r.target),
            if opts.netbios {
                "NetBIOS session service"
            } else {
                "direct TCP"
            }
        ),
    );
    line("dialect", format!("SMB {}", i.dialect.version_str()));
    line(
        "signing",
        match (i.signing, i.signing_algorithm) {
            (true, Some(alg)) => format!("on ({})", signing_name(alg)),
            (true, None) => "on".into(),
            (false, _) => "off".into(),
        },
    );
    line(
        "server requires signing",
        yes_no(i.signing_required_by_server).into(),
    );
    line(
        "encryption",
        if i.encrypted {
            "on (whole session)".into()
        } else if i.cipher.is_some() {
            "off (shares that ask for it are encrypted)".into()
        } else {
            "off (not available)".into()
        },
    );
    line(
        "cipher",
        match i.cipher {
            Some(c) => c.to_string(),
            None => "none".into(),
        },
    );
    let size = |n: u32| format!("{n} ({})", human_size(u64::from(n)));
    line("max read size", size(i.max_read_size));
    line("max write size", size(i.max_write_size));
    line("max transact size", size(i.max_transact_size));
    line("server guid", guid(&i.server_guid));
    line(
        "server time",
        match from_filetime(i.system_time) {
            Some(t) => format!("{} (FILETIME {})", human_time(t), i.system_time),
            None => "not given".into(),
        },
    );
    line(
        "session",
        if i.is_anonymous {
            "anonymous".into()
        } else if i.is_guest {
            "guest".into()
        } else {
            "authenticated".into()
        },
    );
    print(&out)?;
    r.close().await
}

/// `smbkit echo`: ECHO round trips with their times and a summary.
pub async fn echo(opts: &GlobalOpts, a: &EchoArgs) -> CmdResult {
    let r = Remote::open(opts, &a.target).await?;
    let mut times = Vec::new();
    for seq in 0..a.count {
        if seq > 0 && a.interval > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(a.interval)).await;
        }
        let start = Instant::now();
        r.conn.echo(&seq.to_le_bytes()).await?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        times.push(ms);
        print(&format!("echo seq={seq} time={ms:.3} ms\n"))?;
    }
    if !times.is_empty() {
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        let max = times.iter().copied().fold(0.0, f64::max);
        let avg = times.iter().sum::<f64>() / times.len() as f64;
        print(&format!(
            "{} echoes, min/avg/max = {min:.3}/{avg:.3}/{max:.3} ms\n",
            times.len()
        ))?;
    }
    r.close().await
}

/// A GUID in its usual text form (the first three fields little-endian).
fn guid(g: &[u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
    )
}
