//! The tickets as the admin reads them: `duty-desk tickets` (a table) and
//! `duty-desk ticket N` (one ticket, then its letters, decisions and mails in
//! the order they happened). Pure: rows in, text out.
//!
//! What a letter brought (subject, names, Message-IDs) is the sender's text: a
//! control character in it (a terminal escape) is shown as a space.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::store::{
    AuditEntry, Closure, Ticket, TicketAnswer, TicketLetter, TicketMail, TicketState,
};

/// The sender's text made safe for a terminal, at most `max` characters.
fn clean(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max + 1)
        .collect();
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

/// `s` padded with spaces to `width` characters.
fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// The tickets as a table, one line each, and how many there are; `answered`
/// holds the numbers of those a specialist answered.
pub fn table(tickets: &[Ticket], answered: &HashSet<i64>, tz: Tz) -> String {
    let header = [
        "№",
        "state",
        "answered",
        "opened",
        "has it",
        "requester",
        "subject",
    ];
    let rows: Vec<[String; 7]> = tickets
        .iter()
        .map(|t| {
            [
                t.number.to_string(),
                t.state.as_str().to_string(),
                if answered.contains(&t.number) {
                    "yes"
                } else {
                    "-"
                }
                .to_string(),
                local(t.created_at, tz),
                clean(t.assignee_name.as_deref().unwrap_or("-"), 30),
                clean(t.requester.as_deref().unwrap_or("-"), 40),
                clean(&t.subject, 50),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&pad(c, widths[i]));
                l.push_str("  ");
            }
        }
        l.trim_end().to_string()
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(&header.map(String::from)));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r));
    }
    let _ = writeln!(
        out,
        "{} ticket{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    out
}

/// A ticket's fields, one a line: `duty-desk ticket N`'s head.
fn fields(t: &Ticket, closure: &Closure, answers: &[TicketAnswer], tz: Tz) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ticket {} — {}", t.number, t.state.as_str());
    let _ = writeln!(out, "  subject:   {}", clean(&t.subject, 200));
    let mut who = clean(t.requester.as_deref().unwrap_or("-"), 100);
    let about: Vec<String> = [&t.full_name, &t.role, &t.class]
        .into_iter()
        .flatten()
        .map(|s| clean(s, 100))
        .collect();
    if !about.is_empty() {
        let _ = write!(who, " ({})", about.join(", "));
    }
    let _ = writeln!(out, "  requester: {who}");
    if let Some(name) = &t.assignee_name {
        let _ = writeln!(
            out,
            "  has it:    {} <{}>",
            clean(name, 100),
            t.assignee.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(out, "  opened:    {}", local(t.created_at, tz));
    if let Some(f) = t.forwarded_at {
        let _ = writeln!(out, "  forwarded: {}", local(f, tz));
    }
    if let Some(a) = answers.first() {
        let mut line = format!(
            "  answered:  by {} <{}>, {}",
            clean(a.specialist_name.as_deref().unwrap_or(&a.specialist), 100),
            clean(&a.specialist, 100),
            local(a.at, tz)
        );
        if let Some(f) = a.assigned_at {
            // To the nearest minute.
            let minutes = ((a.at - f).num_seconds() + 30).div_euclid(60);
            let _ = write!(line, " ({minutes} min after the forward)");
        }
        let _ = writeln!(out, "{line}");
    } else if t.state == TicketState::Forwarded {
        let _ = writeln!(out, "  answered:  not yet");
    }
    if let Some(d) = t.due_at {
        let _ = writeln!(out, "  held till: {}", local(d, tz));
    }
    if let Some(c) = closure.closed_at {
        let _ = writeln!(out, "  closed:    {}", local(c, tz));
    }
    if closure.purged {
        let _ = writeln!(out, "  personal data erased");
    }
    if let Some(d) = &t.description {
        let _ = writeln!(out, "  problem:   {}", clean(d, 300));
    }
    out
}

/// One ticket: its fields, then what happened to it in order: each letter with
/// the decision on it, each audit row (the daemon's or an admin's, with who),
/// each mail with what became of it.
pub fn history(
    t: &Ticket,
    closure: &Closure,
    letters: &[TicketLetter],
    audit: &[AuditEntry],
    mail: &[TicketMail],
    answers: &[TicketAnswer],
    tz: Tz,
) -> String {
    let mut out = fields(t, closure, answers, tz);
    // (time, order among things at the same instant, line)
    let mut events: Vec<(DateTime<Utc>, u8, String)> = Vec::new();
    for l in letters {
        let mut line = format!(
            "letter    from {}",
            clean(l.sender.as_deref().unwrap_or("?"), 100)
        );
        if let Some(m) = &l.message_id {
            let _ = write!(line, " <{}>", clean(m, 100));
        }
        let _ = write!(line, ": {}", l.verdict);
        if !l.reason.is_empty() {
            let _ = write!(line, " — {}", clean(&l.reason, 200));
        }
        let _ = write!(line, " [{}]", l.folder);
        events.push((l.at, 0, line));
    }
    for a in audit {
        let at = DateTime::parse_from_rfc3339(&a.at)
            .map(|x| x.with_timezone(&Utc))
            .unwrap_or(t.created_at);
        let mut line = format!("decision  {}", a.event);
        if let Some(w) = &a.who {
            let _ = write!(line, " by {}", clean(w, 60));
        }
        if !a.detail.is_empty() {
            let _ = write!(line, ": {}", clean(&a.detail, 200));
        }
        events.push((at, 1, line));
    }
    for a in answers {
        let line = format!(
            "answer    from {}: {}",
            clean(&a.specialist, 100),
            if a.relayed {
                "passed on to the requester"
            } else {
                "not passed on"
            }
        );
        events.push((a.at, 1, line));
    }
    for m in mail {
        let mut line = format!("mail      {} to {}: ", m.kind, m.recipients.join(", "));
        match (m.state.as_str(), m.sent_at) {
            ("sent", Some(s)) => {
                let _ = write!(line, "sent {}", local(s, tz));
            }
            (state, _) => line.push_str(state),
        }
        if let Some(e) = &m.last_error {
            let _ = write!(line, " ({})", clean(e, 200));
        }
        events.push((m.at, 2, line));
    }
    events.sort_by_key(|(at, order, _)| (*at, *order));
    out.push('\n');
    for (at, _, line) in events {
        let _ = writeln!(out, "{}  {line}", local(at, tz));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TicketState;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ticket(number: i64, subject: &str) -> Ticket {
        Ticket {
            number,
            requester: Some("mama@mail.ru".into()),
            requester_name: None,
            role: Some("parent".into()),
            full_name: Some("Смирнова Ольга Викторовна".into()),
            class: Some("5А".into()),
            description: Some("Не могу войти".into()),
            subject: subject.into(),
            state: TicketState::Forwarded,
            assignee: Some("bukher@example.org".into()),
            assignee_name: Some("Бухер В.В.".into()),
            created_at: at("2021-09-09T08:30:00+03:00"),
            due_at: None,
            forwarded_at: Some(at("2021-09-09T08:30:00+03:00")),
            sender_auth: None,
        }
    }

    const MSK: Tz = chrono_tz::Europe::Moscow;

    #[test]
    fn the_table_has_a_line_per_ticket_in_local_time_and_no_escapes() {
        let answered = HashSet::from([12]);
        let out = table(
            &[ticket(1, "Дневник"), ticket(12, "a\u{1b}[31mred")],
            &answered,
            MSK,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[1].starts_with("1 ") && lines[1].contains("2021-09-09 08:30"));
        assert!(lines[1].contains("forwarded") && lines[1].contains("Бухер В.В."));
        assert!(lines[2].starts_with("12") && lines[2].ends_with("a [31mred"));
        assert!(
            lines[0].contains("answered") && lines[2].contains(" yes "),
            "{out}"
        );
        assert!(!lines[1].contains(" yes "), "{out}");
        assert!(!out.contains('\u{1b}'));
        assert_eq!(lines[3], "2 tickets");
        // The columns line up whatever the alphabet.
        let col = |l: &str| l.chars().position(|c| c == '2').unwrap();
        assert_eq!(col(&lines[1][2..]), col(&lines[2][2..]));
    }

    #[test]
    fn the_history_is_in_the_order_things_happened() {
        let t = ticket(3, "Дневник");
        let letters = [TicketLetter {
            at: at("2021-09-09T08:30:00+03:00"),
            sender: Some("mama@mail.ru".into()),
            message_id: Some("m1@mail.ru".into()),
            verdict: "forward".into(),
            reason: "complete, on duty now".into(),
            folder: "Processed".into(),
        }];
        let audit = [AuditEntry {
            at: "2021-09-09T06:00:00.000Z".into(),
            ticket: Some(3),
            event: "admin_reassign".into(),
            detail: "reassigned from Бухер В.В. to Ткаченко Е.В.".into(),
            who: Some("alice".into()),
        }];
        let mail = [
            TicketMail {
                at: at("2021-09-09T09:00:00+03:00"),
                kind: "forward".into(),
                recipients: vec!["tkachenko@example.org".into()],
                state: "queued".into(),
                sent_at: None,
                last_error: None,
            },
            TicketMail {
                at: at("2021-09-09T08:30:00+03:00"),
                kind: "forward".into(),
                recipients: vec!["bukher@example.org".into()],
                state: "sent".into(),
                sent_at: Some(at("2021-09-09T08:31:00+03:00")),
                last_error: None,
            },
        ];
        let out = history(&t, &Closure::default(), &letters, &audit, &mail, &[], MSK);
        let tail: Vec<&str> = out.lines().skip_while(|l| !l.is_empty()).skip(1).collect();
        assert_eq!(tail.len(), 4, "{out}");
        assert!(
            tail[0].starts_with("2021-09-09 08:30  letter") && tail[0].contains("<m1@mail.ru>")
        );
        assert!(tail[1].contains("forward to bukher@example.org: sent 2021-09-09 08:31"));
        assert!(tail[2].starts_with("2021-09-09 09:00  decision  admin_reassign by alice"));
        assert!(tail[3].contains("to tkachenko@example.org: queued"));
        assert!(out.starts_with("ticket 3 — forwarded\n"));
        assert!(out.contains("has it:    Бухер В.В. <bukher@example.org>"));
    }
}
