//! The compiler of a fork profile: one function per profile section (`set`, `delete`,
//! `authorities`, `sudo`, `code`, `rebase-block-numbers`, `fund`), each checking its names, keys
//! and values against the snapshot's metadata and collecting every problem, then the two
//! passes over the snapshot that read what must be read before the spec is streamed (items
//! whose keys hold block numbers; funded accounts and the issuance).

use super::*;

/// Compiles the profile into keys and values, checking every name, key and value against the
/// metadata; returns all problems at once. Also reads what must be read before streaming.
// The fork's whole context, passed as borrowed parts: a struct of references would only move
// the same list elsewhere.
#[allow(clippy::too_many_arguments)]
pub(super) fn compile(
	opts: &ForkOptions,
	profile: &Profile,
	meta: &Meta,
	header: &stagenet_snapshot::format::Header,
	h: u64,
	reader: &mut Reader,
	warnings: &mut Vec<String>,
	progress: &mut dyn FnMut(&str),
) -> Result<(Plan, Option<u64>)> {
	let mut plan = Plan::default();
	let mut problems = Problems::default();
	let main_file = profile
		.files
		.first()
		.cloned()
		.unwrap_or_else(|| opts.profile.clone());

	plan_sets(profile, meta, &mut plan, &mut problems);
	plan_deletes(profile, meta, &mut plan, &mut problems);
	plan_authorities(opts, profile, meta, &main_file, &mut plan, &mut problems)?;
	plan_sudo(profile, meta, &mut plan, &mut problems);
	plan_code(opts, profile, header, &mut plan)?;
	let (warmup, key_rules) =
		plan_rebase(opts, profile, meta, h, &main_file, &mut plan, &mut problems)?;
	let fund_plan = plan_fund(
		profile,
		meta,
		&main_file,
		&mut problems,
		warnings,
		progress,
	);

	plan.skipped = std::mem::take(&mut problems.skipped);
	if !problems.list.is_empty() {
		return Err(ForkError::Profile {
			problems: problems.list,
		});
	}
	apply_key_rebase(reader, meta, h, warmup, key_rules, &mut plan)?;
	apply_funding(
		reader,
		profile,
		meta,
		fund_plan,
		&main_file,
		&mut plan,
		&mut problems,
		progress,
	)?;
	Ok((plan, warmup))
}

/// The profile's `set` entries: each value encoded at its key.
fn plan_sets(profile: &Profile, meta: &Meta, plan: &mut Plan, problems: &mut Problems) {
	let types = meta.types();
	for s in &profile.set {
		let Some(item) = problems.resolve(
			meta,
			&s.file,
			&format!("{}.item", s.path),
			&s.entry.item,
			s.entry.optional,
		) else {
			continue;
		};
		let key = match storage_key(meta, &item, s.entry.key.as_ref(), false) {
			Ok(k) => k,
			Err(e) => {
				problems.push(&s.file, format!("{}.key", s.path), e);
				continue;
			}
		};
		match encode::encode(types, item.value_ty, &s.entry.value) {
			Ok(v) => {
				plan.sets.insert(key, v);
			}
			Err(e) => problems.push(
				&s.file,
				format!("{}.value{}", s.path, e.path),
				format!("does not encode as `{}`: {e}", meta.describe(item.value_ty)),
			),
		}
	}
}

/// The profile's `delete` and `delete_prefix` entries.
fn plan_deletes(profile: &Profile, meta: &Meta, plan: &mut Plan, problems: &mut Problems) {
	for d in &profile.delete {
		let Some(item) =
			problems.resolve(meta, &d.file, &d.path, d.entry.item(), d.entry.optional())
		else {
			continue;
		};
		if !item.keys.is_empty() && d.entry.key().is_none() {
			problems.push(
				&d.file,
				&d.path,
				format!(
					"`{}` is a map; `delete` needs its key (hint: use `delete-prefix` to remove \
					 every entry)",
					item.label()
				),
			);
			continue;
		}
		match storage_key(meta, &item, d.entry.key(), false) {
			Ok(k) => {
				plan.deletes.insert(k);
			}
			Err(e) => problems.push(&d.file, format!("{}.key", d.path), e),
		}
	}
	for d in &profile.delete_prefix {
		let Some(item) =
			problems.resolve(meta, &d.file, &d.path, d.entry.item(), d.entry.optional())
		else {
			continue;
		};
		match storage_key(meta, &item, d.entry.key(), true) {
			Ok(k) => plan.delete_prefixes.push(k),
			Err(e) => problems.push(&d.file, format!("{}.key", d.path), e),
		}
	}

}

/// The profile's `authorities`: dev keys for Aura and GRANDPA (and the well-known key).
fn plan_authorities(
	opts: &ForkOptions,
	profile: &Profile,
	meta: &Meta,
	main_file: &Path,
	plan: &mut Plan,
	problems: &mut Problems,
) -> Result<()> {
	let types = meta.types();
	let a = &profile.authorities;
	let count = opts.validators.or(a.validators);
	match count {
		None => problems.push(
			&main_file,
			"authorities",
			"no validators: the fork would keep the source's authorities and never produce a \
			 block (hint: add `authorities: { validators: 3 }` or pass `--validators 3`)",
		),
		Some(0) => problems.push(&main_file, "authorities.validators", "must be at least 1"),
		Some(n) => {
			let mut max: Option<(u64, String)> = None;
			for p in ["Aura", "Grandpa"] {
				if let Some(m) = meta.constant_uint(p, "MaxAuthorities") {
					if max.as_ref().is_none_or(|(cur, _)| m < *cur) {
						max = Some((m, format!("{p}::MaxAuthorities")));
					}
				}
			}
			if let Some((m, constant)) = max {
				if n as u64 > m {
					return Err(ForkError::TooManyValidators {
						asked: n,
						max: m,
						constant,
					});
				}
			}
			// The dev URIs, then `//Validator7`, `//Validator8` … (their keys must be inserted
			// into those nodes' keystores; `--alice` … cover the first six).
			let uris: Vec<String> = a.uris.clone().unwrap_or_else(|| {
				keys::DEV_URIS
					.iter()
					.map(|s| s.to_string())
					.chain((keys::DEV_URIS.len() + 1..=n).map(|i| format!("//Validator{i}")))
					.collect()
			});
			if n > uris.len() {
				problems.push(
					&main_file,
					"authorities.uris",
					format!(
						"{n} validators asked for but only {} secret URIs are listed (hint: list \
						 more under `authorities.uris`, or remove the list to use the dev URIs)",
						uris.len()
					),
				);
			} else {
				let uris = &uris[..n];
				let mut vals = Vec::new();
				for (i, uri) in uris.iter().enumerate() {
					match (keys::sr25519_public(uri), keys::ed25519_public(uri)) {
						(Ok(s), Ok(e)) => vals.push(Validator {
							uri: uri.clone(),
							aura: format!("0x{}", hex::encode(s)),
							grandpa: format!("0x{}", hex::encode(e)),
						}),
						(Err(e), _) | (_, Err(e)) => {
							problems.push(&main_file, format!("authorities.uris[{i}]"), e.to_string())
						}
					}
				}
				// Aura's list is required. GRANDPA's storage items are required when the profile
				// names them; by default they are written where the runtime has them:
				// pallet_grandpa kept its authorities only under the well-known key
				// `:grandpa_authorities` (always written below) before `Grandpa.Authorities`
				// existed, so early runtimes lack that item.
				let aura_name = a.aura.clone().unwrap_or_else(|| "Aura.Authorities".into());
				let grandpa_name = a
					.grandpa
					.clone()
					.unwrap_or_else(|| "Grandpa.Authorities".into());
				let set_id_name = a
					.grandpa_set_id
					.clone()
					.unwrap_or_else(|| "Grandpa.CurrentSetId".into());
				let aura_yaml =
					Yaml::Sequence(uris.iter().map(|u| Yaml::String(u.clone())).collect());
				let grandpa_yaml = Yaml::Sequence(
					vals.iter()
						.map(|v| {
							Yaml::Sequence(vec![
								Yaml::String(v.grandpa.clone()),
								Yaml::Number(1.into()),
							])
						})
						.collect(),
				);
				for (name, yaml, path, optional, absent_means) in [
					(&aura_name, &aura_yaml, "authorities.aura", false, ""),
					(
						&grandpa_name,
						&grandpa_yaml,
						"authorities.grandpa",
						a.grandpa.is_none(),
						"this runtime keeps the GRANDPA authorities only under \
						 `:grandpa_authorities`, which is written",
					),
					(
						&set_id_name,
						&Yaml::Number(0.into()),
						"authorities.grandpa-set-id",
						a.grandpa_set_id.is_none(),
						"this runtime has no set id to reset; the fork starts at GRANDPA set 0",
					),
				] {
					let Some(item) = problems.resolve(meta, &main_file, path, name, optional)
					else {
						if let Some(s) = problems.skipped.last_mut().filter(|s| s.path == path) {
							s.reason = format!("{}; {absent_means}", s.reason);
						}
						continue;
					};
					match encode::encode(types, item.value_ty, yaml) {
						Ok(v) => {
							plan.sets.insert(item.prefix.to_vec(), v);
						}
						Err(e) => problems.push(
							&main_file,
							path,
							format!("`{}` does not take dev keys: {e}", item.label()),
						),
					}
				}
				// `:grandpa_authorities`: version 1, then the list of (key, weight 1).
				let mut wk = vec![1u8];
				wk.extend_from_slice(&keys::compact_len(vals.len()));
				for v in &vals {
					wk.extend_from_slice(&hex::decode(&v.grandpa[2..]).unwrap_or_default());
					wk.extend_from_slice(&1u64.to_le_bytes());
				}
				plan.sets.insert(b":grandpa_authorities".to_vec(), wk);
				plan.validators = vals;
			}
		}
	}

	Ok(())
}

/// The profile's `sudo` key.
fn plan_sudo(profile: &Profile, meta: &Meta, plan: &mut Plan, problems: &mut Problems) {
	let types = meta.types();
	if let Some(s) = &profile.sudo {
		let (item_name, account) = match &s.entry {
			SudoSection::Account(a) => ("Sudo.Key".to_string(), a.clone()),
			SudoSection::Full { item, account } => (
				item.clone().unwrap_or_else(|| "Sudo.Key".into()),
				account.clone(),
			),
		};
		if let Some(item) = problems.resolve(meta, &s.file, "sudo", &item_name, false) {
			match encode::encode(types, item.value_ty, &Yaml::String(account.clone())) {
				Ok(v) => {
					plan.sudo = keys::account(&account).ok().map(|a| keys::ss58(&a));
					plan.sets.insert(item.prefix.to_vec(), v);
				}
				Err(e) => problems.push(&s.file, "sudo", format!("{e}")),
			}
		}
	}

}

/// The runtime override (`--code` or the profile's `code`).
fn plan_code(
	opts: &ForkOptions,
	profile: &Profile,
	header: &stagenet_snapshot::format::Header,
	plan: &mut Plan,
) -> Result<()> {
	let code_path = opts.code.clone().or_else(|| profile.code.clone());
	if let Some(path) = code_path {
		let bytes =
			stagenet_config::files::read_bounded(&path, "runtime override", MAX_WASM_BYTES)?;
		let rt = runtime_version_of_code(&bytes).ok_or_else(|| ForkError::Code {
			path: path.clone(),
			reason: "it is not a Substrate runtime (no `runtime_version` section in the wasm) \
			         (hint: pass the runtime's `.compact.compressed.wasm`)"
				.into(),
		})?;
		if let Some(src) = &header.runtime {
			if src.spec_name != rt.spec_name && !opts.allow_spec_name_change {
				return Err(ForkError::SpecNameChanged {
					path,
					code: rt.spec_name,
					snapshot: src.spec_name.clone(),
				});
			}
		}
		plan.sets.insert(b":code".to_vec(), bytes);
		plan.code = Some(rt);
	}

	Ok(())
}

/// The warm-up and the block-number items to rebase (`rebase-block-numbers`): the chosen
/// warm-up and the rules for items whose keys hold block numbers.
fn plan_rebase(
	opts: &ForkOptions,
	profile: &Profile,
	meta: &Meta,
	h: u64,
	main_file: &Path,
	plan: &mut Plan,
	problems: &mut Problems,
) -> Result<(Option<u64>, Vec<KeyRule>)> {
	let types = meta.types();
	let mut warmup = None;
	let rebase_wanted = !profile.rebase.is_empty() && !opts.no_rebase;
	let mut key_rules: Vec<KeyRule> = Vec::new();
	// The warm-up is a block number of the fork: it must fit the chain's block-number type,
	// also once moved to the snapshot block's phase (`period`).
	let given = match (opts.warmup, &profile.warmup) {
		(Some(w), _) => Some((w, "`--warmup` (or a scenario's `fork.warmup`)".to_string())),
		(None, Some(w)) => Some((w.entry, format!("`{}` in `{}`", w.path, w.file.display()))),
		(None, None) => None,
	};
	if let Some((w, from)) = &given {
		let (ty, max) = block_number_type(meta);
		let too_large = |why: String| ForkError::WarmupTooLarge {
			given: *w,
			from: from.clone(),
			ty: ty.clone(),
			max,
			why,
		};
		if u128::from(*w) > max {
			return Err(too_large(String::new()));
		}
		match rebase::try_choose_warmup(h, *w, profile.period) {
			Some(c) if u128::from(c) <= max => {}
			chosen => {
				return Err(too_large(format!(
					"; kept in phase with the snapshot block #{h} modulo the period {} it \
					 becomes {}",
					profile.period.unwrap_or(0),
					chosen.map_or_else(|| "larger than 2^64".to_string(), |c| c.to_string())
				)))
			}
		}
	}
	if rebase_wanted {
		match &given {
			None => problems.push(
				&main_file,
				"rebase-block-numbers.warmup",
				"missing: the fork block W at which ages and deadlines equal the source's \
				 (hint: `warmup: 100`, or pass `--warmup`)",
			),
			Some((w, _)) => warmup = rebase::try_choose_warmup(h, *w, profile.period),
		}
		for r in &profile.rebase {
			let Some(item) = problems.resolve(
				meta,
				&r.file,
				&format!("{}.item", r.path),
				r.entry.item(),
				r.entry.optional(),
			) else {
				continue;
			};
			let (value_paths, key) = match &r.entry {
				profile::RebaseItem::Item(_) => (vec![String::new()], None),
				profile::RebaseItem::Paths { value, key, .. } => (
					match (value, key) {
						(Some(v), _) => v.to_vec(),
						(None, Some(_)) => Vec::new(),
						(None, None) => vec![String::new()],
					},
					*key,
				),
			};
			let mut paths = Vec::new();
			for (j, text) in value_paths.iter().enumerate() {
				let at = if value_paths.len() > 1 {
					format!("{}.value[{j}]", r.path)
				} else {
					format!("{}.value", r.path)
				};
				match rebase::parse_path(text).and_then(|segs| {
					rebase::check_path(types, item.value_ty, &segs).map(|max| (segs, max))
				}) {
					Ok(p) => paths.push(p),
					Err(e) => problems.push(
						&r.file,
						at,
						format!(
							"path `{text}` in `{}` (`{}`): {e}",
							item.label(),
							meta.describe(item.value_ty)
						),
					),
				}
			}
			if let Some(k) = key {
				match rebase::check_key(types, &item, k) {
					Ok(max) => key_rules.push((item.clone(), k, max, paths.clone())),
					Err(e) => problems.push(&r.file, format!("{}.key", r.path), e),
				}
			} else if !paths.is_empty() {
				plan.rules.push(Rule {
					stats: rebase::RebaseStats {
						item: item.label(),
						..Default::default()
					},
					item,
					value_paths: paths,
					key: None,
				});
			}
		}
	}

	Ok((warmup, key_rules))
}

/// The funded accounts (`fund`), parsed now; their balances are read and raised later.
fn plan_fund(
	profile: &Profile,
	meta: &Meta,
	main_file: &Path,
	problems: &mut Problems,
	warnings: &mut Vec<String>,
	progress: &mut dyn FnMut(&str),
) -> Option<FundPlan> {
	let types = meta.types();
	let fund = &profile.fund;
	// Per funded account: its storage key, its id, the index of its `fund.accounts` entry, its
	// index within the entry, and the amount.
	let mut fund_plan: Option<FundPlan> = None;
	if !profile.accounts.is_empty() {
		let acc_name = fund
			.account_item
			.clone()
			.unwrap_or_else(|| "System.Account".into());
		let free = fund.free.clone().unwrap_or_else(|| "data.free".into());
		let providers = fund.providers.clone().unwrap_or_else(|| "providers".into());
		if let Some(item) =
			problems.resolve(meta, &main_file, "fund.account-item", &acc_name, false)
		{
			let mut ok = true;
			let mut segs = Vec::new();
			for (field, text) in [("fund.free", &free), ("fund.providers", &providers)] {
				match rebase::parse_path(text)
					.and_then(|s| rebase::check_path(types, item.value_ty, &s).map(|max| (s, max)))
				{
					Ok(s) => segs.push(s),
					Err(e) => {
						ok = false;
						problems.push(
							&main_file,
							field,
							format!("path `{text}` in `{}`: {e}", item.label()),
						);
					}
				}
			}
			// The balance type, for amounts that cannot fit it.
			let free_max = segs.first().map(|s| s.1).unwrap_or(u128::MAX);
			let balance = format!(
				"`{}` (`{}` `{free}`, at most {free_max})",
				uint_name(free_max),
				item.label()
			);
			if item.keys.len() != 1 {
				ok = false;
				problems.push(
					&main_file,
					"fund.account-item",
					format!("`{}` is not a map keyed by account", item.label()),
				);
			}
			let mut accounts = Vec::new();
			let mut deriver = keys::Deriver::default();
			let total_entries = profile.accounts.len();
			let mut last_report = Instant::now();
			for (entry, a) in profile.accounts.iter().enumerate() {
				if last_report.elapsed() >= PROGRESS_EVERY {
					last_report = Instant::now();
					progress(&format!(
						"deriving funded accounts: entry {entry} of {total_entries}, {} accounts",
						accounts.len()
					));
				}
				let amount = match parse_amount(&a.entry.amount) {
					Ok(n) if n > free_max => {
						problems.push(
							&a.file,
							format!("{}.amount", a.path),
							format!(
								"the funding amount `{n}` of account `{}` does not fit the balance \
								 type {balance} (hint: fund at most {free_max}; amounts are in \
								 the balance's smallest unit)",
								a.entry.label()
							),
						);
						None
					}
					Ok(n) => Some(n),
					Err(why) => {
						problems.push(&a.file, format!("{}.amount", a.path), why);
						None
					}
				};
				// `//Alice`, or `count` accounts of a template like `//stress//{i}`.
				let accts = match a.entry.expand_with(&mut deriver) {
					Ok(x) => x,
					Err((field, e)) => {
						problems.push(&a.file, format!("{}.{field}", a.path), e);
						continue;
					}
				};
				let Some(amount) = amount else {
					continue;
				};
				if ok {
					for (n, acct) in (0u32..).zip(accts) {
						match storage_key(
							meta,
							&item,
							Some(&Yaml::String(format!("0x{}", hex::encode(acct)))),
							false,
						) {
							Ok(k) => accounts.push((k, acct, entry, n, amount)),
							Err(e) => {
								problems.push(&a.file, format!("{}.account", a.path), e);
								break;
							}
						}
					}
				}
			}
			let mut issuance = Vec::new();
			for s in &profile.issuance {
				if let Some(it) = problems.resolve(meta, &s.file, &s.path, &s.entry, false) {
					if !it.keys.is_empty() || !rebase::is_uint(types, it.value_ty) {
						problems.push(
							&s.file,
							&s.path,
							format!(
								"`{}` (`{}`) is not a plain number",
								it.label(),
								meta.describe(it.value_ty)
							),
						);
					} else {
						issuance.push(it);
					}
				}
			}
			if profile.issuance.is_empty() {
				warnings.push(
					"`fund` lists no `issuance` items: total issuance will not match the \
					 balances (hint: add `issuance: [Balances.TotalIssuance]`)"
						.into(),
				);
			}
			if ok {
				let (free_segs, prov_segs) = (segs.remove(0), segs.remove(0));
				fund_plan = Some((item, free_segs, prov_segs.0, accounts, issuance));
			}
		}
	}

	fund_plan
}

/// Rebased keys: reads the items whose keys hold block numbers, deletes the old keys and
/// sets the new ones.
fn apply_key_rebase(
	reader: &mut Reader,
	meta: &Meta,
	h: u64,
	warmup: Option<u64>,
	key_rules: Vec<KeyRule>,
	plan: &mut Plan,
) -> Result<()> {
	let types = meta.types();
	if let Some(w) = warmup {
		let shift = Shift { h, w };
		for (item, index, max, paths) in key_rules {
			let mut stats = rebase::RebaseStats {
				item: item.label(),
				..Default::default()
			};
			let mut moved = Vec::new();
			scan_prefixes(reader, &[item.prefix.to_vec()], |k, v| {
				stats.entries += 1;
				let nk =
					rebase::map_key(types, &item, k, index, |n| shift.apply(n, max, &mut stats))
						.map_err(|reason| ForkError::Inconsistent {
							item: item.label(),
							reason,
						})?;
				let nv = if paths.is_empty() {
					v.to_vec()
				} else {
					rebase::map_value(types, item.value_ty, v, &paths, |n, m| {
						shift.apply(n, m, &mut stats)
					})
					.map_err(|reason| ForkError::Inconsistent {
						item: item.label(),
						reason,
					})?
				};
				moved.push((k.to_vec(), nk, nv));
				Ok(())
			})?;
			for (old, new, value) in moved {
				if old != new {
					plan.deletes.insert(old);
				}
				plan.sets.entry(new).or_insert(value);
			}
			plan.rules.push(Rule {
				item,
				value_paths: Vec::new(),
				key: Some((index, max)),
				stats,
			});
		}
	}

	Ok(())
}

/// Funding: reads the funded accounts and the issuance, adds the amounts.
fn apply_funding(
	reader: &mut Reader,
	profile: &Profile,
	meta: &Meta,
	fund_plan: Option<FundPlan>,
	main_file: &Path,
	plan: &mut Plan,
	problems: &mut Problems,
	progress: &mut dyn FnMut(&str),
) -> Result<()> {
	let types = meta.types();
	if let Some((item, (free, free_max), providers, accounts, issuance)) = fund_plan {
		let mut wanted: BTreeSet<Vec<u8>> = accounts.iter().map(|a| a.0.clone()).collect();
		wanted.extend(issuance.iter().map(|i| i.prefix.to_vec()));
		progress(&format!(
			"reading {} funded account(s) from the snapshot",
			accounts.len()
		));
		let found = lookup(reader, &wanted)?;
		let current = |k: &[u8], plan: &Plan| -> Option<Vec<u8>> {
			plan.sets.get(k).cloned().or_else(|| found.get(k).cloned())
		};
		let mut total: Option<u128> = Some(0);
		let mut overflowed: BTreeSet<usize> = BTreeSet::new();
		// Where each templated entry's line is in `plan.funded`.
		let mut groups: HashMap<usize, usize> = HashMap::new();
		let count = accounts.len();
		let mut last_report = Instant::now();
		for (done, (key, acct, entry, n, amount)) in accounts.into_iter().enumerate() {
			if last_report.elapsed() >= PROGRESS_EVERY {
				last_report = Instant::now();
				progress(&format!("funding accounts: {done} of {count}"));
			}
			let Some(sourced) = profile.accounts.get(entry) else {
				continue;
			};
			let written = &sourced.entry;
			let existing = current(&key, &plan);
			let new = existing.is_none();
			let base = existing
				.or_else(|| item.default.clone())
				.unwrap_or_default();
			let mut overflow = None;
			let mut value = rebase::map_value(
				types,
				item.value_ty,
				&base,
				&[(free.clone(), free_max)],
				|n, max| match n.checked_add(amount) {
					Some(x) if x <= max => x,
					_ => {
						overflow = Some(n);
						n
					}
				},
			)
			.map_err(|reason| ForkError::Inconsistent {
				item: item.label(),
				reason,
			})?;
			if let Some(balance) = overflow {
				// One problem per entry: a template's accounts overflow alike.
				if overflowed.insert(entry) {
					problems.push(
						&sourced.file,
						format!("{}.amount", sourced.path),
						format!(
							"the funding amount `{amount}` of account `{}` ({}) does not fit \
							 the balance type `{}` (at most {free_max}): its free balance in \
							 the snapshot is already {balance} (hint: fund at most {})",
							written.uri_of(n),
							keys::ss58(&acct),
							uint_name(free_max),
							free_max - balance
						),
					);
				}
				continue;
			}
			value = rebase::map_value(
				types,
				item.value_ty,
				&value,
				&[(providers.clone(), u128::MAX)],
				|n, _| n.max(1),
			)
			.map_err(|reason| ForkError::Inconsistent {
				item: item.label(),
				reason,
			})?;
			total = total.and_then(|t| t.checked_add(amount));
			plan.sets.insert(key, value);
			let Some(count) = written.count else {
				plan.funded.push(Funded {
					account: keys::ss58(&acct),
					given_as: written.account.clone(),
					amount,
					new,
					group: None,
				});
				continue;
			};
			// A templated entry is one line of the summary, however many accounts it names.
			let at = *groups.entry(entry).or_insert_with(|| {
				plan.funded.push(Funded {
					account: keys::ss58(&acct),
					given_as: written.account.clone(),
					amount: 0,
					new: false,
					group: Some(FundedGroup {
						count,
						first: written.first.unwrap_or(0),
						each: amount,
						new_accounts: 0,
						last_account: String::new(),
						label: written.label(),
					}),
				});
				plan.funded.len() - 1
			});
			if let Some(line) = plan.funded.get_mut(at) {
				line.amount = line.amount.saturating_add(amount);
				line.new |= new;
				if let Some(group) = line.group.as_mut() {
					group.new_accounts += u32::from(new);
					if n + 1 == count {
						group.last_account = keys::ss58(&acct);
					}
				}
			}
		}
		if !problems.list.is_empty() {
			return Err(ForkError::Profile {
				problems: std::mem::take(&mut problems.list),
			});
		}
		let Some(total) = total else {
			return Err(ForkError::Profile {
				problems: vec![Problem {
					file: main_file.to_path_buf(),
					path: "fund.accounts".into(),
					message: format!(
						"the funded amounts add up to more than {} (2^128 − 1), more than any \
						 balance type holds (hint: fund less)",
						u128::MAX
					),
				}],
			});
		};
		for it in issuance {
			let base = current(&it.prefix, &plan)
				.or_else(|| it.default.clone())
				.unwrap_or_default();
			let before = read_uint(meta, it.value_ty, &base).unwrap_or(0);
			let max = rebase::check_path(types, it.value_ty, &[]).unwrap_or(u128::MAX);
			let after = match before.checked_add(total) {
				Some(a) if a <= max => a,
				_ => {
					problems.push(
						&main_file,
						"fund.issuance",
						format!(
							"raising `{}` from {before} by the funded total {total} does not fit \
							 its type `{}` (at most {max}) (hint: fund at most {} in total)",
							it.label(),
							uint_name(max),
							max - before.min(max)
						),
					);
					continue;
				}
			};
			let value = rebase::map_value(
				types,
				it.value_ty,
				&base,
				&[(Vec::new(), u128::MAX)],
				|_, _| after,
			)
			.map_err(|reason| ForkError::Inconsistent {
				item: it.label(),
				reason,
			})?;
			plan.sets.insert(it.prefix.to_vec(), value);
			plan.issuance.push(IssuanceChange {
				item: it.label(),
				before,
				after,
			});
		}
		if !problems.list.is_empty() {
			return Err(ForkError::Profile {
				problems: std::mem::take(&mut problems.list),
			});
		}
	}
	Ok(())
}
