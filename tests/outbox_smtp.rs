//! The SMTP outbox against a real Postfix (started by the harness): every TLS mode,
//! clear TLS errors, transient vs permanent failures, one reused connection, and the
//! time a send takes (TCP_NODELAY on and off).

mod support;

use std::time::{Duration, Instant};

use duty_desk::outbox::{Blame, Outbox, OutboxSettings, SendError, SmtpSettings, TlsMode};
use support::{MailStack, SPECIALISTS, SUPPORT, password};

fn settings(stack: &MailStack, tls: TlsMode, with_ca: bool) -> SmtpSettings {
    let (port, auth) = match tls {
        TlsMode::Implicit => (stack.smtps_port(), true),
        TlsMode::Starttls => (stack.submission_port(), true),
        TlsMode::None => (stack.smtp_port(), false),
    };
    SmtpSettings {
        host: if tls == TlsMode::None {
            "127.0.0.1"
        } else {
            "localhost"
        }
        .into(),
        port,
        tls,
        ca_file: with_ca.then(|| stack.ca_file()),
        username: auth.then(|| SUPPORT.to_string()),
        password: auth.then(|| password(SUPPORT)),
        hello_name: Some("duty-desk.test".into()),
        timeout: Duration::from_secs(10),
        ..SmtpSettings::default()
    }
}

fn message(to: &str, n: usize) -> Vec<u8> {
    format!(
        "From: Поддержка <{SUPPORT}>\r\nTo: {to}\r\nSubject: reply {n}\r\n\
         Message-ID: <reply-{n}@school.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\nЗдравствуйте!\r\n.\r\nline after a lone dot\r\n"
    )
    .into_bytes()
}

async fn outbox(s: SmtpSettings) -> Outbox {
    Outbox::connect(&OutboxSettings::Smtp(s))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tls_mode_delivers_with_the_test_ca() {
    let stack = MailStack::start();
    let modes = [TlsMode::Implicit, TlsMode::Starttls, TlsMode::None];
    for (i, tls) in modes.into_iter().enumerate() {
        let to = SPECIALISTS[i];
        let mut ob = outbox(settings(&stack, tls, true)).await;
        ob.send(SUPPORT, &[to.to_string()], &message(to, i))
            .await
            .unwrap();
        ob.close().await;
        let got = stack
            .wait_for(to, "INBOX", 1, Duration::from_secs(10))
            .await;
        let text = String::from_utf8_lossy(&got[0]);
        assert!(
            text.contains(&format!("Subject: reply {i}")),
            "{tls:?}: {text}"
        );
        assert!(
            text.contains("\r\n.\r\nline after a lone dot"),
            "dot-stuffing: {text}"
        );
        assert!(text.contains("Здравствуйте!"), "8-bit body: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_the_ca_fails_clearly() {
    let stack = MailStack::start();
    for tls in [TlsMode::Implicit, TlsMode::Starttls] {
        let err = Outbox::connect(&OutboxSettings::Smtp(settings(&stack, tls, false)))
            .await
            .unwrap_err();
        match &err {
            SendError::Tls { host, reason } => {
                assert_eq!(host, "localhost");
                assert!(reason.contains("unknown authority"), "{tls:?}: {reason}");
            }
            other => panic!("{tls:?}: expected a TLS error, got {other:?}"),
        }
        assert_eq!(err.blame(), Blame::Setup, "{err:?}");
        println!("{tls:?} without CA: {err}");
    }
    let mut s = settings(&stack, TlsMode::None, false);
    s.host = "smtp.example.org".into();
    assert!(matches!(
        Outbox::connect(&OutboxSettings::Smtp(s)).await,
        Err(SendError::Config(_))
    ));
    let mut s = settings(&stack, TlsMode::Implicit, true);
    s.password = Some("wrong".into());
    let err = Outbox::connect(&OutboxSettings::Smtp(s)).await.unwrap_err();
    assert!(matches!(err, SendError::Auth { .. }), "{err:?}");
    assert_eq!(err.blame(), Blame::Setup, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_recipient_is_permanent_and_the_next_send_works() {
    let stack = MailStack::start();
    let mut ob = outbox(settings(&stack, TlsMode::Implicit, true)).await;
    let err = ob
        .send(
            SUPPORT,
            &["nobody@school.test".into()],
            &message("nobody@school.test", 1),
        )
        .await
        .unwrap_err();
    match &err {
        SendError::Rejected { code, .. } => assert_eq!(*code, 550, "{err}"),
        other => panic!("expected a 5xx rejection, got {other:?}"),
    }
    assert_eq!(err.blame(), Blame::Mail, "{err:?}");
    println!("unknown recipient: {err}");
    let to = SPECIALISTS[0];
    ob.send(SUPPORT, &[to.into()], &message(to, 2))
        .await
        .unwrap();
    stack
        .wait_for(to, "INBOX", 1, Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_down_is_transient_and_sending_resumes_after_restart() {
    let mut stack = MailStack::start();
    let to = SPECIALISTS[1];
    let mut ob = outbox(settings(&stack, TlsMode::Starttls, true)).await;
    ob.send(SUPPORT, &[to.into()], &message(to, 1))
        .await
        .unwrap();
    stack.stop_postfix();
    let err = ob
        .send(SUPPORT, &[to.into()], &message(to, 2))
        .await
        .unwrap_err();
    assert_eq!(err.blame(), Blame::Server, "{err:?}");
    println!("while Postfix is down: {err}");
    let err = ob
        .send(SUPPORT, &[to.into()], &message(to, 2))
        .await
        .unwrap_err();
    assert_eq!(err.blame(), Blame::Server, "{err:?}");
    stack.start_postfix();
    ob.send(SUPPORT, &[to.into()], &message(to, 2))
        .await
        .unwrap();
    let got = stack
        .wait_for(to, "INBOX", 2, Duration::from_secs(10))
        .await;
    assert_eq!(got.len(), 2);
}

/// Postfix's `disconnect from …` lines of sessions that carried exactly `n`
/// messages (`mail=n`): one per connection that was reused for all of them.
fn sessions_with(stack: &MailStack, n: usize) -> usize {
    let log = std::fs::read_to_string(stack.dir().join("postfix/postfix.log")).unwrap_or_default();
    let mails = format!(" mail={n} ");
    log.lines()
        .filter(|l| l.contains("postfix/smtpd") && l.contains(": disconnect from"))
        .filter(|l| l.contains(&mails))
        .count()
}

async fn median_send(stack: &MailStack, tls: TlsMode, nodelay: bool, n: usize) -> Duration {
    let mut s = settings(stack, tls, true);
    s.nodelay = nodelay;
    let to = SPECIALISTS[5];
    let mut ob = outbox(s).await;
    let sessions_before = sessions_with(stack, n);
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let raw = message(to, i);
        let t = Instant::now();
        ob.send(SUPPORT, &[to.into()], &raw).await.unwrap();
        times.push(t.elapsed());
    }
    ob.close().await;
    // All on one connection: Postfix logs one session with all n messages
    // (its log may trail the socket by a moment).
    let deadline = Instant::now() + Duration::from_secs(10);
    while sessions_with(stack, n) == sessions_before {
        assert!(
            Instant::now() < deadline,
            "{tls:?}: no SMTP session carried all {n} messages: connection not reused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    times.sort();
    times[n / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_takes_a_few_milliseconds_on_every_tls_mode() {
    let stack = MailStack::start();
    let n = 50;
    let mut report = Vec::new();
    for tls in [TlsMode::Implicit, TlsMode::Starttls, TlsMode::None] {
        let without = median_send(&stack, tls, false, n).await;
        let with = median_send(&stack, tls, true, n).await;
        report.push(format!(
            "{tls:?}: median of {n} sends {with:.2?} with TCP_NODELAY, {without:.2?} without"
        ));
        // Measured against the same sends without TCP_NODELAY in the same run (so a
        // loaded machine slows both): Nagle + delayed ACK alone costs ~40 ms a message.
        assert!(
            with * 2 < without,
            "{tls:?}: {with:?} per send with TCP_NODELAY, {without:?} without"
        );
    }
    for line in &report {
        println!("{line}");
    }
    stack
        .wait_for(SPECIALISTS[5], "INBOX", 6 * n, Duration::from_secs(60))
        .await;
}
