//! Remote names: paths normalised to the form servers want, and the
//! limits of names a request can carry.

use smbkit_proto::codec::utf16_len;

use crate::error::{abbreviate, Error, InvalidArgument};

/// The longest path a request can carry, in bytes of UTF-16: the path
/// fields of both families have 16-bit lengths (MS-SMB2 §2.2.13 CREATE
/// NameLength, §2.2.33 QUERY_DIRECTORY FileNameLength; MS-CIFS §2.2.4.64.1
/// NT_CREATE_ANDX NameLength, and the 16-bit ByteCount and
/// TotalParameterCount around every SMB1 path, §2.2.3.3, §2.2.4.46.1).
pub(crate) const MAX_PATH_BYTES: usize = 65535;

/// A remote path in the form the server wants: backslashes, no leading or
/// trailing separator (the share root is the empty string). A path longer
/// than [`MAX_PATH_BYTES`] is rejected here, before anything is sent (the
/// encoders would refuse it too, naming their field).
pub(crate) fn smb_path(path: &str) -> Result<String, Error> {
    if path.contains('\0') {
        return Err(InvalidArgument::Nul {
            what: "path",
            value: abbreviate(path),
        }
        .into());
    }
    let parts: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let path = parts.join("\\");
    check_length("path", &path)?;
    Ok(path)
}

/// Fails unless `s` fits [`MAX_PATH_BYTES`] as UTF-16; `what` names it.
pub(crate) fn check_length(what: &'static str, s: &str) -> Result<(), Error> {
    let bytes = utf16_len(s);
    if bytes > MAX_PATH_BYTES {
        return Err(InvalidArgument::NameTooLong {
            what,
            value: abbreviate(s),
            chars: s.chars().count(),
            bytes,
            limit: MAX_PATH_BYTES,
        }
        .into());
    }
    Ok(())
}

/// Splits `dir\last` into (`dir`, `last`).
pub(crate) fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('\\') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// `dir\name`, or `name` at the root.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}\\{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        assert_eq!(smb_path("/a/b/").unwrap(), "a\\b");
        assert_eq!(smb_path("\\a\\\\b").unwrap(), "a\\b");
        assert_eq!(smb_path("").unwrap(), "");
        assert_eq!(smb_path("/").unwrap(), "");
        assert_eq!(smb_path("./x/./y").unwrap(), "x\\y");
        assert_eq!(smb_path("日本/😀.txt").unwrap(), "日本\\😀.txt");
        assert!(smb_path("a\0b").is_err());
        assert_eq!(split_last("a\\b\\c"), ("a\\b", "c"));
        assert_eq!(split_last("c"), ("", "c"));
    }
}
