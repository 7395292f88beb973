//! `duty-desk demo`: the whole pipeline over bundled example letters, no server needed.
//!
//! It builds a temporary Maildir inbox, a Maildir outbox (one `.eml` per mail)
//! and a state store, writes a config that points at them (the example's
//! timetable and school), and runs the real daemon (`run --once`) three times on
//! a simulated Thursday and Friday of September 2021:
//!
//! 1. Thursday 08:30, two specialists on duty: seven letters arrive.
//! 2. Thursday 09:10: a specialist answers a forward; the desk passes it on.
//! 3. Thursday 19:40, nobody on duty: a parent answers our question, a student
//!    writes; the other forward, unanswered, is reminded.
//! 4. Friday 08:00:30, the next window opens: the held tickets go out, and the
//!    unanswered one passes to the specialist now on duty.
//!
//! After each run it prints what was decided and what was sent to whom.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::daemon::{self, RunOptions};
use crate::store::{Queries, Store};

/// The bundled letters of the first round: (file name in the Maildir, bytes).
const ROUND_ONE: &[(&str, &[u8])] = &[
    (
        "01-parent-complete",
        include_bytes!("../demo/01-parent-complete.eml"),
    ),
    (
        "02-parent-no-class",
        include_bytes!("../demo/02-parent-no-class.eml"),
    ),
    (
        "03-teacher-cp1251",
        include_bytes!("../demo/03-teacher.eml"),
    ),
    (
        "04-vacation-autoreply",
        include_bytes!("../demo/04-vacation.eml"),
    ),
    ("05-rude", include_bytes!("../demo/05-rude.eml")),
    ("06-bounce", include_bytes!("../demo/06-bounce.eml")),
];

const EVENING_LETTER: (&str, &[u8]) = (
    "07-student-evening",
    include_bytes!("../demo/07-student-evening.eml"),
);

const EXAMPLE: &str = include_str!("../config/duty-desk.example.toml");

/// The demo config: Maildir in and out, the example's school, timetable and limits.
fn demo_config(dir: &Path) -> anyhow::Result<String> {
    let school = EXAMPLE
        .find("\n[school]")
        .context("example config has [school]")?;
    let state = EXAMPLE
        .find("\n[state]")
        .context("example config has [state]")?;
    Ok(format!(
        r#"# Written by `duty-desk demo`.
[mailbox]
kind = "maildir"
path = "{inbox}"
poll_interval = "1s"

[outbox]
kind = "maildir"
path = "{outbox}"
from = "Поддержка ЭлЖур <uvk-mtl@mail.ru>"

{middle}
[state]
path = "{state}"

[templates]
dir = "{templates}"
"#,
        inbox = dir.join("inbox").display(),
        outbox = dir.join("outbox").display(),
        middle = &EXAMPLE[school..state],
        state = dir.join("duty-desk.sqlite3").display(),
        // No such folder: the built-in default templates are used.
        templates = dir.join("templates").display(),
    ))
}

fn deliver(inbox: &Path, name: &str, raw: &[u8]) -> anyhow::Result<()> {
    let new = inbox.join("new");
    std::fs::create_dir_all(&new)?;
    std::fs::create_dir_all(inbox.join("cur"))?;
    std::fs::create_dir_all(inbox.join("tmp"))?;
    std::fs::write(new.join(name), raw)?;
    Ok(())
}

fn at(s: &str) -> DateTime<Utc> {
    // The demo's instants are constants in RFC 3339.
    DateTime::parse_from_rfc3339(s)
        .expect("valid demo instant")
        .with_timezone(&Utc)
}

/// Runs the demo, printing to `out`.
pub async fn run(out: &mut impl Write) -> anyhow::Result<()> {
    // DUTY_DESK_DEMO_KEEP=1 keeps the folder, to read the letters it wrote.
    let dir = tempfile::Builder::new()
        .prefix("duty-desk-demo-")
        .disable_cleanup(std::env::var_os("DUTY_DESK_DEMO_KEEP").is_some())
        .tempdir()?;
    let config_path = dir.path().join("duty-desk.toml");
    std::fs::write(&config_path, demo_config(dir.path())?)?;
    let inbox = dir.path().join("inbox");
    for (name, raw) in ROUND_ONE {
        deliver(&inbox, name, raw)?;
    }
    writeln!(
        out,
        "duty-desk demo: a Maildir inbox, a Maildir outbox and a state store in {}",
        dir.path().display()
    )?;
    writeln!(
        out,
        "(config: the example's timetable; texts: the built-in templates)\n"
    )?;

    let mut seen = (0, 0);
    seen = round(
        out,
        &config_path,
        "2021-09-09T08:30:00+03:00",
        "Thursday 08:30 — Бамбуркин С.П. and Макаренко С.О. on duty",
        seen,
    )
    .await?;

    // Бамбуркин answers the forward of ticket #1: to the desk, which passes it on.
    let store = Store::open(&dir.path().join("duty-desk.sqlite3"), false)?;
    let forward = store
        .read()
        .outgoing_after(0, None)?
        .into_iter()
        .find(|o| o.kind == "forward" && o.recipients.iter().any(|r| r == "bamburkin@example.org"))
        .context("the demo's first letter is forwarded to Бамбуркин")?;
    drop(store);
    deliver(
        &inbox,
        "09-specialist-answer",
        &specialist_answer(&forward.raw),
    )?;
    seen = round(
        out,
        &config_path,
        "2021-09-09T09:10:00+03:00",
        "Thursday 09:10 — Бамбуркин С.П. answers ticket #1 through the desk",
        seen,
    )
    .await?;

    // The parent answers our question as mail clients do: new text on top, our letter quoted.
    let store = Store::open(&dir.path().join("duty-desk.sqlite3"), false)?;
    let ask = store
        .read()
        .outgoing_after(0, None)?
        .into_iter()
        .find(|o| o.kind == "ask" && o.recipients.iter().any(|r| r == "n.petrova82@yandex.ru"))
        .context("the demo's second letter gets an ask")?;
    drop(store);
    deliver(&inbox, "08-parent-answer", &answer_to(&ask.raw))?;
    deliver(&inbox, EVENING_LETTER.0, EVENING_LETTER.1)?;
    seen = round(
        out,
        &config_path,
        "2021-09-09T19:40:00+03:00",
        "Thursday 19:40 — nobody on duty",
        seen,
    )
    .await?;
    round(
        out,
        &config_path,
        "2021-09-10T08:00:30+03:00",
        "Friday 08:00 — Ткаченко Е.В.'s window opens",
        seen,
    )
    .await?;

    let sent = std::fs::read_dir(dir.path().join("outbox"))?.count();
    writeln!(
        out,
        "{sent} letters written to {}",
        dir.path().join("outbox").display()
    )?;
    writeln!(
        out,
        "(the folder is removed on exit; set DUTY_DESK_DEMO_KEEP=1 to keep it and read the letters)"
    )?;
    Ok(())
}

/// Бамбуркин's reply to the forward he got (to the support address, its Reply-To).
fn specialist_answer(forward: &[u8]) -> Vec<u8> {
    let parsed = mail_parser::MessageParser::default().parse(forward);
    let id = parsed.as_ref().and_then(|m| m.message_id()).unwrap_or("");
    let subject = parsed.as_ref().and_then(|m| m.subject()).unwrap_or("");
    format!(
        "From: Bamburkin S.P. <bamburkin@example.org>\r\n\
         To: uvk-mtl@mail.ru\r\n\
         Subject: Re: {subject}\r\n\
         Date: Thu, 09 Sep 2021 09:05:00 +0300\r\n\
         Message-ID: <demo-09@example.org>\r\n\
         In-Reply-To: <{id}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Ольга Викторовна, здравствуйте!\r\n\
         Доступ к дневнику сына восстановлен: войдите заново с прежним паролем.\r\n"
    )
    .into_bytes()
}

/// A reply to our ask, in the shape mail.ru's web client writes it.
fn answer_to(ask: &[u8]) -> Vec<u8> {
    let parsed = mail_parser::MessageParser::default().parse(ask);
    let id = parsed
        .as_ref()
        .and_then(|m| m.message_id())
        .unwrap_or("")
        .to_string();
    let subject = parsed
        .as_ref()
        .and_then(|m| m.subject())
        .unwrap_or("")
        .to_string();
    let quoted: String = parsed
        .as_ref()
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
        .lines()
        .map(|l| format!("> {l}\r\n"))
        .collect();
    format!(
        "From: Petrova Natalia <n.petrova82@yandex.ru>\r\n\
         To: uvk-mtl@mail.ru\r\n\
         Subject: Re: {subject}\r\n\
         Date: Thu, 09 Sep 2021 19:35:00 +0300\r\n\
         Message-ID: <demo-08@yandex.ru>\r\n\
         In-Reply-To: <{id}>\r\n\
         References: <demo-02@yandex.ru> <{id}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         ФИО: Петрова Наталья Андреевна\r\n\
         Класс: 4Б\r\n\
         \r\n\
         09.09.2021, 08:31, \"Поддержка ЭлЖур\" <uvk-mtl@mail.ru>:\r\n\
         {quoted}"
    )
    .into_bytes()
}

/// One `run --once` at `now`; prints the letters decided and the mail sent since `seen`.
async fn round(
    out: &mut impl Write,
    config: &Path,
    now: &str,
    title: &str,
    seen: (i64, i64),
) -> anyhow::Result<(i64, i64)> {
    let opts = RunOptions {
        once: true,
        now: Some(at(now)),
        ..RunOptions::default()
    };
    let shared = daemon::prepare(config, &opts)?;
    let (_stop, stop_rx) = watch::channel(false);
    daemon::run(shared.clone(), opts, stop_rx).await?;
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let r = store.read();
    writeln!(out, "── {title} ──")?;
    let messages = r.messages_after(seen.0)?;
    if !messages.is_empty() {
        writeln!(
            out,
            "  {:<24} {:<10} {:<7} why",
            "letter", "decision", "ticket"
        )?;
    }
    for m in &messages {
        let ticket = m
            .ticket
            .map(|t| format!("#{t}"))
            .unwrap_or_else(|| "-".into());
        let name = m.source_key.trim_start_matches("maildir:");
        writeln!(
            out,
            "  {name:<24} {:<10} {ticket:<7} {}",
            m.verdict, m.reason
        )?;
    }
    let sent = r.outgoing_after(seen.1, None)?;
    if !sent.is_empty() {
        writeln!(out, "  sent:")?;
    }
    for o in &sent {
        let subject = mail_parser::MessageParser::default()
            .parse(&o.raw)
            .and_then(|m| m.subject().map(str::to_string))
            .unwrap_or_default();
        writeln!(
            out,
            "    {:<10} → {:<26} {subject}",
            o.kind,
            o.recipients.join(", ")
        )?;
    }
    writeln!(out)?;
    let last_message = messages.last().map(|m| m.id).unwrap_or(seen.0);
    let last_sent = sent.last().map(|o| o.id).unwrap_or(seen.1);
    Ok((last_message, last_sent))
}
