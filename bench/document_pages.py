"""The CPU a request's inline PDF costs routing's estimate (``sidecar/routing/documents.py``): the pages
of PDFs of 1 MB and 30 MB counted as a request carries them (base64), best of ``--repeat`` runs, in
process CPU milliseconds (the event loop is held that long). The PDFs are tests/routing/pdfs.py's: pages
as plain objects or in a compressed object stream, followed by image bytes.

    python bench/document_pages.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/ (the sidecar: PYTHONPATH first, then the install)

from sidecar.routing.documents import pdf_pages
from tests.routing.pdfs import pdf_base64

CASES = {
    "200 pages, plain objects, 1 MB of images": (200, False, 1_000_000),
    "200 pages, in an object stream, 1 MB of images": (200, True, 1_000_000),
    "2,000 pages, in an object stream, 30 MB of images": (2000, True, 30_000_000),
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| PDF | base64 MB | pages counted | CPU ms (best) |")
    print("|---|---|---|---|")
    for name, (pages, object_stream, padding) in CASES.items():
        data = pdf_base64(pages, object_stream=object_stream, padding=padding)
        best, counted = float("inf"), 0
        for _ in range(args.repeat):
            start = time.process_time()
            counted = pdf_pages(data)
            best = min(best, time.process_time() - start)
        print(f"| {name} | {len(data) / 1e6:.1f} | {counted:,} | {best * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
