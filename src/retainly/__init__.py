"""retainly: turn a shop's order history into retained customers."""

from retainly.errors import RetainlyError
from retainly.workspace import Workspace

__version__ = "0.1.0"
__all__ = ["RetainlyError", "Workspace", "__version__"]
