"""edg-ethreed: ETHREED (Li et al.), the Emotion-Tracking Hierarchical Recurrent Empathetic
Encoder Decoder, as an edg plugin (system ``ethreed``)."""
