//! MIT keytab files (version 2: records, holes, entries padded into
//! larger holes, the 32-bit key version and Heimdal's flags), as a client
//! reads them from disk. A keytab that parses must encode back to one that
//! parses the same, and every entry must be found by its principal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::kerberos::keytab::Keytab;

fuzz_target!(|data: &[u8]| {
    let Ok(keytab) = Keytab::parse(data) else {
        return;
    };
    let again = keytab.encode().expect("a parsed keytab encodes");
    assert_eq!(Keytab::parse(&again).as_ref(), Ok(&keytab));
    for e in &keytab.entries {
        let best = keytab
            .find(&e.principal, Some(e.enctype))
            .expect("an entry finds itself");
        assert_eq!(best.enctype, e.enctype);
        assert!(best.kvno >= e.kvno);
        let any = keytab.find(&e.principal, None).expect("a key");
        assert!(any.kvno >= e.kvno);
    }
    let _ = format!("{keytab:?}");
});
