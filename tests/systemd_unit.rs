//! `systemd/duty-desk.service`: hardened (systemd-analyze security ≤ 2.0), clean
//! for `systemd-analyze verify`, and consistent with what the daemon does (notify,
//! watchdog, reload by SIGHUP, credentials named as the example config reads them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/duty-desk.service")
}

fn unit() -> String {
    std::fs::read_to_string(unit_path()).expect("read the unit")
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
    let unit = unit_path();
    let out = analyze(&[
        "security",
        "--offline=true",
        "--threshold=20",
        "--no-pager",
        &unit.to_string_lossy(),
    ]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let overall = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall figure in:\n{text}"));
    let figure: f64 = overall
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the figure in {overall:?}"));
    eprintln!("{overall}");
    assert!(figure <= 2.0, "{overall}\n{text}");
    assert!(out.status.success(), "{text}");
}

#[test]
fn verify_reports_nothing_but_the_missing_binary() {
    // As shipped: only the binary's path may be reported (it is not installed here).
    let out = analyze(&["verify", &unit_path().to_string_lossy()]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.contains("/usr/local/bin/duty-desk"),
            "systemd-analyze verify says: {line}"
        );
    }
    // With the binary where the unit expects it: nothing at all.
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("duty-desk.service");
    std::fs::write(
        &copy,
        unit().replace("/usr/local/bin/duty-desk", env!("CARGO_BIN_EXE_duty-desk")),
    )
    .expect("write the copy");
    let out = analyze(&["verify", &copy.to_string_lossy()]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.trim().is_empty(), "{text}");
}

#[test]
fn unit_matches_what_the_daemon_does() {
    let u = unit();
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
