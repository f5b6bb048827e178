"""Errors a user can fix.

Every ``EdgError`` is printed by the command line as one line (no traceback unless
``--debug``) and makes the command exit with status 2. Messages name the file, line,
config key or plugin at fault.
"""


class EdgError(Exception):
    """Base class of all user-facing errors."""


class ConfigError(EdgError):
    """An unknown config key, a wrong type, or an invalid value."""


class DataError(EdgError):
    """A missing or malformed data file (the message names file and line)."""


class PluginError(EdgError):
    """An unknown plugin, a plugin that fails to import, or a registration conflict."""


class ResourceError(EdgError):
    """A missing model, tokenizer, lexicon or other resource that cannot be loaded."""


class CheckpointError(EdgError):
    """A missing, incomplete or corrupt checkpoint or run directory."""
