//! Every instruction of DESIGN section 3: its happy path and each error case.

mod common;
use common::*;
use stoffel::Instruction::*;
use stoffel::{ErrorKind, Instruction, Value, VirtualMachine};

/// Runs `main()` made of `body` with 8 registers.
fn run(body: Vec<Item>) -> Result<Value, stoffel::Error> {
    let vm = vm_with(vec![function("main", &[], 8, body)]);
    vm.execute("main")
}

fn int(v: i64) -> Value {
    Value::Int(v)
}

/// `r2 = r0 OP r1` for two immediates.
fn binary(op: fn(usize, usize, usize) -> Instruction, a: Value, b: Value) -> Result<Value, stoffel::Error> {
    run(body![LDI(0, a), LDI(1, b), op(2, 0, 1), RET(2)])
}

fn error_of(result: Result<Value, stoffel::Error>) -> stoffel::Error {
    result.expect_err("expected an error")
}

#[test]
fn ldi_loads_every_immediate_kind() {
    for value in [int(-7), Value::Float(2.5), Value::Bool(true), Value::from("s"), Value::Unit] {
        assert_eq!(run(body![LDI(0, value.clone()), RET(0)]).unwrap(), value);
    }
}

#[test]
fn mov_copies_and_fresh_registers_are_unit() {
    assert_eq!(run(body![LDI(0, int(5)), MOV(1, 0), RET(1)]).unwrap(), int(5));
    assert_eq!(run(body![RET(7)]).unwrap(), Value::Unit);
}

#[test]
fn arithmetic_happy_paths() {
    assert_eq!(binary(ADD, int(2), int(3)).unwrap(), int(5));
    assert_eq!(binary(SUB, int(2), int(3)).unwrap(), int(-1));
    assert_eq!(binary(MUL, int(-4), int(3)).unwrap(), int(-12));
    assert_eq!(binary(DIV, int(-7), int(2)).unwrap(), int(-3));
    assert_eq!(binary(MOD, int(-7), int(2)).unwrap(), int(-1));
    assert_eq!(binary(MOD, int(i64::MIN), int(-1)).unwrap(), int(0));
    assert_eq!(binary(ADD, int(1), Value::Float(0.5)).unwrap(), Value::Float(1.5));
    assert_eq!(binary(DIV, Value::Float(1.0), Value::Float(4.0)).unwrap(), Value::Float(0.25));
    assert_eq!(binary(MOD, Value::Float(-7.5), int(2)).unwrap(), Value::Float(-1.5));
    assert_eq!(binary(ADD, Value::from("ab"), Value::from("cd")).unwrap(), Value::from("abcd"));
}

#[test]
fn arithmetic_errors() {
    let overflow = error_of(binary(ADD, int(i64::MAX), int(1)));
    assert_eq!(overflow.kind(), ErrorKind::Arithmetic);
    assert_eq!(overflow.message(), "arithmetic overflow in ADD");
    assert_eq!(overflow.location().unwrap().function, "main");
    assert_eq!(overflow.location().unwrap().instruction, Some(2));
    assert_eq!(error_of(binary(SUB, int(i64::MIN), int(1))).message(), "arithmetic overflow in SUB");
    assert_eq!(error_of(binary(MUL, int(i64::MAX), int(2))).message(), "arithmetic overflow in MUL");
    assert_eq!(error_of(binary(DIV, int(i64::MIN), int(-1))).message(), "arithmetic overflow in DIV");
    assert_eq!(error_of(binary(DIV, int(1), int(0))).message(), "division by zero in DIV");
    assert_eq!(error_of(binary(MOD, int(1), int(0))).message(), "division by zero in MOD");
    let mismatch = error_of(binary(ADD, int(1), Value::from("x")));
    assert_eq!(mismatch.kind(), ErrorKind::Type);
    assert_eq!(mismatch.message(), "ADD cannot take int and string");
    assert_eq!(error_of(binary(MUL, Value::Bool(true), int(1))).message(), "MUL cannot take bool and int");
    assert_eq!(
        error_of(binary(SUB, Value::from("a"), Value::from("b"))).message(),
        "SUB cannot take string and string"
    );
    assert_eq!(error_of(binary(DIV, Value::Unit, int(1))).message(), "DIV cannot take unit and int");
}

#[test]
fn bitwise_and_logical() {
    assert_eq!(binary(AND, int(6), int(3)).unwrap(), int(2));
    assert_eq!(binary(OR, int(6), int(3)).unwrap(), int(7));
    assert_eq!(binary(XOR, int(6), int(3)).unwrap(), int(5));
    assert_eq!(binary(AND, Value::Bool(true), Value::Bool(false)).unwrap(), Value::Bool(false));
    assert_eq!(binary(OR, Value::Bool(true), Value::Bool(false)).unwrap(), Value::Bool(true));
    assert_eq!(binary(XOR, Value::Bool(true), Value::Bool(true)).unwrap(), Value::Bool(false));
    assert_eq!(run(body![LDI(0, int(0)), NOT(1, 0), RET(1)]).unwrap(), int(-1));
    assert_eq!(run(body![LDI(0, Value::Bool(false)), NOT(1, 0), RET(1)]).unwrap(), Value::Bool(true));
    assert_eq!(error_of(binary(AND, int(1), Value::Bool(true))).kind(), ErrorKind::Type);
    assert_eq!(
        error_of(binary(XOR, Value::Float(1.0), Value::Float(1.0))).message(),
        "XOR cannot take float and float"
    );
    let not = error_of(run(body![LDI(0, Value::from("s")), NOT(1, 0), RET(1)]));
    assert_eq!(not.message(), "NOT cannot take string");
}

#[test]
fn shifts() {
    assert_eq!(binary(SHL, int(1), int(63)).unwrap(), int(i64::MIN));
    assert_eq!(binary(SHL, int(3), int(62)).unwrap(), int(i64::MIN + (1 << 62)));
    assert_eq!(binary(SHR, int(-8), int(2)).unwrap(), int(-2));
    assert_eq!(binary(SHR, int(i64::MIN), int(63)).unwrap(), int(-1));
    assert_eq!(binary(SHL, int(5), int(0)).unwrap(), int(5));
    let range = error_of(binary(SHL, int(1), int(64)));
    assert_eq!(range.kind(), ErrorKind::Arithmetic);
    assert_eq!(range.message(), "shift amount 64 out of range 0..=63 in SHL");
    assert_eq!(
        error_of(binary(SHR, int(1), int(-1))).message(),
        "shift amount -1 out of range 0..=63 in SHR"
    );
    assert_eq!(error_of(binary(SHL, Value::Float(1.0), int(1))).kind(), ErrorKind::Type);
}

/// Runs `CMP r0, r1` and reports which of the four jumps are taken.
fn jumps_taken(a: Value, b: Value) -> [bool; 4] {
    let jumps: [fn(String) -> Instruction; 4] = [JMPEQ, JMPNEQ, JMPLT, JMPGT];
    jumps.map(|jump| {
        run(body![
            LDI(0, a.clone()),
            LDI(1, b.clone()),
            CMP(0, 1),
            jump("yes".into()),
            LDI(2, Value::Bool(false)),
            RET(2),
            label("yes"),
            LDI(2, Value::Bool(true)),
            RET(2),
        ])
        .unwrap()
            == Value::Bool(true)
    })
}

#[test]
fn compare_and_conditional_jumps() {
    //                                        EQ     NEQ    LT     GT
    assert_eq!(jumps_taken(int(1), int(2)), [false, true, true, false]);
    assert_eq!(jumps_taken(int(2), int(2)), [true, false, false, false]);
    assert_eq!(jumps_taken(int(3), int(2)), [false, true, false, true]);
    assert_eq!(jumps_taken(int(2), Value::Float(2.0)), [true, false, false, false]);
    assert_eq!(jumps_taken(int((1 << 53) + 1), Value::Float(9007199254740992.0)), [false, true, false, true]);
    assert_eq!(jumps_taken(Value::from("abc"), Value::from("abd")), [false, true, true, false]);
    assert_eq!(jumps_taken(Value::Bool(false), Value::Bool(true)), [false, true, true, false]);
    assert_eq!(jumps_taken(Value::Unit, Value::Unit), [true, false, false, false]);
    // Unordered: only JMPNEQ jumps.
    assert_eq!(jumps_taken(Value::Float(f64::NAN), Value::Float(f64::NAN)), [false, true, false, false]);
    assert_eq!(jumps_taken(int(1), Value::from("1")), [false, true, false, false]);
}

#[test]
fn flag_starts_equal() {
    let result =
        run(body![JMPEQ("yes".into()), LDI(0, int(0)), RET(0), label("yes"), LDI(0, int(1)), RET(0),]);
    assert_eq!(result.unwrap(), int(1));
}

#[test]
fn reference_values_compare_by_identity() {
    let vm = VirtualMachine::new();
    vm.register_function(function(
        "same",
        &["a", "b"],
        3,
        body![
            CMP(0, 1),
            JMPEQ("yes".into()),
            LDI(2, Value::Bool(false)),
            RET(2),
            label("yes"),
            LDI(2, Value::Bool(true)),
            RET(2),
        ],
    ))
    .unwrap();
    let a = vm.execute("create_object").unwrap();
    let b = vm.execute("create_object").unwrap();
    assert_eq!(vm.call("same", &[a.clone(), a.clone()]).unwrap(), Value::Bool(true));
    assert_eq!(vm.call("same", &[a, b]).unwrap(), Value::Bool(false));
}

#[test]
fn ld_reads_pending_arguments_of_this_frame() {
    let result = run(body![
        LDI(0, int(10)),
        LDI(1, int(20)),
        PUSHARG(0),
        PUSHARG(1),
        LD(2, 0),
        LD(3, -1),
        SUB(4, 2, 3),
        RET(4),
    ]);
    assert_eq!(result.unwrap(), int(10));
}

#[test]
fn ld_outside_the_pending_arguments_is_an_error() {
    let below = error_of(run(body![LDI(0, int(1)), PUSHARG(0), LD(1, -1), RET(1)]));
    assert_eq!(below.kind(), ErrorKind::Bounds);
    assert!(below.message().contains("outside the 1 pending argument"), "{below}");
    let empty = error_of(run(body![LD(1, 0), RET(1)]));
    assert_eq!(empty.kind(), ErrorKind::Bounds);
    // A callee cannot see its caller's pending arguments: its parameters are in registers.
    let vm = vm_with(vec![
        function("peek", &["x"], 2, body![LD(1, 0), RET(1)]),
        function("main", &[], 2, body![LDI(0, int(1)), PUSHARG(0), CALL("peek".into()), RET(0)]),
    ]);
    assert_eq!(vm.execute("main").unwrap_err().kind(), ErrorKind::Bounds);
    // A CALL consumes the frame's pending arguments.
    let consumed = vm_with(vec![
        function("id", &["x"], 1, body![RET(0)]),
        function("main", &[], 2, body![LDI(0, int(1)), PUSHARG(0), CALL("id".into()), LD(1, 0), RET(1)]),
    ]);
    assert_eq!(consumed.execute("main").unwrap_err().kind(), ErrorKind::Bounds);
}

#[test]
fn call_passes_arguments_in_order_and_writes_r0() {
    let vm = vm_with(vec![
        function("minus", &["a", "b"], 3, body![SUB(2, 0, 1), RET(2)]),
        function(
            "main",
            &[],
            3,
            body![LDI(1, int(10)), LDI(2, int(3)), PUSHARG(1), PUSHARG(2), CALL("minus".into()), RET(0),],
        ),
    ]);
    assert_eq!(vm.execute("main").unwrap(), int(7));
}

#[test]
fn calls_with_the_wrong_arity_name_function_and_counts() {
    let vm = vm_with(vec![
        function("one", &["a"], 1, body![RET(0)]),
        function("main", &[], 2, body![LDI(1, int(1)), PUSHARG(1), PUSHARG(1), CALL("one".into()), RET(0)]),
    ]);
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Arity);
    assert_eq!(error.message(), "`one` takes 1 argument, but 2 were given");
    assert_eq!(error.location().unwrap().instruction, Some(3));
    let host = vm.call("one", &[]).unwrap_err();
    assert_eq!(host.message(), "`one` takes 1 argument, but 0 were given");
    let builtin = vm.call("array_length", &[]).unwrap_err();
    assert_eq!(builtin.kind(), ErrorKind::Arity);
    assert_eq!(builtin.message(), "`array_length` takes 1 argument, but 0 were given");
}

#[test]
fn calling_a_missing_function_fails_at_run_time_not_at_load() {
    let vm = vm_with(vec![function("main", &[], 1, body![CALL("later".into()), RET(0)])]);
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.message(), "function `later` not found");
    // Registering it afterwards makes the already-loaded call work.
    vm.register_function(function("later", &[], 1, body![LDI(0, int(9)), RET(0)])).unwrap();
    assert_eq!(vm.execute("main").unwrap(), int(9));
    assert_eq!(vm.execute("nothing").unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn re_registration_replaces_and_resolved_calls_see_it() {
    let vm = vm_with(vec![
        function("value", &[], 1, body![LDI(0, int(1)), RET(0)]),
        function("main", &[], 1, body![CALL("value".into()), RET(0)]),
    ]);
    assert_eq!(vm.execute("main").unwrap(), int(1));
    vm.register_fn("value", || 2i64);
    assert_eq!(vm.execute("main").unwrap(), int(2));
    vm.register_function(function("value", &[], 1, body![LDI(0, int(3)), RET(0)])).unwrap();
    assert_eq!(vm.execute("main").unwrap(), int(3));
}

#[test]
fn ret_returns_from_nested_frames_and_unconsumed_arguments_are_dropped() {
    let vm = vm_with(vec![
        function("leaky", &[], 1, body![LDI(0, int(5)), PUSHARG(0), PUSHARG(0), RET(0)]),
        function("main", &[], 2, body![CALL("leaky".into()), LD(1, 0), RET(1)]),
    ]);
    // `leaky`'s two pushes die with its frame: main sees none.
    assert_eq!(vm.execute("main").unwrap_err().kind(), ErrorKind::Bounds);
    vm.with_state(|state| {
        assert_eq!(state.call_depth(), 0);
        assert_eq!(state.pending_arguments(), 0);
    })
    .unwrap();
}

#[test]
fn jmp_loops() {
    // sum of 0..100
    let result = run(body![
        LDI(0, int(0)),
        LDI(1, int(0)),
        LDI(2, int(100)),
        LDI(3, int(1)),
        label("loop"),
        CMP(1, 2),
        JMPEQ("end".into()),
        ADD(0, 0, 1),
        ADD(1, 1, 3),
        JMP("loop".into()),
        label("end"),
        RET(0),
    ]);
    assert_eq!(result.unwrap(), int(4950));
}

/// `LDI` of a small int followed by the instruction that uses it runs fused in the plain loop;
/// its errors (overflow, a type mismatch) and its compare flag are those of the plain pair.
#[test]
fn fused_small_constants_keep_the_plain_semantics() {
    // i64::MIN - 1 overflows in the SUB (instruction 2), not in the LDI.
    let error = error_of(run(body![LDI(0, int(i64::MIN)), LDI(1, int(1)), SUB(2, 0, 1), RET(2)]));
    assert_eq!(error.kind(), ErrorKind::Arithmetic);
    assert_eq!(error.location().and_then(|frame| frame.instruction), Some(2));
    // A string plus a constant: the ADD's type error, and the constant was still loaded.
    let error = error_of(run(body![LDI(0, Value::from("s")), LDI(1, int(1)), ADD(2, 0, 1), RET(2)]));
    assert_eq!(error.kind(), ErrorKind::Type);
    assert_eq!(error.location().and_then(|frame| frame.instruction), Some(2));
    assert_eq!(run(body![LDI(0, int(40)), LDI(1, int(2)), ADD(2, 0, 1), RET(2)]).unwrap(), int(42));
    assert_eq!(run(body![LDI(0, int(40)), LDI(1, int(2)), ADD(2, 0, 1), RET(1)]).unwrap(), int(2));
    // Compare against a constant, then a second jump on the same flag.
    let body = body![
        LDI(0, int(5)),
        LDI(1, int(7)),
        CMP(0, 1),
        JMPGT("wrong".into()),
        JMPLT("less".into()),
        RET(1),
        label("less"),
        LDI(2, Value::from("less")),
        RET(2),
        label("wrong"),
        RET(0),
    ];
    assert_eq!(run(body).unwrap(), Value::from("less"));
    // A float against an int constant takes the plain path and compares exactly.
    let body = body![
        LDI(0, Value::Float(2.5)),
        LDI(1, int(2)),
        CMP(0, 1),
        JMPGT("gt".into()),
        RET(1),
        label("gt"),
        RET(0)
    ];
    assert_eq!(run(body).unwrap(), Value::Float(2.5));
}

#[test]
fn an_in_place_add_agrees_with_an_add_into_another_register() {
    // `ADD d, d, b` runs as its own op (the destination checked once); every operand mix must
    // give what `ADD` into a third register gives: values, errors, their location.
    let cases = [
        (int(2), int(3)),
        (int(i64::MAX), int(1)),
        (int(i64::MIN), int(-1)),
        (int(1), Value::Float(0.5)),
        (Value::Float(0.25), int(2)),
        (Value::from("ab"), Value::from("cd")),
        (int(1), Value::from("x")),
        (Value::Unit, int(1)),
        (Value::Bool(true), Value::Bool(false)),
    ];
    for (a, b) in cases {
        let in_place = run(body![LDI(0, a.clone()), LDI(1, b.clone()), ADD(0, 0, 1), RET(0)]);
        let other = binary(ADD, a.clone(), b.clone());
        match (in_place, other) {
            (Ok(x), Ok(y)) => assert_eq!(x, y, "{a:?} + {b:?}"),
            (Err(x), Err(y)) => {
                assert_eq!((x.kind(), x.message()), (y.kind(), y.message()), "{a:?} + {b:?}");
                assert_eq!(x.location().unwrap().instruction, Some(2));
            }
            (x, y) => panic!("{a:?} + {b:?}: {x:?} against {y:?}"),
        }
    }
}
