"""charme."""
from charme._version import __version__
