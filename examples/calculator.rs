//! Arithmetic and control flow in `bytecode!`: a four-function calculator that dispatches on
//! the operator with `CMP` and conditional jumps, Euclid's gcd and an iterative factorial —
//! and the errors a program meets (division by zero, overflow, its own `error` call).
//!
//! Run with `cargo run --example calculator`.

use stoffel::{bytecode, Value, VirtualMachine};

fn main() -> Result<(), stoffel::Error> {
    let program = bytecode! {
        // calculate(op, a, b): "+", "-", "*", "/" or "%" applied to a and b.
        fn calculate(op, a, b) registers(5) {
            LDI r3, "+"
            CMP r0, r3
            JMPEQ add
            LDI r3, "-"
            CMP r0, r3
            JMPEQ subtract
            LDI r3, "*"
            CMP r0, r3
            JMPEQ multiply
            LDI r3, "/"
            CMP r0, r3
            JMPEQ divide
            LDI r3, "%"
            CMP r0, r3
            JMPEQ remainder
            LDI r3, "unknown operator"
            PUSHARG r3
            CALL error                  // raises a run-time error with this message
            RET r0
        add:
            ADD r4, r1, r2
            RET r4
        subtract:
            SUB r4, r1, r2
            RET r4
        multiply:
            MUL r4, r1, r2
            RET r4
        divide:
            DIV r4, r1, r2
            RET r4
        remainder:
            MOD r4, r1, r2
            RET r4
        }

        // gcd(a, b): Euclid's algorithm.
        fn gcd(a, b) {
            LDI r2, 0
        again:
            CMP r1, r2
            JMPEQ done
            MOD r3, r0, r1
            MOV r0, r1
            MOV r1, r3
            JMP again
        done:
            RET r0
        }

        // factorial(n) = 1 * 2 * ... * n; overflow is an error, never a wrap.
        fn factorial(n) {
            LDI r1, 1                   // the product
            LDI r2, 1
        again:
            CMP r0, r2
            JMPLT done                  // n < 1
            MUL r1, r1, r0
            SUB r0, r0, r2
            JMP again
        done:
            RET r1
        }
    };

    let vm = VirtualMachine::new();
    vm.load(program)?;

    for (a, op, b) in [(6, "*", 7), (-7, "/", 2), (-7, "%", 2), (1, "/", 0), (2, "^", 3)] {
        match vm.call("calculate", &[Value::from(op), Value::Int(a), Value::Int(b)]) {
            Ok(result) => println!("{a} {op} {b} = {result}"),
            Err(error) => println!("{a} {op} {b}: error: {error}"),
        }
    }
    // Ints and floats mix: the result is a float.
    let mixed = vm.call("calculate", &[Value::from("+"), Value::Float(0.5), Value::Int(2)])?;
    println!("0.5 + 2 = {mixed}");

    println!("gcd(1071, 462) = {}", vm.call("gcd", &[Value::Int(1071), Value::Int(462)])?);
    println!("20! = {}", vm.call("factorial", &[Value::Int(20)])?);
    println!("21!: error: {}", vm.call("factorial", &[Value::Int(21)]).unwrap_err());
    Ok(())
}
