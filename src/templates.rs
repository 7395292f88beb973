//! The texts duty-desk sends, as admin-editable minijinja templates.
//!
//! Each template lives in `[templates] dir` as `NAME.j2`; a file that is not
//! there falls back to the default compiled in from `config/templates/`. A
//! template starts with a `Subject: …` line, then a blank line, then the body.
//! Undefined variables are errors (strict mode), so `check-config` catches a
//! misspelt name by rendering every template with sample data. The variables
//! are documented in `config/duty-desk.example.toml` (`[templates]`).

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, Value, context};

/// Every template duty-desk renders, with its compiled-in default.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("ask", include_str!("../config/templates/ask.j2")),
    ("ack_now", include_str!("../config/templates/ack_now.j2")),
    (
        "ack_later",
        include_str!("../config/templates/ack_later.j2"),
    ),
    (
        "etiquette",
        include_str!("../config/templates/etiquette.j2"),
    ),
    (
        "supervisor_report",
        include_str!("../config/templates/supervisor_report.j2"),
    ),
    ("forward", include_str!("../config/templates/forward.j2")),
    ("relay", include_str!("../config/templates/relay.j2")),
    ("remind", include_str!("../config/templates/remind.j2")),
    (
        "passed_on",
        include_str!("../config/templates/passed_on.j2"),
    ),
    (
        "complaint",
        include_str!("../config/templates/complaint.j2"),
    ),
    (
        "complaint_ack",
        include_str!("../config/templates/complaint_ack.j2"),
    ),
    (
        "too_large",
        include_str!("../config/templates/too_large.j2"),
    ),
    (
        "limit_alert",
        include_str!("../config/templates/limit_alert.j2"),
    ),
    (
        "address_alert",
        include_str!("../config/templates/address_alert.j2"),
    ),
    (
        "stall_alert",
        include_str!("../config/templates/stall_alert.j2"),
    ),
    (
        "stall_recovered",
        include_str!("../config/templates/stall_recovered.j2"),
    ),
    (
        "timetable_end",
        include_str!("../config/templates/timetable_end.j2"),
    ),
];

/// A rendered letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// The loaded templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{file}: {message}")]
    Load { file: String, message: String },
    #[error("template {name}: {message}")]
    Render { name: String, message: String },
}

fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("line {line}: {e}"),
        None => e.to_string(),
    }
}

impl Templates {
    /// Loads `dir/NAME.j2` for each template, falling back to the defaults.
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        for (name, default) in TEMPLATES {
            let file = dir.join(format!("{name}.j2"));
            let source = match std::fs::read_to_string(&file) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (*default).to_string(),
                Err(e) => {
                    return Err(TemplateError::Load {
                        file: file.display().to_string(),
                        message: e.to_string(),
                    });
                }
            };
            env.add_template_owned(*name, source)
                .map_err(|e| TemplateError::Load {
                    file: file.display().to_string(),
                    message: describe(&e),
                })?;
        }
        Ok(Templates { env })
    }

    /// The compiled-in defaults only.
    pub fn defaults() -> Templates {
        // The defaults are checked by a unit test; a missing dir falls back to them all.
        Self::load(Path::new("/nonexistent/duty-desk/templates")).expect("default templates parse")
    }

    /// Renders a template into a subject and a body.
    pub fn render(&self, name: &str, ctx: Value) -> Result<Rendered, TemplateError> {
        let err = |e: minijinja::Error| TemplateError::Render {
            name: name.to_string(),
            message: describe(&e),
        };
        let text = self
            .env
            .get_template(name)
            .map_err(err)?
            .render(ctx)
            .map_err(err)?;
        let text = text.replace("\r\n", "\n");
        let (subject, body) = match text.strip_prefix("Subject:") {
            Some(rest) => {
                let (subject, body) = rest.split_once('\n').unwrap_or((rest, ""));
                (
                    subject.trim().to_string(),
                    body.trim_start_matches('\n').to_string(),
                )
            }
            None => {
                return Err(TemplateError::Render {
                    name: name.to_string(),
                    message: "the first line must be \"Subject: …\"".into(),
                });
            }
        };
        if subject.is_empty() {
            return Err(TemplateError::Render {
                name: name.to_string(),
                message: "the subject is empty".into(),
            });
        }
        Ok(Rendered {
            subject,
            body: tidy(&body),
        })
    }

    /// Renders every template with sample data (for `check-config`).
    pub fn check(&self) -> Result<(), TemplateError> {
        for (name, _) in TEMPLATES {
            self.render(name, sample_context())?;
        }
        Ok(())
    }
}

/// Collapses runs of blank lines left by conditionals and trims the end.
fn tidy(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut blank = 0;
    for line in body.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

/// Sample data with every documented variable set.
pub fn sample_context() -> Value {
    context! {
        school => "МБОУ УВК",
        ticket => 42,
        subject => "Не открывается дневник",
        received => "чт, 9 сентября 2021, 08:30",
        requester => context! {
            email => "ivanova@mail.ru",
            name => "Иванова Мария Петровна",
            short_name => "Иванова М.П.",
            role => "parent",
            role_ru => "родитель (законный представитель)",
            class => "5А",
        },
        missing => vec!["class"],
        missing_ru => vec!["класс (например, 5А)"],
        understood => context! { full_name => "Иванова Мария Петровна", class => (), description => "Не открывается дневник" },
        role_unknown => true,
        assignee => context! { name => "Бухер В.В.", position => "зам. директора по УВР", email => "bukher@example.org" },
        when => "в четверг, 9 сентября, в 14:00",
        fallback => false,
        addition => false,
        description => "Не открывается дневник: белый экран после входа.",
        waited => "5 ч 30 мин",
        letters => 1,
        supervisor => context! { name => "Костина Т.В.", email => "director@example.org" },
        reason => "obscene language",
        specialist => context! { name => "Бухер В.В.", email => "bukher@example.org" },
        about => context! { name => "Бухер В.В.", position => "зам. директора по УВР", email => "bukher@example.org" },
        answer => "Пароль сброшен, войдите с кодом из СМС.",
        via_desk => true,
        forwarded => "в четверг, 9 сентября, в 09:55",
        previous => "Бамбуркин С.П.",
        passed_from => "Бамбуркин С.П.",
        mailbox => "uvk-mtl@mail.ru",
        since => "2021-09-09 08:30",
        error => "authentication failed",
        size => "31.2 МБ",
        limit => "30.0 МБ",
        left_out => vec!["31.2 МБ"],
        address => "ivanova..m@mail.ru",
        verified => false,
        unverified => true,
        last_day => "31 мая 2022",
        days_left => 14,
        expired => false,
        config => "/etc/duty-desk/duty-desk.toml",
        unit => "duty-desk",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_render_with_sample_data() {
        let t = Templates::defaults();
        t.check().unwrap();
        let ask = t.render("ask", sample_context()).unwrap();
        assert_eq!(ask.subject, "Re: Не открывается дневник [Заявка #42]");
        assert!(ask.body.contains("класс (например, 5А)"));
        assert!(ask.body.contains("класс указывать не нужно"));
        assert!(!ask.body.contains("\n\n\n"));
        let fwd = t.render("forward", sample_context()).unwrap();
        assert_eq!(
            fwd.subject,
            "[Заявка #42] Иванова М.П., 5А: Не открывается дневник"
        );
    }

    #[test]
    fn admin_template_overrides_and_typos_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ack_now.j2"),
            "Subject: Принято #{{ ticket }}\n\nСпасибо!\n",
        )
        .unwrap();
        let t = Templates::load(dir.path()).unwrap();
        assert_eq!(
            t.render("ack_now", sample_context()).unwrap().subject,
            "Принято #42"
        );
        std::fs::write(dir.path().join("ack_now.j2"), "Subject: {{ tikcet }}\n\nx").unwrap();
        let e = Templates::load(dir.path()).unwrap().check().unwrap_err();
        assert!(e.to_string().contains("ack_now"), "{e}");
        std::fs::write(dir.path().join("ack_now.j2"), "Subject: {% if %}\n").unwrap();
        let e = Templates::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("ack_now.j2"), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
