//! Many desks on one host, as the template unit duty-desk@NAME runs them: two
//! daemons side by side on one real Dovecot + Postfix, each from its own config
//! (its own inbox, its own state store), each started with `--instance NAME`.
//! Each handles only its own mail, and every line each one logs carries its name.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Daemon, Home, Mail, write_secret};
use support::{MailStack, REQUESTERS, SPECIALISTS, SUPPORT, StackOptions, password};

/// The second school's support mailbox.
const OFFICE: &str = "office@school.test";
/// Thursday 9 September 2021, 08:30: Бамбуркин С.П. and Макаренко С.О. on duty.
const ON_DUTY: &str = "2021-09-09T08:30:00+03:00";
const WAIT: Duration = Duration::from_secs(60);

/// A complete request to `to`, its number in the subject.
fn request(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <{:016x}@parents.test>\r\nDate: Thu, 09 Sep 2021 08:12:40 +0300\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n\
         Здравствуйте!\r\n\r\nФИО: Смирнова Ольга Викторовна\r\nКласс: 5А\r\n\
         Проблема: со вчерашнего дня не открывается дневник сына, после входа\r\n\
         белая страница. Пробовала с телефона и с компьютера.\r\n",
        fastrand::u64(..)
    )
    .into_bytes()
}

/// A desk's home for `mailbox` (SUPPORT or OFFICE) and school `name`.
fn desk(stack: &MailStack, mailbox: &str, school: &str) -> Home {
    let d = Home::new();
    d.write(stack);
    d.edit_config(|text| {
        text.replace(SUPPORT, mailbox)
            .replace("name = \"МБОУ УВК\"", &format!("name = \"{school}\""))
    });
    for pw in ["imap.pw", "smtp.pw"] {
        write_secret(&d.dir().join(pw), &password(mailbox));
    }
    d
}

/// Tickets in a desk's store as (requester, subject).
fn tickets(state: &Path) -> Vec<(String, String)> {
    let db =
        rusqlite::Connection::open_with_flags(state, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the store");
    let mut q = db
        .prepare("SELECT requester, subject FROM tickets ORDER BY number")
        .expect("query");
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("tickets")
        .map(|t| t.expect("row"))
        .collect()
}

/// Every log line starts with `desk=NAME`, and the log has its decision.
fn assert_log_of(d: &Daemon, name: &str, other: &str) {
    let log = d.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.iter().any(|l| l.contains("decision")),
        "{name}: no decision logged:\n{log}"
    );
    for l in &lines {
        assert!(
            l.starts_with(&format!("desk={name} ")),
            "a line of {name} without its name: {l:?}\n{log}"
        );
    }
    assert!(!log.contains(other), "{name}'s log names {other}:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_desks_side_by_side_each_its_own_mail_and_name() {
    let stack = MailStack::start_with(StackOptions {
        extra_users: vec![OFFICE.to_string()],
        ..StackOptions::default()
    });
    let a_cfg = desk(&stack, SUPPORT, "Школа №1");
    let b_cfg = desk(&stack, OFFICE, "Школа №2");
    let mut a = a_cfg.spawn(&["--instance", "school-1", "run", "--now", ON_DUTY]);
    let mut b = b_cfg.spawn(&["--instance", "school-2", "run", "--now", ON_DUTY]);

    let (parent_a, parent_b) = (REQUESTERS[0], REQUESTERS[1]);
    stack
        .send(
            parent_a,
            SUPPORT,
            &request(parent_a, SUPPORT, "Dnevnik shkola 1"),
        )
        .await
        .unwrap();
    stack
        .send(
            parent_b,
            OFFICE,
            &request(parent_b, OFFICE, "Dnevnik shkola 2"),
        )
        .await
        .unwrap();

    // Each school's letter is filed in its own mailbox, and only there.
    let filed_a = Mail::all(
        &stack
            .wait_for(SUPPORT, "duty-desk/Processed", 1, WAIT)
            .await,
    );
    let filed_b = Mail::all(&stack.wait_for(OFFICE, "duty-desk/Processed", 1, WAIT).await);
    assert_eq!(filed_a.len(), 1);
    assert_eq!(filed_b.len(), 1);
    assert_eq!(filed_a[0].subject, "Dnevnik shkola 1");
    assert_eq!(filed_b[0].subject, "Dnevnik shkola 2");

    // The specialist on duty gets one forward from each desk, each from its own address.
    let forwards = Mail::all(&stack.wait_for(SPECIALISTS[0], "INBOX", 2, WAIT).await);
    let from = |who: &str| -> Vec<&Mail> { forwards.iter().filter(|m| m.from == who).collect() };
    assert_eq!(from(SUPPORT).len(), 1, "{forwards:#?}");
    assert_eq!(from(OFFICE).len(), 1, "{forwards:#?}");
    assert!(from(SUPPORT)[0].subject.contains("Dnevnik shkola 1"));
    assert!(from(OFFICE)[0].subject.contains("Dnevnik shkola 2"));
    // Each requester's acknowledgement comes from their school's desk.
    let ack_a = Mail::all(&stack.wait_for(parent_a, "INBOX", 1, WAIT).await);
    let ack_b = Mail::all(&stack.wait_for(parent_b, "INBOX", 1, WAIT).await);
    assert_eq!(ack_a[0].from, SUPPORT);
    assert_eq!(ack_b[0].from, OFFICE);
    stack.wait_postfix_idle(WAIT).await;

    // Two stores, one ticket each: the desk's own.
    assert_eq!(
        tickets(&a_cfg.state_path()),
        [(parent_a.to_string(), "Dnevnik shkola 1".to_string())]
    );
    assert_eq!(
        tickets(&b_cfg.state_path()),
        [(parent_b.to_string(), "Dnevnik shkola 2".to_string())]
    );

    a.assert_running();
    b.assert_running();
    a.stop();
    b.stop();
    assert_log_of(&a, "school-1", "school-2");
    assert_log_of(&b, "school-2", "school-1");
}
