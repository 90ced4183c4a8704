//! Calls between VM functions: recursion, mutual recursion, the call-depth limit, host entry.

mod common;
use common::*;
use stoffel::Instruction::*;
use stoffel::{ErrorKind, Value, VirtualMachine};

fn fib_function() -> stoffel::VMFunction {
    function(
        "fib",
        &["n"],
        4,
        body![
            LDI(1, Value::Int(2)),
            CMP(0, 1),
            JMPLT("done".into()),
            MOV(3, 0),
            LDI(1, Value::Int(1)),
            SUB(2, 3, 1),
            PUSHARG(2),
            CALL("fib".into()),
            MOV(2, 0),
            LDI(1, Value::Int(2)),
            SUB(1, 3, 1),
            PUSHARG(1),
            CALL("fib".into()),
            ADD(0, 2, 0),
            label("done"),
            RET(0),
        ],
    )
}

#[test]
fn recursive_fib() {
    let vm = vm_with(vec![fib_function()]);
    let expected = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55];
    for (n, want) in expected.iter().enumerate() {
        assert_eq!(vm.call("fib", &[Value::Int(n as i64)]).unwrap(), Value::Int(*want));
    }
    assert_eq!(vm.call("fib", &[Value::Int(25)]).unwrap(), Value::Int(75025));
}

/// is_even(n) = n == 0 || is_odd(n - 1); is_odd(n) = n != 0 && is_even(n - 1).
fn parity_functions() -> Vec<stoffel::VMFunction> {
    let parity = |name: &str, other: &str, at_zero: bool| {
        function(
            name,
            &["n"],
            3,
            body![
                LDI(1, Value::Int(0)),
                CMP(0, 1),
                JMPEQ("zero".into()),
                LDI(1, Value::Int(1)),
                SUB(2, 0, 1),
                PUSHARG(2),
                CALL(other.into()),
                RET(0),
                label("zero"),
                LDI(0, Value::Bool(at_zero)),
                RET(0),
            ],
        )
    };
    vec![parity("is_even", "is_odd", true), parity("is_odd", "is_even", false)]
}

#[test]
fn mutual_recursion() {
    let vm = vm_with(parity_functions());
    assert_eq!(vm.call("is_even", &[Value::Int(10)]).unwrap(), Value::Bool(true));
    assert_eq!(vm.call("is_odd", &[Value::Int(7)]).unwrap(), Value::Bool(true));
    assert_eq!(vm.call("is_even", &[Value::Int(7)]).unwrap(), Value::Bool(false));
    // 50,000 nested frames: VM calls do not use host stack.
    assert_eq!(vm.call("is_even", &[Value::Int(50_000)]).unwrap(), Value::Bool(true));
}

#[test]
fn infinite_recursion_hits_the_depth_limit_not_the_host_stack() {
    let vm = vm_with(vec![function("forever", &[], 1, body![CALL("forever".into()), RET(0)])]);
    vm.set_max_call_depth(1_000_000);
    let error = vm.execute("forever").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CallDepth);
    assert_eq!(error.message(), "call depth limit of 1000000 exceeded");
    // The error keeps the innermost frames only.
    assert_eq!(error.call_stack().len(), 256);
    assert_eq!(error.call_depth(), 1_000_000);
    assert!(error.call_stack().iter().all(|frame| frame.function == "forever"));
    // The VM is clean and usable afterwards.
    vm.register_function(function("ok", &[], 1, body![LDI(0, Value::Int(1)), RET(0)])).unwrap();
    assert_eq!(vm.execute("ok").unwrap(), Value::Int(1));
    vm.with_state(|state| assert_eq!(state.call_depth(), 0)).unwrap();
}

#[test]
fn a_small_depth_limit_applies() {
    let vm = vm_with(parity_functions());
    vm.set_max_call_depth(100);
    assert_eq!(vm.call("is_even", &[Value::Int(98)]).unwrap(), Value::Bool(true));
    assert_eq!(vm.call("is_even", &[Value::Int(100)]).unwrap_err().kind(), ErrorKind::CallDepth);
}

#[test]
fn runtime_errors_carry_the_whole_call_stack() {
    let vm = vm_with(vec![
        function("inner", &["x"], 2, body![LDI(1, Value::Int(0)), DIV(1, 0, 1), RET(1)]),
        function("middle", &["x"], 1, body![PUSHARG(0), CALL("inner".into()), RET(0)]),
        function("main", &[], 1, body![LDI(0, Value::Int(1)), PUSHARG(0), CALL("middle".into()), RET(0)]),
    ]);
    let error = vm.execute("main").unwrap_err();
    let stack: Vec<(String, Option<usize>)> =
        error.call_stack().iter().map(|f| (f.function.clone(), f.instruction)).collect();
    assert_eq!(stack, vec![("inner".into(), Some(1)), ("middle".into(), Some(1)), ("main".into(), Some(2))]);
    assert_eq!(error.to_string(), "division by zero in DIV (in `inner` at instruction 1)");
    let debug = format!("{error:?}");
    assert!(debug.contains("`main` at instruction 2"), "{debug}");
}

#[test]
fn execute_without_arguments_and_call_with_them() {
    let vm = vm_with(vec![function("answer", &[], 1, body![LDI(0, Value::Int(42)), RET(0)]), fib_function()]);
    assert_eq!(vm.execute("answer").unwrap(), Value::Int(42));
    assert_eq!(vm.call("fib", &[Value::Int(10)]).unwrap(), Value::Int(55));
    assert_eq!(vm.execute("fib").unwrap_err().kind(), ErrorKind::Arity);
}

#[test]
fn hosts_can_inspect_registered_functions() {
    let vm = VirtualMachine::new();
    vm.register_function(fib_function()).unwrap();
    vm.with_state(|state| {
        assert!(state.function_names().contains(&"fib"));
        assert!(state.function_names().contains(&"print"));
        assert_eq!(state.vm_function("fib").unwrap().parameters, vec!["n".to_string()]);
    })
    .unwrap();
}

/// Calls return without resetting their registers when no reference was written into them (a
/// tenth of a call, callgrind): whatever a function may read before writing must still read
/// unit, however the calls before it at the same depth left the register stack.
#[test]
fn registers_a_function_reads_before_writing_are_unit_after_other_calls() {
    let program = stoffel::asm::assemble(
        r#"
        fn main(flag) {
            MOV r4, r0              // CALL writes r0
            LDI r1, 41
            PUSHARG r1
            CALL writer             // leaves 7, 8, "left" where the next frame's r1..r3 are
            PUSHARG r0
            CALL reader
            MOV r5, r0
            PUSHARG r1
            CALL writer
            PUSHARG r0
            PUSHARG r4              // `maybe` writes r2 only when the flag is false
            CALL maybe
            MOV r6, r0
            PUSHARG r5
            PUSHARG r6
            CALL pair
            RET r0
        }
        fn writer(x) {
            LDI r1, 7
            LDI r2, 8
            LDI r3, "left"          // a string constant may stay behind too
            RET r1
        }
        fn reader(x) registers(4) {
            CMP r1, r2              // both unwritten: unit and unit, equal
            JMPEQ same
            LDI r0, "stale"
            RET r0
        same:
            PUSHARG r3              // unwritten too
            CALL type
            RET r0
        }
        fn maybe(x, flag) {
            LDI r3, true
            CMP r1, r3
            JMPEQ skip
            LDI r2, 5               // written on one path only
        skip:
            PUSHARG r2
            CALL type
            RET r0
        }
        fn pair(a, b) {
            PUSHARG r0
            PUSHARG r1
            CALL print
            RET r1
        }
        "#,
    )
    .unwrap();
    for flag in [true, false] {
        let vm = VirtualMachine::new();
        let output = stoffel::OutputBuffer::new();
        vm.set_output(output.clone());
        vm.load(program.clone()).unwrap();
        let expected = if flag { "unit" } else { "int" };
        assert_eq!(vm.call("main", &[Value::Bool(flag)]).unwrap(), Value::from(expected), "flag {flag}");
        assert_eq!(output.contents(), format!("unit {expected}\n"));
        // Twice in a row, on the register stack the first run left.
        assert_eq!(vm.call("main", &[Value::Bool(flag)]).unwrap(), Value::from(expected), "flag {flag}");
    }
}

/// A call that put a reference into its registers still drops it when it returns (only calls
/// that wrote none leave their registers as they are), whichever way the reference came: an
/// argument, a builtin's result, a copy, a constant.
#[test]
fn references_a_call_held_are_dropped_when_it_returns() {
    let vm = VirtualMachine::new();
    vm.load(
        stoffel::asm::assemble(
            r#"
            fn main() {
                LDI r1, 0
                PUSHARG r1
                CALL make           // an array made and dropped inside
                PUSHARG r0
                CALL live
                MOV r2, r0
                LDI r1, 0
                PUSHARG r1
                CALL create_array
                MOV r3, r0          // the array, kept by main
                PUSHARG r3
                CALL hold           // receives it as an argument and copies it
                PUSHARG r2
                CALL live           // only main's array is alive
                ADD r0, r0, r2      // 1 + 0: nothing left of `make`'s array either
                RET r0
            }
            fn make(x) {
                PUSHARG r0
                CALL create_array
                MOV r1, r0
                LDI r0, 1
                RET r0
            }
            fn hold(array) {
                MOV r1, r0
                LDI r0, 2
                RET r0
            }
            "#,
        )
        .unwrap(),
    )
    .unwrap();
    vm.register_foreign_function("live", |ctx| Ok(Value::Int(ctx.object_store().live_objects() as i64)));
    assert_eq!(vm.execute("main").unwrap(), Value::Int(1));
}
