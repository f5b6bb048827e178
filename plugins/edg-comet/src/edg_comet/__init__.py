"""edg-comet: COMET-ATOMIC 2020 knowledge sources for edg."""
