"""Processes that run several of the lab's services together (the top layer, beside the CLI).

``stack_worker``: the timeline, the live monitor and traffic as threads of one process
under `lab up`, plus the grading endpoint.
``grade_endpoint``: `lab submit`'s grading, served on 127.0.0.1 from that process, which
already has the grading libraries loaded and the hidden replay streams in memory.
``grade_client``: `lab submit`'s side of the endpoint.
``submit_job``: one submission's collection, grading and filing, run by the endpoint
and by `lab submit` itself when no endpoint answers (so both give the same report).
"""
