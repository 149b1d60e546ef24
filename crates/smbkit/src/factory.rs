//! [`SmbProtocolFactory`]: the settings of one connection, and the way to
//! open it.

use std::fmt;
use std::sync::Arc;

pub use smbkit_proto::conn::ReconnectPolicy;
use std::time::Duration;

use zeroize::Zeroizing;

use smbkit_proto::crypto::Cipher;

use crate::error::{Error, InvalidArgument};

/// When SMB messages are signed; the reference's `SIGN_NEVER`,
/// `SIGN_WHEN_SUPPORTED` and `SIGN_WHEN_REQUIRED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignOptions {
    /// Never sign. Connecting to a server that requires signing fails with
    /// [`Error::Unsupported`] saying so.
    Never,
    /// Sign whenever the server supports it (every SMB2 server does).
    WhenSupported,
    /// Sign only when the server requires it (the reference's default).
    #[default]
    WhenRequired,
}

/// Which protocol family to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Offer SMB1 and SMB2 in one multi-protocol NEGOTIATE and use SMB2/3
    /// when the server can.
    #[default]
    Auto,
    /// Send an SMB2 NEGOTIATE directly; servers without SMB2 are refused.
    Smb2Only,
    /// Offer only SMB1's "NT LM 0.12" (the reference's
    /// `SUPPORT_SMB2 = False`).
    Smb1Only,
}

/// Whether to encrypt (SMB 3.x, MS-SMB2 §3.1.4.3).
///
/// Whatever the setting, a session or share for which the server asks for
/// encryption is encrypted when the dialect and server can; the setting
/// says what happens beyond that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encryption {
    /// Encrypt what the server asks to be encrypted (a session or a share
    /// with "encrypt data"), nothing else.
    #[default]
    IfRequired,
    /// Encrypt the whole session when the server can (SMB 3.x with a
    /// cipher both sides support); otherwise go on unencrypted.
    Preferred,
    /// Encrypt the whole session, and refuse to go on (with
    /// [`Error::Unsupported`] saying why) if the server cannot: SMB 1 or
    /// 2.x only, no common cipher, or a guest or anonymous session.
    Required,
}

/// The ciphers offered by default, most preferred first: GCM before CCM
/// (GCM is several times faster), 256-bit before 128-bit keys.
pub const DEFAULT_CIPHERS: [Cipher; 4] = [
    Cipher::Aes256Gcm,
    Cipher::Aes128Gcm,
    Cipher::Aes256Ccm,
    Cipher::Aes128Ccm,
];

/// The password, given up front or computed when the connection needs it.
#[derive(Clone)]
pub(crate) enum Password {
    Fixed(Arc<Zeroizing<String>>),
    Callback(Arc<dyn Fn() -> String + Send + Sync>),
}

impl Password {
    pub(crate) fn get(&self) -> Zeroizing<String> {
        match self {
            Password::Fixed(p) => Zeroizing::new(String::clone(p)),
            Password::Callback(f) => Zeroizing::new(f()),
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Builds one authenticated connection to an SMB server; the counterpart of
/// pysmb's `SMBProtocolFactory(username, password, my_name, remote_name, …)`.
///
/// ```no_run
/// # async fn demo() -> Result<(), smbkit::Error> {
/// use smbkit::{SmbProtocolFactory, SignOptions};
///
/// let conn = SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
///     .domain("WORKGROUP")
///     .sign_options(SignOptions::WhenSupported)
///     .direct_tcp(true)
///     .connect("192.0.2.10:445")
///     .await?;
/// conn.echo(b"ping").await?;
/// conn.close().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SmbProtocolFactory {
    pub(crate) username: String,
    pub(crate) password: Password,
    pub(crate) my_name: String,
    pub(crate) remote_name: String,
    pub(crate) domain: String,
    pub(crate) use_ntlm_v2: bool,
    pub(crate) sign_options: SignOptions,
    pub(crate) direct_tcp: bool,
    pub(crate) protocol: Protocol,
    pub(crate) extended_security: bool,
    pub(crate) encryption: Encryption,
    pub(crate) ciphers: Vec<Cipher>,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) liveness: smbkit_proto::conn::Liveness,
    pub(crate) tuning: Tuning,
    pub(crate) reconnect: Option<ReconnectPolicy>,
    pub(crate) kerberos: crate::kerberos::Settings,
    /// Addresses for host names, before any name lookup (see [`SmbProtocolFactory::resolve`]).
    pub(crate) resolve: Vec<(String, std::net::SocketAddr)>,
}

/// Sizes smbkit otherwise chooses itself from what the server offers; set
/// with [`SmbProtocolFactory::tuning`]. Smaller values than the defaults
/// cost round trips; they are for servers (or middleboxes) that mishandle
/// large messages, and for tests that need a server to split its answers.
///
/// ```no_run
/// # async fn demo() -> Result<(), smbkit::Error> {
/// use smbkit::{SmbProtocolFactory, Tuning};
///
/// let mut tuning = Tuning::default();
/// tuning.smb1_max_buffer = Some(4096);
/// let conn = SmbProtocolFactory::new("alice", "secret", "MYPC", "OLDNAS")?
///     .tuning(tuning)?
///     .connect("192.0.2.10:139")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tuning {
    /// The output asked for by each named-pipe transaction and pipe read
    /// (share enumeration over srvsvc), at least [`Tuning::MIN_PIPE_IO`];
    /// the longer answers come in continuation reads. Default: as much as
    /// the server allows (up to 64 KiB).
    pub pipe_io_size: Option<u32>,
    /// The output buffer of the first security-descriptor query, at least
    /// 1 byte; a descriptor that does not fit is asked for again with the
    /// size the server names. Default: 80 KiB, room for the largest ACL.
    pub security_buffer: Option<u32>,
    /// SMB1: the MaxBufferSize the client announces (MS-CIFS §2.2.4.53.1),
    /// the largest message the server may send it, at least
    /// [`Tuning::MIN_SMB1_MAX_BUFFER`]; larger transaction responses then
    /// come in several messages. Default: 61440.
    pub smb1_max_buffer: Option<u16>,
    /// Server-side copies ([`crate::Connection::copy`]): the bytes of one
    /// chunk of FSCTL_SRV_COPYCHUNK_WRITE, at least 1. A server that
    /// allows less says so, and the copy goes on with its limits.
    /// Default: 1 MiB (the ServerSideCopyMaxChunkSize of MS-SMB2 §3.3.3).
    pub copy_chunk_size: Option<u32>,
    /// Server-side copies: the chunks one FSCTL_SRV_COPYCHUNK_WRITE asks
    /// for, at least 1 (the request then copies up to this many times
    /// [`Tuning::copy_chunk_size`] bytes). Default: 16, which with 1 MiB
    /// chunks is the 16 MiB ServerSideCopyMaxDataSize of MS-SMB2 §3.3.3.
    pub copy_chunks: Option<u32>,
}

impl Tuning {
    /// The least [`Tuning::pipe_io_size`]: room for a DCE/RPC header and
    /// a few bytes.
    pub const MIN_PIPE_IO: u32 = 24;
    /// The least [`Tuning::smb1_max_buffer`].
    pub const MIN_SMB1_MAX_BUFFER: u16 = 1024;

    /// Fails with [`Error::InvalidArgument`] naming the limit a value is
    /// below.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if let Some(v) = self.pipe_io_size.filter(|v| *v < Self::MIN_PIPE_IO) {
            return Err(InvalidArgument::TuningBelowMinimum {
                setting: "pipe_io_size",
                value: u64::from(v),
                minimum: u64::from(Self::MIN_PIPE_IO),
            }
            .into());
        }
        if self.security_buffer == Some(0) {
            return Err(InvalidArgument::TuningBelowMinimum {
                setting: "security_buffer",
                value: 0,
                minimum: 1,
            }
            .into());
        }
        if let Some(v) = self
            .smb1_max_buffer
            .filter(|v| *v < Self::MIN_SMB1_MAX_BUFFER)
        {
            return Err(InvalidArgument::TuningBelowMinimum {
                setting: "smb1_max_buffer",
                value: u64::from(v),
                minimum: u64::from(Self::MIN_SMB1_MAX_BUFFER),
            }
            .into());
        }
        for (setting, value) in [
            ("copy_chunk_size", self.copy_chunk_size),
            ("copy_chunks", self.copy_chunks),
        ] {
            if value == Some(0) {
                return Err(InvalidArgument::TuningBelowMinimum {
                    setting,
                    value: 0,
                    minimum: 1,
                }
                .into());
            }
        }
        Ok(())
    }
}

/// Default time limit for operations other than echo (the reference's 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time limit for echo (the reference's 10 s).
pub const DEFAULT_ECHO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server owing answers may stay silent before the connection
/// is declared dead, unless set ([`SmbProtocolFactory::dead_peer_timeout`]).
pub const DEFAULT_DEAD_PEER: Duration = Duration::from_secs(30);
/// How long a connection may stay idle before it sends a keep-alive ECHO,
/// unless set ([`SmbProtocolFactory::keepalive`]).
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(60);

/// Checks a NetBIOS name the way the reference documents it.
pub(crate) fn check_name(role: &'static str, name: &str) -> Result<(), Error> {
    smbkit_proto::nbss::validate_name(name)
        .map_err(|error| InvalidArgument::NetbiosName { role, error }.into())
}

impl SmbProtocolFactory {
    /// Settings for a connection as `username` with `password`, calling
    /// ourselves `my_name` and the server `remote_name` (NetBIOS names: at
    /// most 15 characters, no spaces and none of `\/:*?";|+`).
    ///
    /// An empty user name and password give an anonymous session.
    pub fn new(
        username: impl Into<String>,
        password: impl Into<String>,
        my_name: &str,
        remote_name: &str,
    ) -> Result<Self, Error> {
        check_name("my_name", my_name)?;
        check_name("remote_name", remote_name)?;
        Ok(SmbProtocolFactory {
            username: username.into(),
            password: Password::Fixed(Arc::new(Zeroizing::new(password.into()))),
            my_name: my_name.to_ascii_uppercase(),
            remote_name: remote_name.to_ascii_uppercase(),
            domain: String::new(),
            use_ntlm_v2: true,
            sign_options: SignOptions::default(),
            direct_tcp: false,
            protocol: Protocol::default(),
            extended_security: true,
            encryption: Encryption::default(),
            ciphers: DEFAULT_CIPHERS.to_vec(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_TIMEOUT,
            liveness: smbkit_proto::conn::Liveness {
                dead_after: Some(DEFAULT_DEAD_PEER),
                keepalive: Some(DEFAULT_KEEPALIVE),
            },
            tuning: Tuning::default(),
            reconnect: None,
            kerberos: crate::kerberos::Settings::default(),
            resolve: Vec::new(),
        })
    }

    /// Computes the password when the connection authenticates, instead of
    /// storing it (the reference allows a password computed on demand).
    pub fn password_callback(mut self, f: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.password = Password::Callback(Arc::new(f));
        self
    }

    /// The domain (workgroup); empty by default.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = domain.into();
        self
    }

    /// NTLMv2 (`true`, the default) or NTLMv1 authentication.
    pub fn use_ntlm_v2(mut self, v2: bool) -> Self {
        self.use_ntlm_v2 = v2;
        self
    }

    /// When to sign; [`SignOptions::WhenRequired`] by default.
    pub fn sign_options(mut self, s: SignOptions) -> Self {
        self.sign_options = s;
        self
    }

    /// Direct TCP framing (port 445 style, `true`) or NetBIOS session
    /// service (port 139 style, `false`, the reference's default). SMB 3.1.1
    /// is only offered over direct TCP (MS-SMB2 §2.1).
    pub fn direct_tcp(mut self, direct: bool) -> Self {
        self.direct_tcp = direct;
        self
    }

    /// Which protocol family to speak; [`Protocol::Auto`] by default.
    pub fn protocol(mut self, p: Protocol) -> Self {
        self.protocol = p;
        self
    }

    /// SMB1 only: ask for extended security (SPNEGO/NTLMSSP logon, the
    /// default) or, with `false`, log on the way NT LM 0.12 servers without
    /// it expect: the NTLMv2 (or, with `use_ntlm_v2(false)`, NTLMv1)
    /// responses to the NEGOTIATE challenge in SESSION_SETUP_ANDX's
    /// password fields (MS-CIFS §3.2.4.2.4). Servers that offer no extended
    /// security get that logon in any case.
    pub fn extended_security(mut self, on: bool) -> Self {
        self.extended_security = on;
        self
    }

    /// Whether to encrypt beyond what the server asks for;
    /// [`Encryption::IfRequired`] by default.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), smbkit::Error> {
    /// use smbkit::{Encryption, SmbProtocolFactory};
    ///
    /// let conn = SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
    ///     .direct_tcp(true)
    ///     .encryption(Encryption::Required)
    ///     .connect("192.0.2.10:445")
    ///     .await?;
    /// assert!(conn.server_info().encrypted);
    /// # Ok(()) }
    /// ```
    pub fn encryption(mut self, e: Encryption) -> Self {
        self.encryption = e;
        self
    }

    /// The SMB 3.1.1 ciphers to offer, most preferred first
    /// ([`DEFAULT_CIPHERS`] unless set). The server picks one of them, not
    /// always by this order (Samba goes by its own `server smb3 encryption
    /// algorithms` list), so offer a single cipher to be sure of getting it. SMB 3.0 and 3.0.2 always use
    /// AES-128-CCM. An empty list is refused. To put 128-bit keys first:
    ///
    /// ```
    /// use smbkit::{Cipher, SmbProtocolFactory};
    ///
    /// let f = SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
    ///     .ciphers(&[Cipher::Aes128Gcm, Cipher::Aes256Gcm, Cipher::Aes128Ccm])?;
    /// # Ok::<(), smbkit::Error>(())
    /// ```
    pub fn ciphers(mut self, ciphers: &[Cipher]) -> Result<Self, Error> {
        if ciphers.is_empty() {
            return Err(InvalidArgument::NoCiphers.into());
        }
        let mut list: Vec<Cipher> = Vec::with_capacity(ciphers.len());
        for &c in ciphers {
            if !list.contains(&c) {
                list.push(c);
            }
        }
        self.ciphers = list;
        Ok(self)
    }

    /// The default time limit for operations on the connection (30 s
    /// unless set; echo keeps its own 10 s default unless this is set).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// How long the server may send nothing at all while it owes answers
    /// before the connection is declared dead ([`DEFAULT_DEAD_PEER`]
    /// unless set; `None`: never). A dead connection fails every waiting
    /// and later operation with [`Error::NotConnected`] at once, instead of
    /// each waiting out its own time limit. A server that is merely slow is
    /// not dead: any bytes it sends count, and a request it has
    /// acknowledged with an interim response may take as long as it needs.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), smbkit::Error> {
    /// use std::time::Duration;
    /// use smbkit::SmbProtocolFactory;
    ///
    /// // A flaky VPN: give up on a silent server after 10 s, and check an
    /// // idle connection every 20 s.
    /// let conn = SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
    ///     .dead_peer_timeout(Some(Duration::from_secs(10)))
    ///     .keepalive(Some(Duration::from_secs(20)))
    ///     .connect("192.0.2.10:139")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn dead_peer_timeout(mut self, t: Option<Duration>) -> Self {
        self.liveness.dead_after = t;
        self
    }

    /// How long a connection may exchange nothing before it sends an ECHO
    /// of its own ([`DEFAULT_KEEPALIVE`] unless set; `None`: never). This
    /// keeps NAT and firewall state alive on a connection held open for
    /// hours, and notices a server that went away while the connection was
    /// idle (an unanswered ECHO makes the connection dead after
    /// [`SmbProtocolFactory::dead_peer_timeout`]).
    pub fn keepalive(mut self, interval: Option<Duration>) -> Self {
        self.liveness.keepalive = interval;
        self
    }

    /// Sizes smbkit otherwise chooses itself (see [`Tuning`]). A value
    /// below its least is refused with [`Error::InvalidArgument`].
    pub fn tuning(mut self, tuning: Tuning) -> Result<Self, Error> {
        tuning.check()?;
        self.tuning = tuning;
        Ok(self)
    }

    /// Reconnects a lost connection (off unless set). With a policy, a
    /// connection that is cut, reset or declared dead is established
    /// again (TCP, NEGOTIATE with the same ClientGuid, SESSION_SETUP with
    /// the factory's password or its callback, the trees in use), at most
    /// `policy.attempts` times `policy.first_delay` apart (doubling up to
    /// `policy.max_delay`) and for no longer than `policy.give_up_after`.
    ///
    /// Files are then opened durable over SMB 2/3 (MS-SMB2 durable handles
    /// v2 with a lease on 3.x, v1 with a lease or batch oplock on 2.x), so
    /// that an open [`crate::RemoteFile`] and a running
    /// [`crate::Connection::retrieve_file`] or
    /// [`crate::Connection::store_file`] take their handle back and go on
    /// where they were, with no byte lost or written twice. What cannot be
    /// resumed (SMB1, a server that granted no durable handle or refuses
    /// it back) fails with [`Error::NotResumable`]; other operations
    /// that were waiting when the connection was lost fail with
    /// [`Error::NotConnected`], and later ones run on the new connection.
    /// [`crate::Connection::events`] tells what happens; it is also logged
    /// with `tracing`. Connections made with
    /// [`SmbProtocolFactory::connect_stream`] cannot be reconnected.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), smbkit::Error> {
    /// use smbkit::{ReconnectPolicy, SmbProtocolFactory};
    ///
    /// let conn = SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
    ///     .reconnect(Some(ReconnectPolicy::default()))
    ///     .connect("192.0.2.10:445")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn reconnect(mut self, policy: Option<ReconnectPolicy>) -> Self {
        self.reconnect = policy;
        self
    }

    /// Whether to log on with Kerberos (SPNEGO/Kerberos, MS-KILE) instead of
    /// NTLM; [`Kerberos::Off`](crate::Kerberos::Off) by default.
    ///
    /// The credentials, in this order: a keytab set with
    /// [`kerberos_keytab`](Self::kerberos_keytab) (for the user name); a
    /// credential cache set with [`kerberos_ccache`](Self::kerberos_ccache);
    /// the password, if not empty (the client asks the KDC for a
    /// ticket-granting ticket); otherwise the cache `kinit` fills
    /// (`KRB5CCNAME`, krb5.conf's `default_ccache_name`, `/tmp/krb5cc_<uid>`).
    /// The user name may carry the realm (`alice@EXAMPLE.COM`); otherwise
    /// [`kerberos_realm`](Self::kerberos_realm), krb5.conf's `default_realm`
    /// or the domain (upper-cased) is the realm. The KDCs are those set with
    /// [`kdc`](Self::kdc), or krb5.conf's (`KRB5_CONFIG` or `/etc/krb5.conf`;
    /// DNS SRV records are not looked up). The ticket is for
    /// `cifs/<host>`, the host being [`kerberos_host`](Self::kerberos_host) or
    /// the server's NetBIOS name. The session key of the ticket's AP exchange
    /// signs and encrypts the session, SMB1 included; the server's AP-REP is
    /// checked (mutual authentication). The service ticket is kept for
    /// reconnections until a minute before it expires.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), smbkit::Error> {
    /// use smbkit::{Kerberos, SmbProtocolFactory};
    ///
    /// // After `kinit alice@EXAMPLE.COM`:
    /// let conn = SmbProtocolFactory::new("", "", "MYPC", "FILES")?
    ///     .kerberos(Kerberos::Required)
    ///     .kerberos_host("files.example.com")
    ///     .direct_tcp(true)
    ///     .connect("files.example.com:445")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn kerberos(mut self, mode: crate::Kerberos) -> Self {
        self.kerberos.mode = mode;
        self
    }

    /// Reads the Kerberos tickets from this credential cache file (MIT's
    /// `FILE:` format) instead of the default one.
    pub fn kerberos_ccache(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.kerberos.ccache = Some(path.into());
        self
    }

    /// Logs on with the user's key from this keytab file instead of a
    /// password.
    pub fn kerberos_keytab(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.kerberos.keytab = Some(path.into());
        self
    }

    /// The Kerberos realm of the user and the server (see
    /// [`kerberos`](Self::kerberos) for the default).
    pub fn kerberos_realm(mut self, realm: impl Into<String>) -> Self {
        self.kerberos.realm = Some(realm.into());
        self
    }

    /// The host name of the service principal `cifs/<host>` (by default the
    /// server's NetBIOS name, lower-cased). Use the name the server is
    /// registered under in the directory.
    pub fn kerberos_host(mut self, host: impl Into<String>) -> Self {
        self.kerberos.service_host = Some(host.into());
        self
    }

    /// A KDC (`host:port`, port 88 if omitted) to use instead of krb5.conf's;
    /// call again to add more, tried in order.
    pub fn kdc(mut self, address: impl Into<String>) -> Self {
        let a: String = address.into();
        let a = if a.contains(':') {
            a
        } else {
            format!("{a}:88")
        };
        self.kerberos.kdcs.push(a);
        self
    }

    /// The `krb5.conf` to read instead of `KRB5_CONFIG` or `/etc/krb5.conf`.
    pub fn krb5_conf(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.kerberos.krb5_conf = Some(path.into());
        self
    }

    /// Connects to `addr` whenever a DFS referral names the server `host`
    /// (compared without regard to case), instead of looking the name up:
    /// for namespaces whose servers are named in a DNS this machine does not
    /// use, as curl's `--resolve` does. Call again for more hosts.
    ///
    /// ```
    /// use smbkit::SmbProtocolFactory;
    ///
    /// let f = SmbProtocolFactory::new("alice", "secret", "MYPC", "DC1")?
    ///     .resolve("dc1.example.com", "192.0.2.10:445".parse().unwrap());
    /// # Ok::<(), smbkit::Error>(())
    /// ```
    pub fn resolve(mut self, host: impl Into<String>, addr: std::net::SocketAddr) -> Self {
        self.resolve.push((host.into(), addr));
        self
    }

    /// Time limit for connecting, negotiating and authenticating (30 s by
    /// default).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
}
