"""Weight files: the official release's layout and our self-describing encoder files
(:mod:`.checkpoints`), importing any of them (:mod:`.importing`), the released weights' names
and checksums (:mod:`.release`), and the VideoMAE checkpoints pretraining starts from
(:mod:`.videomae`)."""

SCRATCH = "scratch"  # pretrain.init's value for random weights: no weights file to start from
