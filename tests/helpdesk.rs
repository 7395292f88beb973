//! The helpdesk loop end to end, on a real Dovecot + Postfix with the real
//! binary: a specialist's answer goes through the desk to the requester and the
//! ticket records it; the requester's reply goes back to that specialist; with
//! two on duty, a problem goes to the one whose topics fit it.
//!
//! 2021-09-09 is a Thursday: Бамбуркин С.П. and Макаренко С.О. on duty 08:00–10:00.

mod support;

use std::time::Duration;

use duty_desk::store::{Queries, Store};
use support::maildesk::{self, MaildirDesk};
use support::{
    Home, MailStack, REQUESTERS, SUPPORT, assert_contains, parent, reply_to, run_once, specialist,
};

const THU_0830: &str = "2021-09-09T08:30:00+03:00";
const WAIT: Duration = Duration::from_secs(60);

/// Every mailbox but the support one and `except` is empty, once Postfix is idle.
async fn nobody_else(stack: &MailStack, except: &[&str]) {
    stack.wait_postfix_idle(WAIT).await;
    for user in support::users() {
        if user == SUPPORT || except.contains(&user) {
            continue;
        }
        assert!(
            stack.fetch(user, "INBOX").await.is_empty(),
            "{user} got mail"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_through_the_desk_reaches_the_requester_and_marks_the_ticket_answered() {
    let stack = MailStack::start();
    let home = Home::new();
    let config = home.write(&stack);
    let request = parent(
        REQUESTERS[0],
        "Иванова Мария Петровна",
        "Пароль",
        "Не могу войти в электронный дневник: пишет «неверный пароль».",
    );
    stack.deliver(&request).await;
    run_once(&config, THU_0830);

    // The forward asks for the answer to come back to the desk.
    let bamburkin = specialist("Бамбуркин С.П.");
    let makarenko = specialist("Макаренко С.О.");
    let mut fwd = None;
    for who in [bamburkin, makarenko] {
        if let Some(m) = support::Mail::all(&stack.fetch(who, "INBOX").await).pop() {
            fwd = Some((who, m));
        }
    }
    let (who, fwd) = fwd.expect("forwarded to one of the two on duty");
    let name = if who == bamburkin {
        "Бамбуркин С.П."
    } else {
        "Макаренко С.О."
    };
    assert_eq!(fwd.reply_to.as_deref(), Some(SUPPORT));
    assert_contains(&fwd.body, "служба помощи передаст Ваш ответ заявителю");

    // The specialist answers it (to the desk, as their client's Reply does).
    let answer = reply_to(
        &fwd,
        who,
        &request.message_id,
        "Добрый день! Пароль сброшен, новый придёт в СМС.",
    );
    stack.deliver(&answer).await;
    run_once(&config, "2021-09-09T08:50:00+03:00");

    // The requester gets it from the support address, the specialist named.
    let got = stack.inbox(REQUESTERS[0], 2).await;
    let relay = got
        .iter()
        .find(|m| m.body.contains("Пароль сброшен"))
        .expect("the answer relayed");
    assert_eq!(relay.from, SUPPORT);
    assert_eq!(relay.reply_to, None, "replies come back to the desk");
    let ack = got
        .iter()
        .find(|m| m.subject.contains("принята"))
        .expect("ack");
    assert_contains(&ack.body, "Ответ специалиста придёт с адреса службы помощи");
    let display = mail_parser::MessageParser::default()
        .parse(&relay.raw)
        .and_then(|m| {
            m.from()
                .and_then(|f| f.first())
                .and_then(|a| a.name())
                .map(str::to_string)
        })
        .unwrap_or_default();
    assert_contains(&display, name);
    assert_contains(&relay.body, &format!("Ответ специалиста {name}"));

    // The ticket records who answered and when: 20 minutes after the forward.
    let store = Store::open(&home.state_path(), false).unwrap();
    let answers: Vec<(i64, String, String, String)> = store
        .read()
        .rows(
            "SELECT ticket, specialist, at, assigned_at FROM answers",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, 1);
    assert_eq!(answers[0].1, who);
    assert!(
        answers[0].2.starts_with("2021-09-09T05:50:00"),
        "{answers:?}"
    );
    assert!(
        answers[0].3.starts_with("2021-09-09T05:30:00"),
        "{answers:?}"
    );
    let status = home.status();
    assert_contains(&status, "answered 1");
    let list = home.output(&["tickets"]);
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    let row = list
        .lines()
        .find(|l| l.starts_with("1 "))
        .expect("ticket 1 listed");
    assert!(row.contains("forwarded  yes"), "{list}");
    let ticket = home.output(&["ticket", "1"]);
    let ticket = String::from_utf8_lossy(&ticket.stdout).to_string();
    assert_contains(&ticket, &format!("answered:  by {name} <{who}>"));
    assert_contains(&ticket, "20 min after the forward");

    // The requester's reply goes back to the same specialist, and to nobody else.
    let more = reply_to(
        relay,
        REQUESTERS[0],
        &request.message_id,
        "Спасибо, вошла. Но теперь не видно расписания на завтра.",
    );
    stack.deliver(&more).await;
    run_once(&config, "2021-09-09T09:00:00+03:00");
    let to_specialist = stack.inbox(who, 2).await;
    assert_contains(&to_specialist[1].body, "Дополнение к заявке № 1");
    assert_contains(&to_specialist[1].body, "не видно расписания");
    nobody_else(&stack, &[REQUESTERS[0], who]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_thursday_morning_a_password_problem_goes_to_the_technical_specialist_and_marks_to_the_deputy()
 {
    let stack = MailStack::start();
    let home = Home::new();
    let config = home.write(&stack);
    let bamburkin = specialist("Бамбуркин С.П.");
    let makarenko = specialist("Макаренко С.О.");
    // The example config's topics, from the order's positions: Бамбуркин is the
    // technical specialist; Макаренко, ЭлЖур administrator and deputy, both.
    home.edit_config(|t| {
        t.replace(
            &format!("email = \"{bamburkin}\"\n"),
            &format!("email = \"{bamburkin}\"\ntopics = [\"technical\"]\n"),
        )
        .replace(
            &format!("email = \"{makarenko}\"\n"),
            &format!("email = \"{makarenko}\"\ntopics = [\"technical\", \"methodological\"]\n"),
        )
    });
    let marks = [
        parent(
            REQUESTERS[0],
            "Иванова Мария Петровна",
            "Оценки",
            "В журнале у дочери не выставлены оценки за контрольную по математике.",
        ),
        parent(
            REQUESTERS[1],
            "Петрова Анна Сергеевна",
            "Четверть",
            "Не видно итоговых отметок за четверть, хотя учитель говорит, что выставил.",
        ),
    ];
    let password = parent(
        REQUESTERS[2],
        "Сидорова Ольга Ивановна",
        "Не могу войти",
        "Не могу войти в приложение: пишет «неверный логин или пароль», восстановить не получается.",
    );
    // Both marks problems first: without topics the second would go to
    // Бамбуркин, who has fewer open tickets.
    for l in marks.iter().chain([&password]) {
        stack.deliver(l).await;
    }
    run_once(&config, THU_0830);

    let to_deputy = stack.inbox(makarenko, 2).await;
    let mut ids: Vec<String> = to_deputy.iter().flat_map(|m| m.attached_ids()).collect();
    ids.sort();
    let mut want: Vec<String> = marks.iter().map(|m| m.message_id.clone()).collect();
    want.sort();
    assert_eq!(ids, want);
    let to_technical = stack.inbox(bamburkin, 1).await;
    assert_eq!(to_technical.len(), 1);
    assert_eq!(
        to_technical[0].attached_ids(),
        vec![password.message_id.clone()]
    );
    stack.wait_postfix_idle(WAIT).await;
    assert_eq!(stack.fetch(makarenko, "INBOX").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_ticket_is_reminded_once_then_passed_on_in_the_next_window() {
    let stack = MailStack::start();
    let home = Home::new();
    let config = home.write(&stack);
    let request = parent(
        REQUESTERS[0],
        "Иванова Мария Петровна",
        "Дневник",
        "Не открывается электронный дневник: после входа белый экран.",
    );
    stack.deliver(&request).await;
    // Thursday 09:55: five minutes of the window left.
    run_once(&config, "2021-09-09T09:55:00+03:00");
    let bamburkin = specialist("Бамбуркин С.П.");
    let makarenko = specialist("Макаренко С.О.");
    let bukher = specialist("Бухер В.В.");
    stack.wait_postfix_idle(WAIT).await;
    let first = if stack.fetch(bamburkin, "INBOX").await.is_empty() {
        makarenko
    } else {
        bamburkin
    };
    assert_eq!(stack.inbox(first, 1).await.len(), 1);

    // 10:00, the window has ended: one reminder to them; at noon nothing more.
    run_once(&config, "2021-09-09T10:00:30+03:00");
    let got = stack.inbox(first, 2).await;
    assert_contains(&got[1].subject, "Напоминание: заявка #1 ждёт ответа");
    assert_contains(&got[1].body, "белый экран");
    run_once(&config, "2021-09-09T12:00:00+03:00");
    stack.wait_postfix_idle(WAIT).await;
    assert_eq!(stack.fetch(first, "INBOX").await.len(), 2, "reminded once");

    // 14:05: Бухер's window opened before theirs (next Tuesday or Monday): the
    // ticket passes to Бухер with its letter, and the requester is told.
    run_once(&config, "2021-09-09T14:05:00+03:00");
    let fwd = stack.inbox(bukher, 1).await.remove(0);
    assert_contains(&fwd.body, "не ответил(а) на неё");
    assert_eq!(fwd.attached_ids(), vec![request.message_id.clone()]);
    let to_parent = stack.inbox(REQUESTERS[0], 2).await;
    let told = to_parent.last().unwrap();
    assert_contains(&told.body, "передано специалисту Бухер В.В.");
    run_once(&config, "2021-09-09T15:00:00+03:00");
    nobody_else(&stack, &[REQUESTERS[0], first, bukher]).await;
    assert_eq!(stack.fetch(first, "INBOX").await.len(), 2);
    assert_eq!(stack.fetch(bukher, "INBOX").await.len(), 1);
    assert_eq!(stack.fetch(REQUESTERS[0], "INBOX").await.len(), 2);
    let status = home.status();
    assert_contains(&status, "reminded 1   passed on 1");

    // Бухер's answer is passed on and ends the matter: no reminder at 16:00.
    let answer = reply_to(
        &fwd,
        bukher,
        &request.message_id,
        "Здравствуйте! Очистите кэш браузера, белый экран пропадёт.",
    );
    stack.deliver(&answer).await;
    run_once(&config, "2021-09-09T15:10:00+03:00");
    run_once(&config, "2021-09-09T16:30:00+03:00");
    let to_parent = stack.inbox(REQUESTERS[0], 3).await;
    assert_contains(&to_parent[2].body, "Очистите кэш");
    stack.wait_postfix_idle(WAIT).await;
    assert_eq!(stack.fetch(bukher, "INBOX").await.len(), 1);
}

#[test]
fn a_complaint_held_by_a_supervisor_on_the_timetable_is_neither_reminded_nor_passed_on() {
    let desk = MaildirDesk::new("", &[]);
    // Бамбуркин's supervisor is Бухер, himself on the timetable.
    desk.edit_config(|t| {
        t.replace(
            "email = \"bamburkin@example.org\"\n",
            "email = \"bamburkin@example.org\"\nsupervisor = \"Бухер В.В. <bukher@example.org>\"\n",
        )
    });
    let mut desk = desk;
    desk.deliver(&maildesk::letter(
        "Иванова Мария <ivanova@mail.test>",
        "Жалоба",
        "c1@mail.test",
        &[],
        "Здравствуйте! Хочу пожаловаться на Бамбуркина С.П.: он грубо разговаривал со мной \
         и отказался помочь.\n\nИванова Мария Петровна, мама ученика 5А класса.",
    ));
    desk.run_once("2021-09-09T08:30:00+03:00");
    let to_bukher = desk.sent_to("bukher@example.org");
    assert_eq!(to_bukher.len(), 1);
    assert_eq!(to_bukher[0].kind(), "complaint");
    // Past Бухер's Thursday window (14:00–16:00) and into Friday's windows.
    for now in ["2021-09-09T16:30:00+03:00", "2021-09-10T09:00:00+03:00"] {
        desk.run_once(now);
    }
    assert_eq!(desk.sent_to("bukher@example.org").len(), 1, "not reminded");
    assert!(
        desk.sent()
            .iter()
            .all(|m| !matches!(m.kind(), "remind" | "passed_on")),
        "{:?}",
        desk.sent()
            .iter()
            .map(|m| m.kind().to_string())
            .collect::<Vec<_>>()
    );
    assert!(desk.sent_to("bamburkin@example.org").is_empty());
}
