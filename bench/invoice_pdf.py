"""Benchmark: invoice PDFs of the portal (`/portal/invoices/{number}/pdf`) without HTTP.

    python bench/invoice_pdf.py [--rounds 5]

It builds the demo's database in a temporary SQLite file (`leadbill demo`, not
timed), then, --rounds times over every finalized invoice of the demo, reads
the invoice as its page does (`portal.documents.invoice_document`) and renders
its PDF (`documents.pdf.invoice_pdf`). It prints the invoices, the milliseconds per
invoice for reading, for rendering and in all (median of the rounds), and the
largest PDF in bytes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from leadbill.billing.invoices import list_invoices
from leadbill.documents.invoice import invoice_document
from leadbill.documents.pdf import invoice_pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        env = {**os.environ, "LEADBILL_DATABASE_URL": url}
        leadbill = Path(sys.executable).with_name("leadbill")
        subprocess.run([leadbill, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([leadbill, "demo"], env=env, check=True, capture_output=True)
        engine = create_engine(url)
        read_ms: list[float] = []
        render_ms: list[float] = []
        largest = 0
        with Session(engine) as session:
            numbers = [i.number for i in list_invoices(session) if i.number]
            for _ in range(args.rounds):
                reading = rendering = 0.0
                for number in numbers:
                    started = time.perf_counter()
                    document = invoice_document(session, number, None)
                    read = time.perf_counter()
                    content = invoice_pdf(document, seller="Bench Leads LLC")
                    rendering += time.perf_counter() - read
                    reading += read - started
                    largest = max(largest, len(content))
                read_ms.append(1000 * reading / len(numbers))
                render_ms.append(1000 * rendering / len(numbers))
        engine.dispose()
    read, render = statistics.median(read_ms), statistics.median(render_ms)
    print(f"invoices: {len(numbers)} (demo), rounds: {args.rounds}")
    print(f"read per invoice:   {read:.2f} ms")
    print(f"render per invoice: {render:.2f} ms")
    print(f"total per invoice:  {read + render:.2f} ms ({1000 / (read + render):.0f} PDFs/s)")
    print(f"largest PDF: {largest} bytes")


if __name__ == "__main__":
    main()
