"""Language-model commands (docs/llm.md): ``teach``, and ``llm serve`` / ``llm check`` for the capable-model route."""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli.common import echo, friendly_errors, open_project, parse_params


@click.command()
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help='JSON lines {"id": ..., "text": ...} (optional "lang", "context", "doc").')
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Training JSON lines for `chimeqda classify --train`.")
@click.option("--codebook", default="chime-d", show_default=True, help="Built-in name or codebook file.")
@click.option("--endpoint", help="OpenAI-compatible API base URL (default: find a running local server).")
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
    echo(
        f"wrote {stats['written']} of {stats['passages']} passages to {output_path} ({stats['complete']} fully decided); "
        f"{stats['requests']} requests, {stats['cache_hits']} cached answers, {stats['invalid']} invalid answers",
        err=True,
    )


@click.group("llm")
def llm() -> None:
    """Run a language model on this machine for `--coder llm`: serve a GGUF file, check a model.

    Example: chimeqda llm serve --model Qwen2.5-7B-Instruct-Q4_K_M.gguf, then chimeqda llm check
    """


@llm.command("serve")
@click.option("--model", "model_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model file (.gguf), e.g. Qwen2.5-7B-Instruct-Q4_K_M.gguf.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1 (default: 8080, or a free one when 8080 is taken).")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads (default: llama.cpp's choice).")
@click.option("--gpu-layers", type=int, default=-1, show_default=True,
              help="Layers on the GPU (-1: all, when llama-cpp-python was built with GPU support; 0: CPU only).")
@click.option("--context", "n_ctx", type=click.IntRange(512), default=None,
              help="Context window in tokens (default: computed from the codebook prompt).")
@click.option("--project", "-p", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Size the context for this project's codebook and longest segment (default: built-in CHIME-D).")
@click.option("--db", envvar="CHIMEQDA_DATABASE_URL", help="SQLAlchemy database URL of the project.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="llm coder settings the prompt depends on: max_tokens, max_examples, level, prompt_template.")
@friendly_errors
def serve(model_file: Path, port: int | None, threads: int | None, gpu_layers: int, n_ctx: int | None,
          project_dir: Path | None, db: str | None, params: tuple[str, ...]) -> None:
    """Serve a GGUF model on this machine for `--coder llm` (foreground; Ctrl-C stops it).

    Starts llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with the context window the
    codebook prompt needs, waits until it answers, and prints the `chimeqda code` line to use.

    Example: chimeqda llm serve --model Qwen2.5-7B-Instruct-Q4_K_M.gguf -p my-study
    """
    import signal

    from chimeqda.codebook import builtin_codebook
    from chimeqda.llm_serve import LocalServer, check_gguf, context_need, free_port, port_free

    settings = parse_params(params)
    known = {k: settings[k] for k in ("max_tokens", "max_examples", "level", "prompt_template") if k in settings}
    model_file = check_gguf(model_file)
    if project_dir is not None:
        from chimeqda.services.llm_route import prompt_material

        material = prompt_material(open_project(project_dir, db))
        book, question, segments = material.codebook, material.research_question, material.segments
    else:
        book = builtin_codebook("chime-d")
        question, segments = book.research_question, []
    if n_ctx is None:
        need = context_need(model_file, book, question, segments, **known)
        n_ctx = need.n_ctx
        echo(need.describe(), err=True)
    if port is None:
        port = 8080 if port_free(8080) else free_port()
    server = LocalServer(model_file, port, n_ctx, threads=threads, gpu_layers=gpu_layers)
    server.preflight()

    def interrupted(signum, frame):  # a terminal closed or `kill`: stop the server like Ctrl-C does
        raise KeyboardInterrupt

    # SIGINT too: a process started with SIGINT ignored (by a shell or a parent) would otherwise never stop on Ctrl-C
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), interrupted)
    echo(f"starting llama-cpp-python's server for {model_file.name} on 127.0.0.1:{port} …", err=True)
    try:
        server.start()
        project = f"-p {project_dir}" if project_dir is not None else "-p PROJECT"
        extra = "".join(f" --param {k}={v}" for k, v in known.items())
        echo(f"ready: {server.endpoint} (model {model_file.stem}); server output: {server.log}", err=True)
        echo("Code with (in another terminal):")
        echo(f"  chimeqda code {project} --coder llm --param endpoint={server.endpoint} "
                   f"--param model={model_file.stem}{extra}")
        echo("(`chimeqda code --coder llm` without an endpoint also finds this server.) "
                   "Check the model first with: chimeqda llm check"
                   + (f" -p {project_dir}" if project_dir is not None else ""), err=True)
        echo("Ctrl-C stops the server.", err=True)
        code = server.wait()
        if code:
            raise click.ClickException(f"the server stopped with exit code {code}; see {server.log}")
    except KeyboardInterrupt:
        echo("stopping the server …", err=True)
    finally:
        server.stop()


@llm.command("check")
@click.option("--endpoint", help="OpenAI-compatible API base URL (default: find a running local server).")
@click.option("--model", help="Model name as the server knows it (default: the server's first model).")
@click.option("--project", "-p", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Use this project's codebook and research question, and estimate a run over its segments.")
@click.option("--db", envvar="CHIMEQDA_DATABASE_URL", help="SQLAlchemy database URL of the project.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N bundled passages (of 6).")
@click.option("--allow-remote-endpoint", is_flag=True,
              help="Allow an endpoint that is not this machine (the synthetic passages are sent there).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Further llm coder parameter, as for `chimeqda code --coder llm` (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def check(endpoint: str | None, model: str | None, project_dir: Path | None, db: str | None, limit: int | None,
          allow_remote_endpoint: bool, params: tuple[str, ...], as_json: bool) -> None:
    """Check a model before a long run: does it follow the answer schema, and how long does an answer take?

    Runs the codebook prompt on a few bundled synthetic passages (English and Dutch) and reports valid
    answers, the codes given and seconds per answer; with -p, an estimate for the project's segments.
    Exits with status 1 when an answer does not follow the schema.

    Example: chimeqda llm check -p my-study
    """
    import json

    from chimeqda.codebook import builtin_codebook
    from chimeqda.llm_check import check_model, format_report, report_json

    settings = parse_params(params)
    for name, value in (("endpoint", endpoint), ("model", model)):
        if value:
            settings[name] = value
    if allow_remote_endpoint:
        settings["allow_remote"] = True
    segments = None
    if project_dir is not None:
        from chimeqda.services.llm_route import prompt_material

        material = prompt_material(open_project(project_dir, db))
        book, segments = material.codebook, len(material.segments)
        settings.setdefault("research_question", material.research_question)
    else:
        book = builtin_codebook("chime-d")
    report = check_model(book, settings, limit=limit)
    echo(json.dumps(report_json(report, segments), indent=2) if as_json else format_report(report, segments))
    if not report.schema_followed:
        raise SystemExit(1)


COMMANDS = (teach, llm)
