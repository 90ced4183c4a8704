//! The peer benchmark: the programs of DESIGN section 8 in Stoffel, Lua 5.4 (the `lua5.4`
//! binary, whole process), Rhai (in process) and plain Rust, in one run, as one table of
//! medians with Stoffel's ratio to Lua. Every run checks its result.
//!
//! `cargo run --release -p stoffel-bench [-- --runs N] [--only fib,loop] [--no-rhai]`
//! (`.ci/bench` installs `lua5.4` first).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use stoffel::{Value, VirtualMachine};

/// One benchmark: its name, what Stoffel calls, the argument, the expected result.
struct Case {
    name: &'static str,
    entry: &'static str,
    argument: i64,
    expected: i64,
    rhai: &'static str,
    rust: fn(i64) -> i64,
}

const CASES: &[Case] = &[
    Case {
        name: "fib",
        entry: "fib",
        argument: 30,
        expected: 832_040,
        rhai: "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } } fib(30)",
        rust: rust_fib,
    },
    Case {
        name: "loop",
        entry: "sum_loop",
        argument: 100_000_000,
        expected: 4_999_999_950_000_000,
        rhai: "let sum = 0; for i in 0..100000000 { sum += i; } sum",
        rust: rust_loop,
    },
    Case {
        name: "closure",
        entry: "closure_loop",
        argument: 1_000_000,
        expected: 1_000_000,
        rhai: "let count = 0; let counter = || { count += 1; count }; let r = 0; \
               for i in 0..1000000 { r = counter.call(); } r",
        rust: rust_closure,
    },
    Case {
        name: "array",
        entry: "array_sum",
        argument: 1_000_000,
        expected: 499_999_500_000,
        rhai: "let a = []; for i in 0..1000000 { a.push(i); } let s = 0; \
               for i in 0..a.len() { s += a[i]; } s",
        rust: rust_array,
    },
    Case {
        name: "foreign",
        entry: "foreign_loop",
        argument: 10_000_000,
        expected: 49_999_995_000_000,
        rhai: "let t = 0; for i in 0..10000000 { t = add(t, i); } t",
        rust: rust_foreign,
    },
];

fn rust_fib(n: i64) -> i64 {
    if n < 2 {
        n
    } else {
        rust_fib(black_box(n - 1)) + rust_fib(black_box(n - 2))
    }
}

fn rust_loop(n: i64) -> i64 {
    (0..n).fold(0, |sum, i| black_box(sum + i))
}

fn rust_closure(n: i64) -> i64 {
    let mut count = 0;
    let mut counter = || {
        count += 1;
        count
    };
    let mut last = 0;
    for _ in 0..n {
        last = black_box(counter());
    }
    last
}

fn rust_array(n: i64) -> i64 {
    let mut values = Vec::new();
    for i in 0..n {
        values.push(black_box(i));
    }
    (0..values.len()).map(|i| values[black_box(i)]).sum()
}

#[inline(never)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn rust_foreign(n: i64) -> i64 {
    (0..n).fold(0, |total, i| black_box(add(total, i)))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A VM with the benchmark programs and the host's `add` loaded.
fn stoffel_vm(name: &str) -> VirtualMachine {
    let path = root().join("benches/programs").join(format!("{name}.stf"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let program = stoffel::asm::assemble(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let vm = VirtualMachine::new();
    vm.load(program).expect("benchmark program loads");
    vm.register_fn("add", |a: i64, b: i64| a + b);
    vm
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time_runs(runs: usize, mut run: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed()
            })
            .collect(),
    )
}

fn stoffel_time(case: &Case, runs: usize) -> Duration {
    let vm = stoffel_vm(case.name);
    time_runs(runs, || {
        let result = vm.call(case.entry, &[Value::Int(case.argument)]).expect("runs");
        assert_eq!(result, Value::Int(case.expected), "stoffel {}", case.name);
    })
}

fn lua_time(case: &Case, runs: usize) -> Option<Duration> {
    let script = root().join("benches/lua").join(format!("{}.lua", case.name));
    Command::new("lua5.4").arg("-v").output().ok()?;
    Some(time_runs(runs, || {
        let output = Command::new("lua5.4").arg(&script).output().expect("lua5.4 runs");
        assert!(output.status.success(), "lua {}: {}", case.name, String::from_utf8_lossy(&output.stderr));
    }))
}

fn rhai_time(case: &Case, runs: usize) -> Duration {
    let mut engine = rhai::Engine::new();
    engine.set_max_call_levels(100);
    engine.register_fn("add", |a: i64, b: i64| a + b);
    let ast = engine.compile(case.rhai).expect("rhai script compiles");
    time_runs(runs, || {
        let result: i64 = engine.eval_ast(&ast).expect("rhai runs");
        assert_eq!(result, case.expected, "rhai {}", case.name);
    })
}

fn rust_time(case: &Case, runs: usize) -> Duration {
    time_runs(runs, || assert_eq!((case.rust)(black_box(case.argument)), case.expected))
}

/// Per-VM cost of: new VM, load one function, call it, drop the VM (10,000 times).
fn startup_stoffel() -> Duration {
    const VMS: u32 = 10_000;
    let program = stoffel::asm::assemble("fn inc(x) { LDI r1, 1\n ADD r0, r0, r1\n RET r0 }").unwrap();
    let start = Instant::now();
    for i in 0..VMS {
        let vm = VirtualMachine::new();
        vm.load(program.clone()).unwrap();
        assert_eq!(vm.call("inc", &[Value::Int(i.into())]).unwrap(), Value::Int(i64::from(i) + 1));
    }
    start.elapsed() / VMS
}

fn startup_rhai() -> Duration {
    const ENGINES: u32 = 10_000;
    let start = Instant::now();
    for i in 0..ENGINES {
        let engine = rhai::Engine::new();
        let ast = engine.compile("fn inc(x) { x + 1 }").unwrap();
        let result: i64 = engine.call_fn(&mut rhai::Scope::new(), &ast, "inc", (i64::from(i),)).unwrap();
        assert_eq!(result, i64::from(i) + 1);
    }
    start.elapsed() / ENGINES
}

/// Peak resident memory of a child process running one case, in KiB.
fn peak_memory_kib(program: &str, args: &[&str]) -> Option<u64> {
    let output = Command::new("/usr/bin/time").arg("-f").arg("%M").arg(program).args(args).output().ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr.lines().last()?.trim().parse().ok()
}

fn seconds(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child mode for the memory measurement: run one case once and exit.
    if let [_, flag, name] = args.as_slice() {
        if flag == "--child" {
            let case = CASES.iter().find(|case| case.name == name).expect("known case");
            stoffel_time(case, 1);
            return;
        }
    }
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let only: Option<Vec<&str>> =
        args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).map(|v| v.split(',').collect());
    let with_rhai = !args.iter().any(|a| a == "--no-rhai");

    println!(
        "Medians of {runs} runs (Rhai: fewer on the slow cases). Lua: whole process; others: in process."
    );
    println!();
    println!("| benchmark | Stoffel | Lua 5.4 | Rhai | Rust | Stoffel / Lua |");
    println!("|---|---|---|---|---|---|");
    for case in CASES.iter().filter(|case| only.as_ref().is_none_or(|only| only.contains(&case.name))) {
        let stoffel = stoffel_time(case, runs);
        let lua = lua_time(case, runs);
        let rhai = with_rhai.then(|| rhai_time(case, if case.name == "loop" { 1 } else { runs.min(3) }));
        let rust = rust_time(case, runs);
        let ratio =
            lua.map_or("n/a".to_string(), |lua| format!("{:.2}×", stoffel.as_secs_f64() / lua.as_secs_f64()));
        println!(
            "| {} | {} | {} | {} | {} | {ratio} |",
            case.name,
            seconds(stoffel),
            lua.map_or("n/a".into(), seconds),
            rhai.map_or("skipped".into(), seconds),
            seconds(rust),
        );
    }
    if only.as_ref().is_none_or(|only| only.contains(&"startup")) {
        let stoffel = startup_stoffel();
        let rhai = with_rhai.then(startup_rhai);
        println!(
            "| startup (per VM) | {:.1} µs | n/a | {} | n/a | target < 20 µs |",
            stoffel.as_secs_f64() * 1e6,
            rhai.map_or("skipped".into(), |d| format!("{:.1} µs", d.as_secs_f64() * 1e6)),
        );
    }
    if only.as_ref().is_none_or(|only| only.contains(&"array")) {
        let me = std::env::current_exe().expect("own path");
        let stoffel = peak_memory_kib(me.to_str().unwrap_or_default(), &["--child", "array"]);
        let script = root().join("benches/lua/array.lua");
        let lua = peak_memory_kib("lua5.4", &[script.to_str().unwrap_or_default()]);
        let show = |kib: Option<u64>| kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        println!("| array peak memory | {} | {} | | | |", show(stoffel), show(lua));
    }
}
