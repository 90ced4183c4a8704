//! An object's fields: a vector searched front to back while the object is small, a B-tree
//! beyond. Records — a handful of named fields, the common object — are then found by a
//! pointer compare per field when the key is a string constant (constants are interned per VM,
//! so the name in the program and the one stored are the same allocation), with no key built,
//! cloned or hashed. A B-tree keyed by `Key` needed a `Key` for every lookup: a string key's
//! reference count taken and given back, then byte comparisons down the tree.

use std::collections::BTreeMap;

use crate::value::{Key, Str, Value};

/// Past this many fields an object keeps them in a B-tree (a linear search would then cost
/// more than the tree's comparisons).
const SMALL: usize = 16;

/// A key as the program holds it: borrowed from a register, never cloned to look a field up.
#[derive(Clone, Copy)]
pub(crate) enum KeyRef<'a> {
    Int(i64),
    Bool(bool),
    Str(&'a Str),
}

impl<'a> KeyRef<'a> {
    /// The key a value names, or `None` when its type cannot be a key.
    #[inline]
    pub(crate) fn of(value: &'a Value) -> Option<KeyRef<'a>> {
        match value {
            Value::Int(int) => Some(KeyRef::Int(*int)),
            Value::Bool(bool) => Some(KeyRef::Bool(*bool)),
            Value::String(text) => Some(KeyRef::Str(text)),
            _ => None,
        }
    }

    /// The borrowed form of a stored key.
    #[inline]
    pub(crate) fn from_key(key: &'a Key) -> KeyRef<'a> {
        match key {
            Key::Int(int) => KeyRef::Int(*int),
            Key::Bool(bool) => KeyRef::Bool(*bool),
            Key::Str(text) => KeyRef::Str(text),
        }
    }

    /// Whether `key` is this key: strings by pointer first, then by their bytes.
    #[inline(always)]
    fn matches(self, key: &Key) -> bool {
        match (self, key) {
            (KeyRef::Int(a), Key::Int(b)) => a == *b,
            (KeyRef::Bool(a), Key::Bool(b)) => a == *b,
            (KeyRef::Str(a), Key::Str(b)) => a.is(b) || a.as_str() == b.as_str(),
            _ => false,
        }
    }

    /// An owned key (a string's reference count taken): for storing, and for the B-tree.
    pub(crate) fn to_key(self) -> Key {
        match self {
            KeyRef::Int(int) => Key::Int(int),
            KeyRef::Bool(bool) => Key::Bool(bool),
            KeyRef::Str(text) => Key::Str(text.clone()),
        }
    }
}

/// The fields of one object.
pub(crate) enum Fields {
    /// At most [`SMALL`] fields, in the order they were first written.
    Small(Vec<(Key, Value)>),
    Large(BTreeMap<Key, Value>),
}

impl Default for Fields {
    fn default() -> Fields {
        Fields::Small(Vec::new())
    }
}

impl Fields {
    /// The value of field `key`.
    #[inline(always)]
    pub(crate) fn get(&self, key: KeyRef<'_>) -> Option<&Value> {
        match self {
            Fields::Small(fields) => {
                fields.iter().find(|(stored, _)| key.matches(stored)).map(|(_, value)| value)
            }
            Fields::Large(fields) => fields.get(&key.to_key()),
        }
    }

    /// The value of field `key`, to write in place.
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, key: KeyRef<'_>) -> Option<&mut Value> {
        match self {
            Fields::Small(fields) => {
                fields.iter_mut().find(|(stored, _)| key.matches(stored)).map(|(_, value)| value)
            }
            Fields::Large(fields) => fields.get_mut(&key.to_key()),
        }
    }

    /// Writes field `key` and returns the value it replaced. An existing field keeps its key
    /// (no key built for it).
    pub(crate) fn insert(&mut self, key: KeyRef<'_>, value: Value) -> Option<Value> {
        if let Some(slot) = self.get_mut(key) {
            return Some(std::mem::replace(slot, value));
        }
        match self {
            Fields::Small(fields) if fields.len() < SMALL => fields.push((key.to_key(), value)),
            Fields::Small(fields) => {
                let mut large: BTreeMap<Key, Value> = std::mem::take(fields).into_iter().collect();
                large.insert(key.to_key(), value);
                *self = Fields::Large(large);
            }
            Fields::Large(fields) => {
                fields.insert(key.to_key(), value);
            }
        }
        None
    }

    /// The number of fields.
    pub(crate) fn len(&self) -> usize {
        match self {
            Fields::Small(fields) => fields.len(),
            Fields::Large(fields) => fields.len(),
        }
    }

    /// Copies of the fields, in key order.
    pub(crate) fn entries(&self) -> Vec<(Key, Value)> {
        match self {
            Fields::Small(fields) => {
                let mut entries = fields.clone();
                entries.sort_by(|(a, _), (b, _)| a.cmp(b));
                entries
            }
            Fields::Large(fields) => fields.iter().map(|(key, value)| (key.clone(), value.clone())).collect(),
        }
    }

    /// The values, leaving the object empty (for the non-recursive drop in `value`).
    pub(crate) fn take_values(&mut self) -> Vec<Value> {
        match std::mem::take(self) {
            Fields::Small(fields) => fields.into_iter().map(|(_, value)| value).collect(),
            Fields::Large(fields) => fields.into_values().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(text: &str) -> Value {
        Value::from(text)
    }

    #[test]
    fn fields_are_found_by_any_key_of_equal_content() {
        let mut fields = Fields::default();
        let name = text("name");
        let Value::String(interned) = &name else { unreachable!() };
        assert_eq!(fields.insert(KeyRef::Str(interned), Value::Int(1)), None);
        // The same allocation, and another string with the same bytes.
        assert_eq!(fields.get(KeyRef::Str(interned)), Some(&Value::Int(1)));
        let copy = text("name");
        assert_eq!(fields.get(KeyRef::of(&copy).unwrap()), Some(&Value::Int(1)));
        assert_eq!(fields.insert(KeyRef::of(&copy).unwrap(), Value::Int(2)), Some(Value::Int(1)));
        assert_eq!(fields.len(), 1, "an equal key replaces, it adds no field");
        // Ints, bools and strings are different keys even where they print alike.
        fields.insert(KeyRef::Int(1), text("one"));
        fields.insert(KeyRef::Bool(true), text("yes"));
        let one = text("1");
        assert_eq!(fields.get(KeyRef::of(&one).unwrap()), None);
        assert_eq!(fields.get(KeyRef::Int(1)), Some(&text("one")));
        assert_eq!(fields.get(KeyRef::Bool(true)), Some(&text("yes")));
        assert_eq!(fields.get(KeyRef::Bool(false)), None);
        assert!(KeyRef::of(&Value::Unit).is_none() && KeyRef::of(&Value::Float(1.0)).is_none());
    }

    #[test]
    fn a_growing_object_moves_to_a_tree_and_keeps_every_field() {
        let mut fields = Fields::default();
        let names: Vec<Value> = (0..3 * SMALL).map(|i| text(&format!("field{i:03}"))).collect();
        for (i, name) in names.iter().enumerate().rev() {
            assert_eq!(fields.insert(KeyRef::of(name).unwrap(), Value::Int(i as i64)), None);
            assert_eq!(matches!(fields, Fields::Large(_)), fields.len() > SMALL, "{} fields", fields.len());
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(fields.get(KeyRef::of(name).unwrap()), Some(&Value::Int(i as i64)));
            *fields.get_mut(KeyRef::of(name).unwrap()).unwrap() = Value::Int(-(i as i64));
        }
        let entries = fields.entries();
        assert_eq!(entries.len(), 3 * SMALL);
        assert!(entries.windows(2).all(|pair| pair[0].0 < pair[1].0), "in key order");
        assert_eq!(entries[5], (Key::Str(Str::from("field005")), Value::Int(-5)));
        assert_eq!(fields.take_values().len(), 3 * SMALL);
        assert_eq!(fields.len(), 0);
    }

    #[test]
    fn a_small_object_lists_its_fields_in_key_order() {
        let mut fields = Fields::default();
        for name in ["b", "c", "a"] {
            fields.insert(KeyRef::of(&text(name)).unwrap(), text(name));
        }
        fields.insert(KeyRef::Int(7), Value::Unit);
        let entries = fields.entries();
        assert_eq!(entries.len(), 4);
        assert!(entries.windows(2).all(|pair| pair[0].0 < pair[1].0), "in key order");
        assert_eq!(entries[3], (Key::Str(Str::from("c")), text("c")));
    }
}
