//! PEM certificates (`secrets check --certs`): a block cut short or damaged is an error
//! naming its line, never quoting the file (a private key may sit beside the certificate);
//! certificates read are as many as the file's blocks at most.

use std::fs;

use proptest::prelude::*;

use super::{SECRET, check, mutate, mutations};
use crate::secrets::certs;

/// Mutated files (a certificate between other text and a private key block).
const MUTATED_CASES: u32 = 1000;
/// The file cut inside its certificate block.
const CUT_CASES: u32 = 300;

/// A self-signed P-256 certificate made for this test with `openssl req -x509` (CN
/// fuzz.example, valid 2026-11-30 to 2036-11-27).
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBgjCCASmgAwIBAgIUaTDGnVmMuOfKGRm4fqbeovFVyCAwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMZnV6ei5leGFtcGxlMB4XDTI2MTEzMDEzMjY1N1oXDTM2MTEy
NzEzMjY1N1owFzEVMBMGA1UEAwwMZnV6ei5leGFtcGxlMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAE6p51hGHNUBa0RRAy0wF6scNh5WZeE6/XWUGQbseHPUqTkrkj
nY2Ifps+z9nShkRmAUtpoZzigJAiXhe6asO+ZKNTMFEwHQYDVR0OBBYEFMBg4++d
UR+wBQisSaUc5czkoVMwMB8GA1UdIwQYMBaAFMBg4++dUR+wBQisSaUc5czkoVMw
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgNyaR/rS1vgeHp6CV
+Y40SslCHhM8bYjvKJg4Fomi5mQCIGEYc4sMQapxeZ9KldiAvHDAW2V6g84WzmBQ
q4NkPdrl
-----END CERTIFICATE-----
";

fn sample() -> String {
    format!(
        "subject=CN=fuzz.example\n{CERT}-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n{CERT}"
    )
}

fn read(file: &std::path::Path, bytes: &[u8]) -> Result<Vec<certs::Cert>, String> {
    fs::write(file, bytes).expect("write");
    certs::read(file)
}

#[test]
fn the_sample_reads_two_certificates() {
    let dir = super::scratch();
    let got = read(&dir.path().join("chain.pem"), sample().as_bytes()).expect("the sample");
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].line, got[1].line), (2, 16));
    assert!(got[0].subject.contains("fuzz.example"));
}

#[test]
fn mutated_pem_never_panics_or_quotes() {
    let dir = super::scratch();
    let file = dir.path().join("chain.pem");
    check("mutated PEM", MUTATED_CASES, mutations(6), |ms| {
        let bytes = mutate(sample().as_bytes(), &ms);
        let text = String::from_utf8_lossy(&bytes);
        match read(&file, &bytes) {
            Err(why) => prop_assert!(!why.contains(SECRET), "an error quotes the file: {why}"),
            Ok(got) => {
                let blocks = text.matches("-----BEGIN CERTIFICATE-----").count();
                prop_assert!(
                    got.len() <= blocks,
                    "{} certificates from {blocks} blocks",
                    got.len()
                );
                let lines = text.lines().count();
                for c in &got {
                    prop_assert!((1..=lines).contains(&c.line), "line {} of {lines}", c.line);
                    prop_assert!(!c.subject.contains(SECRET) && !c.issuer.contains(SECRET));
                }
            }
        }
        Ok(())
    });
}

#[test]
fn a_certificate_cut_short_is_an_error() {
    let dir = super::scratch();
    let file = dir.path().join("cert.pem");
    let text = format!("# leaf\n{CERT}");
    // From the end of the BEGIN line (cut inside the marker, the file has no certificate
    // block at all: `secrets check` reports a file given so, as it does any such file).
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = text.find(begin).expect("BEGIN") + begin.len();
    let end = text.trim_end().len();
    check("cut PEM", CUT_CASES, any::<prop::sample::Index>(), |cut| {
        let at = start + cut.index(end - start);
        prop_assert!(
            read(&file, &text.as_bytes()[..at]).is_err(),
            "cut at {at} of {end} reads"
        );
        Ok(())
    });
}
