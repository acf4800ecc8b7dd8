"""One module per ``marlinflow`` verb: parse arguments, call the library, report.

A verb's module is named after it (``contact-sheet`` is ``contact_sheet.py``). Its docstring's
first line is the verb's help; it has ``add_arguments(parser)`` and ``run(args) -> int``. User
errors are raised as :class:`marlinflow.errors.InputError`, which the entry point reports as
``marlinflow <verb>: error: <file>: <reason>`` with exit status 2. The library never imports
argparse: everything a verb does is a function of the library that a person can call too.
"""
