//! Activation codes: one-time codes printed on letters to every resident in
//! the population register. Twelve Crockford base32 symbols carry 60 random
//! bits; a thirteenth, Crockford's mod-37 check symbol, catches any single
//! mistyped symbol and any swap of two adjacent ones before the database is
//! asked. Shown as `XXXX-XXXX-XXXX-C`; read case-insensitively, with or
//! without hyphens and spaces, O as 0 and I or L as 1.

use std::fmt;

const SYMBOLS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHECK_SYMBOLS: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";
const DATA_LEN: usize = 12;

/// A well-formed activation code (its 12 data symbols, upper case).
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(String);

/// Why an entered code is refused before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "an activation code has 12 characters and a check character, like 7K2M-9QXD-4T8B-X \
         (hyphens are optional)"
    )]
    Length,
    #[error("the character {0:?} does not occur in activation codes")]
    Symbol(char),
    #[error(
        "the code has a typing mistake (its check character does not match): compare each \
         character with your letter"
    )]
    Check,
}

fn value_of(symbol: u8) -> Option<u64> {
    let s = match symbol.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    SYMBOLS.iter().position(|&c| c == s).map(|p| p as u64)
}

fn check_symbol(value: u64) -> u8 {
    CHECK_SYMBOLS[(value % 37) as usize]
}

impl ActivationCode {
    /// A new random code.
    pub fn generate() -> Self {
        let value = rand::random::<u64>() >> 4;
        let mut data = String::with_capacity(DATA_LEN);
        for i in (0..DATA_LEN).rev() {
            data.push(SYMBOLS[((value >> (5 * i)) & 31) as usize] as char);
        }
        Self(data)
    }

    /// Reads a code as a person typed it.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let symbols: Vec<char> = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if symbols.len() != DATA_LEN + 1 {
            return Err(CodeError::Length);
        }
        let mut value = 0u64;
        let mut data = String::with_capacity(DATA_LEN);
        for &c in &symbols[..DATA_LEN] {
            let v = u8::try_from(c)
                .ok()
                .and_then(value_of)
                .ok_or(CodeError::Symbol(c))?;
            value = (value << 5) | v;
            data.push(SYMBOLS[v as usize] as char);
        }
        let check = symbols[DATA_LEN];
        let expected = check_symbol(value);
        let given = u8::try_from(check)
            .ok()
            .map(|b| match b.to_ascii_uppercase() {
                b'O' => b'0',
                b'I' | b'L' => b'1',
                other => other,
            })
            .filter(|b| CHECK_SYMBOLS.contains(b))
            .ok_or(CodeError::Symbol(check))?;
        if given != expected {
            return Err(CodeError::Check);
        }
        Ok(Self(data))
    }

    /// The 12 data symbols, the input of the keyed hash.
    pub fn data(&self) -> &str {
        &self.0
    }

    fn value(&self) -> u64 {
        self.0
            .bytes()
            .filter_map(value_of)
            .fold(0, |acc, v| (acc << 5) | v)
    }
}

impl fmt::Display for ActivationCode {
    /// `XXXX-XXXX-XXXX-C`, as printed on letters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(
            f,
            "{}-{}-{}-{}",
            &d[0..4],
            &d[4..8],
            &d[8..12],
            check_symbol(self.value()) as char
        )
    }
}

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_round_trip_and_differ() {
        let a = ActivationCode::generate();
        let b = ActivationCode::generate();
        assert_ne!(a.data(), b.data());
        let shown = a.to_string();
        assert_eq!(shown.len(), 16);
        assert_eq!(ActivationCode::parse(&shown).as_ref(), Ok(&a));
        assert_eq!(
            ActivationCode::parse(&shown.to_lowercase().replace('-', " ")).as_ref(),
            Ok(&a)
        );
    }

    #[test]
    fn confusable_letters_read_as_digits() {
        let code = ActivationCode(String::from("0123456789AB"));
        let shown = code.to_string();
        let typed = shown.replacen('0', "o", 1).replacen('1', "l", 1);
        assert_eq!(ActivationCode::parse(&typed), Ok(code));
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_is_caught() {
        for _ in 0..50 {
            let code = ActivationCode::generate();
            let shown: Vec<u8> = code.to_string().replace('-', "").into_bytes();
            for i in 0..DATA_LEN {
                for &s in SYMBOLS.iter() {
                    if s == shown[i] {
                        continue;
                    }
                    let mut typo = shown.clone();
                    typo[i] = s;
                    let typo = String::from_utf8(typo).unwrap();
                    assert_eq!(
                        ActivationCode::parse(&typo),
                        Err(CodeError::Check),
                        "{typo}"
                    );
                }
                if i + 1 < DATA_LEN && shown[i] != shown[i + 1] {
                    let mut swapped = shown.clone();
                    swapped.swap(i, i + 1);
                    let swapped = String::from_utf8(swapped).unwrap();
                    assert_eq!(ActivationCode::parse(&swapped), Err(CodeError::Check));
                }
            }
        }
    }

    #[test]
    fn malformed_input_is_named() {
        assert_eq!(ActivationCode::parse("ABCD-EFGH"), Err(CodeError::Length));
        assert_eq!(
            ActivationCode::parse("ABCD-EFGH-JKMN-U!"),
            Err(CodeError::Length)
        );
        assert_eq!(
            ActivationCode::parse("ABCD-EFGH-JKMU-0"),
            Err(CodeError::Symbol('U'))
        );
    }

    #[test]
    fn codes_carry_sixty_random_bits() {
        let mut seen_high = false;
        for _ in 0..64 {
            let v = ActivationCode::generate().value();
            assert!(v < 1 << 60);
            seen_high |= v >= 1 << 59;
        }
        assert!(seen_high, "the top bit is never set");
    }
}
