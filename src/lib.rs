//! duty-desk
pub mod etiquette;
pub mod inspect;
pub mod request;
