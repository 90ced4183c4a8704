//! The `stoffel` binary end to end: each subcommand and flag, argument types, every kind of
//! failure and its exit code, run as a user would run them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of `stoffel` printed and returned.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The workspace root, where `examples/*.stf` live: commands run there so messages show
/// `examples/fib.stf` as a user would type it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the crate is in the workspace").to_path_buf()
}

/// Runs `stoffel ARGS` in `dir`.
fn stoffel_in(dir: &Path, args: &[&str]) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_stoffel"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the stoffel binary runs");
    Outcome {
        code: output.status.code().expect("stoffel exits with a code"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `stoffel ARGS` at the workspace root.
fn stoffel(args: &[&str]) -> Outcome {
    stoffel_in(&root(), args)
}

/// A scratch directory of this test's own, holding `files`.
fn scratch(test: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stoffel-cli").join(test);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents).unwrap();
    }
    dir
}

/// Asserts success with exactly `stdout` and nothing on stderr.
#[track_caller]
fn assert_success(outcome: &Outcome, stdout: &str) {
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, ""), "{outcome:#?}");
    assert_eq!(outcome.stdout, stdout, "{outcome:#?}");
}

/// Asserts failure with `code`, exactly `stderr` and nothing on stdout.
#[track_caller]
fn assert_failure(outcome: &Outcome, code: i32, stderr: &str) {
    assert_eq!((outcome.code, outcome.stdout.as_str()), (code, ""), "{outcome:#?}");
    assert_eq!(outcome.stderr, stderr, "{outcome:#?}");
}

const RUNTIME_ERROR: i32 = 1;
const INPUT_ERROR: i32 = 2;

/// Prints `TYPE VALUE` of its argument and returns it.
const DESCRIBE: &str = "\
fn describe(x) {
    MOV r1, r0
    PUSHARG r1
    CALL type
    MOV r2, r0
    PUSHARG r2
    PUSHARG r1
    CALL print
    RET r1
}
";

// ---- help and version

#[test]
fn help_lists_the_subcommands_and_the_exit_codes() {
    let outcome = stoffel(&["--help"]);
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    for expected in
        ["Usage: stoffel <COMMAND>", "  run ", "  check ", "  disasm ", "Exit codes:", "  1  runtime error"]
    {
        assert!(outcome.stdout.contains(expected), "{expected:?} missing:\n{}", outcome.stdout);
    }
}

#[test]
fn run_help_explains_arguments_and_flags() {
    let outcome = stoffel(&["run", "--help"]);
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    for expected in [
        "Usage: stoffel run [OPTIONS] <FILE> [ARGS]...",
        "--entry <FUNCTION>",
        "[default: main]",
        "--trace",
        "--profile",
        "--max-instructions <N>",
        "--max-depth <N>",
        "'\"42\"' is a string",
        "'()'",
        "Exit codes:",
    ] {
        assert!(outcome.stdout.contains(expected), "{expected:?} missing:\n{}", outcome.stdout);
    }
    assert_eq!(stoffel(&["help", "check"]).code, 0);
    assert_eq!(stoffel(&["disasm", "-h"]).code, 0);
}

#[test]
fn version_prints_the_package_version() {
    assert_success(&stoffel(&["--version"]), &format!("stoffel {}\n", env!("CARGO_PKG_VERSION")));
    assert_success(&stoffel(&["-V"]), &format!("stoffel {}\n", env!("CARGO_PKG_VERSION")));
}

// ---- usage errors: exit code 2

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &[][..],
        &["frob"],
        &["run"],
        &["check"],
        &["run", "examples/fib.stf", "--frob"],
        &["run", "examples/fib.stf", "--max-depth", "0"],
        &["run", "examples/fib.stf", "--max-instructions", "-1"],
        &["check", "examples/fib.stf", "examples/loop.stf"],
    ] {
        let outcome = stoffel(args);
        assert_eq!(outcome.code, INPUT_ERROR, "{args:?}: {outcome:#?}");
        // clap's error, or the help when no subcommand is given.
        assert!(
            outcome.stderr.starts_with("error: ") || outcome.stderr.contains("Usage: stoffel "),
            "{outcome:#?}"
        );
        assert!(!outcome.stderr.contains("panicked"), "{outcome:#?}");
    }
    let outcome = stoffel(&["run", "examples/fib.stf", "--max-depth", "0"]);
    assert!(outcome.stderr.contains("the limit must be at least 1"), "{outcome:#?}");
}

// ---- run

#[test]
fn run_prints_the_result_of_main() {
    assert_success(&stoffel(&["run", "examples/fib.stf"]), "75025\n");
    assert_success(&stoffel(&["run", "examples/objects.stf"]), "{name: \"widget\", prices: [3, 4, 5]}\n12\n");
    assert_success(
        &stoffel(&["run", "examples/closures.stf"]),
        "counter: 101\ncounter: 102\ncounter: 103\n104\n",
    );
}

#[test]
fn run_keeps_the_programs_output_on_stdout_before_the_result() {
    let outcome = stoffel(&["run", "examples/loop.stf"]);
    let fizzbuzz = "1\n2\nFizz\n4\nBuzz\nFizz\n7\n8\nFizz\nBuzz\n11\nFizz\n13\n14\nFizzBuzz\n";
    assert_success(&outcome, &format!("{fizzbuzz}499999500000\n"));
}

#[test]
fn run_calls_the_entry_function_with_arguments() {
    assert_success(&stoffel(&["run", "examples/fib.stf", "--entry", "fib", "20"]), "6765\n");
    // Options may follow the arguments.
    assert_success(&stoffel(&["run", "examples/fib.stf", "20", "--entry", "fib"]), "6765\n");
    assert_success(&stoffel(&["run", "examples/divide.stf", "10", "4"]), "2\n");
    assert_success(&stoffel(&["run", "examples/divide.stf", "7.0", "2"]), "3.5\n");
}

#[test]
fn arguments_of_each_type() {
    let dir = scratch("arguments_of_each_type", &[("describe.stf", DESCRIBE.as_bytes())]);
    let describe = |arg: &str| stoffel_in(&dir, &["run", "describe.stf", "--entry", "describe", arg]);
    for (arg, printed, result) in [
        ("42", "int 42", "42"),
        ("-7", "int -7", "-7"),
        ("1_000_000", "int 1000000", "1000000"),
        ("0xFF", "int 255", "255"),
        ("-9223372036854775808", "int -9223372036854775808", "-9223372036854775808"),
        ("2.5", "float 2.5", "2.5"),
        ("-0.5", "float -0.5", "-0.5"),
        ("1e3", "float 1000.0", "1000.0"),
        ("true", "bool true", "true"),
        ("false", "bool false", "false"),
        ("()", "unit ()", "()"),
        ("hello", "string hello", "hello"),
        ("hello world", "string hello world", "hello world"),
        ("\"42\"", "string 42", "42"),
        ("\"true\"", "string true", "true"),
        ("\"()\"", "string ()", "()"),
        ("\"tab\\there\"", "string tab\there", "tab\there"),
        ("", "string ", ""),
    ] {
        assert_success(&describe(arg), &format!("{printed}\n{result}\n"));
    }
    // A word that begins with `-` but is no number is a string after `--`.
    assert_success(
        &stoffel_in(&dir, &["run", "describe.stf", "--entry", "describe", "--", "-x"]),
        "string -x\n-x\n",
    );
}

#[test]
fn malformed_arguments_are_input_errors() {
    assert_failure(
        &stoffel(&["run", "examples/divide.stf", "4O", "1"]),
        INPUT_ERROR,
        "error: argument 1: `4O` is not a number: literal suffix `O` is not supported; write the plain number\n  \
         = help: to pass a string, quote it for the shell: '\"4O\"'\n",
    );
    assert_failure(
        &stoffel(&["run", "examples/divide.stf", "1", "9223372036854775808"]),
        INPUT_ERROR,
        "error: argument 2: `9223372036854775808` does not fit in a 64-bit int\n  \
         = help: to pass a string, quote it for the shell: '\"9223372036854775808\"'\n",
    );
    assert_failure(
        &stoffel(&["run", "examples/divide.stf", "1", "\"open"]),
        INPUT_ERROR,
        "error: argument 2: unterminated string\n",
    );
}

#[test]
fn the_wrong_number_of_arguments_is_an_input_error() {
    assert_failure(
        &stoffel(&["run", "examples/divide.stf", "10"]),
        INPUT_ERROR,
        "error: `main` takes 2 arguments (total, count), but 1 was given\n  \
         = help: call it as `stoffel run examples/divide.stf <total> <count>`\n",
    );
    assert_failure(
        &stoffel(&["run", "examples/fib.stf", "--entry", "fib"]),
        INPUT_ERROR,
        "error: `fib` takes 1 argument (n), but 0 were given\n  \
         = help: call it as `stoffel run examples/fib.stf --entry fib <n>`\n",
    );
    assert_failure(
        &stoffel(&["run", "examples/fib.stf", "1", "2"]),
        INPUT_ERROR,
        "error: `main` takes no arguments, but 2 were given\n  = help: call it as `stoffel run examples/fib.stf`\n",
    );
}

#[test]
fn a_missing_entry_function_is_an_input_error() {
    assert_failure(
        &stoffel(&["run", "examples/fib.stf", "--entry", "fibonacci"]),
        INPUT_ERROR,
        "error: no function `fibonacci` in examples/fib.stf\n  \
         = help: its functions are `main`, `fib`; choose one with --entry\n",
    );
}

// ---- runtime errors: exit code 1

#[test]
fn a_runtime_error_prints_the_message_and_the_call_stack() {
    assert_failure(
        &stoffel(&["run", "examples/divide.stf", "10", "0"]),
        RUNTIME_ERROR,
        "error: division by zero in DIV\n  \
         at `average` instruction 0 (examples/divide.stf:14:5)\n  \
         at `main` instruction 2 (examples/divide.stf:8:5)\n",
    );
}

#[test]
fn runtime_errors_of_other_kinds() {
    let program = "\
fn main(x) {
    PUSHARG r0
    CALL twice
    RET r0
}
fn twice(x) {
    ADD r0, r0, r0
    RET r0
}
fn raise() {
    LDI r0, \"custom failure\"
    PUSHARG r0
    CALL error
    RET r0
}
";
    let dir = scratch("runtime_errors_of_other_kinds", &[("twice.stf", program.as_bytes())]);
    assert_success(&stoffel_in(&dir, &["run", "twice.stf", "21"]), "42\n");
    assert_success(&stoffel_in(&dir, &["run", "twice.stf", "ab"]), "abab\n");
    assert_failure(
        &stoffel_in(&dir, &["run", "twice.stf", "true"]),
        RUNTIME_ERROR,
        "error: ADD cannot take bool and bool\n  at `twice` instruction 0 (twice.stf:7:5)\n  \
         at `main` instruction 1 (twice.stf:3:5)\n",
    );
    assert_failure(
        &stoffel_in(&dir, &["run", "twice.stf", "9223372036854775807"]),
        RUNTIME_ERROR,
        "error: arithmetic overflow in ADD\n  at `twice` instruction 0 (twice.stf:7:5)\n  \
         at `main` instruction 1 (twice.stf:3:5)\n",
    );
    let raised = stoffel_in(&dir, &["run", "twice.stf", "--entry", "raise"]);
    assert_eq!(raised.code, RUNTIME_ERROR, "{raised:#?}");
    assert!(raised.stderr.starts_with("error: custom failure\n"), "{raised:#?}");
    assert!(raised.stderr.contains("  at `raise` instruction 2 (twice.stf:13:5)\n"), "{raised:#?}");
}

#[test]
fn deep_recursion_is_a_runtime_error_with_a_collapsed_stack() {
    let dir = scratch("deep_recursion", &[("forever.stf", b"fn main() {\n    CALL main\n    RET r0\n}\n")]);
    assert_failure(
        &stoffel_in(&dir, &["run", "forever.stf"]),
        RUNTIME_ERROR,
        "error: call depth limit of 100000 exceeded\n  at `main` instruction 0 (forever.stf:2:5)\n  \
         [the frame above repeats 255 more times]\n  \
         [99744 outer frames of 100000 not recorded: the VM keeps the innermost 256]\n",
    );
}

// ---- limits

#[test]
fn max_instructions_limits_the_run() {
    assert_success(&stoffel(&["run", "examples/divide.stf", "10", "4", "--max-instructions", "6"]), "2\n");
    let outcome = stoffel(&["run", "examples/fib.stf", "--max-instructions", "1000"]);
    assert_eq!(outcome.code, RUNTIME_ERROR, "{outcome:#?}");
    assert!(outcome.stderr.starts_with("error: out of fuel: the instruction budget is used up\n  at `fib` "));
    assert!(outcome.stderr.ends_with("  at `main` instruction 2 (examples/fib.stf:7:5)\n"), "{outcome:#?}");
    assert_eq!(
        stoffel(&["run", "examples/divide.stf", "10", "4", "--max-instructions", "3"]).code,
        RUNTIME_ERROR
    );
}

#[test]
fn max_depth_limits_nesting() {
    assert_success(
        &stoffel(&["run", "examples/fib.stf", "--entry", "fib", "10", "--max-depth", "10"]),
        "55\n",
    );
    assert_failure(
        &stoffel(&["run", "examples/fib.stf", "--entry", "fib", "10", "--max-depth", "3"]),
        RUNTIME_ERROR,
        "error: call depth limit of 3 exceeded\n  at `fib` instruction 7 (examples/fib.stf:20:5)\n  \
         [the frame above repeats 2 more times]\n",
    );
}

// ---- instruments

#[test]
fn trace_writes_every_instruction_to_stderr() {
    let outcome = stoffel(&["run", "examples/divide.stf", "10", "4", "--trace"]);
    assert_eq!((outcome.code, outcome.stdout.as_str()), (0, "2\n"), "{outcome:#?}");
    assert_eq!(
        outcome.stderr,
        "\
main:0           PUSHARG r0
main:1           PUSHARG r1
main:2           CALL average
  average:0      DIV r2, r0, r1         r2 = 2
  average:1      RET r2
main:2           CALL average           r0 = 2
main:3           RET r0
"
    );
}

#[test]
fn trace_shows_builtin_calls_and_keeps_program_output_on_stdout() {
    let outcome = stoffel(&["run", "examples/closures.stf", "--trace"]);
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    assert_eq!(outcome.stdout, "counter: 101\ncounter: 102\ncounter: 103\n104\n");
    for line in [
        "main:2           CALL make_counter\n",
        "  make_counter:4 CALL create_closure    r0 = <closure counter>\n",
        "main:2           CALL make_counter      r0 = <closure counter>\n",
        "  counter:4      ADD r1, r0, r1         r1 = 103\n",
        "main:12          CALL print             r0 = ()\n",
        "main:17          CALL call_closure      r0 = 104\n",
    ] {
        assert!(outcome.stderr.contains(line), "{line:?} missing:\n{}", outcome.stderr);
    }
    assert!(outcome.stderr.ends_with("main:18          RET r0\n"), "{}", outcome.stderr);
}

#[test]
fn trace_and_program_output_interleave_in_order_on_one_terminal() {
    // Both streams into one file, as on a terminal: a `print` appears inside its `CALL`.
    let path = scratch("interleave", &[]).join("both.txt");
    let file = std::fs::File::create(&path).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_stoffel"))
        .args(["run", "examples/closures.stf", "--trace"])
        .current_dir(root())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert!(status.success());
    let both = std::fs::read_to_string(&path).unwrap();
    let expected =
        "main:11          PUSHARG r0\ncounter: 101\nmain:12          CALL print             r0 = ()\n";
    assert!(both.contains(expected), "{both}");
    assert!(both.ends_with("main:18          RET r0\n104\n"), "{both}");
}

#[test]
fn trace_ends_at_the_failing_instruction() {
    let outcome = stoffel(&["run", "examples/divide.stf", "10", "0", "--trace"]);
    assert_failure(
        &outcome,
        RUNTIME_ERROR,
        "\
main:0           PUSHARG r0
main:1           PUSHARG r1
main:2           CALL average
  average:0      DIV r2, r0, r1
error: division by zero in DIV
  at `average` instruction 0 (examples/divide.stf:14:5)
  at `main` instruction 2 (examples/divide.stf:8:5)
",
    );
}

/// (function, calls, instructions) of each row of a profile table, the total last.
fn profile_counts(table: &str) -> Vec<(String, u64, u64)> {
    table
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells.len(), 5, "{line}");
            cells[3].parse::<f64>().expect("self ms");
            cells[4].parse::<f64>().expect("total ms");
            (cells[0].to_string(), cells[1].parse().unwrap(), cells[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn profile_prints_calls_instructions_and_time_per_function() {
    let outcome = stoffel(&["run", "examples/fib.stf", "--entry", "fib", "10", "--profile"]);
    assert_eq!((outcome.code, outcome.stdout.as_str()), (0, "55\n"), "{outcome:#?}");
    assert!(outcome.stderr.starts_with("function     calls  instructions     self ms    total ms\n"));
    // fib(10): 177 calls; 89 leaves run 4 instructions, 88 inner calls 15.
    assert_eq!(
        profile_counts(&outcome.stderr),
        [("fib".to_string(), 177, 89 * 4 + 88 * 15), ("total".to_string(), 177, 1676)]
    );

    let outcome = stoffel(&["run", "examples/closures.stf", "--profile"]);
    assert_eq!(outcome.stdout, "counter: 101\ncounter: 102\ncounter: 103\n104\n");
    // `call_closure` counts as a call of the closure's function; builtins run no instructions.
    assert_eq!(
        profile_counts(&outcome.stderr),
        [
            ("counter".to_string(), 4, 40),
            ("main".to_string(), 1, 35),
            ("make_counter".to_string(), 1, 6),
            ("get_upvalue".to_string(), 4, 0),
            ("set_upvalue".to_string(), 4, 0),
            ("print".to_string(), 3, 0),
            ("create_closure".to_string(), 1, 0),
            ("total".to_string(), 18, 81),
        ]
    );
}

#[test]
fn profile_and_trace_still_report_a_failed_run() {
    let outcome = stoffel(&["run", "examples/divide.stf", "10", "0", "--profile"]);
    assert_eq!(outcome.code, RUNTIME_ERROR, "{outcome:#?}");
    assert_eq!(
        profile_counts(outcome.stderr.split("error:").next().unwrap()),
        [("main".to_string(), 1, 3), ("average".to_string(), 1, 1), ("total".to_string(), 2, 4)]
    );
    assert!(outcome.stderr.ends_with("  at `main` instruction 2 (examples/divide.stf:8:5)\n"));
}

// ---- check

#[test]
fn check_summarises_a_valid_program() {
    assert_success(
        &stoffel(&["check", "examples/fib.stf"]),
        "examples/fib.stf: ok, 2 functions (main, fib), 19 instructions\n",
    );
    for example in ["closures", "divide", "loop", "objects"] {
        let outcome = stoffel(&["check", &format!("examples/{example}.stf")]);
        assert_eq!(outcome.code, 0, "{outcome:#?}");
        assert!(outcome.stdout.starts_with(&format!("examples/{example}.stf: ok, ")), "{outcome:#?}");
    }
}

#[test]
fn check_shows_a_syntax_error_under_its_line() {
    let dir = scratch(
        "check_syntax_error",
        &[("typo.stf", b"fn main() {\n    LDI r0, 1\n    ADDD r0, r0, r0\n    RET r0\n}\n")],
    );
    assert_failure(
        &stoffel_in(&dir, &["check", "typo.stf"]),
        INPUT_ERROR,
        "\
error: unknown instruction `ADDD`
 --> typo.stf:3:5
  |
3 |     ADDD r0, r0, r0
  |     ^^^^
  = help: did you mean `ADD`?

error: could not assemble typo.stf due to 1 previous error
",
    );
}

#[test]
fn check_reports_every_error_then_the_count() {
    let program = "\
// three mistakes
fn main() {
    LDI r0, 1
    ADDD r0, r0, r0
    JMPLT finish
    LDI r1, 99999999999999999999
    RET r0
}
";
    let dir = scratch("check_every_error", &[("three.stf", program.as_bytes())]);
    assert_failure(
        &stoffel_in(&dir, &["check", "three.stf"]),
        INPUT_ERROR,
        "\
error: unknown instruction `ADDD`
 --> three.stf:4:5
  |
4 |     ADDD r0, r0, r0
  |     ^^^^
  = help: did you mean `ADD`?

error: undefined label `finish` in `main`
 --> three.stf:5:11
  |
5 |     JMPLT finish
  |           ^^^^^^

error: integer `99999999999999999999` does not fit in a 64-bit signed integer
 --> three.stf:6:13
  |
6 |     LDI r1, 99999999999999999999
  |             ^^^^^^^^^^^^^^^^^^^^
  = note: integers range from -9223372036854775808 to 9223372036854775807

error: could not assemble three.stf due to 3 previous errors
",
    );
    // `run` and `disasm` refuse the same file the same way.
    assert_eq!(
        stoffel_in(&dir, &["run", "three.stf"]).stderr,
        stoffel_in(&dir, &["check", "three.stf"]).stderr
    );
    assert_eq!(stoffel_in(&dir, &["disasm", "three.stf"]).code, INPUT_ERROR);
}

#[test]
fn a_missing_file_is_an_input_error() {
    for command in ["run", "check", "disasm"] {
        assert_failure(
            &stoffel(&[command, "examples/missing.stf"]),
            INPUT_ERROR,
            "error: cannot read `examples/missing.stf`: No such file or directory (os error 2)\n",
        );
    }
}

#[test]
fn a_file_that_is_not_a_program_is_an_input_error() {
    let dir = scratch(
        "not_a_program",
        &[
            ("binary.stf", &[0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0]),
            ("notes.txt", b"Shopping list:\n- milk\n"),
        ],
    );
    assert_failure(
        &stoffel_in(&dir, &["check", "binary.stf"]),
        INPUT_ERROR,
        "error: `binary.stf` is not a Stoffel program: it is not UTF-8 text (invalid byte at offset 4)\n",
    );
    let outcome = stoffel_in(&dir, &["check", "notes.txt"]);
    assert_eq!((outcome.code, outcome.stdout.as_str()), (INPUT_ERROR, ""), "{outcome:#?}");
    assert!(outcome.stderr.starts_with("error: "), "{outcome:#?}");
    assert!(outcome.stderr.contains(" --> notes.txt:1:1\n"), "{outcome:#?}");
    assert!(
        outcome.stderr.ends_with("error: could not assemble notes.txt due to 1 previous error\n"),
        "{outcome:#?}"
    );
    assert_failure(
        &stoffel_in(&dir, &["check", "."]),
        INPUT_ERROR,
        "error: cannot read `.`: Is a directory (os error 21)\n",
    );
}

// ---- disasm

#[test]
fn disasm_prints_the_canonical_text() {
    assert_success(
        &stoffel(&["disasm", "examples/divide.stf"]),
        "\
fn main(total, count) registers(2) {
    PUSHARG r0
    PUSHARG r1
    CALL average
    RET r0
}

fn average(total, count) registers(3) {
    DIV r2, r0, r1
    RET r2
}
",
    );
}

#[test]
fn disasm_output_assembles_back_to_an_equal_program() {
    for example in ["closures", "divide", "fib", "loop", "objects"] {
        let path = root().join(format!("examples/{example}.stf"));
        let original = stoffel::asm::assemble(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let outcome = stoffel(&["disasm", &format!("examples/{example}.stf")]);
        assert_eq!(outcome.code, 0, "{outcome:#?}");
        let reassembled =
            stoffel::asm::assemble(&outcome.stdout).unwrap_or_else(|error| panic!("{example}: {error}"));
        assert_eq!(reassembled, original, "{example}");
        // And the text is a fixed point: disassembling it again prints it again.
        let dir = scratch("disasm_round_trip", &[(&format!("{example}.stf"), outcome.stdout.as_bytes())]);
        assert_success(&stoffel_in(&dir, &["disasm", &format!("{example}.stf")]), &outcome.stdout);
    }
}
