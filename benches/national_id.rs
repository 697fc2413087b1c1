//! National ID numbers: drawing a new one (every enrollment) and checking
//! one typed by a person (Verhoeff check digit).

use std::hint::black_box;

use civitas::domain::NationalId;
use criterion::{Criterion, criterion_group, criterion_main};

fn national_id(c: &mut Criterion) {
    let mut group = c.benchmark_group("national_id");
    group.bench_function("generate", |b| b.iter(NationalId::generate));
    let typed = NationalId::generate().to_string();
    group.bench_function("parse_valid", |b| {
        b.iter(|| NationalId::parse(black_box(&typed)))
    });
    // The same number with two neighbouring digits swapped: caught by the
    // check digit, the usual typing mistake.
    let mut digits: Vec<char> = NationalId::generate().as_digits().chars().collect();
    let i = (1..10).find(|&i| digits[i] != digits[i + 1]).unwrap_or(1);
    digits.swap(i, i + 1);
    let swapped: String = digits.into_iter().collect();
    group.bench_function("parse_invalid", |b| {
        b.iter(|| NationalId::parse(black_box(&swapped)))
    });
    group.finish();
}

criterion_group!(benches, national_id);
criterion_main!(benches);
