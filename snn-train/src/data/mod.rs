//! Datasets: loaders for MNIST / Fashion-MNIST (IDX), CIFAR-10 (binary) and SVHN
//! (MAT v5), the bundled MNIST subset, augmentation, and each dataset's input encoding.
//!
//! Images are kept as `u8` pixels in `HWC` order, exactly what `snn-core` consumes, so
//! training, evaluation and the exported model all see the same bytes.

pub mod augment;
pub mod cifar;
pub mod events;
pub mod idx;
pub mod svhn;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// Images (`u8`, `HWC`) and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Channels per pixel.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Number of classes.
    pub classes: usize,
    /// `len * height * width * channels` pixels.
    pub images: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
    /// An event dataset's samples (`images` is then empty; `channels` is 2, the
    /// polarities, and `height x width` the sensor after down-sampling).
    pub events: Option<events::EventSet>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of one image (saturating: a loaded dataset's images fit in memory).
    pub fn image_len(&self) -> usize {
        self.channels
            .saturating_mul(self.height)
            .saturating_mul(self.width)
    }

    /// The image shape as `CxHxW` (for messages).
    pub fn shape_name(&self) -> String {
        format!("{}x{}x{}", self.channels, self.height, self.width)
    }

    /// Image `i`'s pixels.
    ///
    /// **Panics** when `i >= self.len()` or the dataset holds events, not images
    /// (callers that take both check [`Self::events`] first).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// Inverts every pixel (`255 - x`): dark digits on a bright ground, a dense input
    /// (used to test that training copes with it).
    pub fn invert(&mut self) {
        for p in &mut self.images {
            *p = 255 - *p;
        }
    }

    /// The first `n` images (all if fewer).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        if let Some(ev) = &mut self.events {
            ev.truncate(n);
        } else {
            self.images.truncate(n * self.image_len());
        }
        self.labels.truncate(n);
    }
}

/// The datasets the toolkit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// The MNIST subset bundled in `data/mnist-subset` (10,000 train, 2,000 test).
    MnistSubset,
    /// MNIST handwritten digits, 28x28 grey.
    Mnist,
    /// Fashion-MNIST, 28x28 grey.
    FashionMnist,
    /// CIFAR-10, 32x32 colour.
    Cifar10,
    /// SVHN cropped digits, 32x32 colour.
    Svhn,
    /// N-MNIST event recordings, 34x34, two polarities.
    Nmnist,
    /// DVS128 Gesture event recordings, 128x128 (32x32 after the default
    /// down-sampling), two polarities, 11 classes.
    DvsGesture,
}

/// Which input encoding a run, an import or an evaluation uses, as the user names it:
/// `paper` (the dataset's encoding of `method.md` §2: MNIST `P = 0.5 p / 255`,
/// CIFAR-10 and SVHN signed and normalised), `rate:G` (Poisson spikes with probability
/// `G p / 255` on every channel, `0 < G <= 1`; snnTorch's `spikegen.rate` is `rate:1`)
/// or `analog` (the pixels as a constant current). Event datasets bring their own
/// spikes and take `paper` only.
///
/// ```
/// use snn_train::data::{DatasetKind, EncodingSpec};
/// let spec: EncodingSpec = "rate:1".parse().unwrap();
/// let enc = DatasetKind::Mnist.encoding_with(spec).unwrap();
/// assert_eq!(enc.gain, vec![snn_core::encode::unsigned_gain(1.0)]);
/// assert!("rate:1.5".parse::<EncodingSpec>().is_err());
/// assert_eq!(spec.to_string(), "rate:1");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EncodingSpec {
    /// The dataset's own encoding (the paper's).
    #[default]
    Paper,
    /// Unsigned rate coding with spike probability `G * pixel / 255`.
    Rate(f64),
    /// The analog input current.
    Analog,
}

impl std::str::FromStr for EncodingSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "paper" => Ok(Self::Paper),
            "analog" => Ok(Self::Analog),
            _ => {
                let g = s
                    .strip_prefix("rate:")
                    .and_then(|g| g.parse::<f64>().ok())
                    .ok_or_else(|| format!("encoding {s:?}: expected paper, rate:G or analog"))?;
                if !(g > 0.0 && g <= 1.0) {
                    return Err(format!("encoding {s:?}: G must be in (0, 1]"));
                }
                Ok(Self::Rate(g))
            }
        }
    }
}

impl std::fmt::Display for EncodingSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Paper => f.write_str("paper"),
            Self::Rate(g) => write!(f, "rate:{g}"),
            Self::Analog => f.write_str("analog"),
        }
    }
}

impl TryFrom<String> for EncodingSpec {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<EncodingSpec> for String {
    fn from(e: EncodingSpec) -> String {
        e.to_string()
    }
}

/// Input encoding in `snn-core`'s integer form, one entry per channel: the rate
/// encoder's centre and gain, or an analog input current (`analog`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encoding {
    /// Centre in pixel units times 256.
    pub center: Vec<i32>,
    /// U0.32 spike probability per 1/256 pixel unit.
    pub gain: Vec<u32>,
    /// Drive the first layer with the pixels as a constant current instead of spikes
    /// (`snn_core::analog`): the float input is `x = (p - center / 256) / 255` at every
    /// step.
    #[serde(default)]
    pub analog: bool,
}

impl Encoding {
    /// `P(spike) = c * p / 255`, unsigned (MNIST: `c = 0.5`).
    pub fn unsigned(c: f64) -> Self {
        Self {
            center: vec![0],
            gain: vec![snn_core::encode::unsigned_gain(c)],
            analog: false,
        }
    }

    /// The same input as an analog current: the centres rounded to whole pixel values
    /// (the zero point of `x = (p - z) / 255`), as `snn-core` requires.
    ///
    /// ```
    /// use snn_train::data::Encoding;
    /// let e = Encoding::normalised(&[0.5], &[0.25]).analog();
    /// assert!(e.analog);
    /// assert_eq!(e.center, vec![128 * 256]);
    /// ```
    pub fn analog(self) -> Self {
        let center = self.center.iter().map(|&c| ((c + 128) >> 8) << 8).collect();
        Self {
            center,
            analog: true,
            ..self
        }
    }

    /// The float analog input of pixel `p` of channel `c`: `(p - center / 256) / 255`.
    #[inline]
    pub fn analog_value(&self, p: u8, c: usize) -> f32 {
        let z = self.center.get(c).copied().unwrap_or(0) >> 8;
        (i32::from(p) - z) as f32 / 255.0
    }

    /// `x = (p / 255 - mean) / std`, `P(spike) = |x|`, sign of `x` (CIFAR-10, SVHN).
    pub fn normalised(mean: &[f64], std: &[f64]) -> Self {
        let (center, gain) = mean
            .iter()
            .zip(std)
            .map(|(&m, &s)| snn_core::encode::normalised_channel(m, s))
            .unzip();
        Self {
            center,
            gain,
            analog: false,
        }
    }
}

impl DatasetKind {
    /// Name used in file paths and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::MnistSubset => "mnist-subset",
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::Cifar10 => "cifar10",
            Self::Svhn => "svhn",
            Self::Nmnist => "nmnist",
            Self::DvsGesture => "dvs-gesture",
        }
    }

    /// Channels of the dataset's inputs (2 for event recordings: the polarities).
    pub fn channels(self) -> usize {
        match self {
            Self::Cifar10 | Self::Svhn => 3,
            Self::Nmnist | Self::DvsGesture => 2,
            _ => 1,
        }
    }

    /// The encoding `spec` names, for this dataset's channels.
    ///
    /// # Errors
    /// A message for an encoding an event dataset cannot take (its input is spikes).
    pub fn encoding_with(self, spec: EncodingSpec) -> Result<Encoding, String> {
        if self.is_events() && spec != EncodingSpec::Paper {
            return Err(format!(
                "encoding {spec}: the event dataset {} brings its own spikes",
                self.name()
            ));
        }
        Ok(match spec {
            EncodingSpec::Paper => self.encoding(),
            EncodingSpec::Analog => self.encoding().analog(),
            EncodingSpec::Rate(g) => Encoding {
                center: vec![0; self.channels()],
                gain: vec![snn_core::encode::unsigned_gain(g); self.channels()],
                analog: false,
            },
        })
    }

    /// True for event-camera datasets (their samples are events, not images).
    pub fn is_events(self) -> bool {
        matches!(self, Self::Nmnist | Self::DvsGesture)
    }

    /// `Ok` for an image dataset; for an event dataset, the error that `what` needs
    /// images.
    ///
    /// # Errors
    /// [`DataError::NeedsImages`].
    pub fn require_images(self, what: &'static str) -> Result<(), DataError> {
        if self.is_events() {
            return Err(DataError::NeedsImages {
                name: self.name().into(),
                what,
            });
        }
        Ok(())
    }

    /// The default load-time preprocessing of an event dataset (DVS128 Gesture is
    /// down-sampled 4x, to 32x32).
    pub fn event_options(self) -> events::EventOptions {
        events::EventOptions {
            downsample: if self == Self::DvsGesture { 4 } else { 1 },
            ..events::EventOptions::default()
        }
    }

    /// The paper's input encoding for this dataset (`method.md` §2).
    pub fn encoding(self) -> Encoding {
        match self {
            // Event datasets bring their own spikes; the encoder of their model files is
            // the MNIST one, unused.
            Self::MnistSubset | Self::Mnist | Self::FashionMnist => Encoding::unsigned(0.5),
            Self::Nmnist | Self::DvsGesture => {
                let one = Encoding::unsigned(0.5);
                Encoding {
                    center: vec![0, 0],
                    gain: vec![one.gain[0]; 2],
                    analog: false,
                }
            }
            Self::Cifar10 | Self::Svhn => {
                Encoding::normalised(&[0.4914, 0.4822, 0.4465], &[0.557, 0.549, 0.5534])
            }
        }
    }

    /// Default augmentation: (random crop with padding 4, horizontal flip).
    pub fn augmentation(self) -> (bool, bool) {
        match self {
            Self::MnistSubset | Self::Mnist | Self::FashionMnist => (false, false),
            Self::Nmnist | Self::DvsGesture => (false, false),
            Self::Cifar10 => (true, true),
            Self::Svhn => (true, false),
        }
    }

    /// Files of the official distribution, (train, test).
    fn files(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Self::MnistSubset | Self::Mnist | Self::FashionMnist => (
                &["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
                &["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
            ),
            Self::Cifar10 => (
                &[
                    "data_batch_1.bin",
                    "data_batch_2.bin",
                    "data_batch_3.bin",
                    "data_batch_4.bin",
                    "data_batch_5.bin",
                ],
                &["test_batch.bin"],
            ),
            Self::Svhn => (&["train_32x32.mat"], &["test_32x32.mat"]),
            Self::Nmnist => (&["Train"], &["Test"]),
            Self::DvsGesture => (&["trials_to_train.txt"], &["trials_to_test.txt"]),
        }
    }
}

/// Finds `name` (or `name.gz`) in `dir`.
fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    [name.to_string(), format!("{name}.gz")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
}

/// The directory holding a dataset's files: `dir` itself, or `dir/NAME`, or (CIFAR-10)
/// `dir/cifar-10-batches-bin`.
pub fn resolve_dir(kind: DatasetKind, dir: &Path) -> Result<PathBuf, DataError> {
    let first = kind.files().0[0];
    let candidates = [
        dir.to_path_buf(),
        dir.join(kind.name()),
        dir.join("cifar-10-batches-bin"),
        dir.join(kind.name()).join("cifar-10-batches-bin"),
    ];
    candidates
        .into_iter()
        .find(|d| find(d, first).is_some())
        .ok_or_else(|| DataError::NotFound {
            name: kind.name().into(),
            hint: format!(
                "no {first}[.gz] in {} or {}/{}; pass --data-dir, set SNN_DATA_DIR, or run `cargo xtask fetch-data {}`",
                dir.display(),
                dir.display(),
                kind.name(),
                kind.name()
            ),
        })
}

/// The bundled MNIST subset's directory (`data/mnist-subset` in the repository).
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist-subset")
}

/// Checks that `p` is valid UTF-8, as every path that a run records as text
/// (`data_dir` in `config.toml` and in checkpoints) must be.
///
/// # Errors
/// [`DataError::NonUtf8Path`] naming the path.
pub fn check_utf8_path(p: &Path) -> Result<(), DataError> {
    match p.to_str() {
        Some(_) => Ok(()),
        None => Err(DataError::NonUtf8Path {
            path: p.to_path_buf(),
        }),
    }
}

/// Where a dataset's files are looked for: `explicit` (`--data-dir`), else
/// `SNN_DATA_DIR`; the bundled subset always reads `data/mnist-subset`.
///
/// # Errors
/// [`DataError::NonUtf8Path`] when `explicit` is not valid UTF-8 (it is recorded in the
/// run's files), [`DataError::NotFound`] when no directory is given at all.
pub fn data_dir(kind: DatasetKind, explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(d) = explicit {
        check_utf8_path(d)?;
    }
    if kind == DatasetKind::MnistSubset {
        return Ok(bundled_dir());
    }
    if let Some(d) = explicit {
        return Ok(d.to_path_buf());
    }
    std::env::var_os("SNN_DATA_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| DataError::NotFound {
            name: kind.name().into(),
            hint: format!(
                "no data directory: pass --data-dir DIR or set SNN_DATA_DIR (or run `cargo xtask fetch-data {}`)",
                kind.name()
            ),
        })
}

/// Loads the (train, test) splits of a dataset from `dir` (see [`resolve_dir`]).
///
/// # Errors
/// [`DataError`] for missing, corrupt or empty files, and [`DataError::Mismatch`] when
/// the two splits differ in image size, channels or classes.
pub fn load(kind: DatasetKind, dir: &Path) -> Result<(Dataset, Dataset), DataError> {
    load_with(kind, dir, &kind.event_options())
}

/// [`load`] with an event dataset's preprocessing `opts` (ignored for images).
///
/// # Errors
/// As [`load`].
pub fn load_with(
    kind: DatasetKind,
    dir: &Path,
    opts: &events::EventOptions,
) -> Result<(Dataset, Dataset), DataError> {
    let dir = resolve_dir(kind, dir)?;
    let (train, test) = kind.files();
    let need = |name: &str| {
        find(&dir, name).ok_or_else(|| DataError::NotFound {
            name: kind.name().into(),
            hint: format!("{name}[.gz] missing in {}", dir.display()),
        })
    };
    let ((tr, tr_path), (te, te_path)) = match kind {
        DatasetKind::MnistSubset | DatasetKind::Mnist | DatasetKind::FashionMnist => {
            let (ti, tl) = (need(train[0])?, need(train[1])?);
            let (ei, el) = (need(test[0])?, need(test[1])?);
            (
                (idx::load_pair(&ti, &tl, 10)?, ti),
                (idx::load_pair(&ei, &el, 10)?, ei),
            )
        }
        DatasetKind::Cifar10 => (
            (cifar::load(&dir, train)?, dir.clone()),
            (cifar::load(&dir, test)?, dir.join(test[0])),
        ),
        DatasetKind::Svhn => {
            let (t, e) = (need(train[0])?, need(test[0])?);
            ((svhn::load(&t)?, t), (svhn::load(&e)?, e))
        }
        DatasetKind::Nmnist => {
            let (t, e) = (dir.join(train[0]), dir.join(test[0]));
            let tr = events::nmnist::load_split(&t, opts)?;
            let te = events::nmnist::load_split(&e, opts)?;
            ((event_dataset(tr, 10), t), (event_dataset(te, 10), e))
        }
        DatasetKind::DvsGesture => {
            let classes = events::aedat::CLASSES;
            let tr = events::aedat::load_split(&dir, train[0], opts)?;
            let te = events::aedat::load_split(&dir, test[0], opts)?;
            (
                (event_dataset(tr, classes), dir.join(train[0])),
                (event_dataset(te, classes), dir.join(test[0])),
            )
        }
    };
    check_splits(&tr, &tr_path, &te, &te_path)?;
    Ok((tr, te))
}

/// A split of an event dataset: two polarity channels on the set's sensor.
fn event_dataset((set, labels): (events::EventSet, Vec<u8>), classes: usize) -> Dataset {
    Dataset {
        channels: 2,
        height: set.height,
        width: set.width,
        classes,
        images: Vec::new(),
        labels,
        events: Some(set),
    }
}

/// Checks that two splits can share one network: both hold images, of the same
/// non-zero size and channels, with the same classes and every label below them.
///
/// # Errors
/// [`DataError::Empty`] for a split without images, [`DataError::Format`] for
/// zero-sized images or a label out of range, [`DataError::Mismatch`] naming both
/// files and both values when the splits differ.
pub fn check_splits(
    train: &Dataset,
    train_path: &Path,
    test: &Dataset,
    test_path: &Path,
) -> Result<(), DataError> {
    for (d, path, split) in [(train, train_path, "train"), (test, test_path, "test")] {
        if d.is_empty() {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
                split,
            });
        }
        if d.image_len() == 0 {
            return Err(DataError::format(
                path,
                format!("images of {} have no pixels", d.shape_name()),
            ));
        }
        let stored = match &d.events {
            Some(ev) => ev.len().checked_mul(d.image_len()),
            None => Some(d.images.len()),
        };
        if d.len().checked_mul(d.image_len()) != stored {
            return Err(DataError::format(
                path,
                format!(
                    "{} pixels for {} images of {}",
                    d.images.len(),
                    d.len(),
                    d.shape_name()
                ),
            ));
        }
        if let Some(bad) = d.labels.iter().find(|&&l| usize::from(l) >= d.classes) {
            return Err(DataError::format(
                path,
                format!("label {bad} outside 0..{}", d.classes),
            ));
        }
    }
    let mismatch = |problem: String| DataError::Mismatch {
        train: train_path.to_path_buf(),
        test: test_path.to_path_buf(),
        problem,
    };
    if (train.channels, train.height, train.width) != (test.channels, test.height, test.width) {
        return Err(mismatch(format!(
            "train images are {}, test images are {}",
            train.shape_name(),
            test.shape_name()
        )));
    }
    if train.classes != test.classes {
        return Err(mismatch(format!(
            "train split has {} classes, test split has {}",
            train.classes, test.classes
        )));
    }
    Ok(())
}
