//! Activation codes as typed from a letter.
#![no_main]

use civitas::registry::activation::ActivationCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = ActivationCode::parse(text) {
        // The printed form reads back as the same code, in any case.
        let shown = code.to_string();
        assert_eq!(shown.len(), 16);
        assert_eq!(ActivationCode::parse(&shown).as_ref(), Ok(&code));
        assert_eq!(
            ActivationCode::parse(&shown.to_lowercase()).as_ref(),
            Ok(&code)
        );
        assert_eq!(code.data().len(), 12);
    }
});
