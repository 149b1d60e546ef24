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
use smbkit_proto::smb1::tree_connect::{TreeConnectRequest, TreeConnectResponse};
use smbkit_proto::{Dialect, NtStatus};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::connection::{Backend, Connection, ServerInfo, TreeInfo};
use crate::error::{describe_status, Error, ProtocolError};
use crate::factory::{SignOptions, SmbProtocolFactory};
use crate::smb1::{Resp1, Smb1Shared};

/// NEGOTIATE SecurityMode bits (MS-CIFS §2.2.4.52.2).
const SECURITY_SIGNATURES_ENABLED: u8 = 0x04;
const SECURITY_SIGNATURES_REQUIRED: u8 = 0x08;

/// Establishes the session over a stream on which NEGOTIATE chose
/// NT LM 0.12.
pub(crate) async fn connect(
    f: SmbProtocolFactory,
    stream: TcpStream,
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
    let (rd, wr) = stream.into_split();
    let (shared, tasks) =
        Smb1Shared::start(rd, wr, neg.max_mpx_count, neg.max_buffer_size, flags2, 1);
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
        max_read_size: max_read(&neg),
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
    Ok(Connection::new(
        Backend::Smb1(shared, std::sync::Mutex::new(Some(tasks))),
        f,
        info,
    ))
}

/// Largest READ_ANDX: 120 KiB with CAP_LARGE_READX (Samba 4.17 answers
/// reads above 128 KiB short, which would read as the end of the file),
/// else within the server's MaxBufferSize.
fn max_read(neg: &NegotiateResponse) -> u32 {
    if neg.capabilities & caps::LARGE_READX != 0 {
        120 * 1024
    } else {
        neg.max_buffer_size
            .saturating_sub(128)
            .clamp(1024, 60 * 1024)
    }
}

/// Largest WRITE_ANDX: 120 KiB with CAP_LARGE_WRITEX (Samba 4.17 answers a
/// 1 MiB one with a count of 0), else within the server's MaxBufferSize.
fn max_write(neg: &NegotiateResponse) -> u32 {
    if neg.capabilities & caps::LARGE_WRITEX != 0 {
        120 * 1024
    } else {
        neg.max_buffer_size
            .saturating_sub(128)
            .clamp(1024, 60 * 1024)
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

/// SMB_COM_ECHO (MS-CIFS §2.2.4.39): the server sends the data back.
pub(crate) async fn echo(s: &Smb1Shared, data: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
    let req = smbkit_proto::smb1::echo::EchoRequest {
        echo_count: 1,
        data: data.to_vec(),
    };
    let r = s
        .request(command::ECHO, 0, deadline, "echo", |w| req.encode(w))
        .await?;
    if r.header.status.is_error() {
        return Err(Error::OperationFailure {
            message: format!("echo failed ({})", describe_status(r.header.status)),
            status: r.header.status,
        });
    }
    let resp = smbkit_proto::smb1::echo::EchoResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("ECHO response", e))?;
    Ok(resp.data)
}

/// TREE_CONNECT_ANDX to `\\remote_name\share` (MS-CIFS §2.2.4.55).
pub(crate) async fn tree_connect(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    deadline: Instant,
) -> Result<TreeInfo, Error> {
    let req = TreeConnectRequest {
        flags: 0x0008,
        password: vec![0],
        path: format!("\\\\{}\\{}", conn.remote_name(), share),
        service: "?????".into(),
    };
    let r = s
        .request(
            command::TREE_CONNECT_ANDX,
            0,
            deadline,
            "tree connect",
            |w| req.encode(w),
        )
        .await?;
    if r.header.status != NtStatus::SUCCESS {
        return Err(Error::OperationFailure {
            message: format!(
                "cannot connect to share '{share}' ({})",
                describe_status(r.header.status)
            ),
            status: r.header.status,
        });
    }
    let t = TreeConnectResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("TREE_CONNECT_ANDX response", e))?;
    let share_type = match t.service.as_str() {
        "IPC" => 2,
        "LPT1:" => 3,
        _ => 1,
    };
    Ok(TreeInfo {
        tree_id: u32::from(r.header.tid),
        share_type,
        share_flags: u32::from(t.optional_support),
        capabilities: 0,
        maximal_access: t.maximal_access.unwrap_or(0),
        encrypted: false,
    })
}

/// TREE_DISCONNECT (MS-CIFS §2.2.4.51).
pub(crate) async fn tree_disconnect(
    s: &Smb1Shared,
    tid: u32,
    deadline: Instant,
) -> Result<(), Error> {
    let r = s
        .request(
            command::TREE_DISCONNECT,
            tid as u16,
            deadline,
            "tree disconnect",
            |w| smbkit_proto::smb1::logoff::TreeDisconnectRequest.encode(w),
        )
        .await?;
    if r.header.status.is_error() {
        return Err(Error::OperationFailure {
            message: "tree disconnect failed".into(),
            status: r.header.status,
        });
    }
    Ok(())
}

/// Logs off (LOGOFF_ANDX), best effort, before the socket is closed.
pub(crate) async fn close(_conn: &Connection, s: &Smb1Shared, deadline: Instant) {
    let _ = s
        .request(command::LOGOFF_ANDX, 0, deadline, "logoff", |w| {
            smbkit_proto::smb1::logoff::LogoffRequest.encode(w)
        })
        .await;
}

/// An open file over SMB1.
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
    let r = s
        .request(command::CLOSE, o.tid, deadline, "CLOSE", |w| req.encode(w))
        .await?;
    if r.header.status.is_error() {
        return Err(Error::OperationFailure {
            message: "CLOSE failed".into(),
            status: r.header.status,
        });
    }
    Ok(())
}

/// A request whose response has no body: the status says it all.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn simple(
    s: &Smb1Shared,
    cmd: u8,
    tid: u16,
    what: &'static str,
    share: &str,
    path: &str,
    deadline: Instant,
    body: impl FnOnce(&mut smbkit_proto::Writer),
) -> Result<(), Error> {
    let r = s.request(cmd, tid, deadline, what, body).await?;
    if r.header.status.is_error() {
        return Err(crate::files::failure(what, share, path, r.header.status));
    }
    Ok(())
}

/// READ_ANDX of up to `len` bytes at `offset` (MS-SMB §2.2.4.2); empty at
/// the end of the file.
/// READ_ANDXs of one transfer in flight at once (also bounded by the
/// server's MaxMpxCount).
const WINDOW: usize = 8;

#[allow(clippy::too_many_arguments)]
async fn read_raw(
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

/// WRITE_ANDX of `data` at `offset` (MS-SMB §2.2.4.3), data not copied
/// unless the message is signed.
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
) -> Result<(), Error> {
    let len = data.len();
    let r = s
        .request_with_tail(
            command::WRITE_ANDX,
            tid,
            deadline,
            "write",
            |w| smbkit_proto::smb1::write::encode_write_andx_header(w, fid, offset, 0, len),
            data,
        )
        .await?;
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
    if resp.written(len as u32) as usize != len {
        return Err(ProtocolError::Unexpected(format!(
            "the server wrote {} of {len} bytes",
            resp.written(len as u32)
        ))
        .into());
    }
    Ok(())
}

use crate::files::{smb_path, split_last, OpenSpec};
use smbkit_proto::smb2::create::{access_mask, create_disposition, create_options};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

async fn tid(conn: &Connection, share: &str, deadline: Instant) -> Result<u16, Error> {
    Ok(conn.tree(share, deadline).await? as u16)
}

/// createDirectory over SMB1: NT_CREATE_ANDX creating a directory, then
/// CLOSE, as over SMB2 (SMB_COM_CREATE_DIRECTORY is deprecated, MS-CIFS
/// §2.2.4.1, and Samba fails it on a read-only share with
/// STATUS_MEDIA_WRITE_PROTECTED where the create gives
/// STATUS_ACCESS_DENIED).
pub(crate) async fn create_directory(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let tid = tid(conn, share, deadline).await?;
    let spec = OpenSpec::new(
        access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
        create_disposition::CREATE,
        create_options::DIRECTORY_FILE,
    );
    let o = open(s, tid, share, path, spec, "create_directory", deadline).await?;
    close_file(s, &o, deadline).await
}

/// deleteDirectory over SMB1: SMB_COM_DELETE_DIRECTORY.
pub(crate) async fn delete_directory(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let tid = tid(conn, share, deadline).await?;
    let req = smbkit_proto::smb1::path_ops::DeleteDirectoryRequest {
        directory_name: format!("\\{path}"),
    };
    simple(
        s,
        command::DELETE_DIRECTORY,
        tid,
        "delete_directory",
        share,
        path,
        deadline,
        |w| req.encode(w),
    )
    .await
}

/// rename over SMB1: SMB_COM_RENAME (files and folders).
pub(crate) async fn rename(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    old: &str,
    new: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let tid = tid(conn, share, deadline).await?;
    let req = smbkit_proto::smb1::path_ops::RenameRequest {
        search_attributes: 0x16, // hidden, system, directory
        old_file_name: format!("\\{old}"),
        new_file_name: format!("\\{new}"),
    };
    let r = s
        .request(command::RENAME, tid, deadline, "rename", |w| req.encode(w))
        .await?;
    if r.header.status.is_error() {
        return Err(crate::files::rename_failure(
            share,
            old,
            new,
            r.header.status,
        ));
    }
    Ok(())
}

/// getAttributes over SMB1: two TRANS2 QUERY_PATH_INFORMATION at once, for
/// the pass-through (MS-SMB §2.2.2.3.5) FileNetworkOpenInformation and
/// FileInternalInformation, so that the file id comes along as it does
/// over SMB2. (Samba answers the pass-through FileAllInformation with the
/// SMB_QUERY_FILE_ALL_INFO layout, which has no file id.) Servers without
/// CAP_INFOLEVEL_PASSTHRU get NT_CREATE_ANDX for attributes only, then
/// CLOSE, and no file id.
pub(crate) async fn get_attributes(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<crate::types::SharedFile, Error> {
    use smbkit_proto::fscc::{info_class, FileNetworkOpenInformation};
    use smbkit_proto::smb1::trans2::{passthrough_level, QueryPathInformationRequest};
    let tid = tid(conn, share, deadline).await?;
    let ft = smbkit_proto::fscc::filetime_to_unix;
    if conn.server_info().capabilities & caps::INFOLEVEL_PASSTHRU != 0 {
        let query = |class: u8| QueryPathInformationRequest {
            information_level: passthrough_level(class),
            file_name: format!("\\{path}"),
            max_data_count: 512,
        };
        let (open, internal) = (
            query(info_class::FILE_NETWORK_OPEN_INFORMATION),
            query(info_class::FILE_INTERNAL_INFORMATION),
        );
        let ((_, _, open, _), (_, _, internal, _)) = tokio::try_join!(
            trans2(s, tid, share, path, "get_attributes", deadline, |w| {
                open.encode(w)
            }),
            trans2(s, tid, share, path, "get_attributes", deadline, |w| {
                internal.encode(w)
            }),
        )?;
        let o = FileNetworkOpenInformation::decode(&open)
            .map_err(|e| ProtocolError::decode("FileNetworkOpenInformation", e))?;
        let file_id = smbkit_proto::Reader::new(&internal)
            .u64("FileInternalInformation")
            .map_err(|e| ProtocolError::decode("FileInternalInformation", e))?;
        return Ok(crate::types::SharedFile {
            create_time: ft(o.creation_time),
            last_access_time: ft(o.last_access_time),
            last_write_time: ft(o.last_write_time),
            last_attr_change_time: ft(o.change_time),
            file_size: o.end_of_file,
            alloc_size: o.allocation_size,
            file_attributes: o.file_attributes,
            short_name: String::new(),
            filename: split_last(path).1.to_string(),
            file_id,
        });
    }
    let spec = OpenSpec::new(
        access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
        create_disposition::OPEN,
        0,
    );
    let o = open(s, tid, share, path, spec, "get_attributes", deadline).await?;
    close_file(s, &o, deadline).await?;
    let c = &o.create;
    Ok(crate::types::SharedFile {
        create_time: ft(c.create_time),
        last_access_time: ft(c.last_access_time),
        last_write_time: ft(c.last_write_time),
        last_attr_change_time: ft(c.last_change_time),
        file_size: c.end_of_file,
        alloc_size: c.allocation_size,
        file_attributes: c.ext_file_attributes,
        short_name: String::new(),
        filename: split_last(path).1.to_string(),
        file_id: c.extended.as_ref().map_or(0, |e| e.file_id),
    })
}

/// retrieveFileFromOffset over SMB1: READ_ANDX requests of up to 60 KiB,
/// one after another; each request has the whole time limit.
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
    let tid = tid(conn, share, deadline).await?;
    let spec = OpenSpec::new(
        access_mask::FILE_READ_DATA | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
        create_disposition::OPEN,
        create_options::NON_DIRECTORY_FILE,
    );
    let o = open(s, tid, share, &path, spec, "retrieve_file", deadline).await?;
    let result = async {
        if offset > o.create.end_of_file {
            return Err(Error::InvalidArgument(format!(
                "offset {offset} is past the end of '{}' ({} bytes)",
                crate::files::display(share, &path),
                o.create.end_of_file
            )));
        }
        let chunk = u64::from(conn.server_info().max_read_size.max(1024));
        let end = max_length.map_or(u64::MAX, |m| offset.saturating_add(m));
        let known = o.create.end_of_file;
        let (sh, pa): (Arc<str>, Arc<str>) = (share.into(), path.as_str().into());
        let mut inflight: std::collections::VecDeque<
            tokio::task::JoinHandle<Result<(u32, bytes::Bytes), Error>>,
        > = std::collections::VecDeque::new();
        let mut next = offset;
        let mut at = offset;
        let outcome = loop {
            // Keep up to WINDOW reads in flight up to the known end of the
            // file; past it (a growing file), one at a time.
            while inflight.len() < WINDOW && next < end && (next < known || inflight.is_empty()) {
                let len = (end - next).min(chunk) as u32;
                let (s2, sh2, pa2) = (Arc::clone(s), sh.clone(), pa.clone());
                let (tid, fid, at2) = (o.tid, o.fid, next);
                inflight.push_back(tokio::spawn(async move {
                    read_raw(&s2, tid, fid, at2, len, &sh2, &pa2, Instant::now() + limit)
                        .await
                        .map(|d| (len, d))
                }));
                next += u64::from(len);
            }
            let Some(front) = inflight.pop_front() else {
                break Ok(());
            };
            let (len, data) = match front.await {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => break Err(e),
                Err(e) => break Err(Error::Io(std::io::Error::other(e.to_string()))),
            };
            if !data.is_empty() {
                if let Err(e) = writer.write_all(&data).await {
                    break Err(e.into());
                }
                at += data.len() as u64;
            }
            if (data.len() as u32) < len {
                break Ok(());
            }
        };
        for t in inflight {
            t.abort();
        }
        outcome?;
        writer.flush().await?;
        Ok((o.create.ext_file_attributes, at - offset))
    }
    .await;
    let closed = close_file(s, &o, Instant::now() + limit).await;
    let r = result?;
    closed?;
    Ok(r)
}

/// storeFile(FromOffset) over SMB1: WRITE_ANDX requests of up to 60 KiB.
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
    let tid = tid(conn, share, deadline).await?;
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
        let mut at = offset;
        let (sh, pa): (Arc<str>, Arc<str>) = (share.into(), path.as_str().into());
        let mut inflight: std::collections::VecDeque<tokio::task::JoinHandle<Result<(), Error>>> =
            std::collections::VecDeque::new();
        let outcome = async {
            loop {
                let data = crate::transfer::fill_chunk(reader, chunk).await?;
                let n = data.len();
                if n > 0 {
                    let (s2, sh2, pa2) = (Arc::clone(s), sh.clone(), pa.clone());
                    let (tid, fid, at2, data) = (o.tid, o.fid, at, data.freeze());
                    inflight.push_back(tokio::spawn(async move {
                        write_raw(&s2, tid, fid, at2, data, &sh2, &pa2, Instant::now() + limit)
                            .await
                    }));
                    at += n as u64;
                }
                if inflight.len() >= WINDOW || n < chunk {
                    if let Some(front) = inflight.pop_front() {
                        front
                            .await
                            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
                    }
                }
                if n < chunk {
                    break;
                }
            }
            while let Some(front) = inflight.pop_front() {
                front
                    .await
                    .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
            }
            Ok::<(), Error>(())
        }
        .await;
        for t in inflight {
            t.abort();
        }
        outcome?;
        Ok::<u64, Error>(at - offset)
    }
    .await;
    let closed = close_file(s, &o, Instant::now() + limit).await;
    let n = result?;
    closed?;
    Ok(n)
}

/// FIND flags (MS-CIFS §2.2.6.2.1): close at end of search, continue from
/// the last name.
const FIND_CLOSE_AT_EOS: u16 = 0x0002;
const FIND_CONTINUE_FROM_LAST: u16 = 0x0008;
/// Search attributes: hidden, system and directories too.
const SEARCH_ALL: u16 = 0x0016;
/// How long the answer to a FIND_FIRST2 whose caller gave up is awaited, so
/// that the search it opened can be closed.
const LATE_FIND_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The most a TRANSACTION2 response can total: its TotalParameterCount
/// and TotalDataCount are 16-bit (MS-CIFS §2.2.4.46.2).
const TRANS2_LIMIT: u32 = 0xFFFF;

/// One TRANSACTION2 exchange: its parameters and data, reassembled from
/// every message of the response (MS-CIFS §2.2.4.46.2).
async fn trans2(
    s: &Smb1Shared,
    tid: u16,
    share: &str,
    path: &str,
    what: &'static str,
    deadline: Instant,
    body: impl FnOnce(&mut smbkit_proto::Writer),
) -> Result<(NtStatus, Vec<u8>, Vec<u8>, bool), Error> {
    let r = s
        .request_trans(
            command::TRANSACTION2,
            tid,
            deadline,
            what,
            TRANS2_LIMIT,
            body,
        )
        .await?;
    let status = r.header.status;
    if status.is_error() {
        return Err(crate::files::failure(what, share, path, status));
    }
    let unicode = r.unicode();
    Ok((status, r.parameters, r.data, unicode))
}

/// MaxDataCount of FIND_FIRST2 / FIND_NEXT2: the most the 16-bit field
/// allows. A response larger than one message of our MaxBufferSize comes in
/// several parts, which the driver puts together.
const FIND_MAX_DATA: u16 = 0xFFFF;

/// listPath over SMB1: TRANS2 FIND_FIRST2 / FIND_NEXT2 (MS-CIFS §2.2.6.2,
/// §2.2.6.3) with SMB_FIND_FILE_ID_BOTH_DIRECTORY_INFO (MS-SMB §2.2.8.1.3),
/// which carries the FileId that SMB2 listings have too; servers that do
/// not know that level get SMB_FIND_FILE_BOTH_DIRECTORY_INFO.
///
/// A search the server left open (the listing failed or timed out before
/// its end) is closed with FIND_CLOSE2, also when the FIND_FIRST2 that
/// opened it is answered after its time limit.
pub(crate) async fn list_entries(
    conn: &Connection,
    s: &Arc<Smb1Shared>,
    share: &str,
    dir: &str,
    pattern: &str,
    deadline: Instant,
) -> Result<Vec<crate::types::SharedFile>, Error> {
    use smbkit_proto::smb1::trans2::find_level;
    let tid = tid(conn, share, deadline).await?;
    let max_data = FIND_MAX_DATA;
    let search = if dir.is_empty() {
        format!("\\{pattern}")
    } else {
        format!("\\{dir}\\{pattern}")
    };
    let mut level = find_level::FILE_ID_BOTH_DIRECTORY_INFO;
    let first = loop {
        let r = find_first(s, tid, share, dir, &search, level, max_data, deadline).await;
        match r {
            Err(e)
                if level == find_level::FILE_ID_BOTH_DIRECTORY_INFO
                    && matches!(
                        e.status(),
                        Some(NtStatus::INVALID_LEVEL | NtStatus::NOT_SUPPORTED)
                    ) =>
            {
                level = find_level::FILE_BOTH_DIRECTORY_INFO;
            }
            Err(e) if e.status() == Some(NtStatus::NO_SUCH_FILE) => return Ok(Vec::new()),
            r => break r?,
        }
    };
    let (sid, end, mut entries) = first;
    if end {
        return Ok(entries);
    }
    let more = find_rest(
        s,
        tid,
        share,
        dir,
        sid,
        level,
        max_data,
        &mut entries,
        deadline,
    )
    .await;
    if let Err(e) = more {
        find_close_in_background(s, tid, sid);
        return Err(e);
    }
    Ok(entries)
}

/// The entries of a FIND_FIRST2 or FIND_NEXT2 response at `level`.
fn find_entries(
    level: u16,
    data: &[u8],
    unicode: bool,
) -> Result<Vec<crate::types::SharedFile>, Error> {
    use smbkit_proto::smb1::trans2::{
        find_level, parse_find_file_both_directory_info, parse_find_file_id_both_directory_info,
    };
    let entries = if level == find_level::FILE_ID_BOTH_DIRECTORY_INFO {
        parse_find_file_id_both_directory_info(data, unicode)
    } else {
        parse_find_file_both_directory_info(data, unicode)
    }
    .map_err(|e| ProtocolError::decode("directory listing", e))?;
    Ok(entries
        .into_iter()
        .map(crate::types::SharedFile::from_entry)
        .collect())
}

/// FIND_FIRST2: the search's SID, whether it ended, and its first entries.
/// Should `deadline` pass before the answer, the search the server opens
/// anyway is closed when the answer comes.
#[allow(clippy::too_many_arguments)]
async fn find_first(
    s: &Arc<Smb1Shared>,
    tid: u16,
    share: &str,
    dir: &str,
    search: &str,
    level: u16,
    max_data: u16,
    deadline: Instant,
) -> Result<(u16, bool, Vec<crate::types::SharedFile>), Error> {
    use smbkit_proto::smb1::trans2::{FindFirst2Request, FindFirst2ResponseParameters};
    let req = FindFirst2Request {
        search_attributes: SEARCH_ALL,
        search_count: 1024,
        flags: FIND_CLOSE_AT_EOS,
        information_level: level,
        search_storage_type: 0,
        file_name: search.to_string(),
        max_data_count: max_data,
    };
    let (s2, share2, dir2) = (Arc::clone(s), share.to_string(), dir.to_string());
    let late_deadline = deadline.max(Instant::now() + LATE_FIND_LIMIT);
    let mut job = tokio::spawn(async move {
        let (_, params, data, unicode) =
            trans2(&s2, tid, &share2, &dir2, "listing", late_deadline, |w| {
                req.encode(w)
            })
            .await?;
        let p = FindFirst2ResponseParameters::decode(&params)
            .map_err(|e| ProtocolError::decode("FIND_FIRST2 parameters", e))?;
        let end = p.end_of_search != 0;
        match find_entries(level, &data, unicode) {
            Ok(entries) => Ok((p.sid, end, entries)),
            Err(e) => {
                if !end {
                    find_close_in_background(&s2, tid, p.sid);
                }
                Err(e)
            }
        }
    });
    match tokio::time::timeout_at(deadline, &mut job).await {
        Ok(joined) => joined.map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?,
        Err(_) => {
            let s3 = Arc::clone(s);
            tokio::spawn(async move {
                if let Ok(Ok((sid, false, _))) = job.await {
                    find_close_in_background(&s3, tid, sid);
                }
            });
            Err(Error::Timeout {
                operation: "listing",
                after: std::time::Duration::ZERO,
            })
        }
    }
}

/// FIND_NEXT2 until the end of the search, appending to `entries`.
#[allow(clippy::too_many_arguments)]
async fn find_rest(
    s: &Smb1Shared,
    tid: u16,
    share: &str,
    dir: &str,
    sid: u16,
    level: u16,
    max_data: u16,
    entries: &mut Vec<crate::types::SharedFile>,
    deadline: Instant,
) -> Result<(), Error> {
    use smbkit_proto::smb1::trans2::{FindNext2Request, FindNext2ResponseParameters};
    for _ in 0..100_000 {
        let last = match entries.last() {
            Some(e) => e.filename.clone(),
            None => return Ok(()),
        };
        let next = FindNext2Request {
            sid,
            search_count: 1024,
            information_level: level,
            resume_key: 0,
            flags: FIND_CLOSE_AT_EOS | FIND_CONTINUE_FROM_LAST,
            file_name: last,
            max_data_count: max_data,
        };
        let (_, params, data, unicode) =
            match trans2(s, tid, share, dir, "listing", deadline, |w| next.encode(w)).await {
                Ok(x) => x,
                Err(e) if e.status() == Some(NtStatus::NO_MORE_FILES) => return Ok(()),
                Err(e) => return Err(e),
            };
        let p = FindNext2ResponseParameters::decode(&params)
            .map_err(|e| ProtocolError::decode("FIND_NEXT2 parameters", e))?;
        let more = find_entries(level, &data, unicode)?;
        if more.is_empty() && p.end_of_search == 0 {
            return Err(ProtocolError::Unexpected("FIND_NEXT2 made no progress".into()).into());
        }
        entries.extend(more);
        if p.end_of_search != 0 {
            return Ok(());
        }
    }
    Err(ProtocolError::Unexpected("the listing never ends".into()).into())
}

/// Ends the search `sid` (FIND_CLOSE2, MS-CIFS §2.2.4.48) without waiting.
fn find_close_in_background(s: &Arc<Smb1Shared>, tid: u16, sid: u16) {
    let s = Arc::clone(s);
    tokio::spawn(async move {
        let req = smbkit_proto::smb1::trans2::FindClose2Request { sid };
        let deadline = Instant::now() + LATE_FIND_LIMIT;
        let _ = s
            .request(command::FIND_CLOSE2, tid, deadline, "FIND_CLOSE2", |w| {
                req.encode(w)
            })
            .await;
    });
}

/// Deletes one file (SMB_COM_DELETE) or empty folder over SMB1.
pub(crate) async fn delete_one(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    path: &str,
    directory: bool,
    deadline: Instant,
) -> Result<(), Error> {
    if directory {
        return delete_directory(conn, s, share, path, deadline).await;
    }
    let tid = tid(conn, share, deadline).await?;
    let req = smbkit_proto::smb1::path_ops::DeleteRequest {
        search_attributes: 0x06,
        file_name: format!("\\{path}"),
    };
    let deleted = simple(
        s,
        command::DELETE,
        tid,
        "delete_files",
        share,
        path,
        deadline,
        |w| req.encode(w),
    )
    .await;
    match deleted {
        // Samba's SMB_COM_DELETE opens the file sharing nothing, so a file
        // open elsewhere (even with FILE_SHARE_DELETE) cannot go that way.
        // Over SMB2 such a file is marked for deletion and goes when its
        // last handle closes: do the same with an open that shares all and
        // deletes on close.
        Err(e) if e.status() == Some(NtStatus::SHARING_VIOLATION) => {
            let spec = OpenSpec::new(
                access_mask::DELETE | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
                create_disposition::OPEN,
                create_options::NON_DIRECTORY_FILE | create_options::DELETE_ON_CLOSE,
            );
            let o = open(s, tid, share, path, spec, "delete_files", deadline).await?;
            close_file(s, &o, deadline).await
        }
        r => r,
    }
}

/// resetFileAttributes over SMB1 for one file: TRANS2
/// SET_PATH_INFORMATION with SMB_SET_FILE_BASIC_INFO (pass-through
/// FileBasicInformation).
pub(crate) async fn set_attributes(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    path: &str,
    attributes: u32,
    deadline: Instant,
) -> Result<(), Error> {
    use smbkit_proto::smb1::trans2::{passthrough_level, SetPathInformationRequest};
    let tid = tid(conn, share, deadline).await?;
    let req = SetPathInformationRequest {
        information_level: passthrough_level(
            smbkit_proto::fscc::info_class::FILE_BASIC_INFORMATION,
        ),
        file_name: format!("\\{path}"),
        data: smbkit_proto::fscc::FileBasicInformation::set_attributes(attributes).to_bytes(),
    };
    trans2(
        s,
        tid,
        share,
        path,
        "reset_file_attributes",
        deadline,
        |w| req.encode(w),
    )
    .await
    .map(|_| ())
}
