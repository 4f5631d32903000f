//! The Docker Engine API as the Docker provider and the image builder use it: every bollard
//! call of stagenet goes through [`Client`], which speaks in our own small types so that no
//! bollard type leaves this module.

use crate::{NetworkError, Result};
use bollard::{
	errors::Error as BollardError,
	models::{
		ContainerCreateBody, DeviceRequest, EndpointSettings, HostConfig, HostConfigLogConfig,
		NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest, NetworkingConfig,
		PortBinding, VolumeCreateOptions,
	},
	query_parameters::{
		BuildImageOptionsBuilder, CreateContainerOptionsBuilder, KillContainerOptionsBuilder,
		ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
		ListVolumesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
		RemoveImageOptionsBuilder, RemoveVolumeOptionsBuilder,
	},
	Docker,
};
use futures_util::{stream::BoxStream, StreamExt};
use std::collections::{BTreeMap, HashMap};

/// Provider name used in errors.
pub(crate) const PROVIDER: &str = "docker";

/// How many lines of build output an error about a failed build quotes.
const BUILD_TAIL_LINES: usize = 20;

/// A connection to the Docker engine (cheap to clone).
#[derive(Clone)]
pub(crate) struct Client {
	docker: Docker,
	/// API version agreed with the engine, for messages.
	api_version: String,
}

impl std::fmt::Debug for Client {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("Client")
			.field("api_version", &self.api_version)
			.finish()
	}
}

/// An image found in the engine.
#[derive(Debug, Clone)]
pub(crate) struct ImageInfo {
	/// Image id (`sha256:…`).
	pub id: String,
	/// Size in bytes.
	pub size_bytes: u64,
	/// Labels of the image's configuration.
	pub labels: BTreeMap<String, String>,
}

/// A network create request.
#[derive(Debug, Clone)]
pub(crate) struct NetworkSpec {
	/// Name.
	pub name: String,
	/// No route out of the network (`internal: true`).
	pub internal: bool,
	/// Driver options (`com.docker.network.bridge.inhibit_ipv4`).
	pub options: BTreeMap<String, String>,
	/// Labels.
	pub labels: BTreeMap<String, String>,
}

/// A container create request.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerSpec {
	/// Container name.
	pub name: String,
	/// Image reference.
	pub image: String,
	/// Arguments given to the image's entrypoint.
	pub cmd: Vec<String>,
	/// Environment, `KEY=VALUE`.
	pub env: Vec<String>,
	/// Labels.
	pub labels: BTreeMap<String, String>,
	/// The network the container is created on.
	pub network: String,
	/// Its DNS aliases on that network.
	pub aliases: Vec<String>,
	/// Binds, `SOURCE:TARGET[:MODE]` (a host path or a volume name as source).
	pub binds: Vec<String>,
	/// Memory limit in bytes.
	pub memory: Option<u64>,
	/// CPU limit in billionths of a core.
	pub nano_cpus: Option<i64>,
	/// GPUs by UUID, requested from the `nvidia` device driver.
	pub gpu_uuids: Vec<String>,
	/// Container TCP ports published on `127.0.0.1` at a host port the engine chooses.
	pub published: Vec<u16>,
	/// Kernel parameters of the container's network namespace (`net.ipv4.tcp_retries2`).
	pub sysctls: BTreeMap<String, String>,
}

/// What an inspection of a container says about its state.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerInfo {
	/// `created`, `running`, `paused`, `exited`, …
	pub status: String,
	/// Whether its process runs (also when paused).
	pub running: bool,
	/// Whether it is paused.
	pub paused: bool,
	/// Exit code of the last run.
	pub exit_code: Option<i64>,
	/// Whether the kernel's OOM killer ended it.
	pub oom_killed: bool,
	/// The engine's error about it (a failed start), if any.
	pub error: Option<String>,
	/// Published TCP ports: container port → host port.
	pub published: BTreeMap<u16, u16>,
}

/// A container, network or volume found by label.
#[derive(Debug, Clone)]
pub(crate) struct Labelled {
	/// Its name.
	pub name: String,
	/// Its labels.
	pub labels: BTreeMap<String, String>,
}

/// Entries of a container's log, as the engine returns them with timestamps on.
pub(crate) type LogStream = BoxStream<'static, Result<Vec<u8>>>;

impl Client {
	/// Connects to the engine named by `DOCKER_HOST` (the local socket by default), agrees on
	/// an API version with it and pings it.
	pub(crate) async fn connect() -> Result<Self> {
		let unreachable = |e: &dyn std::fmt::Display| NetworkError::Provider {
			provider: PROVIDER,
			action: format!("connect to the engine at `{}`", docker_host()),
			message: e.to_string(),
			hint: Some(
				"start the Docker daemon, or point `DOCKER_HOST` at its socket \
				 (`unix:///var/run/docker.sock`), and check that this user may use it"
					.into(),
			),
		};
		let docker = Docker::connect_with_defaults().map_err(|e| unreachable(&e))?;
		let docker = docker
			.negotiate_version()
			.await
			.map_err(|e| unreachable(&e))?;
		docker.ping().await.map_err(|e| unreachable(&e))?;
		let version = docker.client_version();
		Ok(Self {
			docker,
			api_version: format!("{}.{}", version.major_version, version.minor_version),
		})
	}

	/// The API version agreed with the engine (`1.41`).
	pub(crate) fn api_version(&self) -> &str {
		&self.api_version
	}

	/// The engine's container runtimes (`runc`, `nvidia`, …).
	pub(crate) async fn runtimes(&self) -> Result<Vec<String>> {
		let info = self
			.docker
			.info()
			.await
			.map_err(|e| error("read the engine's information", e))?;
		let mut names: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
		names.sort();
		Ok(names)
	}

	/// The image called `reference`, or `None` when the engine has none by that name.
	pub(crate) async fn image(&self, reference: &str) -> Result<Option<ImageInfo>> {
		match self.docker.inspect_image(reference).await {
			Ok(image) => Ok(Some(ImageInfo {
				id: image.id.unwrap_or_default(),
				size_bytes: image.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
				labels: image
					.config
					.and_then(|c| c.labels)
					.unwrap_or_default()
					.into_iter()
					.collect(),
			})),
			Err(e) if is_not_found(&e) => Ok(None),
			Err(e) => Err(error(format!("inspect image `{reference}`"), e)),
		}
	}

	/// Builds an image from a tar build context (a `Dockerfile` at its root) with the
	/// classic builder, tags it `tag` and labels it. The build cannot reach any network.
	/// The context arrives as a stream of chunks, so that a large one (a Python environment)
	/// is never held in memory whole; an error item aborts the upload, and with it the build.
	pub(crate) async fn build_image(
		&self,
		context: BoxStream<'static, std::io::Result<Vec<u8>>>,
		tag: &str,
		labels: &BTreeMap<String, String>,
	) -> Result<()> {
		let action = format!("build image `{tag}`");
		let labels: HashMap<String, String> = labels.clone().into_iter().collect();
		let options = BuildImageOptionsBuilder::new()
			.dockerfile("Dockerfile")
			.t(tag)
			.rm(true)
			.forcerm(true)
			.networkmode("none")
			.labels(&labels)
			.build();
		let body = bollard::body_try_stream(context.map(|chunk| chunk.map(Into::into)));
		let mut stream = self.docker.build_image(options, None, Some(body));
		let mut tail: Vec<String> = Vec::new();
		while let Some(item) = stream.next().await {
			let info = match item {
				Ok(info) => info,
				// The engine's error line, turned into an error by bollard.
				Err(BollardError::DockerStreamError { error }) => {
					return Err(build_failed(action, &error, &tail));
				}
				Err(e) => return Err(error(action, e)),
			};
			if let Some(text) = info.stream {
				for line in text.lines().filter(|l| !l.trim().is_empty()) {
					tail.push(line.to_string());
					if tail.len() > BUILD_TAIL_LINES {
						tail.remove(0);
					}
				}
			}
			let failure = info
				.error_detail
				.and_then(|d| d.message)
				.or(info.error)
				.filter(|m| !m.is_empty());
			if let Some(message) = failure {
				return Err(build_failed(action, &message, &tail));
			}
		}
		Ok(())
	}

	/// Tags of the images carrying `label`.
	pub(crate) async fn image_tags_with_label(&self, label: &str) -> Result<Vec<String>> {
		let filters = HashMap::from([("label", vec![label])]);
		let options = ListImagesOptionsBuilder::new().filters(&filters).build();
		let list = self
			.docker
			.list_images(Some(options))
			.await
			.map_err(|e| error(format!("list images labelled `{label}`"), e))?;
		Ok(list.into_iter().flat_map(|i| i.repo_tags).collect())
	}

	/// Ids and creation times (UNIX seconds) of the untagged images carrying `label` that
	/// are not the parent of another image.
	pub(crate) async fn dangling_images_with_label(
		&self,
		label: &str,
	) -> Result<Vec<(String, i64)>> {
		let filters = HashMap::from([("label", vec![label]), ("dangling", vec!["true"])]);
		let options = ListImagesOptionsBuilder::new().filters(&filters).build();
		let list = self
			.docker
			.list_images(Some(options))
			.await
			.map_err(|e| error(format!("list untagged images labelled `{label}`"), e))?;
		Ok(list
			.into_iter()
			.filter(|i| i.repo_tags.iter().all(|t| t == "<none>:<none>"))
			.map(|i| (i.id, i.created))
			.collect())
	}

	/// Removes an image (by id) or a tag; one still used by a container, or already gone, is
	/// left alone.
	pub(crate) async fn remove_image_if_unused(&self, reference: &str) {
		let options = RemoveImageOptionsBuilder::new()
			.force(false)
			.noprune(false)
			.build();
		if let Err(e) = self
			.docker
			.remove_image(reference, Some(options), None)
			.await
		{
			tracing::debug!(image = reference, error = %e, "previous image kept");
		}
	}

	/// Whether a network called `name` exists.
	pub(crate) async fn network_exists(&self, name: &str) -> Result<bool> {
		let options: Option<bollard::query_parameters::InspectNetworkOptions> = None;
		match self.docker.inspect_network(name, options).await {
			Ok(network) => Ok(network.name.as_deref() == Some(name)),
			Err(e) if is_not_found(&e) => Ok(false),
			Err(e) => Err(error(format!("inspect network `{name}`"), e)),
		}
	}

	/// Creates a bridge network.
	pub(crate) async fn create_network(&self, spec: &NetworkSpec) -> Result<()> {
		let request = NetworkCreateRequest {
			name: spec.name.clone(),
			driver: Some("bridge".into()),
			internal: Some(spec.internal),
			attachable: Some(true),
			options: Some(spec.options.clone().into_iter().collect()),
			labels: Some(spec.labels.clone().into_iter().collect()),
			..Default::default()
		};
		self.docker
			.create_network(request)
			.await
			.map(|_| ())
			.map_err(|e| error(format!("create network `{}`", spec.name), e))
	}

	/// Removes a network; `false` when it was already gone.
	pub(crate) async fn remove_network(&self, name: &str) -> Result<bool> {
		match self.docker.remove_network(name).await {
			Ok(()) => Ok(true),
			Err(e) if is_not_found(&e) => Ok(false),
			Err(e) => Err(error(format!("remove network `{name}`"), e)),
		}
	}

	/// Connects a container to a network under the given aliases.
	pub(crate) async fn connect_network(
		&self,
		network: &str,
		container: &str,
		aliases: &[String],
	) -> Result<()> {
		let request = NetworkConnectRequest {
			container: Some(container.to_string()),
			endpoint_config: Some(EndpointSettings {
				aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
				..Default::default()
			}),
		};
		self.docker
			.connect_network(network, request)
			.await
			.map_err(|e| error(format!("connect `{container}` to network `{network}`"), e))
	}

	/// Disconnects a container from a network.
	pub(crate) async fn disconnect_network(&self, network: &str, container: &str) -> Result<()> {
		let request = NetworkDisconnectRequest {
			container: Some(container.to_string()),
			force: Some(true),
		};
		self.docker
			.disconnect_network(network, request)
			.await
			.map_err(|e| {
				error(
					format!("disconnect `{container}` from network `{network}`"),
					e,
				)
			})
	}

	/// Creates a named local volume.
	pub(crate) async fn create_volume(
		&self,
		name: &str,
		labels: &BTreeMap<String, String>,
	) -> Result<()> {
		let request = VolumeCreateOptions {
			name: Some(name.to_string()),
			driver: Some("local".into()),
			labels: Some(labels.clone().into_iter().collect()),
			..Default::default()
		};
		self.docker
			.create_volume(request)
			.await
			.map(|_| ())
			.map_err(|e| error(format!("create volume `{name}`"), e))
	}

	/// Removes a volume; `false` when it was already gone.
	pub(crate) async fn remove_volume(&self, name: &str) -> Result<bool> {
		let options = RemoveVolumeOptionsBuilder::new().force(true).build();
		match self.docker.remove_volume(name, Some(options)).await {
			Ok(()) => Ok(true),
			Err(e) if is_not_found(&e) => Ok(false),
			Err(e) => Err(error(format!("remove volume `{name}`"), e)),
		}
	}

	/// Creates a container (not started).
	pub(crate) async fn create_container(&self, spec: &ContainerSpec) -> Result<()> {
		let tcp = |port: &u16| format!("{port}/tcp");
		let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = spec
			.published
			.iter()
			.map(|p| {
				(
					tcp(p),
					Some(vec![PortBinding {
						host_ip: Some("127.0.0.1".into()),
						host_port: Some(String::new()),
					}]),
				)
			})
			.collect();
		let exposed: HashMap<String, HashMap<(), ()>> = spec
			.published
			.iter()
			.map(|p| (tcp(p), HashMap::new()))
			.collect();
		let device_requests = (!spec.gpu_uuids.is_empty()).then(|| {
			vec![DeviceRequest {
				driver: Some("nvidia".into()),
				device_ids: Some(spec.gpu_uuids.clone()),
				capabilities: Some(vec![vec!["gpu".into()]]),
				..Default::default()
			}]
		});
		let host_config = HostConfig {
			binds: Some(spec.binds.clone()),
			network_mode: Some(spec.network.clone()),
			port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
			memory: spec.memory.map(|m| i64::try_from(m).unwrap_or(i64::MAX)),
			nano_cpus: spec.nano_cpus,
			device_requests,
			sysctls: (!spec.sysctls.is_empty()).then(|| spec.sysctls.clone().into_iter().collect()),
			// The log is read back through the API: a driver that cannot be read would lose it.
			log_config: Some(HostConfigLogConfig {
				typ: Some("json-file".into()),
				config: None,
			}),
			..Default::default()
		};
		let endpoint = EndpointSettings {
			aliases: (!spec.aliases.is_empty()).then(|| spec.aliases.clone()),
			..Default::default()
		};
		let body = ContainerCreateBody {
			image: Some(spec.image.clone()),
			cmd: Some(spec.cmd.clone()),
			env: Some(spec.env.clone()),
			labels: Some(spec.labels.clone().into_iter().collect()),
			exposed_ports: (!exposed.is_empty()).then_some(exposed),
			tty: Some(false),
			attach_stdin: Some(false),
			open_stdin: Some(false),
			host_config: Some(host_config),
			networking_config: Some(NetworkingConfig {
				endpoints_config: Some(HashMap::from([(spec.network.clone(), endpoint)])),
			}),
			..Default::default()
		};
		let options = CreateContainerOptionsBuilder::new()
			.name(&spec.name)
			.build();
		self.docker
			.create_container(Some(options), body)
			.await
			.map(|_| ())
			.map_err(|e| {
				let conflict = matches!(
					e,
					BollardError::DockerResponseServerError {
						status_code: 409,
						..
					}
				);
				let mut err = error(format!("create container `{}`", spec.name), e);
				if conflict {
					set_hint(
						&mut err,
						"a container of that name is left from an earlier run: remove it with \
						 `stagenet down`",
					);
				}
				err
			})
	}

	/// Starts a created or stopped container.
	pub(crate) async fn start_container(&self, name: &str) -> Result<()> {
		let options: Option<bollard::query_parameters::StartContainerOptions> = None;
		self.docker
			.start_container(name, options)
			.await
			.map_err(|e| error(format!("start container `{name}`"), e))
	}

	/// Sends SIGKILL to a container.
	pub(crate) async fn kill_container(&self, name: &str) -> Result<()> {
		let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
		self.docker
			.kill_container(name, Some(options))
			.await
			.map_err(|e| error(format!("kill container `{name}`"), e))
	}

	/// Freezes a container's processes.
	pub(crate) async fn pause_container(&self, name: &str) -> Result<()> {
		self.docker
			.pause_container(name)
			.await
			.map_err(|e| error(format!("pause container `{name}`"), e))
	}

	/// Thaws a paused container.
	pub(crate) async fn unpause_container(&self, name: &str) -> Result<()> {
		self.docker
			.unpause_container(name)
			.await
			.map_err(|e| error(format!("unpause container `{name}`"), e))
	}

	/// The state of a container, `None` when there is no such container.
	pub(crate) async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>> {
		let options: Option<bollard::query_parameters::InspectContainerOptions> = None;
		let inspected = match self.docker.inspect_container(name, options).await {
			Ok(c) => c,
			Err(e) if is_not_found(&e) => return Ok(None),
			Err(e) => return Err(error(format!("inspect container `{name}`"), e)),
		};
		let state = inspected.state.unwrap_or_default();
		let mut published = BTreeMap::new();
		let ports = inspected
			.network_settings
			.and_then(|s| s.ports)
			.unwrap_or_default();
		for (key, bindings) in ports {
			let Some(port) = key.strip_suffix("/tcp").and_then(|p| p.parse::<u16>().ok()) else {
				continue;
			};
			let host_port = bindings
				.unwrap_or_default()
				.into_iter()
				.filter_map(|b| b.host_port.and_then(|p| p.parse::<u16>().ok()))
				.next();
			if let Some(host_port) = host_port {
				published.insert(port, host_port);
			}
		}
		Ok(Some(ContainerInfo {
			status: state.status.map(|s| s.to_string()).unwrap_or_default(),
			running: state.running.unwrap_or(false),
			paused: state.paused.unwrap_or(false),
			exit_code: state.exit_code,
			oom_killed: state.oom_killed.unwrap_or(false),
			error: state.error.filter(|e| !e.is_empty()),
			published,
		}))
	}

	/// Removes a container, killing it first if it runs; `false` when it was already gone.
	pub(crate) async fn remove_container(&self, name: &str) -> Result<bool> {
		let options = RemoveContainerOptionsBuilder::new()
			.force(true)
			.v(false)
			.build();
		match self.docker.remove_container(name, Some(options)).await {
			Ok(()) => Ok(true),
			Err(e) if is_not_found(&e) => Ok(false),
			Err(e) => Err(error(format!("remove container `{name}`"), e)),
		}
	}

	/// Containers (running or not) carrying `label` (`key` or `key=value`).
	pub(crate) async fn containers_with_label(&self, label: &str) -> Result<Vec<Labelled>> {
		let filters = HashMap::from([("label", vec![label])]);
		let options = ListContainersOptionsBuilder::new()
			.all(true)
			.filters(&filters)
			.build();
		let list = self
			.docker
			.list_containers(Some(options))
			.await
			.map_err(|e| error(format!("list containers labelled `{label}`"), e))?;
		Ok(list
			.into_iter()
			.filter_map(|c| {
				let name = c
					.names
					.and_then(|n| n.into_iter().next())
					.map(|n| n.trim_start_matches('/').to_string())
					.or(c.id)?;
				Some(Labelled {
					name,
					labels: c.labels.unwrap_or_default().into_iter().collect(),
				})
			})
			.collect())
	}

	/// Networks carrying `label`.
	pub(crate) async fn networks_with_label(&self, label: &str) -> Result<Vec<Labelled>> {
		let filters = HashMap::from([("label", vec![label])]);
		let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
		let list = self
			.docker
			.list_networks(Some(options))
			.await
			.map_err(|e| error(format!("list networks labelled `{label}`"), e))?;
		Ok(list
			.into_iter()
			.filter_map(|n| {
				Some(Labelled {
					name: n.name?,
					labels: n.labels.unwrap_or_default().into_iter().collect(),
				})
			})
			.collect())
	}

	/// Volumes carrying `label`.
	pub(crate) async fn volumes_with_label(&self, label: &str) -> Result<Vec<Labelled>> {
		let filters = HashMap::from([("label", vec![label])]);
		let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
		let list = self
			.docker
			.list_volumes(Some(options))
			.await
			.map_err(|e| error(format!("list volumes labelled `{label}`"), e))?;
		Ok(list
			.volumes
			.unwrap_or_default()
			.into_iter()
			.map(|v| Labelled {
				name: v.name,
				labels: v.labels.into_iter().collect(),
			})
			.collect())
	}

	/// The standard output and error of a container from `since` (UNIX seconds, 0 for the
	/// beginning): what it printed so far, or, with `follow`, until it stops. Every item is
	/// one log entry, prefixed with its RFC 3339 timestamp and a space.
	pub(crate) fn logs(&self, name: &str, since: i64, follow: bool) -> LogStream {
		let options = LogsOptionsBuilder::new()
			.follow(follow)
			.stdout(true)
			.stderr(true)
			.timestamps(true)
			.since(i32::try_from(since).unwrap_or(i32::MAX))
			.build();
		let action = format!("read the log of container `{name}`");
		self.docker
			.logs(name, Some(options))
			.map(move |item| {
				item.map(|output| output.into_bytes().to_vec())
					.map_err(|e| error(action.clone(), e))
			})
			.boxed()
	}
}

/// Where the engine is looked for, for messages.
fn docker_host() -> String {
	std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Whether the engine answered 404 (no such object).
fn is_not_found(e: &BollardError) -> bool {
	matches!(
		e,
		BollardError::DockerResponseServerError {
			status_code: 404,
			..
		}
	)
}

/// A provider error for a failed API call.
pub(crate) fn error(action: impl Into<String>, e: BollardError) -> NetworkError {
	let (message, hint) = match &e {
		BollardError::DockerResponseServerError {
			status_code,
			message,
		} => (
			format!("the engine answered {status_code}: {message}"),
			None,
		),
		BollardError::SocketNotFoundError(_)
		| BollardError::HyperLegacyError { .. }
		| BollardError::IOError { .. }
		| BollardError::RequestTimeoutError => (
			e.to_string(),
			Some(format!(
				"is the Docker daemon at `{}` still running? (`DOCKER_HOST` selects another)",
				docker_host()
			)),
		),
		_ => (e.to_string(), None),
	};
	NetworkError::Provider {
		provider: PROVIDER,
		action: action.into(),
		message,
		hint,
	}
}

/// The error of a build that failed, with the last lines it printed.
fn build_failed(action: String, message: &str, tail: &[String]) -> NetworkError {
	NetworkError::Provider {
		provider: PROVIDER,
		action,
		message: format!(
			"{}; last build output:\n{}",
			message.trim(),
			tail.join("\n")
		),
		hint: None,
	}
}

/// Sets the hint of a provider error.
fn set_hint(err: &mut NetworkError, text: &str) {
	if let NetworkError::Provider { hint, .. } = err {
		*hint = Some(text.to_string());
	}
}
