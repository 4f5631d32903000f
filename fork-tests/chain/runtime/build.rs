//! Builds the runtime's wasm blob with the cargo features of this build (the variant).
fn main() {
	#[cfg(feature = "std")]
	substrate_wasm_builder::WasmBuilder::build_using_defaults();
}
