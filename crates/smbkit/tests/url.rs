//! `SmbUrl`: parsing, printing, percent-escapes, errors, and the factory
//! built from a URL. No server is needed.

use smbkit::{Error, SmbProtocolFactory, SmbUrl, UrlError, UrlForm, UrlPart};

fn url(s: &str) -> SmbUrl {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> UrlError {
    match SmbUrl::parse(s) {
        Ok(u) => panic!("{s} parsed as {u:?}"),
        Err(e) => e,
    }
}

/// Parses, prints (with the password), parses again, and checks that
/// nothing changed and that the second print is the first.
fn round_trip(s: &str) -> SmbUrl {
    let a = url(s);
    let printed = a.to_string_with_password();
    let b = url(&printed);
    assert_eq!(b.form(), UrlForm::Url);
    let fields = |u: &SmbUrl| {
        (
            u.domain().map(str::to_string),
            u.user().map(str::to_string),
            u.password().map(str::to_string),
            u.host().to_string(),
            u.port(),
            u.share().map(str::to_string),
            u.path().to_string(),
            u.has_trailing_slash(),
        )
    };
    assert_eq!(
        fields(&a),
        fields(&b),
        "{s} printed as {}",
        printed.as_str()
    );
    assert_eq!(b.to_string_with_password(), printed, "{s}");
    if a.form() == UrlForm::Url {
        assert_eq!(a, b, "{s}");
    }
    a
}

#[test]
fn full_url() {
    let u = url("smb://DOM;alice:pw@fileserver.example:1445/docs/a/b.txt");
    assert_eq!(u.form(), UrlForm::Url);
    assert_eq!(u.domain(), Some("DOM"));
    assert_eq!(u.user(), Some("alice"));
    assert_eq!(u.password(), Some("pw"));
    assert_eq!(u.host(), "fileserver.example");
    assert_eq!(u.port(), Some(1445));
    assert_eq!(u.share(), Some("docs"));
    assert_eq!(u.path(), "a/b.txt");
    assert!(!u.has_trailing_slash());
    assert_eq!(
        u.to_string(),
        "smb://DOM;alice@fileserver.example:1445/docs/a/b.txt"
    );
    assert_eq!(
        u.to_string_with_password().as_str(),
        "smb://DOM;alice:pw@fileserver.example:1445/docs/a/b.txt"
    );
}

#[test]
fn minimal_and_partial_urls() {
    let u = url("smb://host");
    assert_eq!(
        (u.domain(), u.user(), u.password(), u.host(), u.port()),
        (None, None, None, "host", None)
    );
    assert_eq!(
        (u.share(), u.path(), u.has_trailing_slash()),
        (None, "", false)
    );
    assert_eq!(u.to_string(), "smb://host");
    let u = url("smb://host/");
    assert_eq!(
        (u.share(), u.path(), u.has_trailing_slash()),
        (None, "", false)
    );
    assert_eq!(u.to_string(), "smb://host");
    let u = url("smb://bob@host");
    assert_eq!((u.user(), u.domain()), (Some("bob"), None));
    // Empty user and domain are left out; an empty password is kept.
    let u = url("smb://;@host/s");
    assert_eq!((u.domain(), u.user(), u.password()), (None, None, None));
    assert_eq!(u.to_string(), "smb://host/s");
    let u = url("smb://DOM;@host/s");
    assert_eq!((u.domain(), u.user()), (Some("DOM"), None));
    assert_eq!(u.to_string(), "smb://DOM;@host/s");
    let u = url("smb://bob:@host/s");
    assert_eq!(u.password(), Some(""));
    assert_eq!(u.to_string_with_password().as_str(), "smb://bob:@host/s");
    let u = url("smb://:pw@host/s");
    assert_eq!((u.user(), u.password()), (None, Some("pw")));
    assert_eq!(u.to_string(), "smb://host/s");
    assert_eq!(u.to_string_with_password().as_str(), "smb://:pw@host/s");
}

#[test]
fn scheme_in_any_case() {
    for s in ["SMB://h/s", "Smb://h/s", "sMb://h/s"] {
        let u = url(s);
        assert_eq!((u.host(), u.share()), ("h", Some("s")), "{s}");
        assert_eq!(u.to_string(), "smb://h/s");
    }
}

#[test]
fn unc_forms() {
    for s in [
        r"\\srv\docs\x\y",
        "//srv/docs/x/y",
        r"\\srv/docs\x/y",
        r"//srv\docs\\x\.\y",
    ] {
        let u = url(s);
        assert_eq!(u.form(), UrlForm::Unc, "{s}");
        assert_eq!(
            (u.host(), u.share(), u.path(), u.has_trailing_slash()),
            ("srv", Some("docs"), "x/y", false),
            "{s}"
        );
        assert_eq!(
            (u.user(), u.domain(), u.password(), u.port()),
            (None, None, None, None)
        );
        assert_eq!(u.to_string(), "smb://srv/docs/x/y");
    }
    let u = url(r"\\srv");
    assert_eq!((u.host(), u.share()), ("srv", None));
    let u = url(r"\\srv\");
    assert_eq!((u.share(), u.has_trailing_slash()), (None, false));
    let u = url(r"\\srv\docs\");
    assert_eq!(
        (u.share(), u.path(), u.has_trailing_slash()),
        (Some("docs"), "", true)
    );
    let u = url("//srv/docs/dir/");
    assert_eq!((u.path(), u.has_trailing_slash()), ("dir", true));
    // UNC paths are taken as written: no percent-escapes.
    let u = url(r"\\srv\my docs\100%\caf%C3%A9");
    assert_eq!((u.share(), u.path()), (Some("my docs"), "100%/caf%C3%A9"));
    assert_eq!(u.to_string(), "smb://srv/my%20docs/100%25/caf%25C3%25A9");
    // IPv6 addresses, bare or in brackets.
    assert_eq!(url(r"\\fe80::1\s").host(), "fe80::1");
    assert_eq!(url("//[::1]/s").host(), "::1");
    assert_eq!(url("//[::1]/s").to_string(), "smb://[::1]/s");
}

#[test]
fn round_trips() {
    for s in [
        "smb://host",
        "smb://host/share",
        "smb://host/share/",
        "smb://host/share/dir/",
        "smb://host/share/dir/file.txt",
        "smb://alice@host:1445/share/a/b",
        "smb://DOM;alice:s3cret@host/share",
        "smb://DOM;@host/share",
        "smb://:pw@host",
        "smb://[::1]/share",
        "smb://[fe80::1:2]:139/share/x/",
        "smb://192.0.2.10:445/C$/Windows",
        "smb://al%20ice@h/my%20share/caf%C3%A9/100%25",
        "smb://D%3BOM;us%3Aer%40x:p%3Aw%40d%2Fs%25@h/a%2Fb/c%3Fd%23e",
    ] {
        round_trip(s);
    }
    // The UNC forms print as smb:// URLs that parse to the same parts.
    for s in [r"\\srv\docs\x\y\", "//srv/my docs/100%/a b", r"\\[::1]\s"] {
        round_trip(s);
    }
    // Display (without a password) parses back to the same URL without it.
    let u = url("smb://DOM;alice:pw@host:1445/share/dir/");
    let back = url(&u.to_string());
    assert_eq!(back, u.clone().with_password(None));
    assert_eq!(back.with_password(Some("pw")), u);
}

#[test]
fn percent_escapes_decode() {
    let u = url("smb://my%20dom;al%20ice:p%20w@h/my%20share/caf%C3%A9/na%C3%AFve%20file.txt");
    assert_eq!(u.domain(), Some("my dom"));
    assert_eq!(u.user(), Some("al ice"));
    assert_eq!(u.password(), Some("p w"));
    assert_eq!(u.share(), Some("my share"));
    assert_eq!(u.path(), "café/naïve file.txt");
    // Separators of the URL's own, escaped, belong to a segment.
    let u = url("smb://D%3Bx;u%3Bv%40w%3Ay:p%3Aq%40r%3Bs%2Ft@h/s%40%3B%3A/f%3Bg%40h%3Ai");
    assert_eq!(u.domain(), Some("D;x"));
    assert_eq!(u.user(), Some("u;v@w:y"));
    assert_eq!(u.password(), Some("p:q@r;s/t"));
    assert_eq!(u.share(), Some("s@;:"));
    assert_eq!(u.path(), "f;g@h:i");
    // Lower-case hex and 4-byte UTF-8.
    assert_eq!(url("smb://h/s/%e2%82%ac%F0%9F%98%80").path(), "€😀");
    // In the path, an escaped `/` or `\` separates like a written one
    // (SMB names cannot hold either).
    let u = url("smb://h/s/a%2Fb%5Cc");
    assert_eq!(u.path(), "a/b/c");
    assert_eq!(u.to_string(), "smb://h/s/a/b/c");
    // A share name keeps an escaped `/`.
    let u = url("smb://h/a%2Fb/c");
    assert_eq!((u.share(), u.path()), (Some("a/b"), "c"));
    assert_eq!(u.to_string(), "smb://h/a%2Fb/c");
}

#[test]
fn percent_escapes_encode() {
    let u = url("smb://h/s").with_password(Some("p:w@d/s% é;"));
    assert_eq!(
        u.to_string_with_password().as_str(),
        "smb://:p%3Aw%40d%2Fs%25%20%C3%A9%3B@h/s"
    );
    let u = url(r"\\h\my share\dir;1\a@b:c\x?y#z\50%\café");
    assert_eq!(
        u.to_string(),
        "smb://h/my%20share/dir;1/a@b:c/x%3Fy%23z/50%25/caf%C3%A9"
    );
    let u = url("smb://DOM%3B1;a%40b%3Ac%20d@h/C$");
    assert_eq!(u.to_string(), "smb://DOM%3B1;a%40b%3Ac%20d@h/C$");
    assert_eq!(u.user(), Some("a@b:c d"));
    assert_eq!(u.domain(), Some("DOM;1"));
}

#[test]
fn ipv6() {
    let u = url("smb://[::1]:445/share");
    assert_eq!(
        (u.host(), u.port(), u.share()),
        ("::1", Some(445), Some("share"))
    );
    assert_eq!(u.to_string(), "smb://[::1]:445/share");
    let u = url("smb://bob@[2001:db8::7]/share/x");
    assert_eq!(
        (u.host(), u.port(), u.user()),
        ("2001:db8::7", None, Some("bob"))
    );
    assert_eq!(u.host_port(), ("2001:db8::7", 445));
    assert_eq!(u.to_string(), "smb://bob@[2001:db8::7]/share/x");
    let u = url("smb://[::ffff:192.0.2.1]");
    assert_eq!((u.host(), u.share()), ("::ffff:192.0.2.1", None));
}

#[test]
fn ports_and_framing() {
    let u = url("smb://h/s");
    assert_eq!(
        (u.port(), u.port_or_default(), u.host_port()),
        (None, 445, ("h", 445))
    );
    assert!(u.direct_tcp());
    let u = url("smb://h:139/s");
    assert_eq!(u.host_port(), ("h", 139));
    assert!(!u.direct_tcp());
    let u = url("smb://h:445/s");
    assert!(u.direct_tcp());
    assert_eq!(url("smb://h:65535").port(), Some(65535));
    assert_eq!(url("smb://h:1").port(), Some(1));
    assert_eq!(SmbUrl::DEFAULT_PORT, 445);
    assert_eq!(SmbUrl::NETBIOS_PORT, 139);
}

#[test]
fn empty_path_share_root_and_trailing_slash() {
    let cases = [
        ("smb://h/s", Some("s"), "", false),
        ("smb://h/s/", Some("s"), "", true),
        ("smb://h/s//", Some("s"), "", true),
        ("smb://h/s/.", Some("s"), "", false),
        ("smb://h/s/./", Some("s"), "", true),
        ("smb://h/s/d", Some("s"), "d", false),
        ("smb://h/s/d/", Some("s"), "d", true),
        ("smb://h/s//d//e//", Some("s"), "d/e", true),
        ("smb://h/s/d/./e/.", Some("s"), "d/e", false),
        ("smb://h/s/../x", Some("s"), "../x", false),
        ("smb://h/s/d%2F", Some("s"), "d", true),
    ];
    for (s, share, path, trailing) in cases {
        let u = url(s);
        assert_eq!(
            (u.share(), u.path(), u.has_trailing_slash()),
            (share, path, trailing),
            "{s}"
        );
        round_trip(s);
    }
    assert_eq!(url("smb://h/s/").to_string(), "smb://h/s/");
    assert_eq!(url("smb://h/s//d//e//").to_string(), "smb://h/s/d/e/");
}

#[test]
fn conversions() {
    let a: SmbUrl = "smb://h/s".parse().unwrap();
    let b = SmbUrl::try_from("smb://h/s").unwrap();
    let c = SmbUrl::parse("smb://h/s").unwrap();
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(
        SmbUrl::try_from("ftp://h/s").unwrap_err(),
        UrlError::NotSmb("ftp://h/s".into())
    );
    // Into smbkit::Error, for `?`.
    let e: Error = err("smb://h:x/s").into();
    assert!(
        matches!(&e, Error::InvalidArgument(smbkit::InvalidArgument::Url(UrlError::BadPort(p))) if p == "x"),
        "{e:?}"
    );
    assert!(e.to_string().contains("'x' is not a port number"), "{e}");
}

#[test]
fn every_error() {
    let cases: &[(&str, UrlError, &str)] = &[
        (
            "fileserver/share",
            UrlError::NotSmb("fileserver/share".into()),
            "'fileserver/share' is neither an smb:// URL nor a UNC path",
        ),
        ("smb:/h/s", UrlError::NotSmb("smb:/h/s".into()), "smb:/h/s"),
        ("", UrlError::NotSmb(String::new()), "''"),
        ("smb://", UrlError::NoHost, "names no host"),
        ("smb:///share", UrlError::NoHost, "names no host"),
        ("smb://u@:445/s", UrlError::NoHost, "names no host"),
        (r"\\", UrlError::NoHost, "names no host"),
        (r"\\\share", UrlError::NoHost, "names no host"),
        ("//", UrlError::NoHost, "names no host"),
        (
            "smb://my host/s",
            UrlError::BadHost("my host".into()),
            "'my host' is not a host name or address",
        ),
        (
            r"smb://host\share",
            UrlError::BadHost(r"host\share".into()),
            r"'host\share'",
        ),
        (
            "smb://h%20x/s",
            UrlError::BadHost("h%20x".into()),
            "'h%20x'",
        ),
        (
            "//host:445/share",
            UrlError::BadHost("host:445".into()),
            "'host:445' is not a host name",
        ),
        (
            r"\\u@host\share",
            UrlError::BadHost("u@host".into()),
            "'u@host'",
        ),
        (
            "smb://::1/share",
            UrlError::UnbracketedIpv6("::1".into()),
            "'::1' looks like an IPv6 address; in a URL it goes in brackets",
        ),
        (
            "smb://u@fe80::1:445/s",
            UrlError::UnbracketedIpv6("fe80::1:445".into()),
            "'fe80::1:445'",
        ),
        (
            "smb://[::1/share",
            UrlError::UnterminatedIpv6,
            "missing its closing ']'",
        ),
        (
            "smb://[host]/s",
            UrlError::BadIpv6("host".into()),
            "'[host]' is not an IPv6 address",
        ),
        ("smb://[]/s", UrlError::BadIpv6(String::new()), "'[]'"),
        (
            "//[1.2.3.4]/s",
            UrlError::BadIpv6("1.2.3.4".into()),
            "'[1.2.3.4]'",
        ),
        (
            "smb://[::1]445/s",
            UrlError::JunkAfterIpv6("445".into()),
            "'445' after the IPv6 address is not ':port'",
        ),
        (
            "smb://[::1]:x/s",
            UrlError::BadPort("x".into()),
            "'x' is not a port number (1 to 65535)",
        ),
        (
            "smb://u@h:notaport/share",
            UrlError::BadPort("notaport".into()),
            "'notaport'",
        ),
        (
            "smb://h:/s",
            UrlError::BadPort(String::new()),
            "'' is not a port",
        ),
        ("smb://h:0/s", UrlError::BadPort("0".into()), "'0'"),
        (
            "smb://h:65536/s",
            UrlError::BadPort("65536".into()),
            "'65536'",
        ),
        ("smb://h:+445/s", UrlError::BadPort("+445".into()), "'+445'"),
        (
            "smb://h/s/100%",
            UrlError::BadEscape {
                part: UrlPart::Path,
            },
            "the path holds a '%' that is not followed by two hex digits",
        ),
        (
            "smb://h/s/%4",
            UrlError::BadEscape {
                part: UrlPart::Path,
            },
            "path",
        ),
        (
            "smb://h/50%off",
            UrlError::BadEscape {
                part: UrlPart::Share,
            },
            "the share name holds",
        ),
        (
            "smb://a%zz@h/s",
            UrlError::BadEscape {
                part: UrlPart::User,
            },
            "the user name holds",
        ),
        (
            "smb://D%;a@h/s",
            UrlError::BadEscape {
                part: UrlPart::Domain,
            },
            "the domain holds",
        ),
        (
            "smb://a:se%cret@h/s",
            UrlError::BadEscape {
                part: UrlPart::Password,
            },
            "the password holds",
        ),
        (
            "smb://h/s/%FF",
            UrlError::NotUtf8 {
                part: UrlPart::Path,
            },
            "the percent-escapes in the path do not decode to UTF-8",
        ),
        (
            "smb://h/%C3",
            UrlError::NotUtf8 {
                part: UrlPart::Share,
            },
            "in the share name",
        ),
        (
            "smb://%80@h",
            UrlError::NotUtf8 {
                part: UrlPart::User,
            },
            "in the user name",
        ),
        (
            "smb://%C0%AF;u@h",
            UrlError::NotUtf8 {
                part: UrlPart::Domain,
            },
            "in the domain",
        ),
        (
            "smb://u:%FEsecret@h",
            UrlError::NotUtf8 {
                part: UrlPart::Password,
            },
            "in the password",
        ),
        (
            "smb://h//path",
            UrlError::EmptyShare,
            "names a path but no share",
        ),
        ("smb://h//", UrlError::EmptyShare, "no share"),
        (r"\\h\\path", UrlError::EmptyShare, "no share"),
    ];
    for (s, want, text) in cases {
        let e = err(s);
        assert_eq!(&e, want, "{s}");
        assert!(e.to_string().contains(text), "{s}: {e}");
    }
}

#[test]
fn passwords_never_show() {
    let secret = "Sup3rS3cret";
    let u = url(&format!("smb://DOM;alice:{secret}@h/s/f"));
    assert_eq!(u.password(), Some(secret));
    let debug = format!("{u:?}");
    assert!(!debug.contains(secret), "{debug}");
    assert!(debug.contains("password: Some(\"***\")"), "{debug}");
    assert!(!format!("{u:#?}").contains(secret));
    let shown = u.to_string();
    assert!(!shown.contains(secret), "{shown}");
    assert_eq!(shown, "smb://DOM;alice@h/s/f");
    assert!(!format!("{}", u.clone().with_password(Some(secret))).contains(secret));
    // No password: Debug says so.
    assert!(format!("{:?}", url("smb://h")).contains("password: None"));

    // Errors found anywhere in a URL with a password never repeat it.
    for s in [
        format!("smb://alice:{secret}@h:x/s"),
        format!("smb://alice:{secret}@/s"),
        format!("smb://alice:{secret}@[::1/s"),
        format!("smb://alice:{secret}@[nope]/s"),
        format!("smb://alice:{secret}@[::1]x/s"),
        format!("smb://alice:{secret}@::1/s"),
        format!("smb://alice:{secret}@my host/s"),
        format!("smb://alice:{secret}%@h/s"),
        format!("smb://alice:{secret}%FF@h/s"),
        format!("smb://alice:{secret}@h//x"),
        format!("smb://alice:{secret}@h/s/%"),
        format!("http://alice:{secret}@h/s"),
        format!("smbs://alice:{secret}@h/s"),
        format!("alice:{secret}@h/s"),
        // A `/` in the password ends the authority early: what may be the
        // password is not repeated either.
        format!("smb://alice:{secret}/more@h/s"),
        format!("smb://DOM;alice:{secret}:x/more@h/s"),
        format!("smb://alice:[{secret}/more@h/s"),
    ] {
        let e = err(&s);
        assert!(!e.to_string().contains(secret), "{s}: {e}");
        assert!(!format!("{e:?}").contains(secret), "{s}: {e:?}");
    }
    assert_eq!(
        err(&format!("http://alice:{secret}@h/s")),
        UrlError::NotSmb("http://…@h/s".into())
    );
    assert_eq!(
        err(&format!("alice:{secret}@h/s")),
        UrlError::NotSmb("…@h/s".into())
    );
}

#[test]
fn remote_names() {
    let cases = [
        ("smb://fileserver.example.com/s", "FILESERVER"),
        ("smb://nas/s", "NAS"),
        ("smb://my-nas_2/s", "MY-NAS_2"),
        ("smb://192.0.2.10/s", "SERVER"),
        ("smb://[::1]/s", "SERVER"),
        ("smb://averyveryverylonghostname.example/s", "SERVER"),
        ("smb://café/s", "SERVER"),
        ("//café/s", "SERVER"),
        (r"\\fileserver\s", "FILESERVER"),
    ];
    for (s, name) in cases {
        assert_eq!(url(s).remote_name(), name, "{s}");
    }
}

#[test]
fn factory_from_url() {
    let u = url("smb://DOM;alice:pw@fileserver.example:139/docs");
    let f = SmbProtocolFactory::from_url(&u, "MYPC").unwrap();
    let debug = format!("{f:?}");
    assert!(debug.contains("username: \"alice\""), "{debug}");
    assert!(debug.contains("domain: \"DOM\""), "{debug}");
    assert!(debug.contains("remote_name: \"FILESERVER\""), "{debug}");
    assert!(debug.contains("my_name: \"MYPC\""), "{debug}");
    assert!(debug.contains("direct_tcp: false"), "{debug}");
    assert!(!debug.contains("pw\""), "{debug}");
    assert_eq!(u.host_port(), ("fileserver.example", 139));

    let u = url("smb://192.0.2.10/docs");
    let f = SmbProtocolFactory::from_url(&u, "mypc").unwrap();
    let debug = format!("{f:?}");
    assert!(debug.contains("username: \"\""), "{debug}");
    assert!(debug.contains("domain: \"\""), "{debug}");
    assert!(debug.contains("remote_name: \"SERVER\""), "{debug}");
    assert!(debug.contains("my_name: \"MYPC\""), "{debug}");
    assert!(debug.contains("direct_tcp: true"), "{debug}");
    assert_eq!(u.host_port(), ("192.0.2.10", 445));

    let e = SmbProtocolFactory::from_url(&u, "MY PC").unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}
