//! Config files for the private Dovecot and Postfix of one [`super::MailStack`].

use std::fmt::Write as _;
use std::path::Path;

/// Loopback ports of one stack, all distinct and chosen free at start.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub imap: u16,
    pub imaps: u16,
    pub lmtp: u16,
    pub auth: u16,
    pub smtp: u16,
    pub smtps: u16,
    pub submission: u16,
}

/// `dovecot.conf` for a stack rooted at `root`.
pub fn dovecot_conf(root: &Path, instance: &str, ports: &Ports) -> String {
    let r = root.display();
    format!(
        r#"# Private Dovecot for one duty-desk test stack.
instance_name = {instance}
base_dir = {r}/dovecot/run
state_dir = {r}/dovecot/state
log_path = {r}/dovecot/dovecot.log
info_log_path = {r}/dovecot/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{r}/certs/server.pem
ssl_key = <{r}/certs/server.key
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{r}/mail/%d/%n/Maildir
first_valid_uid = 5000
last_valid_uid = 5000
first_valid_gid = 5000
mail_uid = 5000
mail_gid = 5000
default_vsz_limit = 256M

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/dovecot/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {r}/dovecot/users
  default_fields = uid=5000 gid=5000 home={r}/mail/%d/%n
}}

namespace inbox {{
  inbox = yes
  separator = /
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service auth {{
  inet_listener auth-postfix {{
    address = 127.0.0.1
    port = {auth}
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@school.test
}}
"#,
        imap = ports.imap,
        imaps = ports.imaps,
        lmtp = ports.lmtp,
        auth = ports.auth,
    )
}

/// Postfix `main.cf` for a stack rooted at `root`; `domains` are the local mail domains.
pub fn postfix_main_cf(root: &Path, ports: &Ports, domains: &[&str]) -> String {
    let r = root.display();
    format!(
        r#"# Private Postfix for one duty-desk test stack.
compatibility_level = 3.6
queue_directory = {r}/postfix/queue
data_directory = {r}/postfix/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {r}/postfix/postfix.log
maillog_file_prefixes = {r}
myhostname = localhost
mydomain = localhost
myorigin = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
relayhost =
biff = no
smtputf8_enable = no
smtpd_peername_lookup = no
smtp_host_lookup = native
virtual_mailbox_domains = {domains}
virtual_mailbox_maps = texthash:{r}/postfix/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{auth}
smtpd_sasl_auth_enable = no
smtpd_tls_cert_file = {r}/certs/server.pem
smtpd_tls_key_file = {r}/certs/server.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 0
lmtp_destination_concurrency_limit = 8
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"#,
        domains = domains.join(" "),
        lmtp = ports.lmtp,
        auth = ports.auth,
    )
}

/// Postfix `master.cf`: every service unchrooted, plus our three SMTP listeners.
pub fn postfix_master_cf(ports: &Ports) -> String {
    let mut s = String::new();
    // Ports: plain SMTP (no AUTH: it must keep accepting mail while Dovecot's auth
    // listener is down; loopback relays by `mynetworks`), implicit TLS (465-style),
    // STARTTLS submission (587-style, TLS required before AUTH).
    let _ = writeln!(s, "{} inet n - n - - smtpd", ports.smtp);
    let _ = writeln!(
        s,
        "{} inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n  -o smtpd_sasl_auth_enable=yes",
        ports.smtps
    );
    let _ = writeln!(
        s,
        "{} inet n - n - - smtpd\n  -o smtpd_tls_security_level=encrypt\n  -o smtpd_tls_auth_only=yes\n  -o smtpd_sasl_auth_enable=yes",
        ports.submission
    );
    s.push_str(
        "pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
",
    );
    s
}
