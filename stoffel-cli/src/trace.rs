//! `run --trace`: one line per executed instruction — function and index, the instruction, the
//! registers it wrote — written through the VM's hooks (`BeforeInstructionExecute`,
//! `RegisterWrite`, `AfterInstructionExecute`, placed by `HookContext`).
//!
//! ```text
//! main:0           LDI r0, 3              r0 = 3
//! main:1           PUSHARG r0
//! main:2           CALL fib
//!   fib:0            LDI r1, 2              r1 = 2
//!   …
//!   fib:14           RET r0
//! main:2           CALL fib               r0 = 2
//! ```
//!
//! A line is written when its instruction finished, so it can show what the instruction wrote;
//! a `CALL` of a VM function is written when the callee starts, and again with `r0` when it
//! returned. Callees are indented by call depth.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use stoffel::{HookContext, HookEvent, HookId, Value, VirtualMachine};

/// Width of the `function:index` column (indentation included).
const PLACE_WIDTH: usize = 16;
/// Width of the instruction column.
const INSTRUCTION_WIDTH: usize = 22;
/// Deeper calls are indented as much as this depth, so deep recursion keeps lines readable.
const MAX_INDENT_DEPTH: usize = 16;
/// How much of a written value a line shows: a large array is cut, not printed whole at every
/// write.
const MAX_VALUE_CHARS: usize = 60;

/// An installed tracer; [`Tracer::finish`] removes it.
pub struct Tracer {
    state: Arc<Mutex<TraceState>>,
    hook: HookId,
}

/// What the tracer has seen but not yet written.
struct TraceState {
    out: Box<dyn Write + Send>,
    /// The instruction that started and has not finished.
    open: Option<Line>,
    /// `CALL`s whose VM callee is running, innermost last.
    calls: Vec<Line>,
    /// What a `CALL` wrote after its VM callee returned (`r0`), for its second line.
    returned: Vec<String>,
}

/// One instruction's line.
struct Line {
    depth: usize,
    function: String,
    index: usize,
    instruction: String,
    writes: Vec<String>,
}

impl Tracer {
    /// Registers the tracer's hook on `vm`; lines go to `out` (buffered by the caller as it
    /// likes: [`Tracer::program_output`] flushes it whenever the program prints).
    pub fn install(vm: &VirtualMachine, out: impl Write + Send + 'static) -> Tracer {
        let state = Arc::new(Mutex::new(TraceState {
            out: Box::new(out),
            open: None,
            calls: Vec::new(),
            returned: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let hook = vm.register_hook(
            |event| {
                matches!(
                    event,
                    HookEvent::BeforeInstructionExecute(_)
                        | HookEvent::RegisterWrite(..)
                        | HookEvent::AfterInstructionExecute(_)
                )
            },
            move |event, context| {
                lock(&shared).on_event(event, context);
                Ok(())
            },
            0,
        );
        Tracer { state, hook }
    }

    /// A sink for the program's `print` output (standard output) that first flushes the trace,
    /// so that on a terminal both appear in the order they happened.
    pub fn program_output(&self) -> ProgramOutput {
        ProgramOutput { trace: Arc::clone(&self.state) }
    }

    /// Removes the hook and writes what is left: after a runtime error, the instruction that
    /// failed (it never finished).
    pub fn finish(self, vm: &VirtualMachine) {
        vm.unregister_hook(self.hook);
        let mut state = lock(&self.state);
        if let Some(line) = state.open.take() {
            state.write(&line);
        }
        let _ = state.out.flush();
    }
}

impl TraceState {
    fn on_event(&mut self, event: &HookEvent, context: &HookContext<'_>) {
        match event {
            HookEvent::BeforeInstructionExecute(instruction) => {
                // An instruction still open is a `CALL` whose VM callee starts now.
                if let Some(call) = self.open.take() {
                    self.write(&call);
                    self.calls.push(call);
                }
                self.open = Some(Line {
                    depth: context.call_depth(),
                    function: context.function_name().unwrap_or("?").to_owned(),
                    index: context.instruction_index().unwrap_or(0),
                    instruction: instruction.to_string(),
                    writes: Vec::new(),
                });
            }
            HookEvent::RegisterWrite(register, _old, new) => {
                let write = format!("r{register} = {}", preview(new));
                match &mut self.open {
                    Some(line) => line.writes.push(write),
                    None => self.returned.push(write),
                }
            }
            HookEvent::AfterInstructionExecute(_) => {
                if let Some(line) = self.open.take() {
                    self.write(&line);
                } else if let Some(mut call) = self.calls.pop() {
                    call.writes = std::mem::take(&mut self.returned);
                    self.write(&call);
                }
            }
            _ => {}
        }
    }

    fn write(&mut self, line: &Line) {
        let indent = "  ".repeat(line.depth.saturating_sub(1).min(MAX_INDENT_DEPTH));
        let place = format!("{indent}{}:{}", line.function, line.index);
        let text = format!(
            "{place:<PLACE_WIDTH$} {:<INSTRUCTION_WIDTH$} {}",
            line.instruction,
            line.writes.join(", ")
        );
        // A closed stderr ends the trace, not the program.
        let _ = writeln!(self.out, "{}", text.trim_end());
    }
}

/// The program's standard output while tracing; see [`Tracer::program_output`].
pub struct ProgramOutput {
    trace: Arc<Mutex<TraceState>>,
}

impl Write for ProgramOutput {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let _ = lock(&self.trace).out.flush();
        io::stdout().write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// `value` as `Debug` shows it (strings quoted), cut after [`MAX_VALUE_CHARS`] characters.
fn preview(value: &Value) -> String {
    /// Collects text until it is full, then refuses more, which stops the formatting early.
    struct Bounded {
        text: String,
        chars: usize,
    }
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            for c in text.chars() {
                if self.chars == MAX_VALUE_CHARS {
                    return Err(std::fmt::Error);
                }
                self.text.push(c);
                self.chars += 1;
            }
            Ok(())
        }
    }
    let mut bounded = Bounded { text: String::new(), chars: 0 };
    match write!(bounded, "{value:?}") {
        Ok(()) => bounded.text,
        Err(_) => bounded.text + "…",
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The tracer's state stays consistent even if a write panicked midway.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stoffel::OutputBuffer;

    fn trace(text: &str, entry: &str, args: &[Value]) -> String {
        let vm = VirtualMachine::new();
        vm.load(stoffel::asm::assemble(text).unwrap()).unwrap();
        let out = OutputBuffer::new();
        vm.set_output(OutputBuffer::new());
        let tracer = Tracer::install(&vm, out.clone());
        let _ = vm.call(entry, args);
        tracer.finish(&vm);
        out.contents()
    }

    #[test]
    fn a_vm_call_shows_when_it_starts_and_when_it_returns() {
        let text = "fn main() {\n LDI r0, 20\n PUSHARG r0\n CALL twice\n RET r0\n}\n\
                    fn twice(x) {\n ADD r0, r0, r0\n RET r0\n}\n";
        let lines: Vec<String> = trace(text, "main", &[])
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            lines,
            [
                "main:0 LDI r0, 20 r0 = 20",
                "main:1 PUSHARG r0",
                "main:2 CALL twice",
                "twice:0 ADD r0, r0, r0 r0 = 40",
                "twice:1 RET r0",
                "main:2 CALL twice r0 = 40",
                "main:3 RET r0",
            ]
        );
    }

    #[test]
    fn callees_are_indented_and_a_builtin_call_is_one_line() {
        let text = "fn main() {\n LDI r1, \"hi\"\n PUSHARG r1\n CALL inner\n RET r0\n}\n\
                    fn inner(s) {\n PUSHARG r0\n CALL type\n RET r0\n}\n";
        let out = trace(text, "main", &[]);
        assert!(out.contains("\n  inner:1"), "{out}");
        assert!(out.contains("CALL type              r0 = \"string\"\n"), "{out}");
    }

    #[test]
    fn the_failing_instruction_is_the_last_line() {
        let text = "fn main(a) {\n LDI r1, 0\n DIV r2, r0, r1\n RET r2\n}\n";
        let out = trace(text, "main", &[Value::Int(1)]);
        assert_eq!(
            out.lines().last().unwrap().split_whitespace().collect::<Vec<_>>().join(" "),
            "main:1 DIV r2, r0, r1"
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = Value::from("x".repeat(200).as_str());
        let shown = preview(&long);
        assert_eq!(shown.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(preview(&Value::from("ok")), "\"ok\"");
    }
}
