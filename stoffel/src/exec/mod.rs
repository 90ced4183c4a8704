//! The dispatch loop: one `loop { match op { .. } }` over resolved `Op`s, instantiated three
//! times — plain (no event or fuel code at all), metered (fuel) and traced (every hook event
//! fires) — switching when hooks are enabled or disabled. Handlers live by family in `arith`
//! and `call`; superinstructions (fused `CMP` + jump) run only untraced.

pub(crate) mod arith;
pub(crate) mod assigned;
pub(crate) mod call;
pub(crate) mod resolve;

use std::hint::cold_path;
use std::sync::Arc;

use crate::activation::{CompareFlag, FrameClosure, EAGER};
use crate::closure::Upvalue;
use crate::error::{Error, ErrorKind};
use crate::hooks::HookEvent;
use crate::signals::{HOOKS, INTERRUPT};
use crate::state::Callable;
use crate::state::VMState;
use crate::stdlib::Inline;
use crate::value::Value;
use call::MAX_REGISTER_STACK;
use call::{out_of_fuel, Arguments, Called};
use resolve::{CompiledFunction, Op, RESET_ALL};

/// Why the loop stopped.
enum Exit {
    /// The entry frame returned.
    Return(Value),
    /// Hooks were enabled or disabled: continue in the other loop.
    Switch,
}

#[cold]
pub(crate) fn lost_window() -> Error {
    Error::new(ErrorKind::Usage, "a frame's registers are missing")
}

#[cold]
fn interrupted() -> Error {
    Error::new(ErrorKind::Interrupted, "execution interrupted by the host")
}

// Register writes. A `Value` written piecewise (tag byte, then payload) and read back whole
// (or the reverse) defeats the CPU's store-to-load forwarding: perf on fib showed half the
// call time stalled there. So ints, the common case, move as ints: read tag and payload,
// write only the payload when the register already holds an int.

/// Writes an int into a register; a plain store when it already holds an int.
#[inline(always)]
pub(crate) fn set_int(register: &mut Value, value: i64) {
    match register {
        Value::Int(old) => *old = value,
        other => replace(other, Value::Int(value)),
    }
}

/// Writes unit into a register, reading only the tag of what it held.
#[inline(always)]
pub(crate) fn set_unit(register: &mut Value) {
    if register.is_scalar() {
        // Nothing to drop; said so (an assignment calls the drop glue, out of line).
        std::mem::forget(std::mem::replace(register, Value::Unit));
    } else {
        replace(register, Value::Unit);
    }
}

/// Writes `value` into a register. Scalars are rebuilt from their parts rather than moved
/// whole: a value returned through memory (a builtin's result) was written piecewise. A
/// reference counts in `ref_writes` (`VMState::ref_writes`: its frame's registers must then be
/// reset on return).
#[inline(always)]
pub(crate) fn store(register: &mut Value, value: Value, ref_writes: &mut u64) {
    // Ints first, with a plain compare: as one `match`, this was a jump table on the tag, a
    // second indirect jump after every builtin call.
    if let Value::Int(int) = value {
        set_int(register, int);
        // Nothing to drop; said so, or the value's drop glue is still called (out of line).
        std::mem::forget(value);
        return;
    }
    // Out of line, or LLVM folds the test back into the jump table.
    cold_path();
    match value {
        Value::Int(int) => set_int(register, int),
        Value::Unit => replace(register, Value::Unit),
        Value::Bool(bool) => replace(register, Value::Bool(bool)),
        Value::Float(float) => replace(register, Value::Float(float)),
        other => {
            *ref_writes += 1;
            replace(register, other)
        }
    }
}

/// Copies `source` into a register (`LDI`, `LD`), counting a reference as `store` does.
#[inline(always)]
fn assign(register: &mut Value, source: &Value, ref_writes: &mut u64) {
    match source {
        Value::Int(int) => set_int(register, *int),
        other => {
            if !other.is_scalar() {
                *ref_writes += 1;
            }
            replace(register, other.clone())
        }
    }
}

/// Writes a register's value into an upvalue cell, an int as an int: built into a `Value`,
/// it was copied whole (16 bytes) right after `ADD` wrote its payload, and stalled store
/// forwarding (perf, closure cases).
#[inline(always)]
fn write_upvalue(upvalue: &Upvalue, source: &Value) {
    match *source {
        Value::Int(int) => upvalue.cell.set_int(int),
        ref other => discard(upvalue.set(other.clone())),
    }
}

/// Pushes a copy of `source` (an argument) onto a stack.
#[inline(always)]
pub(crate) fn push_copy(stack: &mut Vec<Value>, source: &Value) {
    match source {
        Value::Int(int) => stack.push(Value::Int(*int)),
        other => stack.push(other.clone()),
    }
}

#[inline(always)]
fn replace(register: &mut Value, value: Value) {
    discard(std::mem::replace(register, value));
}

/// Drops a value, calling drop glue only for reference values (the compiler's glue for
/// `Value` is an out-of-line call even for an int).
#[inline(always)]
pub(crate) fn discard(value: Value) {
    if value.is_scalar() {
        std::mem::forget(value);
    } else {
        drop_reference(value);
    }
}

/// Drops a reference value out of line: its drop glue (a count decrement and a free for each
/// kind) inlined at every register write was a tenth of the dispatch loop's code.
#[inline(never)]
fn drop_reference(value: Value) {
    drop(value);
}

impl VMState {
    /// Runs until the frame stack returns to `entry_depth` frames.
    pub(crate) fn run(&mut self, entry_depth: usize) -> Result<Value, Error> {
        loop {
            let exit = match (self.hooks_active(), self.metered) {
                (false, false) => self.run_loop::<false, false>(entry_depth),
                (false, true) => self.run_loop::<false, true>(entry_depth),
                (true, _) => {
                    // Hooks see registers: none may show what an earlier call left.
                    self.settle_frames();
                    self.run_loop::<true, true>(entry_depth)
                }
            };
            match exit {
                Ok(Exit::Return(value)) => return Ok(value),
                Ok(Exit::Switch) => continue,
                Err(error) => return Err(self.locate(error)),
            }
        }
    }

    /// The loop. `TRACED` fires hook events; `METERED` counts fuel per instruction. The plain
    /// instantiation (neither) carries no code for either.
    fn run_loop<const TRACED: bool, const METERED: bool>(
        &mut self,
        entry_depth: usize,
    ) -> Result<Exit, Error> {
        let signals = Arc::clone(&self.signals);
        // The signal word while this loop has nothing to notice.
        let quiet = if TRACED { HOOKS } else { 0 };
        let mut fuel = self.fuel;
        'frames: loop {
            let Some(frame) = self.frames.last() else {
                return Err(Error::new(ErrorKind::Usage, "no frame to run"));
            };
            // Borrowed, not cloned: no reference-count traffic per call. Whatever mutates the
            // frame stack (`call_slot`, `RET`) ends this borrow and reloads through 'frames.
            let mut function: &CompiledFunction = &frame.function;
            let mut code: &[Op] = &function.code;
            let mut base = frame.base;
            let mut pc = frame.pc.get();
            let mut flag = frame.compare_flag.get();

            // Saves the frame's position and the fuel before anything that may look at them.
            // (Unmetered, `fuel` never changes: not written back, so it is no live value of the
            // plain loop, which is short of registers: `pc` was kept in memory.)
            macro_rules! save {
                ($at:expr) => {{
                    if METERED {
                        self.fuel = fuel;
                    }
                    if let Some(frame) = self.frames.last() {
                        frame.pc.set($at);
                        frame.compare_flag.set(flag);
                    }
                }};
            }
            // Leaves the loop with an error located at the current instruction.
            macro_rules! fail {
                ($error:expr) => {{
                    let error = $error;
                    save!(pc);
                    return Err(self.locate(error));
                }};
            }
            macro_rules! tri {
                ($result:expr) => {
                    match $result {
                        Ok(value) => value,
                        Err(error) => fail!(error),
                    }
                };
            }
            // The frame's registers as a local slice, exactly `register_count` long (checked
            // here and at every `reload!`). Whatever borrows all of `self` ends the borrow;
            // `reload!` takes the window again.
            let Some(mut regs) = self.registers.window(base, function.def.register_count) else {
                return Err(lost_window());
            };
            // Register access without bounds checks (they were a sixth of the loop's
            // instructions, callgrind). Only ever given register operands of `function`'s ops.
            macro_rules! reg {
                ($r:expr) => {{
                    let index = usize::from($r);
                    debug_assert!(index < regs.len());
                    // SAFETY: `index` is a register operand of an op of `function.code` (or r0),
                    // `compile` rejected every function whose ops reach a register at or above
                    // `register_count` (or that has none), and `regs` is exactly
                    // `register_count` long (checked where it is taken and at every `reload!`).
                    unsafe { regs.get_unchecked(index) }
                }};
            }
            macro_rules! reg_mut {
                ($r:expr) => {{
                    let index = usize::from($r);
                    debug_assert!(index < regs.len());
                    // SAFETY: as in `reg!`.
                    unsafe { regs.get_unchecked_mut(index) }
                }};
            }
            macro_rules! reload {
                () => {
                    regs = match self.registers.window(base, function.def.register_count) {
                        Some(window) => window,
                        None => return Err(lost_window()),
                    }
                };
            }
            macro_rules! binary {
                ($handler:path, $d:expr, $a:expr, $b:expr) => {{
                    let value = tri!(arith::out_of_line($handler, reg!($a), reg!($b)));
                    store(reg_mut!($d), value, &mut self.ref_writes);
                }};
            }
            // Int op int inline; everything else (and overflow) through the full handler.
            macro_rules! binary_int {
                ($handler:path, $checked:ident, $d:expr, $a:expr, $b:expr) => {{
                    let fast = match (reg!($a), reg!($b)) {
                        (Value::Int(x), Value::Int(y)) => x.$checked(*y),
                        _ => None,
                    };
                    match fast {
                        Some(result) => set_int(reg_mut!($d), result),
                        None => {
                            cold_path();
                            binary!($handler, $d, $a, $b)
                        }
                    }
                }};
            }
            macro_rules! compare {
                ($a:expr, $b:expr) => {
                    match (reg!($a), reg!($b)) {
                        (Value::Int(x), Value::Int(y)) => CompareFlag::from_ordering(Some(x.cmp(y))),
                        (x, y) => {
                            cold_path();
                            CompareFlag::from_ordering(x.compare(y))
                        }
                    }
                };
            }
            // A fused `CMP` + conditional jump: one dispatch for the pair. Traced runs execute
            // it as the plain `CMP` and go on to the jump, so every event still fires.
            macro_rules! compare_and_jump {
                ($a:expr, $b:expr, $t:expr, $taken:expr) => {{
                    flag = compare!($a, $b);
                    if !TRACED {
                        pc += 1;
                        if METERED {
                            if fuel == 0 {
                                fail!(out_of_fuel());
                            }
                            fuel -= 1;
                        }
                        if $taken(flag) {
                            jump!($t)
                        }
                    }
                }};
            }
            // `LDI k, imm` fused with the arithmetic after it: the load always happens (it is
            // all traced and metered runs do here); the fast path then does the next
            // instruction's work and skips it, anything else leaves it to run normally.
            macro_rules! step_with_constant {
                ($imm:expr, $d:expr, $a:expr, $k:expr, $checked:ident) => {{
                    let imm = i64::from($imm);
                    set_int(reg_mut!($k), imm);
                    if !TRACED && !METERED {
                        if let Value::Int(x) = *reg!($a) {
                            if let Some(result) = x.$checked(imm) {
                                set_int(reg_mut!($d), result);
                                pc += 1;
                            }
                        }
                    }
                }};
            }
            // `LDI k, imm` fused with the compare-and-jump after it (and its plain jump).
            // `$taken` decides on the ints; `$flag` is the flag a taken jump implies, so the
            // flag is built from the comparison only on the other path (as the counted loop's
            // step does: fib −2 instructions per call).
            macro_rules! compare_with_constant {
                ($imm:expr, $a:expr, $k:expr, $t:expr, $taken:expr, $flag:expr) => {{
                    let imm = i64::from($imm);
                    set_int(reg_mut!($k), imm);
                    if !TRACED && !METERED {
                        if let Value::Int(x) = *reg!($a) {
                            pc += 2;
                            if $taken(x, imm) {
                                flag = $flag(x, imm);
                                jump!($t)
                            } else {
                                flag = CompareFlag::from_ordering(Some(x.cmp(&imm)));
                            }
                        }
                    }
                }};
            }
            // Runs a `MOV d, a` of an int at `pc` (a call's result kept: `CALL f` + `MOV d, r0`)
            // from a test of its kind, where a call ends: at the frame head (a VM call returned,
            // see there) and after a fused host call (foreign −6 instructions, −2.5% time). Not
            // after the in-loop builtins: there it cost every case 3–8% (layout).
            macro_rules! keep_result {
                () => {{
                    // SAFETY: as at the fetch: `pc` is where the frame goes on, an op's successor.
                    if let Op::Mov { d, a } = *unsafe { code.get_unchecked(pc) } {
                        if let Value::Int(int) = *reg!(a) {
                            set_int(reg_mut!(d), int);
                            pc += 1;
                        }
                    }
                }};
            }
            // Goes on at `target`, the top of a counted loop, after its back edge polled: an
            // accumulation (`ADD d, d, b`) there runs right here, from a test of its kind, not
            // through the dispatch. That dispatch's one indirect jump, taken by every
            // instruction, costs more than a predicted branch: the loop case (an accumulation,
            // then the fused step) takes 0.8x the time with one indirect jump per iteration
            // instead of two. Only this kind and only this back edge: `ADD`/`SUB` as well, the
            // other backward jumps as well, or the fused call as well each grew the loop's code
            // and cost the other cases more than they saved (session 9, README).
            macro_rules! loop_top {
                ($target:expr) => {{
                    let target: usize = $target;
                    pc = target;
                    // SAFETY: as at the fetch: `target` is a jump target, which `compile`
                    // checked to lie in the code.
                    match *unsafe { code.get_unchecked(target) } {
                        Op::AddTo { d, b } => add_to!(d, b),
                        // Everything else through the dispatch (one before: every instruction
                        // ends with `pc += 1`).
                        _ => pc = target.wrapping_sub(1),
                    }
                }};
            }
            // `ADD d, d, b` in place: `d` checked and written through one reference.
            macro_rules! add_to {
                ($d:expr, $b:expr) => {{
                    let step = match reg!($b) {
                        Value::Int(step) => Some(*step),
                        _ => None,
                    };
                    let sum = match (step, reg_mut!($d)) {
                        (Some(step), Value::Int(total)) => total.checked_add(step).map(|sum| *total = sum),
                        _ => None,
                    };
                    if sum.is_none() {
                        cold_path();
                        binary!(arith::add, $d, $d, $b)
                    }
                }};
            }
            // `ADD i, i, step` fused with the compare-and-jump on the new `i` after it.
            // `$taken` decides on the ints; `$flag` is the flag a taken jump implies. The flag
            // is built from the comparison only where it is not known: materialised first and
            // tested after, it was five instructions before the branch of every iteration.
            macro_rules! add_compare_and_jump {
                ($offset:expr, $i:expr, $step:expr, $limit:expr, $taken:expr, $flag:expr) => {{
                    // `step` and `limit` copied first (`step` may be `i`; `limit` never is), so
                    // `i` is checked and written through one reference.
                    let operands = match (reg!($step), reg!($limit)) {
                        (Value::Int(step), Value::Int(limit)) => Some((*step, *limit)),
                        _ => None,
                    };
                    let mut fast = None;
                    if !TRACED && !METERED {
                        if let (Some((step, limit)), Value::Int(i)) = (operands, reg_mut!($i)) {
                            if let Some(next) = i.checked_add(step) {
                                *i = next;
                                fast = Some((next, limit));
                            }
                        }
                    }
                    match fast {
                        Some((next, limit)) => {
                            pc += 2;
                            if $taken(next, limit) {
                                flag = $flag(next, limit);
                                // Back to the loop's top (`offset <= 0`, see
                                // `fuse_counted_loops`): a poll without the direction test.
                                let target = (pc - 2).wrapping_add_signed(isize::from($offset));
                                poll_backward!(target);
                                loop_top!(target);
                            } else {
                                flag = CompareFlag::from_ordering(Some(next.cmp(&limit)));
                            }
                        }
                        None => binary!(arith::add, $i, $i, $step),
                    }
                }};
            }
            // The poll: one load and compare while there is nothing to notice; then an
            // interrupt is taken (`$interrupted`) or the loop switches (`$switch`: hooks were
            // enabled or disabled).
            macro_rules! poll {
                ($interrupted:expr, $switch:expr) => {{
                    let word = signals.load();
                    if word != quiet {
                        cold_path();
                        if word & INTERRUPT != 0 && signals.take_interrupt() {
                            $interrupted
                        }
                        if (word & HOOKS != 0) != TRACED {
                            $switch
                        }
                    }
                }};
            }
            // Polls for cancellation by the host and hook changes after a VM call returned to
            // `$caller` (still at its `CALL`, where an interrupt is located): with the polls at
            // backward jumps, every run that goes on reaches one soon (recursion returns or
            // meets the depth limit), so calls themselves need none.
            macro_rules! poll_return {
                ($caller:expr) => {
                    poll!(return Err(self.locate(interrupted())), {
                        $caller.pc.set($caller.pc.get() + 1);
                        return Ok(Exit::Switch);
                    })
                };
            }
            // Enters a VM function from the fused call ending at `call_at`.
            macro_rules! enter {
                ($slot:expr, $args:expr, $closure:expr, $call_at:expr) => {{
                    save!($call_at);
                    match self.enter_vm($slot, Arguments::InPlace($args), $closure) {
                        Ok(()) => continue 'frames,
                        Err(error) => {
                            pc = $call_at;
                            fail!(error)
                        }
                    }
                }};
            }
            // Enters VM function `$callee` (in `$slot`) with the arguments in registers `$args`
            // (absolute indices): the common call, done here rather than through `enter_vm`
            // (fib: a tenth fewer instructions per call). Anything unusual takes `enter!`, whose
            // `enter_vm` reports it.
            macro_rules! enter_fast {
                ($callee:expr, $slot:expr, $args:expr, $given:expr, $closure:expr, $call_at:expr) => {{
                    let callee: &Arc<CompiledFunction> = $callee;
                    let args: std::ops::Range<usize> = $args;
                    let count = callee.def.register_count;
                    // `can_enter`, with the register limit tested only when the stack grows
                    // (it never grows past the limit, so a window within it is within it).
                    let closure: FrameClosure = $closure;
                    let Some(new_base) = (if self.takes(callee, $given) {
                        self.registers.open_within(count, MAX_REGISTER_STACK)
                    } else {
                        None
                    }) else {
                        let closure = closure.into_owned(&self.frames);
                        enter!($slot, args, closure, $call_at)
                    };
                    // The window may hold what an earlier call left (scalars, string constants):
                    // reset what the callee may read before writing. With no reference among the
                    // arguments its registers may be left as they are on return (see
                    // `assigned`; counted before the arguments, so a reference among them makes
                    // the count differ).
                    let ref_epoch = match callee.entry_reset {
                        0 => self.ref_writes,
                        RESET_ALL => {
                            self.registers.reset_stale(new_base..new_base + count);
                            EAGER
                        }
                        reset => {
                            self.registers.reset_listed(new_base, reset);
                            self.ref_writes
                        }
                    };
                    self.registers.pass(args, new_base, &mut self.ref_writes);
                    save!($call_at);
                    // The caller has nothing pending (see `CallArgs`): the callee's pending
                    // arguments start where the caller's do.
                    let args_base = self.pending_args.len();
                    self.frames.push(callee, new_base, args_base, closure, ref_epoch);
                    // Switched to here, not through 'frames: everything the callee's frame
                    // holds is at hand, and reading it back from the record just written made
                    // a chain of dependent loads before its first instruction.
                    function = callee;
                    code = &function.code;
                    base = new_base;
                    pc = 0;
                    flag = CompareFlag::Equal;
                    reload!();
                    continue;
                }};
            }
            // Backward jumps close loops: they poll for cancellation and hook changes.
            macro_rules! poll_backward {
                ($target:expr) => {
                    poll!(fail!(interrupted()), {
                        save!($target);
                        return Ok(Exit::Switch);
                    })
                };
            }
            macro_rules! jump {
                ($t:expr) => {{
                    let target = $t as usize;
                    if target <= pc {
                        poll_backward!(target);
                    }
                    // One before: every instruction ends with `pc += 1`.
                    pc = target.wrapping_sub(1);
                }};
            }

            // Back in a caller (or entering a frame): a `MOV d, a` of an int there (a caller
            // keeping a call's result, `CALL f` + `MOV d, r0`) runs right here, from a test of
            // its kind, not through the dispatch. The indirect jump that dispatched after
            // every return went wherever the caller went on, and cost more than its instructions
            // (no hardware counters here to say which part): fib takes 0.92x the time with this
            // test, which adds two instructions per call.
            if !TRACED && !METERED {
                keep_result!();
            }
            loop {
                debug_assert!(pc < code.len(), "pc {pc} past {} ops", code.len());
                // SAFETY: `pc` is always an index into `code`: a frame starts at 0 (no body is
                // empty), and every other value it takes is a successor of the op that ran
                // (`Op::successors`: the next op, a jump target, past a fused group, after a
                // `CALL` on return), all of which `compile` checked to lie in the code. The
                // bounds check cost three instructions per dispatch and kept the code pointer
                // and the register window out of registers (fib −7% time, loop −8 instructions
                // an iteration).
                let op = unsafe { code.get_unchecked(pc) };
                // The instruction's own index, for the traced events after it (a taken jump
                // has moved `pc` by then).
                let at = pc;
                let mut dest_old = None;
                if TRACED {
                    save!(at);
                    let args_base = self.frames.args_base();
                    dest_old = match self.trace_before(function, at, args_base) {
                        Ok(old) => old,
                        Err(error) => return Err(self.locate(error)),
                    };
                    reload!();
                }
                if METERED {
                    if fuel == 0 {
                        fail!(out_of_fuel());
                    }
                    fuel -= 1;
                }
                match *op {
                    Op::Ld { d, k } => {
                        // From the record: the plain loop keeps no `args_base` at hand.
                        let args_base = self.frames.args_base();
                        let top = self.pending_args.len() as i64 - 1;
                        let index = top + i64::from(k);
                        if index < args_base as i64 {
                            let available = self.pending_args.len() - args_base;
                            fail!(Error::bounds(format!(
                                "LD [sp{k:+}] is outside the {available} pending argument(s) of this frame"
                            )));
                        }
                        assign(reg_mut!(d), &self.pending_args[index as usize], &mut self.ref_writes);
                    }
                    Op::Ldi { d, c } => match &function.constants[c as usize] {
                        // A string constant is the VM's interned copy, alive for as long as the
                        // VM: it may stay behind in a returned call's registers (not counted in
                        // `ref_writes`), and when it is still there the load is a pointer test,
                        // no count taken (the key of a `get_field`, a `get_upvalue` name).
                        Value::String(constant) => match reg_mut!(d) {
                            // Over another string only the pointer changes: the whole old value,
                            // moved out as 16 bytes after an `LDI` wrote it as tag and pointer,
                            // stalled store forwarding (perf: a sixth of the object case).
                            Value::String(held) => {
                                if !held.is(constant) {
                                    drop(std::mem::replace(held, constant.clone()));
                                }
                            }
                            register => replace(register, Value::String(constant.clone())),
                        },
                        other => assign(reg_mut!(d), other, &mut self.ref_writes),
                    },
                    Op::Mov { d, a } => match *reg!(a) {
                        Value::Int(int) => set_int(reg_mut!(d), int),
                        ref other => {
                            if !other.is_scalar() {
                                self.ref_writes += 1;
                            }
                            let value = other.clone();
                            replace(reg_mut!(d), value);
                        }
                    },
                    Op::Add { d, a, b } => binary_int!(arith::add, checked_add, d, a, b),
                    Op::AddTo { d, b } => add_to!(d, b),
                    Op::Sub { d, a, b } => binary_int!(arith::sub, checked_sub, d, a, b),
                    Op::AddImm { imm, d, a, k } => step_with_constant!(imm, d, a, k, checked_add),
                    Op::SubImm { imm, d, a, k } => step_with_constant!(imm, d, a, k, checked_sub),
                    Op::CmpImmJmpEq { imm, a, k, t } => {
                        compare_with_constant!(imm, a, k, t, |x, y| x == y, |_, _| CompareFlag::Equal)
                    }
                    Op::CmpImmJmpNeq { imm, a, k, t } => {
                        compare_with_constant!(imm, a, k, t, |x, y| x != y, |x: i64, y: i64| {
                            CompareFlag::from_ordering(Some(x.cmp(&y)))
                        })
                    }
                    Op::CmpImmJmpLt { imm, a, k, t } => {
                        compare_with_constant!(imm, a, k, t, |x, y| x < y, |_, _| CompareFlag::Less)
                    }
                    Op::CmpImmJmpGt { imm, a, k, t } => {
                        compare_with_constant!(imm, a, k, t, |x, y| x > y, |_, _| CompareFlag::Greater)
                    }
                    Op::Mul { d, a, b } => binary_int!(arith::mul, checked_mul, d, a, b),
                    Op::Div { d, a, b } => binary!(arith::div, d, a, b),
                    Op::Mod { d, a, b } => binary!(arith::rem, d, a, b),
                    Op::And { d, a, b } => binary!(arith::and, d, a, b),
                    Op::Or { d, a, b } => binary!(arith::or, d, a, b),
                    Op::Xor { d, a, b } => binary!(arith::xor, d, a, b),
                    Op::Shl { d, a, b } => binary!(arith::shl, d, a, b),
                    Op::Shr { d, a, b } => binary!(arith::shr, d, a, b),
                    Op::Not { d, a } => {
                        let value = tri!(arith::not(reg!(a)));
                        store(reg_mut!(d), value, &mut self.ref_writes);
                    }
                    Op::Cmp { a, b } => flag = compare!(a, b),
                    Op::CmpJmpEq { a, b, t } => compare_and_jump!(a, b, t, |f| f == CompareFlag::Equal),
                    Op::CmpJmpNeq { a, b, t } => compare_and_jump!(a, b, t, |f| f != CompareFlag::Equal),
                    Op::CmpJmpLt { a, b, t } => compare_and_jump!(a, b, t, |f| f == CompareFlag::Less),
                    Op::CmpJmpGt { a, b, t } => compare_and_jump!(a, b, t, |f| f == CompareFlag::Greater),
                    Op::Jmp { t } => jump!(t),
                    Op::JmpEq { t } => {
                        if flag == CompareFlag::Equal {
                            jump!(t)
                        }
                    }
                    Op::JmpNeq { t } => {
                        if flag != CompareFlag::Equal {
                            jump!(t)
                        }
                    }
                    Op::JmpLt { t } => {
                        if flag == CompareFlag::Less {
                            jump!(t)
                        }
                    }
                    Op::JmpGt { t } => {
                        if flag == CompareFlag::Greater {
                            jump!(t)
                        }
                    }
                    Op::AddCmpJmpEq { offset, i, step, limit } => {
                        add_compare_and_jump!(offset, i, step, limit, |a, b| a == b, |_, _| {
                            CompareFlag::Equal
                        })
                    }
                    Op::AddCmpJmpNeq { offset, i, step, limit } => {
                        add_compare_and_jump!(offset, i, step, limit, |a, b| a != b, |a: i64, b: i64| {
                            CompareFlag::from_ordering(Some(a.cmp(&b)))
                        })
                    }
                    Op::AddCmpJmpLt { offset, i, step, limit } => {
                        add_compare_and_jump!(offset, i, step, limit, |a, b| a < b, |_, _| CompareFlag::Less)
                    }
                    Op::AddCmpJmpGt { offset, i, step, limit } => {
                        add_compare_and_jump!(offset, i, step, limit, |a, b| a > b, |_, _| {
                            CompareFlag::Greater
                        })
                    }
                    Op::PushArg { a } => push_copy(&mut self.pending_args, reg!(a)),
                    Op::CallArgs { n, first, slot } => {
                        // The fused form serves the plain loop (traced and metered runs, and
                        // calls it does not serve, run the plain `PUSHARG first`). `compile`
                        // fused only where the frame has nothing else pending on any path, so
                        // there is no run-time test for that (`pending_counts`).
                        if !TRACED && !METERED {
                            debug_assert_eq!(
                                self.pending_args.len(),
                                self.frames.args_base(),
                                "a fused call with arguments pending"
                            );
                            // `pc` has not moved since the fetch (`at` would keep one more value
                            // alive through the plain loop, spilled on every dispatch).
                            let call_at = pc + usize::from(n);
                            let args = base + usize::from(first)..base + usize::from(first) + usize::from(n);
                            // VM functions first, from their own table (see `FunctionTable::vm`).
                            if let Some(callee) = self.functions.vm(slot) {
                                enter_fast!(
                                    callee,
                                    slot,
                                    args,
                                    usize::from(n),
                                    FrameClosure::Without,
                                    call_at
                                )
                            }
                            match self.functions.get(slot).map(|(_, callable)| callable) {
                                Some(&Callable::Builtin(inline, builtin)) => {
                                    // Direct builtins read the state and their arguments in
                                    // place; this frame stays borrowed, so no reload.
                                    // Errors are located at the CALL.
                                    pc = call_at;
                                    // (No hook is enabled: this is the plain loop, which
                                    // switches at the next poll when one is, as it does for
                                    // every other event.)
                                    if inline != Inline::No {
                                        // `first + 1` is the last register of a two-argument
                                        // group, inside the window (`compile` checked it).
                                        let second = usize::from(first) + 1;
                                        // Each arm stores its own result, an int as an int:
                                        // one `Option<Value>` for all arms was merged through
                                        // memory byte by byte and stalled (perf, closure case).
                                        macro_rules! deliver {
                                            ($value:expr) => {{
                                                let delivered: Option<Value> = $value;
                                                match delivered {
                                                    Some(Value::Int(int)) => {
                                                        set_int(reg_mut!(0u16), int);
                                                        // An int: nothing to drop, said so (or
                                                        // the glue is called, out of line).
                                                        // Not left to `store`: moving the value
                                                        // out of the `Option` copied it whole
                                                        // (array +23%, closure +13%, A/B).
                                                        std::mem::forget(delivered);
                                                        true
                                                    }
                                                    Some(value) => {
                                                        store(reg_mut!(0u16), value, &mut self.ref_writes);
                                                        true
                                                    }
                                                    None => false,
                                                }
                                            }};
                                        }
                                        // The array is taken mutably (unshared, it needs no
                                        // lock), so the other argument is read first.
                                        let done = match (inline, n, reg!(first)) {
                                            (Inline::GetField, 2, Value::Array(_)) => {
                                                let index = match *reg!(second) {
                                                    Value::Int(index) => Some(index),
                                                    _ => None,
                                                };
                                                match (index, reg_mut!(first)) {
                                                    (Some(index), Value::Array(array)) => {
                                                        deliver!(array.element(index))
                                                    }
                                                    _ => false,
                                                }
                                            }
                                            (Inline::GetField, 2, Value::Object(_)) => {
                                                // The key read where it lies, beside the
                                                // object taken mutably (see `ObjectRef::field`).
                                                let (objects, keys) = regs.split_at_mut(second);
                                                match (&mut objects[usize::from(first)], &keys[0]) {
                                                    (Value::Object(object), key) => {
                                                        deliver!(object.field(key))
                                                    }
                                                    _ => false,
                                                }
                                            }
                                            (Inline::SetField, 3, Value::Object(_)) => {
                                                // Key and value read where they lie (`first + 2`
                                                // ends the group: in the window).
                                                let (objects, rest) = regs.split_at_mut(second);
                                                let written = match (
                                                    &mut objects[usize::from(first)],
                                                    &rest[0],
                                                    &rest[1],
                                                ) {
                                                    (Value::Object(object), key, value) => {
                                                        object.write_field(key, value)
                                                    }
                                                    _ => false,
                                                };
                                                if written {
                                                    set_unit(reg_mut!(0u16));
                                                }
                                                written
                                            }
                                            (Inline::ArrayPush, 2, Value::Array(_)) => {
                                                // An int is pushed as an int: copied as a
                                                // `Value`, the register was read whole right
                                                // after its payload was written (a stall, perf).
                                                let pushed = match *reg!(second) {
                                                    Value::Int(int) => Ok(int),
                                                    ref other => Err(other.clone()),
                                                };
                                                let max = self.store.max_array_length();
                                                let length = match (reg_mut!(first), pushed) {
                                                    (Value::Array(array), Ok(int)) => {
                                                        array.push_int_within(int, max)
                                                    }
                                                    (Value::Array(array), Err(value)) => {
                                                        array.push_within(value, max)
                                                    }
                                                    _ => None,
                                                };
                                                match length {
                                                    Some(length) => {
                                                        set_int(reg_mut!(0u16), length as i64);
                                                        true
                                                    }
                                                    None => false,
                                                }
                                            }
                                            (Inline::GetUpvalue, 1, Value::String(name)) => {
                                                match self.frames.running_upvalue(name) {
                                                    // An int without building a `Value`: one
                                                    // in an `Option` was merged with the other
                                                    // arms' through the stack, byte by byte.
                                                    Some(upvalue) => match upvalue.cell.get_int() {
                                                        Some(int) => {
                                                            set_int(reg_mut!(0u16), int);
                                                            true
                                                        }
                                                        None => deliver!(Some(upvalue.get())),
                                                    },
                                                    None => false,
                                                }
                                            }
                                            (Inline::SetUpvalue, 2, Value::String(name)) => {
                                                match self.frames.running_upvalue(name) {
                                                    Some(upvalue) => {
                                                        write_upvalue(upvalue, reg!(second));
                                                        set_unit(reg_mut!(0u16));
                                                        true
                                                    }
                                                    None => false,
                                                }
                                            }
                                            _ => false,
                                        };
                                        if done {
                                            pc += 1;
                                            continue;
                                        }
                                    }
                                    tri!(builtin.check_arity(args.len()));
                                    let result = (builtin.code)(self, &self.registers[args]);
                                    reload!();
                                    match result {
                                        Ok(value) => store(reg_mut!(0u16), value, &mut self.ref_writes),
                                        Err(error) => {
                                            // Before the host frame is added: it reads this one's.
                                            save!(call_at);
                                            fail!(self.locate_in_host(error, builtin.name))
                                        }
                                    }
                                    pc += 1;
                                    continue;
                                }
                                Some(Callable::Foreign(callee)) => {
                                    let callee = Arc::clone(callee);
                                    save!(call_at);
                                    let result = self.call_foreign_into(&callee, args, base);
                                    if METERED {
                                        fuel = self.fuel;
                                    }
                                    pc = call_at;
                                    tri!(result);
                                    // The host may have enabled hooks.
                                    if signals.hooks_enabled() != TRACED {
                                        save!(pc + 1);
                                        return Ok(Exit::Switch);
                                    }
                                    // This frame is still on top (a host call re-entering the
                                    // VM cleaned up after itself) and `pc`, `base` and the flag
                                    // in hand are its own: only the borrows are taken again.
                                    let Some(frame) = self.frames.last() else {
                                        return Err(lost_window());
                                    };
                                    function = &frame.function;
                                    code = &function.code;
                                    reload!();
                                    pc += 1;
                                    keep_result!();
                                    continue;
                                }
                                Some(Callable::CallClosure) if n > 0 => {
                                    // A closure over a VM function: entered here (anything
                                    // else takes the plain path, which reports it).
                                    if let Value::Closure(closure) = reg!(first) {
                                        let slot = closure.slot;
                                        if let Some(callee) = self.functions.vm(slot) {
                                            let args = args.start + 1..args.end;
                                            // The record the callee's frame will reuse holds
                                            // the closure now (called again at the same depth,
                                            // a loop, it held it already: no count taken).
                                            if !self.frames.keep_next(closure) {
                                                let closure = Some(Arc::clone(closure));
                                                enter!(slot, args, closure, call_at)
                                            }
                                            enter_fast!(
                                                callee,
                                                slot,
                                                args,
                                                usize::from(n) - 1,
                                                FrameClosure::Kept,
                                                call_at
                                            )
                                        }
                                    }
                                }
                                _ => {}
                            }
                        }
                        push_copy(&mut self.pending_args, reg!(first));
                    }
                    Op::Call { slot } => {
                        save!(pc);
                        let args_base = self.frames.args_base();
                        match self.call_slot(slot, args_base) {
                            Ok(Called::Entered) => continue 'frames,
                            Ok(Called::Returned(value)) => {
                                if METERED {
                                    fuel = self.fuel;
                                }
                                if TRACED {
                                    self.ref_writes += 1;
                                    let old = std::mem::replace(&mut self.registers[base], value);
                                    // The call ended the borrow of this frame's code: look again.
                                    if let Some(frame) = self.frames.last() {
                                        tri!(self.trace_after(&frame.function, pc, Some(old)));
                                    }
                                } else {
                                    store(&mut self.registers[base], value, &mut self.ref_writes);
                                }
                                save!(pc + 1);
                                if signals.hooks_enabled() != TRACED {
                                    return Ok(Exit::Switch);
                                }
                                continue 'frames;
                            }
                            Err(error) => {
                                if METERED {
                                    fuel = self.fuel;
                                }
                                fail!(error)
                            }
                        }
                    }
                    Op::GetUpval { at, d, c } => {
                        let Value::String(name) = &function.constants[c as usize] else {
                            fail!(Error::new(ErrorKind::Usage, "GETUPVAL without a name"));
                        };
                        // The running closure's cell by its interned name, when no event fires
                        // (untraced: no hook was enabled at the last poll).
                        if !TRACED {
                            if let Some(upvalue) = self.frames.running_upvalue_at(name, at) {
                                // An int without building a `Value` (built, it went through
                                // the stack).
                                match upvalue.cell.get_int() {
                                    Some(int) => set_int(reg_mut!(d), int),
                                    None => store(reg_mut!(d), upvalue.get(), &mut self.ref_writes),
                                }
                                pc += 1;
                                continue;
                            }
                        }
                        let value = tri!(crate::stdlib::read_upvalue(self, "GETUPVAL", name));
                        reload!();
                        store(reg_mut!(d), value, &mut self.ref_writes);
                    }
                    Op::SetUpval { at, a, c } => {
                        let Value::String(name) = &function.constants[c as usize] else {
                            fail!(Error::new(ErrorKind::Usage, "SETUPVAL without a name"));
                        };
                        if !TRACED {
                            if let Some(upvalue) = self.frames.running_upvalue_at(name, at) {
                                write_upvalue(upvalue, reg!(a));
                                pc += 1;
                                continue;
                            }
                        }
                        tri!(crate::stdlib::write_upvalue(
                            self,
                            "SETUPVAL",
                            name,
                            &self.registers[base + a as usize]
                        ));
                        reload!();
                    }
                    Op::Ret { a } => {
                        if !TRACED {
                            if let Value::Int(int) = *reg!(a) {
                                // The common return, an int: written into the caller's r0 as an
                                // int, never built as a `Value` and moved (that cost a jump on
                                // the value's tag and a drop call per return, fib).
                                if METERED {
                                    self.fuel = fuel;
                                }
                                if self.frames.len() <= entry_depth + 1 {
                                    // The run's entry frame returns.
                                    self.leave_frame();
                                    return Ok(Exit::Return(Value::Int(int)));
                                }
                                // `leave_frame`, with the caller found in the same step.
                                let depth = self.frames.len() - 1;
                                let Some((caller, left)) = self.frames.pop_to_caller() else {
                                    return Err(lost_window());
                                };
                                call::close_frame(
                                    left,
                                    depth,
                                    self.ref_writes,
                                    &mut self.registers,
                                    &mut self.pending_args,
                                    &mut self.captured,
                                );
                                set_int(&mut self.registers[caller.base], int);
                                poll_return!(caller);
                                caller.pc.set(caller.pc.get() + 1);
                                continue 'frames;
                            }
                        }
                        // An int stays behind in the register (released below, nothing to drop).
                        let value = match reg_mut!(a) {
                            Value::Int(int) => Value::Int(*int),
                            other => std::mem::take(other),
                        };
                        if TRACED {
                            // RegisterRead already fired; give the value back for the context.
                            *reg_mut!(a) = value.clone();
                            tri!(self.trace_after(function, pc, None));
                            tri!(self.fire(HookEvent::AfterFunctionCall(
                                function.def.name.clone(),
                                value.clone()
                            )));
                        }
                        self.leave_frame();
                        if METERED {
                            self.fuel = fuel;
                        }
                        if self.frames.len() <= entry_depth {
                            return Ok(Exit::Return(value));
                        }
                        let Some(caller) = self.frames.last() else {
                            return Ok(Exit::Return(value));
                        };
                        let caller_base = caller.base;
                        let caller_pc = caller.pc.get();
                        if TRACED {
                            self.ref_writes += 1;
                            let old = std::mem::replace(&mut self.registers[caller_base], value);
                            if let Some(caller) = self.frames.last() {
                                if let Err(error) = self.trace_after(&caller.function, caller_pc, Some(old)) {
                                    // The caller is on top again, still at its `CALL`: locate
                                    // there, not at the callee's `RET` (as `fail!` would).
                                    return Err(self.locate(error));
                                }
                            }
                        } else {
                            store(&mut self.registers[caller_base], value, &mut self.ref_writes);
                        }
                        if let Some(caller) = self.frames.last() {
                            poll_return!(caller);
                            caller.pc.set(caller_pc + 1);
                        }
                        continue 'frames;
                    }
                }
                if TRACED {
                    // Store the frame's compare flag so the context shows what a `CMP` set.
                    save!(at);
                    if let Err(error) = self.trace_after(function, at, dest_old) {
                        return Err(self.locate(error));
                    }
                    reload!();
                }
                // Only here: while an instruction runs, `pc` is its own index, so error paths
                // and relative jumps use the `pc` in hand (advanced at the fetch, the index
                // before it stayed live next to it: a stack store per dispatch and a reload
                // before every taken jump).
                pc = pc.wrapping_add(1);
            }
        }
    }

    /// Events before instruction `pc` of the top frame: the instruction, its register reads,
    /// pending-argument pops for `CALL`. Returns the old value of the register it will write.
    fn trace_before(
        &self,
        function: &CompiledFunction,
        pc: usize,
        args_base: usize,
    ) -> Result<Option<Value>, Error> {
        let Some(instruction) = function.def.instructions.get(pc) else {
            return Ok(None);
        };
        let base = self.frames.last().map_or(0, |frame| frame.base);
        self.fire(HookEvent::BeforeInstructionExecute(instruction.clone()))?;
        for register in instruction.source_registers() {
            let value = self.registers[base + register].clone();
            self.fire(HookEvent::RegisterRead(register, value.clone()))?;
            if let Some(name) = function.def.parameters.get(register) {
                self.fire(HookEvent::VariableRead(name.clone(), value))?;
            }
        }
        if let crate::Instruction::CALL(_) = instruction {
            for value in self.pending_args[args_base..].iter().rev() {
                self.fire(HookEvent::StackPop(value.clone()))?;
            }
            return Ok(Some(self.registers[base].clone()));
        }
        Ok(instruction.destination_register().map(|register| self.registers[base + register].clone()))
    }

    /// Events after instruction `pc` of the top frame ran: its register write (old value
    /// `dest_old`), a pending-argument push, the instruction itself.
    fn trace_after(
        &self,
        function: &CompiledFunction,
        pc: usize,
        dest_old: Option<Value>,
    ) -> Result<(), Error> {
        let Some(instruction) = function.def.instructions.get(pc) else {
            return Ok(());
        };
        let base = self.frames.last().map_or(0, |frame| frame.base);
        let destination = match instruction {
            crate::Instruction::CALL(_) => Some(0),
            other => other.destination_register(),
        };
        if let (Some(register), Some(old)) = (destination, dest_old) {
            let new = self.registers[base + register].clone();
            self.fire(HookEvent::RegisterWrite(register, old.clone(), new.clone()))?;
            if let Some(name) = function.def.parameters.get(register) {
                self.fire(HookEvent::VariableWrite(name.clone(), old, new))?;
            }
        }
        if let crate::Instruction::PUSHARG(_) = instruction {
            if let Some(value) = self.pending_args.last() {
                self.fire(HookEvent::StackPush(value.clone()))?;
            }
        }
        self.fire(HookEvent::AfterInstructionExecute(instruction.clone()))
    }
}
