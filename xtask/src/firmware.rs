//! Building the firmware with a chosen model and inputs (shared by `qemu`, `size` and
//! `flash`).
//!
//! The firmware is its own workspace with its own `.cargo/config.toml`, so cargo runs
//! from inside `firmware/` (embedded.md P1); the model and inputs reach its build
//! script through `SNN_FW_*` variables.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cores::Core;
use crate::{project_root, run};

/// Which build of the firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A QEMU machine (`cargo xtask qemu --core`).
    Qemu(Core),
    /// NUCLEO-F429ZI.
    Board,
}

/// What to embed.
#[derive(Debug, Clone)]
pub struct Embed {
    pub model: PathBuf,
    pub inputs: PathBuf,
    /// A spike stream file to read at run time instead of embedded images
    /// (`SNN_FW_SPIKES`; QEMU semihosting builds only).
    pub spikes: Option<PathBuf>,
    pub steps: u32,
    pub seed: u64,
    /// When an inference may stop early (`SNN_FW_EXIT`).
    pub exit: snn_core::EarlyExit,
}

/// Builds the firmware (release) and returns the ELF's path.
pub fn build(target: Target, embed: &Embed) -> Result<PathBuf> {
    let dir = project_root().join("firmware");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&dir)
        .args(["build", "--release", "--quiet"]);
    let triple = match target {
        Target::Qemu(core) => {
            let spec = core.spec();
            if spec.serial {
                cmd.args(["--no-default-features", "--features"]);
                cmd.arg(if spec.dsp { "netduino,dsp" } else { "netduino" });
            } else if spec.dsp {
                cmd.args(["--features", "dsp"]);
            }
            cmd.env("SNN_FW_MEMORY", spec.memory);
            spec.target
        }
        Target::Board => {
            cmd.args(["--no-default-features", "--features", "board"]);
            cmd.env_remove("SNN_FW_MEMORY");
            "thumbv7em-none-eabihf"
        }
    };
    cmd.args(["--target", triple]);
    cmd.env("SNN_FW_MODEL", abs(&embed.model)?)
        .env("SNN_FW_INPUTS", abs(&embed.inputs)?)
        .env("SNN_FW_STEPS", embed.steps.to_string())
        .env("SNN_FW_SEED", embed.seed.to_string())
        .env("SNN_FW_EXIT", embed.exit.to_string())
        .env("DEFMT_LOG", "info");
    match &embed.spikes {
        Some(p) => cmd.env("SNN_FW_SPIKES", abs(p)?),
        None => cmd.env_remove("SNN_FW_SPIKES"),
    };
    run(&mut cmd)?;
    Ok(dir.join("target").join(triple).join("release/firmware"))
}

fn abs(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("{} not found", p.display()))
}

/// Flash and RAM of an ELF, by section: `(name, size, in_flash, in_ram)`.
pub fn sections(elf: &Path) -> Result<Vec<(String, u64, bool, bool)>> {
    use object::{Object, ObjectSection, SectionFlags};
    let bytes = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let file = object::File::parse(&*bytes).context("parsing the ELF")?;
    let mut out = Vec::new();
    for s in file.sections() {
        let name = s.name().unwrap_or("?").to_string();
        let alloc = match s.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
            _ => false,
        };
        if !alloc || s.size() == 0 {
            continue;
        }
        let (flash, ram) = match name.as_str() {
            ".vector_table" | ".text" | ".rodata" => (true, false),
            ".data" => (true, true),
            ".bss" | ".uninit" => (false, true),
            _ => (false, false),
        };
        out.push((name, s.size(), flash, ram));
    }
    Ok(out)
}
