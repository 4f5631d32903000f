//! `stagenet image`: container images from local binaries, for the Docker provider.

use crate::failure::Failure;
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
	/// nothing else (`FROM scratch`); no registry is needed. Skipped when the tag already
	/// names an image of the same binary.
	Build(BuildArgs),
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
	/// The program (an ELF executable); it becomes the image's entrypoint.
	#[arg(long)]
	binary: PathBuf,
	/// The image's tag (`stagenet-test-node:dev`).
	#[arg(long)]
	tag: String,
}

/// Runs `stagenet image`.
pub async fn run(args: ImageArgs) -> Result<(), Failure> {
	match args.command {
		ImageCommand::Build(args) => build(args).await,
	}
}

async fn build(args: BuildArgs) -> Result<(), Failure> {
	let built = stagenet_network::image::build_image(&args.binary, &args.tag).await?;
	if built.skipped {
		println!(
			"image `{}` is up to date (built from the same binary), build skipped",
			built.tag
		);
	} else {
		println!("built image `{}`", built.tag);
	}
	println!("tag        {}", built.tag);
	println!("id         {}", built.id);
	println!(
		"size       {:.1} MiB ({} bytes)",
		built.size_bytes as f64 / (1024.0 * 1024.0),
		built.size_bytes
	);
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
	Ok(())
}
