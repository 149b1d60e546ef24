//! The operations of [`Connection`] over SMB1 (NT LM 0.12): session setup
//! with SPNEGO/NTLMSSP (MS-SMB §3.2.4.2.4), echo, tree connect and logoff.

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
    let family = crate::family::Family::Smb1(crate::family::smb1::Smb1::new(shared, info.clone()));
    Ok(Connection::new(crate::ops::Session::new(
        family, tasks, f, info,
    )))
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
            .min(u32::from(CLIENT_MAX_BUFFER))
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

/// The MaxBufferSize smbkit announces in SESSION_SETUP_ANDX (MS-CIFS
/// §2.2.4.53.1): the largest message the server may send it. Larger
/// transaction responses come in several messages.
pub(crate) const CLIENT_MAX_BUFFER: u16 = 61440;

#[cfg(test)]
tokio::task_local! {
    /// A smaller MaxBufferSize for connections made within its scope, so
    /// that tests make the server split transaction responses.
    pub(crate) static TEST_MAX_BUFFER: u16;
}

/// [`CLIENT_MAX_BUFFER`], or the test override.
fn client_max_buffer() -> u16 {
    #[cfg(test)]
    if let Ok(v) = TEST_MAX_BUFFER.try_with(|v| *v) {
        return v;
    }
    CLIENT_MAX_BUFFER
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
        client_time: crate::handshake::filetime_now(),
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
/// the password fields ([`PlainLogon`]).
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
            crate::handshake::filetime_now(),
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

/// An open file over SMB1.
#[derive(Debug, Clone)]
pub(crate) struct Open1 {
    pub tid: u16,
    pub fid: u16,
    pub create: smbkit_proto::smb1::create::NtCreateAndxResponse,
}

/// NT_CREATE_ANDX (MS-CIFS §2.2.4.64): opens `path` (backslashes, no
/// leading separator) with the SMB2 spec's access, disposition and options
/// values, which SMB1 shares.
pub(crate) async fn open(
    s: &Smb1Shared,
    tid: u16,
    share: &str,
    path: &str,
    spec: crate::files::OpenSpec,
    what: &str,
    deadline: Instant,
) -> Result<Open1, Error> {
    let req = smbkit_proto::smb1::create::NtCreateAndxRequest {
        flags: 0,
        root_directory_fid: 0,
        desired_access: spec.access,
        allocation_size: 0,
        ext_file_attributes: spec.attributes,
        share_access: smbkit_proto::smb2::create::share_access::ALL,
        create_disposition: spec.disposition,
        create_options: spec.options,
        impersonation_level: 2,
        security_flags: 0,
        name: format!("\\{path}"),
    };
    let r = s
        .request(
            command::NT_CREATE_ANDX,
            tid,
            deadline,
            "NT_CREATE_ANDX",
            |w| req.encode(w),
        )
        .await?;
    if r.header.status != NtStatus::SUCCESS {
        return Err(crate::files::failure(what, share, path, r.header.status));
    }
    let create = smbkit_proto::smb1::create::NtCreateAndxResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("NT_CREATE_ANDX response", e))?;
    Ok(Open1 {
        tid,
        fid: create.fid,
        create,
    })
}

/// CLOSE (MS-CIFS §2.2.4.5).
pub(crate) async fn close_file(s: &Smb1Shared, o: &Open1, deadline: Instant) -> Result<(), Error> {
    let req = smbkit_proto::smb1::close::CloseRequest {
        fid: o.fid,
        last_time_modified: smbkit_proto::smb1::close::KEEP_LAST_TIME_MODIFIED,
    };
    if s.has_abandoned() {
        // Requests given up on (the reads of a transfer that timed out, say)
        // may still be pending on this file, and Samba 4.17's smbd crashes
        // (close_file_smb) on a CLOSE that arrives while READ_ANDXs on the
        // file are pending. The CLOSE goes once they are answered.
        s.close_file_detached(o.tid, o.fid);
        return Ok(());
    }
    let r = s
        .request(command::CLOSE, o.tid, deadline, "CLOSE", |w| {
            req.encode(w);
            Ok(())
        })
        .await?;
    if r.header.status.is_error() {
        return Err(Error::OperationFailure {
            message: "CLOSE failed".into(),
            status: r.header.status,
        });
    }
    Ok(())
}

/// WRITE_ANDXs of one upload sent before the first of them is waited for.
/// No more than the server's MaxMpxCount are at the server at once: a
/// request beyond that goes out when an earlier one has been answered
/// (see [`Smb1Shared::send`]).
const WINDOW: usize = 8;

/// READ_ANDX of up to `len` bytes at `offset` (MS-SMB §2.2.4.2): the data,
/// zero-copy; empty at the end of the file (STATUS_END_OF_FILE or no
/// data). A server may send fewer bytes than asked anywhere in the file
/// (MS-SMB §3.3.5.7), so the caller reads on from where the data ended.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read_raw(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    len: u32,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<bytes::Bytes, Error> {
    let req = smbkit_proto::smb1::read::ReadAndxRequest::file(fid, offset, len);
    let r = s
        .request(command::READ_ANDX, tid, deadline, "read", |w| req.encode(w))
        .await?;
    match r.header.status {
        NtStatus::SUCCESS => {
            let range = smbkit_proto::smb1::read::read_andx_data_range(&r.msg)
                .map_err(|e| ProtocolError::decode("READ_ANDX response", e))?;
            if range.len() > len as usize {
                return Err(
                    ProtocolError::Unexpected("READ_ANDX returned more than asked".into()).into(),
                );
            }
            Ok(r.msg.slice(range))
        }
        NtStatus::END_OF_FILE => Ok(bytes::Bytes::new()),
        st => Err(crate::files::failure("reading", share, path, st)),
    }
}

/// WRITE_ANDX of `data` at `offset` (MS-SMB §2.2.4.3), the data sent from
/// its own buffer (signed or not); returns the bytes the server wrote,
/// which may be fewer.
#[allow(clippy::too_many_arguments)]
async fn write_raw(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    data: bytes::Bytes,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<usize, Error> {
    let len = data.len();
    let r = send_write(s, tid, fid, offset, data, deadline)
        .await?
        .response()
        .await?;
    written(&r, len, share, path)
}

/// Sends a WRITE_ANDX of `data` at `offset` without waiting for the
/// response.
async fn send_write(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    data: bytes::Bytes,
    deadline: Instant,
) -> Result<crate::driver::smb1::Sent1<'_>, Error> {
    let len = data.len();
    s.send(
        command::WRITE_ANDX,
        tid,
        deadline,
        "write",
        |w| smbkit_proto::smb1::write::encode_write_andx_header(w, fid, offset, 0, len),
        data,
    )
    .await
}

/// The bytes a WRITE_ANDX response says were written of `len` (Count |
/// CountHigh << 16, MS-SMB §2.2.4.3.2); an error status fails.
fn written(r: &Resp1, len: usize, share: &str, path: &str) -> Result<usize, Error> {
    if r.header.status.is_error() {
        return Err(crate::files::failure(
            "writing",
            share,
            path,
            r.header.status,
        ));
    }
    let resp = smbkit_proto::smb1::write::WriteAndxResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("WRITE_ANDX response", e))?;
    let n = resp.written(len as u32) as usize;
    if n > len {
        return Err(ProtocolError::Unexpected(format!(
            "the server wrote {n} bytes, {len} were sent"
        ))
        .into());
    }
    Ok(n)
}

/// The error for a WRITE_ANDX of which the server wrote nothing.
fn nothing_written(share: &str, path: &str, len: usize, at: u64) -> Error {
    ProtocolError::Unexpected(format!(
        "writing '{}': the server reported success but wrote 0 of {len} bytes at offset {at}",
        crate::files::display(share, path),
    ))
    .into()
}

/// Writes all of `data` at `offset` with WRITE_ANDX requests: a request the
/// server took only part of is followed by one with the rest. A request of
/// which the server wrote nothing fails the write. Each request has the
/// whole time limit.
#[allow(clippy::too_many_arguments)]
async fn write_all_at(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    mut data: bytes::Bytes,
    share: &str,
    path: &str,
    limit: std::time::Duration,
) -> Result<(), Error> {
    let mut at = offset;
    while !data.is_empty() {
        let deadline = Instant::now() + limit;
        let n = write_raw(s, tid, fid, at, data.clone(), share, path, deadline).await?;
        if n == 0 {
            return Err(nothing_written(share, path, data.len(), at));
        }
        bytes::Buf::advance(&mut data, n);
        at += n as u64;
    }
    Ok(())
}

/// A WRITE_ANDX of an upload in flight.
struct WriteInFlight<'a> {
    sent: crate::driver::smb1::Sent1<'a>,
    data: bytes::Bytes,
    at: u64,
}

impl WriteInFlight<'_> {
    /// Waits for the response and writes what the server did not take;
    /// returns the data's buffer once nothing else holds it, for the next
    /// chunk.
    async fn finish(
        self,
        s: &Smb1Shared,
        tid: u16,
        fid: u16,
        share: &str,
        path: &str,
        limit: std::time::Duration,
    ) -> Result<Option<bytes::BytesMut>, Error> {
        let WriteInFlight { sent, data, at } = self;
        let len = data.len();
        let n = written(&sent.response().await?, len, share, path)?;
        if n == 0 {
            return Err(nothing_written(share, path, len, at));
        }
        if n < len {
            let rest = data.slice(n..);
            write_all_at(s, tid, fid, at + n as u64, rest, share, path, limit).await?;
        }
        // Sent and answered: the buffer is ours again.
        Ok(data.try_into_mut().ok())
    }
}

use crate::files::{smb_path, OpenSpec};
use smbkit_proto::smb2::create::{access_mask, create_options};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// retrieveFileFromOffset over SMB1: NT_CREATE_ANDX, then READ_ANDX
/// requests of [`max_read`] bytes, several in flight (the reader of
/// [`crate::RemoteFile`]), then CLOSE. Each request has the whole time
/// limit.
pub(crate) async fn retrieve<W: AsyncWrite + Unpin + ?Sized>(
    conn: &Connection,
    s: &Arc<Smb1Shared>,
    share: &str,
    path: &str,
    writer: &mut W,
    offset: u64,
    max_length: Option<u64>,
) -> Result<(u32, u64), Error> {
    let limit = conn.op_limit();
    let deadline = Instant::now() + limit;
    let path = smb_path(path)?;
    let tid = crate::family::smb1::tid(conn.tree(share, deadline).await?)?;
    let o = open(
        s,
        tid,
        share,
        &path,
        Connection::read_spec(),
        "retrieve_file",
        deadline,
    )
    .await?;
    let attributes = o.create.ext_file_attributes;
    let size = o.create.end_of_file;
    let file = crate::transfer::RemoteFile::new(
        conn.clone(),
        share,
        &path,
        crate::transfer::FileHandle::Smb1(o),
    );
    let result = async {
        if offset > size {
            return Err(Error::InvalidArgument(format!(
                "offset {offset} is past the end of '{}' ({size} bytes)",
                crate::files::display(share, &path),
            )));
        }
        let mut reader = file.reader(offset, max_length);
        let mut n = 0u64;
        while let Some(data) = reader.next_chunk().await? {
            writer.write_all(&data).await?;
            n += data.len() as u64;
        }
        writer.flush().await?;
        Ok(n)
    }
    .await;
    let closed = file.close().await;
    let n = result?;
    closed?;
    Ok((attributes, n))
}

/// storeFile(FromOffset) over SMB1: NT_CREATE_ANDX, WRITE_ANDX requests of
/// [`max_write`] bytes with up to [`WINDOW`] in flight, then CLOSE. The
/// buffers of answered requests hold the next chunks.
pub(crate) async fn store<R: AsyncRead + Unpin + ?Sized>(
    conn: &Connection,
    s: &Arc<Smb1Shared>,
    share: &str,
    path: &str,
    reader: &mut R,
    offset: u64,
    disposition: u32,
) -> Result<u64, Error> {
    let limit = conn.op_limit();
    let deadline = Instant::now() + limit;
    let path = smb_path(path)?;
    if path.is_empty() {
        return Err(Error::InvalidArgument(
            "store_file needs a file name".into(),
        ));
    }
    let tid = crate::family::smb1::tid(conn.tree(share, deadline).await?)?;
    let spec = OpenSpec::new(
        access_mask::FILE_WRITE_DATA
            | access_mask::FILE_READ_ATTRIBUTES
            | access_mask::FILE_WRITE_ATTRIBUTES
            | access_mask::SYNCHRONIZE,
        disposition,
        create_options::NON_DIRECTORY_FILE,
    );
    let o = open(s, tid, share, &path, spec, "store_file", deadline).await?;
    let chunk = conn.server_info().max_write_size.max(1024) as usize;
    let result = async {
        let (tid, fid) = (o.tid, o.fid);
        // Requests in flight, answered in order by this task (no task per
        // request: fewer wake-ups).
        let mut inflight: std::collections::VecDeque<WriteInFlight<'_>> =
            std::collections::VecDeque::new();
        // Buffers of answered WRITE_ANDXs, reused so that their memory is
        // not allocated and faulted in afresh for every chunk.
        let mut spare: Vec<bytes::BytesMut> = Vec::new();
        let mut at = offset;
        loop {
            let data = crate::transfer::fill_into(reader, chunk, spare.pop())
                .await?
                .freeze();
            let n = data.len();
            if n > 0 {
                let sent =
                    send_write(s, tid, fid, at, data.clone(), Instant::now() + limit).await?;
                inflight.push_back(WriteInFlight { sent, data, at });
                at += n as u64;
            }
            if inflight.len() >= WINDOW {
                if let Some(front) = inflight.pop_front() {
                    let buf = front.finish(s, tid, fid, share, &path, limit).await?;
                    spare.extend(buf);
                }
            }
            if n < chunk {
                break;
            }
        }
        while let Some(front) = inflight.pop_front() {
            front.finish(s, tid, fid, share, &path, limit).await?;
        }
        Ok::<u64, Error>(at - offset)
    }
    .await;
    let closed = close_file(s, &o, Instant::now() + limit).await;
    let n = result?;
    closed?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SmbProtocolFactory;
    use smbkit_proto::smb1::header::{flags, Header};
    use smbkit_proto::smb1::write::{WriteAndxRequest, WriteAndxResponse};
    use smbkit_testserver::{Profile, TestServer};
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 977) as u8).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn short_reads_below_the_size_are_read_on() {
        // Samba answers at most 131011 bytes per READ_ANDX on a signed
        // session: asking for 1 MiB gets short reads in the middle of the
        // file, which must not end it.
        let srv = TestServer::start(Profile::Smb1Signing).unwrap();
        let data = content(5 * 1024 * 1024 + 77);
        let p = srv.share_path().join("short.bin");
        std::fs::write(&p, &data).unwrap();
        srv.chown_to_user(&p).unwrap();
        for direct in [false, true] {
            let conn = SmbProtocolFactory::new(srv.user(), srv.password(), "C", "SMBKITTEST")
                .unwrap()
                .direct_tcp(direct)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap();
            let file = conn.open_file("share", "short.bin").await.unwrap();
            let mut reader = file.reader(10, None).with_chunk(1024 * 1024);
            let mut all = Vec::new();
            while let Some(b) = reader.next_chunk().await.unwrap() {
                all.extend_from_slice(&b);
            }
            assert_eq!(all.len(), data.len() - 10);
            assert!(all[..] == data[10..]);
            // Later reads asked for what the server sent.
            assert_eq!(reader.chunk(), 0x1_FFFF - 60);
            drop(reader);
            let mut all = Vec::new();
            file.reader(0, None)
                .with_chunk(200_000)
                .read_to_end(&mut all)
                .await
                .unwrap();
            assert!(all == data);
            file.close().await.unwrap();
        }
    }

    /// A peer that answers each WRITE_ANDX with `answer(request length)`
    /// bytes written and keeps what it wrote.
    async fn write_peer(
        answer: fn(usize) -> usize,
    ) -> (
        Arc<Smb1Shared>,
        crate::driver::Tasks,
        Arc<std::sync::Mutex<Vec<u8>>>,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = l.accept().await.unwrap();
        let file = Arc::new(std::sync::Mutex::new(Vec::new()));
        let f2 = Arc::clone(&file);
        tokio::spawn(async move {
            loop {
                let mut h = [0u8; 4];
                if server.read_exact(&mut h).await.is_err() {
                    return;
                }
                let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
                let mut msg = vec![0u8; len];
                server.read_exact(&mut msg).await.unwrap();
                let mut header = Header::decode(&msg).unwrap();
                let req = WriteAndxRequest::decode(&msg).unwrap();
                let n = answer(req.data.len());
                {
                    let mut f = f2.lock().unwrap();
                    let end = req.offset as usize + n;
                    if f.len() < end {
                        f.resize(end, 0);
                    }
                    f[req.offset as usize..end].copy_from_slice(&req.data[..n]);
                }
                header.flags |= flags::REPLY;
                let mut w = smbkit_proto::Writer::new();
                header.encode(&mut w);
                WriteAndxResponse {
                    count: n as u32,
                    available: 0,
                }
                .encode(&mut w);
                let msg = w.into_vec();
                let out = crate::transport::frame(&msg).unwrap();
                tokio::io::AsyncWriteExt::write_all(&mut server, &out)
                    .await
                    .unwrap();
            }
        });
        let (rd, wr) = crate::transport::split(Box::new(client));
        let (s, tasks) = Smb1Shared::open(rd, wr, 16, 0, flags2::NT_STATUS, 1);
        (s, tasks, file)
    }

    #[tokio::test]
    async fn short_writes_continue_with_the_rest() {
        // At most 1000 bytes per request, and half of anything larger.
        let (s, _tasks, file) = write_peer(|n| (n / 2).clamp(1, 1000)).await;
        let data = content(10_000);
        let r = write_all_at(
            &s,
            1,
            2,
            100,
            bytes::Bytes::from(data.clone()),
            "share",
            "f.bin",
            Duration::from_secs(5),
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
        {
            let f = file.lock().unwrap();
            assert_eq!(f.len(), 10_100);
            assert!(f[100..] == data[..]);
        }
        // Pipelined as uploads do: three requests in flight, each answered
        // in part, the rest written when its answer is taken.
        let limit = Duration::from_secs(5);
        let mut inflight = Vec::new();
        for k in 0..3u64 {
            let chunk = bytes::Bytes::from(content(3000));
            let at = 20_000 + k * 3000;
            let sent = send_write(&s, 1, 2, at, chunk.clone(), Instant::now() + limit)
                .await
                .unwrap();
            inflight.push(WriteInFlight {
                sent,
                data: chunk,
                at,
            });
        }
        for w in inflight {
            w.finish(&s, 1, 2, "share", "f.bin", limit).await.unwrap();
        }
        let f = file.lock().unwrap();
        assert_eq!(f.len(), 29_000);
        for k in 0..3 {
            let at = 20_000 + k * 3000;
            assert!(f[at..at + 3000] == content(3000)[..], "chunk {k}");
        }
    }

    #[tokio::test]
    async fn a_write_of_nothing_fails() {
        let (s, _tasks, _file) = write_peer(|_| 0).await;
        let err = write_all_at(
            &s,
            1,
            2,
            0,
            bytes::Bytes::from(content(5000)),
            "share",
            "f.bin",
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("wrote 0 of 5000 bytes") && msg.contains("f.bin"),
            "{msg}"
        );
    }
}
