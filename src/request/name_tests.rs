use super::*;

fn name(new: &str, sig: &str, display: Option<&str>, role: Option<Role>) -> Option<String> {
    let parts = Parts {
        new: new.into(),
        signature: sig.into(),
        quoted: String::new(),
    };
    find(&parts, "", display, role)
}

#[test]
fn the_writer_not_the_child() {
    let p = Some(Role::Parent);
    assert_eq!(
        name(
            "Пишу за сына Лебедева Ивана Петровича, 5А. Не входит.",
            "",
            None,
            p
        ),
        None
    );
    assert_eq!(
        name("Я Лебедева Анна Сергеевна, мама Алисы.", "", None, p).as_deref(),
        Some("Лебедева Анна Сергеевна")
    );
    assert_eq!(
        name("прошу помочь мне, Сидоровой Анне, с паролем", "", None, p).as_deref(),
        Some("Сидорова Анна")
    );
    assert_eq!(
        name("не входит", "С уважением,\nпетрова мария", None, p).as_deref(),
        Some("Петрова Мария")
    );
    assert_eq!(
        name(
            "не входит",
            "С уважением, Е.В. Ткаченко",
            Some("Ткаченко Елена Викторовна"),
            None
        )
        .as_deref(),
        Some("Ткаченко Елена Викторовна")
    );
}

#[test]
fn latin_display_names_in_either_order() {
    assert_eq!(
        name("не входит", "", Some("Elena Tkachenko"), None).as_deref(),
        Some("Ткаченко Елена")
    );
    assert_eq!(
        name("не входит", "", Some("Tkachenko Elena"), None).as_deref(),
        Some("Ткаченко Елена")
    );
    assert_eq!(name("не входит", "", Some("Ivan Support"), None), None);
    // An «i» before a vowel may stand for a soft sign.
    assert_eq!(
        name("не входит", "", Some("Sergey Vasiliev"), None).as_deref(),
        Some("Васильев Сергей")
    );
    assert_eq!(
        name("не входит", "", Some("Ivanova Olga"), None).as_deref(),
        Some("Иванова Ольга")
    );
    assert_eq!(
        name("не входит", "", Some("Kovalenko Yuliya"), None).as_deref(),
        Some("Коваленко Юлия")
    );
}

#[test]
fn a_class_letter_is_no_initial() {
    assert_eq!(
        name(
            "Я старший брат Миланы Абрамовой, она в 1А. Абрамов Тимур.",
            "",
            None,
            Some(Role::Parent)
        )
        .as_deref(),
        Some("Абрамов Тимур")
    );
}

#[test]
fn a_surname_shaped_as_an_adjective_declines_as_one() {
    assert_eq!(
        name(
            "От Херсонской Алины Богдановны (мама Миланы, 1В).",
            "",
            None,
            Some(Role::Parent)
        )
        .as_deref(),
        Some("Херсонская Алина Богдановна")
    );
}

#[test]
fn forms_lower_case_dative_and_genitive() {
    let cases = [
        (
            "ФИО: Гаврилов Степан Олегович\nКласс: 7 «А»",
            None,
            "Гаврилов Степан Олегович",
        ),
        (
            "ФИО: Поляков Роман Сергеевич (отец)",
            None,
            "Поляков Роман Сергеевич",
        ),
        (
            "кузин никита 11 а. приложение пишет что сессия истекла",
            None,
            "Кузин Никита",
        ),
        (
            "Здравствуйте, я Ким Даниил, пишу с маминой почты.",
            Some("Ким Ольга"),
            "Ким Даниил",
        ),
        (
            "Помогите, пожалуйста, мне, ученице 8Г Пономарёвой Алине.",
            None,
            "Пономарева Алина",
        ),
        (
            "Обращение от Кравченко Ольги Николаевны, мамы ученика 7 «В» Кравченко Артёма.",
            None,
            "Кравченко Ольга Николаевна",
        ),
        ("не входит", Some("Smirnova Yulia"), "Смирнова Юлия"),
        (
            "Римская-Корсакова Анастасия Михайловна, классный руководитель 8В.",
            None,
            "Римская-Корсакова Анастасия Михайловна",
        ),
    ];
    for (new, display, want) in cases {
        assert_eq!(name(new, "", display, None).as_deref(), Some(want), "{new}");
    }
    let parts = Parts {
        new: "у меня в дневнике нет информатики".into(),
        ..Parts::default()
    };
    assert_eq!(
        find(&parts, "Кузнецов Илья 9б", None, None).as_deref(),
        Some("Кузнецов Илья")
    );
    // Lower-case words with a surname's ending need a first name beside them.
    assert_eq!(name("сын петров не может войти", "", None, None), None);
}

#[test]
fn a_lone_first_name_is_not_enough() {
    assert_eq!(name("Меня зовут Анна, 5А", "", None, None), None);
    assert_eq!(name("Анна Сергеевна, 5А", "", None, None), None);
    assert_eq!(name("Петров И.", "", None, None), None);
    assert_eq!(
        name("Петров И.И.", "", None, None).as_deref(),
        Some("Петров И.И.")
    );
}

#[test]
fn an_account_owner_is_not_a_writer_who_gives_another_name() {
    let from = Some("Александр Петренко");
    // A child writes from the father's account, by first name alone.
    assert_eq!(
        name("привет это Миша. я не могу зайти", "", from, None),
        None
    );
    assert_eq!(
        name("это не папа пишет а я, Миша из 6А", "", from, None),
        None
    );
    // The owner himself, by first name: still his account.
    assert_eq!(
        name("это Александр, не могу зайти", "", from, None).as_deref(),
        Some("Петренко Александр")
    );
    // «Мама Вани»: the writer is the mother; the son's name is not hers.
    assert_eq!(
        name(
            "Ученик 4Б класса Орлов Иван не может войти в дневник.",
            "",
            Some("Мама Вани"),
            None
        ),
        None
    );
}

#[test]
fn whom_a_letter_is_from_and_whom_it_is_about() {
    assert_eq!(
        name(
            "Директору школы Костиной Т.В.\nот учителя математики Хабибуллиной Лилии Фаритовны\nПрошу сбросить пароль.",
            "",
            None,
            None
        )
        .as_deref(),
        Some("Хабибуллина Лилия Фаритовна")
    );
    assert_eq!(
        name(
            "Ученица моего класса Рита Ланская (5Г) не видит оценки.",
            "Кл. рук. Ефремова",
            None,
            Some(Role::Staff)
        ),
        None
    );
}
