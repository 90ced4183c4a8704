//! The smallest Stoffel program: one VM function, written with `bytecode!`, greets through the
//! standard library's `print`.
//!
//! Run with `cargo run --example hello_world` (or `cargo run --example hello_world -- Ada`).

use stoffel::{bytecode, VirtualMachine};

fn main() -> Result<(), stoffel::Error> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "world".to_string());

    // Checked when this file compiles: a typo such as `PUSHARGG` is a compile error at the token.
    let program = bytecode! {
        fn main() {
            LDI r0, "Hello,"
            LDI r1, {format!("{name}!")}    // any Rust expression, converted with IntoValue
            PUSHARG r0
            PUSHARG r1
            CALL print                      // prints its arguments separated by spaces
            RET r0
        }
    };

    let vm = VirtualMachine::new(); // the standard library (`print`, ...) is registered
    vm.load(program)?;
    vm.execute("main")?;
    Ok(())
}
