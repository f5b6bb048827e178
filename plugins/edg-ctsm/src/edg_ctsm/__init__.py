"""edg-ctsm: CTSM, combining trait and state emotions for empathetic response generation
(Wang et al., LREC-COLING 2024)."""
