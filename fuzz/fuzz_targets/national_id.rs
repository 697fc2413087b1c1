//! National ID numbers as typed into forms and the validation API.
#![no_main]

use civitas::domain::NationalId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match NationalId::parse(text) {
        Ok(id) => {
            // Every form Civitas shows a number in reads back as the same number.
            let digits = id.as_digits();
            assert_eq!(digits.len(), 12);
            assert_eq!(NationalId::parse(&digits), Ok(id));
            assert_eq!(NationalId::parse(&id.to_string()), Ok(id));
            assert!(id.masked().ends_with(&digits[8..]));
        }
        Err(e) => assert!(!e.code().is_empty() && !e.to_string().is_empty()),
    }
});
