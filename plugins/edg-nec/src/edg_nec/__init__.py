"""edg-nec: the NEC system (Non-Emotion-Centric empathetic dialogue generation)."""
