//! The words of the desk's letters: Russian names of roles, fields, dates and
//! waits; short names; texts capped for quoting; descriptions merged.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

use crate::config::Config;
use crate::request::{Field, Request, Role};

pub(super) fn role_str(r: Role) -> &'static str {
    match r {
        Role::Staff => "staff",
        Role::Parent => "parent",
        Role::Student => "student",
    }
}

pub(super) fn role_from(s: Option<&str>) -> Option<Role> {
    match s? {
        "staff" => Some(Role::Staff),
        "parent" => Some(Role::Parent),
        "student" => Some(Role::Student),
        _ => None,
    }
}

pub fn role_ru(r: Option<&str>) -> Option<&'static str> {
    Some(match r? {
        "staff" => "сотрудник школы",
        "parent" => "родитель (законный представитель)",
        "student" => "учащийся",
        _ => return None,
    })
}

pub(super) fn field_ru(f: Field) -> &'static str {
    match f {
        Field::FullName => "фамилию, имя и отчество (ФИО) — Ваши, а не ребёнка",
        Field::Class => "класс (например, 5А)",
        Field::Description => {
            "описание проблемы: что именно не получается и что при этом видно на экране"
        }
    }
}

pub(super) fn field_key(f: Field) -> &'static str {
    match f {
        Field::FullName => "full_name",
        Field::Class => "class",
        Field::Description => "description",
    }
}

/// "Смирнова Ольга Викторовна" → "Смирнова О.В."; initials stay as written.
pub fn short_name(full: &str) -> String {
    let mut parts = full.split_whitespace();
    let Some(surname) = parts.next() else {
        return String::new();
    };
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return surname.to_string();
    }
    let initials: String = rest
        .iter()
        .flat_map(|p| p.split('.').filter(|s| !s.is_empty()))
        .filter_map(|p| p.chars().next())
        .map(|c| format!("{c}."))
        .collect();
    format!("{surname} {initials}")
}

pub(super) const MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// "в четверг, 9 сентября, в 14:00".
pub fn when_ru<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let day = match t.weekday() {
        chrono::Weekday::Mon => "в понедельник",
        chrono::Weekday::Tue => "во вторник",
        chrono::Weekday::Wed => "в среду",
        chrono::Weekday::Thu => "в четверг",
        chrono::Weekday::Fri => "в пятницу",
        chrono::Weekday::Sat => "в субботу",
        chrono::Weekday::Sun => "в воскресенье",
    };
    let month = MONTHS_GENITIVE[t.month0() as usize];
    format!("{day}, {} {month}, в {}", t.day(), t.format("%H:%M"))
}

/// "31 мая 2022".
pub fn date_ru(d: chrono::NaiveDate) -> String {
    format!(
        "{} {} {}",
        d.day(),
        MONTHS_GENITIVE[d.month0() as usize],
        d.year()
    )
}

/// "9 сентября 2021, 08:30".
pub(super) fn stamp_ru<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!(
        "{} {} {}, {}",
        t.day(),
        MONTHS_GENITIVE[t.month0() as usize],
        t.year(),
        t.format("%H:%M")
    )
}

pub(super) fn waited_ru(d: Duration) -> Option<String> {
    let mins = d.num_minutes();
    if mins < 1 {
        return None;
    }
    let (days, hours, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    Some(match (days, hours) {
        (0, 0) => format!("{m} мин"),
        (0, h) => format!("{h} ч {m} мин"),
        (d, h) => format!("{d} дн {h} ч"),
    })
}

/// The description a follow-up brings, if the writer wrote it now (in the new
/// text or the subject). The understanding falls back to quoted text for replies,
/// but in a follow-up that quote is our own letter (the ask, the acknowledgement
/// with its attribution line), not the requester's problem: the ticket already
/// holds what they wrote before.
pub(super) fn own_description(req: &Request) -> Option<&str> {
    let d = req.description.as_deref()?;
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let d_squashed = squash(d.trim_end_matches('…'));
    let head: String = d_squashed.chars().take(40).collect();
    let own = squash(&req.new_text).contains(&head) || squash(&req.subject).contains(&head);
    own.then_some(d)
}

/// Appends new text to a description unless it says nothing new.
pub(super) fn merge_text(old: Option<String>, new: Option<&str>) -> Option<String> {
    match (old, new.map(str::trim).filter(|s| !s.is_empty())) {
        (Some(o), Some(n)) if o.contains(n) => Some(o),
        (Some(o), Some(n)) if n.contains(o.trim()) => Some(n.to_string()),
        (Some(o), Some(n)) => Some(format!("{o}\n\n{n}")),
        (o, n) => o.or(n.map(str::to_string)),
    }
}

/// At most `max` characters of `s`, with «…» when cut.
pub(super) fn cap_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Characters of a letter's subject any mail quotes.
pub(super) const MAX_SUBJECT_CHARS: usize = 200;

/// Characters of a letter's own text a reply to its sender quotes.
pub(super) const MAX_QUOTED_CHARS: usize = 300;

/// Characters of a display name any mail quotes.
pub(super) const MAX_NAME_CHARS: usize = 100;

/// The start of the local day of `now`, in the school's time zone.
pub(super) fn midnight(cfg: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = cfg.schedule.tz();
    let local = now.with_timezone(&tz);
    tz.with_ymd_and_hms(local.year(), local.month(), local.day(), 0, 0, 0)
        .earliest()
        .map(|m| m.with_timezone(&Utc))
        .unwrap_or(now - Duration::hours(24))
}
