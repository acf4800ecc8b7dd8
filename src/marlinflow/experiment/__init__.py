"""An experiment as the paper runs one: its spec read from the config (:mod:`.spec`: data sets,
corpus, encoders, suite, and the checks made before anything runs) and its plan (:mod:`.plan`:
every downstream run and the ``plan.json`` the reports read)."""
