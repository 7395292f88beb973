//! Secrets and personal data, through the real binary: no
//! password nor letter text in a trace log (against the real Dovecot + Postfix), no
//! requester's address in an error line, a private store and state folder under a
//! umask of 022, and no password file that others can read.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use support::home::{MaildirSetup, project_templates};
use support::{Compose, Home, b64, write_secret};
use support::{MailStack, REQUESTERS, SUPPORT, password};

/// Thursday 9 September 2021, 08:30 in Moscow: two specialists on duty.
const ON_DUTY: &str = "2021-09-09T08:30:00+03:00";

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_log_holds_no_password_and_no_letter() {
    let stack = MailStack::start();
    // The body's words are unusual enough not to occur anywhere by chance; the
    // ASCII one survives any escaping a log line might apply.
    let marker = "QUOKKA-7f3a9-ZEBRA";
    let cyrillic = "Жирафовна Бегемотова";
    let letter = Compose::new(
        REQUESTERS[0],
        "Не открывается дневник",
        &format!(
            "Здравствуйте!\n\nФИО: {cyrillic} Ивановна\nКласс: 5А\nПроблема: не открывается \
             дневник, код ошибки {marker}.\n"
        ),
    )
    .name("Смирнова Ольга");
    stack
        .send(REQUESTERS[0], SUPPORT, &letter.build())
        .await
        .unwrap();
    stack
        .wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(20))
        .await;
    let home = Home::new();
    home.write(&stack);
    // Everything asked for, the protocol crates by name too.
    let out = home
        .command(&["-vv", "run", "--once", "--now", ON_DUTY])
        .env(
            "RUST_LOG",
            "trace,async_imap=trace,imap_proto=trace,lettre=trace,rustls=trace,tokio_rustls=trace",
        )
        .output()
        .expect("run duty-desk");
    let log = text(&out);
    assert!(out.status.success(), "run --once failed:\n{log}");
    // DUTY_DESK_TRACE_LOG=FILE keeps the log, to grep it by hand.
    if let Some(keep) = std::env::var_os("DUTY_DESK_TRACE_LOG") {
        std::fs::write(keep, &log).expect("keep the log");
    }
    let secret = password(SUPPORT);
    let auth_plain = b64(format!("\0{SUPPORT}\0{secret}").as_bytes());
    for (what, needle) in [
        ("the password", secret.as_str()),
        ("the AUTH PLAIN token", auth_plain.as_str()),
        ("the letter's text", marker),
        ("the letter's text (Cyrillic)", cyrillic),
    ] {
        let hits: Vec<&str> = log.lines().filter(|l| l.contains(needle)).collect();
        assert!(
            hits.is_empty(),
            "{what} reached the log at trace level:\n{}",
            hits.join("\n")
        );
    }
    // The log still says what happened, at the levels asked for.
    assert!(
        log.lines()
            .any(|l| l.contains("decision") && l.contains("verdict=")),
        "no decision line:\n{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("DEBUG")),
        "-vv / RUST_LOG=trace gave no debug lines at all:\n{log}"
    );
    // And the letter was handled: the specialist got the forward.
    let forwarded = stack
        .wait_for(support::SPECIALISTS[0], "INBOX", 1, Duration::from_secs(20))
        .await;
    assert!(!forwarded.is_empty());
    // -vv alone (trace, no RUST_LOG): the login is not in the log either.
    let out = home
        .command(&["-vv", "run", "--once", "--now", ON_DUTY])
        .output()
        .expect("run duty-desk");
    let log = text(&out);
    assert!(out.status.success(), "run --once -vv failed:\n{log}");
    assert!(!log.contains(&secret), "-vv logged the password:\n{log}");
}

/// A Maildir home whose store lives in `state/db/` (folders the daemon makes),
/// with the project's templates; `outbox` is the `[outbox]` body (but `from`),
/// the home's Maildir `outbox/` when None.
fn maildir_home(outbox: Option<&str>) -> Home {
    Home::maildir_with(MaildirSetup {
        outbox,
        state: Some("state/db/duty-desk.sqlite3"),
        templates: Some(project_templates()),
        ..MaildirSetup::default()
    })
}

/// `run --once` under `sh -c 'umask 022; exec …'`, as a person runs it by hand,
/// without `$CREDENTIALS_DIRECTORY`; `env` adds variables.
fn run_once_by_hand(home: &Home, env: &[(&str, &Path)]) -> Output {
    let mut c = home.command_under(
        &["sh", "-c", r#"umask 022; exec "$0" "$@""#],
        &["run", "--once", "--now", ON_DUTY],
    );
    c.env_remove("CREDENTIALS_DIRECTORY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run duty-desk")
}

#[test]
fn the_store_and_its_folders_are_private_under_umask_022() {
    let home = maildir_home(None);
    std::fs::write(
        home.dir().join("inbox/new/01"),
        include_bytes!("../demo/01-parent-complete.eml"),
    )
    .unwrap();
    let out = run_once_by_hand(&home, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let state = home.dir().join("state");
    let store = state.join("db/duty-desk.sqlite3");
    assert_eq!(mode(&state), 0o700, "the state folder it created");
    assert_eq!(
        mode(&state.join("db")),
        0o700,
        "the store's folder it created"
    );
    assert_eq!(mode(&store), 0o600, "the store");
    for suffix in ["-wal", "-shm"] {
        let f = PathBuf::from(format!("{}{suffix}", store.display()));
        if f.exists() {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    // A store left 0644 by an older duty-desk is made private at the next start.
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_once_by_hand(&home, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&store), 0o600, "the store, tightened");
}

#[test]
fn a_password_file_others_can_read_is_refused() {
    // An SMTP outbox (its password is read at start); nothing is queued, so a run
    // that gets past the password never connects.
    let home = maildir_home(Some(
        "kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = 1\ntls = \"none\"\n\
         username = \"uvk-mtl@mail.ru\"\npassword_file = \"smtp.pw\"",
    ));
    let pw = home.dir().join("smtp.pw");
    write_secret(&pw, "pw-secret\n");
    for (m, who) in [
        (0o644, "other users"),
        (0o604, "other users"),
        (0o640, "its group"),
    ] {
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(m)).unwrap();
        let out = run_once_by_hand(&home, &[]);
        let log = text(&out);
        assert!(!out.status.success(), "mode {m:04o} accepted:\n{log}");
        let want = format!("password file {} has mode {m:04o}: {who}", pw.display());
        assert!(
            log.contains(&want),
            "mode {m:04o}: want {want:?} in:\n{log}"
        );
        assert!(!log.contains("pw-secret"), "{log}");
    }
    for m in [0o600, 0o400] {
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(m)).unwrap();
        let out = run_once_by_hand(&home, &[]);
        assert!(
            out.status.success(),
            "mode {m:04o} refused:\n{}",
            text(&out)
        );
    }

    // systemd's credentials: 0400 root-owned plus an ACL entry for the service's
    // user, which stat shows as 0440. Accepted in $CREDENTIALS_DIRECTORY only, and
    // only without write or other bits.
    let creds = home.dir().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    let cred = creds.join("smtp");
    write_secret(&cred, "pw-secret\n");
    home.edit_config(|t| {
        t.replace(
            "password_file = \"smtp.pw\"",
            "password_file = \"${CREDENTIALS_DIRECTORY}/smtp\"",
        )
    });
    let root_owned = std::fs::metadata(&cred)
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap();
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o440)).unwrap();
    let out = run_once_by_hand(&home, &[("CREDENTIALS_DIRECTORY", &creds)]);
    assert_eq!(
        out.status.success(),
        root_owned,
        "a 0440 credential (root-owned: {root_owned}):\n{}",
        text(&out)
    );
    for m in [0o444, 0o460] {
        std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(m)).unwrap();
        let out = run_once_by_hand(&home, &[("CREDENTIALS_DIRECTORY", &creds)]);
        assert!(
            !out.status.success(),
            "a {m:04o} credential accepted:\n{}",
            text(&out)
        );
    }
    // The same 0440 file outside $CREDENTIALS_DIRECTORY is group-readable, and refused.
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o440)).unwrap();
    let out = run_once_by_hand(&home, &[("CREDENTIALS_DIRECTORY", home.dir())]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn error_lines_do_not_show_a_requesters_address() {
    let home = maildir_home(None);
    // A complete request from an address lettre refuses to write to: deciding on it
    // fails today, and the error text names the address.
    let raw = String::from_utf8_lossy(include_bytes!("../demo/01-parent-complete.eml"))
        .replace("smirnova.olga@mail.ru", "ivanova..m@mail.ru");
    std::fs::write(home.dir().join("inbox/new/01"), raw).unwrap();
    let out = run_once_by_hand(&home, &[]);
    let log = text(&out);
    let hits: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ivanova..m") || l.contains("ivanova"))
        .collect();
    assert!(
        hits.is_empty(),
        "the requester's address reached the log:\n{}",
        hits.join("\n")
    );
    assert!(
        log.lines()
            .any(|l| l.contains("decision") && l.contains("verdict=")),
        "no decision line:\n{log}"
    );
}

#[test]
fn a_purged_ticket_leaves_nothing_personal_in_the_store_file() {
    const ADDRESS: &str = "zhirafova.beg@mail.ru";
    const NAME: &str = "Жирафова Бегемотина Носороговна";
    const PHONE: &str = "+7 912 345-67-89";
    const TEXT: &str = "дневник показывает фиолетовых жирафов";
    const MID: &str = "zhirafova-7731@mail.ru";
    const MID_AUTO: &str = "otpusk-zhirafovoi-5512@mail.ru";
    let needles = [
        ADDRESS,
        "zhirafova.beg",
        NAME,
        "Бегемотина",
        PHONE,
        "345-67-89",
        TEXT,
        "фиолетовых",
        MID,
        "zhirafova-7731",
        MID_AUTO,
    ];
    let home = maildir_home(None);
    let request = format!(
        "From: =?UTF-8?B?{name}?= <{ADDRESS}>\r\nTo: uvk-mtl@mail.ru\r\n\
         Subject: =?UTF-8?B?{subject}?=\r\nDate: Thu, 09 Sep 2021 08:12:40 +0300\r\n\
         Message-ID: <{MID}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Здравствуйте!\r\n\r\nФИО: {NAME}\r\nКласс: 5А\r\nТелефон: {PHONE}\r\n\
         Проблема: {TEXT} вместо оценок, со вчерашнего дня.\r\n",
        name = b64(NAME.as_bytes()),
        subject = b64(format!("{TEXT}, тел. {PHONE}").as_bytes()),
    );
    let auto_reply = format!(
        "From: {ADDRESS}\r\nTo: uvk-mtl@mail.ru\r\nSubject: =?UTF-8?B?{subject}?=\r\n\
         Date: Thu, 09 Sep 2021 08:13:00 +0300\r\nMessage-ID: <{MID_AUTO}>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Я в отпуске до 20 сентября. {NAME}, {PHONE}\r\n",
        subject = b64("Автоответ: я в отпуске".as_bytes()),
    );
    std::fs::write(home.dir().join("inbox/new/01"), request).unwrap();
    std::fs::write(home.dir().join("inbox/new/02"), auto_reply).unwrap();
    let store = home.dir().join("state/db/duty-desk.sqlite3");
    let found = || {
        let mut found = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", store.display()));
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            for n in needles {
                if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                    found.push(format!("{n:?} in {}", file.display()));
                }
            }
        }
        found
    };
    let run = |now: &str| {
        let out = home
            .command(&["run", "--once", "--now", now])
            .output()
            .expect("run duty-desk");
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    let log = run(ON_DUTY);
    assert_eq!(
        log.lines().filter(|l| l.contains("decision")).count(),
        2,
        "{log}"
    );
    assert!(found().len() >= needles.len() - 1, "{:#?}", found());
    // Closed after 30 idle days; purged 365 days after closing (the example's [service]).
    run("2021-11-01T09:00:00+03:00");
    assert!(!found().is_empty(), "closed is not purged yet");
    let log = run("2022-11-03T09:00:00+03:00");
    // DUTY_DESK_KEEP_STORE=FILE keeps the purged store, to grep it by hand.
    if let Some(keep) = std::env::var_os("DUTY_DESK_KEEP_STORE") {
        std::fs::copy(&store, keep).expect("keep the store");
    }
    assert!(log.contains("purged=1"), "{log}");
    let left = found();
    assert!(
        left.is_empty(),
        "still in the store after the purge: {left:#?}"
    );
    // The ticket and its decisions stay, for statistics.
    let db = rusqlite::Connection::open(&store).unwrap();
    let row: (String, String) = db
        .query_row(
            "SELECT state, created_at FROM tickets WHERE number = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(row.0, "closed");
    assert!(row.1.starts_with("2021-09-09"), "{row:?}");
    let verdicts: i64 = db
        .query_row(
            "SELECT count(*) FROM messages WHERE verdict != ''",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(verdicts, 2);
}
