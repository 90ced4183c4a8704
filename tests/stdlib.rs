//! Every builtin of DESIGN section 4, with its error cases.

mod common;
use common::*;
use stoffel::Instruction::*;
use stoffel::{ErrorKind, OutputBuffer, Value, VirtualMachine};

fn s(text: &str) -> Value {
    Value::from(text)
}

fn int(v: i64) -> Value {
    Value::Int(v)
}

#[test]
fn print_writes_space_separated_lines_to_the_sink() {
    let vm = VirtualMachine::new();
    let output = OutputBuffer::new();
    vm.set_output(output.clone());
    assert_eq!(
        vm.call("print", &[s("a"), int(1), Value::Float(2.0), Value::Bool(true), Value::Unit]).unwrap(),
        Value::Unit
    );
    vm.call("print", &[]).unwrap();
    let array = vm.call("create_array", &[]).unwrap();
    vm.call("array_push", &[array.clone(), int(1), s("x")]).unwrap();
    vm.call("print", &[array]).unwrap();
    assert_eq!(output.contents(), "a 1 2.0 true ()\n\n[1, \"x\"]\n");
}

#[test]
fn print_from_a_program() {
    let vm = vm_with(vec![function(
        "main",
        &[],
        2,
        body![LDI(0, s("hello")), LDI(1, s("world")), PUSHARG(0), PUSHARG(1), CALL("print".into()), RET(0),],
    )]);
    let output = OutputBuffer::new();
    vm.set_output(output.clone());
    vm.execute("main").unwrap();
    assert_eq!(output.contents(), "hello world\n");
}

#[test]
fn type_names_every_type() {
    let vm = vm_with(vec![
        function(
            "make_closure",
            &[],
            2,
            body![LDI(0, s("id")), PUSHARG(0), CALL("create_closure".into()), RET(0)],
        ),
        function("id", &["x"], 1, body![RET(0)]),
    ]);
    let object = vm.execute("create_object").unwrap();
    let array = vm.execute("create_array").unwrap();
    let foreign = vm.register_foreign_object(5u8);
    let closure = vm.execute("make_closure").unwrap();
    let cases = [
        (int(1), "int"),
        (Value::Float(1.0), "float"),
        (Value::Bool(false), "bool"),
        (s("s"), "string"),
        (object, "object"),
        (array, "array"),
        (foreign, "foreign"),
        (closure, "closure"),
        (Value::Unit, "unit"),
    ];
    for (value, name) in cases {
        assert_eq!(vm.call("type", &[value]).unwrap(), s(name));
    }
    assert_eq!(vm.call("type", &[]).unwrap_err().kind(), ErrorKind::Arity);
}

#[test]
fn objects_get_and_set_fields() {
    let vm = VirtualMachine::new();
    let object = vm.execute("create_object").unwrap();
    assert_eq!(vm.call("set_field", &[object.clone(), s("name"), s("x")]).unwrap(), Value::Unit);
    vm.call("set_field", &[object.clone(), int(1), int(10)]).unwrap();
    vm.call("set_field", &[object.clone(), Value::Bool(true), int(20)]).unwrap();
    assert_eq!(vm.call("get_field", &[object.clone(), s("name")]).unwrap(), s("x"));
    assert_eq!(vm.call("get_field", &[object.clone(), int(1)]).unwrap(), int(10));
    assert_eq!(vm.call("get_field", &[object.clone(), Value::Bool(true)]).unwrap(), int(20));
    // A missing key reads as unit.
    assert_eq!(vm.call("get_field", &[object.clone(), s("missing")]).unwrap(), Value::Unit);
    // Overwrite.
    vm.call("set_field", &[object.clone(), s("name"), s("y")]).unwrap();
    assert_eq!(vm.call("get_field", &[object.clone(), s("name")]).unwrap(), s("y"));
    assert_eq!(object.to_string(), "{1: 10, true: 20, name: \"y\"}");
    // Other key types are type errors.
    for key in [Value::Float(1.0), Value::Unit, object.clone()] {
        let error = vm.call("get_field", &[object.clone(), key.clone()]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Type, "{error}");
        let error = vm.call("set_field", &[object.clone(), key, int(1)]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Type, "{error}");
    }
    // Objects are shared by reference.
    let alias = object.clone();
    vm.call("set_field", &[alias, s("shared"), int(1)]).unwrap();
    assert_eq!(vm.call("get_field", &[object, s("shared")]).unwrap(), int(1));
}

#[test]
fn arrays_are_dense_and_zero_based() {
    let vm = VirtualMachine::new();
    let array = vm.call("create_array", &[int(16)]).unwrap();
    assert_eq!(vm.call("array_length", std::slice::from_ref(&array)).unwrap(), int(0));
    assert_eq!(vm.call("array_push", &[array.clone(), int(5)]).unwrap(), int(1));
    assert_eq!(vm.call("array_push", &[array.clone(), int(6), int(7)]).unwrap(), int(3));
    assert_eq!(vm.call("get_field", &[array.clone(), int(0)]).unwrap(), int(5));
    assert_eq!(vm.call("get_field", &[array.clone(), int(2)]).unwrap(), int(7));
    // Writing at len appends; within range replaces.
    vm.call("set_field", &[array.clone(), int(3), int(8)]).unwrap();
    vm.call("set_field", &[array.clone(), int(0), s("first")]).unwrap();
    assert_eq!(array.to_string(), "[\"first\", 6, 7, 8]");
    assert_eq!(vm.call("array_length", std::slice::from_ref(&array)).unwrap(), int(4));
    // Errors: out of range reads and writes, non-int keys, wrong targets.
    let read = vm.call("get_field", &[array.clone(), int(4)]).unwrap_err();
    assert_eq!(read.kind(), ErrorKind::Bounds);
    assert_eq!(read.message(), "array index 4 out of range for length 4");
    assert_eq!(vm.call("get_field", &[array.clone(), int(-1)]).unwrap_err().kind(), ErrorKind::Bounds);
    assert_eq!(vm.call("set_field", &[array.clone(), int(5), int(0)]).unwrap_err().kind(), ErrorKind::Bounds);
    assert_eq!(vm.call("get_field", &[array.clone(), s("0")]).unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(
        vm.call("array_length", &[int(1)]).unwrap_err().message(),
        "argument 1 of `array_length`: expected array, found int"
    );
    assert_eq!(vm.call("array_push", &[s("x"), int(1)]).unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(vm.call("array_push", std::slice::from_ref(&array)).unwrap_err().kind(), ErrorKind::Arity);
    assert_eq!(
        vm.call("get_field", &[int(1), int(0)]).unwrap_err().message(),
        "argument 1 of `get_field`: expected object or array, found int"
    );
    assert_eq!(vm.call("set_field", &[Value::Unit, int(0), int(0)]).unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(vm.call("create_array", &[int(-1)]).unwrap_err().kind(), ErrorKind::Bounds);
    assert_eq!(vm.call("create_array", &[s("x")]).unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(vm.call("create_array", &[int(1), int(2)]).unwrap_err().kind(), ErrorKind::Arity);
    // A huge capacity is a reservation hint, not an allocation.
    assert_eq!(vm.call("create_array", &[int(i64::MAX)]).unwrap().to_string(), "[]");
}

#[test]
fn arrays_longer_than_32_work() {
    let vm = VirtualMachine::new();
    let array = vm.execute("create_array").unwrap();
    for i in 0..1000 {
        vm.call("array_push", &[array.clone(), int(i)]).unwrap();
    }
    assert_eq!(vm.call("get_field", &[array.clone(), int(999)]).unwrap(), int(999));
    assert_eq!(vm.call("array_length", &[array]).unwrap(), int(1000));
}

#[test]
fn builtins_check_arity() {
    let vm = VirtualMachine::new();
    let cases: [(&str, Vec<Value>, &str); 6] = [
        ("create_object", vec![int(1)], "`create_object` takes 0 arguments, but 1 was given"),
        ("get_field", vec![int(1)], "`get_field` takes 2 arguments, but 1 was given"),
        ("set_field", vec![int(1), int(2)], "`set_field` takes 3 arguments, but 2 were given"),
        ("get_upvalue", vec![], "`get_upvalue` takes 1 argument, but 0 were given"),
        ("set_upvalue", vec![s("x")], "`set_upvalue` takes 2 arguments, but 1 was given"),
        ("create_array", vec![int(1), int(2)], "`create_array` takes 0 to 1 arguments, but 2 were given"),
    ];
    for (name, args, message) in cases {
        let error = vm.call(name, &args).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Arity);
        assert_eq!(error.message(), message);
    }
    assert_eq!(
        vm.call("create_closure", &[]).unwrap_err().message(),
        "`create_closure` takes at least 1 argument, but 0 were given"
    );
}

#[test]
fn error_raises_a_runtime_error_with_the_message() {
    let vm = vm_with(vec![function(
        "main",
        &[],
        1,
        body![LDI(0, s("something broke")), PUSHARG(0), CALL("error".into()), RET(0),],
    )]);
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Raised);
    assert_eq!(error.message(), "something broke");
    assert_eq!(error.call_stack()[0].function, "error");
    assert_eq!(error.call_stack()[1].function, "main");
}

#[test]
fn builtins_can_be_overridden() {
    let vm = VirtualMachine::new();
    vm.register_fn("type", |_: stoffel::Value| "mine");
    assert_eq!(vm.call("type", &[int(1)]).unwrap(), s("mine"));
}
