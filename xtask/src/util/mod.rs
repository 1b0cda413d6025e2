//! Shared plumbing below every command: files, processes, HTTP, hashing, globbing, the
//! progress line, credential redaction and the bounds on XML and YAML. Nothing here knows about a command.

pub mod actor;
pub mod files;
pub mod glob;
pub mod hash;
pub mod http;
pub mod progress;
pub mod redact;
pub mod sh;
pub mod walk;
pub mod xml;
pub mod yaml;
