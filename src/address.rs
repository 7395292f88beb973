//! A mailbox address with an optional display name, as the config gives
//! them (the school's staff, the outbox's sender) and the letters use
//! them. A leaf: it needs nothing else of the crate.

use std::fmt;

/// A mailbox address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    pub email: String,
}

impl Address {
    /// Parses `Name <a@b>` or `a@b`.
    pub fn parse(text: &str) -> Option<Address> {
        let text = text.trim();
        let (name, email) = match (text.rfind('<'), text.rfind('>')) {
            (Some(l), Some(r)) if l < r => {
                let name = text[..l].trim().trim_matches('"').trim();
                (
                    (!name.is_empty()).then(|| name.to_string()),
                    text[l + 1..r].trim(),
                )
            }
            _ => (None, text),
        };
        let valid = {
            let mut parts = email.split('@');
            matches!((parts.next(), parts.next(), parts.next()),
                (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'))
                && !email
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        };
        valid.then(|| Address {
            name,
            email: email.to_string(),
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.email),
            None => f.write_str(&self.email),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = Address::parse("Костина Т.В. <director@example.org>").unwrap();
        assert_eq!(a.name.as_deref(), Some("Костина Т.В."));
        assert_eq!(a.email, "director@example.org");
        assert!(Address::parse("not an address").is_none());
        assert!(Address::parse("a@b").is_none());
    }
}
