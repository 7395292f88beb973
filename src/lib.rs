//! duty-desk
pub mod mailbox;
pub mod outbox;
