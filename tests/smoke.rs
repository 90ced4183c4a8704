mod common;
use common::*;
use stoffel::Instruction::*;
use stoffel::*;

#[test]
fn fib_runs() {
    let fib = function("fib", &["n"], 4, body![
        LDI(1, Value::Int(2)),
        CMP(0, 1),
        JMPLT("done".into()),
        MOV(3, 0),
        LDI(1, Value::Int(1)),
        SUB(2, 3, 1),
        PUSHARG(2),
        CALL("fib".into()),
        MOV(2, 0),
        LDI(1, Value::Int(2)),
        SUB(1, 3, 1),
        PUSHARG(1),
        CALL("fib".into()),
        ADD(0, 2, 0),
        label("done"),
        RET(0),
    ]);
    let vm = vm_with(vec![fib]);
    assert_eq!(vm.call("fib", &[Value::Int(20)]).unwrap(), Value::Int(6765));
}
