//! Foreign functions: host code the VM calls. The context a foreign function receives
//! (arguments plus controlled access to the VM, re-entrant calls included), the stored form
//! of a foreign function, and typed registration of plain closures (`register_fn`).

use std::any::Any;
use std::sync::{Arc, Mutex};

use crate::convert::{FromValue, IntoResult};
use crate::error::{Error, ErrorKind, StackFrame};
use crate::function::VMFunction;
use crate::hooks::HookEvent;
use crate::object_store::ObjectStore;
use crate::state::VMState;
use crate::value::Value;

/// The signature of a raw foreign function.
pub type RawForeignFn = dyn Fn(&mut ForeignFunctionContext<'_>) -> Result<Value, Error> + Send + Sync;

/// A foreign function as the VM stores it: its name, accepted argument counts, parameter type
/// names (for signatures and messages) and the code.
#[derive(Clone)]
pub struct ForeignFunction {
    pub(crate) name: String,
    pub(crate) min_arity: usize,
    /// `None`: any number of arguments from `min_arity` on.
    pub(crate) max_arity: Option<usize>,
    pub(crate) parameter_types: Vec<&'static str>,
    pub(crate) code: Arc<RawForeignFn>,
}

impl ForeignFunction {
    /// A foreign function that takes any number of arguments and checks them itself.
    pub fn new(
        name: impl Into<String>,
        code: impl Fn(&mut ForeignFunctionContext<'_>) -> Result<Value, Error> + Send + Sync + 'static,
    ) -> ForeignFunction {
        ForeignFunction {
            name: name.into(),
            min_arity: 0,
            max_arity: None,
            parameter_types: Vec::new(),
            code: Arc::new(code),
        }
    }

    /// Declares the accepted argument counts: `min..=max`, or `min..` when `max` is `None`.
    /// The VM checks them before calling, with an error that states the range.
    pub fn with_arity(mut self, min: usize, max: Option<usize>) -> ForeignFunction {
        self.min_arity = min;
        self.max_arity = max;
        self
    }

    /// Records the parameter type names, for [`ForeignFunction::signature`].
    pub fn with_parameter_types(mut self, types: Vec<&'static str>) -> ForeignFunction {
        self.parameter_types = types;
        self
    }

    /// The name calls use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The accepted argument counts.
    pub fn arity(&self) -> (usize, Option<usize>) {
        (self.min_arity, self.max_arity)
    }

    /// A readable signature: `add(int, int)`.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name, self.parameter_types.join(", "))
    }

    #[inline]
    pub(crate) fn check_arity(&self, count: usize) -> Result<(), Error> {
        check_arity(&self.name, self.min_arity, self.max_arity, count)
    }
}

/// Checks an argument count against `min..=max` (`max: None`: variadic), with an error that
/// states the accepted range: `` `f` takes 1 to 2 arguments, but 0 were given ``. The check is
/// inline (every call makes it); the message is built apart.
#[inline]
pub(crate) fn check_arity(name: &str, min: usize, max: Option<usize>, count: usize) -> Result<(), Error> {
    if count >= min && max.is_none_or(|max| count <= max) {
        return Ok(());
    }
    Err(arity_error(name, min, max, count))
}

#[cold]
#[inline(never)]
fn arity_error(name: &str, min: usize, max: Option<usize>, count: usize) -> Error {
    let expected = match max {
        Some(max) if max == min => plural(max, "argument"),
        Some(max) => format!("{min} to {max} arguments"),
        None => format!("at least {}", plural(min, "argument")),
    };
    Error::arity(format!("`{name}` takes {expected}, but {}", given(count)))
}

impl std::fmt::Debug for ForeignFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignFunction")
            .field("name", &self.name)
            .field("min_arity", &self.min_arity)
            .field("max_arity", &self.max_arity)
            .field("parameter_types", &self.parameter_types)
            .finish_non_exhaustive()
    }
}

/// "1 was given", "2 were given": the end of every arity message.
pub(crate) fn given(count: usize) -> String {
    if count == 1 {
        "1 was given".to_owned()
    } else {
        format!("{count} were given")
    }
}

pub(crate) fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

/// What a foreign function receives: its arguments and controlled access to the VM — the
/// object store, foreign objects, output, fuel, and calls back into VM functions and closures
/// (re-entrant: the VM is already locked by this thread, so the context is the way in).
pub struct ForeignFunctionContext<'a> {
    /// The arguments, first pushed first.
    pub args: &'a [Value],
    pub(crate) state: &'a mut VMState,
    pub(crate) name: &'a str,
}

impl<'a> ForeignFunctionContext<'a> {
    /// The name this function was called by.
    pub fn function_name(&self) -> &str {
        self.name
    }

    /// Converts argument `index` (0-based); the error names the position and the function.
    ///
    /// # Errors
    /// An arity error when the argument is missing, a type error when it does not convert.
    pub fn arg<T: FromValue<'a>>(&self, index: usize) -> Result<T, Error> {
        crate::convert::argument(self.args, index, self.name)
    }

    /// Calls a VM, foreign or builtin function by name with `args` and returns its result.
    ///
    /// # Errors
    /// Whatever the callee fails with; not found and arity errors.
    pub fn call(&mut self, name: &str, args: &[Value]) -> Result<Value, Error> {
        self.state.call_by_name(name, args)
    }

    /// Calls a closure value with `args`.
    ///
    /// # Errors
    /// A type error when `closure` is not a closure; whatever the closure fails with.
    pub fn call_closure(&mut self, closure: &Value, args: &[Value]) -> Result<Value, Error> {
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(closure.clone());
        all.extend_from_slice(args);
        self.state.call_by_name("call_closure", &all)
    }

    /// The object stored in a `Value::Foreign`, typed.
    ///
    /// # Errors
    /// A type error when `value` is not a foreign object or holds another type than `T`.
    pub fn foreign_object<T: Send + 'static>(&self, value: &Value) -> Result<Arc<Mutex<T>>, Error> {
        crate::vm::downcast_foreign(value)
    }

    /// Stores a host object in the VM and returns the `Value::Foreign` that refers to it.
    ///
    /// # Errors
    /// A limit error when the live-object cap is reached.
    pub fn register_foreign_object<T: Send + 'static>(&mut self, object: T) -> Result<Value, Error> {
        Ok(Value::Foreign(self.state.store.new_foreign(object)?))
    }

    /// The object store (live counts, caps).
    pub fn object_store(&self) -> &ObjectStore {
        &self.state.store
    }

    /// Creates an empty VM object.
    ///
    /// # Errors
    /// A limit error when the live-object cap is reached.
    pub fn create_object(&self) -> Result<Value, Error> {
        Ok(Value::Object(self.state.store.new_object()?))
    }

    /// Creates a VM array holding `elements`.
    ///
    /// # Errors
    /// A limit error when a cap is reached.
    pub fn create_array(&self, elements: Vec<Value>) -> Result<Value, Error> {
        Ok(Value::Array(self.state.store.new_array(elements)?))
    }

    /// Registers (or replaces) a VM function while the VM runs.
    ///
    /// # Errors
    /// A validation error for a malformed function.
    pub fn register_function(&mut self, function: VMFunction) -> Result<(), Error> {
        self.state.register_function(function)
    }

    /// Registers (or replaces) a foreign function while the VM runs.
    pub fn register_foreign_function(&mut self, function: ForeignFunction) {
        self.state.register_foreign(function);
    }

    /// Charges `amount` units of fuel, as wasmtime's `consume_fuel`: expensive foreign work
    /// counts against the instruction budget.
    ///
    /// # Errors
    /// A limit error when the budget runs out.
    pub fn consume_fuel(&mut self, amount: u64) -> Result<(), Error> {
        self.state.consume_fuel(amount)
    }

    /// Writes text to the VM's output sink (where `print` writes).
    ///
    /// # Errors
    /// A foreign error when the sink fails.
    pub fn write_output(&mut self, text: &str) -> Result<(), Error> {
        self.state.output.write_all(text.as_bytes()).map_err(Error::foreign)
    }

    /// The VM call stack below this foreign call, innermost first.
    pub fn call_stack(&self) -> Vec<StackFrame> {
        self.state.call_stack()
    }

    /// Whether any hook is enabled (then builtins fire their events).
    pub(crate) fn hooks_active(&self) -> bool {
        self.state.hooks_active()
    }

    /// Fires a hook event when hooks are enabled; `make` builds the event only then.
    pub(crate) fn fire(&self, make: impl FnOnce() -> HookEvent) -> Result<(), Error> {
        if self.hooks_active() {
            self.state.fire(make())
        } else {
            Ok(())
        }
    }
}

/// A plain Rust closure or function that can be registered with
/// [`VirtualMachine::register_fn`](crate::VirtualMachine::register_fn): any
/// `Fn(A, B, ..) -> R` (up to 8 parameters) whose parameters implement [`FromValue`] and whose
/// result implements [`IntoResult`] (any `IntoValue`, or a `Result` with a displayable error).
/// Trailing `Option` parameters may be omitted by the caller.
pub trait IntoForeignFunction<Marker> {
    /// Wraps `self` as a foreign function named `name`.
    fn into_foreign_function(self, name: &str) -> ForeignFunction;
}

macro_rules! impl_into_foreign_function {
    ($($param:ident),*) => {
        impl<Func, Ret, $($param,)*> IntoForeignFunction<(Ret, $($param,)*)> for Func
        where
            Func: Fn($($param),*) -> Ret + Send + Sync + 'static,
            Ret: IntoResult,
            $($param: for<'v> FromValue<'v>,)*
        {
            #[allow(non_snake_case, unused_mut, unused_variables, unused_assignments)]
            fn into_foreign_function(self, name: &str) -> ForeignFunction {
                let types: Vec<&'static str> = vec![$(<$param as FromValue<'static>>::EXPECTED),*];
                let optional: [bool; 0 $(+ { let _ = stringify!($param); 1 })*] = [$(<$param as FromValue<'static>>::missing().is_some()),*];
                let required = optional.iter().rposition(|optional| !optional).map_or(0, |last| last + 1);
                ForeignFunction::new(name, move |ctx| {
                    let mut index = 0;
                    $(
                        let $param: $param = ctx.arg(index)?;
                        index += 1;
                    )*
                    (self)($($param),*).into_result()
                })
                .with_arity(required, Some(types.len()))
                .with_parameter_types(types)
            }
        }
    };
}

impl_into_foreign_function!();
impl_into_foreign_function!(A1);
impl_into_foreign_function!(A1, A2);
impl_into_foreign_function!(A1, A2, A3);
impl_into_foreign_function!(A1, A2, A3, A4);
impl_into_foreign_function!(A1, A2, A3, A4, A5);
impl_into_foreign_function!(A1, A2, A3, A4, A5, A6);
impl_into_foreign_function!(A1, A2, A3, A4, A5, A6, A7);
impl_into_foreign_function!(A1, A2, A3, A4, A5, A6, A7, A8);

/// Runs `call` (a foreign function `name`), turning a panic into an error.
#[inline(always)]
pub(crate) fn call_guarded<R>(name: &str, call: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(result) => result,
        Err(panic) => Err(Error::new(
            ErrorKind::Foreign,
            format!("foreign function `{name}` panicked: {}", panic_message(&*panic)),
        )),
    }
}
