//! The DFS set-up: two smbds on one port at 127.0.0.1 and 127.0.0.2, the first a DFS root whose
//! links Samba's own `smbclient` follows to the second server, failing over from a target that is
//! down, and no longer once the second server stops.

mod support;

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;

use smbkit_testserver::dfs::{
    DfsSetup, DFS_ROOT, DOWN_HOST, FIRST_CONTENT, FIRST_FILE, FIRST_HOST, LINK, LOCAL_LINK,
    PLAIN_DIR, SECOND_CONTENT, SECOND_FILE, SECOND_HOST, SHARE, TWO_TARGETS,
};
use smbkit_testserver::smbd_available;
use support::{smbclient, text};

/// Starts a set-up on a free port (or on `port`), failing (never skipping) with a clear message
/// when Samba is missing.
fn start(port: Option<u16>) -> DfsSetup {
    assert!(
        smbd_available(),
        "Samba (smbd, smbpasswd, shadow_copy2) is not installed: run scripts/install-deps"
    );
    match port {
        None => DfsSetup::start(),
        Some(p) => DfsSetup::start_on_port(p),
    }
    .unwrap_or_else(|e| panic!("cannot start the DFS set-up: {e}"))
}

/// Asserts that smbclient succeeded without an NT_STATUS error; returns its stdout.
#[track_caller]
fn ok(dfs: &DfsSetup, out: &Output) -> String {
    let all = text(out);
    assert!(
        out.status.success() && !all.contains("NT_STATUS_"),
        "smbclient failed:\n{all}\n--- first server ---\n{}\n--- second server ---\n{}",
        dfs.first().log_tail(20),
        dfs.second().log_tail(20)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `ls <link>\*` in the DFS root lists through the link, sorted, once `smbclient` (with
/// `extra` arguments) succeeded; an NT_STATUS message on the way is allowed (a target that is
/// down, tried first).
#[track_caller]
fn listed_through(dfs: &DfsSetup, link: &str, extra: &[&str]) -> Vec<String> {
    let out = smbclient(dfs.first(), DFS_ROOT, extra, &format!(r"ls {link}\*"));
    assert!(out.status.success(), "{link} {extra:?}: {}", text(&out));
    names(&String::from_utf8_lossy(&out.stdout))
}

/// The names `smbclient`'s `ls` printed (without `.` and `..`).
fn names(listing: &str) -> Vec<String> {
    let mut v: Vec<String> = listing
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            // "  name   D   0  date": the name ends where two spaces start.
            let name = l.split("  ").next()?.trim();
            (!name.is_empty() && l.len() > name.len() && name != "." && name != "..")
                .then(|| name.to_string())
        })
        .filter(|n| !n.contains("blocks of size"))
        .collect();
    v.sort();
    v
}

#[test]
fn two_servers_share_one_port_at_two_addresses() {
    let dfs = start(None);
    let port = dfs.port();
    assert_eq!(dfs.first().port(), port);
    assert_eq!(dfs.second().port(), port);
    assert_eq!(
        (dfs.first().host(), dfs.second().host()),
        (FIRST_HOST, SECOND_HOST)
    );
    for host in [FIRST_HOST, SECOND_HOST] {
        TcpStream::connect((host, port)).unwrap_or_else(|e| panic!("{host}:{port}: {e}"));
    }
    assert!(
        TcpStream::connect((DOWN_HOST, port)).is_err(),
        "something listens on {DOWN_HOST}:{port}"
    );

    // Each server serves its own files in `share`.
    let first = ok(&dfs, &smbclient(dfs.first(), SHARE, &[], "ls"));
    let second = ok(&dfs, &smbclient(dfs.second(), SHARE, &["-m", "NT1"], "ls"));
    assert_eq!(names(&first), [FIRST_FILE], "{first}");
    assert_eq!(names(&second), [SECOND_FILE], "{second}");
    assert_eq!(
        fs::read(dfs.second_share_path().join(SECOND_FILE)).unwrap(),
        SECOND_CONTENT
    );

    // The root holds the links, as Samba's msdfs symlinks, and a plain folder; the second
    // server has no DFS root.
    for (name, target) in dfs.links() {
        let link = dfs.root_path().join(name);
        assert_eq!(fs::read_link(&link).unwrap(), Path::new(target), "{name}");
    }
    let root = ok(&dfs, &smbclient(dfs.first(), DFS_ROOT, &[], "ls"));
    assert_eq!(
        names(&root),
        [LINK, LOCAL_LINK, PLAIN_DIR, TWO_TARGETS],
        "{root}"
    );
    let out = smbclient(dfs.second(), DFS_ROOT, &[], "ls");
    assert!(
        text(&out).contains("NT_STATUS_BAD_NETWORK_NAME"),
        "{}",
        text(&out)
    );
    assert_eq!(dfs.dfs_path(LINK), r"\127.0.0.1\dfsroot\link");
    assert_eq!(dfs.dfs_path(""), r"\127.0.0.1\dfsroot");
}

/// `smbclient` follows referrals only to port 445 (see the `dfs` module), so this set-up listens
/// there.
#[test]
fn smbclient_follows_the_links_over_smb2_and_smb1() {
    let dfs = start(Some(445));
    let got = dfs.first().dir().join("got.txt");
    for extra in [&[][..], &["-m", "NT1"][..]] {
        // `link`: the second server's share.
        let out = ok(&dfs, &smbclient(dfs.first(), DFS_ROOT, extra, r"ls link\*"));
        assert_eq!(names(&out), [SECOND_FILE], "{extra:?}: {out}");
        // `twotargets`: its first target, 127.0.0.3, is down; the second answers.
        assert_eq!(listed_through(&dfs, TWO_TARGETS, extra), [SECOND_FILE]);
        // `locallink`: the first server's own share.
        let out = ok(
            &dfs,
            &smbclient(dfs.first(), DFS_ROOT, extra, r"ls locallink\*"),
        );
        assert_eq!(names(&out), [FIRST_FILE], "{extra:?}: {out}");
        // Reading through a link reads the second server's file.
        let _ = fs::remove_file(&got);
        let cmd = format!(r"get link\{SECOND_FILE} {}", got.display());
        ok(&dfs, &smbclient(dfs.first(), DFS_ROOT, extra, &cmd));
        assert_eq!(fs::read(&got).unwrap(), SECOND_CONTENT, "{extra:?}");
        // A plain folder of the root is no referral.
        let out = ok(
            &dfs,
            &smbclient(dfs.first(), DFS_ROOT, extra, r"ls plain\*"),
        );
        assert!(names(&out).is_empty(), "{extra:?}: {out}");
    }
    assert_eq!(
        fs::read(dfs.first_share_path().join(FIRST_FILE)).unwrap(),
        FIRST_CONTENT
    );
}

#[test]
fn links_fail_while_the_second_server_is_down() {
    let mut dfs = start(Some(445));
    ok(&dfs, &smbclient(dfs.first(), DFS_ROOT, &[], r"ls link\*"));
    dfs.stop_second();
    assert!(TcpStream::connect((SECOND_HOST, 445)).is_err());
    for link in [LINK, TWO_TARGETS] {
        let out = smbclient(dfs.first(), DFS_ROOT, &[], &format!(r"ls {link}\*"));
        let all = text(&out);
        assert!(
            all.contains("NT_STATUS_CONNECTION_REFUSED"),
            "{link} with its server down:\n{all}"
        );
    }
    // The root's own server still answers, for its own link too.
    let out = ok(
        &dfs,
        &smbclient(dfs.first(), DFS_ROOT, &[], r"ls locallink\*"),
    );
    assert_eq!(names(&out), [FIRST_FILE], "{out}");

    dfs.restart_second().unwrap();
    for link in [LINK, TWO_TARGETS] {
        assert_eq!(listed_through(&dfs, link, &[]), [SECOND_FILE], "{link}");
    }
}
