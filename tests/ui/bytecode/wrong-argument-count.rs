use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 1
            PUSHARG r0
            PUSHARG r0
            CALL add_one
            RET r0
        }
        fn add_one(x) {
            LDI r1, 1
            ADD r0, r0, r1
            RET r0
        }
    };
}
