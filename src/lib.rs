//! duty-desk
