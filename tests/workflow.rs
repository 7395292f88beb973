//! The ticket workflow end to end, on a real Dovecot + Postfix, driving the real
//! `duty-desk` binary: people send letters over SMTP, the daemon reads the support
//! mailbox over IMAP and sends over SMTP submission with AUTH, and the tests read
//! every mailbox back over IMAP, as the people would.
//!
//! Dates: 2021-09-07 is a Tuesday (Бухер В.В. on duty 08:00–10:00), 2021-09-09 a
//! Thursday (Бамбуркин С.П. and Макаренко С.О. 08:00–10:00, Бухер В.В. 14:00–16:00).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use support::{ADMIN, DIRECTOR, MailStack, REQUESTERS, SUPPORT, users};
use support::{
    Compose, Daemon, Home, Mail, assert_contains, reply_to, run_cli, run_once, specialist,
};

const TUE_0830: &str = "2021-09-07T08:30:00+03:00";
const WAIT: Duration = Duration::from_secs(60);

const PARENT1: &str = REQUESTERS[0];
const PARENT2: &str = REQUESTERS[1];
const PARENT3: &str = REQUESTERS[2];
const STUDENT1: &str = REQUESTERS[4];

/// The support mailbox's non-empty folders with their message counts.
async fn support_folders(stack: &MailStack) -> BTreeMap<String, usize> {
    stack
        .folder_counts(SUPPORT)
        .await
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn folders(list: &[(&str, usize)]) -> BTreeMap<String, usize> {
    list.iter().map(|(f, n)| (f.to_string(), *n)).collect()
}

/// Once Postfix is idle: nobody but `except` (and the support mailbox) got any mail.
async fn assert_nobody_else(stack: &MailStack, except: &[&str]) {
    stack.wait_postfix_idle(WAIT).await;
    for user in users() {
        if user == SUPPORT || except.contains(&user) {
            continue;
        }
        let got = Mail::all(&stack.fetch(user, "INBOX").await);
        assert!(
            got.is_empty(),
            "{user} got mail: {:?}",
            got.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }
}

fn ivanova(subject: &str, problem: &str) -> Compose {
    Compose::new(
        PARENT1,
        subject,
        &format!(
            "Здравствуйте!\n{problem}\n\nИванова Мария Петровна, мама ученика 5А класса Иванова Ильи."
        ),
    )
    .name("Иванова Мария")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_request_in_a_duty_window_goes_to_the_specialist_on_duty() {
    let stack = MailStack::start();
    let mut cfg = Home::new();
    cfg.imap_tls = true; // IMAPS with the stack's CA; the others use plain IMAP on loopback.
    let config = cfg.write(&stack);
    let letter = ivanova(
        "Не открывается дневник",
        "Не могу открыть дневник сына в электронном журнале: после входа белый экран.",
    );
    stack.deliver(&letter).await;

    run_once(&config, TUE_0830);

    let bukher = specialist("Бухер В.В.");
    let fwd = stack.inbox(bukher, 1).await.remove(0);
    assert_eq!(
        fwd.subject,
        "[Заявка #1] Иванова М.П., 5А: Не открывается дневник"
    );
    assert_eq!(fwd.from, SUPPORT);
    assert_eq!(fwd.to, vec![bukher.to_string()]);
    assert_eq!(fwd.reply_to.as_deref(), Some(SUPPORT));
    assert_eq!(fwd.auto_submitted.as_deref(), Some("auto-generated"));
    for needle in [
        "Бухер В.В.",
        "Иванова Мария Петровна <parent1@parents.test>",
        "родитель",
        "Класс: 5А",
        "после входа белый экран",
        "7 сентября 2021, 08:30",
    ] {
        assert_contains(&fwd.body, needle);
    }
    assert_eq!(
        fwd.attached_ids(),
        vec![letter.message_id.clone()],
        "{}",
        String::from_utf8_lossy(&fwd.raw)
    );
    assert_contains(
        &String::from_utf8_lossy(&fwd.attached[0]),
        "после входа белый экран",
    );

    let ack = stack.inbox(PARENT1, 1).await.remove(0);
    assert!(ack.subject.starts_with("[Заявка #1]"), "{}", ack.subject);
    assert_contains(&ack.body, "Бухер В.В.");
    assert_contains(&ack.body, "номером 1");
    assert_eq!(ack.in_reply_to, vec![letter.message_id.clone()]);
    assert_eq!(ack.auto_submitted.as_deref(), Some("auto-replied"));

    assert_nobody_else(&stack, &[bukher, PARENT1]).await;
    // Filed, not deleted: the one letter is in Processed and nowhere else.
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Processed", 1)])
    );
    let kept = Mail::parse(&stack.fetch(SUPPORT, "duty-desk/Processed").await[0]);
    assert_eq!(kept.message_id, letter.message_id);
}

/// The reply a mail client (Gmail in Russian) writes: new text on top, the
/// attribution line, the whole earlier letter quoted with `>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_request_is_asked_for_exactly_what_is_missing_and_the_reply_completes_it() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    let letter = Compose::new(
        PARENT2,
        "Оценки",
        "Добрый день! Не видны оценки за прошлую неделю в журнале.\n\nС уважением, Петрова Анна Сергеевна",
    );
    stack.deliver(&letter).await;

    run_once(&config, TUE_0830);

    let ask = stack.inbox(PARENT2, 1).await.remove(0);
    assert_eq!(ask.subject, "Re: Оценки [Заявка #1]");
    assert_eq!(ask.in_reply_to, vec![letter.message_id.clone()]);
    assert_eq!(ask.auto_submitted.as_deref(), Some("auto-replied"));
    // Exactly the class is missing; what was understood is quoted back.
    assert_contains(&ask.body, "класс (например, 5А)");
    assert!(
        !ask.body.contains("фамилию, имя и отчество"),
        "{}",
        ask.body
    );
    assert!(!ask.body.contains("описание проблемы:"), "{}", ask.body);
    assert_contains(&ask.body, "ФИО: Петрова Анна Сергеевна");
    assert_contains(&ask.body, "Проблема: Не видны оценки");
    assert_nobody_else(&stack, &[PARENT2]).await;
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Waiting", 1)])
    );

    let answer = reply_to(&ask, PARENT2, &letter.message_id, "Класс 7Б.");
    stack.deliver(&answer).await;
    run_once(&config, "2021-09-07T08:40:00+03:00");

    let bukher = specialist("Бухер В.В.");
    let fwd = stack.inbox(bukher, 1).await.remove(0);
    assert_eq!(fwd.subject, "[Заявка #1] Петрова А.С., 7Б: Оценки");
    assert_eq!(fwd.reply_to.as_deref(), Some(SUPPORT));
    assert_contains(&fwd.body, "Класс: 7Б");
    assert_contains(&fwd.body, "Не видны оценки за прошлую неделю");
    // The quoted ask and its attribution line are not the parent's problem.
    assert!(!fwd.body.contains("08:31"), "{}", fwd.body);
    assert!(!fwd.body.contains("ФИО: Иванова"), "{}", fwd.body);
    assert_eq!(
        fwd.attached_ids(),
        vec![letter.message_id.clone(), answer.message_id.clone()]
    );

    let got = stack.inbox(PARENT2, 2).await;
    let ack = &got[1];
    assert!(ack.subject.starts_with("[Заявка #1]"), "{}", ack.subject);
    assert_contains(&ack.body, "Бухер В.В.");
    assert_eq!(ack.in_reply_to, vec![answer.message_id.clone()]);

    assert_nobody_else(&stack, &[PARENT2, bukher]).await;
    assert_eq!(stack.inbox(PARENT2, 2).await.len(), 2);
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Processed", 1), ("duty-desk/Waiting", 1)])
    );

    // Later the parent writes again with the ticket tag in the subject (a new
    // letter, no In-Reply-To): an addition for the same specialist, nothing else.
    let more = Compose::new(
        PARENT2,
        "Оценки [Заявка #1]",
        "Ещё: пропало расписание уроков на завтра.\n\nПетрова Анна Сергеевна",
    );
    stack.deliver(&more).await;
    run_once(&config, "2021-09-07T08:50:00+03:00");
    let addition = stack.inbox(bukher, 2).await.remove(1);
    assert_eq!(addition.subject, "[Заявка #1] Петрова А.С., 7Б: Оценки");
    assert_contains(&addition.body, "Дополнение к заявке № 1");
    assert_contains(&addition.body, "пропало расписание уроков");
    assert_eq!(addition.attached_ids(), vec![more.message_id.clone()]);
    assert_nobody_else(&stack, &[PARENT2, bukher]).await;
    assert_eq!(stack.fetch(PARENT2, "INBOX").await.len(), 2);
    assert_eq!(stack.fetch(bukher, "INBOX").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_letter_delivered_twice_is_one_request() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    // Sent to the support mailbox directly and once more as a CC copy: two
    // copies in the INBOX with one Message-ID.
    let letter = ivanova("Дневник", "Не открывается дневник, белый экран.");
    stack.deliver(&letter).await;
    stack.deliver(&letter).await;

    run_once(&config, TUE_0830);

    let bukher = specialist("Бухер В.В.");
    stack.inbox(bukher, 1).await;
    stack.inbox(PARENT1, 1).await;
    assert_nobody_else(&stack, &[bukher, PARENT1]).await;
    assert_eq!(stack.fetch(bukher, "INBOX").await.len(), 1);
    assert_eq!(stack.fetch(PARENT1, "INBOX").await.len(), 1);
    // Both copies are kept, filed where the first went.
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Processed", 2)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_hours_request_is_acknowledged_and_forwarded_when_the_window_opens() {
    let stack = MailStack::start();
    let cfg = Home::new();
    cfg.write(&stack);
    let letter = Compose::new(
        PARENT3,
        "Не приходят уведомления",
        "Здравствуйте! Не приходят уведомления об оценках на телефон.\n\nКузнецова Ольга Игоревна, 8А",
    );
    stack.deliver(&letter).await;

    // Thursday, fifteen seconds before Бухер В.В.'s window opens at 14:00.
    let mut daemon = cfg.start("2021-09-09T13:59:45+03:00");

    let ack = stack.inbox(PARENT3, 1).await.remove(0);
    assert!(ack.subject.starts_with("[Заявка #1]"), "{}", ack.subject);
    assert_contains(&ack.body, "в четверг, 9 сентября, в 14:00");
    assert_contains(&ack.body, "Бухер В.В.");

    let bukher = specialist("Бухер В.В.");
    let fwd = stack.inbox(bukher, 1).await.remove(0);
    assert_eq!(
        fwd.subject,
        "[Заявка #1] Кузнецова О.И., 8А: Не приходят уведомления"
    );
    assert_eq!(fwd.reply_to.as_deref(), Some(SUPPORT));
    assert_eq!(fwd.attached_ids(), vec![letter.message_id.clone()]);

    // The daemon keeps running (IDLE): a letter arriving now, in the window, is
    // forwarded straight away.
    let second = ivanova("Дневник", "Не открывается дневник, белый экран.");
    stack
        .send(PARENT1, SUPPORT, &second.build())
        .await
        .expect("send");
    let fwd = stack.inbox(bukher, 2).await.remove(1);
    assert_eq!(fwd.subject, "[Заявка #2] Иванова М.П., 5А: Дневник");
    let ack = stack.inbox(PARENT1, 1).await.remove(0);
    assert_contains(&ack.body, "передано дежурному");
    daemon.assert_running();
    daemon.stop();

    assert_nobody_else(&stack, &[PARENT3, PARENT1, bukher]).await;
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Processed", 2)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_on_duty_share_the_tickets() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    let letters = [
        ivanova("Дневник", "Не открывается дневник, белый экран."),
        Compose::new(
            PARENT2,
            "Оценки",
            "Не видны оценки за прошлую неделю.\n\nПетрова Анна Сергеевна, мама ученицы 7Б",
        ),
        Compose::new(
            PARENT3,
            "Уведомления",
            "Не приходят уведомления об оценках.\n\nКузнецова Ольга Игоревна, 8А",
        ),
        Compose::new(
            STUDENT1,
            "Не вижу домашнее задание",
            "Здравствуйте! Я ученик 6В класса Сидоров Пётр Иванович. Не отображается домашнее задание по математике.",
        )
        .windows_1251(),
    ];
    for l in &letters {
        stack.deliver(l).await;
    }

    // Thursday 08:30: Бамбуркин С.П. and Макаренко С.О. are both on duty.
    run_once(&config, "2021-09-09T08:30:00+03:00");

    let bamburkin = specialist("Бамбуркин С.П.");
    let makarenko = specialist("Макаренко С.О.");
    stack.inbox(bamburkin, 2).await;
    stack.inbox(makarenko, 2).await;
    assert_nobody_else(
        &stack,
        &[bamburkin, makarenko, PARENT1, PARENT2, PARENT3, STUDENT1],
    )
    .await;
    let a = Mail::all(&stack.fetch(bamburkin, "INBOX").await);
    let b = Mail::all(&stack.fetch(makarenko, "INBOX").await);
    assert_eq!((a.len(), b.len()), (2, 2), "{a:?}\n{b:?}");
    let mut forwarded: Vec<String> = a.iter().chain(&b).flat_map(|m| m.attached_ids()).collect();
    forwarded.sort();
    let mut sent: Vec<String> = letters.iter().map(|l| l.message_id.clone()).collect();
    sent.sort();
    assert_eq!(forwarded, sent, "every letter forwarded once");
    // Each requester is told who got their ticket.
    for (who, l) in [PARENT1, PARENT2, PARENT3, STUDENT1].iter().zip(&letters) {
        let ack = stack.inbox(who, 1).await.remove(0);
        let to_a = a.iter().any(|m| m.attached_ids() == [l.message_id.clone()]);
        let name = if to_a {
            "Бамбуркин С.П."
        } else {
            "Макаренко С.О."
        };
        assert_contains(&ack.body, name);
    }
    // The windows-1251 letter is understood, and forwarded byte for byte as it was filed.
    let student = a
        .iter()
        .chain(&b)
        .find(|m| m.attached_ids() == [letters[3].message_id.clone()])
        .expect("the student's forward");
    assert!(
        student
            .subject
            .ends_with("] Сидоров П.И., 6В: Не вижу домашнее задание"),
        "{}",
        student.subject
    );
    let filed = stack
        .fetch(SUPPORT, "duty-desk/Processed")
        .await
        .into_iter()
        .find(|r| Mail::parse(r).message_id == letters[3].message_id)
        .expect("filed in Processed");
    assert_eq!(student.attached[0], filed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_schedule_sends_to_the_fallback() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    let letter = ivanova("Дневник", "Не открывается дневник, белый экран.");
    stack.deliver(&letter).await;

    // June 2022: the 2021–2022 timetable has expired, no window lies ahead.
    run_once(&config, "2022-06-15T10:00:00+03:00");

    let fwd = stack.inbox(ADMIN, 1).await.remove(0);
    assert_eq!(fwd.subject, "[Заявка #1] Иванова М.П., 5А: Дневник");
    assert_eq!(fwd.reply_to.as_deref(), Some(SUPPORT));
    assert_eq!(fwd.attached_ids(), vec![letter.message_id.clone()]);
    let ack = stack.inbox(PARENT1, 1).await.remove(0);
    assert_contains(&ack.body, "администратору");
    assert_nobody_else(&stack, &[ADMIN, PARENT1]).await;
}

fn bounce() -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@parents.test>\r\n\
         To: {SUPPORT}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <bounce-1@parents.test>\r\nDate: Tue, 07 Sep 2021 08:10:00 +0300\r\n\
         MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n\
         --b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; parents.test\r\n\r\n\
         Final-Recipient: rfc822; nobody@parents.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --b1--\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_get_no_answer_and_are_filed_as_ignored() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    // Each looks like a complete request in its text; only the headers tell.
    let autoreply = ivanova("Автоответ: Дневник", "Не открывается дневник, белый экран.")
        .header("Auto-Submitted", "auto-replied");
    let list = Compose::new(
        PARENT3,
        "[parents] Не открывается дневник",
        "Не открывается дневник, белый экран.\n\nКузнецова Ольга Игоревна, 8А",
    )
    .header("List-Id", "Родители <parents.school.test>")
    .header("Precedence", "list");
    stack.deliver(&autoreply).await;
    stack
        .send("", SUPPORT, &bounce())
        .await
        .expect("send bounce");
    stack.wait_for(SUPPORT, "INBOX", 2, WAIT).await;
    stack.deliver(&list).await;
    // A letter from our own address (a loop through a forwarding rule).
    let own = Compose::new(
        SUPPORT,
        "Не открывается дневник",
        "Не открывается дневник, белый экран.\n\nКузнецова Ольга Игоревна, 8А",
    );
    stack.deliver(&own).await;

    run_once(&config, TUE_0830);

    assert_nobody_else(&stack, &[]).await;
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Ignored", 4)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rude_letter_is_refused_and_reported_to_the_supervisor() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    let rude = Compose::new(
        PARENT3,
        "Ужас",
        "Вы там все охренели? Третий день не открывается дневник!\nКузнецова Ольга Игоревна, 8А",
    );
    stack.deliver(&rude).await;

    run_once(&config, TUE_0830);

    let refusal = stack.inbox(PARENT3, 1).await.remove(0);
    assert_contains(&refusal.subject, "[Заявка #1]");
    assert_contains(&refusal.body, "Пункт 5");
    assert_eq!(refusal.in_reply_to, vec![rude.message_id.clone()]);
    let report = stack.inbox(DIRECTOR, 1).await.remove(0);
    assert_contains(&report.subject, "[Заявка #1]");
    assert_contains(&report.body, PARENT3);
    assert_eq!(report.attached_ids(), vec![rude.message_id.clone()]);
    assert_nobody_else(&stack, &[PARENT3, DIRECTOR]).await;
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Etiquette", 1)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_letters_from_one_sender_get_at_most_the_daily_limit_of_replies() {
    let stack = MailStack::start();
    let cfg = Home::new();
    let config = cfg.write(&stack);
    let letters: Vec<Compose> = (1..=6)
        .map(|i| {
            ivanova(
                &format!("Вопрос {i}"),
                &format!("Не приходят уведомления об оценках (вопрос {i})."),
            )
        })
        .collect();
    for l in &letters {
        stack.deliver(l).await;
    }

    run_once(&config, TUE_0830);

    let bukher = specialist("Бухер В.В.");
    stack.inbox(bukher, 6).await;
    assert_nobody_else(&stack, &[bukher, PARENT1]).await;
    // Every ticket is forwarded; the sender hears back at most 5 times.
    assert_eq!(stack.fetch(bukher, "INBOX").await.len(), 6);
    let acks = Mail::all(&stack.fetch(PARENT1, "INBOX").await);
    assert_eq!(
        acks.len(),
        5,
        "{:?}",
        acks.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

/// Waits until the daemon has logged at least `n` decisions (or gives up after `WAIT`).
async fn wait_decisions(daemon: &mut Daemon, n: usize) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let d = daemon.decisions();
        if d >= n || Instant::now() >= deadline {
            return d;
        }
        daemon.assert_running();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_batch_loses_nothing_and_doubles_nothing() {
    const N: usize = 50;
    let stack = MailStack::start();
    let cfg = Home::new();
    cfg.write(&stack);
    let names = [
        ("Иванова Мария Петровна", "5А"),
        ("Петрова Анна Сергеевна", "7Б"),
        ("Кузнецова Ольга Игоревна", "8А"),
        ("Смирнова Елена Викторовна", "3Г"),
        ("Сидорова Ирина Павловна", "6В"),
        ("Орлова Наталья Андреевна", "9Б"),
    ];
    let mut letters = Vec::new();
    for i in 0..N {
        let k = i % REQUESTERS.len();
        let (name, class) = names[k];
        let l = Compose::new(
            REQUESTERS[k],
            &format!("Ошибка {i}"),
            &format!(
                "Здравствуйте! Не открывается дневник, на экране ошибка номер {i}.\n\n{name}, мама ученика {class} класса."
            ),
        );
        stack
            .send(&l.from, SUPPORT, &l.build())
            .await
            .expect("send");
        letters.push(l);
    }
    stack.wait_for(SUPPORT, "INBOX", N, WAIT).await;

    // Killed mid-batch twice, then once more while sending, then left to finish.
    let bukher = specialist("Бухер В.В.");
    let mut runs = Vec::new();
    let mut done_at_kill = Vec::new();
    for now in ["08:30", "08:32"] {
        let mut d = cfg.start(&format!("2021-09-07T{now}:00+03:00"));
        done_at_kill.push(wait_decisions(&mut d, 10).await);
        d.kill();
        runs.push(d);
    }
    {
        let mut d = cfg.start("2021-09-07T08:34:00+03:00");
        stack.wait_for(bukher, "INBOX", 10, WAIT).await;
        done_at_kill.push(d.decisions());
        d.kill();
        runs.push(d);
    }
    let mut last = cfg.start("2021-09-07T08:36:00+03:00");
    eprintln!("decisions logged by the killed runs: {done_at_kill:?}");

    // Wait for the end state: every letter filed, forwarded, and each requester
    // acknowledged up to the daily limit (5; each of them wrote 8 or 9 letters).
    let distinct = |raws: Vec<Vec<u8>>| -> BTreeSet<String> {
        Mail::all(&raws).into_iter().map(|m| m.message_id).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let processed = stack.fetch(SUPPORT, "duty-desk/Processed").await.len();
        let forwards = distinct(stack.fetch(bukher, "INBOX").await).len();
        let mut acks = Vec::new();
        for who in REQUESTERS {
            acks.push(distinct(stack.fetch(who, "INBOX").await).len());
        }
        if processed >= N && forwards >= N && acks.iter().all(|&n| n >= 5) {
            break;
        }
        last.assert_running();
        assert!(
            Instant::now() < deadline,
            "{processed} processed, {forwards} forwards, acks {acks:?}\n{}",
            last.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.wait_postfix_idle(WAIT).await;
    // The outbox is empty once the last run has nothing more to send: it stops cleanly.
    last.stop();
    stack.wait_postfix_idle(WAIT).await;

    let filed = Mail::all(&stack.fetch(SUPPORT, "duty-desk/Processed").await);
    let mut filed_ids: Vec<String> = filed.iter().map(|m| m.message_id.clone()).collect();
    filed_ids.sort();
    let mut sent_ids: Vec<String> = letters.iter().map(|l| l.message_id.clone()).collect();
    sent_ids.sort();
    assert_eq!(filed_ids, sent_ids, "each letter filed exactly once");
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Processed", N)])
    );

    // Forwards: one per letter. A duplicate only as the same Message-ID re-sent.
    let fwds = Mail::all(&stack.fetch(bukher, "INBOX").await);
    let mut by_id: BTreeMap<String, &Mail> = BTreeMap::new();
    for m in &fwds {
        if let Some(prev) = by_id.insert(m.message_id.clone(), m) {
            assert_eq!(prev.subject, m.subject, "one Message-ID, two letters");
        }
    }
    let mut attached: Vec<String> = by_id.values().flat_map(|m| m.attached_ids()).collect();
    attached.sort();
    assert_eq!(attached, sent_ids, "each letter forwarded exactly once");
    let tickets: BTreeSet<String> = by_id
        .values()
        .map(|m| m.subject.split(']').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(tickets.len(), N, "one ticket per letter");

    // Acknowledgements: one per ticket, within the limit of 5 a day per sender.
    for who in REQUESTERS {
        let acks = Mail::all(&stack.fetch(who, "INBOX").await);
        let distinct: BTreeMap<String, String> = acks
            .iter()
            .map(|m| (m.message_id.clone(), m.subject.clone()))
            .collect();
        let ticket_tags: BTreeSet<&String> = distinct.values().collect();
        assert_eq!(
            ticket_tags.len(),
            distinct.len(),
            "{who}: a ticket acked twice"
        );
        assert_eq!(distinct.len(), 5, "{who}: {distinct:?}");
    }
    let duplicates = fwds.len() - by_id.len();
    eprintln!(
        "forwards received {}, distinct {}, re-sent duplicates {duplicates}",
        fwds.len(),
        by_id.len()
    );
    assert_nobody_else(&stack, &[&[bukher][..], &REQUESTERS[..]].concat()).await;
    drop(runs);
}

#[test]
fn check_config_names_a_broken_template_and_its_line() {
    let mut cfg = Home::new();
    let templates = cfg.dir().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    cfg.templates_dir = Some(templates.clone());
    let ca = cfg.dir().join("ca.pem");
    std::fs::write(&ca, "").unwrap();
    let config = cfg.write_for(1143, 1993, 1465, &ca);

    let ok = run_cli(&config, &["check-config"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // A syntax error: the file and the line.
    std::fs::write(
        templates.join("ask.j2"),
        "Subject: Re: {{ subject }}\n\nЗдравствуйте!\n{% if missing %}\nнет endif\n",
    )
    .unwrap();
    let bad = run_cli(&config, &["check-config"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "{err}");
    // The unclosed `{% if %}` opens on line 4.
    assert_contains(&err, "ask.j2: line 4:");

    // A misspelt variable: the template's name and the line it is on.
    std::fs::write(
        templates.join("ask.j2"),
        "Subject: Re: {{ subject }}\n\nЗдравствуйте!\n\nНомер: {{ tikcet }}\n",
    )
    .unwrap();
    let bad = run_cli(&config, &["check-config"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "{err}");
    assert_contains(&err, "template ask: line 5:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_while_the_smtp_server_is_down_goes_out_when_it_is_back() {
    let mut stack = MailStack::start();
    let cfg = Home::new();
    cfg.write(&stack);
    let letter = ivanova("Дневник", "Не открывается дневник, белый экран.");
    stack.deliver(&letter).await;
    stack.stop_postfix();

    let mut daemon = cfg.start(TUE_0830);
    // Decided and filed although nothing can be sent.
    stack
        .wait_for(SUPPORT, "duty-desk/Processed", 1, WAIT)
        .await;
    let deadline = Instant::now() + WAIT;
    while !daemon.log().contains("outbox: cannot connect") {
        daemon.assert_running();
        assert!(Instant::now() < deadline, "{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stack.start_postfix();

    let bukher = specialist("Бухер В.В.");
    let fwd = stack.inbox(bukher, 1).await.remove(0);
    assert_eq!(fwd.attached_ids(), vec![letter.message_id.clone()]);
    stack.inbox(PARENT1, 1).await;
    daemon.stop();
    assert_nobody_else(&stack, &[bukher, PARENT1]).await;
    assert_eq!(stack.fetch(bukher, "INBOX").await.len(), 1);
    assert_eq!(stack.fetch(PARENT1, "INBOX").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reconnects_after_the_imap_server_restarts() {
    let mut stack = MailStack::start();
    let cfg = Home::new();
    cfg.write(&stack);
    let mut daemon = cfg.start(TUE_0830);
    let deadline = Instant::now() + WAIT;
    while !daemon.log().contains("mailbox: connected") {
        daemon.assert_running();
        assert!(Instant::now() < deadline, "{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stack.stop_dovecot();
    stack.start_dovecot();

    let letter = ivanova("Дневник", "Не открывается дневник, белый экран.");
    stack.deliver(&letter).await;
    let bukher = specialist("Бухер В.В.");
    let fwd = stack.inbox(bukher, 1).await.remove(0);
    assert_eq!(fwd.attached_ids(), vec![letter.message_id.clone()]);
    daemon.assert_running();
    daemon.stop();
    assert_eq!(
        support_folders(&stack).await,
        folders(&[("duty-desk/Processed", 1)])
    );
}
