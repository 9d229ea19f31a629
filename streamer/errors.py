"""Errors raised by streamer.

Every error streamer raises on purpose derives from :class:`StreamerError`::

    StreamerError
    ├── ConfigError            bad environment variable, config file or option
    ├── InvalidEventError      a message that cannot be accepted (goes to dead letters)
    ├── SketchMismatchError    merging sketches built over different bins or parameters
    ├── StateFormatError       stored state or a profile in a format this version cannot read
    ├── ReferenceProfileError  a reference profile that is malformed or does not fit the data
    ├── InputFileError         a data file that cannot be read (`reference build`, `send`)
    ├── BrokerUnavailableError the Kafka cluster cannot be reached
    └── NotificationError      one delivery attempt to a channel failed (secrets redacted)

Third-party failures are wrapped with ``raise ... from exc`` so the cause stays visible.
"""

from __future__ import annotations


class StreamerError(Exception):
    """Root of every error streamer raises on purpose."""


class ConfigError(StreamerError):
    """A configuration value is missing, malformed or out of range."""


class InvalidEventError(StreamerError):
    """A message that cannot be accepted; ``str(error)`` is the dead-letter reason."""


class SketchMismatchError(StreamerError):
    """Two sketches cannot be merged: different bins, kinds or parameters."""


class StateFormatError(StreamerError):
    """Stored bytes or a document in a format this version does not read."""


class ReferenceProfileError(StreamerError):
    """A reference profile is malformed or does not fit the model's data."""


class InputFileError(StreamerError):
    """A data file cannot be read."""


class BrokerUnavailableError(StreamerError):
    """The Kafka cluster does not answer."""


class NotificationError(StreamerError):
    """One delivery attempt failed; the message never holds a secret."""
