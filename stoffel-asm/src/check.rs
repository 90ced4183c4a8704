//! Semantic checks over a parsed program — registers in range, labels defined once and used
//! defined, no duplicate names, no running past the end, `CALL` argument counts — and the
//! facts the front ends need: register counts and the pending arguments before each `CALL`.

use std::collections::HashMap;
use std::fmt::Debug;

use crate::ast::{Function, Item, Operand, Program, MAX_REGISTERS};
use crate::diagnostic::Diagnostic;
use crate::parser::{edit_distance, register_out_of_range, thousands};

/// What the checks learned about a program, one entry per function in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramInfo {
    /// Per function, parallel to [`Program::functions`].
    pub functions: Vec<FunctionInfo>,
}

/// What the checks learned about one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The register count: the declared `registers(N)`, else the inferred one (highest
    /// register + 1, at least the parameter count, at least 1).
    pub register_count: u32,
    /// Every `CALL` of the body, in order.
    pub calls: Vec<CallSite>,
}

/// One `CALL` instruction and the arguments pushed just before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// Its index in [`Function::body`] (labels count).
    pub item: usize,
    /// Its instruction index (labels do not count), as the runtime numbers instructions.
    pub instruction: usize,
    /// How many arguments it passes, when that is known: the `PUSHARG`s counted back to the
    /// previous `CALL` or the start of the function, with no label in between (a label could
    /// be jumped to with other pending arguments, so it makes the count unknown).
    pub pending_args: Option<usize>,
}

impl ProgramInfo {
    /// Computes the register counts and call sites of every function (no checking).
    pub fn of<S, H>(program: &Program<S, H>) -> Self {
        ProgramInfo {
            functions: program
                .functions
                .iter()
                .map(|function| FunctionInfo {
                    register_count: function.register_count(),
                    calls: call_sites(function),
                })
                .collect(),
        }
    }
}

/// The `CALL`s of a function with the argument count known before each. In a function the
/// parser left [`incomplete`](Function::incomplete), every count is unknown.
pub fn call_sites<S, H>(function: &Function<S, H>) -> Vec<CallSite> {
    let mut calls = Vec::new();
    let mut pending: Option<usize> = Some(0);
    let mut instruction = 0;
    for (item, entry) in function.body.iter().enumerate() {
        match entry {
            Item::Label(..) => pending = None,
            Item::Instr(instr) => {
                match instr.op.mnemonic {
                    "PUSHARG" => pending = pending.map(|count| count.saturating_add(1)),
                    "CALL" => {
                        calls.push(CallSite {
                            item,
                            instruction,
                            pending_args: pending.filter(|_| !function.incomplete),
                        });
                        pending = Some(0);
                    }
                    _ => {}
                }
                instruction += 1;
            }
        }
    }
    calls
}

/// Checks a program; returns what it learned, or every mistake, each at the offending token.
///
/// Reported: a duplicate function; an empty function name (defined or called); a duplicate
/// parameter or capture name; an `LD` above the top of the argument stack (`[sp+1]`); `registers(0)`, a
/// declared count above 65,536 or below the parameter count; a register beyond the declared
/// count or beyond `r65535`; a duplicate or undefined label; an empty body; a function that
/// can run past its last instruction (it must end with `RET` or `JMP`, not with a label); a
/// `CALL` to a function of the same program when the arguments pushed before it are known
/// ([`CallSite::pending_args`]) and their count differs from the callee's parameter count.
/// Checks that need the whole body are skipped for [`incomplete`](Function::incomplete)
/// functions, whose parse errors were already reported.
///
/// # Errors
///
/// Every diagnostic found, in source order per function.
pub fn check<S: Clone + Debug, H>(program: &Program<S, H>) -> Result<ProgramInfo, Vec<Diagnostic<S>>> {
    let mut checker = Checker { diagnostics: Vec::new() };
    let mut arities: HashMap<&str, usize> = HashMap::new();
    for function in &program.functions {
        if function.name.text.is_empty() {
            checker
                .diagnostics
                .push(Diagnostic::new(function.name.span.clone(), "a function name cannot be empty"));
        }
        if arities.contains_key(function.name.text.as_str()) {
            checker.diagnostics.push(
                Diagnostic::new(
                    function.name.span.clone(),
                    format!("duplicate function `{}`", function.name.text),
                )
                .with_note("functions of one program share one namespace; rename one of them"),
            );
        } else {
            arities.insert(&function.name.text, function.params.len());
        }
    }
    for function in &program.functions {
        checker.function(function, &arities);
    }
    if checker.diagnostics.is_empty() {
        Ok(ProgramInfo::of(program))
    } else {
        Err(checker.diagnostics)
    }
}

struct Checker<S> {
    diagnostics: Vec<Diagnostic<S>>,
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

impl<S: Clone + Debug> Checker<S> {
    fn error(&mut self, span: &S, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(span.clone(), message));
    }

    fn function<H>(&mut self, function: &Function<S, H>, arities: &HashMap<&str, usize>) {
        let name = &function.name.text;
        self.names(function);
        let declared = self.declared_registers(function);

        // Labels first, so that a jump may name a label defined after it.
        let mut labels: HashMap<&str, &S> = HashMap::new();
        for item in &function.body {
            if let Item::Label(label, span) = item {
                if labels.contains_key(label.as_str()) {
                    self.error(span, format!("duplicate label `{label}` in `{name}`"));
                } else {
                    labels.insert(label, span);
                }
            }
        }

        let calls = call_sites(function);
        let mut calls = calls.iter().peekable();
        for (index, item) in function.body.iter().enumerate() {
            let Item::Instr(instr) = item else { continue };
            for operand in &instr.operands {
                match operand {
                    Operand::Reg(register, span) => self.register(*register, span, declared, name),
                    // The runtime rejects these when the function is registered; say so here.
                    Operand::Stack(offset, span) if *offset > 0 => self.diagnostics.push(
                        Diagnostic::new(
                            span.clone(),
                            format!(
                                "`[sp+{offset}]` is above the top of the argument stack: `[sp+0]` is the most recently pushed value"
                            ),
                        )
                        .with_help("count back from the top: `[sp-1]` is the value pushed before it"),
                    ),
                    Operand::Func(callee, span) if callee.is_empty() => {
                        self.error(span, "a function name cannot be empty")
                    }
                    Operand::Upvalue(upvalue, span)
                        if !function.captures.iter().any(|capture| capture.text == *upvalue) =>
                    {
                        let mut diagnostic = Diagnostic::new(
                            span.clone(),
                            format!("`{upvalue}` is not an upvalue of `{name}`"),
                        );
                        diagnostic = match closest(upvalue, function.captures.iter().map(|c| c.text.as_str())) {
                            Some(similar) => diagnostic.with_help(format!("did you mean `{similar}`?")),
                            None => diagnostic.with_help(format!(
                                "declare it in the header: `fn {}(...) captures({})`",
                                crate::disasm::fmt_name(name),
                                crate::disasm::fmt_name(upvalue)
                            )),
                        };
                        self.diagnostics.push(diagnostic);
                    }
                    Operand::Label(label, span) if !labels.contains_key(label.as_str()) => {
                        let mut diagnostic =
                            Diagnostic::new(span.clone(), format!("undefined label `{label}` in `{name}`"));
                        if let Some(similar) = closest(label, labels.keys().copied()) {
                            diagnostic = diagnostic.with_help(format!("did you mean `{similar}`?"));
                        }
                        self.diagnostics.push(diagnostic);
                    }
                    _ => {}
                }
            }
            let Some(site) = calls.next_if(|site| site.item == index) else {
                continue;
            };
            let (Some(pushed), Some(Operand::Func(callee, _))) = (site.pending_args, instr.operands.first())
            else {
                continue;
            };
            if let Some(&expected) = arities.get(callee.as_str()) {
                if expected != pushed {
                    let verb = if pushed == 1 { "is" } else { "are" };
                    self.diagnostics.push(
                        Diagnostic::new(
                            instr.span.clone(),
                            format!(
                                "`{callee}` takes {}, but {pushed} {verb} pushed before this CALL",
                                plural(expected, "argument", "arguments")
                            ),
                        )
                        .with_note("each PUSHARG since the previous CALL passes one argument"),
                    );
                }
            }
        }

        if !function.incomplete {
            self.ending(function);
        }
    }

    /// Duplicate parameter and capture names.
    fn names<H>(&mut self, function: &Function<S, H>) {
        let mut seen: HashMap<&str, bool> = HashMap::new();
        for param in &function.params {
            if seen.insert(&param.text, true).is_some() {
                self.error(&param.span, format!("duplicate parameter `{}`", param.text));
            }
        }
        for capture in &function.captures {
            match seen.insert(&capture.text, false) {
                Some(true) => {
                    self.error(&capture.span, format!("`{}` is both a parameter and a capture", capture.text))
                }
                Some(false) => self.error(&capture.span, format!("duplicate capture `{}`", capture.text)),
                None => {}
            }
        }
        if function.params.len() > MAX_REGISTERS as usize {
            self.error(
                &function.name.span,
                format!(
                    "`{}` has {} parameters; at most {} fit in its registers",
                    function.name.text,
                    thousands(function.params.len() as u64),
                    thousands(u64::from(MAX_REGISTERS))
                ),
            );
        }
    }

    /// Checks `registers(N)`; returns `N` when register indices should be checked against it.
    fn declared_registers<H>(&mut self, function: &Function<S, H>) -> Option<u32> {
        let (count, span) = function.registers.as_ref()?;
        let count = *count;
        if count == 0 {
            self.diagnostics.push(
                Diagnostic::new(span.clone(), "`registers(0)`: a function needs at least 1 register")
                    .with_help("leave `registers(...)` out to infer the count"),
            );
            return None;
        }
        if count > MAX_REGISTERS {
            self.error(
                span,
                format!(
                    "`registers({count})` exceeds the maximum of {} registers",
                    thousands(u64::from(MAX_REGISTERS))
                ),
            );
            return None;
        }
        let params = function.params.len();
        if (count as usize) < params && !function.incomplete {
            self.diagnostics.push(
                Diagnostic::new(
                    span.clone(),
                    format!(
                        "`registers({count})` is fewer than the {} of `{}`",
                        plural(params, "parameter", "parameters"),
                        function.name.text
                    ),
                )
                .with_note("parameter i arrives in register i"),
            );
        }
        Some(count)
    }

    fn register(&mut self, register: u32, span: &S, declared: Option<u32>, function: &str) {
        if register >= MAX_REGISTERS {
            self.error(span, register_out_of_range(&format!("r{register}")));
        } else if let Some(count) = declared.filter(|&count| register >= count) {
            self.error(
                span,
                format!(
                    "register `r{register}` is out of range: `{function}` declares registers({count}), so `r0` to `r{}`",
                    count - 1
                ),
            );
        }
    }

    /// The body must end with an instruction that does not fall through.
    fn ending<H>(&mut self, function: &Function<S, H>) {
        let name = &function.name.text;
        if function.instructions().next().is_none() {
            self.diagnostics.push(
                Diagnostic::new(function.name.span.clone(), format!("`{name}` has no instructions"))
                    .with_help("a function ends with `RET rA` (or `JMP label`)"),
            );
            return;
        }
        match function.body.last() {
            Some(Item::Label(label, span)) => self.diagnostics.push(
                Diagnostic::new(
                    span.clone(),
                    format!(
                        "label `{label}` is at the end of `{name}`: execution would run past its last instruction"
                    ),
                )
                .with_help("add `RET rA` or `JMP label` after the label"),
            ),
            Some(Item::Instr(instr)) if !instr.op.ends_block() => self.diagnostics.push(
                Diagnostic::new(
                    instr.span.clone(),
                    format!("`{name}` can run past its last instruction, `{}`", instr.op.mnemonic),
                )
                .with_help("end the function with `RET rA` or `JMP label`"),
            ),
            _ => {}
        }
    }
}

/// The name among `candidates` closest to `name`, if close enough to be a likely typo.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    if name.len() > 64 {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .filter(|candidate| candidate.len() <= 64)
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::LineCol;
    use crate::lexer::lex;
    use crate::parser::parse;
    use crate::token::Never;

    fn program(source: &str) -> Program<LineCol, Never> {
        let (program, errors) = parse(lex::<Never>(source).unwrap());
        assert!(errors.is_empty(), "{errors:?}");
        program
    }

    fn errors(source: &str) -> Vec<String> {
        match check(&program(source)) {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
        }
    }

    fn first_error(source: &str) -> String {
        errors(source).into_iter().next().expect("an error")
    }

    #[test]
    fn clean_program_yields_info() {
        let info = check(&program(
            "fn main() { LDI r0, 30 PUSHARG r0 CALL fib RET r0 }
             fn fib(n) registers(8) {
                PUSHARG r0 PUSHARG r0 CALL add
             again: PUSHARG r0 CALL add
                CALL print
                JMP again
             }",
        ))
        .unwrap();
        assert_eq!(info.functions[0].register_count, 1);
        assert_eq!(info.functions[1].register_count, 8);
        assert_eq!(info.functions[0].calls, [CallSite { item: 2, instruction: 2, pending_args: Some(1) }]);
        let calls: Vec<_> =
            info.functions[1].calls.iter().map(|c| (c.item, c.instruction, c.pending_args)).collect();
        assert_eq!(calls, [(2, 2, Some(2)), (5, 4, None), (6, 5, Some(0))]);
    }

    #[test]
    fn register_errors() {
        assert_eq!(
            errors("fn f() registers(4) {\n  MOV r4, r0\n  RET r3\n}"),
            ["2:7: register `r4` is out of range: `f` declares registers(4), so `r0` to `r3`"]
        );
        assert_eq!(
            errors("fn f() { MOV r65536, r0 RET r65535 }"),
            ["1:14: register `r65536` is out of range: a function has at most 65,536 registers (`r0` to `r65535`)"]
        );
        assert_eq!(
            first_error("fn f() registers(0) { RET r0 }"),
            "1:18: `registers(0)`: a function needs at least 1 register\n  help: leave `registers(...)` out to infer the count"
        );
        assert_eq!(
            errors("fn f() registers(65537) { RET r0 }"),
            ["1:18: `registers(65537)` exceeds the maximum of 65,536 registers"]
        );
        assert_eq!(errors("fn f() registers(65536) { RET r65535 }"), Vec::<String>::new());
        assert_eq!(
            first_error("fn f(a, b) registers(1) { RET r0 }"),
            "1:22: `registers(1)` is fewer than the 2 parameters of `f`\n  note: parameter i arrives in register i"
        );
    }

    #[test]
    fn name_errors() {
        assert_eq!(
            first_error("fn f() { RET r0 }\nfn g() { RET r0 }\nfn f() { RET r0 }"),
            "3:4: duplicate function `f`\n  note: functions of one program share one namespace; rename one of them"
        );
        assert_eq!(
            errors("fn f(a, b, a) captures(c, a, c) { RET r0 }"),
            [
                "1:12: duplicate parameter `a`",
                "1:27: `a` is both a parameter and a capture",
                "1:30: duplicate capture `c`",
            ]
        );
    }

    #[test]
    fn label_errors() {
        assert_eq!(
            errors("fn f() {\nloop:\n  JMP loop\nloop:\n  JMP loop\n}"),
            ["4:1: duplicate label `loop` in `f`"]
        );
        assert_eq!(
            errors("fn f() {\n  JMPEQ dne\ndone:\n  RET r0\n}"),
            ["2:9: undefined label `dne` in `f`\n  help: did you mean `done`?"]
        );
        assert_eq!(errors("fn f() { JMP nowhere }"), ["1:14: undefined label `nowhere` in `f`"]);
    }

    #[test]
    fn ending_errors() {
        assert_eq!(
            first_error("fn f() { }"),
            "1:4: `f` has no instructions\n  help: a function ends with `RET rA` (or `JMP label`)"
        );
        assert!(first_error("fn f() { end: }").starts_with("1:4: `f` has no instructions"));
        assert_eq!(
            first_error("fn f() {\n  LDI r0, 1\n}"),
            "2:3: `f` can run past its last instruction, `LDI`\n  help: end the function with `RET rA` or `JMP label`"
        );
        assert!(first_error("fn f() {\n  RET r0\nend:\n}").starts_with(
            "3:1: label `end` is at the end of `f`: execution would run past its last instruction"
        ));
        assert!(first_error("fn f() { CMP r0, r0 JMPEQ x x: CALL g }").contains("past"));
        assert_eq!(errors("fn f() { x: JMP x }"), Vec::<String>::new());
    }

    #[test]
    fn call_argument_counts() {
        assert_eq!(
            first_error(
                "fn fib(n) { RET r0 }\nfn main() {\n  PUSHARG r0\n  PUSHARG r0\n  CALL fib\n  RET r0\n}"
            ),
            "5:3: `fib` takes 1 argument, but 2 are pushed before this CALL\n  note: each PUSHARG since the previous CALL passes one argument"
        );
        assert!(first_error("fn add(a, b) { RET r0 }\nfn main() { PUSHARG r0 CALL add RET r0 }")
            .starts_with("2:24: `add` takes 2 arguments, but 1 is pushed before this CALL"));
        assert!(first_error("fn one(a) { RET r0 }\nfn main() { CALL one RET r0 }")
            .contains("`one` takes 1 argument, but 0 are pushed"));
        // The previous CALL consumed its arguments.
        assert!(first_error("fn one(a) { RET r0 }\nfn main() { PUSHARG r0 CALL one CALL one RET r0 }")
            .starts_with("2:33: `one` takes 1 argument, but 0 are pushed"));
        // A label in between makes the count unknown: no compile-time error.
        assert_eq!(
            errors("fn one(a) { RET r0 }\nfn main() { PUSHARG r0 PUSHARG r0 l: CALL one RET r0 }"),
            Vec::<String>::new()
        );
        // Functions outside the program are checked at run time only.
        assert_eq!(errors("fn main() { PUSHARG r0 CALL print RET r0 }"), Vec::<String>::new());
    }

    #[test]
    fn what_the_runtime_would_reject_is_reported() {
        assert_eq!(
            errors("fn f() {\n  LD r0, [sp+1]\n  LD r0, [sp+0]\n  LD r0, [sp-3]\n  RET r0\n}"),
            ["2:10: `[sp+1]` is above the top of the argument stack: `[sp+0]` is the most recently pushed value\n  help: count back from the top: `[sp-1]` is the value pushed before it"]
        );
        assert_eq!(
            errors("fn \"\"() { CALL \"\" RET r0 }"),
            ["1:4: a function name cannot be empty", "1:16: a function name cannot be empty"]
        );
    }

    #[test]
    fn every_error_of_a_program_at_once() {
        let found = errors(
            "fn f(a) registers(2) {\n  MOV r2, r0\n  JMP missing\nx:\n  LDI r0, 1\nx:\n}\nfn f() { RET r0 }",
        );
        assert_eq!(found.len(), 5, "{found:#?}");
    }
}
