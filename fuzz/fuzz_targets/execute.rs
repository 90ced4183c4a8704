//! Fuzz target: any program that assembles and loads runs to a result or a clear error under a
//! small fuel budget and call-depth limit — never a panic, a hang or a host stack overflow.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use stoffel::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(program) = stoffel::asm::assemble(text) else { return };
    let vm = common::vm(Some(20_000));
    let functions = common::entry_points(&program);
    if vm.load(program).is_err() {
        return;
    }
    for (name, arity) in functions {
        let args: Vec<Value> = (0..arity as i64).map(Value::Int).collect();
        let _ = vm.call(&name, &args);
        vm.set_fuel(Some(20_000));
    }
    vm.with_state(|state| {
        assert_eq!(state.call_depth(), 0);
        assert_eq!(state.pending_arguments(), 0);
    })
    .expect("the VM is not locked after a run");
});
