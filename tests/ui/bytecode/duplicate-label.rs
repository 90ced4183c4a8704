use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
        again:
            LDI r0, 1
        again:
            JMP again
        }
    };
}
