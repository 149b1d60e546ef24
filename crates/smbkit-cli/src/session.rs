//! Opening the connection a command works over, from the global options
//! and the target.

use std::net::IpAddr;
use std::time::Duration;

use smbkit::{Connection, Error, Protocol, SignOptions, SmbProtocolFactory};

use crate::args::{Encryption, GlobalOpts, Signing};
use crate::auth;
use crate::error::{CmdResult, Failure};
use crate::target::Target;

/// The NetBIOS name to call the server by: `--netbios-name`, else the
/// host's first label when it is a name that fits, else `SERVER`.
pub fn netbios_name(opts: &GlobalOpts, target: &Target) -> String {
    if let Some(n) = &opts.netbios_name {
        return n.clone();
    }
    if target.host.parse::<IpAddr>().is_err() {
        let label = target.host.split('.').next().unwrap_or_default();
        if !label.is_empty()
            && label.len() <= 15
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return label.to_ascii_uppercase();
        }
    }
    "SERVER".to_string()
}

/// The port to connect to: `--port`, else the target's, else 445 (139 with
/// `--netbios`).
pub fn port(opts: &GlobalOpts, target: &Target) -> u16 {
    opts.port
        .or(target.port)
        .unwrap_or(if opts.netbios { 139 } else { 445 })
}

/// Connects, negotiates and logs in to `target`'s server.
pub async fn connect(opts: &GlobalOpts, target: &Target) -> CmdResult<Connection> {
    let creds = auth::credentials(opts, target)?;
    let limit = Duration::from_secs_f64(opts.timeout);
    let remote_name = netbios_name(opts, target);
    let factory = SmbProtocolFactory::new(
        creds.user.clone(),
        creds.password,
        &opts.client_name,
        &remote_name,
    )
    .map_err(|e| match e {
        Error::InvalidArgument(m) => Failure::usage(
            m.replace("my_name", "--client-name")
                .replace("remote_name", "--netbios-name"),
        ),
        e => Failure::from(e),
    })?
    .domain(creds.domain)
    .use_ntlm_v2(!opts.ntlmv1)
    .sign_options(match opts.signing {
        Signing::Never => SignOptions::Never,
        Signing::Supported => SignOptions::WhenSupported,
        Signing::Required => SignOptions::WhenRequired,
    })
    .protocol(if opts.smb1 {
        Protocol::Smb1Only
    } else if opts.smb2_only {
        Protocol::Smb2Only
    } else {
        Protocol::Auto
    })
    .encryption(match opts.encryption {
        Encryption::IfRequired => smbkit::Encryption::IfRequired,
        Encryption::Preferred => smbkit::Encryption::Preferred,
        Encryption::Required => smbkit::Encryption::Required,
    })
    .direct_tcp(!opts.netbios)
    .timeout(limit)
    .connect_timeout(limit);
    let factory = if opts.cipher.is_empty() {
        factory
    } else {
        let list: Vec<smbkit::Cipher> = opts.cipher.iter().map(|&c| c.into()).collect();
        factory.ciphers(&list).map_err(Failure::from)?
    };
    let port = port(opts, target);
    tracing::debug!(host = %target.host, port, user = %creds.user, "connecting");
    Ok(factory.connect((target.host.as_str(), port)).await?)
}

/// The share of `target`, or a usage error saying how to name one.
pub fn share(target: &Target) -> CmdResult<&str> {
    target.share.as_deref().ok_or_else(|| {
        Failure::usage(format!("'{target}' names no share")).hint(format!(
            "write {}/SHARE/path; list the shares with: smbkit shares {}",
            target.server_url(),
            target.server_url()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn opts(args: &[&str]) -> GlobalOpts {
        let mut v = vec!["smbkit"];
        v.extend_from_slice(args);
        v.extend_from_slice(&["info", "smb://h"]);
        crate::args::Cli::parse_from(v).opts
    }

    #[test]
    fn default_names_and_ports() {
        let t = Target::parse("smb://u@fileserver.example.com/s").unwrap();
        assert_eq!(netbios_name(&opts(&[]), &t), "FILESERVER");
        assert_eq!(port(&opts(&[]), &t), 445);
        assert_eq!(port(&opts(&["--netbios"]), &t), 139);
        let t = Target::parse("smb://u@10.0.0.1:1445/s").unwrap();
        assert_eq!(netbios_name(&opts(&[]), &t), "SERVER");
        assert_eq!(port(&opts(&[]), &t), 1445);
        assert_eq!(port(&opts(&["--port", "2445"]), &t), 2445);
        assert_eq!(netbios_name(&opts(&["--netbios-name", "NAS"]), &t), "NAS");
    }
}
