use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Like [`Severity`] plus `Ok`, which means every alert has recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Status {
    Critical,
    Warning,
    Info,
    Ok,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Progress {
    Triggered,
    Processing,
    Closed,
}

impl Severity {
    pub const ALL: [&'static str; 3] = ["Critical", "Warning", "Info"];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "Critical",
            Severity::Warning => "Warning",
            Severity::Info => "Info",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Critical" => Some(Severity::Critical),
            "Warning" => Some(Severity::Warning),
            "Info" => Some(Severity::Info),
            _ => None,
        }
    }
}

impl From<Severity> for Status {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Critical => Status::Critical,
            Severity::Warning => Status::Warning,
            Severity::Info => Status::Info,
        }
    }
}

impl Progress {
    pub fn as_str(self) -> &'static str {
        match self {
            Progress::Triggered => "Triggered",
            Progress::Processing => "Processing",
            Progress::Closed => "Closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Triggered" => Some(Progress::Triggered),
            "Processing" => Some(Progress::Processing),
            "Closed" => Some(Progress::Closed),
            _ => None,
        }
    }
}
