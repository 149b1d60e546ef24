//! Targets: `smb://[domain;]user@host[:port]/share/path` (the reference's
//! SMBHandler URL form) and `\\host\share\path`.

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub domain: String,
    pub user: String,
    pub host: String,
    pub port: Option<u16>,
    pub share: Option<String>,
    pub path: String,
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        if let Some(rest) = s.strip_prefix("smb://") {
            Self::parse_url(rest)
        } else if let Some(rest) = s.strip_prefix("\\\\").or_else(|| s.strip_prefix("//")) {
            let mut parts = rest.splitn(3, ['\\', '/']);
            let host = parts.next().unwrap_or_default();
            if host.is_empty() {
                return Err(format!("'{s}' names no host"));
            }
            let share = parts.next().filter(|x| !x.is_empty()).map(str::to_string);
            let path = parts.next().unwrap_or_default().replace('\\', "/");
            Ok(Target {
                domain: String::new(),
                user: std::env::var("USER").unwrap_or_default(),
                host: host.to_string(),
                port: None,
                share,
                path,
            })
        } else {
            Err(format!(
                "'{s}' is not a target; write smb://[domain;]user@host[:port]/share/path or \\\\host\\share\\path"
            ))
        }
    }

    fn parse_url(rest: &str) -> Result<Target, String> {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (&authority[..i], &authority[i + 1..]),
            None => ("", authority),
        };
        let (domain, user) = match userinfo.find(';') {
            Some(i) => (&userinfo[..i], &userinfo[i + 1..]),
            None => ("", userinfo),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let end = h.find(']').ok_or("unterminated IPv6 address")?;
            let port = h[end + 1..].strip_prefix(':');
            (&h[..end], port)
        } else {
            match hostport.rfind(':') {
                Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err("the target names no host".into());
        }
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("'{p}' is not a port number"))
            })
            .transpose()?;
        let mut parts = path.splitn(2, '/');
        let share = parts.next().filter(|x| !x.is_empty()).map(str::to_string);
        Ok(Target {
            domain: domain.to_string(),
            user: user.to_string(),
            host: host.to_string(),
            port,
            share,
            path: parts.next().unwrap_or_default().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let t = Target::parse("smb://DOM;alice@host:1445/share/a/b.txt").unwrap();
        assert_eq!(t.domain, "DOM");
        assert_eq!(t.user, "alice");
        assert_eq!(t.host, "host");
        assert_eq!(t.port, Some(1445));
        assert_eq!(t.share.as_deref(), Some("share"));
        assert_eq!(t.path, "a/b.txt");
        let t = Target::parse("smb://bob@[::1]:445").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.share, None);
        let t = Target::parse("\\\\srv\\docs\\x\\y").unwrap();
        assert_eq!(
            (t.host.as_str(), t.share.as_deref(), t.path.as_str()),
            ("srv", Some("docs"), "x/y")
        );
        assert!(Target::parse("host/share").is_err());
        assert!(Target::parse("smb://u@h:notaport").is_err());
    }
}
