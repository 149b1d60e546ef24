"""pysmb's ``smb`` package on smbkit: the same module names
(``SMBConnection``, ``SMBProtocol`` for Twisted, ``base``, ``smb_structs``,
``smb_constants``, ``security_descriptors``), classes, functions and
constants.

Import from here (``from smbkit.smb.SMBConnection import SMBConnection``),
or call :func:`smbkit.compat.install` once to let unchanged pysmb
programs ``import smb``.
"""
