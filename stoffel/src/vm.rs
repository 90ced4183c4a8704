//! `VirtualMachine`: the embedding API. It owns the `VMState` behind a mutex (so one VM can be
//! shared by threads through `Arc`), registers functions, runs them, stores foreign objects and
//! manages hooks, limits and the output sink.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, ErrorKind};
use crate::foreign::{panic_message, ForeignFunction, ForeignFunctionContext, IntoForeignFunction};
use crate::function::VMFunction;
use crate::hooks::{HookContext, HookEvent, HookId, HookManager};
use crate::object_store::ObjectStore;
use crate::program::Program;
use crate::signals::Signals;
use crate::state::VMState;
use crate::value::{lock, ForeignRef, Value};

/// A Stoffel virtual machine. `Send + Sync`: share it between threads with `Arc`; calls from
/// different threads take turns on the VM's state.
///
/// # Examples
/// ```
/// use stoffel::{Instruction, VMFunction, Value, VirtualMachine};
/// # fn main() -> Result<(), stoffel::Error> {
/// let vm = VirtualMachine::new();
/// vm.register_fn("add", |a: i64, b: i64| a + b);
/// assert_eq!(vm.call("add", &[Value::Int(2), Value::Int(3)])?, Value::Int(5));
/// # Ok(()) }
/// ```
pub struct VirtualMachine {
    state: Mutex<VMState>,
    /// The thread that holds `state` (0: none), to turn a same-thread re-entry into an error
    /// instead of a deadlock.
    owner: AtomicU64,
    hooks: Arc<HookManager>,
    signals: Arc<Signals>,
    store: ObjectStore,
}

/// A small unique id for the current thread (std's `ThreadId::as_u64` is unstable).
fn thread_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
    ID.with(|id| *id)
}

/// The locked state; clears the owner when dropped.
struct StateGuard<'a> {
    state: MutexGuard<'a, VMState>,
    owner: &'a AtomicU64,
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        self.owner.store(0, Ordering::Release);
    }
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = VMState;
    fn deref(&self) -> &VMState {
        &self.state
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut VMState {
        &mut self.state
    }
}

/// Lets another thread stop a running program: the run fails with an
/// [`ErrorKind::Interrupted`] error at its next return or backward jump (a run that goes on
/// reaches one soon: recursion returns or meets the call-depth limit).
#[derive(Clone)]
pub struct InterruptHandle(Arc<Signals>);

impl InterruptHandle {
    /// Requests that the running (or, if none runs, the next) program stop.
    pub fn interrupt(&self) {
        self.0.interrupt();
    }

    /// Withdraws a request that no program has seen yet.
    pub fn reset(&self) {
        self.0.take_interrupt();
    }
}

/// A cloneable in-memory output sink: `vm.set_output(buffer.clone())`, then read what the
/// program printed with [`OutputBuffer::contents`].
///
/// # Examples
/// ```
/// use stoffel::{OutputBuffer, Value, VirtualMachine};
/// # fn main() -> Result<(), stoffel::Error> {
/// let vm = VirtualMachine::new();
/// let output = OutputBuffer::new();
/// vm.set_output(output.clone());
/// vm.call("print", &[Value::from("hello"), Value::Int(1)])?;
/// assert_eq!(output.contents(), "hello 1\n");
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct OutputBuffer(Arc<Mutex<Vec<u8>>>);

impl OutputBuffer {
    /// An empty buffer.
    pub fn new() -> OutputBuffer {
        OutputBuffer::default()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }

    /// Empties the buffer.
    pub fn clear(&self) {
        lock(&self.0).clear();
    }
}

impl Write for OutputBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Default for VirtualMachine {
    fn default() -> VirtualMachine {
        VirtualMachine::new()
    }
}

impl VirtualMachine {
    /// A VM with the standard library registered, printing to stdout.
    pub fn new() -> VirtualMachine {
        let signals = Arc::new(Signals::default());
        let hooks = Arc::new(HookManager::new(Arc::clone(&signals)));
        let mut state = VMState::new(Arc::clone(&hooks), Arc::clone(&signals));
        crate::stdlib::register(&mut state);
        let store = state.store.clone();
        VirtualMachine { state: Mutex::new(state), owner: AtomicU64::new(0), hooks, signals, store }
    }

    fn lock(&self) -> Result<StateGuard<'_>, Error> {
        let me = thread_id();
        if self.owner.load(Ordering::Acquire) == me {
            return Err(Error::new(
                ErrorKind::Usage,
                "the VM is already running on this thread: from a foreign function, use the ForeignFunctionContext",
            ));
        }
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => {
                // Only a bug in Stoffel itself can poison the lock (foreign code and hooks run
                // under catch_unwind); start from a clean slate.
                let mut state = poisoned.into_inner();
                state.reset_execution();
                state
            }
        };
        state.native_depth = 0;
        self.owner.store(me, Ordering::Release);
        Ok(StateGuard { state, owner: &self.owner })
    }

    /// Runs `f` on the locked state, turning an unexpected panic into an error and leaving the
    /// state clean either way.
    fn with_locked<R>(&self, f: impl FnOnce(&mut VMState) -> Result<R, Error>) -> Result<R, Error> {
        let mut state = self.lock()?;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut state))) {
            Ok(result) => result,
            Err(panic) => {
                state.reset_execution();
                Err(Error::new(
                    ErrorKind::Usage,
                    format!("internal error (please report): {}", panic_message(&*panic)),
                ))
            }
        }
    }

    /// Registers every function of `program` (replacing functions of the same names), and the
    /// foreign functions its code names as `CALL {rust_fn}`. All VM functions are validated
    /// first: if any is malformed, nothing is registered.
    ///
    /// # Errors
    /// A validation error for the first malformed function, or two functions of one name.
    pub fn load(&self, program: Program) -> Result<(), Error> {
        let mut names = std::collections::HashSet::new();
        for function in program.functions() {
            function.validate()?;
            if !names.insert(function.name.as_str()) {
                return Err(Error::validation(format!("function `{}` is defined twice", function.name)));
            }
        }
        let (functions, foreign) = program.into_parts();
        self.with_locked(|state| {
            for function in foreign {
                state.register_foreign(function);
            }
            for function in functions {
                state.register_function(function)?;
            }
            Ok(())
        })
    }

    /// Validates and registers one VM function, replacing any function of that name (calls
    /// resolved earlier see the replacement).
    ///
    /// # Errors
    /// A validation error naming the problem; the VM is left unchanged.
    pub fn register_function(&self, function: VMFunction) -> Result<(), Error> {
        function.validate()?;
        self.with_locked(|state| state.register_function(function))
    }

    /// Registers a raw foreign function: it gets the context and checks its arguments itself.
    ///
    /// # Panics
    /// Never; if this thread is running the VM (a foreign function calling it through a VM
    /// handle), the registration is refused silently — use
    /// [`ForeignFunctionContext::register_foreign_function`] there.
    pub fn register_foreign_function(
        &self,
        name: &str,
        function: impl Fn(&mut ForeignFunctionContext<'_>) -> Result<Value, Error> + Send + Sync + 'static,
    ) {
        self.register_foreign(ForeignFunction::new(name, function));
    }

    /// Registers a foreign function made by `foreign!(name)` (a `#[foreign_fn]`), by
    /// [`ForeignFunction::new`] or by `register_fn`'s conversion.
    pub fn register_foreign(&self, function: ForeignFunction) {
        let _ = self.with_locked(|state| {
            state.register_foreign(function);
            Ok(())
        });
    }

    /// Registers a typed Rust closure or function: arguments convert with [`FromValue`](crate::FromValue),
    /// the result with [`IntoValue`](crate::IntoValue) (or from a `Result`), as `#[foreign_fn]` does.
    ///
    /// # Examples
    /// ```
    /// use stoffel::{Value, VirtualMachine};
    /// let vm = VirtualMachine::new();
    /// vm.register_fn("greet", |name: String| format!("hello {name}"));
    /// assert_eq!(vm.call("greet", &[Value::from("ada")]).unwrap(), Value::from("hello ada"));
    /// let error = vm.call("greet", &[Value::Int(1)]).unwrap_err();
    /// assert!(error.to_string().starts_with("argument 1 of `greet`: expected string, found int"));
    /// ```
    pub fn register_fn<Marker>(&self, name: &str, function: impl IntoForeignFunction<Marker>) {
        self.register_foreign(function.into_foreign_function(name));
    }

    /// Calls `name` without arguments.
    ///
    /// # Errors
    /// As [`VirtualMachine::call`].
    pub fn execute(&self, name: &str) -> Result<Value, Error> {
        self.call(name, &[])
    }

    /// Calls the function `name` (VM, foreign or builtin) with `args` and returns its result.
    /// Whatever happens, the VM is clean afterwards: no frames, pending arguments or locks.
    ///
    /// # Errors
    /// Not found, arity, and every runtime error of the program, with its call stack.
    pub fn call(&self, name: &str, args: &[Value]) -> Result<Value, Error> {
        self.with_locked(|state| state.call_by_name(name, args))
    }

    /// Stores a host object and returns the `Value::Foreign` referring to it. The host's own
    /// objects are counted but never refused by the live-object cap.
    pub fn register_foreign_object<T: Send + 'static>(&self, object: T) -> Value {
        Value::Foreign(ForeignRef::new(object, self.store.token_uncapped()))
    }

    /// The object a `Value::Foreign` holds, typed.
    ///
    /// # Errors
    /// A type error when `value` is not a foreign object or holds another type than `T`.
    pub fn foreign_object<T: Send + 'static>(&self, value: &Value) -> Result<Arc<Mutex<T>>, Error> {
        downcast_foreign(value)
    }

    /// Registers a hook: `callback` runs for every event `predicate` accepts, higher `priority`
    /// first. A callback's error stops the run and reaches the caller. The hook starts enabled.
    pub fn register_hook(
        &self,
        predicate: impl Fn(&HookEvent) -> bool + Send + Sync + 'static,
        callback: impl Fn(&HookEvent, &HookContext<'_>) -> Result<(), Error> + Send + Sync + 'static,
        priority: i32,
    ) -> HookId {
        self.hooks.register(Arc::new(predicate), Arc::new(callback), priority)
    }

    /// Enables a hook; `false` if there is no such hook.
    pub fn enable_hook(&self, id: HookId) -> bool {
        self.hooks.set_enabled(id, true)
    }

    /// Disables a hook (it stays registered); `false` if there is no such hook.
    pub fn disable_hook(&self, id: HookId) -> bool {
        self.hooks.set_enabled(id, false)
    }

    /// Removes a hook; `false` if there is no such hook.
    pub fn unregister_hook(&self, id: HookId) -> bool {
        self.hooks.unregister(id)
    }

    /// Sends `print` output to `sink` instead of stdout.
    pub fn set_output(&self, sink: impl Write + Send + 'static) {
        let _ = self.with_locked(|state| {
            state.output = Box::new(sink);
            Ok(())
        });
    }

    /// Sets the maximum number of nested VM calls (default 100,000). Deeper recursion fails
    /// with an [`ErrorKind::CallDepth`] error; the host stack is never at risk because VM calls
    /// do not recurse on it.
    pub fn set_max_call_depth(&self, depth: usize) {
        let _ = self.with_locked(|state| {
            state.limits.max_call_depth = depth.max(1);
            Ok(())
        });
    }

    /// Sets the instruction budget: `Some(n)` lets programs run `n` more instructions in all
    /// (foreign functions may charge more through the context), `None` removes the limit.
    pub fn set_fuel(&self, fuel: Option<u64>) {
        let _ = self.with_locked(|state| {
            state.metered = fuel.is_some();
            state.fuel = fuel.unwrap_or(u64::MAX);
            Ok(())
        });
    }

    /// The fuel left, when a budget is set.
    pub fn fuel(&self) -> Option<u64> {
        self.with_locked(|state| Ok(state.fuel())).ok().flatten()
    }

    /// Caps how many objects, arrays and foreign objects programs may keep alive.
    pub fn set_max_live_objects(&self, max: usize) {
        self.store.set_max_live_objects(max);
    }

    /// Caps the length of any one array.
    pub fn set_max_array_length(&self, max: usize) {
        self.store.set_max_array_length(max);
    }

    /// The object store: live counts and caps (usable while a program runs).
    pub fn object_store(&self) -> &ObjectStore {
        &self.store
    }

    /// A handle another thread can use to stop a running program.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(Arc::clone(&self.signals))
    }

    /// Runs `f` with read access to the state (function names, call depth, ...).
    ///
    /// # Errors
    /// A usage error when called from inside a running foreign function on this thread.
    pub fn with_state<R>(&self, f: impl FnOnce(&VMState) -> R) -> Result<R, Error> {
        self.with_locked(|state| Ok(f(state)))
    }
}

impl VMState {
    /// Drops every trace of a run: frames, registers, pending arguments.
    pub(crate) fn reset_execution(&mut self) {
        self.truncate_frames(0);
        self.frames.release_closures();
        self.registers.clear();
        self.pending_args.clear();
        self.native_depth = 0;
    }
}

pub(crate) fn downcast_foreign<T: Send + 'static>(value: &Value) -> Result<Arc<Mutex<T>>, Error> {
    let Value::Foreign(foreign) = value else {
        return Err(Error::type_error(format!(
            "expected foreign object `{}`, found {}",
            std::any::type_name::<T>(),
            value.type_name()
        )));
    };
    foreign.downcast::<T>().ok_or_else(|| {
        Error::type_error(format!(
            "expected foreign object `{}`, found foreign object `{}`",
            std::any::type_name::<T>(),
            foreign.type_name()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<VirtualMachine>();
        assert_send_sync::<Value>();
    }
}
