"""Outputs of every bundled checkpoint through the command line, for a before/after comparison of a refactor.

    .venv/bin/python bench/bench_outputs.py [--out FILE.json]

For each checkpoints/*.safetensors it runs, from the repository root, only `python -m genlib ...`:
  sample NAME --n 16 --seed 0 --out x.npy          -> sha256 of the array's bytes, its mean and shape
  sample NAME --n 4 --seed 0 --steps 20 --out x.gif -> sha256 of the GIF (only chain samplers support it)
  eval NAME --data-dir ../shared/data/mnist-test --limit 1000 -> the JSON summary, without timing keys
A failing command is recorded as its exit code and last stderr line. Run it on both versions and diff the
JSON files: equal hashes mean bit-identical outputs. Nothing is timed or asserted here.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = "../shared/data/mnist-test"


def genlib(*args: str) -> dict:
    """Run `python -m genlib ARGS` from the repository root; the JSON summary, or the failure."""
    p = subprocess.run([sys.executable, "-m", "genlib", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=3600)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        return {"error": {"rc": p.returncode, "stderr": lines[-1] if lines else ""}}
    return json.loads(p.stdout.strip().splitlines()[-1])


def record(name: str, tmp: Path) -> dict:
    rec = {"kind": genlib("info", name).get("kind", "?")}
    res = genlib("sample", name, "--n", "16", "--seed", "0", "--out", str(tmp / "x.npy"))
    if "error" in res:
        rec["sample"] = res
    else:
        a = np.load(tmp / "x.npy")
        rec["sample"] = {"sha256": hashlib.sha256(a.tobytes()).hexdigest(), "mean": float(a.mean()),
                         "shape": list(a.shape), "dtype": str(a.dtype)}
    res = genlib("sample", name, "--n", "4", "--seed", "0", "--steps", "20", "--out", str(tmp / "x.gif"))
    rec["gif"] = res if "error" in res else {"sha256": hashlib.sha256((tmp / "x.gif").read_bytes()).hexdigest()}
    res = genlib("eval", name, "--data-dir", DATA, "--limit", "1000")
    rec["eval"] = res if "error" in res else {k: v for k, v in res.items() if "seconds" not in k}
    return rec


def show(part: dict, what: str) -> str:
    if "error" in part:
        return f"err {part['error']['rc']}"
    return part[what]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write all results to this JSON file")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as d:
        for f in sorted((ROOT / "checkpoints").glob("*.safetensors")):
            print(f"... {f.name}", file=sys.stderr, flush=True)
            results[f.name] = record(f"checkpoints/{f.name}", Path(d))
    skip = {"file", "kind", "split", "n", "dataset"}
    print(f"{'checkpoint':28} {'kind':10} {'sample sha':12} {'mean':>9} {'gif sha':12}  eval")
    for name, r in results.items():
        s, e = r["sample"], r["eval"]
        mean = f"{s['mean']:9.5f}" if "error" not in s else f"{'':9}"
        ev = (f"err {e['error']['rc']}: {e['error']['stderr']}" if "error" in e
              else " ".join(f"{k}={v}" for k, v in e.items() if k not in skip))
        print(f"{name.removesuffix('.safetensors'):28} {r['kind']:10} {show(s, 'sha256')[:12]:12} {mean} "
              f"{show(r['gif'], 'sha256')[:12]:12}  {ev}")
    for name, r in results.items():  # the failures' messages, once
        for part in ("sample", "gif"):
            if "error" in r[part]:
                print(f"  {name} {part}: rc {r[part]['error']['rc']}: {r[part]['error']['stderr']}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
