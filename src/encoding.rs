//! Hex for hashes kept in the database and the audit log, and text made
//! safe for a spreadsheet cell.

use std::fmt::Write;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Text for a spreadsheet cell: a leading `=`, `+`, `-` or `@` (or a tab or
/// carriage return before one) would make a spreadsheet read a name as a
/// formula, so such text gets a `'` first.
pub fn spreadsheet_cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}
