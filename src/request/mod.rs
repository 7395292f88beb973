//! PLACEHOLDER until the request branch lands: the types of the contract only.
use serde::{Deserialize, Serialize};

pub struct Context {
    pub own_addresses: Vec<String>,
    pub staff_domains: Vec<String>,
    pub staff_addresses: Vec<String>,
    pub max_message_size: usize,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Staff,
    Parent,
    Student,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Forward,
    Ask,
    Ignore,
    Etiquette,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    FullName,
    Class,
    Description,
}
#[derive(Clone, Debug)]
pub struct Request {
    pub sender: Option<String>,
    pub sender_name: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: String,
    pub date: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub ticket_tag: Option<u64>,
    pub role: Option<Role>,
    pub full_name: Option<String>,
    pub class: Option<String>,
    pub description: Option<String>,
    pub verdict: Verdict,
    pub reason: String,
    pub missing: Vec<Field>,
}
pub fn understand(_raw: &[u8], _ctx: &Context) -> Request {
    unimplemented!("placeholder")
}
pub fn missing_fields(
    role: Option<Role>,
    full_name: Option<&str>,
    class: Option<&str>,
    description: Option<&str>,
) -> Vec<Field> {
    let blank = |s: Option<&str>| s.is_none_or(|s| s.trim().is_empty());
    let mut out = Vec::new();
    if blank(full_name) {
        out.push(Field::FullName);
    }
    if role != Some(Role::Staff) && blank(class) {
        out.push(Field::Class);
    }
    if blank(description) {
        out.push(Field::Description);
    }
    out
}
