//! Fuzz target: the text assembler never panics, and whatever assembles prints as text that
//! assembles back to an equal program.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(program) = stoffel::asm::assemble(text) {
        let printed = program.to_string();
        let again = stoffel::asm::assemble(&printed).expect("disassembly must assemble");
        assert_eq!(printed, again.to_string(), "round trip changed the program");
    }
});
