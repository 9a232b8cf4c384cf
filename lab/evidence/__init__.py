"""The bridge from a lab to its grade, one way: evidence is collected, then read.

* :mod:`lab.evidence.schema`: the bundle's schema and loader (pure; graders import it).
* :mod:`lab.evidence.submission`: reading the candidate's folder or archive (pure).
* :mod:`lab.evidence.archive`: the one safe reader of an untrusted .tar(.gz)/.zip, used by
  both (paths, links, size and entry limits, capped decompression).
* :mod:`lab.evidence.collect`: collecting a bundle from a running lab (talks to MLflow and
  the stack; graders never import it).

The names below are loaded on first use (PEP 562).
"""

from __future__ import annotations

from lab._lazy import lazy_exports

_EXPORTS = {
    "schema": ("BundleError", "Evidence", "bundle_archive", "load_evidence"),
    "submission": ("Submission", "read_submission"),
}
__all__, __getattr__, __dir__ = lazy_exports("lab.evidence", _EXPORTS, globals())
