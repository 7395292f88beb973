//! Letters, both ways: what the tests send (a person's letter with [`Compose`],
//! numbered requests, letters of every [`Kind`] for runs of many) and what they
//! read back ([`Mail`], [`Delivered`], [`header`]).

use std::collections::HashMap;

use super::{MailStack, SUPPORT};

/// Thursday 2021-09-09 08:30 Moscow: Бамбуркин and Макаренко on duty until 10:00.
pub const DUTY_NOW: &str = super::home::ON_DUTY;

/// The domain of the generated senders (a local domain of every stack).
pub const SENDER_DOMAIN: &str = "parents.test";

/// Sender number `i`: a mail user of the stack when it was started with
/// [`sender_users`] among its extra users.
pub fn sender(i: usize) -> String {
    format!("w{i:04}@{SENDER_DOMAIN}")
}

/// `n` senders, for `StackOptions::extra_users`.
pub fn sender_users(n: usize) -> Vec<String> {
    (0..n).map(sender).collect()
}

/// What a generated letter should lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Complete: a forward to the specialist on duty and an acknowledgement.
    Complete,
    /// No class: an ask to the sender.
    Incomplete,
    /// An auto-reply: nothing sent.
    Robot,
    /// Rude: an etiquette refusal and a report to the supervisor.
    Rude,
}

impl Kind {
    /// The mix used for runs of many letters: 6 complete, 2 incomplete, 1 robot,
    /// 1 rude in every 10.
    pub fn of(i: usize) -> Kind {
        match i % 10 {
            0..=5 => Kind::Complete,
            6 | 7 => Kind::Incomplete,
            8 => Kind::Robot,
            _ => Kind::Rude,
        }
    }
    /// The folder of the support mailbox the letter is filed into.
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Complete => "duty-desk/Processed",
            Kind::Incomplete => "duty-desk/Waiting",
            Kind::Robot => "duty-desk/Ignored",
            Kind::Rude => "duty-desk/Etiquette",
        }
    }
    /// The kinds of mail (the `kind` part of our Message-IDs) it causes.
    pub fn mails(self) -> &'static [&'static str] {
        match self {
            Kind::Complete => &["forward", "ack_now"],
            Kind::Incomplete => &["ask"],
            Kind::Robot => &[],
            Kind::Rude => &["etiquette", "report"],
        }
    }
}

/// The Message-ID (without brackets) of generated letter `i`.
pub fn letter_id(i: usize) -> String {
    format!("letter-{i:04}@{SENDER_DOMAIN}")
}

/// Letter number `i` of kind `kind` from [`sender`]`(i)` to the support mailbox.
pub fn batch_letter(i: usize, kind: Kind) -> Vec<u8> {
    let from = sender(i);
    let id = letter_id(i);
    let (extra, subject, body) = match kind {
        Kind::Complete => (
            "",
            format!("Не открывается дневник, вопрос {i}"),
            format!(
                "Здравствуйте!\r\n\r\nФИО: Смирнова Ольга Викторовна\r\nКласс: 5А\r\n\
                 Проблема: со вчерашнего дня не открывается дневник сына, после входа\r\n\
                 белая страница (обращение номер {i}).\r\n"
            ),
        ),
        Kind::Incomplete => (
            "",
            format!("Пароль, вопрос {i}"),
            format!(
                "Добрый день. Я Петрова Наталья Андреевна, мама ученика Петрова Ильи.\r\n\
                 Не могу восстановить пароль от родительского входа: письмо для сброса\r\n\
                 не приходит уже второй день (обращение номер {i}).\r\n"
            ),
        ),
        Kind::Robot => (
            "Auto-Submitted: auto-replied\r\n",
            format!("Автоответ: меня нет на месте {i}"),
            "Я в отпуске до понедельника.\r\n".to_string(),
        ),
        Kind::Rude => (
            "",
            format!("Опять не работает {i}"),
            "Вы там совсем охренели? Третью неделю не работает ваш долбаный журнал,\r\n\
             идиоты, сколько можно!\r\nШустов Денис Олегович, отец ученика 8А.\r\n"
                .to_string(),
        ),
    };
    format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n\
         Date: Thu, 09 Sep 2021 08:12:40 +0300\r\nMessage-ID: <{id}>\r\n{extra}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}"
    )
    .into_bytes()
}

/// A complete request (name, class, problem) from `from`, numbered `n` in its body
/// and Message-ID. Returns (Message-ID without brackets, raw).
pub fn request(from: &str, n: usize) -> (String, Vec<u8>) {
    let id = format!("svc-{n}-{:08x}@parents.test", fastrand::u32(..));
    let raw = format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: Dnevnik {n}\r\nMessage-ID: <{id}>\r\n\
         Date: Thu, 09 Sep 2021 08:12:40 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Здравствуйте!\r\n\r\nФИО: Смирнова Ольга Викторовна\r\nКласс: 5А\r\n\
         Проблема: со вчерашнего дня не открывается дневник сына, после входа\r\n\
         белая страница номер {n}. Пробовала с телефона и с компьютера.\r\n"
    );
    (id, raw.into_bytes())
}

/// A request that lacks the class (the daemon asks for it).
pub fn request_without_class(from: &str, n: usize) -> (String, Vec<u8>) {
    let id = format!("svc-nc-{n}-{:08x}@parents.test", fastrand::u32(..));
    let raw = format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: Parol {n}\r\nMessage-ID: <{id}>\r\n\
         Date: Thu, 09 Sep 2021 08:12:40 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Здравствуйте! Я мама ученика, Смирнова Ольга Викторовна.\r\n\
         Не приходит письмо для смены пароля в электронном журнале.\r\n"
    );
    (id, raw.into_bytes())
}

/// A received letter, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: Vec<u8>,
    pub subject: String,
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub reply_to: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub auto_submitted: Option<String>,
    pub body: String,
    /// Letters attached whole (message/rfc822), raw.
    pub attached: Vec<Vec<u8>>,
}

fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => vec![],
    }
}

fn addrs(a: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .map(str::to_lowercase)
            .collect()
    })
    .unwrap_or_default()
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        let m = mail_parser::MessageParser::default()
            .parse(raw)
            .unwrap_or_else(|| panic!("unparsable mail: {}", String::from_utf8_lossy(raw)));
        let attached = m
            .attachments()
            .filter_map(|p| p.message())
            .map(|inner| inner.raw_message().to_vec())
            .collect();
        Mail {
            raw: raw.to_vec(),
            subject: m.subject().unwrap_or_default().to_string(),
            message_id: m.message_id().unwrap_or_default().to_string(),
            from: addrs(m.from()).into_iter().next().unwrap_or_default(),
            to: addrs(m.to()),
            reply_to: addrs(m.reply_to()).into_iter().next(),
            in_reply_to: ids(m.in_reply_to()),
            references: ids(m.references()),
            auto_submitted: m.header_raw("Auto-Submitted").map(|s| s.trim().to_string()),
            body: m.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
            attached,
        }
    }

    pub fn all(raws: &[Vec<u8>]) -> Vec<Mail> {
        raws.iter().map(|r| Mail::parse(r)).collect()
    }

    /// Message-IDs of the attached letters.
    pub fn attached_ids(&self) -> Vec<String> {
        self.attached
            .iter()
            .map(|r| Mail::parse(r).message_id)
            .collect()
    }
}

/// A letter as a person's mail client writes it (UTF-8, 8bit, plain text).
#[derive(Debug, Clone)]
pub struct Compose {
    /// The sender's address (also the envelope sender).
    pub from: String,
    /// The sender's display name.
    pub name: Option<String>,
    pub subject: String,
    pub body: String,
    /// Without angle brackets.
    pub message_id: String,
    pub headers: Vec<(String, String)>,
    /// Written in windows-1251, as older Outlook and some phones do.
    pub cp1251: bool,
}

impl Compose {
    pub fn new(from: &str, subject: &str, body: &str) -> Compose {
        Compose {
            from: from.to_string(),
            name: None,
            subject: subject.to_string(),
            body: body.to_string(),
            message_id: format!("{:016x}@client.test", fastrand::u64(..)),
            headers: vec![],
            cp1251: false,
        }
    }

    /// Encodes subject, name and body in windows-1251 instead of UTF-8.
    pub fn windows_1251(mut self) -> Compose {
        self.cp1251 = true;
        self
    }

    pub fn name(mut self, name: &str) -> Compose {
        self.name = Some(name.to_string());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Compose {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let (charset, enc): (&str, &'static encoding_rs::Encoding) = if self.cp1251 {
            ("windows-1251", encoding_rs::WINDOWS_1251)
        } else {
            ("UTF-8", encoding_rs::UTF_8)
        };
        let word = |s: &str| format!("=?{charset}?B?{}?=", b64(&enc.encode(s).0));
        let from = match &self.name {
            Some(n) => format!("{} <{}>", word(n), self.from),
            None => self.from.clone(),
        };
        let mut s = format!(
            "From: {from}\r\nTo: {} <{SUPPORT}>\r\nSubject: {}\r\n\
             Message-ID: <{}>\r\nDate: Tue, 07 Sep 2021 08:20:00 +0300\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n",
            word("Поддержка ЭлЖур"),
            word(&self.subject),
            self.message_id
        );
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        let mut raw = s.into_bytes();
        let body = self.body.replace("\r\n", "\n").replace('\n', "\r\n") + "\r\n";
        raw.extend_from_slice(&enc.encode(&body).0);
        raw
    }
}

/// Base64 for encoded-words (no dependency for it in the tests).
pub fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One delivered mail: whose mailbox (user), the raw bytes.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub user: String,
    pub raw: Vec<u8>,
}

impl Delivered {
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.raw, name)
    }
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
            .map(|v| v.trim().trim_matches(|c| c == '<' || c == '>').to_string())
    }
    /// `(ticket, kind)` from one of our Message-IDs
    /// (`duty-desk.{ticket}.{kind}.{random}@domain`).
    pub fn ticket_kind(&self) -> Option<(i64, String)> {
        let id = self.message_id()?;
        let rest = id.strip_prefix("duty-desk.")?;
        let mut parts = rest.splitn(3, '.');
        let ticket = parts.next()?.parse().ok()?;
        let kind = parts.next()?.to_string();
        Some((ticket, kind))
    }
}

/// A top-level header's unfolded value (first occurrence), or None.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    // Dovecot stores messages with bare LF line ends; SMTP carries CRLF.
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    for line in head.split('\n') {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

/// Every mail delivered to any user of `stack` but the support mailbox, read from
/// Dovecot's Maildirs on disk (`mail/<domain>/<user>/Maildir/{cur,new}`).
pub fn delivered(stack: &MailStack) -> Vec<Delivered> {
    let mut out = Vec::new();
    let mail = stack.dir().join("mail");
    let Ok(domains) = std::fs::read_dir(&mail) else {
        return out;
    };
    for d in domains.flatten() {
        let domain = d.file_name().to_string_lossy().into_owned();
        let Ok(users) = std::fs::read_dir(d.path()) else {
            continue;
        };
        for u in users.flatten() {
            let user = format!("{}@{domain}", u.file_name().to_string_lossy());
            if user == SUPPORT {
                continue;
            }
            for sub in ["new", "cur"] {
                let Ok(files) = std::fs::read_dir(u.path().join("Maildir").join(sub)) else {
                    continue;
                };
                for f in files.flatten() {
                    if let Ok(raw) = std::fs::read(f.path()) {
                        out.push(Delivered {
                            user: user.clone(),
                            raw,
                        });
                    }
                }
            }
        }
    }
    out
}

/// The support mailbox's folders: name → Message-IDs of the letters in it.
pub async fn support_folders(stack: &MailStack) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for folder in [
        "INBOX",
        "duty-desk/Processed",
        "duty-desk/Waiting",
        "duty-desk/Ignored",
        "duty-desk/Etiquette",
        "duty-desk/Unreadable",
    ] {
        let ids = stack
            .fetch(SUPPORT, folder)
            .await
            .iter()
            .map(|raw| {
                header(raw, "Message-ID")
                    .unwrap_or_default()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_string()
            })
            .collect();
        out.insert(folder.to_string(), ids);
    }
    out
}

/// A reply as mail clients write one: `new_text` on top, `ours` quoted below an
/// attribution line, In-Reply-To and References pointing at it.
pub fn reply_to(ours: &Mail, from: &str, original_id: &str, new_text: &str) -> Compose {
    let subject = if ours.subject.starts_with("Re:") {
        ours.subject.clone()
    } else {
        format!("Re: {}", ours.subject)
    };
    let quoted: String = ours
        .body
        .lines()
        .map(|l| {
            if l.is_empty() {
                ">\n".to_string()
            } else {
                format!("> {l}\n")
            }
        })
        .collect();
    let body = format!(
        "{new_text}\n\nвт, 7 сент. 2021 г. в 08:31, Поддержка ЭлЖур <{SUPPORT}>:\n\n{quoted}"
    );
    Compose::new(from, &subject, &body)
        .header("In-Reply-To", &format!("<{}>", ours.message_id))
        .header(
            "References",
            &format!("<{original_id}> <{}>", ours.message_id),
        )
}

/// A parent's letter to the support mailbox: a greeting, `text`, and the
/// signature «`name`, мама ученика 5А класса.».
pub fn parent(from: &str, name: &str, subject: &str, text: &str) -> Compose {
    Compose::new(
        from,
        subject,
        &format!("Здравствуйте!\n{text}\n\n{name}, мама ученика 5А класса."),
    )
}

/// Asserts that `text` holds `needle`, showing the whole text when not.
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not in:\n{text}");
}
