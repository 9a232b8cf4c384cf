"""`lab init-submission`, `lab submit`, `lab grade`: hand in your work and learn what it scored."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lab.core import checks
from lab.cli._common import HomeOpt, err_console, get_home, out_console
from lab.errors import StateError, UsageError
from lab.core.paths import TEMPLATE_DIR

TEMPLATES = TEMPLATE_DIR
TEMPLATE_FILES = ("monitoring.yaml", "model_card.md", "post_market_monitoring.md", "datasheet.md", "decisions.yaml",
                  "release_gate.yaml", "retraining.md", "observability.md")

JsonOut = Annotated[Optional[Path], typer.Option("--json", help="Write the JSON report to F ('-': stdout).",
                                                  show_default=False)]
HtmlOut = Annotated[Optional[Path], typer.Option("--html", help="Write the HTML report to F.", show_default=False)]
GradescopeOut = Annotated[Optional[Path], typer.Option("--gradescope", help="Write Gradescope's results.json to F.",
                                                       show_default=False)]
JunitOut = Annotated[Optional[Path], typer.Option("--junit", help="Write JUnit XML to F.", show_default=False)]


def cli_commands(root: Any) -> list[str]:
    """Every leaf command under the root command ``root`` (``lab shadow start``, ``lab rollback``, ...), sorted."""
    out: list[str] = []

    def walk(cmd: Any, prefix: str) -> None:
        subs = getattr(cmd, "commands", None)
        if isinstance(subs, dict) and subs:
            for name, sub in sorted(subs.items()):
                walk(sub, f"{prefix} {name}")
        else:
            out.append(prefix)

    walk(root, "lab")
    return sorted(out)


def register(app: typer.Typer) -> None:
    app.command("init-submission")(init_submission)
    app.command("submit")(submit)
    app.command("grade")(grade)


def init_submission(
    directory: Annotated[Path, typer.Argument(help="Folder for your answer (created if needed).")],
    home: HomeOpt = None,  # noqa: ARG001 (accepted like every command's; the folder needs no lab home)
) -> None:
    """Copy the submission templates (monitoring.yaml, model card, runbook, datasheet, decisions.yaml,
    release_gate.yaml, retraining.md, observability.md) into DIRECTORY."""
    missing = [n for n in TEMPLATE_FILES if not (TEMPLATES / n).is_file()]
    if missing:
        raise StateError(f"templates missing from {TEMPLATES}: {', '.join(missing)}",
                         hint="restore runbooks/ from version control")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a folder")
    existing = [n for n in TEMPLATE_FILES if (directory / n).exists() or (directory / n).is_symlink()]
    if existing:
        raise UsageError(f"{directory} already has {', '.join(existing)}; nothing was copied",
                         hint="choose an empty folder, or move those files away first")
    directory.mkdir(parents=True, exist_ok=True)
    for n in TEMPLATE_FILES:
        shutil.copyfile(TEMPLATES / n, directory / n)
    err_console.print(f"wrote {', '.join(TEMPLATE_FILES)} to {directory}/; each says what a strong answer "
                      f"contains. Submit with `lab submit {directory}`.", highlight=False)


def _check_outputs(*paths: Path | None) -> None:
    for opt, path in zip(("--json", "--html", "--gradescope", "--junit"), paths):
        if path is not None and str(path) != "-":
            checks.check_writable_file(path, opt)


def _outputs(report, folder: Path | None, json_out: Path | None, html_out: Path | None,
             gradescope_out: Path | None, junit_out: Path | None) -> list[Path]:
    import sys

    # heavy: keep off the start-up path (the report module alone costs ~0.1 s)
    from lab.grading.report import to_json, write_outputs

    written: list[Path] = []
    if folder is not None:
        written += write_outputs(report, json_path=folder / "report.json", html_path=folder / "report.html",
                                 gradescope_path=folder / "results.json", junit_path=folder / "junit.xml")
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(to_json(report))
        json_out = None
    written += write_outputs(report, json_path=json_out, html_path=html_out, gradescope_path=gradescope_out,
                             junit_path=junit_out)
    return written


def _show(report, json_to_stdout: bool) -> None:
    # heavy: keep off the start-up path
    from lab.grading.report import print_table

    print_table(report, err_console if json_to_stdout else out_console)


def submit(
    ctx: typer.Context,
    submission: Annotated[str, typer.Argument(help="Your answer: a folder, or a .tar.gz / .zip of one.")],
    json_out: JsonOut = None,
    html_out: HtmlOut = None,
    gradescope_out: GradescopeOut = None,
    junit_out: JunitOut = None,
    no_upload: Annotated[bool, typer.Option("--no-upload", help="In a lab that joined a drill: grade here only, "
                                                                "send nothing to the drill console.")] = False,
    home: HomeOpt = None,
) -> None:
    """Collect the evidence from the lab home, grade SUBMISSION against it, and print the report
    (in a lab that joined a drill, also send it to the drill console)."""
    import time

    started = time.perf_counter()
    checks.check_submission_path(submission)  # before any heavy import
    _check_outputs(json_out, html_out, gradescope_out, junit_out)
    from lab.core.liveness import require_config
    from lab.workers.grade_client import submit_via_endpoint  # standard library only

    h = get_home(home)
    require_config(h)
    commands = cli_commands(ctx.find_root().command)
    # the lab's warm grading process when it answers (no heavy import here), else this process
    answer = submit_via_endpoint(h.root, submission, commands)
    where = "by the lab's grading endpoint"
    if answer is None:
        # heavy: keep off the start-up path
        from lab.workers.submit_job import run_submission

        answer = run_submission(h, submission, commands)
        where = "here"
    from lab.grading.report import report_from_dict

    report = report_from_dict(answer["report"])
    to_stdout = json_out is not None and str(json_out) == "-"
    _show(report, to_stdout)
    written = [Path(p) for p in answer["written"]] + _outputs(report, None, json_out, html_out, gradescope_out,
                                                              junit_out)
    err_console.print(f"graded {where} in {time.perf_counter() - started:.1f} s; reports: "
                      f"{', '.join(str(p) for p in written)}", highlight=False)
    err_console.print(f"re-grade offline: lab grade --evidence {answer['archive']} {submission}", highlight=False)
    from lab.core.drill_client import load_credentials

    if not no_upload and load_credentials(h) is not None:
        from lab.cli.team import upload_submission

        stored = upload_submission(h, Path(answer["folder"]) / "report.json", Path(answer["archive"]),
                                   Path(submission))  # UploadError (exit 6): the report stays
        err_console.print(f"sent to the drill console: {stored.get('score')} of {stored.get('max_score')}; "
                          f"the console grades it again itself ({stored.get('check', 'unverified')})",
                          highlight=False)


def grade(
    submission: Annotated[str, typer.Argument(help="Your answer: a folder, or a .tar.gz / .zip of one.")],
    evidence: Annotated[Path, typer.Option("--evidence", help="An evidence bundle (folder or .tar.gz) from "
                                                              "`lab submit`.")],
    json_out: JsonOut = None,
    html_out: HtmlOut = None,
    gradescope_out: GradescopeOut = None,
    junit_out: JunitOut = None,
    home: HomeOpt = None,
) -> None:
    """Re-grade SUBMISSION against a saved evidence bundle, offline (no server needed)."""
    import tempfile

    from lab.evidence.submission import read_submission  # light: no pandas, scikit-learn or Evidently

    checks.check_submission_path(submission)  # before any heavy import
    _check_outputs(json_out, html_out, gradescope_out, junit_out)
    h = get_home(home)
    # archives are unpacked inside the lab home when there is one, else in the system's temp folder
    work = h.root / "tmp" if h.lab_json.exists() else Path(tempfile.gettempdir())
    sub = read_submission(submission, work_dir=work)
    if not evidence.exists():
        raise UsageError(f"--evidence {evidence}: no such folder or archive",
                         hint="`lab submit` writes one under <home>/submissions/")

    # heavy: keep off the start-up path
    from lab.evidence.schema import load_evidence
    from lab.grading.grade import grade as run_grade

    ev = load_evidence(evidence, work_dir=work)
    # a lab home's cache keeps the hidden streams and replays (as `lab submit`'s); none without a home
    report = run_grade(ev, sub, drift_cache=h.root / "cache" / "drift" if h.lab_json.exists() else None)
    to_stdout = json_out is not None and str(json_out) == "-"
    _show(report, to_stdout)
    written = _outputs(report, None, json_out, html_out, gradescope_out, junit_out)
    if written:
        err_console.print(f"wrote {', '.join(str(p) for p in written)}", highlight=False)
