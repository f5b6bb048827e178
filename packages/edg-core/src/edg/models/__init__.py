"""Building blocks shared by systems (embeddings, encoders)."""
