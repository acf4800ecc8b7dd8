"""``marlinflow <verb>``: each workflow step as a command a person can run too.

Verbs are imported lazily, so ``marlinflow --help`` does not pay for torch.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import pkgutil
import re
import sys

from marlinflow import commands
from marlinflow.errors import InputError

# verb -> its module in marlinflow.commands (add_arguments(parser), run(args) -> exit code):
# a verb is added by adding its module.
VERBS = {
    module.name.replace("_", "-"): f"{commands.__name__}.{module.name}"
    for module in pkgutil.iter_modules(commands.__path__)
    if not module.name.startswith("_")  # shared parts of the verbs, no verb
}


def _help_line(module_name: str) -> str:
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        return ""
    import ast

    with open(spec.origin) as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    return plain_text(doc.split("\n\n")[0].replace("\n", " ")) if doc else ""


def plain_text(rst: str) -> str:
    """A docstring's reStructuredText as a terminal shows it: ``x`` and :role:`x` become x."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", rst).replace("``", "")


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marlinflow",
        description="Each workflow step as a command a person can run too.",
        fromfile_prefix_chars="@",  # @list.txt: arguments one per line (long lists of videos)
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, module_name in VERBS.items():
        verb_parser = sub.add_parser(name, help=_help_line(module_name))
        if name == verb:  # only the chosen verb's module is imported
            importlib.import_module(module_name).add_arguments(verb_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one verb; a user error (:class:`InputError`) is one line on stderr and exit status 2."""
    argv = sys.argv[1:] if argv is None else argv
    verb = next((a for a in argv if a in VERBS), None)
    args = build_parser(verb).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return importlib.import_module(VERBS[args.verb]).run(args)
    except InputError as err:
        print(f"marlinflow {args.verb}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
