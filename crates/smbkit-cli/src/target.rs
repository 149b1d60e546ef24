//! Targets: `smb://[domain;]user@host[:port]/share/path` (the reference's
//! SMBHandler URL form) and `\\host\share\path` (also `//host/share/path`),
//! and the remote-path helpers the commands share.

use std::fmt;

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
    /// `\\host\share\path` or `//host/share/path`.
    pub fn parse(s: &str) -> Result<Target, String> {
        if let Some(rest) = strip_prefix_ci(s, "smb://") {
            Self::parse_url(s, rest)
        } else if let Some(rest) = s.strip_prefix("\\\\").or_else(|| s.strip_prefix("//")) {
            let mut parts = rest.splitn(3, ['\\', '/']);
            let host = parts.next().unwrap_or_default();
            if host.is_empty() {
                return Err(format!("'{s}' names no host"));
            }
            let share = parts.next().filter(|x| !x.is_empty()).map(str::to_string);
            let raw = parts.next().unwrap_or_default();
            Ok(Target {
                form: Form::Unc,
                domain: None,
                user: None,
                host: host.to_string(),
                port: None,
                share,
                path: normalize(raw),
                trailing_slash: raw.ends_with(['/', '\\']),
            })
        } else {
            Err(format!(
                "'{s}' is not a remote target; write smb://[domain;]user@host[:port]/share/path or \\\\host\\share\\path"
            ))
        }
    }

    fn parse_url(whole: &str, rest: &str) -> Result<Target, String> {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (domain, user) = match userinfo {
            None => (None, None),
            Some(u) => {
                if u.contains(':') {
                    return Err(format!(
                        "'{}' puts a password in the URL; smbkit never takes passwords on the command line: \
                         set SMBKIT_PASSWORD, use -A FILE, or let smbkit ask",
                        redact(whole)
                    ));
                }
                match u.find(';') {
                    Some(i) => (Some(decode(&u[..i])), Some(decode(&u[i + 1..]))),
                    None => (None, Some(decode(u))),
                }
            }
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let end = h
                .find(']')
                .ok_or("unterminated IPv6 address in the target")?;
            let port = match &h[end + 1..] {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("'{p}' after the IPv6 address is not ':port'"))?,
                ),
            };
            (&h[..end], port)
        } else {
            match hostport.rfind(':') {
                Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(format!("'{whole}' names no host"));
        }
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("'{p}' is not a port number"))
            })
            .transpose()?;
        let mut parts = path.splitn(2, '/');
        let share = parts
            .next()
            .filter(|x| !x.is_empty())
            .map(decode)
            .filter(|x| !x.is_empty());
        let raw = decode(parts.next().unwrap_or_default());
        Ok(Target {
            form: Form::Url,
            domain: domain.filter(|d| !d.is_empty()),
            user,
            host: host.to_string(),
            port,
            share,
            path: normalize(&raw),
            trailing_slash: raw.ends_with(['/', '\\']),
        })
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

/// The URL with anything between `//` and `@` replaced, so that a password
/// typed into it is not repeated in messages.
fn redact(url: &str) -> String {
    match (url.find("//"), url.rfind('@')) {
        (Some(a), Some(b)) if a + 2 <= b => format!("{}//…{}", &url[..a], &url[b..]),
        _ => url.to_string(),
    }
}

/// Decodes `%XX` escapes; leaves the text as it is when they do not make
/// UTF-8 (a lone `%` stays a `%`).
fn decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
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
        assert!(Target::parse("host/share").is_err());
        assert!(Target::parse("smb://u@h:notaport").is_err());
        assert!(Target::parse("smb:///share").is_err());
    }

    #[test]
    fn percent_escapes_and_passwords() {
        let t = Target::parse("smb://al%20ice@h/my%20share/caf%C3%A9/100%").unwrap();
        assert_eq!(t.user.as_deref(), Some("al ice"));
        assert_eq!(t.share.as_deref(), Some("my share"));
        assert_eq!(t.path, "café/100%");
        let e = Target::parse("smb://alice:secret@h/share").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("SMBKIT_PASSWORD"), "{e}");
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
