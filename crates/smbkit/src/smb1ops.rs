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
    if neg.capabilities & caps::EXTENDED_SECURITY == 0 {
        return Err(Error::Unsupported(
            "the SMB1 server does not offer extended security; logons without it are not available in this version of smbkit"
                .into(),
        ));
    }
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
        | flags2::EXTENDED_SECURITY
        | flags2::EAS;
    let (rd, wr) = stream.into_split();
    let (shared, tasks) = Smb1Shared::start(rd, wr, neg.max_mpx_count, flags2, 1);
    let session = session_setup(&f, &shared, &neg, want_signing, deadline).await;
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

/// Largest READ_ANDX: 64 KiB - 1 without CAP_LARGE_READX (MS-SMB §2.2.4.2).
fn max_read(neg: &NegotiateResponse) -> u32 {
    if neg.capabilities & caps::LARGE_READX != 0 {
        60 * 1024
    } else {
        neg.max_buffer_size
            .saturating_sub(128)
            .clamp(1024, 60 * 1024)
    }
}

fn max_write(neg: &NegotiateResponse) -> u32 {
    if neg.capabilities & caps::LARGE_WRITEX != 0 {
        60 * 1024
    } else {
        neg.max_buffer_size
            .saturating_sub(128)
            .clamp(1024, 60 * 1024)
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
        client_time: crate::handshake::filetime_now(),
        ..NtlmOptions::default()
    };
    let mut auth = SpnegoNtlm::new(creds, opts);
    let mut token = auth.initial_token();
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
            max_buffer_size: 61440,
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
                    // The response to the final SESSION_SETUP is signed
                    // with sequence number 1; requests go on from 2.
                    let signer = Smb1Signer::new(key.to_vec());
                    if !signer.verify(&r.msg, 1) {
                        return Err(ProtocolError::BadSignature {
                            command: "SESSION_SETUP_ANDX".into(),
                        }
                        .into());
                    }
                    s.activate_signing(signer, 2);
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
