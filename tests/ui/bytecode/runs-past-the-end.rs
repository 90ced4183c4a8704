use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 1
            PUSHARG r0
            CALL print
        }
    };
}
