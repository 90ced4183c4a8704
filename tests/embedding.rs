//! The embedding API: raw and typed foreign functions, foreign objects, re-entrant calls,
//! threads sharing one VM, loading programs atomically, limits and memory reclamation.

mod common;
use common::*;
use std::sync::{Arc, Mutex};
use stoffel::Instruction::*;
use stoffel::{Error, ErrorKind, Program, Value, VirtualMachine};

fn int(v: i64) -> Value {
    Value::Int(v)
}

#[derive(Debug)]
struct Counter {
    n: i64,
}

struct Other;

#[test]
fn raw_foreign_functions_get_arguments_and_return_errors() {
    let vm = VirtualMachine::new();
    vm.register_foreign_function("sum", |ctx| {
        let mut total = 0i64;
        for index in 0..ctx.args.len() {
            total += ctx.arg::<i64>(index)?;
        }
        Ok(Value::Int(total))
    });
    vm.register_foreign_function("fail", |_ctx| Err("it failed".into()));
    assert_eq!(vm.call("sum", &[int(1), int(2), int(3)]).unwrap(), int(6));
    let error = vm.call("sum", &[int(1), Value::from("x")]).unwrap_err();
    assert_eq!(error.message(), "argument 2 of `sum`: expected int, found string");
    let error = vm.call("fail", &[]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Foreign);
    assert_eq!(error.message(), "it failed");
    assert_eq!(error.call_stack()[0].function, "fail");
    assert_eq!(error.call_stack()[0].instruction, None);
}

#[test]
fn a_panicking_foreign_function_is_an_error_and_the_vm_survives() {
    let vm = vm_with(vec![function("main", &[], 1, body![CALL("boom".into()), RET(0)])]);
    vm.register_foreign_function("boom", |_ctx| panic!("kaboom"));
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Foreign);
    assert_eq!(error.message(), "foreign function `boom` panicked: kaboom");
    assert_eq!(error.call_stack()[1].function, "main");
    vm.register_fn("boom", || 1i64);
    assert_eq!(vm.execute("main").unwrap(), int(1));
}

#[test]
fn typed_register_fn_converts_and_checks_arity() {
    let vm = VirtualMachine::new();
    vm.register_fn("add", |a: i64, b: i64| a + b);
    vm.register_fn("div", |a: i64, b: i64| if b == 0 { Err("divide by zero") } else { Ok(a / b) });
    vm.register_fn("greet", |name: String, punctuation: Option<String>| {
        format!("hello {name}{}", punctuation.unwrap_or_default())
    });
    assert_eq!(vm.call("add", &[int(2), int(3)]).unwrap(), int(5));
    assert_eq!(
        vm.call("add", &[int(2), Value::from("x")]).unwrap_err().message(),
        "argument 2 of `add`: expected int, found string"
    );
    assert_eq!(vm.call("add", &[int(2)]).unwrap_err().message(), "`add` takes 2 arguments, but 1 was given");
    assert_eq!(vm.call("div", &[int(7), int(0)]).unwrap_err().message(), "divide by zero");
    assert_eq!(vm.call("greet", &[Value::from("ada")]).unwrap(), Value::from("hello ada"));
    assert_eq!(vm.call("greet", &[Value::from("ada"), Value::from("!")]).unwrap(), Value::from("hello ada!"));
    assert_eq!(
        vm.call("greet", &[]).unwrap_err().message(),
        "`greet` takes 1 to 2 arguments, but 0 were given"
    );
}

#[test]
fn foreign_objects_round_trip_typed() {
    let vm = VirtualMachine::new();
    let counter = vm.register_foreign_object(Counter { n: 0 });
    vm.register_foreign_function("bump", |ctx| {
        let counter = ctx.foreign_object::<Counter>(&ctx.args[0])?;
        let mut counter = counter.lock().unwrap();
        counter.n += 1;
        Ok(Value::Int(counter.n))
    });
    assert_eq!(vm.call("bump", std::slice::from_ref(&counter)).unwrap(), int(1));
    assert_eq!(vm.call("bump", std::slice::from_ref(&counter)).unwrap(), int(2));
    let typed: Arc<Mutex<Counter>> = vm.foreign_object::<Counter>(&counter).unwrap();
    assert_eq!(typed.lock().unwrap().n, 2);
    // The wrong type, and a value that is not foreign at all.
    let other = vm.register_foreign_object(Other);
    let error = vm.call("bump", std::slice::from_ref(&other)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Type);
    assert!(error.message().contains("found foreign object"), "{error}");
    assert!(error.message().contains("Other"), "{error}");
    assert_eq!(vm.foreign_object::<Counter>(&int(1)).unwrap_err().kind(), ErrorKind::Type);
    assert!(vm.foreign_object::<Other>(&other).is_ok());
    assert_eq!(counter.to_string(), format!("<foreign {}>", std::any::type_name::<Counter>()));
}

#[test]
fn foreign_functions_call_back_into_the_vm() {
    let vm = vm_with(vec![
        function("double", &["x"], 1, body![ADD(0, 0, 0), RET(0)]),
        // main(): twice(double, 5) → calls into the host, which calls `double` twice.
        function(
            "main",
            &[],
            2,
            body![
                LDI(0, Value::from("double")),
                LDI(1, int(5)),
                PUSHARG(0),
                PUSHARG(1),
                CALL("twice".into()),
                RET(0),
            ],
        ),
    ]);
    vm.register_foreign_function("twice", |ctx| {
        let name: String = ctx.arg(0)?;
        let once = ctx.call(&name, &[ctx.args[1].clone()])?;
        ctx.call(&name, &[once])
    });
    assert_eq!(vm.execute("main").unwrap(), int(20));
    // Calling the VM handle itself from inside is refused with an error, never a deadlock.
    let vm = Arc::new(vm);
    let inner = Arc::clone(&vm);
    vm.register_foreign_function("direct", move |_ctx| inner.call("double", &[int(1)]));
    let error = vm.call("direct", &[]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Usage);
    // Registering a function from inside a foreign function, then calling it.
    vm.register_foreign_function("define", |ctx| {
        ctx.register_function(function("seven", &[], 1, body![LDI(0, int(7)), RET(0)]))?;
        ctx.call("seven", &[])
    });
    assert_eq!(vm.call("define", &[]).unwrap(), int(7));
    assert_eq!(vm.execute("seven").unwrap(), int(7));
}

#[test]
fn errors_inside_re_entrant_calls_reach_the_host_and_leave_the_vm_clean() {
    let vm = vm_with(vec![
        function("bad", &[], 2, body![LDI(0, int(1)), LDI(1, int(0)), DIV(0, 0, 1), RET(0)]),
        function("main", &[], 1, body![CALL("outer".into()), RET(0)]),
    ]);
    vm.register_foreign_function("outer", |ctx| ctx.call("bad", &[]));
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.message(), "division by zero in DIV");
    let names: Vec<&str> = error.call_stack().iter().map(|f| f.function.as_str()).collect();
    assert_eq!(names, ["bad", "main"]);
    vm.with_state(|state| {
        assert_eq!(state.call_depth(), 0);
        assert_eq!(state.pending_arguments(), 0);
    })
    .unwrap();
    vm.register_foreign_function("outer", |ctx| ctx.call("missing", &[]));
    assert_eq!(vm.execute("main").unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn four_threads_share_one_vm() {
    let square = function("square", &["x"], 1, body![MUL(0, 0, 0), RET(0)]);
    let vm = Arc::new(vm_with(vec![square]));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let vm = Arc::clone(&vm);
            std::thread::spawn(move || {
                for i in 0..1000i64 {
                    let x = t * 1000 + i;
                    assert_eq!(vm.call("square", &[Value::Int(x)]).unwrap(), Value::Int(x * x));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn load_registers_a_program_or_nothing() {
    let vm = VirtualMachine::new();
    let good = function("good", &[], 1, body![LDI(0, int(1)), RET(0)]);
    let bad = function("bad", &[], 1, body![MOV(0, 3), RET(0)]);
    let error = vm.load(Program::new(vec![good.clone(), bad])).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Validation);
    assert!(error.message().contains("uses r3"), "{error}");
    assert_eq!(vm.execute("good").unwrap_err().kind(), ErrorKind::NotFound);
    let twice = vm.load(Program::new(vec![good.clone(), good.clone()])).unwrap_err();
    assert!(twice.message().contains("defined twice"), "{twice}");
    vm.load(Program::new(vec![good])).unwrap();
    assert_eq!(vm.execute("good").unwrap(), int(1));
    // A rejected replacement leaves the old function in place.
    assert!(vm.register_function(function("good", &[], 0, body![RET(0)])).is_err());
    assert_eq!(vm.execute("good").unwrap(), int(1));
}

/// churn(n): for i in 0..n { r0 = create_array() } — each array dropped when r0 is overwritten.
fn churn() -> stoffel::VMFunction {
    function(
        "churn",
        &["n"],
        4,
        body![
            MOV(3, 0),
            LDI(1, int(0)),
            LDI(2, int(1)),
            label("loop"),
            CMP(1, 3),
            JMPEQ("end".into()),
            CALL("create_array".into()),
            ADD(1, 1, 2),
            JMP("loop".into()),
            label("end"),
            RET(1),
        ],
    )
}

#[test]
fn ten_million_temporary_arrays_keep_memory_flat() {
    let vm = vm_with(vec![churn()]);
    // If arrays were not reclaimed, the cap would stop the loop.
    vm.set_max_live_objects(16);
    assert_eq!(vm.call("churn", &[int(10_000_000)]).unwrap(), int(10_000_000));
    assert_eq!(vm.object_store().live_objects(), 0);
    assert!(vm.object_store().created_objects() >= 10_000_000);
}

#[test]
fn the_live_object_cap_stops_a_leaking_program() {
    let hoard = function(
        "hoard",
        &[],
        3,
        body![
            CALL("create_array".into()),
            MOV(1, 0),
            label("loop"),
            CALL("create_object".into()),
            MOV(2, 0),
            PUSHARG(1),
            PUSHARG(2),
            CALL("array_push".into()),
            JMP("loop".into()),
        ],
    );
    let vm = vm_with(vec![hoard]);
    vm.set_max_live_objects(1000);
    let error = vm.execute("hoard").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Limit);
    assert_eq!(error.message(), "live object limit of 1000 reached");
    // Everything the failed run held was released.
    assert_eq!(vm.object_store().live_objects(), 0);
}

#[test]
fn fuel_stops_an_infinite_loop_and_can_be_refilled() {
    let vm = vm_with(vec![
        function("spin", &[], 1, body![label("top"), JMP("top".into())]),
        function("short", &[], 1, body![LDI(0, int(1)), RET(0)]),
    ]);
    vm.set_fuel(Some(10_000));
    let error = vm.execute("spin").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Limit);
    assert!(error.message().contains("out of fuel"), "{error}");
    assert_eq!(vm.fuel(), Some(0));
    vm.set_fuel(Some(2));
    assert_eq!(vm.execute("short").unwrap(), int(1));
    assert_eq!(vm.fuel(), Some(0));
    assert_eq!(vm.execute("short").unwrap_err().kind(), ErrorKind::Limit);
    vm.set_fuel(None);
    assert_eq!(vm.execute("short").unwrap(), int(1));
    // Foreign functions can charge fuel.
    vm.register_foreign_function("expensive", |ctx| {
        ctx.consume_fuel(100)?;
        Ok(Value::Unit)
    });
    vm.set_fuel(Some(150));
    vm.execute("expensive").unwrap();
    assert_eq!(vm.execute("expensive").unwrap_err().kind(), ErrorKind::Limit);
}

#[test]
fn fuel_counts_every_instruction_even_when_fused() {
    // countdown(n): 2 setup instructions, 3 per iteration (SUB, CMP, JMPGT), then RET.
    let countdown = function(
        "countdown",
        &["n"],
        2,
        body![LDI(1, int(1)), label("top"), SUB(0, 0, 1), CMP(0, 1), JMPGT("top".into()), RET(0),],
    );
    let vm = vm_with(vec![countdown]);
    let exact = 1 + 3 * 10 + 1 - 3; // n = 10 runs the body 9 times: n goes 9, 8, ..., 1
    vm.set_fuel(Some(exact));
    assert_eq!(vm.call("countdown", &[int(10)]).unwrap(), int(1));
    assert_eq!(vm.fuel(), Some(0));
    vm.set_fuel(Some(exact - 1));
    assert_eq!(vm.call("countdown", &[int(10)]).unwrap_err().kind(), ErrorKind::Limit);
}

/// Runs `run` on another thread, interrupts it after 50 ms and returns its error, asserting
/// that the interrupt took effect within half a second.
fn interrupted_after_50_ms(
    vm: &Arc<VirtualMachine>,
    run: impl FnOnce(&VirtualMachine) -> Result<Value, Error> + Send + 'static,
) -> Error {
    let handle = vm.interrupt_handle();
    let runner = {
        let vm = Arc::clone(vm);
        std::thread::spawn(move || run(&vm))
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    let asked = std::time::Instant::now();
    handle.interrupt();
    let error = runner.join().unwrap().unwrap_err();
    assert!(asked.elapsed() < std::time::Duration::from_millis(500));
    assert_eq!(error.kind(), ErrorKind::Interrupted);
    error
}

#[test]
fn another_thread_can_interrupt_a_running_program() {
    let vm = Arc::new(vm_with(vec![function("spin", &[], 1, body![label("top"), JMP("top".into())])]));
    interrupted_after_50_ms(&vm, |vm| vm.execute("spin"));
    // The next run is not affected.
    vm.register_function(function("one", &[], 1, body![LDI(0, int(1)), RET(0)])).unwrap();
    assert_eq!(vm.execute("one").unwrap(), int(1));
}

#[test]
fn an_interrupt_stops_a_recursion_that_runs_no_loop() {
    // Naive fib(40): hundreds of millions of calls and no backward jump. Returns poll for the
    // interrupt (calls need not: a run that goes on returns, or meets the depth limit).
    let vm = Arc::new(VirtualMachine::new());
    vm.load(stoffel::asm::assemble(include_str!("../benches/programs/fib.stf")).unwrap()).unwrap();
    let error = interrupted_after_50_ms(&vm, |vm| vm.call("fib", &[int(40)]));
    // Located at a CALL of fib, the one whose callee just returned.
    let innermost = error.call_stack().first().expect("a located error");
    assert_eq!(innermost.function, "fib");
    assert!(matches!(innermost.instruction, Some(7 | 12)), "{:?}", error.call_stack());
    assert_eq!(vm.call("fib", &[int(10)]).unwrap(), int(55), "the next run is not affected");
}

#[test]
fn a_frame_goes_on_with_its_registers_after_a_foreign_call_that_grew_the_register_stack() {
    // `host` calls back into `big`, whose 4,000 registers make the register stack grow (and
    // move): `main` must find its own registers again after the call, in a loop.
    let vm = VirtualMachine::new();
    vm.load(
        stoffel::asm::assemble(
            "fn main() {
                LDI r1, 5
                LDI r2, 6
                LDI r3, 0           // i
                LDI r4, 3
                LDI r5, 0           // total
            again:
                PUSHARG r1
                PUSHARG r2
                CALL host           // 5 + 6 + big() = 111
                ADD r5, r5, r0
                ADD r5, r5, r1      // r1 and r2 are still main's
                ADD r5, r5, r2
                LDI r6, 1
                ADD r3, r3, r6
                CMP r3, r4
                JMPLT again
                RET r5
            }
            fn big() registers(4000) {
                LDI r3999, 100
                RET r3999
            }",
        )
        .unwrap(),
    )
    .unwrap();
    vm.register_foreign_function("host", |ctx| {
        let (a, b): (i64, i64) = (ctx.arg(0)?, ctx.arg(1)?);
        let Value::Int(big) = ctx.call("big", &[])? else { return Err("big returns an int".into()) };
        Ok(Value::Int(a + b + big))
    });
    assert_eq!(vm.execute("main").unwrap(), int(3 * (111 + 11)));
}

#[test]
fn errors_are_send_sync_and_clone() {
    fn check<T: std::error::Error + Send + Sync + Clone + 'static>(_: &T) {}
    let error: Error = "x".into();
    check(&error);
}
