//! Where a decided letter is filed: the `duty-desk/…` folders. The decision names
//! the folder; the mailbox creates them and moves letters into them.

/// The folders the daemon files handled messages into. Their full names are
/// `duty-desk/Processed` etc. in the server's own hierarchy ([`layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Folder {
    /// Answered, forwarded: done.
    Processed,
    /// We asked the sender for what was missing; waiting for the answer.
    Waiting,
    /// A robot, the auto-reply limit, or our own mail: nothing sent.
    Ignored,
    /// Insults or obscenity: etiquette reply, report to the supervisor.
    Etiquette,
    /// Could not be read at all.
    Unreadable,
}

impl Folder {
    /// Every folder, in a fixed order.
    pub const ALL: [Folder; 5] = [
        Folder::Processed,
        Folder::Waiting,
        Folder::Ignored,
        Folder::Etiquette,
        Folder::Unreadable,
    ];
    /// The parent folder's name.
    pub const PARENT: &'static str = "duty-desk";

    /// The leaf name (`Processed`, …).
    pub fn leaf(self) -> &'static str {
        match self {
            Folder::Processed => "Processed",
            Folder::Waiting => "Waiting",
            Folder::Ignored => "Ignored",
            Folder::Etiquette => "Etiquette",
            Folder::Unreadable => "Unreadable",
        }
    }

    /// The folder with this leaf name, as the state store keeps it; an
    /// unknown name reads as `Ignored` (nothing is sent for it).
    pub fn from_leaf(name: &str) -> Folder {
        Folder::ALL
            .into_iter()
            .find(|f| f.leaf() == name)
            .unwrap_or(Folder::Ignored)
    }

    /// The full name with `separator` between parent and leaf.
    pub fn path(self, separator: &str) -> String {
        format!("{}{separator}{}", Self::PARENT, self.leaf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_paths_follow_the_separator() {
        assert_eq!(Folder::Processed.path("/"), "duty-desk/Processed");
        assert_eq!(Folder::Unreadable.path("."), "duty-desk.Unreadable");
        for f in Folder::ALL {
            assert_eq!(Folder::from_leaf(f.leaf()), f);
        }
        assert_eq!(Folder::from_leaf("Other"), Folder::Ignored);
    }
}
