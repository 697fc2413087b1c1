//! Administrative regions (provinces, districts, ...), loaded from a CSV file.

use std::fmt;

/// A region code: 1–16 characters of `A–Z`, `0–9` and `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RegionCode(String);

impl RegionCode {
    /// Parses a region code; letters are upper-cased.
    pub fn parse(input: &str) -> Result<Self, String> {
        let code = input.trim().to_ascii_uppercase();
        if code.is_empty() || code.len() > 16 {
            return Err("a region code has 1 to 16 characters".into());
        }
        if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!(
                "region code {code:?} may contain only letters, digits and hyphens"
            ));
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({})", self.0)
    }
}

/// A region and its parent (none for a top-level region).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub parent: Option<RegionCode>,
}

/// Parses a regions CSV (`code,name,parent_code`) and orders the rows so that
/// every parent comes before its children. Errors name the line.
pub fn parse_regions_csv(data: &[u8]) -> Result<Vec<Region>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let headers = reader
        .headers()
        .map_err(|e| format!("cannot read the header line: {e}"))?;
    if headers.iter().collect::<Vec<_>>() != ["code", "name", "parent_code"] {
        return Err("line 1: the header must be exactly code,name,parent_code".into());
    }
    let mut regions = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        if record.len() != 3 {
            return Err(format!(
                "line {line}: expected 3 fields, found {}",
                record.len()
            ));
        }
        let code = RegionCode::parse(&record[0]).map_err(|e| format!("line {line}: {e}"))?;
        let name = record[1].to_string();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(format!(
                "line {line}: a region name has 1 to 100 printable characters"
            ));
        }
        let parent = match &record[2] {
            "" => None,
            p => Some(RegionCode::parse(p).map_err(|e| format!("line {line}: {e}"))?),
        };
        if !seen.insert(code.clone()) {
            return Err(format!("line {line}: region {code} appears twice"));
        }
        regions.push((line, Region { code, name, parent }));
    }
    order_parents_first(regions)
}

/// Topological order: parents before children; unknown parents and cycles
/// are errors.
fn order_parents_first(mut pending: Vec<(usize, Region)>) -> Result<Vec<Region>, String> {
    let codes: std::collections::HashSet<RegionCode> =
        pending.iter().map(|(_, r)| r.code.clone()).collect();
    if let Some((line, r)) = pending
        .iter()
        .find(|(_, r)| r.parent.as_ref().is_some_and(|p| !codes.contains(p)))
    {
        return Err(format!(
            "line {line}: parent region {} of {} is not in the file",
            r.parent
                .as_ref()
                .map(RegionCode::as_str)
                .unwrap_or_default(),
            r.code
        ));
    }
    let mut placed = std::collections::HashSet::new();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|(_, r)| {
            let ready = r.parent.as_ref().is_none_or(|p| placed.contains(p));
            if ready {
                placed.insert(r.code.clone());
                ordered.push(r.clone());
            }
            !ready
        });
        if pending.len() == before {
            let (line, r) = &pending[0];
            return Err(format!(
                "line {line}: region {} is part of a parent cycle",
                r.code
            ));
        }
    }
    Ok(ordered)
}

/// The regions file shipped with Civitas, loaded into an empty database.
pub const SAMPLE_REGIONS_CSV: &str = include_str!("../../data/regions.csv");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_file_parses() {
        let regions = parse_regions_csv(SAMPLE_REGIONS_CSV.as_bytes()).unwrap();
        assert!(regions.len() >= 10);
    }

    #[test]
    fn children_may_come_before_parents() {
        let csv = "code,name,parent_code\nN-1,North One,N\nN,North,\n";
        let regions = parse_regions_csv(csv.as_bytes()).unwrap();
        assert_eq!(regions[0].code.as_str(), "N");
        assert_eq!(regions[1].parent.as_ref().unwrap().as_str(), "N");
    }

    #[test]
    fn bad_files_name_the_line() {
        let cases = [
            ("code,name\nN,North\n", "line 1"),
            (
                "code,name,parent_code\nN,North,\nN,Again,\n",
                "line 3: region N appears twice",
            ),
            (
                "code,name,parent_code\nN,North,X\n",
                "line 2: parent region X",
            ),
            ("code,name,parent_code\nA,A,B\nB,B,A\n", "cycle"),
            ("code,name,parent_code\nN N,North,\n", "line 2"),
            ("code,name,parent_code\nN,,\n", "line 2: a region name"),
        ];
        for (csv, expected) in cases {
            let err = parse_regions_csv(csv.as_bytes()).unwrap_err();
            assert!(err.contains(expected), "{csv:?}: {err}");
        }
    }
}
