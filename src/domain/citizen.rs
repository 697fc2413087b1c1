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

/// A given or family name: 1–100 characters, no control characters.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = input.trim();
        if name.is_empty() {
            return Err("must not be empty");
        }
        if name.chars().count() > 100 {
            return Err("must be at most 100 characters");
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
/// duplicate check: names compared after Unicode compatibility
/// normalisation, case folding and whitespace collapsing, plus birth date and
/// region.
pub fn dedup_key(
    given: &PersonName,
    family: &PersonName,
    birth_date: Date,
    region: &RegionCode,
) -> String {
    use unicode_normalization::UnicodeNormalization;
    let norm = |name: &PersonName| {
        let folded: String = name.as_str().nfkc().collect::<String>().to_lowercase();
        folded.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    format!("{}|{}|{}|{}", norm(given), norm(family), birth_date, region)
}

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
    fn dedup_key_ignores_case_spacing_and_compatibility_forms() {
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
        assert_eq!(a, b);
        assert_eq!(a, c);
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
