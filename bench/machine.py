"""What machine a benchmark ran on, printed beside its numbers."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def memory() -> str:
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        return f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        return "?"


def summary() -> str:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return (f"{platform.system()} {platform.release()} {platform.machine()} | CPU {cpu_model()} x{os.cpu_count()} "
            f"(affinity {affinity}) | RAM {memory()} | Python {platform.python_version()}")
