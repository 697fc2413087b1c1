//! `civitas.toml`, parsed and resolved as `civitas serve` does.
#![no_main]

use civitas::config::{DatabaseArgs, ServeArgs, parse_config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = parse_config::<ServeArgs>(text)
        && let Ok(settings) = ServeArgs::default().resolve_with(file)
    {
        assert!(!settings.issuer.host().is_empty());
        assert!(settings.overload.max_in_flight >= 1);
    }
    let _ = parse_config::<DatabaseArgs>(text);
});
