use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main(n) {
            LDI r1, 0
            CMP r0, r1
            JMPEQ dne
            RET r1
        done:
            RET r0
        }
    };
}
