//! The .deb, built with cargo-deb and installed into a scratch root with
//! `dpkg --root --force-script-chrootless` (the maintainer scripts honour
//! DPKG_ROOT). A stand-in `systemctl` first on PATH records what the scripts ask
//! of systemd; the scratch root's `run/systemd/system` makes it look booted.
//!
//! The package is built from the debug binary this test suite already built
//! (`cargo deb --no-build --profile dev --fast`), not from a release build of
//! several minutes; `cargo deb` itself packages a release build.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ok(out: Output, what: &str) -> String {
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    log: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        for d in [
            "var/lib/dpkg/info",
            "var/lib/dpkg/updates",
            "run/systemd/system",
        ] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        for f in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
            std::fs::write(root.join(f), "").expect("dpkg db");
        }
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir bin");
        let log = dir.path().join("systemctl.log");
        let fake = bin.join("systemctl");
        std::fs::write(
            &fake,
            format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display()),
        )
        .expect("fake systemctl");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Scratch {
            _dir: dir,
            root,
            bin,
            log,
        }
    }

    fn dpkg(&self, args: &[&str]) -> String {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("dpkg")
            .arg(format!("--root={}", self.root.display()))
            .args(["--force-script-chrootless", "--force-depends"])
            .args(args)
            .env("PATH", path)
            .output()
            .expect("run dpkg");
        ok(out, &format!("dpkg {args:?}"))
    }

    /// What the scripts asked of systemctl since the last call.
    fn systemctl(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text.lines().map(String::from).collect()
    }

    fn at(&self, p: &str) -> PathBuf {
        self.root.join(p)
    }
}

#[test]
fn deb_installs_upgrades_removes_and_purges_as_debian_does() {
    let status = Command::new(manifest_dir().join("scripts/install-cargo-deb"))
        .status()
        .expect("run scripts/install-cargo-deb");
    assert!(status.success(), "scripts/install-cargo-deb failed");
    let out_dir = tempfile::tempdir().expect("temp dir");
    let built = Command::new("cargo")
        .args([
            "deb",
            "--no-build",
            "--profile",
            "dev",
            "--fast",
            "-q",
            "-o",
        ])
        .arg(out_dir.path())
        .current_dir(manifest_dir())
        .output()
        .expect("run cargo deb");
    ok(built, "cargo deb");
    let deb = std::fs::read_dir(out_dir.path())
        .expect("read out dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("a .deb was built");
    eprintln!(
        "{}: {} bytes",
        deb.display(),
        std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0)
    );
    let deb = deb.to_string_lossy().into_owned();
    let s = Scratch::new();

    // Install: files where they belong, nothing started, the three next steps said.
    let said = s.dpkg(&["-i", &deb]);
    for step in [
        "1. Edit /etc/duty-desk/duty-desk.toml",
        "2. Put the passwords in /etc/duty-desk/credentials/imap",
        "3. Start it: systemctl enable --now duty-desk",
    ] {
        assert!(said.contains(step), "{step:?} not in:\n{said}");
    }
    assert_eq!(s.systemctl(), ["daemon-reload"]);
    assert_eq!(mode(&s.at("usr/bin/duty-desk")), 0o755);
    for unit in ["duty-desk.service", "duty-desk@.service"] {
        let installed = s.at("lib/systemd/system").join(unit);
        assert_eq!(mode(&installed), 0o644, "{unit}");
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            std::fs::read(manifest_dir().join("systemd").join(unit)).unwrap(),
            "{unit} is not the repo's (tests/systemd_unit checks that one)"
        );
    }
    assert_eq!(mode(&s.at("etc/duty-desk/credentials")), 0o700);
    assert_eq!(mode(&s.at("etc/duty-desk/duty-desk.toml")), 0o644);
    for doc in ["README.md", "examples/duty-desk.example.toml"] {
        assert_eq!(
            mode(&s.at("usr/share/doc/duty-desk").join(doc)),
            0o644,
            "{doc}"
        );
    }
    let conffiles =
        std::fs::read_to_string(s.at("var/lib/dpkg/info/duty-desk.conffiles")).expect("conffiles");
    assert!(
        conffiles
            .lines()
            .any(|l| l == "/etc/duty-desk/duty-desk.toml"),
        "{conffiles}"
    );
    for t in std::fs::read_dir(manifest_dir().join("config/templates")).unwrap() {
        let name = t.unwrap().file_name().to_string_lossy().into_owned();
        let path = format!("/etc/duty-desk/templates/{name}");
        assert!(
            conffiles.lines().any(|l| l == path),
            "{path} not a conffile"
        );
        assert_eq!(mode(&s.at(&path[1..])), 0o644, "{path}");
    }

    // The installed binary passes check-config on the installed example.
    let check = Command::new(s.at("usr/bin/duty-desk"))
        .arg("--config")
        .arg(s.at("etc/duty-desk/duty-desk.toml"))
        .arg("check-config")
        .output()
        .expect("run the installed binary");
    let check = ok(check, "check-config on the installed example");
    assert!(check.contains("duty-desk.toml: ok"), "{check}");

    // The installed units: the sandbox rates ≤ 2.0 from the scratch root too.
    for unit in ["duty-desk.service", "duty-desk@.service"] {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
            .arg(format!("--root={}", s.root.display()))
            .arg(unit)
            .env("SYSTEMD_COLORS", "0")
            .output()
            .expect("systemd-analyze");
        let text = ok(out, "systemd-analyze security");
        assert!(text.contains("Overall exposure level"), "{text}");
    }

    // Upgrade (the same version again): the admin's edit and the state stay, running
    // desks are restarted, nothing else is started, no first-install message.
    let conf = s.at("etc/duty-desk/duty-desk.toml");
    let edited = std::fs::read_to_string(&conf).unwrap() + "\n# the admin's edit\n";
    std::fs::write(&conf, &edited).unwrap();
    std::fs::create_dir_all(s.at("var/lib/duty-desk/school-12")).unwrap();
    std::fs::write(
        s.at("var/lib/duty-desk/school-12/duty-desk.sqlite3"),
        "store",
    )
    .unwrap();
    std::fs::write(s.at("etc/duty-desk/credentials/imap"), "pw").unwrap();
    let said = s.dpkg(&["-i", &deb]);
    assert!(!said.contains("1. Edit"), "{said}");
    assert_eq!(
        s.systemctl(),
        [
            "daemon-reload",
            "try-restart duty-desk.service duty-desk@*.service"
        ]
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), edited);

    // Remove: every desk stopped; config, credentials and state kept.
    let wants = s.at("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink(
        "/lib/systemd/system/duty-desk@.service",
        wants.join("duty-desk@school-12.service"),
    )
    .unwrap();
    s.dpkg(&["-r", "duty-desk"]);
    assert_eq!(
        s.systemctl(),
        [
            "stop duty-desk.service duty-desk@*.service",
            "daemon-reload"
        ]
    );
    assert!(!s.at("usr/bin/duty-desk").exists());
    assert!(!s.at("lib/systemd/system/duty-desk.service").exists());
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), edited);
    assert!(s.at("etc/duty-desk/credentials/imap").exists());
    assert!(
        s.at("var/lib/duty-desk/school-12/duty-desk.sqlite3")
            .exists()
    );

    // Purge: all of it gone, the enablement links too.
    s.dpkg(&["-P", "duty-desk"]);
    assert!(!s.at("etc/duty-desk").exists());
    assert!(!s.at("var/lib/duty-desk").exists());
    assert!(std::fs::symlink_metadata(wants.join("duty-desk@school-12.service")).is_err());
}
