//! The `stagenet` command. Parses arguments, installs tracing, runs the command and maps
//! its outcome to the documented exit codes: 0 pass, 1 gate failed, 2 bad input,
//! 3 infrastructure failure.

/// Whether standard output was closed by its reader (`stagenet … | head -1`): printing then
/// stops quietly, and followers (`logs --follow`) end.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to standard output; a closed pipe (EPIPE) is remembered instead of panicking as
/// `std::println!` would. Every module of this crate uses these two macros, which shadow the
/// standard ones (they are defined before the modules).
fn write_stdout(args: std::fmt::Arguments<'_>) {
	use std::io::Write as _;
	if STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed) {
		return;
	}
	let mut out = std::io::stdout().lock();
	if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
		STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
	}
}

/// Whether standard output's reader has gone away.
pub fn stdout_closed() -> bool {
	STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

macro_rules! println {
	() => {
		$crate::write_stdout(format_args!("\n"))
	};
	($($arg:tt)*) => {
		$crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
	};
}

macro_rules! print {
	($($arg:tt)*) => {
		$crate::write_stdout(format_args!($($arg)*))
	};
}

mod capture;
mod failure;
mod fork;
mod image;
mod lifecycle;
mod rehearse;
mod relay;
mod replay;
mod snapshot;
mod stress;
mod up;


use clap::{Parser, Subcommand};
use stagenet_config::exit::Exit;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
	name = "stagenet",
	version,
	about = "Rehearse a Subtensor release on a sealed copy of mainnet"
)]
struct Cli {
	#[command(subcommand)]
	command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
	/// Start a network of real node processes on loopback; ready once blocks are produced
	/// and finalized. Runs until Ctrl-C (or `--for`), then stops every node.
	Up(up::UpArgs),
	/// Download the complete state of a block over JSON-RPC into a verified `.snap` file;
	/// `inspect`, `verify` or build one `from-spec`.
	Snapshot(snapshot::SnapshotArgs),
	/// Capture every block of a range (extrinsics with their outcome, events, weight per
	/// class, length) into a SQLite database; resumable with `--resume`.
	Capture(capture::CaptureArgs),
	/// Turn a verified snapshot into a sealed raw chain spec: dev authorities, sudo, funded
	/// accounts (issuance raised to match), block numbers rebased, new chain id, no bootnodes.
	Fork(fork::ForkArgs),
	/// Show the runs of this directory and the state of their nodes (from any shell).
	Status(lifecycle::StatusArgs),
	/// Print (or follow) the log of a run's nodes and workloads.
	Logs(lifecycle::LogsArgs),
	/// Stop and remove everything of a run (or of every run, with `--all`).
	Down(lifecycle::DownArgs),
	/// Run a scenario: snapshot (or use one), fork, bring the network up, upgrade, watch,
	/// and return a verdict against the scenario's gates (exit 0 pass, 1 a gate failed).
	Rehearse(rehearse::RehearseArgs),
	/// Apply a runtime upgrade to a running network and report what it did.
	Upgrade(rehearse::UpgradeArgs),
	/// Replay a capture's signed extrinsics on a running fork (each through `Sudo::sudo_as`
	/// with its original signer) and list every outcome that differs from the captured one.
	Replay(replay::ReplayArgs),
	/// Run a load profile against a running fork (transactions signed ahead, open-loop rate)
	/// and measure what the chain included and which limit stopped growth.
	Stress(stress::StressArgs),
	/// Rebuild a run's report from the store (terminal, JSON, JUnit, Markdown, HTML).
	Report(rehearse::ReportArgs),
	/// Build container images from local binaries (no registry needed).
	Image(image::ImageArgs),
	/// Forward TCP ports (runs inside the Docker provider's relay containers).
	#[command(hide = true)]
	Relay(relay::RelayArgs),
}

fn main() -> ExitCode {
	let cli = Cli::parse();
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env()
				.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("stagenet=info")),
		)
		.with_writer(std::io::stderr)
		.init();
	let runtime = match tokio::runtime::Runtime::new() {
		Ok(rt) => rt,
		Err(e) => {
			eprintln!("error: cannot start the async runtime: {e}");
			return ExitCode::from(Exit::Infrastructure.code());
		}
	};
	let outcome = runtime.block_on(async {
		match cli.command {
			Command::Up(args) => up::run(args).await,
			Command::Snapshot(args) => snapshot::run(args).await,
			Command::Capture(args) => capture::run(args).await,
			Command::Fork(args) => fork::run(args).await,
			Command::Status(args) => lifecycle::status(args).await,
			Command::Logs(args) => lifecycle::logs(args).await,
			Command::Down(args) => lifecycle::down(args).await,
			Command::Image(args) => image::run(args).await,
			Command::Rehearse(args) => rehearse::run(args).await,
			Command::Upgrade(args) => rehearse::upgrade_run(args).await,
			Command::Replay(args) => replay::run(args).await,
			Command::Stress(args) => stress::run(args).await,
			Command::Report(args) => rehearse::report_run(args).await,
			Command::Relay(args) => relay::run(args).await,
		}
	});
	match outcome {
		Ok(()) => ExitCode::SUCCESS,
		Err(failure) => {
			eprintln!("error: {}", failure.message);
			ExitCode::from(failure.code())
		}
	}
}
