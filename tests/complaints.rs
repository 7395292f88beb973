//! Complaints about a specialist, end to end on a real Dovecot + Postfix with
//! the real binary: a complaint about a specialist who is on duty reaches that
//! specialist's supervisor (their own `supervisor`, else the school's) and not
//! the specialist, the writer is told so, and a technical problem that merely
//! names a specialist is forwarded as any other.
//!
//! 2021-09-09 is a Thursday: Бамбуркин С.П. and Макаренко С.О. on duty 08:00–10:00.

mod support;

use std::time::Duration;

use duty_desk::store::{Queries, Store};
use support::{ADMIN, DIRECTOR, MailStack, REQUESTERS, SUPPORT, users};
use support::{Home, Mail, assert_contains, parent, run_once, specialist};

const THU_0830: &str = "2021-09-09T08:30:00+03:00";
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_about_the_specialist_on_duty_reaches_the_supervisor_not_them() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    let bamburkin = specialist("Бамбуркин С.П.");
    let makarenko = specialist("Макаренко С.О.");
    // Бамбуркин's own supervisor; Макаренко has none: the school's (DIRECTOR).
    let text = std::fs::read_to_string(&config).unwrap();
    let line = format!("email = \"{bamburkin}\"\n");
    assert!(text.contains(&line));
    std::fs::write(
        &config,
        text.replace(
            &line,
            &format!("{line}supervisor = \"Завуч Орлова Н.Н. <{ADMIN}>\"\n"),
        ),
    )
    .unwrap();

    let rude = parent(
        REQUESTERS[0],
        "Иванова Мария Петровна",
        "Жалоба",
        "Хочу пожаловаться на Бамбуркина С.П.: он грубо разговаривал со мной по телефону и отказался помочь.",
    );
    let silent = parent(
        REQUESTERS[1],
        "Петрова Анна Сергеевна",
        "Нет ответа",
        "Макаренко С.О. уже неделю не отвечает на мои письма о доступе к журналу.",
    );
    let technical = parent(
        REQUESTERS[2],
        "Сидорова Ольга Ивановна",
        "Ошибка входа",
        "Бамбуркин С.П. сбросил мне пароль, но приложение не отвечает, пишет ошибка входа.",
    );
    for l in [&rude, &silent, &technical] {
        stack.deliver(l).await;
    }

    run_once(&config, THU_0830);

    // Each complaint to the supervisor, with the letter attached.
    let to_admin = stack.inbox(ADMIN, 1).await;
    assert_eq!(to_admin.len(), 1);
    assert_contains(&to_admin[0].subject, "жалоба на специалиста Бамбуркин С.П.");
    assert_contains(&to_admin[0].body, "Завуч Орлова Н.Н., здравствуйте!");
    assert_contains(&to_admin[0].body, "грубо разговаривал");
    assert_eq!(to_admin[0].attached_ids(), vec![rude.message_id.clone()]);
    let to_director = stack.inbox(DIRECTOR, 1).await;
    assert_eq!(to_director.len(), 1);
    assert_contains(
        &to_director[0].subject,
        "жалоба на специалиста Макаренко С.О.",
    );
    assert_eq!(
        to_director[0].attached_ids(),
        vec![silent.message_id.clone()]
    );

    // The writers are told where it went.
    let ack = stack.inbox(REQUESTERS[0], 1).await.remove(0);
    assert_contains(&ack.subject, "жалоба передана руководителю");
    assert_contains(&ack.body, "Бамбуркин С.П.");
    assert_contains(&ack.body, "Завуч Орлова Н.Н.");
    let ack = stack.inbox(REQUESTERS[1], 1).await.remove(0);
    assert_contains(&ack.body, "Костина Т.В.");

    // The technical letter goes to one of the two on duty, as any other; neither
    // of them sees a complaint.
    stack.wait_postfix_idle(WAIT).await;
    let mut to_duty = Vec::new();
    for who in [bamburkin, makarenko] {
        to_duty.extend(Mail::all(&stack.fetch(who, "INBOX").await));
    }
    assert_eq!(
        to_duty.len(),
        1,
        "{:?}",
        to_duty.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert_eq!(
        to_duty[0].attached_ids(),
        vec![technical.message_id.clone()]
    );
    let ack = stack.inbox(REQUESTERS[2], 1).await.remove(0);
    assert!(!ack.subject.contains("жалоба"), "{}", ack.subject);

    for user in users() {
        if [SUPPORT, ADMIN, DIRECTOR, bamburkin, makarenko].contains(&user)
            || REQUESTERS[..3].contains(&user)
        {
            continue;
        }
        let got = stack.fetch(user, "INBOX").await;
        assert!(got.is_empty(), "{user} got mail");
    }
    let store = Store::open(&cfg.state_path(), false).unwrap();
    let verdicts: Vec<String> = store
        .read()
        .rows("SELECT verdict FROM messages ORDER BY id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdicts, ["complaint", "complaint", "forward"]);
}
