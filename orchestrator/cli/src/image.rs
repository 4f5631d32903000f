//! `stagenet image`: container images from local binaries, for the Docker provider.

use crate::failure::Failure;
use stagenet_network::image::{AddPath, ImageArgError, ImageOptions};
use std::path::PathBuf;

/// Arguments of `stagenet image`.
#[derive(Debug, clap::Args)]
pub struct ImageArgs {
	#[command(subcommand)]
	command: ImageCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ImageCommand {
	/// Build an image from a local binary: the binary, the shared libraries `ldd` finds and
	/// nothing else (`FROM scratch`), plus the files and directories given with `--add`; no
	/// registry is needed. Skipped when the tag already names an image of the same binary,
	/// added files and options.
	Build(BuildArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example (a Python program with its interpreter's tree):
  stagenet image build --binary /opt/py/bin/python3.11 --tag my-tool:local \\
    --add /opt/py --add ./tool:/tool --env HOME=/tmp --workdir /tool \\
    --entrypoint /opt/py/bin/python3.11")]
struct BuildArgs {
	/// The program (an ELF executable): put at `/usr/local/bin/<its name>`, it is the
	/// image's entrypoint unless `--entrypoint` names another.
	#[arg(long)]
	binary: PathBuf,
	/// The image's tag (`stagenet-test-node:dev`).
	#[arg(long)]
	tag: String,
	/// A file or directory to copy into the image (directories recursively), at the same
	/// absolute path or at `<path in image>` (what follows the last `:`). Symbolic links stay
	/// links when what they point to is added too, else what they point to is copied. Every
	/// ELF file added also gets the libraries `ldd` finds for it. Repeatable.
	#[arg(long = "add", value_name = "HOST_PATH[:PATH_IN_IMAGE]", value_parser = parse_add)]
	add: Vec<AddPath>,
	/// An environment variable of the image (`Env`), after stagenet's `LD_LIBRARY_PATH`.
	/// Repeatable.
	#[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
	env: Vec<(String, String)>,
	/// The image's working directory (absolute; default `/`).
	#[arg(long, value_parser = parse_workdir)]
	workdir: Option<String>,
	/// The program the image starts, as an absolute path in the image: an added file or
	/// link (e.g. a Python venv's `bin/python`, so that the venv is found), or the binary's
	/// `/usr/local/bin/<name>` (the default).
	#[arg(long, value_name = "PATH_IN_IMAGE", value_parser = parse_entrypoint)]
	entrypoint: Option<String>,
}

fn parse_add(value: &str) -> Result<AddPath, ImageArgError> {
	let cwd = std::env::current_dir().map_err(|e| ImageArgError {
		value: value.to_string(),
		reason: format!("cannot read the working directory: {e}"),
		hint: "give an absolute host path".into(),
	})?;
	stagenet_network::image::parse_add(value, &cwd)
}

fn parse_env(value: &str) -> Result<(String, String), ImageArgError> {
	stagenet_network::image::parse_env(value)
}

fn parse_workdir(value: &str) -> Result<String, ImageArgError> {
	stagenet_network::image::parse_workdir(value)
}

fn parse_entrypoint(value: &str) -> Result<String, ImageArgError> {
	stagenet_network::image::parse_entrypoint(value)
}

/// Runs `stagenet image`.
pub async fn run(args: ImageArgs) -> Result<(), Failure> {
	match args.command {
		ImageCommand::Build(args) => build(args).await,
	}
}

/// How many `--add` values the summary lists (a Python image has hundreds).
const ADDS_SHOWN: usize = 8;

fn mib(bytes: u64) -> String {
	format!(
		"{:.1} MiB ({bytes} bytes)",
		bytes as f64 / (1024.0 * 1024.0)
	)
}

async fn build(args: BuildArgs) -> Result<(), Failure> {
	let options = ImageOptions {
		add: args.add,
		env: args.env,
		workdir: args.workdir,
		entrypoint: args.entrypoint,
	};
	let built =
		stagenet_network::image::build_image_with_options(&args.binary, &args.tag, &options)
			.await?;
	let has_options = options != ImageOptions::default();
	if built.skipped {
		let same = if has_options {
			"the same binary, added files and options"
		} else {
			"the same binary"
		};
		println!(
			"image `{}` is up to date (built from {same}), build skipped",
			built.tag
		);
	} else {
		println!("built image `{}`", built.tag);
	}
	println!("tag        {}", built.tag);
	println!("id         {}", built.id);
	println!("size       {}", mib(built.size_bytes));
	match &built.ca_bundle {
		Some(bundle) => println!("ca bundle  {}", bundle.display()),
		None => println!("ca bundle  none (this machine has none)"),
	}
	if built.libraries.is_empty() {
		println!("libraries  none (statically linked)");
	} else {
		println!("libraries  {}", built.libraries.len());
		for library in &built.libraries {
			println!("  {}", library.display());
		}
	}
	if has_options {
		for add in options.add.iter().take(ADDS_SHOWN) {
			println!("add        {} -> {}", add.host.display(), add.image);
		}
		if options.add.len() > ADDS_SHOWN {
			println!("add        … and {} more", options.add.len() - ADDS_SHOWN);
		}
		let added = built.added;
		println!(
			"added      {} files, {} links, {} directories, {}",
			added.files,
			added.symlinks,
			added.dirs,
			mib(added.bytes)
		);
		for (key, value) in &options.env {
			println!("env        {key}={value}");
		}
		if let Some(workdir) = &options.workdir {
			println!("workdir    {workdir}");
		}
		if let Some(entrypoint) = &options.entrypoint {
			println!("entrypoint {entrypoint}");
		}
		println!("files sha  {}", built.files_sha);
		if built.skipped {
			println!("added ELF  not looked at (build skipped)");
		} else {
			println!(
				"added ELF  {} files; {} more libraries from outside the added paths",
				built.added_elf_files,
				built.added_libraries.len()
			);
			for library in &built.added_libraries {
				println!("  {}", library.display());
			}
		}
	}
	for warning in &built.warnings {
		eprintln!("warning: {warning}");
	}
	Ok(())
}
