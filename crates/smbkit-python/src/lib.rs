//! `smbkit._native`: the native module of the `smbkit` Python package.
//!
//! It puts smbkit's async [`smbkit::Connection`] behind a few Python
//! classes that the pure-Python package (`python/smbkit/`) builds its APIs
//! on: `smbkit.smb.SMBConnection` (pysmb's blocking API),
//! `smbkit.smb.SMBProtocol` (pysmb's Twisted API) and `smbkit.aio`
//! (asyncio).
//!
//! - One tokio runtime serves the whole process (`runtime`).
//! - Every operation takes its arguments once (`ops`): it either waits for
//!   its result with the GIL released, so one connection is used from
//!   many Python threads at once, or, given a `callback`, runs as a task
//!   and calls the callback when done; its `Operation` handle cancels it.
//! - A connection runs over its own socket (`connect`) or over a transport
//!   that Python's event loop owns (`connect_stream` with a `Bridge`,
//!   `bridge`): Twisted's and asyncio's protocols feed the bytes they
//!   receive and write out the bytes the connection queues.
//! - Transfers move data in chunks between the connection and a Python
//!   file object, calling its `write` or `read` once per chunk
//!   (`fileio`); a file is never held whole. Remote files opened in place
//!   (`remote_file`) and folder listings streamed page by page
//!   (`listing`) are objects of their own.
//! - Errors become pysmb's exceptions (`errors`).
//!
//! Build it with maturin from `python/` (`pip install ./python`); the
//! crate is not published.

mod bridge;
mod connection;
mod errors;
mod fileio;
mod listing;
mod ops;
mod remote_file;
mod runtime;

use pyo3::prelude::*;

/// The native core of the smbkit Python package.
#[pymodule]
#[pyo3(name = "_native")]
mod native {
    #[pymodule_export]
    use super::bridge::PyBridge;
    #[pymodule_export]
    use super::connection::connect;
    #[pymodule_export]
    use super::connection::connect_stream;
    #[pymodule_export]
    use super::connection::PyConnection;
    #[pymodule_export]
    use super::listing::PyDirStream;
    #[pymodule_export]
    use super::listing::PyWalkStream;
    #[pymodule_export]
    use super::ops::Operation;
    #[pymodule_export]
    use super::remote_file::PyRemoteFile;

    use super::*;

    /// Adds the module's constants.
    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("DEFAULT_SEARCH", smbkit::DEFAULT_SEARCH)?;
        m.add("WALK_CONCURRENCY", smbkit::WALK_CONCURRENCY)?;
        m.add("BRIDGE_CAPACITY", bridge::DEFAULT_CAPACITY)?;
        Ok(())
    }
}
