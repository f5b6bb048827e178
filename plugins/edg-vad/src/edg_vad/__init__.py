"""edg-vad: NRC VAD lexicon features and CTSM's trait-emotion module for edg."""
