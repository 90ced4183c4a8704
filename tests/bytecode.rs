//! `bytecode!`: programs written in Rust source run as written — recursion, loops, closures,
//! objects and arrays, Rust expressions as immediates, calls by name and to `#[foreign_fn]`
//! items — and equal what the text assembler makes of the same text.

use stoffel::{bytecode, foreign, foreign_fn, OutputBuffer, Program, Value, VirtualMachine};

fn loaded(program: Program) -> VirtualMachine {
    let vm = VirtualMachine::new();
    vm.load(program).expect("the program validates");
    vm
}

fn fib_program() -> Program {
    bytecode! {
        fn main() {
            LDI r0, 20
            PUSHARG r0
            CALL fib
            RET r0
        }

        // fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2)
        fn fib(n) {
            LDI r1, 2
            CMP r0, r1
            JMPLT done          // n < 2: fib(n) = n
            MOV r3, r0          // keep n: CALL writes r0
            LDI r1, 1
            SUB r2, r3, r1
            PUSHARG r2
            CALL fib
            MOV r4, r0          // fib(n - 1)
            LDI r1, 2
            SUB r2, r3, r1
            PUSHARG r2
            CALL fib
            ADD r0, r0, r4
        done:
            RET r0
        }
    }
}

#[test]
fn fib_recurses() {
    let program = fib_program();
    let names: Vec<&str> = program.functions().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["main", "fib"]);
    let fib = program.function("fib").unwrap();
    assert_eq!((fib.parameters.as_slice(), fib.register_count), (&["n".to_string()][..], 5));
    assert_eq!(fib.labels["done"], 14);
    let vm = loaded(program);
    assert_eq!(vm.execute("main").unwrap(), Value::Int(6765));
    assert_eq!(vm.call("fib", &[Value::Int(25)]).unwrap(), Value::Int(75025));
}

#[test]
fn loops_with_every_jump_and_semicolons() {
    let program = bytecode! {
        // The sum of 0..n, then a count down with JMPGT/JMPNEQ; `;` may end an instruction.
        fn sum(n) {
            LDI r1, 0; LDI r2, 0; LDI r3, 1
        next:
            CMP r2, r0
            JMPEQ counted
            ADD r1, r1, r2
            ADD r2, r2, r3
            JMP next
        counted:
            LDI r4, 0
        down:
            CMP r2, r4
            JMPGT step
            JMPNEQ never
            RET r1
        step:
            SUB r2, r2, r3
            JMP down
        never:
            LDI r1, "unreachable"
            RET r1
        }
    };
    let vm = loaded(program);
    assert_eq!(vm.call("sum", &[Value::Int(1000)]).unwrap(), Value::Int(499_500));
    assert_eq!(vm.call("sum", &[Value::Int(0)]).unwrap(), Value::Int(0));
}

#[test]
fn every_kind_of_immediate_and_the_stack_slots() {
    let program = bytecode! {
        fn values() registers(12) {
            LDI r0, 42
            LDI r1, -7
            LDI r2, 1_000_000
            LDI r3, -9223372036854775808
            LDI r4, 2.5
            LDI r5, -0.5
            LDI r6, 1e-5
            LDI r7, true
            LDI r8, "tab\t\"quoted\" \u{1F600}"
            LDI r9, ()
            LDI r10, 0x2A
            CALL create_array
            MOV r11, r0
            PUSHARG r11
            LDI r0, 42
            PUSHARG r0
            PUSHARG r1
            PUSHARG r2
            PUSHARG r3
            PUSHARG r4
            PUSHARG r5
            PUSHARG r6
            PUSHARG r7
            PUSHARG r8
            PUSHARG r9
            PUSHARG r10
            LD r0, [sp-11]      // the array, pushed first
            LD r1, [sp+0]       // 0x2A, pushed last
            CALL array_push
            RET r11
        }
    };
    let vm = loaded(program);
    let Value::Array(array) = vm.execute("values").unwrap() else { panic!("an array") };
    assert_eq!(
        array.to_vec(),
        [
            Value::Int(42),
            Value::Int(-7),
            Value::Int(1_000_000),
            Value::Int(i64::MIN),
            Value::Float(2.5),
            Value::Float(-0.5),
            Value::Float(1e-5),
            Value::Bool(true),
            Value::from("tab\t\"quoted\" \u{1F600}"),
            Value::Unit,
            Value::Int(42),
        ]
    );
}

#[test]
fn rust_expressions_are_immediates() {
    let limit = 21;
    let name = String::from("ada");
    let program = bytecode! {
        fn main() {
            LDI r0, {limit * 2}
            LDI r1, {name.clone()}
            LDI r2, { let scale = 1.5; scale * 2.0 }
            LDI r3, {vec![1, 2, 3]}
            LDI r4, {Some("x")}
            LDI r5, {None::<i64>}
            LDI r6, {Value::from(true)}
            CALL create_array
            MOV r7, r0
            LDI r0, {limit * 2}
            PUSHARG r7
            PUSHARG r0
            PUSHARG r1
            PUSHARG r2
            PUSHARG r3
            PUSHARG r4
            PUSHARG r5
            PUSHARG r6
            CALL array_push
            RET r7
        }
    };
    drop(name); // the expression borrowed it; the program holds its own copy
    let Value::Array(array) = loaded(program).execute("main").unwrap() else { panic!("an array") };
    let values = array.to_vec();
    assert_eq!(values[..3], [Value::Int(42), Value::from("ada"), Value::Float(3.0)]);
    let Value::Array(inner) = &values[3] else { panic!("an array") };
    assert_eq!(inner.to_vec(), [Value::Int(1), Value::Int(2), Value::Int(3)]);
    assert_eq!(values[4..], [Value::from("x"), Value::Unit, Value::Bool(true)]);
}

#[test]
fn calls_by_name_and_by_string() {
    let program = bytecode! {
        fn main() {
            LDI r1, "hello"
            LDI r2, 42
            PUSHARG r1
            PUSHARG r2
            CALL print
            PUSHARG r2
            CALL "odd name"
            RET r0
        }
        fn "odd name"(x) {
            ADD r0, r0, r0
            RET r0
        }
    };
    let vm = loaded(program);
    let output = OutputBuffer::new();
    vm.set_output(output.clone());
    assert_eq!(vm.execute("main").unwrap(), Value::Int(84));
    assert_eq!(output.contents(), "hello 42\n");
}

#[test]
fn a_counter_closure_with_captures() {
    let program = bytecode! {
        fn make_counter(count) {
            LDI r1, "counter"
            LDI r2, "count"
            PUSHARG r1
            PUSHARG r2
            CALL create_closure
            RET r0
        }

        // count = count + 1; return count
        fn counter() captures(count) registers(3) {
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

        fn main() {
            LDI r0, 10
            PUSHARG r0
            CALL make_counter
            MOV r1, r0
            PUSHARG r1
            CALL call_closure
            PUSHARG r1
            CALL call_closure
            PUSHARG r1
            CALL call_closure
            RET r0
        }
    };
    let counter = program.function("counter").unwrap();
    assert_eq!((counter.upvalues.as_slice(), counter.register_count), (&["count".to_string()][..], 3));
    let vm = loaded(program);
    assert_eq!(vm.execute("main").unwrap(), Value::Int(13));
}

#[test]
fn objects_and_arrays() {
    let program = bytecode! {
        // { name: "stoffel", sizes: [1, 2, 3] }, then reads sizes[2] back
        fn main() {
            CALL create_object
            MOV r1, r0
            LDI r2, "name"
            LDI r3, "stoffel"
            PUSHARG r1
            PUSHARG r2
            PUSHARG r3
            CALL set_field
            CALL create_array
            MOV r4, r0
            LDI r5, 1
            LDI r6, 2
            LDI r7, 3
            PUSHARG r4
            PUSHARG r5
            PUSHARG r6
            PUSHARG r7
            CALL array_push
            LDI r2, "sizes"
            PUSHARG r1
            PUSHARG r2
            PUSHARG r4
            CALL set_field
            PUSHARG r1
            PUSHARG r2
            CALL get_field
            PUSHARG r0
            LDI r6, 2
            PUSHARG r6
            CALL get_field
            MOV r8, r0
            PUSHARG r4
            CALL array_length
            ADD r0, r0, r8
            RET r0          // length 3 + sizes[2] 3
        }
        fn object() {
            CALL create_object
            MOV r1, r0
            LDI r2, "name"
            LDI r3, "stoffel"
            PUSHARG r1
            PUSHARG r2
            PUSHARG r3
            CALL set_field
            RET r1
        }
    };
    let vm = loaded(program);
    assert_eq!(vm.execute("main").unwrap(), Value::Int(6));
    assert_eq!(vm.execute("object").unwrap().to_string(), "{name: \"stoffel\"}");
}

/// Adds two integers.
#[foreign_fn]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Sums any number of integers; the VM knows it as `sum`.
#[foreign_fn(name = "sum")]
fn sum_all(numbers: &[i64]) -> i64 {
    numbers.iter().sum()
}

mod text {
    use stoffel::foreign_fn;

    /// `word` repeated `times` times, `times` defaulting to 2.
    #[foreign_fn]
    pub fn repeat(word: &str, times: Option<i64>) -> String {
        word.repeat(times.unwrap_or(2) as usize)
    }
}

#[test]
fn calls_to_foreign_fn_items() {
    let program = bytecode! {
        fn main() {
            LDI r1, 40
            LDI r2, 2
            PUSHARG r1
            PUSHARG r2
            CALL {add}              // 42
            MOV r3, r0
            PUSHARG r3
            PUSHARG r3
            PUSHARG r3
            CALL {sum_all}          // the VM name is `sum`: 126
            MOV r3, r0
            LDI r1, "ab"
            PUSHARG r1
            CALL {text::repeat}     // the optional argument left out: "abab"
            MOV r4, r0
            LDI r2, 3
            PUSHARG r4
            PUSHARG r2
            CALL {self::text::repeat}
            PUSHARG r3
            PUSHARG r0
            CALL print
            RET r3
        }
    };
    let main = program.function("main").unwrap();
    assert_eq!(main.instructions[4], stoffel::Instruction::CALL("add".into()));
    assert_eq!(main.instructions[9], stoffel::Instruction::CALL("sum".into()));
    // The program brings the foreign functions it names: `load` registers them.
    let names: Vec<&str> = program.foreign_functions().iter().map(|f| f.name()).collect();
    assert!(names.contains(&"add") && names.contains(&"sum") && names.contains(&"repeat"), "{names:?}");
    let vm = loaded(program);
    let output = OutputBuffer::new();
    vm.set_output(output.clone());
    assert_eq!(vm.execute("main").unwrap(), Value::Int(126));
    assert_eq!(output.contents(), "126 abababababab\n");
}

#[test]
fn a_foreign_call_after_a_label_checks_only_that_the_item_exists() {
    // The label makes the argument count unknown: the VM checks it when the call runs.
    let program = bytecode! {
        fn main() {
            LDI r1, 1
            PUSHARG r1
        again:
            CALL {add}
            RET r0
        }
    };
    let vm = loaded(program);
    vm.register_foreign(foreign!(add));
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.kind(), stoffel::ErrorKind::Arity);
}

/// Builds a program from tokens a `macro_rules!` passes on (they arrive in invisible groups).
macro_rules! constant_function {
    ($name:ident, $value:literal) => {
        bytecode! {
            fn $name() {
                LDI r0, $value
                RET r0
            }
        }
    };
}

#[test]
fn works_inside_macro_rules() {
    let vm = loaded(constant_function!(answer, 42));
    assert_eq!(vm.execute("answer").unwrap(), Value::Int(42));
    let vm = loaded(constant_function!(negative, -3));
    assert_eq!(vm.execute("negative").unwrap(), Value::Int(-3));
}

#[test]
fn the_macro_and_the_text_assembler_agree() {
    let text = "fn main() {\n    LDI r0, 20\n    PUSHARG r0\n    CALL fib\n    RET r0\n}\n\
                fn fib(n) {\n    LDI r1, 2\n    CMP r0, r1\n    JMPLT done\n    MOV r3, r0\n\
                \x20   LDI r1, 1\n    SUB r2, r3, r1\n    PUSHARG r2\n    CALL fib\n    MOV r4, r0\n\
                \x20   LDI r1, 2\n    SUB r2, r3, r1\n    PUSHARG r2\n    CALL fib\n    ADD r0, r0, r4\n\
                done:\n    RET r0\n}\n";
    assert_eq!(stoffel::asm::assemble(text).unwrap(), fib_program());
    // And the printed program reads back equal.
    let printed = fib_program().to_string();
    assert_eq!(stoffel::asm::assemble(&printed).unwrap(), fib_program());
}

#[test]
fn raw_identifiers_and_an_empty_block() {
    let program = bytecode! {
        fn r#loop(r#in) {
            RET r0
        }
    };
    assert_eq!(program.functions()[0].name, "loop");
    assert_eq!(program.functions()[0].parameters, ["in"]);
    assert!(bytecode! {}.functions().is_empty());
}

#[test]
fn a_foreign_fn_declared_inside_a_function_body() {
    /// Doubles an integer.
    #[foreign_fn]
    fn double(x: i64) -> i64 {
        x * 2
    }

    let program = bytecode! {
        fn main() {
            LDI r0, 21
            PUSHARG r0
            CALL {double}
            RET r0
        }
    };
    let vm = loaded(program);
    vm.register_foreign(foreign!(double));
    assert_eq!(vm.execute("main").unwrap(), Value::Int(42));
}

/// The counter of `a_counter_closure_with_captures` written with the upvalue instructions, and
/// a closure over names that need quotes.
fn upvalue_program() -> Program {
    bytecode! {
        fn make_counter(count) {
            LDI r1, "counter"
            LDI r2, "count"
            PUSHARG r1
            PUSHARG r2
            CALL create_closure
            RET r0
        }

        // count = count + 1; return count
        fn counter() captures(count) {
            GETUPVAL r0, count
            LDI r1, 1
            ADD r0, r0, r1
            SETUPVAL count, r0
            RET r0
        }

        // swap(): exchange the cells "odd name" and r1, return the old "odd name"
        fn swap() captures("odd name", "r1") registers(3) {
            GETUPVAL r1, "odd name"
            GETUPVAL r2, "r1"
            SETUPVAL "odd name", r2
            SETUPVAL "r1", r1
            RET r1
        }

        fn main() {
            LDI r0, 10
            PUSHARG r0
            CALL make_counter
            MOV r1, r0
            PUSHARG r1
            CALL call_closure
            PUSHARG r1
            CALL call_closure
            PUSHARG r1
            CALL call_closure
            RET r0
        }
    }
}

#[test]
fn getupval_and_setupval_in_the_macro_equal_the_text_assembler() {
    let text = "fn make_counter(count) {\n    LDI r1, \"counter\"\n    LDI r2, \"count\"\n    PUSHARG r1\n\
                \x20   PUSHARG r2\n    CALL create_closure\n    RET r0\n}\n\
                fn counter() captures(count) {\n    GETUPVAL r0, count\n    LDI r1, 1\n    ADD r0, r0, r1\n\
                \x20   SETUPVAL count, r0\n    RET r0\n}\n\
                fn swap() captures(\"odd name\", \"r1\") registers(3) {\n    GETUPVAL r1, \"odd name\"\n\
                \x20   GETUPVAL r2, \"r1\"\n    SETUPVAL \"odd name\", r2\n    SETUPVAL \"r1\", r1\n    RET r1\n}\n\
                fn main() {\n    LDI r0, 10\n    PUSHARG r0\n    CALL make_counter\n    MOV r1, r0\n\
                \x20   PUSHARG r1\n    CALL call_closure\n    PUSHARG r1\n    CALL call_closure\n\
                \x20   PUSHARG r1\n    CALL call_closure\n    RET r0\n}\n";
    let program = upvalue_program();
    assert_eq!(stoffel::asm::assemble(text).unwrap(), program);
    let counter = program.function("counter").unwrap();
    assert_eq!(counter.instructions[0], stoffel::Instruction::GETUPVAL(0, "count".into()));
    assert_eq!(counter.instructions[3], stoffel::Instruction::SETUPVAL("count".into(), 0));
    assert_eq!(counter.register_count, 2);
    let swap = program.function("swap").unwrap();
    assert_eq!(swap.upvalues, ["odd name", "r1"]);
    assert_eq!(swap.instructions[1], stoffel::Instruction::GETUPVAL(2, "r1".into()));
    // The printed program reads back equal.
    assert_eq!(stoffel::asm::assemble(&program.to_string()).unwrap(), program);
    let vm = loaded(program);
    assert_eq!(vm.execute("main").unwrap(), Value::Int(13));
}
