//! [`SmbUrl`]: `smb://` URLs and UNC paths naming a server, a share and a
//! path in it, and [`SmbProtocolFactory::from_url`].

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use zeroize::{Zeroize, Zeroizing};

use crate::error::Error;
use crate::factory::SmbProtocolFactory;

/// How an [`SmbUrl`] was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlForm {
    /// `smb://[domain;]user[:password]@host[:port]/share/path`.
    Url,
    /// `\\host\share\path` or `//host/share/path` (no user, password or
    /// port).
    Unc,
}

/// The part of a URL a percent-escape error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UrlPart {
    /// The domain, before `;` in `smb://domain;user@host`.
    Domain,
    /// The user name.
    User,
    /// The password, after `:` in `smb://user:password@host`.
    Password,
    /// The share name.
    Share,
    /// The path inside the share.
    Path,
}

impl fmt::Display for UrlPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlPart::Domain => "domain",
            UrlPart::User => "user name",
            UrlPart::Password => "password",
            UrlPart::Share => "share name",
            UrlPart::Path => "path",
        })
    }
}

/// Why a text is not an [`SmbUrl`].
///
/// Messages name the offending part of the text; they never repeat a
/// password, nor text that may be one.
///
/// ```
/// use smbkit::{SmbUrl, UrlError};
///
/// let e = "smb://alice@fileserver:44five/docs".parse::<SmbUrl>().unwrap_err();
/// assert_eq!(e, UrlError::BadPort("44five".into()));
/// assert_eq!(e.to_string(), "'44five' is not a port number (1 to 65535)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Neither `smb://…` nor a UNC path (`\\host\share`, `//host/share`).
    /// Holds the text, with anything that may be a password replaced by `…`.
    #[error("'{0}' is neither an smb:// URL nor a UNC path (\\\\host\\share or //host/share)")]
    NotSmb(String),
    /// No host between `smb://` (or `\\`, `//`) and the port or share.
    #[error("the URL names no host")]
    NoHost,
    /// The host holds a character no host name or address may hold
    /// (a space, `%`, `@`, `[`, `]`, `\`, `?`, `#`, or `:` in a UNC path).
    #[error("'{0}' is not a host name or address")]
    BadHost(String),
    /// An IPv6 address written without brackets in an `smb://` URL.
    #[error(
        "'{0}' looks like an IPv6 address; in a URL it goes in brackets, as smb://[::1]/share"
    )]
    UnbracketedIpv6(String),
    /// A `[` with no `]` closing the IPv6 address.
    #[error("the IPv6 address is missing its closing ']'")]
    UnterminatedIpv6,
    /// What the brackets enclose is not an IPv6 address.
    #[error("'[{0}]' is not an IPv6 address")]
    BadIpv6(String),
    /// Something other than `:port` follows the `]` of an IPv6 address.
    #[error("'{0}' after the IPv6 address is not ':port'")]
    JunkAfterIpv6(String),
    /// The port is not a number from 1 to 65535.
    #[error("'{0}' is not a port number (1 to 65535)")]
    BadPort(String),
    /// A `%` not followed by two hex digits.
    #[error("the {part} holds a '%' that is not followed by two hex digits (a '%' itself is written %25)")]
    BadEscape {
        /// Where the `%` is.
        part: UrlPart,
    },
    /// The percent-escapes of a part decode to bytes that are not UTF-8.
    #[error("the percent-escapes in the {part} do not decode to UTF-8")]
    NotUtf8 {
        /// Which part.
        part: UrlPart,
    },
    /// A path after an empty share name, as in `smb://host//path`.
    #[error("the URL names a path but no share (the share name between the separators is empty)")]
    EmptyShare,
}

impl From<UrlError> for Error {
    /// A [`UrlError`] as [`Error::InvalidArgument`], so that `?` takes it
    /// in functions that return [`Error`].
    fn from(e: UrlError) -> Error {
        Error::InvalidArgument(crate::InvalidArgument::Url(e))
    }
}

/// A parsed `smb://` URL or UNC path: the server, who logs in, and the
/// share and path.
///
/// Three forms are read:
///
/// * `smb://[domain;]user[:password]@host[:port]/share/path`, with the
///   scheme in any case, an IPv6 address in brackets
///   (`smb://[::1]:445/share`) and percent-escapes (`%20`) in the domain,
///   user, password, share and path. The escapes are decoded when parsed
///   and written back when printed; a `%` not followed by two hex digits is
///   an error, and so are escapes that do not decode to UTF-8. There is no
///   query or fragment: `?` and `#` are parts of names.
/// * `\\host\share\path` and `//host/share/path` (UNC paths), taken as
///   written: no user, password, port or percent-escapes.
///
/// Every part but the host may be left out: `smb://host` names only a
/// server. The path is `/`-separated inside the share ([`SmbUrl::path`]);
/// whether it was written with a trailing separator is kept apart
/// ([`SmbUrl::has_trailing_slash`]).
///
/// Printing ([`fmt::Display`]) writes the `smb://` form, whichever form
/// was parsed, and leaves the password out, so that the text is safe for
/// logs and parses back to the same URL without its password;
/// [`SmbUrl::to_string_with_password`] writes it in. [`fmt::Debug`] shows
/// `"***"` for a password.
///
/// ```
/// use smbkit::{SmbUrl, UrlForm};
///
/// let url: SmbUrl = "smb://WORKGROUP;alice:s%40cret@fileserver:1445/my%20docs/2024/report.pdf"
///     .parse()?;
/// assert_eq!(url.form(), UrlForm::Url);
/// assert_eq!(url.domain(), Some("WORKGROUP"));
/// assert_eq!(url.user(), Some("alice"));
/// assert_eq!(url.password(), Some("s@cret"));
/// assert_eq!(url.host(), "fileserver");
/// assert_eq!(url.port(), Some(1445));
/// assert_eq!(url.share(), Some("my docs"));
/// assert_eq!(url.path(), "2024/report.pdf");
/// assert_eq!(
///     url.to_string(),
///     "smb://WORKGROUP;alice@fileserver:1445/my%20docs/2024/report.pdf"
/// );
///
/// let unc: SmbUrl = r"\\fileserver\docs\2024\".parse()?;
/// assert_eq!((unc.share(), unc.path()), (Some("docs"), "2024"));
/// assert!(unc.has_trailing_slash());
/// assert_eq!(unc.to_string(), "smb://fileserver/docs/2024/");
/// # Ok::<(), smbkit::UrlError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SmbUrl {
    form: UrlForm,
    domain: Option<String>,
    user: Option<String>,
    password: Option<Zeroizing<String>>,
    host: String,
    port: Option<u16>,
    share: Option<String>,
    path: String,
    trailing_slash: bool,
}

impl SmbUrl {
    /// The port of direct TCP (SMB over TCP without NetBIOS), used when a
    /// URL names no port.
    pub const DEFAULT_PORT: u16 = 445;
    /// The port of the NetBIOS session service; a URL naming it is
    /// connected to with NetBIOS framing ([`SmbUrl::direct_tcp`]).
    pub const NETBIOS_PORT: u16 = 139;

    /// Parses `smb://[domain;]user[:password]@host[:port]/share/path`,
    /// `\\host\share\path` or `//host/share/path`; the same as
    /// [`str::parse`].
    ///
    /// ```
    /// use smbkit::{SmbUrl, UrlError};
    ///
    /// let url = SmbUrl::parse("smb://[fe80::1]/public")?;
    /// assert_eq!(url.host(), "fe80::1");
    /// assert_eq!(SmbUrl::parse("http://fileserver/docs").unwrap_err(),
    ///            UrlError::NotSmb("http://fileserver/docs".into()));
    /// # Ok::<(), UrlError>(())
    /// ```
    pub fn parse(s: &str) -> Result<SmbUrl, UrlError> {
        if let Some(rest) = strip_prefix_ci(s, "smb://") {
            parse_url(rest)
        } else if let Some(rest) = s.strip_prefix("\\\\").or_else(|| s.strip_prefix("//")) {
            parse_unc(rest)
        } else {
            Err(UrlError::NotSmb(redact(s)))
        }
    }

    /// How the URL was written.
    pub fn form(&self) -> UrlForm {
        self.form
    }

    /// The domain (workgroup), from `smb://domain;user@…`; `None` when
    /// not given or empty.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The user name; `None` when not given or empty (an anonymous
    /// session, for [`SmbProtocolFactory::from_url`]).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password, from `smb://user:password@…`; `Some("")` for
    /// `smb://user:@…`. It is kept in memory that is zeroed when the URL
    /// is dropped.
    pub fn password(&self) -> Option<&str> {
        self.password.as_ref().map(|p| p.as_str())
    }

    /// The server's host name or address; an IPv6 address without its
    /// brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, if the URL names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The share, if the URL names one.
    pub fn share(&self) -> Option<&str> {
        self.share.as_deref()
    }

    /// The path inside the share, decoded: `/`-separated, with no leading
    /// or trailing separator, no empty or `.` components (`\` separates
    /// too), and empty for the share's root. `..` is kept as written.
    ///
    /// ```
    /// use smbkit::SmbUrl;
    ///
    /// let url = SmbUrl::parse("smb://host/share//a/./b%5Cc/")?;
    /// assert_eq!(url.path(), "a/b/c");
    /// assert!(url.has_trailing_slash());
    /// # Ok::<(), smbkit::UrlError>(())
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// True when what follows the share name ends with a separator:
    /// `smb://host/share/dir/` and `smb://host/share/`, but not
    /// `smb://host/share/dir` nor `smb://host/share`. A trailing separator
    /// says that the path names a folder; it is not part of
    /// [`SmbUrl::path`]. Always false when there is no share.
    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The same URL with `password` (`None`: without one).
    ///
    /// ```
    /// use smbkit::SmbUrl;
    ///
    /// let url = SmbUrl::parse("smb://alice@fileserver/docs")?.with_password(Some("s3cret"));
    /// assert_eq!(url.password(), Some("s3cret"));
    /// # Ok::<(), smbkit::UrlError>(())
    /// ```
    pub fn with_password(mut self, password: Option<&str>) -> SmbUrl {
        self.password = password.map(|p| Zeroizing::new(p.to_string()));
        self
    }

    /// The port to connect to: the URL's, else [`SmbUrl::DEFAULT_PORT`]
    /// (445).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(Self::DEFAULT_PORT)
    }

    /// Where to connect: the host and [`SmbUrl::port_or_default`], in the
    /// shape [`SmbProtocolFactory::connect`] takes.
    ///
    /// ```
    /// use smbkit::SmbUrl;
    ///
    /// assert_eq!(SmbUrl::parse("smb://[::1]/docs")?.host_port(), ("::1", 445));
    /// assert_eq!(SmbUrl::parse("//nas/docs")?.host_port(), ("nas", 445));
    /// assert_eq!(SmbUrl::parse("smb://nas:139/docs")?.host_port(), ("nas", 139));
    /// # Ok::<(), smbkit::UrlError>(())
    /// ```
    pub fn host_port(&self) -> (&str, u16) {
        (&self.host, self.port_or_default())
    }

    /// Whether to use direct TCP framing: true unless the URL names
    /// [`SmbUrl::NETBIOS_PORT`] (139), which means the NetBIOS session
    /// service.
    pub fn direct_tcp(&self) -> bool {
        self.port != Some(Self::NETBIOS_PORT)
    }

    /// The NetBIOS name to call the server by: the host's first label
    /// upper-cased when the host is a name and that label fits (at most 15
    /// letters, digits, `-` or `_`), else `SERVER` (for an IP address,
    /// say).
    ///
    /// ```
    /// use smbkit::SmbUrl;
    ///
    /// assert_eq!(SmbUrl::parse("smb://fileserver.example.com/x")?.remote_name(), "FILESERVER");
    /// assert_eq!(SmbUrl::parse("smb://192.0.2.10/x")?.remote_name(), "SERVER");
    /// # Ok::<(), smbkit::UrlError>(())
    /// ```
    pub fn remote_name(&self) -> String {
        Self::remote_name_of(&self.host)
    }

    /// The NetBIOS name [`SmbUrl::remote_name`] calls a server `host`:
    /// its first label upper-cased when that is a NetBIOS name (at most 15
    /// letters, digits, `-` or `_`), `SERVER` for an IP address or a name
    /// that does not fit.
    ///
    /// ```
    /// assert_eq!(smbkit::SmbUrl::remote_name_of("nas-01.lan"), "NAS-01");
    /// assert_eq!(smbkit::SmbUrl::remote_name_of("::1"), "SERVER");
    /// ```
    pub fn remote_name_of(host: &str) -> String {
        if host.parse::<IpAddr>().is_err() {
            let label = host.split('.').next().unwrap_or_default();
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

    /// The URL in the `smb://` form with its password, percent-escaped.
    /// Unlike [`fmt::Display`], this writes the password in: keep the text
    /// out of logs and messages.
    ///
    /// ```
    /// use smbkit::SmbUrl;
    ///
    /// let url = SmbUrl::parse("smb://alice:p%3Ass@nas/docs")?;
    /// assert_eq!(url.to_string(), "smb://alice@nas/docs");
    /// assert_eq!(url.to_string_with_password().as_str(), "smb://alice:p%3Ass@nas/docs");
    /// # Ok::<(), smbkit::UrlError>(())
    /// ```
    pub fn to_string_with_password(&self) -> Zeroizing<String> {
        // Room for every part escaped, so that no copy of the password is
        // left behind in a smaller buffer when the text grows.
        let parts = [&self.domain, &self.user, &self.share]
            .iter()
            .map(|p| p.as_ref().map_or(0, String::len))
            .sum::<usize>()
            + self.password.as_ref().map_or(0, |p| p.len())
            + self.path.len();
        let mut s = Zeroizing::new(String::with_capacity(3 * parts + self.host.len() + 32));
        self.write(&mut s, true);
        s
    }

    /// Writes the `smb://` form into `out`.
    fn write(&self, out: &mut String, with_password: bool) {
        out.push_str("smb://");
        let password = self.password.as_ref().filter(|_| with_password);
        if self.domain.is_some() || self.user.is_some() || password.is_some() {
            if let Some(d) = &self.domain {
                encode_into(out, d, USERINFO_KEEP);
                out.push(';');
            }
            if let Some(u) = &self.user {
                encode_into(out, u, USERINFO_KEEP);
            }
            if let Some(p) = password {
                out.push(':');
                encode_into(out, p, USERINFO_KEEP);
            }
            out.push('@');
        }
        if self.host.contains(':') {
            out.push('[');
            out.push_str(&self.host);
            out.push(']');
        } else {
            out.push_str(&self.host);
        }
        if let Some(p) = self.port {
            out.push(':');
            out.push_str(&p.to_string());
        }
        if let Some(share) = &self.share {
            out.push('/');
            encode_into(out, share, PATH_KEEP);
            for seg in self.path.split('/').filter(|s| !s.is_empty()) {
                out.push('/');
                encode_into(out, seg, PATH_KEEP);
            }
            if self.trailing_slash {
                out.push('/');
            }
        }
    }
}

impl fmt::Display for SmbUrl {
    /// Writes the `smb://` form, percent-escaped, without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s, false);
        f.write_str(&s)
    }
}

impl fmt::Debug for SmbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmbUrl")
            .field("form", &self.form)
            .field("domain", &self.domain)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("share", &self.share)
            .field("path", &self.path)
            .field("trailing_slash", &self.trailing_slash)
            .finish()
    }
}

impl FromStr for SmbUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<SmbUrl, UrlError> {
        SmbUrl::parse(s)
    }
}

impl TryFrom<&str> for SmbUrl {
    type Error = UrlError;

    fn try_from(s: &str) -> Result<SmbUrl, UrlError> {
        SmbUrl::parse(s)
    }
}

impl SmbProtocolFactory {
    /// Settings for a connection to the server `url` names, calling
    /// ourselves `my_name`: the user, password and domain from the URL (no
    /// user: an anonymous session), the server called by
    /// [`SmbUrl::remote_name`], and NetBIOS framing for port 139, direct
    /// TCP otherwise ([`SmbUrl::direct_tcp`]). Connect to
    /// [`SmbUrl::host_port`] (port 445 unless the URL names one); every
    /// setting can still be changed before that.
    ///
    /// Fails with [`Error::InvalidArgument`] when `my_name` is not a
    /// NetBIOS name (see [`SmbProtocolFactory::new`]).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), smbkit::Error> {
    /// use smbkit::{SmbProtocolFactory, SmbUrl};
    ///
    /// let url: SmbUrl = "smb://WORKGROUP;alice@fileserver.example/docs/reports".parse()?;
    /// let password = std::env::var("SMB_PASSWORD").unwrap_or_default();
    /// let url = url.with_password(Some(&password));
    /// let conn = SmbProtocolFactory::from_url(&url, "MYPC")?
    ///     .connect(url.host_port())
    ///     .await?;
    /// if let Some(share) = url.share() {
    ///     for f in conn.list_path(share, url.path()).await? {
    ///         println!("{}", f.filename);
    ///     }
    /// }
    /// conn.close().await?;
    /// # Ok(()) }
    /// ```
    pub fn from_url(url: &SmbUrl, my_name: &str) -> Result<SmbProtocolFactory, Error> {
        let factory = SmbProtocolFactory::new(
            url.user().unwrap_or_default(),
            url.password().unwrap_or_default(),
            my_name,
            &url.remote_name(),
        )?
        .direct_tcp(url.direct_tcp());
        Ok(match url.domain() {
            Some(d) => factory.domain(d),
            None => factory,
        })
    }
}

/// Characters written as they are in the domain, user and password
/// (besides letters, digits and `-._~`).
const USERINFO_KEEP: &[u8] = b"!$&'()*+,=";
/// Characters written as they are in the share and path segments.
const PATH_KEEP: &[u8] = b"!$&'()*+,=;:@";

fn encode_into(out: &mut String, s: &str, keep: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

/// Decodes the percent-escapes of `s`, found in `part`.
fn decode(s: &str, part: UrlPart) -> Result<String, UrlError> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => {
                    out.zeroize();
                    return Err(UrlError::BadEscape { part });
                }
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|e| {
        e.into_bytes().zeroize();
        UrlError::NotUtf8 { part }
    })
}

/// Decodes an optional part, keeping it only when it is not empty.
fn decode_nonempty(s: &str, part: UrlPart) -> Result<Option<String>, UrlError> {
    decode(s, part).map(|d| Some(d).filter(|d| !d.is_empty()))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// `s` with anything that may be a user's password (between `//` and the
/// last `@` before the next separator, or the start and that `@`) replaced
/// by `…`.
fn redact(s: &str) -> String {
    let start = s.find("://").map_or(0, |i| i + 3);
    let end = s[start..].find(['/', '\\']).map_or(s.len(), |i| start + i);
    match s[start..end].rfind('@') {
        Some(at) => format!("{}…{}", &s[..start], &s[start + at..]),
        None => s.to_string(),
    }
}

/// A `/`-separated path with no empty or `.` components (`\` separates
/// too).
fn normalize(path: &str) -> String {
    path.split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Refuses a host that no name or address looks like.
fn check_host(host: &str, shown: impl Fn(&str) -> String) -> Result<(), UrlError> {
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "%@[]\\/?#:".contains(c))
    {
        return Err(UrlError::BadHost(shown(host)));
    }
    Ok(())
}

/// The share and path from what follows the host: `share[/path]`, or
/// `None` when nothing followed it. `decode` turns a raw segment into its
/// text.
fn share_and_path(
    rest: Option<&str>,
    decode: impl Fn(&str, UrlPart) -> Result<String, UrlError>,
) -> Result<(Option<String>, String, bool), UrlError> {
    let Some(rest) = rest else {
        return Ok((None, String::new(), false));
    };
    let (share_raw, path_raw) = match rest.find(['/', '\\']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let share = decode(share_raw, UrlPart::Share)?;
    let Some(path_raw) = path_raw else {
        return Ok((Some(share).filter(|s| !s.is_empty()), String::new(), false));
    };
    if share.is_empty() {
        return Err(UrlError::EmptyShare);
    }
    let mut decoded = Vec::new();
    for seg in path_raw.split(['/', '\\']) {
        decoded.push(decode(seg, UrlPart::Path)?);
    }
    let joined = decoded.join("/");
    let trailing = joined.is_empty() || joined.ends_with(['/', '\\']);
    Ok((Some(share), normalize(&joined), trailing))
}

fn parse_url(rest: &str) -> Result<SmbUrl, UrlError> {
    let (authority, after) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    // A password holding a raw `/` ends the authority early and leaves
    // the rest of it before an `@` in the first segment: never repeat
    // what may be part of it.
    let mangled = userinfo.is_none()
        && after.is_some_and(|a| a.split('/').next().unwrap_or_default().contains('@'));
    let shown = |t: &str| {
        if mangled {
            "…".to_string()
        } else {
            t.to_string()
        }
    };

    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let end = h.find(']').ok_or(UrlError::UnterminatedIpv6)?;
        let inner = &h[..end];
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(UrlError::BadIpv6(shown(inner)));
        }
        let port = match &h[end + 1..] {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| UrlError::JunkAfterIpv6(shown(p)))?,
            ),
        };
        (inner, port)
    } else {
        match hostport.matches(':').count() {
            0 => (hostport, None),
            1 => {
                let i = hostport.find(':').unwrap_or_default();
                (&hostport[..i], Some(&hostport[i + 1..]))
            }
            _ => return Err(UrlError::UnbracketedIpv6(shown(hostport))),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(UrlError::BadPort(shown(p))),
        },
    };
    if !hostport.starts_with('[') {
        check_host(host, shown)?;
    }

    let (domain, user, password) = match userinfo {
        None => (None, None, None),
        Some(u) => {
            let (names, password) = match u.find(':') {
                Some(i) => (&u[..i], Some(&u[i + 1..])),
                None => (u, None),
            };
            let (domain, user) = match names.find(';') {
                Some(i) => (
                    decode_nonempty(&names[..i], UrlPart::Domain)?,
                    &names[i + 1..],
                ),
                None => (None, names),
            };
            let user = decode_nonempty(user, UrlPart::User)?;
            let password = match password {
                Some(p) => Some(Zeroizing::new(decode(p, UrlPart::Password)?)),
                None => None,
            };
            (domain, user, password)
        }
    };
    let (share, path, trailing_slash) = share_and_path(after, decode)?;
    Ok(SmbUrl {
        form: UrlForm::Url,
        domain,
        user,
        password,
        host: host.to_string(),
        port,
        share,
        path,
        trailing_slash,
    })
}

fn parse_unc(rest: &str) -> Result<SmbUrl, UrlError> {
    let (host, after) = match rest.find(['/', '\\']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) if inner.parse::<Ipv6Addr>().is_ok() => inner,
        Some(inner) => return Err(UrlError::BadIpv6(inner.to_string())),
        None if host.contains(':') && host.parse::<Ipv6Addr>().is_ok() => host,
        None => {
            check_host(host, str::to_string)?;
            host
        }
    };
    let (share, path, trailing_slash) = share_and_path(after, |s, _| Ok(s.to_string()))?;
    Ok(SmbUrl {
        form: UrlForm::Unc,
        domain: None,
        user: None,
        password: None,
        host: host.to_string(),
        port: None,
        share,
        path,
        trailing_slash,
    })
}
