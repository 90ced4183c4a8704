//! Closures: a VM function plus the upvalue cells it captured. Cells are shared, so two
//! closures that captured the same variable see each other's writes, and a closure keeps its
//! cells across calls (a counter counts).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::value::{lock, Str, Value};

/// A captured variable: a named, shared, mutable cell.
#[derive(Clone)]
pub struct Upvalue {
    pub(crate) name: Str,
    pub(crate) cell: Arc<UpvalueCell>,
}

/// The storage of an upvalue, shared by every closure that captured it (and maybe by threads:
/// a closure is a `Value`, and values are `Send + Sync`). An int — counters, accumulators, the
/// common case — is read and written with plain atomic loads and stores; any other value lives
/// behind the mutex. Locking for every access cost the counter benchmark a third of its time.
///
/// Invariant: while `holds_int` is set the mutex holds unit, so nothing stays alive unseen.
/// Writers that change between an int and another value take the lock; a racing int write
/// that loses to such a change is simply overwritten, so every state is some written value.
pub(crate) struct UpvalueCell {
    holds_int: AtomicBool,
    int: AtomicI64,
    other: Mutex<Value>,
}

impl UpvalueCell {
    pub(crate) fn new(value: Value) -> UpvalueCell {
        match value {
            Value::Int(int) => UpvalueCell {
                holds_int: AtomicBool::new(true),
                int: AtomicI64::new(int),
                other: Mutex::new(Value::Unit),
            },
            other => UpvalueCell {
                holds_int: AtomicBool::new(false),
                int: AtomicI64::new(0),
                other: Mutex::new(other),
            },
        }
    }

    /// The current value.
    #[inline]
    pub(crate) fn get(&self) -> Value {
        if self.holds_int.load(Ordering::Acquire) {
            return Value::Int(self.int.load(Ordering::Relaxed));
        }
        self.get_other()
    }

    /// The int the cell holds, if it holds one (no lock).
    #[inline(always)]
    pub(crate) fn get_int(&self) -> Option<i64> {
        if self.holds_int.load(Ordering::Acquire) {
            Some(self.int.load(Ordering::Relaxed))
        } else {
            None
        }
    }

    fn get_other(&self) -> Value {
        let other = lock(&self.other);
        // An int may have been written since the check above.
        if self.holds_int.load(Ordering::Acquire) {
            return Value::Int(self.int.load(Ordering::Relaxed));
        }
        other.clone()
    }

    /// Writes `value`; returns the old value.
    #[inline]
    pub(crate) fn set(&self, value: Value) -> Value {
        if let Value::Int(new) = value {
            if self.holds_int.load(Ordering::Acquire) {
                // A load and a store, not a locked swap: two threads writing at once may both
                // report the same old value (it only feeds hook events), never a torn one.
                let old = self.int.load(Ordering::Relaxed);
                self.int.store(new, Ordering::Relaxed);
                return Value::Int(old);
            }
        }
        self.set_other(value)
    }

    /// Writes an int, dropping the old value: the dispatch loop's `SETUPVAL`, which has the
    /// int in hand and no event to report the old value to.
    #[inline(always)]
    pub(crate) fn set_int(&self, new: i64) {
        if self.holds_int.load(Ordering::Acquire) {
            self.int.store(new, Ordering::Relaxed);
        } else {
            drop(self.set_other(Value::Int(new)));
        }
    }

    fn set_other(&self, value: Value) -> Value {
        let mut other = lock(&self.other);
        let old = if self.holds_int.load(Ordering::Acquire) {
            Value::Int(self.int.load(Ordering::Relaxed))
        } else {
            std::mem::take(&mut *other)
        };
        match value {
            Value::Int(new) => {
                self.int.store(new, Ordering::Relaxed);
                self.holds_int.store(true, Ordering::Release);
            }
            value => {
                *other = value;
                self.holds_int.store(false, Ordering::Release);
            }
        }
        old
    }

    /// The value, consuming the cell.
    pub(crate) fn into_value(self) -> Value {
        if self.holds_int.into_inner() {
            Value::Int(self.int.into_inner())
        } else {
            self.other.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}

impl Upvalue {
    /// The variable's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cell's current value.
    #[inline]
    pub fn get(&self) -> Value {
        self.cell.get()
    }

    /// Writes the cell and returns the old value.
    #[inline]
    pub fn set(&self, value: Value) -> Value {
        self.cell.set(value)
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

    /// The upvalue named by this very string (the interned constant `create_closure` kept): a
    /// pointer comparison per upvalue, no bytes compared.
    #[inline]
    pub(crate) fn upvalue_interned(&self, name: &Str) -> Option<&Upvalue> {
        self.upvalues.iter().find(|upvalue| upvalue.name.is(name))
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
            .map(UpvalueCell::into_value)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_moves_between_ints_and_other_values() {
        let cell = UpvalueCell::new(Value::Int(1));
        assert_eq!(cell.get(), Value::Int(1));
        assert_eq!(cell.set(Value::Int(2)), Value::Int(1));
        assert_eq!(cell.set(Value::from("text")), Value::Int(2));
        assert_eq!(cell.get(), Value::from("text"));
        assert_eq!(cell.set(Value::Int(3)), Value::from("text"));
        assert_eq!(*lock(&cell.other), Value::Unit, "an int leaves nothing behind the lock");
        assert_eq!(cell.set(Value::Float(0.5)), Value::Int(3));
        assert_eq!(cell.into_value(), Value::Float(0.5));
        assert_eq!(UpvalueCell::new(Value::Int(-4)).into_value(), Value::Int(-4));
    }

    #[test]
    fn an_int_write_releases_the_reference_the_cell_held() {
        let shared = Arc::new(Closure { function: "f".into(), slot: 0, upvalues: Vec::new() });
        let cell = UpvalueCell::new(Value::Unit);
        cell.set(Value::Closure(Arc::clone(&shared)));
        assert_eq!(Arc::strong_count(&shared), 2);
        let old = cell.set(Value::Int(0));
        drop(old);
        assert_eq!(Arc::strong_count(&shared), 1, "the cell keeps no reference once it holds an int");
        assert_eq!(cell.get(), Value::Int(0));
    }

    #[test]
    fn get_int_reads_only_an_int() {
        let cell = UpvalueCell::new(Value::Int(4));
        assert_eq!(cell.get_int(), Some(4));
        cell.set(Value::from("four"));
        assert_eq!(cell.get_int(), None);
        cell.set_int(5);
        assert_eq!(cell.get_int(), Some(5));
    }

    #[test]
    fn set_int_writes_over_ints_and_over_references_alike() {
        let cell = UpvalueCell::new(Value::Int(1));
        cell.set_int(2);
        assert_eq!(cell.get(), Value::Int(2));
        let shared = Arc::new(Closure { function: "f".into(), slot: 0, upvalues: Vec::new() });
        cell.set(Value::Closure(Arc::clone(&shared)));
        cell.set_int(3);
        assert_eq!(cell.get(), Value::Int(3));
        assert_eq!(Arc::strong_count(&shared), 1, "the reference the cell held is dropped");
        assert_eq!(*lock(&cell.other), Value::Unit, "an int leaves nothing behind the lock");
    }

    #[test]
    fn threads_writing_at_once_leave_one_of_the_written_values() {
        let cell = Arc::new(UpvalueCell::new(Value::Int(0)));
        let writers: Vec<_> = (0..4)
            .map(|thread| {
                let cell = Arc::clone(&cell);
                std::thread::spawn(move || {
                    for round in 0..2_000i64 {
                        if (round + thread) % 3 == 0 {
                            cell.set(Value::from(format!("{thread}")));
                        } else {
                            cell.set(Value::Int(thread * 10_000 + round));
                        }
                        match cell.get() {
                            Value::Int(_) | Value::String(_) => {}
                            other => panic!("a value no one wrote: {other:?}"),
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        match cell.get() {
            Value::Int(int) => assert!((0..40_000).contains(&int)),
            Value::String(text) => assert!(["0", "1", "2", "3"].contains(&text.as_str())),
            other => panic!("a value no one wrote: {other:?}"),
        }
    }
}
