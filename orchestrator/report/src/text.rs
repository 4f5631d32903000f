//! Text helpers shared by the formats: cleaning and escaping of untrusted text, and the units
//! (weights, bytes, durations, times) every format shows the same way.

use std::borrow::Cow;

use stagenet_store::{Percentiles, RunReport, StressRecord, Verdict};

/// One line of untrusted text (a log line, a panic message) made safe to show anywhere:
/// terminal control sequences (ANSI colors) removed, line breaks and tabs turned into spaces,
/// other control characters and non-characters replaced by `�` (they are not allowed in XML).
pub(crate) fn clean_line(s: &str) -> Cow<'_, str> {
	let needs = s
		.chars()
		.any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}');
	if !needs {
		return Cow::Borrowed(s);
	}
	let mut out = String::with_capacity(s.len());
	let mut chars = s.chars().peekable();
	while let Some(c) = chars.next() {
		match c {
			'\u{1b}' => skip_escape(&mut chars),
			'\t' | '\n' => out.push(' '),
			'\r' => {
				if chars.peek() != Some(&'\n') {
					out.push(' ');
				}
			}
			c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
			c => out.push(c),
		}
	}
	Cow::Owned(out)
}

/// Skips the rest of an escape sequence whose `ESC` was just read: CSI (`ESC [ … final`),
/// OSC (`ESC ] … BEL` or `ESC ] … ESC \`) or a two-character sequence.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
	match chars.next() {
		Some('[') => {
			for c in chars.by_ref() {
				if ('\u{40}'..='\u{7e}').contains(&c) {
					break;
				}
			}
		}
		Some(']') => {
			while let Some(c) = chars.next() {
				if c == '\u{7}' {
					break;
				}
				if c == '\u{1b}' {
					if chars.peek() == Some(&'\\') {
						chars.next();
					}
					break;
				}
			}
		}
		_ => {}
	}
}

/// Escapes text for HTML and XML (element content and quoted attribute values), after
/// [`clean_line`].
pub(crate) fn escape_markup(s: &str) -> String {
	let clean = clean_line(s);
	let mut out = String::with_capacity(clean.len() + 8);
	for c in clean.chars() {
		match c {
			'&' => out.push_str("&amp;"),
			'<' => out.push_str("&lt;"),
			'>' => out.push_str("&gt;"),
			'"' => out.push_str("&quot;"),
			'\'' => out.push_str("&#39;"),
			c => out.push(c),
		}
	}
	out
}

/// A `ref_time` weight (picoseconds) as time: `240.0 ms`, `1.25 s`.
pub(crate) fn ref_time(ps: u64) -> String {
	let v = ps as f64;
	if ps >= 1_000_000_000_000 {
		format!("{:.2} s", v / 1e12)
	} else if ps >= 1_000_000_000 {
		format!("{:.1} ms", v / 1e9)
	} else if ps >= 1_000_000 {
		format!("{:.1} µs", v / 1e6)
	} else if ps >= 1_000 {
		format!("{:.1} ns", v / 1e3)
	} else {
		format!("{ps} ps")
	}
}

/// A byte count: `512 B`, `1.5 KiB`, `3.75 MiB`.
pub(crate) fn bytes(n: u64) -> String {
	const KIB: f64 = 1024.0;
	let v = n as f64;
	if n < 1024 {
		format!("{n} B")
	} else if v < KIB * KIB {
		format!("{:.1} KiB", v / KIB)
	} else if v < KIB * KIB * KIB {
		format!("{:.2} MiB", v / (KIB * KIB))
	} else {
		format!("{:.2} GiB", v / (KIB * KIB * KIB))
	}
}

/// `12 keys, 1.5 KiB`, or `–` for none.
pub(crate) fn keys_bytes(keys: u64, b: u64) -> String {
	if keys == 0 && b == 0 {
		"–".to_owned()
	} else {
		format!(
			"{keys} key{}, {}",
			if keys == 1 { "" } else { "s" },
			bytes(b)
		)
	}
}

/// A percentage with one decimal: `12.0 %`.
pub(crate) fn percent(p: f64) -> String {
	format!("{p:.1} %")
}

/// A duration in milliseconds: `850 ms`, `12.0 s`, `4m 12s`, `1h 02m`.
pub(crate) fn duration_ms(ms: i64) -> String {
	let sign = if ms < 0 { "-" } else { "" };
	let ms = ms.unsigned_abs();
	if ms < 1_000 {
		format!("{sign}{ms} ms")
	} else if ms < 60_000 {
		format!("{sign}{:.1} s", ms as f64 / 1000.0)
	} else if ms < 3_600_000 {
		format!("{sign}{}m {:02}s", ms / 60_000, (ms % 60_000) / 1000)
	} else {
		format!(
			"{sign}{}h {:02}m",
			ms / 3_600_000,
			(ms % 3_600_000) / 60_000
		)
	}
}

/// Milliseconds as `45.5 ms` (one decimal).
pub(crate) fn millis(ms: f64) -> String {
	format!("{ms:.1} ms")
}

/// A latency in milliseconds: `850.5 ms` below a second, `12.25 s` above.
pub(crate) fn latency(ms: f64) -> String {
	if ms.abs() < 1000.0 {
		format!("{ms:.1} ms")
	} else {
		format!("{:.2} s", ms / 1000.0)
	}
}

/// Latency percentiles: `p50 6.00 s · p95 12.25 s · p99 18.00 s · max 36.00 s`.
pub(crate) fn percentiles(p: &Percentiles) -> String {
	format!(
		"p50 {} · p95 {} · p99 {} · max {}",
		latency(p.p50),
		latency(p.p95),
		latency(p.p99),
		latency(p.max)
	)
}

/// A rate in transactions per second: `2000.2 tx/s`.
pub(crate) fn tps(v: f64) -> String {
	format!("{v:.1} tx/s")
}

/// `limit: weight — normal-class weight at 98 % …` (the detail left out when empty), cleaned.
pub(crate) fn limit_line(s: &StressRecord) -> String {
	let detail = clean_line(&s.limit_detail);
	if detail.trim().is_empty() {
		format!("limit: {}", clean_line(&s.limit))
	} else {
		format!("limit: {} — {detail}", clean_line(&s.limit))
	}
}

/// `n word` with an `s` unless `n` is 1 (`1 block`, `3 blocks`).
pub(crate) fn plural(n: u64, word: &str) -> String {
	if n == 1 {
		format!("{n} {word}")
	} else {
		format!("{n} {word}s")
	}
}

/// Civil date and time (UTC) of Unix milliseconds: (year, month, day, hour, minute, second).
fn civil(ms: i64) -> (i64, u32, u32, u32, u32, u32) {
	let secs = ms.div_euclid(1000);
	let days = secs.div_euclid(86_400);
	let rem = secs.rem_euclid(86_400);
	// Howard Hinnant's `civil_from_days`.
	let z = days + 719_468;
	let era = z.div_euclid(146_097);
	let doe = z.rem_euclid(146_097);
	let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
	let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	let mp = (5 * doy + 2) / 153;
	let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
	let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
	let year = yoe + era * 400 + i64::from(month <= 2);
	(
		year,
		month,
		day,
		(rem / 3600) as u32,
		((rem % 3600) / 60) as u32,
		(rem % 60) as u32,
	)
}

/// Unix milliseconds as `2025-03-14 10:15:00 UTC`.
pub(crate) fn datetime(ms: i64) -> String {
	let (y, mo, d, h, mi, s) = civil(ms);
	format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Unix milliseconds as the time of day (`10:19:36`, UTC).
pub(crate) fn time_of_day(ms: i64) -> String {
	let (_, _, _, h, mi, s) = civil(ms);
	format!("{h:02}:{mi:02}:{s:02}")
}

/// A long hex hash shortened to `0x1234…cdef`.
pub(crate) fn short_hash(h: &str) -> String {
	let chars: Vec<char> = h.chars().collect();
	if chars.len() <= 14 {
		return h.to_owned();
	}
	let head: String = chars[..6].iter().collect();
	let tail: String = chars[chars.len() - 4..].iter().collect();
	format!("{head}…{tail}")
}

/// The verdict in capitals (`PASS`, `FAIL`, `BAD INPUT`, `INFRASTRUCTURE`).
pub(crate) fn verdict_label(v: Verdict) -> String {
	v.as_str().replace('-', " ").to_uppercase()
}

/// One sentence on why the verdict is what it is (`1 of 7 gates failed`).
pub(crate) fn verdict_reason(report: &RunReport) -> String {
	let total = report.gates.len();
	let failed = report.gates.iter().filter(|g| !g.passed).count();
	let gates = if total == 0 {
		"no gates".to_owned()
	} else if failed == 0 {
		format!("all {total} gates passed")
	} else {
		format!("{failed} of {total} gates failed")
	};
	match &report.run.error {
		Some(e) => format!("{gates}; the run failed: {}", clean_line(e)),
		None => gates,
	}
}

/// The scenario name, else the run id: what a suite or a page is called.
pub(crate) fn title(report: &RunReport) -> &str {
	report.run.scenario.as_deref().unwrap_or(&report.run.id)
}

/// `old → new` of an upgrade (`?` when the new version is unknown).
pub(crate) fn versions(old: &str, new: Option<&str>) -> String {
	format!("{} → {}", clean_line(old), clean_line(new.unwrap_or("?")))
}

pub(crate) use stagenet_store::percentile;


#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn clean_line_strips_ansi_and_control_characters() {
		assert_eq!(clean_line("plain"), "plain");
		assert_eq!(
			clean_line("\u{1b}[1;31mERROR\u{1b}[0m tx\tpool\r\nnext\u{7}"),
			"ERROR tx pool next\u{FFFD}"
		);
		assert_eq!(
			clean_line("\u{1b}]0;title\u{7}after \u{1b}]8;;x\u{1b}\\link"),
			"after link"
		);
		assert_eq!(clean_line("a\u{FFFF}b\u{0}"), "a\u{FFFD}b\u{FFFD}");
	}

	#[test]
	fn markup_is_escaped() {
		assert_eq!(
			escape_markup("<a href=\"x\">'&'</a>"),
			"&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
		);
	}

	#[test]
	fn units() {
		assert_eq!(ref_time(240_000_000_000), "240.0 ms");
		assert_eq!(ref_time(2_000_000_000_000), "2.00 s");
		assert_eq!(ref_time(5_500_000), "5.5 µs");
		assert_eq!(ref_time(999), "999 ps");
		assert_eq!(bytes(512), "512 B");
		assert_eq!(bytes(1536), "1.5 KiB");
		assert_eq!(bytes(3 * 1024 * 1024 + 786_432), "3.75 MiB");
		assert_eq!(duration_ms(850), "850 ms");
		assert_eq!(duration_ms(12_000), "12.0 s");
		assert_eq!(duration_ms(252_000), "4m 12s");
		assert_eq!(duration_ms(3_720_000), "1h 02m");
		assert_eq!(percent(12.25), "12.2 %");
		assert_eq!(latency(850.54), "850.5 ms");
		assert_eq!(latency(12_250.0), "12.25 s");
		assert_eq!(tps(2_000.25), "2000.2 tx/s");
		assert_eq!(plural(1, "block"), "1 block");
		assert_eq!(plural(0, "block"), "0 blocks");
	}

	#[test]
	fn dates_are_utc() {
		assert_eq!(datetime(0), "1970-01-01 00:00:00 UTC");
		assert_eq!(datetime(1_741_947_300_000), "2025-03-14 10:15:00 UTC");
		assert_eq!(datetime(951_782_400_000), "2000-02-29 00:00:00 UTC");
		assert_eq!(datetime(-1000), "1969-12-31 23:59:59 UTC");
		assert_eq!(time_of_day(1_741_947_576_500), "10:19:36");
	}

	#[test]
	fn percentiles_use_nearest_rank() {
		let v: Vec<i64> = (1..=20).collect();
		assert_eq!(percentile(&v, 50.0), Some(10));
		assert_eq!(percentile(&v, 95.0), Some(19));
		assert_eq!(percentile(&v, 100.0), Some(20));
		assert_eq!(percentile(&[7], 95.0), Some(7));
		assert_eq!(percentile::<i64>(&[], 50.0), None);
	}

	#[test]
	fn hashes_are_shortened() {
		assert_eq!(short_hash("0x1234"), "0x1234");
		assert_eq!(
			short_hash("0x91b171bb158e2d3848fa23a9f1c25182fb8e20313b2c1eb49219da7a70ce90c3"),
			"0x91b1…90c3"
		);
	}
}
