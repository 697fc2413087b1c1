//! The citizen record and the values it is made of.

use std::fmt;

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{NationalId, RegionCode};

/// Internal identifier of a citizen (never shown to apps; see pairwise subjects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CitizenId(pub Uuid);

impl CitizenId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for CitizenId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a citizen's identity stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CitizenStatus {
    Active,
    Suspended,
    Revoked,
    Deceased,
}

impl CitizenStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
            Self::Deceased => "deceased",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "revoked" => Some(Self::Revoked),
            "deceased" => Some(Self::Deceased),
            _ => None,
        }
    }
}

/// How much confidence there is that the citizen is who they claim to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AssuranceLevel {
    /// Self-asserted at enrollment.
    SelfAsserted = 1,
    /// Matched to the population register or verified by a registrar.
    Verified = 2,
}

impl AssuranceLevel {
    pub fn as_i16(&self) -> i16 {
        *self as i16
    }

    pub fn from_i16(n: i16) -> Option<Self> {
        match n {
            1 => Some(Self::SelfAsserted),
            2 => Some(Self::Verified),
            _ => None,
        }
    }
}

impl serde::Serialize for AssuranceLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i16(self.as_i16())
    }
}

/// A given or family name: 1–100 characters in Unicode NFC, with no
/// control, format (zero-width, bidi), private-use or other invisible
/// characters, and no spaces but the plain one, so two names that look the
/// same are the same text.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    /// A name as a person typed it or a register file holds it.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        use unicode_normalization::UnicodeNormalization;
        let name: String = input.trim().nfc().collect();
        if name.is_empty() {
            return Err("must not be empty");
        }
        if name.chars().count() > 100 {
            return Err("must be at most 100 characters");
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        if name.chars().any(invisible) {
            return Err(
                "must not contain invisible characters (zero-width, direction marks, \
                 special spaces or fillers)",
            );
        }
        Ok(Self(name))
    }

    /// A name read back from the database, where `parse` checked it (or an
    /// earlier, looser check did: stored names are never refused).
    pub fn stored(name: &str) -> Self {
        Self(name.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that render as nothing or as plain space: Unicode's format,
/// private-use, surrogate and unassigned characters, line and paragraph
/// separators, spaces other than U+0020, and the default-ignorable code
/// points that are letters or marks (fillers, variation selectors).
fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let category = c.general_category();
    matches!(
        category,
        GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || (category == GeneralCategory::SpaceSeparator && c != ' ')
        || matches!(
            c,
            '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FFA0}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Checks a birth date: a real date, not in the future, not before 1900.
pub fn parse_birth_date(input: &str, today: Date) -> Result<Date, &'static str> {
    let date = iso_date::parse(input).ok_or("must be a date as YYYY-MM-DD")?;
    if date.year() < 1900 {
        return Err("must not be before 1900");
    }
    if date > today {
        return Err("must not be in the future");
    }
    Ok(date)
}

/// The key under which two records count as the same person for the
/// duplicate check: names compared by their confusable skeleton (Unicode
/// TS #39, after compatibility normalisation, case folding and whitespace
/// collapsing, so "Αmara" with a Greek alpha is "Amara"), plus birth date
/// and region.
pub fn dedup_key(
    given: &PersonName,
    family: &PersonName,
    birth_date: Date,
    region: &RegionCode,
) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_security::confusable_detection::skeleton;
    let norm = |name: &PersonName| {
        let folded: String = name.as_str().nfkc().collect::<String>().to_lowercase();
        let collapsed = folded.split_whitespace().collect::<Vec<_>>().join(" ");
        skeleton(&collapsed).collect::<String>()
    };
    format!("{}|{}|{}|{}", norm(given), norm(family), birth_date, region)
}

/// Which `dedup_key` a stored key was made with (see `registry::rekey`).
pub const DEDUP_KEY_VERSION: i16 = 2;

/// What is known about a person before a national ID number is issued.
#[derive(Debug, Clone)]
pub struct NewCitizen {
    pub given_name: PersonName,
    pub family_name: PersonName,
    pub birth_date: Date,
    pub region: RegionCode,
    pub assurance_level: AssuranceLevel,
}

/// A citizen of the registry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Citizen {
    pub id: CitizenId,
    pub national_id: NationalId,
    pub status: CitizenStatus,
    pub assurance_level: AssuranceLevel,
    pub given_name: PersonName,
    pub family_name: PersonName,
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    pub region: RegionCode,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Serialises dates as `YYYY-MM-DD`.
pub mod iso_date {
    use time::Date;

    pub fn serialize<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// The same for an optional date (`null` when absent).
    pub mod option {
        use time::Date;

        pub fn serialize<S: serde::Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }

    /// `YYYY-MM-DD` as text (for pages and CSV).
    pub fn format(d: Date) -> String {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        d.format(&format).unwrap_or_default()
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(text.trim(), &format).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn names() {
        assert_eq!(PersonName::parse("  Amara ").unwrap().as_str(), "Amara");
        assert!(PersonName::parse("").is_err());
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"a".repeat(101)).is_err());
        assert!(PersonName::parse(&"é".repeat(100)).is_ok());
        assert!(PersonName::parse("Bad\u{7}Name").is_err());
    }

    #[test]
    fn names_refuse_invisible_characters() {
        for (case, name) in [
            ("zero-width space", "Ama\u{200B}ra"),
            ("zero-width joiner", "Ama\u{200D}ra"),
            ("zero-width non-joiner", "Ama\u{200C}ra"),
            ("byte-order mark", "\u{FEFF}Amara"),
            ("right-to-left override", "Amara\u{202E}"),
            ("left-to-right mark", "Amara\u{200E}"),
            ("right-to-left isolate", "\u{2067}Amara"),
            ("Arabic letter mark", "Amara\u{061C}"),
            ("soft hyphen", "Ama\u{00AD}ra"),
            ("word joiner", "Ama\u{2060}ra"),
            ("no-break space", "Amara\u{00A0}Okafor"),
            ("ideographic space", "Amara\u{3000}Okafor"),
            ("line separator", "Amara\u{2028}Okafor"),
            ("Hangul filler", "\u{3164}"),
            ("variation selector", "Amara\u{FE0F}"),
            ("private use", "Amara\u{E000}"),
            ("tag character", "Amara\u{E0041}"),
            ("tab", "Amara\tOkafor"),
        ] {
            assert!(PersonName::parse(name).is_err(), "case {case}");
        }
        for name in [
            "Zoë",
            "Nguyễn",
            "محمد",
            "अमर",
            "李小龙",
            "O'Brien",
            "Jean-Luc",
            "Mary Ann",
        ] {
            assert!(PersonName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn names_are_stored_in_nfc() {
        let decomposed = "Zoe\u{0308}";
        assert_eq!(PersonName::parse(decomposed).unwrap().as_str(), "Zo\u{eb}");
    }

    #[test]
    fn dedup_key_ignores_case_spacing_compatibility_forms_and_confusables() {
        let region = RegionCode::parse("CAP").unwrap();
        let d = date!(1990 - 01 - 01);
        let a = dedup_key(
            &PersonName::parse("Amara").unwrap(),
            &PersonName::parse("Van  Der Berg").unwrap(),
            d,
            &region,
        );
        let b = dedup_key(
            &PersonName::parse("AMARA").unwrap(),
            &PersonName::parse("van der berg").unwrap(),
            d,
            &region,
        );
        let c = dedup_key(
            &PersonName::parse("Ａｍａｒａ").unwrap(),
            &PersonName::parse("van der berg").unwrap(),
            d,
            &region,
        );
        let greek_alpha = dedup_key(
            &PersonName::parse("\u{0391}mara").unwrap(),
            &PersonName::parse("van der berg").unwrap(),
            d,
            &region,
        );
        let cyrillic_a = dedup_key(
            &PersonName::parse("Am\u{0430}r\u{0430}").unwrap(),
            &PersonName::parse("van der berg").unwrap(),
            d,
            &region,
        );
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, greek_alpha, "a Greek capital alpha looks like A");
        assert_eq!(a, cyrillic_a, "a Cyrillic a looks like a");
        let other = dedup_key(
            &PersonName::parse("Amara").unwrap(),
            &PersonName::parse("Berg").unwrap(),
            d,
            &region,
        );
        assert_ne!(a, other);
    }

    #[test]
    fn birth_dates() {
        let today = date!(2026 - 11 - 28);
        assert_eq!(
            parse_birth_date("1990-02-28", today),
            Ok(date!(1990 - 02 - 28))
        );
        assert!(parse_birth_date("1990-02-30", today).is_err());
        assert!(parse_birth_date("1899-12-31", today).is_err());
        assert!(parse_birth_date("2026-11-29", today).is_err());
        assert!(parse_birth_date("28/11/1990", today).is_err());
    }
}
