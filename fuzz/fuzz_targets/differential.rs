//! Fuzz target: the plain dispatch loop (superinstructions on, no fuel) and the metered loop
//! (fused forms off) agree on every program that finishes in both: the same value or the same
//! error (kind, message, call stack). The plain run is stopped by a watchdog interrupt.
#![no_main]

use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::vm;
use libfuzzer_sys::fuzz_target;
use stoffel::{ErrorKind, Value};

/// What a run produced, in a form two VMs can compare.
fn outcome(result: Result<Value, stoffel::Error>) -> Option<String> {
    match result {
        Ok(value) => Some(format!("ok {value:?}")),
        // Stopped by a budget: the other loop may legitimately have stopped elsewhere.
        Err(error) if matches!(error.kind(), ErrorKind::Interrupted | ErrorKind::Limit) => None,
        Err(error) => Some(format!("{:?} {} {:?}", error.kind(), error.message(), error.call_stack())),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(program) = stoffel::asm::assemble(text) else { return };
    let metered = vm(Some(20_000));
    let plain = vm(None);
    let functions = common::entry_points(&program);
    if metered.load(program.clone()).is_err() || plain.load(program).is_err() {
        return;
    }
    for (name, arity) in functions {
        let args: Vec<Value> = (0..arity as i64).map(Value::Int).collect();
        let expected = outcome(metered.call(&name, &args));
        metered.set_fuel(Some(20_000));
        // The plain loop has no budget: a watchdog interrupts it if it runs on.
        let interrupt = plain.interrupt_handle();
        let (done, finished) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if finished.recv_timeout(Duration::from_millis(50)).is_err() {
                interrupt.interrupt();
            }
        });
        let actual = outcome(plain.call(&name, &args));
        let _ = done.send(());
        let _ = watchdog.join();
        plain.interrupt_handle().reset();
        if let (Some(expected), Some(actual)) = (expected, actual) {
            assert_eq!(expected, actual, "`{name}`: metered and plain runs differ");
        }
    }
    for vm in [&metered, &plain] {
        vm.with_state(|state| {
            assert_eq!(state.call_depth(), 0);
            assert_eq!(state.pending_arguments(), 0);
        })
        .expect("the VM is not locked after a run");
    }
});
