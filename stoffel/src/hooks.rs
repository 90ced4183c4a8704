//! The hook system: events the VM fires while it runs, the hooks a host registers to observe
//! them (predicate, callback, priority), and the read-only view of the VM a callback gets.
//!
//! Cost when idle: the dispatch loop has a traced instantiation (see `exec`); the others
//! contain no event code at all and switch over only when a hook is enabled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::activation::CompareFlag;
use crate::error::{Error, ErrorKind, StackFrame};
use crate::instruction::Instruction;
use crate::signals::Signals;
use crate::state::VMState;
use crate::value::{lock, Value};

/// Something the VM did, as hooks see it. Writes carry the old and the new value, calls the
/// callee and its arguments, returns the callee and its result.
///
/// # When each event fires
///
/// For one instruction, in this order:
///
/// 1. `BeforeInstructionExecute(instruction)`;
/// 2. per source register, in operand order: `RegisterRead(reg, value)`, then
///    `VariableRead(name, value)` when `reg` holds a named parameter (parameter *i* lives in
///    register *i*);
/// 3. for `CALL`: one `StackPop(value)` per pending argument it consumes, last pushed first,
///    then the call's own events (below);
/// 4. the instruction runs;
/// 5. `RegisterWrite(reg, old, new)` for its destination (for `CALL`: `r0`, written with the
///    result), then `VariableWrite(name, old, new)` when `reg` holds a named parameter; for
///    `PUSHARG`: `StackPush(value)`;
/// 6. `AfterInstructionExecute(instruction)`.
///
/// An instruction that fails stops after the events it reached (no `After…`); so does one
/// whose hook fails.
///
/// Calls: `BeforeFunctionCall(callee, args)` once the call is checked (arity, depth) and about
/// to start, `AfterFunctionCall(callee, result)` when it returns — for VM functions, foreign
/// functions and builtins alike, whether the program, a foreign function or the host made the
/// call. `call_closure(closure, args…)` reports the closure's function and the arguments
/// without the closure. For a VM callee, `Before` fires while the caller is the current frame
/// (at its `CALL`), `After` while the callee is (at its `RET`, after its
/// `AfterInstructionExecute`); then the caller's `RegisterWrite(0, ..)` and
/// `AfterInstructionExecute(CALL)` follow. A failed call fires no `AfterFunctionCall`.
///
/// Builtins: one `UpvalueRead` per `get_upvalue` or `GETUPVAL`, one `UpvalueWrite` per
/// `set_upvalue` or `SETUPVAL` (capturing in `create_closure` reads nothing), one `ClosureCreated` per closure, and one
/// object or array event per access, fired after the bounds and type checks passed (a failing
/// access fires nothing); `array_push` fires one `ArrayElementWrite` per pushed value. They
/// fire between the builtin's `BeforeFunctionCall` and `AfterFunctionCall`.
///
/// Enabling the first hook or disabling the last takes effect at the next call, return or
/// backward jump (where the VM switches between its traced and untraced loop): a hook
/// registered by a foreign function sees every event from the instruction after that `CALL`
/// on, and the foreign function's own `AfterFunctionCall`.
///
/// # Examples
/// ```
/// use stoffel::{HookEvent, Value};
/// let event = HookEvent::BeforeFunctionCall("fib".into(), vec![Value::Int(5)]);
/// assert_eq!(format!("{event:?}"), r#"BeforeFunctionCall("fib", [5])"#);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum HookEvent {
    /// An instruction is about to run.
    BeforeInstructionExecute(Instruction),
    /// An instruction has run (for a `CALL` of a VM function: once the callee returned).
    AfterInstructionExecute(Instruction),
    /// An instruction read register `reg` holding the value.
    RegisterRead(usize, Value),
    /// An instruction wrote register `reg`: old value, new value.
    RegisterWrite(usize, Value, Value),
    /// A read of a register that holds a named parameter: name, value.
    VariableRead(String, Value),
    /// A write of a register that holds a named parameter: name, old value, new value.
    VariableWrite(String, Value, Value),
    /// `get_upvalue` or `GETUPVAL` read a closure's upvalue: name, value.
    UpvalueRead(String, Value),
    /// `set_upvalue` or `SETUPVAL` wrote a closure's upvalue: name, old value, new value.
    UpvalueWrite(String, Value, Value),
    /// `get_field` read an object field: object, key, value.
    ObjectFieldRead(Value, Value, Value),
    /// `set_field` wrote an object field: object, key, old value, new value.
    ObjectFieldWrite(Value, Value, Value, Value),
    /// `get_field` read an array element: array, index, value.
    ArrayElementRead(Value, usize, Value),
    /// `set_field`/`array_push` wrote an array element: array, index, old value (unit when
    /// appending), new value.
    ArrayElementWrite(Value, usize, Value, Value),
    /// A function (VM, foreign or builtin) is about to be called: callee, arguments.
    BeforeFunctionCall(String, Vec<Value>),
    /// A function returned: callee, result.
    AfterFunctionCall(String, Value),
    /// `create_closure` made a closure: the function it runs, the closure.
    ClosureCreated(String, Value),
    /// `PUSHARG` pushed a pending argument.
    StackPush(Value),
    /// `CALL` consumed a pending argument (last pushed first).
    StackPop(Value),
}

/// Identifies a registered hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HookId(u64);

type Predicate = dyn Fn(&HookEvent) -> bool + Send + Sync;
type Callback = dyn Fn(&HookEvent, &HookContext<'_>) -> Result<(), Error> + Send + Sync;

#[derive(Clone)]
struct Hook {
    id: HookId,
    predicate: Arc<Predicate>,
    callback: Arc<Callback>,
    priority: i32,
    enabled: bool,
}

/// The registered hooks. Kept apart from the state's lock so a host may add or remove hooks
/// while a program runs (from a callback or a foreign function too): readers take a snapshot.
pub(crate) struct HookManager {
    hooks: Mutex<Arc<Vec<Hook>>>,
    /// Its `HOOKS` bit says whether any hook is enabled (shared with the VM's state).
    signals: Arc<Signals>,
    next_id: AtomicUsize,
    /// Bumped by every change, so a running VM re-reads the list only when it changed.
    generation: AtomicUsize,
}

/// A VM's copy of the hook list and the generation it was taken at: firing an event reads
/// the list without taking the manager's lock.
#[derive(Default)]
pub(crate) struct HookCache(std::cell::RefCell<(usize, Arc<Vec<Hook>>)>);

impl HookManager {
    /// A manager with no hooks that keeps `signals` up to date.
    pub(crate) fn new(signals: Arc<Signals>) -> HookManager {
        HookManager {
            hooks: Mutex::default(),
            signals,
            next_id: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    fn update(&self, change: impl FnOnce(&mut Vec<Hook>)) {
        let mut hooks = lock(&self.hooks);
        let mut next = Vec::clone(&hooks);
        change(&mut next);
        // Higher priority first; among equals, the earlier registration first.
        next.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
        self.signals.set_hooks_enabled(next.iter().any(|hook| hook.enabled));
        *hooks = Arc::new(next);
        // Generation 0 is the empty cache: the first change makes it 1.
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn register(
        &self,
        predicate: Arc<Predicate>,
        callback: Arc<Callback>,
        priority: i32,
    ) -> HookId {
        let id = HookId(self.next_id.fetch_add(1, Ordering::Relaxed) as u64);
        self.update(|hooks| hooks.push(Hook { id, predicate, callback, priority, enabled: true }));
        id
    }

    /// Sets a hook's enabled state; `false` when there is no such hook.
    pub(crate) fn set_enabled(&self, id: HookId, enabled: bool) -> bool {
        let mut found = false;
        self.update(|hooks| {
            for hook in hooks.iter_mut().filter(|hook| hook.id == id) {
                hook.enabled = enabled;
                found = true;
            }
        });
        found
    }

    pub(crate) fn unregister(&self, id: HookId) -> bool {
        let mut found = false;
        self.update(|hooks| {
            let before = hooks.len();
            hooks.retain(|hook| hook.id != id);
            found = hooks.len() != before;
        });
        found
    }

    /// The current hook list, through `cache`: one atomic load when nothing changed.
    fn snapshot(&self, cache: &HookCache) -> Arc<Vec<Hook>> {
        let generation = self.generation.load(Ordering::Acquire);
        let mut cached = cache.0.borrow_mut();
        if cached.0 != generation {
            *cached = (generation, Arc::clone(&lock(&self.hooks)));
        }
        Arc::clone(&cached.1)
    }
}

impl VMState {
    /// Runs every enabled hook whose predicate accepts `event`, highest priority first. The
    /// first failing callback (an error or a panic) stops the run with a hook error.
    pub(crate) fn fire(&self, event: HookEvent) -> Result<(), Error> {
        let hooks = self.hooks.snapshot(&self.hook_cache);
        let context = HookContext { state: self };
        for hook in hooks.iter().filter(|hook| hook.enabled) {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if (hook.predicate)(&event) {
                    (hook.callback)(&event, &context)
                } else {
                    Ok(())
                }
            }));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error.with_kind(ErrorKind::Hook)),
                Err(panic) => {
                    return Err(Error::new(
                        ErrorKind::Hook,
                        format!("hook panicked: {}", crate::foreign::panic_message(&*panic)),
                    ))
                }
            }
        }
        Ok(())
    }
}

/// A read-only view of the running VM, handed to hook callbacks.
pub struct HookContext<'a> {
    state: &'a VMState,
}

impl HookContext<'_> {
    /// The name of the running VM function (`None` outside any VM frame, e.g. a foreign
    /// function called directly by the host).
    pub fn function_name(&self) -> Option<&str> {
        self.state.frames.last().map(|frame| frame.function.def.name.as_str())
    }

    /// The index of the instruction being executed in the current function.
    pub fn instruction_index(&self) -> Option<usize> {
        self.state.frames.last().map(|frame| frame.pc.get())
    }

    /// How many VM frames are active.
    pub fn call_depth(&self) -> usize {
        self.state.frames.len()
    }

    /// The current frame's registers.
    pub fn registers(&self) -> &[Value] {
        match self.state.frames.last() {
            Some(frame) => {
                let end = frame.base + frame.function.def.register_count;
                self.state.registers.get(frame.base..end).unwrap_or(&[])
            }
            None => &[],
        }
    }

    /// One register of the current frame.
    pub fn register(&self, index: usize) -> Option<&Value> {
        self.registers().get(index)
    }

    /// The current frame's compare flag.
    pub fn compare_flag(&self) -> Option<CompareFlag> {
        self.state.frames.last().map(|frame| frame.compare_flag.get())
    }

    /// The instruction being executed in the current function.
    pub fn current_instruction(&self) -> Option<&Instruction> {
        let frame = self.state.frames.last()?;
        frame.function.def.instructions.get(frame.pc.get())
    }

    /// The instruction at `index` of the VM function named `function`.
    pub fn instruction_at(&self, function: &str, index: usize) -> Option<&Instruction> {
        self.state.vm_function(function)?.instructions.get(index)
    }

    /// The call stack, innermost frame first: function and instruction index per frame.
    pub fn call_stack(&self) -> Vec<StackFrame> {
        self.state.call_stack()
    }
}
