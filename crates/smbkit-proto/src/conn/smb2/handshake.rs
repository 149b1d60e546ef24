//! The SMB2 handshake: the multi-protocol NEGOTIATE (with SMB1 detection),
//! the SMB2 NEGOTIATE, SESSION_SETUP with SPNEGO/NTLM, key derivation and
//! the encryption decision (MS-SMB2 §3.2.4.2, §3.2.5.2, §3.2.5.3); and the
//! re-authentication of the established session when the server says it
//! expired (MS-SMB2 §3.2.5.1.7, §3.2.4.2.3, §3.2.5.3.2; see
//! [`Smb2Connection::is_reauthenticating`]).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::{Event, Owner, Part, Request, Response, Signing, Smb2Connection, Stage};
use crate::conn::auth::Authenticator;
use crate::conn::{
    AuthHint, AuthStage, CommandCode, ConnError, HandshakeStep, HandshakeViolation, NoEncryption,
    RequestId, Transmit, Unsupported, Violation,
};
use crate::crypto::{
    derive_session_keys, Cipher, Decryptor, Encryptor, PreauthHash, Signer, SigningAlgorithm,
};
use crate::kerberos::ServiceTicket;
use crate::ntlm::{Credentials, NtlmOptions};
use crate::smb1;
use crate::smb2::header::Header;
use crate::smb2::ioctl::{ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse};
use crate::smb2::negotiate::{
    capabilities, hash_algorithm, security_mode, signing_algorithm, NegotiateContext,
    NegotiateRequest, NegotiateResponse,
};
use crate::smb2::session_setup::{session_flags, SessionSetupRequest, SessionSetupResponse};
use crate::{Command, Dialect, NtStatus};

/// SMB1 dialect strings of the multi-protocol NEGOTIATE (MS-SMB2 §3.2.4.2.1).
pub const NT_LM_012: &str = "NT LM 0.12";
const SMB2_002: &str = "SMB 2.002";
const SMB2_WILDCARD: &str = "SMB 2.???";

/// The largest frame accepted before NEGOTIATE settles the sizes.
pub const HANDSHAKE_MAX_FRAME: usize = 1024 * 1024;

/// Which protocol families to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// SMB 2/3, or SMB1 when the server speaks nothing newer: a
    /// multi-protocol NEGOTIATE first.
    #[default]
    Auto,
    /// SMB 2/3 only: the SMB2 NEGOTIATE straight away.
    Smb2Only,
    /// SMB1 only: a multi-protocol NEGOTIATE offering NT LM 0.12 alone.
    Smb1Only,
}

/// When to sign (pysmb's `sign_options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningPolicy {
    /// Never; a server that requires signing is refused.
    Never,
    /// Whenever the server supports it.
    WhenSupported,
    /// When the server requires it.
    #[default]
    WhenRequired,
}

/// When to encrypt (SMB 3.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptionPolicy {
    /// When the server asks for it, for the session or a share.
    #[default]
    IfRequired,
    /// The whole session whenever the server can.
    Preferred,
    /// The whole session, or no connection.
    Required,
}

/// What the handshake needs to know.
#[derive(Debug, Clone)]
pub struct Smb2Config {
    /// Which families to offer.
    pub family: Family,
    /// SMB1 only: ask for extended security (SPNEGO) in the NEGOTIATE.
    pub extended_security: bool,
    /// Direct TCP (3.1.1 is offered only there, MS-SMB2 §2.1).
    pub direct_tcp: bool,
    /// When to sign.
    pub signing: SigningPolicy,
    /// When to encrypt.
    pub encryption: EncryptionPolicy,
    /// The SMB 3.1.1 ciphers to offer, in order of preference.
    pub ciphers: Vec<Cipher>,
    /// Who logs on (an empty user name means an anonymous session).
    pub credentials: Credentials,
    /// NTLM settings, `client_time` included (this crate reads no clock).
    pub ntlm: NtlmOptions,
    /// A Kerberos ticket for the server: when set, the session
    /// authenticates with it (SPNEGO/Kerberos) instead of NTLM, and
    /// re-authenticates with it too (the driver obtains it from a KDC, see
    /// [`crate::kerberos::TicketRequest`]).
    pub kerberos: Option<ServiceTicket>,
    /// How long the whole handshake may take; also how long a
    /// re-authentication of the session (after STATUS_NETWORK_SESSION_EXPIRED)
    /// may take.
    pub limit: Duration,
    /// The ClientGuid of the NEGOTIATE (MS-SMB2 §2.2.3): the same one on
    /// every connection of one client, so that a server can match a
    /// reconnecting client's durable opens (§3.3.5.9.12) to it.
    pub client_guid: [u8; 16],
}

/// What the handshake settled on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Established {
    /// The server's NEGOTIATE response.
    pub negotiate: NegotiateResponse,
    /// The dialect in use.
    pub dialect: Dialect,
    /// The server requires signing.
    pub signing_required_by_server: bool,
    /// The session signs its messages.
    pub signing: bool,
    /// The signing algorithm when signing.
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// The cipher the connection can encrypt with.
    pub cipher: Option<Cipher>,
    /// Every message of the session is encrypted.
    pub encrypted: bool,
    /// The SessionFlags of the final SESSION_SETUP response.
    pub session_flags: u16,
    /// A guest session.
    pub is_guest: bool,
    /// An anonymous session.
    pub is_anonymous: bool,
    /// On 3.0 and 3.0.2 with a signing key: the connection validates the
    /// negotiation after the first tree connect (MS-SMB2 §3.2.5.5; see
    /// [`Smb2Connection::is_negotiate_validated`](super::Smb2Connection::is_negotiate_validated)).
    pub validates_negotiate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the answer to the multi-protocol NEGOTIATE.
    MultiProtocol,
    /// Waiting for the SMB2 NEGOTIATE response.
    Negotiate,
    /// SESSION_SETUP rounds.
    SessionSetup,
    /// Established, or handed over to SMB1.
    Done,
}

/// The handshake's state inside [`Smb2Connection`].
pub(crate) struct Handshake {
    config: Smb2Config,
    phase: Phase,
    /// When the connection was created: also what a re-authentication
    /// counts the NTLM client time from (see [`Reauth`]).
    started: Instant,
    deadline: Instant,
    max_frame: usize,
    /// The SMB1 dialects offered in the multi-protocol NEGOTIATE.
    smb1_dialects: &'static [&'static str],
    negotiate: Option<NegotiateResponse>,
    /// What the SMB2 NEGOTIATE said (for VALIDATE_NEGOTIATE_INFO).
    sent: Option<ValidateNegotiateInfoRequest>,
    offered: Vec<Dialect>,
    /// The SMB2 NEGOTIATE request as sent (for the preauth hash).
    negotiate_bytes: Vec<u8>,
    preauth: Option<PreauthHash>,
    want_signing: bool,
    signing_alg: SigningAlgorithm,
    cipher: Option<Cipher>,
    auth: Option<Authenticator>,
    anonymous: bool,
    rounds: u32,
}

impl Handshake {
    /// Who logs on, as errors name them: the Kerberos client principal, or
    /// the NTLM user name.
    pub(crate) fn logon_user(&self) -> String {
        match &self.config.kerberos {
            Some(t) => t.client.to_string(),
            None => self.config.credentials.user.clone(),
        }
    }

    pub(crate) fn new(config: Smb2Config, now: Instant) -> Handshake {
        Handshake {
            deadline: now + config.limit,
            config,
            phase: Phase::Negotiate,
            started: now,
            max_frame: HANDSHAKE_MAX_FRAME,
            smb1_dialects: &[],
            negotiate: None,
            sent: None,
            offered: Vec::new(),
            negotiate_bytes: Vec::new(),
            preauth: None,
            want_signing: false,
            signing_alg: SigningAlgorithm::HmacSha256,
            cipher: None,
            auth: None,
            anonymous: false,
            rounds: 0,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub(crate) fn expects_smb1(&self) -> bool {
        self.phase == Phase::MultiProtocol
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        (self.phase != Phase::Done).then_some(self.deadline)
    }

    pub(crate) fn max_frame(&self) -> usize {
        self.max_frame
    }

    pub(crate) fn timeout_error(&self) -> ConnError {
        ConnError::Timeout {
            operation: match self.phase {
                Phase::MultiProtocol | Phase::Negotiate => "negotiating the protocol",
                _ => "authenticating",
            },
            after: self.deadline.saturating_duration_since(self.started),
        }
    }

    /// Sees each handshake request as it goes out.
    pub(crate) fn on_sent(&mut self, command: Command, msg: &[u8]) {
        match command {
            Command::NEGOTIATE => self.negotiate_bytes = msg.to_vec(),
            Command::SESSION_SETUP => {
                if let Some(h) = self.preauth.as_mut() {
                    h.update(msg);
                }
            }
            _ => {}
        }
    }
}

/// A re-authentication of the established session in progress (MS-SMB2
/// §3.2.5.1.7, §3.2.4.2.3, §3.2.5.3.2), started when a caller's request is
/// answered STATUS_NETWORK_SESSION_EXPIRED.
///
/// Its SESSION_SETUP rounds carry the session's SessionId, are signed with
/// the session's key when it has one and never encrypted (§3.2.4.1.8); they
/// run a fresh SPNEGO/NTLM exchange with the configured credentials, whose
/// NTLMv2 client time is the configured one plus the time elapsed since the
/// connection was created (the core reads no clock). The session keeps its
/// keys: a re-authentication derives none (§3.2.5.3.2), and its final
/// response must verify with the existing signing key when the session
/// signs. Meanwhile no other request is sent ("the application SHOULD NOT
/// issue new requests until the reauthentication succeeds", §3.2.4.2.3):
/// they wait in the queue, and the expired requests wait in `held`.
///
/// On success the held requests are queued again first, in the order they
/// were started, and go out with new message ids. On failure (an error
/// status, a bad or missing signature, an NTLM error, a garbled answer, or
/// the configured [`Smb2Config::limit`] passing) the held requests fail with
/// the error and the connection closes ("the client MUST fail the operation
/// and terminate the session", §3.2.5.1.7).
pub(crate) struct Reauth {
    auth: Authenticator,
    rounds: u32,
    started: Instant,
    deadline: Instant,
    /// The caller's requests answered STATUS_NETWORK_SESSION_EXPIRED, back
    /// in [`Stage::Queued`] but in no queue, to send again once the session
    /// is re-authenticated. Ids that have since completed (timed out,
    /// withdrawn) are skipped.
    held: Vec<RequestId>,
}

/// At most this many SESSION_SETUP rounds per authentication.
const MAX_ROUNDS: u32 = 4;

fn dialects_for(direct_tcp: bool) -> Vec<Dialect> {
    let mut d = vec![
        Dialect::SMB2_0_2,
        Dialect::SMB2_1,
        Dialect::SMB3_0,
        Dialect::SMB3_0_2,
    ];
    // MS-SMB2 §2.1: 3.1.1 is not used over NetBIOS framing.
    if direct_tcp {
        d.push(Dialect::SMB3_1_1);
    }
    d
}

impl Smb2Connection {
    /// Queues the first NEGOTIATE.
    pub(super) fn begin_handshake(&mut self, now: Instant) {
        let hs = &mut self.handshake;
        if hs.config.family == Family::Smb2Only {
            self.send_negotiate(now);
            return;
        }
        let dialects: &'static [&'static str] = if hs.config.family == Family::Smb1Only {
            &[NT_LM_012]
        } else {
            &[NT_LM_012, SMB2_002, SMB2_WILDCARD]
        };
        let mut flags2 = smb1::header::flags2::UNICODE
            | smb1::header::flags2::NT_STATUS
            | smb1::header::flags2::LONG_NAMES;
        if hs.config.extended_security {
            flags2 |= smb1::header::flags2::EXTENDED_SECURITY;
        }
        hs.smb1_dialects = dialects;
        hs.phase = Phase::MultiProtocol;
        // The multi-protocol NEGOTIATE uses SMB2 MessageId 0 (MS-SMB2
        // §3.2.4.2.1).
        self.credits.consume_external(1);
        let t = smb1::negotiate::negotiate_request(dialects, flags2, 0)
            .map_err(ConnError::from)
            .and_then(|req| Transmit::new(req, Bytes::new()));
        match t {
            Ok(t) => self.book.transmits.push_back(t),
            Err(e) => self.shut_down(e),
        }
    }

    /// Takes the SMB1 answer to the multi-protocol NEGOTIATE.
    pub(super) fn handshake_smb1_response(
        &mut self,
        frame: &BytesMut,
        _now: Instant,
    ) -> Result<(), ConnError> {
        let r = smb1::negotiate::NegotiateResponse::decode(frame)
            .map_err(|e| Violation::decode("SMB1 NEGOTIATE response", e))?;
        let dialects = self.handshake.smb1_dialects;
        match dialects.get(usize::from(r.dialect_index)) {
            Some(&NT_LM_012) => {
                self.handshake.phase = Phase::Done;
                self.book.closed = Some(ConnError::NotConnected);
                self.book.push_event(Event::Smb1Negotiated(Box::new(r)));
                Ok(())
            }
            _ => Err(ConnError::Unsupported(Unsupported::NoCommonDialect {
                offered: dialects.iter().map(|d| d.to_string()).collect(),
            })),
        }
    }

    /// Takes an SMB2 frame during the multi-protocol phase: the NEGOTIATE
    /// response to the SMB1 request (MessageId 0).
    pub(super) fn handshake_multi_protocol_smb2(
        &mut self,
        frame: &[u8],
        now: Instant,
    ) -> Result<(), ConnError> {
        let (h, resp) = decode_negotiate(frame)?;
        if h.message_id != 0 {
            return Err(
                Violation::Handshake(HandshakeViolation::NegotiateMessageId(h.message_id)).into(),
            );
        }
        self.credits.grant(h.credits);
        if resp.dialect != Dialect::SMB2_WILDCARD {
            // The server chose SMB 2.0.2 from the SMB1 request directly.
            check_dialect(&resp, &[Dialect::SMB2_0_2])?;
            self.handshake.phase = Phase::Negotiate;
            return self.negotiated(resp, None, now);
        }
        self.handshake.phase = Phase::Negotiate;
        self.send_negotiate(now);
        Ok(())
    }

    fn send_negotiate(&mut self, now: Instant) {
        let hs = &mut self.handshake;
        hs.phase = Phase::Negotiate;
        let dialects = dialects_for(hs.config.direct_tcp);
        let mut salt = [0u8; 32];
        rand::fill(&mut salt[..]);
        let client_guid = hs.config.client_guid;
        let req = NegotiateRequest {
            dialects: dialects.clone(),
            security_mode: if hs.config.signing == SigningPolicy::WhenSupported {
                security_mode::SIGNING_ENABLED | security_mode::SIGNING_REQUIRED
            } else {
                security_mode::SIGNING_ENABLED
            },
            // Samba (and MS-SMB2 §3.3.5.4 for 3.0/3.0.2) only encrypts for a
            // client that announces SMB2_GLOBAL_CAP_ENCRYPTION, whatever
            // the dialect.
            // LEASING: the connection acknowledges lease breaks
            // (MS-SMB2 §3.2.5.19.2).
            capabilities: capabilities::LARGE_MTU
                | capabilities::ENCRYPTION
                | capabilities::LEASING,
            client_guid,
            contexts: vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![hash_algorithm::SHA512],
                    salt: salt.to_vec(),
                },
                NegotiateContext::Encryption {
                    ciphers: hs.config.ciphers.iter().map(|c| c.wire_id()).collect(),
                },
                NegotiateContext::Signing {
                    algorithms: vec![
                        signing_algorithm::AES_GMAC,
                        signing_algorithm::AES_CMAC,
                        signing_algorithm::HMAC_SHA256,
                    ],
                },
            ],
        };
        hs.sent = Some(ValidateNegotiateInfoRequest {
            capabilities: req.capabilities,
            guid: req.client_guid,
            security_mode: req.security_mode,
            dialects: req.dialects.iter().map(|d| d.0).collect(),
        });
        hs.offered = dialects;
        let deadline = hs.deadline;
        let started = Part::new(Command::NEGOTIATE, 0, 1, |w| req.encode(w))
            .map_err(ConnError::from)
            .and_then(|part| {
                self.start_owned(
                    Request::single(part, deadline, "NEGOTIATE"),
                    Owner::Handshake,
                    now,
                )
            });
        if let Err(e) = started {
            self.shut_down(e);
        }
    }

    /// Takes the response to a handshake request.
    pub(super) fn handshake_response(
        &mut self,
        id: RequestId,
        r: Response,
        now: Instant,
    ) -> Result<(), ConnError> {
        self.book.remove(id, false);
        match r.header.command {
            Command::NEGOTIATE => {
                let (_, resp) = decode_negotiate(&r.msg)?;
                let offered = self.handshake.offered.clone();
                check_dialect(&resp, &offered)?;
                let preauth = if resp.dialect == Dialect::SMB3_1_1 {
                    let ok = resp.contexts.iter().any(|c| {
                        matches!(c, NegotiateContext::PreauthIntegrity { hash_algorithms, .. }
                            if hash_algorithms.as_slice() == [hash_algorithm::SHA512])
                    });
                    if !ok {
                        return Err(
                            Violation::Handshake(HandshakeViolation::NoPreauthIntegrity).into()
                        );
                    }
                    let mut p = PreauthHash::new();
                    p.update(&self.handshake.negotiate_bytes);
                    p.update(&r.msg);
                    Some(p)
                } else {
                    None
                };
                self.negotiated(resp, preauth, now)
            }
            Command::SESSION_SETUP => self.session_setup_response(r, now),
            c => Err(
                Violation::Handshake(HandshakeViolation::OutOfOrder(CommandCode::Smb2(c))).into(),
            ),
        }
    }

    /// NEGOTIATE is settled: sizes, signing, cipher; the first
    /// SESSION_SETUP goes out.
    fn negotiated(
        &mut self,
        resp: NegotiateResponse,
        preauth: Option<PreauthHash>,
        now: Instant,
    ) -> Result<(), ConnError> {
        let dialect = resp.dialect;
        self.dialect = dialect;
        self.credits.set_large_mtu(
            dialect != Dialect::SMB2_0_2 && resp.capabilities & capabilities::LARGE_MTU != 0,
        );
        let hs = &mut self.handshake;
        let max_payload = resp
            .max_read_size
            .max(resp.max_transact_size)
            .max(resp.max_write_size) as usize;
        hs.max_frame = (max_payload + 64 * 1024).min(crate::nbss::DEFAULT_MAX_FRAME);
        let server_requires = resp.security_mode & security_mode::SIGNING_REQUIRED != 0;
        if server_requires && hs.config.signing == SigningPolicy::Never {
            return Err(ConnError::Unsupported(Unsupported::SigningForbidden));
        }
        hs.want_signing = match hs.config.signing {
            SigningPolicy::Never => false,
            SigningPolicy::WhenSupported => true,
            SigningPolicy::WhenRequired => server_requires,
        };
        hs.signing_alg = signing_algorithm_for(dialect, &resp);
        hs.cipher = connection_cipher(dialect, &resp, &hs.config.ciphers)?;
        if hs.config.encryption == EncryptionPolicy::Required && hs.cipher.is_none() {
            return Err(ConnError::Unsupported(Unsupported::EncryptionRequired(
                no_cipher_reason(dialect, resp.capabilities),
            )));
        }
        hs.preauth = preauth;
        hs.negotiate = Some(resp);
        hs.phase = Phase::SessionSetup;
        let creds = hs.config.credentials.clone();
        hs.anonymous = creds.is_anonymous() && hs.config.kerberos.is_none();
        let mut auth = Authenticator::new(&creds, hs.config.ntlm, hs.config.kerberos.as_ref());
        let token = auth.initial_token()?;
        hs.auth = Some(auth);
        self.send_session_setup(token, now);
        Ok(())
    }

    /// A SESSION_SETUP request carrying `token` (MS-SMB2 §2.2.5): no
    /// binding, no PreviousSessionId; the SessionId is the header's, which
    /// the connection writes (0 at first, the session's on later rounds
    /// and when re-authenticating).
    fn session_setup_part(&self, token: Vec<u8>) -> Result<Part, ConnError> {
        let req = SessionSetupRequest {
            flags: 0,
            security_mode: if self.handshake.want_signing {
                security_mode::SIGNING_REQUIRED as u8
            } else {
                security_mode::SIGNING_ENABLED as u8
            },
            capabilities: 0,
            previous_session_id: 0,
            security_buffer: token,
        };
        Ok(Part::new(Command::SESSION_SETUP, 0, 1, |w| req.encode(w))?)
    }

    fn send_session_setup(&mut self, token: Vec<u8>, now: Instant) {
        self.handshake.rounds += 1;
        let deadline = self.handshake.deadline;
        let started = self.session_setup_part(token).and_then(|part| {
            self.start_owned(
                Request {
                    signing: Signing::Session,
                    ..Request::single(part, deadline, "SESSION_SETUP")
                },
                Owner::Handshake,
                now,
            )
        });
        if let Err(e) = started {
            self.shut_down(e);
        }
    }

    /// Derives and installs the session's keys once the session key is
    /// known (after the AUTHENTICATE went out): on 3.1.1 the preauth hash
    /// then covers every message but the final response (MS-SMB2
    /// §3.2.5.3.1).
    pub(super) fn install_keys(&mut self) {
        let hs = &self.handshake;
        let Some(auth) = hs.auth.as_ref() else {
            return;
        };
        if hs.rounds < 2 && !auth.key_from_final_token() {
            return;
        }
        let Some(key) = auth.session_key16() else {
            return;
        };
        let keys = derive_session_keys(
            self.dialect,
            &key[..],
            hs.preauth.as_ref().map(|p| p.value()),
            hs.cipher.map(Cipher::wire_id),
        );
        let s = &mut self.session;
        s.signer = Some(std::sync::Arc::new(Signer::new(
            hs.signing_alg,
            &keys.signing_key,
        )));
        s.signing_required = hs.want_signing;
        if let Some(c) = hs.cipher {
            let mut salt = [0u8; 4];
            rand::fill(&mut salt[..]);
            s.encryptor = Encryptor::new(c, &keys.encryption_key, s.session_id, salt)
                .ok()
                .map(std::sync::Arc::new);
            s.decryptor = Decryptor::new(c, &keys.decryption_key, s.session_id)
                .ok()
                .map(std::sync::Arc::new);
        }
    }

    fn session_setup_response(&mut self, r: Response, now: Instant) -> Result<(), ConnError> {
        let status = r.header.status;
        self.session.session_id = r.header.session_id;
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            if self.handshake.rounds >= MAX_ROUNDS {
                return Err(
                    Violation::Handshake(HandshakeViolation::TooManyRounds(MAX_ROUNDS)).into(),
                );
            }
            if let Some(h) = self.handshake.preauth.as_mut() {
                h.update(&r.msg);
            }
            let resp = SessionSetupResponse::decode(&r.msg)
                .map_err(|e| Violation::decode("SESSION_SETUP response", e))?;
            let auth = self
                .handshake
                .auth
                .as_mut()
                .ok_or_else(session_setup_out_of_order)?;
            let token = auth.step(&resp.security_buffer)?;
            self.send_session_setup(token, now);
            return Ok(());
        }
        if status == NtStatus::SUCCESS {
            return self.session_established(r);
        }
        let user = self.handshake.logon_user();
        if status.is_logon_failure() {
            // What Samba and Windows answer a client that cannot encrypt
            // when they require encryption (MS-SMB2 §3.3.5.5).
            let hint = (status == NtStatus::ACCESS_DENIED && self.handshake.cipher.is_none())
                .then(|| AuthHint::MayRequireEncryption(no_cipher_reason(self.dialect, 0)));
            return Err(ConnError::AuthFailed {
                status,
                user,
                during: AuthStage::Logon,
                hint,
            });
        }
        Err(ConnError::HandshakeFailed {
            step: HandshakeStep::SessionSetup,
            status,
        })
    }

    fn session_established(&mut self, r: Response) -> Result<(), ConnError> {
        let resp = SessionSetupResponse::decode(&r.msg)
            .map_err(|e| Violation::decode("SESSION_SETUP response", e))?;
        let guest_or_null =
            resp.session_flags & (session_flags::IS_GUEST | session_flags::IS_NULL) != 0;
        // Kerberos: the session key is the AP-REP's subkey, known only now
        // (MS-KILE §3.1.1.2); the final response is signed with it.
        let mut finished = false;
        if let Some(auth) = self.handshake.auth.as_mut() {
            if auth.key_from_final_token() {
                auth.finish(&resp.security_buffer)?;
                finished = true;
                self.install_keys();
            }
        }
        let anonymous = self.handshake.anonymous;
        let want_signing = self.handshake.want_signing;
        if guest_or_null || anonymous {
            // Guest and anonymous sessions have no key to sign with.
            self.session.signer = None;
            self.session.signing_required = false;
        } else if r.header.is_signed() || want_signing {
            // The final response is signed with the new key when the
            // session is signed; on 3.x servers sign it in any case.
            self.verify(&r)?;
            if !r.header.is_signed() {
                return Err(Violation::Unsigned {
                    command: CommandCode::Smb2(Command::SESSION_SETUP),
                }
                .into());
            }
        }
        if let Some(auth) = self.handshake.auth.as_mut().filter(|_| !finished) {
            auth.finish(&resp.security_buffer)?;
        }
        let server_asks = resp.session_flags & session_flags::ENCRYPT_DATA != 0;
        let encrypted = self.decide_encryption(server_asks, guest_or_null || anonymous)?;
        let hs = &mut self.handshake;
        hs.phase = Phase::Done;
        hs.auth = None;
        let Some(negotiate) = hs.negotiate.take() else {
            return Err(session_setup_out_of_order());
        };
        let signing = !(guest_or_null || anonymous) && want_signing;
        let signing_key_known = !(guest_or_null || anonymous);
        let validation = match (self.dialect, hs.sent.take()) {
            (Dialect::SMB3_0 | Dialect::SMB3_0_2, Some(sent)) if signing_key_known => Some((
                sent,
                ValidateNegotiateInfoResponse {
                    capabilities: negotiate.capabilities,
                    guid: negotiate.server_guid,
                    security_mode: negotiate.security_mode,
                    dialect: negotiate.dialect.0,
                },
            )),
            _ => None,
        };
        let e = Established {
            dialect: self.dialect,
            signing_required_by_server: negotiate.security_mode & security_mode::SIGNING_REQUIRED
                != 0,
            signing,
            signing_algorithm: signing.then_some(hs.signing_alg),
            cipher: hs.cipher,
            encrypted,
            session_flags: resp.session_flags,
            is_guest: resp.session_flags & session_flags::IS_GUEST != 0,
            is_anonymous: anonymous || resp.session_flags & session_flags::IS_NULL != 0,
            validates_negotiate: validation.is_some(),
            negotiate,
        };
        if let Some((sent, expected)) = validation {
            self.expect_validation(sent, expected);
        }
        self.book.push_event(Event::Established(Box::new(e)));
        Ok(())
    }

    /// Settles Session.EncryptData once the session is established: what
    /// the server asked for (SMB2_SESSION_FLAG_ENCRYPT_DATA) and what the
    /// policy asks for. Returns whether the session encrypts.
    fn decide_encryption(
        &mut self,
        server_asks: bool,
        guest_or_anonymous: bool,
    ) -> Result<bool, ConnError> {
        let s = &mut self.session;
        if guest_or_anonymous {
            // MS-SMB2 §3.2.4.1.8: a guest or anonymous session has no keys
            // and is never encrypted.
            s.encryptor = None;
            s.decryptor = None;
        }
        let can = s.encryptor.is_some() && s.decryptor.is_some();
        let cipher = self.handshake.cipher;
        let dialect = self.dialect;
        let why_not = || {
            if guest_or_anonymous {
                NoEncryption::GuestOrAnonymous
            } else if cipher.is_none() {
                no_cipher_reason(dialect, 0)
            } else {
                NoEncryption::NoKeys
            }
        };
        let on = match self.handshake.config.encryption {
            _ if server_asks && !can => {
                return Err(ConnError::Unsupported(
                    Unsupported::SessionRequiresEncryption(why_not()),
                ))
            }
            EncryptionPolicy::Required if !can => {
                return Err(ConnError::Unsupported(Unsupported::EncryptionRequired(
                    why_not(),
                )))
            }
            EncryptionPolicy::Required | EncryptionPolicy::Preferred => can,
            EncryptionPolicy::IfRequired => server_asks,
        };
        s.encrypt_all = on;
        Ok(on)
    }
}

/// The re-authentication of an expired session (see [`Reauth`]).
impl Smb2Connection {
    /// A caller's request `id` was answered STATUS_NETWORK_SESSION_EXPIRED
    /// (MS-SMB2 §3.2.5.1.7) and is back in [`Stage::Queued`]: it joins the
    /// re-authentication in progress, or starts one; a request sent before
    /// the last re-authentication succeeded (`sent_in` counts those that
    /// had) is simply sent again, the session being fresh already.
    pub(super) fn session_expired(&mut self, id: RequestId, sent_in: u64, now: Instant) {
        if let Some(re) = self.reauth.as_mut() {
            re.held.push(id);
            return;
        }
        if sent_in < self.reauths {
            self.book.queue.push_front(id);
            return;
        }
        self.begin_reauth(id, now);
    }

    /// Starts re-authenticating the session (MS-SMB2 §3.2.4.2.3) for the
    /// held request `first`: a new SPNEGO/NTLM exchange, its first
    /// SESSION_SETUP out with the session's SessionId.
    fn begin_reauth(&mut self, first: RequestId, now: Instant) {
        let hs = &self.handshake;
        let mut ntlm = hs.config.ntlm;
        if ntlm.client_time != 0 {
            // The NTLMv2 blob's time (MS-NLMP §3.1.5.1.2) must be current:
            // the configured time was taken when the connection was made.
            let elapsed = now.saturating_duration_since(hs.started);
            let ticks = u64::try_from(elapsed.as_nanos() / 100).unwrap_or(u64::MAX);
            ntlm.client_time = ntlm.client_time.saturating_add(ticks);
        }
        let mut auth =
            Authenticator::new(&hs.config.credentials, ntlm, hs.config.kerberos.as_ref());
        let token = auth.initial_token();
        let deadline = now + hs.config.limit;
        tracing::info!(
            session_id = self.session.session_id,
            "the session expired; re-authenticating it"
        );
        self.reauth = Some(Reauth {
            auth,
            rounds: 0,
            started: now,
            deadline,
            held: vec![first],
        });
        match token {
            Ok(token) => self.send_reauth_setup(token, now),
            Err(e) => self.reauth_failed(e),
        }
    }

    /// Sends the next SESSION_SETUP of the re-authentication.
    fn send_reauth_setup(&mut self, token: Vec<u8>, now: Instant) {
        let Some(re) = self.reauth.as_mut() else {
            return;
        };
        re.rounds += 1;
        let deadline = re.deadline;
        let started = self.session_setup_part(token).and_then(|part| {
            self.start_owned(
                Request::single(part, deadline, "re-authenticating the session"),
                Owner::Reauth,
                now,
            )
        });
        if let Err(e) = started {
            self.reauth_failed(e);
        }
    }

    /// When the re-authentication in progress must be done.
    pub(super) fn reauth_deadline(&self) -> Option<Instant> {
        self.reauth.as_ref().map(|re| re.deadline)
    }

    /// The timeout of the re-authentication in progress, if its deadline
    /// has passed at `now`.
    pub(super) fn reauth_timed_out(&self, now: Instant) -> Option<ConnError> {
        let re = self.reauth.as_ref()?;
        (now >= re.deadline).then(|| ConnError::Timeout {
            operation: "re-authenticating the session",
            after: re.deadline.saturating_duration_since(re.started),
        })
    }

    /// Takes the response to a re-authentication's SESSION_SETUP (MS-SMB2
    /// §3.2.5.3.2); whatever goes wrong fails the re-authentication.
    pub(super) fn reauth_response(
        &mut self,
        id: RequestId,
        r: Response,
        now: Instant,
    ) -> Result<(), ConnError> {
        self.book.remove(id, false);
        if let Err(e) = self.reauth_step(r, now) {
            self.reauth_failed(e);
        }
        Ok(())
    }

    fn reauth_step(&mut self, r: Response, now: Instant) -> Result<(), ConnError> {
        if self.reauth.is_none() {
            return Err(session_setup_out_of_order());
        }
        let session_id = self.session.session_id;
        if r.header.session_id != session_id {
            return Err(Violation::Handshake(HandshakeViolation::WrongSession {
                expected: session_id,
                actual: r.header.session_id,
            })
            .into());
        }
        let status = r.header.status;
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            // Signed with Session.SigningKey when the server signs it
            // (MS-SMB2 §3.2.5.1.3); an unsigned one is taken, the final
            // response being what proves the exchange.
            if r.header.is_signed() {
                self.verify(&r)?;
            }
            let resp = SessionSetupResponse::decode(&r.msg)
                .map_err(|e| Violation::decode("SESSION_SETUP response", e))?;
            let Some(re) = self.reauth.as_mut() else {
                return Ok(());
            };
            if re.rounds >= MAX_ROUNDS {
                return Err(
                    Violation::Handshake(HandshakeViolation::TooManyRounds(MAX_ROUNDS)).into(),
                );
            }
            let token = re.auth.step(&resp.security_buffer)?;
            self.send_reauth_setup(token, now);
            return Ok(());
        }
        if status != NtStatus::SUCCESS {
            return Err(self.reauth_refused(status));
        }
        let resp = SessionSetupResponse::decode(&r.msg)
            .map_err(|e| Violation::decode("SESSION_SETUP response", e))?;
        // The final response is signed with the session's existing key
        // when the session signs (no new keys: MS-SMB2 §3.2.5.3.2), and a
        // signature is checked whenever there is one.
        self.verify(&r)?;
        if let Some(re) = self.reauth.as_mut() {
            re.auth.finish(&resp.security_buffer)?;
        }
        self.reauth_succeeded();
        Ok(())
    }

    /// The error of a re-authentication the server refused with `status`.
    fn reauth_refused(&self, status: NtStatus) -> ConnError {
        if status.is_logon_failure() {
            return ConnError::AuthFailed {
                status,
                user: self.handshake.logon_user(),
                during: AuthStage::Reauthentication,
                hint: None,
            };
        }
        ConnError::HandshakeFailed {
            step: HandshakeStep::Reauthentication,
            status,
        }
    }

    /// The session is re-authenticated: the held requests go out again
    /// first, in the order they were started.
    fn reauth_succeeded(&mut self) {
        let Some(re) = self.reauth.take() else {
            return;
        };
        self.reauths += 1;
        let mut held = re.held;
        held.sort();
        held.dedup();
        tracing::info!(
            requests = held.len(),
            "the session is re-authenticated; sending the expired requests again"
        );
        for id in held.into_iter().rev() {
            let queued = self
                .book
                .requests
                .get(&id)
                .is_some_and(|r| matches!(r.stage, Stage::Queued(_)));
            if queued {
                self.book.queue.push_front(id);
            }
        }
    }

    /// The re-authentication failed with `e` (MS-SMB2 §3.2.5.1.7: "the
    /// client MUST fail the operation and terminate the session"): the
    /// held requests fail with `e`, and the connection closes.
    pub(super) fn reauth_failed(&mut self, e: ConnError) {
        if let Some(re) = self.reauth.take() {
            tracing::warn!(error = %e, "the re-authentication of the session failed");
            let mut held = re.held;
            held.sort();
            held.dedup();
            for id in held {
                if let Some(r) = self.book.remove(id, true) {
                    self.book.complete(id, r.owner, Err(e.clone()));
                }
            }
        }
        self.shut_down(e);
    }
}

/// A SESSION_SETUP response that comes when none is expected.
fn session_setup_out_of_order() -> ConnError {
    Violation::Handshake(HandshakeViolation::OutOfOrder(CommandCode::Smb2(
        Command::SESSION_SETUP,
    )))
    .into()
}

fn decode_negotiate(frame: &[u8]) -> Result<(Header, NegotiateResponse), ConnError> {
    let h = Header::decode(frame).map_err(|e| Violation::decode("NEGOTIATE response", e))?;
    if h.command != Command::NEGOTIATE || !h.is_response() {
        return Err(
            Violation::Handshake(HandshakeViolation::OutOfOrder(CommandCode::Smb2(h.command)))
                .into(),
        );
    }
    if h.status != NtStatus::SUCCESS {
        return Err(ConnError::HandshakeFailed {
            step: HandshakeStep::Negotiate,
            status: h.status,
        });
    }
    let r =
        NegotiateResponse::decode(frame).map_err(|e| Violation::decode("NEGOTIATE response", e))?;
    Ok((h, r))
}

fn check_dialect(r: &NegotiateResponse, offered: &[Dialect]) -> Result<(), ConnError> {
    if offered.contains(&r.dialect) {
        Ok(())
    } else {
        Err(Violation::Handshake(HandshakeViolation::DialectNotOffered(r.dialect)).into())
    }
}

/// The signing algorithm for the dialect (MS-SMB2 §3.1.4.1): HMAC-SHA256
/// for 2.x, AES-CMAC for 3.0/3.0.2, and for 3.1.1 what the server chose in
/// its signing-capabilities context (AES-CMAC if it sent none).
fn signing_algorithm_for(dialect: Dialect, r: &NegotiateResponse) -> SigningAlgorithm {
    if !dialect.is_smb3() {
        return SigningAlgorithm::HmacSha256;
    }
    if dialect == Dialect::SMB3_1_1 {
        for c in &r.contexts {
            if let NegotiateContext::Signing { algorithms } = c {
                if let Some(a) = algorithms
                    .first()
                    .and_then(|&a| SigningAlgorithm::from_wire(a))
                {
                    return a;
                }
            }
        }
    }
    SigningAlgorithm::AesCmac
}

/// The cipher the connection encrypts with (Connection.CipherId for
/// 3.1.1, AES-128-CCM for 3.0/3.0.2 when the server announced
/// SMB2_GLOBAL_CAP_ENCRYPTION), or `None` if it cannot encrypt.
fn connection_cipher(
    dialect: Dialect,
    r: &NegotiateResponse,
    offered: &[Cipher],
) -> Result<Option<Cipher>, ConnError> {
    if dialect == Dialect::SMB3_1_1 {
        let chosen = r.contexts.iter().find_map(|c| match c {
            NegotiateContext::Encryption { ciphers } => Some(ciphers.clone()),
            _ => None,
        });
        let Some(chosen) = chosen else {
            return Ok(None);
        };
        // MS-SMB2 §3.2.5.2: exactly one cipher, 0 meaning none in common.
        return match chosen.as_slice() {
            [0] => Ok(None),
            [id] => match Cipher::from_wire(*id) {
                Some(c) if offered.contains(&c) => Ok(Some(c)),
                _ => Err(Violation::Handshake(HandshakeViolation::CipherNotOffered(*id)).into()),
            },
            _ => Err(Violation::Handshake(HandshakeViolation::CipherCount(chosen.len())).into()),
        };
    }
    if dialect.is_smb3() && r.capabilities & capabilities::ENCRYPTION != 0 {
        return Ok(Some(Cipher::Aes128Ccm));
    }
    Ok(None)
}

/// Why a connection of `dialect` with these server capabilities cannot
/// encrypt, for error messages.
pub fn no_cipher_reason(dialect: Dialect, server_capabilities: u32) -> NoEncryption {
    if !dialect.is_smb3() {
        NoEncryption::DialectTooOld(dialect)
    } else if dialect == Dialect::SMB3_1_1 {
        NoEncryption::NoCommonCipher
    } else if server_capabilities & capabilities::ENCRYPTION == 0 {
        NoEncryption::NotOffered(dialect)
    } else {
        NoEncryption::NoCipher
    }
}

#[cfg(test)]
impl Handshake {
    /// Skips the handshake (for tests that script an established session).
    pub(crate) fn mark_done(&mut self) {
        self.phase = Phase::Done;
    }
}
