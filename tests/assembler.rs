//! The run-time assembler `stoffel::asm`: the errors `bytecode!` reports at compile time, here
//! with their `line:column`; programs that print and read back equal; the shipped `.stf`
//! examples; and no panic, whatever the text, when assembling or running what assembles.

mod common;
use common::XorShift;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use stoffel::asm::{assemble, assemble_diagnostics, LineCol};
use stoffel::{ErrorKind, Instruction, OutputBuffer, Program, Value, VirtualMachine};

/// Every diagnostic of `text`, rendered `line:col: message` (help and note on their own lines).
fn errors(text: &str) -> Vec<String> {
    match assemble_diagnostics(text) {
        Ok(_) => panic!("expected errors from {text:?}"),
        Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn unknown_mnemonic_with_a_suggestion() {
    assert_eq!(
        errors("fn main() {\n    LDI r0, 1\n    ADDD r0, r0, r0\n    RET r0\n}"),
        ["3:5: unknown instruction `ADDD`\n  help: did you mean `ADD`?"]
    );
    assert_eq!(
        errors("fn f() {\n  jmpeq x\nx: RET r0\n}"),
        ["2:3: unknown instruction `jmpeq`\n  help: did you mean `JMPEQ`?"]
    );
}

#[test]
fn wrong_operand_count_and_kind() {
    assert_eq!(
        errors("fn f() {\n    ADD r0, r0\n    RET r0\n}"),
        ["2:5: `ADD` takes rD, rA, rB; found 2 operands"]
    );
    assert_eq!(errors("fn f() {\n    JMP r0\n}"), ["2:9: `JMP` expects a label, found register `r0`"]);
    assert_eq!(
        errors("fn f() {\n    ADD r0, 5, r1\n    RET r0\n}"),
        ["2:13: `ADD` expects a register for rA, found integer `5`"]
    );
    assert_eq!(
        errors("fn f() {\n    LD r0, r1\n    RET r0\n}"),
        ["2:12: `LD` expects a stack slot `[sp+k]`, found register `r1`"]
    );
}

#[test]
fn register_out_of_the_declared_range() {
    assert_eq!(
        errors("fn f() registers(4) {\n    MOV r4, r0\n    RET r0\n}"),
        ["2:9: register `r4` is out of range: `f` declares registers(4), so `r0` to `r3`"]
    );
}

#[test]
fn undefined_and_duplicate_labels() {
    assert_eq!(
        errors("fn f() {\n    JMPEQ dne\ndone:\n    RET r0\n}"),
        ["2:11: undefined label `dne` in `f`\n  help: did you mean `done`?"]
    );
    assert_eq!(
        errors("fn f() {\nagain:\n    LDI r0, 1\nagain:\n    JMP again\n}"),
        ["4:1: duplicate label `again` in `f`"]
    );
}

#[test]
fn duplicate_function() {
    assert_eq!(
        errors("fn f() {\n    RET r0\n}\nfn f() {\n    RET r0\n}"),
        ["4:4: duplicate function `f`\n  note: functions of one program share one namespace; rename one of them"]
    );
}

#[test]
fn wrong_argument_count_to_a_function_of_the_same_program() {
    assert_eq!(
        errors(
            "fn main() {\n    PUSHARG r0\n    PUSHARG r0\n    CALL add_one\n    RET r0\n}\n\
             fn add_one(x) {\n    RET r0\n}"
        ),
        ["4:5: `add_one` takes 1 argument, but 2 are pushed before this CALL\n  note: each PUSHARG since the previous CALL passes one argument"]
    );
    // A label in between: the count is unknown, the VM checks it when the call runs.
    let program = assemble(
        "fn main() {\n    PUSHARG r0\nl:\n    CALL add_one\n    RET r0\n}\nfn add_one(x) {\n    RET r0\n}",
    )
    .unwrap();
    let vm = VirtualMachine::new();
    vm.load(program).unwrap();
    assert_eq!(vm.execute("main").unwrap(), Value::Unit);
}

#[test]
fn running_past_the_last_instruction() {
    assert_eq!(
        errors("fn main() {\n    LDI r0, 1\n    PUSHARG r0\n    CALL print\n}"),
        ["4:5: `main` can run past its last instruction, `CALL`\n  help: end the function with `RET rA` or `JMP label`"]
    );
}

#[test]
fn literals_that_do_not_fit_or_do_not_read() {
    assert_eq!(
        errors("fn f() {\n    LDI r0, 9223372036854775808\n    RET r0\n}"),
        ["2:13: integer `9223372036854775808` does not fit in a 64-bit signed integer\n  note: integers range from -9223372036854775808 to 9223372036854775807"]
    );
    assert_eq!(
        errors("fn f() {\n    LDI r0, \"a \\q escape\"\n    RET r0\n}"),
        ["2:16: unknown escape `\\q`"]
    );
    assert_eq!(
        errors("fn f() {\n    LDI r0, 'x'\n    RET r0\n}"),
        ["2:13: character literals are not supported; use a string in double quotes"]
    );
    assert_eq!(errors("fn f() {\n    LDI r0, \"open\n}"), ["2:13: unterminated string"]);
}

#[test]
fn rust_expressions_are_only_for_the_macro() {
    assert_eq!(
        errors("fn f() {\n    LDI r0, {limit}\n    RET r0\n}"),
        ["2:13: `{...}` Rust expressions are only allowed in `bytecode!`"]
    );
    assert_eq!(
        errors("fn f() {\n    CALL {add}\n    RET r0\n}"),
        ["2:10: `{...}` Rust expressions are only allowed in `bytecode!`"]
    );
}

#[test]
fn what_the_vm_would_reject_when_loading() {
    assert_eq!(
        errors("fn f() {\n    LD r0, [sp+1]\n    RET r0\n}"),
        ["2:12: `[sp+1]` is above the top of the argument stack: `[sp+0]` is the most recently pushed value\n  help: count back from the top: `[sp-1]` is the value pushed before it"]
    );
    assert_eq!(errors("fn \"\"() {\n    RET r0\n}"), ["1:4: a function name cannot be empty"]);
}

#[test]
fn every_error_at_once_in_source_order_as_one_error() {
    let text = "fn main() registers(2) {\n\
                \x20   LDI r0, 1\n\
                \x20   MOV r2, r0\n\
                \x20   JMP nowhere\n\
                }\n\
                fn broken() {\n\
                \x20   ADDD r0, r0, r0\n\
                \x20   LDI r0, 'c'\n\
                \x20   RET r0\n\
                }\n\
                fn main() {\n\
                \x20   RET r0\n\
                }\n";
    let error = assemble(text).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Assembly);
    assert_eq!(
        error.message(),
        "3:9: register `r2` is out of range: `main` declares registers(2), so `r0` to `r1`\n\
         4:9: undefined label `nowhere` in `main`\n\
         7:5: unknown instruction `ADDD`\n  help: did you mean `ADD`?\n\
         8:13: character literals are not supported; use a string in double quotes\n\
         11:4: duplicate function `main`\n  note: functions of one program share one namespace; rename one of them"
    );
    let diagnostics = assemble_diagnostics(text).unwrap_err();
    let positions: Vec<LineCol> = diagnostics.iter().map(|d| d.span).collect();
    assert_eq!(
        positions,
        [
            LineCol::new(3, 9),
            LineCol::new(4, 9),
            LineCol::new(7, 5),
            LineCol::new(8, 13),
            LineCol::new(11, 4)
        ]
    );
}

const FIB: &str = include_str!("../examples/fib.stf");
const LOOP: &str = include_str!("../examples/loop.stf");
const CLOSURES: &str = include_str!("../examples/closures.stf");
const OBJECTS: &str = include_str!("../examples/objects.stf");

/// Programs that use every instruction, every immediate form, quoted names and odd labels.
const ROUND_TRIP: &[&str] = &[
    FIB,
    LOOP,
    CLOSURES,
    OBJECTS,
    "fn \"odd name\"(a, b) captures(c) registers(16) {\n\
     start: again:\n\
     \x20   LD r1, [sp-1]\n    LD r1, [sp+0]\n    LD r1, [sp-2147483648]\n\
     \x20   LDI r2, -9223372036854775808\n    LDI r2, 9223372036854775807\n    LDI r2, 0x7F\n\
     \x20   LDI r3, 2.5\n    LDI r3, -0.0\n    LDI r3, 1e300\n    LDI r3, 5e-324\n    LDI r3, inf\n    LDI r3, -inf\n\
     \x20   LDI r4, true\n    LDI r4, false\n    LDI r4, ()\n\
     \x20   LDI r5, \"tab\\t quote\\\" back\\\\ nul\\0 \\u{1F600} \\u{202E} é\"\n\
     \x20   MOV r6, r5\n    ADD r6, r0, r1\n    SUB r6, r0, r1\n    MUL r6, r0, r1\n    DIV r6, r0, r1\n\
     \x20   MOD r6, r0, r1\n    AND r6, r0, r1\n    OR r6, r0, r1\n    XOR r6, r0, r1\n    NOT r6, r0\n\
     \x20   SHL r6, r0, r1\n    SHR r6, r0, r1\n    CMP r0, r15\n\
     \x20   JMPEQ start\n    JMPNEQ again\n    JMPLT end\n    JMPGT end\n\
     \x20   PUSHARG r0\n    CALL \"odd name\"\n    CALL \"r1\"\n    CALL \"ADD\"\n    CALL \"\\n\"\n\
     end:\n    JMP start\n}\n\
     fn \"fn\"() {\n    RET r0\n}\n",
    // Whitespace-insensitive, `;`-separated, comments.
    "fn a() { LDI r0, 1; /* block */ RET r0 } fn b(x) { CMP r0, r0 JMPEQ l l: RET r0 } // end",
    // The upvalue instructions, with names that print as identifiers and names that need quotes.
    UPVALUES,
];

/// GETUPVAL / SETUPVAL with identifier and string names (`"r1"`, `"fn"`, `"odd name"` and
/// `""` must print quoted; `"plain"` prints bare). `bump(by)` adds `by` to `count`; with `by`
/// 0 it goes on to the other upvalues.
const UPVALUES: &str =
    "fn make(count) {\n    LDI r1, \"bump\"\n    LDI r2, \"count\"\n    PUSHARG r1\n    PUSHARG r2\n\
     \x20   CALL create_closure\n    RET r0\n}\n\
     fn bump(by) captures(count, \"odd name\", \"r1\", \"fn\", \"\", \"plain\") {\n\
     \x20   GETUPVAL r1, count\n    ADD r1, r1, r0\n    SETUPVAL \"count\", r1\n\
     \x20   LDI r2, 0\n    CMP r0, r2\n    JMPNEQ done\n\
     \x20   GETUPVAL r2, \"odd name\"\n    SETUPVAL \"r1\", r2\n    SETUPVAL \"fn\", r2\n\
     \x20   GETUPVAL r3, \"\"\n    SETUPVAL \"plain\", r3\n\
     done:\n    RET r1\n}\n";

#[test]
fn printed_programs_assemble_back_to_equal_programs() {
    for text in ROUND_TRIP {
        let program = assemble(text).unwrap_or_else(|error| panic!("{text}\n{error}"));
        let text_again = program.to_string();
        let again = assemble(&text_again).unwrap_or_else(|error| panic!("{text_again}\n{error}"));
        assert_eq!(again, program, "{text_again}");
        assert_eq!(again.to_string(), text_again);
    }
    // -0.0 equals 0.0 as a value: the text shows the sign survives.
    let program = assemble(ROUND_TRIP[4]).unwrap();
    assert!(program.to_string().contains("LDI r3, -0.0\n"));
    // Labels at one index, every name kind, register counts: exactly as assembled.
    let odd = program.function("odd name").unwrap();
    assert_eq!((odd.labels["start"], odd.labels["again"], odd.register_count), (0, 0, 16));
}

#[test]
fn getupval_and_setupval_assemble_print_and_run() {
    let program = assemble(UPVALUES).unwrap();
    let bump = program.function("bump").unwrap();
    assert_eq!(bump.upvalues, ["count", "odd name", "r1", "fn", "", "plain"]);
    assert_eq!(
        bump.instructions[..3],
        [
            Instruction::GETUPVAL(1, "count".into()),
            Instruction::ADD(1, 1, 0),
            Instruction::SETUPVAL("count".into(), 1)
        ]
    );
    assert_eq!(bump.instructions[6], Instruction::GETUPVAL(2, "odd name".into()));
    assert_eq!(bump.instructions[10], Instruction::SETUPVAL("plain".into(), 3));
    // `Display` of the instructions: the names as the assembler reads them back.
    let printed: Vec<String> = bump.instructions.iter().map(ToString::to_string).collect();
    assert_eq!(
        printed,
        [
            "GETUPVAL r1, count",
            "ADD r1, r1, r0",
            "SETUPVAL count, r1",
            "LDI r2, 0",
            "CMP r0, r2",
            "JMPNEQ done",
            "GETUPVAL r2, \"odd name\"",
            "SETUPVAL \"r1\", r2",
            "SETUPVAL \"fn\", r2",
            "GETUPVAL r3, \"\"",
            "SETUPVAL plain, r3",
            "RET r1",
        ]
    );
    assert!(program
        .to_string()
        .contains("fn bump(by) captures(count, \"odd name\", \"r1\", \"fn\", \"\", plain) registers(4) {\n"));
    // An identifier and a string name are the same instruction.
    let as_strings =
        assemble("fn f() captures(x) {\n    GETUPVAL r0, \"x\"\n    SETUPVAL \"x\", r0\n    RET r0\n}")
            .unwrap();
    let as_idents =
        assemble("fn f() captures(\"x\") {\n    GETUPVAL r0, x\n    SETUPVAL x, r0\n    RET r0\n}").unwrap();
    assert_eq!(as_strings, as_idents);
    // And it runs: the closure adds its argument to the shared count.
    let vm = VirtualMachine::new();
    vm.load(program).unwrap();
    let closure = vm.call("make", &[Value::Int(10)]).unwrap();
    assert_eq!(vm.call("call_closure", &[closure.clone(), Value::Int(5)]).unwrap(), Value::Int(15));
    let Value::Closure(handle) = &closure else { panic!("expected a closure") };
    assert_eq!(handle.upvalue("count").unwrap().get(), Value::Int(15));
    // `make` captured only `count`: reading `odd name` is an error at that instruction.
    let error = vm.call("call_closure", &[closure, Value::Int(0)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        "GETUPVAL: the closure of `bump` has no upvalue `odd name` (in `bump` at instruction 6)"
    );
}

#[test]
fn upvalue_names_of_every_shape_print_and_read_back() {
    // Built with the raw API, so nothing but `Display` decides how each name is written.
    let names =
        ["count", "a\nb", "tab\tquote\"", "é", "GETUPVAL", "RET", "r0", "sp", "_", "1x", "fn", "nan", ""];
    let mut instructions = Vec::new();
    for name in names {
        instructions.push(Instruction::GETUPVAL(0, name.to_string()));
        instructions.push(Instruction::SETUPVAL(name.to_string(), 0));
    }
    instructions.push(Instruction::RET(0));
    let function = stoffel::VMFunction::new(
        "f",
        vec![],
        names.iter().map(|name| name.to_string()).collect(),
        None,
        1,
        instructions,
        Default::default(),
    );
    function.validate().unwrap();
    let program = Program::new(vec![function]);
    let text = program.to_string();
    let again = assemble(&text).unwrap_or_else(|error| panic!("{text}\n{error}"));
    assert_eq!(again, program, "{text}");
    assert!(text.contains("    GETUPVAL r0, count\n    SETUPVAL count, r0\n"), "{text}");
    assert!(text.contains("    GETUPVAL r0, \"a\\nb\"\n"), "{text}");
}

#[test]
fn an_upvalue_the_function_does_not_declare() {
    // A near miss: a suggestion.
    assert_eq!(
        errors("fn f() captures(count) {\n    GETUPVAL r0, cont\n    RET r0\n}"),
        ["2:18: `cont` is not an upvalue of `f`\n  help: did you mean `count`?"]
    );
    // Nothing close: how to declare it.
    assert_eq!(
        errors("fn f() {\n    SETUPVAL total, r0\n    RET r0\n}"),
        ["2:14: `total` is not an upvalue of `f`\n  help: declare it in the header: `fn f(...) captures(total)`"]
    );
    // A string name, checked the same way; a parameter is not an upvalue.
    assert_eq!(
        errors("fn f(total) captures(count) {\n    GETUPVAL r0, \"total\"\n    RET r0\n}"),
        ["2:18: `total` is not an upvalue of `f`\n  help: declare it in the header: `fn f(...) captures(total)`"]
    );
    // Each function declares its own: `g` does not see `f`'s.
    assert_eq!(
        errors("fn f() captures(count) {\n    RET r0\n}\nfn g() {\n    GETUPVAL r0, count\n    RET r0\n}"),
        ["5:18: `count` is not an upvalue of `g`\n  help: declare it in the header: `fn g(...) captures(count)`"]
    );
    let error = assemble("fn f() {\n    GETUPVAL r0, x\n    SETUPVAL y, r0\n    RET r0\n}").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Assembly);
    assert_eq!(
        error.message(),
        "2:18: `x` is not an upvalue of `f`\n  help: declare it in the header: `fn f(...) captures(x)`\n\
         3:14: `y` is not an upvalue of `f`\n  help: declare it in the header: `fn f(...) captures(y)`"
    );
}

#[test]
fn the_help_for_an_undeclared_upvalue_is_a_header_that_assembles() {
    // `fn "odd f"(...) captures("a b")` is the header to write; the help says
    // `fn odd f(...) captures(a b)`, which does not read back.
    assert_eq!(
        errors("fn \"odd f\"() {\n    GETUPVAL r0, \"a b\"\n    RET r0\n}"),
        ["2:18: `a b` is not an upvalue of `odd f`\n  help: declare it in the header: `fn \"odd f\"(...) captures(\"a b\")`"]
    );
}

#[test]
fn upvalue_operands_of_the_wrong_kind_or_count() {
    assert_eq!(
        errors("fn f() captures(x) {\n    SETUPVAL r0, r0\n    RET r0\n}"),
        ["2:14: `SETUPVAL` expects an upvalue name, found register `r0`"]
    );
    assert_eq!(
        errors("fn f() captures(x) {\n    GETUPVAL x, r0\n    RET r0\n}"),
        [
            "2:14: `GETUPVAL` expects a register for rD, found identifier `x`",
            "2:17: `GETUPVAL` expects an upvalue name, found register `r0`"
        ]
    );
    assert_eq!(
        errors("fn f() captures(x) {\n    GETUPVAL r0, 5\n    GETUPVAL r0, [sp+0]\n    RET r0\n}"),
        [
            "2:18: `GETUPVAL` expects an upvalue name, found integer `5`",
            "3:18: `GETUPVAL` expects an upvalue name, found stack slot `[sp+0]`"
        ]
    );
    assert_eq!(
        errors("fn f() captures(x) {\n    GETUPVAL r0\n    SETUPVAL x, r0, r1\n    RET r0\n}"),
        [
            "2:5: `GETUPVAL` takes rD, upvalue; found 1 operand",
            "3:5: `SETUPVAL` takes upvalue, rA; found 3 operands"
        ]
    );
    assert_eq!(
        errors("fn f() captures(x) registers(1) {\n    GETUPVAL r1, x\n    SETUPVAL x, r2\n    RET r0\n}"),
        [
            "2:14: register `r1` is out of range: `f` declares registers(1), so `r0` to `r0`",
            "3:17: register `r2` is out of range: `f` declares registers(1), so `r0` to `r0`"
        ]
    );
    assert_eq!(
        errors("fn f() captures(x) {\n    GETUPVAL r0, {x}\n    RET r0\n}"),
        ["2:18: `{...}` Rust expressions are only allowed in `bytecode!`"]
    );
    assert_eq!(
        errors("fn f() captures(x) {\n    getupval r0, x\n    RET r0\n}"),
        ["2:5: unknown instruction `getupval`\n  help: did you mean `GETUPVAL`?"]
    );
    assert_eq!(
        errors("fn f() captures(x) {\n    SETUPVAL x, r0\n}"),
        ["2:5: `f` can run past its last instruction, `SETUPVAL`\n  help: end the function with `RET rA` or `JMP label`"]
    );
}

#[test]
fn the_shipped_examples_run() {
    let run = |text: &str| {
        let vm = VirtualMachine::new();
        let output = OutputBuffer::new();
        vm.set_output(output.clone());
        vm.load(assemble(text).unwrap()).unwrap();
        (vm.execute("main").unwrap(), output.contents())
    };
    assert_eq!(run(FIB), (Value::Int(75025), String::new()));
    let (sum, printed) = run(LOOP);
    assert_eq!(sum, Value::Int(499_999_500_000));
    assert_eq!(printed, "1\n2\nFizz\n4\nBuzz\nFizz\n7\n8\nFizz\nBuzz\n11\nFizz\n13\n14\nFizzBuzz\n");
    assert_eq!(run(CLOSURES), (Value::Int(104), "counter: 101\ncounter: 102\ncounter: 103\n".to_string()));
    assert_eq!(run(OBJECTS), (Value::Int(12), "{name: \"widget\", prices: [3, 4, 5]}\n".to_string()));
}

/// Pieces of assembler text, valid and not, for token soups and insertions.
const PIECES: &[&str] = &[
    "fn",
    "main",
    "f",
    "fib",
    "(",
    ")",
    "{",
    "}",
    "[sp+0]",
    "[sp-1]",
    "[sp-3]",
    "[sp+1]",
    ",",
    ":",
    ";",
    "r0",
    "r1",
    "r2",
    "r3",
    "r9",
    "r65535",
    "r65536",
    "LD",
    "LDI",
    "MOV",
    "ADD",
    "SUB",
    "MUL",
    "DIV",
    "MOD",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "SHL",
    "SHR",
    "CMP",
    "JMP",
    "JMPEQ",
    "JMPNEQ",
    "JMPLT",
    "JMPGT",
    "PUSHARG",
    "CALL",
    "RET",
    "GETUPVAL",
    "SETUPVAL",
    "count",
    "0",
    "1",
    "-1",
    "63",
    "64",
    "2.5",
    "-0.0",
    "nan",
    "inf",
    "true",
    "false",
    "()",
    "\"s\"",
    "\"\"",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "print",
    "create_array",
    "create_object",
    "array_push",
    "get_field",
    "set_field",
    "array_length",
    "create_closure",
    "call_closure",
    "get_upvalue",
    "set_upvalue",
    "type",
    "error",
    "\"main\"",
    "\"f\"",
    "loop:",
    "loop",
    "done:",
    "done",
    "captures(x)",
    "registers(4)",
    "registers(0)",
    "// c\n",
    "/*",
    "*/",
    "\n",
    " ",
    " ",
    "'c'",
    "{x}",
    "#",
    "é",
    "\"\\q\"",
    "\"unterminated",
];

/// Programs to mutate: between them they use every instruction and the builtins.
const SEEDS: &[&str] = &[
    FIB,
    LOOP,
    CLOSURES,
    OBJECTS,
    "fn main() {\n    LDI r0, 7\n    LDI r1, 3\n    DIV r2, r0, r1\n    MOD r3, r0, r1\n    SHL r4, r0, r1\n\
     \x20   SHR r5, r0, r1\n    AND r6, r0, r1\n    OR r6, r0, r1\n    XOR r6, r0, r1\n    NOT r6, r0\n\
     \x20   MUL r7, r0, r1\n    PUSHARG r7\n    PUSHARG r6\n    LD r8, [sp-1]\n    CALL f\n    RET r0\n}\n\
     fn f(a, b) {\n    CMP r0, r1\n    JMPGT big\n    RET r1\nbig:\n    RET r0\n}\n",
    UPVALUES,
];

/// Runs `program` in a fresh VM with a small budget: every function, with int arguments. An
/// error is fine; running long or losing the fuel limit is not.
fn run_bounded(program: Program) -> Result<(), String> {
    let vm = VirtualMachine::new();
    vm.set_output(std::io::sink());
    vm.set_max_call_depth(64);
    vm.set_max_live_objects(10_000);
    vm.set_max_array_length(10_000);
    let calls: Vec<(String, usize)> =
        program.functions().iter().map(|f| (f.name.clone(), f.parameters.len())).collect();
    if vm.load(program).is_err() {
        return Ok(()); // e.g. a register count the VM refuses: an error, not a panic
    }
    for (name, arity) in calls {
        vm.set_fuel(Some(10_000));
        let args: Vec<Value> = (0..arity as i64).map(|i| Value::Int(i + 3)).collect();
        let started = Instant::now();
        let _ = vm.call(&name, &args);
        if started.elapsed() > Duration::from_secs(5) {
            return Err(format!("`{name}` ran for {:?}", started.elapsed()));
        }
        if vm.fuel().is_none() {
            return Err(format!("`{name}` lost its fuel limit"));
        }
    }
    Ok(())
}

/// Assembles `text` and runs what assembles; a panic anywhere fails with the text that caused it.
fn exercise(text: &str, assembled: &mut usize) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let result = assemble(text);
        if let Err(error) = &result {
            // Every error lists at least one `line:col: message`.
            let first = error.message().lines().next().unwrap_or("");
            let position = first.split(": ").next().unwrap_or("");
            let mut numbers = position.split(':').map(str::parse::<u32>);
            assert!(
                matches!((numbers.next(), numbers.next(), numbers.next()), (Some(Ok(_)), Some(Ok(_)), None)),
                "no position in {:?}",
                error.message()
            );
        }
        result.ok().map(run_bounded)
    }));
    match outcome {
        Ok(None) => {}
        Ok(Some(Ok(()))) => *assembled += 1,
        Ok(Some(Err(problem))) => panic!("{problem}\nfor {text:?}"),
        Err(_) => panic!("panicked on {text:?}"),
    }
}

/// One of the [`SEEDS`] with one or two lines deleted, inserted, duplicated, swapped or changed.
fn mutant(rng: &mut XorShift, alphabet: &[char]) -> String {
    let mut lines: Vec<String> = rng.pick(SEEDS).lines().map(str::to_string).collect();
    for _ in 0..=rng.below(2) {
        if lines.is_empty() {
            break;
        }
        let at = rng.below(lines.len());
        match rng.below(5) {
            0 => {
                lines.remove(at);
            }
            1 => lines.insert(at, format!("    {} {}", rng.pick(PIECES), rng.pick(PIECES))),
            2 => {
                let copy = lines[at].clone();
                lines.insert(rng.below(lines.len()), copy);
            }
            3 => {
                let other = rng.below(lines.len());
                lines.swap(at, other);
            }
            _ => {
                let mut chars: Vec<char> = lines[at].chars().collect();
                let position = rng.below(chars.len() + 1);
                chars.insert(position, *rng.pick(alphabet));
                lines[at] = chars.into_iter().collect();
            }
        }
    }
    lines.join("\n")
}

#[test]
fn random_and_mutated_text_never_panics_and_runs_bounded() {
    let mut rng = XorShift(0x5EED_0F57_0FFE_0001);
    let alphabet: Vec<char> = "abfnrsp0123_ ,:;+-()[]{}\"\\/*\n\tée.LDIMOVADDCALLRETJMP".chars().collect();
    let mut assembled = 0;
    let mut total = 0;
    for round in 0..1500 {
        // Random bytes, read as text.
        let bytes: Vec<u8> = (0..rng.below(60)).map(|_| rng.next() as u8).collect();
        exercise(&String::from_utf8_lossy(&bytes), &mut assembled);
        // Characters of the grammar.
        let chars: String = (0..rng.below(60)).map(|_| *rng.pick(&alphabet)).collect();
        exercise(&chars, &mut assembled);
        // Token soup inside a function, so that bodies are exercised.
        let soup: Vec<&str> = (0..rng.below(30)).map(|_| *rng.pick(PIECES)).collect();
        exercise(&format!("fn main(a) {{ {} }}", soup.join(" ")), &mut assembled);
        total += 3;
        // Mutations of working programs: deletions, insertions, duplications, swapped lines.
        for _ in 0..3 {
            exercise(&mutant(&mut rng, &alphabet), &mut assembled);
            total += 1;
        }
        if round % 500 == 0 {
            // The seeds themselves, unmutated, now and then.
            for seed in SEEDS {
                exercise(seed, &mut assembled);
            }
        }
    }
    // Enough programs assembled and ran to mean something.
    assert!(assembled > 1000, "{assembled} of {total} assembled");
}
