//! `smbkit._native`: the native module of the `smbkit` Python package.
//!
//! It puts smbkit's async [`smbkit::Connection`] behind a small Python
//! class, `Connection`, and a function, `connect`, that the pure-Python
//! package (`python/smbkit/`) builds pysmb's API on:
//! `smbkit.smb.SMBConnection.SMBConnection` now, and the asyncio and
//! Twisted APIs later, all on the same module.
//!
//! - One tokio runtime serves the whole process (`runtime`).
//! - Every call releases the GIL while it waits, so one connection is
//!   used from many Python threads at once.
//! - Transfers move data in chunks between the connection and a Python
//!   file object, calling its `write` or `read` once per chunk
//!   (`fileio`); a file is never held whole.
//! - Errors become pysmb's exceptions (`errors`).
//!
//! Build it with maturin from `python/` (`pip install ./python`); the
//! crate is not published.

mod connection;
mod errors;
mod fileio;
mod runtime;

use pyo3::prelude::*;

/// The native core of the smbkit Python package.
#[pymodule]
#[pyo3(name = "_native")]
mod native {
    #[pymodule_export]
    use super::connection::connect;
    #[pymodule_export]
    use super::connection::PyConnection;

    use super::*;

    /// Adds the module's constants.
    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("DEFAULT_SEARCH", smbkit::DEFAULT_SEARCH)?;
        Ok(())
    }
}
