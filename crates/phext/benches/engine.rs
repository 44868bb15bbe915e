//! The engine against libphext 0.4.0 on a 10 MB / 100k-scroll and a 100 MB / 1M-scroll
//! document: parse, serialize, select, update, delete, textmap, checksum.
//!
//! Run with `cargo bench -p phext`; the crate README holds the measured table.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use phext::{Coordinate, Document};

/// A document of `scrolls` scrolls of 99 bytes each, one delimiter apart (100 bytes per
/// scroll): a new section every 100 scrolls and a new chapter every 10,000, so the
/// coordinates spread over three components the way real documents do.
fn make_document(scrolls: usize) -> String {
    let mut text = String::with_capacity(scrolls * 100);
    for i in 0..scrolls {
        if i > 0 {
            text.push(if i % 10_000 == 0 {
                '\x19'
            } else if i % 100 == 0 {
                '\x18'
            } else {
                '\x17'
            });
        }
        text.push_str(&format!("{:<99}", format!("scroll {i}: some text in it")));
    }
    text
}

fn to_lib(c: &Coordinate) -> libphext::phext::Coordinate {
    let k = c.components().map(|x| x as usize);
    let mut out = libphext::phext::Coordinate::new();
    (out.z.library, out.z.shelf, out.z.series) = (k[0], k[1], k[2]);
    (out.y.collection, out.y.volume, out.y.book) = (k[3], k[4], k[5]);
    (out.x.chapter, out.x.section, out.x.scroll) = (k[6], k[7], k[8]);
    out
}

fn bench_document(c: &mut Criterion, label: &str, scrolls: usize, samples: usize) {
    let text = make_document(scrolls);
    let doc = Document::parse(text.as_bytes()).expect("generated document parses");
    let (last, _) = doc.iter().next_back().expect("document has scrolls");
    let lib_last = to_lib(&last);

    let mut group = c.benchmark_group(label);
    group.sample_size(samples);
    group.warm_up_time(Duration::from_secs(1));

    group.bench_function(BenchmarkId::new("parse", "sq"), |b| {
        b.iter(|| Document::parse(black_box(text.as_bytes())))
    });
    group.bench_function(BenchmarkId::new("parse", "libphext explode"), |b| {
        b.iter(|| libphext::phext::explode(black_box(&text)))
    });

    group.bench_function(BenchmarkId::new("serialize", "sq"), |b| {
        b.iter(|| black_box(&doc).to_bytes())
    });
    let exploded: HashMap<_, _> = libphext::phext::explode(&text);
    group.bench_function(BenchmarkId::new("serialize", "libphext implode"), |b| {
        b.iter_batched(
            || exploded.clone(),
            libphext::phext::implode,
            BatchSize::PerIteration,
        )
    });

    group.bench_function(BenchmarkId::new("select", "sq"), |b| {
        b.iter(|| black_box(&doc).select(black_box(&last)).len())
    });
    group.bench_function(BenchmarkId::new("select", "libphext fetch"), |b| {
        b.iter(|| libphext::phext::fetch(black_box(&text), lib_last))
    });

    let mut edited = doc.clone();
    group.bench_function(BenchmarkId::new("update", "sq"), |b| {
        let mut flip = false;
        b.iter(|| {
            flip = !flip;
            edited.update(last, if flip { "new text" } else { "other text" })
        })
    });
    group.bench_function(BenchmarkId::new("update", "libphext replace"), |b| {
        b.iter(|| libphext::phext::replace(black_box(&text), lib_last, "new text"))
    });

    group.bench_function(BenchmarkId::new("delete", "sq"), |b| {
        // Time only the delete; put the scroll back outside the measurement.
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let removed = black_box(edited.delete(&last));
                total += start.elapsed();
                if let Some(text) = removed {
                    let _ = edited.update(last, &text);
                }
            }
            total
        })
    });
    group.bench_function(BenchmarkId::new("delete", "libphext remove"), |b| {
        b.iter(|| libphext::phext::remove(black_box(&text), lib_last))
    });

    group.bench_function(BenchmarkId::new("textmap", "sq"), |b| {
        b.iter(|| black_box(&doc).textmap())
    });
    group.bench_function(BenchmarkId::new("textmap", "libphext"), |b| {
        b.iter(|| libphext::phext::textmap(black_box(&text)))
    });

    group.bench_function(BenchmarkId::new("checksum", "sq"), |b| {
        b.iter(|| black_box(&doc).checksum())
    });
    group.bench_function(BenchmarkId::new("checksum", "libphext"), |b| {
        b.iter(|| libphext::phext::checksum(black_box(&text)))
    });
    group.finish();
}

fn ten_megabytes(c: &mut Criterion) {
    bench_document(c, "10MB-100k", 100_000, 20);
}

fn hundred_megabytes(c: &mut Criterion) {
    bench_document(c, "100MB-1M", 1_000_000, 10);
}

criterion_group!(benches, ten_megabytes, hundred_megabytes);
criterion_main!(benches);
