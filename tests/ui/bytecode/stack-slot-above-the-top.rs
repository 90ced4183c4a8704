use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 1
            PUSHARG r0
            LD r1, [sp+1]
            RET r1
        }
    };
}
