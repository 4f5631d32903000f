#!/usr/bin/env python3
"""A Bittensor validator for stagenet, written against the Bittensor SDK 9.0.0 only.

Connects to the fork's RPC node (STAGENET_RPC_URL), registers its hotkey on a subnet by burned
registration if it is not registered yet, optionally adds stake, waits for a validator permit,
then for --rounds rounds: reads the metagraph, sets weights over the other neurons' uids
(`set_weights`, waiting for inclusion), reads the `Weights` row back from chain storage, and
reports what the next epoch of the subnet made of them (incentive, dividends). Rounds start
--interval blocks apart.

Every step is one JSON line on stdout ({"event": ..., ...}); everything else (the SDK's own
logging, tracebacks) goes to stderr. Exit status: 0 done, 1 a step failed, 2 usage or set-up,
3 a step timed out. See README.md beside this file.
"""

import argparse
import os
import sys
import time

# The shared code sits beside this script; a process manager may start it from any directory.
# stagenet_sdk imports only the standard library, so the re-exec into the venv can follow it.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
from stagenet_sdk import StepFailed, common_arguments, main, reexec_in_venv  # noqa: E402

reexec_in_venv(__file__)

ROLE = "validator"


def add_stake(ctx, wallet):
    import bittensor

    args, st, netuid = ctx.args, ctx.subtensor, ctx.args.netuid
    hotkey, coldkey = wallet.hotkey.ss58_address, wallet.coldkeypub.ss58_address

    def stake():
        # SDK 9.0.0 reads Alpha/TotalHotkeyShares as U64F64; runtimes that store them as u64
        # (all of spec 204-218) make it raise, add_stake included (README.md).
        try:
            return ctx.call("get_stake", st.get_stake, coldkey_ss58=coldkey, hotkey_ss58=hotkey, netuid=netuid).tao, None
        except Exception as error:
            return None, f"{type(error).__name__}: {error}"

    before = stake()
    started = time.monotonic()
    ctx.sdk_errors.take()
    try:
        ok = ctx.call(
            "add_stake",
            st.add_stake,
            wallet=wallet,
            hotkey_ss58=hotkey,
            netuid=netuid,
            amount=bittensor.Balance.from_tao(args.stake),
            wait_for_inclusion=True,
            wait_for_finalization=args.wait_finalization,
        )
    except Exception as error:
        raise StepFailed(
            "add_stake",
            f"subtensor.add_stake raised {type(error).__name__}: {error} (SDK 9.0.0 reads the stake it "
            f"replaces as U64F64 SubtensorModule.Alpha/TotalHotkeyShares; see README.md)",
            sdk_errors=ctx.sdk_errors.take(),
        )
    if not ok:
        raise StepFailed(
            "add_stake", f"add_stake of {args.stake} TAO to {hotkey} on subnet {netuid} failed", sdk_errors=ctx.sdk_errors.take()
        )
    after = stake()
    ctx.emit(
        "staked",
        amount_tao=args.stake,
        stake_before=before[0],
        stake_after=after[0],
        stake_error=before[1] or after[1],
        unit=f"alpha of subnet {netuid}",
        elapsed=round(time.monotonic() - started, 3),
    )


def optional_storage(ctx, name, params):
    """A SubtensorModule storage value, or None where the runtime has no such item."""
    try:
        value = ctx.call(name, ctx.subtensor.query_subtensor, name, params=params)
    except Exception:
        return None
    return getattr(value, "value", value)


def check_hyperparameters(ctx, hotkey):
    """What decides whether set_weights can work: the version key, commit-reveal, the weight limits."""
    from bittensor.core.settings import version_as_int

    args, st, netuid = ctx.args, ctx.subtensor, ctx.args.netuid
    chain_key = int(ctx.call("WeightsVersionKey", st.get_hyperparameter, "WeightsVersionKey", netuid) or 0)
    version_key = version_as_int if args.version_key is None else args.version_key
    commit_reveal = bool(ctx.call("commit_reveal_enabled", st.commit_reveal_enabled, netuid))
    params = {
        "weights_version_key": chain_key,
        "version_key": version_key,
        "sdk_version_as_int": version_as_int,
        "commit_reveal_enabled": commit_reveal,
        "weights_rate_limit": ctx.call("weights_rate_limit", st.weights_rate_limit, netuid),
        "min_allowed_weights": ctx.call("min_allowed_weights", st.min_allowed_weights, netuid),
        "max_weight_limit": ctx.call("max_weight_limit", st.max_weight_limit, netuid),
        # The chain also wants the hotkey's stake on the subnet >= WeightsMinStake.
        "weights_min_stake": optional_storage(ctx, "WeightsMinStake", None),
        "hotkey_alpha": optional_storage(ctx, "TotalHotkeyAlpha", [hotkey, netuid]),
    }
    ctx.emit("hyperparameters", **params)
    if chain_key and version_key < chain_key:
        raise StepFailed(
            "version_key",
            f"subnet {netuid}'s WeightsVersionKey is {chain_key} and this validator sends {version_key}: the chain "
            f"accepts set_weights only when version_key >= WeightsVersionKey (else IncorrectWeightVersionKey); "
            f"pass --version-key or lower it (AdminUtils.sudo_set_weights_version_key)",
        )
    if commit_reveal and args.commit_reveal == "fail":
        raise StepFailed(
            "commit_reveal",
            f"subnet {netuid} has CommitRevealWeightsEnabled, so SDK 9.0.0's set_weights would send "
            f"commit_crv3_weights (a drand time-lock commit that the chain reveals with drand pulses its Drand "
            f"pallet fetches over HTTP, which a sealed fork cannot; runtimes before the Drand pallet lack the "
            f"call); disable it (AdminUtils.sudo_set_commit_reveal_weights_enabled) or pass --commit-reveal allow",
        )
    return params


def has_permit(ctx, uid):
    permits = ctx.call("ValidatorPermit", ctx.subtensor.query_subtensor, "ValidatorPermit", params=[ctx.args.netuid])
    permits = getattr(permits, "value", permits) or []
    return uid < len(permits) and bool(permits[uid])


def plan_weights(ctx, uid, rows, params):
    """The uids to weight and their weights: --targets or every other neuron; the validator's own
    uid joins when the subnet's MinAllowedWeights asks for more uids than the others."""
    args = ctx.args
    if args.targets:
        missing = [t for t in args.targets if t not in rows]
        if missing:
            raise StepFailed("weights", f"--targets {missing} are not uids of subnet {args.netuid}")
        uids = sorted(set(args.targets))
    else:
        uids = sorted(u for u in rows if u != uid)
    required = min(len(rows), int(params["min_allowed_weights"] or 0))
    if len(uids) < required or not uids:
        uids = sorted(set(uids) | {uid})
    weights = [1.0 if args.weights == "uniform" else float(u + 1) for u in uids]
    limit = params["max_weight_limit"]
    share = max(weights) / sum(weights)
    if uids != [uid] and limit is not None and limit < 1.0 and share > limit + 1e-9:
        raise StepFailed(
            "weights",
            f"the largest weight would be {share:.4f} of the total, above subnet {args.netuid}'s MaxWeightsLimit "
            f"{limit:.4f} (the chain rejects it: MaxWeightExceeded); weight more uids or raise the limit",
        )
    if len(uids) < required:
        raise StepFailed(
            "weights", f"subnet {args.netuid} asks for at least {required} weights (MinAllowedWeights); it has {len(rows)} uids"
        )
    return uids, weights


def wait_rate_limit(ctx, uid):
    """set_weights in SDK 9.0.0 makes no attempt unless blocks_since_last_update > weights_rate_limit."""
    st, netuid = ctx.subtensor, ctx.args.netuid
    since = ctx.call("blocks_since_last_update", st.blocks_since_last_update, netuid, uid)
    limit = ctx.call("weights_rate_limit", st.weights_rate_limit, netuid)
    if since is None or limit is None or since > limit:
        return 0
    wait = limit - since + 1
    ctx.emit("rate_limit_wait", blocks=wait, blocks_since_last_update=since, weights_rate_limit=limit)
    ctx.wait_for_block(ctx.block() + wait, "WeightsSetRateLimit")
    return wait


def read_back(ctx, uid, uids, weights, params):
    """Reads SubtensorModule.Weights for the subnet and compares the validator's row with what
    the SDK sent (its own conversion: max-upscaled to u16, zeros dropped)."""
    import numpy as np
    from bittensor.utils.weight_utils import convert_weights_and_uids_for_emit

    st, netuid = ctx.subtensor, ctx.args.netuid
    block = ctx.block()
    table = ctx.call("weights", st.weights, netuid, block=block)
    plain = lambda x: getattr(x, "value", x)  # noqa: E731  (ScaleObj or plain value)
    row = next((list(plain(w) or []) for u, w in table if int(plain(u)) == uid), [])
    row = [(int(plain(d)), int(plain(w))) for d, w in row]
    sent_uids, sent_vals = convert_weights_and_uids_for_emit(np.array(uids, dtype=np.int64), np.array(weights, dtype=np.float32))
    expected = sorted(zip([int(u) for u in sent_uids], [int(v) for v in sent_vals]))
    got = sorted(row)
    matches = len(got) == len(expected) and all(
        gu == eu and abs(gw - ew) <= 1 for (gu, gw), (eu, ew) in zip(got, expected)
    )
    ctx.emit(
        "weights_readback",
        block=block,
        uid=uid,
        weights=got,
        expected=expected,
        matches=matches,
        rows=len(table),
        pending_reveal=params["commit_reveal_enabled"],
    )
    if not matches and not params["commit_reveal_enabled"]:
        raise StepFailed("weights_readback", f"Weights[{netuid}][{uid}] on chain is {got}, expected {expected}")


def run(ctx, wallet):
    args, netuid = ctx.args, ctx.args.netuid
    if args.rounds < 1 or args.stake < 0 or (args.interval is not None and args.interval < 0):
        raise StepFailed("arguments", "--rounds must be >= 1, --stake and --interval >= 0")
    tempo = ctx.require_subnet()
    uid = ctx.register(wallet)
    if args.stake > 0:
        add_stake(ctx, wallet)
    params = check_hyperparameters(ctx, wallet.hotkey.ss58_address)

    if not has_permit(ctx, uid):
        blocks = args.permit_epochs * (tempo + 1) + 2
        ctx.emit("permit_wait", uid=uid, max_blocks=blocks)
        ctx.wait_until(
            "validator_permit",
            lambda: has_permit(ctx, uid),
            blocks,
            f"uid {uid} has no validator permit on subnet {netuid} (permits go to the top "
            f"MaxAllowedValidators by stake at each epoch: --stake helps)",
        )
    ctx.emit("validator_permit", uid=uid, block=ctx.block())

    interval = args.interval if args.interval is not None else tempo + 1
    next_start = None
    for number in range(1, args.rounds + 1):
        ctx.check_runtime()
        if next_start is not None:
            ctx.wait_for_block(next_start, f"round {number}: --interval {interval}")
        source, block, rows = ctx.neurons()
        if uid not in rows or rows[uid]["hotkey"] != wallet.hotkey.ss58_address:
            raise StepFailed("metagraph", f"uid {uid} no longer belongs to {wallet.hotkey.ss58_address} (deregistered?)")
        uids, weights = plan_weights(ctx, uid, rows, params)
        ctx.emit("metagraph", round=number, source=source, block=block, n=len(rows), uid=uid, targets=uids)
        wait_rate_limit(ctx, uid)

        started = time.monotonic()
        before = ctx.block()
        ctx.sdk_errors.take()
        ok, message = ctx.call(
            "set_weights",
            ctx.subtensor.set_weights,
            wallet=wallet,
            netuid=netuid,
            uids=uids,
            weights=weights,
            version_key=params["version_key"],
            wait_for_inclusion=True,
            wait_for_finalization=args.wait_finalization,
            max_retries=1,
        )
        after = ctx.block()
        ctx.emit(
            "set_weights",
            round=number,
            success=bool(ok),
            message=message,
            uids=uids,
            weights=weights,
            version_key=params["version_key"],
            commit_reveal=params["commit_reveal_enabled"],
            block_before=before,
            block_after=after,
            elapsed=round(time.monotonic() - started, 3),
        )
        if not ok:
            raise StepFailed("set_weights", f"set_weights failed: {message}", sdk_errors=ctx.sdk_errors.take())
        read_back(ctx, uid, uids, weights, params)
        next_start = after + interval
        # Read after inclusion: an epoch runs in on_initialize, before the block's extrinsics,
        # so the first epoch that sees these weights is the next change of the marker.
        marker = ctx.epoch_marker(tempo)

        if args.no_epoch_wait:
            continue

        def next_epoch():
            current = ctx.epoch_marker(tempo)
            return current if current != marker else None

        changed = ctx.wait_until(
            "epoch",
            next_epoch,
            tempo + 3,
            f"no epoch of subnet {netuid} (tempo {tempo}) after set_weights",
        )
        source, block, rows = ctx.neurons()
        ctx.emit(
            "epoch",
            round=number,
            block=block,
            epoch_marker=changed,
            epoch_source=ctx.epoch_source,
            source=source,
            validator={k: rows.get(uid, {}).get(k) for k in ("uid", "dividends", "emission", "incentive")},
            targets=[
                {k: rows[u].get(k) for k in ("uid", "incentive", "dividends", "emission")} for u in uids if u in rows
            ],
        )


def parser():
    p = argparse.ArgumentParser(
        description="Bittensor SDK validator for stagenet: burned registration, stake, set_weights, Weights "
        "read-back, incentive/dividends per epoch. JSON events on stdout.",
    )
    common_arguments(p, "//Alice//validator")
    p.add_argument("--stake", type=float, default=0.0, help="TAO to stake to the hotkey on the subnet first (default: 0)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of set_weights (default: 3)")
    p.add_argument(
        "--interval", type=int, help="blocks from one round's set_weights to the next round (default: tempo + 1)"
    )
    p.add_argument(
        "--weights", choices=["uniform", "by-uid"], default="uniform", help="uniform, or uid + 1 (default: uniform)"
    )
    p.add_argument("--targets", type=int, nargs="+", help="uids to weight (default: every other uid of the subnet)")
    p.add_argument(
        "--version-key",
        type=int,
        help="version_key of set_weights (default: the SDK's version_as_int, 9000000 for 9.0.0)",
    )
    p.add_argument(
        "--commit-reveal",
        choices=["fail", "allow"],
        default="fail",
        help="on a subnet with commit-reveal enabled: fail before set_weights, or let the SDK commit (default: fail)",
    )
    p.add_argument("--permit-epochs", type=int, default=2, help="epochs to wait for a validator permit (default: 2)")
    p.add_argument("--no-epoch-wait", action="store_true", help="do not wait for the epoch after each set_weights")
    return p


if __name__ == "__main__":
    sys.exit(main(ROLE, parser(), run))
