//! Secure dialect negotiation (MS-SMB2 §3.2.5.5, §3.2.5.14.12): on SMB 3.0
//! and 3.0.2 the first successful TREE_CONNECT of an authenticated session
//! is followed by a signed FSCTL_VALIDATE_NEGOTIATE_INFO, which repeats
//! what the NEGOTIATE exchanged; any difference means the NEGOTIATE was
//! tampered with (a downgrade), and the connection is closed. (SMB 3.1.1
//! protects its NEGOTIATE with the preauth integrity hash instead.)
//!
//! The connection runs the exchange itself: the caller's TREE_CONNECT
//! completes only once the validation has passed, so no request can use a
//! tree before the negotiation is known to be genuine.

use std::time::Instant;

use super::{Event, Owner, Part, Request, Response, Signing, Smb2Connection};
use crate::conn::{ConnError, RequestId, Tampering, Violation};
use crate::smb2::create::FileId;
use crate::smb2::ioctl::{
    ctl_code, ioctl_flags, IoctlRequest, IoctlResponse, ValidateNegotiateInfoRequest,
    ValidateNegotiateInfoResponse,
};
use crate::{Command, NtStatus};

/// Where the validation stands.
#[derive(Debug, Default)]
pub(super) enum Validation {
    /// Nothing to validate (SMB 2.x, 3.1.1, guest or anonymous sessions),
    /// or done.
    #[default]
    Settled,
    /// To run after the next successful TREE_CONNECT.
    Due {
        sent: ValidateNegotiateInfoRequest,
        expected: ValidateNegotiateInfoResponse,
    },
    /// The IOCTL is out; the TREE_CONNECT's completion waits for it.
    Running {
        sent: ValidateNegotiateInfoRequest,
        expected: ValidateNegotiateInfoResponse,
        ioctl: RequestId,
        /// The TREE_CONNECT request and its responses.
        tree_connect: RequestId,
        responses: Vec<Response>,
        tree_id: u32,
        /// The TREE_CONNECT's caller has gone: the tree is disconnected
        /// once the validation passes.
        abandoned: bool,
    },
}

impl Smb2Connection {
    /// True once FSCTL_VALIDATE_NEGOTIATE_INFO has confirmed the
    /// negotiation (SMB 3.0 and 3.0.2 only).
    pub fn is_negotiate_validated(&self) -> bool {
        self.negotiate_validated
    }

    /// Arms the validation for the first tree connect.
    pub(super) fn expect_validation(
        &mut self,
        sent: ValidateNegotiateInfoRequest,
        expected: ValidateNegotiateInfoResponse,
    ) {
        self.validation = Validation::Due { sent, expected };
    }

    /// Completes a caller's request, unless it is a TREE_CONNECT that must
    /// wait for the validation, which then starts.
    pub(super) fn complete_user(
        &mut self,
        id: RequestId,
        deadline: Instant,
        result: Result<Vec<Response>, ConnError>,
        now: Instant,
    ) {
        let connected = match &result {
            Ok(rs) => rs.first().and_then(|r| {
                (r.header.command == Command::TREE_CONNECT && r.header.status == NtStatus::SUCCESS)
                    .then_some(r.header.tree_id)
            }),
            Err(_) => None,
        };
        let (Some(tree_id), Validation::Due { .. }) = (connected, &self.validation) else {
            self.book.push_event(Event::Completed { id, result });
            return;
        };
        let Validation::Due { sent, expected } = std::mem::take(&mut self.validation) else {
            return;
        };
        let Ok(responses) = result else { return };
        let ioctl = match self.start_validation(&sent, tree_id, deadline, now) {
            Ok(ioctl) => ioctl,
            Err(e) => {
                self.validation = Validation::Due { sent, expected };
                self.disconnect_tree(tree_id, now);
                self.book
                    .push_event(Event::Completed { id, result: Err(e) });
                return;
            }
        };
        tracing::debug!(tree_id, "validating the negotiation");
        self.validation = Validation::Running {
            sent,
            expected,
            ioctl,
            tree_connect: id,
            responses,
            tree_id,
            abandoned: false,
        };
    }

    fn start_validation(
        &mut self,
        sent: &ValidateNegotiateInfoRequest,
        tree_id: u32,
        deadline: Instant,
        now: Instant,
    ) -> Result<RequestId, ConnError> {
        let req = IoctlRequest {
            ctl_code: ctl_code::FSCTL_VALIDATE_NEGOTIATE_INFO,
            file_id: FileId::ANY,
            input: sent.to_bytes()?,
            max_input_response: 0,
            max_output_response: ValidateNegotiateInfoResponse::LEN as u32,
            flags: ioctl_flags::IS_FSCTL,
        };
        let part = Part::new(Command::IOCTL, tree_id, 1, |w| req.encode(w))?;
        let mut req = Request::single(part, deadline, "validating the negotiation");
        // MS-SMB2 §3.2.5.5: "the client MUST sign the request".
        req.signing = Signing::Always;
        self.start_owned(req, Owner::Internal, now)
    }

    /// True if `id` is the validation's IOCTL.
    pub(super) fn is_validation(&self, id: RequestId) -> bool {
        matches!(self.validation, Validation::Running { ioctl, .. } if ioctl == id)
    }

    /// The IOCTL's answer (or its failure): the TREE_CONNECT completes, or
    /// the connection closes.
    pub(super) fn validation_answered(
        &mut self,
        result: Result<Vec<Response>, ConnError>,
        now: Instant,
    ) {
        let Validation::Running {
            sent,
            expected,
            tree_connect,
            responses,
            tree_id,
            abandoned,
            ..
        } = std::mem::take(&mut self.validation)
        else {
            return;
        };
        let outcome = match result {
            Ok(rs) => match rs.first() {
                Some(r) => check(r, &expected),
                None => Err(tampered(Tampering::NoResponse)),
            },
            // A response whose signature does not verify is tampering too.
            Err(ConnError::Protocol(v)) => Err(tampered(Tampering::BadResponse(Box::new(v)))),
            Err(ConnError::Timeout { operation, after }) => {
                // Not known either way: the tree is not used, and the next
                // tree connect validates again.
                self.validation = Validation::Due { sent, expected };
                self.disconnect_tree(tree_id, now);
                if !abandoned {
                    self.book.push_event(Event::Completed {
                        id: tree_connect,
                        result: Err(ConnError::Timeout { operation, after }),
                    });
                }
                return;
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(validated) => {
                self.negotiate_validated = validated;
                if validated {
                    tracing::debug!("negotiation validated");
                }
                if abandoned {
                    self.disconnect_tree(tree_id, now);
                } else {
                    self.book.push_event(Event::Completed {
                        id: tree_connect,
                        result: Ok(responses),
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "secure dialect negotiation failed");
                if !abandoned {
                    self.book.push_event(Event::Completed {
                        id: tree_connect,
                        result: Err(e.clone()),
                    });
                }
                self.shut_down(e);
            }
        }
    }

    /// The caller of the TREE_CONNECT being validated has gone; true if
    /// `id` was that request.
    pub(super) fn abandon_validated(&mut self, id: RequestId) -> bool {
        match &mut self.validation {
            Validation::Running {
                tree_connect,
                abandoned,
                ..
            } if *tree_connect == id => {
                *abandoned = true;
                true
            }
            _ => false,
        }
    }

    /// The connection closes: a TREE_CONNECT waiting for the validation
    /// fails with `e`.
    pub(super) fn validation_closed(&mut self, e: &ConnError) {
        if let Validation::Running {
            tree_connect,
            abandoned: false,
            ..
        } = std::mem::take(&mut self.validation)
        {
            self.book.push_event(Event::Completed {
                id: tree_connect,
                result: Err(e.clone()),
            });
        }
    }
}

fn tampered(why: Tampering) -> ConnError {
    Violation::Tampered(why).into()
}

/// Checks the IOCTL's response (MS-SMB2 §3.2.5.14.12): Ok(true) when it
/// confirms the negotiation, Ok(false) when the server does not implement
/// it, an error for any sign of tampering.
fn check(r: &Response, expected: &ValidateNegotiateInfoResponse) -> Result<bool, ConnError> {
    if !r.encrypted && !r.header.is_signed() {
        return Err(tampered(Tampering::NotProtected));
    }
    match r.header.status {
        NtStatus::SUCCESS => {}
        NtStatus::ACCESS_DENIED => return Err(tampered(Tampering::AccessDenied)),
        other => {
            // Not all servers implement it; only a mismatch or a refusal
            // means tampering.
            tracing::debug!(status = %other, "FSCTL_VALIDATE_NEGOTIATE_INFO not supported");
            return Ok(false);
        }
    }
    let out = IoctlResponse::decode(&r.msg)
        .map_err(|e| Violation::decode("VALIDATE_NEGOTIATE_INFO response", e))?;
    let got = ValidateNegotiateInfoResponse::decode(&out.output)
        .map_err(|e| Violation::decode("VALIDATE_NEGOTIATE_INFO response", e))?;
    if got != *expected {
        return Err(tampered(Tampering::Mismatch {
            said: format!("{got:?}"),
            negotiated: format!("{expected:?}"),
        }));
    }
    Ok(true)
}
