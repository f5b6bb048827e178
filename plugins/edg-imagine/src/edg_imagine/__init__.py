"""edg-imagine: IMAGINE (Chen & Liang), Integrating eMotion cAuses, knowledGe and
communIcation mEchanisms for empathetic responses, as an edg plugin (system ``imagine``)."""
