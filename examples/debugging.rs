//! Debugging with hooks: an instruction tracer, a breakpoint that shows the call stack and the
//! registers, and a call/instruction profiler — all on a small recursive `fib`.
//!
//! Run with `cargo run --example debugging`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use stoffel::Instruction::*;
use stoffel::{Error, HookEvent, Instruction, VMFunction, Value, VirtualMachine};

/// A VM function from its instructions; `labels` names instruction indices.
fn function(
    name: &str,
    params: &[&str],
    registers: usize,
    labels: &[(&str, usize)],
    instructions: Vec<Instruction>,
) -> VMFunction {
    VMFunction::new(
        name,
        params.iter().map(|p| p.to_string()).collect(),
        vec![],
        None,
        registers,
        instructions,
        labels.iter().map(|(label, at)| (label.to_string(), *at)).collect::<HashMap<_, _>>(),
    )
}

/// fib(n): n < 2 ? n : fib(n - 1) + fib(n - 2); main: print("fib(5) =", fib(5)).
fn load(vm: &VirtualMachine) -> Result<(), Error> {
    vm.register_function(function(
        "fib",
        &["n"],
        4,
        &[("done", 14)],
        vec![
            LDI(1, Value::Int(2)),
            CMP(0, 1),
            JMPLT("done".into()),
            MOV(3, 0), // keep n: CALL overwrites r0
            LDI(1, Value::Int(1)),
            SUB(2, 3, 1),
            PUSHARG(2),
            CALL("fib".into()),
            MOV(2, 0),
            LDI(1, Value::Int(2)),
            SUB(1, 3, 1),
            PUSHARG(1),
            CALL("fib".into()),
            ADD(0, 2, 0), // 13: fib(n - 1) + fib(n - 2)
            RET(0),
        ],
    ))?;
    vm.register_function(function(
        "main",
        &[],
        2,
        &[],
        vec![
            LDI(0, Value::Int(5)),
            PUSHARG(0),
            CALL("fib".into()),
            LDI(1, Value::from("fib(5) =")),
            PUSHARG(1),
            PUSHARG(0),
            CALL("print".into()),
            RET(0),
        ],
    ))
}

/// (1) Prints every executed instruction with the registers it wrote, indented by call depth.
/// A `CALL` of a VM function is printed when it starts and again when the callee returned.
fn trace(vm: &VirtualMachine) -> Result<(), Error> {
    println!("== tracer: fib(3)\n");
    let writes: Arc<Mutex<Vec<String>>> = Arc::default();
    let tracer = vm.register_hook(
        |event| {
            matches!(
                event,
                HookEvent::BeforeInstructionExecute(CALL(_))
                    | HookEvent::AfterInstructionExecute(_)
                    | HookEvent::RegisterWrite(..)
            )
        },
        move |event, ctx| {
            let mut writes = writes.lock().unwrap();
            let line = |note: &str| {
                let indent = "  ".repeat(ctx.call_depth().saturating_sub(1));
                let function = ctx.function_name().unwrap_or("?");
                let index = ctx.instruction_index().unwrap_or(0);
                let instruction = ctx.current_instruction().map(ToString::to_string).unwrap_or_default();
                let place = format!("{function}:{index}");
                println!("{}", format!("{indent}{place:<7} {instruction:<16} {note}").trim_end());
            };
            match event {
                HookEvent::RegisterWrite(register, _old, new) => {
                    writes.push(format!("r{register} = {new:?}"))
                }
                HookEvent::BeforeInstructionExecute(_) => line("..."),
                _ => line(&writes.join(", ")),
            }
            // Each write belongs to the instruction that completes next.
            if matches!(event, HookEvent::AfterInstructionExecute(_)) {
                writes.clear();
            }
            Ok(())
        },
        0,
    );
    let result = vm.call("fib", &[Value::Int(3)])?;
    vm.unregister_hook(tracer);
    println!("\nfib(3) = {result}\n");
    Ok(())
}

/// (2) Stops at `fib`, instruction 13 (the addition) and prints the call stack and the
/// registers of the first hit; counts the others.
fn breakpoint(vm: &VirtualMachine) -> Result<(), Error> {
    const FUNCTION: &str = "fib";
    const INDEX: usize = 13;
    println!("== breakpoint at {FUNCTION}:{INDEX}\n");
    let hits = Arc::new(Mutex::new(0usize));
    let counter = Arc::clone(&hits);
    let id = vm.register_hook(
        |event| matches!(event, HookEvent::BeforeInstructionExecute(_)),
        move |_, ctx| {
            if ctx.function_name() != Some(FUNCTION) || ctx.instruction_index() != Some(INDEX) {
                return Ok(());
            }
            let mut hits = counter.lock().unwrap();
            *hits += 1;
            if *hits > 1 {
                return Ok(());
            }
            let instruction =
                ctx.instruction_at(FUNCTION, INDEX).map(ToString::to_string).unwrap_or_default();
            println!("hit: {FUNCTION}:{INDEX} `{instruction}` at call depth {}", ctx.call_depth());
            println!("call stack, innermost first:");
            for frame in ctx.call_stack() {
                let index = frame.instruction.unwrap_or(0);
                let at =
                    ctx.instruction_at(&frame.function, index).map(ToString::to_string).unwrap_or_default();
                let place = format!("{}:{index}", frame.function);
                println!("  {place:<7} {at}");
            }
            let registers: Vec<String> =
                ctx.registers().iter().enumerate().map(|(i, value)| format!("r{i} = {value:?}")).collect();
            println!("registers: {}", registers.join(", "));
            println!("compare flag: {:?}", ctx.compare_flag().expect("inside a VM frame"));
            Ok(())
        },
        0,
    );
    vm.execute("main")?;
    vm.unregister_hook(id);
    println!("the breakpoint was hit {} times\n", hits.lock().unwrap());
    Ok(())
}

#[derive(Default)]
struct Profile {
    calls: u64,
    instructions: u64,
}

/// (3) Counts calls (VM, builtin and foreign alike) and executed instructions per function.
fn profile(vm: &VirtualMachine) -> Result<(), Error> {
    println!("== profiler: main\n");
    let table: Arc<Mutex<BTreeMap<String, Profile>>> = Arc::default();
    let sink = Arc::clone(&table);
    let id = vm.register_hook(
        |event| matches!(event, HookEvent::BeforeFunctionCall(..) | HookEvent::BeforeInstructionExecute(_)),
        move |event, ctx| {
            let mut table = sink.lock().unwrap();
            match event {
                HookEvent::BeforeFunctionCall(callee, _args) => {
                    table.entry(callee.clone()).or_default().calls += 1
                }
                _ => {
                    let function = ctx.function_name().unwrap_or("?").to_owned();
                    table.entry(function).or_default().instructions += 1;
                }
            }
            Ok(())
        },
        0,
    );
    vm.execute("main")?;
    vm.unregister_hook(id);
    let table = table.lock().unwrap();
    let mut rows: Vec<(&String, &Profile)> = table.iter().collect();
    rows.sort_by(|a, b| b.1.instructions.cmp(&a.1.instructions).then(a.0.cmp(b.0)));
    println!("\n{:<8} {:>6} {:>13} {:>10}", "function", "calls", "instructions", "per call");
    for (function, profile) in rows {
        let per_call =
            if profile.calls == 0 { 0.0 } else { profile.instructions as f64 / profile.calls as f64 };
        println!("{function:<8} {:>6} {:>13} {per_call:>10.1}", profile.calls, profile.instructions);
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let vm = VirtualMachine::new();
    load(&vm)?;
    trace(&vm)?;
    breakpoint(&vm)?;
    profile(&vm)?;
    Ok(())
}
