"""Where the work runs: torch devices (:mod:`.devices`) and SLURM jobs, their resources and the
Lightning launch derived from them (:mod:`.slurm`)."""
