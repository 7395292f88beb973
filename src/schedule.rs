//! The duty timetable: who is on duty at an instant, and when the next window opens.
//!
//! Pure and clock-free: every question takes the instant as an argument, so the
//! daemon, `--now` and the tests all ask the same function. Windows are weekly,
//! in the school's time zone, start inclusive and end exclusive; holidays have
//! no duty; the timetable is valid for a period (a school year); one-off
//! changes replace a specialist on a date, add an extra window, or cancel one.
//!
//! Local times become instants through the zone, so a window keeps its wall
//! clock across DST. A window starting in a spring-forward gap starts at the
//! first instant after the gap; in an autumn overlap the earlier reading wins.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::address::Address;
use crate::topic::Topic;

/// Minutes since local midnight; 1440 is 24:00 (the end of the day).
pub type Minutes = u16;

/// A weekly window of one specialist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub weekday: Weekday,
    pub start: Minutes,
    pub end: Minutes,
}

impl Window {
    /// "08:00–10:00".
    pub fn label(&self) -> String {
        format!("{}–{}", clock(self.start), clock(self.end))
    }
}

/// "HH:MM" for minutes since midnight.
pub fn clock(m: Minutes) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specialist {
    /// As the order writes it: "Бухер В.В.".
    pub name: String,
    pub position: String,
    pub email: Address,
    /// Who gets complaints about them; none: the school's supervisor.
    pub supervisor: Option<Address>,
    /// The kinds of problem they are preferred for when two are on duty.
    pub topics: Vec<Topic>,
    /// Sorted by weekday and start; one person's windows never overlap (checked by config).
    pub windows: Vec<Window>,
}

/// A one-off change on a date. Indices point into [`Schedule::specialists`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `by` takes `who`'s windows on that date.
    Replace {
        date: NaiveDate,
        who: usize,
        by: usize,
    },
    /// An extra window for `who` on that date.
    Extra {
        date: NaiveDate,
        who: usize,
        start: Minutes,
        end: Minutes,
    },
    /// `who` has no duty on that date.
    Cancel { date: NaiveDate, who: usize },
}

/// One concrete duty window: a specialist between two instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// Index into [`Schedule::specialists`].
    pub specialist: usize,
    pub from: DateTime<Tz>,
    pub until: DateTime<Tz>,
}

/// Where an instant stands in the timetable's validity (see [`Schedule::validity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// More than the warning period left.
    Valid,
    /// `last_day` (`valid_until`) is `days_left` days away (0: today is the last day).
    EndsSoon { last_day: NaiveDate, days_left: i64 },
    /// The day after `last_day` or later: no window lies ahead.
    Ended { last_day: NaiveDate },
}

impl Validity {
    /// The admin's warning, the same words for `check-config`, `schedule` and `status`;
    /// `None` while the timetable is valid for longer than the warning period.
    pub fn warning(&self) -> Option<String> {
        match self {
            Validity::Valid => None,
            Validity::EndsSoon {
                last_day,
                days_left,
            } => Some(format!(
                "the timetable ends on {last_day} ({days_left} days left): after that every \
                 ticket goes to the fallback address. Add next school year's [schedule] \
                 valid_from, valid_until and holidays and the [[specialists]] duty windows."
            )),
            Validity::Ended { last_day } => Some(format!(
                "the timetable ENDED on {last_day}: no duty window lies ahead and every ticket \
                 goes to the fallback address. Add next school year's [schedule] valid_from, \
                 valid_until and holidays and the [[specialists]] duty windows."
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Schedule {
    tz: Tz,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    holidays: BTreeSet<NaiveDate>,
    changes: Vec<Change>,
    specialists: Vec<Specialist>,
}

impl Schedule {
    pub fn new(
        tz: Tz,
        valid_from: NaiveDate,
        valid_until: NaiveDate,
        holidays: BTreeSet<NaiveDate>,
        changes: Vec<Change>,
        specialists: Vec<Specialist>,
    ) -> Schedule {
        Schedule {
            tz,
            valid_from,
            valid_until,
            holidays,
            changes,
            specialists,
        }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }
    pub fn specialists(&self) -> &[Specialist] {
        &self.specialists
    }
    pub fn valid_from(&self) -> NaiveDate {
        self.valid_from
    }
    pub fn valid_until(&self) -> NaiveDate {
        self.valid_until
    }
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// The duty windows on a local date, in order of start (then of the specialist's place).
    pub fn shifts_on(&self, date: NaiveDate) -> Vec<Shift> {
        if date < self.valid_from || date > self.valid_until || self.holidays.contains(&date) {
            return Vec::new();
        }
        let mut spans: Vec<(usize, Minutes, Minutes)> = Vec::new();
        for (i, s) in self.specialists.iter().enumerate() {
            let cancelled = self
                .changes
                .iter()
                .any(|c| matches!(c, Change::Cancel { date: d, who } if *d == date && *who == i));
            if cancelled {
                continue;
            }
            let holder = self
                .changes
                .iter()
                .find_map(|c| match c {
                    Change::Replace { date: d, who, by } if *d == date && *who == i => Some(*by),
                    _ => None,
                })
                .unwrap_or(i);
            for w in s.windows.iter().filter(|w| w.weekday == date.weekday()) {
                spans.push((holder, w.start, w.end));
            }
        }
        for c in &self.changes {
            if let Change::Extra {
                date: d,
                who,
                start,
                end,
            } = c
                && *d == date
            {
                spans.push((*who, *start, *end));
            }
        }
        let mut shifts: Vec<Shift> = spans
            .into_iter()
            .filter_map(|(who, start, end)| {
                let from = self.local(date, start)?;
                let until = self.local(date, end)?;
                (from < until).then_some(Shift {
                    specialist: who,
                    from,
                    until,
                })
            })
            .collect();
        shifts.sort_by_key(|s| (s.from, s.specialist));
        shifts.dedup();
        shifts
    }

    /// Who is on duty at `at`: every shift with `from <= at < until`.
    pub fn on_duty(&self, at: DateTime<Utc>) -> Vec<Shift> {
        let local = at.with_timezone(&self.tz).date_naive();
        // A window belongs to its start date; none crosses midnight (end ≤ 24:00),
        // but a DST shift can move an instant across it, so look at the day before too.
        let mut out = Vec::new();
        for date in [local.pred_opt(), Some(local)].into_iter().flatten() {
            out.extend(
                self.shifts_on(date)
                    .into_iter()
                    .filter(|s| s.from <= at && at < s.until),
            );
        }
        out
    }

    /// The first window to open strictly after `after`; `None` when validity ends first.
    /// When several open at the same instant, the first specialist in the config wins;
    /// [`Schedule::opening_at`] lists them all.
    pub fn next_window(&self, after: DateTime<Utc>) -> Option<Shift> {
        let mut date = after.with_timezone(&self.tz).date_naive().pred_opt()?;
        if date < self.valid_from {
            date = self.valid_from;
        }
        while date <= self.valid_until {
            if let Some(s) = self.shifts_on(date).into_iter().find(|s| s.from > after) {
                return Some(s);
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// Every shift opening exactly at `from` (two specialists may start together).
    pub fn opening_at(&self, from: DateTime<Utc>) -> Vec<Shift> {
        let date = from.with_timezone(&self.tz).date_naive();
        self.shifts_on(date)
            .into_iter()
            .filter(|s| s.from == from)
            .collect()
    }

    /// Whether the timetable's validity has ended at `at`.
    pub fn expired(&self, at: DateTime<Utc>) -> bool {
        at.with_timezone(&self.tz).date_naive() > self.valid_until
    }

    /// Days until validity ends (negative once ended).
    pub fn days_left(&self, at: DateTime<Utc>) -> i64 {
        (self.valid_until - at.with_timezone(&self.tz).date_naive()).num_days()
    }

    /// Whether the timetable is valid at `at`, ends within `warn_days` days (its
    /// last day `valid_until` included), or has ended.
    pub fn validity(&self, at: DateTime<Utc>, warn_days: u32) -> Validity {
        let days_left = self.days_left(at);
        if days_left < 0 {
            Validity::Ended {
                last_day: self.valid_until,
            }
        } else if days_left <= i64::from(warn_days) {
            Validity::EndsSoon {
                last_day: self.valid_until,
                days_left,
            }
        } else {
            Validity::Valid
        }
    }

    /// A local wall-clock time on a date as an instant; 24:00 is the next midnight.
    fn local(&self, date: NaiveDate, minutes: Minutes) -> Option<DateTime<Tz>> {
        let (date, minutes) = if minutes >= 24 * 60 {
            (date.succ_opt()?, minutes - 24 * 60)
        } else {
            (date, minutes)
        };
        let naive = date.and_time(NaiveTime::from_hms_opt(
            u32::from(minutes / 60),
            u32::from(minutes % 60),
            0,
        )?);
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => Some(t),
            LocalResult::Ambiguous(earlier, _) => Some(earlier),
            // In a spring-forward gap: the first minute that exists after it.
            LocalResult::None => (1..=180).find_map(|m| {
                self.tz
                    .from_local_datetime(&(naive + Duration::minutes(m)))
                    .earliest()
            }),
        }
    }

    /// Minutes of duty per week by weekday (Monday first), counting overlaps once each person.
    pub fn weekly_minutes(&self) -> u32 {
        self.specialists
            .iter()
            .flat_map(|s| s.windows.iter())
            .map(|w| u32::from(w.end - w.start))
            .sum()
    }

    /// Weekday intervals inside the working day (first start … last end of the week)
    /// when nobody is on duty.
    pub fn weekday_gaps(&self) -> Vec<(Weekday, Minutes, Minutes)> {
        let all: Vec<&Window> = self
            .specialists
            .iter()
            .flat_map(|s| s.windows.iter())
            .collect();
        let (Some(day_start), Some(day_end)) = (
            all.iter().map(|w| w.start).min(),
            all.iter().map(|w| w.end).max(),
        ) else {
            return Vec::new();
        };
        let mut gaps = Vec::new();
        for wd in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ] {
            let mut day: Vec<(Minutes, Minutes)> = all
                .iter()
                .filter(|w| w.weekday == wd)
                .map(|w| (w.start, w.end))
                .collect();
            day.sort();
            let mut cursor = day_start;
            for (s, e) in day {
                if s > cursor {
                    gaps.push((wd, cursor, s));
                }
                cursor = cursor.max(e);
            }
            if cursor < day_end {
                gaps.push((wd, cursor, day_end));
            }
        }
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn addr(e: &str) -> Address {
        Address {
            name: None,
            email: e.to_string(),
        }
    }

    fn w(weekday: Weekday, a: &str, b: &str) -> Window {
        // "HH:MM" as minutes after midnight.
        let minutes = |t: &str| -> Minutes {
            let (h, m) = t.split_once(':').unwrap();
            h.parse::<Minutes>().unwrap() * 60 + m.parse::<Minutes>().unwrap()
        };
        let (start, end) = (minutes(a), minutes(b));
        Window {
            weekday,
            start,
            end,
        }
    }

    fn sp(name: &str, windows: Vec<Window>) -> Specialist {
        Specialist {
            name: name.into(),
            position: String::new(),
            email: addr(&format!("{}@example.org", name.len())),
            supervisor: None,
            topics: vec![],
            windows,
        }
    }

    /// The regulation's timetable for 2021–2022.
    fn school(changes: Vec<Change>) -> Schedule {
        use Weekday::*;
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let holidays = ["2021-11-04", "2021-11-05", "2021-12-31", "2022-02-23"]
            .iter()
            .map(|s| d(s))
            .collect();
        Schedule::new(
            chrono_tz::Europe::Moscow,
            d("2021-09-01"),
            d("2022-05-31"),
            holidays,
            changes,
            vec![
                sp(
                    "Бамбуркин С.П.",
                    vec![w(Tue, "14:30", "16:00"), w(Thu, "08:00", "10:00")],
                ),
                sp(
                    "Бухер В.В.",
                    vec![w(Tue, "08:00", "10:00"), w(Thu, "14:00", "16:00")],
                ),
                sp(
                    "Войтенко Л.А.",
                    vec![w(Mon, "08:00", "11:00"), w(Wed, "13:00", "15:00")],
                ),
                sp(
                    "Мальченко З.А.",
                    vec![w(Wed, "08:00", "10:00"), w(Fri, "14:00", "16:00")],
                ),
                sp(
                    "Макаренко С.О.",
                    vec![w(Mon, "14:30", "16:00"), w(Thu, "08:00", "10:00")],
                ),
                sp(
                    "Ткаченко Е.В.",
                    vec![w(Tue, "12:00", "14:00"), w(Fri, "08:00", "10:00")],
                ),
            ],
        )
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn names(s: &Schedule, shifts: &[Shift]) -> Vec<String> {
        shifts
            .iter()
            .map(|x| s.specialists()[x.specialist].name.clone())
            .collect()
    }

    #[test]
    fn first_and_last_minute_of_a_window() {
        let s = school(vec![]);
        // Monday 2021-09-06: Войтенко 08:00–11:00.
        assert!(s.on_duty(at("2021-09-06T07:59:59+03:00")).is_empty());
        assert_eq!(
            names(&s, &s.on_duty(at("2021-09-06T08:00:00+03:00"))),
            ["Войтенко Л.А."]
        );
        assert_eq!(
            names(&s, &s.on_duty(at("2021-09-06T10:59:59+03:00"))),
            ["Войтенко Л.А."]
        );
        assert!(
            s.on_duty(at("2021-09-06T11:00:00+03:00")).is_empty(),
            "end is exclusive"
        );
    }

    #[test]
    fn thursday_morning_has_two_on_duty_and_bukher_next() {
        let s = school(vec![]);
        let t = at("2021-09-09T08:30:00+03:00");
        assert_eq!(
            names(&s, &s.on_duty(t)),
            ["Бамбуркин С.П.", "Макаренко С.О."]
        );
        let next = s.next_window(t).unwrap();
        assert_eq!(s.specialists()[next.specialist].name, "Бухер В.В.");
        assert_eq!(
            next.from.fixed_offset(),
            DateTime::<FixedOffset>::parse_from_rfc3339("2021-09-09T14:00:00+03:00").unwrap()
        );
        assert_eq!(next.until.to_rfc3339(), "2021-09-09T16:00:00+03:00");
    }

    #[test]
    fn holiday_has_nobody_and_next_window_skips_it_and_the_weekend() {
        let s = school(vec![]);
        // Thursday 2021-11-04 and Friday 11-05 are holidays; then the weekend.
        let t = at("2021-11-04T08:30:00+03:00");
        assert!(s.on_duty(t).is_empty());
        let next = s.next_window(t).unwrap();
        assert_eq!(next.from.to_rfc3339(), "2021-11-08T08:00:00+03:00");
        assert_eq!(s.specialists()[next.specialist].name, "Войтенко Л.А.");
    }

    #[test]
    fn friday_evening_next_is_monday_morning() {
        let s = school(vec![]);
        let next = s.next_window(at("2021-09-10T16:00:00+03:00")).unwrap();
        assert_eq!(next.from.to_rfc3339(), "2021-09-13T08:00:00+03:00");
    }

    #[test]
    fn one_off_replacement_and_extra_window() {
        let d = NaiveDate::from_ymd_opt(2021, 10, 12).unwrap(); // a Tuesday
        let s = school(vec![
            Change::Replace {
                date: d,
                who: 1,
                by: 2,
            },
            Change::Extra {
                date: d,
                who: 3,
                start: 17 * 60,
                end: 18 * 60,
            },
        ]);
        assert_eq!(
            names(&s, &s.on_duty(at("2021-10-12T08:30:00+03:00"))),
            ["Войтенко Л.А."]
        );
        assert_eq!(
            names(&s, &s.on_duty(at("2021-10-12T17:00:00+03:00"))),
            ["Мальченко З.А."]
        );
        // The next Tuesday is back to normal.
        assert_eq!(
            names(&s, &s.on_duty(at("2021-10-19T08:30:00+03:00"))),
            ["Бухер В.В."]
        );
    }

    #[test]
    fn cancelled_duty() {
        let d = NaiveDate::from_ymd_opt(2021, 9, 6).unwrap();
        let s = school(vec![Change::Cancel { date: d, who: 2 }]);
        assert!(s.on_duty(at("2021-09-06T09:00:00+03:00")).is_empty());
        assert_eq!(
            s.next_window(at("2021-09-06T07:00:00+03:00"))
                .unwrap()
                .from
                .to_rfc3339(),
            "2021-09-06T14:30:00+03:00"
        );
    }

    #[test]
    fn validity_ends_with_no_next_window() {
        let s = school(vec![]);
        // Tuesday 2022-05-31 is the last valid day; its last window is 14:30–16:00.
        assert!(s.next_window(at("2022-05-31T15:00:00+03:00")).is_none());
        assert!(s.on_duty(at("2022-06-02T08:30:00+03:00")).is_empty());
        assert!(s.expired(at("2022-06-01T00:00:00+03:00")));
        // Before validity starts, the first window is on its first working day.
        assert_eq!(
            s.next_window(at("2021-08-20T12:00:00+03:00"))
                .unwrap()
                .from
                .to_rfc3339(),
            "2021-09-01T08:00:00+03:00"
        );
    }

    #[test]
    fn validity_warns_within_the_period_and_says_when_it_ended() {
        let s = school(vec![]);
        let last_day = NaiveDate::from_ymd_opt(2022, 5, 31).unwrap();
        // 15 days before the last day: no warning yet; 14: the warning.
        assert_eq!(
            s.validity(at("2022-05-16T23:59:00+03:00"), 14),
            Validity::Valid
        );
        assert_eq!(
            s.validity(at("2022-05-17T00:00:00+03:00"), 14),
            Validity::EndsSoon {
                last_day,
                days_left: 14
            }
        );
        assert_eq!(
            s.validity(at("2022-05-31T23:59:00+03:00"), 14),
            Validity::EndsSoon {
                last_day,
                days_left: 0
            }
        );
        let ended = s.validity(at("2022-06-01T00:00:00+03:00"), 14);
        assert_eq!(ended, Validity::Ended { last_day });
        assert!(ended.warning().unwrap().contains("ENDED on 2022-05-31"));
        // The day is the school's: 21:00 UTC on 31 May is 1 June in Moscow.
        assert_eq!(s.validity(at("2022-05-31T21:00:00Z"), 14), ended);
        assert!(Validity::Valid.warning().is_none());
    }

    #[test]
    fn dst_keeps_wall_clock_in_berlin() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let s = Schedule::new(
            chrono_tz::Europe::Berlin,
            d("2021-09-01"),
            d("2022-05-31"),
            BTreeSet::new(),
            vec![],
            vec![
                sp("Früh A.", vec![w(Weekday::Mon, "08:00", "10:00")]),
                sp("Nacht B.", vec![w(Weekday::Sun, "02:00", "04:00")]),
            ],
        );
        // Winter: 08:00 CET = 07:00 UTC; summer: 08:00 CEST = 06:00 UTC.
        assert_eq!(s.on_duty(at("2021-11-01T07:00:00Z")).len(), 1);
        assert!(s.on_duty(at("2021-11-01T06:30:00Z")).is_empty());
        assert_eq!(s.on_duty(at("2022-03-28T06:00:00Z")).len(), 1);
        assert!(s.on_duty(at("2022-03-28T08:00:00Z")).is_empty());
        // Spring forward, Sunday 2022-03-27: 02:00 does not exist; the window opens at 03:00 CEST.
        let spring = s.next_window(at("2022-03-26T12:00:00Z")).unwrap();
        assert_eq!(spring.from.to_rfc3339(), "2022-03-27T03:00:00+02:00");
        assert_eq!(spring.until.to_rfc3339(), "2022-03-27T04:00:00+02:00");
        // Fall back, Sunday 2021-10-31: 02:00 happens twice; the earlier one opens the window,
        // which lasts three real hours (02:00 CEST … 04:00 CET).
        let autumn = s.next_window(at("2021-10-30T12:00:00Z")).unwrap();
        assert_eq!(autumn.from.to_rfc3339(), "2021-10-31T02:00:00+02:00");
        assert_eq!((autumn.until - autumn.from).num_hours(), 3);
    }

    #[test]
    fn gaps_and_hours() {
        let s = school(vec![]);
        assert_eq!(s.weekly_minutes(), 24 * 60);
        let gaps = s.weekday_gaps();
        assert!(gaps.contains(&(Weekday::Mon, 11 * 60, 14 * 60 + 30)));
        assert!(gaps.contains(&(Weekday::Tue, 10 * 60, 12 * 60)));
        assert!(!gaps.iter().any(|g| g.0 == Weekday::Thu && g.1 < 10 * 60));
    }
}
