//! `cargo xtask fetch-data NAME`: download a dataset's official files, check their
//! published checksums, and unpack them where the trainer looks (`SNN_DATA_DIR` or
//! `data/`, in `NAME/`).
//!
//! Downloads use `curl`; a machine without network (or without curl) gets a clear
//! message saying what to fetch by hand and where to put it. Checksums: SHA-256 where
//! the dataset's authors or mirrors publish one (CIFAR-10), otherwise the MD5 that the
//! distributors publish and torchvision checks (MNIST, Fashion-MNIST, SVHN).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use md5::Digest as _;

use crate::project_root;

/// A file to download: URL, local name, expected digest.
struct Remote {
    url: &'static str,
    name: &'static str,
    digest: Digest,
}

#[derive(Clone, Copy)]
enum Digest {
    Sha256(&'static str),
    Md5(&'static str),
}

fn remotes(name: &str) -> Result<(Vec<Remote>, bool)> {
    let r = |url, name, digest| Remote { url, name, digest };
    use Digest::{Md5, Sha256};
    Ok(match name {
        "mnist" => (
            vec![
                r("https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz", Md5("f68b3c2dcbeaaa9fbdd348bbdeb94873")),
                r("https://storage.googleapis.com/cvdf-datasets/mnist/train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz", Md5("d53e105ee54ea40749a09fcbcd1e9432")),
                r("https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", Md5("9fb629c4189551a2d022fa330f9573f3")),
                r("https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz", Md5("ec29112dd5afa0611ce80d1b7f02629c")),
            ],
            false,
        ),
        "fashion-mnist" => (
            vec![
                r("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz", Md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d")),
                r("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz", Md5("25c81989df183df01b3e8a0aad5dffbe")),
                r("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", Md5("bef4ecab320f06d8554ea6380940ec79")),
                r("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz", Md5("bb300cfdad3c16e7a12a480ee83cd310")),
            ],
            false,
        ),
        "cifar10" => (
            vec![r(
                "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                "cifar-10-binary.tar.gz",
                Sha256("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
            )],
            true,
        ),
        "svhn" => (
            vec![
                r("http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat", Md5("e26dedcc434d2e4c54c9b2d4a06d8373")),
                r("http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat", Md5("eb5a983be6a315427106f1b164d9cef3")),
            ],
            false,
        ),
        other => bail!("unknown dataset `{other}`; choose mnist, fashion-mnist, cifar10 or svhn"),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `path` against `digest`; returns the computed digest on mismatch.
fn verify(path: &Path, digest: Digest) -> Result<std::result::Result<(), String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (want, got) = match digest {
        Digest::Sha256(w) => (w, hex(&sha2::Sha256::digest(&bytes))),
        Digest::Md5(w) => (w, hex(&md5::Md5::digest(&bytes))),
    };
    Ok(if got == want { Ok(()) } else { Err(got) })
}

pub fn run(name: &str, dir: Option<PathBuf>) -> Result<()> {
    let (files, is_tar) = remotes(name)?;
    let base = dir
        .or_else(|| std::env::var_os("SNN_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| project_root().join("data"));
    let target = base.join(name);
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    for f in &files {
        let dest = target.join(f.name);
        if dest.is_file() && verify(&dest, f.digest)?.is_ok() {
            eprintln!("{}: present and verified", dest.display());
            continue;
        }
        eprintln!("downloading {} -> {}", f.url, dest.display());
        let partial = target.join(format!("{}.part", f.name));
        let status = Command::new("curl")
            .args([
                "--fail",
                "--location",
                "--silent",
                "--show-error",
                "--connect-timeout",
                "20",
                "-o",
            ])
            .arg(&partial)
            .arg(f.url)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                let _ = std::fs::remove_file(&partial);
                bail!(
                    "could not download {} (curl: {s}); this machine may have no network. \
                     Fetch the file by hand and put it at {}",
                    f.url,
                    dest.display()
                );
            }
            Err(e) => bail!(
                "cannot run curl ({e}); fetch {} by hand and put it at {}",
                f.url,
                dest.display()
            ),
        }
        if let Err(got) = verify(&partial, f.digest)? {
            let _ = std::fs::remove_file(&partial);
            bail!("{}: checksum mismatch (got {got}); the download is corrupt or the file changed upstream", f.url);
        }
        std::fs::rename(&partial, &dest)?;
        if is_tar {
            crate::run(
                Command::new("tar")
                    .arg("-xzf")
                    .arg(&dest)
                    .arg("-C")
                    .arg(&target),
            )?;
        }
    }
    eprintln!(
        "{name} is in {}; train with --dataset {name} --data-dir {}",
        target.display(),
        base.display()
    );
    Ok(())
}
