//! What a client needs from `krb5.conf` (MIT krb5's "krb5.conf" format):
//! the default realm, each realm's KDCs and the host-to-realm mapping.

use std::collections::BTreeMap;

/// The parts of a `krb5.conf` this client uses.
///
/// ```
/// use smbkit_proto::kerberos::Krb5Conf;
///
/// let conf = Krb5Conf::parse(
///     "[libdefaults]\n default_realm = EXAMPLE.TEST\n\
///      [realms]\n EXAMPLE.TEST = {\n  kdc = 127.0.0.1:8888\n  kdc = kdc2.example.test\n }\n\
///      [domain_realm]\n .example.test = EXAMPLE.TEST\n",
/// );
/// assert_eq!(conf.default_realm.as_deref(), Some("EXAMPLE.TEST"));
/// assert_eq!(conf.kdcs("EXAMPLE.TEST"), ["127.0.0.1:8888", "kdc2.example.test:88"]);
/// assert_eq!(conf.realm_of_host("files.example.test").as_deref(), Some("EXAMPLE.TEST"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Krb5Conf {
    /// `[libdefaults] default_realm`.
    pub default_realm: Option<String>,
    /// `[libdefaults] default_ccache_name`, if set.
    pub default_ccache_name: Option<String>,
    /// `[libdefaults] default_client_keytab_name`, if set.
    pub default_client_keytab_name: Option<String>,
    /// `[realms] REALM = { kdc = … }`, in file order.
    pub realm_kdcs: BTreeMap<String, Vec<String>>,
    /// `[domain_realm]`: host or `.domain` → realm.
    pub domain_realm: Vec<(String, String)>,
}

impl Krb5Conf {
    /// Parses the text of a `krb5.conf`. Unknown sections and relations are
    /// ignored, as are lines that do not parse (MIT's own parser is as lenient
    /// about what it does not use); `include` directives are not followed.
    pub fn parse(text: &str) -> Krb5Conf {
        let mut conf = Krb5Conf::default();
        let mut section = String::new();
        let mut realm: Option<String> = None;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                section = line
                    .trim_matches(|c| c == '[' || c == ']')
                    .trim()
                    .to_string();
                realm = None;
                continue;
            }
            if line.starts_with('}') {
                realm = None;
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let value = value.trim();
            match section.as_str() {
                "libdefaults" => match key {
                    "default_realm" => conf.default_realm = Some(value.to_string()),
                    "default_ccache_name" => conf.default_ccache_name = Some(value.to_string()),
                    "default_client_keytab_name" => {
                        conf.default_client_keytab_name = Some(value.to_string())
                    }
                    _ => {}
                },
                "realms" => {
                    if value == "{" {
                        realm = Some(key.to_string());
                        conf.realm_kdcs.entry(key.to_string()).or_default();
                    } else if key == "kdc" {
                        if let Some(r) = &realm {
                            conf.realm_kdcs
                                .entry(r.clone())
                                .or_default()
                                .push(with_port(value));
                        }
                    }
                }
                "domain_realm" => conf
                    .domain_realm
                    .push((key.to_ascii_lowercase(), value.to_string())),
                _ => {}
            }
        }
        conf
    }

    /// The KDC addresses (`host:port`, port 88 when the file gives none) of
    /// `realm`.
    pub fn kdcs(&self, realm: &str) -> &[String] {
        self.realm_kdcs.get(realm).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The realm of `host` by `[domain_realm]` (an exact entry, then the
    /// longest `.domain` suffix).
    pub fn realm_of_host(&self, host: &str) -> Option<String> {
        let host = host.to_ascii_lowercase();
        if let Some((_, r)) = self.domain_realm.iter().find(|(k, _)| *k == host) {
            return Some(r.clone());
        }
        self.domain_realm
            .iter()
            .filter(|(k, _)| k.starts_with('.') && (host.ends_with(k.as_str()) || host == k[1..]))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, r)| r.clone())
    }
}

/// `host` → `host:88`; `host:port` and `[v6]:port` stay.
fn with_port(kdc: &str) -> String {
    let kdc = kdc.trim_start_matches("tcp/").trim_start_matches("udp/");
    let has_port = match kdc.rfind(']') {
        Some(i) => kdc[i..].contains(':'),
        None => kdc.contains(':'),
    };
    if has_port {
        kdc.to_string()
    } else {
        format!("{kdc}:88")
    }
}
