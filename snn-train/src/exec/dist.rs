//! Data-parallel training across processes: the group a run trains in, and the few
//! messages the trainer exchanges.
//!
//! Every process (rank) of a group holds the whole network and computes the gradients
//! of its share of each mini-batch: a contiguous run of the batch's [`CHUNK`]-sample
//! chunks ([`Group::share`]). The single-process trainer sums chunk gradients in chunk
//! order, `((0 + g_0) + g_1) + ...` per element, and the group keeps exactly that order
//! by passing the running sum along the ranks: rank `r` receives the sum of the chunks
//! before its share from rank `r - 1`, adds its own chunks in order and sends the sum to
//! rank `r + 1`; the last rank broadcasts the batch's total. Every rank then applies the
//! same SGD step to the same weights, so weights are bit-identical to a single process
//! for any number of ranks (and threads per rank). MPI's own reductions are not used:
//! their summation order is unspecified.
//!
//! Cost per optimisation step: each rank receives and sends the gradient once (4 bytes
//! per weight) and receives the broadcast total, so about 3 x 4 bytes per weight pass
//! through each rank whatever the number of ranks, and the ranks' additions of the
//! running sum happen one rank after the other (a few milliseconds for LeNet).
//!
//! [`Solo`] is the one-process group of an ordinary run. The MPI group
//! (`snn_train::exec::dist::mpi`, cargo feature `mpi`) runs under `mpirun`.
//!
//! [`CHUNK`]: crate::train::step::CHUNK

use std::ops::Range;

/// The processes of a data-parallel run, and the messages the trainer sends between
/// them. Only rank 0 writes files and talks to the user.
pub trait Group: Sync {
    /// This process's rank, `0..size`.
    fn rank(&self) -> usize;

    /// Number of processes.
    fn size(&self) -> usize;

    /// Receives `buf.len()` floats from rank `rank - 1`.
    fn receive_from_previous(&self, buf: &mut [f32]);

    /// Receives a byte message of any length from rank `rank - 1`.
    fn receive_bytes_from_previous(&self) -> Vec<u8>;

    /// Sends `buf` to rank `rank + 1`.
    fn send_to_next(&self, buf: &[f32]);

    /// Sends a byte message to rank `rank + 1`.
    fn send_bytes_to_next(&self, bytes: &[u8]);

    /// Replaces `buf` on every rank with the last rank's.
    fn broadcast_from_last(&self, buf: &mut [f32]);

    /// Replaces `bytes` on every rank with rank `root`'s (any length).
    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>);

    /// Ends every process of the group with exit status `code` (after an error on
    /// one rank, so that the others do not wait for it forever).
    fn abort(&self, code: i32) -> !;

    /// True on rank 0, the rank that writes files and reports.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// True on the rank that holds a batch's total first.
    fn is_last(&self) -> bool {
        self.rank() + 1 == self.size()
    }

    /// The items of `0..n` this rank computes: contiguous runs in rank order, sizes
    /// differing by at most one (empty when `n < size`).
    ///
    /// ```
    /// use snn_train::exec::dist::{Group, Solo};
    /// assert_eq!(Solo.share(16), 0..16);
    /// ```
    fn share(&self, n: usize) -> Range<usize> {
        let (r, s) = (self.rank(), self.size().max(1));
        r * n / s..(r + 1) * n / s
    }
}

/// Environment variables an MPI launcher sets in every process it starts, with the
/// number of processes (Open MPI; MPICH's Hydra and Slurm's PMI).
const LAUNCHER_SIZE_VARS: [&str; 2] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"];

/// The number of processes an MPI launcher (`mpirun`, `mpiexec`, `srun`) started this
/// one among, or `None` when no launcher did.
pub fn launched_size() -> Option<usize> {
    LAUNCHER_SIZE_VARS
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

/// The group of a single process: nothing to exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

impl Group for Solo {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn receive_from_previous(&self, _: &mut [f32]) {
        unreachable!("rank 0 has no previous rank")
    }

    fn receive_bytes_from_previous(&self) -> Vec<u8> {
        unreachable!("rank 0 has no previous rank")
    }

    fn send_to_next(&self, _: &[f32]) {
        unreachable!("the last rank has no next rank")
    }

    fn send_bytes_to_next(&self, _: &[u8]) {
        unreachable!("the last rank has no next rank")
    }

    fn broadcast_from_last(&self, _: &mut [f32]) {}

    fn broadcast_bytes(&self, _: usize, _: &mut Vec<u8>) {}

    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

#[cfg(feature = "mpi")]
pub mod mpi;

#[cfg(test)]
mod tests {
    use super::*;

    /// A rank of a group of `size`, for [`Group::share`] (it exchanges nothing).
    struct Rank(usize, usize);

    impl Group for Rank {
        fn rank(&self) -> usize {
            self.0
        }
        fn size(&self) -> usize {
            self.1
        }
        fn receive_from_previous(&self, _: &mut [f32]) {}
        fn receive_bytes_from_previous(&self) -> Vec<u8> {
            Vec::new()
        }
        fn send_to_next(&self, _: &[f32]) {}
        fn send_bytes_to_next(&self, _: &[u8]) {}
        fn broadcast_from_last(&self, _: &mut [f32]) {}
        fn broadcast_bytes(&self, _: usize, _: &mut Vec<u8>) {}
        fn abort(&self, code: i32) -> ! {
            panic!("abort {code}")
        }
    }

    /// The shares of all ranks tile `0..n` in rank order, whatever `n` and the size.
    #[test]
    fn shares_tile_the_items_in_rank_order() {
        for size in 1..=9 {
            for n in 0..40 {
                let mut next = 0;
                for r in 0..size {
                    let s = Rank(r, size).share(n);
                    assert_eq!(s.start, next, "size {size} n {n} rank {r}");
                    assert!(s.len() <= n / size + 1);
                    next = s.end;
                }
                assert_eq!(next, n);
            }
        }
    }
}
