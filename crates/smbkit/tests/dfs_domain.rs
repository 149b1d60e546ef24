//! Domain-based DFS namespaces, resolved through a domain controller: a
//! Samba AD DC on 127.0.0.1 answers the domain referral of `\smbkit.test`
//! (and `\SMBKIT`) and the root referral of its `sysvol` namespace, whose
//! target is the DC's own file server, named `smbkitdc.smbkit.test` (no DNS
//! knows it here: `SmbProtocolFactory::resolve` maps it to the DC's
//! address). With NTLM and with Kerberos.

use smbkit::{Error, InvalidArgument, Kerberos, SmbProtocolFactory};
use smbkit_testserver::ad_dc::{DC_HOSTNAME, DC_NETBIOS_NAME, DOMAIN, REALM};
use smbkit_testserver::{ad_dc_available, AdDc, AdDcOptions};

fn factory(dc: &AdDc) -> SmbProtocolFactory {
    let addr = format!("127.0.0.1:{}", dc.port()).parse().unwrap();
    SmbProtocolFactory::new(dc.user(), dc.password(), "DFSCLIENT", DC_NETBIOS_NAME)
        .unwrap()
        .domain(DOMAIN)
        .direct_tcp(true)
        .resolve(DC_HOSTNAME, addr)
        .resolve(DC_NETBIOS_NAME, addr)
}

#[tokio::test(flavor = "multi_thread")]
async fn sysvol_of_the_domain() {
    assert!(ad_dc_available(), "run scripts/install-deps");
    // The harness's DC serves `share` only: give it the SYSVOL share a
    // provisioned DC has, with the domain's folder.
    let dc = AdDc::start_with(AdDcOptions {
        sections: "[sysvol]\n\tpath = {dir}/sysvol\n\tread only = yes\n".into(),
        ..AdDcOptions::default()
    })
    .unwrap();
    std::fs::create_dir_all(dc.dir().join("sysvol/smbkit.test/Policies")).unwrap();
    let variants = [
        (factory(&dc), r"\\smbkit.test\sysvol\smbkit.test"),
        (factory(&dc), r"\\SMBKIT\sysvol\smbkit.test"),
        (
            factory(&dc)
                .kerberos(Kerberos::Required)
                .kerberos_realm(REALM)
                .kerberos_host(DC_HOSTNAME)
                .kdc(dc.kdc_address().to_string()),
            "//smbkit.test/sysvol/smbkit.test/",
        ),
    ];
    for (f, unc) in variants {
        let dc_conn = f.connect(("127.0.0.1", dc.port())).await.unwrap();
        let loc = dc_conn.resolve_dfs_path(unc).await.unwrap();
        assert!(loc.share.eq_ignore_ascii_case("sysvol"), "{loc:?}");
        assert!(loc.path.eq_ignore_ascii_case("\\smbkit.test"), "{loc:?}");
        let names: Vec<String> = loc
            .connection
            .list_path(&loc.share, &loc.path)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.filename)
            .collect();
        assert!(names.iter().any(|n| n == "Policies"), "{unc}: {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn not_a_dfs_path() {
    assert!(ad_dc_available(), "run scripts/install-deps");
    let dc = AdDc::start().unwrap();
    let conn = factory(&dc)
        .connect(("127.0.0.1", dc.port()))
        .await
        .unwrap();
    for bad in ["", r"\\only-a-server", "//"] {
        match conn.resolve_dfs_path(bad).await {
            Err(Error::InvalidArgument(InvalidArgument::DfsPath(p))) => assert_eq!(p, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // A first component that is no domain: a server name, connected to.
    let loc = conn
        .resolve_dfs_path(&format!(r"\\{DC_HOSTNAME}\share"))
        .await
        .unwrap();
    assert_eq!((loc.share.as_str(), loc.path.as_str()), ("share", ""));
    loc.connection.list_path("share", "").await.unwrap();
}
