//! Letters that are no request for help, though a person's client sent them:
//! thanks («Спасибо, всё работает!»), congratulations, an automatic reply
//! written in the body (its headers silent), advertising and phishing. They
//! get no answer. Everything else is a request, however little it says: a
//! letter that might be one is asked about, never dropped.
//!
//! Lists: `lexicon/thanks.txt`, `greeting-cards.txt`, `auto-replies.txt`,
//! `spam-phrases.txt`.

use super::class;
use super::description;
use super::words::{self, folded_words, has_phrase};

words::phrase_list!(THANKS, "thanks");
words::phrase_list!(GREETING_CARDS, "greeting-cards");
words::phrase_list!(AUTO_REPLIES, "auto-replies");
words::phrase_list!(SPAM, "spam-phrases");

/// Why a letter is no request, or `None` when it may be one. `new` is the
/// writer's new text, `subject` the cleaned subject, `body` the whole text,
/// `link` whether the letter links to the web.
pub fn not_a_request(new: &str, subject: &str, body: &str, link: bool) -> Option<&'static str> {
    let own = folded_words(new);
    if has_phrase(&own, &AUTO_REPLIES) {
        return Some("an automatic reply");
    }
    let all = folded_words(&format!("{subject}\n{body}"));
    let spam_hits = SPAM
        .iter()
        .filter(|p| has_phrase(&all, std::slice::from_ref(p)))
        .count();
    if link && spam_hits >= 2 {
        return Some("advertising");
    }
    // Every sentence thanks, congratulates or says nothing, and one does
    // more than say nothing.
    let mut thanks = false;
    let mut card = false;
    let mut gives_class = false;
    for line in new.lines() {
        for s in description::sentences(line) {
            let w = folded_words(s);
            let negated = w.iter().any(|x| x == "не" || x == "нет" || x == "но");
            // A short sentence of thanks; one that gives a class answers the
            // desk's question («5В класс, Волков Тимофей. Спасибо.»).
            if class::find(s).is_some() {
                gives_class = true;
            }
            if !negated && w.len() <= 8 && has_phrase(&w, &THANKS) {
                thanks = true;
            } else if !negated && has_phrase(&w, &GREETING_CARDS) {
                card = true;
            } else if !description::says_nothing(s) {
                return None;
            }
        }
    }
    match (thanks, card) {
        (true, _) if !gives_class => Some("thanks only"),
        (_, true) => Some("congratulations only"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_requests() {
        let cases = [
            ("Спасибо большое, всё работает!", "", Some("thanks only")),
            ("спасибо", "", Some("thanks only")),
            (
                "Спасибо большое, всё заработало! Очень быстро помогли.",
                "",
                Some("thanks only"),
            ),
            (
                "Я на больничном до 14.03. Это автоматический ответ.",
                "",
                Some("an automatic reply"),
            ),
            (
                "Поздравляю всех с Днём учителя! Здоровья и терпения!\nКириллова А.П., мама ученика 4В",
                "",
                Some("congratulations only"),
            ),
            (
                "Автоответ: я в отпуске до 9.01.",
                "",
                Some("an automatic reply"),
            ),
            (
                "Вам одобрен кредит без справок! http://x.top Если вы не хотите получать письма, отписаться.",
                "",
                Some("advertising"),
            ),
            (
                "Школьная форма со скидкой до 70%. Переходите: http://x.ru Доставка по всей России бесплатно!",
                "",
                Some("advertising"),
            ),
            (
                "Выведем сайт вашей школы в ТОП-10 за 2 недели. Цены от 9900 рублей в месяц. http://x.su",
                "",
                Some("advertising"),
            ),
        ];
        for (new, subject, want) in cases {
            assert_eq!(
                not_a_request(new, subject, new, new.contains("http")),
                want,
                "{new}"
            );
        }
    }

    #[test]
    fn requests_stay_requests() {
        for new in [
            "Спасибо, но всё равно не работает",
            "Спасибо! А ещё не видно оценок по химии",
            "не работает дневник",
            "Помогите",
            "",
            "Поздравляю, у вас опять всё сломалось: не входит",
            "5В класс, Волков Тимофей. Спасибо.",
            "Вы мне не помогли, пароль не подходит",
            "Не открывается дневник со скидкой на обеды, скриншот: http://disk.yandex.ru/a",
            "здравствуйте мой сын учится в восьмом вэ классе почему в дневнике пропуск он был в школе на всех уроках спасибо",
        ] {
            assert_eq!(
                not_a_request(new, "", new, new.contains("http")),
                None,
                "{new}"
            );
        }
    }
}
