//! GPU inventory of the host and placement of workloads that ask for GPUs.
//!
//! The inventory comes from `nvidia-smi --query-gpu=index,uuid,name,memory.total
//! --format=csv,noheader,nounits` (or the program named by `STAGENET_NVIDIA_SMI`). A host
//! without the tool has no GPUs; a host whose tool fails (no driver loaded) has none either,
//! and the tool's message is kept as a note for the errors that follow.

use crate::{NetworkError, Result};
use serde::{Deserialize, Serialize};
use std::{path::PathBuf, process::Stdio, time::Duration};

/// One GPU of the host, as the inventory source reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gpu {
	/// Index (`CUDA_VISIBLE_DEVICES` / `nvidia-smi -i`).
	pub index: u32,
	/// UUID (`GPU-…`), used for Docker device requests.
	pub uuid: String,
	/// Product name.
	pub name: String,
	/// Total memory in MiB.
	pub memory_mib: u64,
}

/// The GPUs of the host, and how they were found. The default is a host without GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Inventory {
	/// What was run (`nvidia-smi --query-gpu=… --format=…`), or why nothing could be.
	pub source: String,
	/// The GPUs, in the order the source lists them.
	pub gpus: Vec<Gpu>,
	/// Why there are no GPUs although the source ran: its exit status and output
	/// (`NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver…`).
	pub note: Option<String>,
}

/// The environment variable naming the inventory program (default: `nvidia-smi` on `PATH`).
pub const NVIDIA_SMI_ENV: &str = "STAGENET_NVIDIA_SMI";

/// The arguments of the inventory query.
pub const NVIDIA_SMI_QUERY: [&str; 2] = [
	"--query-gpu=index,uuid,name,memory.total",
	"--format=csv,noheader,nounits",
];

/// How long the inventory program may take.
const DETECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The most of the program's output kept in [`Inventory::note`].
const NOTE_LIMIT: usize = 2_000;

const FORMAT_HINT: &str = "each line must read `index, uuid, name, memory.total`, as printed \
	by `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`; \
	point `STAGENET_NVIDIA_SMI` at a program that prints this";

/// Parses the output of `nvidia-smi --query-gpu=index,uuid,name,memory.total
/// --format=csv,noheader,nounits`: one GPU per line, fields separated by commas, spaces
/// around them ignored. Empty output means no GPUs.
pub fn parse_nvidia_smi(csv: &str) -> Result<Vec<Gpu>> {
	parse_lines(csv).map_err(|reason| NetworkError::Gpu {
		reason,
		hint: FORMAT_HINT.into(),
	})
}

fn parse_lines(csv: &str) -> std::result::Result<Vec<Gpu>, String> {
	let mut gpus = Vec::new();
	for (number, line) in csv.lines().enumerate() {
		let line = line.trim();
		if line.is_empty() {
			continue;
		}
		gpus.push(parse_line(line).map_err(|what| {
			format!(
				"line {} of the GPU inventory, `{line}`, is not a GPU: {what}",
				number + 1
			)
		})?);
	}
	Ok(gpus)
}

fn parse_line(line: &str) -> std::result::Result<Gpu, String> {
	let fields: Vec<&str> = line.split(',').map(str::trim).collect();
	let [index, uuid, name @ .., memory] = fields.as_slice() else {
		return Err(format!("{} field(s) where 4 are expected", fields.len()));
	};
	if name.is_empty() {
		return Err(format!("{} field(s) where 4 are expected", fields.len()));
	}
	let index = index
		.parse::<u32>()
		.map_err(|_| format!("the index `{index}` is not a whole number"))?;
	if !uuid.starts_with("GPU-") || uuid.len() <= "GPU-".len() {
		return Err(format!("the UUID `{uuid}` does not start with `GPU-`"));
	}
	// A name with commas (none known, but the CSV does not quote) is joined back.
	let name = name.join(", ");
	if name.is_empty() {
		return Err("the name is empty".into());
	}
	let memory_mib = memory.parse::<u64>().map_err(|_| {
		format!("the memory `{memory}` is not a whole number of MiB (was `nounits` given?)")
	})?;
	Ok(Gpu {
		index,
		uuid: uuid.to_string(),
		name,
		memory_mib,
	})
}

/// Finds the GPUs of the host: runs the program named by `STAGENET_NVIDIA_SMI`, else
/// `nvidia-smi` from `PATH`, with [`NVIDIA_SMI_QUERY`], for at most 20 s.
///
/// No `nvidia-smi` on `PATH` means no GPUs; a tool that exits with an error (no driver)
/// means no GPUs too, with its message in [`Inventory::note`].
pub async fn detect() -> Result<Inventory> {
	match std::env::var_os(NVIDIA_SMI_ENV).filter(|p| !p.is_empty()) {
		Some(program) => query(PathBuf::from(program), true, &[]).await,
		None => query(PathBuf::from("nvidia-smi"), false, &[]).await,
	}
}

/// Runs `program` with the query. `named`: the program was named by the user (then a
/// missing program is an error, not an absence of GPUs). `envs` are set for the program.
async fn query(program: PathBuf, named: bool, envs: &[(&str, &str)]) -> Result<Inventory> {
	let source = format!("{} {}", program.display(), NVIDIA_SMI_QUERY.join(" "));
	let mut command = tokio::process::Command::new(&program);
	command
		.args(NVIDIA_SMI_QUERY)
		.envs(envs.iter().copied())
		.stdin(Stdio::null())
		.kill_on_drop(true);
	let output = match tokio::time::timeout(DETECT_TIMEOUT, command.output()).await {
		Err(_) => {
			return Err(NetworkError::Gpu {
				reason: format!(
					"the GPU inventory `{source}` did not answer within {} s",
					DETECT_TIMEOUT.as_secs()
				),
				hint: "run `nvidia-smi` by hand: a hung driver must be fixed (or the host \
				       rebooted) before workloads can use its GPUs"
					.into(),
			})
		}
		Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound && !named => {
			return Ok(Inventory {
				source: format!(
					"`{}` not found on PATH (no NVIDIA driver installed)",
					program.display()
				),
				gpus: Vec::new(),
				note: None,
			})
		}
		Ok(Err(error)) if named => {
			return Err(NetworkError::Gpu {
				reason: format!(
					"`{NVIDIA_SMI_ENV}` names `{}`, which cannot be run: {error}",
					program.display()
				),
				hint: format!(
					"point `{NVIDIA_SMI_ENV}` at `nvidia-smi` or a program with its output, or \
					 unset it to use `nvidia-smi` from PATH"
				),
			})
		}
		Ok(Err(source)) => {
			return Err(NetworkError::Io {
				path: program,
				source,
			})
		}
		Ok(Ok(output)) => output,
	};
	if !output.status.success() {
		let stdout = String::from_utf8_lossy(&output.stdout);
		let stderr = String::from_utf8_lossy(&output.stderr);
		let said: Vec<&str> = [stdout.trim(), stderr.trim()]
			.into_iter()
			.filter(|s| !s.is_empty())
			.collect();
		let said = if said.is_empty() {
			"no output".to_string()
		} else {
			said.join(" ")
		};
		return Ok(Inventory {
			source,
			gpus: Vec::new(),
			note: Some(tail(
				&format!("it exited with {}: {said}", output.status),
				NOTE_LIMIT,
			)),
		});
	}
	let gpus = parse_lines(&String::from_utf8_lossy(&output.stdout)).map_err(|reason| {
		NetworkError::Gpu {
			reason: format!("{reason} (from `{source}`)"),
			hint: FORMAT_HINT.into(),
		}
	})?;
	Ok(Inventory {
		source,
		gpus,
		note: None,
	})
}

/// The last `limit` bytes of `text` (at a character boundary), on one line.
fn tail(text: &str, limit: usize) -> String {
	let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
	if one_line.len() <= limit {
		return one_line;
	}
	let mut start = one_line.len() - limit;
	while !one_line.is_char_boundary(start) {
		start += 1;
	}
	format!("…{}", &one_line[start..])
}

/// Gives each request (replica name, GPUs wanted) its own GPUs, in inventory order; a
/// request for 0 gets none. Fails when more GPUs are asked for than the host has.
pub fn place(requests: &[(String, u32)], inventory: &Inventory) -> Result<Vec<(String, Vec<Gpu>)>> {
	let asked: u64 = requests.iter().map(|(_, n)| u64::from(*n)).sum();
	let have = inventory.gpus.len();
	if asked > have as u64 {
		let who = requests
			.iter()
			.filter(|(_, n)| *n > 0)
			.map(|(name, n)| format!("{name}: {n}"))
			.collect::<Vec<_>>()
			.join(", ");
		let mut found = format!("source: `{}`", inventory.source);
		if let Some(note) = &inventory.note {
			found.push_str(&format!("; note: {note}"));
		}
		return Err(NetworkError::Gpu {
			reason: format!(
				"workloads ask for {asked} GPU(s) ({who}) but this host has {have} ({found})"
			),
			hint: "lower `gpus`/`replicas` in the topology, or run on a machine with more GPUs"
				.into(),
		});
	}
	let mut free = inventory.gpus.iter();
	Ok(requests
		.iter()
		.map(|(name, n)| {
			let gpus = free.by_ref().take(*n as usize).cloned().collect();
			(name.clone(), gpus)
		})
		.collect())
}

/// The value of `CUDA_VISIBLE_DEVICES` for `gpus`: their indexes, comma-separated (`0,2`).
pub fn cuda_visible_devices(gpus: &[Gpu]) -> String {
	gpus.iter()
		.map(|gpu| gpu.index.to_string())
		.collect::<Vec<_>>()
		.join(",")
}

#[cfg(test)]
mod tests {
	use super::*;

	/// The output of the query on a host with four H200s (spaces as `nvidia-smi` prints them).
	const FOUR_H200: &str = "\
0, GPU-4d3f5b7e-8c1a-4f2e-9b6d-1a2b3c4d5e6f, NVIDIA H200, 143771
1, GPU-7e2a9c41-0b3d-4e5f-8a6b-2c3d4e5f6a7b, NVIDIA H200, 143771
2, GPU-a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d, NVIDIA H200, 143771
3, GPU-0f1e2d3c-4b5a-4697-8877-665544332211, NVIDIA H200, 143771
";

	fn inventory(n: u32) -> Inventory {
		Inventory {
			source: "test".into(),
			gpus: (0..n)
				.map(|index| Gpu {
					index,
					uuid: format!("GPU-{index}"),
					name: "NVIDIA H200".into(),
					memory_mib: 143_771,
				})
				.collect(),
			note: None,
		}
	}

	/// The stand-in of `nvidia-smi` kept with the fork tests.
	fn stand_in() -> PathBuf {
		PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fork-tests/stand-ins/nvidia-smi")
	}

	#[test]
	fn parses_a_recorded_multi_gpu_output() {
		let gpus = parse_nvidia_smi(FOUR_H200).expect("valid output");
		assert_eq!(gpus.len(), 4);
		assert_eq!(
			gpus[0],
			Gpu {
				index: 0,
				uuid: "GPU-4d3f5b7e-8c1a-4f2e-9b6d-1a2b3c4d5e6f".into(),
				name: "NVIDIA H200".into(),
				memory_mib: 143_771,
			}
		);
		assert_eq!(
			gpus.iter().map(|g| g.index).collect::<Vec<_>>(),
			[0, 1, 2, 3]
		);
	}

	#[test]
	fn tolerates_spacing_blank_lines_and_crlf() {
		let gpus = parse_nvidia_smi("\r\n  1 ,GPU-ab ,  NVIDIA H200 ,143771  \r\n\n")
			.expect("valid output");
		assert_eq!(gpus.len(), 1);
		assert_eq!(gpus[0].index, 1);
		assert_eq!(gpus[0].uuid, "GPU-ab");
		assert_eq!(gpus[0].name, "NVIDIA H200");
		assert!(parse_nvidia_smi("").expect("empty output").is_empty());
	}

	#[test]
	fn a_malformed_line_is_named() {
		let text = "0, GPU-ab, NVIDIA H200, 143771\n1, GPU-cd, NVIDIA H200, [N/A]\n";
		let error = parse_nvidia_smi(text).expect_err("malformed").to_string();
		assert!(
			error.starts_with("line 2 of the GPU inventory, `1, GPU-cd, NVIDIA H200, [N/A]`"),
			"{error}"
		);
		assert!(
			error.contains("`[N/A]` is not a whole number of MiB"),
			"{error}"
		);
		assert!(error.contains("(hint: each line must read"), "{error}");

		for (line, what) in [
			("0, GPU-ab, 143771", "3 field(s) where 4 are expected"),
			("x, GPU-ab, NVIDIA H200, 1", "the index `x`"),
			(
				"0, 4d3f, NVIDIA H200, 1",
				"the UUID `4d3f` does not start with `GPU-`",
			),
			("0, GPU-ab, , 1", "the name is empty"),
		] {
			let error = parse_nvidia_smi(line).expect_err(line).to_string();
			assert!(error.contains(what), "{line}: {error}");
		}
	}

	#[test]
	fn placement_gives_distinct_gpus_in_order() {
		let requests = [
			("miner-0".to_string(), 1),
			("idle-0".to_string(), 0),
			("miner-1".to_string(), 2),
		];
		let placed = place(&requests, &inventory(4)).expect("enough GPUs");
		let indexes: Vec<(&str, Vec<u32>)> = placed
			.iter()
			.map(|(name, gpus)| (name.as_str(), gpus.iter().map(|g| g.index).collect()))
			.collect();
		assert_eq!(
			indexes,
			[
				("miner-0", vec![0]),
				("idle-0", vec![]),
				("miner-1", vec![1, 2])
			]
		);
		assert!(place(&[], &inventory(0)).expect("nothing asked").is_empty());
	}

	#[test]
	fn asking_for_too_many_gpus_is_an_error_naming_the_requests() {
		let requests = [
			("miner-0".to_string(), 1),
			("idle-0".to_string(), 0),
			("miner-1".to_string(), 2),
		];
		let mut host = inventory(0);
		host.source = "nvidia-smi --query-gpu=index,uuid,name,memory.total".into();
		host.note = Some("it exited with exit status: 9: NVIDIA-SMI has failed".into());
		let error = place(&requests, &host).expect_err("too many");
		assert!(matches!(error, NetworkError::Gpu { .. }));
		assert_eq!(
			error.to_string(),
			"workloads ask for 3 GPU(s) (miner-0: 1, miner-1: 2) but this host has 0 (source: \
			 `nvidia-smi --query-gpu=index,uuid,name,memory.total`; note: it exited with exit \
			 status: 9: NVIDIA-SMI has failed) (hint: lower `gpus`/`replicas` in the topology, \
			 or run on a machine with more GPUs)"
		);
		let error = place(&requests, &inventory(2))
			.expect_err("too many")
			.to_string();
		assert!(
			error.contains("but this host has 2 (source: `test`)"),
			"{error}"
		);
	}

	#[test]
	fn cuda_visible_devices_lists_indexes() {
		let host = inventory(3);
		assert_eq!(cuda_visible_devices(&[]), "");
		assert_eq!(cuda_visible_devices(&host.gpus[..1]), "0");
		assert_eq!(
			cuda_visible_devices(&[host.gpus[0].clone(), host.gpus[2].clone()]),
			"0,2"
		);
	}

	#[test]
	fn tail_keeps_the_end_on_one_line() {
		assert_eq!(tail("a\n  b", 10), "a b");
		assert_eq!(tail("0123456789", 4), "…6789");
	}

	#[tokio::test]
	async fn detect_reads_the_stand_in() {
		let inventory = query(stand_in(), true, &[("STAGENET_FAKE_GPUS", "3")])
			.await
			.expect("inventory");
		assert_eq!(inventory.gpus.len(), 3, "{inventory:?}");
		assert!(inventory.note.is_none());
		assert!(inventory.source.ends_with(
			"nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits"
		));
		assert_eq!(inventory.gpus[2].index, 2);
		assert_eq!(inventory.gpus[2].name, "NVIDIA H200");
		assert_eq!(inventory.gpus[2].memory_mib, 143_771);
		let uuids: std::collections::BTreeSet<&str> =
			inventory.gpus.iter().map(|g| g.uuid.as_str()).collect();
		assert_eq!(uuids.len(), 3);
	}

	#[tokio::test]
	async fn a_failing_driver_means_no_gpus_with_a_note() {
		let inventory = query(stand_in(), true, &[("STAGENET_FAKE_GPU_DRIVER_FAIL", "1")])
			.await
			.expect("inventory");
		assert!(inventory.gpus.is_empty());
		let note = inventory.note.expect("a note");
		assert!(note.contains("9"), "{note}");
		assert!(
			note.contains(
				"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"
			),
			"{note}"
		);
	}

	#[tokio::test]
	async fn a_missing_tool_means_no_gpus_unless_it_was_named() {
		let absent = PathBuf::from("/nonexistent/stagenet/nvidia-smi");
		let inventory = query(absent.clone(), false, &[]).await.expect("no GPUs");
		assert!(inventory.gpus.is_empty());
		assert!(inventory.source.contains("not found"), "{inventory:?}");
		let error = query(absent, true, &[])
			.await
			.expect_err("named but absent");
		assert!(
			error.to_string().contains("`STAGENET_NVIDIA_SMI` names"),
			"{error}"
		);
	}
}
