use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        LDI r0, 1
        RET r0
    };
}
