//! A JSON document kept as the text it was written as: an attempt's
//! request and response are encoded once, where they are made, stored as
//! that text, and parsed only where a reader needs one of their fields.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    /// Encodes `value`. Encoding fails only for a map whose keys are not
    /// text, which nothing recorded has; such a value is kept as `null`.
    pub fn of(value: &impl Serialize) -> JsonText {
        match serde_json::value::to_raw_value(value) {
            Ok(raw) => JsonText(raw),
            Err(_) => JsonText::null(),
        }
    }

    pub fn null() -> JsonText {
        JsonText(RawValue::NULL.to_owned())
    }

    /// Takes text read back from the database, refusing what is not JSON.
    pub fn parse(text: String) -> serde_json::Result<JsonText> {
        RawValue::from_string(text).map(JsonText)
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The document, parsed.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl Default for JsonText {
    fn default() -> JsonText {
        JsonText::null()
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &JsonText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> JsonText {
        JsonText::of(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_reads_back_as_it_was_written() {
        let doc = json!({"url": "http://x", "headers": [{"key": "a", "value": "b"}], "body": null});
        let text = JsonText::of(&doc);
        assert_eq!(text.value(), doc);
        assert_eq!(JsonText::parse(text.as_str().to_string()).unwrap(), text);
    }

    #[test]
    fn text_that_is_not_json_is_refused() {
        assert!(JsonText::parse("{\"url\":".into()).is_err());
        assert_eq!(JsonText::default().value(), Value::Null);
    }
}
