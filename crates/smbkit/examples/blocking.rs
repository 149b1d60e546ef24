//! smbkit from a plain `main`, without async: `smbkit::blocking` lists a
//! folder of a share and downloads a file from it.
//!
//! ```text
//! SMB_USER=alice SMB_PASSWORD=secret \
//!     cargo run -p smbkit --example blocking -- fileserver.example docs /reports/q3.pdf
//! ```
//!
//! Arguments (or the environment variables in brackets): the host
//! (`SMB_HOST`), the share (`SMB_SHARE`) and the file to download
//! (`SMB_FILE`; without one, the share's root is listed and nothing is
//! downloaded). The file's folder is listed, then the file is written to
//! the current folder under its own name. `SMB_USER` and `SMB_PASSWORD`
//! give the account (none: an anonymous connection), `SMB_PORT` the port
//! (445, or 139 for the NetBIOS session service).

use std::time::Instant;

use smbkit::blocking::Connection;
use smbkit::{SmbProtocolFactory, SmbUrl};

const USAGE: &str = "usage: blocking <host> <share> [<file>] (or SMB_HOST, SMB_SHARE, SMB_FILE)";

fn arg_or_env(args: &mut impl Iterator<Item = String>, var: &str) -> Option<String> {
    args.next().or_else(|| std::env::var(var).ok())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = arg_or_env(&mut args, "SMB_HOST").ok_or(USAGE)?;
    let share = arg_or_env(&mut args, "SMB_SHARE").ok_or(USAGE)?;
    let file = arg_or_env(&mut args, "SMB_FILE");
    let user = std::env::var("SMB_USER").unwrap_or_default();
    let password = std::env::var("SMB_PASSWORD").unwrap_or_default();
    let port: u16 = match std::env::var("SMB_PORT") {
        Ok(p) => p.parse()?,
        Err(_) => SmbUrl::DEFAULT_PORT,
    };

    // The server's NetBIOS name, as an smb:// URL of the host names it.
    let bracketed = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let server_name = SmbUrl::parse(&format!("smb://{bracketed}/"))?.remote_name();
    let factory = SmbProtocolFactory::new(user, password, "SMBKITCLIENT", &server_name)?
        .direct_tcp(port != SmbUrl::NETBIOS_PORT);
    let conn = Connection::connect(factory, (host.as_str(), port))?;
    println!("connected to {host}: SMB {}", conn.dialect().version_str());

    let folder = match file.as_deref().and_then(|f| f.rsplit_once(['/', '\\'])) {
        Some((folder, _)) => folder.to_string(),
        None => String::new(),
    };
    let shown = folder.trim_start_matches(['/', '\\']).replace('/', "\\");
    println!("\\\\{host}\\{share}\\{shown}:");
    for entry in conn.read_dir(&share, &folder) {
        let entry = entry?;
        let kind = if entry.is_dir() { "<DIR>" } else { "" };
        println!("{kind:>6} {:>12} {}", entry.len(), entry.name());
    }

    if let Some(file) = file {
        let name = file.rsplit(['/', '\\']).next().unwrap_or(&file);
        if name.is_empty() {
            return Err(format!("{file:?} names no file").into());
        }
        let started = Instant::now();
        let mut out = std::fs::File::create(name)?;
        let (_attributes, n) = conn.retrieve_file(&share, &file, &mut out)?;
        let took = started.elapsed();
        println!(
            "downloaded {file} to {name}: {n} bytes in {took:.2?} ({:.1} MiB/s)",
            n as f64 / (1 << 20) as f64 / took.as_secs_f64().max(1e-9)
        );
    }
    conn.close()?;
    Ok(())
}
