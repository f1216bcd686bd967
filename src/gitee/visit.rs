//! Reading a body in one pass, by hand, for speed; what its fields mean is plain code in
//! `lenient`.
//!
//! Measured 2 December (2 shared vCPUs, load average 2–4), against the plain way to keep the
//! reading rule: each object read as a `serde_json::Map`, its known fields then taken out
//! (derived code cannot keep it: it refuses a field that comes twice, serde-rs/serde#690, and a
//! field's `deserialize_with` cannot put a value that did not fit into the `extra` beside it).
//! A `Map` allocates and hashes every key of every object: `examples/replay load` over a
//! 1,000,000-line journal used 16.1–17.7 s of CPU against 9.2–10.5 s (9.3–14.6 s of wall clock
//! against 4.8–8.4 s, three alternating rounds), where plain code would have been kept at up to
//! a quarter more; `cargo bench --bench parse` took 2.2 × as long (the documented sample 13.3–20.0 µs
//! against 5.9–8.7 µs). Reading every object into a list of borrowed fields first, and the lists
//! whole before their elements, still cost 15–30 % on `load` (5.3–5.9 s against 3.4–4.9 s) in
//! allocations alone (BENCHMARKS.md, "Reading a body by hand"). So here each object is read
//! once, keys borrowed from the input, a known field's value straight into its slot and each
//! element of `sources` and `globalParams` into its type as it streams past.

use super::lenient::{self, Fields, JOB, Listed, PARAM};
use super::payload::{GlobalParam, Job, Notification, Source};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

impl<'de> Deserialize<'de> for Notification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Body;

        impl<'de> Visitor<'de> for Body {
            type Value = Notification;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Notification, A::Error> {
                let mut job: Option<Shaped<Job>> = None;
                let mut sources = None;
                let mut global_params = None;
                let mut extra = Map::new();
                // A part that comes again replaces the one before, as in a `Value`.
                while let Some(Key(key)) = map.next_key()? {
                    match &*key {
                        "job" => job = Some(map.next_value()?),
                        "sources" => sources = Some(map.next_value()?),
                        "globalParams" => global_params = Some(map.next_value()?),
                        _ => {
                            extra.insert(key.into_owned(), map.next_value()?);
                        }
                    }
                }
                let job = job.map(|Shaped(job)| job);
                Ok(lenient::notification(job, sources, global_params, extra))
            }
        }

        deserializer.deserialize_map(Body)
    }
}

/// What the notification holds objects of: each reads an object's fields.
trait Object<'de>: Sized + Default + serde::Serialize {
    const EXPECTING: &'static str;

    fn read<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;

    /// What an object sent in place of a list of these is read as.
    fn of_object(_: &Map<String, Value>) -> Vec<Self> {
        Vec::new()
    }
}

impl<'de> Object<'de> for Job {
    const EXPECTING: &'static str = "struct Job";

    fn read<A: MapAccess<'de>>(map: A) -> Result<Job, A::Error> {
        let (known, extra) = slots(map, &JOB)?;
        Ok(lenient::job(known, extra))
    }
}

impl<'de> Object<'de> for GlobalParam {
    const EXPECTING: &'static str = "struct GlobalParam";

    fn read<A: MapAccess<'de>>(map: A) -> Result<GlobalParam, A::Error> {
        let (known, extra) = slots(map, &PARAM)?;
        Ok(lenient::param(known, extra))
    }

    fn of_object(object: &Map<String, Value>) -> Vec<GlobalParam> {
        lenient::params_of_object(object)
    }
}

impl<'de> Object<'de> for Source {
    const EXPECTING: &'static str = "a source object";

    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Source, A::Error> {
        let mut fields = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            fields.push((key, map.next_value()?));
        }
        Ok(Source::from(Fields::new(fields)))
    }
}

/// The last value of each known field, by its place among them, and every other field in
/// arrival order.
type Slots<const N: usize> = ([Option<Value>; N], Map<String, Value>);

fn slots<'de, A: MapAccess<'de>, const N: usize>(
    mut map: A,
    known: &[&str; N],
) -> Result<Slots<N>, A::Error> {
    let mut slots = [const { None }; N];
    let mut extra = Map::new();
    while let Some(Key(key)) = map.next_key()? {
        match known.iter().position(|name| *name == key) {
            Some(at) => slots[at] = Some(map.next_value()?),
            None => {
                extra.insert(key.into_owned(), map.next_value()?);
            }
        }
    }
    Ok((slots, extra))
}

impl<'de> Deserialize<'de> for Job {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Only(PhantomData))
    }
}

impl<'de> Deserialize<'de> for GlobalParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Only(PhantomData))
    }
}

/// A source on its own must be an object (or null); in a notification's `sources`, any other
/// value is kept as received instead.
impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Shaped::<Source>::deserialize(deserializer)?.0 {
            Ok(source) => Ok(source),
            Err(other) => Err(de::Error::custom(format!(
                "a source must be an object, found {}",
                json_kind(&other)
            ))),
        }
    }
}

/// An object and nothing else.
struct Only<T>(PhantomData<T>);

impl<'de, T: Object<'de>> Visitor<'de> for Only<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::read(map)
    }
}

/// A value that should be an object: read when it is one (null reads as empty), kept as received
/// when it is not.
struct Shaped<T>(Result<T, Value>);

impl<'de, T: Object<'de>> Deserialize<'de> for Shaped<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShapedVisitor(PhantomData))
    }
}

struct ShapedVisitor<T>(PhantomData<T>);

impl<'de, T: Object<'de>> Visitor<'de> for ShapedVisitor<T> {
    type Value = Shaped<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shaped<T>, A::Error> {
        T::read(map).map(|read| Shaped(Ok(read)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shaped<T>, E> {
        Ok(Shaped(Ok(T::default())))
    }

    fn visit_none<E: de::Error>(self) -> Result<Shaped<T>, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shaped<T>, A::Error> {
        let raw = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Shaped(Err(raw)))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Shaped<T>, E> {
        Ok(Shaped(Err(Value::Bool(b))))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Shaped<T>, E> {
        Ok(Shaped(Err(Value::from(n))))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Shaped<T>, E> {
        Ok(Shaped(Err(Value::from(n))))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Shaped<T>, E> {
        Ok(Shaped(Err(Value::from(n))))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Shaped<T>, E> {
        Ok(Shaped(Err(Value::String(text.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Shaped<T>, E> {
        Ok(Shaped(Err(Value::String(text))))
    }
}

/// `sources` and `globalParams`: a list of objects, or anything else, kept as received.
impl<'de, T: Object<'de>> Deserialize<'de> for Listed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Object<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = Listed<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed<T>, A::Error> {
        let mut list = Listed::new();
        while let Some(Shaped(element)) = seq.next_element::<Shaped<T>>()? {
            list.push(element);
        }
        Ok(list)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Listed<T>, A::Error> {
        let object = Map::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Listed::other(T::of_object(&object), Value::Object(object)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Listed<T>, E> {
        Ok(Listed::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Listed<T>, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Listed<T>, E> {
        Ok(Listed::other(Vec::new(), Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Listed<T>, E> {
        Ok(Listed::other(Vec::new(), Value::from(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Listed<T>, E> {
        Ok(Listed::other(Vec::new(), Value::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Listed<T>, E> {
        Ok(Listed::other(Vec::new(), Value::from(n)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Listed<T>, E> {
        Ok(Listed::other(Vec::new(), Value::String(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Listed<T>, E> {
        Ok(Listed::other(Vec::new(), Value::String(text)))
    }
}

/// A field name, borrowed from the input when it needed no unescaping.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }

            fn visit_string<E: de::Error>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }

        deserializer.deserialize_identifier(KeyVisitor)
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
