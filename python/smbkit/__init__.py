"""smbkit: an SMB/CIFS client (SMB1 and SMB 2.0.2-3.1.1) with a native core.

The Python package offers pysmb's API on smbkit's Rust core:

* :mod:`smbkit.smb` -- pysmb's modules: ``smbkit.smb.SMBConnection``
  (the blocking ``SMBConnection``), ``smbkit.smb.SMBProtocol`` (the Twisted
  ``SMBProtocolFactory``), ``base``, ``smb_structs``, ``smb_constants``,
  ``security_descriptors``.
* :mod:`smbkit.aio` -- asyncio: ``await smbkit.aio.connect(...)`` gives a
  connection whose methods are coroutines (``list_path``,
  ``retrieve_file``, ...), with listings as async iterators and remote
  files to read and write in place.
* :mod:`smbkit.compat` -- ``install()`` makes ``import smb`` and
  ``from smb.SMBConnection import SMBConnection`` load these modules, so
  pysmb programs run unchanged.
* :mod:`smbkit._native` -- the native module they are all built on: one
  tokio runtime per process, every operation either blocking with the GIL
  released or started with a callback; the Twisted and asyncio APIs carry
  the bytes over their event loop's own transport through a native
  ``Bridge``.

::

    from smbkit.smb.SMBConnection import SMBConnection

    with SMBConnection("alice", "secret", "MYPC", "FILESERVER", is_direct_tcp=True) as conn:
        assert conn.connect("192.0.2.10", 445)
        print([s.name for s in conn.listShares()])
"""

from ._native import __version__

__all__ = ["__version__"]
