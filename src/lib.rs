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
//! - [`schedule`]: the duty timetable; `on_duty(at)`, `next_window(after)`. Pure.
//! - [`cli`]: the subcommands; `main.rs` only dispatches to them.
pub mod cli;
pub mod config;
pub mod letter;
pub mod request;
pub mod schedule;
pub mod store;
pub mod templates;
pub mod ticket;
