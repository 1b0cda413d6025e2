//! The one place that does HTTP. Downloads go through curl, which uses the system CA store
//! and honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY like every other tool on the machine.

use std::path::Path;

use anyhow::{Result, bail};
use xshell::cmd;

use crate::sh;

/// Download `url` to `dest` (overwritten). Fails with the URL named on any HTTP error.
pub fn download(url: &str, dest: &Path) -> Result<()> {
    if !sh::has_program("curl") {
        bail!("curl is needed to download {url}: install it (apt-get install curl)");
    }
    let sh = sh::shell(dest.parent().unwrap_or(Path::new(".")))?;
    cmd!(sh, "curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --max-time 600 --output {dest} {url}")
        .quiet()
        .run()
        .map_err(|e| anyhow::anyhow!("downloading {url} failed: {e}"))?;
    Ok(())
}

/// GET `url`: (status, body). A connection failure is an error naming the URL.
pub fn get(url: &str, timeout_secs: u64) -> Result<(u16, String)> {
    if !sh::has_program("curl") {
        bail!("curl is needed to check {url}: install it (apt-get install curl)");
    }
    let sh = sh::shell(Path::new("."))?;
    let t = timeout_secs.max(1).to_string();
    let write_out = "\n%{http_code}";
    let out = cmd!(
        sh,
        "curl --silent --show-error --max-time {t} --output - --write-out {write_out} {url}"
    )
    .quiet()
    .ignore_status()
    .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    let status: u16 = code.trim().parse().unwrap_or(0);
    if status == 0 {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("GET {url}: {}", err.trim().trim_start_matches("curl: "));
    }
    Ok((status, body.to_string()))
}
