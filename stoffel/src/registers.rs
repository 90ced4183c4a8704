//! The register stack: one `Vec` of values for all active frames, each frame a window
//! `base..base + register_count` of it (Lua's `base`), so a call allocates nothing.
//!
//! Everything at or above `top` is unit, or a scalar or an interned string constant a returned
//! call left there (both live as long as the VM anyway), never another reference. A return
//! that wrote no other reference into its window leaves it as it is (`abandon`); any other
//! resets it to unit, dropping what it held (`release`). Entering a frame writes its
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

    /// Opens a window of `count` registers at the top (unit or what a call left, see the module
    /// docs) and returns its base.
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

    /// `open`, unless the window would take the stack past `limit` registers: `None` then.
    /// The stack never grows past the limit, so only growth is tested against it.
    #[inline(always)]
    pub(crate) fn open_within(&mut self, count: usize, limit: usize) -> Option<usize> {
        let base = self.top;
        let end = base + count;
        if self.values.len() < end {
            if end > limit {
                return None;
            }
            self.values.resize_with(end, || Value::Unit);
        }
        self.top = end;
        Some(base)
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
    /// registers hold unit or what a call left (see `abandon`), so each is written reading only
    /// the old tag. A reference copied counts in `ref_writes` (see
    /// `VMState::ref_writes`).
    #[inline(always)]
    pub(crate) fn pass(&mut self, from: std::ops::Range<usize>, to: usize, ref_writes: &mut u64) {
        // By index, an int first and as an int: split into source and window slices and
        // zipped, the set-up and LLVM's tests of the other tags before the int's cost every
        // call (one int argument, the common call, the most: fib 376 -> 361 instructions).
        debug_assert!(
            self.values[to..to + from.len()].iter().all(left_behind),
            "a reference left above the top"
        );
        // (Not `from.len() == 1`: that tested the range's order again, two more instructions.)
        if from.end == from.start.wrapping_add(1) {
            if let Value::Int(int) = self.values[from.start] {
                crate::exec::set_int(&mut self.values[to], int);
                return;
            }
        }
        for (source, target) in from.zip(to..) {
            if let Value::Int(int) = self.values[source] {
                crate::exec::set_int(&mut self.values[target], int);
            } else {
                let value = self.values[source].clone();
                if !value.is_scalar() {
                    *ref_writes += 1;
                }
                overwrite(&mut self.values[target], value);
            }
        }
    }

    /// Closes the windows from `base` up leaving their registers as they are: they hold no
    /// reference (the caller checked `VMState::ref_writes`), and the next call over them resets
    /// whatever it may read before writing (see `exec::assigned`).
    #[inline(always)]
    pub(crate) fn abandon(&mut self, base: usize) {
        debug_assert!(
            self.values.get(base..self.top).is_none_or(|left| left.iter().all(left_behind)),
            "a reference abandoned in a window"
        );
        // A returning frame's window lies below the top (frames nest), so its base is the new
        // top: no comparison.
        debug_assert!(base <= self.top, "a window above the top");
        self.top = base;
    }

    /// `reset_stale` for the registers of the window at `base` whose bits are set in `registers`
    /// (bit r: register r). Out of line: most functions write every register before reading it,
    /// and the loop that calls this is short of registers (inlined, it cost fib +19 and the loop
    /// +8 instructions, callgrind).
    #[inline(never)]
    pub(crate) fn reset_listed(&mut self, base: usize, registers: u64) {
        let mut left = registers;
        while left != 0 {
            let register = left.trailing_zeros() as usize;
            left &= left - 1;
            if let Some(register) = self.values.get_mut(base + register) {
                debug_assert!(left_behind(register), "a reference left above the top");
                overwrite(register, Value::Unit);
            }
        }
    }

    /// Resets registers of a window just opened to unit. They hold unit or what an abandoned
    /// window left (see the module docs).
    #[inline(always)]
    pub(crate) fn reset_stale(&mut self, registers: std::ops::Range<usize>) {
        if let Some(window) = self.values.get_mut(registers) {
            for register in window {
                debug_assert!(left_behind(register), "a reference left above the top");
                overwrite(register, Value::Unit);
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

/// What a returned call may leave above the top: a scalar or a string (an interned constant).
fn left_behind(value: &Value) -> bool {
    value.is_scalar() || matches!(value, Value::String(_))
}

/// Writes a register above the top: a scalar left there is overwritten without a drop (its tag
/// alone is read), a string constant dropped.
#[inline(always)]
fn overwrite(register: &mut Value, value: Value) {
    if register.is_scalar() {
        std::mem::forget(std::mem::replace(register, value));
    } else {
        drop(std::mem::replace(register, value));
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

    #[test]
    fn what_an_abandoned_window_left_is_dropped_when_overwritten() {
        let constant = crate::value::Str::from("key");
        let mut stack = RegisterStack::default();
        let base = stack.open(3);
        stack[base] = Value::Int(1);
        stack[base + 1] = Value::String(constant.clone());
        stack[base + 2] = Value::String(constant.clone());
        assert_eq!(constant.handles(), 3);
        stack.abandon(base);
        assert_eq!(stack.top(), base);
        // Windows over it: a caller's r0 over the int, its callee's r0 (an argument) and r1
        // (reset by list) over the strings.
        let caller = stack.open(1);
        stack[caller] = Value::Int(5);
        let inner = stack.open(3);
        let mut ref_writes = 0;
        stack.pass(caller..caller + 1, inner, &mut ref_writes);
        assert_eq!((constant.handles(), ref_writes), (2, 0), "the argument replaced one string");
        assert_eq!(stack[inner], Value::Int(5));
        stack.reset_listed(inner, 0b10);
        assert_eq!(constant.handles(), 1, "the other one dropped by the reset: nothing leaked");
        assert!(stack[inner + 1].is_unit());
        stack[inner + 2] = Value::String(constant.clone());
        stack.reset_stale(inner..inner + 3);
        assert_eq!(constant.handles(), 1);
        assert!((inner..inner + 3).all(|index| stack[index].is_unit()));
    }
}
