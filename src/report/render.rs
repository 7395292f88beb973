//! The report as words: a plain-text part and an HTML part with the picture.

use std::fmt::Write as _;

use super::{Figures, Spread};

/// What a figure the store does not record shows as.
pub const NOT_RECORDED: &str = "не учитывается пока";

/// The report's subject line.
pub fn subject(school: &str, f: &Figures) -> String {
    let school = if school.is_empty() {
        String::new()
    } else {
        format!("{school}: ")
    };
    format!(
        "{school}отчёт дежурной службы ЭлЖур за неделю {} – {}",
        f.monday.format("%d.%m.%Y"),
        f.sunday.format("%d.%m.%Y")
    )
}

fn decision_ru(d: &str) -> &str {
    match d {
        "forward" => "переслано дежурному",
        "held" => "отложено до следующего дежурства",
        "ask" => "запрошены недостающие сведения",
        "addition" => "дополнение к заявке",
        "etiquette" => "отказ по п. 5 регламента",
        "ignore" => "автоматические письма (без ответа)",
        "duplicate" => "повторные копии",
        "answered" => "ответы специалистов",
        "relayed" => "ответы специалистов, переданные заявителю",
        "complaint" => "жалобы на специалистов (переданы руководителю)",
        "too_large" => "слишком большие письма",
        other => other,
    }
}

fn state_ru(s: &str) -> &str {
    match s {
        "waiting_sender" => "ждут сведений от заявителя",
        "waiting_duty" => "ждут дежурства",
        "forwarded" => "у специалиста",
        "refused" => "отказ по п. 5",
        "closed" => "закрыты",
        other => other,
    }
}

/// "2 ч 05 мин", "45 мин".
pub fn minutes_ru(m: i64) -> String {
    if m >= 60 {
        format!("{} ч {:02} мин", m / 60, m % 60)
    } else {
        format!("{m} мин")
    }
}

fn spread_ru(s: &Option<Spread>) -> String {
    match s {
        None => "—".into(),
        Some(s) => format!(
            "медиана {}, 90 % — {}, дольше всех {} (из {})",
            minutes_ru(s.median_minutes),
            minutes_ru(s.p90_minutes),
            minutes_ru(s.max_minutes),
            s.count
        ),
    }
}

fn opt(n: Option<u32>) -> String {
    n.map_or_else(|| NOT_RECORDED.to_string(), |n| n.to_string())
}

/// The lines of the report, as (label, value) pairs in sections; text and HTML
/// are both written from these.
fn sections(f: &Figures) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let mut letters = vec![
        ("Писем получено".to_string(), f.letters.to_string()),
        ("из них обращений".to_string(), f.requests.to_string()),
        (
            "обращений, пока никто не дежурил".to_string(),
            f.requests_off_duty.to_string(),
        ),
    ];
    for (d, n) in &f.by_decision {
        letters.push((format!("  {}", decision_ru(d)), n.to_string()));
    }
    out.push(("Письма".to_string(), letters));
    let mut tickets = vec![("Заявок открыто".to_string(), f.tickets_opened.to_string())];
    for (s, n) in &f.tickets_by_state {
        tickets.push((format!("  {}", state_ru(s)), n.to_string()));
    }
    tickets.push(("Отвечено".to_string(), opt(f.answered)));
    tickets.push(("Без ответа".to_string(), opt(f.unanswered)));
    tickets.push((
        "Ответов специалистов через адрес поддержки".to_string(),
        f.answers_relayed.to_string(),
    ));
    out.push(("Заявки".to_string(), tickets));
    let mut people = Vec::new();
    for s in &f.per_specialist {
        let answer = match (&s.answered, &s.first_answer) {
            (None, _) => format!("время до первого ответа: {NOT_RECORDED}"),
            (Some(n), spread) => format!(
                "отвечено {n}; время до первого ответа: {}",
                spread_ru(spread)
            ),
        };
        people.push((
            s.name.clone(),
            format!("переслано {}; {answer}", s.forwarded),
        ));
    }
    out.push(("Специалисты".to_string(), people));
    out.push((
        "Нарушения и жалобы".to_string(),
        vec![
            (
                "Отказов по п. 5 регламента".to_string(),
                f.rule5_refusals.to_string(),
            ),
            (
                "Сообщений об этом руководителю".to_string(),
                f.rule5_reports.to_string(),
            ),
            ("Жалоб на специалистов".to_string(), opt(f.complaints)),
        ],
    ));
    out.push((
        "Ожидание дежурства".to_string(),
        vec![
            (
                "Заявок отложено до следующего дежурства".to_string(),
                f.held.count.to_string(),
            ),
            (
                "из них уже переданы специалисту".to_string(),
                f.held.released.to_string(),
            ),
            ("Ждали".to_string(), spread_ru(&f.held.waited)),
        ],
    ));
    out
}

fn intro(f: &Figures, tz: chrono_tz::Tz) -> Vec<String> {
    let mut lines = vec![format!(
        "Неделя с понедельника {} по воскресенье {} ({}).",
        f.monday.format("%d.%m.%Y"),
        f.sunday.format("%d.%m.%Y"),
        tz.name()
    )];
    if let Some(t) = f.records_from {
        lines.push(format!(
            "Записи начинаются {}: неделя учтена не целиком.",
            t.with_timezone(&tz).format("%d.%m.%Y %H:%M")
        ));
    }
    if f.answered.is_none() {
        lines.push(format!(
            "«{NOT_RECORDED}»: специалисты отвечают заявителям напрямую, и служба не знает, \
             был ли ответ и когда."
        ));
    }
    lines
}

/// The plain-text part.
pub fn text(f: &Figures, tz: chrono_tz::Tz) -> String {
    let mut out = String::new();
    for l in intro(f, tz) {
        let _ = writeln!(out, "{l}");
    }
    for (title, rows) in sections(f) {
        let _ = writeln!(out, "\n{title}");
        for (k, v) in rows {
            let _ = writeln!(out, "  {k}: {v}");
        }
    }
    let _ = writeln!(
        out,
        "\nОбращения по дням и часам (дежурства — в квадратных скобках):"
    );
    for (day, hours) in f.heat.iter().enumerate() {
        let mut line = String::new();
        for (h, n) in hours.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let on = f.duty.iter().any(|(d, s, e, _)| {
                *d as usize == day && *s < (h as u32 + 1) * 60 && *e > h as u32 * 60
            });
            if on {
                let _ = write!(line, " [{h:02}ч:{n}]");
            } else {
                let _ = write!(line, " {h:02}ч:{n}");
            }
        }
        let day_name = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"][day];
        let _ = writeln!(
            out,
            "  {day_name}:{}",
            if line.is_empty() { " —" } else { &line }
        );
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML part; `picture` is what stands for the heat map (an `<img>` of a
/// mail's inline part, or the SVG itself in a file).
pub fn html(title: &str, f: &Figures, tz: chrono_tz::Tz, picture: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: sans-serif; color: #222;\">\n<h2>{}</h2>\n",
        esc(title),
        esc(title)
    );
    for l in intro(f, tz) {
        let _ = writeln!(out, "<p>{}</p>", esc(&l));
    }
    let _ = writeln!(out, "<figure style=\"margin: 1em 0;\">{picture}</figure>");
    for (title, rows) in sections(f) {
        let _ = writeln!(
            out,
            "<h3>{}</h3>\n<table style=\"border-collapse: collapse;\">",
            esc(&title)
        );
        for (k, v) in rows {
            let indent = if k.starts_with("  ") { "1.5em" } else { "0" };
            let _ = writeln!(
                out,
                "<tr><td style=\"padding: 2px 12px 2px {indent};\">{}</td>\
                 <td style=\"padding: 2px 12px;\"><b>{}</b></td></tr>",
                esc(k.trim_start()),
                esc(&v)
            );
        }
        let _ = writeln!(out, "</table>");
    }
    let _ = writeln!(out, "</body></html>");
    out
}
