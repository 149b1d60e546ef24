"""Run pysmb programs unchanged: :func:`install` makes ``import smb`` (and
``smb.SMBConnection``, ``smb.base``, ``smb.smb_structs``,
``smb.smb_constants``, ``smb.security_descriptors``, ...) load smbkit's
modules of the same names from :mod:`smbkit.smb`.

::

    import smbkit.compat
    smbkit.compat.install()

    from smb.SMBConnection import SMBConnection   # smbkit's
    from smb import smb_structs
    smb_structs.SUPPORT_SMB2 = False               # seen by smbkit

``smb.X`` and ``smbkit.smb.X`` are then the same module object, so settings
made through either name (``SUPPORT_SMB2``) are seen by both, and
``except smb.smb_structs.OperationFailure`` catches smbkit's exceptions.
Call :func:`install` before the program first imports ``smb``; when pysmb
itself was imported already, :func:`install` refuses unless ``force=True``.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["install", "uninstall", "installed"]

#: The package pysmb programs import, and the one that serves it.
ALIAS = "smb"
TARGET = "smbkit.smb"


def _target_of(fullname):
    if fullname == ALIAS:
        return TARGET
    if fullname.startswith(ALIAS + "."):
        return TARGET + fullname[len(ALIAS):]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads ``smb.X`` as the module ``smbkit.smb.X`` itself (not a copy)."""

    def __init__(self, target):
        self.target = target
        self._own_spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module):
        # Already executed when it was imported under its own name. The
        # import system has just set the alias's spec on it: give it back
        # its own, so that it stays smbkit.smb.X to reload() and relative
        # imports.
        if self._own_spec is not None:
            module.__spec__ = self._own_spec


class SmbAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``smb`` and ``smb.*`` in :mod:`smbkit.smb`."""

    def find_spec(self, fullname, path=None, target=None):
        target_name = _target_of(fullname)
        if target_name is None:
            return None
        if importlib.util.find_spec(target_name) is None:
            return None
        is_package = fullname == ALIAS
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(target_name), is_package=is_package
        )


_finder = SmbAliasFinder()


def installed():
    """True while :func:`install` is in effect."""
    return _finder in sys.meta_path


def install(force=False):
    """Makes ``import smb`` and ``import smb.X`` load :mod:`smbkit.smb`
    and ``smbkit.smb.X``. Calling it again does nothing.

    :param force: replace a ``smb`` package (pysmb) imported already; its
        modules are dropped from ``sys.modules``, though objects taken from
        them before stay pysmb's.
    :raises RuntimeError: another ``smb`` package was imported already and
        ``force`` is false.
    """
    mine = importlib.import_module(TARGET)
    current = sys.modules.get(ALIAS)
    if current is not None and current is not mine:
        if not force:
            raise RuntimeError(
                "a package named 'smb' (%r) is imported already; call "
                "smbkit.compat.install() before importing it, or pass force=True"
                % getattr(current, "__file__", current)
            )
        for name in [n for n in sys.modules if _target_of(n) is not None]:
            del sys.modules[name]
    if not installed():
        sys.meta_path.insert(0, _finder)
    # Modules of smbkit.smb loaded already answer to their smb.* names now.
    for name, module in list(sys.modules.items()):
        if name == TARGET or name.startswith(TARGET + "."):
            sys.modules.setdefault(ALIAS + name[len(TARGET):], module)


def uninstall():
    """Undoes :func:`install`: ``import smb`` no longer finds smbkit (the
    ``smb.*`` names already imported are forgotten)."""
    if installed():
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if _target_of(n) is not None]:
        module = sys.modules[name]
        if getattr(module, "__name__", "").startswith(TARGET):
            del sys.modules[name]
