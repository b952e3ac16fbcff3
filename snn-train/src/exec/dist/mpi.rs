//! The MPI group (cargo feature `mpi`): a run started by `mpirun`, over the `mpi`
//! crate (rsmpi) and the system's MPI library (Open MPI on Debian).
// `Mpi` is `Sync` by an `unsafe impl` (its SAFETY comment gives the proof).
#![allow(unsafe_code)]

use std::sync::{Mutex, MutexGuard};

use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Destination, Root, Source};
use mpi::Threading;

use super::Group;

/// Why the MPI group could not be formed.
#[derive(Debug, thiserror::Error)]
pub enum MpiError {
    /// `MPI_Init_thread` failed or MPI was already initialised.
    #[error("MPI could not be initialised (or was initialised twice)")]
    Init,
    /// The MPI library offers less than `MPI_THREAD_SERIALIZED`.
    #[error(
        "the MPI library offers thread level {0:?}; the trainer needs Serialized (its \
         messages may be sent from any one thread of the pool at a time)"
    )]
    Threading(Threading),
}

struct Inner {
    // Dropped after `world`: dropping the universe calls `MPI_Finalize`.
    world: SimpleCommunicator,
    _universe: Universe,
}

/// The processes of `MPI_COMM_WORLD`. Not `Send` (it holds MPI handles, raw pointers
/// in Open MPI): it is created and dropped, so MPI initialised and finalised, on one
/// thread, as MPI requires.
pub struct Mpi {
    inner: Mutex<Inner>,
    rank: usize,
    size: usize,
}

// SAFETY: shared references let any thread make MPI calls through `Mpi`. MPI was
// initialised with at least MPI_THREAD_SERIALIZED (checked in `Mpi::init`), which
// allows MPI calls from any thread provided no two run at once; every call goes through
// the `Mutex` around the handles, so no two do. `Mpi` stays `!Send` (the handles are
// raw pointers), so finalisation (its drop) happens on the thread that initialised.
unsafe impl Sync for Mpi {}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mpi(rank {} of {})", self.rank, self.size)
    }
}

impl Mpi {
    /// Initialises MPI. Call once, from the main thread; dropping the group finalises
    /// MPI (do so before the process exits).
    ///
    /// # Errors
    /// [`MpiError`] when MPI cannot be initialised with the thread level it needs.
    pub fn init() -> Result<Self, MpiError> {
        let (universe, level) =
            mpi::initialize_with_threading(Threading::Serialized).ok_or(MpiError::Init)?;
        if level < Threading::Serialized {
            return Err(MpiError::Threading(level));
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(Self {
            inner: Mutex::new(Inner {
                world,
                _universe: universe,
            }),
            rank,
            size,
        })
    }

    fn world(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves MPI as it was; keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn at(&self, rank: usize) -> i32 {
        i32::try_from(rank).expect("MPI ranks are i32")
    }
}

impl Group for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn receive_from_previous(&self, buf: &mut [f32]) {
        let w = self.world();
        w.world
            .process_at_rank(self.at(self.rank - 1))
            .receive_into(buf);
    }

    fn receive_bytes_from_previous(&self) -> Vec<u8> {
        let w = self.world();
        w.world
            .process_at_rank(self.at(self.rank - 1))
            .receive_vec::<u8>()
            .0
    }

    fn send_to_next(&self, buf: &[f32]) {
        let w = self.world();
        w.world.process_at_rank(self.at(self.rank + 1)).send(buf);
    }

    fn send_bytes_to_next(&self, bytes: &[u8]) {
        let w = self.world();
        w.world.process_at_rank(self.at(self.rank + 1)).send(bytes);
    }

    fn broadcast_from_last(&self, buf: &mut [f32]) {
        let w = self.world();
        w.world
            .process_at_rank(self.at(self.size - 1))
            .broadcast_into(buf);
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) {
        let w = self.world();
        let root = w.world.process_at_rank(self.at(root));
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(usize::try_from(len).expect("message fits in memory"), 0);
        root.broadcast_into(&mut bytes[..]);
    }

    fn abort(&self, code: i32) -> ! {
        let w = self.world();
        w.world.abort(code)
    }
}
