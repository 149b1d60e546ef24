//! The Samba AD DC: Kerberos logons to its share with Samba's own tools (kinit, smbclient), from a
//! password, a credential cache and a keytab; NTLM refused when configured so; cleanup.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use smbkit_testserver::ad_dc::{DC_HOSTNAME, REALM, SERVICE_PRINCIPAL};
use smbkit_testserver::{ad_dc_available, AdDc, AdDcOptions};

/// Starts a DC, failing (never skipping) with a clear message when Samba's AD DC is missing.
fn start(options: AdDcOptions) -> AdDc {
    assert!(
        ad_dc_available(),
        "Samba's AD DC (samba, samba-tool, winbindd, provisioning data, kinit) is not installed: run scripts/install-deps"
    );
    AdDc::start_with(options).unwrap_or_else(|e| panic!("cannot start the AD DC: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that smbclient succeeded without an NT_STATUS error; returns its stdout.
#[track_caller]
fn ok(dc: &AdDc, out: &Output) -> String {
    let all = text(out);
    assert!(
        out.status.success() && !all.contains("NT_STATUS_"),
        "smbclient failed:\n{all}\n--- DC logs ---\n{}",
        dc.log_tail(20)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `smbclient //smbkitdc.smbkit.test/<share> --use-kerberos=required` with the TGT in `ccache`
/// (`KRB5CCNAME`: Samba 4.17's `--use-krb5-ccache` finds no usable credentials here).
fn smbclient_kerberos(dc: &AdDc, share: &str, ccache: &Path, commands: &str) -> Output {
    dc.smbclient(share)
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .args(["--use-kerberos=required", "-N"])
        .args(["-c", commands])
        .output()
        .expect("run smbclient")
}

/// `smbclient ... --use-kerberos=disabled -U DOMAIN\user%password`: NTLM.
fn smbclient_ntlm(dc: &AdDc, password: &str) -> Output {
    dc.smbclient(dc.share())
        .arg("--use-kerberos=disabled")
        .arg("-U")
        .arg(format!("{}\\{}%{password}", dc.domain(), dc.user()))
        .args(["-c", "ls"])
        .output()
        .expect("run smbclient")
}

/// `klist` of `ccache`.
fn klist(dc: &AdDc, ccache: &Path) -> String {
    let out = dc
        .krb5_command("klist")
        .arg("-c")
        .arg(format!("FILE:{}", ccache.display()))
        .output()
        .expect("run klist (krb5-user)");
    text(&out)
}

#[test]
fn kerberos_with_a_password_a_ccache_and_a_keytab() {
    let t = Instant::now();
    let dc = start(AdDcOptions::default());
    eprintln!("AdDc::start took {:?}: {dc:?}", t.elapsed());
    fs::write(dc.share_path().join("hello.txt"), b"hello\n").unwrap();

    // A TGT from the password (kinit), then the share through Kerberos.
    let ccache = dc.dir().join("user.ccache");
    dc.kinit(&ccache).unwrap();
    let tickets = klist(&dc, &ccache);
    assert!(
        tickets.contains(&format!("krbtgt/{REALM}@{REALM}")),
        "{tickets}"
    );
    let listing = ok(&dc, &smbclient_kerberos(&dc, "share", &ccache, "ls"));
    assert!(listing.contains("hello.txt"), "{listing}");
    // smbclient got a service ticket for the DC's file server into the same cache.
    let tickets = klist(&dc, &ccache);
    assert!(
        tickets.contains(&format!("{SERVICE_PRINCIPAL}@{REALM}")),
        "{tickets}"
    );
    // And writes as the domain user.
    let put = smbclient_kerberos(
        &dc,
        "share",
        &ccache,
        &format!(
            "put {} copy.txt",
            dc.share_path().join("hello.txt").display()
        ),
    );
    ok(&dc, &put);
    assert_eq!(
        fs::read(dc.share_path().join("copy.txt")).unwrap(),
        b"hello\n"
    );

    // The share list goes through srvsvc (samba-dcerpcd).
    let out = dc
        .smbclient("IPC$")
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .args(["--use-kerberos=required", "-N"])
        .arg("-L")
        .arg(DC_HOSTNAME)
        .output()
        .unwrap();
    let shares = text(&out);
    assert!(
        shares.contains("share") && shares.contains("IPC$"),
        "{shares}"
    );

    // A keytab of the user: a TGT without the password, then the share again.
    let keytab = dc.user_keytab().unwrap();
    assert_eq!(dc.user_keytab().unwrap(), keytab);
    let from_keytab = dc.dir().join("keytab.ccache");
    dc.kinit_with_keytab(&dc.user_principal(), &keytab, &from_keytab)
        .unwrap();
    let listing = ok(&dc, &smbclient_kerberos(&dc, "share", &from_keytab, "ls"));
    assert!(listing.contains("copy.txt"), "{listing}");

    // The KDC also issues tickets for the IP-literal SPN (kvno asks for one).
    let out = dc
        .krb5_command("kvno")
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .arg("cifs/127.0.0.1")
        .output()
        .expect("run kvno (krb5-user)");
    assert!(out.status.success(), "{}", text(&out));

    // NTLM works too on this DC; a wrong password does not.
    assert!(dc.ntlm_enabled());
    ok(&dc, &smbclient_ntlm(&dc, dc.password()));
    let bad = text(&smbclient_ntlm(&dc, "wrong-password"));
    assert!(bad.contains("NT_STATUS_LOGON_FAILURE"), "{bad}");
}

#[test]
fn wrong_password_and_unknown_principal_get_no_tgt() {
    let dc = start(AdDcOptions::default());
    let ccache = dc.dir().join("none.ccache");
    let err = dc
        .kinit_as(&dc.user_principal(), "wrong-password", &ccache)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Password incorrect"), "{err}");
    let err = dc
        .kinit_as(&format!("nobody@{REALM}"), "x", &ccache)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not found in Kerberos database"), "{err}");
}

#[test]
fn kerberos_only_dc_refuses_ntlm() {
    let dc = start(AdDcOptions::kerberos_only());
    assert!(!dc.ntlm_enabled());
    let refused = text(&smbclient_ntlm(&dc, dc.password()));
    assert!(refused.contains("NT_STATUS_NTLM_BLOCKED"), "{refused}");
    let ccache = dc.dir().join("user.ccache");
    dc.kinit(&ccache).unwrap();
    ok(&dc, &smbclient_kerberos(&dc, "share", &ccache, "ls"));
}

#[test]
fn added_users_log_on_and_dcs_run_side_by_side() {
    let a = start(AdDcOptions::default());
    let b = start(AdDcOptions::default());
    assert_ne!(a.kdc_port(), b.kdc_port());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    fs::write(a.share_path().join("only-on-a.txt"), b"a").unwrap();

    a.add_user("second", "Second-Pa55").unwrap();
    let ccache = a.dir().join("second.ccache");
    a.kinit_as(&format!("second@{REALM}"), "Second-Pa55", &ccache)
        .unwrap();
    let listing = ok(&a, &smbclient_kerberos(&a, "share", &ccache, "ls"));
    assert!(listing.contains("only-on-a.txt"), "{listing}");
    // The user exists on `a` only: each DC has its own copy of the domain.
    let err = b
        .kinit_as(
            &format!("second@{REALM}"),
            "Second-Pa55",
            &b.dir().join("x"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    // `b` works on its own, with a share of its own.
    let ccache = b.dir().join("user.ccache");
    b.kinit(&ccache).unwrap();
    let listing = ok(&b, &smbclient_kerberos(&b, "share", &ccache, "ls"));
    assert!(!listing.contains("only-on-a.txt"), "{listing}");
}

#[test]
fn start_is_quick_and_drop_cleans_up() {
    let _warm = start(AdDcOptions::default()); // the first start may provision the template
    let mut times = Vec::new();
    let mut drops = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        let dc = start(AdDcOptions::default());
        times.push(t.elapsed());
        last = Some((
            dc.dir().to_path_buf(),
            dc.config_path().to_path_buf(),
            dc.samba_pid().unwrap(),
            dc.port(),
            dc.kdc_port(),
        ));
        // Make smbd start samba-dcerpcd too, so that drop has helpers to stop.
        let ccache = dc.dir().join("user.ccache");
        dc.kinit(&ccache).unwrap();
        let out = dc
            .smbclient("IPC$")
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .args(["--use-kerberos=required", "-N"])
            .arg("-L")
            .arg(DC_HOSTNAME)
            .output()
            .unwrap();
        assert!(text(&out).contains("IPC$"), "{}", text(&out));
        assert!(!processes_using(dc.config_path()).is_empty());
        let t = Instant::now();
        drop(dc);
        drops.push(t.elapsed());
    }
    eprintln!("AdDc::start took {times:?}, drop {drops:?}");
    let best = times.iter().min().unwrap();
    assert!(*best < Duration::from_secs(5), "start is slow: {times:?}");

    let (dir, config, samba, smb_port, kdc_port) = last.unwrap();
    assert!(!dir.exists(), "{} still exists", dir.display());
    let left = processes_using(&config);
    assert!(left.is_empty(), "left running: {left:?}");
    assert!(alive(samba).is_none(), "samba {samba} still runs");
    assert!(TcpStream::connect(("127.0.0.1", smb_port)).is_err());
    assert!(TcpStream::connect(("127.0.0.1", kdc_port)).is_err());
}

/// Run by [`killed_owner_is_cleaned_up_by_the_watchdog`] in a child process: starts a DC, writes
/// its directory to the file named by `SMBKIT_AD_DC_CHILD`, and waits to be killed.
#[test]
#[ignore = "the child process of killed_owner_is_cleaned_up_by_the_watchdog"]
fn child_holding_a_dc() {
    let Some(report) = std::env::var_os("SMBKIT_AD_DC_CHILD") else {
        return;
    };
    let dc = start(AdDcOptions::default());
    let ccache = dc.dir().join("user.ccache");
    dc.kinit(&ccache).unwrap();
    ok(&dc, &smbclient_kerberos(&dc, "share", &ccache, "ls"));
    let tmp = PathBuf::from(&report).with_extension("tmp");
    fs::write(
        &tmp,
        format!("{}\n{}\n", dc.dir().display(), dc.samba_pid().unwrap()),
    )
    .unwrap();
    fs::rename(&tmp, &report).unwrap();
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

#[test]
fn killed_owner_is_cleaned_up_by_the_watchdog() {
    let report =
        std::env::temp_dir().join(format!("smbkit-ad-dc-child-{}.txt", std::process::id()));
    let _ = fs::remove_file(&report);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_holding_a_dc", "--ignored", "--nocapture"])
        .env("SMBKIT_AD_DC_CHILD", &report)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !report.exists() {
        assert!(Instant::now() < deadline, "the child did not start a DC");
        assert!(child.try_wait().unwrap().is_none(), "the child exited");
        thread::sleep(Duration::from_millis(50));
    }
    let text = fs::read_to_string(&report).unwrap();
    fs::remove_file(&report).unwrap();
    let mut lines = text.lines();
    let dir = PathBuf::from(lines.next().unwrap());
    let samba: u32 = lines.next().unwrap().parse().unwrap();
    assert!(dir.exists());
    // SIGKILL: no Drop runs.
    child.kill().unwrap();
    child.wait().unwrap();
    let config = dir.join("smb.conf");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(processes_using(&config).is_empty() && !dir.exists() && alive(samba).is_none()) {
        assert!(
            Instant::now() < deadline,
            "left behind: {:?}, samba alive: {:?}, dir exists: {}",
            processes_using(&config),
            alive(samba),
            dir.exists()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Living (non-zombie) processes whose arguments mention `config`, as `(pid, name)`.
fn processes_using(config: &Path) -> Vec<(u32, String)> {
    let conf = config.to_str().unwrap();
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmdline).contains(conf) {
            continue;
        }
        if let Some(name) = alive(pid) {
            out.push((pid, name));
        }
    }
    out
}

/// The name of `pid` if it exists and is not a zombie.
fn alive(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    let state = stat[close + 2..].chars().next()?;
    if state == 'Z' || state == 'X' {
        return None;
    }
    Some(stat[stat.find('(')? + 1..close].to_string())
}
