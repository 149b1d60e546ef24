//! Each profile, checked with Samba's own smbclient and a raw SMB2 NEGOTIATE.

mod support;

use std::fs;
use std::process::Command;

use smbkit_testserver::{smbd_available, Profile, HELLO_CONTENT, SNAPSHOTS};
use support::*;

const SMB2_DIALECTS: [u16; 4] = [0x0202, 0x0210, 0x0300, 0x0302];

#[test]
fn samba_is_installed() {
    assert!(
        smbd_available(),
        "smbd, smbpasswd or the shadow_copy2 VFS module is missing: run scripts/install-deps"
    );
}

#[test]
fn profile_names_round_trip() {
    for p in Profile::ALL {
        assert_eq!(p.name().parse::<Profile>(), Ok(p));
        assert_eq!(Profile::from_name(&p.to_string()), Some(p));
    }
    assert_eq!(Profile::from_name("SMB1_ONLY"), Some(Profile::Smb1Only));
    assert!("nonsense".parse::<Profile>().is_err());
}

#[test]
fn every_profile_passes_testparm() {
    for profile in Profile::ALL {
        let server = start(profile);
        let out = Command::new("testparm")
            .arg("-s")
            .arg(server.config_path())
            .output()
            .expect("run testparm");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "testparm failed for {profile}:\n{stderr}"
        );
        for bad in ["Unknown parameter", "Ignoring unknown", "ERROR", "Invalid"] {
            assert!(
                !stderr.contains(bad),
                "testparm on {profile}: {bad}:\n{stderr}"
            );
        }
        for share in ["[share]", "[readonly]", "[snapshots]", "[encrypted]"] {
            assert!(stdout.contains(share), "{share} missing:\n{stdout}");
        }
        assert!(stdout.contains(&format!("smb ports = {}", server.port())));
    }
}

/// What every profile serves the same way: read-write share, read-only share, snapshots, bad password.
fn common_checks(profile: Profile) {
    let server = start(profile);
    assert_ne!(server.port(), 139);
    assert_ne!(server.port(), 445);
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!(server.share(), "share");

    // Read-write share: a file put through SMB shows up in share_path, and one made there comes back.
    let src = server.dir().join("upload.txt");
    fs::write(&src, b"uploaded through smb\n").unwrap();
    fs::write(server.share_path().join("local.txt"), b"made locally\n").unwrap();
    let out = smbclient(
        &server,
        "share",
        &[],
        &format!(
            "put {} up.txt; get local.txt /dev/stdout; ls",
            src.display()
        ),
    );
    let listing = ok(&server, &out);
    assert!(listing.contains("made locally"), "{listing}");
    assert!(listing.contains("up.txt"), "{listing}");
    assert_eq!(
        fs::read(server.share_path().join("up.txt")).unwrap(),
        b"uploaded through smb\n"
    );

    // chown_to_user lets SMB delete what the test made locally inside a local folder.
    let sub = server.share_path().join("sub");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("x.txt"), b"x").unwrap();
    server.chown_to_user(&sub).unwrap();
    let out = smbclient(&server, "share", &[], "del sub\\x.txt; rmdir sub");
    ok(&server, &out);
    assert!(!sub.exists());

    // Read-only share: hello.txt readable, writes refused.
    assert_eq!(
        fs::read(server.readonly_path().join("hello.txt")).unwrap(),
        HELLO_CONTENT
    );
    let out = smbclient(&server, "readonly", &[], "get hello.txt /dev/stdout");
    assert!(ok(&server, &out).starts_with("hello\n"));
    let out = smbclient(
        &server,
        "readonly",
        &[],
        &format!("put {} nope.txt", src.display()),
    );
    assert!(fails(&server, &out).contains("NT_STATUS_ACCESS_DENIED"));

    // Snapshots share: both snapshots enumerate (FSCTL_SRV_ENUMERATE_SNAPSHOTS), newest first, and an
    // old version reads through its @GMT token.
    fs::write(server.snapshots_path().join("doc.txt"), b"current\n").unwrap();
    fs::write(
        server
            .snapshots_path()
            .join(".snapshots")
            .join(SNAPSHOTS[0])
            .join("doc.txt"),
        b"june version\n",
    )
    .unwrap();
    let out = smbclient(&server, "snapshots", &[], "allinfo doc.txt");
    let info = String::from_utf8_lossy(&out.stdout).into_owned();
    let first = info.find(SNAPSHOTS[0]);
    let second = info.find(SNAPSHOTS[1]);
    assert!(
        first.is_some() && second.is_some() && first < second,
        "{profile}: snapshots not enumerated newest first:\n{}",
        text(&out)
    );
    let out = smbclient(
        &server,
        "snapshots",
        &[],
        &format!("get {}\\doc.txt /dev/stdout", SNAPSHOTS[0]),
    );
    assert!(ok(&server, &out).starts_with("june version\n"));

    // A wrong password is refused.
    let out = Command::new("smbclient")
        .arg("-s")
        .arg(server.client_config_path())
        .arg("//127.0.0.1/share")
        .args(["-p", &server.port().to_string()])
        .args(["-U", &format!("{}%wrong-password", server.user())])
        .args(["-c", "ls"])
        .output()
        .unwrap();
    assert!(fails(&server, &out).contains("NT_STATUS_LOGON_FAILURE"));
}

#[test]
fn modern() {
    common_checks(Profile::Modern);
    let server = start(Profile::Modern);
    // SMB2/3 only, NTLMv2 only, signing not required, encryption available.
    let (_, n) = negotiate(&server, &SMB2_DIALECTS).unwrap();
    assert_eq!(n.dialect, 0x0302);
    assert_eq!(n.security_mode & SIGNING_REQUIRED, 0);
    let out = smbclient(&server, "share", &["-m", "NT1"], "ls");
    fails(&server, &out);
    let out = smbclient(
        &server,
        "share",
        &["--option=client ntlmv2 auth = no"],
        "ls",
    );
    assert!(fails(&server, &out).contains("NT_STATUS_LOGON_FAILURE"));
    let out = smbclient(&server, "encrypted", &[], "ls");
    ok(&server, &out);
}

#[test]
fn legacy() {
    common_checks(Profile::Legacy);
    let server = start(Profile::Legacy);
    let (_, n) = negotiate(&server, &SMB2_DIALECTS).unwrap();
    assert_eq!(n.dialect, 0x0302);
    // SMB1, and NTLMv1 both over SMB1 and SMB2.
    let out = smbclient(&server, "share", &["-m", "NT1"], "ls");
    ok(&server, &out);
    let out = smbclient(
        &server,
        "share",
        &["-m", "NT1", "--option=client ntlmv2 auth = no"],
        "ls",
    );
    ok(&server, &out);
    let out = smbclient(
        &server,
        "share",
        &[
            "--option=client min protocol = SMB2_02",
            "--option=client ntlmv2 auth = no",
        ],
        "ls",
    );
    ok(&server, &out);
    let out = smbclient(&server, "encrypted", &[], "ls");
    ok(&server, &out);
}

#[test]
fn smb1_only() {
    common_checks(Profile::Smb1Only);
    let server = start(Profile::Smb1Only);
    let out = smbclient(&server, "share", &["-m", "NT1"], "ls");
    ok(&server, &out);
    let out = smbclient(
        &server,
        "share",
        &["-m", "NT1", "--option=client ntlmv2 auth = no"],
        "ls",
    );
    ok(&server, &out);
    // No SMB2 at all.
    assert!(negotiate(&server, &SMB2_DIALECTS).is_err());
    let out = smbclient(
        &server,
        "share",
        &["--option=client min protocol = SMB2_02"],
        "ls",
    );
    fails(&server, &out);
}

#[test]
fn signing_mandatory() {
    common_checks(Profile::SigningMandatory);
    let server = start(Profile::SigningMandatory);
    let (_, n) = negotiate(&server, &SMB2_DIALECTS).unwrap();
    assert_eq!(n.dialect, 0x0302);
    assert_ne!(
        n.security_mode & SIGNING_REQUIRED,
        0,
        "signing not required: {n:?}"
    );
    let out = smbclient(&server, "share", &["-m", "NT1"], "ls");
    fails(&server, &out);
}

#[test]
fn smb21_max() {
    common_checks(Profile::Smb21Max);
    let server = start(Profile::Smb21Max);
    let (_, n) = negotiate(&server, &SMB2_DIALECTS).unwrap();
    assert_eq!(n.dialect, 0x0210);
    assert_eq!(n.security_mode & SIGNING_REQUIRED, 0);
    // No SMB3, so no encryption: the encrypted share refuses the tree connect.
    let out = smbclient(&server, "encrypted", &[], "ls");
    assert!(fails(&server, &out).contains("NT_STATUS_ACCESS_DENIED"));
}

#[test]
fn share_listing_works() {
    // Share enumeration runs through samba-dcerpcd, which smbd starts on demand.
    let server = start(Profile::Modern);
    let out = Command::new("smbclient")
        .arg("-s")
        .arg(server.client_config_path())
        .args(["-L", "//127.0.0.1", "-p", &server.port().to_string()])
        .args(["-U", &format!("{}%{}", server.user(), server.password())])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    for share in ["share", "readonly", "snapshots", "encrypted", "IPC$"] {
        assert!(
            listing.lines().any(|l| l.trim_start().starts_with(share)),
            "{share} not listed:\n{}",
            text(&out)
        );
    }
}
