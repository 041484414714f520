"""Problem models: pure Python, validated, immutable."""

from charme.models.network import Reaction, ReactionNetwork

__all__ = ["Reaction", "ReactionNetwork"]
