//! Why a Kerberos logon failed.

use super::ccache::Principal;

/// A Kerberos failure, from the KDC, the file server or the local credentials.
///
/// The KDC's answers are mapped by their error code (RFC 4120 §7.5.9,
/// MS-KILE §3.1.5.x): the common ones get their own variant, the rest are
/// [`Kdc`](KerberosError::Kdc) with the code and its RFC name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KerberosError {
    /// The KDC refused the password or key (KDC_ERR_PREAUTH_FAILED, or an
    /// AS-REP that the key does not decrypt).
    #[error("wrong password or key for {principal} (the KDC refused the pre-authentication)")]
    WrongPassword {
        /// The client principal.
        principal: String,
    },
    /// The KDC does not know the client (KDC_ERR_C_PRINCIPAL_UNKNOWN).
    #[error("the KDC does not know the principal {principal}")]
    UnknownPrincipal {
        /// The client principal.
        principal: String,
    },
    /// The KDC has no key for the file server's principal
    /// (KDC_ERR_S_PRINCIPAL_UNKNOWN): the host name is not the one the
    /// server is registered under (connect by its name, not its address,
    /// or register the service principal).
    #[error("the KDC does not know the service {service} (connect by the name the server is registered under)")]
    UnknownService {
        /// The service principal asked for.
        service: String,
    },
    /// The clocks of the client and the KDC or file server differ more than
    /// they allow (KRB_AP_ERR_SKEW).
    #[error(
        "the clock differs too much from the {peer}'s (KRB_AP_ERR_SKEW); synchronise the clocks"
    )]
    ClockSkew {
        /// `"KDC"` or `"file server"`.
        peer: &'static str,
    },
    /// A ticket has expired: in the credential cache (run `kinit` again) or
    /// as the KDC or file server said (KRB_AP_ERR_TKT_EXPIRED).
    #[error("the Kerberos ticket of {principal} expired{}", match .expired_at { Some(t) => format!(" at {t} (seconds since 1970)"), None => String::new() })]
    TicketExpired {
        /// The principal whose ticket expired.
        principal: String,
        /// When, if known (seconds since 1970).
        expired_at: Option<u64>,
    },
    /// The credential cache holds no ticket-granting ticket for the realm.
    #[error("the credential cache has no ticket-granting ticket for {realm} (run kinit)")]
    NoTicket {
        /// The realm looked for.
        realm: String,
    },
    /// The keytab holds no usable key for the principal.
    #[error("the keytab has no key for {principal}{}", match .enctype { Some(e) => format!(" of encryption type {e}"), None => String::new() })]
    NoKey {
        /// The principal looked for.
        principal: String,
        /// The encryption type the KDC asked for, if any.
        enctype: Option<i32>,
    },
    /// The account is disabled, locked or expired (KDC_ERR_CLIENT_REVOKED).
    #[error("the account {principal} is disabled, locked out or expired")]
    AccountRevoked {
        /// The client principal.
        principal: String,
    },
    /// The password has expired and must be changed (KDC_ERR_KEY_EXPIRED).
    #[error("the password of {principal} has expired")]
    PasswordExpired {
        /// The client principal.
        principal: String,
    },
    /// An encryption type that this client does not implement (only
    /// aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96 and des3-cbc-sha1
    /// are), or that the KDC refused (KDC_ERR_ETYPE_NOSUPP).
    #[error("unsupported Kerberos encryption type {enctype} (this client implements AES (17, 18) and DES3 (16))")]
    UnsupportedEnctype {
        /// The encryption type (RFC 3961 number), `0` when the KDC refused ours.
        enctype: i32,
    },
    /// Another KRB-ERROR from the KDC.
    #[error("the KDC answered {name} ({code}){}", match .text { Some(t) => format!(": {t}"), None => String::new() })]
    Kdc {
        /// The error code (RFC 4120 §7.5.9).
        code: u32,
        /// Its name.
        name: &'static str,
        /// The KDC's e-text, if any.
        text: Option<String>,
    },
    /// The file server answered the AP-REQ with a KRB-ERROR.
    #[error("the file server refused the Kerberos ticket: {name} ({code})")]
    Server {
        /// The error code (RFC 4120 §7.5.9).
        code: u32,
        /// Its name.
        name: &'static str,
    },
    /// The file server's AP-REP did not prove that it holds the service key
    /// (it does not decrypt, or does not echo our authenticator's time).
    #[error("mutual authentication failed: {0}")]
    MutualAuthFailed(&'static str),
    /// No KDC could be reached (the driver fills this in).
    #[error("no KDC for {realm} could be reached ({detail})")]
    KdcUnreachable {
        /// The realm.
        realm: String,
        /// The addresses tried and what happened.
        detail: String,
    },
    /// No realm is known for the principal (give `user@REALM`, a realm, or
    /// a `default_realm` in krb5.conf).
    #[error("no Kerberos realm is known for {0} (give user@REALM or a default realm)")]
    NoRealm(String),
    /// A message that does not decode (from the KDC, the server or a file).
    #[error("malformed Kerberos {what}: {detail}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// A file (credential cache, keytab, krb5.conf) that cannot be read.
    #[error("cannot read the {what} {path}: {detail}")]
    File {
        /// What the file is.
        what: &'static str,
        /// Its path.
        path: String,
        /// Why.
        detail: String,
    },
    /// A credential cache type other than `FILE:` (`KEYRING:`, `KCM:`,
    /// `DIR:`…), which this client cannot read.
    #[error("credential caches of type {0}: cannot be read; use a FILE: cache (KRB5CCNAME=FILE:/path, then kinit)")]
    UnsupportedCache(String),
    /// The exchange was driven out of order (a bug in the caller).
    #[error("Kerberos exchange called out of order: {0}")]
    State(&'static str),
    /// Building a message failed (a name that is not ASCII, say).
    #[error("cannot build the Kerberos {what}: {detail}")]
    Build {
        /// The message.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

impl KerberosError {
    pub(crate) fn malformed(what: &'static str, detail: impl std::fmt::Display) -> Self {
        KerberosError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }

    /// A file whose contents do not decode.
    pub fn malformed_file(
        what: &'static str,
        path: &std::path::Path,
        detail: impl std::fmt::Display,
    ) -> Self {
        KerberosError::File {
            what,
            path: path.display().to_string(),
            detail: format!("malformed: {detail}"),
        }
    }

    pub(crate) fn build(what: &'static str, detail: impl std::fmt::Display) -> Self {
        KerberosError::Build {
            what,
            detail: detail.to_string(),
        }
    }

    /// The KDC's answer `code` for `client` asking for `service`.
    pub(crate) fn from_kdc(
        code: u32,
        text: Option<String>,
        client: &Principal,
        service: &str,
    ) -> Self {
        let principal = client.to_string();
        match code {
            error_codes::KDC_ERR_PREAUTH_FAILED | error_codes::KRB_AP_ERR_BAD_INTEGRITY => {
                KerberosError::WrongPassword { principal }
            }
            error_codes::KDC_ERR_C_PRINCIPAL_UNKNOWN => {
                KerberosError::UnknownPrincipal { principal }
            }
            error_codes::KDC_ERR_S_PRINCIPAL_UNKNOWN => KerberosError::UnknownService {
                service: service.to_string(),
            },
            error_codes::KRB_AP_ERR_SKEW => KerberosError::ClockSkew { peer: "KDC" },
            error_codes::KRB_AP_ERR_TKT_EXPIRED => KerberosError::TicketExpired {
                principal,
                expired_at: None,
            },
            error_codes::KDC_ERR_CLIENT_REVOKED => KerberosError::AccountRevoked { principal },
            error_codes::KDC_ERR_KEY_EXPIRED => KerberosError::PasswordExpired { principal },
            error_codes::KDC_ERR_ETYPE_NOSUPP => KerberosError::UnsupportedEnctype { enctype: 0 },
            _ => KerberosError::Kdc {
                code,
                name: error_name(code),
                text,
            },
        }
    }

    /// The file server's KRB-ERROR `code` (in the SPNEGO answer to the AP-REQ).
    pub(crate) fn from_server(code: u32, client: &Principal) -> Self {
        match code {
            error_codes::KRB_AP_ERR_SKEW => KerberosError::ClockSkew {
                peer: "file server",
            },
            error_codes::KRB_AP_ERR_TKT_EXPIRED => KerberosError::TicketExpired {
                principal: client.to_string(),
                expired_at: None,
            },
            _ => KerberosError::Server {
                code,
                name: error_name(code),
            },
        }
    }
}

/// Kerberos error codes (RFC 4120 §7.5.9) this client tells apart.
pub mod error_codes {
    /// Client's entry in database has expired.
    pub const KDC_ERR_NAME_EXP: u32 = 1;
    /// Client not found in Kerberos database.
    pub const KDC_ERR_C_PRINCIPAL_UNKNOWN: u32 = 6;
    /// Server not found in Kerberos database.
    pub const KDC_ERR_S_PRINCIPAL_UNKNOWN: u32 = 7;
    /// KDC has no support for encryption type.
    pub const KDC_ERR_ETYPE_NOSUPP: u32 = 14;
    /// Clients credentials have been revoked.
    pub const KDC_ERR_CLIENT_REVOKED: u32 = 18;
    /// Password has expired.
    pub const KDC_ERR_KEY_EXPIRED: u32 = 23;
    /// Pre-authentication information was invalid.
    pub const KDC_ERR_PREAUTH_FAILED: u32 = 24;
    /// Additional pre-authentication required.
    pub const KDC_ERR_PREAUTH_REQUIRED: u32 = 25;
    /// Integrity check on decrypted field failed.
    pub const KRB_AP_ERR_BAD_INTEGRITY: u32 = 31;
    /// Ticket expired.
    pub const KRB_AP_ERR_TKT_EXPIRED: u32 = 32;
    /// Clock skew too great.
    pub const KRB_AP_ERR_SKEW: u32 = 37;
    /// Message stream modified.
    pub const KRB_AP_ERR_MODIFIED: u32 = 41;
}

/// The RFC 4120 §7.5.9 name of an error code.
pub fn error_name(code: u32) -> &'static str {
    match code {
        0 => "KDC_ERR_NONE",
        1 => "KDC_ERR_NAME_EXP",
        2 => "KDC_ERR_SERVICE_EXP",
        3 => "KDC_ERR_BAD_PVNO",
        4 => "KDC_ERR_C_OLD_MAST_KVNO",
        5 => "KDC_ERR_S_OLD_MAST_KVNO",
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        8 => "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
        9 => "KDC_ERR_NULL_KEY",
        10 => "KDC_ERR_CANNOT_POSTDATE",
        11 => "KDC_ERR_NEVER_VALID",
        12 => "KDC_ERR_POLICY",
        13 => "KDC_ERR_BADOPTION",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        15 => "KDC_ERR_SUMTYPE_NOSUPP",
        16 => "KDC_ERR_PADATA_TYPE_NOSUPP",
        17 => "KDC_ERR_TRTYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        19 => "KDC_ERR_SERVICE_REVOKED",
        20 => "KDC_ERR_TGT_REVOKED",
        21 => "KDC_ERR_CLIENT_NOTYET",
        22 => "KDC_ERR_SERVICE_NOTYET",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        26 => "KDC_ERR_SERVER_NOMATCH",
        27 => "KDC_ERR_MUST_USE_USER2USER",
        28 => "KDC_ERR_PATH_NOT_ACCEPTED",
        29 => "KDC_ERR_SVC_UNAVAILABLE",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        33 => "KRB_AP_ERR_TKT_NYV",
        34 => "KRB_AP_ERR_REPEAT",
        35 => "KRB_AP_ERR_NOT_US",
        36 => "KRB_AP_ERR_BADMATCH",
        37 => "KRB_AP_ERR_SKEW",
        38 => "KRB_AP_ERR_BADADDR",
        39 => "KRB_AP_ERR_BADVERSION",
        40 => "KRB_AP_ERR_MSG_TYPE",
        41 => "KRB_AP_ERR_MODIFIED",
        42 => "KRB_AP_ERR_BADORDER",
        44 => "KRB_AP_ERR_BADKEYVER",
        45 => "KRB_AP_ERR_NOKEY",
        46 => "KRB_AP_ERR_MUT_FAIL",
        47 => "KRB_AP_ERR_BADDIRECTION",
        48 => "KRB_AP_ERR_METHOD",
        49 => "KRB_AP_ERR_BADSEQ",
        50 => "KRB_AP_ERR_INAPP_CKSUM",
        51 => "KRB_AP_PATH_NOT_ACCEPTED",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        60 => "KRB_ERR_GENERIC",
        61 => "KRB_ERR_FIELD_TOOLONG",
        68 => "KDC_ERR_WRONG_REALM",
        _ => "an unknown Kerberos error",
    }
}
