//! What kind of problem a description states (`lexicon/topic-*.txt`): the words
//! of each kind are counted, by dictionary form; the kind with more of them is
//! the problem's, and a tie (or no such word) is neither.

use super::{morph, words};
use crate::topic::Topic;

words::word_set!(TECHNICAL, "topic-technical");
words::word_set!(METHODOLOGICAL, "topic-methodological");

/// The kind of problem `description` states, if one prevails.
pub fn of(description: &str) -> Option<Topic> {
    let (mut technical, mut methodological) = (0, 0);
    for tok in words::tokens(description).iter().filter(|t| t.is_word()) {
        let readings = morph::parse(&tok.folded);
        let is_in = |list: &std::collections::HashSet<String>| {
            list.contains(&tok.folded) || readings.iter().any(|r| list.contains(&r.lemma))
        };
        if is_in(&TECHNICAL) {
            technical += 1;
        }
        if is_in(&METHODOLOGICAL) {
            methodological += 1;
        }
    }
    match technical.cmp(&methodological) {
        std::cmp::Ordering::Greater => Some(Topic::Technical),
        std::cmp::Ordering::Less => Some(Topic::Methodological),
        std::cmp::Ordering::Equal => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_and_app_problems_are_technical() {
        for text in [
            "Не могу войти в электронный дневник: пишет «неверный пароль».",
            "Приложение на телефоне вылетает после обновления.",
            "Не приходят уведомления о новых сообщениях.",
            "Через Госуслуги не пускает, ошибка авторизации.",
        ] {
            assert_eq!(of(text), Some(Topic::Technical), "{text}");
        }
    }

    #[test]
    fn marks_and_reports_are_methodological() {
        for text in [
            "У сына в журнале не стоят оценки за третью четверть.",
            "Как правильно заполнить КТП по литературе?",
            "В отчёте по успеваемости неверный средний балл.",
            "Не вижу отметок за контрольную работу.",
        ] {
            assert_eq!(of(text), Some(Topic::Methodological), "{text}");
        }
    }

    #[test]
    fn neither_or_both_is_no_topic() {
        assert_eq!(of("Здравствуйте, помогите, пожалуйста."), None);
        // One word of each kind: neither prevails.
        assert_eq!(of("В приложении не видно оценок."), None);
        assert_eq!(of(""), None);
    }
}
