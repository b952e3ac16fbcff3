//! Augmentation as in the training recipe: random crop with zero padding, and random
//! horizontal flip, on `u8` `HWC` images.

use rand::Rng;

/// Pads the image with `pad` black pixels on every side, then cuts a random
/// `height x width` window (torchvision's `RandomCrop(size, padding=pad)`); with
/// `flip`, mirrors it left-right with probability 1/2. Writes into `out`.
///
/// # Shapes
/// `image` and `out`: `height * width * channels`.
pub fn crop_flip(
    image: &[u8],
    (h, w, c): (usize, usize, usize),
    pad: usize,
    flip: bool,
    rng: &mut impl Rng,
    out: &mut [u8],
) {
    let dy = rng.random_range(0..=2 * pad) as isize - pad as isize;
    let dx = rng.random_range(0..=2 * pad) as isize - pad as isize;
    let mirror = flip && rng.random_bool(0.5);
    for y in 0..h {
        for x in 0..w {
            let sy = y as isize + dy;
            let sx0 = if mirror { w - 1 - x } else { x };
            let sx = sx0 as isize + dx;
            let dst = &mut out[(y * w + x) * c..(y * w + x + 1) * c];
            if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                dst.fill(0);
            } else {
                let s = (sy as usize * w + sx as usize) * c;
                dst.copy_from_slice(&image[s..s + c]);
            }
        }
    }
}
