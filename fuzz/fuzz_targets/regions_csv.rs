//! The regions file (`code,name,parent_code`) read at start-up.
#![no_main]

use std::collections::HashSet;

use civitas::domain::region::parse_regions_csv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(regions) = parse_regions_csv(data) {
        // Parents come first, and every code appears once.
        let mut placed = HashSet::new();
        for region in &regions {
            if let Some(parent) = &region.parent {
                assert!(placed.contains(parent), "{parent} after its child");
            }
            assert!(placed.insert(region.code.clone()), "{} twice", region.code);
        }
    }
});
