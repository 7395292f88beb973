//! duty-desk as a service, against the real Dovecot + Postfix: systemd notification
//! and watchdog, SIGTERM mid-batch, SIGHUP reloads (good and broken), what the log
//! says and never says, `status`, the stall alert, and the purge of personal data.
//!
//! Every test drives the real binary as a child process in a [`support::Home`]
//! made by `Home::service` (mailbox: IMAP to the stack; outbox: STARTTLS submission
//! with AUTH; passwords in `$CREDENTIALS_DIRECTORY`; state in the home).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use support::net::{silent_server, smtp_hanging_after_data};
use support::{
    ADMIN, Home, MailStack, OFF_DUTY, ON_DUTY, REQUESTERS, SPECIALISTS, SUPPORT, header, password,
    request, request_without_class,
};

const SERVICE: &str = "stall_alert_after = \"15m\"\npurge_after_days = 365\nclose_after = \"30d\"";

/// Sends `raw` from `from` to the support mailbox.
async fn deliver(stack: &MailStack, from: &str, raw: &[u8]) {
    stack
        .send(from, SUPPORT, raw)
        .await
        .unwrap_or_else(|e| panic!("send from {from}: {e}"));
}

/// Our letters in the inboxes of `users`, as (ticket, kind, raw) parsed from our
/// Message-IDs (`duty-desk.TICKET.KIND.RANDOM@domain`).
async fn our_letters(stack: &MailStack, users: &[&str]) -> Vec<(i64, String, Vec<u8>)> {
    let mut out = Vec::new();
    for u in users {
        for raw in stack.fetch(u, "INBOX").await {
            let id = header(&raw, "Message-ID").unwrap_or_default();
            let id = id.trim_matches(|c| c == '<' || c == '>');
            let mut parts = id.split('.');
            if parts.next() != Some("duty-desk") {
                continue;
            }
            let ticket = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            let kind = parts.next().unwrap_or("").to_string();
            out.push((ticket, kind, raw));
        }
    }
    out
}

/// Polls until `our_letters` of `users` holds at least `n` letters of `kind`.
async fn wait_letters(
    stack: &MailStack,
    users: &[&str],
    kind: &str,
    n: usize,
    timeout: Duration,
    log: impl Fn() -> String,
) -> Vec<(i64, String, Vec<u8>)> {
    let deadline = Instant::now() + timeout;
    loop {
        let got = our_letters(stack, users).await;
        if got.iter().filter(|l| l.1 == kind).count() >= n {
            return got;
        }
        if Instant::now() >= deadline {
            let kinds: Vec<_> = got.iter().map(|l| (l.0, l.1.clone())).collect();
            panic!(
                "waited {timeout:?} for {n} {kind} letters; have {kinds:?}\n--- duty-desk log ---\n{}",
                log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- 1. systemd notification ----------------------------------------------------------

/// What the daemon told the notify socket, with when it arrived.
/// The daemon's sd_notify messages, each stamped when it arrived: a thread
/// reads the socket all the time, so the stamps hold while the test is busy
/// elsewhere (starting Dovecot takes seconds on a loaded machine).
struct Notes {
    rx: mpsc::Receiver<(Instant, String)>,
    stop: Arc<AtomicBool>,
    seen: Vec<(Instant, String)>,
}

impl Notes {
    fn bind(path: &std::path::Path) -> Notes {
        let sock = UnixDatagram::bind(path).expect("bind the notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if tx.send((Instant::now(), msg)).is_err() {
                        break;
                    }
                }
            }
        });
        Notes {
            rx,
            stop,
            seen: Vec::new(),
        }
    }

    /// Takes what has arrived until `until` is true of a new message or `timeout` passes.
    fn read_until(&mut self, timeout: Duration, until: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while let Ok((at, msg)) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push((at, msg.clone()));
            if until(&msg) {
                return Some(msg);
            }
        }
        None
    }

    fn all(&self) -> String {
        self.seen
            .iter()
            .map(|s| s.1.replace('\n', " | "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Notes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_only_after_login_then_status_and_watchdog_pings() {
    let mut stack = MailStack::start();
    let desk = Home::service(&stack, SERVICE);
    // A complete request off duty: it waits for Thursday 14:00 (Бухер В.В.).
    let (_, raw) = request(REQUESTERS[0], 1);
    deliver(&stack, REQUESTERS[0], &raw).await;
    stack
        .wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(20))
        .await;
    stack.stop_dovecot();

    let sock_path = desk.dir().join("notify.sock");
    let mut notes = Notes::bind(&sock_path);
    // systemd sets WATCHDOG_PID to the main pid; `exec` keeps the shell's pid.
    let mut cmd = desk.command_under(
        &["sh", "-c", r#"WATCHDOG_PID=$$ exec "$0" "$@""#],
        &["run", "--now", OFF_DUTY],
    );
    cmd.env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "3000000");
    let mut d = desk.spawn_command(cmd);

    // The mailbox cannot be logged into: no READY, but the watchdog is fed.
    let early = notes.read_until(Duration::from_secs(4), |m| m.contains("READY=1"));
    assert!(
        early.is_none(),
        "READY before the mailbox login:\n{}\n{}",
        notes.all(),
        d.log()
    );
    assert!(
        notes.seen.iter().any(|s| s.1.contains("WATCHDOG=1")),
        "no watchdog ping while the mailbox is down:\n{}\n{}",
        notes.all(),
        d.log()
    );

    stack.start_dovecot();
    let ready = notes.read_until(Duration::from_secs(30), |m| m.contains("READY=1"));
    assert!(ready.is_some(), "no READY:\n{}\n{}", notes.all(), d.log());
    // READY came after the login (recorded in the store as the last contact).
    let contact = desk.store().query_row(
        "SELECT value FROM kv WHERE key = 'last_mailbox_contact'",
        [],
        |r| r.get::<_, String>(0),
    );
    assert!(contact.is_ok(), "READY without a recorded mailbox login");

    let status = notes.read_until(Duration::from_secs(30), |m| {
        m.contains("STATUS=") && m.contains("1 waiting for duty")
    });
    let status = status.unwrap_or_else(|| panic!("no STATUS line:\n{}\n{}", notes.all(), d.log()));
    assert!(
        status.contains("IDLE; 1 waiting for duty; next window Thu 14:00 Бухер В.В."),
        "{status}"
    );

    // Pings keep coming while the daemon idles: it waits in IDLE for up to a
    // minute, so a loop that only showed life between waits would ping at most
    // once in these ten seconds; fed every second, it pings about ten times. (No
    // bound on a single gap: a loaded machine may delay one ping, which is not
    // what this test is about.)
    let since = Instant::now();
    notes.read_until(Duration::from_secs(10), |_| false);
    let pings = notes
        .seen
        .iter()
        .filter(|s| s.0 >= since && s.1.contains("WATCHDOG=1"))
        .count();
    assert!(pings >= 3, "{pings} pings in 10 s:\n{}", notes.all());

    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        d.log()
    );
    notes.read_until(Duration::from_millis(300), |m| m.contains("STOPPING=1"));
    assert!(
        notes.seen.iter().any(|s| s.1.contains("STOPPING=1")),
        "{}",
        notes.all()
    );
}

// ---- 2. signals ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_batch_exits_0_and_loses_or_doubles_nothing() {
    // Enough letters that the stop lands mid-batch: one takes a few milliseconds.
    const N: usize = 150;
    let stack = MailStack::start();
    let desk = Home::service(&stack, SERVICE);
    let mut ids = BTreeSet::new();
    for n in 0..N {
        let from = REQUESTERS[n % REQUESTERS.len()];
        let (id, raw) = request(from, n);
        deliver(&stack, from, &raw).await;
        ids.insert(id);
    }
    stack
        .wait_for(SUPPORT, "INBOX", N, Duration::from_secs(60))
        .await;

    let mut d = desk.spawn(&["run", "--now", ON_DUTY]);
    d.wait_log("decision", 1, Duration::from_secs(60));
    d.signal("TERM");
    let stopped = Instant::now();
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "no clean exit within 10 s of SIGTERM: {status:?}\n{}",
        d.log()
    );
    let decided = d.log().matches("decision").count();
    eprintln!(
        "stopped in {:?} after {decided} decisions of {N}",
        stopped.elapsed()
    );
    // SIGTERM came right after the first decision: the batch was not finished.
    assert!(
        decided < N,
        "SIGTERM came too late to test a stop mid-batch"
    );
    let first_log = d.log();
    drop(d);

    // Restart: everything left is handled, nothing twice.
    let mut d = desk.spawn(&["run", "--now", ON_DUTY]);
    let log = || format!("{first_log}\n--- second run ---\n{}", d.log());
    let mut people: Vec<&str> = REQUESTERS.to_vec();
    people.extend(SPECIALISTS);
    wait_letters(&stack, &people, "ack_now", N, Duration::from_secs(120), log).await;
    wait_letters(&stack, &people, "forward", N, Duration::from_secs(120), log).await;
    // Let anything doubled arrive before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = our_letters(&stack, &people).await;
    d.signal("TERM");
    assert!(
        d.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "{}",
        d.log()
    );

    let mut per_kind: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (t, k, _) in &got {
        per_kind.entry(k.clone()).or_default().push(*t);
    }
    let tickets: Vec<i64> = (1..=N as i64).collect();
    for kind in ["ack_now", "forward"] {
        let mut got = per_kind.get(kind).cloned().unwrap_or_default();
        got.sort();
        assert_eq!(got, tickets, "{kind} letters per ticket: {per_kind:?}");
    }
    assert_eq!(per_kind.len(), 2, "unexpected kinds: {per_kind:?}");
    // Each request was answered exactly once.
    let mut answered: BTreeMap<String, usize> = BTreeMap::new();
    for (_, k, raw) in &got {
        if k == "ack_now" {
            let irt = header(raw, "In-Reply-To").unwrap_or_default();
            *answered
                .entry(irt.trim_matches(|c| c == '<' || c == '>').to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(answered.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(answered.values().all(|n| *n == 1), "{answered:?}");
    // The store: every letter once, the inbox empty.
    assert_eq!(desk.count("SELECT count(*) FROM messages"), N as i64);
    assert_eq!(
        desk.count("SELECT count(DISTINCT message_id) FROM messages"),
        N as i64
    );
    assert_eq!(
        desk.count("SELECT count(*) FROM messages WHERE moved = 0"),
        0
    );
    assert_eq!(
        desk.count("SELECT count(*) FROM outgoing WHERE state != 'sent'"),
        0
    );
    assert!(stack.fetch(SUPPORT, "INBOX").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_takes_a_new_template_and_refuses_a_broken_config() {
    let stack = MailStack::start();
    let desk = Home::service(&stack, SERVICE);
    let good_config = std::fs::read_to_string(&desk.config).expect("config");
    let mut d = desk.spawn(&["run", "--now", ON_DUTY]);
    d.wait_log("mailbox: connected", 1, Duration::from_secs(30));
    let who = REQUESTERS[1];

    let (_, raw) = request(who, 1);
    deliver(&stack, who, &raw).await;
    let got = wait_letters(
        &stack,
        &[who],
        "ack_now",
        1,
        Duration::from_secs(30),
        || d.log(),
    )
    .await;
    assert!(!String::from_utf8_lossy(&got[0].2).contains("RELOADED-MARK"));

    // A changed template, then SIGHUP: the next reply uses it.
    desk.write_template(
        "ack_now",
        "Subject: Ticket {{ ticket }} RELOADED-MARK\n\nYour ticket {{ ticket }} went to {{ assignee.name }}.\n",
    );
    d.signal("HUP");
    d.wait_log("config and templates reloaded", 1, Duration::from_secs(10));
    let (_, raw) = request(who, 2);
    deliver(&stack, who, &raw).await;
    let got = wait_letters(
        &stack,
        &[who],
        "ack_now",
        2,
        Duration::from_secs(30),
        || d.log(),
    )
    .await;
    let second = got
        .iter()
        .find(|l| l.0 == 2 && l.1 == "ack_now")
        .expect("ack #2");
    assert!(
        String::from_utf8_lossy(&second.2).contains("Ticket 2 RELOADED-MARK"),
        "{}",
        String::from_utf8_lossy(&second.2)
    );

    // A broken config (a time of day that does not exist), then SIGHUP: refused, said
    // clearly (file and line), and the config and templates in force keep working.
    let broken = good_config.replace("\"08:00-10:00\"", "\"08:00-25:00\"");
    assert_ne!(broken, good_config);
    desk.write_config(&broken);
    d.signal("HUP");
    d.wait_log("the new config is refused", 1, Duration::from_secs(10));
    let log = d.log();
    let line = log
        .lines()
        .find(|l| l.contains("the new config is refused"))
        .expect("the refusal line");
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("duty-desk.toml"), "{line}");
    assert!(
        line.contains("25:00") || line.contains("time of day"),
        "{line}"
    );
    let (_, raw) = request(who, 3);
    deliver(&stack, who, &raw).await;
    let got = wait_letters(
        &stack,
        &[who],
        "ack_now",
        3,
        Duration::from_secs(30),
        || d.log(),
    )
    .await;
    let third = got
        .iter()
        .find(|l| l.0 == 3 && l.1 == "ack_now")
        .expect("ack #3");
    assert!(String::from_utf8_lossy(&third.2).contains("Ticket 3 RELOADED-MARK"));
    wait_letters(
        &stack,
        SPECIALISTS.as_slice(),
        "forward",
        3,
        Duration::from_secs(30),
        || d.log(),
    )
    .await;

    // A good config with another [mailbox] (polling instead of IDLE): the inbox
    // reconnects with it at once, and letters keep being handled.
    let polling = good_config.replace("idle = true", "idle = false");
    assert_ne!(polling, good_config);
    desk.write_config(&polling);
    d.signal("HUP");
    d.wait_log("config and templates reloaded", 2, Duration::from_secs(10));
    d.wait_log(
        "settings changed by a reload; reconnecting",
        1,
        Duration::from_secs(10),
    );
    d.wait_log("mailbox: connected idle=false", 1, Duration::from_secs(30));
    let (_, raw) = request(who, 4);
    deliver(&stack, who, &raw).await;
    let got = wait_letters(
        &stack,
        &[who],
        "ack_now",
        4,
        Duration::from_secs(30),
        || d.log(),
    )
    .await;
    let fourth = got
        .iter()
        .find(|l| l.0 == 4 && l.1 == "ack_now")
        .expect("ack #4");
    assert!(String::from_utf8_lossy(&fourth.2).contains("Ticket 4 RELOADED-MARK"));

    d.signal("TERM");
    assert!(
        d.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "{}",
        d.log()
    );
}

// ---- 3. logs ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_log_has_one_line_per_decision_and_no_personal_data() {
    let stack = MailStack::start();
    let desk = Home::service(&stack, SERVICE);
    let (_, complete) = request(REQUESTERS[0], 1);
    deliver(&stack, REQUESTERS[0], &complete).await;
    let (_, partial) = request_without_class(REQUESTERS[2], 2);
    deliver(&stack, REQUESTERS[2], &partial).await;
    // A sender the mail server does not know: the reply is refused with a 550 that
    // names the address; the log must not.
    let ghost = "ghost.requester@parents.test";
    let (_, raw) = request(ghost, 3);
    deliver(&stack, ghost, &raw).await;
    stack
        .wait_for(SUPPORT, "INBOX", 3, Duration::from_secs(20))
        .await;

    let out = desk.output(&["run", "--once", "--now", ON_DUTY]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");

    let decisions: Vec<&str> = log.lines().filter(|l| l.contains("decision")).collect();
    assert_eq!(decisions.len(), 3, "{log}");
    let refused = log
        .lines()
        .find(|l| l.contains("send refused permanently"))
        .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    assert!(refused.contains("…@parents.test"), "{refused}");
    let forward = decisions
        .iter()
        .find(|l| l.contains("verdict=\"forward\"") || l.contains("verdict=forward"))
        .unwrap_or_else(|| panic!("no forward decision:\n{log}"));
    assert!(forward.contains("INFO"), "{forward}");
    assert!(forward.contains("ticket=\"#"), "{forward}");
    assert!(forward.contains("reason="), "{forward}");
    assert!(
        forward.contains("Бамбуркин С.П.") || forward.contains("Макаренко С.О."),
        "no assignee: {forward}"
    );
    let ask = decisions
        .iter()
        .find(|l| l.contains("ask"))
        .unwrap_or_else(|| panic!("no ask decision:\n{log}"));
    assert!(ask.contains("class"), "{ask}");

    for secret in [
        REQUESTERS[0],
        REQUESTERS[2],
        ghost,
        "ghost.requester",
        "parent1",
        "parent3",
        "Смирнова",
        "белая страница",
        "дневник",
        "смены пароля",
        &password(SUPPORT),
    ] {
        assert!(
            !log.contains(secret),
            "the info log holds {secret:?}:\n{log}"
        );
    }

    // Under journald (JOURNAL_STREAM names our stderr) every line carries its priority.
    let (_, again) = request(REQUESTERS[0], 4);
    deliver(&stack, REQUESTERS[0], &again).await;
    stack
        .wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(20))
        .await;
    let journal = desk.dir().join("journal.log");
    let file = std::fs::File::create(&journal).expect("create journal file");
    let stream = {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().expect("stat");
        format!("{}:{}", m.dev(), m.ino())
    };
    let status = desk
        .command(&["run", "--once", "--now", ON_DUTY])
        .env("JOURNAL_STREAM", stream)
        .stdout(Stdio::null())
        .stderr(file)
        .status()
        .expect("run");
    let journal = std::fs::read_to_string(&journal).expect("read journal file");
    assert!(status.success(), "{journal}");
    assert!(
        journal
            .lines()
            .any(|l| l.starts_with("<6>") && l.contains("decision")),
        "{journal}"
    );
    assert!(
        journal.lines().all(|l| ["<3>", "<4>", "<6>", "<7>"]
            .iter()
            .any(|p| l.starts_with(p))),
        "{journal}"
    );

    // -v shows more.
    let (_, again) = request(REQUESTERS[0], 3);
    deliver(&stack, REQUESTERS[0], &again).await;
    stack
        .wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(20))
        .await;
    let out = desk.output(&["-v", "run", "--once", "--now", ON_DUTY]);
    let verbose = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{verbose}");
    assert!(verbose.contains("DEBUG"), "{verbose}");
}

// ---- 4. status -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_tickets_queues_contact_errors_and_personal_data() {
    let mut stack = MailStack::start();
    let desk = Home::service(&stack, SERVICE);

    // A failed run first (the mailbox is down): an error to report.
    stack.stop_dovecot();
    let out = desk.output(&["run", "--once", "--now", OFF_DUTY]);
    assert!(!out.status.success());
    stack.start_dovecot();

    for (n, from) in REQUESTERS[..2].iter().enumerate() {
        let (_, raw) = request(from, n);
        deliver(&stack, from, &raw).await;
    }
    let (_, raw) = request_without_class(REQUESTERS[2], 9);
    deliver(&stack, REQUESTERS[2], &raw).await;
    stack
        .wait_for(SUPPORT, "INBOX", 3, Duration::from_secs(20))
        .await;
    let out = desk.output(&["run", "--once", "--now", OFF_DUTY]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let status = desk.status();
    let section = |title: &str| -> String {
        let start = status
            .find(title)
            .unwrap_or_else(|| panic!("no {title:?} in:\n{status}"));
        let rest = &status[start..];
        rest.split("\n\n").next().unwrap_or("").to_string()
    };
    let tickets = section("Tickets by state:");
    assert!(
        tickets
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["waiting_duty", "2"]),
        "{status}"
    );
    assert!(
        tickets
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["waiting_sender", "1"]),
        "{status}"
    );
    let due = section("Waiting for a duty window:");
    let due_lines: Vec<&str> = due.lines().skip(1).collect();
    assert_eq!(due_lines.len(), 2, "{status}");
    for l in &due_lines {
        assert!(l.contains("due 2021-09-09 14:00"), "{status}");
        assert!(l.contains("Бухер В.В."), "{status}");
    }
    let outgoing = section("Outgoing mail:");
    assert!(
        outgoing
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["sent", "3"]),
        "two acknowledgements and one question were sent:\n{status}"
    );
    let mailbox = section("Mailbox:");
    assert!(
        mailbox.contains("last successful contact 2021-09-09"),
        "{status}"
    );
    assert!(!mailbox.contains("UNREADABLE"), "{status}");
    let errors = section("Recent errors:");
    assert!(errors.contains("mailbox_error"), "{status}");
    let personal = section("Personal data:");
    assert!(
        personal.contains("oldest held from 2021-09-09 12:00"),
        "{status}"
    );
    assert!(personal.contains("purged after 365 days"), "{status}");
}

// ---- 5. stall alert ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_mailbox_gives_one_alert_and_one_recovery_note() {
    let mut stack = MailStack::start();
    let desk = Home::service(
        &stack,
        "stall_alert_after = \"3s\"\npurge_after_days = 365\nclose_after = \"30d\"",
    );
    let mut d = desk.spawn(&["run", "--now", ON_DUTY]);
    d.wait_log("mailbox: connected", 1, Duration::from_secs(60));

    stack.stop_dovecot();
    // Longer than the threshold, with the daemon trying meanwhile.
    let down = Instant::now();
    d.wait_log("alert queued for the admin", 1, Duration::from_secs(60));
    while down.elapsed() < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = desk.status();
    assert!(during.contains("UNREADABLE since"), "{during}");
    stack.start_dovecot();
    d.wait_log("recovery note queued", 1, Duration::from_secs(90));

    wait_letters(
        &stack,
        &[ADMIN],
        "stall_recovered",
        1,
        Duration::from_secs(90),
        || d.log(),
    )
    .await;
    wait_letters(
        &stack,
        &[ADMIN],
        "stall_alert",
        1,
        Duration::from_secs(90),
        || d.log(),
    )
    .await;
    // Give a second alert or note every chance to show up before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = our_letters(&stack, &[ADMIN]).await;
    let kinds: Vec<&str> = all.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "stall_alert").count(),
        1,
        "{kinds:?}\n{}",
        d.log()
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "stall_recovered").count(),
        1,
        "{kinds:?}\n{}",
        d.log()
    );
    assert_eq!(all.len(), 2, "{kinds:?}");
    assert!(!desk.status().contains("UNREADABLE"));

    d.signal("TERM");
    assert!(
        d.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "{}",
        d.log()
    );
}

// ---- 6. personal data ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_of_closed_tickets_is_purged_numbers_and_dates_stay() {
    let stack = MailStack::start();
    let desk = Home::service(
        &stack,
        "stall_alert_after = \"15m\"\npurge_after_days = 10\nclose_after = \"5d\"",
    );
    let (_, raw) = request(REQUESTERS[0], 1);
    deliver(&stack, REQUESTERS[0], &raw).await;
    let (_, raw) = request_without_class(REQUESTERS[2], 2);
    deliver(&stack, REQUESTERS[2], &raw).await;
    stack
        .wait_for(SUPPORT, "INBOX", 2, Duration::from_secs(20))
        .await;
    let run = |now: &str| {
        let out = desk.output(&["run", "--once", "--now", now]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(ON_DUTY);
    let status = desk.status();
    assert!(
        status.contains("oldest held from 2021-09-09 08:30"),
        "{status}"
    );
    let personal = |desk: &Home| {
        desk.count(
            "SELECT count(*) FROM tickets WHERE requester IS NOT NULL OR full_name IS NOT NULL
             OR description IS NOT NULL",
        ) + desk.count("SELECT count(*) FROM messages WHERE raw IS NOT NULL OR sender IS NOT NULL")
    };
    assert!(personal(&desk) > 0);

    // Ten days on: closed (idle 5 days) but not yet purged.
    run("2021-09-19T09:00:00+03:00");
    assert_eq!(
        desk.count("SELECT count(*) FROM tickets WHERE state = 'closed'"),
        2
    );
    assert!(personal(&desk) > 0);
    assert!(desk.status().contains("oldest held from 2021-09-09"));

    // Past closing + purge_after_days: personal data gone, numbers and dates kept.
    run("2021-10-01T09:00:00+03:00");
    assert_eq!(personal(&desk), 0);
    assert_eq!(
        desk.count(
            "SELECT count(*) FROM tickets WHERE number IN (1, 2) AND created_at LIKE '2021-09-09%'
             AND closed_at IS NOT NULL AND purged_at IS NOT NULL"
        ),
        2
    );
    assert_eq!(
        desk.count(
            "SELECT count(*) FROM outgoing WHERE ticket IS NOT NULL
             AND (length(raw) > 0 OR recipients != '[]' OR auto_reply_to IS NOT NULL)"
        ),
        0
    );
    let status = desk.status();
    assert!(status.contains("none held"), "{status}");
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["closed", "2"]),
        "{status}"
    );
}

// ---- 7. a stop is not held up by a hung server ----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_mailbox_or_smtp_server_does_not_delay_a_stop() {
    let stack = MailStack::start();

    // The mailbox server accepts and never greets: the daemon is inside its login.
    let desk = Home::service(&stack, SERVICE);
    let text = std::fs::read_to_string(&desk.config).expect("config");
    let silent = silent_server();
    desk.write_config(&text.replace(
        &format!("port = {}", stack.imap_port()),
        &format!("port = {silent}"),
    ));
    let mut d = desk.spawn(&["run", "--now", ON_DUTY]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    d.signal("INT");
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "a hung IMAP login held up the stop: {status:?}\n{}",
        d.log()
    );

    // The SMTP server takes a whole message and never answers the final dot.
    let desk = Home::service(&stack, SERVICE);
    let text = std::fs::read_to_string(&desk.config).expect("config");
    let (port, data_read) = smtp_hanging_after_data();
    let text = text
        .replace(
            &format!("port = {}", stack.submission_port()),
            &format!("port = {port}"),
        )
        .replace("host = \"localhost\"", "host = \"127.0.0.1\"")
        .replace("tls = \"starttls\"", "tls = \"none\"");
    desk.write_config(&text);
    let (_, raw) = request(REQUESTERS[0], 1);
    deliver(&stack, REQUESTERS[0], &raw).await;
    let mut d = desk.spawn(&["run", "--now", ON_DUTY]);
    let got = tokio::task::spawn_blocking(move || data_read.recv_timeout(Duration::from_secs(60)))
        .await
        .expect("join");
    assert!(got.is_ok(), "the daemon never sent:\n{}", d.log());
    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "a hung SMTP transaction held up the stop: {status:?}\n{}",
        d.log()
    );
    assert!(d.log().contains("the mail stays queued"), "{}", d.log());
    // Nothing was lost: both mails of the ticket wait in the queue for the next start.
    assert_eq!(
        desk.count("SELECT count(*) FROM outgoing WHERE state = 'queued'"),
        2
    );
}
