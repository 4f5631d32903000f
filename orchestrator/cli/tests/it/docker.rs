//! The Docker provider against the real engine (these tests need a Docker engine): images
//! built from local binaries, the sealing of a run's network (containers of the run reach
//! each other and nothing else, not even the host), the relay that publishes RPC on
//! loopback, and the node primitives (pause, partition, kill, restart, logs).
//!
//! The containers run `probe` (`fork-tests/src/bin/probe.rs`, `std` only), compiled here with
//! `rustc` and put in an image by `stagenet_network::image`: it connects to `HOST:PORT` and
//! says whether it could, or listens and greets whoever connects. Every test removes what it
//! labelled with its run id when it ends, also when it fails.

use stagenet_test_support::OutputWithin;
use super::{repo_root, run};
use stagenet_fork_tests::harness::{node_binary, wait_for};
use stagenet_network::provider::{
	docker::{DockerOptions, DockerProvider},
	DynNamespace, DynNode, Program, Provider, SpawnOptions, RUN_LABEL,
};
use std::{
	collections::BTreeMap,
	io::{ErrorKind, Read},
	net::{IpAddr, TcpListener, TcpStream},
	path::{Path, PathBuf},
	process::Command,
	sync::OnceLock,
	time::Duration,
};

/// Tag of the probe image (content-addressed by its binary; kept for the next run).
const PROBE_IMAGE: &str = "stagenet-probe:it";

/// Runs the `docker` command line (an independent view of the engine) and returns stdout.
fn docker(args: &[&str]) -> String {
	let out = Command::new("docker")
		.args(args)
		.output_within(stagenet_test_support::LIMIT)
		.expect("run the docker command line");
	String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names of every container, volume and network labelled with `run_id`.
fn labelled(run_id: &str) -> Vec<String> {
	let filter = format!("label={RUN_LABEL}={run_id}");
	let mut found = Vec::new();
	for (kind, args) in [
		("container", vec!["ps", "-a", "--format", "{{.Names}}"]),
		("volume", vec!["volume", "ls", "--format", "{{.Name}}"]),
		("network", vec!["network", "ls", "--format", "{{.Name}}"]),
	] {
		let mut args = args;
		args.extend(["--filter", &filter]);
		found.extend(
			docker(&args)
				.lines()
				.filter(|l| !l.trim().is_empty())
				.map(|l| format!("{kind} {l}")),
		);
	}
	found
}

/// Removes everything labelled with the run id when dropped, also when the test fails.
struct Cleanup {
	run_id: String,
}

impl Drop for Cleanup {
	fn drop(&mut self) {
		let filter = format!("label={RUN_LABEL}={}", self.run_id);
		let ids = |args: &[&str]| -> Vec<String> {
			let mut all = args.to_vec();
			all.extend(["--filter", &filter]);
			docker(&all).lines().map(str::to_string).collect()
		};
		let containers = ids(&["ps", "-aq"]);
		if !containers.is_empty() {
			let mut args = vec!["rm", "-f"];
			args.extend(containers.iter().map(String::as_str));
			docker(&args);
		}
		for (ls, rm) in [
			(["volume", "ls", "-q"], ["volume", "rm", "-f"]),
			(["network", "ls", "-q"], ["network", "rm", "--"]),
		] {
			let found = ids(&ls);
			if !found.is_empty() {
				let mut args = rm.to_vec();
				args.extend(found.iter().map(String::as_str));
				docker(&args);
			}
		}
	}
}

/// The probe, compiled once per test process with `rustc`.
fn probe_binary() -> PathBuf {
	static PROBE: OnceLock<PathBuf> = OnceLock::new();
	PROBE
		.get_or_init(|| {
			let dir = repo_root().join("target/test-runs/docker-probe");
			std::fs::create_dir_all(&dir).expect("create probe dir");
			let out = dir.join("probe");
			let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
			let status = Command::new(rustc)
				.args(["--edition", "2021", "-O", "-o"])
				.arg(&out)
				.arg(repo_root().join("fork-tests/src/bin/probe.rs"))
				.status()
				.expect("run rustc");
			assert!(status.success(), "compiling the probe failed");
			out
		})
		.clone()
}

async fn probe_image() -> String {
	stagenet_network::image::build_image(&probe_binary(), PROBE_IMAGE)
		.await
		.unwrap_or_else(|e| panic!("building the probe image: {e}"));
	PROBE_IMAGE.to_string()
}

async fn provider() -> DockerProvider {
	DockerProvider::connect(DockerOptions {
		relay_binary: PathBuf::from(env!("CARGO_BIN_EXE_stagenet")),
	})
	.await
	.unwrap_or_else(|e| panic!("docker provider: {e}"))
}

/// A fresh run directory and its clean-up guard.
fn run_dir(run_id: &str) -> (PathBuf, Cleanup) {
	let dir = repo_root().join("target/test-runs").join(run_id);
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create run dir");
	(
		dir,
		Cleanup {
			run_id: run_id.to_string(),
		},
	)
}

fn probe_options(name: &str, image: &str, args: &[&str]) -> SpawnOptions {
	SpawnOptions {
		name: name.to_string(),
		program: Program::Image(image.to_string()),
		args: args.iter().map(|a| a.to_string()).collect(),
		env: BTreeMap::new(),
		gpus: Vec::new(),
		cpus: Some(0.5),
		memory: Some(64 << 20),
		expose_rpc: false,
		is_node: false,
	}
}

fn log_of(node: &DynNode) -> String {
	std::fs::read_to_string(node.log_file()).unwrap_or_default()
}

/// Waits until the node's log holds `count` lines containing `text`.
async fn wait_log(node: &DynNode, text: &str, count: usize) -> String {
	wait_for(
		&format!("{count} × `{text}` in the log of `{}`", node.name()),
		Duration::from_secs(30),
		Duration::from_millis(100),
		|| async {
			let log = log_of(node);
			if log.lines().filter(|l| l.contains(text)).count() >= count {
				Ok(log)
			} else {
				Err(log)
			}
		},
	)
	.await
}

/// Waits until the node has exited; its status.
async fn wait_exit(node: &DynNode) -> String {
	wait_for(
		&format!("`{}` to exit", node.name()),
		Duration::from_secs(30),
		Duration::from_millis(100),
		|| async {
			match node.exited().await {
				Ok(Some(status)) => Ok(status),
				Ok(None) => Err("running".to_string()),
				Err(e) => Err(e.to_string()),
			}
		},
	)
	.await
}

/// A one-shot probe container connecting to `target`: its exit status and log.
async fn probe_from_inside(
	ns: &DynNamespace,
	image: &str,
	name: &str,
	target: &str,
) -> (String, String) {
	let node = ns
		.spawn(probe_options(name, image, &[target]))
		.await
		.unwrap_or_else(|e| panic!("spawn `{name}`: {e}"));
	let status = wait_exit(&node).await;
	// The log task writes the last lines when the stream ends, just after the exit.
	let log = wait_for(
		&format!("the log of `{name}`"),
		Duration::from_secs(10),
		Duration::from_millis(100),
		|| async {
			let log = log_of(&node);
			if log.contains("connected") || log.contains("failed") {
				Ok(log)
			} else {
				Err(log)
			}
		},
	)
	.await;
	(status, log)
}

/// What the probe server says to a client through the relay at `url` (`ws://127.0.0.1:P`);
/// empty when the relay closed the connection without data.
fn greeting(url: &str, timeout: Duration) -> std::io::Result<String> {
	let addr = url.trim_start_matches("ws://");
	let mut conn = TcpStream::connect(addr)?;
	conn.set_read_timeout(Some(timeout))?;
	let mut text = String::new();
	conn.read_to_string(&mut text)?;
	Ok(text)
}

async fn wait_greeting(url: &str) -> String {
	wait_for(
		&format!("a greeting through the relay at `{url}`"),
		Duration::from_secs(30),
		Duration::from_millis(200),
		|| async {
			match greeting(url, Duration::from_secs(2)) {
				Ok(text) if !text.is_empty() => Ok(text),
				Ok(_) => Err("closed without data".to_string()),
				Err(e) => Err(e.to_string()),
			}
		},
	)
	.await
}

/// This machine's IPv4 addresses other than loopback (`ip -4 -o addr`).
fn host_addresses() -> Vec<IpAddr> {
	let out = Command::new("ip")
		.args(["-4", "-o", "addr", "show"])
		.output_within(stagenet_test_support::LIMIT)
		.expect("run `ip`");
	String::from_utf8_lossy(&out.stdout)
		.lines()
		.filter_map(|l| {
			let mut words = l.split_whitespace();
			words.find(|w| *w == "inet")?;
			words.next()?.split('/').next()?.parse::<IpAddr>().ok()
		})
		.filter(|ip| !ip.is_loopback())
		.collect()
}

#[tokio::test]
async fn docker_image_build_of_the_test_node_runs_it_and_skips_a_second_build() {
	stagenet_test_support::require!(TestChain, Docker);
	let node = node_binary();
	let tag = format!("stagenet-test-node:it-docker-{}", std::process::id());
	struct RemoveImage(String);
	impl Drop for RemoveImage {
		fn drop(&mut self) {
			docker(&["rmi", "-f", &self.0]);
		}
	}
	let _image = RemoveImage(tag.clone());

	let build = |binary: &Path| {
		run(&[
			"image".as_ref(),
			"build".as_ref(),
			"--binary".as_ref(),
			binary.as_os_str(),
			"--tag".as_ref(),
			tag.as_ref(),
		])
	};
	let (code, stdout, stderr) = build(&node);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(stdout.contains(&format!("built image `{tag}`")), "{stdout}");
	assert!(stdout.contains("id         sha256:"), "{stdout}");
	assert!(stdout.contains("/lib64/ld-linux-x86-64.so.2"), "{stdout}");
	assert!(stdout.contains("libc.so.6"), "{stdout}");
	assert!(stdout.contains("ca bundle  "), "{stdout}");
	let labels = docker(&[
		"image",
		"inspect",
		"-f",
		"{{index .Config.Labels \"stagenet.binary-sha256\"}}",
		&tag,
	]);
	assert_eq!(labels.trim().len(), 64, "sha label: {labels}");

	// The image runs the binary: it is the entrypoint, its libraries are there.
	let run_id = format!("it-docker-image-{}", std::process::id());
	let _cleanup = Cleanup {
		run_id: run_id.clone(),
	};
	let label = format!("{RUN_LABEL}={run_id}");
	let out = Command::new("docker")
		.args([
			"run",
			"--rm",
			"--network",
			"none",
			"--label",
			&label,
			&tag,
			"--version",
		])
		.output_within(stagenet_test_support::LIMIT)
		.expect("docker run");
	let version = String::from_utf8_lossy(&out.stdout);
	assert!(
		out.status.success(),
		"{version}\n{}",
		String::from_utf8_lossy(&out.stderr)
	);
	assert!(version.contains("stagenet-test-node"), "{version}");

	let (code, stdout, stderr) = build(&node);
	assert_eq!(code, Some(0), "{stderr}");
	assert!(stdout.contains("build skipped"), "{stdout}");

	let (code, _, stderr) = build(Path::new("/nonexistent/stagenet-test-node"));
	assert_eq!(code, Some(3), "{stderr}");
	assert!(
		stderr.contains("cannot read the binary `/nonexistent/stagenet-test-node`")
			&& stderr.contains("hint:"),
		"{stderr}"
	);
	let script = repo_root().join("scripts/quickstart");
	let (code, _, stderr) = build(&script);
	assert_eq!(code, Some(3), "{stderr}");
	assert!(stderr.contains("is not an ELF executable"), "{stderr}");
}

/// A program that shows what the image gave it: its working directory, two environment
/// variables, and for each argument the link it is (if one) and the file's contents.
const SHOW_SOURCE: &str = r#"
fn main() {
	let cwd = std::env::current_dir().map(|d| d.display().to_string());
	println!("cwd={}", cwd.unwrap_or_else(|e| format!("error {e}")));
	for key in ["GREETING", "HOME"] {
		println!("{key}={}", std::env::var(key).unwrap_or_else(|_| "<unset>".into()));
	}
	for arg in std::env::args().skip(1) {
		if let Ok(target) = std::fs::read_link(&arg) {
			println!("{arg} -> {}", target.display());
		}
		match std::fs::read_to_string(&arg) {
			Ok(text) => println!("{arg}: {}", text.trim()),
			Err(e) => println!("{arg}: error {e}"),
		}
	}
}
"#;

/// `SHOW_SOURCE` compiled with `rustc`, statically linked (`ldd` finds no library) and
/// dynamically linked.
fn show_binaries(dir: &Path) -> (PathBuf, PathBuf) {
	let source = dir.join("show.rs");
	std::fs::write(&source, SHOW_SOURCE).expect("write show.rs");
	let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
	let compile = |out: &Path, flags: &[&str]| {
		let status = Command::new(&rustc)
			.args(["--edition", "2021", "-O"])
			.args(flags)
			.arg("-o")
			.arg(out)
			.arg(&source)
			.status()
			.expect("run rustc");
		assert!(status.success(), "compiling show.rs {flags:?} failed");
	};
	let fixed = dir.join("show-static");
	compile(&fixed, &["-C", "target-feature=+crt-static"]);
	let dynamic = dir.join("show");
	compile(&dynamic, &[]);
	(fixed, dynamic)
}

#[tokio::test]
async fn docker_image_build_with_added_tree_env_workdir_and_entrypoint_runs_it() {
	stagenet_test_support::require!(TestChain, Docker);
	let pid = std::process::id();
	let dir = repo_root().join(format!("target/test-runs/docker-image-tree-{pid}"));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create test dir");
	// Without `..`: the paths are also paths in the image.
	let dir = dir.canonicalize().expect("canonical test dir");
	let (fixed, dynamic) = show_binaries(&dir);
	// The tree: data, a relative link inside it, a link to a file outside every added path
	// (copied in its place), and a dynamically linked program whose libraries only the scan
	// of added ELF files brings (the binary itself is static).
	let tree = dir.join("tree");
	std::fs::create_dir_all(tree.join("data/nested")).expect("mkdir");
	std::fs::create_dir_all(tree.join("bin")).expect("mkdir");
	std::fs::write(tree.join("data/hello.txt"), "hello from the tree\n").expect("write");
	std::fs::write(tree.join("data/nested/deep.txt"), "deep\n").expect("write");
	std::os::unix::fs::symlink("nested/deep.txt", tree.join("data/link")).expect("link");
	std::fs::write(dir.join("outside.txt"), "from outside\n").expect("write");
	std::os::unix::fs::symlink(dir.join("outside.txt"), tree.join("data/out")).expect("link");
	std::fs::copy(&dynamic, tree.join("bin/show")).expect("copy show");
	let extra = dir.join("extra.txt");
	std::fs::write(&extra, "at its own path\n").expect("write");

	let tag = format!("stagenet-tree:it-docker-{pid}");
	struct RemoveImages(String, Vec<String>);
	impl Drop for RemoveImages {
		fn drop(&mut self) {
			docker(&["rmi", "-f", &self.0]);
			for id in &self.1 {
				docker(&["rmi", id.as_str()]);
			}
		}
	}
	let mut images = RemoveImages(tag.clone(), Vec::new());
	let add_tree = format!("{}:/app", tree.display());
	let build = |greeting: &str| {
		run(&[
			"image".as_ref(),
			"build".as_ref(),
			"--binary".as_ref(),
			fixed.as_os_str(),
			"--tag".as_ref(),
			tag.as_ref(),
			"--add".as_ref(),
			add_tree.as_ref(),
			"--add".as_ref(),
			extra.as_os_str(),
			"--env".as_ref(),
			format!("GREETING={greeting}").as_ref(),
			"--env".as_ref(),
			"HOME=/tmp".as_ref(),
			"--workdir".as_ref(),
			"/app/data".as_ref(),
			"--entrypoint".as_ref(),
			"/app/bin/show".as_ref(),
		])
	};
	let greeting = "hi $HOME \"quoted\"";
	let (code, stdout, stderr) = build(greeting);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(stdout.contains(&format!("built image `{tag}`")), "{stdout}");
	assert!(
		stdout.contains("libraries  none (statically linked)"),
		"{stdout}"
	);
	assert!(
		stdout.contains("added      5 files, 1 links, 4 directories"),
		"{stdout}"
	);
	assert!(stdout.contains("added ELF  1 files;"), "{stdout}");
	assert!(
		stdout.contains("libc.so.6"),
		"the added program's libc: {stdout}"
	);
	assert!(stdout.contains("entrypoint /app/bin/show"), "{stdout}");
	let files_sha = docker(&[
		"image",
		"inspect",
		"-f",
		"{{index .Config.Labels \"stagenet.files-sha256\"}}",
		&tag,
	]);
	assert_eq!(files_sha.trim().len(), 64, "files label: {files_sha}");
	images.1.push(
		docker(&["image", "inspect", "-f", "{{.Id}}", &tag])
			.trim()
			.to_string(),
	);

	let run_id = format!("it-docker-image-tree-{pid}");
	let _cleanup = Cleanup {
		run_id: run_id.clone(),
	};
	let label = format!("{RUN_LABEL}={run_id}");
	let extra_path = extra.display().to_string();
	let out = Command::new("docker")
		.args(["run", "--rm", "--network", "none", "--label", &label, &tag])
		.args([
			"hello.txt",
			"link",
			"out",
			"/app/data/nested/deep.txt",
			&extra_path,
		])
		.output_within(stagenet_test_support::LIMIT)
		.expect("docker run");
	let shown = String::from_utf8_lossy(&out.stdout);
	assert!(
		out.status.success(),
		"{shown}\n{}",
		String::from_utf8_lossy(&out.stderr)
	);
	for line in [
		"cwd=/app/data".to_string(),
		format!("GREETING={greeting}"),
		"HOME=/tmp".into(),
		"hello.txt: hello from the tree".into(),
		"link -> nested/deep.txt".into(),
		"link: deep".into(),
		"out: from outside".into(),
		"/app/data/nested/deep.txt: deep".into(),
		format!("{extra_path}: at its own path"),
	] {
		assert!(shown.lines().any(|l| l == line), "`{line}` in:\n{shown}");
	}
	assert!(
		!shown.contains("out ->"),
		"a link out of the added paths is a copy: {shown}"
	);

	let (code, stdout, stderr) = build(greeting);
	assert_eq!(code, Some(0), "{stderr}");
	assert!(stdout.contains("build skipped"), "{stdout}");
	// Another env value, then a changed file: built again.
	let (code, stdout, stderr) = build("hello");
	assert_eq!(code, Some(0), "{stderr}");
	assert!(stdout.contains(&format!("built image `{tag}`")), "{stdout}");
	images.1.push(
		docker(&["image", "inspect", "-f", "{{.Id}}", &tag])
			.trim()
			.to_string(),
	);
	std::fs::write(tree.join("data/hello.txt"), "hello again, a longer file\n").expect("write");
	let (code, stdout, stderr) = build("hello");
	assert_eq!(code, Some(0), "{stderr}");
	assert!(stdout.contains(&format!("built image `{tag}`")), "{stdout}");

	// Bad values are refused before anything is built.
	let (code, _, stderr) = run(&[
		"image".as_ref(),
		"build".as_ref(),
		"--binary".as_ref(),
		fixed.as_os_str(),
		"--tag".as_ref(),
		tag.as_ref(),
		"--env".as_ref(),
		"1BAD=x".as_ref(),
	]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("not start with a letter"), "{stderr}");
	let (code, _, stderr) = run(&[
		"image".as_ref(),
		"build".as_ref(),
		"--binary".as_ref(),
		fixed.as_os_str(),
		"--tag".as_ref(),
		tag.as_ref(),
		"--add".as_ref(),
		format!("{}:/app", dir.join("missing").display()).as_ref(),
	]);
	assert_eq!(code, Some(3), "{stderr}");
	assert!(
		stderr.contains("cannot read") && stderr.contains("hint:"),
		"{stderr}"
	);
	let (code, _, stderr) = run(&[
		"image".as_ref(),
		"build".as_ref(),
		"--binary".as_ref(),
		fixed.as_os_str(),
		"--tag".as_ref(),
		tag.as_ref(),
		"--entrypoint".as_ref(),
		"/nowhere/prog".as_ref(),
	]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("is not a file in the image"), "{stderr}");
	let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn docker_namespace_is_sealed_from_the_host_and_open_between_its_containers() {
	stagenet_test_support::require!(TestChain, Docker);
	let image = probe_image().await;
	let provider = provider().await;
	let run_id = format!("it-docker-seal-{}", std::process::id());
	let (dir, _cleanup) = run_dir(&run_id);

	// What the provider refuses before anything starts.
	let err = provider
		.preflight(&[Program::Image("stagenet-no-such-image:x".into())], 0)
		.await
		.expect_err("a missing image");
	assert!(
		err.to_string().contains("stagenet image build --binary"),
		"{err}"
	);
	let err = provider
		.preflight(&[Program::Command("/bin/true".into())], 0)
		.await
		.expect_err("a command");
	assert!(err.to_string().contains("cannot run the program"), "{err}");
	provider
		.preflight(&[Program::Image(image.clone())], 0)
		.await
		.expect("the probe image is there");
	// GPUs need the engine's `nvidia` runtime; an engine without one is named with what it has.
	let runtimes = docker(&["info", "-f", "{{json .Runtimes}}"]);
	match provider.preflight(&[], 1).await {
		Ok(()) => assert!(runtimes.contains("\"nvidia\""), "{runtimes}"),
		Err(e) => {
			let text = e.to_string();
			assert!(
				text.contains("no `nvidia` runtime")
					&& text.contains("`runc`")
					&& text.contains("NVIDIA Container Toolkit"),
				"{text}"
			);
		}
	}

	let ns = provider
		.create_namespace(&run_id, &dir)
		.await
		.expect("namespace");
	let network = format!("stagenet-{run_id}");
	let seen = docker(&[
		"network",
		"inspect",
		"-f",
		"{{.Internal}} {{index .Options \"com.docker.network.bridge.inhibit_ipv4\"}} {{(index .IPAM.Config 0).Gateway}}",
		&network,
	]);
	let mut words = seen.split_whitespace();
	assert_eq!(words.next(), Some("true"), "internal: {seen}");
	assert_eq!(words.next(), Some("true"), "inhibit_ipv4: {seen}");
	let ipam_gateway = words.next().and_then(|g| g.parse::<IpAddr>().ok());

	// A server in the namespace, its RPC port published through a relay.
	let mut server = probe_options("server", &image, &["--listen", "9944"]);
	server.expose_rpc = true;
	server.is_node = true;
	let server = ns.spawn(server).await.expect("spawn server");
	wait_log(&server, "listening on 9944", 1).await;

	// Inside: another container reaches it by name.
	let (status, log) = probe_from_inside(&ns, &image, "peer", "server:9944").await;
	assert_eq!(status, "exit code 0", "{log}");
	assert!(log.contains("connected to server:9944"), "{log}");

	// From the host: only through the relay, on loopback.
	let endpoints = server.endpoints().await;
	let url = endpoints.rpc_url.clone().expect("rpc url");
	assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
	assert!(endpoints
		.prometheus_url
		.as_deref()
		.is_some_and(|u| u.starts_with("http://127.0.0.1:") && u.ends_with("/metrics")));
	assert_eq!(wait_greeting(&url).await, "hello from probe\n");

	// Outside: a listener on every address of the host, reached from nowhere in the run.
	let listener = TcpListener::bind("0.0.0.0:0").expect("bind host listener");
	listener.set_nonblocking(true).expect("non-blocking");
	let port = listener.local_addr().expect("addr").port();
	let mut targets: Vec<IpAddr> = host_addresses();
	assert!(!targets.is_empty(), "no host address found with `ip`");
	targets.extend(ipam_gateway);
	for (i, ip) in targets.iter().enumerate() {
		let target = format!("{ip}:{port}");
		let (status, log) = probe_from_inside(&ns, &image, &format!("outside-{i}"), &target).await;
		assert_eq!(
			status, "exit code 1",
			"{target} reached from the namespace: {log}"
		);
		assert!(log.contains("failed"), "{log}");
	}
	match listener.accept() {
		Err(e) if e.kind() == ErrorKind::WouldBlock => {}
		other => panic!("the host listener was reached: {other:?}"),
	}
	// The probe itself is not the reason: the same listener is reachable from the host.
	assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());

	// Destroy leaves nothing labelled with the run.
	assert!(!labelled(&run_id).is_empty());
	ns.destroy().await.expect("destroy");
	assert_eq!(labelled(&run_id), Vec::<String>::new());
	let left = crate::conformance::resources_of(&provider, &run_id).await;
	assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn docker_node_pause_partition_kill_restart_keep_one_log_and_one_relay() {
	stagenet_test_support::require!(TestChain, Docker);
	let image = probe_image().await;
	let provider = provider().await;
	let run_id = format!("it-docker-node-{}", std::process::id());
	let (dir, _cleanup) = run_dir(&run_id);
	let ns = provider
		.create_namespace(&run_id, &dir)
		.await
		.expect("namespace");
	assert_eq!(ns.node_path(Path::new("spec.json")), "/stagenet/spec.json");
	let addresses = ns.allocate("server").await.expect("allocate");
	assert_eq!(addresses.p2p_dial, "/dns4/server/tcp/30333");
	assert_eq!(addresses.rpc_url_inside, "ws://server:9944");
	assert_eq!(addresses.base_path, "/data");
	assert_eq!(
		addresses.extra_args,
		[
			"--rpc-external",
			"--prometheus-external",
			"--rpc-cors",
			"all"
		]
	);

	let mut options = probe_options("server", &image, &["--listen", "9944"]);
	options.expose_rpc = true;
	options.is_node = true;
	let server = ns.spawn(options).await.expect("spawn");
	assert_eq!(server.log_file(), dir.join("server.log"));
	wait_log(&server, "listening on 9944", 1).await;
	let url = server.endpoints().await.rpc_url.expect("rpc url");
	assert_eq!(wait_greeting(&url).await, "hello from probe\n");
	let volumes = docker(&[
		"volume",
		"ls",
		"-q",
		"--filter",
		&format!("label={RUN_LABEL}={run_id}"),
	]);
	assert_eq!(volumes.trim(), format!("stagenet-{run_id}-server-data"));
	let relay_labels = docker(&[
		"inspect",
		"-f",
		"{{index .Config.Labels \"stagenet.node\"}}",
		&format!("stagenet-{run_id}-server-relay"),
	]);
	assert_eq!(relay_labels.trim(), "server-relay");
	let sysctl = docker(&[
		"inspect",
		"-f",
		"{{index .HostConfig.Sysctls \"net.ipv4.tcp_retries2\"}}",
		&format!("stagenet-{run_id}-server"),
	]);
	assert_eq!(sysctl.trim(), "5");

	// Paused: still "running", and it answers nobody until resumed.
	server.pause().await.expect("pause");
	assert_eq!(server.exited().await.expect("exited"), None);
	let paused = greeting(&url, Duration::from_secs(2));
	assert!(
		matches!(&paused, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
		"a paused server answered: {paused:?}"
	);
	server.resume().await.expect("resume");
	assert_eq!(wait_greeting(&url).await, "hello from probe\n");

	// Partitioned: neither the relay nor another container finds it; then back.
	server.disconnect().await.expect("disconnect");
	// The relay closes the connection (or is still looking the name up when we give up).
	let cut = greeting(&url, Duration::from_secs(15));
	assert!(
		cut.as_deref().map_or(true, str::is_empty),
		"the relay reached a disconnected server: {cut:?}"
	);
	let (status, log) = probe_from_inside(&ns, &image, "peer-cut", "server:9944").await;
	assert_eq!(status, "exit code 1", "{log}");
	server.reconnect().await.expect("reconnect");
	assert_eq!(wait_greeting(&url).await, "hello from probe\n");
	let (status, log) = probe_from_inside(&ns, &image, "peer-back", "server:9944").await;
	assert_eq!(status, "exit code 0", "{log}");

	// Killed: an exit status; restarted: same name, relay, volume; the log goes on.
	server.kill().await.expect("kill");
	let status = server.exited().await.expect("exited");
	assert_eq!(status.as_deref(), Some("exit code 137"));
	let before = log_of(&server);
	let accepted_before = before.matches("accepted").count();
	server.restart().await.expect("restart");
	wait_log(&server, "listening on 9944", 2).await;
	assert_eq!(wait_greeting(&url).await, "hello from probe\n");
	let after = wait_log(&server, "accepted", accepted_before + 1).await;
	assert!(
		after.starts_with(&before),
		"the log was rewritten:\n{before}\n---\n{after}"
	);
	assert_eq!(after.matches("listening on 9944").count(), 2, "{after}");
	assert_eq!(
		after.matches("accepted").count(),
		accepted_before + 1,
		"lines duplicated on restart:\n{after}"
	);
	assert!(
		server.restart().await.is_err(),
		"restarting a running node is refused"
	);

	// Killed while paused, and restarted again.
	server.pause().await.expect("pause");
	server.kill().await.expect("kill a paused node");
	assert!(server.exited().await.expect("exited").is_some());
	server.restart().await.expect("restart");
	assert_eq!(wait_greeting(&url).await, "hello from probe\n");

	let removed = provider.destroy_run(&run_id).await.expect("destroy");
	let kinds: Vec<&str> = removed.iter().map(|r| r.kind.as_str()).collect();
	assert!(
		kinds.contains(&"container") && kinds.contains(&"volume") && kinds.contains(&"network")
	);
	assert!(removed
		.iter()
		.all(|r| r.owner_pid == Some(std::process::id())));
	assert_eq!(labelled(&run_id), Vec::<String>::new());
}
