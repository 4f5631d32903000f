//! The one rule for showing a URL (an endpoint, a database): credentials are never printed,
//! stored or logged.
//!
//! - the password of the user info becomes `***` (`wss://user:***@host/…`; the user name
//!   stays, so that a wrong one can be seen);
//! - every query parameter's value becomes `***` (providers put API keys there; the names
//!   stay, so that the parameters passed can be seen);
//! - a fragment is dropped.
//!
//! Text without a `scheme://` (a file path) is shown as it is.

/// `url` with its credentials hidden (see the module documentation).
pub fn redact(url: &str) -> String {
	let Some(scheme_end) = url.find("://") else {
		return url.to_string();
	};
	let start = scheme_end + 3;
	let without_fragment = url.split('#').next().unwrap_or_default();
	let (before_query, query) = match without_fragment.split_once('?') {
		Some((b, q)) => (b, Some(q)),
		None => (without_fragment, None),
	};
	let authority_end = before_query[start..]
		.find('/')
		.map_or(before_query.len(), |i| start + i);
	let authority = &before_query[start..authority_end];
	let mut out = String::with_capacity(url.len());
	out.push_str(&before_query[..start]);
	match authority.rsplit_once('@') {
		Some((user_info, host)) => {
			match user_info.split_once(':') {
				Some((user, _password)) => {
					out.push_str(user);
					out.push_str(":***");
				}
				None => out.push_str(user_info),
			}
			out.push('@');
			out.push_str(host);
		}
		None => out.push_str(authority),
	}
	out.push_str(&before_query[authority_end..]);
	if let Some(query) = query {
		let masked: Vec<String> = query
			.split('&')
			.filter(|kv| !kv.is_empty())
			.map(|kv| match kv.split_once('=') {
				Some((k, _)) => format!("{k}=***"),
				None => kv.to_string(),
			})
			.collect();
		if !masked.is_empty() {
			out.push('?');
			out.push_str(&masked.join("&"));
		}
	}
	out
}

#[cfg(test)]
mod tests {
	use super::redact;

	#[test]
	fn passwords_query_values_and_fragments_are_never_shown() {
		assert_eq!(
			redact("wss://user:secret@rpc.example.com:443/ws?apikey=k#frag"),
			"wss://user:***@rpc.example.com:443/ws?apikey=***"
		);
		assert_eq!(
			redact("postgres://user:secret@host:5432/db"),
			"postgres://user:***@host:5432/db"
		);
		assert_eq!(
			redact("postgres://user@host/db?password=secret&sslmode=require"),
			"postgres://user@host/db?password=***&sslmode=***"
		);
		// A password holding `@` or `:` is hidden whole.
		assert_eq!(
			redact("postgres://u:p@ss:w@host/db"),
			"postgres://u:***@host/db"
		);
	}

	#[test]
	fn urls_without_credentials_and_paths_are_shown_as_they_are() {
		for plain in [
			"ws://127.0.0.1:9944",
			"wss://host:443/x",
			"ws://host/path@x",
			"postgres://host/db",
			"/tmp/a b?#%.db",
			"store.db",
		] {
			assert_eq!(redact(plain), plain);
		}
	}
}
