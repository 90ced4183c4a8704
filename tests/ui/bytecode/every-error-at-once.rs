use stoffel::bytecode;

fn main() {
    let program: stoffel::Program = bytecode! {
        fn main() registers(2) {
            LDI r0, 1
            MOV r2, r0
            JMP nowhere
        }
        fn broken() {
            ADDD r0, r0, r0
            LDI r0, 'c'
            RET r0
        }
        fn main() {
            RET r0
        }
    };
    // The stand-in is a Program: nothing else errs.
    let _ = program.functions().len();
}
