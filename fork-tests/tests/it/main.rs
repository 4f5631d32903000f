//! End-to-end tests of stagenet against the bundled test chain: real node processes on
//! loopback, real consensus and finality, real runtime upgrades. They need the built test
//! chain (`scripts/build-test-chain`); networks are started one test at a time.

mod capture;
mod fork;
mod network;
mod node_cli;
mod snapshot;
mod subnets;
mod subtensor;
mod variants;
