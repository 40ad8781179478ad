use std::process::ExitCode;

/// Every way the loader can stop, each with its exit status (the table in docs/REFERENCE.md,
/// "Exit statuses").
#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    /// Bad usage or configuration: exit 2.
    #[error("{0}")]
    Config(String),
    /// The run failed (and etl_run says why, when a run was begun): exit 1.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
    /// The run finished, but some data could not be had from any provider (recorded as
    /// `partial`, the symbols and kinds named in `etl_run.stats`): exit 3.
    #[error("{0}")]
    Partial(String),
    /// Another session holds the run lock (recorded as `skipped`): exit 75.
    #[error("the run is skipped: {0}")]
    Locked(String),
}

impl LoaderError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            LoaderError::Failed(_) => 1,
            LoaderError::Config(_) => 2,
            LoaderError::Partial(_) => 3,
            LoaderError::Locked(_) => 75,
        })
    }
}

impl From<sqlx::Error> for LoaderError {
    fn from(e: sqlx::Error) -> Self {
        LoaderError::Failed(e.into())
    }
}

/// The error and its causes on one line, skipping causes whose text the outer message
/// already contains (sqlx repeats its source in its own message).
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}
