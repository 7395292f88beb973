//! The `duty-desk` binary: parse the command line, set up logging, run, map errors to exit codes.

use std::io::IsTerminal;

use clap::Parser;
use duty_desk::cli::{self, Cli, Command};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        // The demo prints its own table; its log lines would only get in the way.
        0 if matches!(cli.command, Command::Demo) => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Logs go to stderr without timestamps: journald adds its own.
    let journald = stderr_is_journal();
    let lines = format::Format::default().without_time().with_target(false);
    tracing_subscriber::registry()
        .with(filter)
        .with(protocol_cap())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .event_format(Priority {
                    inner: lines,
                    journald,
                    desk: cli.instance.clone(),
                }),
        )
        .init();
    // The daemon's errors can hold a requester's address (a letter lettre cannot write
    // to, an SMTP refusal): shown as every log line shows it, local part hidden. The
    // other commands' errors are about the admin's own config and files.
    let redact = matches!(cli.command, Command::Run { .. });
    let cli_instance = cli.instance.clone();
    match cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let priority = if journald { "<3>" } else { "" };
            let text = format!("{e:#}");
            let text = if redact {
                duty_desk::daemon::redact(&text)
            } else {
                text.into()
            };
            let desk = desk_prefix(cli_instance.as_deref());
            eprintln!("{priority}{desk}error: {text}");
            std::process::ExitCode::from(1)
        }
    }
}

/// A second filter, on top of `-v`/`RUST_LOG` (both must let an event through),
/// that no setting can lift: the protocol crates' debug and trace lines are the raw
/// session. async-imap traces every line it writes and reads ("encode: input" holds
/// `LOGIN user password`, "decode: input" every fetched letter, whole); lettre's
/// debug lines (with its `tracing` feature) are every SMTP line written and read,
/// `AUTH PLAIN` with the base64 password and each letter's DATA included; rustls'
/// trace lines dump handshake messages (session tickets, resumption identities).
/// None of that may reach a journal that other people read, and our own lines say
/// what a session did (connect, login failed, letter decided) without the bytes.
/// So async-imap, imap-proto and lettre stop at info, rustls and tokio-rustls at
/// debug (their debug lines name cipher suites and versions, never data).
fn protocol_cap() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("async_imap", LevelFilter::INFO)
        .with_target("imap_proto", LevelFilter::INFO)
        .with_target("lettre", LevelFilter::INFO)
        .with_target("rustls", LevelFilter::DEBUG)
        .with_target("tokio_rustls", LevelFilter::DEBUG)
}

/// Whether stderr is the journal: systemd sets `JOURNAL_STREAM` to the device and
/// inode of the stream it connected (`sd_journal_stream_fd(3)`); a child with its own
/// stderr inherits the variable but not the stream, hence the comparison.
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Ok(want) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    want == format!("{}:{}", meta.dev(), meta.ino())
}

/// "desk=NAME " for `--instance NAME`, else nothing.
fn desk_prefix(instance: Option<&str>) -> String {
    instance.map(|n| format!("desk={n} ")).unwrap_or_default()
}

/// Under journald, each line starts with its syslog priority (`<3>` error, `<4>`
/// warning, `<6>` info, `<7>` debug and trace), so `journalctl -p warning` works.
/// With `--instance NAME` every line then says `desk=NAME`, so the lines of many
/// desks on one host (or in one file) tell whose they are.
struct Priority<F> {
    inner: F,
    journald: bool,
    desk: Option<String>,
}

impl<S, N, F> FormatEvent<S, N> for Priority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        if self.journald {
            let p = match *event.metadata().level() {
                Level::ERROR => 3,
                Level::WARN => 4,
                Level::INFO => 6,
                _ => 7,
            };
            write!(writer, "<{p}>")?;
        }
        if let Some(desk) = &self.desk {
            write!(writer, "desk={desk} ")?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}
