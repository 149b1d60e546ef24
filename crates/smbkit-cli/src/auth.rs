//! Who logs in, and where the password comes from: a credentials file
//! (`-A`, smbclient's format), `SMBKIT_PASSWORD`, or a prompt on the
//! terminal that does not echo. Never the command line.

use std::io::IsTerminal;
use std::path::Path;

use crate::args::GlobalOpts;
use crate::error::{CmdResult, Failure, Kind};
use crate::target::{Form, Target};

/// The environment variable that holds the password.
pub const PASSWORD_VAR: &str = "SMBKIT_PASSWORD";

/// The user, domain and password to log in with.
pub struct Credentials {
    /// The domain (workgroup), possibly empty.
    pub domain: String,
    /// The user name; empty for an anonymous session.
    pub user: String,
    /// The password (empty for an anonymous session).
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("domain", &self.domain)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// What a credentials file holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CredentialsFile {
    /// `username = …` (a `DOMAIN\user` form is split).
    pub username: Option<String>,
    /// `password = …`.
    pub password: Option<String>,
    /// `domain = …`.
    pub domain: Option<String>,
}

impl CredentialsFile {
    /// Parses smbclient's `-A` format: `key = value` lines with the keys
    /// `username`, `password` and `domain`; `#` and `;` start comments;
    /// other keys and lines without `=` are ignored, as smbclient does.
    /// Spaces before a value are dropped; a password keeps any after it.
    pub fn parse(text: &str) -> CredentialsFile {
        let mut c = CredentialsFile::default();
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                continue;
            };
            let value = value.trim_start().trim_end_matches(['\r', '\n']);
            match key.trim().to_ascii_lowercase().as_str() {
                "username" | "user" => {
                    let (d, u) = split_user(value.trim());
                    if let Some(d) = d {
                        c.domain.get_or_insert(d.to_string());
                    }
                    c.username = Some(u.to_string());
                }
                "password" => c.password = Some(value.to_string()),
                "domain" | "workgroup" => c.domain = Some(value.trim().to_string()),
                _ => {}
            }
        }
        c
    }

    /// Reads and parses `path`, warning (unless `quiet`) when others may read it.
    pub fn load(path: &Path, quiet: bool) -> CmdResult<CredentialsFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::local(&e, "read the credentials file", path))?;
        #[cfg(unix)]
        if !quiet {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(path) {
                if m.permissions().mode() & 0o077 != 0 {
                    eprintln!(
                        "smbkit: warning: others can read the credentials file '{}'; chmod 600 it",
                        path.display()
                    );
                }
            }
        }
        #[cfg(not(unix))]
        let _ = quiet;
        Ok(CredentialsFile::parse(&text))
    }
}

/// Splits `DOMAIN\user` (or `DOMAIN/user`) into its parts.
pub fn split_user(s: &str) -> (Option<&str>, &str) {
    match s.find(['\\', '/']) {
        Some(i) => (Some(&s[..i]), &s[i + 1..]),
        None => (None, s),
    }
}

/// Works out who logs in to `target`, asking for the password if needed.
///
/// User: `-U`, else the target's, else the credentials file's, else `$USER`
/// for a `\\host` target (an `smb://host` target without a user logs in
/// anonymously). Password: the credentials file's, else `SMBKIT_PASSWORD`,
/// else a prompt when there is a terminal.
pub fn credentials(opts: &GlobalOpts, target: &Target) -> CmdResult<Credentials> {
    if let Some(u) = &opts.user {
        if u.contains('%') {
            return Err(Failure::usage(
                "-U takes a user name only: smbkit never takes passwords on the command line",
            )
            .hint("set SMBKIT_PASSWORD, use -A FILE, or let smbkit ask"));
        }
    }
    let file = match &opts.auth_file {
        Some(p) => Some(CredentialsFile::load(p, opts.quiet)?),
        None => None,
    };
    let cli_user = opts.user.as_deref().map(split_user);
    let user = cli_user
        .map(|(_, u)| u.to_string())
        .or_else(|| target.user.clone())
        .or_else(|| file.as_ref().and_then(|f| f.username.clone()))
        .or_else(|| match target.form {
            // Kerberos takes the user from the ticket cache.
            _ if opts.kerberos_mode() != smbkit::Kerberos::Off => None,
            Form::Unc => std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok(),
            Form::Url => None,
        })
        .unwrap_or_default();
    let domain = cli_user
        .and_then(|(d, _)| d.map(str::to_string))
        .or_else(|| target.domain.clone())
        .or_else(|| file.as_ref().and_then(|f| f.domain.clone()))
        .unwrap_or_default();
    if user.is_empty() {
        return Ok(Credentials {
            domain,
            user,
            password: String::new(),
        });
    }
    let password = match file.and_then(|f| f.password) {
        Some(p) => p,
        None => match std::env::var(PASSWORD_VAR) {
            Ok(p) => p,
            // Kerberos with a user and no password: the ticket cache (or
            // the keytab) has what is needed.
            Err(_) if opts.kerberos_mode() == smbkit::Kerberos::Required => String::new(),
            Err(_) => prompt(&domain, &user, &target.host)?,
        },
    };
    Ok(Credentials {
        domain,
        user,
        password,
    })
}

/// Asks for the password on the terminal without echoing it.
fn prompt(domain: &str, user: &str, host: &str) -> CmdResult<String> {
    let no_password = || {
        Failure::usage(format!("no password for user '{user}'")).hint(format!(
            "set {PASSWORD_VAR}, use -A FILE (a credentials file), or run smbkit in a terminal to be asked"
        ))
    };
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(no_password());
    }
    let who = if domain.is_empty() {
        user.to_string()
    } else {
        format!("{domain}\\{user}")
    };
    rpassword::prompt_password(format!("Password for {who} on {host}: ")).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Interrupted
            || e.kind() == std::io::ErrorKind::UnexpectedEof
        {
            Failure::new(Kind::Usage, "no password given")
        } else {
            no_password()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_smbclient_credentials_files() {
        let c = CredentialsFile::parse(
            "# comment\nusername = alice\npassword = s3cret with spaces \ndomain=WORKGROUP\n",
        );
        assert_eq!(c.username.as_deref(), Some("alice"));
        assert_eq!(c.password.as_deref(), Some("s3cret with spaces "));
        assert_eq!(c.domain.as_deref(), Some("WORKGROUP"));
        let c = CredentialsFile::parse("username = CORP\\bob\r\npassword = x\r\n");
        assert_eq!(c.username.as_deref(), Some("bob"));
        assert_eq!(c.domain.as_deref(), Some("CORP"));
        assert_eq!(c.password.as_deref(), Some("x"));
        assert_eq!(
            CredentialsFile::parse("just a line\n"),
            CredentialsFile::default()
        );
    }

    #[test]
    fn splits_domain_users() {
        assert_eq!(split_user("D\\u"), (Some("D"), "u"));
        assert_eq!(split_user("D/u"), (Some("D"), "u"));
        assert_eq!(split_user("u"), (None, "u"));
    }
}
