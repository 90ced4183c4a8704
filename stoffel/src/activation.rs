//! Activation records: one per running VM function call, on a frame stack that reuses them.
//! A frame owns a window `base..base + register_count` of the VM's one register stack (no
//! vector per call), its compare flag, where its pending arguments start, and the closure it
//! runs for. Cells made by capturing parameters live on a side stack (`CapturedCell`).

use std::cell::Cell;
use std::sync::Arc;

use crate::closure::{Closure, Upvalue, UpvalueCell};
use crate::exec::resolve::CompiledFunction;
use crate::value::Str;

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
    pub(crate) cell: Arc<UpvalueCell>,
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
    /// `VMState::ref_writes` when the frame was entered, if its registers may be left as they
    /// are on return (no reference written into them since); [`EAGER`] if they must be reset.
    pub(crate) ref_epoch: Cell<u64>,
}

/// The `ref_epoch` of a frame whose registers are reset on return: entered by the general
/// path, or settled when hooks came on.
pub(crate) const EAGER: u64 = u64::MAX;

/// Stores a count of `closure` in a record's slot, dropping what it held (out of line: rare).
#[inline(never)]
fn keep(slot: &mut Option<Arc<Closure>>, closure: &Arc<Closure>) {
    *slot = Some(Arc::clone(closure));
}

/// The active frames, innermost last. Records above the depth stay allocated and are
/// rewritten field by field when the next call enters (as Lua reuses its `CallInfo`s): a record
/// built as a temporary and copied in stalled every call on store forwarding (perf, fib).
///
/// A record left keeps its closure until the record is reused (or
/// [`FrameStack::release_closures`]): a loop calling one closure then enters it with no
/// reference-count traffic, where a clone on entry and a drop on return were two locked
/// instructions per call.
#[derive(Default)]
pub(crate) struct FrameStack {
    records: Vec<ActivationRecord>,
    depth: usize,
    /// One past the highest record that may hold a closure (active or left behind).
    closures_below: usize,
}

/// The closure a frame being entered runs for.
pub(crate) enum FrameClosure {
    /// None: a plain function.
    Without,
    /// The one the record being reused holds ([`FrameStack::keep_next`] put it there).
    Kept,
    /// This one.
    Given(Arc<Closure>),
}

impl FrameClosure {
    /// The closure itself, for the general entry (`Kept` is cloned from the record keeping it).
    pub(crate) fn into_owned(self, frames: &FrameStack) -> Option<Arc<Closure>> {
        match self {
            FrameClosure::Without => None,
            FrameClosure::Kept => frames.records.get(frames.depth)?.closure.clone(),
            FrameClosure::Given(closure) => Some(closure),
        }
    }
}

impl From<Option<Arc<Closure>>> for FrameClosure {
    fn from(closure: Option<Arc<Closure>>) -> FrameClosure {
        closure.map_or(FrameClosure::Without, FrameClosure::Given)
    }
}

impl FrameStack {
    /// How many frames are active.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.depth
    }

    /// The innermost frame.
    #[inline(always)]
    pub(crate) fn last(&self) -> Option<&ActivationRecord> {
        // One bounds check: with no frame, `depth - 1` wraps to an index no record has.
        self.records.get(self.depth.wrapping_sub(1))
    }

    /// Where the innermost frame's pending arguments start (0 with no frame): `LD`, the plain
    /// `CALL` and hook events read it; the plain loop keeps no copy.
    #[inline(always)]
    pub(crate) fn args_base(&self) -> usize {
        self.last().map_or(0, |frame| frame.args_base)
    }

    /// The upvalue of the innermost frame's closure named by this very string (see
    /// [`Closure::upvalue_interned`]); `None` when it runs no closure or the name is another
    /// string.
    #[inline(always)]
    pub(crate) fn running_upvalue(&self, name: &Str) -> Option<&Upvalue> {
        self.last()?.closure.as_deref()?.upvalue_interned(name)
    }

    /// [`FrameStack::running_upvalue`], trying place `at` first (see `Op::GetUpval`).
    #[inline(always)]
    pub(crate) fn running_upvalue_at(&self, name: &Str, at: u8) -> Option<&Upvalue> {
        let closure = self.last()?.closure.as_deref()?;
        match closure.upvalues.get(usize::from(at)) {
            Some(upvalue) if upvalue.name.is(name) => Some(upvalue),
            _ => closure.upvalue_interned(name),
        }
    }

    /// The active frames, outermost first.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, ActivationRecord> {
        self.records[..self.depth].iter()
    }

    /// Makes the record the next frame will reuse hold `closure` — a loop calling one closure
    /// finds it there already, from the call before, and takes no count — so that the frame
    /// enters as [`FrameClosure::Kept`]. `false` when there is no record at that depth yet (the
    /// first call this deep). The fused call then enters with one kind of closure: choosing
    /// between a kept and a given one there kept the choice in memory, matched again in
    /// [`FrameStack::push`] (closure +15 instructions per call, callgrind).
    #[inline(always)]
    pub(crate) fn keep_next(&mut self, closure: &Arc<Closure>) -> bool {
        let depth = self.depth;
        let Some(record) = self.records.get_mut(depth) else {
            return false;
        };
        if !record.closure.as_ref().is_some_and(|held| Arc::ptr_eq(held, closure)) {
            keep(&mut record.closure, closure);
            self.closures_below = self.closures_below.max(depth + 1);
        }
        true
    }

    /// Enters a frame running `function` on the registers from `base` on. A reused record's
    /// `pc` and compare flag are not reset: whoever runs the frame sets them.
    #[inline(always)]
    pub(crate) fn push(
        &mut self,
        function: &Arc<CompiledFunction>,
        base: usize,
        args_base: usize,
        closure: FrameClosure,
        ref_epoch: u64,
    ) {
        match self.records.get_mut(self.depth) {
            Some(record) => {
                // Recursion and loops run the same function at the same depth again: no
                // reference-count traffic then.
                if !Arc::ptr_eq(&record.function, function) {
                    record.function = Arc::clone(function);
                }
                // `pc` and the flag are left as they are: the fused call keeps the new frame's
                // in locals and saves them before anything reads the record (`save!`); the
                // general entry sets them (`VMState::enter_vm`).
                record.base = base;
                record.args_base = args_base;
                match closure {
                    FrameClosure::Without => {
                        if record.closure.is_some() {
                            record.closure = None;
                        }
                    }
                    FrameClosure::Kept => debug_assert!(record.closure.is_some()),
                    FrameClosure::Given(closure) => {
                        record.closure = Some(closure);
                        self.closures_below = self.closures_below.max(self.depth + 1);
                    }
                }
                record.ref_epoch.set(ref_epoch);
            }
            None => {
                // No record here yet, so none kept a closure: `Kept` cannot come (it is only
                // given after `keep_next` found this record).
                let closure = match closure {
                    FrameClosure::Given(closure) => {
                        self.closures_below = self.depth + 1;
                        Some(closure)
                    }
                    FrameClosure::Without | FrameClosure::Kept => None,
                };
                self.records.push(ActivationRecord {
                    function: Arc::clone(function),
                    pc: Cell::new(0),
                    base,
                    compare_flag: Cell::new(CompareFlag::Equal),
                    args_base,
                    closure,
                    ref_epoch: Cell::new(ref_epoch),
                })
            }
        }
        self.depth += 1;
    }

    /// Leaves the innermost frame and returns it. Its function and closure stay referenced
    /// until the record is reused or [`FrameStack::release_closures`] runs.
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<&ActivationRecord> {
        let top = self.depth.checked_sub(1)?;
        self.depth = top;
        self.records.get(top)
    }

    /// Leaves the innermost frame and returns it after the frame it returns to, both found
    /// with one bounds check; `None` (and nothing left) with fewer than two frames.
    #[inline(always)]
    pub(crate) fn pop_to_caller(&mut self) -> Option<(&ActivationRecord, &ActivationRecord)> {
        let top = self.depth.checked_sub(1)?;
        let [caller, record] = self.records.get(top.checked_sub(1)?..=top)? else {
            return None;
        };
        self.depth = top;
        Some((caller, record))
    }

    /// Drops the closures that records above the active frames still hold: called when a
    /// run from the host ends, so nothing a program dropped outlives its run.
    pub(crate) fn release_closures(&mut self) {
        let end = self.closures_below.min(self.records.len());
        for record in self.records.get_mut(self.depth..end).unwrap_or_default() {
            record.closure = None;
        }
        self.closures_below = self.closures_below.min(self.depth);
    }

    /// Leaves frames until `depth` remain.
    pub(crate) fn truncate(&mut self, depth: usize) {
        while self.depth > depth {
            self.pop();
        }
    }
}
