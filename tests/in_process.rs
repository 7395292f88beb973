//! The daemon's loops in the test's own process: `daemon::run` on a Maildir inbox
//! and outbox (no server), started and stopped through the harness's
//! [`InProcess`] with the same shutdown value the service's signal handler sets.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use duty_desk::daemon::RunOptions;
use support::maildesk::Sent;
use support::{Home, InProcess, ON_DUTY};

fn on_duty() -> RunOptions {
    RunOptions {
        now: Some(
            DateTime::parse_from_rfc3339(ON_DUTY)
                .expect("ON_DUTY is RFC 3339")
                .with_timezone(&Utc),
        ),
        ..RunOptions::default()
    }
}

/// Files in `new/` and `cur/` of a Maildir folder.
fn files(maildir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .filter_map(|s| std::fs::read_dir(maildir.join(s)).ok())
        .map(|d| d.flatten().count())
        .sum()
}

/// The mails the desk wrote to its outbox.
fn sent(home: &Home) -> Vec<Sent> {
    let mut paths: Vec<_> = std::fs::read_dir(home.path("outbox"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|x| x == "eml"));
    paths.sort();
    paths
        .iter()
        .map(|p| Sent::parse(&std::fs::read(p).expect("read an outbox file")))
        .collect()
}

/// Waits (at most `limit`, a guard against a hang) until `done` holds.
async fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_that_arrives_while_it_runs_is_filed_and_answered_then_it_stops_cleanly() {
    let home = Home::maildir("", &[]);
    let desk = InProcess::start(&home.config, on_duty());
    // The loops are up (the store is open, the inbox empty) before the letter comes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!desk.finished(), "run returned before it was asked to stop");
    std::fs::write(
        home.path("inbox/new/01.eml"),
        include_bytes!("../demo/01-parent-complete.eml"),
    )
    .expect("deliver");
    let processed = home.path("inbox/.duty-desk.Processed");
    wait_until(Duration::from_secs(30), "the letter filed", || {
        files(&processed) == 1
    })
    .await;
    wait_until(
        Duration::from_secs(30),
        "a forward and an acknowledgement",
        || sent(&home).len() >= 2,
    )
    .await;
    desk.shutdown().await.expect("run returns Ok on shutdown");

    assert_eq!(files(&home.path("inbox")), 0, "the inbox is empty");
    let mails = sent(&home);
    let kinds: Vec<&str> = mails.iter().map(Sent::kind).collect();
    assert!(kinds.contains(&"forward"), "{kinds:?}");
    assert!(
        mails
            .iter()
            .any(|m| m.to.iter().any(|t| t == "smirnova.olga@mail.ru")),
        "nothing went back to the parent: {kinds:?}"
    );
    // After the stop the store holds the letter once, its move recorded.
    assert_eq!(
        home.count(
            "SELECT count(*) FROM messages WHERE message_id = 'demo-01@mail.ru' AND moved = 1"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_idle_returns_ok_and_a_restart_answers_nothing_twice() {
    let home = Home::maildir("", &[]);
    std::fs::write(
        home.path("inbox/new/01.eml"),
        include_bytes!("../demo/01-parent-complete.eml"),
    )
    .expect("deliver");
    let desk = InProcess::start(&home.config, on_duty());
    wait_until(Duration::from_secs(30), "the first run's mail", || {
        sent(&home).len() >= 2
    })
    .await;
    let first = sent(&home).len();
    desk.shutdown().await.expect("run returns Ok on shutdown");

    // Started again on the same store: the letter was handled, nothing is sent again.
    let again = InProcess::start(&home.config, on_duty());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !again.finished(),
        "run returned before it was asked to stop"
    );
    again.shutdown().await.expect("run returns Ok on shutdown");
    assert_eq!(sent(&home).len(), first, "mail sent again after a restart");
}
