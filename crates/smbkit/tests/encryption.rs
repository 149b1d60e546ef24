//! SMB 3.x encryption against real Samba.

use smbkit::{Cipher, Encryption, SmbProtocolFactory};
use smbkit_testserver::{ExtraConfig, Profile, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_whole_server() {
    let srv = TestServer::start_with(
        Profile::Modern,
        ExtraConfig {
            global: "server smb encrypt = required\n".into(),
            sections: String::new(),
        },
    )
    .unwrap();
    let conn = SmbProtocolFactory::new(srv.user(), srv.password(), "C", "S")
        .unwrap()
        .direct_tcp(true)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail(30)));
    eprintln!("{:?}", conn.server_info());
    assert!(conn.server_info().encrypted);
    let t = conn.tree_connect("share").await.unwrap();
    assert!(t.encrypted);
    conn.echo(b"hi").await.unwrap();
    let data = vec![7u8; 3 << 20];
    conn.store_file("share", "/a.bin", &mut &data[..]).await.unwrap();
    let mut out = Vec::new();
    conn.retrieve_file("share", "/a.bin", &mut out).await.unwrap();
    assert_eq!(out, data);
    let _ = (Cipher::Aes128Gcm, Encryption::Required);
}
