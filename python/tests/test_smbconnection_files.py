"""SMBConnection: retrieveFile, retrieveFileFromOffset, storeFile, storeFileFromOffset."""

import hashlib
import io
import os
import random
import tempfile
from io import BytesIO

import pytest

from smb import smb_structs


def digest(data):
    return hashlib.sha256(data).hexdigest()


# -- retrieveFile ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["text_file", "long_name_file", "unicode_file", "big_file"])
def test_retrieve(conn, legacy_server, tree, which):
    path = getattr(tree, which)
    expected = tree.content(path)
    buf = BytesIO()
    attributes, size = conn.retrieveFile(legacy_server.share, path, buf)
    assert size == len(expected)
    assert isinstance(attributes, int)
    assert digest(buf.getvalue()) == digest(expected)


def test_retrieve_into_real_file(conn, legacy_server, tree):
    expected = tree.content(tree.long_name_file)
    with tempfile.TemporaryFile() as fh:
        _, size = conn.retrieveFile(legacy_server.share, tree.long_name_file, fh)
        assert size == len(expected)
        assert fh.tell() == len(expected)
        fh.seek(0)
        assert digest(fh.read()) == digest(expected)


def test_retrieve_appends_to_file_obj(conn, legacy_server, tree):
    buf = BytesIO(b"prefix:")
    buf.seek(0, os.SEEK_END)
    conn.retrieveFile("readonly", "/hello.txt", buf)
    assert buf.getvalue() == b"prefix:" + tree.hello


def test_retrieve_backslash_path(conn, legacy_server, tree):
    buf = BytesIO()
    conn.retrieveFile(legacy_server.share, tree.unicode_file.replace("/", "\\"), buf)
    assert buf.getvalue() == tree.content(tree.unicode_file)


def test_retrieve_from_readonly_share(conn, tree):
    buf = BytesIO()
    _, size = conn.retrieveFile("readonly", "/hello.txt", buf)
    assert (size, buf.getvalue()) == (len(tree.hello), tree.hello)


def test_retrieve_empty_file(conn, scratch, legacy_server):
    scratch.on_disk("empty.bin").write_bytes(b"")
    buf = BytesIO()
    _, size = conn.retrieveFile(legacy_server.share, scratch.remote("empty.bin"), buf)
    assert size == 0 and buf.getvalue() == b""


def test_retrieve_missing(conn, legacy_server):
    with pytest.raises(smb_structs.OperationFailure):
        conn.retrieveFile(legacy_server.share, "/does-not-exist.bin", BytesIO())


def test_retrieve_folder_fails(conn, legacy_server, tree):
    with pytest.raises(smb_structs.OperationFailure):
        conn.retrieveFile(legacy_server.share, tree.long_dir, BytesIO())


def test_connection_usable_after_failure(conn, legacy_server, tree):
    with pytest.raises(smb_structs.OperationFailure):
        conn.retrieveFile(legacy_server.share, "/does-not-exist.bin", BytesIO())
    buf = BytesIO()
    conn.retrieveFile(legacy_server.share, tree.text_file, buf)
    assert buf.getvalue() == tree.content(tree.text_file)


# -- retrieveFileFromOffset -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset,max_length,expected_size",
    [
        (100_000, -1, 156_000),  # from an offset to the end
        (100_000, 100_000, 100_000),  # a large window
        (100_000, 10, 10),  # a small window
        (100_000, 0, 0),  # nothing: returns once the file is open
        (0, -1, 256_000),  # the whole file
        (255_990, 100, 10),  # a window running past the end
        (0, 1, 1),
    ],
    ids=["to-eof", "big-limit", "small-limit", "zero-limit", "whole", "past-eof", "first-byte"],
)
def test_retrieve_from_offset(conn, legacy_server, tree, offset, max_length, expected_size):
    data = tree.content(tree.unicode_file)
    buf = BytesIO()
    _, size = conn.retrieveFileFromOffset(legacy_server.share, tree.unicode_file, buf,
                                          offset=offset, max_length=max_length)
    assert size == expected_size
    end = len(data) if max_length < 0 else offset + max_length
    assert digest(buf.getvalue()) == digest(data[offset:end])


def test_retrieve_from_offset_spanning_reads(conn, legacy_server, tree):
    """A window of a few MiB starting at an odd offset: several read requests."""
    data = tree.content(tree.big_file)
    offset, length = 65_537, 2 * 1024 * 1024 + 3
    buf = BytesIO()
    _, size = conn.retrieveFileFromOffset(legacy_server.share, tree.big_file, buf, offset, length)
    assert size == length
    assert digest(buf.getvalue()) == digest(data[offset:offset + length])


def test_retrieve_from_offset_at_end(conn, legacy_server, tree):
    data = tree.content(tree.text_file)
    buf = BytesIO()
    _, size = conn.retrieveFileFromOffset(legacy_server.share, tree.text_file, buf, offset=len(data))
    assert size == 0 and buf.getvalue() == b""


# -- storeFile ------------------------------------------------------------------------------------


def store_and_check(conn, share, scratch, name, data):
    remote = scratch.remote(name)
    assert conn.storeFile(share, remote, BytesIO(data)) == len(data)
    assert scratch.on_disk(name).read_bytes() == data
    assert name in [e.filename for e in conn.listPath(share, scratch.path)]
    buf = BytesIO()
    _, size = conn.retrieveFile(share, remote, buf)
    assert size == len(data)
    assert digest(buf.getvalue()) == digest(data)


def test_store_long_name(conn, legacy_server, scratch, unique):
    data = random.Random(11).randbytes(256_000)
    store_and_check(conn, legacy_server.share, scratch, unique("StoreTest with a long name") + ".dat", data)


def test_store_unicode_name(conn, legacy_server, scratch, unique):
    data = random.Random(12).randbytes(256_000)
    store_and_check(conn, legacy_server.share, scratch, unique("上载测试 Ünïcødé") + ".dat", data)


def test_store_empty(conn, legacy_server, scratch):
    store_and_check(conn, legacy_server.share, scratch, "empty.txt", b"")


def test_store_big(conn, legacy_server, scratch):
    data = random.Random(13).randbytes(5 * 1024 * 1024 + 7)
    store_and_check(conn, legacy_server.share, scratch, "big.bin", data)


def test_store_from_real_file(conn, legacy_server, scratch):
    data = random.Random(14).randbytes(100_001)
    with tempfile.TemporaryFile() as fh:
        fh.write(data)
        fh.seek(0)
        assert conn.storeFile(legacy_server.share, scratch.remote("from-file.bin"), fh) == len(data)
    assert scratch.on_disk("from-file.bin").read_bytes() == data


def test_store_reads_from_current_position(conn, legacy_server, scratch):
    src = BytesIO(b"skip me|keep me")
    src.seek(8)
    assert conn.storeFile(legacy_server.share, scratch.remote("tail.txt"), src) == 7
    assert scratch.on_disk("tail.txt").read_bytes() == b"keep me"


def test_store_overwrites_and_truncates(conn, legacy_server, scratch):
    remote = scratch.remote("overwrite.txt")
    conn.storeFile(legacy_server.share, remote, BytesIO(b"a much longer first version"))
    assert conn.storeFile(legacy_server.share, remote, BytesIO(b"short")) == 5
    assert scratch.on_disk("overwrite.txt").read_bytes() == b"short"


def test_store_into_missing_folder_fails(conn, legacy_server, scratch):
    with pytest.raises(smb_structs.OperationFailure):
        conn.storeFile(legacy_server.share, scratch.remote("no such dir", "x.txt"), BytesIO(b"x"))


def test_store_onto_folder_fails(conn, legacy_server, scratch):
    scratch.on_disk("a folder").mkdir()
    with pytest.raises(smb_structs.OperationFailure):
        conn.storeFile(legacy_server.share, scratch.remote("a folder"), BytesIO(b"x"))


def test_store_on_readonly_share_fails(conn, unique):
    with pytest.raises(smb_structs.OperationFailure):
        conn.storeFile("readonly", "/" + unique("refused") + ".txt", BytesIO(b"x"))


# -- storeFileFromOffset --------------------------------------------------------------------------


def test_store_from_offset_patches(conn, legacy_server, scratch):
    remote = scratch.remote("patch.txt")
    assert conn.storeFile(legacy_server.share, remote, BytesIO(b"0123456789")) == 10
    assert conn.storeFileFromOffset(legacy_server.share, remote, BytesIO(b"aa"), 5) == 7
    buf = BytesIO()
    _, size = conn.retrieveFile(legacy_server.share, remote, buf)
    assert (size, buf.getvalue()) == (10, b"01234aa789")
    assert scratch.on_disk("patch.txt").read_bytes() == b"01234aa789"


def test_store_from_offset_appends(conn, legacy_server, scratch):
    remote = scratch.remote("append.txt")
    conn.storeFile(legacy_server.share, remote, BytesIO(b"head"))
    assert conn.storeFileFromOffset(legacy_server.share, remote, BytesIO(b"+tail"), offset=4) == 9
    assert scratch.on_disk("append.txt").read_bytes() == b"head+tail"


def test_store_from_offset_truncate(conn, legacy_server, scratch):
    remote = scratch.remote("truncate.txt")
    conn.storeFile(legacy_server.share, remote, BytesIO(b"0123456789"))
    assert conn.storeFileFromOffset(legacy_server.share, remote, BytesIO(b"ab"), 0, truncate=True) == 2
    assert scratch.on_disk("truncate.txt").read_bytes() == b"ab"


def test_store_from_offset_without_truncate_keeps_tail(conn, legacy_server, scratch):
    remote = scratch.remote("keep.txt")
    conn.storeFile(legacy_server.share, remote, BytesIO(b"0123456789"))
    assert conn.storeFileFromOffset(legacy_server.share, remote, BytesIO(b"ab"), 0, truncate=False) == 2
    assert scratch.on_disk("keep.txt").read_bytes() == b"ab23456789"


def test_store_from_offset_creates(conn, legacy_server, scratch):
    remote = scratch.remote("new-at-offset.bin")
    assert conn.storeFileFromOffset(legacy_server.share, remote, BytesIO(b"xyz"), offset=3) == 6
    assert scratch.on_disk("new-at-offset.bin").read_bytes() == b"\0\0\0xyz"


def test_store_from_offset_large(conn, legacy_server, scratch):
    data = random.Random(15).randbytes(3 * 1024 * 1024 + 5)
    patch = random.Random(16).randbytes(1024 * 1024 + 1)
    remote = scratch.remote("large-patch.bin")
    conn.storeFile(legacy_server.share, remote, BytesIO(data))
    offset = 1_000_003
    assert conn.storeFileFromOffset(legacy_server.share, remote, BytesIO(patch), offset) == offset + len(patch)
    expected = data[:offset] + patch + data[offset + len(patch):]
    assert digest(scratch.on_disk("large-patch.bin").read_bytes()) == digest(expected)


# -- progress bars (show_progress, tqdm_kwargs) ---------------------------------------------------


def test_retrieve_with_progress(conn, legacy_server, tree, variant, pysmb_gap):
    pysmb_gap("retrieveFile over SMB1 draws no progress bar", when=not variant.smb2)
    pysmb_gap("retrieveFile over SMB2 closes its bar before counting the last read (it ends short of 100%)",
              when=variant.smb2)
    progress = io.StringIO()
    buf = BytesIO()
    _, size = conn.retrieveFile(legacy_server.share, tree.long_name_file, buf, show_progress=True,
                                tqdm_kwargs={"file": progress, "mininterval": 0})
    assert size == len(tree.content(tree.long_name_file))
    assert digest(buf.getvalue()) == digest(tree.content(tree.long_name_file))
    assert "100%" in progress.getvalue()


def test_store_with_progress(conn, legacy_server, scratch, variant, pysmb_gap):
    pysmb_gap("storeFile over SMB1 with show_progress raises TypeError (its bar has no total)",
              when=not variant.smb2)
    data = random.Random(17).randbytes(300_000)
    progress = io.StringIO()
    with tempfile.NamedTemporaryFile() as fh:
        fh.write(data)
        fh.flush()
        fh.seek(0)
        size = conn.storeFile(legacy_server.share, scratch.remote("progress.bin"), fh, show_progress=True,
                              tqdm_kwargs={"file": progress, "mininterval": 0})
    assert size == len(data)
    assert scratch.on_disk("progress.bin").read_bytes() == data
    assert "100%" in progress.getvalue()
