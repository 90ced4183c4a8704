//! The peer benchmark: the programs of DESIGN section 8 (and `object`) in Stoffel, Lua 5.4
//! (the `lua5.4` binary, whole process), Rhai (in process) and plain Rust, in one run, as one
//! table of medians with Stoffel's ratio to Lua (the median of interleaved Stoffel/Lua pairs).
//! Every run checks its result.
//!
//! `cargo run --release -p stoffel-bench [-- --runs N] [--only fib,loop] [--no-rhai]`, or
//! `.ci/bench` with the same arguments, which installs `lua5.4` (and valgrind for
//! `--instructions`) first.
//!
//! `--instructions [--only …]` prints, instead of times, the instructions per unit of work
//! (callgrind) of Stoffel and Lua: deterministic where wall time is not (code layout alone moves
//! tight loops by ±25% on this machine). `--child NAME [SIZE]` runs one case once, for a
//! profiler: `valgrind --tool=callgrind target/release/stoffel-bench --child foreign 100000`.
//! `tools/ab.py` times binaries against each other through `--child` (interleaved, median and
//! minimum); `tools/callgrind-join.sh` shows what each machine instruction costs per unit.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use stoffel::Value;
use stoffel_bench::{
    rhai_engine, rhai_startup, root, startup_program, stoffel_startup, stoffel_vm, Case, CASES,
};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// How long one call of `run` takes.
fn elapsed(run: impl FnOnce()) -> Duration {
    let start = Instant::now();
    run();
    start.elapsed()
}

fn time_runs(runs: usize, mut run: impl FnMut()) -> Duration {
    median((0..runs).map(|_| elapsed(&mut run)).collect())
}

/// One run of `case` (at `size`, or its own) on `vm`, checked.
fn stoffel_run(vm: &stoffel::VirtualMachine, case: &Case, size: i64) {
    let result = vm.call(case.entry, &[Value::Int(size)]).expect("runs");
    assert_eq!(result, Value::Int(case.expected(size)), "stoffel {}", case.name);
}

fn stoffel_time(case: &Case, runs: usize, size: Option<i64>) -> Duration {
    let vm = stoffel_vm(case.name);
    let size = size.unwrap_or(case.argument);
    time_runs(runs, || stoffel_run(&vm, case, size))
}

/// One `lua5.4` process running `case`'s twin, checked.
fn lua_run(case: &Case) {
    let script = root().join("benches/lua").join(format!("{}.lua", case.name));
    let output = Command::new("lua5.4").arg(&script).output().expect("lua5.4 runs");
    assert!(output.status.success(), "lua {}: {}", case.name, String::from_utf8_lossy(&output.stderr));
}

/// Stoffel's and Lua's medians from `runs` runs of each, taken in turn (Stoffel, Lua, Stoffel,
/// …) so a busy neighbour slows both alike, and the median of the pairs' ratios; Lua's `None`
/// without `lua5.4`. (One side's runs after the other's put a neighbour's burst on one side:
/// the same build's ratios moved by 30% between such runs.)
fn stoffel_and_lua(case: &Case, runs: usize) -> (Duration, Option<(Duration, f64)>) {
    if Command::new("lua5.4").arg("-v").output().is_err() {
        return (stoffel_time(case, runs, None), None);
    }
    let vm = stoffel_vm(case.name);
    let pairs: Vec<(Duration, Duration)> = (0..runs)
        .map(|_| {
            let ours = elapsed(|| stoffel_run(&vm, case, case.argument));
            (ours, elapsed(|| lua_run(case)))
        })
        .collect();
    let mut ratios: Vec<f64> =
        pairs.iter().map(|(ours, lua)| ours.as_secs_f64() / lua.as_secs_f64()).collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    let (ours, lua): (Vec<Duration>, Vec<Duration>) = pairs.into_iter().unzip();
    (median(ours), Some((median(lua), ratio)))
}

fn rhai_time(case: &Case, runs: usize) -> Duration {
    let engine = rhai_engine();
    let ast = engine.compile(case.rhai_script(case.argument)).expect("rhai script compiles");
    let expected = case.expected(case.argument);
    time_runs(runs, || {
        let result: i64 = engine.eval_ast(&ast).expect("rhai runs");
        assert_eq!(result, expected, "rhai {}", case.name);
    })
}

fn rust_time(case: &Case, runs: usize) -> Duration {
    let expected = case.expected(case.argument);
    time_runs(runs, || assert_eq!((case.rust)(black_box(case.argument)), expected))
}

/// Per-VM cost of: new VM, load one function, call it, drop the VM (10,000 times).
fn startup_stoffel() -> Duration {
    const VMS: u32 = 10_000;
    let program = startup_program();
    let start = Instant::now();
    for i in 0..VMS {
        assert_eq!(stoffel_startup(&program, i.into()), Value::Int(i64::from(i) + 1));
    }
    start.elapsed() / VMS
}

fn startup_rhai() -> Duration {
    const ENGINES: u32 = 10_000;
    let start = Instant::now();
    for i in 0..ENGINES {
        assert_eq!(rhai_startup(i.into()), i64::from(i) + 1);
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
    // Child mode (the memory measurement, profilers): run one case once, at its size or the
    // one given (`--child foreign 100000` under callgrind), and exit.
    if let [_, flag, name, size @ ..] = args.as_slice() {
        if flag == "--child" {
            let Some(case) = stoffel_bench::case(name) else {
                let known: Vec<&str> = CASES.iter().map(|case| case.name).collect();
                eprintln!("unknown case `{name}`; the cases: {}", known.join(", "));
                std::process::exit(2);
            };
            let size = match size.first().map(|size| size.parse()) {
                None => None,
                Some(Ok(size)) => Some(size),
                Some(Err(_)) => {
                    eprintln!("the size must be an integer, not `{}`", size[0]);
                    std::process::exit(2);
                }
            };
            stoffel_time(case, 1, size);
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
    if args.iter().any(|a| a == "--instructions") {
        instructions_table(only.as_deref());
        return;
    }

    println!(
        "Medians of {runs} runs (Rhai: fewer on the slow cases). Lua: whole process; others: in process. \
         Stoffel and Lua run in turn; the ratio is the median of the pairs' ratios."
    );
    println!();
    println!("| benchmark | Stoffel | Lua 5.4 | Rhai | Rust | Stoffel / Lua |");
    println!("|---|---|---|---|---|---|");
    for case in CASES.iter().filter(|case| only.as_ref().is_none_or(|only| only.contains(&case.name))) {
        let (stoffel, lua) = stoffel_and_lua(case, runs);
        let rhai = with_rhai.then(|| rhai_time(case, if case.name == "loop" { 1 } else { runs.min(3) }));
        let rust = rust_time(case, runs);
        let ratio = lua.map_or("n/a".to_string(), |(_, ratio)| format!("{ratio:.2}×"));
        println!(
            "| {} | {} | {} | {} | {} | {ratio} |",
            case.name,
            seconds(stoffel),
            lua.map_or("n/a".into(), |(lua, _)| seconds(lua)),
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

/// The instructions `program args…` executes, counted by callgrind.
fn callgrind(program: &str, args: &[&str]) -> Option<u64> {
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null", program])
        .args(args)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|line| line.contains("Collected :"))?;
    line.split(':').next_back()?.trim().parse().ok()
}

/// Instructions per unit of work (a call for fib, an iteration or element for the rest) from
/// runs at two sizes: their difference cancels start-up and loading.
fn per_unit(
    count: impl Fn(i64) -> Option<u64>,
    sizes: (i64, i64),
    units: impl Fn(i64) -> i64,
) -> Option<f64> {
    let (small, large) = sizes;
    let extra = count(large)?.checked_sub(count(small)?)?;
    Some(extra as f64 / (units(large) - units(small)) as f64)
}

/// The `--instructions` table: Stoffel's and Lua's instructions per unit of work.
fn instructions_table(only: Option<&[&str]>) {
    let me = std::env::current_exe().expect("own path");
    let me = me.to_str().unwrap_or_default();
    println!("Instructions per unit of work (callgrind; the difference of two sizes, so start-up cancels).");
    println!();
    println!("| benchmark | unit | Stoffel | Lua 5.4 | Stoffel / Lua |");
    println!("|---|---|---|---|---|");
    for case in CASES.iter().filter(|case| only.is_none_or(|only| only.contains(&case.name))) {
        let (sizes, unit): ((i64, i64), &str) =
            if case.name == "fib" { ((20, 22), "call") } else { ((100_000, 200_000), "iteration") };
        // fib(n) makes 2·fib(n + 1) − 1 calls.
        let units = |n: i64| if case.name == "fib" { 2 * case.expected(n + 1) - 1 } else { n };
        let stoffel = per_unit(|n| callgrind(me, &["--child", case.name, &n.to_string()]), sizes, units);
        let script = root().join("benches/lua").join(format!("{}.lua", case.name));
        let script = script.to_str().unwrap_or_default();
        let lua = per_unit(|n| callgrind("lua5.4", &[script, &n.to_string()]), sizes, units);
        let show = |count: Option<f64>| count.map_or("n/a".into(), |count| format!("{count:.0}"));
        let ratio = match (stoffel, lua) {
            (Some(stoffel), Some(lua)) => format!("{:.2}×", stoffel / lua),
            _ => "n/a".into(),
        };
        println!("| {} | {unit} | {} | {} | {ratio} |", case.name, show(stoffel), show(lua));
    }
}
