"""Long-running pieces of the stack that host other stages' work in one process.

``grade_endpoint``: `lab submit`'s grading, served on 127.0.0.1 from a process that
already has the grading libraries loaded and the hidden replay streams in memory.
``monitor_host``: the monitor's entry, starting that endpoint beside the live monitor.
``submit_job``: one submission's collection, grading and filing, run by the endpoint
and by `lab submit` itself when no endpoint answers (so both give the same report).
"""
