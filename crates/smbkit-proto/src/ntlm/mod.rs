//! NTLM authentication, client side ([MS-NLMP]).
//!
//! * [`messages`]: codecs for NEGOTIATE_MESSAGE (§2.2.1.1), CHALLENGE_MESSAGE
//!   (§2.2.1.2, strictly bounds-checked) and AUTHENTICATE_MESSAGE (§2.2.1.3),
//!   plus the AV_PAIR list (§2.2.2.1) and VERSION (§2.2.2.10).
//! * [`crypto`]: the one-way functions and responses of §3.3 (NTLMv1, NTLMv1
//!   with extended session security, NTLMv2), KXKEY (§3.4.5.1), SIGNKEY
//!   (§3.4.5.2) and SEALKEY (§3.4.5.3). The low-level functions that SMB1's
//!   non-extended-security logon needs are re-exported here.
//! * [`NtlmSession`]: NTLM session security (§3.4), enough for the SPNEGO
//!   mechListMIC.
//! * [`NtlmClient`]: the client state machine (§3.1.5.1).
//! * [`SpnegoNtlm`]: NTLM wrapped in SPNEGO ([MS-SPNG], RFC 4178), which is
//!   what the SMB driver calls during SESSION_SETUP.
//!
//! Every primitive (MD4, MD5, HMAC-MD5, DES, RC4) comes from the RustCrypto
//! crates; secrets live in [`zeroize`] wrappers and are wiped on drop.
//!
//! [MS-NLMP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/
//! [MS-SPNG]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-spng/

mod auth;
mod client;
pub mod crypto;
pub mod messages;
mod session;

#[cfg(test)]
mod tests;

use std::fmt;

use zeroize::Zeroizing;

pub use auth::SpnegoNtlm;
pub use client::{FixedRandomness, NtlmClient};
pub use crypto::{
    desl, kxkey, lm_owf_v1, lmv2_response, nt_owf_v1, nt_owf_v2, ntlm2_session_response,
    ntlmv1_response, ntlmv2_response, session_base_key_v1,
};
pub use messages::{
    AuthenticateMessage, AvPair, AvPairs, ChallengeMessage, NegotiateMessage, Version,
};
pub use session::NtlmSession;

/// NTLM negotiate flags (MS-NLMP §2.2.2.5), as `u32` bit masks.
///
/// The names drop the `NTLMSSP_` prefix of the specification.
pub mod flags {
    /// `NTLMSSP_NEGOTIATE_UNICODE` (A): strings are UTF-16LE.
    pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
    /// `NTLM_NEGOTIATE_OEM` (B): strings are in the OEM code page.
    pub const NEGOTIATE_OEM: u32 = 0x0000_0002;
    /// `NTLMSSP_REQUEST_TARGET` (C): the server must return its target name.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// `NTLMSSP_NEGOTIATE_SIGN` (D): message integrity (session security).
    pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
    /// `NTLMSSP_NEGOTIATE_SEAL` (E): message confidentiality.
    pub const NEGOTIATE_SEAL: u32 = 0x0000_0020;
    /// `NTLMSSP_NEGOTIATE_DATAGRAM` (F): connectionless authentication.
    pub const NEGOTIATE_DATAGRAM: u32 = 0x0000_0040;
    /// `NTLMSSP_NEGOTIATE_LM_KEY` (G): LAN Manager session key computation.
    pub const NEGOTIATE_LM_KEY: u32 = 0x0000_0080;
    /// `NTLMSSP_NEGOTIATE_NTLM` (H): NTLM v1 session security.
    pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
    /// `NTLMSSP_NEGOTIATE_ANONYMOUS` (J): anonymous (null session) logon.
    pub const NEGOTIATE_ANONYMOUS: u32 = 0x0000_0800;
    /// `NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED` (K).
    pub const NEGOTIATE_OEM_DOMAIN_SUPPLIED: u32 = 0x0000_1000;
    /// `NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED` (L).
    pub const NEGOTIATE_OEM_WORKSTATION_SUPPLIED: u32 = 0x0000_2000;
    /// `NTLMSSP_NEGOTIATE_ALWAYS_SIGN` (M).
    pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
    /// `NTLMSSP_TARGET_TYPE_DOMAIN` (N).
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// `NTLMSSP_TARGET_TYPE_SERVER` (O).
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// `NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY` (P).
    pub const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// `NTLMSSP_NEGOTIATE_IDENTIFY` (Q).
    pub const NEGOTIATE_IDENTIFY: u32 = 0x0010_0000;
    /// `NTLMSSP_REQUEST_NON_NT_SESSION_KEY` (R).
    pub const REQUEST_NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    /// `NTLMSSP_NEGOTIATE_TARGET_INFO` (S): the CHALLENGE carries TargetInfo.
    pub const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
    /// `NTLMSSP_NEGOTIATE_VERSION` (T): the Version field is present.
    pub const NEGOTIATE_VERSION: u32 = 0x0200_0000;
    /// `NTLMSSP_NEGOTIATE_128` (U): 128-bit session key.
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// `NTLMSSP_NEGOTIATE_KEY_EXCH` (V): explicit key exchange.
    pub const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;
    /// `NTLMSSP_NEGOTIATE_56` (W): 56-bit encryption.
    pub const NEGOTIATE_56: u32 = 0x8000_0000;

    /// Names of the set bits, for diagnostics.
    pub fn describe(flags: u32) -> Vec<&'static str> {
        const NAMES: [(u32, &str); 24] = [
            (NEGOTIATE_UNICODE, "UNICODE"),
            (NEGOTIATE_OEM, "OEM"),
            (REQUEST_TARGET, "REQUEST_TARGET"),
            (NEGOTIATE_SIGN, "SIGN"),
            (NEGOTIATE_SEAL, "SEAL"),
            (NEGOTIATE_DATAGRAM, "DATAGRAM"),
            (NEGOTIATE_LM_KEY, "LM_KEY"),
            (NEGOTIATE_NTLM, "NTLM"),
            (NEGOTIATE_ANONYMOUS, "ANONYMOUS"),
            (NEGOTIATE_OEM_DOMAIN_SUPPLIED, "OEM_DOMAIN_SUPPLIED"),
            (
                NEGOTIATE_OEM_WORKSTATION_SUPPLIED,
                "OEM_WORKSTATION_SUPPLIED",
            ),
            (NEGOTIATE_ALWAYS_SIGN, "ALWAYS_SIGN"),
            (TARGET_TYPE_DOMAIN, "TARGET_TYPE_DOMAIN"),
            (TARGET_TYPE_SERVER, "TARGET_TYPE_SERVER"),
            (
                NEGOTIATE_EXTENDED_SESSIONSECURITY,
                "EXTENDED_SESSIONSECURITY",
            ),
            (NEGOTIATE_IDENTIFY, "IDENTIFY"),
            (REQUEST_NON_NT_SESSION_KEY, "REQUEST_NON_NT_SESSION_KEY"),
            (NEGOTIATE_TARGET_INFO, "TARGET_INFO"),
            (NEGOTIATE_VERSION, "VERSION"),
            (NEGOTIATE_128, "128"),
            (NEGOTIATE_KEY_EXCH, "KEY_EXCH"),
            (NEGOTIATE_56, "56"),
            (0x0000_0008, "r10"),
            (0x0000_0100, "r9"),
        ];
        NAMES
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, name)| *name)
            .collect()
    }
}

/// Why NTLM (or its SPNEGO wrapping) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NtlmError {
    /// A server message could not be decoded.
    #[error("malformed NTLM/SPNEGO token: {0}")]
    Decode(#[from] crate::DecodeError),
    /// The server did not offer a flag (MS-NLMP §2.2.2.5) the client requires.
    #[error("the server did not offer NTLM flag {0}")]
    MissingFlag(&'static str),
    /// A method was called out of order (e.g. `authenticate` before `negotiate`).
    #[error("NTLM called out of order: {0}")]
    State(&'static str),
    /// The server answered with SPNEGO negState `reject` (RFC 4178 §4.2.2).
    #[error("the server rejected the authentication (SPNEGO reject)")]
    Rejected,
    /// The server selected a mechanism other than NTLMSSP (RFC 4178 §4.2.2 supportedMech).
    #[error("the server selected an unsupported security mechanism (OID {0:02x?})")]
    UnsupportedMech(Vec<u8>),
    /// A server token lacked a field the exchange needs (e.g. no responseToken with the CHALLENGE).
    #[error("the server token lacks {0}")]
    MissingToken(&'static str),
    /// A field is too long for its 16-bit length (MS-NLMP §2.2.1.3), e.g. a
    /// huge TargetInfo; the error names the field and the limit.
    #[error("NTLM {0}")]
    TooLarge(crate::EncodeError),
    /// The server's mechListMIC (RFC 4178 §5, MS-SPNG §3.3.5.1) did not verify.
    #[error("the server's SPNEGO mechListMIC did not verify")]
    MechListMicMismatch,
}

/// The identity to authenticate as.
///
/// An empty user name with an empty password is the anonymous identity
/// (null session, MS-NLMP §3.2.5.1.2).
#[derive(Clone)]
pub struct Credentials {
    /// The user name (without domain).
    pub user: String,
    /// The user's domain (NetBIOS or DNS name; empty for a local account).
    pub domain: String,
    /// The password, wiped from memory on drop.
    pub password: Zeroizing<String>,
    /// The client's NetBIOS name, sent in the AUTHENTICATE_MESSAGE Workstation field.
    pub workstation: String,
}

impl Credentials {
    /// Credentials for `user` in `domain` with `password` and no workstation name.
    pub fn new(
        user: impl Into<String>,
        domain: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Credentials {
            user: user.into(),
            domain: domain.into(),
            password: Zeroizing::new(password.into()),
            workstation: String::new(),
        }
    }

    /// The anonymous identity: empty user, domain and password (MS-NLMP §3.2.5.1.2).
    pub fn anonymous() -> Self {
        Credentials::new("", "", "")
    }

    /// True for an empty user name with an empty password (MS-NLMP §3.3.1, §3.3.2).
    pub fn is_anonymous(&self) -> bool {
        self.user.is_empty() && self.password.is_empty()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .field("workstation", &self.workstation)
            .finish()
    }
}

/// What the client offers and which response variant it computes.
#[derive(Clone, Copy, Debug)]
pub struct NtlmOptions {
    /// Compute NTLMv2 responses (MS-NLMP §3.3.2); otherwise NTLMv1 (§3.3.1). Default true.
    pub use_ntlm_v2: bool,
    /// NTLMv1 only: request `NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY` and, when the
    /// server grants it, send the NTLM2 session response (§3.3.1). Default true.
    /// NTLMv2 always requests extended session security.
    pub extended_session_security: bool,
    /// Request `NTLMSSP_NEGOTIATE_SIGN` (session security, §3.4). Default true.
    pub sign: bool,
    /// The current time as a FILETIME, for the NTLMv2 blob when the server's
    /// target info carries no MsvAvTimestamp (§3.1.5.1.2). This crate reads
    /// no clock: the caller passes the time in. Default 0.
    pub client_time: u64,
}

impl Default for NtlmOptions {
    fn default() -> Self {
        NtlmOptions {
            use_ntlm_v2: true,
            extended_session_security: true,
            sign: true,
            client_time: 0,
        }
    }
}
