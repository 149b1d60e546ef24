//! The `smbkit` command-line tool.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use smbkit::{Connection, Error, Protocol, SignOptions, SmbProtocolFactory};

mod target;
use target::Target;

/// An SMB/CIFS client: talk to Windows and Samba file servers.
#[derive(Parser, Debug)]
#[command(name = "smbkit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// The server's NetBIOS name (sent in the NetBIOS session request and the tree path).
    #[arg(long, global = true, default_value = "SERVER")]
    netbios_name: String,
    /// This client's NetBIOS name.
    #[arg(long, global = true, default_value = "SMBKIT")]
    client_name: String,
    /// Authenticate with NTLMv1 instead of NTLMv2.
    #[arg(long, global = true)]
    ntlmv1: bool,
    /// When to sign messages.
    #[arg(long, global = true, value_enum, default_value_t = Signing::Required)]
    signing: Signing,
    /// Speak only SMB2/3.
    #[arg(long, global = true)]
    smb2_only: bool,
    /// Use NetBIOS session framing (port 139 style) instead of direct TCP.
    #[arg(long, global = true)]
    netbios: bool,
    /// Time limit for each operation, in seconds.
    #[arg(long, global = true, default_value_t = 30.0)]
    timeout: f64,
    /// Log protocol details to stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Show what was negotiated with the server.
    ///
    /// Example: SMBKIT_PASSWORD=secret smbkit info smb://alice@fileserver
    Info {
        /// smb://[domain;]user@host[:port] or \\host
        target: String,
    },
    /// Measure round trips, like ping.
    ///
    /// Example: smbkit echo -c 5 smb://alice@fileserver
    Echo {
        /// smb://[domain;]user@host[:port] or \\host
        target: String,
        /// How many echoes.
        #[arg(short = 'c', long, default_value_t = 4)]
        count: u32,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum Signing {
    Never,
    Supported,
    Required,
}

/// Exit codes, one per kind of failure.
mod exit {
    pub const USAGE: u8 = 2;
    pub const AUTH: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const ACCESS_DENIED: u8 = 5;
    pub const TIMEOUT: u8 = 6;
    pub const NETWORK: u8 = 7;
    pub const OTHER: u8 = 1;
}

fn exit_code(e: &Error) -> u8 {
    use smbkit::NtStatus;
    match e {
        Error::AuthFailed { .. } => exit::AUTH,
        Error::Timeout { .. } => exit::TIMEOUT,
        Error::NotConnected | Error::Io(_) | Error::NetbiosRejected { .. } => exit::NETWORK,
        Error::InvalidArgument(_) => exit::USAGE,
        Error::OperationFailure { status, .. } => match *status {
            NtStatus::OBJECT_NAME_NOT_FOUND
            | NtStatus::OBJECT_PATH_NOT_FOUND
            | NtStatus::BAD_NETWORK_NAME
            | NtStatus::NO_SUCH_FILE => exit::NOT_FOUND,
            NtStatus::ACCESS_DENIED | NtStatus::NETWORK_ACCESS_DENIED => exit::ACCESS_DENIED,
            _ => exit::OTHER,
        },
        _ => exit::OTHER,
    }
}

fn hint(e: &Error, cli: &Cli) -> Option<String> {
    match e {
        Error::NetbiosRejected { .. } => Some(format!(
            "the server rejected the name {}; try --netbios-name with the server's own name",
            cli.netbios_name
        )),
        Error::AuthFailed { .. } => Some(
            "check the user name, the domain and SMBKIT_PASSWORD; older servers may need --ntlmv1"
                .into(),
        ),
        Error::Unsupported(m) if m.contains("requires signing") => {
            Some("use --signing required or --signing supported".into())
        }
        Error::Io(_) => Some(
            "is the host reachable and the port right? (445 direct, 139 with --netbios)".into(),
        ),
        _ => None,
    }
}

fn password(t: &Target) -> Result<String, Error> {
    if let Ok(p) = std::env::var("SMBKIT_PASSWORD") {
        return Ok(p);
    }
    if t.user.is_empty() {
        return Ok(String::new());
    }
    Err(Error::InvalidArgument(
        "no password: set SMBKIT_PASSWORD".into(),
    ))
}

async fn open(cli: &Cli, target: &str) -> Result<Connection, Error> {
    let t = Target::parse(target).map_err(Error::InvalidArgument)?;
    let pw = password(&t)?;
    let limit = Duration::from_secs_f64(cli.timeout.max(0.001));
    let f = SmbProtocolFactory::new(t.user.clone(), pw, &cli.client_name, &cli.netbios_name)?
        .domain(t.domain.clone())
        .use_ntlm_v2(!cli.ntlmv1)
        .sign_options(match cli.signing {
            Signing::Never => SignOptions::Never,
            Signing::Supported => SignOptions::WhenSupported,
            Signing::Required => SignOptions::WhenRequired,
        })
        .protocol(if cli.smb2_only {
            Protocol::Smb2Only
        } else {
            Protocol::Auto
        })
        .direct_tcp(!cli.netbios)
        .timeout(limit)
        .connect_timeout(limit);
    let port = t.port.unwrap_or(if cli.netbios { 139 } else { 445 });
    f.connect((t.host.as_str(), port)).await
}

async fn run(cli: &Cli) -> Result<(), Error> {
    match &cli.command {
        Cmd::Info { target } => {
            let conn = open(cli, target).await?;
            let i = conn.server_info();
            println!("dialect:            SMB {}", i.dialect.version_str());
            println!(
                "signing:            {}{}",
                if i.signing { "on" } else { "off" },
                i.signing_algorithm
                    .map(|a| format!(" ({a:?})"))
                    .unwrap_or_default()
            );
            println!("server requires signing: {}", i.signing_required_by_server);
            println!("encryption:         off");
            println!(
                "max read/write/transact: {} / {} / {}",
                i.max_read_size, i.max_write_size, i.max_transact_size
            );
            println!("server guid:        {}", guid(&i.server_guid));
            println!("server time:        {} (FILETIME)", i.system_time);
            println!(
                "session:            {}",
                if i.is_anonymous {
                    "anonymous"
                } else if i.is_guest {
                    "guest"
                } else {
                    "authenticated"
                }
            );
            conn.close().await
        }
        Cmd::Echo { target, count } => {
            let conn = open(cli, target).await?;
            for seq in 0..*count {
                let start = Instant::now();
                conn.echo(&seq.to_le_bytes()).await?;
                println!(
                    "echo seq={seq} time={:.3} ms",
                    start.elapsed().as_secs_f64() * 1000.0
                );
            }
            conn.close().await
        }
    }
}

fn guid(g: &[u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::DEBUG)
            .init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smbkit: cannot start the runtime: {e}");
            return ExitCode::from(exit::OTHER);
        }
    };
    match rt.block_on(run(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smbkit: {e}");
            if let Some(h) = hint(&e, &cli) {
                eprintln!("hint: {h}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}
