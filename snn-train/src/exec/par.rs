//! The one seam to rayon: map fixed-size chunks of work in parallel and collect the
//! results in index order.
//!
//! Chunk boundaries depend only on the chunk size, never on the thread count, and the
//! caller reduces the ordered results sequentially, so results are bit-identical with
//! 1 or N threads. Layers and kernels never call rayon themselves.

use rayon::prelude::*;

/// Applies `f(first_index, chunk)` to consecutive `chunk`-sized pieces of `items`,
/// in parallel, and returns the results in order.
pub fn map_chunks<T: Sync, R: Send>(
    items: &[T],
    chunk: usize,
    f: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    items
        .par_chunks(chunk.max(1))
        .enumerate()
        .map(|(i, c)| f(i * chunk.max(1), c))
        .collect()
}

/// Applies `f(first_index, block)` to consecutive `block`-sized pieces of `out`, in
/// parallel. Each element is written by exactly one call, so element-wise work (such as
/// summing per-chunk gradients in chunk order) is deterministic at any thread count.
pub fn for_each_block_mut<T: Send>(
    out: &mut [T],
    block: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    out.par_chunks_mut(block.max(1))
        .enumerate()
        .for_each(|(i, c)| f(i * block.max(1), c));
}

/// Runs `f` on a pool of `threads` threads (0 = one per core).
///
/// # Errors
/// When the pool cannot be created.
pub fn with_threads<R: Send>(
    threads: usize,
    f: impl FnOnce() -> R + Send,
) -> Result<R, rayon::ThreadPoolBuildError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    Ok(pool.install(f))
}
