//! `cargo xtask qemu --profile`: where the device's instructions go, per function.
//!
//! QEMU logs every translation block it translates (`-d in_asm`: the block's
//! instructions, one line each) and every block it executes (`-d exec,nochain`: one
//! `Trace` line with the block's guest address and the ELF symbol that holds it;
//! `nochain` makes QEMU log a block each time it runs instead of jumping straight to the
//! next). The log goes to QEMU's standard error, which is read as it comes (a profile
//! of 20 LeNet inferences is about 8 GB of text: it is never stored). Instructions per
//! function = sum over its blocks of (executions x instructions in the block).
//!
//! With `-icount`, QEMU can cut a block short at an interrupt or at the end of an
//! instruction budget and translate a shorter one at the same address; a block is
//! counted with the size of its latest translation, so the profile is a close estimate,
//! not the exact SysTick count (the table gives both totals).

use std::collections::HashMap;
use std::fmt::Write as _;

/// QEMU's flags that write the log this module reads to standard error.
pub const QEMU_LOG_ARGS: [&str; 4] = ["-d", "in_asm,exec,nochain", "-D", "/dev/stderr"];

/// Instruction counts per function, accumulated from QEMU's log.
#[derive(Debug, Default)]
pub struct Profile {
    /// Instructions in the latest translation of the block at each guest address.
    block_len: HashMap<u32, u32>,
    /// Executions of each block, and the symbol QEMU named for it.
    runs: HashMap<u32, (u64, String)>,
    /// The block being read from an `IN:` listing (its address and length so far).
    listing: Option<(u32, u32)>,
}

impl Profile {
    /// Takes one line of QEMU's log; returns `false` for a line that is not part of it
    /// (QEMU's own messages, to be shown to the user).
    pub fn feed(&mut self, line: &str) -> bool {
        if let Some(rest) = line.strip_prefix("Trace ") {
            if let Some((pc, symbol)) = trace(rest) {
                let e = self
                    .runs
                    .entry(pc)
                    .or_insert_with(|| (0, symbol.to_string()));
                e.0 += 1;
            }
            return true;
        }
        if line.starts_with("IN:") {
            self.close_listing();
            self.listing = Some((u32::MAX, 0));
            return true;
        }
        if let (Some(addr), Some((start, len))) = (listing_address(line), self.listing.as_mut()) {
            if *start == u32::MAX {
                *start = addr;
            }
            *len += 1;
            return true;
        }
        if line.is_empty() || line.starts_with("---") || line.starts_with("OBJD-") {
            self.close_listing();
            return true;
        }
        false
    }

    fn close_listing(&mut self) {
        if let Some((start, len)) = self.listing.take() {
            if start != u32::MAX {
                self.block_len.insert(start, len);
            }
        }
    }

    /// Instructions per function, largest first, with the total.
    pub fn functions(&mut self) -> (Vec<(String, u64)>, u64) {
        self.close_listing();
        let mut by: HashMap<&str, u64> = HashMap::new();
        for (pc, (n, symbol)) in &self.runs {
            let len = u64::from(self.block_len.get(pc).copied().unwrap_or(0));
            *by.entry(symbol.as_str()).or_default() += n * len;
        }
        let total = by.values().sum();
        let mut v: Vec<(String, u64)> = by.into_iter().map(|(s, n)| (demangle(s), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        (v, total)
    }

    /// Fails unless the profile holds at least the `inference` instructions that
    /// SysTick counted for the inferences alone (less 5%, SysTick's rounding and the
    /// blocks cut short): a log that was not read, or read wrongly, falls short.
    pub fn check(&mut self, inference: u64) -> anyhow::Result<()> {
        let (_, total) = self.functions();
        if (total as f64) < 0.95 * inference as f64 {
            anyhow::bail!(
                "the profile counts {total} instructions, fewer than the {inference} SysTick counted for the inferences: QEMU's log was not read whole"
            );
        }
        Ok(())
    }

    /// The profile as a table: the functions that take at least 0.1% of the run,
    /// instructions per inference (whole run / `inferences`: functions that run once,
    /// at start-up or to report, are marked so), and their share.
    pub fn table(&mut self, inferences: u64, measured_per_inference: u64) -> String {
        let (functions, total) = self.functions();
        let n = inferences.max(1);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\nprofile ({inferences} inferences; QEMU's translation-block log, {} instructions in all, \
             {} per inference by SysTick):",
            total,
            measured_per_inference
        );
        let _ = writeln!(s, "{:>12} {:>6}  function", "per infer.", "share");
        let mut rest = 0;
        for (name, count) in &functions {
            if *count * 1000 < total {
                rest += count;
                continue;
            }
            let once = if name == "Reset" || ONCE_PER_RUN.iter().any(|f| name.contains(f)) {
                "  (once per run)"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "{:>12} {:>5.1}%  {name}{once}",
                count / n,
                100.0 * *count as f64 / total.max(1) as f64
            );
        }
        let _ = writeln!(
            s,
            "{:>12} {:>5.1}%  (other functions)",
            rest / n,
            100.0 * rest as f64 / total.max(1) as f64
        );
        s
    }
}

/// Functions of the firmware that run once per QEMU run, not per inference (besides
/// `Reset`: stack measuring, model loading, the clock calibration).
const ONCE_PER_RUN: [&str; 3] = ["stack_peak", "ModelSlot::load", "firmware::spin"];

/// The guest address and symbol of a `Trace` line's rest:
/// `0: 0x7fbf60000100 [00800408/00000400/00000110/ff020200] Reset`.
fn trace(rest: &str) -> Option<(u32, &str)> {
    let (_, after) = rest.split_once('[')?;
    let (fields, symbol) = after.split_once(']')?;
    let pc = fields.split('/').nth(1)?;
    Some((u32::from_str_radix(pc, 16).ok()?, symbol.trim()))
}

/// The address of an `in_asm` listing line: `0x00000400:  f002 fa39  bl  #0x2876`.
fn listing_address(line: &str) -> Option<u32> {
    let hex = line.strip_prefix("0x")?.split(':').next()?;
    u32::from_str_radix(hex, 16).ok()
}

/// A legacy-mangled Rust symbol (`_ZN8snn_core5layer4Conv7scatter17h<hash>E`) as its
/// path without the hash (`snn_core::layer::Conv::scatter`); other names unchanged.
fn demangle(symbol: &str) -> String {
    let Some(mut rest) = symbol.strip_prefix("_ZN") else {
        return symbol.to_string();
    };
    let mut parts = Vec::new();
    while let Some(digits) = rest.find(|c: char| !c.is_ascii_digit()).filter(|&d| d > 0) {
        let Ok(len) = rest[..digits].parse::<usize>() else {
            break;
        };
        let Some(part) = rest.get(digits..digits + len) else {
            break;
        };
        parts.push(part);
        rest = &rest[digits + len..];
    }
    if parts.is_empty() || rest != "E" {
        return symbol.to_string();
    }
    if parts
        .last()
        .is_some_and(|h| h.len() == 17 && h.starts_with('h'))
    {
        parts.pop();
    }
    parts
        .iter()
        .map(|p| {
            p.strip_prefix('_')
                .filter(|p| p.starts_with('$'))
                .unwrap_or(p)
                .replace("$LT$", "<")
                .replace("$GT$", ">")
                .replace("$u20$", " ")
                .replace("$u7b$", "{")
                .replace("$u7d$", "}")
                .replace("..", "::")
        })
        .collect::<Vec<_>>()
        .join("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
----------------
IN: Reset
0x00000400:  f002 fa39  bl       #0x2876

Trace 0: 0x7fbf60000100 [00800408/00000400/00000110/ff020200] Reset
----------------
IN: _ZN8snn_core5layer4Conv7scatter17h3ff173a4d2dce258E
0x00002876:  b580       push     {r7, lr}
0x00002878:  466f       mov      r7, sp
0x0000287a:  bd80       pop      {r7, pc}

Trace 0: 0x7fbf60000240 [00800408/00002876/00000110/ff020200] _ZN8snn_core5layer4Conv7scatter17h3ff173a4d2dce258E
Trace 0: 0x7fbf60000240 [00800408/00002876/00000110/ff020200] _ZN8snn_core5layer4Conv7scatter17h3ff173a4d2dce258E
";

    #[test]
    fn blocks_count_their_instructions_each_time_they_run() {
        let mut p = Profile::default();
        for l in LOG.lines() {
            assert!(p.feed(l), "{l}");
        }
        assert!(!p.feed("qemu-system-arm: warning: something"));
        let (f, total) = p.functions();
        assert_eq!(total, 7);
        assert_eq!(f[0], ("snn_core::layer::Conv::scatter".to_string(), 6));
        assert_eq!(f[1], ("Reset".to_string(), 1));
    }

    #[test]
    fn demangles_legacy_paths_and_keeps_other_names() {
        assert_eq!(
            demangle("_ZN8snn_core6engine40_$LT$impl$u20$snn_core..model..Model$GT$14classify_until17h2257ed2a45a629b9E"),
            "snn_core::engine::<impl snn_core::model::Model>::classify_until"
        );
        assert_eq!(demangle("__aeabi_memclr4"), "__aeabi_memclr4");
        assert_eq!(demangle("_ZN3bad"), "_ZN3bad");
    }
}
