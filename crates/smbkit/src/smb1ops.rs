//! The operations of [`Connection`] over SMB1 (NT LM 0.12): session setup
//! with SPNEGO/NTLMSSP (MS-SMB §3.2.4.2.4), echo, tree connect and logoff.

use std::sync::Arc;

use smbkit_proto::conn::smb1::Smb1Setup;
use smbkit_proto::conn::smb2::handshake::SigningPolicy;
use smbkit_proto::conn::{Smb1Config, Smb1Connection};
use smbkit_proto::ntlm::{Credentials, NtlmOptions};
use smbkit_proto::smb1::header::{command, flags2};
use smbkit_proto::smb1::negotiate::{capabilities as caps, NegotiateResponse};
use smbkit_proto::smb1::tree_connect::{TreeConnectRequest, TreeConnectResponse};
use smbkit_proto::{Dialect, NtStatus};
use tokio::time::Instant;

use crate::connection::{Backend, Connection, ServerInfo, TreeInfo};
use crate::driver::smb1::{Resp1, Smb1Shared};
use crate::error::{describe_status, Error, ProtocolError};
use crate::factory::{SignOptions, SmbProtocolFactory};

/// NEGOTIATE SecurityMode bits (MS-CIFS §2.2.4.52.2).
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
    let now = Instant::now();
    let setup = Smb1Setup {
        negotiate: neg.clone(),
        credentials: Credentials {
            user: f.username.clone(),
            domain: f.domain.clone(),
            password: f.password.get(),
            workstation: f.my_name.clone(),
        },
        ntlm: NtlmOptions {
            use_ntlm_v2: f.use_ntlm_v2,
            client_time: crate::handshake::filetime_now(),
            ..NtlmOptions::default()
        },
        signing: match f.sign_options {
            SignOptions::Never => SigningPolicy::Never,
            SignOptions::WhenSupported => SigningPolicy::WhenSupported,
            SignOptions::WhenRequired => SigningPolicy::WhenRequired,
        },
        max_buffer_size: client_max_buffer(),
        limit: deadline.saturating_duration_since(now),
    };
    let config = Smb1Config {
        max_mpx: neg.max_mpx_count,
        max_buffer: neg.max_buffer_size,
        flags2,
        first_mid: 1,
    };
    let mut core = Smb1Connection::with_session_setup(config, setup, now.into_std());
    let mut stream = stream;
    let session = crate::handshake::pump_smb1(&mut core, &mut stream)
        .await
        .map_err(|e| match e {
            Error::AuthFailed {
                status, message, ..
            } => Error::AuthFailed {
                status,
                user: f.username.clone(),
                message,
            },
            e => e,
        })?;
    let (rd, wr) = crate::transport::split(stream);
    let (shared, tasks) = Smb1Shared::start(core, rd, wr);
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
    Ok(Connection::new(
        Backend::Smb1(shared, std::sync::Mutex::new(Some(tasks))),
        f,
        info,
    ))
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
            |w| {
                smbkit_proto::smb1::logoff::TreeDisconnectRequest.encode(w);
                Ok(())
            },
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
            smbkit_proto::smb1::logoff::LogoffRequest.encode(w);
            Ok(())
        })
        .await;
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
    body: impl FnOnce(&mut smbkit_proto::Writer) -> Result<(), smbkit_proto::EncodeError>,
) -> Result<(), Error> {
    let r = s.request(cmd, tid, deadline, what, body).await?;
    if r.header.status.is_error() {
        return Err(crate::files::failure(what, share, path, r.header.status));
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
    let tid = tid(conn, share, deadline).await?;
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
    body: impl FnOnce(&mut smbkit_proto::Writer) -> Result<(), smbkit_proto::EncodeError>,
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
                req.encode(w);
                Ok(())
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
