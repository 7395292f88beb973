//! The command line: subcommands and what each prints. `main.rs` parses and dispatches here.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Datelike, SecondsFormat, Utc, Weekday};
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::config::{Config, weekday_key};
use crate::schedule::{Schedule, Shift, Validity, clock};

#[derive(Debug, Parser)]
#[command(
    name = "duty-desk",
    version,
    about = "Support mailbox daemon for a school's e-journal"
)]
pub struct Cli {
    /// Config file [default: config/duty-desk.toml, else config/duty-desk.example.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// This desk's name, at the start of every log line ("desk=NAME"); the
    /// template unit duty-desk@NAME.service passes its instance name.
    #[arg(long, global = true, value_name = "NAME", value_parser = parse_instance)]
    pub instance: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Who is on duty at an instant and the next window; without --json a week table.
    Schedule {
        /// The instant (RFC 3339) [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        at: Option<DateTime<Utc>>,
        #[arg(long)]
        json: bool,
        /// The whole timetable as an iCalendar file (RFC 5545) on stdout: one weekly
        /// series per window, EXDATE for holidays, one-off changes as events of their own.
        #[arg(long, conflicts_with = "json")]
        ics: bool,
    },
    /// Validate the config and templates; on error print file, line and what is wrong.
    /// Warns (and still passes) when the timetable ends soon or has ended.
    CheckConfig {
        /// The instant to judge the timetable's validity at (RFC 3339) [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        at: Option<DateTime<Utc>>,
    },
    /// The daemon: inbox, outgoing queue and due queue.
    Run {
        /// Handle what is waiting (inbox and due queue), send what is queued, exit.
        #[arg(long)]
        once: bool,
        /// Start the clock at this instant (RFC 3339); it then runs on.
        #[arg(long, value_parser = parse_rfc3339)]
        now: Option<DateTime<Utc>>,
        /// Start with a blank state store although the mailbox shows an earlier run
        /// (letters in its duty-desk folders). Without it such a start is refused:
        /// a lost store must be restored, or letters would be answered twice.
        #[arg(long)]
        fresh_state: bool,
    },
    /// The whole pipeline over bundled example letters, in a temporary Maildir.
    Demo,
    /// Tickets, queues and mailbox health from the state store.
    Status {
        /// The instant to report at (RFC 3339) [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        at: Option<DateTime<Utc>>,
    },
    /// The weekly report by hand: the figures of one Monday–Sunday week from the
    /// state store, as the daemon mails them every `[report] day`.
    Report {
        /// A day of the week (YYYY-MM-DD, usually its Monday).
        #[arg(long, value_parser = parse_date)]
        week: chrono::NaiveDate,
        /// Write the HTML report (the heat map inside) to FILE; without it the
        /// plain-text report goes to stdout.
        #[arg(long, value_name = "FILE.html")]
        out: Option<PathBuf>,
        /// Print the figures as JSON instead.
        #[arg(long, conflicts_with = "out")]
        json: bool,
        /// Releases and answers are counted up to this instant (RFC 3339) [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        at: Option<DateTime<Utc>>,
    },
    /// The tickets in the state store, one line each.
    Tickets {
        /// Only tickets in this state (waiting_sender, waiting_duty, forwarded,
        /// refused, closed).
        #[arg(long, value_parser = parse_state)]
        state: Option<crate::store::TicketState>,
        /// Only tickets opened on or after this day (YYYY-MM-DD, the school's time).
        #[arg(long, value_parser = parse_date)]
        since: Option<chrono::NaiveDate>,
    },
    /// One ticket: its letters, decisions and mails in order; or, with an action,
    /// what the admin does to it (the running daemon sends the mail it queues).
    Ticket {
        /// The ticket's number.
        number: i64,
        #[command(subcommand)]
        action: Option<TicketAction>,
        /// The instant the action is done at (RFC 3339) [default: now]
        #[arg(long, global = true, value_parser = parse_rfc3339)]
        now: Option<DateTime<Utc>>,
    },
    /// Understand letters without side effects: one JSON object per file per line.
    Inspect {
        /// The instant to judge at (RFC 3339) [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        now: Option<DateTime<Utc>>,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// What the admin does to one ticket (`duty-desk ticket N ACTION`).
#[derive(Debug, Subcommand)]
pub enum TicketAction {
    /// Send the ticket with its letters now, to NAME or to who is on duty.
    Forward {
        /// A specialist of the timetable: name (any case), surname or address.
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
    },
    /// Give a forwarded or held ticket to another specialist (forwarded to them now).
    Reassign {
        #[arg(long, value_name = "NAME")]
        to: String,
    },
    /// Close the ticket.
    Close,
    /// Open a closed ticket again, in the state it was closed from.
    Reopen,
}

impl TicketAction {
    fn action(&self) -> crate::ticket::admin_actions::Action {
        use crate::ticket::admin_actions::Action;
        match self {
            TicketAction::Forward { to } => Action::Forward { to: to.clone() },
            TicketAction::Reassign { to } => Action::Reassign { to: to.clone() },
            TicketAction::Close => Action::Close,
            TicketAction::Reopen => Action::Reopen,
        }
    }
}

/// Parses `--state`.
pub fn parse_state(s: &str) -> Result<crate::store::TicketState, String> {
    crate::store::TicketState::parse(s).ok_or_else(|| {
        format!(
            "{s:?} is not a ticket state: waiting_sender, waiting_duty, forwarded, refused or closed"
        )
    })
}

/// Who runs this command, for the audit row: the OS user.
fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var)
            && !u.is_empty()
        {
            return u;
        }
    }
    // Without a login environment (sudo -E less, a cron job): the real uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| format!("uid {u}")))
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// `duty-desk tickets`: the table.
fn tickets_command(
    cli: &Cli,
    state: Option<crate::store::TicketState>,
    since: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    use crate::store::Queries as _;
    let config = load_config(cli)?;
    let store = crate::store::Store::open(&config.state_path, false)?;
    let tz = config.schedule.tz();
    let since = since.map(|d| {
        let midnight = d.and_time(chrono::NaiveTime::MIN);
        chrono::TimeZone::from_local_datetime(&tz, &midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
    });
    let r = store.read();
    let tickets = r.ticket_list(state, since)?;
    let answered = r.answered_tickets()?;
    print!("{}", crate::ticket::listing::table(&tickets, &answered, tz));
    Ok(())
}

/// `duty-desk ticket N [ACTION]`.
fn ticket_command(
    cli: &Cli,
    number: i64,
    action: Option<&TicketAction>,
    now: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    use crate::store::Queries as _;
    let config = load_config(cli)?;
    let mut store = crate::store::Store::open(&config.state_path, false)?;
    let tz = config.schedule.tz();
    let Some(action) = action else {
        let r = store.read();
        let Some(t) = r.ticket(number)? else {
            anyhow::bail!("there is no ticket {number}");
        };
        let closure = r.ticket_closure(number)?.unwrap_or_default();
        print!(
            "{}",
            crate::ticket::listing::history(
                &t,
                &closure,
                &r.ticket_messages(number)?,
                &r.ticket_audit(number)?,
                &r.ticket_mail(number)?,
                &r.ticket_answers(number)?,
                tz
            )
        );
        return Ok(());
    };
    let templates = crate::templates::Templates::load(&config.templates_dir)?;
    let desk = crate::ticket::Desk {
        config: &config,
        templates: &templates,
    };
    let who = os_user();
    let now = now.unwrap_or_else(Utc::now);
    let done = store.transaction(|tx| {
        crate::ticket::admin_actions::carry_out(tx, &desk, number, &action.action(), &who, now)
    })?;
    match done {
        Ok(done) => {
            println!("ticket {}: {}", done.ticket, done.summary);
            if done.queued > 0 {
                println!("the running daemon sends it within half a minute (or the next `run`)");
            }
            Ok(())
        }
        Err(refusal) => Err(anyhow::anyhow!("{refusal}")),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Parses an RFC 3339 instant for `--at`/`--now`.
pub fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{s:?} is not an RFC 3339 instant like 2021-09-09T08:30:00+03:00: {e}")
        })
}

/// Parses a `YYYY-MM-DD` date for `report --week`.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("{s:?} is not a date like 2021-09-06: {e}"))
}

/// `duty-desk report`: one week's report from the store.
fn report_command(
    cli: &Cli,
    week: chrono::NaiveDate,
    out: Option<&std::path::Path>,
    json: bool,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let config = load_config(cli)?;
    let store = crate::store::Store::open(&config.state_path, false)?;
    let tz = config.schedule.tz();
    let week = crate::report::Week::of(week, tz);
    let report =
        crate::report::send::make(&store.read(), &config, week, at.unwrap_or_else(Utc::now))?;
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report.figures)?)?;
    } else if let Some(path) = out {
        std::fs::write(path, report.html_page(tz))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        writeln!(stdout, "{}: {}", path.display(), report.subject)?;
    } else {
        write!(stdout, "{}\n\n{}", report.subject, report.text)?;
    }
    Ok(())
}

/// Checks `--instance NAME`: letters, digits, `-`, `_` and `.` (it names
/// `/etc/duty-desk/NAME.toml` and the unit duty-desk@NAME.service).
pub fn parse_instance(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a desk name: use up to 64 letters, digits, '-', '_' and '.' (e.g. school-12)"
        ))
    }
}

/// Loads the config named on the command line (or the default).
pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let path = Config::locate(cli.config.as_deref());
    Ok(Config::load(&path)?)
}

/// Runs one subcommand; the result becomes the exit code in `main`.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let result: anyhow::Result<()> = match &cli.command {
        Command::Schedule { at, json, ics } => {
            let config = load_config(&cli)?;
            let at = at.unwrap_or_else(Utc::now);
            let mut out = std::io::stdout().lock();
            if *ics {
                let domain = config
                    .from
                    .email
                    .rsplit_once('@')
                    .map_or("duty-desk.invalid", |x| x.1);
                write!(
                    out,
                    "{}",
                    crate::calendar::ics(&config.schedule, domain, at)
                )?;
            } else if *json {
                writeln!(out, "{}", schedule_json(&config.schedule, at))?;
            } else {
                write!(
                    out,
                    "{}",
                    schedule_table(&config.schedule, at, config.warn_before_end_days)
                )?;
            }
            Ok(())
        }
        Command::Run {
            once,
            now,
            fresh_state,
        } => {
            let path = Config::locate(cli.config.as_deref());
            let opts = crate::daemon::RunOptions {
                once: *once,
                now: *now,
                fresh_state: *fresh_state,
                instance: cli.instance.clone(),
            };
            runtime()?.block_on(crate::service::serve(&path, opts))
        }
        Command::Demo => runtime()?.block_on(crate::demo::run(&mut std::io::stdout().lock())),
        Command::Status { at } => {
            let config = load_config(&cli)?;
            let store = crate::store::Store::open(&config.state_path, false)?;
            let at = at.unwrap_or_else(Utc::now);
            print!("{}", crate::status::report(&store, &config, at)?);
            Ok(())
        }
        Command::Report {
            week,
            out,
            json,
            at,
        } => report_command(&cli, *week, out.as_deref(), *json, *at),
        Command::Tickets { state, since } => tickets_command(&cli, *state, *since),
        Command::Ticket {
            number,
            action,
            now,
        } => ticket_command(&cli, *number, action.as_ref(), *now),
        Command::Inspect { now: _, files } => {
            // Without a config file, inspect still works on the built-in example's rules.
            let config = load_config(&cli)?;
            let ctx = crate::request::Context {
                own_addresses: vec![config.from.email.to_lowercase()],
                staff_domains: config.staff_domains.clone(),
                staff_addresses: config.staff_addresses.clone(),
                max_message_size: config.max_message_size,
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            crate::inspect::run(files, &ctx, &mut out)?;
            out.flush()?;
            Ok(())
        }
        Command::CheckConfig { at } => {
            let config = load_config(&cli)?;
            let templates = crate::templates::Templates::load(&config.templates_dir)?;
            templates.check()?;
            println!(
                "{}: ok ({} specialists, {} h of duty a week, valid {} … {}; templates from {})",
                config.file.display(),
                config.schedule.specialists().len(),
                config.schedule.weekly_minutes() as f64 / 60.0,
                config.schedule.valid_from(),
                config.schedule.valid_until(),
                config.templates_dir.display()
            );
            if let crate::config::OutboxSink::Smtp(server) = &config.outbox {
                match &server.login {
                    Some(l) => {
                        println!("outbox: {}:{} as {}", server.host, server.port, l.username)
                    }
                    None => println!(
                        "outbox: {}:{} with no authentication (a relay that takes mail without AUTH)",
                        server.host, server.port
                    ),
                }
            }
            let at = at.unwrap_or_else(Utc::now);
            let validity = config.schedule.validity(at, config.warn_before_end_days);
            if let Some(warning) = validity.warning() {
                println!("warning: {warning}");
            }
            Ok(())
        }
    };
    result
}

/// `2021-09-09T14:00:00+03:00`: the school's zone, with its offset.
pub fn rfc3339(t: &DateTime<chrono_tz::Tz>) -> String {
    t.fixed_offset().to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn shift_json(s: &Schedule, shift: &Shift, with_from: bool) -> serde_json::Value {
    let sp = &s.specialists()[shift.specialist];
    let mut v = json!({
        "name": sp.name,
        "email": sp.email.email,
        "until": rfc3339(&shift.until),
    });
    if with_from {
        v["from"] = json!(rfc3339(&shift.from));
    }
    v
}

/// The `schedule --json` object of DESIGN.md.
pub fn schedule_json(s: &Schedule, at: DateTime<Utc>) -> serde_json::Value {
    let on_duty: Vec<_> = s
        .on_duty(at)
        .iter()
        .map(|x| shift_json(s, x, false))
        .collect();
    let next = s.next_window(at).map(|x| shift_json(s, &x, true));
    json!({
        "at": rfc3339(&at.with_timezone(&s.tz())),
        "on_duty": on_duty,
        "next": next,
    })
}

const WEEKDAYS: [(Weekday, &str); 5] = [
    (Weekday::Mon, "Пн"),
    (Weekday::Tue, "Вт"),
    (Weekday::Wed, "Ср"),
    (Weekday::Thu, "Чт"),
    (Weekday::Fri, "Пт"),
];

/// The readable week table: windows per specialist, hours, gaps, and the validity
/// warning from `warn_days` days before the timetable's last day.
pub fn schedule_table(s: &Schedule, at: DateTime<Utc>, warn_days: u32) -> String {
    let mut out = String::new();
    week_grid(&mut out, s);
    week_totals(&mut out, s);
    now_and_validity(&mut out, s, at, warn_days);
    out
}

/// One row per specialist: the windows of each weekday and the week's hours.
fn week_grid(out: &mut String, s: &Schedule) {
    use std::fmt::Write as _;
    let name_w = s
        .specialists()
        .iter()
        .map(|x| x.name.chars().count())
        .max()
        .unwrap_or(10)
        .max(10);
    let col = 13;
    let _ = write!(out, "{:<name_w$}", "Специалист");
    for (_, d) in WEEKDAYS {
        let _ = write!(out, " {d:<col$}");
    }
    let _ = writeln!(out, " часов");
    for sp in s.specialists() {
        let _ = write!(out, "{:<name_w$}", sp.name);
        for (wd, _) in WEEKDAYS {
            let cell: Vec<String> = sp
                .windows
                .iter()
                .filter(|w| w.weekday == wd)
                .map(|w| w.label())
                .collect();
            let cell = if cell.is_empty() {
                "·".to_string()
            } else {
                cell.join(",")
            };
            let _ = write!(out, " {cell:<col$}");
        }
        let mins: u32 = sp.windows.iter().map(|w| u32::from(w.end - w.start)).sum();
        let _ = writeln!(out, " {:.1}", mins as f64 / 60.0);
        let weekend: Vec<String> = sp
            .windows
            .iter()
            .filter(|w| matches!(w.weekday, Weekday::Sat | Weekday::Sun))
            .map(|w| format!("{} {}", weekday_key(w.weekday), w.label()))
            .collect();
        if !weekend.is_empty() {
            let _ = writeln!(out, "{:<name_w$}   (выходные: {})", "", weekend.join(", "));
        }
    }
}

/// The week's hours of duty and the working hours nobody covers.
fn week_totals(out: &mut String, s: &Schedule) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "\nВсего дежурств в неделю: {:.1} ч",
        s.weekly_minutes() as f64 / 60.0
    );
    let gaps = s.weekday_gaps();
    if !gaps.is_empty() {
        let _ = writeln!(out, "Без дежурного в рабочее время:");
        for (wd, _) in WEEKDAYS {
            let day: Vec<String> = gaps
                .iter()
                .filter(|g| g.0 == wd)
                .map(|g| format!("{}–{}", clock(g.1), clock(g.2)))
                .collect();
            if !day.is_empty() {
                let label = WEEKDAYS
                    .iter()
                    .find(|x| x.0 == wd)
                    .map(|x| x.1)
                    .unwrap_or("");
                let _ = writeln!(out, "  {label}: {}", day.join(", "));
            }
        }
    }
}

/// Who is on duty at `at`, the next window, and the timetable's validity.
fn now_and_validity(out: &mut String, s: &Schedule, at: DateTime<Utc>, warn_days: u32) {
    use std::fmt::Write as _;
    let local = at.with_timezone(&s.tz());
    let _ = writeln!(
        out,
        "\nСейчас {} ({}, {}):",
        local.format("%Y-%m-%d %H:%M"),
        s.tz().name(),
        weekday_ru(local.weekday())
    );
    let now = s.on_duty(at);
    if now.is_empty() {
        let _ = writeln!(out, "  дежурных нет");
    }
    for x in &now {
        let _ = writeln!(
            out,
            "  дежурит {} до {}",
            s.specialists()[x.specialist].name,
            x.until.format("%H:%M")
        );
    }
    match s.next_window(at) {
        Some(x) => {
            let _ = writeln!(
                out,
                "  следующее дежурство: {} {}, {}",
                weekday_ru(x.from.weekday()),
                x.from.format("%Y-%m-%d %H:%M"),
                s.specialists()[x.specialist].name
            );
        }
        None => {
            let _ = writeln!(out, "  следующего дежурства нет: график закончился");
        }
    }
    let validity = s.validity(at, warn_days);
    match validity {
        Validity::Valid => {}
        Validity::Ended { last_day } => {
            let _ = writeln!(
                out,
                "\nВНИМАНИЕ: график действовал до {last_day}; он истёк, заявки уходят на резервный адрес."
            );
        }
        Validity::EndsSoon {
            last_day,
            days_left,
        } => {
            let _ = writeln!(
                out,
                "\nВНИМАНИЕ: график действует до {last_day} (осталось дней: {days_left}); пора внести новый."
            );
        }
    }
    if let Some(warning) = validity.warning() {
        let _ = writeln!(out, "warning: {warning}");
    }
}

pub fn weekday_ru(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "пн",
        Weekday::Tue => "вт",
        Weekday::Wed => "ср",
        Weekday::Thu => "чт",
        Weekday::Fri => "пт",
        Weekday::Sat => "сб",
        Weekday::Sun => "вс",
    }
}
