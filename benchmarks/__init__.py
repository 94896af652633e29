"""Benchmarks of ``LloydKMeans`` against scikit-learn, scikit-learn-intelex and faiss.

``python -m benchmarks.run`` (``make bench``, ``make bench-quick``) is the entry
point; ``benchmarks/README.md`` says what is measured and how to read the table.
"""
