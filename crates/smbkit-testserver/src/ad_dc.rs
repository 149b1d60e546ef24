//! A throwaway Samba Active Directory domain controller on loopback, for Kerberos tests.
//!
//! [`AdDc::start`] runs Samba's AD DC daemon (`samba`) for the realm [`REALM`] (NetBIOS domain
//! [`DOMAIN`]) in a fresh temporary directory: its KDC and its file server (`smbd`, serving the
//! share `share`) listen on `127.0.0.1` only, each on a free port of its own, and nothing in
//! `/etc/samba`, `/var/lib/samba`, `/run/samba` or `/var/log/samba` is read or written. The domain holds the user
//! [`USER`] with [`PASSWORD`] (principal `smbkituser@SMBKIT.TEST`).
//!
//! ```no_run
//! use smbkit_testserver::AdDc;
//!
//! let dc = AdDc::start().expect("samba AD DC (run scripts/install-deps)");
//! let ccache = dc.dir().join("user.ccache");
//! dc.kinit(&ccache).unwrap(); // a TGT for smbkituser@SMBKIT.TEST
//! println!(
//!     "smb://{}:{}/{} as cifs/{}, KDC {}, KRB5_CONFIG={}",
//!     dc.host(),
//!     dc.port(),
//!     dc.share(),
//!     dc.dc_hostname(),
//!     dc.kdc_address(),
//!     dc.krb5_conf_path().display()
//! );
//! ```
//!
//! # Names, ports and addresses
//!
//! * Everything listens on [`HOST`] (`127.0.0.1`), with `bind interfaces only`.
//! * Samba lets the KDC port (`krb5 port`), the kpasswd port (`kpasswd port`) and the SMB port
//!   (`smb ports`) be set, so each DC takes three free ports (claimed with the same lock files as
//!   [`TestServer`](crate::TestServer)'s), and any number of DCs and test servers run side by
//!   side. The KDC answers on TCP and UDP. The services whose ports Samba fixes (LDAP 389/636,
//!   the global catalog 3268/3269, CLDAP, the RPC endpoint mapper 135, NetBIOS, DNS) are not
//!   started: `server services = s3fs, kdc, winbindd`. smbd's own RPC pipes (srvsvc for share
//!   listing, netdfs, winreg, ...) work, through the `samba-dcerpcd` that smbd starts on demand.
//! * The DC's name is [`DC_HOSTNAME`] (`smbkitdc.smbkit.test`, NetBIOS name [`DC_NETBIOS_NAME`]).
//!   It is resolved nowhere (no hosts file, no DNS): a client connects to `127.0.0.1` and names
//!   its target `cifs/smbkitdc.smbkit.test` ([`SERVICE_PRINCIPAL`]), which the DC's machine
//!   account holds (`host/...`, which AD maps to `cifs/...`). The generated `krb5.conf` turns off
//!   DNS canonicalization and reverse lookups, so GSSAPI takes the name as it is. The machine
//!   account also has the SPN `cifs/127.0.0.1` ([`IP_SERVICE_PRINCIPAL`]), for clients that use
//!   the IP literal as the target name.
//!
//! # Speed
//!
//! Provisioning a domain (`samba-tool domain provision`) is slow (about 10 s on two cores). It
//! happens once per machine and Samba version: the provisioned databases (with the user, the
//! password policy and the SPN already in place) are kept as a template folder in the temporary
//! directory (`smbkit-ad-dc-template-v<N>-<samba version>`, or under `SMBKIT_AD_DC_CACHE`), built
//! by one process at a time and published by an atomic rename. Each [`AdDc::start`] copies the
//! template (about 35 MB) and starts `samba`: about a second until the KDC, smbd and winbindd
//! answer.
//!
//! # Requirements
//!
//! Root and Debian's `samba`, `samba-ad-dc`, `samba-ad-provision`, `samba-dsdb-modules`, `winbind`
//! and `krb5-user` packages (`scripts/install-deps` installs them), and the right to make a
//! private mount namespace (`unshare --mount`, as root has outside unprivileged containers):
//! Samba's smbd finds winbindd only at a path compiled in (`/run/samba/winbindd` on Debian), so
//! each DC runs in a mount namespace of its own where that folder is the DC's own `run` folder,
//! and `/var/log/samba` its own `syslog` folder. Nothing is mounted outside the namespace, which
//! vanishes with the DC's processes.
//!
//! # Stopping
//!
//! Dropping the [`AdDc`] stops `samba` (it exits when its standard input, a pipe the [`AdDc`]
//! holds, closes, and takes its process group along), the `smbd` and `winbindd` it started (they
//! exit when their standard input from `samba` closes) and the `samba-dcerpcd` helpers, and
//! removes the directory. When the owning process dies without dropping it, the same happens: the
//! pipe closes anyway, and a watchdog shell waiting on a pipe of its own stops what is left and
//! removes the directory.
//!
//! Environment: `SMBKIT_TEST_LOG_LEVEL` sets the DC's `log level` (default 1; its logs are in
//! [`AdDc::dir`], see [`AdDc::log_tail`]); `SMBKIT_AD_DC_CACHE` names the folder for the template.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{find_program, make_temp_dir, procs, release_port, reserve_port, HOST, PASSWORD, USER};

/// The Kerberos realm of every test DC.
pub const REALM: &str = "SMBKIT.TEST";
/// The NetBIOS (pre-Windows 2000) domain name.
pub const DOMAIN: &str = "SMBKIT";
/// The DNS domain name.
pub const DNS_DOMAIN: &str = "smbkit.test";
/// The DC's NetBIOS name; its machine account is `SMBKITDC$`.
pub const DC_NETBIOS_NAME: &str = "SMBKITDC";
/// The DC's DNS host name (resolved nowhere; see the module docs).
pub const DC_HOSTNAME: &str = "smbkitdc.smbkit.test";
/// The service principal of the DC's file server.
pub const SERVICE_PRINCIPAL: &str = "cifs/smbkitdc.smbkit.test";
/// A second name of the DC's file server, for clients that use the IP literal as the target.
pub const IP_SERVICE_PRINCIPAL: &str = "cifs/127.0.0.1";
/// The password of the domain's `Administrator`.
pub const ADMIN_PASSWORD: &str = "Sm8kit-Adm1n-Pa55";

/// Bump when what the template holds changes, so that old templates are not used.
const TEMPLATE_VERSION: u32 = 1;
/// How long [`AdDc::start`] waits for the KDC, smbd and winbindd.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a process waits for another one that builds the template.
const TEMPLATE_WAIT: Duration = Duration::from_secs(300);
/// How many sets of ports [`AdDc::start`] tries.
const PORT_ATTEMPTS: usize = 5;
/// What to tell someone whose machine lacks what the DC needs.
const INSTALL_HINT: &str = "run scripts/install-deps (it installs Debian's samba-ad-dc, samba-ad-provision, samba-dsdb-modules, winbind and krb5-user packages)";

/// What [`AdDc::start_with`] configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdDcOptions {
    /// Whether the DC accepts NTLM (NTLMv2) logons besides Kerberos. `false` sets
    /// `ntlm auth = disabled`: NTLM session setups then fail with `NT_STATUS_NTLM_BLOCKED`.
    pub ntlm: bool,
    /// Lines for `[global]` (`name = value`, one a line), after the standard ones.
    pub global: String,
    /// Whole sections (`[name]` and its lines) after the `share` share; `{dir}` stands for the
    /// DC's directory, as in [`ExtraConfig`](crate::ExtraConfig).
    pub sections: String,
}

impl Default for AdDcOptions {
    fn default() -> Self {
        AdDcOptions {
            ntlm: true,
            global: String::new(),
            sections: String::new(),
        }
    }
}

impl AdDcOptions {
    /// A DC that refuses NTLM: Kerberos only.
    pub fn kerberos_only() -> Self {
        AdDcOptions {
            ntlm: false,
            ..Self::default()
        }
    }
}

/// A private Samba AD DC on `127.0.0.1`: KDC, kpasswd and smbd on free ports, the share `share`.
///
/// Dropping it stops every process it started and removes its directory.
pub struct AdDc {
    options: AdDcOptions,
    dir: PathBuf,
    config: PathBuf,
    krb5_conf: PathBuf,
    client_config: PathBuf,
    share_path: PathBuf,
    smb_port: u16,
    kdc_port: u16,
    kpasswd_port: u16,
    port_locks: Vec<PathBuf>,
    samba: Option<Child>,
    /// `samba -i` exits when this pipe closes.
    samba_stdin: Option<ChildStdin>,
    /// Cleans up after us if we die without dropping; see the module docs.
    watchdog: Option<Child>,
    /// The user's keytab, once exported.
    keytab: Mutex<Option<PathBuf>>,
}

impl fmt::Debug for AdDc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdDc")
            .field("realm", &REALM)
            .field("smb_port", &self.smb_port)
            .field("kdc_port", &self.kdc_port)
            .field("dir", &self.dir)
            .field("samba_pid", &self.samba_pid())
            .finish_non_exhaustive()
    }
}

/// Why one attempt at starting `samba` failed.
enum Attempt {
    /// Other ports may work.
    PortTaken(String),
    /// Give up.
    Fatal(io::Error),
}

impl AdDc {
    /// Starts a DC with the default [`AdDcOptions`] (NTLM accepted too). The first start on a
    /// machine provisions the domain template (about 10 s); later ones take about a second.
    pub fn start() -> io::Result<AdDc> {
        Self::start_with(AdDcOptions::default())
    }

    /// [`start`](Self::start) with `options`.
    pub fn start_with(options: AdDcOptions) -> io::Result<AdDc> {
        let tools = tools()?;
        match procs::effective_uid() {
            Some(0) | None => {}
            Some(uid) => {
                let msg = format!("a Samba AD DC needs root, but this runs as uid {uid}");
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, msg));
            }
        }
        let template = template(tools)?;

        let dir = make_temp_dir()?;
        let mut dc = AdDc {
            options,
            config: dir.join("smb.conf"),
            krb5_conf: dir.join("krb5.conf"),
            client_config: dir.join("client.conf"),
            share_path: dir.join("share"),
            dir,
            smb_port: 0,
            kdc_port: 0,
            kpasswd_port: 0,
            port_locks: Vec::new(),
            samba: None,
            samba_stdin: None,
            watchdog: None,
            keytab: Mutex::new(None),
        };
        // From here on, an early return drops `dc`, which cleans up.
        dc.watchdog = spawn_watchdog(&dc.dir).ok();
        dc.populate(&template)?;

        let mut last_reason = String::new();
        for _ in 0..PORT_ATTEMPTS {
            dc.reserve_ports()?;
            fs::write(&dc.config, dc.config_text())?;
            fs::write(&dc.krb5_conf, dc.krb5_conf_text())?;
            match dc.launch(tools) {
                Ok(()) => return Ok(dc),
                Err(Attempt::PortTaken(reason)) => {
                    dc.stop_processes();
                    dc.release_ports();
                    last_reason = reason;
                }
                Err(Attempt::Fatal(e)) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "samba could not get free ports in {PORT_ATTEMPTS} attempts; last: {last_reason}"
            ),
        ))
    }

    /// The address every service listens on: `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port smbd listens on.
    pub fn port(&self) -> u16 {
        self.smb_port
    }

    /// The port of the KDC (TCP and UDP).
    pub fn kdc_port(&self) -> u16 {
        self.kdc_port
    }

    /// The KDC's address, `127.0.0.1:<kdc port>`.
    pub fn kdc_address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.kdc_port))
    }

    /// The port of the kpasswd service (TCP and UDP).
    pub fn kpasswd_port(&self) -> u16 {
        self.kpasswd_port
    }

    /// The Kerberos realm: [`REALM`].
    pub fn realm(&self) -> &str {
        REALM
    }

    /// The NetBIOS domain name: [`DOMAIN`].
    pub fn domain(&self) -> &str {
        DOMAIN
    }

    /// The DC's DNS host name, [`DC_HOSTNAME`]: the host part of the file server's SPN.
    pub fn dc_hostname(&self) -> &str {
        DC_HOSTNAME
    }

    /// The file server's service principal, [`SERVICE_PRINCIPAL`] (`cifs/smbkitdc.smbkit.test`).
    pub fn service_principal(&self) -> &str {
        SERVICE_PRINCIPAL
    }

    /// The user name to log in with: [`USER`].
    pub fn user(&self) -> &str {
        USER
    }

    /// The user's password: [`PASSWORD`].
    pub fn password(&self) -> &str {
        PASSWORD
    }

    /// The user's principal name: `smbkituser@SMBKIT.TEST`.
    pub fn user_principal(&self) -> String {
        format!("{USER}@{REALM}")
    }

    /// Whether the DC accepts NTLM logons (see [`AdDcOptions::ntlm`]).
    pub fn ntlm_enabled(&self) -> bool {
        self.options.ntlm
    }

    /// The name of the read-write share: `"share"`.
    pub fn share(&self) -> &str {
        "share"
    }

    /// The local folder behind the `share` share (mode 0777: the domain user, mapped to a uid of
    /// Samba's choosing, may create files there; files the test process makes are readable).
    pub fn share_path(&self) -> &Path {
        &self.share_path
    }

    /// The DC's temporary directory (configuration, databases, logs, the share).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The DC's `smb.conf`.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// A `krb5.conf` for clients of this DC (MIT and Heimdal): the realm's KDC and kpasswd
    /// server at their ports, no DNS lookups or canonicalization, and default credential cache
    /// and keytabs inside [`dir`](Self::dir). Point `KRB5_CONFIG` at it.
    pub fn krb5_conf_path(&self) -> &Path {
        &self.krb5_conf
    }

    /// A client `smb.conf` for Samba's own tools (`smbclient -s`), with the realm and workgroup
    /// set and their caches inside [`dir`](Self::dir).
    pub fn client_config_path(&self) -> &Path {
        &self.client_config
    }

    /// The pid of the `samba` process, while it runs.
    pub fn samba_pid(&self) -> Option<u32> {
        self.samba.as_ref().map(Child::id)
    }

    /// A command for `program` with `KRB5_CONFIG` set to [`krb5_conf_path`](Self::krb5_conf_path)
    /// and no `KRB5CCNAME`, `KRB5_KTNAME` or `KRB5_CLIENT_KTNAME` of the caller's: the defaults
    /// of that file apply (a credential cache in [`dir`](Self::dir)) unless the caller sets them.
    pub fn krb5_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("KRB5_CONFIG", &self.krb5_conf)
            .env_remove("KRB5CCNAME")
            .env_remove("KRB5_KTNAME")
            .env_remove("KRB5_CLIENT_KTNAME")
            .stdin(Stdio::null());
        cmd
    }

    /// Gets a TGT for [`user_principal`](Self::user_principal) into the credential cache file
    /// `ccache` (MIT `kinit`, password on standard input).
    pub fn kinit(&self, ccache: &Path) -> io::Result<()> {
        self.kinit_as(&self.user_principal(), PASSWORD, ccache)
    }

    /// Gets a TGT for `principal` with `password` into the credential cache file `ccache`.
    pub fn kinit_as(&self, principal: &str, password: &str, ccache: &Path) -> io::Result<()> {
        let kinit = tools()?.kinit.clone();
        let mut cmd = self.krb5_command(kinit);
        cmd.env("KRB5CCNAME", ccache_name(ccache)).arg(principal);
        run_with_input(cmd, &format!("{password}\n"), "kinit")
    }

    /// Gets a TGT for `principal` with its key from `keytab` (`kinit -k -t`) into `ccache`.
    pub fn kinit_with_keytab(
        &self,
        principal: &str,
        keytab: &Path,
        ccache: &Path,
    ) -> io::Result<()> {
        let kinit = tools()?.kinit.clone();
        let mut cmd = self.krb5_command(kinit);
        cmd.env("KRB5CCNAME", ccache_name(ccache))
            .arg("-k")
            .arg("-t")
            .arg(keytab)
            .arg(principal);
        run_with_input(cmd, "", "kinit -k")
    }

    /// A keytab holding the keys of [`user_principal`](Self::user_principal) (exported once,
    /// with `samba-tool domain exportkeytab`, to `smbkituser.keytab` in [`dir`](Self::dir)).
    pub fn user_keytab(&self) -> io::Result<PathBuf> {
        let mut cached = self.keytab.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = cached.as_ref() {
            return Ok(path.clone());
        }
        let path = self.dir.join(format!("{USER}.keytab"));
        self.export_keytab(&self.user_principal(), &path)?;
        *cached = Some(path.clone());
        Ok(path)
    }

    /// Exports the keys of `principal` (a user such as `name@SMBKIT.TEST`, or an account such as
    /// `SMBKITDC$`) into the keytab file `path`, adding to what it holds.
    pub fn export_keytab(&self, principal: &str, path: &Path) -> io::Result<()> {
        let mut args = vec![
            "domain".into(),
            "exportkeytab".into(),
            path.as_os_str().to_owned(),
        ];
        args.push(format!("--principal={principal}").into());
        self.samba_tool(&args)
    }

    /// Adds the domain user `name` with `password` (no complexity rules, never expires).
    pub fn add_user(&self, name: &str, password: &str) -> io::Result<()> {
        self.samba_tool(&["user".into(), "add".into(), name.into(), password.into()])
    }

    /// Adds the service principal name `spn` to the account `account` (e.g. `SMBKITDC$`).
    pub fn add_spn(&self, spn: &str, account: &str) -> io::Result<()> {
        self.samba_tool(&["spn".into(), "add".into(), spn.into(), account.into()])
    }

    /// An `smbclient` command for `//smbkitdc.smbkit.test/<share>` on this DC, connecting to
    /// `127.0.0.1` (`-I`) at [`port`](Self::port), with the [client
    /// configuration](Self::client_config_path) and `KRB5_CONFIG` set. Add the credentials, e.g.
    /// `.env("KRB5CCNAME", "FILE:<ccache>")` with `--use-kerberos=required -N` (Samba 4.17's
    /// `--use-krb5-ccache` does not find the tickets), or `-U user%password`, and `-c ls`.
    pub fn smbclient(&self, share: &str) -> Command {
        let program = find_program("smbclient").unwrap_or_else(|| "smbclient".into());
        let mut cmd = self.krb5_command(program);
        cmd.arg("-s")
            .arg(&self.client_config)
            .arg(format!("//{DC_HOSTNAME}/{share}"))
            .arg("-I")
            .arg(HOST)
            .arg("-p")
            .arg(self.smb_port.to_string());
        cmd
    }

    /// The last `n` lines of each of the DC's logs (`samba.out`, `log.smbd`, `log.winbindd`, one
    /// `log.<client>` per client, ...), oldest file first, each after a `==> name <==` line.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.dir, n)
    }

    /// Runs `samba-tool ARGS -s <smb.conf>`.
    fn samba_tool(&self, args: &[std::ffi::OsString]) -> io::Result<()> {
        let tools = tools()?;
        let mut cmd = self.krb5_command(&tools.samba_tool);
        cmd.args(args).arg("-s").arg(&self.config);
        run_with_input(cmd, "", "samba-tool")
    }

    /// Copies the template and makes the folders and files that do not depend on the ports.
    fn populate(&self, template: &Path) -> io::Result<()> {
        let out = Command::new("cp")
            .arg("-a")
            .arg(template.join("private"))
            .arg(template.join("state"))
            .arg(template.join("bind-dns"))
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "copying the AD DC template {} failed: {}",
                template.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        for sub in [
            "lock",
            "cache",
            "pid",
            "ncalrpc",
            "run",
            "run/winbindd",
            "run-top",
            "syslog",
            "client",
            "share",
        ] {
            fs::create_dir(self.dir.join(sub))?;
        }
        fs::set_permissions(&self.share_path, fs::Permissions::from_mode(0o777))?;
        fs::write(&self.client_config, self.client_config_text())
    }

    /// Claims three free ports (the KDC's and kpasswd's also free for UDP).
    fn reserve_ports(&mut self) -> io::Result<()> {
        self.smb_port = self.reserve_one(false)?;
        self.kdc_port = self.reserve_one(true)?;
        self.kpasswd_port = self.reserve_one(true)?;
        let list: String = self
            .port_locks
            .iter()
            .map(|p| format!("{}\n", p.display()))
            .collect();
        fs::write(self.dir.join("port.locks"), list)
    }

    fn reserve_one(&mut self, udp_too: bool) -> io::Result<u16> {
        for _ in 0..50 {
            let (port, lock) = reserve_port()?;
            if !udp_too || UdpSocket::bind((HOST, port)).is_ok() {
                self.port_locks.push(lock);
                return Ok(port);
            }
            release_port(Some(lock));
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no port free for both TCP and UDP",
        ))
    }

    fn release_ports(&mut self) {
        for lock in self.port_locks.drain(..) {
            release_port(Some(lock));
        }
    }

    fn config_text(&self) -> String {
        let d = self.dir.display();
        let log_level = std::env::var("SMBKIT_TEST_LOG_LEVEL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "1".into());
        let ntlm = if self.options.ntlm {
            "ntlmv2-only"
        } else {
            "disabled"
        };
        format!(
            "# smbkit-testserver: Samba AD DC for {REALM}
[global]
\tnetbios name = {DC_NETBIOS_NAME}
\trealm = {REALM}
\tworkgroup = {DOMAIN}
\tserver role = active directory domain controller
\tserver services = s3fs, kdc, winbindd
\tinterfaces = {HOST}
\tbind interfaces only = yes
\tsmb ports = {smb}
\tkrb5 port = {kdc}
\tkpasswd port = {kpasswd}
\tdisable netbios = yes
\tmulticast dns register = no
\tntlm auth = {ntlm}
\tprivate dir = {d}/private
\tstate directory = {d}/state
\tbinddns dir = {d}/bind-dns
\tlock directory = {d}/lock
\tcache directory = {d}/cache
\tpid directory = {d}/pid
\tncalrpc dir = {d}/ncalrpc
\twinbindd socket directory = {d}/run/winbindd
\tlog file = {d}/log.%m
\tlog level = {log_level}
\tmax log size = 0
\tload printers = no
\tprinting = bsd
\tprintcap name = /dev/null
\tdisable spoolss = yes
{extra_global}
[share]
\tpath = {share}
\tread only = no
{extra_sections}",
            smb = self.smb_port,
            kdc = self.kdc_port,
            kpasswd = self.kpasswd_port,
            share = self.share_path.display(),
            extra_global =
                crate::global_block(&crate::ExtraConfig::expand(&self.options.global, &self.dir)),
            extra_sections = crate::ExtraConfig::expand(&self.options.sections, &self.dir),
        )
    }

    fn krb5_conf_text(&self) -> String {
        let d = self.dir.display();
        format!(
            "# smbkit-testserver: Kerberos clients of the test DC for {REALM}
[libdefaults]
\tdefault_realm = {REALM}
\tdns_lookup_realm = false
\tdns_lookup_kdc = false
\tdns_canonicalize_hostname = false
\trdns = false
\tdefault_ccache_name = FILE:{d}/krb5cc_default
\tdefault_cc_name = FILE:{d}/krb5cc_default
\tdefault_keytab_name = FILE:{d}/krb5.keytab
\tdefault_client_keytab_name = FILE:{d}/client.keytab

[realms]
\t{REALM} = {{
\t\tkdc = {HOST}:{kdc}
\t\tkpasswd_server = {HOST}:{kpasswd}
\t\tdefault_domain = {DNS_DOMAIN}
\t}}

[domain_realm]
\t.{DNS_DOMAIN} = {REALM}
\t{DNS_DOMAIN} = {REALM}
\t{HOST} = {REALM}
",
            kdc = self.kdc_port,
            kpasswd = self.kpasswd_port,
        )
    }

    fn client_config_text(&self) -> String {
        let c = self.dir.join("client");
        let c = c.display();
        format!(
            "# smbkit-testserver: for Samba's client tools (smbclient -s) against the test DC
[global]
\tworkgroup = {DOMAIN}
\trealm = {REALM}
\tclient min protocol = SMB2_02
\tprivate dir = {c}
\tlock directory = {c}
\tstate directory = {c}
\tcache directory = {c}
\tncalrpc dir = {c}
\tlog file = {c}/log.%m
"
        )
    }

    /// Starts `samba` in its own mount namespace and waits until the KDC answers, smbd listens
    /// and winbindd's socket is there.
    fn launch(&mut self, tools: &Tools) -> Result<(), Attempt> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("samba.out"))
            .map_err(Attempt::Fatal)?;
        let err = out.try_clone().map_err(Attempt::Fatal)?;
        // unshare and sh exec each other and then samba, so the child is samba itself. Its own
        // process group: samba signals its whole group when it stops.
        let mut child = Command::new(&tools.unshare)
            .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(NAMESPACE_SCRIPT)
            .arg("smbkit-ad-dc")
            .arg(&self.dir)
            .arg(&tools.winbindd_socket_dir)
            .arg(tools.log_base.as_deref().unwrap_or(Path::new("")))
            .arg(&tools.samba)
            .args(["-i", "-M", "single", "-s"])
            .arg(&self.config)
            .env("KRB5_CONFIG", &self.krb5_conf)
            .env_remove("KRB5CCNAME")
            .process_group(0)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                Attempt::Fatal(io::Error::new(
                    e.kind(),
                    format!(
                        "cannot run {}: {e}; {INSTALL_HINT}",
                        tools.unshare.display()
                    ),
                ))
            })?;
        self.samba_stdin = child.stdin.take();
        let pid = child.id();
        self.samba = Some(child);
        let _ = fs::write(self.dir.join("samba.child-pid"), format!("{pid}\n"));

        let started = Instant::now();
        let mut kdc_ok = false;
        loop {
            let exited = match self.samba.as_mut().map(Child::try_wait) {
                Some(Ok(status)) => status,
                Some(Err(e)) => return Err(Attempt::Fatal(e)),
                None => return Err(Attempt::Fatal(io::Error::other("samba vanished"))),
            };
            if let Some(status) = exited {
                return Err(self.exited_early(status));
            }
            if !kdc_ok && listens(self.kdc_port, &[pid]) {
                kdc_ok = kdc_answers(self.kdc_port);
            }
            if kdc_ok
                && self.dir.join("run/winbindd/pipe").exists()
                && listens(self.smb_port, &self.pids_using_config())
            {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(Attempt::Fatal(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the AD DC did not get ready within {START_TIMEOUT:?} (KDC answers: {kdc_ok}, winbindd socket: {}, smbd on {HOST}:{}: {})\n{}",
                        self.dir.join("run/winbindd/pipe").exists(),
                        self.smb_port,
                        listens(self.smb_port, &self.pids_using_config()),
                        self.log_tail(30)
                    ),
                )));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Classifies a `samba` that exited while starting.
    fn exited_early(&mut self, status: ExitStatus) -> Attempt {
        self.samba = None;
        self.samba_stdin = None;
        let tail = self.log_tail(30);
        if tail.contains("Address already in use")
            || tail.contains("NT_STATUS_ADDRESS_ALREADY_ASSOCIATED")
        {
            Attempt::PortTaken(format!(
                "ports {}/{}/{} already in use",
                self.smb_port, self.kdc_port, self.kpasswd_port
            ))
        } else if tail.contains("mount:") || tail.contains("unshare:") {
            Attempt::Fatal(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the AD DC needs a private mount namespace (unshare --mount, CAP_SYS_ADMIN), which failed ({status}):\n{tail}"
                ),
            ))
        } else {
            Attempt::Fatal(io::Error::other(format!(
                "samba exited while starting ({status}); its logs:\n{tail}"
            )))
        }
    }

    /// Living processes started with this DC's `smb.conf` (smbd, winbindd, samba-dcerpcd, ...).
    fn pids_using_config(&self) -> Vec<u32> {
        procs::using_config(&self.config)
            .into_iter()
            .map(|p| p.pid)
            .collect()
    }

    /// Stops `samba` (EOF on its standard input, then signals) and whatever else runs with this
    /// DC's configuration.
    fn stop_processes(&mut self) {
        self.samba_stdin = None;
        if let Some(mut child) = self.samba.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(None) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Ok(None) => {
                        procs::signal_group(child.id(), "KILL");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    _ => break,
                }
            }
        }
        // smbd and winbindd exit by themselves once samba is gone (EOF on their standard input):
        // give them a moment. The samba-dcerpcd helpers smbd may have started do not: stop them.
        let (helpers, daemons): (Vec<_>, Vec<_>) = procs::using_config(&self.config)
            .into_iter()
            .partition(|p| p.comm.starts_with("samba-dcerpcd") || p.comm.starts_with("rpcd_"));
        let helpers: Vec<u32> = helpers.iter().map(|p| p.pid).collect();
        procs::signal(&helpers, "TERM");
        let daemons: Vec<u32> = daemons.iter().map(|p| p.pid).collect();
        let mut left = procs::wait_gone(&daemons, Duration::from_secs(2));
        left.extend(procs::wait_gone(&helpers, Duration::from_secs(2)));
        for round in 0..2 {
            left.extend(self.pids_using_config());
            left.sort_unstable();
            left.dedup();
            if left.is_empty() {
                break;
            }
            procs::signal(&left, "TERM");
            left = procs::wait_gone(&left, Duration::from_secs(2));
            procs::signal(&left, "KILL");
            left = procs::wait_gone(&left, Duration::from_secs(1));
            if round == 0 {
                // A samba-dcerpcd started just as smbd stopped is caught by a second sweep.
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for AdDc {
    /// Stops `samba`, its smbd, winbindd and samba-dcerpcd, and removes the directory.
    fn drop(&mut self) {
        self.stop_processes();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        for _ in 0..5 {
            match fs::remove_dir_all(&self.dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
        self.release_ports();
    }
}

/// Whether this machine has what [`AdDc::start`] needs: `samba`, `samba-tool`, `winbindd`, the
/// provisioning data, MIT `kinit` and `unshare`. (It checks neither root nor the right to make a
/// mount namespace.)
pub fn ad_dc_available() -> bool {
    tools().is_ok()
}

/// The shell that runs in the DC's mount namespace: it puts the DC's `run` folder where smbd
/// looks for winbindd's socket (on the parent of the compiled-in socket folder, or, when that
/// parent does not exist, a folder holding a link to it on the grandparent), the DC's `syslog`
/// folder over Samba's default log folder, and then becomes `samba`.
const NAMESPACE_SCRIPT: &str = r#"
set -e
dir=$1 wb=$2 logs=$3
shift 3
parent=${wb%/*}
if [ -d "$parent" ]; then
  mount --bind "$dir/run" "$parent"
else
  ln -s "$dir/run" "$dir/run-top/${parent##*/}"
  mount --bind "$dir/run-top" "${parent%/*}"
fi
if [ -n "$logs" ] && [ -d "$logs" ]; then
  mount --bind "$dir/syslog" "$logs"
fi
exec "$@"
"#;

/// Starts the watchdog: a shell in its own process group that waits for EOF on its standard
/// input (a pipe whose writing end only this process holds), then stops `samba` (its pid is in
/// `samba.child-pid`) and everything using `dir/smb.conf`, and removes `dir` and the port locks.
/// After a normal drop it is simply killed.
fn spawn_watchdog(dir: &Path) -> io::Result<Child> {
    const SCRIPT: &str = r#"
while read -r _; do :; done
dir=$1
pids=$(grep -l -a -F -e "$dir/smb.conf" /proc/[0-9]*/cmdline 2>/dev/null | sed -e 's#^/proc/##' -e 's#/cmdline$##' | grep -v -x -e "$$")
samba=$(cat "$dir/samba.child-pid" 2>/dev/null)
if [ -n "$samba" ] && grep -q -a -e samba "/proc/$samba/cmdline" 2>/dev/null; then
  pids="$pids $samba"
fi
if [ -n "$(echo $pids)" ]; then
  kill -TERM $pids 2>/dev/null
  sleep 1
  kill -KILL $pids 2>/dev/null
fi
locks=$(cat "$dir/port.locks" 2>/dev/null)
rm -rf "$dir"
for lock in $locks; do rm -f "$lock"; done
"#;
    Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("smbkit-ad-dc-watchdog")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// True when some process among `pids` listens on TCP `port` of 127.0.0.1, and no other does.
fn listens(port: u16, pids: &[u32]) -> bool {
    let listeners = procs::tcp_listeners(port);
    if listeners.is_empty() {
        return false;
    }
    let mut ours = std::collections::HashSet::new();
    for &pid in pids {
        ours.extend(procs::socket_inodes(pid));
    }
    listeners.iter().all(|i| ours.contains(i))
}

/// Sends the KDC an AS-REQ for the test user without pre-authentication and checks that a
/// Kerberos message comes back (KRB-ERROR "pre-authentication required", as a rule).
fn kdc_answers(port: u16) -> bool {
    let probe = || -> io::Result<bool> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        let req = as_req(USER, REALM);
        let mut msg = (req.len() as u32).to_be_bytes().to_vec();
        msg.extend(req);
        s.write_all(&msg)?;
        let mut head = [0u8; 5];
        s.read_exact(&mut head)?;
        // [APPLICATION 30] KRB-ERROR or [APPLICATION 11] AS-REP.
        Ok(matches!(head[4], 0x7e | 0x6b))
    };
    probe().unwrap_or(false)
}

/// A DER TLV (definite length).
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![tag];
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// A minimal AS-REQ (RFC 4120 5.4.1) for `user@realm`, asking for `krbtgt/realm`.
fn as_req(user: &str, realm: &str) -> Vec<u8> {
    let int = |v: u8| der(0x02, &[v]);
    let string = |s: &str| der(0x1b, s.as_bytes());
    let principal = |kind: u8, parts: &[&str]| {
        let names: Vec<u8> = parts.iter().flat_map(|p| string(p)).collect();
        der(
            0x30,
            &[der(0xa0, &int(kind)), der(0xa1, &der(0x30, &names))].concat(),
        )
    };
    let body = der(
        0x30,
        &[
            der(0xa0, &der(0x03, &[0, 0, 0, 0, 0])),
            der(0xa1, &principal(1, &[user])),
            der(0xa2, &string(realm)),
            der(0xa3, &principal(2, &["krbtgt", realm])),
            der(0xa5, &der(0x18, b"20370913024805Z")),
            der(0xa7, &der(0x02, &[0x01, 0x02, 0x03, 0x04])),
            der(0xa8, &der(0x30, &[int(18), int(17)].concat())),
        ]
        .concat(),
    );
    der(
        0x6a,
        &der(
            0x30,
            &[der(0xa1, &int(5)), der(0xa2, &int(10)), der(0xa4, &body)].concat(),
        ),
    )
}

/// `FILE:<path>`, the credential cache name of a file.
fn ccache_name(path: &Path) -> String {
    format!("FILE:{}", path.display())
}

/// Runs `cmd` with `input` on its standard input; an error carrying its output if it fails.
fn run_with_input(mut cmd: Command, input: &str, what: &str) -> io::Result<()> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {what}: {e}; {INSTALL_HINT}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that does not read its input closes the pipe: not an error here.
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output()?;
    check(&out, what)
}

fn check(out: &Output, what: &str) -> io::Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Where the programs are, and what `samba -b` says about its compiled-in paths.
struct Tools {
    samba: PathBuf,
    samba_tool: PathBuf,
    kinit: PathBuf,
    unshare: PathBuf,
    /// Where smbd and the other clients of winbindd look for its socket.
    winbindd_socket_dir: PathBuf,
    /// Samba's default log folder, where daemons write before they read `smb.conf`.
    log_base: Option<PathBuf>,
    /// `samba --version`, e.g. `Version 4.17.12-Debian`.
    version: String,
}

fn tools() -> io::Result<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(find_tools)
        .as_ref()
        .map_err(|msg| io::Error::new(io::ErrorKind::NotFound, msg.clone()))
}

fn find_tools() -> Result<Tools, String> {
    let need = |name: &str, package: &str| {
        find_program(name)
            .ok_or_else(|| format!("{name} (package {package}) is not installed: {INSTALL_HINT}"))
    };
    let samba = need("samba", "samba")?;
    let samba_tool = need("samba-tool", "samba-common-bin")?;
    need("winbindd", "winbind")?;
    let kinit = need("kinit", "krb5-user")?;
    let unshare = need("unshare", "util-linux")?;
    let build = Command::new(&samba)
        .arg("-b")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}; {INSTALL_HINT}", samba.display()))?;
    let text = String::from_utf8_lossy(&build.stdout);
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
            .map(|v| PathBuf::from(v.trim()))
    };
    if let Some(setup) = value("SETUPDIR") {
        if !setup.join("ad-schema").is_dir() {
            return Err(format!(
                "Samba's AD schema files are missing from {}/ad-schema (package samba-ad-provision): {INSTALL_HINT}",
                setup.display()
            ));
        }
    }
    if let Some(modules) = value("MODULESDIR") {
        if !modules.join("ldb/samba_dsdb.so").exists() {
            return Err(format!(
                "Samba's directory database modules are missing from {}/ldb (package samba-dsdb-modules): {INSTALL_HINT}",
                modules.display()
            ));
        }
    }
    let version = Command::new(&samba)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Ok(Tools {
        winbindd_socket_dir: value("WINBINDD_SOCKET_DIR")
            .unwrap_or_else(|| PathBuf::from("/run/samba/winbindd")),
        log_base: value("LOGFILEBASE"),
        samba,
        samba_tool,
        kinit,
        unshare,
        version,
    })
}

/// The provisioned domain to copy: made once per machine and Samba version (see the module docs).
/// Looked up on every start (a few `stat`s), so that a template removed meanwhile is rebuilt.
fn template(tools: &Tools) -> io::Result<PathBuf> {
    find_or_build_template(tools)
}

fn find_or_build_template(tools: &Tools) -> io::Result<PathBuf> {
    let base = match std::env::var_os("SMBKIT_AD_DC_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir(),
    };
    fs::create_dir_all(&base)?;
    let base = fs::canonicalize(&base).unwrap_or(base);
    let version: String = tools
        .version
        .trim_start_matches("Version ")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("smbkit-ad-dc-template-v{TEMPLATE_VERSION}-{version}");
    let path = base.join(&name);
    let lock = base.join(format!("{name}.lock"));
    let deadline = Instant::now() + TEMPLATE_WAIT;
    loop {
        if template_complete(&path) {
            return Ok(path);
        }
        match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                let built = build_template(tools, &base, &name, &path);
                let _ = fs::remove_file(&lock);
                return built.map(|()| path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Another process builds it; a lock whose owner died is stale, and so is one
                // that never got its owner's pid.
                let owner = fs::read_to_string(&lock)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                let age = fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default();
                let stale = match owner {
                    Some(pid) => !procs::alive(pid),
                    None => age > Duration::from_secs(10),
                };
                if stale {
                    let _ = fs::remove_file(&lock);
                    continue;
                }
                if Instant::now() > deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "waited {TEMPLATE_WAIT:?} for another process to provision {} (lock {})",
                            path.display(),
                            lock.display()
                        ),
                    ));
                }
                thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

fn template_complete(path: &Path) -> bool {
    [
        "private/sam.ldb",
        "private/secrets.ldb",
        "state",
        "bind-dns",
    ]
    .iter()
    .all(|p| path.join(p).exists())
}

/// Provisions the domain into a fresh folder beside `path`, adds the user, relaxes the password
/// policy, adds the IP SPN, and renames the folder to `path`.
fn build_template(tools: &Tools, base: &Path, name: &str, path: &Path) -> io::Result<()> {
    if template_complete(path) {
        return Ok(());
    }
    if path.exists() {
        // An incomplete leftover: start over.
        fs::remove_dir_all(path)?;
    }
    // Folders of builders that died (`<name>.build-<pid>-<nanos>`).
    let partial = format!("{name}.build-");
    if let Ok(entries) = fs::read_dir(base) {
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&partial)) else {
                continue;
            };
            let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !procs::alive(pid)) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = base.join(format!("{name}.build-{}-{nanos:08x}", std::process::id()));
    let built = (|| -> io::Result<()> {
        let started = Instant::now();
        let tool = |args: &[&str], conf: Option<&Path>| -> io::Result<()> {
            let mut cmd = Command::new(&tools.samba_tool);
            cmd.args(args)
                .env_remove("KRB5_CONFIG")
                .env_remove("KRB5CCNAME")
                .stdin(Stdio::null());
            if let Some(conf) = conf {
                cmd.arg("-s").arg(conf);
            }
            let out = cmd.output().map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run samba-tool: {e}; {INSTALL_HINT}"),
                )
            })?;
            check(&out, &format!("samba-tool {}", args[..2].join(" ")))
        };
        let target = format!("--targetdir={}", tmp.display());
        let host_ip = format!("--host-ip={HOST}");
        let realm = format!("--realm={REALM}");
        let domain = format!("--domain={DOMAIN}");
        let host_name = format!("--host-name={}", DC_NETBIOS_NAME.to_ascii_lowercase());
        let admin = format!("--adminpass={ADMIN_PASSWORD}");
        let interfaces = format!("--option=interfaces={HOST}");
        let logs = format!("--option=log file={}/log.%m", tmp.display());
        tool(
            &[
                "domain",
                "provision",
                &target,
                &realm,
                &domain,
                "--server-role=dc",
                "--dns-backend=NONE",
                &host_name,
                &host_ip,
                &admin,
                &interfaces,
                "--option=bind interfaces only=yes",
                &logs,
            ],
            None,
        )?;
        let conf = tmp.join("etc/smb.conf");
        tool(
            &[
                "domain",
                "passwordsettings",
                "set",
                "--complexity=off",
                "--history-length=0",
                "--min-pwd-age=0",
                "--max-pwd-age=0",
            ],
            Some(&conf),
        )?;
        tool(&["user", "add", USER, PASSWORD], Some(&conf))?;
        let account = format!("{DC_NETBIOS_NAME}$");
        tool(&["spn", "add", IP_SERVICE_PRINCIPAL, &account], Some(&conf))?;
        fs::write(
            tmp.join("README"),
            format!(
                "A provisioned Samba AD domain ({REALM}) that smbkit-testserver copies for each test DC; built by {} in {:?}. Safe to delete.\n",
                tools.version,
                started.elapsed()
            ),
        )?;
        if !template_complete(&tmp) {
            return Err(io::Error::other(format!(
                "samba-tool domain provision left an incomplete domain in {}",
                tmp.display()
            )));
        }
        match fs::rename(&tmp, path) {
            // Another builder (after a stale lock) finished first: use its template.
            Err(_) if template_complete(path) => {
                let _ = fs::remove_dir_all(&tmp);
                Ok(())
            }
            other => other,
        }
    })();
    if built.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    built
}

fn log_tail(dir: &Path, n: usize) -> String {
    crate::logs_tail(dir, "samba", n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_req_is_well_formed_der() {
        let req = as_req(USER, REALM);
        assert_eq!(req[0], 0x6a);
        // Long-form length: 0x81 and one byte.
        assert_eq!(req[1], 0x81);
        assert_eq!(req[2] as usize, req.len() - 3);
        let text = String::from_utf8_lossy(&req);
        assert!(text.contains(USER) && text.contains(REALM) && text.contains("krbtgt"));
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        assert_eq!(&der(0x04, &[0; 200])[..3], &[0x04, 0x81, 200]);
        assert_eq!(&der(0x04, &[0; 300])[..4], &[0x04, 0x82, 1, 44]);
    }

    #[test]
    fn passwords_are_shell_safe() {
        assert!(ADMIN_PASSWORD
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }
}
