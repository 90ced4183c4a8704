//! What the execution fuzz targets share: a VM with small limits, no output and a few host
//! functions, and the functions of a program with their parameter counts.

use stoffel::{Program, Value, VirtualMachine};

/// A VM that prints nowhere, with `fuel` and small depth, object and array limits.
pub fn vm(fuel: Option<u64>) -> VirtualMachine {
    let vm = VirtualMachine::new();
    vm.set_output(std::io::sink());
    vm.set_fuel(fuel);
    vm.set_max_call_depth(256);
    vm.set_max_live_objects(10_000);
    vm.set_max_array_length(10_000);
    register_host_functions(&vm);
    vm
}

/// Host functions for programs to call, so the foreign-call paths are fuzzed: results of every
/// kind, failures, one to five arguments (copies on the stack, then in a buffer), re-entry.
/// None panics: libfuzzer aborts on any panic, even one the VM would catch.
fn register_host_functions(vm: &VirtualMachine) {
    // `add` is what benches/programs/foreign.stf (a seed) calls.
    vm.register_fn("add", |a: i64, b: i64| -> Result<i64, String> {
        a.checked_add(b).ok_or_else(|| "add overflowed".to_string())
    });
    vm.register_fn("host_echo", |value: Value| value);
    vm.register_fn("host_third", |a: i64| a as f64 / 3.0);
    vm.register_fn("host_fifth", |_: Value, _: Value, _: Value, _: Value, e: Value| e);
    vm.register_fn("host_fail", |code: i64| -> Result<(), String> { Err(format!("host failed with {code}")) });
    vm.register_foreign_function("host_call", |ctx| {
        let name: String = ctx.arg(0)?;
        let rest = ctx.args[1..].to_vec();
        ctx.call(&name, &rest)
    });
}

/// Every function of `program`: its name and parameter count.
pub fn entry_points(program: &Program) -> Vec<(String, usize)> {
    program.functions().iter().map(|f| (f.name.clone(), f.parameters.len())).collect()
}
