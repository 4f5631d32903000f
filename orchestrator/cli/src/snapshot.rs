//! `stagenet snapshot` and its subcommands `inspect`, `verify`, `from-spec`.

use crate::failure::Failure;
use stagenet_config::exit::Exit;
use stagenet_snapshot::{
	download, inspect, reader::Reader, spec, trie::StateVersion, BlockRef, DownloadOptions, Phase,
	Progress,
};
use std::{
	io::IsTerminal,
	path::PathBuf,
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};

/// Arguments of `stagenet snapshot`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SnapshotArgs {
	#[command(subcommand)]
	sub: Option<SnapshotCommand>,
	#[command(flatten)]
	download: DownloadArgs,
}

#[derive(Debug, clap::Args)]
struct DownloadArgs {
	/// Node RPC URL (`ws://host:port`), any Substrate node; an archive node for old blocks.
	#[arg(long)]
	url: Option<String>,
	/// Block to snapshot: a number or a 0x hash. Default: the latest finalized block (pinned
	/// for the whole download).
	#[arg(long)]
	at: Option<BlockRef>,
	/// Output file.
	#[arg(long)]
	out: Option<PathBuf>,
	/// Replace an existing output (or an interrupted download of it).
	#[arg(long)]
	force: bool,
	/// Continue an interrupted download of `--out` from its checkpoint.
	#[arg(long)]
	resume: bool,
	/// Key ranges downloaded at once. The node's CPU bounds the download: more requests in
	/// flight than it has cores to serve them only add switching (see BENCHMARKS.md); raise
	/// it for a node with many cores.
	#[arg(long, default_value_t = 4)]
	concurrency: usize,
	/// WebSocket connections to the node (about one per concurrent range is best).
	#[arg(long, default_value_t = 4)]
	connections: usize,
	/// How long to keep retrying a dropped connection before stopping (progress is kept;
	/// `--resume` continues).
	#[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
	retry_for: Duration,
	/// Timeout of one RPC request.
	#[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
	request_timeout: Duration,
}

#[derive(Debug, clap::Subcommand)]
enum SnapshotCommand {
	/// Show a snapshot's header and its keys and bytes per pallet, largest first.
	Inspect {
		/// The snapshot.
		file: PathBuf,
		/// Print JSON instead of a table.
		#[arg(long)]
		json: bool,
		/// Also list storage items under each pallet.
		#[arg(long)]
		items: bool,
	},
	/// Check every chunk's checksum, the whole-file checksum and the state root.
	Verify {
		/// The snapshot.
		file: PathBuf,
	},
	/// Build a snapshot from a raw chain spec's genesis (`export-state`, `build-spec --raw`).
	FromSpec {
		/// The raw chain spec (JSON).
		spec: PathBuf,
		/// Output file.
		#[arg(long)]
		out: PathBuf,
		/// Replace an existing output.
		#[arg(long)]
		force: bool,
		/// Trie layout, when the runtime in `:code` does not say (0 or 1).
		#[arg(long)]
		state_version: Option<u8>,
		/// Fetch the runtime metadata from this node (same runtime) so that `inspect` can name
		/// pallets; a spec does not carry metadata.
		#[arg(long)]
		metadata_url: Option<String>,
	},
}

/// Runs `stagenet snapshot …`.
pub async fn run(args: SnapshotArgs) -> Result<(), Failure> {
	match args.sub {
		None => run_download(args.download).await,
		Some(SnapshotCommand::Inspect { file, json, items }) => run_inspect(file, json, items),
		Some(SnapshotCommand::Verify { file }) => run_verify(file),
		Some(SnapshotCommand::FromSpec {
			spec,
			out,
			force,
			state_version,
			metadata_url,
		}) => run_from_spec(spec, out, force, state_version, metadata_url).await,
	}
}

async fn run_download(a: DownloadArgs) -> Result<(), Failure> {
	let url = a
		.url
		.ok_or_else(|| Failure::new(Exit::BadInput, "`--url` is required (hint: `stagenet snapshot --url ws://127.0.0.1:9944 --out state.snap`)"))?;
	let out = a.out.ok_or_else(|| {
		Failure::new(
			Exit::BadInput,
			"`--out` is required (hint: `--out state.snap`)",
		)
	})?;
	if a.concurrency == 0 || a.connections == 0 {
		return Err(Failure::new(
			Exit::BadInput,
			"`--concurrency` and `--connections` must be at least 1",
		));
	}
	let opts = DownloadOptions {
		url,
		at: a.at,
		out: out.clone(),
		force: a.force,
		resume: a.resume,
		concurrency: a.concurrency,
		connections: a.connections,
		retry_for: a.retry_for,
		request_timeout: a.request_timeout,
	};
	let reporter = Arc::new(Reporter::new());
	let sink = reporter.clone();
	let result = download(&opts, Arc::new(move |p: &Progress| sink.report(p))).await;
	reporter.finish();
	let s = result.map_err(Failure::from)?;
	let h = &s.header;
	let secs = s.elapsed.as_secs_f64().max(0.001);
	let block = h
		.block
		.as_ref()
		.map(|b| format!("#{} ({})", b.number, b.hash))
		.unwrap_or_default();
	let children = h.tries.len().saturating_sub(1);
	println!(
		"snapshot of `{}` at block {block} written to `{}`",
		h.chain,
		out.display()
	);
	println!(
		"  keys {} ({} child tries), pairs {}, file {} in {} chunks",
		h.key_count,
		children,
		mb(h.bytes),
		mb(s.file_bytes),
		s.chunks
	);
	println!(
		"  state root {} verified: recomputed from the pairs (state version {}) equals the block header's",
		h.state_root, h.state_version
	);
	if s.resumed {
		println!("  this run (resumed): {secs:.1} s, {} RPC calls", s.calls);
	} else {
		println!(
			"  this run: {:.1} s, {:.0} keys/s, {:.1} MB/s, {} RPC calls",
			secs,
			h.key_count as f64 / secs,
			h.bytes as f64 / secs / 1e6,
			s.calls
		);
	}
	Ok(())
}

fn mb(bytes: u64) -> String {
	format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Progress: a bar on a terminal, a quiet line every 10 s otherwise (CI logs).
struct Reporter {
	bar: Option<indicatif::ProgressBar>,
	last_line: Mutex<Option<Instant>>,
}

impl Reporter {
	fn new() -> Self {
		let bar = std::io::stderr().is_terminal().then(|| {
			let bar = indicatif::ProgressBar::new(0);
			let style = indicatif::ProgressStyle::with_template(
				"{spinner} {msg} [{bar:30}] {pos}/{len} keys, {per_sec}, eta {eta}",
			)
			.unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
			bar.set_style(style.progress_chars("=> "));
			bar
		});
		Self {
			bar,
			last_line: Mutex::new(None),
		}
	}

	fn report(&self, p: &Progress) {
		let phase = match p.phase {
			Phase::Planning => "planning",
			Phase::Downloading => "downloading",
			Phase::Assembling => "assembling and verifying",
		};
		if let Some(bar) = &self.bar {
			bar.set_length(p.estimated_keys.max(p.keys));
			bar.set_position(p.keys);
			bar.set_message(format!(
				"{phase} {} ranges {}/{}",
				mb(p.bytes),
				p.ranges_done,
				p.ranges_total
			));
			return;
		}
		let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
		let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
			|| p.phase != Phase::Downloading;
		if !due {
			return;
		}
		*last = Some(Instant::now());
		let secs = p.elapsed.as_secs_f64().max(0.001);
		eprintln!(
			"snapshot: {phase}: {} keys, {}, {:.0} keys/s, ranges {}/{}",
			p.keys,
			mb(p.bytes),
			p.keys as f64 / secs,
			p.ranges_done,
			p.ranges_total
		);
	}

	fn finish(&self) {
		if let Some(bar) = &self.bar {
			bar.finish_and_clear();
		}
	}
}

fn run_inspect(file: PathBuf, json: bool, items: bool) -> Result<(), Failure> {
	let i = inspect::inspect(&file).map_err(Failure::from)?;
	if json {
		let text = serde_json::to_string_pretty(&i)
			.map_err(|e| Failure::new(Exit::Infrastructure, format!("cannot encode JSON: {e}")))?;
		println!("{text}");
		return Ok(());
	}
	let h = &i.header;
	println!("snapshot   {}", file.display());
	println!("chain      {}", h.chain);
	if let Some(g) = &h.genesis_hash {
		println!("genesis    {g}");
	}
	if let Some(b) = &h.block {
		println!(
			"block      #{} {} (parent {})",
			b.number, b.hash, b.parent_hash
		);
	}
	println!(
		"state root {} ({}; state version {})",
		h.state_root,
		if h.verified {
			"recorded as verified against the block header when written; not re-checked by \
			 inspect"
		} else {
			"computed from the pairs when written; not re-checked by inspect"
		},
		h.state_version
	);
	if let Some(r) = &h.runtime {
		println!(
			"runtime    {} spec {} impl {} tx {}",
			r.spec_name, r.spec_version, r.impl_version, r.transaction_version
		);
	}
	let source = match &h.source {
		stagenet_snapshot::format::Source::Rpc { url } => url.clone(),
		stagenet_snapshot::format::Source::Spec { file } => format!("chain spec `{file}`"),
	};
	println!("source     {source} ({})", h.tool);
	println!(
		"contents   {} keys, {} of pairs, {} child tries; file {} in {} chunks",
		h.key_count,
		mb(h.bytes),
		i.child_tries.len(),
		mb(i.file_bytes),
		i.chunks
	);
	println!("checked    {}", i.checked);
	println!(
		"unchecked  {} (hint: `stagenet snapshot verify {}` checks them)",
		i.not_checked,
		file.display()
	);
	if !i.has_metadata {
		println!("(no metadata in this snapshot: pallets are shown by their key prefix)");
	}
	println!();
	let total: u64 = i.pallets.iter().map(|p| p.bytes).sum::<u64>().max(1);
	println!(
		"{:<40} {:>12} {:>14} {:>7}",
		"pallet", "keys", "bytes", "share"
	);
	for p in &i.pallets {
		println!(
			"{:<40} {:>12} {:>14} {:>6.1}%",
			p.name,
			p.keys,
			p.bytes,
			p.bytes as f64 * 100.0 / total as f64
		);
		if items {
			for it in &p.items {
				println!("  {:<38} {:>12} {:>14}", it.name, it.keys, it.bytes);
			}
		}
	}
	for c in &i.child_tries {
		println!(
			"{:<40} {:>12} {:>14}",
			format!("child {}", c.child.as_deref().unwrap_or_default()),
			c.keys,
			c.bytes
		);
	}
	Ok(())
}

fn run_verify(file: PathBuf) -> Result<(), Failure> {
	let started = Instant::now();
	let mut r = Reader::open(&file).map_err(Failure::from)?;
	let report = r.verify(|_, _| {}).map_err(Failure::from)?;
	println!(
		"ok: `{}`: {} chunks and the file checksum intact; {} keys; state root {} recomputed{}; {} child tries match their roots ({:.1} s)",
		file.display(),
		report.chunks,
		report.keys,
		report.top_root,
		if report.independent {
			" and equal to the block header's"
		} else {
			" (a spec's genesis: no block header to compare with)"
		},
		report.child_tries,
		started.elapsed().as_secs_f64()
	);
	Ok(())
}

async fn run_from_spec(
	spec_path: PathBuf,
	out: PathBuf,
	force: bool,
	state_version: Option<u8>,
	metadata_url: Option<String>,
) -> Result<(), Failure> {
	let state_version = match state_version {
		None => None,
		Some(v) => Some(StateVersion::from_u8(v).ok_or_else(|| {
			Failure::new(
				Exit::BadInput,
				format!("`--state-version {v}` is not a trie layout (hint: 0 or 1)"),
			)
		})?),
	};
	let metadata = match metadata_url {
		None => None,
		Some(url) => Some(
			stagenet_snapshot::chain::metadata_of_node(&url)
				.await
				.map_err(Failure::from)?,
		),
	};
	let started = Instant::now();
	let opts = spec::FromSpecOptions {
		spec: spec_path.clone(),
		out: out.clone(),
		force,
		state_version,
		metadata,
	};
	let s = tokio::task::spawn_blocking(move || spec::from_spec(&opts))
		.await
		.map_err(|e| {
			Failure::new(
				Exit::Infrastructure,
				format!("the spec reader stopped: {e}"),
			)
		})?
		.map_err(Failure::from)?;
	println!(
		"snapshot of `{}` from `{}` written to `{}`: {} keys, {} of pairs, file {}, state root {} ({:.1} s)",
		s.header.chain,
		spec_path.display(),
		out.display(),
		s.header.key_count,
		mb(s.header.bytes),
		mb(s.file_bytes),
		s.header.state_root,
		started.elapsed().as_secs_f64()
	);
	Ok(())
}
