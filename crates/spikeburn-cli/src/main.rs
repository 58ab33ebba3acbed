//! `spikeburn`: run the library's experiments and benchmarks.
//!
//! ```text
//! spikeburn list
//! spikeburn run <experiment> [--quick] [--config FILE.json] [--out DIR]
//!               [--backend flex|ndarray|wgpu] [--seed N] [--resume]
//! spikeburn bench w1-lif|w1-alif [--n N] [--t T] [--batch B] [--iters K] [--warmup K] [--per-step]
//! spikeburn bench w2 [--n N] [--shared-p] [--p P]
//! spikeburn bench ebn [--n N] [--t STEPS] [--warmup STEPS] [--tensor]
//! spikeburn bench exact [--n N] [--t T] [--batch B] [--iters K] [--warmup K]
//! spikeburn export-nir <run dir> <out.nir> [--drop-dale] [--unit-resistance]
//! spikeburn import-nir <file.nir> [--input spikes.npy|.json] [--dt MS] [--steps T] [--save FILE.json]
//! ```
//!
//! `run` shows a progress bar on stderr, writes its config, metrics, plots and
//! model under `--out` (default `runs/<experiment>/`), and prints one final JSON
//! line on stdout. The experiments themselves are library code
//! (`spikeburn-experiments`): this binary parses, shows progress and writes
//! what the library renders.

mod backend;
mod bench;
mod nir;
mod progress;

use clap::{Parser, Subcommand};

// Training allocates and frees sequence-sized buffers every iteration (BPTT
// keeps ~10 `[T, batch, n]` arrays: ~2 GB per sMNIST iteration). glibc hands
// them back to the kernel each time, so every reuse page-faults onto freshly
// zeroed pages; mimalloc keeps them in its arenas, see `keep_freed_pages`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

/// `mi_option_purge_decommits` in mimalloc's `mimalloc.h` (v2 and v3 alike;
/// `libmimalloc-sys` names only the older options).
const MI_OPTION_PURGE_DECOMMITS: libmimalloc_sys::mi_option_t = 5;

/// Makes mimalloc purge freed memory with `MADV_FREE` (the kernel takes the
/// pages back only under memory pressure) instead of decommitting it. With
/// decommits, the sequence buffers freed at the end of one iteration were
/// faulted in and zeroed by the kernel again in the next (`clear_page_erms`
/// was 18 % of an sMNIST run's profile). Measured on a 4-iteration sMNIST
/// run (batch 256, one thread, medians of 3 runs): system time 1.80 → 0.76 s,
/// CPU time 8.87 → 7.34 s, wall time 0.79×; peak memory 1.66 → 1.85 GB.
fn keep_freed_pages() {
    // SAFETY: sets one of mimalloc's global options; any value is valid and
    // it is read at each purge, so setting it at run time is supported.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DECOMMITS, 0) };
}

#[derive(Parser)]
#[command(
    name = "spikeburn",
    version,
    about = "Spiking neural networks on Burn: experiments and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the experiments with one-line descriptions.
    List,
    /// Run an experiment; prints one final JSON line on stdout.
    Run {
        /// Experiment name (see `spikeburn list`).
        experiment: String,
        /// Reduced version that finishes in about a minute on 2 CPU cores.
        #[arg(long)]
        quick: bool,
        /// JSON file with the experiment's configuration.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output folder (default `runs/<experiment>/`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Backend: flex (default), ndarray or wgpu, as compiled in.
        #[arg(long)]
        backend: Option<String>,
        /// Seed for all random streams.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Continue from the last checkpoint under --out (same --seed).
        #[arg(long)]
        resume: bool,
    },
    /// Run a benchmark workload (w1-lif, w1-alif, w2, sgemm, ebn, exact); prints one JSON line.
    Bench {
        /// Workload name.
        workload: String,
        /// Recurrent neurons N (default 256).
        #[arg(long)]
        n: Option<usize>,
        /// Time steps T (default 500).
        #[arg(long)]
        t: Option<usize>,
        /// Batch size B (default 32).
        #[arg(long)]
        batch: Option<usize>,
        /// Timed iterations (default 5).
        #[arg(long)]
        iters: Option<usize>,
        /// Untimed warm-up iterations (default 2).
        #[arg(long)]
        warmup: Option<usize>,
        /// SplitMix64 seed of the data and initial weights.
        #[arg(long, default_value_t = 1234)]
        seed: u64,
        /// Backend: flex (default), ndarray or wgpu, as compiled in.
        #[arg(long)]
        backend: Option<String>,
        /// Use the per-step reference path instead of the fused BPTT op.
        #[arg(long)]
        per_step: bool,
        /// W2: one P shared by all neurons (exact for all-to-all connectivity).
        #[arg(long)]
        shared_p: bool,
        /// W2: connection probability p (default 1: all-to-all).
        #[arg(long, default_value_t = 1.0)]
        p: f64,
        /// ebn: run the tensor path on the backend instead of the host path.
        #[arg(long)]
        tensor: bool,
        /// exact: the step in ms (default 0.05).
        #[arg(long)]
        dt: Option<f64>,
    },
    /// Export a trained network (a `spikeburn run demo` folder) to a NIR
    /// file, and its JSON dump beside it; prints one JSON line.
    ExportNir {
        /// The run folder (holds config.json and model.bpk).
        run_dir: PathBuf,
        /// The NIR file to write.
        out: PathBuf,
        /// Write a Dale's-law layer's current weights without the constraint.
        #[arg(long)]
        drop_dale: bool,
        /// Write R = 1, folding R into the incoming weights (exact; for
        /// importers that ignore `r`, e.g. Norse).
        #[arg(long)]
        unit_resistance: bool,
    },
    /// Read a NIR file, print its graph and run it; prints one JSON line.
    ImportNir {
        /// The NIR file.
        file: PathBuf,
        /// Input, [steps, channels] or [steps, batch, channels], as .npy or
        /// .json (default: Poisson spikes).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Step in ms at which the continuous-time graph is run.
        #[arg(long, default_value_t = 1.0)]
        dt: f64,
        /// Steps of the default Poisson input.
        #[arg(long, default_value_t = 100)]
        steps: usize,
        /// Spike probability per step of the default Poisson input.
        #[arg(long, default_value_t = 0.1)]
        p: f64,
        /// Seed of the default Poisson input.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write every node's output to this JSON file.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Backend: flex (default), ndarray or wgpu, as compiled in.
        #[arg(long)]
        backend: Option<String>,
    },
}

/// Ctrl-C or SIGTERM during a run that checkpoints: the trainer finishes
/// the iteration in progress and saves a checkpoint there, so `--resume`
/// loses nothing (a plain kill loses up to `checkpoint_every` iterations).
/// A second signal, or one while nothing would be saved, exits at once.
fn stop_cleanly_on_signals() {
    use spikeburn_train::interrupt;
    let installed = ctrlc::set_handler(|| {
        if interrupt::stop_requested() || !interrupt::request_stop() {
            std::process::exit(130);
        }
        eprintln!(
            "\nstopping after this iteration to save a checkpoint (press Ctrl-C again to quit at once)"
        );
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will stop runs without a last checkpoint ({e})");
    }
}

fn main() -> ExitCode {
    keep_freed_pages();
    stop_cleanly_on_signals();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if spikeburn_train::interrupt::stop_requested() {
                // The shell's convention for "ended by SIGINT".
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::List => {
            for e in spikeburn_experiments::experiments() {
                println!("{:<16} {}", e.name, e.about);
            }
            Ok(())
        }
        Command::Run {
            experiment,
            quick,
            config,
            out,
            backend,
            seed,
            resume,
        } => {
            let exp = spikeburn_experiments::experiment(&experiment)?;
            let (device, backend) = backend::select(backend.as_deref())?;
            let overlay = match &config {
                Some(path) => Some((
                    spikeburn_experiments::run::read_overlay(path)?,
                    path.as_path(),
                )),
                None => None,
            };
            let bars = progress::Bars::default();
            let ctx = spikeburn_experiments::RunContext {
                out_dir: out.unwrap_or_else(|| PathBuf::from("runs").join(exp.name)),
                seed,
                resume,
                quick,
                backend,
                observer: &bars,
            };
            let report = exp.run(quick, overlay, &device, &ctx)?;
            report.save_figures(&ctx.out_dir)?;
            println!("{}", report.json_line());
            Ok(())
        }
        Command::Bench {
            workload,
            n,
            t,
            batch,
            iters,
            warmup,
            seed,
            backend,
            per_step,
            shared_p,
            p,
            tensor,
            dt,
        } => {
            let (device, backend) = backend::select(backend.as_deref())?;
            let opts = bench::BenchOptions {
                workload,
                n,
                t,
                batch,
                iters,
                warmup,
                seed,
                per_step,
                shared_p,
                p,
                tensor,
                dt,
            };
            println!("{}", bench::run(&opts, &device, &backend)?);
            Ok(())
        }
        Command::ExportNir {
            run_dir,
            out,
            drop_dale,
            unit_resistance,
        } => {
            let (device, _) = backend::select(None)?;
            let options = spikeburn_nir::ExportOptions {
                drop_dale_constraint: drop_dale,
                unit_resistance,
            };
            println!("{}", nir::export(&run_dir, &out, options, &device)?);
            Ok(())
        }
        Command::ImportNir {
            file,
            input,
            dt,
            steps,
            p,
            seed,
            save,
            backend,
        } => {
            let (device, _) = backend::select(backend.as_deref())?;
            let opts = nir::ImportOptions {
                file: &file,
                input: input.as_deref(),
                dt_ms: dt,
                steps,
                p,
                seed,
                save: save.as_deref(),
            };
            println!("{}", nir::import(&opts, &device)?);
            Ok(())
        }
    }
}
