//! A spike, not the product (session 10): would `fib` run faster if every handler were its own
//! function ending in a tail call to the next op's handler — direct threading on stable Rust, as
//! wasmi's default backend does (LLVM's sibling-call optimisation turns each `return
//! handler(..)` into a `jmp` in optimised builds; a handler that still holds a value with drop
//! glue after the call gets a real `call` and the stack overflows, which is how this file
//! found its one such bug)? Each handler then has its own register assignment and its own
//! indirect jump, where `run_loop` shares one of each across all ops.
//!
//! The handlers do the work the real loop does for fib's ops (tag tests, checked arithmetic,
//! the constant register written, the pending/arity/depth/stack checks, the frame record filled
//! field by field, the return's clean-up checks and interrupt poll), with the VM's `Value`.
//! Slow paths exist but only report an error.
//!
//! Measured (2026-11-26, `cargo run --release -p stoffel-bench --example tailcall_spike 7`):
//! spike 58.1 ms, Stoffel 54.5 ms, Lua 45.3 ms for fib(30) — the spike 1.07x the real loop's
//! time at the same instruction count (callgrind: 323 against 321 per call; call 90, return
//! 54, compare 37). perf puts the time on the branches after loads from the frame records
//! (dependent loads), not on the dispatch. So per-handler dispatch does not close fib's gap;
//! fewer instructions in the call path would (README, "What stands in the way").
//!
//! Session 11 made each piece of the call's and return's bookkeeping a switch (`call`, `ret`,
//! chosen by `handlers`): `LEAN=` runs only what Lua's `OP_CALL` and `OP_RETURN1` do — find the
//! callee, open and fill its window, save the resume point, write the caller's `r0` — and
//! letters put pieces back (c: arity and depth checks, f: the compare flag saved and restored,
//! r: the record's pending-argument base, closure and epoch, e: the return's epoch test, p: its
//! interrupt poll, k: the pending and clean-up tests the real loop no longer has); without
//! `LEAN`, all of them. Runs of 9 rounds, 2026-11-26 (ms; Lua 44.7–45.8 in the quiet ones, the
//! real loop 49.1–51.6): lean 45.0, 45.2, 45.6 (1.00× Lua); f 47.0–48.3, r 46.4–48.5, e 45.7–46.2,
//! c 44.9–47.2, p 45.4–46.9 (noisy, each alone 0–8%); `cfrep` 50.3–51.7 — the real loop's time —;
//! all (`k` too) 56.8–58.1. So with our `Value` and dispatch a Rust interpreter matches Lua on
//! fib; the 5–10% left is the bookkeeping the instruction set's semantics ask for (arity errors,
//! the depth limit, a compare flag per frame, pending arguments, closures, interrupts), each
//! piece worth a few percent here and none alone the gap.
//!
//!     cargo run --release -p stoffel-bench --example tailcall_spike [ROUNDS]
//!     LEAN=cfrep cargo run --release -p stoffel-bench --example tailcall_spike [ROUNDS]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use stoffel::Value;

/// The signature every handler shares: what a tail call needs (same arguments, same return).
type Handler = extern "sysv64" fn(&mut Vm, *const Op, *mut Value) -> u64;

/// One op, 16 bytes: its handler and four operand fields.
#[derive(Clone, Copy)]
#[repr(C)]
struct Op {
    handler: Handler,
    a: u16,
    b: u16,
    c: u16,
    d: i16,
}

struct Func {
    code: Vec<Op>,
    register_count: usize,
    arity: usize,
}

struct Frame {
    function: Arc<Func>,
    /// Where the caller goes on when this frame returns.
    resume: *const Op,
    base: usize,
    flag: u64,
    args_base: usize,
    closure: Option<Arc<()>>,
    ref_epoch: u64,
}

struct Vm {
    values: Vec<Value>,
    top: usize,
    frames: Vec<Frame>,
    depth: usize,
    functions: Vec<Option<Arc<Func>>>,
    pending: Vec<Value>,
    captured: Vec<usize>,
    max_depth: usize,
    max_registers: usize,
    signals: Arc<AtomicU64>,
    ref_writes: u64,
    entry_depth: usize,
    flag: u64,
    result: i64,
}

const OK: u64 = 0;

#[cold]
#[inline(never)]
fn slow(_vm: &mut Vm, code: u64) -> u64 {
    code
}

macro_rules! reg {
    ($regs:expr, $r:expr) => {
        // SAFETY (spike): operands are inside the frame's window by construction.
        unsafe { &mut *$regs.add(usize::from($r)) }
    };
}

macro_rules! next {
    ($vm:expr, $ip:expr, $regs:expr) => {{
        let ip: *const Op = $ip;
        // SAFETY (spike): `ip` points at an op of the running function.
        let handler = unsafe { (*ip).handler };
        return handler($vm, ip, $regs);
    }};
}

#[inline(always)]
fn set_int(register: &mut Value, value: i64) {
    match register {
        Value::Int(old) => *old = value,
        other => *other = Value::Int(value),
    }
}

/// `LDI k, imm; CMP a, k; JMPLT t`: a = a, k = c, imm = d, t = `ip` + b (relative).
extern "sysv64" fn cmp_imm_jmp_lt(vm: &mut Vm, ip: *const Op, regs: *mut Value) -> u64 {
    let op = unsafe { *ip };
    let imm = i64::from(op.d);
    set_int(reg!(regs, op.c), imm);
    if let Value::Int(x) = *reg!(regs, op.a) {
        let less = x < imm;
        vm.flag = if less {
            0
        } else if x == imm {
            1
        } else {
            2
        };
        if less {
            // Forward jump (relative offset in `b`): no poll.
            next!(vm, ip.wrapping_offset(isize::from(op.b as i16)), regs)
        }
        next!(vm, ip.wrapping_add(1), regs)
    }
    slow(vm, 1)
}

extern "sysv64" fn mov(vm: &mut Vm, ip: *const Op, regs: *mut Value) -> u64 {
    let op = unsafe { *ip };
    if let Value::Int(x) = *reg!(regs, op.b) {
        set_int(reg!(regs, op.a), x);
        next!(vm, ip.wrapping_add(1), regs)
    }
    slow(vm, 2)
}

/// `LDI k, imm; SUB d, a, k`: d = a, a = b, k = c, imm = d.
extern "sysv64" fn sub_imm(vm: &mut Vm, ip: *const Op, regs: *mut Value) -> u64 {
    let op = unsafe { *ip };
    let imm = i64::from(op.d);
    set_int(reg!(regs, op.c), imm);
    if let Value::Int(x) = *reg!(regs, op.b) {
        if let Some(result) = x.checked_sub(imm) {
            set_int(reg!(regs, op.a), result);
            next!(vm, ip.wrapping_add(1), regs)
        }
    }
    slow(vm, 3)
}

extern "sysv64" fn add(vm: &mut Vm, ip: *const Op, regs: *mut Value) -> u64 {
    let op = unsafe { *ip };
    if let (Value::Int(x), Value::Int(y)) = (&*reg!(regs, op.b), &*reg!(regs, op.c)) {
        if let Some(result) = x.checked_add(*y) {
            set_int(reg!(regs, op.a), result);
            next!(vm, ip.wrapping_add(1), regs)
        }
    }
    slow(vm, 4)
}

/// `PUSHARG first..first+n; CALL slot` of a VM function: n = a, first = b, slot = c. Always
/// what Lua's `OP_CALL` does: find the callee, open its window (growing the stack if needed),
/// copy the argument, fill the record's resume point, base and function. The rest is
/// bookkeeping this instruction set's semantics ask for, each piece switched by a parameter
/// (see [`handlers`]): `PENDING`, the test that the caller has no other argument pending (the
/// real loop proves that at load since session 10); `CHECKS`, the arity and depth checks;
/// `FLAG`, the caller's compare flag saved and the callee's set; `FIELDS`, the record's
/// pending-argument base, closure and reference epoch.
extern "sysv64" fn call<const PENDING: bool, const CHECKS: bool, const FLAG: bool, const FIELDS: bool>(
    vm: &mut Vm,
    ip: *const Op,
    regs: *mut Value,
) -> u64 {
    let op = unsafe { *ip };
    let depth = vm.depth;
    if PENDING && vm.pending.len() != vm.frames[depth - 1].args_base {
        return slow(vm, 5);
    }
    let Some(Some(callee)) = vm.functions.get(usize::from(op.c)) else {
        return slow(vm, 6);
    };
    let n = usize::from(op.a);
    if CHECKS && (callee.arity != n || depth >= vm.max_depth) {
        return slow(vm, 7);
    }
    let args_base = vm.pending.len();
    let ref_epoch = vm.ref_writes;
    let count = callee.register_count;
    let new_base = vm.top;
    let end = new_base + count;
    let mut regs = regs;
    if vm.values.len() < end {
        if end > vm.max_registers {
            return slow(vm, 8);
        }
        let caller_base = vm.frames[depth - 1].base;
        vm.values.resize_with(end, || Value::Unit);
        regs = vm.values.as_mut_ptr().wrapping_add(caller_base);
    }
    vm.top = end;
    // One int argument (the common call).
    let first = usize::from(op.b);
    let new_regs = vm.values.as_mut_ptr().wrapping_add(new_base);
    match *reg!(regs, first) {
        Value::Int(x) if n == 1 => set_int(reg!(new_regs, 0u16), x),
        _ => return slow(vm, 9),
    }
    let resume = ip.wrapping_add(1);
    // No reference held across the tail call (its drop would follow the call: no `jmp`).
    let code = callee.code.as_ptr();
    let callee: *const Arc<Func> = callee;
    // SAFETY (spike): the function table is not touched until this use.
    let callee = unsafe { &*callee };
    match vm.frames.get_mut(depth) {
        Some(record) => {
            if !Arc::ptr_eq(&record.function, callee) {
                record.function = Arc::clone(callee);
            }
            record.resume = resume;
            record.base = new_base;
            if FIELDS {
                record.args_base = args_base;
                if record.closure.is_some() {
                    record.closure = None;
                }
                record.ref_epoch = ref_epoch;
            }
        }
        None => vm.frames.push(Frame {
            function: Arc::clone(callee),
            resume,
            base: new_base,
            flag: 1,
            args_base,
            closure: None,
            ref_epoch,
        }),
    }
    if FLAG {
        let flag = vm.flag;
        vm.frames[depth - 1].flag = flag;
        vm.flag = 1;
    }
    vm.depth = depth + 1;
    next!(vm, code, new_regs)
}

/// `RET a` of an int. Always what Lua's `OP_RETURN1` does: find the caller, close the window,
/// write the caller's `r0`, go on at the resume point. Switched as in [`call`]: `CLEANUP`, the
/// pending-argument and captured-cell clean-up tests (gone from the real loop's common return
/// since session 10); `EPOCH`, the reference epoch test; `POLL`, the interrupt poll; `FLAG`,
/// the caller's compare flag restored.
extern "sysv64" fn ret<const CLEANUP: bool, const EPOCH: bool, const POLL: bool, const FLAG: bool>(
    vm: &mut Vm,
    ip: *const Op,
    regs: *mut Value,
) -> u64 {
    let op = unsafe { *ip };
    let Value::Int(int) = *reg!(regs, op.a) else {
        return slow(vm, 10);
    };
    let depth = vm.depth;
    if depth <= vm.entry_depth + 1 {
        vm.result = int;
        vm.depth = depth - 1;
        return OK;
    }
    let left = &vm.frames[depth - 1];
    let (resume, left_base, left_epoch, left_args) = (left.resume, left.base, left.ref_epoch, left.args_base);
    vm.depth = depth - 1;
    if EPOCH && left_epoch != vm.ref_writes {
        return slow(vm, 11);
    }
    vm.top = left_base;
    if CLEANUP {
        if vm.pending.len() > left_args {
            vm.pending.truncate(left_args);
        }
        if vm.captured.last().is_some_and(|&d| d == depth - 1) {
            return slow(vm, 12);
        }
    }
    let caller = &vm.frames[depth - 2];
    let caller_base = caller.base;
    if FLAG {
        vm.flag = caller.flag;
    }
    let caller_regs = vm.values.as_mut_ptr().wrapping_add(caller_base);
    set_int(reg!(caller_regs, 0u16), int);
    if POLL && vm.signals.load(Ordering::Relaxed) != 0 {
        return slow(vm, 13);
    }
    next!(vm, resume, caller_regs)
}

/// The call and return handlers with the bookkeeping named by `what` (letters: k = the pending
/// and clean-up tests, c = arity and depth checks, f = the compare flag, r = the record's other
/// fields, e = the epoch test, p = the poll); `None`, all of it (session 10's spike).
fn handlers(what: Option<&str>) -> (Handler, Handler) {
    let has = |letter: char| what.is_none_or(|what| what.contains(letter));
    macro_rules! pick {
        ($handler:ident, $key:expr) => {{
            pick!(@ $handler, $key; false false false false, false false false true,
                false false true false, false false true true, false true false false,
                false true false true, false true true false, false true true true,
                true false false false, true false false true, true false true false,
                true false true true, true true false false, true true false true,
                true true true false, true true true true)
        }};
        (@ $handler:ident, $key:expr; $($a:literal $b:literal $c:literal $d:literal),*) => {{
            let key: (bool, bool, bool, bool) = $key;
            let mut chosen: Handler = $handler::<true, true, true, true>;
            $(if key == ($a, $b, $c, $d) {
                chosen = $handler::<$a, $b, $c, $d>;
            })*
            chosen
        }};
    }
    let call = pick!(call, (has('k'), has('c'), has('f'), has('r')));
    let ret = pick!(ret, (has('k'), has('e'), has('p'), has('f')));
    (call, ret)
}

fn fib_function(what: Option<&str>) -> Func {
    let (call_args, ret) = handlers(what);
    let op = |handler: Handler, a: u16, b: u16, c: u16, d: i16| Op { handler, a, b, c, d };
    let code = vec![
        op(cmp_imm_jmp_lt, 0, 8, 1, 2), // LDI r1, 2; CMP r0, r1; JMPLT 8
        op(mov, 3, 0, 0, 0),            // MOV r3, r0
        op(sub_imm, 2, 3, 1, 1),        // LDI r1, 1; SUB r2, r3, r1
        op(call_args, 1, 2, 0, 0),      // PUSHARG r2; CALL fib
        op(mov, 2, 0, 0, 0),            // MOV r2, r0
        op(sub_imm, 1, 3, 1, 2),        // LDI r1, 2; SUB r1, r3, r1
        op(call_args, 1, 1, 0, 0),      // PUSHARG r1; CALL fib
        op(add, 0, 2, 0, 0),            // ADD r0, r2, r0
        op(ret, 0, 0, 0, 0),            // done: RET r0
    ];
    Func { code, register_count: 4, arity: 1 }
}

fn spike_fib(vm: &mut Vm, n: i64) -> i64 {
    let function = Arc::clone(vm.functions[0].as_ref().expect("fib"));
    vm.values.clear();
    vm.values.resize_with(function.register_count, || Value::Unit);
    vm.values[0] = Value::Int(n);
    vm.top = function.register_count;
    vm.frames.clear();
    vm.frames.push(Frame {
        function: Arc::clone(&function),
        resume: std::ptr::null(),
        base: 0,
        flag: 1,
        args_base: 0,
        closure: None,
        ref_epoch: 0,
    });
    vm.depth = 1;
    vm.entry_depth = 0;
    let regs = vm.values.as_mut_ptr();
    let code = function.code.as_ptr();
    let status = (function.code[0].handler)(vm, code, regs);
    assert_eq!(status, OK, "spike failed");
    vm.result
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(7);
    let mut vm = Vm {
        values: Vec::new(),
        top: 0,
        frames: Vec::new(),
        depth: 0,
        functions: vec![Some(Arc::new(fib_function(std::env::var("LEAN").ok().as_deref())))],
        pending: Vec::new(),
        captured: Vec::new(),
        max_depth: 10_000,
        max_registers: 1 << 24,
        signals: Arc::new(AtomicU64::new(0)),
        ref_writes: 0,
        entry_depth: 0,
        flag: 1,
        result: 0,
    };
    let real = stoffel::VirtualMachine::new();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/programs/fib.stf"))
        .expect("fib.stf");
    real.load(stoffel::asm::assemble(&text).expect("assembles")).expect("loads");
    let lua = concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/lua/fib.lua");
    let (mut spike, mut stoffel, mut lua_times) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        assert_eq!(spike_fib(&mut vm, 30), 832_040);
        spike.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        assert_eq!(real.call("fib", &[Value::Int(30)]).expect("runs"), Value::Int(832_040));
        stoffel.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let status = std::process::Command::new("lua5.4").arg(lua).output().expect("lua5.4");
        assert!(status.status.success());
        lua_times.push(start.elapsed().as_secs_f64());
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let (s, r, l) = (median(&mut spike), median(&mut stoffel), median(&mut lua_times));
    println!(
        "fib(30), medians of {rounds}: spike {:.1} ms, stoffel {:.1} ms, lua {:.1} ms",
        s * 1e3,
        r * 1e3,
        l * 1e3
    );
    println!("spike / lua {:.2}, stoffel / lua {:.2}, spike / stoffel {:.2}", s / l, r / l, s / r);
}
