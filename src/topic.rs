//! The kinds of problem a specialist may be preferred for (a leaf: the config
//! reads it from `[[specialists]] topics`, the understanding tells it from a
//! problem's words, `ticket::decide` matches the two).

/// A kind of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Logging in, passwords, the app, error messages, notifications.
    Technical,
    /// Marks, reports, the curriculum, how to fill the journal.
    Methodological,
}

impl Topic {
    pub const ALL: [Topic; 2] = [Topic::Technical, Topic::Methodological];

    /// Its name in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Technical => "technical",
            Topic::Methodological => "methodological",
        }
    }

    /// From its name in the config.
    pub fn parse(s: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }
}
