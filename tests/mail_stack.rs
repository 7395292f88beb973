//! The harness itself: a message sent over SMTP arrives over IMAP; unknown recipients
//! are refused; both servers survive a restart.

mod support;

use std::time::Duration;

use support::{MailStack, REQUESTERS, SUPPORT, StackOptions};

fn letter(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@harness.test>\r\n\
         Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_to_imap_round_trip() {
    let stack = MailStack::start();
    let raw = letter(
        REQUESTERS[0],
        SUPPORT,
        "smoke",
        "Здравствуйте!\r\n.dot line",
    );
    stack.send(REQUESTERS[0], SUPPORT, &raw).await.unwrap();
    let got = stack
        .wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(10))
        .await;
    assert_eq!(got.len(), 1);
    let text = String::from_utf8_lossy(&got[0]);
    assert!(text.contains("Subject: smoke"), "{text}");
    assert!(
        text.contains("\r\n.dot line"),
        "dot-stuffing undone: {text}"
    );
    assert!(stack.folders(SUPPORT).await.contains(&"INBOX".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_recipient_is_refused_at_rcpt() {
    let stack = MailStack::start();
    let err = stack
        .send(
            REQUESTERS[0],
            "nobody@school.test",
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
    assert!(err.contains("550"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_restart() {
    let mut stack = MailStack::start();
    stack.stop_postfix();
    assert!(
        stack
            .send(REQUESTERS[1], SUPPORT, b"Subject: a\r\n\r\na\r\n")
            .await
            .is_err()
    );
    stack.start_postfix();
    stack.stop_dovecot();
    stack.start_dovecot();
    stack
        .send(
            REQUESTERS[1],
            SUPPORT,
            &letter(REQUESTERS[1], SUPPORT, "after", "b"),
        )
        .await
        .unwrap();
    stack
        .wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_users_get_mail_in_their_own_domain() {
    let stack = MailStack::start_with(StackOptions {
        extra_users: vec!["bukher@example.org".into()],
        ..StackOptions::default()
    });
    let raw = letter(SUPPORT, "bukher@example.org", "forward", "text");
    stack
        .send(SUPPORT, "bukher@example.org", &raw)
        .await
        .unwrap();
    stack
        .wait_for("bukher@example.org", "INBOX", 1, Duration::from_secs(10))
        .await;
    assert!(
        stack
            .send(SUPPORT, "other@example.org", &raw)
            .await
            .is_err()
    );
}
