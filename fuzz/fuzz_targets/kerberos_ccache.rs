//! MIT credential cache files (the `FILE:` ccache format, versions 3 and
//! 4), as a client reads them from disk. A cache that parses must encode
//! back to one that parses the same; its principals' text form must parse
//! back to the same names; configuration entries must never come back
//! from the ticket lookups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::kerberos::ccache::{Ccache, Principal};

/// The text form of `p` parses back to its realm and components, when
/// the text form can say them (a realm and at least one non-empty name).
fn text_round_trip(p: &Principal) {
    let text = p.to_string();
    let sayable = !p.realm.is_empty()
        && !p.components.is_empty()
        && !(p.components.len() == 1 && p.components[0].is_empty());
    match Principal::parse(&text) {
        Ok(back) => {
            assert!(sayable, "{text:?} parsed");
            assert_eq!(back.realm, p.realm);
            assert_eq!(back.components, p.components);
        }
        Err(e) => assert!(!sayable, "{text:?}: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(cache) = Ccache::parse(data) else {
        return;
    };
    let again = cache.encode().expect("a parsed cache encodes");
    assert_eq!(Ccache::parse(&again).as_ref(), Ok(&cache));
    text_round_trip(&cache.default_principal);
    for cred in &cache.credentials {
        assert_eq!(cred.is_config, cred.server.is_config());
        text_round_trip(&cred.client);
        text_round_trip(&cred.server);
        match cache.find(&cred.server) {
            Some(found) => {
                assert!(!found.is_config);
                assert!(found.server.matches(&cred.server));
                assert!(cred.is_config || found.end_time >= cred.end_time);
            }
            None => assert!(cred.is_config),
        }
    }
    if let Some(tgt) = cache.tgt(&cache.default_principal.realm) {
        assert!(tgt.is_tgt());
    }
    let _ = cache.config("pa_type", None);
    let _ = format!("{cache:?}");
});
