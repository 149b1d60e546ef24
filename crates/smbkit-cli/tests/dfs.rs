//! The CLI through DFS links, without the user noticing: `ls` and `get`
//! of paths behind a link of Samba's DFS root, whose target is another
//! server (127.0.0.2 on the same port).

use std::process::{Command, Stdio};

use smbkit_testserver::dfs::{DfsSetup, DFS_ROOT, LINK, SECOND_CONTENT, SECOND_FILE};
use smbkit_testserver::{PASSWORD, USER};

#[test]
fn ls_and_get_follow_links() {
    let dfs = DfsSetup::start().expect("start the DFS set-up (run scripts/install-deps)");
    let base = format!("smb://{USER}@127.0.0.1:{}/{DFS_ROOT}/{LINK}/", dfs.port());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_smbkit"))
            .env("SMBKIT_PASSWORD", PASSWORD)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["ls", &base]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(SECOND_FILE), "{text}");
    let out = run(&["get", &format!("{base}{SECOND_FILE}"), "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, SECOND_CONTENT);
}
