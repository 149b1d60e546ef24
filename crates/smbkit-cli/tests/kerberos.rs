//! `smbkit -k` against a Samba AD DC the harness provisions on 127.0.0.1
//! (the DC refuses NTLM): `kinit` then `smbkit -k`, a password through
//! Kerberos, and a client clock three hours off (libfaketime), which the
//! KDC refuses with KRB_AP_ERR_SKEW.

use std::process::{Command, Output, Stdio};

use smbkit_testserver::{ad_dc_available, AdDc, AdDcOptions};

fn dc() -> AdDc {
    assert!(
        ad_dc_available(),
        "Samba's AD DC is not installed: run scripts/install-deps"
    );
    let dc = AdDc::start_with(AdDcOptions::kerberos_only()).expect("start the AD DC");
    std::fs::write(dc.share_path().join("kerberos.txt"), b"through Kerberos\n").unwrap();
    dc
}

/// The binary with the DC's krb5.conf, no password and no cache of the caller's.
fn smbkit(dc: &AdDc) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smbkit"));
    c.env_remove("SMBKIT_PASSWORD")
        .env_remove("RUST_LOG")
        .env_remove("KRB5CCNAME")
        .env("KRB5_CONFIG", dc.krb5_conf_path())
        .stdin(Stdio::null());
    c
}

/// `smb://127.0.0.1:port/share/` (the DC's file server is also `cifs/127.0.0.1`).
fn share_url(dc: &AdDc) -> String {
    format!("smb://127.0.0.1:{}/{}/", dc.port(), dc.share())
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn kinit_then_smbkit_k() {
    let dc = dc();
    let ccache = dc.dir().join("cli.ccache");
    dc.kinit(&ccache).unwrap();
    let out = smbkit(&dc)
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .args(["-k", "ls", &share_url(&dc)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kerberos.txt"),
        "{}",
        text(&out)
    );

    // Without -k the DC refuses NTLM.
    let out = smbkit(&dc)
        .env("SMBKIT_PASSWORD", dc.password())
        .args(["-U", dc.user(), "ls", &share_url(&dc)])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("NTLM_BLOCKED") || text(&out).contains("refuses NTLM"),
        "{}",
        text(&out)
    );

    // No cache at all: a typed error and what to do.
    let out = smbkit(&dc)
        .env(
            "KRB5CCNAME",
            format!("FILE:{}", dc.dir().join("none").display()),
        )
        .args(["-k", "ls", &share_url(&dc)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = text(&out);
    assert!(
        all.contains("credential cache") && all.contains("kinit"),
        "{all}"
    );
}

#[test]
fn password_through_kerberos_and_clock_skew() {
    let dc = dc();
    let out = smbkit(&dc)
        .env("SMBKIT_PASSWORD", dc.password())
        .args([
            "-k",
            "-U",
            dc.user(),
            "get",
            &format!("{}kerberos.txt", share_url(&dc)),
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(out.stdout, b"through Kerberos\n");

    // Three hours ahead: the KDC refuses the pre-authentication timestamp.
    let faketime = which("faketime").expect("faketime (run scripts/install-deps)");
    let mut cmd = Command::new(faketime);
    cmd.arg("-f")
        .arg("+3h")
        .arg(env!("CARGO_BIN_EXE_smbkit"))
        .args(["-k", "-U", dc.user(), "ls", &share_url(&dc)])
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("SMBKIT_PASSWORD", dc.password())
        .env("KRB5_CONFIG", dc.krb5_conf_path())
        .env_remove("KRB5CCNAME")
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("KRB_AP_ERR_SKEW") && all.contains("clock"),
        "{all}"
    );
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
