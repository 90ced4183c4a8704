//! The raw API under `bytecode!`: the same Fibonacci program built by hand from `VMFunction`s,
//! `Instruction`s and a label map, registered one function at a time — what a compiler or
//! code generator targeting Stoffel would do. The `bytecode!` version is shown alongside and
//! builds an equal `Program`.
//!
//! Run with `cargo run --example raw_api`.

use std::collections::HashMap;

use stoffel::Instruction::*;
use stoffel::{bytecode, Program, VMFunction, Value, VirtualMachine};

/// fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2), instruction by instruction.
fn fib() -> VMFunction {
    let instructions = vec![
        LDI(1, Value::Int(2)),
        CMP(0, 1),
        JMPLT("done".into()), // n < 2: fib(n) = n
        MOV(3, 0),            // keep n: every CALL writes its result to r0
        LDI(1, Value::Int(1)),
        SUB(2, 3, 1),
        PUSHARG(2),
        CALL("fib".into()),
        MOV(4, 0), // fib(n - 1)
        LDI(1, Value::Int(2)),
        SUB(2, 3, 1),
        PUSHARG(2),
        CALL("fib".into()),
        ADD(0, 0, 4),
        RET(0), // index 14, named by the label `done`
    ];
    // Labels name instruction indices; jumps name labels.
    let labels = HashMap::from([("done".to_string(), 14)]);
    VMFunction::new("fib", vec!["n".into()], vec![], None, 5, instructions, labels)
}

/// main() prints "fib(20) =" and the result, and returns it.
fn main_function() -> VMFunction {
    let instructions = vec![
        LDI(0, Value::Int(20)),
        PUSHARG(0),
        CALL("fib".into()),
        MOV(1, 0),
        LDI(2, Value::from("fib(20) =")),
        PUSHARG(2),
        PUSHARG(1),
        CALL("print".into()),
        RET(1),
    ];
    VMFunction::new("main", vec![], vec![], None, 3, instructions, HashMap::new())
}

fn main() -> Result<(), stoffel::Error> {
    let vm = VirtualMachine::new();
    // Each function is validated as it registers: register indices, jump targets, the ending.
    vm.register_function(fib())?;
    vm.register_function(main_function())?;
    println!("main returned {}", vm.execute("main")?);

    // A malformed function is refused with a validation error, and the VM is unchanged.
    let broken = VMFunction::new("broken", vec![], vec![], None, 1, vec![MOV(3, 0), RET(3)], HashMap::new());
    println!("broken: {}", vm.register_function(broken).unwrap_err());

    // The same program with `bytecode!`: checked at compile time, register counts and labels
    // worked out for you.
    let written = bytecode! {
        fn fib(n) {
            LDI r1, 2
            CMP r0, r1
            JMPLT done
            MOV r3, r0
            LDI r1, 1
            SUB r2, r3, r1
            PUSHARG r2
            CALL fib
            MOV r4, r0
            LDI r1, 2
            SUB r2, r3, r1
            PUSHARG r2
            CALL fib
            ADD r0, r0, r4
        done:
            RET r0
        }
        fn main() {
            LDI r0, 20
            PUSHARG r0
            CALL fib
            MOV r1, r0
            LDI r2, "fib(20) ="
            PUSHARG r2
            PUSHARG r1
            CALL print
            RET r1
        }
    };
    assert_eq!(written, Program::new(vec![fib(), main_function()]));
    println!("bytecode! builds the same program:\n{written}");
    Ok(())
}
