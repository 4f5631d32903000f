//! `stagenet fork`.

use crate::failure::Failure;
use stagenet_config::exit::Exit;
use stagenet_fork::{fork, ForkOptions, ForkSummary};
use std::path::PathBuf;

/// Arguments of `stagenet fork`.
#[derive(Debug, clap::Args)]
pub struct ForkArgs {
	/// The snapshot to fork (`.snap`, from `stagenet snapshot`); it must verify.
	#[arg(long)]
	snapshot: PathBuf,
	/// The fork profile (YAML): authorities, sudo, funded accounts, set/delete, block-number
	/// items to rebase, chain fields.
	#[arg(long)]
	profile: PathBuf,
	/// The raw chain spec to write.
	#[arg(long)]
	out: PathBuf,
	/// Number of dev validators (`//Alice`, `//Bob` …); overrides the profile.
	#[arg(long)]
	validators: Option<usize>,
	/// Runtime override (wasm, e.g. `*.compact.compressed.wasm`); overrides the profile's `code`.
	#[arg(long)]
	code: Option<PathBuf>,
	/// Accept a runtime override whose `spec_name` differs from the snapshot's.
	#[arg(long)]
	allow_spec_name_change: bool,
	/// Warm-up W in blocks (overrides the profile's `rebase-block-numbers.warmup`).
	#[arg(long)]
	warmup: Option<u64>,
	/// Leave block numbers as they are (rate limits and epochs then stay shut on the fork).
	#[arg(long)]
	no_rebase: bool,
	/// Replace `--out` if it exists.
	#[arg(long)]
	force: bool,
	/// Unknown keys in the profile are errors instead of warnings.
	#[arg(long)]
	strict: bool,
	/// Print the summary as JSON on stdout.
	#[arg(long)]
	json: bool,
}

/// Runs `stagenet fork`.
pub async fn run(args: ForkArgs) -> Result<(), Failure> {
	let json = args.json;
	let opts = ForkOptions {
		snapshot: args.snapshot,
		profile: args.profile,
		out: args.out,
		validators: args.validators,
		code: args.code,
		allow_spec_name_change: args.allow_spec_name_change,
		no_rebase: args.no_rebase,
		warmup: args.warmup,
		force: args.force,
		strict: args.strict,
	};
	let summary = tokio::task::spawn_blocking(move || {
		// Progress goes to stderr in every mode (`--json` keeps stdout for the summary).
		fork(&opts, |step| eprintln!("fork: {step}"))
	})
	.await
	.map_err(|e| Failure::new(Exit::Infrastructure, format!("the fork task failed: {e}")))??;
	if json {
		println!(
			"{}",
			serde_json::to_string_pretty(&summary).unwrap_or_default()
		);
	} else {
		print!("{}", render(&summary));
	}
	Ok(())
}

/// The terminal summary.
pub fn render(s: &ForkSummary) -> String {
	let mut out = String::new();
	let mut line = |l: String| {
		out.push_str(&l);
		out.push('\n');
	};
	for w in &s.warnings {
		line(format!("warning: {w}"));
	}
	line(format!(
		"wrote {} ({:.1} MB, {} keys, {} child tries) in {:.1} s",
		s.out.display(),
		s.spec_bytes as f64 / 1e6,
		s.keys,
		s.child_tries,
		s.seconds
	));
	line(format!(
		"  chain         {} (id `{}`, protocol `{}`)",
		s.name, s.id, s.protocol_id
	));
	line(format!(
		"  source        {} at block #{}{}",
		s.source_chain,
		s.snapshot_block,
		s.source_genesis_hash
			.as_ref()
			.map(|g| format!(", genesis {g}"))
			.unwrap_or_default()
	));
	line(format!(
		"  runtime       {} v{} (state version {}){}",
		s.runtime.spec_name,
		s.runtime.spec_version,
		s.runtime.state_version,
		if s.code_overridden {
			", overridden"
		} else {
			""
		}
	));
	line(format!("  genesis root  {}", s.genesis_state_root));
	line(format!("  genesis hash  {}", s.genesis_hash));
	for v in &s.validators {
		line(format!(
			"  validator     {} aura {} grandpa {}",
			v.uri, v.aura, v.grandpa
		));
	}
	if let Some(sudo) = &s.sudo {
		line(format!("  sudo          {sudo}"));
	}
	for f in &s.funded {
		match &f.group {
			None => line(format!(
				"  funded        {} ({}) +{}{}",
				f.account,
				f.given_as,
				f.amount,
				if f.new { " (new account)" } else { "" }
			)),
			// A templated entry: one line for all its accounts.
			Some(g) => line(format!(
				"  funded        {}: {} accounts × {} = +{} ({} new; {} … {})",
				g.label, g.count, g.each, f.amount, g.new_accounts, f.account, g.last_account
			)),
		}
	}
	for i in &s.issuance {
		line(format!(
			"  issuance      {} {} -> {}",
			i.item, i.before, i.after
		));
	}
	match s.warmup {
		Some(w) => line(format!(
			"  rebase        v -> v - {} + {w} (fork block {w} = source block {})",
			s.snapshot_block, s.snapshot_block
		)),
		None => line("  rebase        none (block numbers kept as in the source)".into()),
	}
	for r in &s.rebased {
		let clip = if r.clipped > 0 {
			format!(
				", {} clipped to 0 (largest age lost {} blocks)",
				r.clipped, r.max_age_lost
			)
		} else {
			String::new()
		};
		let capped = if r.capped > 0 {
			format!(
				", {} capped at the type's maximum (\"never\"): past what it can count",
				r.capped
			)
		} else {
			String::new()
		};
		line(format!(
			"    {:<34} {} entries: {} rebased, {} kept (0 or max){clip}{capped}",
			r.item, r.entries, r.rebased, r.kept
		));
	}
	if !s.skipped.is_empty() {
		line(format!(
			"  skipped       {} optional item(s) this runtime does not have:",
			s.skipped.len()
		));
		for k in &s.skipped {
			line(format!("    {:<34} ({}): {}", k.item, k.path, k.reason));
		}
	}
	line("  changes per pallet (changed / added / removed):".into());
	for p in &s.pallets {
		line(format!(
			"    {:<34} {} / {} / {}",
			p.pallet, p.changed, p.added, p.removed
		));
	}
	out
}
