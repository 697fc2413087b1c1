//! Lines of a population register file, read as the import reads them and
//! checked row by row against the sample regions.
#![no_main]

use std::collections::HashSet;
use std::sync::LazyLock;

use civitas::domain::citizen::iso_date;
use civitas::domain::region::{SAMPLE_REGIONS_CSV, parse_regions_csv};
use civitas::domain::{PersonName, RegionCode, dedup_key};
use civitas::registry::register::{check_row, is_register_ref};
use libfuzzer_sys::fuzz_target;

static REGIONS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    parse_regions_csv(SAMPLE_REGIONS_CSV.as_bytes())
        .expect("sample regions")
        .into_iter()
        .map(|r| r.code.to_string())
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let today = time::macros::date!(2026 - 06 - 01);
    // The import's reader: no header handling of its own, rows of any width.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut record = csv::ByteRecord::new();
    while let Ok(true) = reader.read_byte_record(&mut record) {
        let Ok(fields) = record
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<Vec<&str>, _>>()
        else {
            continue;
        };
        let Ok(row) = check_row(&fields, &REGIONS, today) else {
            continue;
        };
        // What was accepted is what the registry keeps: it checks again.
        assert!(is_register_ref(&row.register_ref));
        assert!(row.birth_date <= today);
        assert!(REGIONS.contains(&row.region));
        assert_eq!(
            iso_date::parse(&iso_date::format(row.birth_date)),
            Some(row.birth_date)
        );
        let given = PersonName::parse(&row.given_name).expect("given name parses again");
        let family = PersonName::parse(&row.family_name).expect("family name parses again");
        assert_eq!(given.as_str(), row.given_name);
        assert_eq!(family.as_str(), row.family_name);
        let region = RegionCode::parse(&row.region).expect("region parses again");
        let _ = dedup_key(&given, &family, row.birth_date, &region);
    }
});
