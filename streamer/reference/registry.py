"""The registered reference profiles, as read from the compacted references topic.

Keys are ``model`` (every version) or ``model:version`` (that version only, preferred).

>>> registry = ReferenceRegistry()
>>> registry.lookup("fraud", "3") is None
True
"""

from __future__ import annotations

import logging

from streamer.errors import ReferenceProfileError
from streamer.reference.profile import ReferenceProfile

log = logging.getLogger(__name__)


class ReferenceRegistry:
    def __init__(self) -> None:
        self.profiles: dict[str, ReferenceProfile] = {}
        self.documents: dict[str, bytes] = {}
        self.rejected: dict[str, str] = {}

    def handle_record(self, key: bytes | None, value: bytes | None, timestamp_s: float) -> None:
        if key is None:
            return
        name = key.decode("utf-8", errors="replace")
        if value is None:
            self.profiles.pop(name, None)
            self.documents.pop(name, None)
            return
        try:
            self.profiles[name] = ReferenceProfile.from_json(value)
            self.documents[name] = value
            self.rejected.pop(name, None)
        except ReferenceProfileError as exc:
            self.rejected[name] = str(exc)
            log.warning("ignoring reference profile %r: %s", name, exc)

    def lookup(self, model: str, version: str) -> ReferenceProfile | None:
        return self.profiles.get(f"{model}:{version}") or self.profiles.get(model)

    def document(self, model: str, version: str | None) -> bytes | None:
        if version is not None:
            found = self.documents.get(f"{model}:{version}")
            if found is not None:
                return found
        return self.documents.get(model)

    def versions(self, model: str) -> list[str]:
        """The versions that have a profile of their own, in key order.

        >>> registry = ReferenceRegistry()
        >>> registry.documents = {"fraud:2": b"{}", "fraud": b"{}", "fraud:10": b"{}", "fraudster:1": b"{}"}
        >>> registry.versions("fraud")
        ['10', '2']
        """
        prefix = f"{model}:"
        return sorted(name[len(prefix):] for name in self.documents if name.startswith(prefix))
