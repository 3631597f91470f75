"""`policybot ask` and `policybot chat`: answers in the terminal, readable or as JSON lines."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import TYPE_CHECKING

import typer
from rich.markdown import Markdown
from rich.panel import Panel

from bot.cli._common import console, err_console, settings
from bot.domain import Message, Reply, ReplyKind

if TYPE_CHECKING:
    from bot.core.assistant import Assistant

__all__ = ["load_assistant", "register", "render_reply"]

BATCH = 32


def load_assistant() -> Assistant:
    """The assistant for this invocation; announces an index rebuild on stderr."""
    from bot.core.assistant import Assistant
    from bot.core.teaching import stored_examples

    cfg = settings()
    taught = asyncio.run(stored_examples(cfg))
    with err_console.status("loading policybot (model and index)", spinner="dots"):
        return Assistant.from_settings(
            cfg, taught=taught, on_rebuild=lambda why: err_console.print(f"[dim]{why}[/]")
        )


def ask(
    question: str = typer.Argument(
        ..., help="The question, or '-' to read one question per line from stdin."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per answer."),
) -> None:
    """Answer a question from the policies (quotes are verbatim, with their sections)."""
    assistant = load_assistant()
    if question == "-":
        lines = [line.rstrip("\n") for line in sys.stdin]
        for start in range(0, len(lines), BATCH):
            chunk = lines[start : start + BATCH]
            for text, reply in zip(chunk, assistant.answer_many(chunk), strict=True):
                _emit(reply, text, as_json)
        return
    _emit(assistant.answer(question), question, as_json)


def chat() -> None:
    """Talk to policybot in the terminal, as in a direct message (follow-ups keep their context)."""
    assistant = load_assistant()
    conversation = f"cli-{uuid.uuid4().hex[:8]}"
    console.print(
        Panel.fit(
            "Ask about the social media policy, e.g. [italic]Can I accept a friend request from a parent?[/]\n"
            "Type [bold]help[/] for what I can do, [bold]quit[/] (or Ctrl-D) to leave.",
            title="policybot",
        )
    )

    async def loop() -> None:
        while True:
            try:
                text = await asyncio.to_thread(console.input, "[bold cyan]you>[/] ")
            except (EOFError, KeyboardInterrupt):
                console.print()
                return
            if text.strip().lower() in ("quit", "exit", ":q"):
                return
            reply = await assistant.handle(Message(text=text, conversation=conversation))
            render_reply(reply)

    asyncio.run(loop())


def render_reply(reply: Reply) -> None:
    """Readable terminal rendering: lead text, quotes with their sections, then who to ask."""
    if reply.urgent:
        console.print("[bold white on red] URGENT [/] [bold]If anyone is in immediate danger, call 999.[/]")
    if reply.kind is ReplyKind.ANSWER and reply.citations:
        lead = reply.text.split("Here is what", 1)[0].strip()
        if lead:
            console.print(lead)
        for c in reply.citations:
            head = c.heading
            meta = f"{c.doc_title}, version {c.version}" + (
                f", review due {c.review_due}" if c.review_due else ""
            )
            console.print(
                Panel(Markdown(f"> {c.quote}"), title=f"[bold]{head}[/]", subtitle=meta, title_align="left")
            )
        console.print(
            "[dim]If you are unsure how this applies to you, talk to your manager and seek advice.[/]"
        )
    else:
        console.print(reply.text)
    if reply.suggest_report:
        console.print(
            "[bold]→ Report this privately:[/] `policybot report` (or the Report button in Slack/Teams)."
        )
    console.print()


def _emit(reply: Reply, text: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(reply.to_json(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        console.print(f"[bold]Q:[/] {text}")
        render_reply(reply)


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("chat")(chat)
