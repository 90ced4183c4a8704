//! What the execution fuzz targets share: a VM with small limits and no output, and the
//! functions of a program with their parameter counts.

use stoffel::{Program, VirtualMachine};

/// A VM that prints nowhere, with `fuel` and small depth, object and array limits.
pub fn vm(fuel: Option<u64>) -> VirtualMachine {
    let vm = VirtualMachine::new();
    vm.set_output(std::io::sink());
    vm.set_fuel(fuel);
    vm.set_max_call_depth(256);
    vm.set_max_live_objects(10_000);
    vm.set_max_array_length(10_000);
    vm
}

/// Every function of `program`: its name and parameter count.
pub fn entry_points(program: &Program) -> Vec<(String, usize)> {
    program.functions().iter().map(|f| (f.name.clone(), f.parameters.len())).collect()
}
