//! The NTLM client state machine (MS-NLMP §3.1.5.1).

use zeroize::Zeroizing;

use super::crypto::{
    encrypt_session_key, hmac_md5, kxkey, lm_owf_v1, lm_password_representable, nt_owf_v1,
    nt_owf_v2, ntlm2_session_response, ntlmv1_response, ntlmv2_response, random_bytes,
    session_base_key_v1,
};
use super::messages::{
    av_flags, AuthenticateMessage, ChallengeMessage, NegotiateMessage, Version,
    AUTHENTICATE_MIC_OFFSET,
};
use super::session::NtlmSession;
use super::{flags, Credentials, NtlmError, NtlmOptions};

/// Values that are normally random or taken from the clock, fixed so that the
/// MS-NLMP §4.2 examples can be reproduced. For tests only: a fixed client
/// challenge or session key defeats the protocol's security.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedRandomness {
    /// The 8-byte ClientChallenge.
    pub client_challenge: [u8; 8],
    /// The ExportedSessionKey used when `NTLMSSP_NEGOTIATE_KEY_EXCH` is negotiated
    /// ("RandomSessionKey" in §4.2.1).
    pub exported_session_key: [u8; 16],
    /// The NTLMv2 blob's time when the server sends no MsvAvTimestamp
    /// (`None`: the current time).
    pub timestamp: Option<u64>,
}

/// An NTLM client context: builds the NEGOTIATE_MESSAGE, answers the
/// CHALLENGE_MESSAGE with an AUTHENTICATE_MESSAGE (MS-NLMP §3.1.5.1.1,
/// §3.1.5.1.2) and then provides session security (§3.4).
pub struct NtlmClient {
    creds: Credentials,
    opts: NtlmOptions,
    fixed: Option<FixedRandomness>,
    version: Version,
    negotiate_msg: Option<Vec<u8>>,
    neg_flags: u32,
    exported_session_key: Option<Zeroizing<[u8; 16]>>,
    session: Option<NtlmSession>,
    mic_sent: bool,
    authenticated: bool,
}

impl std::fmt::Debug for NtlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtlmClient")
            .field("creds", &self.creds)
            .field("opts", &self.opts)
            .field("neg_flags", &format_args!("{:#010x}", self.neg_flags))
            .field("mic_sent", &self.mic_sent)
            .field("authenticated", &self.authenticated)
            .finish_non_exhaustive()
    }
}

impl NtlmClient {
    /// A client for `creds`; the client challenge and session key come from the
    /// operating system's CSPRNG.
    pub fn new(creds: Credentials, opts: NtlmOptions) -> Self {
        NtlmClient {
            creds,
            opts,
            fixed: None,
            version: Version::CLIENT_DEFAULT,
            negotiate_msg: None,
            neg_flags: 0,
            exported_session_key: None,
            session: None,
            mic_sent: false,
            authenticated: false,
        }
    }

    /// A client whose random values and time are fixed (tests only; see
    /// [`FixedRandomness`]).
    pub fn with_fixed_randomness(
        creds: Credentials,
        opts: NtlmOptions,
        fixed: FixedRandomness,
    ) -> Self {
        let mut c = NtlmClient::new(creds, opts);
        c.fixed = Some(fixed);
        c
    }

    /// Sets the VERSION (MS-NLMP §2.2.2.10) this client announces (default
    /// [`Version::CLIENT_DEFAULT`]).
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// The flags this client offers in its NEGOTIATE_MESSAGE (MS-NLMP §3.1.5.1.1).
    pub fn offered_flags(&self) -> u32 {
        let mut f = flags::NEGOTIATE_UNICODE
            | flags::NEGOTIATE_OEM
            | flags::REQUEST_TARGET
            | flags::NEGOTIATE_NTLM
            | flags::NEGOTIATE_ALWAYS_SIGN
            | flags::NEGOTIATE_VERSION
            | flags::NEGOTIATE_128
            | flags::NEGOTIATE_56
            | flags::NEGOTIATE_KEY_EXCH;
        if self.opts.use_ntlm_v2 || self.opts.extended_session_security {
            f |= flags::NEGOTIATE_EXTENDED_SESSIONSECURITY;
        }
        if self.opts.sign {
            f |= flags::NEGOTIATE_SIGN;
        }
        f
    }

    /// Builds the NEGOTIATE_MESSAGE (MS-NLMP §2.2.1.1, §3.1.5.1.1). No domain
    /// or workstation is supplied; the Version is included. Calling it again
    /// restarts the exchange.
    pub fn negotiate(&mut self) -> Vec<u8> {
        let msg = NegotiateMessage {
            flags: self.offered_flags(),
            domain: Vec::new(),
            workstation: Vec::new(),
            version: Some(self.version),
        };
        // Empty domain/workstation cannot exceed any length limit.
        let bytes = msg.encode().unwrap_or_default();
        self.negotiate_msg = Some(bytes.clone());
        self.neg_flags = 0;
        self.exported_session_key = None;
        self.session = None;
        self.mic_sent = false;
        self.authenticated = false;
        bytes
    }

    /// Answers the server's CHALLENGE_MESSAGE with an AUTHENTICATE_MESSAGE
    /// (MS-NLMP §3.1.5.1.2).
    ///
    /// * Flags: the intersection of what we offered and what the server chose,
    ///   plus REQUEST_TARGET and VERSION; Unicode wins over OEM.
    /// * Anonymous credentials: LmChallengeResponse = Z(1), empty
    ///   NtChallengeResponse, `NTLMSSP_NEGOTIATE_ANONYMOUS`, no key exchange,
    ///   signing or session key (§3.2.5.1.2, §3.3.1).
    /// * NTLMv2 (§3.3.2): the blob echoes the server's AV pairs and uses its
    ///   MsvAvTimestamp when present; then MsvAvFlags gains bit 0x2, the LM
    ///   response is Z(24) and a MIC over the three messages is included.
    /// * NTLMv1 (§3.3.1): the NTLM2 session response with extended session
    ///   security, else DESL of the server challenge (the LM field repeats the
    ///   NT response when the password has no LM hash).
    /// * `NTLMSSP_NEGOTIATE_KEY_EXCH`: a random ExportedSessionKey encrypted
    ///   with KXKEY (§3.4.5.1); otherwise the key exchange key is exported.
    pub fn authenticate(&mut self, challenge: &[u8]) -> Result<Vec<u8>, NtlmError> {
        let negotiate_msg = self
            .negotiate_msg
            .clone()
            .ok_or(NtlmError::State("authenticate() before negotiate()"))?;
        if self.authenticated {
            return Err(NtlmError::State("authenticate() called twice"));
        }
        let chal = ChallengeMessage::decode(challenge)?;
        if chal.flags & (flags::NEGOTIATE_UNICODE | flags::NEGOTIATE_OEM) == 0 {
            return Err(NtlmError::MissingFlag("NTLMSSP_NEGOTIATE_UNICODE"));
        }
        let anonymous = self.creds.is_anonymous();
        let offered = self.offered_flags();
        let mut neg = offered & chal.flags;
        if neg & flags::NEGOTIATE_UNICODE != 0 {
            neg &= !flags::NEGOTIATE_OEM;
        }
        neg |= offered & (flags::REQUEST_TARGET | flags::NEGOTIATE_VERSION);
        if anonymous {
            neg |= flags::NEGOTIATE_ANONYMOUS;
            neg &= !(flags::NEGOTIATE_KEY_EXCH | flags::NEGOTIATE_SIGN | flags::NEGOTIATE_SEAL);
        }

        let sc = chal.server_challenge;
        let mut cc = [0u8; 8];
        match &self.fixed {
            Some(f) => cc = f.client_challenge,
            None => random_bytes(&mut cc),
        }

        let mut use_mic = false;
        let lm_response: Vec<u8>;
        let nt_response: Vec<u8>;
        let mut key_exchange_key: Option<Zeroizing<[u8; 16]>> = None;

        if anonymous {
            // §3.3.1 / §3.3.2 special case for anonymous authentication.
            lm_response = vec![0];
            nt_response = Vec::new();
        } else if self.opts.use_ntlm_v2 {
            let key = Zeroizing::new(nt_owf_v2(
                &self.creds.password,
                &self.creds.user,
                &self.creds.domain,
            ));
            let mut target_info = chal.target_info.clone();
            let server_time = target_info.timestamp();
            if server_time.is_some() {
                // §3.1.5.1.2: with MsvAvTimestamp the client sends a MIC and
                // says so in MsvAvFlags.
                use_mic = true;
                target_info.add_flags(av_flags::MIC_PRESENT);
            }
            let time = server_time
                .or(self.fixed.and_then(|f| f.timestamp))
                .unwrap_or(self.opts.client_time);
            let ti = target_info.encode()?;
            let (nt, lm, sbk) = ntlmv2_response(&key, &sc, &cc, time, &ti);
            let sbk = Zeroizing::new(sbk);
            nt_response = nt;
            lm_response = if use_mic { vec![0; 24] } else { lm.to_vec() };
            key_exchange_key = Some(Zeroizing::new(kxkey(
                neg,
                true,
                &sbk,
                &[0; 16],
                &lm_response,
                &sc,
            )));
        } else {
            let nt_key = Zeroizing::new(nt_owf_v1(&self.creds.password));
            let lm_key = Zeroizing::new(lm_owf_v1(&self.creds.password));
            if neg & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY != 0 {
                let (nt, lm) = ntlm2_session_response(&nt_key, &sc, &cc);
                nt_response = nt.to_vec();
                lm_response = lm.to_vec();
            } else {
                let nt = ntlmv1_response(&nt_key, &sc);
                nt_response = nt.to_vec();
                lm_response = if lm_password_representable(&self.creds.password) {
                    ntlmv1_response(&lm_key, &sc).to_vec()
                } else {
                    nt.to_vec()
                };
            }
            let sbk = Zeroizing::new(session_base_key_v1(&nt_key));
            key_exchange_key = Some(Zeroizing::new(kxkey(
                neg,
                false,
                &sbk,
                &lm_key,
                &lm_response,
                &sc,
            )));
        }

        let mut encrypted_key = Vec::new();
        let exported: Option<Zeroizing<[u8; 16]>> = match key_exchange_key {
            Some(kek) if neg & flags::NEGOTIATE_KEY_EXCH != 0 => {
                let mut k = Zeroizing::new([0u8; 16]);
                match &self.fixed {
                    Some(f) => *k = f.exported_session_key,
                    None => random_bytes(&mut k[..]),
                }
                encrypted_key = encrypt_session_key(&kek, &k).to_vec();
                Some(k)
            }
            other => other,
        };
        let use_mic = use_mic && exported.is_some();

        let msg = AuthenticateMessage {
            flags: neg,
            lm_challenge_response: lm_response,
            nt_challenge_response: nt_response,
            domain: self.creds.domain.clone(),
            user: self.creds.user.clone(),
            workstation: self.creds.workstation.clone(),
            encrypted_random_session_key: encrypted_key,
            version: Some(self.version),
            mic: use_mic.then_some([0u8; 16]),
        };
        let mut bytes = msg.encode()?;
        if let (true, Some(k)) = (use_mic, exported.as_ref()) {
            // MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE
            // with a zero MIC) (§3.1.5.1.2).
            let mic = hmac_md5(&k[..], &[&negotiate_msg, challenge, &bytes]);
            if let Some(slot) = bytes.get_mut(AUTHENTICATE_MIC_OFFSET..AUTHENTICATE_MIC_OFFSET + 16)
            {
                slot.copy_from_slice(&mic);
            }
        }

        self.neg_flags = neg;
        self.session = exported.as_ref().map(|k| NtlmSession::new(neg, k));
        self.exported_session_key = exported;
        self.mic_sent = use_mic;
        self.authenticated = true;
        Ok(bytes)
    }

    /// The ExportedSessionKey (MS-NLMP §3.1.5.1.2) after `authenticate`, which
    /// SMB uses as its session key; `None` before that and for anonymous logons.
    pub fn session_key(&self) -> Option<&[u8; 16]> {
        self.exported_session_key.as_deref()
    }

    /// The flags settled on in the AUTHENTICATE_MESSAGE (0 before `authenticate`).
    pub fn negotiated_flags(&self) -> u32 {
        self.neg_flags
    }

    /// True if the AUTHENTICATE_MESSAGE carried a MIC (MS-NLMP §3.1.5.1.2).
    pub fn mic_sent(&self) -> bool {
        self.mic_sent
    }

    /// The session security state, once authenticated with a session key.
    pub fn session_security(&mut self) -> Option<&mut NtlmSession> {
        self.session.as_mut()
    }

    /// Signs `msg` with the client-to-server keys (MS-NLMP §3.4.4) and advances
    /// the client sequence number. Without a session key (before
    /// `authenticate`, or anonymous) it returns a signature with version 1 and
    /// every other byte zero, which no server accepts as a real MAC.
    pub fn sign(&mut self, msg: &[u8]) -> [u8; 16] {
        match &mut self.session {
            Some(s) => s.sign(msg),
            None => {
                let mut sig = [0u8; 16];
                sig[0] = 1;
                sig
            }
        }
    }

    /// Verifies a signature from the server (MS-NLMP §3.4.4) and advances the
    /// server sequence number; always false without a session key.
    pub fn verify(&mut self, msg: &[u8], mac: &[u8]) -> bool {
        match &mut self.session {
            Some(s) => s.verify(msg, mac),
            None => false,
        }
    }
}
