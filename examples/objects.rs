//! Objects, arrays and a foreign object in `bytecode!`: a shopping cart is an object holding an
//! array of items; the prices come from a Rust `Catalog` that the VM holds by reference and
//! asks through a `#[foreign_fn]`, called as `CALL {price}` so that the compiler checks it.
//!
//! Run with `cargo run --example objects`.

use std::collections::HashMap;

use stoffel::{bytecode, foreign, foreign_fn, IntoValue, Value, VirtualMachine};

/// The host's price list, handed to the VM as a foreign object.
struct Catalog {
    prices: HashMap<String, i64>,
    lookups: usize,
}

/// The price of `item`; an item the catalog does not list is an error.
#[foreign_fn]
fn price(catalog: &mut Catalog, item: &str) -> Result<i64, String> {
    catalog.lookups += 1;
    catalog.prices.get(item).copied().ok_or_else(|| format!("no price for `{item}`"))
}

fn main() -> Result<(), stoffel::Error> {
    let program = bytecode! {
        // cart(catalog): { owner: "ada", items: ["apple", "pear", "apple"], total: … }
        fn cart(catalog) {
            MOV r7, r0                  // keep the catalog: every CALL writes r0
            CALL create_object
            MOV r1, r0                  // the cart
            LDI r2, "owner"
            LDI r3, "ada"
            PUSHARG r1
            PUSHARG r2
            PUSHARG r3
            CALL set_field
            CALL create_array
            MOV r4, r0                  // its items
            LDI r2, "apple"
            LDI r3, "pear"
            PUSHARG r4
            PUSHARG r2
            PUSHARG r3
            PUSHARG r2
            CALL array_push             // appends, returns the new length
            LDI r2, "items"
            PUSHARG r1
            PUSHARG r2
            PUSHARG r4
            CALL set_field
            PUSHARG r7
            PUSHARG r4
            CALL total
            MOV r5, r0
            LDI r2, "total"
            PUSHARG r1
            PUSHARG r2
            PUSHARG r5
            CALL set_field
            RET r1
        }

        // total(catalog, items): the sum of the items' prices.
        fn total(catalog, items) {
            MOV r7, r0                  // keep the catalog
            PUSHARG r1
            CALL array_length
            MOV r2, r0                  // the length
            LDI r3, 0                   // the sum
            LDI r4, 0                   // the index
            LDI r5, 1
        next:
            CMP r4, r2
            JMPEQ done
            PUSHARG r1
            PUSHARG r4
            CALL get_field              // items[index]: arrays are 0-based
            PUSHARG r7
            PUSHARG r0
            CALL {price}                // the compiler checks `price` takes 2 arguments
            ADD r3, r3, r0
            ADD r4, r4, r5
            JMP next
        done:
            RET r3
        }
    };

    let vm = VirtualMachine::new();
    vm.load(program)?;
    vm.register_foreign(foreign!(price));

    let prices = HashMap::from([("apple".to_string(), 3), ("pear".to_string(), 4)]);
    let catalog = vm.register_foreign_object(Catalog { prices, lookups: 0 });

    let cart = vm.call("cart", std::slice::from_ref(&catalog))?;
    println!("cart: {cart}");
    let total = vm.call("get_field", &[cart.clone(), Value::from("total")])?;
    println!("the host reads its total through a builtin: {total}");

    // A host-made array works as well; an unknown item stops the program with the foreign
    // function's message and the call stack that led there.
    let basket = vec!["pear", "kiwi"].into_value();
    let error = vm.call("total", &[catalog.clone(), basket]).unwrap_err();
    println!("error: {error}");

    let catalog = vm.foreign_object::<Catalog>(&catalog)?;
    println!("the catalog answered {} lookups", catalog.lock().unwrap().lookups);
    Ok(())
}
