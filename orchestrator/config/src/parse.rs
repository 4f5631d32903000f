//! The one way stagenet reads its YAML files (topology, scenario, load profile): every
//! problem collected with the path of its field (`workloads[1].gpus`) instead of stopping at the
//! first, type mismatches turned into problems with hints, unknown keys recorded with the
//! closest known key (warnings, or problems under `--strict`), paths in a file resolved against
//! the file's directory. Each file kind adds its own sections as methods on [`Parser`].

use crate::topology::{Chain, RESOURCE_KEYS};
use serde::{de::DeserializeOwned, Serialize};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// One problem of a configuration file (topology, scenario, load profile), with the path of
/// the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
	/// Field path (`workloads[1].gpus`); empty for the whole file.
	pub path: String,
	/// What is wrong, what was expected and seen, and a hint.
	pub message: String,
}

pub(crate) fn render(problems: &[Problem]) -> String {
	problems
		.iter()
		.map(|p| {
			if p.path.is_empty() {
				format!("  - {}", p.message)
			} else {
				format!("  - `{}`: {}", p.path, p.message)
			}
		})
		.collect::<Vec<_>>()
		.join("\n")
}

/// One segment of a field path.
pub(crate) enum Segment {
	Key(String),
	Index(usize),
}

/// `a.b[0].c`, appended to `prefix`.
pub(crate) fn join_path(prefix: &str, segments: &[Segment]) -> String {
	let mut out = prefix.to_string();
	for segment in segments {
		match segment {
			Segment::Key(key) => {
				if !out.is_empty() {
					out.push('.');
				}
				out.push_str(key);
			}
			Segment::Index(index) => out.push_str(&format!("[{index}]")),
		}
	}
	out
}

pub(crate) fn ignored_segments(path: &serde_ignored::Path<'_>, out: &mut Vec<Segment>) {
	match path {
		serde_ignored::Path::Root => {}
		serde_ignored::Path::Seq { parent, index } => {
			ignored_segments(parent, out);
			out.push(Segment::Index(*index));
		}
		serde_ignored::Path::Map { parent, key } => {
			ignored_segments(parent, out);
			out.push(Segment::Key(key.clone()));
		}
		serde_ignored::Path::Some { parent }
		| serde_ignored::Path::NewtypeStruct { parent }
		| serde_ignored::Path::NewtypeVariant { parent } => ignored_segments(parent, out),
	}
}

pub(crate) fn error_segments(path: &serde_path_to_error::Path) -> Vec<Segment> {
	path.iter()
		.map(|segment| match segment {
			serde_path_to_error::Segment::Seq { index } => Segment::Index(*index),
			serde_path_to_error::Segment::Map { key } => Segment::Key(key.clone()),
			serde_path_to_error::Segment::Enum { variant } => Segment::Key(variant.clone()),
			serde_path_to_error::Segment::Unknown => Segment::Key("?".into()),
		})
		.collect()
}

/// An unknown key, kept until it is known whether it is a warning or a problem.
pub(crate) struct Unknown {
	path: String,
	key: String,
	hint: String,
}

impl Unknown {
	pub(crate) fn to_problem(&self, strict: bool) -> Problem {
		let ignored = if strict { "" } else { "ignored; " };
		Problem {
			path: self.path.clone(),
			message: format!("unknown key `{}` ({ignored}hint: {})", self.key, self.hint),
		}
	}
}

/// `did you mean …?` for a misspelt key, else the keys allowed there.
pub(crate) fn key_hint(key: &str, known: &[&str]) -> String {
	let normal = key.to_lowercase().replace('_', "-");
	let closest = known
		.iter()
		.map(|k| (levenshtein(&normal, k), *k))
		.min_by_key(|(distance, _)| *distance);
	match closest {
		Some((distance, k)) if distance <= (k.len() / 3).max(2) => {
			format!("did you mean `{k}`?")
		}
		_ => format!(
			"the keys here are {}",
			known
				.iter()
				.map(|k| format!("`{k}`"))
				.collect::<Vec<_>>()
				.join(", ")
		),
	}
}

pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
	let b: Vec<char> = b.chars().collect();
	let mut previous: Vec<usize> = (0..=b.len()).collect();
	for (i, ca) in a.chars().enumerate() {
		let mut current = Vec::with_capacity(b.len() + 1);
		current.push(i + 1);
		for (j, cb) in b.iter().enumerate() {
			let substitute = previous[j] + usize::from(ca != *cb);
			let delete = previous[j + 1] + 1;
			let insert = current[j] + 1;
			current.push(substitute.min(delete).min(insert));
		}
		previous = current;
	}
	previous[b.len()]
}

/// A hint for a type mismatch reported by serde.
pub(crate) fn type_hint(message: &str) -> Option<&'static str> {
	if message.contains("expected u32") {
		Some("write a whole number, like `2`")
	} else if message.contains("expected f64") {
		Some("write a number, like `1.5`")
	} else if message.contains("expected a string") {
		Some("write text; quote it if it looks like a number or a boolean")
	} else if message.contains("expected a sequence") {
		Some("write a list, like `[\"a\", \"b\"]`")
	} else if message.contains("expected a map") {
		Some("write a mapping of keys to values")
	} else {
		None
	}
}

/// A YAML value as written, for messages.
pub(crate) fn show(value: &Value) -> String {
	match value {
		Value::Null => "null".into(),
		Value::Bool(b) => b.to_string(),
		Value::Number(n) => n.to_string(),
		Value::String(s) => s.clone(),
		Value::Sequence(_) => "a list".into(),
		Value::Mapping(_) => "a mapping".into(),
		Value::Tagged(t) => format!("a value tagged `{}`", t.tag),
	}
}

/// Reads one configuration file, collecting every problem and unknown key on the way; the
/// sections of each kind of file are methods added where that kind is defined.
pub(crate) struct Parser {
	/// The file's directory, made absolute: relative paths are resolved against it.
	dir: PathBuf,
	pub(crate) problems: Vec<Problem>,
	pub(crate) unknown: Vec<Unknown>,
	/// The chain to use whatever the file's `chain` says.
	pub(crate) chain_override: Option<Chain>,
}

impl Parser {
	pub(crate) fn new(file: &Path) -> Self {
		let parent = file
			.parent()
			.filter(|p| !p.as_os_str().is_empty())
			.unwrap_or(Path::new("."));
		let dir = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
		Parser {
			dir,
			problems: Vec::new(),
			unknown: Vec::new(),
			chain_override: None,
		}
	}

	pub(crate) fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
		self.problems.push(Problem {
			path: path.into(),
			message: message.into(),
		});
	}

	/// `written` relative to the file's directory (absolute paths as they are).
	pub(crate) fn resolve(&self, written: &str) -> PathBuf {
		let written = Path::new(written);
		if written.is_absolute() {
			return written.to_path_buf();
		}
		let mut path = self.dir.clone();
		for component in written.components() {
			if component != std::path::Component::CurDir {
				path.push(component.as_os_str());
			}
		}
		path
	}

	/// Deserializes `value`, found at `path`: a type mismatch becomes a problem with the
	/// field's path, unknown keys are recorded (`known` are the keys of the value's own
	/// mapping; nested `resources` have theirs).
	pub(crate) fn take<T: DeserializeOwned>(
		&mut self,
		path: &str,
		value: Value,
		known: &[&str],
	) -> Option<T> {
		let mut ignored: Vec<Vec<Segment>> = Vec::new();
		let mut on_ignored = |p: serde_ignored::Path<'_>| {
			let mut segments = Vec::new();
			ignored_segments(&p, &mut segments);
			ignored.push(segments);
		};
		let result: Result<T, _> = serde_path_to_error::deserialize(
			serde_ignored::Deserializer::new(value, &mut on_ignored),
		);
		for segments in ignored {
			let Some((Segment::Key(key), parents)) = segments.split_last() else {
				continue;
			};
			let known = match parents.last() {
				Some(Segment::Key(parent)) if parent == "resources" => RESOURCE_KEYS,
				_ => known,
			};
			self.unknown.push(Unknown {
				path: join_path(path, &segments),
				key: key.clone(),
				hint: key_hint(key, known),
			});
		}
		match result {
			Ok(value) => Some(value),
			Err(error) => {
				let at = join_path(path, &error_segments(error.path()));
				let message = error.into_inner().to_string();
				let message = match type_hint(&message) {
					Some(hint) => format!("{message} (hint: {hint})"),
					None => message,
				};
				self.problem(at, message);
				None
			}
		}
	}
}
