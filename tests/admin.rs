//! The admin's commands — `duty-desk tickets`, `ticket N`, `ticket N forward |
//! reassign | close | reopen` — against a store made by the real daemon (`run
//! --once` on a Maildir inbox, mail out as `.eml` files), and against a daemon
//! that runs while they are issued: what they change is in the store with an
//! audit row, the forward they queue goes out, and what makes no sense is
//! refused with a clear message and changes nothing.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use duty_desk::store::{Queries, Store, TicketState};
use support::daemon::Daemon;
use support::home::binary;
use support::maildesk::{MaildirDesk, letter};

/// Two on duty (Бамбуркин, Макаренко).
const THU_0830: &str = "2021-09-09T08:30:00+03:00";
/// Nobody on duty; Бухер's window opens at 14:00.
const THU_1100: &str = "2021-09-09T11:00:00+03:00";

const ADMIN_USER: &str = "test-admin";

fn complete(n: usize) -> Vec<u8> {
    letter(
        &format!("parent{n}@mail.test"),
        "Дневник",
        &format!("m{n}@mail.test"),
        &[],
        &format!(
            "Здравствуйте! Я Петрова Анна Сергеевна{n}, мама ученика 5А класса. \
             Не открывается электронный дневник, пишет ошибка входа."
        ),
    )
}

fn incomplete(n: usize) -> Vec<u8> {
    letter(
        &format!("parent{n}@mail.test"),
        "Дневник",
        &format!("m{n}@mail.test"),
        &[],
        "Здравствуйте! Не могу войти в дневник.",
    )
}

/// `duty-desk --config … ARGS` as the OS user [`ADMIN_USER`].
fn admin(config: &Path, args: &[&str]) -> Output {
    binary()
        .arg("--config")
        .arg(config)
        .args(args)
        .env("USER", ADMIN_USER)
        .env_remove("RUST_LOG")
        .output()
        .expect("run duty-desk")
}

/// Runs an admin command that must work; returns its stdout.
fn ok(config: &Path, args: &[&str]) -> String {
    let out = admin(config, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs an admin command that must be refused; returns its error message.
fn refused(config: &Path, args: &[&str]) -> String {
    let out = admin(config, args);
    assert!(
        !out.status.success(),
        "{args:?} was not refused: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn store(desk: &MaildirDesk) -> Store {
    Store::open(&desk.dir().join(support::home::STATE), false).unwrap()
}

/// The ticket opened by `requester`'s letter.
fn ticket_of(desk: &MaildirDesk, requester: &str) -> duty_desk::store::Ticket {
    let s = store(desk);
    let r = s.read();
    let n: i64 = r
        .conn()
        .query_row(
            "SELECT number FROM tickets WHERE requester = ?1",
            [requester],
            |x| x.get(0),
        )
        .unwrap();
    r.ticket(n).unwrap().unwrap()
}

/// The audit rows of admin commands: (ticket, event, who).
fn admin_audit(desk: &MaildirDesk) -> Vec<(i64, String, String)> {
    store(desk)
        .read()
        .rows(
            "SELECT ticket, event, who FROM audit WHERE event LIKE 'admin_%' ORDER BY id",
            [],
            |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?)),
        )
        .unwrap()
}

/// Lines of the table that are tickets (not the header, not the count).
fn table_rows(out: &str) -> Vec<String> {
    let lines: Vec<&str> = out.lines().collect();
    lines[1..lines.len() - 1]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn the_admin_lists_shows_forwards_reassigns_closes_and_reopens() {
    let mut desk = MaildirDesk::new("", &[]);
    let config = desk.config().to_path_buf();
    desk.deliver(&complete(1));
    desk.deliver(&complete(2));
    desk.deliver(&incomplete(3));
    desk.run_once(THU_0830);
    desk.deliver(&complete(4));
    desk.run_once(THU_1100);

    let t1 = ticket_of(&desk, "parent1@mail.test");
    let t2 = ticket_of(&desk, "parent2@mail.test");
    let t3 = ticket_of(&desk, "parent3@mail.test");
    let t4 = ticket_of(&desk, "parent4@mail.test");
    assert_eq!(t1.state, TicketState::Forwarded);
    assert_eq!(t3.state, TicketState::WaitingSender);
    assert_eq!(t4.state, TicketState::WaitingDuty);
    assert_eq!(t4.assignee.as_deref(), Some("bukher@example.org"));
    let (n1, n2, n3, n4) = (t1.number, t2.number, t3.number, t4.number);

    // The table: all, by state, by day.
    let all = table_rows(&ok(&config, &["tickets"]));
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(all.iter().any(|l| l.starts_with(&format!("{n4} "))
        && l.contains("waiting_duty")
        && l.contains("Бухер В.В.")
        && l.contains("2021-09-09 11:00")
        && l.contains("parent4@mail.test")));
    let forwarded = table_rows(&ok(&config, &["tickets", "--state", "forwarded"]));
    assert_eq!(forwarded.len(), 2, "{forwarded:?}");
    assert!(forwarded.iter().all(|l| l.contains("forwarded")));
    assert_eq!(
        table_rows(&ok(&config, &["tickets", "--since", "2021-09-09"])).len(),
        4
    );
    assert!(table_rows(&ok(&config, &["tickets", "--since", "2021-09-10"])).is_empty());
    assert!(refused(&config, &["tickets", "--state", "open"]).contains("not a ticket state"));

    // One ticket: the letter with its decision, then the forward and what became of it.
    let shown = ok(&config, &["ticket", &n1.to_string()]);
    let letter_at = shown
        .find("letter    from parent1@mail.test <m1@mail.test>: forward")
        .expect(&shown);
    let mail_at = shown
        .find(&format!(
            "mail      forward to {}: sent",
            t1.assignee.as_deref().unwrap()
        ))
        .expect(&shown);
    assert!(letter_at < mail_at, "{shown}");
    assert!(
        shown.starts_with(&format!("ticket {n1} — forwarded\n")),
        "{shown}"
    );
    assert!(refused(&config, &["ticket", "99"]).contains("there is no ticket 99"));

    // Reassign the forwarded ticket 1 to Войтенко: a forward to her goes out on the next run.
    let before = desk.sent().len();
    let out = ok(
        &config,
        &[
            "ticket",
            &n1.to_string(),
            "reassign",
            "--to",
            "войтенко л.а.",
            "--now",
            "2021-09-09T11:05:00+03:00",
        ],
    );
    assert!(
        out.contains("reassigned from") && out.contains("Войтенко Л.А."),
        "{out}"
    );
    assert_eq!(
        ticket_of(&desk, "parent1@mail.test").assignee.as_deref(),
        Some("voitenko@example.org")
    );
    assert_eq!(desk.sent().len(), before, "queued, not sent by the command");
    desk.run_once("2021-09-09T11:06:00+03:00");
    let to_voitenko = desk.sent_to("voitenko@example.org");
    assert_eq!(to_voitenko.len(), 1);
    assert_eq!(to_voitenko[0].kind(), "forward");
    assert_eq!(
        to_voitenko[0].attachments, 1,
        "the requester's letter goes with it"
    );
    assert!(
        to_voitenko[0].subject.contains(&n1.to_string()),
        "{}",
        to_voitenko[0].subject
    );
    // Reassigning to whoever has it already, or to nobody known, is refused.
    let e = refused(
        &config,
        &["ticket", &n1.to_string(), "reassign", "--to", "Войтенко"],
    );
    assert!(e.contains("is Войтенко Л.А.'s already"), "{e}");
    let e = refused(
        &config,
        &["ticket", &n1.to_string(), "reassign", "--to", "Петров"],
    );
    assert!(
        e.contains("no specialist \"Петров\"") && e.contains("Бухер В.В."),
        "{e}"
    );
    let e = refused(
        &config,
        &["ticket", &n3.to_string(), "reassign", "--to", "Бухер"],
    );
    assert!(e.contains("nobody has it yet"), "{e}");

    // The held ticket 4, forwarded by hand before Бухер's window: it goes now, once.
    let e = refused(
        &config,
        &[
            "ticket",
            &n4.to_string(),
            "forward",
            "--now",
            "2021-09-09T11:10:00+03:00",
        ],
    );
    assert!(
        e.contains("nobody is on duty now") && e.contains("Бухер В.В.") && e.contains("14:00"),
        "{e}"
    );
    ok(
        &config,
        &[
            "ticket",
            &n4.to_string(),
            "forward",
            "--to",
            "bukher@example.org",
            "--now",
            "2021-09-09T11:10:00+03:00",
        ],
    );
    let t4 = ticket_of(&desk, "parent4@mail.test");
    assert_eq!(t4.state, TicketState::Forwarded);
    assert_eq!(t4.due_at, None);
    desk.run_once("2021-09-09T11:11:00+03:00");
    desk.run_once("2021-09-09T14:05:00+03:00");
    let to_bukher: Vec<_> = desk
        .sent_to("bukher@example.org")
        .into_iter()
        .filter(|m| m.kind() == "forward" && m.subject.contains(&format!("[Заявка #{n4}]")))
        .collect();
    assert_eq!(
        to_bukher.len(),
        1,
        "forwarded by hand, not again when the window opened"
    );

    // Close and reopen ticket 2, and what makes no sense on the way.
    let n2s = n2.to_string();
    assert!(
        ok(
            &config,
            &[
                "ticket",
                &n2s,
                "close",
                "--now",
                "2021-09-09T11:20:00+03:00"
            ]
        )
        .contains("closed (was forwarded)")
    );
    assert_eq!(
        ticket_of(&desk, "parent2@mail.test").state,
        TicketState::Closed
    );
    assert!(refused(&config, &["ticket", &n2s, "close"]).contains("closed already"));
    assert!(
        refused(&config, &["ticket", &n2s, "forward", "--to", "Бухер"]).contains("reopen it first")
    );
    assert!(table_rows(&ok(&config, &["tickets", "--state", "closed"])).len() == 1);
    assert!(
        ok(
            &config,
            &[
                "ticket",
                &n2s,
                "reopen",
                "--now",
                "2021-09-09T11:25:00+03:00"
            ]
        )
        .contains("reopened as forwarded")
    );
    assert_eq!(
        ticket_of(&desk, "parent2@mail.test").state,
        TicketState::Forwarded
    );
    assert!(refused(&config, &["ticket", &n2s, "reopen"]).contains("is not closed"));
    assert!(refused(&config, &["ticket", "99", "close"]).contains("there is no ticket 99"));

    // One audit row per action done, naming who; refusals left none.
    let audit = admin_audit(&desk);
    let events: Vec<(i64, &str)> = audit.iter().map(|(t, e, _)| (*t, e.as_str())).collect();
    assert_eq!(
        events,
        [
            (n1, "admin_reassign"),
            (n4, "admin_forward"),
            (n2, "admin_close"),
            (n2, "admin_reopen")
        ]
    );
    assert!(audit.iter().all(|(_, _, who)| who == ADMIN_USER));
    let shown = ok(&config, &["ticket", &n1.to_string()]);
    assert!(
        shown.contains(&format!(
            "decision  admin_reassign by {ADMIN_USER}: reassigned from"
        )),
        "{shown}"
    );
    assert!(
        shown.contains("mail      forward to voitenko@example.org: sent 2021-09-09 11:06"),
        "{shown}"
    );
}

/// Waits until `cond` holds, panicking with the daemon's log after `timeout`.
fn wait_until(daemon: &mut Daemon, timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        daemon.assert_running();
        assert!(
            Instant::now() < deadline,
            "waited {timeout:?} for {what}\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn commands_work_while_the_daemon_runs_and_it_sends_what_they_queue() {
    let mut desk = MaildirDesk::new("", &[("auto_replies_per_hour", "1000")]);
    let config = desk.config().to_path_buf();
    desk.deliver(&complete(1));
    let started = Instant::now();
    let mut cmd = binary();
    cmd.arg("--config")
        .arg(&config)
        .args(["run", "--now", THU_0830]);
    let log = config
        .parent()
        .expect("the config lives in a folder")
        .join("daemon.log");
    let mut daemon = Daemon::spawn(cmd, &log);
    wait_until(
        &mut daemon,
        Duration::from_secs(60),
        "the first forward",
        || desk.sent().iter().any(|m| m.kind() == "forward"),
    );
    let n1 = ticket_of(&desk, "parent1@mail.test").number;
    // The command's clock must not run ahead of the daemon's (it started at 08:30).
    while started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // The daemon is idle: it finds what the command queued on its own.
    let out = ok(
        &config,
        &[
            "ticket",
            &n1.to_string(),
            "reassign",
            "--to",
            "Ткаченко",
            "--now",
            "2021-09-09T08:30:02+03:00",
        ],
    );
    assert!(out.contains("Ткаченко Е.В."), "{out}");
    wait_until(
        &mut daemon,
        Duration::from_secs(90),
        "the reassigned forward to go out",
        || {
            desk.sent_to("tkachenko@example.org")
                .iter()
                .any(|m| m.kind() == "forward")
        },
    );
    // Letters keep coming while the admin acts: both write the store at once.
    for n in 2..=11 {
        desk.deliver(&complete(n));
    }
    let e = refused(
        &config,
        &["ticket", &n1.to_string(), "reassign", "--to", "Ткаченко"],
    );
    assert!(e.contains("already"), "{e}");
    ok(
        &config,
        &[
            "ticket",
            &n1.to_string(),
            "close",
            "--now",
            "2021-09-09T08:30:03+03:00",
        ],
    );
    assert_eq!(
        ticket_of(&desk, "parent1@mail.test").state,
        TicketState::Closed
    );
    // Every letter forwarded once, the reassigned one twice (first, then Ткаченко).
    wait_until(
        &mut daemon,
        Duration::from_secs(90),
        "the ten letters to be handled and forwarded",
        || {
            desk.filed("Processed") == 11
                && desk.sent().iter().filter(|m| m.kind() == "forward").count() == 12
        },
    );
    let all = table_rows(&ok(&config, &["tickets"]));
    assert_eq!(all.len(), 11, "{all:?}");
    daemon.assert_running();
    daemon.stop();
    let log = daemon.log();
    assert!(!log.contains("locked") && !log.contains("ERROR"), "{log}");
    assert_eq!(
        admin_audit(&desk)
            .iter()
            .map(|(t, e, _)| (*t, e.as_str()))
            .collect::<Vec<_>>(),
        [(n1, "admin_reassign"), (n1, "admin_close")]
    );
}
