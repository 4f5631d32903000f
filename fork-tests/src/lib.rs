//! Helpers of stagenet's end-to-end tests against the bundled test chain.


pub mod fixtures;
pub mod harness;
pub mod lying_proxy;
pub mod solo;
pub mod subtensor;
