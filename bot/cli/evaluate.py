"""`policybot eval FILE...`: hit@1, hit@3, MRR, abstention and report detection, for hybrid, BM25 and dense;
`policybot eval --held-out MANIFEST`: the same figures for each document left out of every fit (the honest ones)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from bot.cli._common import console, fail

__all__ = ["register"]


def evaluate_cmd(
    files: list[Path] = typer.Argument(
        None, exists=True, dir_okay=False, help="JSONL: {q, kind, sections} (not with --held-out)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
    show_misses: bool = typer.Option(
        False, "--misses", help="List answerable questions whose top section is wrong."
    ),
    default_doc: str = typer.Option(
        "social-media-policy",
        "--default-doc",
        help='The main policy: the document of labelled items that carry no "doc" (one-document corpora: it).',
    ),
    fit_gate: bool = typer.Option(
        False,
        "--fit-gate",
        help="Fit the answer gate on these questions and print its numbers and cross-validated figures.",
    ),
    target: float = typer.Option(
        0.85,
        "--target",
        min=0.5,
        max=0.99,
        help="With --fit-gate: correct abstention the threshold must reach.",
    ),
    held_out: Path | None = typer.Option(
        None,
        "--held-out",
        exists=True,
        dir_okay=False,
        help="A manifest of labelled documents (tests/corpora/corpora.toml): leave each out of every fit in turn.",
    ),
    outside: list[Path] = typer.Option(
        [],
        "--outside",
        exists=True,
        file_okay=False,
        help="With --held-out: a folder of X.md + X.jsonl scored only.",
    ),
    only: list[str] = typer.Option([], "--only", help="With --held-out: score only these document ids."),
    markdown: bool = typer.Option(False, "--markdown", help="With --held-out: print the tables as Markdown."),
    fit_all: bool = typer.Option(
        False,
        "--fit",
        help="With --held-out: fit the ranker and gate on every document and print their numbers.",
    ),
) -> None:
    """Evaluate retrieval, abstention and report detection on labelled questions."""
    if held_out is not None:
        from bot.cli.heldout import run_held_out

        run_held_out(held_out, outside=outside, only=only, fit=fit_all, as_json=as_json, markdown=markdown)
        return
    if not files:
        fail("give labelled question files, or --held-out MANIFEST")
    from bot.cli.ask import load_assistant
    from bot.devtools.evaluation import evaluate, load_items

    try:
        items = load_items(files)
    except ValueError as exc:
        fail(str(exc))
    assistant = load_assistant()
    if fit_gate:
        from bot.devtools.calibration import describe, gate_rows
        from bot.devtools.calibration import fit_gate as fit

        try:
            result = fit(*gate_rows(assistant, items), target=target)
        except ValueError as exc:
            fail(str(exc))
        for line in describe(result):
            console.print(line, highlight=False, soft_wrap=True)
        return
    texts = [i.q for i in items]
    replies = {"hybrid": assistant.answer_many(texts)}
    if assistant.index.examples:
        replies["no examples"] = assistant.variant("hybrid", examples=0.0).answer_many(texts)
    replies["bm25"] = assistant.variant("lexical").answer_many(texts)
    replies["dense"] = assistant.variant("dense").answer_many(texts)
    bodies = {d.id: d.body for d in assistant.index.corpus.documents}
    if default_doc not in bodies:
        if len(bodies) != 1:
            fail(f"--default-doc {default_doc!r} is not in the corpus ({', '.join(bodies)})")
        default_doc = next(iter(bodies))
    unknown = sorted({i.doc for i in items if i.doc and i.doc not in bodies})
    if unknown:
        fail(f"labelled items name documents the corpus does not hold: {', '.join(unknown)}")
    report = evaluate(items, replies, bodies, default_doc=default_doc)
    if as_json:
        console.print_json(json.dumps(report.to_json()))
        return
    table = Table(title=f"{len(items)} questions ({', '.join(f.name for f in files)})")
    for col in (
        "mode",
        "hit@1",
        "hit@3",
        "MRR",
        "answered right@1",
        "correct abstention",
        "false abstention",
    ):
        table.add_column(col, justify="right")
    for m in report.modes:
        table.add_row(
            m.mode,
            f"{m.hit1:.3f}",
            f"{m.hit3:.3f}",
            f"{m.mrr:.3f}",
            f"{m.answered_right_at_1:.3f}",
            f"{m.correct_abstention:.3f} of {m.unanswerable}",
            f"{m.false_abstention:.3f} of {m.answerable}",
        )
    console.print(table)
    if len(report.documents) > 1:
        per_doc = Table(title="per document (hybrid)")
        for col in ("document", "questions", "hit@1", "hit@3", "MRR", "answered right@1", "false abstention"):
            per_doc.add_column(col, justify="right")
        for doc, f in report.documents.items():
            per_doc.add_row(
                doc,
                str(f.answerable + f.unanswerable),
                f"{f.hit1:.3f}",
                f"{f.hit3:.3f}",
                f"{f.mrr:.3f}",
                f"{f.answered_right_at_1:.3f}",
                f"{f.false_abstention:.3f}",
            )
        console.print(per_doc)
    else:
        for doc, f in report.documents.items():
            console.print(
                f"{doc}: hit@1 {f.hit1:.3f}, hit@3 {f.hit3:.3f} over {f.answerable} answerable questions"
            )
    i = report.intent
    console.print(
        f"report detection: recall {i['report_recall']:.3f} of {int(i['reports'])} reports; "
        f"questions flagged as reports {i['questions_flagged_as_reports']:.3f} of {int(i['questions'])}; "
        f"off-topic flagged {i['offtopic_flagged_as_reports']:.3f}"
    )
    if "urgent_recall" in i:
        console.print(
            f"urgent safeguarding: recall {i['urgent_recall']:.3f}, false positives {i['urgent_false_positive']:.3f}"
        )
    console.print(
        f"verbatim: {report.verbatim_checked} quoted sentences checked, {len(report.verbatim_violations)} not verbatim"
    )
    if show_misses:
        for miss in report.misses:
            console.print(
                f"  [yellow]miss[/] gold={miss['gold']} got={miss['got']} {miss['kind']}: {miss['q']}"
            )
    if report.verbatim_violations:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate_cmd)
