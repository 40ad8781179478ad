//! Arguments a function cannot do without. A function declared with every argument
//! required is STRICT in PostgreSQL: a NULL anywhere makes it answer NULL without running,
//! which a caller reads as "nothing to do". The functions whose answer must not be
//! mistaken take their arguments as optional and refuse a NULL naming it.

/// The error of a NULL argument, with SQLSTATE 22023 (invalid_parameter_value) where it
/// is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(pub String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `value`, or the error naming `argument` when it is NULL (`None`).
pub fn required<T>(argument: &str, value: Option<T>) -> Result<T, Missing> {
    value.ok_or_else(|| {
        Missing(format!(
            "weston: {argument} must not be NULL (an answer of NULL would read as nothing to do)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_argument_is_refused_naming_it() {
        assert_eq!(required("today", Some(3)), Ok(3));
        let e = required::<i32>("to_date", None).unwrap_err();
        assert!(e.0.starts_with("weston: to_date must not be NULL"), "{e}");
    }
}
