//! `run --profile`: calls, executed instructions and time per function (VM functions, builtins
//! and foreign functions alike), counted through the VM's hooks and printed as a table.
//!
//! ```text
//! function        calls  instructions     self ms    total ms
//! fib               177          2478       0.412       0.530
//! main                1             4       0.003       0.533
//! total             178          2482       0.415       0.533
//! ```
//!
//! *Self* time is spent in the function itself, *total* time includes its callees (a recursive
//! function's nested calls are counted once). Both include the hooks' own overhead, so they
//! compare functions with each other, not with an unprofiled run.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use stoffel::{HookContext, HookEvent, HookId, VirtualMachine};

/// An installed profiler; [`Profiler::finish`] removes it and gives the table.
pub struct Profiler {
    state: Arc<Mutex<ProfileState>>,
    hook: HookId,
}

/// What one function did.
#[derive(Clone, Debug, Default, PartialEq)]
struct Row {
    calls: u64,
    instructions: u64,
    self_time: Duration,
    total_time: Duration,
}

/// A call that has started and not returned.
struct Frame {
    function: String,
    started: Instant,
}

struct ProfileState {
    rows: HashMap<String, Row>,
    /// The calls in progress, innermost last.
    stack: Vec<Frame>,
    /// How many times each function is on `stack`, so recursion counts total time once.
    active: HashMap<String, usize>,
    /// When self time was last charged to the innermost call.
    last: Instant,
    started: Instant,
}

impl Profiler {
    /// Registers the profiler's hook on `vm`; the clock starts now.
    pub fn install(vm: &VirtualMachine) -> Profiler {
        let now = Instant::now();
        let state = Arc::new(Mutex::new(ProfileState {
            rows: HashMap::new(),
            stack: Vec::new(),
            active: HashMap::new(),
            last: now,
            started: now,
        }));
        let shared = Arc::clone(&state);
        let hook = vm.register_hook(
            |event| {
                matches!(
                    event,
                    HookEvent::BeforeInstructionExecute(_)
                        | HookEvent::BeforeFunctionCall(..)
                        | HookEvent::AfterFunctionCall(..)
                )
            },
            move |event, context| {
                lock(&shared).on_event(event, context);
                Ok(())
            },
            0,
        );
        Profiler { state, hook }
    }

    /// Removes the hook and renders the table. Calls a runtime error left unfinished end now.
    pub fn finish(self, vm: &VirtualMachine) -> String {
        vm.unregister_hook(self.hook);
        let mut state = lock(&self.state);
        let now = Instant::now();
        state.charge(now);
        while !state.stack.is_empty() {
            state.leave(now);
        }
        state.table(now - state.started)
    }
}

impl ProfileState {
    fn on_event(&mut self, event: &HookEvent, context: &HookContext<'_>) {
        match event {
            HookEvent::BeforeInstructionExecute(_) => {
                self.row(context.function_name().unwrap_or("?")).instructions += 1;
            }
            HookEvent::BeforeFunctionCall(callee, _args) => {
                let now = Instant::now();
                self.charge(now);
                self.row(callee).calls += 1;
                *self.active.entry(callee.clone()).or_default() += 1;
                self.stack.push(Frame { function: callee.clone(), started: now });
            }
            HookEvent::AfterFunctionCall(..) => {
                let now = Instant::now();
                self.charge(now);
                self.leave(now);
            }
            _ => {}
        }
    }

    fn row(&mut self, function: &str) -> &mut Row {
        if !self.rows.contains_key(function) {
            self.rows.insert(function.to_owned(), Row::default());
        }
        self.rows.get_mut(function).expect("inserted above")
    }

    /// Charges the time since the last event to the innermost call.
    fn charge(&mut self, now: Instant) {
        if let Some(frame) = self.stack.last() {
            let elapsed = now - self.last;
            if let Some(row) = self.rows.get_mut(&frame.function) {
                row.self_time += elapsed;
            }
        }
        self.last = now;
    }

    /// Ends the innermost call.
    fn leave(&mut self, now: Instant) {
        let Some(frame) = self.stack.pop() else { return };
        let active = self.active.entry(frame.function.clone()).or_default();
        *active = active.saturating_sub(1);
        if *active == 0 {
            let row = self.row(&frame.function);
            row.total_time += now - frame.started;
        }
    }

    /// The rows, most instructions first (then most calls, then by name), and a total.
    fn table(&self, wall_time: Duration) -> String {
        let mut rows: Vec<(&String, &Row)> = self.rows.iter().collect();
        rows.sort_by(|(a_name, a), (b_name, b)| {
            (b.instructions, b.calls).cmp(&(a.instructions, a.calls)).then(a_name.cmp(b_name))
        });
        let total = Row {
            calls: rows.iter().map(|(_, row)| row.calls).sum(),
            instructions: rows.iter().map(|(_, row)| row.instructions).sum(),
            self_time: rows.iter().map(|(_, row)| row.self_time).sum(),
            total_time: wall_time,
        };
        let width = rows.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0).max(8);
        let mut table = format!(
            "{:<width$} {:>9} {:>13} {:>11} {:>11}\n",
            "function", "calls", "instructions", "self ms", "total ms"
        );
        for (name, row) in rows.into_iter().chain([(&"total".to_string(), &total)]) {
            let _ = writeln!(
                table,
                "{name:<width$} {:>9} {:>13} {:>11.3} {:>11.3}",
                row.calls,
                row.instructions,
                milliseconds(row.self_time),
                milliseconds(row.total_time)
            );
        }
        table
    }
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The profile stays usable even if a callback panicked midway.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stoffel::Value;

    /// (function, calls, instructions) per row, the total last.
    fn counts(table: &str) -> Vec<(String, u64, u64)> {
        table
            .lines()
            .skip(1)
            .map(|line| {
                let cells: Vec<&str> = line.split_whitespace().collect();
                (cells[0].to_string(), cells[1].parse().unwrap(), cells[2].parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn counts_calls_and_instructions_per_function() {
        let vm = VirtualMachine::new();
        vm.set_output(stoffel::OutputBuffer::new());
        let program = stoffel::asm::assemble(
            "fn main(n) {\n PUSHARG r0\n CALL down\n PUSHARG r0\n CALL print\n RET r0\n}\n\
             fn down(n) {\n LDI r1, 0\n CMP r0, r1\n JMPEQ done\n LDI r1, 1\n SUB r1, r0, r1\n PUSHARG r1\n CALL down\n done:\n RET r0\n}\n",
        )
        .unwrap();
        vm.load(program).unwrap();
        let profiler = Profiler::install(&vm);
        vm.call("main", &[Value::Int(3)]).unwrap();
        let table = profiler.finish(&vm);
        assert!(table.starts_with("function     calls  instructions     self ms    total ms\n"), "{table}");
        assert_eq!(
            counts(&table),
            [
                ("down".to_string(), 4, 3 * 8 + 4),
                ("main".to_string(), 1, 5),
                ("print".to_string(), 1, 0),
                ("total".to_string(), 6, 33),
            ]
        );
    }

    #[test]
    fn an_unfinished_run_still_gives_its_table() {
        let vm = VirtualMachine::new();
        vm.load(stoffel::asm::assemble("fn main() {\n LDI r0, 0\n DIV r0, r0, r0\n RET r0\n}\n").unwrap())
            .unwrap();
        let profiler = Profiler::install(&vm);
        assert!(vm.execute("main").is_err());
        let table = profiler.finish(&vm);
        assert_eq!(counts(&table), [("main".to_string(), 1, 2), ("total".to_string(), 1, 2)]);
    }
}
