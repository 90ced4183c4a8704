//! The standard library every `VirtualMachine::new()` registers, by family: `io` (print,
//! error, type), `collections` (objects and arrays), `closures` (create, call, upvalues).
//! Builtins are ordinary foreign functions with declared arities, so a host can replace any.

mod closures;
mod collections;
mod io;

use crate::foreign::{ForeignFunction, ForeignFunctionContext};
use crate::state::{Callable, VMState};
use crate::{Error, Value};

type Builtin = fn(&mut ForeignFunctionContext<'_>) -> Result<Value, Error>;

/// Name, minimum and maximum argument count (`None`: variadic), parameter types, code.
type BuiltinRow = (&'static str, usize, Option<usize>, &'static [&'static str], Builtin);

const BUILTINS: &[BuiltinRow] = &[
    ("print", 0, None, &["any…"], io::print),
    ("type", 1, Some(1), &["any"], io::type_of),
    ("error", 1, Some(1), &["any"], io::raise),
    ("create_object", 0, Some(0), &[], collections::create_object),
    ("create_array", 0, Some(1), &["int"], collections::create_array),
    ("get_field", 2, Some(2), &["object|array", "key"], collections::get_field),
    ("set_field", 3, Some(3), &["object|array", "key", "any"], collections::set_field),
    ("array_length", 1, Some(1), &["array"], collections::array_length),
    ("array_push", 2, None, &["array", "any…"], collections::array_push),
    ("create_closure", 1, None, &["string", "string…"], closures::create_closure),
    ("get_upvalue", 1, Some(1), &["string"], closures::get_upvalue),
    ("set_upvalue", 2, Some(2), &["string", "any"], closures::set_upvalue),
];

/// Registers every builtin into `state`.
pub(crate) fn register(state: &mut VMState) {
    for &(name, min, max, types, code) in BUILTINS {
        state.register_foreign(
            ForeignFunction::new(name, code).with_arity(min, max).with_parameter_types(types.to_vec()),
        );
    }
    // `call_closure` pushes a frame in the dispatch loop itself: closures recurse without
    // using host stack.
    state.functions.define("call_closure", Callable::CallClosure);
}
