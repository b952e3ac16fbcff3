//! Every loader on small files written here in the official formats, and the clear
//! errors for truncated, corrupt and mismatched files.

use std::io::Write;
use std::path::Path;

use snn_train::data::{self, cifar, idx, svhn, DatasetKind};
use snn_train::DataError;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn mnist_files(dir: &Path, n: usize, compress: bool) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n * 28 * 28).map(|i| (i * 7 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let imgs = idx::encode_idx(&[n, 28, 28], &pixels);
    let labs = idx::encode_idx(&[n], &labels);
    let ext = if compress { ".gz" } else { "" };
    let f = |b: &[u8]| if compress { gz(b) } else { b.to_vec() };
    for split in ["train", "t10k"] {
        write(dir, &format!("{split}-images-idx3-ubyte{ext}"), &f(&imgs));
        write(dir, &format!("{split}-labels-idx1-ubyte{ext}"), &f(&labs));
    }
    (pixels, labels)
}

#[test]
fn idx_raw_and_gzip_load_identically() {
    for compress in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (pixels, labels) = mnist_files(dir.path(), 5, compress);
        let (train, test) = data::load(DatasetKind::Mnist, dir.path()).unwrap();
        assert_eq!(train.images, pixels);
        assert_eq!(train.labels, labels);
        assert_eq!(
            (train.channels, train.height, train.width, train.len()),
            (1, 28, 28, 5)
        );
        assert_eq!(test.len(), 5);
    }
}

#[test]
fn idx_found_in_a_named_subdirectory() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("fashion-mnist");
    std::fs::create_dir(&sub).unwrap();
    mnist_files(&sub, 3, true);
    let (train, _) = data::load(DatasetKind::FashionMnist, dir.path()).unwrap();
    assert_eq!(train.len(), 3);
}

fn format_problem(e: DataError) -> (String, String) {
    match e {
        DataError::Format { path, problem } => (path.display().to_string(), problem),
        other => panic!("expected a format error, got {other}"),
    }
}

#[test]
fn idx_truncated_corrupt_and_mismatched_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    mnist_files(dir.path(), 4, false);
    let imgs = dir.path().join("train-images-idx3-ubyte");
    let full = std::fs::read(&imgs).unwrap();

    std::fs::write(&imgs, &full[..full.len() - 10]).unwrap();
    let (path, problem) = format_problem(data::load(DatasetKind::Mnist, dir.path()).unwrap_err());
    assert!(path.ends_with("train-images-idx3-ubyte"), "{path}");
    assert!(problem.contains("truncated"), "{problem}");

    let mut bad = full.clone();
    bad[2] = 0x0d; // float elements
    std::fs::write(&imgs, &bad).unwrap();
    let (_, problem) = format_problem(data::load(DatasetKind::Mnist, dir.path()).unwrap_err());
    assert!(problem.contains("element type"), "{problem}");

    std::fs::write(&imgs, &gz(&full)[..40]).unwrap();
    let (_, problem) = format_problem(data::load(DatasetKind::Mnist, dir.path()).unwrap_err());
    assert!(problem.contains("gzip"), "{problem}");

    std::fs::write(&imgs, &full).unwrap();
    write(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx::encode_idx(&[3], &[1, 2, 3]),
    );
    let (path, problem) = format_problem(data::load(DatasetKind::Mnist, dir.path()).unwrap_err());
    assert!(
        path.ends_with("train-labels-idx1-ubyte") && problem.contains("labels for 4 images"),
        "{problem}"
    );

    write(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx::encode_idx(&[4], &[1, 2, 3, 12]),
    );
    let (_, problem) = format_problem(data::load(DatasetKind::Mnist, dir.path()).unwrap_err());
    assert!(problem.contains("label 12"), "{problem}");
}

#[test]
fn missing_dataset_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let e = data::load(DatasetKind::Cifar10, dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("data_batch_1.bin") && msg.contains("fetch-data cifar10"),
        "{msg}"
    );
}

fn cifar_record(label: u8, seed: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3072).map(|i| (i as u8).wrapping_mul(3).wrapping_add(seed)));
    r
}

#[test]
fn cifar_batches_become_hwc() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&sub).unwrap();
    for (i, f) in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
    ]
    .iter()
    .enumerate()
    {
        write(
            &sub,
            f,
            &[cifar_record(i as u8, 1), cifar_record(9, 2)].concat(),
        );
    }
    write(&sub, "test_batch.bin", &cifar_record(3, 5));
    let (train, test) = data::load(DatasetKind::Cifar10, dir.path()).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!(train.labels[..4], [0, 9, 1, 9]);
    assert_eq!(test.labels, [3]);
    // Pixel (row 0, col 1): red plane index 1, green 1025, blue 2049.
    let rec = cifar_record(3, 5);
    assert_eq!(
        &test.image(0)[3..6],
        &[rec[1 + 1], rec[1 + 1025], rec[1 + 2049]]
    );
}

#[test]
fn cifar_truncated_and_bad_label() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.bin");
    let (mut i, mut l) = (Vec::new(), Vec::new());
    let e = cifar::parse_batch(&p, &cifar_record(1, 1)[..3000], &mut i, &mut l).unwrap_err();
    assert!(e.to_string().contains("whole number"), "{e}");
    let e = cifar::parse_batch(&p, &cifar_record(11, 1), &mut i, &mut l).unwrap_err();
    assert!(e.to_string().contains("label 11"), "{e}");
}

fn svhn_file(n: usize, compress: bool) -> (Vec<u8>, Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..32 * 32 * 3 * n)
        .map(|i| ((i * 13) % 256) as f64)
        .collect();
    let y: Vec<f64> = (0..n).map(|i| (i % 10 + 1) as f64).collect();
    let bytes = svhn::write_mat(
        &[("X", &[32, 32, 3, n], &x, true), ("y", &[n, 1], &y, false)],
        compress,
    );
    (bytes, x, y)
}

#[test]
fn svhn_mat_files_compressed_or_not() {
    for compress in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, x, _) = svhn_file(3, compress);
        write(dir.path(), "train_32x32.mat", &bytes);
        write(dir.path(), "test_32x32.mat", &bytes);
        let (train, test) = data::load(DatasetKind::Svhn, dir.path()).unwrap();
        assert_eq!(train.len(), 3);
        assert_eq!(train.labels, [1, 2, 3]); // 1..3 stay; 10 would become 0
        assert_eq!(test.len(), 3);
        // Image 2, row 4, col 7, channel 1 is X[4 + 32 * (7 + 32 * (1 + 3 * 2))].
        let v = x[4 + 32 * (7 + 32 * (1 + 3 * 2))] as u8;
        assert_eq!(train.image(2)[(4 * 32 + 7) * 3 + 1], v);
    }
}

#[test]
fn svhn_label_ten_is_digit_zero_and_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("train_32x32.mat");
    let (bytes, _, _) = svhn_file(10, true);
    std::fs::write(&p, &bytes).unwrap();
    let ds = svhn::load(&p).unwrap();
    assert_eq!(ds.labels[9], 0);

    std::fs::write(&p, &bytes[..bytes.len() - 20]).unwrap();
    let e = svhn::load(&p).unwrap_err().to_string();
    assert!(e.contains("train_32x32.mat"), "{e}");

    std::fs::write(&p, b"\x89HDF\r\n not a v5 file").unwrap();
    let e = svhn::load(&p).unwrap_err().to_string();
    assert!(e.contains("MAT-file"), "{e}");
}

#[test]
fn augmentation_crops_and_flips() {
    use rand::SeedableRng;
    let img: Vec<u8> = (0..4 * 4).map(|i| i as u8 + 1).collect();
    let mut out = vec![0; 16];
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut seen_shift = false;
    for _ in 0..50 {
        data::augment::crop_flip(&img, (4, 4, 1), 1, false, &mut rng, &mut out);
        // A crop is a shift: every non-zero output pixel keeps its row neighbour order.
        seen_shift |= out != img;
        assert!(out.iter().filter(|&&v| v == 0).count() <= 7);
    }
    assert!(seen_shift);
    let mut flipped = false;
    for _ in 0..20 {
        data::augment::crop_flip(&img, (4, 4, 1), 0, true, &mut rng, &mut out);
        if out != img {
            assert_eq!(&out[..4], &[4, 3, 2, 1]);
            flipped = true;
        }
    }
    assert!(flipped);
}

#[test]
fn bundled_subset_is_complete() {
    let (train, test) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    assert_eq!((train.len(), test.len()), (10_000, 2_000));
    assert!(train.labels.iter().all(|&l| l < 10));
}

#[test]
fn full_mnist_when_available() {
    let dir = std::env::var_os("SNN_MNIST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist"));
    if !dir.is_dir() {
        println!(
            "skipped: full MNIST not found at {} (set SNN_MNIST_DIR)",
            dir.display()
        );
        return;
    }
    let (train, test) = data::load(DatasetKind::Mnist, &dir).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    // The bundled subset is the head of the full set.
    let (sub, _) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    assert_eq!(&train.images[..sub.images.len()], &sub.images[..]);
}

/// Writes an IDX pair (`PREFIX-images-idx3-ubyte`, `PREFIX-labels-idx1-ubyte`) of `n`
/// images of `h x w`.
fn idx_split(dir: &Path, prefix: &str, n: usize, h: usize, w: usize) {
    let pixels: Vec<u8> = (0..n * h * w).map(|i| (i * 5 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    write(
        dir,
        &format!("{prefix}-images-idx3-ubyte"),
        &idx::encode_idx(&[n, h, w], &pixels),
    );
    write(
        dir,
        &format!("{prefix}-labels-idx1-ubyte"),
        &idx::encode_idx(&[n], &labels),
    );
}

#[test]
fn train_and_test_of_different_sizes_are_rejected_at_load() {
    let dir = tempfile::tempdir().unwrap();
    idx_split(dir.path(), "train", 3, 28, 28);
    idx_split(dir.path(), "t10k", 2, 32, 32);
    let e = data::load(DatasetKind::Mnist, dir.path()).unwrap_err();
    assert!(matches!(e, DataError::Mismatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("train-images-idx3-ubyte")
            && msg.contains("t10k-images-idx3-ubyte")
            && msg.contains("train images are 1x28x28, test images are 1x32x32"),
        "{msg}"
    );
    // Same for width only.
    idx_split(dir.path(), "t10k", 2, 28, 27);
    let msg = data::load(DatasetKind::Mnist, dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("test images are 1x28x27"), "{msg}");
}

#[test]
fn a_split_without_images_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    idx_split(dir.path(), "train", 3, 28, 28);
    idx_split(dir.path(), "t10k", 0, 28, 28);
    let e = data::load(DatasetKind::Mnist, dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Empty { split: "test", .. }), "{msg}");
    assert!(
        msg.contains("t10k-images-idx3-ubyte") && msg.contains("no images in the test split"),
        "{msg}"
    );
    idx_split(dir.path(), "train", 0, 28, 28);
    idx_split(dir.path(), "t10k", 2, 28, 28);
    let msg = data::load(DatasetKind::Mnist, dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no images in the train split"), "{msg}");
    // Zero-sized images are no images either.
    idx_split(dir.path(), "train", 2, 0, 28);
    idx_split(dir.path(), "t10k", 2, 0, 28);
    let msg = data::load(DatasetKind::Mnist, dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("have no pixels"), "{msg}");
    // An SVHN file with no images.
    let (bytes, _, _) = svhn_file(0, false);
    write(dir.path(), "train_32x32.mat", &svhn_file(2, false).0);
    write(dir.path(), "test_32x32.mat", &bytes);
    let msg = data::load(DatasetKind::Svhn, dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("test_32x32.mat") && msg.contains("no images"),
        "{msg}"
    );
}

#[test]
fn check_splits_compares_classes_and_labels() {
    let one = data::Dataset {
        channels: 1,
        height: 2,
        width: 2,
        classes: 10,
        images: vec![0; 4],
        labels: vec![3],
        events: None,
    };
    let (a, b) = (Path::new("a"), Path::new("b"));
    data::check_splits(&one, a, &one, b).unwrap();
    let fewer = data::Dataset {
        classes: 5,
        ..one.clone()
    };
    let msg = data::check_splits(&one, a, &fewer, b)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("10 classes, test split has 5"), "{msg}");
    let bad_label = data::Dataset {
        labels: vec![7],
        ..fewer
    };
    let msg = data::check_splits(&bad_label, a, &one, b)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("label 7 outside 0..5"), "{msg}");
    let short = data::Dataset {
        images: vec![0; 3],
        ..one.clone()
    };
    let msg = data::check_splits(&one, a, &short, b)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("3 pixels for 1 images"), "{msg}");
}

#[test]
fn svhn_dimensions_whose_product_overflows_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("train_32x32.mat");
    // 2^16 * 2^16 * 2^16 * 2^16 = 2^64 elements wraps to 0 (and matched an empty data
    // element) before the checked product; also (2^31 - 1)^3, and a product that
    // overflows in the middle of six dimensions.
    for dims in [
        vec![65536usize, 65536, 65536, 65536],
        vec![i32::MAX as usize; 3],
        vec![32, 32, 3, i32::MAX as usize, i32::MAX as usize, 1 << 20],
    ] {
        let bytes = svhn::write_mat(&[("X", &dims, &[], true)], false);
        std::fs::write(&p, &bytes).unwrap();
        let e = svhn::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("overflow") && e.contains("train_32x32.mat"),
            "{dims:?}: {e}"
        );
    }
}

#[cfg(unix)]
#[test]
fn non_utf8_data_dirs_are_rejected_by_name() {
    use std::os::unix::ffi::OsStrExt;
    let p = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/data-\xff\xfe"));
    let e = data::check_utf8_path(p).unwrap_err();
    assert!(matches!(e, DataError::NonUtf8Path { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("not valid UTF-8") && msg.contains("/tmp/data-"),
        "{msg}"
    );
    data::check_utf8_path(Path::new("/tmp/data")).unwrap();
    for kind in [DatasetKind::Mnist, DatasetKind::MnistSubset] {
        let msg = data::data_dir(kind, Some(p)).unwrap_err().to_string();
        assert!(msg.contains("not valid UTF-8"), "{kind:?}: {msg}");
    }
}
