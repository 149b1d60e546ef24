"""SMBConnection: rename, createDirectory, deleteDirectory, deleteFiles, resetFileAttributes,
setLastWriteTime."""

import os
from io import BytesIO

import pytest

from smb import smb_structs
from smb.smb_constants import ATTR_ARCHIVE, ATTR_HIDDEN, ATTR_NORMAL, ATTR_READONLY


def names_in(conn, share, path):
    return {e.filename for e in conn.listPath(share, path)} - {".", ".."}


# -- rename ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["RenameTest", "改名测试 Ünïcødé"], ids=["english", "unicode"])
def test_rename_file(conn, legacy_server, scratch, unique, stem):
    old, new = unique(stem) + ".txt", unique(stem) + ".txt"
    share = legacy_server.share
    conn.storeFile(share, scratch.remote(old), BytesIO(b"Rename file test"))
    assert names_in(conn, share, scratch.path) == {old}
    conn.rename(share, scratch.remote(old), scratch.remote(new))
    assert names_in(conn, share, scratch.path) == {new}
    assert scratch.on_disk(new).read_bytes() == b"Rename file test"
    assert not scratch.on_disk(old).exists()


@pytest.mark.parametrize("stem", ["RenameDir", "改名测试 文件夹"], ids=["english", "unicode"])
def test_rename_folder(conn, legacy_server, scratch, unique, stem):
    old, new = unique(stem), unique(stem)
    share = legacy_server.share
    conn.createDirectory(share, scratch.remote(old))
    conn.storeFile(share, scratch.remote(old, "inside.txt"), BytesIO(b"kept"))
    conn.rename(share, scratch.remote(old), scratch.remote(new))
    assert names_in(conn, share, scratch.path) == {new}
    assert conn.getAttributes(share, scratch.remote(new)).isDirectory
    assert scratch.on_disk(new, "inside.txt").read_bytes() == b"kept"


def test_rename_into_subfolder(conn, legacy_server, scratch):
    share = legacy_server.share
    scratch.on_disk("sub").mkdir()
    legacy_server.give_to_user(scratch.on_disk("sub"))
    conn.storeFile(share, scratch.remote("moving.txt"), BytesIO(b"moving"))
    conn.rename(share, scratch.remote("moving.txt"), scratch.remote("sub", "moved.txt"))
    assert scratch.on_disk("sub", "moved.txt").read_bytes() == b"moving"
    assert names_in(conn, share, scratch.path) == {"sub"}


def test_rename_missing_fails(conn, legacy_server, scratch):
    with pytest.raises(smb_structs.OperationFailure):
        conn.rename(legacy_server.share, scratch.remote("absent.txt"), scratch.remote("other.txt"))


def test_rename_onto_existing_fails(conn, legacy_server, scratch):
    share = legacy_server.share
    conn.storeFile(share, scratch.remote("one.txt"), BytesIO(b"one"))
    conn.storeFile(share, scratch.remote("two.txt"), BytesIO(b"two"))
    with pytest.raises(smb_structs.OperationFailure):
        conn.rename(share, scratch.remote("one.txt"), scratch.remote("two.txt"))
    assert scratch.on_disk("one.txt").read_bytes() == b"one"
    assert scratch.on_disk("two.txt").read_bytes() == b"two"


# -- createDirectory / deleteDirectory ------------------------------------------------------------


@pytest.mark.parametrize("stem", ["TestDir", "文件夹创建 Ünïcødé"], ids=["english", "unicode"])
def test_create_and_delete_directory(conn, legacy_server, scratch, unique, stem):
    share = legacy_server.share
    name = unique(stem)
    conn.createDirectory(share, scratch.remote(name))
    assert name in names_in(conn, share, scratch.path)
    assert scratch.on_disk(name).is_dir()
    assert conn.getAttributes(share, scratch.remote(name)).isDirectory
    conn.deleteDirectory(share, scratch.remote(name))
    assert name not in names_in(conn, share, scratch.path)
    assert not scratch.on_disk(name).exists()


def test_create_directory_at_root(conn, legacy_server, tree, unique):
    share = legacy_server.share
    path = "/" + unique("RootDir")
    conn.createDirectory(share, path)
    try:
        assert (legacy_server.share_path / path.lstrip("/")).is_dir()
    finally:
        conn.deleteDirectory(share, path)
    assert not (legacy_server.share_path / path.lstrip("/")).exists()


def test_create_nested_directory(conn, legacy_server, scratch):
    share = legacy_server.share
    conn.createDirectory(share, scratch.remote("outer"))
    conn.createDirectory(share, scratch.remote("outer", "inner"))
    assert scratch.on_disk("outer", "inner").is_dir()
    conn.deleteDirectory(share, scratch.remote("outer", "inner"))
    conn.deleteDirectory(share, scratch.remote("outer"))
    assert not scratch.on_disk("outer").exists()


def test_create_existing_directory_fails(conn, legacy_server, scratch):
    conn.createDirectory(legacy_server.share, scratch.remote("twice"))
    with pytest.raises(smb_structs.OperationFailure):
        conn.createDirectory(legacy_server.share, scratch.remote("twice"))


def test_create_directory_in_missing_parent_fails(conn, legacy_server, scratch):
    with pytest.raises(smb_structs.OperationFailure):
        conn.createDirectory(legacy_server.share, scratch.remote("missing", "child"))


def test_delete_non_empty_directory_fails(conn, legacy_server, scratch):
    share = legacy_server.share
    conn.createDirectory(share, scratch.remote("full"))
    conn.storeFile(share, scratch.remote("full", "f.txt"), BytesIO(b"x"))
    with pytest.raises(smb_structs.OperationFailure):
        conn.deleteDirectory(share, scratch.remote("full"))
    assert scratch.on_disk("full", "f.txt").exists()


def test_delete_missing_directory_fails(conn, legacy_server, scratch):
    with pytest.raises(smb_structs.OperationFailure):
        conn.deleteDirectory(legacy_server.share, scratch.remote("never-made"))


def test_create_directory_on_readonly_share_fails(conn, unique):
    with pytest.raises(smb_structs.OperationFailure):
        conn.createDirectory("readonly", "/" + unique("nope"))


# -- deleteFiles ----------------------------------------------------------------------------------

PATTERN_FILES = ["aaTest.txt", "aaBest.txt", "aaTest.bin", "aaBest.bin", "random.txt"]


def test_delete_files_by_pattern(conn, legacy_server, scratch):
    share = legacy_server.share
    for name in PATTERN_FILES:
        conn.storeFile(share, scratch.remote(name), BytesIO(b"0123456789"))
    assert names_in(conn, share, scratch.path) == set(PATTERN_FILES)

    conn.deleteFiles(share, scratch.remote("aa*.txt"))
    assert names_in(conn, share, scratch.path) == {"aaTest.bin", "aaBest.bin", "random.txt"}

    conn.deleteFiles(share, scratch.remote("aaTest.*"))
    assert names_in(conn, share, scratch.path) == {"aaBest.bin", "random.txt"}

    conn.deleteFiles(share, scratch.remote("*"))
    assert names_in(conn, share, scratch.path) == set()
    assert list(scratch.local.iterdir()) == []


def test_delete_single_file(conn, legacy_server, scratch):
    share = legacy_server.share
    conn.storeFile(share, scratch.remote("one.txt"), BytesIO(b"1"))
    conn.storeFile(share, scratch.remote("two.txt"), BytesIO(b"2"))
    conn.deleteFiles(share, scratch.remote("one.txt"))
    assert names_in(conn, share, scratch.path) == {"two.txt"}


def test_delete_unicode_files(conn, legacy_server, scratch):
    share = legacy_server.share
    for name in ("删除 一.txt", "删除 二.txt", "keep é.txt"):
        conn.storeFile(share, scratch.remote(name), BytesIO(name.encode()))
    conn.deleteFiles(share, scratch.remote("删除*"))
    assert names_in(conn, share, scratch.path) == {"keep é.txt"}


def test_delete_missing_file(conn, legacy_server, scratch, variant):
    """pysmb's behaviour: over SMB2 deleting a file that is not there succeeds (its SMB2 code treats
    STATUS_OBJECT_NAME_NOT_FOUND as done); over SMB1 it is an OperationFailure."""
    if variant.smb2:
        conn.deleteFiles(legacy_server.share, scratch.remote("not-there.txt"))
    else:
        with pytest.raises(smb_structs.OperationFailure):
            conn.deleteFiles(legacy_server.share, scratch.remote("not-there.txt"))


def test_delete_files_no_match(conn, legacy_server, scratch):
    conn.storeFile(legacy_server.share, scratch.remote("stays.txt"), BytesIO(b"x"))
    conn.deleteFiles(legacy_server.share, scratch.remote("*.nomatch"))
    assert names_in(conn, legacy_server.share, scratch.path) == {"stays.txt"}


def test_delete_files_on_a_folder_fails(conn, legacy_server, scratch):
    conn.createDirectory(legacy_server.share, scratch.remote("folder"))
    with pytest.raises(smb_structs.OperationFailure):
        conn.deleteFiles(legacy_server.share, scratch.remote("folder"))
    assert scratch.on_disk("folder").is_dir()


def make_nested(conn, share, scratch):
    conn.storeFile(share, scratch.remote("top.txt"), BytesIO(b"top"))
    conn.createDirectory(share, scratch.remote("sub"))
    conn.storeFile(share, scratch.remote("sub", "inner.txt"), BytesIO(b"inner"))
    conn.createDirectory(share, scratch.remote("sub", "deeper"))
    conn.storeFile(share, scratch.remote("sub", "deeper", "deepest.txt"), BytesIO(b"deepest"))


def test_delete_files_keeps_folders(conn, legacy_server, scratch):
    share = legacy_server.share
    make_nested(conn, share, scratch)
    conn.deleteFiles(share, scratch.remote("*"), delete_matching_folders=False)
    assert names_in(conn, share, scratch.path) == {"sub"}
    assert scratch.on_disk("sub", "inner.txt").exists()
    assert scratch.on_disk("sub", "deeper", "deepest.txt").exists()


def test_delete_files_and_matching_folders(conn, legacy_server, scratch):
    share = legacy_server.share
    make_nested(conn, share, scratch)
    conn.storeFile(share, scratch.remote("other.bin"), BytesIO(b"other"))
    conn.deleteFiles(share, scratch.remote("*.txt"), delete_matching_folders=True)
    assert names_in(conn, share, scratch.path) == {"sub", "other.bin"}
    conn.deleteFiles(share, scratch.remote("*"), delete_matching_folders=True)
    assert names_in(conn, share, scratch.path) == set()
    assert list(scratch.local.iterdir()) == []


def test_delete_matching_folder_by_name(conn, legacy_server, scratch):
    share = legacy_server.share
    make_nested(conn, share, scratch)
    conn.deleteFiles(share, scratch.remote("su*"), delete_matching_folders=True)
    assert names_in(conn, share, scratch.path) == {"top.txt"}


# -- resetFileAttributes --------------------------------------------------------------------------

SMB1_ATTRIBUTES = "resetFileAttributes is not implemented for SMB1 (NotImplementedError)"


def test_reset_file_attributes(conn, legacy_server, scratch, variant, pysmb_gap):
    pysmb_gap(SMB1_ATTRIBUTES, when=not variant.smb2)
    share = legacy_server.share
    remote = scratch.remote("flags.txt")
    conn.storeFile(share, remote, BytesIO(b"flags"))
    conn.resetFileAttributes(share, remote, ATTR_READONLY | ATTR_HIDDEN)
    attrs = conn.getAttributes(share, remote).file_attributes
    assert attrs & ATTR_READONLY and attrs & ATTR_HIDDEN
    assert conn.getAttributes(share, remote).isReadOnly
    with pytest.raises(smb_structs.OperationFailure):
        conn.storeFile(share, remote, BytesIO(b"refused while read-only"))
    conn.resetFileAttributes(share, remote)
    attrs = conn.getAttributes(share, remote).file_attributes
    assert not attrs & (ATTR_READONLY | ATTR_HIDDEN)
    conn.deleteFiles(share, remote)
    assert not scratch.on_disk("flags.txt").exists()


def test_reset_file_attributes_pattern(conn, legacy_server, scratch, variant, pysmb_gap):
    pysmb_gap(SMB1_ATTRIBUTES, when=not variant.smb2)
    pysmb_gap("resetFileAttributes promises wildcards but opens the pattern as a file name", when=variant.smb2)
    share = legacy_server.share
    for name in ("a.txt", "b.txt", "c.bin"):
        conn.storeFile(share, scratch.remote(name), BytesIO(b"x"))
    conn.resetFileAttributes(share, scratch.remote("*.txt"), ATTR_READONLY)
    by_name = {e.filename: e for e in conn.listPath(share, scratch.path)}
    assert by_name["a.txt"].isReadOnly and by_name["b.txt"].isReadOnly
    assert not by_name["c.bin"].isReadOnly
    conn.resetFileAttributes(share, scratch.remote("*"), ATTR_NORMAL)
    assert not any(e.isReadOnly for e in conn.listPath(share, scratch.path))


def test_reset_file_attributes_archive(conn, legacy_server, scratch, variant, pysmb_gap):
    pysmb_gap(SMB1_ATTRIBUTES, when=not variant.smb2)
    share = legacy_server.share
    remote = scratch.remote("archive.txt")
    conn.storeFile(share, remote, BytesIO(b"a"))
    conn.resetFileAttributes(share, remote, ATTR_ARCHIVE)
    assert conn.getAttributes(share, remote).file_attributes & ATTR_ARCHIVE
    conn.resetFileAttributes(share, remote, ATTR_NORMAL)
    assert conn.getAttributes(share, remote).isNormal


# -- setLastWriteTime -----------------------------------------------------------------------------


def test_set_last_write_time(conn, legacy_server, scratch, variant, pysmb_gap):
    pysmb_gap("setLastWriteTime is not implemented for SMB1 (NotImplementedError)", when=not variant.smb2)
    share = legacy_server.share
    remote = scratch.remote("stamped.txt")
    conn.storeFile(share, remote, BytesIO(b"stamp"))
    when = 1_500_000_000.25
    conn.setLastWriteTime(share, remote, when)
    assert abs(conn.getAttributes(share, remote).last_write_time - when) < 1e-3
    assert abs(os.stat(scratch.on_disk("stamped.txt")).st_mtime - when) < 1e-3
