//! The bookkeeping both connection state machines share: the requests
//! started and who owns them, the queue of those not sent yet, their
//! deadlines, the frames to send, the events for the driver, and whether
//! the connection has closed. What differs between SMB 2/3 and SMB1 (how a
//! request is sent, what it waits on, how its answer is matched) is the
//! `S` each request carries and stays in its family's module.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use super::{ConnError, RequestId, Transmit};

/// Who waits for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The caller: completes with a `Completed` event.
    User,
    /// The handshake.
    Handshake,
    /// A re-authentication of the established session (MS-SMB2
    /// §3.2.4.2.3): its SESSION_SETUP rounds, whose responses go to the
    /// re-authentication rather than to the handshake. Only SMB 2/3 uses
    /// it.
    Reauth,
    /// The connection's own clean-up (the CLOSE of an abandoned handle),
    /// or a request whose caller has gone but which must still run.
    Internal,
}

/// A request started and not finished.
#[derive(Debug)]
pub(crate) struct Outstanding<S> {
    pub(crate) owner: Owner,
    pub(crate) operation: &'static str,
    pub(crate) started: Instant,
    pub(crate) deadline: Instant,
    /// Where the request stands, as its family tracks it.
    pub(crate) stage: S,
}

/// The events of a connection that the bookkeeping makes.
pub(crate) trait Events {
    /// What a completed request delivers.
    type Output;
    /// A request finished.
    fn completed(id: RequestId, result: Result<Self::Output, ConnError>) -> Self;
    /// The connection closed.
    fn closed(reason: ConnError) -> Self;
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Book<S, E> {
    next_request: u64,
    pub(crate) requests: HashMap<RequestId, Outstanding<S>>,
    /// Requests not sent yet, in the order they were started.
    pub(crate) queue: VecDeque<RequestId>,
    deadlines: BTreeSet<(Instant, RequestId)>,
    pub(crate) transmits: VecDeque<Transmit>,
    events: VecDeque<E>,
    /// Why the connection closed, once it has.
    pub(crate) closed: Option<ConnError>,
}

impl<S, E> Default for Book<S, E> {
    fn default() -> Self {
        Book {
            next_request: 0,
            requests: HashMap::new(),
            queue: VecDeque::new(),
            deadlines: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            closed: None,
        }
    }
}

impl<S, E: Events> Book<S, E> {
    /// Records a new request, queued to be sent; its id.
    pub(crate) fn add(
        &mut self,
        owner: Owner,
        operation: &'static str,
        deadline: Instant,
        now: Instant,
        stage: S,
    ) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.requests.insert(
            id,
            Outstanding {
                owner,
                operation,
                started: now,
                deadline,
                stage,
            },
        );
        self.deadlines.insert((deadline, id));
        self.queue.push_back(id);
        id
    }

    /// Forgets a request (and its deadline); `queued` says whether it may
    /// still be in the queue.
    pub(crate) fn remove(&mut self, id: RequestId, queued: bool) -> Option<Outstanding<S>> {
        let r = self.requests.remove(&id)?;
        self.deadlines.remove(&(r.deadline, id));
        if queued {
            self.queue.retain(|q| *q != id);
        }
        Some(r)
    }

    /// Puts back a request taken by [`Book::next_expired`], owned by the
    /// connection from now on and due by `deadline`.
    pub(crate) fn keep_internal(
        &mut self,
        id: RequestId,
        mut r: Outstanding<S>,
        deadline: Instant,
    ) {
        r.owner = Owner::Internal;
        r.deadline = deadline;
        self.deadlines.insert((deadline, id));
        self.requests.insert(id, r);
    }

    /// Takes the deadline of a request away: from now on it waits as long
    /// as the server holds it (an open-ended request the server has taken,
    /// see `Smb2Connection::start_open_ended`). Unknown ids are ignored.
    pub(crate) fn lift_deadline(&mut self, id: RequestId) {
        if let Some(r) = self.requests.get(&id) {
            self.deadlines.remove(&(r.deadline, id));
        }
    }

    /// Lets a request run to its end with nobody waiting for it.
    pub(crate) fn detach(&mut self, id: RequestId) {
        if let Some(r) = self.requests.get_mut(&id) {
            if r.owner == Owner::User {
                r.owner = Owner::Internal;
            }
        }
    }

    /// The next request whose deadline is at or before `now`, taken out
    /// of the books (but not out of the queue).
    pub(crate) fn next_expired(&mut self, now: Instant) -> Option<(RequestId, Outstanding<S>)> {
        loop {
            let &(t, id) = self.deadlines.first()?;
            if t > now {
                return None;
            }
            self.deadlines.pop_first();
            if let Some(r) = self.requests.remove(&id) {
                return Some((id, r));
            }
        }
    }

    /// The earliest deadline of a request.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.closed.is_some() {
            return None;
        }
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Requests of the caller's started and not completed, queued ones
    /// included.
    pub(crate) fn user_requests(&self) -> usize {
        self.requests
            .values()
            .filter(|r| r.owner == Owner::User)
            .count()
    }

    /// Tells the caller that `id` finished (if the caller still waits).
    pub(crate) fn complete(
        &mut self,
        id: RequestId,
        owner: Owner,
        result: Result<E::Output, ConnError>,
    ) {
        if owner == Owner::User {
            self.events.push_back(E::completed(id, result));
        }
    }

    /// Queues an event.
    pub(crate) fn push_event(&mut self, e: E) {
        self.events.push_back(e);
    }

    /// Queues the last event, after [`Book::close`] and whatever the
    /// connection adds to it.
    pub(crate) fn push_closed(&mut self, reason: ConnError) {
        self.events.push_back(E::closed(reason));
    }

    /// Marks the connection closed for `reason`: nothing more is sent,
    /// and every request of the caller's still waiting fails with
    /// `for_requests`, in the order they were started. False if it was
    /// closed already. The caller adds the [`Events::closed`] event once
    /// its own state is cleared.
    pub(crate) fn close(&mut self, reason: &ConnError, for_requests: &ConnError) -> bool {
        if self.closed.is_some() {
            return false;
        }
        self.closed = Some(reason.clone());
        self.transmits.clear();
        self.queue.clear();
        self.deadlines.clear();
        let mut ids: Vec<RequestId> = self.requests.keys().copied().collect();
        ids.sort();
        for id in ids {
            if let Some(r) = self.requests.remove(&id) {
                self.complete(id, r.owner, Err(for_requests.clone()));
            }
        }
        true
    }

    /// The next frame to send.
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// True if frames wait to be sent.
    pub(crate) fn has_transmit(&self) -> bool {
        !self.transmits.is_empty()
    }

    /// The next event.
    pub(crate) fn poll_event(&mut self) -> Option<E> {
        self.events.pop_front()
    }
}
