"""Training: the loop (:mod:`edg.training.loop`), checkpoints and schedules."""
