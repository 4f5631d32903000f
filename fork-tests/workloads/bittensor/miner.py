#!/usr/bin/env python3
"""A Bittensor miner for stagenet, written against the Bittensor SDK 9.0.0 only.

Connects to the fork's RPC node (STAGENET_RPC_URL), registers its hotkey on a subnet by burned
registration if it is not registered yet, announces an axon (`serve_axon`) and serves it over
HTTP on a loopback address, reads the metagraph and reports its uid, then stays alive for
--duration seconds (or until SIGTERM), reporting its incentive after every epoch of the subnet.

Every step is one JSON line on stdout ({"event": ..., ...}); everything else (the SDK's own
logging, tracebacks) goes to stderr. Exit status: 0 done, 1 a step failed, 2 usage or set-up,
3 a step timed out. See README.md beside this file.
"""

import argparse
import contextlib
import os
import sys
import time

# The shared code sits beside this script; a process manager may start it from any directory.
# stagenet_sdk imports only the standard library, so the re-exec into the venv can follow it.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
from stagenet_sdk import StepFailed, common_arguments, main, reexec_in_venv  # noqa: E402

reexec_in_venv(__file__)

ROLE = "miner"


def free_port(ip):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def serve(ctx, wallet):
    """Announces the axon on chain and, unless --no-http, serves it on the announced address."""
    import socket

    import bittensor

    args, st = ctx.args, ctx.subtensor
    port = args.axon_port or free_port(args.axon_ip)
    axon = bittensor.Axon(wallet=wallet, ip=args.axon_ip, port=port, external_ip=args.axon_ip, external_port=port)
    if not args.no_http:
        # The SDK binds its HTTP server to 0.0.0.0 whatever `ip` says; stagenet's local
        # networks are loopback only, so the server is bound to the announced address.
        axon.fast_config.host = args.axon_ip
        ctx.call("axon.start", axon.start)
        with ctx.deadline("axon.listen"):
            while True:
                with contextlib.suppress(OSError), socket.create_connection((args.axon_ip, port), timeout=1):
                    break
                ctx.sleep(0.05)
        ctx.emit("axon_listening", ip=args.axon_ip, port=port)
    started = time.monotonic()
    ctx.sdk_errors.take()
    ok = ctx.call(
        "serve_axon",
        st.serve_axon,
        netuid=args.netuid,
        axon=axon,
        wait_for_inclusion=True,
        wait_for_finalization=args.wait_finalization,
    )
    if not ok:
        raise StepFailed(
            "serve_axon",
            f"serve_axon({args.axon_ip}:{port}) on subnet {args.netuid} failed",
            sdk_errors=ctx.sdk_errors.take(),
        )
    ctx.emit(
        "axon_served", ip=args.axon_ip, port=port, http=not args.no_http, elapsed=round(time.monotonic() - started, 3)
    )
    return axon


def run(ctx, wallet):
    args = ctx.args
    tempo = ctx.require_subnet()
    uid = ctx.register(wallet)
    axon = serve(ctx, wallet)
    try:
        source, block, rows = ctx.neurons()
        me = rows.get(uid)
        if me is None or me["hotkey"] != wallet.hotkey.ss58_address:
            raise StepFailed("metagraph", f"uid {uid} is not {wallet.hotkey.ss58_address} in the metagraph at #{block}")
        ctx.emit("metagraph", source=source, block=block, n=len(rows), uid=uid, neuron=me)

        end = time.monotonic() + args.duration
        marker = ctx.epoch_marker(tempo)
        ctx.emit("alive", uid=uid, duration=args.duration, epoch_source=ctx.epoch_source, epoch_marker=marker)
        epochs = 0
        while time.monotonic() < end:
            ctx.sleep(min(args.poll, max(0.0, end - time.monotonic())))
            if time.monotonic() >= end:
                break
            ctx.check_runtime()
            current = ctx.epoch_marker(tempo)
            if current == marker:
                continue
            marker = current
            epochs += 1
            source, block, rows = ctx.neurons()
            me = rows.get(uid)
            if me is None or me["hotkey"] != wallet.hotkey.ss58_address:
                raise StepFailed("epoch", f"uid {uid} no longer belongs to {wallet.hotkey.ss58_address} (deregistered?)")
            ctx.emit(
                "epoch",
                number=epochs,
                block=block,
                epoch_marker=marker,
                source=source,
                uid=uid,
                incentive=me["incentive"],
                emission=me["emission"],
                dividends=me["dividends"],
            )
        ctx.emit("stopping", reason="duration", epochs=epochs)
    finally:
        if axon.started:
            with contextlib.suppress(Exception):
                axon.stop()


def parser():
    p = argparse.ArgumentParser(
        description="Bittensor SDK miner for stagenet: burned registration, serve_axon, metagraph, "
        "incentive per epoch. JSON events on stdout.",
    )
    common_arguments(p, "//Alice//miner")
    p.add_argument("--duration", type=float, default=600.0, help="seconds to stay alive after serving (default: 600)")
    p.add_argument(
        "--axon-ip",
        default="127.0.0.2",
        help="IPv4 address announced (and served on); not 127.0.0.1, which Subtensor rejects as "
        "InvalidIpAddress (default: 127.0.0.2)",
    )
    p.add_argument("--axon-port", type=int, default=0, help="port; 0 picks a free one (default: 0)")
    p.add_argument("--no-http", action="store_true", help="announce the axon on chain without serving HTTP")
    return p


if __name__ == "__main__":
    sys.exit(main(ROLE, parser(), run))
