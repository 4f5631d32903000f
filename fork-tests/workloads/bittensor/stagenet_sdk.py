"""What miner.py and validator.py share: the venv re-exec, JSON events, step deadlines, the chain
steps both take (connect, subnet, burned registration, metagraph, epoch detection), the common
options, the wallet from dev URIs and the main loop with its exit statuses. See README.md beside
this file.

Imports only the standard library at import time (the SDK is imported inside functions), so that
a script can import it before `reexec_in_venv` has moved it into the SDK's venv.
"""

import contextlib
import json
import logging as stdlogging
import os
import re
import signal
import sys
import tempfile
import threading
import time
import traceback

DEFAULT_VENV = os.path.join(os.path.expanduser("~"), ".cache", "stagenet", "bittensor-venv")


def reexec_in_venv(script):
    """Runs `script` (the caller's __file__) with the venv of scripts/setup-bittensor when started
    by another Python. Call it before anything imports the SDK."""
    venv = os.environ.get("STAGENET_BITTENSOR_VENV") or DEFAULT_VENV
    python = os.path.join(venv, "bin", "python")
    if os.environ.get("STAGENET_BITTENSOR_REEXEC") or not os.access(python, os.X_OK):
        return
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    os.environ["STAGENET_BITTENSOR_REEXEC"] = "1"
    os.execv(python, [python, os.path.abspath(script)] + sys.argv[1:])


EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 1, 2, 3
# Burned registrations tried when the pool refuses one for a nonce another replica of the same
# coldkey took (`NONCE_CLASH` in the SDK's error).
REGISTER_ATTEMPTS = 3
NONCE_CLASH = "Priority is too low"
SDK_VERSION = "9.0.0"


class StepFailed(Exception):
    def __init__(self, step, message, **fields):
        super().__init__(message)
        self.step, self.fields = step, fields


class StepTimeout(BaseException):
    """A BaseException so that the SDK's `except Exception` blocks cannot swallow it."""

    def __init__(self, step, message):
        super().__init__(message)
        self.step = step


class Stop(BaseException):
    """SIGTERM/SIGINT arrived: leave the current wait."""


class Events:
    """One JSON object per line on the real stdout; fd 1 itself is pointed at stderr, so that
    nothing else (SDK logging, prints of its dependencies) can mix into the event stream."""

    def __init__(self, role):
        sys.stdout.flush()
        self._out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)
        self._base = {
            "role": role,
            "workload": os.environ.get("STAGENET_WORKLOAD"),
            "replica": os.environ.get("STAGENET_REPLICA"),
        }
        self._lock = threading.Lock()

    def emit(self, event, **fields):
        record = {"event": event, "ts": round(time.time(), 3), **self._base, **fields}
        line = json.dumps(record, default=_jsonable, separators=(",", ":"))
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def _jsonable(value):
    for attr in ("item", "tolist"):  # numpy scalars and arrays
        if hasattr(value, attr):
            return getattr(value, attr)()
    return str(value)


class SdkErrors(stdlogging.Handler):
    """Keeps the SDK's last error and warning messages: its extrinsic helpers return only a
    bool and log the reason, which the failure events then carry."""

    _markup = re.compile(r"\[/?[a-z_ ]+\]|:[a-z_]+:")

    def __init__(self):
        super().__init__(stdlogging.WARNING)
        self.messages = []

    def emit(self, record):
        text = self._markup.sub("", record.getMessage()).strip()
        if text:
            self.messages = (self.messages + [text])[-8:]

    def take(self):
        taken, self.messages = self.messages, []
        return taken


class Context:
    def __init__(self, args, events):
        self.args, self.events = args, events
        self.subtensor = None
        self.spec_version = None
        self.sdk_errors = SdkErrors()
        self.stop = threading.Event()
        self.metagraph_warned = False
        self.epoch_source = None

    def emit(self, event, **fields):
        self.events.emit(event, **fields)

    @contextlib.contextmanager
    def deadline(self, step, seconds=None):
        """Bounds a blocking step with SIGALRM, which interrupts the SDK's socket waits."""
        seconds = self.args.timeout if seconds is None else seconds

        def expired(signum, frame):
            raise StepTimeout(step, f"{step}: no result within {seconds:g}s")

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def call(self, step, fn, *args, **kwargs):
        with self.deadline(step):
            return fn(*args, **kwargs)

    def sleep(self, seconds):
        if self.stop.wait(seconds):
            raise Stop()

    # -- chain ----------------------------------------------------------------------------------

    def connect(self):
        import bittensor

        if self.subtensor is not None:
            with contextlib.suppress(Exception):
                self.subtensor.close()
        started = time.monotonic()
        try:
            self.subtensor = self.call("connect", bittensor.Subtensor, network=self.args.url)
        except Exception as error:
            raise StepFailed("connect", f"cannot connect to {self.args.url}: {type(error).__name__}: {error}")
        substrate = self.subtensor.substrate
        self.spec_version = substrate.runtime_version
        block = self.call("get_current_block", self.subtensor.get_current_block)
        self.emit(
            "connected",
            url=self.args.url,
            chain=substrate.chain,
            spec_version=self.spec_version,
            block=block,
            sdk=bittensor.__version__,
            elapsed=round(time.monotonic() - started, 3),
        )

    def check_runtime(self):
        """Reconnects after a runtime upgrade: the SDK's substrate interface keeps the metadata
        it loaded first, so calls and storage would be encoded against the old runtime."""
        version = self.call(
            "state_getRuntimeVersion", self.subtensor.substrate.get_block_runtime_version, None
        )
        spec = version.get("specVersion")
        if spec != self.spec_version:
            self.emit("runtime_upgraded", spec_from=self.spec_version, spec_to=spec)
            self.connect()

    def block(self):
        return self.call("get_current_block", self.subtensor.get_current_block)

    def wait_for_block(self, target, why):
        """Waits until the best block reaches `target`; fails if no block arrives for --timeout."""
        last, since = None, time.monotonic()
        while True:
            current = self.block()
            if current >= target:
                return current
            if current != last:
                last, since = current, time.monotonic()
            elif time.monotonic() - since > self.args.timeout:
                raise StepTimeout(
                    "wait_for_block",
                    f"no new block for {self.args.timeout:g}s at #{current}, waiting for #{target} ({why})",
                )
            self.sleep(self.args.poll)

    def wait_until(self, step, predicate, max_blocks, why):
        """Polls `predicate()` (truthy result returned) for at most `max_blocks` blocks; fails
        if the chain stalls for --timeout seconds meanwhile."""
        start = self.block()
        last, since = start, time.monotonic()
        while True:
            result = predicate()
            if result:
                return result
            current = self.block()
            if current > start + max_blocks:
                raise StepFailed(step, f"{why}: not within {max_blocks} blocks (#{start} to #{current})")
            if current != last:
                last, since = current, time.monotonic()
            elif time.monotonic() - since > self.args.timeout:
                raise StepTimeout(step, f"no new block for {self.args.timeout:g}s at #{current} ({why})")
            self.sleep(self.args.poll)

    def require_subnet(self):
        st, netuid = self.subtensor, self.args.netuid
        if not self.call("subnet_exists", st.subnet_exists, netuid):
            raise StepFailed("subnet", f"subnet {netuid} does not exist on this chain", netuid=netuid)
        tempo = self.call("tempo", st.tempo, netuid)
        burn = self.call("recycle", st.recycle, netuid)
        self.emit("subnet", netuid=netuid, tempo=tempo, burn_tao=burn.tao if burn is not None else None)
        return tempo

    def register(self, wallet):
        """Burned registration of the wallet's hotkey, unless it already has a uid."""
        st, netuid = self.subtensor, self.args.netuid
        hotkey, coldkey = wallet.hotkey.ss58_address, wallet.coldkeypub.ss58_address
        uid = self.call("get_uid_for_hotkey_on_subnet", st.get_uid_for_hotkey_on_subnet, hotkey, netuid)
        if uid is not None:
            self.emit("registered", uid=uid, hotkey=hotkey, already=True)
            return uid
        balance = self.call("get_balance", st.get_balance, coldkey)
        burn = self.call("recycle", st.recycle, netuid)
        started = time.monotonic()
        # Replicas that share a coldkey sign with the same nonce at the same moment: the pool
        # keeps one and refuses the others ("Priority is too low"). Those try again a block
        # later, with the next nonce.
        for attempt in range(1, REGISTER_ATTEMPTS + 1):
            self.sdk_errors.take()
            ok = self.call(
                "burned_register",
                st.burned_register,
                wallet=wallet,
                netuid=netuid,
                wait_for_inclusion=True,
                wait_for_finalization=self.args.wait_finalization,
            )
            if ok:
                break
            errors = self.sdk_errors.take()
            if attempt < REGISTER_ATTEMPTS and any(NONCE_CLASH in e for e in errors):
                self.emit("register_retry", attempt=attempt, reason=NONCE_CLASH)
                self.wait_for_block(self.block() + 1, "a block before registering again")
                continue
            raise StepFailed(
                "burned_register",
                f"burned registration of {hotkey} on subnet {netuid} failed",
                burn_tao=burn.tao if burn is not None else None,
                balance_tao=balance.tao,
                sdk_errors=errors,
            )
        uid = self.call("get_uid_for_hotkey_on_subnet", st.get_uid_for_hotkey_on_subnet, hotkey, netuid)
        if uid is None:
            raise StepFailed("burned_register", f"{hotkey} has no uid on subnet {netuid} after registering")
        after = self.call("get_balance", st.get_balance, coldkey)
        self.emit(
            "registered",
            uid=uid,
            hotkey=hotkey,
            already=False,
            burn_tao=burn.tao if burn is not None else None,
            balance_before_tao=balance.tao,
            balance_after_tao=after.tao,
            elapsed=round(time.monotonic() - started, 3),
        )
        return uid

    def neurons(self):
        """The subnet's neurons by uid, from `subtensor.metagraph` or, where the runtime lacks
        what the metagraph needs (see README.md), from `subtensor.neurons_lite`."""
        st, netuid = self.subtensor, self.args.netuid
        try:
            with self.deadline("metagraph"):
                mg = st.metagraph(netuid, lite=True)
            rows = {}
            for i, uid in enumerate(mg.uids.tolist()):
                axon = mg.axons[i] if i < len(mg.axons) else None
                rows[int(uid)] = {
                    "uid": int(uid),
                    "hotkey": mg.hotkeys[i],
                    "incentive": float(mg.incentive[i]),
                    "dividends": float(mg.dividends[i]),
                    "emission": float(mg.emission[i]),
                    "validator_permit": bool(mg.validator_permit[i]),
                    "last_update": int(mg.last_update[i]),
                    "axon": f"{axon.ip}:{axon.port}" if axon is not None else None,
                }
            return "metagraph", int(mg.block.item()), rows
        except Exception as error:  # the SDK raises ValueError, KeyError, ... here
            if self.args.strict_metagraph:
                raise StepFailed("metagraph", f"subtensor.metagraph({netuid}) failed: {type(error).__name__}: {error}")
            if not self.metagraph_warned:
                self.metagraph_warned = True
                self.emit(
                    "metagraph_unavailable",
                    error_type=type(error).__name__,
                    error=str(error),
                    fallback="neurons_lite",
                )
        block = self.block()
        neurons = self.call("neurons_lite", st.neurons_lite, netuid, block=block)
        rows = {
            int(n.uid): {
                "uid": int(n.uid),
                "hotkey": n.hotkey,
                "incentive": float(n.incentive),
                "dividends": float(n.dividends),
                "emission": float(n.emission),
                "validator_permit": bool(n.validator_permit),
                "last_update": int(n.last_update),
                "axon": f"{n.axon_info.ip}:{n.axon_info.port}" if n.axon_info is not None else None,
            }
            for n in neurons
        }
        return "neurons_lite", block, rows

    def epoch_marker(self, tempo):
        """A value that changes when the subnet's epoch runs: the block of its last mechanism
        step from storage where the runtime has it, else the epoch index the pre-2025
        schedule implies (an epoch at the block where (block + netuid + 1) % (tempo + 1) == tempo)."""
        st, netuid = self.subtensor, self.args.netuid
        for item in ("LastMechansimStepBlock", "LastEpochBlock"):
            if self.epoch_source in (None, item):
                try:
                    value = self.call("query_subtensor", st.query_subtensor, item, params=[netuid])
                    self.epoch_source = item
                    return int(getattr(value, "value", value) or 0)
                except (StepTimeout, Stop):
                    raise
                except Exception:
                    if self.epoch_source == item:
                        raise
        self.epoch_source = "schedule"
        return (self.block() + netuid + 2) // (tempo + 1)


def common_arguments(parser, hotkey_default):
    parser.add_argument(
        "--url",
        default=os.environ.get("STAGENET_RPC_URL"),
        help="ws:// URL of the chain's RPC node (default: $STAGENET_RPC_URL)",
    )
    parser.add_argument("--netuid", type=int, required=True, help="the subnet")
    parser.add_argument("--coldkey-uri", default="//Alice", help="dev URI of the coldkey (default: //Alice)")
    parser.add_argument(
        "--hotkey-uri",
        default=hotkey_default,
        help=f"dev URI of the hotkey; '-<replica>' is appended (default: {hotkey_default}, so {hotkey_default}-0, -1, …)",
    )
    parser.add_argument(
        "--no-replica-suffix", action="store_true", help="use --hotkey-uri as given, without '-<replica>'"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds one step (an RPC, an extrinsic's inclusion) may take; also the seconds a wait "
        "for blocks tolerates without a new block (default: 120)",
    )
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between block polls (default: 1)")
    parser.add_argument(
        "--wait-finalization", action="store_true", help="wait for extrinsics to be finalized, not just included"
    )
    parser.add_argument(
        "--strict-metagraph",
        action="store_true",
        help="fail when subtensor.metagraph() fails instead of falling back to neurons_lite",
    )
    parser.add_argument("--wallet-dir", help="where the wallet's key files go (default: a temporary directory)")
    parser.add_argument(
        "--sdk-log", choices=["default", "info", "debug", "trace"], default="default", help="the SDK's logging on stderr"
    )


def hotkey_uri(args):
    if args.no_replica_suffix:
        return args.hotkey_uri
    return f"{args.hotkey_uri}-{os.environ.get('STAGENET_REPLICA', '0')}"


def make_wallet(ctx, directory):
    """A bittensor_wallet.Wallet whose keys come from dev URIs: Keypair.create_from_uri, written
    unencrypted (encrypt=False) into `directory`, so nothing ever asks for a password."""
    from bittensor_wallet import Keypair, Wallet

    args = ctx.args
    coldkey = Keypair.create_from_uri(args.coldkey_uri)
    hotkey = Keypair.create_from_uri(hotkey_uri(args))
    wallet = Wallet(name="coldkey", hotkey="hotkey", path=directory)
    wallet.set_coldkey(coldkey, encrypt=False, overwrite=True)
    wallet.set_coldkeypub(coldkey, encrypt=False, overwrite=True)
    wallet.set_hotkey(hotkey, encrypt=False, overwrite=True)
    return wallet


def main(role, parser, run):
    """Parses the options, sets up events, signals and the wallet, connects and calls
    `run(ctx, wallet)`; returns the exit status."""
    args = parser.parse_args()
    if not args.url:
        parser.error("no RPC URL: pass --url or set STAGENET_RPC_URL")
    if args.timeout <= 0 or args.poll <= 0:
        parser.error("--timeout and --poll must be positive")
    # The SDK's Subtensor() and Axon() parse sys.argv for their own options when not given a
    # config: ours must not reach them.
    sys.argv = sys.argv[:1]
    events = Events(role)
    ctx = Context(args, events)

    def on_signal(signum, frame):
        # Leaves whatever blocks (an SDK call too: Stop is no Exception); later signals are
        # ignored so that the final events get written.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        ctx.stop.set()
        raise Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        import bittensor
    except ImportError as error:
        events.emit(
            "error",
            step="import",
            kind="setup",
            message=f"cannot import the Bittensor SDK ({error}); run scripts/setup-bittensor "
            f"(venv: {os.environ.get('STAGENET_BITTENSOR_VENV') or DEFAULT_VENV})",
        )
        return EXIT_USAGE
    for name in ("bittensor", "async_substrate_interface"):
        stdlogging.getLogger(name).addHandler(ctx.sdk_errors)
    if args.sdk_log != "default":
        getattr(bittensor.logging, f"set_{args.sdk_log}")(True)
    if bittensor.__version__ != SDK_VERSION:
        events.emit("warning", message=f"bittensor {bittensor.__version__}, written for {SDK_VERSION}")

    with contextlib.ExitStack() as stack:
        directory = args.wallet_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="stagenet-wallet-"))
        try:
            wallet = make_wallet(ctx, directory)
            events.emit(
                "start",
                url=args.url,
                netuid=args.netuid,
                coldkey=wallet.coldkeypub.ss58_address,
                hotkey=wallet.hotkey.ss58_address,
                hotkey_uri=hotkey_uri(args),
                python=sys.version.split()[0],
                pid=os.getpid(),
            )
            ctx.connect()
            run(ctx, wallet)
            events.emit("done", ok=True)
            return 0
        except Stop:
            events.emit("done", ok=True, stopped_by="signal")
            return 0
        except KeyboardInterrupt:
            events.emit("done", ok=True, stopped_by="signal")
            return 0
        except StepTimeout as error:
            events.emit("error", step=error.step, kind="timeout", message=str(error))
            return EXIT_TIMEOUT
        except StepFailed as error:
            events.emit("error", step=error.step, kind="failed", message=str(error), **error.fields)
            return EXIT_FAILED
        except Exception as error:
            traceback.print_exc()
            events.emit(
                "error",
                step="unexpected",
                kind=type(error).__name__,
                message=str(error),
                sdk_errors=ctx.sdk_errors.take(),
            )
            return EXIT_FAILED
        finally:
            if ctx.subtensor is not None:
                with contextlib.suppress(Exception):
                    ctx.subtensor.close()
