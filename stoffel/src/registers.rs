//! The register stack: one `Vec` of values for all active frames, each frame a window
//! `base..base + register_count` of it (Lua's `base`), so a call allocates nothing.
//!
//! Everything at or above `top` is unit or a scalar a returned call left there, never a
//! reference. A return that wrote no reference into its window leaves it as it is (`abandon`);
//! any other resets it to unit, dropping what it held (`release`). Entering a frame writes its
//! parameters and resets only the registers it may read before writing (`exec::assigned`). The
//! vector keeps its high-water length: growing it is the rare case, and a window is never
//! built as a temporary and copied (that cost store-forwarding stalls on every call, measured
//! with `perf` on fib).

use std::ops::{Index, IndexMut};
use std::slice::SliceIndex;

use crate::value::Value;

/// The VM's registers; see the module docs for the invariant.
#[derive(Default)]
pub(crate) struct RegisterStack {
    values: Vec<Value>,
    top: usize,
}

impl RegisterStack {
    /// Where the next window starts: one past the top frame's last register.
    #[inline(always)]
    pub(crate) fn top(&self) -> usize {
        self.top
    }

    /// Opens a window of `count` registers at the top (unit or scalars a call left, see the
    /// module docs) and returns its base.
    #[inline(always)]
    pub(crate) fn open(&mut self, count: usize) -> usize {
        let base = self.top;
        let end = base + count;
        if self.values.len() < end {
            self.values.resize_with(end, || Value::Unit);
        }
        self.top = end;
        base
    }

    /// Closes every window from `base` up: their registers become unit again (dropping what
    /// they held) and `base` is the new top. A `base` above the top changes nothing.
    #[inline(always)]
    pub(crate) fn release(&mut self, base: usize) {
        if base >= self.top {
            return;
        }
        for register in &mut self.values[base..self.top] {
            if register.is_scalar() {
                // Nothing to drop: write the unit tag without reading the old value whole.
                std::mem::forget(std::mem::replace(register, Value::Unit));
            } else {
                // Dropped in place: moving it out whole would stall on store forwarding.
                *register = Value::Unit;
            }
        }
        self.top = base;
    }

    /// The window `base..base + count`, exactly `count` registers long; `None` when it does not
    /// exist (a running frame's window always does). The dispatch loop's unchecked register
    /// access relies on that length.
    #[inline(always)]
    pub(crate) fn window(&mut self, base: usize, count: usize) -> Option<&mut [Value]> {
        // A wrapped end (impossible below the register limit) is an empty, failing range.
        self.values.get_mut(base..base.wrapping_add(count))
    }

    /// Copies the registers `from` (below `to`) into the window just opened at `to`. Its
    /// registers hold unit or scalars a call left (see `abandon`), so each is written without
    /// reading or dropping the old value. A reference copied counts in `ref_writes` (see
    /// `VMState::ref_writes`).
    #[inline(always)]
    pub(crate) fn pass(&mut self, from: std::ops::Range<usize>, to: usize, ref_writes: &mut u64) {
        let (below, window) = self.values.split_at_mut(to);
        for (source, register) in below[from].iter().zip(window) {
            debug_assert!(register.is_scalar(), "a reference left above the top");
            // A scalar needs no drop (and were it anything else, forgetting it would only leak).
            // One write per arm: a `Value` chosen between the arms and written after was
            // copied with its padding from a stack slot, four more stores per argument.
            match source {
                Value::Int(int) => std::mem::forget(std::mem::replace(register, Value::Int(*int))),
                other => {
                    if !other.is_scalar() {
                        *ref_writes += 1;
                    }
                    std::mem::forget(std::mem::replace(register, other.clone()))
                }
            }
        }
    }

    /// Closes the windows from `base` up leaving their registers as they are: they hold no
    /// reference (the caller checked `VMState::ref_writes`), and the next call over them resets
    /// whatever it may read before writing (see `exec::assigned`).
    #[inline(always)]
    pub(crate) fn abandon(&mut self, base: usize) {
        debug_assert!(
            self.values.get(base..self.top).is_none_or(|left| left.iter().all(Value::is_scalar)),
            "a reference abandoned in a window"
        );
        self.top = self.top.min(base);
    }

    /// `reset_stale` for one register.
    #[inline(always)]
    pub(crate) fn reset_stale_at(&mut self, index: usize) {
        if let Some(register) = self.values.get_mut(index) {
            debug_assert!(register.is_scalar(), "a reference left above the top");
            std::mem::forget(std::mem::replace(register, Value::Unit));
        }
    }

    /// Resets registers of a window just opened to unit. They hold unit or scalars an
    /// abandoned window left: nothing to drop.
    #[inline(always)]
    pub(crate) fn reset_stale(&mut self, registers: std::ops::Range<usize>) {
        if let Some(window) = self.values.get_mut(registers) {
            for register in window {
                debug_assert!(register.is_scalar(), "a reference left above the top");
                std::mem::forget(std::mem::replace(register, Value::Unit));
            }
        }
    }

    /// The register at `index`, if it exists (a foreign call's result goes there).
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut Value> {
        self.values.get_mut(index)
    }

    /// Drops every value and the memory: the state after a failed or finished run.
    pub(crate) fn clear(&mut self) {
        self.values.clear();
        self.top = 0;
    }

    /// The registers in `range`, if they exist.
    pub(crate) fn get(&self, range: std::ops::Range<usize>) -> Option<&[Value]> {
        if range.end > self.top {
            return None;
        }
        self.values.get(range)
    }
}

impl<I: SliceIndex<[Value]>> Index<I> for RegisterStack {
    type Output = I::Output;

    #[inline(always)]
    fn index(&self, index: I) -> &I::Output {
        &self.values[index]
    }
}

impl<I: SliceIndex<[Value]>> IndexMut<I> for RegisterStack {
    #[inline(always)]
    fn index_mut(&mut self, index: I) -> &mut I::Output {
        &mut self.values[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn windows_open_as_unit_and_return_to_unit() {
        let mut stack = RegisterStack::default();
        let base = stack.open(3);
        assert_eq!((base, stack.top()), (0, 3));
        stack[0] = Value::Int(7);
        stack[1] = Value::from("text");
        let inner = stack.open(2);
        assert_eq!(inner, 3);
        stack[4] = Value::Float(1.5);
        stack.release(inner);
        assert_eq!(stack.top(), 3);
        assert!(stack[3].is_unit() && stack[4].is_unit());
        assert_eq!(stack[0], Value::Int(7));
        stack.release(0);
        assert!((0..5).all(|index| stack[index].is_unit()));
        let again = stack.open(5);
        assert_eq!(again, 0);
        assert!((0..5).all(|index| stack[index].is_unit()));
    }

    #[test]
    fn releasing_drops_reference_values() {
        let closure =
            Arc::new(crate::closure::Closure { function: "f".into(), slot: 0, upvalues: Vec::new() });
        let mut stack = RegisterStack::default();
        let base = stack.open(1);
        stack[base] = Value::Closure(Arc::clone(&closure));
        assert_eq!(Arc::strong_count(&closure), 2);
        stack.release(base);
        assert_eq!(Arc::strong_count(&closure), 1);
        assert_eq!(stack.get(0..1), None);
    }
}
