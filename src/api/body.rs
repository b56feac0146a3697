//! The JSON body extractor: unknown fields refused, 400 for malformed input
//! and 413 over the limit. Failures are told apart by axum's
//! [`JsonRejection`] variants and located with `serde_path_to_error`;
//! messages name fields, never echo values (a PIN sent as a number must not
//! come back in an error).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::{DeserializeOwned, Visitor};
use serde::Deserializer;
use serde_path_to_error::Segment;

use super::ApiError;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Body<T>(pub T);

const EXPECTED_OBJECT: &str = "malformed request body: expected the documented JSON object";

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Buffered here (within the body limit), so that a data error can be
        // located in the bytes it came from.
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| too_large_or(rejection.status()))?;
        let again = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
        match axum::Json::<T>::from_request(again, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(JsonRejection::JsonDataError(_)) => {
                Err(ApiError::bad_request(data_error::<T>(&bytes)))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::bad_request(
                "expected a JSON body with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(rejection)) => Err(too_large_or(rejection.status())),
            Err(_) => Err(ApiError::bad_request(EXPECTED_OBJECT)),
        }
    }
}

fn too_large_or(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large()
    } else {
        ApiError::bad_request(EXPECTED_OBJECT)
    }
}

/// Well-formed JSON that is not a `T`: names the unknown, missing or
/// mistyped field from its path, never the value found there.
fn data_error<T: DeserializeOwned>(bytes: &[u8]) -> String {
    let Ok(object) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
    else {
        return EXPECTED_OBJECT.to_owned();
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let Err(err) = serde_path_to_error::deserialize::<_, T>(&mut deserializer) else {
        return EXPECTED_OBJECT.to_owned();
    };
    let fields = fields_of::<T>();
    let quoted = |names: &mut dyn Iterator<Item = &str>| {
        names
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let segments: Vec<&Segment> = err.path().iter().collect();
    match segments.first() {
        Some(Segment::Map { key }) if !fields.contains(&key.as_str()) => format!(
            "unknown field `{key}`, expected one of {}",
            quoted(&mut fields.iter().copied())
        ),
        Some(_)
            if segments
                .iter()
                .all(|s| matches!(s, Segment::Map { .. } | Segment::Seq { .. })) =>
        {
            format!("field `{}` is not of the documented type", err.path())
        }
        Some(_) => EXPECTED_OBJECT.to_owned(),
        // Failed at the object itself: a required field is absent.
        None => {
            let absent: Vec<&str> = fields
                .iter()
                .copied()
                .filter(|f| !object.contains_key(*f))
                .collect();
            match absent.as_slice() {
                [] => EXPECTED_OBJECT.to_owned(),
                [one] => format!("missing field `{one}`"),
                _ => format!(
                    "missing field, one of {}",
                    quoted(&mut absent.iter().copied())
                ),
            }
        }
    }
}

/// The field names `T`'s derived `Deserialize` declares: it hands them to
/// `deserialize_struct`, which this deserializer records and then refuses.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("field names read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        login: String,
        pin: String,
        cc: Vec<String>,
        source: Option<String>,
    }

    fn message(body: &str) -> String {
        data_error::<Sample>(body.as_bytes())
    }

    #[test]
    fn messages_name_fields_and_never_values() {
        assert_eq!(fields_of::<Sample>(), ["login", "pin", "cc", "source"]);
        assert_eq!(
            message(r#"{"login":"a","pin":"1","cc":[],"surprise":1}"#),
            "unknown field `surprise`, expected one of `login`, `pin`, `cc`, `source`"
        );
        assert_eq!(
            message(r#"{"login":"a","cc":[]}"#),
            "missing field, one of `pin`, `source`"
        );
        assert_eq!(
            message(r#"{"login":"a","cc":[],"source":"x"}"#),
            "missing field `pin`"
        );
        let wrong = message(r#"{"login":"a","pin":987654321,"cc":[]}"#);
        assert_eq!(wrong, "field `pin` is not of the documented type");
        let nested = message(r#"{"login":"a","pin":"1","cc":[12345678]}"#);
        assert_eq!(nested, "field `cc[0]` is not of the documented type");
        assert_eq!(message("[1,2]"), EXPECTED_OBJECT);
    }
}
