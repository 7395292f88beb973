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
//! - [`config`]: the TOML file → a validated [`config::Config`].
//! - [`mailbox`]: where letters arrive (IMAP with IDLE, or a Maildir).
//! - [`request`]: one raw letter → a [`request::Request`]: who, role, class, problem, verdict.
//! - [`etiquette`]: rule 5 of the regulation: obscenity and insults.
//! - [`inspect`]: `duty-desk inspect`, understanding without side effects.
//! - [`schedule`]: the duty timetable; `on_duty(at)`, `next_window(after)`. Pure.
//! - [`ticket`]: decisions inside one store transaction: ask, forward, hold, refuse, ignore.
//! - [`store`]: SQLite state: cursor, messages seen, tickets, outgoing queue, audit.
//! - [`templates`]: the admin-editable texts (minijinja).
//! - [`letter`]: outgoing letters as RFC 5322 bytes, with loop guards.
//! - [`outbox`]: where letters leave (SMTP, or `.eml` files).
//! - [`cli`]: the subcommands; `main.rs` only dispatches to them.
pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod etiquette;
pub mod inspect;
pub mod letter;
pub mod mailbox;
pub mod outbox;
pub mod request;
pub mod schedule;
pub mod service;
pub mod status;
pub mod store;
pub mod templates;
pub mod ticket;
