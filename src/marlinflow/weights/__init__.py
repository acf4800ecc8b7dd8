"""Weight files: the official release's layout and our self-describing encoder files
(:mod:`.checkpoints`), importing any of them (:mod:`.importing`), and the released weights'
names and checksums (:mod:`.release`)."""
