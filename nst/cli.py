"""Command line: `nst stylize`, `nst classic` (the classic neural_style_transfer.py flags), `nst layers`.

Every default shown here is read from stylize()'s signature; none is repeated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nst.api import check_run, parameter_defaults, stylize
from nst.backbones import BACKBONES
from nst.errors import NSTError, NSTInterrupted, NSTNumericalError
from nst.milestones import milestone_dir
from nst.naming import classic_output_name, cli_output_name, styles_stem
from nst.params import DEFAULT_LEARNING_RATE, PARAMETERS, used_styles

DEFAULTS = parameter_defaults()


def _comma_list(kind):
    """The classic interface's lists: 'a,b,c'."""
    return lambda text: [kind(item) for item in text.split(",") if item.strip()]


def _add_run_options(parser: argparse.ArgumentParser, style: str) -> None:
    """One option per stylize() keyword, from nst.params.RUN_PARAMETERS; style 'dash' (--init-method)
    or 'classic' (--init_method). Lists: `--stage-heights 128 256` (dash) or `--stage_heights 128,256`
    (classic). Switches: --<name> where off by default, --no-<name> where on. Choices are checked by
    the engine, so a bad value gets the same one-line error as any other bad value."""
    spell = (lambda name: name.replace("_", "-")) if style == "dash" else (lambda name: name.replace("-", "_"))
    for name, default in DEFAULTS.items():
        parameter = PARAMETERS[name]
        if parameter.kind is bool:
            flag, action = ("no_" + name, "store_false") if default else (name, "store_true")
            help_text = f"{parameter.help} (default: {'on' if default else 'off'})"
            parser.add_argument("--" + spell(flag), dest=name, action=action, help=help_text)
            continue
        help_text = parameter.help if "default:" in parameter.help else f"{parameter.help} (default: {default})"
        options = {"dest": name, "default": default, "help": help_text, "type": parameter.kind}
        if parameter.choices:
            options["metavar"] = "{" + ",".join(parameter.choices) + "}"
        if parameter.is_list:
            options |= {"nargs": "+"} if style == "dash" else {"type": _comma_list(parameter.kind)}
        parser.add_argument("--" + spell(name), **options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nst", description="Gatys et al. neural style transfer")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("stylize", help="stylise one content image with a style image (or a blend of several)")
    run.add_argument("--content", required=True, type=Path, help="content image")
    run.add_argument("--style", required=True, type=Path, nargs="+", help="style image(s); several: a blend")
    run.add_argument("--out", required=True, type=Path, help="output folder")
    run.add_argument("--format", choices=("png", "jpg"), default="png", help="image format (default: png)")
    _add_run_options(run, "dash")

    classic = sub.add_parser("classic", help="the classic neural_style_transfer.py interface")
    add_classic_arguments(classic)

    layers = sub.add_parser("layers", help="print each backbone's feature layers 1..6")
    layers.add_argument("--model", choices=list(BACKBONES), help="only this backbone")
    return parser


def add_classic_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content_img_name", required=True, help="file in --content_images_dir, or a path")
    parser.add_argument(
        "--style_img_name", required=True, help="file in --style_images_dir, or a path; a,b for a blend"
    )
    parser.add_argument("--content_images_dir", type=Path, default=Path("data/content"))
    parser.add_argument("--style_images_dir", type=Path, default=Path("data/style"))
    parser.add_argument(
        "--output_dir",
        type=Path,
        default=Path("results/classic"),
        help="results go to <output_dir>/combined_<content>_<style>/",
    )
    _add_run_options(parser, "classic")
    # gordicaleksa's name for it; SUPPRESS keeps --save_every's default
    parser.add_argument(
        "--saving_freq",
        dest="save_every",
        type=int,
        default=argparse.SUPPRESS,
        help="the classic script's name for --save_every (its -1, no intermediate images, is 0 here)",
    )
    # classic: -1 means "the default layer(s)", and for --saving_freq "no save points"
    parser.set_defaults(content_layer=-1, style_layers=-1)


def _resolve(folder: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() or path.exists() else folder / name


def _run(kwargs: dict, content: Path, style: list[Path], out_path) -> int:
    """Check, name the output from the resolved parameters (`out_path(params)`), run, report."""
    params = check_run(content, style, **kwargs)
    result = stylize(content, style, out_path(params), **kwargs)
    losses = result.record["final_losses"]
    print(
        f"wrote {result.image} (+ {result.sidecar.name}); weights: {result.record['weights']['label']}; "
        f"final content {losses['content']:.4g}, style {losses['style']:.4g}, tv {losses['tv']:.4g}"
    )
    if result.record["milestones"]:
        print(f"and {len(result.record['milestones'])} intermediate image(s) in {milestone_dir(result.image)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "layers":
        print_layers(args.model)
        return 0
    if args.command == "classic":
        return _classic(args)
    kwargs = {name: getattr(args, name) for name in DEFAULTS}

    def out_path(params: dict) -> Path:  # a blend of one is named as that style's run (nst.params.sole_style)
        styles = used_styles(args.style, kwargs["style_blend_weights"])
        return args.out / cli_output_name(args.content, styles, params, "." + args.format)

    return _guarded(lambda: _run(kwargs, args.content, args.style, out_path))


def _classic(args) -> int:
    kwargs = {name: getattr(args, name) for name in DEFAULTS}
    for name in ("content_layer", "style_layers", "save_every"):
        if kwargs[name] == -1:
            kwargs[name] = DEFAULTS[name]
    content = _resolve(args.content_images_dir, args.content_img_name)
    style = [_resolve(args.style_images_dir, name) for name in args.style_img_name.split(",")]

    def out_path(params: dict) -> Path:
        defaults = DEFAULTS | {"learning_rate": DEFAULT_LEARNING_RATE[params["optimizer"]]}
        used = used_styles(style, kwargs["style_blend_weights"])  # a blend of one: that style's run
        folder = args.output_dir / f"combined_{content.stem}_{styles_stem(used)}"
        name = classic_output_name(content, used, params, defaults, ".jpg", args.content_layer, args.style_layers)
        return folder / name

    return _guarded(lambda: _run(kwargs, content, style, out_path))


def _guarded(action) -> int:
    """NSTError -> one clear line on stderr and a distinct exit code."""
    try:
        return action()
    except NSTInterrupted as error:
        print(f"nst: {error}", file=sys.stderr)
        return 128 + error.signal  # the shell's convention: 143 after SIGTERM, 130 after SIGINT
    except NSTNumericalError as error:
        print(f"nst: error: {error}", file=sys.stderr)
        return 3
    except NSTError as error:
        print(f"nst: error: {error}", file=sys.stderr)
        return 2


def print_layers(only: str | None = None) -> None:
    from nst.backbones import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS

    for name, backbone in BACKBONES.items():
        if only and name != only:
            continue
        print(f"{name}:")
        for number, (layer, node) in enumerate(zip(backbone.layer_names, backbone.nodes), 1):
            marks = []
            if number == DEFAULT_CONTENT_LAYER:
                marks.append("default content")
            if number <= DEFAULT_STYLE_LAYERS:
                marks.append("default style")
            print(f"  {number}  {layer:<18} node {node:<22} {', '.join(marks)}")


def classic_main(argv: list[str] | None = None) -> int:
    """Entry point of neural_style_transfer.py / nst-classic: the classic flags, no subcommand."""
    parser = argparse.ArgumentParser(prog="neural_style_transfer.py", description="classic NST interface")
    add_classic_arguments(parser)
    return _classic(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
