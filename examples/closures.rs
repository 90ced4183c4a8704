//! Closures in `bytecode!`: a counter that keeps its count across calls, and adders that each
//! keep their own captured value, built with the standard library's `create_closure`,
//! `call_closure`, `get_upvalue` and `set_upvalue` (and the `GETUPVAL` instruction).
//!
//! Run with `cargo run --example closures`.

use stoffel::{bytecode, Value, VirtualMachine};

fn main() -> Result<(), stoffel::Error> {
    let program = bytecode! {
        // A closure over the parameter `count`: capturing copies it into a new cell.
        fn make_counter(count) {
            LDI r1, "counter"           // the function the closure runs
            LDI r2, "count"             // the upvalue it captures
            PUSHARG r1
            PUSHARG r2
            CALL create_closure
            RET r0
        }

        // count = count + 1; return count. `captures(count)` declares the upvalue.
        fn counter() captures(count) {
            LDI r0, "count"
            PUSHARG r0
            CALL get_upvalue
            LDI r1, 1
            ADD r1, r0, r1
            LDI r2, "count"
            PUSHARG r2
            PUSHARG r1
            CALL set_upvalue
            RET r1
        }

        // make_adder(n) returns a closure x -> x + n.
        fn make_adder(n) {
            LDI r1, "adder"
            LDI r2, "n"
            PUSHARG r1
            PUSHARG r2
            CALL create_closure
            RET r0
        }

        // The same through the extension instruction GETUPVAL: no call, and the name is
        // checked against captures(...) at compile time.
        fn adder(x) captures(n) {
            GETUPVAL r1, n
            ADD r0, r0, r1
            RET r0
        }

        // Counts to three with one counter, then adds with two adders.
        fn main() {
            LDI r0, 0
            PUSHARG r0
            CALL make_counter
            MOV r1, r0                  // the counter
            PUSHARG r1
            CALL call_closure           // 1
            PUSHARG r1
            CALL call_closure           // 2
            PUSHARG r1
            CALL call_closure           // 3
            MOV r2, r0
            LDI r3, "counted to"
            PUSHARG r3
            PUSHARG r2
            CALL print

            LDI r0, 10
            PUSHARG r0
            CALL make_adder
            MOV r4, r0                  // x -> x + 10
            LDI r0, 100
            PUSHARG r0
            CALL make_adder
            MOV r5, r0                  // x -> x + 100
            LDI r6, 5
            PUSHARG r4
            PUSHARG r6
            CALL call_closure           // 15
            MOV r7, r0
            PUSHARG r5
            PUSHARG r6
            CALL call_closure           // 105
            ADD r0, r0, r7
            RET r0                      // 120
        }
    };

    let vm = VirtualMachine::new();
    vm.load(program)?;
    println!("main returned {}", vm.execute("main")?);

    // Closures are values the host can hold and call too.
    let counter = vm.call("make_counter", &[Value::Int(41)])?;
    println!("{counter} says {}", vm.call("call_closure", std::slice::from_ref(&counter))?);
    println!("and then {}", vm.call("call_closure", &[counter])?);
    Ok(())
}
