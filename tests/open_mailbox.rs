//! The support mailbox is open to the whole internet: what an attacker can and
//! cannot make the desk do. Each test drives the real binary (`run --once`) on the
//! Maildir pipeline and reads what it wrote to its outbox.
//!
//! 2021-09-09 is a Thursday: Бамбуркин С.П. and Макаренко С.О. are on duty 08:00–10:00.

mod support;

use support::maildesk::{MaildirDesk, Sent, letter};

const THU_0830: &str = "2021-09-09T08:30:00+03:00";
const THU_0900: &str = "2021-09-09T09:00:00+03:00";
const SPECIALISTS: [&str; 2] = ["bamburkin@example.org", "makarenko@example.org"];
const DIRECTOR: &str = "director@example.org";
const ADMIN: &str = "admin@example.org";
const VICTIM: &str = "ivanova.m@mail.test";
const ATTACKER: &str = "attacker@evil.test";
/// The support address (the example's `[outbox] from`).
const DESK: &str = "uvk-mtl@mail.ru";

fn complete(from: &str, message_id: &str) -> Vec<u8> {
    letter(
        &format!("Лебедева Анна <{from}>"),
        "Не открывается дневник",
        message_id,
        &[],
        "Здравствуйте! Не могу открыть дневник сына: после входа белый экран.\n\n\
         Лебедева Анна Сергеевна, мама ученика 5А класса Лебедева Ильи.",
    )
}

fn no_class(from: &str, message_id: &str) -> Vec<u8> {
    letter(
        &format!("Лебедева Анна <{from}>"),
        "Дневник",
        message_id,
        &[],
        "Здравствуйте! Не могу открыть дневник сына: после входа белый экран.\n\n\
         Лебедева Анна Сергеевна",
    )
}

/// The forward of ticket 1 and the specialist it went to.
fn the_forward(desk: &MaildirDesk) -> Sent {
    let fwd: Vec<Sent> = desk
        .sent()
        .into_iter()
        .filter(|m| m.kind() == "forward")
        .collect();
    assert_eq!(fwd.len(), 1, "one forward: {:?}", subjects(&desk.sent()));
    assert!(
        SPECIALISTS.contains(&fwd[0].to[0].as_str()),
        "{:?}",
        fwd[0].to
    );
    fwd[0].clone()
}

fn subjects(mail: &[Sent]) -> Vec<String> {
    mail.iter()
        .map(|m| format!("{} → {:?}: {}", m.kind(), m.to, m.subject))
        .collect()
}

fn answer(from: &str, in_reply_to: &str, text: &str) -> Vec<u8> {
    letter(
        from,
        "Re: [Заявка #1] Лебедева А.С., 5А: Не открывается дневник",
        &format!("answer.{}@example.org", fastrand_id(text)),
        &[&format!("In-Reply-To: <{in_reply_to}>")],
        text,
    )
}

/// A stable id for a text (tests need distinct Message-IDs, not random ones).
fn fastrand_id(text: &str) -> u64 {
    text.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    })
}

// 1. A forged specialist.

#[test]
fn a_forged_specialist_answer_is_not_relayed_but_a_real_one_is() {
    let mut desk = MaildirDesk::new("", &[]);
    // The attacker opens a ticket in the victim's name, choosing its Message-ID…
    desk.deliver(&complete(VICTIM, "chosen-by-attacker@evil.test"));
    desk.run_once(THU_0830);
    let fwd = the_forward(&desk);
    let before = desk.sent_to(VICTIM).len();
    // … then "answers" it as each specialist, citing that Message-ID.
    for s in SPECIALISTS {
        desk.deliver(&answer(
            s,
            "chosen-by-attacker@evil.test",
            "Ваш пароль устарел, введите его здесь: http://phish.evil.test/login",
        ));
    }
    desk.run_once(THU_0900);
    let to_victim = desk.sent_to(VICTIM);
    assert!(
        to_victim
            .iter()
            .all(|m| !m.body.contains("phish.evil.test")),
        "phishing relayed: {:?}",
        subjects(&to_victim)
    );
    assert!(to_victim.iter().all(|m| m.kind() != "relay"));
    // The letters are not lost: each is an ordinary letter (its own ticket).
    assert_eq!(desk.filed("Unreadable"), 0);

    // The specialist who got the forward answers it: passed on to the requester.
    let n = desk.sent_to(VICTIM).len();
    desk.deliver(&answer(
        &fwd.to[0],
        &fwd.message_id,
        "Пароль сброшен, войдите с кодом из СМС.",
    ));
    desk.run_once("2021-09-09T09:10:00+03:00");
    let to_victim = desk.sent_to(VICTIM);
    assert_eq!(to_victim.len(), n + 1, "{:?}", subjects(&to_victim));
    let relay = to_victim.last().unwrap();
    assert_eq!(relay.kind(), "relay");
    assert!(relay.body.contains("Пароль сброшен"), "{}", relay.body);
    assert!(before >= 1);
}

#[test]
fn the_other_specialist_cannot_answer_a_forward_sent_to_a_colleague() {
    let mut desk = MaildirDesk::new("", &[]);
    desk.deliver(&complete(VICTIM, "v1@mail.test"));
    desk.run_once(THU_0830);
    let fwd = the_forward(&desk);
    let other = SPECIALISTS.iter().find(|s| **s != fwd.to[0]).unwrap();
    desk.deliver(&answer(
        other,
        &fwd.message_id,
        "Перейдите по ссылке http://phish.evil.test",
    ));
    desk.run_once(THU_0900);
    assert!(desk.sent_to(VICTIM).iter().all(|m| m.kind() != "relay"));
}

#[test]
fn with_authserv_id_the_servers_dkim_pass_proves_a_specialist_and_a_dmarc_fail_silences() {
    let mut desk = MaildirDesk::new("authserv_id = \"mx.school.test\"", &[]);
    desk.deliver(&complete(VICTIM, "v1@mail.test"));
    desk.run_once(THU_0830);
    let fwd = the_forward(&desk);
    let other = SPECIALISTS.iter().find(|s| **s != fwd.to[0]).unwrap();
    // Forged: the receiving server says DMARC failed for example.org.
    let mut forged =
        b"Authentication-Results: mx.school.test; dmarc=fail header.from=example.org\r\n".to_vec();
    forged.extend(answer(
        other,
        "v1@mail.test",
        "phish: http://phish.evil.test",
    ));
    desk.deliver(&forged);
    desk.run_once(THU_0900);
    // Neither relayed nor answered: the server called the address forged.
    assert!(
        desk.sent_to(other).is_empty(),
        "{:?}",
        subjects(&desk.sent())
    );
    // A forger's own Authentication-Results under another authserv-id counts for nothing:
    // an ordinary letter from that address.
    let mut self_made =
        b"Authentication-Results: evil.test; dkim=pass header.d=example.org\r\n".to_vec();
    self_made.extend(answer(
        other,
        "v1@mail.test",
        "phish again: http://phish.evil.test",
    ));
    desk.deliver(&self_made);
    desk.run_once("2021-09-09T09:05:00+03:00");
    assert!(
        desk.sent_to(VICTIM).iter().all(|m| m.kind() != "relay"),
        "{:?}",
        subjects(&desk.sent_to(VICTIM))
    );
    // Vouched for by the server: the colleague's answer about the ticket is relayed.
    let mut real =
        b"Authentication-Results: mx.school.test; dkim=pass header.d=example.org header.s=mail\r\n"
            .to_vec();
    real.extend(answer(
        other,
        "v1@mail.test",
        "Пароль сброшен, войдите снова.",
    ));
    desk.deliver(&real);
    desk.run_once("2021-09-09T09:10:00+03:00");
    let relays: Vec<Sent> = desk
        .sent_to(VICTIM)
        .into_iter()
        .filter(|m| m.kind() == "relay")
        .collect();
    assert_eq!(relays.len(), 1);
    assert!(relays[0].body.contains("Пароль сброшен"));
}

#[test]
fn a_sender_failing_dmarc_gets_no_reply_but_the_request_is_forwarded_marked_unverified() {
    for direct in [false, true] {
        let mut desk = MaildirDesk::new("authserv_id = \"mx.school.test\"", &[]);
        if direct {
            desk = desk.answers_direct();
        }
        let mut raw = b"Authentication-Results: mx.school.test; spf=fail smtp.mailfrom=mail.test; dkim=none\r\n"
            .to_vec();
        raw.extend(complete(VICTIM, "v1@mail.test"));
        desk.deliver(&raw);
        desk.run_once(THU_0830);
        assert!(
            desk.sent_to(VICTIM).is_empty(),
            "{:?}",
            subjects(&desk.sent())
        );
        let fwd = the_forward(&desk);
        assert!(fwd.body.contains("ВНИМАНИЕ"), "{}", fwd.body);
        // Through the desk, an answer comes back here (and is not relayed to a
        // forged address); directly, the specialist is not invited to answer it.
        let want = (!direct).then(|| DESK.to_string());
        assert_eq!(fwd.reply_to, want, "direct: {direct}");
        assert_eq!(desk.filed("Processed"), 1);
    }
}

// 2. Ticket hijack by Message-ID.

#[test]
fn a_stranger_citing_the_requesters_message_id_does_not_join_the_ticket() {
    let mut desk = MaildirDesk::new("", &[]);
    desk.deliver(&no_class(VICTIM, "v1@mail.test"));
    desk.run_once(THU_0830);
    let ask = desk.sent_to(VICTIM);
    assert_eq!(ask.len(), 1);
    assert_eq!(ask[0].kind(), "ask");
    // The attacker "answers" citing the requester's own Message-ID.
    desk.deliver(&letter(
        ATTACKER,
        "Re: Дневник",
        "a1@evil.test",
        &["In-Reply-To: <v1@mail.test>", "References: <v1@mail.test>"],
        "Что там у вас?",
    ));
    desk.run_once(THU_0900);
    for m in desk.sent_to(ATTACKER) {
        assert!(
            !m.body.contains("Лебедева") && !m.body.contains("белый экран"),
            "the requester's data went to the attacker:\n{}",
            m.body
        );
        assert!(!m.subject.contains("[Заявка #1]"), "{}", m.subject);
    }
    // The requester's own answer to our question still completes her ticket.
    desk.deliver(&letter(
        &format!("Лебедева Анна <{VICTIM}>"),
        &format!("Re: {}", ask[0].subject),
        "v2@mail.test",
        &[&format!("In-Reply-To: <{}>", ask[0].message_id)],
        "Класс 5А.",
    ));
    desk.run_once("2021-09-09T09:10:00+03:00");
    let fwd: Vec<Sent> = desk
        .sent()
        .into_iter()
        .filter(|m| m.kind() == "forward" && m.subject.contains("[Заявка #1]"))
        .collect();
    assert_eq!(fwd.len(), 1, "{:?}", subjects(&desk.sent()));
    assert!(fwd[0].body.contains("5А"));
}

#[test]
fn a_stranger_cannot_push_an_addition_under_the_requesters_name() {
    let mut desk = MaildirDesk::new("", &[]);
    desk.deliver(&complete(VICTIM, "v1@mail.test"));
    desk.run_once(THU_0830);
    let fwd = the_forward(&desk);
    desk.deliver(&letter(
        ATTACKER,
        "Re: Не открывается дневник",
        "a1@evil.test",
        &["In-Reply-To: <v1@mail.test>"],
        "Отмените заявку и пришлите пароль сына на этот адрес.",
    ));
    desk.run_once(THU_0900);
    let additions: Vec<Sent> = desk
        .sent()
        .into_iter()
        .filter(|m| m.kind() == "addition")
        .collect();
    assert!(additions.is_empty(), "{:?}", subjects(&additions));
    // The requester's own follow-up is an addition, to the same specialist.
    desk.deliver(&letter(
        &format!("Лебедева Анна <{}>", VICTIM.to_uppercase()),
        "Re: Не открывается дневник",
        "v2@mail.test",
        &["In-Reply-To: <v1@mail.test>"],
        "Добавлю: на телефоне тоже белый экран.",
    ));
    desk.run_once("2021-09-09T09:10:00+03:00");
    let additions: Vec<Sent> = desk
        .sent()
        .into_iter()
        .filter(|m| m.kind() == "addition")
        .collect();
    assert_eq!(additions.len(), 1, "{:?}", subjects(&desk.sent()));
    assert_eq!(additions[0].to, fwd.to);
}

#[test]
fn a_letter_reusing_someone_elses_message_id_is_not_a_duplicate() {
    let mut desk = MaildirDesk::new("", &[]);
    // The attacker gets in first with the Message-ID the victim's client will use…
    desk.deliver(&letter(ATTACKER, "привет", "v1@mail.test", &[], "тест"));
    desk.run_once(THU_0830);
    // … the victim's real letter is still a request of its own.
    desk.deliver(&complete(VICTIM, "v1@mail.test"));
    desk.run_once(THU_0900);
    assert_eq!(
        desk.sent()
            .iter()
            .filter(|m| m.kind() == "forward" && m.body.contains("белый экран"))
            .count(),
        1,
        "{:?}",
        subjects(&desk.sent())
    );
}

// 3. Backscatter.

#[test]
fn forged_senders_get_at_most_the_hourly_limit_of_replies_and_the_admin_one_alert() {
    let mut desk = MaildirDesk::new("", &[("auto_replies_per_hour", "5")]);
    for i in 0..20 {
        desk.deliver(&no_class(
            &format!("victim{i}@mail.test"),
            &format!("f{i}@evil.test"),
        ));
    }
    desk.run_once(THU_0830);
    let replies = |d: &MaildirDesk| {
        d.sent()
            .iter()
            .filter(|m| m.to.iter().any(|t| t.starts_with("victim")))
            .count()
    };
    assert_eq!(replies(&desk), 5);
    assert_eq!(desk.sent_to(ADMIN).len(), 1, "{:?}", subjects(&desk.sent()));
    assert_eq!(desk.filed("Waiting"), 20, "every letter kept");
    // The rest wait their turn: five more an hour later, and no second alert.
    desk.run_once("2021-09-09T09:31:00+03:00");
    assert_eq!(replies(&desk), 10);
    assert_eq!(desk.sent_to(ADMIN).len(), 1);
}

#[test]
fn tag_variants_of_one_address_share_the_daily_limit() {
    let mut desk = MaildirDesk::new("", &[("auto_replies_per_sender_per_day", "3")]);
    for i in 0..6 {
        desk.deliver(&no_class(
            &format!("ivanova+{i}@mail.test"),
            &format!("t{i}@mail.test"),
        ));
    }
    desk.run_once(THU_0830);
    let n = desk
        .sent()
        .iter()
        .filter(|m| m.to.iter().any(|t| t.starts_with("ivanova")))
        .count();
    assert_eq!(n, 3, "{:?}", subjects(&desk.sent()));
}

#[test]
fn a_reply_quotes_little_of_the_senders_subject_and_text() {
    let mut desk = MaildirDesk::new("", &[]);
    let subject = "Жми http://phish.evil.test ".repeat(2000);
    let text = format!(
        "Не открывается дневник. {}\n\nЛебедева Анна Сергеевна",
        "Ваш аккаунт заблокирован, перейдите http://phish.evil.test и введите пароль. ".repeat(200)
    );
    desk.deliver(&letter(VICTIM, &subject, "big@evil.test", &[], &text));
    desk.run_once(THU_0830);
    let to = desk.sent_to(VICTIM);
    assert_eq!(to.len(), 1, "{:?}", subjects(&desk.sent()));
    let reply = &to[0];
    assert!(
        reply.subject.chars().count() <= 260,
        "{} chars",
        reply.subject.chars().count()
    );
    // The ask quotes the problem as understood: at most 300 characters of it.
    let echoed = reply.body.matches("phish.evil.test").count();
    assert!(echoed <= 10, "{echoed} echoes in:\n{}", reply.body);
    assert!(reply.raw.len() < 16 * 1024, "{} bytes", reply.raw.len());
}

// 4. Loops.

#[test]
fn two_unmarked_auto_responders_stop_after_the_daily_exchange_limit() {
    let mut desk = MaildirDesk::new("", &[]);
    desk.deliver(&complete(VICTIM, "v1@mail.test"));
    desk.run_once(THU_0830);
    let fwd = the_forward(&desk);
    let specialist = fwd.to[0].clone();
    let mut last_to_specialist = fwd.message_id.clone();
    let mut minute = 31;
    for round in 0..8 {
        // The specialist's vacation responder answers the forward (or the addition)…
        desk.deliver(&answer(
            &specialist,
            &last_to_specialist,
            &format!("Я в отпуске ({round})."),
        ));
        desk.run_once(&format!("2021-09-09T08:{minute:02}:00+03:00"));
        minute += 1;
        let Some(relay) = desk
            .sent_to(VICTIM)
            .into_iter()
            .rev()
            .find(|m| m.kind() == "relay")
        else {
            break;
        };
        // … and the requester's responder answers the relay (in words that
        // ask something, as a human's would: thanks alone is no request).
        desk.deliver(&letter(
            VICTIM,
            &format!("Re: {}", relay.subject),
            &format!("auto{round}@mail.test"),
            &[&format!("In-Reply-To: <{}>", relay.message_id)],
            &format!("Получила, но пароль всё равно не подходит ({round})."),
        ));
        desk.run_once(&format!("2021-09-09T08:{minute:02}:00+03:00"));
        minute += 1;
        match desk
            .sent_to(&specialist)
            .into_iter()
            .rev()
            .find(|m| m.kind() == "addition")
        {
            Some(a) => last_to_specialist = a.message_id,
            None => break,
        }
    }
    let exchanged = desk
        .sent()
        .iter()
        .filter(|m| m.kind() == "relay" || m.kind() == "addition")
        .count();
    assert_eq!(exchanged, 5, "{:?}", subjects(&desk.sent()));
}

// 5. Framing and report floods.

#[test]
fn rude_letters_from_one_forged_address_make_one_report_saying_it_is_unverified() {
    let mut desk = MaildirDesk::new("", &[]);
    for i in 0..4 {
        desk.deliver(&letter(
            &format!("Бухер В.В. <bukher+{i}@example.org>"),
            "журнал",
            &format!("rude{i}@evil.test"),
            &[],
            "Вы все идиоты и дебилы, ваш журнал не работает!",
        ));
    }
    desk.run_once(THU_0830);
    let reports = desk.sent_to(DIRECTOR);
    assert_eq!(reports.len(), 1, "{:?}", subjects(&desk.sent()));
    assert!(
        reports[0].body.contains("не подтверждён"),
        "{}",
        reports[0].body
    );
    assert_eq!(desk.filed("Etiquette"), 4);
    assert!(
        desk.status().contains("rule-5 reports held back: 3"),
        "{}",
        desk.status()
    );
}

// 6 and 8, the ticket's side: sizes and addresses.

#[test]
fn a_forward_attaches_originals_only_up_to_max_forward_size_and_says_what_it_left_out() {
    let mut desk = MaildirDesk::new("", &[("max_forward_size", "\"64KB\"")]);
    let mut raw = complete(VICTIM, "v1@mail.test");
    raw.extend(format!("\r\n{}\r\n", "x".repeat(100 * 1024)).as_bytes());
    desk.deliver(&raw);
    desk.run_once(THU_0830);
    let fwd = the_forward(&desk);
    assert_eq!(fwd.attachments, 0);
    assert!(
        fwd.body.contains("Не приложены из-за размера (1)"),
        "{}",
        fwd.body
    );
    assert!(fwd.raw.len() < 32 * 1024);
}

#[test]
fn a_letter_over_the_size_limit_gets_the_too_large_answer() {
    let mut desk = MaildirDesk::new("", &[("max_message_size", "\"64KB\"")]);
    let mut raw = complete(VICTIM, "v1@mail.test");
    raw.extend(format!("\r\n{}\r\n", "x".repeat(100 * 1024)).as_bytes());
    desk.deliver(&raw);
    desk.run_once(THU_0830);
    let to = desk.sent_to(VICTIM);
    assert_eq!(to.len(), 1, "{:?}", subjects(&desk.sent()));
    assert_eq!(to[0].kind(), "too_large");
    assert!(to[0].body.contains("слишком большое"));
    assert_eq!(desk.filed("Unreadable"), 1);
}

#[test]
fn a_complete_request_from_an_address_mail_cannot_be_written_to_is_still_forwarded() {
    for direct in [false, true] {
        let mut desk = MaildirDesk::new("", &[]);
        if direct {
            desk = desk.answers_direct();
        }
        desk.deliver(&complete("ivanova..m@mail.ru", "v1@mail.ru"));
        desk.run_once(THU_0830);
        let fwd = the_forward(&desk);
        let want = (!direct).then(|| DESK.to_string());
        assert_eq!(fwd.reply_to, want, "direct: {direct}");
        assert!(fwd.body.contains("ivanova..m@mail.ru"));
        assert_eq!(desk.filed("Unreadable"), 0);
        assert_eq!(desk.filed("Processed"), 1);
        assert!(
            desk.status()
                .contains("addresses that cannot be written to: 1"),
            "{}",
            desk.status()
        );
    }
}
