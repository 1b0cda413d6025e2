//! End-to-end tests: the real `xtask` binary on temp trees. One test binary, many modules.

mod advisories;
mod alerts;
mod audit;
mod backup_config;
mod bench_build;
mod checklist;
mod ci;
mod cli;
mod coverage;
mod db;
mod deploy;
mod deps;
mod deps_lock;
mod layering;
mod metrics;
mod outdated;
mod postgres;
mod restore;
mod scan_config;
mod secrets;
mod support;
mod test_report;
mod workflows;
