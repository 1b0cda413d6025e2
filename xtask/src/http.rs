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
