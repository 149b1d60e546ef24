//! Pipes (MS-CIFS §2.2.5.6), snapshots (MS-SMB §2.2.7.2) and security
//! (MS-CIFS §2.2.7.6) over SMB1. Transaction responses larger than
//! smbkit's MaxBufferSize come in several messages, which the driver puts
//! together, and transaction requests larger than the server's go as
//! primary and secondary requests. RPC request fragments are still kept
//! within one message of the server's MaxBufferSize
//! (`Smb1::request_room`): all but the last are written with WRITE_ANDX,
//! which cannot be split.

use super::*;

/// What a transaction, NT_TRANSACT or READ_ANDX message spends besides its
/// data: the 32-byte header, up to 22 words, ByteCount, a name and
/// alignment pads, with room to spare.
const MESSAGE_OVERHEAD: u32 = 256;

/// MaxDataCount of a TRANS_TRANSACT_NMPIPE: the most its 16-bit field
/// allows (the response may come in several messages).
const PIPE_IO: u32 = 0xFFFF;

/// The most output an NT_TRANSACT request asks for (and the largest
/// response total accepted): 1 MiB.
const NT_TRANS_OUTPUT_LIMIT: u32 = 1 << 20;

/// The least MaxDataCount used, whatever the server's MaxBufferSize.
const MIN_ROOM: u32 = 1024;

/// MaxDataCount of the first NT_TRANSACT_QUERY_SECURITY_DESC: room for a
/// DACL of the largest size an ACL can have (its AclSize is 16-bit) and
/// the rest of the descriptor.
const SECURITY_FIRST_OUTPUT: u32 = 80 * 1024;

/// The most data one READ_ANDX response on a pipe carries: smbkit's
/// MaxBufferSize less the headers (a READ_ANDX response is never split).
fn read_room() -> u32 {
    u32::from(CLIENT_MAX_BUFFER).saturating_sub(MESSAGE_OVERHEAD)
}

/// The error of a share without snapshot support. Over SMB1 Samba answers
/// the FSCTL with STATUS_NOT_SUPPORTED (its VFS's ENOSYS), where over SMB2
/// it, like Windows, answers STATUS_INVALID_DEVICE_REQUEST (MS-SMB2
/// §3.3.5.15: an FSCTL the object does not support); the status is made
/// the SMB2 one so that callers matching on it see the same on both
/// protocols. The message keeps what the server said.
fn no_snapshot_support(share: &str, path: &str) -> Error {
    Error::OperationFailure {
        message: format!(
            "list_snapshots '{}' failed (the share has no snapshot support: the server answered \
             STATUS_NOT_SUPPORTED to FSCTL_SRV_ENUMERATE_SNAPSHOTS)",
            crate::error::display(share, path)
        ),
        status: NtStatus::INVALID_DEVICE_REQUEST,
    }
}

/// Queries on one path, opened once.
pub(crate) struct PathQuery {
    pub(crate) file: OpenFile,
    pub(crate) share: String,
    pub(crate) path: String,
}

impl PathQuery {
    /// NT_TRANSACT_IOCTL FSCTL_SRV_ENUMERATE_SNAPSHOTS on the open file (MS-SMB
    /// §2.2.7.2.1, §3.3.5.11.1). STATUS_NOT_SUPPORTED is the error of a share
    /// without snapshots ([`no_snapshot_support`]).
    pub(crate) async fn enumerate_snapshots(
        &self,
        out_len: u32,
        deadline: Instant,
    ) -> Result<crate::family::Sized, Error> {
        use smbkit_proto::smb1::nt_transact::IoctlRequest;
        let f = &self.file;
        let Family::Smb1(me) = f.family() else {
            return Err(
                ProtocolError::Unexpected("an SMB2 file on an SMB1 connection".into()).into(),
            );
        };
        let (tid, fid) = tid_fid(f.file())?;
        let req = IoctlRequest::enumerate_snapshots(fid, out_len);
        let r = me
            .shared
            .request_trans(
                command::NT_TRANSACT,
                tid,
                deadline,
                "NT_TRANSACT_IOCTL",
                out_len,
                |w| req.encode(w),
            )
            .await?;
        if r.header.status == NtStatus::NOT_SUPPORTED {
            return Err(no_snapshot_support(&self.share, &self.path));
        }
        Ok(crate::family::Sized {
            status: r.header.status,
            data: r.data.into(),
            needed: None,
        })
    }

    /// NT_TRANSACT_QUERY_SECURITY_DESC on the open `f` (MS-CIFS §2.2.7.6,
    /// §3.3.5.59.6); after STATUS_BUFFER_TOO_SMALL, LengthNeeded from the
    /// response's parameters (MS-CIFS §2.2.7.6.2).
    pub(crate) async fn query_security(
        &self,
        additional: u32,
        out_len: u32,
        deadline: Instant,
    ) -> Result<crate::family::Sized, Error> {
        use smbkit_proto::smb1::nt_transact::{decode_length_needed, QuerySecurityDescRequest};
        let f = &self.file;
        let Family::Smb1(me) = f.family() else {
            return Err(
                ProtocolError::Unexpected("an SMB2 file on an SMB1 connection".into()).into(),
            );
        };
        let (tid, fid) = tid_fid(f.file())?;
        let req = QuerySecurityDescRequest {
            fid,
            security_information: additional,
            max_data_count: out_len,
        };
        let r = me
            .shared
            .request_trans(
                command::NT_TRANSACT,
                tid,
                deadline,
                "NT_TRANSACT_QUERY_SECURITY_DESC",
                out_len,
                |w| req.encode(w),
            )
            .await?;
        let needed = if r.header.status == NtStatus::BUFFER_TOO_SMALL {
            decode_length_needed(&r.parameters).ok()
        } else {
            None
        };
        Ok(crate::family::Sized {
            status: r.header.status,
            data: r.data.into(),
            needed,
        })
    }
}

impl Smb1 {
    pub(crate) fn query_limits(&self) -> crate::family::QueryLimits {
        crate::family::QueryLimits {
            security_first: SECURITY_FIRST_OUTPUT,
            security_max: NT_TRANS_OUTPUT_LIMIT,
            fsctl_max: NT_TRANS_OUTPUT_LIMIT,
        }
    }

    /// The most data bytes one request message can carry: the server's
    /// MaxBufferSize (NEGOTIATE, kept as `max_transact_size`) less the
    /// headers, at most 0xFFFF.
    fn request_room(&self) -> u32 {
        self.info
            .max_transact_size
            .saturating_sub(MESSAGE_OVERHEAD)
            .clamp(MIN_ROOM, 0xFFFF)
    }

    /// TRANS_TRANSACT_NMPIPE asks for up to 0xFFFF bytes; READ_ANDX for
    /// what one response message of smbkit's MaxBufferSize holds; request
    /// fragments fit one message of the server's.
    pub(crate) fn pipe_limits(&self) -> crate::family::PipeLimits {
        crate::family::PipeLimits {
            io_size: PIPE_IO,
            read_max: read_room(),
            max_fragment: u16::try_from(self.request_room()).unwrap_or(u16::MAX),
        }
    }

    /// TRANS_TRANSACT_NMPIPE (MS-CIFS §2.2.5.6).
    pub(crate) async fn pipe_transact(
        &self,
        pipe: FileRef,
        data: &[u8],
        io_size: u32,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        use smbkit_proto::smb1::trans::TransactNmPipeRequest;
        let io = u16::try_from(io_size).unwrap_or(u16::MAX);
        let (tid, fid) = tid_fid(pipe)?;
        let req = TransactNmPipeRequest {
            fid,
            data: data.to_vec(),
            max_data_count: io,
        };
        let r = self
            .shared
            .request_trans(
                command::TRANSACTION,
                tid,
                deadline,
                "TRANS_TRANSACT_NMPIPE",
                u32::from(io),
                |w| req.encode(w),
            )
            .await?;
        let status = r.header.status;
        if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
            return Err(crate::error::pipe_io_failure(
                "TRANS_TRANSACT_NMPIPE",
                status,
            ));
        }
        if r.data.len() > usize::from(io) {
            return Err(ProtocolError::Unexpected(format!(
                "TRANS_TRANSACT_NMPIPE returned {} bytes, more than the {io} asked for",
                r.data.len()
            ))
            .into());
        }
        Ok(r.data.into())
    }

    /// WRITE_ANDX of one message to the pipe (offset 0, MS-CIFS
    /// §2.2.4.43); the server must take all of it.
    pub(crate) async fn pipe_write(
        &self,
        pipe: FileRef,
        data: &[u8],
        deadline: Instant,
    ) -> Result<(), Error> {
        let (tid, fid) = tid_fid(pipe)?;
        let len = data.len();
        let r = self
            .shared
            .send(
                command::WRITE_ANDX,
                tid,
                deadline,
                "WRITE_ANDX",
                |w| smbkit_proto::smb1::write::encode_write_andx_header(w, fid, 0, 0, len),
                bytes::Bytes::copy_from_slice(data),
            )
            .await?
            .response()
            .await?;
        if r.header.status.is_error() {
            return Err(crate::error::pipe_io_failure("WRITE_ANDX", r.header.status));
        }
        let resp = smbkit_proto::smb1::write::WriteAndxResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("WRITE_ANDX response", e))?;
        let written = resp.written(len as u32);
        if written as usize != len {
            return Err(ProtocolError::Unexpected(format!(
                "the srvsvc pipe took {written} of the {len} bytes of a PDU"
            ))
            .into());
        }
        Ok(())
    }

    /// READ_ANDX of what the pipe holds (MS-SMB §2.2.4.2;
    /// STATUS_BUFFER_OVERFLOW means more of the message is waiting).
    pub(crate) async fn pipe_read(
        &self,
        pipe: FileRef,
        len: u32,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        use smbkit_proto::smb1::read::{read_andx_data_range, ReadAndxRequest};
        let (tid, fid) = tid_fid(pipe)?;
        let length = u16::try_from(len).unwrap_or(u16::MAX);
        let req = ReadAndxRequest {
            fid,
            offset: 0,
            max_count: u32::from(length),
            min_count: 0,
            // Timeout_or_MaxCountHigh of a pipe read: 0, return at once.
            pipe_timeout: Some(0),
            remaining: 0,
        };
        let r = self
            .shared
            .request(command::READ_ANDX, tid, deadline, "READ_ANDX", |w| {
                req.encode(w)
            })
            .await?;
        let status = r.header.status;
        if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
            return Err(crate::error::pipe_io_failure("READ_ANDX", status));
        }
        let range = read_andx_data_range(&r.msg)
            .map_err(|e| ProtocolError::decode("READ_ANDX response", e))?;
        crate::family::check_pipe_read(range.len(), u32::from(length), "READ_ANDX")?;
        Ok(r.msg.slice(range))
    }
}

#[cfg(test)]
mod transaction_tests {
    //! Against real Samba: the internal knobs the public API cannot reach
    //! (tiny pipe buffers force STATUS_BUFFER_OVERFLOW and READ_ANDX
    //! continuations; a tiny security buffer forces STATUS_BUFFER_TOO_SMALL
    //! and the retry with LengthNeeded).
    use super::*;
    use crate::{Connection, SmbProtocolFactory};
    use smbkit_proto::dtyp::security_information;
    use smbkit_proto::smb1::nt_transact::QuerySecurityDescRequest;
    use smbkit_testserver::{Profile, TestServer};
    use std::time::Duration;

    fn smb1(conn: &Connection) -> &Smb1 {
        match conn.ctx.family() {
            Family::Smb1(f) => f,
            Family::Smb2(_) => panic!("an SMB1 connection"),
        }
    }

    async fn connect(srv: &TestServer, direct: bool) -> Connection {
        SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
            .unwrap()
            .direct_tcp(direct)
            .connect((srv.host(), srv.port()))
            .await
            .unwrap()
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[test]
    fn no_snapshot_support_is_invalid_device_request() {
        let e = no_snapshot_support("share", "a\\b");
        assert_eq!(e.status(), Some(NtStatus::INVALID_DEVICE_REQUEST));
        let msg = e.to_string();
        assert!(
            msg.contains("\\share\\a\\b") && msg.contains("NOT_SUPPORTED"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn requests_fit_one_message_of_the_server() {
        let srv = TestServer::start(Profile::Smb1Only).unwrap();
        let conn = connect(&srv, true).await;
        // Samba's MaxBufferSize ("max xmit", 16644 by default) less the
        // headers.
        let max = conn.server_info().max_transact_size;
        assert!(max > MESSAGE_OVERHEAD + MIN_ROOM, "MaxBufferSize {max}");
        assert_eq!(smb1(&conn).request_room(), max - MESSAGE_OVERHEAD);
        assert!(read_room() < u32::from(CLIENT_MAX_BUFFER));
    }

    // -----------------------------------------------------------------------
    // Responses the server splits over several messages: a client
    // MaxBufferSize of 1024 bytes makes Samba send every transaction
    // response above ~950 bytes in parts.
    // -----------------------------------------------------------------------

    /// The client MaxBufferSize of [`small_buffer_connect`].
    const SMALL_BUFFER: u16 = 1024;

    /// A connection whose SESSION_SETUP announced [`SMALL_BUFFER`].
    async fn small_buffer_connect(srv: &TestServer, direct: bool) -> Connection {
        TEST_MAX_BUFFER
            .scope(SMALL_BUFFER, connect(srv, direct))
            .await
    }

    /// Gives `path` a POSIX ACL (the `system.posix_acl_access` extended
    /// attribute, version 2) with `users` named-user entries.
    fn large_acl(path: &std::path::Path, users: u32) {
        const UNDEFINED: u32 = u32::MAX;
        let mut v = 2u32.to_le_bytes().to_vec();
        let mut entry = |tag: u16, perm: u16, id: u32| {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&id.to_le_bytes());
        };
        entry(0x01, 6, UNDEFINED); // ACL_USER_OBJ
        for uid in 0..users {
            entry(0x02, 4, 30_000 + uid); // ACL_USER
        }
        entry(0x04, 4, UNDEFINED); // ACL_GROUP_OBJ
        entry(0x10, 6, UNDEFINED); // ACL_MASK
        entry(0x20, 4, UNDEFINED); // ACL_OTHER
        let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
        let out = std::process::Command::new("setfattr")
            .args(["-n", "system.posix_acl_access", "-v"])
            .arg(format!("0x{hex}"))
            .arg(path)
            .output()
            .expect("run setfattr (Debian's attr package)");
        assert!(out.status.success(), "setfattr: {out:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn responses_in_many_messages_are_put_together() {
        use smbkit_testserver::ExtraConfig;
        let comment = "a share comment long enough to make the share list span messages";
        let sections: String = (0..60)
            .map(|i| format!("[extra{i:02}]\n\tpath = {{dir}}/share\n\tcomment = {comment} {i}\n"))
            .collect();
        for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
            let srv = TestServer::start_with(
                profile,
                ExtraConfig {
                    sections: sections.clone(),
                    ..ExtraConfig::default()
                },
            )
            .unwrap();
            let acl_file = srv.share_path().join("acl.txt");
            std::fs::write(&acl_file, b"x").unwrap();
            large_acl(&acl_file, 150);
            let dir = srv.share_path().join("dir");
            std::fs::create_dir(&dir).unwrap();
            for i in 0..300 {
                std::fs::write(dir.join(format!("file number {i:04} of the folder")), b"").unwrap();
            }
            let normal = connect(&srv, true).await;
            for direct in [false, true] {
                let conn = small_buffer_connect(&srv, direct).await;
                assert_eq!(conn.server_info().signing, profile == Profile::Smb1Signing);
                let what = format!("{profile} direct={direct}");

                // NetrShareEnum over TRANS_TRANSACT_NMPIPE.
                let shares = conn
                    .list_shares()
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {e}\n{}", srv.log_tail(30)));
                assert_eq!(shares, normal.list_shares().await.unwrap(), "{what}");
                for i in 0..60 {
                    let name = format!("extra{i:02}");
                    let share = shares.iter().find(|d| d.name == name).expect(&name);
                    assert_eq!(share.comments, format!("{comment} {i}"));
                }

                // NT_TRANSACT_QUERY_SECURITY_DESC of a large DACL.
                let sd = conn.get_security("share", "acl.txt").await.unwrap();
                let aces = sd.dacl.as_ref().map_or(0, |a| a.aces.len());
                assert!(aces >= 150, "{what}: {aces} ACEs");
                assert_eq!(sd, normal.get_security("share", "acl.txt").await.unwrap());
                // ... which indeed came in several messages.
                let s = smb1(&conn);
                let tree = conn.ctx.tree("share", deadline()).await.unwrap();
                let spec = OpenSpec::new(
                    access_mask::READ_CONTROL | access_mask::SYNCHRONIZE,
                    create_disposition::OPEN,
                    0,
                );
                let f = s
                    .open(tree, "share", "acl.txt", spec, "test", deadline())
                    .await
                    .unwrap();
                let (tid, fid) = tid_fid(f.file()).unwrap();
                let req = QuerySecurityDescRequest {
                    fid,
                    security_information: security_information::DACL,
                    max_data_count: SECURITY_FIRST_OUTPUT,
                };
                let r = s
                    .shared
                    .request_trans(
                        command::NT_TRANSACT,
                        tid,
                        deadline(),
                        "test",
                        1 << 20,
                        |w| req.encode(w),
                    )
                    .await
                    .unwrap();
                assert_eq!(r.header.status, NtStatus::SUCCESS);
                assert!(r.parts >= 3, "{what}: {} parts", r.parts);
                f.close(deadline()).await.unwrap();

                // FIND_FIRST2 / FIND_NEXT2.
                let mut names: Vec<String> = conn
                    .list_path("share", "dir")
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|f| f.filename)
                    .filter(|n| !n.starts_with('.'))
                    .collect();
                names.sort();
                let expected: Vec<String> = (0..300)
                    .map(|i| format!("file number {i:04} of the folder"))
                    .collect();
                assert!(names == expected, "{what}: {} names", names.len());

                // FSCTL_SRV_ENUMERATE_SNAPSHOTS.
                assert_eq!(
                    conn.list_snapshots("snapshots", "").await.unwrap().len(),
                    smbkit_testserver::SNAPSHOTS.len(),
                    "{what}"
                );
                assert_eq!(conn.echo(b"still in step").await.unwrap(), b"still in step");
            }
        }
    }
}
