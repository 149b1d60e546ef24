//! Targets: `smb://[domain;]user@host[:port]/share/path` (the reference's
//! SMBHandler URL form) and `\\host\share\path` (also `//host/share/path`),
//! parsed by [`smbkit::SmbUrl`], and the remote-path helpers the commands
//! share.

use std::borrow::Cow;
use std::fmt;

use smbkit::{SmbUrl, UrlError, UrlForm, UrlPart};

use crate::error::Failure;

/// How a target was written; it decides who logs in when no user is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `smb://…`: no user means an anonymous session (as SMBHandler does).
    Url,
    /// `\\host\share` or `//host/share`: no user means `$USER` (as smbclient does).
    Unc,
}

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// How the target was written.
    pub form: Form,
    /// The domain (workgroup) from `smb://domain;user@…`, if given.
    pub domain: Option<String>,
    /// The user from `smb://user@…`, if given.
    pub user: Option<String>,
    /// The server's host name or address (IPv6 without brackets).
    pub host: String,
    /// The port from the URL, if given.
    pub port: Option<u16>,
    /// The share, if given.
    pub share: Option<String>,
    /// The path inside the share: `/`-separated, without leading or
    /// trailing separators (empty for the share's root).
    pub path: String,
    /// True when the path was written with a trailing separator
    /// (`…/folder/`): the target must be a folder.
    pub trailing_slash: bool,
}

impl Target {
    /// Parses `smb://[domain;]user@host[:port]/share/path`,
    /// `\\host\share\path` or `//host/share/path`; a wrong target, or
    /// one with a password in it, is a usage error.
    ///
    /// Unlike [`SmbUrl`], a `%` in an `smb://` target that does not start
    /// a percent-escape is taken as it is, so that names such as `100%`
    /// can be typed without escaping.
    pub fn parse(s: &str) -> Result<Target, Failure> {
        let text = if s.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("smb://")) {
            escape_stray_percents(s)
        } else {
            Cow::Borrowed(s)
        };
        let url = SmbUrl::parse(&text).map_err(|e| usage(s, e))?;
        if url.password().is_some() {
            return Err(password_given(s));
        }
        Ok(Target::from(&url))
    }

    /// The server part as a URL, `smb://[domain;]user@host[:port]`, for
    /// suggestions in messages.
    pub fn server_url(&self) -> String {
        let mut s = String::from("smb://");
        if let Some(u) = &self.user {
            if let Some(d) = &self.domain {
                s.push_str(d);
                s.push(';');
            }
            s.push_str(u);
            s.push('@');
        }
        if self.host.contains(':') {
            s.push_str(&format!("[{}]", self.host));
        } else {
            s.push_str(&self.host);
        }
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s
    }

    /// The URL of `path` on this target's share, for suggestions.
    pub fn url_of(&self, path: &str) -> String {
        let mut s = self.server_url();
        if let Some(share) = &self.share {
            s.push('/');
            s.push_str(share);
            if !path.is_empty() {
                s.push('/');
                s.push_str(path);
            }
        }
        s
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url_of(&self.path))
    }
}

impl From<&SmbUrl> for Target {
    fn from(url: &SmbUrl) -> Target {
        Target {
            form: match url.form() {
                UrlForm::Url => Form::Url,
                UrlForm::Unc => Form::Unc,
            },
            domain: url.domain().map(str::to_string),
            user: url.user().map(str::to_string),
            host: url.host().to_string(),
            port: url.port(),
            share: url.share().map(str::to_string),
            path: url.path().to_string(),
            trailing_slash: url.has_trailing_slash(),
        }
    }
}

/// The usage error for a target `s` with a password in it.
fn password_given(s: &str) -> Failure {
    Failure::usage(format!(
        "'{}' puts a password in the URL; smbkit never takes passwords on the command line: \
         set SMBKIT_PASSWORD, use -A FILE, or let smbkit ask",
        redact(s)
    ))
}

/// The usage error for a target `s` that [`SmbUrl`] refused with `e`.
fn usage(s: &str, e: UrlError) -> Failure {
    match e {
        UrlError::BadEscape {
            part: UrlPart::Password,
        }
        | UrlError::NotUtf8 {
            part: UrlPart::Password,
        } => password_given(s),
        UrlError::NotSmb(_) => Failure::usage(format!(
            "'{}' is not a remote target; write smb://[domain;]user@host[:port]/share/path or \\\\host\\share\\path",
            redact(s)
        )),
        UrlError::NoHost => Failure::usage(format!("'{}' names no host", redact(s))),
        e => Failure::usage(e.to_string()),
    }
}

/// The target with anything between `//` and `@` replaced, so that a
/// password typed into it is not repeated in messages.
fn redact(url: &str) -> String {
    match (url.find("//"), url.rfind('@')) {
        (Some(a), Some(b)) if a + 2 <= b => format!("{}//…{}", &url[..a], &url[b..]),
        _ => url.to_string(),
    }
}

/// `s` with each `%` that does not start a percent-escape (two hex digits
/// follow it) written as `%25`.
fn escape_stray_percents(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let stray = |i: usize| {
        b[i] == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    };
    if !(0..b.len()).any(stray) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        out.push(c);
        if stray(i) {
            out.push_str("25");
        }
    }
    Cow::Owned(out)
}

/// A remote path with `/` separators, no empty or `.` components and no
/// leading or trailing separator.
pub fn normalize(path: &str) -> String {
    path.split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// `dir/name`, or `name` at the root.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Splits a normalized path into its folder and last component.
pub fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// True when the name holds a `*` or `?` wildcard.
pub fn has_wildcard(name: &str) -> bool {
    name.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn url_forms() {
        let t = Target::parse("smb://DOM;alice@host:1445/share/a/b.txt").unwrap();
        assert_eq!(t.form, Form::Url);
        assert_eq!(t.domain.as_deref(), Some("DOM"));
        assert_eq!(t.user.as_deref(), Some("alice"));
        assert_eq!(t.host, "host");
        assert_eq!(t.port, Some(1445));
        assert_eq!(t.share.as_deref(), Some("share"));
        assert_eq!(t.path, "a/b.txt");
        assert!(!t.trailing_slash);
        let t = Target::parse("smb://bob@[::1]:445").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.port, Some(445));
        assert_eq!(t.share, None);
        assert_eq!(t.server_url(), "smb://bob@[::1]:445");
        let t = Target::parse("SMB://host/share/dir/").unwrap();
        assert_eq!(t.user, None);
        assert_eq!(t.path, "dir");
        assert!(t.trailing_slash);
        let t = Target::parse("\\\\srv\\docs\\x\\y").unwrap();
        assert_eq!(t.form, Form::Unc);
        assert_eq!(
            (t.host.as_str(), t.share.as_deref(), t.path.as_str()),
            ("srv", Some("docs"), "x/y")
        );
        let t = Target::parse("//srv/docs/x/./y/").unwrap();
        assert_eq!(t.path, "x/y");
        let t = Target::parse("smb://DOM;bob@[::1]/share/").unwrap();
        assert_eq!(t.domain.as_deref(), Some("DOM"));
        assert_eq!((t.share.as_deref(), t.path.as_str()), (Some("share"), ""));
        assert!(t.trailing_slash);
    }

    #[test]
    fn wrong_targets_are_usage_errors() {
        let cases = [
            (
                "host/share",
                "'host/share' is not a remote target; write smb://[domain;]user@host[:port]/share/path or \\\\host\\share\\path",
            ),
            ("smb:///share", "'smb:///share' names no host"),
            ("\\\\", "'\\\\' names no host"),
            ("smb://u@h:notaport", "'notaport' is not a port number (1 to 65535)"),
            ("smb://[::1/s", "the IPv6 address is missing its closing ']'"),
            ("smb://[::1]x/s", "'x' after the IPv6 address is not ':port'"),
            ("smb://::1/s", "'::1' looks like an IPv6 address"),
            ("smb://h//x", "names a path but no share"),
            ("smb://h/s/%FF", "do not decode to UTF-8"),
        ];
        for (s, message) in cases {
            let e = Target::parse(s).unwrap_err();
            assert_eq!(e.kind, Kind::Usage, "{s}");
            assert!(e.message.contains(message), "{s}: {}", e.message);
        }
        // A password in a wrong target is not repeated.
        for s in ["http://alice:secret@h/s", "smb://alice:secret@/s"] {
            let e = Target::parse(s).unwrap_err();
            assert!(!e.message.contains("secret"), "{s}: {}", e.message);
        }
    }

    #[test]
    fn percent_escapes_and_passwords() {
        let t = Target::parse("smb://al%20ice@h/my%20share/caf%C3%A9/100%").unwrap();
        assert_eq!(t.user.as_deref(), Some("al ice"));
        assert_eq!(t.share.as_deref(), Some("my share"));
        assert_eq!(t.path, "café/100%");
        // A `%` that starts no escape is taken as it is, anywhere.
        let t = Target::parse("smb://a%b@h/50%off/%4/x%2").unwrap();
        assert_eq!(t.user.as_deref(), Some("a%b"));
        assert_eq!(
            (t.share.as_deref(), t.path.as_str()),
            (Some("50%off"), "%4/x%2")
        );
        let t = Target::parse("smb://h/s/%41%").unwrap();
        assert_eq!(t.path, "A%");
        for s in [
            "smb://alice:secret@h/share",
            "smb://alice:@h/share",
            "smb://DOM;alice:se%cret@h/share",
            "smb://alice:%FFsecret@h/share",
        ] {
            let e = Target::parse(s).unwrap_err();
            assert_eq!(e.kind, Kind::Usage);
            assert!(!e.message.contains("secret"), "{}", e.message);
            assert!(!e.message.contains("se%cret"), "{}", e.message);
            assert!(
                e.message.contains("puts a password in the URL"),
                "{}",
                e.message
            );
            assert!(e.message.contains("SMBKIT_PASSWORD"), "{}", e.message);
        }
    }

    #[test]
    fn path_helpers() {
        assert_eq!(normalize("/a//b/./c/"), "a/b/c");
        assert_eq!(normalize("\\a\\b"), "a/b");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "x"), "a/x");
        assert_eq!(split_last("a/b/c"), ("a/b", "c"));
        assert_eq!(split_last("c"), ("", "c"));
        assert!(has_wildcard("*.txt"));
        assert!(!has_wildcard("a.txt"));
    }
}
