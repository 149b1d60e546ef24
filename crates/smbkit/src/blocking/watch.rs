//! The blocking [`Watch`]: change notification as an iterator.

use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;

use super::{block, run, Batched, Connection};
use crate::error::Error;
use crate::{Change, WatchOptions};

impl Connection {
    /// Watches the folder `path` of `share` for changes; see
    /// [`crate::Connection::watch`]. Returns once the server watches the
    /// folder; the [`Watch`] is an endless iterator of changes.
    ///
    /// ```no_run
    /// # fn demo(conn: smbkit::blocking::Connection) -> Result<(), smbkit::Error> {
    /// use std::time::Duration;
    /// use smbkit::{Change, WatchOptions};
    ///
    /// let mut watch = conn.watch("share", "/inbox", WatchOptions::default())?;
    /// // Whatever has changed within a second, if anything.
    /// if let Some(change) = watch.next_timeout(Duration::from_secs(1))? {
    ///     println!("{change}");
    /// }
    /// // Every change from now on.
    /// for change in watch {
    ///     match change? {
    ///         Change::Overflow => println!("list /inbox again"),
    ///         change => println!("{change}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(&self, share: &str, path: &str, options: WatchOptions) -> Result<Watch, Error> {
        let conn = self.inner.clone();
        let (share, path) = (share.to_string(), path.to_string());
        let watch = run(async move { conn.watch(&share, &path, options).await })?;
        Ok(Watch {
            changes: Batched::new(watch),
        })
    }
}

/// The changes in a folder: made by [`Connection::watch`]; the blocking
/// [`crate::Watch`]. An iterator of `Result<Change, Error>` that waits as
/// long as nothing changes and ends only after an error; each step takes
/// every change that has arrived (up to 512) in one hand-over from the
/// runtime. [`Watch::next_timeout`] waits at most a given time.
///
/// Dropped, it withdraws the request waiting and closes the folder in the
/// background; [`Watch::close`] does it and waits.
pub struct Watch {
    changes: Batched<crate::Watch>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("inner", &self.changes.stream)
            .field("buffered", &self.changes.buffered.len())
            .finish()
    }
}

impl Iterator for Watch {
    type Item = Result<Change, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.changes.next()
    }
}

impl std::iter::FusedIterator for Watch {}

impl Watch {
    /// The next change, waiting at most `timeout` for one: `Ok(None)` when
    /// nothing changed meanwhile (or once the watch has ended with an
    /// error, yielded before).
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Change>, Error> {
        if let Some(item) = self.changes.buffered.pop_front() {
            return item.map(Some);
        }
        let Some(mut stream) = self.changes.stream.take() else {
            return Ok(None);
        };
        let (stream, item) = block(async move {
            let next = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx));
            match tokio::time::timeout(timeout, next).await {
                Ok(None) => (None, None),
                Ok(Some(item)) => (Some(stream), Some(item)),
                Err(_) => (Some(stream), None),
            }
        })?;
        self.changes.stream = stream;
        item.transpose()
    }

    /// Stops watching: withdraws the request waiting and closes the folder,
    /// waiting for the server's answer; see [`crate::Watch::close`].
    pub fn close(mut self) -> Result<(), Error> {
        self.changes.buffered.clear();
        match self.changes.stream.take() {
            Some(watch) => run(watch.close()),
            None => Ok(()),
        }
    }
}
