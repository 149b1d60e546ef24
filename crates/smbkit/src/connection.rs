//! [`Connection`]: an authenticated SMB session that many tasks can use at
//! once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smbkit_proto::crypto::{Cipher, SigningAlgorithm};
use smbkit_proto::smb2::echo::{EchoRequest, EchoResponse};
use smbkit_proto::smb2::logoff::LogoffRequest;
use smbkit_proto::smb2::tree_connect::{TreeConnectRequest, TreeConnectResponse};
use smbkit_proto::smb2::tree_disconnect::TreeDisconnectRequest;
use smbkit_proto::{Command, Dialect, NtStatus};
use tokio::time::Instant;

use crate::driver::smb1::Smb1Shared;
use crate::driver::smb2::Shared;
use crate::driver::{Response, Tasks};
use crate::error::{describe_status, Error, ProtocolError};
use crate::factory::{SmbProtocolFactory, DEFAULT_ECHO_TIMEOUT};
use crate::handshake::Validation;

/// What was negotiated with the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The SMB2 dialect in use.
    pub dialect: Dialect,
    /// The server's GUID.
    pub server_guid: [u8; 16],
    /// Largest READ the server accepts, in bytes.
    pub max_read_size: u32,
    /// Largest WRITE the server accepts, in bytes.
    pub max_write_size: u32,
    /// Largest IOCTL/QUERY_INFO/QUERY_DIRECTORY buffer, in bytes.
    pub max_transact_size: u32,
    /// The server's clock at NEGOTIATE, as a FILETIME (100 ns since 1601).
    pub system_time: u64,
    /// When the server started, as a FILETIME (often 0).
    pub server_start_time: u64,
    /// The server's SMB2_GLOBAL_CAP_* bits.
    pub capabilities: u32,
    /// True if the server requires signing.
    pub signing_required_by_server: bool,
    /// True if this session signs its messages.
    pub signing: bool,
    /// The signing algorithm, when signing.
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// The cipher the connection can encrypt with: the one the server chose
    /// in its 3.1.1 encryption context, or AES-128-CCM on 3.0/3.0.2 when the
    /// server announced SMB2_GLOBAL_CAP_ENCRYPTION; `None` when it cannot
    /// encrypt (SMB 1, 2.x, or no common cipher).
    pub cipher: Option<Cipher>,
    /// True if every message of the session is encrypted (the server asked
    /// for it, or [`Encryption::Preferred`](crate::Encryption) /
    /// [`Encryption::Required`](crate::Encryption) was set). Shares can
    /// still ask for encryption on their own: see [`TreeInfo::encrypted`].
    pub encrypted: bool,
    /// True for a guest session.
    pub is_guest: bool,
    /// True for an anonymous (null) session.
    pub is_anonymous: bool,
}

/// A connected tree (share).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeInfo {
    /// The TreeId the server assigned.
    pub tree_id: u32,
    /// 1 disk, 2 named pipe, 3 printer (MS-SMB2 §2.2.10).
    pub share_type: u8,
    /// The SMB2_SHAREFLAG_* bits.
    pub share_flags: u32,
    /// The SMB2_SHARE_CAP_* bits.
    pub capabilities: u32,
    /// The access rights the user has on the share.
    pub maximal_access: u32,
    /// True if the messages of this tree are encrypted (the share asks for
    /// it, or the whole session is encrypted).
    pub encrypted: bool,
}

/// The protocol family a connection speaks, with its driver.
pub(crate) enum Backend {
    Smb2(Arc<Shared>, Mutex<Option<Tasks>>),
    Smb1(Arc<Smb1Shared>, Mutex<Option<Tasks>>),
}

pub(crate) struct Inner {
    pub(crate) backend: Backend,
    pub(crate) info: ServerInfo,
    pub(crate) factory: SmbProtocolFactory,
    trees: tokio::sync::Mutex<HashMap<String, TreeInfo>>,
    /// FSCTL_VALIDATE_NEGOTIATE_INFO still to do after the next tree
    /// connect (SMB 3.0 and 3.0.2).
    validation: Mutex<Option<Validation>>,
    negotiate_validated: std::sync::atomic::AtomicBool,
}

/// An authenticated connection to an SMB server.
///
/// `Connection` is cheap to clone, and every clone talks over the same
/// session: many operations can run at once from many tasks, each waiting
/// only for its own response. Dropping the last clone closes the socket;
/// [`Connection::close`] also logs off first.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("dialect", &self.inner.info.dialect)
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(backend: Backend, factory: SmbProtocolFactory, info: ServerInfo) -> Self {
        Connection {
            inner: Arc::new(Inner {
                backend,
                info,
                factory,
                trees: tokio::sync::Mutex::new(HashMap::new()),
                validation: Mutex::new(None),
                negotiate_validated: std::sync::atomic::AtomicBool::new(false),
            }),
            timeout: None,
        }
    }

    /// True once the connection is closed or its stream has died.
    fn is_closed(&self) -> bool {
        match &self.inner.backend {
            Backend::Smb2(s, _) => s.is_closed(),
            Backend::Smb1(s, _) => s.is_closed(),
        }
    }

    /// Arranges FSCTL_VALIDATE_NEGOTIATE_INFO after the next tree connect.
    pub(crate) fn expect_validation(&self, v: Validation) {
        *self
            .inner
            .validation
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(v);
    }

    /// True once the server has confirmed, in a signed
    /// FSCTL_VALIDATE_NEGOTIATE_INFO exchange after the first tree
    /// connect, that the NEGOTIATE was not tampered with (SMB 3.0 and 3.0.2
    /// with a signed-in user; MS-SMB2 §3.2.5.5). SMB 3.1.1 protects the
    /// negotiation with its preauth integrity hash instead, and earlier
    /// dialects, guest and anonymous sessions cannot validate: false there.
    pub fn is_negotiate_validated(&self) -> bool {
        self.inner
            .negotiate_validated
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Runs the pending FSCTL_VALIDATE_NEGOTIATE_INFO exchange on `tree_id`
    /// (MS-SMB2 §3.2.5.5, §3.2.5.14.12). Any sign of tampering closes the
    /// connection.
    async fn validate_negotiate(&self, tree_id: u32, deadline: Instant) -> Result<(), Error> {
        use smbkit_proto::smb2::ioctl::{
            ctl_code, ioctl_flags, IoctlRequest, IoctlResponse, ValidateNegotiateInfoResponse,
        };
        let Some(v) = self
            .inner
            .validation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return Ok(());
        };
        let shared = self.shared()?;
        let req = IoctlRequest {
            ctl_code: ctl_code::FSCTL_VALIDATE_NEGOTIATE_INFO,
            file_id: smbkit_proto::smb2::create::FileId::ANY,
            input: v.sent.to_bytes()?,
            max_input_response: 0,
            max_output_response: ValidateNegotiateInfoResponse::LEN as u32,
            flags: ioctl_flags::IS_FSCTL,
        };
        let fail = |why: String| -> Error {
            shared.shut_down("secure dialect negotiation failed");
            ProtocolError::Unexpected(format!(
                "secure dialect negotiation failed (FSCTL_VALIDATE_NEGOTIATE_INFO): {why}; \
                 the connection was closed"
            ))
            .into()
        };
        let r = shared
            .request_signed(
                Command::IOCTL,
                tree_id,
                deadline,
                "validating the negotiation",
                |w| req.encode(w),
            )
            .await?;
        // MS-SMB2 §3.2.5.14.12.
        if !r.encrypted && !r.header.is_signed() {
            return Err(fail("the response is neither signed nor encrypted".into()));
        }
        match r.header.status {
            NtStatus::SUCCESS => {}
            NtStatus::ACCESS_DENIED => {
                return Err(fail("the server answered ACCESS_DENIED".into()));
            }
            other => {
                // Not all servers implement it; only a mismatch or a
                // refusal means tampering.
                tracing::debug!(status = %other, "FSCTL_VALIDATE_NEGOTIATE_INFO not supported");
                return Ok(());
            }
        }
        let out = IoctlResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("VALIDATE_NEGOTIATE_INFO response", e))?;
        let got = ValidateNegotiateInfoResponse::decode(&out.output)
            .map_err(|e| ProtocolError::decode("VALIDATE_NEGOTIATE_INFO response", e))?;
        if got != v.expected {
            return Err(fail(format!(
                "the server says {got:?}, the NEGOTIATE response said {:?}",
                v.expected
            )));
        }
        self.inner
            .negotiate_validated
            .store(true, std::sync::atomic::Ordering::Release);
        tracing::debug!("negotiation validated");
        Ok(())
    }

    /// The SMB1 driver, for connections that speak SMB1.
    pub(crate) fn smb1(&self) -> Option<&Arc<Smb1Shared>> {
        match &self.inner.backend {
            Backend::Smb1(s, _) => Some(s),
            Backend::Smb2(..) => None,
        }
    }

    /// A handle to the same connection whose operations use `timeout`
    /// instead of their defaults.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use std::time::Duration;
    /// conn.with_timeout(Duration::from_millis(500)).echo(b"quick?").await?;
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Connection {
        Connection {
            inner: self.inner.clone(),
            timeout: Some(timeout),
        }
    }

    /// The time limit an operation with `default` as its own default gets.
    pub(crate) fn limit(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }

    /// The limit of operations whose default is the factory's timeout.
    pub(crate) fn op_limit(&self) -> Duration {
        self.timeout.unwrap_or(self.inner.factory.timeout)
    }

    /// True while the connection is open and authenticated (the reference's
    /// `isReady`).
    pub fn is_ready(&self) -> bool {
        !self.is_closed()
    }

    /// True when the connection speaks SMB2 or SMB3 (the reference's
    /// `isUsingSMB2`).
    pub fn is_using_smb2(&self) -> bool {
        self.smb1().is_none()
    }

    /// The negotiated SMB2 dialect.
    pub fn dialect(&self) -> Dialect {
        self.inner.info.dialect
    }

    /// What was negotiated with the server.
    pub fn server_info(&self) -> &ServerInfo {
        &self.inner.info
    }

    /// The server's NetBIOS name as the factory was given it.
    pub(crate) fn remote_name(&self) -> &str {
        &self.inner.factory.remote_name
    }

    /// The SMB2 driver; over SMB1, an error saying the operation has no
    /// SMB1 form in this version.
    pub(crate) fn shared(&self) -> Result<&Shared, Error> {
        match &self.inner.backend {
            Backend::Smb2(s, _) => Ok(s),
            Backend::Smb1(..) => Err(Error::Unsupported(
                "this operation is not available over SMB1 in this version of smbkit".into(),
            )),
        }
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.is_closed() {
            Err(Error::NotConnected)
        } else {
            Ok(())
        }
    }

    /// Sends ECHO and returns `data`, as the reference does (an SMB2 ECHO
    /// carries no payload; the round trip proves the server answers).
    /// Default time limit: 10 s.
    pub async fn echo(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.check_open()?;
        let limit = self.limit(DEFAULT_ECHO_TIMEOUT);
        let deadline = Instant::now() + limit;
        if let Some(s1) = self.smb1() {
            return crate::smb1ops::echo(s1, data, deadline)
                .await
                .map_err(|e| with_limit(e, limit));
        }
        let r = self
            .shared()?
            .request(Command::ECHO, 0, 1, deadline, "echo", |w| {
                EchoRequest.encode(w);
                Ok(())
            })
            .await
            .map_err(|e| with_limit(e, limit))?;
        expect_success(&r, "echo")?;
        EchoResponse::decode(&r.msg).map_err(|e| ProtocolError::decode("ECHO response", e))?;
        Ok(data.to_vec())
    }

    /// Connects the tree `\\remote_name\share` (or returns the one already
    /// connected) and tells what the server said of it.
    pub async fn tree_connect(&self, share: &str) -> Result<TreeInfo, Error> {
        check_share(share)?;
        self.check_open()?;
        let limit = self.op_limit();
        let deadline = Instant::now() + limit;
        let key = share.to_lowercase();
        let mut trees = tokio::time::timeout_at(deadline, self.inner.trees.lock())
            .await
            .map_err(|_| Error::Timeout {
                operation: "tree connect",
                after: limit,
            })?;
        if let Some(t) = trees.get(&key) {
            return Ok(*t);
        }
        if let Some(s1) = self.smb1() {
            let info = crate::smb1ops::tree_connect(self, s1, share, deadline)
                .await
                .map_err(|e| with_limit(e, limit))?;
            trees.insert(key, info);
            return Ok(info);
        }
        let path = format!("\\\\{}\\{}", self.inner.factory.remote_name, share);
        let req = TreeConnectRequest { flags: 0, path };
        let r = self
            .shared()?
            .request(Command::TREE_CONNECT, 0, 1, deadline, "tree connect", |w| {
                req.encode(w)
            })
            .await
            .map_err(|e| with_limit(e, limit))?;
        if r.header.status != NtStatus::SUCCESS {
            let mut why = describe_status(r.header.status).to_string();
            if r.header.status == NtStatus::ACCESS_DENIED && self.inner.info.cipher.is_none() {
                // What a server answers for a share that requires
                // encryption when the connection cannot encrypt.
                why.push_str(&format!(
                    "; the share may require encryption, which this connection cannot do ({})",
                    crate::handshake::why_no_encryption(&self.inner.info)
                ));
            }
            return Err(Error::OperationFailure {
                message: format!("cannot connect to share '{share}' ({why})"),
                status: r.header.status,
            });
        }
        let t = TreeConnectResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("TREE_CONNECT response", e))?;
        // Ok(whether the tree is encrypted), or Err if the share asks for
        // encryption this connection cannot do.
        let Ok(encrypted) = self
            .shared()?
            .tree_connected(r.header.tree_id, t.share_flags)
        else {
            let _ = self.tree_disconnect_id(r.header.tree_id, deadline).await;
            return Err(Error::Unsupported(format!(
                "share '{share}' requires encryption, which this connection cannot do ({})",
                crate::handshake::why_no_encryption(&self.inner.info)
            )));
        };
        let info = TreeInfo {
            tree_id: r.header.tree_id,
            share_type: t.share_type,
            share_flags: t.share_flags,
            capabilities: t.capabilities,
            maximal_access: t.maximal_access,
            encrypted,
        };
        self.validate_negotiate(info.tree_id, deadline)
            .await
            .map_err(|e| with_limit(e, limit))?;
        trees.insert(key, info);
        Ok(info)
    }

    /// Disconnects the tree of `share` if it is connected.
    pub async fn tree_disconnect(&self, share: &str) -> Result<(), Error> {
        self.check_open()?;
        let limit = self.op_limit();
        let deadline = Instant::now() + limit;
        let removed = self.inner.trees.lock().await.remove(&share.to_lowercase());
        if let (Some(t), Some(s1)) = (removed, self.smb1()) {
            return crate::smb1ops::tree_disconnect(s1, t.tree_id, deadline)
                .await
                .map_err(|e| with_limit(e, limit));
        }
        if let Some(t) = removed {
            self.tree_disconnect_id(t.tree_id, deadline)
                .await
                .map_err(|e| with_limit(e, limit))?;
        }
        Ok(())
    }

    /// Sends TREE_DISCONNECT for `tree_id` (SMB2), then forgets whether the
    /// tree was encrypted.
    async fn tree_disconnect_id(&self, tree_id: u32, deadline: Instant) -> Result<(), Error> {
        let shared = self.shared()?;
        let r = shared
            .request(
                Command::TREE_DISCONNECT,
                tree_id,
                1,
                deadline,
                "tree disconnect",
                |w| {
                    TreeDisconnectRequest.encode(w);
                    Ok(())
                },
            )
            .await;
        shared.tree_disconnected(tree_id);
        expect_success(&r?, "tree disconnect")
    }

    /// Disconnects every tree, logs off and closes the socket (the
    /// reference's `closeConnection`). Operations on any clone then fail
    /// with [`Error::NotConnected`]. Closing twice is harmless.
    pub async fn close(&self) -> Result<(), Error> {
        if self.is_closed() {
            return Ok(());
        }
        if let Backend::Smb1(s, tasks) = &self.inner.backend {
            let deadline = Instant::now() + self.limit(Duration::from_secs(5));
            crate::smb1ops::close(self, s, deadline).await;
            s.shut_down("closed by the caller");
            let tasks = tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = tasks {
                t.close().await;
            }
            return Ok(());
        }
        let limit = self.limit(Duration::from_secs(5));
        let deadline = Instant::now() + limit;
        let trees: Vec<TreeInfo> = self
            .inner
            .trees
            .lock()
            .await
            .drain()
            .map(|(_, t)| t)
            .collect();
        for t in trees {
            let _ = self
                .shared()?
                .request(
                    Command::TREE_DISCONNECT,
                    t.tree_id,
                    1,
                    deadline,
                    "tree disconnect",
                    |w| {
                        TreeDisconnectRequest.encode(w);
                        Ok(())
                    },
                )
                .await;
        }
        let _ = self
            .shared()?
            .request(Command::LOGOFF, 0, 1, deadline, "logoff", |w| {
                LogoffRequest.encode(w);
                Ok(())
            })
            .await;
        if let Backend::Smb2(s, tasks) = &self.inner.backend {
            s.shut_down("closed by the caller");
            let tasks = tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = tasks {
                t.close().await;
            }
        }
        Ok(())
    }
}

/// The longest share name accepted: 80 characters, the NetBIOS/Windows
/// limit for share names (well inside the 16-bit PathLength of an SMB2
/// TREE_CONNECT, MS-SMB2 §2.2.9, and the ByteCount of an SMB1
/// TREE_CONNECT_ANDX, MS-CIFS §2.2.4.55.1).
const MAX_SHARE_CHARS: usize = 80;

/// Rejects share names the server could never accept.
pub(crate) fn check_share(share: &str) -> Result<(), Error> {
    if share.is_empty() {
        return Err(Error::InvalidArgument("the share name is empty".into()));
    }
    if let Some(c) = share.chars().find(|c| matches!(c, '\\' | '/' | '\0')) {
        return Err(Error::InvalidArgument(format!(
            "share name '{share}' contains {c:?}; give the share alone, without a path"
        )));
    }
    let count = share.chars().count();
    if count > MAX_SHARE_CHARS {
        return Err(Error::InvalidArgument(format!(
            "share name '{}' is {count} characters long, the limit is {MAX_SHARE_CHARS}",
            crate::files::abbreviate(share)
        )));
    }
    Ok(())
}

/// Fails with [`Error::OperationFailure`] unless the response succeeded.
pub(crate) fn expect_success(r: &Response, what: &str) -> Result<(), Error> {
    if r.header.status.is_error() {
        return Err(Error::OperationFailure {
            message: format!("{what} failed ({})", describe_status(r.header.status)),
            status: r.header.status,
        });
    }
    Ok(())
}

/// Reports the operation's whole limit in timeout errors.
pub(crate) fn with_limit(e: Error, limit: Duration) -> Error {
    match e {
        Error::Timeout { operation, .. } => Error::Timeout {
            operation,
            after: limit,
        },
        e => e,
    }
}
