//! The criterion suite: each program of DESIGN section 8, at a smaller size, in Stoffel, Rhai
//! and plain Rust, one criterion group per program so the three print side by side. Every
//! version's result is checked once before it is timed. (The Lua comparison is the peer table,
//! `cargo run --release -p stoffel-bench`.)
//!
//! `cargo bench -p stoffel-bench --bench programs [-- fib]`

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use stoffel::Value;
use stoffel_bench::{rhai_engine, rhai_startup, startup_program, stoffel_startup, stoffel_vm, Case, CASES};

/// Short measurements: the whole suite runs in a few minutes on a 2-core machine.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    group
}

fn program(c: &mut Criterion, case: &Case) {
    let n = case.quick;
    let expected = case.expected(n);

    let vm = stoffel_vm(case.name);
    let args = [Value::Int(n)];
    assert_eq!(
        vm.call(case.entry, &args).expect("stoffel runs"),
        Value::Int(expected),
        "stoffel {}",
        case.name
    );

    let engine = rhai_engine();
    let ast = engine.compile(case.rhai_script(n)).expect("rhai script compiles");
    assert_eq!(engine.eval_ast::<i64>(&ast).expect("rhai runs"), expected, "rhai {}", case.name);

    assert_eq!((case.rust)(n), expected, "rust {}", case.name);

    let mut group = group(c, case.name);
    group.bench_function("stoffel", |b| b.iter(|| vm.call(case.entry, &args).expect("stoffel runs")));
    group.bench_function("rhai", |b| b.iter(|| engine.eval_ast::<i64>(&ast).expect("rhai runs")));
    group.bench_function("rust", |b| b.iter(|| (case.rust)(std::hint::black_box(n))));
    group.finish();
}

fn programs(c: &mut Criterion) {
    for case in CASES {
        program(c, case);
    }
}

/// New VM (or engine) + load one function + call it + drop, once per iteration. Plain Rust has
/// nothing to start, so this group has no `rust` function.
fn startup(c: &mut Criterion) {
    let program = startup_program();
    assert_eq!(stoffel_startup(&program, 41), Value::Int(42));
    assert_eq!(rhai_startup(41), 42);

    let mut group = group(c, "startup");
    group.bench_function("stoffel", |b| b.iter(|| stoffel_startup(&program, std::hint::black_box(41))));
    group.bench_function("rhai", |b| b.iter(|| rhai_startup(std::hint::black_box(41))));
    group.finish();
}

criterion_group!(benches, programs, startup);
criterion_main!(benches);
