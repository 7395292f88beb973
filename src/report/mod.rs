//! The weekly report for the school: what came in, what became of it, and
//! when families asked for help while nobody was on duty.
//!
//! Three steps, one way: [`rows::load`] reads the week's rows from the store;
//! [`figures`] turns rows and a [`Week`] into [`Figures`] (a pure function, so
//! the numbers are tested without a store); [`render`] writes them as text and
//! HTML with one picture, the heat map of requests by weekday and hour against
//! the duty windows ([`heatmap`], drawn with plotters). [`send`] is the daemon's
//! side: once a week, on `[report] day` at `hour`, the report of the week before
//! is queued to `[report] recipients`, and the store remembers that week, so it
//! goes out exactly once however often the daemon restarts.
//!
//! A figure the store does not record is `None` and shows as "not recorded
//! yet", never as a zero: with `[school] answers = "direct"` a specialist
//! answers the requester directly, so whether and when a ticket was answered is
//! unknown to the desk (through the desk, every answer is recorded). Complaints
//! about a specialist are the letters decided `complaint` (sent to the
//! specialist's supervisor).

pub mod heatmap;
pub mod render;
pub mod rows;
pub mod send;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::schedule::Schedule;

pub use rows::Rows;

/// A Monday-to-Sunday week in the school's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Week {
    /// Its Monday.
    pub monday: NaiveDate,
    pub tz: Tz,
}

impl Week {
    /// The week that holds `date` (any day of it).
    pub fn of(date: NaiveDate, tz: Tz) -> Week {
        let back = i64::from(date.weekday().num_days_from_monday());
        Week {
            monday: date - Duration::days(back),
            tz,
        }
    }

    /// Its first instant (Monday 00:00 local) and the first instant after it.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            self.midnight(self.monday),
            self.midnight(self.monday + Duration::days(7)),
        )
    }

    /// Its Sunday.
    pub fn sunday(&self) -> NaiveDate {
        self.monday + Duration::days(6)
    }

    fn midnight(&self, d: NaiveDate) -> DateTime<Utc> {
        let naive = d.and_time(NaiveTime::MIN);
        self.tz
            .from_local_datetime(&naive)
            .earliest()
            .unwrap_or_else(|| self.tz.from_utc_datetime(&naive))
            .with_timezone(&Utc)
    }
}

/// Letters of these verdicts are not requests: robots and mail loops, copies of
/// a letter already handled, and specialists' answers.
const NOT_REQUESTS: &[&str] = &["ignore", "duplicate", "answered", "relayed"];

/// Median and 90th percentile of a set of durations (nearest rank).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub count: usize,
    pub median_minutes: i64,
    pub p90_minutes: i64,
    pub max_minutes: i64,
}

/// One specialist's week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecialistWeek {
    pub name: String,
    /// Tickets forwarded to them this week (forwards and additions sent).
    pub forwarded: u32,
    /// Of those, answered; `None`: not recorded yet.
    pub answered: Option<u32>,
    /// Time from the forward to the first answer; `None`: not recorded yet
    /// (or no answer recorded this week).
    pub first_answer: Option<Spread>,
}

/// Tickets held for the next window this week and how long they waited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub count: u32,
    /// Of those, forwarded when their window opened (before the report was made).
    pub released: u32,
    /// Hold → release, of the released ones.
    pub waited: Option<Spread>,
}

/// The figures of one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub monday: NaiveDate,
    pub sunday: NaiveDate,
    /// Every letter that came in.
    pub letters: u32,
    /// Letters by the desk's decision (`forward`, `ask`, `held`, `ignore`, …).
    pub by_decision: BTreeMap<String, u32>,
    /// Letters from people asking for help (not robots, copies or answers).
    pub requests: u32,
    /// Of those, how many came while nobody was on duty.
    pub requests_off_duty: u32,
    /// Tickets opened this week, by their state now.
    pub tickets_opened: u32,
    pub tickets_by_state: BTreeMap<String, u32>,
    /// Tickets answered / not answered; `None`: not recorded yet.
    pub answered: Option<u32>,
    pub unanswered: Option<u32>,
    /// Specialists' answers sent to the support address and passed on (relays).
    pub answers_relayed: u32,
    pub per_specialist: Vec<SpecialistWeek>,
    /// Letters refused under rule 5 (obscenity, insults).
    pub rule5_refusals: u32,
    /// Rule-5 reports sent to the supervisor.
    pub rule5_reports: u32,
    /// Complaints about a specialist (letters sent to their supervisor); kept
    /// optional for the JSON's shape: always recorded now.
    pub complaints: Option<u32>,
    pub held: Held,
    /// Requests by local weekday (Monday first) and hour.
    pub heat: [[u32; 24]; 7],
    /// The week's duty windows: (weekday from Monday, start and end in minutes
    /// after local midnight, name).
    pub duty: Vec<(u32, u32, u32, String)>,
    /// When the store's records begin, if later than the week's start (the
    /// desk started during the week).
    pub records_from: Option<DateTime<Utc>>,
}

/// The week's figures from its rows. `as_of` is when the report is made (a
/// ticket held on Friday evening may be released after the week ends).
pub fn figures(rows: &Rows, week: Week, schedule: &Schedule, as_of: DateTime<Utc>) -> Figures {
    let (start, end) = week.bounds();
    let in_week = |t: DateTime<Utc>| t >= start && t < end;
    let mut by_decision: BTreeMap<String, u32> = BTreeMap::new();
    let mut heat = [[0u32; 24]; 7];
    let (mut letters, mut requests, mut off_duty) = (0, 0, 0);
    for l in rows.letters.iter().filter(|l| in_week(l.at)) {
        letters += 1;
        *by_decision.entry(l.decision.clone()).or_default() += 1;
        if NOT_REQUESTS.contains(&l.decision.as_str()) {
            continue;
        }
        requests += 1;
        let local = l.at.with_timezone(&week.tz);
        heat[local.weekday().num_days_from_monday() as usize][local.hour() as usize] += 1;
        if schedule.on_duty(l.at).is_empty() {
            off_duty += 1;
        }
    }
    let mut tickets_by_state: BTreeMap<String, u32> = BTreeMap::new();
    let mut tickets_opened = 0;
    for t in rows.tickets.iter().filter(|t| in_week(t.created_at)) {
        tickets_opened += 1;
        *tickets_by_state.entry(t.state.clone()).or_default() += 1;
    }
    let week_mail = || rows.mail.iter().filter(|m| in_week(m.at));
    let count_kind = |kind: &str| week_mail().filter(|m| m.kind == kind).count() as u32;
    Figures {
        monday: week.monday,
        sunday: week.sunday(),
        letters,
        by_decision: by_decision.clone(),
        requests,
        requests_off_duty: off_duty,
        tickets_opened,
        tickets_by_state,
        answered: rows
            .answers
            .as_ref()
            .map(|a| answered_tickets(rows, a, &in_week)),
        unanswered: rows.answers.as_ref().map(|a| {
            forwarded_tickets(rows, &in_week).len() as u32 - answered_tickets(rows, a, &in_week)
        }),
        answers_relayed: by_decision.get("relayed").copied().unwrap_or(0),
        per_specialist: per_specialist(rows, schedule, &in_week),
        rule5_refusals: by_decision.get("etiquette").copied().unwrap_or(0),
        rule5_reports: count_kind("report"),
        complaints: Some(by_decision.get("complaint").copied().unwrap_or(0)),
        held: held(rows, &in_week, as_of),
        heat,
        duty: duty_windows(schedule, week),
        records_from: rows.records_from.filter(|t| *t > start),
    }
}

/// Tickets forwarded this week (a forward or an addition went out for them).
fn forwarded_tickets(rows: &Rows, in_week: &dyn Fn(DateTime<Utc>) -> bool) -> Vec<i64> {
    let mut out: Vec<i64> = rows
        .mail
        .iter()
        .filter(|m| in_week(m.at) && matches!(m.kind.as_str(), "forward" | "addition"))
        .filter_map(|m| m.ticket)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn answered_tickets(
    rows: &Rows,
    answers: &[rows::AnswerRow],
    in_week: &dyn Fn(DateTime<Utc>) -> bool,
) -> u32 {
    forwarded_tickets(rows, in_week)
        .iter()
        .filter(|t| answers.iter().any(|a| a.ticket == **t))
        .count() as u32
}

/// Per specialist: tickets forwarded this week that they hold now, and, where
/// answers are recorded, the tickets they answered and the time from the
/// ticket's forward to them to their first answer (a ticket passed on counts
/// for whoever answered, from when it became theirs).
fn per_specialist(
    rows: &Rows,
    schedule: &Schedule,
    in_week: &dyn Fn(DateTime<Utc>) -> bool,
) -> Vec<SpecialistWeek> {
    let mut names: Vec<String> = schedule
        .specialists()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let tickets = forwarded_tickets(rows, in_week);
    let assignee = |n: i64| {
        rows.tickets
            .iter()
            .find(|t| t.number == n)
            .and_then(|t| t.assignee_name.clone())
    };
    let answerers = rows
        .answers
        .iter()
        .flatten()
        .filter_map(|a| a.specialist_name.clone());
    for name in tickets.iter().filter_map(|n| assignee(*n)).chain(answerers) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let first_forward = |n: i64| {
        rows.mail
            .iter()
            .filter(|m| m.ticket == Some(n) && m.kind == "forward")
            .map(|m| m.at)
            .min()
    };
    names
        .into_iter()
        .map(|name| {
            let forwarded = tickets
                .iter()
                .filter(|n| assignee(**n).as_deref() == Some(name.as_str()))
                .count() as u32;
            let (answered, first_answer) = match &rows.answers {
                None => (None, None),
                Some(answers) => {
                    let waits: Vec<Duration> = tickets
                        .iter()
                        .filter_map(|n| {
                            let first = answers
                                .iter()
                                .filter(|a| a.ticket == *n)
                                .filter(|a| a.specialist_name.as_deref() == Some(name.as_str()))
                                .min_by_key(|a| a.at)?;
                            let since = first.assigned_at.or_else(|| first_forward(*n))?;
                            Some(first.at - since)
                        })
                        .collect();
                    (Some(waits.len() as u32), spread(waits))
                }
            };
            SpecialistWeek {
                name,
                forwarded,
                answered,
                first_answer,
            }
        })
        .collect()
}

/// Tickets held this week, and the time from each hold to its release.
fn held(rows: &Rows, in_week: &dyn Fn(DateTime<Utc>) -> bool, as_of: DateTime<Utc>) -> Held {
    let mut count = 0;
    let mut waits = Vec::new();
    for h in rows
        .events
        .iter()
        .filter(|e| e.event == "held" && in_week(e.at))
    {
        count += 1;
        let release = rows
            .events
            .iter()
            .filter(|e| e.event == "released" && e.ticket == h.ticket && e.at >= h.at)
            .filter(|e| e.at <= as_of)
            .map(|e| e.at)
            .min();
        if let Some(r) = release {
            waits.push(r - h.at);
        }
    }
    Held {
        count,
        released: waits.len() as u32,
        waited: spread(waits),
    }
}

/// Median, 90th percentile (nearest rank) and maximum; `None` for no values.
pub fn spread(mut values: Vec<Duration>) -> Option<Spread> {
    if values.is_empty() {
        return None;
    }
    values.sort();
    let rank = |p: f64| {
        let n = values.len();
        let k = ((p * n as f64).ceil() as usize).clamp(1, n);
        values[k - 1].num_minutes()
    };
    Some(Spread {
        count: values.len(),
        median_minutes: rank(0.5),
        p90_minutes: rank(0.9),
        max_minutes: values[values.len() - 1].num_minutes(),
    })
}

/// The week's actual duty windows (holidays, changes and all).
fn duty_windows(schedule: &Schedule, week: Week) -> Vec<(u32, u32, u32, String)> {
    let mut out = Vec::new();
    for i in 0..7 {
        let date = week.monday + Duration::days(i);
        for s in schedule.shifts_on(date) {
            let from = s.from.with_timezone(&week.tz);
            let until = s.until.with_timezone(&week.tz);
            let start = from.hour() * 60 + from.minute();
            let end = if until.date_naive() > date {
                24 * 60
            } else {
                until.hour() * 60 + until.minute()
            };
            let name = schedule.specialists()[s.specialist].name.clone();
            out.push((i as u32, start, end, name));
        }
    }
    out
}

#[cfg(test)]
mod tests;
