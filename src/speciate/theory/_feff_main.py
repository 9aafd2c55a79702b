"""Child-process entry that runs FEFF10 stages on ``feff.inp`` in the current directory.

Started by `speciate.theory.feff.FeffEngine.run` with ``cwd=`` set to a fresh work
directory; FEFF's console output goes to that run's log file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run the requested stages; exit 1 with FEFF's error text on failure."""
    parser = argparse.ArgumentParser(prog="speciate.theory._feff_main")
    parser.add_argument("--stages", required=True, help="comma-separated FEFF stage names")
    parser.add_argument("--stage-timeout", type=float, default=None)
    args = parser.parse_args(argv)
    import feff10

    work = Path.cwd()
    try:
        stages = [feff10.Stage.from_name(s) for s in args.stages.split(",") if s]
        inp = feff10.FeffInput.from_file(str(work / "feff.inp"))
        config = feff10.FeffConfig(str(work), inp, stages=stages, stage_timeout=args.stage_timeout)
        result = feff10.FeffPipeline(config).run()
    except feff10.FeffError as exc:
        sys.stdout.flush()
        print(f"FEFF failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    for stage in result.stages:
        print(f"speciate: stage {stage.stage!r} {stage.duration_secs:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
