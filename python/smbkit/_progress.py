"""Progress bars for transfers (``show_progress=True``): a tqdm bar when
tqdm is importable, nothing otherwise.

The bar sits between the transfer and the caller's file object: the
wrappers here count what passes through ``write`` and ``read``.
"""

import os

try:  # tqdm is optional
    from tqdm import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the environment
    _tqdm = None


def bar(show, total, desc, tqdm_kwargs):
    """A tqdm bar for ``total`` bytes (None when unknown), or None when
    ``show`` is false or tqdm is missing. ``tqdm_kwargs`` (not modified)
    overrides the defaults, as in pysmb."""
    if not show or _tqdm is None:
        return None
    kwargs = dict(tqdm_kwargs or {})
    kwargs.setdefault("total", total)
    kwargs.setdefault("unit", "B")
    kwargs.setdefault("unit_scale", True)
    kwargs.setdefault("unit_divisor", 1024)
    kwargs.setdefault("desc", desc)
    return _tqdm(**kwargs)


def size_of(file_obj):
    """The size of a local file object (for the bar of an upload), or None."""
    name = getattr(file_obj, "name", None)
    if isinstance(name, (str, bytes, os.PathLike)):
        try:
            return os.stat(name).st_size
        except OSError:
            pass
    try:
        return os.fstat(file_obj.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return None


class CountingWriter:
    """Passes ``write`` calls to ``file_obj`` and advances ``bar``."""

    def __init__(self, file_obj, bar):
        self._file = file_obj
        self._bar = bar

    def write(self, data):
        n = self._file.write(data)
        self._bar.update(len(data) if n is None else n)
        return n


class CountingReader:
    """Passes ``read`` calls to ``file_obj`` and advances ``bar``."""

    def __init__(self, file_obj, bar):
        self._file = file_obj
        self._bar = bar

    def read(self, size=-1):
        data = self._file.read(size)
        if data:
            self._bar.update(len(data))
        return data
