//! `stagenet relay` (hidden): the TCP relay the Docker provider runs beside nodes whose RPC
//! the host reaches.

use crate::failure::Failure;
use stagenet_config::exit::Exit;

/// Arguments of `stagenet relay`.
#[derive(Debug, clap::Args)]
pub struct RelayArgs {
	/// `PORT=HOST:PORT`: listen on `0.0.0.0:PORT` and forward every connection to
	/// `HOST:PORT` (resolved for each connection). Repeat for more ports.
	#[arg(long = "map", value_name = "PORT=HOST:PORT", required = true)]
	maps: Vec<String>,
}

/// Runs `stagenet relay` until the process is ended.
pub async fn run(args: RelayArgs) -> Result<(), Failure> {
	let maps = args
		.maps
		.iter()
		.map(|m| parse_map(m))
		.collect::<Result<Vec<_>, _>>()?;
	stagenet_network::relay::run(maps).await?;
	Ok(())
}

/// Parses `PORT=HOST:PORT`.
fn parse_map(map: &str) -> Result<(u16, String), Failure> {
	let bad = |why: &str| {
		Failure::new(
			Exit::BadInput,
			format!("invalid `--map {map}`: {why} (hint: write `PORT=HOST:PORT`, e.g. `9944=alice:9944`)"),
		)
	};
	let (listen, target) = map.split_once('=').ok_or_else(|| bad("no `=`"))?;
	let listen: u16 = listen
		.trim()
		.parse()
		.map_err(|_| bad("the listening port is not a number from 0 to 65535"))?;
	let (host, port) = target
		.rsplit_once(':')
		.ok_or_else(|| bad("the target has no `:PORT`"))?;
	if host.is_empty() {
		return Err(bad("the target has no host"));
	}
	port.parse::<u16>()
		.map_err(|_| bad("the target port is not a number from 0 to 65535"))?;
	Ok((listen, target.to_string()))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn maps_parse_and_bad_ones_are_bad_input() {
		assert_eq!(
			parse_map("9944=alice:9944").ok(),
			Some((9944, "alice:9944".to_string()))
		);
		assert_eq!(
			parse_map("1=[::1]:2").ok(),
			Some((1, "[::1]:2".to_string()))
		);
		for bad in [
			"9944",
			"x=alice:1",
			"1=alice",
			"1=:5",
			"1=alice:x",
			"70000=a:1",
		] {
			let failure = parse_map(bad).expect_err(bad);
			assert_eq!(failure.exit, Exit::BadInput);
			assert!(failure.message.contains("hint:"), "{}", failure.message);
		}
	}
}
