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
    _role: Option<Role>,
    _full_name: Option<&str>,
    _class: Option<&str>,
    _description: Option<&str>,
) -> Vec<Field> {
    unimplemented!("placeholder")
}
