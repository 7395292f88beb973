//! Who wrote: a member of staff, a parent or a student — by how they present
//! themselves (`lexicon/staff-titles.txt`, `parent-words.txt`,
//! `student-phrases.txt`). Staff are also known by their address (the
//! config's staff addresses and domains, decided in `understand`).

use super::Role;
use super::words::{self, folded_words, has_phrase, phrase_at};

words::phrase_list!(STAFF_TITLES, "staff-titles");
words::word_set!(PARENT_WORDS, "parent-words");
words::phrase_list!(STUDENT_PHRASES, "student-phrases");

/// Whether a title stands in `words` at `at`.
fn title_at(words: &[String], at: usize) -> bool {
    STAFF_TITLES.iter().any(|t| phrase_at(words, at, t))
}

/// Whether the text presents its writer as staff: «я учитель», «я, Петрова
/// А.А., классный руководитель 5А», or a short line that starts with a title.
fn presents_staff(new: &str, signature: &str) -> bool {
    let sig = folded_words(signature);
    if (0..sig.len()).any(|i| title_at(&sig, i)) {
        return true;
    }
    for line in new.lines() {
        let w = folded_words(line);
        if w.len() <= 7 && title_at(&w, 0) && !w.iter().any(|x| PARENT_WORDS.contains(x)) {
            return true;
        }
        for i in 0..w.len() {
            if w[i] == "я" && (i + 1..(i + 6).min(w.len())).any(|j| title_at(&w, j)) {
                return true;
            }
        }
    }
    false
}

/// The role the writer's own text shows, if any.
pub fn detect(new: &str, signature: &str) -> Option<Role> {
    let own = format!("{new}\n{signature}");
    let w = folded_words(&own);
    if has_phrase(&w, &STUDENT_PHRASES) {
        return Some(Role::Student);
    }
    // A parent-word of the writer's own («я мама», «мой сын»): a staff member
    // writing about a pupil says «ученик», not «сын».
    let parent = w.iter().any(|x| PARENT_WORDS.contains(x));
    if presents_staff(new, signature)
        && !w
            .windows(2)
            .any(|p| p[0] == "я" && PARENT_WORDS.contains(&p[1]))
    {
        return Some(Role::Staff);
    }
    parent.then_some(Role::Parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let cases = [
            (
                "Я учитель математики, не могу выставить оценки",
                "",
                Some(Role::Staff),
            ),
            (
                "не могу выставить оценки",
                "С уважением,\nучитель истории Петрова А.А.",
                Some(Role::Staff),
            ),
            (
                "Учитель сказал написать вам. У сына не видно оценок",
                "",
                Some(Role::Parent),
            ),
            ("Я мама ученика 5А", "", Some(Role::Parent)),
            (
                "у меня в дневнике нет оценок, я из 7Б",
                "",
                Some(Role::Student),
            ),
            ("пишу с маминой почты", "", Some(Role::Student)),
            ("не работает дневник", "", None),
        ];
        for (new, sig, want) in cases {
            assert_eq!(detect(new, sig), want, "{new} / {sig}");
        }
    }
}
