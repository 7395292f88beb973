//! Every variant, decided with no store at all: the view and the loads are built
//! by hand, as [`View::read`] and [`Loads::read`] would find them.
use super::*;

fn config() -> Config {
    crate::config::example(&[])
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Two on duty (Бамбуркин, Макаренко).
const ON_DUTY: &str = "2021-09-09T08:30:00+03:00";
/// Nobody on duty; Бухер's window opens at 14:00.
const OFF_DUTY: &str = "2021-09-09T11:00:00+03:00";
/// After the timetable's last day.
const EXPIRED: &str = "2022-06-15T09:00:00+03:00";

const PARENT: &str = "mama@mail.ru";

fn complete() -> Request {
    Request {
        sender: Some(PARENT.into()),
        message_id: Some("m1@mail.ru".into()),
        subject: "Не входит в журнал".into(),
        role: Some(crate::request::Role::Parent),
        full_name: Some("Смирнова Ольга Викторовна".into()),
        class: Some("5А".into()),
        description: Some("Не могу войти в электронный журнал".into()),
        verdict: Verdict::Forward,
        reason: "complete".into(),
        ..Request::empty(100)
    }
}

fn view(sender: &str) -> View {
    View::new(Some(sender), trust::Verdict::Unknown)
}

fn stored(number: i64, state: TicketState) -> Ticket {
    let mut t = ticket_from_request(&complete(), &view(PARENT), at(ON_DUTY));
    t.number = number;
    t.state = state;
    t
}

fn decided(req: &Request, view: &View, now: &str) -> Decision {
    decide(req, view, &config(), &Loads::default(), at(now))
}

#[test]
fn a_copy_from_the_same_writer_is_a_duplicate() {
    let mut v = view(PARENT);
    v.duplicate = Some("Waiting".into());
    assert_eq!(
        decided(&complete(), &v, ON_DUTY),
        Decision::Duplicate {
            folder: Folder::Waiting,
            message_id: "m1@mail.ru".into()
        }
    );
}

#[test]
fn ignored_letters_have_a_typed_reason_and_its_folder() {
    let cases = [
        (
            "robot: Auto-Submitted: auto-replied",
            IgnoreReason::Robot,
            Folder::Ignored,
        ),
        (
            "too large: 104857600 bytes exceeds the limit of 1000 bytes",
            IgnoreReason::TooLarge,
            Folder::Unreadable,
        ),
        (
            "unreadable: not a mail message",
            IgnoreReason::Unreadable,
            Folder::Unreadable,
        ),
        (
            "no sender address to answer",
            IgnoreReason::Other,
            Folder::Ignored,
        ),
        // Words inside a reason name no kind: only its first part does.
        (
            "robot: a list mail about unreadable letters too large to read",
            IgnoreReason::Robot,
            Folder::Ignored,
        ),
    ];
    for (reason, why, folder) in cases {
        let r = Request {
            verdict: Verdict::Ignore,
            reason: reason.into(),
            ..complete()
        };
        let d = decided(&r, &view(PARENT), ON_DUTY);
        assert_eq!(d, Decision::Ignore(why), "{reason}");
        assert_eq!((d.folder(), d.as_str()), (folder, "ignore"), "{reason}");
    }
    // Our own address, whatever the letter says.
    let own = config().from.email.clone();
    let d = decided(&complete(), &view(&own), ON_DUTY);
    assert_eq!(d, Decision::Ignore(IgnoreReason::Own));
    assert_eq!(d.folder(), Folder::Ignored);
}

#[test]
fn a_rude_letter_is_refused_and_reported_once_a_day() {
    let r = Request {
        verdict: Verdict::Etiquette,
        ..complete()
    };
    let Decision::Refuse { ticket, report } = decided(&r, &view(PARENT), ON_DUTY) else {
        panic!("not refused");
    };
    assert!(report);
    assert_eq!((ticket.number, ticket.state), (0, TicketState::Refused));
    let mut v = view(PARENT);
    v.reported_today = true;
    let d = decided(&r, &v, ON_DUTY);
    assert!(matches!(d, Decision::Refuse { report: false, .. }), "{d:?}");
    assert_eq!((d.folder(), d.as_str()), (Folder::Etiquette, "etiquette"));
    // Rude words in a follow-up start a ticket of their own.
    let mut v = view(PARENT);
    v.thread = Thread::FollowUp(stored(7, TicketState::WaitingSender));
    assert!(
        matches!(decided(&r, &v, ON_DUTY), Decision::Refuse { ticket, .. } if ticket.number == 0)
    );
}

#[test]
fn an_incomplete_letter_asks_for_exactly_what_is_missing() {
    let r = Request {
        class: None,
        verdict: Verdict::Ask,
        ..complete()
    };
    let d = decided(&r, &view(PARENT), ON_DUTY);
    assert_eq!((d.folder(), d.as_str()), (Folder::Waiting, "ask"));
    let Decision::Ask { missing, ticket } = d else {
        panic!("not asked");
    };
    assert_eq!(missing, [Field::Class]);
    assert_eq!(ticket.requester.as_deref(), Some(PARENT));
}

#[test]
fn complete_on_duty_goes_to_the_lighter_load_then_round_robin() {
    let cfg = config();
    let fwd = |loads: &Loads| match decide(&complete(), &view(PARENT), &cfg, loads, at(ON_DUTY)) {
        Decision::Forward {
            to, acknowledge, ..
        } => {
            assert!(acknowledge);
            to.email
        }
        other => panic!("not forwarded: {other:?}"),
    };
    // Config order first, then the one after the last chosen.
    assert_eq!(fwd(&Loads::default()), "bamburkin@example.org");
    let after_bamburkin = Loads {
        last: Some("bamburkin@example.org".into()),
        ..Loads::default()
    };
    assert_eq!(fwd(&after_bamburkin), "makarenko@example.org");
    // Fewer open tickets wins over the turn.
    let busy = Loads {
        open: [("makarenko@example.org".to_string(), 3)].into(),
        last: Some("bamburkin@example.org".into()),
    };
    assert_eq!(fwd(&busy), "bamburkin@example.org");
}

#[test]
fn two_on_duty_a_problem_goes_to_the_one_whose_topics_fit_it() {
    // Бамбуркин technical, Макаренко (here) methodological only.
    let cfg = crate::config::example(&[(
        "topics = [\"technical\", \"methodological\"]",
        "topics = [\"methodological\"]",
    )]);
    let to = |description: &str, loads: &Loads| {
        let mut req = complete();
        req.description = Some(description.into());
        match decide(&req, &view(PARENT), &cfg, loads, at(ON_DUTY)) {
            Decision::Forward { to, .. } => to.email,
            other => panic!("not forwarded: {other:?}"),
        }
    };
    let bamburkin_busy = Loads {
        open: [("bamburkin@example.org".to_string(), 3)].into(),
        last: None,
    };
    let makarenko_busy = Loads {
        open: [("makarenko@example.org".to_string(), 3)].into(),
        last: None,
    };
    let password = "Не могу войти: пишет «неверный пароль», восстановить не получается.";
    let marks = "Не выставлены оценки за четверть по математике.";
    let neither = "Помогите разобраться, что случилось с дневником сына.";
    // Preferred even when busier; a problem of neither kind goes by the loads.
    assert_eq!(to(password, &bamburkin_busy), "bamburkin@example.org");
    assert_eq!(to(marks, &makarenko_busy), "makarenko@example.org");
    assert_eq!(to(neither, &bamburkin_busy), "makarenko@example.org");
    assert_eq!(to(neither, &makarenko_busy), "bamburkin@example.org");
}

#[test]
fn complete_off_duty_is_held_for_the_next_window() {
    let d = decided(&complete(), &view(PARENT), OFF_DUTY);
    assert_eq!((d.folder(), d.as_str()), (Folder::Processed, "held"));
    let Decision::Hold {
        to,
        shift,
        acknowledge,
        ..
    } = d
    else {
        panic!("not held");
    };
    assert!(acknowledge);
    assert_eq!(to.name, "Бухер В.В.");
    assert_eq!(
        shift.from.with_timezone(&Utc),
        at("2021-09-09T14:00:00+03:00")
    );
}

#[test]
fn with_no_window_ahead_the_fallback_gets_it() {
    let d = decided(&complete(), &view(PARENT), EXPIRED);
    assert_eq!(d.as_str(), "forward");
    let Decision::Fallback { to, .. } = d else {
        panic!("not to the fallback: {d:?}");
    };
    assert_eq!(to.email, "admin@example.org");
}

#[test]
fn a_held_ticket_is_released_to_its_specialist_or_planned_again() {
    let cfg = config();
    let mut t = stored(3, TicketState::WaitingDuty);
    t.assignee = Some("bukher@example.org".into());
    let opened = at("2021-09-09T14:00:00+03:00");
    let d = decide_release(t.clone(), &cfg, &Loads::default(), opened);
    let Decision::Release { to, ticket } = &d else {
        panic!("not released: {d:?}");
    };
    assert_eq!(
        (to.email.as_str(), ticket.number),
        ("bukher@example.org", 3)
    );
    assert_eq!(d.as_str(), "forward");
    // Nobody on duty after all (the timetable changed): held again, not acknowledged.
    let d = decide_release(t, &cfg, &Loads::default(), at(OFF_DUTY));
    assert!(
        matches!(
            d,
            Decision::Hold {
                acknowledge: false,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn follow_ups_merge_and_go_where_their_ticket_is() {
    let follow = |t: Ticket, exchanges_left: u32, now: &str| {
        let mut v = view(PARENT);
        v.thread = Thread::FollowUp(t);
        v.exchanges_left = exchanges_left;
        decided(&complete(), &v, now)
    };
    let mut forwarded = stored(5, TicketState::Forwarded);
    forwarded.assignee = Some("makarenko@example.org".into());
    forwarded.assignee_name = Some("Макаренко С.О.".into());
    let d = follow(forwarded.clone(), 2, ON_DUTY);
    assert_eq!(d.as_str(), "addition");
    assert!(
        matches!(&d, Decision::Addition { to, ticket } if to.email == "makarenko@example.org" && ticket.number == 5),
        "{d:?}"
    );
    let d = follow(forwarded, 0, ON_DUTY);
    assert!(matches!(d, Decision::AdditionWithheld { .. }), "{d:?}");
    assert_eq!(d.as_str(), "addition");
    let d = follow(stored(6, TicketState::WaitingDuty), 2, ON_DUTY);
    assert!(matches!(d, Decision::Merge { .. }), "{d:?}");
    assert_eq!(d.as_str(), "held");
    // A ticket waiting for its sender, now complete: forwarded, the fields merged.
    let mut waiting = stored(8, TicketState::WaitingSender);
    waiting.class = None;
    let d = follow(waiting, 2, ON_DUTY);
    let Decision::Forward { ticket, .. } = d else {
        panic!("not forwarded: {d:?}");
    };
    assert_eq!((ticket.number, ticket.class.as_deref()), (8, Some("5А")));
}

#[test]
fn a_complaint_about_a_specialist_goes_to_their_supervisor_never_to_them() {
    let complaint = Request {
        new_text: "Хочу пожаловаться на Бамбуркина С.П.: он грубо разговаривал со мной.".into(),
        ..complete()
    };
    // On duty now, yet the complaint goes to the school's supervisor.
    let d = decided(&complaint, &view(PARENT), ON_DUTY);
    let Decision::Complaint {
        about,
        to,
        acknowledge,
        ticket,
    } = &d
    else {
        panic!("not a complaint: {d:?}");
    };
    assert_eq!(d.as_str(), "complaint");
    assert_eq!(d.folder(), Folder::Processed);
    assert_eq!(
        (about.email.as_str(), to.email.as_str()),
        ("bamburkin@example.org", "director@example.org")
    );
    assert!(*acknowledge && ticket.number == 0);
    // Off duty or not: the same.
    assert!(matches!(
        decided(&complaint, &view(PARENT), OFF_DUTY),
        Decision::Complaint { .. }
    ));
    // A specialist's own supervisor, when the config names one.
    let cfg = crate::config::example(&[(
        "email = \"bamburkin@example.org\"\n",
        "email = \"bamburkin@example.org\"\nsupervisor = \"Ткаченко Е.В. <tkachenko@example.org>\"\n",
    )]);
    let d = decide(
        &complaint,
        &view(PARENT),
        &cfg,
        &Loads::default(),
        at(ON_DUTY),
    );
    assert!(
        matches!(&d, Decision::Complaint { to, .. } if to.email == "tkachenko@example.org"),
        "{d:?}"
    );
    // A technical problem that names the specialist is forwarded as usual.
    let technical = Request {
        new_text: "Бамбуркин С.П. сбросил пароль, но приложение не отвечает.".into(),
        ..complete()
    };
    assert!(matches!(
        decided(&technical, &view(PARENT), ON_DUTY),
        Decision::Forward { .. }
    ));
    // In a follow-up to the ticket that specialist has: to the supervisor too,
    // and once there, further letters are additions to the supervisor.
    let mut forwarded = stored(5, TicketState::Forwarded);
    forwarded.assignee = Some("bamburkin@example.org".into());
    forwarded.assignee_name = Some("Бамбуркин С.П.".into());
    let mut v = view(PARENT);
    v.thread = Thread::FollowUp(forwarded.clone());
    v.exchanges_left = 2;
    let d = decided(&complaint, &v, ON_DUTY);
    assert!(
        matches!(&d, Decision::Complaint { to, ticket, .. } if to.email == "director@example.org" && ticket.number == 5),
        "{d:?}"
    );
    forwarded.assignee = Some("director@example.org".into());
    v.thread = Thread::FollowUp(forwarded);
    let d = decided(&complaint, &v, ON_DUTY);
    assert!(
        matches!(&d, Decision::Addition { to, .. } if to.email == "director@example.org"),
        "{d:?}"
    );
}

#[test]
fn a_specialists_answer_is_relayed_unless_it_may_not_be() {
    let specialist = "makarenko@example.org";
    let answer = |t: Ticket, f: &dyn Fn(&mut View)| {
        let mut v = view(specialist);
        v.thread = Thread::Answer(t);
        v.exchanges_left = 2;
        f(&mut v);
        let r = Request {
            sender: Some(specialist.into()),
            sender_name: Some("Макаренко С.О.".into()),
            ..complete()
        };
        decided(&r, &v, ON_DUTY)
    };
    let forwarded = stored(5, TicketState::Forwarded);
    let d = answer(forwarded.clone(), &|_| {});
    assert_eq!(d.as_str(), "relayed");
    assert!(
        matches!(&d, Decision::Relay { specialist: s, .. } if s.email == specialist && s.name == "Макаренко С.О."),
        "{d:?}"
    );
    let not_relayed = |d: Decision| match d {
        Decision::Answered { why, .. } => why,
        other => panic!("relayed: {other:?}"),
    };
    assert_eq!(
        not_relayed(answer(forwarded.clone(), &|v| v.requester_received = true)),
        NotRelayed::Received
    );
    assert_eq!(
        not_relayed(answer(forwarded.clone(), &|v| v.exchanges_left = 0)),
        NotRelayed::ExchangeLimit
    );
    let mut forged = forwarded.clone();
    forged.sender_auth = Some(trust::Verdict::Fail.as_str().into());
    assert_eq!(not_relayed(answer(forged, &|_| {})), NotRelayed::Forged);
    let mut nowhere = forwarded;
    nowhere.requester = Some("no address at all".into());
    assert_eq!(
        not_relayed(answer(nowhere, &|_| {})),
        NotRelayed::Undeliverable
    );
}
