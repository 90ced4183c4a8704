//! Closures: a VM function plus the upvalue cells it captured. Cells are shared, so two
//! closures that captured the same variable see each other's writes, and a closure keeps its
//! cells across calls (a counter counts).

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::value::{lock, Str, Value};

/// A captured variable: a named, shared, mutable cell.
#[derive(Clone)]
pub struct Upvalue {
    pub(crate) name: Str,
    pub(crate) cell: Arc<Mutex<Value>>,
}

impl Upvalue {
    /// The variable's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cell's current value.
    #[inline]
    pub fn get(&self) -> Value {
        lock(&self.cell).clone()
    }

    /// Writes the cell and returns the old value.
    #[inline]
    pub fn set(&self, value: Value) -> Value {
        std::mem::replace(&mut *lock(&self.cell), value)
    }
}

/// A closure: the function it runs (by name, resolved to a slot so re-registration is seen)
/// and its upvalue cells. Created by the `create_closure` builtin, called by `call_closure`.
pub struct Closure {
    pub(crate) function: String,
    pub(crate) slot: u32,
    pub(crate) upvalues: Vec<Upvalue>,
}

impl Closure {
    /// The name of the function the closure runs.
    pub fn function_name(&self) -> &str {
        &self.function
    }

    /// The captured upvalues, in capture order.
    pub fn upvalues(&self) -> &[Upvalue] {
        &self.upvalues
    }

    /// The upvalue named `name`.
    pub fn upvalue(&self, name: &str) -> Option<&Upvalue> {
        self.upvalues.iter().find(|upvalue| upvalue.name.as_str() == name)
    }

    /// The upvalue named `name`, found by pointer first (interned names: no byte comparison).
    #[inline]
    pub(crate) fn upvalue_named(&self, name: &Str) -> Option<&Upvalue> {
        self.upvalues.iter().find(|upvalue| upvalue.name.is(name)).or_else(|| self.upvalue(name))
    }
}

impl Closure {
    /// Empties the upvalues, returning the values of cells no one else shares (for the
    /// non-recursive drop in `value`).
    pub(crate) fn take_unshared_cells(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.upvalues)
            .into_iter()
            .filter_map(|upvalue| Arc::into_inner(upvalue.cell))
            .map(|cell| cell.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()))
            .collect()
    }
}

impl Drop for Closure {
    fn drop(&mut self) {
        crate::value::drop_iteratively(self.take_unshared_cells());
    }
}

impl fmt::Debug for Closure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Closure");
        debug.field("function", &self.function);
        for upvalue in &self.upvalues {
            debug.field(&upvalue.name, &upvalue.get());
        }
        debug.finish()
    }
}
