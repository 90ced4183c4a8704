//! Closures: counters keep state, captures share cells, nested closures share their parent's
//! upvalues, and misuse is a clear error.

mod common;
use common::*;
use stoffel::Instruction::*;
use stoffel::{ErrorKind, VMFunction, Value, VirtualMachine};

fn s(text: &str) -> Value {
    Value::from(text)
}

/// counter() captures(count): count = count + 1; return count
fn counter() -> VMFunction {
    closure_function(
        "counter",
        &[],
        &["count"],
        3,
        body![
            LDI(0, s("count")),
            PUSHARG(0),
            CALL("get_upvalue".into()),
            LDI(1, Value::Int(1)),
            ADD(1, 0, 1),
            LDI(2, s("count")),
            PUSHARG(2),
            PUSHARG(1),
            CALL("set_upvalue".into()),
            RET(1),
        ],
    )
}

/// peek() captures(count): return count
fn peek() -> VMFunction {
    closure_function(
        "peek",
        &[],
        &["count"],
        1,
        body![LDI(0, s("count")), PUSHARG(0), CALL("get_upvalue".into()), RET(0),],
    )
}

/// make_counter(count): closure over count
fn make_counter() -> VMFunction {
    function(
        "make_counter",
        &["count"],
        3,
        body![
            LDI(1, s("counter")),
            LDI(2, s("count")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            RET(0),
        ],
    )
}

/// make_pair(count): [counter closure, peek closure], both over the same `count`
fn make_pair() -> VMFunction {
    function(
        "make_pair",
        &["count"],
        6,
        body![
            MOV(5, 0),
            LDI(1, s("counter")),
            LDI(2, s("count")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            MOV(3, 0),
            MOV(0, 5),
            LDI(1, s("peek")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            MOV(4, 0),
            CALL("create_array".into()),
            MOV(1, 0),
            PUSHARG(1),
            PUSHARG(3),
            PUSHARG(4),
            CALL("array_push".into()),
            RET(1),
        ],
    )
}

fn vm() -> VirtualMachine {
    vm_with(vec![counter(), peek(), make_counter(), make_pair()])
}

#[test]
fn a_counter_closure_keeps_its_state_across_calls() {
    let vm = vm();
    let closure = vm.call("make_counter", &[Value::Int(10)]).unwrap();
    for expected in 11..=15 {
        assert_eq!(vm.call("call_closure", std::slice::from_ref(&closure)).unwrap(), Value::Int(expected));
    }
    // A second counter has its own cell.
    let other = vm.call("make_counter", &[Value::Int(0)]).unwrap();
    assert_eq!(vm.call("call_closure", &[other]).unwrap(), Value::Int(1));
    assert_eq!(vm.call("call_closure", &[closure]).unwrap(), Value::Int(16));
}

#[test]
fn two_closures_capturing_the_same_parameter_share_the_cell() {
    let vm = vm();
    let pair = vm.call("make_pair", &[Value::Int(0)]).unwrap();
    let Value::Array(pair) = pair else { panic!("expected an array") };
    let (inc, peek) = (pair.get(0).unwrap(), pair.get(1).unwrap());
    vm.call("call_closure", std::slice::from_ref(&inc)).unwrap();
    vm.call("call_closure", &[inc]).unwrap();
    assert_eq!(vm.call("call_closure", &[peek]).unwrap(), Value::Int(2));
}

#[test]
fn a_closure_created_inside_a_closure_shares_the_upvalue_cell() {
    // spawn() captures(count): returns a peek closure over its own upvalue `count`.
    let spawn = closure_function(
        "spawn",
        &[],
        &["count"],
        2,
        body![
            LDI(0, s("peek")),
            LDI(1, s("count")),
            PUSHARG(0),
            PUSHARG(1),
            CALL("create_closure".into()),
            RET(0),
        ],
    );
    let make_spawner = function(
        "make_spawner",
        &["count"],
        3,
        body![
            LDI(1, s("spawn")),
            LDI(2, s("count")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            RET(0),
        ],
    );
    let vm = vm();
    vm.register_function(spawn).unwrap();
    vm.register_function(make_spawner).unwrap();
    let spawner = vm.call("make_spawner", &[Value::Int(5)]).unwrap();
    let child = vm.call("call_closure", std::slice::from_ref(&spawner)).unwrap();
    let Value::Closure(spawner_closure) = &spawner else { panic!() };
    spawner_closure.upvalue("count").unwrap().set(Value::Int(99));
    assert_eq!(vm.call("call_closure", &[child]).unwrap(), Value::Int(99));
}

#[test]
fn capturing_copies_the_parameter_value_without_aliasing_the_register() {
    // make(count): c = closure over count; count = 100; return c — the closure still sees 7.
    let make = function(
        "make",
        &["count"],
        3,
        body![
            LDI(1, s("peek")),
            LDI(2, s("count")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            MOV(1, 0),
            LDI(0, Value::Int(100)),
            RET(1),
        ],
    );
    let vm = vm();
    vm.register_function(make).unwrap();
    let closure = vm.call("make", &[Value::Int(7)]).unwrap();
    assert_eq!(vm.call("call_closure", &[closure]).unwrap(), Value::Int(7));
}

#[test]
fn closures_can_take_arguments() {
    // add_base(x) captures(base): x + base
    let add_base = closure_function(
        "add_base",
        &["x"],
        &["base"],
        2,
        body![MOV(1, 0), LDI(0, s("base")), PUSHARG(0), CALL("get_upvalue".into()), ADD(0, 0, 1), RET(0),],
    );
    let make = function(
        "make_adder",
        &["base"],
        3,
        body![
            LDI(1, s("add_base")),
            LDI(2, s("base")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            RET(0),
        ],
    );
    let vm = vm_with(vec![add_base, make]);
    let adder = vm.call("make_adder", &[Value::Int(100)]).unwrap();
    assert_eq!(vm.call("call_closure", &[adder.clone(), Value::Int(5)]).unwrap(), Value::Int(105));
    assert_eq!(vm.call("call_closure", &[adder]).unwrap_err().kind(), ErrorKind::Arity);
}

#[test]
fn closure_errors() {
    let vm = vm();
    // Capturing a name the callee does not declare.
    let bad = function(
        "bad",
        &["count"],
        3,
        body![
            LDI(1, s("counter")),
            LDI(2, s("other")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            RET(0),
        ],
    );
    vm.register_function(bad).unwrap();
    let error = vm.call("bad", &[Value::Int(0)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(error.message().contains("does not declare upvalue `other`"), "{error}");
    // Capturing something that is neither parameter nor upvalue.
    let stray = function(
        "stray",
        &[],
        3,
        body![
            LDI(1, s("counter")),
            LDI(2, s("count")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            RET(0),
        ],
    );
    vm.register_function(stray).unwrap();
    let error = vm.execute("stray").unwrap_err();
    assert!(error.message().contains("neither a parameter nor an upvalue"), "{error}");
    // get_upvalue outside a closure.
    let error = vm.execute("peek").unwrap_err();
    assert!(error.message().contains("not running as a closure"), "{error}");
    // call_closure on a non-closure.
    let error = vm.call("call_closure", &[Value::Int(1)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Type);
    assert_eq!(error.message(), "argument 1 of `call_closure`: expected closure, found int");
    assert_eq!(vm.call("call_closure", &[]).unwrap_err().kind(), ErrorKind::Arity);
    // create_closure of an unknown function.
    let error = vm.call("create_closure", &[s("nope")]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}
