//! The process group of a run: MPI ranks when an MPI launcher started this process
//! (feature `mpi`), else the process alone; how an error or a signal on one rank ends
//! them all.

use std::path::PathBuf;

use anyhow::{bail, Result};
use snn_train::exec::dist::{self, Group, Solo};

/// Runs `f` in this process's group: the MPI ranks when an MPI launcher started it
/// (with the `mpi` feature), else the process alone. An error or a panic on any rank
/// of several ends every rank (so none waits for a partner that will not answer).
pub(crate) fn in_group(f: impl FnOnce(&dyn Group) -> Result<()>) -> Result<()> {
    #[cfg(feature = "mpi")]
    if dist::launched_size().is_some() {
        let group = dist::mpi::Mpi::init()?;
        if group.size() == 1 {
            let result = f(&group);
            drop(group); // MPI_Finalize
            return result;
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if group.is_root() {
                explain_launcher_stop(group.size())?;
            }
            f(&group)
        }));
        match result {
            Ok(Ok(())) => {
                drop(group); // MPI_Finalize
                return Ok(());
            }
            Ok(Err(e)) => stop_group(&group, &e),
            // The panic hook printed the message; finalising would wait for the others.
            Err(_) => group.abort(101),
        }
    }
    if let Some(n @ 2..) = dist::launched_size() {
        bail!(
            "started by an MPI launcher as one of {n} processes, but this snn-train was built \
             without MPI: build it with `--features mpi` (or use `cargo xtask train --mpi {n}`)"
        );
    }
    f(&Solo)
}

/// Ends every rank after error `e` on this one. The guard's stops happen on every rank
/// at the same batch (the ranks hold the same statistics and weights): rank 0 reports
/// them, and the other ranks give it time to do so before they end the job themselves.
#[cfg(feature = "mpi")]
pub(crate) fn stop_group(group: &dist::mpi::Mpi, e: &anyhow::Error) -> ! {
    let on_every_rank = matches!(
        e.downcast_ref::<snn_train::TrainError>(),
        Some(snn_train::TrainError::Guard(_))
    );
    if group.is_root() || !on_every_rank {
        eprintln!("Error (rank {} of {}): {e:#}", group.rank(), group.size());
    } else {
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
    group.abort(1)
}

/// The run directory of this process's run, once known (what rank 0 of an MPI run
/// names when the launcher stops it).
pub(crate) static RUN_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// When one rank dies (or the job is interrupted), `mpirun` ends the others with
/// SIGTERM. Rank 0 then says so, and where the run can continue from, before it exits
/// (a thread waits for the signal).
#[cfg(feature = "mpi")]
pub(crate) fn explain_launcher_stop(size: usize) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM])?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let latest = RUN_DIR.get().map(|d| (d, d.join("checkpoint_latest")));
            let resume = match latest {
                Some((d, ck)) if ck.exists() => format!(
                    "; {} holds the last completed epoch: continue with --resume {}",
                    ck.display(),
                    d.display()
                ),
                _ => String::new(),
            };
            eprintln!(
                "Error (rank 0 of {size}): ended by the MPI launcher, which ends every rank when \
                 one fails or the job is interrupted (its report names the rank){resume}"
            );
            std::process::exit(1);
        }
    });
    Ok(())
}

/// A path as bytes, to send to other ranks.
#[cfg(unix)]
pub(crate) fn path_bytes(p: PathBuf) -> Vec<u8> {
    std::os::unix::ffi::OsStringExt::into_vec(p.into_os_string())
}

/// The inverse of [`path_bytes`].
#[cfg(unix)]
pub(crate) fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(b).into()
}

#[cfg(not(unix))]
pub(crate) fn path_bytes(p: PathBuf) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
pub(crate) fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    String::from_utf8_lossy(&b).into_owned().into()
}
