//! SVHN cropped digits: `train_32x32.mat` / `test_32x32.mat` (MATLAB level 5 MAT-files).
//!
//! Holds a small reader for the subset of MAT v5 that these files use (little-endian,
//! numeric `miMATRIX` elements, optionally inside zlib `miCOMPRESSED` elements, small
//! data-element format) and a writer of the same subset for tests. `X` is
//! `32 x 32 x 3 x N` `uint8` in column-major order; `y` is `N x 1` with labels 1..10,
//! where 10 stands for the digit 0.

use std::io::Read;
use std::path::Path;

use super::Dataset;
use crate::error::DataError;

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

/// A numeric MATLAB array: name, dimensions and real values.
#[derive(Debug, Clone, PartialEq)]
pub struct MatArray {
    /// Variable name.
    pub name: String,
    /// Dimensions (column-major).
    pub dims: Vec<usize>,
    /// Values, converted to `f64` (exact for the integer classes used here).
    pub data: Vec<f64>,
}

struct Cursor<'a> {
    path: &'a Path,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: &str) -> DataError {
        DataError::format(self.path, format!("MAT-file {what} at byte {}", self.pos))
    }

    fn u32(&mut self) -> Result<u32, DataError> {
        let s = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos += 4;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// Reads one data element: `(type, payload)`, advancing past the padding.
    fn element(&mut self) -> Result<(u32, &'a [u8]), DataError> {
        let first = self.u32()?;
        if first >> 16 != 0 {
            // Small data element: type and size packed in one word, data in the next 4.
            let (ty, n) = (first & 0xffff, (first >> 16) as usize);
            let s = self
                .b
                .get(self.pos..self.pos + 4)
                .ok_or_else(|| self.err("truncated"))?;
            self.pos += 4;
            return Ok((ty, s.get(..n).ok_or_else(|| self.err("bad small element"))?));
        }
        let n = self.u32()? as usize;
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.err("bad length"))?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or_else(|| self.err("element truncated"))?;
        self.pos = end;
        if first != MI_COMPRESSED {
            self.pos = self.pos.div_ceil(8) * 8;
        }
        Ok((first, s))
    }
}

fn numbers(path: &Path, ty: u32, s: &[u8]) -> Result<Vec<f64>, DataError> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            s.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")) as f64)
                .collect()
        };
    }
    Ok(match ty {
        MI_INT8 => s.iter().map(|&v| v as i8 as f64).collect(),
        MI_UINT8 => s.iter().map(|&v| v as f64).collect(),
        MI_INT16 => conv!(i16, 2),
        MI_UINT16 => conv!(u16, 2),
        MI_INT32 => conv!(i32, 4),
        MI_UINT32 => conv!(u32, 4),
        MI_SINGLE => conv!(f32, 4),
        MI_DOUBLE => conv!(f64, 8),
        other => {
            return Err(DataError::format(
                path,
                format!("unsupported MAT numeric type {other}"),
            ))
        }
    })
}

fn parse_matrix(path: &Path, body: &[u8]) -> Result<MatArray, DataError> {
    let mut c = Cursor {
        path,
        b: body,
        pos: 0,
    };
    let (_, _flags) = c.element()?;
    let (ty, dims) = c.element()?;
    if ty != MI_INT32 {
        return Err(c.err("dimensions are not int32"));
    }
    let dims: Vec<usize> = dims
        .chunks_exact(4)
        .map(|d| i32::from_le_bytes([d[0], d[1], d[2], d[3]]).max(0) as usize)
        .collect();
    let (_, name) = c.element()?;
    let (ty, real) = c.element()?;
    let data = numbers(path, ty, real)?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            DataError::format(
                path,
                format!("array dimensions {dims:?} overflow the address space"),
            )
        })?;
    if data.len() != count {
        return Err(DataError::format(
            path,
            format!(
                "array has {} values, dimensions {dims:?} need {count}",
                data.len()
            ),
        ));
    }
    Ok(MatArray {
        name: String::from_utf8_lossy(name).into_owned(),
        dims,
        data,
    })
}

/// Reads every numeric array of a little-endian MAT v5 file.
pub fn read_mat(path: &Path, bytes: &[u8]) -> Result<Vec<MatArray>, DataError> {
    if bytes.len() < 128 || &bytes[126..128] != b"IM" {
        return Err(DataError::format(
            path,
            "not a little-endian MATLAB v5 MAT-file (bad header; v7.3/HDF5 files are not supported)",
        ));
    }
    let mut c = Cursor {
        path,
        b: bytes,
        pos: 128,
    };
    let mut out = Vec::new();
    while c.pos < bytes.len() {
        let (ty, body) = c.element()?;
        match ty {
            MI_MATRIX => out.push(parse_matrix(path, body)?),
            MI_COMPRESSED => {
                let mut inner = Vec::new();
                flate2::read::ZlibDecoder::new(body)
                    .read_to_end(&mut inner)
                    .map_err(|e| {
                        DataError::format(path, format!("corrupt compressed element: {e}"))
                    })?;
                let mut ic = Cursor {
                    path,
                    b: &inner,
                    pos: 0,
                };
                let (ity, ibody) = ic.element()?;
                if ity == MI_MATRIX {
                    out.push(parse_matrix(path, ibody)?);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Loads an SVHN `*_32x32.mat` file.
pub fn load(path: &Path) -> Result<Dataset, DataError> {
    let bytes = std::fs::read(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let arrays = read_mat(path, &bytes)?;
    let get = |name: &str| {
        arrays
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| DataError::format(path, format!("no variable `{name}`")))
    };
    let (x, y) = (get("X")?, get("y")?);
    if x.dims.len() != 4 || x.dims[0] != 32 || x.dims[1] != 32 || x.dims[2] != 3 {
        return Err(DataError::format(
            path,
            format!("X has dimensions {:?}, expected 32 x 32 x 3 x N", x.dims),
        ));
    }
    let n = x.dims[3];
    if y.data.len() != n {
        return Err(DataError::format(
            path,
            format!("{} labels for {n} images", y.data.len()),
        ));
    }
    let mut labels = Vec::with_capacity(n);
    for &l in &y.data {
        if !(1.0..=10.0).contains(&l) || l.fract() != 0.0 {
            return Err(DataError::format(path, format!("label {l} outside 1..=10")));
        }
        labels.push((l as u8) % 10);
    }
    // `x.data.len()` equals the product of the dimensions (checked in `parse_matrix`),
    // so `n * 3072` cannot overflow here; the checked form keeps that local.
    let total = n
        .checked_mul(3072)
        .ok_or_else(|| DataError::format(path, format!("{n} images overflow the address space")))?;
    let mut images = Vec::with_capacity(total);
    for i in 0..n {
        for row in 0..32 {
            for col in 0..32 {
                for ch in 0..3 {
                    images.push(x.data[row + 32 * (col + 32 * (ch + 3 * i))] as u8);
                }
            }
        }
    }
    Ok(Dataset {
        channels: 3,
        height: 32,
        width: 32,
        classes: 10,
        images,
        labels,
        events: None,
    })
}

fn push_element(out: &mut Vec<u8>, ty: u32, data: &[u8]) {
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
}

/// Writes a MAT v5 file of `uint8` (`X`) or `double` arrays, as MATLAB's `save` does;
/// with `compress`, each variable is wrapped in a zlib `miCOMPRESSED` element. For
/// tests that need files in the official format.
pub fn write_mat(arrays: &[(&str, &[usize], &[f64], bool)], compress: bool) -> Vec<u8> {
    use std::io::Write;
    let mut out = vec![b' '; 116];
    out[..22].copy_from_slice(b"MATLAB 5.0 MAT-file, x");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&0x0100u16.to_le_bytes());
    out.extend_from_slice(b"IM");
    for &(name, dims, data, as_u8) in arrays {
        let mut m = Vec::new();
        let class: u32 = if as_u8 { 9 } else { 6 }; // mxUINT8_CLASS / mxDOUBLE_CLASS
        push_element(&mut m, MI_UINT32, &[class.to_le_bytes(), [0; 4]].concat());
        let d: Vec<u8> = dims
            .iter()
            .flat_map(|&v| (v as i32).to_le_bytes())
            .collect();
        push_element(&mut m, MI_INT32, &d);
        push_element(&mut m, MI_INT8, name.as_bytes());
        if as_u8 {
            push_element(
                &mut m,
                MI_UINT8,
                &data.iter().map(|&v| v as u8).collect::<Vec<_>>(),
            );
        } else {
            push_element(
                &mut m,
                MI_DOUBLE,
                &data
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<_>>(),
            );
        }
        let mut el = Vec::new();
        el.extend_from_slice(&MI_MATRIX.to_le_bytes());
        el.extend_from_slice(&(m.len() as u32).to_le_bytes());
        el.extend_from_slice(&m);
        if compress {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(&el).expect("in-memory write");
            let z = z.finish().expect("in-memory write");
            out.extend_from_slice(&MI_COMPRESSED.to_le_bytes());
            out.extend_from_slice(&(z.len() as u32).to_le_bytes());
            out.extend_from_slice(&z);
        } else {
            out.extend_from_slice(&el);
        }
    }
    out
}
