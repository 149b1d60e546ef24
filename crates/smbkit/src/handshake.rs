//! Connection establishment: transport, NEGOTIATE (with SMB1 detection) and
//! SESSION_SETUP with SPNEGO/NTLM (MS-SMB2 §3.2.4.2, §3.2.5.2, §3.2.5.3).

use std::sync::Arc;

use smbkit_proto::crypto::{
    derive_session_keys, Cipher, Decryptor, Encryptor, PreauthHash, Signer, SigningAlgorithm,
};
use smbkit_proto::ntlm::{Credentials, NtlmOptions, SpnegoNtlm};
use smbkit_proto::smb1;
use smbkit_proto::smb2::header::Header;
use smbkit_proto::smb2::ioctl::{ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse};
use smbkit_proto::smb2::negotiate::{
    capabilities, hash_algorithm, security_mode, signing_algorithm, NegotiateContext,
    NegotiateRequest, NegotiateResponse,
};
use smbkit_proto::smb2::session_setup::{session_flags, SessionSetupRequest, SessionSetupResponse};
use smbkit_proto::state::Credits;
use smbkit_proto::{Command, Dialect, NtStatus, Writer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::ToSocketAddrs;
use tokio::time::Instant;

use crate::connection::{Backend, Connection, ServerInfo};
use crate::driver::Shared;
use crate::error::{describe_status, Error, ProtocolError};
use crate::factory::{Encryption, Protocol, SignOptions, SmbProtocolFactory};
use crate::transport;

/// SMB1 dialect strings of the multi-protocol NEGOTIATE (MS-SMB2 §3.2.4.2.1).
const NT_LM_012: &str = "NT LM 0.12";
const SMB2_002: &str = "SMB 2.002";
const SMB2_WILDCARD: &str = "SMB 2.???";

pub(crate) async fn connect<A: ToSocketAddrs>(
    f: SmbProtocolFactory,
    addr: A,
) -> Result<Connection, Error> {
    let limit = f.connect_timeout;
    let deadline = Instant::now() + limit;
    let mut stream = transport::open(
        addr,
        f.direct_tcp,
        &f.remote_name,
        &f.my_name,
        deadline,
        limit,
    )
    .await?;
    let timeout = |what: &'static str| Error::Timeout {
        operation: what,
        after: limit,
    };
    let neg = match tokio::time::timeout_at(deadline, negotiate(&f, &mut stream))
        .await
        .map_err(|_| timeout("negotiating the protocol"))??
    {
        Outcome::Smb2(n) => n,
        Outcome::Smb1(n) => {
            return tokio::time::timeout_at(
                deadline,
                crate::smb1ops::connect(f, stream, n, deadline),
            )
            .await
            .map_err(|_| timeout("authenticating"))?;
        }
    };

    let dialect = neg.response.dialect;
    let server_requires = neg.response.security_mode & security_mode::SIGNING_REQUIRED != 0;
    if server_requires && f.sign_options == SignOptions::Never {
        return Err(Error::Unsupported(
            "the server requires signing, but sign_options is Never; use WhenRequired or WhenSupported"
                .into(),
        ));
    }
    let want_signing = match f.sign_options {
        SignOptions::Never => false,
        SignOptions::WhenSupported => true,
        SignOptions::WhenRequired => server_requires,
    };

    let mut credits = Credits::new();
    credits.consume_external(neg.message_ids_used);
    credits.grant(neg.credits_granted);
    credits.set_large_mtu(
        dialect != Dialect::SMB2_0_2 && neg.response.capabilities & capabilities::LARGE_MTU != 0,
    );
    let (rd, wr) = stream.into_split();
    // The largest message the server may send: a READ or IOCTL/QUERY
    // response of the negotiated size plus headers, within NBSS's 24 bits.
    let r = &neg.response;
    let max_payload = r
        .max_read_size
        .max(r.max_transact_size)
        .max(r.max_write_size) as usize;
    let max_frame = (max_payload + 64 * 1024).min(smbkit_proto::nbss::DEFAULT_MAX_FRAME);
    let (shared, tasks) = Shared::start(rd, wr, credits, dialect, max_frame);

    let signing_alg = signing_algorithm_for(dialect, &neg.response);
    let cipher = connection_cipher(dialect, &neg.response, &f.ciphers)?;
    if f.encryption == Encryption::Required && cipher.is_none() {
        shared.shut_down("the server cannot encrypt");
        return Err(Error::Unsupported(format!(
            "encryption is required, but {}",
            no_cipher_reason(dialect, neg.response.capabilities)
        )));
    }
    let session = tokio::time::timeout_at(
        deadline,
        session_setup(
            &f,
            &shared,
            dialect,
            want_signing,
            signing_alg,
            neg.preauth,
            cipher,
            deadline,
        ),
    )
    .await
    .map_err(|_| timeout("authenticating"))?;
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            shared.shut_down("authentication failed");
            return Err(e);
        }
    };

    let r = &neg.response;
    let info = ServerInfo {
        dialect,
        server_guid: r.server_guid,
        max_read_size: r.max_read_size,
        max_write_size: r.max_write_size,
        max_transact_size: r.max_transact_size,
        system_time: r.system_time,
        server_start_time: r.server_start_time,
        capabilities: r.capabilities,
        signing_required_by_server: server_requires,
        signing: session.signing,
        signing_algorithm: session.signing.then_some(signing_alg),
        cipher,
        encrypted: session.encrypted,
        is_guest: session.flags & session_flags::IS_GUEST != 0,
        is_anonymous: session.anonymous || session.flags & session_flags::IS_NULL != 0,
    };
    tracing::debug!(?info, "session established");
    let conn = Connection::new(
        Backend::Smb2(shared, std::sync::Mutex::new(Some(tasks))),
        f,
        info,
    );
    // MS-SMB2 §3.2.5.5: on 3.0 and 3.0.2 the negotiation is validated after
    // the first tree connect (3.1.1 has the preauth integrity hash).
    if matches!(dialect, Dialect::SMB3_0 | Dialect::SMB3_0_2) && session.signing_key_known {
        if let Some(sent) = neg.sent {
            let r = &neg.response;
            conn.expect_validation(Validation {
                sent,
                expected: ValidateNegotiateInfoResponse {
                    capabilities: r.capabilities,
                    guid: r.server_guid,
                    security_mode: r.security_mode,
                    dialect: r.dialect.0,
                },
            });
        }
    }
    Ok(conn)
}

/// What FSCTL_VALIDATE_NEGOTIATE_INFO sends and must get back.
#[derive(Debug, Clone)]
pub(crate) struct Validation {
    pub sent: ValidateNegotiateInfoRequest,
    pub expected: ValidateNegotiateInfoResponse,
}

/// What NEGOTIATE settled on.
enum Outcome {
    Smb2(Negotiated),
    Smb1(smb1::negotiate::NegotiateResponse),
}

struct Negotiated {
    response: NegotiateResponse,
    /// Message ids used before the driver took over.
    message_ids_used: u64,
    credits_granted: u16,
    /// Connection.PreauthIntegrityHashValue after NEGOTIATE (3.1.1 only).
    preauth: Option<PreauthHash>,
    /// What the SMB2 NEGOTIATE request said, for FSCTL_VALIDATE_NEGOTIATE_INFO
    /// (`None` when SMB 2.0.2 was chosen from the multi-protocol NEGOTIATE).
    sent: Option<ValidateNegotiateInfoRequest>,
}

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

async fn negotiate<S: AsyncRead + AsyncWrite + Unpin>(
    f: &SmbProtocolFactory,
    stream: &mut S,
) -> Result<Outcome, Error> {
    let mut ids_used = 0u64;
    if f.protocol != Protocol::Smb2Only {
        let dialects: &[&str] = if f.protocol == Protocol::Smb1Only {
            &[NT_LM_012]
        } else {
            &[NT_LM_012, SMB2_002, SMB2_WILDCARD]
        };
        let mut flags2 = smb1::header::flags2::UNICODE
            | smb1::header::flags2::NT_STATUS
            | smb1::header::flags2::LONG_NAMES;
        if f.extended_security {
            flags2 |= smb1::header::flags2::EXTENDED_SECURITY;
        }
        let req = smb1::negotiate::negotiate_request(dialects, flags2, 0)?;
        stream.write_all(&transport::frame(&req)?).await?;
        let frame = transport::read_frame(stream, transport::HANDSHAKE_MAX_FRAME).await?;
        ids_used = 1;
        if frame.len() >= 4 && frame[..4] == smb1::header::PROTOCOL_ID {
            let r = smb1::negotiate::NegotiateResponse::decode(&frame)
                .map_err(|e| ProtocolError::decode("SMB1 NEGOTIATE response", e))?;
            return match dialects.get(usize::from(r.dialect_index)) {
                Some(&NT_LM_012) => Ok(Outcome::Smb1(r)),
                _ => Err(Error::Unsupported(format!(
                    "the server accepted none of the offered dialects ({})",
                    dialects.join(", ")
                ))),
            };
        }
        let (h, resp) = decode_negotiate(&frame)?;
        if resp.dialect != Dialect::SMB2_WILDCARD {
            // The server chose SMB 2.0.2 from the SMB1 request directly.
            check_dialect(&resp, &[Dialect::SMB2_0_2])?;
            return Ok(Outcome::Smb2(Negotiated {
                response: resp,
                message_ids_used: ids_used,
                credits_granted: h.credits,
                preauth: None,
                sent: None,
            }));
        }
    }

    let dialects = dialects_for(f.direct_tcp);
    let mut salt = [0u8; 32];
    rand::fill(&mut salt[..]);
    let mut client_guid = [0u8; 16];
    rand::fill(&mut client_guid[..]);
    let req = NegotiateRequest {
        dialects: dialects.clone(),
        security_mode: if f.sign_options == SignOptions::WhenSupported {
            security_mode::SIGNING_ENABLED | security_mode::SIGNING_REQUIRED
        } else {
            security_mode::SIGNING_ENABLED
        },
        // Samba (and MS-SMB2 §3.3.5.4 for 3.0/3.0.2) only encrypts for a
        // client that announces SMB2_GLOBAL_CAP_ENCRYPTION, whatever the
        // dialect.
        capabilities: capabilities::LARGE_MTU | capabilities::ENCRYPTION,
        client_guid,
        contexts: vec![
            NegotiateContext::PreauthIntegrity {
                hash_algorithms: vec![hash_algorithm::SHA512],
                salt: salt.to_vec(),
            },
            NegotiateContext::Encryption {
                ciphers: f.ciphers.iter().map(|c| c.wire_id()).collect(),
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
    let mut h = Header::request(Command::NEGOTIATE);
    h.message_id = ids_used;
    h.credits = 1;
    let mut w = Writer::new();
    h.encode(&mut w);
    req.encode(&mut w)?;
    let req_bytes = w.into_vec();
    stream.write_all(&transport::frame(&req_bytes)?).await?;
    let frame = transport::read_frame(stream, transport::HANDSHAKE_MAX_FRAME).await?;
    let (rh, resp) = decode_negotiate(&frame)?;
    if rh.message_id != ids_used {
        return Err(ProtocolError::Unexpected(format!(
            "NEGOTIATE response has MessageId {} instead of {ids_used}",
            rh.message_id
        ))
        .into());
    }
    check_dialect(&resp, &dialects)?;
    let preauth = if resp.dialect == Dialect::SMB3_1_1 {
        let ok = resp.contexts.iter().any(|c| {
            matches!(c, NegotiateContext::PreauthIntegrity { hash_algorithms, .. }
                if hash_algorithms.as_slice() == [hash_algorithm::SHA512])
        });
        if !ok {
            return Err(ProtocolError::Unexpected(
                "3.1.1 NEGOTIATE response without a SHA-512 preauth integrity context".into(),
            )
            .into());
        }
        let mut p = PreauthHash::new();
        p.update(&req_bytes);
        p.update(&frame);
        Some(p)
    } else {
        None
    };
    let sent = ValidateNegotiateInfoRequest {
        capabilities: req.capabilities,
        guid: req.client_guid,
        security_mode: req.security_mode,
        dialects: req.dialects.iter().map(|d| d.0).collect(),
    };
    Ok(Outcome::Smb2(Negotiated {
        response: resp,
        message_ids_used: ids_used + 1,
        credits_granted: rh.credits,
        preauth,
        sent: Some(sent),
    }))
}

fn decode_negotiate(frame: &[u8]) -> Result<(Header, NegotiateResponse), Error> {
    let h = Header::decode(frame).map_err(|e| ProtocolError::decode("NEGOTIATE response", e))?;
    if h.command != Command::NEGOTIATE || !h.is_response() {
        return Err(ProtocolError::Unexpected(format!(
            "expected a NEGOTIATE response, got {:?}",
            h.command
        ))
        .into());
    }
    if h.status != NtStatus::SUCCESS {
        return Err(Error::OperationFailure {
            message: "the server refused NEGOTIATE".into(),
            status: h.status,
        });
    }
    let r = NegotiateResponse::decode(frame)
        .map_err(|e| ProtocolError::decode("NEGOTIATE response", e))?;
    Ok((h, r))
}

fn check_dialect(r: &NegotiateResponse, offered: &[Dialect]) -> Result<(), Error> {
    if offered.contains(&r.dialect) {
        Ok(())
    } else {
        Err(ProtocolError::Unexpected(format!(
            "the server chose dialect {:?}, which was not offered",
            r.dialect
        ))
        .into())
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

struct SessionResult {
    flags: u16,
    signing: bool,
    anonymous: bool,
    encrypted: bool,
    /// The session has a key to sign with (neither guest nor anonymous).
    signing_key_known: bool,
}

/// The cipher the connection encrypts with (Connection.CipherId for
/// 3.1.1, AES-128-CCM for 3.0/3.0.2 when the server announced
/// SMB2_GLOBAL_CAP_ENCRYPTION), or `None` if it cannot encrypt.
fn connection_cipher(
    dialect: Dialect,
    r: &NegotiateResponse,
    offered: &[Cipher],
) -> Result<Option<Cipher>, Error> {
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
                _ => Err(ProtocolError::Unexpected(format!(
                    "the server chose cipher {id:#06x}, which was not offered"
                ))
                .into()),
            },
            _ => Err(ProtocolError::Unexpected(format!(
                "the server's encryption context names {} ciphers instead of one",
                chosen.len()
            ))
            .into()),
        };
    }
    if dialect.is_smb3() && r.capabilities & capabilities::ENCRYPTION != 0 {
        return Ok(Some(Cipher::Aes128Ccm));
    }
    Ok(None)
}

/// Why a connection of `dialect` with these server capabilities cannot
/// encrypt, for error messages.
fn no_cipher_reason(dialect: Dialect, server_capabilities: u32) -> String {
    if !dialect.is_smb3() {
        format!("the server negotiated {dialect:?}; encryption needs SMB 3.0 or later")
    } else if dialect == Dialect::SMB3_1_1 {
        "the server chose no cipher among those offered (or has encryption turned off)".into()
    } else if server_capabilities & capabilities::ENCRYPTION == 0 {
        format!("the server does not offer encryption on {dialect:?}")
    } else {
        "no cipher is available".into()
    }
}

/// Why a connection cannot encrypt, from what was negotiated.
pub(crate) fn why_no_encryption(info: &ServerInfo) -> String {
    if info.is_guest || info.is_anonymous {
        "guest and anonymous sessions have no keys to encrypt with".into()
    } else {
        no_cipher_reason(info.dialect, info.capabilities)
    }
}

#[allow(clippy::too_many_arguments)]
async fn session_setup(
    f: &SmbProtocolFactory,
    shared: &Arc<Shared>,
    dialect: Dialect,
    want_signing: bool,
    signing_alg: SigningAlgorithm,
    conn_preauth: Option<PreauthHash>,
    cipher: Option<Cipher>,
    deadline: Instant,
) -> Result<SessionResult, Error> {
    let password = f.password.get();
    let creds = Credentials {
        user: f.username.clone(),
        domain: f.domain.clone(),
        password: password.clone(),
        workstation: f.my_name.clone(),
    };
    let anonymous = creds.is_anonymous();
    let opts = NtlmOptions {
        use_ntlm_v2: f.use_ntlm_v2,
        client_time: filetime_now(),
        ..NtlmOptions::default()
    };
    let mut auth = SpnegoNtlm::new(creds, opts);
    let mut token = auth.initial_token();
    let mut preauth = conn_preauth;
    let sec_mode = if want_signing {
        security_mode::SIGNING_REQUIRED as u8
    } else {
        security_mode::SIGNING_ENABLED as u8
    };
    let auth_err =
        |e: smbkit_proto::ntlm::NtlmError| Error::from(ProtocolError::Auth(e.to_string()));
    let mut rounds = 0;
    loop {
        rounds += 1;
        if rounds > 4 {
            return Err(ProtocolError::Unexpected(
                "SESSION_SETUP did not finish after 4 rounds".into(),
            )
            .into());
        }
        let req = SessionSetupRequest {
            flags: 0,
            security_mode: sec_mode,
            capabilities: 0,
            previous_session_id: 0,
            security_buffer: std::mem::take(&mut token),
        };
        let p = shared
            .prepare(Command::SESSION_SETUP, 0, 1, deadline, |w| req.encode(w))
            .await?;
        if let Some(h) = preauth.as_mut() {
            h.update(&p.bytes);
        }
        // Once the session key is known (after the AUTHENTICATE is built),
        // the keys can be derived: on 3.1.1 the hash now covers every
        // message but the final response (MS-SMB2 §3.2.5.3.1).
        if rounds > 1 {
            install_keys(
                shared,
                &auth,
                dialect,
                preauth.as_ref(),
                cipher,
                signing_alg,
                want_signing,
            );
        }
        let r = shared.dispatch(p, deadline, "SESSION_SETUP").await?;
        let status = r.header.status;
        {
            let mut s = shared.session.write().unwrap_or_else(|e| e.into_inner());
            s.session_id = r.header.session_id;
        }
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            if let Some(h) = preauth.as_mut() {
                h.update(&r.msg);
            }
            let resp = SessionSetupResponse::decode(&r.msg)
                .map_err(|e| ProtocolError::decode("SESSION_SETUP response", e))?;
            token = auth.step(&resp.security_buffer).map_err(auth_err)?;
            continue;
        }
        if status == NtStatus::SUCCESS {
            let resp = SessionSetupResponse::decode(&r.msg)
                .map_err(|e| ProtocolError::decode("SESSION_SETUP response", e))?;
            let guest_or_null =
                resp.session_flags & (session_flags::IS_GUEST | session_flags::IS_NULL) != 0;
            if guest_or_null || anonymous {
                // Guest and anonymous sessions have no key to sign with.
                let mut s = shared.session.write().unwrap_or_else(|e| e.into_inner());
                s.signer = None;
                s.signing_required = false;
            } else {
                // The final response is signed with the new key when the
                // session is signed; on 3.x servers sign it in any case.
                let must_be_signed = want_signing;
                if r.header.is_signed() || must_be_signed {
                    shared.verify(&r)?;
                }
                if !r.header.is_signed() && must_be_signed {
                    return Err(ProtocolError::Unsigned {
                        command: "SESSION_SETUP".into(),
                    }
                    .into());
                }
            }
            auth.finish(&resp.security_buffer).map_err(auth_err)?;
            let encrypted = decide_encryption(
                shared,
                f.encryption,
                resp.session_flags & session_flags::ENCRYPT_DATA != 0,
                guest_or_null || anonymous,
                dialect,
                cipher,
            )?;
            let signing = !(guest_or_null || anonymous) && want_signing;
            return Ok(SessionResult {
                flags: resp.session_flags,
                signing,
                anonymous,
                encrypted,
                signing_key_known: !(guest_or_null || anonymous),
            });
        }
        let user = f.username.clone();
        if status.is_logon_failure() {
            let mut message = describe_status(status).to_string();
            if status == NtStatus::ACCESS_DENIED && cipher.is_none() {
                // What Samba and Windows answer a client that cannot
                // encrypt when they require encryption (MS-SMB2 §3.3.5.5).
                message.push_str(&format!(
                    "; the server may require encryption, which this connection cannot do ({})",
                    no_cipher_reason(dialect, 0)
                ));
            }
            return Err(Error::AuthFailed {
                status,
                user,
                message,
            });
        }
        return Err(Error::OperationFailure {
            message: format!("SESSION_SETUP for user '{user}' failed"),
            status,
        });
    }
}

/// Settles Session.EncryptData once the session is established: what the
/// server asked for (SMB2_SESSION_FLAG_ENCRYPT_DATA) and what
/// `encryption` asks for. Returns whether the session encrypts.
fn decide_encryption(
    shared: &Shared,
    encryption: Encryption,
    server_asks: bool,
    guest_or_anonymous: bool,
    dialect: Dialect,
    cipher: Option<Cipher>,
) -> Result<bool, Error> {
    let mut s = shared.session.write().unwrap_or_else(|e| e.into_inner());
    if guest_or_anonymous {
        // MS-SMB2 §3.2.4.1.8: a guest or anonymous session has no keys and
        // is never encrypted.
        s.encryptor = None;
        s.decryptor = None;
    }
    let can = s.encryptor.is_some() && s.decryptor.is_some();
    let why_not = || {
        if guest_or_anonymous {
            "the session is a guest or anonymous one, which has no keys to encrypt with".to_string()
        } else if cipher.is_none() {
            no_cipher_reason(dialect, 0)
        } else {
            "no encryption keys could be derived".to_string()
        }
    };
    let on = match encryption {
        _ if server_asks && !can => {
            return Err(Error::Unsupported(format!(
                "the server requires encryption for this session, but {}",
                why_not()
            )))
        }
        Encryption::Required if !can => {
            return Err(Error::Unsupported(format!(
                "encryption is required, but {}",
                why_not()
            )))
        }
        Encryption::Required | Encryption::Preferred => can,
        Encryption::IfRequired => server_asks,
    };
    s.encrypt_all = on;
    Ok(on)
}

fn install_keys(
    shared: &Shared,
    auth: &SpnegoNtlm,
    dialect: Dialect,
    preauth: Option<&PreauthHash>,
    cipher: Option<Cipher>,
    alg: SigningAlgorithm,
    want_signing: bool,
) {
    let Some(key) = auth.session_key().map(zeroize::Zeroizing::new) else {
        return;
    };
    let keys = derive_session_keys(
        dialect,
        &key[..],
        preauth.map(|p| p.value()),
        cipher.map(Cipher::wire_id),
    );
    let mut s = shared.session.write().unwrap_or_else(|e| e.into_inner());
    s.signer = Some(Arc::new(Signer::new(alg, &keys.signing_key)));
    s.signing_required = want_signing;
    if let Some(c) = cipher {
        let mut salt = [0u8; 4];
        rand::fill(&mut salt[..]);
        let session_id = s.session_id;
        s.encryptor = Encryptor::new(c, &keys.encryption_key, session_id, salt)
            .ok()
            .map(Arc::new);
        s.decryptor = Decryptor::new(c, &keys.decryption_key, session_id)
            .ok()
            .map(Arc::new);
    }
}

/// The current time as a FILETIME (100 ns intervals since 1601-01-01 UTC).
pub(crate) fn filetime_now() -> u64 {
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600;
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() + EPOCH_DIFF_SECS) * 10_000_000 + u64::from(d.subsec_nanos() / 100),
        Err(_) => 0,
    }
}
