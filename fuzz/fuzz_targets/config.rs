//! The whole config path on arbitrary text: TOML parsing, then validation into
//! a `Config` (line numbers of errors, windows, zones, addresses). It must
//! return an error, never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = duty_desk::config::Config::from_toml_str(s, Path::new("fuzz.toml"), Path::new("/tmp"));
    }
});
