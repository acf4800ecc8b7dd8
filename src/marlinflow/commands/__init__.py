"""One module per ``marlinflow`` verb: parse arguments, call the library, report."""
