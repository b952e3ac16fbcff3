//! `cargo xtask fetch-data NAME`: download a dataset's official files, check their
//! published checksums, and unpack them where the trainer looks (`SNN_DATA_DIR` or
//! `data/`, in `NAME/`).
//!
//! Downloads use `curl`; a machine without network (or without curl) gets a clear
//! message saying what to fetch by hand and where to put it. Checksums: SHA-256 where
//! the dataset's authors or mirrors publish one (CIFAR-10), otherwise the MD5 that the
//! distributors publish and torchvision checks (MNIST, Fashion-MNIST, SVHN), and
//! tonic checks (N-MNIST). DVS128 Gesture's AEDAT recordings sit behind IBM's web page
//! with no fixed link; `fetch-data dvs-gesture` says where to get them and how to unpack.

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

/// How a downloaded file is unpacked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unpack {
    /// Used as it is.
    None,
    /// `tar -xzf`.
    TarGz,
    /// `unzip` (N-MNIST's `train.zip` holds `Train/`, `test.zip` holds `Test/`).
    Zip,
}

fn remotes(name: &str) -> Result<(Vec<Remote>, Unpack)> {
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
            Unpack::None,
        ),
        "fashion-mnist" => (
            vec![
                r("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz", Md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d")),
                r("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz", Md5("25c81989df183df01b3e8a0aad5dffbe")),
                r("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", Md5("bef4ecab320f06d8554ea6380940ec79")),
                r("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz", Md5("bb300cfdad3c16e7a12a480ee83cd310")),
            ],
            Unpack::None,
        ),
        "cifar10" => (
            vec![r(
                "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                "cifar-10-binary.tar.gz",
                Sha256("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
            )],
            Unpack::TarGz,
        ),
        "svhn" => (
            vec![
                r("http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat", Md5("e26dedcc434d2e4c54c9b2d4a06d8373")),
                r("http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat", Md5("eb5a983be6a315427106f1b164d9cef3")),
            ],
            Unpack::None,
        ),
        "nmnist" => (
            vec![
                r("https://data.mendeley.com/public-files/datasets/468j46mzdv/files/39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded", "train.zip", Md5("20959b8e626244a1b502305a9e6e2031")),
                r("https://data.mendeley.com/public-files/datasets/468j46mzdv/files/05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded", "test.zip", Md5("69ca8762b2fe404d9b9bad1103e97832")),
            ],
            Unpack::Zip,
        ),
        "dvs-gesture" => bail!(
            "DVS128 Gesture's AEDAT 3.1 recordings are not on a fixed URL: download \
             DvsGesture.tar.gz from https://research.ibm.com/interactive/dvsgesture/ (IBM's \
             Box link), run `tar -xzf DvsGesture.tar.gz` in your data directory, and train \
             with --dataset dvs-gesture --data-dir DIR/DvsGesture (it holds \
             trials_to_train.txt, trials_to_test.txt, the .aedat files and their \
             _labels.csv files)"
        ),
        other => bail!("unknown dataset `{other}`; choose mnist, fashion-mnist, cifar10, svhn, nmnist or dvs-gesture"),
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
    let (files, unpack) = remotes(name)?;
    let extract = |archive: &Path, into: &Path| match unpack {
        Unpack::Zip => zip_extract(archive, into),
        _ => tar_extract(archive, into),
    };
    let base = dir
        .or_else(|| std::env::var_os("SNN_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| project_root().join("data"));
    let target = base.join(name);
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    for f in &files {
        let dest = target.join(f.name);
        if dest.is_file() && verify(&dest, f.digest)?.is_ok() {
            eprintln!("{}: present and verified", dest.display());
            if unpack != Unpack::None && extract_once(&dest, &target, extract)? {
                eprintln!("{}: extracted", dest.display());
            }
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
        // A new archive invalidates what an older one extracted.
        remove_if_present(&extracted_marker(&dest))?;
        std::fs::rename(&partial, &dest)?;
        if unpack != Unpack::None {
            extract_once(&dest, &target, extract)?;
        }
    }
    eprintln!(
        "{name} is in {}; train with --dataset {name} --data-dir {}",
        target.display(),
        base.display()
    );
    Ok(())
}

/// `tar -xzf ARCHIVE -C INTO`.
fn tar_extract(archive: &Path, into: &Path) -> Result<()> {
    crate::run(
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(into),
    )
}

/// `unzip -q ARCHIVE -d INTO`.
fn zip_extract(archive: &Path, into: &Path) -> Result<()> {
    crate::run(
        Command::new("unzip")
            .arg("-q")
            .arg(archive)
            .arg("-d")
            .arg(into),
    )
}

/// The file whose presence says that `archive` was extracted completely:
/// `.NAME.extracted` next to it.
fn extracted_marker(archive: &Path) -> PathBuf {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    archive.with_file_name(format!(".{name}.extracted"))
}

fn remove_if_present(path: &Path) -> Result<()> {
    let r = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Extracts `archive` into `target` unless a previous run finished doing so; returns
/// whether it extracted.
///
/// Atomic in effect: `extract` unpacks into a fresh `target/.extracting` directory, the
/// entries are then moved into `target` (replacing what an interrupted run left), and
/// only then is the marker ([`extracted_marker`]) written. A run killed at any point
/// before the marker leaves no marker, so the next run extracts again from scratch.
fn extract_once(
    archive: &Path,
    target: &Path,
    extract: impl FnOnce(&Path, &Path) -> Result<()>,
) -> Result<bool> {
    let marker = extracted_marker(archive);
    if marker.is_file() {
        return Ok(false);
    }
    let tmp = target.join(".extracting");
    remove_if_present(&tmp)?;
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    if let Err(e) = extract(archive, &tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.context(format!("extracting {}", archive.display())));
    }
    let entries = std::fs::read_dir(&tmp).with_context(|| format!("reading {}", tmp.display()))?;
    for entry in entries {
        let entry = entry?;
        let dest = target.join(entry.file_name());
        remove_if_present(&dest)?;
        std::fs::rename(entry.path(), &dest)
            .with_context(|| format!("moving {} into place", dest.display()))?;
    }
    std::fs::remove_dir(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    std::fs::write(&marker, b"extracted completely\n")
        .with_context(|| format!("writing {}", marker.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh scratch directory for one test (no tempfile dependency in xtask).
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-fetch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Writes the files of a fake CIFAR-10 archive's contents into `into`.
    fn unpack_fake(into: &Path, complete: bool) -> Result<()> {
        let d = into.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("data_batch_1.bin"), b"first")?;
        if !complete {
            bail!("killed half-way");
        }
        std::fs::write(d.join("test_batch.bin"), b"last")?;
        Ok(())
    }

    #[test]
    fn an_interrupted_extraction_is_redone() {
        let target = scratch("interrupted");
        let archive = target.join("cifar-10-binary.tar.gz");
        std::fs::write(&archive, b"archive").unwrap();

        let e = extract_once(&archive, &target, |_, into| unpack_fake(into, false)).unwrap_err();
        assert!(format!("{e:#}").contains("killed half-way"), "{e:#}");
        assert!(!extracted_marker(&archive).exists());
        assert!(
            !target.join("cifar-10-batches-bin").exists(),
            "half an extraction was moved into place"
        );

        assert!(extract_once(&archive, &target, |_, into| unpack_fake(into, true)).unwrap());
        let d = target.join("cifar-10-batches-bin");
        assert_eq!(std::fs::read(d.join("test_batch.bin")).unwrap(), b"last");
        assert!(extracted_marker(&archive).is_file());
        assert!(!target.join(".extracting").exists());

        // Done once: not again.
        let again = extract_once(&archive, &target, |_, _| panic!("extracted twice")).unwrap();
        assert!(!again);
        std::fs::remove_dir_all(&target).unwrap();
    }

    #[test]
    fn leftovers_of_a_killed_run_are_replaced() {
        // What an old, non-atomic run killed mid-way left: a partial directory, a stale
        // scratch directory, and no marker.
        let target = scratch("killed");
        let archive = target.join("cifar-10-binary.tar.gz");
        std::fs::write(&archive, b"archive").unwrap();
        let partial = target.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&partial).unwrap();
        std::fs::write(partial.join("data_batch_1.bin"), b"fir").unwrap();
        std::fs::create_dir_all(target.join(".extracting/junk")).unwrap();

        assert!(extract_once(&archive, &target, |_, into| unpack_fake(into, true)).unwrap());
        assert_eq!(
            std::fs::read(partial.join("data_batch_1.bin")).unwrap(),
            b"first"
        );
        assert!(partial.join("test_batch.bin").is_file());
        assert!(!target.join("junk").exists());
        std::fs::remove_dir_all(&target).unwrap();
    }

    #[test]
    fn a_real_tar_archive_truncated_then_whole() {
        let work = scratch("tar");
        let src = work.join("src");
        std::fs::create_dir_all(src.join("cifar-10-batches-bin")).unwrap();
        std::fs::write(
            src.join("cifar-10-batches-bin/test_batch.bin"),
            vec![7u8; 50_000],
        )
        .unwrap();
        let whole = work.join("whole.tar.gz");
        let made = Command::new("tar")
            .arg("-czf")
            .arg(&whole)
            .arg("-C")
            .arg(&src)
            .arg("cifar-10-batches-bin")
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipped: no tar here");
            return;
        }
        let target = work.join("target");
        std::fs::create_dir_all(&target).unwrap();
        let archive = target.join("cifar-10-binary.tar.gz");
        let bytes = std::fs::read(&whole).unwrap();
        // A truncated archive: tar fails, nothing is marked done.
        std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
        assert!(extract_once(&archive, &target, tar_extract).is_err());
        assert!(!extracted_marker(&archive).exists());
        // The whole archive: extracted, in place, marked.
        std::fs::write(&archive, &bytes).unwrap();
        assert!(extract_once(&archive, &target, tar_extract).unwrap());
        let got = std::fs::read(target.join("cifar-10-batches-bin/test_batch.bin")).unwrap();
        assert_eq!(got.len(), 50_000);
        assert!(extracted_marker(&archive).is_file());
        std::fs::remove_dir_all(&work).unwrap();
    }
}
