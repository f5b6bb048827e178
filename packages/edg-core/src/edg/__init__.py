"""edg: an open toolkit for empathetic dialogue generation research.

Importing ``edg`` is cheap on purpose: no torch, no plugins. Heavy modules are
imported by the commands that need them.
"""

__version__ = "0.1.0"
