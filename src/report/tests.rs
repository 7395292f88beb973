use super::rows::{AnswerRow, EventRow, LetterRow, MailRow, TicketRow};
use super::*;
use crate::config::Config;

fn config() -> Config {
    crate::config::example(&[])
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn week() -> Week {
    Week::of(
        NaiveDate::from_ymd_opt(2021, 9, 8).unwrap(),
        chrono_tz::Europe::Moscow,
    )
}

fn letter(t: &str, decision: &str, ticket: Option<i64>) -> LetterRow {
    LetterRow {
        at: at(t),
        decision: decision.into(),
        ticket,
    }
}

fn rows() -> Rows {
    let ticket = |n: i64, t: &str, state: &str, who: Option<&str>| TicketRow {
        number: n,
        created_at: at(t),
        state: state.into(),
        assignee_name: who.map(String::from),
    };
    let mail = |t: &str, kind: &str, n: i64| MailRow {
        at: at(t),
        kind: kind.into(),
        ticket: Some(n),
    };
    let event = |t: &str, e: &str, n: i64| EventRow {
        at: at(t),
        ticket: Some(n),
        event: e.into(),
    };
    Rows {
        letters: vec![
            // Sunday before the week: not counted.
            letter("2021-09-05T23:59:00+03:00", "forward", Some(9)),
            // Monday 08:30, Войтенко on duty.
            letter("2021-09-06T08:30:00+03:00", "forward", Some(1)),
            // Monday 12:10: nobody on duty (11:00–14:30 gap).
            letter("2021-09-06T12:10:00+03:00", "held", Some(2)),
            letter("2021-09-06T12:40:00+03:00", "ignore", None),
            letter("2021-09-06T12:41:00+03:00", "duplicate", Some(2)),
            // Monday 12:45: a complaint about a specialist (to their supervisor).
            letter("2021-09-06T12:45:00+03:00", "complaint", Some(5)),
            // Sunday 23:30 local: still the week.
            letter("2021-09-12T23:30:00+03:00", "ask", Some(3)),
            // Monday 00:00 of the next week: not counted.
            letter("2021-09-13T00:00:00+03:00", "ask", Some(4)),
        ],
        tickets: vec![
            ticket(
                1,
                "2021-09-06T08:30:00+03:00",
                "forwarded",
                Some("Войтенко Л.А."),
            ),
            ticket(
                2,
                "2021-09-06T12:10:00+03:00",
                "forwarded",
                Some("Макаренко С.О."),
            ),
            ticket(3, "2021-09-12T23:30:00+03:00", "waiting_sender", None),
        ],
        mail: vec![
            mail("2021-09-06T08:30:00+03:00", "forward", 1),
            mail("2021-09-06T12:10:00+03:00", "ack_later", 2),
            mail("2021-09-06T14:30:00+03:00", "forward", 2),
        ],
        events: vec![
            event("2021-09-06T12:10:00+03:00", "held", 2),
            event("2021-09-06T14:30:00+03:00", "released", 2),
        ],
        answers: None,
        records_from: Some(at("2021-09-01T08:00:00+03:00")),
    }
}

#[test]
fn figures_count_the_week_in_the_schools_zone() {
    let c = config();
    let f = figures(
        &rows(),
        week(),
        &c.schedule,
        at("2021-09-13T08:00:00+03:00"),
    );
    assert_eq!(f.monday.to_string(), "2021-09-06");
    assert_eq!(f.letters, 6);
    assert_eq!(f.requests, 4, "robots and copies are not requests");
    assert_eq!(
        f.requests_off_duty, 3,
        "12:10 and 12:45 Monday and 23:30 Sunday"
    );
    assert_eq!(f.heat[0][8], 1);
    assert_eq!(f.heat[0][12], 2);
    assert_eq!(f.heat[6][23], 1);
    assert_eq!(f.heat.iter().flatten().sum::<u32>(), 4);
    assert_eq!(f.tickets_opened, 3);
    assert_eq!(f.tickets_by_state["forwarded"], 2);
    assert_eq!(f.held.count, 1);
    assert_eq!(f.held.waited.as_ref().unwrap().median_minutes, 140);
    assert_eq!(f.records_from, None, "the records began before the week");
    // Nothing of answers is recorded: none of it is a zero.
    assert_eq!(f.answered, None);
    assert_eq!(f.unanswered, None);
    assert_eq!(f.complaints, Some(1));
    let voitenko = f
        .per_specialist
        .iter()
        .find(|s| s.name == "Войтенко Л.А.")
        .unwrap();
    assert_eq!((voitenko.forwarded, voitenko.answered), (1, None));
    // Monday 08:00–11:00 and 14:30–16:00, …: the example's twelve weekly windows.
    assert_eq!(f.duty.len(), 12);
    assert!(
        f.duty
            .contains(&(0, 8 * 60, 11 * 60, "Войтенко Л.А.".into()))
    );
    let text = render::text(&f, chrono_tz::Europe::Moscow);
    assert!(text.contains("Отвечено: не учитывается пока"), "{text}");
    assert!(text.contains("Пн: [08ч:1] 12ч:2"), "{text}");
    assert!(text.contains("Жалоб на специалистов: 1"), "{text}");
}

#[test]
fn recorded_answers_give_time_to_first_answer_per_specialist() {
    let c = config();
    let mut r = rows();
    let answer = |when: &str, who: &str, since: &str| AnswerRow {
        ticket: 1,
        at: at(when),
        specialist_name: Some(who.into()),
        assigned_at: Some(at(since)),
    };
    r.answers = Some(vec![
        answer(
            "2021-09-06T09:15:00+03:00",
            "Войтенко Л.А.",
            "2021-09-06T08:30:00+03:00",
        ),
        answer(
            "2021-09-06T10:00:00+03:00",
            "Войтенко Л.А.",
            "2021-09-06T08:30:00+03:00",
        ),
    ]);
    let f = figures(&r, week(), &c.schedule, at("2021-09-13T08:00:00+03:00"));
    assert_eq!((f.answered, f.unanswered), (Some(1), Some(1)));
    let v = f
        .per_specialist
        .iter()
        .find(|s| s.name == "Войтенко Л.А.")
        .unwrap();
    assert_eq!(v.first_answer.as_ref().unwrap().median_minutes, 45);
    let m = f
        .per_specialist
        .iter()
        .find(|s| s.name == "Макаренко С.О.")
        .unwrap();
    assert_eq!(
        (m.forwarded, m.answered, &m.first_answer),
        (1, Some(0), &None)
    );
}

#[test]
fn a_ticket_passed_on_counts_for_who_answered_from_when_it_became_theirs() {
    let c = config();
    let mut r = rows();
    // Ticket 1 (Войтенко's) was passed to Макаренко at 11:00, who answered at 11:20.
    r.answers = Some(vec![AnswerRow {
        ticket: 1,
        at: at("2021-09-06T11:20:00+03:00"),
        specialist_name: Some("Макаренко С.О.".into()),
        assigned_at: Some(at("2021-09-06T11:00:00+03:00")),
    }]);
    let f = figures(&r, week(), &c.schedule, at("2021-09-13T08:00:00+03:00"));
    let of = |name: &str| f.per_specialist.iter().find(|s| s.name == name).unwrap();
    assert_eq!(of("Войтенко Л.А.").answered, Some(0));
    let m = of("Макаренко С.О.");
    assert_eq!(m.answered, Some(1));
    assert_eq!(m.first_answer.as_ref().unwrap().median_minutes, 20);
}

#[test]
fn median_and_90th_percentile_by_nearest_rank() {
    let d = |m: &[i64]| m.iter().map(|x| Duration::minutes(*x)).collect::<Vec<_>>();
    let s = spread(d(&[50, 10, 40, 30, 20, 60, 70, 80, 90, 100])).unwrap();
    assert_eq!(
        (s.median_minutes, s.p90_minutes, s.max_minutes),
        (50, 90, 100)
    );
    let s = spread(d(&[7])).unwrap();
    assert_eq!((s.median_minutes, s.p90_minutes), (7, 7));
    assert!(spread(vec![]).is_none());
}

#[test]
fn the_report_is_due_from_its_day_and_hour_for_the_week_before() {
    let c = config();
    let tz = chrono_tz::Europe::Moscow;
    let r = &c.report;
    assert_eq!((r.day, r.hour), (chrono::Weekday::Mon, 8));
    assert_eq!(r.recipients, std::slice::from_ref(&c.supervisor));
    assert_eq!(due_at(r, tz, "2021-09-13T07:59:00+03:00"), None);
    assert_eq!(
        due_at(r, tz, "2021-09-13T08:00:00+03:00"),
        Some("2021-09-06")
    );
    assert_eq!(
        due_at(r, tz, "2021-09-19T23:59:00+03:00"),
        Some("2021-09-06")
    );
    let fri = crate::config::ReportSettings {
        day: chrono::Weekday::Fri,
        hour: 15,
        ..r.clone()
    };
    assert_eq!(due_at(&fri, tz, "2021-09-16T15:00:00+03:00"), None);
    assert_eq!(
        due_at(&fri, tz, "2021-09-17T15:00:00+03:00"),
        Some("2021-09-06")
    );
}

fn due_at(r: &crate::config::ReportSettings, tz: Tz, now: &str) -> Option<&'static str> {
    send::due_week(r, tz, at(now)).map(|d| &*d.to_string().leak())
}

#[test]
fn the_picture_has_a_cell_per_hour_and_a_frame_per_window() {
    let c = config();
    let f = figures(
        &rows(),
        week(),
        &c.schedule,
        at("2021-09-13T08:00:00+03:00"),
    );
    let svg = heatmap::svg(&f).unwrap();
    assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{svg}");
    // 7 × 24 cells, 12 duty frames, one background.
    assert_eq!(svg.matches("<rect").count(), 7 * 24 + 12 + 1, "{svg}");
    assert!(
        svg.contains("#168C3C") || svg.contains("#168c3c"),
        "duty green"
    );
    assert!(svg.contains("Пн"));
}
