//! The SMB1 session setup, once NEGOTIATE has chosen NT LM 0.12:
//! SESSION_SETUP_ANDX with SPNEGO/NTLM (extended security, MS-SMB
//! §3.2.4.2.4) or with NTLM responses in the password fields (MS-CIFS
//! §3.2.4.2.4), and the activation of signing (MS-CIFS §3.2.5.3).

use std::time::{Duration, Instant};

use super::{Event, Kind, Owner, Reply, Request, Response, Smb1Connection};
use crate::conn::auth::Authenticator;
use crate::conn::smb2::handshake::SigningPolicy;
use crate::conn::{ConnError, Violation};
use crate::kerberos::ServiceTicket;
use crate::ntlm::{Credentials, NtlmOptions};
use crate::smb1::header::{command, flags2};
use crate::smb1::negotiate::security_mode::{
    SECURITY_SIGNATURES_ENABLED, SECURITY_SIGNATURES_REQUIRED,
};
use crate::smb1::negotiate::{capabilities as caps, NegotiateResponse};
use crate::smb1::session_setup::{
    PlainLogon, SessionSetupRequestExtended, SessionSetupRequestNtlm, SessionSetupResponseExtended,
    SessionSetupResponseNtlm, ACTION_GUEST,
};
use crate::smb1::signing::Smb1Signer;
use crate::NtStatus;

/// What the session setup needs to know.
#[derive(Debug, Clone)]
pub struct Smb1Setup {
    /// The server's NEGOTIATE response (NT LM 0.12).
    pub negotiate: NegotiateResponse,
    /// Who logs on (an empty user name and password: anonymous).
    pub credentials: Credentials,
    /// NTLM settings, `client_time` included (this crate reads no clock).
    pub ntlm: NtlmOptions,
    /// A Kerberos ticket for the server: when set (and the server speaks
    /// extended security), the session authenticates with it instead of NTLM.
    pub kerberos: Option<ServiceTicket>,
    /// When to sign.
    pub signing: SigningPolicy,
    /// The MaxBufferSize the client announces: the largest message the
    /// server may send it (larger transaction responses come in parts).
    pub max_buffer_size: u16,
    /// How long the session setup may take.
    pub limit: Duration,
}

/// What the session setup settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Smb1Established {
    /// A guest session.
    pub guest: bool,
    /// An anonymous session.
    pub anonymous: bool,
    /// Messages are signed.
    pub signing: bool,
}

/// The session setup's state inside [`Smb1Connection`].
pub(crate) struct Handshake1 {
    setup: Smb1Setup,
    want_signing: bool,
    anonymous: bool,
    auth: Option<Authenticator>,
    /// Without extended security: the logon whose responses went in the
    /// password fields.
    plain: Option<PlainLogon>,
    rounds: u32,
    deadline: Instant,
    started: Instant,
}

impl Handshake1 {
    pub(crate) fn timeout_error(&self) -> ConnError {
        ConnError::Timeout {
            operation: "authenticating",
            after: self.deadline.saturating_duration_since(self.started),
        }
    }
}

/// The capabilities the client announces.
const CLIENT_CAPS: u32 = caps::UNICODE
    | caps::NT_SMBS
    | caps::NT_STATUS
    | caps::LARGE_FILES
    | caps::LARGE_READX
    | caps::LARGE_WRITEX;

impl Smb1Connection {
    /// An SMB1 connection that starts with its session setup at `now`:
    /// [`Event::Established`] ends it, [`Event::Closed`] says why it
    /// failed. Requests are refused until then.
    pub fn with_session_setup(
        config: super::Smb1Config,
        setup: Smb1Setup,
        now: Instant,
    ) -> Smb1Connection {
        let mut c = Smb1Connection::new(config);
        let neg = &setup.negotiate;
        let server_requires = neg.security_mode & SECURITY_SIGNATURES_REQUIRED != 0;
        let server_supports = neg.security_mode & SECURITY_SIGNATURES_ENABLED != 0;
        let want_signing = match setup.signing {
            SigningPolicy::Never => false,
            SigningPolicy::WhenSupported => server_supports,
            SigningPolicy::WhenRequired => server_requires,
        };
        let anonymous = setup.credentials.is_anonymous() && setup.kerberos.is_none();
        let refuse = (server_requires && setup.signing == SigningPolicy::Never).then_some(
            ConnError::Unsupported(crate::conn::Unsupported::SigningForbidden),
        );
        c.handshake = Some(Handshake1 {
            deadline: now + setup.limit,
            started: now,
            setup,
            want_signing,
            anonymous,
            auth: None,
            plain: None,
            rounds: 0,
        });
        if let Some(e) = refuse {
            c.shut_down(e);
            return c;
        }
        c.offer_signing(want_signing && !anonymous);
        if let Err(e) = c.first_session_setup(now) {
            c.shut_down(e);
        }
        c
    }

    fn first_session_setup(&mut self, now: Instant) -> Result<(), ConnError> {
        let Some(hs) = self.handshake.as_mut() else {
            return Ok(());
        };
        let neg = &hs.setup.negotiate;
        if neg.capabilities & caps::EXTENDED_SECURITY != 0 {
            let mut auth = Authenticator::new(
                &hs.setup.credentials,
                hs.setup.ntlm,
                hs.setup.kerberos.as_ref(),
            );
            let token = auth.initial_token()?;
            hs.auth = Some(auth);
            return self.send_setup_extended(token, now);
        }
        if let Some(t) = &hs.setup.kerberos {
            return Err(ConnError::Unsupported(
                crate::conn::Unsupported::KerberosWithoutExtendedSecurity {
                    principal: t.client.to_string(),
                },
            ));
        }
        let challenge = neg.challenge.ok_or(Violation::Handshake(
            crate::conn::HandshakeViolation::NoChallenge,
        ))?;
        let creds = &hs.setup.credentials;
        let logon = if hs.anonymous {
            None
        } else if hs.setup.ntlm.use_ntlm_v2 {
            let mut client_challenge = [0u8; 8];
            rand::fill(&mut client_challenge[..]);
            Some(PlainLogon::ntlm_v2(
                &creds.password,
                &creds.user,
                &creds.domain,
                &challenge,
                &client_challenge,
                hs.setup.ntlm.client_time,
            ))
        } else {
            Some(PlainLogon::ntlm_v1(&creds.password, &challenge))
        };
        let (lm, nt) = logon.as_ref().map_or((Vec::new(), Vec::new()), |l| {
            (l.oem_password.clone(), l.unicode_password.clone())
        });
        let req = SessionSetupRequestNtlm {
            max_buffer_size: hs.setup.max_buffer_size,
            max_mpx_count: neg.max_mpx_count,
            vc_number: 1,
            session_key: neg.session_key,
            capabilities: CLIENT_CAPS,
            oem_password: lm,
            unicode_password: nt,
            account_name: creds.user.clone(),
            primary_domain: creds.domain.clone(),
            native_os: "Unix".into(),
            native_lanman: "smbkit".into(),
        };
        hs.plain = logon;
        hs.rounds += 1;
        let deadline = hs.deadline;
        let r = Request::new(
            command::SESSION_SETUP_ANDX,
            0,
            deadline,
            "SESSION_SETUP_ANDX",
            |w| req.encode(w),
        )?;
        self.start_owned(r, Owner::Handshake, now).map(|_| ())
    }

    fn send_setup_extended(&mut self, token: Vec<u8>, now: Instant) -> Result<(), ConnError> {
        let Some(hs) = self.handshake.as_mut() else {
            return Ok(());
        };
        hs.rounds += 1;
        if hs.rounds > 4 {
            return Err(
                Violation::Handshake(crate::conn::HandshakeViolation::TooManyRounds(4)).into(),
            );
        }
        let neg = &hs.setup.negotiate;
        let req = SessionSetupRequestExtended {
            max_buffer_size: hs.setup.max_buffer_size,
            max_mpx_count: neg.max_mpx_count,
            vc_number: 1,
            session_key: neg.session_key,
            capabilities: CLIENT_CAPS | caps::EXTENDED_SECURITY,
            security_blob: token,
            native_os: "Unix".into(),
            native_lanman: "smbkit".into(),
        };
        let deadline = hs.deadline;
        let mut r = Request::new(
            command::SESSION_SETUP_ANDX,
            0,
            deadline,
            "SESSION_SETUP_ANDX",
            |w| req.encode(w),
        )?;
        r.kind = Kind::One;
        self.start_owned(r, Owner::Handshake, now).map(|_| ())
    }

    /// Takes the answer to a SESSION_SETUP_ANDX.
    pub(super) fn session_setup_answer(
        &mut self,
        result: Result<Reply, ConnError>,
        now: Instant,
    ) -> Result<(), ConnError> {
        let r = match result? {
            Reply::One(r) => r,
            Reply::Trans(_) => {
                return Err(
                    Violation::Handshake(crate::conn::HandshakeViolation::OutOfOrder(
                        crate::conn::CommandCode::Smb1(command::SESSION_SETUP_ANDX),
                    ))
                    .into(),
                )
            }
        };
        self.set_uid(r.header.uid);
        let status = r.header.status;
        let Some(hs) = self.handshake.as_mut() else {
            return Ok(());
        };
        if status == NtStatus::MORE_PROCESSING_REQUIRED && hs.auth.is_some() {
            let resp = decode_extended(&r)?;
            let token = match hs.auth.as_mut() {
                Some(auth) => auth.step(&resp.security_blob)?,
                None => Vec::new(),
            };
            return self.send_setup_extended(token, now);
        }
        if status != NtStatus::SUCCESS {
            let user = match &hs.setup.kerberos {
                Some(t) => t.client.to_string(),
                None => hs.setup.credentials.user.clone(),
            };
            if status.is_logon_failure() {
                return Err(ConnError::AuthFailed {
                    status,
                    user,
                    during: crate::conn::AuthStage::Logon,
                    hint: None,
                });
            }
            return Err(ConnError::HandshakeFailed {
                step: crate::conn::HandshakeStep::SessionSetup,
                status,
            });
        }
        let anonymous = hs.anonymous;
        let want_signing = hs.want_signing;
        let server_requires = hs.setup.negotiate.security_mode & SECURITY_SIGNATURES_REQUIRED != 0;
        let (guest, signer, hint) = if let Some(mut auth) = hs.auth.take() {
            let resp = decode_extended(&r)?;
            auth.finish(&resp.security_blob)?;
            let guest = resp.action & ACTION_GUEST != 0;
            // MS-SMB §3.2.5.3: the MAC key is the session key.
            let signer = auth
                .session_key_bytes()
                .filter(|_| want_signing && !guest && !anonymous)
                .map(|key| Smb1Signer::new(key.to_vec()));
            (guest, signer, "")
        } else {
            let resp = SessionSetupResponseNtlm::decode(&r.msg)
                .map_err(|e| Violation::decode("SESSION_SETUP_ANDX response", e))?;
            let guest = resp.action & ACTION_GUEST != 0;
            // MS-CIFS §3.2.5.3: the NT session key followed by the NT
            // response.
            let signer = hs
                .plain
                .take()
                .filter(|_| want_signing && !guest)
                .map(|l| l.signer());
            (
                guest,
                signer,
                " to a logon without extended security (Samba does not sign such sessions); \
                 leave extended_security on",
            )
        };
        if let Some(signer) = signer {
            self.start_signing(signer, &r, server_requires, hint)?;
        }
        self.offer_signing(false);
        self.handshake = None;
        self.book.push_event(Event::Established(Smb1Established {
            guest,
            anonymous,
            signing: self.signing(),
        }));
        Ok(())
    }

    /// Starts signing with `signer` after the final SESSION_SETUP_ANDX
    /// response `r`, which carries sequence number 1; requests go on from
    /// 2. A response that is not signed means the server has not started
    /// signing: an error if it requires signing, else the session goes on
    /// unsigned. A signature that does not verify is an error.
    fn start_signing(
        &mut self,
        signer: Smb1Signer,
        r: &Response,
        server_requires: bool,
        unsigned_hint: &'static str,
    ) -> Result<(), ConnError> {
        if signer.verify(&r.msg, 1) {
            self.activate_signing(signer, 2);
            Ok(())
        } else if is_signed(r) {
            Err(Violation::BadSignature {
                command: crate::conn::CommandCode::Smb1(command::SESSION_SETUP_ANDX),
            }
            .into())
        } else if server_requires {
            Err(ConnError::Unsupported(
                crate::conn::Unsupported::ServerDidNotSign {
                    hint: unsigned_hint,
                },
            ))
        } else {
            tracing::debug!("the server did not start signing; the session is unsigned");
            Ok(())
        }
    }
}

/// Whether a response carries a signature: SMB_FLAGS2_SMB_SECURITY_SIGNATURE
/// and a SecuritySignature other than zeros or the "BSRSPYL " that servers
/// put in an unsigned SESSION_SETUP_ANDX response (Samba, like Windows,
/// sends it before signing is active).
fn is_signed(r: &Response) -> bool {
    let sig = &r.header.security_features;
    r.header.flags2 & flags2::SECURITY_SIGNATURE != 0 && sig != &[0; 8] && sig != b"BSRSPYL "
}

fn decode_extended(r: &Response) -> Result<SessionSetupResponseExtended, ConnError> {
    SessionSetupResponseExtended::decode(&r.msg)
        .map_err(|e| Violation::decode("SESSION_SETUP_ANDX response", e).into())
}
