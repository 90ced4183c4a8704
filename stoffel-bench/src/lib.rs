//! What the peer table (`src/main.rs`) and the criterion suite (`benches/programs.rs`) share:
//! the benchmark cases of DESIGN section 8, loading their Stoffel programs, the Rhai engine and
//! scripts, the plain-Rust reference versions, and one startup round of each engine.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use stoffel::{Program, Value, VirtualMachine};

/// One benchmark: its name (also its `benches/programs/<name>.stf` and `benches/lua/<name>.lua`),
/// what Stoffel calls, the arguments, the expected result, the Rhai script and the Rust version.
pub struct Case {
    /// The case's name, as the table and the criterion group print it.
    pub name: &'static str,
    /// The Stoffel function the program exposes; it takes the size `n`.
    pub entry: &'static str,
    /// The size of DESIGN section 8 (the peer table; the Lua twins hard-code it).
    pub argument: i64,
    /// A smaller size that keeps a criterion run short.
    pub quick: i64,
    /// The result for size `n`, computed independently of every measured version.
    pub expected: fn(i64) -> i64,
    /// The Rhai script, with `{n}` where the size goes (see [`Case::rhai_script`]).
    pub rhai: &'static str,
    /// The plain-Rust version.
    pub rust: fn(i64) -> i64,
}

impl Case {
    /// The result for size `n`.
    pub fn expected(&self, n: i64) -> i64 {
        (self.expected)(n)
    }

    /// The Rhai script for size `n`: it evaluates to the case's result.
    pub fn rhai_script(&self, n: i64) -> String {
        self.rhai.replace("{n}", &n.to_string())
    }
}

/// The closure case in Rhai (both Stoffel versions, builtins and `GETUPVAL`/`SETUPVAL`, run it).
const CLOSURE_RHAI: &str = "let count = 0; let counter = || { count += 1; count }; let r = 0; \
                            for i in 0..{n} { r = counter.call(); } r";

/// The cases of DESIGN section 8 (startup, which has no size, is [`stoffel_startup`] and
/// [`rhai_startup`]), and `object`: a record's fields by name, as object-heavy programs use them.
pub const CASES: &[Case] = &[
    Case {
        name: "fib",
        entry: "fib",
        argument: 30,
        quick: 25,
        expected: fib_iterative,
        rhai: "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } } fib({n})",
        rust: rust_fib,
    },
    Case {
        name: "loop",
        entry: "sum_loop",
        argument: 100_000_000,
        quick: 1_000_000,
        expected: sum_below,
        rhai: "let sum = 0; for i in 0..{n} { sum += i; } sum",
        rust: rust_loop,
    },
    Case {
        name: "closure",
        entry: "closure_loop",
        argument: 1_000_000,
        quick: 100_000,
        expected: identity,
        rhai: CLOSURE_RHAI,
        rust: rust_closure,
    },
    Case {
        name: "closure_upval",
        entry: "closure_loop",
        argument: 1_000_000,
        quick: 100_000,
        expected: identity,
        rhai: CLOSURE_RHAI,
        rust: rust_closure,
    },
    Case {
        name: "array",
        entry: "array_sum",
        argument: 1_000_000,
        quick: 100_000,
        expected: sum_below,
        rhai: "let a = []; for i in 0..{n} { a.push(i); } let s = 0; \
               for i in 0..a.len() { s += a[i]; } s",
        rust: rust_array,
    },
    Case {
        name: "object",
        entry: "object_fields",
        argument: 1_000_000,
        quick: 100_000,
        expected: identity,
        rhai: "let o = #{x: 1, y: 2, count: 0}; for i in 0..{n} { o.count = o.count + o.x; } o.count",
        rust: rust_object,
    },
    Case {
        name: "foreign",
        entry: "foreign_loop",
        argument: 10_000_000,
        quick: 1_000_000,
        expected: sum_below,
        rhai: "let t = 0; for i in 0..{n} { t = add(t, i); } t",
        rust: rust_foreign,
    },
];

/// The case called `name`, if there is one.
pub fn case(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|case| case.name == name)
}

fn fib_iterative(n: i64) -> i64 {
    let (mut a, mut b) = (0, 1);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// `0 + 1 + … + (n - 1)`.
fn sum_below(n: i64) -> i64 {
    n * (n - 1) / 2
}

fn identity(n: i64) -> i64 {
    n
}

/// Naive recursive Fibonacci.
pub fn rust_fib(n: i64) -> i64 {
    if n < 2 {
        n
    } else {
        rust_fib(black_box(n - 1)) + rust_fib(black_box(n - 2))
    }
}

/// The sum of `i` for `i` in `0..n`.
pub fn rust_loop(n: i64) -> i64 {
    (0..n).fold(0, |sum, i| black_box(sum + i))
}

/// A counter closure called `n` times; its last count.
pub fn rust_closure(n: i64) -> i64 {
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

/// Push `0..n` into a vector, then sum it by index.
pub fn rust_array(n: i64) -> i64 {
    let mut values = Vec::new();
    for i in 0..n {
        values.push(black_box(i));
    }
    (0..values.len()).map(|i| values[black_box(i)]).sum()
}

/// A record with named fields; `count += x`, `n` times.
pub fn rust_object(n: i64) -> i64 {
    struct Record {
        x: i64,
        y: i64,
        count: i64,
    }
    let mut record = black_box(Record { x: 1, y: 2, count: 0 });
    for _ in 0..n {
        record.count = black_box(record.count + record.x);
    }
    black_box(record.y);
    record.count
}

/// The host function of the foreign case, exposed as issue #9 asks: with `#[foreign_fn]`
/// (the plain-Rust version calls it directly).
#[stoffel::foreign_fn]
#[inline(never)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// `total = add(total, i)` for `i` in `0..n`, with a function the optimiser may not inline.
pub fn rust_foreign(n: i64) -> i64 {
    (0..n).fold(0, |total, i| black_box(add(total, i)))
}

/// The workspace root (`benches/programs` and `benches/lua` live there).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A VM with the benchmark program `benches/programs/<name>.stf` and the host's `add` loaded.
pub fn stoffel_vm(name: &str) -> VirtualMachine {
    let path = root().join("benches/programs").join(format!("{name}.stf"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let program = stoffel::asm::assemble(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let vm = VirtualMachine::new();
    vm.load(program).expect("benchmark program loads");
    vm.register_foreign(stoffel::foreign!(add));
    vm
}

/// A Rhai engine set up like [`stoffel_vm`]: the host's `add` registered.
pub fn rhai_engine() -> rhai::Engine {
    let mut engine = rhai::Engine::new();
    engine.set_max_call_levels(100);
    engine.register_fn("add", |a: i64, b: i64| a + b);
    engine
}

/// The one function the startup benchmark loads: `inc(x) = x + 1`.
pub fn startup_program() -> Program {
    stoffel::asm::assemble("fn inc(x) { LDI r1, 1\n ADD r0, r0, r1\n RET r0 }").expect("assembles")
}

/// One startup round in Stoffel: a new VM, load `program` ([`startup_program`]), call
/// `inc(x)`, drop the VM. Returns the result (`x + 1`).
pub fn stoffel_startup(program: &Program, x: i64) -> Value {
    let vm = VirtualMachine::new();
    vm.load(program.clone()).expect("startup program loads");
    vm.call("inc", &[Value::Int(x)]).expect("inc runs")
}

/// One startup round in Rhai: a new engine, compile `inc`, call `inc(x)`, drop the engine.
/// Returns the result (`x + 1`).
pub fn rhai_startup(x: i64) -> i64 {
    let engine = rhai::Engine::new();
    let ast = engine.compile("fn inc(x) { x + 1 }").expect("compiles");
    engine.call_fn(&mut rhai::Scope::new(), &ast, "inc", (x,)).expect("inc runs")
}
