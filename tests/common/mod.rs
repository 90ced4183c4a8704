//! Helpers shared by the integration tests: building functions with the raw API.
#![allow(dead_code)]

use std::collections::HashMap;

use stoffel::{Instruction, VMFunction, VirtualMachine};

/// A function from parameter names, a register count and a body where `label(name)` entries
/// are written as `Err(name)` and instructions as `Ok(instruction)`.
pub fn function(name: &str, params: &[&str], registers: usize, body: Vec<Item>) -> VMFunction {
    let mut labels = HashMap::new();
    let mut instructions = Vec::new();
    for item in body {
        match item {
            Item::Label(label) => {
                labels.insert(label.to_string(), instructions.len());
            }
            Item::Op(instruction) => instructions.push(instruction),
        }
    }
    VMFunction::new(
        name,
        params.iter().map(|p| p.to_string()).collect(),
        vec![],
        None,
        registers,
        instructions,
        labels,
    )
}

/// Like [`function`], with declared upvalues (for closures).
pub fn closure_function(
    name: &str,
    params: &[&str],
    upvalues: &[&str],
    registers: usize,
    body: Vec<Item>,
) -> VMFunction {
    let mut f = function(name, params, registers, body);
    f.upvalues = upvalues.iter().map(|u| u.to_string()).collect();
    f
}

pub enum Item {
    Label(&'static str),
    Op(Instruction),
}

impl From<Instruction> for Item {
    fn from(instruction: Instruction) -> Item {
        Item::Op(instruction)
    }
}

pub fn label(name: &'static str) -> Item {
    Item::Label(name)
}

/// `vec![...]` of instructions and labels.
#[macro_export]
macro_rules! body {
    ($($item:expr),* $(,)?) => { vec![$($crate::common::Item::from($item)),*] };
}

/// A VM with `functions` registered.
pub fn vm_with(functions: Vec<VMFunction>) -> VirtualMachine {
    let vm = VirtualMachine::new();
    for function in functions {
        vm.register_function(function).expect("valid function");
    }
    vm
}

/// A tiny deterministic pseudo-random generator (xorshift64*) for the randomized tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A copy of one of `items`.
    pub fn choose<T: Copy>(&mut self, items: &[T]) -> T {
        *self.pick(items)
    }
}
