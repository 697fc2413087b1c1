//! National ID numbers: 12 digits, first digit 2–9, last digit a Verhoeff
//! check digit over the first eleven. Drawn at random, never sequential and
//! never derived from personal data.

use std::fmt;
use std::str::FromStr;

use rand::RngExt;

/// Verhoeff multiplication table (the dihedral group D5).
const D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Verhoeff permutation table: row `i` is the permutation
/// `(0 1 5 8 9 4 2 7)(3 6)` applied `i` times.
const P: [[u8; 10]; 8] = permutation_powers([1, 5, 7, 6, 2, 8, 3, 0, 9, 4]);

const fn permutation_powers(sigma: [u8; 10]) -> [[u8; 10]; 8] {
    let mut table = [[0u8; 10]; 8];
    let mut d = 0;
    while d < 10 {
        table[0][d] = d as u8;
        d += 1;
    }
    let mut i = 1;
    while i < 8 {
        let mut d = 0;
        while d < 10 {
            table[i][d] = sigma[table[i - 1][d] as usize];
            d += 1;
        }
        i += 1;
    }
    table
}

/// Verhoeff inverse table.
const INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// The Verhoeff check digit to append to `digits`.
fn verhoeff_check_digit(digits: &[u8]) -> u8 {
    let c = digits.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        D[c as usize][P[(i + 1) % 8][d as usize] as usize]
    });
    INV[c as usize]
}

/// True when `digits` (check digit included) pass the Verhoeff check.
fn verhoeff_valid(digits: &[u8]) -> bool {
    digits.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        D[c as usize][P[i % 8][d as usize] as usize]
    }) == 0
}

/// Why a string is not a national ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    #[error("a national ID number has 12 digits; this one has {0}")]
    WrongLength(usize),
    #[error("a national ID number contains only digits, spaces or hyphens")]
    NotDigits,
    #[error("a national ID number never starts with 0 or 1")]
    BadFirstDigit,
    #[error("the check digit does not match: a digit may be mistyped or two digits swapped")]
    BadChecksum,
}

impl NationalIdError {
    /// A stable machine-readable code for API responses.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongLength(_) => "national_id_wrong_length",
            Self::NotDigits => "national_id_not_digits",
            Self::BadFirstDigit => "national_id_bad_first_digit",
            Self::BadChecksum => "national_id_bad_checksum",
        }
    }
}

/// A valid national ID number (12 digits, Verhoeff-checked).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NationalId([u8; 12]);

impl NationalId {
    /// Draws a new number uniformly at random from the valid space
    /// (8 × 10^10 numbers). Uniqueness is the store's job.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut digits = [0u8; 12];
        digits[0] = rng.random_range(2..=9);
        for d in &mut digits[1..11] {
            *d = rng.random_range(0..=9);
        }
        digits[11] = verhoeff_check_digit(&digits[..11]);
        Self(digits)
    }

    /// Parses user input: spaces and hyphens are ignored.
    pub fn parse(input: &str) -> Result<Self, NationalIdError> {
        let mut digits = [0u8; 12];
        let mut n = 0usize;
        for ch in input.trim().chars() {
            match ch {
                ' ' | '-' => continue,
                '0'..='9' => {
                    if n < 12 {
                        digits[n] = ch as u8 - b'0';
                    }
                    n += 1;
                }
                _ => return Err(NationalIdError::NotDigits),
            }
        }
        if n != 12 {
            return Err(NationalIdError::WrongLength(n));
        }
        if digits[0] < 2 {
            return Err(NationalIdError::BadFirstDigit);
        }
        if !verhoeff_valid(&digits) {
            return Err(NationalIdError::BadChecksum);
        }
        Ok(Self(digits))
    }

    /// The 12 digits without separators, as stored.
    pub fn as_digits(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// Display form with only the last four digits: `XXXX XXXX 1234`.
    pub fn masked(&self) -> String {
        let last: String = self.0[8..].iter().map(|d| char::from(b'0' + d)).collect();
        format!("XXXX XXXX {last}")
    }
}

/// Displays as `XXXX XXXX XXXX` (three groups of four digits).
impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                f.write_str(" ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId({self})")
    }
}

impl FromStr for NationalId {
    type Err = NationalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for NationalId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_digits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_verhoeff_vectors() {
        // Classic example: 236 has check digit 3.
        assert_eq!(verhoeff_check_digit(&[2, 3, 6]), 3);
        assert!(verhoeff_valid(&[2, 3, 6, 3]));
        // 12345 has check digit 1.
        assert_eq!(verhoeff_check_digit(&[1, 2, 3, 4, 5]), 1);
        assert!(!verhoeff_valid(&[1, 2, 3, 4, 5, 2]));
        // Published permutation rows (powers of the base permutation).
        assert_eq!(P[4], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0]);
        assert_eq!(P[7], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]);
    }

    #[test]
    fn every_adjacent_transposition_is_caught_exhaustively() {
        // For every position pair and every pair of different digits, in a
        // context of zeros with the check digit recomputed.
        for pos in 0..11 {
            for a in 0..10u8 {
                for b in 0..10u8 {
                    if a == b {
                        continue;
                    }
                    let mut d = [0u8; 12];
                    d[0] = 2;
                    d[pos] = a;
                    d[pos + 1] = b;
                    if pos + 1 < 11 {
                        d[11] = verhoeff_check_digit(&d[..11]);
                    } else if !verhoeff_valid(&d) {
                        continue;
                    }
                    let mut swapped = d;
                    swapped.swap(pos, pos + 1);
                    assert!(!verhoeff_valid(&swapped), "{d:?} swap at {pos}");
                }
            }
        }
    }

    #[test]
    fn parse_accepts_separators_and_displays_in_groups() {
        let id = NationalId::generate();
        let digits = id.as_digits();
        let spaced = id.to_string();
        assert_eq!(spaced.len(), 14);
        assert_eq!(spaced.replace(' ', ""), digits);
        let hyphened = format!("{}-{}-{}", &digits[..4], &digits[4..8], &digits[8..]);
        assert_eq!(NationalId::parse(&spaced), Ok(id));
        assert_eq!(NationalId::parse(&hyphened), Ok(id));
        assert_eq!(NationalId::parse(&format!("  {digits} ")), Ok(id));
        assert!(id.masked().starts_with("XXXX XXXX "));
        assert!(id.masked().ends_with(&digits[8..]));
    }

    #[test]
    fn parse_rejects_with_distinct_errors() {
        let cases = [
            ("", NationalIdError::WrongLength(0)),
            ("2345 6789 012", NationalIdError::WrongLength(11)),
            ("2345 6789 01234", NationalIdError::WrongLength(13)),
            ("2345 6789 012a", NationalIdError::NotDigits),
            ("2345.6789.0123", NationalIdError::NotDigits),
            ("٢٣٤٥٦٧٨٩٠١٢٣", NationalIdError::NotDigits),
            ("1234 5678 9012", NationalIdError::BadFirstDigit),
            ("0234 5678 9012", NationalIdError::BadFirstDigit),
        ];
        for (input, expected) in cases {
            assert_eq!(NationalId::parse(input), Err(expected), "input {input:?}");
        }
        let id = NationalId::generate().as_digits();
        let wrong = (id.as_bytes()[11] - b'0' + 1) % 10;
        let bad = format!("{}{}", &id[..11], wrong);
        assert_eq!(NationalId::parse(&bad), Err(NationalIdError::BadChecksum));
        let codes: std::collections::HashSet<_> = [
            NationalIdError::WrongLength(1),
            NationalIdError::NotDigits,
            NationalIdError::BadFirstDigit,
            NationalIdError::BadChecksum,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes.len(), 4);
    }

    #[test]
    fn generated_numbers_are_not_sequential() {
        let a = NationalId::generate();
        let b = NationalId::generate();
        let c = NationalId::generate();
        // Three draws from 8e10 numbers colliding would mean a broken RNG.
        assert!(a != b && b != c && a != c);
    }

    fn valid_id() -> impl Strategy<Value = [u8; 12]> {
        (2u8..=9, proptest::array::uniform10(0u8..=9)).prop_map(|(first, rest)| {
            let mut d = [0u8; 12];
            d[0] = first;
            d[1..11].copy_from_slice(&rest);
            d[11] = verhoeff_check_digit(&d[..11]);
            d
        })
    }

    fn to_string(d: &[u8; 12]) -> String {
        d.iter().map(|x| char::from(b'0' + x)).collect()
    }

    proptest! {
        #[test]
        fn every_generated_number_validates(_seed in 0u32..1000) {
            let id = NationalId::generate();
            prop_assert_eq!(NationalId::parse(&id.as_digits()), Ok(id));
            prop_assert_eq!(NationalId::parse(&id.to_string()), Ok(id));
            prop_assert!((b'2'..=b'9').contains(&id.as_digits().as_bytes()[0]));
        }

        #[test]
        fn every_single_digit_substitution_is_rejected(
            d in valid_id(), pos in 0usize..12, delta in 1u8..10
        ) {
            let mut changed = d;
            changed[pos] = (d[pos] + delta) % 10;
            prop_assert!(NationalId::parse(&to_string(&d)).is_ok());
            prop_assert!(NationalId::parse(&to_string(&changed)).is_err());
        }

        #[test]
        fn every_adjacent_transposition_is_rejected(d in valid_id(), pos in 0usize..11) {
            prop_assume!(d[pos] != d[pos + 1]);
            let mut swapped = d;
            swapped.swap(pos, pos + 1);
            prop_assert!(NationalId::parse(&to_string(&swapped)).is_err());
        }
    }
}
