//! The command line: connection options shared by every subcommand, and
//! the subcommands with their own options.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use smbkit::ReconnectPolicy;

const AFTER_HELP: &str = "\
Targets:
  smb://[domain;]user@host[:port]/share/path   (no user: anonymous)
  \\\\host\\share\\path  or  //host/share/path       (user: -U, -A FILE or $USER)

Password: -A FILE (smbclient's format: username = .., password = .., domain = ..),
else SMBKIT_PASSWORD, else a prompt on the terminal. Never on the command line.

Exit codes: 0 ok, 1 other failure, 2 usage, 3 authentication failed, 4 not found,
5 access denied, 6 timeout, 7 network error, 8 not supported.

Example:
  SMBKIT_PASSWORD=secret smbkit ls -l smb://alice@fileserver/docs";

/// An SMB client for Windows and Samba file servers: list, copy, move and
/// remove files, read ACLs and snapshots, and see what was negotiated.
#[derive(Parser, Debug)]
#[command(name = "smbkit", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
    /// How to connect; shared by every subcommand.
    #[command(flatten)]
    pub opts: GlobalOpts,
}

/// Connection options, accepted before or after the subcommand.
#[derive(Args, Debug, Clone)]
pub struct GlobalOpts {
    /// User to log in as, `[DOMAIN\]USER` (overrides the target's user).
    #[arg(short = 'U', long, global = true, value_name = "[DOMAIN\\]USER")]
    pub user: Option<String>,
    /// Read the user name, password and domain from FILE (smbclient's -A format).
    #[arg(
        short = 'A',
        long = "authentication-file",
        global = true,
        value_name = "FILE"
    )]
    pub auth_file: Option<PathBuf>,
    /// The server's NetBIOS name, sent as the called name with --netbios and
    /// in share paths [default: the host's first label, or SERVER for an address].
    #[arg(long, global = true, value_name = "NAME")]
    pub netbios_name: Option<String>,
    /// This client's NetBIOS name.
    #[arg(long, global = true, default_value = "SMBKIT", value_name = "NAME")]
    pub client_name: String,
    /// Log on with Kerberos, as smbclient -k: with the ticket `kinit` left
    /// (KRB5CCNAME), or with the password when one is given (-A,
    /// SMBKIT_PASSWORD); NTLM is not tried. The server is asked for as
    /// cifs/HOST, HOST as written in the target.
    #[arg(short = 'k', long, global = true)]
    pub kerberos: bool,
    /// Kerberos: off; desired (NTLM when no ticket can be had); required
    /// [default: required with -k, off without].
    #[arg(long = "use-kerberos", global = true, value_enum, value_name = "WHEN")]
    pub use_kerberos: Option<UseKerberos>,
    /// A Kerberos KDC, HOST[:PORT] (repeatable) [default: krb5.conf's].
    #[arg(long, global = true, value_name = "HOST[:PORT]")]
    pub kdc: Vec<String>,
    /// The Kerberos realm [default: the user's @REALM, krb5.conf's default_realm, the domain].
    #[arg(long, global = true, value_name = "REALM")]
    pub realm: Option<String>,
    /// Log on with the user's key from this keytab (implies Kerberos).
    #[arg(long, global = true, value_name = "FILE")]
    pub keytab: Option<PathBuf>,
    /// The Kerberos credential cache file to use instead of KRB5CCNAME's.
    #[arg(long = "krb5-ccache", global = true, value_name = "FILE")]
    pub krb5_ccache: Option<PathBuf>,
    /// Authenticate with NTLMv1 instead of NTLMv2 (old servers only).
    #[arg(long, global = true)]
    pub ntlmv1: bool,
    /// When to sign messages: never; whenever the server supports it; or
    /// only when the server requires it.
    #[arg(long, global = true, value_enum, default_value_t = Signing::Required)]
    pub signing: Signing,
    /// SMB3 encryption: only where the server asks for it; the whole
    /// session whenever the server can; or always (refusing servers that
    /// cannot encrypt, like smbclient -e).
    #[arg(long, global = true, value_enum, default_value_t = Encryption::IfRequired)]
    pub encryption: Encryption,
    /// SMB 3.1.1 ciphers to offer, most preferred first, comma-separated
    /// [default: aes-256-gcm,aes-128-gcm,aes-256-ccm,aes-128-ccm].
    #[arg(
        long,
        global = true,
        value_enum,
        value_delimiter = ',',
        value_name = "CIPHER"
    )]
    pub cipher: Vec<CipherArg>,
    /// Offer only SMB1 (NT LM 0.12), as for servers that speak nothing else.
    #[arg(long, global = true, conflicts_with = "smb2_only")]
    pub smb1: bool,
    /// Speak only SMB2/3: skip the SMB1 negotiation that finds older servers.
    #[arg(long, global = true)]
    pub smb2_only: bool,
    /// TCP port [default: the target's port, else 445, or 139 with --netbios].
    #[arg(long, global = true, value_name = "PORT")]
    pub port: Option<u16>,
    /// Use NetBIOS session service framing (port 139 style) instead of direct TCP.
    #[arg(long, global = true)]
    pub netbios: bool,
    /// Time limit in seconds for connecting and for each operation.
    #[arg(long, global = true, default_value_t = 30.0, value_name = "SECONDS",
          value_parser = positive_seconds)]
    pub timeout: f64,
    /// Log protocol details to stderr (-vv for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars and no messages, only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if v.is_finite() && v > 0.0 && v <= 86_400.0 * 365.0 {
        Ok(v)
    } else {
        Err("give a number of seconds greater than 0".into())
    }
}

/// `--signing`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Signing {
    /// Never sign (fails against servers that require signing).
    Never,
    /// Sign whenever the server supports it.
    Supported,
    /// Sign when the server requires it.
    Required,
}

/// `--use-kerberos`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum UseKerberos {
    /// NTLM only.
    Off,
    /// Kerberos when a ticket can be had, else NTLM.
    Desired,
    /// Kerberos or nothing.
    Required,
}

impl GlobalOpts {
    /// The Kerberos mode the options ask for.
    pub fn kerberos_mode(&self) -> smbkit::Kerberos {
        match self.use_kerberos {
            Some(UseKerberos::Off) => smbkit::Kerberos::Off,
            Some(UseKerberos::Desired) => smbkit::Kerberos::Preferred,
            Some(UseKerberos::Required) => smbkit::Kerberos::Required,
            None if self.kerberos || self.keytab.is_some() || self.krb5_ccache.is_some() => {
                smbkit::Kerberos::Required
            }
            None => smbkit::Kerberos::Off,
        }
    }
}

/// `--encryption`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Encryption {
    /// Encrypt the sessions and shares for which the server asks for it.
    IfRequired,
    /// Always encrypt: refuse servers that cannot (SMB 1, SMB 2.x, no common cipher).
    Required,
    /// Encrypt the whole session when the server can; else go on unencrypted.
    Preferred,
}

/// `--cipher`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CipherArg {
    /// AES-256-GCM.
    #[value(name = "aes-256-gcm")]
    Aes256Gcm,
    /// AES-128-GCM.
    #[value(name = "aes-128-gcm")]
    Aes128Gcm,
    /// AES-256-CCM.
    #[value(name = "aes-256-ccm")]
    Aes256Ccm,
    /// AES-128-CCM (the only cipher of SMB 3.0 and 3.0.2).
    #[value(name = "aes-128-ccm")]
    Aes128Ccm,
}

impl From<CipherArg> for smbkit::Cipher {
    fn from(c: CipherArg) -> Self {
        match c {
            CipherArg::Aes256Gcm => smbkit::Cipher::Aes256Gcm,
            CipherArg::Aes128Gcm => smbkit::Cipher::Aes128Gcm,
            CipherArg::Aes256Ccm => smbkit::Cipher::Aes256Ccm,
            CipherArg::Aes128Ccm => smbkit::Cipher::Aes128Ccm,
        }
    }
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List the server's shares.
    #[command(after_help = "Example:\n  smbkit shares smb://alice@fileserver")]
    Shares(SharesArgs),
    /// List a folder (or the files a wildcard matches).
    #[command(
        after_help = "Times are UTC.\n\nExamples:\n  smbkit ls -l smb://alice@fileserver/docs/reports\n  smbkit ls --json 'smb://alice@fileserver/docs/*.pdf'"
    )]
    Ls(LsArgs),
    /// Download a file, the files a wildcard matches, or (-r) a folder tree.
    #[command(
        after_help = "A file goes into LOCAL when LOCAL is a folder. A folder (-r) becomes LOCAL\n\
                            itself (default: its own name here); with LOCAL/ it goes inside LOCAL.\n\
                            Running it again with -c completes what is missing. A lost connection is\n\
                            made again and the downloads go on where they were (--retries, --no-retry).\n\n\
                            Examples:\n  smbkit get smb://alice@fileserver/docs/report.pdf\n  smbkit get -r smb://alice@fileserver/docs/photos ./photos\n  smbkit get -c smb://alice@fileserver/isos/big.iso    # resume a partial download"
    )]
    Get(GetArgs),
    /// Upload files or (-r) folder trees.
    #[command(
        after_help = "A file goes into REMOTE when REMOTE is a folder. A folder (-r) becomes REMOTE\n\
                            itself; with REMOTE/ (or a share's root, or several sources) it goes inside.\n\
                            A lost connection is made again and the uploads go on where they were\n\
                            (--retries, --no-retry).\n\n\
                            Examples:\n  smbkit put report.pdf smb://alice@fileserver/docs/\n  smbkit put -r ./photos smb://alice@fileserver/docs/photos\n  tar c dir | smbkit put - smb://alice@fileserver/backup/dir.tar"
    )]
    Put(PutArgs),
    /// Copy a remote file or (-r) folder tree to another place, on the same
    /// server (which copies the data itself) or another.
    #[command(
        after_help = "Both SOURCE and DEST are remote. When they are on the same server and log in\n\
                            as the same user, the server copies the data itself (FSCTL_SRV_COPYCHUNK):\n\
                            it does not cross the network. Between servers, or where the server cannot\n\
                            (Samba over SMB1), the data is streamed through smbkit. A file goes into DEST\n\
                            when DEST is a folder; an existing file is replaced. A folder (-r) becomes\n\
                            DEST itself; with DEST/ (or a share's root) it goes inside. A lost connection\n\
                            is made again and the copies run again (--retries, --no-retry).\n\n\
                            Examples:\n  smbkit cp smb://alice@fileserver/docs/report.pdf smb://alice@fileserver/archive/\n  smbkit cp -r smb://alice@fileserver/docs/photos smb://alice@nas/backup/photos"
    )]
    Cp(CpArgs),
    /// Write a file's contents to standard output.
    #[command(after_help = "Example:\n  smbkit cat smb://alice@fileserver/docs/notes.txt | less")]
    Cat(CatArgs),
    /// Show a file's or folder's size, times and attributes.
    #[command(after_help = "Example:\n  smbkit stat smb://alice@fileserver/docs/report.pdf")]
    Stat(StatArgs),
    /// Create a folder.
    #[command(after_help = "Example:\n  smbkit mkdir -p smb://alice@fileserver/docs/2024/q3")]
    Mkdir(MkdirArgs),
    /// Remove an empty folder.
    #[command(after_help = "Example:\n  smbkit rmdir smb://alice@fileserver/docs/old")]
    Rmdir(RmdirArgs),
    /// Remove files; wildcards (* and ?) in the last part; -r also removes
    /// matching folders with everything in them.
    #[command(
        after_help = "Examples:\n  smbkit rm 'smb://alice@fileserver/logs/*.tmp'\n  smbkit rm -r smb://alice@fileserver/docs/old"
    )]
    Rm(RmArgs),
    /// Rename or move a file or folder within its share.
    #[command(
        after_help = "DEST is a path in the same share: /a/b from the share's root, a bare name\n\
                            beside the source, or a full target on the same share. An existing folder\n\
                            as DEST receives the source.\n\n\
                            Examples:\n  smbkit mv smb://alice@fileserver/docs/draft.txt final.txt\n  smbkit mv smb://alice@fileserver/docs/final.txt /archive/"
    )]
    Mv(MvArgs),
    /// List the snapshots (previous versions) of a file or folder.
    #[command(after_help = "Example:\n  smbkit snapshots smb://alice@fileserver/docs")]
    Snapshots(SnapshotsArgs),
    /// Show a file's or folder's owner, group and ACL.
    #[command(after_help = "Example:\n  smbkit security smb://alice@fileserver/docs/report.pdf")]
    Security(SecurityArgs),
    /// Watch a folder and print its changes as they happen, one a line.
    #[command(
        after_help = "Prints one line per change, the path relative to the folder:
                            added PATH, removed PATH, modified PATH, renamed OLD -> NEW, and
                            'overflow: enumerate again' when more changed than the server could tell
                            (or the connection was lost and made again): list the folder again then.
                            Runs until interrupted (Ctrl-C), or until -n changes were printed. A lost
                            connection is made again and the folder watched again (--retries, --no-retry).

                            Examples:
  smbkit watch smb://alice@fileserver/docs/inbox
  smbkit watch -r --filter names,size --json smb://alice@fileserver/docs"
    )]
    Watch(WatchArgs),
    /// Measure round trips to the server, like ping.
    #[command(after_help = "Example:\n  smbkit echo -c 5 smb://alice@fileserver")]
    Echo(EchoArgs),
    /// Show what was negotiated: dialect, signing, encryption, limits, the server's GUID and time.
    #[command(
        after_help = "Example:\n  SMBKIT_PASSWORD=secret smbkit info smb://alice@fileserver"
    )]
    Info(InfoArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  smbkit completions bash > ~/.local/share/bash-completion/completions/smbkit"
    )]
    Completions(CompletionsArgs),
}

impl Cmd {
    /// The reconnect options, for the commands that have them.
    pub fn retry(&self) -> Option<&RetryOpts> {
        match self {
            Cmd::Get(a) => Some(&a.retry),
            Cmd::Put(a) => Some(&a.retry),
            Cmd::Cp(a) => Some(&a.retry),
            _ => None,
        }
    }

    /// The remote target the command works on, for messages and hints.
    pub fn target(&self) -> Option<&str> {
        Some(match self {
            Cmd::Shares(a) => &a.target,
            Cmd::Ls(a) => &a.target,
            Cmd::Get(a) => &a.remote,
            Cmd::Put(a) => &a.remote,
            Cmd::Cp(a) => &a.source,
            Cmd::Cat(a) => &a.target,
            Cmd::Stat(a) => &a.target,
            Cmd::Mkdir(a) => &a.target,
            Cmd::Rmdir(a) => &a.target,
            Cmd::Rm(a) => &a.target,
            Cmd::Mv(a) => &a.source,
            Cmd::Snapshots(a) => &a.target,
            Cmd::Security(a) => &a.target,
            Cmd::Watch(a) => &a.target,
            Cmd::Echo(a) => &a.target,
            Cmd::Info(a) => &a.target,
            Cmd::Completions(_) => return None,
        })
    }
}

/// `smbkit shares`.
#[derive(Args, Debug)]
pub struct SharesArgs {
    /// smb://user@host or \\host
    pub target: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `smbkit ls`.
#[derive(Args, Debug)]
pub struct LsArgs {
    /// The folder (or file, or wildcard pattern) to list: smb://user@host/share/path
    pub target: String,
    /// Long format: attributes, size, time of last change, name.
    #[arg(short = 'l', long)]
    pub long: bool,
    /// Print JSON (an array of entries) instead.
    #[arg(long, conflicts_with = "long")]
    pub json: bool,
    /// Also list hidden and system files.
    #[arg(short = 'a', long)]
    pub all: bool,
}

/// `smbkit get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The remote file, folder (with -r) or pattern: smb://user@host/share/path
    pub remote: String,
    /// Where to save: a file, an existing folder, or - for standard output
    /// [default: the remote name, in the current folder].
    pub local: Option<PathBuf>,
    /// Download folders and everything in them.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Continue partial downloads: keep what the local file has and fetch the rest.
    #[arg(short = 'c', long = "resume", alias = "continue")]
    pub resume: bool,
    /// Start at this byte of the remote file.
    #[arg(long, value_name = "BYTES", conflicts_with = "resume")]
    pub offset: Option<u64>,
    /// Fetch at most this many bytes.
    #[arg(long, value_name = "BYTES", conflicts_with = "resume")]
    pub length: Option<u64>,
    /// How many files to transfer at once (over the one connection).
    #[arg(short = 'j', long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// What to do when the connection is lost.
    #[command(flatten)]
    pub retry: RetryOpts,
}

/// `smbkit put`.
#[derive(Args, Debug)]
pub struct PutArgs {
    /// Local files or folders (with -r); - reads standard input.
    #[arg(required = true, num_args = 1..)]
    pub local: Vec<PathBuf>,
    /// The remote destination: a file name, or a folder to put them in.
    pub remote: String,
    /// Upload folders and everything in them.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// How many files to transfer at once (over the one connection).
    #[arg(short = 'j', long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// What to do when the connection is lost.
    #[command(flatten)]
    pub retry: RetryOpts,
}

/// `smbkit cp`.
#[derive(Args, Debug)]
pub struct CpArgs {
    /// The remote file, or folder with -r: smb://user@host/share/path
    pub source: String,
    /// Where the copy goes: a file name, or a folder to put it in, on the
    /// same server or another: smb://user@host/share/path
    pub dest: String,
    /// Copy folders and everything in them.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// How many files to copy at once.
    #[arg(short = 'j', long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// What to do when the connection is lost.
    #[command(flatten)]
    pub retry: RetryOpts,
}

/// The attempts to reconnect [`RetryOpts::policy`] makes unless told.
pub const DEFAULT_RETRIES: u32 = 10;

/// The wait between two attempts to reconnect grows to at most this.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Reconnecting is given up once this long has passed since the loss
/// (unless more attempts than fit in it are asked for): servers keep an
/// open file for a lost client about a minute.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// `--retries` and `--no-retry` of `get`, `put` and `cp`.
#[derive(Args, Debug, Clone, Copy)]
pub struct RetryOpts {
    /// When the connection is lost, reconnect up to N times and go on with
    /// the transfers where they were (0: do not reconnect).
    ///
    /// No byte is lost or written twice. The first attempt starts at once,
    /// the next after 100 ms, each wait doubling up to 5 s; the attempts
    /// stop after 60 s (or N x 5 s, if longer). A file the server cannot
    /// give back after the reconnect (SMB1 has no durable handles) fails
    /// with exit code 7, as does a connection that cannot be made again.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_RETRIES,
        conflicts_with = "no_retry"
    )]
    pub retries: u32,
    /// Do not reconnect: a lost connection fails the transfer (as --retries 0).
    #[arg(long)]
    pub no_retry: bool,
}

impl RetryOpts {
    /// The reconnect policy these options ask for; `None`: do not reconnect.
    pub fn policy(&self) -> Option<ReconnectPolicy> {
        if self.no_retry || self.retries == 0 {
            return None;
        }
        let base = ReconnectPolicy::default();
        Some(ReconnectPolicy {
            attempts: self.retries,
            max_delay: MAX_RETRY_DELAY,
            give_up_after: GIVE_UP_AFTER.max(MAX_RETRY_DELAY.saturating_mul(self.retries)),
            ..base
        })
    }
}

/// `smbkit cat`.
#[derive(Args, Debug)]
pub struct CatArgs {
    /// The remote file: smb://user@host/share/path
    pub target: String,
}

/// `smbkit stat`.
#[derive(Args, Debug)]
pub struct StatArgs {
    /// The remote file or folder: smb://user@host/share/path
    pub target: String,
    /// Print JSON instead.
    #[arg(long)]
    pub json: bool,
}

/// `smbkit mkdir`.
#[derive(Args, Debug)]
pub struct MkdirArgs {
    /// The folder to create: smb://user@host/share/path
    pub target: String,
    /// Create missing parent folders too, and accept a folder that exists.
    #[arg(short = 'p', long)]
    pub parents: bool,
}

/// `smbkit rmdir`.
#[derive(Args, Debug)]
pub struct RmdirArgs {
    /// The empty folder to remove: smb://user@host/share/path
    pub target: String,
}

/// `smbkit rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    /// The file, or pattern with * and ? in its last part: smb://user@host/share/path
    pub target: String,
    /// Also remove matching folders, with everything in them.
    #[arg(short = 'r', long)]
    pub recursive: bool,
}

/// `smbkit mv`.
#[derive(Args, Debug)]
pub struct MvArgs {
    /// The file or folder to move: smb://user@host/share/path
    pub source: String,
    /// The new path in the same share.
    pub dest: String,
}

/// `smbkit snapshots`.
#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    /// The file or folder: smb://user@host/share/path
    pub target: String,
    /// Print JSON instead.
    #[arg(long)]
    pub json: bool,
}

/// `smbkit security`.
#[derive(Args, Debug)]
pub struct SecurityArgs {
    /// The file or folder: smb://user@host/share/path
    pub target: String,
}

/// `smbkit watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The folder to watch: smb://user@host/share/path
    pub target: String,
    /// Also watch every folder below it.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// What to report, comma-separated [default: names,attributes,size,write].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KINDS")]
    pub filter: Vec<WatchFilter>,
    /// Print one JSON object per line instead.
    #[arg(long)]
    pub json: bool,
    /// Stop after N changes (overflows included).
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// The most bytes of changes one answer of the server may carry (each
    /// takes 12 bytes and its name in UTF-16); more at once is an overflow.
    #[arg(long, value_name = "BYTES", default_value_t = smbkit::DEFAULT_WATCH_BUFFER,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub buffer: u32,
    /// When the connection is lost, reconnect up to N times and watch the
    /// folder again, printing an overflow (0: do not reconnect).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RETRIES, conflicts_with = "no_retry")]
    pub retries: u32,
    /// Do not reconnect: a lost connection ends the watch (as --retries 0).
    #[arg(long)]
    pub no_retry: bool,
}

impl WatchArgs {
    /// The reconnect policy these options ask for; `None`: do not reconnect.
    pub fn policy(&self) -> Option<ReconnectPolicy> {
        RetryOpts {
            retries: self.retries,
            no_retry: self.no_retry,
        }
        .policy()
    }
}

/// `--filter` of `smbkit watch`: the kinds of change reported.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum WatchFilter {
    /// Files and folders created, deleted or renamed.
    Names,
    /// Files created, deleted or renamed.
    Files,
    /// Folders created, deleted or renamed.
    Dirs,
    /// Attributes changed.
    Attributes,
    /// Sizes changed.
    Size,
    /// Files written (time of last write).
    Write,
    /// Files read (time of last access).
    Access,
    /// Creation times changed.
    Creation,
    /// Security descriptors changed.
    Security,
    /// Extended attributes changed.
    Ea,
    /// Named streams added, removed, resized or written.
    Streams,
    /// Everything.
    All,
}

impl WatchFilter {
    /// The library's filter of these kinds (its default for none).
    pub fn combine(kinds: &[WatchFilter]) -> smbkit::NotifyFilter {
        use smbkit::NotifyFilter as F;
        if kinds.is_empty() {
            return F::default();
        }
        kinds.iter().fold(F::from_bits(0), |acc, k| {
            acc | match k {
                WatchFilter::Names => F::NAMES,
                WatchFilter::Files => F::FILE_NAME,
                WatchFilter::Dirs => F::DIR_NAME,
                WatchFilter::Attributes => F::ATTRIBUTES,
                WatchFilter::Size => F::SIZE,
                WatchFilter::Write => F::LAST_WRITE,
                WatchFilter::Access => F::LAST_ACCESS,
                WatchFilter::Creation => F::CREATION,
                WatchFilter::Security => F::SECURITY,
                WatchFilter::Ea => F::EA,
                WatchFilter::Streams => F::STREAM_NAME | F::STREAM_SIZE | F::STREAM_WRITE,
                WatchFilter::All => F::ALL,
            }
        })
    }
}

/// `smbkit echo`.
#[derive(Args, Debug)]
pub struct EchoArgs {
    /// smb://user@host or \\host
    pub target: String,
    /// How many echoes.
    #[arg(short = 'c', long, default_value_t = 4)]
    pub count: u32,
    /// Seconds to wait between echoes.
    #[arg(short = 'i', long, default_value_t = 0.0, value_name = "SECONDS")]
    pub interval: f64,
}

/// `smbkit info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// smb://user@host or \\host
    pub target: String,
}

/// `smbkit completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The reconnect policy of `smbkit CMD ARGS… TARGET(S)`.
    fn policy(cmd: &str, args: &[&str]) -> Result<Option<ReconnectPolicy>, clap::Error> {
        let mut v = vec!["smbkit", cmd];
        v.extend_from_slice(args);
        if cmd == "put" {
            v.push("local.bin");
        }
        v.push("smb://u@h/s/f");
        match Cli::try_parse_from(v)?.command {
            Cmd::Get(a) => Ok(a.retry.policy()),
            Cmd::Put(a) => Ok(a.retry.policy()),
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn retries_make_the_reconnect_policy() {
        // What --help says of the delays is what the library does.
        let lib = ReconnectPolicy::default();
        assert_eq!(lib.first_delay, Duration::from_millis(100));
        for cmd in ["get", "put"] {
            let p = policy(cmd, &[]).unwrap().expect("reconnects by default");
            assert_eq!(p.attempts, DEFAULT_RETRIES);
            assert_eq!(p.first_delay, Duration::from_millis(100));
            assert_eq!(p.max_delay, Duration::from_secs(5));
            assert_eq!(p.give_up_after, Duration::from_secs(60));
            let p = policy(cmd, &["--retries", "3"]).unwrap().unwrap();
            assert_eq!(p.attempts, 3);
            assert_eq!(p.give_up_after, Duration::from_secs(60));
            let p = policy(cmd, &["--retries", "40"]).unwrap().unwrap();
            assert_eq!(p.attempts, 40);
            assert_eq!(p.give_up_after, Duration::from_secs(200));
            assert_eq!(policy(cmd, &["--retries", "0"]).unwrap(), None);
            assert_eq!(policy(cmd, &["--no-retry"]).unwrap(), None);
            for wrong in [&["--retries", "1", "--no-retry"][..], &["--retries", "-1"]] {
                let e = policy(cmd, wrong).unwrap_err();
                assert_eq!(e.exit_code(), 2, "{cmd} {wrong:?}: {e}");
            }
        }
    }

    #[test]
    fn every_subcommand_has_an_example() {
        for sub in Cli::command().get_subcommands() {
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("smbkit "),
                "{} has no example",
                sub.get_name()
            );
        }
    }
}
