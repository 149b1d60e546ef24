"""SMBConnection: listShares, listPath, listSnapshots, getAttributes, getSecurity."""

from datetime import datetime

import pytest

from smb import smb_structs
from smb.base import SharedDevice, SharedFile
from smb.security_descriptors import ACL, SID, SecurityDescriptor
from smb.smb_constants import (
    ATTR_DIRECTORY,
    SMB_FILE_ATTRIBUTE_ARCHIVE,
    SMB_FILE_ATTRIBUTE_DIRECTORY,
    SMB_FILE_ATTRIBUTE_HIDDEN,
    SMB_FILE_ATTRIBUTE_INCL_NORMAL,
    SMB_FILE_ATTRIBUTE_READONLY,
    SMB_FILE_ATTRIBUTE_SYSTEM,
)

FILES_ONLY = (SMB_FILE_ATTRIBUTE_READONLY | SMB_FILE_ATTRIBUTE_HIDDEN | SMB_FILE_ATTRIBUTE_SYSTEM
              | SMB_FILE_ATTRIBUTE_ARCHIVE | SMB_FILE_ATTRIBUTE_INCL_NORMAL)


def entries(results):
    return {(r.filename, r.isDirectory) for r in results}


# -- listShares -----------------------------------------------------------------------------------


def test_list_shares(conn, legacy_server):
    shares = conn.listShares()
    assert all(isinstance(s, SharedDevice) for s in shares)
    by_name = {s.name: s for s in shares}
    for name in (legacy_server.share, "readonly", "snapshots", "encrypted"):
        assert name in by_name
        assert by_name[name].type == SharedDevice.DISK_TREE
        assert not by_name[name].isSpecial
        assert isinstance(by_name[name].comments, str)
    assert by_name["IPC$"].type == SharedDevice.IPC
    assert by_name["IPC$"].isSpecial


def test_list_shares_twice(conn):
    first = sorted(s.name for s in conn.listShares())
    second = sorted(s.name for s in conn.listShares(timeout=10))
    assert first == second


# -- listPath -------------------------------------------------------------------------------------


def test_list_root(conn, legacy_server, tree):
    results = conn.listPath(legacy_server.share, "/")
    assert all(isinstance(r, SharedFile) for r in results)
    found = entries(results)
    assert (".", True) in found and ("..", True) in found
    assert (tree.unicode_dir.lstrip("/"), True) in found  # non-English folder name
    assert (tree.long_dir.lstrip("/"), True) in found  # long English folder name
    assert (tree.short_dir.lstrip("/"), True) in found  # short folder name
    assert (tree.long_name_file.lstrip("/"), False) in found  # long file name
    assert (tree.text_file.lstrip("/"), False) in found  # short file name


def test_list_root_entry_details(conn, legacy_server, tree):
    by_name = {r.filename: r for r in conn.listPath(legacy_server.share, "/")}
    text = by_name[tree.text_file.lstrip("/")]
    assert text.file_size == len(tree.content(tree.text_file))
    assert text.alloc_size >= text.file_size
    assert not text.isDirectory
    assert abs(text.last_write_time - tree.text_mtime) < 1e-3
    assert text.create_time > 0 and text.last_access_time > 0 and text.last_attr_change_time > 0
    folder = by_name[tree.long_dir.lstrip("/")]
    assert folder.isDirectory
    assert folder.file_attributes & ATTR_DIRECTORY


def test_list_empty_path_is_root(conn, legacy_server, tree):
    assert entries(conn.listPath(legacy_server.share, "")) == entries(conn.listPath(legacy_server.share, "/"))


def test_list_subfolder(conn, legacy_server, tree):
    found = entries(conn.listPath(legacy_server.share, tree.long_dir + "/"))
    expected = set(tree.long_dir_entries.items()) | {(".", True), ("..", True)}
    assert found == expected


def test_list_subfolder_backslashes(conn, legacy_server, tree):
    found = entries(conn.listPath(legacy_server.share, "\\" + tree.long_dir.lstrip("/")))
    assert ("Sample File.txt", False) in found


def test_list_unicode_folder(conn, legacy_server, tree):
    found = entries(conn.listPath(legacy_server.share, tree.unicode_dir))
    assert (tree.unicode_file.rsplit("/", 1)[1], False) in found


def test_list_999_files(conn, legacy_server, tree):
    results = conn.listPath(legacy_server.share, tree.many_dir)
    names = [r.filename for r in results]
    assert len(names) == 999 + 2
    assert sorted(n for n in names if n not in (".", "..")) == tree.many_names
    assert not any(r.isDirectory for r in results if r.filename not in (".", ".."))


def test_list_directories_only(conn, legacy_server, tree):
    results = conn.listPath(legacy_server.share, tree.long_dir, search=SMB_FILE_ATTRIBUTE_DIRECTORY)
    assert results
    assert all(r.isDirectory for r in results)
    names = {r.filename for r in results}
    assert {"Sample Folder", "子文件夹"} <= names
    assert "Sample File.txt" not in names


def test_list_files_only(conn, legacy_server, tree):
    results = conn.listPath(legacy_server.share, tree.long_dir, search=FILES_ONLY)
    assert {r.filename for r in results} == {"Sample File.txt", "other.txt"}
    assert not any(r.isDirectory for r in results)


def test_list_pattern(conn, legacy_server, tree):
    found = entries(conn.listPath(legacy_server.share, tree.long_dir, pattern="Sample*"))
    assert found == {("Sample File.txt", False), ("Sample Folder", True)}


def test_list_pattern_question_mark(conn, legacy_server, tree):
    names = {r.filename for r in conn.listPath(legacy_server.share, tree.many_dir, pattern="doc00?1.txt")}
    assert names == {f"doc00{d}1.txt" for d in "0123456789"}


def test_list_unicode_pattern(conn, legacy_server, tree):
    found = entries(conn.listPath(legacy_server.share, tree.long_dir, pattern="*件夹"))
    assert found == {("子文件夹", True)}


def test_list_pattern_and_search(conn, legacy_server, tree):
    found = entries(conn.listPath(legacy_server.share, tree.long_dir, pattern="Sample*",
                                  search=SMB_FILE_ATTRIBUTE_DIRECTORY))
    assert found == {("Sample Folder", True)}


def test_list_pattern_without_match(conn, legacy_server, tree):
    assert conn.listPath(legacy_server.share, tree.many_dir, pattern="*.abc") == []


def test_list_empty_folder(conn, legacy_server, tree):
    assert entries(conn.listPath(legacy_server.share, tree.empty_dir)) == {(".", True), ("..", True)}


def test_list_missing_folder(conn, legacy_server):
    with pytest.raises(smb_structs.OperationFailure):
        conn.listPath(legacy_server.share, "/no such folder")


def test_list_missing_share(conn):
    with pytest.raises(smb_structs.OperationFailure):
        conn.listPath("no-such-share", "/")


def test_list_other_share(conn, tree):
    found = entries(conn.listPath("readonly", "/"))
    assert ("hello.txt", False) in found


def test_failure_carries_messages(conn, legacy_server):
    with pytest.raises(smb_structs.OperationFailure) as info:
        conn.listPath(legacy_server.share, "/no such folder either")
    failure = info.value
    assert isinstance(failure.message, str) and failure.message
    assert "no such folder either" in str(failure)


# -- listSnapshots --------------------------------------------------------------------------------


def expected_snapshots(tree):
    return [datetime.fromisoformat(s) for s in tree.snapshots]


def test_list_snapshots_of_file(conn, tree, variant, pysmb_gap):
    pysmb_gap("listSnapshots over SMB1 cannot parse the server's NT_TRANSACT_IOCTL answer",
              when=not variant.smb2)
    assert conn.listSnapshots("snapshots", tree.snapshot_file) == expected_snapshots(tree)


def test_list_snapshots_of_folder(conn, tree, variant, pysmb_gap):
    pysmb_gap("listSnapshots over SMB1 opens the path with SMB_COM_OPEN_ANDX, which cannot open folders",
              when=not variant.smb2)
    assert conn.listSnapshots("snapshots", tree.snapshot_dir) == expected_snapshots(tree)


def test_list_snapshots_unsupported(conn, legacy_server, tree):
    """A share without snapshot support: the server refuses the request, an OperationFailure."""
    with pytest.raises(smb_structs.OperationFailure):
        conn.listSnapshots(legacy_server.share, tree.text_file)


# -- getAttributes --------------------------------------------------------------------------------


def test_get_attributes_of_file(conn, legacy_server, tree):
    info = conn.getAttributes(legacy_server.share, tree.text_file)
    assert isinstance(info, SharedFile)
    assert not info.isDirectory
    assert info.filename == tree.text_file.lstrip("/")
    assert info.file_size == len(tree.content(tree.text_file))
    assert info.alloc_size >= info.file_size
    assert abs(info.last_write_time - tree.text_mtime) < 1e-3


def test_get_attributes_of_folder(conn, legacy_server, tree):
    assert conn.getAttributes(legacy_server.share, tree.long_dir + "/").isDirectory
    assert conn.getAttributes(legacy_server.share, tree.long_dir).isDirectory


def test_get_attributes_of_root(conn, legacy_server, tree):
    assert conn.getAttributes(legacy_server.share, "/").isDirectory


def test_get_attributes_unicode(conn, legacy_server, tree):
    assert conn.getAttributes(legacy_server.share, tree.unicode_dir).isDirectory
    info = conn.getAttributes(legacy_server.share, tree.unicode_file)
    assert not info.isDirectory
    assert info.file_size == len(tree.content(tree.unicode_file))


def test_get_attributes_long_name(conn, legacy_server, tree):
    info = conn.getAttributes(legacy_server.share, tree.long_name_file)
    assert info.file_size == len(tree.content(tree.long_name_file))


def test_get_attributes_missing(conn, legacy_server):
    with pytest.raises(smb_structs.OperationFailure):
        conn.getAttributes(legacy_server.share, "/missing-file.txt")


# -- getSecurity ----------------------------------------------------------------------------------


def test_get_security(conn, legacy_server, tree, variant, pysmb_gap):
    pysmb_gap("getSecurity is not implemented for SMB1 (NotImplementedError)", when=not variant.smb2)
    sd = conn.getSecurity(legacy_server.share, tree.text_file)
    assert isinstance(sd, SecurityDescriptor)
    assert isinstance(sd.owner, SID) and str(sd.owner).startswith("S-1-")
    assert isinstance(sd.group, SID) and str(sd.group).startswith("S-1-")
    assert isinstance(sd.dacl, ACL)
    assert sd.dacl.aces
    assert all(str(ace.sid).startswith("S-1-") for ace in sd.dacl.aces)


def test_get_security_of_folder(conn, legacy_server, tree, variant, pysmb_gap):
    pysmb_gap("getSecurity is not implemented for SMB1 (NotImplementedError)", when=not variant.smb2)
    sd = conn.getSecurity(legacy_server.share, tree.long_dir)
    assert isinstance(sd, SecurityDescriptor)
    assert sd.dacl.aces


def test_get_security_missing(conn, legacy_server, variant, pysmb_gap):
    pysmb_gap("getSecurity is not implemented for SMB1 (NotImplementedError)", when=not variant.smb2)
    with pytest.raises(smb_structs.OperationFailure):
        conn.getSecurity(legacy_server.share, "/missing-file.txt")
