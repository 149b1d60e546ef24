//! NTLM inside SPNEGO, as SMB's SESSION_SETUP carries it (MS-SPNG §3.1.5,
//! RFC 4178 §3, MS-SMB2 §3.2.5.3).

use crate::spnego::{self, NegState, OID_NTLMSSP};

use super::messages::NTLMSSP_SIGNATURE;
use super::{flags, Credentials, NtlmClient, NtlmError, NtlmOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    InitSent,
    AuthSent,
    Done,
}

/// The SPNEGO + NTLM initiator the SMB driver runs during SESSION_SETUP.
///
/// 1. [`initial_token`](Self::initial_token): NegTokenInit with mechTypes =
///    `[NTLMSSP]` and the NEGOTIATE_MESSAGE as mechToken.
/// 2. [`step`](Self::step) with the server's accept-incomplete NegTokenResp
///    carrying the CHALLENGE_MESSAGE: returns a NegTokenResp with the
///    AUTHENTICATE_MESSAGE and, when the NTLM MIC was sent (or the server asked
///    with request-mic) and NTLM signing was negotiated, a mechListMIC = NTLM
///    GSS_GetMIC over the DER MechTypeList (RFC 4178 §5, MS-SPNG §3.3.5.1).
/// 3. [`finish`](Self::finish) with the final server token: a reject is an
///    error; a mechListMIC is verified.
///
/// A server that answers with a bare NTLMSSP CHALLENGE_MESSAGE (no SPNEGO)
/// gets a bare AUTHENTICATE_MESSAGE back.
#[derive(Debug)]
pub struct SpnegoNtlm {
    ntlm: NtlmClient,
    mech_types_der: Vec<u8>,
    state: State,
    raw: bool,
    mech_list_mic_sent: bool,
}

impl SpnegoNtlm {
    /// An authenticator for `creds`.
    pub fn new(creds: Credentials, opts: NtlmOptions) -> Self {
        SpnegoNtlm::with_client(NtlmClient::new(creds, opts))
    }

    /// An authenticator around a prepared NTLM client (e.g. one built with
    /// [`NtlmClient::with_fixed_randomness`] in tests).
    pub fn with_client(ntlm: NtlmClient) -> Self {
        SpnegoNtlm {
            ntlm,
            mech_types_der: spnego::mech_type_list(&[OID_NTLMSSP]),
            state: State::Start,
            raw: false,
            mech_list_mic_sent: false,
        }
    }

    /// The first token: the GSS-API InitialContextToken with a NegTokenInit
    /// offering only NTLMSSP and carrying the NEGOTIATE_MESSAGE (RFC 4178 §4.2.1).
    /// Calling it again restarts the exchange.
    pub fn initial_token(&mut self) -> Vec<u8> {
        let negotiate = self.ntlm.negotiate();
        self.state = State::InitSent;
        self.raw = false;
        self.mech_list_mic_sent = false;
        spnego::neg_token_init(&[OID_NTLMSSP], &negotiate)
    }

    /// Answers the server's NegTokenResp (accept-incomplete, responseToken =
    /// CHALLENGE_MESSAGE) with a NegTokenResp carrying the AUTHENTICATE_MESSAGE
    /// and, if applicable, the mechListMIC. A raw NTLMSSP CHALLENGE_MESSAGE is
    /// answered with a raw AUTHENTICATE_MESSAGE.
    ///
    /// Errors: negState reject, a supportedMech other than NTLMSSP, no
    /// responseToken, a malformed token, or a call out of order.
    pub fn step(&mut self, server_token: &[u8]) -> Result<Vec<u8>, NtlmError> {
        if self.state != State::InitSent {
            return Err(NtlmError::State("step() must follow initial_token()"));
        }
        if server_token.starts_with(NTLMSSP_SIGNATURE) {
            let auth = self.ntlm.authenticate(server_token)?;
            self.raw = true;
            self.state = State::AuthSent;
            return Ok(auth);
        }
        let resp = spnego::parse_neg_token_resp(server_token)?;
        if resp.neg_state == Some(NegState::Reject) {
            return Err(NtlmError::Rejected);
        }
        if let Some(mech) = &resp.supported_mech {
            if mech.as_slice() != OID_NTLMSSP {
                return Err(NtlmError::UnsupportedMech(mech.clone()));
            }
        }
        let challenge = resp
            .response_token
            .as_deref()
            .ok_or(NtlmError::MissingToken(
                "a responseToken with the NTLM CHALLENGE_MESSAGE",
            ))?;
        let auth = self.ntlm.authenticate(challenge)?;
        let wants_mic = self.ntlm.mic_sent() || resp.neg_state == Some(NegState::RequestMic);
        let can_sign = self.ntlm.session_key().is_some()
            && self.ntlm.negotiated_flags() & flags::NEGOTIATE_SIGN != 0;
        let mic = if wants_mic && can_sign {
            Some(self.ntlm.sign(&self.mech_types_der))
        } else {
            None
        };
        self.mech_list_mic_sent = mic.is_some();
        self.state = State::AuthSent;
        Ok(spnego::neg_token_resp(
            Some(&auth),
            mic.as_ref().map(|m| &m[..]),
        ))
    }

    /// Processes the server's last token (possibly empty): negState reject is
    /// [`NtlmError::Rejected`]; a mechListMIC is verified with NTLM
    /// GSS_VerifyMIC over the MechTypeList (a mismatch is
    /// [`NtlmError::MechListMicMismatch`]). Without a session key (anonymous)
    /// there is nothing to verify a MIC with, and it is ignored.
    pub fn finish(&mut self, server_token: &[u8]) -> Result<(), NtlmError> {
        if self.state != State::AuthSent {
            return Err(NtlmError::State("finish() must follow step()"));
        }
        if self.raw || server_token.is_empty() {
            self.state = State::Done;
            return Ok(());
        }
        let resp = spnego::parse_neg_token_resp(server_token)?;
        if resp.neg_state == Some(NegState::Reject) {
            return Err(NtlmError::Rejected);
        }
        if let Some(mic) = &resp.mech_list_mic {
            if self.ntlm.session_key().is_some() && !self.ntlm.verify(&self.mech_types_der, mic) {
                return Err(NtlmError::MechListMicMismatch);
            }
        }
        self.state = State::Done;
        Ok(())
    }

    /// The NTLM ExportedSessionKey, which SMB uses as its session key; `None`
    /// before `step` and for anonymous logons.
    pub fn session_key(&self) -> Option<[u8; 16]> {
        self.ntlm.session_key().copied()
    }

    /// True if the exchange used bare NTLMSSP tokens instead of SPNEGO.
    pub fn is_raw_ntlmssp(&self) -> bool {
        self.raw
    }

    /// True if `step` sent a mechListMIC.
    pub fn mech_list_mic_sent(&self) -> bool {
        self.mech_list_mic_sent
    }

    /// The underlying NTLM client.
    pub fn ntlm(&self) -> &NtlmClient {
        &self.ntlm
    }
}
