//! `duty-desk report` over a generated week of 200 letters, handled by the real
//! daemon (`run --once --now …` on a Maildir inbox at 20 moments of the week):
//! the figures it prints are checked against the store's own rows, and its
//! HTML and picture are written to /tmp/duty-desk-report/ to be looked at.
//! Specialists answer every other forward through the desk at the next moment,
//! so answered, unanswered and the time to the first answer are figures too.

mod support;

use chrono::{DateTime, Datelike, Timelike, Utc};
use duty_desk::store::{Queries, Store};
use support::maildesk::{MaildirDesk, letter};

const MOMENTS: [&str; 20] = [
    "2021-09-06T08:30:00+03:00",
    "2021-09-06T12:10:00+03:00",
    "2021-09-06T15:00:00+03:00",
    "2021-09-06T21:40:00+03:00",
    "2021-09-07T08:15:00+03:00",
    "2021-09-07T11:05:00+03:00",
    "2021-09-07T19:20:00+03:00",
    "2021-09-08T07:10:00+03:00",
    "2021-09-08T13:30:00+03:00",
    "2021-09-08T18:45:00+03:00",
    "2021-09-09T08:40:00+03:00",
    "2021-09-09T12:00:00+03:00",
    "2021-09-09T20:30:00+03:00",
    "2021-09-10T09:10:00+03:00",
    "2021-09-10T17:25:00+03:00",
    "2021-09-10T22:05:00+03:00",
    "2021-09-11T10:30:00+03:00",
    "2021-09-11T16:00:00+03:00",
    "2021-09-12T12:45:00+03:00",
    "2021-09-12T20:15:00+03:00",
];

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn a_week_of_200_letters_reported_as_the_store_has_it() {
    let mut desk = MaildirDesk::new("", &[("auto_replies_per_hour", "1000")]);
    let mut n = 0;
    let mut answered = std::collections::HashSet::new();
    for moment in MOMENTS {
        for _ in 0..10 {
            n += 1;
            let body = match n % 5 {
                // Incomplete: no class.
                0 => "Здравствуйте! Не могу войти в дневник.".to_string(),
                _ => format!(
                    "Здравствуйте! Я Петрова Анна Сергеевна{n}, мама ученика 5А класса. \
                     Не открывается электронный дневник, пишет ошибка входа."
                ),
            };
            desk.deliver(&letter(
                &format!("parent{n}@mail.test"),
                "Дневник",
                &format!("m{n}@mail.test"),
                &[],
                &body,
            ));
        }
        desk.run_once(moment);
        // Every other forward not answered yet is answered now, by its specialist
        // replying to it (handled at the next moment).
        for fwd in desk.sent() {
            if fwd.kind() != "forward" || answered.contains(&fwd.message_id) {
                continue;
            }
            answered.insert(fwd.message_id.clone());
            if answered.len() % 2 == 0 {
                continue;
            }
            desk.deliver(&letter(
                &fwd.to[0],
                &format!("Re: {}", fwd.subject),
                &format!("answer.{}", fwd.message_id),
                &[&format!("In-Reply-To: <{}>", fwd.message_id)],
                "Добрый день! Пароль сброшен, войдите с новым паролем из СМС.",
            ));
        }
    }
    desk.run_once("2021-09-13T09:00:00+03:00");
    let out = desk.cli(&[
        "report",
        "--week",
        "2021-09-08",
        "--json",
        "--at",
        "2021-09-13T09:00:00+03:00",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");

    let store = Store::open(&desk.dir().join(support::home::STATE), false).unwrap();
    let r = store.read();
    let letters: Vec<(String, String)> = r
        .rows("SELECT received_at, verdict FROM messages", [], |x| {
            Ok((x.get(0)?, x.get(1)?))
        })
        .unwrap();
    let week: Vec<&(String, String)> = letters
        .iter()
        .filter(|(t, _)| {
            at(t) >= at("2021-09-06T00:00:00+03:00") && at(t) < at("2021-09-13T00:00:00+03:00")
        })
        .collect();
    let answers = week.iter().filter(|(_, v)| v == "relayed").count();
    assert!(answers > 10, "{answers} answers");
    assert_eq!(week.len(), 200 + answers);
    assert_eq!(f["letters"], 200 + answers);
    for (verdict, count) in f["by_decision"].as_object().unwrap() {
        let mine = week.iter().filter(|(_, v)| v == verdict).count();
        assert_eq!(count.as_u64().unwrap() as usize, mine, "{verdict}");
    }
    let tickets: i64 = r
        .conn()
        .query_row(
            "SELECT count(*) FROM tickets WHERE created_at < ?1",
            ["2021-09-12T21:00:00.000Z"],
            |x| x.get(0),
        )
        .unwrap();
    assert_eq!(f["tickets_opened"], tickets);
    // The heat map's cells against the store, in Moscow time.
    let mut heat = [[0u64; 24]; 7];
    for (t, v) in &week {
        if ["ignore", "duplicate", "answered", "relayed"].contains(&v.as_str()) {
            continue;
        }
        let l = at(t).with_timezone(&chrono_tz::Europe::Moscow);
        heat[l.weekday().num_days_from_monday() as usize][l.hour() as usize] += 1;
    }
    for d in 0..7 {
        for h in 0..24 {
            assert_eq!(f["heat"][d][h], heat[d][h], "day {d} hour {h}");
        }
    }
    let held: i64 = r
        .conn()
        .query_row(
            "SELECT count(*) FROM audit WHERE event = 'held' AND at < ?1",
            ["2021-09-12T21:00:00.000Z"],
            |x| x.get(0),
        )
        .unwrap();
    assert_eq!(f["held"]["count"], held);
    assert!(held > 0 && f["requests_off_duty"].as_u64().unwrap() > 0);
    // Answered and unanswered against the store: tickets forwarded this week,
    // and of those the ones with an answer.
    let forwarded: Vec<(i64, String, String)> = r
        .rows(
            "SELECT o.ticket, min(o.created_at), t.assignee_name FROM outgoing o
             JOIN tickets t ON t.number = o.ticket
             WHERE o.kind = 'forward' AND o.created_at < ?1 GROUP BY o.ticket",
            ["2021-09-12T21:00:00.000Z"],
            |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?)),
        )
        .unwrap();
    let first_answer = |ticket: i64| -> Option<String> {
        r.conn()
            .query_row(
                "SELECT min(at) FROM answers WHERE ticket = ?1",
                [ticket],
                |x| x.get(0),
            )
            .unwrap()
    };
    let with_answer = forwarded
        .iter()
        .filter(|(t, _, _)| first_answer(*t).is_some())
        .count();
    assert!(with_answer > 10);
    assert_eq!(f["answered"], with_answer as u64);
    assert_eq!(f["unanswered"], (forwarded.len() - with_answer) as u64);
    // Each specialist's median and 90th percentile from the ticket becoming
    // theirs to their first answer, for the week's forwarded tickets (one passed
    // on counts for who answered it).
    let week_tickets: Vec<i64> = forwarded.iter().map(|(t, _, _)| *t).collect();
    for s in f["per_specialist"].as_array().unwrap() {
        let firsts: Vec<(i64, String, String)> = r
            .rows(
                "SELECT ticket, min(at), assigned_at FROM answers
                 WHERE specialist_name = ?1 GROUP BY ticket",
                [s["name"].as_str().unwrap()],
                |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?)),
            )
            .unwrap();
        let mut waits: Vec<i64> = firsts
            .iter()
            .filter(|(t, _, _)| week_tickets.contains(t))
            .map(|(_, when, since)| (at(when) - at(since)).num_minutes())
            .collect();
        waits.sort();
        assert_eq!(s["answered"], waits.len() as u64, "{}", s["name"]);
        if waits.is_empty() {
            assert!(s["first_answer"].is_null());
            continue;
        }
        let rank = |p: f64| waits[((p * waits.len() as f64).ceil() as usize).max(1) - 1];
        assert_eq!(
            s["first_answer"]["median_minutes"],
            rank(0.5),
            "{}",
            s["name"]
        );
        assert_eq!(s["first_answer"]["p90_minutes"], rank(0.9), "{}", s["name"]);
    }
    assert_eq!(f["complaints"], 0, "none of the 200 letters complains");

    let dir = std::path::Path::new("/tmp/duty-desk-report");
    std::fs::create_dir_all(dir).unwrap();
    let html = dir.join("report.html");
    let out = desk.cli(&[
        "report",
        "--week",
        "2021-09-06",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap() + 6];
    std::fs::write(dir.join("heatmap.svg"), svg).unwrap();
    assert!(!page.contains("не учитывается пока"));
    assert!(page.contains("время до первого ответа"));
}
