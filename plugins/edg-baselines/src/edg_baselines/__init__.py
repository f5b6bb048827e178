"""edg-baselines: the baseline systems of the EDG literature (MoEL, MIME), built from the
core's shared parts and registered through ``edg_baselines.plugin``."""
