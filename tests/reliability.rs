//! Reliability: every failure is a clear error, the VM is clean afterwards, and many threads
//! share one VM without wrong results or deadlocks.

mod common;
use common::*;
use std::collections::HashMap;
use std::sync::Arc;
use stoffel::Instruction::*;
use stoffel::{ErrorKind, Instruction, VMFunction, Value, VirtualMachine};

fn int(v: i64) -> Value {
    Value::Int(v)
}

/// affine(x) = 3x + 1, through a foreign call that calls back into the VM.
fn affine_vm() -> VirtualMachine {
    let vm = vm_with(vec![
        function("triple", &["x"], 2, body![LDI(1, int(3)), MUL(0, 0, 1), RET(0)]),
        function(
            "affine",
            &["x"],
            2,
            body![PUSHARG(0), CALL("via_host".into()), LDI(1, int(1)), ADD(0, 0, 1), RET(0),],
        ),
    ]);
    vm.register_foreign_function("via_host", |ctx| ctx.call("triple", ctx.args));
    vm
}

fn assert_clean(vm: &VirtualMachine) {
    vm.with_state(|state| {
        assert_eq!(state.call_depth(), 0, "frames left behind");
        assert_eq!(state.pending_arguments(), 0, "pending arguments left behind");
    })
    .unwrap();
}

#[test]
fn eight_threads_times_a_thousand_calls_with_callbacks() {
    let vm = Arc::new(affine_vm());
    let threads: Vec<_> = (0..8i64)
        .map(|thread| {
            let vm = Arc::clone(&vm);
            std::thread::spawn(move || {
                for i in 0..1000i64 {
                    let x = thread * 1_000_000 + i;
                    assert_eq!(vm.call("affine", &[int(x)]).unwrap(), int(3 * x + 1));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_clean(&vm);
}

#[test]
fn threads_register_functions_while_others_run() {
    let vm = Arc::new(affine_vm());
    let runners: Vec<_> = (0..4i64)
        .map(|thread| {
            let vm = Arc::clone(&vm);
            std::thread::spawn(move || {
                for i in 0..500i64 {
                    let x = thread * 1000 + i;
                    assert_eq!(vm.call("affine", &[int(x)]).unwrap(), int(3 * x + 1));
                }
            })
        })
        .collect();
    let registrar = {
        let vm = Arc::clone(&vm);
        std::thread::spawn(move || {
            for i in 0..200i64 {
                let name = format!("constant_{i}");
                vm.register_function(function(&name, &[], 1, body![LDI(0, int(i)), RET(0)])).unwrap();
                vm.register_fn(&format!("host_{i}"), move || i);
                assert_eq!(vm.call(&name, &[]).unwrap(), int(i));
            }
        })
    };
    for runner in runners {
        runner.join().unwrap();
    }
    registrar.join().unwrap();
    assert_eq!(vm.call("host_199", &[]).unwrap(), int(199));
}

/// A table of malformed functions, each with the words its error must contain.
fn malformed_functions() -> Vec<(VMFunction, &'static str)> {
    let ret = || vec![Instruction::RET(0)];
    let make = |registers: usize, instructions: Vec<Instruction>| {
        VMFunction::new("bad", vec![], vec![], None, registers, instructions, HashMap::new())
    };
    let with_labels = |labels: &[(&str, usize)], instructions: Vec<Instruction>| {
        let labels = labels.iter().map(|(name, at)| (name.to_string(), *at)).collect();
        VMFunction::new("bad", vec![], vec![], None, 2, instructions, labels)
    };
    let with_params = |params: &[&str], registers: usize| {
        let params = params.iter().map(|p| p.to_string()).collect();
        VMFunction::new("bad", params, vec![], None, registers, ret(), HashMap::new())
    };
    vec![
        (make(0, ret()), "register count 0"),
        (with_params(&["a", "b", "c"], 2), "below the minimum 3"),
        (with_params(&["a", "a"], 2), "declared twice"),
        (make(65_537, ret()), "exceeds the limit"),
        (make(1, vec![]), "body is empty"),
        (make(2, vec![LDI(0, int(1))]), "run past the last instruction"),
        (make(2, vec![LDI(0, int(1)), CMP(0, 0)]), "run past the last instruction"),
        (make(2, vec![MOV(2, 0), RET(0)]), "uses r2"),
        (make(2, vec![ADD(0, 0, 9), RET(0)]), "uses r9"),
        (make(2, vec![PUSHARG(5), RET(0)]), "uses r5"),
        (make(2, vec![CMP(0, 7), RET(0)]), "uses r7"),
        (make(2, vec![NOT(3, 0), RET(0)]), "uses r3"),
        (make(2, vec![LD(4, 0), RET(0)]), "uses r4"),
        (make(2, vec![RET(2)]), "uses r2"),
        (make(2, vec![LD(0, 1), RET(0)]), "above the top"),
        (make(2, vec![JMP("missing".into())]), "undefined label `missing`"),
        (make(2, vec![JMPEQ("x".into()), RET(0)]), "undefined label `x`"),
        (make(2, vec![JMPNEQ("x".into()), RET(0)]), "undefined label `x`"),
        (make(2, vec![JMPLT("x".into()), RET(0)]), "undefined label `x`"),
        (make(2, vec![JMPGT("x".into()), RET(0)]), "undefined label `x`"),
        (with_labels(&[("end", 1)], vec![RET(0)]), "past the end"),
        (with_labels(&[("far", 1_000_000)], vec![JMP("far".into())]), "past the end"),
        (make(2, vec![CALL(String::new()), RET(0)]), "needs a function name"),
        (VMFunction::new("", vec![], vec![], None, 1, ret(), HashMap::new()), "needs a name"),
        (
            VMFunction::new("bad", vec![], vec!["u".into(), "u".into()], None, 1, ret(), HashMap::new()),
            "upvalue `u` is declared twice",
        ),
    ]
}

#[test]
fn every_malformed_function_is_rejected_and_leaves_the_vm_as_it_was() {
    let vm = vm_with(vec![function("bad", &[], 1, body![LDI(0, int(42)), RET(0)])]);
    let cases = malformed_functions();
    assert!(cases.len() >= 25);
    for (function, expected) in cases {
        let error = vm.register_function(function.clone()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Validation, "{error}");
        assert!(error.message().contains(expected), "{error} should contain {expected}");
        let error = vm.load(stoffel::Program::new(vec![function])).unwrap_err();
        assert!(error.message().contains(expected), "{error}");
        // The good `bad` registered first is untouched.
        assert_eq!(vm.execute("bad").unwrap(), int(42));
    }
}

#[test]
fn after_each_kind_of_fault_the_next_run_is_correct() {
    let vm = vm_with(vec![
        function(
            "deep_type_error",
            &["n"],
            3,
            body![
                LDI(1, int(0)),
                CMP(0, 1),
                JMPEQ("bottom".into()),
                LDI(1, int(1)),
                SUB(2, 0, 1),
                PUSHARG(2),
                PUSHARG(2),
                PUSHARG(2),
                CALL("deep_type_error".into()),
                RET(0),
                label("bottom"),
                LDI(1, Value::from("text")),
                ADD(0, 0, 1),
                RET(0),
            ],
        ),
        function(
            "calls_failing_host",
            &[],
            2,
            body![LDI(1, int(1)), PUSHARG(1), CALL("failing".into()), RET(0)],
        ),
        function("calls_panicking_host", &[], 2, body![PUSHARG(0), CALL("panicking".into()), RET(0)]),
        function("double", &["x"], 1, body![ADD(0, 0, 0), RET(0)]),
    ]);
    vm.register_foreign_function("failing", |_| Err("host said no".into()));
    vm.register_foreign_function("panicking", |ctx| {
        // Leave a nested run half-way: the panic unwinds through it.
        let _ = ctx.call("double", &[int(1)]);
        panic!("host bug")
    });
    let faults: Vec<(&str, Vec<Value>, ErrorKind)> = vec![
        ("deep_type_error", vec![int(3)], ErrorKind::Arity),
        ("calls_failing_host", vec![], ErrorKind::Foreign),
        ("calls_panicking_host", vec![], ErrorKind::Foreign),
        ("double", vec![Value::from("x"), int(1)], ErrorKind::Arity),
        ("double", vec![Value::Bool(true)], ErrorKind::Type),
        ("missing", vec![], ErrorKind::NotFound),
    ];
    for (name, args, kind) in faults {
        let error = vm.call(name, &args).unwrap_err();
        assert_eq!(error.kind(), kind, "{name}: {error}");
        assert_clean(&vm);
        assert_eq!(vm.call("double", &[int(21)]).unwrap(), int(42));
    }
    // A type error at the bottom of a deep stack names every frame.
    vm.register_function(function(
        "deep",
        &["n"],
        3,
        body![
            LDI(1, int(0)),
            CMP(0, 1),
            JMPEQ("bottom".into()),
            LDI(1, int(1)),
            SUB(2, 0, 1),
            PUSHARG(2),
            CALL("deep".into()),
            RET(0),
            label("bottom"),
            LDI(1, Value::from("text")),
            ADD(0, 0, 1),
            RET(0),
        ],
    ))
    .unwrap();
    let error = vm.call("deep", &[int(50)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Type);
    assert_eq!(error.message(), "ADD cannot take int and string");
    assert_eq!(error.call_stack().len(), 51);
    assert_clean(&vm);
}

#[test]
fn the_array_length_cap_applies_to_push_and_append() {
    let vm = VirtualMachine::new();
    vm.set_max_array_length(3);
    let array = vm.execute("create_array").unwrap();
    vm.call("array_push", &[array.clone(), int(1), int(2), int(3)]).unwrap();
    let error = vm.call("array_push", &[array.clone(), int(4)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Limit);
    assert_eq!(error.message(), "array length limit of 3 reached");
    assert_eq!(vm.call("set_field", &[array.clone(), int(3), int(4)]).unwrap_err().kind(), ErrorKind::Limit);
    // Replacing within the cap still works.
    vm.call("set_field", &[array.clone(), int(0), int(9)]).unwrap();
    assert_eq!(array.to_string(), "[9, 2, 3]");
}

#[test]
fn foreign_functions_cannot_recurse_through_the_host_without_bound() {
    let vm = vm_with(vec![function("again", &[], 1, body![CALL("bounce".into()), RET(0)])]);
    vm.register_foreign_function("bounce", |ctx| ctx.call("again", &[]));
    let error = vm.execute("again").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CallDepth);
    assert_clean(&vm);
}

#[test]
fn deep_recursion_with_many_registers_is_an_error_not_an_out_of_memory_abort() {
    // 65,536 registers per frame: 100,000 frames would need 100 GiB.
    let mut wide = function("wide", &[], 65_536, body![CALL("wide".into()), RET(0)]);
    wide.register_count = 65_536;
    let vm = vm_with(vec![wide]);
    let error = vm.execute("wide").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CallDepth);
    assert!(error.message().contains("register stack limit"), "{error}");
    assert_clean(&vm);
}
