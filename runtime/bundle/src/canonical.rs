//! Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace, a
//! trailing newline. Keys are sorted here rather than relying on map types, so the output
//! does not depend on struct field order or on serde_json's `preserve_order` feature being
//! switched on by some other crate in the build.

use serde::Serialize;
use serde_json::Value;

/// Serialises `value` canonically.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = Vec::with_capacity(256);
    write_value(&value, &mut out)?;
    out.push(b'\n');
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Unsorted {
        zeta: u32,
        alpha: Vec<&'static str>,
        mid: Option<bool>,
    }

    #[test]
    fn sorts_keys_whatever_the_field_order() {
        let v = Unsorted {
            zeta: 1,
            alpha: vec!["b", "a\"q"],
            mid: None,
        };
        let out = String::from_utf8(to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\"alpha\":[\"b\",\"a\\\"q\"],\"mid\":null,\"zeta\":1}\n"
        );
    }

    #[test]
    fn nested_maps_are_sorted_too() {
        let v = serde_json::json!({"b": {"y": 1, "x": [ {"d": 1, "c": 2} ]}, "a": "é"});
        let out = String::from_utf8(to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\"a\":\"é\",\"b\":{\"x\":[{\"c\":2,\"d\":1}],\"y\":1}}\n"
        );
    }
}
