//! Activation records: one per running VM function call. A frame owns a window
//! `base..base + register_count` of the VM's one register stack (no vector per call), its
//! compare flag, where its pending arguments start, and the closure it runs for.

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use crate::closure::Closure;
use crate::exec::resolve::CompiledFunction;
use crate::value::Value;

/// The result of the last `CMP` in a frame.
// A full word: a one-byte field inside the frame record made every call stall on store
// forwarding when the record was copied into the frame stack (seen with perf on fib).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum CompareFlag {
    /// The left operand was less.
    Less,
    /// The operands were equal (also the initial state of a frame).
    Equal,
    /// The left operand was greater.
    Greater,
    /// The operands cannot be ordered (NaN, unrelated types, different objects).
    Unordered,
}

impl CompareFlag {
    pub(crate) fn from_ordering(ordering: Option<std::cmp::Ordering>) -> CompareFlag {
        match ordering {
            Some(std::cmp::Ordering::Less) => CompareFlag::Less,
            Some(std::cmp::Ordering::Equal) => CompareFlag::Equal,
            Some(std::cmp::Ordering::Greater) => CompareFlag::Greater,
            None => CompareFlag::Unordered,
        }
    }
}

/// A cell made by capturing a parameter of the frame at `depth` (its index in the frame
/// stack), so later captures of that parameter in the same frame share it. Kept on a side
/// stack of the VM, not in the frame: few frames capture, and every return checks one length.
pub(crate) struct CapturedCell {
    pub(crate) depth: usize,
    pub(crate) parameter: usize,
    pub(crate) cell: Arc<Mutex<Value>>,
}

/// One running call of a VM function.
pub(crate) struct ActivationRecord {
    pub(crate) function: Arc<CompiledFunction>,
    /// The index of the instruction being executed (for a caller: its `CALL`). A `Cell`, as
    /// is the flag, so the dispatch loop can save them while it borrows the frame's code.
    pub(crate) pc: Cell<usize>,
    /// Where the frame's registers start in the register stack.
    pub(crate) base: usize,
    pub(crate) compare_flag: Cell<CompareFlag>,
    /// Where the frame's pending arguments start in the argument stack.
    pub(crate) args_base: usize,
    /// The closure this call runs for (its upvalues serve `get_upvalue`/`set_upvalue`).
    pub(crate) closure: Option<Arc<Closure>>,
}
