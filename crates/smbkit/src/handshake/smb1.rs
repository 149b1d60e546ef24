//! The SMB1 (NT LM 0.12) session: session setup with SPNEGO/NTLMSSP
//! (MS-SMB §3.2.4.2.4) or without extended security (MS-CIFS §3.2.4.2.4),
//! signing, and the read and write sizes of the connection.

use std::sync::Arc;

use smbkit_proto::ntlm::{Credentials, NtlmOptions, SpnegoNtlm};
use smbkit_proto::smb1::header::{command, flags2};
use smbkit_proto::smb1::negotiate::{capabilities as caps, NegotiateResponse};
use smbkit_proto::smb1::session_setup::{
    SessionSetupRequestExtended, SessionSetupResponseExtended, ACTION_GUEST,
};
use smbkit_proto::smb1::signing::Smb1Signer;
use smbkit_proto::{Dialect, NtStatus};
use tokio::time::Instant;

use crate::connection::Connection;
use crate::driver::smb1::{Resp1, Smb1Shared};
use crate::error::{describe_status, Error, ProtocolError};
use crate::factory::{SignOptions, SmbProtocolFactory};
use crate::family::smb1::client_max_buffer;
use crate::types::ServerInfo;

/// NEGOTIATE SecurityMode bits (MS-CIFS §2.2.4.52.2).
const SECURITY_SIGNATURES_ENABLED: u8 = 0x04;
const SECURITY_SIGNATURES_REQUIRED: u8 = 0x08;

/// Establishes the session over a stream on which NEGOTIATE chose
/// NT LM 0.12.
pub(crate) async fn connect(
    f: SmbProtocolFactory,
    stream: crate::transport::BoxStream,
    neg: NegotiateResponse,
    deadline: Instant,
) -> Result<Connection, Error> {
    if f.encryption == crate::factory::Encryption::Required {
        return Err(Error::Unsupported(
            "encryption is required, but the server speaks only SMB 1 (NT LM 0.12), which cannot \
             encrypt; SMB 3.0 or later is needed"
                .into(),
        ));
    }
    let extended = neg.capabilities & caps::EXTENDED_SECURITY != 0;
    let server_requires = neg.security_mode & SECURITY_SIGNATURES_REQUIRED != 0;
    let server_supports = neg.security_mode & SECURITY_SIGNATURES_ENABLED != 0;
    if server_requires && f.sign_options == SignOptions::Never {
        return Err(Error::Unsupported(
            "the server requires signing, but sign_options is Never; use WhenRequired or WhenSupported"
                .into(),
        ));
    }
    let want_signing = match f.sign_options {
        SignOptions::Never => false,
        SignOptions::WhenSupported => server_supports,
        SignOptions::WhenRequired => server_requires,
    };
    let flags2 = flags2::UNICODE
        | flags2::NT_STATUS
        | flags2::LONG_NAMES
        | flags2::IS_LONG_NAME
        | flags2::EAS
        | if extended {
            flags2::EXTENDED_SECURITY
        } else {
            0
        };
    let (rd, wr) = crate::transport::split(stream);
    let (shared, tasks) =
        Smb1Shared::open(rd, wr, neg.max_mpx_count, neg.max_buffer_size, flags2, 1);
    let session = if extended {
        session_setup(&f, &shared, &neg, want_signing, deadline).await
    } else {
        session_setup_plain(&f, &shared, &neg, want_signing, deadline).await
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            shared.shut_down("authentication failed");
            return Err(e);
        }
    };
    let info = ServerInfo {
        dialect: Dialect::NT_LM_0_12,
        server_guid: neg.server_guid.unwrap_or_default(),
        max_read_size: max_read(&neg, f.direct_tcp, shared.signing()),
        max_write_size: max_write(&neg),
        max_transact_size: neg.max_buffer_size,
        system_time: neg.system_time,
        server_start_time: 0,
        capabilities: neg.capabilities,
        signing_required_by_server: server_requires,
        signing: shared.signing(),
        signing_algorithm: None,
        cipher: None,
        encrypted: false,
        is_guest: session.guest,
        is_anonymous: session.anonymous,
    };
    tracing::debug!(
        ?info,
        security_mode = neg.security_mode,
        "SMB1 session established"
    );
    let family =
        crate::family::Family::Smb1(crate::family::smb1::Smb1::new(shared, tasks, info.clone()));
    Ok(Connection::new(crate::ops::Session::new(family, f, info)))
}

/// The largest SMB message a NetBIOS session message carries: its length
/// field is 17 bits (RFC 1002 §4.3.1: 16 bits and the E bit of the flags).
const NBSS_MAX_MESSAGE: u32 = 0x1_FFFF;
/// The largest SMB message of the direct TCP transport: a 24-bit length
/// (MS-SMB §2.1, MS-SMB2 §2.1).
const DIRECT_TCP_MAX_MESSAGE: u32 = 0xFF_FFFF;
/// What precedes the data of a READ_ANDX response (MS-SMB §2.2.4.2.2): the
/// 32-byte header, WordCount, 12 words, ByteCount and one pad byte. Samba
/// subtracts the same 60 bytes (`MIN_SMB_SIZE + VWV(12) + 1` in
/// `calc_read_size`).
const READ_RESPONSE_OVERHEAD: u32 = 32 + 1 + 24 + 2 + 1;
/// What precedes the data of a WRITE_ANDX request (MS-SMB §2.2.4.3.1):
/// header, WordCount, 14 words, ByteCount, Pad (the DataOffset of 64 that
/// `encode_write_andx_header` writes).
const WRITE_REQUEST_OVERHEAD: u32 = 32 + 1 + 28 + 2 + 1;
/// READ_ANDX size over direct TCP on an unsigned session. A response may
/// be up to [`DIRECT_TCP_MAX_MESSAGE`], and Samba answers reads of up to
/// 0xFFFFFF − 60 bytes in one message there (`calc_max_read_pdu`: 0xFFFFFF
/// without signing when `smb1 unix extensions` is on, its default); larger
/// requests would only add memory: the window keeps 8 of them in flight.
/// A server that sends less is read on from where its data ended, and
/// later requests ask for what it sent.
const DIRECT_TCP_READ: u32 = 1024 * 1024;

/// Largest READ_ANDX data smbkit asks for (MS-SMB §3.2.4.4.1).
///
/// With CAP_LARGE_READX: over NetBIOS, what fits a 17-bit session message
/// (0x1FFFF − 60 = 131011 bytes); over direct TCP, [`DIRECT_TCP_READ`],
/// except on signed sessions, where Samba answers at most 131011 bytes
/// whatever the framing (`calc_max_read_pdu` returns 0x1FFFF when signing
/// is active). Without it, the response must fit both MaxBufferSizes.
fn max_read(neg: &NegotiateResponse, direct_tcp: bool, signing: bool) -> u32 {
    if neg.capabilities & caps::LARGE_READX != 0 {
        if direct_tcp && !signing {
            DIRECT_TCP_READ.min(DIRECT_TCP_MAX_MESSAGE - READ_RESPONSE_OVERHEAD)
        } else {
            NBSS_MAX_MESSAGE - READ_RESPONSE_OVERHEAD
        }
    } else {
        neg.max_buffer_size
            .min(u32::from(crate::family::smb1::CLIENT_MAX_BUFFER))
            .saturating_sub(READ_RESPONSE_OVERHEAD)
            .max(1024)
    }
}

/// Largest WRITE_ANDX data smbkit sends (MS-SMB §2.2.4.3.1, §3.3.5.8).
///
/// With CAP_LARGE_WRITEX: 0x1FFFF − 64 = 131007 bytes, whatever the
/// framing. Samba's smbd reads the length of every incoming SMB1 message as
/// 17 bits (`smb_len`, i.e. `smb_len_nbt`, in
/// `read_smb_length_return_keepalive`), over direct TCP too, and
/// `reply_write_and_X` then takes no more data than that length holds: a
/// 1 MiB WRITE_ANDX reads as a 64-byte message asking to write 0 bytes,
/// and its data as garbage frames that end the connection. (Samba reads
/// 24-bit lengths only on its receivefile path, off by default.) Without
/// CAP_LARGE_WRITEX, the request must fit the server's MaxBufferSize and
/// DataLength alone.
fn max_write(neg: &NegotiateResponse) -> u32 {
    if neg.capabilities & caps::LARGE_WRITEX != 0 {
        NBSS_MAX_MESSAGE - WRITE_REQUEST_OVERHEAD
    } else {
        neg.max_buffer_size
            .saturating_sub(WRITE_REQUEST_OVERHEAD)
            .clamp(1024, 0xFFFF)
    }
}

struct Session {
    guest: bool,
    anonymous: bool,
}

async fn session_setup(
    f: &SmbProtocolFactory,
    s: &Arc<Smb1Shared>,
    neg: &NegotiateResponse,
    want_signing: bool,
    deadline: Instant,
) -> Result<Session, Error> {
    let creds = Credentials {
        user: f.username.clone(),
        domain: f.domain.clone(),
        password: f.password.get(),
        workstation: f.my_name.clone(),
    };
    let anonymous = creds.is_anonymous();
    let opts = NtlmOptions {
        use_ntlm_v2: f.use_ntlm_v2,
        client_time: super::filetime_now(),
        ..NtlmOptions::default()
    };
    let mut auth = SpnegoNtlm::new(creds, opts);
    let token = auth.initial_token();
    s.offer_signing(want_signing && !anonymous);
    let r = session_setup_rounds(
        f,
        s,
        neg,
        want_signing,
        anonymous,
        &mut auth,
        token,
        deadline,
    )
    .await;
    s.offer_signing(false);
    r
}

/// The SESSION_SETUP_ANDX exchanges of [`session_setup`], starting with
/// `token`.
#[allow(clippy::too_many_arguments)]
async fn session_setup_rounds(
    f: &SmbProtocolFactory,
    s: &Arc<Smb1Shared>,
    neg: &NegotiateResponse,
    want_signing: bool,
    anonymous: bool,
    auth: &mut SpnegoNtlm,
    mut token: Vec<u8>,
    deadline: Instant,
) -> Result<Session, Error> {
    let auth_err =
        |e: smbkit_proto::ntlm::NtlmError| Error::from(ProtocolError::Auth(e.to_string()));
    let client_caps = caps::UNICODE
        | caps::NT_SMBS
        | caps::NT_STATUS
        | caps::LARGE_FILES
        | caps::LARGE_READX
        | caps::LARGE_WRITEX
        | caps::EXTENDED_SECURITY;
    for _round in 0..4 {
        let req = SessionSetupRequestExtended {
            max_buffer_size: client_max_buffer(),
            max_mpx_count: neg.max_mpx_count,
            vc_number: 1,
            session_key: neg.session_key,
            capabilities: client_caps,
            security_blob: std::mem::take(&mut token),
            native_os: "Unix".into(),
            native_lanman: "smbkit".into(),
        };
        let r = s
            .request(
                command::SESSION_SETUP_ANDX,
                0,
                deadline,
                "SESSION_SETUP_ANDX",
                |w| req.encode(w),
            )
            .await?;
        s.set_uid(r.header.uid);
        let status = r.header.status;
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            let resp = decode_setup(&r)?;
            token = auth.step(&resp.security_blob).map_err(auth_err)?;
            continue;
        }
        if status == NtStatus::SUCCESS {
            let resp = decode_setup(&r)?;
            auth.finish(&resp.security_blob).map_err(auth_err)?;
            let guest = resp.action & ACTION_GUEST != 0;
            if want_signing && !guest && !anonymous {
                if let Some(key) = auth.session_key() {
                    // MS-SMB §3.2.5.3: the MAC key is the session key.
                    start_signing(s, neg, Smb1Signer::new(key.to_vec()), &r, "")?;
                }
            }
            return Ok(Session { guest, anonymous });
        }
        let user = f.username.clone();
        if status.is_logon_failure() {
            return Err(Error::AuthFailed {
                status,
                user,
                message: describe_status(status).into(),
            });
        }
        return Err(Error::OperationFailure {
            message: format!("SESSION_SETUP_ANDX for user '{user}' failed"),
            status,
        });
    }
    Err(ProtocolError::Unexpected("SESSION_SETUP_ANDX did not finish after 4 rounds".into()).into())
}

/// SESSION_SETUP_ANDX without extended security (MS-CIFS §2.2.4.53,
/// §3.2.4.2.4): NTLMv2 (or NTLMv1) responses to the NEGOTIATE challenge in
/// the password fields
/// ([`PlainLogon`](smbkit_proto::smb1::session_setup::PlainLogon)).
///
/// Signing (MS-CIFS §3.2.5.3, "Activating Signing"): the MAC key is the
/// NT session key followed by the NT response, the response to this
/// request carries sequence number 1 and requests go on from 2. A server
/// that answers unsigned has not started signing: refused if it requires
/// signing (Samba 4.x never signs these sessions, whatever its `server
/// signing`: its logons without extended security yield no session key),
/// otherwise the session goes on unsigned. A signature that does not verify
/// is an error.
async fn session_setup_plain(
    f: &SmbProtocolFactory,
    s: &Arc<Smb1Shared>,
    neg: &NegotiateResponse,
    want_signing: bool,
    deadline: Instant,
) -> Result<Session, Error> {
    use smbkit_proto::smb1::session_setup::{
        PlainLogon, SessionSetupRequestNtlm, SessionSetupResponseNtlm,
    };
    let challenge = neg.challenge.ok_or_else(|| {
        Error::from(ProtocolError::Unexpected(
            "the SMB1 NEGOTIATE response has neither extended security nor a challenge".into(),
        ))
    })?;
    let password = f.password.get();
    let anonymous = f.username.is_empty() && password.is_empty();
    let logon = if anonymous {
        None
    } else if f.use_ntlm_v2 {
        let mut client_challenge = [0u8; 8];
        rand::fill(&mut client_challenge[..]);
        Some(PlainLogon::ntlm_v2(
            &password,
            &f.username,
            &f.domain,
            &challenge,
            &client_challenge,
            super::filetime_now(),
        ))
    } else {
        Some(PlainLogon::ntlm_v1(&password, &challenge))
    };
    let (lm, nt) = logon.as_ref().map_or((Vec::new(), Vec::new()), |l| {
        (l.oem_password.clone(), l.unicode_password.clone())
    });
    let req = SessionSetupRequestNtlm {
        max_buffer_size: client_max_buffer(),
        max_mpx_count: neg.max_mpx_count,
        vc_number: 1,
        session_key: neg.session_key,
        capabilities: caps::UNICODE
            | caps::NT_SMBS
            | caps::NT_STATUS
            | caps::LARGE_FILES
            | caps::LARGE_READX
            | caps::LARGE_WRITEX,
        oem_password: lm,
        unicode_password: nt,
        account_name: f.username.clone(),
        primary_domain: f.domain.clone(),
        native_os: "Unix".into(),
        native_lanman: "smbkit".into(),
    };
    s.offer_signing(want_signing && !anonymous);
    let r = s
        .request(
            command::SESSION_SETUP_ANDX,
            0,
            deadline,
            "SESSION_SETUP_ANDX",
            |w| req.encode(w),
        )
        .await;
    s.offer_signing(false);
    let r = r?;
    let status = r.header.status;
    if status != NtStatus::SUCCESS {
        let user = f.username.clone();
        if status.is_logon_failure() {
            return Err(Error::AuthFailed {
                status,
                user,
                message: describe_status(status).into(),
            });
        }
        return Err(Error::OperationFailure {
            message: format!("SESSION_SETUP_ANDX for user '{user}' failed"),
            status,
        });
    }
    s.set_uid(r.header.uid);
    let resp = SessionSetupResponseNtlm::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("SESSION_SETUP_ANDX response", e))?;
    let guest = resp.action & ACTION_GUEST != 0;
    if let Some(logon) = logon.filter(|_| want_signing && !guest) {
        start_signing(
            s,
            neg,
            logon.signer(),
            &r,
            " to a logon without extended security (Samba does not sign such sessions); \
             leave extended_security on",
        )?;
    }
    Ok(Session { guest, anonymous })
}

/// Starts signing with `signer` after the final SESSION_SETUP_ANDX response
/// `r` (MS-CIFS §3.2.5.3, MS-SMB §3.2.5.3): that response carries sequence
/// number 1 and requests go on from 2. A response that is not signed means
/// the server has not started signing: an error if it requires signing
/// (`unsigned_hint` completes the message), else the session goes on
/// unsigned. A signature that does not verify is an error.
fn start_signing(
    s: &Smb1Shared,
    neg: &NegotiateResponse,
    signer: Smb1Signer,
    r: &Resp1,
    unsigned_hint: &str,
) -> Result<(), Error> {
    if signer.verify(&r.msg, 1) {
        s.activate_signing(signer, 2);
        Ok(())
    } else if is_signed(r) {
        Err(ProtocolError::BadSignature {
            command: "SESSION_SETUP_ANDX".into(),
        }
        .into())
    } else if neg.security_mode & SECURITY_SIGNATURES_REQUIRED != 0 {
        Err(Error::Unsupported(format!(
            "the server requires signing but did not sign its response{unsigned_hint}"
        )))
    } else {
        tracing::debug!("the server did not start signing; the session is unsigned");
        Ok(())
    }
}

/// Whether a response carries a signature: SMB_FLAGS2_SMB_SECURITY_SIGNATURE
/// and a SecuritySignature other than zeros or the "BSRSPYL " that servers
/// put in an unsigned SESSION_SETUP_ANDX response (Samba, like Windows,
/// sends it before signing is active).
fn is_signed(r: &Resp1) -> bool {
    let sig = &r.header.security_features;
    r.header.flags2 & flags2::SECURITY_SIGNATURE != 0 && sig != &[0; 8] && sig != b"BSRSPYL "
}

fn decode_setup(r: &Resp1) -> Result<SessionSetupResponseExtended, Error> {
    SessionSetupResponseExtended::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("SESSION_SETUP_ANDX response", e).into())
}
