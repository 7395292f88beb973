//! duty-desk: a mail daemon for a school's e-journal support mailbox.
//!
//! It watches the support mailbox, understands each letter (who wrote, their
//! class, their problem), asks the sender for exactly what is missing, and
//! forwards each complete request to the specialist on duty — or keeps it until
//! the next duty window opens. Robots are never answered; nothing is lost.
//!
//! # Layout
//! Data flows one way, top to bottom:
//!
//! - [`address`]: a mailbox address with a display name (a leaf).
//! - [`config`]: the TOML file → a validated [`config::Config`].
//! - [`net`]: TLS set-up both mail sides share (modes, client config, handshake).
//! - [`mailbox`]: where letters arrive (IMAP with IDLE, or a Maildir).
//! - [`request`]: one raw letter → a [`request::Request`]: who, role, class, problem, verdict.
//! - [`etiquette`]: rule 5 of the regulation: obscenity and insults (`request::etiquette`).
//! - [`inspect`]: `duty-desk inspect`, understanding without side effects.
//! - [`schedule`]: the duty timetable; `on_duty(at)`, `next_window(after)`. Pure.
//! - [`topic`]: the kinds of problem a specialist is preferred for (a leaf).
//! - [`calendar`]: the timetable as an iCalendar file (`schedule --ics`). Pure.
//! - [`trust`]: what a letter proves about its sender (`Authentication-Results`, address keys). Pure.
//! - [`ticket`]: what to do with a letter, decided purely (`decide`), then applied
//!   in one store transaction (`apply`): ask, forward, hold, refuse, ignore, relay.
//! - [`store`]: SQLite state: cursor, messages seen, tickets, outgoing queue, audit, keys.
//! - [`report`]: the weekly report: figures from the store, text, HTML and a heat map.
//! - [`templates`]: the admin-editable texts (minijinja).
//! - [`letter`]: outgoing letters as RFC 5322 bytes, with loop guards.
//! - [`outbox`]: where letters leave (SMTP, or `.eml` files), and whose fault a failed send is.
//! - [`daemon`]: the loops (inbox, due queue, outbox, health) around one shared store.
//! - [`service`]: the daemon under systemd: signals, readiness, watchdog.
//! - [`status`]: `duty-desk status`, the store read for an admin.
//! - [`demo`]: `duty-desk demo`, the pipeline over the bundled letters, no server.
//! - [`cli`]: the subcommands; `main.rs` only dispatches to them.
//!
//! # The `daemon` feature
//! `config`, `schedule`, `request` (with its submodules), `etiquette` and
//! `inspect` are pure: they need neither the network, nor TLS, nor SQLite,
//! and build without the `daemon` feature (`cargo build --no-default-features
//! --lib`); the fuzz crate uses them that way. Everything else, and the
//! binary, needs `daemon`, which is on by default.
pub mod address;
pub mod calendar;
pub mod config;
pub mod inspect;
pub mod request;
pub use request::etiquette;
pub mod schedule;
pub mod topic;
pub mod trust;

#[cfg(feature = "daemon")]
pub mod cli;
#[cfg(feature = "daemon")]
pub mod daemon;
#[cfg(feature = "daemon")]
pub mod demo;
#[cfg(feature = "daemon")]
pub mod letter;
#[cfg(feature = "daemon")]
pub mod mailbox;
#[cfg(feature = "daemon")]
pub mod net;
#[cfg(feature = "daemon")]
pub mod outbox;
#[cfg(feature = "daemon")]
pub mod report;
#[cfg(feature = "daemon")]
pub mod service;
#[cfg(feature = "daemon")]
pub mod status;
#[cfg(feature = "daemon")]
pub mod store;
#[cfg(feature = "daemon")]
pub mod templates;
#[cfg(feature = "daemon")]
pub mod ticket;
