//! The security mechanism a SESSION_SETUP runs: SPNEGO with NTLM, or with
//! Kerberos when the driver obtained a ticket for the server.

use zeroize::Zeroizing;

use super::{ConnError, Violation};
use crate::kerberos::{ServiceTicket, SpnegoKerberos};
use crate::ntlm::{Credentials, NtlmOptions, SpnegoNtlm};

/// One authentication exchange of a SESSION_SETUP.
#[derive(Debug)]
pub(crate) enum Authenticator {
    Ntlm(Box<SpnegoNtlm>),
    Kerberos(Box<SpnegoKerberos>),
}

impl Authenticator {
    /// Kerberos with `ticket` when there is one, NTLM with `creds` otherwise.
    pub(crate) fn new(
        creds: &Credentials,
        ntlm: NtlmOptions,
        ticket: Option<&ServiceTicket>,
    ) -> Authenticator {
        match ticket {
            Some(t) => Authenticator::Kerberos(Box::new(SpnegoKerberos::new(t.clone()))),
            // The credentials' password stays Zeroizing in the clone.
            None => Authenticator::Ntlm(Box::new(SpnegoNtlm::new(creds.clone(), ntlm))),
        }
    }

    /// The first token of the exchange.
    pub(crate) fn initial_token(&mut self) -> Result<Vec<u8>, ConnError> {
        match self {
            Authenticator::Ntlm(a) => Ok(a.initial_token()),
            Authenticator::Kerberos(k) => k.initial_token().map_err(ConnError::Kerberos),
        }
    }

    /// Answers a server token that asks for more (MORE_PROCESSING_REQUIRED).
    pub(crate) fn step(&mut self, server_token: &[u8]) -> Result<Vec<u8>, ConnError> {
        match self {
            Authenticator::Ntlm(a) => a.step(server_token).map_err(|e| Violation::Auth(e).into()),
            // The AP exchange has one round (RFC 4121 §4.1: no DCE style);
            // an AP-REP or a KRB-ERROR in this answer is what finish reads.
            Authenticator::Kerberos(k) => match k.finish(server_token) {
                Err(e) => Err(ConnError::Kerberos(e)),
                Ok(()) => Err(ConnError::Kerberos(crate::kerberos::KerberosError::State(
                    "the server asked for another round after the AP-REP",
                ))),
            },
        }
    }

    /// Processes the server's final token.
    pub(crate) fn finish(&mut self, server_token: &[u8]) -> Result<(), ConnError> {
        match self {
            Authenticator::Ntlm(a) => a
                .finish(server_token)
                .map_err(|e| Violation::Auth(e).into()),
            Authenticator::Kerberos(k) => k.finish(server_token).map_err(ConnError::Kerberos),
        }
    }

    /// Whether the session key is known only once the final token is read
    /// (Kerberos: it is the AP-REP's subkey), not after the client's last
    /// token went out (NTLM).
    pub(crate) fn key_from_final_token(&self) -> bool {
        matches!(self, Authenticator::Kerberos(_))
    }

    /// The session key as SMB 2/3 uses it: its first 16 bytes, zero-padded
    /// when shorter (MS-SMB2 §3.2.5.3.1); `None` when there is none yet or
    /// the logon is anonymous.
    pub(crate) fn session_key16(&self) -> Option<Zeroizing<[u8; 16]>> {
        match self {
            Authenticator::Ntlm(a) => a.session_key().map(Zeroizing::new),
            Authenticator::Kerberos(k) => k.session_key().map(|key| {
                let mut out = Zeroizing::new([0u8; 16]);
                let n = key.len().min(16);
                out[..n].copy_from_slice(&key[..n]);
                out
            }),
        }
    }

    /// The whole session key (SMB1 signs with it, MS-SMB §3.2.5.3).
    pub(crate) fn session_key_bytes(&self) -> Option<Zeroizing<Vec<u8>>> {
        match self {
            Authenticator::Ntlm(a) => a.session_key().map(|k| Zeroizing::new(k.to_vec())),
            Authenticator::Kerberos(k) => k.session_key().map(|k| Zeroizing::new(k.to_vec())),
        }
    }
}
