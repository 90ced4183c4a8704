use stoffel::{foreign, VirtualMachine};

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    let vm = VirtualMachine::new();
    vm.register_foreign(foreign!(add));
}
