//! The whole of `inspect`'s logic over arbitrary bytes: `understand` must
//! never panic, and its JSON line must always serialise.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = duty_desk::request::Context {
        own_addresses: vec!["eljur-support@gimn12-school.ru".into()],
        staff_domains: vec!["example.org".into()],
        staff_addresses: vec![],
        // Small enough that the too-large path is exercised too.
        max_message_size: 256 * 1024,
    };
    let req = duty_desk::request::understand(data, &ctx);
    let _ = req.inspect_json("fuzz").to_string();
    // The text heuristics on their own, fed the raw text directly.
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = duty_desk::etiquette::check(s);
    }
});
