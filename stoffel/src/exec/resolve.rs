//! Lowering: a validated `VMFunction` becomes a `CompiledFunction` whose `Op`s are compact and
//! resolved — `u16` registers, jump targets as instruction indices, constants by index, `CALL`
//! as a slot of the function table (re-registration rewrites the slot, not the code).

use std::collections::HashSet;

use crate::error::Error;
use crate::function::VMFunction;
use crate::instruction::Instruction;
use crate::state::FunctionTable;
use crate::value::{Str, Value};

/// One resolved instruction; 8 bytes, `Copy`, no heap data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Ld {
        d: u16,
        k: i32,
    },
    Ldi {
        d: u16,
        c: u32,
    },
    Mov {
        d: u16,
        a: u16,
    },
    Add {
        d: u16,
        a: u16,
        b: u16,
    },
    /// `ADD d, d, b`: an accumulation, its destination checked and written through one
    /// reference (one instruction to one op, so traced and metered runs use it too).
    AddTo {
        d: u16,
        b: u16,
    },
    Sub {
        d: u16,
        a: u16,
        b: u16,
    },
    Mul {
        d: u16,
        a: u16,
        b: u16,
    },
    Div {
        d: u16,
        a: u16,
        b: u16,
    },
    Mod {
        d: u16,
        a: u16,
        b: u16,
    },
    And {
        d: u16,
        a: u16,
        b: u16,
    },
    Or {
        d: u16,
        a: u16,
        b: u16,
    },
    Xor {
        d: u16,
        a: u16,
        b: u16,
    },
    Not {
        d: u16,
        a: u16,
    },
    Shl {
        d: u16,
        a: u16,
        b: u16,
    },
    Shr {
        d: u16,
        a: u16,
        b: u16,
    },
    Cmp {
        a: u16,
        b: u16,
    },
    Jmp {
        t: u32,
    },
    JmpEq {
        t: u32,
    },
    JmpNeq {
        t: u32,
    },
    JmpLt {
        t: u32,
    },
    JmpGt {
        t: u32,
    },
    /// Superinstruction: `CMP a, b` fused with the conditional jump after it (to `t`). The
    /// jump stays in the code at the next index, for traced runs and as a jump target.
    CmpJmpEq {
        a: u16,
        b: u16,
        t: u16,
    },
    CmpJmpNeq {
        a: u16,
        b: u16,
        t: u16,
    },
    CmpJmpLt {
        a: u16,
        b: u16,
        t: u16,
    },
    CmpJmpGt {
        a: u16,
        b: u16,
        t: u16,
    },
    /// Superinstruction: `LDI k, imm` (a small int) and the `ADD d, a, k` after it, in one
    /// dispatch. Traced and metered runs (and a non-int `a`, or overflow) execute it as the plain
    /// `LDI` and go on to the `ADD`.
    AddImm {
        imm: i8,
        d: u16,
        a: u16,
        k: u16,
    },
    /// `LDI k, imm` + `SUB d, a, k`, as [`Op::AddImm`].
    SubImm {
        imm: i8,
        d: u16,
        a: u16,
        k: u16,
    },
    /// `LDI k, imm` + a fused `CMP a, k` + jump to `t` (the condition is in the variant), as
    /// [`Op::AddImm`]: the jump of a loop or an `if` against a small constant.
    CmpImmJmpEq {
        imm: i8,
        a: u16,
        k: u16,
        t: u16,
    },
    CmpImmJmpNeq {
        imm: i8,
        a: u16,
        k: u16,
        t: u16,
    },
    CmpImmJmpLt {
        imm: i8,
        a: u16,
        k: u16,
        t: u16,
    },
    CmpImmJmpGt {
        imm: i8,
        a: u16,
        k: u16,
        t: u16,
    },
    /// Superinstruction: `ADD i, i, step` and the fused compare-and-jump after it that tests
    /// the new `i` against `limit` — a counted loop's step, Lua's `FORLOOP`. The jump goes
    /// back: its target is `offset` (at most 0) instructions from this op. Traced and metered
    /// runs (and non-int operands, or overflow) execute it as the plain `ADD` and go on to the
    /// compare.
    AddCmpJmpEq {
        offset: i8,
        i: u16,
        step: u16,
        limit: u16,
    },
    AddCmpJmpNeq {
        offset: i8,
        i: u16,
        step: u16,
        limit: u16,
    },
    AddCmpJmpLt {
        offset: i8,
        i: u16,
        step: u16,
        limit: u16,
    },
    AddCmpJmpGt {
        offset: i8,
        i: u16,
        step: u16,
        limit: u16,
    },
    PushArg {
        a: u16,
    },
    /// Superinstruction: `PUSHARG first`, …, `PUSHARG first+n-1`, `CALL slot` — arguments in
    /// consecutive registers, read in place instead of copied through the pending stack. The
    /// plain instructions stay in the code after it: traced and metered runs, and calls the
    /// fused form does not serve, execute this as the plain `PUSHARG first` and go on.
    CallArgs {
        n: u8,
        first: u16,
        slot: u32,
    },
    Call {
        slot: u32,
    },
    /// `GETUPVAL d, name`: the name is the string constant `c` (interned: found by pointer);
    /// `at`, its place among the function's declared upvalues, is where a closure that
    /// captured them in that order holds it (`u8::MAX`: none), tried before the search.
    GetUpval {
        at: u8,
        d: u16,
        c: u32,
    },
    /// `SETUPVAL name, a`: the name is the string constant `c`, `at` as for `GetUpval`.
    SetUpval {
        at: u8,
        a: u16,
        c: u32,
    },
    Ret {
        a: u16,
    },
}

const _: () = assert!(std::mem::size_of::<Op>() == 8);

impl Op {
    /// The highest register the dispatch loop reads or writes for this op through the frame's
    /// window (a fused call's argument group counts whole).
    pub(crate) fn highest_register(self) -> Option<usize> {
        let highest: u16 = match self {
            Op::Ld { d, .. } | Op::Ldi { d, .. } | Op::GetUpval { d, .. } => d,
            Op::Mov { d, a } | Op::Not { d, a } => d.max(a),
            Op::AddTo { d, b } => d.max(b),
            Op::Add { d, a, b }
            | Op::Sub { d, a, b }
            | Op::Mul { d, a, b }
            | Op::Div { d, a, b }
            | Op::Mod { d, a, b }
            | Op::And { d, a, b }
            | Op::Or { d, a, b }
            | Op::Xor { d, a, b }
            | Op::Shl { d, a, b }
            | Op::Shr { d, a, b } => d.max(a).max(b),
            Op::AddImm { d, a, k, .. } | Op::SubImm { d, a, k, .. } => d.max(a).max(k),
            Op::AddCmpJmpEq { i, step, limit, .. }
            | Op::AddCmpJmpNeq { i, step, limit, .. }
            | Op::AddCmpJmpLt { i, step, limit, .. }
            | Op::AddCmpJmpGt { i, step, limit, .. } => i.max(step).max(limit),
            Op::Cmp { a, b }
            | Op::CmpJmpEq { a, b, .. }
            | Op::CmpJmpNeq { a, b, .. }
            | Op::CmpJmpLt { a, b, .. }
            | Op::CmpJmpGt { a, b, .. } => a.max(b),
            Op::CmpImmJmpEq { a, k, .. }
            | Op::CmpImmJmpNeq { a, k, .. }
            | Op::CmpImmJmpLt { a, k, .. }
            | Op::CmpImmJmpGt { a, k, .. } => a.max(k),
            Op::PushArg { a } | Op::SetUpval { a, .. } | Op::Ret { a } => a,
            // Counted exactly: the loop reads each register of the group.
            Op::CallArgs { n, first, .. } => {
                return Some(usize::from(first) + usize::from(n).saturating_sub(1));
            }
            Op::Jmp { .. }
            | Op::JmpEq { .. }
            | Op::JmpNeq { .. }
            | Op::JmpLt { .. }
            | Op::JmpGt { .. }
            | Op::Call { .. } => return None,
        };
        Some(usize::from(highest))
    }

    /// Where control may go after this op at `index` ran (in any loop): the next op unless it
    /// returns or always jumps, its jump target, and past what a fused op skips on its fast
    /// path (the plain ops after it, which its fallback runs).
    pub(crate) fn successors(self, index: usize) -> [Option<usize>; 3] {
        let next = Some(index + 1);
        let target = |t: u32| Some(t as usize);
        match self {
            Op::Ret { .. } => [None; 3],
            Op::Jmp { t } => [target(t), None, None],
            Op::JmpEq { t } | Op::JmpNeq { t } | Op::JmpLt { t } | Op::JmpGt { t } => [next, target(t), None],
            Op::CmpJmpEq { t, .. }
            | Op::CmpJmpNeq { t, .. }
            | Op::CmpJmpLt { t, .. }
            | Op::CmpJmpGt { t, .. } => [next, Some(index + 2), target(u32::from(t))],
            Op::CmpImmJmpEq { t, .. }
            | Op::CmpImmJmpNeq { t, .. }
            | Op::CmpImmJmpLt { t, .. }
            | Op::CmpImmJmpGt { t, .. } => [next, Some(index + 3), target(u32::from(t))],
            Op::AddImm { .. } | Op::SubImm { .. } => [next, Some(index + 2), None],
            Op::AddCmpJmpEq { offset, .. }
            | Op::AddCmpJmpNeq { offset, .. }
            | Op::AddCmpJmpLt { offset, .. }
            | Op::AddCmpJmpGt { offset, .. } => {
                [next, Some(index + 3), index.checked_add_signed(isize::from(offset))]
            }
            Op::CallArgs { n, .. } => [next, Some(index + usize::from(n) + 1), None],
            _ => [next, None, None],
        }
    }
}

/// A function ready to run: its definition (for hooks, errors, disassembly) and its code.
pub(crate) struct CompiledFunction {
    pub(crate) def: VMFunction,
    pub(crate) code: Box<[Op]>,
    pub(crate) constants: Box<[Value]>,
    /// What every path has written before each instruction (at most 64 registers), so a call
    /// need not reset its registers on return (see `assigned`).
    pub(crate) assignment: Option<super::assigned::Assignment>,
    /// What a fused call resets when it enters: the registers of `assignment.reset`, or
    /// [`RESET_ALL`] (a function without an assignment, or one that may return with arguments
    /// pending: its frame then takes the full clean-up on return). One word, so the common
    /// case, 0, is one load and one test.
    pub(crate) entry_reset: u64,
}

/// `CompiledFunction::entry_reset` of a function whose every register is reset on entry and
/// on return (more than 64 registers; or all 64 read before written, the same either way; or
/// a `RET` some path reaches with arguments pending, see `pending_counts`).
pub(crate) const RESET_ALL: u64 = u64::MAX;

/// Lowers a function that passed [`VMFunction::validate`]; `CALL` names are resolved to slots
/// in `functions`, creating empty slots for names not registered yet.
///
/// # Errors
/// A validation error if an op would reach a register outside the function's window. Validation
/// already rules that out; the dispatch loop's unchecked register access relies on this check,
/// which sees the fused ops too, so it is made here, where the code is final.
pub(crate) fn compile(
    def: VMFunction,
    functions: &mut FunctionTable,
    strings: &mut HashSet<Str>,
) -> Result<CompiledFunction, Error> {
    let mut constants = Vec::new();
    // The index of a new constant; strings are the VM's interned copy.
    let mut constant = |value: &Value| {
        constants.push(match value {
            Value::String(text) => Value::String(intern(strings, text)),
            other => other.clone(),
        });
        (constants.len() - 1) as u32
    };
    // Validation proved registers < 65,536 and every label defined and in range.
    let reg = |r: &usize| *r as u16;
    let target = |label: &String| def.labels.get(label).copied().unwrap_or(0) as u32;
    let declared = |name: &String| {
        def.upvalues
            .iter()
            .position(|declared| declared == name)
            .and_then(|at| u8::try_from(at).ok())
            .unwrap_or(u8::MAX)
    };
    let code = def
        .instructions
        .iter()
        .map(|instruction| match instruction {
            Instruction::LD(d, k) => Op::Ld { d: reg(d), k: *k },
            Instruction::LDI(d, value) => Op::Ldi { d: reg(d), c: constant(value) },
            Instruction::MOV(d, a) => Op::Mov { d: reg(d), a: reg(a) },
            Instruction::ADD(d, a, b) => Op::Add { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::SUB(d, a, b) => Op::Sub { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::MUL(d, a, b) => Op::Mul { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::DIV(d, a, b) => Op::Div { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::MOD(d, a, b) => Op::Mod { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::AND(d, a, b) => Op::And { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::OR(d, a, b) => Op::Or { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::XOR(d, a, b) => Op::Xor { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::NOT(d, a) => Op::Not { d: reg(d), a: reg(a) },
            Instruction::SHL(d, a, b) => Op::Shl { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::SHR(d, a, b) => Op::Shr { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::CMP(a, b) => Op::Cmp { a: reg(a), b: reg(b) },
            Instruction::JMP(label) => Op::Jmp { t: target(label) },
            Instruction::JMPEQ(label) => Op::JmpEq { t: target(label) },
            Instruction::JMPNEQ(label) => Op::JmpNeq { t: target(label) },
            Instruction::JMPLT(label) => Op::JmpLt { t: target(label) },
            Instruction::JMPGT(label) => Op::JmpGt { t: target(label) },
            Instruction::PUSHARG(a) => Op::PushArg { a: reg(a) },
            Instruction::CALL(name) => Op::Call { slot: functions.slot(name) },
            Instruction::RET(a) => Op::Ret { a: reg(a) },
            Instruction::GETUPVAL(d, name) => {
                Op::GetUpval { at: declared(name), d: reg(d), c: constant(&Value::from(name.as_str())) }
            }
            Instruction::SETUPVAL(name, a) => {
                Op::SetUpval { at: declared(name), a: reg(a), c: constant(&Value::from(name.as_str())) }
            }
        })
        .collect();
    let mut code: Box<[Op]> = code;
    let targets: HashSet<usize> = def.labels.values().copied().collect();
    // Before any fusion: the analysis walks the plain ops.
    let pending = pending_counts(&code);
    let tidy =
        code.iter().zip(&pending).all(|(op, count)| !matches!(op, Op::Ret { .. }) || *count == Some(0));
    fuse_compare_and_jump(&mut code, &targets);
    fuse_small_constants(&mut code, &constants, &targets);
    fuse_counted_loops(&mut code, &targets);
    fuse_calls(&mut code, &targets, &pending);
    specialise_accumulations(&mut code);
    // `CALL` results land in r0 of the caller: every window has one.
    let count = def.register_count;
    if count == 0 {
        return Err(Error::validation(format!("`{}` has no registers", def.name)));
    }
    if let Some(op) = code.iter().find(|op| op.highest_register().is_some_and(|r| r >= count)) {
        return Err(Error::validation(format!(
            "`{}`: {op:?} reaches beyond its {count} registers",
            def.name
        )));
    }
    // The loop fetches ops without a bounds check: every place control can go must be an op.
    let length = code.len();
    if let Some((index, op)) = code
        .iter()
        .enumerate()
        .find(|&(index, op)| op.successors(index).into_iter().flatten().any(|next| next >= length))
    {
        return Err(Error::validation(format!(
            "`{}`: {op:?} at instruction {index} can run past the end of the body",
            def.name
        )));
    }
    let assignment = super::assigned::analyse(&def);
    // A function that may return with arguments pending is entered as one whose registers are
    // all reset, so its frame takes the full clean-up on return (`close_frame`), which drops
    // them; every other frame returns without looking (most functions, by far).
    let entry_reset = match &assignment {
        Some(assignment) if tidy => assignment.reset,
        _ => RESET_ALL,
    };
    Ok(CompiledFunction { def, code, constants: constants.into_boxed_slice(), assignment, entry_reset })
}

/// The VM's one copy of `text`.
fn intern(strings: &mut HashSet<Str>, text: &Str) -> Str {
    match strings.get(text.as_str()) {
        Some(interned) => interned.clone(),
        None => {
            strings.insert(text.clone());
            text.clone()
        }
    }
}

/// Fuses `CMP` + conditional jump pairs whose jump is not itself a jump target (control must
/// reach it only from the `CMP`) and whose target fits the fused form.
fn fuse_compare_and_jump(code: &mut [Op], targets: &HashSet<usize>) {
    for index in 0..code.len().saturating_sub(1) {
        let Op::Cmp { a, b } = code[index] else { continue };
        if targets.contains(&(index + 1)) {
            continue;
        }
        let fused = match code[index + 1] {
            Op::JmpEq { t } => u16::try_from(t).ok().map(|t| Op::CmpJmpEq { a, b, t }),
            Op::JmpNeq { t } => u16::try_from(t).ok().map(|t| Op::CmpJmpNeq { a, b, t }),
            Op::JmpLt { t } => u16::try_from(t).ok().map(|t| Op::CmpJmpLt { a, b, t }),
            Op::JmpGt { t } => u16::try_from(t).ok().map(|t| Op::CmpJmpGt { a, b, t }),
            _ => None,
        };
        if let Some(fused) = fused {
            code[index] = fused;
        }
    }
}

/// Fuses an `LDI` of a small int with the `ADD`/`SUB` or fused compare-and-jump right after it
/// that reads the loaded register as its second operand (and not as its first), when that
/// instruction is not a jump target.
fn fuse_small_constants(code: &mut [Op], constants: &[Value], targets: &HashSet<usize>) {
    for index in 0..code.len().saturating_sub(1) {
        let Op::Ldi { d: k, c } = code[index] else { continue };
        let Some(&Value::Int(value)) = constants.get(c as usize) else { continue };
        let Ok(imm) = i8::try_from(value) else { continue };
        if targets.contains(&(index + 1)) {
            continue;
        }
        let fused = match code[index + 1] {
            Op::Add { d, a, b } if b == k && a != k => Op::AddImm { imm, d, a, k },
            Op::Sub { d, a, b } if b == k && a != k => Op::SubImm { imm, d, a, k },
            Op::CmpJmpEq { a, b, t } if b == k && a != k => Op::CmpImmJmpEq { imm, a, k, t },
            Op::CmpJmpNeq { a, b, t } if b == k && a != k => Op::CmpImmJmpNeq { imm, a, k, t },
            Op::CmpJmpLt { a, b, t } if b == k && a != k => Op::CmpImmJmpLt { imm, a, k, t },
            Op::CmpJmpGt { a, b, t } if b == k && a != k => Op::CmpImmJmpGt { imm, a, k, t },
            _ => continue,
        };
        code[index] = fused;
    }
}

/// Fuses an in-place `ADD i, i, step` with the fused compare-and-jump right after it that
/// compares the new `i` (first) against another register, when the compare is not a jump
/// target and it jumps back, at most 128 instructions before the `ADD`.
fn fuse_counted_loops(code: &mut [Op], targets: &HashSet<usize>) {
    for index in 0..code.len().saturating_sub(1) {
        let Op::Add { d: i, a, b: step } = code[index] else { continue };
        if a != i || targets.contains(&(index + 1)) {
            continue;
        }
        let (compared, limit, t) = match code[index + 1] {
            Op::CmpJmpEq { a, b, t }
            | Op::CmpJmpNeq { a, b, t }
            | Op::CmpJmpLt { a, b, t }
            | Op::CmpJmpGt { a, b, t } => (a, b, t),
            _ => continue,
        };
        if compared != i || limit == i {
            continue;
        }
        // Backward only (a loop's step): the loop then polls without testing the direction.
        let Ok(offset) = i8::try_from(i64::from(t) - index as i64) else { continue };
        if offset > 0 {
            continue;
        }
        code[index] = match code[index + 1] {
            Op::CmpJmpEq { .. } => Op::AddCmpJmpEq { offset, i, step, limit },
            Op::CmpJmpNeq { .. } => Op::AddCmpJmpNeq { offset, i, step, limit },
            Op::CmpJmpLt { .. } => Op::AddCmpJmpLt { offset, i, step, limit },
            _ => Op::AddCmpJmpGt { offset, i, step, limit },
        };
    }
}

/// Turns the `ADD d, d, b`s that no fusion took into [`Op::AddTo`] (last, so the fusions see
/// plain `ADD`s).
fn specialise_accumulations(code: &mut [Op]) {
    for op in code.iter_mut() {
        if let Op::Add { d, a, b } = *op {
            if d == a {
                *op = Op::AddTo { d, b };
            }
        }
    }
}

/// What the frame has pushed with `PUSHARG` and no `CALL` has consumed yet when each op of
/// (unfused) `code` starts: `Some(n)` where every path that reaches it agrees (vacuously
/// `Some(0)` where none does), `None` where paths disagree (a loop pushing without calling). A
/// frame starts with none of its own (its `args_base` is the stack's length then) and every
/// `CALL` consumes all of them, whatever it calls.
fn pending_counts(code: &[Op]) -> Vec<Option<u32>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Count {
        Unreached,
        Known(u32),
        Varies,
    }
    let mut counts = vec![Count::Unreached; code.len()];
    let mut work = Vec::new();
    if !code.is_empty() {
        counts[0] = Count::Known(0);
        work.push(0);
    }
    while let Some(index) = work.pop() {
        let after = match (code[index], counts[index]) {
            (Op::Call { .. }, _) => Count::Known(0),
            (Op::PushArg { .. }, Count::Known(n)) => n.checked_add(1).map_or(Count::Varies, Count::Known),
            (_, count) => count,
        };
        for next in code[index].successors(index).into_iter().flatten().filter(|&next| next < code.len()) {
            let merged = match (counts[next], after) {
                (Count::Unreached, count) => count,
                (same, count) if same == count => continue,
                _ => Count::Varies,
            };
            if merged != counts[next] {
                counts[next] = merged;
                work.push(next);
            }
        }
    }
    counts
        .into_iter()
        .map(|count| match count {
            Count::Unreached => Some(0),
            Count::Known(n) => Some(n),
            Count::Varies => None,
        })
        .collect()
}

/// Fuses each `CALL` with the `PUSHARG`s right before it when they push consecutive registers
/// in ascending order (as a compiler places arguments, and as Lua's `CALL` expects them), no
/// label points after the first of them (control enters the group only at its start) and the
/// frame has nothing else pending there on any path (`pending`, from [`pending_counts`]): the
/// fused call then needs no run-time test for other pending arguments, and the frame's
/// `args_base` is no value the plain loop keeps at hand.
fn fuse_calls(code: &mut [Op], targets: &HashSet<usize>, pending: &[Option<u32>]) {
    for call in 1..code.len() {
        let Op::Call { slot } = code[call] else { continue };
        if targets.contains(&call) {
            continue;
        }
        // Walk back over the PUSHARGs: `first` is the lowest register of the group so far.
        let mut start = call;
        let mut first = None;
        let complete = loop {
            if start == 0 || (targets.contains(&start) && first.is_some()) {
                break true;
            }
            let Op::PushArg { a } = code[start - 1] else { break true };
            if first.is_some_and(|next| a.checked_add(1) != Some(next))
                || call - start == usize::from(u8::MAX)
            {
                // Earlier pushes would stay pending, and the fused form would always fall back.
                break false;
            }
            first = Some(a);
            start -= 1;
        };
        if let (true, Some(first), Some(0)) = (complete, first, pending.get(start).copied().flatten()) {
            code[start] = Op::CallArgs { n: (call - start) as u8, first, slot };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn compiled(instructions: Vec<Instruction>, labels: &[(&str, usize)]) -> Box<[Op]> {
        let labels: HashMap<String, usize> = labels.iter().map(|(n, i)| (n.to_string(), *i)).collect();
        let def = VMFunction::new("f", vec![], vec![], None, 2, instructions, labels);
        def.validate().unwrap();
        compile(def, &mut FunctionTable::default(), &mut HashSet::new()).unwrap().code
    }

    #[test]
    fn compile_rejects_ops_outside_the_window() {
        // Validation rules these out; `compile` checks again, on the final (fused) ops, because
        // the dispatch loop reads registers without bounds checks on the strength of it.
        let unvalidated = |instructions: Vec<Instruction>, registers: usize| {
            let def = VMFunction::new("f", vec![], vec![], None, registers, instructions, HashMap::new());
            compile(def, &mut FunctionTable::default(), &mut HashSet::new()).map(|_| ())
        };
        assert!(unvalidated(vec![Instruction::ADD(0, 1, 2), Instruction::RET(0)], 3).is_ok());
        for (instructions, registers) in [
            (vec![Instruction::ADD(0, 1, 3), Instruction::RET(0)], 3),
            (vec![Instruction::MOV(5, 0), Instruction::RET(0)], 3),
            (vec![Instruction::RET(3)], 3),
            (
                vec![
                    Instruction::PUSHARG(1),
                    Instruction::PUSHARG(2),
                    Instruction::CALL("g".into()),
                    Instruction::RET(0),
                ],
                2,
            ),
            (vec![Instruction::RET(0)], 0),
            // Control would fall off the end (validation demands a final RET or JMP).
            (vec![Instruction::MOV(0, 0)], 1),
            (vec![Instruction::RET(0), Instruction::ADD(0, 0, 0)], 1),
        ] {
            let error = unvalidated(instructions.clone(), registers).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::Validation, "{instructions:?}");
        }
    }

    #[test]
    fn every_successor_of_every_op_of_a_loaded_program_is_an_op() {
        // The dispatch loop fetches ops unchecked on the strength of `compile`'s check of
        // `Op::successors`; these programs use every fusion (compare-and-jump with and without a
        // constant, counted loops, fused calls, accumulations).
        let mut fused = HashSet::new();
        for text in [
            include_str!("../../../benches/programs/fib.stf"),
            include_str!("../../../benches/programs/loop.stf"),
            include_str!("../../../benches/programs/closure.stf"),
            include_str!("../../../benches/programs/closure_upval.stf"),
            include_str!("../../../benches/programs/array.stf"),
            include_str!("../../../benches/programs/foreign.stf"),
        ] {
            let program = crate::asm::assemble(text).unwrap();
            let mut table = FunctionTable::default();
            for def in program.into_parts().0 {
                let code = compile(def, &mut table, &mut HashSet::new()).unwrap().code;
                for (index, op) in code.iter().enumerate() {
                    fused.insert(std::mem::discriminant(op));
                    for next in op.successors(index).into_iter().flatten() {
                        assert!(next < code.len(), "{op:?} at {index} goes to {next} of {}", code.len());
                    }
                }
            }
        }
        for op in [
            Op::CmpImmJmpLt { imm: 0, a: 0, k: 0, t: 0 },
            Op::AddCmpJmpLt { offset: 0, i: 0, step: 0, limit: 0 },
            Op::CallArgs { n: 1, first: 0, slot: 0 },
            Op::AddTo { d: 0, b: 0 },
            Op::SubImm { imm: 0, d: 0, a: 0, k: 0 },
        ] {
            assert!(fused.contains(&std::mem::discriminant(&op)), "no {op:?} among the programs");
        }
    }

    #[test]
    fn successors_cover_fallbacks_fast_paths_and_targets() {
        assert_eq!(Op::Ret { a: 0 }.successors(4), [None; 3]);
        assert_eq!(Op::Jmp { t: 1 }.successors(4), [Some(1), None, None]);
        assert_eq!(Op::JmpLt { t: 1 }.successors(4), [Some(5), Some(1), None]);
        // Fused: the plain op after it (fallback), past the group (fast path), the target.
        assert_eq!(Op::CmpJmpEq { a: 0, b: 1, t: 9 }.successors(4), [Some(5), Some(6), Some(9)]);
        assert_eq!(Op::CmpImmJmpGt { imm: 2, a: 0, k: 1, t: 9 }.successors(4), [Some(5), Some(7), Some(9)]);
        assert_eq!(
            Op::AddCmpJmpLt { offset: -3, i: 0, step: 1, limit: 2 }.successors(4),
            [Some(5), Some(7), Some(1)]
        );
        assert_eq!(Op::AddImm { imm: 1, d: 0, a: 0, k: 1 }.successors(4), [Some(5), Some(6), None]);
        assert_eq!(Op::CallArgs { n: 2, first: 1, slot: 0 }.successors(4), [Some(5), Some(7), None]);
        assert_eq!(Op::Add { d: 0, a: 1, b: 2 }.successors(4), [Some(5), None, None]);
    }

    #[test]
    fn compare_and_jump_pairs_fuse_but_keep_the_jump() {
        let code = compiled(
            vec![Instruction::CMP(0, 1), Instruction::JMPLT("top".into()), Instruction::RET(0)],
            &[("top", 0)],
        );
        assert_eq!(code[0], Op::CmpJmpLt { a: 0, b: 1, t: 0 });
        assert_eq!(code[1], Op::JmpLt { t: 0 });
    }

    #[test]
    fn a_jump_that_is_a_target_is_not_fused() {
        let code = compiled(
            vec![Instruction::CMP(0, 1), Instruction::JMPEQ("here".into()), Instruction::RET(0)],
            &[("here", 1)],
        );
        assert_eq!(code[0], Op::Cmp { a: 0, b: 1 });
    }

    #[test]
    fn small_constants_fuse_with_the_instruction_that_reads_them_second() {
        let code = compiled(
            vec![
                Instruction::LDI(1, Value::Int(2)),
                Instruction::CMP(0, 1),
                Instruction::JMPLT("end".into()),
                Instruction::LDI(1, Value::Int(-1)),
                Instruction::SUB(0, 0, 1),
                Instruction::LDI(1, Value::Int(3)),
                Instruction::ADD(0, 0, 1),
                Instruction::RET(0),
            ],
            &[("end", 7)],
        );
        assert_eq!(code[0], Op::CmpImmJmpLt { imm: 2, a: 0, k: 1, t: 7 });
        assert_eq!(code[1], Op::CmpJmpLt { a: 0, b: 1, t: 7 });
        assert_eq!(code[3], Op::SubImm { imm: -1, d: 0, a: 0, k: 1 });
        assert_eq!(code[4], Op::Sub { d: 0, a: 0, b: 1 });
        assert_eq!(code[5], Op::AddImm { imm: 3, d: 0, a: 0, k: 1 });
    }

    #[test]
    fn a_counted_loop_step_fuses_with_its_compare_and_jump() {
        let code = compiled(
            vec![
                Instruction::ADD(0, 0, 1),
                Instruction::CMP(0, 1),
                Instruction::JMPLT("top".into()),
                Instruction::ADD(1, 0, 1),
                Instruction::CMP(1, 0),
                Instruction::JMPGT("top".into()),
                Instruction::ADD(0, 0, 1),
                Instruction::CMP(1, 0),
                Instruction::JMPNEQ("end".into()),
                Instruction::RET(0),
            ],
            &[("top", 0), ("end", 9)],
        );
        assert_eq!(code[0], Op::AddCmpJmpLt { offset: 0, i: 0, step: 1, limit: 1 });
        assert_eq!(code[1], Op::CmpJmpLt { a: 0, b: 1, t: 0 }, "the compare stays for fallbacks");
        // Not in place (ADD 1, 0, 1), or the compare tests another register: not fused.
        assert_eq!(code[3], Op::Add { d: 1, a: 0, b: 1 });
        assert_eq!(code[6], Op::AddTo { d: 0, b: 1 }, "an accumulation no fusion took");
        // A step whose compare jumps forward is no loop's: not fused.
        let code = compiled(
            vec![
                Instruction::ADD(0, 0, 1),
                Instruction::CMP(0, 1),
                Instruction::JMPLT("end".into()),
                Instruction::RET(1),
                Instruction::RET(0),
            ],
            &[("end", 4)],
        );
        assert_eq!(code[0], Op::AddTo { d: 0, b: 1 });
    }

    #[test]
    fn constants_that_do_not_fit_or_registers_read_first_are_not_fused() {
        let code = compiled(
            vec![
                Instruction::LDI(1, Value::Int(1000)),
                Instruction::ADD(0, 0, 1),
                Instruction::LDI(1, Value::Int(1)),
                Instruction::SUB(0, 1, 0),
                Instruction::LDI(1, Value::Int(1)),
                Instruction::ADD(1, 1, 1),
                Instruction::LDI(1, Value::Float(1.0)),
                Instruction::ADD(0, 0, 1),
                Instruction::LDI(1, Value::Int(1)),
                Instruction::ADD(0, 0, 1),
                Instruction::RET(0),
            ],
            &[("target", 9)],
        );
        for (index, op) in code.iter().enumerate() {
            assert!(
                !matches!(op, Op::AddImm { .. } | Op::SubImm { .. }),
                "instruction {index} was fused: {op:?}"
            );
        }
    }

    #[test]
    fn calls_fuse_only_where_nothing_else_is_pending_on_any_path() {
        let call = || Instruction::CALL("g".into());
        let fused = |code: &[Op], index: usize| matches!(code[index], Op::CallArgs { .. });
        // Nothing pending: fused; then a push before a group that stays pending: not fused.
        let code = compiled(
            vec![
                Instruction::PUSHARG(0),
                call(),
                Instruction::PUSHARG(0),
                Instruction::LDI(1, Value::Int(1)),
                Instruction::PUSHARG(1),
                call(),
                Instruction::RET(0),
            ],
            &[],
        );
        assert!(fused(&code, 0));
        assert!(!fused(&code, 4), "r0 is still pending at the group: {:?}", code[4]);
        // A label reached with and without a push before it: the counts disagree.
        let code = compiled(
            vec![
                Instruction::CMP(0, 1),
                Instruction::JMPEQ("group".into()),
                Instruction::PUSHARG(0),
                Instruction::PUSHARG(1),
                call(),
                Instruction::RET(0),
            ],
            &[("group", 3)],
        );
        assert!(!fused(&code, 3), "{:?}", code[3]);
        // A loop that pushes without calling: the count varies at its top.
        let code = compiled(
            vec![
                Instruction::PUSHARG(0),
                Instruction::CMP(0, 1),
                Instruction::JMPLT("top".into()),
                Instruction::PUSHARG(1),
                call(),
                Instruction::RET(0),
            ],
            &[("top", 0)],
        );
        assert!(!fused(&code, 3), "{:?}", code[3]);
        assert_eq!(
            pending_counts(&[Op::PushArg { a: 0 }, Op::Call { slot: 0 }, Op::Ret { a: 0 }]),
            [Some(0), Some(1), Some(0)]
        );
    }
}
