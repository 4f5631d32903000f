//! `stagenet-test-node`: the node of stagenet's bundled test chain.
//!
//! An Aura + GRANDPA solochain node that runs whatever runtime its chain spec holds, with the
//! host functions `node-subtensor` offers (the standard set, benchmarking, BLS12-381 and
//! storage proof size), so that real Subtensor runtimes instantiate on it too.

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() {
	if let Err(e) = command::run() {
		// A readable error and a non-zero exit instead of a `Debug` dump or a panic trace.
		eprintln!("error: {e}");
		std::process::exit(1);
	}
}
