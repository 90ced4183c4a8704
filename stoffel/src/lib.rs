//! Stoffel: a register-based bytecode virtual machine for Rust hosts.
//!
//! Expose Rust functions with `#[foreign_fn]` or [`VirtualMachine::register_fn`], write VM
//! functions with `bytecode!` (checked at compile time) or the text assembler [`asm`], run
//! them, and observe every step with hooks.
//!
//! ```
//! use stoffel::{Value, VirtualMachine};
//! # fn main() -> Result<(), stoffel::Error> {
//! let vm = VirtualMachine::new();
//! vm.register_fn("square", |x: i64| x * x);
//! assert_eq!(vm.call("square", &[Value::Int(7)])?, Value::Int(49));
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

// Lets our own tests and docs use the macros' absolute `::stoffel::` paths.
extern crate self as stoffel;

pub mod asm;

mod activation;
mod closure;
mod convert;
mod error;
mod exec;
mod fields;
mod foreign;
mod function;
mod hooks;
mod instruction;
mod macros;
mod object_store;
mod program;
mod registers;
mod signals;
mod state;
mod stdlib;
mod value;
mod vm;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use activation::CompareFlag;
pub use closure::{Closure, Upvalue};
pub use convert::{FromValue, IntoResult, IntoValue};
pub use error::{Error, ErrorKind, StackFrame};
pub use foreign::{ForeignFunction, ForeignFunctionContext, IntoForeignFunction, RawForeignFn};
pub use function::{VMFunction, MAX_REGISTERS};
pub use hooks::{HookContext, HookEvent, HookId};
pub use instruction::Instruction;
pub use object_store::ObjectStore;
pub use program::Program;
pub use state::VMState;
pub use value::{ArrayRef, ForeignRef, Key, ObjectRef, Str, Value};
pub use vm::{InterruptHandle, OutputBuffer, VirtualMachine};

pub use stoffel_macros::bytecode;
pub use stoffel_macros::foreign_fn;

/// The README's examples run as doctests, so the guide cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
