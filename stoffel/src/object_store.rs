//! The object store: creates objects, arrays and foreign objects, counts the live ones and
//! enforces the host's caps. Reclamation is by reference counting: a value is freed when its
//! last handle drops, so a loop that creates and drops temporaries keeps memory flat.
//!
//! Reference cycles (an object that stores itself) are not collected; they are counted as live,
//! so a host can see them in [`ObjectStore::live_objects`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::Error;
use crate::value::{ArrayRef, ForeignRef, ObjectRef, Value};

struct Counters {
    live: AtomicUsize,
    created: AtomicUsize,
    max_live_objects: AtomicUsize,
    max_array_length: AtomicUsize,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            live: AtomicUsize::new(0),
            created: AtomicUsize::new(0),
            max_live_objects: AtomicUsize::new(usize::MAX),
            max_array_length: AtomicUsize::new(1 << 32),
        }
    }
}

/// Carried by every stored value; dropping it marks the value reclaimed.
pub(crate) struct LiveToken(Arc<Counters>);

impl Drop for LiveToken {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Creates and counts the VM's objects, arrays and foreign objects. Clones share the counts
/// and caps, so the host can use the store without taking the VM's lock.
#[derive(Clone, Default)]
pub struct ObjectStore {
    counters: Arc<Counters>,
}

impl ObjectStore {
    /// How many objects, arrays and foreign objects are alive now.
    pub fn live_objects(&self) -> usize {
        self.counters.live.load(Ordering::Relaxed)
    }

    /// How many were created since the store was made.
    pub fn created_objects(&self) -> usize {
        self.counters.created.load(Ordering::Relaxed)
    }

    /// The cap on array length, checked on every append (default: 2^32).
    pub fn max_array_length(&self) -> usize {
        self.counters.max_array_length.load(Ordering::Relaxed)
    }

    /// The cap on live objects, arrays and foreign objects (default: unlimited).
    pub fn max_live_objects(&self) -> usize {
        self.counters.max_live_objects.load(Ordering::Relaxed)
    }

    pub(crate) fn set_max_array_length(&self, max: usize) {
        self.counters.max_array_length.store(max, Ordering::Relaxed);
    }

    pub(crate) fn set_max_live_objects(&self, max: usize) {
        self.counters.max_live_objects.store(max, Ordering::Relaxed);
    }

    fn token(&self) -> Result<LiveToken, Error> {
        let max = self.max_live_objects();
        let live = self.counters.live.fetch_add(1, Ordering::Relaxed);
        if live >= max {
            self.counters.live.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::limit(format!("live object limit of {max} reached")));
        }
        Ok(self.count_created())
    }

    /// A token that ignores the cap: for objects the host itself stores.
    pub(crate) fn token_uncapped(&self) -> LiveToken {
        self.counters.live.fetch_add(1, Ordering::Relaxed);
        self.count_created()
    }

    fn count_created(&self) -> LiveToken {
        self.counters.created.fetch_add(1, Ordering::Relaxed);
        LiveToken(Arc::clone(&self.counters))
    }

    /// Creates an empty object.
    ///
    /// # Errors
    /// A limit error when the live-object cap is reached.
    pub fn new_object(&self) -> Result<ObjectRef, Error> {
        Ok(ObjectRef::new(self.token()?))
    }

    /// Creates an array holding `elements`.
    ///
    /// # Errors
    /// A limit error when the live-object cap or the array-length cap is reached.
    pub fn new_array(&self, elements: Vec<Value>) -> Result<ArrayRef, Error> {
        self.check_array_length(elements.len())?;
        Ok(ArrayRef::new(elements, self.token()?))
    }

    /// Stores a host object.
    ///
    /// # Errors
    /// A limit error when the live-object cap is reached.
    pub fn new_foreign<T: Send + 'static>(&self, value: T) -> Result<ForeignRef, Error> {
        Ok(ForeignRef::new(value, self.token()?))
    }

    pub(crate) fn check_array_length(&self, length: usize) -> Result<(), Error> {
        let max = self.max_array_length();
        if length > max {
            return Err(Error::limit(format!("array length limit of {max} reached")));
        }
        Ok(())
    }
}

/// A token for values made outside any VM (e.g. `Vec<T>::into_value` in host code): counted by
/// a store of their own, never charged to a VM's caps.
pub(crate) fn detached_token() -> LiveToken {
    static DETACHED: std::sync::OnceLock<Arc<Counters>> = std::sync::OnceLock::new();
    let counters = DETACHED.get_or_init(Arc::default);
    counters.live.fetch_add(1, Ordering::Relaxed);
    LiveToken(Arc::clone(counters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_live_values_and_reclaims_them() {
        let store = ObjectStore::default();
        let object = store.new_object().unwrap();
        let alias = object.clone();
        assert_eq!(store.live_objects(), 1);
        drop(object);
        assert_eq!(store.live_objects(), 1);
        drop(alias);
        assert_eq!(store.live_objects(), 0);
        assert_eq!(store.created_objects(), 1);
    }

    #[test]
    fn caps_live_objects() {
        let store = ObjectStore::default();
        store.set_max_live_objects(1);
        let first = store.new_array(vec![]).unwrap();
        assert!(store.new_object().is_err());
        drop(first);
        assert!(store.new_object().is_ok());
    }
}
