//! What the hook system costs: the same programs run with no hook registered, with one
//! registered but disabled hook, and with one enabled hook whose predicate never matches (the
//! traced loop, every event built and offered to the predicate). Medians of several runs.
//!
//! `cargo bench --bench hooks` runs everything; `cargo bench --bench hooks -- loop` only the rows
//! whose program or setup contains `loop`; `--runs N` changes the number of timed runs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use stoffel::Instruction::*;
use stoffel::{Instruction, VMFunction, Value, VirtualMachine};

/// Loop iterations, as in the design's benchmark list (the loop there runs 10x longer).
const LOOP_N: i64 = 10_000_000;
/// Foreign calls from a VM loop.
const CALLS_N: i64 = 1_000_000;
/// `fib(FIB_N)`: 635,621 VM calls.
const FIB_N: i64 = 27;

/// A function from `(label, instruction)` pairs; a label names the instruction it stands on.
fn function(
    name: &str,
    params: &[&str],
    registers: usize,
    body: &[(Option<&str>, Instruction)],
) -> VMFunction {
    let mut labels = HashMap::new();
    let mut instructions = Vec::new();
    for (label, instruction) in body {
        if let Some(label) = label {
            labels.insert(label.to_string(), instructions.len());
        }
        instructions.push(instruction.clone());
    }
    let params = params.iter().map(|p| p.to_string()).collect();
    VMFunction::new(name, params, vec![], None, registers, instructions, labels)
}

fn int(v: i64) -> Value {
    Value::Int(v)
}

/// sum = 0; for i in 0..n { sum += i }; return sum — 5 instructions per iteration.
fn sum_loop(n: i64) -> VMFunction {
    function(
        "sum_loop",
        &[],
        4,
        &[
            (None, LDI(0, int(0))),
            (None, LDI(1, int(0))),
            (None, LDI(2, int(n))),
            (None, LDI(3, int(1))),
            (Some("loop"), CMP(1, 2)),
            (None, JMPEQ("done".into())),
            (None, ADD(0, 0, 1)),
            (None, ADD(1, 1, 3)),
            (None, JMP("loop".into())),
            (Some("done"), RET(0)),
        ],
    )
}

/// sum = 0; for i in 0..n { sum = add(sum, i) } with a foreign `add` — 8 instructions and one
/// foreign call per iteration.
fn foreign_loop(n: i64) -> VMFunction {
    function(
        "foreign_loop",
        &[],
        5,
        &[
            (None, LDI(1, int(0))),
            (None, LDI(2, int(n))),
            (None, LDI(3, int(1))),
            (None, LDI(4, int(0))),
            (Some("loop"), CMP(1, 2)),
            (None, JMPEQ("done".into())),
            (None, PUSHARG(4)),
            (None, PUSHARG(1)),
            (None, CALL("add".into())),
            (None, MOV(4, 0)),
            (None, ADD(1, 1, 3)),
            (None, JMP("loop".into())),
            (Some("done"), RET(4)),
        ],
    )
}

fn fib() -> VMFunction {
    function(
        "fib",
        &["n"],
        4,
        &[
            (None, LDI(1, int(2))),
            (None, CMP(0, 1)),
            (None, JMPLT("done".into())),
            (None, MOV(3, 0)),
            (None, LDI(1, int(1))),
            (None, SUB(2, 3, 1)),
            (None, PUSHARG(2)),
            (None, CALL("fib".into())),
            (None, MOV(2, 0)),
            (None, LDI(1, int(2))),
            (None, SUB(1, 3, 1)),
            (None, PUSHARG(1)),
            (None, CALL("fib".into())),
            (None, ADD(0, 2, 0)),
            (Some("done"), RET(0)),
        ],
    )
}

/// One program to time: entry point, arguments, expected result, instructions per run.
struct Program {
    name: &'static str,
    entry: &'static str,
    args: Vec<Value>,
    expected: Value,
    instructions: u64,
}

fn programs() -> Vec<Program> {
    let fib_calls = {
        let (mut a, mut b) = (1u64, 1u64); // calls(0), calls(1)
        for _ in 2..=FIB_N {
            (a, b) = (b, a + b + 1);
        }
        b
    };
    let fib_leaves = fib_calls.div_ceil(2);
    vec![
        Program {
            name: "loop, 10M iterations",
            entry: "sum_loop",
            args: vec![],
            expected: int(LOOP_N * (LOOP_N - 1) / 2),
            instructions: 4 + 5 * LOOP_N as u64 + 3,
        },
        Program {
            name: "foreign add, 1M calls",
            entry: "foreign_loop",
            args: vec![],
            expected: int(CALLS_N * (CALLS_N - 1) / 2),
            instructions: 4 + 8 * CALLS_N as u64 + 3,
        },
        Program {
            name: "fib(27), 636k VM calls",
            entry: "fib",
            args: vec![int(FIB_N)],
            expected: int(196_418),
            instructions: fib_leaves * 4 + (fib_calls - fib_leaves) * 15,
        },
    ]
}

/// How the VM's hooks are set up for a row.
#[derive(Clone, Copy, PartialEq)]
enum Setup {
    Nothing,
    Disabled,
    NeverMatching,
}

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Setup::Nothing => "no hook",
            Setup::Disabled => "1 disabled hook",
            Setup::NeverMatching => "1 enabled hook, never matches",
        }
    }
}

fn new_vm(setup: Setup) -> VirtualMachine {
    let vm = VirtualMachine::new();
    vm.register_function(sum_loop(LOOP_N)).expect("valid");
    vm.register_function(foreign_loop(CALLS_N)).expect("valid");
    vm.register_function(fib()).expect("valid");
    vm.register_fn("add", |a: i64, b: i64| a + b);
    if setup != Setup::Nothing {
        let id = vm.register_hook(|_| false, |_, _| Err("never called".into()), 0);
        if setup == Setup::Disabled {
            vm.disable_hook(id);
        }
    }
    vm
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs `program` once on `vm`, checks the result and returns the time it took.
fn run_once(vm: &VirtualMachine, program: &Program) -> Duration {
    let start = Instant::now();
    let result = vm.call(program.entry, &program.args).expect("the program runs");
    let elapsed = start.elapsed();
    assert_eq!(result, program.expected, "{}", program.name);
    elapsed
}

fn main() {
    let mut runs = 7;
    let mut filters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse::<usize>().ok()).expect("--runs N").max(1),
            "--bench" => {}
            other => filters.push(other.to_owned()),
        }
    }
    let selected =
        |text: &str| filters.is_empty() || filters.iter().any(|filter| text.contains(filter.as_str()));

    println!("median of {runs} runs per row (setups interleaved, after one warm-up round); ratio against `no hook`\n");
    println!("| program | hooks | median | ns/instruction | ratio |");
    println!("|---|---|---:|---:|---:|");
    let setups = [Setup::Nothing, Setup::Disabled, Setup::NeverMatching];
    for program in programs() {
        let vms: Vec<(Setup, VirtualMachine)> = setups
            .into_iter()
            .filter(|setup| selected(&format!("{} {}", program.name, setup.label())))
            .map(|setup| (setup, new_vm(setup)))
            .collect();
        // Interleaved (one run of each setup per round) so that drift in the machine's load
        // affects every setup alike; one warm-up round first.
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); vms.len()];
        for round in 0..=runs {
            for ((_, vm), samples) in vms.iter().zip(&mut samples) {
                let elapsed = run_once(vm, &program);
                if round > 0 {
                    samples.push(elapsed);
                }
            }
        }
        let mut baseline = None;
        for ((setup, _), samples) in vms.iter().zip(samples) {
            let setup = *setup;
            let median = median(samples);
            let base = *baseline.get_or_insert(median);
            println!(
                "| {} | {} | {:.1} ms | {:.2} | {:.2}x |",
                program.name,
                setup.label(),
                median.as_secs_f64() * 1e3,
                median.as_nanos() as f64 / program.instructions as f64,
                median.as_secs_f64() / base.as_secs_f64(),
            );
        }
    }
}
