//! Signals: one atomic word that the dispatch loop polls at returns and backward jumps. It holds
//! a pending interrupt (set by an [`InterruptHandle`](crate::InterruptHandle)) and whether any
//! hook is enabled (kept by the hook manager), so a loop with nothing to notice pays one load
//! and one compare (two separate flags cost the tight loop a fifth of its time, `benches/hooks.rs`).

use std::sync::atomic::{AtomicU32, Ordering};

/// The word; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Signals(AtomicU32);

/// An interrupt was requested and no run has taken it yet.
pub(crate) const INTERRUPT: u32 = 1;
/// At least one hook is enabled: the traced loop must run.
pub(crate) const HOOKS: u32 = 2;

impl Signals {
    /// The word as it is now (relaxed: a signal is noticed at the next poll, not at once).
    #[inline(always)]
    pub(crate) fn load(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Whether any hook is enabled.
    #[inline(always)]
    pub(crate) fn hooks_enabled(&self) -> bool {
        self.load() & HOOKS != 0
    }

    /// Records whether any hook is enabled.
    pub(crate) fn set_hooks_enabled(&self, enabled: bool) {
        if enabled {
            self.0.fetch_or(HOOKS, Ordering::Relaxed);
        } else {
            self.0.fetch_and(!HOOKS, Ordering::Relaxed);
        }
    }

    /// Requests an interrupt.
    pub(crate) fn interrupt(&self) {
        self.0.fetch_or(INTERRUPT, Ordering::Relaxed);
    }

    /// Withdraws a pending interrupt; whether there was one. A run that sees it stops.
    pub(crate) fn take_interrupt(&self) -> bool {
        self.0.fetch_and(!INTERRUPT, Ordering::Relaxed) & INTERRUPT != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupt_and_hooks_are_independent_bits() {
        let signals = Signals::default();
        assert_eq!(signals.load(), 0);
        signals.set_hooks_enabled(true);
        signals.interrupt();
        assert!(signals.hooks_enabled());
        assert_eq!(signals.load(), INTERRUPT | HOOKS);
        assert!(signals.take_interrupt());
        assert!(!signals.take_interrupt(), "taken once");
        assert!(signals.hooks_enabled(), "taking the interrupt leaves the hooks bit");
        signals.set_hooks_enabled(false);
        assert_eq!(signals.load(), 0);
    }
}
