//! One letter's failure stays one letter's, on the real Dovecot:
//! a letter Dovecot refuses to give (its FETCH answers NO) or to move (its MOVE
//! answers NO) is recorded and tried again later with backoff, and the rest of the
//! inbox keeps flowing: the letters after it are decided, filed and forwarded in
//! the same run. After its attempts a letter Dovecot will not give is filed as
//! unreadable with the server's reason; one it will not move stays in the inbox,
//! handled, and `status` says so.
//!
//! The refusals are real ones, made the way a broken or full mailbox makes them:
//! the message file is unreadable for Dovecot's mail user (uid 5000), or a folder's
//! Maildir cannot be written to by it. Dates: 2021-09-07 is a Tuesday, Бухер В.В.
//! on duty 08:00–10:00.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Compose, Home, Mail, run_cli, run_once, specialist};
use support::{MailStack, REQUESTERS, SUPPORT, StackOptions};

const WAIT: Duration = Duration::from_secs(60);

/// Runs at one-hour steps from Tuesday 08:30 (the retries' backoff is minutes).
const RUNS: [&str; 7] = [
    "2021-09-07T08:30:00+03:00",
    "2021-09-07T09:30:00+03:00",
    "2021-09-07T10:30:00+03:00",
    "2021-09-07T11:30:00+03:00",
    "2021-09-07T12:30:00+03:00",
    "2021-09-07T13:30:00+03:00",
    "2021-09-07T14:30:00+03:00",
];

/// The support user's Maildir on the stack's disk.
fn maildir(stack: &MailStack) -> PathBuf {
    stack.dir().join("mail/school.test/support/Maildir")
}

/// Message files in `new/` and `cur/` of a Maildir folder.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            out.extend(entries.flatten().map(|e| e.path()));
        }
    }
    out
}

/// The file holding the letter with this Message-ID in a Maildir folder.
fn file_of(dir: &Path, message_id: &str) -> PathBuf {
    files(dir)
        .into_iter()
        .find(|p| {
            std::fs::read(p)
                .map(|raw| String::from_utf8_lossy(&raw).contains(message_id))
                .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no file with {message_id} in {}", dir.display()))
}

fn complete(from: &str, who: &str, subject: &str) -> Compose {
    Compose::new(
        from,
        subject,
        &format!(
            "Здравствуйте!\nНе открывается электронный дневник: после входа белый экран.\n\n{who}, мама ученика 5А класса."
        ),
    )
}

async fn deliver(stack: &MailStack, letter: &Compose) {
    stack
        .send(&letter.from, SUPPORT, &letter.build())
        .await
        .unwrap_or_else(|e| panic!("send {}: {e}", letter.subject));
}

/// Waits until the support INBOX holds `n` message files (counted on disk: a
/// refused letter cannot be fetched by the test either).
async fn wait_inbox_files(stack: &MailStack, n: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    while files(&maildir(stack)).len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the support INBOX never held {n} letters\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn status(config: &Path) -> String {
    let out = run_cli(config, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "status failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn subjects(mails: &[Vec<u8>]) -> Vec<String> {
    let mut s: Vec<String> = Mail::all(mails).into_iter().map(|m| m.subject).collect();
    s.sort();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_dovecot_refuses_to_fetch_holds_up_nothing_and_is_filed_after_its_retries() {
    // Dovecot answers NO to a FETCH of a message it cannot read (by default,
    // `imap_fetch_failure = disconnect-immediately`, it hangs up instead).
    let stack = MailStack::start_with(StackOptions {
        imap_fetch_failure: Some("no-after".into()),
        ..StackOptions::default()
    });
    let cfg = Home::new();
    let config = cfg.write(&stack);
    let a = complete(REQUESTERS[0], "Иванова Мария Петровна", "Дневник А");
    let b = complete(REQUESTERS[1], "Петрова Анна Сергеевна", "Дневник Б");
    let c = complete(REQUESTERS[2], "Сидорова Ольга Ивановна", "Дневник В");
    for l in [&a, &b, &c] {
        deliver(&stack, l).await;
    }
    wait_inbox_files(&stack, 3).await;
    // Dovecot's mail user can no longer read B: its FETCH BODY[] answers NO.
    let b_file = file_of(&maildir(&stack), &b.message_id);
    std::fs::set_permissions(&b_file, std::fs::Permissions::from_mode(0o000)).unwrap();

    let out = run_once(&config, RUNS[0]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    // A and C went through in the same run, B waits in the inbox.
    let processed = stack.fetch(SUPPORT, "duty-desk/Processed").await;
    assert_eq!(
        subjects(&processed),
        ["Дневник А", "Дневник В"],
        "log:\n{log}"
    );
    let bukher = specialist("Бухер В.В.");
    let forwards = stack.wait_for(bukher, "INBOX", 2, WAIT).await;
    assert_eq!(forwards.len(), 2);
    assert_eq!(files(&maildir(&stack)).len(), 1, "B stays in the inbox");
    let shown = status(&config);
    assert!(
        shown.contains("retrying imap:") && shown.contains("refused giving it (1 attempts"),
        "{shown}"
    );

    // New mail keeps flowing while B is retried.
    let d = complete(REQUESTERS[3], "Кузнецова Ирина Олеговна", "Дневник Г");
    deliver(&stack, &d).await;
    wait_inbox_files(&stack, 2).await;
    run_once(&config, RUNS[1]);
    let processed = stack.fetch(SUPPORT, "duty-desk/Processed").await;
    assert_eq!(
        subjects(&processed),
        ["Дневник А", "Дневник В", "Дневник Г"]
    );

    // Three more refusals: five in all, and B is filed as unreadable with the reason.
    for now in &RUNS[2..5] {
        run_once(&config, now);
    }
    let unreadable = maildir(&stack).join(".duty-desk.Unreadable");
    assert_eq!(files(&unreadable).len(), 1, "B is filed in Unreadable");
    assert!(files(&maildir(&stack)).is_empty(), "the inbox is empty");
    let shown = status(&config);
    assert!(!shown.contains("retrying imap:"), "{shown}");
    assert!(
        shown.contains("fetch_failed")
            && shown.contains("refused to give this letter (5 attempts)"),
        "{shown}"
    );
    // Nothing is sent for a letter nobody could read; the others got their
    // forwards (and, unanswered past Бухер's window, reminders).
    stack.wait_postfix_idle(WAIT).await;
    assert_eq!(count_forwards(&stack.fetch(bukher, "INBOX").await), 3);
    assert!(stack.fetch(REQUESTERS[1], "INBOX").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_dovecot_refuses_to_move_holds_up_nothing_and_stays_handled_in_the_inbox() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    // A first run creates the folders; then Dovecot's mail user may no longer write
    // into duty-desk/Ignored (as with a folder over its quota): a MOVE there answers NO.
    run_once(&config, RUNS[0]);
    let ignored = maildir(&stack).join(".duty-desk.Ignored");
    for sub in ["tmp", "new", "cur"] {
        let d = ignored.join(sub);
        let ok = Command::new("chown")
            .arg("root:root")
            .arg(&d)
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown {}", d.display());
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let robot = Compose::new(
        REQUESTERS[1],
        "Автоответ: в отпуске",
        "Я в отпуске до 20 сентября.",
    )
    .header("Auto-Submitted", "auto-replied");
    let a = complete(REQUESTERS[0], "Иванова Мария Петровна", "Дневник А");
    deliver(&stack, &robot).await;
    deliver(&stack, &a).await;
    wait_inbox_files(&stack, 2).await;

    let out = run_once(&config, RUNS[0]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let processed = stack.fetch(SUPPORT, "duty-desk/Processed").await;
    assert_eq!(subjects(&processed), ["Дневник А"], "log:\n{log}");
    let bukher = specialist("Бухер В.В.");
    stack.wait_for(bukher, "INBOX", 1, WAIT).await;
    assert_eq!(
        subjects(&stack.fetch(SUPPORT, "INBOX").await),
        ["Автоответ: в отпуске"]
    );
    let shown = status(&config);
    assert!(
        shown.contains("refused moving it to Ignored (1 attempts"),
        "{shown}"
    );

    // The next letters still flow while the robot's move is retried.
    let c = complete(REQUESTERS[2], "Сидорова Ольга Ивановна", "Дневник В");
    deliver(&stack, &c).await;
    wait_inbox_files(&stack, 2).await;
    run_once(&config, RUNS[1]);
    assert_eq!(
        subjects(&stack.fetch(SUPPORT, "duty-desk/Processed").await),
        ["Дневник А", "Дневник В"]
    );

    // Five refusals in all: left in the inbox, handled, and shown.
    for now in &RUNS[2..5] {
        run_once(&config, now);
    }
    let shown = status(&config);
    assert!(
        shown.contains("LEFT IN THE INBOX, handled")
            && shown.contains("refused moving it to Ignored 5 times"),
        "{shown}"
    );
    assert!(shown.contains("move_failed"), "{shown}");
    // Later runs leave it alone and say nothing more about it; it was never answered.
    let out = run_once(&config, RUNS[6]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!log.contains("refused to move"), "{log}");
    assert_eq!(
        subjects(&stack.fetch(SUPPORT, "INBOX").await),
        ["Автоответ: в отпуске"]
    );
    stack.wait_postfix_idle(WAIT).await;
    assert!(stack.fetch(REQUESTERS[1], "INBOX").await.is_empty());
    assert_eq!(count_forwards(&stack.fetch(bukher, "INBOX").await), 2);
}

/// How many of `mail` are forwards of a ticket (not reminders of one).
fn count_forwards(mail: &[Vec<u8>]) -> usize {
    mail.iter()
        .filter(|m| support::header(m, "Message-ID").is_some_and(|id| id.contains(".forward.")))
        .count()
}
