//! `VMState`: everything a running VM owns — the function table, the activation records and
//! their register and argument stacks, the object store, the hook manager, limits and the
//! output sink. It lives behind the `VirtualMachine`'s mutex.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use crate::activation::{CapturedCell, FrameStack};
use crate::error::StackFrame;
use crate::exec::resolve::CompiledFunction;
use crate::foreign::ForeignFunction;
use crate::function::VMFunction;
use crate::hooks::{HookCache, HookManager};
use crate::object_store::ObjectStore;
use crate::registers::RegisterStack;
use crate::signals::Signals;
use crate::value::Value;

/// What a function-table slot holds.
#[derive(Clone)]
pub(crate) enum Callable {
    /// A name that calls refer to but nobody registered (yet): calling it is "not found".
    Missing,
    Vm(Arc<CompiledFunction>),
    Foreign(Arc<ForeignFunction>),
    /// The `call_closure` builtin, run inline by the dispatch loop (no host recursion).
    CallClosure,
    /// A direct builtin of the standard library, run on the pending arguments in place, with
    /// its `inline` copied beside the tag: a fused call branches on it without reading the
    /// builtin (a chain of dependent loads before that branch was the hottest spot of the
    /// closure case, perf).
    Builtin(crate::stdlib::Inline, &'static crate::stdlib::Builtin),
}

/// All functions by slot. A slot's index never changes, so `CALL`s resolved to it at load
/// time see a later re-registration of the name.
#[derive(Default)]
pub(crate) struct FunctionTable {
    slots: Vec<(String, Callable)>,
    /// The VM function in each slot, if it holds one: what a fused call tests first, one load
    /// and a null test (a `match` on `Callable` was a jump table, a second indirect jump per
    /// call). Kept in step with `slots` by `slot` and `define`, their only writers.
    vm: Vec<Option<Arc<CompiledFunction>>>,
    by_name: HashMap<String, u32>,
}

impl FunctionTable {
    /// The slot for `name`, created empty when the name is new.
    pub(crate) fn slot(&mut self, name: &str) -> u32 {
        if let Some(&slot) = self.by_name.get(name) {
            return slot;
        }
        let slot = self.slots.len() as u32;
        self.slots.push((name.to_owned(), Callable::Missing));
        self.vm.push(None);
        self.by_name.insert(name.to_owned(), slot);
        slot
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn define(&mut self, name: &str, callable: Callable) {
        let slot = self.slot(name) as usize;
        self.vm[slot] = match &callable {
            Callable::Vm(function) => Some(Arc::clone(function)),
            _ => None,
        };
        self.slots[slot].1 = callable;
    }

    #[inline(always)]
    pub(crate) fn get(&self, slot: u32) -> Option<&(String, Callable)> {
        self.slots.get(slot as usize)
    }

    /// The VM function in `slot`, if it holds one.
    #[inline(always)]
    pub(crate) fn vm(&self, slot: u32) -> Option<&Arc<CompiledFunction>> {
        self.vm.get(slot as usize)?.as_ref()
    }

    /// Every slot: its name and what it holds.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, (String, Callable)> {
        self.slots.iter()
    }
}

/// Host-set limits; the defaults are generous and never let the host crash.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_call_depth: usize,
    /// How deeply foreign functions may re-enter the VM (each level uses host stack).
    pub(crate) max_native_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_call_depth: 100_000, max_native_depth: 64 }
    }
}

/// Where `print` writes.
pub(crate) type Output = Box<dyn Write + Send>;

/// The VM's state: reachable through [`VirtualMachine::with_state`](crate::VirtualMachine::with_state)
/// for inspection, and the data behind every execution.
pub struct VMState {
    pub(crate) functions: FunctionTable,
    pub(crate) frames: FrameStack,
    /// Cells made by capturing parameters, for the frames that did (innermost last).
    pub(crate) captured: Vec<CapturedCell>,
    /// One register stack; each frame owns a window of it.
    pub(crate) registers: RegisterStack,
    /// One pending-argument stack; each frame owns the part above its `args_base`.
    pub(crate) pending_args: Vec<Value>,
    /// Reused argument buffers for foreign calls, so calls do not allocate.
    pub(crate) arg_buffers: Vec<Vec<Value>>,
    pub(crate) store: ObjectStore,
    pub(crate) hooks: Arc<HookManager>,
    pub(crate) hook_cache: HookCache,
    pub(crate) output: Output,
    pub(crate) limits: Limits,
    /// Instructions left before a fuel error; `u64::MAX` means unmetered.
    pub(crate) fuel: u64,
    pub(crate) metered: bool,
    pub(crate) signals: Arc<Signals>,
    pub(crate) native_depth: usize,
    /// How many times a reference (other than a string constant) was written into a register:
    /// a frame entered at the same count can leave its registers as they are when it returns
    /// (see `exec::assigned`).
    pub(crate) ref_writes: u64,
    /// String constants of loaded functions, one allocation per distinct text: names passed to
    /// builtins then compare by pointer.
    pub(crate) strings: std::collections::HashSet<crate::value::Str>,
}

impl VMState {
    pub(crate) fn new(hooks: Arc<HookManager>, signals: Arc<Signals>) -> VMState {
        VMState {
            functions: FunctionTable::default(),
            frames: FrameStack::default(),
            captured: Vec::new(),
            registers: RegisterStack::default(),
            pending_args: Vec::new(),
            arg_buffers: Vec::new(),
            store: ObjectStore::default(),
            hooks,
            hook_cache: HookCache::default(),
            output: Box::new(std::io::stdout()),
            limits: Limits::default(),
            fuel: u64::MAX,
            metered: false,
            signals,
            native_depth: 0,
            ref_writes: 0,
            strings: std::collections::HashSet::new(),
        }
    }

    /// Pops frames down to `depth` frames, with the cells they captured (not their registers).
    #[inline]
    pub(crate) fn truncate_frames(&mut self, depth: usize) {
        if self.frames.len() <= depth && self.captured.last().is_none_or(|captured| captured.depth < depth) {
            return;
        }
        self.frames.truncate(depth);
        while self.captured.last().is_some_and(|captured| captured.depth >= depth) {
            self.captured.pop();
        }
    }

    /// Whether any hook is enabled: the bit the dispatch loop polls, one pointer closer than
    /// the hook manager's copy of it.
    #[inline(always)]
    pub(crate) fn hooks_active(&self) -> bool {
        self.signals.hooks_enabled()
    }

    /// The object store: live-object counts and the caps.
    pub fn object_store(&self) -> &ObjectStore {
        &self.store
    }

    /// How many VM frames are active (0 between runs).
    pub fn call_depth(&self) -> usize {
        self.frames.len()
    }

    /// How many values wait on the pending-argument stack (0 between runs).
    pub fn pending_arguments(&self) -> usize {
        self.pending_args.len()
    }

    /// The running function and the index of its current instruction.
    pub fn current_instruction(&self) -> Option<(&str, usize)> {
        self.frames.last().map(|frame| (frame.function.def.name.as_str(), frame.pc.get()))
    }

    /// The names of all registered functions (VM, foreign and builtin), sorted.
    pub fn function_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .functions
            .iter()
            .filter(|(_, callable)| !matches!(callable, Callable::Missing))
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// The VM function registered as `name`.
    pub fn vm_function(&self, name: &str) -> Option<&VMFunction> {
        let slot = self.functions.lookup(name)?;
        match &self.functions.get(slot)?.1 {
            Callable::Vm(function) => Some(&function.def),
            _ => None,
        }
    }

    /// The call stack, innermost frame first.
    pub fn call_stack(&self) -> Vec<StackFrame> {
        self.call_stack_limited(usize::MAX)
    }

    /// The innermost `limit` frames of the call stack.
    pub(crate) fn call_stack_limited(&self, limit: usize) -> Vec<StackFrame> {
        self.frames
            .iter()
            .rev()
            .take(limit)
            .map(|frame| StackFrame {
                function: frame.function.def.name.clone(),
                instruction: Some(frame.pc.get()),
            })
            .collect()
    }

    /// Fuel left, when the VM is metered.
    pub fn fuel(&self) -> Option<u64> {
        self.metered.then_some(self.fuel)
    }
}
