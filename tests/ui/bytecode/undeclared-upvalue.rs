use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn counter(step) captures(count) {
            GETUPVAL r1, cont
            ADD r1, r1, r0
            SETUPVAL "total", r1
            RET r1
        }
    };
}
