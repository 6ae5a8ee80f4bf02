//! `mirrorlab check`, `mirrorlab explore` and `mirrorlab bench check`: the command-line face of
//! the model checker in [`mirrorlab_model::check`]. This module owns the flags, the summary
//! printed per configuration, the exit code (0 every property holds and every `sometimes`
//! property was reached, 1 otherwise) and the counterexample of `--trace-out`: JSON, and a
//! scenario that `mirrorlab run` replays ([`crate::replay`]).

use crate::out_dir;
use crate::replay;
use anyhow::Context;
use mirrorlab_model::check::{
    check, mutant_note, transport_name, CheckConfig, CheckModel, CheckReport, Verdict,
};
use mirrorlab_model::table::{AsyncResume, Fence};
use mirrorlab_model::{CopyMode, Mutant, Transport};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How the split travels to the secondary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    /// The replication link, FIFO with the copy data.
    Interconnect,
    /// Host agents on the host network, not FIFO with the copy data.
    HostNetwork,
}

impl From<TransportArg> for Transport {
    fn from(t: TransportArg) -> Self {
        match t {
            TransportArg::Interconnect => Transport::Interconnect,
            TransportArg::HostNetwork => Transport::HostNetwork,
        }
    }
}

/// How an async mirror resumes after an atomic split held its writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ResumeArg {
    /// Held writes stay in the ordered journal: the remote SVOL stays a prefix.
    Journal,
    /// The seed's Fig 11 step 1250: copy the held writes from the bitmap in address order.
    Bitmap,
}

impl From<ResumeArg> for AsyncResume {
    fn from(r: ResumeArg) -> Self {
        match r {
            ResumeArg::Journal => AsyncResume::Journal,
            ResumeArg::Bitmap => AsyncResume::Bitmap,
        }
    }
}

/// What a sync mirror does with a write a fault leaves waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FenceArg {
    /// Fail the write: the SVOL never lags an acknowledged write.
    Refuse,
    /// Suspend the pair, acknowledge the write and track it in the bitmap.
    Continue,
}

impl From<FenceArg> for Fence {
    fn from(f: FenceArg) -> Self {
        match f {
            FenceArg::Refuse => Fence::Refuse,
            FenceArg::Continue => Fence::Continue,
        }
    }
}

/// What the checked world contains, apart from copy mode, fence level and transport.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// Production writes (one block each).
    #[arg(long, default_value_t = CheckConfig::default().writes,
          value_parser = clap::value_parser!(u8).range(1..=12))]
    pub writes: u8,
    /// Production writes outstanding at once (at most --chunks).
    #[arg(long, default_value_t = CheckConfig::default().queue_depth,
          value_parser = clap::value_parser!(u8).range(1..=8))]
    pub queue_depth: u8,
    /// Writes of the auxiliary host to the split SVOL 106a (105b with --remote-split).
    #[arg(long, default_value_t = CheckConfig::default().aux_writes,
          value_parser = clap::value_parser!(u8).range(0..=4))]
    pub aux_writes: u8,
    /// Chunks per volume (one block each).
    #[arg(long, default_value_t = CheckConfig::default().chunks,
          value_parser = clap::value_parser!(u8).range(1..=8))]
    pub chunks: u8,
    /// Add faults: the link goes down or the secondary crashes (once), then comes back, and
    /// suspended mirrors are resynced.
    #[arg(long)]
    pub faults: bool,
    /// Chunks a bitmap-driven copy keeps unacknowledged on the link (at most --chunks).
    #[arg(long, default_value_t = CheckConfig::default().window,
          value_parser = clap::value_parser!(u8).range(1..=8))]
    pub window: u8,
    /// The script's resync is `pairresync --restore ORA_L` (SVOL -> PVOL).
    #[arg(long)]
    pub restore: bool,
    /// The script splits the remote mirror ORA_R1 instead, the auxiliary host writes its
    /// SVOL 105b (--aux-writes), then `pairresync ORA_R1` (chunks dirty on both sides).
    #[arg(long)]
    pub remote_split: bool,
    /// A deliberately broken protocol: no-atomic, no-drain, no-inhibit, nocopy-unchecked,
    /// fence-ignored, semi-sync-window, restore-wrong-way, nocopy-full-copy,
    /// nocopy-wrong-volumes, adaptive-drain-early, resync-one-bitmap,
    /// resync-remote-one-bitmap.
    #[arg(long)]
    pub mutant: Option<Mutant>,
    /// A third storage system 64003 fed from 105b, its local mirror split too.
    #[arg(long)]
    pub cascade: bool,
    /// Async resume after a split: journal (ordered) or bitmap (the seed's Fig 11).
    #[arg(long, value_enum, default_value_t = ResumeArg::Journal)]
    pub resume: ResumeArg,
}

impl ModelArgs {
    fn config(&self, mode: CopyMode, fence: Fence, transport: Transport) -> CheckConfig {
        CheckConfig {
            mode,
            transport,
            fence,
            window: self.window,
            restore: self.restore,
            remote_split: self.remote_split,
            writes: self.writes,
            queue_depth: self.queue_depth,
            aux_writes: self.aux_writes,
            chunks: self.chunks,
            faults: self.faults,
            mutant: self.mutant,
            cascade: self.cascade,
            resume: self.resume.into(),
        }
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct CheckArgs {
    /// Copy modes to check, comma-separated: sync, semi-sync, async, periodic, adaptive
    /// [default: sync,async].
    #[arg(long, value_delimiter = ',')]
    pub mode: Vec<CopyMode>,
    /// Fence levels of the sync mirrors to check, comma-separated [default: refuse].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub fence: Vec<FenceArg>,
    /// Split transports to check, comma-separated [default: both].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub transport: Vec<TransportArg>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Checker threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Write the counterexample, if any, as JSON to this file, and beside it (the same name
    /// with the extension .toml: trace.json -> trace.toml) as a scenario that `mirrorlab run`
    /// replays step by step.
    #[arg(long)]
    pub trace_out: Option<PathBuf>,
    /// Replace the --trace-out files (JSON and .toml) if they exist.
    #[arg(long)]
    pub force: bool,
}

impl CheckArgs {
    /// Every configuration to check, in order: modes outer, then fence levels (sync only),
    /// transports inner.
    pub fn configs(&self) -> Vec<CheckConfig> {
        let modes = if self.mode.is_empty() {
            vec![CopyMode::Sync, CopyMode::Async]
        } else {
            self.mode.clone()
        };
        let transports: Vec<Transport> = if self.transport.is_empty() {
            vec![Transport::Interconnect, Transport::HostNetwork]
        } else {
            self.transport.iter().map(|&t| t.into()).collect()
        };
        let fences: Vec<Fence> = if self.fence.is_empty() {
            vec![Fence::Refuse]
        } else {
            self.fence.iter().map(|&f| f.into()).collect()
        };
        let mut configs = Vec::new();
        for &m in &modes {
            // The fence level is a sync mirror's: other modes are checked once.
            let fences = if m == CopyMode::Sync {
                &fences[..]
            } else {
                &fences[..1]
            };
            for &f in fences {
                configs.extend(transports.iter().map(|&t| self.model.config(m, f, t)));
            }
        }
        configs
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct ExploreArgs {
    /// Copy mode of the remote mirrors.
    #[arg(long, default_value_t = CopyMode::Sync)]
    pub mode: CopyMode,
    /// How the split travels to the secondary.
    #[arg(long, value_enum, default_value_t = TransportArg::Interconnect)]
    pub transport: TransportArg,
    /// Fence level of the sync mirrors.
    #[arg(long, value_enum, default_value_t = FenceArg::Refuse)]
    pub fence: FenceArg,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address for the Explorer web UI.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
}

fn count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints one configuration's result: states, depth, time, speed and every property.
pub fn print_report(r: &CheckReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "  {} unique states ({} generated), depth {}, {:.2} s, {} states/s, {}",
        count(r.unique_states),
        count(r.states),
        r.max_depth,
        r.seconds,
        count(r.states_per_sec() as usize),
        if r.exhaustive {
            "exhaustive"
        } else {
            "stopped at the first violation"
        }
    )?;
    for p in &r.properties {
        let word = match p.verdict {
            Verdict::Holds => "holds      ",
            Verdict::Violated => "VIOLATED   ",
            Verdict::Reached => "reached    ",
            Verdict::NotReached if r.exhaustive => "NOT REACHED",
            Verdict::NotReached => "not reached",
        };
        let kind = if p.always { "always   " } else { "sometimes" };
        writeln!(out, "    {word} {kind} {}", p.name)?;
    }
    Ok(())
}

/// `mirrorlab check`: checks each configuration, stopping at the first that fails, whose
/// shortest counterexample it prints (and writes to `--trace-out`). Returns the exit code;
/// `Err` for bad arguments or a --trace-out that cannot be written (exit 2).
pub fn run_check(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let configs = args.configs();
    // Refuse impossible configurations before spending time on any.
    for c in &configs {
        CheckModel::new(*c).map_err(|e| anyhow::anyhow!("bad configuration: {e}"))?;
    }
    if let Some(file) = &args.trace_out {
        anyhow::ensure!(
            file.extension().is_none_or(|e| e != "toml"),
            "--trace-out {} names the JSON counterexample; its replay scenario goes beside it \
             with the extension .toml, so give the JSON file another extension",
            file.display()
        );
        out_dir::check_new_files(&[file, &file.with_extension("toml")], args.force)?;
    }
    let (mut states, mut seconds) = (0usize, 0f64);
    for (i, cfg) in configs.iter().enumerate() {
        writeln!(out, "[{}/{}] {}", i + 1, configs.len(), cfg.label())?;
        let model = CheckModel::new(*cfg).map_err(|e| anyhow::anyhow!(e))?;
        let report = check(model, usize::from(args.threads));
        print_report(&report, out)?;
        states += report.unique_states;
        seconds += report.seconds;
        if let Some(note) = cfg.mutant.and_then(|m| mutant_note(m, cfg.transport)) {
            if report.passed() {
                writeln!(out, "  note: the mutant escapes here: {note}")?;
            }
        }
        if report.passed() {
            continue;
        }
        match report.violated().first() {
            Some(&property) => {
                let model = CheckModel::new(*cfg).map_err(|e| anyhow::anyhow!(e))?;
                let Some(path) = model.shortest_counterexample(property) else {
                    writeln!(out, "  (the shortest-path search did not find it again)")?;
                    return Ok(1);
                };
                let trace = model.render(property, &path);
                writeln!(out)?;
                write!(out, "{trace}")?;
                if let Some(file) = &args.trace_out {
                    let scenario = file.with_extension("toml");
                    let json = serde_json::to_string_pretty(&trace)? + "\n";
                    let comments = [
                        format!("Counterexample found by `{}`", invocation(cfg)),
                        format!("({})", cfg.label()),
                        format!("Property violated: {property}"),
                        format!(
                            "The checker's shortest path, {} steps, each followed by the \
                             checker's words for it.",
                            path.len()
                        ),
                        format!(
                            "Replay: mirrorlab run {} (exit 1: the simulator's own checks \
                             see a promise broken, and say at which step)",
                            scenario.display()
                        ),
                    ];
                    let title = format!("counterexample: {property}");
                    let toml = replay::scenario_text(&model, &title, &comments, &path)
                        .map_err(|e| anyhow::anyhow!("cannot write the replay: {e}"))?;
                    // A failure here is exit 2 (an I/O failure), not 1.
                    out_dir::write_files(&[(file, json), (&scenario, toml)], args.force)?;
                    writeln!(
                        out,
                        "counterexample written to {} (JSON) and {} (replay it: \
                         `mirrorlab run {}`)",
                        file.display(),
                        scenario.display(),
                        scenario.display()
                    )?;
                }
            }
            None => {
                writeln!(
                    out,
                    "FAIL: a `sometimes` property was never reached, so the check is vacuous"
                )?;
            }
        }
        return Ok(1);
    }
    writeln!(
        out,
        "all {} configurations pass: {} unique states in {:.2} s",
        configs.len(),
        count(states),
        seconds
    )?;
    Ok(0)
}

/// The `mirrorlab check` command line that checks exactly `cfg`.
fn invocation(cfg: &CheckConfig) -> String {
    let mut s = format!(
        "mirrorlab check --mode {} --transport {} --writes {} --queue-depth {} --aux-writes {} \
         --chunks {}",
        cfg.mode,
        transport_name(cfg.transport),
        cfg.writes,
        cfg.queue_depth,
        cfg.aux_writes,
        cfg.chunks
    );
    if cfg.resume == AsyncResume::Bitmap {
        s += " --resume bitmap";
    }
    if cfg.mode == CopyMode::Sync && cfg.fence == Fence::Continue {
        s += " --fence continue";
    }
    if cfg.window != CheckConfig::default().window {
        s += &format!(" --window {}", cfg.window);
    }
    for (flag, on) in [
        (" --restore", cfg.restore),
        (" --remote-split", cfg.remote_split),
        (" --faults", cfg.faults),
        (" --cascade", cfg.cascade),
    ] {
        if on {
            s += flag;
        }
    }
    if let Some(m) = cfg.mutant {
        s += &format!(" --mutant {}", m.name());
    }
    s
}

/// `mirrorlab explore`: serves stateright's Explorer on the model until interrupted.
pub fn run_explore(args: &ExploreArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    use stateright::Model;
    let cfg = args
        .model
        .config(args.mode, args.fence.into(), args.transport.into());
    let model = CheckModel::new(cfg).map_err(|e| anyhow::anyhow!("bad configuration: {e}"))?;
    // stateright panics when it cannot bind: find out first, and say so.
    drop(
        std::net::TcpListener::bind(args.addr)
            .with_context(|| format!("cannot listen on {}", args.addr))?,
    );
    writeln!(
        out,
        "Explorer for {} on http://{}/ (Ctrl-C to stop)",
        cfg.label(),
        args.addr
    )?;
    out.flush()?;
    model.checker().serve(args.addr);
    Ok(0)
}

/// The default configuration's total, as `checker: N unique states in S s (R states/s)`.
pub fn bench_check(threads: usize, out: &mut dyn Write) -> anyhow::Result<()> {
    let args = CheckArgs {
        mode: Vec::new(),
        fence: Vec::new(),
        transport: Vec::new(),
        model: ModelArgs {
            writes: CheckConfig::default().writes,
            queue_depth: CheckConfig::default().queue_depth,
            aux_writes: CheckConfig::default().aux_writes,
            chunks: CheckConfig::default().chunks,
            window: CheckConfig::default().window,
            restore: false,
            remote_split: false,
            faults: false,
            mutant: None,
            cascade: false,
            resume: ResumeArg::Journal,
        },
        threads: threads.clamp(1, 256) as u16,
        trace_out: None,
        force: false,
    };
    let (mut states, mut seconds) = (0usize, 0f64);
    for cfg in args.configs() {
        let model = CheckModel::new(cfg).map_err(|e| anyhow::anyhow!(e))?;
        let r = check(model, threads);
        anyhow::ensure!(r.passed(), "the default configuration fails: {}", r.config);
        states += r.unique_states;
        seconds += r.seconds;
    }
    writeln!(
        out,
        "checker: {} unique states in {:.2} s ({} states/s)",
        count(states),
        seconds,
        count((states as f64 / seconds.max(1e-9)) as usize)
    )?;
    Ok(())
}
