//! Procedural macros of the Stoffel VM, re-exported by `stoffel`: entry points only; each
//! macro lives in its own folder, one file per phase (parse, validate, expand).

#![warn(missing_docs)]

mod bytecode;
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

/// VM functions written in Stoffel assembly inside Rust source, checked at compile time;
/// evaluates to a `stoffel::Program` for `vm.load(program)`.
///
/// ```
/// use stoffel::{bytecode, Value, VirtualMachine};
///
/// # fn main() -> Result<(), stoffel::Error> {
/// let limit = 10;
/// let program = bytecode! {
///     // sum of 0..limit
///     fn sum() {
///         LDI r0, 0            // total
///         LDI r1, 0            // i
///         LDI r2, {limit}      // a Rust expression, converted with IntoValue
///         LDI r3, 1
///     next:
///         CMP r1, r2
///         JMPEQ done
///         ADD r0, r0, r1
///         ADD r1, r1, r3
///         JMP next
///     done:
///         RET r0
///     }
/// };
/// let vm = VirtualMachine::new();
/// vm.load(program)?;
/// assert_eq!(vm.execute("sum")?, Value::Int(45));
/// # Ok(()) }
/// ```
///
/// # Syntax
///
/// The syntax is the text assembler's (`stoffel::asm::assemble` reads the same text):
/// `fn name(params) captures(upvalues) registers(N) { body }`, where `captures(…)` and
/// `registers(N)` are optional (without `registers`, the count is the highest register used
/// plus one, at least the parameter count). A body holds `label:` definitions and
/// instructions, `MNEMONIC operand, operand` with an optional `;`. Operands are registers
/// `r0`, stack slots `[sp+0]` / `[sp-1]`, immediates (integers, floats, `true`, `false`,
/// strings, `()`), labels and function names (a string for names that are not identifiers).
///
/// Two forms exist only here: `LDI rD, {expr}` loads any Rust expression whose type implements
/// `IntoValue`, and `CALL {path}` calls a `#[foreign_fn]` by its Rust path — the compiler then
/// checks that the function exists and, when the `PUSHARG`s before the `CALL` tell the
/// argument count, that the function accepts that many. Register such a function with
/// `vm.register_foreign(foreign!(path))`.
///
/// # Errors
///
/// Every mistake of the block is a compile error at its token, all reported at once: an
/// unknown mnemonic (with a suggestion), a wrong operand count or kind, a register beyond
/// `registers(N)`, an undefined or duplicate label, a duplicate function, a `CALL` of a
/// function of the same block with a wrong known argument count, a function that can run past
/// its last instruction, a literal that does not fit or does not read (`9223372036854775808`,
/// `"\q"`).
#[proc_macro]
pub fn bytecode(input: TokenStream) -> TokenStream {
    bytecode::bytecode(input.into()).into()
}
