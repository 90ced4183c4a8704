//! The standard library every `VirtualMachine::new()` registers, by family: `io` (print,
//! error, type), `collections` (objects and arrays), `closures` (create, call, upvalues).
//!
//! Most builtins are *direct*: they read the VM state and the pending arguments in place and
//! run straight from the dispatch loop, without a foreign-call context (real programs spend
//! most of their calls on them). `print` and `create_closure` need mutable access and are
//! ordinary foreign functions; `call_closure` runs in the dispatch loop itself. A host can
//! replace any of them by registering the name.

mod closures;

pub(crate) use closures::{read_upvalue, write_upvalue};
mod collections;
mod io;

use crate::foreign::{ForeignFunction, ForeignFunctionContext};
use crate::hooks::HookEvent;
use crate::state::{Callable, VMState};
use crate::{Error, Value};

/// A direct builtin: the state (read-only; values have interior mutability) and its arguments.
pub(crate) type DirectFn = fn(&VMState, &[Value]) -> Result<Value, Error>;

/// A direct builtin's name, accepted argument counts (`max: None`: variadic) and code.
pub(crate) struct Builtin {
    pub(crate) name: &'static str,
    pub(crate) min: usize,
    pub(crate) max: Option<usize>,
    pub(crate) code: DirectFn,
    /// The common case the dispatch loop does itself, without calling `code`.
    pub(crate) inline: Inline,
}

/// Builtins whose common case the dispatch loop runs in place (array element by int index,
/// object field by a key of a key type, push of one value, the running closure's upvalue by
/// its interned name; no hook enabled): the call was most of their cost. Anything else — other
/// types, out of range, a full array, a name not found by pointer, hooks — calls the builtin,
/// which reports or fires as usual.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inline {
    No,
    GetField,
    SetField,
    ArrayPush,
    GetUpvalue,
    SetUpvalue,
}

impl Builtin {
    /// Checks how many arguments a call passes.
    #[inline]
    pub(crate) fn check_arity(&self, count: usize) -> Result<(), Error> {
        crate::foreign::check_arity(self.name, self.min, self.max, count)
    }
}

static DIRECT: &[Builtin] = &[
    Builtin { name: "type", min: 1, max: Some(1), code: io::type_of, inline: Inline::No },
    Builtin { name: "error", min: 1, max: Some(1), code: io::raise, inline: Inline::No },
    Builtin {
        name: "create_object",
        min: 0,
        max: Some(0),
        code: collections::create_object,
        inline: Inline::No,
    },
    Builtin {
        name: "create_array",
        min: 0,
        max: Some(1),
        code: collections::create_array,
        inline: Inline::No,
    },
    Builtin {
        name: "get_field",
        min: 2,
        max: Some(2),
        code: collections::get_field,
        inline: Inline::GetField,
    },
    Builtin {
        name: "set_field",
        min: 3,
        max: Some(3),
        code: collections::set_field,
        inline: Inline::SetField,
    },
    Builtin {
        name: "array_length",
        min: 1,
        max: Some(1),
        code: collections::array_length,
        inline: Inline::No,
    },
    Builtin {
        name: "array_push",
        min: 2,
        max: None,
        code: collections::array_push,
        inline: Inline::ArrayPush,
    },
    Builtin {
        name: "get_upvalue",
        min: 1,
        max: Some(1),
        code: closures::get_upvalue,
        inline: Inline::GetUpvalue,
    },
    Builtin {
        name: "set_upvalue",
        min: 2,
        max: Some(2),
        code: closures::set_upvalue,
        inline: Inline::SetUpvalue,
    },
];

type ContextFn = fn(&mut ForeignFunctionContext<'_>) -> Result<Value, Error>;

/// Builtins that need the full foreign-function context: name, arity, code.
const WITH_CONTEXT: &[(&str, usize, Option<usize>, ContextFn)] =
    &[("print", 0, None, io::print), ("create_closure", 1, None, closures::create_closure)];

/// Registers every builtin into `state`.
pub(crate) fn register(state: &mut VMState) {
    for builtin in DIRECT {
        state.functions.define(builtin.name, Callable::Builtin(builtin.inline, builtin));
    }
    for &(name, min, max, code) in WITH_CONTEXT {
        state.register_foreign(ForeignFunction::new(name, code).with_arity(min, max));
    }
    // `call_closure` pushes a frame in the dispatch loop itself: closures recurse without
    // using host stack.
    state.functions.define("call_closure", Callable::CallClosure);
}

use crate::convert::argument as arg;

/// Fires a hook event when hooks are enabled; `make` builds it only then.
fn fire(state: &VMState, make: impl FnOnce() -> HookEvent) -> Result<(), Error> {
    if state.hooks_active() {
        state.fire(make())
    } else {
        Ok(())
    }
}
