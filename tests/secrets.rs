//! Secrets and personal data (issue 19, item 7), through the real binary: no
//! password nor letter text in a trace log (against the real Dovecot + Postfix), no
//! requester's address in an error line, a private store and state folder under a
//! umask of 022, and no password file that others can read.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::daemon::{Compose, DaemonConfig, b64};
use support::{MailStack, REQUESTERS, SUPPORT, password};

/// Thursday 9 September 2021, 08:30 in Moscow: two specialists on duty.
const ON_DUTY: &str = "2021-09-09T08:30:00+03:00";

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_duty-desk"));
    c.env_remove("RUST_LOG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(Stdio::null());
    c
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
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
    let config = DaemonConfig::new();
    let path = config.write(&stack);
    // Everything asked for, the protocol crates by name too.
    let out = binary()
        .env(
            "RUST_LOG",
            "trace,async_imap=trace,imap_proto=trace,lettre=trace,rustls=trace,tokio_rustls=trace",
        )
        .arg("-vv")
        .arg("--config")
        .arg(&path)
        .args(["run", "--once", "--now", ON_DUTY])
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
}
