//! Decisions carried out against an in-memory store: what is queued and recorded.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::words::{merge_text, own_description, short_name, waited_ru, when_ru};
use super::*;
use crate::request::{Role, Verdict};
use crate::store::{Queries, Store, TicketState};
use crate::templates::Templates;

/// A stand-in request without a letter.
fn dummy_request() -> Request {
    Request {
        verdict: Verdict::Forward,
        ..Request::empty(0)
    }
}

fn config() -> Config {
    crate::config::example(&[])
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn req(sender: &str, mid: &str) -> Request {
    Request {
        sender: Some(sender.into()),
        sender_name: None,
        message_id: Some(mid.into()),
        subject: "Не входит в журнал".into(),
        role: Some(Role::Parent),
        full_name: Some("Смирнова Ольга Викторовна".into()),
        class: Some("5А".into()),
        description: Some("Не могу войти в электронный журнал".into()),
        ..dummy_request()
    }
}

struct World {
    store: Store,
    config: Config,
    templates: Templates,
}

impl World {
    fn new() -> World {
        World {
            store: Store::in_memory().unwrap(),
            config: config(),
            templates: Templates::defaults(),
        }
    }
    fn handle(&mut self, r: &Request, key: &str, now: &str) -> Outcome {
        let desk = Desk {
            config: &self.config,
            templates: &self.templates,
        };
        let incoming = Incoming {
            key,
            uid: None,
            raw: b"From: x@y.ru\r\nSubject: s\r\n\r\nbody\r\n",
        };
        self.store
            .transaction(|tx| handle(tx, &desk, r, &incoming, at(now)))
            .unwrap()
    }
    fn release(&mut self, now: &str) -> Vec<Outcome> {
        let desk = Desk {
            config: &self.config,
            templates: &self.templates,
        };
        self.store
            .transaction(|tx| release_due(tx, &desk, at(now)))
            .unwrap()
    }
    fn queued(&self, now: &str) -> Vec<(String, Vec<String>, String)> {
        self.store
            .read()
            .ready_outgoing(at(now), 1000)
            .unwrap()
            .into_iter()
            .map(|o| {
                let subject = mail_parser::MessageParser::default()
                    .parse(&o.raw)
                    .and_then(|m| m.subject().map(str::to_string))
                    .unwrap_or_default();
                (o.kind, o.recipients, subject)
            })
            .collect()
    }
}

const THU_0830: &str = "2021-09-09T08:30:00+03:00";

#[test]
fn complete_on_duty_is_forwarded_and_acknowledged() {
    let mut w = World::new();
    let o = w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k1", THU_0830);
    assert_eq!((o.decision, o.folder), ("forward", Folder::Processed));
    let q = w.queued(THU_0830);
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(q[0].0, "forward");
    assert_eq!(q[0].2, "[Заявка #1] Смирнова О.В., 5А: Не входит в журнал");
    assert!(["bamburkin@example.org", "makarenko@example.org"].contains(&q[0].1[0].as_str()));
    assert_eq!(q[1].0, "ack_now");
    assert_eq!(q[1].1, ["mama@mail.ru"]);
}

#[test]
fn two_on_duty_share_the_tickets() {
    let mut w = World::new();
    for i in 0..4 {
        w.handle(
            &req(&format!("p{i}@mail.ru"), &format!("m{i}@mail.ru")),
            &format!("k{i}"),
            THU_0830,
        );
    }
    let forwards: Vec<String> = w
        .queued(THU_0830)
        .into_iter()
        .filter(|q| q.0 == "forward")
        .map(|q| q.1[0].clone())
        .collect();
    let bam = forwards
        .iter()
        .filter(|f| f.starts_with("bamburkin"))
        .count();
    let mak = forwards
        .iter()
        .filter(|f| f.starts_with("makarenko"))
        .count();
    assert_eq!((bam, mak), (2, 2), "{forwards:?}");
}

#[test]
fn incomplete_asks_then_follow_up_completes() {
    let mut w = World::new();
    let mut r = req("mama@mail.ru", "m1@mail.ru");
    r.class = None;
    r.verdict = Verdict::Ask;
    let o = w.handle(&r, "k1", THU_0830);
    assert_eq!((o.decision, o.folder), ("ask", Folder::Waiting));
    assert_eq!(o.reason, "missing class");
    let q = w.queued(THU_0830);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].2, "Re: Не входит в журнал [Заявка #1]");
    let ask_id = w.store.read().ready_outgoing(at(THU_0830), 10).unwrap()[0]
        .message_id
        .clone();
    // The answer: only the class, In-Reply-To our ask.
    let answer = Request {
        sender: Some("mama@mail.ru".into()),
        message_id: Some("m2@mail.ru".into()),
        in_reply_to: vec![ask_id],
        class: Some("5А".into()),
        verdict: Verdict::Ask,
        ..dummy_request()
    };
    let o = w.handle(&answer, "k2", "2021-09-09T08:40:00+03:00");
    assert_eq!(o.decision, "forward");
    assert_eq!(o.ticket, Some(1));
    let t = w.store.read().ticket(1).unwrap().unwrap();
    assert_eq!(t.class.as_deref(), Some("5А"));
    assert_eq!(t.state, TicketState::Forwarded);
    // The forward carries both letters.
    assert_eq!(w.store.read().ticket_letters(1).unwrap().len(), 2);
}

#[test]
fn off_duty_is_held_then_released_when_the_window_opens() {
    let mut w = World::new();
    let o = w.handle(
        &req("mama@mail.ru", "m1@mail.ru"),
        "k1",
        "2021-09-09T11:00:00+03:00",
    );
    assert_eq!(o.decision, "held");
    assert_eq!(o.assignee.as_deref(), Some("Бухер В.В."));
    let q = w.queued("2021-09-09T11:00:00+03:00");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].0, "ack_later");
    assert!(w.release("2021-09-09T13:59:00+03:00").is_empty());
    let released = w.release("2021-09-09T14:00:00+03:00");
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].assignee.as_deref(), Some("Бухер В.В."));
    let q = w.queued("2021-09-09T14:00:00+03:00");
    assert_eq!(q.iter().filter(|x| x.0 == "forward").count(), 1);
    assert_eq!(
        q.iter().find(|x| x.0 == "forward").unwrap().1,
        ["bukher@example.org"]
    );
}

#[test]
fn expired_schedule_goes_to_the_fallback() {
    let mut w = World::new();
    let o = w.handle(
        &req("mama@mail.ru", "m1@mail.ru"),
        "k1",
        "2022-06-15T09:00:00+03:00",
    );
    assert_eq!(o.decision, "forward");
    let q = w.queued("2022-06-15T09:00:00+03:00");
    assert_eq!(
        q.iter().find(|x| x.0 == "forward").unwrap().1,
        ["admin@example.org"]
    );
}

#[test]
fn rude_letter_is_refused_and_reported() {
    let mut w = World::new();
    let mut r = req("angry@mail.ru", "m1@mail.ru");
    r.verdict = Verdict::Etiquette;
    r.reason = "insults".into();
    let o = w.handle(&r, "k1", THU_0830);
    assert_eq!((o.decision, o.folder), ("etiquette", Folder::Etiquette));
    let q = w.queued(THU_0830);
    let kinds: Vec<&str> = q.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(kinds, ["etiquette", "report"]);
    assert_eq!(q[1].1, ["director@example.org"]);
    assert!(!kinds.contains(&"forward"));
}

#[test]
fn robots_own_mail_and_duplicates_cause_nothing() {
    let mut w = World::new();
    let mut robot = req("mailer-daemon@mail.ru", "b1@mail.ru");
    robot.verdict = Verdict::Ignore;
    robot.reason = "bounce".into();
    assert_eq!(w.handle(&robot, "k1", THU_0830).folder, Folder::Ignored);
    let own = req("uvk-mtl@mail.ru", "o1@mail.ru");
    assert_eq!(w.handle(&own, "k2", THU_0830).decision, "ignore");
    assert!(w.queued(THU_0830).is_empty());
    w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k3", THU_0830);
    let n = w.queued(THU_0830).len();
    let dup = w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k4", THU_0830);
    assert_eq!(dup.decision, "duplicate");
    assert_eq!(w.queued(THU_0830).len(), n);
}

#[test]
fn auto_replies_are_limited_per_sender_per_day() {
    let mut w = World::new();
    for i in 0..7 {
        let mut r = req("mama@mail.ru", &format!("m{i}@mail.ru"));
        r.full_name = None;
        r.verdict = Verdict::Ask;
        r.ticket_tag = None;
        w.handle(&r, &format!("k{i}"), THU_0830);
    }
    let replies = w
        .queued(THU_0830)
        .iter()
        .filter(|q| q.1 == ["mama@mail.ru"])
        .count();
    assert_eq!(replies, 5);
    // The next local day the limit starts again.
    let mut r = req("mama@mail.ru", "next@mail.ru");
    r.full_name = None;
    r.verdict = Verdict::Ask;
    w.handle(&r, "k-next", "2021-09-10T08:30:00+03:00");
    let replies = w
        .queued("2021-09-10T08:30:00+03:00")
        .iter()
        .filter(|q| q.1 == ["mama@mail.ru"])
        .count();
    assert_eq!(replies, 6);
}

#[test]
fn addition_to_a_forwarded_ticket_goes_to_the_same_specialist() {
    let mut w = World::new();
    w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k1", THU_0830);
    let assignee = w.store.read().ticket(1).unwrap().unwrap().assignee.unwrap();
    let more = Request {
        sender: Some("mama@mail.ru".into()),
        message_id: Some("m2@mail.ru".into()),
        subject: "Re: [Заявка #1] принята".into(),
        ticket_tag: Some(1),
        description: Some("Забыла сказать: телефон Android".into()),
        verdict: Verdict::Ask,
        ..dummy_request()
    };
    // Later that day: someone else may be on duty, the addition still goes to the assignee.
    let o = w.handle(&more, "k2", "2021-09-09T14:30:00+03:00");
    assert_eq!(o.decision, "addition");
    let q = w.queued("2021-09-09T14:30:00+03:00");
    assert_eq!(
        q.iter()
            .filter(|x| x.0 == "addition")
            .map(|x| x.1[0].clone())
            .collect::<Vec<_>>(),
        [assignee]
    );
}

#[test]
fn a_specialists_answer_to_the_support_address_reaches_the_requester() {
    let mut w = World::new();
    w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k1", THU_0830);
    let fwd = w.store.read().ready_outgoing(at(THU_0830), 10).unwrap();
    let fwd = fwd.iter().find(|o| o.kind == "forward").unwrap();
    let specialist = fwd.recipients[0].clone();
    let answer = Request {
        sender: Some(specialist.clone()),
        sender_name: Some("Бамбуркин С.П.".into()),
        message_id: Some("s1@example.org".into()),
        in_reply_to: vec![fwd.message_id.clone()],
        subject: "Re: [Заявка #1] Смирнова О.В., 5А: Не входит в журнал".into(),
        new_text: "Пароль сброшен, попробуйте войти снова.".into(),
        verdict: Verdict::Ask,
        ..dummy_request()
    };
    let o = w.handle(&answer, "k2", "2021-09-09T09:00:00+03:00");
    assert_eq!(o.decision, "relayed");
    let q = w.queued("2021-09-09T09:00:00+03:00");
    let relay = q
        .iter()
        .find(|x| x.0 == "relay")
        .expect("relayed to the requester");
    assert_eq!(relay.1, ["mama@mail.ru"]);
    assert_eq!(q.iter().filter(|x| x.0 == "addition").count(), 0);
    // Reply-all (the requester among the recipients): filed, nothing sent.
    let raw = format!(
        "From: {specialist}\r\nTo: mama@mail.ru\r\nCc: uvk-mtl@mail.ru\r\nSubject: Re\r\n\r\nok\r\n"
    );
    let desk = Desk {
        config: &w.config,
        templates: &w.templates,
    };
    let again = Request {
        message_id: Some("s2@example.org".into()),
        ..answer
    };
    let incoming = Incoming {
        key: "k3",
        uid: None,
        raw: raw.as_bytes(),
    };
    let n = w.queued("2021-09-09T09:00:00+03:00").len();
    let o = w
        .store
        .transaction(|tx| {
            handle(
                tx,
                &desk,
                &again,
                &incoming,
                at("2021-09-09T09:05:00+03:00"),
            )
        })
        .unwrap();
    assert_eq!(o.decision, "answered");
    assert_eq!(w.queued("2021-09-09T09:05:00+03:00").len(), n);
}

#[test]
fn short_names() {
    assert_eq!(short_name("Смирнова Ольга Викторовна"), "Смирнова О.В.");
    assert_eq!(short_name("Смирнова О.В."), "Смирнова О.В.");
    assert_eq!(short_name("Смирнова О. В."), "Смирнова О.В.");
    assert_eq!(short_name("Никитина Алла"), "Никитина А.");
}

#[test]
fn when_in_russian() {
    let t = chrono_tz::Europe::Moscow
        .with_ymd_and_hms(2021, 9, 9, 14, 0, 0)
        .unwrap();
    assert_eq!(when_ru(&t), "в четверг, 9 сентября, в 14:00");
}

#[test]
fn merging_descriptions() {
    assert_eq!(
        merge_text(None, Some("нет входа")),
        Some("нет входа".into())
    );
    assert_eq!(
        merge_text(Some("нет входа".into()), Some("нет входа")),
        Some("нет входа".into())
    );
    assert_eq!(
        merge_text(Some("нет входа".into()), Some("и пароль не подходит")),
        Some("нет входа\n\nи пароль не подходит".into())
    );
    assert_eq!(merge_text(Some("a".into()), None), Some("a".into()));
}

#[test]
fn a_follow_up_brings_only_the_description_its_writer_wrote_now() {
    let quoted = Request {
        new_text: "Класс 7Б.".into(),
        subject: "Re: Оценки [Заявка #1]".into(),
        description: Some(
            "в 08:31, Поддержка ЭлЖур <support@school.test>: Проблема: Не видны оценки".into(),
        ),
        ..dummy_request()
    };
    assert_eq!(own_description(&quoted), None);
    let written = Request {
        new_text: "Класс 7Б.\nИ ещё:   пропало\nрасписание на завтра.".into(),
        description: Some("И ещё: пропало расписание на завтра.".into()),
        ..dummy_request()
    };
    assert_eq!(
        own_description(&written),
        Some("И ещё: пропало расписание на завтра.")
    );
    let in_subject = Request {
        subject: "Не открывается дневник".into(),
        description: Some("Не открывается дневник".into()),
        ..dummy_request()
    };
    assert_eq!(own_description(&in_subject), Some("Не открывается дневник"));
}

#[test]
fn waited() {
    assert_eq!(waited_ru(Duration::seconds(30)), None);
    assert_eq!(
        waited_ru(Duration::minutes(90)).as_deref(),
        Some("1 ч 30 мин")
    );
    assert_eq!(waited_ru(Duration::hours(50)).as_deref(), Some("2 дн 2 ч"));
}
