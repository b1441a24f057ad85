"""``chimeqda teach``: a language model labels passages to train the offline coders (docs/llm.md)."""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli.common import friendly_errors, parse_params


@click.command()
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help='JSON lines {"id": ..., "text": ...} (optional "lang", "context", "doc").')
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Training JSON lines for `chimeqda classify --train`.")
@click.option("--codebook", default="chime-d", show_default=True, help="Built-in name or codebook file.")
@click.option("--endpoint", help="OpenAI-compatible API base URL (default: http://127.0.0.1:8080/v1).")
@click.option("--model", help="Model name as the server knows it (default: the server's first model).")
@click.option("--prompt-template", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Prompt template file (start from chimeqda/coders/prompts/default.txt).")
@click.option("--allow-remote-endpoint", is_flag=True,
              help="Allow an endpoint that is not this machine (the passages are sent there).")
@click.option("--min-agreement", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Share of samples that must give a code for it to become a label.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Further llm coder parameter, e.g. samples=5, temperature=0.7, cache=off (repeatable).")
@friendly_errors
def teach(input_path: Path, output_path: Path, codebook: str, endpoint: str | None, model: str | None,
          prompt_template: Path | None, allow_remote_endpoint: bool, min_agreement: float,
          params: tuple[str, ...]) -> None:
    """Let a language model label passages; its confident answers train the supervised coder.

    The API key, if the server needs one, is read from CHIMEQDA_LLM_API_KEY.

    Example: chimeqda teach --input passages.jsonl --output teacher.jsonl --model qwen2.5:7b
    --endpoint http://127.0.0.1:11434/v1, then: chimeqda classify --coder supervised
    --train teacher.jsonl --input new.jsonl --output coded.jsonl
    """
    from chimeqda.codebook import load_codebook
    from chimeqda.llm_teacher import teach_file

    settings = parse_params(params)
    for name, value in (("endpoint", endpoint), ("model", model),
                        ("prompt_template", str(prompt_template) if prompt_template else None)):
        if value:
            settings[name] = value
    if allow_remote_endpoint:
        settings["allow_remote"] = True
    stats = teach_file(input_path, output_path, load_codebook(codebook), settings, min_agreement=min_agreement)
    click.echo(
        f"wrote {stats['written']} of {stats['passages']} passages to {output_path} ({stats['complete']} fully decided); "
        f"{stats['requests']} requests, {stats['cache_hits']} cached answers, {stats['invalid']} invalid answers",
        err=True,
    )


COMMANDS = (teach,)
