//! TOML parsing of arbitrary text. The project's `config` module belongs
//! to another branch; until it is merged this target fuzzes the `toml`
//! parser into a generic value, which is what `Config::from_toml_str` will
//! start with. Switch it to `duty_desk::config::Config::from_toml_str`
//! once that exists.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = toml::from_str::<toml::Value>(s);
    }
});
