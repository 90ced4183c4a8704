//! Hooks: the exact event sequence of small programs for every event, priorities, enabling and
//! removing hooks (between runs and from inside a foreign function), failing hooks, the
//! `HookContext` at a breakpoint, and event counts that follow from the instruction count.

mod common;
use common::*;
use std::sync::{Arc, Mutex};
use stoffel::Instruction::*;
use stoffel::{
    CompareFlag, ErrorKind, HookContext, HookEvent, HookId, Instruction, StackFrame, VMFunction, Value,
    VirtualMachine,
};

fn int(v: i64) -> Value {
    Value::Int(v)
}

fn s(text: &str) -> Value {
    Value::from(text)
}

/// What a recording hook saw: each event's `Debug` text.
type Log = Arc<Mutex<Vec<String>>>;

/// Registers a hook (priority 0) that records the `Debug` text of every event `keep` accepts.
fn record(vm: &VirtualMachine, keep: impl Fn(&HookEvent) -> bool + Send + Sync + 'static) -> (HookId, Log) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let id = vm.register_hook(
        keep,
        move |event, _ctx| {
            sink.lock().unwrap().push(format!("{event:?}"));
            Ok(())
        },
        0,
    );
    (id, log)
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn all(_: &HookEvent) -> bool {
    true
}

fn is_instruction(event: &HookEvent) -> bool {
    matches!(event, HookEvent::BeforeInstructionExecute(_) | HookEvent::AfterInstructionExecute(_))
}

fn is_call(event: &HookEvent) -> bool {
    matches!(event, HookEvent::BeforeFunctionCall(..) | HookEvent::AfterFunctionCall(..))
}

fn is_collection(event: &HookEvent) -> bool {
    matches!(
        event,
        HookEvent::ObjectFieldRead(..)
            | HookEvent::ObjectFieldWrite(..)
            | HookEvent::ArrayElementRead(..)
            | HookEvent::ArrayElementWrite(..)
    )
}

/// Asserts the recorded sequence line by line, so a mismatch shows where it starts.
#[track_caller]
fn assert_events(actual: Vec<String>, expected: &[&str]) {
    let actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    if actual != expected {
        let first =
            actual.iter().zip(expected).position(|(a, e)| a != e).unwrap_or(actual.len().min(expected.len()));
        panic!(
            "event sequences differ from index {first}\nactual:\n  {}\nexpected:\n  {}",
            actual.join("\n  "),
            expected.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Exact event sequences
// ---------------------------------------------------------------------------------------------

#[test]
fn instruction_register_and_return_events_of_a_straight_line_program() {
    let vm =
        vm_with(vec![function("main", &[], 3, body![LDI(0, int(1)), LDI(1, int(2)), ADD(2, 0, 1), RET(2)])]);
    let (_, log) = record(&vm, all);
    assert_eq!(vm.execute("main").unwrap(), int(3));
    assert_events(
        take(&log),
        &[
            r#"BeforeFunctionCall("main", [])"#,
            "BeforeInstructionExecute(LDI(0, 1))",
            "RegisterWrite(0, (), 1)",
            "AfterInstructionExecute(LDI(0, 1))",
            "BeforeInstructionExecute(LDI(1, 2))",
            "RegisterWrite(1, (), 2)",
            "AfterInstructionExecute(LDI(1, 2))",
            "BeforeInstructionExecute(ADD(2, 0, 1))",
            "RegisterRead(0, 1)",
            "RegisterRead(1, 2)",
            "RegisterWrite(2, (), 3)",
            "AfterInstructionExecute(ADD(2, 0, 1))",
            "BeforeInstructionExecute(RET(2))",
            "RegisterRead(2, 3)",
            "AfterInstructionExecute(RET(2))",
            r#"AfterFunctionCall("main", 3)"#,
        ],
    );
}

/// main: add_to(20, 1); add_to(x, y): x = x + y; return x
fn vm_call_program() -> VirtualMachine {
    vm_with(vec![
        function(
            "main",
            &[],
            3,
            body![LDI(1, int(20)), LDI(2, int(1)), PUSHARG(1), PUSHARG(2), CALL("add_to".into()), RET(0)],
        ),
        function("add_to", &["x", "y"], 2, body![ADD(0, 0, 1), RET(0)]),
    ])
}

#[test]
fn a_vm_call_fires_stack_call_variable_and_register_events_in_order() {
    let vm = vm_call_program();
    let (_, log) = record(&vm, all);
    assert_eq!(vm.execute("main").unwrap(), int(21));
    assert_events(
        take(&log),
        &[
            r#"BeforeFunctionCall("main", [])"#,
            "BeforeInstructionExecute(LDI(1, 20))",
            "RegisterWrite(1, (), 20)",
            "AfterInstructionExecute(LDI(1, 20))",
            "BeforeInstructionExecute(LDI(2, 1))",
            "RegisterWrite(2, (), 1)",
            "AfterInstructionExecute(LDI(2, 1))",
            "BeforeInstructionExecute(PUSHARG(1))",
            "RegisterRead(1, 20)",
            "StackPush(20)",
            "AfterInstructionExecute(PUSHARG(1))",
            "BeforeInstructionExecute(PUSHARG(2))",
            "RegisterRead(2, 1)",
            "StackPush(1)",
            "AfterInstructionExecute(PUSHARG(2))",
            r#"BeforeInstructionExecute(CALL("add_to"))"#,
            // The CALL consumes its arguments, last pushed first, then calls.
            "StackPop(1)",
            "StackPop(20)",
            r#"BeforeFunctionCall("add_to", [20, 1])"#,
            "BeforeInstructionExecute(ADD(0, 0, 1))",
            "RegisterRead(0, 20)",
            r#"VariableRead("x", 20)"#,
            "RegisterRead(1, 1)",
            r#"VariableRead("y", 1)"#,
            "RegisterWrite(0, 20, 21)",
            r#"VariableWrite("x", 20, 21)"#,
            "AfterInstructionExecute(ADD(0, 0, 1))",
            "BeforeInstructionExecute(RET(0))",
            "RegisterRead(0, 21)",
            r#"VariableRead("x", 21)"#,
            "AfterInstructionExecute(RET(0))",
            r#"AfterFunctionCall("add_to", 21)"#,
            // Back in the caller: the CALL writes r0, and only then is it done.
            "RegisterWrite(0, (), 21)",
            r#"AfterInstructionExecute(CALL("add_to"))"#,
            "BeforeInstructionExecute(RET(0))",
            "RegisterRead(0, 21)",
            "AfterInstructionExecute(RET(0))",
            r#"AfterFunctionCall("main", 21)"#,
        ],
    );
}

#[test]
fn a_foreign_call_fires_the_same_call_events_as_a_vm_call() {
    let vm = vm_with(vec![function(
        "main",
        &[],
        2,
        body![LDI(0, int(6)), LDI(1, int(7)), PUSHARG(0), PUSHARG(1), CALL("mul".into()), RET(0)],
    )]);
    vm.register_fn("mul", |a: i64, b: i64| a * b);
    let (_, log) = record(&vm, all);
    assert_eq!(vm.execute("main").unwrap(), int(42));
    let events = take(&log);
    let call = events.iter().position(|e| e == r#"BeforeInstructionExecute(CALL("mul"))"#).unwrap();
    assert_events(
        events[call..].to_vec(),
        &[
            r#"BeforeInstructionExecute(CALL("mul"))"#,
            "StackPop(7)",
            "StackPop(6)",
            r#"BeforeFunctionCall("mul", [6, 7])"#,
            r#"AfterFunctionCall("mul", 42)"#,
            "RegisterWrite(0, 6, 42)",
            r#"AfterInstructionExecute(CALL("mul"))"#,
            "BeforeInstructionExecute(RET(0))",
            "RegisterRead(0, 42)",
            "AfterInstructionExecute(RET(0))",
            r#"AfterFunctionCall("main", 42)"#,
        ],
    );
    // The host calling a foreign function directly: the same pair, nothing else.
    assert_eq!(vm.call("mul", &[int(2), int(3)]).unwrap(), int(6));
    assert_events(take(&log), &[r#"BeforeFunctionCall("mul", [2, 3])"#, r#"AfterFunctionCall("mul", 6)"#]);
}

#[test]
fn a_builtin_call_writing_a_named_parameter_fires_variable_write() {
    // describe(n): n = type(n); return n
    let vm = vm_with(vec![function("describe", &["n"], 1, body![PUSHARG(0), CALL("type".into()), RET(0)])]);
    let (_, log) = record(&vm, all);
    assert_eq!(vm.call("describe", &[int(5)]).unwrap(), s("int"));
    assert_events(
        take(&log),
        &[
            r#"BeforeFunctionCall("describe", [5])"#,
            "BeforeInstructionExecute(PUSHARG(0))",
            "RegisterRead(0, 5)",
            r#"VariableRead("n", 5)"#,
            "StackPush(5)",
            "AfterInstructionExecute(PUSHARG(0))",
            r#"BeforeInstructionExecute(CALL("type"))"#,
            "StackPop(5)",
            r#"BeforeFunctionCall("type", [5])"#,
            r#"AfterFunctionCall("type", "int")"#,
            r#"RegisterWrite(0, 5, "int")"#,
            r#"VariableWrite("n", 5, "int")"#,
            r#"AfterInstructionExecute(CALL("type"))"#,
            "BeforeInstructionExecute(RET(0))",
            r#"RegisterRead(0, "int")"#,
            r#"VariableRead("n", "int")"#,
            "AfterInstructionExecute(RET(0))",
            r#"AfterFunctionCall("describe", "int")"#,
        ],
    );
}

#[test]
fn ld_mov_not_and_cmp_read_and_write_exactly_their_operands() {
    // LD reads the argument stack, not a register, and consumes nothing: no StackPop.
    let vm = vm_with(vec![
        function(
            "main",
            &[],
            3,
            body![
                LDI(0, Value::Bool(true)),
                PUSHARG(0),
                LD(1, 0),
                NOT(2, 1),
                MOV(0, 2),
                CMP(0, 1),
                CALL("unit".into()),
                RET(0),
            ],
        ),
        function("unit", &["b"], 1, body![LDI(0, Value::Unit), RET(0)]),
    ]);
    let (_, log) = record(&vm, |event| {
        matches!(
            event,
            HookEvent::RegisterRead(..)
                | HookEvent::RegisterWrite(..)
                | HookEvent::StackPush(_)
                | HookEvent::StackPop(_)
                | HookEvent::BeforeInstructionExecute(_)
        )
    });
    assert_eq!(vm.execute("main").unwrap(), Value::Unit);
    assert_events(
        take(&log),
        &[
            "BeforeInstructionExecute(LDI(0, true))",
            "RegisterWrite(0, (), true)",
            "BeforeInstructionExecute(PUSHARG(0))",
            "RegisterRead(0, true)",
            "StackPush(true)",
            "BeforeInstructionExecute(LD(1, 0))",
            "RegisterWrite(1, (), true)",
            "BeforeInstructionExecute(NOT(2, 1))",
            "RegisterRead(1, true)",
            "RegisterWrite(2, (), false)",
            "BeforeInstructionExecute(MOV(0, 2))",
            "RegisterRead(2, false)",
            "RegisterWrite(0, true, false)",
            "BeforeInstructionExecute(CMP(0, 1))",
            "RegisterRead(0, false)",
            "RegisterRead(1, true)",
            // The value LD copied is still pending: this CALL consumes it.
            r#"BeforeInstructionExecute(CALL("unit"))"#,
            "StackPop(true)",
            "BeforeInstructionExecute(LDI(0, ()))",
            "RegisterWrite(0, true, ())",
            "BeforeInstructionExecute(RET(0))",
            "RegisterRead(0, ())",
            "RegisterWrite(0, false, ())",
            "BeforeInstructionExecute(RET(0))",
            "RegisterRead(0, ())",
        ],
    );
}

#[test]
fn stack_pops_come_last_pushed_first_for_every_callee_kind() {
    let vm = vm_with(vec![
        function(
            "main",
            &[],
            4,
            body![
                LDI(1, int(1)),
                LDI(2, int(2)),
                LDI(3, int(3)),
                PUSHARG(1),
                PUSHARG(2),
                PUSHARG(3),
                CALL("sum3".into()),
                PUSHARG(1),
                PUSHARG(2),
                PUSHARG(3),
                CALL("vm_sum3".into()),
                RET(0),
            ],
        ),
        function("vm_sum3", &["a", "b", "c"], 3, body![ADD(0, 0, 1), ADD(0, 0, 2), RET(0)]),
    ]);
    vm.register_fn("sum3", |a: i64, b: i64, c: i64| a + b + c);
    let (_, log) = record(&vm, |event| matches!(event, HookEvent::StackPush(_) | HookEvent::StackPop(_)));
    assert_eq!(vm.execute("main").unwrap(), int(6));
    let expected =
        ["StackPush(1)", "StackPush(2)", "StackPush(3)", "StackPop(3)", "StackPop(2)", "StackPop(1)"];
    assert_events(take(&log), &[expected, expected].concat());
}

#[test]
fn a_foreign_function_calling_back_into_the_vm_nests_the_call_events() {
    let vm = vm_call_program();
    vm.register_foreign_function("twice", |ctx| {
        let x = ctx.args[0].clone();
        let once = ctx.call("add_to", &[x.clone(), x])?;
        ctx.call("add_to", &[once.clone(), once])
    });
    let (_, log) = record(&vm, is_call);
    assert_eq!(vm.call("twice", &[int(3)]).unwrap(), int(12));
    assert_events(
        take(&log),
        &[
            r#"BeforeFunctionCall("twice", [3])"#,
            r#"BeforeFunctionCall("add_to", [3, 3])"#,
            r#"AfterFunctionCall("add_to", 6)"#,
            r#"BeforeFunctionCall("add_to", [6, 6])"#,
            r#"AfterFunctionCall("add_to", 12)"#,
            r#"AfterFunctionCall("twice", 12)"#,
        ],
    );
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
            LDI(1, int(1)),
            ADD(1, 0, 1),
            LDI(2, s("count")),
            PUSHARG(2),
            PUSHARG(1),
            CALL("set_upvalue".into()),
            RET(1),
        ],
    )
}

/// A function `name(params…)` that returns `create_closure(target, captures…)`.
fn closure_maker(
    name: &str,
    params: &[&str],
    upvalues: &[&str],
    target: &str,
    captures: &[&str],
) -> VMFunction {
    let mut code = body![LDI(1, s(target)), PUSHARG(1)];
    for capture in captures {
        code.extend(body![LDI(1, s(capture)), PUSHARG(1)]);
    }
    code.extend(body![CALL("create_closure".into()), RET(0)]);
    closure_function(name, params, upvalues, 2, code)
}

#[test]
fn closure_creation_calls_and_upvalue_access_fire_once_each() {
    let main = function(
        "main",
        &[],
        2,
        body![
            LDI(0, int(0)),
            PUSHARG(0),
            CALL("make_counter".into()),
            MOV(1, 0),
            PUSHARG(1),
            CALL("call_closure".into()),
            PUSHARG(1),
            CALL("call_closure".into()),
            RET(0),
        ],
    );
    let vm =
        vm_with(vec![main, counter(), closure_maker("make_counter", &["count"], &[], "counter", &["count"])]);
    let (_, log) = record(&vm, |event| {
        !is_instruction(event)
            && !matches!(
                event,
                HookEvent::RegisterRead(..)
                    | HookEvent::RegisterWrite(..)
                    | HookEvent::VariableRead(..)
                    | HookEvent::VariableWrite(..)
                    | HookEvent::StackPush(_)
                    | HookEvent::StackPop(_)
            )
    });
    assert_eq!(vm.execute("main").unwrap(), int(2));
    assert_events(
        take(&log),
        &[
            r#"BeforeFunctionCall("main", [])"#,
            r#"BeforeFunctionCall("make_counter", [0])"#,
            // Capturing the parameter reads no upvalue.
            r#"BeforeFunctionCall("create_closure", ["counter", "count"])"#,
            r#"ClosureCreated("counter", <closure counter>)"#,
            r#"AfterFunctionCall("create_closure", <closure counter>)"#,
            r#"AfterFunctionCall("make_counter", <closure counter>)"#,
            // call_closure reports the closure's function, without the closure argument.
            r#"BeforeFunctionCall("counter", [])"#,
            r#"BeforeFunctionCall("get_upvalue", ["count"])"#,
            r#"UpvalueRead("count", 0)"#,
            r#"AfterFunctionCall("get_upvalue", 0)"#,
            r#"BeforeFunctionCall("set_upvalue", ["count", 1])"#,
            r#"UpvalueWrite("count", 0, 1)"#,
            r#"AfterFunctionCall("set_upvalue", ())"#,
            r#"AfterFunctionCall("counter", 1)"#,
            r#"BeforeFunctionCall("counter", [])"#,
            r#"BeforeFunctionCall("get_upvalue", ["count"])"#,
            r#"UpvalueRead("count", 1)"#,
            r#"AfterFunctionCall("get_upvalue", 1)"#,
            r#"BeforeFunctionCall("set_upvalue", ["count", 2])"#,
            r#"UpvalueWrite("count", 1, 2)"#,
            r#"AfterFunctionCall("set_upvalue", ())"#,
            r#"AfterFunctionCall("counter", 2)"#,
            r#"AfterFunctionCall("main", 2)"#,
        ],
    );
}

#[test]
fn capturing_an_upvalue_of_the_running_closure_reads_nothing() {
    // make_spawner(count) -> spawn closure; spawn() captures(count) -> counter closure over the
    // same cell, captured from spawn's own upvalue.
    let vm = vm_with(vec![
        counter(),
        closure_maker("make_spawner", &["count"], &[], "spawn", &["count"]),
        closure_maker("spawn", &[], &["count"], "counter", &["count"]),
    ]);
    let spawner = vm.call("make_spawner", &[int(5)]).unwrap();
    let (_, log) = record(&vm, |event| {
        matches!(
            event,
            HookEvent::UpvalueRead(..) | HookEvent::UpvalueWrite(..) | HookEvent::ClosureCreated(..)
        )
    });
    let child = vm.call("call_closure", &[spawner]).unwrap();
    assert_events(take(&log), &[r#"ClosureCreated("counter", <closure counter>)"#]);
    // The host calling a closure: the events of its body, once each.
    assert_eq!(vm.call("call_closure", &[child]).unwrap(), int(6));
    assert_events(take(&log), &[r#"UpvalueRead("count", 5)"#, r#"UpvalueWrite("count", 5, 6)"#]);
}

/// bump(step) captures(count): step = step + count; count = step; return step — with
/// GETUPVAL and SETUPVAL.
fn bump() -> VMFunction {
    closure_function(
        "bump",
        &["step"],
        &["count"],
        2,
        body![GETUPVAL(1, "count".into()), ADD(0, 0, 1), SETUPVAL("count".into(), 0), RET(0)],
    )
}

#[test]
fn getupval_and_setupval_fire_instruction_register_and_upvalue_events_in_order() {
    let vm = vm_with(vec![bump(), closure_maker("make_bump", &["count"], &[], "bump", &["count"])]);
    let closure = vm.call("make_bump", &[int(10)]).unwrap();
    let (_, log) = record(&vm, all);
    assert_eq!(vm.call("call_closure", &[closure, int(5)]).unwrap(), int(15));
    assert_events(
        take(&log),
        &[
            r#"BeforeFunctionCall("bump", [5])"#,
            // GETUPVAL: the upvalue read, then the register write, like a builtin's result.
            r#"BeforeInstructionExecute(GETUPVAL(1, "count"))"#,
            r#"UpvalueRead("count", 10)"#,
            "RegisterWrite(1, (), 10)",
            r#"AfterInstructionExecute(GETUPVAL(1, "count"))"#,
            "BeforeInstructionExecute(ADD(0, 0, 1))",
            "RegisterRead(0, 5)",
            r#"VariableRead("step", 5)"#,
            "RegisterRead(1, 10)",
            "RegisterWrite(0, 5, 15)",
            r#"VariableWrite("step", 5, 15)"#,
            "AfterInstructionExecute(ADD(0, 0, 1))",
            // SETUPVAL: the register read (a named parameter here), then the upvalue write.
            r#"BeforeInstructionExecute(SETUPVAL("count", 0))"#,
            "RegisterRead(0, 15)",
            r#"VariableRead("step", 15)"#,
            r#"UpvalueWrite("count", 10, 15)"#,
            r#"AfterInstructionExecute(SETUPVAL("count", 0))"#,
            "BeforeInstructionExecute(RET(0))",
            "RegisterRead(0, 15)",
            r#"VariableRead("step", 15)"#,
            "AfterInstructionExecute(RET(0))",
            r#"AfterFunctionCall("bump", 15)"#,
        ],
    );
    // GETUPVAL into a named parameter writes the variable too.
    let vm = vm_with(vec![
        closure_function("reset", &["step"], &["count"], 1, body![GETUPVAL(0, "count".into()), RET(0)]),
        closure_maker("make_reset", &["count"], &[], "reset", &["count"]),
    ]);
    let closure = vm.call("make_reset", &[int(7)]).unwrap();
    let (_, log) = record(&vm, |event| !is_instruction(event) && !is_call(event));
    assert_eq!(vm.call("call_closure", &[closure, int(1)]).unwrap(), int(7));
    assert_events(
        take(&log),
        &[
            r#"UpvalueRead("count", 7)"#,
            "RegisterWrite(0, 1, 7)",
            r#"VariableWrite("step", 1, 7)"#,
            "RegisterRead(0, 7)",
            r#"VariableRead("step", 7)"#,
        ],
    );
}

#[test]
fn the_instructions_fire_the_upvalue_events_of_the_builtins_without_their_calls() {
    // counter (builtins) and counter_op (instructions) over one cell, made in one frame.
    let counter_op = closure_function(
        "counter_op",
        &[],
        &["count"],
        2,
        body![GETUPVAL(0, "count".into()), LDI(1, int(1)), ADD(1, 0, 1), SETUPVAL("count".into(), 1), RET(1),],
    );
    let main = function(
        "main",
        &["count"],
        3,
        body![
            LDI(1, s("counter")),
            LDI(2, s("count")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("create_closure".into()),
            MOV(1, 0),
            LDI(0, s("counter_op")),
            PUSHARG(0),
            PUSHARG(2),
            CALL("create_closure".into()),
            MOV(2, 0),
            PUSHARG(1),
            CALL("call_closure".into()),
            PUSHARG(2),
            CALL("call_closure".into()),
            RET(0),
        ],
    );
    let vm = vm_with(vec![main, counter(), counter_op]);
    let (_, log) = record(&vm, |event| {
        matches!(event, HookEvent::UpvalueRead(..) | HookEvent::UpvalueWrite(..)) || is_call(event)
    });
    assert_eq!(vm.call("main", &[int(0)]).unwrap(), int(2));
    let events = take(&log);
    let op = events.iter().position(|e| e == r#"BeforeFunctionCall("counter_op", [])"#).unwrap();
    assert_events(
        events[..op].to_vec(),
        &[
            r#"BeforeFunctionCall("main", [0])"#,
            r#"BeforeFunctionCall("create_closure", ["counter", "count"])"#,
            r#"AfterFunctionCall("create_closure", <closure counter>)"#,
            r#"BeforeFunctionCall("create_closure", ["counter_op", "count"])"#,
            r#"AfterFunctionCall("create_closure", <closure counter_op>)"#,
            r#"BeforeFunctionCall("counter", [])"#,
            r#"BeforeFunctionCall("get_upvalue", ["count"])"#,
            r#"UpvalueRead("count", 0)"#,
            r#"AfterFunctionCall("get_upvalue", 0)"#,
            r#"BeforeFunctionCall("set_upvalue", ["count", 1])"#,
            r#"UpvalueWrite("count", 0, 1)"#,
            r#"AfterFunctionCall("set_upvalue", ())"#,
            r#"AfterFunctionCall("counter", 1)"#,
        ],
    );
    // The same upvalue events, with no builtin call around them.
    assert_events(
        events[op..].to_vec(),
        &[
            r#"BeforeFunctionCall("counter_op", [])"#,
            r#"UpvalueRead("count", 1)"#,
            r#"UpvalueWrite("count", 1, 2)"#,
            r#"AfterFunctionCall("counter_op", 2)"#,
            r#"AfterFunctionCall("main", 2)"#,
        ],
    );
}

#[test]
fn a_hook_failing_on_an_upvalue_event_of_an_instruction_is_located_at_it() {
    let vm = vm_with(vec![
        bump(),
        counter(),
        closure_maker("make_bump", &["count"], &[], "bump", &["count"]),
        closure_maker("make_counter", &["count"], &[], "counter", &["count"]),
    ]);
    // The hook context at the event: the instruction that fired it.
    type Seen = Vec<(Option<String>, Option<usize>, Option<Instruction>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let sink = Arc::clone(&seen);
    let id = vm.register_hook(
        |event| matches!(event, HookEvent::UpvalueRead(..) | HookEvent::UpvalueWrite(..)),
        move |_, ctx| {
            let function = ctx.function_name().map(str::to_string);
            sink.lock().unwrap().push((
                function,
                ctx.instruction_index(),
                ctx.current_instruction().cloned(),
            ));
            Ok(())
        },
        0,
    );
    let closure = vm.call("make_bump", &[int(1)]).unwrap();
    assert_eq!(vm.call("call_closure", &[closure, int(2)]).unwrap(), int(3));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Some("bump".to_string()), Some(0), Some(GETUPVAL(1, "count".into()))),
            (Some("bump".to_string()), Some(2), Some(SETUPVAL("count".into(), 0))),
        ]
    );
    vm.unregister_hook(id);
    // (which event fails, expected frames for bump, for the builtin counter)
    type Case = (fn(&HookEvent) -> bool, Vec<StackFrame>, Vec<StackFrame>);
    let cases: Vec<Case> = vec![
        (
            |e| matches!(e, HookEvent::UpvalueRead(..)),
            vec![frame("bump", Some(0))],
            vec![frame("get_upvalue", None), frame("counter", Some(2))],
        ),
        (
            |e| matches!(e, HookEvent::UpvalueWrite(..)),
            vec![frame("bump", Some(2))],
            vec![frame("set_upvalue", None), frame("counter", Some(8))],
        ),
    ];
    for (index, (fails_on, bump_frames, counter_frames)) in cases.into_iter().enumerate() {
        let bump = vm.call("make_bump", &[int(1)]).unwrap();
        let counter = vm.call("make_counter", &[int(1)]).unwrap();
        let id = vm.register_hook(fails_on, move |_, _| Err(format!("hook {index} says no").into()), 0);
        let error = vm.call("call_closure", &[bump.clone(), int(1)]).unwrap_err();
        assert_eq!(
            (error.kind(), error.message()),
            (ErrorKind::Hook, format!("hook {index} says no").as_str())
        );
        assert_eq!(error.call_stack(), bump_frames.as_slice(), "case {index}");
        assert_clean(&vm);
        let error = vm.call("call_closure", std::slice::from_ref(&counter)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Hook);
        assert_eq!(error.call_stack(), counter_frames.as_slice(), "case {index}");
        assert_clean(&vm);
        vm.unregister_hook(id);
        // Whatever the write did before its hook failed, the instruction did the same.
        let cell = |closure: &Value| match closure {
            Value::Closure(closure) => closure.upvalue("count").unwrap().get(),
            _ => panic!("expected a closure"),
        };
        assert_eq!(cell(&bump), cell(&counter), "case {index}");
    }
}

#[test]
fn object_and_array_builtins_fire_one_event_per_access_from_vm_code() {
    // main: o = {}; o.x = 1; o.x = 2; o.x; o.y; a = []; push(a, 10, 20); a[2] = 30; a[0] = 11;
    // a[1]; length(a); return [o, a]
    let vm = vm_with(vec![function(
        "main",
        &[],
        5,
        body![
            CALL("create_object".into()),
            MOV(1, 0),
            LDI(2, s("x")),
            LDI(3, int(1)),
            PUSHARG(1),
            PUSHARG(2),
            PUSHARG(3),
            CALL("set_field".into()),
            LDI(3, int(2)),
            PUSHARG(1),
            PUSHARG(2),
            PUSHARG(3),
            CALL("set_field".into()),
            PUSHARG(1),
            PUSHARG(2),
            CALL("get_field".into()),
            LDI(2, s("y")),
            PUSHARG(1),
            PUSHARG(2),
            CALL("get_field".into()),
            CALL("create_array".into()),
            MOV(4, 0),
            LDI(2, int(10)),
            LDI(3, int(20)),
            PUSHARG(4),
            PUSHARG(2),
            PUSHARG(3),
            CALL("array_push".into()),
            LDI(2, int(2)),
            LDI(3, int(30)),
            PUSHARG(4),
            PUSHARG(2),
            PUSHARG(3),
            CALL("set_field".into()),
            LDI(2, int(0)),
            LDI(3, int(11)),
            PUSHARG(4),
            PUSHARG(2),
            PUSHARG(3),
            CALL("set_field".into()),
            LDI(2, int(1)),
            PUSHARG(4),
            PUSHARG(2),
            CALL("get_field".into()),
            PUSHARG(4),
            CALL("array_length".into()),
            RET(4),
        ],
    )]);
    // Record the Debug text when the event fires: containers show their state at that moment.
    let (_, log) = record(&vm, is_collection);
    let array = vm.execute("main").unwrap();
    assert_eq!(array.to_string(), "[11, 20, 30]");
    assert_events(
        take(&log),
        &[
            r#"ObjectFieldWrite({x: 1}, "x", (), 1)"#,
            r#"ObjectFieldWrite({x: 2}, "x", 1, 2)"#,
            r#"ObjectFieldRead({x: 2}, "x", 2)"#,
            r#"ObjectFieldRead({x: 2}, "y", ())"#,
            "ArrayElementWrite([10, 20], 0, (), 10)",
            "ArrayElementWrite([10, 20], 1, (), 20)",
            "ArrayElementWrite([10, 20, 30], 2, (), 30)",
            "ArrayElementWrite([11, 20, 30], 0, 10, 11)",
            "ArrayElementRead([11, 20, 30], 1, 20)",
        ],
    );
}

#[test]
fn object_and_array_events_carry_the_container_itself() {
    let vm = VirtualMachine::new();
    let object = vm.call("create_object", &[]).unwrap();
    let seen: Arc<Mutex<Vec<HookEvent>>> = Arc::default();
    let sink = Arc::clone(&seen);
    vm.register_hook(
        is_collection,
        move |event, _| {
            sink.lock().unwrap().push(event.clone());
            Ok(())
        },
        0,
    );
    vm.call("set_field", &[object.clone(), s("k"), int(7)]).unwrap();
    let seen = seen.lock().unwrap();
    // Values compare objects by identity: the event names the very object that was written.
    assert_eq!(seen.as_slice(), &[HookEvent::ObjectFieldWrite(object, s("k"), Value::Unit, int(7))]);
}

#[test]
fn a_failing_object_or_array_access_fires_no_access_event() {
    let vm = VirtualMachine::new();
    let object = vm.call("create_object", &[]).unwrap();
    let array = vm.call("create_array", &[]).unwrap();
    vm.call("array_push", &[array.clone(), int(1)]).unwrap();
    vm.set_max_array_length(2);
    let (_, log) = record(&vm, is_collection);
    let (_, calls) = record(&vm, is_call);
    let failures: Vec<(&str, Vec<Value>, ErrorKind)> = vec![
        ("get_field", vec![array.clone(), int(1)], ErrorKind::Bounds),
        ("get_field", vec![array.clone(), int(-1)], ErrorKind::Bounds),
        ("get_field", vec![array.clone(), s("0")], ErrorKind::Type),
        ("set_field", vec![array.clone(), int(2), int(0)], ErrorKind::Bounds),
        ("set_field", vec![array.clone(), Value::Bool(false), int(0)], ErrorKind::Type),
        ("get_field", vec![object.clone(), Value::Float(1.5)], ErrorKind::Type),
        ("set_field", vec![object.clone(), Value::Unit, int(0)], ErrorKind::Type),
        ("get_field", vec![int(3), int(0)], ErrorKind::Type),
        ("array_push", vec![array.clone(), int(2), int(3)], ErrorKind::Limit),
    ];
    for (builtin, args, kind) in failures {
        let error = vm.call(builtin, &args).unwrap_err();
        assert_eq!(error.kind(), kind, "{builtin}{args:?}: {error}");
        // The call started (and failed): no access event, no AfterFunctionCall.
        assert_eq!(take(&calls).len(), 1, "{builtin}{args:?}");
    }
    assert_events(take(&log), &[]);
    // The one access that passes its checks fires exactly once.
    vm.call("set_field", &[array.clone(), int(1), int(2)]).unwrap();
    assert_events(take(&log), &["ArrayElementWrite([1, 2], 1, (), 2)"]);
}

// ---------------------------------------------------------------------------------------------
// Registration: priorities, enable / disable / unregister, changes between and during runs
// ---------------------------------------------------------------------------------------------

/// Registers a hook on `BeforeFunctionCall` that appends `name` to `order`.
fn named_hook(
    vm: &VirtualMachine,
    order: &Arc<Mutex<Vec<&'static str>>>,
    name: &'static str,
    priority: i32,
) -> HookId {
    let order = Arc::clone(order);
    vm.register_hook(
        |event| matches!(event, HookEvent::BeforeFunctionCall(..)),
        move |_, _| {
            order.lock().unwrap().push(name);
            Ok(())
        },
        priority,
    )
}

#[test]
fn higher_priority_runs_first_and_ties_keep_registration_order() {
    let vm = VirtualMachine::new();
    let order: Arc<Mutex<Vec<&str>>> = Arc::default();
    named_hook(&vm, &order, "one", 1);
    named_hook(&vm, &order, "ten-a", 10);
    named_hook(&vm, &order, "minus-five", -5);
    let ten_b = named_hook(&vm, &order, "ten-b", 10);
    named_hook(&vm, &order, "zero", 0);
    vm.call("type", &[int(1)]).unwrap();
    assert_eq!(*order.lock().unwrap(), ["ten-a", "ten-b", "one", "zero", "minus-five"]);
    // Re-enabling keeps a hook's place: order is by priority, then by registration.
    order.lock().unwrap().clear();
    vm.disable_hook(ten_b);
    vm.enable_hook(ten_b);
    named_hook(&vm, &order, "ten-c", 10);
    vm.call("type", &[int(1)]).unwrap();
    assert_eq!(*order.lock().unwrap(), ["ten-a", "ten-b", "ten-c", "one", "zero", "minus-five"]);
}

#[test]
fn enable_disable_and_unregister() {
    let vm = vm_call_program();
    let (id, log) = record(&vm, is_call);
    let expected = [
        r#"BeforeFunctionCall("main", [])"#,
        r#"BeforeFunctionCall("add_to", [20, 1])"#,
        r#"AfterFunctionCall("add_to", 21)"#,
        r#"AfterFunctionCall("main", 21)"#,
    ];
    vm.execute("main").unwrap();
    assert_events(take(&log), &expected);

    assert!(vm.disable_hook(id));
    assert!(vm.disable_hook(id), "disabling twice is fine");
    assert_eq!(vm.execute("main").unwrap(), int(21));
    assert_events(take(&log), &[]);

    assert!(vm.enable_hook(id));
    vm.execute("main").unwrap();
    assert_events(take(&log), &expected);

    assert!(vm.unregister_hook(id));
    vm.execute("main").unwrap();
    assert_events(take(&log), &[]);

    // The id is gone: every operation on it reports that.
    assert!(!vm.unregister_hook(id));
    assert!(!vm.enable_hook(id));
    assert!(!vm.disable_hook(id));
    vm.execute("main").unwrap();
    assert_events(take(&log), &[]);

    // A disabled hook does not keep the VM traced, and other hooks keep working.
    let (other, other_log) = record(&vm, is_call);
    let (muted, muted_log) = record(&vm, is_call);
    vm.disable_hook(muted);
    vm.execute("main").unwrap();
    assert_events(take(&other_log), &expected);
    assert_events(take(&muted_log), &[]);
    vm.unregister_hook(other);
    vm.unregister_hook(muted);
}

#[test]
fn ids_are_unique_and_a_stale_id_never_reaches_a_new_hook() {
    let vm = VirtualMachine::new();
    let (first, _) = record(&vm, all);
    assert!(vm.unregister_hook(first));
    let (second, second_log) = record(&vm, is_call);
    assert_ne!(first, second);
    assert!(!vm.disable_hook(first));
    vm.call("type", &[int(1)]).unwrap();
    assert_eq!(take(&second_log).len(), 2);
}

#[test]
fn hooks_added_and_removed_between_runs() {
    let vm = vm_call_program();
    assert_eq!(vm.execute("main").unwrap(), int(21));
    let (id, log) = record(&vm, |event| matches!(event, HookEvent::AfterFunctionCall(..)));
    assert_eq!(vm.execute("main").unwrap(), int(21));
    assert_events(take(&log), &[r#"AfterFunctionCall("add_to", 21)"#, r#"AfterFunctionCall("main", 21)"#]);
    vm.unregister_hook(id);
    assert_eq!(vm.execute("main").unwrap(), int(21));
    assert_events(take(&log), &[]);
}

/// main: for i in 0..5 { tick(i) }; return i
fn ticking_loop() -> VMFunction {
    function(
        "main",
        &[],
        4,
        body![
            LDI(1, int(0)),
            LDI(2, int(5)),
            LDI(3, int(1)),
            label("loop"),
            CMP(1, 2),
            JMPEQ("done".into()),
            PUSHARG(1),
            CALL("tick".into()),
            ADD(1, 1, 3),
            JMP("loop".into()),
            label("done"),
            RET(1),
        ],
    )
}

#[test]
fn a_foreign_function_adds_and_removes_a_hook_that_acts_within_the_same_run() {
    let vm = Arc::new(vm_with(vec![ticking_loop()]));
    let log: Log = Arc::default();
    let installed: Arc<Mutex<Option<HookId>>> = Arc::default();
    let handle = Arc::downgrade(&vm);
    let sink = Arc::clone(&log);
    vm.register_foreign_function("tick", move |ctx| {
        let i: i64 = ctx.arg(0)?;
        // The VM handle works here: hooks live outside the state the running program holds.
        let vm = handle.upgrade().ok_or("the VM is gone")?;
        if i == 2 {
            let sink = Arc::clone(&sink);
            let id = vm.register_hook(
                |event| matches!(event, HookEvent::BeforeInstructionExecute(_)) || is_call(event),
                move |event, ctx| {
                    let at = ctx.instruction_index().unwrap_or(usize::MAX);
                    sink.lock().unwrap().push(format!("{at}: {event:?}"));
                    Ok(())
                },
                0,
            );
            *installed.lock().unwrap() = Some(id);
        }
        if i == 4 {
            let id = installed.lock().unwrap().take().ok_or("no hook installed")?;
            assert!(vm.unregister_hook(id));
        }
        Ok(Value::Unit)
    });
    let expected = [
        // Installed during tick(2): its return is the first event, then every instruction.
        r#"6: AfterFunctionCall("tick", ())"#,
        "7: BeforeInstructionExecute(ADD(1, 1, 3))",
        r#"8: BeforeInstructionExecute(JMP("loop"))"#,
        "3: BeforeInstructionExecute(CMP(1, 2))",
        r#"4: BeforeInstructionExecute(JMPEQ("done"))"#,
        "5: BeforeInstructionExecute(PUSHARG(1))",
        r#"6: BeforeInstructionExecute(CALL("tick"))"#,
        r#"6: BeforeFunctionCall("tick", [3])"#,
        r#"6: AfterFunctionCall("tick", ())"#,
        "7: BeforeInstructionExecute(ADD(1, 1, 3))",
        r#"8: BeforeInstructionExecute(JMP("loop"))"#,
        "3: BeforeInstructionExecute(CMP(1, 2))",
        r#"4: BeforeInstructionExecute(JMPEQ("done"))"#,
        "5: BeforeInstructionExecute(PUSHARG(1))",
        r#"6: BeforeInstructionExecute(CALL("tick"))"#,
        // Removed during tick(4): nothing after.
        r#"6: BeforeFunctionCall("tick", [4])"#,
    ];
    assert_eq!(vm.execute("main").unwrap(), int(5));
    assert_events(take(&log), &expected);
    // The next run starts untraced again, and the same happens.
    assert_eq!(vm.execute("main").unwrap(), int(5));
    assert_events(take(&log), &expected);
}

#[test]
fn a_one_shot_breakpoint_disables_itself_and_the_run_finishes() {
    let vm = Arc::new(vm_with(vec![counting_loop(1000)]));
    let handle = Arc::downgrade(&vm);
    let hits: Arc<Mutex<Vec<i64>>> = Arc::default();
    let sink = Arc::clone(&hits);
    let id: Arc<Mutex<Option<HookId>>> = Arc::default();
    let own_id = Arc::clone(&id);
    let registered = vm.register_hook(
        |event| matches!(event, HookEvent::BeforeInstructionExecute(ADD(..))),
        move |_, ctx| {
            if let Some(Value::Int(i)) = ctx.register(1) {
                sink.lock().unwrap().push(*i);
                if *i == 3 {
                    let vm = handle.upgrade().ok_or("the VM is gone")?;
                    vm.disable_hook(own_id.lock().unwrap().unwrap());
                }
            }
            Ok(())
        },
        0,
    );
    *id.lock().unwrap() = Some(registered);
    assert_eq!(vm.execute("main").unwrap(), int(499_500));
    // ADD r0 and ADD r1 of iterations 0..=2, then ADD r0 of iteration 3: then it is off.
    assert_eq!(*hits.lock().unwrap(), [0, 0, 1, 1, 2, 2, 3]);
    // Enabled again for the next run.
    hits.lock().unwrap().clear();
    assert!(vm.enable_hook(registered));
    assert_eq!(vm.execute("main").unwrap(), int(499_500));
    assert_eq!(hits.lock().unwrap().len(), 7);
}

// ---------------------------------------------------------------------------------------------
// Failing hooks
// ---------------------------------------------------------------------------------------------

/// Asserts the VM holds nothing from a run.
#[track_caller]
fn assert_clean(vm: &VirtualMachine) {
    let (depth, pending) = vm.with_state(|state| (state.call_depth(), state.pending_arguments())).unwrap();
    assert_eq!((depth, pending), (0, 0));
}

fn frame(function: &str, instruction: Option<usize>) -> StackFrame {
    StackFrame { function: function.into(), instruction }
}

#[test]
fn an_erroring_hook_aborts_with_its_message_and_the_vm_stays_usable() {
    let vm = vm_call_program();
    let id = vm.register_hook(
        |event| matches!(event, HookEvent::BeforeInstructionExecute(ADD(..))),
        |_, ctx| Err(format!("breakpoint refused in {}", ctx.function_name().unwrap_or("?")).into()),
        0,
    );
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Hook);
    assert_eq!(error.message(), "breakpoint refused in add_to");
    assert_eq!(error.call_stack(), &[frame("add_to", Some(0)), frame("main", Some(4))]);
    assert_eq!(error.to_string(), "breakpoint refused in add_to (in `add_to` at instruction 0)");
    assert_clean(&vm);
    // Removed, the same program runs to the end.
    assert!(vm.unregister_hook(id));
    assert_eq!(vm.execute("main").unwrap(), int(21));
    assert_clean(&vm);
}

#[test]
fn a_failing_hook_is_located_at_the_instruction_it_observed() {
    let vm = vm_with(vec![
        counting_loop(3),
        function(
            "main2",
            &[],
            3,
            body![LDI(1, int(20)), LDI(2, int(1)), PUSHARG(1), PUSHARG(2), CALL("add_to".into()), RET(0)],
        ),
        function("add_to", &["x", "y"], 2, body![ADD(0, 0, 1), RET(0)]),
    ]);
    // (which event fails, program, expected innermost frames)
    type Case = (fn(&HookEvent) -> bool, &'static str, Vec<StackFrame>);
    let cases: Vec<Case> = vec![
        // The very first instruction.
        (
            |e| matches!(e, HookEvent::BeforeInstructionExecute(LDI(0, _))),
            "main",
            vec![frame("main", Some(0))],
        ),
        (|e| matches!(e, HookEvent::RegisterRead(1, _)), "main", vec![frame("main", Some(4))]),
        // After a taken jump: the jump itself, not the instruction before its target.
        (|e| matches!(e, HookEvent::AfterInstructionExecute(JMP(_))), "main", vec![frame("main", Some(8))]),
        (
            |e| matches!(e, HookEvent::RegisterWrite(1, _, Value::Int(2))),
            "main",
            vec![frame("main", Some(7))],
        ),
        (|e| matches!(e, HookEvent::AfterInstructionExecute(RET(_))), "main", vec![frame("main", Some(9))]),
        (|e| matches!(e, HookEvent::StackPop(_)), "main2", vec![frame("main2", Some(4))]),
        (
            |e| matches!(e, HookEvent::BeforeFunctionCall(name, _) if name == "add_to"),
            "main2",
            vec![frame("main2", Some(4))],
        ),
        (
            |e| matches!(e, HookEvent::AfterFunctionCall(name, _) if name == "add_to"),
            "main2",
            vec![frame("add_to", Some(1)), frame("main2", Some(4))],
        ),
        // Back in the caller after the callee returned: the caller's CALL.
        (
            |e| matches!(e, HookEvent::RegisterWrite(0, Value::Unit, Value::Int(21))),
            "main2",
            vec![frame("main2", Some(4))],
        ),
        (
            |e| matches!(e, HookEvent::AfterInstructionExecute(CALL(_))),
            "main2",
            vec![frame("main2", Some(4))],
        ),
    ];
    for (index, (fails_on, program, expected)) in cases.into_iter().enumerate() {
        let id = vm.register_hook(fails_on, move |_, _| Err(format!("hook {index} says no").into()), 0);
        let error = vm.execute(program).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Hook, "case {index}: {error:?}");
        assert_eq!(error.message(), format!("hook {index} says no"));
        assert_eq!(error.call_stack(), expected.as_slice(), "case {index}");
        assert_clean(&vm);
        vm.unregister_hook(id);
    }
    assert_eq!(vm.execute("main").unwrap(), int(3));
    assert_eq!(vm.execute("main2").unwrap(), int(21));
}

#[test]
fn a_hook_failing_inside_a_builtin_or_foreign_call_reaches_the_caller() {
    let vm = vm_with(vec![function(
        "main",
        &[],
        2,
        body![
            CALL("create_object".into()),
            MOV(1, 0),
            PUSHARG(1),
            LDI(0, s("missing")),
            PUSHARG(0),
            CALL("get_field".into()),
            RET(0),
        ],
    )]);
    let id = vm.register_hook(
        |event| matches!(event, HookEvent::ObjectFieldRead(..)),
        |_, _| Err("no reading".into()),
        0,
    );
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Hook);
    assert_eq!(error.message(), "no reading");
    assert_eq!(error.call_stack(), &[frame("get_field", None), frame("main", Some(5))]);
    assert_clean(&vm);
    vm.unregister_hook(id);
    assert_eq!(vm.execute("main").unwrap(), Value::Unit);

    // A foreign function's AfterFunctionCall failing: the result never arrives.
    vm.register_fn("one", || 1i64);
    let id = vm.register_hook(
        |event| matches!(event, HookEvent::AfterFunctionCall(..)),
        |_, _| Err("no returning".into()),
        0,
    );
    let error = vm.call("one", &[]).unwrap_err();
    assert_eq!((error.kind(), error.message()), (ErrorKind::Hook, "no returning"));
    vm.unregister_hook(id);
    assert_eq!(vm.call("one", &[]).unwrap(), int(1));
}

#[test]
fn a_panicking_hook_is_a_hook_error_and_the_vm_stays_usable() {
    let vm = vm_call_program();
    let id = vm.register_hook(
        |event| matches!(event, HookEvent::StackPush(Value::Int(1))),
        |_, _| panic!("hook exploded"),
        0,
    );
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Hook);
    assert_eq!(error.message(), "hook panicked: hook exploded");
    assert_eq!(error.call_stack(), &[frame("main", Some(3))]);
    assert_clean(&vm);
    vm.unregister_hook(id);
    assert_eq!(vm.execute("main").unwrap(), int(21));

    // A panicking predicate too.
    let id = vm.register_hook(|_| panic!("bad predicate"), |_, _| Ok(()), 0);
    let error = vm.execute("main").unwrap_err();
    assert_eq!((error.kind(), error.message()), (ErrorKind::Hook, "hook panicked: bad predicate"));
    vm.unregister_hook(id);
    assert_eq!(vm.execute("main").unwrap(), int(21));
}

#[test]
fn a_failing_hook_stops_lower_priority_hooks_for_that_event() {
    let vm = vm_call_program();
    let order: Arc<Mutex<Vec<&str>>> = Arc::default();
    named_hook(&vm, &order, "high", 5);
    vm.register_hook(
        |event| matches!(event, HookEvent::BeforeFunctionCall(..)),
        |_, _| Err("stop".into()),
        0,
    );
    named_hook(&vm, &order, "low", -5);
    assert_eq!(vm.execute("main").unwrap_err().message(), "stop");
    assert_eq!(*order.lock().unwrap(), ["high"]);
}

// ---------------------------------------------------------------------------------------------
// HookContext
// ---------------------------------------------------------------------------------------------

/// What a breakpoint saw.
#[derive(Debug, PartialEq)]
struct Snapshot {
    function: Option<String>,
    index: Option<usize>,
    depth: usize,
    registers: Vec<Value>,
    register_2: Option<Value>,
    register_9: Option<Value>,
    flag: Option<CompareFlag>,
    current: Option<Instruction>,
    main_call: Option<Instruction>,
    beyond: Option<Instruction>,
    unknown: Option<Instruction>,
    stack: Vec<StackFrame>,
}

fn snapshot(ctx: &HookContext<'_>) -> Snapshot {
    Snapshot {
        function: ctx.function_name().map(str::to_owned),
        index: ctx.instruction_index(),
        depth: ctx.call_depth(),
        registers: ctx.registers().to_vec(),
        register_2: ctx.register(2).cloned(),
        register_9: ctx.register(9).cloned(),
        flag: ctx.compare_flag(),
        current: ctx.current_instruction().cloned(),
        main_call: ctx.instruction_at("main", 4).cloned(),
        beyond: ctx.instruction_at("diff", 99).cloned(),
        unknown: ctx.instruction_at("nowhere", 0).cloned(),
        stack: ctx.call_stack(),
    }
}

/// main: diff(7, 3); diff(a, b): if a < b { return a }; return a - b
fn breakpoint_program() -> VirtualMachine {
    vm_with(vec![
        function(
            "main",
            &[],
            3,
            body![LDI(0, int(7)), LDI(1, int(3)), PUSHARG(0), PUSHARG(1), CALL("diff".into()), RET(0)],
        ),
        function(
            "diff",
            &["a", "b"],
            3,
            body![CMP(0, 1), JMPLT("small".into()), SUB(2, 0, 1), RET(2), label("small"), RET(0)],
        ),
    ])
}

#[test]
fn hook_context_at_a_breakpoint() {
    let vm = breakpoint_program();
    let seen: Arc<Mutex<Vec<Snapshot>>> = Arc::default();
    let sink = Arc::clone(&seen);
    // A breakpoint: `diff`, instruction 3, before it runs.
    vm.register_hook(
        |event| matches!(event, HookEvent::BeforeInstructionExecute(_)),
        move |_, ctx| {
            if ctx.function_name() == Some("diff") && ctx.instruction_index() == Some(3) {
                sink.lock().unwrap().push(snapshot(ctx));
            }
            Ok(())
        },
        0,
    );
    assert_eq!(vm.execute("main").unwrap(), int(4));
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [Snapshot {
            function: Some("diff".into()),
            index: Some(3),
            depth: 2,
            registers: vec![int(7), int(3), int(4)],
            register_2: Some(int(4)),
            register_9: None,
            flag: Some(CompareFlag::Greater),
            current: Some(RET(2)),
            main_call: Some(CALL("diff".into())),
            beyond: None,
            unknown: None,
            stack: vec![frame("diff", Some(3)), frame("main", Some(4))],
        }]
    );
}

#[test]
fn hook_context_follows_calls_returns_and_compares() {
    let vm = breakpoint_program();
    vm.register_fn("id", |v: Value| v);
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    vm.register_hook(
        |event| {
            matches!(
                event,
                HookEvent::BeforeFunctionCall(..)
                    | HookEvent::AfterFunctionCall(..)
                    | HookEvent::RegisterWrite(0, _, Value::Int(4))
                    | HookEvent::BeforeInstructionExecute(CMP(..))
                    | HookEvent::AfterInstructionExecute(CMP(..))
            )
        },
        move |event, ctx| {
            let stack: Vec<String> = ctx.call_stack().iter().map(ToString::to_string).collect();
            sink.lock().unwrap().push(format!(
                "{event:?} | {:?} {:?} depth {} flag {:?} | {}",
                ctx.function_name(),
                ctx.instruction_index(),
                ctx.call_depth(),
                ctx.compare_flag(),
                stack.join(" < ")
            ));
            Ok(())
        },
        0,
    );
    assert_eq!(vm.execute("main").unwrap(), int(4));
    assert_events(
        take(&log),
        &[
            r#"BeforeFunctionCall("main", []) | None None depth 0 flag None | "#,
            // The caller is current when a call starts...
            r#"BeforeFunctionCall("diff", [7, 3]) | Some("main") Some(4) depth 1 flag Some(Equal) | `main` at instruction 4"#,
            r#"BeforeInstructionExecute(CMP(0, 1)) | Some("diff") Some(0) depth 2 flag Some(Equal) | `diff` at instruction 0 < `main` at instruction 4"#,
            // ...a CMP's result is visible as soon as it ran...
            r#"AfterInstructionExecute(CMP(0, 1)) | Some("diff") Some(0) depth 2 flag Some(Greater) | `diff` at instruction 0 < `main` at instruction 4"#,
            // ...and the callee is current when it returns.
            r#"AfterFunctionCall("diff", 4) | Some("diff") Some(3) depth 2 flag Some(Greater) | `diff` at instruction 3 < `main` at instruction 4"#,
            r#"RegisterWrite(0, 7, 4) | Some("main") Some(4) depth 1 flag Some(Equal) | `main` at instruction 4"#,
            r#"AfterFunctionCall("main", 4) | Some("main") Some(5) depth 1 flag Some(Equal) | `main` at instruction 5"#,
        ],
    );
    // Outside any VM frame (the host calling a foreign function) the context is empty.
    vm.call("id", &[int(1)]).unwrap();
    assert_events(
        take(&log),
        &[
            r#"BeforeFunctionCall("id", [1]) | None None depth 0 flag None | "#,
            r#"AfterFunctionCall("id", 1) | None None depth 0 flag None | "#,
        ],
    );
}

#[test]
fn hook_context_registers_are_the_current_frames_window() {
    let vm = vm_call_program();
    let windows: Arc<Mutex<Vec<Vec<Value>>>> = Arc::default();
    let sink = Arc::clone(&windows);
    vm.register_hook(
        |event| matches!(event, HookEvent::BeforeInstructionExecute(RET(_))),
        move |_, ctx| {
            sink.lock().unwrap().push(ctx.registers().to_vec());
            Ok(())
        },
        0,
    );
    vm.execute("main").unwrap();
    assert_eq!(*windows.lock().unwrap(), [vec![int(21), int(1)], vec![int(21), int(20), int(1)]]);
}

// ---------------------------------------------------------------------------------------------
// Counts that follow from the instruction count
// ---------------------------------------------------------------------------------------------

/// main: sum = 0; for i in 0..n { sum += i }; return sum — 4 set-up instructions, 5 per
/// iteration (CMP, JMPEQ, ADD, ADD, JMP), 3 to leave (CMP, JMPEQ, RET).
fn counting_loop(n: i64) -> VMFunction {
    function(
        "main",
        &[],
        4,
        body![
            LDI(0, int(0)),
            LDI(1, int(0)),
            LDI(2, int(n)),
            LDI(3, int(1)),
            label("loop"),
            CMP(1, 2),
            JMPEQ("done".into()),
            ADD(0, 0, 1),
            ADD(1, 1, 3),
            JMP("loop".into()),
            label("done"),
            RET(0),
        ],
    )
}

#[derive(Default, Debug, PartialEq)]
struct Counts {
    before: usize,
    after: usize,
    reads: usize,
    writes: usize,
    other: usize,
    /// AfterInstructionExecute per instruction index (from the context).
    after_at: Vec<usize>,
}

fn count_events(vm: &VirtualMachine) -> (HookId, Arc<Mutex<Counts>>) {
    let counts: Arc<Mutex<Counts>> = Arc::default();
    let sink = Arc::clone(&counts);
    let id = vm.register_hook(
        all,
        move |event, ctx| {
            let mut counts = sink.lock().unwrap();
            match event {
                HookEvent::BeforeInstructionExecute(_) => counts.before += 1,
                HookEvent::AfterInstructionExecute(_) => {
                    counts.after += 1;
                    let at = ctx.instruction_index().unwrap_or(0);
                    if counts.after_at.len() <= at {
                        counts.after_at.resize(at + 1, 0);
                    }
                    counts.after_at[at] += 1;
                }
                HookEvent::RegisterRead(..) => counts.reads += 1,
                HookEvent::RegisterWrite(..) => counts.writes += 1,
                _ => counts.other += 1,
            }
            Ok(())
        },
        0,
    );
    (id, counts)
}

#[test]
fn event_counts_of_a_loop_follow_from_its_instruction_count() {
    for n in [0usize, 1, 2, 1000, 100_000] {
        let vm = vm_with(vec![counting_loop(n as i64)]);
        let (_, counts) = count_events(&vm);
        assert_eq!(vm.execute("main").unwrap(), int((n * n.saturating_sub(1) / 2) as i64));
        let counts = counts.lock().unwrap();
        let instructions = 4 + 5 * n + 3;
        assert_eq!(counts.before, instructions, "n = {n}");
        assert_eq!(counts.after, instructions, "n = {n}");
        // CMP and two ADDs read 2 each per iteration; the last CMP 2, RET 1.
        assert_eq!(counts.reads, 6 * n + 3, "n = {n}");
        // Four LDIs, then two ADDs per iteration.
        assert_eq!(counts.writes, 4 + 2 * n, "n = {n}");
        // BeforeFunctionCall and AfterFunctionCall of `main`.
        assert_eq!(counts.other, 2, "n = {n}");
        // Each instruction reported as itself: the body n times, the exit once.
        assert_eq!(counts.after_at, [1, 1, 1, 1, n + 1, n + 1, n, n, n, 1], "n = {n}");
    }
}

#[test]
fn the_instruction_sequence_of_a_loop_is_exact() {
    let vm = vm_with(vec![counting_loop(2)]);
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    vm.register_hook(
        is_instruction,
        move |event, ctx| {
            let side =
                if matches!(event, HookEvent::BeforeInstructionExecute(_)) { "before" } else { "after" };
            let (HookEvent::BeforeInstructionExecute(instruction)
            | HookEvent::AfterInstructionExecute(instruction)) = event
            else {
                return Err("not an instruction event".into());
            };
            // The event and the context agree on which instruction this is.
            let at = ctx.instruction_index().unwrap();
            assert_eq!(ctx.current_instruction(), Some(instruction));
            sink.lock().unwrap().push(format!("{side} {at} {instruction}"));
            Ok(())
        },
        0,
    );
    assert_eq!(vm.execute("main").unwrap(), int(1));
    let mut expected = Vec::new();
    let program = [
        "LDI r0, 0",
        "LDI r1, 0",
        "LDI r2, 2",
        "LDI r3, 1",
        "CMP r1, r2",
        "JMPEQ done",
        "ADD r0, r0, r1",
        "ADD r1, r1, r3",
        "JMP loop",
        "RET r0",
    ];
    for index in [0, 1, 2, 3, 4, 5, 6, 7, 8, 4, 5, 6, 7, 8, 4, 5, 9] {
        expected.push(format!("before {index} {}", program[index]));
        expected.push(format!("after {index} {}", program[index]));
    }
    assert_events(take(&log), &expected.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn a_jump_back_to_the_first_instruction_is_reported_as_the_jump() {
    // countdown(n): top: if n == 0 { return n }; n = n - 1; goto top
    let vm = vm_with(vec![function(
        "countdown",
        &["n"],
        2,
        body![
            label("top"),
            LDI(1, int(0)),
            CMP(0, 1),
            JMPEQ("done".into()),
            LDI(1, int(1)),
            SUB(0, 0, 1),
            JMP("top".into()),
            label("done"),
            RET(0),
        ],
    )]);
    let (_, log) = record(&vm, |event| matches!(event, HookEvent::AfterInstructionExecute(JMP(_) | LDI(..))));
    assert_eq!(vm.call("countdown", &[int(2)]).unwrap(), int(0));
    let round = [
        "AfterInstructionExecute(LDI(1, 0))",
        "AfterInstructionExecute(LDI(1, 1))",
        r#"AfterInstructionExecute(JMP("top"))"#,
    ];
    assert_events(take(&log), &[&round[..], &round[..], &round[..1]].concat());
}

#[test]
fn recursion_fires_one_call_pair_per_call() {
    let vm = vm_with(vec![fib()]);
    let (_, counts) = count_events(&vm);
    let calls: Arc<Mutex<usize>> = Arc::default();
    let returns: Arc<Mutex<usize>> = Arc::default();
    let (c, r) = (Arc::clone(&calls), Arc::clone(&returns));
    vm.register_hook(
        is_call,
        move |event, _| {
            match event {
                HookEvent::BeforeFunctionCall(name, _) if name == "fib" => *c.lock().unwrap() += 1,
                HookEvent::AfterFunctionCall(name, _) if name == "fib" => *r.lock().unwrap() += 1,
                _ => {}
            }
            Ok(())
        },
        0,
    );
    assert_eq!(vm.call("fib", &[int(10)]).unwrap(), int(55));
    // fib(10) makes 177 calls, counting the first.
    assert_eq!((*calls.lock().unwrap(), *returns.lock().unwrap()), (177, 177));
    let counts = counts.lock().unwrap();
    assert_eq!(counts.before, counts.after);
    // Leaves (n < 2): 89 calls of 4 instructions; inner nodes: 88 calls of 15.
    assert_eq!(counts.before, 89 * 4 + 88 * 15);
}

fn fib() -> VMFunction {
    function(
        "fib",
        &["n"],
        4,
        body![
            LDI(1, int(2)),
            CMP(0, 1),
            JMPLT("done".into()),
            MOV(3, 0),
            LDI(1, int(1)),
            SUB(2, 3, 1),
            PUSHARG(2),
            CALL("fib".into()),
            MOV(2, 0),
            LDI(1, int(2)),
            SUB(1, 3, 1),
            PUSHARG(1),
            CALL("fib".into()),
            ADD(0, 2, 0),
            label("done"),
            RET(0),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

#[test]
fn hook_events_are_clone_and_debug_and_ids_are_copy() {
    fn assert_clone_debug<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    fn assert_copy<T: Copy + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync>() {}
    assert_clone_debug::<HookEvent>();
    assert_copy::<HookId>();

    let event = HookEvent::RegisterWrite(3, Value::Unit, s("hi"));
    let copy = event.clone();
    assert_eq!(copy, event);
    assert_eq!(format!("{copy:?}"), r#"RegisterWrite(3, (), "hi")"#);
    assert_eq!(
        format!("{:?}", HookEvent::BeforeFunctionCall("fib".into(), vec![int(5), Value::Float(1.0)])),
        r#"BeforeFunctionCall("fib", [5, 1.0])"#
    );
    assert_eq!(
        format!("{:?}", HookEvent::AfterFunctionCall("fib".into(), int(5))),
        r#"AfterFunctionCall("fib", 5)"#
    );
    assert_eq!(
        format!("{:?}", HookEvent::BeforeInstructionExecute(CALL("fib".into()))),
        r#"BeforeInstructionExecute(CALL("fib"))"#
    );
    assert_eq!(
        format!("{:?}", HookEvent::VariableWrite("n".into(), int(1), int(2))),
        r#"VariableWrite("n", 1, 2)"#
    );

    let vm = VirtualMachine::new();
    let id = vm.register_hook(|_| false, |_, _| Ok(()), 0);
    let copied = id;
    assert!(vm.unregister_hook(id));
    assert!(!vm.unregister_hook(copied));
}

/// A call that wrote no reference leaves its registers as they are on return (see
/// `exec/assigned.rs`); when hooks come on in the middle of the next call, the registers it has
/// not written yet must show unit, as they would had every call reset its registers.
#[test]
fn hooks_turned_on_mid_call_see_registers_not_yet_written_as_unit() {
    let vm = Arc::new(VirtualMachine::new());
    vm.load(
        stoffel::asm::assemble(
            r#"
            fn main(x) {
                PUSHARG r0
                CALL writer         // leaves 99 and 98 where probe's r1 and r2 will be
                PUSHARG r0
                CALL probe
                RET r0
            }
            fn writer(x) {
                LDI r1, 99
                LDI r2, 98
                RET r1
            }
            fn probe(x) {
                PUSHARG r0
                CALL hooks_on       // a hook from now on
                LDI r1, 5
                ADD r2, r1, r1
                RET r2
            }
            "#,
        )
        .unwrap(),
    )
    .unwrap();
    let log: Log = Arc::default();
    let seen: Arc<Mutex<Vec<Option<Value>>>> = Arc::default();
    let handle = Arc::downgrade(&vm);
    let (sink, registers) = (Arc::clone(&log), Arc::clone(&seen));
    vm.register_foreign_function("hooks_on", move |_ctx| {
        let vm = handle.upgrade().ok_or("the VM is gone")?;
        let (sink, registers) = (Arc::clone(&sink), Arc::clone(&registers));
        vm.register_hook(
            |event| {
                matches!(event, HookEvent::RegisterWrite(..) | HookEvent::BeforeInstructionExecute(LDI(..)))
            },
            move |event, ctx| {
                if let HookEvent::BeforeInstructionExecute(_) = event {
                    registers.lock().unwrap().push(ctx.register(2).cloned());
                } else {
                    sink.lock().unwrap().push(format!("{event:?}"));
                }
                Ok(())
            },
            0,
        );
        Ok(Value::Unit)
    });
    assert_eq!(vm.call("main", &[int(1)]).unwrap(), int(10));
    assert_eq!(*seen.lock().unwrap(), [Some(Value::Unit)], "r2 before `LDI r1, 5`");
    assert_events(
        take(&log),
        &[
            // Not 99 and 98, what `writer` left there.
            "RegisterWrite(1, (), 5)",
            "RegisterWrite(2, (), 10)",
            // main's r0: writer's result, then probe's.
            "RegisterWrite(0, 99, 10)",
        ],
    );
}

#[test]
fn a_hook_enabled_mid_loop_sees_each_loop_top_and_kept_result_once() {
    // The plain loop runs a counted loop's first `ADD` from the back edge and a `MOV` keeping a
    // host call's result right after the call. A hook a host function enables mid-loop must
    // see each of them exactly once from then on, and the run must compute what it would have.
    let program = stoffel::asm::assemble(
        r#"
        fn main() registers(6) {
            LDI r1, 0               // 0: total
            LDI r2, 0               // 1: i
            LDI r3, 1               // 2
            LDI r4, 10              // 3: n
        again:
            ADD r1, r1, r2          // 4: the loop's first instruction
            PUSHARG r2              // 5
            CALL switch_on          // 6: enables the hook at i == 5
            MOV r5, r0              // 7: the result kept
            ADD r2, r2, r3          // 8
            CMP r2, r4              // 9
            JMPLT again             // 10
            RET r1                  // 11
        }
        "#,
    )
    .unwrap();
    let vm = Arc::new(VirtualMachine::new());
    vm.load(program).unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let id = vm.register_hook(
        |event| matches!(event, HookEvent::BeforeInstructionExecute(ADD(1, 1, 2) | MOV(5, 0))),
        move |event, ctx| {
            let i = ctx.register(2).cloned().unwrap_or(Value::Unit);
            sink.lock().unwrap().push(format!("{event:?} at i = {i}"));
            Ok(())
        },
        0,
    );
    assert!(vm.disable_hook(id));
    let handle = Arc::downgrade(&vm);
    vm.register_fn("switch_on", move |i: i64| -> Result<i64, String> {
        if i == 5 {
            let vm = handle.upgrade().ok_or("the VM is gone")?;
            vm.enable_hook(id);
        }
        Ok(i * 2)
    });
    assert_eq!(vm.execute("main").unwrap(), int(45));
    let expected: Vec<String> = (5..10)
        .flat_map(|i| {
            // Enabled during the call of iteration 5: its MOV is the first event.
            let top = (i > 5).then(|| format!("BeforeInstructionExecute(ADD(1, 1, 2)) at i = {i}"));
            top.into_iter().chain([format!("BeforeInstructionExecute(MOV(5, 0)) at i = {i}")])
        })
        .collect();
    assert_eq!(*seen.lock().unwrap(), expected);
}
