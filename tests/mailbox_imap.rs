//! The IMAP inbox against a real Dovecot (started by the harness): TLS modes, IDLE
//! and polling latency, moves into the duty-desk folders, reconnect after a Dovecot
//! restart mid-IDLE, INTERNALDATE for `start_from`.

mod support;

use std::time::{Duration, Instant};

use duty_desk::mailbox::{
    Backoff, Fetched, Folder, ImapSettings, Mailbox, MailboxError, MailboxSettings, TlsMode,
};
use support::{MailStack, REQUESTERS, SUPPORT, StackOptions, password};

fn settings(stack: &MailStack, tls: TlsMode, with_ca: bool) -> ImapSettings {
    ImapSettings {
        host: "localhost".into(),
        port: match tls {
            TlsMode::Implicit => stack.imaps_port(),
            _ => stack.imap_port(),
        },
        tls,
        ca_file: with_ca.then(|| stack.ca_file()),
        username: SUPPORT.into(),
        password: password(SUPPORT),
        folder: "INBOX".into(),
        idle: true,
        poll_interval: Duration::from_secs(1),
        folder_prefix: None,
        timeout: Duration::from_secs(10),
    }
}

async fn connect(s: &ImapSettings) -> Mailbox {
    Mailbox::connect(&MailboxSettings::Imap(s.clone()))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

fn letter(n: usize) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: request {n}\r\n\
         Message-ID: <req-{n}@parents.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\n\
         body {n}\r\n",
        from = REQUESTERS[0]
    )
    .into_bytes()
}

fn subject_of(f: &Fetched) -> String {
    let text = String::from_utf8_lossy(&f.raw);
    text.lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tls_mode_works_with_the_test_ca() {
    let stack = MailStack::start();
    stack
        .send(REQUESTERS[0], SUPPORT, &letter(1))
        .await
        .unwrap();
    stack
        .wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(10))
        .await;
    for (tls, host) in [
        (TlsMode::Implicit, "localhost"),
        (TlsMode::Starttls, "localhost"),
        (TlsMode::Implicit, "127.0.0.1"),
        (TlsMode::None, "127.0.0.1"),
    ] {
        let mut s = settings(&stack, tls, true);
        s.host = host.into();
        let mut mb = connect(&s).await;
        assert!(mb.uidvalidity() > 0);
        let got = mb.fetch_new(0, 10).await.unwrap();
        assert_eq!(got.len(), 1, "{tls:?} {host}");
        assert_eq!(subject_of(&got[0]), "request 1");
        mb.close().await;
    }
    // BODY.PEEK: reading did not mark the message seen (and it is still there).
    assert_eq!(stack.fetch(SUPPORT, "INBOX").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_the_ca_fails_clearly_and_never_falls_back() {
    let stack = MailStack::start();
    for tls in [TlsMode::Implicit, TlsMode::Starttls] {
        let s = settings(&stack, tls, false);
        let err = Mailbox::connect(&MailboxSettings::Imap(s))
            .await
            .unwrap_err();
        let text = err.to_string();
        match &err {
            MailboxError::Tls { host, reason } => {
                assert_eq!(host, "localhost");
                assert!(reason.contains("unknown authority"), "{tls:?}: {reason}");
            }
            other => panic!("{tls:?}: expected a TLS error, got {other:?}"),
        }
        assert!(
            text.contains("localhost") && text.contains("unknown authority"),
            "{text}"
        );
        assert!(!err.is_transient());
        println!("{tls:?} without CA: {text}");
    }
    // `none` is refused for a host that is not loopback, before any connection.
    let mut s = settings(&stack, TlsMode::None, false);
    s.host = "imap.example.org".into();
    let err = Mailbox::connect(&MailboxSettings::Imap(s))
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("imap.example.org"), "{err}");
    // A wrong password is an authentication error.
    let mut s = settings(&stack, TlsMode::Implicit, true);
    s.password = "wrong".into();
    let err = Mailbox::connect(&MailboxSettings::Imap(s))
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::Auth { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sees_a_delivery_within_dovecots_delay() {
    let stack = MailStack::start();
    let s = settings(&stack, TlsMode::Implicit, true);
    let mut mb = connect(&s).await;
    assert!(mb.uses_idle());
    assert!(mb.fetch_new(0, 10).await.unwrap().is_empty());
    let mut figures = Vec::new();
    let mut last = 0;
    for n in 1..=3 {
        let wait = mb.wait_for_new(Duration::from_secs(20));
        let send = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stack
                .send(REQUESTERS[0], SUPPORT, &letter(n))
                .await
                .unwrap();
            Instant::now()
        };
        let (woke, accepted) = tokio::join!(wait, send);
        woke.unwrap();
        let latency = accepted.elapsed();
        figures.push(latency);
        let got = mb.fetch_new(last, 10).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(subject_of(&got[0]), format!("request {n}"));
        last = got[0].uid.unwrap();
        // Dovecot holds IDLE notices back ~0.5 s; allow a generous margin.
        assert!(
            latency < Duration::from_secs(2),
            "IDLE saw it after {latency:?}"
        );
    }
    println!("IDLE latency (SMTP accepted -> IDLE woke): {figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_sees_a_delivery_within_the_poll_interval() {
    let stack = MailStack::start();
    let mut s = settings(&stack, TlsMode::Implicit, true);
    s.idle = false;
    s.poll_interval = Duration::from_millis(700);
    let mut mb = connect(&s).await;
    assert!(!mb.uses_idle());
    stack
        .send(REQUESTERS[0], SUPPORT, &letter(1))
        .await
        .unwrap();
    let accepted = Instant::now();
    let mut got = Vec::new();
    while got.is_empty() {
        mb.wait_for_new(Duration::from_secs(20)).await.unwrap();
        got = mb.fetch_new(0, 10).await.unwrap();
    }
    let latency = accepted.elapsed();
    println!("polling latency with poll_interval 700 ms: {latency:?}");
    assert!(
        latency < s.poll_interval + Duration::from_millis(500),
        "{latency:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_idle_is_polled() {
    let stack = MailStack::start_with(StackOptions {
        imap_capability: Some("IMAP4rev1 LITERAL+ UIDPLUS".into()),
        ..StackOptions::default()
    });
    let mut s = settings(&stack, TlsMode::Implicit, true);
    s.poll_interval = Duration::from_millis(300);
    let mut mb = connect(&s).await;
    assert!(!mb.uses_idle(), "IDLE used although not offered");
    let started = Instant::now();
    mb.wait_for_new(Duration::from_secs(20)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

async fn moves_land_in_the_right_folders(options: StackOptions) {
    let stack = MailStack::start_with(options);
    for n in 1..=6 {
        stack
            .send(REQUESTERS[n % 3], SUPPORT, &letter(n))
            .await
            .unwrap();
    }
    stack
        .wait_for(SUPPORT, "INBOX", 6, Duration::from_secs(10))
        .await;
    let s = settings(&stack, TlsMode::Implicit, true);
    let mut mb = connect(&s).await;
    let folders = stack.folders(SUPPORT).await;
    for f in Folder::ALL {
        assert!(
            folders.contains(&f.path("/")),
            "{f:?} missing in {folders:?}"
        );
    }
    // Bounded batches, in UID order.
    let first = mb.fetch_new(0, 4).await.unwrap();
    assert_eq!(first.len(), 4);
    let rest = mb.fetch_new(first[3].uid.unwrap(), 4).await.unwrap();
    assert_eq!(rest.len(), 2);
    let all: Vec<Fetched> = first.into_iter().chain(rest).collect();
    let uids: Vec<u32> = all.iter().map(|f| f.uid.unwrap()).collect();
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");
    let v = mb.uidvalidity();
    assert!(
        all.iter()
            .all(|f| f.key == format!("imap:{v}:{}", f.uid.unwrap()))
    );

    let plan = [
        Folder::Processed,
        Folder::Processed,
        Folder::Waiting,
        Folder::Ignored,
        Folder::Etiquette,
        Folder::Unreadable,
    ];
    // Postfix may deliver out of sending order: choose the folder by subject.
    for f in &all {
        let n: usize = subject_of(f)
            .trim_start_matches("request ")
            .parse()
            .unwrap();
        mb.move_to(f, plan[n - 1]).await.unwrap();
    }
    mb.close().await;
    assert!(stack.fetch(SUPPORT, "INBOX").await.is_empty());
    let count = |folder: Folder| {
        let stack = &stack;
        async move { stack.fetch(SUPPORT, &folder.path("/")).await }
    };
    assert_eq!(count(Folder::Processed).await.len(), 2);
    for folder in [
        Folder::Waiting,
        Folder::Ignored,
        Folder::Etiquette,
        Folder::Unreadable,
    ] {
        assert_eq!(count(folder).await.len(), 1, "{folder:?}");
    }
    // Nothing deleted: every subject is somewhere, exactly once.
    let mut subjects = Vec::new();
    for folder in Folder::ALL {
        for raw in count(folder).await {
            let text = String::from_utf8_lossy(&raw).into_owned();
            subjects.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix("Subject: "))
                    .map(String::from),
            );
        }
    }
    subjects.sort();
    let want: Vec<String> = (1..=6).map(|n| format!("request {n}")).collect();
    assert_eq!(subjects, want);
    let unreadable = count(Folder::Unreadable).await;
    assert!(String::from_utf8_lossy(&unreadable[0]).contains("Subject: request 6"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_with_uid_move() {
    moves_land_in_the_right_folders(StackOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_with_copy_store_expunge_when_move_is_missing() {
    moves_land_in_the_right_folders(StackOptions {
        imap_capability: Some("IMAP4rev1 LITERAL+ UIDPLUS IDLE".into()),
        ..StackOptions::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_dovecot_restart_mid_idle_without_refetching() {
    let mut stack = MailStack::start();
    stack
        .send(REQUESTERS[0], SUPPORT, &letter(1))
        .await
        .unwrap();
    stack
        .wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(10))
        .await;
    let s = settings(&stack, TlsMode::Implicit, true);
    let mut mb = connect(&s).await;
    let validity = mb.uidvalidity();
    let first = mb.fetch_new(0, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    // The caller handled it but leaves it in INBOX: only the stored UID protects it.
    let mut last_uid = first[0].uid.unwrap();

    // Dovecot goes away while we IDLE.
    let (woke, ()) = tokio::join!(mb.wait_for_new(Duration::from_secs(30)), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stack.stop_dovecot();
    });
    let err = woke.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    println!("IDLE ended with: {err}");
    // Mail arrives while it is down (Postfix queues it: LMTP is down).
    stack
        .send(REQUESTERS[1], SUPPORT, &letter(2))
        .await
        .unwrap();
    stack
        .send(REQUESTERS[2], SUPPORT, &letter(3))
        .await
        .unwrap();
    assert!(
        mb.fetch_new(last_uid, 10).await.is_err(),
        "dead session used"
    );

    // The caller's reconnect loop, with backoff, while Dovecot is still down a while.
    let restart = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        stack.start_dovecot();
    };
    let reconnect = async {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut failures = 0;
        loop {
            match Mailbox::connect(&MailboxSettings::Imap(s.clone())).await {
                Ok(mb) => return (mb, failures),
                Err(e) => {
                    assert!(e.is_transient(), "{e:?}");
                    failures += 1;
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    };
    let (((mut mb, failures), ()), _) = (tokio::join!(reconnect, restart), ());
    assert!(
        failures > 0,
        "Dovecot was down, connect should have failed first"
    );
    assert_eq!(mb.uidvalidity(), validity);

    let mut seen: Vec<Fetched> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 2 && Instant::now() < deadline {
        let batch = mb.fetch_new(last_uid, 10).await.unwrap();
        if let Some(f) = batch.last() {
            last_uid = f.uid.unwrap();
        }
        seen.extend(batch);
        if seen.len() < 2 {
            mb.wait_for_new(Duration::from_secs(2)).await.unwrap();
        }
    }
    let mut subjects: Vec<String> = seen.iter().map(subject_of).collect();
    subjects.sort(); // Postfix may deliver its queue in any order
    assert_eq!(
        subjects,
        ["request 2", "request 3"],
        "each message exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_date_is_the_servers_arrival_time() {
    let stack = MailStack::start();
    stack
        .append(SUPPORT, "INBOX", "01-Jan-2020 10:00:00 +0300", &letter(1))
        .await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    stack
        .send(REQUESTERS[0], SUPPORT, &letter(2))
        .await
        .unwrap();
    stack
        .wait_for(SUPPORT, "INBOX", 2, Duration::from_secs(10))
        .await;
    let s = settings(&stack, TlsMode::Implicit, true);
    let mut mb = connect(&s).await;
    let got = mb.fetch_new(0, 10).await.unwrap();
    assert_eq!(got.len(), 2);
    let old = got[0].internal_date.unwrap();
    assert_eq!(old.to_rfc3339(), "2020-01-01T07:00:00+00:00");
    let new = got[1].internal_date.unwrap();
    assert!(
        new >= before && new <= chrono::Utc::now() + chrono::Duration::seconds(2),
        "{new}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_from_skips_the_old_backlog_without_downloading_it() {
    let stack = MailStack::start();
    for (n, date) in [
        (1, "01-Jan-2020 10:00:00 +0000"),
        (2, "15-Mar-2024 10:00:00 +0000"),
        (3, "31-Aug-2026 23:30:00 +0000"),
    ] {
        stack.append(SUPPORT, "INBOX", date, &letter(n)).await;
    }
    stack
        .send(REQUESTERS[0], SUPPORT, &letter(4))
        .await
        .unwrap();
    stack
        .wait_for(SUPPORT, "INBOX", 4, Duration::from_secs(10))
        .await;
    let s = settings(&stack, TlsMode::Implicit, true);
    let mut mb = connect(&s).await;
    let start_from = "2026-09-01T00:00:00Z".parse().unwrap();
    let after = mb.last_uid_before(start_from).await.unwrap();
    let got = mb.fetch_new(after, 10).await.unwrap();
    let subjects: Vec<String> = got.iter().map(subject_of).collect();
    assert_eq!(subjects, ["request 4"]);
    assert!(got[0].internal_date.unwrap() >= start_from);
    // Everything is newer than a start in the past: nothing skipped.
    let past = "2019-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(mb.last_uid_before(past).await.unwrap(), 0);
    // Everything is older than a start in the future: skip all.
    let future = "2030-01-01T00:00:00Z".parse().unwrap();
    let all = mb.last_uid_before(future).await.unwrap();
    assert!(mb.fetch_new(all, 10).await.unwrap().is_empty());
    // A boundary inside a day: 31 Aug 23:30 is before 23:45 the same day.
    let late = "2026-08-31T23:45:00Z".parse().unwrap();
    let after = mb.last_uid_before(late).await.unwrap();
    let got = mb.fetch_new(after, 10).await.unwrap();
    assert_eq!(
        got.iter().map(subject_of).collect::<Vec<_>>(),
        ["request 4"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_folder_shows_a_new_uidvalidity() {
    let stack = MailStack::start();
    let mut admin = stack.imap(SUPPORT).await;
    admin.command("CREATE \"Requests\"").await.unwrap();
    stack
        .append(
            SUPPORT,
            "Requests",
            "01-Nov-2026 10:00:00 +0000",
            &letter(1),
        )
        .await;
    let mut s = settings(&stack, TlsMode::Implicit, true);
    s.folder = "Requests".into();
    let mut mb = connect(&s).await;
    let old_validity = mb.uidvalidity();
    let old = mb.fetch_new(0, 10).await.unwrap();
    assert_eq!(old.len(), 1);
    mb.close().await;

    admin.command("DELETE \"Requests\"").await.unwrap();
    admin.command("CREATE \"Requests\"").await.unwrap();
    admin.logout().await;
    stack
        .append(
            SUPPORT,
            "Requests",
            "01-Nov-2026 10:00:00 +0000",
            &letter(1),
        )
        .await;
    let mut mb = connect(&s).await;
    assert_ne!(mb.uidvalidity(), old_validity, "the caller must rescan");
    // A key from the old numbering is refused, not applied to another message.
    let err = mb.move_to(&old[0], Folder::Processed).await.unwrap_err();
    assert!(matches!(err, MailboxError::Stale { .. }), "{err:?}");
    let again = mb.fetch_new(0, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].key, old[0].key);
    mb.move_to(&again[0], Folder::Processed).await.unwrap();
}

/// A server stopped between the copy and the expunge of a MOVE leaves a letter both
/// in the inbox and in its folder: the mailbox finds the filed copy by Message-ID
/// and removes only the inbox copy, so a second move never files it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_left_behind_by_an_interrupted_move_is_found_and_not_filed_twice() {
    let stack = MailStack::start();
    let s = settings(&stack, TlsMode::Implicit, true);
    // Connect once so the duty-desk folders exist.
    connect(&s).await.close().await;
    stack
        .append(SUPPORT, "INBOX", "28-Nov-2026 10:00:00 +0000", &letter(1))
        .await;
    stack
        .append(SUPPORT, "INBOX", "28-Nov-2026 10:00:01 +0000", &letter(2))
        .await;
    stack
        .append(
            SUPPORT,
            "duty-desk/Etiquette",
            "28-Nov-2026 10:00:00 +0000",
            &letter(1),
        )
        .await;
    let mut mb = connect(&s).await;
    let got = mb.fetch_new(0, 10).await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        mb.filed_copy(Folder::Etiquette, "req-1@parents.test")
            .await
            .unwrap()
    );
    assert!(
        !mb.filed_copy(Folder::Etiquette, "req-2@parents.test")
            .await
            .unwrap()
    );
    assert!(
        !mb.filed_copy(Folder::Processed, "req-1@parents.test")
            .await
            .unwrap()
    );
    // The session is back on the inbox: discard the copy there, move the other.
    mb.discard_copy(&got[0]).await.unwrap();
    mb.move_to(&got[1], Folder::Processed).await.unwrap();
    mb.close().await;
    assert!(stack.fetch(SUPPORT, "INBOX").await.is_empty());
    assert_eq!(stack.fetch(SUPPORT, "duty-desk/Etiquette").await.len(), 1);
    assert_eq!(stack.fetch(SUPPORT, "duty-desk/Processed").await.len(), 1);
}
