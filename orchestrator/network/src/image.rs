//! Container images built from local binaries, with no registry and no base image: the
//! binary, the shared libraries `ldd` says it loads (the dynamic loader among them), an empty
//! `/tmp` and `/data`, `FROM scratch`. The whole module needs the `docker` feature (it is
//! declared behind it).
//!
//! The host's bundle of CA certificates is copied too, when it has one: Substrate nodes load
//! the platform's root certificates at start-up and refuse to start without any (no network
//! is reachable from a sealed namespace all the same).
//!
//! An image is labelled with the SHA-256 of its binary (`stagenet.binary-sha256`) and the
//! version of this recipe (`stagenet.image`), so that building the same binary under the same
//! tag again is skipped.
//!
//! Libraries a program opens at run time with `dlopen` are not seen by `ldd` and are not
//! copied; glibc 2.34 and later carry the resolver and NSS `files`/`dns` in `libc.so.6`, so
//! host names resolve in the image.

use crate::{
	provider::docker::client::{Client, PROVIDER},
	NetworkError, Result,
};
use sha2::{Digest, Sha256};
use std::{
	collections::{BTreeMap, BTreeSet},
	path::{Path, PathBuf},
};

/// Label set on every image stagenet builds; its value is [`IMAGE_RECIPE`].
pub const IMAGE_LABEL: &str = "stagenet.image";
/// Version of the way images are put together: an image of another recipe is rebuilt even
/// when its binary is the same.
pub const IMAGE_RECIPE: &str = "2";
/// Label carrying the SHA-256 (hex) of the binary an image was built from.
pub const BINARY_SHA_LABEL: &str = "stagenet.binary-sha256";

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

/// An image built (or found already built) from a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuilt {
	/// Its tag (`stagenet-test-node:dev`).
	pub tag: String,
	/// Its id (`sha256:…`).
	pub id: String,
	/// Its size in bytes.
	pub size_bytes: u64,
	/// The shared libraries copied into it (paths as on the host and in the image).
	pub libraries: Vec<PathBuf>,
	/// The host's CA bundle copied into it (at `/etc/ssl/certs/ca-certificates.crt`), if the
	/// host has one.
	pub ca_bundle: Option<PathBuf>,
	/// Whether the build was skipped: the tag already named an image of the same binary.
	pub skipped: bool,
}

/// Builds the image `tag` from `binary` (see the module documentation). Skipped when `tag`
/// already names an image built from a binary with the same SHA-256.
pub async fn build_image(binary: &Path, tag: &str) -> Result<ImageBuilt> {
	let client = Client::connect().await?;
	build_image_with(&client, binary, tag).await
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
	build_from_bytes(client, relay_binary, bytes, sha, &tag).await?;
	// Relay images of earlier `stagenet` builds (a few hundred MB each) that no container
	// uses any more.
	for old in client.image_tags_with_label(IMAGE_LABEL).await? {
		if old.starts_with(RELAY_REPOSITORY) && old != tag {
			client.remove_image_if_unused(&old).await;
		}
	}
	Ok(tag)
}

/// [`build_image`] on an open connection.
pub(crate) async fn build_image_with(
	client: &Client,
	binary: &Path,
	tag: &str,
) -> Result<ImageBuilt> {
	let bytes = read_binary(binary, || format!("build image `{tag}`")).await?;
	let sha = hex::encode(Sha256::digest(&bytes));
	build_from_bytes(client, binary, bytes, sha, tag).await
}

async fn build_from_bytes(
	client: &Client,
	binary: &Path,
	bytes: Vec<u8>,
	sha: String,
	tag: &str,
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
	let libraries = shared_libraries(binary, action).await?;
	let ca_bundle = CA_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file());
	let _one_at_a_time = BUILDS.lock().await;
	let previous = client.image(tag).await?;
	if let Some(image) = &previous {
		if image.labels.get(BINARY_SHA_LABEL) == Some(&sha)
			&& image.labels.get(IMAGE_LABEL).map(String::as_str) == Some(IMAGE_RECIPE)
		{
			return Ok(ImageBuilt {
				tag: tag.to_string(),
				id: image.id.clone(),
				size_bytes: image.size_bytes,
				libraries,
				ca_bundle,
				skipped: true,
			});
		}
	}
	let context = build_context(binary, &bytes, &libraries, ca_bundle.as_deref(), action)?;
	drop(bytes);
	let labels = BTreeMap::from([
		(IMAGE_LABEL.to_string(), IMAGE_RECIPE.to_string()),
		(BINARY_SHA_LABEL.to_string(), sha),
	]);
	client.build_image(context, tag, &labels).await?;
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

/// The shared libraries `binary` loads, as `ldd` resolves them on this machine.
async fn shared_libraries(binary: &Path, action: impl Fn() -> String) -> Result<Vec<PathBuf>> {
	let output = tokio::process::Command::new("ldd")
		.arg(binary)
		.output()
		.await
		.map_err(|e| NetworkError::Provider {
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

/// The tar build context: `Dockerfile` and `rootfs/` with the binary, its libraries (the
/// resolved files, stored as regular files at the paths `ldd` printed), the CA bundle, `/tmp`
/// and `/data`.
fn build_context(
	binary: &Path,
	bytes: &[u8],
	libraries: &[PathBuf],
	ca_bundle: Option<&Path>,
	action: impl Fn() -> String,
) -> Result<Vec<u8>> {
	let file_name = binary
		.file_name()
		.and_then(|n| n.to_str())
		.filter(|n| !n.is_empty())
		.ok_or_else(|| NetworkError::Provider {
			provider: PROVIDER,
			action: action(),
			message: format!("`{}` has no usable file name", binary.display()),
			hint: None,
		})?;
	let entrypoint = format!("/{BIN_DIR}/{file_name}");
	let library_dirs: BTreeSet<String> = libraries
		.iter()
		.filter_map(|l| l.parent())
		.map(|d| d.display().to_string())
		.collect();
	let mut dockerfile = String::from("FROM scratch\nCOPY rootfs/ /\n");
	if !library_dirs.is_empty() {
		// The image has no `ld.so.cache`: name the directories `ldd` found the libraries in.
		let dirs = library_dirs.into_iter().collect::<Vec<_>>().join(":");
		dockerfile.push_str(&format!(
			"ENV LD_LIBRARY_PATH={}\n",
			serde_json::to_string(&dirs).unwrap_or_default()
		));
	}
	dockerfile.push_str("WORKDIR /\n");
	dockerfile.push_str(&format!(
		"ENTRYPOINT {}\n",
		serde_json::to_string(&[entrypoint.as_str()]).unwrap_or_default()
	));

	let io = |path: &Path, source: std::io::Error| NetworkError::Io {
		path: path.to_path_buf(),
		source,
	};
	let mut tar = TarWriter::default();
	tar.file("Dockerfile", dockerfile.as_bytes(), 0o644)
		.map_err(|e| io(Path::new("Dockerfile"), e))?;
	tar.dir("rootfs", 0o755).map_err(|e| io(binary, e))?;
	tar.dir("rootfs/tmp", 0o1777).map_err(|e| io(binary, e))?;
	tar.dir("rootfs/data", 0o755).map_err(|e| io(binary, e))?;
	tar.file(&format!("rootfs{entrypoint}"), bytes, 0o755)
		.map_err(|e| io(binary, e))?;
	for library in libraries {
		let contents = std::fs::read(library).map_err(|e| io(library, e))?;
		tar.file(&format!("rootfs{}", library.display()), &contents, 0o755)
			.map_err(|e| io(library, e))?;
	}
	if let Some(bundle) = ca_bundle {
		let contents = std::fs::read(bundle).map_err(|e| io(bundle, e))?;
		tar.file(&format!("rootfs{CA_BUNDLE_IN_IMAGE}"), &contents, 0o644)
			.map_err(|e| io(bundle, e))?;
	}
	tar.finish().map_err(|e| io(binary, e))
}

/// A tar archive in memory that adds the parent directories of every entry once.
#[derive(Default)]
struct TarWriter {
	builder: Option<tar::Builder<Vec<u8>>>,
	dirs: BTreeSet<String>,
}

impl TarWriter {
	fn builder(&mut self) -> &mut tar::Builder<Vec<u8>> {
		self.builder
			.get_or_insert_with(|| tar::Builder::new(Vec::new()))
	}

	fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
		let mut header = tar::Header::new_gnu();
		header.set_entry_type(kind);
		header.set_size(size);
		header.set_mode(mode);
		header.set_uid(0);
		header.set_gid(0);
		// A fixed time: the same files give the same layers, which the engine can reuse.
		header.set_mtime(0);
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
		let mut header = Self::header(tar::EntryType::Directory, 0, mode);
		self.builder()
			.append_data(&mut header, format!("{path}/"), std::io::empty())
	}

	fn file(&mut self, path: &str, contents: &[u8], mode: u32) -> std::io::Result<()> {
		self.parents(path)?;
		let mut header = Self::header(tar::EntryType::Regular, contents.len() as u64, mode);
		self.builder().append_data(&mut header, path, contents)
	}

	fn finish(mut self) -> std::io::Result<Vec<u8>> {
		self.builder().finish()?;
		match self.builder.take() {
			Some(builder) => builder.into_inner(),
			None => Ok(Vec::new()),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

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
		let tar = build_context(
			Path::new("/some/where/my-node"),
			b"\x7fELF fake",
			&libs,
			Some(&bundle),
			|| "test".into(),
		)
		.expect("context");
		let mut archive = tar::Archive::new(tar.as_slice());
		let mut entries = BTreeMap::new();
		for entry in archive.entries().expect("entries") {
			let mut entry = entry.expect("entry");
			let path = entry.path().expect("path").display().to_string();
			let mode = entry.header().mode().expect("mode");
			let mut data = Vec::new();
			std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
			entries.insert(path, (mode, data));
		}
		let dockerfile = String::from_utf8(entries["Dockerfile"].1.clone()).expect("utf-8");
		assert!(dockerfile.starts_with("FROM scratch\n"), "{dockerfile}");
		assert!(
			dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/my-node\"]"),
			"{dockerfile}"
		);
		assert!(dockerfile.contains("WORKDIR /"), "{dockerfile}");
		assert_eq!(
			entries["rootfs/usr/local/bin/my-node"],
			(0o755, b"\x7fELF fake".to_vec())
		);
		assert_eq!(entries["rootfs/tmp/"].0, 0o1777);
		assert!(entries.contains_key("rootfs/data/"));
		assert!(entries.contains_key("rootfs/usr/local/"));
		assert_eq!(
			entries["rootfs/etc/ssl/certs/ca-certificates.crt"],
			(0o644, b"-----BEGIN CERTIFICATE-----\n".to_vec())
		);
		for lib in &libs {
			let key = format!("rootfs{}", lib.display());
			assert_eq!(
				entries[&key].1,
				std::fs::read(lib).expect("lib"),
				"{key} holds the resolved file"
			);
			assert!(dockerfile.contains("LD_LIBRARY_PATH=\"/lib/x86_64-linux-gnu\""));
		}
	}
}
