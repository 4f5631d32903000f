//! Container images built from local binaries, with no registry and no base image: the
//! binary, the shared libraries `ldd` says it loads (the dynamic loader among them), an empty
//! `/tmp` and `/data`, `FROM scratch`. The whole module needs the `docker` feature (it is
//! declared behind it).
//!
//! The host's bundle of CA certificates is copied too, when it has one: Substrate nodes load
//! the platform's root certificates at start-up and refuse to start without any (no network
//! is reachable from a sealed namespace all the same).
//!
//! A program that needs a file tree (an interpreter, its standard library and packages) gets
//! it with [`ImageOptions::add`]: files and directories of this machine, copied recursively
//! to a place in the image (by default the same absolute path). Symbolic links stay links when
//! what they point to is copied too (by any of the added paths), else what they point to is
//! copied in their place. Every ELF file among the added ones gets the shared libraries `ldd`
//! reports for it, like the binary. [`ImageOptions::env`], [`ImageOptions::workdir`] and
//! [`ImageOptions::entrypoint`] set the image's configuration.
//!
//! An image is labelled with the SHA-256 of its binary (`stagenet.binary-sha256`), the
//! SHA-256 of a manifest of everything added and of the options (`stagenet.files-sha256`, see
//! [`FILES_SHA_LABEL`]) and the version of this recipe (`stagenet.image`), so that building
//! the same binary with the same files under the same tag again is skipped.
//!
//! Libraries a program opens at run time with `dlopen` are not seen by `ldd` and are not
//! copied (unless they are among the added files); glibc 2.34 and later carry the resolver
//! and NSS `files`/`dns` in `libc.so.6`, so host names resolve in the image.

use crate::{
	provider::docker::client::{Client, PROVIDER},
	NetworkError, Result,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::{
	collections::{BTreeMap, BTreeSet},
	ffi::OsStr,
	io::Write,
	os::unix::{ffi::OsStrExt, fs::MetadataExt},
	path::{Component, Path, PathBuf},
};

/// Label set on every image stagenet builds; its value is [`IMAGE_RECIPE`].
pub const IMAGE_LABEL: &str = "stagenet.image";
/// Version of the way images are put together: an image of another recipe is rebuilt even
/// when its binary is the same. 3: added file trees, environment, working directory and
/// entrypoint, and the [`FILES_SHA_LABEL`] label.
pub const IMAGE_RECIPE: &str = "3";
/// Label carrying the SHA-256 (hex) of the binary an image was built from.
pub const BINARY_SHA_LABEL: &str = "stagenet.binary-sha256";
/// Label carrying the SHA-256 (hex) of the manifest of an image's added files and options:
/// for every added path, its place in the image, its kind, its permissions, and for a file
/// its source, size and modification time (to the nanosecond), for a link its target; then
/// the `--add`, `--env`, `--workdir` and `--entrypoint` values. Metadata, not contents: a
/// skipped build must stay cheap for a tree of hundreds of MB (a Python environment; hashing
/// its contents would read all of it on every run), and every ordinary change (an edit, a
/// reinstalled package, a checkout) moves a size or a modification time. A change that keeps
/// both (a copy with `cp -p` over a file of the same size) is not seen: rebuild under a
/// new tag, or remove the image first.
pub const FILES_SHA_LABEL: &str = "stagenet.files-sha256";

/// Untagged images of stagenet older than this (seconds) are removed after a build: left by
/// a rebuild under the same tag, or by two builds of one tag at once. Younger ones may be
/// another process's build between its commit and its tag.
const DANGLING_GRACE_SECS: i64 = 60;

/// One build at a time in this process: a second build of the same tag waits and is then
/// skipped, instead of racing the first and leaving an untagged copy behind.
static BUILDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Repository of the relay images (with the colon before the tag).
const RELAY_REPOSITORY: &str = "stagenet-relay:";
/// Where the binary is put in the image.
const BIN_DIR: &str = "usr/local/bin";
/// Where the CA bundle is put in the image (where OpenSSL and `rustls-native-certs` look).
const CA_BUNDLE_IN_IMAGE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Where hosts keep their CA bundle (Debian and Ubuntu, Fedora and RHEL, Alpine, openSUSE).
const CA_BUNDLES: [&str; 4] = [
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/cert.pem",
	"/etc/ssl/ca-bundle.pem",
];
/// How many `ldd` run at once over the added ELF files.
const LDD_CONCURRENCY: usize = 4;
/// Size of the pieces the build context is sent in.
const CONTEXT_CHUNK: usize = 1 << 20;
/// How many symbolic links [`Plan::resolve`] follows before it gives up (as Linux does).
const MAX_SYMLINK_HOPS: usize = 40;

/// An image built (or found already built) from a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuilt {
	/// Its tag (`stagenet-test-node:dev`).
	pub tag: String,
	/// Its id (`sha256:…`).
	pub id: String,
	/// Its size in bytes.
	pub size_bytes: u64,
	/// The shared libraries of the binary copied into it (paths as on the host and in the
	/// image).
	pub libraries: Vec<PathBuf>,
	/// The host's CA bundle copied into it (at `/etc/ssl/certs/ca-certificates.crt`), if the
	/// host has one.
	pub ca_bundle: Option<PathBuf>,
	/// Whether the build was skipped: the tag already named an image of the same binary,
	/// added files and options.
	pub skipped: bool,
	/// What [`ImageOptions::add`] put into it.
	pub added: AddedSummary,
	/// The SHA-256 (hex) of the manifest of the added files and the options (the
	/// [`FILES_SHA_LABEL`] label).
	pub files_sha: String,
	/// How many of the added files are ELF files that `ldd` was run on (0 when the build
	/// was skipped: they are not looked at then).
	pub added_elf_files: usize,
	/// Shared libraries the added ELF files load from outside the added paths (and that the
	/// binary does not load), copied at the paths `ldd` printed. Empty when skipped.
	pub added_libraries: Vec<PathBuf>,
	/// What was left out or may not work in the image: special files, dangling links,
	/// libraries `ldd` could not find for an added ELF file. Libraries of an added ELF file
	/// are only looked for when the build is not skipped.
	pub warnings: Vec<String>,
}

/// Counts of what [`ImageOptions::add`] put into an image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddedSummary {
	/// Regular files.
	pub files: usize,
	/// Symbolic links kept as links.
	pub symlinks: usize,
	/// Directories.
	pub dirs: usize,
	/// Bytes of the regular files.
	pub bytes: u64,
}

/// One added path: a file or a directory of this machine, and where it goes in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPath {
	/// Its absolute path on this machine, as given (symbolic links in it are not resolved:
	/// links in the tree are judged from here).
	pub host: PathBuf,
	/// Its absolute path in the image (normalized: no `.`, `..`, repeated or final `/`).
	pub image: String,
}

/// What an image holds and how it starts, beyond the binary (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageOptions {
	/// Files and directories copied into the image, in order (see [`parse_add`]).
	pub add: Vec<AddPath>,
	/// The image's environment (`Env` of its configuration), in order, after the
	/// `LD_LIBRARY_PATH` stagenet sets (a `LD_LIBRARY_PATH` here replaces it).
	pub env: Vec<(String, String)>,
	/// The image's working directory (absolute); `/` when `None`.
	pub workdir: Option<String>,
	/// The image's entrypoint (an absolute path in the image: the binary's place or an added
	/// file or link); the binary (`/usr/local/bin/<its name>`) when `None`.
	pub entrypoint: Option<String>,
}

/// A malformed `--add`, `--env`, `--workdir` or `--entrypoint` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}`: {reason} (hint: {hint})")]
pub struct ImageArgError {
	/// The value as given.
	pub value: String,
	/// What is wrong with it.
	pub reason: String,
	/// How to write it.
	pub hint: String,
}

impl ImageArgError {
	fn new(value: &str, reason: impl Into<String>, hint: impl Into<String>) -> Self {
		Self {
			value: value.to_string(),
			reason: reason.into(),
			hint: hint.into(),
		}
	}
}

/// Parses `<host path>[:<path in image>]`. The host path is made absolute against `cwd`
/// (lexically: `..` removes the component before it); without `:<path in image>` the file
/// goes to the same absolute path in the image. The path in the image is what follows the
/// **last** `:`, and must be absolute; a host path that contains `:` therefore needs an
/// explicit path in the image after it.
pub fn parse_add(value: &str, cwd: &Path) -> std::result::Result<AddPath, ImageArgError> {
	let hint = "write `<host path>` or `<host path>:/<path in image>`";
	let (host, image) = match value.rfind(':') {
		None => (value, None),
		Some(i) if value[i + 1..].starts_with('/') => (&value[..i], Some(&value[i + 1..])),
		Some(_) => {
			return Err(ImageArgError::new(
				value,
				"the path in the image (after the last `:`) must be absolute",
				format!("{hint}; a host path with `:` in it needs `:<path in image>` after it"),
			))
		}
	};
	if host.is_empty() {
		return Err(ImageArgError::new(value, "no host path", hint));
	}
	let host = normalize(&cwd.join(host));
	let image = match image {
		Some(image) => image.to_string(),
		None => host
			.to_str()
			.ok_or_else(|| {
				ImageArgError::new(
					value,
					"the host path is not UTF-8",
					"give the path in the image after `:`",
				)
			})?
			.to_string(),
	};
	let image = image_path(&image).map_err(|reason| ImageArgError::new(value, reason, hint))?;
	Ok(AddPath { host, image })
}

/// Parses `KEY=VALUE` for the image's environment. The key is a POSIX name (letters,
/// digits, `_`, not starting with a digit); the value may be empty and may hold anything but
/// control characters other than tab (a Dockerfile line cannot carry them).
pub fn parse_env(value: &str) -> std::result::Result<(String, String), ImageArgError> {
	let hint = "write `KEY=VALUE`, e.g. `--env HOME=/tmp`";
	let (key, val) = value
		.split_once('=')
		.ok_or_else(|| ImageArgError::new(value, "no `=`", hint))?;
	check_env(key, val).map_err(|(reason, hint)| ImageArgError::new(value, reason, hint))?;
	Ok((key.to_string(), val.to_string()))
}

/// Checks a working directory for the image: absolute, and free of characters a
/// Dockerfile's `WORKDIR` would interpret (quotes, `\`, `$`, control characters, white space
/// at either end). Returns it normalized.
pub fn parse_workdir(value: &str) -> std::result::Result<String, ImageArgError> {
	check_workdir(value).map_err(|reason| {
		ImageArgError::new(
			value,
			reason,
			"give an absolute path without quotes, `\\`, `$` or control characters",
		)
	})
}

/// Checks an entrypoint path: absolute, no control characters. Returns it normalized.
pub fn parse_entrypoint(value: &str) -> std::result::Result<String, ImageArgError> {
	image_path(value).map_err(|reason| {
		ImageArgError::new(
			value,
			reason,
			"give the absolute path of a program in the image (the binary's \
			 `/usr/local/bin/<name>`, or a file or link added with `--add`)",
		)
	})
}

fn check_env(key: &str, val: &str) -> std::result::Result<(), (String, String)> {
	let name_hint = "names are letters, digits and `_`, not starting with a digit".to_string();
	let mut chars = key.chars();
	match chars.next() {
		None => return Err(("empty name".into(), name_hint)),
		Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
			return Err((
				format!("the name `{key}` does not start with a letter or `_`"),
				name_hint,
			))
		}
		Some(_) => {}
	}
	if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
		return Err((format!("the name `{key}` is not a POSIX name"), name_hint));
	}
	if val.chars().any(|c| c.is_control() && c != '\t') {
		return Err((
			format!("the value of `{key}` holds a control character (a newline?)"),
			"pass a value on one line".into(),
		));
	}
	Ok(())
}

fn check_workdir(value: &str) -> std::result::Result<String, String> {
	if value.trim() != value {
		return Err("white space at either end".into());
	}
	if let Some(c) = value
		.chars()
		.find(|c| matches!(c, '"' | '\'' | '\\' | '$') || c.is_control())
	{
		return Err(format!(
			"`{}` cannot be written in a `WORKDIR`",
			c.escape_debug()
		));
	}
	image_path(value)
}

/// Normalizes an absolute path in the image: no `.`, no repeated or final `/`; `..` and
/// control characters are refused.
fn image_path(value: &str) -> std::result::Result<String, String> {
	if !value.starts_with('/') {
		return Err("not an absolute path".into());
	}
	if value.chars().any(char::is_control) {
		return Err("holds a control character".into());
	}
	let mut parts = Vec::new();
	for part in value.split('/') {
		match part {
			"" | "." => {}
			".." => return Err("`..` in a path in the image".into()),
			part => parts.push(part),
		}
	}
	Ok(format!("/{}", parts.join("/")))
}

/// Makes `path` absolute-looking and lexically normal: no `.`, and `..` removes the
/// component before it (not the symbolic-link-aware meaning, which needs the file system).
fn normalize(path: &Path) -> PathBuf {
	let mut out = PathBuf::from("/");
	for component in path.components() {
		match component {
			Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
			Component::ParentDir => {
				out.pop();
			}
			Component::Normal(part) => out.push(part),
		}
	}
	out
}

/// `dir` + `/` + `name` for paths in the image.
fn join_image(dir: &str, name: &str) -> String {
	if dir == "/" {
		format!("/{name}")
	} else {
		format!("{dir}/{name}")
	}
}

/// Builds the image `tag` from `binary` (see the module documentation). Skipped when `tag`
/// already names an image built from a binary with the same SHA-256.
pub async fn build_image(binary: &Path, tag: &str) -> Result<ImageBuilt> {
	build_image_with_options(binary, tag, &ImageOptions::default()).await
}

/// Builds the image `tag` from `binary` with added files, environment, working directory
/// and entrypoint (see the module documentation). Skipped when `tag` already names an image
/// of this recipe built from a binary with the same SHA-256 and the same
/// [`FILES_SHA_LABEL`].
pub async fn build_image_with_options(
	binary: &Path,
	tag: &str,
	options: &ImageOptions,
) -> Result<ImageBuilt> {
	let client = Client::connect().await?;
	build_image_with(&client, binary, tag, options).await
}

/// The image of the Docker provider's relay containers, built from the `stagenet` binary
/// `relay_binary` as `stagenet-relay:<first 12 hex digits of its SHA-256>`; returns its tag.
pub async fn relay_image(relay_binary: &Path) -> Result<String> {
	let client = Client::connect().await?;
	relay_image_with(&client, relay_binary).await
}

/// [`relay_image`] on an open connection.
pub(crate) async fn relay_image_with(client: &Client, relay_binary: &Path) -> Result<String> {
	let action = || "build the relay image".to_string();
	let bytes = read_binary(relay_binary, action).await?;
	let sha = hex::encode(Sha256::digest(&bytes));
	let tag = format!("{RELAY_REPOSITORY}{}", &sha[..12]);
	build_from_bytes(
		client,
		relay_binary,
		bytes,
		sha,
		&tag,
		&ImageOptions::default(),
	)
	.await?;
	// Relay images of earlier `stagenet` builds (a few hundred MB each) that no container
	// uses any more.
	for old in client.image_tags_with_label(IMAGE_LABEL).await? {
		if old.starts_with(RELAY_REPOSITORY) && old != tag {
			client.remove_image_if_unused(&old).await;
		}
	}
	Ok(tag)
}

/// [`build_image_with_options`] on an open connection.
pub(crate) async fn build_image_with(
	client: &Client,
	binary: &Path,
	tag: &str,
	options: &ImageOptions,
) -> Result<ImageBuilt> {
	let bytes = read_binary(binary, || format!("build image `{tag}`")).await?;
	let sha = hex::encode(Sha256::digest(&bytes));
	build_from_bytes(client, binary, bytes, sha, tag, options).await
}

async fn build_from_bytes(
	client: &Client,
	binary: &Path,
	bytes: Vec<u8>,
	sha: String,
	tag: &str,
	options: &ImageOptions,
) -> Result<ImageBuilt> {
	let action = || format!("build image `{tag}`");
	if !bytes.starts_with(b"\x7fELF") {
		return Err(NetworkError::Provider {
			provider: PROVIDER,
			action: action(),
			message: format!("`{}` is not an ELF executable", binary.display()),
			hint: Some("pass a compiled Linux program with `--binary`".into()),
		});
	}
	check_options(options)?;
	let binary_in_image = format!("/{BIN_DIR}/{}", binary_file_name(binary, action)?);
	let libraries = shared_libraries(binary, action).await?;
	let ca_bundle = CA_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file());

	let adds = options.add.clone();
	let plan = tokio::task::spawn_blocking(move || plan_additions(&adds))
		.await
		.map_err(|e| join_error(action(), e))??;
	let base = BaseFiles {
		binary: binary_in_image.clone(),
		libraries: libraries.clone(),
		ca_bundle: ca_bundle.clone(),
	};
	base.check_against(&plan)?;
	if let Some(entrypoint) = &options.entrypoint {
		if *entrypoint != binary_in_image
			&& !matches!(plan.resolve(entrypoint), Some(Entry::File { .. }))
		{
			return Err(NetworkError::InvalidConfig {
				reason: format!("the entrypoint `{entrypoint}` is not a file in the image"),
				hint: format!(
					"name the binary (`{binary_in_image}`) or a file or link added with `--add`"
				),
			});
		}
	}
	let files_sha = manifest_sha(options, &plan);
	let added = plan.summary();

	let _one_at_a_time = BUILDS.lock().await;
	let previous = client.image(tag).await?;
	if let Some(image) = &previous {
		if image.labels.get(BINARY_SHA_LABEL) == Some(&sha)
			&& image.labels.get(FILES_SHA_LABEL) == Some(&files_sha)
			&& image.labels.get(IMAGE_LABEL).map(String::as_str) == Some(IMAGE_RECIPE)
		{
			return Ok(ImageBuilt {
				tag: tag.to_string(),
				id: image.id.clone(),
				size_bytes: image.size_bytes,
				libraries,
				ca_bundle,
				skipped: true,
				added,
				files_sha,
				added_elf_files: 0,
				added_libraries: Vec::new(),
				warnings: plan.warnings,
			});
		}
	}

	let mut plan = plan;
	let scan = scan_added_elf_files(&plan, &libraries).await?;
	plan.warnings.extend(scan.warnings.iter().cloned());
	for library in &scan.libraries {
		plan.check_library_place(library)?;
	}
	let dockerfile = dockerfile(&libraries, &scan.libraries, options, &binary_in_image);
	let context = ContextSpec {
		dockerfile,
		base,
		binary_bytes: bytes,
		added_libraries: scan.libraries.clone(),
		plan,
	};
	let labels = BTreeMap::from([
		(IMAGE_LABEL.to_string(), IMAGE_RECIPE.to_string()),
		(BINARY_SHA_LABEL.to_string(), sha),
		(FILES_SHA_LABEL.to_string(), files_sha.clone()),
	]);
	let warnings = context.plan.warnings.clone();
	send_context_and_build(client, context, tag, &labels).await?;
	let built = client
		.image(tag)
		.await?
		.ok_or_else(|| NetworkError::Provider {
			provider: PROVIDER,
			action: action(),
			message: "the build reported success but the engine has no image by that tag".into(),
			hint: None,
		})?;
	// The image the tag named before, if any, is now untagged: remove such leftovers.
	prune_dangling(client).await;
	Ok(ImageBuilt {
		tag: tag.to_string(),
		id: built.id,
		size_bytes: built.size_bytes,
		libraries,
		ca_bundle,
		skipped: false,
		added,
		files_sha,
		added_elf_files: scan.elf_files,
		added_libraries: scan.libraries,
		warnings,
	})
}

/// Checks options made by a caller other than the command line (which parses with
/// [`parse_env`] and friends).
fn check_options(options: &ImageOptions) -> Result<()> {
	let invalid = |reason: String, hint: String| NetworkError::InvalidConfig { reason, hint };
	for (key, val) in &options.env {
		check_env(key, val).map_err(|(reason, hint)| invalid(reason, hint))?;
	}
	if let Some(workdir) = &options.workdir {
		check_workdir(workdir).map_err(|reason| {
			invalid(
				format!("working directory `{workdir}`: {reason}"),
				"give an absolute path without quotes, `\\`, `$` or control characters".into(),
			)
		})?;
	}
	if let Some(entrypoint) = &options.entrypoint {
		image_path(entrypoint).map_err(|reason| {
			invalid(
				format!("entrypoint `{entrypoint}`: {reason}"),
				"give an absolute path in the image".into(),
			)
		})?;
	}
	for add in &options.add {
		if !add.host.is_absolute() || image_path(&add.image).as_deref() != Ok(add.image.as_str()) {
			return Err(invalid(
				format!(
					"added path `{}` → `{}` is not absolute and normal",
					add.host.display(),
					add.image
				),
				"make it with `image::parse_add`".into(),
			));
		}
	}
	Ok(())
}

fn join_error(action: String, e: tokio::task::JoinError) -> NetworkError {
	NetworkError::Provider {
		provider: PROVIDER,
		action,
		message: format!("a worker thread failed: {e}"),
		hint: None,
	}
}

fn binary_file_name(binary: &Path, action: impl Fn() -> String) -> Result<&str> {
	binary
		.file_name()
		.and_then(|n| n.to_str())
		.filter(|n| !n.is_empty())
		.ok_or_else(|| NetworkError::Provider {
			provider: PROVIDER,
			action: action(),
			message: format!("`{}` has no usable file name", binary.display()),
			hint: None,
		})
}

/// Removes the untagged images of stagenet that no container uses (best effort).
async fn prune_dangling(client: &Client) {
	let now = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
		.unwrap_or(0);
	match client.dangling_images_with_label(IMAGE_LABEL).await {
		Ok(images) => {
			for (id, created) in images {
				if created + DANGLING_GRACE_SECS < now {
					client.remove_image_if_unused(&id).await;
				}
			}
		}
		Err(e) => tracing::debug!(error = %e, "untagged images not pruned"),
	}
}

async fn read_binary(binary: &Path, action: impl Fn() -> String) -> Result<Vec<u8>> {
	tokio::fs::read(binary)
		.await
		.map_err(|e| NetworkError::Provider {
			provider: PROVIDER,
			action: action(),
			message: format!("cannot read the binary `{}`: {e}", binary.display()),
			hint: Some("pass the path of a built executable with `--binary`".into()),
		})
}

/// Runs `ldd` on `path`: its exit status, standard output and standard error.
async fn run_ldd(path: &Path) -> std::io::Result<std::process::Output> {
	tokio::process::Command::new("ldd").arg(path).output().await
}

/// The shared libraries `binary` loads, as `ldd` resolves them on this machine.
async fn shared_libraries(binary: &Path, action: impl Fn() -> String) -> Result<Vec<PathBuf>> {
	let output = run_ldd(binary).await.map_err(|e| NetworkError::Provider {
		provider: PROVIDER,
		action: action(),
		message: format!("cannot run `ldd`: {e}"),
		hint: Some("install `ldd` (package `libc-bin`)".into()),
	})?;
	let stdout = String::from_utf8_lossy(&output.stdout);
	let stderr = String::from_utf8_lossy(&output.stderr);
	let parsed = parse_ldd(&stdout, &stderr);
	if parsed.is_static {
		return Ok(Vec::new());
	}
	if !parsed.missing.is_empty() {
		return Err(NetworkError::Provider {
			provider: PROVIDER,
			action: action(),
			message: format!(
				"`{}` needs libraries this machine does not have: {}",
				binary.display(),
				parsed
					.missing
					.iter()
					.map(|l| format!("`{l}`"))
					.collect::<Vec<_>>()
					.join(", ")
			),
			hint: Some("install them, or build a binary that does not need them".into()),
		});
	}
	if !output.status.success() {
		return Err(NetworkError::Provider {
			provider: PROVIDER,
			action: action(),
			message: format!(
				"`ldd {}` failed with {}: {}",
				binary.display(),
				output.status,
				stderr.trim()
			),
			hint: None,
		});
	}
	Ok(parsed.libraries)
}

/// What `ldd` printed, understood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LddOutput {
	/// Absolute paths of the libraries and the dynamic loader, in order, without duplicates.
	pub libraries: Vec<PathBuf>,
	/// Libraries `ldd` could not find.
	pub missing: Vec<String>,
	/// The binary is statically linked (no loader, no libraries).
	pub is_static: bool,
}

/// Parses the output of `ldd <binary>` (glibc's). Lines are `name => /path (0x…)`,
/// `/path/of/the/loader (0x…)`, `linux-vdso.so.1 (0x…)` (in the kernel, skipped) or
/// `name => not found`.
pub(crate) fn parse_ldd(stdout: &str, stderr: &str) -> LddOutput {
	let mut out = LddOutput::default();
	for text in [stdout, stderr] {
		if text.contains("not a dynamic executable") || text.contains("statically linked") {
			out.is_static = true;
			return out;
		}
	}
	let mut seen = BTreeSet::new();
	for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
		let (name, rest) = match line.split_once("=>") {
			Some((name, rest)) => (name.trim(), rest.trim()),
			None => ("", line),
		};
		if rest.starts_with("not found") {
			out.missing.push(name.to_string());
			continue;
		}
		// Drop the load address: `/lib/x/libc.so.6 (0x00007f…)`.
		let path = match rest.rfind(" (0x") {
			Some(i) => rest[..i].trim(),
			None if rest.starts_with("(0x") => "",
			None => rest,
		};
		if path.starts_with('/') && seen.insert(path.to_string()) {
			out.libraries.push(PathBuf::from(path));
		}
	}
	out
}

/// One thing put into the image by the added paths.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
	/// A directory.
	Dir {
		/// Permission bits.
		mode: u32,
	},
	/// A regular file, copied from `source`.
	File {
		/// Where its contents are read from (the link's target for a resolved link).
		source: PathBuf,
		/// Its size when planned.
		size: u64,
		/// Permission bits.
		mode: u32,
		/// Modification time, seconds since the epoch (kept in the image: Python checks its
		/// `__pycache__` against the sources' times).
		mtime: i64,
		/// Nanoseconds of the modification time (for the manifest only).
		mtime_nsec: i64,
	},
	/// A symbolic link (its target as it will read in the image).
	Symlink {
		/// The target.
		target: String,
	},
}

/// Everything the added paths put into the image, by absolute path in the image.
#[derive(Debug, Default)]
struct Plan {
	entries: BTreeMap<String, Entry>,
	/// The added paths that are not links themselves, with every link resolved.
	resolved_roots: Vec<PathBuf>,
	/// Things left out or doubtful.
	warnings: Vec<String>,
}

impl Plan {
	/// Whether the file `host` (a library `ldd` found) is in the image already: a file is
	/// planned at its path (through planned links), or it lives inside an added path, which
	/// may be elsewhere in the image (its ELF files then find it through their own search
	/// path, `$ORIGIN`, as on this machine).
	fn holds(&self, host: &Path) -> bool {
		if host
			.to_str()
			.is_some_and(|p| matches!(self.resolve(p), Some(Entry::File { .. })))
		{
			return true;
		}
		let resolved = std::fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf());
		self.resolved_roots
			.iter()
			.any(|root| resolved.starts_with(root))
	}

	/// Whether the planned entry at `path` is the file `host` itself (the same file once
	/// links are resolved).
	fn same_file_at(&self, path: &str, host: &Path) -> bool {
		match self.entries.get(path) {
			Some(Entry::File { source, .. }) => {
				let a = std::fs::canonicalize(source);
				let b = std::fs::canonicalize(host);
				matches!((a, b), (Ok(a), Ok(b)) if a == b)
			}
			_ => false,
		}
	}

	fn summary(&self) -> AddedSummary {
		let mut summary = AddedSummary::default();
		for entry in self.entries.values() {
			match entry {
				Entry::Dir { .. } => summary.dirs += 1,
				Entry::File { size, .. } => {
					summary.files += 1;
					summary.bytes += size;
				}
				Entry::Symlink { .. } => summary.symlinks += 1,
			}
		}
		summary
	}

	/// What `path` names in the image, following the planned links (as the kernel would).
	/// Directories that are only implied (the parents of an added path) count as present.
	fn resolve(&self, path: &str) -> Option<&Entry> {
		let mut pending: Vec<String> = path
			.split('/')
			.filter(|p| !p.is_empty())
			.rev()
			.map(str::to_string)
			.collect();
		let mut current: Vec<String> = Vec::new();
		let mut hops = 0;
		while let Some(part) = pending.pop() {
			match part.as_str() {
				"." => continue,
				".." => {
					current.pop();
					continue;
				}
				_ => current.push(part),
			}
			let here = format!("/{}", current.join("/"));
			match self.entries.get(&here) {
				Some(Entry::Symlink { target }) => {
					hops += 1;
					if hops > MAX_SYMLINK_HOPS {
						return None;
					}
					current.pop();
					if target.starts_with('/') {
						current.clear();
					}
					pending.extend(
						target
							.split('/')
							.filter(|p| !p.is_empty())
							.rev()
							.map(str::to_string),
					);
				}
				Some(Entry::File { .. }) if !pending.is_empty() => return None,
				_ => {}
			}
		}
		self.entries.get(&format!("/{}", current.join("/")))
	}

	/// Refuses a path under a planned file or link (the tar would then hold a directory and
	/// a file at the same place).
	fn check_free(&self, path: &str, what: &str) -> Result<()> {
		let mut prefix = String::new();
		for part in path.split('/').filter(|p| !p.is_empty()) {
			prefix.push('/');
			prefix.push_str(part);
			if prefix == path {
				break;
			}
			if let Some(entry @ (Entry::File { .. } | Entry::Symlink { .. })) =
				self.entries.get(&prefix)
			{
				return Err(NetworkError::InvalidConfig {
					reason: format!(
						"{what} `{path}` would go under `{prefix}`, which an added path makes a {}",
						entry_kind(entry)
					),
					hint: "give the added path another place with `<host path>:<path in image>`"
						.into(),
				});
			}
		}
		if let Some(entry) = self.entries.get(path) {
			return Err(NetworkError::InvalidConfig {
				reason: format!(
					"{what} `{path}` is also an added {} in the image",
					entry_kind(entry)
				),
				hint: "give the added path another place with `<host path>:<path in image>`".into(),
			});
		}
		Ok(())
	}

	/// A library an added ELF file needs, to be copied at its host path: refused when an
	/// added path is in its way.
	fn check_library_place(&self, library: &Path) -> Result<()> {
		match library.to_str() {
			Some(path) => self.check_free(path, "the library"),
			None => Err(NetworkError::InvalidConfig {
				reason: format!(
					"the library `{}` has a path that is not UTF-8",
					library.display()
				),
				hint: "add it with `--add <path>:<UTF-8 path in image>`".into(),
			}),
		}
	}
}

fn entry_kind(entry: &Entry) -> &'static str {
	match entry {
		Entry::Dir { .. } => "directory",
		Entry::File { .. } => "file",
		Entry::Symlink { .. } => "symbolic link",
	}
}

/// The binary, its libraries, the CA bundle, `/tmp` and `/data`: what every image has.
#[derive(Debug)]
struct BaseFiles {
	/// The binary's path in the image.
	binary: String,
	libraries: Vec<PathBuf>,
	ca_bundle: Option<PathBuf>,
}

impl BaseFiles {
	/// Refuses added paths that would take the place of one of these.
	fn check_against(&self, plan: &Plan) -> Result<()> {
		plan.check_free(&self.binary, "the binary")?;
		for library in &self.libraries {
			let in_image = normalize(library);
			if in_image
				.to_str()
				.is_some_and(|path| plan.same_file_at(path, library))
			{
				// Added with its directory, at its own path: written once, by the plan.
				continue;
			}
			plan.check_library_place(library)?;
		}
		if self.ca_bundle.is_some() {
			plan.check_free(CA_BUNDLE_IN_IMAGE, "the CA bundle")?;
		}
		for dir in ["/tmp", "/data"] {
			if let Some(entry @ (Entry::File { .. } | Entry::Symlink { .. })) =
				plan.entries.get(dir)
			{
				return Err(NetworkError::InvalidConfig {
					reason: format!(
						"`{dir}` must be a directory, an added path makes it a {}",
						entry_kind(entry)
					),
					hint: "give the added path another place with `<host path>:<path in image>`"
						.into(),
				});
			}
		}
		Ok(())
	}
}

/// An added path, once looked at.
#[derive(Debug)]
struct Root {
	/// As given (absolute, lexically normal).
	host: PathBuf,
	/// With every symbolic link resolved.
	canonical: PathBuf,
	/// Whether the path itself is a symbolic link.
	is_link: bool,
	/// Its place in the image.
	image: String,
}

/// Walks the added paths into a [`Plan`] (blocking file system calls).
fn plan_additions(adds: &[AddPath]) -> Result<Plan> {
	let mut roots = Vec::new();
	for add in adds {
		let unreadable = |e: std::io::Error| NetworkError::Provider {
			provider: PROVIDER,
			action: "add files to the image".into(),
			message: format!("cannot read `{}`: {e}", add.host.display()),
			hint: Some("pass an existing file or directory with `--add`".into()),
		};
		let meta = std::fs::symlink_metadata(&add.host).map_err(unreadable)?;
		let canonical = std::fs::canonicalize(&add.host).map_err(unreadable)?;
		roots.push(Root {
			host: add.host.clone(),
			canonical,
			is_link: meta.file_type().is_symlink(),
			image: add.image.clone(),
		});
	}
	let mut walker = Walker {
		roots: &roots,
		plan: Plan {
			resolved_roots: roots
				.iter()
				.filter(|r| !r.is_link)
				.map(|r| r.canonical.clone())
				.collect(),
			..Plan::default()
		},
		open_dirs: Vec::new(),
	};
	for (i, root) in roots.iter().enumerate() {
		walker.visit(&root.host, &root.image, Some(i))?;
	}
	Ok(walker.plan)
}

struct Walker<'a> {
	roots: &'a [Root],
	plan: Plan,
	/// The directories being walked (resolved), to refuse a link back to one of them.
	open_dirs: Vec<PathBuf>,
}

impl Walker<'_> {
	fn io(path: &Path) -> impl Fn(std::io::Error) -> NetworkError + '_ {
		move |source| NetworkError::Io {
			path: path.to_path_buf(),
			source,
		}
	}

	/// Adds `host` at `image`; `root` is the added path it was reached from by walking
	/// (`None` for what a resolved link points to).
	fn visit(&mut self, host: &Path, image: &str, root: Option<usize>) -> Result<()> {
		let meta = std::fs::symlink_metadata(host).map_err(Self::io(host))?;
		if meta.file_type().is_symlink() {
			self.symlink(host, image, root)
		} else {
			self.real(host, image, &meta, root)
		}
	}

	fn real(
		&mut self,
		host: &Path,
		image: &str,
		meta: &std::fs::Metadata,
		root: Option<usize>,
	) -> Result<()> {
		let mode = meta.mode() & 0o7777;
		if meta.is_dir() {
			self.insert(image, Entry::Dir { mode }, host)?;
			let resolved = std::fs::canonicalize(host).map_err(Self::io(host))?;
			if self.open_dirs.contains(&resolved) {
				return Err(NetworkError::InvalidConfig {
					reason: format!(
						"`{}` leads back into `{}` through a symbolic link outside the added paths",
						host.display(),
						resolved.display()
					),
					hint: "add the link's target too, so the link stays a link".into(),
				});
			}
			self.open_dirs.push(resolved);
			let mut names = std::fs::read_dir(host)
				.map_err(Self::io(host))?
				.map(|e| e.map(|e| e.file_name()))
				.collect::<std::io::Result<Vec<_>>>()
				.map_err(Self::io(host))?;
			names.sort();
			for name in names {
				let child = host.join(&name);
				let name = name.to_str().ok_or_else(|| NetworkError::InvalidConfig {
					reason: format!("`{}` has a name that is not UTF-8", child.display()),
					hint: "rename it, or leave its directory out".into(),
				})?;
				self.visit(&child, &join_image(image, name), root)?;
			}
			self.open_dirs.pop();
		} else if meta.is_file() {
			self.insert(
				image,
				Entry::File {
					source: host.to_path_buf(),
					size: meta.len(),
					mode,
					mtime: meta.mtime(),
					mtime_nsec: meta.mtime_nsec(),
				},
				host,
			)?;
		} else {
			self.plan.warnings.push(format!(
				"`{}` is not a file, directory or symbolic link: left out",
				host.display()
			));
		}
		Ok(())
	}

	fn symlink(&mut self, host: &Path, image: &str, root: Option<usize>) -> Result<()> {
		let target = std::fs::read_link(host).map_err(Self::io(host))?;
		let Ok(resolved) = std::fs::canonicalize(host) else {
			// Dangling (or a loop) on this machine too: kept as it is.
			self.plan.warnings.push(format!(
				"`{}` is a dangling symbolic link (to `{}`): kept as it is",
				host.display(),
				target.display()
			));
			let target = os_str(target.as_os_str(), host)?.to_string();
			return self.insert(image, Entry::Symlink { target }, host);
		};
		// The target as written, joined to the link's directory: a chain of links stays a
		// chain when its next link is added too.
		let lexical = normalize(&host.parent().unwrap_or(Path::new("/")).join(&target));
		if std::fs::canonicalize(&lexical).ok().as_ref() == Some(&resolved) {
			if let (Some(i), true) = (root, target.is_relative()) {
				if lexical.starts_with(&self.roots[i].host) {
					let target = os_str(target.as_os_str(), host)?.to_string();
					return self.insert(image, Entry::Symlink { target }, host);
				}
			}
			if let Some(in_image) = self.covered(&lexical, false) {
				if in_image != image {
					return self.insert(image, Entry::Symlink { target: in_image }, host);
				}
			}
		}
		if let Some(in_image) = self.covered(&resolved, true) {
			if in_image != image {
				return self.insert(image, Entry::Symlink { target: in_image }, host);
			}
		}
		// Points outside every added path: what it points to is copied in its place.
		let meta = std::fs::metadata(&resolved).map_err(Self::io(&resolved))?;
		self.real(&resolved, image, &meta, None)
	}

	/// Where `path` (of this machine) is in the image, if an added path holds it: the added
	/// path with the longest match wins. `resolved` compares with the added paths' resolved
	/// forms, leaving out added paths that are links themselves (their place in the image
	/// may be such a link, which must not point at itself).
	fn covered(&self, path: &Path, resolved: bool) -> Option<String> {
		let (root, rest) = self
			.roots
			.iter()
			.filter(|r| !(resolved && r.is_link))
			.filter_map(|r| {
				let base = if resolved { &r.canonical } else { &r.host };
				path.strip_prefix(base).ok().map(|rest| (r, rest))
			})
			.max_by_key(|(r, _)| {
				if resolved {
					r.canonical.components().count()
				} else {
					r.host.components().count()
				}
			})?;
		let mut in_image = root.image.clone();
		for part in rest.components() {
			in_image = join_image(&in_image, part.as_os_str().to_str()?);
		}
		Some(in_image)
	}

	fn insert(&mut self, image: &str, entry: Entry, host: &Path) -> Result<()> {
		self.plan.check_free(image, "the added path").or_else(|e| {
			match (&entry, self.plan.entries.get(image)) {
				(Entry::Dir { .. }, Some(Entry::Dir { .. })) => Ok(()),
				(_, Some(existing)) if *existing == entry => Ok(()),
				(_, Some(existing)) => Err(NetworkError::InvalidConfig {
					reason: format!(
					"two added paths put different things at `{image}` in the image (a {} and `{}`, a {})",
					entry_kind(existing),
					host.display(),
					entry_kind(&entry)
				),
					hint: "give one of them another place with `<host path>:<path in image>`"
						.into(),
				}),
				(_, None) => Err(e),
			}
		})?;
		self.plan.entries.entry(image.to_string()).or_insert(entry);
		Ok(())
	}
}

fn os_str<'a>(value: &'a OsStr, host: &Path) -> Result<&'a str> {
	value.to_str().ok_or_else(|| NetworkError::InvalidConfig {
		reason: format!("`{}` points to a path that is not UTF-8", host.display()),
		hint: "leave it out".into(),
	})
}

/// The SHA-256 (hex) of the added paths' manifest and the options (see
/// [`FILES_SHA_LABEL`]).
fn manifest_sha(options: &ImageOptions, plan: &Plan) -> String {
	let mut hash = Sha256::new();
	let mut field = |tag: &str, parts: &[&[u8]]| {
		hash.update(tag.as_bytes());
		for part in parts {
			hash.update(b"\0");
			hash.update((part.len() as u64).to_le_bytes());
			hash.update(part);
		}
		hash.update(b"\n");
	};
	for add in &options.add {
		field(
			"add",
			&[add.host.as_os_str().as_bytes(), add.image.as_bytes()],
		);
	}
	for (key, val) in &options.env {
		field("env", &[key.as_bytes(), val.as_bytes()]);
	}
	if let Some(workdir) = &options.workdir {
		field("workdir", &[workdir.as_bytes()]);
	}
	if let Some(entrypoint) = &options.entrypoint {
		field("entrypoint", &[entrypoint.as_bytes()]);
	}
	for (path, entry) in &plan.entries {
		match entry {
			Entry::Dir { mode } => field("dir", &[path.as_bytes(), &mode.to_le_bytes()]),
			Entry::File {
				source,
				size,
				mode,
				mtime,
				mtime_nsec,
			} => field(
				"file",
				&[
					path.as_bytes(),
					source.as_os_str().as_bytes(),
					&size.to_le_bytes(),
					&mode.to_le_bytes(),
					&mtime.to_le_bytes(),
					&mtime_nsec.to_le_bytes(),
				],
			),
			Entry::Symlink { target } => field("link", &[path.as_bytes(), target.as_bytes()]),
		}
	}
	hex::encode(hash.finalize())
}

/// What `ldd` said about the added ELF files.
#[derive(Debug, Default)]
struct ElfScan {
	/// How many ELF files were looked at.
	elf_files: usize,
	/// Libraries to copy (outside the added paths, not among the binary's), sorted.
	libraries: Vec<PathBuf>,
	/// Libraries not found, `ldd` failures.
	warnings: Vec<String>,
}

/// Runs `ldd` on every added ELF file and gathers the libraries the image lacks.
async fn scan_added_elf_files(plan: &Plan, binary_libraries: &[PathBuf]) -> Result<ElfScan> {
	let sources: Vec<PathBuf> = plan
		.entries
		.values()
		.filter_map(|e| match e {
			Entry::File { source, size, .. } if *size >= 4 => Some(source.clone()),
			_ => None,
		})
		.collect();
	let elves = tokio::task::spawn_blocking(move || {
		sources
			.into_iter()
			.filter(|source| is_elf(source))
			.collect::<BTreeSet<_>>()
	})
	.await
	.map_err(|e| join_error("look for ELF files among the added ones".into(), e))?;
	let mut scan = ElfScan {
		elf_files: elves.len(),
		..ElfScan::default()
	};
	let results: Vec<(PathBuf, std::io::Result<std::process::Output>)> =
		futures_util::stream::iter(elves)
			.map(|elf| async move {
				let output = run_ldd(&elf).await;
				(elf, output)
			})
			.buffer_unordered(LDD_CONCURRENCY)
			.collect()
			.await;
	let have: BTreeSet<PathBuf> = binary_libraries.iter().map(|l| normalize(l)).collect();
	let mut libraries = BTreeSet::new();
	let mut warnings = BTreeMap::new();
	for (elf, output) in results {
		let output = match output {
			Ok(output) => output,
			Err(e) => {
				warnings.insert(
					elf.clone(),
					format!("cannot run `ldd` on `{}`: {e}", elf.display()),
				);
				continue;
			}
		};
		let stdout = String::from_utf8_lossy(&output.stdout);
		let stderr = String::from_utf8_lossy(&output.stderr);
		let parsed = parse_ldd(&stdout, &stderr);
		if parsed.is_static {
			continue;
		}
		if !output.status.success() && parsed.libraries.is_empty() {
			warnings.insert(
				elf.clone(),
				format!(
					"`ldd {}` failed ({}): {}",
					elf.display(),
					output.status,
					stderr.trim()
				),
			);
			continue;
		}
		// Bundled libraries (`numpy.libs/`, `*.libs/`) name their siblings without a search
		// path: those are loaded first by whoever needs them, and are in the image.
		let dir = elf.parent().unwrap_or(Path::new("/"));
		let missing: Vec<String> = parsed
			.missing
			.into_iter()
			.filter(|name| !dir.join(name).exists())
			.collect();
		if !missing.is_empty() {
			warnings.insert(
				elf.clone(),
				format!(
					"`{}` needs libraries this machine does not have ({}): it cannot be loaded in the image either",
					elf.display(),
					missing.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
				),
			);
		}
		for library in parsed.libraries {
			libraries.insert(library);
		}
	}
	scan.warnings = warnings.into_values().collect();
	for library in libraries {
		let normal = normalize(&library);
		if have.contains(&normal) || plan.holds(&normal) {
			continue;
		}
		scan.libraries.push(normal);
	}
	Ok(scan)
}

fn is_elf(path: &Path) -> bool {
	let mut magic = [0u8; 4];
	std::fs::File::open(path)
		.and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
		.is_ok()
		&& magic == *b"\x7fELF"
}

/// A string as a double-quoted Dockerfile word: `\`, `"` and `$` escaped.
fn dockerfile_quote(value: &str) -> String {
	let mut out = String::with_capacity(value.len() + 2);
	out.push('"');
	for c in value.chars() {
		if matches!(c, '\\' | '"' | '$') {
			out.push('\\');
		}
		out.push(c);
	}
	out.push('"');
	out
}

/// The Dockerfile: everything comes from `rootfs/`; the library directories in
/// `LD_LIBRARY_PATH` (the image has no `ld.so.cache`), then the options.
fn dockerfile(
	libraries: &[PathBuf],
	added_libraries: &[PathBuf],
	options: &ImageOptions,
	binary_in_image: &str,
) -> String {
	let library_dirs: BTreeSet<String> = libraries
		.iter()
		.chain(added_libraries)
		.filter_map(|l| l.parent())
		.map(|d| d.display().to_string())
		.collect();
	let mut dockerfile = String::from("FROM scratch\nCOPY rootfs/ /\n");
	if !library_dirs.is_empty() {
		let dirs = library_dirs.into_iter().collect::<Vec<_>>().join(":");
		dockerfile.push_str(&format!(
			"ENV LD_LIBRARY_PATH={}\n",
			dockerfile_quote(&dirs)
		));
	}
	for (key, val) in &options.env {
		dockerfile.push_str(&format!("ENV {key}={}\n", dockerfile_quote(val)));
	}
	dockerfile.push_str(&format!(
		"WORKDIR {}\n",
		options.workdir.as_deref().unwrap_or("/")
	));
	let entrypoint = options.entrypoint.as_deref().unwrap_or(binary_in_image);
	dockerfile.push_str(&format!(
		"ENTRYPOINT {}\n",
		serde_json::to_string(&[entrypoint]).unwrap_or_default()
	));
	dockerfile
}

/// Everything the build context is made of.
#[derive(Debug)]
struct ContextSpec {
	dockerfile: String,
	base: BaseFiles,
	binary_bytes: Vec<u8>,
	added_libraries: Vec<PathBuf>,
	plan: Plan,
}

/// Writes the context into a channel from a worker thread while the engine reads it.
async fn send_context_and_build(
	client: &Client,
	context: ContextSpec,
	tag: &str,
	labels: &BTreeMap<String, String>,
) -> Result<()> {
	let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
	// Dropped when the build ends, however it ends: a writer waiting for room gives up.
	let (stop, stopped) = tokio::sync::watch::channel(());
	let runtime = tokio::runtime::Handle::current();
	let writer = tokio::task::spawn_blocking(move || {
		let mut out = ChunkWriter {
			tx: tx.clone(),
			stopped,
			runtime,
			buf: Vec::with_capacity(CONTEXT_CHUNK),
		};
		let written = write_context(&context, &mut out).and_then(|()| {
			out.flush().map_err(|source| NetworkError::Io {
				path: PathBuf::from("<build context>"),
				source,
			})
		});
		if let Err(e) = &written {
			// Make the upload fail rather than end early with a valid-looking archive.
			let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
		}
		written
	});
	let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
		rx.recv().await.map(|chunk| (chunk, rx))
	})
	.boxed();
	let built = client.build_image(chunks, tag, labels).await;
	drop(stop);
	let written = writer
		.await
		.map_err(|e| join_error(format!("build image `{tag}`"), e))?;
	// The context's own error says more than the engine's "unexpected EOF".
	written?;
	built
}

/// A [`Write`] that sends what it is given in chunks of [`CONTEXT_CHUNK`].
struct ChunkWriter {
	tx: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
	stopped: tokio::sync::watch::Receiver<()>,
	runtime: tokio::runtime::Handle,
	buf: Vec<u8>,
}

impl ChunkWriter {
	fn send(&mut self) -> std::io::Result<()> {
		let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CONTEXT_CHUNK));
		let tx = self.tx.clone();
		let mut stopped = self.stopped.clone();
		self.runtime.block_on(async move {
			tokio::select! {
				sent = tx.send(Ok(chunk)) => sent.map_err(|_| {
					std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the engine stopped reading the build context")
				}),
				_ = stopped.changed() => Err(std::io::Error::new(
					std::io::ErrorKind::Interrupted,
					"the build ended before its context was sent",
				)),
			}
		})
	}
}

impl Write for ChunkWriter {
	fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
		self.buf.extend_from_slice(data);
		if self.buf.len() >= CONTEXT_CHUNK {
			self.send()?;
		}
		Ok(data.len())
	}

	fn flush(&mut self) -> std::io::Result<()> {
		if !self.buf.is_empty() {
			self.send()?;
		}
		Ok(())
	}
}

/// Writes the tar build context: `Dockerfile` and `rootfs/` with the binary, its libraries
/// (the resolved files, stored as regular files at the paths `ldd` printed), the CA bundle,
/// `/tmp`, `/data`, the added paths and the libraries of the added ELF files.
fn write_context<W: Write>(context: &ContextSpec, out: W) -> Result<()> {
	let io = |path: &Path| {
		let path = path.to_path_buf();
		move |source: std::io::Error| NetworkError::Io { path, source }
	};
	let base = &context.base;
	let context_path = Path::new("<build context>");
	let mut tar = TarWriter::new(out);
	tar.file("Dockerfile", context.dockerfile.as_bytes(), 0o644, 0)
		.map_err(io(Path::new("Dockerfile")))?;
	tar.dir("rootfs", 0o755).map_err(io(context_path))?;
	tar.dir("rootfs/tmp", 0o1777).map_err(io(context_path))?;
	tar.dir("rootfs/data", 0o755).map_err(io(context_path))?;
	tar.file(
		&format!("rootfs{}", base.binary),
		&context.binary_bytes,
		0o755,
		0,
	)
	.map_err(io(context_path))?;
	for library in base.libraries.iter().chain(&context.added_libraries) {
		let in_image = normalize(library).display().to_string();
		if context.plan.entries.contains_key(&in_image) {
			// The same file, added with its directory ([`BaseFiles::check_against`]).
			continue;
		}
		let contents = std::fs::read(library).map_err(io(library))?;
		tar.file(&format!("rootfs{in_image}"), &contents, 0o755, 0)
			.map_err(io(library))?;
	}
	if let Some(bundle) = &base.ca_bundle {
		let contents = std::fs::read(bundle).map_err(io(bundle))?;
		tar.file(&format!("rootfs{CA_BUNDLE_IN_IMAGE}"), &contents, 0o644, 0)
			.map_err(io(bundle))?;
	}
	for (path, entry) in &context.plan.entries {
		let in_tar = if path == "/" {
			"rootfs".to_string()
		} else {
			format!("rootfs{path}")
		};
		match entry {
			Entry::Dir { mode } => tar.dir(&in_tar, *mode).map_err(io(context_path))?,
			Entry::File {
				source,
				mode,
				mtime,
				..
			} => {
				let contents = std::fs::read(source).map_err(io(source))?;
				let mtime = u64::try_from(*mtime).unwrap_or(0);
				tar.file(&in_tar, &contents, *mode, mtime)
					.map_err(io(source))?;
			}
			Entry::Symlink { target } => tar.symlink(&in_tar, target).map_err(io(context_path))?,
		}
	}
	tar.finish().map_err(io(context_path))
}

/// A tar archive that adds the parent directories of every entry once.
struct TarWriter<W: Write> {
	builder: tar::Builder<W>,
	dirs: BTreeSet<String>,
}

impl<W: Write> TarWriter<W> {
	fn new(out: W) -> Self {
		let mut builder = tar::Builder::new(out);
		// Links are written as links, never followed.
		builder.follow_symlinks(false);
		Self {
			builder,
			dirs: BTreeSet::new(),
		}
	}

	fn header(kind: tar::EntryType, size: u64, mode: u32, mtime: u64) -> tar::Header {
		let mut header = tar::Header::new_gnu();
		header.set_entry_type(kind);
		header.set_size(size);
		header.set_mode(mode);
		header.set_uid(0);
		header.set_gid(0);
		// A fixed time for what stagenet puts in (the same files give the same layers,
		// which the engine can reuse); added files keep theirs.
		header.set_mtime(mtime);
		header
	}

	fn parents(&mut self, path: &str) -> std::io::Result<()> {
		let mut prefix = String::new();
		let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
		for part in parts.iter().take(parts.len().saturating_sub(1)) {
			if !prefix.is_empty() {
				prefix.push('/');
			}
			prefix.push_str(part);
			if !self.dirs.contains(&prefix) {
				self.dir(&prefix.clone(), 0o755)?;
			}
		}
		Ok(())
	}

	fn dir(&mut self, path: &str, mode: u32) -> std::io::Result<()> {
		if self.dirs.contains(path) {
			return Ok(());
		}
		self.parents(path)?;
		self.dirs.insert(path.to_string());
		let mut header = Self::header(tar::EntryType::Directory, 0, mode, 0);
		self.builder
			.append_data(&mut header, format!("{path}/"), std::io::empty())
	}

	fn file(&mut self, path: &str, contents: &[u8], mode: u32, mtime: u64) -> std::io::Result<()> {
		self.parents(path)?;
		let mut header = Self::header(tar::EntryType::Regular, contents.len() as u64, mode, mtime);
		self.builder.append_data(&mut header, path, contents)
	}

	fn symlink(&mut self, path: &str, target: &str) -> std::io::Result<()> {
		self.parents(path)?;
		let mut header = Self::header(tar::EntryType::Symlink, 0, 0o777, 0);
		self.builder.append_link(&mut header, path, target)
	}

	fn finish(mut self) -> std::io::Result<()> {
		self.builder.finish()?;
		self.builder.into_inner()?.flush()
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::os::unix::fs::{symlink, PermissionsExt};

	/// `ldd /usr/bin/python3` on the development machine (Debian 12, glibc 2.36).
	const LDD_PYTHON: &str = "\tlinux-vdso.so.1 (0x00007ffc2a5f6000)
	libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f3a1c8f1000)
	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f3a1c8d2000)
	libexpat.so.1 => /lib/x86_64-linux-gnu/libexpat.so.1 (0x00007f3a1c8a7000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3a1c6c6000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f3a1cad6000)
";

	#[test]
	fn ldd_output_of_a_dynamic_binary_lists_libraries_and_loader() {
		let parsed = parse_ldd(LDD_PYTHON, "");
		assert!(!parsed.is_static);
		assert!(parsed.missing.is_empty());
		let paths: Vec<String> = parsed
			.libraries
			.iter()
			.map(|p| p.display().to_string())
			.collect();
		assert_eq!(
			paths,
			[
				"/lib/x86_64-linux-gnu/libm.so.6",
				"/lib/x86_64-linux-gnu/libz.so.1",
				"/lib/x86_64-linux-gnu/libexpat.so.1",
				"/lib/x86_64-linux-gnu/libc.so.6",
				"/lib64/ld-linux-x86-64.so.2",
			]
		);
	}

	#[test]
	fn ldd_output_of_static_binaries_means_no_libraries() {
		// `ldd /usr/bin/tini-static` here: nothing on standard output, the message on
		// standard error, exit status 1.
		let parsed = parse_ldd("", "\tnot a dynamic executable\n");
		assert!(parsed.is_static);
		assert!(parsed.libraries.is_empty());
		// A static PIE.
		assert!(parse_ldd("\tstatically linked\n", "").is_static);
		// Other versions write the message to standard output.
		assert!(parse_ldd("\tnot a dynamic executable\n", "").is_static);
	}

	#[test]
	fn ldd_output_names_missing_libraries() {
		let out = "\tlinux-vdso.so.1 (0x00007ffd3b9e4000)
	libfoo.so.1 => not found
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0d0c9c6000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f0d0cbd6000)
";
		let parsed = parse_ldd(out, "");
		assert_eq!(parsed.missing, ["libfoo.so.1"]);
		assert_eq!(parsed.libraries.len(), 2);
	}

	#[test]
	fn ldd_old_vdso_form_and_duplicates_are_skipped() {
		let out = "\tlinux-vdso.so.1 =>  (0x00007ffd3b9e4000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0d0c9c6000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0d0c9c6000)
";
		let parsed = parse_ldd(out, "");
		assert_eq!(
			parsed.libraries,
			[PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6")]
		);
	}

	/// The entries of a tar: path → (kind, mode, mtime, contents or link target).
	fn tar_entries(tar: &[u8]) -> BTreeMap<String, (tar::EntryType, u32, u64, Vec<u8>)> {
		let mut archive = tar::Archive::new(tar);
		let mut entries = BTreeMap::new();
		for entry in archive.entries().expect("entries") {
			let mut entry = entry.expect("entry");
			let path = entry.path().expect("path").display().to_string();
			let header = entry.header().clone();
			let mut data = Vec::new();
			std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
			if header.entry_type() == tar::EntryType::Symlink {
				data = entry
					.link_name()
					.expect("link name")
					.expect("a link has a target")
					.display()
					.to_string()
					.into_bytes();
			}
			let previous = entries.insert(
				path.clone(),
				(
					header.entry_type(),
					header.mode().expect("mode"),
					header.mtime().expect("mtime"),
					data,
				),
			);
			assert!(previous.is_none(), "`{path}` twice in the archive");
		}
		entries
	}

	fn context_of(spec: &ContextSpec) -> Vec<u8> {
		let mut out = Vec::new();
		write_context(spec, &mut out).expect("context");
		out
	}

	#[test]
	fn build_context_holds_dockerfile_binary_libraries_and_empty_dirs() {
		let libc = PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6");
		let libs = if libc.exists() {
			vec![libc]
		} else {
			Vec::new()
		};
		let dir = tempfile::tempdir().expect("temp dir");
		let bundle = dir.path().join("ca.pem");
		std::fs::write(&bundle, b"-----BEGIN CERTIFICATE-----\n").expect("write bundle");
		let binary = "/usr/local/bin/my-node";
		let spec = ContextSpec {
			dockerfile: dockerfile(&libs, &[], &ImageOptions::default(), binary),
			base: BaseFiles {
				binary: binary.into(),
				libraries: libs.clone(),
				ca_bundle: Some(bundle),
			},
			binary_bytes: b"\x7fELF fake".to_vec(),
			added_libraries: Vec::new(),
			plan: Plan::default(),
		};
		let entries = tar_entries(&context_of(&spec));
		let dockerfile = String::from_utf8(entries["Dockerfile"].3.clone()).expect("utf-8");
		assert!(dockerfile.starts_with("FROM scratch\n"), "{dockerfile}");
		assert!(
			dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/my-node\"]"),
			"{dockerfile}"
		);
		assert!(dockerfile.contains("WORKDIR /\n"), "{dockerfile}");
		let node = &entries["rootfs/usr/local/bin/my-node"];
		assert_eq!(
			(node.1, node.2, &node.3[..]),
			(0o755, 0, &b"\x7fELF fake"[..])
		);
		assert_eq!(entries["rootfs/tmp/"].1, 0o1777);
		assert!(entries.contains_key("rootfs/data/"));
		assert!(entries.contains_key("rootfs/usr/local/"));
		let bundle = &entries["rootfs/etc/ssl/certs/ca-certificates.crt"];
		assert_eq!(
			(bundle.1, &bundle.3[..]),
			(0o644, &b"-----BEGIN CERTIFICATE-----\n"[..])
		);
		for lib in &libs {
			let key = format!("rootfs{}", lib.display());
			assert_eq!(
				entries[&key].3,
				std::fs::read(lib).expect("lib"),
				"{key} holds the resolved file"
			);
			assert!(dockerfile.contains("LD_LIBRARY_PATH=\"/lib/x86_64-linux-gnu\""));
		}
	}

	#[test]
	fn add_takes_the_host_path_or_the_path_after_the_last_colon() {
		let cwd = Path::new("/work/main");
		assert_eq!(
			parse_add("fork-tests/workloads/bittensor", cwd),
			Ok(AddPath {
				host: "/work/main/fork-tests/workloads/bittensor".into(),
				image: "/work/main/fork-tests/workloads/bittensor".into(),
			})
		);
		assert_eq!(
			parse_add("fork-tests/workloads/bittensor/:/workload/", cwd),
			Ok(AddPath {
				host: "/work/main/fork-tests/workloads/bittensor".into(),
				image: "/workload".into(),
			})
		);
		// Absolute host paths ignore the working directory; `..` and `.` are resolved.
		assert_eq!(
			parse_add("/opt/x/../y/./z:/a//b/./c", cwd),
			Ok(AddPath {
				host: "/opt/y/z".into(),
				image: "/a/b/c".into(),
			})
		);
		// A host path with a colon in it, given a place in the image.
		assert_eq!(
			parse_add("/data/a:b:/in/image", cwd),
			Ok(AddPath {
				host: "/data/a:b".into(),
				image: "/in/image".into(),
			})
		);
		assert_eq!(parse_add("/:/", cwd).map(|a| a.image), Ok("/".to_string()));
	}

	#[test]
	fn add_refuses_relative_or_upward_image_paths_and_empty_host_paths() {
		let cwd = Path::new("/w");
		let err = parse_add("/data/a:b", cwd).expect_err("relative path in image");
		assert!(err.reason.contains("must be absolute"), "{err}");
		assert!(err.hint.contains("`:`"), "{err}");
		assert!(err.to_string().starts_with("`/data/a:b`: "), "{err}");
		let err = parse_add("dir:", cwd).expect_err("nothing after the colon");
		assert!(err.reason.contains("must be absolute"), "{err}");
		let err = parse_add(":/x", cwd).expect_err("no host path");
		assert_eq!(err.reason, "no host path");
		let err = parse_add("", cwd).expect_err("empty");
		assert_eq!(err.reason, "no host path");
		let err = parse_add("dir:/a/../b", cwd).expect_err("`..` in the image");
		assert!(err.reason.contains("`..`"), "{err}");
		let err = parse_add("dir:/a\nb", cwd).expect_err("newline");
		assert!(err.reason.contains("control character"), "{err}");
	}

	#[test]
	fn env_is_a_posix_name_and_a_one_line_value() {
		assert_eq!(parse_env("HOME=/tmp"), Ok(("HOME".into(), "/tmp".into())));
		assert_eq!(parse_env("EMPTY="), Ok(("EMPTY".into(), String::new())));
		// Only the first `=` separates.
		assert_eq!(parse_env("_A1=x=y"), Ok(("_A1".into(), "x=y".into())));
		assert_eq!(
			parse_env("Q=a \"b\" $HOME \\ \t"),
			Ok(("Q".into(), "a \"b\" $HOME \\ \t".into()))
		);
		for (bad, says) in [
			("HOME", "no `=`"),
			("=x", "empty name"),
			("1A=x", "does not start with a letter"),
			("A-B=x", "not a POSIX name"),
			("A B=x", "not a POSIX name"),
			("A=line\nnext", "control character"),
		] {
			let err = parse_env(bad).expect_err(bad);
			assert!(err.reason.contains(says), "{bad}: {err}");
			assert!(!err.hint.is_empty(), "{bad}");
		}
	}

	#[test]
	fn workdir_and_entrypoint_are_absolute_and_plain() {
		assert_eq!(parse_workdir("/workload/"), Ok("/workload".into()));
		assert_eq!(
			parse_entrypoint("/venv//bin/python"),
			Ok("/venv/bin/python".into())
		);
		for bad in ["workload", "/a$HOME", "/a\"b", "/a\\b", " /a", "/a\n"] {
			assert!(parse_workdir(bad).is_err(), "{bad}");
		}
		assert!(parse_entrypoint("python").is_err());
		assert!(parse_entrypoint("/a/../b").is_err());
	}

	#[test]
	fn dockerfile_sets_env_quoted_workdir_and_entrypoint() {
		let options = ImageOptions {
			env: vec![
				("HOME".into(), "/tmp".into()),
				("Q".into(), "a \"b\" $HOME \\".into()),
			],
			workdir: Some("/workload".into()),
			entrypoint: Some("/venv/bin/python".into()),
			..ImageOptions::default()
		};
		let text = dockerfile(
			&[PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6")],
			&[PathBuf::from("/usr/lib/x86_64-linux-gnu/libssl.so.3")],
			&options,
			"/usr/local/bin/python3.11",
		);
		assert_eq!(
			text,
			"FROM scratch\nCOPY rootfs/ /\n\
			 ENV LD_LIBRARY_PATH=\"/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu\"\n\
			 ENV HOME=\"/tmp\"\n\
			 ENV Q=\"a \\\"b\\\" \\$HOME \\\\\"\n\
			 WORKDIR /workload\n\
			 ENTRYPOINT [\"/venv/bin/python\"]\n"
		);
	}

	/// A tree with every kind of link: `app/` (added at `/app`), `lib/` (added at its own
	/// path), and `outside/` (not added).
	struct Tree {
		_dir: tempfile::TempDir,
		root: PathBuf,
	}

	fn tree() -> Tree {
		let dir = tempfile::tempdir().expect("temp dir");
		let root = dir.path().canonicalize().expect("canonical");
		let write = |path: &str, contents: &str| {
			let path = root.join(path);
			std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
			std::fs::write(path, contents).expect("write");
		};
		write("app/main.py", "print('hi')\n");
		write("app/pkg/mod.py", "x = 1\n");
		write("lib/real.so", "not really a library");
		write("outside/data.txt", "outside file");
		write("outside/dir/inner.txt", "outside dir");
		std::fs::set_permissions(
			root.join("app/main.py"),
			std::fs::Permissions::from_mode(0o750),
		)
		.expect("chmod");
		// Relative, inside the same added path: kept as written.
		symlink("main.py", root.join("app/entry")).expect("link");
		symlink("pkg", root.join("app/pkg64")).expect("link");
		// Absolute, to another added path: kept, pointing at its place in the image.
		symlink(root.join("lib/real.so"), root.join("app/lib.so")).expect("link");
		// Relative, to another added path mapped elsewhere: kept, made absolute.
		symlink("../app/main.py", root.join("lib/main-link")).expect("link");
		// Outside every added path: copied in place.
		symlink(root.join("outside/data.txt"), root.join("app/data.txt")).expect("link");
		symlink("../outside/dir", root.join("app/dir")).expect("link");
		// Dangling.
		symlink("missing", root.join("app/broken")).expect("link");
		Tree { _dir: dir, root }
	}

	fn adds(tree: &Tree) -> Vec<AddPath> {
		vec![
			parse_add(
				&format!("{}:/app", tree.root.join("app").display()),
				&tree.root,
			)
			.expect("add app"),
			parse_add("lib", &tree.root).expect("add lib"),
		]
	}

	#[test]
	fn plan_keeps_links_inside_added_paths_and_copies_what_others_point_to() {
		let tree = tree();
		let lib = tree.root.join("lib").display().to_string();
		let plan = plan_additions(&adds(&tree)).expect("plan");
		let link = |path: &str| match plan.entries.get(path) {
			Some(Entry::Symlink { target }) => target.clone(),
			other => panic!("{path}: {other:?}"),
		};
		let file = |path: &str| match plan.entries.get(path) {
			Some(Entry::File { source, mode, .. }) => (source.clone(), *mode),
			other => panic!("{path}: {other:?}"),
		};
		assert_eq!(link("/app/entry"), "main.py");
		assert_eq!(link("/app/pkg64"), "pkg");
		assert_eq!(link("/app/lib.so"), format!("{lib}/real.so"));
		assert_eq!(link(&format!("{lib}/main-link")), "/app/main.py");
		assert_eq!(link("/app/broken"), "missing");
		assert_eq!(file("/app/main.py"), (tree.root.join("app/main.py"), 0o750));
		assert_eq!(
			file("/app/data.txt").0,
			tree.root.join("outside/data.txt"),
			"a link out of the added paths becomes the file"
		);
		assert!(matches!(
			plan.entries.get("/app/dir"),
			Some(Entry::Dir { .. })
		));
		assert_eq!(
			file("/app/dir/inner.txt").0,
			tree.root.join("outside/dir/inner.txt")
		);
		assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
		assert!(plan.warnings[0].contains("dangling"), "{:?}", plan.warnings);
		let summary = plan.summary();
		assert_eq!((summary.symlinks, summary.files), (5, 5), "{summary:?}");

		// Links are followed in the image as the kernel would.
		assert!(matches!(
			plan.resolve("/app/entry"),
			Some(Entry::File { .. })
		));
		assert!(matches!(
			plan.resolve("/app/pkg64/mod.py"),
			Some(Entry::File { .. })
		));
		assert!(matches!(
			plan.resolve(&format!("{lib}/main-link")),
			Some(Entry::File { .. })
		));
		assert!(plan.resolve("/app/broken").is_none());
		assert!(plan.resolve("/app/main.py/x").is_none());
		assert!(plan.holds(&tree.root.join("lib/real.so")));
		assert!(plan.holds(&tree.root.join("app/pkg/../main.py")));
		assert!(!plan.holds(&tree.root.join("outside/data.txt")));
	}

	#[test]
	fn plan_refuses_two_different_files_at_one_place_and_missing_paths() {
		let tree = tree();
		let mut adds = adds(&tree);
		// The same file again at the same place is fine.
		adds.push(parse_add("app/main.py:/app/main.py", &tree.root).expect("add"));
		plan_additions(&adds).expect("the same file twice");
		adds.push(parse_add("lib/real.so:/app/main.py", &tree.root).expect("add"));
		let err = plan_additions(&adds).expect_err("two files at /app/main.py");
		assert!(err.to_string().contains("`/app/main.py`"), "{err}");
		assert!(err.to_string().contains("hint:"), "{err}");
		// A file where a directory of another added path goes.
		let adds = vec![
			parse_add("lib/real.so:/x", &tree.root).expect("add"),
			parse_add("app:/x", &tree.root).expect("add"),
		];
		assert!(plan_additions(&adds).is_err());
		let missing = parse_add("nope", &tree.root).expect("add");
		let err = plan_additions(&[missing]).expect_err("missing");
		assert!(err.to_string().contains("cannot read"), "{err}");
		assert!(err.to_string().contains("--add"), "{err}");
	}

	#[test]
	fn manifest_hash_follows_paths_sizes_times_modes_links_and_options() {
		let tree = tree();
		let options = ImageOptions {
			add: adds(&tree),
			env: vec![("HOME".into(), "/tmp".into())],
			..ImageOptions::default()
		};
		let sha = |options: &ImageOptions| {
			manifest_sha(options, &plan_additions(&options.add).expect("plan"))
		};
		let first = sha(&options);
		assert_eq!(first.len(), 64);
		assert_eq!(sha(&options), first, "the same tree, the same hash");

		// The same size and time: not seen (metadata, not contents; see FILES_SHA_LABEL).
		let main = tree.root.join("app/main.py");
		let time = std::fs::metadata(&main)
			.expect("meta")
			.modified()
			.expect("mtime");
		std::fs::write(&main, "print('ho')\n").expect("write");
		std::fs::File::options()
			.write(true)
			.open(&main)
			.and_then(|f| f.set_modified(time))
			.expect("set mtime");
		assert_eq!(sha(&options), first);

		let mut changes = BTreeSet::from([first.clone()]);
		let mut changed = |what: &str, sha: String| {
			assert!(changes.insert(sha), "{what} must change the hash");
		};
		// A later modification time.
		std::fs::File::options()
			.write(true)
			.open(&main)
			.and_then(|f| f.set_modified(time + std::time::Duration::from_nanos(1)))
			.expect("set mtime");
		changed("a file's time (ns)", sha(&options));
		std::fs::write(tree.root.join("app/pkg/mod.py"), "x = 12\n").expect("write");
		changed("a file's size and time", sha(&options));
		std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o755)).expect("chmod");
		changed("a file's mode", sha(&options));
		std::fs::write(tree.root.join("app/new.py"), "").expect("write");
		changed("a new file", sha(&options));
		std::fs::remove_file(tree.root.join("app/entry")).expect("rm");
		symlink("new.py", tree.root.join("app/entry")).expect("link");
		changed("a link's target", sha(&options));
		std::fs::write(
			tree.root.join("outside/data.txt"),
			"what the link points to",
		)
		.expect("write");
		changed("a file a resolved link points to", sha(&options));
		let mut other = options.clone();
		other.env[0].1 = "/root".into();
		changed("an env value", sha(&other));
		let mut other = options.clone();
		other.workdir = Some("/app".into());
		changed("the workdir", sha(&other));
		let mut other = options.clone();
		other.entrypoint = Some("/app/main.py".into());
		changed("the entrypoint", sha(&other));
		let mut other = options.clone();
		other.add[0].image = "/app2".into();
		changed("the place of an added path", sha(&other));
		// No options, no files: a fixed hash (images of `--binary --tag` alone).
		assert_eq!(
			manifest_sha(&ImageOptions::default(), &Plan::default()),
			hex::encode(Sha256::digest(b""))
		);
	}

	#[test]
	fn build_context_holds_added_files_links_and_their_times() {
		let tree = tree();
		let plan = plan_additions(&adds(&tree)).expect("plan");
		let lib = tree.root.join("lib").display().to_string();
		let mtime = std::fs::metadata(tree.root.join("app/main.py"))
			.expect("meta")
			.mtime();
		let spec = ContextSpec {
			dockerfile: "FROM scratch\n".into(),
			base: BaseFiles {
				binary: "/usr/local/bin/probe".into(),
				libraries: Vec::new(),
				ca_bundle: None,
			},
			binary_bytes: b"\x7fELF".to_vec(),
			added_libraries: Vec::new(),
			plan,
		};
		let entries = tar_entries(&context_of(&spec));
		let main = &entries["rootfs/app/main.py"];
		assert_eq!(main.0, tar::EntryType::Regular);
		assert_eq!(
			(main.1, main.2),
			(0o750, u64::try_from(mtime).expect("after 1970"))
		);
		assert_eq!(main.3, b"print('hi')\n");
		let entry = &entries["rootfs/app/entry"];
		assert_eq!(
			(entry.0, &entry.3[..]),
			(tar::EntryType::Symlink, &b"main.py"[..])
		);
		let lib_link = &entries["rootfs/app/lib.so"];
		assert_eq!(lib_link.3, format!("{lib}/real.so").into_bytes());
		assert_eq!(entries["rootfs/app/dir/inner.txt"].3, b"outside dir");
		assert_eq!(
			entries[&format!("rootfs{lib}/real.so")].3,
			b"not really a library"
		);
		assert!(entries.contains_key("rootfs/app/"));
		assert!(entries.contains_key("rootfs/tmp/"));
	}

	#[test]
	fn base_files_refuse_added_paths_in_their_place() {
		let tree = tree();
		let plan =
			plan_additions(&[parse_add("app:/usr/local/bin/probe", &tree.root).expect("add")])
				.expect("plan");
		let base = BaseFiles {
			binary: "/usr/local/bin/probe".into(),
			libraries: Vec::new(),
			ca_bundle: None,
		};
		let err = base
			.check_against(&plan)
			.expect_err("the binary's place is taken");
		assert!(
			err.to_string()
				.contains("the binary `/usr/local/bin/probe`"),
			"{err}"
		);
		let plan = plan_additions(&[parse_add("lib/real.so:/tmp", &tree.root).expect("add")])
			.expect("plan");
		assert!(
			base.check_against(&plan).is_err(),
			"/tmp must stay a directory"
		);
	}
}
