//! Closures: counters keep state, captures share cells, nested closures share their parent's
//! upvalues, and misuse is a clear error.

mod common;
use common::*;
use stoffel::Instruction::*;
use stoffel::{ErrorKind, StackFrame, VMFunction, Value, VirtualMachine};

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

/// add_base(x) captures(base): x + base (read with `get_upvalue`); make_adder(base).
fn adder() -> VirtualMachine {
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
    vm_with(vec![add_base, make])
}

#[test]
fn closures_can_take_arguments() {
    let vm = adder();
    let adder = vm.call("make_adder", &[Value::Int(100)]).unwrap();
    assert_eq!(vm.call("call_closure", &[adder.clone(), Value::Int(5)]).unwrap(), Value::Int(105));
    assert_eq!(vm.call("call_closure", &[adder]).unwrap_err().kind(), ErrorKind::Arity);
}

#[test]
fn get_upvalue_reads_every_kind_of_value() {
    // The in-loop `get_upvalue` reads an int without building a `Value`; the rest as values.
    let vm = adder();
    for (base, x, sum) in [
        (Value::Int(-3), Value::Int(5), Value::Int(2)),
        (Value::Float(1.5), Value::Float(2.0), Value::Float(3.5)),
        (Value::from("ab"), Value::from("cd"), Value::from("abcd")),
    ] {
        let adder = vm.call("make_adder", &[base]).unwrap();
        assert_eq!(vm.call("call_closure", &[adder.clone(), x.clone()]).unwrap(), sum);
        // Twice: the second read finds the first one's result in the register.
        assert_eq!(vm.call("call_closure", &[adder, x]).unwrap(), sum);
    }
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

// ---------------------------------------------------------------------------------------------
// GETUPVAL / SETUPVAL: the upvalue builtins as instructions
// ---------------------------------------------------------------------------------------------

/// counter_op() captures(count): count = count + 1; return count — with the instructions.
fn counter_op() -> VMFunction {
    closure_function(
        "counter_op",
        &[],
        &["count"],
        2,
        body![
            GETUPVAL(0, "count".into()),
            LDI(1, Value::Int(1)),
            ADD(0, 0, 1),
            SETUPVAL("count".into(), 0),
            RET(0),
        ],
    )
}

/// peek_op() captures(count): return count — with the instruction.
fn peek_op() -> VMFunction {
    closure_function("peek_op", &[], &["count"], 1, body![GETUPVAL(0, "count".into()), RET(0)])
}

/// store_op(value) captures(count): count = value; return value — with the instruction.
fn store_op() -> VMFunction {
    closure_function("store_op", &["value"], &["count"], 1, body![SETUPVAL("count".into(), 0), RET(0)])
}

/// A function `name(count)` that returns `create_closure(target, captures…)`.
fn maker(name: &str, target: &str, captures: &[&str]) -> VMFunction {
    let mut code = body![LDI(1, s(target)), PUSHARG(1)];
    for capture in captures {
        code.extend(body![LDI(2, s(capture)), PUSHARG(2)]);
    }
    code.extend(body![CALL("create_closure".into()), RET(0)]);
    function(name, &["count"], 3, code)
}

/// make_all(count): [counter, peek, counter_op, peek_op, store_op], all over one `count` cell
/// (captured in one frame), the first two with the builtins, the others with the instructions.
fn make_all() -> VMFunction {
    let mut code = body![MOV(4, 0), CALL("create_array".into()), MOV(3, 0), MOV(0, 4)];
    for target in ["counter", "peek", "counter_op", "peek_op", "store_op"] {
        code.extend(body![
            LDI(1, s(target)),
            LDI(2, s("count")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            MOV(1, 0),
            MOV(0, 4),
            PUSHARG(3),
            PUSHARG(1),
            CALL("array_push".into()),
            MOV(0, 4),
        ]);
    }
    code.extend(body![RET(3)]);
    function("make_all", &["count"], 5, code)
}

fn upval_vm() -> VirtualMachine {
    let vm = vm();
    for function in [counter_op(), peek_op(), store_op(), make_all()] {
        vm.register_function(function).unwrap();
    }
    vm.register_function(maker("make_counter_op", "counter_op", &["count"])).unwrap();
    vm
}

fn call_closure(vm: &VirtualMachine, closure: &Value, args: &[Value]) -> Value {
    let mut all = vec![closure.clone()];
    all.extend_from_slice(args);
    vm.call("call_closure", &all).unwrap()
}

#[test]
fn a_counter_written_with_getupval_and_setupval_counts() {
    let vm = upval_vm();
    let closure = vm.call("make_counter_op", &[Value::Int(10)]).unwrap();
    for expected in 11..=15 {
        assert_eq!(call_closure(&vm, &closure, &[]), Value::Int(expected));
    }
    // The cell holds what SETUPVAL wrote.
    let Value::Closure(handle) = &closure else { panic!("expected a closure") };
    assert_eq!(handle.upvalue("count").unwrap().get(), Value::Int(15));
    // A second counter has its own cell.
    let other = vm.call("make_counter_op", &[Value::Int(0)]).unwrap();
    assert_eq!(call_closure(&vm, &other, &[]), Value::Int(1));
    assert_eq!(call_closure(&vm, &closure, &[]), Value::Int(16));
}

#[test]
fn getupval_and_setupval_find_cells_whatever_order_they_were_captured_in() {
    // `GETUPVAL`/`SETUPVAL` try an upvalue's place among the declared ones first; a closure
    // that captured in another order (or only some) is searched by name.
    let text = r#"
        fn spread() captures(low, high) {
            GETUPVAL r0, high
            GETUPVAL r1, low
            SUB r0, r0, r1
            LDI r2, 1
            ADD r1, r1, r2
            SETUPVAL low, r1      // low counts up: each call one less
            RET r0
        }
        fn make(low, high) {
            LDI r2, "spread"
            LDI r3, "high"
            LDI r4, "low"
            PUSHARG r2
            PUSHARG r3
            PUSHARG r4
            CALL create_closure   // captured high first: the reverse of the declaration
            RET r0
        }
        fn make_in_order(low, high) {
            LDI r2, "spread"
            LDI r3, "low"
            LDI r4, "high"
            PUSHARG r2
            PUSHARG r3
            PUSHARG r4
            CALL create_closure
            RET r0
        }
    "#;
    let vm = VirtualMachine::new();
    vm.load(stoffel::asm::assemble(text).unwrap()).unwrap();
    for maker in ["make", "make_in_order"] {
        let closure = vm.call(maker, &[Value::Int(3), Value::Int(10)]).unwrap();
        let results: Vec<Value> = (0..3).map(|_| call_closure(&vm, &closure, &[])).collect();
        assert_eq!(results, [Value::Int(7), Value::Int(6), Value::Int(5)], "{maker}");
        let Value::Closure(handle) = &closure else { panic!("expected a closure") };
        assert_eq!(handle.upvalue("low").unwrap().get(), Value::Int(6), "{maker}");
    }
}

#[test]
fn closures_sharing_a_cell_see_each_others_writes_through_instructions_and_builtins() {
    let vm = upval_vm();
    let Value::Array(all) = vm.call("make_all", &[Value::Int(0)]).unwrap() else {
        panic!("expected an array")
    };
    let [counter, peek, counter_op, peek_op, store_op] = [0, 1, 2, 3, 4].map(|i| all.get(i).unwrap());
    // SETUPVAL, then the builtin reads; set_upvalue, then GETUPVAL reads.
    assert_eq!(call_closure(&vm, &counter_op, &[]), Value::Int(1));
    assert_eq!(call_closure(&vm, &peek, &[]), Value::Int(1));
    assert_eq!(call_closure(&vm, &counter, &[]), Value::Int(2));
    assert_eq!(call_closure(&vm, &peek_op, &[]), Value::Int(2));
    assert_eq!(call_closure(&vm, &counter_op, &[]), Value::Int(3));
    assert_eq!(call_closure(&vm, &counter, &[]), Value::Int(4));
    assert_eq!(call_closure(&vm, &peek_op, &[]), Value::Int(4));
    // Any value: a stored array is the same array (a handle), whoever reads it.
    let array = vm.execute("create_array").unwrap();
    assert_eq!(call_closure(&vm, &store_op, std::slice::from_ref(&array)), array);
    vm.call("array_push", &[array.clone(), Value::Int(7)]).unwrap();
    assert_eq!(call_closure(&vm, &peek, &[]).to_string(), "[7]");
    assert_eq!(call_closure(&vm, &peek_op, &[]).to_string(), "[7]");
    // A write from the host is seen by the instruction, and the other way round.
    let Value::Closure(handle) = &peek_op else { panic!("expected a closure") };
    handle.upvalue("count").unwrap().set(Value::Int(40));
    assert_eq!(call_closure(&vm, &counter_op, &[]), Value::Int(41));
    let Value::Closure(handle) = &counter else { panic!("expected a closure") };
    assert_eq!(handle.upvalue("count").unwrap().get(), Value::Int(41));
}

#[test]
fn a_closure_created_inside_a_closure_shares_the_cell_with_the_instructions() {
    // spawn_op() captures(count): count = count * 2; return closure counter_op over count — the
    // running closure's own upvalue, so parent and children share one cell.
    let spawn_op = closure_function(
        "spawn_op",
        &[],
        &["count"],
        3,
        body![
            GETUPVAL(2, "count".into()),
            ADD(2, 2, 2),
            SETUPVAL("count".into(), 2),
            LDI(0, s("counter_op")),
            LDI(1, s("count")),
            PUSHARG(0),
            PUSHARG(1),
            CALL("create_closure".into()),
            RET(0),
        ],
    );
    let vm = upval_vm();
    vm.register_function(spawn_op).unwrap();
    vm.register_function(maker("make_spawner_op", "spawn_op", &["count"])).unwrap();
    let spawner = vm.call("make_spawner_op", &[Value::Int(5)]).unwrap();
    let first = call_closure(&vm, &spawner, &[]); // count = 10
    assert_eq!(call_closure(&vm, &first, &[]), Value::Int(11));
    let second = call_closure(&vm, &spawner, &[]); // count = 22
    assert_eq!(call_closure(&vm, &first, &[]), Value::Int(23));
    assert_eq!(call_closure(&vm, &second, &[]), Value::Int(24));
    let Value::Closure(parent) = &spawner else { panic!("expected a closure") };
    assert_eq!(parent.upvalue("count").unwrap().get(), Value::Int(24));
    // The builtin `peek`, captured from the running closure as well, shares it too.
    let spawn_peek = closure_function(
        "spawn_peek",
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
    vm.register_function(spawn_peek).unwrap();
    vm.register_function(maker("make_peek_spawner", "spawn_peek", &["count"])).unwrap();
    let spawner = vm.call("make_peek_spawner", &[Value::Int(1)]).unwrap();
    let peek = call_closure(&vm, &spawner, &[]);
    let Value::Closure(parent) = &spawner else { panic!("expected a closure") };
    parent.upvalue("count").unwrap().set(Value::Int(77));
    assert_eq!(call_closure(&vm, &peek, &[]), Value::Int(77));
}

#[test]
fn getupval_and_setupval_outside_a_closure_fail_like_the_builtins() {
    let vm = upval_vm();
    // The builtin's error, for comparison.
    let builtin = vm.execute("peek").unwrap_err();
    // Called directly by the host: not running as a closure.
    let error = vm.execute("counter_op").unwrap_err();
    assert_eq!(error.kind(), builtin.kind());
    assert_eq!(error.kind(), ErrorKind::Type);
    assert_eq!(error.message(), "GETUPVAL: `counter_op` is not running as a closure");
    assert_eq!(
        error.to_string(),
        "GETUPVAL: `counter_op` is not running as a closure (in `counter_op` at instruction 0)"
    );
    assert_eq!(error.call_stack(), [StackFrame { function: "counter_op".into(), instruction: Some(0) }]);
    // SETUPVAL, at its own index.
    let error = vm.call("store_op", &[Value::Int(1)]).unwrap_err();
    assert_eq!(
        (error.kind(), error.message()),
        (ErrorKind::Type, "SETUPVAL: `store_op` is not running as a closure")
    );
    assert_eq!(error.call_stack(), [StackFrame { function: "store_op".into(), instruction: Some(0) }]);
    // Called with CALL from a VM function — even one running as a closure: the callee is not.
    let direct = closure_function(
        "direct",
        &[],
        &["count"],
        1,
        body![GETUPVAL(0, "count".into()), CALL("counter_op".into()), RET(0)],
    );
    vm.register_function(direct).unwrap();
    vm.register_function(maker("make_direct", "direct", &["count"])).unwrap();
    let closure = vm.call("make_direct", &[Value::Int(3)]).unwrap();
    let error = vm.call("call_closure", &[closure]).unwrap_err();
    assert_eq!(error.message(), "GETUPVAL: `counter_op` is not running as a closure");
    assert_eq!(
        error.call_stack(),
        [
            StackFrame { function: "counter_op".into(), instruction: Some(0) },
            StackFrame { function: "direct".into(), instruction: Some(1) },
        ]
    );
    // The VM is clean and keeps working.
    vm.with_state(|state| assert_eq!((state.call_depth(), state.pending_arguments()), (0, 0))).unwrap();
    let counter = vm.call("make_counter_op", &[Value::Int(1)]).unwrap();
    assert_eq!(call_closure(&vm, &counter, &[]), Value::Int(2));
}

#[test]
fn a_closure_that_did_not_capture_a_declared_upvalue_cannot_read_or_write_it() {
    let vm = upval_vm();
    // create_closure may capture a subset of the declared upvalues (here none).
    vm.register_function(maker("make_bare_op", "counter_op", &[])).unwrap();
    vm.register_function(maker("make_bare", "counter", &[])).unwrap();
    let bare = vm.call("make_bare", &[Value::Int(0)]).unwrap();
    let builtin = vm.call("call_closure", &[bare]).unwrap_err();
    assert_eq!(builtin.message(), "get_upvalue: the closure of `counter` has no upvalue `count`");
    let bare = vm.call("make_bare_op", &[Value::Int(0)]).unwrap();
    let Value::Closure(handle) = &bare else { panic!("expected a closure") };
    assert!(handle.upvalues().is_empty());
    let error = vm.call("call_closure", &[bare]).unwrap_err();
    assert_eq!(error.kind(), builtin.kind());
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.message(), "GETUPVAL: the closure of `counter_op` has no upvalue `count`");
    assert_eq!(error.call_stack(), [StackFrame { function: "counter_op".into(), instruction: Some(0) }]);
    // pair() captures(a, b): a = b — captured with only `a`, the read of `b` fails; with only
    // `b`, the write of `a` fails.
    let pair = closure_function(
        "pair",
        &[],
        &["a", "b"],
        1,
        body![GETUPVAL(0, "b".into()), SETUPVAL("a".into(), 0), RET(0)],
    );
    let make = |name: &str, captures: &[&str]| {
        let mut code = body![LDI(2, s("pair")), PUSHARG(2)];
        for capture in captures {
            code.extend(body![LDI(2, s(capture)), PUSHARG(2)]);
        }
        code.extend(body![CALL("create_closure".into()), RET(0)]);
        function(name, &["a", "b"], 3, code)
    };
    vm.register_function(pair).unwrap();
    vm.register_function(make("make_a", &["a"])).unwrap();
    vm.register_function(make("make_b", &["b"])).unwrap();
    vm.register_function(make("make_ab", &["b", "a"])).unwrap();
    let args = [Value::Int(1), Value::Int(2)];
    let only_a = vm.call("make_a", &args).unwrap();
    let error = vm.call("call_closure", &[only_a]).unwrap_err();
    assert_eq!(error.message(), "GETUPVAL: the closure of `pair` has no upvalue `b`");
    assert_eq!(error.location(), Some(&StackFrame { function: "pair".into(), instruction: Some(0) }));
    let only_b = vm.call("make_b", &args).unwrap();
    let error = vm.call("call_closure", &[only_b]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.message(), "SETUPVAL: the closure of `pair` has no upvalue `a`");
    assert_eq!(error.location(), Some(&StackFrame { function: "pair".into(), instruction: Some(1) }));
    // Both, in any order: the names find their cells.
    let both = vm.call("make_ab", &args).unwrap();
    assert_eq!(call_closure(&vm, &both, &[]), Value::Int(2));
    let Value::Closure(handle) = &both else { panic!("expected a closure") };
    assert_eq!(handle.upvalue("a").unwrap().get(), Value::Int(2));
}

#[test]
fn getupval_and_setupval_of_an_undeclared_name_are_rejected_at_registration() {
    let vm = vm_with(vec![function("f", &[], 1, body![LDI(0, Value::Int(42)), RET(0)])]);
    let cases = [
        (closure_function("f", &[], &[], 1, body![GETUPVAL(0, "nope".into()), RET(0)]), "`nope`"),
        (closure_function("f", &[], &["count"], 1, body![GETUPVAL(0, "nope".into()), RET(0)]), "`nope`"),
        (closure_function("f", &["nope"], &[], 1, body![SETUPVAL("nope".into(), 0), RET(0)]), "`nope`"),
        (closure_function("f", &[], &["Count"], 1, body![SETUPVAL("count".into(), 0), RET(0)]), "`count`"),
    ];
    for (function, name) in cases {
        let error = function.validate().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Validation, "{error}");
        assert!(error.message().contains("not a declared upvalue"), "{error}");
        assert!(error.message().contains(name), "{error}");
        let error = vm.register_function(function.clone()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Validation, "{error}");
        assert!(error.message().starts_with("function `f`: instruction 0 "), "{error}");
        let error = vm.load(stoffel::Program::new(vec![function])).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Validation, "{error}");
        // The `f` registered first is untouched.
        assert_eq!(vm.execute("f").unwrap(), Value::Int(42));
    }
    let error =
        closure_function("f", &[], &[], 1, body![GETUPVAL(0, "nope".into()), RET(0)]).validate().unwrap_err();
    assert_eq!(
        error.message(),
        "function `f`: instruction 0 `GETUPVAL r0, nope` names `nope`, which is not a declared upvalue"
    );
    // Their registers are checked like any other.
    let error = closure_function("f", &[], &["u"], 2, body![GETUPVAL(2, "u".into()), RET(0)]).validate();
    assert!(error.unwrap_err().message().contains("uses r2"));
    let error = closure_function("f", &[], &["u"], 2, body![SETUPVAL("u".into(), 5), RET(0)]).validate();
    assert!(error.unwrap_err().message().contains("uses r5"));
    // A declared name is accepted, whether or not a closure will capture it.
    closure_function("f", &[], &["u"], 2, body![GETUPVAL(1, "u".into()), SETUPVAL("u".into(), 1), RET(1)])
        .validate()
        .unwrap();
}

/// A loop that calls `first`, then `second`, from one depth, `n` times; returns the sum of the
/// results. The fused `PUSHARG` + `CALL call_closure` path, which keeps a record's closure for
/// the next call at its depth.
const ALTERNATE: &str = r#"
fn alternate(first, second, n) {
    MOV r5, r0
    LDI r3, 0           // i
    LDI r4, 0           // sum
    LDI r6, 1
again:
    PUSHARG r5
    CALL call_closure
    ADD r4, r4, r0
    PUSHARG r1
    CALL call_closure
    ADD r4, r4, r0
    ADD r3, r3, r6
    CMP r3, r2
    JMPLT again
    RET r4
}
fn counter() captures(count) {
    GETUPVAL r0, count
    LDI r1, 1
    ADD r0, r0, r1
    SETUPVAL count, r0
    RET r0
}
fn make_counter(count) {
    LDI r1, "counter"
    LDI r2, "count"
    PUSHARG r1
    PUSHARG r2
    CALL create_closure
    RET r0
}
// A plain function that reads an upvalue: an error, whatever closure ran at its depth before.
fn not_a_closure() {
    LDI r0, "count"
    PUSHARG r0
    CALL get_upvalue
    RET r0
}
fn closure_then_plain(closure) {
    MOV r1, r0
    PUSHARG r1
    CALL call_closure
    CALL not_a_closure
    RET r0
}
"#;

fn alternate_vm() -> VirtualMachine {
    let vm = VirtualMachine::new();
    vm.load(stoffel::asm::assemble(ALTERNATE).unwrap()).unwrap();
    vm
}

#[test]
fn closures_called_in_turn_from_one_depth_each_run_with_their_own_cells() {
    let vm = alternate_vm();
    let low = vm.call("make_counter", &[Value::Int(0)]).unwrap();
    let high = vm.call("make_counter", &[Value::Int(1000)]).unwrap();
    // low counts 1..=3, high 1001..=1003.
    let sum = vm.call("alternate", &[low.clone(), high.clone(), Value::Int(3)]).unwrap();
    assert_eq!(sum, Value::Int(6 + 3006));
    // The same closure twice in a row, then the other one: each keeps counting.
    let sum = vm.call("alternate", &[low.clone(), low.clone(), Value::Int(2)]).unwrap();
    assert_eq!(sum, Value::Int(4 + 5 + 6 + 7));
    assert_eq!(vm.call("call_closure", &[high]).unwrap(), Value::Int(1004));
}

/// A loop making a counter per iteration from one depth (a fused call, whose frame leaves
/// without a full clean-up unless it wrote a reference or captured), each starting at `i * 10`,
/// then calling each once: every maker captured its own parameter into a new cell.
const MAKERS: &str = r#"
fn makers(n) {
    MOV r2, r0
    LDI r0, 8
    PUSHARG r0
    CALL create_array
    MOV r1, r0          // the counters
    LDI r3, 0           // i
    LDI r4, 10
    LDI r7, 1
again:
    MUL r5, r3, r4
    PUSHARG r5
    CALL make_counter
    MOV r6, r0
    PUSHARG r1
    PUSHARG r6
    CALL array_push
    PUSHARG r5
    CALL leaves_two_pending   // returns with two arguments pending: dropped on return
    ADD r3, r3, r7
    CMP r3, r2
    JMPLT again
    LDI r3, 0
    LDI r4, 0           // the sum of each counter's first count
sum:
    PUSHARG r1
    PUSHARG r3
    CALL get_field
    MOV r6, r0
    PUSHARG r6
    CALL call_closure
    ADD r4, r4, r0
    ADD r3, r3, r7
    CMP r3, r2
    JMPLT sum
    LD r0, [sp+0]       // nothing pending here: an error if the callee's arguments were kept
    RET r4
}
fn leaves_two_pending(x) {
    PUSHARG r0
    PUSHARG r0
    RET r0
}
"#;

#[test]
fn makers_called_from_one_depth_capture_their_own_cells() {
    let vm = alternate_vm();
    vm.load(stoffel::asm::assemble(MAKERS).unwrap()).unwrap();
    // Without the `LD`, the sum of (i * 10 + 1) for i in 0..5 = 105; with it, the run fails at
    // the `LD`, which saw no argument the callee left.
    let error = vm.call("makers", &[Value::Int(5)]).unwrap_err();
    assert!(error.to_string().contains("outside the 0 pending argument(s)"), "{error}");
    let without_ld = MAKERS.replace(
        "    LD r0, [sp+0]       // nothing pending here: an error if the callee's arguments were kept\n",
        "",
    );
    let vm = alternate_vm();
    vm.load(stoffel::asm::assemble(&without_ld).unwrap()).unwrap();
    assert_eq!(vm.call("makers", &[Value::Int(5)]).unwrap(), Value::Int(105));
}

#[test]
fn a_plain_function_entered_where_a_closure_ran_sees_no_upvalues() {
    let vm = alternate_vm();
    let counter = vm.call("make_counter", &[Value::Int(0)]).unwrap();
    let error = vm.call("closure_then_plain", std::slice::from_ref(&counter)).unwrap_err();
    assert!(error.to_string().contains("get_upvalue"), "{error}");
    // The counter ran once before the failure and still counts.
    assert_eq!(vm.call("call_closure", &[counter]).unwrap(), Value::Int(2));
}

#[test]
fn a_closure_the_program_dropped_is_released_when_the_run_ends() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    struct Payload(Arc<AtomicBool>);
    impl Drop for Payload {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    for entry in ["alternate", "closure_then_plain"] {
        let vm = alternate_vm();
        let dropped = Arc::new(AtomicBool::new(false));
        let payload = vm.register_foreign_object(Payload(Arc::clone(&dropped)));
        let counter = vm.call("make_counter", &[Value::Int(0)]).unwrap();
        // A closure over the payload, called by the program, and nothing else holding it.
        let holder = vm.call("make_counter", &[payload]).unwrap();
        let args = match entry {
            "alternate" => vec![counter.clone(), holder, Value::Int(0)],
            _ => vec![holder],
        };
        // `alternate` with n = 0 still calls both once; the payload is no int, so the
        // holder's `ADD` fails: the run ends with an error either way.
        assert!(vm.call(entry, &args).is_err());
        assert!(!dropped.load(Ordering::SeqCst));
        drop(args);
        assert!(dropped.load(Ordering::SeqCst), "{entry}: the payload outlived its run");
        // The VM goes on as before.
        assert_eq!(
            vm.call("call_closure", &[counter]).unwrap(),
            Value::Int(if entry == "alternate" { 2 } else { 1 })
        );
    }
}
