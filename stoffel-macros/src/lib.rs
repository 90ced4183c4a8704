//! Procedural macros of the Stoffel VM, re-exported by `stoffel`: entry points only; each
//! macro lives in its own folder, one file per phase (parse, validate, expand).

mod diagnostic;
mod foreign_fn;

use proc_macro::TokenStream;

/// Exposes an ordinary Rust function to the Stoffel VM.
///
/// The function stays as written, callable from Rust; beside it, a hidden module of the same
/// name describes it to the VM. Register it with `vm.register_foreign(foreign!(name))`.
///
/// ```
/// use stoffel::{foreign, foreign_fn, Value, VirtualMachine};
///
/// /// Adds two integers; overflow is an error.
/// #[foreign_fn]
/// fn checked_add(a: i64, b: i64) -> Result<i64, String> {
///     a.checked_add(b).ok_or_else(|| format!("{a} + {b} overflows"))
/// }
///
/// # fn main() -> Result<(), stoffel::Error> {
/// let vm = VirtualMachine::new();
/// vm.register_foreign(foreign!(checked_add));
/// assert_eq!(vm.call("checked_add", &[Value::Int(2), Value::Int(3)])?, Value::Int(5));
/// assert_eq!(checked_add(2, 3), Ok(5)); // still an ordinary function
///
/// let error = vm.call("checked_add", &[Value::Int(1), Value::from("x")]).unwrap_err();
/// assert_eq!(error.message(), "argument 2 of `checked_add`: expected int, found string");
/// # Ok(()) }
/// ```
///
/// # Parameters
///
/// Arguments are passed in order; each parameter takes one:
///
/// | parameter | receives |
/// |---|---|
/// | `T: FromValue` (`i64`, `f64`, `bool`, `String`, `&str`, `Value`, `Vec<T>`, ...) | the argument, converted |
/// | `Option<T>` | `None` for `()`; trailing ones may be left out by the caller |
/// | `&Value` | the argument itself, borrowed |
/// | `&[Value]`, last | all remaining arguments (variadic); `&[T]` converts each to `T` |
/// | `&T`, `&mut T` | a foreign object of type `T` (see `VirtualMachine::register_foreign_object`), locked for the call |
/// | `Arc<Mutex<T>>` | a foreign object's shared handle |
/// | `&mut ForeignFunctionContext`, first | no argument: access to the VM (call back into it, create objects, ...) |
///
/// `&str`, `&Value` and `&[..]` are recognised by their spelling; any other reference is a
/// foreign object. The same foreign object passed for two reference parameters, or borrowed
/// again by a foreign function that the first one calls back into, is an error rather than a
/// deadlock. An object whose lock a panicking foreign function poisoned is refused with an
/// error until the host repairs it and calls `Mutex::clear_poison`.
///
/// The return type is any `T: IntoValue` (or none, giving `()`), or `Result<T, E>` with
/// `E: Display`: an `Err` becomes a VM error carrying `E`'s message, and a `stoffel::Error`
/// (say from `ctx.call(..)?`) is passed on as it is, kind and call stack included. A panic
/// becomes a VM error too.
///
/// Calls with too few or too many arguments fail before the function runs, with an error that
/// states the accepted range; a conversion failure names the argument, the function and both
/// types: `` argument 2 of `add`: expected int, found string ``.
///
/// # Options
///
/// `#[foreign_fn(name = "vm_name")]` registers the function under another name than its Rust
/// one (any non-empty string without whitespace or control characters).
///
/// # Unsupported signatures
///
/// These are compile errors that point at the offending token and say why: generic type or
/// const parameters (lifetimes are fine), `self`, `async`, `unsafe`, `extern` ABIs, C variadics,
/// `impl Trait` parameters, destructuring patterns, a context that is not first, a slice that
/// is not last, a parameter type without `FromValue` or a return type without `IntoValue`.
///
/// # The companion module
///
/// `#[foreign_fn] pub fn add(..)` also defines `#[doc(hidden)] pub mod add` with `NAME`,
/// `MIN_ARITY`, `MAX_ARITY` (`usize::MAX` with a final slice), `PARAMETER_TYPES` and
/// `foreign_function()`, which `foreign!(path::to::add)` calls. It has the function's
/// visibility, so a function is registrable wherever it is visible.
#[proc_macro_attribute]
pub fn foreign_fn(attr: TokenStream, item: TokenStream) -> TokenStream {
    foreign_fn::foreign_fn(attr.into(), item.into()).into()
}
