//! Calls: entering VM functions (a new frame window, no host recursion), calling foreign
//! functions (arguments copied onto the stack or a pooled buffer, panics caught, the result
//! delivered where it lies), closures, host entry points, and unwinding so that a failed call
//! leaves no frames, registers or pending arguments behind.

use std::ops::Range;
use std::sync::Arc;

use crate::activation::{ActivationRecord, CapturedCell, CompareFlag, EAGER};
use crate::closure::Closure;
use crate::error::{Error, ErrorKind, StackFrame};
use crate::exec::resolve::CompiledFunction;
use crate::foreign::{call_guarded, panic_message, plural, ForeignFunction, ForeignFunctionContext};
use crate::hooks::HookEvent;
use crate::registers::RegisterStack;
use crate::state::{Callable, VMState};
use crate::stdlib::Builtin;
use crate::value::Value;

/// How many frames an error keeps: enough to debug, bounded when recursion runs away.
pub const ERROR_STACK_FRAMES: usize = 256;

/// The most registers all active frames may hold together (16 Mi values, 256 MiB): deep
/// recursion of a function with many registers fails with a call-depth error instead of
/// exhausting memory.
pub const MAX_REGISTER_STACK: usize = 1 << 24;

/// What a call did.
pub(crate) enum Called {
    /// A VM frame was pushed; the loop runs it.
    Entered,
    /// A foreign function ran and returned this.
    Returned(Value),
}

/// Where a VM call's arguments are.
pub(crate) enum Arguments {
    /// On the pending stack from this index on (consumed by the call).
    Pending(usize),
    /// In these registers of the caller, read in place (the fused `PUSHARG…CALL`).
    InPlace(Range<usize>),
}

/// Where a foreign function's result goes, taken where the function left it.
pub(crate) trait Delivery {
    /// What the call returns.
    type Output;
    /// Takes the function's result (inside the panic guard).
    fn deliver(&self, result: Result<Value, Error>, state: &mut VMState) -> Result<Self::Output, Error>;
    /// The value delivered, for the `AfterFunctionCall` event.
    fn value(&self, state: &VMState, output: &Self::Output) -> Value;
}

/// The result is returned to the caller.
pub(crate) struct Returned;

impl Delivery for Returned {
    type Output = Value;

    #[inline(always)]
    fn deliver(&self, result: Result<Value, Error>, _: &mut VMState) -> Result<Value, Error> {
        result
    }

    fn value(&self, _: &VMState, output: &Value) -> Value {
        output.clone()
    }
}

/// The result is stored into this register (absolute index). Stored right where the function
/// left it: returning a `Value` and storing it after moved it whole first, which stalled on
/// store forwarding (the function writes it piecewise; perf put a seventh of a foreign call
/// on that one copy, and a second on the `Result` holding it).
pub(crate) struct IntoRegister(pub(crate) usize);

impl Delivery for IntoRegister {
    type Output = ();

    #[inline(always)]
    fn deliver(&self, result: Result<Value, Error>, state: &mut VMState) -> Result<(), Error> {
        let Some(register) = state.registers.get_mut(self.0) else {
            return Err(crate::exec::lost_window());
        };
        // Looked at through a reference: binding the value by move copied it whole first.
        if let Ok(Value::Int(int)) = &result {
            crate::exec::set_int(register, *int);
            // An int holds nothing to drop; said so, or the drop glue is still called.
            std::mem::forget(result);
            return Ok(());
        }
        std::hint::cold_path();
        result.map(|value| crate::exec::store(register, value, &mut state.ref_writes))
    }

    fn value(&self, state: &VMState, (): &()) -> Value {
        state.registers.get(self.0..self.0 + 1).and_then(<[Value]>::first).cloned().unwrap_or_default()
    }
}

/// Stack heights to return to when a call fails.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    frames: usize,
    registers: usize,
    pending_args: usize,
}

/// Everything leaving frame `left` does besides popping it (`depth` frames remain): its
/// registers — left as they are when no reference was written into them since it was entered
/// (string constants aside; see `assigned`), else reset —, the pending arguments it left, the
/// cells it captured. On the stacks, not `VMState`, so the dispatch loop can call it while it
/// holds the caller's record (`FrameStack::pop_to_caller`).
///
/// A frame whose `ref_epoch` still matches left nothing else either: a capture counts as a
/// reference write (`create_closure`), and a function that may return with arguments pending
/// is entered with [`EAGER`] (`compile`, `pending_counts`). So the
/// common return reads one word of the record and moves the top.
#[inline(always)]
pub(crate) fn close_frame(
    left: &ActivationRecord,
    depth: usize,
    ref_writes: u64,
    registers: &mut RegisterStack,
    pending_args: &mut Vec<Value>,
    captured: &mut Vec<CapturedCell>,
) {
    if left.ref_epoch.get() == ref_writes {
        debug_assert!(pending_args.len() <= left.args_base, "a tidy frame left arguments pending");
        debug_assert!(captured.last().is_none_or(|cell| cell.depth < depth), "a clean frame captured");
        registers.abandon(left.base);
        return;
    }
    registers.release(left.base);
    if pending_args.len() > left.args_base {
        pending_args.truncate(left.args_base);
    }
    while captured.last().is_some_and(|cell| cell.depth >= depth) {
        captured.pop();
    }
}

impl VMState {
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            frames: self.frames.len(),
            registers: self.registers.top(),
            pending_args: self.pending_args.len(),
        }
    }

    /// Whether the stacks stand exactly at `mark` (nothing to unwind).
    #[inline(always)]
    fn at_mark(&self, mark: Mark) -> bool {
        self.frames.len() == mark.frames
            && self.registers.top() == mark.registers
            && self.pending_args.len() == mark.pending_args
    }

    /// Drops everything above `mark`: frames, their registers, pending arguments.
    pub(crate) fn unwind_to(&mut self, mark: Mark) {
        self.truncate_frames(mark.frames);
        self.registers.release(mark.registers);
        self.pending_args.truncate(mark.pending_args);
    }

    /// Calls the function registered as `name` with `args`: the host's way in, and a foreign
    /// function's way back in (re-entrant).
    pub(crate) fn call_by_name(&mut self, name: &str, args: &[Value]) -> Result<Value, Error> {
        let slot = self
            .functions
            .lookup(name)
            .filter(|&slot| !matches!(self.functions.get(slot), Some((_, Callable::Missing))))
            .ok_or_else(|| Error::not_found(format!("function `{name}` not found")))?;
        self.invoke(slot, args)
    }

    /// Calls the function in `slot` with `args` and runs it to completion.
    pub(crate) fn invoke(&mut self, slot: u32, args: &[Value]) -> Result<Value, Error> {
        let mark = self.mark();
        self.pending_args.extend_from_slice(args);
        let result = match self.call_slot(slot, mark.pending_args) {
            Ok(Called::Returned(value)) => Ok(value),
            Ok(Called::Entered) => self.run_caught(mark.frames),
            Err(error) => Err(error),
        };
        let result = match result {
            Ok(value) => Ok(value),
            Err(error) => {
                let error = self.locate(error);
                self.unwind_to(mark);
                Err(error)
            }
        };
        if mark.frames == 0 {
            // The host's run is over: what its closures held goes now (see `FrameStack`).
            self.frames.release_closures();
        }
        result
    }

    /// [`VMState::run`], with the panic of a foreign function the plain loop called unguarded
    /// (see `run_foreign`) turned into an error located at its `CALL`, as a guarded call
    /// reports it. The caller (`invoke`) unwinds the stacks to where the run began.
    fn run_caught(&mut self, entry_depth: usize) -> Result<Value, Error> {
        let native_depth = self.native_depth;
        let panic = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(entry_depth))) {
            Ok(result) => return result,
            Err(panic) => panic,
        };
        // Deeper than at the start: the panic left a foreign call without coming back (a
        // guarded one would have caught it). Its frame is on top, at the `CALL`.
        let in_foreign = self.native_depth > native_depth;
        self.native_depth = native_depth;
        let name = self.frames.last().and_then(|frame| match frame.function.code.get(frame.pc.get()) {
            Some(&super::resolve::Op::Call { slot }) => {
                self.functions.get(slot).map(|(name, _)| name.clone())
            }
            _ => None,
        });
        match name.filter(|_| in_foreign) {
            Some(name) => {
                let message = format!("foreign function `{name}` panicked: {}", panic_message(&*panic));
                Err(self.locate_in_host(Error::new(ErrorKind::Foreign, message), &name))
            }
            // Not a foreign function's: a bug in Stoffel, reported as `with_locked` does.
            None => Err(Error::new(
                ErrorKind::Usage,
                format!("internal error (please report): {}", panic_message(&*panic)),
            )),
        }
    }

    /// Adds the current call stack (its innermost [`ERROR_STACK_FRAMES`] frames) to an error
    /// that has none yet.
    pub(crate) fn locate(&self, error: Error) -> Error {
        if error.has_call_stack() {
            error
        } else {
            error
                .with_call_stack(self.call_stack_limited(ERROR_STACK_FRAMES))
                .with_call_depth(self.frames.len())
        }
    }

    /// Fires `BeforeFunctionCall` for `callee` with `args`, when hooks are enabled.
    #[inline(always)]
    fn fire_before_call(&self, callee: &str, args: &[Value]) -> Result<(), Error> {
        if !self.hooks_active() {
            return Ok(());
        }
        self.fire_before_call_slow(callee, args)
    }

    #[cold]
    #[inline(never)]
    fn fire_before_call_slow(&self, callee: &str, args: &[Value]) -> Result<(), Error> {
        self.fire(HookEvent::BeforeFunctionCall(callee.to_owned(), args.to_vec()))
    }

    /// Ends a call of host code (foreign function or builtin) named `callee`: its
    /// `AfterFunctionCall` event on success, its place in the call stack on failure.
    #[inline]
    fn finish_host_call(&self, callee: &str, result: Result<Value, Error>) -> Result<Value, Error> {
        match result {
            Ok(value) => {
                if self.hooks_active() {
                    self.fire(HookEvent::AfterFunctionCall(callee.to_owned(), value.clone()))?;
                }
                Ok(value)
            }
            Err(error) => Err(self.locate_in_host(error, callee)),
        }
    }

    /// Locates an error raised by host code (a foreign function or builtin named `function`)
    /// that has no call stack yet: that function, then the VM frames that called it.
    pub(crate) fn locate_in_host(&self, error: Error, function: &str) -> Error {
        if error.has_call_stack() {
            return error;
        }
        let mut stack = vec![StackFrame { function: function.to_owned(), instruction: None }];
        stack.extend(self.call_stack_limited(ERROR_STACK_FRAMES - 1));
        error.with_call_stack(stack).with_call_depth(self.frames.len() + 1)
    }

    /// Calls `slot` with the pending arguments from `args_start` on (consuming them).
    pub(crate) fn call_slot(&mut self, slot: u32, args_start: usize) -> Result<Called, Error> {
        let Some((name, callable)) = self.functions.get(slot) else {
            return Err(Error::not_found(format!("function slot {slot} not found")));
        };
        match callable.clone() {
            Callable::Missing => Err(Error::not_found(format!("function `{name}` not found"))),
            Callable::Vm(_) => {
                self.enter_vm(slot, Arguments::Pending(args_start), None).map(|()| Called::Entered)
            }
            Callable::Foreign(function) => self.call_foreign(&function, args_start).map(Called::Returned),
            Callable::CallClosure => self.enter_closure(args_start),
            Callable::Builtin(_, builtin) => self.call_builtin(builtin, args_start).map(Called::Returned),
        }
    }

    /// Pushes a frame for the VM function in `slot` whose parameters are `args`. The function
    /// is borrowed from its slot: the frame record clones it only when it held another one.
    #[inline]
    pub(crate) fn enter_vm(
        &mut self,
        slot: u32,
        args: Arguments,
        closure: Option<Arc<Closure>>,
    ) -> Result<(), Error> {
        let Some(function) = self.functions.vm(slot) else {
            return Err(Error::new(ErrorKind::Usage, format!("function slot {slot} holds no VM function")));
        };
        let given = match &args {
            Arguments::Pending(start) => self.pending_args.len() - start,
            Arguments::InPlace(registers) => registers.len(),
        };
        let count = function.def.register_count;
        let base = self.registers.top();
        if !self.can_enter(function, given) {
            return Err(self.entry_error(function, given));
        }
        match &args {
            Arguments::Pending(start) => {
                self.fire_before_call(&function.def.name, &self.pending_args[*start..])?
            }
            Arguments::InPlace(registers) => {
                self.fire_before_call(&function.def.name, &self.registers[registers.clone()])?
            }
        }
        // The window may hold what a call left (see `assigned`): reset, then the
        // parameters written. This frame resets its registers on return (`EAGER`).
        self.registers.open(count);
        self.registers.reset_stale(base..base + count);
        match args {
            Arguments::Pending(start) => {
                for (register, value) in (base..).zip(self.pending_args.drain(start..)) {
                    crate::exec::store(&mut self.registers[register], value, &mut self.ref_writes);
                }
            }
            Arguments::InPlace(registers) => self.registers.pass(registers, base, &mut self.ref_writes),
        }
        let args_base = self.pending_args.len();
        self.frames.push(function, base, args_base, closure.into(), EAGER);
        // Entered through the frame head, which starts from the record.
        if let Some(frame) = self.frames.last() {
            frame.pc.set(0);
            frame.compare_flag.set(CompareFlag::Equal);
        }
        Ok(())
    }

    /// Pops the top frame after its `RET`: its registers, the pending arguments it left, the
    /// cells it captured.
    #[inline(always)]
    pub(crate) fn leave_frame(&mut self) {
        let depth = self.frames.len().saturating_sub(1);
        if let Some(frame) = self.frames.pop() {
            close_frame(
                frame,
                depth,
                self.ref_writes,
                &mut self.registers,
                &mut self.pending_args,
                &mut self.captured,
            );
        }
    }

    /// Whether `function` can be entered with `given` arguments: the checks of every VM call
    /// (arity, call depth, register stack size); [`VMState::entry_error`] says why not.
    #[inline(always)]
    pub(crate) fn can_enter(&self, function: &CompiledFunction, given: usize) -> bool {
        self.takes(function, given)
            && self.registers.top() + function.def.register_count <= MAX_REGISTER_STACK
    }

    /// `can_enter` but for the register limit (which the fused call tests only when the stack
    /// grows: `RegisterStack::open_within`).
    #[inline(always)]
    pub(crate) fn takes(&self, function: &CompiledFunction, given: usize) -> bool {
        given == function.def.parameters.len() && self.frames.len() < self.limits.max_call_depth
    }

    /// Why `function` cannot be entered with `given` arguments (kept out of the call path).
    #[cold]
    #[inline(never)]
    fn entry_error(&self, function: &CompiledFunction, given: usize) -> Error {
        let expected = function.def.parameters.len();
        if given != expected {
            Error::arity(format!(
                "`{}` takes {}, but {}",
                function.def.name,
                plural(expected, "argument"),
                crate::foreign::given(given)
            ))
        } else if self.frames.len() >= self.limits.max_call_depth {
            Error::new(
                ErrorKind::CallDepth,
                format!("call depth limit of {} exceeded", self.limits.max_call_depth),
            )
        } else {
            Error::new(
                ErrorKind::CallDepth,
                format!("register stack limit of {MAX_REGISTER_STACK} registers exceeded"),
            )
        }
    }

    /// Calls a foreign function with the pending arguments from `start` on, consuming them.
    pub(crate) fn call_foreign(&mut self, function: &ForeignFunction, start: usize) -> Result<Value, Error> {
        function.check_arity(self.pending_args.len() - start)?;
        // The arguments stay where PUSHARG put them: the whole pending stack moves out (a
        // pointer swap, no copy) and the function borrows its top; nested calls get a pooled
        // empty stack meanwhile.
        let nested = self.arg_buffers.pop().unwrap_or_default();
        let pending = std::mem::replace(&mut self.pending_args, nested);
        let result = self.run_foreign::<true, _>(function, &pending[start..], Returned);
        let mut nested = std::mem::replace(&mut self.pending_args, pending);
        nested.clear();
        self.arg_buffers.push(nested);
        self.pending_args.truncate(start);
        result
    }

    /// Calls a foreign function with the arguments in `registers` (the fused `PUSHARG…CALL`)
    /// and writes its result into register `result_to`. Inlined into the dispatch loop
    /// always: called, it cost 27 more instructions per foreign call (callgrind).
    #[inline(always)]
    pub(crate) fn call_foreign_into(
        &mut self,
        function: &ForeignFunction,
        registers: Range<usize>,
        result_to: usize,
    ) -> Result<(), Error> {
        function.check_arity(registers.len())?;
        // The function may re-enter the VM, which moves registers: it gets copies. Up to
        // `INLINE_ARGS` of them live in an array on the stack (no buffer to take and give
        // back, no drop call: a tenth of a foreign call, callgrind).
        const INLINE_ARGS: usize = 4;
        if registers.len() > INLINE_ARGS {
            let mut copies = self.arg_buffers.pop().unwrap_or_default();
            for source in registers {
                crate::exec::push_copy(&mut copies, &self.registers[source]);
            }
            let result = self.run_foreign::<false, _>(function, &copies, IntoRegister(result_to));
            copies.clear();
            self.arg_buffers.push(copies);
            return result;
        }
        let mut copies: [Value; INLINE_ARGS] = Default::default();
        let count = registers.len();
        for (copy, source) in copies.iter_mut().zip(&self.registers[registers]) {
            // Written blind (the copy holds unit, nothing to drop): reading it back whole right
            // after its initialising write stalled on store forwarding (perf: a fifth of the
            // foreign case). One write per arm: a `Value` chosen between the arms and written
            // after was copied with its padding from a stack slot (five more instructions).
            match source {
                Value::Int(int) => std::mem::forget(std::mem::replace(copy, Value::Int(*int))),
                other => std::mem::forget(std::mem::replace(copy, other.clone())),
            }
        }
        let result = self.run_foreign::<false, _>(function, &copies[..count], IntoRegister(result_to));
        // Reference values are dropped in place; the rest are scalars, nothing to drop (and the
        // slots past `count` still hold unit).
        for copy in copies.iter_mut().take(count) {
            if !copy.is_scalar() {
                *copy = Value::Unit;
            }
        }
        std::mem::forget(copies);
        result
    }

    /// Runs a foreign function on `args`: its context, its events, and when `GUARDED` its panic
    /// caught and whatever the panic skipped cleaned up. `deliver` takes the function's result
    /// where it lies (see [`Delivery`]).
    ///
    /// Unguarded, for the plain loop's fused call only: a panic unwinds to the `invoke` that
    /// started the run, which reports it and cleans up (see `VMState::run_caught`). The guard
    /// here, `catch_unwind` with its closure and the stack mark taken for the clean-up, was a
    /// tenth of a foreign call (callgrind).
    #[inline(always)]
    fn run_foreign<const GUARDED: bool, D: Delivery>(
        &mut self,
        function: &ForeignFunction,
        args: &[Value],
        deliver: D,
    ) -> Result<D::Output, Error> {
        if self.native_depth >= self.limits.max_native_depth {
            return Err(Error::new(
                ErrorKind::CallDepth,
                format!(
                    "foreign functions re-entered the VM more than {} times",
                    self.limits.max_native_depth
                ),
            ));
        }
        self.fire_before_call(&function.name, args)?;
        let mark = GUARDED.then(|| self.mark());
        self.native_depth += 1;
        let context = &mut ForeignFunctionContext { args, state: self, name: &function.name };
        let mut call = || deliver.deliver((function.code)(context), context.state);
        let result = if GUARDED { call_guarded(&function.name, call) } else { call() };
        self.native_depth -= 1;
        // A panic may have skipped a nested call's own clean-up: drop what it left. Only a
        // failed call can have (a call back into the VM cleans up after itself on return and
        // on error; a panic comes back as an error), so a success is not checked.
        if let Some(mark) = mark {
            if result.is_err() && !self.at_mark(mark) {
                self.unwind_to(mark);
            }
        }
        match result {
            Ok(output) => {
                if self.hooks_active() {
                    let value = deliver.value(self, &output);
                    self.fire(HookEvent::AfterFunctionCall(function.name.clone(), value))?;
                }
                Ok(output)
            }
            Err(error) => Err(self.locate_in_host(error, &function.name)),
        }
    }

    /// Runs a direct builtin on the pending arguments from `args_start` on, then drops them. The
    /// same events and error frames as a foreign call, without its context, argument move or
    /// unwinding guard (builtins never re-enter the VM).
    fn call_builtin(&mut self, builtin: &'static Builtin, args_start: usize) -> Result<Value, Error> {
        builtin.check_arity(self.pending_args.len() - args_start)?;
        self.fire_before_call(builtin.name, &self.pending_args[args_start..])?;
        let result = (builtin.code)(self, &self.pending_args[args_start..]);
        self.pending_args.truncate(args_start);
        self.finish_host_call(builtin.name, result)
    }

    /// `call_closure(closure, args…)`: runs the closure's function with its upvalues.
    fn enter_closure(&mut self, args_start: usize) -> Result<Called, Error> {
        let Some(first) = self.pending_args.get(args_start) else {
            return Err(Error::arity("`call_closure` takes at least 1 argument, but 0 were given"));
        };
        let Value::Closure(closure) = first.clone() else {
            return Err(Error::type_error(format!(
                "argument 1 of `call_closure`: expected closure, found {}",
                first.type_name()
            )));
        };
        self.pending_args.remove(args_start);
        let callable = self.functions.get(closure.slot).map(|(_, callable)| callable.clone());
        match callable {
            Some(Callable::Vm(_)) => self
                .enter_vm(closure.slot, Arguments::Pending(args_start), Some(closure))
                .map(|()| Called::Entered),
            Some(Callable::Foreign(function)) => {
                self.call_foreign(&function, args_start).map(Called::Returned)
            }
            _ => {
                Err(Error::not_found(format!("closure function `{}` is not a VM function", closure.function)))
            }
        }
    }

    /// Charges fuel; a limit error when the budget runs out.
    pub(crate) fn consume_fuel(&mut self, amount: u64) -> Result<(), Error> {
        if !self.metered {
            return Ok(());
        }
        match self.fuel.checked_sub(amount) {
            Some(left) => {
                self.fuel = left;
                Ok(())
            }
            None => {
                self.fuel = 0;
                Err(out_of_fuel())
            }
        }
    }

    /// Validates, lowers and registers a VM function (replacing any function of that name).
    pub(crate) fn register_function(&mut self, function: crate::VMFunction) -> Result<(), Error> {
        function.validate()?;
        let name = function.name.clone();
        let compiled = crate::exec::resolve::compile(function, &mut self.functions, &mut self.strings)?;
        self.functions.define(&name, Callable::Vm(Arc::new(compiled)));
        Ok(())
    }

    /// Registers (or replaces) a foreign function.
    pub(crate) fn register_foreign(&mut self, function: ForeignFunction) {
        let name = function.name.clone();
        self.functions.define(&name, Callable::Foreign(Arc::new(function)));
    }
}

#[cold]
pub(crate) fn out_of_fuel() -> Error {
    Error::limit("out of fuel: the instruction budget is used up")
}
