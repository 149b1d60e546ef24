//! The `smbkit` command-line tool.
fn main() {}
