//! The run-time assembler: loads Stoffel assembly from a `.stf` text file, runs its `main`,
//! and shows how a mistake in the text is reported, at its line and column.
//!
//! Run with `cargo run --example assembler` (runs `examples/fib.stf`), or give another file:
//! `cargo run --example assembler -- examples/loop.stf`.

use std::path::PathBuf;

use stoffel::{asm, VirtualMachine};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/fib.stf"),
    };
    let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;

    // `assemble` checks the text as `bytecode!` checks its block: every mistake, with its
    // `line:column`, in one error.
    let program =
        asm::assemble(&text).map_err(|error| format!("{}:\n{}", path.display(), error.message()))?;
    let shown = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&path);
    println!("{} assembled: {} functions", shown.display(), program.functions().len());

    let vm = VirtualMachine::new();
    vm.load(program)?;
    let result = vm.execute("main")?;
    println!("main returned {result}");

    // A broken program: `assemble_diagnostics` gives each mistake, `render` shows it under its
    // line, as a compiler would.
    let broken = "fn main() {\n    LDI r0, 1\n    ADDD r0, r0, r0\n    JMPLT finish\n    RET r0\n}\n";
    println!("\nand a program with mistakes:\n{broken}");
    if let Err(diagnostics) = asm::assemble_diagnostics(broken) {
        for diagnostic in &diagnostics {
            println!("{}", asm::render(broken, diagnostic));
        }
    }
    Ok(())
}
