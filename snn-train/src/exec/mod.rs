//! How a run executes, whatever it computes: threads ([`par`]), the random streams of
//! every sample ([`seed`]), processes under MPI ([`dist`]) and the atomic writes of
//! every file the tool leaves behind ([`files`]). Imports nothing from the rest of the
//! trainer.

pub mod dist;
pub mod files;
pub mod par;
pub mod seed;
