//! `systemd/duty-desk.service` and the template `systemd/duty-desk@.service`:
//! hardened (systemd-analyze security ≤ 2.0 each), clean for `systemd-analyze
//! verify`, and consistent with what the daemon does (notify, watchdog, reload by
//! SIGHUP, credentials named as the example config reads them); an instance NAME
//! reads NAME.toml, keeps its state in duty-desk/NAME and logs its name.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UNITS: [&str; 2] = ["duty-desk.service", "duty-desk@.service"];

fn unit_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("systemd")
        .join(name)
}

fn unit(name: &str) -> String {
    std::fs::read_to_string(unit_path(name)).expect("read the unit")
}

fn analyze(args: &[&str]) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_COLORS", "0")
        .output()
        .expect("systemd-analyze runs (apt-get install systemd)")
}

/// Every value of `key=` in the unit, in order.
fn values(unit: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    unit.lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix))
        .map(|v| v.trim().to_string())
        .collect()
}

fn one(unit: &str, key: &str) -> String {
    let v = values(unit, key);
    assert_eq!(v.len(), 1, "{key}= should be set once: {v:?}");
    v[0].clone()
}

#[test]
fn exposure_is_2_0_or_lower() {
    for name in UNITS {
        let unit = unit_path(name);
        let out = analyze(&[
            "security",
            "--offline=true",
            "--threshold=20",
            "--no-pager",
            &unit.to_string_lossy(),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let overall = text
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or_else(|| panic!("{name}: no overall figure in:\n{text}"));
        let figure: f64 = overall
            .split(':')
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("cannot read the figure in {overall:?}"));
        eprintln!("{name}: {overall}");
        assert!(figure <= 2.0, "{name}: {overall}\n{text}");
        assert!(out.status.success(), "{name}: {text}");
    }
}

#[test]
fn verify_reports_nothing_but_the_missing_binary() {
    for name in UNITS {
        // As shipped: only the binary's path may be reported (it is not installed here).
        let out = analyze(&["verify", &unit_path(name).to_string_lossy()]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.contains("/usr/bin/duty-desk"),
                "systemd-analyze verify {name} says: {line}"
            );
        }
        // With the binary where the unit expects it: nothing at all.
        let dir = tempfile::tempdir().expect("temp dir");
        let copy = dir.path().join(name);
        std::fs::write(
            &copy,
            unit(name).replace("/usr/bin/duty-desk", support::home::BIN),
        )
        .expect("write the copy");
        let out = analyze(&["verify", &copy.to_string_lossy()]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.trim().is_empty(),
            "{name}: {text}"
        );
    }
}

#[test]
fn unit_matches_what_the_daemon_does() {
    let u = unit("duty-desk.service");
    // READY comes from the daemon itself once the mailbox is logged in.
    assert_eq!(one(&u, "Type"), "notify");
    assert_eq!(one(&u, "NotifyAccess"), "main");
    assert!(!one(&u, "WatchdogSec").is_empty());
    assert_eq!(one(&u, "Restart"), "on-failure");
    assert_eq!(one(&u, "DynamicUser"), "yes");
    assert_eq!(one(&u, "StateDirectory"), "duty-desk");
    assert_eq!(one(&u, "ConfigurationDirectory"), "duty-desk");
    assert!(one(&u, "ExecStart").ends_with("run"));
    assert_eq!(one(&u, "ExecReload"), "/bin/kill -HUP $MAINPID");
    // The daemon stops within 10 s (an SMTP transaction gets 5 s): systemd waits longer.
    let stop = one(&u, "TimeoutStopSec");
    let secs: u64 = stop.trim_end_matches('s').parse().expect("seconds");
    assert!(secs > 10, "TimeoutStopSec={stop}");
    // sd_notify needs a Unix socket; the mail servers need TCP.
    let families = one(&u, "RestrictAddressFamilies");
    for f in ["AF_UNIX", "AF_INET", "AF_INET6"] {
        assert!(families.split_whitespace().any(|x| x == f), "{families}");
    }
    // The credentials are named as the example config reads them.
    let creds = values(&u, "LoadCredential");
    let names: Vec<&str> = creds.iter().filter_map(|c| c.split(':').next()).collect();
    assert_eq!(names, ["imap", "smtp"]);
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/duty-desk.example.toml"),
    )
    .expect("example config");
    for name in names {
        assert!(
            example.contains(&format!(
                "password_file = \"${{CREDENTIALS_DIRECTORY}}/{name}\""
            )),
            "the example config does not read the {name} credential"
        );
    }
}

#[test]
fn template_instance_reads_its_config_keeps_its_state_and_logs_its_name() {
    let t = unit("duty-desk@.service");
    let start = one(&t, "ExecStart");
    assert_eq!(
        start,
        "/usr/bin/duty-desk --instance %i --config /etc/duty-desk/%i.toml run"
    );
    assert_eq!(
        one(&t, "ExecStartPre"),
        "/usr/bin/duty-desk --instance %i --config /etc/duty-desk/%i.toml check-config"
    );
    assert_eq!(one(&t, "StateDirectory"), "duty-desk/%i");
    assert_eq!(one(&t, "WorkingDirectory"), "/var/lib/duty-desk/%i");
    assert_eq!(one(&t, "SyslogIdentifier"), "duty-desk@%i");
    // Inside the service the credentials are named as in the plain unit, so one
    // example config serves both; on disk they are NAME-imap and NAME-smtp.
    assert_eq!(
        values(&t, "LoadCredential"),
        [
            "imap:/etc/duty-desk/credentials/%i-imap",
            "smtp:/etc/duty-desk/credentials/%i-smtp"
        ]
    );
    // Everything else (notify, watchdog, the sandbox) is the plain unit's, line for line.
    let per_instance = [
        "Description=",
        "ExecStartPre=",
        "ExecStart=",
        "StateDirectory=",
        "WorkingDirectory=",
        "LoadCredential=",
        "SyslogIdentifier=",
    ];
    let settings = |u: &str| -> Vec<String> {
        u.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter(|l| !per_instance.iter().any(|k| l.starts_with(k)))
            .map(String::from)
            .collect()
    };
    assert_eq!(settings(&t), settings(&unit("duty-desk.service")));
}
