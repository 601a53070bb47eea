//! Walking parsed JSON with the path that reached each value, so every
//! problem names where it is (`items[2].status.id is missing`). Nothing here
//! indexes or unwraps: any JSON gives a value or a [`Problem`].

use serde_json::Value;

/// Something in one input that cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The input file as given.
    pub file: String,
    /// The JSON path (`items[2].status.id`), empty for the whole document;
    /// `None` for a problem that is not at one place (a flag, a relation).
    pub path: Option<String>,
    /// The Kubernetes object or agent endpoint it belongs to, when known.
    pub object: Option<String>,
    /// Reads after the path: `is missing`, `is not a string`, ...
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path.as_deref() {
            None => write!(f, "{}: {}", self.file, self.message)?,
            Some("") => write!(f, "{}: the document {}", self.file, self.message)?,
            Some(path) => write!(f, "{}: {path} {}", self.file, self.message)?,
        }
        if let Some(object) = &self.object {
            write!(f, " ({object})")?;
        }
        Ok(())
    }
}

/// A problem before its file and object are known: the path and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    pub path: String,
    pub message: String,
}

impl PathError {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        PathError { path: path.to_string(), message: message.into() }
    }
    pub fn in_file(self, file: &str, object: Option<&str>) -> Problem {
        Problem {
            file: file.to_string(),
            path: Some(self.path),
            object: object.map(str::to_string),
            message: self.message,
        }
    }
}

pub type Result<T> = std::result::Result<T, PathError>;

/// A value and the path that reached it.
#[derive(Debug, Clone)]
pub struct At<'a> {
    pub value: &'a Value,
    pub path: String,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> At<'a> {
    pub fn root(value: &'a Value) -> Self {
        At { value, path: String::new() }
    }

    pub fn error(&self, message: impl Into<String>) -> PathError {
        PathError::new(&self.path, message)
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn wrong_type(&self, expected: &str) -> PathError {
        self.error(format!("is {}, not {expected}", kind(self.value)))
    }

    /// `key` of this object; absent or `null` is `Ok(None)`.
    pub fn opt(&self, key: &str) -> Result<Option<At<'a>>> {
        let Value::Object(map) = self.value else {
            return Err(self.wrong_type("an object"));
        };
        Ok(map.get(key).filter(|v| !v.is_null()).map(|value| At { value, path: self.child_path(key) }))
    }

    /// `key` of this object, which must be there.
    pub fn field(&self, key: &str) -> Result<At<'a>> {
        self.opt(key)?.ok_or_else(|| PathError::new(&self.child_path(key), "is missing"))
    }

    pub fn str(&self) -> Result<&'a str> {
        self.value.as_str().ok_or_else(|| self.wrong_type("a string"))
    }

    pub fn u64(&self) -> Result<u64> {
        self.value.as_u64().ok_or_else(|| match self.value {
            Value::Number(_) => self.error(format!("{} is not a whole number 0 or above", self.value)),
            _ => self.wrong_type("a number"),
        })
    }

    /// A whole number in `range`.
    pub fn u64_in(&self, range: &std::ops::RangeInclusive<u64>) -> Result<u64> {
        let n = self.u64()?;
        if !range.contains(&n) {
            return Err(self.error(format!("{n} is outside {}..={}", range.start(), range.end())));
        }
        Ok(n)
    }

    pub fn items(&self) -> Result<Vec<At<'a>>> {
        let Value::Array(items) = self.value else {
            return Err(self.wrong_type("an array"));
        };
        Ok(items.iter().enumerate().map(|(i, value)| At { value, path: format!("{}[{i}]", self.path) }).collect())
    }

    /// The strings of an array of strings.
    pub fn strings(&self) -> Result<Vec<(At<'a>, &'a str)>> {
        self.items()?
            .into_iter()
            .map(|item| {
                let text = item.str()?;
                Ok((item, text))
            })
            .collect()
    }

    /// `kind` of a Kubernetes object, when it says.
    pub fn kind(&self) -> Result<Option<&'a str>> {
        self.opt("kind")?.map(|k| k.str()).transpose()
    }
}

/// Parses one input file. A syntax error is reported with its line and column.
pub fn parse(file: &str, text: &str) -> std::result::Result<Value, Problem> {
    serde_json::from_str(text).map_err(|e| Problem {
        file: file.to_string(),
        path: Some(String::new()),
        object: None,
        message: format!("is not JSON: {e}"),
    })
}

/// The objects of a `kubectl get -o json` document: the `items` of a List,
/// or the document itself when it is one object of an accepted `kind`.
pub fn objects<'a>(root: &At<'a>, kinds: &[&str]) -> Result<Vec<At<'a>>> {
    if root.opt("items")?.is_some() {
        return root.field("items")?.items();
    }
    match root.kind()? {
        Some(kind) if kinds.contains(&kind) => Ok(vec![root.clone()]),
        Some(kind) => Err(root.error(format!("is a {kind}, not a List or {}", kinds.join(" or ")))),
        None => {
            Err(root.error(format!("has neither `items` nor a `kind` (expected a List or {})", kinds.join(" or "))))
        }
    }
}
