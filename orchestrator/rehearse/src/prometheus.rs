//! A node's Prometheus metrics, read over plain HTTP: the heights it reports and the
//! histograms of block authoring and import times.

use prometheus_parse::{Scrape, Value};
use std::{collections::HashMap, time::Duration};
use tokio::{
	io::{AsyncReadExt, AsyncWriteExt},
	net::TcpStream,
};

/// Largest metrics page read (a node's is ~100 KB).
const MAX_PAGE: usize = 8 * 1024 * 1024;

/// `sum` and `count` of a histogram.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Histogram {
	/// Sum of observations (seconds).
	pub sum: f64,
	/// Number of observations.
	pub count: f64,
}

impl Histogram {
	/// Mean of the observations since `earlier`, in milliseconds; `None` if there were none.
	pub fn mean_ms_since(&self, earlier: &Histogram) -> Option<f64> {
		let n = self.count - earlier.count;
		(n >= 1.0).then(|| (self.sum - earlier.sum) * 1000.0 / n)
	}
}

/// What a scrape of one node gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeMetrics {
	/// `substrate_block_height{status="best"}`.
	pub best: Option<u64>,
	/// `substrate_block_height{status="finalized"}`.
	pub finalized: Option<u64>,
	/// `substrate_proposer_block_constructed` (time to build a block this node authored).
	pub authoring: Histogram,
	/// `substrate_block_verification_and_import_time` (time to import a block).
	pub import: Histogram,
	/// Transactions ready in the pool (`substrate_ready_transactions_number`, or the
	/// fork-aware pool's `substrate_sub_txpool_view_ready_transactions`… gauges).
	pub pool_ready: Option<u64>,
	/// Why this node's proposer ended its proposals so far
	/// (`substrate_proposer_end_proposal_reason{reason=…}`: `hit_deadline`,
	/// `hit_block_weight_limit`, `hit_block_size_limit`, `no_more_transactions`), counts.
	pub end_proposal: std::collections::BTreeMap<String, u64>,
}

/// Parses a Prometheus text page into the metrics above, with a parser of the text format
/// (`prometheus-parse`): samples with timestamps, labels matched by name and exact value.
/// Lines that are not samples are skipped; a page that is not Prometheus text gives nothing.
pub fn parse(page: &str) -> NodeMetrics {
	let mut m = NodeMetrics::default();
	let Ok(scrape) = Scrape::parse(page.lines().map(|l| Ok(l.to_owned()))) else {
		return m;
	};
	let mut values: HashMap<&str, f64> = HashMap::new();
	for sample in &scrape.samples {
		let value = match sample.value {
			Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
			Value::Histogram(_) | Value::Summary(_) => continue,
		};
		match sample.metric.as_str() {
			"substrate_proposer_end_proposal_reason" => {
				if let Some(reason) = sample.labels.get("reason") {
					*m.end_proposal.entry(reason.to_string()).or_default() += value as u64;
				}
			}
			"substrate_block_height" => match sample.labels.get("status") {
				Some("best") => m.best = Some(value as u64),
				Some("finalized") => m.finalized = Some(value as u64),
				_ => {}
			},
			name => *values.entry(name).or_default() += value,
		}
	}
	let histogram = |base: &str| Histogram {
		sum: values
			.get(format!("{base}_sum").as_str())
			.copied()
			.unwrap_or(0.0),
		count: values
			.get(format!("{base}_count").as_str())
			.copied()
			.unwrap_or(0.0),
	};
	m.pool_ready = [
		"substrate_ready_transactions_number",
		"substrate_sub_txpool_mempool_len",
	]
	.iter()
	.find_map(|n| values.get(n).map(|v| *v as u64));
	m.authoring = histogram("substrate_proposer_block_constructed");
	m.import = histogram("substrate_block_verification_and_import_time");
	m
}

/// Scrapes `url` (`http://127.0.0.1:port/metrics` or without the path) within `timeout`.
pub(crate) async fn scrape(url: &str, timeout: Duration) -> Result<NodeMetrics, String> {
	let page = tokio::time::timeout(timeout, fetch(url))
		.await
		.map_err(|_| format!("no answer from {url} within {timeout:?}"))??;
	Ok(parse(&page))
}

async fn fetch(url: &str) -> Result<String, String> {
	let rest = url
		.strip_prefix("http://")
		.ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
	let (host, path) = match rest.split_once('/') {
		Some((h, p)) => (h, format!("/{p}")),
		None => (rest, "/metrics".to_string()),
	};
	let path = if path == "/" {
		"/metrics".to_string()
	} else {
		path
	};
	let mut stream = TcpStream::connect(host)
		.await
		.map_err(|e| format!("connect to {host}: {e}"))?;
	let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
	stream
		.write_all(request.as_bytes())
		.await
		.map_err(|e| format!("send to {host}: {e}"))?;
	let mut body = Vec::new();
	stream
		.take(MAX_PAGE as u64)
		.read_to_end(&mut body)
		.await
		.map_err(|e| format!("read from {host}: {e}"))?;
	let text = String::from_utf8_lossy(&body);
	let (head, page) = text
		.split_once("\r\n\r\n")
		.ok_or_else(|| format!("{url}: not an HTTP response"))?;
	if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
		let status = head.lines().next().unwrap_or_default();
		return Err(format!("{url}: {status}"));
	}
	Ok(page.to_string())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn heights_and_histograms_are_read_from_a_page() {
		let page = "# HELP substrate_block_height Block height info of the chain\n\
			substrate_block_height{status=\"best\",chain=\"fork\"} 42\n\
			substrate_block_height{status=\"finalized\",chain=\"fork\"} 40\n\
			substrate_block_height{status=\"sync_target\",chain=\"fork\"} 42\n\
			substrate_proposer_block_constructed_bucket{le=\"0.005\",chain=\"fork\"} 3\n\
			substrate_proposer_block_constructed_sum{chain=\"fork\"} 0.25\n\
			substrate_proposer_block_constructed_count{chain=\"fork\"} 5\n\
			substrate_block_verification_and_import_time_sum{chain=\"fork\"} 1.5\n\
			substrate_block_verification_and_import_time_count{chain=\"fork\"} 30\n";
		let m = parse(page);
		assert_eq!(m.best, Some(42));
		assert_eq!(m.finalized, Some(40));
		assert_eq!(
			m.authoring,
			Histogram {
				sum: 0.25,
				count: 5.0
			}
		);
		assert_eq!(m.import.count, 30.0);
		let later = Histogram {
			sum: 0.75,
			count: 6.0,
		};
		assert_eq!(later.mean_ms_since(&m.authoring), Some(500.0));
		assert_eq!(m.authoring.mean_ms_since(&m.authoring), None);
	}

	#[test]
	fn timestamps_types_and_exact_labels_are_respected() {
		// A sample's timestamp is not its value; `substatus="best"` is not `status="best"`;
		// a histogram typed as such keeps its `_sum` and `_count`.
		let page = "# TYPE substrate_block_height gauge\n\
			substrate_block_height{substatus=\"best\",chain=\"fork\"} 7 1700000000000\n\
			substrate_block_height{status=\"best\",chain=\"fork\"} 42 1700000000000\n\
			substrate_block_height{chain=\"fork\",status=\"finalized\"} 40\n\
			# TYPE substrate_proposer_block_constructed histogram\n\
			substrate_proposer_block_constructed_bucket{le=\"0.5\",chain=\"fork\"} 5\n\
			substrate_proposer_block_constructed_bucket{le=\"+Inf\",chain=\"fork\"} 5\n\
			substrate_proposer_block_constructed_sum{chain=\"fork\"} 0.25 1700000000000\n\
			substrate_proposer_block_constructed_count{chain=\"fork\"} 5\n\
			substrate_proposer_end_proposal_reason{reason=\"hit_deadline\"} 3\n\
			substrate_proposer_end_proposal_reason{reason=\"no_more_transactions\"} 9\n\
			substrate_ready_transactions_number 12\n";
		let m = parse(page);
		assert_eq!(m.best, Some(42));
		assert_eq!(m.finalized, Some(40));
		assert_eq!(
			m.authoring,
			Histogram {
				sum: 0.25,
				count: 5.0
			}
		);
		assert_eq!(m.pool_ready, Some(12));
		assert_eq!(m.end_proposal.get("hit_deadline"), Some(&3));
		assert_eq!(m.end_proposal.get("no_more_transactions"), Some(&9));
		assert_eq!(parse("<html>not metrics</html>"), NodeMetrics::default());
	}
}
