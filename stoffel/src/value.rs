//! Values: the dynamically typed data the VM computes with, and the shared handles (objects,
//! arrays, foreign objects, closures) that alias when cloned.

use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::closure::Closure;
use crate::fields::{Fields, KeyRef};
use crate::object_store::LiveToken;

/// A VM value. Cloning is cheap: scalars copy, everything else clones a reference count, so
/// objects, arrays, foreign objects and closures are shared by reference (clones alias).
///
/// # Examples
/// ```
/// use stoffel::Value;
/// assert_eq!(Value::from(42).to_string(), "42");
/// assert_eq!(Value::from(1.0).to_string(), "1.0");
/// assert_eq!(format!("{:?}", Value::from("hi")), "\"hi\"");
/// ```
#[derive(Default)]
pub enum Value {
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit IEEE float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An immutable string, shared on clone.
    String(Str),
    /// A map from int/string/bool keys to values, shared on clone.
    Object(ObjectRef),
    /// A dense, 0-based array, shared on clone.
    Array(ArrayRef),
    /// A host value stored with [`VirtualMachine::register_foreign_object`](crate::VirtualMachine::register_foreign_object).
    Foreign(ForeignRef),
    /// A function with captured upvalue cells.
    Closure(Arc<Closure>),
    /// The unit value `()`: "nothing", a missing field, a fresh register.
    #[default]
    Unit,
}

// A Value is two words: the hot loop copies them around, so keep it that way.
const _: () = assert!(std::mem::size_of::<Value>() <= 16);

impl Clone for Value {
    /// Scalars copy; reference values share (a count increment). Ints are tested first, apart
    /// from the rest: registers mostly hold them, and one predictable branch beats the jump
    /// table a full `match` becomes.
    #[inline(always)]
    fn clone(&self) -> Value {
        match self {
            Value::Int(int) => Value::Int(*int),
            other => other.clone_other(),
        }
    }
}

impl Value {
    #[inline]
    fn clone_other(&self) -> Value {
        match self {
            Value::Int(int) => Value::Int(*int),
            Value::Float(float) => Value::Float(*float),
            Value::Bool(bool) => Value::Bool(*bool),
            Value::String(string) => Value::String(string.clone()),
            Value::Object(object) => Value::Object(object.clone()),
            Value::Array(array) => Value::Array(array.clone()),
            Value::Foreign(foreign) => Value::Foreign(foreign.clone()),
            Value::Closure(closure) => Value::Closure(Arc::clone(closure)),
            Value::Unit => Value::Unit,
        }
    }

    /// Whether the value holds no reference (int, float, bool, unit): dropping it does nothing.
    #[inline(always)]
    pub(crate) fn is_scalar(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Unit)
    }
}

impl Value {
    /// The type name the VM uses in messages and `type(value)`: `"int"`, `"float"`, `"bool"`,
    /// `"string"`, `"object"`, `"array"`, `"foreign"`, `"closure"` or `"unit"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::String(_) => "string",
            Value::Object(_) => "object",
            Value::Array(_) => "array",
            Value::Foreign(_) => "foreign",
            Value::Closure(_) => "closure",
            Value::Unit => "unit",
        }
    }

    /// Whether this is [`Value::Unit`].
    pub fn is_unit(&self) -> bool {
        matches!(self, Value::Unit)
    }

    /// Compares two values as `CMP` does: numbers numerically and exactly (an int against a
    /// float without rounding through `f64`), strings by bytes, `false < true`, unit equals unit,
    /// reference types equal only to themselves. `None` means unordered (NaN, unrelated types,
    /// two different objects).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Float(b)) => compare_int_float(*a, *b),
            (Value::Float(a), Value::Int(b)) => compare_int_float(*b, *a).map(Ordering::reverse),
            (Value::String(a), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Unit, Value::Unit) => Some(Ordering::Equal),
            _ if self.same_reference(other) => Some(Ordering::Equal),
            _ => None,
        }
    }

    /// Whether both values are the same object, array, foreign object or closure.
    pub fn same_reference(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(&a.0, &b.0),
            (Value::Array(a), Value::Array(b)) => Arc::ptr_eq(&a.0, &b.0),
            (Value::Foreign(a), Value::Foreign(b)) => Arc::ptr_eq(&a.0, &b.0),
            (Value::Closure(a), Value::Closure(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Compares an int with a float exactly, as Lua 5.4 does: `2^53 + 1 > 2.0^53`.
fn compare_int_float(int: i64, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    // 2^63 as f64 is exact; every float at or beyond it is larger than any i64.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if float >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if float < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    // Now float.floor() fits in an i64 exactly.
    let floor = float.floor();
    let floor_int = floor as i64;
    match int.cmp(&floor_int) {
        Ordering::Equal if float > floor => Some(Ordering::Less),
        ordering => Some(ordering),
    }
}

impl PartialEq for Value {
    /// Structural equality for scalars and strings (`Int(1) != Float(1.0)`, NaN is unequal to
    /// itself), identity for objects, arrays, foreign objects and closures.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Unit, Value::Unit) => true,
            _ => self.same_reference(other),
        }
    }
}

/// Writes a float so that it always reads as one: `1.0`, `1.5`, `1e300`, `NaN`, `inf`.
pub(crate) fn write_float(f: &mut fmt::Formatter<'_>, value: f64) -> fmt::Result {
    write!(f, "{value:?}")
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write_float(f, *v),
            Value::Bool(v) => write!(f, "{v}"),
            Value::String(s) => f.write_str(s),
            Value::Unit => f.write_str("()"),
            Value::Object(o) => o.write(f, &mut Vec::new()),
            Value::Array(a) => a.write(f, &mut Vec::new()),
            Value::Foreign(o) => write!(f, "<foreign {}>", o.type_name()),
            Value::Closure(c) => write!(f, "<closure {}>", c.function_name()),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write!(f, "{:?}", &**s),
            other => fmt::Display::fmt(other, f),
        }
    }
}

/// How deeply `Display` descends into nested containers before writing `...`: bounded so a
/// deeply nested structure cannot exhaust the host stack.
const MAX_DISPLAY_DEPTH: usize = 32;

/// Writes a value nested in a container: strings quoted, cycles and deep nesting cut short as
/// `...`.
fn write_nested(f: &mut fmt::Formatter<'_>, value: &Value, seen: &mut Vec<usize>) -> fmt::Result {
    if seen.len() >= MAX_DISPLAY_DEPTH && matches!(value, Value::Object(_) | Value::Array(_)) {
        return f.write_str("...");
    }
    match value {
        Value::String(s) => write!(f, "{:?}", &**s),
        Value::Object(o) => o.write(f, seen),
        Value::Array(a) => a.write(f, seen),
        other => fmt::Display::fmt(other, f),
    }
}

/// An immutable, cheaply cloned string (one pointer wide, so [`Value`] stays 16 bytes).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(Arc<String>);

impl Str {
    /// The string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether both are the same allocation (then equal without comparing bytes): string
    /// constants are interned per VM, so names passed to builtins usually are.
    #[inline]
    pub(crate) fn is(&self, other: &Str) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// How many handles share this string (for tests of what holds it).
    #[cfg(test)]
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl std::borrow::Borrow<str> for Str {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str(Arc::new(s.to_owned()))
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str(Arc::new(s))
    }
}

/// A key of an object: ints, strings and bools (any other key type is a type error).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A boolean key.
    Bool(bool),
    /// A string key.
    Str(Str),
}

impl Key {
    /// The key for a value, or `None` when the value's type cannot be a key.
    pub fn from_value(value: &Value) -> Option<Key> {
        match value {
            Value::Int(i) => Some(Key::Int(*i)),
            Value::Bool(b) => Some(Key::Bool(*b)),
            Value::String(s) => Some(Key::Str(s.clone())),
            _ => None,
        }
    }

    /// The key as a value.
    pub fn to_value(&self) -> Value {
        match self {
            Key::Int(i) => Value::Int(*i),
            Key::Bool(b) => Value::Bool(*b),
            Key::Str(s) => Value::String(s.clone()),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Bool(b) => write!(f, "{b}"),
            Key::Str(s) => f.write_str(s),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_value(), f)
    }
}

/// Locks a mutex whether or not a panicking holder poisoned it: our data stays consistent
/// because every critical section is a single map or vector operation.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Drops the values of a container without recursing: containers that only this value held
/// are emptied into a work list first, so dropping a million-deep nesting (a linked list built
/// from arrays) cannot overflow the host stack.
pub(crate) fn drop_iteratively(values: Vec<Value>) {
    let mut pending = values;
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(array) => {
                if let Some(cell) = Arc::into_inner(array.0) {
                    pending.append(&mut std::mem::take(&mut *lock(&cell.elements)));
                }
            }
            Value::Object(object) => {
                if let Some(cell) = Arc::into_inner(object.0) {
                    pending.extend(lock(&cell.fields).take_values());
                }
            }
            Value::Closure(closure) => {
                if let Some(mut closure) = Arc::into_inner(closure) {
                    pending.extend(closure.take_unshared_cells());
                }
            }
            other => drop(other),
        }
    }
}

pub(crate) struct ObjectCell {
    pub(crate) fields: Mutex<Fields>,
    _live: LiveToken,
}

/// A shared reference to a VM object (a map with int/string/bool keys).
#[derive(Clone)]
pub struct ObjectRef(pub(crate) Arc<ObjectCell>);

impl ObjectRef {
    pub(crate) fn new(live: LiveToken) -> ObjectRef {
        ObjectRef(Arc::new(ObjectCell { fields: Mutex::new(Fields::default()), _live: live }))
    }

    /// Reads a field; a missing key reads as `None`.
    pub fn get(&self, key: &Key) -> Option<Value> {
        self.lookup(KeyRef::from_key(key))
    }

    /// Writes a field and returns the value it replaced.
    pub fn set(&self, key: Key, value: Value) -> Option<Value> {
        self.assign(KeyRef::from_key(&key), value)
    }

    /// Reads a field by a borrowed key (no string's count taken); a missing key reads as `None`.
    pub(crate) fn lookup(&self, key: KeyRef<'_>) -> Option<Value> {
        lock(&self.0.fields).get(key).cloned()
    }

    /// Writes a field by a borrowed key (built only for a new field); the value it replaced.
    pub(crate) fn assign(&self, key: KeyRef<'_>, value: Value) -> Option<Value> {
        lock(&self.0.fields).insert(key, value)
    }

    /// The field `key` names (a missing one reads as unit); `None` when `key` cannot be a key.
    /// `get_field` and its fast path in the dispatch loop: the key is borrowed, not built.
    // Never inlined, as `ArrayRef::element` (its two paths, unshared and locked, inside the
    // dispatch loop would cost every other case registers).
    #[inline(never)]
    pub(crate) fn field(&mut self, key: &Value) -> Option<Value> {
        let key = KeyRef::of(key)?;
        // An int rebuilt from its payload: cloned whole, its padding went through the stack
        // in two overlapping pieces (a store-forwarding stall, perf).
        let copy = |value: Option<&Value>| match value {
            Some(Value::Int(int)) => Value::Int(*int),
            Some(other) => other.clone(),
            None => Value::Unit,
        };
        Some(match self.unique_fields() {
            Some(fields) => copy(fields.get(key)),
            None => copy(lock(&self.0.fields).get(key)),
        })
    }

    /// Writes field `key` (`set_field`'s fast path); `false`, and nothing written, when `key`
    /// cannot be a key. An int is written as an int into a field that holds one.
    #[inline(never)]
    pub(crate) fn write_field(&mut self, key: &Value, value: &Value) -> bool {
        let Some(key) = KeyRef::of(key) else {
            return false;
        };
        // The old value is dropped after the lock is released (the block ends first): its drop
        // may run host code (a foreign object's `Drop`) that reads this very object.
        let old = {
            let mut guard;
            let fields = match self.unique_fields() {
                Some(fields) => fields,
                None => {
                    guard = lock(&self.0.fields);
                    &mut *guard
                }
            };
            match (fields.get_mut(key), value) {
                (Some(Value::Int(old)), Value::Int(new)) => {
                    *old = *new;
                    None
                }
                (Some(slot), value) => Some(std::mem::replace(slot, value.clone())),
                (None, value) => fields.insert(key, value.clone()),
            }
        };
        drop(old);
        true
    }

    /// The fields without the lock when this handle is the object's only one (see
    /// `ArrayRef::unique_elements`).
    #[inline(always)]
    fn unique_fields(&mut self) -> Option<&mut Fields> {
        let cell = only_handle(&mut self.0)?;
        Some(cell.fields.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        lock(&self.0.fields).len()
    }

    /// Whether the object has no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the fields, in key order.
    pub fn entries(&self) -> Vec<(Key, Value)> {
        lock(&self.0.fields).entries()
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, seen: &mut Vec<usize>) -> fmt::Result {
        let address = Arc::as_ptr(&self.0) as usize;
        if seen.contains(&address) {
            return f.write_str("{...}");
        }
        seen.push(address);
        f.write_str("{")?;
        for (i, (key, value)) in self.entries().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{key}: ")?;
            write_nested(f, value, seen)?;
        }
        seen.pop();
        f.write_str("}")
    }
}

pub(crate) struct ArrayCell {
    pub(crate) elements: Mutex<Vec<Value>>,
    _live: LiveToken,
}

impl Drop for ArrayCell {
    fn drop(&mut self) {
        drop_iteratively(std::mem::take(&mut *lock(&self.elements)));
    }
}

impl Drop for ObjectCell {
    fn drop(&mut self) {
        let values = lock(&self.fields).take_values();
        drop_iteratively(values);
    }
}

/// The cell behind `arc` when `arc` is its only handle: `Arc::get_mut` for the cells of
/// objects and arrays, to which no `Weak` is ever made. `Arc::get_mut` guards against a `Weak`
/// being upgraded meanwhile with a locked compare-exchange on the weak count and a store:
/// with three field accesses an iteration, those were the object case's costliest
/// instructions (perf). Here the test is a plain load.
#[inline(always)]
fn only_handle<T>(arc: &mut Arc<T>) -> Option<&mut T> {
    if Arc::strong_count(arc) != 1 {
        return None;
    }
    debug_assert_eq!(Arc::weak_count(arc), 0, "a Weak to an object or array cell was made");
    // The count read 1 after any other handle's release: its drop decremented with `Release`
    // ordering, so this fence orders everything it did to the cell before our access.
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    // SAFETY: `arc` is borrowed mutably and is the only strong handle, and no `Weak` exists
    // (nothing calls `Arc::downgrade` on these cells, which are private to the crate): no
    // other thread can reach the cell or make a new handle to it while the borrow lasts, so
    // this is the unique reference `Arc::get_mut` would give. The pointer comes from
    // `Arc::as_ptr`, valid while `arc` lives, which outlives the borrow.
    Some(unsafe { &mut *Arc::as_ptr(arc).cast_mut() })
}

/// A shared reference to a VM array (dense, 0-based).
#[derive(Clone)]
pub struct ArrayRef(pub(crate) Arc<ArrayCell>);

impl ArrayRef {
    pub(crate) fn new(elements: Vec<Value>, live: LiveToken) -> ArrayRef {
        ArrayRef(Arc::new(ArrayCell { elements: Mutex::new(elements), _live: live }))
    }

    /// The element at `index`, or `None` when out of range.
    pub fn get(&self, index: usize) -> Option<Value> {
        lock(&self.0.elements).get(index).cloned()
    }

    /// The element at an int `index`, or `None` when out of range (`get_field`'s fast path).
    // Never inlined, nor the pushes below: inside the dispatch loop their two paths (unshared,
    // locked) pushed `pc` out of its register, which slowed every other case (callgrind:
    // loop +7, fib +11 instructions). A call costs the array case less than the lock it saves.
    #[inline(never)]
    pub(crate) fn element(&mut self, index: i64) -> Option<Value> {
        let index = usize::try_from(index).ok()?;
        match self.unique_elements() {
            Some(elements) => elements.get(index).cloned(),
            None => lock(&self.0.elements).get(index).cloned(),
        }
    }

    /// The elements without the lock when this handle is the array's only one: holding it
    /// mutably, no one else can reach them (no `Weak` to an array is ever made). `None` when
    /// the array is shared. Lock and unlock were a sixth of the array case (callgrind).
    #[inline(always)]
    fn unique_elements(&mut self) -> Option<&mut Vec<Value>> {
        let cell = only_handle(&mut self.0)?;
        Some(cell.elements.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Appends `value` unless the array already holds `max` elements; the new length
    /// (`array_push`'s fast path).
    #[inline(never)]
    pub(crate) fn push_within(&mut self, value: Value, max: usize) -> Option<usize> {
        self.push_with(|| value, max)
    }

    /// `push_within` for an int, written as tag and payload (see `push_with`).
    #[inline(never)]
    pub(crate) fn push_int_within(&mut self, int: i64, max: usize) -> Option<usize> {
        self.push_with(|| Value::Int(int), max)
    }

    /// Appends `make()` unless the array already holds `max` elements; the new length. The
    /// value is made in place: built first and moved in, an int was copied whole.
    #[inline(always)]
    fn push_with(&mut self, make: impl FnOnce() -> Value, max: usize) -> Option<usize> {
        let mut guard;
        let elements = match self.unique_elements() {
            Some(elements) => elements,
            None => {
                guard = lock(&self.0.elements);
                &mut *guard
            }
        };
        if elements.len() >= max {
            return None;
        }
        elements.push(make());
        Some(elements.len())
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        lock(&self.0.elements).len()
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the elements.
    pub fn to_vec(&self) -> Vec<Value> {
        lock(&self.0.elements).clone()
    }

    /// Runs `f` with the elements locked (for host code that needs several operations at once).
    pub fn with_elements<R>(&self, f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
        f(&mut lock(&self.0.elements))
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, seen: &mut Vec<usize>) -> fmt::Result {
        let address = Arc::as_ptr(&self.0) as usize;
        if seen.contains(&address) {
            return f.write_str("[...]");
        }
        seen.push(address);
        f.write_str("[")?;
        for (i, value) in self.to_vec().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write_nested(f, value, seen)?;
        }
        seen.pop();
        f.write_str("]")
    }
}

pub(crate) struct ForeignCell {
    /// Always an `Arc<Mutex<T>>` behind `dyn Any`, so typed access hands out that `Arc`.
    pub(crate) object: Arc<dyn std::any::Any + Send + Sync>,
    pub(crate) type_name: &'static str,
    _live: LiveToken,
}

/// A shared reference to a host object stored in the VM.
#[derive(Clone)]
pub struct ForeignRef(pub(crate) Arc<ForeignCell>);

impl ForeignRef {
    pub(crate) fn new<T: Send + 'static>(value: T, live: LiveToken) -> ForeignRef {
        ForeignRef(Arc::new(ForeignCell {
            object: Arc::new(Mutex::new(value)),
            type_name: std::any::type_name::<T>(),
            _live: live,
        }))
    }

    /// The Rust type name of the stored object.
    pub fn type_name(&self) -> &'static str {
        self.0.type_name
    }

    /// The stored object, typed; `None` when it holds another type.
    pub fn downcast<T: Send + 'static>(&self) -> Option<Arc<Mutex<T>>> {
        Arc::clone(&self.0.object).downcast::<Mutex<T>>().ok()
    }
}

macro_rules! value_from {
    ($($ty:ty => |$v:ident| $make:expr;)*) => {$(
        impl From<$ty> for Value {
            fn from($v: $ty) -> Value { $make }
        }
    )*};
}

value_from! {
    i64 => |v| Value::Int(v);
    i32 => |v| Value::Int(v.into());
    f64 => |v| Value::Float(v);
    bool => |v| Value::Bool(v);
    &str => |v| Value::String(v.into());
    String => |v| Value::String(v.into());
    Str => |v| Value::String(v);
    () => |_v| Value::Unit;
    ObjectRef => |v| Value::Object(v);
    ArrayRef => |v| Value::Array(v);
    ForeignRef => |v| Value::Foreign(v);
    Arc<Closure> => |v| Value::Closure(v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object_store::ObjectStore;

    #[test]
    fn display_matches_the_contract() {
        let store = ObjectStore::default();
        assert_eq!(Value::Int(42).to_string(), "42");
        assert_eq!(Value::Float(1.5).to_string(), "1.5");
        assert_eq!(Value::Float(1.0).to_string(), "1.0");
        assert_eq!(Value::from("hello").to_string(), "hello");
        assert_eq!(Value::Bool(true).to_string(), "true");
        assert_eq!(Value::Unit.to_string(), "()");
        let array = store.new_array(vec![Value::Int(1), Value::Int(2)]).unwrap();
        assert_eq!(Value::Array(array).to_string(), "[1, 2]");
        let object = store.new_object().unwrap();
        object.set(Key::Str("name".into()), Value::from("x"));
        assert_eq!(Value::Object(object.clone()).to_string(), "{name: \"x\"}");
        // A cycle prints without recursing forever.
        object.set(Key::Int(1), Value::Object(object.clone()));
        assert_eq!(Value::Object(object.clone()).to_string(), "{1: {...}, name: \"x\"}");
        object.set(Key::Int(1), Value::Unit);
        assert_eq!(format!("{:?}", Value::from("q")), "\"q\"");
    }

    #[test]
    fn dropping_and_printing_deep_nesting_does_not_overflow_the_stack() {
        let store = ObjectStore::default();
        let mut list = Value::Unit;
        for _ in 0..1_000_000 {
            let node = store.new_array(vec![list]).unwrap();
            list = Value::Array(node);
        }
        let text = list.to_string();
        assert!(text.contains("[...]") && text.len() < 100, "deep nesting prints cut short: {text}");
        let object = store.new_object().unwrap();
        object.set(Key::Int(0), list);
        drop(object);
        assert_eq!(store.live_objects(), 0);
        // Closures capturing closures, a million deep.
        let mut chain = Value::Unit;
        for _ in 0..1_000_000 {
            let cell = Arc::new(crate::closure::UpvalueCell::new(chain));
            let upvalue = crate::closure::Upvalue { name: "next".into(), cell };
            chain =
                Value::Closure(Arc::new(Closure { function: "f".into(), slot: 0, upvalues: vec![upvalue] }));
        }
        drop(chain);
    }

    #[test]
    fn the_fast_array_paths_work_on_unique_and_shared_arrays_alike() {
        let store = ObjectStore::default();
        let mut array = store.new_array(vec![Value::Int(7)]).unwrap();
        // Unique: no other handle, the elements are reached without the lock.
        assert_eq!(array.push_int_within(8, 10), Some(2));
        assert_eq!(array.push_within(Value::from("x"), 10), Some(3));
        assert_eq!(array.element(1), Some(Value::Int(8)));
        assert_eq!(array.element(3), None);
        assert_eq!(array.element(-1), None);
        // Shared: another handle sees every write, through the lock.
        let mut other = array.clone();
        assert_eq!(other.push_int_within(9, 10), Some(4));
        assert_eq!(array.element(3), Some(Value::Int(9)));
        assert_eq!(array.push_within(Value::Array(other.clone()), 10), Some(5));
        assert_eq!(other.len(), 5);
        // The length limit holds on both paths.
        assert_eq!(other.push_int_within(1, 5), None);
        drop(other);
        let Some(Value::Array(inner)) = array.element(4) else { panic!("the array itself") };
        drop(inner);
        assert_eq!(array.element(2), Some(Value::from("x")));
        // The array holds itself: shared with its own element, still read through the lock.
        assert_eq!(array.push_int_within(10, 5), None);
    }

    #[test]
    fn a_handle_left_alone_sees_what_dropped_handles_on_other_threads_wrote() {
        // `only_handle`: once the other handles are gone, the fast paths reach the cell
        // without the lock and must see every write made through them, on any thread.
        let store = ObjectStore::default();
        for round in 0..200 {
            let mut object = store.new_object().unwrap();
            let mut array = store.new_array(Vec::new()).unwrap();
            let workers: Vec<_> = (0..2)
                .map(|worker| {
                    let (mut object, mut array) = (object.clone(), array.clone());
                    std::thread::spawn(move || {
                        for i in 0..50 {
                            assert!(object.write_field(&Value::Int(worker), &Value::Int(i)));
                            assert!(array.push_int_within(i, usize::MAX).is_some());
                        }
                    })
                })
                .collect();
            // Meanwhile this handle writes through the lock (shared) or, once the workers'
            // handles are dropped, without it.
            let key = Value::from("mine");
            for i in 0..50 {
                assert!(object.write_field(&key, &Value::Int(i)));
            }
            // Wait for the handles, not the threads: a `join` would order the writes itself.
            while Arc::strong_count(&object.0) > 1 || Arc::strong_count(&array.0) > 1 {
                std::hint::spin_loop();
            }
            assert_eq!(object.field(&Value::Int(0)), Some(Value::Int(49)), "round {round}");
            assert_eq!(object.field(&Value::Int(1)), Some(Value::Int(49)), "round {round}");
            assert_eq!(object.field(&key), Some(Value::Int(49)));
            assert_eq!(array.len(), 100, "round {round}");
            assert_eq!(array.element(99).map(|value| matches!(value, Value::Int(49))), Some(true));
            for worker in workers {
                worker.join().unwrap();
            }
        }
        assert_eq!(store.live_objects(), 0);
    }

    #[test]
    fn exact_int_float_comparison() {
        let big = (1i64 << 53) + 1;
        assert_eq!(Value::Int(big).compare(&Value::Float(9007199254740992.0)), Some(Ordering::Greater));
        assert_eq!(Value::Int(3).compare(&Value::Float(3.5)), Some(Ordering::Less));
        assert_eq!(Value::Int(-3).compare(&Value::Float(-3.5)), Some(Ordering::Greater));
        assert_eq!(Value::Int(3).compare(&Value::Float(3.0)), Some(Ordering::Equal));
        assert_eq!(Value::Float(3.0).compare(&Value::Int(4)), Some(Ordering::Less));
        assert_eq!(Value::Int(i64::MAX).compare(&Value::Float(9.3e18)), Some(Ordering::Less));
        assert_eq!(Value::Int(i64::MIN).compare(&Value::Float(-9.3e18)), Some(Ordering::Greater));
        assert_eq!(Value::Int(1).compare(&Value::Float(f64::NAN)), None);
        assert_eq!(Value::from("a").compare(&Value::from("b")), Some(Ordering::Less));
        assert_eq!(Value::Unit.compare(&Value::Int(0)), None);
    }
}
