"""Where every AFM campaign stands against issue #14's done-when clause: ``python training/campaign_status.py``.

See :mod:`keras_spm.training.curve` for how hours and flatness are measured.
"""

import argparse
import sys
from pathlib import Path

from keras_spm.training.curve import FLAT_FRACTION, format_table, plot_status, status_table

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", type=Path, default=ROOT / "zoo", help="folder of <model>/campaign.csv logs")
    p.add_argument("--window", type=float, default=2.0, help="hours at the end of the log the curve must be flat over")
    p.add_argument("--flat", type=float, default=FLAT_FRACTION, help="largest fall of the best score that is flat")
    p.add_argument("--figure", type=Path, default=None, help="also draw every curve into this PNG")
    args = p.parse_args(argv)
    statuses = status_table(args.zoo, args.window, args.flat)
    if not statuses:
        print(f"no campaign.csv under {args.zoo}", file=sys.stderr)
        return 1
    print(format_table(statuses, args.window, args.flat))
    if args.figure is not None:
        print(f"wrote {plot_status(args.zoo, args.figure, args.window, args.flat)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
