"""Coding commands: code, review, next, classify, coders, prepare."""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli.common import (
    allow_unpseudonymised_option,
    current_user,
    echo,
    friendly_errors,
    guard_privacy,
    open_project,
    parse_params,
    project_options,
)
from chimeqda.coders import DEFAULT_CODER


@click.command()
@project_options
@click.option("--coder", default=None, help="Coder name (default: ensemble). See `chimeqda coders`.")
@click.option("--document", "documents", multiple=True, help="Only these documents (repeatable).")
@click.option("--include-interviewer", is_flag=True, help="Also code the interviewer's turns.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Coder parameter (repeatable).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where to code: this process, or a Dask cluster (large corpora; docs/scale.md).")
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True,
              help="--engine dask: worker processes of the local cluster.")
@click.option("--scheduler", metavar="ADDRESS", help="--engine dask: an existing cluster, e.g. tcp://host:8786.")
@click.option("--precision", type=click.FloatRange(0.5, 0.99), default=None,
              help="Suggest a code only where its calibrated probability is at least this (e.g. 0.9); says whether "
                   "your decisions confirm the precision.")
@allow_unpseudonymised_option
@friendly_errors
def code(project_dir: Path, db: str | None, coder: str | None, documents: tuple[str, ...],
         include_interviewer: bool, params: tuple[str, ...], engine: str, workers: int, scheduler: str | None,
         precision: float | None, allow_unpseudonymised: bool) -> None:
    """Let a machine coder suggest codes; suggestions wait for review.

    Suggestion scores are calibrated probabilities (docs/machine-coding.md).
    With --engine dask a stopped run resumes where it left off when the same command is run again.

    Example: chimeqda code -p my-study --coder ensemble --precision 0.9
    """
    from chimeqda.services import run_coder

    ws = open_project(project_dir, db)
    guard_privacy(ws, allow_unpseudonymised, "machine coding", documents or None)
    if engine == "dask" or scheduler:
        from chimeqda.services.distributed import run_coder_dask

        with click.progressbar(length=1, label="coding", file=click.get_text_stream("stderr")) as bar:
            def advance(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            run = run_coder_dask(ws, coder, params=parse_params(params), documents=documents or None,
                                 include_interviewer=include_interviewer, scheduler=scheduler, workers=workers,
                                 progress=lambda m: echo(m, err=True), advance=advance, precision=precision)
    else:
        run = run_coder(ws, coder, params=parse_params(params), documents=documents or None,
                        include_interviewer=include_interviewer, progress=lambda m: echo(m, err=True),
                        precision=precision)
    echo(f"{run.suggestions} new suggestions on {run.segments} segments by {run.coder.name} "
               f"{run.coder.version} (run {run.run_id[:8]}); {run.skipped_existing} already suggested or decided.")
    if run.flagged:
        echo(f"{run.flagged} segment(s) got no suggestion although a code is fairly likely there: "
                   "flagged for review (chimeqda next --flagged).")
    if run.left_for_review is not None:
        echo(f"At precision {run.precision:g}: each suggestion has a calibrated probability of at least "
                   f"{run.precision:g}; {run.left_for_review} of {run.segments} segments left for you "
                   f"(a code neither suggested nor unlikely); `chimeqda next` serves them, most useful first.")
    if run.precision_check is not None:
        echo(run.precision_check.message())
    echo("Review them with: chimeqda review")


@click.command()
@project_options
@click.option("--code", "code_filter", help="Only suggestions of this code (and its sub-codes).")
@click.option("--document", help="Only suggestions in this document.")
@click.option("--min-score", type=float)
@click.option("--max-score", type=float)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--accept", "accept_ids", help="Accept these suggestion ids (comma-separated).")
@click.option("--reject", "reject_ids", help="Reject these suggestion ids (comma-separated).")
@click.option("--accept-listed", is_flag=True, help="Accept every suggestion the filters select.")
@click.option("--reject-listed", is_flag=True, help="Reject every suggestion the filters select.")
@click.option("--interactive", "-i", is_flag=True, help="Walk through suggestions: a=accept r=reject s=skip q=quit.")
@click.option("--sample", "sample_size", type=click.IntRange(min=1), metavar="N",
              help="Draw a random verification sample of N suggestions of each code (kept in the project) and "
                   "list its undecided ones; the decisions on it estimate the machine's precision per code.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the --sample draw.")
@click.option("--estimate", is_flag=True, help="Show the verification sample's estimate of the precision per code.")
@click.option("--by", default=current_user, show_default="your user name", help="Name of the person deciding.")
@friendly_errors
def review(project_dir: Path, db: str | None, code_filter: str | None, document: str | None,
           min_score: float | None, max_score: float | None, limit: int, accept_ids: str | None,
           reject_ids: str | None, accept_listed: bool, reject_listed: bool, interactive: bool,
           sample_size: int | None, seed: int, estimate: bool, by: str) -> None:
    """List, accept and reject machine suggestions.

    On a corpus too large to review, check the machine on a random sample: `--sample 50` draws 50
    suggestions of each code at random (the same ones every time for the same seed) and lists the
    undecided ones; decide them (add -i to walk through), then `--estimate` shows per code the share
    accepted with its 95 % interval — an unbiased estimate of how many of all suggestions are right,
    which the queue of `chimeqda next` (the uncertain ones first) cannot give. The report shows it too.

    Example: chimeqda review --code hope --min-score 0.6; chimeqda review --accept 12,15 --reject 13;
    chimeqda review --sample 50 -i; chimeqda review --estimate
    """
    from chimeqda.services import decide, pending_suggestions

    ws = open_project(project_dir, db)
    if estimate or sample_size:
        _verification(ws, sample_size, seed, interactive, limit, by, estimate)
        return
    if accept_ids or reject_ids:
        for ids, action in ((accept_ids, "accepted"), (reject_ids, "rejected")):
            if ids:
                n = decide(ws, _ids(ids), action, by=by)
                echo(f"{action} {n} suggestion(s)")
        return
    pending = pending_suggestions(ws, code=code_filter, document=document, min_score=min_score,
                                  max_score=max_score, limit=None if (accept_listed or reject_listed) else limit)
    if accept_listed or reject_listed:
        action = "accepted" if accept_listed else "rejected"
        n = decide(ws, [p.event_id for p in pending], action, by=by) if pending else 0
        echo(f"{action} {n} suggestion(s)")
        return
    if not pending:
        echo("No pending suggestions match.")
        return
    _show_and_decide(ws, pending, interactive=interactive, by=by, scores=True)


def _verification(ws, sample_size: int | None, seed: int, interactive: bool, limit: int, by: str,
                  estimate: bool) -> None:
    """``review --sample N`` / ``--estimate``: draw or show the verification sample (services.verification)."""
    from chimeqda.services import pending_suggestions
    from chimeqda.services.verification import define_sample, verification_sample

    if sample_size:
        define_sample(ws, sample_size, seed=seed)
    sample = verification_sample(ws)
    if sample is None:
        raise click.UsageError("no verification sample yet: draw one with `chimeqda review --sample 50`")
    decided = sum(c.decided for c in sample.codes)
    echo(f"verification sample of {sample.coder}: {sample.definition.per_code} suggestions "
               f"of each code (seed {sample.definition.seed}), {decided} of {decided + len(sample.undecided)} "
               "decided")
    if estimate or sample.complete:
        _print_estimate(sample)
    if estimate or not sample.undecided:
        return
    order = {event_id: at for at, event_id in enumerate(sample.undecided)}
    pending = sorted(pending_suggestions(ws, ids=sample.undecided[:limit]), key=lambda item: order[item.event_id])
    _show_and_decide(ws, pending, interactive=interactive, by=by, scores=False)
    if not interactive:
        echo("decide them with --accept/--reject IDS (or -i to walk through); scores are not shown, so "
                   "they do not sway the decision")


def _show_and_decide(ws, items, *, interactive: bool, by: str, scores: bool) -> None:
    """List suggestions (with score and evidence unless ``scores`` is off); ``interactive`` asks a/r/s/q for each."""
    from chimeqda.services import decide

    for item in items:
        score = (f" {item.score:.2f}" if item.score is not None else " –") if scores else ""
        echo(f"#{item.event_id} {item.code}{score} {item.document}"
             f"{' [' + item.participant + ']' if item.participant else ''}")
        echo(f"    “{_marked(item)}”")
        if scores and item.evidence:
            echo(f"    why: {item.evidence}")
        if interactive:
            choice = click.prompt("    [a]ccept, [r]eject, [s]kip, [q]uit", type=click.Choice(list("arsq")),
                                  show_choices=False, default="s")
            if choice == "q":
                break
            if choice in "ar":
                decide(ws, [item.event_id], "accepted" if choice == "a" else "rejected", by=by)


def _print_estimate(sample) -> None:
    echo("code             suggestions  decided  accepted  precision [95 % interval]  est. right")
    for c in sample.codes:
        if c.precision is None:
            shown, right = "–", "–"
        else:
            low, high = c.interval
            shown, right = f"{c.precision:.2f} [{low:.2f}, {high:.2f}]", f"{round(c.precision * c.suggestions):,}"
        echo(f"{c.code:<16} {c.suggestions:>11,}  {c.decided:>7}  {c.accepted:>8}  {shown:<25}  {right}")
    if sample.precision is not None:
        echo(f"all suggestions (codes weighted by their number of suggestions): {sample.precision:.2f}")


def _marked(item) -> str:
    """The suggestion's segment with the words it names (a quote inside the segment) between » and «."""
    start, end = item.segment_start, item.segment_end
    if start is None or end is None or (item.start, item.end) == (start, end) \
            or not start <= item.start < item.end <= end:
        return item.text
    a, b, unit = item.start - start, item.end - start, item.segment_text
    return f"{unit[:a]}»{unit[a:b]}«{unit[b:]}"


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(f"{text!r}: give suggestion ids separated by commas, e.g. 12,15") from None


@click.command()
@click.option("--codebook", default="chime-d", show_default=True, help="Built-in name or codebook file.")
@click.option("--coder", default=None, help="Coder name (default: ensemble).")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help='JSON lines {"id": ..., "text": ...} (optional "lang", "context").')
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--train", "train_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Labelled JSON lines (text, labels) to train a learning coder on first.")
@click.option("--encoder", help="Sentence encoder: minilm, e5, or a local sentence-transformers model folder.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Coder parameter (repeatable).")
@click.option("--whole-passages", is_flag=True,
              help="Score each passage as one text instead of sentence by sentence (the default).")
@friendly_errors
def classify(codebook: str, coder: str | None, input_path: Path, output_path: Path, train_path: Path | None,
             encoder: str | None, params: tuple[str, ...], whole_passages: bool) -> None:
    """Code passages from a JSONL file without a project (for benchmarks and pipelines).

    Example: chimeqda classify --coder lexicon --input passages.jsonl --output coded.jsonl
    """
    from chimeqda.classify import classify_file
    from chimeqda.codebook import load_codebook

    stats = classify_file(input_path, output_path, load_codebook(codebook), coder, train=train_path,
                          encoder=encoder, params=parse_params(params) or None, by_sentence=not whole_passages)
    echo(f"wrote {output_path}" + (f" ({stats})" if stats else ""), err=True)


@click.command()
def coders() -> None:
    """List the available machine coders.

    Example: chimeqda coders
    """
    from chimeqda.coders import CODERS, DEFAULT_CODER

    for name, cls in sorted(CODERS.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        echo(f"{name}{' (default)' if name == DEFAULT_CODER else ''}: {doc}")


@click.command()
@click.option("--coder", default=None, help="Coder to prepare (default: ensemble).")
@click.option("--codebook", default="chime-d", show_default=True, help="Built-in name or codebook file.")
@friendly_errors
def prepare(coder: str | None, codebook: str) -> None:
    """Fit a coder on a codebook's examples once and cache it (setup runs this).

    Embedding the example bank and fitting the default coder takes about half
    a minute on a 2-core laptop for the built-in codebook (its multilingual-e5
    vectors ship with chimeqda), longer for your own; afterwards `chimeqda code`
    and `chimeqda demo` load the cached fit. Nothing is downloaded.

    Example: chimeqda prepare --codebook chime-d
    """
    import time

    from chimeqda.codebook import load_codebook
    from chimeqda.coders import get_coder
    from chimeqda.coders.cache import cache_root, fit_cached

    started = time.perf_counter()
    fitted = fit_cached(get_coder(coder), load_codebook(codebook))
    where = cache_root()
    echo(f"{fitted.coder_id} coder ready for {codebook} in {time.perf_counter() - started:.1f} s"
               + (f" (cached in {where})" if where else " (caching is off)"))


@click.command("next")
@project_options
@click.option("--coder", default=None,
              help=f"Coder to ask: by default the one whose run `chimeqda code` stored (none stored: {DEFAULT_CODER}). "
                   "See `chimeqda coders`.")
@click.option("-n", "count", type=click.IntRange(min=1), default=5, show_default=True, help="How many segments to serve.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Coder parameter (repeatable; refits the coder with it).")
@click.option("--refit", is_flag=True,
              help="Refit the coder on every decision so far and score every segment (minutes on a large project) "
                   "instead of reading the stored queue.")
@click.option("--no-agreement", is_flag=True, help="Skip the estimated agreement (it refits the coder per fold).")
@click.option("--flagged", is_flag=True,
              help="List the flagged segments instead: no suggestion, but some code fairly likely.")
@allow_unpseudonymised_option
@friendly_errors
def next_command(project_dir: Path, db: str | None, coder: str | None, count: int, params: tuple[str, ...],
                 refit: bool, no_agreement: bool, flagged: bool, allow_unpseudonymised: bool) -> None:
    """Serve the undecided segments where a decision is worth most.

    Worth is the expected number of machine labels a decision corrects
    (calibrated probabilities: 1 - p for a suggested code, p for one left out).
    It reads the queue `chimeqda code` stored (its suggestions, review flags
    and calibrated probabilities), in the order of the web's review mode, in
    about a second however large the project. It refits the coder and scores
    every segment only when that is stale or absent (no run stored, documents
    imported since), with --param, or with --refit, and says so.

    Decide them with `chimeqda review` (or code them by hand). Also prints
    Cohen's κ between the coder and the decisions made so far (cross-validated
    by document, once at least 20 segments are decided).

    A segment the machine left without a suggestion although some code is
    fairly likely is flagged ("empty means unsure"); --flagged lists those.
    Mark one "reviewed: no code" with `chimeqda no-code SEGMENT_ID`.

    Example: chimeqda next -n 10; chimeqda next --flagged
    """
    from chimeqda.services.active import (
        estimated_agreement,
        next_for_review,
        queue_state,
        stored_next,
    )
    from chimeqda.services.review import open_flag_count, open_flags

    ws = open_project(project_dir, db)
    if flagged:
        flags = open_flags(ws, limit=count)
        if not flags:
            echo("no flagged segments wait for review")
        for flag in flags:
            who = f" [{flag.participant}]" if flag.participant else ""
            echo(f"segment {flag.segment_id} {flag.document}{who}: no suggestion, but {flag.code} "
                       f"probability {flag.score:.2f} (flagged)")
            echo(f"    {flag.text}")
        if flags:
            echo("Code it (chimeqda review, or the web), or: chimeqda no-code SEGMENT_ID")
        return
    guard_privacy(ws, allow_unpseudonymised, "machine coding (next)")
    settings = parse_params(params)
    state = queue_state(ws, coder=coder)
    refitting = refit or bool(settings) or not state.fresh
    if refitting:
        why = "--refit" if refit else "--param" if settings else state.reason
        name = coder or state.coder or DEFAULT_CODER
        echo(f"Refitting the {name} coder on every decision and scoring every segment "
                   f"({why}); on a large project this takes minutes.", err=True)
        items = next_for_review(ws, coder=name, n=count, params=settings)
        flagged_ids = {flag.segment_id for flag in open_flags(ws, segment_ids=[i.segment_id for i in items])}
    else:
        echo(state.summary().capitalize() + ".", err=True)
        items = stored_next(ws, n=count)
        flagged_ids = {item.segment_id for item in items if item.flagged}
    if not items:
        echo("no undecided participant segments left" if refitting else
                   "nothing waits for a decision in the stored queue (no pending suggestion or open flag); "
                   "`chimeqda next --refit` ranks every undecided segment")
    for item in items:
        who = f" [{item.participant}]" if item.participant else ""
        mark = " — flagged: no suggestion stored here" if item.segment_id in flagged_ids else ""
        echo(f"segment {item.segment_id} {item.document}{who}: {item.code} probability {item.score:.2f} "
                   f"(a decision here is expected to correct {item.expected_value:.2f} machine labels){mark}")
        echo(f"    {item.text}")
    waiting = open_flag_count(ws)
    if waiting:
        echo(f"{waiting} flagged segment(s) have no suggestion although a code is fairly likely: "
                   "chimeqda next --flagged")
    if not no_agreement:
        agreement_coder = coder or state.coder or DEFAULT_CODER
        echo(estimated_agreement(ws, coder=agreement_coder, params=settings).summary())


@click.command("no-code")
@project_options
@click.argument("segment_ids", nargs=-1, type=int, required=True)
@click.option("--undo", is_flag=True, help="Withdraw your earlier 'reviewed: no code' on these segments.")
@click.option("--note", default="", help="Why no code applies (kept with the decision).")
@click.option("--by", default=current_user, show_default="your user name", help="Name of the person deciding.")
@friendly_errors
def no_code(project_dir: Path, db: str | None, segment_ids: tuple[int, ...], undo: bool, note: str, by: str) -> None:
    """Mark segments "reviewed: no code" (or withdraw that with --undo).

    The decision is appended like every other one; the report counts these
    segments apart from those nobody reviewed, and the coders learn from them.
    Segment ids come from `chimeqda next` / `chimeqda next --flagged`.

    Example: chimeqda no-code 14 15 --note "small talk"
    """
    from chimeqda.services.review import mark_no_code, reopen

    ws = open_project(project_dir, db)
    added = reopen(ws, segment_ids, by=by) if undo else mark_no_code(ws, segment_ids, by=by, note=note)
    what = "withdrew 'reviewed: no code' on" if undo else "marked 'reviewed: no code':"
    echo(f"{what} {len(added)} segment(s)" + (f" ({len(segment_ids) - len(added)} already so)"
                                                  if len(added) < len(segment_ids) else ""))


COMMANDS = (code, review, next_command, no_code, classify, coders, prepare)
