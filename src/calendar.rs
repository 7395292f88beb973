//! The timetable as an iCalendar file (RFC 5545), for people's calendars:
//! `duty-desk schedule --ics > duty.ics`.
//!
//! One event series per weekly window of a specialist (`RRULE:FREQ=WEEKLY`
//! from its first to its last occurrence within the validity period), an
//! `EXDATE` for every week it does not take place (a holiday, a cancellation,
//! a replacement), and every window that is not one of a series (a
//! replacement's, an extra one) as an event of its own. Times are wall-clock
//! times in the school's zone, described by a `VTIMEZONE` built from the zone's
//! own transitions over the validity period.
//!
//! Pure: the file is a function of the [`Schedule`] and the instant given as
//! `DTSTAMP`. By construction it expands to exactly the windows
//! [`Schedule::shifts_on`] gives: a week whose window a calendar would read
//! differently (a start inside a spring-forward gap, a window across a change
//! of offset) is excluded from its series and written as an event of its own,
//! in UTC where the wall clock would be ambiguous.

use std::collections::HashSet;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Utc,
};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use crate::schedule::{Minutes, Schedule, Shift};

/// The calendar file; `domain` makes the events' UIDs globally unique (the
/// desk's own mail domain), `stamp` is every event's DTSTAMP.
pub fn ics(s: &Schedule, domain: &str, stamp: DateTime<Utc>) -> String {
    let tz = s.tz();
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//duty-desk//duty timetable//RU");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, "X-WR-CALNAME:Дежурства ЭлЖур");
    line(&mut out, &format!("X-WR-TIMEZONE:{}", tz.name()));
    vtimezone(&mut out, s);
    let stamp = utc_stamp(stamp);
    let (series, one_offs) = plan(s);
    for x in &series {
        let sp = &s.specialists()[x.specialist];
        let uid = format!(
            "duty-{}-{}-{}-{:04}@{domain}",
            s.valid_from(),
            x.specialist,
            x.first.weekday().num_days_from_monday(),
            x.start
        );
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{uid}"));
        line(&mut out, &format!("DTSTAMP:{stamp}"));
        let from = wall(x.first, x.start);
        let until = wall(x.first, x.end);
        line(
            &mut out,
            &format!("DTSTART;TZID={}:{}", tz.name(), local(from)),
        );
        line(
            &mut out,
            &format!("DTEND;TZID={}:{}", tz.name(), local(until)),
        );
        let last = ical_instant(tz, wall(x.last, x.start));
        line(
            &mut out,
            &format!("RRULE:FREQ=WEEKLY;UNTIL={}", utc_stamp(last)),
        );
        for d in &x.excluded {
            line(
                &mut out,
                &format!("EXDATE;TZID={}:{}", tz.name(), local(wall(*d, x.start))),
            );
        }
        who(&mut out, sp);
        line(&mut out, "END:VEVENT");
    }
    for shift in &one_offs {
        let sp = &s.specialists()[shift.specialist];
        let from = shift.from.with_timezone(&Utc);
        line(&mut out, "BEGIN:VEVENT");
        line(
            &mut out,
            &format!(
                "UID:duty-{}-{}-{}@{domain}",
                s.valid_from(),
                shift.specialist,
                from.format("%Y%m%dT%H%M%SZ")
            ),
        );
        line(&mut out, &format!("DTSTAMP:{stamp}"));
        line(&mut out, &format!("DTSTART{}", when(tz, &shift.from)));
        line(&mut out, &format!("DTEND{}", when(tz, &shift.until)));
        who(&mut out, sp);
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

/// A weekly series: one specialist's window from `first` to `last` (dates of
/// its occurrences), without the `excluded` dates.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Series {
    specialist: usize,
    start: Minutes,
    end: Minutes,
    first: NaiveDate,
    last: NaiveDate,
    excluded: Vec<NaiveDate>,
}

/// The series and the windows left over (one-offs), from the timetable's own
/// day-by-day answer [`Schedule::shifts_on`].
fn plan(s: &Schedule) -> (Vec<Series>, Vec<Shift>) {
    let tz = s.tz();
    let mut days: Vec<(NaiveDate, Vec<Shift>)> = Vec::new();
    let mut d = s.valid_from();
    while d <= s.valid_until() {
        days.push((d, s.shifts_on(d)));
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    // (day index, shift index) already matched by a series occurrence.
    let mut used: HashSet<(usize, usize)> = HashSet::new();
    let mut series = Vec::new();
    for (i, sp) in s.specialists().iter().enumerate() {
        for w in &sp.windows {
            let mut hits: Vec<(NaiveDate, bool)> = Vec::new();
            for (di, (date, shifts)) in days.iter().enumerate() {
                if date.weekday() != w.weekday {
                    continue;
                }
                let from = ical_instant(tz, wall(*date, w.start));
                let until = ical_instant(tz, wall(*date, w.end));
                // Kept in the series only where a calendar's reading of the wall
                // clock (and of DTEND as an exact duration) is the window itself.
                let regular = until - from == Duration::minutes(i64::from(w.end - w.start));
                let found = shifts.iter().enumerate().find(|(si, x)| {
                    x.specialist == i
                        && x.from.with_timezone(&Utc) == from
                        && x.until.with_timezone(&Utc) == until
                        && !used.contains(&(di, *si))
                });
                let hit = match found {
                    Some((si, _)) if regular => {
                        used.insert((di, si));
                        true
                    }
                    _ => false,
                };
                hits.push((*date, hit));
            }
            let (Some(first), Some(last)) = (
                hits.iter().find(|h| h.1).map(|h| h.0),
                hits.iter().rev().find(|h| h.1).map(|h| h.0),
            ) else {
                continue;
            };
            let excluded = hits
                .iter()
                .filter(|(d, hit)| !hit && *d > first && *d < last)
                .map(|(d, _)| *d)
                .collect();
            series.push(Series {
                specialist: i,
                start: w.start,
                end: w.end,
                first,
                last,
                excluded,
            });
        }
    }
    let mut one_offs: Vec<Shift> = Vec::new();
    for (di, (_, shifts)) in days.iter().enumerate() {
        for (si, x) in shifts.iter().enumerate() {
            if !used.contains(&(di, si)) {
                one_offs.push(x.clone());
            }
        }
    }
    one_offs.sort_by_key(|x| (x.from, x.specialist));
    (series, one_offs)
}

/// The wall-clock time of `minutes` after midnight of `date` (1440: the next midnight).
fn wall(date: NaiveDate, minutes: Minutes) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minutes))
}

/// The instant a calendar reads a local wall-clock time as (RFC 5545, 3.3.5):
/// the earlier of two in an overlap; in a gap, the time read with the offset
/// before the gap.
fn ical_instant(tz: Tz, t: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&t) {
        LocalResult::Single(x) => x.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => {
            let before = offset_at_local(tz, t - Duration::hours(3));
            (t - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
        }
    }
}

fn offset_at_local(tz: Tz, t: NaiveDateTime) -> FixedOffset {
    tz.from_local_datetime(&t)
        .earliest()
        .map(|x| x.offset().fix())
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

/// `;TZID=ZONE:YYYYMMDDTHHMMSS` when a calendar reads that wall clock back as
/// this very instant, else `:YYYYMMDDTHHMMSSZ`.
fn when(tz: Tz, t: &DateTime<Tz>) -> String {
    let naive = t.naive_local();
    if ical_instant(tz, naive) == t.with_timezone(&Utc) {
        format!(";TZID={}:{}", tz.name(), local(naive))
    } else {
        format!(":{}", utc_stamp(t.with_timezone(&Utc)))
    }
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// SUMMARY, DESCRIPTION and ATTENDEE of a specialist's event.
fn who(out: &mut String, sp: &crate::schedule::Specialist) {
    line(
        out,
        &format!("SUMMARY:{}", text(&format!("Дежурство: {}", sp.name))),
    );
    if !sp.position.is_empty() {
        line(out, &format!("DESCRIPTION:{}", text(&sp.position)));
    }
    let cn: String = sp
        .name
        .chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n'))
        .collect();
    line(
        out,
        &format!(
            "ATTENDEE;CN=\"{cn}\";ROLE=REQ-PARTICIPANT:mailto:{}",
            sp.email.email
        ),
    );
    line(out, "TRANSP:OPAQUE");
}

/// The VTIMEZONE of the school's zone: the offset in force at the start of the
/// validity period, then each transition up to its end.
fn vtimezone(out: &mut String, s: &Schedule) {
    let tz = s.tz();
    let begin = s
        .valid_from()
        .pred_opt()
        .unwrap_or(s.valid_from())
        .and_time(NaiveTime::MIN)
        .and_utc();
    let end = s
        .valid_until()
        .checked_add_days(chrono::Days::new(2))
        .unwrap_or(s.valid_until())
        .and_time(NaiveTime::MIN)
        .and_utc();
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{}", tz.name()));
    let first = tz.offset_from_utc_datetime(&begin.naive_utc());
    let first_fix = first.fix();
    observance(out, &first, first_fix, begin);
    let mut t = begin;
    let mut current = first_fix;
    while t < end {
        let next = t + Duration::days(1);
        let at_next = tz.offset_from_utc_datetime(&next.naive_utc()).fix();
        if at_next != current {
            // The first second with the new offset, by bisection.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if tz.offset_from_utc_datetime(&mid.naive_utc()).fix() == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let offset = tz.offset_from_utc_datetime(&hi.naive_utc());
            observance(out, &offset, current, hi);
            current = offset.fix();
        }
        t = next;
    }
    line(out, "END:VTIMEZONE");
}

/// One STANDARD or DAYLIGHT observance starting at `at` (its DTSTART is the
/// wall clock of the offset before it, `from`).
fn observance(
    out: &mut String,
    offset: &chrono_tz::TzOffset,
    from: FixedOffset,
    at: DateTime<Utc>,
) {
    let kind = if offset.dst_offset().is_zero() {
        "STANDARD"
    } else {
        "DAYLIGHT"
    };
    line(out, &format!("BEGIN:{kind}"));
    line(
        out,
        &format!("DTSTART:{}", local(at.with_timezone(&from).naive_local())),
    );
    line(out, &format!("TZOFFSETFROM:{}", utc_offset(from)));
    line(out, &format!("TZOFFSETTO:{}", utc_offset(offset.fix())));
    if let Some(name) = offset.abbreviation() {
        line(out, &format!("TZNAME:{}", text(name)));
    }
    line(out, &format!("END:{kind}"));
}

/// `+0300`.
fn utc_offset(o: FixedOffset) -> String {
    let secs = o.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.abs();
    if secs % 60 == 0 {
        format!("{sign}{:02}{:02}", secs / 3600, secs % 3600 / 60)
    } else {
        format!(
            "{sign}{:02}{:02}{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

/// A TEXT value: backslash, semicolon, comma and line breaks escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets (never inside a UTF-8 character), CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;
    use crate::schedule::{Change, Specialist, Window};
    use chrono::Weekday;
    use std::collections::BTreeSet;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn sp(name: &str, windows: Vec<Window>) -> Specialist {
        Specialist {
            name: name.into(),
            position: "зам. директора по УВР, методист".into(),
            email: Address {
                name: None,
                email: format!("{}@example.org", name.len()),
            },
            supervisor: None,
            topics: vec![],
            windows,
        }
    }

    fn win(weekday: Weekday, start: Minutes, end: Minutes) -> Window {
        Window {
            weekday,
            start,
            end,
        }
    }

    fn berlin() -> Schedule {
        Schedule::new(
            chrono_tz::Europe::Berlin,
            d("2021-09-01"),
            d("2022-05-31"),
            [d("2021-12-27")].into_iter().collect::<BTreeSet<_>>(),
            vec![
                Change::Replace {
                    date: d("2021-10-04"),
                    who: 0,
                    by: 1,
                },
                Change::Extra {
                    date: d("2021-10-06"),
                    who: 1,
                    start: 17 * 60,
                    end: 18 * 60,
                },
            ],
            vec![
                sp("Früh A.", vec![win(Weekday::Mon, 8 * 60, 10 * 60)]),
                // 02:00–04:00 on Sundays: the autumn night lasts three hours,
                // the spring night starts in the gap.
                sp("Nacht B.", vec![win(Weekday::Sun, 2 * 60, 4 * 60)]),
            ],
        )
    }

    #[test]
    fn series_exclusions_and_one_offs_cover_every_window_once() {
        let s = berlin();
        let (series, one_offs) = plan(&s);
        let early = &series[0];
        assert_eq!((early.specialist, early.first), (0, d("2021-09-06")));
        assert_eq!(early.last, d("2022-05-30"));
        assert_eq!(early.excluded, [d("2021-10-04"), d("2021-12-27")]);
        let night = &series[1];
        assert!(night.excluded.contains(&d("2021-10-31")), "{night:?}");
        assert!(night.excluded.contains(&d("2022-03-27")), "{night:?}");
        let expect: Vec<(usize, String)> = vec![
            (1, "2021-10-04T08:00:00+02:00".into()),
            (1, "2021-10-06T17:00:00+02:00".into()),
            (1, "2021-10-31T02:00:00+02:00".into()),
            (1, "2022-03-27T03:00:00+02:00".into()),
        ];
        let got: Vec<(usize, String)> = one_offs
            .iter()
            .map(|x| (x.specialist, x.from.to_rfc3339()))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn the_file_is_folded_escaped_and_has_its_zone() {
        let s = berlin();
        let stamp = "2021-09-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let f = ics(&s, "school.test", stamp);
        assert!(f.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(f.ends_with("END:VCALENDAR\r\n"));
        for l in f.split("\r\n") {
            assert!(l.len() <= 75, "{l:?}");
        }
        let unfolded = f.replace("\r\n ", "");
        assert!(unfolded.contains("DESCRIPTION:зам. директора по УВР\\, методист"));
        assert!(unfolded.contains("RRULE:FREQ=WEEKLY;UNTIL=20220530T060000Z"));
        assert!(unfolded.contains("EXDATE;TZID=Europe/Berlin:20211227T080000"));
        // The transitions of the period: CET from 31 Oct, CEST from 27 Mar.
        assert!(unfolded.contains(
            "BEGIN:STANDARD\r\nDTSTART:20211031T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"
        ));
        assert!(unfolded.contains(
            "BEGIN:DAYLIGHT\r\nDTSTART:20220327T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200"
        ));
        // The autumn night's window ends at 04:00 CET, after the overlap: local time.
        assert!(unfolded.contains("DTEND;TZID=Europe/Berlin:20211031T040000"));
    }
}
