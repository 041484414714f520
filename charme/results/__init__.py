"""Results: one dataclass for every solver family, and its writers."""

from charme.results.result import Result, check_output_path

__all__ = ["Result", "check_output_path"]
